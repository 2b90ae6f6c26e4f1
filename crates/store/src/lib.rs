//! Durable storage: one async trait, [`Store`], with an embedded backend
//! ([`embedded::EmbeddedStore`], the default, on redb) and a ScyllaDB backend
//! (`switchboard_store_scylla::ScyllaStore`, schema in `schema/*.cql`, see docs/scylla.md),
//! in its own crate. With the `testkit` feature: the backend-independent conformance
//! suite (`conformance`) and the fault-injecting wrapper (`faulty::FaultyStore`), for
//! tests only; the production binary is built without them.
//!
//! Data model (wide-column; the same partition and clustering keys in every backend):
//!
//! | data | partition key | clustering | notes |
//! |---|---|---|---|
//! | customers | customer_id | - | profile, identities, priority, last agent |
//! | identities | (channel, address) | - | -> customer_id; created once (single winner) |
//! | timeline | customer_id (+ month bucket in ScyllaDB) | event_id DESC | every event, newest first, paged |
//! | conversations | conversation_id | - | current state |
//! | conversations_by_customer | customer_id | conversation_id | |
//! | open_conversations | - | conversation_id | reloaded and re-routed at start |
//! | agents, queues | id / name | - | profiles and routing config |
//! | routing_trace | conversation_id | trace entry id ASC | why each routing decision |
//! | settings | key | - | engine secrets and flags |
//! | outbox | (shard, hour) | event_id | replies not yet delivered; resent at start |
//! | audit_log | scope | entry id DESC | privacy operations (export, erase), knowledge-base changes, login alarms; newest first |
//! | report_events | (queue, UTC day) | event_id ASC | the report log (docs/metrics.md) |
//! | presence_log | (queue, UTC day) | event_id ASC | agents becoming routable in a queue or not (the simulator's shifts) |
//! | records | kind | key ASC (bytewise) | small typed documents of the self-service features (KB articles, canned responses, callbacks, surveys, scheduled notifications…), JSON |
//! | idempotency | customer_id | key | client- and provider-supplied ids already applied, until they expire (see [`IdempotencyRecord`]) |
//! | erasure_tombstones | hash | - | keyed hashes of the provider message ids of erased customers, until they expire (see [`Tombstone`]) |
//! | blobs | customer_id | blob id (SHA-256) | attachments' metadata, written after their chunks (see [`blob`]) |
//! | blob_chunks | (customer_id, blob id) | seq ASC | attachments' bytes, in chunks |
//!
//! Invariant: when [`Store::commit`] returns `Ok`, the whole batch is durable (survives
//! `kill -9`). Callers acknowledge to channels only after that. The embedded store
//! applies a batch atomically; ScyllaDB cannot span partitions atomically, so its backend
//! writes a batch in reference order (referents first) and every write is an idempotent
//! upsert, so a failed commit may leave a prefix applied and retrying it is safe (see
//! [`Capabilities`] and `crates/store-scylla/src/lib.rs`).
//! The store must never block an async executor thread for longer than ~500 µs; backends
//! do blocking work on their own threads.

pub mod blob;
#[cfg(feature = "testkit")]
pub mod conformance;
pub mod coordination;
pub mod embedded;
#[cfg(feature = "testkit")]
pub mod faulty;
pub mod fence;
pub mod journal;
pub mod privacy;

pub use blob::{BlobId, BlobMeta, BlobPut, BlobStore, ChunkedBlobs};
pub use privacy::{AuditEntry, Erasure, Tombstone};

use async_trait::async_trait;
use domain::{
    AgentId, AgentProfile, Conversation, ConversationId, Customer, CustomerId, EventId,
    IdentityKey, Millis, PresenceEvent, QueueConfig, QueueName, ReportEvent, TimelineEvent,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Failures of a store operation. Nothing in a failed `commit` was applied by the
/// embedded store; a ScyllaDB `commit` that failed may have applied a prefix of its
/// write phases (never a record without its referents), and is safe to retry.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The backend cannot be reached or is shutting down; retry later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Too many writes pending; retry later.
    #[error("store overloaded")]
    Overloaded,
    /// Stored bytes could not be decoded.
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// I/O or backend error.
    #[error("store error: {0}")]
    Backend(String),
    /// This node may not write now (its lease lapsed or was taken: another node may be
    /// serving); nothing was written. See [`fence`].
    #[error("this engine may not write: {0}")]
    Fenced(String),
}

impl StoreError {
    /// A store failure as the edge sees it: a full write queue is `busy` (the engine is
    /// saturated; retry shortly), anything else `unavailable` (a fenced write says why). Both answer 503 with
    /// `Retry-After` over HTTP; nothing was stored either way. (A method, not `From`:
    /// a second `From` into `EngineError` would make every `?` in the actors ambiguous.)
    pub fn into_engine(self) -> domain::EngineError {
        use domain::{EngineError, ErrorCode};
        match self {
            StoreError::Overloaded => EngineError::new(
                ErrorCode::Busy,
                "the engine is busy; nothing was stored, retry shortly",
            ),
            StoreError::Fenced(why) => EngineError::new(
                ErrorCode::Unavailable,
                format!(
                    "this engine may not write now ({why}); nothing was stored, retry \
                     (another engine may be serving)"
                ),
            ),
            other => EngineError::unavailable(other),
        }
    }
}

/// One step of a conversation's routing trace: who was considered, who was skipped and
/// why, each offer and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceEntry {
    pub conversation_id: ConversationId,
    /// Time-ordered; the clustering key.
    pub id: EventId,
    pub at: Millis,
    pub queue: QueueName,
    /// `enqueued`, `considered`, `skipped`, `offered`, `accepted`, `rejected`,
    /// `timed_out`, `rescinded`, `overflowed`, `requeued`, `abandoned`, `refused`.
    pub step: String,
    pub agent: Option<AgentId>,
    /// Human-readable reason, e.g. `strategy=longest_idle idle_ms=5300`.
    pub detail: String,
}

/// A page of identity links ([`Store::identities_page`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentityPage {
    pub links: Vec<(IdentityKey, CustomerId)>,
    /// The next page's cursor, opaque (`None`: this was the last page).
    pub next: Option<String>,
}

/// An agent reply waiting for its provider (SMS, LINE, Messenger, email). Written in
/// the same commit as its `message_out` event and removed in the same commit as its
/// final `message_status`, so a reply committed before a crash is sent after the
/// restart (at least once: a crash between the provider's answer and that commit sends
/// it again only where the provider de-duplicates by a key, LINE's retry key; elsewhere
/// `attempted` keeps it from being sent twice).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// The `message_out` event; the key.
    pub event_id: EventId,
    pub customer_id: CustomerId,
    pub conversation_id: domain::ConversationId,
    pub channel: domain::Channel,
    pub to: String,
    pub text: String,
    pub subject: Option<String>,
    pub references: Vec<String>,
    pub created_at: Millis,
    /// The provider was called for it in some run (written before the first call to a
    /// provider without idempotency keys): after a crash it is not sent again, since
    /// the provider may have taken it.
    #[serde(default)]
    pub attempted: bool,
    /// How it goes out with respect to the channel's reply window (a template, a
    /// human agent's late reply); kept so a resend after a restart goes out the same.
    #[serde(default, skip_serializing_if = "domain::SendAs::is_reply")]
    pub send_as: domain::SendAs,
    /// Stored files sent with it (read from the blob store when sent).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<domain::Attachment>,
    /// Quick-reply choices shown under the text (a menu, a survey's scale): kept so a
    /// resend after a restart still offers them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quick_replies: Vec<String>,
}

/// A client- or provider-supplied id already applied for a customer: a retry under the
/// same key is answered with the original event (`duplicate: true`) instead of being
/// applied again, across passivation, restart and `kill -9` (docs/protocol.md, "Exactly
/// once"). Written in the same [`Store::commit`] as the event it produced. A record is
/// gone once `expires_at` has passed: lookups ignore it at once, and the backend removes
/// it (the CQL store by TTL, the embedded store by [`Store::expire_idempotency`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    pub customer_id: CustomerId,
    /// The id in its scope: `in:<client_msg_id>` (customer messages and provider
    /// message ids), `out:<agent>:<client_msg_id>` (agent replies and notes),
    /// `call-end:<call id>`.
    pub key: String,
    /// The event the id produced.
    pub event_id: EventId,
    pub conversation_id: ConversationId,
    /// Fingerprint of the content first applied under this key: a reuse for other
    /// content is refused (`conflict`), not mistaken for a retry.
    pub digest: u64,
    pub at: Millis,
    pub expires_at: Millis,
}

/// Writes applied atomically and durably by [`Store::commit`].
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub customers: Vec<Customer>,
    /// Identity -> customer links (overwrites; use `resolve_or_create` for first links).
    pub identities: Vec<(IdentityKey, CustomerId)>,
    pub events: Vec<TimelineEvent>,
    /// Upserts; the open-conversation index follows `state.is_open()`.
    pub conversations: Vec<Conversation>,
    pub agents: Vec<AgentProfile>,
    pub queues: Vec<QueueConfig>,
    pub traces: Vec<TraceEntry>,
    pub settings: Vec<(String, Vec<u8>)>,
    /// Replies to deliver (see [`OutboxEntry`]).
    pub outbox: Vec<OutboxEntry>,
    /// Replies delivered or given up: removed from the outbox.
    pub outbox_done: Vec<EventId>,
    /// Facts for reports, written with the timeline events they summarise.
    pub report_events: Vec<ReportEvent>,
    /// Agents' availability changes per queue (the presence log).
    pub presence: Vec<PresenceEvent>,
    /// Upserts and deletes in the generic records table (see [`Store::records`]).
    pub records: Vec<RecordWrite>,
    /// Ids applied by this batch's events (upserts by `(customer_id, key)`).
    pub idempotency: Vec<IdempotencyRecord>,
    /// Attachments' bytes: each blob's chunks, then its metadata (see [`blob`]).
    pub blobs: Vec<BlobPut>,
    /// In a cluster: the lease each customer's state rows (the customer row, and the
    /// rows of the conversations naming it) are rewritten under. A customer or
    /// conversation row whose customer has a lease here is written only if
    /// [`RowLease::may_overwrite`] its stored fence; otherwise nothing of the batch is
    /// written (the ScyllaDB backend: nothing after the check that failed) and the
    /// commit fails with [`StoreError::Fenced`]. Empty but in spread placement: rows are
    /// written unconditionally. Filled by [`fence::Fenced`], not by callers.
    pub leases: std::collections::BTreeMap<CustomerId, RowLease>,
}

/// The lease a state row is (re)written under: the lease's key (a shard's, or the
/// whole keyspace's) and the epoch its holder was granted. Stored with the row; the
/// fence that keeps a paused or cut-off old owner from overwriting the rows a new
/// owner wrote since (docs/cluster.md, "Fenced rows").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowLease {
    pub key: String,
    pub epoch: u64,
}

impl RowLease {
    /// Whether a write under `self` may replace a row last written under `stored`:
    /// always when the row has no fence yet or was written under another lease (a
    /// conversation that moved to a customer of another shard, a cluster that changed
    /// placement); under the same lease only from the same or a later epoch.
    pub fn may_overwrite(&self, stored: Option<&RowLease>) -> bool {
        match stored {
            Some(row) if row.key == self.key => row.epoch <= self.epoch,
            _ => true,
        }
    }

    /// The refusal of a write under `self` to a row fenced by `stored`.
    pub fn refused(&self, row: &str, stored: &RowLease) -> StoreError {
        StoreError::Fenced(format!(
            "stale write: {row} was written under lease {} epoch {}; this write carries \
             epoch {}",
            stored.key, stored.epoch, self.epoch
        ))
    }
}

/// One write to the generic `records` table: `value: None` deletes the record.
/// `kind` names the feature's collection (a code constant such as `"kb_article"`,
/// never input; it must not contain a NUL); `key` orders records of a kind bytewise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordWrite {
    pub kind: String,
    pub key: String,
    pub value: Option<Vec<u8>>,
}

impl RecordWrite {
    pub fn put(kind: &str, key: impl Into<String>, value: Vec<u8>) -> Self {
        Self {
            kind: kind.to_owned(),
            key: key.into(),
            value: Some(value),
        }
    }
    pub fn delete(kind: &str, key: impl Into<String>) -> Self {
        Self {
            kind: kind.to_owned(),
            key: key.into(),
            value: None,
        }
    }
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.customers.is_empty()
            && self.identities.is_empty()
            && self.events.is_empty()
            && self.conversations.is_empty()
            && self.agents.is_empty()
            && self.queues.is_empty()
            && self.traces.is_empty()
            && self.settings.is_empty()
            && self.outbox.is_empty()
            && self.outbox_done.is_empty()
            && self.report_events.is_empty()
            && self.presence.is_empty()
            && self.records.is_empty()
            && self.idempotency.is_empty()
            && self.blobs.is_empty()
    }
    pub fn event(mut self, e: TimelineEvent) -> Self {
        self.events.push(e);
        self
    }
    pub fn conversation(mut self, c: Conversation) -> Self {
        self.conversations.push(c);
        self
    }
}

/// The storage contract. Every backend passes [`conformance::run_all`].
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Applies `batch` atomically; returns once it is durable.
    async fn commit(&self, batch: Batch) -> Result<(), StoreError>;

    /// The customer mapped to `key`, creating `new_customer` (with `key` in its
    /// identities) and the mapping if there is none. Exactly one caller wins when many
    /// race on the same new key; all get the same id. Returns `(id, created)`.
    async fn resolve_or_create(
        &self,
        key: &IdentityKey,
        new_customer: Customer,
    ) -> Result<(CustomerId, bool), StoreError>;

    async fn customer_by_identity(
        &self,
        key: &IdentityKey,
    ) -> Result<Option<CustomerId>, StoreError>;

    /// One page of every identity link (`limit` at most), in the backend's own order,
    /// after cursor `after` (the previous page's; `None`: from the start); answers the
    /// links and the next page's cursor (`None` at the end). For maintenance passes
    /// over all identities (`Engine::stitch_shared_identities`). A link whose channel
    /// this build does not know is skipped.
    async fn identities_page(
        &self,
        after: Option<String>,
        limit: usize,
    ) -> Result<IdentityPage, StoreError>;
    async fn customer(&self, id: CustomerId) -> Result<Option<Customer>, StoreError>;

    /// Up to `limit` events of `customer`, newest first, strictly older than `before`
    /// when given.
    async fn timeline(
        &self,
        customer: CustomerId,
        before: Option<EventId>,
        limit: usize,
    ) -> Result<Vec<TimelineEvent>, StoreError>;

    async fn conversation(&self, id: ConversationId) -> Result<Option<Conversation>, StoreError>;
    /// The customer's conversations, newest `created_at` first.
    async fn conversations_of(&self, customer: CustomerId)
        -> Result<Vec<Conversation>, StoreError>;
    /// Every conversation whose state is open (queued, assigned, wrap-up).
    async fn open_conversations(&self) -> Result<Vec<Conversation>, StoreError>;

    async fn agent(&self, id: &AgentId) -> Result<Option<AgentProfile>, StoreError>;
    async fn agents(&self) -> Result<Vec<AgentProfile>, StoreError>;
    async fn queues(&self) -> Result<Vec<QueueConfig>, StoreError>;

    /// A conversation's routing trace, oldest first.
    async fn trace(&self, conversation: ConversationId) -> Result<Vec<TraceEntry>, StoreError>;

    async fn setting(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Stores `value` under setting `key` unless one is there already, and answers the
    /// value that stays (ours, or the one stored first). Concurrent calls — the first
    /// start of several nodes making a shared key — all answer the same value: the CQL
    /// store decides with a lightweight transaction, the embedded store (one process)
    /// serialises the calls.
    async fn setting_if_absent(&self, key: &str, value: Vec<u8>) -> Result<Vec<u8>, StoreError>;

    /// Up to `limit` replies still in the outbox, oldest first (resent at start).
    async fn pending_outbox(&self, limit: usize) -> Result<Vec<OutboxEntry>, StoreError>;

    /// Report events with `from <= at < to`, of `queue` or of every queue when `None`,
    /// ordered by (day, queue, event id); at most `limit` of them (the caller asks for
    /// one more than it accepts to detect a range that is too large).
    async fn report_events(
        &self,
        queue: Option<&QueueName>,
        from: Millis,
        to: Millis,
        limit: usize,
    ) -> Result<Vec<ReportEvent>, StoreError>;

    /// Presence events of `queue` with `from <= at < to`, ordered by (day, event id); at
    /// most `limit` of them (ask for one more than accepted to detect too large a range).
    async fn presence_events(
        &self,
        queue: &QueueName,
        from: Millis,
        to: Millis,
        limit: usize,
    ) -> Result<Vec<PresenceEvent>, StoreError>;

    /// One record of the generic records table.
    async fn record(&self, kind: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Up to `limit` records of `kind` as `(key, value)`, ascending by key (bytewise),
    /// with keys strictly greater than `after` when given (paging).
    async fn records(
        &self,
        kind: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError>;

    /// [`Store::records`] no further than `until` (inclusive): a due-time keyed kind read
    /// up to now never reads the rows (or, on CQL, the tombstones of deleted rows) of
    /// later keys.
    async fn records_through(
        &self,
        kind: &str,
        after: Option<&str>,
        until: &str,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError>;

    /// The record of `key` for `customer`, unless it has expired by `now`.
    async fn idempotency(
        &self,
        customer: CustomerId,
        key: &str,
        now: Millis,
    ) -> Result<Option<IdempotencyRecord>, StoreError>;

    /// Removes up to `limit` idempotency records and erasure tombstones expired by
    /// `now`; returns how many. A backend whose records expire by themselves (CQL TTL)
    /// removes none.
    async fn expire_idempotency(&self, now: Millis, limit: usize) -> Result<usize, StoreError>;

    /// The erasure tombstone of the provider message id hashed as `hash`, unless it has
    /// expired by `now` (see [`Tombstone`]; written by [`Store::erase`]).
    async fn tombstone(
        &self,
        hash: &[u8; 32],
        now: Millis,
    ) -> Result<Option<Tombstone>, StoreError>;

    /// One event of `customer`'s timeline, if it is stored.
    async fn event(
        &self,
        customer: CustomerId,
        id: EventId,
    ) -> Result<Option<TimelineEvent>, StoreError>;

    /// The metadata of `owner`'s blob `id`, once its chunks and metadata are written.
    async fn blob(&self, owner: CustomerId, id: &BlobId) -> Result<Option<BlobMeta>, StoreError>;

    /// Chunk `seq` of `owner`'s blob `id`.
    async fn blob_chunk(
        &self,
        owner: CustomerId,
        id: &BlobId,
        seq: u32,
    ) -> Result<Option<Vec<u8>>, StoreError>;

    /// Cheap round trip proving the store answers (readiness).
    async fn health(&self) -> Result<(), StoreError>;

    /// Erases a customer's personal data and records `erasure.audit`, durably (see
    /// [`Erasure`]). Deleting what is already gone is not an error.
    async fn erase(&self, erasure: Erasure) -> Result<(), StoreError>;

    /// Appends one entry to the audit log, durably.
    async fn append_audit(&self, entry: AuditEntry) -> Result<(), StoreError>;

    /// Up to `limit` audit entries, newest first, strictly older than `before` if given.
    async fn audit_log(
        &self,
        before: Option<EventId>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError>;
}

/// Shared handle to the configured store.
pub type SharedStore = Arc<dyn Store>;

/// What a backend guarantees beyond the common contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// A committed batch spanning several partitions (customer, conversation, timeline)
    /// is seen by readers all at once or not at all.
    pub atomic_multi_partition_batches: bool,
}

impl Capabilities {
    /// Everything: a transactional, single-node store.
    pub const ALL: Capabilities = Capabilities {
        atomic_multi_partition_batches: true,
    };
}
