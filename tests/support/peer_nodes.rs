//! Nodes for node-to-node message tests and benchmarks (`tests/peers.rs`,
//! `benches/peers.rs`): each with its ownership loop on a shared embedded-store
//! coordination, its `Peers` with an `echo` handler, and its HTTP server on a real
//! socket. Not a test target (cargo builds only top-level test files).

use actix_web::{App, HttpServer};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use switchboard::cluster::lease::LeaseTiming;
use switchboard::cluster::NodeId;
use switchboard::domain::time::SharedClock;
use switchboard::domain::SystemClock;
use switchboard::ownership::{Config, Driver};
use switchboard::peering::{configure, HttpTransport, Receiver};
use switchboard::peers::{PeerConfig, Peers};
use switchboard::store::coordination::Coordination;

pub const TIMING: LeaseTiming = LeaseTiming {
    ttl_ms: 1_200,
    renew_every_ms: 300,
    max_drift_ppm: 1_000,
    margin_ms: 100,
};
pub const SKEW: u64 = 100;
pub const SECRET: &str = "a-cluster-secret-for-tests";
pub const MAX_BYTES: usize = 16 * 1024;
/// The bound on any wait here (a failure, not a measurement).
pub const WAIT: Duration = Duration::from_secs(30);

pub fn keys() -> Vec<String> {
    (0..12).map(|i| format!("shard/{i}")).collect()
}

pub struct Node {
    pub name: String,
    pub driver: Arc<Driver>,
    pub peers: Arc<Peers>,
    pub address: String,
    pub server: actix_web::dev::ServerHandle,
    /// Envelopes its handlers ran for.
    pub handled: Arc<AtomicUsize>,
}

/// Starts a node: its listener first (its address goes into its lease rows), then its
/// ownership loop, its peers with an `echo` handler, and its HTTP server.
pub async fn node(coord: &Arc<dyn Coordination>, name: &str, config: PeerConfig) -> Node {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let clock: SharedClock = Arc::new(SystemClock);
    let (driver, _changes) = Driver::start(
        coord.clone(),
        clock,
        Config {
            node: NodeId {
                name: name.into(),
                incarnation: 1,
            },
            address: address.clone(),
            timing: TIMING,
            skew_ms: SKEW,
            poll_ms: 50,
            keys: keys(),
            sticky: Vec::new(),
        },
    );
    let peers = Arc::new(Peers::new(
        driver.clone(),
        Arc::new(HttpTransport::new(SECRET)),
        config,
    ));
    let handled = Arc::new(AtomicUsize::new(0));
    peers.handle("echo", {
        let (name, handled) = (name.to_owned(), handled.clone());
        Arc::new(move |key, body| {
            handled.fetch_add(1, Ordering::SeqCst);
            let reply = json!({"node": name, "key": key, "body": body});
            Box::pin(async move { Ok(reply) })
        })
    });
    let receiver = Receiver {
        peers: peers.clone(),
        secret: SECRET.into(),
        max_bytes: MAX_BYTES,
    };
    let server = HttpServer::new(move || {
        let receiver = receiver.clone();
        App::new().configure(move |c| configure(c, receiver))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    actix_rt::spawn(server);
    Node {
        name: name.into(),
        driver,
        peers,
        address,
        server: handle,
        handled,
    }
}

/// Waits until every key is owned by exactly one node and every node's rows name that
/// owner; returns key -> owner's name.
pub async fn settled(nodes: &[&Node]) -> BTreeMap<String, String> {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let mut owners = BTreeMap::new();
        let mut twice = false;
        for n in nodes {
            for (k, _) in n.driver.owned() {
                twice |= owners.insert(k, n.name.clone()).is_some();
            }
        }
        let agreed = owners.len() == keys().len()
            && !twice
            && nodes.iter().all(|n| {
                owners
                    .iter()
                    .all(|(k, o)| n.driver.owner(k).is_some_and(|row| row.node.name == *o))
            });
        if agreed {
            return owners;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never settled: {owners:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await; // poll interval
    }
}
