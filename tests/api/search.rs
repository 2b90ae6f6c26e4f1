//! Conversation search (docs/search.md) over real HTTP: 10,000 conversations written to
//! the store as the engine writes them are indexed from its report events; Japanese and
//! English words find exactly the conversations that say them, and every filter
//! narrows to exactly the expected set (the generator knows the truth); agents find
//! only their own conversations; a conversation served live through the engine is
//! found after its resolution; an erased customer's conversations leave the index; the
//! index survives a restart and is rebuilt from the store when its directory is gone;
//! bad input is refused.

use crate::helpers::*;
use serde_json::{json, Value};
use switchboard::domain::{ConversationId, CustomerId, ReportEvent};
use switchboard::store::Batch;

const N: usize = 10_000;
const AGENTS: [&str; 3] = ["srch-alice", "srch-bob", "srch-carol"];
const CHANNELS: [&str; 4] = ["chat", "email", "sms", "line"];
const QUEUES: [&str; 2] = ["support", "billing"];
const DISPOSITIONS: [&str; 3] = ["resolved", "refund", "exchange"];
const JA: [&str; 5] = [
    "返品について相談したいです。サイズが合いませんでした。",
    "配送が遅れています。いつ届きますか。",
    "請求書の金額が違うようです。",
    "パスワードを忘れてログインできません。",
    "届いた商品が壊れていました。",
];
const EN: [&str; 5] = [
    "I would like to return my shoes, they do not fit.",
    "My delivery is late, when will it arrive?",
    "The invoice amount looks wrong.",
    "I forgot my password and cannot sign in.",
    "The item arrived broken.",
];
/// Conversations with a word nobody else uses.
const RARE_JA: usize = 1_234;
const RARE_EN: usize = 5_678;

/// What the generator made of conversation `i`.
struct Gen {
    conversation: ConversationId,
    customer: CustomerId,
    japanese: bool,
    topic: usize,
    channel: &'static str,
    queue: &'static str,
    agent: &'static str,
    disposition: &'static str,
    csat: Option<u8>,
    gold: bool,
    at: i64,
}

fn generated(i: usize, base: i64) -> Gen {
    Gen {
        conversation: ConversationId(uuid::Uuid::from_u128(0x5ea4_0000_0000 + i as u128)),
        customer: CustomerId(uuid::Uuid::from_u128(0xc057_0000_0000 + i as u128)),
        japanese: i.is_multiple_of(2),
        topic: (i / 2) % 5,
        channel: CHANNELS[(i / 10) % 4],
        queue: QUEUES[(i / 3) % 2],
        agent: AGENTS[i % 3],
        disposition: DISPOSITIONS[(i / 5) % 3],
        csat: (!i.is_multiple_of(3)).then_some((i % 5 + 1) as u8),
        gold: i.is_multiple_of(7),
        at: base + i as i64 * 60_000,
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The engine's records of generated conversation `g`: customer, conversation,
/// messages, assignment, survey, and the `resolved` report event the feed follows.
fn write(batch: &mut Batch, i: usize, g: &Gen) {
    let mut text = if g.japanese { JA[g.topic] } else { EN[g.topic] }.to_owned();
    if i == RARE_JA {
        text.push_str("エスプレッソマシンから水が漏れます。");
    }
    if i == RARE_EN {
        text.push_str(" Also my espresso machine leaks water.");
    }
    let customer: switchboard::domain::Customer = serde_json::from_value(json!({
        "id": g.customer, "display_name": format!("Customer {i}"), "identities": [],
        "priority": 0, "attributes": {"plan": if g.gold { "gold" } else { "basic" }},
        "created_at": g.at,
    }))
    .unwrap();
    let conversation: switchboard::domain::Conversation = serde_json::from_value(json!({
        "id": g.conversation, "customer_id": g.customer, "channel": g.channel,
        "queue": g.queue, "state": "resolved", "priority": 0, "created_at": g.at,
        "enqueued_at": g.at, "enqueue_seq": i, "agent": null, "preferred_agent": null,
        "disposition": g.disposition, "updated_at": g.at + 5_000,
    }))
    .unwrap();
    let event = |n: i64, kind: Value| -> switchboard::domain::TimelineEvent {
        let mut e = kind;
        e["id"] = json!(switchboard::domain::EventId::new());
        e["customer_id"] = json!(g.customer);
        e["conversation_id"] = json!(g.conversation);
        e["at"] = json!(g.at + n);
        serde_json::from_value(e).unwrap()
    };
    batch.events.push(event(
        0,
        json!({"type": "message_in", "channel": g.channel,
        "address": format!("addr-{i}"), "text": text}),
    ));
    batch
        .events
        .push(event(1, json!({"type": "assigned", "agent_id": g.agent})));
    batch.events.push(event(
        2,
        json!({"type": "message_out", "channel": g.channel,
        "agent_id": g.agent, "text": "Thank you, we are on it."}),
    ));
    if let Some(score) = g.csat {
        batch.events.push(event(
            3,
            json!({"type": "survey_answered", "channel": g.channel,
            "score": score, "scale_max": 5}),
        ));
    }
    let report: ReportEvent = serde_json::from_value(json!({
        "id": switchboard::domain::EventId::new(), "at": g.at + 4, "queue": g.queue,
        "channel": g.channel, "conversation": g.conversation, "customer": g.customer,
        "agent": g.agent, "kind": "resolved", "first_contact": true,
    }))
    .unwrap();
    batch.customers.push(customer);
    batch.conversations.push(conversation);
    batch.report_events.push(report);
}

async fn seed(app: &TestApp, base: i64) -> Vec<Gen> {
    let engine = app.engine.as_ref().unwrap();
    let gens: Vec<Gen> = (0..N).map(|i| generated(i, base)).collect();
    for chunk in (0..N).collect::<Vec<_>>().chunks(500) {
        let mut batch = Batch::default();
        for &i in chunk {
            write(&mut batch, i, &gens[i]);
        }
        engine.store.commit(batch).await.unwrap();
    }
    gens
}

async fn catch_up(app: &TestApp) {
    let engine = app.engine.as_ref().unwrap();
    engine
        .search()
        .expect("search is on")
        .catch_up(engine.now().0)
        .await
        .unwrap();
}

async fn search_as(app: &TestApp, token: &str, query: &[(&str, &str)]) -> (u16, Value) {
    let r = app
        .http
        .get(format!("{}/api/v1/search/conversations", app.base))
        .query(query)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn search(app: &TestApp, query: &[(&str, &str)]) -> Value {
    let (s, v) = search_as(app, &app.admin, query).await;
    assert_eq!(s, 200, "{query:?}: {v}");
    v
}

fn conversation_ids(v: &Value) -> Vec<String> {
    let mut ids: Vec<String> = v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["conversation_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

fn expected(gens: &[Gen], keep: impl Fn(&Gen) -> bool) -> Vec<String> {
    let mut ids: Vec<String> = gens
        .iter()
        .filter(|g| keep(g))
        .map(|g| g.conversation.to_string())
        .collect();
    ids.sort();
    ids
}

fn quiet(s: &mut switchboard::config::Settings) {
    // Rounds only when the test asks (`catch_up`), so what is indexed is known.
    s.search.poll_ms = 0;
}

#[actix_rt::test]
async fn ten_thousand_conversations_are_found_by_words_and_narrowed_by_filters() {
    let app = spawn_app(quiet).await;
    let base = now_ms() - 8 * 86_400_000;
    let gens = seed(&app, base).await;
    catch_up(&app).await;

    // Japanese and English words, each finding exactly the conversations saying them.
    let v = search(&app, &[("q", "エスプレッソマシン")]).await;
    assert_eq!(
        conversation_ids(&v),
        expected(&gens[RARE_JA..=RARE_JA], |_| true)
    );
    assert!(
        v["hits"][0]["snippet"]
            .as_str()
            .unwrap()
            .contains("エスプレッソ"),
        "{v}"
    );
    let v = search(&app, &[("q", "espresso machine")]).await;
    assert_eq!(
        conversation_ids(&v),
        expected(&gens[RARE_EN..=RARE_EN], |_| true)
    );
    assert_eq!(v["hits"][0]["customer_name"], format!("Customer {RARE_EN}"));
    let v = search(&app, &[("q", "請求書の金額"), ("limit", "1")]).await;
    let invoices_ja = expected(&gens, |g| g.japanese && g.topic == 2);
    assert_eq!(v["total"], invoices_ja.len(), "{v}");
    let v = search(&app, &[("q", "invoice"), ("limit", "1")]).await;
    assert_eq!(
        v["total"],
        expected(&gens, |g| !g.japanese && g.topic == 2).len()
    );

    // Filters narrow to exactly the generator's set.
    let q = [
        ("q", "返品"),
        ("channel", "line"),
        ("agent", "srch-bob"),
        ("limit", "100"),
    ];
    let want = expected(&gens, |g| {
        g.japanese && g.topic == 0 && g.channel == "line" && g.agent == "srch-bob"
    });
    assert!(!want.is_empty() && want.len() <= 100);
    assert_eq!(conversation_ids(&search(&app, &q).await), want);
    let q = [
        ("q", "password"),
        ("queue", "support"),
        ("channel", "email"),
        ("disposition", "refund"),
        ("csat_min", "3"),
        ("limit", "100"),
    ];
    let want = expected(&gens, |g| {
        !g.japanese
            && g.topic == 3
            && g.queue == "support"
            && g.channel == "email"
            && g.disposition == "refund"
            && g.csat.is_some_and(|c| c >= 3)
    });
    assert!(!want.is_empty() && want.len() <= 100, "{}", want.len());
    assert_eq!(conversation_ids(&search(&app, &q).await), want);
    let (from, to) = (gens[4_000].at, gens[4_100].at);
    let (from_s, to_s) = (from.to_string(), to.to_string());
    let q = [
        ("attribute", "plan:GOLD"),
        ("from", from_s.as_str()),
        ("to", to_s.as_str()),
        ("limit", "100"),
    ];
    let want = expected(&gens, |g| g.gold && g.at >= from && g.at < to);
    let v = search(&app, &q).await;
    assert_eq!(conversation_ids(&v), want);
    // Without words: newest first.
    let ats: Vec<i64> = v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["created_at"].as_i64().unwrap())
        .collect();
    assert!(ats.windows(2).all(|w| w[0] >= w[1]), "{ats:?}");
    // Paging covers the set once.
    let mut paged = Vec::new();
    for offset in ["0", "100", "200"] {
        let v = search(
            &app,
            &[
                ("q", "返品"),
                ("channel", "line"),
                ("limit", "100"),
                ("offset", offset),
            ],
        )
        .await;
        paged.extend(conversation_ids(&v));
    }
    paged.sort();
    assert_eq!(
        paged,
        expected(&gens, |g| g.japanese && g.topic == 0 && g.channel == "line")
    );

    // An agent finds only what was assigned to them, whatever they ask.
    let alice = app.agent(AGENTS[0], &["general"], json!({})).await;
    let (s, v) = search_as(&app, &alice, &[("q", "password"), ("limit", "100")]).await;
    assert_eq!(s, 200);
    let mine = expected(&gens, |g| {
        !g.japanese && g.topic == 3 && g.agent == AGENTS[0]
    });
    assert_eq!(v["total"], mine.len());
    let (_, v) = search_as(&app, &alice, &[("q", "password"), ("agent", AGENTS[1])]).await;
    assert_eq!(v["total"], 0, "another agent's conversations: {v}");
}

#[actix_rt::test]
async fn bad_input_is_refused() {
    let app = spawn_app(quiet).await;
    let long = "x".repeat(2_000);
    for q in [
        vec![("q", long.as_str())],
        vec![("limit", "0")],
        vec![("limit", "101")],
        vec![("offset", "1001")],
        vec![("channel", "pigeon")],
        vec![("from", "10"), ("to", "5")],
        vec![("csat_min", "5"), ("csat_max", "1")],
        vec![("csat_min", "900")],
        vec![("attribute", "plan")],
        vec![("attribute", ":gold")],
        vec![("nonsense", "1")],
    ] {
        let (s, v) = search_as(&app, &app.admin, &q).await;
        assert_eq!(s, 400, "{q:?}: {v}");
    }
    let r = app
        .http
        .get(format!("{}/api/v1/search/conversations?q=x", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

/// A conversation served through the engine: found once resolved, by the agent who
/// served it and not by another; the customer's erasure removes it.
#[actix_rt::test]
async fn a_live_conversation_is_found_after_it_changes_and_forgotten_when_erased() {
    let app = spawn_app(quiet).await;
    let served = app.agent("srch-served", &["general"], json!({})).await;
    let other = app.agent("srch-other", &["general"], json!({})).await;
    let mut agent = Client::available(&app, &served).await;
    let sent = app
        .inbound(
            "sms",
            "+15550100",
            "The blender lid cracked on day one",
            None,
        )
        .await;
    let conv = accept_next(&mut agent).await;
    agent
        .send(
            json!({"type": "resolve", "conversation_id": conv["id"], "disposition": "replacement"}),
        )
        .await;
    agent
        .expect_where("conversation_updated", |m| m["state"] == "resolved")
        .await;
    catch_up(&app).await;
    let id = conv["id"].as_str().unwrap();
    let v = search(
        &app,
        &[("q", "blender lid"), ("disposition", "replacement")],
    )
    .await;
    assert_eq!(conversation_ids(&v), [id.to_owned()], "{v}");
    let hit = &v["hits"][0];
    assert_eq!(hit["channel"], "sms");
    assert_eq!(hit["state"], "resolved");
    assert_eq!(hit["agents"], json!(["srch-served"]));
    let (_, mine) = search_as(&app, &served, &[("q", "blender")]).await;
    assert_eq!(mine["total"], 1, "{mine}");
    let (_, theirs) = search_as(&app, &other, &[("q", "blender")]).await;
    assert_eq!(theirs["total"], 0, "{theirs}");
    // The search is in the audit log: it reads personal data.
    let (_, audit) = app.get("/api/v1/audit?limit=50").await;
    assert!(
        audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "GET /api/v1/search/conversations"
                && e["actor"] == "srch-served"
                && e["detail"]["query"] == "q=blender"),
        "{audit}"
    );

    let customer = sent["customer_id"].as_str().unwrap();
    let (s, v) = app
        .post(&format!("/api/v1/customers/{customer}/erase"), json!({}))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(search(&app, &[("q", "blender")]).await["total"], 0);
    // Named again by a later event, it is not indexed back.
    catch_up(&app).await;
    assert_eq!(search(&app, &[("q", "blender")]).await["total"], 0);
}

/// The index outlives a restart; deleted, it is rebuilt from the store.
#[actix_rt::test]
async fn the_index_survives_a_restart_and_is_rebuilt_from_the_store() {
    let app = spawn_app(quiet).await;
    let base = now_ms() - 86_400_000;
    let engine = app.engine.as_ref().unwrap();
    let mut batch = Batch::default();
    let gens: Vec<Gen> = (0..50).map(|i| generated(i, base)).collect();
    for (i, g) in gens.iter().enumerate() {
        write(&mut batch, i, g);
    }
    engine.store.commit(batch).await.unwrap();
    catch_up(&app).await;
    let invoices = expected(&gens, |g| !g.japanese && g.topic == 2);
    let count = |v: &Value| v["total"].as_u64().unwrap() as usize;
    assert_eq!(
        count(&search(&app, &[("q", "invoice")]).await),
        invoices.len()
    );

    let dir = app.stop();
    let app = spawn_app_in(dir, quiet).await;
    // Found before any round: the index was kept.
    assert_eq!(
        count(&search(&app, &[("q", "invoice")]).await),
        invoices.len()
    );
    let dir = app.stop();
    std::fs::remove_dir_all(dir.path().join("search")).unwrap();
    let app = spawn_app_in(dir, quiet).await;
    assert_eq!(
        count(&search(&app, &[("q", "invoice")]).await),
        0,
        "a new index"
    );
    catch_up(&app).await;
    assert_eq!(
        count(&search(&app, &[("q", "invoice")]).await),
        invoices.len()
    );
}

/// With rounds on (`search.poll_ms`), a stored conversation becomes searchable by
/// itself.
#[actix_rt::test]
async fn rounds_index_new_conversations_by_themselves() {
    let app = spawn_app(|s| s.search.poll_ms = 50).await;
    let engine = app.engine.as_ref().unwrap();
    let mut batch = Batch::default();
    let base = now_ms() - RARE_EN as i64 * 60_000 - 1_000;
    write(&mut batch, RARE_EN, &generated(RARE_EN, base));
    engine.store.commit(batch).await.unwrap();
    let mut found = Value::Null;
    for _ in 0..200 {
        found = search(&app, &[("q", "espresso")]).await;
        if found["total"] == 1 {
            break;
        }
        // Polls the observable outcome of the background rounds (no event to wait on).
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(found["total"], 1, "{found}");
}

/// The agent desktop's search panel in a real browser (clients/tests/search.mjs): the
/// agent finds and opens their own conversation by Japanese words, filters narrow it
/// away, another agent's conversation stays out of reach, and a bad range is shown as
/// the server's refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desktops_search_panel_in_a_real_browser() {
    const OTHER_TEXT: &str = "warranty claim for the toaster";
    let app = spawn_app(quiet).await;
    let mine = app.agent("srchui", &["general"], json!({})).await;
    let theirs = app.agent("srchui-other", &["general"], json!({})).await;

    let mut a = Client::available(&app, &mine).await;
    let (mut chat, _) = Client::visitor(&app).await;
    chat_say(&mut chat, "注文したスニーカーのサイズを交換したいです").await;
    let conv = accept_next(&mut a).await;
    a.send(json!({"type": "resolve", "conversation_id": conv["id"], "disposition": "exchange"}))
        .await;
    a.expect_where("conversation_updated", |m| m["state"] == "resolved")
        .await;
    a.send(json!({"type": "set_status", "status": "away"}))
        .await;
    a.expect("status").await;
    drop(a);
    drop(chat);

    let mut b = Client::available(&app, &theirs).await;
    app.inbound("sms", "+15550199", OTHER_TEXT, None).await;
    let conv2 = accept_next(&mut b).await;
    resolve(&mut b, &conv2).await;
    drop(b);
    catch_up(&app).await;
    assert_eq!(search(&app, &[("q", "スニーカー")]).await["total"], 1);
    assert_eq!(search(&app, &[("q", "toaster")]).await["total"], 1);

    run_browser_script(
        &app,
        "search.mjs",
        &[
            ("AGENT_ID", "srchui"),
            ("AGENT_PASSWORD", "srchui-password"),
            ("OTHER_TEXT", OTHER_TEXT),
        ],
        "search browser test passed",
    )
    .await;
}
