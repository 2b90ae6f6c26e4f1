//! Spread placement (docs/cluster.md, "Spread placement"): three engine processes on
//! one Cassandra keyspace, every one serving its share of the keys — customers and
//! agents by shard, the queue and the singletons each by its own key.
//!
//! An agent works on node b while a customer's messages arrive at all three nodes in
//! turn (as behind a round-robin load balancer), so each message crosses from the node
//! it reached to the node running the customer's actor, and from there to the node
//! running the agent's actor and on to the agent's socket. Then the node that runs the
//! customer's actor (or, if that is node b, the queue's) is paused with SIGSTOP for
//! longer than its lease: the others take its keys and serve meanwhile; a request
//! that waited in its socket is refused when it wakes (its deadline passed: the write
//! fence), and it rejoins under a new membership epoch and takes its share back.
//! Then that node (by the placement now) is killed with SIGKILL; the client resends each unacknowledged message, with its id, to the next node until one
//! acknowledges, and the agent's socket reconnects to node b when told to. Afterwards
//! an independent check reads the keyspace with plain CQL: every acknowledged message
//! is stored exactly once and nothing else; the agent saw every one of them, and no
//! message was pushed to it twice; the conversation was never held by anyone else.
//! Between the kill and that check, the other survivor is stopped with SIGTERM: it
//! exits cleanly, handing its keys over, and the last node holds every key and serves
//! on.

use crate::helpers::*;
use crate::process::{free_port, spawn, Proc};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

pub(crate) const SECRET: &str = "spread-placement-test-secret";
pub(crate) const SHARDS: u32 = 12;
/// The longest one message may stay unacknowledged across the kill (a failure, not a
/// measurement: the takeover waits out the dead node's leases, 3.25 s by default).
pub(crate) const MESSAGE_WAIT: Duration = Duration::from_secs(60);

fn start(dir: &std::path::Path, port: u16, name: &str) -> Proc {
    start_with(dir, port, name, &[])
}

/// Spread node `name` on `port`, with `extra` environment variables.
pub(crate) fn start_with(
    dir: &std::path::Path,
    port: u16,
    name: &str,
    extra: &[(&str, &str)],
) -> Proc {
    let shards = SHARDS.to_string();
    let mut env = vec![
        ("SWITCHBOARD_NODE_NAME", name),
        ("SWITCHBOARD_PLACEMENT", "spread"),
        ("SWITCHBOARD_SHARDS", shards.as_str()),
        ("SWITCHBOARD_CLUSTER_SECRET", SECRET),
    ];
    env.extend_from_slice(extra);
    spawn(dir, port, &env)
}

/// Every placed key of a keyspace with the default queue: each shard, the queue and
/// the singletons.
/// Two spread nodes, `node-a` then `node-b`, started (and ready) in `dir` with the
/// settings file `toml`.
pub(crate) async fn two_with_config(dir: &std::path::Path, toml: &str) -> (Proc, Proc) {
    let config = dir.join("settings.toml");
    std::fs::write(&config, toml).unwrap();
    let config = config.display().to_string();
    let env = [("SWITCHBOARD_CONFIG", config.as_str())];
    let a = start_with(dir, crate::process::free_port(), "node-a", &env);
    a.ready().await;
    let b = start_with(dir, crate::process::free_port(), "node-b", &env);
    b.ready().await;
    (a, b)
}

pub(crate) fn placed_keys() -> Vec<String> {
    let mut keys: Vec<String> = (0..SHARDS).map(|s| format!("shard/{s}")).collect();
    keys.push("queue/general".into());
    for s in [
        "hub",
        "notifier",
        "callback-sweeper",
        "idempotency-expiry",
        "event-stream",
    ] {
        keys.push(format!("singleton/{s}"));
    }
    keys
}

/// Waits until every placed key has a live holder and `nodes` nodes hold some.
pub(crate) async fn shared_by(node: &Proc, token: &str, nodes: usize) {
    let give_up = Instant::now() + WAIT;
    loop {
        let h = holders(node, token).await;
        let owners: std::collections::BTreeSet<&String> = h.values().collect();
        if placed_keys().iter().all(|k| h.contains_key(k)) && owners.len() == nodes {
            return;
        }
        assert!(Instant::now() < give_up, "never shared by {nodes}: {h:?}");
        tokio::time::sleep(Duration::from_millis(100)).await; // poll interval
    }
}

/// Whether a cluster view shows placement settled among the members `names`: every
/// placed key held by the member rendezvous names for it (`cluster::placement`), so the
/// holders stay put until a member joins or leaves.
pub(crate) fn placed_as_wished(view: &Value, names: &[&str]) -> bool {
    let members: Vec<switchboard::cluster::NodeId> = names
        .iter()
        .map(|n| switchboard::cluster::NodeId {
            name: (*n).to_owned(),
            incarnation: 0,
        })
        .collect();
    let h = live_holders(view);
    placed_keys().iter().all(|k| {
        let wished = switchboard::cluster::placement::owner(k, &members).expect("an owner");
        h.get(k) == Some(&wished.name)
    })
}

/// Waits until node `node`'s cluster view shows placement settled among `names`
/// ([`placed_as_wished`]).
pub(crate) async fn settled_among(node: &Proc, token: &str, names: &[&str]) {
    let give_up = Instant::now() + WAIT;
    loop {
        let view = node.get(token, "/api/v1/cluster").await;
        if placed_as_wished(&view, names) {
            return;
        }
        assert!(
            Instant::now() < give_up,
            "never settled among {names:?}: {view}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await; // poll interval
    }
}

/// The membership epoch of node `name`, as the cluster view shows it.
async fn member_epoch(node: &Proc, token: &str, name: &str) -> u64 {
    let view = node.get(token, "/api/v1/cluster").await;
    view["members"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["name"] == name))
        .and_then(|m| m["epoch"].as_u64())
        .unwrap_or_else(|| panic!("no membership epoch for {name}: {view}"))
}

/// Node `i`, while it runs.
fn at(nodes: &[Option<Proc>], i: usize) -> &Proc {
    nodes[i].as_ref().expect("a running node")
}

/// The lease rows of the cluster view: key -> holder's node name, live ones only.
pub(crate) async fn holders(node: &Proc, token: &str) -> BTreeMap<String, String> {
    live_holders(&node.get(token, "/api/v1/cluster").await)
}

/// Where `body`'s customers, agents and queues run, as node `node` answers
/// `POST /api/v1/cluster/locate`.
pub(crate) async fn locate(node: &Proc, token: &str, body: Value) -> Value {
    let (status, found) = node
        .send_json(token, "POST", "/api/v1/cluster/locate", body)
        .await;
    assert_eq!(status, 200, "{found}");
    found
}

/// The live lease rows of a cluster view: key -> holder's node name.
pub(crate) fn live_holders(view: &Value) -> BTreeMap<String, String> {
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

/// Waits until every key of `expected` is held by a live member and all three nodes
/// hold some; returns who holds what.
async fn settled(node: &Proc, token: &str, expected: &[String]) -> BTreeMap<String, String> {
    let give_up = Instant::now() + WAIT;
    loop {
        let h = holders(node, token).await;
        let all = expected.iter().all(|k| h.contains_key(k));
        let owners: std::collections::BTreeSet<&String> =
            expected.iter().filter_map(|k| h.get(k)).collect();
        if all && owners.len() == 3 {
            return h;
        }
        assert!(Instant::now() < give_up, "placement never settled: {h:?}");
        tokio::time::sleep(Duration::from_millis(100)).await; // poll interval
    }
}

/// The node (other than node-b, which holds the agent's socket) running the customer's
/// actor, else the queue's, else node-a.
fn busiest(placed: &BTreeMap<String, String>, customer_key: &str) -> String {
    [customer_key, "queue/general"]
        .iter()
        .filter_map(|k| placed.get(*k))
        .find(|n| n.as_str() != "node-b")
        .cloned()
        .unwrap_or_else(|| "node-a".into())
}

/// Sends customer message `i` to the nodes from `first` on, one after another, until
/// one acknowledges it; returns the event id and the node that did.
pub(crate) async fn say(nodes: &[&Proc], first: usize, token: &str, i: usize) -> (String, usize) {
    let (text, id) = (format!("m{i}"), format!("spread-{i}"));
    say_as(nodes, first, token, "+818055501234", &text, &id).await
}

/// [`say`] for the SMS customer at `address`: `text` with `client_msg_id` `id`.
pub(crate) async fn say_as(
    nodes: &[&Proc],
    first: usize,
    token: &str,
    address: &str,
    text: &str,
    id: &str,
) -> (String, usize) {
    let body = json!({"channel": "sms", "address": address,
                      "text": text, "client_msg_id": id});
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

/// The agent's socket on `node`, available, with what its welcome listed. A socket
/// refused at the handshake (the agent's shard between owners) or asked to reconnect
/// before it is ready (its actor moved again meanwhile) is opened again after a short
/// wait, as the web client does. Pushes before the welcome are not counted: the
/// welcome lists the conversations' recent messages.
pub(crate) async fn agent_on(node: &Proc, token: &str) -> (Client, Value) {
    use tokio_tungstenite::tungstenite::Message;
    let url = node.ws_url(&format!("/ws/agent?token={token}"));
    let give_up = Instant::now() + MESSAGE_WAIT;
    'again: loop {
        assert!(
            Instant::now() < give_up,
            "the agent never got a steady socket"
        );
        tokio::time::sleep(Duration::from_millis(50)).await; // the client's reconnect back-off
        let Ok((ws, _)) = tokio_tungstenite::connect_async(&url).await else {
            continue;
        };
        let mut c = Client::from_stream(ws);
        let mut welcome = None;
        loop {
            let m: Value = match c.next_frame().await {
                Some(Message::Text(t)) => serde_json::from_str(&t).expect("JSON"),
                Some(Message::Close(_)) | None => continue 'again,
                Some(_) => continue,
            };
            match m["type"].as_str() {
                Some("reconnect") => continue 'again,
                Some("welcome") => {
                    welcome = Some(m);
                    c.send(json!({"type": "set_status", "status": "available"}))
                        .await;
                }
                Some("status") => {
                    if let Some(w) = welcome.take() {
                        return (c, w);
                    }
                }
                _ => {}
            }
        }
    }
}

/// Texts of the customer messages a welcome lists in the agent's conversations.
pub(crate) fn welcome_texts(welcome: &Value) -> Vec<String> {
    welcome["conversations"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["recent"].as_array().cloned().unwrap_or_default())
        .filter(|e| e["type"] == "message_in")
        .filter_map(|e| e["text"].as_str().map(str::to_owned))
        .collect()
}

/// The agent's socket and what reached it: customer messages pushed (counted), and
/// those a welcome listed after a reconnect.
pub(crate) struct Watch {
    pub(crate) client: Client,
    pub(crate) token: String,
    pub(crate) pushed: BTreeMap<String, usize>,
    pub(crate) listed: Vec<String>,
}

impl Watch {
    /// Reads the socket until message `text` arrives (pushed, or listed by a welcome:
    /// the one a socket that followed the agent's actor to another node gets, or the
    /// one after a reconnect to `home`, which the engine asks for when a push to the
    /// socket was lost).
    pub(crate) async fn until_seen(&mut self, home: &Proc, text: &str) {
        let give_up = Instant::now() + MESSAGE_WAIT;
        while !self.pushed.contains_key(text) && !self.listed.iter().any(|t| t == text) {
            assert!(Instant::now() < give_up, "{text} never reached the agent");
            let m = self.client.next().await;
            match m["type"].as_str() {
                Some("event") if m["event"]["type"] == "message_in" => {
                    let t = m["event"]["text"].as_str().unwrap_or_default().to_owned();
                    *self.pushed.entry(t).or_default() += 1;
                }
                Some("reconnect") => {
                    let (c, welcome) = agent_on(home, &self.token).await;
                    self.client = c;
                    self.listed.extend(welcome_texts(&welcome));
                }
                // The socket followed the agent's actor to another node: its new
                // welcome lists the held conversations whole (and the socket sets
                // the agent available again).
                Some("welcome") => self.listed.extend(welcome_texts(&m)),
                _ => {}
            }
        }
    }
}

/// Customer messages `range`, each sent round `entry` until acknowledged (recorded in
/// `acked`) and then awaited at the agent; returns how long after `since` the first
/// was through.
async fn exchange(
    entry: &[&Proc],
    home: &Proc,
    admin: &str,
    agent: &mut Watch,
    range: std::ops::Range<usize>,
    acked: &mut BTreeMap<String, String>,
    since: Instant,
) -> Duration {
    let mut first = None;
    for i in range {
        let (event, _) = say(entry, i, admin, i).await;
        acked.insert(format!("m{i}"), event);
        agent.until_seen(home, &format!("m{i}")).await;
        first.get_or_insert(since.elapsed());
    }
    first.unwrap_or_default()
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
    let expected_keys = placed_keys();
    let placed = settled(at(&nodes, 0), &admin, &expected_keys).await;
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
    let listed = welcome_texts(&json!({"conversations": [assigned["conversation"]]}));
    let mut agent = Watch {
        client: agent,
        token: agent_token,
        pushed: BTreeMap::new(),
        listed,
    };
    let home = at(&nodes, 1);
    exchange(
        &all,
        home,
        &admin,
        &mut agent,
        1..10,
        &mut acked,
        Instant::now(),
    )
    .await;
    drop(all);

    let shard = switchboard::cluster::shard::ShardMap::new(SHARDS)
        .unwrap()
        .customer(switchboard::domain::CustomerId::parse(&customer).unwrap());
    let customer_key = format!("shard/{}", shard.0);

    // Pause that node (SIGSTOP) for longer than its lease: the others take its keys
    // and serve; a request it had in its socket while paused is not stored by it when
    // it wakes (it is past its deadline: refused, or passed on to the key's new owner);
    // it then rejoins and takes its share again.
    let paused_name = busiest(&placed, &customer_key);
    let paused = names.iter().position(|n| *n == paused_name).unwrap();
    let joined = member_epoch(at(&nodes, 1), &admin, &paused_name).await;
    println!("pausing {paused_name} (membership epoch {joined})");
    at(&nodes, paused).signal(libc::SIGSTOP);
    let paused_at = Instant::now();
    let zombie_http = test_http_client();
    let zombie_url = format!("{}/api/v1/inbound", at(&nodes, paused).base);
    let zombie_token = admin.clone();
    let in_hand = tokio::spawn(async move {
        let body = json!({"channel": "sms", "address": "+818055501234",
                          "text": "in-hand", "client_msg_id": "spread-in-hand"});
        let r = zombie_http
            .post(zombie_url)
            .bearer_auth(zombie_token)
            .json(&body)
            .send()
            .await
            .expect("the paused node answers once it wakes");
        let status = r.status().as_u16();
        (status, r.json::<Value>().await.unwrap_or(Value::Null))
    });
    let others: Vec<&Proc> = (0..3)
        .filter(|&i| i != paused)
        .map(|i| at(&nodes, i))
        .collect();
    let home = at(&nodes, 1);
    let during = exchange(
        &others,
        home,
        &admin,
        &mut agent,
        10..15,
        &mut acked,
        paused_at,
    )
    .await;
    println!("first message during the pause through {during:?} after it");
    drop(others);
    // The fault's length (not a synchronisation): past the lease and the skew bound.
    tokio::time::sleep(Duration::from_secs(6).saturating_sub(paused_at.elapsed())).await;
    at(&nodes, paused).signal(libc::SIGCONT);
    let (status, answer) = in_hand.await.expect("the in-hand request");
    match status {
        202 => {
            acked.insert(
                "in-hand".into(),
                answer["event_id"].as_str().unwrap().to_owned(),
            );
        }
        // Refused by its fence, or timed out by the HTTP server when the connection
        // was accepted just before the pause (its read deadline passed while it
        // slept): not stored either way, which the check below confirms.
        503 | 408 => {}
        other => panic!("the woken node answered {other}: {answer}"),
    }
    println!("the woken node answered the request it had in hand {status}: {answer}");
    let placed = settled(at(&nodes, 1), &admin, &expected_keys).await;
    // It joined anew: its membership's old epoch went with the keys it let go.
    let rejoined = member_epoch(at(&nodes, 1), &admin, &paused_name).await;
    assert!(
        rejoined > joined,
        "{paused_name} rejoined under membership epoch {rejoined}, not after {joined}"
    );
    let all: Vec<&Proc> = nodes.iter().flatten().collect();
    let home = at(&nodes, 1);
    exchange(
        &all,
        home,
        &admin,
        &mut agent,
        15..20,
        &mut acked,
        Instant::now(),
    )
    .await;
    drop(all);

    // Kill the node running the customer's actor (or the queue's, if that is node b,
    // which holds the agent's socket).
    let victim_name = busiest(&placed, &customer_key);
    let victim = names.iter().position(|n| *n == victim_name).unwrap();
    println!(
        "killing {victim_name} (customer's shard {customer_key} on {:?})",
        placed.get(&customer_key)
    );
    let killed_at = Instant::now();
    nodes[victim].take().unwrap().kill9();

    // The survivors serve the customer and the agent again; nothing acknowledged is lost.
    let survivors: Vec<&Proc> = nodes.iter().flatten().collect();
    let home = at(&nodes, 1);
    let served_again = exchange(
        &survivors,
        home,
        &admin,
        &mut agent,
        20..30,
        &mut acked,
        killed_at,
    )
    .await;
    println!(
        "first message after the kill acknowledged and at the agent {:?} after it",
        served_again
    );

    // The other survivor stops gracefully (SIGTERM): it hands its keys over as it
    // leaves, and node b alone serves everything.
    drop(survivors);
    let leaving = (0..3).find(|&i| i != 1 && nodes[i].is_some()).unwrap();
    let mut gone = nodes[leaving].take().unwrap();
    let stopped_at = Instant::now();
    gone.sigterm();
    let status = gone.exited().await;
    assert!(status.success(), "{} exited with {status}", names[leaving]);
    let home = at(&nodes, 1);
    let after_stop = exchange(
        &[home],
        home,
        &admin,
        &mut agent,
        30..40,
        &mut acked,
        stopped_at,
    )
    .await;
    println!(
        "first message after SIGTERM to {} acknowledged and at the agent {:?} after it",
        names[leaving], after_stop
    );
    let give_up = Instant::now() + WAIT;
    loop {
        let h = holders(at(&nodes, 1), &admin).await;
        let missing: Vec<&String> = expected_keys
            .iter()
            .filter(|k| h.get(*k).map(String::as_str) != Some("node-b"))
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < give_up,
            "not held by node-b alone: {missing:?} in {h:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await; // poll interval
    }

    // Every message reached the agent; none was pushed to it twice.
    for i in 0..40 {
        let text = format!("m{i}");
        assert!(
            i == 0 || agent.pushed.contains_key(&text) || agent.listed.contains(&text),
            "{text} never reached the agent"
        );
    }
    let twice: Vec<_> = agent.pushed.iter().filter(|(_, n)| **n > 1).collect();
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
    // The customer's and the conversation's rows were written under the customer's
    // shard's lease (docs/cluster.md, "Fenced rows"), at an epoch it was granted.
    for (table, column, id) in [
        ("customers", "customer_id", &customer),
        ("conversations", "conversation_id", &conversation),
    ] {
        let (key, epoch) = row_fence(&keyspace, table, column, id).await;
        assert_eq!(key.as_deref(), Some(customer_key.as_str()), "{table} {id}");
        assert!(
            epoch.is_some_and(|e| e >= 1),
            "{table} {id}: epoch {epoch:?}"
        );
    }
}

/// The lease a state row was last written under (`fence_key`, `fence_epoch`), read
/// with plain CQL.
async fn row_fence(
    keyspace: &str,
    table: &str,
    column: &str,
    id: &str,
) -> (Option<String>, Option<i64>) {
    let session = scylla::client::session_builder::SessionBuilder::new()
        .known_nodes(cql_contact_points())
        .build()
        .await
        .expect("a CQL session");
    let q = format!("SELECT fence_key, fence_epoch FROM {keyspace}.{table} WHERE {column} = {id}");
    let rows = session
        .query_unpaged(q, ())
        .await
        .expect("read the row's fence")
        .into_rows_result()
        .expect("rows");
    let mut rows = rows
        .rows::<(Option<String>, Option<i64>)>()
        .expect("typed rows");
    rows.next().expect("the row").expect("a typed row")
}

/// Every agent an `assigned` event of `conversation` names, read with plain CQL.
pub(crate) async fn assigned_agents(keyspace: &str, conversation: &str) -> Vec<String> {
    let mut agents: Vec<String> = crate::standby::stored_events(keyspace, "assigned")
        .await
        .iter()
        .filter(|e| e["conversation_id"] == conversation)
        .filter_map(|e| e["agent_id"].as_str().map(str::to_owned))
        .collect();
    agents.dedup();
    agents
}

/// The keyspace records the shard count (docs/cluster.md, "Spread placement"): a node
/// started with another count while a member runs is refused before it joins and
/// exits, naming both counts and the member; the member serves on. Once every node
/// has stopped, a node with the new count starts, records it, and holds every one of
/// its shards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_another_shard_count_is_refused_while_a_member_runs() {
    let dir = tempfile::tempdir().unwrap();
    let a = start(dir.path(), free_port(), "node-a");
    a.ready().await;
    let token = a.login("admin").await;
    let other = |name: &'static str| {
        [
            ("SWITCHBOARD_NODE_NAME", name),
            ("SWITCHBOARD_PLACEMENT", "spread"),
            ("SWITCHBOARD_SHARDS", "16"),
            ("SWITCHBOARD_CLUSTER_SECRET", SECRET),
        ]
    };
    let mut b = crate::process::spawn_logging(dir.path(), free_port(), &other("node-b"));
    let status = b.exited().await;
    let log = b.stderr_text();
    assert!(!status.success(), "{status}\n{log}");
    assert!(
        log.contains("cluster.shards is 16 here but 12 in this keyspace"),
        "{log}"
    );
    assert!(log.contains("node-a"), "{log}");
    // It never joined, and node-a still holds all twelve shards.
    let h = holders(&a, &token).await;
    assert!(
        !h.values().any(|n| n == "node-b")
            && (0..SHARDS).all(|s| h.contains_key(&format!("shard/{s}"))),
        "{h:?}"
    );

    let mut a = a;
    a.sigterm();
    assert!(a.exited().await.success());
    // Nobody runs with twelve: sixteen is recorded and placed.
    let c = spawn(dir.path(), free_port(), &other("node-c"));
    c.ready().await;
    let token = c.login("admin").await;
    let give_up = Instant::now() + WAIT;
    loop {
        let h = holders(&c, &token).await;
        if (0..16).all(|s| h.get(&format!("shard/{s}")).is_some_and(|n| n == "node-c")) {
            break;
        }
        assert!(Instant::now() < give_up, "sixteen shards never held: {h:?}");
        tokio::time::sleep(Duration::from_millis(100)).await; // poll interval
    }
}

/// Failed logins are counted once for the cluster (docs/security.md, "Login
/// throttling"): guesses at one account from one address, spread over two spread
/// nodes as a round-robin load balancer would, are refused 429 on both once their sum
/// reaches `security.login_failures_per_account` (5), where each node alone has seen
/// fewer. A real password is refused too then (the lock-out comes first), and another
/// account from the same address still gets its answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_counted_once_across_spread_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let a = start(dir.path(), free_port(), "node-a");
    a.ready().await;
    let token = a.login("admin").await;
    let b = start(dir.path(), free_port(), "node-b");
    b.ready().await;
    shared_by(&a, &token, 2).await;
    let http = test_http_client();
    let login = |node: &Proc, account: &str, password: &str| {
        let (url, http) = (format!("{}/api/v1/login", node.base), http.clone());
        let body = json!({"agent_id": account, "password": password});
        async move {
            let r = http.post(url).json(&body).send().await.expect("login");
            r.status().as_u16()
        }
    };
    let nodes = [&a, &b];
    for i in 0..5 {
        let status = login(nodes[i % 2], "admin", "wrong-password").await;
        assert_eq!(status, 401, "failure {} (node {})", i + 1, i % 2);
    }
    // Three failures on a, two on b: each alone is under the limit of five.
    for node in nodes {
        assert_eq!(login(node, "admin", "wrong-password").await, 429);
        assert_eq!(login(node, "admin", ADMIN_PASSWORD).await, 429);
    }
    assert_eq!(login(&b, "nobody-else", "wrong-password").await, 401);
}
