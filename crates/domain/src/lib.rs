//! Domain types: identifiers, parsed newtypes, channels, conversations, timeline events,
//! the errors every layer shares, time, message templates, text folding and the
//! escaping of outside text for logs and replies.
//!
//! The bottom of the crate graph: it depends on serde, thiserror and uuid only, so
//! nothing here can reach an actor, a store, a socket or a provider. Everything is plain
//! data with `serde` derives: no I/O, no actors, no wire framing. Actors exchange these values; the store persists them; the websocket and
//! REST edges convert them to their JSON shapes. Newtypes *parse* their input
//! (`QueueName::parse`, `Proficiency::new`, ...) so code past the edge never handles raw
//! strings.

pub mod agent;
pub mod attachment;
pub mod call;
pub mod channel;
pub mod conversation;
pub mod customer;
pub mod error;
pub mod escape;
pub mod event;
pub mod ids;
pub mod live_view;
pub mod queue;
pub mod report;
pub mod template;
pub mod text;
pub mod time;
pub mod view;

pub use agent::{
    check_agent_skills, difficulty_of, difficulty_skill, held, language_skill, meets, AgentProfile,
    AgentStatus, Capacity, Proficiency, RequestedStatus, Role, Skill, SkillFloors, DIFFICULTY,
    MAX_AGENT_SKILLS, MAX_DIFFICULTY, MAX_REQUIRED_SKILLS,
};
pub use attachment::{BlobId, FilePolicy, FileRefused};
pub use call::{
    recording_id_valid, CallEnd, CallEndReason, CallMedia, CallParty, CallRef, CallRelay, CallRing,
    CallSignal, IceServer, RecordingStatus,
};
pub use channel::{
    channels_where, AddressKind, ApprovedTemplate, Capabilities, Channel, ChannelClass, ReplyPath,
    ReplyWindow, SendAs, SurveyPath, TemplateMessage, PRIVATE_REPLY_MS,
};
pub use conversation::{Conversation, ConversationState};
pub use customer::{attribute_requirements, Customer, IdentityKey, MergedRecord};
pub use error::{EngineError, EngineResult, ErrorCode};
pub use escape::Escaped;
pub use event::{
    Attachment, BotTurn, CallStatus, DeliveryStatus, EventKind, Moderation, OfferOutcome,
    TimelineEvent, STREAM_TYPES,
};
pub use ids::{AgentId, ConversationId, CustomerId, EventId, OfferId, QueueName};
pub use queue::{
    AfterHours, BusinessHours, ChannelTargets, Closure, QueueConfig, ResponseTargets,
    RoutingStrategy, ServiceRule, WideningStep,
};
pub use report::{OfferOrigin, PresenceEvent, ReportEvent, ReportKind, SelfServiceFront};
pub use text::x_weighted_len;
pub use time::{Clock, Millis, SystemClock};

/// A value that failed to parse at the edge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {reason}")]
pub struct ParseError {
    /// Which field or type was being parsed.
    pub field: &'static str,
    /// A human-readable reason, safe to show to the caller.
    pub reason: String,
}

impl ParseError {
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}
