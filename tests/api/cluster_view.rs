//! The cluster view (`GET /api/v1/cluster`, docs/cluster.md) of a single engine: it is
//! a live member, at the address it advertises, holding the active-engine lease under
//! an epoch; agents may not read it. Runs on both stores (the embedded store keeps its
//! lease rows in memory). Several engines on one keyspace: `tests/api_cql/standby.rs`.
//! Locating ids (`POST /api/v1/cluster/locate`) on one engine: everything runs on the
//! active engine; in spread placement: `tests/api_cql/spread_follow.rs`.

use crate::helpers::*;
use serde_json::{json, Value};

#[tokio::test]
async fn one_engine_is_a_live_member_holding_the_keyspace() {
    let app = spawn_app(|s| {
        s.cluster.node_name = Some("node-one".into());
        s.cluster.advertise_address = Some("10.1.2.3:8080".into());
    })
    .await;
    let (status, view) = app.get("/api/v1/cluster").await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["node"]["name"], "node-one", "{view}");
    assert_eq!(view["node"]["address"], "10.1.2.3:8080");
    assert_eq!(view["placement"], "single", "{view}");
    assert_eq!(view["shards"], json!(null), "{view}");
    let members = view["members"].as_array().unwrap();
    assert_eq!(members.len(), 1, "{view}");
    let me = &members[0];
    assert_eq!(
        (&me["name"], &me["live"], &me["this"], &me["address"]),
        (
            &json!("node-one"),
            &json!(true),
            &json!(true),
            &json!("10.1.2.3:8080")
        ),
        "{view}"
    );
    assert_eq!(me["incarnation"], view["node"]["incarnation"]);
    assert_eq!(me["holds"], json!(["singleton/active-engine"]), "{view}");
    assert!(me["expires_in_ms"].as_i64().unwrap() > 0, "{view}");
    let leases = view["leases"].as_array().unwrap();
    let active: Vec<&Value> = leases
        .iter()
        .filter(|l| l["key"] == "singleton/active-engine")
        .collect();
    assert_eq!(active.len(), 1, "{view}");
    assert_eq!(
        (&active[0]["holder"], &active[0]["live"]),
        (&json!("node-one"), &json!(true))
    );
    assert!(active[0]["epoch"].as_u64().unwrap() >= 1, "{view}");
    assert!(
        leases
            .iter()
            .all(|l| !l["key"].as_str().unwrap().starts_with("node/")),
        "members are not listed as leases: {view}"
    );

    // Supervisors and admins only.
    let token = app.agent("plain", &["general"], json!({})).await;
    let r = app
        .http
        .get(format!("{}/api/v1/cluster", app.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn one_engine_runs_every_actor_under_the_active_engines_lease() {
    let app = spawn_app(|s| {
        s.cluster.node_name = Some("node-one".into());
        s.limits.max_http_body_bytes = 4096;
    })
    .await;
    let customer = "0191d0c2-7a54-7000-8000-000000000001";
    let (status, found) = app
        .post(
            "/api/v1/cluster/locate",
            json!({"customers": [customer], "agents": ["ren", "ren"], "queues": ["general"]}),
        )
        .await;
    assert_eq!(status, 200, "{found}");
    let (_, view) = app.get("/api/v1/cluster").await;
    let epoch = active_lease(&view)["epoch"].clone();
    let placed = |id: &str| {
        json!({"id": id, "key": "singleton/active-engine", "holder": "node-one",
            "address": view["node"]["address"], "epoch": epoch, "live": true})
    };
    assert_eq!(
        found,
        json!({"customers": [placed(customer)], "agents": [placed("ren"), placed("ren")],
            "queues": [placed("general")]}),
    );
    // Nothing asked, nothing answered.
    let (status, found) = app.post("/api/v1/cluster/locate", json!({})).await;
    assert_eq!(
        (status, found),
        (200, json!({"customers": [], "agents": [], "queues": []}))
    );

    // A malformed id, or a field that is not one, is refused with a typed error.
    for bad in [
        json!({"customers": ["not-a-uuid"]}),
        json!({"agents": ["Not An Id"]}),
        json!({"queues": ["a/b"]}),
        json!({"shards": [1]}),
    ] {
        let (status, err) = app.post("/api/v1/cluster/locate", bad.clone()).await;
        assert_eq!(
            (status, &err["code"]),
            (400, &json!("bad_json")),
            "{bad}: {err}"
        );
    }
    // The body's size limit bounds how many ids one call asks.
    let many: Vec<String> = (0..500).map(|i| format!("agent{i}")).collect();
    let (status, err) = app
        .post("/api/v1/cluster/locate", json!({ "agents": many }))
        .await;
    assert_eq!((status, &err["code"]), (413, &json!("too_large")), "{err}");

    // Supervisors and admins only.
    let token = app.agent("plain", &["general"], json!({})).await;
    let r = app
        .http
        .post(format!("{}/api/v1/cluster/locate", app.base))
        .bearer_auth(&token)
        .json(&json!({"agents": ["plain"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

/// The ownership loop runs on a thread of its own, with (on the CQL store) a session
/// of its own: while the engine's main runtime is blocked for longer than the lease —
/// the thread `spawn_app` runs the engine's system on, held by a task that waits for
/// the test — the active engine keeps renewing, under the same epoch (the view is
/// answered by an HTTP worker thread from the loop's coordination).
/// With the loop on the engine's runtime, the lease lapses here (checked by moving
/// it back once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lease_is_renewed_while_the_engines_runtime_is_blocked() {
    let app = spawn_app(|_| {}).await;
    let (_, before) = app.get("/api/v1/cluster").await;
    let epoch = active_lease(&before)["epoch"].clone();
    let (release, held) = std::sync::mpsc::channel::<()>();
    let (blocked, is_blocked) = tokio::sync::oneshot::channel();
    app.engine_system().arbiter().spawn(async move {
        let _ = blocked.send(());
        // Blocks the engine's main thread until the test releases it.
        let _ = held.recv();
    });
    is_blocked.await.expect("the block started");
    // The fault's length: past the lease's TTL and the skew bound (4 s + 0.5 s by
    // default), so a lease nobody renewed meanwhile has lapsed.
    tokio::time::sleep(std::time::Duration::from_millis(5_500)).await;
    let (status, view) = app.get("/api/v1/cluster").await;
    release.send(()).expect("the block ends");
    assert_eq!(status, 200, "{view}");
    let lease = active_lease(&view);
    assert_eq!(lease["live"], true, "{view}");
    assert_eq!(lease["epoch"], epoch, "{view}");
    assert!(lease["expires_in_ms"].as_i64().unwrap() > 0, "{view}");
}

fn active_lease(view: &Value) -> &Value {
    view["leases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["key"] == "singleton/active-engine")
        .unwrap_or_else(|| panic!("no active-engine lease: {view}"))
}
