//! The messages the customer actor handles (and the notices it pushes to chat
//! sockets). Plain values keyed by ids; see [`crate::actors::messages`].

use crate::actors::messages::*;
use crate::actors::sessions::SessionRef;
use crate::domain::view::{ChatConversationView, ConversationView};
use crate::domain::{
    AgentId, Attachment, CallEnd, CallMedia, CallRef, CallRelay, CallRing, CallSignal, Channel,
    ConversationId, EventId, OfferId, QueueName, SkillFloors, TimelineEvent,
};
use actix::prelude::*;
use serde::{Deserialize, Serialize};

/// A message from the customer on any channel.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "EngineResult<InboundAck>")]
pub struct Inbound {
    pub channel: Channel,
    /// The normalised channel address it came from.
    pub address: String,
    pub text: String,
    /// Client or provider message id; a retry with the same id is stored once.
    pub client_msg_id: Option<String>,
    /// Queue to open a new conversation in (else the channel's default queue).
    pub queue: Option<QueueName>,
    pub attachments: Vec<Attachment>,
    /// Email subject.
    pub subject: Option<String>,
    /// A name the channel gave; set on the customer if it has none (never used to
    /// match or merge people).
    pub display_name: Option<String>,
    /// The conversation the provider threads this under (an email reply): reopened
    /// even outside the reopen window.
    pub thread: Option<ConversationId>,
    /// The client address of an anonymous door (the web chat): opening or reopening a
    /// conversation takes one of its `conversation` budget (`crate::budget`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_from: Option<std::net::IpAddr>,
    /// Skills a conversation this opens or reopens needs of its agent (the IVR's
    /// choice, the REST call); empty: none of its own (a reopened conversation keeps
    /// what it had).
    #[serde(default, skip_serializing_if = "SkillFloors::is_empty")]
    pub requirements: SkillFloors,
    /// The IVR menus a call went through to this queue, root first: recorded on the
    /// conversation it opens (the funnel report's self-service step).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ivr_path: Vec<String>,
    /// It came through the provider door (`ingest::from_provider`): its id is the
    /// provider's, and a redelivery is the same message whatever became of its media
    /// (fetched and stored one time, only described another), so its files do not
    /// count in what "the same content" means (`once::Idem::inbound`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub from_provider: bool,
}

impl Inbound {
    /// `text` from `address` on `channel`, with nothing else said about it (no id, no
    /// queue, no files): the fields a door knows are set on it after.
    pub fn new(channel: Channel, address: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            channel,
            address: address.into(),
            text: text.into(),
            client_msg_id: None,
            queue: None,
            attachments: Vec::new(),
            subject: None,
            display_name: None,
            thread: None,
            budget_from: None,
            requirements: SkillFloors::new(),
            ivr_path: Vec::new(),
            from_provider: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InboundAck {
    pub event_id: EventId,
    pub conversation_id: ConversationId,
    pub duplicate: bool,
}

/// An agent starts a conversation with the customer (`customer::start`).
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "EngineResult<InboundAck>")]
pub struct StartConversation {
    pub agent_id: crate::domain::AgentId,
    pub channel: Channel,
    /// The queue it waits in for the agent (checked at the door: one of theirs).
    pub queue: QueueName,
    pub client_msg_id: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<crate::domain::TemplateMessage>,
}

/// An agent's reply or internal note.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "EngineResult<InboundAck>")]
pub struct AgentWrite {
    pub conversation_id: ConversationId,
    pub agent_id: AgentId,
    pub client_msg_id: String,
    pub text: String,
    pub note: bool,
    /// Channel to reply on; default: the channel of the customer's last message.
    pub channel: Option<Channel>,
    /// An approved template to send instead of `text` (channels whose window takes
    /// templates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<crate::domain::TemplateMessage>,
    /// Stored files sent with the reply (resolved by `crate::actors::files::resolve`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

/// A phone call ended (the telephony platform's status callback).
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "EngineResult<()>")]
pub struct CallEnded {
    pub call_id: String,
    /// The platform's final status (`completed`, `busy`, `no-answer`, ...).
    pub status: String,
    pub duration_s: Option<u64>,
    /// An agent's call out from this conversation (click-to-call): the end is recorded
    /// on it and abandons nothing. None: the customer's own call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<ConversationId>,
}

/// A phone call's recording was reported by the telephony platform (its recording
/// status callback): written once per recording and status as a `call_recorded` event
/// of `conversation_id`, open or closed.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "EngineResult<()>")]
pub struct CallRecorded {
    pub conversation_id: ConversationId,
    pub call_id: String,
    /// Checked by `domain::recording_id_valid`.
    pub recording_id: String,
    pub status: crate::domain::RecordingStatus,
    pub duration_s: Option<u64>,
    pub url: String,
}

/// An agent's leg was bridged to the caller of voice conversation `conversation_id`:
/// the call is answered (their softphone dialled the waiting caller, or they picked up
/// their own phone). Written once per leg as a `call` event with status `answered`
/// and the agent as its detail.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "EngineResult<()>")]
pub struct PhoneAnswered {
    pub conversation_id: ConversationId,
    /// The agent's leg (the platform's call id).
    pub call_id: String,
    pub agent_id: AgentId,
}

/// A caller is in the phone's IVR menus at `path` (menu ids, root first) on call
/// `call_id` (the platform's id): remembered so that a call ending there is counted as
/// contained by self-service (docs/metrics.md "Self-service funnel").
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct IvrStep {
    pub call_id: String,
    pub path: Vec<String>,
}

/// The web-chat customer asked to continue on video. Replies with the join link.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "EngineResult<String>")]
pub struct EscalateVideo;

/// The customer opted out of (or back into) a channel.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "EngineResult<()>")]
pub struct SetOptOut {
    pub channel: Channel,
    pub opted_out: bool,
    /// The provider's id of the keyword message or event that asked for it, as stored
    /// (`{channel}:{id}`): kept on the timeline event so an erasure leaves a tombstone
    /// of it (`crate::tombstones`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_msg_id: Option<String>,
}

/// The agent accepted an offer: assign the conversation durably and return its view.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "EngineResult<ConversationView>")]
pub struct Assign {
    pub conversation_id: ConversationId,
    pub agent_id: AgentId,
    /// Shown to the customer ("connected with Alice").
    pub agent_name: String,
    pub offer_id: OfferId,
}

/// The view of an open conversation (agent resume after restart / reconnect).
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "EngineResult<ConversationView>")]
pub struct GetConversationView {
    pub conversation_id: ConversationId,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CloseKind {
    WrapUp,
    Resolve,
}

/// Wrap-up or resolve by the holding agent.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "EngineResult<()>")]
pub struct CloseConversation {
    pub conversation_id: ConversationId,
    pub agent_id: AgentId,
    pub kind: CloseKind,
    pub disposition: Option<String>,
}

/// Move a conversation to a queue (optionally a named agent in it).
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "EngineResult<()>")]
pub struct Transfer {
    pub conversation_id: ConversationId,
    pub from_agent: Option<AgentId>,
    pub to_queue: Option<QueueName>,
    pub to_agent: Option<AgentId>,
}

/// Park an assigned conversation on an asynchronous channel: its agent's slot frees,
/// and the customer's next message queues it again, sticky to that agent. `auto`: the
/// engine parks it after the customer's silence (refused if they wrote since).
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "EngineResult<()>")]
pub struct Park {
    pub conversation_id: ConversationId,
    pub agent_id: AgentId,
    pub auto: bool,
}

/// The agent who parked a conversation takes it back: it waits in its queue again,
/// sticky to them, and is offered to them when they have a free slot.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "EngineResult<()>")]
pub struct Unpark {
    pub conversation_id: ConversationId,
    pub agent_id: AgentId,
}

/// Put an assigned conversation back in its queue at its original place (its agent
/// went offline), or move a waiting one to another queue (overflow).
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "EngineResult<()>")]
pub struct Requeue {
    pub conversation_id: ConversationId,
    /// Some(queue) for overflow into that queue.
    pub overflow_to: Option<QueueName>,
    pub reason: String,
}

/// An agent accepted the offer of a waiting conversation, but its assignment was not
/// confirmed: the write failed, or the answer was lost between nodes (then it may
/// have been made). The queue dropped the conversation when the offer was accepted,
/// so the customer's actor puts it back there: still waiting, or assigned to this
/// agent, whose actor has let it go.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct AssignFailed {
    pub conversation_id: ConversationId,
    pub agent_id: AgentId,
    /// The offer the agent accepted.
    pub offer_id: OfferId,
}

/// The customer ended the chat (or its socket stayed away past the grace period).
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "EngineResult<()>")]
pub struct CustomerLeave;

/// Name / email / phone typed by a web-chat visitor: weak evidence, kept as the display
/// name and the `unverified_email` / `unverified_phone` attributes, never linked.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "EngineResult<()>")]
pub struct Identify {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// A chat socket attached to this customer: the actor pushes to it through
/// `Engine::push_chat` until it detaches. Replies with the welcome data.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "EngineResult<ChatWelcome>")]
pub struct AttachChat {
    pub session: SessionRef,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatWelcome {
    pub conversation: Option<ChatConversationView>,
    pub history: Vec<TimelineEvent>,
}

/// The chat socket closed (or a push found it gone).
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct DetachChat {
    pub session: SessionRef,
}

/// Typing indicator, either direction.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct Typing {
    pub conversation_id: Option<ConversationId>,
    pub from_agent: bool,
}

/// Record events that happened elsewhere (delivery receipts, call progress) in the
/// customer's timeline; the holding agent sees them.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "EngineResult<()>")]
pub struct RecordEvents {
    pub events: Vec<TimelineEvent>,
    /// Outbox entries these events settle (a reply's final delivery status).
    #[serde(default)]
    pub outbox_done: Vec<EventId>,
}

/// Push to a chat session.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct ChatPush(pub ChatNotice);

/// What the customer actor tells its visitor's chat sockets, in engine terms; the chat
/// session turns each into its frame (`ws::chat_session::frame_of`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ChatNotice {
    /// A visible timeline event: an agent's reply, the visitor's own message from
    /// another tab or channel, a bot answer, a video invitation.
    Event {
        event: TimelineEvent,
    },
    /// The conversation's state, agent and place in the queue changed.
    Conversation(ChatConversationView),
    AgentTyping,
    /// The conversation was resolved: ask for a rating.
    Survey {
        conversation_id: ConversationId,
        question: String,
        scale_max: u8,
    },
    /// The visitor's callback request was taken.
    CallbackRequested {
        conversation_id: ConversationId,
        phone: String,
    },
    /// A browser call: rung at the visitor (`call_incoming`), answered, a signal from
    /// the agent's browser, ended.
    CallIncoming(CallRing),
    CallAnswered(CallRef),
    CallSignal(CallRelay),
    CallEnded(CallEnd),
}

/// Who asks the customer's actor about a browser call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallFrom {
    /// One of the visitor's chat sockets.
    Customer { session: SessionRef },
    /// The agent holding the conversation (its actor, for one of its sockets).
    Agent { agent_id: AgentId },
}

/// What is asked of a browser call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallAction {
    /// Ring the other side.
    Start { media: CallMedia },
    /// Answer the call ringing here.
    Answer { call_id: String },
    /// Relay a WebRTC signal to the other side.
    Signal { call_id: String, signal: CallSignal },
    /// Hang up (before the answer, by the called side: decline).
    Hangup { call_id: String },
    /// The agent was rung while on another call.
    Busy { call_id: String },
    /// The agent's socket in the call closed.
    Lost { call_id: String },
    /// The conversation left the agent.
    Closed { call_id: String },
}

/// A browser call in the open conversation (`conversation_id`: the one the agent
/// names; the visitor's is the open one). `Start` is answered with the ring as the
/// asker sees it (its ICE servers); everything else with `None`.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "EngineResult<Option<CallRing>>")]
pub struct CallRequest {
    pub conversation_id: Option<ConversationId>,
    pub from: CallFrom,
    pub action: CallAction,
}

/// A supervisor watches an open conversation: every event its customer actor records
/// in it is pushed to `session` (dropped when the socket's mailbox is full: a session
/// that does not keep up loses events, never slows the customer). Replies with the
/// conversation's view.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "EngineResult<ConversationView>")]
pub struct WatchConversation {
    pub conversation_id: ConversationId,
    pub session: SessionRef,
}

/// The supervisor session stops watching (`None`: every conversation it watches here).
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct UnwatchConversation {
    pub session: SessionRef,
    pub conversation_id: Option<ConversationId>,
}
