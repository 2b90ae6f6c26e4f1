//! The self-service funnel end to end: contacts through the FAQ bot (kept; handed off
//! and resolved; handed off and left waiting), the phone's IVR (to a queue; to a
//! callback; hung up in the menus), the web
//! chat's visual IVR (a callback that moves the chat to the phone) and straight in by
//! SMS (resolved, reopened, resolved again), then `GET /api/v1/reports/funnel` (JSON and
//! CSV) checked contact by contact, and bad requests answered with typed errors.

use crate::channels::{channels_on, twilio_post};
use crate::helpers::*;
use crate::ivr::{call, enqueued, tree, with};
use crate::recorder::Recorder;
use serde_json::{json, Value};
use switchboard::domain::{Channel, QueueName};

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_entry_point_is_followed_to_its_outcome() {
    let rec = Recorder::start().await;
    let app = spawn_app(|s| {
        channels_on(s, &rec);
        tree(s);
        // The visual IVR's chat leaf opens in billing, where nobody works.
        s.ivr.menus[0].options[3].action =
            switchboard::ivr::Action::Chat(QueueName::parse("billing").unwrap());
        s.bot.enabled = true;
        s.bot.max_unanswered_turns = 2;
        s.bot.channels = vec![Channel::Chat];
        s.bot.queues = vec![QueueName::parse("general").unwrap()];
    })
    .await;
    let from = now_ms() - 1;
    for q in ["orders", "billing"] {
        app.queue(q, json!({})).await;
    }
    let (s, v) = app
        .post(
            "/api/v1/kb/articles",
            json!({"title": "返品方法について",
                   "body": "商品の返品はお届けから30日以内に承ります。",
                   "language": "ja"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let token = app.agent("alice", &["general"], json!({})).await;
    let mut alice = Client::available(&app, &token).await;

    // 1. The bot answers a visitor, who needs nobody: contained.
    let (mut kept, _) = Client::visitor(&app).await;
    chat_say(&mut kept, "返品したいのですが").await;
    kept.expect_where("event", |m| m["event"]["kind"] == "answer")
        .await;

    // 2. The bot cannot answer twice and hands off; Alice resolves it.
    let (mut handed, _) = Client::visitor(&app).await;
    chat_say(&mut handed, "パスワードを忘れました").await;
    chat_say(&mut handed, "ログインできません").await;
    let conv = accept_next(&mut alice).await;
    resolve(&mut alice, &conv).await;

    // 2b. The bot answers, then the visitor asks for a person and leaves waiting.
    let (mut left, _) = Client::visitor(&app).await;
    chat_say(&mut left, "返品したいのですが").await;
    chat_say(&mut left, "オペレーターと話したい").await;
    let offer = alice.expect("offer").await;
    left.send(json!({"type": "leave"})).await;
    alice
        .expect_where("offer_revoked", |m| m["offer_id"] == offer["offer_id"])
        .await;

    // 3. A caller walks main > orders to the orders queue, where nobody works yet.
    let c = call("CA_F1", "+81311110001");
    twilio_post(&app, "/webhooks/twilio/voice", &c, None).await;
    twilio_post(
        &app,
        "/webhooks/twilio/voice/menu",
        &with(&c, "Digits", "1"),
        None,
    )
    .await;
    let (_, routed) = twilio_post(
        &app,
        "/webhooks/twilio/voice/menu?path=main.orders&try=0",
        &with(&c, "Digits", "1"),
        None,
    )
    .await;
    let waiting = enqueued(&routed);
    let (_, v) = app.get(&format!("/api/v1/conversations/{waiting}")).await;
    assert_eq!(v["state"], "queued", "{v}");

    // 4. Another caller asks for a callback in the orders menu: it waits.
    let c2 = call("CA_F2", "+81311110002");
    twilio_post(&app, "/webhooks/twilio/voice", &c2, None).await;
    let (_, bye) = twilio_post(
        &app,
        "/webhooks/twilio/voice/menu?path=main.orders&try=0",
        &with(&c2, "Digits", "2"),
        None,
    )
    .await;
    assert!(bye.contains("<Hangup/>"), "{bye}");
    // Its call ends: it reached the callback, so it was no self-service call.
    let mut ended = c2.clone();
    ended[3] = ("CallStatus", "completed");
    let (s, _) = twilio_post(&app, "/webhooks/twilio/voice/status", &ended, None).await;
    assert_eq!(s, 204);

    // 4b. A third caller goes into the orders menu and hangs up there: the menus alone
    // served the call (contained).
    let c3 = call("CA_F3", "+81311110005");
    twilio_post(&app, "/webhooks/twilio/voice", &c3, None).await;
    twilio_post(
        &app,
        "/webhooks/twilio/voice/menu",
        &with(&c3, "Digits", "1"),
        None,
    )
    .await;
    let mut ended = c3.clone();
    ended[3] = ("CallStatus", "completed");
    let (s, _) = twilio_post(&app, "/webhooks/twilio/voice/status", &ended, None).await;
    assert_eq!(s, 204);

    // 5. A visitor picks the visual IVR's chat leaf, then asks to be called back: the
    // chat moves to the phone.
    let (mut visual, w) = Client::visitor(&app).await;
    // The path goes with the chat option's queue, and must be menu ids: refused, and
    // nothing is stored.
    for bad in [
        json!({"type": "message", "client_msg_id": "b1", "text": "x", "ivr_path": ["main"]}),
        json!({"type": "message", "client_msg_id": "b2", "text": "x", "queue": "billing",
               "ivr_path": ["Main Menu"]}),
    ] {
        visual.send(bad.clone()).await;
        let e = visual.expect("error").await;
        assert_eq!(e["code"], "invalid", "{bad}: {e}");
    }
    let visitor = w["customer_id"].as_str().unwrap().to_owned();
    assert!(app.timeline(&visitor).await.is_empty());
    visual
        .send(
            json!({"type": "message", "client_msg_id": "v1", "text": "x", "queue": "billing",
                     "ivr_path": ["main"]}),
        )
        .await;
    visual.expect("ack").await;
    let t = app.timeline(&visitor).await;
    let opened = t
        .iter()
        .find(|e| e["type"] == "conversation_opened")
        .unwrap();
    assert_eq!(opened["ivr_path"], json!(["main"]), "{opened}");
    visual
        .send(json!({"type": "request_callback", "phone": "+81311110003", "ivr_path": ["main"]}))
        .await;
    visual.expect("callback_requested").await;

    // 5b. Another visitor starts a chat from the visual IVR and waits.
    let (mut waits, _) = Client::visitor(&app).await;
    waits
        .send(
            json!({"type": "message", "client_msg_id": "w1", "text": "y", "queue": "billing",
                     "ivr_path": ["main"]}),
        )
        .await;
    waits.expect("ack").await;

    // 6. An SMS straight to the queue: resolved, written to again, resolved again.
    app.inbound("sms", "+81311110004", "注文について", None)
        .await;
    let sms = accept_next(&mut alice).await;
    resolve(&mut alice, &sms).await;
    app.inbound("sms", "+81311110004", "もう一つ", None).await;
    let again = accept_next(&mut alice).await;
    assert_eq!(again["id"], sms["id"], "reopened, not new");
    resolve(&mut alice, &again).await;

    let to = now_ms() + 1;
    let (s, v) = app
        .get(&format!("/api/v1/reports/funnel?from={from}&to={to}"))
        .await;
    assert_eq!(s, 200, "{v}");
    let entry = |channel: &str, front: &str| -> Value {
        v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["channel"] == channel && e["front"] == front)
            .unwrap_or_else(|| panic!("no {channel}/{front} entry in {v:#}"))
            .clone()
    };
    assert_eq!(v["entries"].as_array().unwrap().len(), 4, "{v:#}");
    let bot = entry("chat", "bot");
    assert_eq!(
        (
            &bot["contacts"],
            &bot["bot_answered"],
            &bot["contained"],
            &bot["handed_off"],
            &bot["handoff_reasons"],
            &bot["queued"],
            &bot["answered"],
            &bot["resolved"],
            &bot["fcr_resolved"],
            &bot["containment_rate"],
            &bot["fcr_rate"],
        ),
        (
            &json!(3),
            &json!(2),
            &json!(1),
            &json!(2),
            &json!({"requested": 1, "unanswered": 1}),
            &json!(2),
            &json!(1),
            &json!(1),
            &json!(1),
            &json!(1.0 / 3.0),
            &json!(1.0),
        ),
        "{bot:#}"
    );
    let ivr = entry("voice", "voice_ivr");
    assert_eq!(
        (
            &ivr["contacts"],
            &ivr["contained"],
            &ivr["handoff_reasons"],
            &ivr["abandoned"],
            &ivr["open"],
            &ivr["containment_rate"],
        ),
        (
            &json!(3),
            &json!(1),
            &json!({"queue": 1, "callback": 1}),
            &json!(0),
            &json!(2),
            &json!(1.0 / 3.0),
        ),
        "{ivr:#}"
    );
    let visual = entry("chat", "visual_ivr");
    assert_eq!(
        (
            &visual["contacts"],
            &visual["handoff_reasons"],
            &visual["switched_channel"],
            &visual["open"],
        ),
        (
            &json!(2),
            &json!({"callback": 1, "queue": 1}),
            &json!(1),
            &json!(2)
        ),
        "{visual:#}"
    );
    let sms = entry("sms", "none");
    assert_eq!(
        (
            &sms["contacts"],
            &sms["handed_off"],
            &sms["queued"],
            &sms["resolved"],
            &sms["fcr_resolved"],
            &sms["fcr_rate"],
            &sms["containment_rate"],
        ),
        (
            &json!(1),
            &json!(0),
            &json!(1),
            &json!(1),
            &json!(0),
            &json!(0.0),
            &Value::Null,
        ),
        "{sms:#}"
    );

    // Every contact is one flow: entry, step, hand-off, switch, outcome.
    let mut flows: Vec<String> = v["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{}/{} {} {} {} {} x{}",
                f["channel"].as_str().unwrap(),
                f["front"].as_str().unwrap(),
                f["step"].as_str().unwrap_or("-"),
                f["handoff"].as_str().unwrap_or("-"),
                f["switched_to"].as_str().unwrap_or("-"),
                f["outcome"].as_str().unwrap(),
                f["contacts"]
            )
        })
        .collect();
    flows.sort();
    assert_eq!(
        flows,
        [
            "chat/bot answered - - contained x1",
            "chat/bot answered requested - abandoned x1",
            "chat/bot not_answered unanswered - resolved_first_contact x1",
            "chat/visual_ivr main callback voice open x1",
            "chat/visual_ivr main queue - open x1",
            "sms/none - - - resolved x1",
            "voice/voice_ivr main>orders - - contained x1",
            "voice/voice_ivr main>orders callback - open x1",
            "voice/voice_ivr main>orders queue - open x1",
        ],
        "{v:#}"
    );

    // One queue's contacts: where they came in.
    let (_, v) = app
        .get(&format!(
            "/api/v1/reports/funnel?from={from}&to={to}&queue=orders"
        ))
        .await;
    let fronts: Vec<&str> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["front"].as_str().unwrap())
        .collect();
    assert_eq!(fronts, ["voice_ivr"], "{v:#}");

    // CSV: the flows, one line each.
    let r = app
        .http
        .get(format!(
            "{}/api/v1/reports/funnel?from={from}&to={to}&format=csv",
            app.base
        ))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = r.text().await.unwrap();
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "channel,front,step,handoff,switched_to,outcome,contacts"
    );
    assert_eq!(lines.len(), 11, "{text}");
    assert!(
        lines.contains(&"chat,bot,answered,requested,,abandoned,1"),
        "{text}"
    );

    // Contacts that came in before the range are not in it.
    let (_, v) = app
        .get(&format!("/api/v1/reports/funnel?from={to}&to={}", to + 1))
        .await;
    assert_eq!(v["entries"], json!([]), "{v:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_funnel_requests_get_typed_errors() {
    let app = spawn_app(|s| s.reports.max_range_ms = 24 * 3_600_000).await;
    let t = now_ms();
    for (query, says) in [
        (format!("from={t}&to={t}"), "from must be before to"),
        (
            format!("from={t}&to={}", t + 25 * 3_600_000),
            "reports.max_range_ms",
        ),
        (
            format!("from={t}&to={}&format=xml", t + 1),
            "unknown format",
        ),
        (format!("from={t}&to={}&queue=Bad%20Queue", t + 1), "queue"),
        (
            format!("from={t}&to={}&group=queue", t + 1),
            "unknown field",
        ),
        (format!("from=x&to={}", t + 1), "Query deserialize error"),
    ] {
        let (s, v) = app.get(&format!("/api/v1/reports/funnel?{query}")).await;
        assert_eq!(s, 400, "{query}: {v}");
        assert_eq!(v["code"], "invalid", "{query}: {v}");
        assert!(
            v["message"].as_str().unwrap_or("").contains(says),
            "{query}: {v}"
        );
    }
    // Agents may not read it; nor may anyone without a token.
    let token = app.agent("bob", &["general"], json!({})).await;
    let url = format!("{}/api/v1/reports/funnel?from={t}&to={}", app.base, t + 1);
    let r = app.http.get(&url).bearer_auth(token).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = app.http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
}
