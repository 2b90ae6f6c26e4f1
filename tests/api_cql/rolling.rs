//! A rolling restart of three engines on one keyspace under steady traffic (docs/cluster.md,
//! "Active and standby"): one active, two standbys; each engine in turn gets SIGTERM,
//! exits cleanly and starts again under the same name, while a client sends messages
//! with unique `client_msg_id`s to whichever engine answers — trying the next one on a
//! 503 or a refused connection and resending until one acknowledges, as a client behind
//! a round-robin load balancer does. Afterwards the store, read with plain CQL rather
//! than through an engine, holds every acknowledged message exactly once: none lost,
//! none duplicated across the takeovers.
//!
//! The same in spread placement (docs/cluster.md, "Spread placement"): three members
//! each serving a share of the shards, the queue and the singletons; every message
//! enters at the next node in turn (a round-robin load balancer), so most cross to the
//! node running their customer's actor; each node in turn is stopped with SIGTERM
//! (handing its keys over) and started again (taking its share back).

use crate::helpers::*;
use crate::process::{free_port, spawn, Proc};
use crate::spread::holders;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::watch;

/// The longest a message may go unacknowledged across the restarts (a failure, not a
/// measurement).
const MESSAGE_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Acknowledged messages: client_msg_id -> event id.
type Acked = BTreeMap<String, String>;

/// Sends messages one after another to whichever of `bases` acknowledges, until `stop`;
/// publishes the acknowledged ones on `progress`. `rotate`: each message starts at
/// the next node (a round-robin load balancer); otherwise at the one that answered
/// the last.
async fn traffic(
    bases: Vec<String>,
    token: String,
    stop: Arc<AtomicBool>,
    progress: watch::Sender<Acked>,
    rotate: bool,
) -> Acked {
    let http = test_http_client();
    let mut acked = Acked::new();
    let mut next = 0usize;
    for i in 0.. {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let id = format!("roll-{i}");
        let body = json!({"channel": "sms", "address": format!("+8180555000{}", i % 5),
                          "text": format!("message {i}"), "client_msg_id": id});
        let give_up = std::time::Instant::now() + MESSAGE_WAIT;
        let event = loop {
            let base = &bases[next % bases.len()];
            let sent = http
                .post(format!("{base}/api/v1/inbound"))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await;
            if let Ok(r) = sent {
                if r.status() == 202 {
                    let v: Value = r.json().await.expect("an acknowledgement");
                    break v["event_id"].as_str().expect("event_id").to_owned();
                }
            }
            // Not this engine (standby, stopping, gone): the next one.
            next += 1;
            assert!(
                std::time::Instant::now() < give_up,
                "{id} unacknowledged for {MESSAGE_WAIT:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await; // retry pacing
        };
        acked.insert(id, event);
        progress.send_replace(acked.clone());
        if rotate {
            next += 1;
        }
    }
    acked
}

/// Waits until `more` messages beyond `from` are acknowledged.
async fn acknowledged(progress: &mut watch::Receiver<Acked>, more: usize) {
    let from = progress.borrow().len();
    tokio::time::timeout(MESSAGE_WAIT, progress.wait_for(|a| a.len() >= from + more))
        .await
        .expect("traffic stalled")
        .expect("traffic ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_under_traffic_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let names = ["node-a", "node-b", "node-c"];
    let ports: Vec<u16> = names.iter().map(|_| free_port()).collect();
    let start = |i: usize| spawn(dir.path(), ports[i], &[("SWITCHBOARD_NODE_NAME", names[i])]);
    let mut nodes: Vec<Proc> = Vec::new();
    nodes.push(start(0));
    nodes[0].ready().await;
    for i in 1..3 {
        nodes.push(start(i));
        crate::standby::standby(&nodes[i]).await;
    }
    let token = nodes[0].login("admin").await;
    let bases: Vec<String> = nodes.iter().map(|n| n.base.clone()).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let (progress_tx, mut progress) = watch::channel(Acked::new());
    let sender = tokio::spawn(traffic(bases, token, stop.clone(), progress_tx, false));

    acknowledged(&mut progress, 20).await;
    for i in 0..3 {
        nodes[i].sigterm();
        let status = nodes[i].exited().await;
        assert!(status.success(), "{} exited with {status}", names[i]);
        nodes[i] = start(i);
        // Back as a standby (or as the active engine, if it won the lease again).
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            match nodes[i].readyz().await {
                Some((200, _)) => break,
                Some((503, v)) if v["status"] == "standby" => break,
                _ => {}
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{} never back",
                names[i]
            );
            tokio::time::sleep(std::time::Duration::from_millis(25)).await; // poll interval
        }
        acknowledged(&mut progress, 20).await;
    }
    stop.store(true, Ordering::SeqCst);
    let acked = sender.await.expect("the traffic task");
    assert!(acked.len() >= 80, "{} acknowledged", acked.len());
    // The keyspace changed hands along the way (the first restart was the active one).
    let mut epoch = None;
    for n in &nodes {
        if let Some((200, _)) = n.readyz().await {
            let view = n.get(&n.login("admin").await, "/api/v1/cluster").await;
            epoch = view["leases"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["key"] == "singleton/active-engine")
                .and_then(|l| l["epoch"].as_u64());
        }
    }
    let epoch = epoch.expect("one engine is active at the end");
    assert!(epoch >= 2, "no takeover: epoch {epoch}");
    println!(
        "{} messages acknowledged; the lease ended at epoch {epoch}",
        acked.len()
    );

    stored_once(dir.path(), &acked).await;
}

/// Every acknowledged message once, nothing else: the store read with plain CQL.
async fn stored_once(dir: &std::path::Path, acked: &Acked) {
    let mut expected: Vec<String> = acked.values().cloned().collect();
    expected.sort();
    let before = expected.len();
    expected.dedup();
    assert_eq!(
        expected.len(),
        before,
        "two client ids acknowledged as one event"
    );
    let stored = crate::standby::stored_message_events(&cql_keyspace(dir)).await;
    assert_eq!(stored.len(), expected.len(), "stored vs acknowledged");
    assert_eq!(stored, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_of_spread_nodes_under_traffic_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let names = ["node-a", "node-b", "node-c"];
    let ports: Vec<u16> = names.iter().map(|_| free_port()).collect();
    let start = |i: usize| {
        spawn(
            dir.path(),
            ports[i],
            &[
                ("SWITCHBOARD_NODE_NAME", names[i]),
                ("SWITCHBOARD_PLACEMENT", "spread"),
                ("SWITCHBOARD_SHARDS", "12"),
                ("SWITCHBOARD_CLUSTER_SECRET", "rolling-spread-test-secret"),
            ],
        )
    };
    let mut nodes: Vec<Proc> = (0..3).map(start).collect();
    for n in &nodes {
        n.ready().await;
    }
    // Every member holds a share before the traffic starts.
    let token = nodes[0].login("admin").await;
    let give_up = std::time::Instant::now() + WAIT;
    loop {
        let h = holders(&nodes[0], &token).await;
        let owners: std::collections::BTreeSet<&String> = h.values().collect();
        if owners.len() == 3 && h.keys().filter(|k| k.starts_with("shard/")).count() == 12 {
            break;
        }
        assert!(std::time::Instant::now() < give_up, "never settled: {h:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await; // poll interval
    }
    let bases: Vec<String> = nodes.iter().map(|n| n.base.clone()).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let (progress_tx, mut progress) = watch::channel(Acked::new());
    let sender = tokio::spawn(traffic(
        bases,
        token.clone(),
        stop.clone(),
        progress_tx,
        true,
    ));

    acknowledged(&mut progress, 20).await;
    for i in 0..3 {
        nodes[i].sigterm();
        let status = nodes[i].exited().await;
        assert!(status.success(), "{} exited with {status}", names[i]);
        acknowledged(&mut progress, 10).await;
        nodes[i] = start(i);
        nodes[i].ready().await;
        // Back with a share of its own.
        let give_up = std::time::Instant::now() + WAIT;
        while !holders(&nodes[i], &token)
            .await
            .values()
            .any(|n| n == names[i])
        {
            assert!(
                std::time::Instant::now() < give_up,
                "{} took no key back",
                names[i]
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await; // poll interval
        }
        acknowledged(&mut progress, 20).await;
    }
    stop.store(true, Ordering::SeqCst);
    let acked = sender.await.expect("the traffic task");
    assert!(acked.len() >= 110, "{} acknowledged", acked.len());
    println!(
        "{} messages acknowledged across a rolling restart of three spread nodes",
        acked.len()
    );
    stored_once(dir.path(), &acked).await;
    // One actor per customer at a time, wherever it ran: each customer's messages are
    // one conversation (two actors of one customer would each open their own).
    let mut conversations: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    for e in crate::standby::stored_events(&cql_keyspace(dir.path()), "message_in").await {
        let customer = e["customer_id"].as_str().expect("customer_id").to_owned();
        let conversation = e["conversation_id"].as_str().expect("conversation_id");
        conversations
            .entry(customer)
            .or_default()
            .insert(conversation.to_owned());
    }
    assert_eq!(conversations.len(), 5, "{conversations:?}");
    assert!(
        conversations.values().all(|c| c.len() == 1),
        "a customer in two conversations: {conversations:?}"
    );
}
