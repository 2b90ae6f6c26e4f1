//! Read models: what an agent sees of itself, an offer, a customer, a conversation and
//! one they parked, and what a web-chat visitor sees of theirs (and which events are shown to them).
//! Built by the engine from domain records, carried as they are in the agent
//! protocol's frames (the protocol crate re-exports them), so their JSON is part of
//! the external contract (docs/protocol.md).

use crate::{
    AgentId, Capacity, Channel, ConversationId, ConversationState, CustomerId, IdentityKey, Millis,
    OfferId, Proficiency, QueueName, Role, Skill, TimelineEvent,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AgentInfo {
    pub id: AgentId,
    pub display_name: String,
    pub role: Role,
    pub skills: BTreeMap<Skill, Proficiency>,
    pub capacity: Capacity,
    pub queues: Vec<QueueName>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OfferView {
    pub offer_id: OfferId,
    pub conversation_id: ConversationId,
    pub customer: CustomerView,
    pub channel: Channel,
    pub queue: QueueName,
    pub priority: i32,
    pub waited_ms: u64,
    pub expires_at: Millis,
    pub timeout_ms: u64,
    /// The customer's latest message, for the offer card.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CustomerView {
    pub id: CustomerId,
    pub display_name: Option<String>,
    pub priority: i32,
    pub attributes: BTreeMap<String, String>,
    pub identities: Vec<IdentityKey>,
    /// Channels the customer opted out of (replies there are refused).
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub opted_out: std::collections::BTreeSet<Channel>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ConversationView {
    pub id: ConversationId,
    pub customer: CustomerView,
    pub channel: Channel,
    pub queue: QueueName,
    pub state: ConversationState,
    pub agent: Option<AgentId>,
    pub created_at: Millis,
    pub enqueued_at: Millis,
    /// Recent timeline events of this customer (every channel), oldest first.
    pub recent: Vec<TimelineEvent>,
}

/// A conversation the agent parked: listed on the agent's sockets until the customer
/// writes again (or the agent takes it back or resolves it).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ParkedView {
    pub conversation_id: ConversationId,
    pub customer_id: CustomerId,
    pub channel: Channel,
    pub queue: QueueName,
    pub parked_at: Millis,
    /// Parked by the engine after the customer's silence, not by the agent.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub auto: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChatConversationView {
    pub id: ConversationId,
    pub state: ConversationState,
    /// Display name of the agent, once assigned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_name: Option<String>,
    /// 1-based place in the queue while queued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<usize>,
}

/// Whether an event is shown to the customer (notes and routing events are not).
pub fn visible_to_customer(e: &TimelineEvent) -> bool {
    matches!(
        e.kind,
        crate::EventKind::MessageIn { .. }
            | crate::EventKind::MessageOut { .. }
            | crate::EventKind::VideoInvited { .. }
            | crate::EventKind::BotReply { .. }
            | crate::EventKind::CallStarted { .. }
            | crate::EventKind::CallAnswered { .. }
            | crate::EventKind::CallEnded { .. }
    )
}
