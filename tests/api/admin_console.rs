//! The admin console (`/admin/`, clients/tests/admin_console.mjs) in Chromium: a
//! supervisor turned away, queues and agents created and edited, bad forms refused
//! field by field. Here, afterwards, what the store holds: exactly what the forms said,
//! nothing of the refused ones, the disabled agent unable to sign in, the canned
//! response gone, and every change in the audit log. Also the field errors over plain HTTP: every bad field of an agent
//! or a queue is named at once and nothing is stored.

use crate::helpers::*;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_console_manages_agents_and_queues_in_a_real_browser() {
    let app = spawn_app(|_| {}).await;
    let (st, v) = app
        .put(
            "/api/v1/agents/sup",
            json!({"display_name": "Sup", "password": "sup-password", "role": "supervisor"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    run_browser_script(
        &app,
        "admin_console.mjs",
        &[("ADMIN_ID", "admin"), ("ADMIN_PASSWORD", ADMIN_PASSWORD)],
        "admin console browser test passed",
    )
    .await;

    let (st, configs) = app.get("/api/v1/queue-configs").await;
    assert_eq!(st, 200, "{configs}");
    let billing = configs
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "billing")
        .expect("billing stored");
    assert_eq!(billing["display_name"], "Billing");
    assert_eq!(billing["strategy"], "least_occupied");
    assert_eq!(billing["required_skills"], json!({"billing": 2}));
    assert_eq!(billing["default_for"], json!(["email"]));
    assert!(
        !configs
            .as_array()
            .unwrap()
            .iter()
            .any(|q| q["name"] == "bad"),
        "the refused queue was stored: {configs}"
    );

    let (st, agents) = app.get("/api/v1/agents").await;
    assert_eq!(st, 200);
    let nadia = agents
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "nadia")
        .expect("nadia stored");
    assert_eq!(nadia["skills"], json!({"billing": 3, "japanese": 5}));
    assert_eq!(nadia["queues"], json!(["billing"]));
    assert_eq!(nadia["capacity"]["chat"], 2);
    assert_eq!(nadia["disabled"], true);
    assert!(!agents.as_array().unwrap().iter().any(|a| a["id"] == "omar"));
    let r = app
        .http
        .post(format!("{}/api/v1/login", app.base))
        .json(&json!({"agent_id": "nadia", "password": "nadia-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "a disabled agent signs in");

    // Every save is audited with what changed (the refused ones as refusals).
    let (_, canned) = app.get("/api/v1/canned").await;
    assert_eq!(canned["canned"], json!([]), "the response was deleted");
    let (_, log) = app.get("/api/v1/audit?limit=100").await;
    let actions: Vec<(String, i64)> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"] == "admin")
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["detail"]["status"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    for expected in [
        ("POST /api/v1/canned".to_string(), 400),
        ("POST /api/v1/canned".to_string(), 201),
        ("PUT /api/v1/canned/{id}".to_string(), 200),
        ("DELETE /api/v1/canned/{id}".to_string(), 204),
        ("PUT /api/v1/queues/{name}".to_string(), 200),
        ("PUT /api/v1/queues/{name}".to_string(), 400),
        ("PUT /api/v1/agents/{id}".to_string(), 200),
        ("PUT /api/v1/agents/{id}".to_string(), 400),
    ] {
        assert!(
            actions.contains(&expected),
            "{expected:?} not in {actions:?}"
        );
    }
}

/// Over plain HTTP: every bad field named at once, nothing stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_and_queue_forms_name_every_bad_field_and_store_nothing() {
    let app = spawn_app(|_| {}).await;
    let (st, v) = app
        .put(
            "/api/v1/agents/omar",
            json!({"display_name": " ", "password": "short", "role": "agent",
                   "queues": ["nowhere"], "phone": "abc"}),
        )
        .await;
    assert_eq!(st, 400, "{v}");
    assert_eq!(v["code"], "invalid");
    let fields: Vec<&str> = v["fields"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        ["display_name", "password", "phone", "queues"],
        "{v}"
    );
    let (st, _) = app.get("/api/v1/agents/omar").await;
    assert_eq!(st, 404);
    // A new agent without a password names it.
    let (st, v) = app
        .put(
            "/api/v1/agents/omar",
            json!({"display_name": "Omar", "role": "agent"}),
        )
        .await;
    assert_eq!(st, 400);
    assert!(v["fields"]["password"].is_string(), "{v}");

    // Each queue field is parsed alone, so one bad field cannot hide another.
    let (st, v) = app
        .put(
            "/api/v1/queues/bad",
            json!({"strategy": "fastest", "max_waiting": -1, "priority": "high",
                   "offer_timeout_ms": 50, "colour": "red"}),
        )
        .await;
    assert_eq!(st, 400, "{v}");
    let f = v["fields"].as_object().expect("fields");
    for k in ["strategy", "max_waiting", "priority", "colour"] {
        assert!(f.contains_key(k), "{k} not named: {v}");
    }
    // Once the shapes are right, the ranges are checked together.
    let (st, v) = app
        .put(
            "/api/v1/queues/bad",
            json!({"offer_timeout_ms": 50, "max_waiting": 0, "overflow": {"to": "bad", "after_ms": 10}}),
        )
        .await;
    assert_eq!(st, 400, "{v}");
    let f: Vec<&str> = v["fields"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(f, ["max_waiting", "offer_timeout_ms", "overflow"], "{v}");
    let (st, configs) = app.get("/api/v1/queue-configs").await;
    assert_eq!(st, 200);
    assert!(
        !configs
            .as_array()
            .unwrap()
            .iter()
            .any(|q: &Value| q["name"] == "bad"),
        "{configs}"
    );
    // A switch sent off (as the console's form sends it) is a setting, not a typo.
    let (st, v) = app
        .put(
            "/api/v1/queues/plain",
            json!({"wrapup_required": false, "record_calls": false, "colour": false}),
        )
        .await;
    assert_eq!(st, 400, "{v}");
    let f: Vec<&String> = v["fields"].as_object().unwrap().keys().collect();
    assert_eq!(f, ["colour"], "only the unknown key is named: {v}");
    let (st, v) = app
        .put(
            "/api/v1/queues/plain",
            json!({"wrapup_required": false, "record_calls": false}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    // Only admins read the configurations.
    let sup = app.agent("sup", &[], json!({"role": "supervisor"})).await;
    let r = app
        .http
        .get(format!("{}/api/v1/queue-configs", app.base))
        .bearer_auth(&sup)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}
