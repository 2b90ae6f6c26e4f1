//! The outbound event stream in spread placement (docs/event-stream.md, "In a
//! cluster"): three engine processes on one Cassandra keyspace. Customers write to all
//! three nodes in turn, so their events are committed (and journaled) by whichever
//! node owns each customer; one node — the holder of `singleton/event-stream` — sends
//! them all. That node is killed with SIGKILL mid-stream; a survivor takes the key
//! (once the dead lease lapses) and goes on from the stored cursor, while the
//! customers keep writing to the survivors. Afterwards the receiver's requests are
//! checked against the customers' timelines in the store: every event arrived, each
//! repeat is the same body under the same key, and each customer's events came in
//! the order they happened.

use crate::process::{free_port, Proc};
use crate::recorder::Recorder;
use crate::spread::{holders, shared_by, start_with, MESSAGE_WAIT};
use crate::stream::{first_arrivals, streamed_in_store, until_distinct, LOCAL_RECEIVER_TOML};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Instant;

/// Sends an SMS over REST to the first of `nodes` that acknowledges it (the same
/// `client_msg_id` each time, so a retry is stored once); answers the customer id.
async fn say(nodes: &[&Proc], token: &str, phone: &str, text: &str, id: &str) -> String {
    let give_up = Instant::now() + MESSAGE_WAIT;
    let body = json!({"channel": "sms", "address": phone, "text": text, "client_msg_id": id});
    let mut turn = 0;
    loop {
        let n = nodes[turn % nodes.len()];
        turn += 1;
        let (s, v) = n
            .send_json(token, "POST", "/api/v1/inbound", body.clone())
            .await;
        if s == 202 {
            return v["customer_id"].as_str().unwrap().to_owned();
        }
        assert!(
            Instant::now() < give_up,
            "{phone} {text}: never acknowledged ({s} {v})"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await; // retry pace
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_goes_on_from_its_cursor_when_its_sender_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("settings.toml");
    std::fs::write(&config, LOCAL_RECEIVER_TOML).unwrap();
    let config = config.display().to_string();
    let env = [("SWITCHBOARD_CONFIG", config.as_str())];
    let mut nodes: BTreeMap<String, Proc> = BTreeMap::new();
    for name in ["node-a", "node-b", "node-c"] {
        let p = start_with(dir.path(), free_port(), name, &env);
        p.ready().await;
        nodes.insert(name.to_owned(), p);
    }
    let a = &nodes["node-a"];
    let token = a.login("admin").await;
    shared_by(a, &token, 3).await;
    let sender = holders(a, &token).await["singleton/event-stream"].clone();

    let rec = Recorder::start().await;
    let (s, sub) = a
        .send_json(
            &token,
            "POST",
            "/api/v1/stream/subscribers",
            json!({"name": "BI", "url": format!("{}/events", rec.base), "types": ["*"]}),
        )
        .await;
    assert_eq!(s, 201, "{sub}");
    let secret = sub["secret"].as_str().unwrap().to_owned();

    let phones: Vec<String> = (1..=6).map(|i| format!("+8180444400{i:02}")).collect();
    let all: Vec<&Proc> = nodes.values().collect();
    let mut customers = Vec::new();
    for (i, phone) in phones.iter().enumerate() {
        // Each customer's first message reaches a different node.
        let order: Vec<&Proc> = all.iter().cycle().skip(i).take(3).copied().collect();
        customers.push(say(&order, &token, phone, "before", &format!("{phone}-1")).await);
    }
    // The sender is at work: some deliveries arrived.
    rec.wait_for("/events", phones.len()).await;

    nodes
        .remove(&sender)
        .expect("the sender is a member")
        .kill9();
    let survivors: Vec<&Proc> = nodes.values().collect();
    for (i, phone) in phones.iter().enumerate() {
        let order: Vec<&Proc> = survivors.iter().cycle().skip(i).take(2).copied().collect();
        say(&order, &token, phone, "after", &format!("{phone}-2")).await;
        say(&order, &token, phone, "again", &format!("{phone}-3")).await;
    }
    // A survivor holds the stream now.
    let s0 = survivors[0];
    let give_up = Instant::now() + MESSAGE_WAIT;
    loop {
        let h = holders(s0, &token).await;
        match h.get("singleton/event-stream") {
            Some(n) if *n != sender => break,
            _ => assert!(Instant::now() < give_up, "nobody took the stream: {h:?}"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await; // poll interval
    }

    // The independent check: what the keyspace's timelines say was published.
    let mut expected = BTreeMap::new();
    for c in &customers {
        let path = format!("/api/v1/customers/{c}/timeline?limit=200");
        let v: Value = s0.get(&token, &path).await;
        expected.insert(c.clone(), streamed_in_store(async { v }, &["*"]).await);
    }
    let total: usize = expected.values().map(Vec::len).sum();
    assert!(total >= phones.len() * 4, "{expected:?}");
    let got = until_distinct(&rec, "/events", total).await;
    assert_eq!(
        first_arrivals(&got, &secret),
        expected,
        "every event, once per key, in order per customer, across the sender's loss"
    );
}
