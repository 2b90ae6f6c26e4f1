//! Response-time targets over real sockets, on a clock the test moves: an SMS nobody
//! answers within its queue's first-reply target is recorded overdue once (timeline,
//! supervisors' alert, live figures, metric), its priority is raised so it is offered
//! before an older email; a later reply inside the next-reply target stops its clock
//! (no overdue after it); clocks survive a restart of the engine and pass after it;
//! reports count replies and the SLA; bad targets are refused by field.

use crate::helpers::*;
use crate::recorder::Recorder;
use serde_json::{json, Value};
use switchboard::domain::time::ManualClock;
use switchboard::domain::Millis;

/// An interval start (15-minute aligned), so every live figure lands in one interval.
const T0: i64 = 1_800_000_000_000;

fn targets() -> Value {
    json!({"response_times": {
        "first_ms": 60_000,
        "next_ms": 120_000,
        "channels": {"email": {"first_ms": 3_600_000}},
        "overdue_boost": 10
    }})
}

/// The sweeper passes every 20 ms of real time; SMS replies go to `rec`.
fn settings(s: &mut switchboard::config::Settings, rec: &Recorder) {
    s.notify.tick_ms = 20;
    crate::channels::channels_on(s, rec);
}

async fn inbound(app: &TestApp, channel: &str, address: &str, text: &str) -> (Value, String) {
    let (s, v) = app
        .post(
            "/api/v1/inbound",
            json!({"channel": channel, "address": address, "text": text, "queue": "support"}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    (
        v["conversation_id"].clone(),
        v["customer_id"].as_str().unwrap().to_owned(),
    )
}

/// Waits until the sweeper has completed a pass that looked at engine time `at` or
/// later (the notification scheduler's tick, which runs it).
async fn swept(app: &TestApp, at: i64) {
    app.get_until("/api/v1/notifications-scheduler", "a sweep", |v| {
        v["last_tick_at"].as_i64().is_some_and(|t| t >= at)
    })
    .await;
}

fn overdue_events(timeline: &[Value]) -> Vec<Value> {
    timeline
        .iter()
        .filter(|e| e["type"] == "response_overdue")
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_customer_is_overdue_once_boosted_and_reported() {
    let clock = ManualClock::new(Millis(T0));
    let rec = Recorder::start().await;
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_in_with_clock(dir, |s| settings(s, &rec), clock.clone()).await;
    app.queue("support", targets()).await;
    let sup = app.agent("sue", &[], json!({"role": "supervisor"})).await;
    let mut sup = Supervisor::connect(&app, &sup, "").await;
    let amy = app
        .agent(
            "amy",
            &["support"],
            json!({"capacity": {"voice": 1, "chat": 1, "email": 1, "messaging": 1}}),
        )
        .await;

    // An email first (its target: an hour), then an SMS five seconds later (a minute).
    let (email, email_customer) = inbound(&app, "email", "taro@example.jp", "請求書について").await;
    clock.advance_ms(5_000);
    let (sms, sms_customer) = inbound(&app, "sms", "+819011112222", "至急お願いします").await;

    // 59 s after the SMS: nothing is overdue yet.
    clock.advance_ms(59_000);
    swept(&app, T0 + 64_000).await;
    assert!(overdue_events(&app.timeline(&sms_customer).await).is_empty());
    // 60 s after it: overdue, once, whatever the passes after.
    clock.advance_ms(1_000);
    swept(&app, T0 + 65_000).await;
    clock.advance_ms(1_000);
    swept(&app, T0 + 66_000).await;
    let overdue = overdue_events(&app.timeline(&sms_customer).await);
    assert_eq!(overdue.len(), 1, "{overdue:?}");
    assert_eq!(
        (
            overdue[0]["first"].as_bool(),
            overdue[0]["target_ms"].as_u64(),
            overdue[0]["since"].as_i64()
        ),
        (Some(true), Some(60_000), Some(T0 + 5_000)),
        "{overdue:?}"
    );
    assert!(overdue_events(&app.timeline(&email_customer).await).is_empty());
    let (_, c) = app
        .get(&format!("/api/v1/conversations/{}", sms.as_str().unwrap()))
        .await;
    assert_eq!(c["priority"], 10, "raised by overdue_boost: {c}");

    // The supervisors are told, and the live figures count it.
    let alert = sup
        .c
        .expect_where("response_overdue", |m| m["conversation_id"] == sms)
        .await;
    assert_eq!(
        (
            alert["queue"].as_str(),
            alert["state"].as_str(),
            alert["first"].as_bool()
        ),
        (Some("support"), Some("queued"), Some(true)),
        "{alert}"
    );
    sup.until("the overdue reply in the live figures", |s| {
        s.queue("support")["interval"]["responses_overdue"] == 1
    })
    .await;

    // Amy comes: the raised SMS is offered before the older email.
    let mut amy = Client::available(&app, &amy).await;
    assert_eq!(accept_next(&mut amy).await["id"], sms);
    // She answers (late: counted when the target passed, not again), the customer
    // writes again, and she answers inside the next-reply target.
    clock.advance_ms(4_000);
    reply(&mut amy, &sms, "確認します").await;
    clock.advance_ms(10_000);
    inbound(&app, "sms", "+819011112222", "ありがとう、追加です").await;
    clock.advance_ms(20_000);
    reply(&mut amy, &sms, "承知しました").await;
    sup.until("the timely reply in the live figures", |s| {
        let i = &s.queue("support")["interval"];
        i["responses_within_target"] == 1 && i["responses_overdue"] == 1
    })
    .await;
    assert_eq!(
        sup.queue("support")["interval"]["response_sla"].as_f64(),
        Some(0.5)
    );
    // Past the next reply's target: its clock stopped, nothing more is overdue.
    clock.advance_ms(300_000);
    swept(&app, T0 + 400_000).await;
    assert_eq!(
        overdue_events(&app.timeline(&sms_customer).await).len(),
        1,
        "a stopped clock is never overdue"
    );
    let metrics = metrics_text(&app.http, &app.base).await;
    for (reply, outcome) in [("first", "overdue"), ("next", "within_target")] {
        let labels = [
            "queue=\"support\"".to_owned(),
            format!("reply=\"{reply}\""),
            format!("outcome=\"{outcome}\""),
        ];
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with("switchboard_responses_total{")
                    && labels.iter().all(|x| l.contains(x.as_str()))
                    && l.ends_with("} 1")),
            "{reply} {outcome} in:\n{metrics}"
        );
    }

    // The clocks survive a restart: the SMS customer writes again (a next reply is due
    // in two minutes), the engine stops, starts again, and an hour passes.
    inbound(&app, "sms", "+819011112222", "もう一つ質問が").await;
    let dir = app.stop();
    let app = spawn_app_in_with_clock(dir, |s| settings(s, &rec), clock.clone()).await;
    clock.advance_ms(3_199_000);
    swept(&app, T0 + 3_599_000).await;
    assert!(overdue_events(&app.timeline(&email_customer).await).is_empty());
    let overdue = overdue_events(&app.timeline(&sms_customer).await);
    assert_eq!(overdue.len(), 2, "{overdue:?}");
    assert_eq!(
        (
            overdue[1]["first"].as_bool(),
            overdue[1]["target_ms"].as_u64()
        ),
        (Some(false), Some(120_000)),
        "{overdue:?}"
    );
    clock.advance_ms(1_000);
    swept(&app, T0 + 3_600_000).await;
    let overdue = overdue_events(&app.timeline(&email_customer).await);
    assert_eq!(overdue.len(), 1, "{overdue:?}");
    assert_eq!(overdue[0]["target_ms"], 3_600_000);

    // Reports: the SMS's two replies (65 s and 20 s), one within target, and three
    // overdue (the SMS's first and third, and the email).
    let r = app
        .get_until(
            &format!(
                "/api/v1/reports?from={T0}&to={}&interval=day&group=queue",
                T0 + 86_400_000
            ),
            "the replies reported",
            |r| r["rows"][0]["responses_overdue"] == 3,
        )
        .await;
    let row = &r["rows"][0];
    assert_eq!(
        (
            row["first_responses"].as_u64(),
            row["first_response_seconds_avg"].as_f64(),
            row["next_responses"].as_u64(),
            row["next_response_seconds_avg"].as_f64(),
            row["responses_within_target"].as_u64(),
            row["response_sla"].as_f64(),
        ),
        (
            Some(1),
            Some(65.0),
            Some(1),
            Some(20.0),
            Some(1),
            Some(0.25)
        ),
        "{r:#}"
    );
    let _ = email;
}

/// Amy replies on `conv`; returns once it is stored (acknowledged).
async fn reply(amy: &mut Client, conv: &Value, text: &str) {
    amy.send(
        json!({"type": "message", "conversation_id": conv, "text": text, "client_msg_id": text}),
    )
    .await;
    let ack = amy
        .expect_where("ack", |m| m["client_msg_id"] == text)
        .await;
    assert_eq!(ack["duplicate"], false, "{ack}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_response_targets_are_refused_by_field_and_change_nothing() {
    let app = spawn_app(|_| {}).await;
    app.queue("support", targets()).await;
    for (body, field) in [
        (json!({"first_ms": 500}), "response_times.first_ms"),
        (
            json!({"next_ms": 2_592_000_001u64}),
            "response_times.next_ms",
        ),
        (
            json!({"first_ms": 60_000, "channels": {"voice": {"first_ms": 60_000}}}),
            "response_times.channels.voice",
        ),
        (
            json!({"first_ms": 60_000, "channels": {"line": {"next_ms": 0}}}),
            "response_times.channels.line.next_ms",
        ),
        (json!({}), "response_times"),
        (
            json!({"first_ms": 60_000, "overdue_boost": 101}),
            "response_times.overdue_boost",
        ),
        (json!({"first_ms": 60_000, "first": 1}), "first"),
    ] {
        let (s, v) = app
            .put("/api/v1/queues/support", json!({"response_times": body}))
            .await;
        assert_eq!(s, 400, "{body}: {v}");
        assert!(
            v["message"].as_str().unwrap_or_default().contains(field),
            "{body}: {v}"
        );
    }
    let (_, q) = app.get("/api/v1/queues/support").await;
    assert_eq!(
        q["config"]["response_times"],
        targets()["response_times"],
        "unchanged: {q}"
    );
}
