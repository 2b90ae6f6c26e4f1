//! The FAQ bot over real sockets: answers from the knowledge base in Japanese and
//! English (web chat and SMS), an honest "not sure", hand-off on request (keyword or
//! the chat widget's button) and after N unanswered turns, with the whole bot
//! exchange visible to the agent who takes the conversation; sessions survive a
//! restart.

use crate::channels::{channels_on, sms_in};
use crate::helpers::*;
use crate::recorder::Recorder;
use serde_json::{json, Value};
use switchboard::config::Settings;

fn bot_on(s: &mut Settings) {
    s.bot.enabled = true;
    s.bot.max_unanswered_turns = 2;
}

async fn faq(app: &TestApp) {
    for (title, body, lang) in [
        (
            "返品方法について",
            "商品の返品はお届けから30日以内に承ります。マイページから返品を申請してください。",
            "ja",
        ),
        (
            "送料について",
            "送料は全国一律550円です。5,000円以上で送料無料です。",
            "ja",
        ),
        (
            "How to return an item",
            "You can return an item within 30 days of delivery from your order history.",
            "en",
        ),
        (
            "Shipping fees",
            "Shipping costs 550 yen; orders over 5,000 yen ship free.",
            "en",
        ),
    ] {
        let (s, v) = app
            .post(
                "/api/v1/kb/articles",
                json!({"title": title, "body": body, "language": lang}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
    }
}

async fn conversations(app: &TestApp, customer: &str) -> Vec<Value> {
    let (s, v) = app
        .get(&format!("/api/v1/customers/{customer}/conversations"))
        .await;
    assert_eq!(s, 200, "{v}");
    v.as_array().unwrap().clone()
}

/// Conversations offered in the reports over the last and next hour.
async fn offered(app: &TestApp) -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let q = format!(
        "from={}&to={}&interval=hour&group=queue",
        now - 3_600_000,
        now + 3_600_000
    );
    let (s, v) = app.get(&format!("/api/v1/reports?{q}")).await;
    assert_eq!(s, 200, "{v}");
    v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["offered"].as_u64().unwrap_or(0))
        .sum()
}

async fn bot_reply(chat: &mut Client) -> Value {
    chat.expect_where("event", |m| m["event"]["type"] == "bot_reply")
        .await["event"]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bot_answers_known_questions_in_japanese_and_english_over_web_chat() {
    let app = spawn_app(bot_on).await;
    faq(&app).await;

    let (mut chat, w) = Client::visitor(&app).await;
    let customer = w["customer_id"].as_str().unwrap().to_owned();
    chat_say(&mut chat, "返品したいのですが").await;
    let r = bot_reply(&mut chat).await;
    assert_eq!(r["article_title"], "返品方法について", "{r}");
    assert_eq!(r["kind"], "answer");
    assert!(r["text"].as_str().unwrap().contains("30日以内"));
    assert!(
        r["text"].as_str().unwrap().contains("オペレーター"),
        "Japanese footer: {r}"
    );
    // Bot-only: no conversation was opened, offered or queued.
    assert!(conversations(&app, &customer).await.is_empty());

    let (mut chat2, _) = Client::visitor(&app).await;
    chat_say(&mut chat2, "How much is shipping?").await;
    let r = bot_reply(&mut chat2).await;
    assert_eq!(r["article_title"], "Shipping fees", "{r}");
    assert!(r["text"].as_str().unwrap().contains("agent"));

    // Bot-only contacts are not offered (nor abandoned) in the reports.
    assert_eq!(offered(&app).await, 0);
    // The turns are in the timeline.
    let t = app.timeline(&customer).await;
    assert_eq!(types(&t), ["message_in", "bot_reply"], "{t:#?}");
    assert_eq!(t[0]["conversation_id"], t[1]["conversation_id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_questions_get_an_honest_answer_then_a_handoff_with_the_transcript() {
    let app = spawn_app(bot_on).await;
    faq(&app).await;
    let token = app.agent("alice", &["general"], json!({})).await;
    let mut agent = Client::available(&app, &token).await;

    let (mut chat, w) = Client::visitor(&app).await;
    let customer = w["customer_id"].as_str().unwrap().to_owned();
    chat_say(&mut chat, "パスワードを忘れました").await;
    let r = bot_reply(&mut chat).await;
    assert!(r.get("article_id").is_none(), "{r}");
    assert_eq!(r["kind"], "not_sure");
    assert!(
        r["text"].as_str().unwrap().contains("見つかりませんでした"),
        "{r}"
    );
    assert!(conversations(&app, &customer).await.is_empty());

    // The second unanswered turn hands off (max_unanswered_turns = 2).
    let ack = chat_say(&mut chat, "ログインできません").await;
    let r = bot_reply(&mut chat).await;
    assert!(
        r["text"]
            .as_str()
            .unwrap()
            .contains("担当者におつなぎします"),
        "{r}"
    );
    assert_eq!(r["kind"], "handoff");
    let queued = chat.expect("conversation").await;
    assert_eq!(queued["state"], "queued");
    assert_eq!(queued["id"], ack["conversation_id"]);

    let conv = accept_next(&mut agent).await;
    assert_eq!(conv["id"], ack["conversation_id"]);
    let recent = conv["recent"].as_array().unwrap();
    let handoff = recent
        .iter()
        .find(|e| e["type"] == "bot_handoff")
        .expect("bot_handoff in the agent's view");
    assert_eq!(handoff["reason"], "unanswered");
    assert_eq!(handoff["language"], "ja");
    let questions: Vec<&str> = handoff["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["question"].as_str().unwrap())
        .collect();
    assert_eq!(questions, ["パスワードを忘れました", "ログインできません"]);
    // Every bot turn belongs to the conversation the agent holds.
    let bot_turns: Vec<&Value> = recent
        .iter()
        .filter(|e| e["type"] == "message_in" || e["type"] == "bot_reply")
        .collect();
    assert_eq!(bot_turns.len(), 4, "{recent:#?}");
    assert!(bot_turns.iter().all(|e| e["conversation_id"] == conv["id"]));
    // The agent can read the transcript over REST too (it holds the conversation).
    let r = app
        .http
        .get(format!("{}/api/v1/customers/{customer}/timeline", app.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert!(v["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["type"] == "bot_handoff"));
    assert_eq!(conversations(&app, &customer).await.len(), 1);
    // The handed-off conversation counts like any other.
    assert_eq!(offered(&app).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_explicit_request_and_the_button_hand_off_at_once() {
    let app = spawn_app(bot_on).await;
    faq(&app).await;
    let token = app.agent("kenji", &["general"], json!({})).await;
    let mut agent = Client::available(&app, &token).await;

    // A confident answer first, then "オペレーター".
    let (mut chat, _) = Client::visitor(&app).await;
    chat_say(&mut chat, "送料はいくらですか").await;
    assert_eq!(bot_reply(&mut chat).await["article_title"], "送料について");
    chat_say(&mut chat, "オペレーターと話したい").await;
    chat.expect_where("conversation", |m| m["state"] == "queued")
        .await;
    let conv = accept_next(&mut agent).await;
    let h = conv["recent"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "bot_handoff")
        .cloned()
        .unwrap();
    assert_eq!(h["reason"], "requested");
    assert_eq!(h["transcript"][0]["question"], "送料はいくらですか");
    assert_eq!(h["transcript"][0]["article_title"], "送料について");
    assert_eq!(h["transcript"][1]["question"], "オペレーターと話したい");
    // Agent assist: suggestions for the conversation the agent holds, from what the
    // customer asked; another agent may not ask about it.
    let path = format!(
        "/api/v1/kb/suggest?conversation={}",
        conv["id"].as_str().unwrap()
    );
    let r = app
        .http
        .get(format!("{}{path}", app.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["hits"][0]["title"], "送料について", "{v}");
    let other = app.agent("mika", &["general"], json!({})).await;
    let r = app
        .http
        .get(format!("{}{path}", app.base))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Once a person has it, the bot stays out: the next message goes to the agent.
    chat_say(&mut chat, "送料について").await;
    let got = agent
        .expect_where("event", |m| m["event"]["type"] == "message_in")
        .await;
    assert_eq!(got["event"]["text"], "送料について");
    chat.assert_none_before_pong("bot_reply").await;

    // The widget's button.
    let (mut chat2, _) = Client::visitor(&app).await;
    chat_say(&mut chat2, "How do I return an item?").await;
    bot_reply(&mut chat2).await;
    chat2
        .send(json!({"type": "handoff", "client_msg_id": "b1", "text": "I'd like to talk to a person"}))
        .await;
    let ack = chat2
        .expect_where("ack", |m| m["client_msg_id"] == "handoff:b1")
        .await;
    let offer = agent.expect("offer").await;
    assert_eq!(offer["conversation_id"], ack["conversation_id"]);
    agent
        .send(json!({"type": "accept", "offer_id": offer["offer_id"]}))
        .await;
    let conv = agent
        .expect_where("conversation_assigned", |m| {
            m["conversation"]["id"] == ack["conversation_id"]
        })
        .await;
    let h = conv["conversation"]["recent"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "bot_handoff")
        .cloned()
        .unwrap();
    assert_eq!(h["reason"], "button");
    assert_eq!(h["language"], "en");
    assert_eq!(h["transcript"][0]["article_title"], "How to return an item");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bot_answers_over_sms_through_the_outbox() {
    let rec = Recorder::start().await;
    let app = spawn_app(|s| {
        channels_on(s, &rec);
        bot_on(s);
    })
    .await;
    faq(&app).await;
    let (s, _) = sms_in(&app, "SMbot1", "+819011112222", "送料を教えてください").await;
    assert!(s < 300, "{s}");
    let sent = rec.wait_for("/Messages.json", 1).await;
    let form = sent[0].form();
    assert_eq!(form["To"], "+819011112222");
    assert!(
        form["Body"].starts_with("送料について\n送料は全国一律550円です。"),
        "{form:?}"
    );
    let (_, v) = app
        .get("/api/v1/customers?channel=sms&address=%2B819011112222")
        .await;
    let customer = v["id"].as_str().unwrap().to_owned();
    let t = app
        .timeline_until(&customer, "sent status", |t| {
            t.iter().any(|e| e["type"] == "message_status")
        })
        .await;
    let reply = t.iter().find(|e| e["type"] == "bot_reply").unwrap();
    assert_eq!(reply["channel"], "sms");
    assert!(conversations(&app, &customer).await.is_empty());

    // The running session is durable, and erasing the customer deletes it.
    let store = app.engine.as_ref().unwrap().store.clone();
    assert!(store
        .record("bot_session", &customer)
        .await
        .unwrap()
        .is_some());
    let (s, v) = app
        .post(&format!("/api/v1/customers/{customer}/erase"), json!({}))
        .await;
    assert_eq!(s, 200, "{v}");
    assert!(store
        .record("bot_session", &customer)
        .await
        .unwrap()
        .is_none());
}

/// On WhatsApp the bot's answer carries a reply button that asks for a person
/// (`bot.handoff_button`); tapping it hands off at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bots_handoff_button_travels_as_a_whatsapp_reply_button() {
    let rec = Recorder::start().await;
    let app = spawn_app(|s| {
        channels_on(s, &rec);
        bot_on(s);
        s.bot.channels.push(switchboard::domain::Channel::Whatsapp);
    })
    .await;
    faq(&app).await;
    let token = app.agent("alice", &["general"], json!({})).await;
    let mut agent = Client::available(&app, &token).await;
    let wa = "819077778888";
    let message = |id: &str, kind: &str, body: Value| {
        let mut m = json!({"from": wa, "id": id, "timestamp": "1733400000", "type": kind});
        m[kind] = body;
        crate::meta::wa_value(json!({
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550001111", "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": "佐藤"}, "wa_id": wa}],
            "messages": [m]
        }))
    };
    let asked = message(
        "wamid.BOT1",
        "text",
        json!({"body": "送料を教えてください"}),
    );
    assert_eq!(crate::meta::wa_post(&app, &asked, None).await, 200);
    let sent = rec.wait_for("/messages", 1).await;
    let body = sent[0].json();
    assert_eq!(body["type"], "interactive", "{body}");
    assert!(body["interactive"]["body"]["text"]
        .as_str()
        .unwrap()
        .starts_with("送料について\n送料は全国一律550円です。"));
    assert_eq!(
        body["interactive"]["action"]["buttons"],
        json!([{"type": "reply", "reply": {"id": "担当者と話す", "title": "担当者と話す"}}])
    );

    let tap = message(
        "wamid.BOT2",
        "interactive",
        json!({"type": "button_reply", "button_reply": {"id": "担当者と話す", "title": "担当者と話す"}}),
    );
    assert_eq!(crate::meta::wa_post(&app, &tap, None).await, 200);
    let conv = accept_next(&mut agent).await;
    assert_eq!(conv["channel"], "whatsapp");
    let recent = conv["recent"].as_array().unwrap();
    let handoff = recent
        .iter()
        .find(|e| e["type"] == "bot_handoff")
        .expect("the hand-off with its transcript");
    assert_eq!(handoff["reason"], "requested");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_session_survives_a_restart() {
    let app = spawn_app(bot_on).await;
    faq(&app).await;
    let (mut chat, w) = Client::visitor(&app).await;
    let token = w["token"].as_str().unwrap().to_owned();
    chat_say(&mut chat, "I forgot my password").await;
    bot_reply(&mut chat).await;
    chat.close().await;
    let dir = app.stop();

    let app = spawn_app_in(dir, bot_on).await;
    let agent_token = app.agent("alice", &["general"], json!({})).await;
    let mut agent = Client::available(&app, &agent_token).await;
    let mut chat = Client::connect(&app.ws_url(&format!("/ws/chat?token={token}"))).await;
    chat.expect("welcome").await;
    chat_say(&mut chat, "My account is locked").await;
    let conv = accept_next(&mut agent).await;
    let h = conv["recent"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "bot_handoff")
        .cloned()
        .unwrap();
    assert_eq!(h["reason"], "unanswered");
    assert_eq!(h["transcript"].as_array().unwrap().len(), 2, "{h}");
    assert_eq!(h["transcript"][0]["question"], "I forgot my password");
}

/// The widget and the agent desktop in a real browser (clients/tests/bot_chat.mjs):
/// the bot's answer, the "talk to a person" button, the transcript on the agent side.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_in_a_real_browser() {
    let app = spawn_app(bot_on).await;
    faq(&app).await;
    app.agent("botview", &["general"], json!({})).await;
    run_browser_script(
        &app,
        "bot_chat.mjs",
        &[
            ("AGENT_ID", "botview"),
            ("AGENT_PASSWORD", "botview-password"),
        ],
        "browser test passed",
    )
    .await;
}

/// kill -9 between two bot turns: the acknowledged message, the bot's reply and the
/// session (its unanswered count and transcript) are all there after the restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_minus_nine_keeps_the_acknowledged_turn_and_the_session() {
    use crate::process::{free_port, start};
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bot.toml");
    std::fs::write(&config, "[bot]\nenabled = true\nmax_unanswered_turns = 2\n").unwrap();
    let config = config.to_str().unwrap().to_owned();
    let data = dir.path().join("data");
    let port = free_port();
    let e = start(&data, port, &[("SWITCHBOARD_CONFIG", &config)]).await;
    let token = e.login("admin").await;
    let (s, _) = e
        .send_json(
            &token,
            "POST",
            "/api/v1/kb/articles",
            json!({"title": "Shipping fees", "body": "550 yen.", "language": "en"}),
        )
        .await;
    assert_eq!(s, 201);
    let inbound = json!({"channel": "chat", "address": "v-kill9", "text": "I forgot my password"});
    let (s, ack) = e
        .send_json(&token, "POST", "/api/v1/inbound", inbound)
        .await;
    assert_eq!(s, 202, "{ack}");
    let customer = ack["customer_id"].as_str().unwrap().to_owned();
    e.kill9();

    let e = start(&data, port, &[("SWITCHBOARD_CONFIG", &config)]).await;
    let path = format!("/api/v1/customers/{customer}/timeline?limit=200");
    let t = e.get(&token, &path).await;
    let events = t["events"].as_array().unwrap();
    assert!(
        events.iter().any(|x| x["id"] == ack["event_id"]),
        "acknowledged message lost"
    );
    assert!(events
        .iter()
        .any(|x| x["type"] == "bot_reply" && x["kind"] == "not_sure"));
    // The second unknown question is the session's second unanswered turn: hand-off.
    let inbound = json!({"channel": "chat", "address": "v-kill9", "text": "My account is locked"});
    let (s, ack2) = e
        .send_json(&token, "POST", "/api/v1/inbound", inbound)
        .await;
    assert_eq!(s, 202, "{ack2}");
    assert_eq!(ack2["conversation_id"], ack["conversation_id"]);
    let t = e.get(&token, &path).await;
    let h = t["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["type"] == "bot_handoff")
        .cloned()
        .expect("handed off");
    assert_eq!(h["transcript"][0]["question"], "I forgot my password");
    assert_eq!(h["transcript"][1]["question"], "My account is locked");
    let q = e.get(&token, "/api/v1/queues/general").await;
    assert_eq!(q["waiting"], 1);
}

/// README's self-service example, literally: the demo knowledge base with
/// examples/self-service.toml answers 送料は？ and "shipping cost" (an everyday
/// variant of the article's "Shipping costs"/"fees"), and `agent` hands off to a person.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_self_service_examples_work_as_written() {
    let example: Settings =
        toml::from_str(include_str!("../../examples/self-service.toml")).expect("example");
    let app = spawn_app(move |s| {
        s.demo = true;
        s.bot = example.bot.clone();
    })
    .await;

    let (mut chat, _) = Client::visitor(&app).await;
    chat_say(&mut chat, "送料は？").await;
    let r = bot_reply(&mut chat).await;
    assert_eq!(
        (r["kind"].as_str(), r["article_title"].as_str()),
        (Some("answer"), Some("送料について")),
        "{r}"
    );

    let (mut chat, _) = Client::visitor(&app).await;
    chat_say(&mut chat, "shipping cost").await;
    let r = bot_reply(&mut chat).await;
    assert_eq!(
        (r["kind"].as_str(), r["article_title"].as_str()),
        (Some("answer"), Some("Shipping fees")),
        "{r}"
    );

    chat_say(&mut chat, "agent").await;
    assert_eq!(bot_reply(&mut chat).await["kind"], "handoff");
}
