//! Canned responses over REST (CRUD, versions, shortcuts, roles, broken templates with
//! their offsets, rendering for a conversation with customer, agent and CRM variables),
//! and internal notes: the customer's chat socket never receives one.

use crate::helpers::*;
use crate::recorder::Recorder;
use serde_json::{json, Value};

async fn as_token(
    app: &TestApp,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let url = format!("{}{}", app.base, path);
    let req = match method {
        "GET" => app.http.get(url),
        "POST" => app.http.post(url),
        "PUT" => app.http.put(url),
        "DELETE" => app.http.delete(url),
        _ => unreachable!(),
    }
    .bearer_auth(token);
    let req = match body {
        Some(b) => req.json(&b),
        None => req,
    };
    let r = req.send().await.unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canned_crud_versions_shortcuts_and_roles() {
    let app = spawn_app(|_| {}).await;
    let agent = app.agent("alice", &["general"], json!({})).await;
    let sup = app.agent("sue", &[], json!({"role": "supervisor"})).await;

    let body = json!({"id": "greet", "title": "Greeting", "text": "Hello {{customer.name}}, I am {{agent.name}}.",
        "language": "en", "tags": ["greeting"], "shortcut": "hi"});
    // Agents read but do not write.
    let (s, v) = as_token(&app, &agent, "POST", "/api/v1/canned", Some(body.clone())).await;
    assert_eq!(s, 403, "{v}");
    let (s, c) = as_token(&app, &sup, "POST", "/api/v1/canned", Some(body.clone())).await;
    assert_eq!(s, 201, "{c}");
    assert_eq!(c["version"], 1);
    assert_eq!(c["updated_by"], "sue");
    let (s, v) = as_token(&app, &sup, "POST", "/api/v1/canned", Some(body.clone())).await;
    assert_eq!(s, 409, "same id: {v}");
    let mut other = body.clone();
    other["id"] = json!("greet2");
    let (s, v) = as_token(&app, &sup, "POST", "/api/v1/canned", Some(other)).await;
    assert_eq!(s, 409, "same shortcut: {v}");
    assert_eq!(v["code"], "conflict");

    let (s, v) = app
        .post("/api/v1/canned", json!({"title": "お詫び", "text": "{{customer.name?}}様、ご不便をおかけして申し訳ございません。", "language": "ja", "tags": ["apology"]}))
        .await;
    assert_eq!(s, 201, "{v}");
    let ja_id = v["id"].as_str().unwrap().to_owned();

    let (s, list) = as_token(&app, &agent, "GET", "/api/v1/canned", None).await;
    assert_eq!(s, 200);
    assert_eq!(list["canned"].as_array().unwrap().len(), 2);
    let (_, list) = as_token(&app, &agent, "GET", "/api/v1/canned?language=ja", None).await;
    assert_eq!(list["canned"][0]["id"], ja_id.as_str());
    let (_, list) = as_token(&app, &agent, "GET", "/api/v1/canned?q=HELLO", None).await;
    assert_eq!(list["canned"][0]["id"], "greet");
    let (s, one) = as_token(&app, &agent, "GET", "/api/v1/canned/greet", None).await;
    assert_eq!((s, one["title"].clone()), (200, json!("Greeting")));

    // Updates name the version they replace.
    let mut upd = body.clone();
    upd["title"] = json!("Greeting v2");
    upd["version"] = json!(1);
    let (s, v) = as_token(
        &app,
        &agent,
        "PUT",
        "/api/v1/canned/greet",
        Some(upd.clone()),
    )
    .await;
    assert_eq!(s, 403, "{v}");
    let (s, v) = app.put("/api/v1/canned/greet", upd.clone()).await;
    assert_eq!((s, v["version"].clone()), (200, json!(2)), "{v}");
    let (s, v) = app.put("/api/v1/canned/greet", upd.clone()).await;
    assert_eq!(s, 409, "stale version: {v}");
    let (_, v) = app.get("/api/v1/canned/greet").await;
    assert_eq!(v["title"], "Greeting v2");

    let (s, _) = as_token(
        &app,
        &agent,
        "DELETE",
        &format!("/api/v1/canned/{ja_id}"),
        None,
    )
    .await;
    assert_eq!(s, 403);
    let r = app
        .http
        .delete(format!("{}/api/v1/canned/{ja_id}", app.base))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (s, _) = app.get(&format!("/api/v1/canned/{ja_id}")).await;
    assert_eq!(s, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_or_unknown_templates_are_refused_with_offsets_and_nothing_is_stored() {
    let app = spawn_app(|s| s.canned.max_text_bytes = 200).await;
    let cases = [
        ("Hello {{customer.nme}}", "customer.nme", "byte 6"),
        ("Hello {{customer.name", "not closed", "byte 6"),
        ("Hi {{ }}", "empty placeholder", "byte 3"),
        ("Hi {{crm.}}", "not a variable name", "byte 3"),
    ];
    for (text, says, at) in cases {
        let (s, v) = app
            .post(
                "/api/v1/canned",
                json!({"title": "t", "text": text, "language": "en"}),
            )
            .await;
        assert_eq!(s, 400, "{text}: {v}");
        let m = v["message"].as_str().unwrap();
        assert!(m.contains(says) && m.contains(at), "{text}: {m}");
    }
    let (s, v) = app
        .post(
            "/api/v1/canned",
            json!({"title": "t", "text": "x".repeat(201), "language": "en"}),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    for bad in [
        json!({"title": "", "text": "x", "language": "en"}),
        json!({"title": "t", "text": "x", "language": "e"}),
        json!({"title": "t", "text": "x", "language": "en", "shortcut": "No Spaces"}),
        json!({"id": "Bad Id", "title": "t", "text": "x", "language": "en"}),
        json!({"title": "t", "text": "x", "language": "en", "extra": 1}),
    ] {
        let (s, v) = app.post("/api/v1/canned", bad.clone()).await;
        assert_eq!(s, 400, "{bad}: {v}");
    }
    let (_, list) = app.get("/api/v1/canned").await;
    assert_eq!(list["canned"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn render_fills_customer_agent_and_crm_variables_and_names_missing_ones() {
    let crm = Recorder::start().await;
    let url = format!("{}/crm/{{customer_id}}", crm.base);
    let app = spawn_app(move |s| s.crm.url = Some(url)).await;
    let token = app
        .agent("alice", &["general"], json!({"display_name": "Alice Sato"}))
        .await;
    let mut agent = Client::available(&app, &token).await;
    let (mut chat, welcome) = Client::visitor(&app).await;
    let customer = welcome["customer_id"].as_str().unwrap().to_owned();
    chat_say(&mut chat, "where is my order?").await;
    let conv = accept_next(&mut agent).await;
    let conv_id = conv["id"].as_str().unwrap().to_owned();
    app.get_until(
        &format!("/api/v1/customers/{customer}/crm"),
        "crm ok",
        |v| v["status"] == "ok",
    )
    .await;

    app.post("/api/v1/canned", json!({"id": "order", "title": "Order", "language": "en",
        "text": "Hi {{customer.name}} ({{crm.tier}}), this is {{agent.name}} on {{conversation.channel}}. {{crm.coupon?}}"})).await;
    app.post("/api/v1/canned", json!({"id": "coupon", "title": "Coupon", "language": "en", "text": "Code: {{crm.coupon}}"})).await;

    let path = format!("/api/v1/canned/order/render?conversation={conv_id}");
    let (s, v) = as_token(&app, &token, "POST", &path, None).await;
    assert_eq!(s, 200, "{v}");
    // The visitor gave no name: the CRM's `name` attribute stands in.
    assert_eq!(
        v["text"],
        "Hi Hanako Yamada (gold), this is Alice Sato on chat. "
    );

    let (s, v) = as_token(
        &app,
        &token,
        "POST",
        &format!("/api/v1/canned/coupon/render?conversation={conv_id}"),
        None,
    )
    .await;
    assert_eq!(s, 400, "{v}");
    assert!(v["message"].as_str().unwrap().contains("crm.coupon"), "{v}");

    // Another agent cannot render for a conversation it never held.
    let bob = app.agent("bob", &[], json!({})).await;
    let (s, _) = as_token(&app, &bob, "POST", &path, None).await;
    assert_eq!(s, 403);
    let (s, _) = as_token(
        &app,
        &token,
        "POST",
        "/api/v1/canned/nope/render?conversation=x",
        None,
    )
    .await;
    assert_eq!(s, 404);
    let (s, _) = as_token(&app, &token, "POST", "/api/v1/canned/order/render", None).await;
    assert_eq!(s, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_notes_never_reach_the_customer_socket() {
    let app = spawn_app(|_| {}).await;
    let token = app.agent("alice", &["general"], json!({})).await;
    let mut agent = Client::available(&app, &token).await;
    let (mut chat, _) = Client::visitor(&app).await;
    chat_say(&mut chat, "hello").await;
    let conv = accept_next(&mut agent).await;
    let conv_id = conv["id"].clone();
    chat.sync().await;

    let id = uuid::Uuid::new_v4().to_string();
    agent.send(json!({"type": "note", "conversation_id": conv_id, "client_msg_id": id, "text": "SECRET-NOTE refund approved"})).await;
    agent
        .expect_where("ack", |m| m["client_msg_id"] == id.as_str())
        .await;
    let shown = agent
        .expect_where("event", |m| m["event"]["type"] == "note")
        .await;
    assert_eq!(shown["event"]["text"], "SECRET-NOTE refund approved");
    agent_say(&mut agent, &conv_id, "PUBLIC reply").await;

    // The reply arrives; nothing before it (or up to a pong after it) carries the note.
    let mut seen = Vec::new();
    loop {
        let m = chat.next().await;
        let done = m["type"] == "event" && m["event"]["text"] == "PUBLIC reply";
        seen.push(m);
        if done {
            break;
        }
    }
    chat.assert_none_before_pong("note").await;
    for m in &seen {
        assert!(!m.to_string().contains("SECRET-NOTE"), "note leaked: {m}");
    }
}
