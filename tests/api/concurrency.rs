//! 200 agents and 2,000 conversations arriving at once on a multi-threaded runtime:
//! every conversation is assigned exactly once and no agent ever exceeds its capacity,
//! checked from the durable event log (timelines), not from counters.

use crate::helpers::*;
use futures::StreamExt;
use serde_json::{json, Value};
use std::collections::HashMap;

const AGENTS: usize = 200;
const CONVERSATIONS: usize = 2_000;
const CAPACITY: i64 = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_agents_two_thousand_conversations() {
    let app = spawn_app(|s| s.limits.ws_messages_per_second = 10_000).await;
    let cap = json!({"capacity": {"voice": 1, "chat": 3, "email": 3, "messaging": CAPACITY}});
    let tokens: Vec<String> = futures::stream::iter(0..AGENTS)
        .map(|i| {
            let app = &app;
            let cap = cap.clone();
            async move { app.agent(&format!("a{i:03}"), &["general"], cap).await }
        })
        .buffer_unordered(16)
        .collect()
        .await;

    // Each agent accepts every offer and resolves each conversation as soon as it has it.
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let mut agents = Vec::new();
    for t in &tokens {
        let mut c = Client::available(&app, t).await;
        let done = done_tx.clone();
        agents.push(tokio::spawn(async move {
            loop {
                let m = c.next().await;
                match m["type"].as_str() {
                    Some("offer") => {
                        c.send(json!({"type": "accept", "offer_id": m["offer_id"]}))
                            .await
                    }
                    Some("conversation_assigned") => {
                        let id = m["conversation"]["id"].clone();
                        c.send(json!({"type": "resolve", "conversation_id": id}))
                            .await;
                        done.send(id.as_str().unwrap().to_owned()).ok();
                    }
                    Some("error") => panic!("agent error: {m}"),
                    _ => {}
                }
            }
        }));
    }

    let customers: Vec<String> = futures::stream::iter(0..CONVERSATIONS)
        .map(|i| {
            let app = &app;
            async move {
                let v = app
                    .inbound(
                        "sms",
                        &format!("+8170{i:08}"),
                        "at once",
                        Some(&format!("c{i}")),
                    )
                    .await;
                v["customer_id"].as_str().unwrap().to_owned()
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;

    let mut assigned = std::collections::HashSet::new();
    while assigned.len() < CONVERSATIONS {
        let id = tokio::time::timeout(std::time::Duration::from_secs(120), done_rx.recv())
            .await
            .expect("all conversations assigned in time")
            .unwrap();
        assert!(
            assigned.insert(id.clone()),
            "conversation {id} assigned twice"
        );
    }
    for a in agents {
        a.abort();
    }

    // The event log: every conversation assigned exactly once; capacity never exceeded.
    let logs: Vec<Vec<Value>> = futures::stream::iter(customers)
        .map(|c| {
            let app = &app;
            async move { app.timeline(&c).await }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let mut changes: Vec<(String, String, i64)> = Vec::new(); // (event id, agent, +1/-1)
    for events in &logs {
        let assigns: Vec<&Value> = events.iter().filter(|e| e["type"] == "assigned").collect();
        assert_eq!(assigns.len(), 1, "exactly one assignment: {events:#?}");
        let agent = assigns[0]["agent_id"].as_str().unwrap().to_owned();
        changes.push((
            assigns[0]["id"].as_str().unwrap().to_owned(),
            agent.clone(),
            1,
        ));
        if let Some(r) = events.iter().find(|e| e["type"] == "resolved") {
            changes.push((r["id"].as_str().unwrap().to_owned(), agent, -1));
        }
    }
    changes.sort();
    let mut held: HashMap<String, i64> = HashMap::new();
    for (id, agent, d) in changes {
        let h = held.entry(agent.clone()).or_default();
        *h += d;
        assert!(*h <= CAPACITY, "agent {agent} over capacity at event {id}");
        assert!(*h >= 0);
    }
}
