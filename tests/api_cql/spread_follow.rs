//! A chat socket follows its customer's actor (docs/cluster.md, "Sockets stay where
//! they are"): two engine processes in spread placement on one Cassandra keyspace; a
//! visitor's chat socket and the agent's socket on node a, the customer's actor on
//! node b (its shard's holder). Node b is killed with SIGKILL while the visitor writes.
//! The visitor's socket stays open — no `reconnect`, no close: the message it wrote
//! into the gap is acknowledged on that socket once node a has taken b's shards, the
//! agent gets it, and the agent's reply after the takeover reaches the visitor on the
//! same socket; the reply from before the kill is not shown twice. Node a counts the
//! socket as followed. (With the socket told to reconnect instead, as before, the
//! visitor's socket closes and the test fails at its first wait.)

use crate::helpers::*;
use crate::spread::{holders, shared_by, start_with, SHARDS};
use serde_json::{json, Value};
use switchboard::cluster::shard::ShardMap;

fn node(dir: &std::path::Path, name: &str) -> crate::process::Proc {
    start_with(dir, crate::process::free_port(), name, &[])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_socket_follows_its_customers_actor_when_the_node_dies() {
    let dir = tempfile::tempdir().unwrap();
    let a = node(dir.path(), "node-a");
    a.ready().await;
    let b = node(dir.path(), "node-b");
    b.ready().await;
    let admin = a.login("admin").await;
    shared_by(&a, &admin, 2).await;
    let held = holders(&a, &admin).await;
    let map = ShardMap::new(SHARDS).unwrap();
    let on = |shard: switchboard::cluster::shard::ShardId| {
        held.get(&format!("shard/{}", shard.0))
            .cloned()
            .unwrap_or_default()
    };

    // The agent's actor on node a (it survives), the agent's socket on node a.
    let agent_id = (0..200)
        .map(|i| format!("kei{i}"))
        .find(|id| on(map.agent(&switchboard::domain::AgentId::parse(id).unwrap())) == "node-a")
        .expect("an agent id on node a's shards");
    let token = a.agent(&admin, &agent_id, json!({})).await;
    let (mut agent, _) = crate::spread::agent_on(&a, &token).await;

    // A visitor whose socket is on node a and whose customer's actor is on node b.
    let mut tries = 0;
    let (mut visitor, customer) = loop {
        tries += 1;
        assert!(tries < 200, "no visitor landed on node b's shards");
        let mut v = Client::connect(&a.ws_url("/ws/chat")).await;
        let w = v.expect("welcome").await;
        let id = w["customer_id"].as_str().unwrap().to_owned();
        let shard = map.customer(switchboard::domain::CustomerId::parse(&id).unwrap());
        if on(shard) == "node-b" {
            break (v, id);
        }
        v.close().await;
    };

    chat_say(&mut visitor, "before the kill").await;
    let conv = accept_next(&mut agent).await;
    visitor
        .expect_where("conversation", |c| c["state"] == "assigned")
        .await;
    agent_say(&mut agent, &conv["id"], "reply before").await;
    let is_reply = |text: &'static str| {
        move |m: &Value| m["event"]["type"] == "message_out" && m["event"]["text"] == text
    };
    visitor
        .expect_where("event", is_reply("reply before"))
        .await;

    // Node b dies; the visitor writes into the gap, on the socket it has.
    b.kill9();
    let id = uuid::Uuid::new_v4().to_string();
    visitor
        .send(json!({"type": "message", "client_msg_id": id, "text": "during the takeover"}))
        .await;
    // Waits for the takeover: the dead node's leases lapse 3.25 s after its last
    // renewal by default.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let ack = loop {
        let m = visitor.next_by(until).await;
        assert_ne!(
            m["type"], "reconnect",
            "the visitor was told to reconnect: {m}"
        );
        if m["type"] == "error" {
            // Refused before the takeover (the deadline passed): write it again, as
            // the web client does.
            visitor
                .send(
                    json!({"type": "message", "client_msg_id": id, "text": "during the takeover"}),
                )
                .await;
            continue;
        }
        if m["type"] == "ack" && m["client_msg_id"] == id.as_str() {
            break m;
        }
    };
    assert!(ack["event_id"].is_string(), "{ack}");
    agent
        .expect_where("event", |m| m["event"]["text"] == "during the takeover")
        .await;

    // The agent replies after the takeover: the visitor's socket gets it.
    agent_say(&mut agent, &conv["id"], "reply after").await;
    visitor.expect_where("event", is_reply("reply after")).await;
    chat_say(&mut visitor, "still here").await;
    agent
        .expect_where("event", |m| m["event"]["text"] == "still here")
        .await;
    // Nothing shown twice, and no reconnect asked for.
    visitor
        .assert_none_where_before_pong("event", is_reply("reply before"))
        .await;
    visitor.assert_none_before_pong("reconnect").await;

    let metrics = metrics_text(&a.http, &a.base).await;
    let followed = metrics
        .lines()
        .find(|l| l.starts_with("switchboard_chat_sockets_followed_total{outcome=\"followed\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or(0.0);
    assert!(
        followed >= 1.0,
        "customer {customer}: not counted as followed:\n{metrics}"
    );
    visitor.close().await;
}
