//! Bad input gets a typed error and changes nothing: malformed JSON, unknown type,
//! oversize message, wrong token, someone else's offer, someone else's conversation,
//! and REST validation.

use crate::helpers::*;
use serde_json::json;

/// A held conversation for agent `id` with one customer message; returns
/// (agent client, chat client, conversation id, customer id).
async fn setup(app: &TestApp, id: &str) -> (Client, Client, serde_json::Value, String) {
    let t = app.agent(id, &["general"], json!({})).await;
    let mut a = Client::available(app, &t).await;
    let (mut chat, w) = Client::visitor(app).await;
    chat_say(&mut chat, "hello").await;
    let conv = accept_next(&mut a).await;
    let customer = w["customer_id"].as_str().unwrap().to_owned();
    // The queue records the offer's outcome in the background; let it land so that
    // "changes nothing" below compares settled timelines.
    app.timeline_until(&customer, "offer_closed", |ev| {
        ev.iter().any(|e| e["type"] == "offer_closed")
    })
    .await;
    (a, chat, conv["id"].clone(), customer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_gets_bad_json_and_changes_nothing() {
    let app = spawn_app(|_| {}).await;
    let (mut a, _chat, _conv, customer) = setup(&app, "m1").await;
    let before = app.timeline(&customer).await.len();
    a.send_raw("{\"type\": \"message\", \"conversation_id\": ".into())
        .await;
    assert_eq!(a.expect("error").await["code"], "bad_json");
    a.send_raw("[1,2,3]".into()).await;
    assert_eq!(a.expect("error").await["code"], "bad_json");
    a.send(json!({"type": "message", "conversation_id": "not-a-uuid", "client_msg_id": "x", "text": "y"})).await;
    assert_eq!(a.expect("error").await["code"], "bad_json");
    assert_eq!(app.timeline(&customer).await.len(), before);
    // The socket still works.
    a.send(json!({"type": "ping", "nonce": "n"})).await;
    assert_eq!(a.expect("pong").await["nonce"], "n");
    // Same on the customer socket.
    let (mut chat, _) = Client::visitor(&app).await;
    chat.send_raw("not json".into()).await;
    assert_eq!(chat.expect("error").await["code"], "bad_json");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_message_type_is_rejected() {
    let app = spawn_app(|_| {}).await;
    let (mut a, _chat, _conv, customer) = setup(&app, "u1").await;
    let before = app.timeline(&customer).await.len();
    a.send(json!({"type": "teleport", "conversation_id": "x"}))
        .await;
    assert_eq!(a.expect("error").await["code"], "unknown_type");
    // Unknown fields are refused too, so typos fail loudly.
    a.send(json!({"type": "ping", "nonse": "typo"})).await;
    assert_eq!(a.expect("error").await["code"], "bad_json");
    assert_eq!(app.timeline(&customer).await.len(), before);
    let (mut chat, _) = Client::visitor(&app).await;
    chat.send(json!({"type": "shout", "text": "x"})).await;
    assert_eq!(chat.expect("error").await["code"], "unknown_type");
}

/// A text over `limits.max_text_bytes` inside a frame the socket accepts gets
/// `too_large` (docs/protocol.md), from the customer and from the agent alike, and
/// nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_over_the_text_limit_is_too_large() {
    let app = spawn_app(|_| {}).await;
    let (mut a, mut chat, conv, customer) = setup(&app, "t1").await;
    chat.sync().await;
    let before = app.timeline(&customer).await.len();
    let long = "x".repeat(20_000); // over the 16,384-byte default, under the 64 KiB frame limit
    chat.send(json!({"type": "message", "client_msg_id": "long", "text": long}))
        .await;
    let e = chat.expect("error").await;
    assert_eq!(
        (e["code"].as_str(), e["ref"].as_str()),
        (Some("too_large"), Some("long"))
    );
    a.send(
        json!({"type": "message", "conversation_id": conv, "client_msg_id": "long", "text": long}),
    )
    .await;
    assert_eq!(a.expect("error").await["code"], "too_large");
    assert_eq!(app.timeline(&customer).await.len(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_message_is_refused_with_too_large() {
    let app = spawn_app(|s| s.limits.max_ws_message_bytes = 4096).await;
    let (mut a, mut chat, conv, customer) = setup(&app, "o1").await;
    chat.sync().await;
    let before = app.timeline(&customer).await.len();
    let big = "あ".repeat(3000); // 9,000 bytes
    a.send(
        json!({"type": "message", "conversation_id": conv, "client_msg_id": "big", "text": big}),
    )
    .await;
    assert_eq!(a.expect("error").await["code"], "too_large");
    chat.send(json!({"type": "message", "client_msg_id": "big", "text": big}))
        .await;
    assert_eq!(chat.expect("error").await["code"], "too_large");
    assert_eq!(app.timeline(&customer).await.len(), before);
    chat.assert_none_before_pong("event").await;
    // A frame beyond the hard cap closes the socket with 1009.
    let mut c = Client::visitor(&app).await.0;
    c.send_raw("x".repeat(200 * 1024)).await;
    let f = c.closed().await;
    assert_eq!(f.map(|f| u16::from(f.code)), Some(1009));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_token_is_rejected_at_the_handshake() {
    let app = spawn_app(|_| {}).await;
    let good = app.agent("w1", &["general"], json!({})).await;
    let mut forged = good.clone();
    forged.replace_range(5..6, if &good[5..6] == "A" { "B" } else { "A" });
    for url in [
        app.ws_url("/ws/agent"),
        app.ws_url("/ws/agent?token=garbage"),
        app.ws_url(&format!("/ws/agent?token={forged}")),
        app.ws_url("/ws/chat?token=garbage"),
        // A staff token is not a visitor token and vice versa.
        app.ws_url(&format!("/ws/chat?token={good}")),
    ] {
        let err = tokio_tungstenite::connect_async(&url)
            .await
            .expect_err("handshake refused");
        match err {
            tokio_tungstenite::tungstenite::Error::Http(r) => assert_eq!(r.status(), 401, "{url}"),
            e => panic!("unexpected {e:?}"),
        }
    }
    let (_, w) = Client::visitor(&app).await;
    let visitor = w["token"].as_str().unwrap();
    let err = tokio_tungstenite::connect_async(app.ws_url(&format!("/ws/agent?token={visitor}")))
        .await
        .expect_err("refused");
    assert!(matches!(err, tokio_tungstenite::tungstenite::Error::Http(r) if r.status() == 401));
    // REST too.
    let r = app
        .http
        .get(format!("{}/api/v1/queues", app.base))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["code"],
        "unauthorized"
    );
    let r = app
        .http
        .post(format!("{}/api/v1/login", app.base))
        .json(&json!({"agent_id": "w1", "password": "wrong-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepting_someone_elses_offer_fails_and_the_offer_stays() {
    let app = spawn_app(|_| {}).await;
    let to = app.agent("owner", &["general"], json!({})).await;
    let mut owner = Client::available(&app, &to).await;
    let tt = app
        .agent(
            "thief",
            &["general"],
            json!({"capacity": {"voice": 1, "chat": 0, "email": 0, "messaging": 0}}),
        )
        .await;
    let mut thief = Client::available(&app, &tt).await;
    let (mut chat, _) = Client::visitor(&app).await;
    chat_say(&mut chat, "hi").await;
    let o = owner.expect("offer").await;
    thief
        .send(json!({"type": "accept", "offer_id": o["offer_id"]}))
        .await;
    let e = thief.expect("error").await;
    assert_eq!(e["code"], "offer_not_found");
    assert_eq!(e["ref"], o["offer_id"]);
    thief
        .send(json!({"type": "reject", "offer_id": o["offer_id"]}))
        .await;
    assert_eq!(thief.expect("error").await["code"], "offer_not_found");
    // The rightful owner can still accept it.
    owner
        .send(json!({"type": "accept", "offer_id": o["offer_id"]}))
        .await;
    owner.expect("conversation_assigned").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writing_to_a_conversation_you_do_not_hold_fails() {
    let app = spawn_app(|_| {}).await;
    let (_a, mut chat, conv, customer) = setup(&app, "holder").await;
    let t = app.agent("intruder", &["general"], json!({})).await;
    let mut other = Client::available(&app, &t).await;
    chat.sync().await;
    let before = app.timeline(&customer).await.len();
    for msg in [
        json!({"type": "message", "conversation_id": conv, "client_msg_id": "i1", "text": "boo"}),
        json!({"type": "note", "conversation_id": conv, "client_msg_id": "i2", "text": "boo"}),
        json!({"type": "resolve", "conversation_id": conv}),
        json!({"type": "transfer", "conversation_id": conv, "queue": "general"}),
    ] {
        other.send(msg).await;
        assert_eq!(other.expect("error").await["code"], "not_yours");
    }
    // History of a customer never served is refused.
    other
        .send(json!({"type": "history", "customer_id": customer}))
        .await;
    assert_eq!(other.expect("error").await["code"], "forbidden");
    assert_eq!(app.timeline(&customer).await.len(), before);
    chat.assert_none_before_pong("event").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_validation_errors_are_typed() {
    let app = spawn_app(|s| s.limits.max_http_body_bytes = 2048).await;
    let cases = [
        (
            json!({"channel": "fax", "address": "x", "text": "t"}),
            400,
            "invalid",
        ),
        (
            json!({"channel": "sms", "address": "090-not-e164", "text": "t"}),
            400,
            "invalid",
        ),
        (
            json!({"channel": "sms", "address": "+819000000001", "text": "   "}),
            400,
            "invalid",
        ),
        (
            json!({"channel": "sms", "address": "+819000000001"}),
            400,
            "bad_json",
        ),
        (
            json!({"channel": "sms", "address": "+819000000001", "text": "t", "extra": 1}),
            400,
            "bad_json",
        ),
        (
            json!({"channel": "sms", "address": "+819000000001", "text": "x".repeat(4000)}),
            413,
            "too_large",
        ),
    ];
    for (body, status, code) in cases {
        let (s, v) = app.post("/api/v1/inbound", body.clone()).await;
        assert_eq!(
            (s, v["code"].as_str().unwrap_or("")),
            (status, code),
            "{body}"
        );
    }
    let (s, q) = app.get("/api/v1/queues/general").await;
    assert_eq!(s, 200);
    assert_eq!(q["waiting"], 0, "nothing was enqueued");
    let (s, v) = app.get("/api/v1/customers/not-a-uuid").await;
    assert_eq!((s, v["code"].as_str().unwrap()), (404, "not_found"));
    let (s, _) = app.get("/api/v1/nothing-here").await;
    assert_eq!(s, 404);
    // Agents cannot use admin routes.
    let t = app.agent("plain", &["general"], json!({})).await;
    let r = app
        .http
        .put(format!("{}/api/v1/queues/x", app.base))
        .bearer_auth(&t)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}
