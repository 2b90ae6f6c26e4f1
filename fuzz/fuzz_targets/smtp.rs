//! SMTP path arguments and DATA streams (`switchboard::fuzz`).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    switchboard::fuzz::smtp(data);
});
