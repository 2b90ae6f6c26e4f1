//! Row fences on ScyllaDB (docs/cluster.md, "Fenced rows"): the customer and
//! conversation rows a batch rewrites under a lease ([`store::Batch::leases`]).
//!
//! This module owns three steps of [`crate::ScyllaStore`]'s `commit`: reading the lease
//! each such row was last written under (`fence_key`, `fence_epoch`,
//! `schema/0012_row_fences.cql`), refusing the batch before anything of it is written
//! when [`RowLease::may_overwrite`] says no, and writing each row with a lightweight
//! transaction that applies only if the row's fence is still the one read. A write of a
//! later epoch that lands between the read and the write is found by the failed
//! compare-and-set, checked again, and refused; one of the same lease is retried.

use super::{lwt_applied, statements, IdentityUdt, ScyllaStore};
use domain::{AgentId, Conversation, Customer};
use scylla::value::CqlValue;
use store::{RowLease, StoreError};
use uuid::Uuid;

/// A row's fence columns as stored: both null on a row never written under a lease.
pub(crate) type FenceCols = (Option<String>, Option<i64>);

/// Compare-and-set rounds of one row before giving up (each lost round means another
/// write of the row landed in between; a few only ever happen under contention).
const CAS_TRIES: usize = 5;

/// The lease a row's fence columns name, if both are set.
pub(crate) fn stored(cols: &FenceCols) -> Option<RowLease> {
    match cols {
        (Some(key), Some(epoch)) => Some(RowLease {
            key: key.clone(),
            epoch: u64::try_from(*epoch).unwrap_or(0),
        }),
        _ => None,
    }
}

/// `Ok` if a write under `lease` may replace a row fenced by `cols`.
pub(crate) fn check(lease: &RowLease, row: &str, cols: &FenceCols) -> Result<(), StoreError> {
    let stored = stored(cols);
    if lease.may_overwrite(stored.as_ref()) {
        return Ok(());
    }
    Err(match stored {
        Some(s) => lease.refused(row, &s),
        None => StoreError::Backend(format!("{row}: fence check failed on an unfenced row")),
    })
}

fn epoch(lease: &RowLease) -> Result<i64, StoreError> {
    i64::try_from(lease.epoch)
        .map_err(|_| StoreError::Backend(format!("lease epoch {} out of range", lease.epoch)))
}

/// The values of [`statements::UPDATE_CONVERSATION_FENCED`], in its order (more than a
/// tuple's sixteen).
#[derive(scylla::SerializeRow)]
#[scylla(flavor = "enforce_order", skip_name_checks)]
struct ConversationCas<'a> {
    customer_id: Uuid,
    channel: &'a str,
    queue: &'a str,
    state: &'a str,
    priority: i32,
    created_at: i64,
    enqueued_at: i64,
    enqueue_seq: i64,
    agent: Option<&'a str>,
    preferred_agent: Option<&'a str>,
    required_agent: Option<&'a str>,
    disposition: Option<&'a str>,
    updated_at: i64,
    requirements: Option<&'a str>,
    fence_key: &'a str,
    fence_epoch: i64,
    conversation_id: Uuid,
    was_key: Option<String>,
    was_epoch: Option<i64>,
}

impl ScyllaStore {
    /// The fence of `c`'s row now (the conversation's is read with its owner).
    pub(crate) async fn customer_fence(&self, c: &Customer) -> Result<FenceCols, StoreError> {
        let rows: Vec<FenceCols> = self
            .rows(&statements::SELECT_CUSTOMER_FENCE, (c.id.0,))
            .await?;
        Ok(rows.into_iter().next().unwrap_or((None, None)))
    }

    /// Writes `c`'s row under `lease`, over the fence `seen` was read as.
    pub(crate) async fn fenced_customer(
        &self,
        c: &Customer,
        lease: &RowLease,
        seen: FenceCols,
    ) -> Result<(), StoreError> {
        let identities: Vec<IdentityUdt> = c.identities.iter().map(IdentityUdt::of).collect();
        let opted_out: Vec<String> = c
            .opted_out
            .iter()
            .map(|ch| ch.as_str().to_owned())
            .collect();
        let merged = (!c.merged.is_empty())
            .then(|| serde_json::to_string(&c.merged).ok())
            .flatten();
        let fence_epoch = epoch(lease)?;
        let row = format!("customer {}", c.id);
        self.compare_and_set(
            &statements::UPDATE_CUSTOMER_FENCED,
            &row,
            lease,
            seen,
            |was| {
                (
                    c.display_name.as_deref(),
                    identities.clone(),
                    c.priority,
                    &c.attributes,
                    c.last_agent.as_ref().map(AgentId::as_str),
                    opted_out.clone(),
                    c.merged_into.map(|m| m.0),
                    merged.as_deref(),
                    c.created_at.0,
                    lease.key.as_str(),
                    fence_epoch,
                    c.id.0,
                    was.0.clone(),
                    was.1,
                )
            },
        )
        .await
    }

    /// Writes `c`'s record row under `lease`, over the fence `seen` was read as (its
    /// copies follow once this applied).
    pub(crate) async fn fenced_conversation(
        &self,
        c: &Conversation,
        lease: &RowLease,
        seen: FenceCols,
    ) -> Result<(), StoreError> {
        let v = super::conversation_values(c)?;
        let fence_epoch = epoch(lease)?;
        let row = format!("conversation {}", c.id);
        self.compare_and_set(
            &statements::UPDATE_CONVERSATION_FENCED,
            &row,
            lease,
            seen,
            |was| ConversationCas {
                customer_id: v.1,
                channel: v.2,
                queue: v.3,
                state: v.4,
                priority: v.5,
                created_at: v.6,
                enqueued_at: v.7,
                enqueue_seq: v.8,
                agent: v.9,
                preferred_agent: v.10,
                required_agent: v.11,
                disposition: v.12,
                updated_at: v.13,
                requirements: v.14.as_deref(),
                fence_key: lease.key.as_str(),
                fence_epoch,
                conversation_id: v.0,
                was_key: was.0.clone(),
                was_epoch: was.1,
            },
        )
        .await
    }

    /// Runs `stmt` (an update ending `IF fence_key = ? AND fence_epoch = ?`) with the
    /// values `values` makes from the fence last seen, until it applies or the row's
    /// fence refuses `lease`.
    async fn compare_and_set<V: scylla::serialize::row::SerializeRow>(
        &self,
        stmt: &'static statements::Stmt,
        row: &str,
        lease: &RowLease,
        mut seen: FenceCols,
        values: impl Fn(&FenceCols) -> V,
    ) -> Result<(), StoreError> {
        for _ in 0..CAS_TRIES {
            check(lease, row, &seen)?;
            let (applied, now) = lwt_applied(self.exec(stmt, values(&seen)).await?)?;
            if applied {
                return Ok(());
            }
            // Not applied: the answer carries the fence the row has now (a Paxos
            // retry can also report its own applied write this way; the same lease
            // passes the check and the next round applies it again).
            seen = (
                match now.get("fence_key") {
                    Some(CqlValue::Text(k)) => Some(k.clone()),
                    _ => None,
                },
                match now.get("fence_epoch") {
                    Some(CqlValue::BigInt(e)) => Some(*e),
                    _ => None,
                },
            );
        }
        Err(StoreError::Unavailable(format!(
            "{row}: rewritten by others {CAS_TRIES} times while this write tried; retry"
        )))
    }
}
