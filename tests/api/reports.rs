//! Historical reports end to end: a scripted hour of traffic on a clock the test moves,
//! then `GET /api/v1/reports` (JSON and CSV) checked against values computed by hand
//! (service level, ASA, AHT, abandonment, FCR, wait percentiles), and bad requests
//! answered with typed errors.

use crate::helpers::*;
use serde_json::{json, Value};
use switchboard::domain::time::ManualClock;
use switchboard::domain::{Clock, Millis, SystemClock};

const HOUR_MS: i64 = 3_600_000;

fn close(v: &Value, want: f64) -> bool {
    v.as_f64().is_some_and(|x| (x - want).abs() < 1e-9)
}

/// One contact over REST: it is offered to `agent`, who accepts after `wait_s`, talks
/// `talk_s`, optionally wraps up for `wrap_s`, and resolves.
async fn handled_contact(
    app: &TestApp,
    clock: &ManualClock,
    agent: &mut Client,
    address: &str,
    (wait_s, talk_s, wrap_s): (u64, u64, Option<u64>),
) -> Value {
    app.inbound("sms", address, "お問い合わせです", None).await;
    let offer = agent.expect("offer").await;
    clock.advance_ms(wait_s * 1000);
    agent
        .send(json!({"type": "accept", "offer_id": offer["offer_id"]}))
        .await;
    let conv = agent.expect("conversation_assigned").await["conversation"].clone();
    clock.advance_ms(talk_s * 1000);
    if let Some(w) = wrap_s {
        agent
            .send(json!({"type": "wrap_up", "conversation_id": conv["id"]}))
            .await;
        agent
            .expect_where("conversation_updated", |m| m["state"] == "wrap_up")
            .await;
        clock.advance_ms(w * 1000);
    }
    agent
        .send(json!({"type": "resolve", "conversation_id": conv["id"]}))
        .await;
    agent
        .expect_where("conversation_updated", |m| m["state"] == "resolved")
        .await;
    conv
}

async fn report(app: &TestApp, query: &str) -> Value {
    let (s, v) = app.get(&format!("/api/v1/reports?{query}")).await;
    assert_eq!(s, 200, "{query}: {v}");
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hour_of_traffic_matches_the_hand_computed_report() {
    // Start on a whole hour so every event of the script falls in one hourly bucket.
    let t0 = SystemClock.now().0.div_euclid(HOUR_MS) * HOUR_MS;
    let clock = ManualClock::new(Millis(t0));
    let mut app = spawn_app_with_clock(
        |s| s.reports.service_level_thresholds_seconds = vec![20, 60],
        clock.clone(),
    )
    .await;
    let ta = app.agent("alice", &["general"], json!({})).await;
    let mut alice = Client::available(&app, &ta).await;

    // The script (engine time from t0, seconds):
    //
    // | contact | offered | answered (wait) | handling | resolved |
    // |---|---|---|---|---|
    // | c1 | 0   | 5   (5)  | talk 100 + wrap-up 20 = 120 | 125 |
    // | c2 | 125 | 140 (15) | talk 200                    | 340 |
    // | c3 | 340 | 370 (30) | talk 60                     | 430 |
    // | c4 | 430 | 520 (90) | talk 300                    | 820 |
    // | c5 | 820 | —        | leaves after waiting 40 s (abandoned) at 860 |
    //
    // c4 writes again two hours later: its conversation is reopened (outside the
    // reported hour, inside the 7-day FCR window).
    handled_contact(
        &app,
        &clock,
        &mut alice,
        "+819000000001",
        (5, 100, Some(20)),
    )
    .await;
    handled_contact(&app, &clock, &mut alice, "+819000000002", (15, 200, None)).await;
    handled_contact(&app, &clock, &mut alice, "+819000000003", (30, 60, None)).await;
    handled_contact(&app, &clock, &mut alice, "+819000000004", (90, 300, None)).await;
    let (mut visitor, _) = Client::visitor(&app).await;
    chat_say(&mut visitor, "まだ待っています").await;
    let c5 = alice.expect("offer").await["conversation_id"].clone();
    clock.advance_ms(40_000);
    visitor.send(json!({"type": "leave"})).await;
    alice.expect("offer_revoked").await;
    // The queue records the rescinded offer in the background: let it land (the trace
    // and the report event are one commit) before the clock jumps two hours.
    app.trace_with(&c5, &["rescinded"]).await;
    clock.advance_ms(2 * HOUR_MS as u64);
    app.inbound("sms", "+819000000004", "もう一度お願いします", None)
        .await;
    alice.expect("offer").await;
    // Staff tokens expire by the engine clock: sign in again after the jump.
    app.admin = app.login("admin", ADMIN_PASSWORD).await;

    let hour = format!("from={t0}&to={}&interval=hour", t0 + HOUR_MS);
    // Offer outcomes are recorded by the queue actor in the background: wait for them.
    // c1..c4 accepted (4); c5's offer rescinded when the visitor left (1).
    let body = app
        .get_until(
            &format!("/api/v1/reports?{hour}&group=queue"),
            "offer outcomes in the report",
            |b| b["rows"][0]["offers_accepted"] == 4 && b["rows"][0]["offers_rescinded"] == 1,
        )
        .await;
    let rows = body["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 1, "{body:#}");
    let r = &rows[0];
    assert_eq!(r["bucket_start"], t0);
    assert_eq!(r["group"], "general");
    // Offered: c1..c5 = 5. Handled (answered): c1..c4 = 4. Abandoned: c5 = 1.
    assert_eq!(
        (
            r["offered"].as_u64(),
            r["handled"].as_u64(),
            r["abandoned"].as_u64()
        ),
        (Some(5), Some(4), Some(1))
    );
    // Abandon rate = abandoned / (handled + abandoned) = 1/5 = 0.2.
    assert!(close(&r["abandon_rate"], 0.2), "{r}");
    // Service level at 20 s = answered within 20 s / (handled + abandoned):
    // c1 (5 s) and c2 (15 s) → 2/5 = 0.4. At 60 s: + c3 (30 s) → 3/5 = 0.6.
    assert!(close(&r["service_level"], 0.4), "{r}");
    assert_eq!(r["service_level_threshold_seconds"], 20);
    assert!(close(&r["service_levels"]["60"], 0.6), "{r}");
    // ASA = (5 + 15 + 30 + 90) / 4 = 35 s.
    assert!(close(&r["asa_seconds"], 35.0), "{r}");
    // AHT = (120 + 200 + 60 + 300) / 4 = 170 s; talk (100+200+60+300)/4 = 165 s,
    // wrap-up (20+0+0+0)/4 = 5 s.
    assert!(close(&r["aht_seconds"], 170.0), "{r}");
    assert!(close(&r["talk_seconds_avg"], 165.0), "{r}");
    assert!(close(&r["wrap_seconds_avg"], 5.0), "{r}");
    // Waits of contacts that left the queue, sorted: [5, 15, 30, 40, 90] (n = 5).
    // Nearest rank: p50 = ⌈2.5⌉ = 3rd = 30 s; p90 = ⌈4.5⌉ = 5th = 90 s; p99 = 90 s.
    assert!(close(&r["wait_p50_seconds"], 30.0), "{r}");
    assert!(close(&r["wait_p90_seconds"], 90.0), "{r}");
    assert!(close(&r["wait_p99_seconds"], 90.0), "{r}");
    // Resolved: c1..c4 = 4; c4 was reopened within 7 days → FCR = 3/4 = 0.75.
    assert_eq!(
        (r["resolved"].as_u64(), r["fcr_resolved"].as_u64()),
        (Some(4), Some(3))
    );
    assert!(close(&r["fcr_rate"], 0.75), "{r}");
    assert_eq!(r["transfers"], 0);
    assert_eq!(
        (
            r["offers_rejected"].as_u64(),
            r["offers_timed_out"].as_u64()
        ),
        (Some(0), Some(0))
    );
    // CSAT has no writer yet: count 0, average unknown.
    assert_eq!(r["csat_count"], 0);
    assert!(r["csat_average"].is_null());

    // By agent: everything answered was alice's; offers and abandons have no agent.
    let body = report(&app, &format!("{hour}&group=agent")).await;
    let a = &body["rows"][0];
    assert_eq!(a["group"], "alice");
    assert_eq!(
        (a["handled"].as_u64(), a["offered"].as_u64()),
        (Some(4), Some(0))
    );
    assert!(close(&a["aht_seconds"], 170.0), "{a}");

    // By channel, per day: volume 4 SMS contacts and 1 web chat; the reopen (2 h later,
    // same day) is one more SMS offer.
    let day = format!(
        "from={t0}&to={}&interval=day&group=channel",
        t0 + 3 * HOUR_MS
    );
    let body = report(&app, &day).await;
    let volume: Vec<(String, u64)> = body["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["group"].as_str().unwrap_or("").to_owned(),
                r["offered"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    let total: u64 = volume.iter().map(|(_, n)| n).sum();
    assert_eq!(total, 6, "{volume:?}");
    assert!(volume.contains(&("chat".to_owned(), 1)), "{volume:?}");

    // CSV export: the same numbers, one header line and one line per row.
    let r = app
        .http
        .get(format!(
            "{}/api/v1/reports?{hour}&group=queue&thresholds=20",
            app.base
        ))
        .bearer_auth(&app.admin)
        .header("Accept", "text/csv")
        .send()
        .await
        .expect("csv request");
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap_or("")
        .starts_with("text/csv"));
    let text = r.text().await.expect("csv body");
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 2, "{text}");
    let header: Vec<&str> = lines[0].split(',').collect();
    let cells: Vec<&str> = lines[1].split(',').collect();
    let cell = |name: &str| {
        let i = header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("no column {name}: {text}"));
        cells[i]
    };
    assert_eq!(cell("group"), "general");
    assert_eq!(cell("offered"), "5");
    assert_eq!(cell("service_level_20s"), "0.4");
    assert_eq!(cell("asa_seconds"), "35");
    assert_eq!(cell("aht_seconds"), "170");
    assert_eq!(cell("wait_p90_seconds"), "90");
    assert_eq!(cell("fcr_rate"), "0.75");
    assert_eq!(cell("csat_average"), "");
    assert!(!header.contains(&"service_level_60s"), "thresholds=20 only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_report_requests_get_typed_errors() {
    let app = spawn_app(|s| {
        s.reports.max_range_ms = 31 * 24 * 3_600_000;
        s.reports.max_rows = 1_000;
    })
    .await;
    let t = 1_773_792_000_000i64;
    for (query, why) in [
        (
            format!("from={t}&to={}&interval=minute&group=queue", t + 1),
            "interval",
        ),
        (
            format!("from={t}&to={}&interval=hour&group=customer", t + 1),
            "group",
        ),
        (
            format!("from={t}&to={t}&interval=hour&group=queue"),
            "empty range",
        ),
        (
            format!("from={}&to={t}&interval=day&group=queue", t + 5),
            "reversed range",
        ),
        (
            format!(
                "from={t}&to={}&interval=day&group=queue",
                t + 40 * 86_400_000
            ),
            "range too long",
        ),
        (
            format!(
                "from={t}&to={}&interval=15m&group=queue",
                t + 30 * 86_400_000
            ),
            "too many rows",
        ),
        (
            format!(
                "from={t}&to={}&interval=day&group=queue&thresholds=0",
                t + 1
            ),
            "threshold 0",
        ),
        (
            format!(
                "from={t}&to={}&interval=day&group=queue&thresholds=a",
                t + 1
            ),
            "threshold text",
        ),
        (
            format!(
                "from={t}&to={}&interval=day&group=queue&utc_offset_minutes=900",
                t + 1
            ),
            "offset",
        ),
        (
            format!("from={t}&to={}&interval=day&group=queue&format=xml", t + 1),
            "format",
        ),
        (
            format!(
                "from={t}&to={}&interval=day&group=queue&queue=Bad%20Name",
                t + 1
            ),
            "queue",
        ),
        (
            format!("from=x&to={}&interval=day&group=queue", t + 1),
            "from not a number",
        ),
        (
            format!("to={}&interval=day&group=queue", t + 1),
            "from missing",
        ),
        (
            format!("from={t}&to={}&interval=day&group=queue&extra=1", t + 1),
            "unknown parameter",
        ),
    ] {
        let (s, v) = app.get(&format!("/api/v1/reports?{query}")).await;
        assert_eq!(s, 400, "{why}: {v}");
        assert_eq!(v["code"], "invalid", "{why}: {v}");
    }
    // A valid request over an empty log: no rows.
    let (s, v) = app
        .get(&format!(
            "/api/v1/reports?from={t}&to={}&interval=week&group=agent",
            t + 86_400_000
        ))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["rows"], json!([]));
    // The OpenAPI document describes the endpoint and its parameters.
    let (_, doc) = app.get("/api/v1/openapi.json").await;
    let params: Vec<&str> = doc["paths"]["/api/v1/reports"]["get"]["parameters"]
        .as_array()
        .expect("reports parameters")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(
        params,
        [
            "from",
            "to",
            "interval",
            "group",
            "queue",
            "thresholds",
            "utc_offset_minutes",
            "format"
        ]
    );
    // Agents may not read reports; nor may anyone without a token.
    let token = app.agent("plain", &["general"], json!({})).await;
    let url = format!(
        "{}/api/v1/reports?from={t}&to={}&interval=day&group=queue",
        app.base,
        t + 1
    );
    let r = app
        .http
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert!(matches!(r.status().as_u16(), 401 | 403), "{}", r.status());
    let r = app.http.get(&url).send().await.expect("request");
    assert_eq!(r.status(), 401);
}

/// The answer time of a conversation held across a restart is not lost: the customer
/// actor rebuilds it from the timeline, so the handle time counts from the answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handle_time_survives_a_restart() {
    let t0 = SystemClock.now().0.div_euclid(HOUR_MS) * HOUR_MS;
    let clock = ManualClock::new(Millis(t0));
    let app = spawn_app_with_clock(|_| {}, clock.clone()).await;
    let ta = app.agent("kato", &["general"], json!({})).await;
    let mut a = Client::available(&app, &ta).await;
    // Offered at 0 s, answered at 10 s, the engine restarts at 60 s, resolved at 90 s:
    // wait 10 s, handle (talk) 90 − 10 = 80 s.
    app.inbound("sms", "+819000000777", "再起動をまたぐ問い合わせ", None)
        .await;
    let offer = a.expect("offer").await;
    clock.advance_ms(10_000);
    a.send(json!({"type": "accept", "offer_id": offer["offer_id"]}))
        .await;
    let conv = a.expect("conversation_assigned").await["conversation"].clone();
    clock.advance_ms(50_000);
    a.close().await;
    let dir = app.stop();
    let app = spawn_app_in_with_clock(dir, |_| {}, clock.clone()).await;
    let mut a = Client::connect(&app.ws_url(&format!("/ws/agent?token={ta}"))).await;
    let w = a.expect("welcome").await;
    assert_eq!(w["conversations"][0]["id"], conv["id"], "{w}");
    clock.advance_ms(30_000);
    a.send(json!({"type": "resolve", "conversation_id": conv["id"]}))
        .await;
    a.expect_where("conversation_updated", |m| m["state"] == "resolved")
        .await;
    let body = report(
        &app,
        &format!("from={t0}&to={}&interval=hour&group=agent", t0 + HOUR_MS),
    )
    .await;
    let r = &body["rows"][0];
    assert_eq!(r["group"], "kato", "{body}");
    assert!(close(&r["asa_seconds"], 10.0), "{r}");
    assert!(close(&r["aht_seconds"], 80.0), "{r}");
    assert_eq!(r["resolved"], 1);
}

/// A range holding more report events than `reports.max_events` is refused, not cut.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_events_is_a_typed_error() {
    let app = spawn_app(|s| s.reports.max_events = 2).await;
    let t0 = SystemClock.now().0 - HOUR_MS;
    for n in 1..=3 {
        app.inbound("sms", &format!("+81900000080{n}"), "件数制限", None)
            .await;
    }
    let query = format!(
        "/api/v1/reports?from={t0}&to={}&interval=day&group=queue",
        t0 + 2 * HOUR_MS
    );
    let (s, v) = app.get(&query).await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["code"], "invalid");
    assert!(
        v["message"].as_str().unwrap_or("").contains("max_events"),
        "{v}"
    );
}

/// Transfers and channel switches, end to end: a contact answered in `general` is
/// transferred to `billing`, where the customer moves to email before it is resolved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_splits_handling_between_queues_and_agents() {
    let t0 = SystemClock.now().0.div_euclid(HOUR_MS) * HOUR_MS;
    let clock = ManualClock::new(Millis(t0));
    let app = spawn_app_with_clock(|_| {}, clock.clone()).await;
    app.queue("billing", json!({})).await;
    let ta = app.agent("abe", &["general"], json!({})).await;
    let tb = app.agent("endo", &["billing"], json!({})).await;
    let mut a = Client::available(&app, &ta).await;
    let mut b = Client::available(&app, &tb).await;

    // 0 s offered in general; abe answers at 4 s (wait 4); transfers to billing at
    // 64 s (talk 60); endo answers at 70 s (wait 6 from the transfer); the customer
    // writes by email at 80 s (channel switch); endo resolves at 110 s (talk 40).
    app.inbound("sms", "+819000000555", "請求について", None)
        .await;
    let offer = a.expect("offer").await;
    clock.advance_ms(4_000);
    a.send(json!({"type": "accept", "offer_id": offer["offer_id"]}))
        .await;
    let conv = a.expect("conversation_assigned").await["conversation"].clone();
    clock.advance_ms(60_000);
    a.send(json!({"type": "transfer", "conversation_id": conv["id"], "queue": "billing"}))
        .await;
    let offer = b.expect("offer").await;
    assert_eq!(offer["conversation_id"], conv["id"]);
    clock.advance_ms(6_000);
    b.send(json!({"type": "accept", "offer_id": offer["offer_id"]}))
        .await;
    b.expect("conversation_assigned").await;
    let customer = conv["customer"]["id"].as_str().expect("customer id");
    let (s, v) = app
        .post(
            &format!("/api/v1/customers/{customer}/identities"),
            json!({"channel": "email", "address": "seikyu@example.jp"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    clock.advance_ms(10_000);
    app.inbound("email", "seikyu@example.jp", "メールで失礼します", None)
        .await;
    clock.advance_ms(30_000);
    b.send(json!({"type": "resolve", "conversation_id": conv["id"]}))
        .await;
    b.expect_where("conversation_updated", |m| m["state"] == "resolved")
        .await;

    let hour = format!("from={t0}&to={}&interval=hour", t0 + HOUR_MS);
    let body = report(&app, &format!("{hour}&group=queue")).await;
    let rows = body["rows"].as_array().expect("rows");
    let row = |q: &str| {
        rows.iter()
            .find(|r| r["group"] == q)
            .unwrap_or_else(|| panic!("no row for {q}: {body:#}"))
    };
    // billing: offered once (by transfer), answered after 6 s, handled 40 s, resolved
    // first contact, one channel switch.
    let billing = row("billing");
    assert_eq!(
        (billing["offered"].as_u64(), billing["handled"].as_u64()),
        (Some(1), Some(1))
    );
    assert!(close(&billing["asa_seconds"], 6.0), "{billing}");
    assert!(close(&billing["aht_seconds"], 40.0), "{billing}");
    assert_eq!(
        (
            billing["resolved"].as_u64(),
            billing["fcr_resolved"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(billing["channel_switches"], 1);
    assert_eq!(billing["transfers"], 0);
    // general: offered, answered after 4 s, handled 60 s until the transfer, which it
    // counts; not resolved there.
    let general = row("general");
    assert_eq!(
        (general["offered"].as_u64(), general["handled"].as_u64()),
        (Some(1), Some(1))
    );
    assert!(close(&general["asa_seconds"], 4.0), "{general}");
    assert!(close(&general["aht_seconds"], 60.0), "{general}");
    assert_eq!(
        (general["transfers"].as_u64(), general["resolved"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(general["channel_switches"], 0);

    // By channel: the switch is counted on email (the channel moved to).
    let body = report(&app, &format!("{hour}&group=channel")).await;
    let email = body["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["group"] == "email")
        .cloned()
        .unwrap_or_default();
    assert_eq!(email["channel_switches"], 1, "{body:#}");
}
