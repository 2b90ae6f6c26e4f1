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
//! noticed that another node took over. It owns no data and never alters what it
//! forwards.

use super::{AuditEntry, Batch, Erasure, OutboxEntry, SharedStore, Store, StoreError, TraceEntry};
use async_trait::async_trait;
use domain::{
    AgentId, AgentProfile, Conversation, ConversationId, Customer, CustomerId, EventId,
    IdentityKey, Millis, QueueConfig, QueueName, ReportEvent, TimelineEvent,
};
use std::sync::Arc;

/// Whether this node may write now.
pub trait Fence: Send + Sync + 'static {
    /// `Ok` while the node holds the right to write; otherwise why not (the message of
    /// the [`StoreError::Fenced`] the write gets).
    fn check(&self) -> Result<(), String>;
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
        self.fence.check().map_err(StoreError::Fenced)
    }
}

#[async_trait]
impl Store for Fenced {
    async fn commit(&self, batch: Batch) -> Result<(), StoreError> {
        self.open()?;
        self.inner.commit(batch).await
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
        let customer = Customer {
            id: CustomerId::new(),
            display_name: None,
            identities: vec![key.clone()],
            priority: 0,
            attributes: Default::default(),
            last_agent: None,
            opted_out: Default::default(),
            merged_into: None,
            merged: Vec::new(),
            created_at: Millis(0),
        };
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
}
