//! The messages the live hub handles (and the pushes it sends to supervisor
//! sockets). Plain values keyed by ids; see [`crate::actors::messages`].

use crate::actors::sessions::SessionRef;
use crate::domain::live_view::{AgentLiveView, QueueLiveView};
use crate::domain::{AgentId, ConversationId, Millis, QueueName, TimelineEvent};
use actix::prelude::*;
use serde::{Deserialize, Serialize};

/// A routing fact for the live hub. Sent with `Engine::live` (`try_send`: never
/// awaited, dropped and counted when the hub's bounded mailbox is full).
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct HubEvent(pub crate::live::LiveEvent);

/// A supervisor socket subscribes; the hub answers with a snapshot push
/// (`Engine::push_supervisor`).
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct Subscribe {
    pub session: SessionRef,
    pub supervisor: AgentId,
    /// `None`: every queue.
    pub queues: Option<std::collections::BTreeSet<QueueName>>,
}

/// The subscriber changes its queue set; answered with a fresh snapshot.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct SetFilter {
    pub session: SessionRef,
    pub queues: Option<std::collections::BTreeSet<QueueName>>,
}

/// The subscriber received every push up to `seq`.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct SubscriberAck {
    pub session: SessionRef,
    pub seq: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct Unsubscribe {
    pub session: SessionRef,
}

/// Push to a supervisor session.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
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
    /// A reply's response-time target passed in a subscribed queue.
    ResponseOverdue(crate::domain::live_view::ResponseAlert),
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
    /// The node holding the socket (absent on an engine without a cluster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<cluster::NodeId>,
    pub supervisor: AgentId,
    /// Pushes sent and not yet acknowledged (never above `window`).
    pub in_flight: u64,
    pub last_seq: u64,
    /// Deltas were dropped; a snapshot is owed at the next ack.
    pub behind: bool,
    pub deltas_dropped: u64,
    pub resyncs: u64,
}
