//! Privacy operations on one customer, for admins: **export** everything the engine
//! holds about them (profile, identities, every timeline event including merged
//! records', conversations) as one JSON document, and **erase** their personal data.
//!
//! Erasure removes: the timeline (every event: messages, notes, attachments' names,
//! addresses), every identity link (the addresses resolve to nobody; a new message
//! from one starts a new customer), the profile's personal fields (display name,
//! identities, attributes, opt-outs, merged-record list, last agent) and each
//! conversation's free-text disposition. It keeps what aggregate reports need and
//! nothing personal: the customer and conversation ids (random), conversation
//! channel, queue, state, timestamps and agents; Prometheus counters are not touched.
//! The customer record keeps `attributes.erased_at` so readers can tell.
//!
//! What survives of the messages a provider delivered with an id (SMS, voice, LINE,
//! Messenger, email) is one tombstone each: the id's keyed hash, the channel and an
//! expiry (`crate::tombstones`, `limits.erasure_tombstone_retention_ms`), written in
//! the same store call, so a redelivery or a replayed webhook of one of them is dropped
//! instead of creating the customer again.
//!
//! An erasure refuses (`conflict`) while the customer has an open conversation or a
//! connected web chat (resolve it first), or when the record was merged into another
//! (erase the survivor, which erases the merged records too). The customer actor is
//! retired first (it takes no work during the erasure) and evicted after, so nothing
//! it cached survives. Both operations write an audit entry (`store::AuditEntry`); an
//! erasure writes it in the same store call as the erasure itself.

use super::customer::identity::{Evict, Retire, Unretire};
use super::messages::{EngineError, EngineResult};
use super::registry::Engine;
use crate::domain::ErrorCode;
use crate::domain::{AgentId, CustomerId, EventId};
use crate::store::{AuditEntry, Erasure};
use serde::Serialize;

/// Timeline events exported per customer at most (a larger history is cut and the
/// export says so).
pub const MAX_EXPORT_EVENTS: usize = 100_000;
const PAGE: usize = 1_000;

/// What an erasure did, in counts (the audit entry's detail).
#[derive(Debug, Clone, Serialize)]
pub struct ErasureReport {
    pub customer_id: CustomerId,
    pub erased_at: crate::domain::Millis,
    pub records: usize,
    pub identities: usize,
    pub events: usize,
    pub conversations: usize,
    /// Provider message ids kept as tombstones (keyed hashes).
    pub tombstones: usize,
}

fn conflict(m: impl Into<String>) -> EngineError {
    EngineError::new(ErrorCode::Conflict, m)
}

/// Every event of `customer`'s own partition, newest first (bounded).
async fn own_events(
    engine: &Engine,
    customer: CustomerId,
) -> EngineResult<(Vec<crate::domain::TimelineEvent>, bool)> {
    let mut out = Vec::new();
    let mut before: Option<EventId> = None;
    loop {
        let page = engine
            .store
            .timeline(customer, before, PAGE)
            .await
            .map_err(EngineError::unavailable)?;
        let full = page.len() == PAGE;
        before = page.last().map(|e| e.id);
        out.extend(page);
        if out.len() >= MAX_EXPORT_EVENTS {
            out.truncate(MAX_EXPORT_EVENTS);
            return Ok((out, true));
        }
        if !full {
            return Ok((out, false));
        }
    }
}

impl Engine {
    /// The export document of `id` (see the module doc), audited as `customer_exported`.
    pub async fn export_customer(
        &self,
        id: CustomerId,
        by: &AgentId,
    ) -> EngineResult<serde_json::Value> {
        let store = &self.store;
        let customer = store
            .customer(id)
            .await
            .map_err(EngineError::unavailable)?
            .ok_or_else(|| EngineError::not_found("customer"))?;
        let mut partitions = vec![id];
        partitions.extend(customer.merged.iter().map(|m| m.customer));
        let mut timeline = Vec::new();
        let mut truncated = false;
        for p in &partitions {
            let (events, cut) = own_events(self, *p).await?;
            truncated |= cut;
            timeline.extend(events);
        }
        timeline.sort_by_key(|e| std::cmp::Reverse(e.id));
        let conversations = super::timeline::conversations(store, id)
            .await
            .map_err(EngineError::unavailable)?;
        let at = self.now();
        let doc = serde_json::json!({
            "exported_at": at,
            "customer": customer,
            "identities": customer.identities,
            "conversations": conversations,
            "timeline": timeline,
            "timeline_truncated": truncated,
        });
        store
            .append_audit(AuditEntry {
                id: EventId::new(),
                at,
                actor: by.clone(),
                action: "customer_exported".into(),
                customer_id: Some(id),
                detail: serde_json::json!({
                    "events": timeline.len(),
                    "conversations": conversations.len(),
                    "identities": customer.identities.len(),
                }),
            })
            .await
            .map_err(EngineError::unavailable)?;
        crate::metrics::privacy_operation("export");
        tracing::info!(customer = %id, by = %by, "customer exported");
        Ok(doc)
    }

    /// Erases `id`'s personal data (see the module doc), audited as `customer_erased`.
    pub async fn erase_customer(
        &self,
        id: CustomerId,
        by: &AgentId,
    ) -> EngineResult<ErasureReport> {
        // No provider message is between its tombstone check and its answer while the
        // customer is retired and its timelines are read and erased (see
        // `Inner::erasure_gate`). Taken before the identity lock: the lock order is
        // erasure gate, then identity lock, as a provider message takes them.
        let _gate = self.erasure_gate.write().await;
        let _guard = self.identity_lock.lock().await;
        let store = &self.store;
        let customer = store
            .customer(id)
            .await
            .map_err(EngineError::unavailable)?
            .ok_or_else(|| EngineError::not_found("customer"))?;
        if let Some(s) = customer.merged_into {
            return Err(conflict(format!(
                "customer {id} was merged into {s}; erase {s} instead"
            )));
        }
        // Stop the actor taking work (refuses with an open conversation or chat).
        self.ask_customer(id, Retire { into: id }).await?;
        let result = self.erase_retired(id, customer, by).await;
        match &result {
            Ok(_) => self.tell_customer(id, Evict),
            Err(_) => self.tell_customer(id, Unretire),
        }
        result
    }

    async fn erase_retired(
        &self,
        id: CustomerId,
        customer: crate::domain::Customer,
        by: &AgentId,
    ) -> EngineResult<ErasureReport> {
        let store = &self.store;
        // The caller holds the erasure gate and the identity lock.
        let conversations = store
            .conversations_of(id)
            .await
            .map_err(EngineError::unavailable)?;
        if let Some(open) = conversations.iter().find(|c| c.state.is_open()) {
            return Err(conflict(format!(
                "customer {id} has an open conversation ({}); resolve it first",
                open.id
            )));
        }
        let at = self.now();
        let mut records = vec![customer.clone()];
        let mut identities = customer.identities.clone();
        for m in &customer.merged {
            identities.extend(m.identities.iter().cloned());
            if let Some(r) = store
                .customer(m.customer)
                .await
                .map_err(EngineError::unavailable)?
            {
                identities.extend(r.identities.iter().cloned());
                records.push(r);
            }
        }
        // Only links that still point at one of these records are deleted.
        let ours: std::collections::BTreeSet<CustomerId> = records.iter().map(|r| r.id).collect();
        let mut links = Vec::new();
        for k in identities {
            let owner = store
                .customer_by_identity(&k)
                .await
                .map_err(EngineError::unavailable)?;
            if owner.is_some_and(|o| ours.contains(&o)) && !links.contains(&k) {
                links.push(k);
            }
        }
        let retention = self.settings.limits.erasure_tombstone_retention_ms;
        let expires_at = crate::domain::Millis(
            at.0.saturating_add(i64::try_from(retention).unwrap_or(i64::MAX)),
        );
        let mut events = 0;
        let mut tombstones = Vec::new();
        for r in &records {
            let (own, _) = own_events(self, r.id).await?;
            events += own.len();
            tombstones.extend(self.tombstones.of_events(&own, expires_at));
        }
        let mut convs = Vec::new();
        for r in &records {
            for mut c in store
                .conversations_of(r.id)
                .await
                .map_err(EngineError::unavailable)?
            {
                c.disposition = None;
                convs.push(c);
            }
        }
        let scrubbed: Vec<_> = records
            .iter()
            .map(|r| {
                let mut s = r.clone();
                s.display_name = None;
                s.identities.clear();
                s.attributes.clear();
                s.attributes.insert("erased_at".into(), at.0.to_string());
                s.opted_out.clear();
                s.merged.clear();
                s.last_agent = None;
                s
            })
            .collect();
        let report = ErasureReport {
            customer_id: id,
            erased_at: at,
            records: records.len(),
            identities: links.len(),
            events,
            conversations: convs.len(),
            tombstones: tombstones.len(),
        };
        // The FAQ bot's running session holds the customer's questions (docs/kb.md),
        // the written IVR's where they are in the menus (docs/ivr.md).
        store
            .commit(crate::store::Batch {
                records: records
                    .iter()
                    .flat_map(|r| {
                        [crate::bot::BOT_SESSION, crate::ivr::messaging::IVR_SESSION]
                            .map(|kind| crate::store::RecordWrite::delete(kind, r.id.to_string()))
                    })
                    .collect(),
                ..Default::default()
            })
            .await
            .map_err(EngineError::unavailable)?;
        store
            .erase(Erasure {
                customers: scrubbed,
                timelines: records.iter().map(|r| r.id).collect(),
                identities: links,
                conversations: convs,
                tombstones,
                audit: AuditEntry {
                    id: EventId::new(),
                    at,
                    actor: by.clone(),
                    action: "customer_erased".into(),
                    customer_id: Some(id),
                    detail: serde_json::to_value(&report).unwrap_or_default(),
                },
            })
            .await
            .map_err(EngineError::unavailable)?;
        for r in records.iter().skip(1) {
            self.tell_customer(r.id, Evict);
        }
        crate::metrics::privacy_operation("erase");
        tracing::info!(customer = %id, by = %by, "customer erased");
        Ok(report)
    }

    /// Whether `id`'s personal data was erased (its visitor tokens are refused).
    pub async fn is_erased(&self, id: CustomerId) -> EngineResult<bool> {
        Ok(self
            .store
            .customer(id)
            .await
            .map_err(EngineError::unavailable)?
            .is_some_and(|c| c.attributes.contains_key("erased_at")))
    }
}
