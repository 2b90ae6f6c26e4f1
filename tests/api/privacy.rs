//! Privacy operations over admin REST: export everything about a customer (timeline,
//! identities, conversations), erase them (timeline read empty, identity lookup 404,
//! conversation personal fields gone, visitor token dead) while aggregate counters
//! stay, both recorded in a durable audit log only admins read; provider webhooks
//! replayed after an erasure are dropped (its tombstones), opt-out keywords and events
//! too.

use crate::channels::{
    channels_on, customer_of, fb_post, fb_text, line_post, line_text, sms_in, twilio_post,
    twilio_sign, PUBLIC,
};
use crate::helpers::*;
use crate::recorder::Recorder;
use serde_json::{json, Value};

async fn as_token(app: &TestApp, method: &str, path: &str, token: &str) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let r = app
        .http
        .request(method, format!("{}{}", app.base, path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The value of one Prometheus sample line (`name{labels} value`), 0 if absent.
async fn metric(app: &TestApp, line_start: &str) -> f64 {
    let text = metrics_text(&app.http, &app.base).await;
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_then_erase_a_customer_with_both_in_the_audit_log() {
    let app = spawn_app(|_| {}).await;
    let alice = app.agent("pia", &["general"], json!({})).await;
    let sup = app
        .agent("sven", &["general"], json!({"role": "supervisor"}))
        .await;
    let mut a = Client::available(&app, &alice).await;
    let (mut chat, w) = Client::visitor(&app).await;
    let visitor_token = w["token"].as_str().unwrap().to_owned();
    let k = w["customer_id"].as_str().unwrap().to_owned();
    chat.send(json!({"type": "identify", "name": "Hanako Yamada", "email": "hanako@example.jp"}))
        .await;
    chat_say(&mut chat, "カード番号は 4111 です").await;
    let conv = accept_next(&mut a).await;
    let c = conv["id"].as_str().unwrap().to_owned();
    agent_say(&mut a, &conv["id"], "承知しました").await;
    let (s, v) = app
        .post(
            &format!("/api/v1/customers/{k}/identities"),
            json!({"channel": "sms", "address": "+819012345678"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");

    // Erasing while the conversation is open is refused and changes nothing.
    let (s, v) = app
        .post(&format!("/api/v1/customers/{k}/erase"), json!({}))
        .await;
    assert_eq!((s, v["code"].as_str()), (409, Some("conflict")), "{v}");
    a.send(json!({"type": "resolve", "conversation_id": c, "disposition": "card issue of Hanako"}))
        .await;
    let upd = a
        .expect_where("conversation_updated", |m| {
            m["conversation_id"] == c.as_str()
        })
        .await;
    assert_eq!(upd["state"], "resolved");

    // Export: everything about the customer.
    let (s, doc) = app.get(&format!("/api/v1/customers/{k}/export")).await;
    assert_eq!(s, 200);
    assert_eq!(doc["customer"]["id"], k.as_str());
    let ids: Vec<String> = doc["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            format!(
                "{}:{}",
                i["channel"].as_str().unwrap(),
                i["address"].as_str().unwrap()
            )
        })
        .collect();
    assert!(ids.contains(&"sms:+819012345678".to_owned()), "{ids:?}");
    assert!(ids.iter().any(|i| i.starts_with("chat:v-")), "{ids:?}");
    let texts: Vec<&str> = doc["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["text"].as_str())
        .collect();
    assert!(texts.contains(&"カード番号は 4111 です") && texts.contains(&"承知しました"));
    assert_eq!(doc["conversations"][0]["id"], c.as_str());
    assert_eq!(
        doc["conversations"][0]["disposition"],
        "card issue of Hanako"
    );
    assert_eq!(
        doc["customer"]["attributes"]["unverified_email"],
        "hanako@example.jp"
    );

    // Only admins export or erase.
    for t in [&alice, &sup] {
        for (m, p) in [
            ("GET", format!("/api/v1/customers/{k}/export")),
            ("POST", format!("/api/v1/customers/{k}/erase")),
        ] {
            assert_eq!(as_token(&app, m, &p, t).await.0, 403, "{m} {p}");
        }
    }

    // Erase. The web chat is still connected: refused until it closes.
    let (s, v) = app
        .post(&format!("/api/v1/customers/{k}/erase"), json!({}))
        .await;
    assert_eq!(s, 409, "{v}");
    chat.close().await;
    let messages_in = r#"switchboard_messages_total{channel="chat",direction="in"}"#;
    let opened = r#"switchboard_conversations_opened_total{channel="chat"}"#;
    let (m_before, o_before) = (metric(&app, messages_in).await, metric(&app, opened).await);
    assert!(m_before >= 1.0 && o_before >= 1.0);
    let deadline = std::time::Instant::now() + WAIT;
    let report = loop {
        // The chat detaches from the customer actor when its socket stops.
        let (s, v) = app
            .post(&format!("/api/v1/customers/{k}/erase"), json!({}))
            .await;
        if s == 200 {
            break v;
        }
        assert_eq!(s, 409, "{v}");
        assert!(std::time::Instant::now() < deadline, "chat never detached");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await; // poll interval
    };
    assert_eq!(report["identities"], 2);
    assert!(report["events"].as_u64().unwrap() >= 3, "{report}");
    assert_eq!(report["conversations"], 1);

    // Gone: timeline, identities, personal fields.
    let (s, t) = app.get(&format!("/api/v1/customers/{k}/timeline")).await;
    assert_eq!(s, 200);
    assert_eq!(t["events"], json!([]));
    let (s, _) = app
        .get("/api/v1/customers?channel=sms&address=%2B819012345678")
        .await;
    assert_eq!(s, 404);
    let chat_addr = ids.iter().find(|i| i.starts_with("chat:")).unwrap();
    let (s, _) = app
        .get(&format!(
            "/api/v1/customers?channel=chat&address={}",
            &chat_addr[5..]
        ))
        .await;
    assert_eq!(s, 404);
    let (_, cust) = app.get(&format!("/api/v1/customers/{k}")).await;
    assert!(cust["display_name"].is_null(), "{cust}");
    assert_eq!(cust["identities"], json!([]));
    assert!(cust["attributes"]["unverified_email"].is_null());
    assert!(cust["attributes"]["erased_at"].is_string());
    let (_, cv) = app.get(&format!("/api/v1/conversations/{c}")).await;
    assert!(cv["disposition"].is_null(), "{cv}");
    // Aggregate fields stay for reports.
    assert_eq!(cv["state"], "resolved");
    assert_eq!(cv["agent"], "pia");
    let (_, doc2) = app.get(&format!("/api/v1/customers/{k}/export")).await;
    // The message text, not any 4111 a timestamp may hold.
    assert!(!doc2.to_string().contains("カード番号"), "{doc2}");
    assert_eq!(doc2["timeline"], json!([]), "{doc2}");
    assert!(!doc2.to_string().contains("hanako"), "{doc2}");
    // The visitor token of an erased customer opens nothing.
    let err =
        tokio_tungstenite::connect_async(app.ws_url(&format!("/ws/chat?token={visitor_token}")))
            .await
            .expect_err("refused");
    assert!(matches!(err, tokio_tungstenite::tungstenite::Error::Http(r) if r.status() == 401));
    // The same number writing again is somebody new.
    let v = app
        .inbound("sms", "+819012345678", "hello again", None)
        .await;
    assert_ne!(v["customer_id"], k.as_str());
    assert_eq!(v["new_customer"], true);
    // Counters are aggregates: the erasure did not lower them.
    assert!(metric(&app, messages_in).await >= m_before);
    assert!(metric(&app, opened).await >= o_before);

    // The audit log: newest first, admin only, durable across a restart.
    let audit = |v: &Value| -> Vec<(String, String)> {
        v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["customer_id"] == k.as_str())
            .map(|e| {
                (
                    e["action"].as_str().unwrap().to_owned(),
                    e["actor"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    // The privacy operations (every erase request, refused ones included, is in the
    // log too: tests/api/audit_trail.rs).
    let (s, log) = app.get("/api/v1/audit?action=customer_").await;
    assert_eq!(s, 200);
    let want = vec![
        ("customer_exported".to_owned(), "admin".to_owned()),
        ("customer_erased".to_owned(), "admin".to_owned()),
        ("customer_exported".to_owned(), "admin".to_owned()),
    ];
    assert_eq!(audit(&log), want, "{log}");
    assert_eq!(as_token(&app, "GET", "/api/v1/audit", &sup).await.0, 403);
    let (_, page) = app.get("/api/v1/audit?limit=1&action=customer_").await;
    assert_eq!(page["entries"].as_array().unwrap().len(), 1);
    let next = page["next_before"].as_str().unwrap();
    let (_, rest) = app
        .get(&format!("/api/v1/audit?before={next}&action=customer_"))
        .await;
    assert_eq!(audit(&rest), want[1..].to_vec());

    let dir = app.stop();
    let app = spawn_app_in(dir, |_| {}).await;
    let (_, log) = app.get("/api/v1/audit?action=customer_").await;
    assert_eq!(audit(&log), want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasing_an_open_or_unknown_customer_is_refused_and_changes_nothing() {
    let app = spawn_app(|_| {}).await;
    let a = app
        .inbound("sms", "+819055550101", "still waiting", None)
        .await;
    let ka = a["customer_id"].as_str().unwrap();
    let nobody = uuid::Uuid::new_v4();
    let (s, v) = app
        .post(&format!("/api/v1/customers/{nobody}/erase"), json!({}))
        .await;
    assert_eq!((s, v["code"].as_str()), (404, Some("not_found")));
    let (s, _) = app.get(&format!("/api/v1/customers/{nobody}/export")).await;
    assert_eq!(s, 404);
    // A queued conversation is open: refused, and the customer still reads as before.
    let before = app.timeline(ka).await;
    let (s, v) = app
        .post(&format!("/api/v1/customers/{ka}/erase"), json!({}))
        .await;
    assert_eq!((s, v["code"].as_str()), (409, Some("conflict")), "{v}");
    assert_eq!(app.timeline(ka).await, before);
    let (s, _) = app
        .get("/api/v1/customers?channel=sms&address=%2B819055550101")
        .await;
    assert_eq!(s, 200);
    // The customer still takes messages (its actor was not left retired).
    let again = app.inbound("sms", "+819055550101", "hello?", None).await;
    assert_eq!(again["customer_id"], ka);
    // The attempt is in the log as refused (409), not as an erasure.
    let (_, log) = app.get("/api/v1/audit?action=customer_erased").await;
    assert_eq!(
        log["entries"],
        json!([]),
        "a refused erasure is audited as done"
    );
    let (_, log) = app
        .get(&format!("/api/v1/audit?customer_id={ka}&action=POST"))
        .await;
    let statuses: Vec<&Value> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["detail"]["status"])
        .collect();
    assert_eq!(statuses, [&json!(409)], "{log}");
}

/// A provider message received before an erasure and posted again after it — a
/// captured, validly signed webhook, or the provider's own redelivery — is answered as
/// accepted (so the provider does not retry) and stores nothing: no customer owns the
/// address again, the erased timelines stay empty, nothing is queued. Twilio SMS and
/// voice (whose requests carry no timestamp to age out), LINE and Messenger. A new message
/// from the same number is somebody new: the tombstone names the message, not the
/// address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_replayed_after_erasure_are_accepted_and_store_nothing() {
    let rec = Recorder::start().await;
    let app = spawn_app(|s| channels_on(s, &rec)).await;
    let token = app.agent("erin", &["general"], json!({})).await;
    let phone = "+819055557777";
    let caller = "+81355557777";
    let line_user = "U7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f";
    let psid = "7700770077";

    // The three requests, signed once and kept, as an attacker on the path keeps them.
    let path = "/webhooks/twilio/sms";
    let sms: Vec<(&str, &str)> = vec![
        ("MessageSid", "SM77777777777777777777777777777777"),
        ("AccountSid", "AC0123456789abcdef"),
        ("From", phone),
        ("To", "+15005550006"),
        ("Body", "口座番号は 7777 です"),
        ("NumMedia", "0"),
    ];
    let sms_signature = twilio_sign(&format!("{PUBLIC}{path}"), &sms);
    let line = line_text(line_user, "770001", "LINE の秘密 7777", "rt-77");
    let fb = fb_text(psid, "m_7777", "Messenger secret 7777");
    let voice_path = "/webhooks/twilio/voice";
    let call: Vec<(&str, &str)> = vec![
        ("CallSid", "CA77777777777777777777777777777777"),
        ("From", caller),
        ("To", "+815012345678"),
        ("CallStatus", "ringing"),
    ];
    let call_signature = twilio_sign(&format!("{PUBLIC}{voice_path}"), &call);

    // The call waits in the queue and the caller hangs up (no agent yet): its
    // conversation is closed, so its customer can be erased.
    let (s, twiml) = twilio_post(&app, voice_path, &call, Some(&call_signature)).await;
    assert_eq!(s, 200);
    let call_conv = crate::ivr::enqueued(&twiml);
    let mut ended = call.clone();
    ended[3] = ("CallStatus", "completed");
    let (s, _) = twilio_post(&app, "/webhooks/twilio/voice/status", &ended, None).await;
    assert_eq!(s, 204);
    app.get_until(
        &format!("/api/v1/conversations/{call_conv}"),
        "abandoned",
        |c| c["state"] == "abandoned",
    )
    .await;

    let mut agent = Client::available(&app, &token).await;
    let (s, _) = twilio_post(&app, path, &sms, Some(&sms_signature)).await;
    assert_eq!(s, 200);
    assert_eq!(line_post(&app, &line, None).await, 200);
    assert_eq!(fb_post(&app, &fb, None).await, 200);

    // Resolve the three conversations, then erase the three customers.
    for _ in 0..3 {
        let conv = accept_next(&mut agent).await;
        let c = conv["id"].as_str().unwrap().to_owned();
        agent
            .send(json!({"type": "resolve", "conversation_id": c}))
            .await;
        agent
            .expect_where("conversation_updated", |m| {
                m["conversation_id"] == c.as_str() && m["state"] == "resolved"
            })
            .await;
    }
    let mut erased = Vec::new();
    for (channel, address) in [
        ("sms", phone),
        ("line", line_user),
        ("messenger", psid),
        ("voice", caller),
    ] {
        let k = customer_of(&app, channel, address).await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let (s, report) = app
            .post(&format!("/api/v1/customers/{k}/erase"), json!({}))
            .await;
        assert_eq!(s, 200, "{report}");
        assert_eq!(report["tombstones"], 1, "{channel}: {report}");
        erased.push((channel, address, k));
    }
    let dropped = |channel: &str| {
        format!("switchboard_erased_messages_dropped_total{{channel=\"{channel}\"}}")
    };

    // The counters are the process's: other tests drop erased messages too.
    let mut before = Vec::new();
    for (channel, _, _) in &erased {
        before.push(metric(&app, &dropped(channel)).await);
    }

    // The identical requests again: accepted, nothing stored.
    let (s, _) = twilio_post(&app, path, &sms, Some(&sms_signature)).await;
    assert_eq!(s, 200);
    assert_eq!(line_post(&app, &line, None).await, 200);
    assert_eq!(fb_post(&app, &fb, None).await, 200);
    let (s, twiml) = twilio_post(&app, voice_path, &call, Some(&call_signature)).await;
    assert_eq!((s, twiml.contains("<Hangup/>")), (200, true), "{twiml}");
    for ((channel, address, k), before) in erased.iter().zip(before) {
        assert!(
            customer_of(&app, channel, address).await.is_none(),
            "{channel}: the erased customer came back"
        );
        assert_eq!(app.timeline(k).await, Vec::<Value>::new(), "{channel}");
        let (_, doc) = app.get(&format!("/api/v1/customers/{k}/export")).await;
        assert!(!doc.to_string().contains("7777"), "{doc}");
        assert_eq!(
            metric(&app, &dropped(channel)).await,
            before + 1.0,
            "{channel}"
        );
    }
    let (_, q) = app.get("/api/v1/queues/general").await;
    assert_eq!(
        (&q["waiting"], &q["offered"]),
        (&json!(0), &json!(0)),
        "queued: {q}"
    );
    agent.assert_none_before_pong("offer").await;

    // A new message from the same number (a new MessageSid) is a new customer.
    let (s, _) = sms_in(
        &app,
        "SM77777777777777777777777777777778",
        phone,
        "はじめまして",
    )
    .await;
    assert_eq!(s, 200);
    let fresh = customer_of(&app, "sms", phone).await.unwrap();
    assert_ne!(fresh["id"], erased[0].2.as_str());
    assert_eq!(metric(&app, &dropped("sms")).await, 1.0);

    opt_outs_replayed_after_erasure_re_create_nobody(&app).await;
}

/// An opt-out keyword (SMS STOP) or event (LINE unfollow) replayed after its
/// customer's erasure re-creates nobody: the erasure left a tombstone of its id too.
/// Run inside the test above, whose drop counters it continues (the metrics are
/// shared by every app in this test binary).
async fn opt_outs_replayed_after_erasure_re_create_nobody(app: &TestApp) {
    let phone = "+819055558888";
    let line_user = "U8e8e8e8e8e8e8e8e8e8e8e8e8e8e8e8e";
    let path = "/webhooks/twilio/sms";
    let stop: Vec<(&str, &str)> = vec![
        ("MessageSid", "SM88888888888888888888888888888888"),
        ("AccountSid", "AC0123456789abcdef"),
        ("From", phone),
        ("To", "+15005550006"),
        ("Body", "STOP"),
        ("NumMedia", "0"),
    ];
    let signature = twilio_sign(&format!("{PUBLIC}{path}"), &stop);
    let unfollow = json!({"destination": "Ubot", "events": [{
        "type": "unfollow", "mode": "active", "timestamp": 1_700_000_000_000u64,
        "webhookEventId": "01H8UNFOLLOW", "deliveryContext": {"isRedelivery": false},
        "source": {"type": "user", "userId": line_user}
    }]});

    let (s, _) = twilio_post(app, path, &stop, Some(&signature)).await;
    assert_eq!(s, 200);
    assert_eq!(line_post(app, &unfollow, None).await, 200);
    for (channel, address) in [("sms", phone), ("line", line_user)] {
        let c = customer_of(app, channel, address)
            .await
            .unwrap_or_else(|| panic!("{channel}: the opt-out made a customer"));
        let k = c["id"].as_str().unwrap().to_owned();
        let (s, report) = app
            .post(&format!("/api/v1/customers/{k}/erase"), json!({}))
            .await;
        assert_eq!(s, 200, "{report}");
        assert_eq!(report["tombstones"], 1, "{channel}: {report}");
    }

    // The same requests again: answered as before, nobody is made.
    let (s, _) = twilio_post(app, path, &stop, Some(&signature)).await;
    assert_eq!(s, 200);
    assert_eq!(line_post(app, &unfollow, None).await, 200);
    for (channel, address) in [("sms", phone), ("line", line_user)] {
        assert!(
            customer_of(app, channel, address).await.is_none(),
            "{channel}: the erased address came back"
        );
        let line = format!("switchboard_erased_messages_dropped_total{{channel=\"{channel}\"}}");
        assert_eq!(metric(app, &line).await, 2.0, "{channel}");
    }
}
