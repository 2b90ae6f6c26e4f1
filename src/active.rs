//! One active engine per keyspace, until the cluster serves one contact center from
//! many nodes (docs/cluster.md). Built on the engine's ownership loop
//! ([`crate::ownership::Driver`]) with one sticky key, [`KEY`], and no placed keys yet.
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
//! The ownership loop renews everything in one call every `lease_renew_ms`. The active
//! engine stops — its sockets are told to reconnect, it exits with an error — instead
//! of serving beside a new owner when it loses [`KEY`]:
//! - taken: the store refused a renewal (another engine took over: this one was paused
//!   or cut off longer than the lease, or a newer run of its name started) —
//!   **fenced**;
//! - at its own deadline, with no renewal confirmed (the store unreachable or too slow
//!   for `Holding`'s local validity, 3.7 s with the defaults; the loop's watchdog does
//!   not wait for a hanging call): from then on another engine may take over at any
//!   moment, so it steps down first — **lapsed**. Run engines under a supervisor that
//!   restarts them: the restart takes the keyspace back at once if nobody else did, or
//!   waits as a standby.
//!
//! The embedded store has one process by construction (its file lock), and its
//! coordination is in memory.

use crate::config::ClusterSettings;
use crate::domain::time::SharedClock;
use crate::ownership::{Config, Driver};
use crate::store::coordination::{wall_ms, Coordination};
use cluster::membership;
use cluster::ownership::{Change, Why};
use cluster::NodeId;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;

/// The lease of the active engine.
pub const KEY: &str = "singleton/active-engine";

/// Why the active engine stopped serving on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepDown {
    /// The store refused a renewal: another engine (or a newer run of this node's
    /// name) holds the keyspace now.
    Fenced,
    /// No renewal was confirmed before this node's own deadline.
    Lapsed,
}

/// This node's membership and its hold on [`KEY`].
pub struct Active {
    driver: Arc<Driver>,
    address: String,
    /// Changes after the start, until [`Active::keep`] takes them.
    changes: Mutex<Option<UnboundedReceiver<Change>>>,
    step_down: Mutex<Option<StepDown>>,
    /// How long the hand-over at a graceful stop may take.
    release_limit: Duration,
}

impl Active {
    /// Joins the cluster and waits until this node holds the lease. While another
    /// engine holds it, the listen address is held by the holding server (`/readyz`
    /// 503 `standby`, saying who is active) while the ownership loop keeps the
    /// membership and asks for the lease every `lease_renew_ms`.
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
        if settings.lease_poll_ms == 0 || settings.lease_poll_ms > settings.lease_renew_ms {
            anyhow::bail!(
                "invalid settings: cluster.lease_poll_ms ({}) must be between 1 and \
                 cluster.lease_renew_ms ({})",
                settings.lease_poll_ms,
                settings.lease_renew_ms
            );
        }
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
                        holding_server = hold(listen, &reason);
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
        let member = membership::key(&node.name);
        let (driver, mut changes) = Driver::start(
            coord.clone(),
            clock.clone(),
            Config {
                node: node.clone(),
                address: address.clone(),
                timing,
                skew_ms: skew,
                poll_ms: settings.lease_poll_ms,
                keys: Vec::new(),
                sticky: vec![KEY.to_owned()],
            },
        );
        let epoch = loop {
            tokio::select! {
                change = changes.recv() => match change {
                    Some(Change::Gained { key, epoch }) if key == KEY => break epoch,
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
                        holding_server = hold(listen, &reason);
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
        Ok(Arc::new(Active {
            driver,
            address,
            changes: Mutex::new(Some(changes)),
            step_down: Mutex::new(None),
            release_limit: every * 3,
        }))
    }

    /// The epoch this node holds the lease under, while it does.
    pub fn epoch(&self) -> Option<u64> {
        self.driver.owns(KEY)
    }

    /// This run of this node.
    pub fn node(&self) -> &NodeId {
        self.driver.node()
    }

    /// Where other nodes reach this one.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Why this engine stopped serving on its own, if it did.
    pub fn stepped_down(&self) -> Option<StepDown> {
        *self.step_down.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Watches the ownership loop until the process ends; calls `on_step_down` once
    /// if [`KEY`] is taken or lapses.
    pub fn keep(self: &Arc<Self>, on_step_down: impl FnOnce() + 'static) {
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
            while let Some(change) = changes.recv().await {
                let Change::Lost { key, why } = change else {
                    continue;
                };
                let why = match why {
                    _ if key != KEY => continue,
                    Why::Taken => StepDown::Fenced,
                    Why::Deadline => StepDown::Lapsed,
                    Why::HandedOver => return,
                };
                match why {
                    StepDown::Fenced => {
                        tracing::error!(node = %me.node(), "fenced: another engine took over this keyspace; stopping")
                    }
                    StepDown::Lapsed => {
                        tracing::error!(node = %me.node(), "lease lapsed: no renewal confirmed in time; stepping down before another engine may take over")
                    }
                }
                *me.step_down.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
                on_step_down();
                return;
            }
        });
    }

    /// Gives the lease and the membership up (graceful stop, once the actors have
    /// stopped): a standby takes over at once, and the node leaves the cluster view.
    pub async fn release(&self) {
        self.driver.stop(self.release_limit).await;
        tracing::info!(node = %self.node(), "leases released");
    }
}

/// Holds the listen address as a standby (or while the leases cannot be read).
fn hold(
    listen: std::net::SocketAddr,
    reason: &crate::api::holding::HoldingReason,
) -> Option<actix_web::dev::ServerHandle> {
    crate::api::holding::start(listen, "standby", "scylla", reason.clone())
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
