//! Novice routing over real sockets: an easy contact goes to the novice before the
//! senior, a hard one only to agents whose difficulty reaches it, until the queue's
//! widening lets novices in; a supervisor raising a novice's difficulty (graduation)
//! opens hard work to them at once; a customer's CRM tier gives their contacts a
//! difficulty; reports group by difficulty; bad difficulties are refused with the
//! field and change nothing.

use crate::channels::customer_of;
use crate::helpers::*;
use serde_json::{json, Value};
use switchboard::domain::time::ManualClock;
use switchboard::domain::Millis;

const T0: i64 = 1_800_000_000_000;

/// The conversation's `chosen` trace rows as (agent, detail), once `n` are there.
async fn chosen(app: &TestApp, conv: &str, n: usize) -> Vec<(String, String)> {
    let path = format!("/api/v1/conversations/{conv}/trace");
    let pick = |t: &Value| -> Vec<(String, String)> {
        t["steps"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|s| s["step"] == "chosen")
                    .map(|s| {
                        let text = |k: &str| s[k].as_str().unwrap_or_default().to_owned();
                        (text("agent"), text("detail"))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    pick(
        &app.get_until(&path, "chosen rows", |t| pick(t).len() >= n)
            .await,
    )
}

/// Delivers an SMS to `support` needing `difficulty`; returns the conversation id.
async fn contact(app: &TestApp, address: &str, difficulty: u8) -> String {
    let (s, v) = app
        .post(
            "/api/v1/inbound",
            json!({"channel": "sms", "address": address, "text": "お問い合わせ",
                   "queue": "support", "difficulty": difficulty}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    v["conversation_id"].as_str().unwrap().to_owned()
}

/// Accepts `offer` and waits until its conversation is assigned.
async fn accept(app: &TestApp, agent: &mut Client, offer: &Value) {
    agent
        .send(json!({"type": "accept", "offer_id": offer["offer_id"]}))
        .await;
    let conv = offer["conversation_id"].as_str().unwrap();
    app.get_until(&format!("/api/v1/conversations/{conv}"), "assigned", |c| {
        c["state"] == "assigned"
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn novices_take_easy_work_first_and_hard_work_once_widened_or_graduated() {
    let clock = ManualClock::new(Millis(T0));
    let app = spawn_app_with_clock(|_| {}, clock.clone()).await;
    app.queue(
        "support",
        json!({"widening": [{"after_ms": 30_000, "drop_skills": ["difficulty"]}]}),
    )
    .await;
    // The senior has no difficulty of their own (takes anything) and one messaging
    // slot; they become available first, so longest-idle alone would pick them.
    let one = json!({"voice": 1, "chat": 1, "email": 1, "messaging": 1});
    let senior = app
        .agent("senior", &["support"], json!({"capacity": one}))
        .await;
    let mut senior = Client::available(&app, &senior).await;
    let (s, v) = app
        .put(
            "/api/v1/agents/novice",
            json!({"password": "novice-password", "display_name": "NOVICE", "role": "agent",
                   "queues": ["support"], "skills": {"difficulty": 1}}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let novice = app.login("novice", "novice-password").await;
    let mut novice = Client::available(&app, &novice).await;

    // An easy contact goes to the novice, the closest fit.
    let easy = contact(&app, "+819010000001", 1).await;
    let offer = novice.expect("offer").await;
    assert_eq!(offer["conversation_id"], easy.as_str());
    senior.assert_none_before_pong("offer").await;
    let rows = chosen(&app, &easy, 1).await;
    assert_eq!(rows[0].0, "novice", "{rows:?}");
    assert!(
        rows[0].1.contains("difficulty=1 contact_difficulty=1"),
        "{rows:?}"
    );
    accept(&app, &mut novice, &offer).await;

    // A hard contact goes to the senior, never to the novice.
    let hard = contact(&app, "+819010000002", 3).await;
    let offer = senior.expect("offer").await;
    assert_eq!(offer["conversation_id"], hard.as_str());
    novice.assert_none_before_pong("offer").await;
    let rows = chosen(&app, &hard, 1).await;
    assert!(
        rows[0].1.contains("difficulty=5 contact_difficulty=3"),
        "{rows:?}"
    );
    accept(&app, &mut senior, &offer).await;

    // The senior is full: the next hard contact waits, the novice is not offered it…
    let waits = contact(&app, "+819010000003", 3).await;
    novice.assert_none_before_pong("offer").await;
    clock.advance_ms(29_999);
    novice.assert_none_before_pong("offer").await;
    // …until the widening drops the difficulty 30 s in.
    clock.advance_ms(1);
    let offer = novice.expect("offer").await;
    assert_eq!(offer["conversation_id"], waits.as_str());
    let rows = chosen(&app, &waits, 1).await;
    assert!(
        rows[0].1.contains("difficulty=1 contact_difficulty=3"),
        "{rows:?}"
    );
    let (_, trace) = app
        .get(&format!("/api/v1/conversations/{waits}/trace"))
        .await;
    let widened: Vec<&Value> = trace["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["step"] == "widened")
        .collect();
    assert_eq!(widened.len(), 1, "{trace}");
    assert_eq!(widened[0]["detail"], "ring 1 of 1: requires any agent");
    accept(&app, &mut novice, &offer).await;

    // Graduation: a supervisor raises the novice to 3, and a hard contact reaches
    // them at once, with no widening.
    let sup = app.agent("lead", &[], json!({"role": "supervisor"})).await;
    let patch = |body: Value| {
        app.http
            .patch(format!(
                "{}/api/v1/supervisor/agents/novice/skills",
                app.base
            ))
            .bearer_auth(&sup)
            .json(&body)
            .send()
    };
    for (bad, want) in [
        (json!({"skills": {}}), "name at least one skill"),
        (json!({"skills": {"difficulty": 6}}), "must be 1 to 5"),
        (json!({"skills": {"Difficulty!": 3}}), "skill"),
        (json!({"level": 3}), "unknown field"),
    ] {
        let r = patch(bad.clone()).await.unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        let v: Value = r.json().await.unwrap();
        assert!(
            v["message"].as_str().unwrap_or_default().contains(want),
            "{bad}: {v}"
        );
    }
    let (_, a) = app.get("/api/v1/agents/novice").await;
    assert_eq!(
        a["skills"],
        json!({"difficulty": 1}),
        "refused patches changed it: {a}"
    );
    let r = patch(json!({"skills": {"difficulty": 3, "billing": 2}}))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["skills"], json!({"billing": 2, "difficulty": 3}), "{v}");
    let (_, a) = app.get("/api/v1/agents/novice").await;
    assert_eq!(a["skills"]["difficulty"], 3, "{a}");
    let graduated = contact(&app, "+819010000004", 3).await;
    let offer = novice.expect("offer").await;
    assert_eq!(offer["conversation_id"], graduated.as_str());
    let rows = chosen(&app, &graduated, 1).await;
    assert!(
        rows[0].1.contains("difficulty=3 contact_difficulty=3"),
        "{rows:?}"
    );
    let (_, trace) = app
        .get(&format!("/api/v1/conversations/{graduated}/trace"))
        .await;
    assert!(
        !trace["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["step"] == "widened"),
        "{trace}"
    );

    // Reports by difficulty: four contacts offered, one easy and three hard.
    let q = format!(
        "from={}&to={}&interval=day&group=difficulty",
        T0 - 3_600_000,
        T0 + 3_600_000
    );
    let body = app
        .get_until(&format!("/api/v1/reports?{q}"), "rows by difficulty", |b| {
            b["rows"].as_array().is_some_and(|r| {
                r.iter()
                    .map(|r| r["offered"].as_u64().unwrap_or(0))
                    .sum::<u64>()
                    == 4
            })
        })
        .await;
    let by: Vec<(String, u64, u64)> = body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["group"].as_str().unwrap_or_default().to_owned(),
                r["offered"].as_u64().unwrap_or(0),
                r["handled"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        by,
        [("1".to_owned(), 1, 1), ("3".to_owned(), 3, 2)],
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customers_tier_sets_the_difficulty_and_bad_difficulties_are_refused() {
    let app = spawn_app(|_| {}).await;
    app.queue("support", json!({})).await;
    app.agent("senior", &["support"], json!({})).await;

    // A CRM import with a tier: every contact of theirs needs difficulty 4.
    let (s, v) = app
        .post(
            "/api/v1/customers",
            json!({"display_name": "大口顧客", "attributes": {"difficulty": "4", "language": "ja"},
                   "identities": [{"channel": "sms", "address": "+819020000001"}]}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = app
        .post(
            "/api/v1/inbound",
            json!({"channel": "sms", "address": "+819020000001", "text": "至急",
                   "queue": "support"}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let conv = v["conversation_id"].as_str().unwrap();
    let (_, c) = app.get(&format!("/api/v1/conversations/{conv}")).await;
    assert_eq!(
        c["requirements"],
        json!({"difficulty": 4, "lang-ja": 1}),
        "{c}"
    );

    // Refused with the field, and nothing stored.
    for (attrs, want) in [
        (json!({"difficulty": "9"}), "attributes.difficulty"),
        (json!({"difficulty": "hard"}), "attributes.difficulty"),
        (json!({"language": "日本語"}), "attributes.language"),
    ] {
        let (s, v) = app
            .post(
                "/api/v1/customers",
                json!({"attributes": attrs,
                       "identities": [{"channel": "sms", "address": "+819020000009"}]}),
            )
            .await;
        assert_eq!(s, 400, "{v}");
        assert!(
            v["message"].as_str().unwrap_or_default().contains(want),
            "{v}"
        );
    }
    assert!(customer_of(&app, "sms", "+819020000009").await.is_none());
    for (body, want) in [
        (json!({"difficulty": 0}), "difficulty: 0; must be 1 to 5"),
        (json!({"difficulty": 6}), "difficulty: 6; must be 1 to 5"),
        (
            json!({"difficulty": 2, "requirements": {"difficulty": 3}}),
            "difficulty: 2 and requirements.difficulty 3 disagree",
        ),
    ] {
        let mut b = json!({"channel": "sms", "address": "+819020000002", "text": "x",
                           "queue": "support"});
        for (k, v) in body.as_object().unwrap() {
            b[k] = v.clone();
        }
        let (s, v) = app.post("/api/v1/inbound", b).await;
        assert_eq!(s, 400, "{v}");
        assert!(
            v["message"].as_str().unwrap_or_default().contains(want),
            "{v}"
        );
        assert!(customer_of(&app, "sms", "+819020000002").await.is_none());
    }
    let (s, v) = app
        .post(
            "/api/v1/inbound",
            json!({"channel": "sms", "address": "+819020000002", "text": "x",
                   "queue": "support", "difficulty": 2}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    // The refused attempts stored nothing: this is the customer's first message.
    assert_eq!(v["new_customer"], true, "{v}");
}
