//! Websocket frames of the agent and web-chat protocols (`switchboard::fuzz`).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    switchboard::fuzz::ws_agent_frame(data);
    switchboard::fuzz::ws_chat_frame(data);
});
