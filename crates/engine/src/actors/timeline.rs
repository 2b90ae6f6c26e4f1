//! The logical timeline of a customer: its own partition plus the partitions of every
//! record merged into it (recursively), read as one newest-first sequence.
//!
//! A merge never copies events: the survivor's `merged` list names the partitions that
//! read as part of its timeline, and undoing a merge is just removing that entry. Every
//! reader of a customer's history (the REST timeline and conversation list, the agent's
//! history request, the customer actor's `recent` and open/last-closed lookups) goes
//! through here, so the merge model lives in one place. Read-only: it never writes.

use crate::domain::{Conversation, CustomerId, EventId, TimelineEvent};
use crate::store::{SharedStore, StoreError};
use std::collections::HashSet;

/// Most partitions one logical timeline spans (a guard against a corrupt merge chain).
const MAX_PARTITIONS: usize = 64;

/// `customer` and every record merged into it, directly or through an earlier merge.
/// The customer's own id comes first; unknown ids are skipped.
pub async fn partitions(
    store: &SharedStore,
    customer: CustomerId,
) -> Result<Vec<CustomerId>, StoreError> {
    let mut out = vec![customer];
    let mut seen: HashSet<CustomerId> = out.iter().copied().collect();
    let mut i = 0;
    while i < out.len() && out.len() < MAX_PARTITIONS {
        if let Some(c) = store.customer(out[i]).await? {
            for m in c.merged {
                if seen.insert(m.customer) && out.len() < MAX_PARTITIONS {
                    out.push(m.customer);
                }
            }
        }
        i += 1;
    }
    Ok(out)
}

/// Up to `limit` events of `customer`'s logical timeline, newest first, strictly older
/// than `before` when given: the k-way merge (by time-ordered event id) of the first
/// `limit` events of each partition, so paging with the last id returned as `before`
/// reads every event exactly once.
pub async fn timeline(
    store: &SharedStore,
    customer: CustomerId,
    before: Option<EventId>,
    limit: usize,
) -> Result<Vec<TimelineEvent>, StoreError> {
    let parts = partitions(store, customer).await?;
    if parts.len() == 1 {
        return store.timeline(customer, before, limit).await;
    }
    let mut heads = Vec::with_capacity(parts.len());
    for p in parts {
        heads.push(
            store
                .timeline(p, before, limit)
                .await?
                .into_iter()
                .peekable(),
        );
    }
    let mut out = Vec::with_capacity(limit);
    while out.len() < limit {
        // The partition whose next event is the newest.
        let best = heads
            .iter_mut()
            .enumerate()
            .filter_map(|(i, h)| h.peek().map(|e| (i, e.id)))
            .max_by_key(|(_, id)| *id);
        let Some((i, _)) = best else { break };
        out.extend(heads[i].next());
    }
    Ok(out)
}

/// The conversations of `customer`'s logical timeline, newest `created_at` first (each
/// once, even if an index lists it under two partitions).
pub async fn conversations(
    store: &SharedStore,
    customer: CustomerId,
) -> Result<Vec<Conversation>, StoreError> {
    let parts = partitions(store, customer).await?;
    if parts.len() == 1 {
        return store.conversations_of(customer).await;
    }
    let mut all = Vec::new();
    let mut seen = HashSet::new();
    for p in parts {
        for c in store.conversations_of(p).await? {
            if seen.insert(c.id) {
                all.push(c);
            }
        }
    }
    all.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    Ok(all)
}
