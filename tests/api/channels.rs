//! Channel connectors over real sockets: provider webhooks signed exactly as each
//! provider signs them (computed here independently with the hmac crate), agent replies
//! leaving through the engine's HTTP client to a local recording server that stands in
//! for the provider's API (the real provider cannot be reached from a test), delivery
//! receipts, opt-out keywords, idempotent redelivery and bad input.

use crate::helpers::*;
use crate::recorder::Recorder;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use switchboard::config::Settings;

pub const PUBLIC: &str = "https://cc.example.test";
pub const TWILIO_TOKEN: &str = "twilio-auth-token";
pub const LINE_SECRET: &str = "line-channel-secret";
pub const FB_SECRET: &str = "fb-app-secret";
pub const WA_SECRET: &str = "wa-app-secret";
pub const IG_SECRET: &str = "ig-app-secret";
pub const X_SECRET: &str = "x-consumer-secret";

/// Every connector on, each provider's API pointed at `rec`.
pub fn channels_on(s: &mut Settings, rec: &Recorder) {
    let c = &mut s.channels;
    c.public_url = PUBLIC.into();
    c.outbound_retry_ms = 20;
    c.sms.enabled = true;
    c.sms.account_sid = "AC0123456789abcdef".into();
    c.sms.auth_token = TWILIO_TOKEN.into();
    c.sms.from_number = "+15005550006".into();
    c.sms.api_base = rec.base.clone();
    c.voice.enabled = true;
    c.voice.auth_token = TWILIO_TOKEN.into();
    c.line.enabled = true;
    c.line.channel_secret = LINE_SECRET.into();
    c.line.channel_access_token = "line-access-token".into();
    c.line.api_base = rec.base.clone();
    c.line.data_api_base = rec.base.clone();
    c.messenger.enabled = true;
    c.messenger.app_secret = FB_SECRET.into();
    c.messenger.verify_token = "verify-me".into();
    c.messenger.page_access_token = "page-token".into();
    c.messenger.api_base = rec.base.clone();
    c.instagram.enabled = true;
    c.instagram.app_secret = IG_SECRET.into();
    c.instagram.verify_token = "ig-verify".into();
    c.instagram.page_access_token = "ig-page-token".into();
    c.instagram.api_base = rec.base.clone();
    c.x.enabled = true;
    c.x.consumer_secret = X_SECRET.into();
    c.x.access_token = "x-user-token".into();
    c.x.api_base = rec.base.clone();
    c.whatsapp.enabled = true;
    c.whatsapp.app_secret = WA_SECRET.into();
    c.whatsapp.verify_token = "wa-verify".into();
    c.whatsapp.access_token = "wa-token".into();
    c.whatsapp.phone_number_id = "106540352242922".into();
    c.whatsapp.api_base = rec.base.clone();
    c.whatsapp.templates = vec![switchboard::domain::ApprovedTemplate {
        name: "order_update".into(),
        language: "ja".into(),
        body: "{{1}}様、ご注文{{2}}を発送しました。".into(),
    }];
}

// ------------------------------------------------------------- signing, independently

pub fn twilio_sign(url: &str, params: &[(&str, &str)]) -> String {
    twilio_sign_with(TWILIO_TOKEN, url, params)
}

/// [`twilio_sign`] with another account token.
pub fn twilio_sign_with(token: &str, url: &str, params: &[(&str, &str)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut data = url.to_owned();
    for (k, v) in sorted {
        data.push_str(k);
        data.push_str(v);
    }
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(token.as_bytes()).unwrap();
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn line_sign(body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(LINE_SECRET.as_bytes()).unwrap();
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn fb_sign(body: &[u8]) -> String {
    meta_sign(FB_SECRET, body)
}

/// Meta's `X-Hub-Signature-256` (Messenger, Instagram, WhatsApp) with app secret `secret`.
pub fn meta_sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

// ------------------------------------------------------------- provider requests

/// POSTs a Twilio form webhook to `path` (with query), signed unless `signature` is
/// given. Returns (status, body text).
pub async fn twilio_post(
    app: &TestApp,
    path: &str,
    params: &[(&str, &str)],
    signature: Option<&str>,
) -> (u16, String) {
    let r = match signature {
        None => twilio_signed(&app.http, &app.base, path, params).await,
        Some(sig) => app
            .http
            .post(format!("{}{path}", app.base))
            .header("X-Twilio-Signature", sig)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(params).unwrap())
            .send()
            .await
            .unwrap(),
    };
    (r.status().as_u16(), r.text().await.unwrap())
}

/// POSTs `params` as a form to `base` + `path`, signed as Twilio signs it (over
/// [`PUBLIC`] + `path`).
pub async fn twilio_signed(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    params: &[(&str, &str)],
) -> reqwest::Response {
    http.post(format!("{base}{path}"))
        .header(
            "X-Twilio-Signature",
            twilio_sign(&format!("{PUBLIC}{path}"), params),
        )
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(params).unwrap())
        .send()
        .await
        .unwrap()
}

pub async fn sms_in(app: &TestApp, sid: &str, from: &str, body: &str) -> (u16, String) {
    twilio_post(
        app,
        "/webhooks/twilio/sms",
        &[
            ("MessageSid", sid),
            ("AccountSid", "AC0123456789abcdef"),
            ("From", from),
            ("To", "+15005550006"),
            ("Body", body),
            ("NumMedia", "0"),
        ],
        None,
    )
    .await
}

/// POSTs JSON `body` to webhook `path` with its signature in `header`: `signature`,
/// else the one `sign` computes over the raw body. The response status.
pub async fn signed_json_post(
    app: &TestApp,
    path: &str,
    header: &str,
    body: &Value,
    signature: Option<&str>,
    sign: impl Fn(&[u8]) -> String,
) -> u16 {
    let raw = body.to_string();
    let sig = signature
        .map(str::to_owned)
        .unwrap_or_else(|| sign(raw.as_bytes()));
    app.http
        .post(format!("{}{path}", app.base))
        .header(header, sig)
        .header("Content-Type", "application/json")
        .body(raw)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

pub async fn line_post(app: &TestApp, body: &Value, signature: Option<&str>) -> u16 {
    signed_json_post(
        app,
        "/webhooks/line",
        "X-Line-Signature",
        body,
        signature,
        line_sign,
    )
    .await
}

pub fn line_text(user: &str, id: &str, text: &str, reply_token: &str) -> Value {
    json!({"destination": "Ubot", "events": [{
        "type": "message", "mode": "active", "timestamp": 1_700_000_000_000u64,
        "webhookEventId": format!("01H{id}"), "deliveryContext": {"isRedelivery": false},
        "source": {"type": "user", "userId": user},
        "replyToken": reply_token,
        "message": {"id": id, "type": "text", "quoteToken": "qt", "text": text}
    }]})
}

pub async fn fb_post(app: &TestApp, body: &Value, signature: Option<&str>) -> u16 {
    let path = "/webhooks/messenger";
    signed_json_post(app, path, "X-Hub-Signature-256", body, signature, fb_sign).await
}

pub fn fb_text(psid: &str, mid: &str, text: &str) -> Value {
    json!({"object": "page", "entry": [{"id": "PAGE1", "time": 1_700_000_000_000u64, "messaging": [{
        "sender": {"id": psid}, "recipient": {"id": "PAGE1"}, "timestamp": 1_700_000_000_000u64,
        "message": {"mid": mid, "text": text}
    }]}]})
}

/// The customer that owns `(channel, address)`, or None.
pub async fn customer_of(app: &TestApp, channel: &str, address: &str) -> Option<Value> {
    let r = app
        .http
        .get(format!("{}/api/v1/customers", app.base))
        .query(&[("channel", channel), ("address", address)])
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    match r.status().as_u16() {
        200 => Some(r.json().await.unwrap()),
        404 => None,
        s => panic!("customer lookup: {s}"),
    }
}

/// The business account's X user id, and a customer's.
pub const ME: &str = "4337869213";
pub const THEM: &str = "3001969357";

pub fn x_sign(data: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(X_SECRET.as_bytes()).unwrap();
    mac.update(data);
    format!(
        "sha256={}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

pub async fn x_post(app: &TestApp, body: &Value, signature: Option<&str>) -> u16 {
    let header = "X-Twitter-Webhooks-Signature";
    signed_json_post(app, "/webhooks/x", header, body, signature, x_sign).await
}

/// A direct message `text` from `sender` (Account Activity `direct_message_events`).
pub fn x_dm(id: &str, sender: &str, text: &str) -> Value {
    json!({"for_user_id": ME, "direct_message_events": [
        {"type": "message_create", "id": id, "created_timestamp": "1700000000000",
         "message_create": {"target": {"recipient_id": if sender == ME { THEM } else { ME }},
                            "sender_id": sender, "message_data": {"text": text, "entities": {}}}}],
        "users": {THEM: {"id": THEM, "name": "Jordan", "screen_name": "furiouscamper"},
                  ME: {"id": ME, "name": "Shop", "screen_name": "shop"}}})
}

/// A post by `author` that mentions the business account (Account Activity
/// `tweet_create_events`).
pub fn x_mention(id: &str, author: &str, text: &str) -> Value {
    json!({"for_user_id": ME, "tweet_create_events": [{
        "id_str": id, "text": text, "timestamp_ms": "1700000000000",
        "user": {"id_str": author, "name": "Jordan", "screen_name": "furiouscamper"},
        "entities": {"user_mentions": [{"id_str": ME, "screen_name": "shop"}]}
    }]})
}

fn count(events: &[Value], ty: &str) -> usize {
    events.iter().filter(|e| e["type"] == ty).count()
}

// ------------------------------------------------------------- SMS

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_round_trip_with_signature_receipts_opt_out_and_redelivery() {
    let rec = Recorder::start().await;
    let app = spawn_app(|s| channels_on(s, &rec)).await;
    let token = app.agent("alice", &["general"], json!({})).await;
    let mut agent = Client::available(&app, &token).await;

    // A forged request: 401, and nothing about the sender is stored.
    let (status, _) = twilio_post(
        &app,
        "/webhooks/twilio/sms",
        &[
            ("MessageSid", "SMforged"),
            ("From", "+819011112222"),
            ("Body", "hi"),
        ],
        Some("bm90LWEtc2lnbmF0dXJl"),
    )
    .await;
    assert_eq!(status, 401);
    assert!(customer_of(&app, "sms", "+819011112222").await.is_none());

    // The real one, twice (Twilio retries on a timeout): stored once.
    let (status, body) = sms_in(&app, "SM001", "+81 90-1111-2222", "荷物が届きません").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<Response></Response>"), "{body}");
    let (status, _) = sms_in(&app, "SM001", "+81 90-1111-2222", "荷物が届きません").await;
    assert_eq!(status, 200);
    let customer = customer_of(&app, "sms", "+819011112222").await.unwrap();
    let cid = customer["id"].as_str().unwrap().to_owned();

    let conv = accept_next(&mut agent).await;
    assert_eq!(conv["channel"], "sms");
    agent_say(&mut agent, &conv["id"], "お調べします").await;

    // The reply leaves as Twilio's Messages API call.
    let sent = rec.wait_for("/Messages.json", 1).await;
    let call = &sent[0];
    assert_eq!(call.method, "POST");
    assert_eq!(
        call.path,
        "/2010-04-01/Accounts/AC0123456789abcdef/Messages.json"
    );
    let expected_auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("AC0123456789abcdef:{TWILIO_TOKEN}"))
    );
    assert_eq!(call.header("authorization"), Some(expected_auth.as_str()));
    let form = call.form();
    assert_eq!(form["To"], "+819011112222");
    assert_eq!(form["From"], "+15005550006");
    assert_eq!(form["Body"], "お調べします");
    let callback = form["StatusCallback"].clone();
    assert!(callback.starts_with(&format!("{PUBLIC}/webhooks/twilio/sms/status?")));

    // "sent" is recorded; then Twilio's delivery receipt to the callback URL.
    app.timeline_until(&cid, "sent status", |t| {
        t.iter()
            .any(|e| e["type"] == "message_status" && e["status"] == "sent")
    })
    .await;
    let cb_path = callback.strip_prefix(PUBLIC).unwrap().to_owned();
    let (status, _) = twilio_post(
        &app,
        &cb_path,
        &[
            ("MessageSid", "SM00000000000000000000000000000001"),
            ("MessageStatus", "delivered"),
        ],
        None,
    )
    .await;
    assert_eq!(status, 204);
    let t = app
        .timeline_until(&cid, "delivered status", |t| {
            t.iter()
                .any(|e| e["type"] == "message_status" && e["status"] == "delivered")
        })
        .await;
    assert_eq!(count(&t, "message_in"), 1, "redelivery stored once: {t:#?}");
    let out = t.iter().find(|e| e["type"] == "message_out").unwrap();
    assert_eq!(out["channel"], "sms");
    for st in t.iter().filter(|e| e["type"] == "message_status") {
        assert_eq!(st["message_event_id"], out["id"]);
    }
    // The agent saw the receipt too.
    agent
        .expect_where("event", |m| m["event"]["status"] == "delivered")
        .await;

    // STOP opts out: no conversation message, and replies on SMS are refused.
    let (status, _) = sms_in(&app, "SM002", "+819011112222", "STOP").await;
    assert_eq!(status, 200);
    let t = app
        .timeline_until(&cid, "opt-out", |t| count(t, "opt_out_changed") == 1)
        .await;
    assert_eq!(count(&t, "message_in"), 1);
    let id = uuid::Uuid::new_v4().to_string();
    agent
        .send(json!({"type": "message", "conversation_id": conv["id"], "client_msg_id": id, "text": "x"}))
        .await;
    let err = agent
        .expect_where("error", |m| m["ref"] == id.as_str())
        .await;
    assert!(
        err["message"].as_str().unwrap().contains("opted out"),
        "{err}"
    );
    assert_eq!(rec.all().len(), 1, "nothing more was sent");
    // START opts back in.
    sms_in(&app, "SM003", "+819011112222", "start").await;
    app.timeline_until(&cid, "opt back in", |t| count(t, "opt_out_changed") == 2)
        .await;
    let c = customer_of(&app, "sms", "+819011112222").await.unwrap();
    assert!(c.get("opted_out").is_none(), "{c}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_provider_is_retried_then_recorded_as_failed() {
    let rec = Recorder::start().await;
    let app = spawn_app(|s| {
        channels_on(s, &rec);
        s.channels.outbound_attempts = 3;
    })
    .await;
    let token = app.agent("alice", &["general"], json!({})).await;
    let mut agent = Client::available(&app, &token).await;
    sms_in(&app, "SM100", "+819033334444", "hello").await;
    let cid = customer_of(&app, "sms", "+819033334444").await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let conv = accept_next(&mut agent).await;

    // 503 then 429: refused before processing, retried; the third attempt succeeds.
    rec.fail_next(&[503, 429]);
    agent_say(&mut agent, &conv["id"], "first").await;
    rec.wait_for("/Messages.json", 3).await;
    app.timeline_until(&cid, "sent after retries", |t| {
        t.iter()
            .any(|e| e["type"] == "message_status" && e["status"] == "sent")
    })
    .await;

    // 400: permanent, not retried, recorded as failed with the provider's answer.
    rec.fail_next(&[400]);
    agent_say(&mut agent, &conv["id"], "second").await;
    let t = app
        .timeline_until(&cid, "failed status", |t| {
            t.iter()
                .any(|e| e["type"] == "message_status" && e["status"] == "failed")
        })
        .await;
    let failed = t.iter().find(|e| e["status"] == "failed").unwrap();
    assert!(
        failed["detail"].as_str().unwrap().contains("HTTP 400"),
        "{failed}"
    );
    assert_eq!(rec.wait_for("/Messages.json", 4).await.len(), 4);

    // 500: Twilio may have taken it and has no idempotency key: `unknown`, not resent.
    rec.fail_next(&[500]);
    agent_say(&mut agent, &conv["id"], "third").await;
    let t = app
        .timeline_until(&cid, "unknown status", |t| {
            t.iter()
                .any(|e| e["type"] == "message_status" && e["status"] == "unknown")
        })
        .await;
    let unknown = t.iter().find(|e| e["status"] == "unknown").unwrap();
    assert!(
        unknown["detail"].as_str().unwrap().contains("HTTP 500"),
        "{unknown}"
    );
    assert_eq!(rec.all().len(), 5, "the third reply was sent once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_push_whose_outcome_is_unknown_is_retried_under_the_same_key() {
    let rec = Recorder::start().await;
    let app = spawn_app(|s| channels_on(s, &rec)).await;
    let token = app.agent("alice", &["general"], json!({})).await;
    let mut agent = Client::available(&app, &token).await;
    // Through the REST door: no reply token, so replies are pushed.
    let user = "U5bf5980629bbbbbbbbbbbbbbbbbbbbbb";
    app.inbound("line", user, "hello", Some("l-1")).await;
    let conv = accept_next(&mut agent).await;
    rec.fail_next(&[500, 502]);
    agent_say(&mut agent, &conv["id"], "one moment").await;
    let pushes = rec.wait_for("/v2/bot/message/push", 3).await;
    let keys: Vec<_> = pushes
        .iter()
        .map(|r| r.header("x-line-retry-key").unwrap().to_owned())
        .collect();
    assert!(keys.iter().all(|k| *k == keys[0]), "one key: {keys:?}");
    let cid = customer_of(&app, "line", user).await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let t = app
        .timeline_until(&cid, "sent", |t| {
            t.iter()
                .any(|e| e["type"] == "message_status" && e["status"] == "sent")
        })
        .await;
    let out = t.iter().find(|e| e["type"] == "message_out").unwrap();
    assert_eq!(
        keys[0],
        out["id"].as_str().unwrap(),
        "the key is the event id"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committed_reply_is_sent_after_a_restart() {
    let rec = Recorder::start().await;
    // The provider is unreachable: the reply stays in the outbox (long retry delay).
    let app = spawn_app(|s| {
        channels_on(s, &rec);
        s.channels.sms.api_base = "http://127.0.0.1:9".into();
        s.channels.outbound_retry_ms = 3_600_000;
    })
    .await;
    let token = app.agent("alice", &["general"], json!({})).await;
    let mut agent = Client::available(&app, &token).await;
    sms_in(&app, "SM200", "+819055556666", "hello").await;
    let conv = accept_next(&mut agent).await;
    agent_say(&mut agent, &conv["id"], "届きましたか").await;
    let cid = customer_of(&app, "sms", "+819055556666").await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    agent.close().await;
    // A graceful stop: the call in flight (if any) ends and its retry is set up.
    let dir = app.stop_gracefully().await;

    // The next run finds it in the outbox and sends it, once.
    let app = spawn_app_in(dir, |s| channels_on(s, &rec)).await;
    let sent = rec.wait_for("/Messages.json", 1).await;
    assert_eq!(sent[0].form()["Body"], "届きましたか");
    let t = app
        .timeline_until(&cid, "sent after restart", |t| {
            t.iter()
                .any(|e| e["type"] == "message_status" && e["status"] == "sent")
        })
        .await;
    let out = t.iter().find(|e| e["type"] == "message_out").unwrap();
    let st = t.iter().find(|e| e["type"] == "message_status").unwrap();
    assert_eq!(st["message_event_id"], out["id"]);
    // Settled: a third run sends nothing.
    let dir = app.stop();
    let app = spawn_app_in(dir, |s| channels_on(s, &rec)).await;
    app.get_until("/readyz", "ready", |_| true).await;
    assert_eq!(rec.all().len(), 1, "sent exactly once");
}

// ------------------------------------------------------------- LINE

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn line_text_sticker_reply_push_and_unfollow() {
    let rec = Recorder::start().await;
    let app = spawn_app(|s| channels_on(s, &rec)).await;
    let token = app.agent("alice", &["general"], json!({})).await;
    let mut agent = Client::available(&app, &token).await;
    let user = "U4af4980629aaaaaaaaaaaaaaaaaaaaaa";

    // Wrong signature: 401, nothing stored.
    let body = line_text(user, "1001", "こんにちは", "rt-1");
    assert_eq!(line_post(&app, &body, Some("AAAA")).await, 401);
    assert!(customer_of(&app, "line", user).await.is_none());
    // The verify call (no events) is answered 200.
    assert_eq!(
        line_post(&app, &json!({"destination": "Ubot", "events": []}), None).await,
        200
    );

    assert_eq!(line_post(&app, &body, None).await, 200);
    assert_eq!(line_post(&app, &body, None).await, 200, "redelivery");
    let sticker = json!({"destination": "Ubot", "events": [{
        "type": "message", "timestamp": 1, "source": {"type": "user", "userId": user},
        "replyToken": "rt-2", "webhookEventId": "01Hs",
        "message": {"id": "1002", "type": "sticker", "packageId": "446", "stickerId": "1988",
                    "keywords": ["happy", "thanks"]}
    }]});
    assert_eq!(line_post(&app, &sticker, None).await, 200);
    let cid = customer_of(&app, "line", user).await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let conv = accept_next(&mut agent).await;
    assert_eq!(conv["channel"], "line");
    let t = app
        .timeline_until(&cid, "two messages", |t| count(t, "message_in") == 2)
        .await;
    let st = t
        .iter()
        .filter(|e| e["type"] == "message_in")
        .nth(1)
        .unwrap();
    assert_eq!(st["text"], "[sticker: happy, thanks]");
    assert_eq!(st["attachments"][0]["kind"], "sticker");
    assert_eq!(st["attachments"][0]["name"], "446/1988");

    // First reply uses the fresh reply token; the next one pushes.
    agent_say(&mut agent, &conv["id"], "ありがとうございます").await;
    let r = rec.wait_for("/v2/bot/message/", 1).await;
    assert_eq!(r[0].path, "/v2/bot/message/reply");
    assert_eq!(
        r[0].header("authorization"),
        Some("Bearer line-access-token")
    );
    assert_eq!(
        r[0].json(),
        json!({"replyToken": "rt-2", "messages": [{"type": "text", "text": "ありがとうございます"}]})
    );
    agent_say(&mut agent, &conv["id"], "他にございますか").await;
    let r = rec.wait_for("/v2/bot/message/", 2).await;
    assert_eq!(r[1].path, "/v2/bot/message/push");
    assert_eq!(
        r[1].json(),
        json!({"to": user, "messages": [{"type": "text", "text": "他にございますか"}]})
    );
    let retry_key = r[1].header("x-line-retry-key").unwrap();
    assert!(uuid::Uuid::parse_str(retry_key).is_ok(), "{retry_key}");

    // Unfollow: opted out, replies refused.
    let unfollow = json!({"destination": "Ubot", "events": [{
        "type": "unfollow", "timestamp": 2, "source": {"type": "user", "userId": user},
        "webhookEventId": "01Hu"}]});
    assert_eq!(line_post(&app, &unfollow, None).await, 200);
    app.timeline_until(&cid, "unfollow", |t| count(t, "opt_out_changed") == 1)
        .await;
    let id = uuid::Uuid::new_v4().to_string();
    agent
        .send(json!({"type": "message", "conversation_id": conv["id"], "client_msg_id": id, "text": "x"}))
        .await;
    agent
        .expect_where("error", |m| m["ref"] == id.as_str())
        .await;
}

// ------------------------------------------------------------- Messenger

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messenger_handshake_messages_postbacks_and_send_api() {
    let rec = Recorder::start().await;
    let app = spawn_app(|s| channels_on(s, &rec)).await;
    let token = app.agent("alice", &["general"], json!({})).await;
    let mut agent = Client::available(&app, &token).await;

    let hs = |token: &'static str| {
        let base = app.base.clone();
        let http = app.http.clone();
        async move {
            let r = http
                .get(format!("{base}/webhooks/messenger"))
                .query(&[
                    ("hub.mode", "subscribe"),
                    ("hub.verify_token", token),
                    ("hub.challenge", "1158201444"),
                ])
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    assert_eq!(hs("verify-me").await, (200, "1158201444".to_owned()));
    assert_eq!(hs("wrong").await.0, 403);

    let psid = "6783456789012345";
    let msg = fb_text(psid, "m_AAA", "Where is my order?");
    assert_eq!(fb_post(&app, &msg, Some("sha256=00")).await, 401);
    assert!(customer_of(&app, "messenger", psid).await.is_none());
    assert_eq!(fb_post(&app, &msg, None).await, 200);
    assert_eq!(fb_post(&app, &msg, None).await, 200, "redelivery");
    // A postback (button) and an echo of our own send, in one call.
    let batch = json!({"object": "page", "entry": [{"id": "PAGE1", "time": 1, "messaging": [
        {"sender": {"id": psid}, "recipient": {"id": "PAGE1"}, "timestamp": 2,
         "postback": {"title": "Talk to a person", "payload": "HUMAN", "mid": "m_PB1"}},
        {"sender": {"id": "PAGE1"}, "recipient": {"id": psid}, "timestamp": 3,
         "message": {"mid": "m_ECHO", "text": "echo", "is_echo": true}},
        {"sender": {"id": psid}, "recipient": {"id": "PAGE1"}, "timestamp": 4,
         "read": {"watermark": 1}}
    ]}]});
    assert_eq!(fb_post(&app, &batch, None).await, 200);
    let cid = customer_of(&app, "messenger", psid).await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let t = app
        .timeline_until(&cid, "two messages", |t| count(t, "message_in") == 2)
        .await;
    let texts: Vec<&str> = t
        .iter()
        .filter(|e| e["type"] == "message_in")
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["Where is my order?", "Talk to a person"]);

    let conv = accept_next(&mut agent).await;
    agent_say(&mut agent, &conv["id"], "Let me check that for you.").await;
    let r = rec.wait_for("/me/messages", 1).await;
    assert_eq!(r[0].path, "/v21.0/me/messages");
    assert_eq!(r[0].query, "access_token=page-token");
    assert_eq!(
        r[0].json(),
        json!({"recipient": {"id": psid}, "messaging_type": "RESPONSE",
               "message": {"text": "Let me check that for you."}})
    );
    app.timeline_until(&cid, "sent", |t| {
        t.iter()
            .any(|e| e["type"] == "message_status" && e["provider_msg_id"] == "m_1")
    })
    .await;
}

// ------------------------------------------------------------- voice

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voice_ivr_digit_chooses_the_queue_and_hangup_while_waiting_abandons() {
    let rec = Recorder::start().await;
    let app = spawn_app(|s| {
        channels_on(s, &rec);
        s.channels.voice.menu = vec![
            switchboard::ivr::IvrOption {
                digit: '1',
                label: "ご注文".into(),
                queue: Some(switchboard::domain::QueueName::parse("orders").unwrap()),
                callback: false,
            },
            switchboard::ivr::IvrOption {
                digit: '2',
                label: "その他".into(),
                queue: Some(switchboard::domain::QueueName::parse("general").unwrap()),
                callback: false,
            },
        ];
    })
    .await;
    app.queue("orders", json!({"display_name": "Orders"})).await;
    let call = [
        ("CallSid", "CA100"),
        ("From", "+81312345678"),
        ("To", "+815012345678"),
        ("CallStatus", "ringing"),
    ];
    let (status, twiml) = twilio_post(&app, "/webhooks/twilio/voice", &call, None).await;
    assert_eq!(status, 200);
    assert!(
        twiml.contains("<Gather input=\"dtmf\" numDigits=\"1\""),
        "{twiml}"
    );
    assert!(twiml.contains(&format!("action=\"{PUBLIC}/webhooks/twilio/voice/menu\"")));
    assert!(twiml.contains("ご注文は1を"), "{twiml}");

    // A digit that is not on the menu replays it.
    let mut pressed = call.to_vec();
    pressed.push(("Digits", "9"));
    let (_, again) = twilio_post(&app, "/webhooks/twilio/voice/menu", &pressed, None).await;
    assert!(again.contains("<Gather"), "{again}");

    // 1: the orders queue; the call waits there as a voice conversation.
    let mut pressed = call.to_vec();
    pressed.push(("Digits", "1"));
    let (status, twiml) = twilio_post(&app, "/webhooks/twilio/voice/menu", &pressed, None).await;
    assert_eq!(status, 200);
    let conv_id = crate::ivr::enqueued(&twiml);
    let (_, conv) = app.get(&format!("/api/v1/conversations/{conv_id}")).await;
    assert_eq!(conv["channel"], "voice");
    assert_eq!(conv["queue"], "orders");
    assert_eq!(conv["state"], "queued");

    // The caller hangs up before anyone answers: abandoned, and the call end recorded.
    let mut ended = call.to_vec();
    ended[3] = ("CallStatus", "completed");
    ended.push(("CallDuration", "42"));
    let (status, _) = twilio_post(&app, "/webhooks/twilio/voice/status", &ended, None).await;
    assert_eq!(status, 204);
    app.get_until(
        &format!("/api/v1/conversations/{conv_id}"),
        "abandoned",
        |c| c["state"] == "abandoned",
    )
    .await;
    let cid = customer_of(&app, "voice", "+81312345678").await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // On the CQL store a commit's rows become visible one after another (the
    // conformance check `batch_visible_in_reference_order`): the conversation row may
    // be read abandoned a moment before the timeline event is, so the event is awaited
    // too.
    let t = app
        .timeline_until(&cid, "abandoned event", |t| {
            t.iter().any(|e| e["type"] == "abandoned")
        })
        .await;
    assert_eq!(
        types(&t),
        [
            "conversation_opened",
            "message_in",
            "queued",
            "call",
            "abandoned"
        ]
    );
    assert_eq!(t[3]["detail"], "completed after 42 s");
    // A forged status callback is refused.
    let (status, _) =
        twilio_post(&app, "/webhooks/twilio/voice/status", &ended, Some("AAAA")).await;
    assert_eq!(status, 401);
}

// ------------------------------------------------------------- video

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_chat_escalates_to_video_with_a_join_link() {
    let app = spawn_app(|s| {
        s.channels.video.join_url_template = "https://video.example.test/r/{room}".into();
    })
    .await;
    let token = app.agent("alice", &["general"], json!({})).await;
    let mut agent = Client::available(&app, &token).await;
    let (mut chat, _) = Client::visitor(&app).await;
    chat_say(&mut chat, "画面を見ながら相談したいです").await;
    let conv = accept_next(&mut agent).await;

    chat.send(json!({"type": "escalate_video"})).await;
    let inv = chat
        .expect_where("event", |m| m["event"]["type"] == "video_invited")
        .await;
    let url = inv["event"]["join_url"].as_str().unwrap().to_owned();
    assert!(url.starts_with("https://video.example.test/r/"), "{url}");
    let switched = agent
        .expect_where("event", |m| m["event"]["type"] == "channel_switched")
        .await;
    assert_eq!(switched["event"]["to"], "video");
    let seen = agent
        .expect_where("event", |m| m["event"]["type"] == "video_invited")
        .await;
    assert_eq!(seen["event"]["join_url"], url.as_str());
    let (_, c) = app
        .get(&format!(
            "/api/v1/conversations/{}",
            conv["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(c["channel"], "video");
    // Text still flows over the chat socket during the video session.
    agent_say(&mut agent, &conv["id"], "リンクからお入りください").await;
    chat.expect_where("event", |m| m["event"]["type"] == "message_out")
        .await;
}

// ------------------------------------------------------------- bad input

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_webhooks_get_clear_errors_and_store_nothing() {
    let rec = Recorder::start().await;
    let app = spawn_app(|s| {
        channels_on(s, &rec);
        s.channels.max_webhook_bytes = 4096;
    })
    .await;
    let post = |path: &'static str,
                ct: &'static str,
                body: Vec<u8>,
                headers: Vec<(&'static str, String)>| {
        let http = app.http.clone();
        let base = app.base.clone();
        async move {
            let mut r = http
                .post(format!("{base}{path}"))
                .header("Content-Type", ct)
                .body(body);
            for (k, v) in headers {
                r = r.header(k, v);
            }
            let r = r.send().await.unwrap();
            let s = r.status().as_u16();
            (s, r.text().await.unwrap_or_default())
        }
    };
    // Truncated JSON, correctly signed: 400 (LINE and Messenger).
    let raw = br#"{"destination":"U","events":[{"type":"mess"#.to_vec();
    let (s, b) = post(
        "/webhooks/line",
        "application/json",
        raw.clone(),
        vec![("X-Line-Signature", line_sign(&raw))],
    )
    .await;
    assert_eq!(s, 400, "{b}");
    assert!(b.contains("malformed"), "{b}");
    let (s, _) = post(
        "/webhooks/messenger",
        "application/json",
        raw.clone(),
        vec![("X-Hub-Signature-256", fb_sign(&raw))],
    )
    .await;
    assert_eq!(s, 400);
    // Wrong content type: 415.
    let json_body = line_text("Uxyz", "1", "hi", "rt").to_string().into_bytes();
    let (s, _) = post(
        "/webhooks/line",
        "text/plain",
        json_body.clone(),
        vec![("X-Line-Signature", line_sign(&json_body))],
    )
    .await;
    assert_eq!(s, 415);
    let (s, _) = post(
        "/webhooks/twilio/sms",
        "application/json",
        b"{}".to_vec(),
        vec![],
    )
    .await;
    assert_eq!(s, 415);
    // Oversize: 413.
    let big = vec![b'a'; 5000];
    let (s, _) = post(
        "/webhooks/messenger",
        "application/json",
        big.clone(),
        vec![("X-Hub-Signature-256", fb_sign(&big))],
    )
    .await;
    assert_eq!(s, 413);
    // Missing fields in a signed Twilio form: 400.
    let (s, b) = twilio_post(&app, "/webhooks/twilio/sms", &[("Body", "no sid")], None).await;
    assert_eq!(s, 400, "{b}");
    // A phone number that is not E.164: 400, nothing stored.
    let (s, _) = sms_in(&app, "SM900", "not-a-number", "hi").await;
    assert_eq!(s, 400);
    // Unknown event types and group messages are skipped, answered 200.
    let odd = json!({"destination": "U", "events": [
        {"type": "beacon", "timestamp": 1, "source": {"type": "user", "userId": "Uodd"}},
        {"type": "message", "timestamp": 1, "source": {"type": "group", "groupId": "G1", "userId": "Uodd"},
         "message": {"id": "9", "type": "text", "text": "group chatter"}},
        {"type": "message", "timestamp": 1, "source": {"type": "user", "userId": "Uodd"},
         "message": {"id": "10", "type": "text", "text": "   "}}
    ]});
    assert_eq!(line_post(&app, &odd, None).await, 200);
    // Nothing of them was stored: not even the sender.
    assert!(customer_of(&app, "line", "Uodd").await.is_none());
    assert_eq!(
        fb_post(&app, &json!({"object": "instagram", "entry": []}), None).await,
        400
    );
    // A disabled connector does not exist.
    let off = spawn_app(|_| {}).await;
    let r = off
        .http
        .post(format!("{}/webhooks/twilio/sms", off.base))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("From=%2B819011112222&Body=hi&MessageSid=SM1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(rec.all().is_empty(), "nothing was sent anywhere");
}
