//! The core flow: a customer chats, an agent is offered, accepts, they talk both ways,
//! the agent resolves; the timeline holds every event in order.

use crate::helpers::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_to_agent_and_back_then_resolve() {
    let app = spawn_app(|_| {}).await;
    let token = app.agent("alice", &["general"], json!({})).await;
    let mut agent = Client::available(&app, &token).await;

    let (mut chat, welcome) = Client::visitor(&app).await;
    assert!(welcome["token"].as_str().unwrap().len() > 20);
    let customer = welcome["customer_id"].as_str().unwrap().to_owned();
    let ack = chat_say(&mut chat, "注文の配送について質問があります").await;
    assert_eq!(ack["duplicate"], false);
    let queued = chat.expect("conversation").await;
    assert_eq!(queued["state"], "queued");

    let offer = agent.expect("offer").await;
    assert_eq!(offer["preview"], "注文の配送について質問があります");
    assert_eq!(offer["channel"], "chat");
    assert_eq!(offer["customer"]["id"], customer.as_str());
    agent
        .send(json!({"type": "accept", "offer_id": offer["offer_id"]}))
        .await;
    let conv = agent.expect("conversation_assigned").await["conversation"].clone();
    assert_eq!(conv["state"], "assigned");
    assert!(conv["recent"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["type"] == "message_in"));
    let conv_id = conv["id"].clone();
    let assigned = chat
        .expect_where("conversation", |m| m["state"] == "assigned")
        .await;
    assert_eq!(assigned["agent_name"], "ALICE");

    agent_say(&mut agent, &conv_id, "かしこまりました。確認します。").await;
    let reply = chat
        .expect_where("event", |m| m["event"]["type"] == "message_out")
        .await;
    assert_eq!(reply["event"]["text"], "かしこまりました。確認します。");

    chat_say(&mut chat, "Thank you!").await;
    let got = agent
        .expect_where("event", |m| m["event"]["type"] == "message_in")
        .await;
    assert_eq!(got["event"]["text"], "Thank you!");
    assert_eq!(got["conversation_id"], conv_id);

    // An internal note is stored but never reaches the customer.
    let id = uuid::Uuid::new_v4().to_string();
    agent.send(json!({"type": "note", "conversation_id": conv_id, "client_msg_id": id, "text": "VIP, be kind"})).await;
    agent
        .expect_where("ack", |m| m["client_msg_id"] == id.as_str())
        .await;

    agent
        .send(json!({"type": "resolve", "conversation_id": conv_id, "disposition": "resolved"}))
        .await;
    let upd = agent.expect("conversation_updated").await;
    assert_eq!(upd["state"], "resolved");
    assert_eq!(upd["held"], false);
    chat.expect_where("conversation", |m| m["state"] == "resolved")
        .await;
    chat.assert_none_before_pong("note").await;

    let events = app.timeline(&customer).await;
    let t: Vec<String> = types(&events)
        .into_iter()
        .filter(|t| t != "offered" && t != "offer_closed")
        .collect();
    assert_eq!(
        t,
        [
            "conversation_opened",
            "message_in",
            "queued",
            "assigned",
            "message_out",
            "message_in",
            "note",
            "resolved"
        ],
        "{events:#?}"
    );
    // Routing events are in the log too, in order: offered before its outcome.
    let all = types(&events);
    let offered = all
        .iter()
        .position(|t| t == "offered")
        .expect("offered recorded");
    let closed = all
        .iter()
        .position(|t| t == "offer_closed")
        .expect("outcome recorded");
    assert!(offered < closed);
    let (_, conv) = app
        .get(&format!(
            "/api/v1/conversations/{}",
            conv_id.as_str().unwrap()
        ))
        .await;
    assert_eq!(conv["state"], "resolved");
    assert_eq!(conv["disposition"], "resolved");

    // The routing trace explains the decision.
    app.trace_with(&conv_id, &["enqueued", "offered", "accepted"])
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visitor_token_resumes_the_same_customer_and_history() {
    let app = spawn_app(|_| {}).await;
    let (mut chat, welcome) = Client::visitor(&app).await;
    chat_say(&mut chat, "first message").await;
    chat.close().await;
    let token = welcome["token"].as_str().unwrap();
    let mut again = Client::connect(&app.ws_url(&format!("/ws/chat?token={token}"))).await;
    let w = again.expect("welcome").await;
    assert_eq!(w["customer_id"], welcome["customer_id"]);
    assert_eq!(w["conversation"]["state"], "queued");
    assert_eq!(w["history"][0]["text"], "first message");
    // A retried message (same client id) is stored once.
    let id = "retry-1";
    again
        .send(json!({"type": "message", "client_msg_id": id, "text": "hello"}))
        .await;
    let a1 = again
        .expect_where("ack", |m| m["client_msg_id"] == id)
        .await;
    again
        .send(json!({"type": "message", "client_msg_id": id, "text": "hello"}))
        .await;
    let a2 = again
        .expect_where("ack", |m| m["client_msg_id"] == id)
        .await;
    assert_eq!(a1["event_id"], a2["event_id"]);
    assert_eq!(a2["duplicate"], true);
    let events = app.timeline(welcome["customer_id"].as_str().unwrap()).await;
    assert_eq!(events.iter().filter(|e| e["text"] == "hello").count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_metrics_and_openapi() {
    let app = spawn_app(|_| {}).await;
    let r = app
        .http
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .http
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    app.inbound("sms", "+81 90 1111 2222", "hello", None).await;
    let text = metrics_text(&app.http, &app.base).await;
    for name in [
        "switchboard_queue_waiting",
        "switchboard_messages_total",
        "switchboard_conversations_opened_total",
        "switchboard_queue_longest_wait_seconds",
    ] {
        assert!(text.contains(name), "{name} missing from /metrics:\n{text}");
    }
    let (s, doc) = app.get("/api/v1/openapi.json").await;
    assert_eq!(s, 200);
    for p in [
        "/api/v1/login",
        "/api/v1/inbound",
        "/api/v1/customers/{id}/timeline",
        "/api/v1/conversations/{id}/trace",
        "/api/v1/customers/{id}/identities",
        "/api/v1/customers/{id}/merge",
        "/api/v1/customers/{id}/unmerge",
        "/ws/agent",
        "/ws/chat",
    ] {
        assert!(doc["paths"].get(p).is_some(), "openapi lacks {p}");
    }
    // The web clients are served.
    for p in ["/agent/", "/chat/"] {
        let r = app
            .http
            .get(format!("{}{p}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{p}");
        assert!(r.text().await.unwrap().contains("<html"), "{p} is a page");
    }
}
