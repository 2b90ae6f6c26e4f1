//! Network partitions of spread placement (docs/cluster.md, "Spread placement"): three
//! engine processes, each in a network namespace of its own (`netns.rs`), on one
//! Cassandra keyspace; one node is cut off by routes in its namespace while it keeps
//! running — from the store but not its peers, or from its peers but not the store —
//! and the majority serves on.
//!
//! Each test settles placement (every key held by the node rendezvous names, each node
//! holding some), puts an agent on a node of the majority and a customer's
//! conversation with that agent, and sends the customer's messages continuously through
//! the majority's nodes (each resent with its id to the next node until one
//! acknowledges it, as `spread.rs` does). The node cut off is the one running the
//! customer's actor, so the takeover matters. While its keys move, every read of the
//! majority's view is followed by a read of the node's own lease gauges: no key may be
//! held by both at once.
//!
//! - **from the store**: it suspends at its own deadline (`/readyz` 503), the others
//!   take its keys once its leases lapse and serve the customer; healed, it is ready
//!   again, rejoins under a new membership epoch and takes its share back. The time from the cut to the first message
//!   acknowledged after the takeover is printed, not asserted.
//! - **from its peers** (`switchboard_engine::quorum`, `cluster.quorum_loss_ms`): it
//!   reaches only a strict minority of the live members and **stands aside** — releases
//!   its keys and its membership (the others take them at their next round, without a
//!   lease to wait out), `/readyz` 503, "standing aside" in its log — and the majority's
//!   view never lists it as live meanwhile; healed, it rejoins under a new membership
//!   epoch and takes its share back.
//!
//! Afterwards an independent check reads the keyspace with plain CQL: every
//! acknowledged message stored exactly once and nothing else, the conversation assigned
//! to that agent only; the agent saw every message, none pushed twice; and no lease
//! (key, epoch) was ever seen with two holders, nor a key's epoch going back, in any
//! lease row read during the test (the cluster views') or at the end (the table).
//!
//! The two tests run one at a time (six engines and Cassandra on a small machine would
//! starve the leases they test).

use crate::helpers::*;
use crate::netns::Net;
use crate::process::Proc;
use crate::spread::{
    agent_on, assigned_agents, live_holders, placed_as_wished, say, welcome_texts, Watch,
    MESSAGE_WAIT, SECRET, SHARDS,
};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const NAMES: [&str; 3] = ["node-a", "node-b", "node-c"];
/// The longest any one awaited state may take (a failure bound, not a measurement).
const BOUND: Duration = Duration::from_secs(30);
/// The customer's pace: one message, acknowledged and at the agent, then this pause.
const PACE: Duration = Duration::from_millis(200);
/// A node standing aside releases its keys: the others take them at their next round
/// (`lease_poll_ms`, 250 ms). Letting them lapse instead would take at least
/// `lease_ttl_ms + clock_skew_ms` (3.25 s) after its last renewal.
const TAKEN_AFTER_RELEASE: Duration = Duration::from_secs(3);

/// A node cut off from its peers stands aside within `cluster.quorum_loss_ms` (3 s)
/// of its last answer from a majority, noticed by pings every `quorum_check_ms` (1 s)
/// that may each wait `peer_ping_timeout_ms` (1 s): a failure bound with slack for a
/// loaded machine.
const STANDS_ASIDE_WITHIN: Duration = Duration::from_secs(8);

/// One partition test at a time in this process.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Every lease row read during a test, in the order read: (key, holder, epoch).
#[derive(Default)]
struct Leases(Vec<(String, String, u64)>);

impl Leases {
    fn record_view(&mut self, view: &Value) {
        for l in view["leases"].as_array().expect("leases") {
            self.0.push((
                l["key"].as_str().expect("key").to_owned(),
                l["holder"].as_str().expect("holder").to_owned(),
                l["epoch"].as_u64().expect("epoch"),
            ));
        }
    }

    /// No (key, epoch) with two holders; per key, the epoch never went down.
    fn check(&self) {
        let mut holder: BTreeMap<(&str, u64), &str> = BTreeMap::new();
        let mut last: BTreeMap<&str, u64> = BTreeMap::new();
        for (key, h, epoch) in &self.0 {
            let first = *holder.entry((key, *epoch)).or_insert(h);
            assert_eq!(first, h, "{key} under epoch {epoch} held by two nodes");
            let before = last.insert(key, *epoch).unwrap_or(0);
            assert!(
                before <= *epoch,
                "{key}'s epoch went from {before} to {epoch}"
            );
        }
        println!(
            "lease rows checked: {} reads of {} keys",
            self.0.len(),
            last.len()
        );
    }
}

/// The lease rows in the keyspace's table, read with plain CQL: (key, holder, epoch).
async fn stored_leases(keyspace: &str) -> Vec<(String, String, u64)> {
    let session = scylla::client::session_builder::SessionBuilder::new()
        .known_nodes(cql_contact_points())
        .build()
        .await
        .expect("a CQL session");
    let rows = session
        .query_unpaged(
            format!(
                "SELECT key, holder, epoch FROM {keyspace}.cluster_leases WHERE cluster = 'leases'"
            ),
            (),
        )
        .await
        .expect("read the lease rows")
        .into_rows_result()
        .expect("rows");
    rows.rows::<(String, Option<String>, Option<i64>)>()
        .expect("typed rows")
        .map(|r| {
            let (key, holder, epoch) = r.expect("a row");
            let epoch = u64::try_from(epoch.unwrap_or(0)).expect("a positive epoch");
            (key, holder.unwrap_or_default(), epoch)
        })
        .collect()
}

/// Node `name`'s membership epoch, read with plain CQL.
async fn membership_epoch(keyspace: &str, name: &str) -> u64 {
    let key = format!("node/{name}");
    stored_leases(keyspace)
        .await
        .into_iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, _, e)| e)
        .unwrap_or_else(|| panic!("no row {key}"))
}

/// The customer's messages so far.
#[derive(Default)]
struct Progress {
    /// Text -> event id of every acknowledged message.
    acked: BTreeMap<String, String>,
    /// Per message: when it was first sent, when acknowledged, when at the agent.
    times: Vec<(Instant, Instant, Instant)>,
    stop: bool,
}

/// Sends the customer's messages m1, m2, … through `entry` (each resent to the next
/// node until acknowledged) and waits for each at the agent, until told to stop.
async fn traffic(
    entry: &[&Proc],
    home: &Proc,
    admin: &str,
    agent: &mut Watch,
    progress: &Mutex<Progress>,
) {
    for i in 1.. {
        if progress.lock().unwrap().stop {
            return;
        }
        let text = format!("m{i}");
        let sent = Instant::now();
        let (event, _) = say(entry, i, admin, i).await;
        let acked = Instant::now();
        progress.lock().unwrap().acked.insert(text.clone(), event);
        agent.until_seen(home, &text).await;
        progress
            .lock()
            .unwrap()
            .times
            .push((sent, acked, Instant::now()));
        tokio::time::sleep(PACE).await; // the customer's pace, not a synchronisation
    }
}

/// Waits until `n` messages were acknowledged and reached the agent since `since`.
async fn flowing(progress: &Mutex<Progress>, since: Instant, n: usize, what: &str) {
    let give_up = Instant::now() + MESSAGE_WAIT;
    loop {
        let through = progress
            .lock()
            .unwrap()
            .times
            .iter()
            .filter(|(_, acked, _)| *acked >= since)
            .count();
        if through >= n {
            return;
        }
        assert!(Instant::now() < give_up, "messages stopped flowing {what}");
        tokio::time::sleep(Duration::from_millis(50)).await; // poll interval
    }
}

/// Whether the view lists `name` as a live member.
fn live_member(view: &Value, name: &str) -> bool {
    view["members"]
        .as_array()
        .expect("members")
        .iter()
        .any(|m| m["name"] == name && m["live"] == true)
}

/// The three nodes, the admin's token and every lease row read.
struct Cluster {
    dir: tempfile::TempDir,
    nodes: Vec<Proc>,
    admin: String,
    leases: Mutex<Leases>,
}

/// A failed test shows what the engines logged (their directory goes with the test).
impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for (i, name) in NAMES.iter().enumerate() {
                let log = Net::log(self.dir.path(), i);
                let tail: Vec<&str> = log.lines().rev().take(80).collect();
                eprintln!("--- {name}'s log, last {} lines:", tail.len());
                for line in tail.into_iter().rev() {
                    eprintln!("{line}");
                }
            }
        }
    }
}

impl Cluster {
    async fn start(net: &Net) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let shards = SHARDS.to_string();
        let spawn = |i: usize| {
            net.spawn(
                i,
                dir.path(),
                &[
                    ("SWITCHBOARD_NODE_NAME", NAMES[i]),
                    ("SWITCHBOARD_PLACEMENT", "spread"),
                    ("SWITCHBOARD_SHARDS", &shards),
                    ("SWITCHBOARD_CLUSTER_SECRET", SECRET),
                ],
            )
        };
        // The first creates the keyspace and the admin; the others join it.
        let mut nodes = vec![spawn(0)];
        until_readyz(&nodes[0], dir.path(), 0, 200, BOUND * 2).await;
        nodes.push(spawn(1));
        nodes.push(spawn(2));
        for (i, n) in nodes.iter().enumerate() {
            until_readyz(n, dir.path(), i, 200, BOUND * 2).await;
        }
        let admin = nodes[0].login("admin").await;
        Cluster {
            dir,
            nodes,
            admin,
            leases: Mutex::default(),
        }
    }

    fn keyspace(&self) -> String {
        cql_keyspace(self.dir.path())
    }

    /// Node `i`'s cluster view, its lease rows recorded.
    async fn view(&self, i: usize) -> Value {
        let view = self.nodes[i].get(&self.admin, "/api/v1/cluster").await;
        self.leases.lock().unwrap().record_view(&view);
        view
    }

    /// Reads node `i`'s view until `done` (bounded).
    async fn until_view(&self, i: usize, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let give_up = Instant::now() + BOUND;
        loop {
            let view = self.view(i).await;
            if done(&view) {
                return view;
            }
            assert!(Instant::now() < give_up, "never {what}: {view}");
            tokio::time::sleep(Duration::from_millis(100)).await; // poll interval
        }
    }
}

/// Placement settled: every placed key held by the live member rendezvous names
/// among all three (`cluster::placement`; so the holders stay put until a fault), each
/// of the three holding some.
fn settled(view: &Value) -> bool {
    let owners: BTreeSet<String> = live_holders(view).into_values().collect();
    placed_as_wished(view, &NAMES) && owners.len() == 3
}

/// Polls node `i`'s `/readyz` until it answers `status` (bounded by `bound`); fails
/// with its log if it never does. Returns the answer.
async fn until_readyz(
    p: &Proc,
    dir: &std::path::Path,
    i: usize,
    status: u16,
    bound: Duration,
) -> Value {
    let give_up = Instant::now() + bound;
    loop {
        if let Some((s, body)) = p.readyz().await {
            if s == status {
                return body;
            }
        }
        assert!(
            Instant::now() < give_up,
            "{} never answered /readyz {status}; its log:\n{}",
            NAMES[i],
            Net::log(dir, i)
        );
        tokio::time::sleep(Duration::from_millis(50)).await; // poll interval
    }
}

/// What a test sets up before its fault: the node to cut off (running the customer's
/// actor), the majority, and the agent's conversation with the customer.
struct Scene {
    x: usize,
    majority: Vec<usize>,
    home: usize,
    agent: Watch,
    conversation: String,
    progress: Mutex<Progress>,
}

async fn scene(c: &Cluster) -> Scene {
    let view = c.until_view(0, "a settled placement", settled).await;
    let placed = live_holders(&view);
    println!("placement: {placed:?}");
    let all: Vec<&Proc> = c.nodes.iter().collect();
    let token = c.nodes[1].agent(&c.admin, "ana", json!({})).await;
    let (mut client, _) = agent_on(&c.nodes[1], &token).await;
    let (m0, _) = say(&all, 0, &c.admin, 0).await;
    let offer = client.expect("offer").await;
    let customer = offer["customer"]["id"].as_str().unwrap().to_owned();
    client
        .send(json!({"type": "accept", "offer_id": offer["offer_id"]}))
        .await;
    let assigned = client.expect("conversation_assigned").await;
    let conversation = assigned["conversation"]["id"].as_str().unwrap().to_owned();
    let mut listed = welcome_texts(&json!({"conversations": [assigned["conversation"]]}));

    let shard = switchboard::cluster::shard::ShardMap::new(SHARDS)
        .unwrap()
        .customer(switchboard::domain::CustomerId::parse(&customer).unwrap());
    let customer_key = format!("shard/{}", shard.0);
    let x_name = placed
        .get(&customer_key)
        .expect("the customer's shard held");
    let x = NAMES.iter().position(|n| n == x_name).unwrap();
    let majority: Vec<usize> = (0..3).filter(|&i| i != x).collect();
    // The agent's socket stays on a node of the majority.
    let home = if x == 1 { majority[0] } else { 1 };
    if home != 1 {
        drop(client);
        let (c2, welcome) = agent_on(&c.nodes[home], &token).await;
        client = c2;
        listed.extend(welcome_texts(&welcome));
    }
    println!(
        "customer's shard {customer_key} on {}: cut off {}; agent's socket on {}",
        NAMES[x], NAMES[x], NAMES[home]
    );
    let progress = Mutex::new(Progress::default());
    progress.lock().unwrap().acked.insert("m0".into(), m0);
    Scene {
        x,
        majority,
        home,
        agent: Watch {
            client,
            token,
            pushed: BTreeMap::new(),
            listed,
        },
        conversation,
        progress,
    }
}

/// The keys node `name` holds in `view`.
fn held_by(view: &Value, name: &str) -> BTreeSet<String> {
    live_holders(view)
        .into_iter()
        .filter(|(_, h)| h == name)
        .map(|(k, _)| k)
        .collect()
}

/// Every one of `keys` held by a live member other than `name`.
fn all_moved(view: &Value, keys: &BTreeSet<String>, name: &str) -> bool {
    let h = live_holders(view);
    keys.iter()
        .all(|k| h.get(k).is_some_and(|holder| holder != name))
}

/// The keys node `p` says it holds now (its `switchboard_lease_held` gauges at 1),
/// its membership included.
async fn held_here(p: &Proc) -> BTreeSet<String> {
    metrics_text(&p.http, &p.base)
        .await
        .lines()
        .filter_map(|l| l.strip_prefix("switchboard_lease_held{key=\""))
        .filter_map(|l| l.split_once("\"}"))
        .filter(|(_, v)| v.trim() == "1")
        .map(|(k, _)| k.to_owned())
        .collect()
}

/// Reads the watcher's view and node `x`'s own gauges, in that order, until every key
/// of `x_keys` is held by another live member; at every read, no key the view shows
/// held by another node may still be held by `x` (read after it: no double
/// ownership), and `each` sees the view. Returns when that was, and when `x` was
/// first seen holding not even its membership.
async fn until_moved(
    c: &Cluster,
    watcher: usize,
    x: usize,
    x_keys: &BTreeSet<String>,
    each: impl Fn(&Value),
) -> (Instant, Option<Instant>) {
    let name = NAMES[x];
    let membership = format!("node/{name}");
    let give_up = Instant::now() + BOUND;
    let mut let_go = None;
    loop {
        let view = c.view(watcher).await;
        each(&view);
        let here = held_here(&c.nodes[x]).await;
        if !here.contains(&membership) {
            let_go.get_or_insert_with(Instant::now);
        }
        let both: Vec<_> = live_holders(&view)
            .into_iter()
            .filter(|(k, h)| h != name && here.contains(k))
            .collect();
        assert!(both.is_empty(), "held by {name} and another: {both:?}");
        if all_moved(&view, x_keys, name) {
            return (Instant::now(), let_go);
        }
        assert!(
            Instant::now() < give_up,
            "{name}'s keys never all held by the others: {view}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await; // poll interval
    }
}

/// The independent check at the end: the agent's socket, the stored messages and
/// assignments (plain CQL), and the lease rows.
async fn check(c: &Cluster, s: &Scene) {
    let acked = std::mem::take(&mut s.progress.lock().unwrap().acked);
    for text in acked.keys().filter(|t| *t != "m0") {
        assert!(
            s.agent.pushed.contains_key(text) || s.agent.listed.contains(text),
            "{text} never reached the agent"
        );
    }
    let twice: Vec<_> = s.agent.pushed.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "pushed more than once: {twice:?}");
    let mut expected: Vec<String> = acked.values().cloned().collect();
    expected.sort();
    let keyspace = c.keyspace();
    let stored = crate::standby::stored_message_events(&keyspace).await;
    assert_eq!(stored, expected, "stored vs acknowledged");
    assert_eq!(
        assigned_agents(&keyspace, &s.conversation).await,
        vec!["ana".to_owned()],
        "who the conversation was assigned to"
    );
    let rows = stored_leases(&keyspace).await;
    let mut leases = c.leases.lock().unwrap();
    leases.0.extend(rows);
    leases.check();
    println!(
        "{} messages acknowledged, stored once each, all at the agent",
        expected.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_cut_off_from_the_store_suspends_and_the_others_serve() {
    let _one = ONE_AT_A_TIME.lock().await;
    let started = Instant::now();
    let mut net = Net::new(3).await;
    let c = Cluster::start(&net).await;
    let mut s = scene(&c).await;
    let (x, x_name) = (s.x, NAMES[s.x]);
    let watcher = s.majority[0];
    let entry: Vec<&Proc> = s.majority.iter().map(|&i| &c.nodes[i]).collect();
    let home = &c.nodes[s.home];
    let (agent, progress) = (&mut s.agent, &s.progress);

    let scenario = async {
        flowing(progress, started, 3, "before the partition").await;
        let x_keys = held_by(&c.view(watcher).await, x_name);
        assert!(!x_keys.is_empty(), "{x_name} holds nothing");
        let here = held_here(&c.nodes[x]).await;
        assert!(
            here.contains(&format!("node/{x_name}")) && !here.is_disjoint(&x_keys),
            "{x_name}'s own gauges before the cut: {here:?}"
        );

        let epoch_before = membership_epoch(&c.keyspace(), x_name).await;
        net.partition_from_store(x);
        let cut = Instant::now();
        println!("{x_name} cut off from the store");
        // It cannot renew: at its own deadline it suspends (not ready), still running.
        let body = until_readyz(&c.nodes[x], c.dir.path(), x, 503, BOUND).await;
        println!(
            "{x_name} not ready {:?} after the cut: {body}",
            cut.elapsed()
        );
        // At its own deadline it lets go of everything; once its leases lapsed, the
        // others hold every key it held, never while it still held one.
        let (moved, let_go) = until_moved(&c, watcher, x, &x_keys, |_| {}).await;
        let let_go = let_go.expect("it let go of its membership before its keys moved");
        println!(
            "{x_name} let go of its membership (suspended) {:?} after the cut; \
             its keys held by the others {:?} after the cut",
            let_go - cut,
            moved - cut
        );
        flowing(progress, moved, 3, "with the node cut off").await;
        let first = progress
            .lock()
            .unwrap()
            .times
            .iter()
            .filter(|(sent, _, _)| *sent >= cut)
            .map(|(_, acked, _)| *acked - cut)
            .min();
        println!(
            "first message sent after the cut acknowledged {first:?} after it \
             ({x_name}'s keys seen moved {:?} after it)",
            moved - cut
        );

        net.heal(x);
        let healed = Instant::now();
        until_readyz(&c.nodes[x], c.dir.path(), x, 200, BOUND * 2).await;
        println!("{x_name} ready again {:?} after the heal", healed.elapsed());
        c.until_view(watcher, &format!("{x_name} holding its share again"), |v| {
            settled(v) && !held_by(v, x_name).is_empty()
        })
        .await;
        println!(
            "{x_name} holds its share again {:?} after the heal",
            healed.elapsed()
        );
        // It joined anew: the membership whose deadline passed is not renewed under
        // its old epoch (every key went with it).
        let epoch_after = membership_epoch(&c.keyspace(), x_name).await;
        assert!(
            epoch_after > epoch_before,
            "{x_name} rejoined under membership epoch {epoch_after}, joined under {epoch_before}"
        );
        flowing(progress, Instant::now(), 3, "after the heal").await;
        progress.lock().unwrap().stop = true;
    };
    tokio::join!(traffic(&entry, home, &c.admin, agent, progress), scenario);
    drop(entry);
    check(&c, &s).await;
    println!("test took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_cut_off_from_its_peers_stands_aside_and_the_others_serve() {
    let _one = ONE_AT_A_TIME.lock().await;
    let started = Instant::now();
    let mut net = Net::new(3).await;
    let c = Cluster::start(&net).await;
    let mut s = scene(&c).await;
    let (x, x_name) = (s.x, NAMES[s.x]);
    let watcher = s.majority[0];
    let entry: Vec<&Proc> = s.majority.iter().map(|&i| &c.nodes[i]).collect();
    let home = &c.nodes[s.home];
    let (agent, progress) = (&mut s.agent, &s.progress);

    let scenario = async {
        flowing(progress, started, 3, "before the partition").await;
        let x_keys = held_by(&c.view(watcher).await, x_name);
        assert!(!x_keys.is_empty(), "{x_name} holds nothing");
        let here = held_here(&c.nodes[x]).await;
        assert!(
            here.contains(&format!("node/{x_name}")) && !here.is_disjoint(&x_keys),
            "{x_name}'s own gauges before the cut: {here:?}"
        );
        let epoch_before = membership_epoch(&c.keyspace(), x_name).await;

        net.partition_from_peers(x);
        let cut = Instant::now();
        println!("{x_name} cut off from its peers");
        // Within cluster.quorum_loss_ms (3 s; pings every quorum_check_ms, 1 s) it sees
        // no majority of the live members answer, and stands aside.
        let give_up = cut + STANDS_ASIDE_WITHIN;
        while !Net::log(c.dir.path(), x).contains("standing aside") {
            assert!(
                Instant::now() < give_up,
                "{x_name} never logged standing aside; its log:\n{}",
                Net::log(c.dir.path(), x)
            );
            tokio::time::sleep(Duration::from_millis(50)).await; // poll interval
        }
        let aside = Instant::now();
        println!("{x_name} standing aside {:?} after the cut", aside - cut);
        let body = until_readyz(&c.nodes[x], c.dir.path(), x, 503, BOUND).await;
        println!("{x_name} not ready: {body}");
        // It released its membership: gone from the majority's live members.
        c.until_view(
            watcher,
            &format!("{x_name} gone from the live members"),
            |v| !live_member(v, x_name),
        )
        .await;
        println!(
            "{x_name} no longer a live member {:?} after the cut",
            cut.elapsed()
        );
        // And its keys: the others take them at their next round, no lapse waited out,
        // never while it still held one.
        let (moved, _) = until_moved(&c, watcher, x, &x_keys, |v| {
            assert!(
                !live_member(v, x_name),
                "{x_name} live again while aside: {v}"
            );
        })
        .await;
        println!(
            "{x_name}'s keys held by the others {:?} after the cut, {:?} after it stood aside",
            moved - cut,
            moved - aside
        );
        assert!(
            moved - aside < TAKEN_AFTER_RELEASE,
            "{x_name}'s keys moved {:?} after it stood aside: released, or left to lapse?",
            moved - aside
        );
        // The majority serves; the node stays aside, never a live member meanwhile.
        let serving = Instant::now();
        loop {
            let view = c.view(watcher).await;
            assert!(
                !live_member(&view, x_name),
                "{x_name} live while aside: {view}"
            );
            let ready = c.nodes[x].readyz().await.map(|(st, _)| st);
            assert_eq!(
                ready,
                Some(503),
                "{x_name} ready while cut off from its peers"
            );
            let through = progress
                .lock()
                .unwrap()
                .times
                .iter()
                .filter(|(_, acked, _)| *acked >= serving)
                .count();
            if through >= 3 {
                break;
            }
            assert!(
                serving.elapsed() < MESSAGE_WAIT,
                "messages stopped flowing with {x_name} aside"
            );
            tokio::time::sleep(Duration::from_millis(100)).await; // poll interval
        }
        let first = progress
            .lock()
            .unwrap()
            .times
            .iter()
            .filter(|(sent, _, _)| *sent >= cut)
            .map(|(_, acked, _)| *acked - cut)
            .min();
        println!("first message sent after the cut acknowledged {first:?} after it");

        // Healed: once a majority answered for quorum_regain_ms (2 s) it rejoins under
        // a new membership epoch and takes its share back.
        net.heal(x);
        let healed = Instant::now();
        until_readyz(&c.nodes[x], c.dir.path(), x, 200, BOUND * 2).await;
        println!("{x_name} ready again {:?} after the heal", healed.elapsed());
        c.until_view(watcher, &format!("{x_name} holding its share again"), |v| {
            settled(v) && live_member(v, x_name) && !held_by(v, x_name).is_empty()
        })
        .await;
        println!(
            "{x_name} holds its share again {:?} after the heal",
            healed.elapsed()
        );
        let epoch_after = membership_epoch(&c.keyspace(), x_name).await;
        assert!(
            epoch_after > epoch_before,
            "{x_name} rejoined under membership epoch {epoch_after}, joined under {epoch_before}"
        );
        flowing(progress, Instant::now(), 3, "after the heal").await;
        progress.lock().unwrap().stop = true;
    };
    tokio::join!(traffic(&entry, home, &c.admin, agent, progress), scenario);
    drop(entry);
    check(&c, &s).await;
    println!("test took {:?}", started.elapsed());
}
