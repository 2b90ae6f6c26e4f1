//! The ownership loop (`switchboard::ownership::Driver`, docs/cluster.md) with three
//! nodes, each on a runtime (thread) of its own with its own store connection, on the
//! embedded store's in-memory coordination and on the real CQL database named by
//! `SCYLLA_URI`:
//! - they converge on the placement: every key held by exactly one node, the one
//!   rendezvous hashing names, and the sticky key by one node;
//! - a node that dies (its runtime dropped: no release) loses its keys to the others
//!   only once its rows have lapsed by the skew bound, with new epochs;
//! - a node that stops gracefully hands its keys over at once, long before they would
//!   lapse;
//! - and at no sampled instant do two nodes own one key.
//!
//! An independent check reads the lease rows from the store after each step and
//! compares them with what the nodes say they own.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard::cluster::lease::LeaseTiming;
use switchboard::cluster::ownership::{Change, Why};
use switchboard::cluster::{placement, NodeId};
use switchboard::domain::time::SharedClock;
use switchboard::domain::{Clock, SystemClock};
use switchboard::ownership::{Config, Driver};
use switchboard::store::coordination::{wall_ms, Coordination, LocalCoordination};
use switchboard::store::scylla::ScyllaStore;

#[path = "support/cql.rs"]
mod cql;

/// Short leases, so the test takes seconds: 1.2 s TTL, renewed every 300 ms.
const TIMING: LeaseTiming = LeaseTiming {
    ttl_ms: 1_200,
    renew_every_ms: 300,
    max_drift_ppm: 1_000,
    margin_ms: 100,
};
const SKEW: u64 = 100;
/// The bound on any wait here (a failure, not a measurement).
const WAIT: Duration = Duration::from_secs(30);
const STICKY: &str = "singleton/active-engine";

fn keys() -> Vec<String> {
    (0..12)
        .map(|i| format!("shard/{i}"))
        .chain(["queue/support".to_owned(), "singleton/hub".to_owned()])
        .collect()
}

/// One node: its driver on a runtime of its own, and every change it reported.
struct Node {
    driver: Arc<Driver>,
    changes: Arc<Mutex<Vec<Change>>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Node {
    /// Starts a node on a runtime of its own, with a store connection made by `connect`
    /// on that runtime (a CQL session's connections run where it was made).
    fn start(name: &str, connect: &Connect) -> Node {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let coord = connect(&runtime);
        let clock: SharedClock = Arc::new(SystemClock);
        let config = Config {
            node: NodeId {
                name: name.into(),
                incarnation: 1,
            },
            address: format!("{name}:8080"),
            timing: TIMING,
            skew_ms: SKEW,
            poll_ms: 100,
            keys: keys(),
            sticky: vec![STICKY.into()],
        };
        let changes: Arc<Mutex<Vec<Change>>> = Default::default();
        let driver = runtime.block_on(async {
            let (driver, mut rx) = Driver::start(coord, clock, config);
            let log = changes.clone();
            tokio::spawn(async move {
                while let Some(c) = rx.recv().await {
                    log.lock().unwrap().push(c);
                }
            });
            driver
        });
        Node {
            driver,
            changes,
            runtime: Some(runtime),
        }
    }

    fn name(&self) -> &str {
        &self.driver.node().name
    }

    /// kill -9: the runtime and its tasks are gone; nothing is released.
    fn kill(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }

    fn alive(&self) -> bool {
        self.runtime.is_some()
    }
}

/// Who owns each key among the live nodes, checking that nobody owns one twice.
fn owners(nodes: &[Node]) -> BTreeMap<String, (String, u64)> {
    let mut out: BTreeMap<String, (String, u64)> = BTreeMap::new();
    for n in nodes.iter().filter(|n| n.alive()) {
        for (k, e) in n.driver.owned() {
            if let Some((other, _)) = out.insert(k.clone(), (n.name().to_owned(), e)) {
                panic!("{k} owned by {other} and {} at once", n.name());
            }
        }
    }
    out
}

/// Samples [`owners`] every 5 ms on a thread of its own until dropped.
struct Sampler {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<usize>>,
}

impl Sampler {
    fn start(nodes: Arc<Mutex<Vec<Node>>>) -> Sampler {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut samples = 0;
            while !flag.load(std::sync::atomic::Ordering::SeqCst) {
                owners(&nodes.lock().unwrap());
                samples += 1;
                std::thread::sleep(Duration::from_millis(5)); // sampling interval
            }
            samples
        });
        Sampler {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops and returns how many samples were taken (a panic in it fails the test).
    fn finish(mut self) -> usize {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.thread
            .take()
            .unwrap()
            .join()
            .expect("no key owned twice")
    }
}

/// Waits (bounded) until `done` holds for the nodes.
fn until(nodes: &Mutex<Vec<Node>>, what: &str, done: impl Fn(&[Node]) -> bool) {
    let deadline = std::time::Instant::now() + WAIT;
    while !done(&nodes.lock().unwrap()) {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(10)); // poll interval
    }
}

/// Every key owned by the node placement names over `live`, the sticky key by one.
fn placed(nodes: &[Node], live: &[&str]) -> bool {
    let members: Vec<NodeId> = live
        .iter()
        .map(|n| NodeId {
            name: (*n).into(),
            incarnation: 1,
        })
        .collect();
    let o = owners(nodes);
    o.contains_key(STICKY)
        && keys().iter().all(|k| {
            let want = &placement::owner(k, &members).unwrap().name;
            o.get(k).is_some_and(|(n, _)| n == want)
        })
}

/// The independent check: the store's rows agree with what the live nodes own.
fn rows_agree(rt: &tokio::runtime::Runtime, coord: &Arc<dyn Coordination>, nodes: &[Node]) {
    let rows = rt.block_on(coord.leases()).expect("read the lease rows");
    let now = wall_ms(SystemClock.now());
    let owned = owners(nodes);
    for k in keys().iter().chain([&STICKY.to_owned()]) {
        let row = rows.iter().find(|r| &r.key == k).expect("a row per key");
        let (name, epoch) = owned.get(k).expect("owned");
        assert_eq!(
            (&row.holder.name, row.epoch),
            (name, *epoch),
            "{k}: the store and the node agree"
        );
        assert!(!row.lapsed(now, SKEW), "{k}: the owner's row is live");
    }
}

/// Makes a node's store connection on its runtime.
type Connect = dyn Fn(&tokio::runtime::Runtime) -> Arc<dyn Coordination>;

fn scenario(connect: &Connect) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // The checker's own connection.
    let check = connect(&rt);
    let nodes: Arc<Mutex<Vec<Node>>> = Arc::new(Mutex::new(
        ["n0", "n1", "n2"]
            .iter()
            .map(|n| Node::start(n, connect))
            .collect(),
    ));
    let sampler = Sampler::start(nodes.clone());
    until(&nodes, "three nodes share the keys by placement", |n| {
        placed(n, &["n0", "n1", "n2"])
    });
    rows_agree(&rt, &check, &nodes.lock().unwrap());

    // kill -9 of the node holding the most keys.
    let victim = {
        let n = nodes.lock().unwrap();
        (0..3).max_by_key(|i| n[*i].driver.owned().len()).unwrap()
    };
    let (victim_name, before) = {
        let mut n = nodes.lock().unwrap();
        let held: Vec<(String, u64)> = n[victim].driver.owned();
        let name = n[victim].name().to_owned();
        n[victim].kill();
        (name, held)
    };
    let rows_before = rt.block_on(check.leases()).unwrap();
    let expiry = |k: &str| {
        rows_before
            .iter()
            .find(|r| r.key == k)
            .map(|r| r.expires_at)
            .unwrap()
    };
    let live: Vec<&str> = ["n0", "n1", "n2"]
        .into_iter()
        .filter(|n| *n != victim_name)
        .collect();
    until(&nodes, "the survivors take the dead node's keys", |n| {
        placed(n, &live)
    });
    rows_agree(&rt, &check, &nodes.lock().unwrap());
    // Taken only after the dead node's rows lapsed by the skew bound, with new epochs.
    let rows_after = rt.block_on(check.leases()).unwrap();
    for (k, epoch) in &before {
        let row = rows_after.iter().find(|r| &r.key == k).unwrap();
        assert!(row.epoch > *epoch, "{k}: a new epoch");
        assert_ne!(row.holder.name, victim_name);
        let granted_at = row.expires_at - TIMING.ttl_ms; // the taker's clock at the take
        assert!(
            granted_at > expiry(k) + SKEW,
            "{k} taken at {granted_at}, before the dead node's lease lapsed ({} + {SKEW})",
            expiry(k)
        );
    }

    // A graceful stop of one survivor: the other takes its keys at once, by release.
    let (leaving, rest) = (live[0], live[1]);
    let (held, expires) = {
        let n = nodes.lock().unwrap();
        let node = n.iter().find(|x| x.name() == leaving).unwrap();
        let held = node.driver.owned();
        let rows = rt.block_on(check.leases()).unwrap();
        let expires: BTreeMap<String, u64> =
            rows.iter().map(|r| (r.key.clone(), r.expires_at)).collect();
        (held, expires)
    };
    {
        let n = nodes.lock().unwrap();
        let node = n.iter().find(|x| x.name() == leaving).unwrap();
        let driver = node.driver.clone();
        node.runtime
            .as_ref()
            .unwrap()
            .block_on(driver.stop(Duration::from_secs(10)));
        assert!(driver.owned().is_empty() && !driver.joined());
    }
    until(&nodes, "the last node owns every key", |n| {
        placed(n, &[rest])
    });
    let rows = rt.block_on(check.leases()).unwrap();
    for (k, epoch) in &held {
        let row = rows.iter().find(|r| &r.key == k).unwrap();
        assert_eq!(row.holder.name, rest);
        assert!(row.epoch > *epoch, "{k}: a new epoch");
        let granted_at = row.expires_at - TIMING.ttl_ms;
        assert!(
            granted_at <= expires[k] + SKEW,
            "{k}: handed over by release, not taken after the lapse"
        );
    }
    let member = rows
        .iter()
        .find(|r| r.key == format!("node/{leaving}"))
        .unwrap();
    assert_eq!(
        member.expires_at, 0,
        "the leaving node released its membership"
    );
    // What the nodes reported: gains and losses with their reasons.
    {
        let n = nodes.lock().unwrap();
        let node = n.iter().find(|x| x.name() == leaving).unwrap();
        let changes = node.changes.lock().unwrap();
        let handed = changes
            .iter()
            .filter(|c| {
                matches!(
                    c,
                    Change::Lost {
                        why: Why::HandedOver,
                        ..
                    }
                )
            })
            .count();
        assert!(handed >= held.len(), "{changes:?}");
    }
    rows_agree(&rt, &check, &nodes.lock().unwrap());
    let samples = sampler.finish();
    assert!(samples > 10, "the sampler ran ({samples} samples)");
    for n in nodes.lock().unwrap().iter_mut() {
        n.kill();
    }
}

#[test]
fn three_nodes_on_the_embedded_coordination() {
    let coord: Arc<dyn Coordination> = Arc::new(LocalCoordination::default());
    scenario(&move |_: &tokio::runtime::Runtime| coord.clone());
}

#[test]
fn three_nodes_on_cql() {
    let opts = cql::cql_options(&cql::fresh_keyspace("ownership"));
    scenario(
        &move |rt: &tokio::runtime::Runtime| -> Arc<dyn Coordination> {
            Arc::new(
                rt.block_on(ScyllaStore::connect(&opts))
                    .unwrap_or_else(|e| panic!("connect to {:?}: {e}", opts.contact_points)),
            )
        },
    );
}
