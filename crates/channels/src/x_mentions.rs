//! Public posts on X that mention or answer the business account (`x_mentions`).
//!
//! - Inbound: `tweet_create_events` of the Account Activity webhook (`x` verifies the
//!   signature and hands the body here). A post by someone else that mentions the
//!   account (`entities.user_mentions`), replies to it (`in_reply_to_user_id_str`) or
//!   quotes it becomes a message on `x_mentions` from the author's user id — the same
//!   id their direct messages come from, so both are one customer (`same_x_account`).
//!   The full text of a long post (`extended_tweet.full_text`) and its photos
//!   (`extended_entities.media`) are taken; retweets and our own posts are skipped
//!   with a log line. The post id de-duplicates redeliveries; `timestamp_ms` is
//!   checked against the replay window. Taken only with `channels.public.x_mentions`.
//! - Outbound, in public: `POST {api_base}/2/tweets` with `{"text", "reply":
//!   {"in_reply_to_tweet_id"}}` under the conversation's latest post
//!   (`Delivery::references`), with the X access token. The customer actor refuses a
//!   reply longer than a post (`domain::x_weighted_len`) before it is committed.
//! - Moving to private is a reply on `x`: a direct message to the same user id.
//!
//! - Moderation (`Sender::moderate`): hide a reply to the account's post, or show it
//!   again (`PUT {api_base}/2/tweets/{id}/hidden` `{"hidden"}`; X allows it for
//!   replies to the account's own conversations and answers otherwise). X lets no
//!   account delete another's post: a delete is refused.

use super::connector::{Connector, SendContext, Sender};
use super::webhook::WebhookError;
use super::{ChannelSettings, InboundMessage};
use crate::connector::{answered_id, read_answer, SendFailure, SendResult};
use crate::domain::{Attachment, Channel, Moderation, SendAs};
use crate::Gateway;
use futures_util::future::BoxFuture;
use serde::Deserialize;
use serde_json::Value;
use switchboard_engine::outbound::Delivery;

const PROVIDER: &str = "x_mentions";
/// Posts taken from one call.
const MAX_POSTS: usize = 1000;

#[derive(Debug, Deserialize)]
struct Payload {
    for_user_id: String,
    #[serde(default)]
    tweet_create_events: Vec<Value>,
}

#[derive(Debug, Deserialize)]
struct Post {
    id_str: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    extended_tweet: Option<Extended>,
    user: User,
    /// Milliseconds since the epoch, as a string.
    #[serde(default)]
    timestamp_ms: Option<String>,
    #[serde(default)]
    in_reply_to_user_id_str: Option<String>,
    #[serde(default)]
    retweeted_status: Option<Value>,
    #[serde(default)]
    quoted_status: Option<Value>,
    #[serde(default)]
    entities: Value,
    #[serde(default)]
    extended_entities: Value,
}

#[derive(Debug, Deserialize)]
struct Extended {
    full_text: String,
    #[serde(default)]
    extended_entities: Value,
}

#[derive(Debug, Deserialize)]
struct User {
    id_str: String,
    #[serde(default)]
    name: Option<String>,
}

/// The X mentions connector: no routes of its own (its posts arrive on the X
/// webhook), it sends the public replies.
pub struct XMentions;

impl Connector for XMentions {
    fn provider(&self) -> &'static str {
        PROVIDER
    }
    fn enabled(&self, s: &ChannelSettings) -> bool {
        s.x.enabled && s.public.x_mentions
    }
    fn sender(&self) -> Option<&dyn Sender> {
        Some(self)
    }
}

impl Sender for XMentions {
    fn channel(&self) -> Channel {
        Channel::XMentions
    }
    fn send<'a>(&'a self, cx: SendContext<'a>, d: &'a Delivery) -> BoxFuture<'a, SendResult> {
        let ch = cx.gateway.channels();
        Box::pin(async move { send(cx.client, &ch, d).await })
    }
    /// Hides a reply or shows it again; X lets no account delete another's post.
    fn moderate<'a>(
        &'a self,
        cx: SendContext<'a>,
        post_id: &'a str,
        action: Moderation,
    ) -> Option<BoxFuture<'a, Result<(), SendFailure>>> {
        let hidden = match action {
            Moderation::Hide => true,
            Moderation::Unhide => false,
            Moderation::Delete => return None,
        };
        let ch = cx.gateway.channels();
        Some(Box::pin(async move {
            let x = &ch.x;
            let resp = cx
                .client
                .put(format!("{}/2/tweets/{post_id}/hidden", x.api_base))
                .bearer_auth(&x.access_token)
                .json(&serde_json::json!({ "hidden": hidden }))
                .send()
                .await
                .map_err(SendFailure::from_reqwest)?;
            read_answer(resp).await.map(drop)
        }))
    }
}

/// Takes the posts of a verified X webhook body (nothing while the connector is off:
/// the posts are logged and dropped, and X is answered 200).
pub(crate) async fn handle(state: &Gateway, body: &[u8]) -> Result<(), WebhookError> {
    crate::public::Intake {
        provider: PROVIDER,
        enabled: XMentions.enabled(&state.channels()),
        setting: "channels.public.x_mentions",
        api_base: &state.channels().x.api_base,
        at: |(p, _): &(Post, String)| p.timestamp_ms.as_deref()?.parse().ok(),
        message: |(post, me)| message_of(post, &me),
    }
    .take(state, parse_posts(body)?)
    .await
}

type Parsed = Vec<Result<(Post, String), serde_json::Error>>;

/// A verified body's posts, each with the business account's id (at most
/// `MAX_POSTS`); a post that does not parse is an `Err` the handler skips. A body
/// without `tweet_create_events` yields none. Pure, no I/O: fuzzed through
/// `switchboard::fuzz`.
fn parse_posts(body: &[u8]) -> Result<Parsed, WebhookError> {
    let payload: Payload = serde_json::from_slice(body)
        .map_err(|e| WebhookError::Malformed(format!("X payload: {e}")))?;
    if payload.tweet_create_events.len() > MAX_POSTS {
        return Err(WebhookError::Malformed("too many posts in one call".into()));
    }
    let me = payload.for_user_id;
    Ok(payload
        .tweet_create_events
        .into_iter()
        .map(|p| serde_json::from_value::<Post>(p).map(|p| (p, me.clone())))
        .collect())
}

/// Fuzz entry (see `switchboard::fuzz`): parses `body` as the handler does and turns each
/// post into the inbound message it would deliver. Returns whether it was accepted.
#[doc(hidden)]
pub fn fuzz_body(body: &[u8]) -> bool {
    let Ok(posts) = parse_posts(body) else {
        return false;
    };
    for (p, me) in posts.into_iter().flatten() {
        let _ = message_of(p, &me);
    }
    true
}

/// The customer message a post is, if someone else wrote it to or about account `me`.
fn message_of(p: Post, me: &str) -> Option<InboundMessage> {
    if p.user.id_str == me {
        tracing::info!("X post skipped: our own");
        return None;
    }
    if p.retweeted_status.is_some() {
        tracing::info!("X post skipped: a retweet");
        return None;
    }
    let mentions_me = p.entities["user_mentions"]
        .as_array()
        .is_some_and(|ms| ms.iter().any(|m| m["id_str"].as_str() == Some(me)));
    let answers_me = p.in_reply_to_user_id_str.as_deref() == Some(me);
    let quotes_me = p
        .quoted_status
        .as_ref()
        .is_some_and(|q| q["user"]["id_str"].as_str() == Some(me));
    if !(mentions_me || answers_me || quotes_me) {
        tracing::info!("X post skipped: neither mentions nor answers the account");
        return None;
    }
    let (text, entities) = match p.extended_tweet {
        Some(e) => (e.full_text, e.extended_entities),
        None => (p.text, p.extended_entities),
    };
    let attachments = entities["media"]
        .as_array()
        .map(|media| {
            media
                .iter()
                .filter_map(|m| {
                    Some(Attachment {
                        kind: match m["type"].as_str()? {
                            "photo" => "image",
                            "animated_gif" => "video",
                            other => other,
                        }
                        .to_owned(),
                        name: None,
                        content_type: None,
                        size: None,
                        url: m["media_url_https"].as_str().map(str::to_owned),
                        file: None,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let mut m = InboundMessage::new(Channel::XMentions, p.user.id_str, text);
    m.display_name = p.user.name;
    m.provider_msg_id = Some(p.id_str);
    m.attachments = attachments;
    Some(m)
}

/// Answers `d` in public, as a reply to the conversation's latest post.
pub async fn send(client: &reqwest::Client, cfg: &ChannelSettings, d: &Delivery) -> SendResult {
    let x = &cfg.x;
    if !matches!(d.send_as, SendAs::Reply) {
        return Err(SendFailure::permanent(
            "a public reply on X is plain text (no tag, no template)",
        ));
    }
    let Some(post) = d.references.last() else {
        return Err(SendFailure::permanent(
            "no post of the customer to reply to",
        ));
    };
    let resp = client
        .post(format!("{}/2/tweets", x.api_base))
        .bearer_auth(&x.access_token)
        .json(&serde_json::json!({
            "text": d.text,
            "reply": { "in_reply_to_tweet_id": post },
        }))
        .send()
        .await
        .map_err(SendFailure::from_reqwest)?;
    Ok(answered_id(&read_answer(resp).await?, "/data/id"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ME: &str = "2244994945";

    fn body(posts: Value) -> Vec<u8> {
        json!({"for_user_id": ME, "tweet_create_events": posts})
            .to_string()
            .into_bytes()
    }

    fn post(id: &str, author: &str, extra: Value) -> Value {
        let mut p = json!({"id_str": id, "text": "@Company 届かない", "timestamp_ms": "1516403560557",
                           "user": {"id_str": author, "name": "Jordan", "screen_name": "jb"},
                           "entities": {"user_mentions": [{"id_str": ME}]}});
        for (k, v) in extra.as_object().unwrap() {
            p[k] = v.clone();
        }
        p
    }

    fn messages(posts: Value) -> Vec<Option<InboundMessage>> {
        parse_posts(&body(posts))
            .unwrap()
            .into_iter()
            .map(|r| {
                let (p, me) = r.unwrap();
                message_of(p, &me)
            })
            .collect()
    }

    #[test]
    fn mentions_replies_and_quotes_are_taken_ours_and_retweets_are_not() {
        let out = messages(json!([
            post("1", "3001969357", json!({})),
            post(
                "2",
                "3001969357",
                json!({"entities": {}, "in_reply_to_user_id_str": ME,
                "truncated": true, "extended_tweet": {"full_text": "a long answer",
                "extended_entities": {"media": [{"type": "photo",
                    "media_url_https": "https://pbs.twimg.com/media/1.jpg"}]}}})
            ),
            post(
                "3",
                "3001969357",
                json!({"entities": {},
                "quoted_status": {"user": {"id_str": ME}}})
            ),
            post("4", ME, json!({})),
            post(
                "5",
                "3001969357",
                json!({"retweeted_status": {"id_str": "1"}})
            ),
            post(
                "6",
                "3001969357",
                json!({"entities": {"user_mentions": [{"id_str": "9"}]}})
            ),
        ]));
        let m = out[0].as_ref().unwrap();
        assert_eq!(m.channel, Channel::XMentions);
        assert_eq!(
            (
                m.address.as_str(),
                m.text.as_str(),
                m.provider_msg_id.as_deref()
            ),
            ("3001969357", "@Company 届かない", Some("1"))
        );
        let long = out[1].as_ref().unwrap();
        assert_eq!(long.text, "a long answer");
        assert_eq!(long.attachments[0].kind, "image");
        assert!(out[2].is_some(), "a quote of our post is taken");
        assert!(out[3..].iter().all(Option::is_none));
    }

    #[test]
    fn other_activity_yields_nothing_and_floods_are_refused() {
        let dms = json!({"for_user_id": ME, "direct_message_events": []});
        assert!(parse_posts(dms.to_string().as_bytes()).unwrap().is_empty());
        assert!(parse_posts(b"{}").is_err());
        let many: Vec<Value> = (0..=MAX_POSTS).map(|_| json!({})).collect();
        assert!(parse_posts(&body(json!(many))).is_err());
    }
}
