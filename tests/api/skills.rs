//! Per-contact skills over real sockets: an IVR choice that needs a skill reaches only
//! agents who have it, the most proficient first; a queue's widening rings open on the
//! engine's (manual) clock and each ring reaches agents the one before did not, with
//! the trace saying which ring matched; bad requirements and contradictory widening
//! steps are refused with the exact field and change nothing.

use crate::channels::{channels_on, customer_of, twilio_post};
use crate::helpers::*;
use crate::recorder::Recorder;
use serde_json::{json, Value};
use switchboard::domain::time::ManualClock;
use switchboard::domain::{Millis, Proficiency, Skill};

type Row = (String, String, String);

fn rows(t: &Value) -> Vec<Row> {
    t["steps"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| {
                    let text = |k: &str| s[k].as_str().unwrap_or_default().to_owned();
                    (text("step"), text("agent"), text("detail"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The conversation's routing trace as (step, agent, detail) rows, once `done` holds
/// for it (the queue records its trace without waiting for the store).
async fn trace(app: &TestApp, conv: &str, done: impl Fn(&[Row]) -> bool) -> Vec<Row> {
    let path = format!("/api/v1/conversations/{conv}/trace");
    rows(&app.get_until(&path, "trace", |t| done(&rows(t))).await)
}

fn count(rows: &[Row], name: &str) -> usize {
    rows.iter().filter(|r| r.0 == name).count()
}

fn step<'a>(rows: &'a [Row], name: &str) -> Vec<&'a Row> {
    rows.iter().filter(|r| r.0 == name).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ivr_choice_needing_a_skill_goes_to_the_most_proficient_agent_who_has_it() {
    let rec = Recorder::start().await;
    let app = spawn_app(|s| {
        channels_on(s, &rec);
        crate::ivr::tree(s);
        // 2 (billing) needs billing at 3 or better.
        let billing = &mut s.ivr.menus[0].options[1];
        billing.skills = [(
            Skill::parse("billing").unwrap(),
            Proficiency::new(3).unwrap(),
        )]
        .into();
    })
    .await;
    app.queue("billing", json!({})).await;
    app.queue("orders", json!({})).await;
    // All three serve the queue; the rookie is short of the skill. `mid` becomes
    // available first, so the queue's longest-idle strategy alone would pick it.
    let rookie = app
        .agent("rookie", &["billing"], json!({"skills": {"billing": 1}}))
        .await;
    let mid = app
        .agent("mid", &["billing"], json!({"skills": {"billing": 3}}))
        .await;
    let pro = app
        .agent("pro", &["billing"], json!({"skills": {"billing": 5}}))
        .await;
    let mut rookie = Client::available(&app, &rookie).await;
    let mut mid = Client::available(&app, &mid).await;
    let mut pro = Client::available(&app, &pro).await;

    let c = vec![
        ("CallSid", "CA_SK1"),
        ("From", "+81355556666"),
        ("To", "+815012345678"),
        ("CallStatus", "in-progress"),
    ];
    let (status, _) = twilio_post(&app, "/webhooks/twilio/voice", &c, None).await;
    assert_eq!(status, 200);
    let mut press = c.clone();
    press.push(("Digits", "2"));
    let (_, routed) = twilio_post(&app, "/webhooks/twilio/voice/menu", &press, None).await;
    assert!(routed.contains("<Enqueue "), "{routed}");

    // The most proficient agent is offered the call first.
    let offer = pro.expect("offer").await;
    let conv = offer["conversation_id"].as_str().unwrap().to_owned();
    let (_, v) = app.get(&format!("/api/v1/conversations/{conv}")).await;
    assert_eq!(v["requirements"], json!({"billing": 3}), "{v}");
    let rows = trace(&app, &conv, |r| count(r, "chosen") == 1).await;
    let enqueued = step(&rows, "enqueued");
    assert!(enqueued[0].2.contains("requires=billing>=3"), "{rows:?}");
    let considered = step(&rows, "considered");
    assert!(
        considered[0].2.contains("requires=billing>=3 ring=0/0"),
        "{rows:?}"
    );
    let chosen = step(&rows, "chosen");
    assert_eq!(chosen[0].1, "pro", "{rows:?}");
    assert!(chosen[0].2.contains("score=5"), "{rows:?}");

    // Declined: the next best who has the skill, never the rookie.
    pro.send(json!({"type": "reject", "offer_id": offer["offer_id"]}))
        .await;
    let again = mid.expect("offer").await;
    assert_eq!(again["conversation_id"], conv.as_str());
    mid.send(json!({"type": "reject", "offer_id": again["offer_id"]}))
        .await;
    rookie.assert_none_before_pong("offer").await;
    let rows = trace(&app, &conv, |r| count(r, "rejected") == 2).await;
    let chosen: Vec<&str> = step(&rows, "chosen").iter().map(|r| r.1.as_str()).collect();
    assert_eq!(chosen, ["pro", "mid"], "{rows:?}");
    let (_, q) = app.get("/api/v1/queues/billing").await;
    assert_eq!(q["waiting"], 1, "{q}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn widening_rings_open_on_the_clock_and_reach_further_agents() {
    let clock = ManualClock::new(Millis(1_800_000_000_000));
    let app = spawn_app_with_clock(|_| {}, clock.clone()).await;
    app.queue(
        "billing",
        json!({
            "widening": [
                {"after_ms": 10_000, "floor": 2},
                {"after_ms": 20_000, "drop_all_skills": true},
            ],
        }),
    )
    .await;
    let two = app
        .agent("two", &["billing"], json!({"skills": {"billing": 2}}))
        .await;
    let none = app.agent("none", &["billing"], json!({})).await;
    let mut two = Client::available(&app, &two).await;
    let mut none = Client::available(&app, &none).await;

    let (s, v) = app
        .post(
            "/api/v1/inbound",
            json!({"channel": "sms", "address": "+819011112222", "text": "請求書について",
                   "queue": "billing", "requirements": {"billing": 4}}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let conv = v["conversation_id"].as_str().unwrap().to_owned();
    // Ring 0 needs billing at 4: nobody here.
    two.assert_none_before_pong("offer").await;
    none.assert_none_before_pong("offer").await;

    // 10 s in: ring 1 lowers the floor to 2, and `two` is offered it.
    clock.advance_ms(10_000);
    let offer = two.expect("offer").await;
    assert_eq!(offer["conversation_id"], conv.as_str());
    none.assert_none_before_pong("offer").await;
    let rows = trace(&app, &conv, |r| {
        count(r, "chosen") == 1 && count(r, "widened") == 1
    })
    .await;
    let widened = step(&rows, "widened");
    assert_eq!(widened.len(), 1, "{rows:?}");
    assert_eq!(widened[0].2, "ring 1 of 2: requires billing>=2");
    let considered = step(&rows, "considered");
    assert!(
        considered[0].2.contains("requires=billing>=2 ring=1/2"),
        "{rows:?}"
    );

    // Declined; ring 2 (20 s) drops every skill and `none` gets it.
    two.send(json!({"type": "reject", "offer_id": offer["offer_id"]}))
        .await;
    none.assert_none_before_pong("offer").await;
    clock.advance_ms(10_000);
    let offer = none.expect("offer").await;
    assert_eq!(offer["conversation_id"], conv.as_str());
    let rows = trace(&app, &conv, |r| {
        count(r, "chosen") == 2 && count(r, "widened") == 2
    })
    .await;
    let widened = step(&rows, "widened");
    assert_eq!(widened.len(), 2, "{rows:?}");
    assert_eq!(widened[1].2, "ring 2 of 2: requires any agent");
    let considered = step(&rows, "considered");
    assert!(
        considered[1].2.contains("requires=none ring=2/2"),
        "{rows:?}"
    );
    let chosen = step(&rows, "chosen");
    assert_eq!(chosen.last().unwrap().1, "none", "{rows:?}");
    assert!(chosen.last().unwrap().2.contains("score=0"), "{rows:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requirements_and_widening_are_refused_with_the_field_and_change_nothing() {
    let app = spawn_app(|_| {}).await;
    app.queue("billing", json!({})).await;
    app.agent("two", &["billing"], json!({"skills": {"billing": 2}}))
        .await;
    let cases: [(Value, &str); 5] = [
        (json!({"requirements": {"Billing!": 2}}), "requirements: "),
        (
            json!({"requirements": {"billing": 9}}),
            "requirements.billing: ",
        ),
        (json!({"language": "日本語"}), "language: "),
        (
            json!({"requirements": (0..17).map(|i| (format!("s{i}"), json!(1))).collect::<serde_json::Map<_, _>>()}),
            "requirements: 17 skills; at most 16",
        ),
        (
            json!({"requirements": {"billing": 3}}),
            "requirements: no agent serving queue billing meets billing>=3",
        ),
    ];
    for (i, (extra, want)) in cases.into_iter().enumerate() {
        let address = format!("+8190222200{i:02}");
        let mut body =
            json!({"channel": "sms", "address": address, "text": "x", "queue": "billing"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (s, v) = app.post("/api/v1/inbound", body).await;
        assert_eq!(s, 400, "{extra}: {v}");
        let message = v["message"].as_str().unwrap_or_default();
        assert!(message.starts_with(want), "{extra}: {v}");
        assert!(
            customer_of(&app, "sms", &address).await.is_none(),
            "{extra}: stored anyway"
        );
    }
    // Met once the queue's last ring drops the skills: accepted.
    let (_, q) = app.get("/api/v1/queues/billing").await;
    let mut config = q["config"].clone();
    config["widening"] = json!([{"after_ms": 60_000, "drop_all_skills": true}]);
    let (s, v) = app.put("/api/v1/queues/billing", config.clone()).await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = app
        .post(
            "/api/v1/inbound",
            json!({"channel": "sms", "address": "+819022229999", "text": "x",
                   "queue": "billing", "requirements": {"billing": 3}, "language": "ja"}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let (_, c) = app
        .get(&format!(
            "/api/v1/conversations/{}",
            v["conversation_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        c["requirements"],
        json!({"billing": 3, "lang-ja": 1}),
        "{c}"
    );
    // The same message id asking for other skills is another message: refused.
    let (s, v) = app
        .post(
            "/api/v1/inbound",
            json!({"channel": "sms", "address": "+819022229998", "text": "y", "queue": "billing",
                   "client_msg_id": "crm-1", "requirements": {"billing": 2}}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let (s, again) = app
        .post(
            "/api/v1/inbound",
            json!({"channel": "sms", "address": "+819022229998", "text": "y", "queue": "billing",
                   "client_msg_id": "crm-1", "requirements": {"billing": 1}}),
        )
        .await;
    assert_eq!(s, 409, "{again}");
    assert_eq!(again["event_id"], v["event_id"], "{again}");

    // Contradictory widening: the exact field, and the configuration stays.
    let steps = [
        (
            json!([{"after_ms": 10_000, "floor": 2}, {"after_ms": 20_000, "floor": 3}]),
            "widening[1].floor: 3 is not below widening[0].floor 2",
        ),
        (
            json!([{"after_ms": 20_000, "floor": 2}, {"after_ms": 10_000, "drop_all_skills": true}]),
            "widening[1].after_ms: 10000 is not after widening[0] (20000)",
        ),
        (
            json!([{"after_ms": 10_000}]),
            "widening[0]: relaxes nothing",
        ),
        (
            json!([{"after_ms": 10_000, "drop_skills": ["billing"]}, {"after_ms": 20_000, "drop_skills": ["billing"]}]),
            "widening[1].drop_skills: billing: already dropped by widening[0]",
        ),
        (
            json!([{"after_ms": 10_000, "flor": 2}]),
            "unknown field `flor`",
        ),
    ];
    for (widening, want) in steps {
        let mut bad = config.clone();
        bad["widening"] = widening.clone();
        let (s, v) = app.put("/api/v1/queues/billing", bad).await;
        assert_eq!(s, 400, "{widening}: {v}");
        let message = v["message"].as_str().unwrap_or_default();
        assert!(message.contains(want), "{widening}: {v}");
    }
    let mut late = config.clone();
    late["overflow"] = json!({"after_ms": 30_000, "to": "general"});
    let (s, v) = app.put("/api/v1/queues/billing", late).await;
    assert_eq!(s, 400, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("overflow.after_ms: 30000 is not after widening[0] (60000)"),
        "{v}"
    );
    let (_, q) = app.get("/api/v1/queues/billing").await;
    assert_eq!(
        q["config"]["widening"],
        json!([{"after_ms": 60_000, "drop_all_skills": true}]),
        "{q}"
    );
    assert!(
        q["config"].get("overflow").is_none_or(Value::is_null),
        "{q}"
    );
}
