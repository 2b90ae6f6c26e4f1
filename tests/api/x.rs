//! X direct messages over real sockets: the CRC challenge and the webhook signature
//! (both computed by the tests independently with the hmac crate, `channels::x_sign`), a customer's DM reaching an
//! agent, and the agent's reply leaving as the exact v2 DM request to a local recording
//! server standing in for X's API (the real one cannot be reached from a test).

use crate::channels::{channels_on, customer_of, x_dm, x_post, x_sign, ME, THEM};
use crate::helpers::*;
use crate::recorder::Recorder;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_crc_direct_messages_and_the_dm_api() {
    let rec = Recorder::start().await;
    let app = spawn_app(|s| channels_on(s, &rec)).await;
    let token = app.agent("alice", &["general"], json!({})).await;
    let mut agent = Client::available(&app, &token).await;

    // The CRC challenge.
    let crc = |token: &'static str| {
        let (base, http) = (app.base.clone(), app.http.clone());
        async move {
            let r = http
                .get(format!("{base}/webhooks/x"))
                .query(&[("crc_token", token)])
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    let (s, v) = crc("9b4507b3-9040").await;
    assert_eq!(s, 200);
    assert_eq!(v, json!({"response_token": x_sign(b"9b4507b3-9040")}));
    let r = app
        .http
        .get(format!("{}/webhooks/x", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400, "no crc_token");

    // A DM: a bad signature stores nothing; a redelivery and our own echo store nothing.
    let msg = x_dm("1111", THEM, "注文の件でDMしました");
    assert_eq!(x_post(&app, &msg, Some("sha256=AAAA")).await, 401);
    assert!(customer_of(&app, "x", THEM).await.is_none());
    assert_eq!(x_post(&app, &msg, None).await, 200);
    assert_eq!(x_post(&app, &msg, None).await, 200, "redelivery");
    assert_eq!(x_post(&app, &x_dm("2222", ME, "echo"), None).await, 200);
    let customer = customer_of(&app, "x", THEM).await.expect("the customer");
    assert_eq!(customer["display_name"], "Jordan");
    let cid = customer["id"].as_str().unwrap().to_owned();

    let conv = accept_next(&mut agent).await;
    assert_eq!(conv["channel"], "x");
    agent_say(&mut agent, &conv["id"], "ご連絡ありがとうございます").await;
    let r = rec.wait_for("/2/dm_conversations/", 1).await;
    assert_eq!(
        r[0].path,
        format!("/2/dm_conversations/with/{THEM}/messages")
    );
    assert_eq!(r[0].header("authorization"), Some("Bearer x-user-token"));
    assert_eq!(r[0].json(), json!({"text": "ご連絡ありがとうございます"}));
    let t = app
        .timeline_until(&cid, "sent", |t| {
            t.iter()
                .any(|e| e["type"] == "message_status" && e["status"] == "sent")
        })
        .await;
    let ins: Vec<&str> = t
        .iter()
        .filter(|e| e["type"] == "message_in")
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert_eq!(ins, ["注文の件でDMしました"]);
    assert_eq!(rec.all().len(), 1);
}
