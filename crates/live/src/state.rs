//! The live state itself: per-queue and per-agent figures updated event by event.

pub use domain::live_view::{
    AgentCallView, AgentCounts, AgentLiveView, AgentState, CallCounts, CallPhase, IntervalView,
    OfferCounts, QueueLiveView,
};
use domain::{AgentId, ConversationId, Millis, QueueName};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What the live figures are computed with (from `Settings.limits` / `Settings.timing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveConfig {
    /// Service-level threshold T: an answer within T counts as "in service level".
    pub sl_threshold_ms: u64,
    /// Length of the reporting interval whose figures are shown live.
    pub interval_ms: u64,
    /// Window of the "offers by outcome" counts.
    pub offer_window_ms: u64,
}

impl Default for LiveConfig {
    fn default() -> Self {
        Self {
            sl_threshold_ms: 20_000,
            interval_ms: 15 * 60_000,
            offer_window_ms: 15 * 60_000,
        }
    }
}

/// An offer's outcome as counted live (`offered` when the agent reserved the slot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfferStat {
    Offered,
    Accepted,
    Rejected,
    TimedOut,
    Rescinded,
}

impl OfferStat {
    fn index(self) -> usize {
        self as usize
    }
}

/// An agent's presence as the agent actor last published it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    Available,
    Away,
    Offline,
}

/// What an agent actor reports after every change of status, sockets or work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentReport {
    pub agent_id: AgentId,
    pub display_name: String,
    /// Queues the agent serves (and is eligible for).
    pub queues: Vec<QueueName>,
    pub presence: Presence,
    /// Away reason (`lunch`, `missed`, ...).
    pub reason: Option<String>,
    /// At least one websocket is attached.
    pub connected: bool,
    /// Conversations held plus offers pending.
    pub work: u16,
    /// Non-voice slots in use (all of them while on a call).
    pub slots_used: u16,
    pub slots_total: u16,
    /// The browser call the agent is in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<AgentCallView>,
}

/// One routing fact, sent by an actor to the hub. Plain data keyed by ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveEvent {
    /// A queue exists (started or reconfigured), so it shows with no traffic.
    QueueConfigured {
        queue: QueueName,
        display_name: String,
    },
    /// A conversation entered a queue. `arrival` is false for a requeue that keeps its
    /// original wait (agent lost, restart): it is not offered a second time.
    Enqueued {
        queue: QueueName,
        conversation: ConversationId,
        enqueued_at: Millis,
        arrival: bool,
    },
    /// An agent accepted it after `waited_ms`.
    Answered {
        queue: QueueName,
        conversation: ConversationId,
        waited_ms: u64,
    },
    /// The customer left while waiting, after `waited_ms`.
    Abandoned {
        queue: QueueName,
        conversation: ConversationId,
        waited_ms: u64,
    },
    /// It left the queue otherwise (overflowed, transferred, moved to another class).
    Removed {
        queue: QueueName,
        conversation: ConversationId,
    },
    /// It was resolved (handle time runs from its answer to this).
    Closed {
        queue: QueueName,
        conversation: ConversationId,
    },
    Offer {
        queue: QueueName,
        outcome: OfferStat,
    },
    /// A timed reply's verdict (docs/api.md "Response times"): answered within its
    /// target, or the target passed (counted once, when it is first seen passing).
    Response {
        queue: QueueName,
        within_target: bool,
        /// For a target seen passing: what the hub pushes to the queue's supervisors
        /// (the figures ignore it).
        alert: Option<domain::live_view::ResponseAlert>,
    },
    Agent(AgentReport),
    /// The agent actor stopped (grace period over).
    AgentGone {
        agent_id: AgentId,
    },
}

/// What an event changed, so the hub pushes only those.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changed {
    pub queues: BTreeSet<QueueName>,
    pub agents: BTreeSet<AgentId>,
    /// Every queue changed (an interval rolled over).
    pub all_queues: bool,
}

impl Changed {
    pub fn is_empty(&self) -> bool {
        self.queues.is_empty() && self.agents.is_empty() && !self.all_queues
    }
    pub fn merge(&mut self, other: Changed) {
        self.queues.extend(other.queues);
        self.agents.extend(other.agents);
        self.all_queues |= other.all_queues;
    }
}

/// The longest wait the percentiles tell apart (one day); longer ones count as this.
const MAX_WAIT_MS: u64 = 86_400_000;

/// Counts of one interval.
#[derive(Debug, Clone)]
struct Interval {
    offered: u64,
    answered: u64,
    answered_in_sl: u64,
    abandoned: u64,
    wait_sum_ms: u64,
    handled: u64,
    handle_sum_ms: u64,
    responses_within_target: u64,
    responses_overdue: u64,
    /// Waits of the answered, ms (3 significant digits).
    waits: Histogram<u64>,
}

impl Interval {
    fn new() -> Self {
        Self {
            offered: 0,
            answered: 0,
            answered_in_sl: 0,
            abandoned: 0,
            wait_sum_ms: 0,
            handled: 0,
            handle_sum_ms: 0,
            responses_within_target: 0,
            responses_overdue: 0,
            // Waits up to a day (longer ones count as a day), 3 significant digits.
            waits: Histogram::new_with_bounds(1, MAX_WAIT_MS, 3).expect("static bounds are valid"),
        }
    }
}

/// Offers by outcome in whole-minute buckets: `(minute, counts)`, oldest first.
#[derive(Debug, Clone, Default)]
struct OfferWindow {
    buckets: std::collections::VecDeque<(i64, [u64; 5])>,
}

impl OfferWindow {
    fn add(&mut self, minute: i64, outcome: OfferStat) {
        match self.buckets.back_mut() {
            Some((m, c)) if *m == minute => c[outcome.index()] += 1,
            _ => {
                let mut c = [0; 5];
                c[outcome.index()] = 1;
                self.buckets.push_back((minute, c));
            }
        }
    }
    /// Drops buckets older than the window; returns whether anything was dropped.
    fn prune(&mut self, first_minute: i64) -> bool {
        let before = self.buckets.len();
        while self.buckets.front().is_some_and(|(m, _)| *m < first_minute) {
            self.buckets.pop_front();
        }
        before != self.buckets.len()
    }
    fn totals(&self) -> [u64; 5] {
        let mut t = [0; 5];
        for (_, c) in &self.buckets {
            for (a, b) in t.iter_mut().zip(c) {
                *a += b;
            }
        }
        t
    }
}

#[derive(Debug, Clone)]
struct QueueLive {
    display_name: String,
    waiting: HashMap<ConversationId, Millis>,
    by_wait: BTreeSet<(Millis, ConversationId)>,
    interval: Interval,
    offers: OfferWindow,
}

impl QueueLive {
    fn new(display_name: String) -> Self {
        Self {
            display_name,
            waiting: HashMap::new(),
            by_wait: BTreeSet::new(),
            interval: Interval::new(),
            offers: OfferWindow::default(),
        }
    }
    fn remove_waiting(&mut self, c: &ConversationId) {
        if let Some(at) = self.waiting.remove(c) {
            self.by_wait.remove(&(at, *c));
        }
    }
}

#[derive(Debug, Clone)]
struct AgentLive {
    report: AgentReport,
    state: AgentState,
    since: Millis,
}

/// An agent's state as supervisors see it, from its actor's last report.
fn agent_state_of(r: &AgentReport) -> AgentState {
    match (r.connected, r.presence) {
        (false, _) | (_, Presence::Offline) => AgentState::Offline,
        (true, Presence::Away) => AgentState::Away,
        (true, Presence::Available) if r.work > 0 => AgentState::Busy,
        (true, Presence::Available) => AgentState::Available,
    }
}

/// Live figures of every queue and agent.
#[derive(Debug, Clone)]
pub struct LiveState {
    config: LiveConfig,
    interval_start: Millis,
    queues: BTreeMap<QueueName, QueueLive>,
    agents: BTreeMap<AgentId, AgentLive>,
    /// Answered conversations not yet closed: queue and answer time.
    answered_at: HashMap<ConversationId, (QueueName, Millis)>,
}

fn secs(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

impl LiveState {
    pub fn new(config: LiveConfig, now: Millis) -> Self {
        Self {
            interval_start: Self::interval_of(&config, now),
            config,
            queues: BTreeMap::new(),
            agents: BTreeMap::new(),
            answered_at: HashMap::new(),
        }
    }

    pub fn config(&self) -> LiveConfig {
        self.config
    }

    fn interval_of(config: &LiveConfig, now: Millis) -> Millis {
        let len = config.interval_ms.max(1) as i64;
        Millis(now.0.div_euclid(len) * len)
    }

    fn minute(now: Millis) -> i64 {
        now.0.div_euclid(60_000)
    }

    fn queue_mut(&mut self, q: &QueueName) -> &mut QueueLive {
        self.queues
            .entry(q.clone())
            .or_insert_with(|| QueueLive::new(q.to_string()))
    }

    /// Moves time to `now`: a new interval resets the interval figures, old offer
    /// buckets fall out of the window.
    pub fn tick(&mut self, now: Millis) -> Changed {
        let mut changed = Changed::default();
        let start = Self::interval_of(&self.config, now);
        if start > self.interval_start {
            self.interval_start = start;
            for q in self.queues.values_mut() {
                q.interval = Interval::new();
            }
            changed.all_queues = true;
        }
        let window_minutes = (self.config.offer_window_ms / 60_000).max(1) as i64;
        let first = Self::minute(now) - window_minutes + 1;
        for (name, q) in self.queues.iter_mut() {
            if q.offers.prune(first) {
                changed.queues.insert(name.clone());
            }
        }
        changed
    }

    /// Applies one event at `now`; returns what changed.
    pub fn apply(&mut self, event: LiveEvent, now: Millis) -> Changed {
        let mut changed = self.tick(now);
        let sl = self.config.sl_threshold_ms;
        match event {
            LiveEvent::QueueConfigured {
                queue,
                display_name,
            } => {
                self.queue_mut(&queue).display_name = display_name;
                changed.queues.insert(queue);
            }
            LiveEvent::Enqueued {
                queue,
                conversation,
                enqueued_at,
                arrival,
            } => {
                self.answered_at.remove(&conversation);
                let q = self.queue_mut(&queue);
                if let std::collections::hash_map::Entry::Vacant(e) = q.waiting.entry(conversation)
                {
                    e.insert(enqueued_at);
                    q.by_wait.insert((enqueued_at, conversation));
                    if arrival {
                        q.interval.offered += 1;
                    }
                }
                changed.queues.insert(queue);
            }
            LiveEvent::Answered {
                queue,
                conversation,
                waited_ms,
            } => {
                let q = self.queue_mut(&queue);
                q.remove_waiting(&conversation);
                q.interval.answered += 1;
                if waited_ms <= sl {
                    q.interval.answered_in_sl += 1;
                }
                q.interval.wait_sum_ms += waited_ms;
                q.interval.waits.saturating_record(waited_ms);
                self.answered_at.insert(conversation, (queue.clone(), now));
                changed.queues.insert(queue);
            }
            LiveEvent::Abandoned {
                queue,
                conversation,
                waited_ms: _,
            } => {
                let q = self.queue_mut(&queue);
                q.remove_waiting(&conversation);
                q.interval.abandoned += 1;
                changed.queues.insert(queue);
            }
            LiveEvent::Removed {
                queue,
                conversation,
            } => {
                self.queue_mut(&queue).remove_waiting(&conversation);
                changed.queues.insert(queue);
            }
            LiveEvent::Closed {
                queue: _,
                conversation,
            } => {
                if let Some((queue, at)) = self.answered_at.remove(&conversation) {
                    let q = self.queue_mut(&queue);
                    q.interval.handled += 1;
                    q.interval.handle_sum_ms += now.since(at);
                    changed.queues.insert(queue);
                }
            }
            LiveEvent::Response {
                queue,
                within_target,
                alert: _,
            } => {
                let i = &mut self.queue_mut(&queue).interval;
                if within_target {
                    i.responses_within_target += 1;
                } else {
                    i.responses_overdue += 1;
                }
                changed.queues.insert(queue);
            }
            LiveEvent::Offer { queue, outcome } => {
                self.queue_mut(&queue)
                    .offers
                    .add(Self::minute(now), outcome);
                changed.queues.insert(queue);
            }
            LiveEvent::Agent(report) => {
                for q in &report.queues {
                    self.queue_mut(q);
                }
                let state = agent_state_of(&report);
                let id = report.agent_id.clone();
                let old_queues = match self.agents.get_mut(&id) {
                    Some(a) => {
                        let old = std::mem::replace(&mut a.report, report);
                        if a.state != state {
                            a.state = state;
                            a.since = now;
                        }
                        // The queue of a call that ended (or moved) counts it no more.
                        let mut old_queues = old.queues;
                        old_queues.extend(old.call.and_then(|c| c.queue));
                        old_queues
                    }
                    None => {
                        self.agents.insert(
                            id.clone(),
                            AgentLive {
                                report,
                                state,
                                since: now,
                            },
                        );
                        Vec::new()
                    }
                };
                changed.queues.extend(old_queues);
                if let Some(a) = self.agents.get(&id) {
                    changed.queues.extend(a.report.queues.iter().cloned());
                    changed
                        .queues
                        .extend(a.report.call.as_ref().and_then(|c| c.queue.clone()));
                }
                changed.agents.insert(id);
            }
            LiveEvent::AgentGone { agent_id } => {
                if let Some(a) = self.agents.get_mut(&agent_id) {
                    a.report.connected = false;
                    a.report.presence = Presence::Offline;
                    a.report.work = 0;
                    a.report.slots_used = 0;
                    if a.state != AgentState::Offline {
                        a.state = AgentState::Offline;
                        a.since = now;
                    }
                    changed.queues.extend(a.report.queues.iter().cloned());
                    changed.agents.insert(agent_id);
                }
            }
        }
        changed
    }

    pub fn queue_names(&self) -> impl Iterator<Item = &QueueName> {
        self.queues.keys()
    }

    pub fn has_queue(&self, q: &QueueName) -> bool {
        self.queues.contains_key(q)
    }

    /// One queue's figures at `now`.
    pub fn queue_view(&self, name: &QueueName, now: Millis) -> Option<QueueLiveView> {
        let q = self.queues.get(name)?;
        let mut agents = AgentCounts::default();
        let mut calls = CallCounts::default();
        for call in self
            .agents
            .values()
            .filter_map(|a| a.report.call.as_ref())
            .filter(|c| c.queue.as_ref() == Some(name))
        {
            *match call.phase {
                CallPhase::Ringing => &mut calls.ringing,
                CallPhase::Talking => &mut calls.talking,
                CallPhase::OnHold => &mut calls.on_hold,
                CallPhase::WrapUp => &mut calls.wrap_up,
            } += 1;
        }
        let (mut used, mut total, mut free) = (0u32, 0u32, 0u32);
        for a in self
            .agents
            .values()
            .filter(|a| a.report.queues.contains(name))
        {
            match a.state {
                AgentState::Available => agents.available += 1,
                AgentState::Busy => agents.busy += 1,
                AgentState::Away => agents.away += 1,
                AgentState::Offline => agents.offline += 1,
            }
            if matches!(a.state, AgentState::Available | AgentState::Busy) {
                let t = a.report.slots_total as u32;
                let u = (a.report.slots_used as u32).min(t);
                used += u;
                total += t;
                free += t - u;
            }
        }
        let oldest = q.by_wait.iter().next().map(|(at, _)| *at);
        let i = &q.interval;
        let outcomes = i.answered + i.abandoned;
        let pct = |p: f64| (i.answered > 0).then(|| secs(i.waits.value_at_quantile(p)));
        let aht_ms = (i.handled > 0).then(|| i.handle_sum_ms as f64 / i.handled as f64);
        let waiting = q.waiting.len() as u32;
        let ewt_seconds = if free > waiting {
            Some(0.0)
        } else {
            match aht_ms {
                Some(aht) if total > 0 => {
                    Some((waiting - free + 1) as f64 * aht / total as f64 / 1000.0)
                }
                _ => None,
            }
        };
        let t = q.offers.totals();
        Some(QueueLiveView {
            queue: name.clone(),
            display_name: q.display_name.clone(),
            waiting: q.waiting.len(),
            oldest_enqueued_at: oldest,
            longest_wait_seconds: oldest.map(|o| secs(now.since(o))).unwrap_or(0.0),
            agents,
            occupancy: ratio(used as u64, total as u64),
            slots_in_use: used,
            slots_available: free,
            offers_window_seconds: self.config.offer_window_ms / 1000,
            offers: OfferCounts {
                offered: t[OfferStat::Offered.index()],
                accepted: t[OfferStat::Accepted.index()],
                rejected: t[OfferStat::Rejected.index()],
                timed_out: t[OfferStat::TimedOut.index()],
                rescinded: t[OfferStat::Rescinded.index()],
            },
            interval: IntervalView {
                start: self.interval_start,
                interval_seconds: self.config.interval_ms / 1000,
                offered: i.offered,
                answered: i.answered,
                answered_within_threshold: i.answered_in_sl,
                abandoned: i.abandoned,
                sl_threshold_seconds: secs(self.config.sl_threshold_ms),
                service_level: ratio(i.answered_in_sl, outcomes),
                asa_seconds: ratio(i.wait_sum_ms, i.answered).map(|v| v / 1000.0),
                wait_p50_seconds: pct(0.5),
                wait_p90_seconds: pct(0.9),
                wait_p99_seconds: pct(0.99),
                abandonment_rate: ratio(i.abandoned, outcomes),
                handled: i.handled,
                aht_seconds: aht_ms.map(|v| v / 1000.0),
                responses_within_target: i.responses_within_target,
                responses_overdue: i.responses_overdue,
                response_sla: ratio(
                    i.responses_within_target,
                    i.responses_within_target + i.responses_overdue,
                ),
            },
            ewt_seconds,
            calls,
        })
    }

    /// One agent's state.
    pub fn agent_view(&self, id: &AgentId) -> Option<AgentLiveView> {
        let a = self.agents.get(id)?;
        Some(AgentLiveView {
            agent_id: id.clone(),
            display_name: a.report.display_name.clone(),
            state: a.state,
            reason: match a.state {
                AgentState::Away => a.report.reason.clone(),
                _ => None,
            },
            queues: a.report.queues.clone(),
            work: a.report.work,
            slots_in_use: a.report.slots_used.min(a.report.slots_total),
            slots_total: a.report.slots_total,
            since: a.since,
            call: a.report.call.clone(),
        })
    }

    /// Agents serving any of `queues` (every agent when `queues` is `None`).
    pub fn agents_in(&self, queues: Option<&BTreeSet<QueueName>>) -> Vec<AgentLiveView> {
        self.agents
            .keys()
            .filter(|id| self.agent_serves(id, queues))
            .filter_map(|id| self.agent_view(id))
            .collect()
    }

    /// Whether the agent serves one of `queues` (any, when `None`).
    pub fn agent_serves(&self, id: &AgentId, queues: Option<&BTreeSet<QueueName>>) -> bool {
        match (self.agents.get(id), queues) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(a), Some(qs)) => a.report.queues.iter().any(|q| qs.contains(q)),
        }
    }
}
