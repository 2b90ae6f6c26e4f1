//! Configuration edited live in spread placement (docs/cluster.md, "Process-local
//! state"): each node keeps the IVR tree in force, the survey settings, the
//! wrap-up codes and the connector settings in memory, so a
//! change saved through one node must be in force on the other (the broadcast), and
//! two admins saving over the same version through two nodes at once must not both
//! win — of the IVR tree, a wrap-up code or a canned response (each version is claimed
//! with a lightweight transaction). Two engine
//! processes on one Cassandra keyspace.

use crate::helpers::*;
use crate::process::Proc;
use crate::spread_kb::{call, start};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Instant;

/// Waits (bounded) until `GET path` on `n` answers what `done` accepts.
async fn until(n: &Proc, token: &str, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let give_up = Instant::now() + WAIT;
    loop {
        let (s, v) = call(n, Method::GET, path, token, None).await;
        if s == 200 && done(&v) {
            return v;
        }
        assert!(Instant::now() < give_up, "{} {path}: {s} {v}", n.base);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await; // poll interval
    }
}

fn tree(label: &str) -> Value {
    json!({"root": "main", "menus": [{"id": "main", "prompt": {"ja": "どうぞ", "en": "Go ahead"},
        "options": [{"key": "1", "phrases": [], "label": {"ja": label, "en": label}, "action": {"chat": "general"}}]}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configuration_saved_on_one_node_is_in_force_on_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let a = start(dir.path(), "node-a");
    a.ready().await;
    let b = start(dir.path(), "node-b");
    b.ready().await;
    let token = a.login("admin").await;
    crate::spread::shared_by(&a, &token, 2).await;

    // A tree saved through a is what b's visitors read.
    let (s, v) = call(
        &a,
        Method::PUT,
        "/api/v1/ivr",
        &token,
        Some(json!({"version": 0, "tree": tree("one")})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    until(&b, &token, "/api/v1/ivr", |t| *t == tree("one")).await;

    // Two saves over version 1 at once, through both nodes: exactly one wins.
    let body = |l: &str| Some(json!({"version": 1, "tree": tree(l)}));
    let (ra, rb) = tokio::join!(
        call(&a, Method::PUT, "/api/v1/ivr", &token, body("from-a")),
        call(&b, Method::PUT, "/api/v1/ivr", &token, body("from-b")),
    );
    let mut statuses = [ra.0, rb.0];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "a: {ra:?}, b: {rb:?}");
    let winner = if ra.0 == 200 { "from-a" } else { "from-b" };
    for n in [&a, &b] {
        until(n, &token, "/api/v1/ivr", |t| *t == tree(winner)).await;
        let v = until(n, &token, "/api/v1/ivr/versions", |v| v["current"] == 2).await;
        assert_eq!(v["versions"].as_array().unwrap().len(), 2, "{v}");
    }

    // Surveys turned on through a are on at b.
    let (s, v) = call(
        &a,
        Method::PUT,
        "/api/v1/survey-settings",
        &token,
        Some(json!({"version": 0, "settings": {"enabled": true}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    until(&b, &token, "/api/v1/survey-settings", |v| {
        v["version"] == 1 && v["settings"]["enabled"] == true
    })
    .await;

    // A wrap-up code saved through b is checked by a.
    let (s, v) = call(
        &b,
        Method::PUT,
        "/api/v1/wrapup-codes/paid",
        &token,
        Some(json!({"label": {"ja": "支払い済み", "en": "Paid"}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    until(&a, &token, "/api/v1/wrapup-codes?queue=general", |v| {
        v["codes"][0]["code"] == "paid"
    })
    .await;

    // Two edits of that code's version 1 at once, through both nodes: exactly one
    // wins (each version of a record is claimed), and both nodes show the winner.
    let edit = |l: &str| Some(json!({"version": 1, "label": {"ja": l, "en": l}}));
    let (ra, rb) = tokio::join!(
        call(
            &a,
            Method::PUT,
            "/api/v1/wrapup-codes/paid",
            &token,
            edit("from-a")
        ),
        call(
            &b,
            Method::PUT,
            "/api/v1/wrapup-codes/paid",
            &token,
            edit("from-b")
        ),
    );
    let mut statuses = [ra.0, rb.0];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "a: {ra:?}, b: {rb:?}");
    let winner = if ra.0 == 200 { "from-a" } else { "from-b" };
    for n in [&a, &b] {
        until(n, &token, "/api/v1/wrapup-codes?queue=general", |v| {
            v["codes"][0]["version"] == 2 && v["codes"][0]["label"]["en"] == winner
        })
        .await;
    }

    // The same for a canned response.
    let (s, v) = call(
        &a,
        Method::POST,
        "/api/v1/canned",
        &token,
        Some(json!({"id": "greet", "title": "Hello", "text": "Hello", "language": "en"})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let edit = |t: &str| Some(json!({"version": 1, "title": t, "text": t, "language": "en"}));
    let (ra, rb) = tokio::join!(
        call(
            &a,
            Method::PUT,
            "/api/v1/canned/greet",
            &token,
            edit("from-a")
        ),
        call(
            &b,
            Method::PUT,
            "/api/v1/canned/greet",
            &token,
            edit("from-b")
        ),
    );
    let mut statuses = [ra.0, rb.0];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "a: {ra:?}, b: {rb:?}");
    let winner = if ra.0 == 200 { "from-a" } else { "from-b" };
    let (_, v) = call(&b, Method::GET, "/api/v1/canned/greet", &token, None).await;
    assert_eq!(
        (v["version"].as_u64(), v["title"].as_str()),
        (Some(2), Some(winner)),
        "{v}"
    );

    // A connector setting changed through a is in force in b's gateway.
    let (s, v) = call(
        &a,
        Method::PUT,
        "/api/v1/connectors",
        &token,
        Some(json!({"version": 0, "settings": {"sms": {"from_number": "+15005550007"}}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    until(&b, &token, "/api/v1/connectors", |v| {
        v["version"] == 1 && v["settings"]["sms"]["from_number"] == "+15005550007"
    })
    .await;
}
