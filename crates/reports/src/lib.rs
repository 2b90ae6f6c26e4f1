//! Historical reports: report events in, report rows out (definitions and formulas in
//! docs/metrics.md, which this module must match).
//!
//! Pure computation — no store, no clock, no HTTP: the REST layer (`api/reports.rs`)
//! reads [`domain::ReportEvent`]s from the store and passes them here with the
//! [`ReportParams`]. Every event in `[from, to)` is counted in the bucket of its own
//! timestamp and in its group (queue, channel or agent); events after `to` (up to the
//! first-contact-resolution window) are only looked at to decide whether a resolution
//! was followed by a repeat contact.

pub mod bucket;
pub mod derive;
pub mod funnel;

pub use bucket::Interval;

use domain::{
    ConversationId, CustomerId, Millis, OfferOrigin, OfferOutcome, ParseError, QueueName,
    ReportEvent, ReportKind,
};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// What the rows are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    Queue,
    Channel,
    Agent,
    /// The contact's difficulty (`1` to `5`), or `none` for contacts without one: how
    /// hard work fares, and where novices' contacts go (docs/api.md "Novices").
    Difficulty,
}

impl GroupBy {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        match s {
            "queue" => Ok(GroupBy::Queue),
            "channel" => Ok(GroupBy::Channel),
            "agent" => Ok(GroupBy::Agent),
            "difficulty" => Ok(GroupBy::Difficulty),
            _ => Err(ParseError::new(
                "group",
                format!("unknown group {s:?}: use queue, channel, agent or difficulty"),
            )),
        }
    }

    /// The group an event counts in; `None` drops it from this grouping (an event with
    /// no agent, such as `offered` or `abandoned`, has no agent row).
    fn key(self, e: &ReportEvent) -> Option<String> {
        match self {
            GroupBy::Queue => Some(e.queue.as_str().to_owned()),
            GroupBy::Channel => Some(e.channel.as_str().to_owned()),
            GroupBy::Agent => e.agent.as_ref().map(|a| a.as_str().to_owned()),
            GroupBy::Difficulty => Some(
                e.difficulty
                    .map_or_else(|| "none".to_owned(), |d| d.get().to_string()),
            ),
        }
    }
}

/// One report request, already validated by the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportParams {
    /// Inclusive start, UTC millis.
    pub from: Millis,
    /// Exclusive end, UTC millis.
    pub to: Millis,
    pub interval: Interval,
    pub group: GroupBy,
    /// Count only this queue's events (every queue's are still looked at for repeat
    /// contacts).
    pub queue: Option<QueueName>,
    /// Service-level thresholds in seconds; the first is the row's `service_level`.
    pub sl_thresholds_s: Vec<u32>,
    /// A resolution followed by a repeat contact within this window is not a
    /// first-contact resolution.
    pub fcr_window_ms: u64,
    /// Bucket alignment (see [`bucket`]).
    pub utc_offset_minutes: i32,
}

/// One row: one bucket of one group. Durations in seconds; a ratio or an average with
/// nothing to divide by is `None` (JSON `null`, an empty CSV cell), never 0.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportRow {
    /// Bucket start, UTC millis.
    pub bucket_start: i64,
    pub group: String,
    pub offered: u64,
    /// Answered by an agent (`answered` events).
    pub handled: u64,
    pub abandoned: u64,
    /// abandoned / (handled + abandoned).
    pub abandon_rate: Option<f64>,
    /// Anonymous visitors whose socket went before anyone served them
    /// (docs/security.md, "Anonymous doors"); not in `abandoned` nor in any rate.
    pub left_unserved: u64,
    /// At the first configured threshold.
    pub service_level: Option<f64>,
    pub service_level_threshold_seconds: Option<u32>,
    /// One entry per threshold: seconds -> service level.
    pub service_levels: BTreeMap<u32, Option<f64>>,
    pub asa_seconds: Option<f64>,
    pub aht_seconds: Option<f64>,
    pub talk_seconds_avg: Option<f64>,
    pub wrap_seconds_avg: Option<f64>,
    pub wait_p50_seconds: Option<f64>,
    pub wait_p90_seconds: Option<f64>,
    pub wait_p99_seconds: Option<f64>,
    pub wait_max_seconds: Option<f64>,
    pub transfers: u64,
    pub channel_switches: u64,
    pub reopened: u64,
    pub resolved: u64,
    pub fcr_resolved: u64,
    /// fcr_resolved / resolved.
    pub fcr_rate: Option<f64>,
    pub csat_count: u64,
    /// Mean score normalised to 0..=1 (score / scale_max).
    pub csat_average: Option<f64>,
    /// Offers to agents by outcome (`offer_closed` events).
    pub offers_accepted: u64,
    pub offers_rejected: u64,
    pub offers_timed_out: u64,
    pub offers_rescinded: u64,
    /// Conversations parked by their agent or by the engine (`parked` events).
    pub parked: u64,
    /// Of those, parked by the engine after the customer's silence.
    pub auto_parked: u64,
    /// Agent replies that answered a waiting customer (`responded` events): the first
    /// of a conversation (since it opened or reopened), and the later ones, with their
    /// mean time from the customer's first unanswered message.
    pub first_responses: u64,
    pub first_response_seconds_avg: Option<f64>,
    pub next_responses: u64,
    pub next_response_seconds_avg: Option<f64>,
    /// Timed replies within their queue's target.
    pub responses_within_target: u64,
    /// Targets that passed (`response_overdue` events; one per late reply, answered or
    /// not).
    pub responses_overdue: u64,
    /// responses_within_target / (responses_within_target + responses_overdue).
    pub response_sla: Option<f64>,
}

/// Sums for one row while events are counted.
#[derive(Debug, Default)]
struct Acc {
    offered: u64,
    handled: u64,
    abandoned: u64,
    left_unserved: u64,
    answered_within: Vec<u64>,
    wait_sum_ms: u64,
    /// Waits of every contact that left the queue (answered or abandoned).
    waits_ms: Vec<u64>,
    handle_segments: u64,
    talk_sum_ms: u64,
    wrap_sum_ms: u64,
    transfers: u64,
    channel_switches: u64,
    reopened: u64,
    resolved: u64,
    fcr_resolved: u64,
    csat_count: u64,
    csat_sum: f64,
    /// accepted, rejected, timed out, rescinded.
    offers: [u64; 4],
    parked: u64,
    auto_parked: u64,
    /// [first, next] replies and their summed waits.
    responses: [u64; 2],
    response_sum_ms: [u64; 2],
    responses_within_target: u64,
    responses_overdue: u64,
}

/// The rows for `events`, ordered by bucket start, then group. `events` must hold every
/// report event in `[params.from, params.to + params.fcr_window_ms)` that the rows are
/// about (any order); events outside `[from, to)` are not counted.
pub fn compute(events: &[ReportEvent], params: &ReportParams) -> Vec<ReportRow> {
    let offset_ms = i64::from(params.utc_offset_minutes) * 60_000;
    let repeats = RepeatContacts::index(events);
    let n_thresholds = params.sl_thresholds_s.len();
    let mut rows: BTreeMap<(i64, String), Acc> = BTreeMap::new();
    for e in events {
        if e.at < params.from || e.at >= params.to {
            continue;
        }
        if params.queue.as_ref().is_some_and(|q| *q != e.queue) {
            continue;
        }
        // Self-service steps are the funnel's (`funnel`), not a queue's traffic.
        if matches!(e.kind, ReportKind::SelfService { .. }) {
            continue;
        }
        let Some(group) = params.group.key(e) else {
            continue;
        };
        let start = params.interval.bucket_start(e.at, offset_ms).0;
        let acc = rows.entry((start, group)).or_insert_with(|| Acc {
            answered_within: vec![0; n_thresholds],
            ..Acc::default()
        });
        match &e.kind {
            ReportKind::Offered { .. } => acc.offered += 1,
            ReportKind::Answered { wait_ms } => {
                acc.handled += 1;
                acc.wait_sum_ms += wait_ms;
                acc.waits_ms.push(*wait_ms);
                for (i, t) in params.sl_thresholds_s.iter().enumerate() {
                    if *wait_ms <= u64::from(*t) * 1000 {
                        acc.answered_within[i] += 1;
                    }
                }
            }
            ReportKind::Abandoned {
                left_unserved: true,
                ..
            } => acc.left_unserved += 1,
            ReportKind::Abandoned { wait_ms, .. } => {
                acc.abandoned += 1;
                acc.waits_ms.push(*wait_ms);
            }
            ReportKind::WrapupDone { talk_ms, wrap_ms } => {
                acc.handle_segments += 1;
                acc.talk_sum_ms += talk_ms;
                acc.wrap_sum_ms += wrap_ms;
            }
            ReportKind::Resolved { first_contact } => {
                acc.resolved += 1;
                if *first_contact && !repeats.after(e, params.fcr_window_ms) {
                    acc.fcr_resolved += 1;
                }
            }
            ReportKind::Transferred { .. } => acc.transfers += 1,
            ReportKind::Parked { auto } => {
                acc.parked += 1;
                acc.auto_parked += u64::from(*auto);
            }
            ReportKind::Responded {
                first,
                wait_ms,
                target_ms,
            } => {
                let i = usize::from(!*first);
                acc.responses[i] += 1;
                acc.response_sum_ms[i] += wait_ms;
                if target_ms.is_some_and(|t| *wait_ms <= t) {
                    acc.responses_within_target += 1;
                }
            }
            ReportKind::ResponseOverdue { .. } => acc.responses_overdue += 1,
            ReportKind::ChannelSwitched { .. } => acc.channel_switches += 1,
            ReportKind::Reopened => acc.reopened += 1,
            ReportKind::OfferClosed { outcome } => {
                let i = match outcome {
                    OfferOutcome::Accepted => 0,
                    OfferOutcome::Rejected => 1,
                    OfferOutcome::TimedOut => 2,
                    OfferOutcome::Rescinded => 3,
                };
                acc.offers[i] += 1;
            }
            ReportKind::Csat { score, scale_max } => {
                if *scale_max > 0 {
                    acc.csat_count += 1;
                    acc.csat_sum += f64::from(*score) / f64::from(*scale_max);
                }
            }
            ReportKind::SelfService { .. } => {}
        }
    }
    rows.into_iter()
        .map(|((start, group), acc)| row(start, group, acc, &params.sl_thresholds_s))
        .collect()
}

fn row(bucket_start: i64, group: String, mut acc: Acc, thresholds: &[u32]) -> ReportRow {
    let left_queue = acc.handled + acc.abandoned;
    let service_levels: BTreeMap<u32, Option<f64>> = thresholds
        .iter()
        .zip(&acc.answered_within)
        .map(|(t, n)| (*t, ratio(*n, left_queue)))
        .collect();
    acc.waits_ms.sort_unstable();
    let pct = |p: u32| percentile(&acc.waits_ms, p).map(secs);
    ReportRow {
        bucket_start,
        group,
        offered: acc.offered,
        handled: acc.handled,
        abandoned: acc.abandoned,
        abandon_rate: ratio(acc.abandoned, left_queue),
        left_unserved: acc.left_unserved,
        service_level: thresholds
            .first()
            .and_then(|t| service_levels.get(t).copied().flatten()),
        service_level_threshold_seconds: thresholds.first().copied(),
        service_levels,
        asa_seconds: mean_secs(acc.wait_sum_ms, acc.handled),
        aht_seconds: mean_secs(acc.talk_sum_ms + acc.wrap_sum_ms, acc.handle_segments),
        talk_seconds_avg: mean_secs(acc.talk_sum_ms, acc.handle_segments),
        wrap_seconds_avg: mean_secs(acc.wrap_sum_ms, acc.handle_segments),
        wait_p50_seconds: pct(50),
        wait_p90_seconds: pct(90),
        wait_p99_seconds: pct(99),
        wait_max_seconds: acc.waits_ms.last().copied().map(secs),
        transfers: acc.transfers,
        channel_switches: acc.channel_switches,
        reopened: acc.reopened,
        resolved: acc.resolved,
        fcr_resolved: acc.fcr_resolved,
        fcr_rate: ratio(acc.fcr_resolved, acc.resolved),
        csat_count: acc.csat_count,
        csat_average: (acc.csat_count > 0).then(|| acc.csat_sum / acc.csat_count as f64),
        offers_accepted: acc.offers[0],
        offers_rejected: acc.offers[1],
        offers_timed_out: acc.offers[2],
        offers_rescinded: acc.offers[3],
        parked: acc.parked,
        auto_parked: acc.auto_parked,
        first_responses: acc.responses[0],
        first_response_seconds_avg: mean_secs(acc.response_sum_ms[0], acc.responses[0]),
        next_responses: acc.responses[1],
        next_response_seconds_avg: mean_secs(acc.response_sum_ms[1], acc.responses[1]),
        responses_within_target: acc.responses_within_target,
        responses_overdue: acc.responses_overdue,
        response_sla: ratio(
            acc.responses_within_target,
            acc.responses_within_target + acc.responses_overdue,
        ),
    }
}

fn secs(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

pub(crate) fn ratio(n: u64, d: u64) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}

fn mean_secs(sum_ms: u64, n: u64) -> Option<f64> {
    (n > 0).then(|| sum_ms as f64 / n as f64 / 1000.0)
}

/// Nearest-rank percentile of ascending `sorted`: the value at rank ⌈p/100 · n⌉.
pub fn percentile(sorted: &[u64], p: u32) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len() as u64;
    let rank = (u64::from(p) * n).div_ceil(100).clamp(1, n);
    sorted.get((rank - 1) as usize).copied()
}

/// Contacts that make a resolution not first-contact: the same conversation reopened,
/// or a new conversation from the same customer.
pub(crate) struct RepeatContacts {
    reopened: HashMap<ConversationId, Vec<Millis>>,
    new_contacts: HashMap<CustomerId, Vec<Millis>>,
}

impl RepeatContacts {
    pub(crate) fn index(events: &[ReportEvent]) -> Self {
        let mut reopened: HashMap<ConversationId, Vec<Millis>> = HashMap::new();
        let mut new_contacts: HashMap<CustomerId, Vec<Millis>> = HashMap::new();
        for e in events {
            match e.kind {
                ReportKind::Reopened => reopened.entry(e.conversation).or_default().push(e.at),
                ReportKind::Offered {
                    origin: OfferOrigin::New,
                    ..
                } => new_contacts.entry(e.customer).or_default().push(e.at),
                _ => {}
            }
        }
        Self {
            reopened,
            new_contacts,
        }
    }

    /// Whether a repeat contact followed `resolved` within `window_ms` (after it, up to
    /// and including `at + window`).
    pub(crate) fn after(&self, resolved: &ReportEvent, window_ms: u64) -> bool {
        let (lo, hi) = (resolved.at, resolved.at.plus_ms(window_ms));
        let inside =
            |ts: Option<&Vec<Millis>>| ts.is_some_and(|ts| ts.iter().any(|t| *t > lo && *t <= hi));
        inside(self.reopened.get(&resolved.conversation))
            || inside(self.new_contacts.get(&resolved.customer))
    }
}

#[cfg(test)]
mod tests;
