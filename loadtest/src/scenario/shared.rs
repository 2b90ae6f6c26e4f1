//! State shared by the scenario's tasks: live counters, the arrival ledger (the
//! correctness accounting: every arrival ends exactly once), errors by kind, the HDR
//! histograms (whole run, plus the current second's for the time series), and the
//! in-process signals agents send to REST customers.
//!
//! It owns no sockets and no timers; tasks report into it, the orchestrator reads it.

use super::config::Ch;
use crate::stats::{record_ns, Count};
use hdrhistogram::Histogram;
use protocol::ConversationId;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering::SeqCst};
use std::sync::Mutex;
use tokio::sync::mpsc;

/// Error samples kept verbatim.
const KEPT_SAMPLES: usize = 20;
/// Largest latency recorded, microseconds.
const MAX_US: u64 = 3_600_000_000;

/// Live counters.
#[derive(Debug, Default)]
pub struct Counters {
    pub arrivals: Count,
    pub answered: Count,
    pub abandoned: Count,
    /// Arrivals the engine refused (`queue_full`, HTTP errors on the opening message).
    pub refused: Count,
    pub offered: Count,
    pub accepted: Count,
    pub rejected: Count,
    /// Offers that timed out or were rescinded (not counting rejections).
    pub revoked: Count,
    /// Conversations an agent resolved after the K exchanges.
    pub completed: Count,
    /// Answered conversations the customer left before the agent resolved them.
    pub left_after_answer: Count,
    pub c2a_sent: Count,
    pub c2a_received: Count,
    /// Deliveries of a message already received (e.g. in a resumed view); not errors.
    pub c2a_redelivered: Count,
    pub a2c_sent: Count,
    pub a2c_received: Count,
    pub a2c_redelivered: Count,
    pub disconnects: Count,
    pub reconnects: Count,
    pub agents_ready: Count,
    /// Customer tasks that finished (any outcome).
    pub customers_done: Count,
    pub error_total: Count,
}

/// How an arrival ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Waiting,
    Answered,
    Abandoned,
    Refused,
}

#[derive(Debug)]
struct Arrival {
    channel: Ch,
    /// [`crate::clock`] nanoseconds of the arrival.
    arrived_ns: u64,
    outcome: Outcome,
    /// How many times an agent got `conversation_assigned` for it (first time only is
    /// legitimate; a resumed socket's view is not counted here).
    assigned: u32,
    /// Where its customer task is (see [`Shared::stage`]), for attributing a drain
    /// timeout.
    stage: &'static str,
    /// The agent and conversation that answered it.
    holder: Option<(String, ConversationId)>,
}

/// Signals an agent task sends to a REST customer task (the REST customer has no
/// socket of its own; the agent's stream is where its replies are observed).
#[derive(Debug, Clone, Copy)]
pub enum RestSignal {
    Assigned,
    /// The agent's reply `seq` is durable (its echo reached the agent).
    Reply(u64),
    /// The conversation left the agent (resolved).
    Ended,
}

/// Latency histograms, microseconds.
pub struct Hists {
    pub c2a: Histogram<u64>,
    pub a2c: Histogram<u64>,
    /// Opening message sent → `offer` at an agent.
    pub routing: Histogram<u64>,
    /// Arrival → `conversation_assigned` at the agent.
    pub answer: Histogram<u64>,
    /// `conversation_assigned` → `resolve` sent.
    pub handle: Histogram<u64>,
}

pub fn hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 3).expect("valid histogram bounds")
}

impl Hists {
    fn new() -> Hists {
        Hists {
            c2a: hist(),
            a2c: hist(),
            routing: hist(),
            answer: hist(),
            handle: hist(),
        }
    }
}

/// The current second's histograms, swapped out by the sampler.
pub struct SecondHists {
    pub c2a: Histogram<u64>,
    pub a2c: Histogram<u64>,
}

pub struct Shared {
    pub run: u32,
    pub counters: Counters,
    connections: AtomicI64,
    peak_connections: AtomicI64,
    ledger: Mutex<Vec<Arrival>>,
    violations: Mutex<Vec<String>>,
    errors: Mutex<(BTreeMap<String, u64>, Vec<String>)>,
    pub hists: Mutex<Hists>,
    pub second: Mutex<SecondHists>,
    rest: Mutex<HashMap<u32, mpsc::UnboundedSender<RestSignal>>>,
    stopping: std::sync::atomic::AtomicBool,
}

impl Shared {
    pub fn new(run: u32) -> Shared {
        Shared {
            run,
            counters: Counters::default(),
            connections: AtomicI64::new(0),
            peak_connections: AtomicI64::new(0),
            ledger: Mutex::new(Vec::new()),
            violations: Mutex::new(Vec::new()),
            errors: Mutex::new((BTreeMap::new(), Vec::new())),
            hists: Mutex::new(Hists::new()),
            second: Mutex::new(SecondHists {
                c2a: hist(),
                a2c: hist(),
            }),
            rest: Mutex::new(HashMap::new()),
            stopping: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub fn set_stopping(&self) {
        self.stopping.store(true, SeqCst);
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(SeqCst)
    }

    // ------------------------------------------------------------ connections

    pub fn connection_opened(&self) {
        let n = self.connections.fetch_add(1, SeqCst) + 1;
        self.peak_connections.fetch_max(n, SeqCst);
    }

    pub fn connection_closed(&self) {
        self.connections.fetch_sub(1, SeqCst);
    }

    pub fn connections(&self) -> (i64, i64) {
        (
            self.connections.load(SeqCst),
            self.peak_connections.load(SeqCst),
        )
    }

    // ------------------------------------------------------------ ledger

    /// A new arrival; its index goes into every stamp of its messages.
    pub fn arrive(&self, channel: Ch, arrived_ns: u64) -> u32 {
        self.counters.arrivals.inc();
        let mut l = self.ledger.lock().expect("ledger");
        l.push(Arrival {
            channel,
            arrived_ns,
            outcome: Outcome::Waiting,
            assigned: 0,
            stage: "opening",
            holder: None,
        });
        u32::try_from(l.len() - 1).expect("fewer than 2^32 arrivals")
    }

    pub fn channel_of(&self, idx: u32) -> Option<Ch> {
        let l = self.ledger.lock().expect("ledger");
        l.get(idx as usize).map(|a| a.channel)
    }

    /// Where arrival `idx`'s customer task is now (`opening`, `waiting`,
    /// `awaiting reply 2/4`, `awaiting resolve`, `done`).
    pub fn stage(&self, idx: u32, stage: &'static str) {
        if let Some(a) = self.ledger.lock().expect("ledger").get_mut(idx as usize) {
            a.stage = stage;
        }
    }

    /// Arrivals whose customer task has not finished, one line each: channel, outcome,
    /// stage, holder (agent and conversation).
    pub fn unfinished(&self) -> Vec<String> {
        let l = self.ledger.lock().expect("ledger");
        l.iter()
            .enumerate()
            .filter(|(_, a)| a.stage != "done")
            .map(|(i, a)| {
                let holder = a.holder.as_ref().map_or("none".to_owned(), |(ag, c)| {
                    format!("{ag} conversation {c}")
                });
                format!(
                    "arrival {i} ({}): {:?}, {}, held by {holder}",
                    a.channel.name(),
                    a.outcome,
                    a.stage
                )
            })
            .collect()
    }

    /// An agent got `conversation_assigned` for arrival `idx` (not a resumed view).
    /// Returns the arrival time when this is the first answer (else records a violation).
    pub fn answered(&self, idx: u32, agent: &str, conversation: ConversationId) -> Option<u64> {
        let mut l = self.ledger.lock().expect("ledger");
        let Some(a) = l.get_mut(idx as usize) else {
            drop(l);
            self.violation(format!("arrival {idx}: answered but never arrived"));
            return None;
        };
        a.assigned += 1;
        a.holder = Some((agent.to_owned(), conversation));
        let arrived_ns = a.arrived_ns;
        let prev = a.outcome;
        if prev == Outcome::Waiting {
            a.outcome = Outcome::Answered;
        }
        drop(l);
        match prev {
            Outcome::Waiting => {
                self.counters.answered.inc();
                Some(arrived_ns)
            }
            Outcome::Answered => {
                self.violation(format!("arrival {idx}: assigned twice"));
                None
            }
            Outcome::Abandoned => {
                self.violation(format!("arrival {idx}: answered after it was abandoned"));
                None
            }
            Outcome::Refused => {
                self.violation(format!("arrival {idx}: answered after it was refused"));
                None
            }
        }
    }

    /// The engine confirmed that arrival `idx` abandoned (its chat got
    /// `conversation {state: abandoned}`).
    pub fn abandoned(&self, idx: u32) {
        self.end(idx, Outcome::Abandoned, "abandoned");
    }

    /// The engine refused the arrival's opening message.
    pub fn refused(&self, idx: u32) {
        self.end(idx, Outcome::Refused, "refused");
    }

    fn end(&self, idx: u32, outcome: Outcome, what: &str) {
        let mut l = self.ledger.lock().expect("ledger");
        let prev = l.get(idx as usize).map(|a| a.outcome);
        if prev == Some(Outcome::Waiting) {
            l[idx as usize].outcome = outcome;
        }
        drop(l);
        match prev {
            Some(Outcome::Waiting) => match outcome {
                Outcome::Abandoned => self.counters.abandoned.inc(),
                Outcome::Refused => self.counters.refused.inc(),
                _ => {}
            },
            other => self.violation(format!("arrival {idx}: {what} after {other:?}")),
        }
    }

    /// `(waiting, answered, abandoned, refused)` from the ledger itself.
    pub fn outcomes(&self) -> (u64, u64, u64, u64) {
        let l = self.ledger.lock().expect("ledger");
        let mut n = (0, 0, 0, 0);
        for a in l.iter() {
            match a.outcome {
                Outcome::Waiting => n.0 += 1,
                Outcome::Answered => n.1 += 1,
                Outcome::Abandoned => n.2 += 1,
                Outcome::Refused => n.3 += 1,
            }
        }
        n
    }

    /// Arrivals by channel.
    pub fn by_channel(&self) -> BTreeMap<&'static str, u64> {
        let l = self.ledger.lock().expect("ledger");
        let mut m = BTreeMap::new();
        for a in l.iter() {
            *m.entry(a.channel.name()).or_default() += 1;
        }
        m
    }

    /// An accounting failure: the engine did something that must never happen.
    pub fn violation(&self, what: String) {
        let mut v = self.violations.lock().expect("violations");
        if v.len() < 1000 {
            v.push(what);
        }
    }

    pub fn violations(&self) -> Vec<String> {
        self.violations.lock().expect("violations").clone()
    }

    // ------------------------------------------------------------ errors

    /// An error of `kind` (`ws:<code>`, `http:<status>`, `timeout:<what>`,
    /// `harness:<what>`).
    pub fn error(&self, kind: &str, detail: String) {
        self.counters.error_total.inc();
        let mut e = self.errors.lock().expect("errors");
        *e.0.entry(kind.to_owned()).or_default() += 1;
        if e.1.len() < KEPT_SAMPLES {
            e.1.push(format!("{kind}: {detail}"));
        }
    }

    pub fn errors(&self) -> (BTreeMap<String, u64>, Vec<String>) {
        self.errors.lock().expect("errors").clone()
    }

    // ------------------------------------------------------------ latencies

    pub fn record_c2a(&self, ns: u64) {
        record_ns(&mut self.hists.lock().expect("hists").c2a, ns);
        record_ns(&mut self.second.lock().expect("second").c2a, ns);
    }

    pub fn record_a2c(&self, ns: u64) {
        record_ns(&mut self.hists.lock().expect("hists").a2c, ns);
        record_ns(&mut self.second.lock().expect("second").a2c, ns);
    }

    pub fn record(&self, which: fn(&mut Hists) -> &mut Histogram<u64>, ns: u64) {
        record_ns(which(&mut self.hists.lock().expect("hists")), ns);
    }

    // ------------------------------------------------------------ REST signals

    pub fn register_rest(&self, idx: u32) -> mpsc::UnboundedReceiver<RestSignal> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.rest.lock().expect("rest").insert(idx, tx);
        rx
    }

    pub fn unregister_rest(&self, idx: u32) {
        self.rest.lock().expect("rest").remove(&idx);
    }

    pub fn signal_rest(&self, idx: u32, s: RestSignal) {
        if let Some(tx) = self.rest.lock().expect("rest").get(&idx) {
            let _ = tx.send(s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_flags_double_answers_and_answer_after_abandon() {
        let s = Shared::new(1);
        let a = s.arrive(Ch::Chat, 5);
        let b = s.arrive(Ch::Sms, 6);
        let c = s.arrive(Ch::Chat, 7);
        let c1 = ConversationId::new();
        assert_eq!(s.answered(a, "lt-a0001", c1), Some(5));
        assert!(s.violations().is_empty());
        assert_eq!(s.answered(a, "lt-a0001", c1), None);
        s.abandoned(b);
        assert_eq!(s.answered(b, "lt-a0001", c1), None);
        assert_eq!(s.violations().len(), 2);
        assert_eq!(s.outcomes(), (1, 1, 1, 0));
        s.refused(c);
        assert_eq!(s.outcomes(), (0, 1, 1, 1));
        assert_eq!(s.counters.answered.get(), 1);
        assert_eq!(s.channel_of(b), Some(Ch::Sms));
        // A drain timeout names what is still running, and who holds it.
        s.stage(a, "awaiting resolve");
        s.stage(c, "done");
        let open = s.unfinished();
        assert_eq!(open.len(), 2, "{open:?}");
        assert_eq!(
            open[0],
            format!(
                "arrival 0 (chat): Answered, awaiting resolve, held by lt-a0001 conversation {c1}"
            )
        );
        assert!(open[1].starts_with("arrival 1 (sms): Abandoned, opening"));
    }
}
