//! The dry-run simulator end to end: three minutes of recorded traffic on a clock the
//! test moves (one agent with one slot, three SMS contacts queueing behind each
//! other), then `POST /api/v1/simulations`: the current configuration reproduces what
//! happened exactly, a proposal with one more agent predicts the shorter waits worked
//! out by hand, and bad requests get typed errors naming the field. Then an agent's
//! break, replayed from the presence log: a contact that came while she was away waits
//! for her return in the replay as it did in fact.

use crate::helpers::*;
use serde_json::{json, Value};
use switchboard::domain::time::ManualClock;
use switchboard::domain::{Clock, Millis, SystemClock};

const ONE_SLOT: &str = r#"{"capacity": {"voice": 1, "chat": 1, "email": 1, "messaging": 1}}"#;

/// An engine on a clock the test moves (starting now, `t0`), with Alice (one slot
/// of each class, queue `general`) available: her token and socket.
async fn alice_on_a_manual_clock() -> (TestApp, ManualClock, i64, String, Client) {
    let t0 = SystemClock.now().0;
    let clock = ManualClock::new(Millis(t0));
    let app = spawn_app_with_clock(|_| {}, clock.clone()).await;
    let token = app
        .agent(
            "alice",
            &["general"],
            serde_json::from_str(ONE_SLOT).unwrap(),
        )
        .await;
    let alice = Client::available(&app, &token).await;
    (app, clock, t0, token, alice)
}

fn close(v: &Value, want: f64) -> bool {
    v.as_f64().is_some_and(|x| (x - want).abs() < 1e-6)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_period_replays_as_it_happened_and_a_proposal_is_predicted() {
    let (app, clock, t0, token, mut alice) = alice_on_a_manual_clock().await;

    // | contact | arrives | answered (wait) | resolved |
    // |---|---|---|---|
    // | c1 | 0 s  | 0 s (0)     | 60 s  |
    // | c2 | 10 s | 60 s (50)   | 120 s |
    // | c3 | 20 s | 120 s (100) | 180 s |
    app.inbound("sms", "+819000000101", "一件目", None).await;
    let c1 = accept_next(&mut alice).await;
    clock.advance_ms(10_000);
    app.inbound("sms", "+819000000102", "二件目", None).await;
    clock.advance_ms(10_000);
    app.inbound("sms", "+819000000103", "三件目", None).await;
    clock.advance_ms(40_000);
    resolve(&mut alice, &c1).await;
    let c2 = accept_next(&mut alice).await;
    clock.advance_ms(60_000);
    resolve(&mut alice, &c2).await;
    let c3 = accept_next(&mut alice).await;
    clock.advance_ms(60_000);
    resolve(&mut alice, &c3).await;

    let period = json!({"queue": "general", "from": t0, "to": t0 + 3_600_000,
                        "threshold_seconds": 20});
    let mut body = period.clone();
    body["proposals"] = json!([{
        "label": "one more agent",
        "add_agents": [{"count": 1, "capacity": {"voice": 1, "chat": 1, "email": 1, "messaging": 1}}]
    }, {"label": "alice off", "remove_agents": ["alice"]}]);
    let (s, v) = app.post("/api/v1/simulations", body).await;
    assert_eq!(s, 200, "{v}");
    // Alice's shift is the presence log's: on since she became available.
    assert_eq!(
        v["shifts_from"],
        json!({"presence": 1, "first_answer": 0}),
        "{v:#}"
    );
    // What happened: waits 0, 50, 100 s.
    let actual = &v["actual"];
    assert_eq!(
        (&actual["contacts"], &actual["answered"]),
        (&json!(3), &json!(3)),
        "{v:#}"
    );
    assert!(close(&actual["service_level"], 1.0 / 3.0), "{v:#}");
    // Alice took every offer: nothing refused, in fact or in the replay.
    assert_eq!(
        (&actual["offers_rejected"], &actual["offers_timed_out"]),
        (&json!(0), &json!(0)),
        "{v:#}"
    );
    assert!(close(&actual["asa_ms"], 50_000.0), "{v:#}");
    assert_eq!(actual["wait_p90_ms"], 100_000);
    // The current configuration, replayed: the same, with Alice busy 180 s of 180.
    let current = &v["runs"][0];
    assert_eq!(
        (&current["label"], &current["agents"]),
        (&json!("current"), &json!(1))
    );
    assert_eq!(current["answered"], 3);
    assert!(close(&current["service_level"], 1.0 / 3.0), "{v:#}");
    assert!(close(&current["asa_ms"], 50_000.0), "{v:#}");
    assert_eq!(current["wait_p90_ms"], 100_000);
    // One more agent: c2 goes to them at once; c3 waits for Alice until 60 s (40 s).
    let more = &v["runs"][1];
    assert_eq!(
        (&more["label"], &more["agents"]),
        (&json!("one more agent"), &json!(2))
    );
    assert!(close(&more["service_level"], 2.0 / 3.0), "{v:#}");
    assert!(close(&more["asa_ms"], 40_000.0 / 3.0), "{v:#}");
    // Alice taken off: nobody answers, and nobody recorded gave up, so all wait on.
    let off = &v["runs"][2];
    assert_eq!(
        (
            &off["label"],
            &off["agents"],
            &off["answered"],
            &off["unserved"]
        ),
        (&json!("alice off"), &json!(0), &json!(0), &json!(3)),
        "{v:#}"
    );

    // A service rule, judged as the live hub judges it (its service level counts
    // answers within 20 s this interval): below 80 %, what waits goes to `spill`. c1 is
    // answered at once (100 %); c2 after 50 s, and at the next event (the queue's tick
    // a second later) 1 of 2 is 50 %, so c3, still waiting, leaves.
    app.queue("spill", json!({})).await;
    let mut body = period.clone();
    body["proposals"] = json!([{"label": "spill below 80 %",
        "service_rules": [{"service_level_below_pct": 80, "overflow_to": "spill"}]}]);
    let (s, v) = app.post("/api/v1/simulations", body).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["runs"][0]["answered"], 3, "{v:#}");
    let spill = &v["runs"][1];
    assert_eq!(
        (&spill["answered"], &spill["overflowed"]),
        (&json!(2), &json!(1)),
        "{v:#}"
    );

    // Bad requests: typed, naming the field.
    for (patch, status, says) in [
        (json!({"queue": "nowhere"}), 404, "queue"),
        (json!({"to": t0}), 400, "from must be before to"),
        (json!({"threshold_seconds": 0}), 400, "threshold_seconds"),
        (
            json!({"proposals": [{"label": "a"}, {"label": "b"}, {"label": "c"}]}),
            400,
            "at most 2",
        ),
        (
            json!({"proposals": [{"label": "current"}]}),
            400,
            "proposals[0].label",
        ),
        (
            json!({"proposals": [{"label": "x", "overflow_after_ms": 5000}]}),
            400,
            "proposals[0].overflow_after_ms",
        ),
        (
            json!({"proposals": [{"label": "x", "widening": [{"after_ms": 0, "floor": 1}]}]}),
            400,
            "widening[0].after_ms",
        ),
        (
            json!({"proposals": [{"label": "x", "add_agents": [{"count": 501}]}]}),
            400,
            "proposals[0].add_agents",
        ),
        (
            json!({"proposals": [{"label": "x", "remove_agents": ["not an id"]}]}),
            400,
            "remove_agents",
        ),
        (
            json!({"proposals": [{"label": "x", "remove_agents": ["bob"]}]}),
            400,
            "proposals[0].remove_agents: bob was not on shift",
        ),
        (
            json!({"proposals": [{"label": "x", "service_rules": [{"overflow_to": "spill"}]}]}),
            400,
            "proposals[0].service_rules[0]: no trigger",
        ),
        (
            json!({"proposals": [{"label": "x",
                "service_rules": [{"ewt_above_s": 30, "overflow_to": "nowhere"}]}]}),
            400,
            "proposals[0].service_rules[0].overflow_to: no queue named nowhere",
        ),
        (
            json!({"proposals": [{"label": "x", "colour": "red"}]}),
            400,
            "colour",
        ),
    ] {
        let mut body = period.clone();
        for (k, val) in patch.as_object().unwrap() {
            body[k] = val.clone();
        }
        let (s, v) = app.post("/api/v1/simulations", body).await;
        assert_eq!(s, status, "{patch}: {v}");
        assert!(
            v["message"].as_str().unwrap_or("").contains(says),
            "{patch}: {v}"
        );
    }
    // Agents may not run it.
    let r = app
        .http
        .post(format!("{}/api/v1/simulations", app.base))
        .bearer_auth(&token)
        .json(&period)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

/// A break is replayed from the presence log. Alice (one slot) takes c1 at 0 s and
/// resolves it at 30 s, goes away at 30 s, c2 arrives at 40 s, she is back at 100 s and
/// takes it (a 60 s wait). Replayed with her recorded shifts, c2 waits the same 60 s;
/// on shift throughout (as a replay without presence would assume) she would have
/// answered it at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agents_break_is_replayed_from_the_presence_log() {
    let (app, clock, t0, _, mut alice) = alice_on_a_manual_clock().await;
    app.inbound("sms", "+819000000201", "一件目", None).await;
    let c1 = accept_next(&mut alice).await;
    clock.advance_ms(30_000);
    resolve(&mut alice, &c1).await;
    alice
        .send(json!({"type": "set_status", "status": "away", "reason": "break"}))
        .await;
    assert_eq!(alice.expect("status").await["status"], "away");
    clock.advance_ms(10_000);
    app.inbound("sms", "+819000000202", "二件目", None).await;
    clock.advance_ms(60_000);
    alice
        .send(json!({"type": "set_status", "status": "available"}))
        .await;
    let c2 = accept_next(&mut alice).await;
    clock.advance_ms(30_000);
    resolve(&mut alice, &c2).await;

    let period = json!({"queue": "general", "from": t0, "to": t0 + 3_600_000,
                        "threshold_seconds": 20});
    // The presence log is written beside the agent's routing, not waited for: ask
    // until its last change (back at 100 s) is in.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let v = loop {
        let (s, v) = app.post("/api/v1/simulations", period.clone()).await;
        assert_eq!(s, 200, "{v}");
        if close(&v["runs"][0]["asa_ms"], 30_000.0) || std::time::Instant::now() > deadline {
            break v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    // What happened: waits 0 and 60 s.
    assert!(close(&v["actual"]["asa_ms"], 30_000.0), "{v:#}");
    assert_eq!(v["actual"]["wait_p90_ms"], 60_000, "{v:#}");
    // Replayed with her break: the same.
    assert_eq!(
        v["shifts_from"],
        json!({"presence": 1, "first_answer": 0}),
        "{v:#}"
    );
    let current = &v["runs"][0];
    assert_eq!(current["answered"], 2, "{v:#}");
    assert!(close(&current["asa_ms"], 30_000.0), "{v:#}");
    assert_eq!(current["wait_p90_ms"], 60_000, "{v:#}");
}
