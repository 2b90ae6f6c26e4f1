//! Parking over real sockets: an agent parks an SMS conversation and its slot frees at
//! once (the next contact is offered to them); when the customer writes again the
//! conversation waits for that agent, not for the other free one, and is offered to
//! them when their slot frees; the engine parks after the customer's silence (on a
//! clock the test moves); the parked list survives a restart and is bounded; the agent
//! takes a parked conversation back or resolves it; what cannot be parked is refused
//! and changes nothing.

use crate::helpers::*;
use serde_json::{json, Value};
use switchboard::domain::time::ManualClock;
use switchboard::domain::Millis;

const T0: i64 = 1_800_000_000_000;

/// One slot of each kind: a parked conversation that still took a slot would leave
/// none.
fn one_slot() -> Value {
    json!({"capacity": {"voice": 1, "chat": 1, "email": 1, "messaging": 1}})
}

/// An SMS from `address` to `support`; returns (conversation, customer).
async fn sms(app: &TestApp, address: &str, text: &str) -> (Value, String) {
    let (s, v) = app
        .post(
            "/api/v1/inbound",
            json!({"channel": "sms", "address": address, "text": text, "queue": "support"}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    (
        v["conversation_id"].clone(),
        v["customer_id"].as_str().unwrap().to_owned(),
    )
}

async fn state_of(app: &TestApp, conv: &Value) -> Value {
    let (s, c) = app
        .get(&format!("/api/v1/conversations/{}", conv.as_str().unwrap()))
        .await;
    assert_eq!(s, 200, "{c}");
    c
}

/// The agent parks `conv` and is told it is parked and no longer held.
async fn park(agent: &mut Client, conv: &Value) {
    agent
        .send(json!({"type": "park", "conversation_id": conv}))
        .await;
    let u = agent
        .expect_where("conversation_updated", |m| m["conversation_id"] == *conv)
        .await;
    assert_eq!(
        (u["state"].as_str(), u["held"].as_bool()),
        (Some("parked"), Some(false)),
        "{u}"
    );
}

/// The agent's request about `conv` is refused with `code`.
async fn refused(agent: &mut Client, request: Value, conv: &Value, code: &str) {
    agent.send(request).await;
    let e = agent.expect_where("error", |m| m["ref"] == *conv).await;
    assert_eq!(e["code"], code, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parked_conversation_frees_the_slot_and_returns_to_its_agent() {
    let clock = ManualClock::new(Millis(T0));
    let app = spawn_app_with_clock(|s| s.parking.auto_park_after_ms = 0, clock.clone()).await;
    app.queue("support", json!({"sticky_wait_ms": 60_000}))
        .await;
    let amy = app.agent("amy", &["support"], one_slot()).await;
    let mut amy = Client::available(&app, &amy).await;

    let (a, customer_a) = sms(&app, "+819011110001", "注文の件で").await;
    assert_eq!(accept_next(&mut amy).await["id"], a);
    park(&mut amy, &a).await;
    let c = state_of(&app, &a).await;
    assert_eq!(
        (c["state"].as_str(), c["agent"].as_str()),
        (Some("parked"), None),
        "{c}"
    );
    let (_, me) = app.get("/api/v1/agents/amy").await;
    assert_eq!(me["live"]["parked"], json!([a]), "{me}");
    assert_eq!(me["live"]["held"], json!([]), "{me}");

    // The only messaging slot is free: the next contact is offered to Amy.
    let (b, _) = sms(&app, "+819011110002", "配送について").await;
    assert_eq!(accept_next(&mut amy).await["id"], b);

    // Bob is free too; the customer of the parked conversation writes again.
    let bob = app.agent("bob", &["support"], one_slot()).await;
    let mut bob = Client::available(&app, &bob).await;
    let (again, _) = sms(&app, "+819011110001", "追加で質問です").await;
    assert_eq!(again, a, "the parked conversation continues");
    let u = amy
        .expect_where("conversation_updated", |m| m["conversation_id"] == a)
        .await;
    assert_eq!(
        (u["state"].as_str(), u["held"].as_bool()),
        (Some("queued"), Some(false)),
        "{u}"
    );
    // It waits for Amy (her sticky wait), not for Bob: enqueued for her, then no offer
    // to Bob.
    app.get_until(
        &format!("/api/v1/conversations/{}/trace", a.as_str().unwrap()),
        "enqueued again for amy",
        |t| {
            t["steps"].as_array().is_some_and(|s| {
                s.iter().any(|s| {
                    s["step"] == "enqueued"
                        && s["detail"].as_str().unwrap_or("").contains("preferred=amy")
                })
            })
        },
    )
    .await;
    bob.assert_none_before_pong("offer").await;

    // Amy resolves the other conversation: the returning one is hers again.
    amy.send(json!({"type": "resolve", "conversation_id": b}))
        .await;
    let back = accept_next(&mut amy).await;
    assert_eq!(back["id"], a);
    let c = state_of(&app, &a).await;
    assert_eq!(
        (c["state"].as_str(), c["agent"].as_str()),
        (Some("assigned"), Some("amy"))
    );

    let kinds = types(&app.timeline(&customer_a).await);
    let from_park: Vec<&str> = kinds
        .iter()
        .map(String::as_str)
        .skip_while(|k| *k != "parked")
        .filter(|k| ["parked", "message_in", "queued", "assigned"].contains(k))
        .collect();
    assert_eq!(
        from_park,
        ["parked", "message_in", "queued", "assigned"],
        "{kinds:?}"
    );

    // Reports: one park by the agent, and the return offered to the queue again.
    let from = T0 - 3_600_000;
    let r = app
        .get_until(
            &format!(
                "/api/v1/reports?from={from}&to={}&interval=day&group=queue",
                from + 86_400_000
            ),
            "the park reported",
            |r| r["rows"][0]["parked"] == 1,
        )
        .await;
    let row = &r["rows"][0];
    assert_eq!(
        (row["parked"].as_u64(), row["auto_parked"].as_u64()),
        (Some(1), Some(0)),
        "{r:#}"
    );
    assert_eq!(row["offered"], 3, "two new contacts and one return: {r:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_parks_after_the_customers_silence() {
    let clock = ManualClock::new(Millis(T0));
    let app = spawn_app_with_clock(
        |s| {
            s.parking.auto_park_after_ms = 600_000;
            s.parking.check_ms = 20;
        },
        clock.clone(),
    )
    .await;
    app.queue("support", json!({})).await;
    let amy = app.agent("amy", &["support"], one_slot()).await;
    let mut amy = Client::available(&app, &amy).await;
    let (a, customer) = sms(&app, "+819011110003", "見積もりをください").await;
    assert_eq!(accept_next(&mut amy).await["id"], a);

    // Nine minutes on the customer writes again; nine more and they have been silent
    // for nine: still held. One more minute and the engine parks it.
    clock.advance_ms(540_000);
    sms(&app, "+819011110003", "まだですか").await;
    amy.expect_where("event", |m| {
        m["event"]["type"] == "message_in" && m["event"]["text"] == "まだですか"
    })
    .await;
    clock.advance_ms(540_000);
    amy.assert_none_where_before_pong("conversation_updated", |m| m["conversation_id"] == a)
        .await;
    assert_eq!(state_of(&app, &a).await["state"], "assigned");
    clock.advance_ms(60_000);
    let u = amy
        .expect_where("conversation_updated", |m| m["conversation_id"] == a)
        .await;
    assert_eq!(u["state"], "parked", "{u}");
    let t = app.timeline(&customer).await;
    let parked = t
        .iter()
        .find(|e| e["type"] == "parked")
        .expect("parked event");
    assert_eq!(
        (parked["agent_id"].as_str(), parked["auto"].as_bool()),
        (Some("amy"), Some(true)),
        "{parked}"
    );

    // The slot is free again.
    let (b, _) = sms(&app, "+819011110004", "別件です").await;
    assert_eq!(accept_next(&mut amy).await["id"], b);
    let metrics = metrics_text(&app.http, &app.base).await;
    assert!(
        metrics
            .contains("switchboard_conversations_parked_total{queue=\"support\",by=\"engine\"} 1")
            || metrics.contains(
                "switchboard_conversations_parked_total{by=\"engine\",queue=\"support\"} 1"
            ),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parking_is_bounded_refuses_what_cannot_park_and_survives_a_restart() {
    let clock = ManualClock::new(Millis(T0));
    let tweak = |s: &mut switchboard::config::Settings| {
        s.parking.auto_park_after_ms = 0;
        s.parking.max_per_agent = 1;
    };
    let app = spawn_app_with_clock(tweak, clock.clone()).await;
    app.queue("support", json!({"sticky_wait_ms": 60_000}))
        .await;
    let two = json!({"capacity": {"voice": 1, "chat": 1, "email": 1, "messaging": 2}});
    let token = app.agent("amy", &["support"], two).await;
    let mut amy = Client::available(&app, &token).await;
    let (a, _) = sms(&app, "+819011110005", "一件目").await;
    assert_eq!(accept_next(&mut amy).await["id"], a);
    let (b, _) = sms(&app, "+819011110006", "二件目").await;
    assert_eq!(accept_next(&mut amy).await["id"], b);

    // Taking back or resolving what was never parked, parking what is not held.
    refused(
        &mut amy,
        json!({"type": "unpark", "conversation_id": a}),
        &a,
        "not_yours",
    )
    .await;
    park(&mut amy, &a).await;
    refused(
        &mut amy,
        json!({"type": "park", "conversation_id": a}),
        &a,
        "not_yours",
    )
    .await;
    // The bound: one parked per agent here.
    refused(
        &mut amy,
        json!({"type": "park", "conversation_id": b}),
        &b,
        "conflict",
    )
    .await;
    assert_eq!(state_of(&app, &b).await["state"], "assigned");
    // A web chat cannot be parked (the visitor waits on the page).
    amy.send(json!({"type": "set_status", "status": "away", "reason": "break"}))
        .await;
    amy.expect("status").await;
    let (s, v) = app
        .put(
            "/api/v1/agents/cathy",
            json!({"display_name": "Cathy", "password": "cathy-password",
             "role": "agent", "queues": ["general"]}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let cathy = app.login("cathy", "cathy-password").await;
    let mut cathy = Client::available(&app, &cathy).await;
    let (mut visitor, _) = Client::visitor(&app).await;
    chat_say(&mut visitor, "こんにちは").await;
    let chat = accept_next(&mut cathy).await["id"].clone();
    refused(
        &mut cathy,
        json!({"type": "park", "conversation_id": chat}),
        &chat,
        "invalid",
    )
    .await;
    assert_eq!(state_of(&app, &chat).await["state"], "assigned");

    // A restart: Amy's parked list comes back; she takes the conversation back (it is
    // offered to her, into her free slot), parks it again and resolves it from the list.
    amy.close().await;
    cathy.close().await;
    let dir = app.stop();
    let app = spawn_app_in_with_clock(dir, tweak, clock.clone()).await;
    let token = app.login("amy", "amy-password").await;
    let mut amy = Client::connect(&app.ws_url(&format!("/ws/agent?token={token}"))).await;
    let welcome = amy.expect("welcome").await;
    let parked: Vec<&Value> = welcome["parked"].as_array().unwrap().iter().collect();
    assert_eq!(parked.len(), 1, "{welcome:#}");
    assert_eq!(
        (
            &parked[0]["conversation_id"],
            parked[0]["channel"].as_str(),
            parked[0]["queue"].as_str()
        ),
        (&a, Some("sms"), Some("support")),
        "{welcome:#}"
    );
    amy.send(json!({"type": "set_status", "status": "available"}))
        .await;
    amy.expect("status").await;
    amy.send(json!({"type": "unpark", "conversation_id": a}))
        .await;
    let u = amy
        .expect_where("conversation_updated", |m| m["conversation_id"] == a)
        .await;
    assert_eq!(
        (u["state"].as_str(), u["held"].as_bool()),
        (Some("queued"), Some(false)),
        "{u}"
    );
    assert_eq!(accept_next(&mut amy).await["id"], a);
    park(&mut amy, &a).await;
    amy.send(json!({"type": "resolve", "conversation_id": a}))
        .await;
    let u = amy
        .expect_where("conversation_updated", |m| m["conversation_id"] == a)
        .await;
    assert_eq!(u["state"], "resolved", "{u}");
    assert_eq!(state_of(&app, &a).await["state"], "resolved");
    let (_, me) = app.get("/api/v1/agents/amy").await;
    assert_eq!(me["live"]["parked"], json!([]), "{me}");
    assert_eq!(me["live"]["held"], json!([b]), "{me}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_desktop_parks_takes_back_and_resolves_in_a_real_browser() {
    let app = spawn_app(|s| s.parking.auto_park_after_ms = 0).await;
    app.queue("support", json!({"sticky_wait_ms": 60_000}))
        .await;
    app.agent("amy", &["support"], one_slot()).await;
    let admin = app.admin.clone();
    run_browser_script(
        &app,
        "agent_park.mjs",
        &[
            ("AGENT_ID", "amy"),
            ("AGENT_PASSWORD", "amy-password"),
            ("ADMIN_TOKEN", &admin),
        ],
        "park browser test passed",
    )
    .await;
    // What the page did is what the engine stored: three parks, two returns (the
    // customer's message, the take-back), one resolution.
    let customer = crate::channels::customer_of(&app, "sms", "+819055550001")
        .await
        .expect("the customer");
    let events = app.timeline(customer["id"].as_str().unwrap()).await;
    let resolved = events
        .iter()
        .find(|e| e["type"] == "resolved")
        .expect("resolved");
    assert_eq!(
        resolved["disposition"], "follow_up",
        "chosen in the dialog: {resolved}"
    );
    let kinds = types(&events);
    let count = |k: &str| kinds.iter().filter(|t| t.as_str() == k).count();
    assert_eq!(
        (count("parked"), count("assigned"), count("resolved")),
        (3, 3, 1),
        "{kinds:?}"
    );
}
