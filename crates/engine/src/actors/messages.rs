//! Messages between actors. Plain serde types keyed by ids, one struct per message with
//! its reply type, never a socket or a reference into another actor's state, so that
//! actors can later live on different machines.
//!
//! Pushes to sockets (`AgentPush`, `ChatPush`, `SupervisorPush`) carry engine notices
//! (`AgentNotice`, `ChatNotice`, `SupervisorNotice`) that the sessions translate into
//! frames: no actor builds a frame.

use crate::domain::live_view::{AgentLiveView, QueueLiveView};
use crate::domain::view::{AgentInfo, ChatConversationView, ConversationView, OfferView};
use crate::domain::{
    AgentId, Attachment, Channel, ChannelClass, ConversationId, ConversationState, CustomerId,
    EventId, Millis, OfferId, OfferOutcome, QueueName, RequestedStatus, TimelineEvent,
};
use actix::prelude::*;
use serde::{Deserialize, Serialize};

pub use crate::domain::{EngineError, EngineResult};

// ---------------------------------------------------------------- customer actor

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
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InboundAck {
    pub event_id: EventId,
    pub conversation_id: ConversationId,
    pub duplicate: bool,
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
}

/// A phone call ended (the telephony platform's status callback).
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "EngineResult<()>")]
pub struct CallEnded {
    pub call_id: String,
    /// The platform's final status (`completed`, `busy`, `no-answer`, ...).
    pub status: String,
    pub duration_s: Option<u64>,
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

/// A chat socket attached to this customer. Replies with the welcome data.
#[derive(Message)]
#[rtype(result = "EngineResult<ChatWelcome>")]
pub struct AttachChat {
    pub session_id: u64,
    pub recipient: Recipient<ChatPush>,
}

#[derive(Debug, Clone)]
pub struct ChatWelcome {
    pub conversation: Option<ChatConversationView>,
    pub history: Vec<TimelineEvent>,
}

#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct DetachChat {
    pub session_id: u64,
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
#[derive(Debug, Clone, Message)]
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
}

// ---------------------------------------------------------------- queue actor

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
            seq: c.enqueue_seq,
            preferred_agent: c.preferred_agent.clone(),
            required_agent: c.required_agent.clone(),
            preview: None,
            force: true,
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
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WaitingView {
    pub conversation_id: ConversationId,
    pub channel_class: ChannelClass,
    pub priority: i32,
    pub enqueued_at: Millis,
    pub waited_ms: u64,
}

// ---------------------------------------------------------------- agent actor

/// Offer details the queue sends with a reservation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OfferInfo {
    pub offer_id: OfferId,
    pub conversation_id: ConversationId,
    pub customer_id: CustomerId,
    pub channel: Channel,
    pub queue: QueueName,
    pub priority: i32,
    pub enqueued_at: Millis,
    pub timeout_ms: u64,
    pub max_missed: u32,
    pub preview: Option<String>,
}

/// Reserve a slot for an offer. The agent is the arbiter: it refuses if it has no
/// free slot of that class, is not available, or is not connected.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "Result<(), String>")]
pub struct Reserve(pub OfferInfo);

/// The queue withdraws an offer (customer left, overflow).
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct Rescind {
    pub conversation_id: ConversationId,
}

/// A new event in a conversation the agent holds.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct ConversationEvent {
    pub conversation_id: ConversationId,
    pub event: TimelineEvent,
}

/// The conversation left this agent without the agent asking (customer abandoned...).
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct ConversationLeft {
    pub conversation_id: ConversationId,
    pub state: crate::domain::ConversationState,
}

/// After a restart: conversations this agent held, to resume when it reconnects.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct RestoreHeld {
    pub conversations: Vec<(ConversationId, CustomerId, Channel, QueueName)>,
}

/// A socket of this agent connected. The actor answers with an
/// [`AgentNotice::Welcome`] pushed to that socket once its conversations are loaded.
#[derive(Message)]
#[rtype(result = "()")]
pub struct AttachAgent {
    pub session_id: u64,
    pub recipient: Recipient<AgentPush>,
}

#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct DetachAgent {
    pub session_id: u64,
}

/// What an agent asks of its actor from one of its sockets, as the session decoded
/// it: engine terms, not frames.
#[derive(Debug, Clone, Message, Serialize, Deserialize)]
#[rtype(result = "()")]
pub struct AgentCommand {
    pub session_id: u64,
    pub request: AgentRequest,
}

/// One request of an agent's session ([`AgentCommand`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AgentRequest {
    /// Answered with a pong in order with the session's other pushes.
    Ping {
        nonce: Option<String>,
    },
    SetStatus {
        status: RequestedStatus,
        reason: Option<String>,
    },
    Accept {
        offer: OfferId,
    },
    Reject {
        offer: OfferId,
    },
    /// A reply to the customer; `channel`: default, the one they last wrote on.
    Reply {
        conversation: ConversationId,
        client_msg_id: String,
        text: String,
        channel: Option<Channel>,
    },
    /// An internal note (never sent to the customer).
    Note {
        conversation: ConversationId,
        client_msg_id: String,
        text: String,
    },
    Typing {
        conversation: ConversationId,
    },
    WrapUp {
        conversation: ConversationId,
    },
    Resolve {
        conversation: ConversationId,
        disposition: Option<String>,
    },
    Transfer {
        conversation: ConversationId,
        queue: Option<QueueName>,
        agent: Option<AgentId>,
    },
    /// A page of a customer's timeline.
    History {
        customer: CustomerId,
        before: Option<EventId>,
        limit: Option<usize>,
        request_id: Option<String>,
    },
}

/// Push to an agent session.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct AgentPush(pub AgentNotice);

/// What the agent actor tells its sockets, in engine terms; the session turns each
/// into its frame (`ws::agent_session::frame_of`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AgentNotice {
    /// First message on a socket: who the agent is, their presence, what they hold
    /// and are offered.
    Welcome {
        agent: AgentInfo,
        status: String,
        reason: Option<String>,
        conversations: Vec<ConversationView>,
        offers: Vec<OfferView>,
        server_time: Millis,
        /// The socket resumed a session still inside its grace period.
        resumed: bool,
    },
    Status {
        status: String,
        reason: Option<String>,
    },
    Offer(OfferView),
    OfferRevoked {
        offer_id: OfferId,
        conversation_id: ConversationId,
        outcome: String,
    },
    ConversationAssigned {
        conversation: ConversationView,
    },
    /// A new timeline event in a conversation the agent holds.
    Event {
        conversation_id: ConversationId,
        event: TimelineEvent,
    },
    /// A reply or note of this agent was stored.
    Ack {
        client_msg_id: String,
        conversation_id: ConversationId,
        event_id: EventId,
        duplicate: bool,
    },
    ConversationUpdated {
        conversation_id: ConversationId,
        state: ConversationState,
        /// false when the conversation left this agent.
        held: bool,
    },
    CustomerTyping {
        conversation_id: ConversationId,
    },
    History {
        request_id: Option<String>,
        customer_id: CustomerId,
        events: Vec<TimelineEvent>,
        more: bool,
    },
    Pong {
        nonce: Option<String>,
    },
    /// A request of this socket was refused; `reference` names what it was about.
    Refused {
        error: EngineError,
        reference: Option<String>,
    },
}

/// Live agent state for REST.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "AgentLive")]
pub struct GetAgentLive;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentLive {
    pub id: AgentId,
    pub status: String,
    pub reason: Option<String>,
    pub connected_sockets: usize,
    pub held: Vec<ConversationId>,
    pub pending_offers: Vec<ConversationId>,
    pub free: [u16; 4],
    pub missed_in_row: u32,
}

// ---------------------------------------------------------------- live hub

/// A routing fact for the live hub. Sent with `Engine::live` (`try_send`: never
/// awaited, dropped and counted when the hub's bounded mailbox is full).
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct HubEvent(pub crate::live::LiveEvent);

/// A supervisor socket subscribes; the hub answers with a snapshot push.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Subscribe {
    pub session_id: u64,
    pub supervisor: AgentId,
    pub recipient: Recipient<SupervisorPush>,
    /// `None`: every queue.
    pub queues: Option<std::collections::BTreeSet<QueueName>>,
}

/// The subscriber changes its queue set; answered with a fresh snapshot.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct SetFilter {
    pub session_id: u64,
    pub queues: Option<std::collections::BTreeSet<QueueName>>,
}

/// The subscriber received every push up to `seq`.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct SubscriberAck {
    pub session_id: u64,
    pub seq: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct Unsubscribe {
    pub session_id: u64,
}

/// Push to a supervisor session.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub enum SupervisorPush {
    Msg(Box<SupervisorNotice>),
    /// Close the socket with this reason (it stayed behind too long).
    Close(String),
}

/// What the live hub (and a watched conversation's customer actor) tells a supervisor
/// socket, in engine terms; the session turns each into its frame
/// (`ws::supervisor_session::frame_of`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SupervisorNotice {
    /// Everything the subscription covers. `reason`: `connect`, `subscribe` or
    /// `resync`.
    Snapshot {
        seq: u64,
        reason: String,
        server_time: Millis,
        /// `None`: every queue.
        queues_filter: Option<Vec<QueueName>>,
        queues: Vec<QueueLiveView>,
        agents: Vec<AgentLiveView>,
    },
    /// Whole queue and agent records changed since the previous push.
    Delta {
        seq: u64,
        server_time: Millis,
        queues: Vec<QueueLiveView>,
        agents: Vec<AgentLiveView>,
    },
    /// A new event in a watched conversation.
    ConversationEvent {
        conversation_id: ConversationId,
        event: TimelineEvent,
    },
}

/// The live figures for REST (`GET /api/v1/supervisor/live`).
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "LiveSnapshot")]
pub struct GetLive {
    pub queues: Option<std::collections::BTreeSet<QueueName>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LiveSnapshot {
    pub server_time: Millis,
    pub queues: Vec<crate::live::QueueLiveView>,
    pub agents: Vec<crate::live::AgentLiveView>,
}

/// The hub's own state, for admin views and tests.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "HubStats")]
pub struct GetHubStats;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HubStats {
    /// Configured window: most unacknowledged pushes per subscriber.
    pub window: u64,
    /// Events the hub never saw because its mailbox was full.
    pub events_lost: u64,
    pub subscribers: Vec<SubscriberStats>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubscriberStats {
    pub session_id: u64,
    pub supervisor: AgentId,
    /// Pushes sent and not yet acknowledged (never above `window`).
    pub in_flight: u64,
    pub last_seq: u64,
    /// Deltas were dropped; a snapshot is owed at the next ack.
    pub behind: bool,
    pub deltas_dropped: u64,
    pub resyncs: u64,
}

/// A supervisor sets an agent's status (the agent's sockets are told).
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct SupervisorSetStatus {
    pub status: RequestedStatus,
    pub reason: Option<String>,
    pub by: AgentId,
}

/// A supervisor changed the queues an agent serves; applies at once.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct SetAgentQueues {
    pub queues: Vec<QueueName>,
}

/// A supervisor watches an open conversation: every event its customer actor records
/// in it is pushed to `recipient` (`try_send`: a session that does not keep up loses
/// events, never slows the customer). Replies with the conversation's view.
#[derive(Clone, Message)]
#[rtype(result = "EngineResult<ConversationView>")]
pub struct WatchConversation {
    pub conversation_id: ConversationId,
    pub session_id: u64,
    pub recipient: Recipient<SupervisorPush>,
}

/// The supervisor session stops watching (`None`: every conversation it watches here).
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct UnwatchConversation {
    pub session_id: u64,
    pub conversation_id: Option<ConversationId>,
}
