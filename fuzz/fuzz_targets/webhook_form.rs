//! Twilio SMS and voice webhook form bodies (`switchboard::fuzz`).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    switchboard::fuzz::twilio_sms_form(data);
    switchboard::fuzz::twilio_voice_form(data);
});
