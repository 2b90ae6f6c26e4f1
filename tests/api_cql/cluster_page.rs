//! The supervisor dashboard's engine nodes in a real browser, against two real
//! engines on one CQL keyspace: the active engine serves the page, a standby (with the
//! cluster secret, so the active one pings it) is paused, woken and killed by the
//! script (clients/tests/cluster.mjs), and the page follows: standby and reachable,
//! unreachable while paused, reachable again, its lease lapsed once it is dead; and two
//! spread nodes sharing the shards until one is killed. CQL
//! only: the embedded store has one process by construction (its single node is
//! checked by clients/tests/supervisor.mjs).

use crate::helpers::*;
use crate::process::{free_port, spawn, start};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_a_standby_paused_woken_and_killed() {
    let dir = tempfile::tempdir().unwrap();
    let secret = ("SWITCHBOARD_CLUSTER_SECRET", "cluster-page-test-secret");
    // A lease long enough that the paused standby is seen unreachable well before it
    // lapses (the page shows both states in turn): with the default 3 s lease the
    // window between the cluster view's failed ping and the lapse is under a second.
    let config = dir.path().join("lease.toml");
    std::fs::write(
        &config,
        "[cluster]\nlease_ttl_ms = 6000\nlease_renew_ms = 1000\n",
    )
    .unwrap();
    let config = ("SWITCHBOARD_CONFIG", config.to_str().unwrap());
    let a = start(
        dir.path(),
        free_port(),
        &[secret, config, ("SWITCHBOARD_NODE_NAME", "node-a")],
    )
    .await;
    let admin = a.login("admin").await;
    a.agent(&admin, "sup", json!({"role": "supervisor"})).await;
    let b = spawn(
        dir.path(),
        free_port(),
        &[secret, config, ("SWITCHBOARD_NODE_NAME", "node-b")],
    );
    // B is a standby once its address answers so.
    crate::standby::standby(&b).await;
    let pid = b.child.id().to_string();
    let out = browser_script_at(
        &a.base,
        &admin,
        "cluster.mjs",
        &[
            ("SUPERVISOR_ID", "sup"),
            ("SUPERVISOR_PASSWORD", "sup-password"),
            ("STANDBY_PID", &pid),
            ("STANDBY_NAME", "node-b"),
        ],
    )
    .output()
    .await;
    assert_browser_passed(out, "cluster.mjs", "cluster browser test passed");
}

/// Spread placement on the same page: two spread nodes are both members, each holding
/// some of the shards and together all of them; once the script kills one, the other
/// holds every shard and the summary counts them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_spread_nodes_sharing_the_shards() {
    use crate::spread::{shared_by, start_with, SHARDS};
    let dir = tempfile::tempdir().unwrap();
    let a = start_with(dir.path(), free_port(), "node-a", &[]);
    a.ready().await;
    let admin = a.login("admin").await;
    a.agent(&admin, "sup", json!({"role": "supervisor"})).await;
    let b = start_with(dir.path(), free_port(), "node-b", &[]);
    b.ready().await;
    // Both hold a share, and every key has a live holder, before the page opens.
    shared_by(&a, &admin, 2).await;
    let pid = b.child.id().to_string();
    let shards = SHARDS.to_string();
    let out = browser_script_at(
        &a.base,
        &admin,
        "cluster.mjs",
        &[
            ("SUPERVISOR_ID", "sup"),
            ("SUPERVISOR_PASSWORD", "sup-password"),
            ("STANDBY_PID", &pid),
            ("STANDBY_NAME", "node-b"),
            ("PLACEMENT", "spread"),
            ("SHARDS", &shards),
        ],
    )
    .output()
    .await;
    assert_browser_passed(out, "cluster.mjs", "cluster browser test passed");
}
