//! The outbound event stream (docs/event-stream.md) over real sockets: a subscriber is
//! a local recording server (the receiver's side, `recorder.rs`) that the engine's
//! real HTTP client POSTs to. Checked: what staff may register (every bad field named,
//! nothing stored, the secret shown once and never audited), that each event arrives
//! signed with the subscriber's secret, once, in order per conversation, and only of
//! the types asked for; dead letters, their redelivery and a replay; and a receiver
//! that is down while the engine is killed with SIGKILL and started again, then comes
//! up, gets every event the store's timelines say happened.

use crate::helpers::*;
use crate::process::{free_port, start};
use crate::recorder::{Recorded, Recorder};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::{BTreeMap, BTreeSet};
use switchboard::config::Settings;

/// A receiver on this machine, fast retries.
pub(crate) fn local_receiver(s: &mut Settings) {
    s.stream.allow_http = true;
    s.stream.allow_private_addresses = true;
    s.stream.poll_ms = 50;
    s.stream.retry_first_ms = 50;
    s.stream.retry_max_ms = 200;
}

/// Checks a delivery's signature with `secret` as a receiver would; answers the body.
pub(crate) fn verified(r: &Recorded, secret: &str) -> Value {
    let ts = r.header("switchboard-timestamp").expect("timestamp header");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{ts}.").as_bytes());
    mac.update(&r.body);
    let want: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        r.header("switchboard-signature"),
        Some(format!("v1={want}").as_str()),
        "signed with the subscriber's secret"
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    let body = r.json();
    assert_eq!(r.header("switchboard-event-id"), body["id"].as_str());
    assert_eq!(r.header("switchboard-event-type"), body["type"].as_str());
    body
}

/// The stream types a customer's stored timeline says were published, oldest first:
/// `(event id, type)`, read through the timeline API and the domain's own mapping.
pub(crate) async fn streamed_in_store(
    get: impl std::future::Future<Output = Value>,
    types: &[&str],
) -> Vec<(String, String)> {
    let v = get.await;
    let mut events: Vec<Value> = v["events"].as_array().unwrap().clone();
    events.reverse();
    events
        .into_iter()
        .filter_map(|e| {
            let parsed: switchboard::domain::TimelineEvent =
                serde_json::from_value(e.clone()).expect("a timeline event");
            let t = parsed.kind.stream_type()?;
            (types.contains(&"*") || types.contains(&t))
                .then(|| (parsed.id.to_string(), t.to_owned()))
        })
        .collect()
}

#[actix_rt::test]
async fn subscribers_are_checked_field_by_field_and_the_secret_is_shown_once() {
    let app = spawn_app(|_| {}).await;
    // Every bad field at once; nothing stored.
    let (s, v) = app
        .post(
            "/api/v1/stream/subscribers",
            json!({"name": "", "url": "http://127.0.0.1:9/in", "types": ["nope"]}),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["code"], "invalid");
    let fields = v["fields"].as_object().expect("field errors");
    assert_eq!(
        fields.keys().collect::<Vec<_>>(),
        ["name", "types", "url"],
        "{v}"
    );
    for (url, why) in [
        ("https://169.254.169.254/latest/meta-data/", "non-public"),
        ("https://10.1.2.3/in", "non-public"),
        ("https://localhost/in", "non-public"),
        ("https://[::1]/in", "non-public"),
        ("http://crm.example.com/in", "https"),
        ("https://user:pw@crm.example.com/in", "password"),
    ] {
        let (s, v) = app
            .post(
                "/api/v1/stream/subscribers",
                json!({"name": "x", "url": url, "types": ["*"]}),
            )
            .await;
        assert_eq!(s, 400, "{url}: {v}");
        assert!(
            v["fields"]["url"].as_str().unwrap().contains(why),
            "{url}: {v}"
        );
    }
    let (s, v) = app
        .post(
            "/api/v1/stream/subscribers",
            json!({"name": "x", "url": "https://crm.example.com/in", "types": ["*"], "colour": 1}),
        )
        .await;
    assert_eq!(s, 400, "unknown fields are refused: {v}");
    let (_, list) = app.get("/api/v1/stream/subscribers").await;
    assert_eq!(list["subscribers"], json!([]), "nothing stored");

    // A good one: the secret once.
    let (s, made) = app
        .post(
            "/api/v1/stream/subscribers",
            json!({"name": "CRM", "url": "https://crm.example.com/hooks", "types": ["conversation.resolved", "note.added"]}),
        )
        .await;
    assert_eq!(s, 201, "{made}");
    let secret = made["secret"].as_str().unwrap().to_owned();
    assert!(
        secret.starts_with("whsec_") && secret.len() == 70,
        "{secret}"
    );
    let id = made["id"].as_str().unwrap().to_owned();
    let (_, list) = app.get("/api/v1/stream/subscribers").await;
    let listed = &list["subscribers"][0];
    assert_eq!(listed["id"], id.as_str());
    assert!(listed.get("secret").is_none(), "{listed}");
    assert_eq!(
        listed["secret_hint"],
        format!("…{}", &secret[secret.len() - 4..])
    );

    // A change names the version it replaces; a bad one changes nothing.
    let path = format!("/api/v1/stream/subscribers/{id}");
    let patch = |body: Value| {
        let req = app
            .http
            .patch(format!("{}{path}", app.base))
            .bearer_auth(&app.admin)
            .json(&body);
        async move {
            let r = req.send().await.unwrap();
            let s = r.status().as_u16();
            (s, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (s, v) = patch(json!({"version": 7, "name": "CRM 2"})).await;
    assert_eq!((s, v["code"].as_str()), (409, Some("conflict")), "{v}");
    let (s, v) = patch(json!({"version": 1, "url": "https://127.0.0.1/x", "types": []})).await;
    assert_eq!(s, 400, "{v}");
    assert!(v["fields"]["url"].is_string() && v["fields"]["types"].is_string());
    let (_, now) = app.get(&path).await;
    assert_eq!(
        (now["version"].as_u64(), now["url"].as_str()),
        (Some(1), Some("https://crm.example.com/hooks"))
    );
    let (s, v) = patch(json!({"version": 1, "active": false})).await;
    assert_eq!(
        (s, v["version"].as_u64(), v["active"].as_bool()),
        (200, Some(2), Some(false))
    );

    // Staff who are not admins may not see or change it.
    let agent = app.agent("ann", &[], json!({})).await;
    for (m, p) in [
        ("GET", "/api/v1/stream/subscribers"),
        ("POST", "/api/v1/stream/subscribers"),
    ] {
        let req = match m {
            "GET" => app.http.get(format!("{}{p}", app.base)),
            _ => app.http.post(format!("{}{p}", app.base)).json(&json!({})),
        };
        let r = req.bearer_auth(&agent).send().await.unwrap();
        assert_eq!(r.status(), 403, "{m} {p}");
    }

    // A new secret: shown once, the old one gone.
    let (s, rotated) = app.post(&format!("{path}/secret"), json!({})).await;
    assert_eq!(s, 200, "{rotated}");
    let new_secret = rotated["secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);

    // The audit log has each change, before and after, and neither secret.
    let (_, log) = app.get("/api/v1/audit?limit=50").await;
    let text = log.to_string();
    assert!(text.contains("POST /api/v1/stream/subscribers"), "{text}");
    assert!(
        !text.contains(&secret) && !text.contains(new_secret),
        "no secret in the log"
    );
    let created = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "POST /api/v1/stream/subscribers" && e["detail"]["status"] == 201)
        .expect("the creation is audited");
    assert_eq!(
        created["detail"]["change"]["after"]["url"],
        "https://crm.example.com/hooks"
    );

    let r = app
        .http
        .delete(format!("{}{path}", app.base))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(app.get(&path).await.0, 404);
}

#[actix_rt::test]
async fn events_arrive_signed_once_in_order_per_conversation_and_only_as_asked() {
    let rec = Recorder::start().await;
    let app = spawn_app(local_receiver).await;
    let wanted = ["conversation.opened", "message.received"];
    let (s, all) = app
        .post(
            "/api/v1/stream/subscribers",
            json!({"name": "Warehouse", "url": format!("{}/hooks/all", rec.base), "types": ["*"]}),
        )
        .await;
    assert_eq!(s, 201, "{all}");
    let (s, some) = app
        .post(
            "/api/v1/stream/subscribers",
            json!({"name": "CRM", "url": format!("{}/hooks/crm", rec.base), "types": wanted}),
        )
        .await;
    assert_eq!(s, 201, "{some}");

    // Two customers writing in turns: two conversations, interleaved.
    let mut customers = Vec::new();
    for i in 0..3 {
        for phone in ["+818011110001", "+818011110002"] {
            let v = app
                .inbound("sms", phone, &format!("{phone} says {i}"), None)
                .await;
            if i == 0 {
                customers.push(v["customer_id"].as_str().unwrap().to_owned());
            }
        }
    }
    let mut expected_all = BTreeMap::new();
    let mut expected_some = BTreeMap::new();
    for c in &customers {
        let path = format!("/api/v1/customers/{c}/timeline?limit=200");
        expected_all.insert(
            c.clone(),
            streamed_in_store(async { app.get(&path).await.1 }, &["*"]).await,
        );
        expected_some.insert(
            c.clone(),
            streamed_in_store(async { app.get(&path).await.1 }, &wanted).await,
        );
    }
    let n_some: usize = expected_some.values().map(Vec::len).sum();
    assert_eq!(
        n_some, 8,
        "one opening and three messages each: {expected_some:?}"
    );
    let n_all: usize = expected_all.values().map(Vec::len).sum();

    for (path, secret, expected, n) in [
        (
            "/hooks/crm",
            some["secret"].as_str().unwrap(),
            &expected_some,
            n_some,
        ),
        (
            "/hooks/all",
            all["secret"].as_str().unwrap(),
            &expected_all,
            n_all,
        ),
    ] {
        let got = rec.wait_for(path, n).await;
        let mut by_customer: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for r in &got {
            let body = verified(r, secret);
            by_customer
                .entry(body["customer_id"].as_str().unwrap().to_owned())
                .or_default()
                .push((
                    body["id"].as_str().unwrap().to_owned(),
                    body["type"].as_str().unwrap().to_owned(),
                ));
            assert_eq!(body["data"]["id"], body["id"], "the event itself: {body}");
        }
        assert_eq!(
            &by_customer, expected,
            "{path}: each event once, in timeline order"
        );
    }
    // Nothing more comes (a round after the last delivery sends nothing again).
    app.get_until(
        &format!(
            "/api/v1/stream/subscribers/{}",
            some["id"].as_str().unwrap()
        ),
        "every delivery counted",
        |v| v["progress"]["delivered"] == n_some,
    )
    .await;
    app.inbound("sms", "+818011110001", "one more", None).await;
    let got = rec.wait_for("/hooks/crm", n_some + 1).await;
    assert_eq!(got.len(), n_some + 1, "exactly one more");
    assert_eq!(got.last().unwrap().json()["data"]["text"], "one more");
}

#[actix_rt::test]
async fn a_dead_letter_is_kept_redelivered_by_hand_and_a_replay_sends_again() {
    let rec = Recorder::start().await;
    let closed = free_port();
    let app = spawn_app(|s| {
        local_receiver(s);
        s.stream.dead_after_ms = 300;
    })
    .await;
    let t0 = app.engine.as_ref().unwrap().now().0;
    let (s, sub) = app
        .post(
            "/api/v1/stream/subscribers",
            json!({"name": "Tickets", "url": format!("http://127.0.0.1:{closed}/in"), "types": ["message.received"]}),
        )
        .await;
    assert_eq!(s, 201, "{sub}");
    let id = sub["id"].as_str().unwrap();
    let path = format!("/api/v1/stream/subscribers/{id}");
    let first = app.inbound("sms", "+818022220001", "first", None).await;

    // Nobody listens: retried, then dead.
    let dead = app
        .get_until(&format!("{path}/dead-letters"), "a dead letter", |v| {
            v["dead_letters"].as_array().is_some_and(|d| d.len() == 1)
        })
        .await;
    let letter = &dead["dead_letters"][0];
    assert_eq!(letter["event_id"], first["event_id"]);
    assert_eq!(letter["type"], "message.received");
    assert!(letter["attempts"].as_u64().unwrap() >= 2, "{letter}");
    assert!(
        letter["last_error"].as_str().unwrap().contains("connect"),
        "{letter}"
    );
    // The dead letter is stored as it is set aside; the round's tally (`dead`) is saved
    // with the cursor when the round ends, a moment later.
    let status = app
        .get_until(&path, "the dead letter counted", |v| {
            v["progress"]["dead"] == 1
        })
        .await;
    assert!(status["progress"]["last_error"].is_string(), "{status}");

    // The receiver is fixed: later events flow, the dead one waits for a person.
    let (_, now) = app.get(&path).await;
    let r = app
        .http
        .patch(format!("{}{path}", app.base))
        .bearer_auth(&app.admin)
        .json(&json!({"version": now["version"], "url": format!("{}/in", rec.base)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let second = app.inbound("sms", "+818022220001", "second", None).await;
    let got = rec.wait_for("/in", 1).await;
    assert_eq!(got[0].json()["id"], second["event_id"]);

    let key = letter["key"].as_str().unwrap();
    let (at, event) = key.split_once('/').unwrap();
    let at: i64 = at.parse().unwrap();
    let (s, v) = app
        .post(
            &format!("{path}/dead-letters/{at}/{event}/redeliver"),
            json!({}),
        )
        .await;
    assert_eq!((s, &v), (200, &json!({"delivered": true})));
    let got = rec.wait_for("/in", 2).await;
    assert_eq!(got[1].json()["id"], first["event_id"]);
    assert_eq!(
        got[1].header("switchboard-event-id"),
        first["event_id"].as_str()
    );
    let (_, dead) = app.get(&format!("{path}/dead-letters")).await;
    assert_eq!(dead["dead_letters"], json!([]));

    // A replay from before the first: both again, same ids, in order.
    let (s, v) = app
        .post(
            &format!("{path}/replay"),
            json!({"from": t0 + 10_000_000_000i64}),
        )
        .await;
    assert_eq!((s, v["fields"]["from"].is_string()), (400, true), "{v}");
    let (s, v) = app
        .post(&format!("{path}/replay"), json!({"from": t0}))
        .await;
    assert_eq!(s, 202, "{v}");
    let got = rec.wait_for("/in", 4).await;
    let again: Vec<Value> = got[2..].iter().map(|r| r.json()["id"].clone()).collect();
    assert_eq!(
        again,
        [first["event_id"].clone(), second["event_id"].clone()]
    );
}

/// The `[stream]` settings of [`local_receiver`], as a settings file for a process.
pub(crate) const LOCAL_RECEIVER_TOML: &str = "[stream]\nallow_http = true\n\
    allow_private_addresses = true\npoll_ms = 50\nretry_first_ms = 50\nretry_max_ms = 200\n";

/// Every delivery to `path` once each event the receiver must get (`total` distinct
/// event ids) has arrived.
pub(crate) async fn until_distinct(rec: &Recorder, path: &str, total: usize) -> Vec<Recorded> {
    let mut n = total;
    loop {
        let got = rec.wait_for(path, n).await;
        let ids: BTreeSet<&str> = got
            .iter()
            .filter_map(|r| r.header("switchboard-event-id"))
            .collect();
        if ids.len() >= total {
            return got;
        }
        n = got.len() + 1;
    }
}

/// Deliveries grouped by customer, first arrival of each event id only, as
/// `(id, type)` in arrival order; every repeat must carry the same body.
pub(crate) fn first_arrivals(
    got: &[Recorded],
    secret: &str,
) -> BTreeMap<String, Vec<(String, String)>> {
    let mut by_customer: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut bodies: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for r in got {
        let body = verified(r, secret);
        let id = body["id"].as_str().unwrap().to_owned();
        if let Some(first) = bodies.get(&id) {
            // A repeat (at least once) is the same event under the same key.
            assert_eq!(first, &r.body, "a repeat of {id} is the same body");
            continue;
        }
        bodies.insert(id.clone(), r.body.clone());
        by_customer
            .entry(body["customer_id"].as_str().unwrap().to_owned())
            .or_default()
            .push((id, body["type"].as_str().unwrap().to_owned()));
    }
    by_customer
}

/// An SMS from `phone` over REST; answers the customer's id.
async fn say(e: &crate::process::Proc, token: &str, phone: &str, text: String) -> String {
    let body = json!({"channel": "sms", "address": phone, "text": text});
    let (s, v) = e.send_json(token, "POST", "/api/v1/inbound", body).await;
    assert_eq!(s, 202, "{v}");
    v["customer_id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_down_across_a_kill_minus_nine_gets_every_event_once_it_is_up() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("stream.toml");
    std::fs::write(&config, LOCAL_RECEIVER_TOML).unwrap();
    let config = config.to_str().unwrap();
    let env = [("SWITCHBOARD_CONFIG", config)];
    let port = free_port();
    let receiver = free_port();
    let e = start(dir.path(), port, &env).await;
    let token = e.login("admin").await;
    let (s, sub) = e
        .send_json(
            &token,
            "POST",
            "/api/v1/stream/subscribers",
            json!({"name": "BI", "url": format!("http://127.0.0.1:{receiver}/events"), "types": ["*"]}),
        )
        .await;
    assert_eq!(s, 201, "{sub}");
    let secret = sub["secret"].as_str().unwrap().to_owned();
    let status_path = format!("/api/v1/stream/subscribers/{}", sub["id"].as_str().unwrap());
    let phones = ["+818033330001", "+818033330002", "+818033330003"];
    let mut customers = BTreeSet::new();
    for i in 0..3 {
        for p in phones {
            customers.insert(say(&e, &token, p, format!("before {i}")).await);
        }
    }
    // The receiver is down: the engine has tried (and recorded why it failed).
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let v = e.get(&token, &status_path).await;
        if v["progress"]["last_error"].is_string() {
            assert_eq!(v["progress"]["delivered"], 0, "{v}");
            assert!(
                v["progress"]["retrying"]["attempts"].as_u64() >= Some(1),
                "{v}"
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no attempt: {v}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await; // poll interval
    }
    e.kill9();

    let e = start(dir.path(), port, &env).await;
    let token = e.login("admin").await;
    for i in 0..2 {
        for p in phones {
            say(&e, &token, p, format!("after {i}")).await;
        }
    }
    // The independent check: what the store's timelines say was published.
    let mut expected: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for c in &customers {
        let path = format!("/api/v1/customers/{c}/timeline?limit=200");
        expected.insert(
            c.clone(),
            streamed_in_store(e.get(&token, &path), &["*"]).await,
        );
    }
    let total: usize = expected.values().map(Vec::len).sum();
    assert!(
        total >= 3 * 6,
        "an opening and five messages each at least: {expected:?}"
    );

    // The receiver comes up where the engine has been failing to reach it.
    let rec = Recorder::start_on(receiver).await;
    let got = until_distinct(&rec, "/events", total).await;
    assert_eq!(
        first_arrivals(&got, &secret),
        expected,
        "every event the store holds, once per key, in order per conversation"
    );
}

/// A receiver on a port of its own that reads each request and then either never
/// answers (`None`) or writes `answer` (which may be far longer than anyone reads).
async fn raw_receiver(answer: Option<Vec<u8>>) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let _ = socket.read(&mut buf).await;
                match answer {
                    Some(a) => {
                        let _ = socket.write_all(&a).await;
                    }
                    // Holds the connection open, answering nothing.
                    None => std::future::pending::<()>().await,
                }
            });
        }
    });
    port
}

#[actix_rt::test]
async fn a_receiver_that_hangs_or_floods_is_cut_off_by_the_limits() {
    let app = spawn_app(|s| {
        local_receiver(s);
        s.stream.timeout_ms = 300;
        s.stream.max_response_bytes = 100;
    })
    .await;
    let hangs = raw_receiver(None).await;
    let mut flood =
        b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4194304\r\n\r\n".to_vec();
    flood.resize(flood.len() + 4 * 1024 * 1024, b'x');
    let floods = raw_receiver(Some(flood)).await;
    let mut paths = Vec::new();
    for port in [hangs, floods] {
        let (s, v) = app
            .post(
                "/api/v1/stream/subscribers",
                json!({"name": format!("r{port}"), "url": format!("http://127.0.0.1:{port}/in"), "types": ["message.received"]}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        paths.push(format!(
            "/api/v1/stream/subscribers/{}",
            v["id"].as_str().unwrap()
        ));
    }
    app.inbound("sms", "+818055550001", "hello", None).await;
    let hung = app
        .get_until(&paths[0], "a timeout", |v| {
            v["progress"]["last_error"].is_string()
        })
        .await;
    let error = hung["progress"]["last_error"].as_str().unwrap();
    assert!(error.starts_with("timed out"), "{error}");
    let flooded = app
        .get_until(&paths[1], "a refusal", |v| {
            v["progress"]["last_error"].is_string()
        })
        .await;
    let error = flooded["progress"]["last_error"].as_str().unwrap();
    assert_eq!(
        error,
        format!("HTTP 500: {}", "x".repeat(100)),
        "read no further than the limit"
    );
    assert!(
        flooded["progress"]["retrying"]["attempts"].as_u64() >= Some(1),
        "still retried: {flooded}"
    );
}

#[actix_rt::test]
async fn an_event_the_receiver_keeps_refusing_is_set_aside_and_the_rest_flow() {
    let rec = Recorder::start().await;
    let app = spawn_app(|s| {
        local_receiver(s);
        s.stream.max_refusals = 3;
    })
    .await;
    let (s, sub) = app
        .post(
            "/api/v1/stream/subscribers",
            json!({"name": "Tickets", "url": format!("{}/in?token=t0p-secret", rec.base), "types": ["message.received"]}),
        )
        .await;
    assert_eq!(s, 201, "{sub}");
    let path = format!("/api/v1/stream/subscribers/{}", sub["id"].as_str().unwrap());
    // The receiver refuses the first event three times (422), a "too many requests"
    // in between is not a refusal, then takes everything.
    rec.fail_next(&[422, 429, 422, 422]);
    let first = app.inbound("sms", "+818066660001", "refused", None).await;
    let second = app.inbound("sms", "+818066660001", "taken", None).await;
    let got = rec.wait_for("/in", 5).await;
    let ids: Vec<Value> = got.iter().map(|r| r.json()["id"].clone()).collect();
    assert_eq!(
        ids,
        [
            first["event_id"].clone(),
            first["event_id"].clone(),
            first["event_id"].clone(),
            first["event_id"].clone(),
            second["event_id"].clone()
        ],
        "four tries of the first (one 429 not counted), then the second"
    );
    let dead = app
        .get_until(
            &format!("{path}/dead-letters"),
            "the refused event set aside",
            |v| v["dead_letters"].as_array().is_some_and(|d| d.len() == 1),
        )
        .await;
    assert_eq!(dead["dead_letters"][0]["event_id"], first["event_id"]);
    assert!(dead["dead_letters"][0]["last_error"]
        .as_str()
        .unwrap()
        .starts_with("HTTP 422"));
    // The receiver's token in the URL never reaches the audit log.
    let (_, log) = app.get("/api/v1/audit?limit=20").await;
    assert!(!log.to_string().contains("t0p-secret"), "{log}");
}
