//! IVR trees over real sockets: the voice webhook walks a two-level tree by DTMF and by
//! speech and lands in the chosen queue, replays on bad input (bounded), reads a
//! knowledge-base article; the visual IVR reads the same tree and only the articles it
//! names over REST, without a token.

use crate::channels::{channels_on, customer_of, twilio_post, PUBLIC};
use crate::helpers::*;
use crate::recorder::Recorder;
use serde_json::{json, Value};
use switchboard::config::Settings;
use switchboard::domain::QueueName;
use switchboard::ivr::{Action, Menu, MenuOption, Text};

fn q(n: &str) -> QueueName {
    QueueName::parse(n).unwrap()
}

fn opt(key: char, ja: &str, en: &str, phrases: &[&str], action: Action) -> MenuOption {
    MenuOption {
        key: Some(key),
        phrases: phrases.iter().map(|s| s.to_string()).collect(),
        label: Text {
            ja: ja.into(),
            en: en.into(),
        },
        action,
        skills: Default::default(),
    }
}

/// main: 1 orders submenu, 2 billing (speech 請求 / billing), 3 returns article,
/// 4 web chat (visual only). orders: 1 delivery queue, 2 callback, 9 back.
pub fn tree(s: &mut Settings) {
    s.ivr.root = "main".into();
    s.ivr.max_retries = 1;
    s.ivr.menus = vec![
        Menu {
            id: "main".into(),
            prompt: Text {
                ja: "ご用件をお選びください。".into(),
                en: "Please choose.".into(),
            },
            options: vec![
                opt(
                    '1',
                    "ご注文",
                    "Orders",
                    &["注文", "order"],
                    Action::Menu("orders".into()),
                ),
                opt(
                    '2',
                    "ご請求",
                    "Billing",
                    &["請求", "billing"],
                    Action::Queue(q("billing")),
                ),
                opt(
                    '3',
                    "返品について",
                    "Returns",
                    &["返品"],
                    Action::Article("returns".into()),
                ),
                opt('4', "チャット", "Chat", &[], Action::Chat(q("general"))),
            ],
        },
        Menu {
            id: "orders".into(),
            prompt: Text {
                ja: "ご注文のメニューです。".into(),
                en: "Orders menu.".into(),
            },
            options: vec![
                opt(
                    '1',
                    "配送状況",
                    "Delivery",
                    &["配送"],
                    Action::Queue(q("orders")),
                ),
                opt(
                    '2',
                    "折り返し",
                    "Call me back",
                    &["折り返し"],
                    Action::Callback(Some(q("orders"))),
                ),
                opt('9', "戻る", "Back", &["戻る"], Action::Back),
            ],
        },
    ];
}

pub fn call(sid: &'static str, from: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("CallSid", sid),
        ("From", from),
        ("To", "+815012345678"),
        ("CallStatus", "in-progress"),
    ]
}

pub fn with<'a>(base: &[(&'a str, &'a str)], k: &'a str, v: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut p = base.to_vec();
    p.push((k, v));
    p
}

/// The menu webhook path (with its query) a TwiML `action` names.
fn action_path(twiml: &str) -> String {
    let a = twiml
        .split("action=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a Gather action");
    a.replace("&amp;", "&")
        .strip_prefix(PUBLIC)
        .expect("public url")
        .to_owned()
}

/// The queue a TwiML answer puts the caller in (`<Enqueue ...>{name}</Enqueue>`).
pub fn enqueued(twiml: &str) -> String {
    twiml
        .split("<Enqueue")
        .nth(1)
        .and_then(|s| s.split_once('>'))
        .and_then(|(_, s)| s.split("</Enqueue>").next())
        .unwrap_or_else(|| panic!("no Enqueue in {twiml}"))
        .to_owned()
}

pub async fn put_article(app: &TestApp, id: &str, title: &str, body: &str) {
    let engine = app.engine.as_ref().unwrap();
    let doc = json!({"title": title, "body": body, "language": "ja"});
    let batch = switchboard::store::Batch {
        records: vec![switchboard::store::RecordWrite::put(
            "kb_article",
            id,
            serde_json::to_vec(&doc).unwrap(),
        )],
        ..Default::default()
    };
    engine.store.commit(batch).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voice_tree_by_dtmf_two_levels_and_by_speech_chooses_the_queue() {
    let rec = Recorder::start().await;
    let app = spawn_app(|s| {
        channels_on(s, &rec);
        tree(s);
    })
    .await;
    app.queue("orders", json!({})).await;
    app.queue("billing", json!({})).await;
    let c = call("CA_T1", "+81311112222");
    let (status, twiml) = twilio_post(&app, "/webhooks/twilio/voice", &c, None).await;
    assert_eq!(status, 200);
    assert!(twiml.contains("input=\"dtmf speech\""), "{twiml}");
    assert!(twiml.contains("ご用件をお選びください。"), "{twiml}");
    assert!(twiml.contains("ご注文は1を"), "{twiml}");
    // The chat option is for the web only.
    assert!(!twiml.contains("チャットは4を"), "{twiml}");
    let root = action_path(&twiml);
    assert_eq!(root, "/webhooks/twilio/voice/menu");

    // 1: into the orders submenu; its position travels in the action URL.
    let (_, sub) = twilio_post(&app, &root, &with(&c, "Digits", "1"), None).await;
    assert!(sub.contains("ご注文のメニューです。"), "{sub}");
    let sub_path = action_path(&sub);
    assert_eq!(
        sub_path,
        "/webhooks/twilio/voice/menu?path=main.orders&try=0"
    );

    // A key not on the submenu replays it, one retry counted.
    let (_, again) = twilio_post(&app, &sub_path, &with(&c, "Digits", "7"), None).await;
    assert!(
        again.contains("もう一度お選びください。ご注文のメニューです。"),
        "{again}"
    );
    let retry_path = action_path(&again);
    assert_eq!(
        retry_path,
        "/webhooks/twilio/voice/menu?path=main.orders&try=1"
    );

    // 9 goes back to the root; 1 then 1 again chooses the orders queue.
    let (_, back) = twilio_post(&app, &retry_path, &with(&c, "Digits", "9"), None).await;
    assert!(back.contains("ご用件をお選びください。"), "{back}");
    let (_, routed) = twilio_post(&app, &sub_path, &with(&c, "Digits", "1"), None).await;
    let conv = enqueued(&routed);
    let (_, v) = app.get(&format!("/api/v1/conversations/{conv}")).await;
    assert_eq!(v["queue"], "orders");
    assert_eq!(v["channel"], "voice");
    assert_eq!(v["state"], "queued");

    // A second caller says what they want at the root (full-width, mid-sentence).
    let c2 = call("CA_T2", "+81333334444");
    twilio_post(&app, "/webhooks/twilio/voice", &c2, None).await;
    let (_, routed) = twilio_post(
        &app,
        "/webhooks/twilio/voice/menu",
        &with(&c2, "SpeechResult", "えーと、ご請求について聞きたいです"),
        None,
    )
    .await;
    let conv2 = enqueued(&routed);
    let (_, v) = app.get(&format!("/api/v1/conversations/{conv2}")).await;
    assert_eq!(v["queue"], "billing");
    let cid = customer_of(&app, "voice", "+81333334444").await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let t = app.timeline(&cid).await;
    let msg = t.iter().find(|e| e["type"] == "message_in").unwrap();
    assert_eq!(msg["text"], "着信 — IVR main: ご請求");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voice_bad_input_replays_then_gives_up_and_a_forged_position_restarts() {
    let rec = Recorder::start().await;
    let app = spawn_app(|s| {
        channels_on(s, &rec);
        tree(s);
    })
    .await;
    let c = call("CA_T3", "+81355556666");
    // Silence (no Digits) and an unknown phrase count as invalid: one replay, then
    // (max_retries = 1, no default action) a polite hang-up; no conversation.
    let (_, once) = twilio_post(&app, "/webhooks/twilio/voice/menu", &c, None).await;
    assert!(once.contains("もう一度お選びください。"), "{once}");
    let next = action_path(&once);
    assert_eq!(next, "/webhooks/twilio/voice/menu?path=main&try=1");
    let (_, gone) = twilio_post(&app, &next, &with(&c, "SpeechResult", "天気予報"), None).await;
    assert!(gone.contains("<Hangup/>"), "{gone}");
    assert!(!gone.contains("<Gather"), "{gone}");
    // The caller is a customer now (a call that ends in the menus is counted by the
    // self-service funnel), with nothing in their timeline.
    let cid = customer_of(&app, "voice", "+81355556666")
        .await
        .expect("the caller's customer")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(app.timeline(&cid).await.is_empty());
    // A path that is not an edge of the tree reads as the root.
    let (_, root) = twilio_post(
        &app,
        "/webhooks/twilio/voice/menu?path=main.nowhere&try=0",
        &with(&c, "Digits", "5"),
        None,
    )
    .await;
    assert!(root.contains("ご用件をお選びください。"), "{root}");
    // Forged signature on a deep path: refused.
    let (status, _) = twilio_post(
        &app,
        "/webhooks/twilio/voice/menu?path=main.orders&try=0",
        &with(&c, "Digits", "1"),
        Some("AAAA"),
    )
    .await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voice_reads_an_article_and_returns_to_the_menu() {
    let rec = Recorder::start().await;
    let app = spawn_app(|s| {
        channels_on(s, &rec);
        tree(s);
    })
    .await;
    put_article(
        &app,
        "returns",
        "返品について",
        "30日以内なら返品できます。",
    )
    .await;
    let c = call("CA_T4", "+81377778888");
    let (_, said) = twilio_post(
        &app,
        "/webhooks/twilio/voice/menu",
        &with(&c, "Digits", "3"),
        None,
    )
    .await;
    assert!(
        said.contains("返品について。30日以内なら返品できます。"),
        "{said}"
    );
    assert!(
        said.contains(&format!(
            "<Redirect method=\"POST\">{PUBLIC}/webhooks/twilio/voice/menu</Redirect>"
        )),
        "{said}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visual_ivr_serves_the_tree_and_only_its_articles_without_a_token() {
    let app = spawn_app(tree).await;
    put_article(
        &app,
        "returns",
        "返品について",
        "30日以内なら返品できます。",
    )
    .await;
    put_article(&app, "internal-only", "社内", "見せない").await;
    let r = app
        .http
        .get(format!("{}/api/v1/ivr", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["cache-control"].to_str().unwrap(),
        "public, max-age=60"
    );
    let t: Value = r.json().await.unwrap();
    assert_eq!(t["root"], "main");
    let main = &t["menus"][0];
    assert_eq!(main["prompt"]["en"], "Please choose.");
    assert_eq!(main["options"][0]["label"]["ja"], "ご注文");
    assert_eq!(main["options"][0]["label"]["en"], "Orders");
    assert_eq!(main["options"][0]["action"]["menu"], "orders");
    assert_eq!(main["options"][3]["action"]["chat"], "general");
    assert_eq!(t["menus"][1]["options"][2]["action"], "back");

    let get = |id: &str| {
        let url = format!("{}/api/v1/ivr/articles/{id}", app.base);
        let http = app.http.clone();
        async move {
            let r = http.get(url).send().await.unwrap();
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (s, a) = get("returns").await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["title"], "返品について");
    assert_eq!(a["body"], "30日以内なら返品できます。");
    // In the store but not in the tree: not readable here.
    let (s, e) = get("internal-only").await;
    assert_eq!(s, 404);
    assert_eq!(e["code"], "not_found");
    let (s, _) = get("nope").await;
    assert_eq!(s, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_tree_the_visual_ivr_is_not_found_and_bad_trees_fail_to_start() {
    let app = spawn_app(|_| {}).await;
    let r = app
        .http
        .get(format!("{}/api/v1/ivr", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    drop(app);
    let dir = tempfile::tempdir().unwrap();
    let mut s = test_settings(dir.path());
    tree(&mut s);
    s.ivr.menus[0].options[0].action = Action::Menu("missing".into());
    let err = switchboard::startup::Application::build(s)
        .await
        .err()
        .expect("a bad tree is refused");
    assert!(err.to_string().contains("unknown menu missing"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visual_ivr_chat_leaf_opens_in_its_queue_and_asks_a_callback_over_the_socket() {
    let app = spawn_app(|s| {
        tree(s);
        s.ivr.menus[0].options[3].action = Action::Chat(q("billing"));
        // The chat it opens needs an agent with billing at 2 or better.
        s.ivr.menus[0].options[3].skills = [(
            switchboard::domain::Skill::parse("billing").unwrap(),
            switchboard::domain::Proficiency::new(2).unwrap(),
        )]
        .into();
    })
    .await;
    app.queue("billing", json!({})).await;
    app.queue("orders", json!({})).await;
    let (mut chat, w) = Client::visitor(&app).await;
    // Only a chat option of the tree may name the queue.
    chat.send(json!({"type": "message", "client_msg_id": "m0", "text": "x", "queue": "orders"}))
        .await;
    let e = chat.expect("error").await;
    assert_eq!(
        (e["code"].as_str(), e["ref"].as_str()),
        (Some("invalid"), Some("m0")),
        "{e}"
    );
    chat.send(json!({"type": "message", "client_msg_id": "m1", "text": "請求書について", "queue": "billing"}))
        .await;
    let ack = chat.expect("ack").await;
    let conv = ack["conversation_id"].as_str().unwrap().to_owned();
    let (_, c) = app.get(&format!("/api/v1/conversations/{conv}")).await;
    assert_eq!(c["queue"], "billing");
    assert_eq!(c["channel"], "chat");
    assert_eq!(c["requirements"], json!({"billing": 2}), "{c}");

    // A bad number is refused; a good one turns the wait into a callback in place.
    chat.send(json!({"type": "request_callback", "phone": "0312345678"}))
        .await;
    assert_eq!(chat.expect("error").await["code"], "invalid");
    chat.send(json!({"type": "request_callback", "phone": "+81 3-1234-5678", "note": "午後", "ivr_path": ["main"]}))
        .await;
    let done = chat.expect("callback_requested").await;
    assert_eq!(done["conversation_id"], conv.as_str());
    assert_eq!(done["phone"], "+81312345678");
    let (_, c) = app.get(&format!("/api/v1/conversations/{conv}")).await;
    assert_eq!(c["channel"], "voice");
    assert_eq!(c["state"], "queued");
    assert_eq!(c["enqueued_at"], ack_enqueued(&app, &conv).await);
    let t = app.timeline(w["customer_id"].as_str().unwrap()).await;
    let r = t
        .iter()
        .find(|e| e["type"] == "callback_requested")
        .unwrap();
    assert_eq!(r["source"], "visual_ivr");
    assert_eq!(r["note"], "午後");
    // Closing the chat after asking for a callback is not abandoning: the call comes.
    chat.send(json!({"type": "leave"})).await;
    // Handled after the leave by the customer: still pending, so asked twice → conflict.
    chat.send(json!({"type": "request_callback", "phone": "+81312345678"}))
        .await;
    assert_eq!(chat.expect("error").await["code"], "conflict");
    let (_, c) = app.get(&format!("/api/v1/conversations/{conv}")).await;
    assert_eq!(c["state"], "queued");
    let t = app.timeline(w["customer_id"].as_str().unwrap()).await;
    assert!(!t.iter().any(|e| e["type"] == "abandoned"), "{t:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voice_default_action_runs_after_the_last_retry() {
    let rec = Recorder::start().await;
    let app = spawn_app(|s| {
        channels_on(s, &rec);
        tree(s);
        s.ivr.max_retries = 0;
        s.ivr.default_action = Some(Action::Queue(q("billing")));
    })
    .await;
    app.queue("billing", json!({})).await;
    let c = call("CA_T5", "+81399990000");
    let (_, routed) = twilio_post(
        &app,
        "/webhooks/twilio/voice/menu",
        &with(&c, "Digits", "8"),
        None,
    )
    .await;
    let conv = enqueued(&routed);
    let (_, v) = app.get(&format!("/api/v1/conversations/{conv}")).await;
    assert_eq!(v["queue"], "billing");
}

/// The conversation's enqueue time as its `queued` event recorded it (unchanged by a
/// callback request).
async fn ack_enqueued(app: &TestApp, conv: &str) -> Value {
    let (_, c) = app.get(&format!("/api/v1/conversations/{conv}")).await;
    let t = app.timeline(c["customer_id"].as_str().unwrap()).await;
    let q = t.iter().find(|e| e["type"] == "queued").unwrap();
    q["at"].clone()
}

/// The visual IVR and the callback task in a real browser (clients/tests/ivr_callback.mjs,
/// playwright-core + Debian chromium, as `browser.rs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visual_ivr_and_callback_task_in_a_real_browser() {
    let app = spawn_app(tree).await;
    put_article(
        &app,
        "returns",
        "返品について",
        "30日以内なら返品できます。",
    )
    .await;
    app.agent("ivrbrowser", &["general"], json!({})).await;
    run_browser_script(
        &app,
        "ivr_callback.mjs",
        &[
            ("AGENT_ID", "ivrbrowser"),
            ("AGENT_PASSWORD", "ivrbrowser-password"),
        ],
        "ivr browser test passed",
    )
    .await;
    // The page sent the menus it walked to the chat option with the first message: the
    // conversation opened with them (the funnel's `queue` step), then the callback.
    let engine = app.engine.as_ref().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let hour = |h: i64| switchboard::domain::Millis(now + h * 3_600_000);
    let events = engine
        .store
        .report_events(None, hour(-1), hour(1), 1_000)
        .await
        .unwrap();
    let steps: Vec<(String, Option<String>)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            switchboard::domain::ReportKind::SelfService {
                front: switchboard::domain::SelfServiceFront::VisualIvr,
                path,
                handoff,
                ..
            } => Some((path.join(">"), handoff.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("main".to_owned(), Some("queue".to_owned())),
            ("main".to_owned(), Some("callback".to_owned())),
        ]
    );
}
