//! The knowledge base in spread placement (docs/cluster.md, "Process-local state"):
//! every node serves search from its own index, so an article created, changed or
//! deleted through one node must be found as it now is through the others. Two engine
//! processes on one Cassandra keyspace; each change is made on one node and awaited
//! (bounded) in the other's search. A change no node announced (written to the store
//! with plain CQL, as when its writer died between commit and message) is found by
//! both at their next resync.

use crate::helpers::*;
use crate::process::{free_port, Proc};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Instant;

pub(crate) fn start(dir: &std::path::Path, name: &str) -> Proc {
    crate::spread::start_with(dir, free_port(), name, &[])
}

/// One REST call to `n` with `token`: the status and the JSON body (null if none).
pub(crate) async fn call(
    n: &Proc,
    m: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
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
    // a tells the members it has seen: wait until it has seen b (it hands b keys).
    crate::spread::shared_by(&a, &token, 2).await;
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

/// Counter `name` (no labels) in `n`'s `/metrics`; 0 when not yet written.
async fn counter(n: &Proc, name: &str) -> u64 {
    metrics_text(&n.http, &n.base)
        .await
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .map_or(0, |v| v.trim().parse::<f64>().expect("a number") as u64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_article_changed_behind_every_nodes_back_is_found_at_the_next_resync() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = crate::spread::two_with_config(dir.path(), "[kb]\nresync_ms = 200\n").await;
    let token = a.login("admin").await;
    assert!(titles(&a, &token, "warranty").await.is_empty());

    // Written to the store with plain CQL: no node indexed it, nobody was told.
    let session = scylla::client::session_builder::SessionBuilder::new()
        .known_nodes(cql_contact_points())
        .build()
        .await
        .expect("a CQL session");
    let keyspace = cql_keyspace(dir.path());
    let id = "0193a1e0-0000-7000-8000-00000000beef";
    let article = json!({"id": id, "title": "Warranty", "body": "Two years of warranty.",
        "tags": [], "language": "en", "channels": [], "version": 1,
        "updated_at": 1, "updated_by": "admin"});
    session
        .query_unpaged(
            format!("INSERT INTO {keyspace}.records (kind, key, value) VALUES (?, ?, ?)"),
            ("kb_article", id, serde_json::to_vec(&article).unwrap()),
        )
        .await
        .expect("write the article");
    until_found(&a, &token, "warranty", &["Warranty"]).await;
    until_found(&b, &token, "warranty", &["Warranty"]).await;

    session
        .query_unpaged(
            format!("DELETE FROM {keyspace}.records WHERE kind = ? AND key = ?"),
            ("kb_article", id),
        )
        .await
        .expect("delete the article");
    until_found(&a, &token, "warranty", &[]).await;
    until_found(&b, &token, "warranty", &[]).await;
    // Each node caught up twice (the new article, then its removal), and only then
    // (the counter is written just after the index; polled, bounded).
    for n in [&a, &b] {
        let give_up = Instant::now() + WAIT;
        let fixes = loop {
            let fixes = counter(n, "switchboard_kb_resync_fixes_total").await;
            if fixes >= 2 || Instant::now() > give_up {
                break fixes;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await; // poll interval
        };
        assert_eq!(fixes, 2, "{}", n.base);
    }
}
