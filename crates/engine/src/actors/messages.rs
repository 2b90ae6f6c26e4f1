//! Messages between actors. Plain serde types keyed by ids, one struct per message with
//! its reply type, never a reference into another actor's state, so that actors can
//! later live on different machines. The exceptions are the four that attach a socket
//! (`AttachAgent`, `AttachChat`, `Subscribe`, `WatchConversation`): they carry the
//! session's `Recipient`, and stay on the machine that holds the socket.
//!
//! Pushes to sockets (`AgentPush`, `ChatPush`, `SupervisorPush`) carry engine notices
//! (`AgentNotice`, `ChatNotice`, `SupervisorNotice`) that the sessions translate into
//! frames: no actor builds a frame.
//!
//! Each message lives beside the actor that handles it (`customer/messages.rs`,
//! `agent/messages.rs`, `queue/messages.rs`, `hub/messages.rs`; the customer actor's
//! feature messages — bot, survey, notify, callback, identity — in their handler files);
//! this module gathers them so a caller names one path.

pub use super::agent::messages::*;
pub use super::customer::messages::*;
pub use super::hub::messages::*;
pub use super::queue::messages::*;
pub use crate::domain::{EngineError, EngineResult};
