//! Durable storage, re-exported: the `Store` trait and the embedded backend
//! (`switchboard-store`) and the ScyllaDB / Apache Cassandra backend as [`scylla`]
//! (`switchboard-store-scylla`). With the `testkit` feature of `switchboard-store`
//! (the engine's tests enable it) this also holds `conformance` and `faulty`.

pub use switchboard_store::*;
pub use switchboard_store_scylla as scylla;
