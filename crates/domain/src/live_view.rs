//! The live figures supervisors see, as they travel on `/ws/supervisor` and
//! `GET /api/v1/live`: one view per queue and per agent (read models). The live core
//! computes them; the protocol crate re-exports them as `protocol::live`, and the wire
//! carries them as they are.

use crate::{AgentId, Millis, QueueName};
use serde::{Deserialize, Serialize};

/// An agent's state as supervisors see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentState {
    /// Taking work and has none.
    Available,
    /// Taking work and holds (or is offered) at least one conversation.
    Busy,
    /// Connected but not taking work (see `reason`).
    Away,
    /// No socket attached (inside its grace period) or logged out.
    Offline,
}

/// Agents per state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentCounts {
    pub available: u32,
    pub busy: u32,
    pub away: u32,
    pub offline: u32,
}

/// Offers per outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferCounts {
    pub offered: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub timed_out: u64,
    pub rescinded: u64,
}

/// The current interval's figures for one queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntervalView {
    /// Start of the interval (ms since the epoch); it ends at `start + interval_ms`.
    pub start: Millis,
    pub interval_seconds: u64,
    /// Conversations that entered the queue.
    pub offered: u64,
    pub answered: u64,
    pub answered_within_threshold: u64,
    pub abandoned: u64,
    pub sl_threshold_seconds: f64,
    /// answered within T / (answered + abandoned); null before any outcome.
    pub service_level: Option<f64>,
    /// Mean wait of the answered.
    pub asa_seconds: Option<f64>,
    pub wait_p50_seconds: Option<f64>,
    pub wait_p90_seconds: Option<f64>,
    pub wait_p99_seconds: Option<f64>,
    /// abandoned / (answered + abandoned).
    pub abandonment_rate: Option<f64>,
    /// Conversations resolved in the interval and their mean handle time (answer to
    /// resolve).
    pub handled: u64,
    pub aht_seconds: Option<f64>,
    /// Timed agent replies within their target, and targets that passed (docs/api.md
    /// "Response times").
    #[serde(default)]
    pub responses_within_target: u64,
    #[serde(default)]
    pub responses_overdue: u64,
    /// within / (within + overdue); null before any verdict.
    #[serde(default)]
    pub response_sla: Option<f64>,
}

/// One queue's live figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueLiveView {
    pub queue: QueueName,
    pub display_name: String,
    pub waiting: usize,
    /// When the longest-waiting conversation entered (clients tick the longest wait
    /// from it between pushes).
    pub oldest_enqueued_at: Option<Millis>,
    pub longest_wait_seconds: f64,
    pub agents: AgentCounts,
    /// Slots in use / total of the agents taking work (available + busy).
    pub occupancy: Option<f64>,
    pub slots_in_use: u32,
    pub slots_available: u32,
    pub offers_window_seconds: u64,
    pub offers: OfferCounts,
    pub interval: IntervalView,
    /// Estimated wait of a conversation arriving now; null when unknown.
    pub ewt_seconds: Option<f64>,
    /// The calls (browser or phone) agents are in on this queue's conversations, by
    /// phase.
    #[serde(default)]
    pub calls: CallCounts,
}

/// Live calls per phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallCounts {
    pub ringing: u32,
    pub talking: u32,
    pub on_hold: u32,
    pub wrap_up: u32,
}

/// One agent's live state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentLiveView {
    pub agent_id: AgentId,
    pub display_name: String,
    pub state: AgentState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub queues: Vec<QueueName>,
    pub work: u16,
    pub slots_in_use: u16,
    pub slots_total: u16,
    /// When `state` last changed.
    pub since: Millis,
    /// The call the agent is in, if any: a browser call, else a phone call it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<AgentCallView>,
}

/// An agent's call as supervisors see it: a browser call (WebRTC), or a phone call
/// (`phone`: a voice conversation the agent holds, its media at the telephony
/// platform).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentCallView {
    pub conversation_id: crate::ConversationId,
    pub media: crate::CallMedia,
    /// `ringing` (rung or ringing out, not answered yet), `talking`, or, for a phone
    /// call, `on_hold` (the caller hears hold music) and `wrap_up` (the call is over,
    /// the agent finishes its work).
    pub phase: CallPhase,
    /// When the call reached this phase.
    pub since: Millis,
    /// A phone call (PSTN), not a browser call.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub phone: bool,
    /// The queue of the call's conversation (its queue's tile counts the call).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueName>,
}

/// Where a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallPhase {
    Ringing,
    Talking,
    OnHold,
    WrapUp,
}

/// A reply's response-time target passed unanswered (docs/api.md "Response times"):
/// pushed to the supervisors subscribed to its queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseAlert {
    pub queue: QueueName,
    pub conversation_id: crate::ConversationId,
    pub customer_id: crate::CustomerId,
    /// The agent holding it; none while it waits in the queue or is parked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<AgentId>,
    pub state: crate::ConversationState,
    /// The conversation's first reply (else a later one).
    pub first: bool,
    pub target_ms: u64,
    /// The customer's first message not answered yet.
    pub since: Millis,
    /// When the engine saw the target pass.
    pub at: Millis,
}
