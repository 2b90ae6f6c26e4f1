//! The ScyllaDB [`Store`] backend, on the `scylla` driver: for running several engine
//! nodes on one replicated store.
//!
//! This module owns the mapping of the [`Store`] contract onto the tables of
//! `schema/0002_core.cql`; the CQL text lives in [`statements`], migration in [`schema`],
//! the parser used by the schema cross-check in [`cql`]. It holds no engine state.
//!
//! # Driver setup
//!
//! * One `Session` per process; token- and shard-aware `DefaultPolicy` preferring the
//!   local datacenter (no failover to remote DCs: LOCAL_QUORUM would not mean local).
//! * Every statement is prepared once at start ([`ScyllaStore::connect`]) with its
//!   consistency (reads and writes LOCAL_QUORUM by default, configurable; LWTs use
//!   LOCAL_SERIAL for Paxos) and idempotence: every plain write is idempotent (an upsert
//!   or delete of fixed values with a client-side timestamp), so the driver's default
//!   retry policy may retry it after a timeout; LWTs are not.
//! * Client-side monotonic timestamps, so two writes of one row from this process apply
//!   in the order they were made whichever coordinators they went through.
//! * A request timeout (default 5 s) and LZ4 compression.
//!
//! # What `commit` guarantees here
//!
//! ScyllaDB has no multi-partition transactions, and a logged batch only promises
//! "eventually all", not isolation. So a [`Batch`] is written in **phases**, each a set of
//! concurrent single-partition writes (rows of one partition go in one *unlogged* batch),
//! and a phase starts only after the previous one succeeded:
//!
//! 0. reads: where each conversation's by-customer copy lives, and in a cluster the
//!    fence of every customer and conversation row written under a lease, checked
//!    before anything is written (`fences`; those rows are then written by a
//!    compare-and-set on the fence read, a conversation's copies after its record);
//! 1. customers, agents, queues, settings (nothing refers to them being absent);
//! 2. conversations: the record, its copy in the customer's list, its open-index row
//!    (after the customer they name);
//! 3. timeline events, routing-trace entries and report events (after the customer and
//!    conversation they name; a report event's `report_days` row goes with it);
//! 4. identity links (last: they make a customer reachable by address).
//!
//! Guarantees: when `commit` returns `Ok`, every write reached a LOCAL_QUORUM of
//! replicas (durable, commit-logged). A reader never sees a record whose referent is
//! missing: referents are written in an earlier phase (see
//! `conformance::batch_visible_in_reference_order`). A reader *can* see part of a batch
//! while it is being written, and a failed `commit` may have applied a prefix of the
//! phases; every write is an idempotent upsert, so committing the same batch again is
//! safe, and callers acknowledge nothing until `commit` returns `Ok`.
//!
//! Reads go through the query-shaped tables: a timeline walks the customer's month
//! buckets newest first (`timeline_buckets`), paging inside each; the open-conversation
//! index is 16 fixed shards read at start.

pub mod coordination;
pub mod cql;
mod fences;
pub mod schema;
pub mod server;
pub mod statements;

use async_trait::async_trait;
use domain::{
    AgentId, AgentProfile, Channel, Conversation, ConversationId, ConversationState, Customer,
    CustomerId, EventId, IdentityKey, Millis, QueueConfig, QueueName, ReportEvent, SkillFloors,
    TimelineEvent,
};
use futures_util::future::{try_join_all, BoxFuture};
use futures_util::{FutureExt, StreamExt};
use schema::Template;
use scylla::client::execution_profile::ExecutionProfile;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::client::Compression;
use scylla::deserialize::row::DeserializeRow;
use scylla::errors::{DbError, ExecutionError, RequestAttemptError};
use scylla::policies::load_balancing::DefaultPolicy;
use scylla::policies::retry::DefaultRetryPolicy;
use scylla::policies::timestamp_generator::MonotonicTimestampGenerator;
use scylla::response::query_result::QueryResult;
use scylla::serialize::row::SerializeRow;
use scylla::statement::batch::{Batch as CqlBatch, BatchType};
use scylla::statement::prepared::PreparedStatement;
use scylla::statement::{Consistency, SerialConsistency};
use scylla::value::{CqlValue, Row};
use scylla::{DeserializeValue, SerializeValue};
use statements::{Kind, Stmt};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use store::{Batch, Capabilities, OutboxEntry, Store, StoreError, TraceEntry};
use uuid::Uuid;

/// Shards of `open_conversations` (`shard = last byte of the id % OPEN_SHARDS`).
/// Changing it needs a data migration.
pub const OPEN_SHARDS: u8 = 16;
/// The directory partition of `agents` and `queues`.
const SCOPE: &str = "default";
/// The settings key read by the readiness probe.
const HEALTH_KEY: &str = "__health";
/// Rows fetched per page by paged reads.
const PAGE_SIZE: i32 = 1_000;
/// Known (customer, bucket) rows kept to skip rewriting them; cleared when full.
const KNOWN_BUCKETS_MAX: usize = 200_000;

/// Connection and execution settings (built from `config::ScyllaSettings`).
#[derive(Clone)]
pub struct ScyllaOptions {
    /// `host:port` of a few nodes; the driver discovers the rest.
    pub contact_points: Vec<String>,
    pub keyspace: String,
    /// The datacenter this engine runs in: requests go to its replicas only.
    pub local_datacenter: String,
    /// Replicas in the local datacenter when the keyspace is created.
    pub replication_factor: u32,
    pub username: Option<String>,
    pub password: Option<String>,
    /// TLS with this CA bundle (PEM). Node certificates must name the node's IP
    /// address (the driver verifies the address it connects to).
    pub tls_ca_file: Option<PathBuf>,
    pub tls: bool,
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    pub read_consistency: Consistency,
    pub write_consistency: Consistency,
    pub serial_consistency: SerialConsistency,
    /// Apply pending schema files at connect.
    pub migrate: bool,
    /// How long to wait for another node's migration lock.
    pub migration_lock_wait: Duration,
}

impl std::fmt::Debug for ScyllaOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScyllaOptions")
            .field("contact_points", &self.contact_points)
            .field("keyspace", &self.keyspace)
            .field("local_datacenter", &self.local_datacenter)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl Default for ScyllaOptions {
    fn default() -> Self {
        Self {
            contact_points: vec!["127.0.0.1:9042".into()],
            keyspace: "switchboard".into(),
            local_datacenter: "datacenter1".into(),
            replication_factor: 3,
            username: None,
            password: None,
            tls_ca_file: None,
            tls: false,
            request_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            read_consistency: Consistency::LocalQuorum,
            write_consistency: Consistency::LocalQuorum,
            serial_consistency: SerialConsistency::LocalSerial,
            migrate: true,
            migration_lock_wait: Duration::from_secs(60),
        }
    }
}

impl ScyllaOptions {
    pub fn template(&self) -> Template {
        Template {
            keyspace: self.keyspace.clone(),
            datacenter: self.local_datacenter.clone(),
            replication_factor: self.replication_factor,
        }
    }

    /// Contact points from `SCYLLA_URI`-style text: `[scylla://]host[:port][,host...]`
    /// with an optional `/keyspace` suffix. Port 9042 if missing.
    pub fn parse_uri(uri: &str) -> Result<(Vec<String>, Option<String>), String> {
        let rest = uri.trim().strip_prefix("scylla://").unwrap_or(uri.trim());
        let (hosts, keyspace) = match rest.split_once('/') {
            Some((h, k)) if !k.is_empty() => (h, Some(k.to_owned())),
            Some((h, _)) => (h, None),
            None => (rest, None),
        };
        let points: Vec<String> = hosts
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(|h| {
                if h.starts_with('[')
                    || h.rsplit_once(':')
                        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
                {
                    h.to_owned()
                } else {
                    format!("{h}:9042")
                }
            })
            .collect();
        if points.is_empty() {
            return Err(format!("no contact point in {uri:?}"));
        }
        Ok((points, keyspace))
    }
}

/// Parses a consistency level name (`local_quorum`, `quorum`, `one`, ...).
pub fn parse_consistency(s: &str) -> Result<Consistency, String> {
    Ok(match s.to_ascii_lowercase().as_str() {
        "any" => Consistency::Any,
        "one" => Consistency::One,
        "two" => Consistency::Two,
        "three" => Consistency::Three,
        "quorum" => Consistency::Quorum,
        "all" => Consistency::All,
        "local_quorum" => Consistency::LocalQuorum,
        "each_quorum" => Consistency::EachQuorum,
        "local_one" => Consistency::LocalOne,
        other => return Err(format!("unknown consistency level {other:?}")),
    })
}

/// Parses a serial consistency name (`local_serial` or `serial`).
pub fn parse_serial_consistency(s: &str) -> Result<SerialConsistency, String> {
    match s.to_ascii_lowercase().as_str() {
        "local_serial" => Ok(SerialConsistency::LocalSerial),
        "serial" => Ok(SerialConsistency::Serial),
        other => Err(format!("unknown serial consistency {other:?}")),
    }
}

/// A channel identity inside a customer row (`identity_key` UDT).
#[derive(Debug, Clone, SerializeValue, DeserializeValue)]
struct IdentityUdt {
    channel: String,
    address: String,
}

impl IdentityUdt {
    fn of(key: &IdentityKey) -> Self {
        Self {
            channel: key.channel.as_str().to_owned(),
            address: key.address.clone(),
        }
    }
}

/// The ScyllaDB store. See the module documentation.
pub struct ScyllaStore {
    session: Arc<Session>,
    prepared: HashMap<&'static str, PreparedStatement>,
    keyspace: String,
    /// (customer, bucket) rows known to exist in `timeline_buckets`.
    known_buckets: dashmap::DashSet<(Uuid, i32)>,
}

impl std::fmt::Debug for ScyllaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScyllaStore")
            .field("keyspace", &self.keyspace)
            .finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------------------------------
// Errors.

/// Maps a driver error: connection trouble and timeouts are `Unavailable` (retry later),
/// server overload `Overloaded`, everything else (bad statement, auth...) `Backend`.
pub(crate) fn execution_error(what: &str, e: ExecutionError) -> StoreError {
    let msg = format!("{what}: {e}");
    match &e {
        ExecutionError::LastAttemptError(RequestAttemptError::DbError(db, _)) => match db {
            DbError::Overloaded | DbError::RateLimitReached { .. } => StoreError::Overloaded,
            DbError::Unavailable { .. }
            | DbError::ReadTimeout { .. }
            | DbError::WriteTimeout { .. }
            | DbError::ReadFailure { .. }
            | DbError::WriteFailure { .. }
            | DbError::IsBootstrapping
            | DbError::TruncateError
            | DbError::ServerError => StoreError::Unavailable(msg),
            _ => StoreError::Backend(msg),
        },
        ExecutionError::BadQuery(_) | ExecutionError::PrepareError(_) => StoreError::Backend(msg),
        _ => StoreError::Unavailable(msg),
    }
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

fn encode_err(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("encode {what}: {e}"))
}

/// Prepares one statement with its consistency, idempotence and paging.
pub(crate) async fn prepare_one(
    session: &Session,
    s: &Stmt,
    cql: &str,
    opts: Option<&ScyllaOptions>,
) -> Result<PreparedStatement, StoreError> {
    let mut ps = session
        .prepare(cql)
        .await
        .map_err(|e| execution_error(&format!("prepare {}", s.name), e.into()))?;
    let defaults = ScyllaOptions::default();
    let o = opts.unwrap_or(&defaults);
    match s.kind {
        Kind::Read | Kind::Scan => ps.set_consistency(o.read_consistency),
        Kind::Write => ps.set_consistency(o.write_consistency),
        Kind::Lwt => {
            ps.set_consistency(o.write_consistency);
            ps.set_serial_consistency(Some(o.serial_consistency));
        }
    }
    ps.set_is_idempotent(s.idempotent);
    ps.set_page_size(PAGE_SIZE);
    Ok(ps)
}

/// `([applied], row)` of an LWT result; the row holds the existing values when not
/// applied.
pub(crate) fn lwt_applied(
    res: QueryResult,
) -> Result<(bool, HashMap<String, CqlValue>), StoreError> {
    let rows = res
        .into_rows_result()
        .map_err(|e| StoreError::Backend(format!("lwt result: {e}")))?;
    let names: Vec<String> = rows
        .column_specs()
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    let row: Row = rows
        .first_row()
        .map_err(|e| StoreError::Backend(format!("lwt result: {e}")))?;
    let mut values = HashMap::new();
    for (name, v) in names.into_iter().zip(row.columns) {
        if let Some(v) = v {
            values.insert(name, v);
        }
    }
    let applied = matches!(values.get("[applied]"), Some(CqlValue::Boolean(true)));
    Ok((applied, values))
}

// ---------------------------------------------------------------------------------------
// Row codecs.

/// Outbox partitions: 16 shards per hour, so one hour's replies spread over nodes.
const OUTBOX_SHARDS: i32 = 16;
/// Hours of outbox partitions scanned at start for replies still pending.
const OUTBOX_SCAN_HOURS: i64 = 48;

/// Milliseconds since the epoch in a v7 event id.
fn event_ms(id: EventId) -> i64 {
    id.as_bytes()[..6]
        .iter()
        .fold(0i64, |acc, x| (acc << 8) | i64::from(*x))
}

/// The outbox partition of a reply: (shard by the id's random bits, hour of its time).
fn outbox_partition(id: EventId) -> (i32, i64) {
    let b = id.as_bytes();
    (i32::from(b[15]) % OUTBOX_SHARDS, event_ms(id) / 3_600_000)
}

/// The timeline month of an event: `year * 100 + month` (UTC) of its v7 timestamp.
pub fn bucket_of(id: EventId) -> i32 {
    let b = id.as_bytes();
    let ms = b[..6]
        .iter()
        .fold(0u64, |acc, x| (acc << 8) | u64::from(*x));
    // 48 bits of milliseconds reach the year 10889; past 9999 (no stored id) the
    // month saturates at 9999-12.
    let t = jiff::Timestamp::from_millisecond(ms as i64).unwrap_or(jiff::Timestamp::MAX);
    let d = jiff::tz::Offset::UTC.to_datetime(t);
    i32::from(d.year()) * 100 + i32::from(d.month())
}

fn open_shard(id: ConversationId) -> i32 {
    i32::from(id.as_bytes()[15] % OPEN_SHARDS)
}

fn id16(what: &str, b: &[u8]) -> Result<[u8; 16], StoreError> {
    <[u8; 16]>::try_from(b).map_err(|_| corrupt(what, format!("id of {} bytes", b.len())))
}

type ConversationRow = (
    Uuid,
    Uuid,
    String,
    String,
    String,
    i32,
    i64,
    i64,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    Option<String>,
);

/// A conversation's columns in the order of the statements that write them; the last,
/// `requirements`, is JSON made for the write (not `Copy`: clone it per statement).
type ConversationValues<'a> = (
    Uuid,
    Uuid,
    &'a str,
    &'a str,
    &'a str,
    i32,
    i64,
    i64,
    i64,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    i64,
    Option<String>,
);

fn conversation_values(c: &Conversation) -> Result<ConversationValues<'_>, StoreError> {
    let seq = i64::try_from(c.enqueue_seq).map_err(|e| encode_err("enqueue_seq", e))?;
    // A small map read with the row: kept as JSON text, null when there is none.
    let requirements = if c.requirements.is_empty() {
        None
    } else {
        Some(
            serde_json::to_string(&c.requirements)
                .map_err(|e| encode_err("conversation requirements", e))?,
        )
    };
    Ok((
        c.id.0,
        c.customer_id.0,
        c.channel.as_str(),
        c.queue.as_str(),
        c.state.as_str(),
        c.priority,
        c.created_at.0,
        c.enqueued_at.0,
        seq,
        c.agent.as_ref().map(AgentId::as_str),
        c.preferred_agent.as_ref().map(AgentId::as_str),
        c.required_agent.as_ref().map(AgentId::as_str),
        c.disposition.as_deref(),
        c.updated_at.0,
        requirements,
    ))
}

fn agent_opt(table: &str, s: Option<String>) -> Result<Option<AgentId>, StoreError> {
    s.map(|s| AgentId::parse(&s).map_err(|e| corrupt(table, e)))
        .transpose()
}

/// The `requirements` column of a conversation row of `table`: null or empty is none.
fn requirements_of(table: &str, s: Option<String>) -> Result<SkillFloors, StoreError> {
    match s.as_deref() {
        None | Some("") => Ok(SkillFloors::new()),
        Some(j) => {
            serde_json::from_str(j).map_err(|e| corrupt(&format!("{table}.requirements"), e))
        }
    }
}

fn conversation_from_row(table: &str, r: ConversationRow) -> Result<Conversation, StoreError> {
    let state: ConversationState =
        serde_json::from_value(serde_json::Value::String(r.4)).map_err(|e| corrupt(table, e))?;
    Ok(Conversation {
        id: ConversationId(r.0),
        customer_id: CustomerId(r.1),
        channel: Channel::parse(&r.2).map_err(|e| corrupt(table, e))?,
        queue: QueueName::parse(&r.3).map_err(|e| corrupt(table, e))?,
        state,
        priority: r.5,
        created_at: Millis(r.6),
        enqueued_at: Millis(r.7),
        enqueue_seq: u64::try_from(r.8).map_err(|e| corrupt(table, e))?,
        agent: agent_opt(table, r.9)?,
        preferred_agent: agent_opt(table, r.10)?,
        required_agent: agent_opt(table, r.11)?,
        disposition: r.12,
        requirements: requirements_of(table, r.14)?,
        updated_at: Millis(r.13),
    })
}

type CustomerRow = (
    Uuid,
    Option<String>,
    Option<Vec<IdentityUdt>>,
    Option<i32>,
    Option<BTreeMap<String, String>>,
    Option<String>,
    Option<Vec<String>>,
    Option<Uuid>,
    Option<String>,
    Option<i64>,
);

fn customer_from_row(r: CustomerRow) -> Result<Customer, StoreError> {
    let identities =
        r.2.unwrap_or_default()
            .into_iter()
            .map(|i| {
                Ok(IdentityKey {
                    channel: Channel::parse(&i.channel).map_err(|e| corrupt("customers", e))?,
                    address: i.address,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Customer {
        id: CustomerId(r.0),
        display_name: r.1,
        identities,
        priority: r.3.unwrap_or(0),
        attributes: r.4.unwrap_or_default(),
        last_agent: agent_opt("customers", r.5)?,
        opted_out: r
            .6
            .unwrap_or_default()
            .iter()
            .map(|c| Channel::parse(c).map_err(|e| corrupt("customers", e)))
            .collect::<Result<_, _>>()?,
        merged_into: r.7.map(CustomerId),
        // A short list, read with the row: kept as JSON text rather than nested UDTs.
        merged: match r.8.as_deref() {
            None | Some("") => Vec::new(),
            Some(j) => serde_json::from_str(j).map_err(|e| corrupt("customers", e))?,
        },
        created_at: Millis(r.9.ok_or_else(|| corrupt("customers", "created_at is null"))?),
    })
}

fn last_wins<K: Eq + std::hash::Hash + Clone, T: Clone>(
    items: &[T],
    key: impl Fn(&T) -> K,
) -> Vec<T> {
    let mut pos: HashMap<K, usize> = HashMap::new();
    let mut out: Vec<T> = Vec::new();
    for it in items {
        match pos.get(&key(it)) {
            Some(&i) => out[i] = it.clone(),
            None => {
                pos.insert(key(it), out.len());
                out.push(it.clone());
            }
        }
    }
    out
}

type Write<'a> = BoxFuture<'a, Result<(), StoreError>>;

// ---------------------------------------------------------------------------------------
// The store.

impl ScyllaStore {
    /// What this backend guarantees, for the conformance suite.
    pub const CAPABILITIES: Capabilities = Capabilities {
        atomic_multi_partition_batches: false,
    };

    /// Opens a session (without preparing anything): for `--check-schema` and
    /// migrations.
    pub async fn session(opts: &ScyllaOptions) -> Result<Session, StoreError> {
        opts.template()
            .validate()
            .map_err(|e| StoreError::Backend(format!("scylla settings: {e}")))?;
        let policy = DefaultPolicy::builder()
            .prefer_datacenter(opts.local_datacenter.clone())
            .token_aware(true)
            .permit_dc_failover(false)
            .build();
        let profile = ExecutionProfile::builder()
            .consistency(opts.write_consistency)
            .serial_consistency(Some(opts.serial_consistency))
            .request_timeout(Some(opts.request_timeout))
            .load_balancing_policy(policy)
            .retry_policy(Arc::new(DefaultRetryPolicy::new()))
            .build();
        let mut b = SessionBuilder::new()
            .known_nodes(&opts.contact_points)
            .default_execution_profile_handle(profile.into_handle())
            .connection_timeout(opts.connect_timeout)
            .compression(Some(Compression::Lz4))
            .timestamp_generator(Arc::new(MonotonicTimestampGenerator::new()));
        if let Some(user) = &opts.username {
            b = b.user(user.clone(), opts.password.clone().unwrap_or_default());
        }
        if opts.tls {
            b = b.tls_context(Some(tls_config(opts.tls_ca_file.as_deref())?));
        }
        b.build().await.map_err(|e| {
            StoreError::Unavailable(format!(
                "connecting to ScyllaDB at {}: {e}",
                opts.contact_points.join(",")
            ))
        })
    }

    /// Connects, migrates the schema if `opts.migrate`, then prepares every statement.
    /// Without migration, a missing or outdated schema is an error naming what is
    /// missing.
    pub async fn connect(opts: &ScyllaOptions) -> Result<ScyllaStore, StoreError> {
        let session = Self::session(opts).await?;
        let template = opts.template();
        if opts.migrate {
            let applied = schema::migrate(&session, &template, opts.migration_lock_wait).await?;
            tracing::info!(keyspace = %opts.keyspace, ?applied, "scylla schema up to date");
        } else {
            let st = schema::status(&session, &template).await?;
            if !st.is_current() {
                return Err(StoreError::Backend(format!(
                    "keyspace {} lacks schema files {:?}; start once with migrations on",
                    opts.keyspace, st.pending
                )));
            }
        }
        // A keyspace a newer engine migrated may hold tables and columns this binary
        // would misread or overwrite without knowing: refuse to start on it.
        let st = schema::status(&session, &template).await?;
        if !st.unknown.is_empty() {
            return Err(StoreError::Backend(format!(
                "keyspace {} has schema versions {:?} that this binary does not know (a \
                 newer engine migrated it; this one knows up to {}): start a binary at \
                 least as new as the one that migrated it",
                opts.keyspace,
                st.unknown,
                schema::FILES.last().map_or(0, |f| f.version)
            )));
        }
        let mut prepared = HashMap::new();
        for s in statements::ALL {
            let cql = schema::render(s.cql, &template)
                .map_err(|e| StoreError::Backend(format!("{}: {e}", s.name)))?;
            prepared.insert(s.name, prepare_one(&session, s, &cql, Some(opts)).await?);
        }
        Ok(ScyllaStore {
            session: Arc::new(session),
            prepared,
            keyspace: opts.keyspace.clone(),
            known_buckets: dashmap::DashSet::new(),
        })
    }

    fn ps(&self, s: &Stmt) -> Result<&PreparedStatement, StoreError> {
        self.prepared
            .get(s.name)
            .ok_or_else(|| StoreError::Backend(format!("statement {} not prepared", s.name)))
    }

    async fn exec(&self, s: &Stmt, values: impl SerializeRow) -> Result<QueryResult, StoreError> {
        let ps = self.ps(s)?;
        self.session
            .execute_unpaged(ps, values)
            .await
            .map_err(|e| execution_error(s.name, e))
    }

    async fn write(&self, s: &'static Stmt, values: impl SerializeRow) -> Result<(), StoreError> {
        self.exec(s, values).await.map(|_| ())
    }

    /// Rows of a single-page read (point lookups).
    async fn rows<R>(&self, s: &Stmt, values: impl SerializeRow) -> Result<Vec<R>, StoreError>
    where
        R: for<'f> DeserializeRow<'f, 'f>,
    {
        let rows = self
            .exec(s, values)
            .await?
            .into_rows_result()
            .map_err(|e| StoreError::Backend(format!("{}: {e}", s.name)))?;
        let iter = rows.rows::<R>().map_err(|e| corrupt(s.name, e))?;
        iter.map(|r| r.map_err(|e| corrupt(s.name, e))).collect()
    }

    /// Rows of a paged read, at most `max`.
    async fn paged<R>(
        &self,
        s: &Stmt,
        values: impl SerializeRow,
        max: usize,
    ) -> Result<Vec<R>, StoreError>
    where
        R: for<'f, 'm> DeserializeRow<'f, 'm> + Send + 'static,
    {
        let mut ps = self.ps(s)?.clone();
        ps.set_page_size(i32::try_from(max).unwrap_or(PAGE_SIZE).clamp(1, PAGE_SIZE));
        let pager = self
            .session
            .execute_iter(ps, values)
            .await
            .map_err(|e| StoreError::Unavailable(format!("{}: {e}", s.name)))?;
        let mut stream = pager.rows_stream::<R>().map_err(|e| corrupt(s.name, e))?;
        let mut out = Vec::new();
        while out.len() < max {
            match stream.next().await {
                Some(Ok(r)) => out.push(r),
                Some(Err(e)) => return Err(StoreError::Unavailable(format!("{}: {e}", s.name))),
                None => break,
            }
        }
        Ok(out)
    }

    /// Rows of one partition in an unlogged batch (or alone if one).
    async fn partition_batch<V: SerializeRow>(
        &self,
        s: &'static Stmt,
        rows: Vec<V>,
    ) -> Result<(), StoreError> {
        if rows.len() == 1 {
            let Some(v) = rows.into_iter().next() else {
                return Ok(());
            };
            return self.write(s, v).await;
        }
        let ps = self.ps(s)?;
        let mut batch = CqlBatch::new(BatchType::Unlogged);
        for _ in 0..rows.len() {
            batch.append_statement(ps.clone());
        }
        if let Some(c) = ps.get_consistency() {
            batch.set_consistency(c);
        }
        batch.set_is_idempotent(true);
        self.session
            .batch(&batch, rows)
            .await
            .map(|_| ())
            .map_err(|e| execution_error(s.name, e))
    }

    /// A blob's chunks (a few in flight at a time), then its metadata, the marker
    /// readers look for (`store::blob`).
    async fn put_blob(&self, put: &store::BlobPut) -> Result<(), StoreError> {
        let m = &put.meta;
        let seqs = put.chunks.iter().enumerate();
        let rows: Vec<(i32, &Vec<u8>)> = seqs
            .map(|(i, c)| i32::try_from(i).map(|i| (i, c)))
            .collect::<Result<_, _>>()
            .map_err(|e| encode_err("blob", e))?;
        for group in rows.chunks(BLOB_CHUNKS_IN_FLIGHT) {
            try_join_all(group.iter().map(|(seq, data)| {
                self.write(
                    &statements::INSERT_BLOB_CHUNK,
                    (m.owner.0, m.id.as_str(), *seq, data.as_slice()),
                )
            }))
            .await?;
        }
        let meta = serde_json::to_string(m).map_err(|e| encode_err("blob", e))?;
        self.write(&statements::INSERT_BLOB, (m.owner.0, m.id.as_str(), meta))
            .await
    }

    /// Every blob of `owner`: each blob's chunk partition, then the metadata rows.
    async fn delete_blobs_of(&self, owner: CustomerId) -> Result<(), StoreError> {
        let ids: Vec<(String,)> = self
            .paged(&statements::SELECT_BLOB_IDS, (owner.0,), usize::MAX)
            .await?;
        for group in ids.chunks(BLOB_CHUNKS_IN_FLIGHT) {
            try_join_all(
                group.iter().map(|(id,)| {
                    self.write(&statements::DELETE_BLOB_CHUNKS, (owner.0, id.as_str()))
                }),
            )
            .await?;
        }
        self.write(&statements::DELETE_BLOBS_OF, (owner.0,)).await
    }

    fn customer_write(&self, c: &Customer) -> Write<'_> {
        let c = c.clone();
        async move {
            let identities: Vec<IdentityUdt> = c.identities.iter().map(IdentityUdt::of).collect();
            self.write(
                &statements::INSERT_CUSTOMER,
                (
                    c.id.0,
                    c.display_name.as_deref(),
                    identities,
                    c.priority,
                    &c.attributes,
                    c.last_agent.as_ref().map(AgentId::as_str),
                    c.opted_out
                        .iter()
                        .map(|ch| ch.as_str().to_owned())
                        .collect::<Vec<String>>(),
                    c.merged_into.map(|m| m.0),
                    if c.merged.is_empty() {
                        None
                    } else {
                        serde_json::to_string(&c.merged).ok()
                    },
                    c.created_at.0,
                ),
            )
            .await
        }
        .boxed()
    }

    /// Links `key` to `id` whether or not it exists, through Paxos.
    async fn link_identity(&self, key: &IdentityKey, id: CustomerId) -> Result<(), StoreError> {
        let channel = key.channel.as_str();
        for _ in 0..5 {
            let res = self
                .exec(
                    &statements::UPDATE_IDENTITY_IF_EXISTS,
                    (id.0, channel, key.address.as_str()),
                )
                .await?;
            if lwt_applied(res)?.0 {
                return Ok(());
            }
            let res = self
                .exec(
                    &statements::INSERT_IDENTITY_IF_NOT_EXISTS,
                    (channel, key.address.as_str(), id.0),
                )
                .await?;
            if lwt_applied(res)?.0 {
                return Ok(());
            }
            // Created between our two attempts: update again.
        }
        Err(StoreError::Unavailable(format!(
            "identity {} keeps changing under contention",
            key.storage_key().replace('\0', ":")
        )))
    }

    fn conversation_writes<'a>(
        &'a self,
        c: &'a Conversation,
        previous: Option<(Uuid, i64)>,
        record: bool,
    ) -> Result<Vec<Write<'a>>, StoreError> {
        let v = conversation_values(c)?;
        let mut w: Vec<Write<'a>> = Vec::new();
        if record {
            w.push(
                self.write(&statements::INSERT_CONVERSATION, v.clone())
                    .boxed(),
            );
        }
        w.push(
            self.write(&statements::INSERT_CONVERSATION_BY_CUSTOMER, v.clone())
                .boxed(),
        );
        if let Some((old_customer, old_created)) = previous {
            if (old_customer, old_created) != (c.customer_id.0, c.created_at.0) {
                w.push(
                    self.write(
                        &statements::DELETE_CONVERSATION_BY_CUSTOMER,
                        (old_customer, old_created, c.id.0),
                    )
                    .boxed(),
                );
            }
        }
        let shard = open_shard(c.id);
        if c.state.is_open() {
            let (a, b, cc, d, e, f, g, h, i, j, k, l, m, n, o) = v;
            w.push(
                self.write(
                    &statements::INSERT_OPEN_CONVERSATION,
                    (a, b, cc, d, e, f, g, h, i, j, k, l, m, n, o, shard),
                )
                .boxed(),
            );
        } else {
            w.push(
                self.write(&statements::DELETE_OPEN_CONVERSATION, (shard, c.id.0))
                    .boxed(),
            );
        }
        Ok(w)
    }
}

fn tls_config(ca_file: Option<&std::path::Path>) -> Result<Arc<rustls::ClientConfig>, StoreError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let Some(path) = ca_file else {
        return Err(StoreError::Backend(
            "scylla TLS needs store.scylla.tls_ca_file (the cluster's CA, PEM)".into(),
        ));
    };
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| StoreError::Backend(format!("reading {}: {e}", path.display())))?;
    for cert in certs {
        let cert = cert.map_err(|e| StoreError::Backend(format!("{}: {e}", path.display())))?;
        roots
            .add(cert)
            .map_err(|e| StoreError::Backend(format!("{}: {e}", path.display())))?;
    }
    if roots.is_empty() {
        return Err(StoreError::Backend(format!(
            "{} holds no certificate",
            path.display()
        )));
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Backend(format!("tls: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The TTL of a row written at `at` that expires at `expires_at`: whole seconds, rounded
/// up, at least 1 (0 would mean "never"), at most CQL's 20-year limit.
/// Tombstone writes an erasure keeps in flight at once.
const TOMBSTONES_IN_FLIGHT: usize = 64;

/// Blob chunks written (or blob partitions deleted) at a time: a 16 MiB file is 64
/// chunks of 256 KiB, and that many megabytes in flight at once would crowd out the
/// messages sharing the connection.
const BLOB_CHUNKS_IN_FLIGHT: usize = 4;

fn ttl_seconds(expires_at: Millis, at: Millis) -> i32 {
    const MAX_TTL_S: i64 = 630_720_000;
    let ms = (expires_at.0 - at.0).max(1);
    ((ms + 999) / 1000).clamp(1, MAX_TTL_S) as i32
}

/// A report day as the `int` the schema keys by.
fn report_day(day: i64) -> Result<i32, StoreError> {
    i32::try_from(day).map_err(|_| StoreError::Backend(format!("report day {day} out of range")))
}

#[async_trait]
impl Store for ScyllaStore {
    async fn commit(&self, mut batch: Batch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        // The event journal's rows go with the records (phase 1), before the events
        // they name: a commit cut short leaves a row whose event is missing (the stream
        // waits for it, then skips it), never an event the stream cannot find.
        store::journal::extend(&mut batch);
        // Within a batch the later write of a key wins, as in one transaction.
        let customers = last_wins(&batch.customers, |c| c.id);
        let conversations = last_wins(&batch.conversations, |c| c.id);
        let events = last_wins(&batch.events, |e| e.id);
        let traces = last_wins(&batch.traces, |t| (t.conversation_id, t.id));
        let agents = last_wins(&batch.agents, |a| a.id.clone());
        let queues = last_wins(&batch.queues, |q| q.name.clone());
        let settings = last_wins(&batch.settings, |s| s.0.clone());
        let identities = last_wins(&batch.identities, |i| i.0.clone());
        // Blobs before everything: a message may name one. Chunks, then metadata.
        for put in &batch.blobs {
            self.put_blob(put).await?;
        }

        // Phase 0: where each conversation's by-customer copy lives now, and the fence
        // of each row written under a lease (`fences`): a row a later epoch wrote
        // refuses the whole batch before anything of it is written.
        let owners = try_join_all(conversations.iter().map(|c| async move {
            let rows: Vec<(Option<Uuid>, Option<i64>, Option<String>, Option<i64>)> = self
                .rows(&statements::SELECT_CONVERSATION_OWNER, (c.id.0,))
                .await?;
            Ok::<_, StoreError>(match rows.into_iter().next() {
                Some((cust, created, key, epoch)) => (cust.zip(created), (key, epoch)),
                None => (None, (None, None)),
            })
        }))
        .await?;
        let leases = &batch.leases;
        let customer_fences = try_join_all(customers.iter().map(|c| async move {
            match leases.get(&c.id) {
                Some(_) => self.customer_fence(c).await,
                None => Ok((None, None)),
            }
        }))
        .await?;
        for (c, seen) in customers.iter().zip(&customer_fences) {
            if let Some(lease) = batch.leases.get(&c.id) {
                fences::check(lease, &format!("customer {}", c.id), seen)?;
            }
        }
        for (c, (_, seen)) in conversations.iter().zip(&owners) {
            if let Some(lease) = batch.leases.get(&c.customer_id) {
                fences::check(lease, &format!("conversation {}", c.id), seen)?;
            }
        }

        // Phase 1: records nothing in this batch depends on being absent.
        let mut phase: Vec<Write<'_>> = Vec::new();
        for (c, seen) in customers.iter().zip(customer_fences) {
            phase.push(match batch.leases.get(&c.id) {
                Some(lease) => self.fenced_customer(c, lease, seen).boxed(),
                None => self.customer_write(c),
            });
        }
        for a in &agents {
            let profile = serde_json::to_string(a).map_err(|e| encode_err("agent", e))?;
            let role = serde_json::to_value(a.role)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let values = (
                SCOPE,
                a.id.as_str().to_owned(),
                a.display_name.clone(),
                role,
                a.disabled,
                profile,
            );
            phase.push(self.write(&statements::INSERT_AGENT, values).boxed());
        }
        for q in &queues {
            let config = serde_json::to_string(q).map_err(|e| encode_err("queue", e))?;
            let values = (
                SCOPE,
                q.name.as_str().to_owned(),
                q.display_name.clone(),
                config,
            );
            phase.push(self.write(&statements::INSERT_QUEUE, values).boxed());
        }
        for (k, v) in &settings {
            phase.push(
                self.write(&statements::INSERT_SETTING, (k.as_str(), v.as_slice()))
                    .boxed(),
            );
        }
        for r in last_wins(&batch.records, |r| (r.kind.clone(), r.key.clone())) {
            phase.push(match r.value {
                Some(v) => self
                    .write(&statements::INSERT_RECORD, (r.kind, r.key, v))
                    .boxed(),
                None => self
                    .write(&statements::DELETE_RECORD, (r.kind, r.key))
                    .boxed(),
            });
        }
        // An id's record goes before the event it names: a crash in between leaves a
        // record whose event is missing, which the engine checks on a hit
        // (`Store::event`) and applies again, never an applied event without its record
        // (which a retry would apply twice).
        for r in last_wins(&batch.idempotency, |r| (r.customer_id, r.key.clone())) {
            let ttl = ttl_seconds(r.expires_at, r.at);
            let values = (
                r.customer_id.0,
                r.key,
                r.event_id.as_bytes().to_vec(),
                r.conversation_id.0,
                r.digest as i64,
                r.at.0,
                r.expires_at.0,
                ttl,
            );
            phase.push(self.write(&statements::INSERT_IDEMPOTENCY, values).boxed());
        }
        try_join_all(phase).await?;

        // Phase 2: conversations (after the customers they name).
        let mut phase: Vec<Write<'_>> = Vec::new();
        let mut fenced: Vec<Write<'_>> = Vec::new();
        for (c, (prev, seen)) in conversations.iter().zip(owners) {
            match batch.leases.get(&c.customer_id) {
                // The record first, under its fence; its copies once that applied.
                Some(lease) => {
                    let copies = self.conversation_writes(c, prev, false)?;
                    fenced.push(
                        async move {
                            self.fenced_conversation(c, lease, seen).await?;
                            try_join_all(copies).await.map(|_| ())
                        }
                        .boxed(),
                    );
                }
                None => phase.extend(self.conversation_writes(c, prev, true)?),
            }
        }
        phase.extend(fenced);
        try_join_all(phase).await?;

        // Phase 3: timeline events and trace entries, one unlogged batch per partition.
        let mut phase: Vec<Write<'_>> = Vec::new();
        type EventRow = (Uuid, i32, Vec<u8>, i64, Option<Uuid>, String, String);
        let mut by_partition: BTreeMap<(Uuid, i32), Vec<EventRow>> = BTreeMap::new();
        for e in &events {
            let value = serde_json::to_value(e).map_err(|x| encode_err("event", x))?;
            let kind = value
                .get("type")
                .and_then(|t| t.as_str())
                .unwrap_or("unknown")
                .to_owned();
            let bucket = bucket_of(e.id);
            by_partition
                .entry((e.customer_id.0, bucket))
                .or_default()
                .push((
                    e.customer_id.0,
                    bucket,
                    e.id.as_bytes().to_vec(),
                    e.at.0,
                    e.conversation_id.map(|c| c.0),
                    kind,
                    value.to_string(),
                ));
        }
        let mut new_buckets = Vec::new();
        for ((customer, bucket), rows) in by_partition {
            if !self.known_buckets.contains(&(customer, bucket)) {
                new_buckets.push((customer, bucket));
                phase.push(
                    self.write(&statements::INSERT_TIMELINE_BUCKET, (customer, bucket))
                        .boxed(),
                );
            }
            phase.push(
                self.partition_batch(&statements::INSERT_TIMELINE_EVENT, rows)
                    .boxed(),
            );
        }
        type TraceRow = (Uuid, Vec<u8>, i64, String, String, Option<String>, String);
        let mut trace_parts: BTreeMap<Uuid, Vec<TraceRow>> = BTreeMap::new();
        for t in &traces {
            trace_parts.entry(t.conversation_id.0).or_default().push((
                t.conversation_id.0,
                t.id.as_bytes().to_vec(),
                t.at.0,
                t.queue.as_str().to_owned(),
                t.step.clone(),
                t.agent.as_ref().map(|a| a.as_str().to_owned()),
                t.detail.clone(),
            ));
        }
        for (_, rows) in trace_parts {
            phase.push(
                self.partition_batch(&statements::INSERT_TRACE, rows)
                    .boxed(),
            );
        }
        type ReportRow = (String, i32, Vec<u8>, i64, String, String);
        let mut report_parts: BTreeMap<(String, i32), Vec<ReportRow>> = BTreeMap::new();
        for e in last_wins(&batch.report_events, |e| e.id) {
            let day = report_day(e.day())?;
            let body = serde_json::to_string(&e).map_err(|x| encode_err("report event", x))?;
            let queue = e.queue.as_str().to_owned();
            report_parts.entry((queue.clone(), day)).or_default().push((
                queue,
                day,
                e.id.as_bytes().to_vec(),
                e.at.0,
                e.kind.as_str().to_owned(),
                body,
            ));
        }
        for ((queue, day), rows) in report_parts {
            phase.push(
                self.write(&statements::INSERT_REPORT_DAY, (day, queue))
                    .boxed(),
            );
            phase.push(
                self.partition_batch(&statements::INSERT_REPORT_EVENT, rows)
                    .boxed(),
            );
        }
        type PresenceRow = (String, i32, Vec<u8>, i64, String);
        let mut presence_parts: BTreeMap<(String, i32), Vec<PresenceRow>> = BTreeMap::new();
        for e in last_wins(&batch.presence, |e| e.id) {
            let day = report_day(e.day())?;
            let body = serde_json::to_string(&e).map_err(|x| encode_err("presence event", x))?;
            let queue = e.queue.as_str().to_owned();
            presence_parts
                .entry((queue.clone(), day))
                .or_default()
                .push((queue, day, e.id.as_bytes().to_vec(), e.at.0, body));
        }
        for (_, rows) in presence_parts {
            phase.push(
                self.partition_batch(&statements::INSERT_PRESENCE, rows)
                    .boxed(),
            );
        }
        for o in &batch.outbox {
            let (shard, hour) = outbox_partition(o.event_id);
            let payload = serde_json::to_string(o).map_err(|e| encode_err("outbox", e))?;
            let values = (
                shard,
                hour,
                o.event_id.as_bytes().to_vec(),
                o.conversation_id.0,
                o.customer_id.0,
                o.channel.as_str(),
                o.to.clone(),
                payload,
                "pending",
                0i32,
                o.created_at.0,
            );
            phase.push(self.write(&statements::INSERT_OUTBOX, values).boxed());
        }
        for id in &batch.outbox_done {
            let (shard, hour) = outbox_partition(*id);
            let values = ("done", shard, hour, id.as_bytes().to_vec());
            phase.push(
                self.write(&statements::UPDATE_OUTBOX_STATUS, values)
                    .boxed(),
            );
        }
        try_join_all(phase).await?;
        if self.known_buckets.len() > KNOWN_BUCKETS_MAX {
            self.known_buckets.clear();
        }
        for b in new_buckets {
            self.known_buckets.insert(b);
        }

        // Phase 4: identity links, which make customers reachable by address.
        try_join_all(identities.iter().map(|(k, id)| self.link_identity(k, *id))).await?;
        Ok(())
    }

    async fn resolve_or_create(
        &self,
        key: &IdentityKey,
        mut new_customer: Customer,
    ) -> Result<(CustomerId, bool), StoreError> {
        if let Some(id) = self.customer_by_identity(key).await? {
            return Ok((id, false));
        }
        if !new_customer.identities.contains(key) {
            new_customer.identities.push(key.clone());
        }
        // The customer first: an identity must never point at a missing customer. If we
        // lose the race, our row is removed again (an orphan left by a crash right here
        // is unreachable, hence harmless).
        self.customer_write(&new_customer).await?;
        let res = self
            .exec(
                &statements::INSERT_IDENTITY_IF_NOT_EXISTS,
                (
                    key.channel.as_str(),
                    key.address.as_str(),
                    new_customer.id.0,
                ),
            )
            .await?;
        let (applied, existing) = lwt_applied(res)?;
        if applied {
            return Ok((new_customer.id, true));
        }
        let winner = match existing.get("customer_id") {
            Some(CqlValue::Uuid(u)) => CustomerId(*u),
            other => {
                return Err(StoreError::Corrupt(format!(
                    "identities: LWT returned customer_id {other:?}"
                )))
            }
        };
        if winner == new_customer.id {
            // A retried Paxos round found our own earlier, applied attempt.
            return Ok((winner, true));
        }
        if let Err(e) = self
            .write(&statements::DELETE_CUSTOMER, (new_customer.id.0,))
            .await
        {
            tracing::warn!(customer = %new_customer.id, error = %e, "could not remove the losing customer row");
        }
        Ok((winner, false))
    }

    async fn customer_by_identity(
        &self,
        key: &IdentityKey,
    ) -> Result<Option<CustomerId>, StoreError> {
        let rows: Vec<(Option<Uuid>,)> = self
            .rows(
                &statements::SELECT_IDENTITY,
                (key.channel.as_str(), key.address.as_str()),
            )
            .await?;
        Ok(rows.into_iter().next().and_then(|(u,)| u).map(CustomerId))
    }

    /// One driver page of the table; the cursor is the driver's paging state (hex),
    /// which the database resumes from exactly.
    async fn identities_page(
        &self,
        after: Option<String>,
        limit: usize,
    ) -> Result<store::IdentityPage, StoreError> {
        use scylla::response::{PagingState, PagingStateResponse};
        if limit == 0 {
            return Ok(store::IdentityPage::default());
        }
        let s = &statements::SCAN_IDENTITIES;
        let state = match after {
            Some(a) => PagingState::new_from_raw_bytes(from_hex(&a).ok_or_else(|| {
                StoreError::Corrupt("identities page cursor is not a paging state".into())
            })?),
            None => PagingState::start(),
        };
        let mut ps = self.ps(s)?.clone();
        ps.set_page_size(
            i32::try_from(limit)
                .unwrap_or(PAGE_SIZE)
                .clamp(1, PAGE_SIZE),
        );
        let (result, next) = self
            .session
            .execute_single_page(&ps, (), state)
            .await
            .map_err(|e| StoreError::Unavailable(format!("{}: {e}", s.name)))?;
        let rows = result
            .into_rows_result()
            .map_err(|e| StoreError::Backend(format!("{}: {e}", s.name)))?;
        let mut links = Vec::new();
        for row in rows
            .rows::<(String, String, Option<Uuid>)>()
            .map_err(|e| corrupt(s.name, e))?
        {
            let (channel, address, customer) = row.map_err(|e| corrupt(s.name, e))?;
            if let (Ok(channel), Some(c)) = (domain::Channel::parse(&channel), customer) {
                links.push((IdentityKey { channel, address }, CustomerId(c)));
            }
        }
        let next = match next {
            PagingStateResponse::HasMorePages { state } => {
                state.as_bytes_slice().map(|b| to_hex(b.as_ref()))
            }
            PagingStateResponse::NoMorePages => None,
        };
        Ok(store::IdentityPage { links, next })
    }

    async fn customer(&self, id: CustomerId) -> Result<Option<Customer>, StoreError> {
        let rows: Vec<CustomerRow> = self.rows(&statements::SELECT_CUSTOMER, (id.0,)).await?;
        rows.into_iter().next().map(customer_from_row).transpose()
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
        let start = before.map_or(i32::MAX, bucket_of);
        let buckets: Vec<(i32,)> = self
            .paged(
                &statements::SELECT_TIMELINE_BUCKETS,
                (customer.0, start),
                usize::MAX,
            )
            .await?;
        let mut out: Vec<TimelineEvent> = Vec::new();
        for (bucket,) in buckets {
            let remaining = limit - out.len();
            let cql_limit = i32::try_from(remaining).unwrap_or(i32::MAX);
            let rows: Vec<(Vec<u8>, String)> = match before {
                Some(b) => {
                    self.paged(
                        &statements::SELECT_TIMELINE_BEFORE,
                        (customer.0, bucket, b.as_bytes().as_slice(), cql_limit),
                        remaining,
                    )
                    .await?
                }
                None => {
                    self.paged(
                        &statements::SELECT_TIMELINE,
                        (customer.0, bucket, cql_limit),
                        remaining,
                    )
                    .await?
                }
            };
            for (id, payload) in rows {
                let id = EventId::from_bytes(id16("timeline", &id)?);
                let e: TimelineEvent =
                    serde_json::from_str(&payload).map_err(|e| corrupt("timeline", e))?;
                if e.id != id || e.customer_id != customer {
                    return Err(corrupt("timeline", "payload does not match its key"));
                }
                out.push(e);
            }
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    async fn conversation(&self, id: ConversationId) -> Result<Option<Conversation>, StoreError> {
        let rows: Vec<ConversationRow> =
            self.rows(&statements::SELECT_CONVERSATION, (id.0,)).await?;
        rows.into_iter()
            .next()
            .map(|r| conversation_from_row("conversations", r))
            .transpose()
    }

    async fn conversations_of(
        &self,
        customer: CustomerId,
    ) -> Result<Vec<Conversation>, StoreError> {
        let rows: Vec<ConversationRow> = self
            .paged(
                &statements::SELECT_CONVERSATIONS_BY_CUSTOMER,
                (customer.0,),
                usize::MAX,
            )
            .await?;
        let mut out = rows
            .into_iter()
            .map(|r| conversation_from_row("conversations_by_customer", r))
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(out)
    }

    async fn open_conversations(&self) -> Result<Vec<Conversation>, StoreError> {
        let shards = try_join_all((0..i32::from(OPEN_SHARDS)).map(|shard| {
            self.paged::<ConversationRow>(
                &statements::SELECT_OPEN_CONVERSATIONS,
                (shard,),
                usize::MAX,
            )
        }))
        .await?;
        let mut out = Vec::new();
        for r in shards.into_iter().flatten() {
            let c = conversation_from_row("open_conversations", r)?;
            if c.state.is_open() {
                out.push(c);
            }
        }
        Ok(out)
    }

    async fn agent(&self, id: &AgentId) -> Result<Option<AgentProfile>, StoreError> {
        let rows: Vec<(String,)> = self
            .rows(&statements::SELECT_AGENT, (SCOPE, id.as_str()))
            .await?;
        rows.into_iter()
            .next()
            .map(|(p,)| serde_json::from_str(&p).map_err(|e| corrupt("agents", e)))
            .transpose()
    }

    async fn agents(&self) -> Result<Vec<AgentProfile>, StoreError> {
        let rows: Vec<(String,)> = self
            .paged(&statements::SELECT_AGENTS, (SCOPE,), usize::MAX)
            .await?;
        rows.into_iter()
            .map(|(p,)| serde_json::from_str(&p).map_err(|e| corrupt("agents", e)))
            .collect()
    }

    async fn queues(&self) -> Result<Vec<QueueConfig>, StoreError> {
        let rows: Vec<(String,)> = self
            .paged(&statements::SELECT_QUEUES, (SCOPE,), usize::MAX)
            .await?;
        rows.into_iter()
            .map(|(p,)| serde_json::from_str(&p).map_err(|e| corrupt("queues", e)))
            .collect()
    }

    async fn trace(&self, conversation: ConversationId) -> Result<Vec<TraceEntry>, StoreError> {
        type Row = (Uuid, Vec<u8>, i64, String, String, Option<String>, String);
        let rows: Vec<Row> = self
            .paged(&statements::SELECT_TRACE, (conversation.0,), usize::MAX)
            .await?;
        rows.into_iter()
            .map(|(c, id, at, queue, step, agent, detail)| {
                Ok(TraceEntry {
                    conversation_id: ConversationId(c),
                    id: EventId::from_bytes(id16("routing_trace", &id)?),
                    at: Millis(at),
                    queue: QueueName::parse(&queue).map_err(|e| corrupt("routing_trace", e))?,
                    step,
                    agent: agent_opt("routing_trace", agent)?,
                    detail,
                })
            })
            .collect()
    }

    async fn report_events(
        &self,
        queue: Option<&QueueName>,
        from: Millis,
        to: Millis,
        limit: usize,
    ) -> Result<Vec<ReportEvent>, StoreError> {
        use domain::report::day_of;
        if limit == 0 || to <= from {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for day in day_of(from)..=day_of(Millis(to.0 - 1)) {
            let d = report_day(day)?;
            let mut queues: Vec<String> = match queue {
                Some(q) => vec![q.as_str().to_owned()],
                None => self
                    .paged::<(String,)>(&statements::SELECT_REPORT_DAY_QUEUES, (d,), usize::MAX)
                    .await?
                    .into_iter()
                    .map(|(q,)| q)
                    .collect(),
            };
            // The embedded store's order: length, then bytes.
            queues.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
            for q in queues {
                let rows: Vec<(i64, String)> = self
                    .paged(&statements::SELECT_REPORT_EVENTS, (q, d), usize::MAX)
                    .await?;
                for (at, body) in rows {
                    if at < from.0 || at >= to.0 {
                        continue;
                    }
                    out.push(serde_json::from_str(&body).map_err(|e| corrupt("report_events", e))?);
                    if out.len() >= limit {
                        return Ok(out);
                    }
                }
            }
        }
        Ok(out)
    }

    async fn presence_events(
        &self,
        queue: &QueueName,
        from: Millis,
        to: Millis,
        limit: usize,
    ) -> Result<Vec<domain::PresenceEvent>, StoreError> {
        use domain::report::day_of;
        if limit == 0 || to <= from {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for day in day_of(from)..=day_of(Millis(to.0 - 1)) {
            let rows: Vec<(i64, String)> = self
                .paged(
                    &statements::SELECT_PRESENCE,
                    (queue.as_str().to_owned(), report_day(day)?),
                    usize::MAX,
                )
                .await?;
            for (at, body) in rows {
                if at < from.0 || at >= to.0 {
                    continue;
                }
                out.push(serde_json::from_str(&body).map_err(|e| corrupt("presence_log", e))?);
                if out.len() >= limit {
                    return Ok(out);
                }
            }
        }
        Ok(out)
    }

    async fn setting(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let rows: Vec<(Option<Vec<u8>>,)> = self.rows(&statements::SELECT_SETTING, (key,)).await?;
        // A row whose value reads as null was written with an empty value.
        Ok(rows.into_iter().next().map(|(v,)| v.unwrap_or_default()))
    }

    async fn setting_if_absent(&self, key: &str, value: Vec<u8>) -> Result<Vec<u8>, StoreError> {
        let res = self
            .exec(
                &statements::INSERT_SETTING_IF_NOT_EXISTS,
                (key, value.as_slice()),
            )
            .await?;
        let (applied, existing) = lwt_applied(res)?;
        if applied {
            return Ok(value);
        }
        match existing.get("value") {
            Some(CqlValue::Blob(v)) => Ok(v.clone()),
            // Written with an empty value.
            None => Ok(Vec::new()),
            Some(other) => Err(StoreError::Corrupt(format!(
                "settings: LWT returned value {other:?}"
            ))),
        }
    }

    async fn idempotency(
        &self,
        customer: CustomerId,
        key: &str,
        now: Millis,
    ) -> Result<Option<store::IdempotencyRecord>, StoreError> {
        type Row = (
            Option<Vec<u8>>,
            Option<Uuid>,
            Option<i64>,
            Option<i64>,
            Option<i64>,
        );
        let rows: Vec<Row> = self
            .rows(&statements::SELECT_IDEMPOTENCY, (customer.0, key))
            .await?;
        let Some((Some(event), Some(conv), Some(digest), Some(at), Some(expires))) =
            rows.into_iter().next()
        else {
            return Ok(None);
        };
        let r = store::IdempotencyRecord {
            customer_id: customer,
            key: key.to_owned(),
            event_id: EventId::from_bytes(id16("idempotency", &event)?),
            conversation_id: ConversationId(conv),
            digest: digest as u64,
            at: Millis(at),
            expires_at: Millis(expires),
        };
        Ok((r.expires_at > now).then_some(r))
    }

    async fn blob(
        &self,
        owner: CustomerId,
        id: &store::BlobId,
    ) -> Result<Option<store::BlobMeta>, StoreError> {
        let rows: Vec<(Option<String>,)> = self
            .rows(&statements::SELECT_BLOB, (owner.0, id.as_str()))
            .await?;
        match rows.into_iter().next() {
            Some((Some(meta),)) => serde_json::from_str(&meta)
                .map(Some)
                .map_err(|e| corrupt("blobs", e)),
            _ => Ok(None),
        }
    }

    async fn blob_chunk(
        &self,
        owner: CustomerId,
        id: &store::BlobId,
        seq: u32,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let seq = i32::try_from(seq).map_err(|e| corrupt("blob_chunks", e))?;
        let rows: Vec<(Option<Vec<u8>>,)> = self
            .rows(&statements::SELECT_BLOB_CHUNK, (owner.0, id.as_str(), seq))
            .await?;
        Ok(rows.into_iter().next().and_then(|(d,)| d))
    }

    async fn tombstone(
        &self,
        hash: &[u8; 32],
        now: Millis,
    ) -> Result<Option<store::Tombstone>, StoreError> {
        let rows: Vec<(Option<String>, Option<i64>)> = self
            .rows(&statements::SELECT_TOMBSTONE, (hash.to_vec(),))
            .await?;
        let Some((Some(channel), Some(expires))) = rows.into_iter().next() else {
            return Ok(None);
        };
        let channel =
            domain::Channel::parse(&channel).map_err(|e| corrupt("erasure_tombstones", e))?;
        let t = store::Tombstone {
            hash: *hash,
            channel,
            expires_at: Millis(expires),
        };
        Ok((t.expires_at > now).then_some(t))
    }

    async fn expire_idempotency(&self, _now: Millis, _limit: usize) -> Result<usize, StoreError> {
        // Rows are written with a TTL: the database removes them.
        Ok(0)
    }

    async fn event(
        &self,
        customer: CustomerId,
        id: EventId,
    ) -> Result<Option<TimelineEvent>, StoreError> {
        let rows: Vec<(Vec<u8>, String)> = self
            .rows(
                &statements::SELECT_TIMELINE_EVENT,
                (customer.0, bucket_of(id), id.as_bytes().to_vec()),
            )
            .await?;
        let Some((_, payload)) = rows.into_iter().next() else {
            return Ok(None);
        };
        let e: TimelineEvent =
            serde_json::from_str(&payload).map_err(|e| corrupt("timeline", e))?;
        if e.id != id || e.customer_id != customer {
            return Err(corrupt("timeline", "payload does not match its key"));
        }
        Ok(Some(e))
    }

    async fn record(&self, kind: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let rows: Vec<(Option<Vec<u8>>,)> =
            self.rows(&statements::SELECT_RECORD, (kind, key)).await?;
        Ok(rows.into_iter().next().map(|(v,)| v.unwrap_or_default()))
    }

    async fn records(
        &self,
        kind: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let limit = i32::try_from(limit).unwrap_or(i32::MAX);
        let rows: Vec<(String, Option<Vec<u8>>)> = match after {
            Some(a) => {
                self.rows(&statements::SELECT_RECORDS_AFTER, (kind, a, limit))
                    .await?
            }
            None => {
                self.rows(&statements::SELECT_RECORDS, (kind, limit))
                    .await?
            }
        };
        Ok(rows
            .into_iter()
            .map(|(k, v)| (k, v.unwrap_or_default()))
            .collect())
    }

    async fn records_through(
        &self,
        kind: &str,
        after: Option<&str>,
        until: &str,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let limit = i32::try_from(limit).unwrap_or(i32::MAX);
        // No key is below the empty one: `key > ''` is every key.
        let rows: Vec<(String, Option<Vec<u8>>)> = self
            .rows(
                &statements::SELECT_RECORDS_THROUGH,
                (kind, after.unwrap_or(""), until, limit),
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|(k, v)| (k, v.unwrap_or_default()))
            .collect())
    }

    async fn pending_outbox(&self, limit: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        let now_hour = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
            / 3_600_000;
        let parts: Vec<(i32, i64)> = (now_hour - OUTBOX_SCAN_HOURS..=now_hour)
            .flat_map(|h| (0..OUTBOX_SHARDS).map(move |s| (s, h)))
            .collect();
        let pages = try_join_all(parts.into_iter().map(|(shard, hour)| async move {
            let rows: Vec<(Vec<u8>, Option<String>, Option<String>)> =
                self.rows(&statements::SELECT_OUTBOX, (shard, hour)).await?;
            Ok::<_, StoreError>(rows)
        }))
        .await?;
        let mut out = Vec::new();
        for (_, payload, status) in pages.into_iter().flatten() {
            if status.as_deref() != Some("pending") {
                continue;
            }
            let Some(p) = payload else { continue };
            out.push(serde_json::from_str::<OutboxEntry>(&p).map_err(|e| corrupt("outbox", e))?);
        }
        out.sort_by_key(|o| o.event_id);
        out.truncate(limit);
        Ok(out)
    }

    async fn erase(&self, e: store::Erasure) -> Result<(), StoreError> {
        // Referents first, as in `commit`: the scrubbed records, then what pointed at
        // the data (identity links, timeline months), then the audit entry. Every step
        // is idempotent, so a failed erasure is retried whole.
        let owners: Vec<Option<(Uuid, i64)>> = e
            .conversations
            .iter()
            .map(|c| Some((c.customer_id.0, c.created_at.0)))
            .collect();
        let mut phase: Vec<Write<'_>> = Vec::new();
        for c in &e.customers {
            phase.push(self.customer_write(c));
        }
        for (c, prev) in e.conversations.iter().zip(owners) {
            phase.extend(self.conversation_writes(c, prev, true)?);
        }
        try_join_all(phase).await?;
        // Tombstones before the identity links go: a replay that no longer finds the
        // customer finds the tombstone. In chunks, so a long history does not put
        // thousands of requests in flight at once.
        for chunk in e.tombstones.chunks(TOMBSTONES_IN_FLIGHT) {
            try_join_all(chunk.iter().map(|t| {
                let values = (
                    t.hash.to_vec(),
                    t.channel.as_str(),
                    t.expires_at.0,
                    ttl_seconds(t.expires_at, e.audit.at),
                );
                self.write(&statements::INSERT_TOMBSTONE, values)
            }))
            .await?;
        }
        for k in &e.identities {
            self.exec(
                &statements::DELETE_IDENTITY_IF_EXISTS,
                (k.channel.as_str(), k.address.as_str()),
            )
            .await?;
        }
        for customer in &e.timelines {
            let buckets: Vec<(i32,)> = self
                .paged(
                    &statements::SELECT_TIMELINE_BUCKETS,
                    (customer.0, i32::MAX),
                    usize::MAX,
                )
                .await?;
            try_join_all(
                buckets.iter().map(|(b,)| {
                    self.write(&statements::DELETE_TIMELINE_PARTITION, (customer.0, *b))
                }),
            )
            .await?;
            self.write(&statements::DELETE_TIMELINE_BUCKETS, (customer.0,))
                .await?;
            self.write(&statements::DELETE_IDEMPOTENCY_OF, (customer.0,))
                .await?;
            self.delete_blobs_of(*customer).await?;
            self.known_buckets.retain(|(c, _)| *c != customer.0);
        }
        self.append_audit(e.audit).await
    }

    async fn append_audit(&self, entry: store::AuditEntry) -> Result<(), StoreError> {
        let payload = serde_json::to_string(&entry).map_err(|e| encode_err("audit", e))?;
        self.write(
            &statements::INSERT_AUDIT,
            (SCOPE, entry.id.as_bytes().to_vec(), payload),
        )
        .await
    }

    async fn audit_log(
        &self,
        before: Option<EventId>,
        limit: usize,
    ) -> Result<Vec<store::AuditEntry>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let cql_limit = i32::try_from(limit).unwrap_or(i32::MAX);
        let rows: Vec<(String,)> = match before {
            Some(b) => {
                self.paged(
                    &statements::SELECT_AUDIT_BEFORE,
                    (SCOPE, b.as_bytes().to_vec(), cql_limit),
                    limit,
                )
                .await?
            }
            None => {
                self.paged(&statements::SELECT_AUDIT, (SCOPE, cql_limit), limit)
                    .await?
            }
        };
        rows.into_iter()
            .map(|(p,)| serde_json::from_str(&p).map_err(|e| corrupt("audit_log", e)))
            .collect()
    }

    async fn health(&self) -> Result<(), StoreError> {
        let _: Vec<(Option<Vec<u8>>,)> = self
            .rows(&statements::SELECT_SETTING, (HEALTH_KEY,))
            .await?;
        Ok(())
    }
}

/// `bytes` as lowercase hex (a paging-state cursor).
fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The bytes of lowercase or uppercase hex `s`; `None` when it is not hex.
fn from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_utc_months_of_the_event_id() {
        let at = |ms: u64| {
            let mut b = [0u8; 16];
            b[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
            b[6] = 0x70;
            EventId::from_bytes(b)
        };
        assert_eq!(bucket_of(at(0)), 197_001);
        // 2024-02-29T23:59:59.999Z and the next millisecond.
        assert_eq!(bucket_of(at(1_709_251_199_999)), 202_402);
        assert_eq!(bucket_of(at(1_709_251_200_000)), 202_403);
        // 2025-12-31T23:59:59.999Z -> 2026-01.
        assert_eq!(bucket_of(at(1_767_225_599_999)), 202_512);
        assert_eq!(bucket_of(at(1_767_225_600_000)), 202_601);
        assert_eq!(bucket_of(EventId::MIN), 197_001);
        assert!(bucket_of(EventId::MAX) > bucket_of(EventId::new()));
        let now = bucket_of(EventId::new());
        assert!((202_001..300_001).contains(&now));
    }

    #[test]
    fn uri_and_consistency_parsing() {
        assert_eq!(
            ScyllaOptions::parse_uri("scylla://a,b:19042/ks").expect("uri"),
            (
                vec!["a:9042".to_owned(), "b:19042".to_owned()],
                Some("ks".to_owned())
            )
        );
        assert_eq!(
            ScyllaOptions::parse_uri("127.0.0.1").expect("uri").0,
            vec!["127.0.0.1:9042".to_owned()]
        );
        assert!(ScyllaOptions::parse_uri(" , ").is_err());
        assert_eq!(
            parse_consistency("LOCAL_QUORUM"),
            Ok(Consistency::LocalQuorum)
        );
        assert!(parse_consistency("most").is_err());
        assert_eq!(
            parse_serial_consistency("serial"),
            Ok(SerialConsistency::Serial)
        );
    }

    #[test]
    fn last_write_of_a_key_wins() {
        let v = last_wins(&[(1, "a"), (2, "b"), (1, "c")], |x| x.0);
        assert_eq!(v, vec![(1, "c"), (2, "b")]);
    }

    #[test]
    fn conversation_requirements_are_json_text_and_null_when_none() {
        let floor = |s: &str, p: u8| {
            (
                domain::Skill::parse(s).expect("skill"),
                domain::Proficiency::new(p).expect("proficiency"),
            )
        };
        let mut c = Conversation {
            id: ConversationId::new(),
            customer_id: CustomerId::new(),
            channel: Channel::Chat,
            queue: QueueName::parse("support").expect("queue"),
            state: ConversationState::Queued,
            priority: 0,
            created_at: Millis(1),
            enqueued_at: Millis(2),
            enqueue_seq: 3,
            agent: None,
            preferred_agent: None,
            required_agent: None,
            disposition: None,
            requirements: SkillFloors::from([floor("billing", 4), floor("lang-ja", 1)]),
            updated_at: Millis(4),
        };
        // What a read of the written values gives back.
        let row = |c: &Conversation| -> ConversationRow {
            let v = conversation_values(c).expect("values");
            let owned = |s: Option<&str>| s.map(str::to_owned);
            (
                v.0,
                v.1,
                v.2.to_owned(),
                v.3.to_owned(),
                v.4.to_owned(),
                v.5,
                v.6,
                v.7,
                v.8,
                owned(v.9),
                owned(v.10),
                owned(v.11),
                owned(v.12),
                v.13,
                v.14,
            )
        };
        let written = row(&c);
        assert_eq!(written.14.as_deref(), Some(r#"{"billing":4,"lang-ja":1}"#));
        let read = |r: ConversationRow| conversation_from_row("conversations", r).expect("read");
        assert_eq!(read(written), c);
        c.requirements.clear();
        let none = row(&c);
        assert_eq!(none.14, None);
        assert_eq!(read(none.clone()), c);
        // A row written before the column, or with an empty value, has none.
        let mut empty = none.clone();
        empty.14 = Some(String::new());
        assert_eq!(read(empty), c);
        // Malformed or out-of-range values are a corrupt row naming table and column.
        for bad in ["{", "[1]", r#"{"billing":9}"#, r#"{"Not A Skill":1}"#] {
            let mut r = none.clone();
            r.14 = Some(bad.to_owned());
            match conversation_from_row("open_conversations", r) {
                Err(StoreError::Corrupt(m)) => {
                    assert!(m.starts_with("open_conversations.requirements: "), "{m}")
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn open_shards_cover_the_range() {
        for _ in 0..100 {
            let s = open_shard(ConversationId::new());
            assert!((0..i32::from(OPEN_SHARDS)).contains(&s));
        }
    }
}
