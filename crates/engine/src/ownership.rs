//! The ownership loop's driver (docs/cluster.md): runs the cluster core's
//! [`Ownership`] rounds against the store's lease rows every `poll_ms` — read every
//! row, plan, release what is handed over, take what this node should own, renew
//! everything it holds in one call when a renewal is due — and reports each
//! [`Change`] on a channel. A watchdog drops keys at their
//! local deadline even while a store call hangs, so a node never acts past it.
//!
//! [`Driver::owns`] answers from the holdings and the monotonic clock at the moment
//! of asking: the gate an owner checks before it acts. [`Driver::stop`] hands every key
//! over (a graceful stop), the membership last; [`Driver::stand_aside`] does the same
//! without stopping, until told to serve again (a node cut off from its peers:
//! `crate::quorum`).
//!
//! The engine runs the loop on a [`LoopThread`] of its own, with a store session made
//! on that thread: a busy or blocked engine runtime (a long synchronous step, an actor
//! hogging its thread) then delays neither a renewal nor the watchdog, so a node does
//! not suspend itself for being busy.

use crate::domain::time::SharedClock;
use crate::store::coordination::{wall_ms, Acquired, Coordination, LeaseRow};
use cluster::envelope::Owner;
use cluster::lease::{Lease, LeaseTiming};
use cluster::ownership::{Change, Intent, Ownership, Round, Why};
use cluster::NodeId;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch, Notify};

/// What the loop owns and how.
#[derive(Debug, Clone)]
pub struct Config {
    pub node: NodeId,
    /// Where other nodes reach this one (stored with every lease it holds).
    pub address: String,
    pub timing: LeaseTiming,
    pub skew_ms: u64,
    /// How often a round reads the rows (at most the renewal interval): a node waiting
    /// for a released key notices it within this.
    pub poll_ms: u64,
    /// Placed keys: each owned by the live member rendezvous hashing names (changed
    /// later with [`Driver::set_keys`]).
    pub keys: Vec<String>,
    /// Sticky keys: taken by whichever member asks first, kept until lost.
    pub sticky: Vec<String>,
}

/// A thread with a runtime of its own for the ownership loop (and the store session it
/// renews through). Dropping it ends the thread and every task spawned on it.
pub struct LoopThread {
    handle: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl LoopThread {
    /// Starts the thread `switchboard-ownership`.
    pub fn start() -> std::io::Result<LoopThread> {
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("switchboard-ownership".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = handle_tx.send(Err(e));
                        return;
                    }
                };
                let _ = handle_tx.send(Ok(rt.handle().clone()));
                // Runs the spawned tasks until the LoopThread is dropped.
                let _ = rt.block_on(stopped);
            })?;
        let handle = handle_rx
            .recv()
            .map_err(|_| std::io::Error::other("the ownership thread ended at start"))??;
        Ok(LoopThread {
            handle,
            stop: Some(stop),
        })
    }

    /// The thread's runtime: spawn on it what must not wait for the engine's.
    pub fn handle(&self) -> &tokio::runtime::Handle {
        &self.handle
    }
}

impl Drop for LoopThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A running ownership loop.
pub struct Driver {
    coord: Arc<dyn Coordination>,
    clock: SharedClock,
    config: Config,
    /// The placed keys now (`config.keys` at the start).
    keys: Mutex<Vec<String>>,
    /// The origin of this node's monotonic milliseconds.
    origin: Instant,
    state: Mutex<Ownership>,
    /// Every lease row as the last round read it.
    rows: Mutex<BTreeMap<String, LeaseRow>>,
    changes: mpsc::UnboundedSender<Change>,
    /// Wakes the watchdog when deadlines move.
    moved: Notify,
    /// Raised by [`Driver::stop`].
    stopping: watch::Sender<bool>,
    /// Raised while this node stands aside ([`Driver::stand_aside`]).
    aside: watch::Sender<bool>,
    /// Raised when the last round (the hand-over) is done.
    stopped: watch::Sender<bool>,
}

impl Driver {
    /// Starts the loop and its watchdog on the current runtime; `Change`s arrive on the
    /// receiver in the order they happened.
    pub fn start(
        coord: Arc<dyn Coordination>,
        clock: SharedClock,
        config: Config,
    ) -> (Arc<Driver>, mpsc::UnboundedReceiver<Change>) {
        Self::start_on(&tokio::runtime::Handle::current(), coord, clock, config)
    }

    /// [`Driver::start`] on `runtime` (a [`LoopThread`]'s).
    pub fn start_on(
        runtime: &tokio::runtime::Handle,
        coord: Arc<dyn Coordination>,
        clock: SharedClock,
        config: Config,
    ) -> (Arc<Driver>, mpsc::UnboundedReceiver<Change>) {
        let (tx, rx) = mpsc::unbounded_channel();
        crate::metrics::lease_renewals_init();
        let driver = Arc::new(Driver {
            state: Mutex::new(Ownership::new(
                config.node.clone(),
                config.timing,
                config.skew_ms,
            )),
            coord,
            clock,
            keys: Mutex::new(config.keys.clone()),
            config,
            rows: Mutex::default(),
            origin: Instant::now(),
            changes: tx,
            moved: Notify::new(),
            stopping: watch::Sender::new(false),
            aside: watch::Sender::new(false),
            stopped: watch::Sender::new(false),
        });
        runtime.spawn(driver.clone().run());
        runtime.spawn(driver.clone().watchdog());
        (driver, rx)
    }

    fn mono(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Ownership> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn emit(&self, changes: Vec<Change>) {
        for c in changes {
            match &c {
                Change::Gained { key, .. } => {
                    crate::metrics::lease_held(key, true);
                    if !key.starts_with(cluster::membership::PREFIX) {
                        crate::metrics::lease_takeover(key);
                    }
                }
                Change::Lost { key, why } => {
                    crate::metrics::lease_held(key, false);
                    if *why == Why::Deadline {
                        crate::metrics::lease_renewal("lapsed");
                    }
                }
            }
            let _ = self.changes.send(c);
        }
    }

    /// This run of this node.
    pub fn node(&self) -> &NodeId {
        &self.config.node
    }

    /// The epoch under which this node may act on `key` now (checked at the moment of
    /// asking against the local deadline).
    pub fn owns(&self, key: &str) -> Option<u64> {
        let now = self.mono();
        self.state().owns(key, now)
    }

    /// The row of `key` as the last round read it (at most `poll_ms` old while the
    /// store answers), whoever holds it, lapsed or not.
    pub fn row(&self, key: &str) -> Option<LeaseRow> {
        self.rows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned()
    }

    /// The row of `key` as the last round read it, if its holder has not lapsed by this
    /// node's wall clock and the skew bound: who acts as the key's owner.
    pub fn holder(&self, key: &str) -> Option<LeaseRow> {
        let now = wall_ms(self.clock.now());
        self.row(key)
            .filter(|l| !l.lapsed(now, self.config.skew_ms))
    }

    /// [`Driver::holder`] as node-to-node messages address it.
    pub fn owner(&self, key: &str) -> Option<Owner> {
        self.holder(key).map(|r| Owner {
            node: r.lease.holder,
            address: r.address,
            epoch: r.lease.epoch,
        })
    }

    /// Replaces the placed keys (a queue created or removed): from the next round on,
    /// this node takes, keeps and hands over keys by the new set. Every node must be
    /// given the same set, or two would disagree on who owns a key and one would wait
    /// for the other's lease to lapse.
    pub fn set_keys(&self, keys: Vec<String>) {
        *self.keys.lock().unwrap_or_else(|p| p.into_inner()) = keys;
    }

    /// The members as the last round's rows show them (live or lapsed), by name.
    pub fn members(&self) -> Vec<cluster::membership::Member> {
        let rows = self.rows.lock().unwrap_or_else(|p| p.into_inner());
        cluster::membership::members(
            rows.iter()
                .map(|(k, r)| (k.as_str(), &r.lease, r.address.as_str())),
            wall_ms(self.clock.now()),
            self.config.skew_ms,
        )
    }

    /// The wall clock the loop reads lease rows by (milliseconds).
    pub fn wall_now(&self) -> u64 {
        wall_ms(self.clock.now())
    }

    /// Every key this node may act on now (membership excluded).
    pub fn owned(&self) -> Vec<(String, u64)> {
        let now = self.mono();
        self.state().owned(now)
    }

    /// Whether this node is a member now.
    pub fn joined(&self) -> bool {
        let now = self.mono();
        self.state().joined(now)
    }

    /// Stands aside (`true`: hands every key and the membership over at the next
    /// round, which runs at once, and asks for nothing after) or serves again (`false`:
    /// joins anew and takes its share). See [`cluster::quorum`].
    pub fn stand_aside(&self, aside: bool) {
        self.aside
            .send_if_modified(|a| std::mem::replace(a, aside) != aside);
    }

    /// Whether a graceful stop began.
    pub fn stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    /// Whether this node stands aside now.
    pub fn aside(&self) -> bool {
        *self.aside.borrow()
    }

    /// Hands every key over and leaves (releases the membership last); returns when
    /// the releases are done or `limit` passed.
    pub async fn stop(&self, limit: Duration) {
        self.stopping.send_replace(true);
        let mut stopped = self.stopped.subscribe();
        let _ = tokio::time::timeout(limit, stopped.wait_for(|s| *s)).await;
    }

    /// Drops keys at their deadline, whatever the loop is waiting for.
    async fn watchdog(self: Arc<Self>) {
        let mut stopped = self.stopped.subscribe();
        loop {
            let deadline = self
                .state()
                .next_deadline()
                .map(|d| tokio::time::Instant::from_std(self.origin + Duration::from_millis(d)));
            let due = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = due => {}
                _ = self.moved.notified() => continue,
                _ = stopped.wait_for(|s| *s) => return,
            }
            let now = self.mono();
            let lost = self.state().expire(now);
            self.emit(lost);
        }
    }

    async fn run(self: Arc<Self>) {
        let renew_every = Duration::from_millis(self.config.timing.renew_every_ms);
        let every = Duration::from_millis(self.config.poll_ms.max(1)).min(renew_every);
        // A read, take or release that takes longer than a renewal interval is given up
        // (its outcome unknown: nothing is extended on its account).
        let limit = renew_every;
        let mut stop = self.stopping.subscribe();
        let mut aside = self.aside.subscribe();
        let mut wake_at: Option<u64> = None;
        loop {
            let stopping = *stop.borrow();
            let intent = if stopping {
                Intent::Stop
            } else if *aside.borrow_and_update() {
                Intent::Aside
            } else {
                Intent::Serve
            };
            let started = Instant::now();
            if let Ok(Ok(read)) = tokio::time::timeout(limit, self.coord.leases()).await {
                let rows: BTreeMap<String, Lease> = read
                    .iter()
                    .map(|r| (r.key.clone(), r.lease.clone()))
                    .collect();
                let (wall, mono) = (wall_ms(self.clock.now()), self.mono());
                let keys = self.keys.lock().unwrap_or_else(|p| p.into_inner()).clone();
                let round =
                    self.state()
                        .plan(&keys, &self.config.sticky, &rows, wall, mono, intent);
                wake_at = round.wake_at;
                if round.live_members > 0 {
                    crate::metrics::cluster_members(round.live_members);
                }
                *self.rows.lock().unwrap_or_else(|p| p.into_inner()) =
                    read.into_iter().map(|r| (r.key.clone(), r)).collect();
                self.moved.notify_one();
                let was_member = self.joined();
                self.apply(round, limit).await;
                if !was_member && self.joined() && !stopping {
                    // Just joined: the keys come in the next round, at once.
                    continue;
                }
            } else {
                tracing::warn!(node = %self.config.node, "cluster leases not read; retrying");
                let lost = self.state().expire(self.mono());
                self.emit(lost);
            }
            if stopping {
                self.stopped.send_replace(true);
                return;
            }
            // Next round: a poll interval after this one began, or when another
            // member's rows lapse, whichever is first.
            let mut next = tokio::time::Instant::from_std(started + every);
            if let Some(w) = wake_at {
                let wall = wall_ms(self.clock.now());
                let at =
                    tokio::time::Instant::now() + Duration::from_millis(w.saturating_sub(wall));
                next = next.min(at);
            }
            tokio::select! {
                _ = tokio::time::sleep_until(next) => {}
                _ = stop.wait_for(|s| *s) => {}
                _ = aside.changed() => {}
            }
        }
    }

    /// Carries out a round: releases, acquisitions, then the renewal.
    async fn apply(&self, round: Round, limit: Duration) {
        let Round {
            acquire,
            release,
            renew,
            changes,
            ..
        } = round;
        self.emit(changes);
        let me = &self.config.node;
        if !release.is_empty() {
            // Every key of the round in one call (a graceful stop hands all of them
            // over: one conditional batch on the CQL store). A key not released
            // lapses at its deadline instead.
            match tokio::time::timeout(limit, self.coord.release_many(&release, me)).await {
                Ok(outcomes) => {
                    for (key, got) in outcomes {
                        if let Err(e) = got {
                            tracing::warn!(key, error = %e, "lease not released; it lapses");
                        }
                    }
                }
                Err(_) => tracing::warn!(
                    keys = release.len(),
                    "lease releases timed out; what was not released lapses"
                ),
            }
        }
        if !acquire.is_empty() {
            // Every key of the round in one call: a dead member's whole share is
            // taken at once (one conditional batch on the CQL store), not one key
            // per round trip. Each grant counts from when the call was sent.
            let sent = self.mono();
            let now = self.clock.now();
            let (ttl, skew) = (self.config.timing.ttl_ms, self.config.skew_ms);
            let call = self
                .coord
                .acquire_many(&acquire, me, &self.config.address, now, ttl, skew);
            match tokio::time::timeout(limit, call).await {
                Ok(outcomes) => {
                    let mut changes = Vec::new();
                    for (key, got) in outcomes {
                        match got {
                            Ok(Acquired::Granted(row)) => {
                                changes.extend(self.state().granted(&key, row.epoch, sent));
                            }
                            Ok(Acquired::Held(_)) => {}
                            Err(e) => tracing::warn!(key, error = %e, "lease not acquired"),
                        }
                    }
                    self.moved.notify_one();
                    self.emit(changes);
                }
                Err(_) => tracing::warn!(
                    keys = acquire.len(),
                    "lease acquisition timed out; the next round reads what was granted"
                ),
            }
        }
        if renew.is_empty() {
            return;
        }
        let sent = self.mono();
        let call = self
            .coord
            .renew(me, &renew, self.clock.now(), self.config.timing.ttl_ms);
        // A slow renewal still counts if it is confirmed before the holdings' deadline
        // (they are extended from its send time); the watchdog acts at the deadline
        // whatever this call does.
        let renew_limit = Duration::from_millis(self.config.timing.local_validity_ms());
        match tokio::time::timeout(renew_limit, call).await {
            Ok(Ok(lost)) => {
                crate::metrics::lease_renewal(if lost.is_empty() { "renewed" } else { "fenced" });
                if !lost.is_empty() {
                    tracing::error!(node = %me, ?lost, "leases taken by another node");
                }
                let changes = self.state().renewed(&renew, &lost, sent);
                self.moved.notify_one();
                self.emit(changes);
            }
            Ok(Err(e)) => {
                crate::metrics::lease_renewal("error");
                tracing::warn!(error = %e, "leases not renewed; retrying")
            }
            Err(_) => {
                crate::metrics::lease_renewal("error");
                tracing::warn!("lease renewal timed out; retrying")
            }
        }
    }
}
