//! Overload: inbound arrives faster than the store can write. The store's writes are
//! held (a [`FaultyStore`] paused with a bounded number of waiting writes, as the
//! embedded store's bounded write queue behaves when the disk falls behind), and the
//! engine must answer at once with 503 + `Retry-After` on REST and webhooks and a typed
//! `busy` error on web chat, acknowledge exactly what it stored, and store nothing it
//! did not acknowledge. Retries with the same ids are then stored exactly once.

use crate::channels::{twilio_signed, PUBLIC, TWILIO_TOKEN};
use crate::helpers::*;
use serde_json::{json, Value};
use switchboard::config::Settings;
use switchboard::store::faulty::Op;

/// Most writes the paused store holds; everything beyond is refused `Overloaded`.
const HELD: usize = 4;
/// Concurrent REST deliveries in the flood (each to a new customer).
const FLOOD: usize = 12;

fn sms_on(s: &mut Settings) {
    let c = &mut s.channels;
    c.public_url = PUBLIC.into();
    c.sms.enabled = true;
    c.sms.account_sid = "AC0123456789abcdef".into();
    c.sms.auth_token = TWILIO_TOKEN.into();
    c.sms.from_number = "+15005550006".into();
    // Replies are not sent in this test; nothing listens here.
    c.sms.api_base = "http://127.0.0.1:9".into();
}

/// An SMS webhook; returns (status, Retry-After header).
async fn sms_webhook(app: &TestApp, sid: &str, from: &str, body: &str) -> (u16, Option<String>) {
    let params = [
        ("MessageSid", sid),
        ("AccountSid", "AC0123456789abcdef"),
        ("From", from),
        ("To", "+15005550006"),
        ("Body", body),
        ("NumMedia", "0"),
    ];
    let r = twilio_signed(&app.http, &app.base, "/webhooks/twilio/sms", &params).await;
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (r.status().as_u16(), retry)
}

/// REST inbound; returns (status, Retry-After, body).
async fn rest_inbound(app: &TestApp, address: &str, id: &str) -> (u16, Option<String>, Value) {
    let r = app
        .http
        .post(format!("{}/api/v1/inbound", app.base))
        .bearer_auth(&app.admin)
        .json(&json!({"channel": "sms", "address": address, "text": format!("flood {id}"), "client_msg_id": id}))
        .send()
        .await
        .unwrap();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (
        r.status().as_u16(),
        retry,
        r.json().await.unwrap_or(Value::Null),
    )
}

/// How many times the `message_in` with `client_msg_id` is in the customer's timeline.
async fn stored_times(app: &TestApp, customer: &str, client_msg_id: &str) -> usize {
    app.timeline(customer)
        .await
        .iter()
        .filter(|e| e["type"] == "message_in" && e["client_msg_id"] == client_msg_id)
        .count()
}

async fn customer_of(app: &TestApp, address: &str) -> Option<String> {
    let (s, v) = app
        .get(&format!(
            "/api/v1/customers?channel=sms&address={}",
            address.replace('+', "%2B")
        ))
        .await;
    (s == 200).then(|| v["id"].as_str().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_is_refused_busy_and_every_acknowledged_message_is_stored_once() {
    let (app, store) = spawn_app_with_faults(sms_on).await;
    // A web-chat visitor and an SMS customer exist before the store saturates.
    let (mut visitor, w) = Client::visitor(&app).await;
    let visitor_id = w["customer_id"].as_str().unwrap().to_owned();
    let hello = chat_say(&mut visitor, "hello").await;
    let (s, _) = sms_webhook(&app, "SM-0", "+819011110000", "hello").await;
    assert_eq!(s, 200);
    let sms_customer = customer_of(&app, "+819011110000").await.unwrap();
    let sms_conv = app.timeline(&sms_customer).await[0]["conversation_id"].clone();
    // Background routing writes are done before the store saturates, so the held
    // slots go to the flood alone.
    app.trace_with(&hello["conversation_id"], &["enqueued"])
        .await;
    app.trace_with(&sms_conv, &["enqueued"]).await;
    let resolves_before = store.calls(Op::ResolveOrCreate);

    store.pause_writes(HELD);
    let addresses: Vec<String> = (0..FLOOD).map(|i| format!("+8190222200{i:02}")).collect();
    let flood: Vec<_> = addresses
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let app_http = (app.http.clone(), app.base.clone(), app.admin.clone());
            let a = a.clone();
            tokio::spawn(async move {
                let (http, base, admin) = app_http;
                let r = http
                    .post(format!("{base}/api/v1/inbound"))
                    .bearer_auth(admin)
                    .json(&json!({"channel": "sms", "address": a, "text": format!("flood f-{i}"), "client_msg_id": format!("f-{i}")}))
                    .send()
                    .await
                    .unwrap();
                let retry = r
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap().to_owned());
                (r.status().as_u16(), retry, r.json::<Value>().await.unwrap_or(Value::Null))
            })
        })
        .collect();
    // The store holds HELD writes; the rest are refused at once (they answer while the
    // held ones are still waiting).
    store.wait_held(HELD).await;
    store
        .wait_calls(Op::ResolveOrCreate, resolves_before + FLOOD as u64)
        .await;

    // While saturated: a webhook is told to retry, web chat gets a typed `busy`.
    let (s, retry) = sms_webhook(&app, "SM-1", "+819011110000", "are you there?").await;
    assert_eq!(s, 503, "webhook refused while saturated");
    assert!(retry.is_some(), "Retry-After on a 503 webhook");
    visitor
        .send(json!({"type": "message", "client_msg_id": "chat-1", "text": "still there?"}))
        .await;
    let err = visitor.expect("error").await;
    assert_eq!(err["code"], "busy", "{err}");
    assert_eq!(err["ref"], "chat-1");

    store.resume_writes();
    let mut acked = Vec::new();
    let mut refused = Vec::new();
    for (i, h) in flood.into_iter().enumerate() {
        let (status, retry, body) = h.await.unwrap();
        match status {
            202 => acked.push((i, body)),
            503 => {
                assert!(retry.is_some(), "Retry-After on 503");
                assert_eq!(body["code"], "busy", "{body}");
                refused.push(i);
            }
            other => panic!("unexpected status {other}: {body}"),
        }
    }
    assert_eq!(
        acked.len(),
        HELD,
        "exactly the held writes were acknowledged"
    );
    assert_eq!(refused.len(), FLOOD - HELD);

    // Acknowledged: stored exactly once. Refused: nothing stored, not even a customer.
    for (i, body) in &acked {
        let c = body["customer_id"].as_str().unwrap();
        assert_eq!(stored_times(&app, c, &format!("f-{i}")).await, 1);
    }
    for i in &refused {
        assert_eq!(customer_of(&app, &addresses[*i]).await, None);
    }
    assert_eq!(stored_times(&app, &visitor_id, "chat-1").await, 0);
    let sms_in = app
        .timeline(&sms_customer)
        .await
        .iter()
        .filter(|e| e["type"] == "message_in")
        .count();
    assert_eq!(sms_in, 1, "the refused webhook stored nothing");

    // The channels retry with the same ids once the engine has room: stored once.
    for i in &refused {
        let (s, _, body) = rest_inbound(&app, &addresses[*i], &format!("f-{i}")).await;
        assert_eq!(s, 202, "{body}");
        assert_eq!(body["duplicate"], false);
        let c = body["customer_id"].as_str().unwrap();
        assert_eq!(stored_times(&app, c, &format!("f-{i}")).await, 1);
    }
    for (i, body) in &acked {
        let (s, _, again) = rest_inbound(&app, &addresses[*i], &format!("f-{i}")).await;
        assert_eq!(s, 202);
        assert_eq!(
            again["duplicate"], true,
            "a retry of an acknowledged message"
        );
        assert_eq!(again["event_id"], body["event_id"]);
    }
    let (s, _) = sms_webhook(&app, "SM-1", "+819011110000", "are you there?").await;
    assert_eq!(s, 200);
    visitor
        .send(json!({"type": "message", "client_msg_id": "chat-1", "text": "still there?"}))
        .await;
    let ack = visitor
        .expect_where("ack", |m| m["client_msg_id"] == "chat-1")
        .await;
    assert_eq!(ack["duplicate"], false);
    assert_eq!(stored_times(&app, &visitor_id, "chat-1").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiny_write_queue_refuses_with_busy_not_unbounded_memory() {
    // The embedded store's own bound: one pending write. A burst of concurrent
    // deliveries either lands (202) or is refused busy (503), never anything else,
    // and the refused ones are not stored.
    let app = spawn_app(|s| s.store.max_pending_writes = 1).await;
    let burst: Vec<_> = (0..24)
        .map(|i| {
            let (http, base, admin) = (app.http.clone(), app.base.clone(), app.admin.clone());
            tokio::spawn(async move {
                let r = http
                    .post(format!("{base}/api/v1/inbound"))
                    .bearer_auth(admin)
                    .json(&json!({"channel": "sms", "address": format!("+8190333300{i:02}"), "text": "burst", "client_msg_id": format!("b-{i}")}))
                    .send()
                    .await
                    .unwrap();
                (i, r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null))
            })
        })
        .collect();
    for h in burst {
        let (i, status, body) = h.await.unwrap();
        match status {
            202 => {
                let c = body["customer_id"].as_str().unwrap();
                assert_eq!(stored_times(&app, c, &format!("b-{i}")).await, 1);
            }
            503 => assert_eq!(body["code"], "busy", "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_socket_sending_faster_than_the_store_commits_is_told_busy() {
    // Each chat socket may have `chat_in_flight_per_socket` messages waiting for their
    // commit; beyond that the engine answers `busy` at once instead of queueing them
    // in memory. The client resends those by `client_msg_id` once acks arrive.
    let (app, store) = spawn_app_with_faults(|s| s.limits.chat_in_flight_per_socket = 2).await;
    let (mut visitor, w) = Client::visitor(&app).await;
    let visitor_id = w["customer_id"].as_str().unwrap().to_owned();
    let hello = chat_say(&mut visitor, "hello").await;
    app.trace_with(&hello["conversation_id"], &["enqueued"])
        .await;

    store.pause_writes(16);
    for id in ["m-1", "m-2"] {
        visitor
            .send(json!({"type": "message", "client_msg_id": id, "text": id}))
            .await;
    }
    // m-1's commit is held; m-2 waits behind it in the customer actor (one commit at a
    // time per customer). Both count against this socket's two.
    store.wait_held(1).await;
    for id in ["m-3", "m-4"] {
        visitor
            .send(json!({"type": "message", "client_msg_id": id, "text": id}))
            .await;
        let err = visitor.expect("error").await;
        assert_eq!(err["code"], "busy", "{err}");
        assert_eq!(err["ref"], id);
    }
    assert_eq!(
        store.held(),
        1,
        "the refused messages never reached the store"
    );

    store.resume_writes();
    for id in ["m-1", "m-2"] {
        let ack = visitor
            .expect_where("ack", |a| a["client_msg_id"] == id)
            .await;
        assert_eq!(ack["duplicate"], false);
    }
    // Room again: the resent message is stored, once.
    visitor
        .send(json!({"type": "message", "client_msg_id": "m-3", "text": "m-3"}))
        .await;
    visitor
        .expect_where("ack", |a| a["client_msg_id"] == "m-3")
        .await;
    for (id, times) in [("m-1", 1), ("m-2", 1), ("m-3", 1), ("m-4", 0)] {
        assert_eq!(stored_times(&app, &visitor_id, id).await, times, "{id}");
    }
}
