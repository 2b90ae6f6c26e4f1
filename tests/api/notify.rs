//! Proactive notifications over real sockets: `POST /api/v1/events` renders the rule's
//! Japanese template and sends it on the customer's preferred channel (SMS and LINE
//! calls land on the local recording server standing in for Twilio and LINE); after an
//! SMS STOP it falls back to LINE; with no usable channel it is suppressed, recorded;
//! an idempotency key sends once; a scheduled send goes out when the manual clock
//! reaches it — not a tick before, and across a restart; bad input (broken template,
//! unknown event type, unknown customer, missing variable) is a typed error that
//! stores nothing.

use crate::channels::{channels_on, sms_in};
use crate::helpers::*;
use crate::recorder::Recorder;
use serde_json::{json, Value};
use switchboard::domain::time::ManualClock;

const PHONE: &str = "+819033334444";
const LINE_USER: &str = "U0123456789abcdef0123456789abcdef";

fn rule() -> Value {
    json!({
        "templates": {
            "ja": "{{customer.name}}様、ご注文{{order.id}}を発送しました。{{carrier?}}",
            "en": "{{customer.name}}, your order {{order.id}} has shipped."
        },
        "variables": ["order.id", "carrier"],
        "channels": ["line", "sms"]
    })
}

async fn customer(app: &TestApp, identities: Value, preferred: &str) -> String {
    let (s, v) = app
        .post(
            "/api/v1/customers",
            json!({
                "display_name": "田中",
                "attributes": {"language": "ja", "preferred_channel": preferred},
                "identities": identities,
            }),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    v["id"].as_str().unwrap().to_owned()
}

fn notifications(events: &[Value]) -> Vec<&Value> {
    events
        .iter()
        .filter(|e| e["type"] == "notification_sent")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_goes_to_the_preferred_channel_in_japanese_and_never_to_an_opted_out_one() {
    let rec = Recorder::start().await;
    let app = spawn_app(|s| channels_on(s, &rec)).await;
    let (s, v) = app
        .put("/api/v1/notification-rules/order.shipped", rule())
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["rule"]["version"], 1, "{v}");
    // A save that names a version must name the stored one.
    for stale in [0, 2] {
        let mut r = rule();
        r["version"] = json!(stale);
        let (s, v) = app.put("/api/v1/notification-rules/order.shipped", r).await;
        assert_eq!(
            (s, v["code"].as_str()),
            (409, Some("conflict")),
            "{stale}: {v}"
        );
    }
    let mut r = rule();
    r["version"] = json!(1);
    let (s, v) = app.put("/api/v1/notification-rules/order.shipped", r).await;
    assert_eq!((s, v["rule"]["version"].as_u64()), (200, Some(2)), "{v}");
    let id = customer(
        &app,
        json!([{"channel": "sms", "address": PHONE}, {"channel": "line", "address": LINE_USER}]),
        "sms",
    )
    .await;

    // Preferred channel (SMS) wins over the rule's order.
    let (s, v) = app
        .post(
            "/api/v1/events",
            json!({"type": "order.shipped", "customer": {"phone": PHONE}, "data": {"order": {"id": "A-17"}}}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(v["status"], "sent");
    assert_eq!(v["channel"], "sms");
    let sms = rec.wait_for("/Messages.json", 1).await;
    assert_eq!(sms[0].form()["To"], PHONE);
    assert_eq!(sms[0].form()["Body"], "田中様、ご注文A-17を発送しました。");

    // SMS STOP: the next notification falls back to LINE.
    let (s, _) = sms_in(&app, "SM00000000000000000000000000000009", PHONE, "STOP").await;
    assert_eq!(s, 200);
    let body = json!({"type": "order.shipped", "customer": {"id": id},
        "data": {"order": {"id": "B-2"}, "carrier": "ヤマト"}, "idempotency_key": "ship-B-2"});
    let (s, first) = app.post("/api/v1/events", body.clone()).await;
    assert_eq!(s, 202, "{first}");
    assert_eq!(first["channel"], "line", "{first}");
    let pushed = rec.wait_for("/v2/bot/message/", 1).await;
    let push = pushed[0].json();
    assert_eq!(push["to"], LINE_USER);
    assert_eq!(
        push["messages"][0]["text"],
        "田中様、ご注文B-2を発送しました。ヤマト"
    );
    // The same idempotency key: the same notification, not sent again.
    let (s, again) = app.post("/api/v1/events", body).await;
    assert_eq!(s, 202);
    assert_eq!(again["id"], first["id"]);
    let events = app.timeline(&id).await;
    let sent = notifications(&events);
    assert_eq!(sent.len(), 2, "{events:#?}");
    assert_eq!(sent[1]["channel"], "line");
    assert_eq!(sent[1]["event_type"], "order.shipped");
    assert_eq!(sent[1]["text"], "田中様、ご注文B-2を発送しました。ヤマト");
    assert!(events
        .iter()
        .all(|e| e["type"] != "message_status" || e["status"] != "failed"));
    let (s, n) = app
        .get(&format!(
            "/api/v1/notifications/{}",
            first["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(s, 200);
    assert_eq!(n["status"], "sent");

    // Only SMS, opted out: suppressed, with the reason, and nothing sent.
    let phone2 = "+819055556666";
    let other = customer(&app, json!([{"channel": "sms", "address": phone2}]), "sms").await;
    sms_in(&app, "SM00000000000000000000000000000010", phone2, "STOP").await;
    let (s, v) = app
        .post(
            "/api/v1/events",
            json!({"type": "order.shipped", "customer": {"id": other}, "data": {"order": {"id": "C"}}}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(v["status"], "suppressed");
    assert!(v["reason"].as_str().unwrap().contains("opted out"), "{v}");
    assert!(notifications(&app.timeline(&other).await).is_empty());
    let to_phone2 = rec
        .all()
        .iter()
        .filter(|r| r.path.contains("/Messages.json") && r.form()["To"] == phone2)
        .count();
    assert_eq!(to_phone2, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rules_and_events_are_typed_errors_and_store_nothing() {
    let rec = Recorder::start().await;
    let app = spawn_app(|s| channels_on(s, &rec)).await;
    // A broken template: 400 with the offset, nothing saved.
    let mut broken = rule();
    broken["templates"]["ja"] = json!("ご注文 {{order.id");
    let (s, v) = app
        .put("/api/v1/notification-rules/order.shipped", broken)
        .await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["code"], "invalid");
    assert!(v["message"].as_str().unwrap().contains("byte 10"), "{v}");
    let (s, _) = app.get("/api/v1/notification-rules/order.shipped").await;
    assert_eq!(s, 404);
    // A variable the rule does not allow.
    let mut unknown = rule();
    unknown["templates"]["en"] = json!("{{secret.code}}");
    let (s, v) = app
        .put("/api/v1/notification-rules/order.shipped", unknown)
        .await;
    assert_eq!(s, 400, "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("secret.code"),
        "{v}"
    );
    let (s, v) = app
        .put("/api/v1/notification-rules/Bad%20Type", rule())
        .await;
    assert_eq!(s, 400, "{v}");
    // Every wrong field is named at once, for the console's form.
    let mut several = rule();
    several["templates"]["ja"] = json!("{{oops");
    several["channels"] = json!([]);
    let (s, v) = app
        .put("/api/v1/notification-rules/Bad%20Type", several)
        .await;
    assert_eq!(s, 400, "{v}");
    let named: Vec<&String> = v["fields"].as_object().unwrap().keys().collect();
    assert_eq!(named, ["channels", "templates.ja", "type"], "{v}");

    let (s, v) = app
        .put("/api/v1/notification-rules/order.shipped", rule())
        .await;
    assert_eq!(s, 200, "{v}");
    let id = customer(&app, json!([{"channel": "sms", "address": PHONE}]), "sms").await;
    // Unknown event type.
    let (s, v) = app
        .post(
            "/api/v1/events",
            json!({"type": "order.lost", "customer": {"id": id}, "data": {}}),
        )
        .await;
    assert_eq!((s, v["code"].as_str()), (400, Some("invalid")), "{v}");
    // Unknown customer.
    let (s, v) = app
        .post(
            "/api/v1/events",
            json!({"type": "order.shipped", "customer": {"phone": "+819000000000"}, "data": {"order": {"id": "1"}}}),
        )
        .await;
    assert_eq!((s, v["code"].as_str()), (404, Some("not_found")), "{v}");
    // A required variable without a value: named.
    let (s, v) = app
        .post(
            "/api/v1/events",
            json!({"type": "order.shipped", "customer": {"id": id}, "data": {}}),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    assert!(v["message"].as_str().unwrap().contains("order.id"), "{v}");
    // Agents may not post events.
    let agent = app.agent("carol", &["general"], json!({})).await;
    let r = app
        .http
        .post(format!("{}/api/v1/events", app.base))
        .bearer_auth(&agent)
        .json(&json!({"type": "order.shipped", "customer": {"id": id}, "data": {"order": {"id": "1"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    // Nothing was sent or recorded.
    assert!(notifications(&app.timeline(&id).await).is_empty());
    assert!(rec.all().is_empty(), "{:?}", rec.all().len());
}

/// Waits until the scheduler has completed a tick that looked at engine time `at` or
/// later.
async fn tick_after(app: &TestApp, at: i64) {
    app.get_until("/api/v1/notifications-scheduler", "a scheduler tick", |v| {
        v["last_tick_at"].as_i64().is_some_and(|t| t >= at)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_notification_goes_out_at_its_time_and_survives_a_restart() {
    let rec = Recorder::start().await;
    let t0 = 1_800_000_000_000;
    let clock = ManualClock::new(switchboard::domain::Millis(t0));
    let tweak = |s: &mut switchboard::config::Settings| {
        channels_on(s, &rec);
        s.notify.tick_ms = 20;
    };
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_in_with_clock(dir, tweak, clock.clone()).await;
    let (s, v) = app
        .put(
            "/api/v1/notification-rules/appointment.reminder",
            json!({
                "templates": {"ja": "{{customer.name}}様、明日{{time}}にご予約があります。"},
                "variables": ["time"],
                "channels": ["sms"]
            }),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let _ = customer(&app, json!([{"channel": "sms", "address": PHONE}]), "sms").await;
    let (s, v) = app
        .post(
            "/api/v1/events",
            json!({"type": "appointment.reminder", "customer": {"phone": PHONE},
                   "data": {"time": "10:00"}, "send_at": "2027-01-15T08:01:00Z"}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(v["status"], "scheduled");
    let nid = v["id"].as_str().unwrap().to_owned();
    let due = v["send_at"].as_i64().unwrap();
    assert_eq!(due, t0 + 60_000, "2027-01-15T08:01:00Z is t0 + 60 s");

    // Restart on the same store: the schedule is durable.
    let dir = app.stop();
    let app = spawn_app_in_with_clock(dir, tweak, clock.clone()).await;

    // Half-way: a tick runs after the clock moved, and nothing is sent.
    clock.advance_ms(30_000);
    tick_after(&app, t0 + 30_000).await;
    let (_, n) = app.get(&format!("/api/v1/notifications/{nid}")).await;
    assert_eq!(n["status"], "scheduled", "{n}");
    assert!(rec.all().is_empty());

    // Its time: sent, once.
    clock.advance_ms(30_000);
    let sent = rec.wait_for("/Messages.json", 1).await;
    assert_eq!(
        sent[0].form()["Body"],
        "田中様、明日10:00にご予約があります。"
    );
    let n = app
        .get_until(
            &format!("/api/v1/notifications/{nid}"),
            "delivered to the provider",
            |n| n["status"] == "sent" && n["delivery"]["status"] == "sent",
        )
        .await;
    assert_eq!(n["channel"], "sms");
    tick_after(&app, t0 + 60_000).await;
    clock.advance_ms(1_000);
    tick_after(&app, t0 + 61_000).await;
    assert_eq!(rec.all().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notification_emails_carry_an_unsubscribe_link_that_opts_out() {
    use crate::survey::{email_on, link_path, relay};
    let (port, mut mails, _relay) = relay().await;
    let app = spawn_app(|s| email_on(s, port)).await;
    let (s, v) = app
        .put(
            "/api/v1/notification-rules/order.shipped",
            json!({
                "templates": {"en": "{{customer.name}}, your order {{order.id}} has shipped."},
                "subjects": {"en": "Order {{order.id}} shipped"},
                "variables": ["order.id"],
                "channels": ["email"]
            }),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, c) = app
        .post(
            "/api/v1/customers",
            json!({"display_name": "Ann", "attributes": {"language": "en"},
                   "identities": [{"channel": "email", "address": "ann@example.com"}]}),
        )
        .await;
    assert_eq!(s, 201, "{c}");
    let event = json!({"type": "order.shipped", "customer": {"email": "ann@example.com"}, "data": {"order": {"id": "Z9"}}});
    let (s, v) = app.post("/api/v1/events", event.clone()).await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(v["channel"], "email");
    let mail = tokio::time::timeout(WAIT, mails.recv())
        .await
        .expect("email")
        .unwrap();
    // The email sender words every outbound email as a reply ("Re: ").
    assert!(mail
        .subject
        .as_deref()
        .unwrap()
        .ends_with("Order Z9 shipped"));
    assert!(
        mail.text.starts_with("Ann, your order Z9 has shipped."),
        "{}",
        mail.text
    );
    let path = link_path(&mail.text, "/unsubscribe/");
    // Viewing the link changes nothing; confirming opts out.
    let page = app
        .http
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let r = app
        .http
        .post(format!("{}{path}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (s, v) = app.post("/api/v1/events", event).await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(v["status"], "suppressed", "{v}");
    let t = app.timeline(c["id"].as_str().unwrap()).await;
    assert!(t
        .iter()
        .any(|e| e["type"] == "opt_out_changed" && e["channel"] == "email"));
    // A made-up token: 404.
    let r = app
        .http
        .post(format!("{}/unsubscribe/{}", app.base, "f".repeat(32)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_failure_is_recorded_on_the_notification() {
    let rec = Recorder::start().await;
    let app = spawn_app(|s| channels_on(s, &rec)).await;
    let (s, _) = app
        .put("/api/v1/notification-rules/order.shipped", rule())
        .await;
    assert_eq!(s, 200);
    customer(&app, json!([{"channel": "sms", "address": PHONE}]), "sms").await;
    // Twilio refuses for good (400: not retried).
    rec.fail_next(&[400]);
    let (s, v) = app
        .post("/api/v1/events", json!({"type": "order.shipped", "customer": {"phone": PHONE}, "data": {"order": {"id": "F"}}}))
        .await;
    assert_eq!(s, 202, "{v}");
    let n = app
        .get_until(
            &format!("/api/v1/notifications/{}", v["id"].as_str().unwrap()),
            "the failure",
            |n| n["delivery"]["status"] == "failed",
        )
        .await;
    assert!(
        n["delivery"]["detail"].as_str().unwrap().contains("400"),
        "{n}"
    );
}

/// The console's notifications section in Chromium (clients/tests/admin_notify.mjs):
/// a rule without an event type is refused on the page, one whose template does not
/// parse by the server (its message on the form), a good one is saved, edited and —
/// after a reload still edited — deleted, the page agreeing with `GET
/// /api/v1/notification-rules` throughout. Here: the store holds no rule, and the
/// audit log has the refused save, the create, the edit (before and after) and the
/// delete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_manages_notification_rules_in_a_real_browser() {
    let app = spawn_app(|_| {}).await;
    let admin = app.admin.clone();
    run_browser_script(
        &app,
        "admin_notify.mjs",
        &[
            ("ADMIN_ID", "admin"),
            ("ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("ADMIN_TOKEN", &admin),
        ],
        "admin notify browser test passed",
    )
    .await;
    let (s, all) = app.get("/api/v1/notification-rules").await;
    assert_eq!(s, 200, "{all}");
    assert_eq!(all["rules"], json!([]), "{all}");
    let (s, _) = app.get("/api/v1/notification-rules/order.shipped").await;
    assert_eq!(s, 404);

    // Newest first: the edit, the create, the refused save (the page's own refusal
    // sent nothing).
    let (_, log) = app
        .get("/api/v1/audit?action=PUT%20/api/v1/notification-rules/&limit=10")
        .await;
    let puts = log["entries"].as_array().unwrap();
    let statuses: Vec<&Value> = puts.iter().map(|e| &e["detail"]["status"]).collect();
    assert_eq!(statuses, [&json!(200), &json!(200), &json!(400)], "{log}");
    assert!(puts
        .iter()
        .all(|e| e["actor"] == "admin" && e["detail"]["params"]["type"] == "order.shipped"));
    let edit = &puts[0]["detail"]["change"];
    assert_eq!(
        edit["before"]["templates"]["en"],
        "{{customer.name}}, your order {{order.id}} has shipped.",
        "{log}"
    );
    assert_eq!(
        edit["after"]["templates"]["en"],
        "{{customer.name}}, order {{order.id}} is on its way with {{carrier?}}."
    );
    assert_eq!(edit["after"]["channels"], json!(["line", "sms"]));
    assert_eq!(puts[1]["detail"]["change"]["before"], Value::Null);

    let (_, log) = app
        .get("/api/v1/audit?action=DELETE%20/api/v1/notification-rules/&limit=10")
        .await;
    let deletes = log["entries"].as_array().unwrap();
    assert_eq!(deletes.len(), 1, "{log}");
    assert_eq!(deletes[0]["detail"]["status"], 204);
    let gone = &deletes[0]["detail"]["change"];
    assert_eq!(
        gone["before"]["templates"]["en"],
        "{{customer.name}}, order {{order.id}} is on its way with {{carrier?}}."
    );
    assert_eq!(gone["after"], Value::Null);
}
