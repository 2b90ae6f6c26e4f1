//! Conversations and their lifecycle:
//! `queued -> (offered) -> assigned -> wrap_up -> resolved`, or `abandoned`; an
//! assigned conversation on an asynchronous channel may be `parked` (its agent's slot
//! freed) until the customer writes again, when it is `queued` once more.
//!
//! "Offered" is a live routing state held by the queue actor, not persisted: after a
//! restart an offered conversation is simply queued again with its original wait.

use super::{AgentId, Channel, ConversationId, CustomerId, Millis, QueueName, SkillFloors};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationState {
    Queued,
    Assigned,
    WrapUp,
    /// Set aside by its agent (or by the engine after the customer's silence) on an
    /// asynchronous channel: no agent holds it and no queue offers it. `agent` is
    /// `None`, `preferred_agent` is the agent who parked it and `updated_at` when; the
    /// customer's next message queues it again, sticky to that agent.
    Parked,
    Resolved,
    Abandoned,
}

impl ConversationState {
    /// Open conversations are reloaded after a restart: waiting ones are routed again,
    /// held ones go back to their agents, parked ones stay parked.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            ConversationState::Queued
                | ConversationState::Assigned
                | ConversationState::WrapUp
                | ConversationState::Parked
        )
    }
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationState::Queued => "queued",
            ConversationState::Assigned => "assigned",
            ConversationState::WrapUp => "wrap_up",
            ConversationState::Parked => "parked",
            ConversationState::Resolved => "resolved",
            ConversationState::Abandoned => "abandoned",
        }
    }
}

/// A conversation with a customer. Persisted on every state change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: ConversationId,
    pub customer_id: CustomerId,
    /// The channel the conversation is currently on (the latest inbound channel).
    pub channel: Channel,
    pub queue: QueueName,
    pub state: ConversationState,
    pub priority: i32,
    pub created_at: Millis,
    /// When it (last) entered a queue; wait time is measured from here and is kept
    /// across restarts and overflow.
    pub enqueued_at: Millis,
    /// Tie-breaker within equal priority and enqueue time (arrival order).
    pub enqueue_seq: u64,
    pub agent: Option<AgentId>,
    /// The agent to offer first (sticky routing), if any.
    pub preferred_agent: Option<AgentId>,
    /// If set, only this agent may take it (transfer to a named agent).
    #[serde(default)]
    pub required_agent: Option<AgentId>,
    pub disposition: Option<String>,
    /// Skills this conversation needs of its agent, on top of its queue's own
    /// (set by the IVR, the REST call or the customer's attributes; docs/api.md
    /// "Per-contact skills"). Kept across requeues, transfers and restarts.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub requirements: SkillFloors,
    /// Last change of this record (state, agent, queue, channel) — not of the
    /// timeline: messages do not touch it.
    pub updated_at: Millis,
}
