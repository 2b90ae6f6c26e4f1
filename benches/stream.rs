//! Benchmark of the outbound event stream's delivery (docs/event-stream.md): how many
//! events a second one subscriber receives, with `stream.lanes` 1 and 4, from a
//! receiver that answers at once and from one that takes 5 ms per request (a CRM's
//! API behind it). Side by side in one run.
//!
//! Each case runs the real release binary on the embedded store in a fresh data dir:
//! a paused subscriber (`active: false`) is registered, `EVENTS` inbound messages are
//! written over REST (100 customers, 16 requests in flight: each is one
//! `message.received`, plus one `conversation.opened` per customer), then the
//! subscriber is switched on and the time until the receiver (an actix-web server on
//! its own thread, counting requests) holds them all is measured: reading the journal,
//! reading each event, signing and POSTing it, storing the cursor. The ingest is not
//! timed. On a 2-core machine the engine, the receiver and this driver share the cores.
//!
//! It measures only; behaviour is tested by `tests/api/stream.rs`.
//!
//! Run: `cargo bench --bench stream`.

use actix_web::{web, App, HttpResponse, HttpServer};
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const EVENTS: usize = 4_000;
const CUSTOMERS: usize = 100;
const PASSWORD: &str = "bench-admin-password";

/// A receiver counting requests, answering after `delay`.
fn receiver(delay: Duration) -> (u16, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let c = web::Data::new(c);
            let server = HttpServer::new(move || {
                App::new().app_data(c.clone()).default_service(web::to(
                    move |c: web::Data<Arc<AtomicUsize>>, _body: web::Bytes| async move {
                        if !delay.is_zero() {
                            actix_rt::time::sleep(delay).await;
                        }
                        c.fetch_add(1, Ordering::SeqCst);
                        HttpResponse::Ok().finish()
                    },
                ))
            })
            .workers(1)
            .bind("127.0.0.1:0")
            .unwrap();
            tx.send(server.addrs()[0].port()).unwrap();
            server.run().await.ok();
        });
    });
    (rx.recv().unwrap(), count)
}

struct Engine {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
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

async fn engine(lanes: usize, http: &reqwest::Client) -> Engine {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bench.toml");
    std::fs::write(
        &config,
        format!(
            "[stream]\nallow_http = true\nallow_private_addresses = true\nlanes = {lanes}\n\
             poll_ms = 50\n\n[anonymous]\nconversations_per_window = 1000000\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["--listen", &format!("127.0.0.1:{port}"), "--workers", "2"])
        .args(["--data-dir", &dir.path().display().to_string()])
        .env("SWITCHBOARD_ADMIN_PASSWORD", PASSWORD)
        .env("SWITCHBOARD_CONFIG", &config)
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the release binary starts");
    let base = format!("http://127.0.0.1:{port}");
    let give_up = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await {
            if r.status() == 200 {
                break;
            }
        }
        assert!(Instant::now() < give_up, "engine not ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Engine {
        child,
        base,
        _dir: dir,
    }
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Value,
) -> Value {
    let r = http
        .request(method, url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("the engine answers");
    assert!(r.status().is_success(), "{}", r.status());
    r.json().await.unwrap_or(Value::Null)
}

/// One case: answers events per second delivered.
async fn case(lanes: usize, delay: Duration) -> f64 {
    let http = reqwest::Client::new();
    let e = engine(lanes, &http).await;
    let login: Value = http
        .post(format!("{}/api/v1/login", e.base))
        .json(&json!({"agent_id": "admin", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap().to_owned();
    let (port, count) = receiver(delay);
    let sub = call(
        &http,
        reqwest::Method::POST,
        format!("{}/api/v1/stream/subscribers", e.base),
        &token,
        json!({"name": "bench", "url": format!("http://127.0.0.1:{port}/in"),
               "types": ["message.received"], "active": false}),
    )
    .await;
    let id = sub["id"].as_str().unwrap().to_owned();
    // The ingest, not timed: 16 requests in flight.
    let next = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for _ in 0..16 {
        let (http, base, token, next) = (http.clone(), e.base.clone(), token.clone(), next.clone());
        writers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= EVENTS {
                    return;
                }
                let body = json!({"channel": "sms", "address": format!("+8180{:08}", i % CUSTOMERS),
                                  "text": format!("message {i}")});
                call(
                    &http,
                    reqwest::Method::POST,
                    format!("{base}/api/v1/inbound"),
                    &token,
                    body,
                )
                .await;
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    let started = Instant::now();
    call(
        &http,
        reqwest::Method::PATCH,
        format!("{}/api/v1/stream/subscribers/{id}", e.base),
        &token,
        json!({"version": 1, "active": true}),
    )
    .await;
    let give_up = started + Duration::from_secs(600);
    while count.load(Ordering::SeqCst) < EVENTS {
        assert!(
            Instant::now() < give_up,
            "only {} delivered",
            count.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    EVENTS as f64 / started.elapsed().as_secs_f64()
}

/// The baseline: `EVENTS` plain POSTs of a body this size, `lanes` in flight.
async fn baseline(lanes: usize, delay: Duration) -> f64 {
    let (port, count) = receiver(delay);
    let http = reqwest::Client::new();
    let body = vec![b'x'; 600];
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut senders = Vec::new();
    for _ in 0..lanes {
        let (http, next, body) = (http.clone(), next.clone(), body.clone());
        senders.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::SeqCst) < EVENTS {
                let r = http
                    .post(format!("http://127.0.0.1:{port}/in"))
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_success());
            }
        }));
    }
    for s in senders {
        s.await.unwrap();
    }
    assert_eq!(count.load(Ordering::SeqCst), EVENTS);
    EVENTS as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    println!("outbound event stream: {EVENTS} message.received events to one subscriber");
    println!(
        "{:<20} {:<22} {:>6} {:>10}",
        "receiver", "sender", "lanes", "events/s"
    );
    for (what, delay) in [
        ("answers at once", Duration::ZERO),
        ("answers after 5 ms", Duration::from_millis(5)),
    ] {
        for lanes in [1, 4] {
            let rate = baseline(lanes, delay).await;
            let who = "bare POSTs (baseline)";
            println!("{what:<20} {who:<22} {lanes:>6} {rate:>10.0}");
            let rate = case(lanes, delay).await;
            let who = "engine stream";
            println!("{what:<20} {who:<22} {lanes:>6} {rate:>10.0}");
        }
    }
}
