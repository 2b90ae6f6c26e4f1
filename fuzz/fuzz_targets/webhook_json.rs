//! LINE, Messenger, WhatsApp and X webhook JSON bodies (`switchboard::fuzz`).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    switchboard::fuzz::line_body(data);
    switchboard::fuzz::messenger_body(data);
    switchboard::fuzz::whatsapp_body(data);
    switchboard::fuzz::x_body(data);
});
