//! The engine on a real three-node Apache Cassandra cluster (replication factor 3,
//! LOCAL_QUORUM reads and writes, the engine's defaults) while nodes die under live chat
//! traffic. The test starts the cluster itself (`scripts/cassandra.sh`, nodes
//! 127.0.0.21..23, stopped by a guard whatever happens; `CASSANDRA_SH` may name another
//! copy of the script) with `commitlog_sync: batch`: it kills two of three replicas at
//! once, and in the stock periodic mode both may lose the last 10 s of writes they had
//! acknowledged (docs/scylla.md, "What `commit` guarantees"). It runs the engine
//! in-process on the CQL store, connects an agent who accepts every offer and several
//! web-chat visitors who send messages with `client_msg_id`s one after another (resending
//! a refused one with the same id, as the protocol and the bundled chat client do), and
//! proves:
//!
//! - one node killed (kill -9), then restarted: every message is still acknowledged,
//!   nothing is refused, `/readyz` stays 200;
//! - quorum lost (two of three nodes killed): nothing is acknowledged; chat messages get a
//!   typed `error` frame with `ref` (`unavailable` — the store is failing — or `busy`),
//!   REST inbound gets 503 with `Retry-After`, `/readyz` is 503; each answer within a
//!   deadline (no hang);
//! - both nodes restarted: the engine recovers by itself (`/readyz` 200, acks again, the
//!   refused REST deliveries are accepted on retry);
//! - at the end, read over REST: every acknowledged message is stored exactly once (one
//!   `message_in` per `client_msg_id`, with its text and the acknowledged event id),
//!   nothing unacknowledged is stored, and every acknowledged message reached the agent's
//!   socket. The figures (acknowledged, refused, delivered, lost, duplicated) are printed.

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard::config::Settings;
use switchboard::startup::Application;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const NODE_IPS: [&str; 3] = ["127.0.0.21", "127.0.0.22", "127.0.0.23"];
const KEYSPACE: &str = "sbt_cluster";
const ADMIN_PASSWORD: &str = "admin-password";
const QUEUE: &str = "cluster";
const AGENT: &str = "carol";
/// Web-chat visitors sending at once.
const VISITORS: usize = 4;
/// Pause between one visitor's messages (after the previous one was answered).
const PACE: Duration = Duration::from_millis(120);
/// The longest a chat message may wait for its `ack` or `error`: more is a hang.
const REPLY_DEADLINE: Duration = Duration::from_secs(30);
/// Any one HTTP request: more is a hang.
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);
/// Waits for the engine to show a new state (acks flowing, readyz changing).
const STATE_DEADLINE: Duration = Duration::from_secs(60);
/// `scripts/cassandra.sh start` / `restart` (the script's own bound is 180 s per wait).
const SCRIPT_DEADLINE: Duration = Duration::from_secs(240);
/// Polling interval of every bounded wait.
const POLL: Duration = Duration::from_millis(100);

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

// ------------------------------------------------------------------------------ phases

/// What the cluster is going through; every send and reply is stamped with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
enum Phase {
    /// Every node up.
    AllUp = 0,
    /// Node 3 being killed, then dead.
    OneDown = 1,
    /// `cassandra.sh restart 3` running.
    RestartingOne = 2,
    /// Node 3 back.
    Healed = 3,
    /// Nodes 2 and 3 being killed.
    KillingTwo = 4,
    /// Nodes 2 and 3 dead: one replica of three.
    QuorumLost = 5,
    /// `cassandra.sh restart` of nodes 2 and 3 running.
    RestartingTwo = 6,
    /// Every node back.
    Recovered = 7,
}

impl Phase {
    const ALL: [Phase; 8] = [
        Phase::AllUp,
        Phase::OneDown,
        Phase::RestartingOne,
        Phase::Healed,
        Phase::KillingTwo,
        Phase::QuorumLost,
        Phase::RestartingTwo,
        Phase::Recovered,
    ];
    fn from_u8(v: u8) -> Phase {
        Phase::ALL[usize::from(v)]
    }
}

// ------------------------------------------------------------------------------ cluster

/// A three-node Cassandra cluster in a temp dir; dropping it stops every node. After a
/// failure the directory (configs, data, each node's `log/system.log`) is kept and named.
struct Cluster {
    script: PathBuf,
    dir: Option<tempfile::TempDir>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.report();
        }
        let status = std::process::Command::new("bash")
            .arg(&self.script)
            .args(["stop", "--dir"])
            .arg(self.dir())
            .status();
        eprintln!("cql_cluster: cassandra.sh stop: {status:?}");
        if std::thread::panicking() {
            if let Some(d) = self.dir.take() {
                eprintln!("cql_cluster: cluster logs kept in {}", d.keep().display());
            }
        }
    }
}

impl Cluster {
    async fn start() -> Cluster {
        for ip in NODE_IPS {
            let addr: std::net::SocketAddr = format!("{ip}:9042").parse().unwrap();
            assert!(
                std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_err(),
                "something already listens on {addr} (a Cassandra left over from an earlier run?); \
                 stop it before running this test"
            );
        }
        // CASSANDRA_SH: another copy of the script (to try a change to it).
        let script = std::env::var_os("CASSANDRA_SH")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/cassandra.sh"));
        let cluster = Cluster {
            script,
            dir: Some(
                tempfile::Builder::new()
                    .prefix("sb-cql-cluster-")
                    .tempdir()
                    .unwrap(),
            ),
        };
        let out = cluster
            .run(&[
                "start",
                "--nodes",
                "3",
                "--first",
                "21",
                "--commitlog-sync",
                "batch",
            ])
            .await;
        assert_eq!(
            out.lines().last().unwrap_or_default(),
            NODE_IPS.join(","),
            "contact points printed by cassandra.sh start"
        );
        cluster
    }

    fn dir(&self) -> &Path {
        self.dir.as_ref().expect("cluster dir").path()
    }

    /// Runs `cassandra.sh ARGS --dir DIR` and returns its stdout; its stderr (progress)
    /// is printed. Bounded by `SCRIPT_DEADLINE`.
    async fn run(&self, args: &[&str]) -> String {
        let mut cmd = tokio::process::Command::new("bash");
        cmd.arg(&self.script)
            .args(args)
            .arg("--dir")
            .arg(self.dir())
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        let out = tokio::time::timeout(SCRIPT_DEADLINE, cmd.output())
            .await
            .unwrap_or_else(|_| {
                panic!("cassandra.sh {args:?} did not finish in {SCRIPT_DEADLINE:?}")
            })
            .expect("cassandra.sh runs");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        eprint!("{stderr}");
        assert!(
            out.status.success(),
            "cassandra.sh {args:?} failed ({}):\n{stderr}{stdout}",
            out.status
        );
        stdout
    }

    async fn kill(&self, node: usize) {
        self.run(&["kill", &node.to_string()]).await;
    }

    async fn restart(&self, node: usize) {
        self.run(&["restart", &node.to_string()]).await;
    }

    /// Node index -> state (`up`, `down`, `starting`).
    async fn status(&self) -> BTreeMap<usize, String> {
        self.run(&["status"])
            .await
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                assert_eq!(f.len(), 4, "status line {l:?}");
                (f[0].parse().unwrap(), f[3].to_owned())
            })
            .collect()
    }

    /// Prints what a failure needs to be explained (on a panic, before the nodes stop):
    /// each node's state, the free disk under the cluster's directory (a full disk stops
    /// Cassandra's client port), the end of each node's stdout and the last warnings and
    /// errors of its system log.
    fn report(&self) {
        let run = |cmd: &str, args: &[&str]| {
            std::process::Command::new(cmd)
                .args(args)
                .arg(self.dir())
                .stdin(std::process::Stdio::null())
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_else(|e| format!("{cmd}: {e}"))
        };
        let script = self.script.to_string_lossy();
        eprintln!(
            "cql_cluster: node states:\n{}",
            run("bash", &[&script, "status", "--dir"])
        );
        eprintln!("cql_cluster: disk:\n{}", run("df", &["-h"]));
        for i in 1..=NODE_IPS.len() {
            let log = self.dir().join(format!("node{i}/log"));
            let stdout = std::fs::read_to_string(log.join("stdout.log")).unwrap_or_default();
            let system = std::fs::read_to_string(log.join("system.log")).unwrap_or_default();
            let last =
                |lines: Vec<&str>, n: usize| lines[lines.len().saturating_sub(n)..].join("\n");
            let warnings = system
                .lines()
                .filter(|l| l.starts_with("ERROR") || l.starts_with("WARN"))
                .collect();
            eprintln!(
                "cql_cluster: node {i} stdout.log, last lines:\n{}\n\
                 cql_cluster: node {i} system.log, last warnings and errors:\n{}",
                last(stdout.lines().collect(), 15),
                last(warnings, 20)
            );
        }
    }

    async fn assert_states(&self, want: [&str; 3]) {
        let got = self.status().await;
        let got: Vec<&str> = (1..=3).map(|i| got[&i].as_str()).collect();
        assert_eq!(got, want, "cassandra.sh status");
    }
}

// ------------------------------------------------------------------------------ engine

/// The engine in its own actix system thread, on the CQL store of the cluster.
struct Engine {
    base: String,
    port: u16,
    http: reqwest::Client,
    admin: String,
    system: actix_rt::System,
    server: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
    _data_dir: tempfile::TempDir,
}

impl Drop for Engine {
    fn drop(&mut self) {
        drop(self.server.stop(false));
        self.system.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Engine {
    async fn start() -> Engine {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().to_path_buf(),
            workers: 2,
            bootstrap_admin_password: Some(ADMIN_PASSWORD.into()),
            ..Settings::default()
        };
        settings.store.backend = switchboard::config::StoreBackend::Scylla;
        let sc = &mut settings.store.scylla;
        sc.contact_points = NODE_IPS.iter().map(|ip| format!("{ip}:9042")).collect();
        sc.keyspace = KEYSPACE.into();
        sc.replication_factor = 3;
        // The defaults this test is about, stated so a change of default shows here.
        assert_eq!(sc.read_consistency, "local_quorum");
        assert_eq!(sc.write_consistency, "local_quorum");

        let (tx, rx) = tokio::sync::oneshot::channel();
        let thread = std::thread::spawn(move || {
            let sys = actix_rt::System::new();
            sys.block_on(async move {
                let clock: switchboard::domain::time::SharedClock =
                    Arc::new(switchboard::domain::SystemClock);
                let app = Application::build_with_store(settings, clock, |s| s)
                    .await
                    .expect("engine builds on the cluster");
                tx.send((app.port(), actix_rt::System::current(), app.server_handle()))
                    .ok();
                app.run_until_stopped().await.ok();
            });
        });
        let (port, system, server) = tokio::time::timeout(Duration::from_secs(120), rx)
            .await
            .expect("engine started within 120 s")
            .expect("engine started");
        let http = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .build()
            .unwrap();
        let mut e = Engine {
            base: format!("http://127.0.0.1:{port}"),
            port,
            http,
            admin: String::new(),
            system,
            server,
            thread: Some(thread),
            _data_dir: dir,
        };
        e.admin = e.login("admin", ADMIN_PASSWORD).await;
        e
    }

    async fn login(&self, agent: &str, password: &str) -> String {
        let r = self
            .http
            .post(format!("{}/api/v1/login", self.base))
            .json(&json!({"agent_id": agent, "password": password}))
            .send()
            .await
            .expect("login answers");
        assert_eq!(r.status(), 200, "login {agent}");
        r.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .put(format!("{}{path}", self.base))
            .bearer_auth(&self.admin)
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("PUT {path}: {e}"));
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.admin)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    /// `GET /readyz`: (status, body, how long it took). A hang fails the test.
    async fn readyz(&self) -> (u16, Value, Duration) {
        let t = Instant::now();
        let r = self
            .http
            .get(format!("{}/readyz", self.base))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET /readyz did not answer: {e}"));
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(Value::Null), t.elapsed())
    }

    /// `POST /api/v1/inbound`: (status, Retry-After, body).
    async fn inbound(&self, address: &str, text: &str, id: &str) -> (u16, Option<String>, Value) {
        let r = self
            .http
            .post(format!("{}/api/v1/inbound", self.base))
            .bearer_auth(&self.admin)
            .json(&json!({"channel": "sms", "address": address, "text": text, "client_msg_id": id}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST /api/v1/inbound {id} did not answer: {e}"));
        let retry = r
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap_or("?").to_owned());
        (
            r.status().as_u16(),
            retry,
            r.json().await.unwrap_or(Value::Null),
        )
    }

    /// A customer's whole timeline (every page), oldest first.
    async fn full_timeline(&self, customer: &str) -> Vec<Value> {
        let mut all = Vec::new();
        let mut before: Option<String> = None;
        loop {
            let path = match &before {
                Some(b) => format!("/api/v1/customers/{customer}/timeline?limit=200&before={b}"),
                None => format!("/api/v1/customers/{customer}/timeline?limit=200"),
            };
            let (s, v) = self.get(&path).await;
            assert_eq!(s, 200, "{path}: {v}");
            all.extend(v["events"].as_array().unwrap().iter().cloned());
            match v["next_before"].as_str() {
                Some(b) => before = Some(b.to_owned()),
                None => break,
            }
        }
        all.reverse();
        all
    }
}

// ------------------------------------------------------------------------------ records

#[derive(Debug, Clone)]
struct Acked {
    customer: String,
    text: String,
    event_id: String,
    conversation_id: String,
    /// Refusals of this message before it was acknowledged.
    refused_before: u32,
}

#[derive(Debug, Clone)]
struct Refusal {
    id: String,
    code: String,
    message: String,
    sent: Phase,
    answered: Phase,
    latency: Duration,
}

#[derive(Default)]
struct Stats {
    /// client_msg_id -> the acknowledged message (chat and REST).
    acked: BTreeMap<String, Acked>,
    refusals: Vec<Refusal>,
    /// Acks of messages sent and acknowledged within the same phase, by phase.
    acks_in: BTreeMap<Phase, usize>,
    /// Per visitor and phase, the same count.
    visitor_acks_in: BTreeMap<(usize, Phase), usize>,
    /// Acks of messages sent in one phase and acknowledged in another.
    acks_across: usize,
    /// Acks that said `duplicate: true` (a message never acknowledged before).
    duplicate_acks: Vec<String>,
    /// Slowest answer (ack or error) by the phase the message was sent in.
    slowest: BTreeMap<Phase, Duration>,
}

impl Stats {
    fn refusals_in(&self, p: Phase) -> usize {
        self.refusals.iter().filter(|r| r.sent == p).count()
    }
    fn visitor_refusals_in(&self, v: usize, p: Phase) -> usize {
        let prefix = format!("v{v}-");
        self.refusals
            .iter()
            .filter(|r| r.sent == p && r.answered == p && r.id.starts_with(&prefix))
            .count()
    }
}

#[derive(Default)]
struct AgentSeen {
    /// Conversation id -> customer id, for every conversation assigned to the agent.
    assigned: HashMap<String, String>,
    /// client_msg_id -> times a `message_in` with it reached the agent's socket.
    delivered: HashMap<String, usize>,
    offers: usize,
    errors: Vec<Value>,
}

impl AgentSeen {
    fn record(&mut self, e: &Value) {
        if e["type"] == "message_in" {
            if let Some(id) = e["client_msg_id"].as_str() {
                *self.delivered.entry(id.to_owned()).or_default() += 1;
            }
        }
    }
}

struct Shared {
    phase: AtomicU8,
    stop: AtomicBool,
    stats: Mutex<Stats>,
    agent: Mutex<AgentSeen>,
}

impl Shared {
    fn phase(&self) -> Phase {
        Phase::from_u8(self.phase.load(Ordering::SeqCst))
    }
    fn set_phase(&self, p: Phase, t0: Instant) {
        self.phase.store(p as u8, Ordering::SeqCst);
        eprintln!(
            "cql_cluster: {:>6.1} s  phase {p:?}",
            t0.elapsed().as_secs_f64()
        );
    }
}

// ------------------------------------------------------------------------------ sockets

async fn connect(url: &str) -> Ws {
    match tokio::time::timeout(HTTP_TIMEOUT, tokio_tungstenite::connect_async(url)).await {
        Err(_) => panic!("{url}: no websocket upgrade within {HTTP_TIMEOUT:?}"),
        Ok(Err(e)) => panic!("{url}: {e}"),
        Ok(Ok((ws, _))) => ws,
    }
}

/// The next JSON frame before `deadline`; `None` at the deadline. A closed socket or a
/// `reconnect` (the engine restarting an actor) fails the test with what arrived.
async fn next_json(ws: &mut Ws, deadline: tokio::time::Instant, who: &str) -> Option<Value> {
    loop {
        let m = match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return None,
            Ok(None) => panic!("{who}: socket ended"),
            Ok(Some(Err(e))) => panic!("{who}: socket error {e}"),
            Ok(Some(Ok(m))) => m,
        };
        match m {
            Message::Text(t) => {
                let v: Value = serde_json::from_str(&t).expect("server sends JSON");
                assert_ne!(
                    v["type"], "reconnect",
                    "{who}: engine asked to reconnect: {v}"
                );
                return Some(v);
            }
            Message::Close(f) => panic!("{who}: socket closed by the engine: {f:?}"),
            _ => continue,
        }
    }
}

async fn send_json(ws: &mut Ws, v: Value, who: &str) {
    ws.send(Message::Text(v.to_string()))
        .await
        .unwrap_or_else(|e| panic!("{who}: send failed: {e}"));
}

/// One visitor: sends `v{n}-{seq}` messages one after another until told to stop; a
/// refused message is resent with the same id until acknowledged.
async fn visitor(n: usize, mut ws: Ws, customer: String, shared: Arc<Shared>) -> usize {
    let who = format!("visitor {n}");
    let mut seq = 0usize;
    let mut pending: Option<(String, String, u32)> = None;
    let mut tick = tokio::time::interval(PACE);
    // After a slow answer, wait a whole `PACE` again rather than catching up in a burst
    // (which the engine would rightly answer with `rate_limited`).
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if shared.stop.load(Ordering::SeqCst) && pending.is_none() {
            return seq;
        }
        let (id, text, refused) = pending.take().unwrap_or_else(|| {
            seq += 1;
            (
                format!("v{n}-{seq}"),
                format!("visitor {n} message {seq}"),
                0,
            )
        });
        let sent = shared.phase();
        let t = Instant::now();
        send_json(
            &mut ws,
            json!({"type": "message", "client_msg_id": id, "text": text}),
            &who,
        )
        .await;
        let deadline = tokio::time::Instant::now() + REPLY_DEADLINE;
        let reply = loop {
            let Some(m) = next_json(&mut ws, deadline, &who).await else {
                panic!(
                    "{who}: message {id} (sent in phase {sent:?}) got neither ack nor error \
                     within {REPLY_DEADLINE:?}: the engine hangs"
                );
            };
            let mine = (m["type"] == "ack" && m["client_msg_id"] == id.as_str())
                || (m["type"] == "error" && m["ref"] == id.as_str());
            if mine {
                break m;
            }
            // Other frames (`event`, `conversation`) are the chat's own business, but an
            // error about something else would be unexplained.
            assert_ne!(m["type"], "error", "{who}: unexpected error {m}");
        };
        let latency = t.elapsed();
        let answered = shared.phase();
        let mut st = shared.stats.lock().unwrap();
        let slow = st.slowest.entry(sent).or_default();
        *slow = (*slow).max(latency);
        if reply["type"] == "ack" {
            if reply["duplicate"] != false {
                st.duplicate_acks.push(id.clone());
            }
            let prev = st.acked.insert(
                id.clone(),
                Acked {
                    customer: customer.clone(),
                    text: text.clone(),
                    event_id: reply["event_id"].as_str().unwrap_or_default().to_owned(),
                    conversation_id: reply["conversation_id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    refused_before: refused,
                },
            );
            assert!(prev.is_none(), "{who}: {id} acknowledged twice");
            if sent == answered {
                *st.acks_in.entry(sent).or_default() += 1;
                *st.visitor_acks_in.entry((n, sent)).or_default() += 1;
            } else {
                st.acks_across += 1;
            }
        } else {
            let code = reply["code"].as_str().unwrap_or_default().to_owned();
            assert!(
                code == "busy" || code == "unavailable",
                "{who}: {id} refused with an undocumented code (phase {sent:?}): {reply}"
            );
            st.refusals.push(Refusal {
                id: id.clone(),
                code,
                message: reply["message"].as_str().unwrap_or_default().to_owned(),
                sent,
                answered,
                latency,
            });
            pending = Some((id, text, refused + 1));
        }
    }
}

/// The agent: accepts every offer and records every customer message that reaches its
/// socket (in `conversation_assigned`'s recent events and as `event`s).
async fn agent(mut ws: Ws, shared: Arc<Shared>, mut done: tokio::sync::watch::Receiver<bool>) {
    let who = "agent";
    loop {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3600);
        let m = tokio::select! {
            m = next_json(&mut ws, deadline, who) => m.expect("agent frame"),
            _ = done.changed() => return,
        };
        let accept = {
            let mut seen = shared.agent.lock().unwrap();
            match m["type"].as_str().unwrap_or_default() {
                "offer" => {
                    seen.offers += 1;
                    Some(m["offer_id"].clone())
                }
                "conversation_assigned" => {
                    let c = &m["conversation"];
                    for e in c["recent"].as_array().into_iter().flatten() {
                        seen.record(e);
                    }
                    seen.assigned.insert(
                        c["id"].as_str().unwrap().to_owned(),
                        c["customer"]["id"].as_str().unwrap().to_owned(),
                    );
                    None
                }
                "event" => {
                    seen.record(&m["event"]);
                    None
                }
                "error" => {
                    seen.errors.push(m);
                    None
                }
                _ => None,
            }
        };
        if let Some(offer_id) = accept {
            send_json(
                &mut ws,
                json!({"type": "accept", "offer_id": offer_id}),
                who,
            )
            .await;
        }
    }
}

/// Aborts the client tasks when dropped (a failed test ends them with it).
struct AbortOnDrop(Vec<tokio::task::AbortHandle>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

// ------------------------------------------------------------------------------ waits

/// Polls `done` every `POLL` until it holds; fails with `what` and the state at the
/// deadline. Fails at once if a traffic task ended early (it panicked).
async fn until(
    what: &str,
    deadline: Duration,
    tasks: &[tokio::task::JoinHandle<usize>],
    mut done: impl FnMut() -> Option<String>,
) {
    let end = Instant::now() + deadline;
    loop {
        if let Some(i) = tasks.iter().position(|t| t.is_finished()) {
            panic!("visitor {i} stopped while waiting for {what} (see its panic above)");
        }
        let state = match done() {
            None => return,
            Some(s) => s,
        };
        assert!(
            Instant::now() < end,
            "timed out after {deadline:?} waiting for {what}: {state}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until every visitor had `n` messages sent and acknowledged within phase `p`.
async fn acks_flow(
    shared: &Shared,
    p: Phase,
    n: usize,
    deadline: Duration,
    tasks: &[tokio::task::JoinHandle<usize>],
) {
    until(
        &format!("{n} acks per visitor in {p:?}"),
        deadline,
        tasks,
        || {
            let st = shared.stats.lock().unwrap();
            let per: Vec<usize> = (0..VISITORS)
                .map(|v| st.visitor_acks_in.get(&(v, p)).copied().unwrap_or(0))
                .collect();
            per.iter()
                .any(|&c| c < n)
                .then(|| format!("acks per visitor {per:?}, refusals {}", st.refusals_in(p)))
        },
    )
    .await;
}

// ------------------------------------------------------------------------------ test

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_survives_a_node_loss_is_refused_without_quorum_and_recovers_losing_nothing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let t0 = Instant::now();
    let stamp =
        |what: &str| eprintln!("cql_cluster: {:>6.1} s  {what}", t0.elapsed().as_secs_f64());

    // 1. The cluster (dropped last: the engine goes first).
    let cluster = Cluster::start().await;
    cluster.assert_states(["up", "up", "up"]).await;
    stamp("cluster of 3 up");

    // 2. The engine on it.
    let engine = Engine::start().await;
    let (s, body, _) = engine.readyz().await;
    assert_eq!(s, 200, "readyz with every node up: {body}");
    assert_eq!(body["store"], "scylla", "{body}");
    stamp("engine ready");

    // 3. A queue, an agent holding every conversation, visitors, and an SMS customer.
    let (s, v) = engine
        .put(
            &format!("/api/v1/queues/{QUEUE}"),
            json!({"display_name": "Cluster", "default_for": ["chat", "sms"]}),
        )
        .await;
    assert_eq!(s, 200, "put queue: {v}");
    let (s, v) = engine
        .put(
            &format!("/api/v1/agents/{AGENT}"),
            json!({"display_name": "Carol", "password": format!("{AGENT}-password"), "role": "agent",
                   "queues": [QUEUE], "capacity": {"voice": 1, "chat": 8, "email": 5, "messaging": 8}}),
        )
        .await;
    assert_eq!(s, 200, "put agent: {v}");
    let token = engine.login(AGENT, &format!("{AGENT}-password")).await;

    let shared = Arc::new(Shared {
        phase: AtomicU8::new(Phase::AllUp as u8),
        stop: AtomicBool::new(false),
        stats: Mutex::new(Stats::default()),
        agent: Mutex::new(AgentSeen::default()),
    });
    let mut agent_ws = connect(&format!(
        "ws://127.0.0.1:{}/ws/agent?token={token}",
        engine.port
    ))
    .await;
    let far = tokio::time::Instant::now() + REPLY_DEADLINE;
    let w = next_json(&mut agent_ws, far, "agent")
        .await
        .expect("welcome");
    assert_eq!(w["type"], "welcome", "{w}");
    send_json(
        &mut agent_ws,
        json!({"type": "set_status", "status": "available"}),
        "agent",
    )
    .await;
    loop {
        let m = next_json(&mut agent_ws, far, "agent")
            .await
            .expect("status");
        if m["type"] == "status" {
            assert_eq!(m["status"], "available", "{m}");
            break;
        }
    }
    let (agent_done, agent_rx) = tokio::sync::watch::channel(false);
    let agent_task = tokio::spawn(agent(agent_ws, shared.clone(), agent_rx));
    // Dropped before the engine: after a failure the clients stop quietly instead of
    // reporting the engine's shutdown.
    let mut abort = AbortOnDrop(vec![agent_task.abort_handle()]);

    let mut customers = Vec::new();
    let mut tasks = Vec::new();
    for n in 0..VISITORS {
        let mut ws = connect(&format!("ws://127.0.0.1:{}/ws/chat", engine.port)).await;
        let w = next_json(
            &mut ws,
            tokio::time::Instant::now() + REPLY_DEADLINE,
            "visitor",
        )
        .await
        .expect("visitor welcome");
        assert_eq!(w["type"], "welcome", "{w}");
        let customer = w["customer_id"].as_str().unwrap().to_owned();
        customers.push(customer.clone());
        let task = tokio::spawn(visitor(n, ws, customer, shared.clone()));
        abort.0.push(task.abort_handle());
        tasks.push(task);
    }
    // Every visitor's conversation is with the agent before anything breaks.
    until(
        "the agent to hold every visitor's conversation",
        STATE_DEADLINE,
        &tasks,
        || {
            let seen = shared.agent.lock().unwrap();
            let held = customers
                .iter()
                .filter(|c| seen.assigned.values().any(|a| a == *c))
                .count();
            (held < VISITORS).then(|| format!("{held} of {VISITORS} assigned"))
        },
    )
    .await;
    acks_flow(&shared, Phase::AllUp, 5, STATE_DEADLINE, &tasks).await;

    // REST: one customer on SMS, delivered with every node up.
    let sms_a = "+819055550001";
    let sms_b = "+819055550002";
    let (s, _, v) = engine.inbound(sms_a, "rest one", "rest-1").await;
    assert_eq!(s, 202, "inbound with every node up: {v}");
    let sms_customer = v["customer_id"].as_str().unwrap().to_owned();
    let rest_ack = |id: &str, text: &str, customer: &str, v: &Value| {
        let prev = shared.stats.lock().unwrap().acked.insert(
            id.to_owned(),
            Acked {
                customer: customer.to_owned(),
                text: text.to_owned(),
                event_id: v["event_id"].as_str().unwrap().to_owned(),
                conversation_id: v["conversation_id"].as_str().unwrap().to_owned(),
                refused_before: 0,
            },
        );
        assert!(prev.is_none(), "{id} acknowledged twice");
    };
    rest_ack("rest-1", "rest one", &sms_customer, &v);
    stamp("traffic flowing");

    // 4. One node killed mid-traffic: LOCAL_QUORUM (2 of 3) is still there.
    shared.set_phase(Phase::OneDown, t0);
    cluster.kill(3).await;
    cluster.assert_states(["up", "up", "down"]).await;
    acks_flow(&shared, Phase::OneDown, 10, STATE_DEADLINE, &tasks).await;
    let (s, body, took) = engine.readyz().await;
    assert_eq!(s, 200, "readyz with one node down: {body} ({took:?})");
    let (s, _, v) = engine.inbound(sms_a, "rest two", "rest-2").await;
    assert_eq!(s, 202, "inbound with one node down: {v}");
    rest_ack("rest-2", "rest two", &sms_customer, &v);

    shared.set_phase(Phase::RestartingOne, t0);
    cluster.restart(3).await;
    shared.set_phase(Phase::Healed, t0);
    cluster.assert_states(["up", "up", "up"]).await;
    acks_flow(&shared, Phase::Healed, 10, STATE_DEADLINE, &tasks).await;
    {
        let st = shared.stats.lock().unwrap();
        for p in [
            Phase::AllUp,
            Phase::OneDown,
            Phase::RestartingOne,
            Phase::Healed,
        ] {
            let refused: Vec<&Refusal> = st.refusals.iter().filter(|r| r.sent == p).collect();
            assert!(
                refused.is_empty(),
                "messages refused in {p:?} although two of three replicas were up: {refused:#?}"
            );
        }
    }
    stamp("node 3 back, traffic flowing");

    // 5. Quorum lost: two of three nodes killed.
    shared.set_phase(Phase::KillingTwo, t0);
    cluster.kill(2).await;
    cluster.kill(3).await;
    shared.set_phase(Phase::QuorumLost, t0);
    cluster.assert_states(["up", "down", "down"]).await;
    // Every visitor is refused, with a typed error frame (checked in `visitor`).
    until(
        "every visitor to be refused twice",
        STATE_DEADLINE,
        &tasks,
        || {
            let st = shared.stats.lock().unwrap();
            let per: Vec<usize> = (0..VISITORS)
                .map(|v| st.visitor_refusals_in(v, Phase::QuorumLost))
                .collect();
            per.iter()
                .any(|&c| c < 2)
                .then(|| format!("refusals per visitor {per:?}"))
        },
    )
    .await;
    // REST: an existing and a new customer are told to retry.
    let mut rest_refused = Vec::new();
    for (address, text, id) in [
        (sms_a, "rest three", "rest-3"),
        (sms_b, "rest four", "rest-4"),
    ] {
        let t = Instant::now();
        let (s, retry, v) = engine.inbound(address, text, id).await;
        eprintln!(
            "cql_cluster: quorum lost: POST /api/v1/inbound {id} -> {s} Retry-After {retry:?} {v} in {:?}",
            t.elapsed()
        );
        assert_eq!(s, 503, "inbound {id} without quorum: {v}");
        assert!(retry.is_some(), "Retry-After on the 503 of {id}");
        let code = v["code"].as_str().unwrap_or_default().to_owned();
        assert!(
            code == "busy" || code == "unavailable",
            "503 body code of {id}: {v}"
        );
        rest_refused.push((id, code));
    }
    // Readiness says so.
    let mut ready_seen = Vec::new();
    let end = Instant::now() + STATE_DEADLINE;
    loop {
        let (s, body, took) = engine.readyz().await;
        ready_seen.push((s, took));
        if s != 200 {
            eprintln!("cql_cluster: quorum lost: GET /readyz -> {s} {body} in {took:?}");
            assert_eq!(s, 503, "readyz without quorum: {body}");
            assert_eq!(body["status"], "store unavailable", "{body}");
            break;
        }
        assert!(
            Instant::now() < end,
            "readyz still 200 {STATE_DEADLINE:?} after quorum was lost: {ready_seen:?}"
        );
        tokio::time::sleep(POLL).await;
    }
    {
        let st = shared.stats.lock().unwrap();
        let acked_without_quorum = st.acks_in.get(&Phase::QuorumLost).copied().unwrap_or(0);
        assert_eq!(
            acked_without_quorum, 0,
            "messages sent and acknowledged while two of three replicas were down"
        );
    }
    stamp("quorum lost: refused as expected");

    // 6. Both nodes back: the engine recovers by itself.
    shared.set_phase(Phase::RestartingTwo, t0);
    tokio::join!(cluster.restart(2), cluster.restart(3));
    shared.set_phase(Phase::Recovered, t0);
    cluster.assert_states(["up", "up", "up"]).await;
    let end = Instant::now() + STATE_DEADLINE;
    loop {
        let (s, body, took) = engine.readyz().await;
        if s == 200 {
            stamp(&format!("readyz 200 again ({took:?})"));
            break;
        }
        assert!(
            Instant::now() < end,
            "readyz not 200 {STATE_DEADLINE:?} after the nodes came back: {s} {body}"
        );
        tokio::time::sleep(POLL).await;
    }
    acks_flow(&shared, Phase::Recovered, 10, STATE_DEADLINE, &tasks).await;
    // The refused REST deliveries, retried with their ids, are accepted once.
    for (address, text, id) in [
        (sms_a, "rest three", "rest-3"),
        (sms_b, "rest four", "rest-4"),
    ] {
        let end = Instant::now() + STATE_DEADLINE;
        let v = loop {
            let (s, _, v) = engine.inbound(address, text, id).await;
            if s == 202 {
                break v;
            }
            assert!(
                s == 503 && Instant::now() < end,
                "retry of {id} after recovery: {s} {v}"
            );
            tokio::time::sleep(POLL).await;
        };
        assert_eq!(
            v["duplicate"], false,
            "{id} was refused, so not stored: {v}"
        );
        rest_ack(id, text, v["customer_id"].as_str().unwrap(), &v);
    }
    stamp("recovered");

    // 7. Stop sending; every visitor's last message is acknowledged first.
    shared.stop.store(true, Ordering::SeqCst);
    let mut sent_total = 0;
    for (i, t) in tasks.into_iter().enumerate() {
        sent_total += tokio::time::timeout(STATE_DEADLINE, t)
            .await
            .unwrap_or_else(|_| panic!("visitor {i} did not finish"))
            .unwrap_or_else(|e| panic!("visitor {i}: {e}"));
    }
    let acked: BTreeMap<String, Acked> = shared.stats.lock().unwrap().acked.clone();
    // The agent accepts every offer, so it holds every acknowledged message's
    // conversation, and every one of those messages reached its socket.
    let owed = || -> Vec<String> {
        let seen = shared.agent.lock().unwrap();
        acked
            .iter()
            .filter(|(id, a)| {
                !seen.assigned.contains_key(&a.conversation_id) || !seen.delivered.contains_key(*id)
            })
            .map(|(id, _)| id.clone())
            .collect()
    };
    let deliver_end = Instant::now() + Duration::from_secs(15);
    while !owed().is_empty() && Instant::now() < deliver_end {
        tokio::time::sleep(POLL).await;
    }
    let undelivered = owed();
    agent_done.send(true).unwrap();
    tokio::time::timeout(STATE_DEADLINE, agent_task)
        .await
        .expect("agent task ends")
        .expect("agent task did not panic");

    // Every acknowledged message stored exactly once, with its text and event id;
    // nothing unacknowledged stored.
    let mut stored: HashMap<String, Vec<Value>> = HashMap::new();
    let mut all_customers = customers.clone();
    all_customers.push(sms_customer.clone());
    for a in acked.values() {
        if !all_customers.contains(&a.customer) {
            all_customers.push(a.customer.clone());
        }
    }
    for c in &all_customers {
        for e in engine.full_timeline(c).await {
            if e["type"] == "message_in" {
                let id = e["client_msg_id"].as_str().unwrap_or("<none>").to_owned();
                stored.entry(id).or_default().push(e);
            }
        }
    }
    let mut lost = Vec::new();
    let mut duplicated = Vec::new();
    let mut wrong = Vec::new();
    for (id, a) in &acked {
        match stored.get(id).map(Vec::as_slice) {
            None | Some([]) => lost.push(id.clone()),
            Some([e]) => {
                if e["text"] != a.text.as_str()
                    || e["id"] != a.event_id.as_str()
                    || e["customer_id"] != a.customer.as_str()
                {
                    wrong.push(format!("{id}: acked {a:?}, stored {e}"));
                }
            }
            Some(many) => duplicated.push(format!(
                "{id} stored {} times (refused {} times before its ack; acked event {}; first stored {})",
                many.len(),
                a.refused_before,
                a.event_id,
                many[0]["id"]
            )),
        }
    }
    let unacked_stored: Vec<&String> = stored
        .keys()
        .filter(|id| !acked.contains_key(*id))
        .collect();

    // Figures.
    let st = shared.stats.lock().unwrap();
    let seen = shared.agent.lock().unwrap();
    let delivered = acked
        .keys()
        .filter(|id| seen.delivered.contains_key(*id))
        .count();
    let mut refused_by: BTreeMap<(String, Phase), usize> = BTreeMap::new();
    let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &st.refusals {
        *refused_by.entry((r.code.clone(), r.answered)).or_default() += 1;
        *reasons.entry(r.message.as_str()).or_default() += 1;
    }
    let slowest_refusal = st.refusals.iter().map(|r| r.latency).max();
    println!("---- cql_cluster figures ----");
    println!("chat messages (distinct ids): {sent_total}; REST deliveries: 4");
    println!("acknowledged:      {}", acked.len());
    println!(
        "refused:           {} chat error frames by (code, phase answered) {refused_by:?}; REST 503 {rest_refused:?}",
        st.refusals.len()
    );
    for (m, n) in &reasons {
        println!("  {n:>4} x {m}");
    }
    println!("slowest refusal:   {slowest_refusal:?}");
    println!("acks by phase (sent and acked in it): {:?}", st.acks_in);
    println!("acks across a phase change: {}", st.acks_across);
    println!("slowest answer by phase sent: {:?}", st.slowest);
    println!(
        "agent:             {} offers, {} conversations, errors {:?}",
        seen.offers,
        seen.assigned.len(),
        seen.errors
    );
    println!("delivered:         {delivered}");
    println!("undelivered:       {} {:?}", undelivered.len(), undelivered);
    println!("lost:              {} {:?}", lost.len(), lost);
    println!("duplicated:        {}", duplicated.len());
    for d in &duplicated {
        println!("  {d}");
    }
    println!(
        "stored, never acknowledged: {} {:?}",
        unacked_stored.len(),
        unacked_stored
    );
    println!("first acks marked duplicate: {:?}", st.duplicate_acks);
    println!("stored differently: {wrong:?}");
    println!("wall time:         {:.1} s", t0.elapsed().as_secs_f64());

    assert!(lost.is_empty(), "acknowledged messages lost: {lost:?}");
    assert!(
        duplicated.is_empty(),
        "acknowledged messages stored more than once: {duplicated:#?}"
    );
    assert!(
        wrong.is_empty(),
        "stored differently than acknowledged: {wrong:#?}"
    );
    assert!(
        unacked_stored.is_empty(),
        "messages stored that were never acknowledged: {unacked_stored:?}"
    );
    assert!(
        st.duplicate_acks.is_empty(),
        "first acks marked duplicate: {:?}",
        st.duplicate_acks
    );
    assert!(
        undelivered.is_empty(),
        "acknowledged but never reached the agent: {undelivered:?}"
    );
    assert!(
        seen.errors.is_empty(),
        "errors on the agent socket: {:?}",
        seen.errors
    );
}
