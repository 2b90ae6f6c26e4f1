//! The knowledge base in spread placement (docs/cluster.md, "Process-local state"):
//! every node serves search from its own index, so an article created, changed or
//! deleted through one node must be found as it now is through the others. Two engine
//! processes on one Cassandra keyspace; each change is made on one node and awaited
//! (bounded) in the other's search.

use crate::helpers::*;
use crate::process::{free_port, spawn, Proc};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Instant;

fn start(dir: &std::path::Path, name: &str) -> Proc {
    spawn(
        dir,
        free_port(),
        &[
            ("SWITCHBOARD_NODE_NAME", name),
            ("SWITCHBOARD_PLACEMENT", "spread"),
            ("SWITCHBOARD_SHARDS", "4"),
            ("SWITCHBOARD_CLUSTER_SECRET", "spread-kb-test-secret"),
        ],
    )
}

async fn call(n: &Proc, m: Method, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let mut r = n
        .http
        .request(m, format!("{}{}", n.base, path))
        .bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.expect("the node answers");
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

/// The titles `n`'s search finds for `query`.
async fn titles(n: &Proc, token: &str, query: &str) -> Vec<String> {
    let q = serde_urlencoded::to_string([("q", query)]).unwrap();
    let (s, v) = call(
        n,
        Method::GET,
        &format!("/api/v1/kb/search?{q}"),
        token,
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    v["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| h["title"].as_str().expect("title").to_owned())
        .collect()
}

/// Waits (bounded) until `n`'s search for `query` finds exactly `want`.
async fn until_found(n: &Proc, token: &str, query: &str, want: &[&str]) {
    let give_up = Instant::now() + WAIT;
    loop {
        let found = titles(n, token, query).await;
        if found == want {
            return;
        }
        assert!(
            Instant::now() < give_up,
            "{} finds {found:?} for {query:?}, not {want:?}",
            n.base
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await; // poll interval
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_article_changed_on_one_node_is_found_as_it_is_on_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let a = start(dir.path(), "node-a");
    a.ready().await;
    let b = start(dir.path(), "node-b");
    b.ready().await;
    let token = a.login("admin").await;
    assert!(titles(&b, &token, "refund").await.is_empty());

    // Created on a: found on b.
    let (s, article) = call(
        &a,
        Method::POST,
        "/api/v1/kb/articles",
        &token,
        Some(json!({"title": "Returns", "body": "Return within 30 days.", "language": "en"})),
    )
    .await;
    assert_eq!(s, 201, "{article}");
    until_found(&b, &token, "return", &["Returns"]).await;
    let path = format!("/api/v1/kb/articles/{}", article["id"].as_str().unwrap());

    // Changed on b: a finds the new version and no longer the old one.
    let (s, v) = call(
        &b,
        Method::PUT,
        &path,
        &token,
        Some(
            json!({"title": "Refunds", "body": "A refund within 30 days of the return.",
                    "language": "en", "version": 1}),
        ),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    until_found(&a, &token, "refund", &["Refunds"]).await;
    until_found(&a, &token, "return", &["Refunds"]).await;

    // Deleted on a: gone from b.
    let (s, v) = call(&a, Method::DELETE, &path, &token, None).await;
    assert_eq!(s, 204, "{v}");
    until_found(&b, &token, "refund", &[]).await;
}
