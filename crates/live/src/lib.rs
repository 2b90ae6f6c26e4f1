//! Live contact-center figures for supervisors: the pure state machine behind the
//! live hub (the engine's `actors::hub`).
//!
//! [`LiveState`] is fed small [`LiveEvent`]s that the queue, agent and customer actors
//! emit as routing happens, each applied at a time the caller passes in (the engine's
//! clock), and answers [`QueueLiveView`] / [`AgentLiveView`] snapshots. No I/O, no
//! clock reads, no actors: every figure is unit-testable from a scripted scenario.
//!
//! Figures per queue (units in seconds, ratios in 0..=1; formulas in docs/supervisor.md):
//! - `waiting`, `oldest_enqueued_at` / `longest_wait_seconds`;
//! - agents by state (available, busy, away, offline), occupancy, slots in use / free;
//! - offers by outcome over the last `offer_window_ms` (whole minutes);
//! - for the current interval (`interval_ms`, aligned to the epoch, so 15-minute
//!   intervals start at :00, :15, :30, :45 UTC): offered, answered, abandoned, service
//!   level `answered within T / (answered + abandoned)`, ASA, wait p50/p90/p99 of the
//!   answered, abandonment rate, AHT;
//! - EWT for a new arrival.
//!
//! It must not read the store, the clock or any actor; the hub owns it.

mod state;
#[cfg(test)]
mod tests;

pub use state::*;
