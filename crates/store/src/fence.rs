//! [`Fenced`]: the store as a node may use it only while it holds the right to write
//! (docs/cluster.md). Every write — [`Store::commit`], [`Store::resolve_or_create`],
//! [`Store::expire_idempotency`], [`Store::erase`], [`Store::append_audit`] — first asks
//! the [`Fence`]; a closed fence refuses it with [`StoreError::Fenced`] and forwards
//! nothing. Reads always pass: a node that lost its lease may still answer from the
//! store, it may not change it.
//!
//! The fence is checked at the moment of the call, against the holder's own deadline
//! (the ownership loop's `Driver::owns`), so a node that was paused or cut off past its
//! lease cannot land a write it had queued once it runs again, even before its loop has
//! noticed that another node took over.
//!
//! That check cannot stop a write that passed it just before the deadline and reaches
//! the database after a new owner's. For those, a commit also carries the lease each
//! customer's state rows are written under ([`Fence::leases`] into [`Batch::leases`]);
//! the backend refuses the batch when a row was written since under a later epoch of
//! that lease (docs/cluster.md, "Fenced rows"). Refusals of both kinds are counted in
//! `switchboard_fenced_writes_total` (`by="engine"` here, `by="store"` from the rows).
//! It owns no data and alters what it forwards only by adding those leases.

use super::{
    AuditEntry, Batch, Erasure, OutboxEntry, RowLease, SharedStore, Store, StoreError, TraceEntry,
};
use async_trait::async_trait;
use domain::{
    AgentId, AgentProfile, Conversation, ConversationId, Customer, CustomerId, EventId,
    IdentityKey, Millis, QueueConfig, QueueName, ReportEvent, TimelineEvent,
};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Whether this node may write now.
pub trait Fence: Send + Sync + 'static {
    /// `Ok` while the node holds the right to write; otherwise why not (the message of
    /// the [`StoreError::Fenced`] the write gets).
    fn check(&self) -> Result<(), String>;

    /// The lease each of `customers`' state rows are written under now (those left out
    /// are written unfenced). The engine's policy: in spread placement the lease of
    /// each customer's shard; none with one active engine (docs/cluster.md, "Fenced
    /// rows").
    fn leases(&self, _customers: &BTreeSet<CustomerId>) -> BTreeMap<CustomerId, RowLease> {
        BTreeMap::new()
    }
}

/// A store whose writes pass a [`Fence`] first.
pub struct Fenced {
    inner: SharedStore,
    fence: Arc<dyn Fence>,
}

impl Fenced {
    pub fn wrap(inner: SharedStore, fence: Arc<dyn Fence>) -> SharedStore {
        Arc::new(Fenced { inner, fence })
    }

    fn open(&self) -> Result<(), StoreError> {
        self.fence.check().map_err(|why| {
            metrics::counter!("switchboard_fenced_writes_total", "by" => "engine").increment(1);
            StoreError::Fenced(why)
        })
    }
}

#[async_trait]
impl Store for Fenced {
    async fn commit(&self, mut batch: Batch) -> Result<(), StoreError> {
        self.open()?;
        let customers = batch.customers.iter().map(|c| c.id);
        let owners = batch.conversations.iter().map(|c| c.customer_id);
        let rows: BTreeSet<CustomerId> = customers.chain(owners).collect();
        if !rows.is_empty() {
            batch.leases = self.fence.leases(&rows);
        }
        let result = self.inner.commit(batch).await;
        if let Err(StoreError::Fenced(_)) = &result {
            metrics::counter!("switchboard_fenced_writes_total", "by" => "store").increment(1);
        }
        result
    }

    async fn resolve_or_create(
        &self,
        key: &IdentityKey,
        new_customer: Customer,
    ) -> Result<(CustomerId, bool), StoreError> {
        self.open()?;
        self.inner.resolve_or_create(key, new_customer).await
    }

    async fn expire_idempotency(&self, now: Millis, limit: usize) -> Result<usize, StoreError> {
        self.open()?;
        self.inner.expire_idempotency(now, limit).await
    }

    async fn erase(&self, erasure: Erasure) -> Result<(), StoreError> {
        self.open()?;
        self.inner.erase(erasure).await
    }

    async fn append_audit(&self, entry: AuditEntry) -> Result<(), StoreError> {
        self.open()?;
        self.inner.append_audit(entry).await
    }

    // Reads: forwarded unchanged.

    async fn customer_by_identity(
        &self,
        key: &IdentityKey,
    ) -> Result<Option<CustomerId>, StoreError> {
        self.inner.customer_by_identity(key).await
    }
    async fn customer(&self, id: CustomerId) -> Result<Option<Customer>, StoreError> {
        self.inner.customer(id).await
    }
    async fn identities_page(
        &self,
        after: Option<String>,
        limit: usize,
    ) -> Result<crate::IdentityPage, StoreError> {
        self.inner.identities_page(after, limit).await
    }
    async fn timeline(
        &self,
        customer: CustomerId,
        before: Option<EventId>,
        limit: usize,
    ) -> Result<Vec<TimelineEvent>, StoreError> {
        self.inner.timeline(customer, before, limit).await
    }
    async fn conversation(&self, id: ConversationId) -> Result<Option<Conversation>, StoreError> {
        self.inner.conversation(id).await
    }
    async fn conversations_of(
        &self,
        customer: CustomerId,
    ) -> Result<Vec<Conversation>, StoreError> {
        self.inner.conversations_of(customer).await
    }
    async fn open_conversations(&self) -> Result<Vec<Conversation>, StoreError> {
        self.inner.open_conversations().await
    }
    async fn agent(&self, id: &AgentId) -> Result<Option<AgentProfile>, StoreError> {
        self.inner.agent(id).await
    }
    async fn agents(&self) -> Result<Vec<AgentProfile>, StoreError> {
        self.inner.agents().await
    }
    async fn queues(&self) -> Result<Vec<QueueConfig>, StoreError> {
        self.inner.queues().await
    }
    async fn trace(&self, conversation: ConversationId) -> Result<Vec<TraceEntry>, StoreError> {
        self.inner.trace(conversation).await
    }
    async fn setting(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.setting(key).await
    }
    async fn setting_if_absent(&self, key: &str, value: Vec<u8>) -> Result<Vec<u8>, StoreError> {
        self.inner.setting_if_absent(key, value).await
    }
    async fn pending_outbox(&self, limit: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        self.inner.pending_outbox(limit).await
    }
    async fn report_events(
        &self,
        queue: Option<&QueueName>,
        from: Millis,
        to: Millis,
        limit: usize,
    ) -> Result<Vec<ReportEvent>, StoreError> {
        self.inner.report_events(queue, from, to, limit).await
    }
    async fn presence_events(
        &self,
        queue: &QueueName,
        from: Millis,
        to: Millis,
        limit: usize,
    ) -> Result<Vec<domain::PresenceEvent>, StoreError> {
        self.inner.presence_events(queue, from, to, limit).await
    }
    async fn record(&self, kind: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.record(kind, key).await
    }
    async fn records(
        &self,
        kind: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.inner.records(kind, after, limit).await
    }
    async fn records_through(
        &self,
        kind: &str,
        after: Option<&str>,
        until: &str,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.inner.records_through(kind, after, until, limit).await
    }
    async fn idempotency(
        &self,
        customer: CustomerId,
        key: &str,
        now: Millis,
    ) -> Result<Option<super::IdempotencyRecord>, StoreError> {
        self.inner.idempotency(customer, key, now).await
    }
    async fn tombstone(
        &self,
        hash: &[u8; 32],
        now: Millis,
    ) -> Result<Option<super::Tombstone>, StoreError> {
        self.inner.tombstone(hash, now).await
    }
    async fn event(
        &self,
        customer: CustomerId,
        id: EventId,
    ) -> Result<Option<TimelineEvent>, StoreError> {
        self.inner.event(customer, id).await
    }
    async fn blob(
        &self,
        owner: CustomerId,
        id: &crate::BlobId,
    ) -> Result<Option<crate::BlobMeta>, StoreError> {
        self.inner.blob(owner, id).await
    }
    async fn blob_chunk(
        &self,
        owner: CustomerId,
        id: &crate::BlobId,
        seq: u32,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.blob_chunk(owner, id, seq).await
    }
    async fn health(&self) -> Result<(), StoreError> {
        self.inner.health().await
    }
    async fn audit_log(
        &self,
        before: Option<EventId>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.inner.audit_log(before, limit).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedded::EmbeddedStore;
    use std::sync::atomic::{AtomicBool, Ordering};

    struct Switch(AtomicBool);

    impl Fence for Switch {
        fn check(&self) -> Result<(), String> {
            if self.0.load(Ordering::SeqCst) {
                Ok(())
            } else {
                Err("the lease lapsed".into())
            }
        }
    }

    fn customer(identities: Vec<IdentityKey>) -> Customer {
        Customer {
            id: CustomerId::new(),
            display_name: None,
            identities,
            priority: 0,
            attributes: Default::default(),
            last_agent: None,
            opted_out: Default::default(),
            merged_into: None,
            merged: Vec::new(),
            created_at: Millis(0),
        }
    }

    fn queue(name: &str) -> Batch {
        Batch {
            queues: vec![QueueConfig::new(QueueName::parse(name).unwrap())],
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn a_closed_fence_refuses_writes_and_forwards_nothing_reads_pass() {
        let dir = tempfile::tempdir().unwrap();
        let inner: SharedStore =
            Arc::new(EmbeddedStore::open(dir.path(), Default::default()).unwrap());
        let switch = Arc::new(Switch(AtomicBool::new(true)));
        let store = Fenced::wrap(inner.clone(), switch.clone());
        store.commit(queue("open")).await.unwrap();

        switch.0.store(false, Ordering::SeqCst);
        let refused = store.commit(queue("closed")).await.unwrap_err();
        assert!(
            matches!(&refused, StoreError::Fenced(m) if m == "the lease lapsed"),
            "{refused:?}"
        );
        let key = IdentityKey::parse(domain::Channel::Sms, "+819000000001").unwrap();
        let customer = customer(vec![key.clone()]);
        assert!(matches!(
            store.resolve_or_create(&key, customer).await,
            Err(StoreError::Fenced(_))
        ));
        // Nothing reached the backend; reads still answer through the fence.
        let names: Vec<_> = store
            .queues()
            .await
            .unwrap()
            .into_iter()
            .map(|q| q.name.as_str().to_owned())
            .collect();
        assert_eq!(names, ["open"]);
        assert_eq!(inner.customer_by_identity(&key).await.unwrap(), None);

        switch.0.store(true, Ordering::SeqCst);
        store.commit(queue("again")).await.unwrap();
        assert_eq!(inner.queues().await.unwrap().len(), 2);
    }

    /// Always open; every customer's rows go under `shard/1` at the epoch set.
    struct Epoch(std::sync::atomic::AtomicU64);

    impl Fence for Epoch {
        fn check(&self) -> Result<(), String> {
            Ok(())
        }
        fn leases(&self, customers: &BTreeSet<CustomerId>) -> BTreeMap<CustomerId, RowLease> {
            let epoch = self.0.load(Ordering::SeqCst);
            customers
                .iter()
                .map(|c| {
                    let key = "shard/1".to_owned();
                    (*c, RowLease { key, epoch })
                })
                .collect()
        }
    }

    /// Two nodes' fences over one store: the one whose epoch is older when its write
    /// lands (it passed its own check, then was paused) is refused by the rows the newer
    /// one wrote, for the customer's row and for a conversation row alone.
    #[tokio::test]
    async fn a_write_under_an_older_epoch_is_refused_by_the_rows() {
        let dir = tempfile::tempdir().unwrap();
        let inner: SharedStore =
            Arc::new(EmbeddedStore::open(dir.path(), Default::default()).unwrap());
        let old = Fenced::wrap(inner.clone(), Arc::new(Epoch(3.into())));
        let new = Fenced::wrap(inner.clone(), Arc::new(Epoch(4.into())));
        let customer = Customer {
            display_name: Some("new owner".into()),
            ..customer(Vec::new())
        };
        let conversation = Conversation {
            id: ConversationId::new(),
            customer_id: customer.id,
            channel: domain::Channel::Chat,
            queue: QueueName::parse("support").unwrap(),
            state: domain::ConversationState::Queued,
            priority: 0,
            created_at: Millis(0),
            enqueued_at: Millis(0),
            enqueue_seq: 1,
            agent: None,
            preferred_agent: None,
            required_agent: None,
            disposition: None,
            requirements: Default::default(),
            updated_at: Millis(0),
        };
        let batch = |c: &Customer| Batch {
            customers: vec![c.clone()],
            conversations: vec![conversation.clone()],
            ..Default::default()
        };
        new.commit(batch(&customer)).await.unwrap();
        let mut stale = customer.clone();
        stale.display_name = Some("old owner".into());
        let refused = old.commit(batch(&stale)).await.unwrap_err();
        assert!(
            matches!(&refused, StoreError::Fenced(m) if m.contains("epoch 4") && m.contains("epoch 3")),
            "{refused:?}"
        );
        let refused = old
            .commit(Batch::default().conversation(conversation.clone()))
            .await
            .unwrap_err();
        assert!(matches!(refused, StoreError::Fenced(_)), "{refused:?}");
        let stored = inner.customer(customer.id).await.unwrap().unwrap();
        assert_eq!(stored.display_name.as_deref(), Some("new owner"));
        // The newer node goes on writing; a batch without state rows carries no lease.
        new.commit(batch(&customer)).await.unwrap();
        old.commit(queue("unfenced")).await.unwrap();
    }
}
