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
        /// Files, images, stickers that came with it (stored when `file` is set).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        attachments: Vec<Attachment>,
        /// Email subject, when the channel has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subject: Option<String>,
    },
    /// A message to the customer.
    MessageOut {
        channel: Channel,
        agent_id: Option<AgentId>,
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_msg_id: Option<String>,
        /// Files the agent sent, stored (docs/attachments.md).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        attachments: Vec<Attachment>,
    },
    /// An internal note, never shown to the customer.
    Note {
        agent_id: AgentId,
        text: String,
    },
    ConversationOpened {
        channel: Channel,
        queue: QueueName,
        /// The IVR menus the customer went through to reach the queue, root first (a
        /// phone call's, or the web chat's visual IVR).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ivr_path: Vec<String>,
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
    /// The agent set the conversation aside (`auto`: the engine did, after the
    /// customer's silence); their slot is free until the customer writes again.
    Parked {
        agent_id: AgentId,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        auto: bool,
    },
    Resolved {
        agent_id: Option<AgentId>,
        disposition: Option<String>,
    },
    /// No agent answered the customer within the queue's response-time target:
    /// `target_ms` after `since`, the customer's first message not answered yet
    /// (`first`: the conversation's first reply). Written once per unanswered run.
    ResponseOverdue {
        first: bool,
        target_ms: u64,
        since: Millis,
    },
    Abandoned {
        waited_ms: u64,
        /// A visitor nobody knows (only web-chat addresses) whose socket went before
        /// any agent served them (`anonymous.unserved_grace_ms`): reports count it as
        /// `left_unserved`, not as an abandoned customer.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        left_unserved: bool,
    },
    /// The conversation moved to another channel (the customer wrote from it).
    ChannelSwitched {
        from: Channel,
        to: Channel,
    },
    /// An identity was stitched to this customer (or, with `unlinked`, taken away).
    IdentityLinked {
        channel: Channel,
        address: String,
        /// The agent who linked it by hand; `None` for proof carried by a signed login
        /// token (see `evidence`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<AgentId>,
        /// What proved it: `agent`, `login_token`, `messenger_account_linking`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        evidence: Option<String>,
        /// True when the link was removed (the address now belongs to a new customer).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        unlinked: bool,
    },
    /// A provider reported the delivery state of an outbound message.
    MessageStatus {
        /// The `message_out` event this is about.
        message_event_id: EventId,
        channel: Channel,
        status: DeliveryStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        provider_msg_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// An agent hid, showed again or deleted the customer's public post (a Page
    /// comment, an X reply) at the provider.
    PostModerated {
        /// The `message_in` event of the post.
        message_event_id: EventId,
        channel: Channel,
        action: Moderation,
        agent_id: AgentId,
    },
    /// The customer opted out of (or back into) messages on a channel (SMS STOP/START,
    /// LINE unfollow/follow).
    OptOutChanged {
        channel: Channel,
        opted_out: bool,
        /// The provider's id of the keyword message or event (`{channel}:{id}`), when
        /// it had one: an erasure leaves a tombstone of it, like of a message's.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        provider_msg_id: Option<String>,
    },
    /// A resolved conversation came back to life: the customer wrote again inside the
    /// reopen window (or replied to its email thread).
    ConversationReopened {
        channel: Channel,
        queue: QueueName,
    },
    /// A phone call's progress (the telephony platform carries the media).
    Call {
        call_id: String,
        status: CallStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// A browser call (WebRTC) started ringing in the conversation.
    CallStarted {
        call_id: String,
        media: crate::CallMedia,
        /// Who called: the customer or the agent.
        by: crate::CallParty,
        /// The agent holding the conversation (caller or called).
        agent_id: AgentId,
    },
    /// The called side answered the browser call.
    CallAnswered {
        call_id: String,
    },
    /// The browser call ended.
    CallEnded {
        call_id: String,
        reason: crate::CallEndReason,
        by: crate::CallParty,
        /// Talk time: from the answer to the end (0 when never answered).
        duration_ms: u64,
    },
    /// A phone call's recording, reported by the telephony platform (staff only:
    /// played through `GET /api/v1/conversations/{id}/recordings/{recording_id}`).
    CallRecorded {
        /// The recorded call leg (the agent's).
        call_id: String,
        /// The platform's recording id (`RE…`).
        recording_id: String,
        status: crate::RecordingStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_s: Option<u64>,
        /// Where the platform keeps it (fetched only with the account's credentials).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        url: String,
    },
    /// A video session was offered to the customer.
    VideoInvited {
        join_url: String,
    },
    /// Another customer record was merged into this one (its timeline, identities and
    /// conversations moved here).
    CustomersMerged {
        merged: CustomerId,
        by: Option<AgentId>,
        identities: Vec<super::IdentityKey>,
    },
    /// A merge was undone: these identities went back to `restored`.
    CustomersUnmerged {
        restored: CustomerId,
        by: Option<AgentId>,
        identities: Vec<super::IdentityKey>,
    },
    /// A CSAT survey went out after the conversation was resolved (the event id is the
    /// outbound message's, for `message_status`).
    SurveySent {
        channel: Channel,
        scale_max: u8,
        text: String,
    },
    /// The customer answered the conversation's survey.
    SurveyAnswered {
        channel: Channel,
        score: u8,
        scale_max: u8,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
    },
    /// A proactive notification went out (`POST /api/v1/events`): what the customer
    /// was told, and where.
    NotificationSent {
        notification_id: String,
        event_type: String,
        channel: Channel,
        text: String,
    },
    /// The FAQ bot answered the customer (the bot core): an article when it was
    /// confident, an honest "not sure", or that a person is coming.
    BotReply {
        channel: Channel,
        /// `answer` (an article), `not_sure` or `handoff` ("connecting you…").
        kind: String,
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        article_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        article_title: Option<String>,
    },
    /// The FAQ bot handed the customer to a person: the whole bot exchange, so the
    /// agent never asks again. `reason`: requested, button, unanswered, turn_limit.
    BotHandoff {
        reason: String,
        language: String,
        transcript: Vec<BotTurn>,
    },
    /// The customer asked to be called back instead of waiting; the conversation keeps
    /// its place in `queue` as a voice conversation (docs/ivr.md).
    CallbackRequested {
        /// E.164 number to call.
        phone: String,
        queue: QueueName,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        /// IVR menus the customer went through, root first.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ivr_path: Vec<String>,
        /// `voice_ivr`, `visual_ivr`, `chat` or `rest`.
        source: String,
    },
    /// An agent dialled a callback: `outcome` (`reached`, `no_answer`, `busy`) and what
    /// follows (`connected`, `retry` at `retry_at`, `failed`).
    CallbackAttempt {
        agent_id: AgentId,
        attempt: u32,
        outcome: String,
        next: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_at: Option<Millis>,
    },
}

/// A file or media item that came with a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// `image`, `sticker`, `file`, `audio`, `video`, `location`...
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Where the provider keeps it (LINE content id, Messenger/Twilio media URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The stored copy, owned by the event's customer: its SHA-256, read at
    /// `/api/v1/customers/{customer}/files/{file}` (docs/attachments.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<crate::BlobId>,
}

/// What an agent does to a customer's public post at the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Moderation {
    /// Hidden from everyone but its author and their friends (Facebook) / behind
    /// "hidden replies" (X).
    Hide,
    /// Shown again.
    Unhide,
    /// Removed at the provider (Facebook only: X lets no one delete another's post).
    Delete,
}

impl Moderation {
    pub fn as_str(self) -> &'static str {
        match self {
            Moderation::Hide => "hide",
            Moderation::Unhide => "unhide",
            Moderation::Delete => "delete",
        }
    }
}

/// Delivery state of an outbound message, as the provider reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Handed to the provider (its API answered with an id).
    Sent,
    Delivered,
    Read,
    /// The provider gave up (Twilio `undelivered`/`failed`, a 4xx from an API).
    Failed,
    /// Not sent: the customer opted out of this channel.
    Suppressed,
    /// The engine cannot tell whether the provider took it: the call timed out or the
    /// connection dropped after the request went out, the provider answered 500, 502
    /// or 504, or the engine stopped during the call. Sent again only to a provider
    /// that de-duplicates by an idempotency key (LINE); elsewhere never, so it is never
    /// sent twice. The agent decides whether to write again.
    Unknown,
}

/// Progress of a phone call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallStatus {
    Ringing,
    InIvr,
    Queued,
    Answered,
    Ended,
    CallbackRequested,
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
            EventKind::Parked { .. } => "parked",
            EventKind::Resolved { .. } => "resolved",
            EventKind::ResponseOverdue { .. } => "response_overdue",
            EventKind::Abandoned { .. } => "abandoned",
            EventKind::ChannelSwitched { .. } => "channel_switched",
            EventKind::IdentityLinked { .. } => "identity_linked",
            EventKind::MessageStatus { .. } => "message_status",
            EventKind::OptOutChanged { .. } => "opt_out_changed",
            EventKind::PostModerated { .. } => "post_moderated",
            EventKind::ConversationReopened { .. } => "conversation_reopened",
            EventKind::Call { .. } => "call",
            EventKind::CallStarted { .. } => "call_started",
            EventKind::CallAnswered { .. } => "call_answered",
            EventKind::CallEnded { .. } => "call_ended",
            EventKind::CallRecorded { .. } => "call_recorded",
            EventKind::VideoInvited { .. } => "video_invited",
            EventKind::CustomersMerged { .. } => "customers_merged",
            EventKind::CustomersUnmerged { .. } => "customers_unmerged",
            EventKind::SurveySent { .. } => "survey_sent",
            EventKind::SurveyAnswered { .. } => "survey_answered",
            EventKind::NotificationSent { .. } => "notification_sent",
            EventKind::BotReply { .. } => "bot_reply",
            EventKind::BotHandoff { .. } => "bot_handoff",
            EventKind::CallbackRequested { .. } => "callback_requested",
            EventKind::CallbackAttempt { .. } => "callback_attempt",
        }
    }
}

impl EventKind {
    /// The type the outbound event stream publishes this event as
    /// (`message.received`, `conversation.resolved`…), or `None` for the events it
    /// leaves out: routing's inner steps (queued, offered, offer closed) and what only
    /// staff screens need. A new kind decides here, or it does not compile.
    pub fn stream_type(&self) -> Option<&'static str> {
        Some(match self {
            EventKind::MessageIn { .. } => "message.received",
            EventKind::MessageOut { .. } => "message.sent",
            EventKind::MessageStatus { .. } => "message.status",
            EventKind::Note { .. } => "note.added",
            EventKind::ConversationOpened { .. } => "conversation.opened",
            EventKind::ConversationReopened { .. } => "conversation.reopened",
            EventKind::Assigned { .. } => "conversation.assigned",
            EventKind::Transferred { .. } => "conversation.transferred",
            EventKind::Overflowed { .. } => "conversation.overflowed",
            EventKind::WrapUp { .. } => "conversation.wrap_up",
            EventKind::Parked { .. } => "conversation.parked",
            EventKind::Resolved { .. } => "conversation.resolved",
            EventKind::Abandoned { .. } => "conversation.abandoned",
            EventKind::ChannelSwitched { .. } => "conversation.channel_switched",
            EventKind::ResponseOverdue { .. } => "conversation.response_overdue",
            EventKind::SurveyAnswered { .. } => "csat.answered",
            EventKind::CallbackRequested { .. } => "callback.requested",
            EventKind::CallbackAttempt { .. } => "callback.attempted",
            EventKind::CustomersMerged { .. } => "customer.merged",
            EventKind::CustomersUnmerged { .. } => "customer.unmerged",
            EventKind::IdentityLinked { .. } => "customer.identity_linked",
            EventKind::OptOutChanged { .. } => "customer.opt_out_changed",
            EventKind::CallEnded { .. } => "call.ended",
            EventKind::CallRecorded { .. } => "call.recorded",
            EventKind::BotHandoff { .. } => "bot.handoff",
            EventKind::NotificationSent { .. } => "notification.sent",
            EventKind::Queued { .. }
            | EventKind::Offered { .. }
            | EventKind::OfferClosed { .. }
            | EventKind::PostModerated { .. }
            | EventKind::Call { .. }
            | EventKind::CallStarted { .. }
            | EventKind::CallAnswered { .. }
            | EventKind::VideoInvited { .. }
            | EventKind::SurveySent { .. }
            | EventKind::BotReply { .. } => return None,
        })
    }
}

/// Every type the outbound event stream publishes ([`EventKind::stream_type`]), in the
/// order the docs list them.
pub const STREAM_TYPES: &[&str] = &[
    "conversation.opened",
    "conversation.reopened",
    "conversation.assigned",
    "conversation.transferred",
    "conversation.overflowed",
    "conversation.wrap_up",
    "conversation.parked",
    "conversation.resolved",
    "conversation.abandoned",
    "conversation.channel_switched",
    "conversation.response_overdue",
    "message.received",
    "message.sent",
    "message.status",
    "note.added",
    "csat.answered",
    "callback.requested",
    "callback.attempted",
    "customer.merged",
    "customer.unmerged",
    "customer.identity_linked",
    "customer.opt_out_changed",
    "call.ended",
    "call.recorded",
    "bot.handoff",
    "notification.sent",
];

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

/// One exchange of a bot session: kept in the `bot_reply` event's transcript.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BotTurn {
    pub question: String,
    pub answer: String,
    /// The article offered, when the bot was confident.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub article_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub article_title: Option<String>,
    pub at: Millis,
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
