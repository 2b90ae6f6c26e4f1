//! Queued callbacks over real sockets: a callback keeps its place in line and reaches
//! the agent as an outbound-call task with the number and context; no answer is retried
//! on the engine clock up to the maximum (across a restart); a caller who hangs up
//! after choosing a callback is not abandoned in the reports; bad requests get typed
//! errors and store nothing.

use crate::channels::{channels_on, customer_of, twilio_post};
use crate::helpers::*;
use crate::recorder::Recorder;
use serde_json::{json, Value};
use switchboard::domain::time::{Clock, ManualClock, SystemClock};
use switchboard::domain::Millis;

const HOUR_MS: i64 = 3_600_000;

async fn post_as(app: &TestApp, token: Option<&str>, path: &str, body: Value) -> (u16, Value) {
    let mut r = app.http.post(format!("{}{path}", app.base)).json(&body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let r = r.send().await.unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn waiting_visitor(app: &TestApp, text: &str) -> (Client, Value) {
    let (mut c, w) = Client::visitor(app).await;
    chat_say(&mut c, text).await;
    (c, w)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_keeps_its_place_and_becomes_an_outbound_call_task() {
    let app = spawn_app(|_| {}).await;
    // One conversation at a time, so the order of offers is the order of the line.
    let one = json!({"capacity": {"voice": 1, "chat": 1, "email": 0, "messaging": 0}});
    let token = app.agent("alice", &["general"], one).await;
    let (_a, _) = waiting_visitor(&app, "A です").await;
    let (_b, wb) = waiting_visitor(&app, "B です").await;
    let (_c, _) = waiting_visitor(&app, "C です").await;
    // B asks to be called back instead of waiting (its own chat token).
    let (s, cb) = post_as(
        &app,
        wb["token"].as_str(),
        "/api/v1/callbacks",
        json!({"phone": "+81 90-1111-2222", "note": "夕方にお願いします"}),
    )
    .await;
    assert_eq!(s, 201, "{cb}");
    assert_eq!(cb["phone"], "+819011112222");
    assert_eq!(cb["customer_id"], wb["customer_id"]);
    let (_d, _) = waiting_visitor(&app, "D です").await;

    let mut alice = Client::available(&app, &token).await;
    let first = accept_next(&mut alice).await;
    assert!(
        first["recent"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["text"] == "A です"),
        "{first}"
    );
    resolve(&mut alice, &first).await;
    // B, not C or D: the callback kept B's place, as a voice task.
    let task = accept_next(&mut alice).await;
    assert_eq!(task["id"], cb["conversation_id"]);
    assert_eq!(task["channel"], "voice");
    let recent = task["recent"].as_array().unwrap();
    let req = recent
        .iter()
        .find(|e| e["type"] == "callback_requested")
        .expect("the callback request is in the task's context");
    assert_eq!(req["phone"], "+819011112222");
    assert_eq!(req["note"], "夕方にお願いします");
    assert_eq!(req["source"], "chat");
    assert!(recent.iter().any(|e| e["text"] == "B です"), "{task}");

    // Reached: an ordinary conversation from here; the attempt is in the timeline.
    let (s, out) = post_as(
        &app,
        Some(&token),
        &format!(
            "/api/v1/callbacks/{}/outcome",
            cb["conversation_id"].as_str().unwrap()
        ),
        json!({"outcome": "reached"}),
    )
    .await;
    assert_eq!(s, 200, "{out}");
    assert_eq!(
        (out["attempt"].as_u64(), out["next"].as_str()),
        (Some(1), Some("connected"))
    );
    let ev = alice
        .expect_where("event", |m| m["event"]["type"] == "callback_attempt")
        .await;
    assert_eq!(ev["event"]["outcome"], "reached");
    // Reporting again: no callback is pending any more.
    let (s, e) = post_as(
        &app,
        Some(&token),
        &format!(
            "/api/v1/callbacks/{}/outcome",
            cb["conversation_id"].as_str().unwrap()
        ),
        json!({"outcome": "busy"}),
    )
    .await;
    assert_eq!((s, e["code"].as_str()), (409, Some("conflict")), "{e}");
    resolve(&mut alice, &task).await;
    // Then C, then D.
    let c = accept_next(&mut alice).await;
    assert!(c["recent"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["text"] == "C です"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_answer_is_retried_on_the_clock_across_a_restart_then_fails() {
    let clock = ManualClock::new(SystemClock.now());
    let tweak = |s: &mut switchboard::config::Settings| {
        s.callbacks.retry_delay_ms = 60_000;
        s.callbacks.max_attempts = 2;
        s.callbacks.sweep_ms = 20;
    };
    let app = spawn_app_with_clock(tweak, clock.clone()).await;
    let token = app.agent("alice", &["general"], json!({})).await;
    let sms = app
        .inbound("sms", "+819022223333", "電話をください", None)
        .await;
    let customer = sms["customer_id"].as_str().unwrap().to_owned();
    let (s, cb) = app
        .post(
            "/api/v1/callbacks",
            json!({"customer_id": customer, "phone": "+819022223333"}),
        )
        .await;
    assert_eq!(s, 201, "{cb}");
    assert_eq!(cb["conversation_id"], sms["conversation_id"]);
    let conv_id = cb["conversation_id"].as_str().unwrap().to_owned();
    let outcome = format!("/api/v1/callbacks/{conv_id}/outcome");

    let mut alice = Client::available(&app, &token).await;
    let task = accept_next(&mut alice).await;
    assert_eq!(task["channel"], "voice");
    let (s, out) = post_as(
        &app,
        Some(&token),
        &outcome,
        json!({"outcome": "no_answer"}),
    )
    .await;
    assert_eq!(s, 200, "{out}");
    assert_eq!(out["next"], "retry");
    assert_eq!(out["retry_at"].as_i64(), Some(clock.now().0 + 60_000));
    alice
        .expect_where("conversation_updated", |m| m["held"] == false)
        .await;
    let (_, c) = app.get(&format!("/api/v1/conversations/{conv_id}")).await;
    assert_eq!(c["state"], "queued");
    // Not offered before its time.
    alice.assert_none_before_pong("offer").await;
    alice.close().await;

    // The engine restarts: the pending callback and its attempt count are durable.
    let dir = app.stop();
    let app = spawn_app_in_with_clock(dir, tweak, clock.clone()).await;
    let token = app.login("alice", "alice-password").await;
    let mut alice = Client::available(&app, &token).await;
    alice.assert_none_before_pong("offer").await;
    clock.advance_ms(60_000);
    let again = accept_next(&mut alice).await;
    assert_eq!(again["id"], conv_id.as_str());
    let (s, out) = post_as(&app, Some(&token), &outcome, json!({"outcome": "busy"})).await;
    assert_eq!(s, 200, "{out}");
    assert_eq!(
        (out["attempt"].as_u64(), out["next"].as_str()),
        (Some(2), Some("failed"))
    );
    let c = app
        .get_until(&format!("/api/v1/conversations/{conv_id}"), "failed", |c| {
            c["state"] == "resolved"
        })
        .await;
    assert_eq!(c["disposition"], "callback_failed");
    let t = app.timeline(&customer).await;
    let attempts: Vec<_> = t
        .iter()
        .filter(|e| e["type"] == "callback_attempt")
        .map(|e| {
            (
                e["attempt"].as_u64().unwrap(),
                e["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        attempts,
        [(1, "no_answer".to_owned()), (2, "busy".to_owned())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_who_chose_a_callback_and_hung_up_is_not_abandoned() {
    let t0 = SystemClock.now().0.div_euclid(HOUR_MS) * HOUR_MS;
    let clock = ManualClock::new(Millis(t0));
    let rec = Recorder::start().await;
    let app = spawn_app_with_clock(
        |s| {
            channels_on(s, &rec);
            crate::ivr::tree(s);
        },
        clock.clone(),
    )
    .await;
    app.queue("orders", json!({})).await;
    // Caller 1: orders → 2 (callback), hangs up.
    let c1 = [
        ("CallSid", "CA_CB1"),
        ("From", "+81344445555"),
        ("To", "+815012345678"),
        ("CallStatus", "in-progress"),
    ];
    let mut p = c1.to_vec();
    p.push(("Digits", "1"));
    twilio_post(&app, "/webhooks/twilio/voice/menu", &p, None).await;
    let mut p = c1.to_vec();
    p.push(("Digits", "2"));
    let (s, bye) = twilio_post(
        &app,
        "/webhooks/twilio/voice/menu?path=main.orders&try=0",
        &p,
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert!(
        bye.contains("<Hangup/>") && bye.contains("折り返し"),
        "{bye}"
    );
    let mut ended = c1.to_vec();
    ended[3] = ("CallStatus", "completed");
    assert_eq!(
        twilio_post(&app, "/webhooks/twilio/voice/status", &ended, None)
            .await
            .0,
        204
    );
    // Caller 2: orders → 1 (wait), hangs up: abandoned.
    let c2 = [
        ("CallSid", "CA_CB2"),
        ("From", "+81366667777"),
        ("To", "+815012345678"),
        ("CallStatus", "in-progress"),
    ];
    let mut p = c2.to_vec();
    p.push(("Digits", "1"));
    twilio_post(
        &app,
        "/webhooks/twilio/voice/menu?path=main.orders&try=0",
        &p,
        None,
    )
    .await;
    let mut ended = c2.to_vec();
    ended[3] = ("CallStatus", "completed");
    twilio_post(&app, "/webhooks/twilio/voice/status", &ended, None).await;

    let cust1 = customer_of(&app, "voice", "+81344445555").await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let t = app
        .timeline_until(&cust1, "the call end", |t| {
            t.iter().any(|e| e["type"] == "call")
        })
        .await;
    assert!(!t.iter().any(|e| e["type"] == "abandoned"), "{t:#?}");
    let req = t
        .iter()
        .find(|e| e["type"] == "callback_requested")
        .unwrap();
    assert_eq!(req["ivr_path"], json!(["main", "orders"]));
    assert_eq!(req["source"], "voice_ivr");
    assert_eq!(req["phone"], "+81344445555");
    let conv = req["conversation_id"].as_str().unwrap();
    let (_, c) = app.get(&format!("/api/v1/conversations/{conv}")).await;
    assert_eq!(c["state"], "queued");

    let q = format!("from={t0}&to={}&interval=hour&group=queue", t0 + HOUR_MS);
    let body = app
        .get_until(&format!("/api/v1/reports?{q}"), "the abandoned call", |b| {
            b["rows"][0]["abandoned"] == 1
        })
        .await;
    let row = &body["rows"][0];
    assert_eq!(row["group"], "orders");
    assert_eq!(row["abandoned"], 1, "{row}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_callback_requests_get_typed_errors_and_store_nothing() {
    let app = spawn_app(|_| {}).await;
    let sms = app
        .inbound("sms", "+819044445555", "こんにちは", None)
        .await;
    let customer = sms["customer_id"].as_str().unwrap().to_owned();
    let before = app.timeline(&customer).await.len();
    let cases = [
        (
            json!({"customer_id": uuid::Uuid::new_v4().to_string(), "phone": "+819011112222"}),
            404,
            "not_found",
        ),
        (
            json!({"customer_id": "not-an-id", "phone": "+819011112222"}),
            404,
            "not_found",
        ),
        (
            json!({"customer_id": customer, "phone": "090-1111-2222"}),
            400,
            "invalid",
        ),
        (
            json!({"customer_id": customer, "phone": "+81abc"}),
            400,
            "invalid",
        ),
        (
            json!({"customer_id": customer, "phone": "+819011112222", "queue": "nowhere"}),
            404,
            "not_found",
        ),
        (
            json!({"customer_id": customer, "phone": "+819011112222", "note": "x".repeat(501)}),
            400,
            "invalid",
        ),
        (json!({"phone": "+819011112222"}), 400, "invalid"),
        (
            json!({"customer_id": customer, "phone": "+819011112222", "extra": 1}),
            400,
            "bad_json",
        ),
    ];
    for (body, status, code) in cases {
        let (s, e) = app.post("/api/v1/callbacks", body.clone()).await;
        assert_eq!((s, e["code"].as_str()), (status, Some(code)), "{body}: {e}");
    }
    let (s, _) = post_as(
        &app,
        None,
        "/api/v1/callbacks",
        json!({"customer_id": customer, "phone": "+819011112222"}),
    )
    .await;
    assert_eq!(s, 401);
    // A visitor may not ask for someone else.
    let (_v, w) = Client::visitor(&app).await;
    let (s, e) = post_as(
        &app,
        w["token"].as_str(),
        "/api/v1/callbacks",
        json!({"customer_id": customer, "phone": "+819011112222"}),
    )
    .await;
    assert_eq!((s, e["code"].as_str()), (403, Some("forbidden")), "{e}");
    assert_eq!(
        app.timeline(&customer).await.len(),
        before,
        "nothing stored"
    );

    // Twice: the second is refused and changes nothing.
    let ok = json!({"customer_id": customer, "phone": "+819011112222"});
    assert_eq!(app.post("/api/v1/callbacks", ok.clone()).await.0, 201);
    let after_first = app.timeline(&customer).await.len();
    let (s, e) = app.post("/api/v1/callbacks", ok).await;
    assert_eq!((s, e["code"].as_str()), (409, Some("conflict")), "{e}");
    assert_eq!(app.timeline(&customer).await.len(), after_first);
    // An outcome from someone who does not hold it.
    let (s, e) = app
        .post(
            &format!(
                "/api/v1/callbacks/{}/outcome",
                sms["conversation_id"].as_str().unwrap()
            ),
            json!({"outcome": "reached"}),
        )
        .await;
    assert_eq!((s, e["code"].as_str()), (403, Some("not_yours")), "{e}");
    let (s, _) = app
        .post(
            &format!(
                "/api/v1/callbacks/{}/outcome",
                sms["conversation_id"].as_str().unwrap()
            ),
            json!({"outcome": "maybe"}),
        )
        .await;
    assert_eq!(s, 400);
}
