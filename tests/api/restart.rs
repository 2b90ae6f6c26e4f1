//! Crash safety of the whole engine: start the real binary, deliver messages, kill -9,
//! restart on the same data dir. Every acknowledged message is in the timeline and the
//! waiting conversations are back in their original order with their original wait.

use crate::helpers::*;
use crate::process::{free_port, start};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_minus_nine_loses_no_acknowledged_message_and_keeps_queue_order() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let http = reqwest::Client::new();
    let e = start(dir.path(), port, &[]).await;
    let token = e.login("admin").await;

    let mut acked: Vec<(String, String)> = Vec::new(); // (customer, event id)
    for i in 0..5 {
        for j in 0..4 {
            let r = http
                .post(format!("{}/api/v1/inbound", e.base))
                .bearer_auth(&token)
                .json(&json!({"channel": "sms", "address": format!("+8180000000{i}"), "text": format!("msg {i}.{j}")}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 202);
            let v: Value = r.json().await.unwrap();
            acked.push((
                v["customer_id"].as_str().unwrap().into(),
                v["event_id"].as_str().unwrap().into(),
            ));
        }
    }
    let before: Value = http
        .get(format!("{}/api/v1/queues/general", e.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(before["waiting"], 5);

    // kill -9 (SIGKILL): no shutdown hook runs.
    e.kill9();

    let e = start(dir.path(), port, &[]).await;
    // The signing key survived too: the old token still works.
    for (customer, event) in &acked {
        let v: Value = http
            .get(format!(
                "{}/api/v1/customers/{customer}/timeline?limit=200",
                e.base
            ))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(
            v["events"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["id"] == event.as_str()),
            "acknowledged event {event} lost"
        );
    }
    let after: Value = http
        .get(format!("{}/api/v1/queues/general", e.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let order = |q: &Value| -> Vec<(Value, Value)> {
        q["queue"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| (w["conversation_id"].clone(), w["enqueued_at"].clone()))
            .collect()
    };
    assert_eq!(
        order(&after),
        order(&before),
        "same order, same enqueue times"
    );

    // An agent logging in now is offered the oldest first.
    let app_like = format!("ws://127.0.0.1:{}/ws/agent", e.port);
    let r = http
        .put(format!("{}/api/v1/agents/late", e.base))
        .bearer_auth(&token)
        .json(&json!({"display_name": "Late", "password": "late-password", "role": "agent", "queues": ["general"],
            // One chat slot: exactly one offer, so its order is routing's, not delivery's.
            "capacity": {"voice": 1, "chat": 1, "email": 1, "messaging": 1}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r: Value = http
        .post(format!("{}/api/v1/login", e.base))
        .json(&json!({"agent_id": "late", "password": "late-password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut a = Client::connect(&format!(
        "{app_like}?token={}",
        r["token"].as_str().unwrap()
    ))
    .await;
    a.expect("welcome").await;
    a.send(json!({"type": "set_status", "status": "available"}))
        .await;
    let o = a.expect("offer").await;
    assert_eq!(o["conversation_id"], before["queue"][0]["conversation_id"]);
}

/// Event ids in `customer`'s timeline on the engine at `e`.
async fn event_ids(e: &crate::process::Proc, token: &str, customer: &Value) -> Vec<Value> {
    let v = e
        .get(
            token,
            &format!(
                "/api/v1/customers/{}/timeline?limit=200",
                customer.as_str().unwrap()
            ),
        )
        .await;
    v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_minus_nine_mid_conversation_leaves_nothing_offered_or_over_capacity() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let e = start(dir.path(), port, &[]).await;
    let admin = e.login("admin").await;
    let capacity = json!({"voice": 1, "chat": 2, "email": 1, "messaging": 1});
    let token = e
        .agent(&admin, "ann", json!({ "capacity": capacity }))
        .await;
    let mut agent = Client::connect(&e.ws_url(&format!("/ws/agent?token={token}"))).await;
    agent.expect("welcome").await;
    agent
        .send(json!({"type": "set_status", "status": "available"}))
        .await;
    agent.expect("status").await;

    // (customer, event) of every message the engine acknowledged.
    let mut acked: Vec<(Value, Value)> = Vec::new();
    // Visitor one is assigned and mid-conversation.
    let mut v1 = Client::connect(&e.ws_url("/ws/chat")).await;
    let c1 = v1.expect("welcome").await["customer_id"].clone();
    let a = chat_say(&mut v1, "hello from one").await;
    acked.push((c1.clone(), a["event_id"].clone()));
    let conv1 = accept_next(&mut agent).await;
    let r = agent_say(&mut agent, &conv1["id"], "hi, how can I help?").await;
    acked.push((c1.clone(), r["event_id"].clone()));
    let a = chat_say(&mut v1, "my parcel is late").await;
    acked.push((c1.clone(), a["event_id"].clone()));
    // Visitor two is offered to the agent, not yet accepted, when the engine dies.
    let mut v2 = Client::connect(&e.ws_url("/ws/chat")).await;
    let c2 = v2.expect("welcome").await["customer_id"].clone();
    let a2 = chat_say(&mut v2, "hello from two").await;
    acked.push((c2.clone(), a2["event_id"].clone()));
    let offer = agent.expect("offer").await;
    assert_eq!(offer["conversation_id"], a2["conversation_id"]);
    // A third chat (delivered over REST) waits behind the full agent (one held, one
    // offered: both chat slots).
    let (s, third) = e
        .send_json(
            &admin,
            "POST",
            "/api/v1/inbound",
            json!({"channel": "chat", "address": "visitor-three", "text": "any news?"}),
        )
        .await;
    assert_eq!(s, 202, "{third}");
    acked.push((third["customer_id"].clone(), third["event_id"].clone()));
    agent.assert_none_before_pong("offer").await;

    e.kill9();
    let e = start(dir.path(), port, &[]).await;

    for (customer, event) in &acked {
        let ids = event_ids(&e, &admin, customer).await;
        assert_eq!(
            ids.iter().filter(|i| *i == event).count(),
            1,
            "acknowledged event {event} stored exactly once"
        );
    }
    // The offered conversation waits again (not stuck "offered"), in arrival order
    // ahead of the third; the assigned one is not in the queue.
    let q = e.get(&admin, "/api/v1/queues/general").await;
    let waiting: Vec<Value> = q["queue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["conversation_id"].clone())
        .collect();
    assert_eq!(
        waiting,
        vec![
            a2["conversation_id"].clone(),
            third["conversation_id"].clone()
        ]
    );
    assert_eq!(q["offered"], 0);
    let c = e
        .get(
            &admin,
            &format!("/api/v1/conversations/{}", conv1["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(c["state"], "assigned");

    // The agent comes back to its conversation and is offered exactly one more.
    let mut agent = Client::connect(&e.ws_url(&format!("/ws/agent?token={token}"))).await;
    let w = agent.expect("welcome").await;
    let held: Vec<Value> = w["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].clone())
        .collect();
    assert_eq!(held, vec![conv1["id"].clone()]);
    agent
        .send(json!({"type": "set_status", "status": "available"}))
        .await;
    let offer = agent.expect("offer").await;
    assert_eq!(offer["conversation_id"], a2["conversation_id"]);
    agent.assert_none_before_pong("offer").await;
    let live = e.get(&admin, "/api/v1/agents/ann").await;
    let in_use = live["live"]["held"].as_array().unwrap().len()
        + live["live"]["pending_offers"].as_array().unwrap().len();
    assert_eq!(in_use, 2, "two chat slots in use, never more: {live}");
}
