//! Public social conversations over real sockets (docs/channels.md "Public comments and
//! mentions"): a Facebook Page comment and an X mention arrive signed on the Messenger
//! and X webhooks and reach an agent as conversations on `facebook_comments` and
//! `x_mentions`; the agent answers in public (the exact Graph API comment and X post
//! requests reach a local recording server standing in for the providers), then moves
//! the customer to a private channel with one reply on `messenger` (Meta's private
//! reply, whose answer links the commenter's Messenger id) or `x` (a direct message to
//! the same account) — and what the customer writes there continues the same
//! conversation of the same customer.

use crate::channels::{
    channels_on, customer_of, fb_post, x_dm, x_mention as mention, x_post, ME, THEM,
};
use crate::helpers::*;
use crate::meta::{write, write_refused};
use crate::recorder::Recorder;

use serde_json::{json, Value};
use switchboard::domain::time::ManualClock;
use switchboard::domain::Millis;

const T0_S: i64 = 1_733_400_000;
const DAY_MS: u64 = 24 * 3_600_000;
const PAGE: &str = "PAGE1";

fn comment(from: &str, comment_id: &str, text: &str, at_s: i64) -> Value {
    json!({"object": "page", "entry": [{"id": PAGE, "time": at_s, "changes": [{
        "field": "feed",
        "value": {"item": "comment", "verb": "add", "comment_id": comment_id,
                  "post_id": format!("{PAGE}_1"), "parent_id": format!("{PAGE}_1"),
                  "from": {"id": from, "name": "山田花子"}, "message": text,
                  "created_time": at_s}
    }]}]})
}

fn messenger_dm(psid: &str, mid: &str, text: &str) -> Value {
    json!({"object": "page", "entry": [{"id": PAGE, "time": T0_S * 1000, "messaging": [{
        "sender": {"id": psid}, "recipient": {"id": PAGE}, "timestamp": T0_S * 1000,
        "message": {"mid": mid, "text": text}
    }]}]})
}

fn events_of<'a>(t: &'a [Value], ty: &str) -> Vec<&'a Value> {
    t.iter().filter(|e| e["type"] == ty).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_comment_is_answered_in_public_then_moved_to_messenger() {
    let rec = Recorder::start().await;
    let clock = ManualClock::new(Millis(T0_S * 1000));
    let app = spawn_app_with_clock(
        |s| {
            channels_on(s, &rec);
            s.channels.public.facebook_comments = true;
            s.timing.agent_token_ttl_ms = 30 * DAY_MS;
        },
        clock.clone(),
    )
    .await;
    let token = app.agent("alice", &["general"], json!({})).await;
    let mut agent = Client::available(&app, &token).await;

    // A bad signature stores nothing; the Page's own comment and a redelivery add
    // nothing.
    let c1 = comment("U7", "P1_C1", "注文した商品が届きません", T0_S);
    assert_eq!(fb_post(&app, &c1, Some("sha256=00")).await, 401);
    assert!(customer_of(&app, "facebook_comments", "U7").await.is_none());
    assert_eq!(fb_post(&app, &c1, None).await, 200);
    assert_eq!(fb_post(&app, &c1, None).await, 200, "redelivery");
    let ours = comment(PAGE, "P1_C2", "お問い合わせください", T0_S);
    assert_eq!(fb_post(&app, &ours, None).await, 200);
    let customer = customer_of(&app, "facebook_comments", "U7")
        .await
        .expect("the commenter");
    assert_eq!(customer["display_name"], "山田花子");
    let cid = customer["id"].as_str().unwrap().to_owned();

    let conv = accept_next(&mut agent).await;
    assert_eq!(conv["channel"], "facebook_comments");

    // In public: under the comment, with the page token.
    write(
        &mut agent,
        json!({"conversation_id": conv["id"], "text": "ご迷惑をおかけしております"}),
    )
    .await;
    let r = rec.wait_for("/comments", 1).await;
    assert_eq!(r[0].path, "/v21.0/P1_C1/comments");
    assert_eq!(r[0].query, "access_token=page-token");
    assert_eq!(
        r[0].json(),
        json!({"message": "ご迷惑をおかけしております"})
    );

    // A template does not go in public (only WhatsApp has them).
    let e = write_refused(
        &mut agent,
        json!({"conversation_id": conv["id"], "text": "x",
               "template": {"name": "order_update", "language": "ja", "parameters": ["a", "b"]}}),
    )
    .await;
    assert_eq!(e["code"], "invalid", "{e}");

    // To private with one reply on Messenger: Meta's private reply to the comment.
    write(
        &mut agent,
        json!({"conversation_id": conv["id"], "channel": "messenger",
               "text": "ご注文番号をメッセージでお知らせください"}),
    )
    .await;
    let r = rec.wait_for("/me/messages", 1).await;
    assert_eq!(
        r[0].json(),
        json!({"recipient": {"comment_id": "P1_C1"}, "messaging_type": "RESPONSE",
               "message": {"text": "ご注文番号をメッセージでお知らせください"}})
    );
    // Meta answered with the commenter's Messenger id (the recorder's "psid"): it is
    // linked to the same customer.
    let t = app
        .timeline_until(&cid, "private reply linked", |t| {
            t.iter().any(|e| e["type"] == "identity_linked")
        })
        .await;
    let linked = events_of(&t, "identity_linked");
    assert_eq!(
        (
            linked[0]["channel"].as_str(),
            linked[0]["evidence"].as_str()
        ),
        (Some("messenger"), Some("private_reply"))
    );
    // The customer answers on Messenger: the same customer, the same conversation.
    assert_eq!(
        fb_post(
            &app,
            &messenger_dm("psid", "m_DM1", "注文番号は1234です"),
            None
        )
        .await,
        200
    );
    let m = agent
        .expect_where("event", |m| {
            m["event"]["type"] == "message_in" && m["event"]["channel"] == "messenger"
        })
        .await;
    assert_eq!(m["conversation_id"], conv["id"]);
    assert_eq!(
        customer_of(&app, "messenger", "psid").await.unwrap()["id"],
        cid.as_str()
    );
    // Replies now go to the Messenger id, inside the window.
    write(
        &mut agent,
        json!({"conversation_id": conv["id"], "channel": "messenger", "text": "確認します"}),
    )
    .await;
    let r = rec.wait_for("/me/messages", 2).await;
    assert_eq!(r[1].json()["recipient"], json!({"id": "psid"}));
    resolve(&mut agent, &conv).await;

    // A comment is answered privately only within 7 days of it: later the reply is
    // refused before anything is committed or sent.
    let c3 = comment("U8", "P1_C3", "返品できますか", T0_S);
    assert_eq!(fb_post(&app, &c3, None).await, 200);
    let late = accept_next(&mut agent).await;
    clock.advance_ms(8 * DAY_MS);
    let e = write_refused(
        &mut agent,
        json!({"conversation_id": late["id"], "channel": "messenger", "text": "DMで"}),
    )
    .await;
    assert_eq!(e["code"], "invalid", "{e}");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("no messenger address"),
        "{e}"
    );
    assert_eq!(rec.all().len(), 3, "nothing else reached Meta");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_x_mention_is_answered_in_public_then_by_direct_message() {
    let rec = Recorder::start().await;
    let app = spawn_app(|s| {
        channels_on(s, &rec);
        s.channels.public.x_mentions = true;
    })
    .await;
    let token = app.agent("alice", &["general"], json!({})).await;
    let mut agent = Client::available(&app, &token).await;

    let post = mention("1001", THEM, "@shop 注文がまだ届きません");
    assert_eq!(x_post(&app, &post, Some("sha256=AAAA")).await, 401);
    assert_eq!(x_post(&app, &post, None).await, 200);
    assert_eq!(x_post(&app, &post, None).await, 200, "redelivery");
    assert_eq!(
        x_post(&app, &mention("1002", ME, "@shop hello"), None).await,
        200
    );
    let customer = customer_of(&app, "x_mentions", THEM)
        .await
        .expect("the author");
    let cid = customer["id"].as_str().unwrap().to_owned();
    let conv = accept_next(&mut agent).await;
    assert_eq!(conv["channel"], "x_mentions");

    // A public reply longer than a post (141 Japanese characters weigh 282) is refused.
    let e = write_refused(
        &mut agent,
        json!({"conversation_id": conv["id"], "text": "あ".repeat(141)}),
    )
    .await;
    assert_eq!(e["code"], "invalid", "{e}");
    assert!(e["message"].as_str().unwrap().contains("280"), "{e}");

    write(
        &mut agent,
        json!({"conversation_id": conv["id"], "text": "DMでご注文番号をお知らせください"}),
    )
    .await;
    let r = rec.wait_for("/2/tweets", 1).await;
    assert_eq!(r[0].header("authorization"), Some("Bearer x-user-token"));
    assert_eq!(
        r[0].json(),
        json!({"text": "DMでご注文番号をお知らせください",
               "reply": {"in_reply_to_tweet_id": "1001"}})
    );

    // To private with one reply on `x`: a direct message to the same account.
    write(
        &mut agent,
        json!({"conversation_id": conv["id"], "channel": "x", "text": "こちらでお伺いします"}),
    )
    .await;
    let r = rec.wait_for("/2/dm_conversations/", 1).await;
    assert_eq!(
        r[0].path,
        format!("/2/dm_conversations/with/{THEM}/messages")
    );
    // Their DM is the same customer (same X account) and continues the conversation.
    assert_eq!(
        x_post(&app, &x_dm("2001", THEM, "1234です"), None).await,
        200
    );
    let m = agent
        .expect_where("event", |m| {
            m["event"]["type"] == "message_in" && m["event"]["channel"] == "x"
        })
        .await;
    assert_eq!(m["conversation_id"], conv["id"]);
    assert_eq!(
        customer_of(&app, "x", THEM).await.unwrap()["id"],
        cid.as_str()
    );
    let t = app.timeline(&cid).await;
    let linked = events_of(&t, "identity_linked");
    assert_eq!(linked.len(), 1, "{t:#?}");
    assert_eq!(
        (
            linked[0]["channel"].as_str(),
            linked[0]["evidence"].as_str()
        ),
        (Some("x"), Some("same_x_account"))
    );
    let ins: Vec<(&str, &str)> = events_of(&t, "message_in")
        .iter()
        .map(|e| (e["channel"].as_str().unwrap(), e["text"].as_str().unwrap()))
        .collect();
    assert_eq!(
        ins,
        [
            ("x_mentions", "@shop 注文がまだ届きません"),
            ("x", "1234です")
        ]
    );
    assert_eq!(rec.all().len(), 2, "nothing else reached X");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_posts_are_dropped_while_their_channel_is_off() {
    let rec = Recorder::start().await;
    let app = spawn_app(|s| channels_on(s, &rec)).await;
    let c = comment("U9", "P9_C1", "hello", T0_S);
    assert_eq!(fb_post(&app, &c, None).await, 200);
    assert_eq!(
        x_post(&app, &mention("9001", THEM, "@shop hi"), None).await,
        200
    );
    assert!(customer_of(&app, "facebook_comments", "U9").await.is_none());
    assert!(customer_of(&app, "x_mentions", THEM).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desktop_answers_a_comment_in_public_and_in_private_in_a_real_browser() {
    let rec = Recorder::start().await;
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let app = spawn_app(|s| {
        channels_on(s, &rec);
        s.channels.public.facebook_comments = true;
    })
    .await;
    app.agent("pat", &["general"], json!({})).await;
    let c = comment("U5", "P5_C1", "Is the sale still on?", now_s);
    assert_eq!(fb_post(&app, &c, None).await, 200);
    run_browser_script(
        &app,
        "public_reply.mjs",
        &[("AGENT_ID", "pat"), ("AGENT_PASSWORD", "pat-password")],
        "public reply browser test passed",
    )
    .await;
    let sent = rec.wait_for("/me/messages", 1).await;
    assert_eq!(
        sent[0].json()["recipient"],
        json!({"comment_id": "P5_C1"}),
        "the private reply names the comment"
    );
    let all = rec.all();
    assert_eq!(all.len(), 3, "{all:?}");
    assert_eq!(all[0].path, "/v21.0/P5_C1/comments");
    assert_eq!(all[0].json(), json!({"message": "Yes, until Sunday!"}));
    assert_eq!(
        (all[2].method.as_str(), all[2].path.as_str(), all[2].json()),
        ("POST", "/v21.0/P5_C1", json!({"is_hidden": true}))
    );
}

/// The `message_in` event of `customer`'s post, once stored.
async fn post_event(app: &TestApp, customer: &str) -> Value {
    let t = app
        .timeline_until(customer, "the post", |t| {
            t.iter().any(|e| e["type"] == "message_in")
        })
        .await;
    (*events_of(&t, "message_in")[0]).clone()
}

async fn moderate(app: &TestApp, post: &Value, action: &str) -> (u16, Value) {
    let conv = post["conversation_id"].as_str().unwrap();
    app.post(
        &format!("/api/v1/conversations/{conv}/moderation"),
        json!({"event_id": post["id"], "action": action}),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_posts_are_hidden_or_deleted_where_the_provider_allows() {
    let rec = Recorder::start().await;
    let clock = ManualClock::new(Millis(T0_S * 1000));
    let app = spawn_app_with_clock(
        |s| {
            channels_on(s, &rec);
            s.channels.public.facebook_comments = true;
            s.channels.public.x_mentions = true;
        },
        clock,
    )
    .await;
    let c = comment("U7", "P7_C1", "spam spam", T0_S);
    assert_eq!(fb_post(&app, &c, None).await, 200);
    let fb = customer_of(&app, "facebook_comments", "U7").await.unwrap();
    let fb_id = fb["id"].as_str().unwrap().to_owned();
    let comment_ev = post_event(&app, &fb_id).await;

    // Hidden, shown again, deleted: each the exact Graph API call, each recorded.
    assert_eq!(moderate(&app, &comment_ev, "hide").await.0, 200);
    assert_eq!(moderate(&app, &comment_ev, "unhide").await.0, 200);
    let (s, ev) = moderate(&app, &comment_ev, "delete").await;
    assert_eq!(s, 200, "{ev}");
    assert_eq!(ev["type"], "post_moderated");
    let calls = rec.all();
    let seen: Vec<(&str, &str, Value)> = calls
        .iter()
        .map(|r| {
            let body = if r.body.is_empty() {
                Value::Null
            } else {
                r.json()
            };
            (r.method.as_str(), r.path.as_str(), body)
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("POST", "/v21.0/P7_C1", json!({"is_hidden": true})),
            ("POST", "/v21.0/P7_C1", json!({"is_hidden": false})),
            ("DELETE", "/v21.0/P7_C1", Value::Null),
        ]
    );
    assert!(calls.iter().all(|r| r.query == "access_token=page-token"));
    let t = app.timeline(&fb_id).await;
    let actions: Vec<&str> = events_of(&t, "post_moderated")
        .iter()
        .map(|e| {
            assert_eq!(e["message_event_id"], comment_ev["id"]);
            assert_eq!(e["agent_id"], "admin");
            e["action"].as_str().unwrap()
        })
        .collect();
    assert_eq!(actions, ["hide", "unhide", "delete"]);

    // X: a reply is hidden; deleting another account's post is not possible.
    assert_eq!(
        x_post(&app, &mention("3001", THEM, "@shop spam"), None).await,
        200
    );
    let x = customer_of(&app, "x_mentions", THEM).await.unwrap();
    let x_id = x["id"].as_str().unwrap().to_owned();
    let post = post_event(&app, &x_id).await;
    assert_eq!(moderate(&app, &post, "hide").await.0, 200);
    let r = rec.wait_for("/2/tweets/", 1).await;
    assert_eq!(
        (r[0].method.as_str(), r[0].path.as_str()),
        ("PUT", "/2/tweets/3001/hidden")
    );
    assert_eq!(r[0].json(), json!({"hidden": true}));
    let (s, v) = moderate(&app, &post, "delete").await;
    assert_eq!((s, v["code"].as_str()), (400, Some("invalid")), "{v}");

    // A refusal at the provider records nothing and says why.
    rec.fail_next(&[403]);
    let (s, v) = moderate(&app, &post, "unhide").await;
    assert_eq!((s, v["code"].as_str()), (409, Some("conflict")), "{v}");
    assert!(v["message"].as_str().unwrap().contains("403"), "{v}");

    // Only a public post of this conversation: not a private message, not an unknown
    // event, not a bad action.
    let sms = app.inbound("sms", "+819011112222", "hello", None).await;
    let sms_customer = sms["customer_id"].as_str().unwrap().to_owned();
    let sms_post = post_event(&app, &sms_customer).await;
    let (s, v) = moderate(&app, &sms_post, "hide").await;
    assert_eq!(s, 400, "{v}");
    let mut unknown = post.clone();
    unknown["id"] = json!(uuid::Uuid::new_v4().to_string());
    assert_eq!(moderate(&app, &unknown, "hide").await.0, 404);
    let (s, _) = moderate(&app, &post, "shout").await;
    assert_eq!(s, 400);
    let t = app.timeline(&x_id).await;
    assert_eq!(events_of(&t, "post_moderated").len(), 1, "{t:#?}");
}
