//! Agent-started conversations (`POST /api/v1/customers/{id}/conversations`, docs/api.md
//! "Outbound conversations"): an agent writes first to a customer they served, on SMS;
//! the message goes out through the provider (the recorder asserts the request), the
//! conversation waits for that agent, who accepts it; it is one more conversation in the
//! customer's timeline. A retry is the same conversation; a second start while it is
//! open is a conflict; a channel without an address, a queue not the agent's, and a
//! customer the agent may not see are refused, and nothing is stored or sent.

use crate::channels::{channels_on, sms_in};
use crate::helpers::*;
use crate::recorder::Recorder;
use serde_json::{json, Value};

async fn start(app: &TestApp, token: &str, customer: &str, body: Value) -> (u16, Value) {
    let r = app
        .http
        .post(format!(
            "{}/api/v1/customers/{customer}/conversations",
            app.base
        ))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_starts_a_conversation_that_waits_for_them() {
    let rec = Recorder::start().await;
    let app = spawn_app(|s| channels_on(s, &rec)).await;
    app.queue("billing", json!({})).await;
    let alice = app.agent("alice", &["general"], json!({})).await;
    let bob = app.agent("bob", &["general"], json!({})).await;
    let mut agent = Client::available(&app, &alice).await;

    // Alice served the customer once; the conversation is over.
    let (s, _) = sms_in(&app, "SM700", "+819077778888", "配送日を教えてください").await;
    assert_eq!(s, 200);
    let first = accept_next(&mut agent).await;
    let customer = first["customer"]["id"].as_str().unwrap().to_owned();
    resolve(&mut agent, &first).await;

    // Refused, and nothing stored or sent: a channel the customer has no address on,
    // a queue that is not hers, a customer Bob never served.
    let before = app.timeline(&customer).await.len();
    let body = |channel: &str, id: &str| json!({"channel": channel, "text": "お届け日が決まりました", "client_msg_id": id});
    let (s, v) = start(&app, &alice, &customer, body("line", "o0")).await;
    assert_eq!((s, v["code"].as_str()), (400, Some("invalid")), "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("no line address"),
        "{v}"
    );
    let mut other_queue = body("sms", "o0");
    other_queue["queue"] = json!("billing");
    let (s, v) = start(&app, &alice, &customer, other_queue).await;
    assert_eq!(s, 400, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("not in queue billing"),
        "{v}"
    );
    let (s, _) = start(&app, &bob, &customer, body("sms", "o0")).await;
    assert_eq!(s, 403);
    let (s, _) = start(&app, &alice, &customer, body("voice", "o0")).await;
    assert_eq!(s, 400, "a call is not started by text");
    let (s, v) = start(&app, &alice, &customer, body("x_mentions", "o0")).await;
    assert_eq!(s, 400, "a public conversation is not started: {v}");
    assert!(
        v["message"].as_str().unwrap().contains("never started"),
        "{v}"
    );
    assert_eq!(app.timeline(&customer).await.len(), before);

    // The start: the SMS goes out, the conversation waits for Alice alone.
    let (s, started) = start(&app, &alice, &customer, body("sms", "o1")).await;
    assert_eq!(s, 201, "{started}");
    assert_eq!(started["duplicate"], false);
    let sent = rec
        .wait_for("/2010-04-01/Accounts/AC0123456789abcdef/Messages.json", 1)
        .await;
    assert_eq!(sent[0].form()["To"], "+819077778888");
    assert_eq!(sent[0].form()["Body"], "お届け日が決まりました");
    let offer = agent.expect("offer").await;
    assert_eq!(offer["conversation_id"], started["conversation_id"]);
    agent
        .send(json!({"type": "accept", "offer_id": offer["offer_id"]}))
        .await;
    let conv = agent.expect("conversation_assigned").await["conversation"].clone();
    assert_eq!(conv["id"], started["conversation_id"]);
    assert_eq!(conv["channel"], "sms");

    // A retry is the same conversation; a second start while it is open, a conflict.
    let (s, again) = start(&app, &alice, &customer, body("sms", "o1")).await;
    assert_eq!(
        (s, again["duplicate"].as_bool()),
        (201, Some(true)),
        "{again}"
    );
    assert_eq!(again["conversation_id"], started["conversation_id"]);
    let (s, v) = start(&app, &alice, &customer, body("sms", "o2")).await;
    assert_eq!((s, v["code"].as_str()), (409, Some("conflict")), "{v}");
    assert_eq!(rec.all().len(), 1, "one SMS sent");

    // One more conversation in the timeline, opened by the agent's message.
    let (_, convs) = app
        .get(&format!("/api/v1/customers/{customer}/conversations"))
        .await;
    assert_eq!(convs.as_array().map(Vec::len), Some(2), "{convs}");
    let events = app.timeline(&customer).await;
    let mine: Vec<String> = events
        .iter()
        .filter(|e| e["conversation_id"] == started["conversation_id"])
        .map(|e| e["type"].as_str().unwrap_or("").to_owned())
        .filter(|t| t != "offered" && t != "offer_closed" && t != "message_status")
        .collect();
    assert_eq!(
        mine,
        ["conversation_opened", "message_out", "queued", "assigned"],
        "{events:?}"
    );
}
