//! The embedded, default [`Store`] backend: one redb database file,
//! `<dir>/switchboard.redb`, in the engine's own process.
//!
//! This module owns the on-disk layout of the embedded store and the single writer
//! thread. It must not hold any engine state (actors, routing) and must never block an
//! async executor thread: all disk work runs on the writer thread or in
//! `tokio::task::spawn_blocking`.
//!
//! # Design
//!
//! * **Group commit.** A dedicated `std::thread` owns every write. [`Store::commit`] and
//!   [`Store::resolve_or_create`] send a [`Request`] over a bounded
//!   `std::sync::mpsc::sync_channel` (capacity [`EmbeddedOptions::max_pending_writes`])
//!   with `try_send` (full -> [`StoreError::Overloaded`], writer gone ->
//!   [`StoreError::Unavailable`]) and await a `tokio::sync::oneshot` answer. The writer
//!   blocks on `recv()`, drains whatever else is queued (at most
//!   [`EmbeddedOptions::max_batch`] requests in all), applies them in send order in ONE
//!   redb write transaction with `Durability::Immediate` (fsync), commits, then answers
//!   every waiter. If the grouped transaction fails (say one batch overwrites a corrupt
//!   record), it is aborted and the requests are re-applied one transaction each, so
//!   each waiter gets its own result and a bad batch never sinks good ones. A waiter is
//!   answered `Ok` only after the transaction holding its batch has committed, hence
//!   "durable when `commit` returns".
//! * **Single-winner identities.** `resolve_or_create` goes through the writer too: the
//!   check-and-insert happens inside one write transaction, and there is only one writer,
//!   so racing callers agree on one customer id and exactly one sees `created = true`.
//! * **Reads** share an `Arc<redb::Database>`; each read opens a read transaction inside
//!   `spawn_blocking`, so it sees a consistent snapshot (a committed batch is visible
//!   entirely or not at all).
//! * **Shutdown.** Dropping the store drops the request sender; the writer finishes the
//!   queued requests, exits, and `Drop` joins it (so the file lock is released and the
//!   directory can be reopened at once). That join may wait for queued writes: drop the
//!   store at shutdown, not on a latency-sensitive task.
//!
//! # Tables
//!
//! Keys are bytes (ids as their 16 UUID bytes, concatenated for compound keys; UUID v7
//! event ids sort in time order), values are JSON (`serde_json`), easy to inspect.
//!
//! | table | key | value |
//! |---|---|---|
//! | `customers` | customer_id | `Customer` |
//! | `identities` | `IdentityKey::storage_key()` | customer_id (16 bytes) |
//! | `timeline` | customer_id ++ event_id | `TimelineEvent` (read newest first) |
//! | `timeline` (idempotency records) | customer_id ++ 16 × 0xff ++ key | event_id ++ conversation_id ++ digest ++ at ++ expires_at (56 bytes, big-endian; see `encode_idem`) |
//! | `conversations` | conversation_id | `Conversation` |
//! | `conversations_by_customer` | customer_id ++ conversation_id | empty |
//! | `open_conversations` | conversation_id | empty; present iff `state.is_open()` |
//! | `agents` | agent id | `AgentProfile` |
//! | `queues` | queue name | `QueueConfig` |
//! | `traces` | conversation_id ++ entry id | `TraceEntry` (oldest first) |
//! | `settings` | key | raw bytes |
//! | `outbox` | event_id | `OutboxEntry` |
//! | `audit_log` | entry id | `AuditEntry` (read newest first) |
//! | `report_events` | day ++ len(queue) ++ queue ++ event_id | `ReportEvent` |
//! | `presence_log` | day ++ len(queue) ++ queue ++ event_id | `PresenceEvent` |
//! | `records` | kind ++ NUL ++ key | raw bytes (the feature's JSON) |
//! | `idempotency_expiry` | expires_at ++ customer_id ++ key | empty; the sweep's index |
//! | `erasure_tombstones` | hash (32 bytes) | expires_at (8 bytes, big-endian) ++ channel name |
//! | `tombstone_expiry` | expires_at ++ hash | empty; the sweep's index |
//!
//! Idempotency records live in the `timeline` table right after the customer's events
//! (their keys sort after every event id of the customer, so timeline reads never see
//! them): the leaf page a message's event dirties usually takes its record too, where a
//! table of their own cost the writer a second random page per message.
//!
//! `report_events` (and `presence_log`) keys start with the UTC day as a big-endian `i64` with the sign bit
//! flipped (so days sort numerically), then the queue name prefixed by its length, then
//! the event id: one (queue, day) partition is one contiguous key range, and one day of
//! every queue is one range too.
//!
//! Undecodable stored bytes are reported as [`StoreError::Corrupt`], redb failures as
//! [`StoreError::Backend`]; nothing read from disk is unwrapped.

use super::{
    AuditEntry, Batch, Erasure, IdempotencyRecord, OutboxEntry, RowLease, Store, StoreError,
    Tombstone, TraceEntry,
};
use async_trait::async_trait;
use domain::{
    AgentId, AgentProfile, Conversation, ConversationId, Customer, CustomerId, EventId,
    IdentityKey, Millis, PresenceEvent, QueueConfig, QueueName, ReportEvent, TimelineEvent,
};
use redb::{Database, Durability, ReadTransaction, ReadableTable, TableDefinition};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use tokio::sync::oneshot;

/// Name of the database file inside the store directory.
pub const FILE_NAME: &str = "switchboard.redb";

const CUSTOMERS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("customers");
const IDENTITIES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("identities");
const TIMELINE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("timeline");
const CONVERSATIONS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("conversations");
const CONVERSATIONS_BY_CUSTOMER: TableDefinition<&[u8], &[u8]> =
    TableDefinition::new("conversations_by_customer");
const OPEN_CONVERSATIONS: TableDefinition<&[u8], &[u8]> =
    TableDefinition::new("open_conversations");
const AGENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("agents");
const QUEUES: TableDefinition<&str, &[u8]> = TableDefinition::new("queues");
const TRACES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("traces");
const SETTINGS: TableDefinition<&str, &[u8]> = TableDefinition::new("settings");
/// event id (time-ordered) -> OutboxEntry.
const OUTBOX: TableDefinition<&[u8], &[u8]> = TableDefinition::new("outbox");
/// entry id (time-ordered) -> AuditEntry.
const AUDIT: TableDefinition<&[u8], &[u8]> = TableDefinition::new("audit_log");
const REPORT_EVENTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("report_events");
const PRESENCE_LOG: TableDefinition<&[u8], &[u8]> = TableDefinition::new("presence_log");
const RECORDS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("records");
const IDEMPOTENCY_EXPIRY: TableDefinition<&[u8], &[u8]> =
    TableDefinition::new("idempotency_expiry");
/// hash -> expires_at ++ channel (see `encode_tombstone`).
const TOMBSTONES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("erasure_tombstones");
/// expires_at ++ hash -> empty.
const TOMBSTONE_EXPIRY: TableDefinition<&[u8], &[u8]> = TableDefinition::new("tombstone_expiry");
/// `c` ++ customer id, or `v` ++ conversation id -> epoch (8 bytes, big-endian) ++ lease
/// key: the lease a state row was last written under ([`crate::RowLease`]).
const ROW_FENCES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("row_fences");
/// Attachments: `customer ++ sha256 ++ 0` the metadata (JSON), `customer ++ sha256 ++
/// 1 ++ seq (u32 BE)` the chunks; one customer's blobs are one key range.
const BLOBS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("blobs");

/// The [`ROW_FENCES`] key of a row: `kind` (`b'c'` customer, `b'v'` conversation) ++ id.
fn fence_key(kind: u8, id: &[u8; 16]) -> [u8; 17] {
    let mut k = [kind; 17];
    k[1..].copy_from_slice(id);
    k
}

fn encode_fence(lease: &RowLease) -> Vec<u8> {
    let mut v = lease.epoch.to_be_bytes().to_vec();
    v.extend_from_slice(lease.key.as_bytes());
    v
}

fn decode_fence(v: &[u8]) -> Result<RowLease, StoreError> {
    let (epoch, key) = v
        .split_first_chunk::<8>()
        .ok_or_else(|| StoreError::Corrupt("row_fences: value shorter than 8 bytes".into()))?;
    Ok(RowLease {
        epoch: u64::from_be_bytes(*epoch),
        key: String::from_utf8(key.to_vec())
            .map_err(|e| StoreError::Corrupt(format!("row_fences: {e}")))?,
    })
}

/// `customer_id ++ 16 × 0xff ++ key` in the `timeline` table: after every event of the
/// customer (`key2(customer, EventId::MAX)` is a strict prefix, keys are never empty),
/// one customer's records one contiguous range.
fn idempotency_key(customer: CustomerId, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(32 + key.len());
    k.extend_from_slice(&idempotency_prefix(customer));
    k.extend_from_slice(key.as_bytes());
    k
}

fn idempotency_prefix(customer: CustomerId) -> [u8; 32] {
    key2(customer.as_bytes(), EventId::MAX.as_bytes())
}

/// `expires_at ++ customer_id ++ key`: the expiry index, oldest first.
fn expiry_key(expires_at: Millis, customer: CustomerId, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + 16 + key.len());
    k.extend_from_slice(&day_key(expires_at.0));
    k.extend_from_slice(customer.as_bytes());
    k.extend_from_slice(key.as_bytes());
    k
}

/// `kind ++ NUL ++ key`: one kind is one contiguous key range, ordered by key bytes.
fn record_key(kind: &str, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(kind.len() + 1 + key.len());
    k.extend_from_slice(kind.as_bytes());
    k.push(0);
    k.extend_from_slice(key.as_bytes());
    k
}

/// The stored value of an idempotency record: event id, conversation id, digest,
/// `at`, `expires_at` (16 + 16 + 8 + 8 + 8 bytes, integers big-endian); the customer
/// and the key are the row's key. Fixed and small: it is written with every message.
fn encode_idem(r: &IdempotencyRecord) -> [u8; 56] {
    let mut v = [0u8; 56];
    v[..16].copy_from_slice(r.event_id.as_bytes());
    v[16..32].copy_from_slice(r.conversation_id.as_bytes());
    v[32..40].copy_from_slice(&r.digest.to_be_bytes());
    v[40..48].copy_from_slice(&r.at.0.to_be_bytes());
    v[48..].copy_from_slice(&r.expires_at.0.to_be_bytes());
    v
}

/// The record stored under `key` (see [`idempotency_key`]) as `value`.
fn decode_idem(key: &[u8], value: &[u8]) -> Result<IdempotencyRecord, StoreError> {
    let bad = |what: &str| StoreError::Corrupt(format!("idempotency: {what}"));
    if value.len() != 56 || key.len() <= 32 {
        return Err(bad("wrong length"));
    }
    let int =
        |r: std::ops::Range<usize>| <[u8; 8]>::try_from(&value[r]).map_err(|_| bad("integer"));
    Ok(IdempotencyRecord {
        customer_id: CustomerId::from_bytes(decode_uuid("idempotency", &key[..16])?),
        key: std::str::from_utf8(&key[32..])
            .map_err(|_| bad("key is not UTF-8"))?
            .to_owned(),
        event_id: EventId::from_bytes(decode_uuid("idempotency", &value[..16])?),
        conversation_id: ConversationId::from_bytes(decode_uuid("idempotency", &value[16..32])?),
        digest: u64::from_be_bytes(int(32..40)?),
        at: Millis(i64::from_be_bytes(int(40..48)?)),
        expires_at: Millis(i64::from_be_bytes(int(48..56)?)),
    })
}

/// The stored value of a tombstone: `expires_at` (8 bytes, big-endian), then the
/// channel's name; the hash is the row's key.
fn encode_tombstone(t: &Tombstone) -> Vec<u8> {
    let mut v = t.expires_at.0.to_be_bytes().to_vec();
    v.extend_from_slice(t.channel.as_str().as_bytes());
    v
}

/// The tombstone stored under `hash` as `value`.
fn decode_tombstone(hash: &[u8], value: &[u8]) -> Result<Tombstone, StoreError> {
    let bad = |what: &str| StoreError::Corrupt(format!("erasure_tombstones: {what}"));
    let hash = <[u8; 32]>::try_from(hash).map_err(|_| bad("key is not 32 bytes"))?;
    if value.len() < 8 {
        return Err(bad("value too short"));
    }
    let (at, channel) = value.split_at(8);
    let at = <[u8; 8]>::try_from(at).map_err(|_| bad("expiry"))?;
    let channel = std::str::from_utf8(channel)
        .ok()
        .and_then(|c| domain::Channel::parse(c).ok())
        .ok_or_else(|| bad("unknown channel"))?;
    Ok(Tombstone {
        hash,
        channel,
        expires_at: Millis(i64::from_be_bytes(at)),
    })
}

/// `expires_at ++ hash`: the tombstones' expiry index, oldest first.
fn tombstone_expiry_key(expires_at: Millis, hash: &[u8; 32]) -> [u8; 40] {
    let mut k = [0u8; 40];
    k[..8].copy_from_slice(&day_key(expires_at.0));
    k[8..].copy_from_slice(hash);
    k
}

/// Tuning of the embedded store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddedOptions {
    /// Writes queued for the writer thread beyond which `commit` fails with
    /// [`StoreError::Overloaded`]. At least 1 is used.
    pub max_pending_writes: usize,
    /// Most requests merged into one write transaction. At least 1 is used.
    pub max_batch: usize,
    /// redb page cache, bytes (redb's own default is 1 GiB, too much for a store whose
    /// hot data is the open conversations).
    pub cache_bytes: usize,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        Self {
            max_pending_writes: 10_000,
            max_batch: 512,
            cache_bytes: 64 * 1024 * 1024,
        }
    }
}

/// A request to the writer thread.
enum Request {
    Commit(Batch, oneshot::Sender<Result<(), StoreError>>),
    /// `Customer` already lists the identity key.
    ResolveOrCreate(
        IdentityKey,
        Customer,
        oneshot::Sender<Result<(CustomerId, bool), StoreError>>,
    ),
    /// A customer erasure with its audit entry (boxed: it is rare and large).
    Erase(Box<Erasure>, oneshot::Sender<Result<(), StoreError>>),
    Audit(AuditEntry, oneshot::Sender<Result<(), StoreError>>),
    /// Remove up to `limit` idempotency records and tombstones expired by `now`.
    Expire(Millis, usize, oneshot::Sender<Result<usize, StoreError>>),
}

/// What applying one request produced, before the transaction commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Applied {
    Committed,
    Resolved(CustomerId, bool),
    Expired(usize),
}

/// The embedded store. See the module documentation for the design.
pub struct EmbeddedStore {
    db: Arc<Database>,
    path: PathBuf,
    /// `None` only while dropping.
    tx: Option<SyncSender<Request>>,
    writer: Option<JoinHandle<()>>,
    /// Serialises [`Store::setting_if_absent`] (read, then write if absent).
    settings_once: tokio::sync::Mutex<()>,
}

impl fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl EmbeddedStore {
    /// Records of `kind` with keys in (`after`, `until`], ascending, at most `limit`.
    async fn records_between(
        &self,
        kind: &str,
        after: Option<&str>,
        until: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        use std::ops::Bound;
        let prefix = record_key(kind, "");
        let lo = match after {
            Some(a) => Bound::Excluded(record_key(kind, a)),
            None => Bound::Included(prefix.clone()),
        };
        // Every key of the kind is below `kind ++ 0x01`.
        let hi = match until {
            Some(u) => Bound::Included(record_key(kind, u)),
            None => {
                let mut hi = kind.as_bytes().to_vec();
                hi.push(1);
                Bound::Excluded(hi)
            }
        };
        self.read(move |txn| {
            let t = ro(txn, RECORDS)?;
            let (lo_ref, hi_ref) = (
                lo.as_ref().map(Vec::as_slice),
                hi.as_ref().map(Vec::as_slice),
            );
            let mut out = Vec::new();
            for row in t
                .range::<&[u8]>((lo_ref, hi_ref))
                .map_err(backend)?
                .take(limit)
            {
                let (k, v) = row.map_err(backend)?;
                let key = std::str::from_utf8(&k.value()[prefix.len()..])
                    .map_err(|e| StoreError::Corrupt(format!("records: key is not UTF-8: {e}")))?
                    .to_owned();
                out.push((key, v.value().to_vec()));
            }
            Ok(out)
        })
        .await
    }

    /// What this backend guarantees, for the conformance suite: everything (one redb
    /// transaction per batch).
    pub const CAPABILITIES: super::Capabilities = super::Capabilities::ALL;

    /// Opens (creating if needed) the store in `dir`, repairing the file after an
    /// unclean shutdown, and starts the writer thread. Fails if another handle (in this
    /// or another process) has the same directory open.
    pub fn open(dir: &Path, opts: EmbeddedOptions) -> Result<EmbeddedStore, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Backend(format!("create {}: {e}", dir.display())))?;
        let path = dir.join(FILE_NAME);
        let db = redb::Builder::new()
            .set_cache_size(opts.cache_bytes)
            .create(&path)
            .map_err(|e| match e {
                redb::DatabaseError::DatabaseAlreadyOpen => StoreError::Backend(format!(
                    "{} is in use by another engine: the embedded store serves one node \
                     (stop the other one, or give this one its own --data-dir; several \
                     nodes share a contact center on the CQL store, docs/cluster.md)",
                    path.display()
                )),
                e => StoreError::Backend(format!("open {}: {e}", path.display())),
            })?;
        // Create every table up front so that read transactions never miss one.
        write_txn(&db, |t| t.create_all())?;
        let db = Arc::new(db);
        let (tx, rx) = mpsc::sync_channel(opts.max_pending_writes.max(1));
        let max_batch = opts.max_batch.max(1);
        let writer_db = Arc::clone(&db);
        let writer = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer_loop(&writer_db, &rx, max_batch))
            .map_err(|e| StoreError::Backend(format!("spawn writer thread: {e}")))?;
        Ok(EmbeddedStore {
            db,
            path,
            tx: Some(tx),
            writer: Some(writer),
            settings_once: tokio::sync::Mutex::new(()),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops the writer after it has finished every queued write, and releases the file.
    /// Same as dropping the store.
    pub fn close(self) {
        drop(self);
    }

    fn send(&self, req: Request) -> Result<(), StoreError> {
        let tx = self
            .tx
            .as_ref()
            .ok_or_else(|| StoreError::Unavailable("store is closing".into()))?;
        tx.try_send(req).map_err(|e| match e {
            TrySendError::Full(_) => StoreError::Overloaded,
            TrySendError::Disconnected(_) => {
                StoreError::Unavailable("store writer has stopped".into())
            }
        })
    }

    /// Runs `f` on a read transaction on the blocking pool.
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&ReadTransaction) -> Result<T, StoreError> + Send + 'static,
    {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || {
            let txn = db.begin_read().map_err(backend)?;
            f(&txn)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("read task failed: {e}")))?
    }
}

impl Drop for EmbeddedStore {
    fn drop(&mut self) {
        // Disconnect the channel: the writer drains what is queued, then exits.
        drop(self.tx.take());
        if let Some(writer) = self.writer.take() {
            // A panicked writer has nothing left to clean up.
            let _ = writer.join();
        }
    }
}

fn backend(e: impl fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn encode<T: Serialize>(what: &str, v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::Backend(format!("encode {what}: {e}")))
}

fn decode<T: DeserializeOwned>(table: &str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("{table}: {e}")))
}

fn decode_uuid(table: &str, bytes: &[u8]) -> Result<[u8; 16], StoreError> {
    <[u8; 16]>::try_from(bytes).map_err(|_| {
        StoreError::Corrupt(format!(
            "{table}: expected a 16-byte id, found {} bytes",
            bytes.len()
        ))
    })
}

/// The key of a blob's metadata (`seq: None`) or of one of its chunks.
fn blob_key(owner: CustomerId, id: &crate::BlobId, seq: Option<u32>) -> Vec<u8> {
    let mut k = Vec::with_capacity(53);
    k.extend_from_slice(owner.as_bytes());
    k.extend_from_slice(&id.bytes());
    match seq {
        None => k.push(0),
        Some(seq) => {
            k.push(1);
            k.extend_from_slice(&seq.to_be_bytes());
        }
    }
    k
}

/// `a ++ b`, the compound key of the timeline, index and trace tables.
fn key2(a: &[u8; 16], b: &[u8; 16]) -> [u8; 32] {
    let mut k = [0u8; 32];
    k[..16].copy_from_slice(a);
    k[16..].copy_from_slice(b);
    k
}

/// The sortable 8-byte form of a UTC day (sign bit flipped, big-endian).
fn day_key(day: i64) -> [u8; 8] {
    ((day as u64) ^ (1 << 63)).to_be_bytes()
}

/// The key prefix of one (day, queue) partition of `report_events`.
fn report_prefix(day: i64, queue: &QueueName) -> Vec<u8> {
    let q = queue.as_str().as_bytes();
    let mut k = Vec::with_capacity(8 + 1 + q.len() + 16);
    k.extend_from_slice(&day_key(day));
    // Queue names are short parsed identifiers; the length byte keeps one queue's
    // partition from being a prefix of another's.
    k.push(q.len().min(255) as u8);
    k.extend_from_slice(q);
    k
}

/// The full `report_events` (or `presence_log`) key of an event.
fn report_key(day: i64, queue: &QueueName, id: EventId) -> Vec<u8> {
    let mut k = report_prefix(day, queue);
    k.extend_from_slice(id.as_bytes());
    k
}

/// The key ranges of `report_events` (or `presence_log`) holding the events of `queue`
/// (every queue when `None`) from `from` to `to` (exclusive; `from < to`): one per day
/// for one queue, one over the days for every queue.
fn report_ranges(queue: Option<&QueueName>, from: Millis, to: Millis) -> Vec<(Vec<u8>, Vec<u8>)> {
    let (first, last) = (
        domain::report::day_of(from),
        domain::report::day_of(Millis(to.0 - 1)),
    );
    match queue {
        Some(q) => (first..=last)
            .map(|d| {
                let p = report_prefix(d, q);
                let mut hi = p.clone();
                hi.extend_from_slice(&[0xff; 16]);
                (p, hi)
            })
            .collect(),
        None => vec![(day_key(first).to_vec(), {
            let mut hi = day_key(last).to_vec();
            hi.extend_from_slice(&[0xff; 300]);
            hi
        })],
    }
}

/// Up to `limit` events of a log table (`report_events`, `presence_log`) in `ranges`,
/// in key order, that `keep` accepts.
fn read_log<T: serde::de::DeserializeOwned>(
    txn: &ReadTransaction,
    table: TableDefinition<&[u8], &[u8]>,
    ranges: &[(Vec<u8>, Vec<u8>)],
    limit: usize,
    keep: impl Fn(&T) -> bool,
) -> Result<Vec<T>, StoreError> {
    let t = ro(txn, table)?;
    let mut out = Vec::new();
    for (lo, hi) in ranges {
        for row in t
            .range::<&[u8]>(lo.as_slice()..=hi.as_slice())
            .map_err(backend)?
        {
            let (_, v) = row.map_err(backend)?;
            let e: T = decode(redb::TableHandle::name(&table), v.value())?;
            if keep(&e) {
                out.push(e);
                if out.len() >= limit {
                    return Ok(out);
                }
            }
        }
    }
    Ok(out)
}

/// The second id of a compound key.
fn second_id(table: &str, key: &[u8]) -> Result<[u8; 16], StoreError> {
    if key.len() != 32 {
        return Err(StoreError::Corrupt(format!(
            "{table}: expected a 32-byte key, found {} bytes",
            key.len()
        )));
    }
    decode_uuid(table, &key[16..])
}

// ---------------------------------------------------------------------------------------
// Writer side.

/// The tables of one write transaction, each opened when first used: a message's
/// commit touches three or four of the twenty, and opening and closing every one of
/// them cost about a third of its instructions (BENCHMARKS.md "Instructions per
/// message").
struct Tables<'txn> {
    customers: Lazy<'txn, &'static [u8]>,
    identities: Lazy<'txn, &'static [u8]>,
    timeline: Lazy<'txn, &'static [u8]>,
    conversations: Lazy<'txn, &'static [u8]>,
    by_customer: Lazy<'txn, &'static [u8]>,
    open: Lazy<'txn, &'static [u8]>,
    agents: Lazy<'txn, &'static str>,
    queues: Lazy<'txn, &'static str>,
    traces: Lazy<'txn, &'static [u8]>,
    settings: Lazy<'txn, &'static str>,
    outbox: Lazy<'txn, &'static [u8]>,
    audit: Lazy<'txn, &'static [u8]>,
    report_events: Lazy<'txn, &'static [u8]>,
    presence: Lazy<'txn, &'static [u8]>,
    records: Lazy<'txn, &'static [u8]>,
    expiry: Lazy<'txn, &'static [u8]>,
    tombstones: Lazy<'txn, &'static [u8]>,
    tombstone_expiry: Lazy<'txn, &'static [u8]>,
    fences: Lazy<'txn, &'static [u8]>,
    blobs: Lazy<'txn, &'static [u8]>,
}

/// A table opened on first use in a write transaction.
struct Lazy<'txn, K: redb::Key + 'static> {
    txn: &'txn redb::WriteTransaction,
    def: redb::TableDefinition<'static, K, &'static [u8]>,
    table: Option<redb::Table<'txn, K, &'static [u8]>>,
}

impl<'txn, K: redb::Key + 'static> Lazy<'txn, K> {
    fn new(
        txn: &'txn redb::WriteTransaction,
        def: redb::TableDefinition<'static, K, &'static [u8]>,
    ) -> Self {
        Self {
            txn,
            def,
            table: None,
        }
    }

    fn table(&mut self) -> Result<&mut redb::Table<'txn, K, &'static [u8]>, StoreError> {
        if self.table.is_none() {
            self.table = Some(self.txn.open_table(self.def).map_err(backend)?);
        }
        self.table
            .as_mut()
            .ok_or_else(|| StoreError::Backend("internal: a table did not open".into()))
    }
}

impl Lazy<'_, &'static [u8]> {
    /// Removes every row whose key is in `lo..=hi`.
    fn remove_range(&mut self, lo: &[u8], hi: &[u8]) -> Result<(), StoreError> {
        let mut keys = Vec::new();
        for row in self.table()?.range::<&[u8]>(lo..=hi).map_err(backend)? {
            let (k, _) = row.map_err(backend)?;
            keys.push(k.value().to_vec());
        }
        for k in keys {
            self.table()?.remove(k.as_slice()).map_err(backend)?;
        }
        Ok(())
    }
}

impl<'txn> Tables<'txn> {
    fn open(txn: &'txn redb::WriteTransaction) -> Self {
        Self {
            customers: Lazy::new(txn, CUSTOMERS),
            identities: Lazy::new(txn, IDENTITIES),
            timeline: Lazy::new(txn, TIMELINE),
            conversations: Lazy::new(txn, CONVERSATIONS),
            by_customer: Lazy::new(txn, CONVERSATIONS_BY_CUSTOMER),
            open: Lazy::new(txn, OPEN_CONVERSATIONS),
            agents: Lazy::new(txn, AGENTS),
            queues: Lazy::new(txn, QUEUES),
            traces: Lazy::new(txn, TRACES),
            settings: Lazy::new(txn, SETTINGS),
            outbox: Lazy::new(txn, OUTBOX),
            audit: Lazy::new(txn, AUDIT),
            report_events: Lazy::new(txn, REPORT_EVENTS),
            presence: Lazy::new(txn, PRESENCE_LOG),
            records: Lazy::new(txn, RECORDS),
            expiry: Lazy::new(txn, IDEMPOTENCY_EXPIRY),
            tombstones: Lazy::new(txn, TOMBSTONES),
            tombstone_expiry: Lazy::new(txn, TOMBSTONE_EXPIRY),
            fences: Lazy::new(txn, ROW_FENCES),
            blobs: Lazy::new(txn, BLOBS),
        }
    }

    /// Opens every table, creating the missing ones (at start, so that read
    /// transactions never miss one).
    fn create_all(&mut self) -> Result<(), StoreError> {
        self.customers.table()?;
        self.identities.table()?;
        self.timeline.table()?;
        self.conversations.table()?;
        self.by_customer.table()?;
        self.open.table()?;
        self.agents.table()?;
        self.queues.table()?;
        self.traces.table()?;
        self.settings.table()?;
        self.outbox.table()?;
        self.audit.table()?;
        self.report_events.table()?;
        self.presence.table()?;
        self.records.table()?;
        self.expiry.table()?;
        self.tombstones.table()?;
        self.tombstone_expiry.table()?;
        self.fences.table()?;
        self.blobs.table()?;
        Ok(())
    }

    fn put_customer(&mut self, c: &Customer) -> Result<(), StoreError> {
        let v = encode("customer", c)?;
        self.customers
            .table()?
            .insert(c.id.as_bytes().as_slice(), v.as_slice())
            .map_err(backend)?;
        Ok(())
    }

    fn put_identity(&mut self, key: &IdentityKey, id: CustomerId) -> Result<(), StoreError> {
        self.identities
            .table()?
            .insert(key.storage_key().as_bytes(), id.as_bytes().as_slice())
            .map_err(backend)?;
        Ok(())
    }

    fn put_conversation(&mut self, c: &Conversation) -> Result<(), StoreError> {
        let id = c.id.as_bytes();
        // A conversation moved to another customer leaves the old customer's index.
        let previous_owner = match self
            .conversations
            .table()?
            .get(id.as_slice())
            .map_err(backend)?
        {
            Some(old) => Some(decode::<Conversation>("conversations", old.value())?.customer_id),
            None => None,
        };
        if let Some(old) = previous_owner.filter(|o| *o != c.customer_id) {
            self.by_customer
                .table()?
                .remove(key2(old.as_bytes(), id).as_slice())
                .map_err(backend)?;
        }
        let v = encode("conversation", c)?;
        self.conversations
            .table()?
            .insert(id.as_slice(), v.as_slice())
            .map_err(backend)?;
        self.by_customer
            .table()?
            .insert(key2(c.customer_id.as_bytes(), id).as_slice(), [].as_slice())
            .map_err(backend)?;
        if c.state.is_open() {
            self.open
                .table()?
                .insert(id.as_slice(), [].as_slice())
                .map_err(backend)?;
        } else {
            self.open.table()?.remove(id.as_slice()).map_err(backend)?;
        }
        Ok(())
    }

    /// Checks every row `b` rewrites under a lease against its fence, then records
    /// the new fences (the batch's transaction aborts on a refusal: nothing written).
    fn fence_rows(&mut self, b: &Batch) -> Result<(), StoreError> {
        let customers = b
            .customers
            .iter()
            .map(|c| (b'c', *c.id.as_bytes(), c.id, &c.id as &dyn fmt::Display));
        let conversations = b.conversations.iter().map(|c| {
            (
                b'v',
                *c.id.as_bytes(),
                c.customer_id,
                &c.id as &dyn fmt::Display,
            )
        });
        for (kind, id, customer, shown) in customers.chain(conversations) {
            let Some(lease) = b.leases.get(&customer) else {
                continue;
            };
            let k = fence_key(kind, &id);
            let stored = match self.fences.table()?.get(k.as_slice()).map_err(backend)? {
                Some(v) => Some(decode_fence(v.value())?),
                None => None,
            };
            if let Some(row) = stored.filter(|row| !lease.may_overwrite(Some(row))) {
                let what = if kind == b'c' {
                    "customer"
                } else {
                    "conversation"
                };
                return Err(lease.refused(&format!("{what} {shown}"), &row));
            }
            self.fences
                .table()?
                .insert(k.as_slice(), encode_fence(lease).as_slice())
                .map_err(backend)?;
        }
        Ok(())
    }

    fn apply_batch(&mut self, b: &Batch) -> Result<(), StoreError> {
        self.fence_rows(b)?;
        for put in &b.blobs {
            self.put_blob(put)?;
        }
        for c in &b.customers {
            self.put_customer(c)?;
        }
        for (key, id) in &b.identities {
            self.put_identity(key, *id)?;
        }
        for e in &b.events {
            let v = encode("timeline event", e)?;
            self.timeline
                .table()?
                .insert(
                    key2(e.customer_id.as_bytes(), e.id.as_bytes()).as_slice(),
                    v.as_slice(),
                )
                .map_err(backend)?;
        }
        for c in &b.conversations {
            self.put_conversation(c)?;
        }
        for a in &b.agents {
            let v = encode("agent", a)?;
            self.agents
                .table()?
                .insert(a.id.as_str(), v.as_slice())
                .map_err(backend)?;
        }
        for q in &b.queues {
            let v = encode("queue", q)?;
            self.queues
                .table()?
                .insert(q.name.as_str(), v.as_slice())
                .map_err(backend)?;
        }
        for t in &b.traces {
            let v = encode("trace entry", t)?;
            self.traces
                .table()?
                .insert(
                    key2(t.conversation_id.as_bytes(), t.id.as_bytes()).as_slice(),
                    v.as_slice(),
                )
                .map_err(backend)?;
        }
        for (k, v) in &b.settings {
            self.settings
                .table()?
                .insert(k.as_str(), v.as_slice())
                .map_err(backend)?;
        }
        for o in &b.outbox {
            let v = encode("outbox entry", o)?;
            self.outbox
                .table()?
                .insert(o.event_id.as_bytes().as_slice(), v.as_slice())
                .map_err(backend)?;
        }
        for id in &b.outbox_done {
            self.outbox
                .table()?
                .remove(id.as_bytes().as_slice())
                .map_err(backend)?;
        }
        for e in &b.report_events {
            let v = encode("report event", e)?;
            self.report_events
                .table()?
                .insert(report_key(e.day(), &e.queue, e.id).as_slice(), v.as_slice())
                .map_err(backend)?;
        }
        for e in &b.presence {
            let v = encode("presence event", e)?;
            self.presence
                .table()?
                .insert(report_key(e.day(), &e.queue, e.id).as_slice(), v.as_slice())
                .map_err(backend)?;
        }
        for r in &b.records {
            let k = record_key(&r.kind, &r.key);
            match &r.value {
                Some(v) => {
                    self.records
                        .table()?
                        .insert(k.as_slice(), v.as_slice())
                        .map_err(backend)?;
                }
                None => {
                    self.records
                        .table()?
                        .remove(k.as_slice())
                        .map_err(backend)?;
                }
            }
        }
        for r in &b.idempotency {
            self.put_idempotency(r)?;
        }
        Ok(())
    }

    /// Upserts `r` with its expiry index entry. A rewrite of the key leaves its old
    /// index entry behind; the sweep checks the record's own expiry before removing it.
    fn put_idempotency(&mut self, r: &IdempotencyRecord) -> Result<(), StoreError> {
        let k = idempotency_key(r.customer_id, &r.key);
        self.timeline
            .table()?
            .insert(k.as_slice(), encode_idem(r).as_slice())
            .map_err(backend)?;
        self.expiry
            .table()?
            .insert(
                expiry_key(r.expires_at, r.customer_id, &r.key).as_slice(),
                [].as_slice(),
            )
            .map_err(backend)?;
        Ok(())
    }

    /// Deletes every idempotency record of `customer` (erasure).
    fn delete_idempotency_of(&mut self, customer: CustomerId) -> Result<(), StoreError> {
        let lo = idempotency_prefix(customer);
        let mut gone = Vec::new();
        for row in self
            .timeline
            .table()?
            .range::<&[u8]>(lo.as_slice()..)
            .map_err(backend)?
        {
            let (k, v) = row.map_err(backend)?;
            // Not `lo` itself: that is the key of an event with the largest id.
            if !k.value().starts_with(&lo) {
                break;
            }
            if k.value().len() == lo.len() {
                continue;
            }
            let r = decode_idem(k.value(), v.value())?;
            gone.push((k.value().to_vec(), r.expires_at, r.key));
        }
        for (k, expires_at, key) in gone {
            self.timeline
                .table()?
                .remove(k.as_slice())
                .map_err(backend)?;
            self.expiry
                .table()?
                .remove(expiry_key(expires_at, customer, &key).as_slice())
                .map_err(backend)?;
        }
        Ok(())
    }

    /// Upserts `t` with its expiry index entry (an older entry of the same hash is
    /// left behind; the sweep checks the tombstone's own expiry before removing it).
    fn put_tombstone(&mut self, t: &Tombstone) -> Result<(), StoreError> {
        self.tombstones
            .table()?
            .insert(t.hash.as_slice(), encode_tombstone(t).as_slice())
            .map_err(backend)?;
        self.tombstone_expiry
            .table()?
            .insert(
                tombstone_expiry_key(t.expires_at, &t.hash).as_slice(),
                [].as_slice(),
            )
            .map_err(backend)?;
        Ok(())
    }

    /// Removes up to `limit` idempotency records, then tombstones, expired by `now`.
    fn expire(&mut self, now: Millis, limit: usize) -> Result<usize, StoreError> {
        let removed = self.expire_idempotency(now, limit)?;
        Ok(removed + self.expire_tombstones(now, limit - removed)?)
    }

    /// Removes up to `limit` tombstone expiry entries due by `now`, oldest first, with
    /// their tombstones (one rewritten with a later expiry stays).
    fn expire_tombstones(&mut self, now: Millis, limit: usize) -> Result<usize, StoreError> {
        let hi = day_key(now.0);
        let mut keys = Vec::new();
        for row in self
            .tombstone_expiry
            .table()?
            .range::<&[u8]>(..hi.as_slice())
            .map_err(backend)?
            .take(limit)
        {
            let (k, _) = row.map_err(backend)?;
            keys.push(k.value().to_vec());
        }
        let mut removed = 0;
        for k in &keys {
            self.tombstone_expiry
                .table()?
                .remove(k.as_slice())
                .map_err(backend)?;
            let hash = &k[8..];
            let due = match self.tombstones.table()?.get(hash).map_err(backend)? {
                Some(v) => decode_tombstone(hash, v.value())?.expires_at <= now,
                None => false,
            };
            if due {
                self.tombstones.table()?.remove(hash).map_err(backend)?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Removes up to `limit` expiry index entries due by `now`, oldest first, with
    /// their records (a record rewritten with a later expiry stays).
    fn expire_idempotency(&mut self, now: Millis, limit: usize) -> Result<usize, StoreError> {
        let hi = day_key(now.0);
        let mut keys = Vec::new();
        for row in self
            .expiry
            .table()?
            .range::<&[u8]>(..hi.as_slice())
            .map_err(backend)?
            .take(limit)
        {
            let (k, _) = row.map_err(backend)?;
            keys.push(k.value().to_vec());
        }
        let mut removed = 0;
        for k in &keys {
            self.expiry.table()?.remove(k.as_slice()).map_err(backend)?;
            let (customer, key) = k[8..].split_at(16);
            let customer = CustomerId::from_bytes(decode_uuid("idempotency_expiry", customer)?);
            let key = std::str::from_utf8(key)
                .map_err(|_| StoreError::Corrupt("idempotency_expiry: key is not UTF-8".into()))?;
            let record = idempotency_key(customer, key);
            let due = match self
                .timeline
                .table()?
                .get(record.as_slice())
                .map_err(backend)?
            {
                Some(v) => decode_idem(&record, v.value())?.expires_at <= now,
                None => false,
            };
            if due {
                self.timeline
                    .table()?
                    .remove(record.as_slice())
                    .map_err(backend)?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    fn resolve_or_create(
        &mut self,
        key: &IdentityKey,
        new_customer: &Customer,
    ) -> Result<(CustomerId, bool), StoreError> {
        let existing = match self
            .identities
            .table()?
            .get(key.storage_key().as_bytes())
            .map_err(backend)?
        {
            Some(v) => Some(decode_uuid("identities", v.value())?),
            None => None,
        };
        if let Some(id) = existing {
            return Ok((CustomerId::from_bytes(id), false));
        }
        self.put_customer(new_customer)?;
        self.put_identity(key, new_customer.id)?;
        Ok((new_customer.id, true))
    }

    fn put_audit(&mut self, a: &AuditEntry) -> Result<(), StoreError> {
        let v = encode("audit entry", a)?;
        self.audit
            .table()?
            .insert(a.id.as_bytes().as_slice(), v.as_slice())
            .map_err(backend)?;
        Ok(())
    }

    fn put_blob(&mut self, put: &crate::BlobPut) -> Result<(), StoreError> {
        let m = &put.meta;
        for (seq, chunk) in put.chunks.iter().enumerate() {
            let seq = u32::try_from(seq).map_err(backend)?;
            self.blobs
                .table()?
                .insert(
                    blob_key(m.owner, &m.id, Some(seq)).as_slice(),
                    chunk.as_slice(),
                )
                .map_err(backend)?;
        }
        let v = encode("blob", m)?;
        self.blobs
            .table()?
            .insert(blob_key(m.owner, &m.id, None).as_slice(), v.as_slice())
            .map_err(backend)?;
        Ok(())
    }

    fn delete_blobs_of(&mut self, owner: CustomerId) -> Result<(), StoreError> {
        let lo = owner.as_bytes().to_vec();
        let mut hi = lo.clone();
        hi.extend_from_slice(&[0xff; 40]);
        self.blobs.remove_range(&lo, &hi)
    }

    fn apply_erasure(&mut self, e: &Erasure) -> Result<(), StoreError> {
        for c in &e.customers {
            self.put_customer(c)?;
        }
        for t in &e.tombstones {
            self.put_tombstone(t)?;
        }
        for k in &e.identities {
            self.identities
                .table()?
                .remove(k.storage_key().as_bytes())
                .map_err(backend)?;
        }
        for c in &e.timelines {
            let lo = key2(c.as_bytes(), &[0u8; 16]);
            let hi = key2(c.as_bytes(), &[0xffu8; 16]);
            self.timeline.remove_range(&lo, &hi)?;
            self.delete_idempotency_of(*c)?;
            self.delete_blobs_of(*c)?;
        }
        for c in &e.conversations {
            self.put_conversation(c)?;
        }
        self.put_audit(&e.audit)
    }

    fn apply(&mut self, req: &Request) -> Result<Applied, StoreError> {
        match req {
            Request::Commit(batch, _) => self.apply_batch(batch).map(|()| Applied::Committed),
            Request::Erase(e, _) => self.apply_erasure(e).map(|()| Applied::Committed),
            Request::Audit(a, _) => self.put_audit(a).map(|()| Applied::Committed),
            Request::Expire(now, limit, _) => self.expire(*now, *limit).map(Applied::Expired),
            Request::ResolveOrCreate(key, customer, _) => self
                .resolve_or_create(key, customer)
                .map(|(id, created)| Applied::Resolved(id, created)),
        }
    }
}

/// Runs `f` in one durable write transaction: commits if it succeeds, aborts otherwise.
fn write_txn<T>(
    db: &Database,
    f: impl FnOnce(&mut Tables<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let mut txn = db.begin_write().map_err(backend)?;
    txn.set_durability(Durability::Immediate);
    let out = {
        let mut tables = Tables::open(&txn);
        f(&mut tables)
    };
    match out {
        Ok(v) => {
            txn.commit().map_err(backend)?;
            Ok(v)
        }
        Err(e) => {
            // The caller already has an error to report; an abort failure adds nothing.
            let _ = txn.abort();
            Err(e)
        }
    }
}

fn writer_loop(db: &Database, rx: &Receiver<Request>, max_batch: usize) {
    // `recv` fails once every sender is gone and the queue is empty.
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < max_batch {
            match rx.try_recv() {
                Ok(req) => group.push(req),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        let (started, n) = (std::time::Instant::now(), group.len());
        process_group(db, group);
        // Described with the engine's other metrics (`switchboard::metrics`).
        metrics::histogram!("switchboard_store_commit_seconds")
            .record(started.elapsed().as_secs_f64());
        metrics::histogram!("switchboard_store_commit_group_size").record(n as f64);
    }
}

/// Applies `group` (in order) in one transaction and answers every waiter; if that
/// fails, re-applies each request in its own transaction so each gets its own result.
fn process_group(db: &Database, group: Vec<Request>) {
    let together = write_txn(db, |t| {
        group
            .iter()
            .map(|r| t.apply(r))
            .collect::<Result<Vec<_>, _>>()
    });
    match together {
        Ok(results) => {
            for (req, res) in group.into_iter().zip(results) {
                answer(req, Ok(res));
            }
        }
        Err(e) if group.len() == 1 => {
            for req in group {
                answer(req, Err(e.clone()));
            }
        }
        Err(_) => {
            for req in group {
                let res = write_txn(db, |t| t.apply(&req));
                answer(req, res);
            }
        }
    }
}

fn answer(req: Request, res: Result<Applied, StoreError>) {
    // A waiter that gave up (dropped its future) is not an error.
    let done = |a: Applied| match a {
        Applied::Committed => Ok(()),
        Applied::Resolved(..) | Applied::Expired(_) => Err(mismatch()),
    };
    match req {
        Request::Commit(_, tx) | Request::Erase(_, tx) | Request::Audit(_, tx) => {
            let _ = tx.send(res.and_then(done));
        }
        Request::ResolveOrCreate(_, _, tx) => {
            let _ = tx.send(res.and_then(|a| match a {
                Applied::Resolved(id, created) => Ok((id, created)),
                Applied::Committed | Applied::Expired(_) => Err(mismatch()),
            }));
        }
        Request::Expire(_, _, tx) => {
            let _ = tx.send(res.and_then(|a| match a {
                Applied::Expired(n) => Ok(n),
                Applied::Committed | Applied::Resolved(..) => Err(mismatch()),
            }));
        }
    }
}

fn mismatch() -> StoreError {
    StoreError::Backend("internal: writer result does not match its request".into())
}

fn writer_gone(_: oneshot::error::RecvError) -> StoreError {
    StoreError::Unavailable("store writer stopped before answering".into())
}

// ---------------------------------------------------------------------------------------
// Reader side (runs inside `spawn_blocking`).

type BytesTable = redb::ReadOnlyTable<&'static [u8], &'static [u8]>;
type StrTable = redb::ReadOnlyTable<&'static str, &'static [u8]>;

fn ro(txn: &ReadTransaction, def: TableDefinition<&[u8], &[u8]>) -> Result<BytesTable, StoreError> {
    txn.open_table(def).map_err(backend)
}

fn ro_str(
    txn: &ReadTransaction,
    def: TableDefinition<&str, &[u8]>,
) -> Result<StrTable, StoreError> {
    txn.open_table(def).map_err(backend)
}

fn get_json<T: DeserializeOwned>(
    table: &BytesTable,
    name: &str,
    key: &[u8],
) -> Result<Option<T>, StoreError> {
    match table.get(key).map_err(backend)? {
        Some(v) => decode(name, v.value()).map(Some),
        None => Ok(None),
    }
}

fn all_json<T: DeserializeOwned>(table: &StrTable, name: &str) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    for row in table.iter().map_err(backend)? {
        let (_, v) = row.map_err(backend)?;
        out.push(decode(name, v.value())?);
    }
    Ok(out)
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn commit(&self, mut batch: Batch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        crate::journal::extend(&mut batch);
        let (tx, rx) = oneshot::channel();
        self.send(Request::Commit(batch, tx))?;
        rx.await.map_err(writer_gone)?
    }

    async fn resolve_or_create(
        &self,
        key: &IdentityKey,
        mut new_customer: Customer,
    ) -> Result<(CustomerId, bool), StoreError> {
        if !new_customer.identities.contains(key) {
            new_customer.identities.push(key.clone());
        }
        let (tx, rx) = oneshot::channel();
        self.send(Request::ResolveOrCreate(key.clone(), new_customer, tx))?;
        rx.await.map_err(writer_gone)?
    }

    async fn customer_by_identity(
        &self,
        key: &IdentityKey,
    ) -> Result<Option<CustomerId>, StoreError> {
        let k = key.storage_key();
        self.read(move |txn| {
            let t = ro(txn, IDENTITIES)?;
            let found = t.get(k.as_bytes()).map_err(backend)?;
            match found {
                Some(v) => Ok(Some(CustomerId::from_bytes(decode_uuid(
                    "identities",
                    v.value(),
                )?))),
                None => Ok(None),
            }
        })
        .await
    }

    async fn identities_page(
        &self,
        after: Option<String>,
        limit: usize,
    ) -> Result<crate::IdentityPage, StoreError> {
        use std::ops::Bound;
        self.read(move |txn| {
            let t = ro(txn, IDENTITIES)?;
            let lo = match &after {
                Some(a) => Bound::Excluded(a.as_bytes()),
                None => Bound::Unbounded,
            };
            let mut page = crate::IdentityPage::default();
            let (mut last, mut read) = (None, 0);
            for row in t
                .range::<&[u8]>((lo, Bound::Unbounded))
                .map_err(backend)?
                .take(limit)
            {
                let (k, v) = row.map_err(backend)?;
                let key = std::str::from_utf8(k.value())
                    .map_err(|e| StoreError::Corrupt(format!("identities: key is not UTF-8: {e}")))?
                    .to_owned();
                let customer = CustomerId::from_bytes(decode_uuid("identities", v.value())?);
                if let Some(identity) = IdentityKey::from_storage_key(&key) {
                    page.links.push((identity, customer));
                }
                last = Some(key);
                read += 1;
            }
            // A full page may have more after it; a short one was the last.
            page.next = last.filter(|_| read == limit);
            Ok(page)
        })
        .await
    }

    async fn customer(&self, id: CustomerId) -> Result<Option<Customer>, StoreError> {
        self.read(move |txn| get_json(&ro(txn, CUSTOMERS)?, "customers", id.as_bytes()))
            .await
    }

    async fn timeline(
        &self,
        customer: CustomerId,
        before: Option<EventId>,
        limit: usize,
    ) -> Result<Vec<TimelineEvent>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.read(move |txn| {
            let t = ro(txn, TIMELINE)?;
            let c = customer.as_bytes();
            let lo = key2(c, EventId::MIN.as_bytes());
            let range = match before {
                Some(b) => {
                    let hi = key2(c, b.as_bytes());
                    t.range::<&[u8]>(lo.as_slice()..hi.as_slice())
                }
                None => {
                    let hi = key2(c, EventId::MAX.as_bytes());
                    t.range::<&[u8]>(lo.as_slice()..=hi.as_slice())
                }
            }
            .map_err(backend)?;
            let mut out = Vec::new();
            for row in range.rev().take(limit) {
                let (_, v) = row.map_err(backend)?;
                out.push(decode("timeline", v.value())?);
            }
            Ok(out)
        })
        .await
    }

    async fn conversation(&self, id: ConversationId) -> Result<Option<Conversation>, StoreError> {
        self.read(move |txn| get_json(&ro(txn, CONVERSATIONS)?, "conversations", id.as_bytes()))
            .await
    }

    async fn conversations_of(
        &self,
        customer: CustomerId,
    ) -> Result<Vec<Conversation>, StoreError> {
        self.read(move |txn| {
            let index = ro(txn, CONVERSATIONS_BY_CUSTOMER)?;
            let convs = ro(txn, CONVERSATIONS)?;
            let c = customer.as_bytes();
            let lo = key2(c, &[0u8; 16]);
            let hi = key2(c, &[0xffu8; 16]);
            let mut out: Vec<Conversation> = Vec::new();
            for row in index
                .range::<&[u8]>(lo.as_slice()..=hi.as_slice())
                .map_err(backend)?
            {
                let (k, _) = row.map_err(backend)?;
                let id = second_id("conversations_by_customer", k.value())?;
                // The index and the records are written in one transaction; a stale
                // entry would mean corruption, and is skipped rather than served.
                if let Some(conv) = get_json::<Conversation>(&convs, "conversations", &id)? {
                    if conv.customer_id == customer {
                        out.push(conv);
                    }
                }
            }
            out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
            Ok(out)
        })
        .await
    }

    async fn open_conversations(&self) -> Result<Vec<Conversation>, StoreError> {
        self.read(move |txn| {
            let open = ro(txn, OPEN_CONVERSATIONS)?;
            let convs = ro(txn, CONVERSATIONS)?;
            let mut out = Vec::new();
            for row in open.iter().map_err(backend)? {
                let (k, _) = row.map_err(backend)?;
                let id = decode_uuid("open_conversations", k.value())?;
                if let Some(conv) = get_json::<Conversation>(&convs, "conversations", &id)? {
                    if conv.state.is_open() {
                        out.push(conv);
                    }
                }
            }
            Ok(out)
        })
        .await
    }

    async fn agent(&self, id: &AgentId) -> Result<Option<AgentProfile>, StoreError> {
        let id = id.clone();
        self.read(move |txn| {
            let t = ro_str(txn, AGENTS)?;
            let found = t.get(id.as_str()).map_err(backend)?;
            match found {
                Some(v) => decode("agents", v.value()).map(Some),
                None => Ok(None),
            }
        })
        .await
    }

    async fn agents(&self) -> Result<Vec<AgentProfile>, StoreError> {
        self.read(|txn| all_json(&ro_str(txn, AGENTS)?, "agents"))
            .await
    }

    async fn queues(&self) -> Result<Vec<QueueConfig>, StoreError> {
        self.read(|txn| all_json(&ro_str(txn, QUEUES)?, "queues"))
            .await
    }

    async fn trace(&self, conversation: ConversationId) -> Result<Vec<TraceEntry>, StoreError> {
        self.read(move |txn| {
            let t = ro(txn, TRACES)?;
            let c = conversation.as_bytes();
            let lo = key2(c, &[0u8; 16]);
            let hi = key2(c, &[0xffu8; 16]);
            let mut out = Vec::new();
            for row in t
                .range::<&[u8]>(lo.as_slice()..=hi.as_slice())
                .map_err(backend)?
            {
                let (_, v) = row.map_err(backend)?;
                out.push(decode("traces", v.value())?);
            }
            Ok(out)
        })
        .await
    }

    async fn setting(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let key = key.to_owned();
        self.read(move |txn| {
            let t = ro_str(txn, SETTINGS)?;
            let found = t.get(key.as_str()).map_err(backend)?;
            Ok(found.map(|v| v.value().to_vec()))
        })
        .await
    }

    async fn setting_if_absent(&self, key: &str, value: Vec<u8>) -> Result<Vec<u8>, StoreError> {
        let _one_at_a_time = self.settings_once.lock().await;
        if let Some(v) = self.setting(key).await? {
            return Ok(v);
        }
        self.commit(Batch {
            settings: vec![(key.to_owned(), value.clone())],
            ..Default::default()
        })
        .await?;
        Ok(value)
    }

    async fn idempotency(
        &self,
        customer: CustomerId,
        key: &str,
        now: Millis,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        // Read in place, not on the blocking pool: one point read of a 56-byte record
        // made for every message with an id, far below the executor budget (the page is
        // almost always cached), where a thread hop would cost more than the read.
        let k = idempotency_key(customer, key);
        let txn = self.db.begin_read().map_err(backend)?;
        let t = ro(&txn, TIMELINE)?;
        let found = match t.get(k.as_slice()).map_err(backend)? {
            Some(v) => Some(decode_idem(&k, v.value())?),
            None => None,
        };
        Ok(found.filter(|r| r.expires_at > now))
    }

    async fn tombstone(
        &self,
        hash: &[u8; 32],
        now: Millis,
    ) -> Result<Option<Tombstone>, StoreError> {
        // In place, like `idempotency`: one point read made for every provider message.
        let txn = self.db.begin_read().map_err(backend)?;
        let t = ro(&txn, TOMBSTONES)?;
        let found = match t.get(hash.as_slice()).map_err(backend)? {
            Some(v) => Some(decode_tombstone(hash, v.value())?),
            None => None,
        };
        Ok(found.filter(|t| t.expires_at > now))
    }

    async fn expire_idempotency(&self, now: Millis, limit: usize) -> Result<usize, StoreError> {
        if limit == 0 {
            return Ok(0);
        }
        let (tx, rx) = oneshot::channel();
        self.send(Request::Expire(now, limit, tx))?;
        rx.await.map_err(writer_gone)?
    }

    async fn event(
        &self,
        customer: CustomerId,
        id: EventId,
    ) -> Result<Option<TimelineEvent>, StoreError> {
        let k = key2(customer.as_bytes(), id.as_bytes());
        self.read(move |txn| {
            let t = ro(txn, TIMELINE)?;
            get_json(&t, "timeline", k.as_slice())
        })
        .await
    }

    async fn blob(
        &self,
        owner: CustomerId,
        id: &crate::BlobId,
    ) -> Result<Option<crate::BlobMeta>, StoreError> {
        let k = blob_key(owner, id, None);
        self.read(move |txn| {
            let t = ro(txn, BLOBS)?;
            get_json(&t, "blobs", k.as_slice())
        })
        .await
    }

    async fn blob_chunk(
        &self,
        owner: CustomerId,
        id: &crate::BlobId,
        seq: u32,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let k = blob_key(owner, id, Some(seq));
        self.read(move |txn| {
            let t = ro(txn, BLOBS)?;
            let found = t.get(k.as_slice()).map_err(backend)?;
            Ok(found.map(|v| v.value().to_vec()))
        })
        .await
    }

    async fn record(&self, kind: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let k = record_key(kind, key);
        self.read(move |txn| {
            let t = ro(txn, RECORDS)?;
            let found = t.get(k.as_slice()).map_err(backend)?;
            Ok(found.map(|v| v.value().to_vec()))
        })
        .await
    }

    async fn records(
        &self,
        kind: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.records_between(kind, after, None, limit).await
    }

    async fn records_through(
        &self,
        kind: &str,
        after: Option<&str>,
        until: &str,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.records_between(kind, after, Some(until), limit).await
    }

    async fn pending_outbox(&self, limit: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        self.read(move |txn| {
            let t = ro(txn, OUTBOX)?;
            let mut out = Vec::new();
            for row in t.iter().map_err(backend)?.take(limit) {
                let (_, v) = row.map_err(backend)?;
                out.push(decode("outbox", v.value())?);
            }
            Ok(out)
        })
        .await
    }

    async fn report_events(
        &self,
        queue: Option<&QueueName>,
        from: Millis,
        to: Millis,
        limit: usize,
    ) -> Result<Vec<ReportEvent>, StoreError> {
        if limit == 0 || to <= from {
            return Ok(Vec::new());
        }
        let ranges = report_ranges(queue, from, to);
        self.read(move |txn| {
            read_log(txn, REPORT_EVENTS, &ranges, limit, |e: &ReportEvent| {
                e.at >= from && e.at < to
            })
        })
        .await
    }

    async fn presence_events(
        &self,
        queue: &QueueName,
        from: Millis,
        to: Millis,
        limit: usize,
    ) -> Result<Vec<PresenceEvent>, StoreError> {
        if limit == 0 || to <= from {
            return Ok(Vec::new());
        }
        let ranges = report_ranges(Some(queue), from, to);
        self.read(move |txn| {
            read_log(txn, PRESENCE_LOG, &ranges, limit, |e: &PresenceEvent| {
                e.at >= from && e.at < to
            })
        })
        .await
    }

    async fn health(&self) -> Result<(), StoreError> {
        self.read(|txn| ro_str(txn, SETTINGS).map(|_| ())).await
    }

    async fn erase(&self, erasure: Erasure) -> Result<(), StoreError> {
        let (tx, rx) = oneshot::channel();
        self.send(Request::Erase(Box::new(erasure), tx))?;
        rx.await.map_err(writer_gone)?
    }

    async fn append_audit(&self, entry: AuditEntry) -> Result<(), StoreError> {
        let (tx, rx) = oneshot::channel();
        self.send(Request::Audit(entry, tx))?;
        rx.await.map_err(writer_gone)?
    }

    async fn audit_log(
        &self,
        before: Option<EventId>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.read(move |txn| {
            let t = ro(txn, AUDIT)?;
            let range = match before {
                Some(b) => t.range::<&[u8]>(..b.as_bytes().as_slice()),
                None => t.range::<&[u8]>(..),
            }
            .map_err(backend)?;
            let mut out = Vec::new();
            for row in range.rev().take(limit) {
                let (_, v) = row.map_err(backend)?;
                out.push(decode("audit_log", v.value())?);
            }
            Ok(out)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    //! White-box tests of the writer's group-commit fallback; the contract itself is
    //! covered by `conformance` (feature `testkit`) and `tests/store_conformance.rs`.

    use super::*;
    use domain::{Channel, ConversationState, Millis, QueueName};

    fn customer() -> Customer {
        Customer {
            id: CustomerId::new(),
            display_name: None,
            identities: vec![],
            priority: 0,
            attributes: Default::default(),
            last_agent: None,
            opted_out: Default::default(),
            merged_into: None,
            merged: Vec::new(),
            created_at: Millis(1),
        }
    }

    fn conversation(customer_id: CustomerId) -> Result<Conversation, domain::ParseError> {
        Ok(Conversation {
            id: ConversationId::new(),
            customer_id,
            channel: Channel::Chat,
            queue: QueueName::parse("support")?,
            state: ConversationState::Queued,
            priority: 0,
            created_at: Millis(1),
            enqueued_at: Millis(1),
            enqueue_seq: 0,
            agent: None,
            preferred_agent: None,
            required_agent: None,
            disposition: None,
            requirements: Default::default(),
            updated_at: Millis(1),
        })
    }

    fn raw_put(db: &Database, def: TableDefinition<&[u8], &[u8]>, k: &[u8], v: &[u8]) {
        let txn = db.begin_write().expect("begin");
        txn.open_table(def)
            .expect("table")
            .insert(k, v)
            .expect("insert");
        txn.commit().expect("commit");
    }

    #[test]
    fn a_failing_request_does_not_sink_its_group() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Database::create(dir.path().join(FILE_NAME)).expect("create");
        write_txn(&db, |t| t.create_all()).expect("tables");

        // A conversation whose stored record is garbage: upserting it must fail
        // (its old owner cannot be known), with Corrupt.
        let c0 = customer();
        let bad = conversation(c0.id).expect("conversation");
        raw_put(&db, CONVERSATIONS, bad.id.as_bytes(), b"not json");
        // An identity whose stored value is not a 16-byte id.
        let bad_key = IdentityKey {
            channel: Channel::Chat,
            address: format!("bad-{}", CustomerId::new()),
        };
        raw_put(&db, IDENTITIES, bad_key.storage_key().as_bytes(), b"short");

        let good1 = customer();
        let good2 = customer();
        let new_key = IdentityKey {
            channel: Channel::Chat,
            address: format!("good-{}", CustomerId::new()),
        };
        let fresh = customer();

        let (t1, mut r1) = oneshot::channel();
        let (t2, mut r2) = oneshot::channel();
        let (t3, mut r3) = oneshot::channel();
        let (t4, mut r4) = oneshot::channel();
        let (t5, mut r5) = oneshot::channel();
        let group = vec![
            Request::Commit(
                Batch {
                    customers: vec![good1.clone()],
                    ..Batch::default()
                },
                t1,
            ),
            Request::Commit(Batch::default().conversation(bad.clone()), t2),
            Request::ResolveOrCreate(new_key.clone(), fresh.clone(), t3),
            Request::ResolveOrCreate(bad_key, customer(), t4),
            Request::Commit(
                Batch {
                    customers: vec![good2.clone()],
                    ..Batch::default()
                },
                t5,
            ),
        ];
        process_group(&db, group);

        assert!(matches!(r1.try_recv(), Ok(Ok(()))));
        assert!(matches!(r2.try_recv(), Ok(Err(StoreError::Corrupt(_)))));
        assert!(matches!(r3.try_recv(), Ok(Ok((id, true))) if id == fresh.id));
        assert!(matches!(r4.try_recv(), Ok(Err(StoreError::Corrupt(_)))));
        assert!(matches!(r5.try_recv(), Ok(Ok(()))));

        let txn = db.begin_read().expect("read");
        let customers = ro(&txn, CUSTOMERS).expect("customers");
        for c in [&good1, &good2, &fresh] {
            let got: Option<Customer> =
                get_json(&customers, "customers", c.id.as_bytes()).expect("decode");
            assert_eq!(got.as_ref(), Some(c));
        }
        // The failed batch left no trace: its conversation is not indexed.
        let open = ro(&txn, OPEN_CONVERSATIONS).expect("open");
        assert!(open
            .get(bad.id.as_bytes().as_slice())
            .expect("get")
            .is_none());
    }

    #[test]
    fn conversation_indexes_hold_no_stale_entries() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Database::create(dir.path().join(FILE_NAME)).expect("create");
        write_txn(&db, |t| t.create_all()).expect("tables");
        let (first, second) = (CustomerId::new(), CustomerId::new());
        let mut conv = conversation(first).expect("conversation");
        let upsert = |c: &Conversation| {
            write_txn(&db, |t| {
                t.apply_batch(&Batch::default().conversation(c.clone()))
            })
            .expect("upsert");
        };
        let indexed = |table, key: &[u8]| {
            let txn = db.begin_read().expect("read");
            let t = ro(&txn, table).expect("table");
            let found = t.get(key).expect("get");
            found.is_some()
        };
        upsert(&conv);
        assert!(indexed(OPEN_CONVERSATIONS, conv.id.as_bytes()));
        conv.state = ConversationState::Resolved;
        upsert(&conv);
        assert!(!indexed(OPEN_CONVERSATIONS, conv.id.as_bytes()));
        conv.customer_id = second;
        upsert(&conv);
        assert!(!indexed(
            CONVERSATIONS_BY_CUSTOMER,
            &key2(first.as_bytes(), conv.id.as_bytes())
        ));
        assert!(indexed(
            CONVERSATIONS_BY_CUSTOMER,
            &key2(second.as_bytes(), conv.id.as_bytes())
        ));
    }

    #[test]
    fn a_group_shares_one_transaction_and_keeps_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Database::create(dir.path().join(FILE_NAME)).expect("create");
        write_txn(&db, |t| t.create_all()).expect("tables");
        let key = IdentityKey {
            channel: Channel::Chat,
            address: format!("visitor-{}", CustomerId::new()),
        };
        let (first, second) = (customer(), customer());
        let (t1, mut r1) = oneshot::channel();
        let (t2, mut r2) = oneshot::channel();
        let (t3, mut r3) = oneshot::channel();
        let (t4, mut r4) = oneshot::channel();
        process_group(
            &db,
            vec![
                Request::Commit(
                    Batch {
                        settings: vec![("k".into(), b"1".to_vec())],
                        ..Batch::default()
                    },
                    t1,
                ),
                Request::ResolveOrCreate(key.clone(), first.clone(), t2),
                Request::ResolveOrCreate(key.clone(), second, t3),
                Request::Commit(
                    Batch {
                        settings: vec![("k".into(), b"2".to_vec())],
                        ..Batch::default()
                    },
                    t4,
                ),
            ],
        );
        assert!(matches!(r1.try_recv(), Ok(Ok(()))));
        assert!(matches!(r2.try_recv(), Ok(Ok((id, true))) if id == first.id));
        assert!(matches!(r3.try_recv(), Ok(Ok((id, false))) if id == first.id));
        assert!(matches!(r4.try_recv(), Ok(Ok(()))));
        let txn = db.begin_read().expect("read");
        let settings = ro_str(&txn, SETTINGS).expect("settings");
        let v = settings.get("k").expect("get").map(|v| v.value().to_vec());
        assert_eq!(v.as_deref(), Some(b"2".as_slice()));
    }

    #[tokio::test]
    async fn the_sweep_removes_only_expired_records_oldest_first_and_bounded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).expect("open");
        let c = CustomerId::new();
        let rec = |key: &str, expires: i64| IdempotencyRecord {
            customer_id: c,
            key: key.into(),
            event_id: EventId::new(),
            conversation_id: domain::ConversationId::new(),
            digest: 1,
            at: Millis(0),
            expires_at: Millis(expires),
        };
        // `b` is rewritten with a later expiry: its first index entry is left for the
        // sweep, which keeps the record.
        let batch = Batch {
            idempotency: vec![rec("a", 100), rec("b", 200), rec("c", 300), rec("d", 5_000)],
            ..Default::default()
        };
        store.commit(batch).await.expect("commit");
        let moved = Batch {
            idempotency: vec![rec("b", 4_000)],
            ..Default::default()
        };
        store.commit(moved).await.expect("move b");
        let index_len = |store: &EmbeddedStore| {
            let txn = store.db.begin_read().expect("read");
            let t = ro(&txn, IDEMPOTENCY_EXPIRY).expect("index");
            t.iter().expect("iter").count()
        };
        // `b`'s first entry stays until the sweep reaches it.
        assert_eq!(index_len(&store), 5);
        // At 1,000 `a` and `c` have expired; a limit of 1 takes the oldest only.
        assert_eq!(
            store
                .expire_idempotency(Millis(1_000), 1)
                .await
                .expect("expire"),
            1
        );
        let raw = |key: &'static str| {
            let txn = store.db.begin_read().expect("read");
            let t = ro(&txn, TIMELINE).expect("table");
            let found = t.get(idempotency_key(c, key).as_slice()).expect("get");
            found.is_some()
        };
        assert!(!raw("a") && raw("c"));
        assert_eq!(
            store
                .expire_idempotency(Millis(1_000), 10)
                .await
                .expect("expire"),
            1
        );
        assert!(!raw("c") && raw("b") && raw("d"));
        assert_eq!(
            store
                .expire_idempotency(Millis(1_000), 10)
                .await
                .expect("expire"),
            0
        );
        assert_eq!(index_len(&store), 2);
        assert_eq!(
            store
                .expire_idempotency(Millis(10_000), 10)
                .await
                .expect("expire"),
            2
        );
        assert_eq!(index_len(&store), 0);
    }

    #[tokio::test]
    async fn the_sweep_removes_expired_tombstones_after_idempotency_records() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).expect("open");
        let tomb = |n: u8, expires: i64| Tombstone {
            hash: [n; 32],
            channel: Channel::Sms,
            expires_at: Millis(expires),
        };
        let erase = |tombstones: Vec<Tombstone>| Erasure {
            customers: Vec::new(),
            timelines: Vec::new(),
            identities: Vec::new(),
            conversations: Vec::new(),
            tombstones,
            audit: AuditEntry {
                id: EventId::new(),
                at: Millis(0),
                actor: AgentId::parse("admin").expect("id"),
                action: "customer_erased".into(),
                customer_id: None,
                detail: serde_json::Value::Null,
            },
        };
        store
            .erase(erase(vec![tomb(1, 100), tomb(2, 200), tomb(3, 5_000)]))
            .await
            .expect("erase");
        // Tombstone 2 written again with a later expiry: its old index entry stays
        // until the sweep reaches it, which keeps the tombstone.
        store
            .erase(erase(vec![tomb(2, 4_000)]))
            .await
            .expect("erase again");
        let record = IdempotencyRecord {
            customer_id: CustomerId::new(),
            key: "in:x".into(),
            event_id: EventId::new(),
            conversation_id: domain::ConversationId::new(),
            digest: 1,
            at: Millis(0),
            expires_at: Millis(50),
        };
        store
            .commit(Batch {
                idempotency: vec![record],
                ..Default::default()
            })
            .await
            .expect("commit");
        let raw = |n: u8| {
            let txn = store.db.begin_read().expect("read");
            let t = ro(&txn, TOMBSTONES).expect("table");
            let found = t.get([n; 32].as_slice()).expect("get");
            found.is_some()
        };
        // One step of 1: the idempotency record first.
        assert_eq!(
            store.expire_idempotency(Millis(1_000), 1).await.ok(),
            Some(1)
        );
        assert!(raw(1) && raw(2));
        assert_eq!(
            store.expire_idempotency(Millis(1_000), 10).await.ok(),
            Some(1)
        );
        assert!(!raw(1) && raw(2) && raw(3));
        assert_eq!(
            store.expire_idempotency(Millis(10_000), 10).await.ok(),
            Some(2)
        );
        assert!(!raw(2) && !raw(3));
        let txn = store.db.begin_read().expect("read");
        let index = ro(&txn, TOMBSTONE_EXPIRY).expect("index");
        assert_eq!(index.iter().expect("iter").count(), 0);
    }
}
