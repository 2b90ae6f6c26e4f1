//! `loadtest messages`: the message-latency scenario.
//!
//! 1. Log in as admin; create (or update) `--agents` agents `lt-a0001`… with chat
//!    capacity `ceil(customers / agents) + 1`; log each in, connect its socket, set it
//!    available.
//! 2. Connect `--customers` web-chat visitors; each sends one stamped opening message.
//!    Agents auto-accept; time-to-offer and time-to-assigned are measured from the
//!    stamp in the offer's `preview`.
//! 3. Once every conversation is assigned, customers send at an aggregate `--rate` for
//!    `--warmup` + `--duration`; agents reply to every Nth message. Only messages sent
//!    after the warm-up are measured.
//! 4. Drain (wait until everything sent has arrived, up to `--drain-timeout`), stop
//!    every task, merge the histograms, report.
//!
//! With several `--url`s, agents and customers are spread over the nodes
//! ([`NodeSet::home`]) and the admin calls go to the first ready node. Steps 1 and 2
//! ([`Crew`]) are shared with the `failover` mode.

use crate::agent::{Agent, AgentCfg};
use crate::clock;
use crate::customer::{Customer, CustomerCfg};
use crate::failover::Resilience;
use crate::net::Api;
use crate::nodes::NodeSet;
use crate::procfs::ProcSampler;
use crate::stats::{EngineUse, Report, RunConfig, Shared};
use anyhow::{bail, ensure, Context, Result};
use futures_util::{stream, StreamExt, TryStreamExt};
use protocol::rest::{AgentUpsert, Capacity, Role};
use protocol::QueueName;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Where the run is; broadcast to every socket task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Connecting.
    Setup,
    /// Customers send their opening message (at `at`, spread by `--open-rate`).
    Open { at: Instant },
    /// Customers send load from `start` until `end` (warm-up included).
    Load { start: Instant, end: Instant },
    /// Everything stops; agents resolve their conversations, customers leave.
    Stop,
}

/// How often the admin node is probed (`/readyz`) while none is ready.
pub(crate) const READY_POLL: Duration = Duration::from_millis(250);

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Engine base URL (plain HTTP); several nodes: comma-separated or the flag
    /// repeated. Agents and customers are spread over them; a node that is not ready
    /// (a standby) is skipped.
    #[arg(long, default_value = "http://127.0.0.1:8080", action = clap::ArgAction::Append)]
    pub url: Vec<String>,
    /// Password of the engine's admin agent (the engine's `--admin-password`).
    #[arg(long)]
    pub admin_password: String,
    /// Id of the admin agent.
    #[arg(long, default_value = "admin")]
    pub admin_id: String,
    /// Agents to create and connect.
    #[arg(long, default_value_t = 50)]
    pub agents: u32,
    /// Web-chat customers to connect (one conversation each).
    #[arg(long, default_value_t = 500)]
    pub customers: u32,
    /// Aggregate customer → agent message rate, messages per second.
    #[arg(long, default_value_t = 5000.0)]
    pub rate: f64,
    /// Measured load time (after the warm-up), e.g. 30s, 2m, 500ms.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Load time before measuring starts (its samples are discarded).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Agents reply to every Nth customer message (0: never).
    #[arg(long, default_value_t = 10)]
    pub reply_every: u64,
    /// Pad every message text to at least this many bytes.
    #[arg(long, default_value_t = 0)]
    pub text_bytes: usize,
    /// Opening messages per second (0: every customer opens at once).
    #[arg(long, default_value_t = 0.0)]
    pub open_rate: f64,
    /// Queue the agents serve (the chat channel's default queue).
    #[arg(long, default_value = "general")]
    pub queue: String,
    /// Agent id prefix; ids are PREFIX0001, PREFIX0002…
    #[arg(long, default_value = "lt-a")]
    pub agent_prefix: String,
    /// Password given to the load-test agents (8+ bytes).
    #[arg(long, default_value = "loadtest-agent")]
    pub agent_password: String,
    /// Logins and websocket handshakes in flight at once.
    #[arg(long, default_value_t = 32)]
    pub connect_concurrency: usize,
    /// Longest wait for agents to be ready and for every conversation to be assigned.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub setup_timeout: Duration,
    /// Longest wait after the load for messages still in flight.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub drain_timeout: Duration,
    /// Also write the figures as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// PID of a local engine: sample its RSS and CPU from /proc (before connecting,
    /// with every connection open, and during the load).
    #[arg(long)]
    pub engine_pid: Option<u32>,
    /// Hold every connection open, idle, this long after setup before the load (the
    /// "connected" RSS is read at its end).
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    pub hold: Duration,
}

/// Parses `30s`, `500ms`, `2m`, `1h`, `1.5s` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("bad duration {s:?} (e.g. 30s, 500ms, 2m)"))?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        other => {
            return Err(format!(
                "bad duration unit {other:?} in {s:?} (use ms, s, m or h)"
            ))
        }
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("bad duration {s:?}: {e}"))
}

pub async fn run(args: &Args) -> Result<Report> {
    ensure!(args.agents >= 1, "--agents must be at least 1");
    ensure!(args.customers >= 1, "--customers must be at least 1");
    ensure!(
        args.rate > 0.0 && args.rate.is_finite(),
        "--rate must be positive"
    );
    ensure!(!args.duration.is_zero(), "--duration must be positive");
    ensure!(
        args.open_rate >= 0.0 && args.open_rate.is_finite(),
        "--open-rate must be ≥ 0"
    );
    ensure!(
        args.agent_password.len() >= 8,
        "--agent-password must be at least 8 bytes"
    );
    let capacity = u16::try_from(args.customers.div_ceil(args.agents) + 1)
        .context("too many customers per agent (chat capacity is at most 65535)")?;

    clock::origin();
    let run_id = uuid::Uuid::new_v4().as_u128() as u32;
    let shared = Arc::new(Shared::new(run_id));
    let nodes = Arc::new(NodeSet::parse(&args.url)?);
    let t0 = Instant::now();

    let mut engine = args.engine_pid.map(EngineWatch::start).transpose()?;

    let crew = Crew {
        admin_id: &args.admin_id,
        admin_password: &args.admin_password,
        agents: args.agents,
        customers: args.customers,
        capacity,
        queue: &args.queue,
        agent_prefix: &args.agent_prefix,
        agent_password: &args.agent_password,
        concurrency: args.connect_concurrency.max(1),
        setup_timeout: args.setup_timeout,
        t0,
    };
    let api = crew.admin_api(&nodes).await?;
    let tokens = crew.create_agents(&api, run_id).await?;

    let (phase_tx, phase_rx) = watch::channel(Phase::Setup);
    let mut tasks: Vec<JoinHandle<()>> = Vec::new();
    let setup = crew.start(
        &nodes,
        &shared,
        tokens,
        client_cfgs(
            args.customers,
            args.rate,
            args.open_rate,
            args.text_bytes,
            args.reply_every,
        ),
        None,
        (&phase_tx, &phase_rx),
        &mut tasks,
    );
    if let Err(e) = setup.await {
        return abort(&shared, phase_tx, tasks, e).await;
    }
    let c = &shared.counters;
    let (agents_total, customers_total) = (u64::from(args.agents), u64::from(args.customers));
    if !args.hold.is_zero() {
        eprintln!(
            "holding {} connections for {:.0}s",
            agents_total + customers_total,
            args.hold.as_secs_f64()
        );
        tokio::time::sleep(args.hold).await;
    }
    if let Some(e) = engine.as_mut() {
        e.connected(agents_total + c.customers_connected.get());
    }

    // Over several nodes: where the actors are, for the split by placement (it must
    // not move during the run).
    let placed = if nodes.iter().count() > 1 {
        let token = api.login(&args.admin_id, &args.admin_password).await?;
        let before =
            crate::placement::read(&api, &token, &nodes, &shared.sites, &args.queue).await?;
        shared.sites.enable();
        Some((token, before))
    } else {
        None
    };

    // ---- load
    let start = Instant::now() + Duration::from_millis(100);
    let measure_start = start + args.warmup;
    let end = measure_start + args.duration;
    shared.set_window(
        clock::ns_of(measure_start.into_std()),
        clock::ns_of(end.into_std()),
    );
    let _ = phase_tx.send(Phase::Load { start, end });
    eprintln!(
        "load: {:.0} msg/s for {:.1}s warm-up + {:.1}s measured",
        args.rate,
        args.warmup.as_secs_f64(),
        args.duration.as_secs_f64()
    );
    let mut every =
        tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
    let (mut last_sent, mut last_recv) = (0, 0);
    if let Some(e) = engine.as_mut() {
        e.load_started_at(measure_start);
    }
    while Instant::now() < end {
        tokio::select! {
            t = every.tick() => {
                if let Some(e) = engine.as_mut() {
                    e.tick(t);
                }
                let (sent, recv) = (c.c2a_sent.get(), c.c2a_received.get());
                eprintln!(
                    "[{:>6.1}s] c2a sent {sent} ({}/s) received {recv} ({}/s) | a2c sent {} received {} | errors {} harness {}",
                    (t - start).as_secs_f64(),
                    sent - last_sent,
                    recv - last_recv,
                    c.a2c_sent.get(),
                    c.a2c_received.get(),
                    c.error_frames.get(),
                    c.harness_errors.get(),
                );
                (last_sent, last_recv) = (sent, recv);
            }
            () = tokio::time::sleep_until(end) => {}
        }
    }

    // ---- drain
    let spawned_customers = c.customers_connected.get();
    let drained = || {
        c.customers_done.get() >= spawned_customers
            && c.c2a_received.get() >= c.c2a_sent.get()
            && c.c2a_acked.get() >= c.c2a_sent.get()
            && c.a2c_received.get() >= c.a2c_sent.get()
            && c.a2c_acked.get() >= c.a2c_sent.get()
    };
    let drain_deadline = Instant::now() + args.drain_timeout;
    while !drained() && Instant::now() < drain_deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    if drained() {
        eprintln!(
            "drained ({:.2}s after the end)",
            end.elapsed().as_secs_f64()
        );
    } else {
        eprintln!(
            "drain timed out after {:.1}s: c2a {}/{} received, a2c {}/{} received",
            args.drain_timeout.as_secs_f64(),
            c.c2a_received.get(),
            c.c2a_sent.get(),
            c.a2c_received.get(),
            c.a2c_sent.get()
        );
    }

    let placement = match placed {
        Some((token, before)) => {
            let after =
                crate::placement::read(&api, &token, &nodes, &shared.sites, &args.queue).await?;
            if after != before {
                eprintln!("placement moved during the run: no split by placement");
                None
            } else {
                Some(crate::placement::split(&shared.sites, &after)?)
            }
        }
        None => None,
    };

    // ---- stop, merge, report
    stop(phase_tx, tasks, &shared).await;
    let config = RunConfig {
        url: nodes.label(),
        agents: args.agents,
        customers: args.customers,
        chat_capacity: capacity,
        target_rate_per_s: args.rate,
        warmup_s: args.warmup.as_secs_f64(),
        duration_s: args.duration.as_secs_f64(),
        reply_every: args.reply_every,
        text_bytes: args.text_bytes,
        run_id: format!("{run_id:08x}"),
    };
    let mut report = Report::build(
        config,
        &shared,
        &shared.merged_hists(),
        args.duration.as_secs_f64(),
    );
    report.engine = engine.map(EngineWatch::finish);
    report.nodes = nodes.counts();
    report.placement = placement;
    Ok(report)
}

/// The agent and customer task settings of a `messages` or `failover` run: the
/// `customers` send at an aggregate `rate` (each on its own interval), opening at
/// `open_rate`; agents reply to every `reply_every`th message (0: never); texts are
/// padded to `text_bytes`.
pub(crate) fn client_cfgs(
    customers: u32,
    rate: f64,
    open_rate: f64,
    text_bytes: usize,
    reply_every: u64,
) -> (AgentCfg, CustomerCfg) {
    let agent = AgentCfg {
        reply_every,
        text_bytes,
    };
    let customer = CustomerCfg {
        customers,
        period: Duration::from_secs_f64(f64::from(customers) / rate),
        open_rate,
        text_bytes,
    };
    (agent, customer)
}

/// Who is brought to the engine before the load, and how: steps 1 and 2 of the module
/// doc, shared by `messages` and `failover`.
pub(crate) struct Crew<'a> {
    pub admin_id: &'a str,
    pub admin_password: &'a str,
    pub agents: u32,
    pub customers: u32,
    /// Chat capacity given to every agent.
    pub capacity: u16,
    pub queue: &'a str,
    pub agent_prefix: &'a str,
    pub agent_password: &'a str,
    /// Logins and websocket handshakes in flight at once.
    pub concurrency: usize,
    pub setup_timeout: Duration,
    /// The start of the run, for the progress lines.
    pub t0: Instant,
}

impl Crew<'_> {
    /// The REST API of the first ready node.
    pub async fn admin_api(&self, nodes: &NodeSet) -> Result<Api> {
        let admin_node = nodes.admin(READY_POLL, self.setup_timeout).await?;
        Api::new(&nodes.node(admin_node).http)
    }

    /// Logs in as admin; creates or updates the agents; logs each in. Returns
    /// `(agent number, id, token)` per agent.
    pub async fn create_agents(
        &self,
        api: &Api,
        run_id: u32,
    ) -> Result<Vec<(usize, String, String)>> {
        let admin = api
            .login(self.admin_id, self.admin_password)
            .await
            .context("admin login (is the engine running with --admin-password?)")?;
        let queue = QueueName::parse(self.queue).context("--queue")?;
        let ids: Vec<String> = (1..=self.agents)
            .map(|i| format!("{}{i:04}", self.agent_prefix))
            .collect();
        let tokens: Vec<(usize, String, String)> = stream::iter(ids.into_iter().enumerate())
            .map(|(task, id)| {
                let (api, admin, queue) = (api.clone(), admin.clone(), &queue);
                async move {
                    let body = AgentUpsert {
                        display_name: format!("Load test {id}"),
                        password: Some(self.agent_password.to_owned()),
                        role: Role::Agent,
                        skills: BTreeMap::new(),
                        queues: vec![queue.clone()],
                        capacity: Some(Capacity {
                            voice: 1,
                            chat: self.capacity,
                            email: 5,
                            messaging: 5,
                        }),
                        disabled: false,
                    };
                    api.put_agent(&admin, &id, &body).await?;
                    let token = api.login(&id, self.agent_password).await?;
                    anyhow::Ok((task, id, token))
                }
            })
            .buffer_unordered(self.concurrency)
            .try_collect()
            .await?;
        eprintln!(
            "run {run_id:08x}: {} agents created and logged in ({:.1}s)",
            tokens.len(),
            self.t0.elapsed().as_secs_f64()
        );
        Ok(tokens)
    }

    /// Connects the agents and waits until every one is available; connects the
    /// customers; has each open its conversation and waits until every one is
    /// assigned. Every task started is pushed on `tasks` (the caller stops them on an
    /// error).
    #[allow(clippy::too_many_arguments)]
    pub async fn start(
        &self,
        nodes: &Arc<NodeSet>,
        shared: &Arc<Shared>,
        tokens: Vec<(usize, String, String)>,
        (agent_cfg, customer_cfg): (AgentCfg, CustomerCfg),
        resilience: Option<Arc<Resilience>>,
        (phase_tx, phase_rx): (&watch::Sender<Phase>, &watch::Receiver<Phase>),
        tasks: &mut Vec<JoinHandle<()>>,
    ) -> Result<()> {
        let mut agents = stream::iter(tokens)
            .map(|(task, id, token)| {
                let (nodes, shared, res) =
                    (Arc::clone(nodes), Arc::clone(shared), resilience.clone());
                async move { Agent::connect(nodes, task, id, &token, shared, agent_cfg, res).await }
            })
            .buffer_unordered(self.concurrency);
        while let Some(a) = agents.next().await {
            tasks.push(tokio::spawn(a.context(fd_hint())?.run(phase_rx.clone())));
        }
        drop(agents);
        let c = &shared.counters;
        let agents_total = u64::from(self.agents);
        wait_for(shared, "agents available", self.setup_timeout, || {
            (
                c.agents_ready.get() >= agents_total,
                format!("{}/{agents_total}", c.agents_ready.get()),
            )
        })
        .await?;
        eprintln!("agents available ({:.1}s)", self.t0.elapsed().as_secs_f64());

        let mut customers = stream::iter(0..self.customers)
            .map(|idx| {
                let (nodes, shared, res) =
                    (Arc::clone(nodes), Arc::clone(shared), resilience.clone());
                let task = self.agents as usize + idx as usize;
                async move { Customer::connect(nodes, task, idx, shared, customer_cfg, res).await }
            })
            .buffer_unordered(self.concurrency);
        while let Some(cu) = customers.next().await {
            tasks.push(tokio::spawn(cu.context(fd_hint())?.run(phase_rx.clone())));
        }
        drop(customers);
        eprintln!(
            "{} customers connected ({:.1}s)",
            c.customers_connected.get(),
            self.t0.elapsed().as_secs_f64()
        );
        let t_open = Instant::now();
        let _ = phase_tx.send(Phase::Open { at: t_open });
        let customers_total = u64::from(self.customers);
        wait_for(shared, "conversations assigned", self.setup_timeout, || {
            (
                c.assigned.get() >= customers_total,
                format!(
                    "{} opened, {} offered, {} assigned of {customers_total}",
                    c.opened.get(),
                    c.offered.get(),
                    c.assigned.get()
                ),
            )
        })
        .await?;
        eprintln!(
            "{customers_total} conversations assigned in {:.2}s",
            t_open.elapsed().as_secs_f64()
        );
        Ok(())
    }
}

/// A local engine's memory and CPU over a `messages` run, from /proc.
struct EngineWatch {
    proc: ProcSampler,
    before_kib: u64,
    connected: Option<(u64, u64)>,
    peak_kib: u64,
    measure_start: Option<Instant>,
    cpu: Vec<f64>,
}

impl EngineWatch {
    fn start(pid: u32) -> Result<EngineWatch> {
        let mut proc = ProcSampler::new(pid);
        let (before_kib, _) = proc
            .sample()
            .with_context(|| format!("--engine-pid {pid}: cannot read /proc/{pid}"))?;
        Ok(EngineWatch {
            proc,
            before_kib,
            connected: None,
            peak_kib: before_kib,
            measure_start: None,
            cpu: Vec::new(),
        })
    }

    /// Every connection is open and every conversation assigned.
    fn connected(&mut self, connections: u64) {
        if let Some((rss, _)) = self.proc.sample() {
            self.peak_kib = self.peak_kib.max(rss);
            self.connected = Some((connections, rss));
        }
    }

    fn load_started_at(&mut self, measure_start: Instant) {
        self.measure_start = Some(measure_start);
        self.proc.sample();
    }

    /// Once a second during the load; CPU counts only inside the measured window.
    fn tick(&mut self, now: Instant) {
        if let Some((rss, cpu)) = self.proc.sample() {
            self.peak_kib = self.peak_kib.max(rss);
            if let (Some(cpu), Some(m)) = (cpu, self.measure_start) {
                if now > m {
                    self.cpu.push(cpu);
                }
            }
        }
    }

    fn finish(mut self) -> EngineUse {
        if let Some((rss, _)) = self.proc.sample() {
            self.peak_kib = self.peak_kib.max(rss);
        }
        let (connections, connected_kib) = self.connected.unwrap_or((0, self.before_kib));
        let mib = |kib: u64| kib as f64 / 1024.0;
        EngineUse {
            connections,
            rss_before_mib: mib(self.before_kib),
            rss_connected_mib: mib(connected_kib),
            rss_peak_mib: mib(self.peak_kib),
            kib_per_connection: (connections > 0)
                .then(|| connected_kib.saturating_sub(self.before_kib) as f64 / connections as f64),
            cpu_percent: (!self.cpu.is_empty())
                .then(|| self.cpu.iter().sum::<f64>() / self.cpu.len() as f64),
        }
    }
}

/// Waits until `check` says done, printing its progress every second; fails on timeout
/// or as soon as an `error` frame or harness error is seen.
pub(crate) async fn wait_for(
    shared: &Shared,
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> (bool, String),
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let mut next_print = Instant::now() + Duration::from_secs(1);
    loop {
        let (done, progress) = check();
        if done {
            return Ok(());
        }
        let c = &shared.counters;
        if c.error_frames.get() > 0 || c.harness_errors.get() > 0 {
            bail!(
                "{what}: failed during setup ({progress}): {} error frames, {} harness errors",
                c.error_frames.get(),
                c.harness_errors.get()
            );
        }
        let now = Instant::now();
        if now >= deadline {
            bail!(
                "{what}: timed out after {:.0}s ({progress})",
                timeout.as_secs_f64()
            );
        }
        if now >= next_print {
            eprintln!("  waiting for {what}: {progress}");
            next_print = now + Duration::from_secs(1);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Broadcasts [`Phase::Stop`] and waits for every task to finish.
pub(crate) async fn stop(
    phase_tx: watch::Sender<Phase>,
    tasks: Vec<JoinHandle<()>>,
    shared: &Shared,
) {
    shared.set_stopping();
    let _ = phase_tx.send(Phase::Stop);
    let deadline = Instant::now() + Duration::from_secs(15);
    for t in tasks {
        match tokio::time::timeout_at(deadline, t).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => shared.harness_error("task_failed", e.to_string()),
            Err(_) => {
                shared.harness_error("task_stuck", "a socket task did not stop in time".into())
            }
        }
    }
}

/// Stops whatever was started, then fails with `e`.
pub(crate) async fn abort<T>(
    shared: &Shared,
    phase_tx: watch::Sender<Phase>,
    tasks: Vec<JoinHandle<()>>,
    e: anyhow::Error,
) -> Result<T> {
    shared.set_stopping();
    let _ = phase_tx.send(Phase::Stop);
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
    }
    Err(e)
}

fn fd_hint() -> &'static str {
    "connecting (with many sockets, raise the open-file limit: `ulimit -n 65536`)"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("").is_err());
    }
}
