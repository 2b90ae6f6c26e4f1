//! The CQL backend of cluster coordination (`store::coordination`, schema 0009): lease
//! rows written only by lightweight transactions, so racing nodes agree through Paxos
//! on one holder and one epoch. A refused transaction returns the row as it is, which
//! decides the answer (or, for a take that lost a race, one more try).

use super::{lwt_applied, statements, ScyllaStore};
use async_trait::async_trait;
use cluster::NodeId;
use domain::Millis;
use scylla::value::CqlValue;
use std::collections::HashMap;
use store::coordination::{Acquired, Coordination, LeaseRow};
use store::StoreError;

/// Attempts of one `acquire` that keeps losing races (each attempt learns the row).
const ACQUIRE_ATTEMPTS: usize = 3;

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("leases: {what}"))
}

/// The row of `key` from an LWT's returned values (or a read).
fn row_of(key: &str, v: &HashMap<String, CqlValue>) -> Result<LeaseRow, StoreError> {
    let int = |name: &str| match v.get(name) {
        Some(CqlValue::BigInt(n)) => Ok(*n),
        None => Ok(0),
        other => Err(corrupt(&format!("{name} is {other:?}"))),
    };
    let holder = match v.get("holder") {
        Some(CqlValue::Text(s)) => s.clone(),
        None => String::new(),
        other => return Err(corrupt(&format!("holder is {other:?}"))),
    };
    Ok(LeaseRow {
        key: key.to_owned(),
        holder: NodeId {
            name: holder,
            incarnation: int("incarnation")? as u64,
        },
        epoch: int("epoch")? as u64,
        expires_at: Millis(int("expires_at")?),
    })
}

fn i64_of(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[async_trait]
impl Coordination for ScyllaStore {
    async fn lease(&self, key: &str) -> Result<Option<LeaseRow>, StoreError> {
        type Row = (Option<String>, Option<i64>, Option<i64>, Option<i64>);
        let rows: Vec<Row> = self.rows(&statements::SELECT_LEASE, (key,)).await?;
        Ok(rows.into_iter().next().map(|(h, i, e, x)| LeaseRow {
            key: key.to_owned(),
            holder: NodeId {
                name: h.unwrap_or_default(),
                incarnation: i.unwrap_or(0) as u64,
            },
            epoch: e.unwrap_or(0) as u64,
            expires_at: Millis(x.unwrap_or(0)),
        }))
    }

    async fn acquire(
        &self,
        key: &str,
        node: &NodeId,
        now: Millis,
        ttl_ms: u64,
        skew_ms: u64,
    ) -> Result<Acquired, StoreError> {
        let expires_at = now.0.saturating_add(i64_of(ttl_ms));
        let mut current = self.lease(key).await?;
        for _ in 0..ACQUIRE_ATTEMPTS {
            let row = match current.take() {
                None => {
                    let res = self
                        .exec(
                            &statements::INSERT_LEASE,
                            (
                                key,
                                node.name.as_str(),
                                i64_of(node.incarnation),
                                expires_at,
                            ),
                        )
                        .await?;
                    let (applied, existing) = lwt_applied(res)?;
                    let row = row_of(key, &existing)?;
                    if applied || (row.holder == *node && row.epoch == 1) {
                        // Applied, or a retried Paxos round found our own insert.
                        return Ok(Acquired::Granted(LeaseRow {
                            key: key.to_owned(),
                            holder: node.clone(),
                            epoch: 1,
                            expires_at: Millis(expires_at),
                        }));
                    }
                    row
                }
                Some(row) => row,
            };
            if row.holder == *node && row.expires_at.0 > 0 {
                return if self.renew(key, node, row.epoch, now, ttl_ms).await? {
                    Ok(Acquired::Granted(LeaseRow {
                        expires_at: Millis(expires_at),
                        ..row
                    }))
                } else {
                    current = self.lease(key).await?;
                    continue;
                };
            }
            let succession = row.succeeded_by(node);
            if !succession && !row.lapsed(now, skew_ms) {
                return Ok(Acquired::Held(row));
            }
            let epoch = row.epoch + 1;
            let res = if succession {
                self.exec(
                    &statements::SUCCEED_LEASE,
                    (
                        node.name.as_str(),
                        i64_of(node.incarnation),
                        i64_of(epoch),
                        expires_at,
                        key,
                        i64_of(row.epoch),
                        node.name.as_str(),
                        i64_of(node.incarnation),
                    ),
                )
                .await?
            } else {
                let before = now.0.saturating_sub(i64_of(skew_ms));
                self.exec(
                    &statements::TAKE_LEASE,
                    (
                        node.name.as_str(),
                        i64_of(node.incarnation),
                        i64_of(epoch),
                        expires_at,
                        key,
                        i64_of(row.epoch),
                        before,
                    ),
                )
                .await?
            };
            let (applied, existing) = lwt_applied(res)?;
            let now_row = row_of(key, &existing)?;
            if applied || (now_row.holder == *node && now_row.epoch == epoch) {
                return Ok(Acquired::Granted(LeaseRow {
                    key: key.to_owned(),
                    holder: node.clone(),
                    epoch,
                    expires_at: Millis(expires_at),
                }));
            }
            // Lost a race (or the row moved since it was read): decide on what it is now.
            current = Some(now_row);
        }
        match self.lease(key).await? {
            Some(row) if row.holder != *node => Ok(Acquired::Held(row)),
            _ => Err(StoreError::Unavailable(format!(
                "lease {key}: no decision after {ACQUIRE_ATTEMPTS} attempts"
            ))),
        }
    }

    async fn renew(
        &self,
        key: &str,
        node: &NodeId,
        epoch: u64,
        now: Millis,
        ttl_ms: u64,
    ) -> Result<bool, StoreError> {
        let expires_at = now.0.saturating_add(i64_of(ttl_ms));
        self.set_expiry(key, node, epoch, expires_at).await
    }

    async fn release(&self, key: &str, node: &NodeId, epoch: u64) -> Result<bool, StoreError> {
        self.set_expiry(key, node, epoch, 0).await
    }
}

impl ScyllaStore {
    /// Sets the expiry of the lease `node` holds under `epoch` (0 releases it).
    async fn set_expiry(
        &self,
        key: &str,
        node: &NodeId,
        epoch: u64,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let res = self
            .exec(
                &statements::RENEW_LEASE,
                (
                    expires_at,
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
        Ok(row.holder == *node && row.epoch == epoch && row.expires_at.0 == expires_at)
    }
}
