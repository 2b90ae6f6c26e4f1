//! Crash safety of the whole engine: start the real binary, deliver messages, kill -9,
//! restart on the same data dir. Every acknowledged message is in the timeline and the
//! waiting conversations are back in their original order with their original wait.

use crate::helpers::*;
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};

struct Engine {
    child: Child,
    base: String,
    port: u16,
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start(dir: &std::path::Path, port: u16) -> Engine {
    let child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["--listen", &format!("127.0.0.1:{port}"), "--workers", "2"])
        .arg("--data-dir")
        .arg(dir)
        .env("SWITCHBOARD_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("binary starts");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await {
            if r.status() == 200 {
                break;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "engine did not become ready"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await; // poll interval
    }
    Engine { child, base, port }
}

async fn login(http: &reqwest::Client, base: &str) -> String {
    let r: Value = http
        .post(format!("{base}/api/v1/login"))
        .json(&json!({"agent_id": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_minus_nine_loses_no_acknowledged_message_and_keeps_queue_order() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let http = reqwest::Client::new();
    let e = start(dir.path(), port).await;
    let token = login(&http, &e.base).await;

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
    let mut e = e;
    e.child.kill().unwrap();
    e.child.wait().unwrap();
    drop(e);

    let e = start(dir.path(), port).await;
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
