//! The CQL database the integration tests run against: options from `SCYLLA_URI`, and
//! keyspaces of their own. Shared by `tests/store_conformance.rs` and
//! `tests/ownership.rs` (not a test target: cargo builds only top-level test files).

use switchboard::store::scylla::ScyllaOptions;

/// Options for the CQL database named by `SCYLLA_URI`
/// (`[scylla://]host[:port][,host...][/keyspace]`; `SCYLLA_DATACENTER` defaults to
/// `datacenter1`, `SCYLLA_RF` to 1). `./scripts/test.sh` starts a real Apache Cassandra
/// and sets it; without it the CQL tests fail with this message — they never skip.
pub fn cql_options(default_keyspace: &str) -> ScyllaOptions {
    let uri = std::env::var("SCYLLA_URI").unwrap_or_else(|_| {
        panic!(
            "SCYLLA_URI is not set: the CQL store tests run against a real Cassandra or \
             ScyllaDB. Run ./scripts/test.sh (it starts Cassandra), or start one with \
             `scripts/cassandra.sh start` and set SCYLLA_URI=127.0.0.11:9042 (docs/scylla.md)"
        )
    });
    let (contact_points, keyspace) = ScyllaOptions::parse_uri(&uri).expect("SCYLLA_URI");
    ScyllaOptions {
        contact_points,
        keyspace: keyspace.unwrap_or_else(|| default_keyspace.into()),
        local_datacenter: std::env::var("SCYLLA_DATACENTER")
            .unwrap_or_else(|_| "datacenter1".into()),
        replication_factor: std::env::var("SCYLLA_RF")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1),
        ..ScyllaOptions::default()
    }
}

/// A keyspace nobody has used: `prefix` and a random suffix.
pub fn fresh_keyspace(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())[..40].to_owned()
}
