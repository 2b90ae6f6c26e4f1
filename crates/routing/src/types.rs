//! The plain data the routing core exchanges with its caller (the queue actor):
//! agent snapshots in, waiting entries in and out, decisions and peeks out.
//!
//! Owns only these value types and their trivial helpers. It must not hold any
//! routing logic, ordering rules (see `keys.rs`) or state (see `router.rs`), and must
//! not do I/O or read a clock.

use domain::{AgentId, ChannelClass, ConversationId, Millis, SkillFloors};
use std::collections::BTreeSet;

/// What the router knows about one agent, pushed by the agent actor (the source of
/// truth) after every change. The router only patches it locally between pushes (see
/// `QueueRouter::decide`), so a stale snapshot is corrected by the next push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSnapshot {
    /// The agent this snapshot describes; key of the router's agent table.
    pub id: AgentId,
    /// Status is `available` *and* a client is connected. An unavailable agent is kept
    /// (for counts and for `required_agent` bookkeeping) but never indexed or offered.
    pub available: bool,
    /// Free slots per `ChannelClass::index()`. Already accounts for voice exclusivity
    /// and for the agent's own pending reservations, so the router needs no capacity
    /// rules of its own: an agent is routable in a class iff `available && free > 0`.
    pub free: [u16; 4],
    /// When the agent last became idle; the longest-idle key, and the tie-breaker of
    /// the other strategies.
    pub idle_since: Millis,
    /// held / capacity * 1000; the least-occupied key.
    pub occupancy_permille: u32,
    /// The agent's skills: matched against conversations' own requirements and
    /// scored by the proficiency ranking (the queue's own required skills were checked
    /// before the agent was pushed here at all).
    pub skills: SkillFloors,
}

impl AgentSnapshot {
    /// Whether this agent belongs in the index of `class`: available with a free slot.
    pub fn routable(&self, class: ChannelClass) -> bool {
        self.available && self.free[class.index()] > 0
    }
}

/// A conversation waiting in (or offered from) one queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingEntry {
    /// The conversation; key of the router's waiting/offered tables.
    pub conversation: ConversationId,
    /// The capacity pool it needs; selects which waiting list and agent index it uses.
    pub class: ChannelClass,
    /// Higher is routed first.
    pub priority: i32,
    /// When it entered the queue (kept across restarts and overflow); among equal
    /// priorities, older is routed first. Also the basis of wait-time gauges/overflow.
    pub enqueued_at: Millis,
    /// Arrival order; last tie-breaker so the order is total and stable.
    pub seq: u64,
    /// Sticky routing: this agent is offered the conversation first whenever it is
    /// free, and until `sticky_until` nobody else is.
    pub preferred_agent: Option<AgentId>,
    /// End of the sticky wait for `preferred_agent` (ignored without one).
    pub sticky_until: Millis,
    /// Transfer to a named agent: if set, only this agent may take it, ever.
    pub required_agent: Option<AgentId>,
    /// Agents that rejected the conversation or let the offer time out: never offered
    /// it again (this also voids the sticky wait for a preferred agent in this set).
    pub tried: BTreeSet<AgentId>,
    /// Skills the conversation itself needs of its agent (on top of the queue's own),
    /// relaxed over time by the queue's widening rings. Empty: any agent of the queue.
    pub requirements: SkillFloors,
}

/// One routing decision: offer `conversation` to `agent`. The conversation is now
/// "offered" in the router until `offer_closed` or `remove`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The conversation to offer.
    pub conversation: ConversationId,
    /// The agent to offer it to.
    pub agent: AgentId,
    /// The class the conversation needs (the slot the agent's reservation uses).
    pub class: ChannelClass,
    /// Why: a short, capped explanation for the routing trace (see `TraceStep`).
    pub trace: Vec<TraceStep>,
}

/// One line of a decision's explanation, recorded by the queue actor in the routing
/// trace of the chosen conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceStep {
    /// `"considered"` (the conversation being placed), `"skipped"` (an agent passed
    /// over, with the reason), `"blocked"` (a better-ranked conversation that could not
    /// be placed now, with the reason) or `"chosen"` (the agent picked).
    pub step: &'static str,
    /// The agent the step is about, if any.
    pub agent: Option<AgentId>,
    /// Human-readable detail, e.g. `strategy=longest_idle idle_since=1700000000000`.
    pub detail: String,
}

/// Why `enqueue` refused a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EnqueueError {
    /// waiting + offered already reached the queue's `max_waiting`.
    #[error("queue full: {max} waiting")]
    Full {
        /// The limit in force.
        max: usize,
    },
    /// The conversation is already waiting or offered in this queue.
    #[error("conversation already queued")]
    Duplicate,
}

/// The best conversation an agent may take now (answer to an agent's pull round), with
/// its rank key so the agent can compare candidates across its queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peek {
    /// The conversation.
    pub conversation: ConversationId,
    /// Its priority (higher first).
    pub priority: i32,
    /// Its enqueue time (older first).
    pub enqueued_at: Millis,
    /// Its arrival sequence (lower first).
    pub seq: u64,
}
