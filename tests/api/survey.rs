//! CSAT surveys over real sockets: resolving a web-chat conversation puts a `survey`
//! in the widget, whose answer is stored once and counted in `/api/v1/reports` for the
//! queue and the agent; resolving an SMS conversation texts the question (to the local
//! recording server standing in for Twilio) and a digit replied inside the answer
//! window is the answer — not a new message, no reopened conversation; answers out of
//! range are refused (typed error frame, one "please answer 1–5" SMS) and store nothing.

use crate::channels::{channels_on, sms_in};
use crate::helpers::*;
use crate::recorder::Recorder;
use serde_json::{json, Value};
use switchboard::domain::time::ManualClock;

const DAY_MS: i64 = 86_400_000;

/// A clock on a whole day, so every report of the test falls in one daily bucket.
fn day_clock() -> (ManualClock, i64) {
    let t0 = 20_000 * DAY_MS + 9 * 3_600_000;
    (
        ManualClock::new(switchboard::domain::Millis(t0)),
        t0 - 9 * 3_600_000,
    )
}

async fn report(app: &TestApp, day: i64, group: &str) -> Value {
    let (s, v) = app
        .get(&format!(
            "/api/v1/reports?from={day}&to={}&interval=day&group={group}",
            day + DAY_MS
        ))
        .await;
    assert_eq!(s, 200, "{v}");
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_chat_survey_is_answered_once_and_counted_for_queue_and_agent() {
    let (clock, day) = day_clock();
    let app = spawn_app_with_clock(|s| s.survey.enabled = true, clock.clone()).await;
    let alice = app.agent("alice", &["general"], json!({})).await;
    let mut agent = Client::available(&app, &alice).await;
    let (mut chat, welcome) = Client::visitor(&app).await;
    let customer = welcome["customer_id"].as_str().unwrap().to_owned();
    chat_say(&mut chat, "返品したいです").await;
    let conv = accept_next(&mut agent).await;
    agent
        .send(json!({"type": "resolve", "conversation_id": conv["id"]}))
        .await;

    let survey = chat.expect("survey").await;
    assert_eq!(survey["conversation_id"], conv["id"]);
    assert_eq!(survey["scale_max"], 5);
    assert!(survey["question"].as_str().unwrap().contains('5'));

    // Out of range: a typed error frame, nothing stored.
    for bad in [0, 6] {
        chat.send(json!({"type": "survey_answer", "conversation_id": conv["id"], "score": bad}))
            .await;
        let e = chat.expect("error").await;
        assert_eq!(e["code"], "invalid", "{e}");
    }
    let (s, v) = app
        .get(&format!(
            "/api/v1/conversations/{}/survey",
            conv["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "sent");
    assert!(v.get("score").is_none());
    assert!(v.get("secret").is_none());

    chat.send(json!({"type": "survey_answer", "conversation_id": conv["id"], "score": 4, "comment": "丁寧でした"}))
        .await;
    let thanks = chat.expect("survey_thanks").await;
    assert_eq!(thanks["score"], 4);
    // First answer wins.
    chat.send(json!({"type": "survey_answer", "conversation_id": conv["id"], "score": 1}))
        .await;
    assert_eq!(chat.expect("error").await["code"], "conflict");

    let (_, v) = app
        .get(&format!(
            "/api/v1/conversations/{}/survey",
            conv["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(v["status"], "answered");
    assert_eq!(v["score"], 4);
    assert_eq!(v["comment"], "丁寧でした");
    assert_eq!(v["agent"], "alice");
    assert_eq!(v["answered_on"], "chat");
    let events = app.timeline(&customer).await;
    let t = types(&events);
    assert!(t.contains(&"survey_sent".to_owned()), "{t:?}");
    assert_eq!(
        t.iter().filter(|t| *t == "survey_answered").count(),
        1,
        "{t:?}"
    );

    let q = report(&app, day, "queue").await;
    assert_eq!(q["rows"][0]["group"], "general", "{q:#}");
    assert_eq!(q["rows"][0]["csat_count"], 1, "{q:#}");
    assert_eq!(q["rows"][0]["csat_average"], 0.8, "{q:#}");
    let a = report(&app, day, "agent").await;
    let row = a["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["group"] == "alice")
        .unwrap_or_else(|| panic!("alice row: {a:#}"));
    assert_eq!(row["csat_count"], 1);
    assert_eq!(row["csat_average"], 0.8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_digit_inside_the_window_is_the_answer_and_out_of_range_gets_one_reminder() {
    let rec = Recorder::start().await;
    let (clock, day) = day_clock();
    let app = spawn_app_with_clock(
        |s| {
            channels_on(s, &rec);
            s.survey.enabled = true;
            s.survey.answer_window_ms = 3_600_000;
        },
        clock.clone(),
    )
    .await;
    let bob = app.agent("bob", &["general"], json!({})).await;
    let mut agent = Client::available(&app, &bob).await;
    let phone = "+819011112222";
    let (s, _) = sms_in(
        &app,
        "SM00000000000000000000000000000001",
        phone,
        "Where is my parcel?",
    )
    .await;
    assert_eq!(s, 200);
    let conv = accept_next(&mut agent).await;
    agent
        .send(json!({"type": "resolve", "conversation_id": conv["id"]}))
        .await;
    let sent = rec.wait_for("/Messages.json", 1).await;
    let q = sent[0].form();
    assert_eq!(q["To"], phone);
    assert!(q["Body"].contains("1") && q["Body"].contains("5"), "{q:?}");

    // "6": out of range → one reminder, nothing stored.
    sms_in(&app, "SM00000000000000000000000000000002", phone, "6").await;
    let sent = rec.wait_for("/Messages.json", 2).await;
    assert!(sent[1].form()["Body"].contains("1"), "{:?}", sent[1].form());
    // "5 thanks": the answer, with its comment.
    sms_in(
        &app,
        "SM00000000000000000000000000000003",
        phone,
        "５ thanks!",
    )
    .await;
    let customer = conv["customer"]["id"].as_str().unwrap().to_owned();
    let events = app
        .timeline_until(&customer, "survey answered", |e| {
            types(e).contains(&"survey_answered".to_owned())
        })
        .await;
    let t = types(&events);
    assert!(!t.contains(&"conversation_reopened".to_owned()), "{t:?}");
    assert!(
        !t.contains(&"conversation_opened".to_owned())
            || t.iter().filter(|x| *x == "conversation_opened").count() == 1
    );
    let answered = events
        .iter()
        .find(|e| e["type"] == "survey_answered")
        .unwrap();
    assert_eq!(answered["score"], 5);
    assert_eq!(answered["comment"], "thanks!");
    assert_eq!(answered["channel"], "sms");
    // The reminder went out once only.
    assert_eq!(
        rec.all()
            .iter()
            .filter(|r| r.path.contains("/Messages.json"))
            .count(),
        2
    );

    let r = report(&app, day, "queue").await;
    assert_eq!(r["rows"][0]["csat_count"], 1, "{r:#}");
    assert_eq!(r["rows"][0]["csat_average"], 1.0, "{r:#}");

    // After answering, a message goes the normal way: the conversation reopens.
    sms_in(
        &app,
        "SM00000000000000000000000000000004",
        phone,
        "one more question",
    )
    .await;
    app.timeline_until(&customer, "reopened", |e| {
        types(e).contains(&"conversation_reopened".to_owned())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survey_links_refuse_bad_tokens_and_bad_scores() {
    let app = spawn_app(|s| s.survey.enabled = true).await;
    let conv = uuid::Uuid::now_v7();
    for (token, want) in [
        ("nonsense".to_owned(), 404),
        (format!("{conv}.{}", "0".repeat(32)), 404),
    ] {
        let r = app
            .http
            .post(format!("{}/api/v1/surveys/{token}", app.base))
            .json(&json!({"score": 3}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), want);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["code"], "not_found");
        let page = app
            .http
            .get(format!("{}/survey/{token}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status().as_u16(), 404);
    }
    // A score out of range is refused before the token is even looked at.
    let r = app
        .http
        .post(format!(
            "{}/api/v1/surveys/{conv}.{}",
            app.base,
            "0".repeat(32)
        ))
        .json(&json!({"score": "abc"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "invalid");
}

/// A second SMTP server standing in for the company's relay: every email the engine
/// sends arrives on the returned channel.
pub struct Relay(tokio::sync::mpsc::UnboundedSender<ParsedEmail>);

#[async_trait::async_trait]
impl MailHandler for Relay {
    async fn deliver(&self, _: Envelope, m: ParsedEmail, _: usize) -> Result<(), Reject> {
        self.0.send(m).ok();
        Ok(())
    }
}

use switchboard::channels::email::{
    EmailSettings, Envelope, MailHandler, ParsedEmail, Reject, SmtpServer,
};

/// Starts a relay and returns (its port, received emails, its handle to keep).
pub async fn relay() -> (
    u16,
    tokio::sync::mpsc::UnboundedReceiver<ParsedEmail>,
    switchboard::channels::email::SmtpHandle,
) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let handle = SmtpServer::bind(
        EmailSettings {
            enabled: true,
            listen: "127.0.0.1:0".parse().unwrap(),
            ..EmailSettings::default()
        },
        std::sync::Arc::new(Relay(tx)),
    )
    .await
    .unwrap();
    (handle.local_addr.port(), rx, handle)
}

/// Email on, relayed to `port`.
pub fn email_on(s: &mut switchboard::config::Settings, port: u16) {
    let e = &mut s.channels.email;
    e.enabled = true;
    e.listen = "127.0.0.1:0".parse().unwrap();
    e.relay.host = "127.0.0.1".into();
    e.relay.port = port;
    e.relay.from_address = "support@switchboard.local".into();
}

/// The path (`/survey/...`, `/unsubscribe/...`) of the first link under `prefix`.
pub fn link_path(text: &str, prefix: &str) -> String {
    let i = text
        .find(prefix)
        .unwrap_or_else(|| panic!("{prefix} in {text}"));
    text[i..]
        .split(|c: char| c.is_whitespace() || c == ')' || c == '）')
        .next()
        .unwrap()
        .to_owned()
}

async fn form_post(app: &TestApp, path: &str, form: &[(&str, &str)]) -> (u16, String) {
    let r = app
        .http
        .post(format!("{}{path}", app.base))
        .form(form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_survey_link_is_a_single_use_form() {
    let (port, mut mails, _relay) = relay().await;
    let app = spawn_app(|s| {
        email_on(s, port);
        s.survey.enabled = true;
    })
    .await;
    let tok = app.agent("dan", &["general"], json!({})).await;
    let mut agent = Client::available(&app, &tok).await;
    app.inbound(
        "email",
        "hanako@example.jp",
        "請求書を再送してください",
        None,
    )
    .await;
    let conv = accept_next(&mut agent).await;
    agent
        .send(json!({"type": "resolve", "conversation_id": conv["id"]}))
        .await;
    let mail = tokio::time::timeout(WAIT, mails.recv())
        .await
        .expect("survey email")
        .unwrap();
    // The email sender words every outbound email as a reply ("Re: ").
    assert!(mail
        .subject
        .as_deref()
        .unwrap()
        .ends_with("アンケートのお願い"));
    let path = link_path(&mail.text, "/survey/");
    assert!(path.starts_with(&format!("/survey/{}.", conv["id"].as_str().unwrap())));

    // The page is a form with five choices.
    let page = app
        .http
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    assert_eq!(html.matches("type=\"radio\"").count(), 5, "{html}");
    // Out of range: 400, nothing stored.
    let (s, html) = form_post(&app, &path, &[("score", "6")]).await;
    assert_eq!(s, 400, "{html}");
    let (_, v) = app
        .get(&format!(
            "/api/v1/conversations/{}/survey",
            conv["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(v["status"], "sent");
    // A forged secret: 404.
    let forged = format!("{}{}", &path[..path.len() - 4], "abcd");
    assert_ne!(forged, path);
    assert_eq!(form_post(&app, &forged, &[("score", "3")]).await.0, 404);
    // The answer, then the link is spent.
    let (s, html) = form_post(
        &app,
        &path,
        &[("score", "3"), ("comment", "<b>早かった</b>")],
    )
    .await;
    assert_eq!(s, 200, "{html}");
    assert!(html.contains("data-code=\"ok\""));
    let (s, _) = form_post(&app, &path, &[("score", "5")]).await;
    assert_eq!(s, 409);
    let r = app
        .http
        .post(format!(
            "{}/api/v1/surveys/{}",
            app.base,
            path.trim_start_matches("/survey/")
        ))
        .json(&json!({"score": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 409);
    let (_, v) = app
        .get(&format!(
            "/api/v1/conversations/{}/survey",
            conv["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(v["score"], 3);
    assert_eq!(v["comment"], "<b>早かった</b>");
    assert_eq!(v["answered_on"], "email");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn line_survey_offers_quick_replies_and_a_tap_is_the_answer() {
    use crate::channels::{customer_of, line_post, line_text};
    let rec = Recorder::start().await;
    let app = spawn_app(|s| {
        channels_on(s, &rec);
        s.survey.enabled = true;
    })
    .await;
    let tok = app.agent("eve", &["general"], json!({})).await;
    let mut agent = Client::available(&app, &tok).await;
    let user = "U0000000000000000000000000000beef";
    assert_eq!(
        line_post(&app, &line_text(user, "2001", "こんにちは", "rt-9"), None).await,
        200
    );
    let conv = accept_next(&mut agent).await;
    agent
        .send(json!({"type": "resolve", "conversation_id": conv["id"]}))
        .await;
    let sent = rec.wait_for("/v2/bot/message/", 1).await;
    let msg = &sent[0].json()["messages"][0];
    assert!(msg["text"].as_str().unwrap().contains("1（不満）"), "{msg}");
    let items = msg["quickReply"]["items"]
        .as_array()
        .expect("quick replies");
    let labels: Vec<&str> = items
        .iter()
        .map(|i| i["action"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["1", "2", "3", "4", "5"]);
    // Tapping "2" sends the text "2".
    assert_eq!(
        line_post(&app, &line_text(user, "2002", "2", "rt-10"), None).await,
        200
    );
    let cid = customer_of(&app, "line", user).await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let t = app
        .timeline_until(&cid, "survey answered", |e| {
            e.iter().any(|x| x["type"] == "survey_answered")
        })
        .await;
    let a = t.iter().find(|e| e["type"] == "survey_answered").unwrap();
    assert_eq!(
        (a["score"].as_u64(), a["channel"].as_str()),
        (Some(2), Some("line"))
    );
    assert!(!types(&t).contains(&"conversation_reopened".to_owned()));
}

/// The widget's survey card in a real browser (clients/tests/survey.mjs): the page
/// chats, this test accepts and resolves as the agent, the page answers 4 with a
/// comment, and the answer is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_widget_survey_card_in_a_real_browser() {
    let app = spawn_app(|s| s.survey.enabled = true).await;
    let tok = app.agent("fay", &["general"], json!({})).await;
    let mut agent = Client::available(&app, &tok).await;
    let node = tokio::spawn(browser_script(&app, "survey.mjs", &[]).output());
    let conv = accept_next(&mut agent).await;
    agent
        .send(json!({"type": "resolve", "conversation_id": conv["id"]}))
        .await;
    assert_browser_passed(
        node.await.unwrap(),
        "survey.mjs",
        "browser survey test passed",
    );
    let (_, v) = app
        .get(&format!(
            "/api/v1/conversations/{}/survey",
            conv["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(v["score"], 4, "{v}");
    assert_eq!(v["comment"], "とても親切でした");
    assert_eq!(v["answered_on"], "chat");
}

/// The survey settings edited live (docs/engagement.md "Survey settings in the
/// console"): refused field by field with nothing changed, turned on without a
/// restart (the next resolved chat gets its survey), a stale edit is 409, and the
/// saved version outlives a restart over the configuration file's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survey_settings_are_changed_live_and_refused_field_by_field() {
    let app = spawn_app(|_| {}).await;
    let (st, v) = app.get("/api/v1/survey-settings").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        (v["version"].as_u64(), v["settings"]["enabled"].as_bool()),
        (Some(0), Some(false))
    );
    assert_eq!(v["saved_by"], "config");

    let (st, v) = app
        .put(
            "/api/v1/survey-settings",
            json!({"version": 0, "settings": {"max_comment_bytes": "many", "colour": 1}}),
        )
        .await;
    assert_eq!(st, 400, "{v}");
    let named: Vec<&String> = v["fields"].as_object().unwrap().keys().collect();
    assert_eq!(named, ["colour", "max_comment_bytes"], "{v}");
    let (st, v) = app
        .put(
            "/api/v1/survey-settings",
            json!({"version": 0, "settings": {"enabled": true, "answer_window_ms": 0, "default_language": "fr"}}),
        )
        .await;
    assert_eq!(st, 400, "{v}");
    let named: Vec<&String> = v["fields"].as_object().unwrap().keys().collect();
    assert_eq!(named, ["answer_window_ms", "default_language"], "{v}");
    assert_eq!(app.get("/api/v1/survey-settings").await.1["version"], 0);

    // Off: a resolved chat gets no survey.
    let alice = app.agent("alice", &["general"], json!({})).await;
    let mut agent = Client::available(&app, &alice).await;
    let (mut chat, _) = Client::visitor(&app).await;
    chat_say(&mut chat, "一つ目").await;
    let conv = accept_next(&mut agent).await;
    resolve(&mut agent, &conv).await;
    chat.assert_none_before_pong("survey").await;

    let (st, saved) = app
        .put(
            "/api/v1/survey-settings",
            json!({"version": 0, "settings": {"enabled": true, "default_language": "en"}}),
        )
        .await;
    assert_eq!(st, 200, "{saved}");
    assert_eq!(saved["version"], 1);
    assert_eq!(saved["saved_by"], "admin");
    assert_eq!(
        saved["settings"]["answer_window_ms"],
        24 * 3_600_000,
        "defaults fill the rest"
    );

    // On at once: the next resolved chat gets one.
    chat_say(&mut chat, "二つ目").await;
    let conv = accept_next(&mut agent).await;
    resolve(&mut agent, &conv).await;
    let survey = chat.expect("survey").await;
    assert_eq!(survey["conversation_id"], conv["id"]);

    let (st, v) = app
        .put(
            "/api/v1/survey-settings",
            json!({"version": 0, "settings": {}}),
        )
        .await;
    assert_eq!((st, v["code"].as_str()), (409, Some("conflict")), "{v}");

    let dir = app.stop();
    let app = spawn_app_in(dir, |s| s.survey.max_comment_bytes = 10).await;
    let (_, v) = app.get("/api/v1/survey-settings").await;
    assert_eq!(v["version"], 1, "{v}");
    assert_eq!(v["settings"]["enabled"], true);
    assert_eq!(
        v["settings"]["max_comment_bytes"], 1_000,
        "the saved version wins over the file"
    );
}

/// The console's survey settings in Chromium (clients/tests/admin_survey.mjs): bad
/// values refused field by field, surveys turned on. Then here: the engine sends the
/// next resolved chat its survey without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_turns_surveys_on_in_a_real_browser() {
    let app = spawn_app(|_| {}).await;
    run_browser_script(
        &app,
        "admin_survey.mjs",
        &[("ADMIN_ID", "admin"), ("ADMIN_PASSWORD", ADMIN_PASSWORD)],
        "admin survey browser test passed",
    )
    .await;
    let (_, v) = app.get("/api/v1/survey-settings").await;
    assert_eq!(
        v["settings"],
        json!({"enabled": true, "answer_window_ms": 2 * 3_600_000, "max_comment_bytes": 500, "default_language": "en"}),
        "{v}"
    );
    let alice = app.agent("alice", &["general"], json!({})).await;
    let mut agent = Client::available(&app, &alice).await;
    let (mut chat, _) = Client::visitor(&app).await;
    chat_say(&mut chat, "hello").await;
    let conv = accept_next(&mut agent).await;
    resolve(&mut agent, &conv).await;
    assert_eq!(chat.expect("survey").await["conversation_id"], conv["id"]);
}
