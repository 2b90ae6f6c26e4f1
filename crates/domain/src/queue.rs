//! Queue configuration: who is eligible, how agents are chosen, timeouts and limits.

use super::{Channel, Proficiency, QueueName, Skill};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How a queue picks among eligible agents with free capacity. `EnumIter` lets the
/// routing core's property tests cover every strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, strum::EnumIter)]
#[serde(rename_all = "snake_case")]
pub enum RoutingStrategy {
    /// The agent idle the longest (since their last assignment ended or they became
    /// available) goes first.
    #[default]
    LongestIdle,
    /// The agent with the lowest occupancy (held / capacity) goes first.
    LeastOccupied,
    /// Agents take turns in the order they were last offered work.
    RoundRobin,
}

/// Overflow: after `after_ms` waiting, a conversation moves to queue `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overflow {
    pub after_ms: u64,
    pub to: QueueName,
}

/// A queue's routing configuration. Persisted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueConfig {
    pub name: QueueName,
    #[serde(default)]
    pub display_name: String,
    /// Skills an agent must have, each at least at the given proficiency.
    #[serde(default)]
    pub required_skills: BTreeMap<Skill, Proficiency>,
    #[serde(default)]
    pub strategy: RoutingStrategy,
    /// How long an offer waits for accept/reject before it times out.
    #[serde(default = "defaults::offer_timeout_ms")]
    pub offer_timeout_ms: u64,
    /// How long a conversation waits for its preferred (last) agent before any
    /// eligible agent may take it.
    #[serde(default = "defaults::sticky_wait_ms")]
    pub sticky_wait_ms: u64,
    #[serde(default)]
    pub overflow: Option<Overflow>,
    /// Waiting conversations beyond this are refused.
    #[serde(default = "defaults::max_waiting")]
    pub max_waiting: usize,
    /// Consecutive timed-out offers after which an agent is set away (missed).
    #[serde(default = "defaults::max_missed_offers")]
    pub max_missed_offers: u32,
    /// Channels whose new conversations land here by default.
    #[serde(default)]
    pub default_for: Vec<Channel>,
    /// Added to each waiting conversation's priority when an agent who serves several
    /// queues picks its next conversation across them (-100..=100; default 0).
    #[serde(default)]
    pub priority: i32,
    /// When the queue is open; none: always (docs/api.md "Business hours").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<BusinessHours>,
    /// Among agents who meet a conversation's own required skills, prefer the more
    /// proficient (weighted by `skill_weights`) before the strategy decides
    /// (docs/api.md "Per-contact skills"). Default: on.
    #[serde(default = "defaults::rank_by_proficiency")]
    pub rank_by_proficiency: bool,
    /// Weight of each skill in the proficiency ranking (0 to 100; a skill not listed
    /// weighs 1).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub skill_weights: BTreeMap<Skill, u8>,
    /// Novices first: a conversation with a `difficulty` goes to the agent whose own
    /// `difficulty` fits it most closely (the least experienced who may take it; once
    /// widening lets in agents below it, the most experienced of those), before the
    /// proficiency ranking and the strategy (docs/api.md "Novices"). Default: on.
    #[serde(default = "defaults::rank_by_proficiency")]
    pub novices_first: bool,
    /// Timed widening (bullseye): each step relaxes a waiting conversation's own
    /// required skills once it has waited `after_ms`; the overflow queue, if any, is
    /// the ring after the last step. Checked by `routing::widening::Rings::compile`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub widening: Vec<WideningStep>,
    /// Service-level routing: rules that overflow or boost the queue while its live
    /// estimated wait or service level is bad, with hysteresis. Checked by
    /// `routing::service::check`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_rules: Vec<ServiceRule>,
    /// Response-time targets: how soon an agent must answer the customer, first and
    /// after each later message, and what happens when one passes (docs/api.md
    /// "Response times"). Checked by `routing::sla::check`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_times: Option<ResponseTargets>,
    /// Record the phone calls its agents take (both sides, from the answer): the
    /// recording is kept by the telephony platform and played by staff through the
    /// engine (docs/voice.md "Recording"). Default: off.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub record_calls: bool,
    /// An agent resolving one of its conversations must pick a wrap-up code of the
    /// managed list that applies to it (docs/admin.md "Wrap-up codes"). Default: off
    /// (any disposition text, or none, is accepted).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub wrapup_required: bool,
}

/// A queue's response-time targets. A clock starts at the customer's first message that
/// no agent has answered yet and stops at the next agent reply; the target is `first_ms`
/// for the first reply since the conversation opened (or reopened), `next_ms` for every
/// later one. Calls have no replies and are never timed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseTargets {
    /// The first reply's target, in milliseconds; none: the first reply is not timed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_ms: Option<u64>,
    /// Every later reply's target, in milliseconds; none: later replies are not timed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_ms: Option<u64>,
    /// Targets of one channel instead of the two above (both replaced: a target left
    /// out here is not timed on that channel).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub channels: BTreeMap<Channel, ChannelTargets>,
    /// Added to the priority of a conversation still waiting in the queue when its
    /// target passes, so it is offered before the others (0 to 100; default 10).
    #[serde(default = "defaults::overdue_boost")]
    pub overdue_boost: i32,
}

/// One channel's response-time targets (see [`ResponseTargets`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelTargets {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_ms: Option<u64>,
}

impl ResponseTargets {
    /// The target of a reply on `channel` (`first`: the first since the conversation
    /// opened), if it is timed.
    pub fn target(&self, channel: Channel, first: bool) -> Option<u64> {
        if channel.capabilities().replies == crate::channel::ReplyPath::NoText {
            return None;
        }
        let (f, n) = match self.channels.get(&channel) {
            Some(c) => (c.first_ms, c.next_ms),
            None => (self.first_ms, self.next_ms),
        };
        if first {
            f
        } else {
            n
        }
    }
}

/// A service-level rule (docs/api.md "Service-level routing"): it turns on when any
/// of its triggers holds, and off only once every trigger it has is back past its
/// clearing threshold (hysteresis, so it does not flap). While on, it does what its
/// actions say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceRule {
    /// Trigger: the live estimated wait for a new contact is above this (seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ewt_above_s: Option<u32>,
    /// Clears when the estimated wait is below this (default: three quarters of
    /// `ewt_above_s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clear_ewt_below_s: Option<u32>,
    /// Trigger: the live service level (share answered within the live threshold,
    /// this interval) is below this percentage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_level_below_pct: Option<u8>,
    /// Clears when the service level is above this percentage (default: 5 points above
    /// `service_level_below_pct`, at most 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clear_service_level_above_pct: Option<u8>,
    /// Action: waiting conversations move to this queue (keeping their wait) while on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overflow_to: Option<QueueName>,
    /// Action: added to the queue's `priority` while on (1..=100), so agents serving
    /// several queues take its conversations first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boost_priority: Option<i32>,
}

/// One ring of a queue's timed widening: what a conversation that has waited
/// `after_ms` no longer needs. Steps are cumulative and may only relax.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WideningStep {
    /// Time in the queue (since the conversation was enqueued) at which this ring opens.
    pub after_ms: u64,
    /// Lowers every required proficiency to at most this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor: Option<Proficiency>,
    /// Required skills no longer required.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drop_skills: Vec<Skill>,
    /// No required skill any more: any agent of the queue may take it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub drop_all_skills: bool,
}

/// A queue's opening hours, holidays and closures, and what happens to contacts that
/// arrive while it is closed. Checked and compiled by the routing core
/// (`routing::hours::Calendar::compile`), which names the exact field at fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusinessHours {
    /// IANA time zone the hours are in, e.g. `Asia/Tokyo`.
    pub time_zone: String,
    /// Opening intervals per weekday (`mon` .. `sun`), each `HH:MM-HH:MM` in local
    /// time (the end may be `24:00`). A weekday not listed is closed.
    #[serde(default)]
    pub weekly: BTreeMap<String, Vec<String>>,
    /// Built-in holiday calendars the queue is closed on: `jp` (Japan's national
    /// holidays, 2000 to 2099).
    #[serde(default)]
    pub holidays: Vec<String>,
    /// Further closed days (company holidays, year-end), whole local days.
    #[serde(default)]
    pub closures: Vec<Closure>,
    #[serde(default)]
    pub after_hours: AfterHours,
}

/// Closed from `from` to `to` (local dates `YYYY-MM-DD`, both included; `to`
/// defaults to `from`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Closure {
    pub from: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default)]
    pub name: String,
}

/// What a contact arriving while its queue is closed gets. With nothing set, its
/// conversation waits and is offered when the queue opens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AfterHours {
    /// Told once to a customer whose conversation opens (or reopens) while closed,
    /// on the channel they wrote on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// New conversations go to this queue while closed, if it is open then;
    /// otherwise they wait here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_to: Option<QueueName>,
    /// Keep offering waiting conversations to available agents while closed (a
    /// skeleton crew): only the message and the routing apply.
    #[serde(default)]
    pub offer: bool,
}

pub mod defaults {
    pub fn offer_timeout_ms() -> u64 {
        20_000
    }
    pub fn sticky_wait_ms() -> u64 {
        30_000
    }
    pub fn max_waiting() -> usize {
        10_000
    }
    pub fn max_missed_offers() -> u32 {
        2
    }
    pub fn rank_by_proficiency() -> bool {
        true
    }
    pub fn overdue_boost() -> i32 {
        10
    }
}

impl QueueConfig {
    /// A queue with default settings.
    pub fn new(name: QueueName) -> Self {
        Self {
            display_name: name.to_string(),
            name,
            required_skills: BTreeMap::new(),
            strategy: RoutingStrategy::default(),
            offer_timeout_ms: defaults::offer_timeout_ms(),
            sticky_wait_ms: defaults::sticky_wait_ms(),
            overflow: None,
            max_waiting: defaults::max_waiting(),
            max_missed_offers: defaults::max_missed_offers(),
            default_for: Vec::new(),
            priority: 0,
            hours: None,
            rank_by_proficiency: defaults::rank_by_proficiency(),
            skill_weights: BTreeMap::new(),
            novices_first: true,
            widening: Vec::new(),
            service_rules: Vec::new(),
            response_times: None,
            record_calls: false,
            wrapup_required: false,
        }
    }

    /// Whether an agent with `skills` meets every required skill.
    pub fn admits(&self, skills: &BTreeMap<Skill, Proficiency>) -> bool {
        crate::agent::meets(skills, &self.required_skills)
    }
}
