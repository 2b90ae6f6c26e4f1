//! `loadtest scenario`: contact-center traffic from a scenario file.
//!
//! 1. Load the scenario (a preset or a TOML file) and fit it to `--duration`.
//! 2. Log in as admin; create agents `lt-s0001`… with the scenario's queues, skills and
//!    capacity; connect each on `/ws/agent` and wait until all are available.
//! 3. For `--duration`, draw Poisson arrivals (exponential gaps from a seeded RNG, at
//!    the rate the phases give at each arrival) and start one customer task per
//!    arrival on a channel drawn from the mix: web chat over `/ws/chat`, the rest over
//!    `POST /api/v1/inbound`. A sampler records one [`report::Sample`] per second and
//!    drives the progress display.
//! 4. Drain: wait until every customer task has ended (answered and resolved,
//!    abandoned or refused), at most `--drain-timeout`; then stop the agents.
//! 5. Build the [`ScenarioReport`] with the correctness accounting.
//!
//! Layout: `config` (schema, presets, distributions), `shared` (counters, ledger,
//! histograms), `agent` and `customer` (socket tasks), `crate::procfs` (engine RSS/CPU),
//! `report` (figures, table, JSON), `charts` (SVG charts, HTML).

pub mod agent;
pub mod charts;
pub mod config;
pub mod customer;
pub mod report;
pub mod shared;

use crate::clock;
use crate::messages::parse_duration;
use crate::net::{ws_base, Api};
use crate::procfs;
use crate::stats::Latency;
use agent::{ScnAgent, SocketDrop};
use anyhow::{ensure, Context, Result};
use config::{Ch, Scenario};
use futures_util::{stream, StreamExt, TryStreamExt};
use protocol::rest::{AgentUpsert, Capacity, Proficiency, Role, Skill};
use protocol::QueueName;
use rand::distributions::{Distribution, WeightedIndex};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::Exp;
use report::{Accounting, Engine, Flow, Sample};
use shared::Shared;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use report::ScenarioReport;

#[derive(Debug, Clone, clap::Args)]
pub struct ScenarioArgs {
    /// A preset (steady, monday-spike, logout-storm, channel-mix) or a TOML file.
    #[arg(long, default_value = "steady")]
    pub scenario: String,
    /// Length of the arrival phase (default: the scenario's duration_s), e.g. 30s, 5m.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Engine base URL (plain HTTP).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Password of the engine's admin agent (the engine's `--admin-password`).
    #[arg(long)]
    pub admin_password: String,
    #[arg(long, default_value = "admin")]
    pub admin_id: String,
    /// Seed of every random draw (arrivals, channels, times, rejects).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Override the scenario's agent count.
    #[arg(long)]
    pub agents: Option<u32>,
    /// Override the scenario's base arrival rate, customers per second.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Report directory (index.html with charts, results.json).
    #[arg(long, default_value = "loadtest-report")]
    pub report: PathBuf,
    /// Do not write the report directory.
    #[arg(long)]
    pub no_report: bool,
    /// Also write the figures as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// PID of a local engine, to sample its RSS and CPU from /proc.
    #[arg(long)]
    pub engine_pid: Option<u32>,
    /// Agent id prefix; ids are PREFIX0001…
    #[arg(long, default_value = "lt-s")]
    pub agent_prefix: String,
    #[arg(long, default_value = "loadtest-agent")]
    pub agent_password: String,
    #[arg(long, default_value_t = 32)]
    pub connect_concurrency: usize,
    /// Longest wait for the agents to be available.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub setup_timeout: Duration,
    /// Longest wait after the arrivals for conversations to finish.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub drain_timeout: Duration,
    /// No progress bar or progress lines.
    #[arg(long)]
    pub quiet: bool,
    /// A scenario given in code (the smoke test); replaces `--scenario`.
    #[arg(skip)]
    pub inline: Option<Scenario>,
}

impl ScenarioArgs {
    /// Defaults for a library caller.
    pub fn new(url: &str, admin_password: &str, scenario: Scenario) -> ScenarioArgs {
        ScenarioArgs {
            scenario: scenario.name.clone(),
            duration: None,
            url: url.to_owned(),
            admin_password: admin_password.to_owned(),
            admin_id: "admin".into(),
            seed: 1,
            agents: None,
            rate: None,
            report: PathBuf::from("loadtest-report"),
            no_report: true,
            json: None,
            engine_pid: None,
            agent_prefix: "lt-s".into(),
            agent_password: "loadtest-agent".into(),
            connect_concurrency: 16,
            setup_timeout: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(30),
            quiet: true,
            inline: Some(scenario),
        }
    }
}

/// A seeded RNG per purpose and index, so draws do not depend on task scheduling.
fn rng_for(seed: u64, stream: u64, idx: u64) -> SmallRng {
    SmallRng::seed_from_u64(
        seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ idx.wrapping_mul(0xD1B5_4A32_D192_ED03),
    )
}

/// The profile every scenario agent gets (`display_name` is set per agent); skill and
/// queue names are checked here, before anything is sent.
fn agent_profile(a: &config::Agents, password: &str) -> Result<AgentUpsert> {
    let skills = a
        .skills
        .iter()
        .map(|(name, level)| {
            let skill = Skill::parse(name).with_context(|| format!("agents.skills.{name}"))?;
            let level =
                Proficiency::new(*level).with_context(|| format!("agents.skills.{name}"))?;
            Ok((skill, level))
        })
        .collect::<Result<_>>()?;
    let queues = a
        .queues
        .iter()
        .map(|q| QueueName::parse(q).with_context(|| format!("agents.queues: {q}")))
        .collect::<Result<_>>()?;
    let c = a.capacity;
    Ok(AgentUpsert {
        display_name: String::new(),
        password: Some(password.to_owned()),
        role: Role::Agent,
        skills,
        queues,
        capacity: Some(Capacity {
            voice: c.voice,
            chat: c.chat,
            email: c.email,
            messaging: c.messaging,
        }),
        disabled: false,
    })
}

/// Runs a scenario against a running engine.
pub async fn run_scenario(cfg: &ScenarioArgs) -> Result<ScenarioReport> {
    let mut sc = match &cfg.inline {
        Some(s) => s.clone(),
        None => Scenario::load(&cfg.scenario)?,
    };
    if let Some(n) = cfg.agents {
        sc.agents.count = n;
    }
    if let Some(r) = cfg.rate {
        sc.arrivals.rate_per_s = r;
    }
    let duration = cfg
        .duration
        .unwrap_or(Duration::from_secs_f64(sc.duration_s));
    ensure!(!duration.is_zero(), "--duration must be positive");
    sc.fit_to(duration);
    sc.validate()?;
    ensure!(
        cfg.agent_password.len() >= 8,
        "--agent-password must be at least 8 bytes"
    );
    let sc = Arc::new(sc);

    clock::origin();
    let run_id = uuid::Uuid::new_v4().as_u128() as u32;
    let shared = Arc::new(Shared::new(run_id));
    let api = Api::new(&cfg.url)?;
    let ws = ws_base(&cfg.url)?;
    let say = |m: String| {
        if !cfg.quiet {
            eprintln!("{m}");
        }
    };

    // ---- agents
    let admin = api
        .login(&cfg.admin_id, &cfg.admin_password)
        .await
        .context("admin login (is the engine running with --admin-password?)")?;
    let admin = Arc::new(admin);
    let ids: Vec<String> = (1..=sc.agents.count)
        .map(|i| format!("{}{i:04}", cfg.agent_prefix))
        .collect();
    let profile = agent_profile(&sc.agents, &cfg.agent_password)?;
    let tokens: Vec<(usize, String, String)> = stream::iter(ids.into_iter().enumerate())
        .map(|(i, id)| {
            let (api, admin, mut body) = (api.clone(), Arc::clone(&admin), profile.clone());
            body.display_name = format!("Load test {id}");
            async move {
                api.put_agent(&admin, &id, &body).await?;
                let token = api.login(&id, &cfg.agent_password).await?;
                anyhow::Ok((i, id, token))
            }
        })
        .buffer_unordered(cfg.connect_concurrency.max(1))
        .try_collect()
        .await?;
    let start = Instant::now() + Duration::from_millis(200);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut agent_tasks: Vec<JoinHandle<()>> = Vec::new();
    for (i, id, token) in tokens {
        let drops = drop_schedule(&sc, cfg.seed, i, start, duration);
        let mut ag = ScnAgent::new(
            id,
            &ws,
            &token,
            Arc::clone(&shared),
            Arc::clone(&sc),
            rng_for(cfg.seed, 1, i as u64),
            drops,
        );
        if let Err(e) = ag.connect().await {
            shared.set_stopping();
            let _ = stop_tx.send(true);
            return Err(e);
        }
        agent_tasks.push(tokio::spawn(ag.run(stop_rx.clone())));
    }
    let deadline = Instant::now() + cfg.setup_timeout;
    while shared.counters.agents_ready.get() < u64::from(sc.agents.count) {
        if Instant::now() > deadline {
            shared.set_stopping();
            let _ = stop_tx.send(true);
            anyhow::bail!(
                "agents available: {}/{} after {:?}",
                shared.counters.agents_ready.get(),
                sc.agents.count,
                cfg.setup_timeout
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    say(format!(
        "run {run_id:08x}: scenario {}, {} agents available",
        sc.name, sc.agents.count
    ));

    // ---- sampler and progress
    let sampler = tokio::spawn(sample_loop(
        Arc::clone(&shared),
        start,
        duration,
        cfg.engine_pid,
        cfg.quiet,
        stop_rx.clone(),
    ));

    // ---- arrivals
    tokio::time::sleep_until(start).await;
    let end = start + duration;
    let mut rng = rng_for(cfg.seed, 0, 0);
    let weights = WeightedIndex::new(sc.channels.weights()).context("channel weights")?;
    let mut customer_tasks: Vec<JoinHandle<()>> = Vec::new();
    let mut next = start;
    loop {
        let t_s = (next - start).as_secs_f64();
        let rate = sc.rate_at(t_s);
        if rate <= 0.0 {
            next += Duration::from_millis(100);
        } else {
            let gap = Exp::new(rate).map_or(1.0 / rate, |e| e.sample(&mut rng));
            next += Duration::from_secs_f64(gap);
        }
        if next >= end {
            break;
        }
        if rate <= 0.0 {
            continue;
        }
        tokio::time::sleep_until(next).await;
        let ch = Ch::ALL[weights.sample(&mut rng)];
        let idx = shared.arrive(ch, clock::now_ns());
        let crng = rng_for(cfg.seed, 2, u64::from(idx));
        let (sh, s2, stop) = (Arc::clone(&shared), Arc::clone(&sc), stop_rx.clone());
        customer_tasks.push(match ch {
            Ch::Chat => tokio::spawn(customer::chat(sh, s2, ws.clone(), idx, crng, stop)),
            _ => tokio::spawn(customer::rest(
                sh,
                s2,
                api.clone(),
                Arc::clone(&admin),
                idx,
                ch,
                crng,
                stop,
            )),
        });
        // Keep the draw sequence independent of timing: one extra draw per arrival.
        let _: u32 = rng.gen();
    }
    tokio::time::sleep_until(end).await;

    // ---- drain
    let drain_start = Instant::now();
    let c = &shared.counters;
    let drain_deadline = drain_start + cfg.drain_timeout;
    while c.customers_done.get() < c.arrivals.get() && Instant::now() < drain_deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Let the last resolves reach the agents.
    let settle = Instant::now() + Duration::from_secs(2);
    while c.completed.get() + c.left_after_answer.get() < c.answered.get()
        && Instant::now() < settle
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let drain_s = drain_start.elapsed().as_secs_f64();
    if c.customers_done.get() < c.arrivals.get() {
        shared.error(
            "timeout:drain",
            format!(
                "{} customers still active after {:?}",
                c.arrivals.get() - c.customers_done.get(),
                cfg.drain_timeout
            ),
        );
        for line in shared.unfinished() {
            shared.error("timeout:drain_unfinished", line);
        }
    }

    // ---- stop
    shared.set_stopping();
    let _ = stop_tx.send(true);
    let series = sampler.await.unwrap_or_default();
    for t in customer_tasks.into_iter().chain(agent_tasks) {
        if tokio::time::timeout(Duration::from_secs(10), t)
            .await
            .is_err()
        {
            shared.error("harness:task_stuck", "a task did not stop in time".into());
        }
    }
    Ok(build_report(
        cfg, &sc, &shared, run_id, duration, drain_s, series,
    ))
}

/// The socket drops of agent `i`: exponential gaps of `disconnect.every_s`, plus
/// every storm that includes it (the first `fraction` of the agents).
fn drop_schedule(
    sc: &Scenario,
    seed: u64,
    i: usize,
    start: Instant,
    duration: Duration,
) -> Vec<SocketDrop> {
    let mut out = Vec::new();
    let scale = sc.time_scale;
    if let Some(d) = sc.agents.disconnect {
        let mut rng = rng_for(seed, 3, i as u64);
        let every = config::Dist::Exponential { mean_s: d.every_s };
        let mut t = Duration::ZERO;
        loop {
            t += every.sample(&mut rng, scale);
            if t >= duration {
                break;
            }
            out.push(SocketDrop {
                at: start + t,
                down: Duration::from_secs_f64(d.downtime_s * scale),
            });
        }
    }
    let n = sc.agents.count as f64;
    for s in &sc.agents.storms {
        if (i as f64) < (s.fraction * n).round() {
            out.push(SocketDrop {
                at: start + Duration::from_secs_f64(s.at_s),
                down: Duration::from_secs_f64(s.downtime_s * scale),
            });
        }
    }
    out
}

/// One [`Sample`] per second from `start` until stopped; progress on stderr.
async fn sample_loop(
    shared: Arc<Shared>,
    start: Instant,
    duration: Duration,
    engine_pid: Option<u32>,
    quiet: bool,
    mut stop: watch::Receiver<bool>,
) -> Vec<Sample> {
    let mut proc = engine_pid.map(procfs::ProcSampler::new);
    if let Some(p) = proc.as_mut() {
        p.sample();
    }
    let tty = std::io::stderr().is_terminal();
    let bar = (!quiet && tty).then(|| {
        let b = indicatif::ProgressBar::new(duration.as_secs().max(1));
        b.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len}s {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let mut out = Vec::new();
    let mut every =
        tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
    let c = &shared.counters;
    let (mut last_msgs, mut last_done) = (0u64, 0u64);
    loop {
        tokio::select! {
            t = every.tick() => {
                let t_s = (t - start).as_secs_f64();
                let (c2a, a2c) = {
                    let mut s = shared.second.lock().expect("second");
                    let r = (Latency::of(&s.c2a), Latency::of(&s.a2c));
                    s.c2a.reset();
                    s.a2c.reset();
                    r
                };
                let msgs = c.c2a_received.get() + c.a2c_received.get();
                let done = c.completed.get() + c.left_after_answer.get();
                let (waiting, answered, abandoned, _) = shared.outcomes();
                let engine = proc.as_mut().and_then(|p| p.sample());
                let sample = Sample {
                    t_s,
                    arrivals: c.arrivals.get(),
                    answered,
                    abandoned,
                    waiting,
                    msgs_per_s: (msgs - last_msgs) as f64,
                    conversations_per_s: (done - last_done) as f64,
                    c2a_p50_ms: c2a.p50,
                    c2a_p99_ms: c2a.p99,
                    a2c_p99_ms: a2c.p99,
                    connections: shared.connections().0,
                    errors: c.error_total.get(),
                    engine_rss_mib: engine.map(|(kib, _)| kib as f64 / 1024.0),
                    engine_cpu_pct: engine.and_then(|(_, cpu)| cpu),
                };
                (last_msgs, last_done) = (msgs, done);
                let line = format!(
                    "arrivals {} waiting {} answered {} abandoned {} | {:.0} msg/s | c2a p99 {} ms | conns {} | errors {}",
                    sample.arrivals, sample.waiting, sample.answered, sample.abandoned,
                    sample.msgs_per_s,
                    sample.c2a_p99_ms.map_or("-".into(), |v| format!("{v:.1}")),
                    sample.connections, sample.errors
                );
                match &bar {
                    Some(b) => {
                        b.set_position((t_s as u64).min(duration.as_secs()));
                        b.set_message(if t_s > duration.as_secs_f64() { format!("draining: {line}") } else { line });
                    }
                    None if !quiet => eprintln!("[{t_s:>6.0}s] {line}"),
                    None => {}
                }
                out.push(sample);
            }
            _ = stop.changed() => break,
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    out
}

fn build_report(
    cfg: &ScenarioArgs,
    sc: &Scenario,
    shared: &Shared,
    run_id: u32,
    duration: Duration,
    drain_s: f64,
    series: Vec<Sample>,
) -> ScenarioReport {
    let c = &shared.counters;
    let h = shared.hists.lock().expect("hists");
    let flow =
        |sent: u64, received: u64, redelivered: u64, lat: &hdrhistogram::Histogram<u64>| Flow {
            sent,
            received,
            lost: sent.saturating_sub(received),
            redelivered,
            latency_ms: Latency::of(lat),
        };
    let c2a = flow(
        c.c2a_sent.get(),
        c.c2a_received.get(),
        c.c2a_redelivered.get(),
        &h.c2a,
    );
    let a2c = flow(
        c.a2c_sent.get(),
        c.a2c_received.get(),
        c.a2c_redelivered.get(),
        &h.a2c,
    );
    let accounting = Accounting::build(shared, c2a.lost + a2c.lost);
    let total_s = (duration.as_secs_f64() + drain_s).max(1e-9);
    let (errors, error_samples) = shared.errors();
    let (conn_now, conn_peak) = shared.connections();
    let engine = cfg.engine_pid.map(|pid| {
        let rss: Vec<f64> = series.iter().filter_map(|s| s.engine_rss_mib).collect();
        let cpu: Vec<f64> = series.iter().filter_map(|s| s.engine_cpu_pct).collect();
        Engine {
            pid,
            rss_peak_mib: rss.iter().copied().reduce(f64::max),
            rss_last_mib: rss.last().copied(),
            cpu_mean_pct: (!cpu.is_empty()).then(|| cpu.iter().sum::<f64>() / cpu.len() as f64),
            cpu_peak_pct: cpu.iter().copied().reduce(f64::max),
        }
    });
    let ok = accounting.ok;
    ScenarioReport {
        scenario: sc.clone(),
        run_id: format!("{run_id:08x}"),
        seed: cfg.seed,
        url: cfg.url.clone(),
        duration_s: duration.as_secs_f64(),
        drain_s,
        msgs_per_s: (c2a.received + a2c.received) as f64 / total_s,
        conversations_per_s: (accounting.completed + accounting.left_after_answer) as f64 / total_s,
        accounting,
        customer_to_agent: c2a,
        agent_to_customer: a2c,
        routing_ms: Latency::of(&h.routing),
        time_to_answer_ms: Latency::of(&h.answer),
        handle_time_ms: Latency::of(&h.handle),
        errors,
        error_samples,
        connections_peak: conn_peak,
        connections_final: conn_now,
        disconnects: c.disconnects.get(),
        reconnects: c.reconnects.get(),
        engine,
        series,
        ok,
    }
}
