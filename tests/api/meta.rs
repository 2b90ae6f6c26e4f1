//! Meta's channels over real sockets — WhatsApp (Cloud API), Instagram messaging — and
//! Meta's 24-hour reply windows: signed webhooks (signature computed here
//! independently), the customer's messages reaching an agent, the agent's reply leaving
//! as the exact API request to a local recording server standing in for Meta (the real
//! one cannot be reached from a test), delivery statuses, and — on a clock the test
//! moves by hand — free text refused after the window while an approved template goes
//! out, and Messenger's late replies tagged `HUMAN_AGENT` up to 7 days.

use crate::channels::{
    channels_on, customer_of, fb_post, fb_text, meta_sign, signed_json_post, IG_SECRET, WA_SECRET,
};
use crate::helpers::*;
use crate::recorder::Recorder;
use serde_json::{json, Value};
use switchboard::domain::time::ManualClock;
use switchboard::domain::Millis;

/// 2024-12-05T12:00:00Z; webhook timestamps are on the same clock.
const T0_S: i64 = 1_733_400_000;
const HOUR_MS: u64 = 3_600_000;
const PNID: &str = "106540352242922";
const WA_ID: &str = "819012345678";

pub async fn wa_post(app: &TestApp, body: &Value, signature: Option<&str>) -> u16 {
    let sign = |raw: &[u8]| meta_sign(WA_SECRET, raw);
    let path = "/webhooks/whatsapp";
    signed_json_post(app, path, "X-Hub-Signature-256", body, signature, sign).await
}

pub fn wa_value(value: Value) -> Value {
    json!({"object": "whatsapp_business_account", "entry": [{"id": "WABA1", "changes": [
        {"field": "messages", "value": value}]}]})
}

fn wa_text(wamid: &str, text: &str, at_s: i64) -> Value {
    wa_value(json!({
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": PNID},
        "contacts": [{"profile": {"name": "山田太郎"}, "wa_id": WA_ID}],
        "messages": [{"from": WA_ID, "id": wamid, "timestamp": at_s.to_string(),
                      "type": "text", "text": {"body": text}}]
    }))
}

fn wa_status(wamid: &str, status: &str, callback: &str, errors: Value) -> Value {
    wa_value(json!({
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": PNID},
        "statuses": [{"id": wamid, "status": status, "timestamp": T0_S.to_string(),
                      "recipient_id": WA_ID, "biz_opaque_callback_data": callback,
                      "errors": errors}]
    }))
}

/// Sends `frame` (a `message` without its id) and waits for its ack.
pub async fn write(agent: &mut Client, mut frame: Value) -> Value {
    let id = uuid::Uuid::new_v4().to_string();
    frame["type"] = "message".into();
    frame["client_msg_id"] = id.clone().into();
    agent.send(frame).await;
    agent
        .expect_where("ack", |m| m["client_msg_id"] == id.as_str())
        .await
}

/// Sends `frame` (a `message` without its id) and waits for the error refusing it.
pub async fn write_refused(agent: &mut Client, mut frame: Value) -> Value {
    let id = uuid::Uuid::new_v4().to_string();
    frame["type"] = "message".into();
    frame["client_msg_id"] = id.clone().into();
    agent.send(frame).await;
    agent
        .expect_where("error", |m| m["ref"] == id.as_str())
        .await
}

fn outs(t: &[Value]) -> Vec<&str> {
    t.iter()
        .filter(|e| e["type"] == "message_out")
        .map(|e| e["text"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whatsapp_messages_statuses_window_and_templates() {
    let rec = Recorder::start().await;
    let clock = ManualClock::new(Millis(T0_S * 1000));
    let app = spawn_app_with_clock(
        |s| {
            channels_on(s, &rec);
            s.timing.agent_token_ttl_ms = 30 * 24 * HOUR_MS;
        },
        clock.clone(),
    )
    .await;
    let token = app.agent("alice", &["general"], json!({})).await;
    let mut agent = Client::available(&app, &token).await;

    // The subscription handshake.
    let hs = |verify: &'static str| {
        let (base, http) = (app.base.clone(), app.http.clone());
        async move {
            let r = http
                .get(format!("{base}/webhooks/whatsapp"))
                .query(&[
                    ("hub.mode", "subscribe"),
                    ("hub.verify_token", verify),
                    ("hub.challenge", "8472910"),
                ])
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    assert_eq!(hs("wa-verify").await, (200, "8472910".to_owned()));
    assert_eq!(
        hs("verify-me").await.0,
        403,
        "Messenger's token is not WhatsApp's"
    );

    // A message: a bad signature stores nothing; a redelivery is stored once.
    let msg = wa_text("wamid.IN1", "注文した商品がまだ届きません", T0_S);
    assert_eq!(wa_post(&app, &msg, Some("sha256=00")).await, 401);
    let fb_signed = meta_sign(crate::channels::FB_SECRET, msg.to_string().as_bytes());
    assert_eq!(wa_post(&app, &msg, Some(&fb_signed)).await, 401);
    assert!(customer_of(&app, "whatsapp", "+819012345678")
        .await
        .is_none());
    assert_eq!(wa_post(&app, &msg, None).await, 200);
    assert_eq!(wa_post(&app, &msg, None).await, 200, "redelivery");
    let customer = customer_of(&app, "whatsapp", "+819012345678")
        .await
        .expect("one customer for the number, with its +");
    assert_eq!(customer["display_name"], "山田太郎");
    let cid = customer["id"].as_str().unwrap().to_owned();

    let conv = accept_next(&mut agent).await;
    assert_eq!(conv["channel"], "whatsapp");
    let ack = write(
        &mut agent,
        json!({"conversation_id": conv["id"], "text": "確認いたします。"}),
    )
    .await;
    let r = rec.wait_for("/messages", 1).await;
    assert_eq!(r[0].path, format!("/v21.0/{PNID}/messages"));
    assert_eq!(r[0].header("authorization"), Some("Bearer wa-token"));
    let callback = format!(
        "{cid}.{}.{}",
        ack["event_id"].as_str().unwrap(),
        conv["id"].as_str().unwrap()
    );
    assert_eq!(
        r[0].json(),
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": WA_ID,
               "type": "text", "text": {"preview_url": false, "body": "確認いたします。"},
               "biz_opaque_callback_data": callback})
    );
    // Statuses come back on the reply they name (once the send's own `sent` is
    // recorded, so the order below is the provider's).
    app.timeline_until(&cid, "sent", |t| {
        t.iter()
            .any(|e| e["type"] == "message_status" && e["status"] == "sent")
    })
    .await;
    assert_eq!(
        wa_post(
            &app,
            &wa_status("wamid.OUT1", "delivered", &callback, json!([])),
            None
        )
        .await,
        200
    );
    assert_eq!(
        wa_post(
            &app,
            &wa_status(
                "wamid.OUT1",
                "failed",
                &callback,
                json!([{"code": 131047, "title": "Re-engagement message"}])
            ),
            None
        )
        .await,
        200
    );
    assert_eq!(
        wa_post(
            &app,
            &wa_status("wamid.X", "read", "not-ours", json!([])),
            None
        )
        .await,
        200,
        "a status about no reply of ours is skipped"
    );
    let t = app
        .timeline_until(&cid, "statuses", |t| {
            t.iter().filter(|e| e["type"] == "message_status").count() == 3
        })
        .await;
    let statuses: Vec<(&str, &str)> = t
        .iter()
        .filter(|e| e["type"] == "message_status")
        .map(|e| {
            (
                e["status"].as_str().unwrap(),
                e["detail"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("sent", ""),
            ("delivered", ""),
            ("failed", "WhatsApp error 131047: Re-engagement message")
        ]
    );
    assert_eq!(t.iter().filter(|e| e["type"] == "message_in").count(), 1);

    // 25 hours later the window is closed: free text is refused before anything is
    // committed or sent.
    clock.advance_ms(25 * HOUR_MS);
    let e = write_refused(
        &mut agent,
        json!({"conversation_id": conv["id"], "text": "まだいらっしゃいますか"}),
    )
    .await;
    assert_eq!(e["code"], "invalid", "{e}");
    let m = e["message"].as_str().unwrap();
    assert!(
        m.contains("outside the whatsapp reply window") && m.contains("template"),
        "{m}"
    );
    // Templates: unknown, wrong parameter count, then the approved one.
    let tpl = |name: &str, params: Value| {
        json!({"conversation_id": conv["id"], "text": "",
               "template": {"name": name, "language": "ja", "parameters": params}})
    };
    let e = write_refused(&mut agent, tpl("promo", json!(["a"]))).await;
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("no approved template"),
        "{e}"
    );
    let e = write_refused(&mut agent, tpl("order_update", json!(["山田"]))).await;
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("takes 2 parameters"),
        "{e}"
    );
    write(&mut agent, tpl("order_update", json!(["山田", "A-1001"]))).await;
    let r = rec.wait_for("/messages", 2).await;
    let sent = r[1].json();
    assert_eq!(sent["type"], "template");
    assert_eq!(
        sent["template"],
        json!({"name": "order_update", "language": {"code": "ja"}, "components": [
            {"type": "body", "parameters": [{"type": "text", "text": "山田"},
                                            {"type": "text", "text": "A-1001"}]}]})
    );
    let t = app
        .timeline_until(&cid, "the template", |t| outs(t).len() == 2)
        .await;
    assert_eq!(
        outs(&t),
        ["確認いたします。", "山田様、ご注文A-1001を発送しました。"],
        "the refused replies left nothing; the template reads as the customer sees it"
    );

    // The customer writes again: the window opens again for free text.
    let again = wa_text("wamid.IN2", "ありがとう", T0_S + 25 * 3600);
    assert_eq!(wa_post(&app, &again, None).await, 200);
    app.timeline_until(&cid, "the second message", |t| {
        t.iter().filter(|e| e["type"] == "message_in").count() == 2
    })
    .await;
    write(
        &mut agent,
        json!({"conversation_id": conv["id"], "text": "どういたしまして"}),
    )
    .await;
    let r = rec.wait_for("/messages", 3).await;
    assert_eq!(r[2].json()["text"]["body"], "どういたしまして");
    assert_eq!(rec.all().len(), 3, "nothing else reached the provider");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messenger_late_replies_are_tagged_until_seven_days_then_refused() {
    let rec = Recorder::start().await;
    let clock = ManualClock::new(Millis(T0_S * 1000));
    let app = spawn_app_with_clock(
        |s| {
            channels_on(s, &rec);
            s.channels.messenger.human_agent_tag = true;
            s.timing.agent_token_ttl_ms = 30 * 24 * HOUR_MS;
        },
        clock.clone(),
    )
    .await;
    let token = app.agent("alice", &["general"], json!({})).await;
    let mut agent = Client::available(&app, &token).await;
    let psid = "6783456789012345";
    assert_eq!(
        fb_post(&app, &fb_text(psid, "m_A", "返品したい"), None).await,
        200
    );
    let conv = accept_next(&mut agent).await;

    write(
        &mut agent,
        json!({"conversation_id": conv["id"], "text": "承知しました"}),
    )
    .await;
    clock.advance_ms(30 * HOUR_MS);
    write(
        &mut agent,
        json!({"conversation_id": conv["id"], "text": "返品ラベルです"}),
    )
    .await;
    let r = rec.wait_for("/me/messages", 2).await;
    assert_eq!(r[0].json()["messaging_type"], "RESPONSE");
    assert!(r[0].json().get("tag").is_none());
    assert_eq!(
        r[1].json(),
        json!({"recipient": {"id": psid}, "messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT",
               "message": {"text": "返品ラベルです"}})
    );
    // A notification is no human reply: after 24 hours it may not use the tag, and
    // with no other channel it is suppressed with the reason, nothing sent.
    let (s, v) = app
        .put(
            "/api/v1/notification-rules/order.shipped",
            json!({"templates": {"ja": "発送しました"}, "channels": ["messenger"]}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let cid = customer_of(&app, "messenger", psid).await.unwrap()["id"].clone();
    let (s, v) = app
        .post(
            "/api/v1/events",
            json!({"type": "order.shipped", "customer": {"id": cid}, "data": {}}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(v["status"], "suppressed", "{v}");
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .contains("messenger: outside its reply window"),
        "{v}"
    );
    // Past 7 days nothing goes out; Messenger takes no templates.
    clock.advance_ms(6 * 24 * HOUR_MS);
    let e = write_refused(
        &mut agent,
        json!({"conversation_id": conv["id"], "text": "まだですか"}),
    )
    .await;
    let m = e["message"].as_str().unwrap();
    assert!(
        m.contains("outside the messenger reply window") && m.contains("168 hours"),
        "{m}"
    );
    let e = write_refused(
        &mut agent,
        json!({"conversation_id": conv["id"], "text": "",
               "template": {"name": "order_update", "language": "ja", "parameters": ["a", "b"]}}),
    )
    .await;
    assert!(
        e["message"].as_str().unwrap().contains("takes no template"),
        "{e}"
    );
    assert_eq!(rec.all().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desktop_shows_the_window_and_sends_a_template_in_a_real_browser() {
    let rec = Recorder::start().await;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let clock = ManualClock::new(Millis(now_ms));
    let app = spawn_app_with_clock(
        |s| {
            channels_on(s, &rec);
            s.timing.agent_token_ttl_ms = 30 * 24 * HOUR_MS;
        },
        clock.clone(),
    )
    .await;
    app.agent("amy", &["general"], json!({})).await;
    let msg = wa_text("wamid.B1", "Where is my order?", now_ms / 1000);
    assert_eq!(wa_post(&app, &msg, None).await, 200);
    assert!(customer_of(&app, "whatsapp", "+819012345678")
        .await
        .is_some());
    // The customer wrote 25 hours ago, on the engine's clock (the page reads it from
    // the welcome's server time).
    clock.advance_ms(25 * HOUR_MS);
    run_browser_script(
        &app,
        "agent_window.mjs",
        &[("AGENT_ID", "amy"), ("AGENT_PASSWORD", "amy-password")],
        "window browser test passed",
    )
    .await;
    // What reached Meta: the template alone (the refused free text never left).
    let sent = rec.all();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let body = sent[0].json();
    assert_eq!(body["type"], "template");
    assert_eq!(
        body["template"]["components"][0]["parameters"],
        json!([{"type": "text", "text": "山田"}, {"type": "text", "text": "A-1001"}])
    );
}

async fn ig_post(app: &TestApp, body: &Value, secret: &str) -> u16 {
    let sign = |raw: &[u8]| meta_sign(secret, raw);
    let path = "/webhooks/instagram";
    signed_json_post(app, path, "X-Hub-Signature-256", body, None, sign).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instagram_direct_messages_story_replies_and_the_send_api() {
    let rec = Recorder::start().await;
    let clock = ManualClock::new(Millis(T0_S * 1000));
    let app = spawn_app_with_clock(
        |s| {
            channels_on(s, &rec);
            s.timing.agent_token_ttl_ms = 30 * 24 * HOUR_MS;
        },
        clock.clone(),
    )
    .await;
    let token = app.agent("alice", &["general"], json!({})).await;
    let mut agent = Client::available(&app, &token).await;
    let r = app
        .http
        .get(format!("{}/webhooks/instagram", app.base))
        .query(&[
            ("hub.mode", "subscribe"),
            ("hub.verify_token", "ig-verify"),
            ("hub.challenge", "55"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "55");

    let igsid = "17841400000000001";
    let dm = |mid: &str, message: Value| {
        let mut message = message;
        message["mid"] = mid.into();
        json!({"object": "instagram", "entry": [{"id": "IG1", "time": T0_S * 1000, "messaging": [
            {"sender": {"id": igsid}, "recipient": {"id": "IG1"}, "timestamp": T0_S * 1000,
             "message": message}]}]})
    };
    let story = dm(
        "ig_1",
        json!({"text": "この服はどこで買えますか",
               "reply_to": {"story": {"url": "https://cdn.example/story.jpg", "id": "ST1"}}}),
    );
    // Messenger's secret does not sign Instagram's webhook; a page payload is refused.
    assert_eq!(ig_post(&app, &story, crate::channels::FB_SECRET).await, 401);
    let page = fb_text(igsid, "m_X", "wrong object");
    assert_eq!(ig_post(&app, &page, IG_SECRET).await, 400);
    assert_eq!(ig_post(&app, &story, IG_SECRET).await, 200);
    assert_eq!(ig_post(&app, &story, IG_SECRET).await, 200, "redelivery");
    assert_eq!(
        ig_post(&app, &dm("ig_2", json!({"is_deleted": true})), IG_SECRET).await,
        200,
        "an unsent message is skipped"
    );
    assert!(customer_of(&app, "messenger", igsid).await.is_none());
    let cid = customer_of(&app, "instagram", igsid)
        .await
        .expect("an instagram customer")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let conv = accept_next(&mut agent).await;
    assert_eq!(conv["channel"], "instagram");
    let t = app.timeline(&cid).await;
    let ins: Vec<&Value> = t.iter().filter(|e| e["type"] == "message_in").collect();
    assert_eq!(ins.len(), 1, "{t:?}");
    assert_eq!(ins[0]["attachments"][0]["kind"], "story_reply");
    assert_eq!(
        ins[0]["attachments"][0]["url"],
        "https://cdn.example/story.jpg"
    );

    write(
        &mut agent,
        json!({"conversation_id": conv["id"], "text": "オンラインストアでどうぞ"}),
    )
    .await;
    let r = rec.wait_for("/me/messages", 1).await;
    assert_eq!(r[0].query, "access_token=ig-page-token");
    assert_eq!(
        r[0].json(),
        json!({"recipient": {"id": igsid}, "messaging_type": "RESPONSE",
               "message": {"text": "オンラインストアでどうぞ"}})
    );
    // Without the Human Agent permission, nothing goes out after 24 hours.
    clock.advance_ms(25 * HOUR_MS);
    let e = write_refused(
        &mut agent,
        json!({"conversation_id": conv["id"], "text": "まだ?"}),
    )
    .await;
    let m = e["message"].as_str().unwrap();
    assert!(
        m.contains("outside the instagram reply window") && m.contains("24 hours"),
        "{m}"
    );
    assert_eq!(rec.all().len(), 1);
}

/// A notification on WhatsApp: inside the 24-hour window the rule's own text goes out;
/// outside it, the approved template the rule names, with its parameters rendered from
/// the event's data (the timeline records the text the customer reads). A rule naming
/// WhatsApp without a template, or a template that is not approved, is refused at save
/// or suppressed with the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whatsapp_notifications_use_the_approved_template_outside_the_window() {
    let rec = Recorder::start().await;
    let clock = ManualClock::new(Millis(T0_S * 1000));
    let app = spawn_app_with_clock(
        |s| {
            channels_on(s, &rec);
            s.timing.agent_token_ttl_ms = 30 * 24 * HOUR_MS;
        },
        clock.clone(),
    )
    .await;
    assert_eq!(
        wa_post(&app, &wa_text("wamid.N1", "注文しました", T0_S), None).await,
        200
    );
    let cid = customer_of(&app, "whatsapp", &format!("+{WA_ID}"))
        .await
        .unwrap()["id"]
        .clone();

    // WhatsApp needs a template in the rule; its parameters may only use the rule's
    // variables.
    let rule = |template: Value| {
        json!({"templates": {"ja": "{{customer.name}}様、{{order.id}}を発送しました"},
               "variables": ["order.id"], "channels": ["whatsapp"],
               "whatsapp_template": template})
    };
    let (s, v) = app
        .put(
            "/api/v1/notification-rules/order.shipped",
            json!({"templates": {"ja": "x"}, "channels": ["whatsapp"]}),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("whatsapp_template"),
        "{v}"
    );
    let (s, v) = app
        .put(
            "/api/v1/notification-rules/order.shipped",
            rule(json!({"name": "order_update", "language": "ja",
                        "parameters": ["{{customer.name}}", "{{secret}}"]})),
        )
        .await;
    assert_eq!(s, 400, "an unknown variable: {v}");
    let (s, v) = app
        .put(
            "/api/v1/notification-rules/order.shipped",
            rule(json!({"name": "order_update", "language": "ja",
                        "parameters": ["{{customer.name}}", "{{order.id}}"]})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let event = |key: &str| {
        json!({"type": "order.shipped", "customer": {"id": cid}, "idempotency_key": key,
               "data": {"order.id": "A-7"}})
    };

    // Inside the window: the rule's text, free-form.
    let (s, v) = app.post("/api/v1/events", event("n1")).await;
    assert_eq!((s, v["status"].as_str()), (202, Some("sent")), "{v}");
    let r = rec.wait_for("/messages", 1).await;
    assert_eq!(r[0].json()["type"], "text");
    assert_eq!(r[0].json()["text"]["body"], "山田太郎様、A-7を発送しました");

    // Outside it: the approved template, parameters filled.
    clock.advance_ms(25 * HOUR_MS);
    let (s, v) = app.post("/api/v1/events", event("n2")).await;
    assert_eq!((s, v["status"].as_str()), (202, Some("sent")), "{v}");
    assert_eq!(v["text"], "山田太郎様、ご注文A-7を発送しました。");
    let r = rec.wait_for("/messages", 2).await;
    let body = r[1].json();
    assert_eq!(body["type"], "template");
    assert_eq!(body["template"]["name"], "order_update");
    assert_eq!(
        body["template"]["components"][0]["parameters"],
        json!([{"type": "text", "text": "山田太郎"}, {"type": "text", "text": "A-7"}])
    );

    // A template the provider did not approve under that name: suppressed, nothing sent.
    let (s, v) = app
        .put(
            "/api/v1/notification-rules/order.shipped",
            rule(json!({"name": "order_shipped", "language": "ja",
                        "parameters": ["{{order.id}}"]})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = app.post("/api/v1/events", event("n3")).await;
    assert_eq!((s, v["status"].as_str()), (202, Some("suppressed")), "{v}");
    let reason = v["reason"].as_str().unwrap();
    assert!(
        reason.contains("outside its reply window") && reason.contains("no approved template"),
        "{reason}"
    );
    assert_eq!(rec.all().len(), 2);
}
