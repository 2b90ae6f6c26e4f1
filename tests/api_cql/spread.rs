//! Spread placement (docs/cluster.md, "Spread placement"): three engine processes on
//! one Cassandra keyspace, every one serving its share of the keys — customers and
//! agents by shard, the queue and the singletons each by its own key.
//!
//! An agent works on node b while a customer's messages arrive at all three nodes in
//! turn (as behind a round-robin load balancer), so each message crosses from the node
//! it reached to the node running the customer's actor, and from there to the node
//! running the agent's actor and on to the agent's socket. Then the node that runs the
//! customer's actor (or, if that is node b, the queue's) is killed with SIGKILL; the
//! client resends each unacknowledged message, with its id, to the next node until one
//! acknowledges, and the agent's socket reconnects to node b when told to. Afterwards
//! an independent check reads the keyspace with plain CQL: every acknowledged message
//! is stored exactly once and nothing else; the agent saw every one of them, and no
//! message was pushed to it twice; the conversation was never held by anyone else.

use crate::helpers::*;
use crate::process::{free_port, spawn, Proc};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const SECRET: &str = "spread-placement-test-secret";
const SHARDS: u32 = 12;
/// The longest one message may stay unacknowledged across the kill (a failure, not a
/// measurement: the takeover waits out the dead node's leases, 4.5 s by default).
const MESSAGE_WAIT: Duration = Duration::from_secs(60);

fn start(dir: &std::path::Path, port: u16, name: &str) -> Proc {
    let shards = SHARDS.to_string();
    spawn(
        dir,
        port,
        &[
            ("SWITCHBOARD_NODE_NAME", name),
            ("SWITCHBOARD_PLACEMENT", "spread"),
            ("SWITCHBOARD_SHARDS", &shards),
            ("SWITCHBOARD_CLUSTER_SECRET", SECRET),
        ],
    )
}

/// Node `i`, while it runs.
fn at(nodes: &[Option<Proc>], i: usize) -> &Proc {
    nodes[i].as_ref().expect("a running node")
}

/// The lease rows of the cluster view: key -> holder's node name, live ones only.
async fn holders(node: &Proc, token: &str) -> BTreeMap<String, String> {
    let view = node.get(token, "/api/v1/cluster").await;
    view["leases"]
        .as_array()
        .expect("leases")
        .iter()
        .filter(|l| l["live"] == true)
        .map(|l| {
            let holder = l["holder"]["name"]
                .as_str()
                .or_else(|| l["holder"].as_str())
                .unwrap_or_default();
            let name = holder.split('#').next().unwrap_or_default().to_owned();
            (l["key"].as_str().unwrap_or_default().to_owned(), name)
        })
        .collect()
}

/// Sends customer message `i` to the nodes from `first` on, one after another, until
/// one acknowledges it; returns the event id and the node that did.
async fn say(nodes: &[&Proc], first: usize, token: &str, i: usize) -> (String, usize) {
    let id = format!("spread-{i}");
    let body = json!({"channel": "sms", "address": "+818055501234",
                      "text": format!("m{i}"), "client_msg_id": id});
    let give_up = Instant::now() + MESSAGE_WAIT;
    let mut at = first;
    loop {
        let n = nodes[at % nodes.len()];
        let sent = n
            .http
            .post(format!("{}/api/v1/inbound", n.base))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await;
        if let Ok(r) = sent {
            if r.status() == 202 {
                let v: Value = r.json().await.expect("an acknowledgement");
                let event = v["event_id"].as_str().expect("event_id").to_owned();
                return (event, at % nodes.len());
            }
        }
        at += 1;
        assert!(Instant::now() < give_up, "{id} unacknowledged");
        tokio::time::sleep(Duration::from_millis(20)).await; // retry pacing
    }
}

/// The agent's socket on `node`, available, with what its welcome listed.
async fn agent_on(node: &Proc, token: &str) -> (Client, Value) {
    let mut c = Client::connect(&node.ws_url(&format!("/ws/agent?token={token}"))).await;
    let welcome = c.expect("welcome").await;
    c.send(json!({"type": "set_status", "status": "available"}))
        .await;
    c.expect("status").await;
    (c, welcome)
}

/// Texts of the customer messages a welcome lists in the agent's conversations.
fn welcome_texts(welcome: &Value) -> Vec<String> {
    welcome["conversations"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["recent"].as_array().cloned().unwrap_or_default())
        .filter(|e| e["type"] == "message_in")
        .filter_map(|e| e["text"].as_str().map(str::to_owned))
        .collect()
}

/// Reads the agent's socket until message `text` arrives (pushed, or listed by a
/// welcome after a reconnect to `node`); counts every push of a customer message.
async fn until_seen(
    agent: &mut Client,
    node: &Proc,
    token: &str,
    text: &str,
    pushed: &mut BTreeMap<String, usize>,
    listed: &mut Vec<String>,
) {
    let give_up = Instant::now() + MESSAGE_WAIT;
    while !pushed.contains_key(text) && !listed.iter().any(|t| t == text) {
        assert!(Instant::now() < give_up, "{text} never reached the agent");
        let m = agent.next().await;
        match m["type"].as_str() {
            Some("event") if m["event"]["type"] == "message_in" => {
                let t = m["event"]["text"].as_str().unwrap_or_default().to_owned();
                *pushed.entry(t).or_default() += 1;
            }
            Some("reconnect") => {
                let (c, welcome) = agent_on(node, token).await;
                *agent = c;
                listed.extend(welcome_texts(&welcome));
            }
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_share_the_work_and_a_killed_one_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let names = ["node-a", "node-b", "node-c"];
    let ports: Vec<u16> = names.iter().map(|_| free_port()).collect();
    let mut nodes: Vec<Option<Proc>> = Vec::new();
    // The first creates the keyspace and the admin; the others join it.
    nodes.push(Some(start(dir.path(), ports[0], names[0])));
    nodes[0].as_ref().unwrap().ready().await;
    for i in 1..3 {
        nodes.push(Some(start(dir.path(), ports[i], names[i])));
    }
    for n in nodes.iter().flatten() {
        n.ready().await;
    }
    let admin = at(&nodes, 0).login("admin").await;

    // Placement settles: every shard, the queue and every singleton held, by all three.
    let mut expected_keys: Vec<String> = (0..SHARDS).map(|s| format!("shard/{s}")).collect();
    expected_keys.push("queue/general".into());
    for s in ["hub", "notifier", "callback-sweeper", "idempotency-expiry"] {
        expected_keys.push(format!("singleton/{s}"));
    }
    let give_up = Instant::now() + WAIT;
    let placed = loop {
        let h = holders(at(&nodes, 0), &admin).await;
        let all = expected_keys.iter().all(|k| h.contains_key(k));
        let owners: std::collections::BTreeSet<&String> =
            expected_keys.iter().filter_map(|k| h.get(k)).collect();
        if all && owners.len() == 3 {
            break h;
        }
        assert!(Instant::now() < give_up, "placement never settled: {h:?}");
        tokio::time::sleep(Duration::from_millis(100)).await; // poll interval
    };
    println!("placement: {placed:?}");

    // An agent on node b; the customer's messages reach a, b and c in turn.
    let agent_token = at(&nodes, 1).agent(&admin, "ana", json!({})).await;
    let (mut agent, _) = agent_on(at(&nodes, 1), &agent_token).await;
    let mut acked: BTreeMap<String, String> = BTreeMap::new();
    let all: Vec<&Proc> = nodes.iter().flatten().collect();
    let (first, _) = say(&all, 2, &admin, 0).await;
    acked.insert("m0".into(), first);
    let offer = agent.expect("offer").await;
    let customer = offer["customer"]["id"].as_str().unwrap().to_owned();
    agent
        .send(json!({"type": "accept", "offer_id": offer["offer_id"]}))
        .await;
    let assigned = agent.expect("conversation_assigned").await;
    let conversation = assigned["conversation"]["id"].as_str().unwrap().to_owned();
    let mut pushed: BTreeMap<String, usize> = BTreeMap::new();
    let mut listed: Vec<String> =
        welcome_texts(&json!({"conversations": [assigned["conversation"]]}));
    for i in 1..10 {
        let (event, _) = say(&all, i, &admin, i).await;
        acked.insert(format!("m{i}"), event);
        let text = format!("m{i}");
        until_seen(
            &mut agent,
            at(&nodes, 1),
            &agent_token,
            &text,
            &mut pushed,
            &mut listed,
        )
        .await;
    }
    drop(all);

    // Kill the node running the customer's actor (or the queue's, if that is node b,
    // which holds the agent's socket).
    let shard = switchboard::cluster::shard::ShardMap::new(SHARDS)
        .unwrap()
        .customer(switchboard::domain::CustomerId::parse(&customer).unwrap());
    let customer_key = format!("shard/{}", shard.0);
    let victim_name = [customer_key.as_str(), "queue/general"]
        .iter()
        .filter_map(|k| placed.get(*k))
        .find(|n| n.as_str() != "node-b")
        .cloned()
        .unwrap_or_else(|| "node-a".into());
    let victim = names.iter().position(|n| *n == victim_name).unwrap();
    println!(
        "killing {victim_name} (customer's shard {customer_key} on {:?})",
        placed.get(&customer_key)
    );
    let killed_at = Instant::now();
    nodes[victim].take().unwrap().kill9();

    // The survivors serve the customer and the agent again; nothing acknowledged is lost.
    let survivors: Vec<&Proc> = nodes.iter().flatten().collect();
    let mut served_again = None;
    for i in 10..20 {
        let (event, _) = say(&survivors, i, &admin, i).await;
        acked.insert(format!("m{i}"), event);
        let text = format!("m{i}");
        until_seen(
            &mut agent,
            at(&nodes, 1),
            &agent_token,
            &text,
            &mut pushed,
            &mut listed,
        )
        .await;
        served_again.get_or_insert(killed_at.elapsed());
    }
    println!(
        "first message after the kill acknowledged and at the agent {:?} after it",
        served_again.unwrap()
    );

    // Every message reached the agent; none was pushed to it twice.
    for i in 0..20 {
        let text = format!("m{i}");
        assert!(
            i == 0 || pushed.contains_key(&text) || listed.contains(&text),
            "{text} never reached the agent"
        );
    }
    let twice: Vec<_> = pushed.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "pushed more than once: {twice:?}");

    // Independent check with plain CQL: the acknowledged messages, each once, nothing
    // else; the conversation held by ana and nobody else.
    let keyspace = cql_keyspace(dir.path());
    let mut expected: Vec<String> = acked.values().cloned().collect();
    expected.sort();
    let stored = crate::standby::stored_message_events(&keyspace).await;
    assert_eq!(stored, expected, "stored vs acknowledged");
    let holders_of = assigned_agents(&keyspace, &conversation).await;
    assert_eq!(
        holders_of,
        vec!["ana".to_owned()],
        "who the conversation was assigned to"
    );
}

/// Every agent an `assigned` event of `conversation` names, read with plain CQL.
async fn assigned_agents(keyspace: &str, conversation: &str) -> Vec<String> {
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
    let mut agents: Vec<String> = rows
        .rows::<(Option<String>, Option<String>)>()
        .expect("typed rows")
        .map(|r| r.expect("a row"))
        .filter(|(kind, _)| kind.as_deref() == Some("assigned"))
        .filter_map(|(_, payload)| {
            let e: Value = serde_json::from_str(&payload.unwrap_or_default()).ok()?;
            (e["conversation_id"] == conversation)
                .then(|| e["agent_id"].as_str().map(str::to_owned))
                .flatten()
        })
        .collect();
    agents.dedup();
    agents
}
