//! Wrap-up codes (docs/admin.md "Wrap-up codes"): the managed list refuses bad fields
//! by name and stale versions, and an agent of a queue that requires a code cannot
//! resolve without one of that queue's active codes — over the real agent websocket,
//! the refusal changing nothing — while a queue that does not require one still takes
//! any disposition.

use crate::helpers::*;
use serde_json::{json, Value};

async fn codes_for(app: &TestApp, queue: &str) -> Value {
    let (st, v) = app
        .get(&format!("/api/v1/wrapup-codes?queue={queue}"))
        .await;
    assert_eq!(st, 200, "{v}");
    v
}

fn code_names(v: &Value) -> Vec<&str> {
    v["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_that_requires_a_wrap_up_code_gets_one_at_resolve() {
    let app = spawn_app(|_| {}).await;
    app.queue(
        "billing",
        json!({"default_for": ["chat"], "wrapup_required": true}),
    )
    .await;
    app.queue("sales", json!({})).await;

    // Bad fields are named and nothing is stored.
    let (st, v) = app
        .put(
            "/api/v1/wrapup-codes/Bad%20Code",
            json!({"label": {"ja": "", "en": "x"}}),
        )
        .await;
    assert_eq!(st, 400, "{v}");
    let fields = v["fields"].as_object().unwrap();
    assert_eq!(
        fields.keys().collect::<Vec<_>>(),
        ["code", "label.ja"],
        "{v}"
    );
    let (st, v) = app
        .put(
            "/api/v1/wrapup-codes/elsewhere",
            json!({"label": {"ja": "他", "en": "Elsewhere"}, "queues": ["nowhere"]}),
        )
        .await;
    assert_eq!(st, 400);
    assert!(v["fields"]["queues"].is_string(), "{v}");
    let (_, all) = app.get("/api/v1/wrapup-codes").await;
    assert_eq!(all, json!({"codes": []}));

    let (st, paid) = app
        .put(
            "/api/v1/wrapup-codes/paid",
            json!({"label": {"ja": "支払い済み", "en": "Paid"}, "queues": ["billing"]}),
        )
        .await;
    assert_eq!(st, 200, "{paid}");
    assert_eq!(paid["version"], 1);
    for (code, queues) in [("refund", json!([])), ("upsell", json!(["sales"]))] {
        let (st, v) = app
            .put(
                &format!("/api/v1/wrapup-codes/{code}"),
                json!({"label": {"ja": code, "en": code}, "queues": queues}),
            )
            .await;
        assert_eq!(st, 200, "{v}");
    }
    let (st, v) = app
        .put(
            "/api/v1/wrapup-codes/paid",
            json!({"label": {"ja": "x", "en": "x"}, "version": 0}),
        )
        .await;
    assert_eq!(st, 409, "a stale version: {v}");
    let billing = codes_for(&app, "billing").await;
    assert_eq!(billing["required"], true);
    assert_eq!(code_names(&billing), ["paid", "refund"]);
    assert_eq!(codes_for(&app, "sales").await["required"], false);

    // An agent of billing takes a chat and tries to resolve it.
    let t = app.agent("ann", &["billing"], json!({})).await;
    let mut agent = Client::available(&app, &t).await;
    let (mut chat, _) = Client::visitor(&app).await;
    chat_say(&mut chat, "請求書が二重です").await;
    let conv = accept_next(&mut agent).await;
    assert_eq!(conv["queue"], "billing");
    for disposition in [None, Some("resolved"), Some("upsell"), Some(" : paid")] {
        let mut frame = json!({"type": "resolve", "conversation_id": conv["id"]});
        if let Some(d) = disposition {
            frame["disposition"] = json!(d);
        }
        agent.send(frame).await;
        let e = agent.expect("error").await;
        assert_eq!(e["code"], "invalid", "{disposition:?}: {e}");
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .contains("requires a wrap-up code"),
            "{e}"
        );
    }
    let (_, c) = app
        .get(&format!(
            "/api/v1/conversations/{}",
            conv["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        c["state"], "assigned",
        "a refused resolve changes nothing: {c}"
    );

    // A retired code is no longer offered nor accepted.
    let (st, v) = app
        .put(
            "/api/v1/wrapup-codes/refund",
            json!({"label": {"ja": "返金", "en": "Refund"}, "active": false, "version": 1}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(code_names(&codes_for(&app, "billing").await), ["paid"]);
    agent
        .send(json!({"type": "resolve", "conversation_id": conv["id"], "disposition": "refund"}))
        .await;
    assert_eq!(agent.expect("error").await["code"], "invalid");

    agent
        .send(json!({"type": "resolve", "conversation_id": conv["id"], "disposition": "paid: refunded the double charge"}))
        .await;
    let upd = agent.expect("conversation_updated").await;
    assert_eq!(upd["state"], "resolved");
    let (_, c) = app
        .get(&format!(
            "/api/v1/conversations/{}",
            conv["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(c["disposition"], "paid: refunded the double charge");

    // Deleting a code keeps the conversations resolved with it.
    let res = app
        .http
        .delete(format!("{}/api/v1/wrapup-codes/paid", app.base))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 204);
    let (_, all) = app.get("/api/v1/wrapup-codes").await;
    assert_eq!(code_names(&all), ["refund", "upsell"]);
    let (_, c) = app
        .get(&format!(
            "/api/v1/conversations/{}",
            conv["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(c["disposition"], "paid: refunded the double charge");

    // Staff read the list; only admins change it.
    let (st, _) = app.get("/api/v1/wrapup-codes").await;
    assert_eq!(st, 200);
    let res = app
        .http
        .put(format!("{}/api/v1/wrapup-codes/x", app.base))
        .bearer_auth(&t)
        .json(&json!({"label": {"ja": "x", "en": "x"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
    let res = app
        .http
        .get(format!("{}/api/v1/wrapup-codes?queue=billing", app.base))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status().as_u16(),
        200,
        "an agent reads its queue's codes"
    );
}

/// Wrap-up codes in Chromium (clients/tests/admin_wrapup.mjs): the console creates
/// them and makes billing require one; the agent desktop offers billing's codes at
/// resolve and will not resolve without one. Here: what the store holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_requires_a_wrap_up_code_and_the_agent_picks_one_in_a_real_browser() {
    let app = spawn_app(|_| {}).await;
    app.queue("billing", json!({})).await;
    app.queue("sales", json!({})).await;
    app.agent("ann", &["billing"], json!({})).await;
    let admin = app.admin.clone();
    run_browser_script(
        &app,
        "admin_wrapup.mjs",
        &[
            ("ADMIN_ID", "admin"),
            ("ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("AGENT_ID", "ann"),
            ("AGENT_PASSWORD", "ann-password"),
            ("ADMIN_TOKEN", &admin),
        ],
        "wrap-up browser test passed",
    )
    .await;
    let (_, configs) = app.get("/api/v1/queue-configs").await;
    let billing = configs
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "billing")
        .unwrap();
    assert_eq!(billing["wrapup_required"], true);
    let (_, all) = app.get("/api/v1/wrapup-codes").await;
    assert_eq!(code_names(&all), ["paid", "refund", "upsell"]);
    assert_eq!(all["codes"][0]["queues"], json!(["billing"]));
    let customer = crate::channels::customer_of(&app, "sms", "+819055550077")
        .await
        .expect("the customer");
    let events = app.timeline(customer["id"].as_str().unwrap()).await;
    let resolved = events
        .iter()
        .find(|e| e["type"] == "resolved")
        .expect("resolved");
    assert_eq!(resolved["disposition"], "paid: refunded the double charge");
}
