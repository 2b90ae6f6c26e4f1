//! Proactive notifications in the engine: the pure core (`switchboard-notify`: rules,
//! variables, channel choice, record kinds), re-exported whole, and the scheduler task
//! that hands due sends to the customer actors.

pub use switchboard_notify::*;

pub mod scheduler;
