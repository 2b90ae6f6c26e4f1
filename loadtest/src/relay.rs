//! The bare baseline: what moving the same messages costs without the engine.
//!
//! - `loadtest relay-server`: a minimal websocket relay (tokio-tungstenite, one task
//!   per socket and one writer task fed by a bounded channel; no actors, no store, no
//!   acks). An agent connects to `/agent?id=N`, a customer to `/customer?agent=N`; each
//!   gets `{"type":"welcome"}` (the customer's with its `customer_id`) once registered.
//!   Every customer text frame reaches agent N as `{"from":C,"text":FRAME}`; every agent
//!   frame `{"to":C,...}` is forwarded verbatim to customer C.
//! - `loadtest relay`: the `messages` measurement (same flags, same stamps, same HDR
//!   histograms, same table and JSON, from `stats`) against that relay.
//! - `loadtest ratio ENGINE.json RELAY.json` (or `relay --compare-json ENGINE.json`):
//!   engine / relay ratios of throughput and p50 / p99 latency.
//!
//! It must stay bare: anything added here (persistence, routing, acks) is cost the
//! ratio would hide.

use crate::clock;
use crate::messages::{parse_duration, Phase};
use crate::net::{ws_base, Conn};
use crate::stamp::{Kind, Stamp};
use crate::stats::{record_ns, record_since, Report, RunConfig, Shared};
use anyhow::{bail, ensure, Context, Result};
use futures_util::{stream, SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::Message;

/// Frames queued per relay socket before the forwarding reader waits.
const WRITE_QUEUE: usize = 1024;

// ---------------------------------------------------------------- relay server

#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9090")]
    pub listen: String,
}

/// Who is connected: one sender per socket, into that socket's writer task.
#[derive(Default)]
struct Hub {
    agents: Mutex<HashMap<u64, mpsc::Sender<Message>>>,
    customers: Mutex<HashMap<u64, mpsc::Sender<Message>>>,
    next_customer: AtomicU64,
}

/// What a connection asked to be.
#[derive(Debug, PartialEq)]
enum Role {
    Agent(u64),
    Customer { agent: u64 },
}

/// `/agent?id=N` or `/customer?agent=N`.
fn parse_role(path_and_query: &str) -> Option<Role> {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let param = |name: &str| {
        query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == name)
            .and_then(|(_, v)| v.parse().ok())
    };
    match path {
        "/agent" => param("id").map(Role::Agent),
        "/customer" => param("agent").map(|agent| Role::Customer { agent }),
        _ => None,
    }
}

/// Runs `loadtest relay-server` until Ctrl-C.
pub async fn serve(args: &ServerArgs) -> ExitCode {
    let listener = match TcpListener::bind(&args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: listening on {}: {e}", args.listen);
            return ExitCode::from(2);
        }
    };
    eprintln!("relay listening on {}", args.listen);
    tokio::select! {
        () = serve_on(listener) => {}
        _ = tokio::signal::ctrl_c() => eprintln!("relay stopping"),
    }
    ExitCode::SUCCESS
}

/// Accepts connections on `listener` forever.
async fn serve_on(listener: TcpListener) {
    let hub = Arc::new(Hub::default());
    loop {
        match listener.accept().await {
            Ok((tcp, _)) => {
                let _ = tcp.set_nodelay(true);
                tokio::spawn(connection(tcp, Arc::clone(&hub)));
            }
            Err(e) => {
                eprintln!("relay: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// One socket: handshake, register, forward its frames until it closes.
// The handshake callback's error type is tungstenite's (an HTTP response), not ours.
#[allow(clippy::result_large_err)]
async fn connection(tcp: TcpStream, hub: Arc<Hub>) {
    let mut target = String::new();
    let ws = match tokio_tungstenite::accept_hdr_async(tcp, |req: &Request, resp: Response| {
        target = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default();
        Ok(resp)
    })
    .await
    {
        Ok(ws) => ws,
        Err(_) => return,
    };
    let (mut sink, mut rx) = ws.split();
    let Some(role) = parse_role(&target) else {
        let _ = sink.close().await;
        return;
    };
    let (tx, mut queue) = mpsc::channel::<Message>(WRITE_QUEUE);
    let writer = tokio::spawn(async move {
        while let Some(m) = queue.recv().await {
            if sink.feed(m).await.is_err() {
                return;
            }
            while let Ok(m) = queue.try_recv() {
                if sink.feed(m).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
        let _ = sink.close().await;
    });
    match role {
        Role::Agent(id) => {
            hub.agents.lock().expect("hub").insert(id, tx.clone());
            let _ = tx.send(Message::Text(r#"{"type":"welcome"}"#.into())).await;
            while let Some(Ok(m)) = rx.next().await {
                let Message::Text(text) = m else { continue };
                let Ok(To { to }) = serde_json::from_str::<To>(&text) else {
                    continue;
                };
                let dest = hub.customers.lock().expect("hub").get(&to).cloned();
                if let Some(dest) = dest {
                    let _ = dest.send(Message::Text(text)).await;
                }
            }
            hub.agents.lock().expect("hub").remove(&id);
        }
        Role::Customer { agent } => {
            let id = hub.next_customer.fetch_add(1, Ordering::Relaxed);
            hub.customers.lock().expect("hub").insert(id, tx.clone());
            let welcome = format!(r#"{{"type":"welcome","customer_id":{id}}}"#);
            let _ = tx.send(Message::Text(welcome)).await;
            while let Some(Ok(m)) = rx.next().await {
                let Message::Text(text) = m else { continue };
                let dest = hub.agents.lock().expect("hub").get(&agent).cloned();
                if let Some(dest) = dest {
                    let frame = serde_json::to_string(&From {
                        from: id,
                        text: &text,
                    })
                    .expect("serialises");
                    let _ = dest.send(Message::Text(frame)).await;
                }
            }
            hub.customers.lock().expect("hub").remove(&id);
        }
    }
    drop(tx);
    let _ = writer.await;
}

/// The only field the relay reads from an agent frame.
#[derive(Deserialize)]
struct To {
    to: u64,
}

/// A customer frame as the agent receives it.
#[derive(Serialize, Deserialize)]
struct From<'a> {
    from: u64,
    #[serde(borrow)]
    text: &'a str,
}

/// An agent frame (the harness's replies).
#[derive(Serialize, Deserialize)]
struct Reply<'a> {
    to: u64,
    #[serde(borrow)]
    text: &'a str,
}

#[derive(Deserialize)]
struct CustomerWelcome {
    customer_id: u64,
}

// ---------------------------------------------------------------- relay measurement

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Relay address (`ws://` or `http://`).
    #[arg(long, default_value = "http://127.0.0.1:9090")]
    pub url: String,
    /// Agents to connect.
    #[arg(long, default_value_t = 50)]
    pub agents: u32,
    /// Customers to connect (customer i talks to agent i mod agents).
    #[arg(long, default_value_t = 500)]
    pub customers: u32,
    /// Aggregate customer → agent message rate, messages per second.
    #[arg(long, default_value_t = 5000.0)]
    pub rate: f64,
    /// Measured load time (after the warm-up).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Load time before measuring starts.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Agents reply to every Nth customer message (0: never).
    #[arg(long, default_value_t = 10)]
    pub reply_every: u64,
    /// Pad every message text to at least this many bytes.
    #[arg(long, default_value_t = 0)]
    pub text_bytes: usize,
    /// Websocket handshakes in flight at once.
    #[arg(long, default_value_t = 32)]
    pub connect_concurrency: usize,
    /// Longest wait after the load for messages still in flight.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub drain_timeout: Duration,
    /// Also write the figures as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// A `messages --json` report of the engine: print engine / relay ratios.
    #[arg(long)]
    pub compare_json: Option<PathBuf>,
}

/// Runs `loadtest relay` and prints the report (and the ratios).
pub async fn main(args: &Args) -> ExitCode {
    let report = match run(args).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    println!("{}", report.table());
    let value = match serde_json::to_value(&report) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&value).unwrap_or_default() + "\n";
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("error: writing {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    if let Some(path) = &args.compare_json {
        match read_json(path).and_then(|engine| ratio_table(&engine, &value)) {
            Ok(t) => println!("\n{t}"),
            Err(e) => {
                eprintln!("error: {e:#}");
                return ExitCode::from(2);
            }
        }
    }
    if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

async fn run(args: &Args) -> Result<Report> {
    ensure!(
        args.agents >= 1 && args.customers >= 1,
        "--agents and --customers must be ≥ 1"
    );
    ensure!(
        args.rate > 0.0 && args.rate.is_finite(),
        "--rate must be positive"
    );
    ensure!(!args.duration.is_zero(), "--duration must be positive");
    clock::origin();
    let run_id = uuid::Uuid::new_v4().as_u128() as u32;
    let shared = Arc::new(Shared::new(run_id));
    let ws = ws_base(&args.url)?;
    let conc = args.connect_concurrency.max(1);
    let (phase_tx, phase_rx) = watch::channel(Phase::Setup);
    let mut tasks: Vec<JoinHandle<()>> = Vec::new();

    let agents: Vec<Result<(u32, Conn)>> = stream::iter(0..args.agents)
        .map(|i| {
            let ws = ws.clone();
            async move {
                let mut conn = Conn::connect(&format!("{ws}/agent?id={i}")).await?;
                conn.first_text(Duration::from_secs(10)).await?;
                anyhow::Ok((i, conn))
            }
        })
        .buffer_unordered(conc)
        .collect()
        .await;
    for a in agents {
        let (i, conn) =
            a.context("connecting relay agents (is `loadtest relay-server` running?)")?;
        shared.counters.agents_ready.inc();
        let task = i as usize;
        tasks.push(tokio::spawn(agent(
            conn,
            task,
            Arc::clone(&shared),
            args.reply_every,
            args.text_bytes,
            phase_rx.clone(),
        )));
    }
    let customers: Vec<Result<(u32, u64, Conn)>> = stream::iter(0..args.customers)
        .map(|i| {
            let ws = ws.clone();
            let agent = i % args.agents;
            async move {
                let mut conn = Conn::connect(&format!("{ws}/customer?agent={agent}")).await?;
                let first = conn.first_text(Duration::from_secs(10)).await?;
                let w: CustomerWelcome = serde_json::from_str(&first)
                    .with_context(|| format!("customer welcome: {first:.200}"))?;
                anyhow::Ok((i, w.customer_id, conn))
            }
        })
        .buffer_unordered(conc)
        .collect()
        .await;
    let period = Duration::from_secs_f64(f64::from(args.customers) / args.rate);
    for cu in customers {
        let (i, _relay_id, conn) = cu.context("connecting relay customers")?;
        shared.counters.customers_connected.inc();
        let cfg = CustomerCfg {
            idx: i,
            task: args.agents as usize + i as usize,
            offset: period.mul_f64(f64::from(i) / f64::from(args.customers)),
            period,
            text_bytes: args.text_bytes,
        };
        tasks.push(tokio::spawn(customer(
            conn,
            cfg,
            Arc::clone(&shared),
            phase_rx.clone(),
        )));
    }
    eprintln!(
        "run {run_id:08x}: {} agents, {} customers connected to the relay",
        args.agents, args.customers
    );

    let start = Instant::now() + Duration::from_millis(100);
    let measure_start = start + args.warmup;
    let end = measure_start + args.duration;
    shared.set_window(
        clock::ns_of(measure_start.into_std()),
        clock::ns_of(end.into_std()),
    );
    let _ = phase_tx.send(Phase::Load { start, end });
    tokio::time::sleep_until(end).await;

    let c = &shared.counters;
    let connected = c.customers_connected.get();
    let drained = || {
        c.customers_done.get() >= connected
            && c.c2a_received.get() >= c.c2a_sent.get()
            && c.a2c_received.get() >= c.a2c_sent.get()
    };
    let deadline = Instant::now() + args.drain_timeout;
    while !drained() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shared.set_stopping();
    let _ = phase_tx.send(Phase::Stop);
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
    }
    let config = RunConfig {
        url: args.url.clone(),
        agents: args.agents,
        customers: args.customers,
        chat_capacity: u16::try_from(args.customers.div_ceil(args.agents)).unwrap_or(u16::MAX),
        target_rate_per_s: args.rate,
        warmup_s: args.warmup.as_secs_f64(),
        duration_s: args.duration.as_secs_f64(),
        reply_every: args.reply_every,
        text_bytes: args.text_bytes,
        run_id: format!("{run_id:08x}"),
    };
    Ok(Report::build(
        config,
        &shared,
        &shared.merged_hists(),
        args.duration.as_secs_f64(),
    ))
}

/// A relay agent: measures each customer message and replies to every Nth.
async fn agent(
    mut conn: Conn,
    task: usize,
    shared: Arc<Shared>,
    reply_every: u64,
    text_bytes: usize,
    mut phase: watch::Receiver<Phase>,
) {
    loop {
        tokio::select! {
            frame = Conn::next_text(&mut conn.rx) => {
                let Some(Ok(text)) = frame else {
                    if !shared.is_stopping() {
                        shared.harness_error("agent_socket_failed", format!("relay agent {task}: socket ended"));
                    }
                    break;
                };
                let Ok(f) = serde_json::from_str::<From>(&text) else { continue };
                let Some(s) = Stamp::parse(f.text).filter(|s| s.run == shared.run && s.kind == Kind::Msg) else { continue };
                let c = &shared.counters;
                let reply = reply_every > 0 && s.seq % reply_every == 0 && !shared.is_stopping();
                let reply_ns = clock::now_ns();
                if reply {
                    c.a2c_sent.inc();
                    if shared.in_window(reply_ns) {
                        c.a2c_measured_sent.inc();
                    }
                }
                c.c2a_received.inc();
                if shared.in_window(s.sent_ns) {
                    record_since(&mut shared.hists(task).c2a, s.sent_ns);
                    c.c2a_measured_received.inc();
                }
                if reply {
                    let text = Stamp { run: shared.run, kind: Kind::Reply, customer: s.customer, seq: s.seq, sent_ns: reply_ns }.text(text_bytes);
                    let frame = serde_json::to_string(&Reply { to: f.from, text: &text }).expect("serialises");
                    let _ = conn.tx.send(Message::Text(frame)).await;
                }
            }
            changed = phase.changed() => {
                if changed.is_err() || *phase.borrow_and_update() == Phase::Stop {
                    break;
                }
            }
        }
    }
    conn.close().await;
}

#[derive(Clone, Copy)]
struct CustomerCfg {
    /// Harness index (in stamps).
    idx: u32,
    task: usize,
    offset: Duration,
    period: Duration,
    text_bytes: usize,
}

/// A relay customer: sends on its own interval during the load, measures replies.
async fn customer(
    mut conn: Conn,
    cfg: CustomerCfg,
    shared: Arc<Shared>,
    mut phase: watch::Receiver<Phase>,
) {
    let c = &shared.counters;
    let mut ticker: Option<(tokio::time::Interval, Instant)> = None;
    let mut seq = 0u64;
    let mut done = false;
    loop {
        tokio::select! {
            frame = Conn::next_text(&mut conn.rx) => {
                let Some(Ok(text)) = frame else {
                    if !shared.is_stopping() {
                        shared.harness_error("customer_socket_failed", format!("relay customer {}: socket ended", cfg.idx));
                    }
                    break;
                };
                let Ok(r) = serde_json::from_str::<Reply>(&text) else { continue };
                let Some(s) = Stamp::parse(r.text).filter(|s| s.run == shared.run && s.kind == Kind::Reply) else { continue };
                c.a2c_received.inc();
                if s.customer != cfg.idx {
                    shared.harness_error("misrouted", format!("relay customer {} got customer {}'s reply", cfg.idx, s.customer));
                }
                if shared.in_window(s.sent_ns) {
                    record_since(&mut shared.hists(cfg.task).a2c, s.sent_ns);
                    c.a2c_measured_received.inc();
                }
            }
            changed = phase.changed() => {
                if changed.is_err() { break; }
                match *phase.borrow_and_update() {
                    Phase::Load { start, end } => {
                        let mut i = tokio::time::interval_at(start + cfg.offset, cfg.period);
                        i.set_missed_tick_behavior(MissedTickBehavior::Burst);
                        ticker = Some((i, end));
                    }
                    Phase::Stop => break,
                    _ => {}
                }
            }
            t = tick(&mut ticker) => {
                let end = ticker.as_ref().map(|(_, e)| *e).unwrap_or(t);
                if t >= end {
                    ticker = None;
                    if !done { done = true; c.customers_done.inc(); }
                    continue;
                }
                seq += 1;
                let now = std::time::Instant::now();
                let sent_ns = clock::ns_of(now);
                c.c2a_sent.inc();
                if shared.in_window(sent_ns) {
                    c.c2a_measured_sent.inc();
                    let lag = now.saturating_duration_since(t.into_std()).as_nanos();
                    record_ns(&mut shared.hists(cfg.task).send_lag, u64::try_from(lag).unwrap_or(u64::MAX));
                }
                let text = Stamp { run: shared.run, kind: Kind::Msg, customer: cfg.idx, seq, sent_ns }.text(cfg.text_bytes);
                let _ = conn.tx.send(Message::Text(text)).await;
            }
        }
    }
    if !done {
        c.customers_done.inc();
    }
    conn.close().await;
}

async fn tick(ticker: &mut Option<(tokio::time::Interval, Instant)>) -> Instant {
    match ticker {
        Some((i, _)) => i.tick().await,
        None => std::future::pending().await,
    }
}

// ---------------------------------------------------------------- ratios

#[derive(Debug, clap::Args)]
pub struct RatioArgs {
    /// The engine's `messages --json` report.
    pub engine: PathBuf,
    /// The relay's `relay --json` report (same flags, same machine).
    pub relay: PathBuf,
}

pub fn ratio_main(args: &RatioArgs) -> ExitCode {
    match read_json(&args.engine)
        .and_then(|e| read_json(&args.relay).map(|r| (e, r)))
        .and_then(|(e, r)| ratio_table(&e, &r))
    {
        Ok(t) => {
            println!("{t}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn read_json(path: &PathBuf) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Engine / relay for throughput and p50 / p99 of both directions. Flags that differ
/// between the two runs are listed first: a ratio of different loads means little.
pub fn ratio_table(engine: &Value, relay: &Value) -> Result<String> {
    use std::fmt::Write;
    let mut s = String::new();
    for key in [
        "agents",
        "customers",
        "target_rate_per_s",
        "duration_s",
        "reply_every",
        "text_bytes",
    ] {
        let (e, r) = (&engine["config"][key], &relay["config"][key]);
        if e != r {
            let _ = writeln!(s, "warning: {key} differs (engine {e}, relay {r})");
        }
    }
    let _ = writeln!(
        s,
        "{:<34} {:>12} {:>12} {:>14}",
        "engine / relay", "engine", "relay", "ratio"
    );
    let mut any = false;
    for (dir, name) in [
        ("customer_to_agent", "customer -> agent"),
        ("agent_to_customer", "agent -> customer"),
    ] {
        for (path, label) in [
            (&["throughput_per_s"][..], "throughput (msg/s)"),
            (&["latency_ms", "p50"][..], "p50 (ms)"),
            (&["latency_ms", "p99"][..], "p99 (ms)"),
        ] {
            let get = |v: &Value| path.iter().fold(&v[dir], |v, k| &v[*k]).as_f64();
            let (e, r) = (get(engine), get(relay));
            let show = |x: Option<f64>| x.map(|x| format!("{x:.3}")).unwrap_or_else(|| "-".into());
            let ratio = match (e, r) {
                (Some(e), Some(r)) if r > 0.0 => {
                    any = true;
                    format!("{:.2}x", e / r)
                }
                _ => "-".into(),
            };
            let _ = writeln!(
                s,
                "{:<34} {:>12} {:>12} {:>14}",
                format!("{name} {label}"),
                show(e),
                show(r),
                ratio
            );
        }
    }
    if !any {
        bail!("no figures to compare: are these `messages --json` and `relay --json` reports?");
    }
    Ok(s.trim_end().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles() {
        assert_eq!(parse_role("/agent?id=3"), Some(Role::Agent(3)));
        assert_eq!(
            parse_role("/customer?x=1&agent=7"),
            Some(Role::Customer { agent: 7 })
        );
        assert_eq!(parse_role("/agent"), None);
        assert_eq!(parse_role("/other?id=1"), None);
    }

    #[test]
    fn ratios() {
        let report = |tp: f64, p50: f64, p99: f64| {
            serde_json::json!({
                "config": {"agents": 2, "customers": 4, "target_rate_per_s": 100.0},
                "customer_to_agent": {"throughput_per_s": tp, "latency_ms": {"p50": p50, "p99": p99}},
                "agent_to_customer": {"throughput_per_s": tp / 10.0, "latency_ms": {"p50": null, "p99": null}}
            })
        };
        let t = ratio_table(&report(100.0, 3.0, 9.0), &report(100.0, 0.5, 1.5)).unwrap();
        assert!(t.contains("1.00x") && t.contains("6.00x"), "{t}");
        assert!(!t.contains("warning"));
        assert!(ratio_table(&serde_json::json!({}), &serde_json::json!({})).is_err());
    }

    /// The relay forwards a customer frame to its agent (wrapped with `from`) and an
    /// agent frame to the addressed customer (verbatim).
    #[tokio::test]
    async fn relays_both_ways() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(serve_on(listener));
        let ws = format!("ws://{addr}");
        let t = Duration::from_secs(5);
        let mut a = Conn::connect(&format!("{ws}/agent?id=1")).await.unwrap();
        a.first_text(t).await.unwrap();
        let mut c = Conn::connect(&format!("{ws}/customer?agent=1"))
            .await
            .unwrap();
        let w: CustomerWelcome = serde_json::from_str(&c.first_text(t).await.unwrap()).unwrap();
        c.tx.send(Message::Text("hello".into())).await.unwrap();
        let got = a.first_text(t).await.unwrap();
        let f: From = serde_json::from_str(&got).unwrap();
        assert_eq!((f.from, f.text), (w.customer_id, "hello"));
        let reply = format!(r#"{{"to":{},"text":"hi"}}"#, w.customer_id);
        a.tx.send(Message::Text(reply.clone())).await.unwrap();
        assert_eq!(c.first_text(t).await.unwrap(), reply);
        server.abort();
    }
}
