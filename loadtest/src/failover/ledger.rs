//! The `failover` run's bookkeeping and its analysis: what happened to every customer
//! message (sent, written again, acknowledged, delivered to an agent), every socket
//! opened or dropped, every error, a sample of the open sockets each second, and when
//! the signal was sent — each with its time on the process clock ([`crate::clock`]).
//!
//! The client tasks only record ([`Ledger`]); [`Book::analyse`] turns the records into
//! the report's figures (timeline, recovery times, lost and duplicated messages). It
//! reads no clock and does no I/O, so it is unit tested on synthetic records below.
//!
//! Definitions (the report's, and loadtest/README.md's):
//! - **lost**: acknowledged by the engine (`ack`, duplicate or not) but never delivered
//!   to any agent, live (`event`) or in a `welcome`'s conversation view.
//! - **duplicated**: delivered to agents as two or more distinct events (event ids).
//!   The same event seen again (a resend) is counted apart, as *redelivered*.
//! - **ack conflicts**: a message whose acks, or whose ack and delivery, name different
//!   events although the agents saw only one: the engine applied it twice.
//! - **after the signal**: an ack or delivery at or after the signal, on a socket
//!   opened after it (the engine that took over) — or, for a client whose socket never
//!   dropped, on the socket it had (nothing failed over for it).

use crate::nodes::Role;
use protocol::EventId;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

/// Nanoseconds on the process clock ([`crate::clock::now_ns`]).
pub type Ns = u64;

const SEC: Ns = 1_000_000_000;
/// Lost and duplicated messages named in the report.
const KEPT_KEYS: usize = 10;

/// A customer message: customer index and sequence number (its stamp's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct MsgKey {
    pub customer: u32,
    pub seq: u64,
}

/// How an agent received a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// An `event` frame.
    Live,
    /// Listed in a held conversation's `recent` events of a `welcome`.
    Welcome,
}

/// An `ack` a customer received.
#[derive(Debug, Clone, Copy)]
pub struct Ack {
    pub key: MsgKey,
    pub event: EventId,
    pub duplicate: bool,
    pub at: Ns,
    /// When the socket it came on was opened.
    pub conn_opened: Ns,
}

/// A customer message an agent received.
#[derive(Debug, Clone, Copy)]
pub struct Delivery {
    /// Agent index (0-based).
    pub agent: u32,
    pub key: MsgKey,
    pub event: EventId,
    pub via: Via,
    pub at: Ns,
    /// When the socket it came on was opened.
    pub conn_opened: Ns,
}

/// A socket of client `idx` opened (or dropped) at `at`.
#[derive(Debug, Clone, Copy)]
pub struct SocketEvent {
    pub role: Role,
    pub idx: u32,
    pub at: Ns,
}

/// Open sockets, sampled once a second by the run.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub at: Ns,
    pub agents: u64,
    pub customers: u64,
}

/// Every record of a run.
#[derive(Debug, Default)]
pub struct Book {
    /// First send of each message (the customer's tick: written at once, or queued
    /// while its socket was down).
    pub sent: HashMap<MsgKey, Ns>,
    /// Each time a message was written again (after a reconnect, or after `busy`).
    pub resent: Vec<Ns>,
    pub acks: Vec<Ack>,
    pub deliveries: Vec<Delivery>,
    pub opened: Vec<SocketEvent>,
    pub dropped: Vec<SocketEvent>,
    /// `error` frames and harness errors.
    pub errors: Vec<Ns>,
    pub samples: Vec<Sample>,
    pub signal: Option<Ns>,
}

/// The records, shared by every task of a run.
#[derive(Debug, Default)]
pub struct Ledger {
    book: Mutex<Book>,
}

impl Ledger {
    pub fn new() -> Ledger {
        Ledger::default()
    }

    fn book(&self) -> MutexGuard<'_, Book> {
        self.book.lock().expect("ledger")
    }

    /// Message `key` was sent for the first time at `at` (a later call is ignored).
    pub fn sent(&self, key: MsgKey, at: Ns) {
        self.book().sent.entry(key).or_insert(at);
    }

    /// A message was written again at `at`.
    pub fn resent(&self, at: Ns) {
        self.book().resent.push(at);
    }

    pub fn acked(&self, ack: Ack) {
        self.book().acks.push(ack);
    }

    pub fn delivered(&self, d: Delivery) {
        self.book().deliveries.push(d);
    }

    pub fn opened(&self, role: Role, idx: u32, at: Ns) {
        self.book().opened.push(SocketEvent { role, idx, at });
    }

    pub fn dropped(&self, role: Role, idx: u32, at: Ns) {
        self.book().dropped.push(SocketEvent { role, idx, at });
    }

    pub fn error(&self, at: Ns) {
        self.book().errors.push(at);
    }

    pub fn sample(&self, s: Sample) {
        self.book().samples.push(s);
    }

    pub fn signalled(&self, at: Ns) {
        self.book().signal = Some(at);
    }

    /// `(sent but not acknowledged, acknowledged but not delivered)`, for the drain.
    pub fn pending(&self) -> (u64, u64) {
        self.book().pending()
    }

    pub fn analyse(&self, p: &Params) -> Outcome {
        self.book().analyse(p)
    }
}

/// What the analysis needs besides the records.
#[derive(Debug, Clone, Copy)]
pub struct Params {
    /// Start of the load: second 0 of the timeline.
    pub start: Ns,
    /// End of the drain: the timeline stops here.
    pub until: Ns,
    /// Customers in the run (the population "served again" counts against).
    pub customers: u32,
    /// Fraction of customers that must be served again (0.99).
    pub served_fraction: f64,
}

/// The figures of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub recovery: Recovery,
    pub accounting: Accounting,
    pub timeline: Vec<Second>,
}

/// How long service took to come back after the signal, milliseconds from the signal
/// (`None`: it never did within the run, or no signal was sent).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Recovery {
    /// When the signal was sent, seconds after the start of the load.
    pub signal_at_s: Option<f64>,
    /// First acknowledgement after the signal.
    pub first_ack_ms: Option<f64>,
    /// First live delivery of a customer message to an agent after the signal.
    pub first_delivery_ms: Option<f64>,
    /// The fraction of customers the next figure is about.
    pub served_fraction: f64,
    /// Until `served_fraction` of all customers had an acknowledged message again.
    pub served_again_ms: Option<f64>,
    /// Until half of them had.
    pub served_again_p50_ms: Option<f64>,
    /// Until every customer had.
    pub served_again_all_ms: Option<f64>,
    /// Customers with an acknowledgement after the signal, of `customers`.
    pub customers_served_again: u64,
    pub customers: u32,
    /// Agents and customers whose socket dropped after the signal.
    pub agents_dropped: u64,
    pub customers_dropped: u64,
    /// Until every agent (customer) whose socket dropped had one open again.
    pub agents_back_ms: Option<f64>,
    pub customers_back_ms: Option<f64>,
    /// The customers served again last (at most [`KEPT_SLOWEST`]), slowest first:
    /// what their sockets did after the signal says which way of failing over held
    /// them up (their own node killed, or their actor's).
    pub slowest: Vec<Straggler>,
}

/// The customers served again last, named in the report.
const KEPT_SLOWEST: usize = 8;

/// One customer served again late: when, and its sockets after the signal (ms after it).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Straggler {
    pub customer: u32,
    pub served_ms: f64,
    pub dropped_ms: Vec<f64>,
    pub opened_ms: Vec<f64>,
}

/// What became of the messages (counts of distinct customer messages unless said).
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Accounting {
    pub sent: u64,
    /// Writes of a message after its first (not distinct messages).
    pub resent: u64,
    pub acked: u64,
    /// `ack`s with `duplicate: true` (not distinct messages).
    pub duplicate_acks: u64,
    /// Sent but never acknowledged (still unacknowledged when the run ended).
    pub unacked: u64,
    /// Delivered to an agent, live or in a welcome view.
    pub delivered: u64,
    /// Of those, seen only in a welcome view, never live.
    pub delivered_in_welcome_only: u64,
    /// Delivered although never acknowledged (the ack was lost with the engine).
    pub delivered_unacked: u64,
    /// Acknowledged, never delivered.
    pub lost: u64,
    /// Delivered as two or more distinct events.
    pub duplicated: u64,
    /// The distinct events beyond the first, over all duplicated messages.
    pub extra_events: u64,
    /// The same event received live again (deliveries, not distinct messages).
    pub redelivered_live: u64,
    /// The same event listed again in a welcome view after it had been seen.
    pub redelivered_in_welcome: u64,
    /// Acks naming two events, or an ack and a delivery naming different events,
    /// where the agents saw only one event.
    pub ack_conflicts: u64,
    /// Up to ten lost messages.
    pub lost_sample: Vec<MsgKey>,
    /// Up to ten duplicated messages.
    pub duplicated_sample: Vec<MsgKey>,
}

impl Accounting {
    /// No message lost, none applied twice, something sent.
    pub fn passed(&self) -> bool {
        self.sent > 0 && self.lost == 0 && self.duplicated == 0 && self.ack_conflicts == 0
    }
}

/// One second of the timeline, counted from the start of the load.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct Second {
    pub t: u64,
    /// Messages sent for the first time.
    pub sent: u64,
    /// Writes of a message after its first.
    pub resent: u64,
    /// Messages acknowledged for the first time.
    pub acked: u64,
    /// Messages delivered to an agent for the first time.
    pub delivered: u64,
    pub errors: u64,
    /// Agent and customer sockets open at the end of the second (sampled).
    pub agents: Option<u64>,
    pub customers: Option<u64>,
}

impl Book {
    /// `(sent but not acknowledged, acknowledged but not delivered)`.
    pub fn pending(&self) -> (u64, u64) {
        let acked: HashSet<MsgKey> = self.acks.iter().map(|a| a.key).collect();
        let delivered: HashSet<MsgKey> = self.deliveries.iter().map(|d| d.key).collect();
        let unacked = self.sent.keys().filter(|k| !acked.contains(k)).count();
        let undelivered = acked.iter().filter(|k| !delivered.contains(k)).count();
        (unacked as u64, undelivered as u64)
    }

    pub fn analyse(&self, p: &Params) -> Outcome {
        Outcome {
            recovery: self.recovery(p),
            accounting: self.accounting(),
            timeline: self.timeline(p),
        }
    }

    fn accounting(&self) -> Accounting {
        let mut a = Accounting {
            sent: self.sent.len() as u64,
            resent: self.resent.len() as u64,
            duplicate_acks: self.acks.iter().filter(|a| a.duplicate).count() as u64,
            ..Accounting::default()
        };
        // Events each message was acknowledged as, and delivered as (in order seen).
        let mut acked: HashMap<MsgKey, Vec<EventId>> = HashMap::new();
        for ack in &self.acks {
            let events = acked.entry(ack.key).or_default();
            if !events.contains(&ack.event) {
                events.push(ack.event);
            }
        }
        let mut deliveries: Vec<&Delivery> = self.deliveries.iter().collect();
        deliveries.sort_by_key(|d| d.at);
        let mut delivered: HashMap<MsgKey, Vec<EventId>> = HashMap::new();
        let mut seen_live: HashSet<MsgKey> = HashSet::new();
        for d in deliveries {
            let events = delivered.entry(d.key).or_default();
            if events.contains(&d.event) {
                match d.via {
                    Via::Live => a.redelivered_live += 1,
                    Via::Welcome => a.redelivered_in_welcome += 1,
                }
            } else {
                events.push(d.event);
            }
            if d.via == Via::Live {
                seen_live.insert(d.key);
            }
        }
        a.acked = acked.len() as u64;
        a.delivered = delivered.len() as u64;
        a.unacked = self.sent.keys().filter(|k| !acked.contains_key(k)).count() as u64;
        a.delivered_in_welcome_only =
            delivered.keys().filter(|k| !seen_live.contains(k)).count() as u64;
        a.delivered_unacked = delivered.keys().filter(|k| !acked.contains_key(k)).count() as u64;

        let mut lost: Vec<MsgKey> = acked
            .keys()
            .filter(|k| !delivered.contains_key(k))
            .copied()
            .collect();
        lost.sort();
        a.lost = lost.len() as u64;
        a.lost_sample = lost.into_iter().take(KEPT_KEYS).collect();

        let mut duplicated: Vec<MsgKey> = Vec::new();
        for (key, events) in &delivered {
            if events.len() > 1 {
                duplicated.push(*key);
                a.extra_events += events.len() as u64 - 1;
            } else if let Some(acks) = acked.get(key) {
                if acks.len() > 1 || acks.iter().any(|e| !events.contains(e)) {
                    a.ack_conflicts += 1;
                }
            }
        }
        // Acknowledged as two events, delivered as none: also applied twice.
        a.ack_conflicts += acked
            .iter()
            .filter(|(k, events)| events.len() > 1 && !delivered.contains_key(k))
            .count() as u64;
        duplicated.sort();
        a.duplicated = duplicated.len() as u64;
        a.duplicated_sample = duplicated.into_iter().take(KEPT_KEYS).collect();
        a
    }

    /// Clients of `role` with a socket opened after the signal.
    fn reconnected(&self, role: Role, signal: Ns) -> HashSet<u32> {
        self.opened
            .iter()
            .filter(|o| o.role == role && o.at > signal)
            .map(|o| o.idx)
            .collect()
    }

    fn recovery(&self, p: &Params) -> Recovery {
        let ms = |from: Ns, to: Ns| to.saturating_sub(from) as f64 / 1e6;
        let mut r = Recovery {
            signal_at_s: None,
            first_ack_ms: None,
            first_delivery_ms: None,
            served_fraction: p.served_fraction,
            served_again_ms: None,
            served_again_p50_ms: None,
            served_again_all_ms: None,
            customers_served_again: 0,
            customers: p.customers,
            agents_dropped: 0,
            customers_dropped: 0,
            agents_back_ms: None,
            customers_back_ms: None,
            slowest: Vec::new(),
        };
        let Some(signal) = self.signal else {
            return r;
        };
        r.signal_at_s = Some(signal.saturating_sub(p.start) as f64 / 1e9);

        // Each customer's first acknowledgement after the signal.
        let moved = self.reconnected(Role::Customer, signal);
        let mut served: HashMap<u32, Ns> = HashMap::new();
        for a in &self.acks {
            let c = a.key.customer;
            if a.at >= signal && (!moved.contains(&c) || a.conn_opened > signal) {
                let t = served.entry(c).or_insert(a.at);
                *t = (*t).min(a.at);
            }
        }
        let mut by_time: Vec<(Ns, u32)> = served.iter().map(|(&c, &t)| (t, c)).collect();
        by_time.sort_unstable_by(|a, b| b.cmp(a));
        let after = |events: &[SocketEvent], c: u32| -> Vec<f64> {
            events
                .iter()
                .filter(|e| e.role == Role::Customer && e.idx == c && e.at >= signal)
                .map(|e| ms(signal, e.at))
                .collect()
        };
        r.slowest = by_time
            .iter()
            .take(KEPT_SLOWEST)
            .map(|&(t, c)| Straggler {
                customer: c,
                served_ms: ms(signal, t),
                dropped_ms: after(&self.dropped, c),
                opened_ms: after(&self.opened, c),
            })
            .collect();
        let mut times: Vec<Ns> = served.into_values().collect();
        times.sort_unstable();
        r.customers_served_again = times.len() as u64;
        r.first_ack_ms = times.first().map(|&t| ms(signal, t));
        let at = |fraction: f64| kth(&times, fraction, p.customers).map(|t| ms(signal, t));
        r.served_again_ms = at(p.served_fraction);
        r.served_again_p50_ms = at(0.5);
        r.served_again_all_ms = at(1.0);

        let agents_moved = self.reconnected(Role::Agent, signal);
        r.first_delivery_ms = self
            .deliveries
            .iter()
            .filter(|d| {
                d.via == Via::Live
                    && d.at >= signal
                    && (!agents_moved.contains(&d.agent) || d.conn_opened > signal)
            })
            .map(|d| d.at)
            .min()
            .map(|t| ms(signal, t));

        for role in [Role::Agent, Role::Customer] {
            let (dropped, back) = self.back(role, signal);
            let back = back.map(|t| ms(signal, t));
            match role {
                Role::Agent => (r.agents_dropped, r.agents_back_ms) = (dropped, back),
                Role::Customer => (r.customers_dropped, r.customers_back_ms) = (dropped, back),
            }
        }
        r
    }

    /// Clients of `role` whose socket dropped after the signal, and when the last of
    /// them had a socket again (`None` if one never did, or none dropped).
    fn back(&self, role: Role, signal: Ns) -> (u64, Option<Ns>) {
        let mut first_drop: HashMap<u32, Ns> = HashMap::new();
        for d in self
            .dropped
            .iter()
            .filter(|d| d.role == role && d.at >= signal)
        {
            let t = first_drop.entry(d.idx).or_insert(d.at);
            *t = (*t).min(d.at);
        }
        let mut last = None;
        for (idx, dropped_at) in &first_drop {
            let again = self
                .opened
                .iter()
                .filter(|o| o.role == role && o.idx == *idx && o.at >= *dropped_at)
                .map(|o| o.at)
                .min();
            match again {
                Some(t) => last = Some(last.map_or(t, |l: Ns| l.max(t))),
                None => return (first_drop.len() as u64, None),
            }
        }
        (first_drop.len() as u64, last)
    }

    fn timeline(&self, p: &Params) -> Vec<Second> {
        let rows = p.until.saturating_sub(p.start).div_ceil(SEC) as usize;
        let mut tl: Vec<Second> = (0..rows as u64)
            .map(|t| Second {
                t,
                ..Second::default()
            })
            .collect();
        let row = |at: Ns| -> Option<usize> {
            let r = (at.checked_sub(p.start)? / SEC) as usize;
            (r < rows).then_some(r)
        };
        let mut bump = |at: Ns, f: fn(&mut Second)| {
            if let Some(r) = row(at) {
                f(&mut tl[r]);
            }
        };
        for &at in self.sent.values() {
            bump(at, |s| s.sent += 1);
        }
        for &at in &self.resent {
            bump(at, |s| s.resent += 1);
        }
        for at in first_times(self.acks.iter().map(|a| (a.key, a.at))) {
            bump(at, |s| s.acked += 1);
        }
        for at in first_times(self.deliveries.iter().map(|d| (d.key, d.at))) {
            bump(at, |s| s.delivered += 1);
        }
        for &at in &self.errors {
            bump(at, |s| s.errors += 1);
        }
        // A sample taken at the end of second k (start + k + 1 s, give or take the
        // timer's lateness) belongs to row k.
        for s in &self.samples {
            let Some(since) = s.at.checked_sub(p.start) else {
                continue;
            };
            let k = (since + SEC / 2) / SEC;
            if let Some(r) = (k as usize).checked_sub(1).filter(|&r| r < rows) {
                tl[r].agents = Some(s.agents);
                tl[r].customers = Some(s.customers);
            }
        }
        tl
    }
}

/// The first time each key was seen.
fn first_times(it: impl Iterator<Item = (MsgKey, Ns)>) -> impl Iterator<Item = Ns> {
    let mut first: HashMap<MsgKey, Ns> = HashMap::new();
    for (k, at) in it {
        let t = first.entry(k).or_insert(at);
        *t = (*t).min(at);
    }
    first.into_values()
}

/// The time by which `fraction` of `population` had theirs: the ⌈fraction ×
/// population⌉-th smallest of `sorted` (`None` if fewer happened).
pub fn kth(sorted: &[Ns], fraction: f64, population: u32) -> Option<Ns> {
    // The small subtraction keeps 0.99 × 200 at 198, not 199, whatever the rounding.
    let k = ((fraction * f64::from(population)) - 1e-9).ceil().max(1.0) as usize;
    sorted.get(k - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Ns = 1_000_000;
    /// Load starts at 10 s; the signal at 20 s.
    const START: Ns = 10 * SEC;
    const SIGNAL: Ns = 20 * SEC;

    fn key(customer: u32, seq: u64) -> MsgKey {
        MsgKey { customer, seq }
    }

    fn ev(n: u128) -> EventId {
        EventId(uuid::Uuid::from_u128(n))
    }

    fn params(customers: u32) -> Params {
        Params {
            start: START,
            until: START + 30 * SEC,
            customers,
            served_fraction: 0.99,
        }
    }

    fn ack(l: &Ledger, k: MsgKey, event: u128, duplicate: bool, at: Ns, conn_opened: Ns) {
        l.acked(Ack {
            key: k,
            event: ev(event),
            duplicate,
            at,
            conn_opened,
        });
    }

    fn deliver(l: &Ledger, agent: u32, k: MsgKey, event: u128, via: Via, at: Ns, conn: Ns) {
        l.delivered(Delivery {
            agent,
            key: k,
            event: ev(event),
            via,
            at,
            conn_opened: conn,
        });
    }

    /// Every message acknowledged and delivered once: nothing lost or duplicated.
    #[test]
    fn a_clean_run_passes() {
        let l = Ledger::new();
        for seq in 1..=3 {
            let k = key(0, seq);
            l.sent(k, START + seq * MS);
            ack(
                &l,
                k,
                u128::from(seq),
                false,
                START + seq * MS + 2 * MS,
                START,
            );
            deliver(
                &l,
                0,
                k,
                u128::from(seq),
                Via::Live,
                START + seq * MS + 3 * MS,
                START,
            );
        }
        assert_eq!(l.pending(), (0, 0));
        let a = l.analyse(&params(1)).accounting;
        assert_eq!((a.sent, a.acked, a.delivered, a.lost), (3, 3, 3, 0));
        assert!(a.passed(), "{a:?}");
    }

    /// Acknowledged by the dead engine, resent, answered as a duplicate, found in the
    /// new engine's welcome: delivered, not lost. Acknowledged and never delivered:
    /// lost. Sent and never acknowledged: neither.
    #[test]
    fn lost_means_acknowledged_and_never_delivered() {
        let l = Ledger::new();
        let (saved, gone, unacked) = (key(0, 1), key(0, 2), key(1, 1));
        for k in [saved, gone, unacked] {
            l.sent(k, SIGNAL - 5 * MS);
        }
        ack(&l, saved, 1, false, SIGNAL - MS, START);
        ack(&l, saved, 1, true, SIGNAL + 6 * SEC, SIGNAL + 5 * SEC);
        l.resent(SIGNAL + 5 * SEC);
        deliver(
            &l,
            0,
            saved,
            1,
            Via::Welcome,
            SIGNAL + 5 * SEC,
            SIGNAL + 5 * SEC,
        );
        ack(&l, gone, 2, false, SIGNAL - MS, START);
        assert_eq!(l.pending(), (1, 1));
        let a = l.analyse(&params(2)).accounting;
        assert_eq!(a.lost, 1);
        assert_eq!(a.lost_sample, [gone]);
        assert_eq!(a.unacked, 1);
        assert_eq!((a.duplicate_acks, a.resent), (1, 1));
        assert_eq!(a.delivered_in_welcome_only, 1);
        assert_eq!(a.duplicated, 0);
        assert!(!a.passed());
    }

    /// The same message as two events is a duplicate; the same event again (live, or
    /// listed in a later welcome) is a redelivery, not a duplicate.
    #[test]
    fn duplicates_are_distinct_events_and_resends_are_not() {
        let l = Ledger::new();
        let (twice, resent) = (key(3, 7), key(4, 1));
        for k in [twice, resent] {
            l.sent(k, START);
        }
        ack(&l, twice, 10, false, START + MS, START);
        deliver(&l, 0, twice, 10, Via::Live, START + 2 * MS, START);
        deliver(&l, 0, twice, 11, Via::Live, SIGNAL + SEC, SIGNAL + SEC);
        ack(&l, resent, 20, false, START + MS, START);
        deliver(&l, 1, resent, 20, Via::Live, START + 2 * MS, START);
        deliver(&l, 1, resent, 20, Via::Welcome, SIGNAL + SEC, SIGNAL + SEC);
        deliver(&l, 1, resent, 20, Via::Live, SIGNAL + 2 * SEC, SIGNAL + SEC);
        let a = l.analyse(&params(5)).accounting;
        assert_eq!((a.duplicated, a.extra_events), (1, 1));
        assert_eq!(a.duplicated_sample, [twice]);
        assert_eq!((a.redelivered_in_welcome, a.redelivered_live), (1, 1));
        assert_eq!((a.lost, a.ack_conflicts), (0, 0));
        assert!(!a.passed());
    }

    /// Acked as one event, delivered as another (or acked as two): applied twice even
    /// though the agents saw one event.
    #[test]
    fn an_ack_naming_another_event_is_a_conflict() {
        let l = Ledger::new();
        let (k1, k2) = (key(0, 1), key(0, 2));
        l.sent(k1, START);
        l.sent(k2, START);
        ack(&l, k1, 1, false, START + MS, START);
        deliver(&l, 0, k1, 2, Via::Live, START + MS, START);
        ack(&l, k2, 3, false, START + MS, START);
        ack(&l, k2, 4, true, SIGNAL + SEC, SIGNAL + SEC);
        let a = l.analyse(&params(1)).accounting;
        assert_eq!((a.ack_conflicts, a.duplicated, a.lost), (2, 0, 1));
        assert!(!a.passed());
    }

    /// Served again: each customer's first ack after the signal on a socket opened
    /// after it (acks the dying engine still sent on the old socket do not count),
    /// and the time by which 99% of all customers had one.
    #[test]
    fn served_again_counts_acks_from_the_new_engine() {
        let l = Ledger::new();
        l.signalled(SIGNAL);
        // 200 customers; customer c reconnects at signal + 4 s + c ms and is acked
        // 10 ms later. Customer 0 also got an ack on its old socket just after the
        // signal, which does not count.
        for c in 0..200u32 {
            let k = key(c, 1);
            l.sent(k, SIGNAL - MS);
            l.dropped(Role::Customer, c, SIGNAL + MS);
            let back = SIGNAL + 4 * SEC + Ns::from(c) * MS;
            l.opened(Role::Customer, c, back);
            ack(&l, k, u128::from(c), c > 0, back + 10 * MS, back);
        }
        ack(&l, key(0, 0), 999, false, SIGNAL + MS / 2, START);
        let r = l.analyse(&params(200)).recovery;
        assert_eq!(r.signal_at_s, Some(10.0));
        assert_eq!(r.customers_served_again, 200);
        assert_eq!(r.first_ack_ms, Some(4010.0));
        // The 198th customer (0.99 × 200), index 197.
        assert_eq!(r.served_again_ms, Some(4207.0));
        assert_eq!(r.served_again_p50_ms, Some(4109.0));
        assert_eq!(r.served_again_all_ms, Some(4209.0));
        assert_eq!(r.customers_dropped, 200);
        assert_eq!(r.customers_back_ms, Some(4199.0));
        assert_eq!((r.agents_dropped, r.agents_back_ms), (0, None));
    }

    /// Fewer than 99% served again: no figure, rather than a wrong one; a customer
    /// whose socket never dropped is served by its first ack after the signal.
    #[test]
    fn served_again_needs_the_fraction_of_all_customers() {
        let l = Ledger::new();
        l.signalled(SIGNAL);
        for c in 0..98u32 {
            ack(&l, key(c, 1), u128::from(c), false, SIGNAL + SEC, START);
        }
        let r = l.analyse(&params(100)).recovery;
        assert_eq!(r.customers_served_again, 98);
        assert_eq!(r.served_again_ms, None);
        assert_eq!(r.served_again_p50_ms, Some(1000.0));
        assert_eq!(r.first_ack_ms, Some(1000.0));
        // Without a signal there is nothing to recover from.
        let quiet = Ledger::new();
        ack(&quiet, key(0, 1), 1, false, SIGNAL, START);
        let r = quiet.analyse(&params(1)).recovery;
        assert_eq!((r.signal_at_s, r.first_ack_ms), (None, None));
    }

    #[test]
    fn first_delivery_after_the_signal_is_from_a_socket_opened_after_it() {
        let l = Ledger::new();
        l.signalled(SIGNAL);
        l.dropped(Role::Agent, 0, SIGNAL + MS);
        l.opened(Role::Agent, 0, SIGNAL + 5 * SEC);
        // On the old socket just after the signal: does not count.
        deliver(&l, 0, key(0, 1), 1, Via::Live, SIGNAL + MS / 2, START);
        // In the welcome: not a live delivery.
        deliver(
            &l,
            0,
            key(0, 2),
            2,
            Via::Welcome,
            SIGNAL + 5 * SEC,
            SIGNAL + 5 * SEC,
        );
        deliver(
            &l,
            0,
            key(0, 3),
            3,
            Via::Live,
            SIGNAL + 5 * SEC + 20 * MS,
            SIGNAL + 5 * SEC,
        );
        let r = l.analyse(&params(1)).recovery;
        assert_eq!(r.first_delivery_ms, Some(5020.0));
        assert_eq!((r.agents_dropped, r.agents_back_ms), (1, Some(5000.0)));
        // An agent that dropped and never came back: no "back" time.
        l.dropped(Role::Agent, 1, SIGNAL + MS);
        assert_eq!(l.analyse(&params(1)).recovery.agents_back_ms, None);
    }

    #[test]
    fn the_timeline_counts_firsts_per_second_and_samples_at_its_end() {
        let l = Ledger::new();
        let k = key(0, 1);
        l.sent(k, START + 100 * MS);
        l.sent(k, START + 1500 * MS); // not a first send
        ack(&l, k, 1, false, START + 900 * MS, START);
        ack(&l, k, 1, true, START + 1900 * MS, START); // not a first ack
        l.resent(START + 1200 * MS);
        deliver(&l, 0, k, 1, Via::Live, START + 1100 * MS, START);
        l.error(START + 2100 * MS);
        l.error(START - SEC); // before the load: not in the timeline
        l.sample(Sample {
            at: START + SEC + 3 * MS,
            agents: 2,
            customers: 20,
        });
        l.sample(Sample {
            at: START + 3 * SEC - 2 * MS,
            agents: 1,
            customers: 19,
        });
        let p = Params {
            until: START + 2500 * MS,
            ..params(1)
        };
        let tl = l.analyse(&p).timeline;
        assert_eq!(tl.len(), 3);
        let row = |s: &Second| (s.sent, s.acked, s.resent, s.delivered, s.errors);
        assert_eq!(row(&tl[0]), (1, 1, 0, 0, 0));
        assert_eq!(row(&tl[1]), (0, 0, 1, 1, 0));
        assert_eq!(row(&tl[2]), (0, 0, 0, 0, 1));
        assert_eq!((tl[0].agents, tl[0].customers), (Some(2), Some(20)));
        assert_eq!(tl[1].agents, None);
        assert_eq!((tl[2].agents, tl[2].customers), (Some(1), Some(19)));
    }

    #[test]
    fn kth_is_the_fraction_of_the_population() {
        let t: Vec<Ns> = (1..=200).collect();
        assert_eq!(kth(&t, 0.99, 200), Some(198));
        assert_eq!(kth(&t, 1.0, 200), Some(200));
        assert_eq!(kth(&t, 0.5, 200), Some(100));
        assert_eq!(kth(&t, 0.99, 1000), None);
        assert_eq!(kth(&t, 0.0, 200), Some(1));
        assert_eq!(kth(&[], 0.99, 0), None);
    }
}
