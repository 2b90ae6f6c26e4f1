//! Cluster coordination through the store (docs/cluster.md): one lease row per owned
//! key (`shard/17`, `queue/support`, `singleton/hub`), taken and renewed by
//! compare-and-set, with an epoch that grows on every change of holder — the rules of
//! `switchboard_cluster::lease::LeaseTable`, made durable.
//!
//! Expiry is judged on the holders' wall clocks: a holder writes `expires_at = now +
//! ttl` when it takes or renews; another node takes the key only once its own clock is
//! past `expires_at + skew` (`skew` bounds the difference between two nodes' clocks).
//! The holder itself stops acting earlier, on its monotonic clock (`Holding`), so the
//! two never overlap while clocks stay within the bound. A released row has
//! `expires_at = 0` and is free at once. A node name is one process: a newer
//! incarnation of the holder's name (the same node, restarted) takes the key at once,
//! its previous run being dead — as an Orleans silo's new generation declares the old
//! one dead — and an older incarnation can never take it back. Rows are never deleted:
//! the epoch keeps growing across holders, restarts and releases.

use crate::StoreError;
use async_trait::async_trait;
use cluster::NodeId;
use domain::Millis;

/// A lease as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRow {
    pub key: String,
    pub holder: NodeId,
    pub epoch: u64,
    /// On the holder's wall clock; 0 once released.
    pub expires_at: Millis,
}

impl LeaseRow {
    /// Whether a node whose clock reads `now` may take it (see the module docs).
    pub fn lapsed(&self, now: Millis, skew_ms: u64) -> bool {
        self.expires_at.0.saturating_add(skew_ms as i64) < now.0
    }

    /// Whether `node` is a later run of this row's holder (same name, newer
    /// incarnation): it takes the key at once.
    pub fn succeeded_by(&self, node: &NodeId) -> bool {
        self.holder.name == node.name && self.holder.incarnation < node.incarnation
    }
}

/// The outcome of [`Coordination::acquire`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquired {
    /// Taken (a new epoch) or renewed (the caller held it already).
    Granted(LeaseRow),
    /// Another node holds it.
    Held(LeaseRow),
}

/// Lease rows with compare-and-set. Every backend passes
/// `conformance::coordination` (feature `testkit`).
#[async_trait]
pub trait Coordination: Send + Sync + 'static {
    /// The row of `key`, if there is one (lapsed or not).
    async fn lease(&self, key: &str) -> Result<Option<LeaseRow>, StoreError>;

    /// Takes `key` for `node`: granted when there is no row, or the row lapsed
    /// ([`LeaseRow::lapsed`]), was released or is held by an earlier incarnation of
    /// `node` ([`LeaseRow::succeeded_by`]) — the epoch grows by one — or `node` holds
    /// it already (renewed, same epoch). Exactly one of many racing callers wins.
    async fn acquire(
        &self,
        key: &str,
        node: &NodeId,
        now: Millis,
        ttl_ms: u64,
        skew_ms: u64,
    ) -> Result<Acquired, StoreError>;

    /// Extends the lease `node` holds under `epoch` to `now + ttl_ms`. False when it
    /// moved (another holder or epoch): the caller must stop acting as owner.
    async fn renew(
        &self,
        key: &str,
        node: &NodeId,
        epoch: u64,
        now: Millis,
        ttl_ms: u64,
    ) -> Result<bool, StoreError>;

    /// Frees the lease `node` holds under `epoch` at once (a graceful hand-off). False
    /// when it had moved already.
    async fn release(&self, key: &str, node: &NodeId, epoch: u64) -> Result<bool, StoreError>;
}

/// The embedded store's coordination: one process owns the database file (redb's lock
/// refuses a second), so there is nobody to coordinate with; the rules are kept in
/// memory all the same, so code written for a cluster behaves the same on one node.
/// Epochs restart with the process.
#[derive(Debug, Default)]
pub struct LocalCoordination {
    rows: std::sync::Mutex<std::collections::BTreeMap<String, LeaseRow>>,
}

impl LocalCoordination {
    fn rows(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeMap<String, LeaseRow>> {
        self.rows.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl Coordination for LocalCoordination {
    async fn lease(&self, key: &str) -> Result<Option<LeaseRow>, StoreError> {
        Ok(self.rows().get(key).cloned())
    }

    async fn acquire(
        &self,
        key: &str,
        node: &NodeId,
        now: Millis,
        ttl_ms: u64,
        skew_ms: u64,
    ) -> Result<Acquired, StoreError> {
        let mut rows = self.rows();
        let expires_at = Millis(now.0.saturating_add(ttl_ms as i64));
        let epoch = match rows.get_mut(key) {
            Some(r) if r.holder == *node && r.expires_at.0 > 0 => {
                r.expires_at = expires_at;
                return Ok(Acquired::Granted(r.clone()));
            }
            Some(r) if !r.lapsed(now, skew_ms) && !r.succeeded_by(node) => {
                return Ok(Acquired::Held(r.clone()))
            }
            Some(r) => r.epoch + 1,
            None => 1,
        };
        let row = LeaseRow {
            key: key.to_owned(),
            holder: node.clone(),
            epoch,
            expires_at,
        };
        rows.insert(key.to_owned(), row.clone());
        Ok(Acquired::Granted(row))
    }

    async fn renew(
        &self,
        key: &str,
        node: &NodeId,
        epoch: u64,
        now: Millis,
        ttl_ms: u64,
    ) -> Result<bool, StoreError> {
        Ok(match self.rows().get_mut(key) {
            Some(r) if r.holder == *node && r.epoch == epoch && r.expires_at.0 > 0 => {
                r.expires_at = Millis(now.0.saturating_add(ttl_ms as i64));
                true
            }
            _ => false,
        })
    }

    async fn release(&self, key: &str, node: &NodeId, epoch: u64) -> Result<bool, StoreError> {
        Ok(match self.rows().get_mut(key) {
            Some(r) if r.holder == *node && r.epoch == epoch => {
                r.expires_at = Millis(0);
                true
            }
            _ => false,
        })
    }
}
