//! Measurements: live counters shared by every task (atomics), latency histograms in a
//! few mutex-guarded shards (one histogram set per task would cost ~1 MB per socket),
//! merged at the end, error tallies, and the final report (table + JSON).

use crate::clock;
use crate::nodes::NodeCounts;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::{Mutex, MutexGuard};

/// Largest latency recorded, microseconds (larger values are clamped).
const MAX_US: u64 = 3_600_000_000;
/// Error messages kept verbatim for the report.
const KEPT_SAMPLES: usize = 10;
/// Histogram shards; a task records into shard `task index % SHARDS`.
const SHARDS: usize = 16;

/// A counter that any task may bump. Sequentially consistent, so the drain check sees
/// increments in the order the tasks made them.
#[derive(Debug, Default)]
pub struct Count(AtomicU64);

impl Count {
    pub fn inc(&self) {
        self.0.fetch_add(1, SeqCst);
    }
    pub fn get(&self) -> u64 {
        self.0.load(SeqCst)
    }
}

/// Live counters. `c2a` = customer → agent, `a2c` = agent → customer; "measured" =
/// sent inside the measurement window (after the warm-up, before the end).
#[derive(Debug, Default)]
pub struct Counters {
    pub agents_ready: Count,
    pub customers_connected: Count,
    /// Customers past the end of their sending schedule.
    pub customers_done: Count,
    pub opened: Count,
    pub offered: Count,
    pub assigned: Count,
    pub offers_revoked: Count,
    pub stale: Count,
    pub c2a_sent: Count,
    pub c2a_acked: Count,
    pub c2a_received: Count,
    pub c2a_measured_sent: Count,
    pub c2a_measured_received: Count,
    pub a2c_sent: Count,
    pub a2c_acked: Count,
    pub a2c_received: Count,
    pub a2c_measured_sent: Count,
    pub a2c_measured_received: Count,
    pub out_of_order: Count,
    pub duplicate_acks: Count,
    pub error_frames: Count,
    pub harness_errors: Count,
}

/// State shared by the orchestrator and every socket task.
pub struct Shared {
    /// This run's id, written into every stamp.
    pub run: u32,
    pub counters: Counters,
    /// Measurement window, [`clock`] nanoseconds: `[measure_start, load_end)`. Set before
    /// the load phase starts; until then nothing is "measured".
    measure_start_ns: AtomicU64,
    load_end_ns: AtomicU64,
    /// Set just before every task is told to stop: endings seen after it are expected.
    stopping: AtomicBool,
    hists: Vec<Mutex<Hists>>,
    errors: Mutex<ErrorLog>,
    /// Where the clients are, for the split by placement of a run over several nodes.
    pub sites: crate::placement::Sites,
}

#[derive(Default)]
struct ErrorLog {
    /// `error` frames from the engine by code.
    by_code: BTreeMap<String, u64>,
    /// Harness-side failures (socket closed, misrouted message…) by kind.
    harness: BTreeMap<String, u64>,
    samples: Vec<String>,
}

impl Shared {
    pub fn new(run: u32) -> Shared {
        Shared {
            run,
            counters: Counters::default(),
            measure_start_ns: AtomicU64::new(u64::MAX),
            load_end_ns: AtomicU64::new(u64::MAX),
            stopping: AtomicBool::new(false),
            hists: (0..SHARDS).map(|_| Mutex::new(Hists::new())).collect(),
            errors: Mutex::new(ErrorLog::default()),
            sites: Default::default(),
        }
    }

    /// The histogram shard for task number `task`, locked; hold it only to record.
    pub fn hists(&self, task: usize) -> MutexGuard<'_, Hists> {
        self.hists[task % SHARDS].lock().expect("histogram shard")
    }

    /// All shards merged.
    pub fn merged_hists(&self) -> Hists {
        let mut all = Hists::new();
        for h in &self.hists {
            all.merge(&h.lock().expect("histogram shard"));
        }
        all
    }

    pub fn set_stopping(&self) {
        self.stopping.store(true, SeqCst);
    }

    /// Whether the run is stopping (sockets closing and conversations ending are expected).
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(SeqCst)
    }

    pub fn set_window(&self, measure_start_ns: u64, load_end_ns: u64) {
        self.measure_start_ns.store(measure_start_ns, Relaxed);
        self.load_end_ns.store(load_end_ns, Relaxed);
    }

    /// Whether a message sent at `sent_ns` counts towards the figures.
    pub fn in_window(&self, sent_ns: u64) -> bool {
        sent_ns >= self.measure_start_ns.load(Relaxed) && sent_ns < self.load_end_ns.load(Relaxed)
    }

    /// An `error` frame from the engine.
    pub fn engine_error(&self, socket: &str, code: &str, message: &str, reference: Option<&str>) {
        self.counters.error_frames.inc();
        let mut log = self.errors.lock().expect("error log");
        *log.by_code.entry(code.to_owned()).or_default() += 1;
        if log.samples.len() < KEPT_SAMPLES {
            log.samples.push(format!(
                "{socket}: error {code}: {message}{}",
                reference.map(|r| format!(" (ref {r})")).unwrap_or_default()
            ));
        }
    }

    /// `error` frames by code, and harness failures by kind.
    pub fn error_tallies(&self) -> (BTreeMap<String, u64>, BTreeMap<String, u64>) {
        let log = self.errors.lock().expect("error log");
        (log.by_code.clone(), log.harness.clone())
    }

    /// The error messages kept verbatim (at most ten).
    pub fn error_samples(&self) -> Vec<String> {
        self.errors.lock().expect("error log").samples.clone()
    }

    /// A failure seen by the harness itself.
    pub fn harness_error(&self, kind: &str, detail: String) {
        self.counters.harness_errors.inc();
        let mut log = self.errors.lock().expect("error log");
        *log.harness.entry(kind.to_owned()).or_default() += 1;
        if log.samples.len() < KEPT_SAMPLES {
            log.samples.push(format!("{kind}: {detail}"));
        }
    }
}

/// Latency histograms, microseconds.
pub struct Hists {
    /// Customer send → agent `event` (message_in).
    pub c2a: Histogram<u64>,
    /// Agent send → customer `event` (message_out).
    pub a2c: Histogram<u64>,
    /// Customer send → its `ack` (the message durable): the first part of `c2a`.
    pub c2a_ack: Histogram<u64>,
    /// Agent send → its `ack` (the reply durable): the first part of `a2c`.
    pub a2c_ack: Histogram<u64>,
    /// Opening message send → agent `offer`.
    pub offer: Histogram<u64>,
    /// Opening message send → agent `conversation_assigned` (includes the accept).
    pub assigned: Histogram<u64>,
    /// How late the harness sent each load message after its scheduled tick.
    pub send_lag: Histogram<u64>,
}

fn hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 3).expect("valid histogram bounds")
}

/// Records a latency in nanoseconds (as microseconds, at least 1).
pub fn record_ns(h: &mut Histogram<u64>, ns: u64) {
    h.saturating_record((ns / 1000).clamp(1, MAX_US));
}

/// Records the time from `sent_ns` to now.
pub fn record_since(h: &mut Histogram<u64>, sent_ns: u64) {
    record_ns(h, clock::now_ns().saturating_sub(sent_ns));
}

impl Default for Hists {
    fn default() -> Hists {
        Hists::new()
    }
}

impl Hists {
    pub fn new() -> Hists {
        Hists {
            c2a: hist(),
            a2c: hist(),
            c2a_ack: hist(),
            a2c_ack: hist(),
            offer: hist(),
            assigned: hist(),
            send_lag: hist(),
        }
    }

    pub fn merge(&mut self, other: &Hists) {
        // Same bounds everywhere, so adding cannot fail.
        let _ = self.c2a.add(&other.c2a);
        let _ = self.a2c.add(&other.a2c);
        let _ = self.c2a_ack.add(&other.c2a_ack);
        let _ = self.a2c_ack.add(&other.a2c_ack);
        let _ = self.offer.add(&other.offer);
        let _ = self.assigned.add(&other.assigned);
        let _ = self.send_lag.add(&other.send_lag);
    }
}

// ---------------------------------------------------------------- report

/// Appends the latency table (header and one row per distribution) every report prints.
pub fn write_latency_table(s: &mut String, rows: &[(&str, &Latency)]) {
    use std::fmt::Write as _;
    let _ = writeln!(
        s,
        "{:<18} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "latency (ms)", "samples", "mean", "p50", "p90", "p99", "p99.9", "max"
    );
    let f = |v: Option<f64>| v.map(|v| format!("{v:.3}")).unwrap_or_else(|| "-".into());
    for (name, l) in rows {
        let _ = writeln!(
            s,
            "{:<18} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            name,
            l.samples,
            f(l.mean),
            f(l.p50),
            f(l.p90),
            f(l.p99),
            f(l.p999),
            f(l.max)
        );
    }
}

/// Appends one line per node: sockets opened there, reconnections, refusals.
pub fn write_nodes(s: &mut String, nodes: &[NodeCounts]) {
    use std::fmt::Write as _;
    let _ = writeln!(
        s,
        "{:<28} {:>7} {:>10} {:>11} {:>8}",
        "node", "agents", "customers", "reconnects", "refused"
    );
    for n in nodes {
        let _ = writeln!(
            s,
            "{:<28} {:>7} {:>10} {:>11} {:>8}",
            n.url, n.agent_connects, n.customer_connects, n.reconnects, n.refused
        );
    }
}

/// Latency distribution in milliseconds (`null`s in JSON when there were no samples).
#[derive(Debug, Clone, Serialize, Default)]
pub struct Latency {
    pub samples: u64,
    pub mean: Option<f64>,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
    pub p999: Option<f64>,
    pub max: Option<f64>,
}

impl Latency {
    pub fn of(h: &Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Latency {
            samples: h.len(),
            mean: Some(h.mean().round() / 1000.0),
            p50: Some(ms(h.value_at_quantile(0.50))),
            p90: Some(ms(h.value_at_quantile(0.90))),
            p99: Some(ms(h.value_at_quantile(0.99))),
            p999: Some(ms(h.value_at_quantile(0.999))),
            max: Some(ms(h.max())),
        }
    }
}

/// One direction of message traffic.
#[derive(Debug, Serialize)]
pub struct Flow {
    /// Messages sent during the whole load phase (warm-up included).
    pub sent: u64,
    /// `ack`s received for them.
    pub acked: u64,
    /// Messages that reached the other end.
    pub received: u64,
    /// `sent - received` (0 on a healthy run).
    pub lost: u64,
    /// Sent inside the measurement window.
    pub measured_sent: u64,
    /// Of those, received.
    pub measured_received: u64,
    /// `measured_sent / window`: the rate the harness achieved, messages per second.
    pub send_rate_per_s: f64,
    /// `measured_received / window`: delivered messages per second.
    pub throughput_per_s: f64,
    pub latency_ms: Latency,
}

#[derive(Debug, Serialize)]
pub struct RunConfig {
    /// The engine URL; several nodes comma-separated (each is in the report's `nodes`).
    pub url: String,
    pub agents: u32,
    pub customers: u32,
    pub chat_capacity: u16,
    pub target_rate_per_s: f64,
    pub warmup_s: f64,
    pub duration_s: f64,
    pub reply_every: u64,
    pub text_bytes: usize,
    pub run_id: String,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub config: RunConfig,
    /// Measurement window actually used, seconds.
    pub window_s: f64,
    pub customer_to_agent: Flow,
    pub agent_to_customer: Flow,
    /// Customer send → its `ack`: the part of `customer_to_agent` until durable.
    pub customer_ack_ms: Latency,
    /// Agent send → its `ack`: the part of `agent_to_customer` until durable.
    pub agent_ack_ms: Latency,
    pub conversations_opened: u64,
    pub offers: u64,
    pub assigned: u64,
    pub offers_revoked: u64,
    pub time_to_offer_ms: Latency,
    pub time_to_assigned_ms: Latency,
    /// Harness health: how late load messages left after their scheduled tick.
    pub send_lag_ms: Latency,
    pub out_of_order: u64,
    pub duplicate_acks: u64,
    /// Conversations from earlier runs found held or offered, resolved by the harness.
    pub stale_conversations: u64,
    /// `error` frames received, by code.
    pub errors: BTreeMap<String, u64>,
    /// Harness-side failures, by kind.
    pub harness_errors: BTreeMap<String, u64>,
    pub error_samples: Vec<String>,
    /// Whether the run passed: nothing lost, no `error` frame, no harness failure.
    pub ok: bool,
    /// A local engine's memory and CPU (`--engine-pid`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine: Option<EngineUse>,
    /// Each `--url` with the sockets opened on it and the attempts it refused (empty
    /// for the relay).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<NodeCounts>,
    /// Over several spread nodes: customer → agent latency by where the actors ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placement: Option<crate::placement::HopSplit>,
}

/// A local engine's resource use over a `messages` run, read from /proc.
#[derive(Debug, Clone, Serialize)]
pub struct EngineUse {
    /// Websockets held at the "connected" reading (agents + customers).
    pub connections: u64,
    /// RSS before the harness connected anything.
    pub rss_before_mib: f64,
    /// RSS with every connection open and every conversation assigned (after `--hold`).
    pub rss_connected_mib: f64,
    /// Highest RSS seen, load included.
    pub rss_peak_mib: f64,
    /// (connected − before) / connections: a socket, its session actor, its customer
    /// actor and open conversation (customers), or agent actor (agents).
    pub kib_per_connection: Option<f64>,
    /// Mean engine CPU over the measured window (100 = one core).
    pub cpu_percent: Option<f64>,
}

impl Report {
    pub fn build(config: RunConfig, shared: &Shared, h: &Hists, window_s: f64) -> Report {
        let c = &shared.counters;
        let per_s = |n: u64| {
            if window_s > 0.0 {
                n as f64 / window_s
            } else {
                0.0
            }
        };
        let flow =
            |sent: &Count, acked: &Count, recv: &Count, msent: &Count, mrecv: &Count, lat| Flow {
                sent: sent.get(),
                acked: acked.get(),
                received: recv.get(),
                lost: sent.get().saturating_sub(recv.get()),
                measured_sent: msent.get(),
                measured_received: mrecv.get(),
                send_rate_per_s: per_s(msent.get()),
                throughput_per_s: per_s(mrecv.get()),
                latency_ms: Latency::of(lat),
            };
        let c2a = flow(
            &c.c2a_sent,
            &c.c2a_acked,
            &c.c2a_received,
            &c.c2a_measured_sent,
            &c.c2a_measured_received,
            &h.c2a,
        );
        let a2c = flow(
            &c.a2c_sent,
            &c.a2c_acked,
            &c.a2c_received,
            &c.a2c_measured_sent,
            &c.a2c_measured_received,
            &h.a2c,
        );
        let log = shared.errors.lock().expect("error log");
        let ok = c2a.lost == 0
            && a2c.lost == 0
            && c2a.sent > 0
            && log.by_code.is_empty()
            && log.harness.is_empty();
        Report {
            config,
            window_s,
            customer_to_agent: c2a,
            agent_to_customer: a2c,
            customer_ack_ms: Latency::of(&h.c2a_ack),
            agent_ack_ms: Latency::of(&h.a2c_ack),
            conversations_opened: c.opened.get(),
            offers: c.offered.get(),
            assigned: c.assigned.get(),
            offers_revoked: c.offers_revoked.get(),
            time_to_offer_ms: Latency::of(&h.offer),
            time_to_assigned_ms: Latency::of(&h.assigned),
            send_lag_ms: Latency::of(&h.send_lag),
            out_of_order: c.out_of_order.get(),
            duplicate_acks: c.duplicate_acks.get(),
            stale_conversations: c.stale.get(),
            errors: log.by_code.clone(),
            harness_errors: log.harness.clone(),
            error_samples: log.samples.clone(),
            ok,
            engine: None,
            nodes: Vec::new(),
            placement: None,
        }
    }

    /// The human-readable table.
    pub fn table(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let cfg = &self.config;
        let _ = writeln!(
            s,
            "run {}: {} agents (chat capacity {}), {} customers, target {:.0} msg/s, warm-up {:.1}s, measured {:.2}s, reply every {}",
            cfg.run_id,
            cfg.agents,
            cfg.chat_capacity,
            cfg.customers,
            cfg.target_rate_per_s,
            cfg.warmup_s,
            self.window_s,
            cfg.reply_every
        );
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "{:<18} {:>9} {:>9} {:>9} {:>6} {:>10} {:>12}",
            "messages", "sent", "acked", "received", "lost", "sent/s", "received/s"
        );
        for (name, f) in [
            ("customer -> agent", &self.customer_to_agent),
            ("agent -> customer", &self.agent_to_customer),
        ] {
            let _ = writeln!(
                s,
                "{:<18} {:>9} {:>9} {:>9} {:>6} {:>10.1} {:>12.1}",
                name, f.sent, f.acked, f.received, f.lost, f.send_rate_per_s, f.throughput_per_s
            );
        }
        let _ = writeln!(s);
        write_latency_table(
            &mut s,
            &[
                ("customer -> agent", &self.customer_to_agent.latency_ms),
                ("agent -> customer", &self.agent_to_customer.latency_ms),
                ("c->a ack (durable)", &self.customer_ack_ms),
                ("a->c ack (durable)", &self.agent_ack_ms),
                ("time to offer", &self.time_to_offer_ms),
                ("time to assigned", &self.time_to_assigned_ms),
                ("send lag (harness)", &self.send_lag_ms),
            ],
        );
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "conversations: {} opened, {} offers, {} assigned, {} offers revoked, {} stale resolved",
            self.conversations_opened, self.offers, self.assigned, self.offers_revoked, self.stale_conversations
        );
        let _ = writeln!(
            s,
            "ordering: {} out of order, {} duplicate acks",
            self.out_of_order, self.duplicate_acks
        );
        if let Some(e) = &self.engine {
            let per = e
                .kib_per_connection
                .map_or("-".to_owned(), |k| format!("{k:.1} KiB/connection"));
            let cpu = e.cpu_percent.map_or("-".to_owned(), |c| format!("{c:.0}%"));
            let _ = writeln!(
                s,
                "engine: RSS {:.1} MiB before, {:.1} MiB with {} connections ({per}), peak {:.1} MiB; CPU {cpu} during the load",
                e.rss_before_mib, e.rss_connected_mib, e.connections, e.rss_peak_mib
            );
        }
        if self.nodes.len() > 1 {
            write_nodes(&mut s, &self.nodes);
        }
        if let Some(p) = &self.placement {
            let _ = writeln!(
                s,
                "customer -> agent by placement ({} samples not placed):",
                p.unplaced
            );
            write_latency_table(
                &mut s,
                &[
                    ("all on one node", &p.one_node),
                    ("c.actor/queue/a.socket on 3", &p.three_nodes),
                    ("other placements", &p.mixed),
                ],
            );
            let _ = writeln!(s);
        }
        let list = |m: &BTreeMap<String, u64>| {
            if m.is_empty() {
                "none".to_owned()
            } else {
                m.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        let _ = writeln!(s, "error frames by code: {}", list(&self.errors));
        let _ = writeln!(s, "harness errors: {}", list(&self.harness_errors));
        for e in &self.error_samples {
            let _ = writeln!(s, "  {e}");
        }
        let _ = writeln!(s);
        let _ = write!(
            s,
            "result: {}",
            if self.ok {
                "PASS"
            } else {
                "FAIL (lost messages, error frames or harness errors)"
            }
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_summary_in_ms() {
        let mut h = Hists::new();
        for ns in [1_000_000u64, 2_000_000, 3_000_000] {
            record_ns(&mut h.c2a, ns);
        }
        record_ns(&mut h.c2a, 10); // sub-microsecond → 1 µs
        let l = Latency::of(&h.c2a);
        assert_eq!(l.samples, 4);
        assert!((l.max.unwrap() - 3.0).abs() < 0.01);
        assert!(Latency::of(&h.a2c).p50.is_none());
    }

    #[test]
    fn window() {
        let s = Shared::new(1);
        assert!(!s.in_window(5));
        s.set_window(10, 20);
        assert!(!s.in_window(9) && s.in_window(10) && s.in_window(19) && !s.in_window(20));
    }
}
