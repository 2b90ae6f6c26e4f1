//! The audit trail (docs/security.md "Audit log"): every route of the REST table that
//! may change something, asked with a staff token, leaves one entry naming who, the
//! route, its parameters, the answer's status and where from — refused attempts
//! included. The test walks `API_V1_ROUTES`, so a route added later without an entry
//! fails here. A sign-in is audited; a request without a staff token leaves nothing.

use crate::helpers::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Routes that take no staff token, so no staff action to audit, and why.
const NOT_STAFF: &[(&str, &str)] = &[
    // Audited as `login` when it succeeds (below); failures raise login alarms.
    ("post", "/login"),
    // A customer's answer, signed by its survey token.
    ("post", "/surveys/{token}"),
];

/// `path` with each `{param}` replaced by a value no route knows.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            if seg.starts_with('{') {
                "zz-unknown"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[actix_rt::test]
async fn every_mutating_route_asked_by_staff_leaves_an_audit_entry() {
    let app = spawn_app(|_| {}).await;
    let mut asked = BTreeMap::new();
    // Signing out revokes the token the walk uses: it goes last.
    let routes = switchboard::api::API_V1_ROUTES
        .iter()
        .filter(|r| **r != ("post", "/logout"))
        .chain([&("post", "/logout")]);
    for (method, path) in routes {
        if !matches!(*method, "post" | "put" | "patch" | "delete")
            || NOT_STAFF.contains(&(*method, *path))
        {
            continue;
        }
        let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let url = format!("{}/api/v1{}", app.base, concrete(path));
        let status = app
            .http
            .request(m, url)
            .bearer_auth(&app.admin)
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        asked.insert(
            format!("{} /api/v1{path}", method.to_uppercase()),
            (concrete(path), status),
        );
    }
    assert!(
        asked.len() > 40,
        "the table has its mutating routes: {asked:?}"
    );
    // The admin signs in again to read the log.
    let admin = app.login("admin", ADMIN_PASSWORD).await;
    let r = app
        .http
        .get(format!("{}/api/v1/audit?limit=200", app.base))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let log: Value = r.json().await.unwrap();
    let entries = log["entries"].as_array().unwrap();
    // The walk's own entries (this GET is not one: reads are not audited here).
    let mut found = BTreeMap::new();
    for e in entries
        .iter()
        .filter(|e| e["action"].as_str().is_some_and(|a| a.contains(" /api/v1")))
    {
        let action = e["action"].as_str().unwrap().to_owned();
        assert_eq!(e["actor"], "admin", "{e}");
        assert!(
            e["detail"]["from"]
                .as_str()
                .is_some_and(|f| f.starts_with("127.")),
            "{e}"
        );
        let prev = found.insert(
            action,
            (
                e["detail"]["path"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("/api/v1")
                    .to_owned(),
                e["detail"]["status"].as_u64().unwrap() as u16,
            ),
        );
        assert!(prev.is_none(), "one entry per request: {e}");
    }
    let missing: Vec<&String> = asked.keys().filter(|k| !found.contains_key(*k)).collect();
    assert!(
        missing.is_empty(),
        "routes that left no audit entry: {missing:?}"
    );
    for (action, (path, status)) in &asked {
        assert_eq!(found[action], (path.clone(), *status), "{action}");
    }
}

#[actix_rt::test]
async fn a_sign_in_is_audited_and_a_request_without_staff_is_not() {
    let app = spawn_app(|_| {}).await;
    app.agent("ann", &["general"], json!({})).await;
    let (_, log) = app.get("/api/v1/audit?limit=200").await;
    let logins: Vec<&Value> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "login" && e["actor"] == "ann")
        .collect();
    assert_eq!(logins.len(), 1, "{log}");
    assert_eq!(logins[0]["detail"]["role"], "agent");
    // The admin's profile change that made ann is there, with its parameters.
    let put = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "PUT /api/v1/agents/{id}")
        .expect("the agent's creation");
    assert_eq!(put["detail"]["params"], json!({"id": "ann"}));
    assert_eq!(put["detail"]["status"], 200);
    // Without a token, or with a forged one: refused, and nothing is written.
    let before = log["entries"].as_array().unwrap().len();
    for token in [None, Some("forged.token.here")] {
        let mut r = app
            .http
            .put(format!("{}/api/v1/queues/sales", app.base))
            .json(&json!({}));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        assert_eq!(r.send().await.unwrap().status(), 401);
    }
    let (_, log) = app.get("/api/v1/audit?limit=200").await;
    assert_eq!(log["entries"].as_array().unwrap().len(), before);
}

#[actix_rt::test]
async fn the_audit_log_is_searched_and_exported_as_csv() {
    let app = spawn_app(|_| {}).await;
    app.agent("ann", &["general"], json!({})).await;
    app.agent("bo", &["general"], json!({})).await;
    let (s, v) = app.get("/api/v1/audit?actor=ann&action=login").await;
    assert_eq!(s, 200, "{v}");
    let e = v["entries"].as_array().unwrap();
    assert_eq!(e.len(), 1, "{v}");
    assert_eq!(
        (&e[0]["actor"], &e[0]["action"]),
        (&json!("ann"), &json!("login"))
    );
    // By route, newest first, one page at a time.
    let (_, v) = app
        .get("/api/v1/audit?action=PUT%20/api/v1/agents/&limit=1")
        .await;
    assert_eq!(v["entries"][0]["detail"]["params"]["id"], "bo", "{v}");
    let next = v["next_before"].as_str().expect("another page").to_owned();
    let (_, v) = app
        .get(&format!(
            "/api/v1/audit?action=PUT%20/api/v1/agents/&limit=1&before={next}"
        ))
        .await;
    assert_eq!(v["entries"][0]["detail"]["params"]["id"], "ann", "{v}");
    // A time window after everything: nothing.
    let (_, v) = app.get("/api/v1/audit?since=99999999999999").await;
    assert_eq!(v["entries"], json!([]));
    // CSV: a header and a quoted row per entry.
    let r = app
        .http
        .get(format!("{}/api/v1/audit?format=csv&actor=bo", app.base))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let body = r.text().await.unwrap();
    let lines: Vec<&str> = body.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines[0], "id,at,actor,action,customer_id,detail");
    assert_eq!(lines.len(), 2, "{body}");
    assert!(lines[1].contains(",\"bo\",\"login\","), "{body}");
    for bad in ["format=xml", "customer_id=nope", "limit=0"] {
        let (s, v) = app.get(&format!("/api/v1/audit?{bad}")).await;
        assert_eq!(
            (s, v["code"].as_str()),
            (400, Some("invalid")),
            "{bad}: {v}"
        );
    }
}

#[actix_rt::test]
async fn changes_say_before_and_after_and_reads_of_personal_data_are_audited() {
    let app = spawn_app(|_| {}).await;
    app.agent("ann", &["general"], json!({})).await;
    // An agent's profile changed: before and after, never the password.
    let (s, v) = app
        .put(
            "/api/v1/agents/ann",
            json!({"display_name": "Ann B", "role": "supervisor", "queues": ["general"],
                   "password": "a-new-password"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (_, log) = app
        .get("/api/v1/audit?action=PUT%20/api/v1/agents/&limit=1")
        .await;
    let change = &log["entries"][0]["detail"]["change"];
    assert_eq!(change["before"]["display_name"], "ANN", "{log}");
    assert_eq!(change["before"]["role"], "agent");
    assert_eq!(change["after"]["display_name"], "Ann B");
    assert_eq!(change["after"]["role"], "supervisor");
    assert_eq!(change["after"]["password_changed"], true);
    assert!(!log.to_string().contains("password_hash"), "{log}");
    assert!(!log.to_string().contains("a-new-password"), "{log}");
    // A queue created: no before.
    let (s, v) = app
        .put("/api/v1/queues/vip", json!({"display_name": "VIP"}))
        .await;
    assert_eq!(s, 200, "{v}");
    let (_, log) = app
        .get("/api/v1/audit?action=PUT%20/api/v1/queues/&limit=1")
        .await;
    let change = &log["entries"][0]["detail"]["change"];
    assert_eq!(change["before"], Value::Null, "{log}");
    assert_eq!(change["after"]["display_name"], "VIP");

    // Every personal-data read is a route of the table, and a successful one by staff
    // is audited with its customer.
    for read in switchboard::api::audit_trail::PERSONAL_READS {
        assert!(
            switchboard::api::API_V1_ROUTES.contains(&("get", read)),
            "{read} is no GET route"
        );
    }
    let m = app.inbound("sms", "+819055550123", "hello", None).await;
    let customer = m["customer_id"].as_str().unwrap().to_owned();
    let (s, _) = app
        .get(&format!("/api/v1/customers/{customer}/timeline"))
        .await;
    assert_eq!(s, 200);
    let (_, log) = app
        .get(&format!("/api/v1/audit?customer_id={customer}&action=GET"))
        .await;
    let reads: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(reads, ["GET /api/v1/customers/{id}/timeline"], "{log}");
    // Reads that are no personal data (the queues) leave nothing.
    app.get("/api/v1/queues").await;
    let (_, log) = app.get("/api/v1/audit?action=GET%20/api/v1/queues").await;
    assert_eq!(log["entries"], json!([]));
}

#[actix_rt::test]
async fn canned_responses_and_notification_rules_say_what_changed() {
    let app = spawn_app(|_| {}).await;
    let change = |log: &Value| log["entries"][0]["detail"]["change"].clone();
    let body = json!({"id": "greet", "title": "Greeting", "text": "Hello.", "language": "en"});
    let (s, v) = app.post("/api/v1/canned", body).await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = app
        .put(
            "/api/v1/canned/greet",
            json!({"title": "Greeting", "text": "Hello again.", "language": "en", "version": 1}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (_, log) = app
        .get("/api/v1/audit?action=PUT%20/api/v1/canned/&limit=1")
        .await;
    let c = change(&log);
    assert_eq!(
        (&c["before"]["text"], &c["after"]["text"]),
        (&json!("Hello."), &json!("Hello again.")),
        "{log}"
    );
    let r = app
        .http
        .delete(format!("{}/api/v1/canned/greet", app.base))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (_, log) = app
        .get("/api/v1/audit?action=DELETE%20/api/v1/canned/&limit=1")
        .await;
    let c = change(&log);
    assert_eq!(
        (&c["before"]["text"], &c["after"]),
        (&json!("Hello again."), &Value::Null),
        "{log}"
    );
    // A notification rule: created, then replaced.
    for text in ["発送しました", "発送いたしました"] {
        let (s, v) = app
            .put(
                "/api/v1/notification-rules/order.shipped",
                json!({"templates": {"ja": text}, "channels": ["sms"]}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
    }
    let (_, log) = app
        .get("/api/v1/audit?action=PUT%20/api/v1/notification-rules/&limit=2")
        .await;
    let newest = change(&log);
    assert_eq!(newest["before"]["templates"]["ja"], "発送しました", "{log}");
    assert_eq!(newest["after"]["templates"]["ja"], "発送いたしました");
    assert_eq!(log["entries"][1]["detail"]["change"]["before"], Value::Null);
}

/// The latest entry of an action (a prefix) and its change.
async fn last_change(app: &TestApp, action: &str) -> Value {
    let q = serde_urlencoded::to_string([("action", action), ("limit", "1")]).unwrap();
    let (_, log) = app.get(&format!("/api/v1/audit?{q}")).await;
    log["entries"][0]["detail"]["change"].clone()
}

async fn patch(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    let r = app
        .http
        .patch(format!("{}{path}", app.base))
        .bearer_auth(&app.admin)
        .json(&body)
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

/// A known customer without conversations (so it may be merged); its id.
async fn known_customer(app: &TestApp, phone: &str) -> String {
    let (s, v) = app
        .post(
            "/api/v1/customers",
            json!({"identities": [{"channel": "sms", "address": phone}]}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    v["id"].as_str().unwrap().to_owned()
}

#[actix_rt::test]
async fn supervisor_patches_and_identity_changes_say_what_changed() {
    let app = spawn_app(|_| {}).await;
    app.agent("ann", &["general"], json!({"skills": {"billing": 2}}))
        .await;
    app.queue("vip", json!({"display_name": "VIP"})).await;

    let (s, v) = patch(
        &app,
        "/api/v1/supervisor/agents/ann/skills",
        json!({"skills": {"billing": 4, "lang-ja": 3}}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let c = last_change(&app, "PATCH /api/v1/supervisor/agents/").await;
    assert_eq!(c["before"], json!({"skills": {"billing": 2}}), "{c}");
    assert_eq!(c["after"], json!({"skills": {"billing": 4, "lang-ja": 3}}));

    let (s, v) = app
        .put(
            "/api/v1/supervisor/agents/ann/queues",
            json!({"queues": ["general", "vip"]}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let c = last_change(&app, "PUT /api/v1/supervisor/agents/").await;
    assert_eq!(c["before"], json!({"queues": ["general"]}), "{c}");
    assert_eq!(c["after"], json!({"queues": ["general", "vip"]}));

    let (s, v) = patch(
        &app,
        "/api/v1/supervisor/queues/vip",
        json!({"priority": 7}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let c = last_change(&app, "PATCH /api/v1/supervisor/queues/").await;
    assert_eq!(c["before"]["priority"], 0, "{c}");
    assert_eq!(c["after"]["priority"], 7);

    // Identities: one linked, then another customer merged in.
    let a = known_customer(&app, "+819011110001").await;
    let b = known_customer(&app, "+819011110002").await;
    let (s, v) = app
        .post(
            &format!("/api/v1/customers/{a}/identities"),
            json!({"channel": "email", "address": "aki@example.com"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let c = last_change(&app, "POST /api/v1/customers/{id}/identities").await;
    let addresses = |v: &Value| -> Vec<String> {
        let mut a: Vec<String> = v["identities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["address"].as_str().unwrap_or_default().to_owned())
            .collect();
        a.sort();
        a
    };
    assert_eq!(addresses(&c["before"]), ["+819011110001"], "{c}");
    assert_eq!(addresses(&c["after"]), ["+819011110001", "aki@example.com"]);
    let (s, v) = app
        .post(&format!("/api/v1/customers/{a}/merge"), json!({"other": b}))
        .await;
    assert_eq!(s, 200, "{v}");
    let c = last_change(&app, "POST /api/v1/customers/{id}/merge").await;
    assert_eq!(c["before"]["merged"], json!([]), "{c}");
    assert_eq!(c["after"]["merged"], json!([b]), "{c}");
    assert!(addresses(&c["after"]).contains(&"+819011110002".to_owned()));
    // A refused change records none.
    let (s, _) = app
        .post(&format!("/api/v1/customers/{a}/merge"), json!({"other": b}))
        .await;
    assert_eq!(s, 409);
    let (_, log) = app
        .get("/api/v1/audit?action=POST%20/api/v1/customers/%7Bid%7D/merge&limit=1")
        .await;
    assert_eq!(log["entries"][0]["detail"]["status"], 409, "{log}");
    assert_eq!(log["entries"][0]["detail"]["change"], Value::Null);
}
