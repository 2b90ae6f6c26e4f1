//! One active engine per keyspace, until the cluster serves one contact center from
//! many nodes (docs/cluster.md). Built on the engine's ownership loop
//! ([`crate::ownership::Driver`]): one sticky key, [`KEY`], or (spread placement) the
//! node's membership and the placed keys.
//!
//! Every engine first **joins** (its membership lease `node/<name>`, with the address
//! other nodes see), so the cluster view lists it, active or standby. It acts as the
//! engine only while it holds [`KEY`]. A second engine started on the same keyspace
//! waits as a **standby** — its address answers `/readyz` 503 `standby` — and takes
//! over when the active one stops (at once after a graceful stop, which releases the
//! lease; `lease_ttl_ms + clock_skew_ms` after a crash). A restart under the same node
//! name takes over its previous run's leases at once. A start under a name whose newer
//! run is live is refused.
//!
//! The ownership loop renews everything in one call every `lease_renew_ms`. When the
//! active engine loses [`KEY`]:
//! - **taken** — the store refused a renewal: another engine took over (this one was
//!   paused or cut off longer than the lease, or a newer run of its name started). It
//!   stops — its sockets are told to reconnect, it exits with an error (`fenced`) —
//!   instead of serving beside the new owner;
//! - **lapsed** — its own deadline passed with no renewal confirmed (the store
//!   unreachable or too slow for `Holding`'s local validity, 2.7 s with the defaults;
//!   the loop's watchdog does not wait for a hanging call). From then on another engine
//!   may take over at any moment, so it **suspends**: `/readyz` answers 503 `lease
//!   lapsed` (a load balancer stops sending it traffic), and it keeps asking for the
//!   lease. Granted again under the same epoch (nobody held it in between, so its state
//!   is still the store's), it serves again; held by anyone else, or granted under
//!   another epoch, it stops as when fenced. A store outage that every node sees
//!   therefore costs no restart.
//!
//! **Spread placement** (`cluster.placement = "spread"`): every member serves, and
//! the key that gates serving is the node's own membership `node/<name>` instead of
//! [`KEY`] (suspended when it lapses, fenced when a newer run takes it). The placed
//! keys — shards, queues, singletons — come and go with the ownership loop's changes,
//! which [`Active::keep`] passes on to the engine (`actors::keys`).
//!
//! The embedded store has one process by construction (its file lock), and its
//! coordination is in memory.

use crate::config::ClusterSettings;
use crate::domain::time::SharedClock;
use crate::ownership::{Config, Driver, LoopThread};
use crate::peering::{HttpTransport, Receiver};
use crate::peers::Peers;
use crate::store::coordination::{wall_ms, Coordination};
use cluster::membership;
use cluster::ownership::{Change, Why};
use cluster::NodeId;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::watch;

/// How many times a node reads the store's clock before it joins (the sample with the
/// shortest round trip counts).
const CLOCK_SAMPLES: usize = 3;

/// Refuses a node whose wall clock is certainly more than half of `skew_ms` from the
/// store's (`cluster::clock`). The machine's clock is measured, not the engine's
/// (which is the machine's in production; tests move theirs by hand). A store in this
/// process has no clock of its own: nothing to check. A store that cannot answer is
/// an error too: a clock that cannot be checked is not trusted.
async fn check_clock(coord: &dyn Coordination, skew_ms: u64) -> anyhow::Result<()> {
    use crate::domain::time::Clock;
    let machine = crate::domain::SystemClock;
    let mut samples = Vec::with_capacity(CLOCK_SAMPLES);
    let mut failed = None;
    for _ in 0..CLOCK_SAMPLES {
        let sent_ms = wall_ms(machine.now());
        match coord.clock_ms().await {
            Ok(None) => return Ok(()),
            Ok(Some(store_ms)) => samples.push(cluster::clock::Sample {
                sent_ms,
                store_ms,
                received_ms: wall_ms(machine.now()),
            }),
            Err(e) => failed = Some(e),
        }
    }
    let Some(offset) = cluster::clock::best(&samples) else {
        let e = failed.map(|e| e.to_string()).unwrap_or_default();
        anyhow::bail!("the store's clock could not be read to check this node's: {e}");
    };
    crate::metrics::clock_offset(offset.offset_ms);
    tracing::info!(
        offset_ms = offset.offset_ms,
        uncertainty_ms = offset.uncertainty_ms,
        "this node's clock against the store's"
    );
    cluster::clock::check(offset, skew_ms).map_err(|e| anyhow::anyhow!("clock skew: {e}"))
}

/// Raised (for good) on the first SIGTERM or SIGINT from now on: a watch, so that
/// whoever looks later — the standby's wait, then the running engine — still sees it.
pub fn stop_signal() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        tx.send_replace(true);
    });
    rx
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM received"),
                    _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only SIGINT stops the engine");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The lease of the active engine.
pub const KEY: &str = cluster::shard::ACTIVE_ENGINE_KEY;

/// Why the active engine stopped serving on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepDown {
    /// Another engine (or a newer run of this node's name) holds the keyspace now, or
    /// held it while this one was suspended.
    Fenced,
}

/// This node's membership and its hold on [`KEY`].
pub struct Active {
    driver: Arc<Driver>,
    address: String,
    /// Changes after the start, until [`Active::keep`] takes them.
    changes: Mutex<Option<UnboundedReceiver<Change>>>,
    step_down: Mutex<Option<StepDown>>,
    /// Raised while the lease has lapsed and is not confirmed again, or while this
    /// node stands aside.
    suspended: Arc<AtomicBool>,
    /// Raised while this node stands aside (spread: it reaches no majority of the
    /// members, `crate::quorum`): it handed every key over, so it holds no state of
    /// the epoch it served under and may join again under a new one.
    aside: Arc<AtomicBool>,
    /// Raised when a graceful stop handed every key and the membership over before the
    /// HTTP server finished ([`Active::hand_over`]): see the fence.
    departed: AtomicBool,
    /// The epoch the engine serves under: its state is the store's as of then (a new
    /// one after it stood aside and joined again).
    epoch: AtomicU64,
    /// The lease that gates serving: [`KEY`], or this node's membership (spread).
    key: String,
    /// Spread placement: where each customer's rows belong (their fence is their
    /// shard's lease).
    shards: Option<cluster::shard::ShardMap>,
    /// Node-to-node messages (with `cluster.secret`).
    receiver: Option<Receiver>,
    /// How long the hand-over at a graceful stop may take.
    release_limit: Duration,
    /// How often a suspended engine looks at the rows the loop read.
    poll: Duration,
    /// Where the ownership loop runs (ends with this).
    _thread: LoopThread,
    /// Raised by SIGTERM or SIGINT (listened for from the start of the build).
    stop: watch::Receiver<bool>,
}

/// A stop signal came before this node served — while it waited for the store or as a
/// standby: it let go of what it held and exits cleanly.
#[derive(Debug, thiserror::Error)]
#[error("stopped by a signal before serving (waiting for the store or as a standby)")]
pub struct StoppedBeforeServing;

impl Active {
    /// Joins the cluster and waits until this node holds the lease (`settings`
    /// validated by the caller). While another
    /// engine holds it, the listen address is held by the holding server (`/readyz`
    /// 503 `standby`, saying who is active) while the ownership loop keeps the
    /// membership and asks for the lease every `lease_renew_ms`.
    /// The loop runs on `thread`, where `coord`'s session (if it has one) was made;
    /// `stop` is the process's stop signal ([`stop_signal`]).
    ///
    /// With `placed` keys (spread placement), the node serves as soon as it is a member
    /// and takes its share of `placed` from then on.
    pub async fn acquire(
        coord: Arc<dyn Coordination>,
        thread: LoopThread,
        stop: watch::Receiver<bool>,
        settings: &ClusterSettings,
        listen: std::net::SocketAddr,
        clock: SharedClock,
        placed: Vec<String>,
    ) -> anyhow::Result<Arc<Active>> {
        let spread = !placed.is_empty();
        let timing = settings.timing();
        let node = settings.node(listen);
        let address = settings.address(listen);
        let skew = settings.clock_skew_ms;
        let reason = crate::api::holding::HoldingReason::default();
        let mut holding_server = None;
        let every = Duration::from_millis(timing.renew_every_ms);
        // A name is one process: refuse to start beside a newer live run of it.
        let in_use = loop {
            match coord.lease(&membership::key(&node.name)).await {
                Ok(row) => break row,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot reach the cluster leases; retrying");
                    if holding_server.is_none() {
                        holding_server = hold(listen, &reason, None);
                    }
                    reason.set(format!("the cluster leases cannot be read: {e}"));
                    tokio::time::sleep(every).await; // retry interval
                }
            }
        };
        if let Some(row) = in_use.filter(|r| {
            r.holder.incarnation > node.incarnation && !r.lapsed(wall_ms(clock.now()), skew)
        }) {
            stop_holding(holding_server).await;
            anyhow::bail!(
                "the node name {} is in use by {} (a newer run); give each engine its own \
                 cluster.node_name",
                node.name,
                row.holder
            );
        }
        // The recorder first (installed once per process), so the loop's gauges land in
        // it.
        crate::metrics::install();
        // Lease rows' expiry times mean the same on every node only if the clocks
        // agree within the skew bound: refuse to join with a clock that does not.
        if let Err(e) = check_clock(&*coord, skew).await {
            stop_holding(holding_server).await;
            return Err(e);
        }
        let member = membership::key(&node.name);
        let (driver, mut changes) = Driver::start_on(
            thread.handle(),
            coord.clone(),
            clock.clone(),
            Config {
                node: node.clone(),
                address: address.clone(),
                timing,
                skew_ms: skew,
                poll_ms: settings.lease_poll_ms,
                sticky: if spread {
                    Vec::new()
                } else {
                    vec![KEY.to_owned()]
                },
                keys: placed,
            },
        );
        // Node-to-node messages, when the cluster has a secret: every member answers
        // `ping` on its membership key (the cluster view's reachability), a standby
        // included.
        let receiver = settings.secret.as_deref().map(|secret| {
            let peers = Arc::new(Peers::new(
                driver.clone(),
                Arc::new(HttpTransport::new(secret)),
                settings.peers(),
            ));
            let me = node.clone();
            let wall = clock.clone();
            peers.serve(move |_key, _: crate::peers::Ping| {
                let pong = crate::peers::Pong {
                    name: me.name.clone(),
                    incarnation: me.incarnation,
                    wall_ms: wall_ms(wall.now()),
                };
                async move { Ok(pong) }
            });
            Receiver {
                peers,
                secret: secret.into(),
                max_bytes: settings.max_peer_request_bytes,
            }
        });
        let mut stopping = stop.clone();
        let key = if spread {
            member.clone()
        } else {
            KEY.to_owned()
        };
        let epoch = loop {
            tokio::select! {
                // SIGTERM while a standby: hand the membership back and go.
                _ = stopping.wait_for(|requested| *requested) => {
                    stop_holding(holding_server).await;
                    driver.stop(every * 3).await;
                    tracing::info!(node = %node, "stopped while standby; membership released");
                    return Err(StoppedBeforeServing.into());
                }
                change = changes.recv() => match change {
                    Some(Change::Gained { key: k, epoch }) if k == key => break epoch,
                    Some(Change::Lost { key, why: Why::Taken }) if key == member => {
                        stop_holding(holding_server).await;
                        anyhow::bail!("a newer run of the node name {} started", node.name);
                    }
                    Some(_) => continue,
                    None => anyhow::bail!("the ownership loop stopped"),
                },
                _ = tokio::time::sleep(every) => {}
            }
            // Still waiting: say who is active.
            match coord.lease(KEY).await {
                Ok(Some(row)) if row.holder != node && !row.lapsed(wall_ms(clock.now()), skew) => {
                    if holding_server.is_none() {
                        tracing::warn!(holder = %row.holder, node = %node, "standby: another engine is active on this keyspace");
                        holding_server = hold(listen, &reason, receiver.clone());
                    }
                    reason.set(format!(
                        "engine {} ({}) holds this keyspace (epoch {}); this node ({node}) \
                         takes over when it stops",
                        row.holder, row.address, row.epoch
                    ));
                }
                Ok(_) => {}
                Err(e) => reason.set(format!("the cluster leases cannot be read: {e}")),
            }
        };
        stop_holding(holding_server).await;
        tracing::info!(node = %node, epoch, "active: this engine holds the keyspace");
        if let (true, Some(r)) = (spread, &receiver) {
            // A member cut off from its peers stands aside (`switchboard_engine::quorum`).
            let _on = thread.handle().enter();
            switchboard_engine::quorum::watch(&driver, r.peers.clone(), settings.quorum());
        }
        Ok(Arc::new(Active {
            driver,
            address,
            changes: Mutex::new(Some(changes)),
            step_down: Mutex::new(None),
            suspended: Arc::new(AtomicBool::new(false)),
            aside: Arc::new(AtomicBool::new(false)),
            departed: AtomicBool::new(false),
            epoch: AtomicU64::new(epoch),
            key,
            shards: if spread {
                Some(cluster::shard::ShardMap::new(settings.shards)?)
            } else {
                None
            },
            receiver,
            release_limit: every * 3,
            poll: Duration::from_millis(settings.lease_poll_ms),
            _thread: thread,
            stop,
        }))
    }

    /// Raised by SIGTERM or SIGINT: the engine drains and stops.
    pub fn stop_signal(&self) -> watch::Receiver<bool> {
        self.stop.clone()
    }

    /// The epoch this node holds the lease under, while it does.
    pub fn epoch(&self) -> Option<u64> {
        self.driver.owns(&self.key)
    }

    /// The ownership loop.
    pub fn driver(&self) -> &Arc<Driver> {
        &self.driver
    }

    /// This run of this node.
    pub fn node(&self) -> &NodeId {
        self.driver.node()
    }

    /// Node-to-node messages' receiving end, for the server to mount (with
    /// `cluster.secret`).
    pub fn receiver(&self) -> Option<Receiver> {
        self.receiver.clone()
    }

    /// Where other nodes reach this one.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Why this engine stopped serving on its own, if it did.
    pub fn stepped_down(&self) -> Option<StepDown> {
        *self.step_down.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The flag the cluster view and `/readyz` read: raised while suspended.
    pub fn suspended_flag(&self) -> Arc<AtomicBool> {
        self.suspended.clone()
    }

    /// The flag `/readyz` reads: raised while this node stands aside.
    pub fn aside_flag(&self) -> Arc<AtomicBool> {
        self.aside.clone()
    }

    /// Records that another engine took over, and says so.
    fn fenced(&self, why: &str) {
        tracing::error!(node = %self.node(), why, "fenced: another engine took over this keyspace; stopping");
        *self.step_down.lock().unwrap_or_else(|p| p.into_inner()) = Some(StepDown::Fenced);
    }

    /// Watches the ownership loop until the process ends: suspends when the serving
    /// key lapses and resumes when it is granted again under the same epoch; calls
    /// `on_step_down` once if another engine took over. Every other change goes to
    /// `others` (the placed keys, in spread placement).
    pub fn keep(
        self: &Arc<Self>,
        on_step_down: impl FnOnce() + 'static,
        others: Option<tokio::sync::mpsc::UnboundedSender<Change>>,
    ) {
        let Some(mut changes) = self
            .changes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        else {
            return;
        };
        let me = self.clone();
        actix_rt::spawn(async move {
            let mut check = tokio::time::interval(me.poll);
            check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let change = tokio::select! {
                    c = changes.recv() => match c {
                        Some(c) => c,
                        None => return,
                    },
                    _ = check.tick() => {
                        if me.suspended.load(Ordering::SeqCst) && me.taken_meanwhile() {
                            me.fenced("the lease was taken while this engine was suspended");
                            on_step_down();
                            return;
                        }
                        continue;
                    }
                };
                match change {
                    Change::Lost { key, why } if key == me.key => match why {
                        Why::Taken => {
                            me.fenced("a renewal was refused");
                            on_step_down();
                            return;
                        }
                        Why::Deadline => {
                            me.suspended.store(true, Ordering::SeqCst);
                            tracing::error!(node = %me.node(), "lease lapsed: no renewal confirmed in time; suspended until the store confirms this engine still holds the keyspace");
                        }
                        Why::HandedOver => return,
                        Why::Aside => {
                            me.aside.store(true, Ordering::SeqCst);
                            me.suspended.store(true, Ordering::SeqCst);
                            tracing::error!(node = %me.node(), "stood aside: every key and the membership handed over; serving again once a majority of the members answers");
                        }
                    },
                    Change::Gained { key, epoch } if key == me.key => {
                        let was = me.epoch.load(Ordering::SeqCst);
                        if epoch != was {
                            // Spread: the membership is joined anew after standing
                            // aside or after its deadline passed (a pause, a cut):
                            // every key went with the old epoch, so nothing of it is
                            // held here. With one active engine, another epoch means
                            // another engine held the keyspace meanwhile.
                            if !me.aside.load(Ordering::SeqCst) && me.shards.is_none() {
                                me.fenced("the lease was granted again under another epoch");
                                on_step_down();
                                return;
                            }
                            tracing::warn!(node = %me.node(), was, epoch, "joined again under a new membership epoch");
                            me.epoch.store(epoch, Ordering::SeqCst);
                        }
                        me.aside.store(false, Ordering::SeqCst);
                        me.suspended.store(false, Ordering::SeqCst);
                        tracing::warn!(node = %me.node(), epoch, "lease confirmed again: serving");
                    }
                    other => {
                        if let Some(to) = &others {
                            let _ = to.send(other);
                        }
                    }
                }
            }
        });
    }

    /// Whether another engine holds [`KEY`] now, or did since this one started (the
    /// epoch moved), by the rows the ownership loop last read. A node standing aside
    /// released its key itself, and a spread node rejoins under a new membership
    /// epoch: only another holder counts then (its own new grant moves the epoch too).
    fn taken_meanwhile(&self) -> bool {
        let aside = self.aside.load(Ordering::SeqCst);
        // Spread: the membership's epoch moves when this node joins anew after a
        // lapse (`cluster::ownership`), possibly before `keep` hears of it; only
        // another holder (a newer run of the name) means it was taken.
        let moved = !aside
            && self.shards.is_none()
            && self
                .driver
                .row(&self.key)
                .is_some_and(|row| row.epoch != self.epoch.load(Ordering::SeqCst));
        let other = self
            .driver
            .holder(&self.key)
            .is_some_and(|row| row.holder != *self.node());
        moved || other
    }

    /// Spread placement, at the start of a graceful stop: hands every key and the
    /// membership over now, while the HTTP server is still finishing its requests (it
    /// waits for its connections in steps of a second), so the other members take
    /// this node's customers, agents and queues at their next poll instead of after
    /// the whole shutdown. The keys' actors stop here as on any hand-over; a request
    /// still in flight reaches them at their new owner. With one active engine the
    /// keyspace is released only once the actors stopped ([`Active::release`]): a
    /// standby must not start while this engine still writes.
    pub async fn hand_over(&self) {
        if self.shards.is_none() {
            return;
        }
        // Only a serving member writes on after handing over: a node fenced, lapsed or
        // standing aside (this drain may be its step-down) has nothing to hand over,
        // and another may own what it held.
        let serving = self.driver.joined()
            && self.stepped_down().is_none()
            && !self.suspended.load(Ordering::SeqCst);
        // Never lowered: a second drain (the node is no longer a member then) must not
        // take back what the first allowed.
        if serving {
            self.departed.store(true, Ordering::SeqCst);
        }
        self.driver.stop(self.release_limit).await;
        tracing::info!(node = %self.node(), "graceful stop: keys and membership handed over");
    }

    /// Gives the lease and the membership up (graceful stop, once the actors have
    /// stopped): a standby takes over at once, and the node leaves the cluster view.
    pub async fn release(&self) {
        self.driver.stop(self.release_limit).await;
        tracing::info!(node = %self.node(), "leases released");
    }
}

/// The engine writes only while it holds [`KEY`] under the epoch it started with (in
/// spread placement: while it is a member), checked at the moment of each write
/// against its own deadline (the store is wrapped
/// in [`crate::store::fence::Fenced`] once the lease is held): a write while suspended,
/// or queued while paused and run after another engine took over, is refused.
impl crate::store::fence::Fence for Active {
    fn check(&self) -> Result<(), String> {
        let mine = self.epoch.load(Ordering::SeqCst);
        match self.driver.owns(&self.key) {
            Some(epoch) if epoch == mine => Ok(()),
            // Spread: a member under any epoch of its membership (it joins anew after
            // a lapse, maybe before `keep` has heard); its state rows are fenced by
            // their shards' epochs.
            Some(_) if self.shards.is_some() => Ok(()),
            // Spread, a graceful stop under way: the membership was handed over, not
            // lost, so nobody took this node's place; what its HTTP requests still
            // write (not a shard's state: those rows carry their shard's epoch, which
            // this node no longer holds) lands as it would have a moment earlier.
            None if self.departed.load(Ordering::SeqCst) => Ok(()),
            held => Err(match held {
                Some(other) => format!(
                    "the keyspace's lease is held under epoch {other}, not this \
                         engine's {mine}"
                ),
                None => "this engine's lease on the keyspace lapsed or was taken".into(),
            }),
        }
    }

    /// With one active engine rows are written unfenced: its own fence stops every
    /// write it starts without the keyspace's lease, and a compare-and-set on every
    /// assignment made routing fail while a CQL replica was down (docs/cluster.md,
    /// "Fenced rows"). In spread placement a row is written under its customer's
    /// shard's lease, at the epoch this node holds it. A batch none of whose
    /// shards this node holds comes from an actor whose shard moved away: it carries
    /// epoch 0, below every granted epoch, so a row the new owner wrote refuses it. A
    /// row of a shard held elsewhere in a batch that also writes one held here (an
    /// identity merge across shards, written by the survivor's owner) goes unfenced.
    fn leases(
        &self,
        customers: &std::collections::BTreeSet<crate::domain::CustomerId>,
    ) -> std::collections::BTreeMap<crate::domain::CustomerId, crate::store::RowLease> {
        use crate::store::RowLease;
        let Some(shards) = self.shards else {
            return std::collections::BTreeMap::new();
        };
        let rows: Vec<_> = customers
            .iter()
            .map(|c| {
                let key = cluster::shard::OwnerKey::Shard(shards.customer(*c)).as_key();
                let epoch = self.driver.owns(&key);
                (*c, key, epoch)
            })
            .collect();
        let acting = rows.iter().any(|(_, _, epoch)| epoch.is_some());
        rows.into_iter()
            .filter_map(|(c, key, epoch)| match (epoch, acting) {
                (Some(epoch), _) => Some((c, RowLease { key, epoch })),
                (None, false) => Some((c, RowLease { key, epoch: 0 })),
                (None, true) => None,
            })
            .collect()
    }
}

/// Holds the listen address as a standby (or while the leases cannot be read).
fn hold(
    listen: std::net::SocketAddr,
    reason: &crate::api::holding::HoldingReason,
    peers: Option<Receiver>,
) -> Option<actix_web::dev::ServerHandle> {
    crate::api::holding::start(listen, "standby", "scylla", reason.clone(), peers)
        .map_err(
            |e| tracing::warn!(error = %e, %listen, "cannot hold the listen address as a standby"),
        )
        .ok()
}

async fn stop_holding(h: Option<actix_web::dev::ServerHandle>) {
    if let Some(h) = h {
        h.stop(false).await;
    }
}
