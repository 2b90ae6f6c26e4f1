//! Service-level routing over real sockets with a manual clock: a queue whose live
//! service level drops below its rule's target turns the rule on (the live hub judges
//! it), and a conversation waiting there then overflows to the rule's queue, with the
//! rule in its trace, in the queue's view and in the Prometheus gauge; a boost rule
//! puts its queue first for an agent serving two; bad rules are refused with the
//! exact field and change nothing.

use crate::helpers::*;
use serde_json::{json, Value};
use switchboard::domain::time::ManualClock;
use switchboard::domain::Millis;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_level_below_target_overflows_waiting_work_to_the_rules_queue() {
    let clock = ManualClock::new(Millis(1_800_000_000_000));
    let app = spawn_app_with_clock(|_| {}, clock.clone()).await;
    app.queue("slhelp", json!({})).await;
    app.queue(
        "slsales",
        json!({"service_rules": [{"service_level_below_pct": 80, "overflow_to": "slhelp"}]}),
    )
    .await;
    let one = json!({"capacity": {"voice": 1, "chat": 1, "email": 1, "messaging": 1}});
    let seller = app.agent("seller", &["slsales"], one).await;
    let helper = app.agent("helper", &["slhelp"], json!({})).await;
    let mut helper = Client::available(&app, &helper).await;

    // The first contact waits 30 s (nobody is logged in to slsales), past the live
    // 20 s threshold: answered late, the service level is 0%.
    let (s, v) = app
        .post(
            "/api/v1/inbound",
            json!({"channel": "sms", "address": "+819030000002", "text": "注文について",
                   "queue": "slsales"}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let late = v["conversation_id"].as_str().unwrap().to_owned();
    let (_, q) = app.get("/api/v1/queues/slsales").await;
    assert!(q.get("service_rules_on").is_none(), "on too early: {q}");
    clock.advance_ms(30_000);
    let mut seller = Client::available(&app, &seller).await;
    let offer = seller.expect("offer").await;
    assert_eq!(offer["conversation_id"], late.as_str());
    seller
        .send(json!({"type": "accept", "offer_id": offer["offer_id"]}))
        .await;

    // The hub judges the rule on, and the queue knows why.
    let q = app
        .get_until("/api/v1/queues/slsales", "service rule on", |q| {
            q["service_rules_on"]["0"].is_string()
        })
        .await;
    assert_eq!(q["service_rules_on"]["0"], "service level 0% < 80%", "{q}");
    let scrape = metrics_text(&app.http, &app.base).await;
    assert!(
        scrape.contains("switchboard_queue_service_rules_on{queue=\"slsales\"} 1"),
        "{scrape}"
    );

    // The seller is full: the next contact overflows to slhelp, whose agent gets it.
    let (s, v) = app
        .post(
            "/api/v1/inbound",
            json!({"channel": "sms", "address": "+819030000003", "text": "y", "queue": "slsales"}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let moved = v["conversation_id"].as_str().unwrap().to_owned();
    let offer = helper.expect("offer").await;
    assert_eq!(offer["conversation_id"], moved.as_str());
    assert_eq!(offer["queue"], "slhelp");
    let trace = app
        .get_until(
            &format!("/api/v1/conversations/{moved}/trace"),
            "overflowed",
            |t| {
                t["steps"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|s| s["step"] == "overflowed"))
            },
        )
        .await;
    let steps = trace["steps"].as_array().unwrap();
    let overflowed: Vec<&Value> = steps.iter().filter(|s| s["step"] == "overflowed").collect();
    assert_eq!(
        overflowed[0]["detail"], "to queue slhelp: service rule 0 (service level 0% < 80%)",
        "{trace}"
    );
    seller.assert_none_before_pong("offer").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_boost_rule_on_puts_its_queue_first_for_an_agent_serving_two() {
    let clock = ManualClock::new(Millis(1_800_000_000_000));
    let app = spawn_app_with_clock(|_| {}, clock.clone()).await;
    app.queue(
        "boostq",
        json!({"service_rules": [{"service_level_below_pct": 80, "boost_priority": 50}]}),
    )
    .await;
    app.queue("steadyq", json!({"priority": 10})).await;
    let two = json!({"capacity": {"voice": 1, "chat": 1, "email": 1, "messaging": 2}});
    let solo = app.agent("solo", &["boostq", "steadyq"], two).await;
    let sms = |address: &str, queue: &str| json!({"channel": "sms", "address": address, "text": "至急", "queue": queue});

    // A late answer in boostq turns its rule on.
    let (s, v) = app
        .post("/api/v1/inbound", sms("+819040000001", "boostq"))
        .await;
    assert_eq!(s, 202, "{v}");
    clock.advance_ms(30_000);
    let mut solo = Client::available(&app, &solo).await;
    let offer = solo.expect("offer").await;
    solo.send(json!({"type": "accept", "offer_id": offer["offer_id"]}))
        .await;
    app.get_until("/api/v1/queues/boostq", "boost rule on", |q| {
        q["service_rules_on"]["0"].is_string()
    })
    .await;

    // Away, then one contact in each queue, the steady queue's first. Back: the
    // agent picks across its queues, and the boost (0 + 50) beats the steady queue's
    // priority (10) though its contact is younger.
    solo.send(json!({"type": "set_status", "status": "away"}))
        .await;
    solo.expect_where("status", |m| m["status"] == "away").await;
    let (_, older) = app
        .post("/api/v1/inbound", sms("+819040000002", "steadyq"))
        .await;
    clock.advance_ms(1_000);
    let (_, boosted) = app
        .post("/api/v1/inbound", sms("+819040000003", "boostq"))
        .await;
    solo.send(json!({"type": "set_status", "status": "available"}))
        .await;
    let offer = solo.expect("offer").await;
    assert_eq!(
        offer["conversation_id"], boosted["conversation_id"],
        "{offer}"
    );
    assert_ne!(offer["conversation_id"], older["conversation_id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_service_rules_are_refused_with_the_field_and_change_nothing() {
    let app = spawn_app(|_| {}).await;
    app.queue("rulesq", json!({"priority": 3})).await;
    app.queue(
        "loopq",
        json!({"overflow": {"after_ms": 60_000, "to": "rulesq"}}),
    )
    .await;
    let cases: [(Value, &str); 7] = [
        (
            json!([{"overflow_to": "general"}]),
            "service_rules[0]: no trigger",
        ),
        (json!([{"ewt_above_s": 60}]), "service_rules[0]: no action"),
        (
            json!([{"ewt_above_s": 60, "clear_ewt_below_s": 90, "boost_priority": 5}]),
            "service_rules[0].clear_ewt_below_s: 90 is not below ewt_above_s 60",
        ),
        (
            json!([{"service_level_below_pct": 80, "overflow_to": "nowhere"}]),
            "service_rules[0].overflow_to: no queue named nowhere",
        ),
        (
            json!([{"service_level_below_pct": 80, "overflow_to": "rulesq"}]),
            "service_rules[0].overflow_to: is this queue",
        ),
        (
            json!([{"ewt_above_s": 60, "boost_priority": 5, "when": "always"}]),
            "unknown field",
        ),
        (
            json!([{"ewt_above_s": 60, "overflow_to": "loopq"}]),
            "service_rules[0].overflow_to: loopq leads back here (rulesq → loopq → rulesq)",
        ),
    ];
    for (rules, want) in cases {
        let (s, v) = app
            .put("/api/v1/queues/rulesq", json!({"service_rules": rules}))
            .await;
        assert_eq!(s, 400, "{rules}: {v}");
        let message = v["message"].as_str().unwrap_or_default();
        assert!(message.contains(want), "{rules}: {v}");
        let (_, q) = app.get("/api/v1/queues/rulesq").await;
        assert_eq!(q["config"]["priority"], 3, "changed anyway: {q}");
        assert!(q["config"].get("service_rules").is_none(), "{q}");
    }
}
