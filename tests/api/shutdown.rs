//! Graceful shutdown. The real binary on SIGTERM: connected agent and web-chat sockets
//! get a `reconnect` message and close code 1012, the process exits by itself (inside
//! `timing.shutdown_deadline_ms`) and a restart on the same data dir has everything
//! acknowledged. In-process, the same drain lets an in-flight write finish and
//! acknowledge before the engine stops.

use crate::helpers::*;
use crate::process::{free_port, start};
use serde_json::json;
use switchboard::store::faulty::Op;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_tells_sockets_to_reconnect_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut e = start(dir.path(), port, &[]).await;
    let admin = e.login("admin").await;
    let (s, _) = e
        .send_json(
            &admin,
            "PUT",
            "/api/v1/agents/ann",
            json!({"display_name": "Ann", "password": "ann-password", "role": "agent", "queues": ["general"]}),
        )
        .await;
    assert_eq!(s, 200);
    let token = e.login("ann").await;
    let mut agent = Client::connect(&e.ws_url(&format!("/ws/agent?token={token}"))).await;
    agent.expect("welcome").await;
    let mut visitor = Client::connect(&e.ws_url("/ws/chat")).await;
    let customer = visitor.expect("welcome").await["customer_id"].clone();
    let ack = chat_say(&mut visitor, "before the restart").await;

    e.sigterm();
    for c in [&mut agent, &mut visitor] {
        let m = c.expect("reconnect").await;
        assert_eq!(m["reason"], "shutdown");
        let close = c.closed().await.expect("a close frame");
        assert_eq!(u16::from(close.code), 1012, "service restart");
    }
    let status = e.exited().await;
    assert!(status.success(), "clean exit after SIGTERM: {status:?}");
    drop(e);

    let e = start(dir.path(), port, &[]).await;
    let v = e
        .get(
            &admin,
            &format!(
                "/api/v1/customers/{}/timeline?limit=200",
                customer.as_str().unwrap()
            ),
        )
        .await;
    assert!(v["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["id"] == ack["event_id"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_finishes_an_in_flight_write_before_stopping() {
    let (app, store) = spawn_app_with_faults(|_| {}).await;
    let first = app.inbound("sms", "+819000000001", "first", None).await;
    let (mut visitor, _) = Client::visitor(&app).await;

    // A write is in flight (held by the store) when the drain begins.
    store.pause_writes(8);
    let http = app.http.clone();
    let url = format!("{}/api/v1/inbound", app.base);
    let admin = app.admin.clone();
    let in_flight = tokio::spawn(async move {
        http.post(url)
            .bearer_auth(admin)
            .json(&json!({"channel": "sms", "address": "+819000000001", "text": "in flight", "client_msg_id": "m-1"}))
            .send()
            .await
            .unwrap()
    });
    store.wait_held(1).await;
    let drain = tokio::spawn({
        let shutdown = app.shutdown.clone();
        async move { shutdown.drain().await }
    });
    // Sockets are told first; then the store catches up.
    visitor.expect("reconnect").await;
    store.resume_writes();
    let r = in_flight.await.unwrap();
    assert_eq!(
        r.status(),
        202,
        "the in-flight write finished and was acknowledged"
    );
    let acked: serde_json::Value = r.json().await.unwrap();
    drain.await.unwrap();
    assert!(store.calls(Op::Commit) > 0);

    let dir = app.stop();
    // The test's handle is the last holder of the store: release it before reopening.
    drop(store);
    let app = spawn_app_in(dir, |_| {}).await;
    let events = app.timeline(first["customer_id"].as_str().unwrap()).await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e["id"] == acked["event_id"])
            .count(),
        1
    );
}
