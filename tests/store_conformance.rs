//! Integration tests of the stores: the backend-independent conformance suite against
//! the embedded store and against the real CQL database named by `SCYLLA_URI` (the
//! Apache Cassandra that `./scripts/test.sh` starts, or a ScyllaDB; without it the CQL
//! tests fail, they never skip); CQL schema migration under a race, a keyspace a newer
//! engine migrated refused at connect, and `--check-schema`
//! drift; plus what only an on-disk, in-process store must do (reopen, crash safety
//! under `kill -9`, single-winner identity creation under contention).
//!
//! This file owns no store logic and must not reach into `EmbeddedStore` internals: it
//! uses only the public API (`EmbeddedStore::open` and the `Store` trait). Each test
//! works in its own temporary directory.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use switchboard::domain::{
    Channel, Conversation, ConversationId, ConversationState, Customer, CustomerId, EventKind,
    IdentityKey, Millis, QueueName, TimelineEvent,
};
use switchboard::store::embedded::{EmbeddedOptions, EmbeddedStore};
use switchboard::store::scylla::ScyllaStore;
use switchboard::store::{conformance, Batch, SharedStore, Store};

#[path = "support/cql.rs"]
mod cql;
use cql::{cql_options, fresh_keyspace};

/// Set (to a directory) in the child process of [`crash_safety_under_sigkill`].
const CRASH_CHILD_ENV: &str = "SB_CRASH_CHILD";
/// Lines of the child's stdout that report a committed sequence number.
const COMMITTED: &str = "COMMITTED ";

fn open(dir: &Path) -> EmbeddedStore {
    EmbeddedStore::open(dir, EmbeddedOptions::default()).expect("open embedded store")
}

fn seq_key(seq: u64) -> String {
    format!("crash.seq.{seq:012}")
}

fn customer(id: CustomerId, key: &IdentityKey) -> Customer {
    Customer {
        id,
        display_name: Some("Reopen".into()),
        identities: vec![key.clone()],
        priority: 1,
        attributes: Default::default(),
        last_agent: None,
        opted_out: Default::default(),
        merged_into: None,
        merged: Vec::new(),
        created_at: Millis(10),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_passes_conformance() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: SharedStore = Arc::new(open(dir.path()));
    conformance::run_all(Arc::clone(&store), EmbeddedStore::CAPABILITIES).await;
    // And again on the same, now non-empty, database.
    conformance::run_all(store, EmbeddedStore::CAPABILITIES).await;
}

/// The embedded store's coordination (in memory: one process owns the file) keeps the
/// same rules.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_coordination_passes_conformance() {
    use switchboard::store::coordination::LocalCoordination;
    let c = Arc::new(LocalCoordination::default());
    conformance::coordination(c.clone()).await;
    conformance::coordination_many(c).await;
}

/// Cluster leases on the CQL store: lightweight transactions decide one holder and one
/// epoch (acquire, renew, lapse, steal, fencing, release, a race of eight; a dead
/// member's keys taken together, and two nodes racing for them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cql_coordination_passes_conformance() {
    let opts = cql_options(&fresh_keyspace("coordination"));
    let store = ScyllaStore::connect(&opts)
        .await
        .unwrap_or_else(|e| panic!("connect to {:?}: {e}", opts.contact_points));
    let store = Arc::new(store);
    conformance::coordination(store.clone()).await;
    conformance::coordination_many(store.clone()).await;
    // Again on the same keyspace (fresh keys).
    conformance::coordination(store.clone()).await;
    conformance::coordination_many(store).await;
}

/// The same suite against the real CQL database named by `SCYLLA_URI` (Apache
/// Cassandra started by the test command, or a ScyllaDB cluster).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cql_passes_conformance() {
    let opts = cql_options(&fresh_keyspace("conformance"));
    let store: SharedStore = Arc::new(
        ScyllaStore::connect(&opts)
            .await
            .unwrap_or_else(|e| panic!("connect to {:?}: {e}", opts.contact_points)),
    );
    conformance::run_all(Arc::clone(&store), ScyllaStore::CAPABILITIES).await;
    // And again on the same, now non-empty, keyspace.
    conformance::run_all(store, ScyllaStore::CAPABILITIES).await;
}

/// Two engines starting at once on an empty keyspace: the migration lock lets exactly
/// one apply each schema file, the other waits and applies nothing twice; a third start
/// applies nothing at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cql_concurrent_migrations_apply_each_file_once() {
    use switchboard::store::scylla::schema;
    let opts = cql_options(&fresh_keyspace("migrate_race"));
    let t = opts.template();
    let (a, b) = tokio::join!(ScyllaStore::session(&opts), ScyllaStore::session(&opts));
    let (a, b) = (a.expect("session a"), b.expect("session b"));
    let wait = std::time::Duration::from_secs(60);
    let (ra, rb) = tokio::join!(schema::migrate(&a, &t, wait), schema::migrate(&b, &t, wait));
    let (ra, rb) = (ra.expect("migrate a"), rb.expect("migrate b"));
    let mut all: Vec<&str> = ra.iter().chain(rb.iter()).copied().collect();
    all.sort_unstable();
    let expected: Vec<&str> = schema::FILES.iter().map(|f| f.name).collect();
    assert_eq!(
        all, expected,
        "each file applied exactly once between the two (a: {ra:?}, b: {rb:?})"
    );
    let st = schema::status(&a, &t).await.expect("status");
    assert!(st.is_current(), "{st:?}");
    assert_eq!(st.applied.len(), schema::FILES.len());
    let again = schema::migrate(&b, &t, wait).await.expect("third start");
    assert!(again.is_empty(), "a later start applies nothing: {again:?}");
}

/// An attempt that could not release the migration lock (a node refusing the delete
/// while the schema settles) does not make the same process's next attempt wait out the
/// lock's 120 s TTL: the next attempt releases it first and migrates within a 5 s wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cql_a_lock_this_process_could_not_release_does_not_block_its_retry() {
    use switchboard::store::scylla::schema;
    let opts = cql_options(&fresh_keyspace("migrate_left"));
    let t = opts.template();
    let session = ScyllaStore::session(&opts).await.expect("session");
    let wait = std::time::Duration::from_secs(60);
    schema::migrate(&session, &t, wait)
        .await
        .expect("first start");
    // The lock as an attempt of ours left it: taken, never released.
    let take = format!(
        "INSERT INTO {}.schema_version (scope, version, name, applied_at, applied_by) \
         VALUES ('switchboard', 0, 'lock', toTimestamp(now()), 'left-behind') \
         IF NOT EXISTS USING TTL 120",
        opts.keyspace
    );
    session.query_unpaged(take, ()).await.expect("take");
    let short = std::time::Duration::from_secs(5);
    let held = schema::migrate(&session, &t, short).await;
    assert!(held.is_err(), "someone else's lock is waited for: {held:?}");
    schema::note_left_lock(&opts.keyspace, "left-behind");
    let again = schema::migrate(&session, &t, short)
        .await
        .expect("our own left lock is released, not waited out");
    assert!(again.is_empty(), "{again:?}");
}

/// A migration that died after running a file's statements but before recording it
/// runs the file again at the next start: `ALTER TABLE ... ADD` of a column that is
/// there already is taken as done, not as a failed start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cql_migration_reruns_a_file_it_did_not_record() {
    use switchboard::store::scylla::schema;
    let opts = cql_options(&fresh_keyspace("migrate_rerun"));
    let t = opts.template();
    let session = ScyllaStore::session(&opts).await.expect("session");
    let wait = std::time::Duration::from_secs(60);
    schema::migrate(&session, &t, wait).await.expect("migrate");
    let adds = schema::FILES
        .iter()
        .rfind(|f| f.text.contains(" ADD "))
        .expect("a file that adds columns");
    let forget = format!(
        "DELETE FROM {}.schema_version WHERE scope = 'switchboard' AND version = {}",
        opts.keyspace, adds.version
    );
    session.query_unpaged(forget, ()).await.expect("forget");
    let again = schema::migrate(&session, &t, wait)
        .await
        .expect("run again");
    assert_eq!(again, vec![adds.name], "only the unrecorded file ran again");
    let st = schema::status(&session, &t).await.expect("status");
    assert!(st.is_current(), "{st:?}");
}

/// `switchboard --check-schema` against the real database: up to date (exit 0), a
/// missing file (exit 1, named), a version this binary does not know (reported), an
/// edited applied file (an error), a keyspace never migrated (an error).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cql_check_schema_reports_drift() {
    use switchboard::store::scylla::schema;
    let opts = cql_options(&fresh_keyspace("check_schema"));
    let ks = opts.keyspace.clone();
    let check = |keyspace: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["--store", "scylla", "--check-schema", "--scylla-keyspace"])
            .arg(keyspace)
            .arg("--scylla-contact-points")
            .arg(opts.contact_points.join(","))
            .env("RUST_LOG", "error")
            .output()
            .expect("run --check-schema");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    };
    // Never migrated: an error that says so, not "up to date".
    let (code, text) = check(&ks);
    assert_ne!(code, Some(0), "{text}");
    assert!(text.contains("schema_version"), "{text}");

    drop(ScyllaStore::connect(&opts).await.expect("migrate"));
    let (code, text) = check(&ks);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("is up to date"), "{text}");

    let session = ScyllaStore::session(&opts).await.expect("session");
    let last = schema::FILES.last().expect("files");
    let cql = |q: String| {
        let session = &session;
        async move { session.query_unpaged(q, ()).await.expect("cql") }
    };
    cql(format!(
        "DELETE FROM {ks}.schema_version WHERE scope = 'switchboard' AND version = {}",
        last.version
    ))
    .await;
    let (code, text) = check(&ks);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("NOT up to date") && text.contains(last.name),
        "{text}"
    );

    cql(format!(
        "INSERT INTO {ks}.schema_version (scope, version, name, checksum) \
         VALUES ('switchboard', 9999, '9999_future.cql', 'x')"
    ))
    .await;
    let (_, text) = check(&ks);
    assert!(
        text.contains("[9999]") && text.contains("does not know"),
        "{text}"
    );

    let first_table = &schema::FILES[1];
    cql(format!(
        "UPDATE {ks}.schema_version SET checksum = 'edited' \
         WHERE scope = 'switchboard' AND version = {}",
        first_table.version
    ))
    .await;
    let (code, text) = check(&ks);
    assert_ne!(code, Some(0), "{text}");
    assert!(
        text.contains("was changed after it was applied") && text.contains(first_table.name),
        "{text}"
    );
}

/// A keyspace a newer engine migrated (a schema version this binary does not know) is
/// refused at connect — with migrations on and off — naming the versions, instead of
/// being read and written by a binary that does not know its tables.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cql_refuses_a_keyspace_a_newer_engine_migrated() {
    let mut opts = cql_options(&fresh_keyspace("newer_schema"));
    let ks = opts.keyspace.clone();
    drop(ScyllaStore::connect(&opts).await.expect("migrate"));
    let session = ScyllaStore::session(&opts).await.expect("session");
    session
        .query_unpaged(
            format!(
                "INSERT INTO {ks}.schema_version (scope, version, name, checksum) \
                 VALUES ('switchboard', 9999, '9999_future.cql', 'x')"
            ),
            (),
        )
        .await
        .expect("cql");
    for migrate in [true, false] {
        opts.migrate = migrate;
        let Err(e) = ScyllaStore::connect(&opts).await else {
            panic!("connected to a keyspace with a newer schema (migrate = {migrate})");
        };
        let text = e.to_string();
        assert!(
            text.contains("[9999]") && text.contains("does not know"),
            "{text}"
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn embedded_passes_conformance_on_current_thread_runtime() {
    let dir = tempfile::tempdir().expect("tempdir");
    conformance::run_all(Arc::new(open(dir.path())), EmbeddedStore::CAPABILITIES).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_survives_drop_and_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = IdentityKey::parse(Channel::Email, "Reopen@Example.com").expect("identity");
    let id = CustomerId::new();
    let conv = Conversation {
        id: ConversationId::new(),
        customer_id: id,
        channel: Channel::Email,
        queue: QueueName::parse("support").expect("queue"),
        state: ConversationState::Queued,
        priority: 0,
        created_at: Millis(20),
        enqueued_at: Millis(21),
        enqueue_seq: 7,
        agent: None,
        preferred_agent: None,
        required_agent: None,
        disposition: None,
        requirements: Default::default(),
        updated_at: Millis(22),
    };
    let event = TimelineEvent::new(
        id,
        Some(conv.id),
        Millis(23),
        EventKind::ConversationOpened {
            channel: Channel::Email,
            queue: conv.queue.clone(),
            ivr_path: Vec::new(),
        },
    );
    let created = customer(id, &key);
    {
        let store = open(dir.path());
        assert_eq!(
            store
                .resolve_or_create(&key, created.clone())
                .await
                .expect("resolve"),
            (id, true)
        );
        store
            .commit(Batch {
                events: vec![event.clone()],
                conversations: vec![conv.clone()],
                settings: vec![("engine.secret".into(), b"s3cret".to_vec())],
                ..Batch::default()
            })
            .await
            .expect("commit");
        // Opening the same directory twice at once is refused.
        assert!(EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).is_err());
    }
    let store = open(dir.path());
    assert_eq!(store.customer(id).await.expect("customer"), Some(created));
    assert_eq!(
        store.customer_by_identity(&key).await.expect("identity"),
        Some(id)
    );
    assert_eq!(
        store.timeline(id, None, 10).await.expect("timeline"),
        vec![event]
    );
    assert_eq!(
        store.conversation(conv.id).await.expect("conversation"),
        Some(conv.clone())
    );
    assert_eq!(store.open_conversations().await.expect("open"), vec![conv]);
    assert_eq!(
        store.setting("engine.secret").await.expect("setting"),
        Some(b"s3cret".to_vec())
    );
    // The reopened store still refuses a second winner for the identity.
    let other = customer(CustomerId::new(), &key);
    assert_eq!(
        store.resolve_or_create(&key, other).await.expect("resolve"),
        (id, false)
    );
    store.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_racers_agree_on_one_new_customer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: SharedStore = Arc::new(open(dir.path()));
    let key = IdentityKey::parse(Channel::Sms, "+81 90-0000-1111").expect("identity");
    let start = Arc::new(tokio::sync::Barrier::new(50));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let store = Arc::clone(&store);
        let key = key.clone();
        let start = Arc::clone(&start);
        tasks.spawn(async move {
            let c = customer(CustomerId::new(), &key);
            let mine = c.id;
            start.wait().await;
            let got = store
                .resolve_or_create(&key, c)
                .await
                .expect("resolve_or_create");
            (mine, got)
        });
    }
    let mut results = Vec::new();
    while let Some(r) = tasks.join_next().await {
        results.push(r.expect("task"));
    }
    assert_eq!(results.len(), 50);
    let winners: Vec<_> = results
        .iter()
        .filter(|(_, (_, created))| *created)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one racer creates");
    let (winner, _) = *winners[0];
    assert!(results.iter().all(|(_, (id, _))| *id == winner));
    assert_eq!(
        store.customer_by_identity(&key).await.expect("identity"),
        Some(winner)
    );
    let stored = store
        .customer(winner)
        .await
        .expect("customer")
        .expect("winner exists");
    assert_eq!(stored.identities, vec![key]);
    for (mine, _) in results.iter().filter(|(m, _)| *m != winner) {
        assert_eq!(store.customer(*mine).await.expect("customer"), None);
    }
}

/// Not a test on its own: the child process of [`crash_safety_under_sigkill`]. Without
/// `SB_CRASH_CHILD` it returns at once.
#[test]
fn crash_child() {
    let Some(dir) = std::env::var_os(CRASH_CHILD_ENV) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let store: SharedStore = Arc::new(open(Path::new(&dir)));
        let customer = CustomerId::new();
        // Four concurrent committers so that group commits are in flight when killed.
        let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let store = Arc::clone(&store);
            let next = Arc::clone(&next);
            tasks.push(tokio::spawn(async move {
                loop {
                    let seq = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let event = TimelineEvent::new(
                        customer,
                        None,
                        Millis(seq as i64),
                        EventKind::Abandoned {
                            waited_ms: seq,
                            left_unserved: false,
                        },
                    );
                    store
                        .commit(Batch {
                            events: vec![event],
                            settings: vec![(seq_key(seq), seq.to_be_bytes().to_vec())],
                            ..Batch::default()
                        })
                        .await
                        .expect("child commit");
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "{COMMITTED}{seq}").expect("stdout");
                    out.flush().expect("flush");
                }
            }));
        }
        for t in tasks {
            t.await.expect("committer");
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_safety_under_sigkill() {
    const WANT: usize = 300;
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("current_exe");
    let mut child = Command::new(exe)
        .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CRASH_CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("child stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut committed = Vec::new();
    while committed.len() < WANT {
        match lines.next() {
            Some(line) => {
                let line = line.expect("read child stdout");
                if let Some(n) = line.strip_prefix(COMMITTED) {
                    committed.push(n.parse::<u64>().expect("sequence number"));
                }
            }
            None => break,
        }
    }
    child.kill().expect("kill -9 the child");
    child.wait().expect("reap the child");
    // Whatever the child printed before it died was committed too.
    for line in lines {
        let Ok(line) = line else { break };
        if let Some(n) = line.strip_prefix(COMMITTED) {
            committed.push(n.parse::<u64>().expect("sequence number"));
        }
    }
    assert!(
        committed.len() >= WANT,
        "the child exited early after {} commits",
        committed.len()
    );

    let store = open(dir.path());
    for seq in &committed {
        assert_eq!(
            store.setting(&seq_key(*seq)).await.expect("setting"),
            Some(seq.to_be_bytes().to_vec()),
            "sequence {seq} was acknowledged but is lost"
        );
    }
    // The reopened store is healthy and writable.
    store.health().await.expect("health");
    store
        .commit(Batch {
            settings: vec![("after.crash".into(), b"ok".to_vec())],
            ..Batch::default()
        })
        .await
        .expect("commit after crash");
}
