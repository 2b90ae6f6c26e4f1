//! Report events: the durable log reports are computed from (docs/metrics.md).
//!
//! One [`ReportEvent`] records one routing or conversation fact that a contact-center
//! report counts — a contact offered to a queue, answered, abandoned, a handling segment
//! finished, a resolution, a transfer, a channel switch, a reopen, a CSAT answer — with
//! the durations the writer knew at that moment (wait, talk, wrap-up), so a report never
//! has to pair events across a time range to get a duration.
//!
//! They are written by the customer actor (offer outcomes: by the queue actor) in the
//! same `Batch` as the timeline event or trace entry they summarise, and stored
//! partitioned by (queue, UTC day). [`PresenceEvent`]s, an agent's availability per
//! queue (written by the agent actor), are kept beside them the same way, in a log of
//! their own, so that what reports count never mixes with who was there. Plain data:
//! no I/O, no wire shape (the REST layer exposes computed rows, never these events).

use super::{
    AgentId, Channel, ConversationId, CustomerId, EventId, Millis, OfferOutcome, QueueName,
};
use serde::{Deserialize, Serialize};

/// Milliseconds in one UTC day: the partition width of the report log.
pub const DAY_MS: i64 = 86_400_000;

/// One fact for reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportEvent {
    /// Time-ordered (UUID v7); the clustering key inside a (queue, day) partition.
    pub id: EventId,
    pub at: Millis,
    /// The queue the fact is counted in (for a transfer: the queue it left).
    pub queue: QueueName,
    /// The conversation's channel at that moment.
    pub channel: Channel,
    pub conversation: ConversationId,
    /// Kept so first-contact resolution can see the same customer coming back with a
    /// new conversation. Never a metric label; reports only compare it.
    pub customer: CustomerId,
    /// The agent involved (answered, handled, resolved, transferred away), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentId>,
    /// How hard the contact was (its `difficulty` requirement), if it had one: the
    /// group of `group=difficulty` reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub difficulty: Option<crate::Proficiency>,
    #[serde(flatten)]
    pub kind: ReportKind,
}

impl ReportEvent {
    /// The UTC day (days since the Unix epoch) the event falls in: its partition.
    pub fn day(&self) -> i64 {
        day_of(self.at)
    }
}

/// The UTC day (days since the Unix epoch) of `at`.
pub fn day_of(at: Millis) -> i64 {
    at.0.div_euclid(DAY_MS)
}

/// One change of an agent's availability in a queue: the agent became routable there
/// (`routable`: available, connected and eligible for the queue) or stopped being so.
/// Written by the agent actor when it tells its queues, into the presence log (stored
/// beside the report log, partitioned and kept the same way); the dry-run simulator
/// replays the intervals between them as the agents' shifts (docs/metrics.md,
/// "Presence log").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceEvent {
    /// Time-ordered (UUID v7); the clustering key inside a (queue, day) partition.
    pub id: EventId,
    pub at: Millis,
    pub queue: QueueName,
    pub agent: AgentId,
    pub routable: bool,
}

impl PresenceEvent {
    /// The UTC day (days since the Unix epoch) the event falls in: its partition.
    pub fn day(&self) -> i64 {
        day_of(self.at)
    }
}

/// How a contact came to be offered to a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfferOrigin {
    /// A new conversation.
    New,
    /// A closed conversation the customer came back to inside the reopen window.
    Reopened,
    /// Transferred in from another queue or agent.
    Transfer,
    /// Overflowed in from another queue.
    Overflow,
    /// A parked conversation the customer wrote to again.
    Unparked,
}

/// What happened, with the values reports need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReportKind {
    /// A contact entered this queue, needing `requirements` of its agent (its own
    /// skills with their floors, `difficulty` included; the queue's are in its
    /// configuration) at `priority`, waiting first for `preferred_agent` (its last
    /// agent, for the queue's sticky wait) or only for `required_agent` (a transfer to
    /// a named agent). The dry-run simulator replays them.
    Offered {
        origin: OfferOrigin,
        #[serde(default, skip_serializing_if = "crate::SkillFloors::is_empty")]
        requirements: crate::SkillFloors,
        #[serde(default, skip_serializing_if = "is_zero_i32")]
        priority: i32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        preferred_agent: Option<AgentId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        required_agent: Option<AgentId>,
    },
    /// An agent accepted it after `wait_ms` in the queue (since it last entered one).
    Answered { wait_ms: u64 },
    /// The customer left while waiting, after `wait_ms`. `left_unserved`: an
    /// anonymous visitor whose socket went (counted apart from abandoned customers).
    Abandoned {
        wait_ms: u64,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        left_unserved: bool,
    },
    /// An agent's handling segment ended (resolved, or transferred away): `talk_ms` from
    /// answer to wrap-up start (or the end, with no wrap-up), `wrap_ms` in wrap-up.
    /// Handle time = talk + wrap.
    WrapupDone { talk_ms: u64, wrap_ms: u64 },
    /// The agent parked the conversation (`auto`: the engine did, after the
    /// customer's silence); its handling segment ended with a `WrapupDone`.
    Parked {
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        auto: bool,
    },
    /// The conversation was resolved. `first_contact`: it was never reopened before.
    Resolved { first_contact: bool },
    /// An agent answered the customer `wait_ms` after their first unanswered message
    /// (`first`: the conversation's first reply); `target_ms`: the queue's target for
    /// it, if it is timed.
    Responded {
        first: bool,
        wait_ms: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target_ms: Option<u64>,
    },
    /// A timed reply's target passed unanswered (or was answered late before the
    /// engine saw it pass): one per late reply, however late.
    ResponseOverdue { first: bool, target_ms: u64 },
    /// The conversation left this queue's agent or queue for `to_queue` (a transfer, or
    /// an overflow when `overflow`).
    Transferred { to_queue: QueueName, overflow: bool },
    /// The customer continued the conversation on another channel (`channel` is the
    /// new one).
    ChannelSwitched { from: Channel },
    /// A resolved conversation came back inside the reopen window.
    Reopened,
    /// A post-interaction survey answer (written by the CSAT feature; no writer yet).
    Csat { score: u8, scale_max: u8 },
    /// An offer to `agent` ended: accepted, rejected, timed out or rescinded (written
    /// by the queue actor with the offer's trace entry).
    OfferClosed { outcome: OfferOutcome },
    /// What self-service did for the contact so far (the funnel report): written at
    /// each bot turn, at the bot's hand-off, when an IVR caller reaches a queue and when
    /// an IVR leaf asks for a callback. A contact's latest one is its self-service step.
    SelfService {
        front: SelfServiceFront,
        /// The IVR menus the contact went through, root first.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        path: Vec<String>,
        /// The bot's turns so far, and how many of them an article answered.
        #[serde(default, skip_serializing_if = "is_zero")]
        turns: u32,
        #[serde(default, skip_serializing_if = "is_zero")]
        answers: u32,
        /// Why it went to a person: the bot's reason (`requested`, `button`,
        /// `unanswered`, `turn_limit`), or the IVR's `queue` / `callback` choice.
        /// `None`: self-service still has it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        handoff: Option<String>,
    },
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_zero_i32(n: &i32) -> bool {
    *n == 0
}

/// What served a contact before any agent did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SelfServiceFront {
    /// The FAQ bot (a bot session on a chat or messaging channel).
    Bot,
    /// The phone's IVR menus.
    VoiceIvr,
    /// The web chat's visual IVR.
    VisualIvr,
}

impl SelfServiceFront {
    pub fn as_str(self) -> &'static str {
        match self {
            SelfServiceFront::Bot => "bot",
            SelfServiceFront::VoiceIvr => "voice_ivr",
            SelfServiceFront::VisualIvr => "visual_ivr",
        }
    }

    /// The front of an IVR menu path walked on `channel`: the phone's menus on a call,
    /// else the web chat's visual IVR.
    pub fn ivr_on(channel: Channel) -> Self {
        if channel == Channel::Voice {
            SelfServiceFront::VoiceIvr
        } else {
            SelfServiceFront::VisualIvr
        }
    }
}

impl ReportKind {
    /// An `offered` with nothing required and no priority.
    pub fn offered(origin: OfferOrigin) -> Self {
        ReportKind::Offered {
            origin,
            requirements: Default::default(),
            priority: 0,
            preferred_agent: None,
            required_agent: None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            ReportKind::Offered { .. } => "offered",
            ReportKind::Answered { .. } => "answered",
            ReportKind::Abandoned { .. } => "abandoned",
            ReportKind::WrapupDone { .. } => "wrapup_done",
            ReportKind::Resolved { .. } => "resolved",
            ReportKind::Responded { .. } => "responded",
            ReportKind::ResponseOverdue { .. } => "response_overdue",
            ReportKind::Transferred { .. } => "transferred",
            ReportKind::Parked { .. } => "parked",
            ReportKind::ChannelSwitched { .. } => "channel_switched",
            ReportKind::Reopened => "reopened",
            ReportKind::Csat { .. } => "csat",
            ReportKind::OfferClosed { .. } => "offer_closed",
            ReportKind::SelfService { .. } => "self_service",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_utc_and_floor_before_the_epoch() {
        assert_eq!(day_of(Millis(0)), 0);
        assert_eq!(day_of(Millis(DAY_MS - 1)), 0);
        assert_eq!(day_of(Millis(DAY_MS)), 1);
        assert_eq!(day_of(Millis(-1)), -1);
    }

    #[test]
    fn json_is_flat_and_tagged_by_kind() -> Result<(), Box<dyn std::error::Error>> {
        let e = ReportEvent {
            id: EventId::new(),
            at: Millis(5),
            queue: QueueName::parse("sales")?,
            channel: Channel::Sms,
            conversation: ConversationId::new(),
            customer: CustomerId::new(),
            agent: None,
            difficulty: None,
            kind: ReportKind::Answered { wait_ms: 1500 },
        };
        let v = serde_json::to_value(&e)?;
        assert_eq!(v["kind"], "answered");
        assert_eq!(v["wait_ms"], 1500);
        assert!(v.get("agent").is_none());
        let back: ReportEvent = serde_json::from_value(v)?;
        assert_eq!(back, e);
        Ok(())
    }
}
