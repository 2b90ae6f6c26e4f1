//! Business hours over real sockets: a queue closed by its hours holds its offers until
//! the opening and tells arriving customers its after-hours message on their channel
//! (web chat, SMS through the recording Twilio server); a holiday closes it; its
//! after-hours queue takes new conversations while open; a bad configuration is
//! refused with the field and changes nothing. The engine runs on a manual clock, so
//! the days pass in an instant; the queue's once-a-second look at its hours opens it.

use crate::channels::{channels_on, customer_of, sms_in, twilio_post};
use crate::helpers::*;
use crate::recorder::Recorder;
use serde_json::{json, Value};
use switchboard::domain::time::{Clock, ManualClock};
use switchboard::domain::Millis;

fn utc(text: &str) -> Millis {
    let t: jiff::Timestamp = text.parse().unwrap();
    Millis(t.as_millisecond())
}

/// `general` as it is, with `hours` set (a PUT replaces the whole configuration).
async fn with_hours(app: &TestApp, queue: &str, hours: Value) -> Value {
    let (s, snap) = app.get(&format!("/api/v1/queues/{queue}")).await;
    assert_eq!(s, 200, "{snap}");
    let mut config = snap["config"].clone();
    config["hours"] = hours;
    config
}

fn weekdays_9_to_18(after_hours: Value) -> Value {
    let day = json!(["09:00-18:00"]);
    json!({
        "time_zone": "Asia/Tokyo",
        "weekly": {"mon": day, "tue": day, "wed": day, "thu": day, "fri": day},
        "holidays": ["jp"],
        "after_hours": after_hours,
    })
}

const CLOSED: &str = "営業時間外です。平日9時から18時に担当者がお返事します。";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_after_hours_is_told_so_and_offered_at_the_opening() {
    // Monday 2026-12-07, 07:30 in Tokyo (a short wait: the tokens stay valid).
    let clock = ManualClock::new(utc("2026-12-06T22:30:00Z"));
    let app = spawn_app_with_clock(|_| {}, clock.clone()).await;
    let config = with_hours(
        &app,
        "general",
        weekdays_9_to_18(json!({"message": CLOSED})),
    )
    .await;
    app.queue("general", config).await;
    let token = app.agent("ann", &["general"], json!({})).await;
    let mut ann = Client::available(&app, &token).await;

    let (mut chat, _) = Client::visitor(&app).await;
    let said = chat_say(&mut chat, "こんばんは").await;
    let told = chat
        .expect_where("event", |m| m["event"]["type"] == "bot_reply")
        .await;
    assert_eq!(told["event"]["kind"], "after_hours", "{told}");
    assert_eq!(told["event"]["text"], CLOSED);
    assert_eq!(told["event"]["conversation_id"], said["conversation_id"]);

    // Waiting, not offered (the queue decided as it took the conversation).
    let (_, q) = app.get("/api/v1/queues/general").await;
    assert_eq!(q["waiting"], 1, "{q}");
    assert_eq!(q["offered"], 0, "{q}");
    assert_eq!(q["hours"]["open"], false, "{q}");
    assert_eq!(q["hours"]["closed_because"], "outside opening hours");
    assert_eq!(
        q["hours"]["next_change_local"],
        "2026-12-07T09:00:00+09:00[Asia/Tokyo]"
    );
    let conv = said["conversation_id"].as_str().unwrap();
    // The queue writes its trace entries behind its decision (no event says when they
    // are stored): read until its `closed` entry is there, for at most 10 s.
    let mut trace = Value::Null;
    for _ in 0..200 {
        trace = app
            .get(&format!("/api/v1/conversations/{conv}/trace"))
            .await
            .1;
        if trace["steps"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s["step"] == "closed"))
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let steps: Vec<&str> = trace["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert!(steps.contains(&"after_hours"), "{trace}");
    assert!(steps.contains(&"closed"), "{trace}");
    assert!(!steps.contains(&"offered"), "{trace}");

    // Monday 09:00 in Tokyo: the queue opens and offers what waited.
    clock.advance_ms(utc("2026-12-07T00:00:00Z").since(clock.now()));
    let offer = ann.expect("offer").await;
    assert_eq!(offer["conversation_id"], said["conversation_id"]);
    let (_, q) = app.get("/api/v1/queues/general").await;
    assert_eq!(q["hours"]["open"], true, "{q}");
    assert_eq!(
        q["hours"]["next_change_local"],
        "2026-12-07T18:00:00+09:00[Asia/Tokyo]"
    );
    // Told once: a second message while waiting adds no second notice.
    chat_say(&mut chat, "まだですか").await;
    chat.assert_none_where_before_pong("event", |m| m["event"]["type"] == "bot_reply")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sms_on_a_holiday_goes_to_the_open_after_hours_queue_and_is_answered() {
    // Monday 2026-11-23, 10:00 in Tokyo: inside the weekly hours, but a holiday.
    let rec = Recorder::start().await;
    let clock = ManualClock::new(utc("2026-11-23T01:00:00Z"));
    let app = spawn_app_with_clock(|s| channels_on(s, &rec), clock.clone()).await;
    app.queue("night", json!({"display_name": "Night desk"}))
        .await;
    let config = with_hours(
        &app,
        "general",
        weekdays_9_to_18(json!({"message": CLOSED, "route_to": "night"})),
    )
    .await;
    app.queue("general", config).await;
    let (_, q) = app.get("/api/v1/queues/general").await;
    assert_eq!(q["hours"]["closed_because"], "holiday: 勤労感謝の日", "{q}");
    let day = app.agent("ann", &["general"], json!({})).await;
    let night = app.agent("owl", &["night"], json!({})).await;
    let mut ann = Client::available(&app, &day).await;
    let mut owl = Client::available(&app, &night).await;

    let (status, _) = sms_in(&app, "SMhol1", "+819033334444", "届いていません").await;
    assert_eq!(status, 200);
    // The after-hours message leaves as Twilio's Messages API call, to the sender.
    let sent = rec.wait_for("/Messages.json", 1).await;
    let form = sent[0].form();
    assert_eq!(form["To"], "+819033334444");
    assert_eq!(form["Body"], CLOSED);
    // The night desk is offered it; the closed queue's agent is not.
    let offer = owl.expect("offer").await;
    let (_, conv) = app
        .get(&format!(
            "/api/v1/conversations/{}",
            offer["conversation_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(conv["queue"], "night", "{conv}");
    ann.assert_none_before_pong("offer").await;

    // A call too: the caller hears the message and is held for the night desk.
    let call = [
        ("CallSid", "CAhol1"),
        ("From", "+81312340000"),
        ("To", "+815012345678"),
        ("CallStatus", "ringing"),
    ];
    let (status, twiml) = twilio_post(&app, "/webhooks/twilio/voice", &call, None).await;
    assert_eq!(status, 200);
    assert!(twiml.contains(&format!(">{CLOSED}</Say>")), "{twiml}");
    assert!(twiml.contains("<Enqueue "), "{twiml}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_after_hours_hears_the_message_and_ends() {
    // Saturday 2026-12-05, 11:00 in Tokyo; no after-hours queue.
    let rec = Recorder::start().await;
    let clock = ManualClock::new(utc("2026-12-05T02:00:00Z"));
    let app = spawn_app_with_clock(|s| channels_on(s, &rec), clock.clone()).await;
    let config = with_hours(
        &app,
        "general",
        weekdays_9_to_18(json!({"message": CLOSED})),
    )
    .await;
    app.queue("general", config).await;
    let call = [
        ("CallSid", "CAsat1"),
        ("From", "+81312349999"),
        ("To", "+815012345678"),
        ("CallStatus", "ringing"),
    ];
    let (status, twiml) = twilio_post(&app, "/webhooks/twilio/voice", &call, None).await;
    assert_eq!(status, 200);
    assert!(
        twiml.contains(&format!(">{CLOSED}</Say><Hangup/>")),
        "{twiml}"
    );
    assert!(!twiml.contains("<Enqueue "), "{twiml}");
    // The call is on the caller's timeline with what they were told.
    let cid = customer_of(&app, "voice", "+81312349999").await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let t = app
        .timeline_until(&cid, "the after-hours reply", |t| {
            t.iter()
                .any(|e| e["type"] == "bot_reply" && e["kind"] == "after_hours")
        })
        .await;
    let told = t.iter().find(|e| e["type"] == "bot_reply").unwrap();
    assert_eq!(told["text"], CLOSED);
    assert_eq!(told["channel"], "voice");
    // Its conversation does not wait for Monday (no dead call offered then): it is
    // abandoned at once, and the call's end, when it comes, adds only the call.
    let conv = told["conversation_id"].as_str().unwrap().to_owned();
    app.get_until(&format!("/api/v1/conversations/{conv}"), "abandoned", |c| {
        c["state"] == "abandoned"
    })
    .await;
    let (_, q) = app.get("/api/v1/queues/general").await;
    assert_eq!(q["waiting"], 0, "{q}");
    let ended = [
        ("CallSid", "CAsat1"),
        ("From", "+81312349999"),
        ("To", "+815012345678"),
        ("CallStatus", "completed"),
        ("CallDuration", "9"),
    ];
    let (status, _) = twilio_post(&app, "/webhooks/twilio/voice/status", &ended, None).await;
    assert_eq!(status, 204);
    let t = app
        .timeline_until(&cid, "the call's end", |t| {
            t.iter().any(|e| e["type"] == "call")
        })
        .await;
    let abandoned = t.iter().filter(|e| e["type"] == "abandoned").count();
    assert_eq!(abandoned, 1, "{t:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_business_hours_are_refused_with_the_field_and_change_nothing() {
    let app = spawn_app(|_| {}).await;
    let cases = [
        (
            json!({"time_zone": "Asia/Tokio", "weekly": {"mon": ["09:00-18:00"]}}),
            "hours.time_zone",
        ),
        (
            json!({"time_zone": "Asia/Tokyo", "weekly": {"mon": ["18:00-09:00"]}}),
            "hours.weekly.mon[0]",
        ),
        (
            json!({"time_zone": "Asia/Tokyo", "weekly": {"mon": ["09:00-12:00", "11:00-13:00"]}}),
            "hours.weekly.mon[1]",
        ),
        (
            json!({"time_zone": "Asia/Tokyo", "weekly": {"mon": ["09:00-18:00"]}, "holidays": ["xx"]}),
            "hours.holidays[0]",
        ),
        (
            json!({"time_zone": "Asia/Tokyo", "weekly": {"mon": ["09:00-18:00"]}, "closures": [{"from": "2026-02-30"}]}),
            "hours.closures[0].from",
        ),
        (
            json!({"time_zone": "Asia/Tokyo", "weekly": {"mon": ["09:00-18:00"]}, "after_hours": {"route_to": "nowhere"}}),
            "hours.after_hours.route_to",
        ),
        (
            json!({"time_zone": "Asia/Tokyo", "weekly": {}}),
            "hours.weekly",
        ),
    ];
    for (hours, field) in cases {
        let config = with_hours(&app, "general", hours.clone()).await;
        let (s, v) = app.put("/api/v1/queues/general", config).await;
        assert_eq!(s, 400, "{hours}: {v}");
        assert!(
            v["message"]
                .as_str()
                .unwrap_or_default()
                .starts_with(&format!("{field}:")),
            "{hours}: {v}"
        );
    }
    // An unknown field is refused too (a typo must not silently mean "always open").
    let config = with_hours(
        &app,
        "general",
        json!({"time_zone": "Asia/Tokyo", "weekley": {}}),
    )
    .await;
    let (s, v) = app.put("/api/v1/queues/general", config).await;
    assert_eq!(s, 400, "{v}");
    let (_, q) = app.get("/api/v1/queues/general").await;
    assert!(q["config"].get("hours").is_none(), "{q}");
    assert!(q.get("hours").is_none(), "{q}");
}
