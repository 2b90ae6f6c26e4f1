//! Exactly once across restarts (docs/protocol.md, "Exactly once"): a message, reply or
//! provider webhook resent with the same id after the customer actor passivated, after
//! a graceful restart (SIGTERM), after `kill -9`, or once its ack fell out of the actor's
//! memory, is answered with the original event (`duplicate: true`) and stored once; the
//! same id with other content is refused with `conflict` naming the original event, and
//! stores nothing. Real binaries and sockets, on both store backends.

use crate::channels::{twilio_signed, PUBLIC, TWILIO_TOKEN};
use crate::helpers::*;
use crate::process::{free_port, start, Proc};
use serde_json::{json, Value};

/// The events of `customer` whose `client_msg_id` is `id`, on a running binary.
async fn with_client_id(e: &Proc, token: &str, customer: &str, id: &str) -> Vec<Value> {
    let v = e
        .get(
            token,
            &format!("/api/v1/customers/{customer}/timeline?limit=200"),
        )
        .await;
    v["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["client_msg_id"] == id)
        .cloned()
        .collect()
}

async fn post_inbound(e: &Proc, token: &str, text: &str, id: &str) -> (u16, Value) {
    e.send_json(
        token,
        "POST",
        "/api/v1/inbound",
        json!({"channel": "sms", "address": "+818011112222", "text": text, "client_msg_id": id}),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rest_message_resent_after_kill_minus_nine_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let e = start(dir.path(), port, &[]).await;
    let token = e.login("admin").await;
    let (s, first) = post_inbound(&e, &token, "my parcel is late", "order-77").await;
    assert_eq!(s, 202, "{first}");
    assert_eq!(first["duplicate"], false);
    e.kill9();

    let e = start(dir.path(), port, &[]).await;
    let (s, again) = post_inbound(&e, &token, "my parcel is late", "order-77").await;
    assert_eq!(s, 202, "{again}");
    assert_eq!(again["duplicate"], true, "{again}");
    assert_eq!(again["event_id"], first["event_id"]);
    assert_eq!(again["conversation_id"], first["conversation_id"]);

    // The same id for other content: refused, naming the original event.
    let (s, clash) = post_inbound(&e, &token, "something else", "order-77").await;
    assert_eq!(s, 409, "{clash}");
    assert_eq!(clash["code"], "conflict");
    assert_eq!(clash["event_id"], first["event_id"]);

    let customer = first["customer_id"].as_str().unwrap();
    let stored = with_client_id(&e, &token, customer, "order-77").await;
    assert_eq!(stored.len(), 1, "stored once: {stored:?}");
    assert_eq!(stored[0]["text"], "my parcel is late");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_message_resent_after_a_graceful_restart_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut e = start(dir.path(), port, &[]).await;
    let mut chat = Client::connect(&e.ws_url("/ws/chat")).await;
    let welcome = chat.expect("welcome").await;
    let visitor = welcome["token"].as_str().unwrap().to_owned();
    let customer = welcome["customer_id"].as_str().unwrap().to_owned();
    chat.send(json!({"type": "message", "client_msg_id": "c-1", "text": "hello?"}))
        .await;
    let ack = chat.expect("ack").await;
    assert_eq!(ack["duplicate"], false);

    // SIGTERM: the socket is told to reconnect and the process exits by itself.
    e.sigterm();
    chat.expect("reconnect").await;
    assert!(e.exited().await.success());
    drop(e);

    let e = start(dir.path(), port, &[]).await;
    let mut chat = Client::connect(&e.ws_url(&format!("/ws/chat?token={visitor}"))).await;
    chat.expect("welcome").await;
    // The client resends what it cannot know was stored.
    chat.send(json!({"type": "message", "client_msg_id": "c-1", "text": "hello?"}))
        .await;
    let again = chat.expect("ack").await;
    assert_eq!(again["duplicate"], true, "{again}");
    assert_eq!(again["event_id"], ack["event_id"]);
    // Other content under the same id: `conflict` with the original event.
    chat.send(json!({"type": "message", "client_msg_id": "c-1", "text": "changed"}))
        .await;
    let err = chat.expect("error").await;
    assert_eq!(err["code"], "conflict", "{err}");
    assert_eq!(err["ref"], "c-1");
    assert_eq!(err["event_id"], ack["event_id"]);

    let token = e.login("admin").await;
    let stored = with_client_id(&e, &token, &customer, "c-1").await;
    assert_eq!(stored.len(), 1, "stored once: {stored:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_reply_resent_after_kill_minus_nine_is_sent_once() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let e = start(dir.path(), port, &[]).await;
    let admin = e.login("admin").await;
    let bob = e.agent(&admin, "bob", json!({})).await;
    let mut chat = Client::connect(&e.ws_url("/ws/chat")).await;
    let welcome = chat.expect("welcome").await;
    let customer = welcome["customer_id"].as_str().unwrap().to_owned();
    chat.send(json!({"type": "message", "client_msg_id": "c-1", "text": "help"}))
        .await;
    chat.expect("ack").await;
    let mut agent = Client::connect(&e.ws_url(&format!("/ws/agent?token={bob}"))).await;
    agent.expect("welcome").await;
    agent
        .send(json!({"type": "set_status", "status": "available"}))
        .await;
    let conv = accept_next(&mut agent).await;
    let reply = json!({"type": "message", "conversation_id": conv["id"],
                       "client_msg_id": "r-1", "text": "on it"});
    agent.send(reply.clone()).await;
    let ack = agent.expect("ack").await;
    assert_eq!(ack["duplicate"], false);
    e.kill9();

    let e = start(dir.path(), port, &[]).await;
    let mut agent = Client::connect(&e.ws_url(&format!("/ws/agent?token={bob}"))).await;
    agent.expect("welcome").await;
    agent.send(reply).await;
    let again = agent.expect("ack").await;
    assert_eq!(again["duplicate"], true, "{again}");
    assert_eq!(again["event_id"], ack["event_id"]);
    let stored = with_client_id(&e, &admin, &customer, "r-1").await;
    assert_eq!(stored.len(), 1, "stored once: {stored:?}");
    assert_eq!(stored[0]["type"], "message_out");
}

/// A settings file turning the Twilio SMS connector on (signed as `channels::twilio_sign`
/// signs); replies go nowhere (no test here sends one).
fn twilio_config(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("twilio.toml");
    let toml = format!(
        "[channels]\npublic_url = \"{PUBLIC}\"\n\n[channels.sms]\nenabled = true\n\
         account_sid = \"AC0123456789abcdef\"\nauth_token = \"{TWILIO_TOKEN}\"\n\
         from_number = \"+15005550006\"\napi_base = \"http://127.0.0.1:9\"\n"
    );
    std::fs::write(&path, toml).unwrap();
    path
}

async fn sms_webhook(e: &Proc, sid: &str, body: &str) -> u16 {
    let params = [
        ("MessageSid", sid),
        ("AccountSid", "AC0123456789abcdef"),
        ("From", "+818033334444"),
        ("To", "+15005550006"),
        ("Body", body),
        ("NumMedia", "0"),
    ];
    twilio_signed(&e.http, &e.base, "/webhooks/twilio/sms", &params)
        .await
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_redelivery_across_kill_minus_nine_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = twilio_config(dir.path());
    let config = config.to_str().unwrap();
    let port = free_port();
    let env = [("SWITCHBOARD_CONFIG", config)];
    let e = start(dir.path(), port, &env).await;
    assert_eq!(
        sms_webhook(&e, "SM0000000000000001", "where is it").await,
        200
    );
    e.kill9();

    let e = start(dir.path(), port, &env).await;
    // Twilio did not see the answer (say): it delivers the same message again.
    assert_eq!(
        sms_webhook(&e, "SM0000000000000001", "where is it").await,
        200
    );
    let token = e.login("admin").await;
    let c = e
        .get(
            &token,
            "/api/v1/customers?channel=sms&address=%2B818033334444",
        )
        .await;
    let customer = c["id"].as_str().unwrap();
    let stored = with_client_id(&e, &token, customer, "sms:SM0000000000000001").await;
    assert_eq!(stored.len(), 1, "stored once: {stored:?}");
}

#[actix_rt::test]
async fn a_retry_after_passivation_or_past_the_remembered_acks_is_found_in_the_store() {
    let app = spawn_app(|s| {
        s.timing.customer_idle_ms = 100;
        // One ack in memory: an older id is answered from the store.
        s.limits.remembered_ids_per_customer = 1;
    })
    .await;
    let first = app
        .inbound("sms", "+818055556666", "first", Some("p-1"))
        .await;
    for (n, id) in ["p-2", "p-3"].into_iter().enumerate() {
        app.inbound("sms", "+818055556666", &format!("next {n}"), Some(id))
            .await;
    }
    // Live actor, ack forgotten in memory.
    let again = app
        .inbound("sms", "+818055556666", "first", Some("p-1"))
        .await;
    assert_eq!(again["duplicate"], true, "{again}");
    assert_eq!(again["event_id"], first["event_id"]);

    // The actor passivates (no socket, idle); the retry activates a fresh one.
    let engine = app.engine.as_ref().unwrap();
    let deadline = std::time::Instant::now() + WAIT;
    while engine.live_customers() > 0 {
        assert!(std::time::Instant::now() < deadline, "never passivated");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await; // poll interval
    }
    let after = app
        .inbound("sms", "+818055556666", "next 0", Some("p-2"))
        .await;
    assert_eq!(after["duplicate"], true, "{after}");
    let customer = first["customer_id"].as_str().unwrap();
    let texts: Vec<_> = app
        .timeline(customer)
        .await
        .into_iter()
        .filter(|e| e["type"] == "message_in")
        .map(|e| e["text"].clone())
        .collect();
    assert_eq!(texts, ["first", "next 0", "next 1"]);
}

#[actix_rt::test]
async fn an_id_over_the_limit_is_invalid_and_stores_nothing() {
    let app = spawn_app(|_| {}).await;
    let long = "x".repeat(129);
    let (s, v) = app
        .post(
            "/api/v1/inbound",
            json!({"channel": "sms", "address": "+818077778888", "text": "hi",
                   "client_msg_id": long}),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["code"], "invalid");
    let (s, _) = app
        .get("/api/v1/customers?channel=sms&address=%2B818077778888")
        .await;
    assert_eq!(s, 404, "no customer was created");

    let (mut chat, _) = Client::visitor(&app).await;
    chat.send(json!({"type": "message", "client_msg_id": long, "text": "hi"}))
        .await;
    let err = chat.expect("error").await;
    assert_eq!(err["code"], "invalid", "{err}");
    // At the limit it is taken.
    chat.send(json!({"type": "message", "client_msg_id": "y".repeat(128), "text": "hi"}))
        .await;
    assert_eq!(chat.expect("ack").await["duplicate"], false);
}

/// A provider that reads each request and never answers: calls to it stay in flight
/// until the engine dies. Keeps every request's raw text.
struct BlackHole {
    base: String,
    got: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl BlackHole {
    async fn start() -> BlackHole {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = got.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let sink = sink.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let mut recorded = false;
                    // Read until the peer goes away; record the request once whole.
                    while let Ok(n) = sock.read(&mut chunk).await {
                        if n == 0 {
                            break;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        let text = String::from_utf8_lossy(&buf).to_string();
                        if !recorded && request_complete(&text) {
                            recorded = true;
                            sink.lock().unwrap().push(text);
                        }
                    }
                });
            }
        });
        BlackHole { base, got }
    }

    /// Waits (bounded) until `n` requests have arrived; returns them.
    async fn wait_for(&self, n: usize) -> Vec<String> {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let got = self.got.lock().unwrap().clone();
            if got.len() >= n {
                return got;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "black hole got {} of {n} requests",
                got.len()
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await; // poll interval
        }
    }
}

/// Headers ended and `Content-Length` bytes of body arrived.
fn request_complete(text: &str) -> bool {
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    body.len() >= len
}

/// The value of header `name` in a raw request.
fn raw_header<'a>(request: &'a str, name: &str) -> Option<&'a str> {
    request.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

/// Settings with the SMS and LINE connectors calling `api_base` and waiting a long time
/// for an answer.
fn providers_config(dir: &std::path::Path, name: &str, api_base: &str) -> String {
    let path = dir.join(name);
    let toml = format!(
        "[channels]\npublic_url = \"{PUBLIC}\"\noutbound_timeout_ms = 600000\n\n\
         [channels.sms]\nenabled = true\naccount_sid = \"AC0123456789abcdef\"\n\
         auth_token = \"{TWILIO_TOKEN}\"\nfrom_number = \"+15005550006\"\napi_base = \"{api_base}\"\n\n\
         [channels.line]\nenabled = true\nchannel_secret = \"line-secret\"\n\
         channel_access_token = \"line-token\"\napi_base = \"{api_base}\"\n"
    );
    std::fs::write(&path, toml).unwrap();
    path.to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_minus_nine_during_provider_calls_never_sends_a_reply_twice() {
    let dir = tempfile::tempdir().unwrap();
    let hole = BlackHole::start().await;
    let port = free_port();
    let hanging = providers_config(dir.path(), "hanging.toml", &hole.base);
    let e = start(dir.path(), port, &[("SWITCHBOARD_CONFIG", &hanging)]).await;
    let admin = e.login("admin").await;
    let capacity = json!({"voice": 1, "chat": 3, "email": 3, "messaging": 3});
    let bob = e
        .agent(&admin, "bob", json!({ "capacity": capacity }))
        .await;
    let user = "U6cf6980629cccccccccccccccccccccc";
    for (channel, address) in [("sms", "+818099990000"), ("line", user)] {
        let (s, v) = e
            .send_json(
                &admin,
                "POST",
                "/api/v1/inbound",
                json!({"channel": channel, "address": address, "text": "hello"}),
            )
            .await;
        assert_eq!(s, 202, "{v}");
    }
    let mut agent = Client::connect(&e.ws_url(&format!("/ws/agent?token={bob}"))).await;
    agent.expect("welcome").await;
    agent
        .send(json!({"type": "set_status", "status": "available"}))
        .await;
    for n in 0..2 {
        let conv = accept_next(&mut agent).await;
        let reply = json!({"type": "message", "conversation_id": conv["id"],
                           "client_msg_id": format!("r-{n}"), "text": "on it"});
        agent.send(reply).await;
        agent.expect("ack").await;
    }
    // Both calls reached the provider and wait for its answer.
    let calls = hole.wait_for(2).await;
    let push = calls
        .iter()
        .find(|r| r.starts_with("POST /v2/bot/message/push"))
        .expect("a LINE push (no reply token through the REST door)");
    let key = raw_header(push, "x-line-retry-key").unwrap().to_owned();
    assert!(calls.iter().any(|r| r.contains("/Messages.json")));
    e.kill9();

    // The next run talks to a provider that answers.
    let rec = crate::recorder::Recorder::start().await;
    let working = providers_config(dir.path(), "working.toml", &rec.base);
    let e = start(dir.path(), port, &[("SWITCHBOARD_CONFIG", &working)]).await;
    // LINE dedupes by key: the push is made again, under the same key.
    let again = rec.wait_for("/v2/bot/message/push", 1).await;
    assert_eq!(again[0].header("x-line-retry-key"), Some(key.as_str()));
    // Twilio has no key: the SMS reply is not resent; it is reported `unknown`.
    let c = e
        .get(
            &admin,
            "/api/v1/customers?channel=sms&address=%2B818099990000",
        )
        .await;
    let path = format!(
        "/api/v1/customers/{}/timeline?limit=200",
        c["id"].as_str().unwrap()
    );
    let deadline = std::time::Instant::now() + WAIT;
    let status = loop {
        let t = e.get(&admin, &path).await;
        let found = t["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["type"] == "message_status")
            .cloned();
        if let Some(s) = found {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no status for the SMS reply"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await; // poll interval
    };
    assert_eq!(status["status"], "unknown", "{status}");
    assert!(
        rec.all().iter().all(|r| !r.path.contains("/Messages.json")),
        "the SMS reply was not sent again"
    );
}
