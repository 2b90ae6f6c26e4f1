//! Websocket wire protocol, version 1: every JSON message the agent and chat sockets
//! exchange. Internally tagged by `type`. Documented message by message in
//! docs/protocol.md; keep the two in step.
//!
//! The crate sits just above `domain`: the engine's session actors speak these types
//! and translate them to and from the actors' messages, so no actor sees a frame. The
//! load-test harness (`loadtest/`) speaks them too, from the client side, so both ends
//! share one definition; [`rest`] holds the REST bodies the harness sends. The read
//! models inside the frames (`AgentInfo`, `OfferView`, `CustomerView`,
//! `ConversationView`) are `domain::view`; they and every other domain type a frame
//! carries are re-exported here, so a client needs only this crate.
//!
//! Compatibility rules the types keep: client -> server messages deny unknown fields
//! (typos fail loudly) and leave out absent optional fields when serialised (absent
//! and `null` mean the same); server -> client messages never deny unknown fields, so
//! a client built from an older version still reads a frame that gained one. A new
//! server message `type` is additive: clients skip types they do not know.

/// The supervisor's live views (`domain::live_view`), as the frames carry them.
pub mod live {
    pub use domain::live_view::*;
}

pub use domain::view::{
    visible_to_customer, AgentInfo, ChatConversationView, ConversationView, CustomerView,
    OfferView, ParkedView,
};
/// The domain types the frames carry.
pub use domain::{
    AgentId, BlobId, CallEnd, CallEndReason, CallMedia, CallParty, CallRef, CallRelay, CallRing,
    CallSignal, Channel, ConversationId, ConversationState, CustomerId, ErrorCode, EventId,
    EventKind, IceServer, Millis, OfferId, QueueName, RequestedStatus, TemplateMessage,
    TimelineEvent,
};
use serde::{Deserialize, Serialize};

pub mod rest;

pub const PROTOCOL_VERSION: u32 = 1;

/// Longest text accepted in a message or note, in bytes (the frame limit applies too).
pub const MAX_TEXT_BYTES: usize = 16 * 1024;
pub use domain::ids::MAX_CLIENT_MSG_ID;

/// Agent -> server.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AgentClientMsg {
    SetStatus {
        status: RequestedStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    Accept {
        offer_id: OfferId,
    },
    Reject {
        offer_id: OfferId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    Message {
        conversation_id: ConversationId,
        client_msg_id: String,
        text: String,
        /// Reply on this channel; default: the channel the customer last wrote on.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<Channel>,
        /// Send this approved template instead of `text` (WhatsApp, also after its
        /// 24-hour window); the timeline records the rendered template.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        template: Option<TemplateMessage>,
        /// Files uploaded for the conversation's customer, sent with the text (which
        /// may then be empty); refused on a channel that carries none.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        files: Vec<BlobId>,
    },
    Note {
        conversation_id: ConversationId,
        client_msg_id: String,
        text: String,
    },
    Transfer {
        conversation_id: ConversationId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        queue: Option<QueueName>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent: Option<AgentId>,
    },
    WrapUp {
        conversation_id: ConversationId,
    },
    /// Resolve a held conversation, or one this agent parked.
    Resolve {
        conversation_id: ConversationId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        disposition: Option<String>,
    },
    /// Park an assigned conversation on an asynchronous channel (SMS, email, LINE,
    /// Messenger): the slot frees until the customer writes again.
    Park {
        conversation_id: ConversationId,
    },
    /// Take back a conversation this agent parked: it is offered to this agent when a
    /// slot is free.
    Unpark {
        conversation_id: ConversationId,
    },
    Typing {
        conversation_id: ConversationId,
    },
    /// Call the customer of a held conversation in the browser (WebRTC): answered by
    /// `call_ringing` or an error.
    CallStart {
        conversation_id: ConversationId,
        media: CallMedia,
    },
    /// Answer the customer's call (`call_incoming`).
    CallAnswer {
        conversation_id: ConversationId,
        call_id: String,
    },
    /// A WebRTC session description or ICE candidate for the customer's browser.
    CallSignal {
        conversation_id: ConversationId,
        call_id: String,
        signal: CallSignal,
    },
    /// Hang up; before answering, decline.
    CallHangup {
        conversation_id: ConversationId,
        call_id: String,
    },
    History {
        customer_id: CustomerId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<EventId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<usize>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
    },
    Ping {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        nonce: Option<String>,
    },
}

/// Server -> agent.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentServerMsg {
    Welcome {
        protocol: u32,
        agent: AgentInfo,
        status: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        conversations: Vec<ConversationView>,
        offers: Vec<OfferView>,
        /// The conversations this agent parked, oldest first.
        #[serde(default)]
        parked: Vec<ParkedView>,
        server_time: Millis,
        /// true when this socket resumed a session still inside its grace period.
        resumed: bool,
        /// The media browser calls may use (`[]`: browser calls are off).
        #[serde(default)]
        calls: Vec<CallMedia>,
    },
    Status {
        status: String,
        #[serde(skip_serializing_if = "Option::is_none")]
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
    /// A new timeline event in a conversation the agent holds (customer message,
    /// the agent's own message from another tab, note...).
    Event {
        conversation_id: ConversationId,
        event: TimelineEvent,
    },
    Ack {
        client_msg_id: String,
        conversation_id: ConversationId,
        event_id: EventId,
        duplicate: bool,
    },
    ConversationUpdated {
        conversation_id: ConversationId,
        state: ConversationState,
        /// false when the conversation left this agent (transferred, customer left,
        /// resolved): the desktop should close it.
        held: bool,
    },
    CustomerTyping {
        conversation_id: ConversationId,
    },
    /// The call this socket started rings at the other side.
    CallRinging(CallRing),
    /// The other side calls: every socket of this side is told; one answers.
    CallIncoming(CallRing),
    /// The called side answered: the caller's socket sends its WebRTC offer.
    CallAnswered(CallRef),
    /// A WebRTC signal from the other side.
    CallSignal(CallRelay),
    CallEnded(CallEnd),
    History {
        #[serde(skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
        customer_id: CustomerId,
        events: Vec<TimelineEvent>,
        more: bool,
    },
    Pong {
        #[serde(skip_serializing_if = "Option::is_none")]
        nonce: Option<String>,
    },
    /// The server is shutting down (or restarting): the socket closes right after this
    /// with code 1012 (service restart). Reconnect with the same token after a short,
    /// jittered wait and resend anything not acknowledged, with the same `client_msg_id`.
    Reconnect {
        reason: String,
    },
    Error(WireError),
}

/// A typed error: `code` is stable and machine-readable, `message` is for humans,
/// `ref` names the client id / offer id / conversation the error is about.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WireError {
    pub code: ErrorCode,
    pub message: String,
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// For `conflict` on a reused `client_msg_id`: the event that id was first
    /// applied as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<EventId>,
}

/// Customer (web chat) -> server.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ChatClientMsg {
    Identify {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        email: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        phone: Option<String>,
    },
    Message {
        client_msg_id: String,
        text: String,
        /// Queue for a new conversation, chosen in the visual IVR (one of the tree's
        /// chat options; else refused).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        queue: Option<QueueName>,
        /// The visual IVR's menus to that chat option, root first (only with `queue`):
        /// recorded on the conversation for the self-service funnel report.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ivr_path: Vec<String>,
        /// Files the visitor uploaded first (`POST /api/v1/customers/{id}/files` with
        /// the visitor token), sent with the text (which may then be empty).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        files: Vec<BlobId>,
    },
    Typing {},
    /// Call the agent holding the open conversation in the browser (WebRTC): answered
    /// by `call_ringing` or an error.
    CallStart {
        media: CallMedia,
    },
    /// Answer the agent's call (`call_incoming`).
    CallAnswer {
        call_id: String,
    },
    /// A WebRTC session description or ICE candidate for the agent's browser.
    CallSignal {
        call_id: String,
        signal: CallSignal,
    },
    /// Hang up; before answering, decline.
    CallHangup {
        call_id: String,
    },
    Leave {},
    /// Continue this conversation on video: the answer is a `video_invited` event with
    /// the join link.
    EscalateVideo {},
    Ping {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        nonce: Option<String>,
    },
    /// The answer to a `survey` (protocol 1, additive): `score` 1 to `scale_max`.
    /// Answered: `survey_thanks`; out of range: `error` `invalid`; already answered:
    /// `error` `conflict`.
    SurveyAnswer {
        conversation_id: ConversationId,
        score: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
    },
    /// The FAQ bot's "talk to a person" button: stored as a customer message `text`
    /// (default "agent") and handed off at once; acked like `message`, with
    /// `client_msg_id` prefixed `handoff:` (unless it already is).
    Handoff {
        client_msg_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
    },
    /// Call me back instead of waiting (docs/ivr.md): the waiting conversation keeps
    /// its place. Answered by `callback_requested` or an error.
    RequestCallback {
        phone: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        /// Visual IVR menus the visitor went through, root first.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ivr_path: Vec<String>,
        /// The queue to wait in when not already waiting (the visual IVR's option).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        queue: Option<QueueName>,
    },
}

/// Server -> customer (web chat).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChatServerMsg {
    Welcome {
        protocol: u32,
        /// Keep it (localStorage) and pass it as `?token=` to resume.
        token: String,
        customer_id: CustomerId,
        #[serde(skip_serializing_if = "Option::is_none")]
        conversation: Option<ChatConversationView>,
        /// This customer's visible messages (in and out, every channel), oldest first.
        history: Vec<TimelineEvent>,
        /// The media browser calls may use (`[]`: browser calls are off).
        #[serde(default)]
        calls: Vec<CallMedia>,
    },
    Ack {
        client_msg_id: String,
        event_id: EventId,
        conversation_id: ConversationId,
        duplicate: bool,
    },
    /// A visible timeline event: an agent's reply, or the customer's own message sent
    /// from another tab or channel.
    Event {
        event: TimelineEvent,
    },
    Conversation(ChatConversationView),
    AgentTyping {},
    /// The call this socket started rings at the other side.
    CallRinging(CallRing),
    /// The other side calls: every socket of this side is told; one answers.
    CallIncoming(CallRing),
    /// The called side answered: the caller's socket sends its WebRTC offer.
    CallAnswered(CallRef),
    /// A WebRTC signal from the other side.
    CallSignal(CallRelay),
    CallEnded(CallEnd),

    Pong {
        #[serde(skip_serializing_if = "Option::is_none")]
        nonce: Option<String>,
    },
    /// The server is shutting down (or restarting): the socket closes right after this
    /// with code 1012 (service restart). Reconnect with the same token after a short,
    /// jittered wait and resend anything not acknowledged, with the same `client_msg_id`.
    Reconnect {
        reason: String,
    },
    Error(WireError),
    /// The conversation was resolved: rate it (buttons 1 to `scale_max`, optional
    /// comment), answer with `survey_answer`.
    Survey {
        conversation_id: ConversationId,
        question: String,
        scale_max: u8,
    },
    /// The survey answer was stored.
    SurveyThanks {
        conversation_id: ConversationId,
        score: u8,
    },
    /// The visitor's callback request was taken: the conversation keeps its place and
    /// an agent will call `phone`.
    CallbackRequested {
        conversation_id: ConversationId,
        phone: String,
    },
}

/// Supervisor -> server (`/ws/supervisor`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SupervisorClientMsg {
    /// Watch only these queues (`null` or absent: every queue). Answered by a fresh
    /// `snapshot`.
    Subscribe {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        queues: Option<Vec<QueueName>>,
    },
    /// Every `snapshot` / `delta` up to `seq` was received. At most
    /// `limits.supervisor_window` may be outstanding; past that the server sends
    /// nothing more until the client acks, then a `snapshot` with `reason: "resync"`.
    Ack {
        seq: u64,
    },
    /// Follow an open conversation live: answered by `watching`, then every event
    /// recorded in it as `conversation_event` (outside the `seq` numbering).
    Watch {
        conversation_id: ConversationId,
    },
    Unwatch {
        conversation_id: ConversationId,
    },
    Ping {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        nonce: Option<String>,
    },
}

/// Server -> supervisor.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SupervisorServerMsg {
    /// Everything the subscription covers. `reason`: `connect`, `subscribe` or `resync`
    /// (the client fell behind and deltas were dropped).
    Snapshot {
        seq: u64,
        protocol: u32,
        reason: String,
        server_time: Millis,
        /// `null`: every queue.
        queues_filter: Option<Vec<QueueName>>,
        queues: Vec<live::QueueLiveView>,
        agents: Vec<live::AgentLiveView>,
    },
    /// What changed since the previous message: whole queue and agent records that
    /// replace the client's copies.
    Delta {
        seq: u64,
        server_time: Millis,
        queues: Vec<live::QueueLiveView>,
        agents: Vec<live::AgentLiveView>,
    },
    /// The conversation now watched, with its recent events.
    Watching {
        conversation: ConversationView,
    },
    /// A new event in a watched conversation.
    ConversationEvent {
        conversation_id: ConversationId,
        event: TimelineEvent,
    },
    /// A reply's response-time target passed in a subscribed queue (docs/api.md
    /// "Response times").
    ResponseOverdue(live::ResponseAlert),
    Pong {
        #[serde(skip_serializing_if = "Option::is_none")]
        nonce: Option<String>,
    },
    /// The server is shutting down (or restarting): the socket closes right after this
    /// with code 1012 (service restart). Reconnect after a short, jittered wait; the
    /// first push is a fresh snapshot.
    Reconnect {
        reason: String,
    },
    Error(WireError),
}

/// Most conversations one supervisor socket may watch at once.
pub const MAX_WATCHED: usize = 20;

/// Most queues one supervisor subscription may name.
pub const MAX_SUBSCRIBED_QUEUES: usize = 100;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_messages_leave_out_absent_options() {
        let status = AgentClientMsg::SetStatus {
            status: RequestedStatus::Available,
            reason: None,
        };
        assert_eq!(
            serde_json::to_string(&status).unwrap(),
            r#"{"type":"set_status","status":"available"}"#
        );
        let leave = serde_json::to_string(&ChatClientMsg::Leave {}).unwrap();
        assert_eq!(leave, r#"{"type":"leave"}"#);
        // Absent and null decode alike.
        let a: AgentClientMsg =
            serde_json::from_str(r#"{"type":"set_status","status":"away","reason":null}"#).unwrap();
        assert!(matches!(a, AgentClientMsg::SetStatus { reason: None, .. }));
        // Client messages still refuse unknown fields.
        assert!(serde_json::from_str::<ChatClientMsg>(r#"{"type":"leave","x":1}"#).is_err());
    }

    /// Server -> client messages must never deny unknown fields: a client built from an
    /// older version reads a frame that gained one (the load-test harness relies on it).
    #[test]
    fn server_messages_accept_unknown_fields() {
        let status: AgentServerMsg =
            serde_json::from_str(r#"{"type":"status","status":"away","new_field":[1]}"#).unwrap();
        assert!(matches!(status, AgentServerMsg::Status { .. }));
        let conv: ChatServerMsg = serde_json::from_str(
            r#"{"type":"conversation","id":"6f3c8a52-3c4e-4c5e-9a43-54f1f0f1a001",
                "state":"queued","position":2,"eta_ms":100}"#,
        )
        .unwrap();
        assert!(matches!(conv, ChatServerMsg::Conversation(c) if c.position == Some(2)));
        let pong: SupervisorServerMsg =
            serde_json::from_str(r#"{"type":"pong","extra":{}}"#).unwrap();
        assert!(matches!(pong, SupervisorServerMsg::Pong { nonce: None }));
        let err: ChatServerMsg = serde_json::from_str(
            r#"{"type":"error","code":"busy","message":"m","ref":"r","retry_ms":5}"#,
        )
        .unwrap();
        assert!(
            matches!(err, ChatServerMsg::Error(e) if e.code == ErrorCode::Busy && e.reference.as_deref() == Some("r"))
        );
    }
}
