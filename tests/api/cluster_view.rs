//! The cluster view (`GET /api/v1/cluster`, docs/cluster.md) of a single engine: it is
//! a live member, at the address it advertises, holding the active-engine lease under
//! an epoch; agents may not read it. Runs on both stores (the embedded store keeps its
//! lease rows in memory). Several engines on one keyspace: `tests/api_cql/standby.rs`.

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
