//! Websocket edge: the wire protocol and one thin session actor per socket (agent,
//! web-chat customer, supervisor). Sessions parse frames, enforce size and rate limits, and forward
//! typed messages to the engine's actors; they hold no business state. This is the
//! only folder that touches actix-web-actors, so a move to actix-ws stays here.

pub mod agent_session;
pub mod chat_session;
pub mod drain;
pub mod frames;
pub use switchboard_protocol as protocol;
pub mod supervisor_session;
pub mod survey;
