//! Raw email through the MIME parser (`switchboard::fuzz`).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    switchboard::fuzz::email(data);
});
