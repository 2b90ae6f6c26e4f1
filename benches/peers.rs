//! Benchmark of the cross-node hop (`switchboard::peers`, docs/cluster.md): what it
//! costs an actor's message to reach a key owned by another node instead of this one.
//! Two nodes in this process, each with its ownership loop, `Peers` and HTTP server
//! (one worker) on a real loopback socket; node A sends `echo` messages with a small
//! JSON body (about what an actor message carries) for keys it owns (handled here, no
//! wire) and for keys node B owns (an envelope over HTTP, batched), from 1, 16 and 128
//! concurrent senders. The baseline is the same HTTP stack without the layer: one plain
//! POST per message to a trivial echo route on B, from the same number of senders over
//! the same kind of keep-alive client. Side by side in one run.
//!
//! It measures only; behaviour is tested by `tests/peers.rs`. Senders and node A share
//! one thread; B's server has its own. On a 2-core machine the figures are bounded by
//! CPU, not the network.
//!
//! Run: `cargo bench --bench peers`.

use actix_web::{web, App, HttpResponse, HttpServer};
use serde_json::{json, Value};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard::peers::PeerConfig;
use switchboard::store::coordination::{Coordination, LocalCoordination};

#[path = "../tests/support/peer_nodes.rs"]
#[allow(dead_code)]
mod peer_nodes;
use peer_nodes::*;

const MESSAGES: usize = 20_000;

fn body(i: usize) -> Value {
    json!({"conversation_id": "0193a1a2-7c5e-7d61-9b61-3f2f6d1d2a10", "seq": i,
           "text": "配送状況を教えてください", "agent": "a-0042"})
}

struct Row {
    what: String,
    senders: usize,
    rate: f64,
    p50: f64,
    p99: f64,
    p999: f64,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// Runs `MESSAGES` calls of `one` from `senders` concurrent tasks on this thread.
async fn run<F, Fut>(what: &str, senders: usize, one: F) -> Row
where
    F: Fn(usize) -> Fut + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let one = Rc::new(one);
    let per = MESSAGES / senders;
    let started = Instant::now();
    let tasks: Vec<_> = (0..senders)
        .map(|s| {
            let one = one.clone();
            actix_rt::spawn(async move {
                let mut lat = Vec::with_capacity(per);
                for i in 0..per {
                    let t = Instant::now();
                    one(s * per + i).await;
                    lat.push(t.elapsed().as_secs_f64() * 1e3);
                }
                lat
            })
        })
        .collect();
    let mut all = Vec::with_capacity(MESSAGES);
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let secs = started.elapsed().as_secs_f64();
    all.sort_by(|a, b| a.partial_cmp(b).unwrap());
    Row {
        what: what.into(),
        senders,
        rate: all.len() as f64 / secs,
        p50: percentile(&all, 0.5),
        p99: percentile(&all, 0.99),
        p999: percentile(&all, 0.999),
    }
}

fn main() {
    actix_rt::System::new().block_on(async {
        let coord: Arc<dyn Coordination> = Arc::new(LocalCoordination::default());
        let config = PeerConfig::default();
        let a = node(&coord, "a", config).await;
        let b = node(&coord, "b", config).await;
        let owners = settled(&[&a, &b]).await;
        let mine: Vec<String> = owners
            .iter()
            .filter(|(_, o)| *o == "a")
            .map(|(k, _)| k.clone())
            .collect();
        let theirs: Vec<String> = owners
            .iter()
            .filter(|(_, o)| *o == "b")
            .map(|(k, _)| k.clone())
            .collect();
        assert!(!mine.is_empty() && !theirs.is_empty(), "{owners:?}");

        // The baseline: a plain echo route on its own server (one worker, as B's).
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let plain = format!("http://{}/echo", listener.local_addr().unwrap());
        let server = HttpServer::new(|| {
            App::new().route(
                "/echo",
                web::post().to(|b: web::Json<Value>| async move { HttpResponse::Ok().json(b.0) }),
            )
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        actix_rt::spawn(server);
        let client = reqwest::Client::builder().tcp_nodelay(true).build().unwrap();

        let mut rows = Vec::new();
        for senders in [1, 16, 128] {
            let (peers, keys) = (a.peers.clone(), Rc::new(mine.clone()));
            rows.push(
                run("local (key owned here)", senders, move |i| {
                    let (peers, keys) = (peers.clone(), keys.clone());
                    async move {
                        let key = &keys[i % keys.len()];
                        peers
                            .send(key, "echo", body(i), Duration::from_secs(10))
                            .await
                            .unwrap();
                    }
                })
                .await,
            );
            let (peers, keys) = (a.peers.clone(), Rc::new(theirs.clone()));
            rows.push(
                run("cross-node hop (HTTP, batched)", senders, move |i| {
                    let (peers, keys) = (peers.clone(), keys.clone());
                    async move {
                        let key = &keys[i % keys.len()];
                        peers
                            .send(key, "echo", body(i), Duration::from_secs(10))
                            .await
                            .unwrap();
                    }
                })
                .await,
            );
            let (client, url) = (client.clone(), plain.clone());
            rows.push(
                run("baseline: one HTTP POST per message", senders, move |i| {
                    let (client, url) = (client.clone(), url.clone());
                    async move {
                        let r = client.post(&url).json(&body(i)).send().await.unwrap();
                        assert!(r.status().is_success());
                        r.bytes().await.unwrap();
                    }
                })
                .await,
            );
        }
        println!(
            "{MESSAGES} messages per row; node A and the senders on one thread, each server one worker\n"
        );
        println!(
            "| path | senders | msg/s | p50 ms | p99 ms | p99.9 ms |\n|---|---:|---:|---:|---:|---:|"
        );
        for r in rows {
            println!(
                "| {} | {} | {:.0} | {:.3} | {:.3} | {:.3} |",
                r.what, r.senders, r.rate, r.p50, r.p99, r.p999
            );
        }
    });
}
