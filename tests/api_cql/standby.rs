//! One active engine per keyspace (docs/cluster.md, `switchboard::active`): a second
//! engine on the same keyspace waits as a standby (`/readyz` 503 `standby`), takes over
//! when the active one is killed, and answers a retry of a message the dead one
//! acknowledged as a duplicate; an active engine paused past its lease is fenced when
//! it wakes (it stops by itself, with an error) while the standby serves. Real
//! binaries on the CQL store only: the embedded store has one process by construction.

use crate::helpers::*;
use crate::process::{free_port, spawn, start, Proc};
use serde_json::{json, Value};

/// Waits (bounded) until `p` answers `/readyz` 503 as a standby.
async fn standby(p: &Proc) -> Value {
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
    let a = start(dir.path(), free_port(), &[]).await;
    let token = a.login("admin").await;
    let (s, first) = say(&a, &token, "s-1").await;
    assert_eq!(s, 202, "{first}");

    let b = spawn(dir.path(), free_port(), &[]);
    let body = standby(&b).await;
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("holds this keyspace"),
        "{body}"
    );
    // The standby serves nothing (every door 503) while the active one lives.
    let (s, _) = say(&b, &token, "s-2").await;
    assert_eq!(s, 503);

    a.kill9();
    b.ready().await;
    // The new active engine says so on /metrics.
    let metrics = b
        .http
        .get(format!("{}/metrics", b.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
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
async fn an_engine_paused_past_its_lease_is_fenced_when_it_wakes() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = start(dir.path(), free_port(), &[]).await;
    let token = a.login("admin").await;
    let b = spawn(dir.path(), free_port(), &[]);
    standby(&b).await;

    // SIGSTOP: the active engine can neither renew nor notice; the standby takes over
    // once the lease has lapsed.
    a.signal(libc::SIGSTOP);
    b.ready().await;
    let (s, v) = say(&b, &token, "f-1").await;
    assert_eq!(s, 202, "{v}");
    // SIGCONT: its next renewal is refused; it stops by itself, with an error.
    a.signal(libc::SIGCONT);
    let status = a.exited().await;
    assert!(
        !status.success(),
        "a fenced engine exits with an error: {status}"
    );
    // The new active engine carries on.
    let (s, v) = say(&b, &token, "f-2").await;
    assert_eq!(s, 202, "{v}");
}
