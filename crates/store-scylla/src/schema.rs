//! The CQL schema shipped in the binary (`schema/*.cql`, embedded with `include_str!`),
//! its templating, and migration: apply the files in order, once each, recorded in
//! `schema_version`; and `--check-schema`, which only compares.
//!
//! # Placeholders
//!
//! Schema files and the store's statements are templates: `{{keyspace}}`,
//! `{{datacenter}}` and `{{replication_factor}}` are replaced by [`render`] with values
//! from the configuration, validated first (a keyspace is a CQL identifier, a datacenter
//! name may not contain quotes), so rendering cannot inject CQL. Any other `{{...}}` is
//! an error.
//!
//! # Migration protocol
//!
//! 1. Apply `0001_keyspace.cql` (keyspace and `schema_version`, all `IF NOT EXISTS`).
//! 2. Take the migration lock: row version 0 of `schema_version`, inserted with a
//!    lightweight transaction (`IF NOT EXISTS USING TTL`), so two engine nodes starting
//!    together do not run DDL at the same time. The TTL frees the lock of a node that
//!    died holding it.
//! 3. For each file not yet recorded, in order: send its statements one by one, wait for
//!    schema agreement, then record `(version, name, sha256 of the file)`. A recorded
//!    file whose checksum differs from the binary's is an error: shipped files are never
//!    edited, new changes go in a new file.
//! 4. Release the lock (an LWT delete that only the holder's id matches).
//!
//! A release that fails (a node refusing the delete while the cluster's schema
//! settles) is remembered by the process ([`left_locks`]), and its next attempt on the
//! keyspace releases that lock first, instead of waiting out the TTL behind its own
//! earlier attempt.

use crate::cql::{self, CqlError, Schema};
use crate::server::Server;
use crate::statements::{self, Stmt};
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use scylla::value::CqlTimestamp;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use store::StoreError;

/// One versioned schema file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaFile {
    pub version: i32,
    pub name: &'static str,
    pub text: &'static str,
}

/// Every schema file, in the order they are applied.
pub const FILES: &[SchemaFile] = &[
    SchemaFile {
        version: 1,
        name: "0001_keyspace.cql",
        text: include_str!("../../../schema/0001_keyspace.cql"),
    },
    SchemaFile {
        version: 2,
        name: "0002_core.cql",
        text: include_str!("../../../schema/0002_core.cql"),
    },
    SchemaFile {
        version: 3,
        name: "0003_reporting_and_outbound.cql",
        text: include_str!("../../../schema/0003_reporting_and_outbound.cql"),
    },
    SchemaFile {
        version: 4,
        name: "0004_privacy.cql",
        text: include_str!("../../../schema/0004_privacy.cql"),
    },
    SchemaFile {
        version: 5,
        name: "0005_report_events.cql",
        text: include_str!("../../../schema/0005_report_events.cql"),
    },
    SchemaFile {
        version: 6,
        name: "0006_records.cql",
        text: include_str!("../../../schema/0006_records.cql"),
    },
    SchemaFile {
        version: 7,
        name: "0007_settings_speculative_retry.cql",
        text: include_str!("../../../schema/0007_settings_speculative_retry.cql"),
    },
    SchemaFile {
        version: 8,
        name: "0008_idempotency.cql",
        text: include_str!("../../../schema/0008_idempotency.cql"),
    },
    SchemaFile {
        version: 9,
        name: "0009_leases.cql",
        text: include_str!("../../../schema/0009_leases.cql"),
    },
    SchemaFile {
        version: 10,
        name: "0010_cluster_leases.cql",
        text: include_str!("../../../schema/0010_cluster_leases.cql"),
    },
    SchemaFile {
        version: 11,
        name: "0011_erasure_tombstones.cql",
        text: include_str!("../../../schema/0011_erasure_tombstones.cql"),
    },
    SchemaFile {
        version: 12,
        name: "0012_row_fences.cql",
        text: include_str!("../../../schema/0012_row_fences.cql"),
    },
    SchemaFile {
        version: 13,
        name: "0013_conversation_requirements.cql",
        text: include_str!("../../../schema/0013_conversation_requirements.cql"),
    },
    SchemaFile {
        version: 14,
        name: "0014_presence_log.cql",
        text: include_str!("../../../schema/0014_presence_log.cql"),
    },
    SchemaFile {
        version: 15,
        name: "0015_blobs.cql",
        text: include_str!("../../../schema/0015_blobs.cql"),
    },
];

/// The partition of `schema_version` this engine's records live in.
pub const SCOPE: &str = "switchboard";
/// Client timeout of one schema statement: a schema change waits for every node to
/// apply it and is much slower than a data request (seconds on a loaded node), so it
/// does not use `request_timeout_ms`.
const DDL_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a migration lock lives if its holder dies, seconds.
const LOCK_TTL_S: i32 = 120;

/// Values for the placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub keyspace: String,
    pub datacenter: String,
    pub replication_factor: u32,
}

impl Template {
    /// Checks the values so that rendering cannot produce anything but the intended CQL.
    pub fn validate(&self) -> Result<(), String> {
        let ks = &self.keyspace;
        let ident_ok = !ks.is_empty()
            && ks.len() <= 48
            && ks.starts_with(|c: char| c.is_ascii_lowercase())
            && ks
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !ident_ok {
            return Err(format!(
                "keyspace {ks:?} must be 1 to 48 characters: a lowercase letter, then \
                 lowercase letters, digits or '_'"
            ));
        }
        let dc = &self.datacenter;
        if dc.is_empty()
            || dc.len() > 128
            || !dc
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            return Err(format!(
                "datacenter {dc:?} must be 1 to 128 letters, digits, '-', '_' or '.'"
            ));
        }
        if !(1..=15).contains(&self.replication_factor) {
            return Err(format!(
                "replication factor {} must be between 1 and 15",
                self.replication_factor
            ));
        }
        Ok(())
    }
}

/// Replaces every `{{name}}` in `text`. Unknown or unterminated placeholders are errors.
pub fn render(text: &str, t: &Template) -> Result<String, String> {
    t.validate()?;
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(j) = after.find("}}") else {
            return Err("unterminated {{ placeholder".into());
        };
        match after[..j].trim() {
            "keyspace" => out.push_str(&t.keyspace),
            "datacenter" => out.push_str(&t.datacenter),
            "replication_factor" => out.push_str(&t.replication_factor.to_string()),
            other => return Err(format!("unknown placeholder {{{{{other}}}}}")),
        }
        rest = &after[j + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// sha256 of a file's text (before rendering, so independent of the configuration).
pub fn checksum(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The rendered statements of one file.
pub fn file_statements(f: &SchemaFile, t: &Template) -> Result<Vec<String>, String> {
    let text = render(f.text, t).map_err(|e| format!("{}: {e}", f.name))?;
    cql::split_statements(&text).map_err(|e| format!("{}: {e}", f.name))
}

/// The schema every file creates, parsed (what the cross-check resolves against).
pub fn parsed(t: &Template) -> Result<Schema, CqlError> {
    let mut schema = Schema::default();
    for f in FILES {
        for stmt in file_statements(f, t).map_err(CqlError)? {
            let parsed = cql::parse(&stmt).map_err(|e| CqlError(format!("{}: {e}", f.name)))?;
            schema
                .apply(parsed)
                .map_err(|e| CqlError(format!("{}: {e}", f.name)))?;
        }
    }
    Ok(schema)
}

/// Where the database's schema stands against this binary's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaStatus {
    /// Versions recorded in the database.
    pub applied: Vec<i32>,
    /// Files of this binary not yet applied.
    pub pending: Vec<&'static str>,
    /// Recorded versions this binary does not know (a newer engine migrated).
    pub unknown: Vec<i32>,
}

impl SchemaStatus {
    pub fn is_current(&self) -> bool {
        self.pending.is_empty()
    }
}

fn backend(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("{what}: {e}"))
}

/// Connection-level failures are `Unavailable`; see `crate::execution_error`.
fn exec(what: &str, e: scylla::errors::ExecutionError) -> StoreError {
    crate::execution_error(what, e)
}

async fn prepare(
    session: &Session,
    s: &Stmt,
    t: &Template,
) -> Result<PreparedStatement, StoreError> {
    let cql = render(s.cql, t).map_err(|e| backend(s.name, e))?;
    crate::prepare_one(session, s, &cql, None).await
}

/// Recorded `(version, name, checksum)` rows.
async fn recorded(
    session: &Session,
    t: &Template,
) -> Result<BTreeMap<i32, (String, Option<String>)>, StoreError> {
    let ps = prepare(session, &statements::SELECT_SCHEMA_VERSIONS, t).await?;
    let rows = session
        .execute_unpaged(&ps, (SCOPE,))
        .await
        .map_err(|e| exec("read schema_version", e))?
        .into_rows_result()
        .map_err(|e| backend("read schema_version", e))?;
    let mut out = BTreeMap::new();
    for row in rows
        .rows::<(i32, Option<String>, Option<String>)>()
        .map_err(|e| StoreError::Corrupt(format!("schema_version: {e}")))?
    {
        let (version, name, sum) =
            row.map_err(|e| StoreError::Corrupt(format!("schema_version: {e}")))?;
        if version > 0 {
            out.insert(version, (name.unwrap_or_default(), sum));
        }
    }
    Ok(out)
}

/// Compares the database with this binary's files; checksum mismatches are errors.
pub async fn status(session: &Session, t: &Template) -> Result<SchemaStatus, StoreError> {
    let rec = recorded(session, t).await?;
    let mut status = SchemaStatus {
        applied: rec.keys().copied().collect(),
        pending: Vec::new(),
        unknown: Vec::new(),
    };
    for f in FILES {
        match rec.get(&f.version) {
            None => status.pending.push(f.name),
            Some((_, Some(sum))) if *sum == checksum(f.text) => {}
            Some((name, sum)) => {
                return Err(StoreError::Backend(format!(
                    "schema file {} was changed after it was applied as {name:?} \
                     (recorded checksum {sum:?}); never edit an applied file, add a new one",
                    f.name
                )))
            }
        }
    }
    status.unknown = rec
        .keys()
        .copied()
        .filter(|v| !FILES.iter().any(|f| f.version == *v))
        .collect();
    Ok(status)
}

/// Runs one file's statements; `keyspace_options` (see [`Server::keyspace_options`]) is
/// appended to its `CREATE KEYSPACE`.
async fn run_ddl(
    session: &Session,
    file: &SchemaFile,
    t: &Template,
    keyspace_options: &str,
) -> Result<(), StoreError> {
    for mut stmt in file_statements(file, t).map_err(|e| backend("schema", e))? {
        if stmt
            .trim_start()
            .to_ascii_uppercase()
            .starts_with("CREATE KEYSPACE")
        {
            stmt.push_str(keyspace_options);
        }
        let adds = matches!(cql::parse(&stmt), Ok(cql::Statement::AlterTableAdd { .. }));
        let mut ddl = scylla::statement::Statement::new(stmt);
        ddl.set_request_timeout(Some(DDL_TIMEOUT));
        match session.query_unpaged(ddl, ()).await {
            Ok(_) => {}
            // A file rerun after a crash before its record: the column is there.
            Err(e) if adds && column_exists(&e.to_string()) => {
                tracing::info!(file = file.name, "column added by an earlier run");
            }
            Err(e) => return Err(exec(file.name, e)),
        }
    }
    session
        .await_schema_agreement()
        .await
        .map_err(|e| StoreError::Unavailable(format!("{}: no schema agreement: {e}", file.name)))?;
    Ok(())
}

/// Whether a refused `ALTER TABLE ... ADD` says the column exists (Cassandra: "Column
/// with name 'c' already exists"; ScyllaDB: "... conflicts with an existing column").
pub(crate) fn column_exists(error: &str) -> bool {
    error.contains("already exists") || error.contains("conflicts with an existing column")
}

/// Migration locks this process took and could not release, by keyspace: the holder
/// id to release at its next attempt.
fn left_locks() -> &'static std::sync::Mutex<std::collections::HashMap<String, String>> {
    static LEFT: std::sync::OnceLock<std::sync::Mutex<std::collections::HashMap<String, String>>> =
        std::sync::OnceLock::new();
    LEFT.get_or_init(Default::default)
}

/// Records that this process holds `keyspace`'s migration lock as `holder` and could
/// not release it: its next [`migrate`] of the keyspace releases it first. (What a
/// failed release does; public for the test that stands in for one.)
pub fn note_left_lock(keyspace: &str, holder: &str) {
    left_locks()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(keyspace.to_owned(), holder.to_owned());
}

/// Applies every pending schema file; returns the names applied now.
pub async fn migrate(
    session: &Session,
    t: &Template,
    lock_wait: Duration,
) -> Result<Vec<&'static str>, StoreError> {
    let first = FILES
        .first()
        .ok_or_else(|| StoreError::Backend("no schema files".into()))?;
    let server = Server::detect(session).await?;
    tracing::info!(
        server = server.name(),
        version = server.version(),
        "cql server"
    );
    let options = server.keyspace_options();
    run_ddl(session, first, t, options).await?;

    let holder = format!("{}-{}", hostname(), uuid::Uuid::new_v4().simple());
    let take = prepare(session, &statements::TAKE_SCHEMA_LOCK, t).await?;
    let release = prepare(session, &statements::RELEASE_SCHEMA_LOCK, t).await?;
    let left = left_locks()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&t.keyspace);
    if let Some(left) = left {
        // An earlier attempt of this process could not let go: let go now.
        match session
            .execute_unpaged(&release, (SCOPE, left.as_str()))
            .await
        {
            Ok(_) => tracing::info!("released the schema migration lock an earlier attempt left"),
            Err(e) => {
                tracing::warn!(error = %e, "could not release the schema migration lock an earlier attempt left");
                left_locks()
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(t.keyspace.clone(), left);
            }
        }
    }
    let deadline = Instant::now() + lock_wait;
    loop {
        let now = CqlTimestamp(domain::Clock::now(&domain::SystemClock).0);
        let res = session
            .execute_unpaged(&take, (SCOPE, now, holder.as_str(), LOCK_TTL_S))
            .await
            .map_err(|e| exec("take schema lock", e))?;
        if crate::lwt_applied(res)?.0 {
            break;
        }
        if Instant::now() >= deadline {
            return Err(StoreError::Unavailable(format!(
                "another node holds the schema migration lock; gave up after {} s \
                 (it expires {LOCK_TTL_S} s after it was taken)",
                lock_wait.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let outcome = apply_pending(session, t, &holder, options).await;
    // Releasing is best effort: the TTL frees the lock anyway.
    if let Err(e) = session
        .execute_unpaged(&release, (SCOPE, holder.as_str()))
        .await
    {
        tracing::warn!(error = %e, "could not release the schema migration lock");
        note_left_lock(&t.keyspace, &holder);
    }
    outcome
}

async fn apply_pending(
    session: &Session,
    t: &Template,
    holder: &str,
    keyspace_options: &str,
) -> Result<Vec<&'static str>, StoreError> {
    let st = status(session, t).await?;
    let record = prepare(session, &statements::INSERT_SCHEMA_VERSION, t).await?;
    let mut applied = Vec::new();
    for f in FILES.iter().filter(|f| st.pending.contains(&f.name)) {
        tracing::info!(file = f.name, "applying schema file");
        run_ddl(session, f, t, keyspace_options).await?;
        let now = CqlTimestamp(domain::Clock::now(&domain::SystemClock).0);
        session
            .execute_unpaged(
                &record,
                (SCOPE, f.version, f.name, checksum(f.text), now, holder),
            )
            .await
            .map_err(|e| exec("record schema version", e))?;
        applied.push(f.name);
    }
    Ok(applied)
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "engine".into())
}

#[cfg(test)]
mod tests {
    //! The schema cross-check: every file parses, and every statement the store prepares
    //! resolves against the tables the files create.

    use super::*;
    use crate::cql::Statement;

    fn template() -> Template {
        Template {
            keyspace: "switchboard_test".into(),
            datacenter: "dc1".into(),
            replication_factor: 3,
        }
    }

    #[test]
    fn files_are_numbered_in_order_and_checksummed() {
        for (i, f) in FILES.iter().enumerate() {
            assert_eq!(f.version as usize, i + 1, "{}", f.name);
            assert!(
                f.name.starts_with(&format!("{:04}_", f.version)),
                "{}",
                f.name
            );
            assert_eq!(checksum(f.text).len(), 64);
        }
        let on_disk: Vec<_> =
            std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../schema"))
                .expect("schema dir")
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".cql"))
                .collect();
        for name in on_disk {
            assert!(
                FILES.iter().any(|f| f.name == name),
                "schema/{name} is not embedded in FILES"
            );
        }
    }

    #[test]
    fn every_schema_file_parses() {
        let t = template();
        let mut tables = 0;
        for f in FILES {
            let stmts = file_statements(f, &t).expect("render and split");
            assert!(!stmts.is_empty(), "{} is empty", f.name);
            for s in stmts {
                let parsed = cql::parse(&s).unwrap_or_else(|e| panic!("{}: {e}\n{s}", f.name));
                if let Statement::CreateTable(_) = parsed {
                    tables += 1;
                }
                // Setting a table option again is a no-op, and the migrator takes an
                // added column found there as done (`column_exists`); a CREATE must
                // say so.
                assert!(
                    s.contains("IF NOT EXISTS")
                        || matches!(
                            parsed,
                            Statement::AlterTableOptions { .. } | Statement::AlterTableAdd { .. }
                        ),
                    "{}: not idempotent: {s}",
                    f.name
                );
            }
        }
        assert!(tables >= 18, "only {tables} tables");
        let schema = parsed(&t).expect("schema");
        // 0007 applies to the table 0002 created.
        let settings = schema
            .tables
            .values()
            .find(|t| t.name.name == "settings")
            .expect("settings table");
        assert_eq!(
            settings
                .options
                .get("speculative_retry")
                .map(String::as_str),
            Some("50ms")
        );
        let ks = &schema.keyspaces["switchboard_test"];
        assert_eq!(ks.get("dc1").map(String::as_str), Some("3"));
        // The bounded, newest-first timeline.
        let timeline = schema
            .tables
            .values()
            .find(|t| t.name.name == "timeline")
            .expect("timeline table");
        assert_eq!(timeline.partition_key, vec!["customer_id", "bucket"]);
        assert_eq!(
            timeline.clustering,
            vec![("event_id".to_owned(), cql::Order::Desc)]
        );
        // TTL where data expires.
        for name in [
            "visitor_tokens",
            "agent_presence",
            "outbox",
            "routing_events",
            "report_events",
            "report_days",
            "presence_log",
        ] {
            let t = schema
                .tables
                .values()
                .find(|t| t.name.name == name)
                .expect(name);
            assert!(t.default_ttl().is_some(), "{name} has no TTL");
        }
    }

    #[test]
    fn every_prepared_statement_resolves_against_the_schema() {
        let t = template();
        let schema = parsed(&t).expect("schema");
        let mut used = std::collections::BTreeSet::new();
        for s in statements::ALL {
            let cql = render(s.cql, &t).expect("render");
            let stmt = cql::parse(&cql).unwrap_or_else(|e| panic!("{}: {e}\n{cql}", s.name));
            let checked = schema
                .check(&stmt)
                .unwrap_or_else(|e| panic!("{}: {e}\n{cql}", s.name));
            assert_eq!(
                checked.single_partition,
                s.kind != statements::Kind::Scan,
                "{} reads or writes more than one partition, and only a scan may",
                s.name
            );
            assert_eq!(
                checked.conditional,
                s.kind == statements::Kind::Lwt,
                "{}: LWT kind does not match its IF clause",
                s.name
            );
            assert_eq!(checked.table.keyspace.as_deref(), Some("switchboard_test"));
            used.insert(checked.table.name);
        }
        let in_use: std::collections::BTreeSet<_> = statements::TABLES_IN_USE
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(used, in_use, "TABLES_IN_USE is out of date");
        let names: std::collections::BTreeSet<_> = statements::ALL.iter().map(|s| s.name).collect();
        assert_eq!(
            names.len(),
            statements::ALL.len(),
            "duplicate statement names"
        );
    }

    #[test]
    fn the_cross_check_rejects_wrong_statements() {
        let t = template();
        let schema = parsed(&t).expect("schema");
        for wrong in [
            // A column that does not exist.
            "SELECT payload, sender FROM {{keyspace}}.timeline WHERE customer_id = ? AND bucket = ?",
            // The partition key is (customer_id, bucket): bucket missing.
            "SELECT payload FROM {{keyspace}}.timeline WHERE customer_id = ?",
            // A table that does not exist.
            "INSERT INTO {{keyspace}}.messages (id) VALUES (?)",
            // Insert without the clustering key.
            "INSERT INTO {{keyspace}}.timeline (customer_id, bucket, payload) VALUES (?, ?, ?)",
            // Counters are incremented, never set.
            "UPDATE {{keyspace}}.queue_daily_counters SET offered = ? WHERE queue = ? AND day = ? AND channel = ?",
            // Wrong keyspace.
            "SELECT value FROM other.settings WHERE key = ?",
        ] {
            let cql = render(wrong, &t).expect("render");
            let res = cql::parse(&cql).and_then(|s| schema.check(&s));
            assert!(res.is_err(), "accepted: {cql}");
        }
    }

    #[test]
    fn render_validates_and_replaces() {
        let t = template();
        assert_eq!(
            render("{{keyspace}}.x {{ datacenter }} {{replication_factor}}", &t).expect("render"),
            "switchboard_test.x dc1 3"
        );
        assert!(render("{{nope}}", &t).is_err());
        assert!(render("{{keyspace", &t).is_err());
        for bad in [
            Template {
                keyspace: "x; DROP".into(),
                ..template()
            },
            Template {
                datacenter: "dc1'}".into(),
                ..template()
            },
            Template {
                replication_factor: 0,
                ..template()
            },
        ] {
            assert!(render("{{keyspace}}", &bad).is_err());
        }
    }
}
