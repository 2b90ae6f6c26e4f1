//! Browser calls across a cluster (docs/voice.md): two engine processes in spread
//! placement on one Cassandra keyspace, the agent's socket on one node and each
//! visitor's chat socket on the other, so every call message — the ring, the answer,
//! each WebRTC signal, the end — crosses between the nodes (the customer's and the
//! agent's actors live wherever their shards are placed). Checks each signal arrives
//! exactly as sent, the agent's voice slot is taken and given back as the other node
//! reads it, and the timeline in the store records the call.

use crate::helpers::*;
use crate::process::Proc;
use serde_json::{json, Value};

const OFFER: &str = "v=0\r\no=- 7 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n";
const CANDIDATE: &str = "candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host";

/// The agent's free slots per channel class, as node `n` reads them.
async fn free(n: &Proc, token: &str, agent: &str) -> Value {
    n.get(token, &format!("/api/v1/agents/{agent}")).await["live"]["free"].clone()
}

async fn free_until(n: &Proc, token: &str, agent: &str, want: &Value) {
    let give_up = std::time::Instant::now() + WAIT;
    loop {
        let got = free(n, token, agent).await;
        if got == *want {
            return;
        }
        assert!(
            std::time::Instant::now() < give_up,
            "free slots {got}, not {want}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await; // poll interval
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_between_a_visitor_on_one_node_and_an_agent_on_another() {
    let dir = tempfile::tempdir().unwrap();
    let toml = "[calls]\nmedia = [\"audio\", \"video\"]\n";
    let (a, b) = crate::spread::two_with_config(dir.path(), toml).await;
    let admin = a.login("admin").await;
    crate::spread::shared_by(&a, &admin, 2).await;
    let token = a.agent(&admin, "kei", json!({})).await;
    let (mut agent, welcome) = crate::spread::agent_on(&a, &token).await;
    assert_eq!(welcome["calls"], json!(["audio", "video"]));

    // Several visitors, so the customers' actors land on both nodes' shards.
    for round in 0..3 {
        let mut v = Client::connect(&b.ws_url("/ws/chat")).await;
        let w = v.expect("welcome").await;
        let customer = w["customer_id"].as_str().unwrap().to_owned();
        chat_say(&mut v, &format!("call me {round}")).await;
        let conv = accept_next(&mut agent).await;
        v.expect_where("conversation", |c| c["state"] == "assigned")
            .await;
        let idle = free(&b, &admin, "kei").await;

        // The visitor calls; the agent answers on the other node.
        v.send(json!({"type": "call_start", "media": "audio"}))
            .await;
        let call = v.expect("call_ringing").await["call_id"].clone();
        let incoming = agent.expect("call_incoming").await;
        assert_eq!(incoming["call_id"], call);
        agent
            .send(json!({"type": "call_answer", "conversation_id": conv["id"], "call_id": call}))
            .await;
        v.expect("call_answered").await;
        agent.expect("call_answered").await;
        free_until(&b, &admin, "kei", &json!([0, 0, 0, 0])).await;

        let offer = json!({"kind": "offer", "sdp": OFFER});
        v.send(json!({"type": "call_signal", "call_id": call, "signal": offer}))
            .await;
        assert_eq!(agent.expect("call_signal").await["signal"], offer);
        let cand = json!({"kind": "candidate", "candidate": CANDIDATE, "sdp_mid": "0"});
        agent
            .send(json!({"type": "call_signal", "conversation_id": conv["id"],
                         "call_id": call, "signal": cand}))
            .await;
        assert_eq!(v.expect("call_signal").await["signal"], cand);

        agent
            .send(json!({"type": "call_hangup", "conversation_id": conv["id"], "call_id": call}))
            .await;
        let e = v.expect("call_ended").await;
        assert_eq!(
            (e["reason"].as_str(), e["by"].as_str()),
            (Some("hangup"), Some("agent"))
        );
        agent.expect("call_ended").await;
        free_until(&b, &admin, "kei", &idle).await;

        // The store has the call's three lines, read through the other node.
        let give_up = std::time::Instant::now() + WAIT;
        loop {
            let t = b
                .get(
                    &admin,
                    &format!("/api/v1/customers/{customer}/timeline?limit=50"),
                )
                .await;
            let mut kinds: Vec<String> = t["events"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|e| e["type"].as_str())
                .filter(|k| k.starts_with("call_"))
                .map(str::to_owned)
                .collect();
            kinds.reverse();
            if kinds == ["call_started", "call_answered", "call_ended"] {
                break;
            }
            assert!(std::time::Instant::now() < give_up, "timeline: {kinds:?}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await; // poll interval
        }
        resolve(&mut agent, &conv).await;
        v.close().await;
    }
}
