//! The IVR tree walked in writing over WhatsApp, over real sockets: signed webhooks
//! carry the customer's taps (interactive list and button replies) and typed answers;
//! each menu leaves as the exact Cloud API request (an interactive list or reply
//! buttons) to a local recording server standing in for Meta; an article is read in
//! the thread and the menu comes back; a queue choice opens the conversation, with the
//! menus walked and the option's skills, under the id every earlier turn carried, and
//! the agent sees the whole walk; a callback choice turns the wait into a call back to
//! the WhatsApp number, from where the customer was before a restart; erasing a
//! customer deletes their place in the menus.

use crate::channels::{channels_on, customer_of};
use crate::helpers::*;
use crate::meta::{wa_post, wa_value};
use crate::recorder::{Recorded, Recorder};
use serde_json::{json, Value};
use switchboard::config::Settings;
use switchboard::domain::Channel;

const PNID: &str = "106540352242922";

/// A message from `wa_id` (`kind`: its type, `fields`: the type's object).
fn wa_message(wa_id: &str, wamid: &str, kind: &str, fields: Value) -> Value {
    let mut m = json!({"from": wa_id, "id": wamid, "timestamp": "1733400000", "type": kind});
    m[kind] = fields;
    wa_value(json!({
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": PNID},
        "contacts": [{"profile": {"name": "山田太郎"}, "wa_id": wa_id}],
        "messages": [m]
    }))
}

fn typed(wa_id: &str, wamid: &str, text: &str) -> Value {
    wa_message(wa_id, wamid, "text", json!({"body": text}))
}

/// A tapped list row (`list_reply`) or reply button (`button_reply`): the label comes
/// back as both id and title, as the engine sent it.
fn tapped(wa_id: &str, wamid: &str, how: &str, label: &str) -> Value {
    let mut i = json!({"type": how});
    i[how] = json!({"id": label, "title": label});
    wa_message(wa_id, wamid, "interactive", i)
}

fn settings(s: &mut Settings, rec: &Recorder) {
    channels_on(s, rec);
    crate::ivr::tree(s);
    s.ivr.messaging.channels = vec![Channel::Whatsapp];
    // The connector's own queue does not bypass the menus.
    s.channels.whatsapp.queue = Some(switchboard::domain::QueueName::parse("general").unwrap());
    s.ivr.menus[1].options[0].skills = [(
        switchboard::domain::Skill::parse("shipping").unwrap(),
        switchboard::domain::Proficiency::new(2).unwrap(),
    )]
    .into();
}

fn list(text: &str, rows: &[&str]) -> Value {
    let rows: Vec<Value> = rows.iter().map(|r| json!({"id": r, "title": r})).collect();
    json!({"type": "interactive", "interactive": {"type": "list", "body": {"text": text},
           "action": {"button": "…", "sections": [{"rows": rows}]}}})
}

fn buttons(text: &str, titles: &[&str]) -> Value {
    let b: Vec<Value> = titles
        .iter()
        .map(|t| json!({"type": "reply", "reply": {"id": t, "title": t}}))
        .collect();
    json!({"type": "interactive", "interactive": {"type": "button", "body": {"text": text},
           "action": {"buttons": b}}})
}

/// The message object of a recorded send (without the envelope fields).
fn sent(r: &Recorded, to: &str) -> Value {
    let mut b = r.json();
    let o = b.as_object_mut().unwrap();
    assert_eq!(o.remove("to"), Some(json!(to)));
    for k in [
        "messaging_product",
        "recipient_type",
        "biz_opaque_callback_data",
    ] {
        o.remove(k);
    }
    b
}

/// Posts the customer's `body`, signed, and answers the engine's `n`th send.
async fn answered(app: &TestApp, rec: &Recorder, body: Value, n: usize) -> Recorded {
    assert_eq!(wa_post(app, &body, None).await, 200);
    rec.wait_for("/messages", n).await.swap_remove(n - 1)
}

/// The id of the customer writing from WhatsApp number `wa`.
async fn customer_id(app: &TestApp, wa: &str) -> String {
    let c = customer_of(app, "whatsapp", &format!("+{wa}")).await;
    c.expect("the customer")["id"].as_str().unwrap().to_owned()
}

const MAIN_JA: &[&str] = &["ご注文", "ご請求", "返品について", "チャット"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whatsapp_walks_the_menus_reads_an_article_and_reaches_the_chosen_queue() {
    let rec = Recorder::start().await;
    let app = spawn_app(|s| settings(s, &rec)).await;
    crate::kb::seed_returns(&app, "30日以内なら返品できます。").await;
    app.queue("orders", json!({})).await;
    let token = app
        .agent("olivia", &["orders"], json!({"skills": {"shipping": 3}}))
        .await;
    let mut agent = Client::available(&app, &token).await;
    let wa = "819011112222";

    // The first message is answered with the root menu as a list; nothing is queued.
    let r = answered(&app, &rec, typed(wa, "wamid.A1", "こんにちは"), 1).await;
    assert_eq!(sent(&r, wa), list("ご用件をお選びください。", MAIN_JA));
    let cid = customer_id(&app, wa).await;
    let (_, convs) = app
        .get(&format!("/api/v1/customers/{cid}/conversations"))
        .await;
    assert_eq!(convs, json!([]), "no conversation yet");

    // The article, then the menu again.
    let r = answered(
        &app,
        &rec,
        tapped(wa, "wamid.A2", "list_reply", "返品について"),
        2,
    )
    .await;
    assert_eq!(
        sent(&r, wa),
        list(
            "返品について\n\n30日以内なら返品できます。\n\nご用件をお選びください。",
            MAIN_JA
        )
    );

    // An answer that chooses nothing is asked again.
    let r = answered(&app, &rec, typed(wa, "wamid.A3", "？？"), 3).await;
    assert_eq!(
        sent(&r, wa),
        list(
            "選択肢からお選びください。\n\nご用件をお選びください。",
            MAIN_JA
        )
    );

    // Into the submenu by a typed key: three options fit reply buttons. A redelivery of
    // the same message is stored and answered once.
    let r = answered(&app, &rec, typed(wa, "wamid.A4", "１"), 4).await;
    assert_eq!(
        sent(&r, wa),
        buttons("ご注文のメニューです。", &["配送状況", "折り返し", "戻る"])
    );
    assert_eq!(wa_post(&app, &typed(wa, "wamid.A4", "１"), None).await, 200);

    // The queue choice opens the conversation: in its queue, with the option's skills
    // and the menus walked, under the id of every earlier turn.
    assert_eq!(
        wa_post(
            &app,
            &tapped(wa, "wamid.A5", "button_reply", "配送状況"),
            None
        )
        .await,
        200
    );
    let conv = accept_next(&mut agent).await;
    let conv_id = conv["id"].as_str().unwrap().to_owned();
    let (_, c) = app.get(&format!("/api/v1/conversations/{conv_id}")).await;
    assert_eq!(
        (&c["queue"], &c["channel"], &c["requirements"]),
        (
            &json!("orders"),
            &json!("whatsapp"),
            &json!({"shipping": 2})
        ),
        "{c}"
    );
    let r = rec.wait_for("/messages", 5).await.swap_remove(4);
    assert_eq!(
        sent(&r, wa),
        json!({"type": "text", "text": {"preview_url": false,
               "body": "担当者におつなぎします。このままお待ちください。"}})
    );
    let t = app
        .timeline_until(&cid, "the parting reply", |t| {
            t.iter().filter(|e| e["type"] == "bot_reply").count() == 5
        })
        .await;
    let ins: Vec<&str> = t
        .iter()
        .filter(|e| e["type"] == "message_in")
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        ins,
        ["こんにちは", "返品について", "？？", "１", "配送状況"]
    );
    assert!(
        t.iter()
            .filter(|e| e["type"] == "message_in" || e["type"] == "bot_reply")
            .all(|e| e["conversation_id"] == conv_id.as_str()),
        "every turn carries the conversation's id: {t:#?}"
    );
    let opened = t
        .iter()
        .find(|e| e["type"] == "conversation_opened")
        .unwrap();
    assert_eq!(opened["ivr_path"], json!(["main", "orders"]));
    let article = t
        .iter()
        .find(|e| e["type"] == "bot_reply" && e["article_id"] == "returns")
        .expect("the article's reply names it");
    assert_eq!(article["kind"], "ivr");
    // The agent's view of the conversation holds the walk.
    let recent = conv["recent"].as_array().unwrap();
    assert!(
        recent
            .iter()
            .any(|e| e["type"] == "message_in" && e["text"] == "返品について"),
        "{recent:#?}"
    );
    assert_eq!(rec.all().len(), 5, "the redelivery sent nothing");

    // The next message continues the conversation: no menu.
    assert_eq!(
        wa_post(&app, &typed(wa, "wamid.A6", "よろしく"), None).await,
        200
    );
    agent
        .expect_where("event", |m| m["event"]["text"] == "よろしく")
        .await;
    assert_eq!(rec.all().len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_chosen_in_writing_calls_the_whatsapp_number_back() {
    let rec = Recorder::start().await;
    let app = spawn_app(|s| settings(s, &rec)).await;
    app.queue("orders", json!({})).await;

    let wa = "819033334444";

    // English from the first message on.
    let r = answered(&app, &rec, typed(wa, "wamid.B1", "Hello"), 1).await;
    assert_eq!(
        sent(&r, wa),
        list("Please choose.", &["Orders", "Billing", "Returns", "Chat"])
    );
    let r = answered(&app, &rec, typed(wa, "wamid.B2", "orders please"), 2).await;
    assert_eq!(
        sent(&r, wa),
        buttons("Orders menu.", &["Delivery", "Call me back", "Back"])
    );
    // The place in the menus survives a restart.
    let cid = customer_id(&app, wa).await;
    app.timeline_until(&cid, "both menus sent", |t| {
        t.iter()
            .filter(|e| e["type"] == "message_status" && e["status"] == "sent")
            .count()
            == 2
    })
    .await;
    let dir = app.stop_gracefully().await;
    let app = spawn_app_in(dir, |s| settings(s, &rec)).await;
    let r = answered(
        &app,
        &rec,
        tapped(wa, "wamid.B3", "button_reply", "Call me back"),
        3,
    )
    .await;
    assert_eq!(
        sent(&r, wa)["text"]["body"],
        format!("We will call you back at +{wa}.")
    );
    let t = app
        .timeline_until(&cid, "the callback", |t| {
            t.iter().any(|e| e["type"] == "callback_requested")
        })
        .await;
    let req = t
        .iter()
        .find(|e| e["type"] == "callback_requested")
        .unwrap();
    assert_eq!(req["phone"], format!("+{wa}"));
    assert_eq!(req["source"], "messaging_ivr");
    assert_eq!(req["queue"], "orders");
    assert_eq!(req["ivr_path"], json!(["main", "orders"]));
    let conv = req["conversation_id"].as_str().unwrap();
    let (_, c) = app.get(&format!("/api/v1/conversations/{conv}")).await;
    assert_eq!(
        (&c["channel"], &c["state"]),
        (&json!("voice"), &json!("queued"))
    );

    // A walk's place is the customer's data: erasing them deletes it.
    let other = "819055556666";
    assert_eq!(
        wa_post(&app, &typed(other, "wamid.E1", "hi"), None).await,
        200
    );
    rec.wait_for("/messages", 4).await;
    let erased = customer_id(&app, other).await;
    let store = app.engine.as_ref().unwrap().store.clone();
    assert!(store
        .record("ivr_session", &erased)
        .await
        .unwrap()
        .is_some());
    let (s, v) = app
        .post(&format!("/api/v1/customers/{erased}/erase"), json!({}))
        .await;
    assert_eq!(s, 200, "{v}");
    assert!(store
        .record("ivr_session", &erased)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn menus_in_writing_refuse_a_channel_the_bot_answers_too() {
    let mut s = Settings::default();
    crate::ivr::tree(&mut s);
    s.ivr.messaging.channels = vec![Channel::Sms];
    s.bot.enabled = true;
    let e = s.validate_ivr().unwrap_err();
    assert!(e.contains("FAQ bot answers on sms"), "{e}");
    s.bot.enabled = false;
    s.validate_ivr().unwrap();
    s.ivr.messaging.channels = vec![Channel::Voice];
    assert!(s.validate_ivr().unwrap_err().contains("voice cannot"));
    s.ivr.menus.clear();
    s.ivr.messaging.channels = vec![Channel::Whatsapp];
    assert!(s.validate_ivr().unwrap_err().contains("needs a menu tree"));
}
