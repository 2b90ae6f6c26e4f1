//! Faults inside a running engine, over real sockets: the store failing writes (through
//! a [`FaultyStore`] wrapper), actors crashing (a test-only panic message), and agent
//! sockets dropping in the middle of an offer. Each test proves the same promise: what
//! was acknowledged is stored once, what was not is not, and no conversation or agent
//! is left in a wrong state.

use crate::channels::{twilio_signed, PUBLIC, TWILIO_TOKEN};
use crate::helpers::*;
use serde_json::{json, Value};
use switchboard::actors::messages::{InjectPanic, OfferClosed};
use switchboard::domain::{AgentId, ConversationId, CustomerId, OfferId, OfferOutcome, QueueName};
use switchboard::store::faulty::{Fault, Op};
use switchboard::store::StoreError;

fn sms_on(s: &mut switchboard::config::Settings) {
    let c = &mut s.channels;
    c.public_url = PUBLIC.into();
    c.sms.enabled = true;
    c.sms.account_sid = "AC0123456789abcdef".into();
    c.sms.auth_token = TWILIO_TOKEN.into();
    c.sms.from_number = "+15005550006".into();
    c.sms.api_base = "http://127.0.0.1:9".into();
}

async fn sms_webhook(app: &TestApp, sid: &str, from: &str, body: &str) -> u16 {
    let params = [
        ("MessageSid", sid),
        ("AccountSid", "AC0123456789abcdef"),
        ("From", from),
        ("To", "+15005550006"),
        ("Body", body),
        ("NumMedia", "0"),
    ];
    twilio_signed(&app.http, &app.base, "/webhooks/twilio/sms", &params)
        .await
        .status()
        .as_u16()
}

fn count_text(events: &[Value], text: &str) -> usize {
    events
        .iter()
        .filter(|e| e["type"] == "message_in" && e["text"] == text)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_store_write_is_not_acknowledged_and_the_retry_is_stored_once() {
    let (app, store) = spawn_app_with_faults(sms_on).await;
    let (mut visitor, w) = Client::visitor(&app).await;
    let visitor_id = w["customer_id"].as_str().unwrap().to_owned();
    chat_say(&mut visitor, "hello").await;
    assert_eq!(
        sms_webhook(&app, "SM-1", "+819044440000", "first").await,
        200
    );
    let sms_customer = app
        .inbound("sms", "+819044440000", "second", Some("r-0"))
        .await;
    let sms_customer = sms_customer["customer_id"].as_str().unwrap().to_owned();

    store.set(
        Op::Commit,
        Fault::Fail(StoreError::Backend("disk full".into())),
    );
    // The webhook is told to retry; REST gets 503 with Retry-After; chat gets an error
    // frame naming its client id. Nothing is acknowledged.
    assert_eq!(
        sms_webhook(&app, "SM-2", "+819044440000", "lost?").await,
        503
    );
    let r = app
        .http
        .post(format!("{}/api/v1/inbound", app.base))
        .bearer_auth(&app.admin)
        .json(&json!({"channel": "sms", "address": "+819044440000", "text": "rest lost?", "client_msg_id": "r-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.headers().get("retry-after").is_some());
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "unavailable");
    visitor
        .send(json!({"type": "message", "client_msg_id": "c-1", "text": "chat lost?"}))
        .await;
    let err = visitor.expect("error").await;
    assert_eq!(err["code"], "unavailable");
    assert_eq!(err["ref"], "c-1");

    store.heal();
    let events = app.timeline(&sms_customer).await;
    assert_eq!(count_text(&events, "lost?"), 0);
    assert_eq!(count_text(&events, "rest lost?"), 0);
    assert_eq!(
        count_text(&app.timeline(&visitor_id).await, "chat lost?"),
        0
    );

    // Every channel retries with its id: stored once, a second retry is a duplicate.
    assert_eq!(
        sms_webhook(&app, "SM-2", "+819044440000", "lost?").await,
        200
    );
    assert_eq!(
        sms_webhook(&app, "SM-2", "+819044440000", "lost?").await,
        200
    );
    let a = app
        .inbound("sms", "+819044440000", "rest lost?", Some("r-1"))
        .await;
    assert_eq!(a["duplicate"], false);
    let b = app
        .inbound("sms", "+819044440000", "rest lost?", Some("r-1"))
        .await;
    assert_eq!(b["duplicate"], true);
    assert_eq!(a["event_id"], b["event_id"]);
    for dup in [false, true] {
        visitor
            .send(json!({"type": "message", "client_msg_id": "c-1", "text": "chat lost?"}))
            .await;
        let ack = visitor
            .expect_where("ack", |m| m["client_msg_id"] == "c-1")
            .await;
        assert_eq!(ack["duplicate"], dup);
    }
    let events = app.timeline(&sms_customer).await;
    assert_eq!(count_text(&events, "lost?"), 1);
    assert_eq!(count_text(&events, "rest lost?"), 1);
    assert_eq!(
        count_text(&app.timeline(&visitor_id).await, "chat lost?"),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_conversation_whose_write_fails_is_never_offered_for_good() {
    // The queue admits a new conversation before its commit; when the commit fails the
    // entry is withdrawn. An available agent must end up holding nothing from it.
    let (app, store) = spawn_app_with_faults(|_| {}).await;
    let token = app
        .agent(
            "ann",
            &["general"],
            json!({"capacity": {"voice": 1, "chat": 1, "email": 1, "messaging": 1}}),
        )
        .await;
    let mut ann = Client::available(&app, &token).await;
    store.set(
        Op::Commit,
        Fault::Fail(StoreError::Backend("disk full".into())),
    );
    let r = app
        .post(
            "/api/v1/inbound",
            json!({"channel": "chat", "address": "v-fail", "text": "hello", "client_msg_id": "n-1"}),
        )
        .await;
    assert_eq!(r.0, 503, "{}", r.1);
    store.heal();
    // Whatever the agent was shown meanwhile was withdrawn; the retry is offered and
    // can be accepted, once.
    let a = app.inbound("chat", "v-fail", "hello", Some("n-1")).await;
    assert_eq!(a["duplicate"], false);
    let conv = loop {
        let m = ann.next().await;
        if m["type"] == "offer" && m["conversation_id"] == a["conversation_id"] {
            ann.send(json!({"type": "accept", "offer_id": m["offer_id"]}))
                .await;
            break ann.expect("conversation_assigned").await;
        }
    };
    assert_eq!(conv["conversation"]["id"], a["conversation_id"]);
    ann.assert_none_before_pong("offer").await;
    let (_, live) = app.get("/api/v1/agents/ann").await;
    assert_eq!(live["live"]["held"].as_array().unwrap().len(), 1, "{live}");
    assert!(live["live"]["pending_offers"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[actix_web::test]
async fn an_accepted_offer_whose_assignment_write_fails_is_offered_again() {
    // The queue lets a conversation go when its offer is accepted; the assignment is
    // written after. When that write fails the agent is refused, and the conversation
    // must wait in its queue again — not stay unassigned for good with its messages
    // acknowledged and never delivered.
    let (app, store) = spawn_app_with_faults(|_| {}).await;
    let token = app
        .agent(
            "ann",
            &["general"],
            json!({"capacity": {"voice": 1, "chat": 1, "email": 1, "messaging": 1}}),
        )
        .await;
    let mut ann = Client::available(&app, &token).await;
    let a = app.inbound("chat", "v-assign", "hello", Some("a-1")).await;
    let offer = ann.expect("offer").await;
    assert_eq!(offer["conversation_id"], a["conversation_id"]);
    store.set(
        Op::Commit,
        Fault::Fail(StoreError::Backend("disk full".into())),
    );
    ann.send(json!({"type": "accept", "offer_id": offer["offer_id"]}))
        .await;
    let refused = ann.expect("error").await;
    assert_eq!(refused["ref"], offer["offer_id"], "{refused}");
    store.heal();

    // Offered again (to ann: her slot is free again), and this time assigned.
    let again = ann
        .expect_where("offer", |m| m["conversation_id"] == a["conversation_id"])
        .await;
    assert_ne!(again["offer_id"], offer["offer_id"]);
    ann.send(json!({"type": "accept", "offer_id": again["offer_id"]}))
        .await;
    let assigned = ann.expect("conversation_assigned").await;
    assert_eq!(assigned["conversation"]["id"], a["conversation_id"]);
    let later = app
        .inbound("chat", "v-assign", "still there?", Some("a-2"))
        .await;
    let event = ann
        .expect_where("event", |m| m["event"]["id"] == later["event_id"])
        .await;
    assert_eq!(event["conversation_id"], a["conversation_id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offers_outcome_told_twice_is_recorded_once() {
    // An outcome is told again when the answer to the first was lost (another node
    // busy), and the agent's own outcome can follow the orphan sweep's. The queue
    // must count and record each offer's outcome once.
    let app = spawn_app(|_| {}).await;
    let token = app.agent("ann", &["general"], json!({})).await;
    let mut ann = Client::available(&app, &token).await;
    let (mut chat, w) = Client::visitor(&app).await;
    chat_say(&mut chat, "hello").await;
    let customer = w["customer_id"].as_str().unwrap().to_owned();
    let offer = ann.expect("offer").await;
    ann.send(json!({"type": "reject", "offer_id": offer["offer_id"]}))
        .await;
    let closed_once = |ev: &[Value], id: &Value| {
        ev.iter()
            .filter(|e| e["type"] == "offer_closed" && e["offer_id"] == *id)
            .count()
    };
    app.timeline_until(&customer, "the rejection", |ev| {
        closed_once(ev, &offer["offer_id"]) == 1
    })
    .await;

    let engine = app.engine.clone().unwrap();
    let general = engine.queue(&QueueName::parse("general").unwrap()).unwrap();
    let told = |offer_id: OfferId| OfferClosed {
        offer_id,
        conversation_id: ConversationId::parse(offer["conversation_id"].as_str().unwrap()).unwrap(),
        agent_id: AgentId::parse("ann").unwrap(),
        outcome: OfferOutcome::Rejected,
    };
    let again = OfferId::parse(offer["offer_id"].as_str().unwrap()).unwrap();
    general.send(told(again)).await.unwrap();
    // A first outcome told after it: the queue's records are stored in order, so
    // once this one is in the timeline, a second record of the first would be too.
    let marker = OfferId::new();
    general.send(told(marker)).await.unwrap();
    let marker = json!(marker.to_string());
    let events = app
        .timeline_until(&customer, "the marker", |ev| closed_once(ev, &marker) == 1)
        .await;
    assert_eq!(closed_once(&events, &offer["offer_id"]), 1, "{events:#?}");
}

/// Waits (bounded) until a crashed actor's mailbox is closed; the crash unwinds on
/// the actor's own thread right after its reply channel is dropped.
async fn wait_stopped<A: actix::Actor>(addr: &actix::Addr<A>) {
    let deadline = std::time::Instant::now() + WAIT;
    while addr.connected() {
        assert!(std::time::Instant::now() < deadline, "actor still running");
        tokio::time::sleep(std::time::Duration::from_millis(1)).await; // poll interval
    }
}

fn fast_heartbeat(s: &mut switchboard::config::Settings) {
    // Sockets notice a crashed actor within a heartbeat.
    s.timing.heartbeat_ms = 50;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_customer_actor_restarts_with_its_conversation_from_the_store() {
    let app = spawn_app(fast_heartbeat).await;
    let (mut visitor, w) = Client::visitor(&app).await;
    let token = w["token"].as_str().unwrap().to_owned();
    let customer = w["customer_id"].as_str().unwrap().to_owned();
    let first = chat_say(&mut visitor, "before the crash").await;

    let engine = app.engine.clone().unwrap();
    engine
        .customer(CustomerId::parse(&customer).unwrap())
        .do_send(InjectPanic);
    // The socket learns its actor is gone and is told to reconnect.
    let m = visitor.expect("reconnect").await;
    assert_eq!(m["reason"], "customer_restarted");
    let close = visitor.closed().await.expect("close frame");
    assert_eq!(u16::from(close.code), 1012);

    let mut visitor = Client::connect(&app.ws_url(&format!("/ws/chat?token={token}"))).await;
    let w = visitor.expect("welcome").await;
    assert_eq!(
        w["conversation"]["id"], first["conversation_id"],
        "the open conversation was reloaded"
    );
    let second = chat_say(&mut visitor, "after the crash").await;
    assert_eq!(second["conversation_id"], first["conversation_id"]);
    let events = app.timeline(&customer).await;
    assert_eq!(count_text(&events, "before the crash"), 1);
    assert_eq!(count_text(&events, "after the crash"), 1);
    drop(engine);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_queue_actor_restarts_with_its_waiting_conversations_in_order() {
    let app = spawn_app(|_| {}).await;
    for i in 0..3 {
        app.inbound("sms", &format!("+81905555000{i}"), "waiting", None)
            .await;
    }
    let (_, before) = app.get("/api/v1/queues/general").await;
    assert_eq!(before["waiting"], 3);
    let engine = app.engine.clone().unwrap();
    let general = QueueName::parse("general").unwrap();
    let old = engine.queue(&general).unwrap();
    assert!(
        old.send(InjectPanic).await.is_err(),
        "the handler panicked, so no answer"
    );
    wait_stopped(&old).await;
    // The next use finds it crashed and restarts it from the store.
    let after = app
        .get_until("/api/v1/queues/general", "queue restarted", |q| {
            q["waiting"] == 3
        })
        .await;
    let order = |q: &Value| -> Vec<(Value, Value)> {
        q["queue"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| (w["conversation_id"].clone(), w["enqueued_at"].clone()))
            .collect()
    };
    assert_eq!(order(&after), order(&before));
    // Routing works again: an agent is offered the oldest first.
    let token = app
        .agent(
            "ann",
            &["general"],
            json!({"capacity": {"voice": 1, "chat": 1, "email": 1, "messaging": 1}}),
        )
        .await;
    let mut ann = Client::available(&app, &token).await;
    let offer = ann.expect("offer").await;
    assert_eq!(
        offer["conversation_id"],
        before["queue"][0]["conversation_id"]
    );
    drop(engine);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_agent_actor_restarts_holding_its_conversations_within_capacity() {
    let app = spawn_app(fast_heartbeat).await;
    let token = app
        .agent(
            "ann",
            &["general"],
            json!({"capacity": {"voice": 1, "chat": 1, "email": 1, "messaging": 1}}),
        )
        .await;
    let mut ann = Client::available(&app, &token).await;
    let (mut v1, _) = Client::visitor(&app).await;
    chat_say(&mut v1, "one").await;
    let conv = accept_next(&mut ann).await;
    let (mut v2, _) = Client::visitor(&app).await;
    let waiting = chat_say(&mut v2, "two").await;

    let engine = app.engine.clone().unwrap();
    engine
        .agent(&AgentId::parse("ann").unwrap())
        .unwrap()
        .do_send(InjectPanic);
    let m = ann.expect("reconnect").await;
    assert_eq!(m["reason"], "agent_restarted");
    // Back on a restarted actor that reloaded what Ann holds from the store.
    let mut ann = Client::connect(&app.ws_url(&format!("/ws/agent?token={token}"))).await;
    let w = ann.expect("welcome").await;
    let held: Vec<Value> = w["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].clone())
        .collect();
    assert_eq!(held, vec![conv["id"].clone()]);
    ann.send(json!({"type": "set_status", "status": "available"}))
        .await;
    ann.expect("status").await;
    // Full (one chat slot, held): the waiting chat is not offered...
    ann.assert_none_before_pong("offer").await;
    // ...until the held one is resolved.
    ann.send(json!({"type": "resolve", "conversation_id": conv["id"]}))
        .await;
    let offer = ann.expect("offer").await;
    assert_eq!(offer["conversation_id"], waiting["conversation_id"]);
    drop(engine);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_socket_dropping_mid_offer_sends_the_offer_to_another_agent() {
    let app = spawn_app(|_| {}).await;
    let one_chat = json!({"capacity": {"voice": 1, "chat": 1, "email": 1, "messaging": 1}});
    let t1 = app.agent("ann", &["general"], one_chat.clone()).await;
    let t2 = app.agent("bob", &["general"], one_chat).await;
    let mut ann = Client::available(&app, &t1).await;
    let (mut v, _) = Client::visitor(&app).await;
    let said = chat_say(&mut v, "anyone?").await;
    let offer = ann.expect("offer").await;
    assert_eq!(offer["conversation_id"], said["conversation_id"]);
    let mut bob = Client::available(&app, &t2).await;

    // Ann's browser goes away without answering.
    ann.close().await;
    let offer = bob.expect("offer").await;
    assert_eq!(offer["conversation_id"], said["conversation_id"]);
    bob.send(json!({"type": "accept", "offer_id": offer["offer_id"]}))
        .await;
    bob.expect("conversation_assigned").await;

    // Ann returns inside her grace period: nothing of that conversation for her.
    let mut ann = Client::agent(&app, &t1).await;
    ann.assert_none_before_pong("offer").await;
    for (id, held) in [("ann", 0), ("bob", 1)] {
        let (_, a) = app.get(&format!("/api/v1/agents/{id}")).await;
        assert_eq!(a["live"]["held"].as_array().unwrap().len(), held, "{a}");
        assert!(a["live"]["pending_offers"].as_array().unwrap().is_empty());
    }
    let trace = app
        .trace_with(&said["conversation_id"], &["rescinded", "accepted"])
        .await;
    assert!(trace["steps"].as_array().unwrap().len() >= 2);
}
