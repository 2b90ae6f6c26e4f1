//! `/metrics` checked by the real Prometheus tools: after some traffic, the scrape is
//! piped to `promtool check metrics` (naming conventions, HELP, counter suffixes…), and
//! every metric name the Grafana dashboard (deploy/grafana/switchboard.json) queries
//! must appear in that scrape.
//!
//! `promtool` comes from Debian's `prometheus` package, which scripts/test.sh installs;
//! without it the test fails with that instruction instead of silently skipping.

use crate::helpers::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};

/// Traffic that moves every signal the dashboard shows: an agent logs in and becomes
/// available, a contact is offered, accepted, answered and resolved, a web-chat visitor
/// leaves while waiting (abandoned), a second agent rejects an offer.
async fn traffic(app: &TestApp) {
    let ta = app.agent("promo", &["general"], json!({})).await;
    let mut a = Client::available(app, &ta).await;
    app.inbound("sms", "+819011112222", "メトリクスのテスト", None)
        .await;
    let conv = accept_next(&mut a).await;
    a.send(json!({"type": "resolve", "conversation_id": conv["id"]}))
        .await;
    a.expect_where("conversation_updated", |m| m["state"] == "resolved")
        .await;
    // Busy elsewhere: away, so the visitor waits and leaves.
    a.send(json!({"type": "set_status", "status": "away"}))
        .await;
    a.expect_where("status", |m| m["status"] == "away").await;
    let (mut visitor, _) = Client::visitor(app).await;
    chat_say(&mut visitor, "待っています").await;
    visitor.send(json!({"type": "leave"})).await;
    visitor
        .expect_where("conversation", |m| m["state"] == "abandoned")
        .await;
    // A rejected offer.
    let tb = app.agent("promo-b", &["general"], json!({})).await;
    let mut b = Client::available(app, &tb).await;
    app.inbound("sms", "+819011113333", "もう一件", None).await;
    let offer = b.expect("offer").await;
    b.send(json!({"type": "reject", "offer_id": offer["offer_id"]}))
        .await;
    b.expect("offer_revoked").await;
}

async fn scrape(app: &TestApp) -> String {
    metrics_text(&app.http, &app.base).await
}

/// The metric (series) names in a text exposition.
fn series_names(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect()
}

/// Every `switchboard_*` name mentioned in any string of `v`.
fn metric_names_in(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::String(s) => {
            let mut rest = s.as_str();
            while let Some(i) = rest.find("switchboard_") {
                let tail = &rest[i..];
                let end = tail
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(tail.len());
                out.insert(tail[..end].to_owned());
                rest = &tail[end..];
            }
        }
        Value::Array(a) => a.iter().for_each(|x| metric_names_in(x, out)),
        Value::Object(o) => o.values().for_each(|x| metric_names_in(x, out)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promtool_accepts_the_metrics_scrape() {
    let app = spawn_app(|_| {}).await;
    traffic(&app).await;
    let text = scrape(&app).await;
    assert!(text.contains("switchboard_offers_total"), "{text}");
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => panic!(
            "promtool is needed to lint /metrics ({e}); install Debian's `prometheus` \
             package (scripts/test.sh does: apt-get install prometheus)"
        ),
    };
    child
        .stdin
        .take()
        .expect("promtool stdin")
        .write_all(text.as_bytes())
        .expect("write to promtool");
    let out = child.wait_with_output().expect("promtool finished");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.trim().is_empty(),
        "promtool check metrics: {}\n{report}\n--- scrape ---\n{text}",
        out.status
    );
}

/// Series that exist only once nodes have sent each other messages (one engine never
/// does): tests/peers.rs checks that they are exposed after cross-node traffic.
const ONLY_BETWEEN_NODES: &[&str] = &[
    "switchboard_peer_request_seconds_bucket",
    "switchboard_peer_queue_depth",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grafana_dashboard_queries_real_metrics() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/grafana/switchboard.json"
    );
    let raw = std::fs::read_to_string(path).expect("deploy/grafana/switchboard.json");
    let dashboard: Value = serde_json::from_str(&raw).expect("the dashboard is JSON");
    let panels = dashboard["panels"].as_array().expect("panels");
    let exprs: Vec<&str> = panels
        .iter()
        .flat_map(|p| p["targets"].as_array().into_iter().flatten())
        .filter_map(|t| t["expr"].as_str())
        .collect();
    assert!(exprs.len() >= 10, "{} queries", exprs.len());
    let mut used = BTreeSet::new();
    metric_names_in(&dashboard, &mut used);
    assert!(used.len() >= 10, "{used:?}");

    // With a cluster secret, as a cluster's engines run: the node-to-node series exist.
    let app = spawn_app(|s| s.cluster.secret = Some("dashboard-test-cluster-secret".into())).await;
    traffic(&app).await;
    let have = series_names(&scrape(&app).await);
    let missing: Vec<&String> = used
        .iter()
        .filter(|n| !have.contains(*n) && !ONLY_BETWEEN_NODES.contains(&n.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "the dashboard queries metrics /metrics does not expose: {missing:?}\nexposed: {have:?}"
    );
}
