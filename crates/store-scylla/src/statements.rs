//! Every CQL statement the ScyllaDB store and its migrator prepare, as named constants,
//! and [`ALL`], the list the schema cross-check test iterates.
//!
//! `{{keyspace}}` is replaced by the configured keyspace when the statement is prepared
//! (see `schema::render`). Nothing else in the backend holds CQL text for data access:
//! a statement that is not listed here cannot be prepared, so it cannot escape the
//! cross-check.
//!
//! Each statement declares how it runs: its consistency class (read or write, chosen in
//! the configuration, LOCAL_QUORUM by default), whether it is idempotent (safe for the
//! driver to retry after a timeout, and to run speculatively), and whether it is a
//! lightweight transaction (serial consistency LOCAL_SERIAL, never blindly retried).

/// How a statement is executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A read at the configured read consistency.
    Read,
    /// A write at the configured write consistency.
    Write,
    /// A lightweight transaction (Paxos): write consistency for the commit, LOCAL_SERIAL
    /// for the Paxos round.
    Lwt,
    /// A read of a whole table, one driver page per call (the caller keeps the paging
    /// state): the only statements that span partitions, for maintenance passes an
    /// admin starts (`identities_page`), never on a message's path.
    Scan,
}

/// One statement the store prepares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stmt {
    /// Name in logs and test failures.
    pub name: &'static str,
    pub cql: &'static str,
    pub kind: Kind,
    /// Safe to retry: the same values applied twice leave the same state.
    pub idempotent: bool,
}

const fn read(name: &'static str, cql: &'static str) -> Stmt {
    Stmt {
        name,
        cql,
        kind: Kind::Read,
        idempotent: true,
    }
}

const fn scan(name: &'static str, cql: &'static str) -> Stmt {
    Stmt {
        name,
        cql,
        kind: Kind::Scan,
        idempotent: true,
    }
}

const fn write(name: &'static str, cql: &'static str) -> Stmt {
    Stmt {
        name,
        cql,
        kind: Kind::Write,
        idempotent: true,
    }
}

const fn lwt(name: &'static str, cql: &'static str) -> Stmt {
    Stmt {
        name,
        cql,
        kind: Kind::Lwt,
        // A retried Paxos round can find its own earlier, applied attempt and report
        // "not applied"; callers handle that case explicitly instead.
        idempotent: false,
    }
}

// --- customers --------------------------------------------------------------------------

pub const INSERT_CUSTOMER: Stmt = write(
    "insert_customer",
    "INSERT INTO {{keyspace}}.customers (customer_id, display_name, identities, priority, \
     attributes, last_agent, opted_out, merged_into, merged, created_at) \
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
);

/// The lease a customer row was last written under (`schema/0012_row_fences.cql`).
pub const SELECT_CUSTOMER_FENCE: Stmt = read(
    "select_customer_fence",
    "SELECT fence_key, fence_epoch FROM {{keyspace}}.customers WHERE customer_id = ?",
);

/// A customer row rewritten under a lease: applied only if the row's fence is still
/// the one read (a compare-and-set; `RowLease::may_overwrite` was checked on it).
pub const UPDATE_CUSTOMER_FENCED: Stmt = lwt(
    "update_customer_fenced",
    "UPDATE {{keyspace}}.customers SET display_name = ?, identities = ?, priority = ?, \
     attributes = ?, last_agent = ?, opted_out = ?, merged_into = ?, merged = ?, \
     created_at = ?, fence_key = ?, fence_epoch = ? WHERE customer_id = ? \
     IF fence_key = ? AND fence_epoch = ?",
);

/// Removes the customer a losing `resolve_or_create` wrote before its LWT lost.
pub const DELETE_CUSTOMER: Stmt = write(
    "delete_customer",
    "DELETE FROM {{keyspace}}.customers WHERE customer_id = ?",
);

pub const SELECT_CUSTOMER: Stmt = read(
    "select_customer",
    "SELECT customer_id, display_name, identities, priority, attributes, last_agent, \
     opted_out, merged_into, merged, created_at FROM {{keyspace}}.customers \
     WHERE customer_id = ?",
);

// --- identities -------------------------------------------------------------------------

/// The single-winner first link of an identity.
pub const INSERT_IDENTITY_IF_NOT_EXISTS: Stmt = lwt(
    "insert_identity_if_not_exists",
    "INSERT INTO {{keyspace}}.identities (channel, address, customer_id) VALUES (?, ?, ?) \
     IF NOT EXISTS",
);

/// Re-links an existing identity (`Batch::identities`), through Paxos like the insert.
pub const UPDATE_IDENTITY_IF_EXISTS: Stmt = lwt(
    "update_identity_if_exists",
    "UPDATE {{keyspace}}.identities SET customer_id = ? WHERE channel = ? AND address = ? \
     IF EXISTS",
);

pub const SELECT_IDENTITY: Stmt = read(
    "select_identity",
    "SELECT customer_id FROM {{keyspace}}.identities WHERE channel = ? AND address = ?",
);

/// Every identity link, one driver page at a time (the stitch pass).
pub const SCAN_IDENTITIES: Stmt = scan(
    "scan_identities",
    "SELECT channel, address, customer_id FROM {{keyspace}}.identities",
);

// --- timeline ---------------------------------------------------------------------------

pub const INSERT_TIMELINE_EVENT: Stmt = write(
    "insert_timeline_event",
    "INSERT INTO {{keyspace}}.timeline (customer_id, bucket, event_id, at, conversation_id, \
     kind, payload) VALUES (?, ?, ?, ?, ?, ?, ?)",
);

pub const INSERT_TIMELINE_BUCKET: Stmt = write(
    "insert_timeline_bucket",
    "INSERT INTO {{keyspace}}.timeline_buckets (customer_id, bucket) VALUES (?, ?)",
);

/// The customer's months at or before a bucket, newest first.
pub const SELECT_TIMELINE_BUCKETS: Stmt = read(
    "select_timeline_buckets",
    "SELECT bucket FROM {{keyspace}}.timeline_buckets WHERE customer_id = ? AND bucket <= ?",
);

/// One month of a timeline, newest first.
pub const SELECT_TIMELINE: Stmt = read(
    "select_timeline",
    "SELECT event_id, payload FROM {{keyspace}}.timeline WHERE customer_id = ? AND bucket = ? \
     LIMIT ?",
);

/// One month of a timeline, newest first, strictly older than an event id.
pub const SELECT_TIMELINE_BEFORE: Stmt = read(
    "select_timeline_before",
    "SELECT event_id, payload FROM {{keyspace}}.timeline WHERE customer_id = ? AND bucket = ? \
     AND event_id < ? LIMIT ?",
);

// --- conversations ----------------------------------------------------------------------

pub const INSERT_CONVERSATION: Stmt = write(
    "insert_conversation",
    "INSERT INTO {{keyspace}}.conversations (conversation_id, customer_id, channel, queue, \
     state, priority, created_at, enqueued_at, enqueue_seq, agent, preferred_agent, \
     required_agent, disposition, updated_at, requirements) \
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
);

pub const SELECT_CONVERSATION: Stmt = read(
    "select_conversation",
    "SELECT conversation_id, customer_id, channel, queue, state, priority, created_at, \
     enqueued_at, enqueue_seq, agent, preferred_agent, required_agent, disposition, \
     updated_at, requirements FROM {{keyspace}}.conversations WHERE conversation_id = ?",
);

/// Where the by-customer copy of a conversation currently lives, and the lease the row
/// was last written under (read before an upsert).
pub const SELECT_CONVERSATION_OWNER: Stmt = read(
    "select_conversation_owner",
    "SELECT customer_id, created_at, fence_key, fence_epoch FROM {{keyspace}}.conversations \
     WHERE conversation_id = ?",
);

/// A conversation row rewritten under a lease: applied only if the row's fence is
/// still the one read (as [`UPDATE_CUSTOMER_FENCED`]).
pub const UPDATE_CONVERSATION_FENCED: Stmt = lwt(
    "update_conversation_fenced",
    "UPDATE {{keyspace}}.conversations SET customer_id = ?, channel = ?, queue = ?, \
     state = ?, priority = ?, created_at = ?, enqueued_at = ?, enqueue_seq = ?, agent = ?, \
     preferred_agent = ?, required_agent = ?, disposition = ?, updated_at = ?, \
     requirements = ?, fence_key = ?, fence_epoch = ? WHERE conversation_id = ? \
     IF fence_key = ? AND fence_epoch = ?",
);

pub const INSERT_CONVERSATION_BY_CUSTOMER: Stmt = write(
    "insert_conversation_by_customer",
    "INSERT INTO {{keyspace}}.conversations_by_customer (conversation_id, customer_id, \
     channel, queue, state, priority, created_at, enqueued_at, enqueue_seq, agent, \
     preferred_agent, required_agent, disposition, updated_at, requirements) \
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
);

pub const DELETE_CONVERSATION_BY_CUSTOMER: Stmt = write(
    "delete_conversation_by_customer",
    "DELETE FROM {{keyspace}}.conversations_by_customer WHERE customer_id = ? AND \
     created_at = ? AND conversation_id = ?",
);

pub const SELECT_CONVERSATIONS_BY_CUSTOMER: Stmt = read(
    "select_conversations_by_customer",
    "SELECT conversation_id, customer_id, channel, queue, state, priority, created_at, \
     enqueued_at, enqueue_seq, agent, preferred_agent, required_agent, disposition, \
     updated_at, requirements FROM {{keyspace}}.conversations_by_customer \
     WHERE customer_id = ?",
);

pub const INSERT_OPEN_CONVERSATION: Stmt = write(
    "insert_open_conversation",
    "INSERT INTO {{keyspace}}.open_conversations (conversation_id, customer_id, channel, \
     queue, state, priority, created_at, enqueued_at, enqueue_seq, agent, preferred_agent, \
     required_agent, disposition, updated_at, requirements, shard) \
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
);

pub const DELETE_OPEN_CONVERSATION: Stmt = write(
    "delete_open_conversation",
    "DELETE FROM {{keyspace}}.open_conversations WHERE shard = ? AND conversation_id = ?",
);

pub const SELECT_OPEN_CONVERSATIONS: Stmt = read(
    "select_open_conversations",
    "SELECT conversation_id, customer_id, channel, queue, state, priority, created_at, \
     enqueued_at, enqueue_seq, agent, preferred_agent, required_agent, disposition, \
     updated_at, requirements FROM {{keyspace}}.open_conversations WHERE shard = ?",
);

// --- agents, queues ---------------------------------------------------------------------

pub const INSERT_AGENT: Stmt = write(
    "insert_agent",
    "INSERT INTO {{keyspace}}.agents (scope, agent_id, display_name, role, disabled, profile) \
     VALUES (?, ?, ?, ?, ?, ?)",
);

pub const SELECT_AGENT: Stmt = read(
    "select_agent",
    "SELECT profile FROM {{keyspace}}.agents WHERE scope = ? AND agent_id = ?",
);

pub const SELECT_AGENTS: Stmt = read(
    "select_agents",
    "SELECT profile FROM {{keyspace}}.agents WHERE scope = ?",
);

pub const INSERT_QUEUE: Stmt = write(
    "insert_queue",
    "INSERT INTO {{keyspace}}.queues (scope, queue, display_name, config) VALUES (?, ?, ?, ?)",
);

pub const SELECT_QUEUES: Stmt = read(
    "select_queues",
    "SELECT config FROM {{keyspace}}.queues WHERE scope = ?",
);

// --- routing trace, settings --------------------------------------------------------------

pub const INSERT_TRACE: Stmt = write(
    "insert_trace",
    "INSERT INTO {{keyspace}}.routing_trace (conversation_id, entry_id, at, queue, step, \
     agent, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
);

pub const SELECT_TRACE: Stmt = read(
    "select_trace",
    "SELECT conversation_id, entry_id, at, queue, step, agent, detail \
     FROM {{keyspace}}.routing_trace WHERE conversation_id = ?",
);

pub const INSERT_SETTING: Stmt = write(
    "insert_setting",
    "INSERT INTO {{keyspace}}.settings (key, value) VALUES (?, ?)",
);

/// Also the readiness probe (a LOCAL_QUORUM read of one fixed key).
/// A shared setting's first value (a signing key every node must agree on).
pub const INSERT_SETTING_IF_NOT_EXISTS: Stmt = lwt(
    "insert_setting_if_not_exists",
    "INSERT INTO {{keyspace}}.settings (key, value) VALUES (?, ?) IF NOT EXISTS",
);

pub const SELECT_SETTING: Stmt = read(
    "select_setting",
    "SELECT value FROM {{keyspace}}.settings WHERE key = ?",
);

// --- generic records (schema 0006) -------------------------------------------------------

pub const INSERT_RECORD: Stmt = write(
    "insert_record",
    "INSERT INTO {{keyspace}}.records (kind, key, value) VALUES (?, ?, ?)",
);

pub const DELETE_RECORD: Stmt = write(
    "delete_record",
    "DELETE FROM {{keyspace}}.records WHERE kind = ? AND key = ?",
);

pub const SELECT_RECORD: Stmt = read(
    "select_record",
    "SELECT value FROM {{keyspace}}.records WHERE kind = ? AND key = ?",
);

/// The first records of a kind, by key.
pub const SELECT_RECORDS: Stmt = read(
    "select_records",
    "SELECT key, value FROM {{keyspace}}.records WHERE kind = ? LIMIT ?",
);

/// Records of a kind with a key strictly after a given one.
pub const SELECT_RECORDS_AFTER: Stmt = read(
    "select_records_after",
    "SELECT key, value FROM {{keyspace}}.records WHERE kind = ? AND key > ? LIMIT ?",
);

/// Records of a kind with a key after a given one and at most another (a due-time
/// keyed kind read up to now).
pub const SELECT_RECORDS_THROUGH: Stmt = read(
    "select_records_through",
    "SELECT key, value FROM {{keyspace}}.records WHERE kind = ? AND key > ? AND key <= ? LIMIT ?",
);

// --- idempotency records (schema 0008) ---------------------------------------------------

pub const INSERT_IDEMPOTENCY: Stmt = write(
    "insert_idempotency",
    "INSERT INTO {{keyspace}}.idempotency (customer_id, key, event_id, conversation_id, \
     digest, at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?) USING TTL ?",
);

pub const SELECT_IDEMPOTENCY: Stmt = read(
    "select_idempotency",
    "SELECT event_id, conversation_id, digest, at, expires_at FROM {{keyspace}}.idempotency \
     WHERE customer_id = ? AND key = ?",
);

/// Erasure: every idempotency record of a customer.
pub const DELETE_IDEMPOTENCY_OF: Stmt = write(
    "delete_idempotency_of",
    "DELETE FROM {{keyspace}}.idempotency WHERE customer_id = ?",
);

/// One event of a timeline month.
pub const SELECT_TIMELINE_EVENT: Stmt = read(
    "select_timeline_event",
    "SELECT event_id, payload FROM {{keyspace}}.timeline WHERE customer_id = ? AND bucket = ? \
     AND event_id = ?",
);

// --- erasure tombstones (schema 0011) ----------------------------------------------------

pub const INSERT_TOMBSTONE: Stmt = write(
    "insert_tombstone",
    "INSERT INTO {{keyspace}}.erasure_tombstones (hash, channel, expires_at) VALUES (?, ?, ?) \
     USING TTL ?",
);

pub const SELECT_TOMBSTONE: Stmt = read(
    "select_tombstone",
    "SELECT channel, expires_at FROM {{keyspace}}.erasure_tombstones WHERE hash = ?",
);

// --- cluster leases (schema 0010, docs/cluster.md) --------------------------------------
// Every row lives in the partition `cluster = 'leases'`, so that one conditional batch
// renews all the keys a node holds.

/// Every lease and member row.
pub const SELECT_LEASES: Stmt = read(
    "select_leases",
    "SELECT key, holder, incarnation, epoch, expires_at, address \
     FROM {{keyspace}}.cluster_leases WHERE cluster = ?",
);

/// One key's row.
pub const SELECT_LEASE: Stmt = read(
    "select_lease",
    "SELECT key, holder, incarnation, epoch, expires_at, address \
     FROM {{keyspace}}.cluster_leases WHERE cluster = ? AND key = ?",
);

/// A key's first holder: epoch 1.
pub const INSERT_LEASE: Stmt = lwt(
    "insert_lease",
    "INSERT INTO {{keyspace}}.cluster_leases \
     (cluster, key, holder, incarnation, epoch, expires_at, address) \
     VALUES (?, ?, ?, ?, 1, ?, ?) IF NOT EXISTS",
);

/// Takes a lapsed or released lease: the epoch the taker read, still lapsed.
pub const TAKE_LEASE: Stmt = lwt(
    "take_lease",
    "UPDATE {{keyspace}}.cluster_leases \
     SET holder = ?, incarnation = ?, epoch = ?, expires_at = ?, address = ? \
     WHERE cluster = ? AND key = ? IF epoch = ? AND expires_at < ?",
);

/// Takes a lease from an earlier incarnation of the taker's own name.
pub const SUCCEED_LEASE: Stmt = lwt(
    "succeed_lease",
    "UPDATE {{keyspace}}.cluster_leases \
     SET holder = ?, incarnation = ?, epoch = ?, expires_at = ?, address = ? \
     WHERE cluster = ? AND key = ? IF epoch = ? AND holder = ? AND incarnation < ?",
);

/// Renews the lease its holder holds under an epoch (not released); in a batch, every
/// key a node holds at once.
pub const RENEW_LEASE: Stmt = lwt(
    "renew_lease",
    "UPDATE {{keyspace}}.cluster_leases SET expires_at = ? WHERE cluster = ? AND key = ? \
     IF holder = ? AND incarnation = ? AND epoch = ? AND expires_at > 0",
);

/// Releases the lease its holder holds under an epoch: free at once.
pub const RELEASE_LEASE: Stmt = lwt(
    "release_lease",
    "UPDATE {{keyspace}}.cluster_leases SET expires_at = 0 WHERE cluster = ? AND key = ? \
     IF holder = ? AND incarnation = ? AND epoch = ?",
);

// --- privacy (docs/security.md) ----------------------------------------------------------

/// Erasure: one month of a customer's timeline.
pub const DELETE_TIMELINE_PARTITION: Stmt = write(
    "delete_timeline_partition",
    "DELETE FROM {{keyspace}}.timeline WHERE customer_id = ? AND bucket = ?",
);

/// Erasure: the customer's list of timeline months.
pub const DELETE_TIMELINE_BUCKETS: Stmt = write(
    "delete_timeline_buckets",
    "DELETE FROM {{keyspace}}.timeline_buckets WHERE customer_id = ?",
);

/// Erasure: an identity link, through Paxos like every other identity write.
pub const DELETE_IDENTITY_IF_EXISTS: Stmt = lwt(
    "delete_identity_if_exists",
    "DELETE FROM {{keyspace}}.identities WHERE channel = ? AND address = ? IF EXISTS",
);

pub const INSERT_AUDIT: Stmt = write(
    "insert_audit",
    "INSERT INTO {{keyspace}}.audit_log (scope, entry_id, payload) VALUES (?, ?, ?)",
);

/// The newest audit entries.
pub const SELECT_AUDIT: Stmt = read(
    "select_audit",
    "SELECT payload FROM {{keyspace}}.audit_log WHERE scope = ? LIMIT ?",
);

/// Audit entries strictly older than an entry id, newest first.
pub const SELECT_AUDIT_BEFORE: Stmt = read(
    "select_audit_before",
    "SELECT payload FROM {{keyspace}}.audit_log WHERE scope = ? AND entry_id < ? LIMIT ?",
);

// --- schema migration -------------------------------------------------------------------

pub const SELECT_SCHEMA_VERSIONS: Stmt = read(
    "select_schema_versions",
    "SELECT version, name, checksum FROM {{keyspace}}.schema_version WHERE scope = ?",
);

pub const INSERT_SCHEMA_VERSION: Stmt = write(
    "insert_schema_version",
    "INSERT INTO {{keyspace}}.schema_version (scope, version, name, checksum, applied_at, \
     applied_by) VALUES (?, ?, ?, ?, ?, ?)",
);

/// The migration lock: version 0, taken with an LWT, freed by its TTL if the holder dies.
pub const TAKE_SCHEMA_LOCK: Stmt = lwt(
    "take_schema_lock",
    "INSERT INTO {{keyspace}}.schema_version (scope, version, name, applied_at, applied_by) \
     VALUES (?, 0, 'lock', ?, ?) IF NOT EXISTS USING TTL ?",
);

pub const RELEASE_SCHEMA_LOCK: Stmt = lwt(
    "release_schema_lock",
    "DELETE FROM {{keyspace}}.schema_version WHERE scope = ? AND version = 0 \
     IF applied_by = ?",
);

// --- outbox ----------------------------------------------------------------------------

/// A reply to deliver, keyed by its event id in the (shard, hour) of that event.
pub const INSERT_OUTBOX: Stmt = write(
    "insert_outbox",
    "INSERT INTO {{keyspace}}.outbox (shard, hour, send_id, conversation_id, customer_id, \
     channel, address, payload, status, attempts, next_attempt_at) \
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
);

/// Marks a reply delivered or given up (rows are never deleted; they expire).
pub const UPDATE_OUTBOX_STATUS: Stmt = write(
    "update_outbox_status",
    "UPDATE {{keyspace}}.outbox SET status = ? WHERE shard = ? AND hour = ? AND send_id = ?",
);

pub const SELECT_OUTBOX: Stmt = read(
    "select_outbox",
    "SELECT send_id, payload, status FROM {{keyspace}}.outbox WHERE shard = ? AND hour = ?",
);

// --- report log ------------------------------------------------------------------------

/// One report fact in its (queue, day) partition.
pub const INSERT_REPORT_EVENT: Stmt = write(
    "insert_report_event",
    "INSERT INTO {{keyspace}}.report_events (queue, day, event_id, at, kind, body) \
     VALUES (?, ?, ?, ?, ?, ?)",
);

/// Marks that `queue` has report events on `day`.
pub const INSERT_REPORT_DAY: Stmt = write(
    "insert_report_day",
    "INSERT INTO {{keyspace}}.report_days (day, queue) VALUES (?, ?)",
);

/// One (queue, day) partition of the report log, oldest first.
pub const SELECT_REPORT_EVENTS: Stmt = read(
    "select_report_events",
    "SELECT at, body FROM {{keyspace}}.report_events WHERE queue = ? AND day = ?",
);

/// The queues with report events on a day.
pub const SELECT_REPORT_DAY_QUEUES: Stmt = read(
    "select_report_day_queues",
    "SELECT queue FROM {{keyspace}}.report_days WHERE day = ?",
);

/// One agent's presence change in its (queue, day) partition of the presence log.
pub const INSERT_PRESENCE: Stmt = write(
    "insert_presence",
    "INSERT INTO {{keyspace}}.presence_log (queue, day, event_id, at, body) \
     VALUES (?, ?, ?, ?, ?)",
);

/// One (queue, day) partition of the presence log, oldest first.
pub const SELECT_PRESENCE: Stmt = read(
    "select_presence",
    "SELECT at, body FROM {{keyspace}}.presence_log WHERE queue = ? AND day = ?",
);

/// One chunk of a blob (written before its metadata).
pub const INSERT_BLOB_CHUNK: Stmt = write(
    "insert_blob_chunk",
    "INSERT INTO {{keyspace}}.blob_chunks (customer_id, blob_id, seq, data) VALUES (?, ?, ?, ?)",
);

/// A blob's metadata, the commit marker of its chunks.
pub const INSERT_BLOB: Stmt = write(
    "insert_blob",
    "INSERT INTO {{keyspace}}.blobs (customer_id, blob_id, meta) VALUES (?, ?, ?)",
);

/// One blob's metadata.
pub const SELECT_BLOB: Stmt = read(
    "select_blob",
    "SELECT meta FROM {{keyspace}}.blobs WHERE customer_id = ? AND blob_id = ?",
);

/// One chunk of a blob.
pub const SELECT_BLOB_CHUNK: Stmt = read(
    "select_blob_chunk",
    "SELECT data FROM {{keyspace}}.blob_chunks WHERE customer_id = ? AND blob_id = ? AND seq = ?",
);

/// The blobs of a customer (what an erasure deletes).
pub const SELECT_BLOB_IDS: Stmt = read(
    "select_blob_ids",
    "SELECT blob_id FROM {{keyspace}}.blobs WHERE customer_id = ?",
);

/// The chunks of one blob.
pub const DELETE_BLOB_CHUNKS: Stmt = write(
    "delete_blob_chunks",
    "DELETE FROM {{keyspace}}.blob_chunks WHERE customer_id = ? AND blob_id = ?",
);

/// The metadata of every blob of a customer.
pub const DELETE_BLOBS_OF: Stmt = write(
    "delete_blobs_of",
    "DELETE FROM {{keyspace}}.blobs WHERE customer_id = ?",
);

/// Every statement above: the store prepares each once at start, and the cross-check
/// test resolves each against `schema/*.cql`.
pub const ALL: &[Stmt] = &[
    INSERT_REPORT_EVENT,
    INSERT_REPORT_DAY,
    SELECT_REPORT_EVENTS,
    SELECT_REPORT_DAY_QUEUES,
    INSERT_PRESENCE,
    SELECT_PRESENCE,
    INSERT_OUTBOX,
    UPDATE_OUTBOX_STATUS,
    SELECT_OUTBOX,
    INSERT_CUSTOMER,
    DELETE_CUSTOMER,
    SELECT_CUSTOMER,
    SELECT_CUSTOMER_FENCE,
    UPDATE_CUSTOMER_FENCED,
    INSERT_IDENTITY_IF_NOT_EXISTS,
    UPDATE_IDENTITY_IF_EXISTS,
    SELECT_IDENTITY,
    SCAN_IDENTITIES,
    INSERT_TIMELINE_EVENT,
    INSERT_TIMELINE_BUCKET,
    SELECT_TIMELINE_BUCKETS,
    SELECT_TIMELINE,
    SELECT_TIMELINE_BEFORE,
    INSERT_CONVERSATION,
    SELECT_CONVERSATION,
    SELECT_CONVERSATION_OWNER,
    UPDATE_CONVERSATION_FENCED,
    INSERT_CONVERSATION_BY_CUSTOMER,
    DELETE_CONVERSATION_BY_CUSTOMER,
    SELECT_CONVERSATIONS_BY_CUSTOMER,
    INSERT_OPEN_CONVERSATION,
    DELETE_OPEN_CONVERSATION,
    SELECT_OPEN_CONVERSATIONS,
    INSERT_AGENT,
    SELECT_AGENT,
    SELECT_AGENTS,
    INSERT_QUEUE,
    SELECT_QUEUES,
    INSERT_TRACE,
    SELECT_TRACE,
    INSERT_SETTING,
    INSERT_SETTING_IF_NOT_EXISTS,
    SELECT_SETTING,
    INSERT_RECORD,
    DELETE_RECORD,
    SELECT_RECORD,
    SELECT_RECORDS,
    SELECT_RECORDS_AFTER,
    SELECT_RECORDS_THROUGH,
    INSERT_IDEMPOTENCY,
    SELECT_IDEMPOTENCY,
    DELETE_IDEMPOTENCY_OF,
    INSERT_TOMBSTONE,
    SELECT_TOMBSTONE,
    SELECT_TIMELINE_EVENT,
    SELECT_LEASES,
    SELECT_LEASE,
    INSERT_LEASE,
    TAKE_LEASE,
    SUCCEED_LEASE,
    RENEW_LEASE,
    RELEASE_LEASE,
    SELECT_SCHEMA_VERSIONS,
    INSERT_SCHEMA_VERSION,
    TAKE_SCHEMA_LOCK,
    RELEASE_SCHEMA_LOCK,
    DELETE_TIMELINE_PARTITION,
    DELETE_TIMELINE_BUCKETS,
    DELETE_IDENTITY_IF_EXISTS,
    INSERT_AUDIT,
    SELECT_AUDIT,
    SELECT_AUDIT_BEFORE,
    INSERT_BLOB_CHUNK,
    INSERT_BLOB,
    SELECT_BLOB,
    SELECT_BLOB_CHUNK,
    SELECT_BLOB_IDS,
    DELETE_BLOB_CHUNKS,
    DELETE_BLOBS_OF,
];

/// Tables the store reads or writes today; the rest of `schema/` is reserved for
/// features still to come (reports, CSAT, outbound, presence).
pub const TABLES_IN_USE: &[&str] = &[
    "schema_version",
    "customers",
    "identities",
    "timeline",
    "timeline_buckets",
    "conversations",
    "conversations_by_customer",
    "open_conversations",
    "agents",
    "queues",
    "routing_trace",
    "settings",
    "records",
    "outbox",
    "audit_log",
    "report_events",
    "report_days",
    "presence_log",
    "idempotency",
    "cluster_leases",
    "erasure_tombstones",
    "blobs",
    "blob_chunks",
];
