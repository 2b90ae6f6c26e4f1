//! The real `switchboard` binary as a child process, for crash and shutdown tests:
//! start it on a data dir and a fixed port, wait until it is ready, sign in, kill it
//! (SIGKILL) or ask it to stop (SIGTERM).

use crate::helpers::*;
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};

pub struct Proc {
    pub child: Child,
    pub base: String,
    pub port: u16,
    pub http: reqwest::Client,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port for a child engine to listen on: one no other call in this test process was
/// given, that nothing listens on now, and below the kernel's ephemeral range. The child
/// binds it a moment later; a port from the ephemeral range could meanwhile become the
/// local end of some outgoing connection (to Cassandra, to another node) and the child
/// would fail with "address in use" — which is how a CI run once failed.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::OnceLock;
    static RANGE: OnceLock<(u32, u32)> = OnceLock::new();
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let (low, span) = *RANGE.get_or_init(|| {
        let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u32>().ok())
            .unwrap_or(32_768);
        let low = ephemeral_low.saturating_sub(12_000).max(1_024);
        (low, ephemeral_low - low)
    });
    // Test binaries run one after another, but start each at its own offset anyway.
    let start = std::process::id() % span;
    for _ in 0..span {
        let port = (low + (start + NEXT.fetch_add(1, Ordering::Relaxed)) % span) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {low}..{}", low + span)
}

/// Starts the binary on `dir` and `port` with `env` and waits for `/readyz`.
pub async fn start(dir: &std::path::Path, port: u16, env: &[(&str, &str)]) -> Proc {
    let p = spawn(dir, port, env);
    p.ready().await;
    p
}

/// Starts the binary on `dir` and `port` with `env`; does not wait for it.
pub fn spawn(dir: &std::path::Path, port: u16, env: &[(&str, &str)]) -> Proc {
    spawn_with(dir, port, env, Stdio::null(), Stdio::inherit())
}

/// [`spawn`] with the engine's stderr (a start failure) piped to the test, which
/// reads it from `child.stderr`. Used by the CQL suite only
/// (`tests/api_cql/clock_skew.rs`).
#[allow(dead_code)]
pub fn spawn_logging(dir: &std::path::Path, port: u16, env: &[(&str, &str)]) -> Proc {
    spawn_with(dir, port, env, Stdio::null(), Stdio::piped())
}

/// [`spawn`] with the engine's log (tracing writes to stdout) piped to the test, which
/// reads it from `child.stdout` once the engine is stopped; keep the log small
/// (`RUST_LOG`) so the pipe never fills meanwhile.
pub fn spawn_log_to_pipe(dir: &std::path::Path, port: u16, env: &[(&str, &str)]) -> Proc {
    spawn_with(dir, port, env, Stdio::piped(), Stdio::inherit())
}

fn spawn_with(
    dir: &std::path::Path,
    port: u16,
    env: &[(&str, &str)],
    stdout: Stdio,
    stderr: Stdio,
) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    cmd.args(["--listen", &format!("127.0.0.1:{port}"), "--workers", "2"])
        .args(backend_args(dir))
        .env("SWITCHBOARD_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("RUST_LOG", "warn")
        .stdout(stdout)
        .stderr(stderr);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("binary starts");
    Proc {
        child,
        base: format!("http://127.0.0.1:{port}"),
        port,
        http: test_http_client(),
    }
}

impl Proc {
    /// Waits (bounded by `WAIT`) until `/readyz` answers 200.
    pub async fn ready(&self) {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            if let Ok(r) = self.http.get(format!("{}/readyz", self.base)).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "engine did not become ready"
            );
            tokio::time::sleep(std::time::Duration::from_millis(25)).await; // poll interval
        }
    }

    /// `/readyz` as (status, body), or `None` while nothing answers.
    #[allow(dead_code)] // used by the CQL-only standby tests (tests/api_cql/standby.rs)
    pub async fn readyz(&self) -> Option<(u16, Value)> {
        let r = self
            .http
            .get(format!("{}/readyz", self.base))
            .send()
            .await
            .ok()?;
        let s = r.status().as_u16();
        Some((s, r.json().await.unwrap_or(Value::Null)))
    }

    /// Stops the process (SIGSTOP) or lets it go on (SIGCONT).
    pub fn signal(&self, sig: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid fits");
        // SAFETY: kill(2) with a pid this test spawned and still owns (not yet waited).
        let rc = unsafe { libc::kill(pid, sig) };
        assert_eq!(rc, 0, "kill -{sig}");
    }

    /// The websocket URL of `path` on the host and port of `base` (loopback for most
    /// tests; a network namespace's address in `tests/api_cql/netns.rs`).
    pub fn ws_url(&self, path: &str) -> String {
        let authority = self
            .base
            .strip_prefix("http://")
            .expect("an http:// base URL");
        format!("ws://{authority}{path}")
    }

    /// A token for `agent` (password `{agent}-password`, or the admin's).
    pub async fn login(&self, agent: &str) -> String {
        let password = if agent == "admin" {
            ADMIN_PASSWORD.to_owned()
        } else {
            format!("{agent}-password")
        };
        let r: Value = self
            .http
            .post(format!("{}/api/v1/login", self.base))
            .json(&json!({"agent_id": agent, "password": password}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["token"].as_str().expect("login token").to_owned()
    }

    /// Creates agent `id` (password `{id}-password`, queue `general`, fields of `extra`
    /// on top) with the admin's token; returns the agent's token.
    pub async fn agent(&self, admin: &str, id: &str, extra: Value) -> String {
        let mut body = json!({"display_name": id, "password": format!("{id}-password"),
                              "role": "agent", "queues": ["general"]});
        for (k, v) in extra.as_object().into_iter().flatten() {
            body[k] = v.clone();
        }
        let (s, v) = self
            .send_json(admin, "PUT", &format!("/api/v1/agents/{id}"), body)
            .await;
        assert_eq!(s, 200, "{v}");
        self.login(id).await
    }

    pub async fn get(&self, token: &str, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "GET {path}");
        r.json().await.unwrap()
    }

    pub async fn send_json(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Value,
    ) -> (u16, Value) {
        let req = match method {
            "PUT" => self.http.put(format!("{}{path}", self.base)),
            _ => self.http.post(format!("{}{path}", self.base)),
        };
        let r = req.bearer_auth(token).json(&body).send().await.unwrap();
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Sends SIGTERM (the graceful shutdown signal).
    pub fn sigterm(&self) {
        self.signal(libc::SIGTERM);
    }

    /// What the engine wrote to stderr (started with [`spawn_logging`]), read to the
    /// end: call it once the process has exited.
    #[allow(dead_code)]
    pub fn stderr_text(&mut self) -> String {
        use std::io::Read;
        let mut log = String::new();
        self.child
            .stderr
            .take()
            .expect("stderr piped (spawn_logging)")
            .read_to_string(&mut log)
            .expect("stderr readable");
        log
    }

    /// Waits (bounded by `WAIT`) for the process to exit by itself.
    pub async fn exited(&mut self) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "engine did not exit in time"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await; // poll interval
        }
    }
}
