//! `loadtest erlang`: checks the engine against the Erlang C (M/M/N) queueing model.
//!
//! Owns two things:
//!
//! - [`ErlangC`], the model, computed stably: Erlang B by its recurrence
//!   `B(0) = 1, B(k) = A·B(k−1) / (k + A·B(k−1))`, then
//!   `C = N·B / (N − A·(1 − B))`; no factorials and no powers of large numbers, so it
//!   works for thousands of agents. [`compare`] sets measured figures against it.
//! - The validation run: `--agents` agents with chat capacity 1 (one Erlang C server
//!   each) serve one queue; web-chat customers arrive as a seeded Poisson process, each
//!   holds its agent for an exponential handle time (mean `--aht`) and is then resolved;
//!   nobody abandons. Waits are measured from the customer's opening message to the
//!   agent receiving the `offer` (see loadtest/README.md, "erlang", for why).
//!
//! It speaks only the documented protocol (through `net` and `frames`) and must not
//! know the engine's internals: the engine is a black box that should behave like N
//! servers with one FIFO queue.

use crate::clock;
use crate::frames::{code_name, read, resolve, set_status, to_text};
use crate::messages::{parse_duration, wait_for};
use crate::net::{ws_base, Api, Conn};
use crate::stamp::{Kind, Stamp};
use crate::stats::{Count, Shared};
use anyhow::{bail, ensure, Context, Result};
use futures_util::{stream, StreamExt, TryStreamExt};
use protocol::rest::{AgentUpsert, Capacity, Role};
use protocol::{
    AgentClientMsg, AgentServerMsg, ChatClientMsg, ChatServerMsg, ConversationId,
    ConversationState, QueueName, RequestedStatus,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::collections::BTreeMap;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

// ---------------------------------------------------------------- the model

/// Why a model cannot be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// Offered traffic A = λ·AHT is at least the number of agents: the queue grows
    /// without bound and Erlang C has no steady state.
    #[error("unstable system: traffic {traffic:.3} Erlangs ≥ {agents} agents (the queue grows without bound)")]
    Unstable { traffic: f64, agents: u32 },
    /// A rate or handle time that is not a positive finite number, or zero agents.
    #[error("invalid model input: {0}")]
    Invalid(&'static str),
}

/// An M/M/N queue: Poisson arrivals, exponential handle times, N agents, FIFO, no
/// abandonment. Built only for stable systems (A < N), so every figure is defined.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ErlangC {
    /// λ, arrivals per second.
    arrival_rate_per_s: f64,
    /// AHT, mean handle time in seconds.
    mean_handle_s: f64,
    /// N, agents (servers).
    agents: u32,
}

impl ErlangC {
    pub fn new(
        arrival_rate_per_s: f64,
        mean_handle_s: f64,
        agents: u32,
    ) -> Result<ErlangC, ModelError> {
        if !(arrival_rate_per_s.is_finite() && arrival_rate_per_s > 0.0) {
            return Err(ModelError::Invalid("arrival rate must be positive"));
        }
        if !(mean_handle_s.is_finite() && mean_handle_s > 0.0) {
            return Err(ModelError::Invalid("mean handle time must be positive"));
        }
        if agents == 0 {
            return Err(ModelError::Invalid("at least one agent"));
        }
        let traffic = arrival_rate_per_s * mean_handle_s;
        if traffic >= f64::from(agents) {
            return Err(ModelError::Unstable { traffic, agents });
        }
        Ok(ErlangC {
            arrival_rate_per_s,
            mean_handle_s,
            agents,
        })
    }

    pub fn arrival_rate_per_s(&self) -> f64 {
        self.arrival_rate_per_s
    }

    pub fn mean_handle_s(&self) -> f64 {
        self.mean_handle_s
    }

    pub fn agents(&self) -> u32 {
        self.agents
    }

    /// A = λ·AHT, Erlangs.
    pub fn traffic_erlangs(&self) -> f64 {
        self.arrival_rate_per_s * self.mean_handle_s
    }

    /// ρ = A / N, the fraction of time an agent is busy.
    pub fn occupancy(&self) -> f64 {
        self.traffic_erlangs() / f64::from(self.agents)
    }

    /// Erlang B: the blocking probability of the same system without a queue.
    pub fn erlang_b(&self) -> f64 {
        erlang_b(self.traffic_erlangs(), self.agents)
    }

    /// Erlang C: P(W > 0), the probability that an arrival waits at all.
    pub fn prob_wait(&self) -> f64 {
        let (a, n) = (self.traffic_erlangs(), f64::from(self.agents));
        let b = self.erlang_b();
        (n * b / (n - a * (1.0 - b))).clamp(0.0, 1.0)
    }

    /// Rate of the conditional wait: given W > 0, W is exponential with rate
    /// (N − A) / AHT per second.
    fn drain_rate_per_s(&self) -> f64 {
        (f64::from(self.agents) - self.traffic_erlangs()) / self.mean_handle_s
    }

    /// Average speed of answer, seconds: E[W] = P(W>0) · AHT / (N − A).
    pub fn asa_s(&self) -> f64 {
        self.prob_wait() / self.drain_rate_per_s()
    }

    /// P(W > t): the fraction of arrivals waiting longer than `t_s` seconds.
    pub fn prob_wait_longer(&self, t_s: f64) -> f64 {
        self.prob_wait() * (-self.drain_rate_per_s() * t_s.max(0.0)).exp()
    }

    /// Service level: P(W ≤ t) = 1 − P(W>0) · e^{−(N−A)·t/AHT}.
    pub fn service_level(&self, t_s: f64) -> f64 {
        1.0 - self.prob_wait_longer(t_s)
    }

    /// The `p`-quantile of the wait, seconds (`p` in [0, 1)): 0 when at least a share
    /// `p` of arrivals is answered at once, else AHT/(N−A) · ln(P(W>0) / (1 − p)).
    pub fn wait_percentile(&self, p: f64) -> f64 {
        let p = p.clamp(0.0, 1.0 - f64::EPSILON);
        let c = self.prob_wait();
        if 1.0 - p >= c {
            0.0
        } else {
            (c / (1.0 - p)).ln() / self.drain_rate_per_s()
        }
    }
}

/// Erlang B for traffic `a` on `n` servers, by the stable recurrence.
pub fn erlang_b(a: f64, n: u32) -> f64 {
    let mut b = 1.0;
    for k in 1..=n {
        b = a * b / (f64::from(k) + a * b);
    }
    b
}

// ---------------------------------------------------------------- comparison

/// What a run measured. Standard errors come from batch means (see [`batch_se`]);
/// `None` when there were too few batches.
#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    /// Arrivals whose opening message was sent inside the measurement window.
    pub arrivals: u64,
    /// Measurement window, seconds.
    pub window_s: f64,
    /// Waits above this count as "waited" (routing and offer delivery are not queueing).
    pub wait_threshold_s: f64,
    /// P(W > threshold).
    pub prob_wait: f64,
    pub prob_wait_se: Option<f64>,
    /// Mean wait, seconds.
    pub asa_s: f64,
    pub asa_se: Option<f64>,
    /// Service level threshold, seconds.
    pub sl_threshold_s: f64,
    /// P(W ≤ sl_threshold).
    pub service_level: f64,
    pub service_level_se: Option<f64>,
    /// 90th percentile of the wait, seconds.
    pub wait_p90_s: Option<f64>,
    /// Mean time an agent held a conversation (offer received → resolve sent), seconds.
    pub mean_hold_s: Option<f64>,
}

/// How far measured may be from predicted. Each checked metric passes when
/// |measured − predicted| ≤ max(floor, z · standard error).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Tolerance {
    /// Floor for P(W > τ), absolute.
    pub prob_wait_abs: f64,
    /// Floor for ASA, relative to the prediction.
    pub asa_rel: f64,
    /// Floor for the service level, absolute.
    pub service_level_abs: f64,
    /// Standard errors allowed (3 ≈ 99.7% if the batch means were independent normals).
    pub z: f64,
}

impl Default for Tolerance {
    fn default() -> Tolerance {
        Tolerance {
            prob_wait_abs: 0.05,
            asa_rel: 0.20,
            service_level_abs: 0.05,
            z: 3.0,
        }
    }
}

/// One line of the comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub metric: String,
    pub measured: f64,
    pub predicted: f64,
    pub abs_diff: f64,
    /// Allowed |difference|; `None` for rows shown for information only.
    pub tolerance: Option<f64>,
    pub within: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub rows: Vec<Row>,
    /// Every checked row within tolerance.
    pub within: bool,
}

/// Sets `measured` against `model`.
pub fn compare(measured: Measured, model: &ErlangC, tolerance: Tolerance) -> Comparison {
    let m = &measured;
    let allowed = |floor: f64, se: Option<f64>| floor.max(tolerance.z * se.unwrap_or(0.0));
    let checked = |metric: String, measured: f64, predicted: f64, tol: f64| {
        let abs_diff = (measured - predicted).abs();
        Row {
            metric,
            measured,
            predicted,
            abs_diff,
            tolerance: Some(tol),
            within: abs_diff <= tol,
        }
    };
    let info = |metric: String, measured: f64, predicted: f64| Row {
        metric,
        measured,
        predicted,
        abs_diff: (measured - predicted).abs(),
        tolerance: None,
        within: true,
    };
    let lambda = model.arrival_rate_per_s();
    let measured_rate = if m.window_s > 0.0 {
        m.arrivals as f64 / m.window_s
    } else {
        0.0
    };
    // Poisson count: sd = sqrt(λT) arrivals.
    let rate_tol = tolerance.z * (lambda * m.window_s).sqrt() / m.window_s.max(f64::MIN_POSITIVE);
    let asa_pred = model.asa_s();
    let mut rows = vec![
        checked("arrival rate (/s)".into(), measured_rate, lambda, rate_tol),
        info("P(W>0)".into(), m.prob_wait, model.prob_wait()),
        checked(
            format!("P(W>{:.0}ms)", m.wait_threshold_s * 1000.0),
            m.prob_wait,
            model.prob_wait_longer(m.wait_threshold_s),
            allowed(tolerance.prob_wait_abs, m.prob_wait_se),
        ),
        checked(
            "ASA (s)".into(),
            m.asa_s,
            asa_pred,
            allowed(tolerance.asa_rel * asa_pred, m.asa_se),
        ),
        checked(
            format!("service level {:.2}s", m.sl_threshold_s),
            m.service_level,
            model.service_level(m.sl_threshold_s),
            allowed(tolerance.service_level_abs, m.service_level_se),
        ),
    ];
    if let Some(p90) = m.wait_p90_s {
        rows.push(info("wait p90 (s)".into(), p90, model.wait_percentile(0.9)));
    }
    if let Some(h) = m.mean_hold_s {
        rows.push(info("mean hold (s)".into(), h, model.mean_handle_s()));
    }
    let within = m.arrivals > 0 && rows.iter().all(|r| r.within);
    Comparison { rows, within }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<22} {:>10} {:>10} {:>10} {:>10}  within",
            "metric", "measured", "predicted", "|diff|", "tolerance"
        )?;
        for r in &self.rows {
            let (tol, within) = match r.tolerance {
                Some(t) => (format!("{t:.4}"), if r.within { "yes" } else { "NO" }),
                None => ("-".to_owned(), "(info)"),
            };
            writeln!(
                f,
                "{:<22} {:>10.4} {:>10.4} {:>10.4} {:>10}  {}",
                r.metric, r.measured, r.predicted, r.abs_diff, tol, within
            )?;
        }
        Ok(())
    }
}

/// Standard error of a mean from `k` batch means (each batch a contiguous slice of
/// the measurement window): `sd(batch means) / sqrt(k)`. Batching absorbs most of the
/// autocorrelation between successive customers' waits, which a naive
/// `sd / sqrt(n)` would ignore and so understate the error several-fold.
pub fn batch_se(batch_means: &[f64]) -> Option<f64> {
    let k = batch_means.len();
    if k < 2 {
        return None;
    }
    let kf = k as f64;
    let mean = batch_means.iter().sum::<f64>() / kf;
    let var = batch_means.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (kf - 1.0);
    Some((var / kf).sqrt())
}

/// One answered arrival: when its opening message was sent and how long it waited.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub sent_ns: u64,
    pub wait_s: f64,
}

/// Summarises the samples of a window `[start_ns, end_ns)` split into `batches`.
pub fn measure(
    samples: &[Sample],
    arrivals: u64,
    window: (u64, u64),
    batches: u32,
    wait_threshold_s: f64,
    sl_threshold_s: f64,
    mean_hold_s: Option<f64>,
) -> Measured {
    let (start, end) = window;
    let span = end.saturating_sub(start).max(1);
    let k = batches.max(1) as usize;
    let mean_of = |f: &dyn Fn(&Sample) -> f64| -> (f64, Option<f64>) {
        let n = samples.len();
        let all = if n == 0 {
            0.0
        } else {
            samples.iter().map(f).sum::<f64>() / n as f64
        };
        let mut sums = vec![(0.0, 0u64); k];
        for s in samples {
            let i = ((s.sent_ns.saturating_sub(start) as u128 * k as u128 / span as u128) as usize)
                .min(k - 1);
            sums[i].0 += f(s);
            sums[i].1 += 1;
        }
        let means: Vec<f64> = sums
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| s / *n as f64)
            .collect();
        (all, batch_se(&means))
    };
    let (prob_wait, prob_wait_se) = mean_of(&|s| {
        if s.wait_s > wait_threshold_s {
            1.0
        } else {
            0.0
        }
    });
    let (asa_s, asa_se) = mean_of(&|s| s.wait_s);
    let (service_level, service_level_se) =
        mean_of(&|s| if s.wait_s <= sl_threshold_s { 1.0 } else { 0.0 });
    Measured {
        arrivals,
        window_s: span as f64 / 1e9,
        wait_threshold_s,
        prob_wait,
        prob_wait_se,
        asa_s,
        asa_se,
        sl_threshold_s,
        service_level,
        service_level_se,
        wait_p90_s: percentile(samples, 0.9),
        mean_hold_s,
    }
}

/// The `p`-quantile of the samples' waits (nearest rank), seconds.
fn percentile(samples: &[Sample], p: f64) -> Option<f64> {
    let mut w: Vec<f64> = samples.iter().map(|s| s.wait_s).collect();
    if w.is_empty() {
        return None;
    }
    w.sort_by(f64::total_cmp);
    let rank = ((p * w.len() as f64).ceil() as usize).clamp(1, w.len());
    Some(w[rank - 1])
}

/// A sample of an exponential distribution with mean `mean` (inverse CDF).
fn exponential(rng: &mut StdRng, mean: f64) -> f64 {
    // gen() is in [0, 1), so 1 − u is in (0, 1] and the logarithm is finite.
    -mean * (1.0 - rng.gen::<f64>()).ln()
}

// ---------------------------------------------------------------- the run

/// Shortest measurement window, in mean handle times, for which batch-means standard
/// errors are trustworthy (10 batches of 10+ handle times each).
const MIN_WINDOW_AHTS: f64 = 100.0;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Engine base URL (plain HTTP).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Password of the engine's admin agent (the engine's `--admin-password`).
    #[arg(long)]
    pub admin_password: String,
    /// Id of the admin agent.
    #[arg(long, default_value = "admin")]
    pub admin_id: String,
    /// Agents (servers), each with chat capacity 1.
    #[arg(long, default_value_t = 10)]
    pub agents: u32,
    /// Mean handle time (exponential), e.g. 1s, 1500ms.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub aht: Duration,
    /// Arrivals per second (Poisson). Default: occupancy · agents / AHT.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Target occupancy when `--rate` is not given.
    #[arg(long, default_value_t = 0.8)]
    pub occupancy: f64,
    /// Measured time, after the warm-up.
    #[arg(long, default_value = "180s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Arrivals before measuring starts (the queue fills from empty).
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Service-level threshold: the share of arrivals answered within this time.
    #[arg(long, default_value = "500ms", value_parser = parse_duration)]
    pub sl_threshold: Duration,
    /// A wait above this counts as "waited" (below it: routing and delivery overhead).
    #[arg(long, default_value = "100ms", value_parser = parse_duration)]
    pub wait_threshold: Duration,
    /// Seed of the arrival and handle-time random numbers.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Batches the window is split into for standard errors.
    #[arg(long, default_value_t = 10)]
    pub batches: u32,
    /// Tolerance floor for P(W>τ) and the service level, absolute.
    #[arg(long, default_value_t = 0.05)]
    pub tol_prob: f64,
    /// Tolerance floor for ASA, relative to the prediction.
    #[arg(long, default_value_t = 0.20)]
    pub tol_asa: f64,
    /// Standard errors allowed beyond the floors.
    #[arg(long, default_value_t = 3.0)]
    pub z: f64,
    /// Queue the agents serve (the chat channel's default queue).
    #[arg(long, default_value = "general")]
    pub queue: String,
    /// Agent id prefix; ids are PREFIX0001, PREFIX0002…
    #[arg(long, default_value = "lt-e")]
    pub agent_prefix: String,
    /// Password given to the agents (8+ bytes).
    #[arg(long, default_value = "loadtest-agent")]
    pub agent_password: String,
    /// Longest wait for agents to be ready.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub setup_timeout: Duration,
    /// Longest wait after the last arrival for measured arrivals still queued.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub drain_timeout: Duration,
    /// Also write the figures as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// State shared by the orchestrator and every socket task.
struct Erl {
    /// Counters, error log, measurement window, stop flag (from the `messages` mode).
    base: Shared,
    /// Opening messages sent inside the window.
    measured_arrivals: Count,
    /// Arrivals whose customer task has ended (resolved, failed or stopped).
    customers_done: Count,
    /// Answered arrivals of the window: (send time, wait).
    waits: Mutex<Vec<Sample>>,
    /// Hold times (offer → resolve), seconds, of the window's arrivals.
    holds: Mutex<Vec<f64>>,
}

#[derive(Debug, Serialize)]
struct ErlReport {
    run_id: String,
    url: String,
    seed: u64,
    model: ErlangC,
    traffic_erlangs: f64,
    occupancy: f64,
    prob_wait: f64,
    asa_s: f64,
    arrivals_total: u64,
    unanswered: u64,
    measured: Measured,
    tolerance: Tolerance,
    comparison: Comparison,
    errors: u64,
    harness_errors: u64,
    ok: bool,
}

/// Runs `loadtest erlang` and prints the report; the exit status tells the result.
pub async fn main(args: &Args) -> ExitCode {
    match run(args).await {
        Ok(report) => {
            if let Some(path) = &args.json {
                let written = serde_json::to_string_pretty(&report)
                    .map_err(anyhow::Error::from)
                    .and_then(|j| std::fs::write(path, j + "\n").map_err(anyhow::Error::from));
                if let Err(e) = written {
                    eprintln!("error: writing {}: {e:#}", path.display());
                    return ExitCode::from(2);
                }
            }
            if report.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: &Args) -> Result<ErlReport> {
    let aht = args.aht.as_secs_f64();
    ensure!(aht > 0.0, "--aht must be positive");
    ensure!(!args.duration.is_zero(), "--duration must be positive");
    ensure!(
        args.agent_password.len() >= 8,
        "--agent-password must be at least 8 bytes"
    );
    let rate = args
        .rate
        .unwrap_or(args.occupancy * f64::from(args.agents) / aht);
    let model = ErlangC::new(rate, aht, args.agents)?;
    let tolerance = Tolerance {
        prob_wait_abs: args.tol_prob,
        asa_rel: args.tol_asa,
        service_level_abs: args.tol_prob,
        z: args.z,
    };

    clock::origin();
    let run_id = uuid::Uuid::new_v4().as_u128() as u32;
    let erl = Arc::new(Erl {
        base: Shared::new(run_id),
        measured_arrivals: Count::default(),
        customers_done: Count::default(),
        waits: Mutex::new(Vec::new()),
        holds: Mutex::new(Vec::new()),
    });
    eprintln!(
        "run {run_id:08x}: λ = {rate:.3}/s, AHT = {aht:.3}s, N = {}, A = {:.3} Erlangs, occupancy {:.1}%; predicted P(W>0) = {:.4}, ASA = {:.4}s",
        args.agents,
        model.traffic_erlangs(),
        model.occupancy() * 100.0,
        model.prob_wait(),
        model.asa_s()
    );
    let api = Api::new(&args.url)?;
    let ws = ws_base(&args.url)?;

    // ---- agents: chat capacity 1 each, so each is one server
    let admin = api
        .login(&args.admin_id, &args.admin_password)
        .await
        .context("admin login (is the engine running with --admin-password?)")?;
    let queue = QueueName::parse(&args.queue).context("--queue")?;
    let ids: Vec<String> = (1..=args.agents)
        .map(|i| format!("{}{i:04}", args.agent_prefix))
        .collect();
    let tokens: Vec<(usize, String, String)> = stream::iter(ids.into_iter().enumerate())
        .map(|(n, id)| {
            let (api, admin, queue) = (api.clone(), admin.clone(), &queue);
            async move {
                let body = AgentUpsert {
                    display_name: format!("Erlang test {id}"),
                    password: Some(args.agent_password.clone()),
                    role: Role::Agent,
                    skills: BTreeMap::new(),
                    queues: vec![queue.clone()],
                    capacity: Some(Capacity {
                        voice: 1,
                        chat: 1,
                        email: 1,
                        messaging: 1,
                    }),
                    disabled: false,
                };
                api.put_agent(&admin, &id, &body).await?;
                let token = api.login(&id, &args.agent_password).await?;
                anyhow::Ok((n, id, token))
            }
        })
        .buffer_unordered(16)
        .try_collect()
        .await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks: Vec<JoinHandle<()>> = Vec::new();
    for (n, id, token) in tokens {
        let rng = StdRng::seed_from_u64(
            args.seed ^ (0x9E37_79B9_7F4A_7C15_u64.wrapping_mul(n as u64 + 1)),
        );
        match ErlAgent::connect(&ws, id, &token, Arc::clone(&erl), rng, aht).await {
            Ok(a) => tasks.push(tokio::spawn(a.run(stop_rx.clone()))),
            Err(e) => {
                stop(&erl, stop_tx, tasks).await;
                return Err(e);
            }
        }
    }
    let c = &erl.base.counters;
    let total = u64::from(args.agents);
    if let Err(e) = wait_for(&erl.base, "agents available", args.setup_timeout, || {
        (
            c.agents_ready.get() >= total,
            format!("{}/{total}", c.agents_ready.get()),
        )
    })
    .await
    {
        stop(&erl, stop_tx, tasks).await;
        return Err(e);
    }

    // ---- arrivals: Poisson, seeded
    let start = Instant::now() + Duration::from_millis(100);
    let measure_start = start + args.warmup;
    let end = measure_start + args.duration;
    let window = (
        clock::ns_of(measure_start.into_std()),
        clock::ns_of(end.into_std()),
    );
    erl.base.set_window(window.0, window.1);
    eprintln!(
        "arrivals for {:.0}s warm-up + {:.0}s measured",
        args.warmup.as_secs_f64(),
        args.duration.as_secs_f64()
    );
    let mut rng = StdRng::seed_from_u64(args.seed);
    let mut next = start;
    let mut idx: u32 = 0;
    let mut customers: Vec<JoinHandle<()>> = Vec::new();
    let mut next_print = start + Duration::from_secs(5);
    loop {
        next += Duration::from_secs_f64(exponential(&mut rng, 1.0 / rate));
        if next >= end {
            break;
        }
        tokio::time::sleep_until(next).await;
        let erl2 = Arc::clone(&erl);
        customers.push(tokio::spawn(customer(
            ws.clone(),
            idx,
            erl2,
            stop_rx.clone(),
        )));
        idx += 1;
        if Instant::now() >= next_print {
            next_print += Duration::from_secs(5);
            eprintln!(
                "[{:>5.0}s] arrivals {idx}, offered {}, assigned {}, resolved {}, errors {} harness {}",
                (Instant::now() - start).as_secs_f64(),
                c.offered.get(),
                c.assigned.get(),
                erl.customers_done.get(),
                c.error_frames.get(),
                c.harness_errors.get()
            );
        }
        if c.harness_errors.get() > 0 && c.harness_errors.get() >= u64::from(idx.max(20)) {
            break; // everything is failing; stop feeding the engine
        }
    }
    tokio::time::sleep_until(end).await;

    // ---- drain: the window's arrivals still queued get answered
    let answered = || erl.waits.lock().expect("waits").len() as u64;
    let deadline = Instant::now() + args.drain_timeout;
    while answered() < erl.measured_arrivals.get() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let unanswered = erl.measured_arrivals.get().saturating_sub(answered());
    if unanswered > 0 {
        erl.base.harness_error(
            "unanswered",
            format!(
                "{unanswered} measured arrivals had no offer {:.0}s after the end",
                args.drain_timeout.as_secs_f64()
            ),
        );
    }
    tasks.extend(customers);
    stop(&erl, stop_tx, tasks).await;

    // ---- figures
    let waits = erl.waits.lock().expect("waits").clone();
    let holds = erl.holds.lock().expect("holds").clone();
    let mean_hold = (!holds.is_empty()).then(|| holds.iter().sum::<f64>() / holds.len() as f64);
    let measured = measure(
        &waits,
        erl.measured_arrivals.get(),
        window,
        args.batches,
        args.wait_threshold.as_secs_f64(),
        args.sl_threshold.as_secs_f64(),
        mean_hold,
    );
    let comparison = compare(measured.clone(), &model, tolerance);
    let errors = c.error_frames.get();
    let harness_errors = c.harness_errors.get();
    let ok = comparison.within && errors == 0 && harness_errors == 0;
    let report = ErlReport {
        run_id: format!("{run_id:08x}"),
        url: args.url.clone(),
        seed: args.seed,
        model,
        traffic_erlangs: model.traffic_erlangs(),
        occupancy: model.occupancy(),
        prob_wait: model.prob_wait(),
        asa_s: model.asa_s(),
        arrivals_total: u64::from(idx),
        unanswered,
        measured,
        tolerance,
        comparison,
        errors,
        harness_errors,
        ok,
    };
    print_report(&report, &erl.base);
    Ok(report)
}

fn print_report(r: &ErlReport, shared: &Shared) {
    let m = &r.measured;
    println!(
        "run {}: N = {} agents, λ = {:.3}/s, AHT = {:.3}s → A = {:.3} Erlangs, occupancy {:.1}%, seed {}",
        r.run_id,
        r.model.agents(),
        r.model.arrival_rate_per_s(),
        r.model.mean_handle_s(),
        r.traffic_erlangs,
        r.occupancy * 100.0,
        r.seed
    );
    println!(
        "arrivals: {} in all, {} measured in {:.1}s, {} unanswered; wait = opening message sent → agent receives the offer",
        r.arrivals_total, m.arrivals, m.window_s, r.unanswered
    );
    let se = |s: Option<f64>| s.map(|s| format!("{s:.4}")).unwrap_or_else(|| "-".into());
    println!(
        "standard errors (batch means): P(W>τ) {}, ASA {}, service level {}",
        se(m.prob_wait_se),
        se(m.asa_se),
        se(m.service_level_se)
    );
    println!();
    print!("{}", r.comparison);
    println!();
    println!(
        "tolerance: |diff| ≤ max(floor, {} × standard error); floors: P(W>τ) and service level {:.3}, ASA {:.0}% of predicted; arrival rate {} × sqrt(λT)/T",
        r.tolerance.z,
        r.tolerance.prob_wait_abs,
        r.tolerance.asa_rel * 100.0,
        r.tolerance.z
    );
    let ahts = m.window_s / r.model.mean_handle_s();
    if ahts < MIN_WINDOW_AHTS {
        println!(
            "warning: the window is {ahts:.0} handle times; below {MIN_WINDOW_AHTS:.0} the batch means are correlated and the standard errors too small: this run cannot validate the model"
        );
    }
    println!(
        "error frames: {}, harness errors: {}",
        r.errors, r.harness_errors
    );
    for s in shared.error_samples() {
        println!("  {s}");
    }
    println!(
        "result: {}",
        if r.ok {
            "PASS (the engine behaves like an M/M/N queue within tolerance)"
        } else if r.comparison.within {
            "FAIL (error frames or harness errors)"
        } else {
            "FAIL (outside tolerance)"
        }
    );
}

/// Tells every task to stop and waits for them.
async fn stop(erl: &Erl, stop_tx: watch::Sender<bool>, tasks: Vec<JoinHandle<()>>) {
    erl.base.set_stopping();
    let _ = stop_tx.send(true);
    let deadline = Instant::now() + Duration::from_secs(15);
    for t in tasks {
        if tokio::time::timeout_at(deadline, t).await.is_err() {
            erl.base
                .harness_error("task_stuck", "a socket task did not stop in time".into());
        }
    }
}

/// One arrival: connect as a new visitor, send the stamped opening message, stay until
/// the agent resolves the conversation (never abandon), then close.
async fn customer(ws: String, idx: u32, erl: Arc<Erl>, mut stop: watch::Receiver<bool>) {
    let shared = &erl.base;
    let result: Result<()> = async {
        let mut conn = Conn::connect(&format!("{ws}/ws/chat")).await?;
        let first = conn.first_text(Duration::from_secs(30)).await?;
        if !matches!(read(&first), Ok(Some(ChatServerMsg::Welcome { .. }))) {
            bail!("expected welcome, got {first:.200}");
        }
        let sent_ns = clock::now_ns();
        let text = Stamp {
            run: shared.run,
            kind: Kind::Open,
            customer: idx,
            seq: 0,
            sent_ns,
        }
        .text(0);
        if shared.in_window(sent_ns) {
            erl.measured_arrivals.inc();
        }
        let msg = ChatClientMsg::Message {
            client_msg_id: uuid::Uuid::new_v4().to_string(),
            text,
            queue: None,
            ivr_path: Vec::new(),
            files: Vec::new(),
        };
        conn.tx.send(Message::Text(to_text(&msg))).await?;
        loop {
            tokio::select! {
                frame = Conn::next_text(&mut conn.rx) => match frame {
                    Some(Ok(t)) => match read::<ChatServerMsg>(&t) {
                        Ok(Some(ChatServerMsg::Ack { .. })) => shared.counters.opened.inc(),
                        Ok(Some(ChatServerMsg::Conversation(c))) if c.state == ConversationState::Resolved => break,
                        Ok(Some(ChatServerMsg::Conversation(c))) if c.state == ConversationState::Abandoned => {
                            bail!("conversation {} abandoned", c.id)
                        }
                        Ok(Some(ChatServerMsg::Error(e))) => shared.engine_error(
                            &format!("customer {idx}"), &code_name(e.code), &e.message, e.reference.as_deref()),
                        Ok(_) => {}
                        Err(e) => bail!("unparsable frame: {e}: {t:.200}"),
                    },
                    Some(Err(e)) => return Err(e),
                    None => bail!("socket ended"),
                },
                _ = stop.changed() => {
                    let _ = conn.tx.send(Message::Text(to_text(&ChatClientMsg::Leave {}))).await;
                    break;
                }
            }
        }
        conn.close().await;
        Ok(())
    }
    .await;
    if let Err(e) = result {
        if !shared.is_stopping() {
            shared.harness_error("customer_failed", format!("customer {idx}: {e:#}"));
        }
    }
    erl.customers_done.inc();
}

/// A conversation this agent holds: when to resolve it and what to record then.
struct Holding {
    resolve_at: Instant,
    /// Opening message send time (for the window check) and offer receipt, ns.
    ours: Option<(u64, u64)>,
}

/// One agent (one server): accepts every offer, holds each conversation for an
/// exponential time, then resolves it.
struct ErlAgent {
    id: String,
    conn: Conn,
    erl: Arc<Erl>,
    rng: StdRng,
    aht_s: f64,
    /// Offers accepted and not yet assigned: conversation → (sent ns, offer ns).
    offered: HashMap<ConversationId, (u64, u64)>,
    holding: HashMap<ConversationId, Holding>,
    /// Conversations resolved by this agent (a later `held:false` is expected).
    resolved: HashSet<ConversationId>,
    /// Held conversations from the welcome (an earlier run's), resolved at start.
    stale: Vec<ConversationId>,
    available: bool,
}

impl ErlAgent {
    async fn connect(
        ws: &str,
        id: String,
        token: &str,
        erl: Arc<Erl>,
        rng: StdRng,
        aht_s: f64,
    ) -> Result<ErlAgent> {
        let mut conn = Conn::connect(&format!("{ws}/ws/agent?token={token}"))
            .await
            .with_context(|| format!("agent {id}"))?;
        let first = conn.first_text(Duration::from_secs(30)).await?;
        let stale = match read::<AgentServerMsg>(&first) {
            Ok(Some(AgentServerMsg::Welcome { conversations, .. })) => {
                conversations.into_iter().map(|c| c.id).collect()
            }
            _ => bail!("agent {id}: expected welcome, got {first:.200}"),
        };
        Ok(ErlAgent {
            id,
            conn,
            erl,
            rng,
            aht_s,
            offered: HashMap::new(),
            holding: HashMap::new(),
            resolved: HashSet::new(),
            stale,
            available: false,
        })
    }

    async fn send(&mut self, msg: &AgentClientMsg) {
        if self
            .conn
            .tx
            .send(Message::Text(to_text(msg)))
            .await
            .is_err()
            && !self.erl.base.is_stopping()
        {
            self.erl.base.harness_error(
                "agent_socket_failed",
                format!("agent {}: writer stopped", self.id),
            );
        }
    }

    async fn run(mut self, mut stop: watch::Receiver<bool>) {
        for c in std::mem::take(&mut self.stale) {
            self.erl.base.counters.stale.inc();
            self.resolve(c).await;
        }
        self.send(&set_status(RequestedStatus::Available)).await;
        loop {
            let next = self.holding.values().map(|h| h.resolve_at).min();
            tokio::select! {
                frame = Conn::next_text(&mut self.conn.rx) => match frame {
                    Some(Ok(t)) => self.on_frame(&t).await,
                    other => {
                        if !self.erl.base.is_stopping() {
                            let why = match other { Some(Err(e)) => format!("{e:#}"), _ => "socket ended".into() };
                            self.erl.base.harness_error("agent_socket_failed", format!("agent {}: {why}", self.id));
                        }
                        return;
                    }
                },
                () = sleep_until(next) => {
                    let now = Instant::now();
                    let due: Vec<ConversationId> = self.holding.iter().filter(|(_, h)| h.resolve_at <= now).map(|(c, _)| *c).collect();
                    for c in due {
                        if let Some(Holding { ours: Some((sent_ns, offer_ns)), .. }) = self.holding.remove(&c) {
                            if self.erl.base.in_window(sent_ns) {
                                let hold = clock::now_ns().saturating_sub(offer_ns) as f64 / 1e9;
                                self.erl.holds.lock().expect("holds").push(hold);
                            }
                        }
                        self.resolve(c).await;
                    }
                }
                _ = stop.changed() => break,
            }
        }
        self.send(&set_status(RequestedStatus::Away)).await;
        let held: Vec<ConversationId> = self.holding.keys().copied().collect();
        for c in held {
            self.resolve(c).await;
        }
        self.conn.close().await;
    }

    async fn resolve(&mut self, conversation_id: ConversationId) {
        self.resolved.insert(conversation_id);
        self.send(&resolve(conversation_id)).await;
    }

    async fn on_frame(&mut self, text: &str) {
        let shared = Arc::clone(&self.erl);
        let base = &shared.base;
        let c = &base.counters;
        let msg = match read::<AgentServerMsg>(text) {
            Ok(Some(m)) => m,
            Ok(None) => return,
            Err(e) => {
                return base.harness_error(
                    "unparsable_frame",
                    format!("agent {}: {e}: {text:.200}", self.id),
                )
            }
        };
        match msg {
            AgentServerMsg::Status { status, reason } => {
                if status == "available" {
                    if !self.available {
                        self.available = true;
                        c.agents_ready.inc();
                    }
                } else if self.available && !base.is_stopping() {
                    base.harness_error(
                        "agent_not_available",
                        format!(
                            "agent {}: status {status} ({})",
                            self.id,
                            reason.unwrap_or_default()
                        ),
                    );
                }
            }
            AgentServerMsg::Offer(o) => {
                let now = clock::now_ns();
                let stamp = o
                    .preview
                    .as_deref()
                    .and_then(Stamp::parse)
                    .filter(|s| s.run == base.run && s.kind == Kind::Open);
                match stamp {
                    Some(s) => {
                        c.offered.inc();
                        if base.in_window(s.sent_ns) {
                            shared.waits.lock().expect("waits").push(Sample {
                                sent_ns: s.sent_ns,
                                wait_s: now.saturating_sub(s.sent_ns) as f64 / 1e9,
                            });
                        }
                        self.offered.insert(o.conversation_id, (s.sent_ns, now));
                    }
                    None => c.stale.inc(),
                }
                self.send(&AgentClientMsg::Accept {
                    offer_id: o.offer_id,
                })
                .await;
            }
            AgentServerMsg::OfferRevoked {
                conversation_id,
                outcome,
                ..
            } => {
                c.offers_revoked.inc();
                if self.offered.remove(&conversation_id).is_some() {
                    base.harness_error("offer_revoked", format!("agent {}: {outcome}", self.id));
                }
            }
            AgentServerMsg::ConversationAssigned { conversation } => {
                let ours = self.offered.remove(&conversation.id);
                if ours.is_some() {
                    c.assigned.inc();
                }
                // An earlier run's conversation is resolved at once.
                let hold = if ours.is_some() {
                    exponential(&mut self.rng, self.aht_s)
                } else {
                    0.0
                };
                self.holding.insert(
                    conversation.id,
                    Holding {
                        resolve_at: Instant::now() + Duration::from_secs_f64(hold),
                        ours,
                    },
                );
            }
            AgentServerMsg::ConversationUpdated {
                conversation_id,
                held: false,
                state,
            } => {
                // Left this agent without our `resolve`: the engine took it away.
                let lost = !self.resolved.remove(&conversation_id)
                    && self.holding.remove(&conversation_id).is_some();
                if lost && !base.is_stopping() {
                    base.harness_error(
                        "conversation_lost",
                        format!(
                            "agent {}: {conversation_id} left ({})",
                            self.id,
                            state.as_str()
                        ),
                    );
                }
            }
            AgentServerMsg::Error(e) => base.engine_error(
                &format!("agent {}", self.id),
                &code_name(e.code),
                &e.message,
                e.reference.as_deref(),
            ),
            _ => {}
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, eps: f64) -> bool {
        (a - b).abs() <= eps
    }

    /// Textbook table (A = 10 Erlangs), checked against the closed form
    /// C = (A^N/N!·N/(N−A)) / (Σ_{k<N} A^k/k! + A^N/N!·N/(N−A)) computed in Python with
    /// exact integer factorials: 0.682118, 0.449388, 0.285270, 0.174132.
    #[test]
    fn textbook_prob_wait() {
        for (n, expected) in [
            (11, 0.682118),
            (12, 0.449388),
            (13, 0.285270),
            (14, 0.174132),
        ] {
            let m = ErlangC::new(10.0, 1.0, n).unwrap();
            assert!(
                close(m.prob_wait(), expected, 1e-6),
                "N={n}: {}",
                m.prob_wait()
            );
        }
        // Erlang B(10, 10) = 0.214582; C(2 Erlangs, 3 agents) = 4/9.
        assert!(close(erlang_b(10.0, 10), 0.214582, 1e-6));
        assert!(close(
            ErlangC::new(1.0, 2.0, 3).unwrap().prob_wait(),
            4.0 / 9.0,
            1e-12
        ));
        // Large N: A = 100, N = 110 gives 0.237008 (no overflow).
        assert!(close(
            ErlangC::new(100.0, 1.0, 110).unwrap().prob_wait(),
            0.237008,
            1e-6
        ));
        // A = 5000, N = 5100: finite and in (0, 1).
        let big = ErlangC::new(50.0, 100.0, 5100).unwrap().prob_wait();
        assert!(big > 0.0 && big < 1.0);
    }

    /// The harness's default run: λ = 8/s, AHT = 1 s, N = 10.
    #[test]
    fn default_run_figures() {
        let m = ErlangC::new(8.0, 1.0, 10).unwrap();
        assert!(close(m.traffic_erlangs(), 8.0, 1e-12));
        assert!(close(m.occupancy(), 0.8, 1e-12));
        assert!(close(m.prob_wait(), 0.409180, 1e-6));
        // ASA = C · AHT / (N − A) = 0.409180 · 1 / 2.
        assert!(close(m.asa_s(), 0.204590, 1e-6));
        // SL(0.5 s) = 1 − C·e^{−2·0.5} = 0.849471.
        assert!(close(m.service_level(0.5), 0.849471, 1e-6));
        assert!(close(m.service_level(0.0), 1.0 - m.prob_wait(), 1e-12));
        // Percentiles: the median arrival does not wait; p90 = ln(C/0.1)/2.
        assert_eq!(m.wait_percentile(0.5), 0.0);
        assert!(close(
            m.wait_percentile(0.9),
            (0.409180f64 / 0.1).ln() / 2.0,
            1e-5
        ));
        assert!(close(m.service_level(m.wait_percentile(0.95)), 0.95, 1e-9));
    }

    #[test]
    fn monotone() {
        // More agents: less waiting.
        let mut last = (1.0, f64::INFINITY, 0.0);
        for n in 11..40 {
            let m = ErlangC::new(10.0, 1.0, n).unwrap();
            assert!(m.prob_wait() < last.0 && m.asa_s() < last.1 && m.service_level(0.2) > last.2);
            last = (m.prob_wait(), m.asa_s(), m.service_level(0.2));
        }
        // More traffic: more waiting.
        let mut last = 0.0;
        for i in 1..100 {
            let m = ErlangC::new(f64::from(i) * 0.1, 1.0, 10).unwrap();
            assert!(m.prob_wait() > last);
            last = m.prob_wait();
        }
        // Longer threshold: higher service level; higher p: longer wait.
        let m = ErlangC::new(9.0, 1.0, 10).unwrap();
        assert!(m.service_level(1.0) > m.service_level(0.5));
        assert!(m.wait_percentile(0.99) > m.wait_percentile(0.9));
    }

    #[test]
    fn unstable_and_invalid() {
        assert!(matches!(
            ErlangC::new(10.0, 1.0, 10),
            Err(ModelError::Unstable { agents: 10, .. })
        ));
        assert!(matches!(
            ErlangC::new(20.0, 1.0, 10),
            Err(ModelError::Unstable { .. })
        ));
        assert!(matches!(
            ErlangC::new(0.0, 1.0, 10),
            Err(ModelError::Invalid(_))
        ));
        assert!(matches!(
            ErlangC::new(1.0, f64::NAN, 10),
            Err(ModelError::Invalid(_))
        ));
        assert!(matches!(
            ErlangC::new(1.0, 1.0, 0),
            Err(ModelError::Invalid(_))
        ));
    }

    /// A discrete-event M/M/N simulation (FIFO, earliest-free server) measured like a
    /// run and compared with the model: the comparison must pass for an ideal system
    /// and fail for one with an agent too few.
    #[test]
    fn simulated_queue_matches_model() {
        let (lambda, aht, n) = (8.0, 1.0, 10u32);
        let model = ErlangC::new(lambda, aht, n).unwrap();
        let simulate = |servers: u32, seed: u64| {
            let mut rng = StdRng::seed_from_u64(seed);
            let (warm, end) = (50.0, 2050.0);
            let mut free = vec![0.0f64; servers as usize];
            let (mut t, mut samples) = (0.0, Vec::new());
            loop {
                t += exponential(&mut rng, 1.0 / lambda);
                if t >= end {
                    break;
                }
                let (i, f) = free
                    .iter()
                    .copied()
                    .enumerate()
                    .min_by(|a, b| a.1.total_cmp(&b.1))
                    .unwrap();
                let start = t.max(f);
                free[i] = start + exponential(&mut rng, aht);
                if t >= warm {
                    samples.push(Sample {
                        sent_ns: (t * 1e9) as u64,
                        wait_s: start - t,
                    });
                }
            }
            let arrivals = samples.len() as u64;
            measure(
                &samples,
                arrivals,
                ((warm * 1e9) as u64, (end * 1e9) as u64),
                10,
                0.1,
                0.5,
                None,
            )
        };
        let ok = compare(simulate(n, 7), &model, Tolerance::default());
        assert!(ok.within, "\n{ok}");
        let table = ok.to_string();
        assert!(
            table.contains("P(W>100ms)") && table.contains("ASA (s)"),
            "{table}"
        );
        let short = compare(simulate(n - 1, 7), &model, Tolerance::default());
        assert!(!short.within, "\n{short}");
    }

    #[test]
    fn batch_standard_error() {
        assert_eq!(batch_se(&[1.0]), None);
        let se = batch_se(&[1.0, 3.0]).unwrap();
        // sd = sqrt(2), se = sqrt(2)/sqrt(2) = 1.
        assert!(close(se, 1.0, 1e-12));
    }
}
