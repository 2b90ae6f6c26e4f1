//! The messages the queue actor handles. Plain values keyed by ids; see
//! [`crate::actors::messages`].

use crate::actors::messages::*;
use crate::domain::{
    AgentId, Channel, ChannelClass, ConversationId, CustomerId, Millis, OfferId, OfferOutcome,
    QueueName, SkillFloors,
};
use actix::prelude::*;
use serde::{Deserialize, Serialize};

/// Put a conversation in a queue. Replies with its 1-based position.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "EngineResult<usize>")]
pub struct Enqueue {
    pub conversation_id: ConversationId,
    pub customer_id: CustomerId,
    pub channel: Channel,
    pub priority: i32,
    pub enqueued_at: Millis,
    pub seq: u64,
    pub preferred_agent: Option<AgentId>,
    pub required_agent: Option<AgentId>,
    /// The customer's latest text, shown on the offer card.
    pub preview: Option<String>,
    /// Bypass the max-waiting refusal (requeue after restart/transfer/agent loss).
    pub force: bool,
    /// The accepted offer whose assignment failed, when this puts its conversation
    /// back (`AssignFailed`): should the acceptance not have reached the queue yet,
    /// that offer is over here and the conversation waits again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_offer: Option<OfferId>,
    /// Skills the conversation itself needs of its agent (widened by the queue's
    /// rings as it waits).
    #[serde(default, skip_serializing_if = "SkillFloors::is_empty")]
    pub requirements: SkillFloors,
}

impl Enqueue {
    /// A stored waiting conversation put back in its queue with its original enqueue
    /// time and sequence (same place in line), past the max-waiting refusal: at engine
    /// start and when a crashed queue actor is replaced.
    pub fn restore(c: &crate::domain::Conversation) -> Enqueue {
        Enqueue {
            conversation_id: c.id,
            customer_id: c.customer_id,
            channel: c.channel,
            priority: c.priority,
            enqueued_at: c.enqueued_at,
            failed_offer: None,
            seq: c.enqueue_seq,
            preferred_agent: c.preferred_agent.clone(),
            required_agent: c.required_agent.clone(),
            preview: None,
            force: true,
            requirements: c.requirements.clone(),
        }
    }
}

/// Take a conversation out of the queue (abandoned, transferred, cancelled). A pending
/// offer for it is rescinded.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct Dequeue {
    pub conversation_id: ConversationId,
    pub reason: String,
}

/// An agent's routing-relevant state, pushed to each of its queues after every change.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct AgentUpdate {
    pub agent_id: AgentId,
    pub available: bool,
    pub free: [u16; 4],
    pub idle_since: Millis,
    pub occupancy_permille: u32,
    /// The agent's skills, matched against conversations' own requirements.
    #[serde(default, skip_serializing_if = "SkillFloors::is_empty")]
    pub skills: SkillFloors,
}

/// Test hook (fault injection): the receiving actor (customer, queue or agent) panics
/// inside its handler. The engine never sends it and no socket or route can; the
/// reliability tests use it to prove that a crashed actor is restarted with its state
/// reloaded from the store.
#[doc(hidden)]
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct InjectPanic;

/// A queue actor was restarted and lost its index of agents: every running agent
/// publishes its state again and pulls work.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct Republish;

/// The agent left the queue (logged out, grace expired).
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct AgentGone {
    pub agent_id: AgentId,
}

/// The agent closed an offer (accepted, rejected, timed out, or confirmed a rescind).
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct OfferClosed {
    pub offer_id: OfferId,
    pub conversation_id: ConversationId,
    pub agent_id: AgentId,
    pub outcome: OfferOutcome,
}

/// Best waiting conversation this agent could take now, for cross-queue arbitration.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Option<PeekResult>")]
pub struct Peek {
    pub agent_id: AgentId,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PeekResult {
    pub queue: QueueName,
    pub conversation_id: ConversationId,
    pub priority: i32,
    pub enqueued_at: Millis,
    pub seq: u64,
}

impl PeekResult {
    /// Sort key: higher priority, then longer wait, then arrival.
    pub fn rank(&self) -> (std::cmp::Reverse<i32>, Millis, u64) {
        (std::cmp::Reverse(self.priority), self.enqueued_at, self.seq)
    }
}

/// Offer that conversation to the agent now (after a Peek chose it).
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "bool")]
pub struct Pull {
    pub agent_id: AgentId,
    pub conversation_id: ConversationId,
}

/// Live queue state for REST and metrics.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "QueueSnapshot")]
pub struct GetQueueSnapshot;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueueSnapshot {
    pub config: crate::domain::QueueConfig,
    pub waiting: usize,
    pub offered: usize,
    pub longest_wait_ms: u64,
    pub agents: usize,
    pub agents_available: usize,
    /// Waiting conversations in routing order (first 100).
    pub queue: Vec<WaitingView>,
    /// The queue's business hours now (absent: always open).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<HoursStatus>,
    /// The `service_rules` on now: index -> why it turned on.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub service_rules_on: std::collections::BTreeMap<usize, String>,
}

/// Where a queue with business hours stands now.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HoursStatus {
    pub open: bool,
    /// Whether it offers to agents now (open, or `after_hours.offer`).
    pub offering: bool,
    /// Why it is closed (`outside opening hours`, `holiday: 元日`, `closed: <name>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_because: Option<String>,
    /// When it next opens or closes, and that instant in the queue's time zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_change: Option<Millis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_change_local: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WaitingView {
    pub conversation_id: ConversationId,
    pub channel_class: ChannelClass,
    pub priority: i32,
    pub enqueued_at: Millis,
    pub waited_ms: u64,
}

/// From the live hub: which of the queue's `service_rules` are on now (rule index ->
/// why it turned on), and the turns since the last message, for the log. Replaces
/// what the queue knew, so a hub that restarted or a message lost heals at the next
/// one (the hub also repeats it every few seconds while any rule is on).
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct ServiceLevel {
    /// The rules the hub judged (so a message about rules the queue no longer has is
    /// dropped).
    pub rules: Vec<crate::domain::ServiceRule>,
    pub on: std::collections::BTreeMap<usize, String>,
    /// (rule, on, why) for each rule that turned.
    pub turns: Vec<(usize, bool, String)>,
}
