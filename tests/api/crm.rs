//! CRM lookups against a fake CRM over real sockets: the cache follows its TTL on the
//! engine clock (a second activation within the TTL does not call the CRM, one after it
//! does), and a CRM that fails, never answers, answers garbage or too much never holds
//! up routing: the conversation is offered at once and the endpoint says
//! `unavailable` (or `stale` with the old data).

use crate::helpers::*;
use crate::recorder::Recorder;
use serde_json::{json, Value};
use switchboard::domain::time::ManualClock;
use switchboard::domain::Millis;

fn crm_settings(url: String) -> impl FnOnce(&mut switchboard::config::Settings) {
    move |s| {
        s.crm.url = Some(url);
        s.crm.timeout_ms = 500;
        s.crm.ttl_ms = 60_000;
        s.crm.retry_ms = 1_000;
        s.crm.max_response_bytes = 16 * 1024;
        s.crm.auth_value = Some("Bearer crm-secret".into());
        s.timing.customer_idle_ms = 100;
    }
}

/// Waits until no customer actor is live (they passivate after `customer_idle_ms`).
async fn passivated(app: &TestApp) {
    let engine = app.engine.as_ref().unwrap();
    let deadline = std::time::Instant::now() + WAIT;
    while engine.live_customers() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "customer never passivated"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn crm_view(
    app: &TestApp,
    customer: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    app.get_until(&format!("/api/v1/customers/{customer}/crm"), what, done)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crm_lookup_is_cached_for_its_ttl_across_activations() {
    let crm = Recorder::start().await;
    let clock = ManualClock::new(Millis(1_800_000_000_000));
    let url = format!(
        "{}/crm/customers?id={{customer_id}}&phone={{phone}}",
        crm.base
    );
    let app = spawn_app_with_clock(crm_settings(url), clock.clone()).await;
    let engine = app.engine.clone().unwrap();

    let v = app.inbound("sms", "+819012345678", "hello", None).await;
    let customer = v["customer_id"].as_str().unwrap().to_owned();
    let calls = crm.wait_for("/crm/customers", 1).await;
    assert!(
        calls[0].query.contains("phone=%2B819012345678"),
        "{}",
        calls[0].query
    );
    assert!(calls[0].query.contains(&format!("id={customer}")));
    assert_eq!(calls[0].header("authorization"), Some("Bearer crm-secret"));
    let view = crm_view(&app, &customer, "crm ok", |v| v["status"] == "ok").await;
    assert_eq!(view["attributes"]["tier"], "gold");
    assert_eq!(view["attributes"]["lifetime_value"], "125000");
    assert_eq!(view["orders"][0]["id"], "A-1001");
    assert_eq!(view["orders"].as_array().unwrap().len(), 2);
    assert_eq!(view["fetched_at"], 1_800_000_000_000i64);
    assert_eq!(engine.crm.lookups_started(), 1);

    // Second activation inside the TTL: served from the cache.
    passivated(&app).await;
    clock.advance_ms(59_000);
    app.inbound("sms", "+819012345678", "still there?", None)
        .await;
    assert_eq!(engine.crm.lookups_started(), 1, "a lookup within the TTL");

    // After the TTL the next activation looks up again.
    passivated(&app).await;
    clock.advance_ms(2_000);
    app.inbound("sms", "+819012345678", "hello again", None)
        .await;
    assert_eq!(engine.crm.lookups_started(), 2);
    crm.wait_for("/crm/customers", 2).await;
    crm_view(&app, &customer, "refreshed", |v| {
        v["status"] == "ok" && v["fetched_at"] == 1_800_000_061_000i64
    })
    .await;
    assert_eq!(crm.wait_for("/crm/customers", 2).await.len(), 2);

    // A refresh that fails keeps the old data, marked stale with the reason.
    crm.fail_next(&[500]);
    clock.advance_ms(61_000);
    let stale = crm_view(&app, &customer, "stale after a failed refresh", |v| {
        v["status"] == "stale" && v["error"].is_string()
    })
    .await;
    assert!(stale["error"].as_str().unwrap().contains("500"), "{stale}");
    assert_eq!(stale["attributes"]["tier"], "gold");
}

/// A CRM that accepts connections and never answers.
async fn silent_crm() -> (String, tokio::task::JoinHandle<()>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    (base, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_crm_never_delays_the_offer() {
    let (base, task) = silent_crm().await;
    let app = spawn_app(crm_settings(format!("{base}/crm/{{customer_id}}"))).await;
    let token = app.agent("alice", &["general"], json!({})).await;
    let mut agent = Client::available(&app, &token).await;
    let (mut chat, welcome) = Client::visitor(&app).await;
    let customer = welcome["customer_id"].as_str().unwrap().to_owned();
    chat_say(&mut chat, "help please").await;
    // Offered while the lookup is still hanging (its deadline is 500 ms away).
    let offer = agent.expect("offer").await;
    assert_eq!(offer["customer"]["id"], customer.as_str());
    // The activation started the lookup (nobody has read the endpoint yet).
    assert_eq!(app.engine.as_ref().unwrap().crm.lookups_started(), 1);
    let v = crm_view(&app, &customer, "timeout", |v| {
        v["status"] == "unavailable"
            && v["error"]
                .as_str()
                .is_some_and(|e| e.contains("did not answer"))
    })
    .await;
    assert_eq!(v["attributes"], json!({}));
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_or_garbled_crm_is_unavailable_and_routing_goes_on() {
    let crm = Recorder::start().await;
    crm.fail_next(&[500]);
    let url = format!("{}/crm/{{phone}}", crm.base);
    let app = spawn_app(crm_settings(url)).await;
    let token = app.agent("alice", &["general"], json!({})).await;
    let mut agent = Client::available(&app, &token).await;

    let v = app.inbound("sms", "+15550000000", "first", None).await;
    agent.expect("offer").await;
    let c = v["customer_id"].as_str().unwrap().to_owned();
    let view = crm_view(&app, &c, "500", |v| {
        v["status"] == "unavailable" && v["error"].as_str().is_some_and(|e| e.contains("500"))
    })
    .await;
    assert_eq!(view["orders"], json!([]));

    for (phone, says) in [
        ("+15550000001", "not valid"),
        ("+15550000002", "larger than"),
    ] {
        let v = app.inbound("sms", phone, "hi", None).await;
        let c = v["customer_id"].as_str().unwrap().to_owned();
        crm_view(&app, &c, says, |v| {
            v["status"] == "unavailable" && v["error"].as_str().is_some_and(|e| e.contains(says))
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crm_endpoint_access_and_disabled_state() {
    let app = spawn_app(|_| {}).await;
    let v = app.inbound("sms", "+819011112222", "hi", None).await;
    let c = v["customer_id"].as_str().unwrap().to_owned();
    let (s, body) = app.get(&format!("/api/v1/customers/{c}/crm")).await;
    assert_eq!(s, 200);
    assert_eq!(body["status"], "disabled");
    // An agent who never held the customer may not read it.
    let token = app.agent("bob", &["general"], json!({})).await;
    let r = app
        .http
        .get(format!("{}/api/v1/customers/{c}/crm", app.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let (s, _) = app.get("/api/v1/customers/not-an-id/crm").await;
    assert_eq!(s, 404);
    let (_, doc) = app.get("/api/v1/openapi.json").await;
    for p in [
        "/api/v1/customers/{id}/crm",
        "/api/v1/canned",
        "/api/v1/canned/{id}",
        "/api/v1/canned/{id}/render",
    ] {
        assert!(doc["paths"].get(p).is_some(), "openapi lacks {p}");
    }
}
