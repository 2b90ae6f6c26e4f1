//! The scenario's results: the per-second time series, the final figures with the
//! correctness accounting, the human table (stdout) and the JSON (`--json`). Charts and
//! the HTML page are in `charts.rs`.

use super::config::Scenario;
use super::shared::Shared;
use crate::stats::Latency;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// One second of the run.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    /// Seconds since the load started.
    pub t_s: f64,
    pub arrivals: u64,
    /// Cumulative outcomes so far.
    pub answered: u64,
    pub abandoned: u64,
    /// Arrivals without an outcome yet (waiting to be answered).
    pub waiting: u64,
    /// Messages received (both directions) during this second, per second.
    pub msgs_per_s: f64,
    /// Conversations completed during this second, per second.
    pub conversations_per_s: f64,
    /// Customer → agent latency over this second, ms.
    pub c2a_p50_ms: Option<f64>,
    pub c2a_p99_ms: Option<f64>,
    pub a2c_p99_ms: Option<f64>,
    pub connections: i64,
    pub errors: u64,
    pub engine_rss_mib: Option<f64>,
    pub engine_cpu_pct: Option<f64>,
}

/// Message counts in one direction.
#[derive(Debug, Clone, Serialize)]
pub struct Flow {
    pub sent: u64,
    /// Distinct messages received (each at most once).
    pub received: u64,
    /// `sent - received`.
    pub lost: u64,
    /// Extra deliveries of messages already received (resumed views); not failures.
    pub redelivered: u64,
    pub latency_ms: Latency,
}

#[derive(Debug, Clone, Serialize)]
pub struct Accounting {
    pub arrivals: u64,
    pub by_channel: BTreeMap<&'static str, u64>,
    pub answered: u64,
    pub abandoned: u64,
    /// Refused by the engine (HTTP error or failed connection on arrival).
    pub refused: u64,
    /// No outcome when the run ended.
    pub still_waiting: u64,
    pub offered: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub revoked: u64,
    /// Conversations the agent resolved after the exchange.
    pub completed: u64,
    /// Answered conversations the customer left (patience ran out as it was answered).
    pub left_after_answer: u64,
    /// Things that must never happen (assigned twice, answered after abandon, misrouted).
    pub violations: Vec<String>,
    /// `arrivals == answered + abandoned + refused + still_waiting`, counters agree with
    /// the ledger, no violation, no message lost.
    pub ok: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Engine {
    pub pid: u32,
    pub rss_peak_mib: Option<f64>,
    pub rss_last_mib: Option<f64>,
    pub cpu_mean_pct: Option<f64>,
    pub cpu_peak_pct: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScenarioReport {
    pub scenario: Scenario,
    pub run_id: String,
    pub seed: u64,
    pub url: String,
    /// Length of the arrival phase, seconds.
    pub duration_s: f64,
    /// Time spent draining afterwards, seconds.
    pub drain_s: f64,
    pub accounting: Accounting,
    pub customer_to_agent: Flow,
    pub agent_to_customer: Flow,
    pub routing_ms: Latency,
    pub time_to_answer_ms: Latency,
    pub handle_time_ms: Latency,
    /// Messages received (both directions) per second of arrivals + drain.
    pub msgs_per_s: f64,
    pub conversations_per_s: f64,
    pub errors: BTreeMap<String, u64>,
    pub error_samples: Vec<String>,
    pub connections_peak: i64,
    pub connections_final: i64,
    pub disconnects: u64,
    pub reconnects: u64,
    pub engine: Option<Engine>,
    pub series: Vec<Sample>,
    /// Accounting passed (exit status 0).
    pub ok: bool,
}

impl Accounting {
    pub fn build(shared: &Shared, lost: u64) -> Accounting {
        let c = &shared.counters;
        let (waiting, answered, abandoned, refused) = shared.outcomes();
        let arrivals = c.arrivals.get();
        let mut violations = shared.violations();
        if answered != c.answered.get() || abandoned != c.abandoned.get() {
            violations.push(format!(
                "counters disagree with the ledger: answered {answered}/{}, abandoned {abandoned}/{}",
                c.answered.get(),
                c.abandoned.get()
            ));
        }
        if arrivals != answered + abandoned + refused + waiting {
            violations.push(format!(
                "arrivals {arrivals} != answered {answered} + abandoned {abandoned} + refused {refused} + waiting {waiting}"
            ));
        }
        let ok = violations.is_empty() && lost == 0;
        Accounting {
            arrivals,
            by_channel: shared.by_channel(),
            answered,
            abandoned,
            refused,
            still_waiting: waiting,
            offered: c.offered.get(),
            accepted: c.accepted.get(),
            rejected: c.rejected.get(),
            revoked: c.revoked.get(),
            completed: c.completed.get(),
            left_after_answer: c.left_after_answer.get(),
            violations,
            ok,
        }
    }
}

impl ScenarioReport {
    /// The human-readable table.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let a = &self.accounting;
        let _ = writeln!(
            s,
            "scenario {} (run {}, seed {}): {} agents, {:.2}/s arrivals, {:.1}s + {:.1}s drain, K={}",
            self.scenario.name,
            self.run_id,
            self.seed,
            self.scenario.agents.count,
            self.scenario.arrivals.rate_per_s,
            self.duration_s,
            self.drain_s,
            self.scenario.conversation.messages
        );
        let chans: Vec<String> = a
            .by_channel
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "arrivals {} ({}): answered {}, abandoned {}, refused {}, still waiting {}",
            a.arrivals,
            chans.join(" "),
            a.answered,
            a.abandoned,
            a.refused,
            a.still_waiting
        );
        let _ = writeln!(
            s,
            "offers {} (accepted {}, rejected {}, revoked {}); completed {}, customer left after answer {}",
            a.offered, a.accepted, a.rejected, a.revoked, a.completed, a.left_after_answer
        );
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "{:<18} {:>8} {:>9} {:>6} {:>11}",
            "messages", "sent", "received", "lost", "redelivered"
        );
        for (name, f) in [
            ("customer -> agent", &self.customer_to_agent),
            ("agent -> customer", &self.agent_to_customer),
        ] {
            let _ = writeln!(
                s,
                "{:<18} {:>8} {:>9} {:>6} {:>11}",
                name, f.sent, f.received, f.lost, f.redelivered
            );
        }
        let _ = writeln!(s);
        crate::stats::write_latency_table(
            &mut s,
            &[
                ("customer -> agent", &self.customer_to_agent.latency_ms),
                ("agent -> customer", &self.agent_to_customer.latency_ms),
                ("routing", &self.routing_ms),
                ("time to answer", &self.time_to_answer_ms),
                ("handle time", &self.handle_time_ms),
            ],
        );
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "throughput: {:.1} msgs/s, {:.2} conversations/s",
            self.msgs_per_s, self.conversations_per_s
        );
        let _ = writeln!(
            s,
            "connections: peak {}, at the end {}; agent disconnects {}, reconnects {}",
            self.connections_peak, self.connections_final, self.disconnects, self.reconnects
        );
        match &self.engine {
            Some(e) => {
                let f = |v: Option<f64>, u: &str| {
                    v.map(|v| format!("{v:.1}{u}"))
                        .unwrap_or_else(|| "-".into())
                };
                let _ = writeln!(
                    s,
                    "engine pid {}: RSS peak {}, last {}; CPU mean {}, peak {}",
                    e.pid,
                    f(e.rss_peak_mib, " MiB"),
                    f(e.rss_last_mib, " MiB"),
                    f(e.cpu_mean_pct, "%"),
                    f(e.cpu_peak_pct, "%")
                );
            }
            None => {
                let _ = writeln!(s, "engine: not sampled (no --engine-pid)");
            }
        }
        let errs: Vec<String> = self
            .errors
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(
            s,
            "errors by kind: {}",
            if errs.is_empty() {
                "none".to_owned()
            } else {
                errs.join(", ")
            }
        );
        for e in &self.error_samples {
            let _ = writeln!(s, "  {e}");
        }
        for v in a.violations.iter().take(20) {
            let _ = writeln!(s, "  VIOLATION: {v}");
        }
        let _ = writeln!(s);
        let _ = write!(
            s,
            "accounting: {}",
            if self.ok {
                "PASS (every arrival ended at most once, nothing lost)"
            } else {
                "FAIL (violations or lost messages)"
            }
        );
        s
    }
}
