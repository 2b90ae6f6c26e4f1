//! Timeline events: everything that happened with a customer, on any channel, in order.
//!
//! A timeline is partitioned by customer and clustered by `EventId` (time-ordered UUID
//! v7), read newest first.

use super::{AgentId, Channel, ConversationId, CustomerId, EventId, Millis, OfferId, QueueName};
use serde::{Deserialize, Serialize};

/// Outcome of one offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfferOutcome {
    Accepted,
    Rejected,
    TimedOut,
    Rescinded,
}

impl OfferOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            OfferOutcome::Accepted => "accepted",
            OfferOutcome::Rejected => "rejected",
            OfferOutcome::TimedOut => "timed_out",
            OfferOutcome::Rescinded => "rescinded",
        }
    }
}

/// One entry of a customer's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEvent {
    pub id: EventId,
    pub customer_id: CustomerId,
    pub conversation_id: Option<ConversationId>,
    pub at: Millis,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// A message from the customer.
    MessageIn {
        channel: Channel,
        address: String,
        text: String,
        /// Client or provider message id, for idempotent retries.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_msg_id: Option<String>,
    },
    /// A message to the customer.
    MessageOut {
        channel: Channel,
        agent_id: Option<AgentId>,
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_msg_id: Option<String>,
    },
    /// An internal note, never shown to the customer.
    Note {
        agent_id: AgentId,
        text: String,
    },
    ConversationOpened {
        channel: Channel,
        queue: QueueName,
    },
    Queued {
        queue: QueueName,
        priority: i32,
    },
    Offered {
        agent_id: AgentId,
        offer_id: OfferId,
    },
    OfferClosed {
        agent_id: AgentId,
        offer_id: OfferId,
        outcome: OfferOutcome,
    },
    Assigned {
        agent_id: AgentId,
    },
    Transferred {
        from_agent: Option<AgentId>,
        to_queue: QueueName,
        to_agent: Option<AgentId>,
    },
    Overflowed {
        from: QueueName,
        to: QueueName,
    },
    WrapUp {
        agent_id: AgentId,
    },
    Resolved {
        agent_id: Option<AgentId>,
        disposition: Option<String>,
    },
    Abandoned {
        waited_ms: u64,
    },
    /// The conversation moved to another channel (the customer wrote from it).
    ChannelSwitched {
        from: Channel,
        to: Channel,
    },
    IdentityLinked {
        channel: Channel,
        address: String,
    },
}

impl EventKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            EventKind::MessageIn { .. } => "message_in",
            EventKind::MessageOut { .. } => "message_out",
            EventKind::Note { .. } => "note",
            EventKind::ConversationOpened { .. } => "conversation_opened",
            EventKind::Queued { .. } => "queued",
            EventKind::Offered { .. } => "offered",
            EventKind::OfferClosed { .. } => "offer_closed",
            EventKind::Assigned { .. } => "assigned",
            EventKind::Transferred { .. } => "transferred",
            EventKind::Overflowed { .. } => "overflowed",
            EventKind::WrapUp { .. } => "wrap_up",
            EventKind::Resolved { .. } => "resolved",
            EventKind::Abandoned { .. } => "abandoned",
            EventKind::ChannelSwitched { .. } => "channel_switched",
            EventKind::IdentityLinked { .. } => "identity_linked",
        }
    }
}

impl TimelineEvent {
    pub fn new(
        customer_id: CustomerId,
        conversation_id: Option<ConversationId>,
        at: Millis,
        kind: EventKind,
    ) -> Self {
        Self {
            id: EventId::new(),
            customer_id,
            conversation_id,
            at,
            kind,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape_is_flat_and_tagged() {
        let e = TimelineEvent::new(
            CustomerId::new(),
            None,
            Millis(1),
            EventKind::Note {
                agent_id: AgentId::parse("alice").unwrap(),
                text: "こんにちは".into(),
            },
        );
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["type"], "note");
        assert_eq!(v["text"], "こんにちは");
        let back: TimelineEvent = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);
    }
}
