//! [`FaultyStore`]: a [`Store`] wrapper that injects faults per operation around any
//! real backend, for reliability tests and drills: failures (every call, or the next
//! `n`), and a paused writer that holds writes the way a slow disk or a saturated
//! database does, with a bound on how many may wait (beyond it: `Overloaded`, as the
//! embedded store's full write queue answers).
//!
//! The engine never builds one by itself; tests reach it through
//! [`crate::startup::Application::build_with_store`]. With no fault set every call is
//! forwarded unchanged, so a test can run normally, break the store, and heal it.
//! It owns no data and must never reorder or alter what it forwards.

use super::{AuditEntry, Batch, Erasure, OutboxEntry, SharedStore, Store, StoreError, TraceEntry};
use async_trait::async_trait;
use domain::{
    AgentId, AgentProfile, Conversation, ConversationId, Customer, CustomerId, EventId,
    IdentityKey, Millis, QueueConfig, QueueName, ReportEvent,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// The operations a fault can target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// [`Store::commit`], and the other writes ([`Store::erase`], [`Store::append_audit`],
    /// [`Store::setting_if_absent`]).
    Commit,
    /// [`Store::resolve_or_create`] (creates a customer on first contact).
    ResolveOrCreate,
    /// Every read (customers, timelines, conversations, agents, queues, traces...).
    Read,
    /// [`Store::health`].
    Health,
}

/// What happens to a call of an operation.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Every call fails with this error until the fault is cleared.
    Fail(StoreError),
    /// The next `n` calls fail with this error; later ones are forwarded.
    FailTimes(u32, StoreError),
}

/// The pause state of writes (commit and resolve_or_create).
#[derive(Debug, Clone, Copy)]
struct Pause {
    paused: bool,
    /// Most writes held at once while paused; further ones fail `Overloaded`.
    max_held: usize,
}

/// See the module documentation.
pub struct FaultyStore {
    inner: SharedStore,
    /// Active faults by operation.
    faults: Mutex<HashMap<Op, Fault>>,
    /// Writes wait while `paused`; watched so that resuming releases them all at once.
    pause: watch::Sender<Pause>,
    /// Writes waiting for a resume right now; watched so tests wait for "n writes are
    /// in flight" as an event, never with a sleep.
    held: watch::Sender<usize>,
    /// Calls per operation (including failed and refused ones); watched so tests wait
    /// for "n calls have reached the store".
    calls: watch::Sender<[u64; 4]>,
}

fn slot(op: Op) -> usize {
    match op {
        Op::Commit => 0,
        Op::ResolveOrCreate => 1,
        Op::Read => 2,
        Op::Health => 3,
    }
}

impl FaultyStore {
    /// Wraps `inner`; no fault is set.
    pub fn new(inner: SharedStore) -> Arc<FaultyStore> {
        Arc::new(FaultyStore {
            inner,
            faults: Mutex::new(HashMap::new()),
            pause: watch::Sender::new(Pause {
                paused: false,
                max_held: 0,
            }),
            held: watch::Sender::new(0),
            calls: watch::Sender::new([0; 4]),
        })
    }

    /// Sets (replaces) the fault of `op`.
    pub fn set(&self, op: Op, fault: Fault) {
        self.lock().insert(op, fault);
    }

    /// Clears the fault of `op`.
    pub fn clear(&self, op: Op) {
        self.lock().remove(&op);
    }

    /// Clears every fault and resumes paused writes.
    pub fn heal(&self) {
        self.lock().clear();
        self.resume_writes();
    }

    /// From now on writes wait until [`FaultyStore::resume_writes`]; at most `max_held`
    /// wait at once, and a write beyond that fails with [`StoreError::Overloaded`] at
    /// once (a bounded write queue that is full).
    pub fn pause_writes(&self, max_held: usize) {
        self.pause.send_replace(Pause {
            paused: true,
            max_held,
        });
    }

    /// Releases every held write (forwarded in the order they arrived, as far as the
    /// runtime schedules them) and stops holding new ones.
    pub fn resume_writes(&self) {
        self.pause.send_modify(|p| p.paused = false);
    }

    /// Writes waiting for a resume right now.
    pub fn held(&self) -> usize {
        *self.held.borrow()
    }

    /// Waits until at least `n` writes are held.
    pub async fn wait_held(&self, n: usize) {
        let mut rx = self.held.subscribe();
        let _ = rx.wait_for(|h| *h >= n).await;
    }

    /// Calls of `op` so far (including failed and refused ones).
    pub fn calls(&self, op: Op) -> u64 {
        self.calls.borrow()[slot(op)]
    }

    /// Waits until at least `n` calls of `op` have reached the store.
    pub async fn wait_calls(&self, op: Op, n: u64) {
        let mut rx = self.calls.subscribe();
        let _ = rx.wait_for(|c| c[slot(op)] >= n).await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Op, Fault>> {
        self.faults.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts the call and applies the fault of `op`, if any.
    fn check(&self, op: Op) -> Result<(), StoreError> {
        self.calls.send_modify(|c| c[slot(op)] += 1);
        let mut faults = self.lock();
        match faults.get_mut(&op) {
            None => Ok(()),
            Some(Fault::Fail(e)) => Err(e.clone()),
            Some(Fault::FailTimes(n, e)) => {
                let e = e.clone();
                *n = n.saturating_sub(1);
                if *n == 0 {
                    faults.remove(&op);
                }
                Err(e)
            }
        }
    }

    /// A write: the fault first, then the pause gate.
    async fn write_gate(&self, op: Op) -> Result<(), StoreError> {
        self.check(op)?;
        let mut rx = self.pause.subscribe();
        let p = *rx.borrow_and_update();
        if !p.paused {
            return Ok(());
        }
        let mut admitted = false;
        self.held.send_modify(|h| {
            if *h < p.max_held {
                *h += 1;
                admitted = true;
            }
        });
        if !admitted {
            return Err(StoreError::Overloaded);
        }
        let _ = rx.wait_for(|p| !p.paused).await;
        self.held.send_modify(|h| *h = h.saturating_sub(1));
        Ok(())
    }
}

#[async_trait]
impl Store for FaultyStore {
    async fn commit(&self, batch: Batch) -> Result<(), StoreError> {
        self.write_gate(Op::Commit).await?;
        self.inner.commit(batch).await
    }

    async fn resolve_or_create(
        &self,
        key: &IdentityKey,
        new_customer: Customer,
    ) -> Result<(CustomerId, bool), StoreError> {
        // An identity that already exists is a read; only a first contact writes.
        self.check(Op::Read)?;
        if let Some(id) = self.inner.customer_by_identity(key).await? {
            return Ok((id, false));
        }
        self.write_gate(Op::ResolveOrCreate).await?;
        self.inner.resolve_or_create(key, new_customer).await
    }

    async fn customer_by_identity(
        &self,
        key: &IdentityKey,
    ) -> Result<Option<CustomerId>, StoreError> {
        self.check(Op::Read)?;
        self.inner.customer_by_identity(key).await
    }

    async fn identities_page(
        &self,
        after: Option<String>,
        limit: usize,
    ) -> Result<crate::IdentityPage, StoreError> {
        self.check(Op::Read)?;
        self.inner.identities_page(after, limit).await
    }

    async fn customer(&self, id: CustomerId) -> Result<Option<Customer>, StoreError> {
        self.check(Op::Read)?;
        self.inner.customer(id).await
    }

    async fn timeline(
        &self,
        customer: CustomerId,
        before: Option<EventId>,
        limit: usize,
    ) -> Result<Vec<domain::TimelineEvent>, StoreError> {
        self.check(Op::Read)?;
        self.inner.timeline(customer, before, limit).await
    }

    async fn conversation(&self, id: ConversationId) -> Result<Option<Conversation>, StoreError> {
        self.check(Op::Read)?;
        self.inner.conversation(id).await
    }

    async fn conversations_of(
        &self,
        customer: CustomerId,
    ) -> Result<Vec<Conversation>, StoreError> {
        self.check(Op::Read)?;
        self.inner.conversations_of(customer).await
    }

    async fn open_conversations(&self) -> Result<Vec<Conversation>, StoreError> {
        self.check(Op::Read)?;
        self.inner.open_conversations().await
    }

    async fn agent(&self, id: &AgentId) -> Result<Option<AgentProfile>, StoreError> {
        self.check(Op::Read)?;
        self.inner.agent(id).await
    }

    async fn agents(&self) -> Result<Vec<AgentProfile>, StoreError> {
        self.check(Op::Read)?;
        self.inner.agents().await
    }

    async fn queues(&self) -> Result<Vec<QueueConfig>, StoreError> {
        self.check(Op::Read)?;
        self.inner.queues().await
    }

    async fn trace(&self, conversation: ConversationId) -> Result<Vec<TraceEntry>, StoreError> {
        self.check(Op::Read)?;
        self.inner.trace(conversation).await
    }

    async fn setting(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.check(Op::Read)?;
        self.inner.setting(key).await
    }

    async fn setting_if_absent(&self, key: &str, value: Vec<u8>) -> Result<Vec<u8>, StoreError> {
        self.check(Op::Commit)?;
        self.inner.setting_if_absent(key, value).await
    }

    async fn idempotency(
        &self,
        customer: CustomerId,
        key: &str,
        now: Millis,
    ) -> Result<Option<crate::IdempotencyRecord>, StoreError> {
        self.check(Op::Read)?;
        self.inner.idempotency(customer, key, now).await
    }

    async fn tombstone(
        &self,
        hash: &[u8; 32],
        now: Millis,
    ) -> Result<Option<crate::Tombstone>, StoreError> {
        self.check(Op::Read)?;
        self.inner.tombstone(hash, now).await
    }

    async fn expire_idempotency(&self, now: Millis, limit: usize) -> Result<usize, StoreError> {
        self.write_gate(Op::Commit).await?;
        self.inner.expire_idempotency(now, limit).await
    }

    async fn event(
        &self,
        customer: CustomerId,
        id: EventId,
    ) -> Result<Option<domain::TimelineEvent>, StoreError> {
        self.check(Op::Read)?;
        self.inner.event(customer, id).await
    }

    async fn blob(
        &self,
        owner: CustomerId,
        id: &crate::BlobId,
    ) -> Result<Option<crate::BlobMeta>, StoreError> {
        self.check(Op::Read)?;
        self.inner.blob(owner, id).await
    }

    async fn blob_chunk(
        &self,
        owner: CustomerId,
        id: &crate::BlobId,
        seq: u32,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.check(Op::Read)?;
        self.inner.blob_chunk(owner, id, seq).await
    }

    async fn record(&self, kind: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.check(Op::Read)?;
        self.inner.record(kind, key).await
    }

    async fn records(
        &self,
        kind: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.check(Op::Read)?;
        self.inner.records(kind, after, limit).await
    }

    async fn records_through(
        &self,
        kind: &str,
        after: Option<&str>,
        until: &str,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.check(Op::Read)?;
        self.inner.records_through(kind, after, until, limit).await
    }

    async fn pending_outbox(&self, limit: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        self.check(Op::Read)?;
        self.inner.pending_outbox(limit).await
    }

    async fn report_events(
        &self,
        queue: Option<&QueueName>,
        from: Millis,
        to: Millis,
        limit: usize,
    ) -> Result<Vec<ReportEvent>, StoreError> {
        self.check(Op::Read)?;
        self.inner.report_events(queue, from, to, limit).await
    }
    async fn presence_events(
        &self,
        queue: &QueueName,
        from: Millis,
        to: Millis,
        limit: usize,
    ) -> Result<Vec<domain::PresenceEvent>, StoreError> {
        self.check(Op::Read)?;
        self.inner.presence_events(queue, from, to, limit).await
    }

    async fn health(&self) -> Result<(), StoreError> {
        self.check(Op::Health)?;
        self.inner.health().await
    }

    async fn erase(&self, erasure: Erasure) -> Result<(), StoreError> {
        self.write_gate(Op::Commit).await?;
        self.inner.erase(erasure).await
    }

    async fn append_audit(&self, entry: AuditEntry) -> Result<(), StoreError> {
        self.write_gate(Op::Commit).await?;
        self.inner.append_audit(entry).await
    }

    async fn audit_log(
        &self,
        before: Option<EventId>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.check(Op::Read)?;
        self.inner.audit_log(before, limit).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedded::{EmbeddedOptions, EmbeddedStore};

    fn store() -> (tempfile::TempDir, Arc<FaultyStore>) {
        let dir = tempfile::tempdir().unwrap();
        let inner = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();
        (dir, FaultyStore::new(Arc::new(inner)))
    }

    fn setting(k: &str) -> Batch {
        Batch {
            settings: vec![(k.into(), vec![1])],
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn faults_apply_per_operation_and_heal() {
        let (_d, s) = store();
        s.set(
            Op::Commit,
            Fault::FailTimes(2, StoreError::Backend("disk".into())),
        );
        assert!(s.commit(setting("a")).await.is_err());
        // Reads are untouched by a commit fault.
        assert_eq!(s.setting("a").await.unwrap(), None);
        assert!(s.commit(setting("a")).await.is_err());
        s.commit(setting("a")).await.unwrap();
        assert_eq!(s.setting("a").await.unwrap(), Some(vec![1]));
        s.set(
            Op::Read,
            Fault::Fail(StoreError::Unavailable("down".into())),
        );
        assert!(s.setting("a").await.is_err());
        s.heal();
        assert!(s.setting("a").await.is_ok());
        assert_eq!(s.calls(Op::Commit), 3);
    }

    #[tokio::test]
    async fn paused_writes_are_held_up_to_the_bound_then_refused() {
        let (_d, s) = store();
        s.pause_writes(2);
        let a = tokio::spawn({
            let s = s.clone();
            async move { s.commit(setting("a")).await }
        });
        let b = tokio::spawn({
            let s = s.clone();
            async move { s.commit(setting("b")).await }
        });
        s.wait_held(2).await;
        assert!(matches!(
            s.commit(setting("c")).await,
            Err(StoreError::Overloaded)
        ));
        assert_eq!(s.setting("a").await.unwrap(), None, "held, not written");
        s.resume_writes();
        a.await.unwrap().unwrap();
        b.await.unwrap().unwrap();
        assert_eq!(s.held(), 0);
        assert_eq!(s.setting("b").await.unwrap(), Some(vec![1]));
        assert_eq!(
            s.setting("c").await.unwrap(),
            None,
            "refused, never written"
        );
    }
}
