//! Node-to-node messages (`switchboard::peers`, `switchboard::peering`,
//! docs/cluster.md) between three nodes, each with its ownership loop on the embedded
//! store's coordination and its own HTTP server on a real socket:
//! - a message for a key reaches the key's owner, over HTTP when that is another node
//!   and with no wire when it is this one; typed messages (`Wire`) round-trip, a body
//!   of another type is refused before the handler runs, a reply of another type is
//!   reported as unreadable;
//! - a node that no longer owns a key answers `moved` naming the owner, and the message
//!   follows it;
//! - a peer's queue is bounded: one message more than it holds is refused at once,
//!   and the waiting ones are delivered once the peer answers; a handler that holds a
//!   message up holds up its key's lane only;
//! - a peer that never answers costs the caller its timeout, no more; a peer that is
//!   gone is `unreachable`; a sender's worker for a peer that ended with its runtime is
//!   replaced;
//! - the receiving route refuses requests without the cluster secret, oversized bodies
//!   and batches, requests naming another protocol version (or none), and bad JSON with
//!   typed errors, and does not act on an envelope past
//!   its deadline — the handlers never run for any of them;
//! - a push to a socket session held by another node (`actors::sessions`) arrives
//!   over HTTP, and one to a session that is gone — closed, from the node's earlier
//!   run, or on a node that is no longer a member — is reported gone to the sender.

use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use switchboard::actors::mail::Cluster;
use switchboard::actors::messages::{ChatNotice, ChatPush};
use switchboard::actors::sessions::{self, Pushed, SessionRef};
use switchboard::actors::Engine;
use switchboard::cluster::envelope::Owner;
use switchboard::cluster::NodeId;
use switchboard::peering::{PATH, PROTOCOL_HEADER};
use switchboard::peers::{PeerConfig, SendError, Wire};
use switchboard::store::coordination::{Coordination, LocalCoordination};

#[path = "support/peer_nodes.rs"]
mod peer_nodes;
use peer_nodes::*;

fn owner_record(n: &Node, epoch: u64) -> Owner {
    Owner {
        node: n.driver.node().clone(),
        address: n.address.clone(),
        epoch,
    }
}

async fn three(config: PeerConfig) -> (Node, Node, Node) {
    let coord: Arc<dyn Coordination> = Arc::new(LocalCoordination::default());
    let a = node(&coord, "a", config).await;
    let b = node(&coord, "b", config).await;
    let c = node(&coord, "c", config).await;
    (a, b, c)
}

#[actix_rt::test]
async fn a_message_reaches_the_keys_owner_here_or_over_http() {
    let metrics = switchboard::metrics::install();
    let (a, b, c) = three(PeerConfig::default()).await;
    let nodes = [&a, &b, &c];
    let owners = settled(&nodes).await;
    for n in nodes {
        for (key, owner) in &owners {
            let reply = n
                .peers
                .send(key, "echo", json!({"from": n.name}), WAIT)
                .await
                .unwrap_or_else(|e| panic!("{} -> {key}: {e}", n.name));
            assert_eq!(
                (&reply["node"], &reply["key"], &reply["body"]["from"]),
                (&json!(owner), &json!(key), &json!(n.name)),
                "{reply}"
            );
        }
    }
    // Each node's handler ran once per key it owns per sender.
    for n in nodes {
        let mine = owners.values().filter(|o| **o == n.name).count();
        assert!(mine > 0, "rendezvous gave {} nothing: {owners:?}", n.name);
        assert_eq!(n.handled.load(Ordering::SeqCst), 3 * mine, "{}", n.name);
    }
    // Requests between nodes are measured per peer (the dashboard's cluster row).
    let text = metrics.render();
    for n in nodes {
        for series in [
            "switchboard_peer_request_seconds_bucket",
            "switchboard_peer_queue_depth",
        ] {
            let labelled = format!("{series}{{peer=\"{}\"", n.address);
            assert!(text.contains(&labelled), "no {labelled} in:\n{text}");
        }
    }
    // A kind nobody handles is refused, typed.
    let key = owners.keys().next().unwrap();
    let e = a
        .peers
        .send(key, "nope", json!({}), WAIT)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, SendError::Refused { code, .. } if code == "unknown_kind"),
        "{e}"
    );
}

/// A typed message (`Wire`): a plain serde type with its kind and reply type.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Add {
    a: i64,
    b: i64,
}

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Sum {
    sum: i64,
    by: String,
}

impl Wire for Add {
    const KIND: &'static str = "add";
    type Reply = Sum;
}

/// The same kind read by a build that expects another reply.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct AddExpectingText {
    a: i64,
    b: i64,
}

impl Wire for AddExpectingText {
    const KIND: &'static str = "add";
    type Reply = String;
}

#[actix_rt::test]
async fn typed_messages_round_trip_and_a_body_of_another_type_is_refused() {
    let (a, b, c) = three(PeerConfig::default()).await;
    let nodes = [&a, &b, &c];
    let added = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for n in nodes {
        let (by, added) = (n.name.clone(), added.clone());
        n.peers.serve(move |_key, m: Add| {
            added.fetch_add(1, Ordering::SeqCst);
            let sum = Sum {
                sum: m.a + m.b,
                by: by.clone(),
            };
            async move { Ok(sum) }
        });
    }
    let owners = settled(&nodes).await;
    // Over HTTP to another owner, and here.
    for (key, owner) in &owners {
        let sum = a
            .peers
            .ask(key, &Add { a: 2, b: 40 }, WAIT)
            .await
            .unwrap_or_else(|e| panic!("{key}: {e}"));
        assert_eq!(
            sum,
            Sum {
                sum: 42,
                by: owner.clone()
            }
        );
    }
    let asked = added.load(Ordering::SeqCst);
    assert_eq!(asked, owners.len());
    // A body that is not an `Add`: refused, typed, and the handler never ran.
    let (key, _) = owners.iter().find(|(_, o)| *o == "b").unwrap();
    let e = a
        .peers
        .send(key, "add", json!({"a": "two"}), WAIT)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, SendError::Refused { code, message } if code == "bad_body" && message.contains("not a add message")),
        "{e}"
    );
    assert_eq!(added.load(Ordering::SeqCst), asked);
    // A reply of another type: acted on, and the sender says it could not read it.
    let e = a
        .peers
        .ask(key, &AddExpectingText { a: 1, b: 1 }, WAIT)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, SendError::BadReply { kind, .. } if kind == "add"),
        "{e}"
    );
    assert_eq!(added.load(Ordering::SeqCst), asked + 1);
}

#[actix_rt::test]
async fn a_node_that_does_not_own_the_key_names_the_owner_and_the_message_follows() {
    let (a, b, c) = three(PeerConfig::default()).await;
    let owners = settled(&[&a, &b, &c]).await;
    let (key, _) = owners.iter().find(|(_, o)| *o == "c").unwrap();
    // A believes B holds the key (a stale location): B answers `moved` with C's row,
    // and the message reaches C.
    let reply = a
        .peers
        .send_to(owner_record(&b, 1), key, "echo", json!({}), WAIT)
        .await
        .unwrap();
    assert_eq!(reply["node"], "c", "{reply}");
    assert_eq!(b.handled.load(Ordering::SeqCst), 0, "B never acts on it");

    // The same over the wire: B's answer names C, with C's address and epoch.
    let answers = post(
        &b,
        Some(SECRET),
        json!([envelope(1, key, 1, far(), "echo")]).to_string(),
    )
    .await
    .1;
    let moved = &answers[0];
    assert_eq!(moved["answer"], "moved", "{answers}");
    assert_eq!(moved["owner"]["node"]["name"], "c", "{answers}");
    assert_eq!(moved["owner"]["address"], c.address.as_str(), "{answers}");
    assert_eq!(b.handled.load(Ordering::SeqCst), 0);
}

#[actix_rt::test]
async fn a_full_peer_queue_refuses_at_once_and_the_waiting_messages_arrive() {
    // One envelope per request and two waiting: the fourth message is one too many.
    let config = PeerConfig {
        queue: 2,
        batch: 1,
        hops: 2,
        ..PeerConfig::default()
    };
    let (a, b, c) = three(config).await;
    let owners = settled(&[&a, &b, &c]).await;
    let (key, _) = owners.iter().find(|(_, o)| *o == "b").unwrap();
    // B's `hold` handler waits for a permit; it says when it started.
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let (entered_tx, mut entered) = tokio::sync::mpsc::unbounded_channel();
    b.peers.handle("hold", {
        let gate = gate.clone();
        Arc::new(move |_key, body| {
            let _ = entered_tx.send(body.clone());
            let gate = gate.clone();
            Box::pin(async move {
                gate.acquire().await.unwrap().forget();
                Ok(body)
            })
        })
    });
    let send = |n: u32| {
        let peers = a.peers.clone();
        let key = key.clone();
        async move { peers.send(&key, "hold", json!(n), WAIT).await }
    };
    // The first is in flight (B's handler holds it)…
    let first = actix_rt::spawn(send(1));
    assert_eq!(
        tokio::time::timeout(WAIT, entered.recv()).await.unwrap(),
        Some(json!(1))
    );
    // …two wait in A's queue for B (each queued on its first poll)…
    let mut second = Box::pin(send(2));
    let mut third = Box::pin(send(3));
    assert!(futures::poll!(&mut second).is_pending());
    assert!(futures::poll!(&mut third).is_pending());
    // …and one more is refused at once.
    let fourth = send(4).await.unwrap_err();
    assert_eq!(
        fourth,
        SendError::Overloaded {
            peer: b.address.clone()
        }
    );
    // B answers: every waiting message arrives, in the order sent.
    gate.add_permits(3);
    assert_eq!(first.await.unwrap().unwrap(), json!(1));
    assert_eq!(second.await.unwrap(), json!(2));
    assert_eq!(third.await.unwrap(), json!(3));
    let order: Vec<Value> = std::iter::from_fn(|| entered.try_recv().ok()).collect();
    assert_eq!(order, [json!(2), json!(3)]);
}

#[actix_rt::test]
async fn a_slow_handler_holds_up_its_own_lane_only() {
    // Two keys one peer owns, in different lanes of A's queues for it: while its
    // handler holds a message for the first, a message for the second is answered.
    // (With one lane per peer, the second waited for the first: a batch is answered
    // whole.)
    let config = PeerConfig::default();
    let (a, b, c) = three(config).await;
    let owners = settled(&[&a, &b, &c]).await;
    let lane = |k: &str| switchboard::peers::Peers::lane_of(k, config.lanes);
    let (peer, slow, fast) = [&b, &c]
        .into_iter()
        .find_map(|n| {
            let keys: Vec<&String> = owners
                .iter()
                .filter(|(_, o)| **o == n.name)
                .map(|(k, _)| k)
                .collect();
            let slow = keys.first()?;
            let fast = keys.iter().find(|k| lane(k) != lane(slow))?;
            Some((n, (*slow).clone(), (*fast).clone()))
        })
        .unwrap_or_else(|| panic!("no peer of a owns keys in two lanes: {owners:?}"));
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let (entered_tx, mut entered) = tokio::sync::mpsc::unbounded_channel();
    peer.peers.handle("hold", {
        let gate = gate.clone();
        Arc::new(move |_key, body| {
            let _ = entered_tx.send(body.clone());
            let gate = gate.clone();
            Box::pin(async move {
                gate.acquire().await.unwrap().forget();
                Ok(body)
            })
        })
    });
    let held = {
        let (peers, key) = (a.peers.clone(), slow.clone());
        actix_rt::spawn(async move { peers.send(&key, "hold", json!(1), WAIT).await })
    };
    assert_eq!(
        tokio::time::timeout(WAIT, entered.recv()).await.unwrap(),
        Some(json!(1))
    );
    // The handler still holds the first message: the second is answered regardless.
    let reply = a.peers.send(&fast, "echo", json!({}), WAIT).await.unwrap();
    assert_eq!(reply["node"], peer.name.as_str(), "{reply}");
    assert!(!held.is_finished(), "the held message was answered early");
    // A message for the held key's lane waits behind it, in order.
    let behind = {
        let (peers, key) = (a.peers.clone(), slow.clone());
        actix_rt::spawn(async move { peers.send(&key, "hold", json!(2), WAIT).await })
    };
    gate.add_permits(2);
    assert_eq!(held.await.unwrap().unwrap(), json!(1));
    assert_eq!(behind.await.unwrap().unwrap(), json!(2));
    assert_eq!(entered.recv().await, Some(json!(2)));
}

#[actix_rt::test]
async fn a_peer_worker_whose_runtime_ended_is_replaced() {
    let (a, b, c) = three(PeerConfig::default()).await;
    let owners = settled(&[&a, &b, &c]).await;
    let (key, _) = owners.iter().find(|(_, o)| *o == "b").unwrap();
    // The first message to B goes from a runtime of its own (as from a server's worker
    // thread), which then ends, and the peer's worker with it.
    let (peers, k) = (a.peers.clone(), key.clone());
    let first = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(peers.send(&k, "echo", json!({}), WAIT))
    })
    .join()
    .unwrap()
    .unwrap();
    assert_eq!(first["node"], "b");
    // The next message still gets there.
    let reply = a.peers.send(key, "echo", json!({}), WAIT).await.unwrap();
    assert_eq!(reply["node"], "b", "{reply}");
}

#[actix_rt::test]
async fn an_idle_peers_worker_stops_and_the_next_message_starts_another() {
    // The peers a node once talked to (earlier runs of nodes, on other addresses) must
    // not keep a queue and a worker each for ever.
    let config = PeerConfig {
        idle: Duration::from_millis(50),
        ..PeerConfig::default()
    };
    let (a, b, c) = three(config).await;
    let owners = settled(&[&a, &b, &c]).await;
    let (key, _) = owners.iter().find(|(_, o)| *o == "b").unwrap();
    let reply = a.peers.send(key, "echo", json!({}), WAIT).await.unwrap();
    assert_eq!(reply["node"], "b", "{reply}");
    assert_eq!(a.peers.workers(), 1);
    // Stops once idle (bounded wait, polled: the worker's exit has no event to await).
    let deadline = std::time::Instant::now() + WAIT;
    while a.peers.workers() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the idle worker stayed"
        );
        tokio::time::sleep(Duration::from_millis(5)).await; // poll interval
    }
    let reply = a
        .peers
        .send(key, "echo", json!({"again": true}), WAIT)
        .await
        .unwrap();
    assert_eq!(reply["node"], "b", "{reply}");
    assert_eq!(reply["body"]["again"], true, "{reply}");
}

#[actix_rt::test]
async fn a_silent_peer_costs_the_timeout_and_a_gone_one_is_unreachable() {
    let (a, b, c) = three(PeerConfig::default()).await;
    let owners = settled(&[&a, &b, &c]).await;
    let (key, _) = owners.iter().find(|(_, o)| *o == "c").unwrap();
    let epoch = c.driver.owns(key).unwrap();
    // A listener that accepts and never answers, where A believes the key's owner is.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap().to_string();
    let held = actix_rt::spawn(async move {
        let mut open = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            open.push(s);
        }
    });
    let mut owner = owner_record(&c, epoch);
    owner.address = silent_addr;
    let e = a
        .peers
        .send_to(owner, key, "echo", json!({}), Duration::from_millis(300))
        .await
        .unwrap_err();
    assert_eq!(e, SendError::Timeout { key: key.clone() });
    held.abort();

    // C's server stops (its loop still owns the key): connections are refused, and the
    // error says so (the quorum watch does not count a member nothing listens for).
    c.server.stop(false).await;
    let e = a
        .peers
        .send(key, "echo", json!({}), WAIT)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, SendError::Unreachable { peer, refused: true, .. } if *peer == c.address),
        "{e:?}"
    );
    assert_eq!(c.handled.load(Ordering::SeqCst), 0);
}

#[actix_rt::test]
async fn the_route_refuses_strangers_oversized_and_bad_requests_and_late_envelopes() {
    let (a, b, c) = three(PeerConfig::default()).await;
    let owners = settled(&[&a, &b, &c]).await;
    let (key, _) = owners.iter().find(|(_, o)| *o == "a").unwrap();
    let epoch = a.driver.owns(key).unwrap();
    let one = json!([envelope(1, key, epoch, far(), "echo")]).to_string();

    let (s, v) = post(&a, None, one.clone()).await;
    assert_eq!((s, v["code"].as_str()), (401, Some("unauthorized")), "{v}");
    let (s, v) = post(&a, Some("another-secret-of-the-same-size"), one.clone()).await;
    assert_eq!((s, v["code"].as_str()), (401, Some("unauthorized")), "{v}");
    // Another protocol version, or none named: refused before the body is read.
    for (protocol, named) in [(Some("2"), "the request speaks 2"), (None, "none")] {
        let (s, v) = post_speaking(&a, Some(SECRET), protocol, one.clone()).await;
        assert_eq!(
            (s, v["code"].as_str()),
            (409, Some("protocol_mismatch")),
            "{v}"
        );
        let message = v["message"].as_str().unwrap();
        assert!(
            message.contains("speaks node-to-node protocol 1"),
            "{message}"
        );
        assert!(message.contains(named), "{message}");
    }
    let (s, v) = post(&a, Some(SECRET), "{not json".into()).await;
    assert_eq!((s, v["code"].as_str()), (400, Some("bad_json")), "{v}");
    let many: Vec<Value> = (0..65)
        .map(|i| envelope(i, key, epoch, far(), "echo"))
        .collect();
    let (s, v) = post(&a, Some(SECRET), json!(many).to_string()).await;
    assert_eq!((s, v["code"].as_str()), (413, Some("too_large")), "{v}");
    let big = json!([{"id": 1, "pad": "x".repeat(MAX_BYTES)}]).to_string();
    let (s, v) = post(&a, Some(SECRET), big).await;
    assert_eq!((s, v["code"].as_str()), (413, Some("too_large")), "{v}");
    // Past its deadline: answered `expired`, not acted on.
    let late = json!([envelope(9, key, epoch, 1, "echo")]).to_string();
    let (s, v) = post(&a, Some(SECRET), late).await;
    assert_eq!(s, 200);
    assert_eq!(v, json!([{"answer": "expired", "id": 9}]));
    assert_eq!(a.handled.load(Ordering::SeqCst), 0);
    // The same envelope in time is acted on: the refusals above were not the handler's.
    let (s, v) = post(&a, Some(SECRET), one).await;
    assert_eq!((s, &v[0]["answer"]), (200, &json!("done")), "{v}");
    assert_eq!(a.handled.load(Ordering::SeqCst), 1);
}

/// A deadline an hour from now (wall-clock milliseconds).
fn far() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        + 3_600_000
}

fn envelope(id: u64, key: &str, epoch: u64, deadline: u64, kind: &str) -> Value {
    json!({"id": id, "from": {"name": "test", "incarnation": 1}, "key": key,
           "epoch": epoch, "deadline": deadline, "kind": kind, "body": {}})
}

/// A socket's stand-in: hands what it is pushed to the test.
struct Socket(tokio::sync::mpsc::UnboundedSender<ChatPush>);

impl actix::Actor for Socket {
    type Context = actix::Context<Self>;
}

impl actix::Handler<ChatPush> for Socket {
    type Result = ();
    fn handle(&mut self, msg: ChatPush, _: &mut actix::Context<Self>) {
        let _ = self.0.send(msg);
    }
}

/// An engine on `n` (its store in `dir`), in `n`'s cluster, answering pushes to the
/// sockets it holds.
fn engine_on(n: &Node, dir: &std::path::Path) -> Engine {
    let store = switchboard::store::embedded::EmbeddedStore::open(dir, Default::default())
        .expect("embedded store");
    let engine = Engine::new(
        Arc::new(store),
        Arc::new(switchboard::domain::SystemClock),
        Arc::new(switchboard_engine::settings::EngineSettings {
            actor_threads: 1,
            ..Default::default()
        }),
        switchboard::auth::TokenSigner::new([1; 32]),
        switchboard_engine::tombstones::TombstoneKey::new([2; 32]),
    );
    engine.set_cluster(Arc::new(Cluster {
        driver: n.driver.clone(),
        peers: n.peers.clone(),
        shards: switchboard::cluster::shard::ShardMap::new(4).unwrap(),
        timeout: WAIT,
        seat_check: WAIT,
    }));
    sessions::serve(&engine, &n.peers);
    engine
}

#[actix_rt::test]
async fn a_push_reaches_a_socket_on_another_node_and_a_gone_one_is_reported() {
    let (a, b, c) = three(PeerConfig::default()).await;
    settled(&[&a, &b, &c]).await;
    let dir = tempfile::tempdir().unwrap();
    let on_a = engine_on(&a, &dir.path().join("a"));
    let on_b = engine_on(&b, &dir.path().join("b"));
    let (pushed, mut socket) = tokio::sync::mpsc::unbounded_channel();
    let socket_actor = actix::Actor::start(Socket(pushed));
    let held = on_a.new_session();
    assert_eq!(held.node.as_ref(), Some(a.driver.node()));
    on_a.register_chat_session(&held, socket_actor.clone().recipient());
    // Each push's `gone` callback names it here.
    let (gone_tx, mut gone) = tokio::sync::mpsc::unbounded_channel();
    let gone_as = |what: &'static str| {
        let tx = gone_tx.clone();
        move || {
            let _ = tx.send(what);
        }
    };

    // From B: over HTTP to A's membership key, into the socket.
    let typing = || ChatNotice::AgentTyping;
    assert_eq!(
        on_b.push_chat(&held, typing(), gone_as("open")),
        Pushed::Forwarded
    );
    let got = tokio::time::timeout(WAIT, socket.recv()).await.unwrap();
    assert_eq!(got.map(|p| p.0), Some(typing()));

    // The socket closed: A answers gone, and B's callback runs.
    on_a.unregister_session(held.id);
    assert_eq!(
        on_b.push_chat(&held, typing(), gone_as("closed")),
        Pushed::Forwarded
    );
    let first = tokio::time::timeout(WAIT, gone.recv()).await.unwrap();
    assert_eq!(
        first,
        Some("closed"),
        "the open session was never reported gone"
    );

    // A ref from A's earlier run, naming the id of a socket open now: gone at once on
    // A, and reported gone to B — never delivered to the socket of this run.
    let open = on_a.new_session();
    on_a.register_chat_session(&open, socket_actor.recipient());
    let earlier = SessionRef {
        node: Some(NodeId {
            name: "a".into(),
            incarnation: 0,
        }),
        id: open.id,
    };
    assert_eq!(
        on_a.push_chat(&earlier, typing(), gone_as("unused")),
        Pushed::Gone
    );
    on_b.push_chat(&earlier, typing(), gone_as("earlier run"));
    let next = tokio::time::timeout(WAIT, gone.recv()).await.unwrap();
    assert_eq!(next, Some("earlier run"));

    // A node that is not a member (nobody holds its membership key): gone.
    let nowhere = SessionRef {
        node: Some(NodeId {
            name: "z".into(),
            incarnation: 1,
        }),
        id: 1,
    };
    on_b.push_chat(&nowhere, typing(), gone_as("no such node"));
    let next = tokio::time::timeout(WAIT, gone.recv()).await.unwrap();
    assert_eq!(next, Some("no such node"));
    assert!(
        socket.try_recv().is_err(),
        "nothing reached a closed socket or one of another run"
    );
    on_a.shutdown();
    on_b.shutdown();
}

/// POSTs `body` to `n`'s envelope route, with `secret` as the bearer token if given,
/// speaking this build's protocol.
async fn post(n: &Node, secret: Option<&str>, body: String) -> (u16, Value) {
    let ours = switchboard::cluster::envelope::PROTOCOL.to_string();
    post_speaking(n, secret, Some(&ours), body).await
}

/// [`post`] naming `protocol` in its header (none: no header).
async fn post_speaking(
    n: &Node,
    secret: Option<&str>,
    protocol: Option<&str>,
    body: String,
) -> (u16, Value) {
    let mut r = reqwest::Client::new()
        .post(format!("http://{}{PATH}", n.address))
        .header("content-type", "application/json")
        .body(body);
    if let Some(s) = secret {
        r = r.bearer_auth(s);
    }
    if let Some(p) = protocol {
        r = r.header(PROTOCOL_HEADER, p);
    }
    let r = r.send().await.unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}
