//! The messages the agent actor handles (and the notices it pushes to agent
//! sockets). Plain values keyed by ids; see [`crate::actors::messages`].

use crate::actors::messages::*;
use crate::actors::sessions::SessionRef;
use crate::domain::view::{AgentInfo, ConversationView, OfferView, ParkedView};
use crate::domain::{
    AgentId, Channel, ConversationId, ConversationState, CustomerId, EventId, Millis, OfferId,
    QueueName, RequestedStatus, TimelineEvent,
};
use actix::prelude::*;
use serde::{Deserialize, Serialize};

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

/// The customer's actor (re)started (in a cluster: maybe on another node after a
/// takeover) and found `last` the newest event of `conversation_id`, which this agent
/// holds. An event its previous actor stored and told the agent, whose message was
/// lost on the way (the node cut off, or gone), reaches the agent now: the agent's
/// actor asks for the conversation and pushes what it has not pushed yet.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct CatchUp {
    pub conversation_id: ConversationId,
    pub customer_id: CustomerId,
    /// The oldest event that may not have reached the agent, when the sender knows it
    /// (its message to the agent was lost).
    pub first: Option<EventId>,
    pub last: EventId,
}

/// The conversation left this agent without the agent asking (customer abandoned...).
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct ConversationLeft {
    pub conversation_id: ConversationId,
    pub state: crate::domain::ConversationState,
}

/// A conversation this agent parked left its parked list: queued again (the customer
/// wrote, or the agent took it back), transferred, or resolved. Touches only the
/// parked list: arriving late, after the agent took the conversation again, it leaves
/// the held one alone.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct ParkedLeft {
    pub conversation_id: ConversationId,
    pub state: crate::domain::ConversationState,
}

/// After a restart: conversations this agent held, to resume when it reconnects, and
/// those it had parked, listed again.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct RestoreHeld {
    pub conversations: Vec<(ConversationId, CustomerId, Channel, QueueName)>,
    #[serde(default)]
    pub parked: Vec<ParkedView>,
}

/// A socket of this agent connected. The actor answers with an
/// [`AgentNotice::Welcome`] pushed to that socket (`Engine::push_agent`) once its
/// conversations are loaded.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct AttachAgent {
    pub session: SessionRef,
}

/// The agent's socket closed (or a push found it gone).
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct DetachAgent {
    pub session: SessionRef,
}

/// What an agent asks of its actor from one of its sockets, as the session decoded
/// it: engine terms, not frames.
#[derive(Debug, Clone, Message, Serialize, Deserialize)]
#[rtype(result = "()")]
pub struct AgentCommand {
    pub session: SessionRef,
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
        /// An approved template to send instead of `text`.
        template: Option<crate::domain::TemplateMessage>,
        /// Files uploaded for the conversation's customer.
        files: Vec<crate::domain::BlobId>,
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
    /// Set an assigned asynchronous conversation aside: the slot frees until the
    /// customer writes again.
    Park {
        conversation: ConversationId,
    },
    /// Take a parked conversation back: it is offered to this agent when a slot is
    /// free (its queue's sticky wait), else to the queue.
    Unpark {
        conversation: ConversationId,
    },
    /// A page of a customer's timeline.
    History {
        customer: CustomerId,
        before: Option<EventId>,
        limit: Option<usize>,
        request_id: Option<String>,
    },
    /// Call the customer of a held conversation in the browser.
    CallStart {
        conversation: ConversationId,
        media: crate::domain::CallMedia,
    },
    CallAnswer {
        conversation: ConversationId,
        call_id: String,
    },
    CallSignal {
        conversation: ConversationId,
        call_id: String,
        signal: crate::domain::CallSignal,
    },
    CallHangup {
        conversation: ConversationId,
        call_id: String,
    },
}

/// A browser call's news from the customer's actor: rung, answered, a signal from the
/// customer's browser, ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub enum CallNews {
    Incoming(crate::domain::CallRing),
    Answered(crate::domain::CallRef),
    Signal(crate::domain::CallRelay),
    Ended(crate::domain::CallEnd),
}

/// Push to an agent session.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
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
        /// What the agent parked, oldest first.
        parked: Vec<ParkedView>,
        server_time: Millis,
        /// The socket resumed a session still inside its grace period.
        resumed: bool,
        /// The media browser calls may use (empty: off).
        calls: Vec<crate::domain::CallMedia>,
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
    /// A browser call: this socket's call rings at the customer; the customer calls;
    /// answered; a signal from the customer's browser; ended.
    CallRinging(crate::domain::CallRing),
    CallIncoming(crate::domain::CallRing),
    CallAnswered(crate::domain::CallRef),
    CallSignal(crate::domain::CallRelay),
    CallEnded(crate::domain::CallEnd),
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
    /// The socket missed a push on its way from another node: it tells its client to
    /// reconnect (`reason`) and closes, and the new socket's welcome is whole.
    Reconnect {
        reason: String,
    },
}

/// A push to one of the agent's sockets on another node was lost (`tries`: the
/// reconnects told to it since, each lost too). Local: the push's own task sends it.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct PushLost {
    pub session: SessionRef,
    pub tries: u32,
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
    pub parked: Vec<ConversationId>,
    pub free: [u16; 4],
    pub missed_in_row: u32,
}

/// A supervisor sets an agent's status (the agent's sockets are told).
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct SupervisorSetStatus {
    pub status: RequestedStatus,
    pub reason: Option<String>,
    pub by: AgentId,
}

/// An agent's skills changed (a supervisor raised a novice's `difficulty`, an admin
/// edited the profile); applies at once: queues it no longer qualifies for forget it,
/// and every queue it serves ranks it by the new skills.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct SetAgentSkills {
    pub skills: crate::domain::SkillFloors,
}

/// A supervisor changed the queues an agent serves; applies at once.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct SetAgentQueues {
    pub queues: Vec<QueueName>,
}

/// The caller of a phone call this agent holds went on hold, or came off it (the
/// telephony platform's conference says so): supervisors see the call `on_hold`.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct PhoneHold {
    pub conversation_id: ConversationId,
    pub on_hold: bool,
}
