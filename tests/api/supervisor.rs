//! Supervisors: `/ws/supervisor` (snapshot then deltas, queue subscriptions, role
//! check at the handshake, drop-to-snapshot for a stalled client that never slows
//! routing), the live figures on the manual clock against hand-computed values, and
//! the supervisor actions over REST.

use crate::helpers::*;
use serde_json::{json, Value};
use switchboard::domain::time::ManualClock;
use switchboard::domain::Millis;

/// A supervisor login.
async fn supervisor(app: &TestApp, id: &str) -> String {
    app.agent(id, &[], json!({"role": "supervisor"})).await
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

/// Within HDR histogram precision (3 significant digits).
fn close(v: &Value, want: f64) -> bool {
    (num(v) - want).abs() <= want.abs() * 1e-3 + 1e-9
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_then_deltas_as_customers_arrive_and_agents_accept() {
    // On a clock that stands mid-interval: on the wall clock a 15-minute interval
    // boundary could fall between the resolve and the push that carries it (the hub
    // coalesces), resetting `handled` before the test reads it.
    let clock = ManualClock::new(Millis(1_800_000_300_000));
    let app = spawn_app_with_clock(|_| {}, clock).await;
    app.queue("sales", json!({"display_name": "Sales"})).await;
    let a1 = app.agent("a1", &["sales"], json!({})).await;
    let sup = supervisor(&app, "sup").await;

    let mut s = Supervisor::connect(&app, &sup, "").await;
    assert_eq!(s.queue("sales")["display_name"], "Sales");
    assert_eq!(s.queue("sales")["waiting"], 0);
    assert!(s.queues.contains_key("general"));

    // The agent logs in (away at first): it appears, away with its reason.
    let mut agent = Client::agent(&app, &a1).await;
    s.until("a1 away", |s| s.agent_state("a1") == Some("away"))
        .await;
    assert_eq!(s.agents["a1"]["reason"], "login");
    assert_eq!(s.queue("sales")["agents"]["away"], 1);

    // A customer arrives: waiting 1, one arrival in the interval.
    app.post(
        "/api/v1/inbound",
        json!({"channel": "sms", "address": "+15550001", "text": "hi", "queue": "sales"}),
    )
    .await;
    s.until("a waiting conversation", |s| {
        s.queue("sales")["waiting"] == 1
    })
    .await;
    assert_eq!(s.queue("sales")["interval"]["offered"], 1);
    assert!(s.queue("sales")["oldest_enqueued_at"].is_i64());

    // The agent becomes available, is offered it and accepts.
    agent
        .send(json!({"type": "set_status", "status": "available"}))
        .await;
    let conv = accept_next(&mut agent).await;
    s.until("answered, agent busy", |s| {
        s.queue("sales")["waiting"] == 0
            && s.queue("sales")["interval"]["answered"] == 1
            && s.agent_state("a1") == Some("busy")
    })
    .await;
    let q = s.queue("sales").clone();
    assert_eq!(q["agents"]["busy"], 1);
    assert_eq!(q["slots_in_use"], 1);
    assert_eq!(q["offers"]["offered"], 1);
    assert_eq!(q["offers"]["accepted"], 1);
    assert_eq!(q["interval"]["service_level"], 1.0);
    assert_eq!(s.agents["a1"]["work"], 1);

    // Resolved: the agent is available again.
    agent
        .send(json!({"type": "resolve", "conversation_id": conv["id"]}))
        .await;
    s.until("a1 available", |s| s.agent_state("a1") == Some("available"))
        .await;
    s.until("handled", |s| s.queue("sales")["interval"]["handled"] == 1)
        .await;

    // Deltas carry increasing sequence numbers after the snapshot.
    let seqs: Vec<u64> = s.seen.iter().map(|m| m["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    assert!(s.seen[1..].iter().all(|m| m["type"] == "delta"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_sees_only_its_queues() {
    let app = spawn_app(|_| {}).await;
    app.queue("sales", json!({})).await;
    app.agent("gen", &["general"], json!({})).await;
    let s1 = app.agent("sal", &["sales"], json!({})).await;
    let sup = supervisor(&app, "sup").await;

    let mut s = Supervisor::connect(&app, &sup, "queues=sales").await;
    assert_eq!(s.seen[0]["queues_filter"], json!(["sales"]));
    assert_eq!(s.queues.keys().collect::<Vec<_>>(), vec!["sales"]);

    // A login in each queue, an arrival in general, then one in sales: the hub
    // applies events in order, so once sales shows its arrival, general's is past.
    let gen_token = app.login("gen", "gen-password").await;
    let _gen = Client::agent(&app, &gen_token).await;
    let _sal = Client::agent(&app, &s1).await;
    app.inbound("sms", "+15550100", "general please", None)
        .await;
    app.post(
        "/api/v1/inbound",
        json!({"channel": "sms", "address": "+15550101", "text": "sales please", "queue": "sales"}),
    )
    .await;
    s.until("the sales arrival", |s| s.queue("sales")["waiting"] == 1)
        .await;
    s.until("sal listed", |s| s.agents.contains_key("sal"))
        .await;
    for m in &s.seen {
        for q in m["queues"].as_array().unwrap() {
            assert_eq!(q["queue"], "sales", "a queue outside the subscription: {m}");
        }
        for a in m["agents"].as_array().unwrap() {
            assert_eq!(
                a["agent_id"], "sal",
                "an agent outside the subscription: {m}"
            );
        }
    }

    // Changing the set answers with a snapshot of the new set.
    s.c.send(json!({"type": "subscribe", "queues": ["general"]}))
        .await;
    let snap = loop {
        let m = s.next_update().await;
        if m["type"] == "snapshot" {
            break m;
        }
    };
    assert_eq!(snap["reason"], "subscribe");
    let names: Vec<&str> = snap["queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["queue"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["general"]);
    assert_eq!(snap["queues"][0]["waiting"], 1);
    let agents: Vec<&str> = snap["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["agent_id"].as_str().unwrap())
        .collect();
    assert_eq!(agents, vec!["gen"]);

    // A bad queue set is a typed error and changes nothing.
    s.c.send(json!({"type": "subscribe", "queues": ["NOT A QUEUE"]}))
        .await;
    let e = s.c.expect("error").await;
    assert_eq!(e["code"], "bad_json", "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_and_strangers_are_refused_at_the_handshake() {
    let app = spawn_app(|_| {}).await;
    let agent = app.agent("plain", &["general"], json!({})).await;
    let refused = |url: String| async move {
        match tokio_tungstenite::connect_async(&url).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(r)) => r.status().as_u16(),
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("upgraded: {url}"),
        }
    };
    // An agent's token is a valid staff token of the wrong role (docs/protocol.md).
    let agent_status = refused(app.ws_url(&format!("/ws/supervisor?token={agent}"))).await;
    assert_eq!(agent_status, 403, "agent role");
    assert_eq!(refused(app.ws_url("/ws/supervisor")).await, 401);
    assert_eq!(
        refused(app.ws_url("/ws/supervisor?token=forged")).await,
        401
    );
    // A visitor token is not a staff token.
    let (_c, w) = Client::visitor(&app).await;
    let visitor = w["token"].as_str().unwrap();
    assert_eq!(
        refused(app.ws_url(&format!("/ws/supervisor?token={visitor}"))).await,
        401
    );
    // A bad queue list is bad input.
    assert_eq!(
        refused(app.ws_url(&format!("/ws/supervisor?token={}&queues=Bad!", app.admin))).await,
        400
    );
    // The admin is let in.
    let s = Supervisor::connect(&app, &app.admin, "").await;
    assert_eq!(s.seen.len(), 1);

    // REST live figures and actions: agents refused too.
    let r = app
        .http
        .get(format!("{}/api/v1/supervisor/live", app.base))
        .bearer_auth(&agent)
        .send()
        .await
        .unwrap();
    assert!(matches!(r.status().as_u16(), 401 | 403));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_supervisor_is_dropped_to_a_snapshot_and_never_slows_routing() {
    const WINDOW: u64 = 4;
    const N: usize = 12;
    let app = spawn_app(|s| {
        s.limits.supervisor_window = WINDOW as usize;
        s.limits.supervisor_pushes_per_second = 50;
        s.timing.client_timeout_ms = 600_000;
    })
    .await;
    let a1 = app
        .agent(
            "a1",
            &["general"],
            json!({"capacity": {"voice": 1, "chat": 3, "email": 5, "messaging": 50}}),
        )
        .await;
    let sup = supervisor(&app, "sup").await;

    // The stalled client connects and never reads.
    let (stalled, _) =
        tokio_tungstenite::connect_async(app.ws_url(&format!("/ws/supervisor?token={sup}")))
            .await
            .unwrap();
    let mut healthy = Supervisor::connect(&app, &sup, "").await;
    let mut agent = Client::available(&app, &a1).await;

    // N conversations are routed and accepted one after another; the healthy
    // supervisor sees each answer, so the hub flushes at least N times meanwhile.
    for i in 0..N {
        app.inbound("sms", &format!("+1555020{i:02}"), "hello", None)
            .await;
        accept_next(&mut agent).await;
        healthy
            .until("the answer", |s| {
                s.queue("general")["interval"]["answered"] == (i + 1) as u64
            })
            .await;
    }
    assert_eq!(healthy.queue("general")["waiting"], 0);

    // The stalled subscriber holds exactly its window and owes a snapshot; the
    // healthy one is not behind.
    let (status, stats) = app.get("/api/v1/supervisor/subscribers").await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["window"], WINDOW);
    let subs = stats["subscribers"].as_array().unwrap();
    assert_eq!(subs.len(), 2, "{stats}");
    let stalled_stats = subs
        .iter()
        .find(|s| s["behind"] == true)
        .expect("one behind");
    assert_eq!(stalled_stats["in_flight"], WINDOW, "{stats}");
    assert_eq!(stalled_stats["last_seq"], WINDOW);
    assert!(stalled_stats["deltas_dropped"].as_u64().unwrap() > 0);
    let healthy_stats = subs.iter().find(|s| s["behind"] == false).expect("one not");
    assert!(healthy_stats["last_seq"].as_u64().unwrap() > WINDOW);

    // Now the stalled client reads: the snapshot and the deltas of its window, no
    // more; acknowledging them brings a fresh snapshot with the current figures.
    let mut c = Client::from_stream(stalled);
    let mut got = Vec::new();
    for _ in 0..WINDOW {
        got.push(c.next().await);
    }
    assert_eq!(got[0]["type"], "snapshot");
    assert!(got[1..].iter().all(|m| m["type"] == "delta"));
    let seqs: Vec<u64> = got.iter().map(|m| m["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=WINDOW).collect::<Vec<_>>());
    // Nothing beyond the window was sent: the pong comes next.
    c.send(json!({"type": "ping", "nonce": "n1"})).await;
    let p = c.next().await;
    assert_eq!(p["type"], "pong", "{p}");
    c.send(json!({"type": "ack", "seq": WINDOW})).await;
    let resync = c.expect("snapshot").await;
    assert_eq!(resync["reason"], "resync");
    assert_eq!(resync["seq"], WINDOW + 1);
    let general = resync["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue"] == "general")
        .unwrap();
    assert_eq!(general["interval"]["answered"], N as u64);
    assert_eq!(general["waiting"], 0);
    let (_, stats) = app.get("/api/v1/supervisor/subscribers").await;
    let resynced = stats["subscribers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["session_id"] == stalled_stats["session_id"])
        .unwrap()
        .clone();
    assert_eq!(resynced["resyncs"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_figures_on_the_manual_clock_match_hand_computed_values() {
    // An interval boundary, so the whole script falls in one interval.
    let t0 = 1_800_000_000_000;
    let clock = ManualClock::new(Millis(t0));
    let app = spawn_app_with_clock(|_| {}, clock.clone()).await;
    // One messaging slot, no chat slot: SMS conversations go one at a time; the chat
    // visitor is never offered and abandons.
    let a1 = app
        .agent(
            "a1",
            &["general"],
            json!({"capacity": {"voice": 0, "chat": 0, "email": 0, "messaging": 1}}),
        )
        .await;
    let mut agent = Client::agent(&app, &a1).await;

    // t = 0: c1, c2 by SMS and c3 on web chat arrive.
    app.inbound("sms", "+15550301", "c1", None).await;
    app.inbound("sms", "+15550302", "c2", None).await;
    let (mut c3, _) = Client::visitor(&app).await;
    chat_say(&mut c3, "c3").await;

    // t = 10 s: the agent takes c1 (waited 10 s).
    clock.advance_ms(10_000);
    agent
        .send(json!({"type": "set_status", "status": "available"}))
        .await;
    let conv1 = accept_next(&mut agent).await;
    // t = 30 s: c1 resolved (handled 20 s); c2 offered and taken (waited 30 s); c3
    // leaves (abandoned after 30 s).
    clock.advance_ms(20_000);
    agent
        .send(json!({"type": "resolve", "conversation_id": conv1["id"]}))
        .await;
    let conv2 = accept_next(&mut agent).await;
    c3.send(json!({"type": "leave"})).await;
    // t = 40 s: c4 arrives; t = 45 s: c2 resolved (handled 15 s), c4 taken (waited 5 s).
    clock.advance_ms(10_000);
    app.inbound("sms", "+15550304", "c4", None).await;
    clock.advance_ms(5_000);
    agent
        .send(json!({"type": "resolve", "conversation_id": conv2["id"]}))
        .await;
    accept_next(&mut agent).await;

    let live = app
        .get_until("/api/v1/supervisor/live", "the scripted figures", |v| {
            let q = &v["queues"][0];
            q["interval"]["answered"] == 3
                && q["interval"]["abandoned"] == 1
                && q["interval"]["handled"] == 2
                && v["agents"][0]["state"] == "busy"
        })
        .await;
    let q = &live["queues"][0];
    assert_eq!(q["queue"], "general");
    let i = &q["interval"];
    assert_eq!(i["start"], t0);
    assert_eq!(i["offered"], 4);
    // In service level (20 s): c1 (10 s) and c4 (5 s) of 4 outcomes.
    assert_eq!(i["answered_within_threshold"], 2);
    assert_eq!(i["service_level"], 0.5);
    // ASA (10 + 30 + 5) / 3 = 15 s; p50 = 10 s, p90 = 30 s by nearest rank.
    assert!(close(&i["asa_seconds"], 15.0), "{i}");
    assert!(close(&i["wait_p50_seconds"], 10.0), "{i}");
    assert!(close(&i["wait_p90_seconds"], 30.0), "{i}");
    assert!(close(&i["wait_p99_seconds"], 30.0), "{i}");
    assert_eq!(i["abandonment_rate"], 0.25);
    // AHT (20 + 15) / 2 = 17.5 s.
    assert!(close(&i["aht_seconds"], 17.5), "{i}");
    // Nobody waits, no free slot: a newcomer waits one AHT over 1 staffed slot.
    assert_eq!(q["waiting"], 0);
    assert_eq!(q["slots_available"], 0);
    assert!(close(&q["ewt_seconds"], 17.5), "{q}");
    assert_eq!(q["offers"]["offered"], 3);
    assert_eq!(q["offers"]["accepted"], 3);
    assert_eq!(q["occupancy"], 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisors_set_status_move_agents_and_change_queue_settings() {
    let app = spawn_app(|_| {}).await;
    app.queue("sales", json!({})).await;
    let a1 = app.agent("a1", &["general"], json!({})).await;
    let sup = supervisor(&app, "sup").await;
    let mut agent = Client::available(&app, &a1).await;
    let mut s = Supervisor::connect(&app, &sup, "").await;
    let as_sup = |method: reqwest::Method, path: &str| {
        app.http
            .request(method, format!("{}{}", app.base, path))
            .bearer_auth(&sup)
    };

    // Away with a reason, set by the supervisor: the agent's desktop is told.
    let r = as_sup(reqwest::Method::POST, "/api/v1/supervisor/agents/a1/status")
        .json(&json!({"status": "away", "reason": "coaching"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let st = agent.expect("status").await;
    assert_eq!(
        (st["status"].as_str(), st["reason"].as_str()),
        (Some("away"), Some("coaching"))
    );
    // Waits for this away (with its reason): the snapshot may still show the agent's
    // earlier away from login, before it became available.
    s.until("a1 away for coaching", |s| {
        s.agent_state("a1") == Some("away") && s.agents["a1"]["reason"] == "coaching"
    })
    .await;
    assert_eq!(s.agents["a1"]["reason"], "coaching");
    // Bad input changes nothing.
    for (path, body, want) in [
        (
            "/api/v1/supervisor/agents/a1/status",
            json!({"status": "busy"}),
            400,
        ),
        (
            "/api/v1/supervisor/agents/a1/status",
            json!({"status": "away", "reason": "x".repeat(101)}),
            400,
        ),
        (
            "/api/v1/supervisor/agents/ghost/status",
            json!({"status": "away"}),
            404,
        ),
    ] {
        let r = as_sup(reqwest::Method::POST, path)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), want, "{path} {body}");
    }
    // An agent may not do it.
    let r = app
        .http
        .post(format!("{}/api/v1/supervisor/agents/a1/status", app.base))
        .bearer_auth(&a1)
        .json(&json!({"status": "available"}))
        .send()
        .await
        .unwrap();
    assert!(matches!(r.status().as_u16(), 401 | 403));
    agent.assert_none_before_pong("status").await;

    // Moved to sales while a sales customer waits: offered at once once available.
    app.post(
        "/api/v1/inbound",
        json!({"channel": "sms", "address": "+15550401", "text": "sales", "queue": "sales"}),
    )
    .await;
    let r = as_sup(reqwest::Method::PUT, "/api/v1/supervisor/agents/a1/queues")
        .json(&json!({"queues": ["sales"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = as_sup(reqwest::Method::POST, "/api/v1/supervisor/agents/a1/status")
        .json(&json!({"status": "available"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let offer = agent.expect("offer").await;
    assert_eq!(offer["queue"], "sales");
    s.until("a1 in sales", |s| {
        s.agents
            .get("a1")
            .is_some_and(|a| a["queues"] == json!(["sales"]))
    })
    .await;
    let (_, profile) = app.get("/api/v1/agents/a1").await;
    assert_eq!(profile["queues"], json!(["sales"]));
    let r = as_sup(reqwest::Method::PUT, "/api/v1/supervisor/agents/a1/queues")
        .json(&json!({"queues": ["nowhere"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // Queue priority and overflow.
    let r = as_sup(reqwest::Method::PATCH, "/api/v1/supervisor/queues/sales")
        .json(&json!({"priority": 5, "overflow": {"after_ms": 60000, "to": "general"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, q) = app.get("/api/v1/queues/sales").await;
    assert_eq!(q["config"]["priority"], 5);
    assert_eq!(q["config"]["overflow"]["to"], "general");
    for body in [
        json!({"priority": 101}),
        json!({"overflow": {"after_ms": 60000, "to": "sales"}}),
        json!({"overflow": {"after_ms": 60000, "to": "nowhere"}}),
        json!({"overflow": {"after_ms": 10, "to": "general"}}),
        json!({"colour": "red"}),
    ] {
        let r = as_sup(reqwest::Method::PATCH, "/api/v1/supervisor/queues/sales")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{body}");
    }
    let (_, q) = app.get("/api/v1/queues/sales").await;
    assert_eq!(q["config"]["priority"], 5);
    let r = as_sup(reqwest::Method::PATCH, "/api/v1/supervisor/queues/sales")
        .json(&json!({"overflow": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, q) = app.get("/api/v1/queues/sales").await;
    assert!(q["config"]["overflow"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_is_served_and_its_api_documented() {
    let app = spawn_app(|_| {}).await;
    for (path, needle) in [
        ("/supervisor/", "app.js"),
        ("/supervisor/app.js", "/ws/supervisor"),
        ("/supervisor/vendor/uPlot.iife.min.js", "uPlot"),
        ("/supervisor/vendor/LICENSE.uPlot", "MIT"),
    ] {
        let r = app
            .http
            .get(format!("{}{}", app.base, path))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert!(r.text().await.unwrap().contains(needle), "{path}");
    }
    let (s, doc) = app.get("/api/v1/openapi.json").await;
    assert_eq!(s, 200);
    for p in [
        "/ws/supervisor",
        "/api/v1/supervisor/live",
        "/api/v1/supervisor/subscribers",
        "/api/v1/supervisor/agents/{id}/status",
        "/api/v1/supervisor/agents/{id}/queues",
        "/api/v1/supervisor/queues/{name}",
    ] {
        assert!(doc["paths"].get(p).is_some(), "openapi lacks {p}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_watches_any_conversation_live() {
    let app = spawn_app(|_| {}).await;
    let a1 = app.agent("a1", &["general"], json!({})).await;
    let sup = supervisor(&app, "sup").await;
    let mut agent = Client::available(&app, &a1).await;
    let (mut visitor, _) = Client::visitor(&app).await;
    chat_say(&mut visitor, "first").await;
    let conv = accept_next(&mut agent).await;
    let mut s = Supervisor::connect(&app, &sup, "").await;

    // Not someone's conversation, not a conversation at all: typed errors.
    s.c.send(json!({"type": "watch", "conversation_id": uuid::Uuid::new_v4()}))
        .await;
    let e = s.c.expect("error").await;
    assert_eq!(e["code"], "not_found", "{e}");

    s.c.send(json!({"type": "watch", "conversation_id": conv["id"]}))
        .await;
    let w = s.c.expect("watching").await;
    assert_eq!(w["conversation"]["id"], conv["id"]);
    assert_eq!(w["conversation"]["agent"], "a1");
    assert!(w["conversation"]["recent"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["type"] == "message_in" && e["text"] == "first"));

    // The customer writes, the agent answers: the supervisor sees both as they happen.
    chat_say(&mut visitor, "second").await;
    let ev =
        s.c.expect_where("conversation_event", |m| m["event"]["type"] == "message_in")
            .await;
    assert_eq!(ev["conversation_id"], conv["id"]);
    assert_eq!(ev["event"]["text"], "second");
    agent_say(&mut agent, &conv["id"], "an answer").await;
    let ev =
        s.c.expect_where("conversation_event", |m| {
            m["event"]["type"] == "message_out"
        })
        .await;
    assert_eq!(ev["event"]["text"], "an answer");

    // Unwatched: nothing more.
    s.c.send(json!({"type": "unwatch", "conversation_id": conv["id"]}))
        .await;
    s.c.sync().await;
    chat_say(&mut visitor, "third").await;
    s.c.assert_none_before_pong("conversation_event").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_behind_past_the_stall_limit_is_closed_with_a_reason() {
    const WINDOW: u64 = 2;
    let app = spawn_app(|s| {
        s.limits.supervisor_window = WINDOW as usize;
        s.limits.supervisor_pushes_per_second = 50;
        // Behind at all: closed at the next flush.
        s.timing.supervisor_stall_ms = 0;
        s.timing.client_timeout_ms = 600_000;
    })
    .await;
    let a1 = app.agent("a1", &["general"], json!({})).await;
    let sup = supervisor(&app, "sup").await;
    let (stalled, _) =
        tokio_tungstenite::connect_async(app.ws_url(&format!("/ws/supervisor?token={sup}")))
            .await
            .unwrap();
    let mut healthy = Supervisor::connect(&app, &sup, "").await;
    let mut agent = Client::agent(&app, &a1).await;
    // Changes until the stalled socket is gone from the hub.
    for i in 0..50 {
        let status = if i % 2 == 0 { "available" } else { "away" };
        agent
            .send(json!({"type": "set_status", "status": status}))
            .await;
        agent.expect("status").await;
        healthy
            .until("the change", |s| {
                s.agent_state("a1") == Some(if i % 2 == 0 { "available" } else { "away" })
            })
            .await;
        let (_, stats) = app.get("/api/v1/supervisor/subscribers").await;
        if stats["subscribers"].as_array().unwrap().len() == 1 {
            break;
        }
    }
    let (_, stats) = app.get("/api/v1/supervisor/subscribers").await;
    assert_eq!(stats["subscribers"].as_array().unwrap().len(), 1, "{stats}");
    assert_eq!(stats["subscribers"][0]["behind"], false);

    // The stalled client finds its window of pushes, then the close and its reason.
    let mut c = Client::from_stream(stalled);
    let mut pushes = 0;
    let reason = loop {
        match c.next_frame().await {
            Some(tokio_tungstenite::tungstenite::Message::Text(_)) => pushes += 1,
            Some(tokio_tungstenite::tungstenite::Message::Close(f)) => {
                break f.map(|f| (u16::from(f.code), f.reason.to_string()))
            }
            Some(_) => continue,
            None => panic!("socket ended without a close frame"),
        }
    };
    assert_eq!(pushes, WINDOW, "only the window was ever sent");
    let (code, text) = reason.expect("a close reason");
    assert_eq!(code, 1008);
    assert!(text.contains("too slow"), "{text}");
}
