//! The pure routing core: which waiting conversation goes to which agent, and when.
//!
//! Owns the waiting order, the per-class agent indexes, the routing strategies and the
//! decision rules of one queue ([`QueueRouter`]). It is plain data and logic: it must
//! not do I/O, talk to actors, be async or read a clock (time is passed in as
//! [`Millis`](domain::Millis)). The queue actor owns one `QueueRouter`, feeds it
//! agent snapshots and conversations, and turns its [`Decision`]s into offers.
//!
//! # Rules
//! - **Waiting order**: priority DESC, enqueued_at ASC, seq ASC (then conversation id),
//!   one ordered list per [`ChannelClass`](domain::ChannelClass).
//! - **Agent index**: per class, exactly the agents with `available && free[class] > 0`,
//!   ordered by the strategy key, ties by agent id. Strategies live in [`strategy`],
//!   one `Strategy` implementation each: longest_idle `(idle_since)`, least_occupied
//!   `(occupancy_permille, idle_since)`, round_robin `(last_offered_tick, idle_since)`
//!   where the tick is a router-internal counter stamped on an agent each time it is
//!   chosen.
//! - **decide(now)** takes the best-ranked conversation that can be placed:
//!   - a `required_agent` may go only to that agent (if free and untried), else it is
//!     *blocked*;
//!   - a free, untried `preferred_agent` is chosen first, even after the sticky wait;
//!     if it is not free and `now < sticky_until`, the conversation is *blocked*;
//!     a preferred agent in `tried` voids the sticky wait (it can never be offered
//!     the conversation again, so waiting for it would only delay the customer);
//!   - otherwise the first agent of the class index not in `tried`;
//!   - a conversation with its own required skills goes only to agents that meet
//!     them as relaxed by its current widening ring ([`widening`]), best proficiency
//!     score first, then the strategy: it walks a per-requirement index (`needs.rs`)
//!     instead of the class index, so it never scans ineligible agents.
//!
//!   Blocked conversations are skipped, at most [`MAX_SKIPS_PER_CLASS`] per class per
//!   call, which bounds latency. Conversations whose current requirement no free
//!   agent meets are never walked: `decide` walks per-requirement waiting lanes
//!   (`lanes.rs`) and only those whose requirement has a free agent. Transfers (`required_agent`) live in their own
//!   per-agent index, so a backlog for an absent agent is never walked. A decision moves the conversation to *offered* and
//!   charges the agent locally (one slot; voice zeroes every slot; any other class
//!   zeroes voice) until the agent actor pushes its real state with `upsert_agent`.
//! - **Offers** end with `offer_closed`: accepted leaves the router; anything else adds
//!   the agent to `tried` and puts the conversation back at its original rank.
//! - **Pull**: `best_for` / `take_for` let an agent pick its best conversation across
//!   the queues it serves, with the same eligibility rules.
//!
//! Decisions never scan all agents: they walk indexes from the front, so a decision
//! costs O(log n + skipped). The trace of a decision is capped at [`TRACE_CAP`] steps.

mod hash;
pub mod holidays_jp;
pub mod hours;
mod keys;
mod lanes;
mod needs;
mod router;
pub mod service;
pub mod sim;
pub mod sla;
pub mod strategy;
mod trace;
mod types;
pub mod widening;

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;

pub use keys::{strategy_name, StrategyKey, WaitKey};
pub use needs::{IDLE_MAX, NEEDS_MAX};
pub use router::{QueueRouter, Widened, MAX_SKIPS_PER_CLASS, RANK_WINDOW, SCAN_BUDGET};
pub use trace::TRACE_CAP;
pub use types::{AgentSnapshot, Decision, EnqueueError, Peek, TraceStep, WaitingEntry};
