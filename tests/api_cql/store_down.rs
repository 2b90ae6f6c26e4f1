//! The CQL database is down when the engine starts: the real binary does not exit; it
//! holds its address answering `/healthz` 200, `/readyz` 503 with the reason and every
//! door 503 `unavailable` with `Retry-After` (nothing stored), and it starts by itself
//! once the database answers — after which the same request is accepted and stored. A
//! SIGTERM while it waits stops it cleanly.
//!
//! "Down" is a port with nothing behind it on the database's own address; "the database
//! returns" is the test starting a TCP relay on that port to the real Cassandra of
//! `SCYLLA_URI`. (Same address, because the driver reaches a node at the address the node
//! reports for itself with the contact point's port.)

use crate::helpers::*;
use crate::process::{free_port, Proc};
use crate::relay::Relay;
use serde_json::{json, Value};
use std::process::{Command, Stdio};

/// Polls `url` until it answers 200, failing if `child` exits or `limit` passes.
async fn until_200(
    http: &reqwest::Client,
    url: &str,
    limit: std::time::Duration,
    child: &mut std::process::Child,
) {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Ok(r) = http.get(url).send().await {
            if r.status() == 200 {
                return;
            }
        }
        assert!(child.try_wait().unwrap().is_none(), "the engine exited");
        assert!(
            std::time::Instant::now() < deadline,
            "{url} not 200 within {limit:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await; // poll interval
    }
}

/// The binary on `dir`'s keyspace, its database expected at `db_host:db_port` (nothing
/// there until the test starts a relay), listening on `port`.
fn without_database(
    dir: &std::path::Path,
    db_host: &str,
    db_port: u16,
    port: u16,
) -> std::process::Child {
    let config = dir.join("switchboard.toml");
    std::fs::write(
        &config,
        "[store.scylla]\nconnect_retry_ms = 200\nconnect_timeout_ms = 1000\n",
    )
    .unwrap();
    let keyspace = cql_keyspace(dir);
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["--listen", &format!("127.0.0.1:{port}"), "--workers", "2"])
        .args(["--store", "scylla", "--scylla-replication-factor", "1"])
        .args(["--scylla-contact-points", &format!("{db_host}:{db_port}")])
        .args(["--scylla-keyspace", &keyspace])
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(dir)
        .env("SWITCHBOARD_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("binary starts")
}

/// SIGTERM while the engine waits for its database: it stops at once and cleanly
/// (status 0), having served nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_waiting_for_its_database_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let target = cql_contact_points()[0].clone();
    let db_host = target.rsplit_once(':').expect("host:port").0.to_owned();
    let port = free_port();
    let mut child = without_database(dir.path(), &db_host, free_port(), port);
    let http = reqwest::Client::new();
    until_200(
        &http,
        &format!("http://127.0.0.1:{port}/healthz"),
        WAIT,
        &mut child,
    )
    .await;
    let pid = libc::pid_t::try_from(child.id()).expect("pid fits");
    // SAFETY: kill(2) with a pid this test spawned and has not waited for.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let deadline = std::time::Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "still running");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await; // poll interval
    };
    assert!(status.success(), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_started_without_its_database_answers_503_then_starts_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let target = cql_contact_points()[0].clone();
    let db_host = target.rsplit_once(':').expect("host:port").0.to_owned();
    let db_port = free_port();
    let port = free_port();
    let keyspace = cql_keyspace(dir.path());
    let mut child = without_database(dir.path(), &db_host, db_port, port);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();

    // Alive, not ready, and saying why.
    until_200(&http, &format!("{base}/healthz"), WAIT, &mut child).await;
    let r = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "store unavailable", "{v}");
    assert!(!v["error"].as_str().unwrap_or("").is_empty(), "{v}");

    // Every door: 503 unavailable with Retry-After, nothing stored.
    let body = json!({"channel": "sms", "address": "+818011112222", "text": "are you there?", "client_msg_id": "down-1"});
    let r = http
        .post(format!("{base}/api/v1/inbound"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.headers().get("retry-after").is_some());
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], "unavailable", "{v}");
    let r = http
        .post(format!("{base}/webhooks/sms"))
        .body("From=%2B818011112222&Body=hi")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        503,
        "a webhook is refused so the provider retries"
    );

    // The database comes back: the engine starts by itself.
    let listener = tokio::net::TcpListener::bind((db_host.as_str(), db_port))
        .await
        .expect("bind the database port");
    let _relay = Relay::start(listener, target);
    until_200(
        &http,
        &format!("{base}/readyz"),
        std::time::Duration::from_secs(60),
        &mut child,
    )
    .await;
    // Up: the engine is an ordinary process from here (`Proc` kills it when dropped).
    let engine = Proc {
        child,
        base,
        port,
        http,
    };
    let token = engine.login("admin").await;
    let (status, ack) = engine
        .send_json(&token, "POST", "/api/v1/inbound", body)
        .await;
    assert_eq!(status, 202, "{ack}");
    assert_eq!(
        ack["duplicate"], false,
        "the refused attempt stored nothing: {ack}"
    );
    let timeline = engine
        .get(
            &token,
            &format!(
                "/api/v1/customers/{}/timeline",
                ack["customer_id"].as_str().unwrap()
            ),
        )
        .await;
    let texts: Vec<&str> = timeline["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["text"].as_str())
        .collect();
    assert_eq!(texts, vec!["are you there?"], "stored once: {timeline}");

    drop(engine);
    drop_keyspace(&keyspace);
}
