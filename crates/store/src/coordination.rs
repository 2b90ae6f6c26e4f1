//! Cluster coordination through the store (docs/cluster.md): one lease row per owned
//! key (`shard/17`, `queue/support`, `singleton/hub`) and per member (`node/<name>`),
//! taken and renewed by compare-and-set, with an epoch that grows on every change of
//! holder. Every backend applies the one rule of `switchboard_cluster::lease::claim`
//! (the embedded store in memory, the CQL store as the conditions of lightweight
//! transactions).
//!
//! Expiry is judged on the holders' wall clocks: a holder writes `expires_at = now +
//! ttl` when it takes or renews; another node takes the key only once its own clock is
//! past `expires_at + skew` (`skew` bounds the difference between two nodes' clocks).
//! The holder itself stops acting earlier, on its monotonic clock (`Holding`), so the
//! two never overlap while clocks stay within the bound. A released row has
//! `expires_at = 0` and is free at once. A node name is one process: a newer
//! incarnation of the holder's name takes the key at once, and an older one can never
//! take it back. Rows are never deleted: the epoch keeps growing across holders,
//! restarts and releases.
//!
//! A node renews everything it holds in one call ([`Coordination::renew`]; one
//! conditional batch on the CQL store), so the cost of holding keys does not grow with
//! their number; it takes the keys a dead member left in one call too
//! ([`Coordination::acquire_many`]).

use crate::StoreError;
use async_trait::async_trait;
use cluster::lease::{claim, Claim, Lease, LeaseTable};
use cluster::NodeId;
use domain::Millis;

/// A lease as stored: the key, the lease, and where its holder can be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRow {
    pub key: String,
    pub lease: Lease,
    /// The holder's address for other nodes (`host:port`); empty when unknown.
    pub address: String,
}

impl std::ops::Deref for LeaseRow {
    type Target = Lease;
    fn deref(&self) -> &Lease {
        &self.lease
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

/// The members among lease `rows` ([`cluster::membership::members`]) as a
/// node whose wall clock reads `now` sees them, by name.
pub fn members(rows: &[LeaseRow], now: u64, skew_ms: u64) -> Vec<cluster::membership::Member> {
    cluster::membership::members(
        rows.iter()
            .map(|r| (r.key.as_str(), &r.lease, r.address.as_str())),
        now,
        skew_ms,
    )
}

/// Milliseconds since the epoch as the lease rules count them (never negative).
pub fn wall_ms(now: Millis) -> u64 {
    u64::try_from(now.0).unwrap_or(0)
}

/// Lease rows with compare-and-set. Every backend passes
/// `conformance::coordination` (feature `testkit`).
#[async_trait]
pub trait Coordination: Send + Sync + 'static {
    /// Every row (keys and members), lapsed or not.
    async fn leases(&self) -> Result<Vec<LeaseRow>, StoreError>;

    /// The row of `key`, if there is one (lapsed or not).
    async fn lease(&self, key: &str) -> Result<Option<LeaseRow>, StoreError>;

    /// Takes `key` for `node` (reachable at `address`) by `cluster::lease::claim`:
    /// granted when there is no row, the row lapsed or was released, or is held by an
    /// earlier incarnation of `node` — the epoch grows by one — or `node` holds it
    /// already (renewed, same epoch). Exactly one of many racing callers wins.
    async fn acquire(
        &self,
        key: &str,
        node: &NodeId,
        address: &str,
        now: Millis,
        ttl_ms: u64,
        skew_ms: u64,
    ) -> Result<Acquired, StoreError>;

    /// [`Coordination::acquire`] for each of `keys`, one outcome per key in the
    /// order given. A takeover asks for every key of a dead member at once; a backend
    /// that can decide many keys in one round trip does (the CQL store takes every
    /// lapsed key in one conditional batch), so the time to take a dead member's share
    /// does not grow with the number of its keys. The default asks key by key.
    async fn acquire_many(
        &self,
        keys: &[String],
        node: &NodeId,
        address: &str,
        now: Millis,
        ttl_ms: u64,
        skew_ms: u64,
    ) -> Vec<(String, Result<Acquired, StoreError>)> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let got = self.acquire(key, node, address, now, ttl_ms, skew_ms).await;
            out.push((key.clone(), got));
        }
        out
    }

    /// Extends every lease in `held` (key, epoch) that `node` still holds to `now +
    /// ttl_ms`, and returns the keys it no longer holds (another holder or epoch, or
    /// released): the caller must stop acting as their owner. An error renews nothing
    /// for certain; the caller retries.
    async fn renew(
        &self,
        node: &NodeId,
        held: &[(String, u64)],
        now: Millis,
        ttl_ms: u64,
    ) -> Result<Vec<String>, StoreError>;

    /// Frees the lease `node` holds under `epoch` at once (a graceful hand-off). False
    /// when it had moved already.
    async fn release(&self, key: &str, node: &NodeId, epoch: u64) -> Result<bool, StoreError>;

    /// [`Coordination::release`] for each of `held` (key, epoch), one outcome per key
    /// in the order given. A graceful stop hands every key over at once; a backend
    /// that can free many keys in one round trip does (the CQL store: one conditional
    /// batch), so the other members take them without waiting for one release per
    /// key. The default releases key by key.
    async fn release_many(
        &self,
        held: &[(String, u64)],
        node: &NodeId,
    ) -> Vec<(String, Result<bool, StoreError>)> {
        let mut out = Vec::with_capacity(held.len());
        for (key, epoch) in held {
            out.push((key.clone(), self.release(key, node, *epoch).await));
        }
        out
    }

    /// The store's own wall clock, in milliseconds since the epoch, read by the store
    /// (the coordinator that answers): what a node compares its clock with before it
    /// joins (`cluster::clock`). `None` for a store in this process, whose clock is
    /// this node's.
    async fn clock_ms(&self) -> Result<Option<u64>, StoreError> {
        Ok(None)
    }
}

/// The embedded store's coordination: one process owns the database file (redb's lock
/// refuses a second), so there is nobody to coordinate with; the rules are kept in
/// memory all the same (the cluster core's [`LeaseTable`]), so code written for a
/// cluster behaves the same on one node. Epochs restart with the process.
#[derive(Debug, Default)]
pub struct LocalCoordination {
    state: std::sync::Mutex<Local>,
}

#[derive(Debug, Default)]
struct Local {
    table: LeaseTable,
    addresses: std::collections::BTreeMap<String, String>,
}

impl Local {
    fn row(&self, key: &str) -> Option<LeaseRow> {
        self.table.row(key).map(|l| LeaseRow {
            key: key.to_owned(),
            lease: l.clone(),
            address: self.addresses.get(key).cloned().unwrap_or_default(),
        })
    }
}

impl LocalCoordination {
    fn state(&self) -> std::sync::MutexGuard<'_, Local> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl Coordination for LocalCoordination {
    async fn leases(&self) -> Result<Vec<LeaseRow>, StoreError> {
        let s = self.state();
        Ok(s.table.rows().filter_map(|(k, _)| s.row(k)).collect())
    }

    async fn lease(&self, key: &str) -> Result<Option<LeaseRow>, StoreError> {
        Ok(self.state().row(key))
    }

    async fn acquire(
        &self,
        key: &str,
        node: &NodeId,
        address: &str,
        now: Millis,
        ttl_ms: u64,
        skew_ms: u64,
    ) -> Result<Acquired, StoreError> {
        let mut s = self.state();
        match s.table.acquire(key, node, wall_ms(now), ttl_ms, skew_ms) {
            Ok(_) => {
                s.addresses.insert(key.to_owned(), address.to_owned());
                Ok(Acquired::Granted(s.row(key).ok_or_else(|| {
                    StoreError::Corrupt(format!("lease {key} granted but absent"))
                })?))
            }
            Err(_) => Ok(Acquired::Held(s.row(key).ok_or_else(|| {
                StoreError::Corrupt(format!("lease {key} held but absent"))
            })?)),
        }
    }

    async fn renew(
        &self,
        node: &NodeId,
        held: &[(String, u64)],
        now: Millis,
        ttl_ms: u64,
    ) -> Result<Vec<String>, StoreError> {
        let mut s = self.state();
        Ok(held
            .iter()
            .filter(|(key, epoch)| {
                s.table
                    .renew(key, node, *epoch, wall_ms(now), ttl_ms)
                    .is_err()
            })
            .map(|(key, _)| key.clone())
            .collect())
    }

    async fn release(&self, key: &str, node: &NodeId, epoch: u64) -> Result<bool, StoreError> {
        Ok(self.state().table.release(key, node, epoch))
    }
}

/// What an `acquire` may do given the row it read: [`claim`] on the stored row.
pub fn claim_row(row: Option<&LeaseRow>, node: &NodeId, now: Millis, skew_ms: u64) -> Claim {
    claim(row.map(|r| &r.lease), node, wall_ms(now), skew_ms)
}
