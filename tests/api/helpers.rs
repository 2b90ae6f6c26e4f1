//! Test harness: `spawn_app` starts the real engine (HTTP + websockets + its store) on
//! 127.0.0.1:0 in its own actix system thread; clients talk to it over real sockets.
//! Waiting is always for an event (a websocket message, an HTTP state) with a deadline,
//! never a bare sleep.
//!
//! The store is the one the test binary names in `crate::BACKEND`: the embedded store in
//! a temp dir (`tests/api`), or the CQL store on the Cassandra/ScyllaDB cluster named by
//! `SCYLLA_URI` (`tests/api_cql`), in a keyspace of its own tied to that same temp dir —
//! so "start again on the same dir" means the same keyspace on either backend. A test's
//! keyspace is emptied and reused by a later test (see [`cql_keyspace`]): creating and
//! dropping one costs Cassandra ~8 s of schema changes, which it makes one at a time.

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use switchboard::config::Settings;
use switchboard::startup::{Application, ShutdownHandle};
use switchboard::store::faulty::FaultyStore;
use switchboard::store::SharedStore;
use tokio::net::TcpStream;
use tokio_tungstenite::{tungstenite::Message, MaybeTlsStream, WebSocketStream};

pub const ADMIN_PASSWORD: &str = "admin-password";
/// Upper bound for any single wait in a test; generous for slow CI machines.
pub const WAIT: Duration = Duration::from_secs(15);

pub struct TestApp {
    pub port: u16,
    pub base: String,
    pub admin: String,
    pub http: reqwest::Client,
    /// The SMTP listener's address, when email is enabled.
    pub smtp: Option<std::net::SocketAddr>,
    /// Held so the store's directory lives exactly as long as the app.
    _data_dir: tempfile::TempDir,
    system: actix_rt::System,
    server: actix_web::dev::ServerHandle,
    /// Starts the same graceful shutdown as SIGTERM.
    pub shutdown: ShutdownHandle,
    /// The engine and server handle, for test-only hooks (actor panic injection). Dropped before the
    /// app stops so the store can close.
    pub engine: Option<switchboard::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.engine = None;
        // Stopping the server ends `run_until_stopped`; the command is sent eagerly, so the
        // returned future need not be polled.
        drop(self.server.stop(false));
        self.system.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // The data dir goes with the app (`stop` hands it back first when a test restarts
        // on it): its keyspace is emptied for the next test, or a suite's worth of
        // keyspaces would fill the database's heap.
        if crate::BACKEND == Backend::Cql {
            release_keyspace(self._data_dir.path());
        }
    }
}

/// `DROP KEYSPACE IF EXISTS`, from a thread of its own (the caller may be inside a
/// runtime). Best effort: a keyspace left behind only costs the test database memory.
pub fn drop_keyspace(keyspace: &str) {
    let keyspace = keyspace.to_owned();
    let points = cql_contact_points();
    let done = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let session = scylla::client::session_builder::SessionBuilder::new()
                .known_nodes(&points)
                .build()
                .await?;
            let mut drop =
                scylla::statement::Statement::new(format!("DROP KEYSPACE IF EXISTS {keyspace}"));
            drop.set_request_timeout(Some(std::time::Duration::from_secs(60)));
            session.query_unpaged(drop, ()).await?;
            anyhow::Ok(())
        })
    })
    .join();
    if let Ok(Err(e)) = done {
        eprintln!("could not drop a test keyspace: {e}");
    }
}

/// The HTTP client of a test: it drops pooled connections after 2 s idle, before the
/// engine's 5 s keep-alive closes them, so a request never goes out on a connection the
/// server is closing at that instant (hyper's `IncompleteMessage` race).
/// The `/metrics` text of the engine at `base` (asserting it answers 200).
pub async fn metrics_text(http: &reqwest::Client, base: &str) -> String {
    let r = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("scrape /metrics");
    assert_eq!(r.status(), 200, "GET /metrics");
    r.text().await.expect("metrics text")
}

pub fn test_http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_idle_timeout(std::time::Duration::from_secs(2))
        .build()
        .expect("http client")
}

/// Which store the engines of a test binary run on (`crate::BACKEND`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded redb store in the test's temp dir.
    Embedded,
    /// The CQL store (`--store scylla`) on the cluster named by `SCYLLA_URI`.
    Cql,
}

/// `SCYLLA_URI`'s contact points. The CQL tests never skip: without a database they fail
/// and say how to start one.
pub fn cql_contact_points() -> Vec<String> {
    let uri = std::env::var("SCYLLA_URI").unwrap_or_else(|_| {
        panic!(
            "SCYLLA_URI is not set: the CQL tests run against a real Cassandra or ScyllaDB. \
             Run ./scripts/test.sh (it starts Cassandra), or start one with \
             `scripts/cassandra.sh start` and set SCYLLA_URI=127.0.0.11:9042"
        )
    });
    switchboard::store::scylla::ScyllaOptions::parse_uri(&uri)
        .expect("SCYLLA_URI")
        .0
}

/// Keyspaces of this test binary: the one each data dir uses, and the emptied ones a
/// new data dir takes first.
#[derive(Default)]
struct KeyspacePool {
    by_dir: std::collections::HashMap<std::path::PathBuf, String>,
    free: Vec<String>,
}

fn keyspace_pool() -> std::sync::MutexGuard<'static, KeyspacePool> {
    static POOL: std::sync::OnceLock<std::sync::Mutex<KeyspacePool>> = std::sync::OnceLock::new();
    POOL.get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The keyspace of the engine whose data dir is `dir`: one per test, the same on a
/// restart over the same dir. A new dir takes a keyspace an earlier test released
/// (emptied, its schema in place: the engine finds nothing to migrate), else one whose
/// dir is gone (its test is over: a test's engines and processes go before its temp
/// dir), else a new name derived from the dir (the engine creates it).
pub fn cql_keyspace(dir: &std::path::Path) -> String {
    let mut pool = keyspace_pool();
    if let Some(k) = pool.by_dir.get(dir) {
        return k.clone();
    }
    if pool.free.is_empty() {
        let gone: Vec<std::path::PathBuf> = pool
            .by_dir
            .keys()
            .filter(|d| !d.exists())
            .cloned()
            .collect();
        drop(pool);
        for d in gone {
            release_keyspace(&d);
        }
        pool = keyspace_pool();
    }
    let k = pool.free.pop().unwrap_or_else(|| {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(dir.as_os_str().as_encoded_bytes());
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        format!("sbt_{hex}")
    });
    pool.by_dir.insert(dir.to_path_buf(), k.clone());
    k
}

/// `dir`'s engine is gone for good: its keyspace is emptied (every table but the
/// schema's record truncated) and handed to the next new dir; dropped if that fails.
/// Nothing when `dir` never had one.
pub fn release_keyspace(dir: &std::path::Path) {
    let Some(keyspace) = keyspace_pool().by_dir.remove(dir) else {
        return;
    };
    match truncate_keyspace(&keyspace) {
        Ok(()) => keyspace_pool().free.push(keyspace),
        Err(e) => {
            eprintln!("could not empty test keyspace {keyspace} ({e}); dropping it");
            drop_keyspace(&keyspace);
        }
    }
}

/// Truncates every table of `keyspace` except `schema_version`, from a thread of its own
/// (the caller may be inside a runtime). A keyspace whose schema record is not complete
/// (a test edited it) is refused, so it is never reused.
fn truncate_keyspace(keyspace: &str) -> anyhow::Result<()> {
    let keyspace = keyspace.to_owned();
    let points = cql_contact_points();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(async move {
            let session = scylla::client::session_builder::SessionBuilder::new()
                .known_nodes(&points)
                .build()
                .await?;
            let applied = session
                .query_unpaged(format!("SELECT version FROM {keyspace}.schema_version"), ())
                .await?
                .into_rows_result()?
                .rows_num();
            let files = switchboard::store::scylla::schema::FILES.len();
            anyhow::ensure!(
                applied == files,
                "{applied} schema files recorded, not {files}"
            );
            let tables: Vec<String> = session
                .query_unpaged(
                    "SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?",
                    (keyspace.as_str(),),
                )
                .await?
                .into_rows_result()?
                .rows::<(String,)>()?
                .map(|r| r.map(|(t,)| t))
                .collect::<Result<_, _>>()?;
            let truncations = tables
                .iter()
                .filter(|t| t.as_str() != "schema_version")
                .map(|t| {
                    let mut q =
                        scylla::statement::Statement::new(format!("TRUNCATE {keyspace}.{t}"));
                    q.set_request_timeout(Some(std::time::Duration::from_secs(60)));
                    let session = &session;
                    async move { session.query_unpaged(q, ()).await }
                });
            for r in futures::future::join_all(truncations).await {
                r?;
            }
            anyhow::Ok(())
        })
    })
    .join()
    .map_err(|_| anyhow::anyhow!("the truncating thread panicked"))?
}

/// Points `settings` at this binary's backend for the data dir `dir`.
pub fn use_backend(settings: &mut Settings, dir: &std::path::Path) {
    if crate::BACKEND == Backend::Cql {
        settings.store.backend = switchboard::config::StoreBackend::Scylla;
        settings.store.scylla.contact_points = cql_contact_points();
        settings.store.scylla.keyspace = cql_keyspace(dir);
        settings.store.scylla.replication_factor = 1;
    }
}

/// The command-line flags that point the real binary at this backend for `dir`.
pub fn backend_args(dir: &std::path::Path) -> Vec<String> {
    match crate::BACKEND {
        Backend::Embedded => vec!["--data-dir".into(), dir.display().to_string()],
        Backend::Cql => vec![
            "--data-dir".into(),
            dir.display().to_string(),
            "--store".into(),
            "scylla".into(),
            "--scylla-contact-points".into(),
            cql_contact_points().join(","),
            "--scylla-keyspace".into(),
            cql_keyspace(dir),
            "--scylla-replication-factor".into(),
            "1".into(),
        ],
    }
}

pub fn test_settings(dir: &std::path::Path) -> Settings {
    let mut settings = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.to_path_buf(),
        workers: 2,
        bootstrap_admin_password: Some(ADMIN_PASSWORD.into()),
        // Provider payloads in the tests carry fixed, old timestamps; the replay window
        // is tested on its own in `security.rs`.
        security: switchboard::config::SecuritySettings {
            webhook_max_event_age_ms: 0,
            ..Default::default()
        },
        // Every test's visitors come from 127.0.0.1; the budgets per address are tested
        // on their own in `security.rs` (`anonymous_*`).
        anonymous: generous_budgets(),
        // A new search index reads back a month of report events, not 400 days: each
        // day is a read per queue on the CQL store, and every test starts a new index.
        search: switchboard::search::SearchSettings {
            rebuild_days: 30,
            ..Default::default()
        },
        ..Settings::default()
    };
    use_backend(&mut settings, dir);
    // Every test of the binary again with the actors placed by key (one node holding
    // every key): `SWITCHBOARD_TEST_PLACEMENT=spread cargo test --test api`.
    if std::env::var("SWITCHBOARD_TEST_PLACEMENT").as_deref() == Ok("spread") {
        settings.cluster.placement = switchboard::config::Placement::Spread;
        settings.cluster.shards = 16;
        settings
            .cluster
            .secret
            .get_or_insert_with(|| "spread-placement-test-secret".into());
    }
    settings
}

/// Anonymous budgets no test reaches by accident.
pub fn generous_budgets() -> switchboard::budget::AnonymousSettings {
    switchboard::budget::AnonymousSettings {
        chat_opens_per_window: 1_000_000,
        visitors_per_window: 1_000_000,
        conversations_per_window: 1_000_000,
        callbacks_per_window: 1_000_000,
        help_requests_per_window: 1_000_000,
        sso_requests_per_window: 1_000_000,
        max_chat_sockets: 1_000_000,
        ..Default::default()
    }
}

/// Starts the engine; `tweak` adjusts settings (timeouts, limits).
pub async fn spawn_app(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    spawn_app_in(dir, tweak).await
}

pub async fn spawn_app_in(dir: tempfile::TempDir, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_full(dir, tweak, None, None).await
}

/// Starts the engine on its embedded store wrapped in a [`FaultyStore`], returned with
/// the app so the test can break and heal the store while the engine runs.
pub async fn spawn_app_with_faults(
    tweak: impl FnOnce(&mut Settings),
) -> (TestApp, Arc<FaultyStore>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let wrap: StoreWrap = Box::new(move |inner| {
        let f = FaultyStore::new(inner);
        tx.send(f.clone()).ok();
        f as SharedStore
    });
    let app = spawn_app_full(tempfile::tempdir().unwrap(), tweak, None, Some(wrap)).await;
    let faults = rx.recv().expect("store wrapped");
    (app, faults)
}

/// Starts the engine on a clock the test moves by hand (days pass in an instant).
pub async fn spawn_app_with_clock(
    tweak: impl FnOnce(&mut Settings),
    clock: switchboard::domain::time::ManualClock,
) -> TestApp {
    spawn_app_full(tempfile::tempdir().unwrap(), tweak, Some(clock), None).await
}

/// [`spawn_app_in`] on a clock the test moves by hand: a restart on the same store
/// keeps the engine's notion of time.
pub async fn spawn_app_in_with_clock(
    dir: tempfile::TempDir,
    tweak: impl FnOnce(&mut Settings),
    clock: switchboard::domain::time::ManualClock,
) -> TestApp {
    spawn_app_full(dir, tweak, Some(clock), None).await
}

type StoreWrap = Box<dyn FnOnce(SharedStore) -> SharedStore + Send>;

async fn spawn_app_full(
    dir: tempfile::TempDir,
    tweak: impl FnOnce(&mut Settings),
    clock: Option<switchboard::domain::time::ManualClock>,
    wrap: Option<StoreWrap>,
) -> TestApp {
    let mut settings = test_settings(dir.path());
    tweak(&mut settings);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let thread = std::thread::spawn(move || {
        let sys = actix_rt::System::new();
        sys.block_on(async move {
            let clock: switchboard::domain::time::SharedClock = match clock {
                Some(c) => Arc::new(c),
                None => Arc::new(switchboard::domain::SystemClock),
            };
            let wrap = wrap.unwrap_or_else(|| Box::new(|s| s));
            let app = Application::build_with_store(settings, clock, wrap)
                .await
                .expect("app builds");
            tx.send((
                app.port(),
                actix_rt::System::current(),
                app.server_handle(),
                app.smtp_addr(),
                app.shutdown_handle(),
                app.server(),
            ))
            .ok();
            app.run_until_stopped().await.ok();
        });
    });
    let (port, system, server, smtp, shutdown, engine) = rx.await.expect("app started");
    let base = format!("http://127.0.0.1:{port}");
    let http = test_http_client();
    let mut app = TestApp {
        port,
        base,
        admin: String::new(),
        http,
        smtp,
        _data_dir: dir,
        system,
        server,
        shutdown,
        engine: Some(engine),
        thread: Some(thread),
    };
    let server = app.engine.clone().expect("the server handle");
    app.admin = if server.settings.oidc.password_login {
        app.login("admin", ADMIN_PASSWORD).await
    } else {
        // Password sign-in is off (single sign-on only): the harness mints the
        // bootstrap admin's token with the engine's own signer instead.
        let id = switchboard::domain::AgentId::parse("admin").unwrap();
        let gen = server
            .security
            .revocations
            .generation(&server.store, &id)
            .await
            .unwrap();
        server.tokens.sign(&switchboard::auth::Claims::Staff {
            sub: "admin".into(),
            role: switchboard::domain::Role::Admin,
            exp: server.now().plus_ms(3_600_000),
            gen,
        })
    };
    app
}

impl TestApp {
    /// The actix system the engine runs in: a task spawned on its arbiter runs on the
    /// engine's main thread.
    pub fn engine_system(&self) -> &actix_rt::System {
        &self.system
    }

    /// Stops the engine (as on shutdown) and hands back its data directory, so a test
    /// can start it again on the same store.
    pub fn stop(mut self) -> tempfile::TempDir {
        std::mem::replace(&mut self._data_dir, tempfile::tempdir().unwrap())
    }

    /// Stops the engine as SIGTERM does and waits until its shutdown has run to the end
    /// (requests, provider calls in flight and their outcomes finished, store closed);
    /// hands back its data directory.
    pub async fn stop_gracefully(mut self) -> tempfile::TempDir {
        // The test's handle would hold the engine until the shutdown deadline.
        self.engine = None;
        self.shutdown.drain().await;
        if let Some(t) = self.thread.take() {
            tokio::task::spawn_blocking(move || t.join())
                .await
                .expect("join task")
                .expect("app thread ends");
        }
        std::mem::replace(&mut self._data_dir, tempfile::tempdir().unwrap())
    }

    pub async fn login(&self, agent: &str, password: &str) -> String {
        let r = self
            .http
            .post(format!("{}/api/v1/login", self.base))
            .json(&json!({"agent_id": agent, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "login {agent}");
        r.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .put(format!("{}{}", self.base, path))
            .bearer_auth(&self.admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{}", self.base, path))
            .bearer_auth(&self.admin)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{}", self.base, path))
            .bearer_auth(&self.admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Creates (or replaces) a queue.
    pub async fn queue(&self, name: &str, config: Value) {
        let (s, v) = self.put(&format!("/api/v1/queues/{name}"), config).await;
        assert_eq!(s, 200, "put queue {name}: {v}");
    }

    /// Creates an agent with password `{id}-password` and returns its token.
    pub async fn agent(&self, id: &str, queues: &[&str], extra: Value) -> String {
        let mut body = json!({
            "display_name": id.to_uppercase(),
            "password": format!("{id}-password"),
            "role": "agent",
            "queues": queues,
        });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        let (s, v) = self.put(&format!("/api/v1/agents/{id}"), body).await;
        assert_eq!(s, 200, "put agent {id}: {v}");
        self.login(id, &format!("{id}-password")).await
    }

    /// Delivers an inbound message over REST.
    pub async fn inbound(
        &self,
        channel: &str,
        address: &str,
        text: &str,
        client_id: Option<&str>,
    ) -> Value {
        let mut body = json!({"channel": channel, "address": address, "text": text});
        if let Some(c) = client_id {
            body["client_msg_id"] = json!(c);
        }
        let (s, v) = self.post("/api/v1/inbound", body).await;
        assert_eq!(s, 202, "inbound: {v}");
        v
    }

    /// The customer's timeline, oldest first.
    pub async fn timeline(&self, customer: &str) -> Vec<Value> {
        let (s, v) = self
            .get(&format!("/api/v1/customers/{customer}/timeline?limit=200"))
            .await;
        assert_eq!(s, 200, "{v}");
        let mut events = v["events"].as_array().unwrap().clone();
        events.reverse();
        events
    }

    /// `GET path` once `done` holds for its body, for effects written in the
    /// background (routing events and traces, timers) that no socket of the test
    /// observes. Polls every 20 ms, bounded by `WAIT`.
    pub async fn get_until(&self, path: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let (status, body) = self.get(path).await;
            assert_eq!(status, 200, "{path}: {body}");
            if done(&body) {
                return body;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}: {body:#}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The routing trace of a conversation once it holds every step in `steps`
    /// (traces are recorded in the background).
    pub async fn trace_with(&self, conversation: &Value, steps: &[&str]) -> Value {
        let path = format!(
            "/api/v1/conversations/{}/trace",
            conversation.as_str().expect("conversation id")
        );
        self.get_until(&path, &format!("trace steps {steps:?}"), |t| {
            let have: Vec<&str> = t["steps"]
                .as_array()
                .map(|a| a.iter().filter_map(|s| s["step"].as_str()).collect())
                .unwrap_or_default();
            steps.iter().all(|s| have.contains(s))
        })
        .await
    }

    /// The timeline (oldest first) once `done` holds for it; see `get_until`.
    pub async fn timeline_until(
        &self,
        customer: &str,
        what: &str,
        done: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        let oldest_first = |v: &Value| {
            let mut events = v["events"].as_array().cloned().unwrap_or_default();
            events.reverse();
            events
        };
        let path = format!("/api/v1/customers/{customer}/timeline?limit=200");
        let body = self
            .get_until(&path, what, |v| done(&oldest_first(v)))
            .await;
        oldest_first(&body)
    }

    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://127.0.0.1:{}{}", self.port, path)
    }
}

/// A websocket client that reads typed JSON messages.
pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Messages read while looking for another type, kept in order.
    backlog: std::collections::VecDeque<Value>,
}

impl Client {
    pub async fn connect(url: &str) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("ws connects");
        Client {
            ws,
            backlog: Default::default(),
        }
    }

    /// Wraps a socket the test connected itself.
    pub fn from_stream(ws: WebSocketStream<MaybeTlsStream<TcpStream>>) -> Client {
        Client {
            ws,
            backlog: Default::default(),
        }
    }

    pub async fn agent(app: &TestApp, token: &str) -> Client {
        let mut c = Client::connect(&app.ws_url(&format!("/ws/agent?token={token}"))).await;
        c.expect("welcome").await;
        c
    }

    pub async fn available(app: &TestApp, token: &str) -> Client {
        let mut c = Client::agent(app, token).await;
        c.send(json!({"type": "set_status", "status": "available"}))
            .await;
        let s = c.expect("status").await;
        assert_eq!(s["status"], "available");
        c
    }

    /// A new web-chat visitor; returns the client and its welcome.
    pub async fn visitor(app: &TestApp) -> (Client, Value) {
        let mut c = Client::connect(&app.ws_url("/ws/chat")).await;
        let w = c.expect("welcome").await;
        (c, w)
    }

    pub async fn send(&mut self, v: Value) {
        self.ws
            .send(Message::Text(v.to_string()))
            .await
            .expect("ws send");
    }

    /// Sends without panicking if the server already closed the socket; false then.
    pub async fn try_send(&mut self, v: Value) -> bool {
        self.ws.send(Message::Text(v.to_string())).await.is_ok()
    }

    pub async fn send_raw(&mut self, text: String) {
        self.ws.send(Message::Text(text)).await.expect("ws send");
    }

    /// Next message of any type.
    pub async fn next(&mut self) -> Value {
        self.next_by(std::time::Instant::now() + WAIT).await
    }

    /// [`Client::next`], waiting until `deadline` instead of [`WAIT`].
    pub async fn next_by(&mut self, deadline: std::time::Instant) -> Value {
        if let Some(v) = self.backlog.pop_front() {
            return v;
        }
        self.read_by(deadline.into()).await
    }

    /// The next JSON message, or a panic at `deadline`. One deadline for the whole
    /// wait: the server's heartbeat pings must not extend it.
    async fn read_by(&mut self, deadline: tokio::time::Instant) -> Value {
        loop {
            let m = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .expect("timed out waiting for a websocket message")
                .expect("socket closed")
                .expect("socket error");
            match m {
                Message::Text(t) => return serde_json::from_str(&t).expect("server sends JSON"),
                Message::Close(f) => panic!("socket closed by server: {f:?}"),
                _ => continue,
            }
        }
    }

    /// The next message of type `ty`; other messages are kept for later `next`/`expect`.
    pub async fn expect(&mut self, ty: &str) -> Value {
        self.expect_where(ty, |_| true).await
    }

    /// Waits for a message matching `pred`.
    pub async fn expect_where(&mut self, ty: &str, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.backlog.iter().position(|m| m["type"] == ty && pred(m)) {
            return self.backlog.remove(i).unwrap();
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let m = self.read_by(deadline).await;
            if m["type"] == ty && pred(&m) {
                return m;
            }
            self.backlog.push_back(m);
        }
    }

    /// Reads up to a fresh pong and forgets everything received so far: a clean slate
    /// before the action a test is about to judge.
    pub async fn sync(&mut self) {
        let nonce = uuid::Uuid::new_v4().to_string();
        self.send(json!({"type": "ping", "nonce": nonce})).await;
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let m = self.read_by(deadline).await;
            if m["type"] == "pong" && m["nonce"] == nonce.as_str() {
                break;
            }
        }
        self.backlog.clear();
    }

    /// Proves nothing of type `ty` arrives before a `pong`: sends a ping and reads up
    /// to its pong (the server answers in order, so anything already queued for this
    /// socket comes first).
    pub async fn assert_none_before_pong(&mut self, ty: &str) {
        self.assert_none_where_before_pong(ty, |_| true).await
    }

    /// [`Client::assert_none_before_pong`] for the messages of type `ty` that `pred`
    /// picks.
    pub async fn assert_none_where_before_pong(&mut self, ty: &str, pred: impl Fn(&Value) -> bool) {
        let nonce = uuid::Uuid::new_v4().to_string();
        self.send(json!({"type": "ping", "nonce": nonce})).await;
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let m = self.read_by(deadline).await;
            assert!(m["type"] != ty || !pred(&m), "unexpected {ty}: {m}");
            if m["type"] == "pong" && m["nonce"] == nonce.as_str() {
                break;
            }
            self.backlog.push_back(m);
        }
        assert!(
            !self.backlog.iter().any(|m| m["type"] == ty && pred(m)),
            "unexpected {ty} in backlog"
        );
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }

    /// The next raw frame (text, ping, close...), `None` when the socket ended.
    pub async fn next_frame(&mut self) -> Option<Message> {
        tokio::time::timeout(WAIT, self.ws.next())
            .await
            .expect("timed out waiting for a frame")
            .and_then(|r| r.ok())
    }

    /// Waits until the server closes the socket; returns the close frame.
    pub async fn closed(
        &mut self,
    ) -> Option<tokio_tungstenite::tungstenite::protocol::CloseFrame<'_>> {
        loop {
            match tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("timed out waiting for close")
            {
                Some(Ok(Message::Close(f))) => return f,
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    }
}

/// Sends a chat message and waits for its ack.
pub async fn chat_say(c: &mut Client, text: &str) -> Value {
    let id = uuid::Uuid::new_v4().to_string();
    c.send(json!({"type": "message", "client_msg_id": id, "text": text}))
        .await;
    c.expect_where("ack", |m| m["client_msg_id"] == id.as_str())
        .await
}

/// Agent reply; waits for the ack.
pub async fn agent_say(c: &mut Client, conv: &Value, text: &str) -> Value {
    let id = uuid::Uuid::new_v4().to_string();
    c.send(json!({"type": "message", "conversation_id": conv, "client_msg_id": id, "text": text}))
        .await;
    c.expect_where("ack", |m| m["client_msg_id"] == id.as_str())
        .await
}

/// Waits for an offer and accepts it; returns the assigned conversation.
pub async fn accept_next(c: &mut Client) -> Value {
    let offer = c.expect("offer").await;
    c.send(json!({"type": "accept", "offer_id": offer["offer_id"]}))
        .await;
    let a = c.expect("conversation_assigned").await;
    assert_eq!(a["conversation"]["id"], offer["conversation_id"]);
    a["conversation"].clone()
}

/// Resolves `conv` (a conversation as `accept_next` returns it) and waits until the
/// agent sees it resolved.
pub async fn resolve(agent: &mut Client, conv: &Value) {
    agent
        .send(json!({"type": "resolve", "conversation_id": conv["id"]}))
        .await;
    agent
        .expect_where("conversation_updated", |m| {
            m["state"] == "resolved" && m["conversation_id"] == conv["id"]
        })
        .await;
}

pub fn types(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap_or("?").to_owned())
        .collect()
}

/// A supervisor socket and the live model it builds from `snapshot` / `delta` pushes
/// (each acknowledged as it is read, as the dashboard does).
pub struct Supervisor {
    pub c: Client,
    /// Queue name -> its latest live record.
    pub queues: std::collections::BTreeMap<String, Value>,
    /// Agent id -> its latest live record.
    pub agents: std::collections::BTreeMap<String, Value>,
    /// Every push read, in order.
    pub seen: Vec<Value>,
}

impl Supervisor {
    /// Connects with `query` (e.g. `queues=sales`) and reads the first snapshot.
    pub async fn connect(app: &TestApp, token: &str, query: &str) -> Supervisor {
        let url = app.ws_url(&format!("/ws/supervisor?token={token}&{query}"));
        let mut s = Supervisor {
            c: Client::connect(&url).await,
            queues: Default::default(),
            agents: Default::default(),
            seen: Vec::new(),
        };
        let first = s.next_update().await;
        assert_eq!(first["type"], "snapshot", "{first}");
        assert_eq!(first["reason"], "connect");
        s
    }

    /// Reads the next snapshot or delta, applies it and acknowledges it.
    pub async fn next_update(&mut self) -> Value {
        loop {
            let m = self.c.next().await;
            let ty = m["type"].as_str().unwrap_or_default().to_owned();
            if ty != "snapshot" && ty != "delta" {
                assert_ne!(ty, "error", "{m}");
                continue;
            }
            if ty == "snapshot" {
                self.queues.clear();
                self.agents.clear();
            }
            for q in m["queues"].as_array().unwrap() {
                self.queues
                    .insert(q["queue"].as_str().unwrap().to_owned(), q.clone());
            }
            for a in m["agents"].as_array().unwrap() {
                self.agents
                    .insert(a["agent_id"].as_str().unwrap().to_owned(), a.clone());
            }
            self.c.send(json!({"type": "ack", "seq": m["seq"]})).await;
            self.seen.push(m.clone());
            return m;
        }
    }

    /// Reads pushes until `done` holds for the model (bounded by `WAIT` per push).
    pub async fn until(&mut self, what: &str, done: impl Fn(&Supervisor) -> bool) {
        let deadline = std::time::Instant::now() + WAIT;
        while !done(self) {
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}: {:#?}",
                self.queues
            );
            self.next_update().await;
        }
    }

    pub fn queue(&self, name: &str) -> &Value {
        self.queues.get(name).unwrap_or(&Value::Null)
    }

    pub fn agent_state(&self, id: &str) -> Option<&str> {
        self.agents.get(id).and_then(|a| a["state"].as_str())
    }
}

/// `node clients/tests/<script>` against `app`, not started yet: headless Debian
/// chromium driven by playwright-core (scripts/test.sh installs both; without them this
/// fails and says how to install them). The script gets `SWITCHBOARD_URL`,
/// `ADMIN_TOKEN` and `CHROMIUM`, plus `env`.
pub fn browser_script(
    app: &TestApp,
    script: &str,
    env: &[(&str, &str)],
) -> tokio::process::Command {
    browser_script_at(&app.base, &app.admin, script, env)
}

/// [`browser_script`] against the engine at `base` (an engine process), with `admin`'s
/// token.
pub fn browser_script_at(
    base: &str,
    admin: &str,
    script: &str,
    env: &[(&str, &str)],
) -> tokio::process::Command {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        root.join("clients/node_modules/playwright-core").exists(),
        "playwright-core is not installed: run `npm ci --prefix clients` (scripts/test.sh does this)"
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "{chromium} missing: `apt-get install chromium` (scripts/test.sh does this)"
    );
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(root.join("clients/tests").join(script))
        .env("SWITCHBOARD_URL", base)
        .env("ADMIN_TOKEN", admin)
        .env("CHROMIUM", &chromium)
        .envs(env.iter().copied())
        .current_dir(root)
        .kill_on_drop(true);
    cmd
}

/// Asserts a finished [`browser_script`] exited 0 and printed `passed`; its steps are
/// printed (seen with `-- --nocapture`).
pub fn assert_browser_passed(
    out: std::io::Result<std::process::Output>,
    script: &str,
    passed: &str,
) {
    let out = out.expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    print!("{stdout}");
    assert!(
        out.status.success(),
        "{script} failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains(passed), "{script}: {stdout}");
}

/// Runs a [`browser_script`] to its end and asserts it passed.
pub async fn run_browser_script(app: &TestApp, script: &str, env: &[(&str, &str)], passed: &str) {
    let out = browser_script(app, script, env).output().await;
    assert_browser_passed(out, script, passed);
}
