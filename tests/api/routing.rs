//! Routing features over real sockets, one test each: skills, priority, preferred
//! agent, capacity and backlog pickup, offer timeout, reject, grace-period resume and
//! expiry, transfer, abandonment, overflow, queue limit.

use crate::helpers::*;
use serde_json::{json, Value};

async fn offer_for(c: &mut Client) -> Value {
    c.expect("offer").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skills_with_minimum_proficiency() {
    let app = spawn_app(|_| {}).await;
    app.queue("billing", json!({"required_skills": {"billing": 3}}))
        .await;
    let novice = app
        .agent("novice", &["billing"], json!({"skills": {"billing": 2}}))
        .await;
    let expert = app
        .agent("expert", &["billing"], json!({"skills": {"billing": 4}}))
        .await;
    let mut n = Client::available(&app, &novice).await;
    let mut e = Client::available(&app, &expert).await;
    let (s, _) = app.post("/api/v1/inbound", json!({"channel": "sms", "address": "+819000000001", "text": "invoice?", "queue": "billing"})).await;
    assert_eq!(s, 202);
    let o = offer_for(&mut e).await;
    assert_eq!(o["queue"], "billing");
    n.assert_none_before_pong("offer").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vip_priority_is_served_first() {
    let app = spawn_app(|_| {}).await;
    let t = app
        .agent(
            "solo",
            &["general"],
            json!({"capacity": {"voice": 1, "chat": 1, "email": 1, "messaging": 1}}),
        )
        .await;
    let (s, _) = app
        .post(
            "/api/v1/customers",
            json!({"display_name": "VIP", "priority": 5,
        "identities": [{"channel": "sms", "address": "+819000000099"}]}),
        )
        .await;
    assert_eq!(s, 201);
    // The ordinary customer arrives first, the VIP second; nobody is available yet.
    app.inbound("sms", "+819000000001", "ordinary", None).await;
    app.inbound("sms", "+819000000099", "vip", None).await;
    let mut a = Client::available(&app, &t).await;
    let o = offer_for(&mut a).await;
    assert_eq!(o["preview"], "vip");
    assert_eq!(o["priority"], 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preferred_agent_first_then_widens_after_sticky_wait() {
    // New conversations each time (no reopening): stickiness comes from the customer's
    // last agent, not from reopening the last conversation.
    let app = spawn_app(|s| s.channels.reopen_window_ms = 0).await;
    app.queue(
        "general",
        json!({"sticky_wait_ms": 400, "default_for": ["sms"]}),
    )
    .await;
    app.queue("first-line", json!({})).await;
    let ta = app
        .agent("anna", &["general", "first-line"], json!({}))
        .await;
    let tb = app.agent("ben", &["general"], json!({})).await;
    // Ben becomes available first and stays idle, so longest-idle alone would pick Ben.
    let mut b = Client::available(&app, &tb).await;
    let mut a = Client::available(&app, &ta).await;
    // Anna serves the customer once (in a queue only she is in).
    let (s, _) = app.post("/api/v1/inbound", json!({"channel": "sms", "address": "+819000000002", "text": "first contact", "queue": "first-line"})).await;
    assert_eq!(s, 202);
    let conv = accept_next(&mut a).await;
    a.send(json!({"type": "resolve", "conversation_id": conv["id"]}))
        .await;
    a.expect("conversation_updated").await;
    // The customer returns: Anna (preferred) is offered first although Ben idled longer.
    app.inbound("sms", "+819000000002", "me again", None).await;
    let o = offer_for(&mut a).await;
    assert_eq!(o["preview"], "me again");
    b.assert_none_before_pong("offer").await;
    let trace = app.trace_with(&o["conversation_id"], &["chosen"]).await;
    assert!(
        trace.to_string().contains("preferred"),
        "trace explains the sticky choice: {trace}"
    );
    a.send(json!({"type": "accept", "offer_id": o["offer_id"]}))
        .await;
    let conv = a.expect("conversation_assigned").await["conversation"].clone();
    a.send(json!({"type": "resolve", "conversation_id": conv["id"]}))
        .await;
    a.expect("conversation_updated").await;
    // Anna away: after the sticky wait the conversation widens to Ben.
    a.send(json!({"type": "set_status", "status": "away"}))
        .await;
    a.expect_where("status", |m| m["status"] == "away").await;
    app.inbound("sms", "+819000000002", "third time", None)
        .await;
    let o = offer_for(&mut b).await;
    assert_eq!(o["preview"], "third time");
    assert!(
        o["waited_ms"].as_u64().unwrap() >= 400,
        "offered only after the sticky wait: {o}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capacity_is_respected_and_backlog_is_picked_up_the_instant_a_slot_frees() {
    let app = spawn_app(|_| {}).await;
    let t = app
        .agent(
            "cap",
            &["general"],
            json!({"capacity": {"voice": 1, "chat": 2, "email": 5, "messaging": 5}}),
        )
        .await;
    let mut a = Client::available(&app, &t).await;
    let mut chats = Vec::new();
    for i in 0..3 {
        let (mut c, _) = Client::visitor(&app).await;
        chat_say(&mut c, &format!("chat {i}")).await;
        chats.push(c);
    }
    let c1 = accept_next(&mut a).await;
    let _c2 = accept_next(&mut a).await;
    a.assert_none_before_pong("offer").await;
    let (_, live) = app.get("/api/v1/agents/cap").await;
    assert_eq!(live["live"]["held"].as_array().unwrap().len(), 2);
    // Resolving one frees a slot: the waiting third chat is offered at once.
    a.send(json!({"type": "resolve", "conversation_id": c1["id"]}))
        .await;
    let o = a.expect("offer").await;
    assert_eq!(o["preview"], "chat 2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offer_timeout_goes_to_next_agent_and_missed_agent_goes_away() {
    let app = spawn_app(|_| {}).await;
    app.queue(
        "general",
        json!({"offer_timeout_ms": 300, "max_missed_offers": 1, "default_for": ["sms"]}),
    )
    .await;
    let ta = app.agent("slow", &["general"], json!({})).await;
    let mut a = Client::available(&app, &ta).await;
    let tb = app.agent("fast", &["general"], json!({})).await;
    let mut b = Client::available(&app, &tb).await;
    app.inbound("sms", "+819000000003", "anyone?", None).await;
    // Longest idle: "slow" became available first and gets the first offer.
    let o = a.expect("offer").await;
    let revoked = a.expect("offer_revoked").await;
    assert_eq!(revoked["offer_id"], o["offer_id"]);
    assert_eq!(revoked["outcome"], "timed_out");
    let st = a.expect_where("status", |m| m["status"] == "away").await;
    assert_eq!(st["reason"], "missed");
    let o2 = b.expect("offer").await;
    assert_eq!(o2["conversation_id"], o["conversation_id"]);
    b.send(json!({"type": "accept", "offer_id": o2["offer_id"]}))
        .await;
    b.expect("conversation_assigned").await;
    app.trace_with(&o["conversation_id"], &["timed_out", "accepted"])
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_goes_to_next_agent() {
    let app = spawn_app(|_| {}).await;
    let ta = app.agent("picky", &["general"], json!({})).await;
    let mut a = Client::available(&app, &ta).await;
    let tb = app.agent("keen", &["general"], json!({})).await;
    let mut b = Client::available(&app, &tb).await;
    app.inbound("email", "taro@example.jp", "件名なし", None)
        .await;
    let o = a.expect("offer").await;
    a.send(json!({"type": "reject", "offer_id": o["offer_id"]}))
        .await;
    let r = a.expect("offer_revoked").await;
    assert_eq!(r["outcome"], "rejected");
    let o2 = b.expect("offer").await;
    assert_eq!(o2["conversation_id"], o["conversation_id"]);
    // Not offered back to the agent who rejected it.
    a.assert_none_before_pong("offer").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_reconnect_within_grace_resumes_everything() {
    let app = spawn_app(|s| s.timing.agent_grace_ms = 30_000).await;
    let t = app.agent("roam", &["general"], json!({})).await;
    let mut a = Client::available(&app, &t).await;
    let (mut chat, _) = Client::visitor(&app).await;
    chat_say(&mut chat, "before the drop").await;
    let conv = accept_next(&mut a).await;
    a.close().await;
    // While the agent is away the customer keeps writing.
    chat_say(&mut chat, "while you were gone").await;
    let mut again = Client::connect(&app.ws_url(&format!("/ws/agent?token={t}"))).await;
    let w = again.expect("welcome").await;
    assert_eq!(w["resumed"], true);
    assert_eq!(w["status"], "available");
    let convs = w["conversations"].as_array().unwrap();
    assert_eq!(convs.len(), 1);
    assert_eq!(convs[0]["id"], conv["id"]);
    let texts: Vec<&str> = convs[0]["recent"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["text"].as_str())
        .collect();
    assert!(
        texts.contains(&"before the drop") && texts.contains(&"while you were gone"),
        "{texts:?}"
    );
    agent_say(&mut again, &conv["id"], "back").await;
    chat.expect_where("event", |m| m["event"]["text"] == "back")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_gone_past_grace_gives_the_conversation_back() {
    let app = spawn_app(|s| s.timing.agent_grace_ms = 300).await;
    let ta = app.agent("leaver", &["general"], json!({})).await;
    let mut a = Client::available(&app, &ta).await;
    let (mut chat, _) = Client::visitor(&app).await;
    chat_say(&mut chat, "help").await;
    let conv = accept_next(&mut a).await;
    let tb = app.agent("stayer", &["general"], json!({})).await;
    let mut b = Client::available(&app, &tb).await;
    a.close().await;
    let o = b.expect("offer").await;
    assert_eq!(o["conversation_id"], conv["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_to_another_queue_keeps_the_history() {
    let app = spawn_app(|_| {}).await;
    app.queue("billing", json!({"required_skills": {"billing": 3}}))
        .await;
    let ta = app.agent("front", &["general"], json!({})).await;
    let tb = app
        .agent("money", &["billing"], json!({"skills": {"billing": 5}}))
        .await;
    let mut a = Client::available(&app, &ta).await;
    let mut b = Client::available(&app, &tb).await;
    let (mut chat, _) = Client::visitor(&app).await;
    chat_say(&mut chat, "請求書が二重です").await;
    let conv = accept_next(&mut a).await;
    agent_say(&mut a, &conv["id"], "Transferring you to billing").await;
    a.send(json!({"type": "transfer", "conversation_id": conv["id"], "queue": "billing"}))
        .await;
    let upd = a.expect("conversation_updated").await;
    assert_eq!(upd["held"], false);
    let c2 = accept_next(&mut b).await;
    assert_eq!(c2["id"], conv["id"]);
    let texts: Vec<&str> = c2["recent"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["text"].as_str())
        .collect();
    assert!(
        texts.contains(&"請求書が二重です") && texts.contains(&"Transferring you to billing"),
        "{texts:?}"
    );
    assert!(c2["recent"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["type"] == "transferred"));
    // The first agent no longer holds it.
    let id = "after-transfer";
    a.send(
        json!({"type": "message", "conversation_id": conv["id"], "client_msg_id": id, "text": "x"}),
    )
    .await;
    let e = a.expect("error").await;
    assert_eq!(e["code"], "not_yours");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_leaving_while_queued_is_abandoned() {
    let app = spawn_app(|_| {}).await;
    let (mut chat, w) = Client::visitor(&app).await;
    chat_say(&mut chat, "hello?").await;
    chat.send(json!({"type": "leave"})).await;
    chat.expect_where("conversation", |m| m["state"] == "abandoned")
        .await;
    let t = app.agent("late", &["general"], json!({})).await;
    let mut a = Client::available(&app, &t).await;
    a.assert_none_before_pong("offer").await;
    let events = app.timeline(w["customer_id"].as_str().unwrap()).await;
    assert_eq!(types(&events).last().unwrap(), "abandoned");
    let (_, q) = app.get("/api/v1/queues/general").await;
    assert_eq!(q["waiting"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visitor_who_closes_the_tab_is_abandoned_after_the_grace_period() {
    let app = spawn_app(|s| s.timing.visitor_grace_ms = 200).await;
    let (mut chat, w) = Client::visitor(&app).await;
    chat_say(&mut chat, "anyone?").await;
    chat.close().await;
    let customer = w["customer_id"].as_str().unwrap().to_owned();
    app.timeline_until(&customer, "abandoned", |ev| {
        types(ev).contains(&"abandoned".to_owned())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overflow_moves_a_waiting_conversation_to_another_queue() {
    let app = spawn_app(|_| {}).await;
    app.queue("backup", json!({})).await;
    app.queue(
        "front",
        json!({"overflow": {"after_ms": 300, "to": "backup"}}),
    )
    .await;
    let t = app.agent("backstop", &["backup"], json!({})).await;
    let mut a = Client::available(&app, &t).await;
    let (s, v) = app
        .post(
            "/api/v1/inbound",
            json!({"channel": "line", "address": "U4af4980629", "text": "hi", "queue": "front"}),
        )
        .await;
    assert_eq!(s, 202);
    let o = a.expect("offer").await;
    assert_eq!(o["queue"], "backup");
    assert!(o["waited_ms"].as_u64().unwrap() >= 300);
    let events = app.timeline(v["customer_id"].as_str().unwrap()).await;
    assert!(types(&events).contains(&"overflowed".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_queue_refuses_clearly_and_stores_nothing() {
    let app = spawn_app(|_| {}).await;
    app.queue("general", json!({"max_waiting": 1, "default_for": ["sms"]}))
        .await;
    app.inbound("sms", "+819000000010", "one", None).await;
    let (s, v) = app
        .post(
            "/api/v1/inbound",
            json!({"channel": "sms", "address": "+819000000011", "text": "two"}),
        )
        .await;
    assert_eq!(s, 503, "{v}");
    assert_eq!(v["code"], "queue_full");
    let (_, q) = app.get("/api/v1/queues/general").await;
    assert_eq!(q["waiting"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_agent_who_missed_an_offer_gets_it_again_when_back() {
    let app = spawn_app(|_| {}).await;
    app.queue(
        "general",
        json!({"offer_timeout_ms": 300, "max_missed_offers": 1}),
    )
    .await;
    let t = app.agent("solo", &["general"], json!({})).await;
    let mut a = Client::available(&app, &t).await;
    let (mut chat, _) = Client::visitor(&app).await;
    chat_say(&mut chat, "is anyone there?").await;
    let o = a.expect("offer").await;
    a.expect_where("status", |m| m["status"] == "away").await;
    // Nobody else serves the queue; without a reset it would wait for ever.
    a.send(json!({"type": "set_status", "status": "available"}))
        .await;
    let again = a.expect("offer").await;
    assert_eq!(again["conversation_id"], o["conversation_id"]);
    assert_ne!(again["offer_id"], o["offer_id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_the_named_agent_declines_falls_back_to_the_queue() {
    let app = spawn_app(|_| {}).await;
    let ta = app.agent("first", &["general"], json!({})).await;
    let mut a = Client::available(&app, &ta).await;
    let tb = app.agent("named", &["general"], json!({})).await;
    let mut b = Client::available(&app, &tb).await;
    let (mut chat, _) = Client::visitor(&app).await;
    chat_say(&mut chat, "I need Named").await;
    // Longest idle: "first" became available first.
    let conv = accept_next(&mut a).await;
    b.sync().await;
    a.send(json!({"type": "transfer", "conversation_id": conv["id"], "agent": "named"}))
        .await;
    a.expect_where("conversation_updated", |m| m["held"] == false)
        .await;
    let o = b.expect("offer").await;
    assert_eq!(o["conversation_id"], conv["id"]);
    b.send(json!({"type": "reject", "offer_id": o["offer_id"]}))
        .await;
    // Open to the whole queue again: the first agent (who has room) is offered it.
    let back = a.expect("offer").await;
    assert_eq!(back["conversation_id"], conv["id"]);
    app.trace_with(&conv["id"], &["widened"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_reaches_the_agent_oldest_first() {
    let app = spawn_app(|_| {}).await;
    let t = app.agent("backlog", &["general"], json!({})).await;
    let mut a = Client::agent(&app, &t).await; // away: the backlog builds up
    let mut expected = Vec::new();
    for i in 0..3 {
        let ack = app
            .inbound("sms", &format!("+8190000001{i:02}"), "順番に", None)
            .await;
        expected.push(ack["conversation_id"].clone());
    }
    a.send(json!({"type": "set_status", "status": "available"}))
        .await;
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(a.expect("offer").await["conversation_id"].clone());
    }
    assert_eq!(got, expected, "offer cards arrive in routing order");
}

/// `default_for` as docs/api.md says: on a fresh engine the start-up queue `general`
/// is the default of every channel; a queue that names a channel in its `default_for`
/// takes that channel (and only that one) from `general`, so new conversations on it
/// land there at once. A queue created without a display name shows its name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_for_moves_a_channel_to_the_queue_that_claims_it() {
    let app = spawn_app(|_| {}).await;
    let (s, sales) = app
        .put("/api/v1/queues/sales", json!({"default_for": ["sms"]}))
        .await;
    assert_eq!(s, 200, "{sales}");
    assert_eq!(sales["display_name"], "sales");
    let queue_of = |channel: &'static str, address: &'static str| {
        let app = &app;
        async move {
            let (s, ack) = app
                .post(
                    "/api/v1/inbound",
                    json!({"channel": channel, "address": address, "text": "hello"}),
                )
                .await;
            assert_eq!(s, 202, "{ack}");
            let id = ack["conversation_id"].as_str().unwrap().to_owned();
            let (_, conv) = app.get(&format!("/api/v1/conversations/{id}")).await;
            conv["queue"].as_str().unwrap().to_owned()
        }
    };
    assert_eq!(queue_of("sms", "+819012340001").await, "sales");
    assert_eq!(queue_of("email", "a@example.com").await, "general");

    // Moving it back is the same rule the other way.
    app.queue("general", json!({"default_for": ["sms", "email"]}))
        .await;
    assert_eq!(queue_of("sms", "+819012340002").await, "general");
}

/// POST /api/v1/inbound takes a channel whose connector is off (the integration is the
/// door, docs/api.md), and the conversation is routed as any other; an agent's reply
/// on that channel is then refused `invalid` and stores nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_on_a_disabled_connector_routes_but_replies_are_refused() {
    let app = spawn_app(|s| s.channels.sms.enabled = false).await;
    let t = app.agent("rin", &["general"], json!({})).await;
    let mut a = Client::available(&app, &t).await;
    let ack = app
        .inbound("sms", "+819000000077", "hello from a gateway", None)
        .await;
    let customer = ack["customer_id"].as_str().unwrap().to_owned();
    let conv = accept_next(&mut a).await;
    // The queue records the offer's outcome in the background; compare settled
    // timelines (the same race bad_input.rs waits out).
    let before = app
        .timeline_until(&customer, "offer_closed", |ev| {
            ev.iter().any(|e| e["type"] == "offer_closed")
        })
        .await
        .len();
    a.send(json!({"type": "message", "conversation_id": conv["id"],
        "client_msg_id": "r1", "text": "hi"}))
        .await;
    let e = a.expect("error").await;
    assert_eq!(
        (e["code"].as_str(), e["ref"].as_str()),
        (Some("invalid"), Some("r1"))
    );
    assert!(
        e["message"].as_str().unwrap().contains("not enabled"),
        "{e}"
    );
    assert_eq!(app.timeline(&customer).await.len(), before);
}
