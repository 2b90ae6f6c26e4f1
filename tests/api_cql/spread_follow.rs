//! Sockets follow their actors (docs/cluster.md, "Sockets stay where they are"): two
//! engine processes in spread placement on one Cassandra keyspace, the visitor's chat
//! socket and the agent's socket on node a.
//! - The customer's actor on node b (its shard's holder), killed with SIGKILL while
//!   the visitor writes: the visitor's socket stays open — no `reconnect`, no close;
//!   the message it wrote into the gap is acknowledged on that socket once node a has
//!   taken b's shards, the agent gets it, and the agent's reply after the takeover
//!   reaches the visitor on the same socket; the reply from before the kill is not
//!   shown twice.
//! - The agent's actor on node b, killed: the agent's socket stays open and gets a new
//!   `welcome` listing the conversation it holds, then its status set back to
//!   available without asking; the visitor's next message and the agent's reply go
//!   through on the same sockets.
//!
//! Node a counts each socket as followed. (With the sockets told to reconnect instead,
//! as before, the test fails at its first wait.) Before each kill, the engine's own
//! answer of where the two actors and the queue run (`POST /api/v1/cluster/locate`)
//! agrees with the shard map and the lease rows the test placed them by.

use crate::helpers::*;
use crate::spread::{holders, settled_among, start_with, SHARDS};
use serde_json::{json, Value};
use switchboard::cluster::shard::ShardMap;

fn node(dir: &std::path::Path, name: &str) -> crate::process::Proc {
    start_with(dir, crate::process::free_port(), name, &[])
}

/// The `switchboard_sockets_followed_total` of `kind` with outcome `followed` on `n`.
async fn followed(n: &crate::process::Proc, kind: &str) -> f64 {
    let metrics = metrics_text(&n.http, &n.base).await;
    let prefix =
        format!("switchboard_sockets_followed_total{{kind=\"{kind}\",outcome=\"followed\"}}");
    metrics
        .lines()
        .find(|l| l.starts_with(&prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or(0.0)
}

/// Two spread nodes sharing the shards, node a's agent socket and visitor socket, and
/// which node holds the agent's actor and the customer's.
struct Pair {
    _dir: tempfile::TempDir,
    a: crate::process::Proc,
    b: crate::process::Proc,
    agent: Client,
    visitor: Client,
    customer: String,
}

impl Pair {
    /// An agent (ids `{prefix}0`, `{prefix}1`…) whose actor's shard `agent_on`
    /// holds, and a visitor whose customer's actor's shard `customer_on` holds, both
    /// connected to node a.
    async fn start(prefix: &str, agent_on: &str, customer_on: &str) -> Pair {
        let dir = tempfile::tempdir().unwrap();
        let a = node(dir.path(), "node-a");
        a.ready().await;
        let b = node(dir.path(), "node-b");
        b.ready().await;
        let admin = a.login("admin").await;
        // Settled, so the shards found below stay where they are until the kill.
        settled_among(&a, &admin, &["node-a", "node-b"]).await;
        let held = holders(&a, &admin).await;
        let map = ShardMap::new(SHARDS).unwrap();
        let on = |shard: switchboard::cluster::shard::ShardId| {
            held.get(&format!("shard/{}", shard.0))
                .cloned()
                .unwrap_or_default()
        };
        let agent_id = (0..200)
            .map(|i| format!("{prefix}{i}"))
            .find(|id| on(map.agent(&switchboard::domain::AgentId::parse(id).unwrap())) == agent_on)
            .unwrap_or_else(|| panic!("an agent id on {agent_on}'s shards"));
        let token = a.agent(&admin, &agent_id, json!({})).await;
        let (agent, _) = crate::spread::agent_on(&a, &token).await;
        let mut tries = 0;
        let (visitor, customer) = loop {
            tries += 1;
            assert!(tries < 200, "no visitor landed on {customer_on}'s shards");
            let mut v = Client::connect(&a.ws_url("/ws/chat")).await;
            let w = v.expect("welcome").await;
            let id = w["customer_id"].as_str().unwrap().to_owned();
            let shard = map.customer(switchboard::domain::CustomerId::parse(&id).unwrap());
            if on(shard) == customer_on {
                break (v, id);
            }
            v.close().await;
        };
        let found = crate::spread::locate(
            &a,
            &admin,
            json!({"customers": [customer], "agents": [agent_id], "queues": ["general"]}),
        )
        .await;
        let agent_key = format!(
            "shard/{}",
            map.agent(&switchboard::domain::AgentId::parse(&agent_id).unwrap())
                .0
        );
        let customer_key = format!(
            "shard/{}",
            map.customer(switchboard::domain::CustomerId::parse(&customer).unwrap())
                .0
        );
        let placed = |v: &Value| {
            let holder = v["holder"].as_str().unwrap_or_default();
            (
                v["key"].as_str().unwrap_or_default().to_owned(),
                holder.split('#').next().unwrap_or_default().to_owned(),
                v["live"].clone(),
            )
        };
        assert_eq!(
            (
                placed(&found["agents"][0]),
                placed(&found["customers"][0]),
                placed(&found["queues"][0]),
            ),
            (
                (agent_key, agent_on.to_owned(), json!(true)),
                (customer_key, customer_on.to_owned(), json!(true)),
                (
                    "queue/general".to_owned(),
                    held["queue/general"].clone(),
                    json!(true)
                ),
            ),
            "{found}"
        );
        Pair {
            _dir: dir,
            a,
            b,
            agent,
            visitor,
            customer,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_socket_follows_its_actor_when_the_node_dies() {
    // The agent's actor on node b (killed); the customer's on node a (it survives).
    let Pair {
        _dir,
        a,
        b,
        mut agent,
        mut visitor,
        ..
    } = Pair::start("ren", "node-b", "node-a").await;
    chat_say(&mut visitor, "before the kill").await;
    let conv = accept_next(&mut agent).await;

    b.kill9();
    // The agent's socket stays open and is welcomed again, by its actor's new node,
    // with the conversation it holds.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let welcome = loop {
        let m = agent.next_by(until).await;
        assert_ne!(
            m["type"], "reconnect",
            "the agent was told to reconnect: {m}"
        );
        if m["type"] == "welcome" {
            break m;
        }
    };
    let listed: Vec<&Value> = welcome["conversations"]
        .as_array()
        .expect("conversations")
        .iter()
        .map(|c| &c["id"])
        .collect();
    assert_eq!(listed, vec![&conv["id"]], "{welcome}");
    // The new actor starts away; the socket sets the status it showed again.
    agent
        .expect_where("status", |m| m["status"] == "available")
        .await;
    chat_say(&mut visitor, "after the kill").await;
    agent
        .expect_where("event", |m| m["event"]["text"] == "after the kill")
        .await;
    agent_say(&mut agent, &conv["id"], "reply after").await;
    visitor
        .expect_where("event", |m| {
            m["event"]["type"] == "message_out" && m["event"]["text"] == "reply after"
        })
        .await;
    agent.assert_none_before_pong("reconnect").await;
    assert!(
        followed(&a, "agent").await >= 1.0,
        "not counted as followed"
    );
    visitor.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_socket_follows_its_customers_actor_when_the_node_dies() {
    // The agent's actor on node a (it survives); the customer's on node b (killed).
    let Pair {
        _dir,
        a,
        b,
        mut agent,
        mut visitor,
        customer,
    } = Pair::start("kei", "node-a", "node-b").await;

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

    assert!(
        followed(&a, "chat").await >= 1.0,
        "customer {customer}: not counted as followed"
    );
    visitor.close().await;
}
