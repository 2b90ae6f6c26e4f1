//! The dry-run simulator's core: contacts and agents replayed through the real router
//! ([`QueueRouter`]) under a proposed queue configuration, on a simulated clock —
//! hours of traffic in milliseconds — and the outcome a contact center plans by:
//! service level, ASA, wait percentiles, abandonment and occupancy; with
//! [`ErlangC`], the M/M/N model it is checked against.
//!
//! Pure and deterministic: the same input gives the same outcome. What it models:
//! arrivals at their recorded (or drawn) times, each needing a slot of its channel
//! class, with its priority and skill requirements; agents with skills and per-class
//! capacity (voice exclusive, as the engine counts it) during their shifts; the
//! queue's strategy, proficiency ranking and widening rings, and its overflow (which
//! takes a contact out of the queue, as the queue actor's timer does); its business
//! hours (nothing offered while closed, unless it offers after hours); a contact
//! holding its slot for its handle time; a caller who waits longer than their patience
//! abandons; agents refusing offers at their recorded share ([`OfferTally`]); with
//! [`simulate_judged`], its service rules' overflow, judged as the live hub judges
//! them; a contact's sticky wait for its last agent, or its required agent. What it
//! does not (yet): an agent set away after missed offers, transfers and parking.

use crate::widening::{Ranking, Rings, WideningError};
use crate::{AgentSnapshot, QueueRouter, WaitingEntry};
use domain::{AgentId, ChannelClass, ConversationId, Millis, QueueConfig, SkillFloors};
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

/// How often widening rings are checked while anything waits (the queue actor's tick).
pub const WIDEN_TICK_MS: i64 = 1_000;

/// One contact to route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimContact {
    pub arrive_at: Millis,
    pub class: ChannelClass,
    pub priority: i32,
    pub requirements: SkillFloors,
    /// Waits first for this agent, for the queue's `sticky_wait_ms`.
    pub preferred_agent: Option<AgentId>,
    /// Only this agent may take it.
    pub required_agent: Option<AgentId>,
    /// How long it holds its agent's slot once accepted (talk + wrap-up).
    pub handle_ms: u64,
    /// How long the customer waits before leaving; `None`: they never leave.
    pub patience_ms: Option<u64>,
}

/// One agent of the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimAgent {
    pub id: AgentId,
    pub skills: SkillFloors,
    /// Slots per [`ChannelClass::index`].
    pub capacity: [u16; 4],
    /// When the agent is available, `[start, end)` each; work in hand at an end is
    /// finished, nothing new is offered.
    pub shifts: Vec<(Millis, Millis)>,
    /// How the agent's offers ended in the record: the replay refuses the same share
    /// of its offers (all zero: it accepts every one).
    pub offers: OfferTally,
}

/// How many of an agent's offers ended each way. The replay refuses an agent's
/// offers at the recorded share, spread evenly over its offers with no randomness (the
/// n-th offer is refused when the refusals so far fall behind that share), and of the
/// refused ones times out the recorded share; a timed-out offer holds the agent's slot
/// for the queue's `offer_timeout_ms` first. Either way the contact goes back to
/// waiting and that agent is not offered it again until its next shift.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OfferTally {
    pub accepted: u32,
    pub rejected: u32,
    pub timed_out: u32,
}

/// What the replay makes of one offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Accept,
    Reject,
    TimeOut,
}

impl OfferTally {
    /// The answer to the agent's offer after `made` offers, `refused` of them refused.
    fn answer(&self, made: u64, refused: u64) -> Answer {
        let no = u64::from(self.rejected) + u64::from(self.timed_out);
        let all = no + u64::from(self.accepted);
        if all == 0 || (made + 1) * no / all == made * no / all {
            return Answer::Accept;
        }
        let late = u64::from(self.timed_out);
        if (refused + 1) * late / no > refused * late / no {
            Answer::TimeOut
        } else {
            Answer::Reject
        }
    }
}

/// What happened to the contacts.
#[derive(Debug, Clone, PartialEq)]
pub struct SimOutcome {
    pub contacts: u64,
    /// Accepted by an agent.
    pub answered: u64,
    /// Left while waiting (their patience ran out).
    pub abandoned: u64,
    /// Refused at arrival: the queue held `max_waiting` already.
    pub refused: u64,
    /// Taken out by the queue's overflow (still waiting `overflow.after_ms` after arrival).
    pub overflowed: u64,
    /// Still waiting at the end of the simulation.
    pub unserved: u64,
    /// Answered within the threshold / (answered + abandoned), as the reports count it.
    pub service_level: Option<f64>,
    pub service_level_threshold_ms: u64,
    /// Mean wait of the answered contacts.
    pub asa_ms: Option<f64>,
    /// Nearest-rank percentiles of the waits of answered and abandoned contacts.
    pub wait_p50_ms: Option<u64>,
    pub wait_p90_ms: Option<u64>,
    pub wait_p99_ms: Option<u64>,
    /// abandoned / (answered + abandoned).
    pub abandon_rate: Option<f64>,
    /// Time agents had work in hand / time they were available (during their shifts);
    /// with one slot each, Erlang C's A / N.
    pub occupancy: Option<f64>,
    /// Offers the agents rejected, and let time out (see [`OfferTally`]).
    pub offers_rejected: u64,
    pub offers_timed_out: u64,
    /// Routing decisions taken, for the cost of a run.
    pub decisions: u64,
}

/// Why a simulation cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Widening(#[from] WideningError),
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    /// A shift starts or ends (agent index), before anything else at the same time.
    Shift(usize, bool),
    /// A contact leaves an agent (agent index, contact index).
    Done(usize, usize),
    /// An offer the agent let time out ends (agent index, contact index).
    OfferTimeout(usize, usize),
    Arrive(usize),
    /// A waiting contact's patience ran out.
    GiveUp(usize),
    /// A contact's overflow wait passed (the queue actor's overflow timer).
    Overflow(usize),
    /// The queue actor's tick: a ring that opened since lets `decide` place more.
    Tick,
    /// The queue's business hours open it.
    Opens,
    /// A contact's sticky wait for its last agent ends: anyone eligible may take it.
    Unstick,
}

struct Agent {
    available: bool,
    held: [u16; 4],
    /// Slots held by offers it will let time out.
    pending: [u16; 4],
    /// Offers made to it, and how many of them it refused.
    offered: u64,
    refused: u64,
    idle_since: Millis,
    /// Slot-milliseconds in use and available, for occupancy.
    busy_ms: u128,
    open_ms: u128,
    /// Since when `busy_ms` / `open_ms` were last counted.
    counted_at: Millis,
}

/// How the live hub judges a queue's service rules (its settings): the interval its
/// service level counts, and that service level's threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveJudge {
    pub interval_ms: u64,
    pub sl_threshold_ms: u64,
}

/// The live figures a service rule is judged on, kept as the hub keeps them: the
/// current interval's answers, abandons and handle times.
#[derive(Debug, Default)]
struct Interval {
    start: i64,
    answered: u64,
    within: u64,
    abandoned: u64,
    handled: u64,
    handle_sum_ms: u128,
}

impl Interval {
    /// Moves to the interval of `now` (a new one starts empty).
    fn at(&mut self, now: Millis, judge: &LiveJudge) {
        let len = judge.interval_ms.max(1) as i64;
        let start = now.0.div_euclid(len) * len;
        if start > self.start {
            *self = Interval {
                start,
                ..Default::default()
            };
        }
    }
}

/// Replays `contacts` through a router configured as `queue`, with `agents`, until
/// every contact is settled or `end` passes. `threshold_ms` is the service level's.
/// The queue's service rules are not judged (see [`simulate_judged`]).
pub fn simulate(
    queue: &QueueConfig,
    agents: &[SimAgent],
    contacts: &[SimContact],
    threshold_ms: u64,
    end: Millis,
) -> Result<SimOutcome, SimError> {
    simulate_judged(queue, agents, contacts, threshold_ms, end, None)
}

/// [`simulate`], with the queue's service rules judged as the live hub judges them
/// (`judge`): at every simulated event, on the queue's estimated wait (the hub's
/// formula over the agents on shift) and its service level this interval; a rule with
/// `overflow_to` on takes every waiting contact out (overflowed). A priority boost
/// changes nothing in a replay of one queue.
pub fn simulate_judged(
    queue: &QueueConfig,
    agents: &[SimAgent],
    contacts: &[SimContact],
    threshold_ms: u64,
    end: Millis,
    judge: Option<LiveJudge>,
) -> Result<SimOutcome, SimError> {
    for (i, a) in agents.iter().enumerate() {
        if a.shifts.iter().any(|(s, e)| s >= e) {
            return Err(SimError::Invalid {
                field: "agents[].shifts",
                reason: format!("agent {i}: a shift must end after it starts"),
            });
        }
    }
    let rings = Rings::of_queue(queue)?;
    // Closed hours hold offers back, as the queue actor does, unless the queue offers
    // after hours.
    let calendar = match &queue.hours {
        Some(h) if !h.after_hours.offer => Some(
            crate::hours::Calendar::compile(h, &queue.name).map_err(|e| SimError::Invalid {
                field: "hours",
                reason: e.to_string(),
            })?,
        ),
        _ => None,
    };
    let mut opens_due: Option<Millis> = None;
    let judge = judge.filter(|_| !queue.service_rules.is_empty());
    let mut service = crate::service::ServiceState::default();
    let mut interval = Interval::default();
    let overflow_ms = queue.overflow.as_ref().map(|o| o.after_ms);
    let mut router = QueueRouter::new(queue.strategy, queue.max_waiting);
    router.set_rules(rings, Ranking::of_queue(queue));

    let mut heap: BinaryHeap<Reverse<(Millis, Ev)>> = BinaryHeap::new();
    for (i, c) in contacts.iter().enumerate() {
        heap.push(Reverse((c.arrive_at, Ev::Arrive(i))));
    }
    for (i, a) in agents.iter().enumerate() {
        for (s, e) in &a.shifts {
            heap.push(Reverse((*s, Ev::Shift(i, true))));
            heap.push(Reverse((*e, Ev::Shift(i, false))));
        }
    }
    let ids: Vec<ConversationId> = contacts.iter().map(|_| ConversationId::new()).collect();
    let index: std::collections::HashMap<ConversationId, usize> =
        ids.iter().enumerate().map(|(i, c)| (*c, i)).collect();
    let by_agent: std::collections::HashMap<AgentId, usize> = agents
        .iter()
        .enumerate()
        .map(|(i, a)| (a.id.clone(), i))
        .collect();
    let mut state: Vec<Agent> = agents
        .iter()
        .map(|_| Agent {
            available: false,
            held: [0; 4],
            pending: [0; 4],
            offered: 0,
            refused: 0,
            idle_since: Millis(i64::MIN),
            busy_ms: 0,
            open_ms: 0,
            counted_at: Millis(i64::MIN),
        })
        .collect();
    for (i, a) in agents.iter().enumerate() {
        router.upsert_agent(snapshot(a, &state[i]));
    }

    let mut out = SimOutcome {
        contacts: contacts.len() as u64,
        answered: 0,
        abandoned: 0,
        refused: 0,
        overflowed: 0,
        unserved: 0,
        service_level: None,
        service_level_threshold_ms: threshold_ms,
        asa_ms: None,
        wait_p50_ms: None,
        wait_p90_ms: None,
        wait_p99_ms: None,
        abandon_rate: None,
        occupancy: None,
        offers_rejected: 0,
        offers_timed_out: 0,
        decisions: 0,
    };
    let mut waits: Vec<u64> = Vec::new();
    let mut answered_waits: u128 = 0;
    let mut within: u64 = 0;
    let mut waiting: BTreeSet<usize> = BTreeSet::new();
    let mut seq: u64 = 0;
    let mut tick_due: Option<Millis> = None;

    while let Some(Reverse((now, ev))) = heap.pop() {
        if now > end {
            break;
        }
        match ev {
            Ev::Shift(i, starts) => {
                count(&mut state[i], now);
                state[i].available = starts;
                if starts {
                    state[i].idle_since = now;
                    router.forget_tried(&agents[i].id);
                }
                router.upsert_agent(snapshot(&agents[i], &state[i]));
            }
            Ev::OfferTimeout(a, c) => {
                let class = contacts[c].class.index();
                state[a].pending[class] = state[a].pending[class].saturating_sub(1);
                router.offer_closed(&ids[c], &agents[a].id, false);
                router.upsert_agent(snapshot(&agents[a], &state[a]));
            }
            Ev::Done(a, c) => {
                interval.handled += 1;
                interval.handle_sum_ms += u128::from(contacts[c].handle_ms);
                count(&mut state[a], now);
                let class = contacts[c].class.index();
                state[a].held[class] = state[a].held[class].saturating_sub(1);
                if state[a].held.iter().all(|h| *h == 0) {
                    state[a].idle_since = now;
                }
                router.upsert_agent(snapshot(&agents[a], &state[a]));
            }
            Ev::Arrive(c) => {
                let contact = &contacts[c];
                seq += 1;
                let entry = WaitingEntry {
                    conversation: ids[c],
                    class: contact.class,
                    priority: contact.priority,
                    enqueued_at: now,
                    seq,
                    preferred_agent: contact.preferred_agent.clone(),
                    sticky_until: if contact.preferred_agent.is_some() {
                        now.plus_ms(queue.sticky_wait_ms)
                    } else {
                        now
                    },
                    required_agent: contact.required_agent.clone(),
                    tried: BTreeSet::new(),
                    requirements: contact.requirements.clone(),
                };
                if router.enqueue(entry).is_err() {
                    out.refused += 1;
                } else {
                    waiting.insert(c);
                    if let Some(p) = contact.patience_ms {
                        heap.push(Reverse((now.plus_ms(p), Ev::GiveUp(c))));
                    }
                    if let Some(o) = overflow_ms {
                        heap.push(Reverse((now.plus_ms(o), Ev::Overflow(c))));
                    }
                    if contact.preferred_agent.is_some() {
                        let at = now.plus_ms(queue.sticky_wait_ms);
                        heap.push(Reverse((at, Ev::Unstick)));
                    }
                }
            }
            Ev::GiveUp(c) => {
                if waiting.remove(&c) && router.remove(&ids[c]).is_some() {
                    out.abandoned += 1;
                    interval.abandoned += 1;
                    waits.push(contacts[c].patience_ms.unwrap_or(0));
                }
            }
            Ev::Overflow(c) => {
                if waiting.remove(&c) && router.remove(&ids[c]).is_some() {
                    out.overflowed += 1;
                }
            }
            Ev::Tick => {
                tick_due = None;
                // What widened is only reported (the trace); `decide` below routes
                // under the rings open at `now` either way.
                router.widen_due(now);
            }
            Ev::Opens => opens_due = None,
            Ev::Unstick => {}
        }
        if let Some(j) = &judge {
            interval.at(now, j);
            let figures = live_figures(agents, &state, waiting.len(), &interval);
            service.observe(&queue.service_rules, figures);
            let overflows = service
                .on()
                .iter()
                .any(|i| queue.service_rules[*i].overflow_to.is_some());
            if overflows {
                for c in std::mem::take(&mut waiting) {
                    if router.remove(&ids[c]).is_some() {
                        out.overflowed += 1;
                    }
                }
            }
        }
        if let Some(c) = calendar.as_ref().filter(|c| !c.is_open(now)) {
            // Closed: nothing is offered until the hours open the queue.
            if opens_due.is_none() && !waiting.is_empty() {
                if let Some(at) = c.next_change(now) {
                    opens_due = Some(at);
                    heap.push(Reverse((at, Ev::Opens)));
                }
            }
            continue;
        }
        // Route everything that can be placed now; each offer is accepted at once.
        while let Some(d) = router.decide(now) {
            out.decisions += 1;
            let (Some(&c), Some(&a)) = (index.get(&d.conversation), by_agent.get(&d.agent)) else {
                router.offer_closed(&d.conversation, &d.agent, true);
                continue;
            };
            let answer = agents[a].offers.answer(state[a].offered, state[a].refused);
            state[a].offered += 1;
            if answer != Answer::Accept {
                state[a].refused += 1;
                if answer == Answer::TimeOut {
                    out.offers_timed_out += 1;
                    state[a].pending[d.class.index()] += 1;
                    heap.push(Reverse((
                        now.plus_ms(queue.offer_timeout_ms),
                        Ev::OfferTimeout(a, c),
                    )));
                } else {
                    out.offers_rejected += 1;
                    router.offer_closed(&d.conversation, &d.agent, false);
                }
                router.upsert_agent(snapshot(&agents[a], &state[a]));
                continue;
            }
            router.offer_closed(&d.conversation, &d.agent, true);
            waiting.remove(&c);
            let wait = now.since(contacts[c].arrive_at);
            if let Some(j) = &judge {
                interval.answered += 1;
                interval.within += u64::from(wait <= j.sl_threshold_ms);
            }
            out.answered += 1;
            answered_waits += u128::from(wait);
            within += u64::from(wait <= threshold_ms);
            waits.push(wait);
            count(&mut state[a], now);
            state[a].held[d.class.index()] += 1;
            router.upsert_agent(snapshot(&agents[a], &state[a]));
            heap.push(Reverse((
                now.plus_ms(contacts[c].handle_ms),
                Ev::Done(a, c),
            )));
        }
        if !waiting.is_empty() && tick_due.is_none() {
            let at = Millis(now.0 + WIDEN_TICK_MS);
            tick_due = Some(at);
            heap.push(Reverse((at, Ev::Tick)));
        }
    }

    let (mut busy, mut open) = (0u128, 0u128);
    for s in state.iter_mut() {
        count(s, end);
        busy += s.busy_ms;
        open += s.open_ms;
    }
    out.unserved = waiting.len() as u64;
    let left = out.answered + out.abandoned;
    out.service_level = ratio(within, left);
    out.asa_ms = (out.answered > 0).then(|| answered_waits as f64 / out.answered as f64);
    waits.sort_unstable();
    out.wait_p50_ms = percentile(&waits, 50);
    out.wait_p90_ms = percentile(&waits, 90);
    out.wait_p99_ms = percentile(&waits, 99);
    out.abandon_rate = ratio(out.abandoned, left);
    out.occupancy = (open > 0).then(|| busy as f64 / open as f64);
    Ok(out)
}

/// The hub's figures for a queue: its service level this interval, and its estimated
/// wait — nothing when a slot is free for every waiting contact, else (waiting − free
/// + 1) × AHT / slots, over the agents on shift (a call fills all of an agent's slots).
fn live_figures(
    agents: &[SimAgent],
    state: &[Agent],
    waiting: usize,
    interval: &Interval,
) -> crate::service::Figures {
    let (mut total, mut free) = (0u32, 0u32);
    for (a, s) in agents.iter().zip(state).filter(|(_, s)| s.available) {
        let slots: u32 = ChannelClass::ALL
            .iter()
            .filter(|c| **c != ChannelClass::Voice)
            .map(|c| u32::from(a.capacity[c.index()]))
            .sum();
        let used = if s.held[ChannelClass::Voice.index()] > 0 {
            slots
        } else {
            s.held.iter().map(|h| u32::from(*h)).sum::<u32>().min(slots)
        };
        total += slots;
        free += slots - used;
    }
    let waiting = waiting as u32;
    let aht_ms =
        (interval.handled > 0).then(|| interval.handle_sum_ms as f64 / interval.handled as f64);
    let ewt_s = if free > waiting {
        Some(0.0)
    } else {
        match aht_ms {
            Some(aht) if total > 0 => {
                Some(f64::from(waiting - free + 1) * aht / f64::from(total) / 1000.0)
            }
            _ => None,
        }
    };
    crate::service::Figures {
        ewt_s,
        service_level: ratio(interval.within, interval.answered + interval.abandoned),
    }
}

/// Counts an agent's time up to `now`: available, and available with work in hand.
fn count(s: &mut Agent, now: Millis) {
    if s.counted_at.0 != i64::MIN && now > s.counted_at && s.available {
        let dt = now.since(s.counted_at) as u128;
        s.open_ms += dt;
        if s.held.iter().any(|h| *h > 0) {
            s.busy_ms += dt;
        }
    }
    s.counted_at = now;
}

/// The router's view of an agent: free slots as the engine counts them (a call takes
/// every slot; any other work closes voice).
fn snapshot(a: &SimAgent, s: &Agent) -> AgentSnapshot {
    // A pending offer takes its slot, as the agent actor counts it.
    let taken: [u16; 4] = std::array::from_fn(|i| s.held[i] + s.pending[i]);
    let on_call = taken[ChannelClass::Voice.index()] > 0;
    let busy = taken.iter().any(|h| *h > 0);
    let free = std::array::from_fn(|i| {
        if on_call || (i == ChannelClass::Voice.index() && busy) {
            0
        } else {
            a.capacity[i].saturating_sub(taken[i])
        }
    });
    let capacity: u32 = a.capacity.iter().map(|c| u32::from(*c)).sum();
    let held: u32 = s.held.iter().map(|h| u32::from(*h)).sum();
    AgentSnapshot {
        id: a.id.clone(),
        available: s.available,
        free,
        idle_since: s.idle_since,
        occupancy_permille: (held * 1000).checked_div(capacity).unwrap_or(0),
        skills: a.skills.clone(),
    }
}

fn ratio(n: u64, d: u64) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}

/// Nearest-rank percentile of ascending `sorted`.
fn percentile(sorted: &[u64], p: u64) -> Option<u64> {
    let n = sorted.len() as u64;
    let rank = (p * n).div_ceil(100).clamp(1, n.max(1));
    sorted.get((rank - 1) as usize).copied()
}

/// The Erlang C (M/M/N) model of one queue: Poisson arrivals at `rate_per_s`,
/// exponential handle times of mean `aht_s`, `agents` servers, nobody abandons.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErlangC {
    /// Offered traffic A = λ · AHT, in Erlangs.
    pub traffic: f64,
    pub agents: u32,
    pub aht_s: f64,
    /// The probability that a contact waits at all.
    pub p_wait: f64,
}

impl ErlangC {
    /// The model, or `None` when it has no steady state (A ≥ N) or an input is not a
    /// positive finite number. Computed by the Erlang B recurrence, stable for
    /// thousands of agents.
    pub fn new(rate_per_s: f64, aht_s: f64, agents: u32) -> Option<ErlangC> {
        let traffic = rate_per_s * aht_s;
        if !(traffic.is_finite() && traffic > 0.0 && aht_s > 0.0) || f64::from(agents) <= traffic {
            return None;
        }
        let mut b = 1.0;
        for k in 1..=agents {
            b = traffic * b / (f64::from(k) + traffic * b);
        }
        let n = f64::from(agents);
        let p_wait = n * b / (n - traffic * (1.0 - b));
        Some(ErlangC {
            traffic,
            agents,
            aht_s,
            p_wait,
        })
    }

    /// Mean wait over all contacts, seconds.
    pub fn asa_s(&self) -> f64 {
        self.p_wait * self.aht_s / (f64::from(self.agents) - self.traffic)
    }

    /// The share of contacts answered within `t_s` seconds.
    pub fn service_level(&self, t_s: f64) -> f64 {
        1.0 - self.p_wait * (-(f64::from(self.agents) - self.traffic) * t_s / self.aht_s).exp()
    }

    /// Agents' occupancy, A / N.
    pub fn occupancy(&self) -> f64 {
        self.traffic / f64::from(self.agents)
    }
}

/// A recorded period of one queue, read from its report events: what arrived, what
/// happened, and who worked.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// Every contact offered to the queue in the period, in arrival order: its
    /// recorded handle time (talk + wrap-up; the period's mean for one not finished),
    /// and as patience the wait of one that abandoned (one answered never leaves).
    pub contacts: Vec<SimContact>,
    /// The agents who answered the queue's contacts in the period, each with the time
    /// of their first answer (their shift's start where the presence log has none).
    pub agents: std::collections::BTreeMap<AgentId, Millis>,
    /// How each agent's offers of the queue's contacts ended in the period.
    pub offers: std::collections::BTreeMap<AgentId, OfferTally>,
    /// What actually happened, counted like [`simulate`]'s outcome.
    pub actual: SimOutcome,
}

/// Reads `queue`'s contacts in `[from, to)` from report events (of any queues; others
/// are skipped), and what happened to them. Each contact needs the skills and has the
/// priority its `offered` event recorded (an event written before offers carried them:
/// only its difficulty, priority 0).
pub fn recorded(
    events: &[domain::ReportEvent],
    queue: &domain::QueueName,
    from: Millis,
    to: Millis,
    threshold_ms: u64,
) -> Recorded {
    use domain::ReportKind;
    let mut order: Vec<&domain::ReportEvent> =
        events.iter().filter(|e| e.queue == *queue).collect();
    order.sort_by_key(|e| (e.at, e.id));
    // Per conversation: its contact's index while it waits or is handled here.
    let mut current: std::collections::HashMap<ConversationId, usize> = Default::default();
    let mut contacts: Vec<SimContact> = Vec::new();
    let mut handled: Vec<Option<u64>> = Vec::new();
    let mut agents: std::collections::BTreeMap<AgentId, Millis> = Default::default();
    let mut offers: std::collections::BTreeMap<AgentId, OfferTally> = Default::default();
    let mut waits: Vec<u64> = Vec::new();
    let (mut answered, mut abandoned, mut within, mut wait_sum) = (0u64, 0u64, 0u64, 0u128);
    let mut overflowed = 0u64;
    for e in order {
        match &e.kind {
            ReportKind::Offered {
                requirements: own,
                priority,
                preferred_agent,
                required_agent,
                ..
            } if e.at >= from && e.at < to => {
                let mut requirements = own.clone();
                // An offer recorded before offers carried their requirements.
                if let Some(d) = e.difficulty {
                    requirements.entry(domain::difficulty_skill()).or_insert(d);
                }
                current.insert(e.conversation, contacts.len());
                contacts.push(SimContact {
                    arrive_at: e.at,
                    class: e.channel.class(),
                    priority: *priority,
                    requirements,
                    preferred_agent: preferred_agent.clone(),
                    required_agent: required_agent.clone(),
                    handle_ms: 0,
                    patience_ms: None,
                });
                handled.push(None);
            }
            ReportKind::Answered { wait_ms } if current.contains_key(&e.conversation) => {
                answered += 1;
                within += u64::from(*wait_ms <= threshold_ms);
                wait_sum += u128::from(*wait_ms);
                waits.push(*wait_ms);
                if let Some(a) = &e.agent {
                    agents.entry(a.clone()).or_insert(e.at);
                }
            }
            ReportKind::Abandoned { wait_ms, .. } => {
                if let Some(i) = current.remove(&e.conversation) {
                    abandoned += 1;
                    waits.push(*wait_ms);
                    contacts[i].patience_ms = Some(*wait_ms);
                }
            }
            ReportKind::OfferClosed { outcome } if e.at >= from && e.at < to => {
                if let Some(a) = &e.agent {
                    let t = offers.entry(a.clone()).or_default();
                    match outcome {
                        domain::OfferOutcome::Accepted => t.accepted += 1,
                        domain::OfferOutcome::Rejected => t.rejected += 1,
                        domain::OfferOutcome::TimedOut => t.timed_out += 1,
                        domain::OfferOutcome::Rescinded => {}
                    }
                }
            }
            ReportKind::Transferred { overflow: true, .. }
                if current.remove(&e.conversation).is_some() =>
            {
                overflowed += 1;
            }
            ReportKind::WrapupDone { talk_ms, wrap_ms } => {
                if let Some(i) = current.remove(&e.conversation) {
                    handled[i] = Some(talk_ms + wrap_ms);
                }
            }
            _ => {}
        }
    }
    let known: Vec<u64> = handled.iter().flatten().copied().collect();
    let mean = (known.iter().sum::<u64>())
        .checked_div(known.len() as u64)
        .unwrap_or(0);
    for (c, h) in contacts.iter_mut().zip(&handled) {
        c.handle_ms = h.unwrap_or(mean);
    }
    waits.sort_unstable();
    let left = answered + abandoned;
    let actual = SimOutcome {
        contacts: contacts.len() as u64,
        answered,
        abandoned,
        refused: 0,
        overflowed,
        unserved: (contacts.len() as u64).saturating_sub(left + overflowed),
        service_level: ratio(within, left),
        service_level_threshold_ms: threshold_ms,
        asa_ms: (answered > 0).then(|| wait_sum as f64 / answered as f64),
        wait_p50_ms: percentile(&waits, 50),
        wait_p90_ms: percentile(&waits, 90),
        wait_p99_ms: percentile(&waits, 99),
        abandon_rate: ratio(abandoned, left),
        occupancy: None,
        offers_rejected: offers.values().map(|t| u64::from(t.rejected)).sum(),
        offers_timed_out: offers.values().map(|t| u64::from(t.timed_out)).sum(),
        decisions: 0,
    };
    Recorded {
        contacts,
        agents,
        offers,
        actual,
    }
}

/// How far before a replayed period the presence log is read to learn who was already
/// on shift at its start: an agent routable without a change for longer than this
/// before the period counts from their first answer instead.
pub const PRESENCE_LOOKBACK_MS: i64 = domain::report::DAY_MS;

/// Where an agent's shifts in a replay come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShiftSource {
    /// The presence log: when the agent was routable in the queue.
    Presence,
    /// No presence in the period (recorded before the log existed, or its writes
    /// lost): from the agent's first answer to the period's end.
    FirstAnswer,
}

/// Each agent's shifts in `queue` within `[from, to)` from the presence log (events in
/// any order; those before `from` tell who was on at `from`): from a routable event to
/// the next not-routable one, one still open running to `to`. A second start while on,
/// or an end while off, changes nothing (a queue actor told twice, a node's restart).
/// Agents not routable at any time in the period get no entry.
pub fn shifts(
    presence: &[domain::PresenceEvent],
    queue: &domain::QueueName,
    from: Millis,
    to: Millis,
) -> std::collections::BTreeMap<AgentId, Vec<(Millis, Millis)>> {
    let mut order: Vec<&domain::PresenceEvent> = presence
        .iter()
        .filter(|e| e.queue == *queue && e.at < to)
        .collect();
    order.sort_by_key(|e| (e.at, e.id));
    let mut on: std::collections::BTreeMap<&AgentId, Millis> = Default::default();
    let mut out: std::collections::BTreeMap<AgentId, Vec<(Millis, Millis)>> = Default::default();
    let mut close = |agent: &AgentId, start: Millis, end: Millis| {
        let (start, end) = (start.max(from), end.min(to));
        if start < end {
            out.entry(agent.clone()).or_default().push((start, end));
        }
    };
    for e in order {
        match (e.routable, on.get(&e.agent)) {
            (true, None) => {
                on.insert(&e.agent, e.at);
            }
            (false, Some(&start)) => {
                on.remove(&e.agent);
                close(&e.agent, start, e.at);
            }
            _ => {}
        }
    }
    for (agent, start) in on {
        close(agent, start, to);
    }
    out
}

/// The agents of a replayed period with their shifts: [`shifts`] from the presence
/// log, and for an agent who answered the queue's contacts (`rec.agents`) without any
/// presence in the period, from the first answer to `to`.
pub fn on_shift(
    rec: &Recorded,
    presence: &[domain::PresenceEvent],
    queue: &domain::QueueName,
    from: Millis,
    to: Millis,
) -> std::collections::BTreeMap<AgentId, (Vec<(Millis, Millis)>, ShiftSource)> {
    let mut out: std::collections::BTreeMap<_, _> = shifts(presence, queue, from, to)
        .into_iter()
        .map(|(a, s)| (a, (s, ShiftSource::Presence)))
        .collect();
    for (agent, first) in &rec.agents {
        out.entry(agent.clone()).or_insert_with(|| {
            (
                vec![(*first, Millis(to.0.max(first.0 + 1)))],
                ShiftSource::FirstAnswer,
            )
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::queue::Overflow;
    use domain::{Proficiency, QueueName, Skill};

    const S: u64 = 1_000;

    fn queue() -> QueueConfig {
        QueueConfig::new(QueueName::parse("sales").expect("queue"))
    }

    fn agent(id: &str, capacity: [u16; 4], until: i64) -> SimAgent {
        SimAgent {
            id: AgentId::parse(id).expect("agent"),
            skills: SkillFloors::new(),
            capacity,
            shifts: vec![(Millis(0), Millis(until))],
            offers: OfferTally::default(),
        }
    }

    fn contact(
        at_s: i64,
        class: ChannelClass,
        handle_s: u64,
        patience_s: Option<u64>,
    ) -> SimContact {
        SimContact {
            arrive_at: Millis(at_s * 1000),
            class,
            priority: 0,
            requirements: SkillFloors::new(),
            preferred_agent: None,
            required_agent: None,
            handle_ms: handle_s * S,
            patience_ms: patience_s.map(|p| p * S),
        }
    }

    /// One agent with one chat slot, on from 0 to 30 s. A at 0 s (10 s of work) is
    /// answered at once; B at 1 s waits for A to finish (answered at 10 s, 9 s wait,
    /// done at 20 s); C at 2 s gives up after 5 s. SL(5 s) = 1 of (2 answered + 1
    /// abandoned); ASA = (0 + 9) / 2; waits [0, 5, 9]; occupancy 20 s of 30 s.
    #[test]
    fn a_small_day_worked_by_hand() {
        let chat = ChannelClass::Chat;
        let contacts = [
            contact(0, chat, 10, None),
            contact(1, chat, 10, Some(60)),
            contact(2, chat, 10, Some(5)),
        ];
        let out = simulate(
            &queue(),
            &[agent("ann", [0, 1, 0, 0], 30_000)],
            &contacts,
            5 * S,
            Millis(30_000),
        )
        .expect("runs");
        assert_eq!(
            (out.contacts, out.answered, out.abandoned, out.unserved),
            (3, 2, 1, 0)
        );
        assert_eq!(out.service_level, Some(1.0 / 3.0));
        assert_eq!(out.asa_ms, Some(4_500.0));
        assert_eq!(
            (out.wait_p50_ms, out.wait_p90_ms),
            (Some(5_000), Some(9_000))
        );
        assert_eq!(out.abandon_rate, Some(1.0 / 3.0));
        assert_eq!(out.occupancy, Some(20.0 / 30.0));
    }

    /// A call needs the whole agent: it waits while chats are in hand, and chats wait
    /// while a call lasts; an agent off shift takes nothing.
    #[test]
    fn voice_is_exclusive_and_shifts_bound_work() {
        let contacts = [
            contact(0, ChannelClass::Chat, 10, None),
            contact(1, ChannelClass::Voice, 10, None),
            contact(2, ChannelClass::Chat, 20, None),
        ];
        let ann = agent("ann", [1, 2, 0, 0], 100_000);
        let out = simulate(&queue(), &[ann], &contacts, 20 * S, Millis(100_000)).expect("runs");
        // The chats take both chat slots at 0 s and 2 s; the call waits until the second
        // is done at 22 s: waits 0, 21 s, 0 (were voice not exclusive: the call at 1 s
        // and the second chat at 11 s, ASA 3 s).
        assert_eq!(out.answered, 3);
        assert_eq!(out.asa_ms, Some(7_000.0));
        // Nobody on shift until 50 s: the contact waits 50 s and is then answered.
        let mut late = agent("bob", [0, 1, 0, 0], 100_000);
        late.shifts = vec![(Millis(50_000), Millis(100_000))];
        let out =
            simulate(&queue(), &[late], &contacts[..1], 20 * S, Millis(100_000)).expect("runs");
        assert_eq!((out.answered, out.asa_ms), (1, Some(50_000.0)));
        assert_eq!(out.service_level, Some(0.0));
    }

    /// Skills gate the contact; the queue's overflow takes it out.
    #[test]
    fn requirements_are_the_real_routers_and_overflow_takes_contacts_out() {
        let billing = Skill::parse("billing").expect("skill");
        let mut needs = SkillFloors::new();
        needs.insert(billing.clone(), Proficiency::new(3).expect("p"));
        let mut hard = contact(0, ChannelClass::Chat, 10, None);
        hard.requirements = needs;
        let mut q = queue();
        q.overflow = Some(Overflow {
            after_ms: 5 * S,
            to: QueueName::parse("backup").expect("queue"),
        });
        let novice = agent("cat", [0, 1, 0, 0], 100_000);
        let out = simulate(
            &q,
            std::slice::from_ref(&novice),
            std::slice::from_ref(&hard),
            20 * S,
            Millis(100_000),
        )
        .expect("runs");
        assert_eq!((out.answered, out.overflowed, out.unserved), (0, 1, 0));
        let mut expert = novice;
        expert
            .skills
            .insert(billing, Proficiency::new(4).expect("p"));
        let out = simulate(&q, &[expert], &[hard], 20 * S, Millis(100_000)).expect("runs");
        assert_eq!((out.answered, out.overflowed), (1, 0));
    }

    /// A contact needing billing 3 waits for its widening ring (floor 1 after 5 s),
    /// then goes to the billing-1 agent at the next tick: a 5 s wait.
    #[test]
    fn widening_rings_open_on_the_simulated_clock() {
        let billing = Skill::parse("billing").expect("skill");
        let mut hard = contact(0, ChannelClass::Chat, 10, None);
        hard.requirements
            .insert(billing.clone(), Proficiency::new(3).expect("p"));
        let mut q = queue();
        q.widening = vec![domain::WideningStep {
            after_ms: 5 * S,
            floor: Some(Proficiency::new(1).expect("p")),
            drop_skills: Vec::new(),
            drop_all_skills: false,
        }];
        let mut novice = agent("cat", [0, 1, 0, 0], 100_000);
        novice
            .skills
            .insert(billing, Proficiency::new(1).expect("p"));
        let out = simulate(&q, &[novice], &[hard], 20 * S, Millis(100_000)).expect("runs");
        assert_eq!((out.answered, out.asa_ms), (1, Some(5_000.0)));
    }

    #[test]
    fn a_shift_that_ends_before_it_starts_is_refused() {
        let mut a = agent("ann", [0, 1, 0, 0], 10);
        a.shifts = vec![(Millis(10), Millis(10))];
        let e = simulate(&queue(), &[a], &[], 20 * S, Millis(100)).unwrap_err();
        assert!(e.to_string().contains("agents[].shifts"), "{e}");
    }

    #[test]
    fn erlang_c_matches_known_values() {
        // C(N = 3, A = 2) = 4/9.
        let m = ErlangC::new(2.0 / 100.0, 100.0, 3).expect("stable");
        assert!((m.p_wait - 4.0 / 9.0).abs() < 1e-12, "{m:?}");
        assert!((m.asa_s() - 4.0 / 9.0 * 100.0).abs() < 1e-9);
        assert!((m.occupancy() - 2.0 / 3.0).abs() < 1e-12);
        assert!(
            ErlangC::new(3.0 / 100.0, 100.0, 3).is_none(),
            "A = N has no steady state"
        );
        assert!(ErlangC::new(0.0, 100.0, 3).is_none());
        // Thousands of agents: no overflow.
        let big = ErlangC::new(1_900.0 / 180.0, 180.0, 2_000).expect("stable");
        assert!(big.p_wait > 0.0 && big.p_wait < 1.0, "{big:?}");
    }

    /// SplitMix64: a seeded stream for the synthetic traffic (no dependency).
    struct Rng(u64);

    impl Rng {
        fn unit(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            // (0, 1]: never 0, so ln() is finite.
            ((z >> 11) as f64 + 1.0) / (1u64 << 53) as f64
        }

        fn exp(&mut self, mean: f64) -> f64 {
            -mean * self.unit().ln()
        }
    }

    /// Poisson arrivals and exponential handle times through the real router with N
    /// single-slot agents and nobody abandoning: the simulated service level, ASA and
    /// occupancy agree with Erlang C. 40,000 contacts (ten simulated days) at A = 8
    /// Erlangs on 10 agents. Seeds 42, 7 and 99 gave SL 0.686 / 0.675 / 0.685 against
    /// the model's 0.682 / 0.677 / 0.680, ASA 32.5 / 36.0 / 36.0 s against 35.1 / 36.0 /
    /// 35.3 s, occupancy within 0.001: waits are autocorrelated, so the ASA tolerance
    /// is wide.
    #[test]
    fn poisson_traffic_agrees_with_erlang_c() {
        let (agents_n, aht_s, rate) = (10u32, 180.0, 8.0 / 180.0);
        let mut rng = Rng(42);
        let mut t = 0.0;
        let contacts: Vec<SimContact> = (0..40_000)
            .map(|_| {
                t += rng.exp(1.0 / rate);
                SimContact {
                    arrive_at: Millis((t * 1000.0) as i64),
                    class: ChannelClass::Chat,
                    priority: 0,
                    requirements: SkillFloors::new(),
                    preferred_agent: None,
                    required_agent: None,
                    handle_ms: (rng.exp(aht_s) * 1000.0).max(1.0) as u64,
                    patience_ms: None,
                }
            })
            .collect();
        // Ten minutes after the last arrival: the queue empties, the occupancy barely
        // moves (0.07 % of the period).
        let end = Millis(((t + 600.0) * 1000.0) as i64);
        let agents: Vec<SimAgent> = (0..agents_n)
            .map(|i| agent(&format!("a{i}"), [0, 1, 0, 0], end.0))
            .collect();
        let out = simulate(&queue(), &agents, &contacts, 20 * S, end).expect("runs");
        assert_eq!((out.answered, out.abandoned), (40_000, 0));
        // The model at the draw's own rate and mean handle time (the draw's load is
        // 0.6 % off the nominal 8 Erlangs, and waits are steep in load here).
        let n = contacts.len() as f64;
        let drawn_aht = contacts.iter().map(|c| c.handle_ms as f64).sum::<f64>() / n / 1000.0;
        let model = ErlangC::new(n / t, drawn_aht, agents_n).expect("stable");
        let sl = out.service_level.expect("sl");
        let asa = out.asa_ms.expect("asa") / 1000.0;
        let occ = out.occupancy.expect("occupancy");
        assert!(
            (sl - model.service_level(20.0)).abs() < 0.03,
            "SL {sl} vs {}",
            model.service_level(20.0)
        );
        assert!(
            (asa - model.asa_s()).abs() < 0.15 * model.asa_s(),
            "ASA {asa} vs {}",
            model.asa_s()
        );
        assert!(
            (occ - model.occupancy()).abs() < 0.02,
            "occupancy {occ} vs {}",
            model.occupancy()
        );
    }

    /// A recorded hour: A answered after 10 s by ann and handled 60 + 5 s; B abandoned
    /// after 30 s; C answered after 40 s by bob, not finished (the mean handle, 65 s);
    /// D overflowed; E offered before the period; another queue's F.
    #[test]
    fn a_recorded_period_becomes_contacts_agents_and_what_happened() {
        use domain::{CustomerId, EventId, OfferOrigin, ReportEvent, ReportKind};
        let q = QueueName::parse("sales").expect("q");
        let other = QueueName::parse("other").expect("q");
        let mut events = Vec::new();
        let mut push =
            |at_s: i64, queue: &QueueName, conv: ConversationId, agent: Option<&str>, kind| {
                events.push(ReportEvent {
                    id: EventId::new(),
                    at: Millis(at_s * 1000),
                    queue: queue.clone(),
                    channel: domain::Channel::Sms,
                    conversation: conv,
                    customer: CustomerId::new(),
                    agent: agent.map(|a| AgentId::parse(a).expect("agent")),
                    difficulty: None,
                    kind,
                })
            };
        let offered = || ReportKind::offered(OfferOrigin::New);
        let [a, b, c, d, e, f] = std::array::from_fn(|_| ConversationId::new());
        push(90, &q, e, None, offered());
        push(100, &q, a, None, offered());
        push(
            110,
            &q,
            a,
            Some("ann"),
            ReportKind::Answered { wait_ms: 10_000 },
        );
        push(
            175,
            &q,
            a,
            Some("ann"),
            ReportKind::WrapupDone {
                talk_ms: 60_000,
                wrap_ms: 5_000,
            },
        );
        // Bob let A's offer time out before Ann took it.
        push(
            105,
            &q,
            a,
            Some("bob"),
            ReportKind::OfferClosed {
                outcome: domain::OfferOutcome::TimedOut,
            },
        );
        push(
            110,
            &q,
            a,
            Some("ann"),
            ReportKind::OfferClosed {
                outcome: domain::OfferOutcome::Accepted,
            },
        );
        push(120, &q, b, None, offered());
        push(
            150,
            &q,
            b,
            None,
            ReportKind::Abandoned {
                wait_ms: 30_000,
                left_unserved: false,
            },
        );
        // C needed billing at 3 and came in at priority 5.
        let billing = |p: u8| {
            SkillFloors::from([(
                Skill::parse("billing").expect("skill"),
                Proficiency::new(p).expect("level"),
            )])
        };
        push(
            130,
            &q,
            c,
            None,
            ReportKind::Offered {
                origin: OfferOrigin::New,
                requirements: billing(3),
                priority: 5,
                preferred_agent: Some(AgentId::parse("bob").expect("agent")),
                required_agent: None,
            },
        );
        push(
            170,
            &q,
            c,
            Some("bob"),
            ReportKind::Answered { wait_ms: 40_000 },
        );
        push(140, &q, d, None, offered());
        push(
            200,
            &q,
            d,
            None,
            ReportKind::Transferred {
                to_queue: other.clone(),
                overflow: true,
            },
        );
        push(150, &other, f, None, offered());
        let r = recorded(&events, &q, Millis(95_000), Millis(3_600_000), 20 * S);
        let arrivals: Vec<i64> = r.contacts.iter().map(|c| c.arrive_at.0 / 1000).collect();
        assert_eq!(arrivals, [100, 120, 130, 140]);
        let handles: Vec<u64> = r.contacts.iter().map(|c| c.handle_ms / 1000).collect();
        assert_eq!(handles, [65, 65, 65, 65]);
        let patience: Vec<Option<u64>> = r.contacts.iter().map(|c| c.patience_ms).collect();
        assert_eq!(patience, [None, Some(30_000), None, None]);
        let needs: Vec<(&SkillFloors, i32, Option<&str>)> = r
            .contacts
            .iter()
            .map(|c| {
                (
                    &c.requirements,
                    c.priority,
                    c.preferred_agent.as_ref().map(|a| a.as_str()),
                )
            })
            .collect();
        let none = SkillFloors::new();
        assert_eq!(
            needs,
            [
                (&none, 0, None),
                (&none, 0, None),
                (&billing(3), 5, Some("bob")),
                (&none, 0, None)
            ]
        );
        let firsts: Vec<(String, i64)> = r
            .agents
            .iter()
            .map(|(a, s)| (a.to_string(), s.0 / 1000))
            .collect();
        assert_eq!(firsts, [("ann".into(), 110), ("bob".into(), 170)]);
        let tallies: Vec<(String, OfferTally)> =
            r.offers.iter().map(|(a, t)| (a.to_string(), *t)).collect();
        assert_eq!(
            tallies,
            [
                (
                    "ann".into(),
                    OfferTally {
                        accepted: 1,
                        ..Default::default()
                    }
                ),
                (
                    "bob".into(),
                    OfferTally {
                        timed_out: 1,
                        ..Default::default()
                    }
                )
            ]
        );
        assert_eq!(
            (r.actual.offers_rejected, r.actual.offers_timed_out),
            (0, 1)
        );
        let o = &r.actual;
        assert_eq!(
            (
                o.contacts,
                o.answered,
                o.abandoned,
                o.overflowed,
                o.unserved
            ),
            (4, 2, 1, 1, 0)
        );
        // Within 20 s: A only, of 3 that left the queue; waits [10, 30, 40].
        assert_eq!(o.service_level, Some(1.0 / 3.0));
        assert_eq!(o.asa_ms, Some(25_000.0));
        assert_eq!(o.wait_p50_ms, Some(30_000));
    }

    /// Shifts in whole seconds.
    type Spans = Vec<(i64, i64)>;

    fn presence(
        at_s: i64,
        queue: &QueueName,
        agent: &str,
        routable: bool,
    ) -> domain::PresenceEvent {
        domain::PresenceEvent {
            id: domain::EventId::new(),
            at: Millis(at_s * 1000),
            queue: queue.clone(),
            agent: AgentId::parse(agent).expect("agent"),
            routable,
        }
    }

    /// Shifts run from routable to not routable, clipped to the period; one on before
    /// the period counts from its start, one still on runs to its end; repeats change
    /// nothing; other queues' events are skipped.
    #[test]
    fn shifts_follow_the_presence_log() {
        let q = queue().name;
        let other = QueueName::parse("billing").expect("queue");
        let events = vec![
            // Ann: on before the period, a break inside it, on again to the end.
            presence(50, &q, "ann", true),
            presence(200, &q, "ann", false),
            presence(300, &q, "ann", true),
            presence(310, &q, "ann", true),
            // Bob: a shift inside, an end told twice, and a shift after the period.
            presence(150, &q, "bob", true),
            presence(250, &q, "bob", false),
            presence(260, &q, "bob", false),
            presence(1_000, &q, "bob", true),
            // Cy: only before the period.
            presence(10, &q, "cy", true),
            presence(20, &q, "cy", false),
            // Dee: only in another queue.
            presence(150, &other, "dee", true),
        ];
        let mut shuffled = events.clone();
        shuffled.reverse();
        let s = |events: &[domain::PresenceEvent]| -> Vec<(String, Spans)> {
            shifts(events, &q, Millis(100_000), Millis(400_000))
                .into_iter()
                .map(|(a, v)| {
                    (
                        a.to_string(),
                        v.iter().map(|(s, e)| (s.0 / 1000, e.0 / 1000)).collect(),
                    )
                })
                .collect()
        };
        let want = vec![
            ("ann".to_owned(), vec![(100, 200), (300, 400)]),
            ("bob".to_owned(), vec![(150, 250)]),
        ];
        assert_eq!(s(&events), want);
        assert_eq!(s(&shuffled), want, "any order in, the same shifts out");
    }

    /// Presence wins where it exists; an agent who answered without any presence in the
    /// period is on from the first answer to the end.
    #[test]
    fn on_shift_falls_back_to_the_first_answer() {
        let q = queue().name;
        let rec = Recorded {
            offers: Default::default(),
            contacts: Vec::new(),
            agents: [("ann", 150), ("bob", 120)]
                .into_iter()
                .map(|(a, s)| (AgentId::parse(a).expect("agent"), Millis(s * 1000)))
                .collect(),
            actual: simulate(&queue(), &[], &[], 20 * S, Millis(0)).expect("empty"),
        };
        let events = vec![
            presence(110, &q, "ann", true),
            presence(180, &q, "ann", false),
            presence(130, &q, "cy", true),
        ];
        let got: Vec<(String, Spans, ShiftSource)> =
            on_shift(&rec, &events, &q, Millis(100_000), Millis(400_000))
                .into_iter()
                .map(|(a, (v, src))| {
                    (
                        a.to_string(),
                        v.iter().map(|(s, e)| (s.0 / 1000, e.0 / 1000)).collect(),
                        src,
                    )
                })
                .collect();
        assert_eq!(
            got,
            vec![
                ("ann".to_owned(), vec![(110, 180)], ShiftSource::Presence),
                ("bob".to_owned(), vec![(120, 400)], ShiftSource::FirstAnswer),
                ("cy".to_owned(), vec![(130, 400)], ShiftSource::Presence),
            ]
        );
    }

    /// Closed hours hold offers back until the queue opens: open 09:00-17:00 UTC on a
    /// Monday, a chat arriving at 08:59 waits a minute and one at 16:59:30 is answered
    /// at once; with `after_hours.offer` the first is answered at once too. Invalid
    /// hours are refused naming the field.
    #[test]
    fn business_hours_hold_offers_back_until_the_queue_opens() {
        // Monday 2026-12-07 00:00 UTC, in seconds.
        const MONDAY: i64 = 1_796_601_600;
        let chat = ChannelClass::Chat;
        let contacts = [
            contact(MONDAY + 8 * 3600 + 59 * 60, chat, 10, None),
            contact(MONDAY + 16 * 3600 + 59 * 60 + 30, chat, 10, None),
        ];
        let mut closed = queue();
        closed.hours = Some(domain::BusinessHours {
            time_zone: "UTC".into(),
            weekly: ["mon", "tue", "wed", "thu", "fri"]
                .into_iter()
                .map(|d| (d.to_owned(), vec!["09:00-17:00".to_owned()]))
                .collect(),
            holidays: vec![],
            closures: vec![],
            after_hours: domain::AfterHours::default(),
        });
        let ann = agent("ann", [0, 1, 0, 0], (MONDAY + 86_400) * 1000);
        let run = |q: &QueueConfig| {
            simulate(
                q,
                std::slice::from_ref(&ann),
                &contacts,
                20 * S,
                Millis((MONDAY + 86_400) * 1000),
            )
            .expect("runs")
        };
        let out = run(&closed);
        assert_eq!((out.answered, out.unserved), (2, 0));
        assert_eq!(out.asa_ms, Some(30_000.0), "waits 60 s and 0 s");
        assert_eq!(out.wait_p90_ms, Some(60_000));
        let mut offers = closed.clone();
        if let Some(h) = offers.hours.as_mut() {
            h.after_hours.offer = true;
        }
        assert_eq!(run(&offers).asa_ms, Some(0.0));
        let mut bad = closed.clone();
        if let Some(h) = bad.hours.as_mut() {
            h.time_zone = "Mars/Olympus".into();
        }
        let e = simulate(&bad, &[], &contacts, 20 * S, Millis(0)).expect_err("refused");
        assert!(e.to_string().starts_with("hours: "), "{e}");
    }

    /// A service rule judged as the hub judges it: one agent with one chat slot, four
    /// chats of 10 s at 0..3 s. Nothing is known until the first chat ends (no handle
    /// time yet); at 10 s three wait on one free slot: EWT (3 − 1 + 1) × 10 s / 1 =
    /// 30 s > 5 s, the rule turns on and its overflow takes all three out. Unjudged,
    /// the agent answers all four.
    #[test]
    fn a_service_rule_overflows_what_waits_once_the_wait_is_too_long() {
        let chat = ChannelClass::Chat;
        let contacts: Vec<SimContact> = (0..4).map(|i| contact(i, chat, 10, None)).collect();
        let mut q = queue();
        q.service_rules = vec![domain::ServiceRule {
            ewt_above_s: Some(5),
            clear_ewt_below_s: None,
            service_level_below_pct: None,
            clear_service_level_above_pct: None,
            overflow_to: Some(QueueName::parse("overflow").expect("queue")),
            boost_priority: None,
        }];
        let ann = [agent("ann", [0, 1, 0, 0], 100_000)];
        let judge = LiveJudge {
            interval_ms: 900_000,
            sl_threshold_ms: 20 * S,
        };
        let judged = simulate_judged(&q, &ann, &contacts, 20 * S, Millis(100_000), Some(judge))
            .expect("runs");
        assert_eq!((judged.answered, judged.overflowed), (1, 3));
        let unjudged = simulate(&q, &ann, &contacts, 20 * S, Millis(100_000)).expect("runs");
        assert_eq!((unjudged.answered, unjudged.overflowed), (4, 0));
    }

    /// Refusals follow the recorded share, spread evenly with no randomness: two of
    /// four offers refused, one of them timed out, as A, R, A, T.
    #[test]
    fn refusals_follow_the_recorded_share_evenly() {
        let t = OfferTally {
            accepted: 2,
            rejected: 1,
            timed_out: 1,
        };
        let (mut refused, mut got) = (0, Vec::new());
        for made in 0..8 {
            let a = t.answer(made, refused);
            refused += u64::from(a != Answer::Accept);
            got.push(a);
        }
        use Answer::{Accept as A, Reject as R, TimeOut as T};
        assert_eq!(got, [A, R, A, T, A, R, A, T]);
        assert_eq!(OfferTally::default().answer(0, 0), A, "no record: accepted");
    }

    /// Ann accepts her first offer and refuses her second (her recorded share: one of
    /// two); Bob starts at 30 s. c0 (0 s) goes to Ann; c1 (20 s) is offered to her:
    /// rejected, it waits for Bob (10 s); let time out, her slot is held for the
    /// 20 s offer timeout and Bob gets it when it ends (20 s).
    #[test]
    fn refused_offers_go_to_the_next_agent() {
        let chat = ChannelClass::Chat;
        let contacts = [contact(0, chat, 10, None), contact(20, chat, 10, None)];
        let run = |rejected: u32, timed_out: u32| {
            let mut ann = agent("ann", [0, 1, 0, 0], 100_000);
            ann.offers = OfferTally {
                accepted: 1,
                rejected,
                timed_out,
            };
            let mut bob = agent("bob", [0, 1, 0, 0], 100_000);
            bob.shifts = vec![(Millis(30_000), Millis(100_000))];
            simulate(&queue(), &[ann, bob], &contacts, 20 * S, Millis(100_000)).expect("runs")
        };
        let rejected = run(1, 0);
        assert_eq!(
            (rejected.answered, rejected.offers_rejected, rejected.asa_ms),
            (2, 1, Some(5_000.0))
        );
        let missed = run(0, 1);
        assert_eq!(
            (missed.answered, missed.offers_timed_out, missed.asa_ms),
            (2, 1, Some(10_000.0))
        );
    }

    /// A contact that wants its last agent waits for them for the queue's sticky wait
    /// (30 s), then anyone may take it; one that requires an agent goes only to them.
    /// c0 (0 s) requires Bob; c1 (1 s) prefers him: with Bob busy 15 s it waits 14 s
    /// for him, though Ann is free; with Bob busy 60 s, Ann takes it when the sticky
    /// wait ends (31 s).
    #[test]
    fn sticky_and_required_agents_are_waited_for() {
        let chat = ChannelClass::Chat;
        let bob = AgentId::parse("bob").expect("agent");
        let run = |busy_s: u64| {
            let mut c0 = contact(0, chat, busy_s, None);
            c0.required_agent = Some(bob.clone());
            let mut c1 = contact(1, chat, 10, None);
            c1.preferred_agent = Some(bob.clone());
            let agents = [
                agent("ann", [0, 1, 0, 0], 100_000),
                agent("bob", [0, 1, 0, 0], 100_000),
            ];
            simulate(&queue(), &agents, &[c0, c1], 20 * S, Millis(100_000)).expect("runs")
        };
        let short = run(15);
        assert_eq!((short.answered, short.asa_ms), (2, Some(7_000.0)));
        let long = run(60);
        assert_eq!((long.answered, long.asa_ms), (2, Some(15_000.0)));
    }
}
