//! `loadtest failover`: what the customers of a contact center see when the engine
//! serving them dies. Steady chat traffic runs against a set of engine nodes; part way
//! through, the harness sends a signal (`kill -9` or SIGTERM) to an engine process it
//! is given (it never starts engines itself); every client whose socket drops
//! reconnects to any node that accepts it and resends what was not acknowledged,
//! exactly as the web clients do; the run measures how long service took to come
//! back, and whether any message was lost or applied twice.
//!
//! 1. Setup as `messages` ([`Crew`]): agents created, connected and available, one
//!    conversation per customer, assigned. The admin calls go to the first ready node.
//! 2. Load: customers send at an aggregate `--rate` for `--duration` (agents never
//!    reply); at `--kill-after` the signal goes to `--kill-pid`. Once a second the
//!    open sockets are sampled.
//! 3. Drain: until every message sent is acknowledged and every acknowledged one is
//!    delivered, at most `--drain`; then every task stops.
//! 4. The ledger's analysis ([`ledger::Book::analyse`]) gives the timeline, the
//!    recovery times and the accounting of lost and duplicated messages.
//!
//! The client side of it — reconnecting, resending, recording — is in the agent and
//! customer tasks (`crate::agent`, `crate::customer`, and what they share:
//! `crate::client`), switched on by [`Resilience`].

pub mod ledger;

use crate::clock;
use crate::messages::{abort, client_cfgs, parse_duration, stop, Crew, Phase};
use crate::nodes::{Backoff, NodeCounts, NodeSet, Role};
use crate::stats::{write_latency_table, write_nodes, Latency, Shared};
use anyhow::{bail, ensure, Context, Result};
use ledger::{Accounting, Ledger, Outcome, Params, Recovery, Sample, Second};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// What an agent or customer task needs to survive its node going away. `None` in the
/// other modes, where a socket that ends is a harness error.
pub struct Resilience {
    /// Waits between rounds of reconnect attempts, and when to give up.
    pub backoff: Backoff,
    /// How agents authenticate on the node they reconnect to.
    pub agent_reconnect: AgentReconnect,
    /// For [`AgentReconnect::Login`].
    pub agent_password: String,
    /// Where every send, ack, delivery, socket and error is recorded.
    pub ledger: Ledger,
}

/// How an agent whose socket dropped authenticates its new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentReconnect {
    /// Log in again (`POST /api/v1/login`, a password hash on the engine), then
    /// connect with the new token.
    Login,
    /// Connect with the token it had, as the web agent client does (tokens are signed
    /// with a key the engines share through the store).
    Token,
}

/// The signal sent to `--kill-pid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// SIGKILL (`kill -9`): a crash; the standby takes over once the lease lapses.
    Kill,
    /// SIGTERM: a graceful stop; the lease is released, the standby takes over at once.
    Term,
    /// SIGSTOP, then SIGCONT `--stop-for` later: a paused engine (a VM freeze, a long
    /// GC-like stall). Past its lease the standby takes over; the engine wakes fenced
    /// (its writes refused) and exits.
    Stop,
}

impl Signal {
    fn number(self) -> libc::c_int {
        match self {
            Signal::Kill => libc::SIGKILL,
            Signal::Term => libc::SIGTERM,
            Signal::Stop => libc::SIGSTOP,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Signal::Kill => "SIGKILL",
            Signal::Term => "SIGTERM",
            Signal::Stop => "SIGSTOP",
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Engine base URLs (plain HTTP): comma-separated or the flag repeated. Nodes that
    /// are not ready (standbys) are skipped, and tried again on reconnect.
    #[arg(long, default_value = "http://127.0.0.1:8080", action = clap::ArgAction::Append)]
    pub url: Vec<String>,
    /// Password of the engine's admin agent (the engine's `--admin-password`).
    #[arg(long)]
    pub admin_password: String,
    /// Id of the admin agent.
    #[arg(long, default_value = "admin")]
    pub admin_id: String,
    /// Process to signal (the active engine). The harness never starts engines.
    #[arg(long)]
    pub kill_pid: i32,
    /// Signal to send: `kill` (SIGKILL, a crash), `term` (SIGTERM, a graceful stop) or
    /// `stop` (SIGSTOP, and SIGCONT `--stop-for` later: a pause).
    #[arg(long, value_enum, default_value_t = Signal::Kill)]
    pub signal: Signal,
    /// With `--signal stop`: how long the engine stays stopped before SIGCONT.
    #[arg(long, default_value = "8s", value_parser = parse_duration)]
    pub stop_for: Duration,
    /// When to send it, after the start of the load.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub kill_after: Duration,
    /// Load time, from its start (the signal falls inside it).
    #[arg(long, default_value = "40s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Longest wait after the load for messages not yet acknowledged or delivered.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub drain: Duration,
    /// Agents to create and connect.
    #[arg(long, default_value_t = 20)]
    pub agents: u32,
    /// Web-chat customers (one conversation each).
    #[arg(long, default_value_t = 200)]
    pub customers: u32,
    /// Aggregate customer → agent message rate, messages per second.
    #[arg(long, default_value_t = 500.0)]
    pub rate: f64,
    /// Fraction of customers that must have an acknowledged message again for
    /// "served again".
    #[arg(long, default_value_t = 0.99)]
    pub served_fraction: f64,
    /// Wait after a failed round of reconnect attempts (doubling up to
    /// `--reconnect-max`, jittered between half and all of it).
    #[arg(long, default_value = "50ms", value_parser = parse_duration)]
    pub reconnect_min: Duration,
    /// Longest wait between rounds of reconnect attempts.
    #[arg(long, default_value = "500ms", value_parser = parse_duration)]
    pub reconnect_max: Duration,
    /// A client that cannot reconnect for this long gives up (a harness error).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub reconnect_give_up: Duration,
    /// How a reconnecting agent authenticates: `login` again, or reuse its `token`
    /// (what the web agent client does).
    #[arg(long, value_enum, default_value_t = AgentReconnect::Login)]
    pub agent_reconnect: AgentReconnect,
    /// Pad every message text to at least this many bytes.
    #[arg(long, default_value_t = 0)]
    pub text_bytes: usize,
    /// Opening messages per second (0: every customer opens at once).
    #[arg(long, default_value_t = 0.0)]
    pub open_rate: f64,
    /// Queue the agents serve.
    #[arg(long, default_value = "general")]
    pub queue: String,
    /// Agent id prefix; ids are PREFIX0001, PREFIX0002…
    #[arg(long, default_value = "lt-f")]
    pub agent_prefix: String,
    /// Password given to the load-test agents (8+ bytes).
    #[arg(long, default_value = "loadtest-agent")]
    pub agent_password: String,
    /// Logins and websocket handshakes in flight at once during setup.
    #[arg(long, default_value_t = 32)]
    pub connect_concurrency: usize,
    /// Longest wait for a ready node, for agents to be available and for every
    /// conversation to be assigned.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub setup_timeout: Duration,
    /// Also write the figures as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// The run's settings, as reported.
#[derive(Debug, Clone, Serialize)]
pub struct FailoverConfig {
    pub urls: Vec<String>,
    pub agents: u32,
    pub customers: u32,
    pub chat_capacity: u16,
    pub target_rate_per_s: f64,
    pub duration_s: f64,
    pub kill_after_s: f64,
    pub signal: Signal,
    pub kill_pid: i32,
    pub drain_s: f64,
    pub reconnect_min_ms: f64,
    pub reconnect_max_ms: f64,
    pub agent_reconnect: AgentReconnect,
    pub run_id: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct FailoverReport {
    pub config: FailoverConfig,
    /// Each `--url`: sockets opened there (first connections and reconnections), and
    /// attempts it refused.
    pub nodes: Vec<NodeCounts>,
    /// When the signal was sent, milliseconds since the Unix epoch: to line the run up
    /// with the engines' logs.
    pub signal_unix_ms: Option<u64>,
    pub recovery: Recovery,
    pub messages: Accounting,
    /// Customer → agent latency of every load message, from its first send (so a
    /// message held up by the failover counts its whole wait).
    pub latency_ms: Latency,
    /// How long the drain took, seconds.
    pub drained_s: f64,
    /// `error` frames by code.
    pub errors: BTreeMap<String, u64>,
    /// Harness-side failures by kind (a client that could not reconnect…).
    pub harness_errors: BTreeMap<String, u64>,
    pub error_samples: Vec<String>,
    pub timeline: Vec<Second>,
    /// No message lost or applied twice, every message acknowledged by the end, and
    /// no harness failure.
    pub ok: bool,
}

pub async fn run(args: &Args) -> Result<FailoverReport> {
    ensure!(args.agents >= 1, "--agents must be at least 1");
    ensure!(args.customers >= 1, "--customers must be at least 1");
    ensure!(
        args.rate > 0.0 && args.rate.is_finite(),
        "--rate must be positive"
    );
    ensure!(
        args.kill_after < args.duration,
        "--kill-after must fall inside --duration"
    );
    ensure!(
        args.served_fraction > 0.0 && args.served_fraction <= 1.0,
        "--served-fraction must be in (0, 1]"
    );
    ensure!(
        !args.reconnect_min.is_zero() && args.reconnect_min <= args.reconnect_max,
        "--reconnect-min must be positive and at most --reconnect-max"
    );
    ensure!(
        args.open_rate >= 0.0 && args.open_rate.is_finite(),
        "--open-rate must be ≥ 0"
    );
    ensure!(
        args.agent_password.len() >= 8,
        "--agent-password must be at least 8 bytes"
    );
    check_pid(args.kill_pid)?;
    let capacity = u16::try_from(args.customers.div_ceil(args.agents) + 1)
        .context("too many customers per agent (chat capacity is at most 65535)")?;

    clock::origin();
    let run_id = uuid::Uuid::new_v4().as_u128() as u32;
    let shared = Arc::new(Shared::new(run_id));
    let nodes = Arc::new(NodeSet::parse(&args.url)?);
    let resilience = Arc::new(Resilience {
        backoff: Backoff {
            min: args.reconnect_min,
            max: args.reconnect_max,
            give_up: args.reconnect_give_up,
        },
        agent_reconnect: args.agent_reconnect,
        agent_password: args.agent_password.clone(),
        ledger: Ledger::new(),
    });
    let ledger = &resilience.ledger;

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
        t0: Instant::now(),
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
            0, // agents never reply: only customer messages are accounted
        ),
        Some(Arc::clone(&resilience)),
        (&phase_tx, &phase_rx),
        &mut tasks,
    );
    if let Err(e) = setup.await {
        return abort(&shared, phase_tx, tasks, e).await;
    }

    // ---- load, with the signal inside it
    let start = Instant::now() + Duration::from_millis(100);
    let end = start + args.duration;
    let kill_at = start + args.kill_after;
    let start_ns = clock::ns_of(start.into_std());
    shared.set_window(start_ns, clock::ns_of(end.into_std()));
    let _ = phase_tx.send(Phase::Load { start, end });
    eprintln!(
        "load: {:.0} msg/s for {:.1}s; {} to pid {} at {:.1}s",
        args.rate,
        args.duration.as_secs_f64(),
        args.signal.name(),
        args.kill_pid,
        args.kill_after.as_secs_f64()
    );
    let mut every =
        tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
    let mut progress = Progress::default();
    let mut signalled = false;
    let mut signal_unix_ms = None;
    let cont_at = kill_at + args.stop_for;
    let mut continued = args.signal != Signal::Stop;
    loop {
        tokio::select! {
            t = every.tick() => progress.tick(t - start, &shared, &nodes, ledger, &crew),
            () = tokio::time::sleep_until(cont_at), if signalled && !continued => {
                continued = true;
                // SAFETY: kill(2) takes no pointers; the pid passed `check_pid`.
                if unsafe { libc::kill(args.kill_pid, libc::SIGCONT) } != 0 {
                    let e = anyhow::anyhow!(
                        "sending SIGCONT to pid {}: {}",
                        args.kill_pid,
                        std::io::Error::last_os_error()
                    );
                    return abort(&shared, phase_tx, tasks, e).await;
                }
                eprintln!("SIGCONT sent to pid {}", args.kill_pid);
            }
            () = tokio::time::sleep_until(kill_at), if !signalled => {
                signalled = true;
                let at = clock::now_ns();
                signal_unix_ms = Some(unix_ms());
                if let Err(e) = send_signal(args.kill_pid, args.signal) {
                    return abort(&shared, phase_tx, tasks, e).await;
                }
                ledger.signalled(at);
                eprintln!("{} sent to pid {}", args.signal.name(), args.kill_pid);
            }
            () = tokio::time::sleep_until(end) => break,
        }
    }
    if signalled && !continued {
        // The load ended first: never leave the engine stopped.
        // SAFETY: kill(2) takes no pointers; the pid passed `check_pid`.
        unsafe { libc::kill(args.kill_pid, libc::SIGCONT) };
    }

    // ---- drain: until everything sent is acknowledged and delivered
    let drain_deadline = Instant::now() + args.drain;
    let mut poll = tokio::time::interval(Duration::from_millis(50));
    let settled = loop {
        tokio::select! {
            t = every.tick() => progress.tick(t - start, &shared, &nodes, ledger, &crew),
            _ = poll.tick() => {
                if ledger.pending() == (0, 0) {
                    break true;
                }
                if Instant::now() >= drain_deadline {
                    break false;
                }
            }
        }
    };
    let drained_s = end.elapsed().as_secs_f64();
    let (unacked, undelivered) = ledger.pending();
    if settled {
        eprintln!("drained ({drained_s:.2}s after the end)");
    } else {
        eprintln!(
            "drain timed out after {:.1}s: {unacked} not acknowledged, {undelivered} acknowledged but not delivered",
            args.drain.as_secs_f64()
        );
    }
    let until = clock::now_ns();

    // ---- stop, analyse, report
    stop(phase_tx, tasks, &shared).await;
    let outcome = ledger.analyse(&Params {
        start: start_ns,
        until,
        customers: args.customers,
        served_fraction: args.served_fraction,
    });
    let config = FailoverConfig {
        urls: nodes.urls(),
        agents: args.agents,
        customers: args.customers,
        chat_capacity: capacity,
        target_rate_per_s: args.rate,
        duration_s: args.duration.as_secs_f64(),
        kill_after_s: args.kill_after.as_secs_f64(),
        signal: args.signal,
        kill_pid: args.kill_pid,
        drain_s: args.drain.as_secs_f64(),
        reconnect_min_ms: args.reconnect_min.as_secs_f64() * 1e3,
        reconnect_max_ms: args.reconnect_max.as_secs_f64() * 1e3,
        agent_reconnect: args.agent_reconnect,
        run_id: format!("{run_id:08x}"),
    };
    let mut report = FailoverReport::build(config, nodes.counts(), outcome, &shared, drained_s);
    report.signal_unix_ms = signal_unix_ms;
    Ok(report)
}

/// Wall-clock milliseconds since the Unix epoch (for the report only: every duration
/// is measured on [`clock`]).
fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// `hh:mm:ss.mmm` UTC of a Unix time in milliseconds (the engines log in UTC).
fn utc_time_of_day(unix_ms: u64) -> String {
    let ms = unix_ms % 86_400_000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// The once-a-second sample and progress line.
#[derive(Default)]
struct Progress {
    last_sent: u64,
    last_delivered: u64,
}

impl Progress {
    fn tick(
        &mut self,
        since_start: Duration,
        shared: &Shared,
        nodes: &NodeSet,
        ledger: &Ledger,
        crew: &Crew,
    ) {
        let (agents, customers) = (nodes.open_now(Role::Agent), nodes.open_now(Role::Customer));
        ledger.sample(Sample {
            at: clock::now_ns(),
            agents,
            customers,
        });
        let c = &shared.counters;
        let (sent, delivered) = (c.c2a_sent.get(), c.c2a_received.get());
        eprintln!(
            "[{:>6.1}s] sent {sent} ({}/s) acked {} delivered {delivered} ({}/s) | agents {agents}/{} customers {customers}/{} | errors {} harness {}",
            since_start.as_secs_f64(),
            sent - self.last_sent,
            c.c2a_acked.get(),
            delivered.saturating_sub(self.last_delivered),
            crew.agents,
            crew.customers,
            c.error_frames.get(),
            c.harness_errors.get(),
        );
        (self.last_sent, self.last_delivered) = (sent, delivered);
    }
}

/// Refuses a pid that cannot be the engine (0 and negative pids name process groups;
/// 1 is init; ours is ours) or that this user cannot signal (`kill(pid, 0)`).
fn check_pid(pid: i32) -> Result<()> {
    ensure!(
        pid > 1 && u32::try_from(pid).ok() != Some(std::process::id()),
        "--kill-pid {pid}: not an engine's process id"
    );
    // SAFETY: kill(2) takes no pointers; signal 0 only checks the pid exists and may
    // be signalled.
    if unsafe { libc::kill(pid, 0) } != 0 {
        bail!(
            "--kill-pid {pid}: {} (is the engine running?)",
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}

fn send_signal(pid: i32, signal: Signal) -> Result<()> {
    // SAFETY: kill(2) takes no pointers; `pid` passed `check_pid` at the start.
    if unsafe { libc::kill(pid, signal.number()) } != 0 {
        bail!(
            "sending {} to pid {pid}: {}",
            signal.name(),
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}

impl FailoverReport {
    fn build(
        config: FailoverConfig,
        nodes: Vec<NodeCounts>,
        outcome: Outcome,
        shared: &Shared,
        drained_s: f64,
    ) -> FailoverReport {
        let Outcome {
            recovery,
            accounting,
            timeline,
        } = outcome;
        let hists = shared.merged_hists();
        let (errors, harness_errors) = shared.error_tallies();
        let ok = accounting.passed() && accounting.unacked == 0 && harness_errors.is_empty();
        FailoverReport {
            config,
            nodes,
            signal_unix_ms: None,
            recovery,
            messages: accounting,
            latency_ms: Latency::of(&hists.c2a),
            drained_s,
            errors,
            harness_errors,
            error_samples: shared.error_samples(),
            timeline,
            ok,
        }
    }

    /// The human-readable table.
    pub fn table(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let cfg = &self.config;
        let _ = writeln!(
            s,
            "failover run {}: {} agents (chat capacity {}), {} customers, {:.0} msg/s for {:.1}s; {} to pid {} at {:.1}s; drain up to {:.0}s",
            cfg.run_id,
            cfg.agents,
            cfg.chat_capacity,
            cfg.customers,
            cfg.target_rate_per_s,
            cfg.duration_s,
            cfg.signal.name(),
            cfg.kill_pid,
            cfg.kill_after_s,
            cfg.drain_s
        );
        let _ = writeln!(s);
        write_nodes(&mut s, &self.nodes);
        let _ = writeln!(s);

        let r = &self.recovery;
        let ms = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.0}"));
        let _ = writeln!(
            s,
            "recovery (ms after the signal{}; agents reconnect by {})",
            self.signal_unix_ms
                .map(|t| format!(", sent at {} UTC", utc_time_of_day(t)))
                .unwrap_or_default(),
            match cfg.agent_reconnect {
                AgentReconnect::Login => "logging in again",
                AgentReconnect::Token => "reusing their token",
            }
        );
        let _ = writeln!(s, "  first ack                {:>8}", ms(r.first_ack_ms));
        let _ = writeln!(
            s,
            "  first agent delivery     {:>8}",
            ms(r.first_delivery_ms)
        );
        let _ = writeln!(
            s,
            "  served again, {:>3.0}%      {:>8}   (50%: {}, all: {}; {} of {} customers had an ack after the signal)",
            r.served_fraction * 100.0,
            ms(r.served_again_ms),
            ms(r.served_again_p50_ms),
            ms(r.served_again_all_ms),
            r.customers_served_again,
            r.customers
        );
        let _ = writeln!(
            s,
            "  agents back              {:>8}   ({} dropped)",
            ms(r.agents_back_ms),
            r.agents_dropped
        );
        let _ = writeln!(
            s,
            "  customers back           {:>8}   ({} dropped)",
            ms(r.customers_back_ms),
            r.customers_dropped
        );
        for c in &r.slowest {
            let list = |v: &[f64]| {
                v.iter()
                    .map(|t| format!("{t:.0}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let _ = writeln!(
                s,
                "    slow: customer {:>5} served {:>6.0}   dropped [{}] reopened [{}]",
                c.customer,
                c.served_ms,
                list(&c.dropped_ms),
                list(&c.opened_ms)
            );
        }
        if r.signal_at_s.is_some() && r.agents_dropped + r.customers_dropped == 0 {
            let _ = writeln!(
                s,
                "  note: no socket dropped after the signal; was --kill-pid the active engine?"
            );
        }
        let _ = writeln!(s);

        let m = &self.messages;
        let _ = writeln!(
            s,
            "messages {:>8} {:>8} {:>10} {:>6} {:>11} {:>8} {:>7} {:>9}",
            "sent", "acked", "delivered", "lost", "duplicated", "unacked", "resent", "dup acks"
        );
        let _ = writeln!(
            s,
            "         {:>8} {:>8} {:>10} {:>6} {:>11} {:>8} {:>7} {:>9}",
            m.sent,
            m.acked,
            m.delivered,
            m.lost,
            m.duplicated,
            m.unacked,
            m.resent,
            m.duplicate_acks
        );
        let _ = writeln!(
            s,
            "delivered only in a welcome view {}; delivered though never acked {}; same event again: {} live, {} in a welcome view; ack conflicts {}",
            m.delivered_in_welcome_only,
            m.delivered_unacked,
            m.redelivered_live,
            m.redelivered_in_welcome,
            m.ack_conflicts
        );
        let keys = |k: &[ledger::MsgKey]| {
            k.iter()
                .map(|k| format!("customer {} message {}", k.customer, k.seq))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !m.lost_sample.is_empty() {
            let _ = writeln!(s, "  lost: {}", keys(&m.lost_sample));
        }
        if !m.duplicated_sample.is_empty() {
            let _ = writeln!(s, "  duplicated: {}", keys(&m.duplicated_sample));
        }
        let _ = writeln!(s);
        write_latency_table(&mut s, &[("customer -> agent", &self.latency_ms)]);
        let _ = writeln!(s);

        let _ = writeln!(
            s,
            "{:>5} {:>6} {:>7} {:>6} {:>10} {:>7} {:>7} {:>10}",
            "t (s)", "sent", "resent", "acked", "delivered", "errors", "agents", "customers"
        );
        let opt = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
        for row in &self.timeline {
            let _ = writeln!(
                s,
                "{:>5} {:>6} {:>7} {:>6} {:>10} {:>7} {:>7} {:>10}",
                row.t,
                row.sent,
                row.resent,
                row.acked,
                row.delivered,
                row.errors,
                opt(row.agents),
                opt(row.customers)
            );
        }
        let _ = writeln!(s);
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
                "FAIL (lost, duplicated or unacknowledged messages, or harness errors)"
            }
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_of_day_in_utc() {
        // 2026-12-03T07:16:53.489Z
        assert_eq!(utc_time_of_day(1_796_282_213_489), "07:16:53.489");
        assert_eq!(utc_time_of_day(0), "00:00:00.000");
    }

    #[test]
    fn pids_that_cannot_be_an_engine_are_refused() {
        for pid in [-1, 0, 1, std::process::id() as i32] {
            assert!(check_pid(pid).is_err(), "{pid}");
        }
    }
}
