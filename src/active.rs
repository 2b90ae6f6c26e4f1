//! One active engine per keyspace, until the cluster serves one contact center from
//! many nodes (docs/cluster.md): the engine acts only while it holds the lease
//! [`KEY`] in the store's coordination rows. A second engine started on the same
//! keyspace waits as a **standby** — its address answers `/readyz` 503 `standby` — and
//! takes over when the active one stops (at once after a graceful stop, which releases
//! the lease; `lease_ttl_ms + clock_skew_ms` after a crash). A restart under the same
//! node name takes over its previous run's lease at once.
//!
//! While active, the lease is renewed every `lease_renew_ms`. A renewal the store
//! refuses means another node took over (this one was paused or cut off longer than
//! the lease): the engine is **fenced** and stops — its sockets are told to
//! reconnect, it exits with an error — instead of serving beside the new owner. A
//! renewal that fails (the store unreachable) is retried; the engine cannot write
//! without the store anyway. The embedded store has one process by construction (its
//! file lock), and its coordination is in memory.

use crate::config::ClusterSettings;
use crate::domain::time::SharedClock;
use crate::store::coordination::{Acquired, Coordination};
use cluster::lease::{Holding, LeaseTiming};
use cluster::NodeId;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The lease of the active engine.
pub const KEY: &str = "singleton/active-engine";

/// This node's hold on [`KEY`].
pub struct Active {
    coord: Arc<dyn Coordination>,
    node: NodeId,
    timing: LeaseTiming,
    skew_ms: u64,
    clock: SharedClock,
    /// The origin of this node's monotonic milliseconds.
    origin: Instant,
    holding: Mutex<Holding>,
    fenced: AtomicBool,
    /// Raised by [`Active::release`]: renewals stop.
    stopping: tokio::sync::watch::Sender<bool>,
}

impl Active {
    /// Waits until this node holds the lease. While another engine holds it, the
    /// listen address is held by the holding server (`/readyz` 503 `standby`) and the
    /// lease is tried again every `lease_renew_ms`.
    pub async fn acquire(
        coord: Arc<dyn Coordination>,
        settings: &ClusterSettings,
        listen: std::net::SocketAddr,
        clock: SharedClock,
    ) -> anyhow::Result<Arc<Active>> {
        let timing = settings.timing();
        timing
            .validate()
            .map_err(|e| anyhow::anyhow!("invalid settings: {e}"))?;
        let node = settings.node(listen);
        let origin = Instant::now();
        let mono = |origin: Instant| origin.elapsed().as_millis() as u64;
        let reason = crate::api::holding::HoldingReason::default();
        let mut holding_server = None;
        let (granted, sent) = loop {
            let sent = mono(origin);
            match coord
                .acquire(
                    KEY,
                    &node,
                    clock.now(),
                    timing.ttl_ms,
                    settings.clock_skew_ms,
                )
                .await
            {
                Ok(Acquired::Granted(row)) => break (row, sent),
                Ok(Acquired::Held(row)) => {
                    let why = format!(
                        "engine {} holds this keyspace (epoch {}); this node ({node}) takes \
                         over when it stops",
                        row.holder, row.epoch
                    );
                    if holding_server.is_none() {
                        tracing::warn!(holder = %row.holder, node = %node, "standby: another engine is active on this keyspace");
                        holding_server = crate::api::holding::start(
                            listen,
                            "standby",
                            "scylla",
                            reason.clone(),
                        )
                        .map_err(|e| tracing::warn!(error = %e, %listen, "cannot hold the listen address as a standby"))
                        .ok();
                    }
                    reason.set(why);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the active-engine lease; retrying");
                    reason.set(format!("the lease cannot be read: {e}"));
                }
            }
            tokio::time::sleep(Duration::from_millis(timing.renew_every_ms)).await;
            // retry interval
        };
        if let Some(h) = holding_server.take() {
            h.stop(false).await;
        }
        tracing::info!(node = %node, epoch = granted.epoch, "active: this engine holds the keyspace");
        // The recorder first (installed once per process), so the gauge lands in it.
        crate::metrics::install();
        crate::metrics::lease_held(KEY, true);
        // Counted from when the granting request was sent.
        let holding = Holding::granted(granted.epoch, sent, &timing);
        Ok(Arc::new(Active {
            coord,
            node,
            timing,
            skew_ms: settings.clock_skew_ms,
            clock,
            origin,
            holding: Mutex::new(holding),
            fenced: AtomicBool::new(false),
            stopping: tokio::sync::watch::Sender::new(false),
        }))
    }

    fn mono(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64
    }

    /// The epoch this node holds the lease under.
    pub fn epoch(&self) -> u64 {
        self.holding.lock().unwrap_or_else(|p| p.into_inner()).epoch
    }

    /// Whether another node took the lease from this one.
    pub fn fenced(&self) -> bool {
        self.fenced.load(Ordering::SeqCst)
    }

    /// Renews the lease every `lease_renew_ms` until [`Active::release`] (through the
    /// whole shutdown, so no standby starts while writes finish); calls `on_fenced`
    /// once if the store says another node holds it now.
    pub fn keep(self: &Arc<Self>, on_fenced: impl FnOnce() + 'static) {
        let me = self.clone();
        let mut stop = self.stopping.subscribe();
        actix_rt::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(me.timing.renew_every_ms));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
                let sent = me.mono();
                let epoch = me.epoch();
                match me
                    .coord
                    .renew(KEY, &me.node, epoch, me.clock.now(), me.timing.ttl_ms)
                    .await
                {
                    Ok(true) => {
                        crate::metrics::lease_renewal("renewed");
                        me.holding
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .renewed(sent, &me.timing)
                    }
                    Ok(false) => {
                        crate::metrics::lease_renewal("fenced");
                        crate::metrics::lease_held(KEY, false);
                        tracing::error!(node = %me.node, epoch, "fenced: another engine took over this keyspace; stopping");
                        me.fenced.store(true, Ordering::SeqCst);
                        on_fenced();
                        return;
                    }
                    Err(e) => {
                        crate::metrics::lease_renewal("error");
                        let now = me.mono();
                        let live = me
                            .holding
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .may_serve(now);
                        tracing::warn!(error = %e, lease_live = live, skew_ms = me.skew_ms, "active-engine lease not renewed; retrying");
                    }
                }
            }
        });
    }

    /// Gives the lease up (graceful stop, once the actors have stopped): a standby
    /// takes over at once.
    pub async fn release(&self) {
        self.stopping.send_replace(true);
        if self.fenced() {
            return;
        }
        crate::metrics::lease_held(KEY, false);
        match self.coord.release(KEY, &self.node, self.epoch()).await {
            Ok(true) => tracing::info!(node = %self.node, "active-engine lease released"),
            Ok(false) => tracing::warn!(node = %self.node, "active-engine lease had moved already"),
            Err(e) => {
                tracing::warn!(error = %e, "active-engine lease not released; a standby waits for it to lapse")
            }
        }
    }
}
