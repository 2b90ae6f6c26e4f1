//! Pushes lost between nodes are repaired (docs/cluster.md, "Events lost on the way
//! catch up" and "Pushes lost on the way resync the socket"): two spread engine
//! processes whose queue to each other holds three messages (`cluster.peer_queue =
//! 3`, `peer_batch = 1`), so that a burst of customers writing at once has the nodes
//! refuse each other's messages (`busy`) — the customers' events on their way to the
//! agent's actor and the actor's pushes on their way to the agent's socket among
//! them. Every message the engine acknowledged still reaches the agent, pushed once
//! or listed by the welcome of a socket told to reconnect; and the engines' metrics
//! show that pushes were lost and repaired, so the test tested what it names.
//!
//! And a welcome never leaves out a held conversation: when the customer's actor
//! cannot answer (its node paused), the agent's actor reads it from the store.

use crate::helpers::*;
use crate::process::{free_port, Proc};
use crate::spread::{agent_on, placed_keys, welcome_texts, Watch};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Customers writing at once, and the rounds they write.
const CUSTOMERS: usize = 10;
const ROUNDS: usize = 6;

fn start(dir: &std::path::Path, port: u16, name: &str, config: &std::path::Path) -> Proc {
    let config = config.to_str().unwrap();
    crate::spread::start_with(dir, port, name, &[("SWITCHBOARD_CONFIG", config)])
}

/// Customer `c`'s message `text`, sent to the nodes from `first` on until one
/// acknowledges it (a node refusing it — busy — changed nothing).
async fn say(nodes: &[&Proc], first: usize, token: &str, c: usize, text: String) {
    let (address, id) = (format!("+8180555{c:05}"), format!("lost-{text}"));
    crate::spread::say_as(nodes, first, token, &address, &text, &id).await;
}

/// The sum of a counter's series on a node, by `/metrics`.
async fn counter(node: &Proc, name: &str, label: &str) -> f64 {
    metrics_text(&node.http, &node.base)
        .await
        .lines()
        .filter(|l| l.starts_with(name) && l.contains(label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Reads the agent's socket, accepting every offer, until it holds `want`
/// conversations: assigned by a push, or listed by the welcome of a socket told to
/// reconnect (a push to it lost) or that followed the agent's actor to another node,
/// whose pending offers it accepts again.
async fn take_offers(agent: &mut Watch, home: &Proc, held: &mut BTreeSet<String>, want: usize) {
    let give_up = Instant::now() + crate::spread::MESSAGE_WAIT;
    while held.len() < want {
        assert!(Instant::now() < give_up, "the agent holds only {held:?}");
        // Up to `give_up`, not `WAIT`: an offer push lost is offered again only after
        // the orphan sweep (offer time-out plus its slack, 25 s).
        let m = agent.client.next_by(give_up).await;
        let offers = match m["type"].as_str() {
            Some("offer") => vec![m],
            Some("conversation_assigned") => {
                held.insert(m["conversation"]["id"].to_string());
                let listed = json!({"conversations": [m["conversation"]]});
                agent.listed.extend(welcome_texts(&listed));
                vec![]
            }
            Some("reconnect") => {
                let (c, welcome) = agent_on(home, &agent.token).await;
                agent.client = c;
                for conv in welcome["conversations"].as_array().into_iter().flatten() {
                    held.insert(conv["id"].to_string());
                }
                agent.listed.extend(welcome_texts(&welcome));
                welcome["offers"].as_array().cloned().unwrap_or_default()
            }
            // The socket followed the agent's actor to another node.
            Some("welcome") => {
                for conv in m["conversations"].as_array().into_iter().flatten() {
                    held.insert(conv["id"].to_string());
                }
                agent.listed.extend(welcome_texts(&m));
                m["offers"].as_array().cloned().unwrap_or_default()
            }
            _ => vec![],
        };
        for o in offers {
            agent
                .client
                .send(json!({"type": "accept", "offer_id": o["offer_id"]}))
                .await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledged_message_reaches_the_agent_when_the_nodes_refuse_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("lossy.toml");
    std::fs::write(&config, "[cluster]\npeer_queue = 3\npeer_batch = 1\n").unwrap();
    let a = start(dir.path(), free_port(), "node-a", &config);
    a.ready().await;
    let b = start(dir.path(), free_port(), "node-b", &config);
    b.ready().await;
    let admin = a.login("admin").await;

    // Every key held, by both nodes.
    let give_up = Instant::now() + WAIT;
    loop {
        let held = crate::spread::holders(&a, &admin).await;
        let owners: BTreeSet<&String> = held.values().collect();
        if placed_keys().iter().all(|k| held.contains_key(k)) && owners.len() == 2 {
            break;
        }
        assert!(
            Instant::now() < give_up,
            "placement never settled: {held:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await; // poll interval
    }

    // The agent works on node b and takes one conversation per customer: each offer
    // pushed, or listed by the welcome of a socket told to reconnect (a push lost).
    let capacity = json!({"capacity": {"voice": 1, "chat": 1, "email": 1, "messaging": CUSTOMERS}});
    let agent_token = b.agent(&admin, "lee", capacity).await;
    let (client, _) = agent_on(&b, &agent_token).await;
    let nodes = [&a, &b];
    let mut agent = Watch {
        client,
        token: agent_token,
        pushed: BTreeMap::new(),
        listed: Vec::new(),
    };
    let mut held = BTreeSet::new();
    for c in 0..CUSTOMERS {
        say(&nodes, c, &admin, c, format!("c{c}-hello")).await;
        take_offers(&mut agent, &b, &mut held, c + 1).await;
    }

    // Every customer writes at once, round after round, to both nodes.
    let mut texts = Vec::new();
    for r in 0..ROUNDS {
        let round: Vec<String> = (0..CUSTOMERS).map(|c| format!("c{c}-r{r}")).collect();
        let sends = round
            .iter()
            .enumerate()
            .map(|(c, t)| say(&nodes, c + r, &admin, c, t.clone()));
        futures_util::future::join_all(sends).await;
        texts.extend(round);
    }

    // Each one reaches the agent: pushed once, or listed after a reconnect.
    for t in &texts {
        agent.until_seen(&b, t).await;
    }
    let twice: Vec<(&String, &usize)> = agent.pushed.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "pushed to the agent twice: {twice:?}");

    // And pushes were lost on the way, and repaired.
    let (mut refused, mut repaired) = (0.0, 0.0);
    for n in nodes {
        refused += counter(n, "switchboard_peer_messages_total", "overloaded").await;
        repaired += counter(n, "switchboard_agent_catch_ups_total", "step=").await;
    }
    println!("refused {refused}, repaired {repaired}");
    assert!(
        refused > 0.0,
        "no node refused another's message: the burst did not test a lost push"
    );
    assert!(
        repaired > 0.0,
        "nothing was repaired, yet {refused} messages were refused"
    );
}

/// A welcome lists every conversation the agent holds, even one whose customer's actor
/// cannot answer: that customer's node is paused (SIGSTOP, well inside its lease)
/// while the agent reconnects on the other node, so the agent's actor reads the
/// conversation from the store. Left out of the welcome, what the customer wrote while
/// the agent was away would never reach the agent (the failover benchmark's lost
/// messages were this).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_welcome_lists_a_conversation_whose_customers_node_is_paused() {
    use switchboard::cluster::shard::ShardMap;
    use switchboard::domain::{AgentId, CustomerId};
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prompt.toml");
    // An ask to the paused node gives up after 0.8 s: the pause stays far inside its
    // lease (3.25 s) and the other node's quorum-loss bound (3 s).
    std::fs::write(&config, "[cluster]\nactor_timeout_ms = 800\n").unwrap();
    let a = start(dir.path(), free_port(), "node-a", &config);
    a.ready().await;
    let b = start(dir.path(), free_port(), "node-b", &config);
    b.ready().await;
    let admin = a.login("admin").await;
    crate::spread::shared_by(&a, &admin, 2).await;
    let placed = crate::spread::holders(&a, &admin).await;
    let shards = ShardMap::new(crate::spread::SHARDS).unwrap();
    let node_of = |shard: u32| placed[&format!("shard/{shard}")].clone();

    // An agent whose actor runs on node b, working there.
    let name = (0..200)
        .map(|i| format!("kim{i}"))
        .find(|n| node_of(shards.agent(&AgentId::parse(n).unwrap()).0) == "node-b")
        .expect("an agent id placed on node b");
    let capacity = json!({"capacity": {"voice": 1, "chat": 1, "email": 1, "messaging": 40}});
    let token = b.agent(&admin, &name, capacity).await;
    let (mut agent, _) = agent_on(&b, &token).await;

    // Customers write until one's actor runs on node a; the agent takes each.
    let mut far = None;
    for c in 0..40 {
        let address = format!("+8180566{c:05}");
        let (text, id) = (format!("c{c}-hello"), format!("paused-{c}-hello"));
        crate::spread::say_as(&[&b], 0, &admin, &address, &text, &id).await;
        let offer = agent.expect("offer").await;
        agent
            .send(json!({"type": "accept", "offer_id": offer["offer_id"]}))
            .await;
        agent.expect("conversation_assigned").await;
        let customer = CustomerId::parse(offer["customer"]["id"].as_str().unwrap()).unwrap();
        if node_of(shards.customer(customer).0) == "node-a" {
            far = Some(address);
            break;
        }
    }
    let address = far.expect("a customer placed on node a");

    // The agent goes away; the customer writes meanwhile.
    drop(agent);
    crate::spread::say_as(&[&a], 0, &admin, &address, "while-away", "paused-away").await;

    // The customer's node pauses while the agent comes back on node b.
    a.signal(libc::SIGSTOP);
    let (_agent, welcome) = agent_on(&b, &token).await;
    a.signal(libc::SIGCONT);
    let texts = welcome_texts(&welcome);
    assert!(
        texts.iter().any(|t| t == "while-away"),
        "the welcome left out what the customer wrote while the agent was away: {texts:?}"
    );
}
