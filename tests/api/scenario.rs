//! The story from the source material, as one test, on a clock the test moves: a
//! customer who read nothing opens the web chat (logged in on the company's site) and is
//! routed to agent A; two days later they write on Messenger (linked to the same
//! account through Messenger's account linking) and the reopened conversation goes to A
//! again (sticky), who sees the chat history; then they call, and the voice
//! conversation shows the whole story to whoever takes it — with voice's exclusive
//! capacity.

use crate::channels::{channels_on, fb_post, twilio_post};
use crate::helpers::*;
use crate::recorder::Recorder;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use switchboard::domain::time::ManualClock;
use switchboard::domain::{Clock, SystemClock};

const LOGIN_SECRET: &str = "company-login-secret";
const DAY_MS: u64 = 24 * 3_600_000;

/// A login token as the company's site would mint it (HS256 JWT), made here with the
/// hmac crate, independently of the engine's verifier.
fn jwt(claims: Value) -> String {
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let head = b64(br#"{"alg":"HS256","typ":"JWT"}"#);
    let body = b64(claims.to_string().as_bytes());
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(LOGIN_SECRET.as_bytes()).unwrap();
    mac.update(format!("{head}.{body}").as_bytes());
    format!("{head}.{body}.{}", b64(&mac.finalize().into_bytes()))
}

fn texts(view: &Value) -> Vec<String> {
    view["recent"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "message_in" || e["type"] == "message_out")
        .map(|e| {
            format!(
                "{}:{}",
                e["channel"].as_str().unwrap(),
                e["text"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_then_messenger_two_days_later_then_a_call_one_story() {
    let start = SystemClock.now();
    let clock = ManualClock::new(start);
    let rec = Recorder::start().await;
    let mut app = spawn_app_with_clock(
        |s| {
            channels_on(s, &rec);
            s.channels.login_secret = LOGIN_SECRET.into();
            s.channels.voice.menu = vec![switchboard::ivr::IvrOption {
                digit: '1',
                label: "お問い合わせ".into(),
                queue: Some(switchboard::domain::QueueName::parse("general").unwrap()),
                callback: false,
            }];
        },
        clock.clone(),
    )
    .await;
    app.queue("general", json!({"sticky_wait_ms": 300})).await;
    let ta = app.agent("aoki", &["general"], json!({})).await;
    let tb = app.agent("baba", &["general"], json!({})).await;
    let mut a = Client::available(&app, &ta).await;
    // B signs in now (agent tokens last hours, and the clock is about to jump days)
    // but stays away until day 2.
    let mut b = Client::agent(&app, &tb).await;

    // Day 0: logged in on the site, the customer opens the web chat.
    let exp = (start.0 as u64 + 3 * DAY_MS) / 1000;
    let token = jwt(json!({"sub": "cust-42", "email": "hanako@example.jp",
        "phone_number": "+819012340000", "name": "佐藤 花子", "exp": exp}));
    let mut chat = Client::connect(&app.ws_url(&format!("/ws/chat?login={token}"))).await;
    let welcome = chat.expect("welcome").await;
    let customer = welcome["customer_id"].as_str().unwrap().to_owned();
    chat_say(&mut chat, "注文した靴を返品したいです").await;
    let conv = accept_next(&mut a).await;
    assert_eq!(conv["channel"], "chat");
    assert_eq!(conv["customer"]["display_name"], "佐藤 花子");
    agent_say(
        &mut a,
        &conv["id"],
        "承知しました。返品の手続きをご案内します。",
    )
    .await;
    a.send(json!({"type": "resolve", "conversation_id": conv["id"]}))
        .await;
    a.expect("conversation_updated").await;
    chat.close().await;

    // Day 2: Messenger, linked to the same account by Messenger's account linking.
    clock.advance_ms(2 * DAY_MS);
    let psid = "7010203040506070";
    let link = json!({"object": "page", "entry": [{"id": "PAGE1", "time": 1, "messaging": [{
        "sender": {"id": psid}, "recipient": {"id": "PAGE1"}, "timestamp": 1,
        "account_linking": {"status": "linked", "authorization_code": token}}]}]});
    assert_eq!(fb_post(&app, &link, None).await, 200);
    b.send(json!({"type": "set_status", "status": "available"}))
        .await;
    b.expect_where("status", |m| m["status"] == "available")
        .await;
    let msg = json!({"object": "page", "entry": [{"id": "PAGE1", "time": 2, "messaging": [{
        "sender": {"id": psid}, "recipient": {"id": "PAGE1"}, "timestamp": 2,
        "message": {"mid": "m_story_1", "text": "先日の返品の件ですが、ラベルが届きません"}}]}]});
    assert_eq!(fb_post(&app, &msg, None).await, 200);
    // Sticky: A is offered it first although B is free too.
    let again = accept_next(&mut a).await;
    b.assert_none_before_pong("offer").await;
    assert_eq!(again["id"], conv["id"], "the same conversation, reopened");
    assert_eq!(again["channel"], "messenger");
    assert_eq!(again["customer"]["id"], customer.as_str());
    let seen = texts(&again);
    assert_eq!(
        seen,
        [
            "chat:注文した靴を返品したいです",
            "chat:承知しました。返品の手続きをご案内します。",
            "messenger:先日の返品の件ですが、ラベルが届きません"
        ],
        "A sees the chat history"
    );
    // The reply goes back on Messenger (the channel the customer last wrote on).
    agent_say(&mut a, &again["id"], "ラベルを再送しました").await;
    let sent = rec.wait_for("/me/messages", 1).await;
    assert_eq!(sent[0].json()["recipient"]["id"], psid);
    a.send(json!({"type": "resolve", "conversation_id": again["id"]}))
        .await;
    a.expect("conversation_updated").await;

    // Later that day the customer calls; A is away, so B takes the call.
    clock.advance_ms(3_600_000);
    a.send(json!({"type": "set_status", "status": "away"}))
        .await;
    a.expect_where("status", |m| m["status"] == "away").await;
    let call = [
        ("CallSid", "CAstory"),
        ("From", "+819012340000"),
        ("To", "+815012345678"),
        ("CallStatus", "ringing"),
        ("Digits", "1"),
    ];
    let (status, twiml) = twilio_post(&app, "/webhooks/twilio/voice/menu", &call, None).await;
    assert_eq!(status, 200, "{twiml}");
    assert_eq!(crate::ivr::enqueued(&twiml), conv["id"].as_str().unwrap());
    // A's sticky claim lapses as (engine) time passes; B, back at work, pulls the call.
    clock.advance_ms(1_000);
    for status in ["away", "available"] {
        b.send(json!({"type": "set_status", "status": status}))
            .await;
        b.expect_where("status", |m| m["status"] == status).await;
    }
    let voice = accept_next(&mut b).await;
    assert_eq!(voice["id"], conv["id"]);
    assert_eq!(voice["channel"], "voice");
    let story = texts(&voice);
    assert_eq!(story.len(), 5, "{story:#?}");
    assert!(story[0].starts_with("chat:注文した靴"));
    assert!(story[2].starts_with("messenger:"));
    assert!(story[4].starts_with("voice:着信"));
    let kinds: Vec<&str> = voice["recent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"channel_switched") && kinds.contains(&"conversation_reopened"));
    // On a call B takes nothing else.
    // (Staff tokens expire by the engine clock too: sign in again after the jump.)
    app.admin = app.login("admin", ADMIN_PASSWORD).await;
    let (_, live) = app.get("/api/v1/agents/baba").await;
    // [voice, chat, email, messaging]
    assert_eq!(live["live"]["free"], json!([0, 0, 0, 0]), "{live}");
}
