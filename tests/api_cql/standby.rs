//! One active engine per keyspace (docs/cluster.md, `switchboard::active`): a second
//! engine on the same keyspace waits as a standby (`/readyz` 503 `standby`) and is
//! listed as a member by the cluster view, takes over when the active one is killed,
//! and answers a retry of a message the dead one acknowledged as a duplicate; an active
//! engine paused past its lease stops when it wakes (by itself, with an error) while the
//! standby serves, and a write queued while it was paused is refused by its fence; an
//! engine that fails to start after taking the lease hands it over at once; a standby
//! stopped by SIGTERM exits cleanly and leaves the membership at once; and an
//! active engine cut off from the store suspends at its own
//! deadline (not ready, the lease let go) and serves again, without a restart, once the
//! store confirms its lease under the same epoch; with a standby beside it, the cut-off
//! engine lets go before the standby serves, and exits (fenced) when the store is back. Real binaries on the CQL store only: the embedded store has one process by
//! construction.

use crate::helpers::*;
use crate::process::{free_port, spawn, start, Proc};
use crate::relay::Relay;
use serde_json::{json, Value};
use std::process::Command;

/// Waits (bounded) until `p` answers `/readyz` 503 as a standby.
pub(crate) async fn standby(p: &Proc) -> Value {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Some((503, body)) = p.readyz().await {
            if body["status"] == "standby" {
                return body;
            }
        }
        assert!(std::time::Instant::now() < deadline, "never a standby");
        tokio::time::sleep(std::time::Duration::from_millis(25)).await; // poll interval
    }
}

async fn say(p: &Proc, token: &str, id: &str) -> (u16, Value) {
    p.send_json(
        token,
        "POST",
        "/api/v1/inbound",
        json!({"channel": "sms", "address": "+818012340000", "text": "still there?",
               "client_msg_id": id}),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_takes_over_when_the_active_engine_dies() {
    let dir = tempfile::tempdir().unwrap();
    let secret = ("SWITCHBOARD_CLUSTER_SECRET", "standby-test-cluster-secret");
    let a = start(dir.path(), free_port(), &[secret]).await;
    let token = a.login("admin").await;
    let (s, first) = say(&a, &token, "s-1").await;
    assert_eq!(s, 202, "{first}");

    let b = spawn(
        dir.path(),
        free_port(),
        &[("SWITCHBOARD_NODE_NAME", "node-b"), secret],
    );
    let body = standby(&b).await;
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("holds this keyspace"),
        "{body}"
    );
    // The active engine's cluster view: both are live members, one holds the keyspace.
    let view = a.get(&token, "/api/v1/cluster").await;
    let members = view["members"].as_array().unwrap();
    assert_eq!(members.len(), 2, "{view}");
    let b_member = members
        .iter()
        .find(|m| m["name"] == "node-b")
        .expect("b is a member");
    let a_member = members
        .iter()
        .find(|m| m["this"] == true)
        .expect("a is a member");
    assert_eq!(b_member["live"], true, "{view}");
    assert_eq!(b_member["holds"], json!([]), "{view}");
    assert_eq!(
        b_member["address"],
        format!("127.0.0.1:{}", b.port),
        "{view}"
    );
    assert_eq!(
        a_member["holds"],
        json!(["singleton/active-engine"]),
        "{view}"
    );
    // The standby answers node-to-node messages: the active engine pinged it over HTTP
    // with the cluster secret (itself it does not ping).
    assert_eq!(b_member["ping"]["reachable"], true, "{view}");
    let rtt = b_member["ping"]["rtt_ms"].as_f64().expect("rtt_ms");
    // One machine, one clock: the offset the ping measures is within its own error,
    // half the round trip (and the millisecond rounding).
    let offset = b_member["ping"]["clock_offset_ms"]
        .as_i64()
        .expect("offset");
    assert!(offset.unsigned_abs() as f64 <= rtt / 2.0 + 2.0, "{view}");
    assert_eq!(a_member["ping"], Value::Null, "{view}");
    // A member that is live but does not answer (paused well within its lease) costs
    // the view the ping timeout and shows as unreachable.
    b.signal(libc::SIGSTOP);
    let view = a.get(&token, "/api/v1/cluster").await;
    b.signal(libc::SIGCONT);
    let paused = view["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "node-b")
        .cloned()
        .unwrap();
    assert_eq!(
        (&paused["live"], &paused["ping"]["reachable"]),
        (&json!(true), &json!(false)),
        "{view}"
    );
    assert!(
        paused["ping"]["error"]
            .as_str()
            .unwrap()
            .contains("deadline"),
        "{view}"
    );
    // The standby serves nothing (every door 503) while the active one lives.
    let (s, _) = say(&b, &token, "s-2").await;
    assert_eq!(s, 503);

    let a_name = a_member["name"].clone();
    let epoch = view["leases"][0]["epoch"].as_u64().unwrap();
    a.kill9();
    b.ready().await;
    // The new active engine says so on /metrics and in its cluster view, where the
    // dead engine is no longer live.
    let metrics = metrics_text(&b.http, &b.base).await;
    let view = b.get(&token, "/api/v1/cluster").await;
    let lease = &view["leases"][0];
    assert_eq!(
        (&lease["key"], &lease["holder"]),
        (&json!("singleton/active-engine"), &json!("node-b")),
        "{view}"
    );
    assert_eq!(lease["epoch"].as_u64(), Some(epoch + 1), "{view}");
    let dead = view["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == a_name)
        .expect("the dead engine's row stays");
    assert_eq!(
        (&dead["live"], &dead["holds"], &dead["ping"]),
        (&json!(false), &json!([]), &Value::Null),
        "{view}"
    );
    assert!(
        metrics.contains(r#"switchboard_lease_held{key="singleton/active-engine"} 1"#),
        "{metrics}"
    );
    // The client's retry of what the dead engine acknowledged: the same event.
    let (s, again) = say(&b, &token, "s-1").await;
    assert_eq!(s, 202, "{again}");
    assert_eq!(again["duplicate"], true, "{again}");
    assert_eq!(again["event_id"], first["event_id"]);
    let (s, next) = say(&b, &token, "s-2").await;
    assert_eq!((s, &next["duplicate"]), (202, &json!(false)), "{next}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_paused_past_its_lease_stops_when_it_wakes() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = start(dir.path(), free_port(), &[]).await;
    let token = a.login("admin").await;
    let b = spawn(dir.path(), free_port(), &[]);
    standby(&b).await;

    // SIGSTOP: the active engine can neither renew nor notice; the standby takes over
    // once the lease has lapsed.
    a.signal(libc::SIGSTOP);
    // A message sent to it meanwhile waits in its socket and runs when it wakes, after
    // the standby took over (a client with no timeout of its own, bounded below).
    let stale = tokio::spawn({
        let url = format!("{}/api/v1/inbound", a.base);
        let token = token.clone();
        async move {
            let r = reqwest::Client::new()
                .post(url)
                .bearer_auth(token)
                .json(&json!({"channel": "sms", "address": "+818012340000",
                              "text": "written while paused", "client_msg_id": "stale-1"}))
                .send()
                .await?;
            let status = r.status().as_u16();
            Ok::<_, reqwest::Error>((status, r.json::<Value>().await.unwrap_or(Value::Null)))
        }
    });
    b.ready().await;
    let (s, v) = say(&b, &token, "f-1").await;
    assert_eq!(s, 202, "{v}");
    let customer = v["customer_id"].as_str().unwrap().to_owned();
    // SIGCONT: its deadline has passed (and its next renewal would be refused); it
    // stops by itself, with an error.
    a.signal(libc::SIGCONT);
    let stale = tokio::time::timeout(WAIT, stale)
        .await
        .expect("the queued request ends")
        .unwrap();
    let status = a.exited().await;
    assert!(
        !status.success(),
        "a fenced engine exits with an error: {status}"
    );
    // Its store is fenced at its own deadline: the queued message was refused (or the
    // connection closed as it stopped), and nothing of it reached the store.
    match &stale {
        Ok((s, body)) => {
            assert_eq!(*s, 503, "{body}");
            assert_eq!(body["code"], "unavailable", "{body}");
            assert!(
                body["message"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("may not write"),
                "{body}"
            );
        }
        Err(e) => assert!(!e.is_timeout(), "{e}"),
    }
    let timeline = b
        .get(
            &token,
            &format!("/api/v1/customers/{customer}/timeline?limit=200"),
        )
        .await;
    let texts: Vec<_> = timeline["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["text"].as_str())
        .collect();
    assert!(
        texts.contains(&"still there?") && !texts.contains(&"written while paused"),
        "{timeline}"
    );
    // The new active engine carries on.
    let (s, v) = say(&b, &token, "f-2").await;
    assert_eq!(s, 202, "{v}");
}

/// SIGTERM to a standby: it exits cleanly (status 0) and hands its membership back at
/// once — the active engine's view shows it gone without waiting out its lease.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_stopped_by_sigterm_exits_cleanly_and_leaves_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let a = start(dir.path(), free_port(), &[]).await;
    let token = a.login("admin").await;
    let mut b = spawn(
        dir.path(),
        free_port(),
        &[("SWITCHBOARD_NODE_NAME", "node-b")],
    );
    standby(&b).await;
    b.sigterm();
    let status = b.exited().await;
    assert!(status.success(), "{status}");
    let view = a.get(&token, "/api/v1/cluster").await;
    let gone = view["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "node-b")
        .cloned()
        .unwrap_or_else(|| panic!("node-b's row: {view}"));
    assert_eq!(gone["live"], false, "released, not lapsing: {view}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_that_cannot_bind_hands_its_lease_over_at_once() {
    let dir = tempfile::tempdir().unwrap();
    // Its port is taken: the engine gets the lease (nobody holds it), fails to bind,
    // and exits.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut a = spawn(dir.path(), port, &[]);
    let status = a.exited().await;
    assert!(!status.success(), "{status}");
    // A second engine finds the lease released: active at once, never a standby waiting
    // out the first one's TTL.
    let b = spawn(dir.path(), free_port(), &[]);
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        match b.readyz().await {
            Some((200, _)) => break,
            Some((s, body)) => assert_ne!(body["status"], "standby", "{s} {body}"),
            None => {}
        }
        assert!(std::time::Instant::now() < deadline, "never ready");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await; // poll interval
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_cut_off_from_the_store_suspends_at_its_deadline_and_resumes() {
    // The engine reaches Cassandra only through a relay on the database's own host
    // (the driver reaches a node at the address it reports, with the contact point's
    // port); cutting the relay leaves it running but unable to renew.
    let dir = tempfile::tempdir().unwrap();
    let (relay, db_host, db_port) = relay_to_store().await;
    // Default lease timing: a shorter lease makes the test quicker but lets a loaded
    // machine's slow Cassandra lapse it during the start.
    let log = dir.path().join("engine.log");
    let mut engine = spawn_through(dir.path(), &format!("{db_host}:{db_port}"), &log, &[]);
    // Ready (a fresh keyspace's schema goes through the relay first).
    until_readyz(&mut engine, &log, |s, _| s == 200).await;
    let token = engine.login("admin").await;
    let (s, v) = say(&engine, &token, "cut-1").await;
    assert_eq!(s, 202, "{v}");

    relay.cut();
    // No renewal can be confirmed: once its own deadline (TTL less drift and margin)
    // passes — before another engine could take over — the engine suspends: not ready,
    // no longer holding the lease, but running.
    until_readyz(&mut engine, &log, |s, _| s == 503).await;
    let held = r#"switchboard_lease_held{key="singleton/active-engine"}"#;
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let text = metrics_text(&engine.http, &engine.base).await;
        if text.contains(&format!("{held} 0")) {
            assert!(
                !text.contains(r#"switchboard_lease_renewals_total{outcome="lapsed"} 0"#),
                "the lapse is counted:\n{text}"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never let go of the lease:\n{text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await; // poll interval
    }
    assert!(
        engine.child.try_wait().unwrap().is_none(),
        "suspended, not exited"
    );
    // The store comes back, and nobody took the keyspace meanwhile: the lease is
    // granted again under the same epoch and the same process serves again.
    let listener = tokio::net::TcpListener::bind((db_host.as_str(), db_port))
        .await
        .expect("bind the relay port again");
    let _relay = Relay::start(listener, cql_contact_points()[0].clone());
    until_readyz(&mut engine, &log, |s, _| s == 200).await;
    let text = metrics_text(&engine.http, &engine.base).await;
    assert!(
        text.contains(&format!("{held} 1")),
        "holds it again:\n{text}"
    );
    let (s, v) = say(&engine, &token, "cut-2").await;
    assert_eq!(s, 202, "{v}");
    assert!(engine.child.try_wait().unwrap().is_none(), "not restarted");
    let view = engine.get(&token, "/api/v1/cluster").await;
    let lease = view["leases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["key"] == "singleton/active-engine")
        .cloned()
        .unwrap();
    assert_eq!(lease["epoch"], 1, "the same epoch: {view}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("fenced:"), "nobody fenced it:\n{text}");
}

/// The binary on `dir`'s keyspace reaching the CQL store at `contact` (a relay), its
/// log in `log`.
fn spawn_through(
    dir: &std::path::Path,
    contact: &str,
    log: &std::path::Path,
    env: &[(&str, &str)],
) -> Proc {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["--listen", &format!("127.0.0.1:{port}"), "--workers", "2"])
        .args(["--store", "scylla", "--scylla-replication-factor", "1"])
        .args(["--scylla-contact-points", contact])
        .args(["--scylla-keyspace", &cql_keyspace(dir)])
        .arg("--data-dir")
        .arg(dir)
        .env("SWITCHBOARD_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(std::fs::File::create(dir.join("engine.out")).unwrap())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("binary starts");
    Proc {
        child,
        base: format!("http://127.0.0.1:{port}"),
        port,
        http: test_http_client(),
    }
}

/// A relay to the CQL store on the database's own host: `(relay, host, port)`.
async fn relay_to_store() -> (Relay, String, u16) {
    let target = cql_contact_points()[0].clone();
    let db_host = target.rsplit_once(':').expect("host:port").0.to_owned();
    let listener = tokio::net::TcpListener::bind((db_host.as_str(), 0))
        .await
        .expect("bind a relay port");
    let db_port = listener.local_addr().unwrap().port();
    (Relay::start(listener, target), db_host, db_port)
}

/// Partitioned from the store but not from its standby: the active engine suspends at
/// its own deadline — before the standby may take over, which it does — writes nothing
/// while cut off, and when the store is back finds the keyspace taken under a newer
/// epoch and exits (fenced) instead of serving beside the new owner. What the first
/// engine acknowledged is there on the second: a client's retry is a duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_cut_off_from_the_store_steps_down_and_the_standby_serves() {
    let dir = tempfile::tempdir().unwrap();
    let (relay, db_host, db_port) = relay_to_store().await;
    let log = dir.path().join("engine.log");
    let mut a = spawn_through(
        dir.path(),
        &format!("{db_host}:{db_port}"),
        &log,
        &[("SWITCHBOARD_NODE_NAME", "node-a")],
    );
    until_readyz(&mut a, &log, |s, _| s == 200).await;
    let token = a.login("admin").await;
    let (s, first) = say(&a, &token, "part-1").await;
    assert_eq!(s, 202, "{first}");
    let b = spawn(
        dir.path(),
        free_port(),
        &[("SWITCHBOARD_NODE_NAME", "node-b")],
    );
    standby(&b).await;

    relay.cut();
    // Watch both: A lets go of its lease (its own deadline) strictly before B serves.
    let held = r#"switchboard_lease_held{key="singleton/active-engine"}"#;
    let deadline = std::time::Instant::now() + WAIT;
    let mut a_let_go = false;
    loop {
        let b_ready = matches!(b.readyz().await, Some((200, _)));
        assert!(
            !b_ready || a_let_go,
            "the standby served while the cut-off engine still held the lease"
        );
        if b_ready {
            break;
        }
        if !a_let_go {
            let text = metrics_text(&a.http, &a.base).await;
            a_let_go = text.contains(&format!("{held} 0"));
        }
        assert!(std::time::Instant::now() < deadline, "no takeover");
        tokio::time::sleep(std::time::Duration::from_millis(25)).await; // poll interval
    }
    // Cut off, A writes nothing: a message to it is refused.
    let (s, v) = say(&a, &token, "part-2").await;
    assert_eq!(s, 503, "{v}");
    // B serves: the retry of what A acknowledged is a duplicate, the rest is new.
    let b_token = b.login("admin").await;
    let (s, again) = say(&b, &b_token, "part-1").await;
    assert_eq!((s, &again["duplicate"]), (202, &json!(true)), "{again}");
    assert_eq!(again["event_id"], first["event_id"]);
    let (s, next) = say(&b, &b_token, "part-2").await;
    assert_eq!((s, &next["duplicate"]), (202, &json!(false)), "{next}");

    // The store is back: A finds the keyspace under a newer epoch and exits.
    let listener = tokio::net::TcpListener::bind((db_host.as_str(), db_port))
        .await
        .expect("bind the relay port again");
    let _relay = Relay::start(listener, cql_contact_points()[0].clone());
    let status = a.exited().await;
    assert!(!status.success(), "{status}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("fenced"), "{text}");
    let view = b.get(&b_token, "/api/v1/cluster").await;
    let lease = view["leases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["key"] == "singleton/active-engine")
        .cloned()
        .unwrap();
    assert_eq!(
        (&lease["holder"], &lease["epoch"]),
        (&json!("node-b"), &json!(2)),
        "{view}"
    );
    // The store itself, read with plain CQL rather than through any engine: the two
    // acknowledged messages, once each, and not the one refused while cut off.
    let stored = stored_message_events(&cql_keyspace(dir.path())).await;
    let mut ids: Vec<&str> = [&first, &next]
        .iter()
        .map(|v| v["event_id"].as_str().unwrap())
        .collect();
    ids.sort();
    assert_eq!(stored.len(), 2, "{stored:?}");
    assert_eq!(stored.iter().map(String::as_str).collect::<Vec<_>>(), ids);
}

/// The ids of the customer messages (`message_in`) in the keyspace's timeline, sorted,
/// read straight from the database.
pub(crate) async fn stored_message_events(keyspace: &str) -> Vec<String> {
    let mut ids: Vec<String> = stored_events(keyspace, "message_in")
        .await
        .iter()
        .map(|e| e["id"].as_str().expect("an event id").to_owned())
        .collect();
    ids.sort();
    ids
}

/// The keyspace's timeline events of `kind`, read straight from the database.
pub(crate) async fn stored_events(keyspace: &str, kind: &str) -> Vec<Value> {
    let session = scylla::client::session_builder::SessionBuilder::new()
        .known_nodes(cql_contact_points())
        .build()
        .await
        .expect("a CQL session");
    let rows = session
        .query_unpaged(format!("SELECT kind, payload FROM {keyspace}.timeline"), ())
        .await
        .expect("read the timeline")
        .into_rows_result()
        .expect("rows");
    rows.rows::<(Option<String>, Option<String>)>()
        .expect("typed rows")
        .map(|r| r.expect("a row"))
        .filter(|(k, _)| k.as_deref() == Some(kind))
        .map(|(_, payload)| serde_json::from_str(&payload.unwrap_or_default()).expect("JSON"))
        .collect()
}

/// Polls `/readyz` (bounded: a minute, as a reconnecting driver may back off) until
/// `done(status, body)`; fails with the engine's output if it exits or never gets there.
async fn until_readyz(
    engine: &mut Proc,
    log: &std::path::Path,
    done: impl Fn(u16, &Value) -> bool,
) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Some((s, v)) = engine.readyz().await {
            if done(s, &v) {
                return v;
            }
        }
        let exited = engine.child.try_wait().unwrap();
        assert!(
            exited.is_none() && std::time::Instant::now() < deadline,
            "engine not there (exited: {exited:?}):\n{}\n{}",
            std::fs::read_to_string(log.with_file_name("engine.out")).unwrap_or_default(),
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await; // poll interval
    }
}
