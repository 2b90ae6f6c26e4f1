//! The CQL backend of cluster coordination (`store::coordination`, schema 0010): lease
//! rows written only by lightweight transactions, so racing nodes agree through Paxos
//! on one holder and one epoch. `acquire` reads the row, decides with the cluster
//! core's `claim`, and makes that decision the condition of its transaction; a refused
//! transaction returns the row as it is, which decides the answer (or, for a take that
//! lost a race, one more try). Every row lives in one partition, so a node renews all
//! it holds in one conditional batch, and takes a dead member's keys in one too.

use super::{execution_error, lwt_applied, statements, ScyllaStore};
use async_trait::async_trait;
use cluster::lease::{Claim, Lease};
use cluster::NodeId;
use domain::Millis;
use scylla::statement::batch::{Batch as CqlBatch, BatchType};
use scylla::value::CqlValue;
use std::collections::HashMap;
use store::coordination::{claim_row, wall_ms, Acquired, Coordination, LeaseRow};
use store::StoreError;

/// The partition every lease row lives in.
const PARTITION: &str = "leases";

/// Attempts of one `acquire` or `renew` that keeps losing races (each attempt learns
/// the rows).
const ATTEMPTS: usize = 3;

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("cluster_leases: {what}"))
}

fn i64_of(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A stored row from its columns.
type Columns = (
    String,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

fn row_of_columns((key, holder, incarnation, epoch, expires_at, address): Columns) -> LeaseRow {
    LeaseRow {
        key,
        lease: Lease {
            holder: NodeId {
                name: holder.unwrap_or_default(),
                incarnation: incarnation.unwrap_or(0).max(0) as u64,
            },
            epoch: epoch.unwrap_or(0).max(0) as u64,
            expires_at: expires_at.unwrap_or(0).max(0) as u64,
        },
        address: address.unwrap_or_default(),
    }
}

/// The row of `key` from an LWT's returned values.
fn row_of(key: &str, v: &HashMap<String, CqlValue>) -> Result<LeaseRow, StoreError> {
    let int = |name: &str| match v.get(name) {
        Some(CqlValue::BigInt(n)) => Ok(Some(*n)),
        None => Ok(None),
        other => Err(corrupt(&format!("{name} is {other:?}"))),
    };
    let text = |name: &str| match v.get(name) {
        Some(CqlValue::Text(s)) => Ok(Some(s.clone())),
        None => Ok(None),
        other => Err(corrupt(&format!("{name} is {other:?}"))),
    };
    Ok(row_of_columns((
        key.to_owned(),
        text("holder")?,
        int("incarnation")?,
        int("epoch")?,
        int("expires_at")?,
        text("address")?,
    )))
}

/// The row `node` holds after a granted write.
fn granted(key: &str, node: &NodeId, epoch: u64, expires_at: u64, address: &str) -> LeaseRow {
    LeaseRow {
        key: key.to_owned(),
        lease: Lease {
            holder: node.clone(),
            epoch,
            expires_at,
        },
        address: address.to_owned(),
    }
}

#[async_trait]
impl Coordination for ScyllaStore {
    async fn clock_ms(&self) -> Result<Option<u64>, StoreError> {
        // The coordinator's clock: `now()` is a time-based UUID it makes as it
        // answers. A system table, not one of ours, so not among the prepared
        // statements (`statements::ALL` is checked against `schema/`).
        const CQL: &str = "SELECT toUnixTimestamp(now()) FROM system.local";
        let result = self
            .session
            .query_unpaged(CQL, ())
            .await
            .map_err(|e| execution_error("store_clock", e))?
            .into_rows_result()
            .map_err(|e| StoreError::Backend(format!("store_clock: {e}")))?;
        let (ms,): (i64,) = result
            .single_row()
            .map_err(|e| corrupt(&format!("store_clock: {e}")))?;
        Ok(Some(u64::try_from(ms).unwrap_or(0)))
    }

    async fn leases(&self) -> Result<Vec<LeaseRow>, StoreError> {
        let rows: Vec<Columns> = self.rows(&statements::SELECT_LEASES, (PARTITION,)).await?;
        Ok(rows.into_iter().map(row_of_columns).collect())
    }

    async fn lease(&self, key: &str) -> Result<Option<LeaseRow>, StoreError> {
        let rows: Vec<Columns> = self
            .rows(&statements::SELECT_LEASE, (PARTITION, key))
            .await?;
        Ok(rows.into_iter().next().map(row_of_columns))
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
        let expires_at = wall_ms(now).saturating_add(ttl_ms);
        let (name, inc) = (node.name.as_str(), i64_of(node.incarnation));
        let mut current = self.lease(key).await?;
        for _ in 0..ATTEMPTS {
            let (res, epoch) = match claim_row(current.as_ref(), node, now, skew_ms) {
                Claim::Held => {
                    return current
                        .map(Acquired::Held)
                        .ok_or_else(|| corrupt("held by no row"))
                }
                Claim::Renew { epoch } => {
                    let lost = self
                        .renew(node, &[(key.to_owned(), epoch)], now, ttl_ms)
                        .await?;
                    if lost.is_empty() {
                        let address = current.map(|r| r.address).unwrap_or_default();
                        return Ok(Acquired::Granted(granted(
                            key, node, epoch, expires_at, &address,
                        )));
                    }
                    current = self.lease(key).await?;
                    continue;
                }
                Claim::First => {
                    let values = (PARTITION, key, name, inc, i64_of(expires_at), address);
                    (self.exec(&statements::INSERT_LEASE, values).await?, 1)
                }
                Claim::Take { epoch } => {
                    let before = i64_of(wall_ms(now).saturating_sub(skew_ms));
                    let (next, until) = (i64_of(epoch + 1), i64_of(expires_at));
                    let res = self
                        .exec(
                            &statements::TAKE_LEASE,
                            (
                                name,
                                inc,
                                next,
                                until,
                                address,
                                PARTITION,
                                key,
                                i64_of(epoch),
                                before,
                            ),
                        )
                        .await?;
                    (res, epoch + 1)
                }
                Claim::Succeed { epoch } => {
                    let (next, until) = (i64_of(epoch + 1), i64_of(expires_at));
                    let res = self
                        .exec(
                            &statements::SUCCEED_LEASE,
                            (
                                name,
                                inc,
                                next,
                                until,
                                address,
                                PARTITION,
                                key,
                                i64_of(epoch),
                                name,
                                inc,
                            ),
                        )
                        .await?;
                    (res, epoch + 1)
                }
            };
            let (applied, existing) = lwt_applied(res)?;
            let now_row = row_of(key, &existing)?;
            // Applied, or a retried Paxos round found its own write applied.
            if applied || (now_row.holder == *node && now_row.epoch == epoch) {
                return Ok(Acquired::Granted(granted(
                    key, node, epoch, expires_at, address,
                )));
            }
            // Lost a race (or the row moved since it was read): decide on what it is now.
            current = Some(now_row);
        }
        match self.lease(key).await? {
            Some(row) if row.holder != *node => Ok(Acquired::Held(row)),
            _ => Err(StoreError::Unavailable(format!(
                "lease {key}: no decision after {ATTEMPTS} attempts"
            ))),
        }
    }

    async fn acquire_many(
        &self,
        keys: &[String],
        node: &NodeId,
        address: &str,
        now: Millis,
        ttl_ms: u64,
        skew_ms: u64,
    ) -> Vec<(String, Result<Acquired, StoreError>)> {
        // Each attempt reads every row once and decides the undecided keys in at most
        // two conditional batches: the keys free to take (lapsed or released: a dead
        // member's share) and the keys this node holds already (renewed). A batch that
        // did not apply — a race lost, or a retried round finding its own write — is
        // decided again on the rows as they are then. A first holder or a succession
        // (rare: a new key, a restarted node) is decided key by key.
        let expires_at = wall_ms(now).saturating_add(ttl_ms);
        let mut decided: HashMap<String, Result<Acquired, StoreError>> = HashMap::new();
        let mut undecided: Vec<String> = keys.to_vec();
        undecided.sort_unstable();
        undecided.dedup();
        let mut singles: Vec<String> = Vec::new();
        for _ in 0..ATTEMPTS {
            if undecided.is_empty() {
                break;
            }
            let rows = match self.leases().await {
                Ok(rows) => rows,
                Err(_) => break,
            };
            let rows: HashMap<&str, &LeaseRow> = rows.iter().map(|r| (r.key.as_str(), r)).collect();
            let (mut take, mut renew) = (Vec::new(), Vec::new());
            for key in undecided.drain(..) {
                let row = rows.get(key.as_str()).copied();
                match claim_row(row, node, now, skew_ms) {
                    Claim::Held => {
                        let held = row.cloned().map(Acquired::Held);
                        decided.insert(key, held.ok_or_else(|| corrupt("held by no row")));
                    }
                    Claim::Take { epoch } => take.push((key, epoch)),
                    Claim::Renew { epoch } => renew.push((key, epoch)),
                    Claim::First | Claim::Succeed { .. } => singles.push(key),
                }
            }
            if !take.is_empty() {
                match self
                    .take_batch(node, address, &take, now, expires_at, skew_ms)
                    .await
                {
                    Ok(true) => {
                        for (key, epoch) in take {
                            let row = granted(&key, node, epoch + 1, expires_at, address);
                            decided.insert(key, Ok(Acquired::Granted(row)));
                        }
                    }
                    _ => undecided.extend(take.into_iter().map(|(k, _)| k)),
                }
            }
            if !renew.is_empty() {
                match self.renew(node, &renew, now, ttl_ms).await {
                    Ok(lost) => {
                        for (key, epoch) in renew {
                            if lost.contains(&key) {
                                undecided.push(key);
                            } else {
                                let row = granted(&key, node, epoch, expires_at, address);
                                decided.insert(key, Ok(Acquired::Granted(row)));
                            }
                        }
                    }
                    Err(_) => undecided.extend(renew.into_iter().map(|(k, _)| k)),
                }
            }
        }
        singles.append(&mut undecided);
        for key in singles {
            let got = self
                .acquire(&key, node, address, now, ttl_ms, skew_ms)
                .await;
            decided.insert(key, got);
        }
        keys.iter()
            .map(|key| {
                let got = decided
                    .get(key)
                    .cloned()
                    .unwrap_or_else(|| Err(corrupt("a key left undecided")));
                (key.clone(), got)
            })
            .collect()
    }

    async fn renew(
        &self,
        node: &NodeId,
        held: &[(String, u64)],
        now: Millis,
        ttl_ms: u64,
    ) -> Result<Vec<String>, StoreError> {
        let expires_at = wall_ms(now).saturating_add(ttl_ms);
        let mut pending: Vec<(String, u64)> = held.to_vec();
        let mut lost = Vec::new();
        for _ in 0..ATTEMPTS {
            if pending.is_empty() {
                return Ok(lost);
            }
            if self.renew_batch(node, &pending, expires_at).await? {
                return Ok(lost);
            }
            // Some condition failed (or a retried round reports its own write): learn
            // which keys are still ours from the rows as they are now.
            let rows: HashMap<String, LeaseRow> = self
                .leases()
                .await?
                .into_iter()
                .map(|r| (r.key.clone(), r))
                .collect();
            let mut still = Vec::new();
            for (key, epoch) in pending {
                match rows.get(&key) {
                    Some(r) if r.renewable_by(node, epoch) && r.expires_at == expires_at => {}
                    Some(r) if r.renewable_by(node, epoch) => still.push((key, epoch)),
                    _ => lost.push(key),
                }
            }
            pending = still;
        }
        if pending.is_empty() {
            Ok(lost)
        } else {
            Err(StoreError::Unavailable(format!(
                "lease renewal: no decision after {ATTEMPTS} attempts"
            )))
        }
    }

    async fn release_many(
        &self,
        held: &[(String, u64)],
        node: &NodeId,
    ) -> Vec<(String, Result<bool, StoreError>)> {
        // Every key in one conditional batch (one Paxos round). When it does not apply
        // — a key moved already, or a retried round finds its own write — each key is
        // released on its own, which tells those cases apart.
        if !held.is_empty() && matches!(self.release_batch(node, held).await, Ok(true)) {
            return held.iter().map(|(k, _)| (k.clone(), Ok(true))).collect();
        }
        let mut out = Vec::with_capacity(held.len());
        for (key, epoch) in held {
            out.push((key.clone(), self.release(key, node, *epoch).await));
        }
        out
    }

    async fn release(&self, key: &str, node: &NodeId, epoch: u64) -> Result<bool, StoreError> {
        let res = self
            .exec(
                &statements::RELEASE_LEASE,
                (
                    PARTITION,
                    key,
                    node.name.as_str(),
                    i64_of(node.incarnation),
                    i64_of(epoch),
                ),
            )
            .await?;
        let (applied, existing) = lwt_applied(res)?;
        if applied {
            return Ok(true);
        }
        // A retried Paxos round that finds its own write applied reports "not applied"
        // with the row as written.
        let row = row_of(key, &existing)?;
        Ok(row.releasable_by(node, epoch) && row.expires_at == 0)
    }
}

impl ScyllaStore {
    /// One conditional batch freeing every `(key, epoch)` in `held` that `node` holds
    /// under that epoch; true when it applied (all or nothing).
    async fn release_batch(
        &self,
        node: &NodeId,
        held: &[(String, u64)],
    ) -> Result<bool, StoreError> {
        let s = &statements::RELEASE_LEASE;
        let ps = self.ps(s)?;
        let values: Vec<_> = held
            .iter()
            .map(|(key, epoch)| {
                (
                    PARTITION,
                    key.as_str(),
                    node.name.as_str(),
                    i64_of(node.incarnation),
                    i64_of(*epoch),
                )
            })
            .collect();
        self.conditional_batch(s.name, ps, values).await
    }

    /// One conditional batch taking every `(key, epoch)` in `take` — each still at
    /// the epoch read and lapsed as this node's clock judges it — with the next epoch
    /// until `expires_at`; true when it applied (all or nothing).
    async fn take_batch(
        &self,
        node: &NodeId,
        address: &str,
        take: &[(String, u64)],
        now: Millis,
        expires_at: u64,
        skew_ms: u64,
    ) -> Result<bool, StoreError> {
        let s = &statements::TAKE_LEASE;
        let ps = self.ps(s)?;
        let before = i64_of(wall_ms(now).saturating_sub(skew_ms));
        let values: Vec<_> = take
            .iter()
            .map(|(key, epoch)| {
                (
                    node.name.as_str(),
                    i64_of(node.incarnation),
                    i64_of(epoch + 1),
                    i64_of(expires_at),
                    address,
                    PARTITION,
                    key.as_str(),
                    i64_of(*epoch),
                    before,
                )
            })
            .collect();
        self.conditional_batch(s.name, ps, values).await
    }

    /// One conditional batch renewing every `(key, epoch)` in `held` to `expires_at`;
    /// true when it applied (all or nothing).
    async fn renew_batch(
        &self,
        node: &NodeId,
        held: &[(String, u64)],
        expires_at: u64,
    ) -> Result<bool, StoreError> {
        let s = &statements::RENEW_LEASE;
        let ps = self.ps(s)?;
        let values: Vec<_> = held
            .iter()
            .map(|(key, epoch)| {
                (
                    i64_of(expires_at),
                    PARTITION,
                    key.as_str(),
                    node.name.as_str(),
                    i64_of(node.incarnation),
                    i64_of(*epoch),
                )
            })
            .collect();
        self.conditional_batch(s.name, ps, values).await
    }

    /// Runs `ps` once per row of `values` as one conditional batch (every row in the
    /// leases partition: one Paxos round); true when it applied.
    async fn conditional_batch<V: scylla::serialize::row::SerializeRow>(
        &self,
        name: &str,
        ps: &scylla::statement::prepared::PreparedStatement,
        values: Vec<V>,
    ) -> Result<bool, StoreError> {
        let mut batch = CqlBatch::new(BatchType::Logged);
        for _ in 0..values.len() {
            batch.append_statement(ps.clone());
        }
        if let Some(c) = ps.get_consistency() {
            batch.set_consistency(c);
        }
        batch.set_serial_consistency(ps.get_serial_consistency());
        let res = self
            .session
            .batch(&batch, values)
            .await
            .map_err(|e| execution_error(name, e))?;
        Ok(lwt_applied(res)?.0)
    }
}
