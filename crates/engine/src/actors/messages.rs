//! Messages between actors. Plain serde types keyed by ids, one struct per message with
//! its reply type, never a reference into another actor's state nor an address of this
//! process, so that actors can live on different machines: with spread placement a
//! message crosses to the node running its actor (`super::mail`, which lists every
//! one). Sockets are no exception: the four messages that attach one (`AttachAgent`, `AttachChat`,
//! `Subscribe`, `WatchConversation`) and those naming one afterwards carry its
//! [`SessionRef`](super::sessions::SessionRef) — the node holding it and its session id
//! there — and actors push to it through the engine (`Engine::push_chat`,
//! `push_agent`, `push_supervisor`, in `super::sessions`), on whichever node it is.
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
