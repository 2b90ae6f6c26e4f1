//! Public comments on the company's Facebook Page (`facebook_comments`): the seeds'
//! "answer in public, then move to a private channel".
//!
//! - Inbound: Page `feed` changes arrive on the Messenger webhook (one callback URL per
//!   Meta object; `messenger` verifies the signature and hands the body here):
//!   `{"object": "page", "entry": [{"id": PAGE, "changes": [{"field": "feed", "value":
//!   {"item": "comment", "verb": "add", "comment_id", "post_id", "from": {"id",
//!   "name"}, "message", "photo"?, "created_time"}}]}]}`. A new comment, or a visitor's
//!   post (`item` `post`, `status`, `photo`), by anyone but the Page itself becomes a
//!   message on `facebook_comments` from the commenter's Facebook id, de-duplicated by
//!   the comment (post) id. Edits, removals, reactions and the Page's own comments are
//!   skipped with a log line. Taken only with `channels.public.facebook_comments`.
//! - Outbound, in public: `POST {api_base}/{version}/{comment_id}/comments` with
//!   `{"message": text}` and the page access token, under the latest comment of the
//!   conversation (`Delivery::references`).
//! - Moving to private is a reply on `messenger`: the customer has no Messenger id yet,
//!   so the reply goes out as Meta's private reply to their comment (`messenger`,
//!   `SendAs::PrivateReply`), and the Messenger id Meta answers with is linked to the
//!   same customer: one conversation, one timeline.
//!
//! - Moderation (`Sender::moderate`, `POST /api/v1/conversations/{id}/moderation`):
//!   hide or show again (`POST {api_base}/{version}/{comment_id}` `{"is_hidden"}`) or
//!   delete (`DELETE {api_base}/{version}/{comment_id}`) the customer's comment.

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

const PROVIDER: &str = "facebook_comments";
/// Changes taken from one call.
const MAX_CHANGES: usize = 1000;
/// Feed items that are a visitor's words (a comment, or a post on the Page).
const ITEMS: [&str; 4] = ["comment", "post", "status", "photo"];

#[derive(Debug, Deserialize)]
struct Payload {
    object: String,
    #[serde(default)]
    entry: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
struct Entry {
    /// The Page's id.
    #[serde(default)]
    id: String,
    #[serde(default)]
    changes: Vec<Value>,
}

#[derive(Debug, Deserialize)]
struct Change {
    field: String,
    value: FeedItem,
}

#[derive(Debug, Deserialize)]
struct FeedItem {
    #[serde(default)]
    item: String,
    #[serde(default)]
    verb: String,
    #[serde(default)]
    comment_id: Option<String>,
    #[serde(default)]
    post_id: Option<String>,
    #[serde(default)]
    from: Option<From>,
    #[serde(default)]
    message: Option<String>,
    /// A photo's URL on Meta's CDN.
    #[serde(default)]
    photo: Option<String>,
    /// Seconds since the epoch.
    #[serde(default)]
    created_time: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct From {
    id: String,
    #[serde(default)]
    name: Option<String>,
}

/// A comment (or visitor post) to take: the Page it is on and the item.
struct Comment {
    page: String,
    item: FeedItem,
}

/// The Page comments connector: no routes of its own (its changes arrive on the
/// Messenger webhook), it sends the public replies.
pub struct FacebookComments;

impl Connector for FacebookComments {
    fn provider(&self) -> &'static str {
        PROVIDER
    }
    fn enabled(&self, s: &ChannelSettings) -> bool {
        s.messenger.enabled && s.public.facebook_comments
    }
    fn sender(&self) -> Option<&dyn Sender> {
        Some(self)
    }
}

impl Sender for FacebookComments {
    fn channel(&self) -> Channel {
        Channel::FacebookComments
    }
    fn send<'a>(&'a self, cx: SendContext<'a>, d: &'a Delivery) -> BoxFuture<'a, SendResult> {
        let ch = cx.gateway.channels();
        Box::pin(async move { send(cx.client, &ch, d).await })
    }
    fn moderate<'a>(
        &'a self,
        cx: SendContext<'a>,
        post_id: &'a str,
        action: Moderation,
    ) -> Option<BoxFuture<'a, Result<(), SendFailure>>> {
        let ch = cx.gateway.channels();
        Some(Box::pin(async move {
            moderate(cx.client, &ch, post_id, action).await
        }))
    }
}

/// Takes the Page comments of a verified Messenger webhook body (nothing while the
/// connector is off: the changes are logged and dropped, and Meta is answered 200).
pub(crate) async fn handle(state: &Gateway, body: &[u8]) -> Result<(), WebhookError> {
    crate::public::Intake {
        provider: PROVIDER,
        enabled: FacebookComments.enabled(&state.channels()),
        setting: "channels.public.facebook_comments",
        api_base: &state.channels().messenger.api_base,
        at: |c: &Comment| c.item.created_time.map(|s| s.saturating_mul(1000)),
        message: message_of,
    }
    .take(state, parse_changes(body)?)
    .await
}

type Parsed = Vec<Result<Comment, serde_json::Error>>;

/// A verified `page` body's feed changes (at most `MAX_CHANGES`); a change that does
/// not parse is an `Err` the handler skips. A body with only messaging events yields
/// none. Pure, no I/O: fuzzed through `switchboard::fuzz`.
fn parse_changes(body: &[u8]) -> Result<Parsed, WebhookError> {
    let payload: Payload = serde_json::from_slice(body)
        .map_err(|e| WebhookError::Malformed(format!("Page payload: {e}")))?;
    if payload.object != "page" {
        return Ok(Vec::new());
    }
    let changes: Vec<(String, Value)> = payload
        .entry
        .into_iter()
        .flat_map(|e| {
            let page = e.id;
            e.changes.into_iter().map(move |c| (page.clone(), c))
        })
        .collect();
    if changes.len() > MAX_CHANGES {
        return Err(WebhookError::Malformed(
            "too many changes in one call".into(),
        ));
    }
    Ok(changes
        .into_iter()
        .map(|(page, c)| serde_json::from_value::<Change>(c).map(|c| (page, c)))
        .filter_map(|r| match r {
            Ok((_, c)) if c.field != "feed" => {
                tracing::info!(field = %c.field, "Page change skipped: not the feed");
                None
            }
            Ok((page, c)) => Some(Ok(Comment {
                page,
                item: c.value,
            })),
            Err(e) => Some(Err(e)),
        })
        .collect())
}

/// Fuzz entry (see `switchboard::fuzz`): parses `body` as the handler does and turns each
/// change into the inbound message it would deliver. Returns whether it was accepted.
#[doc(hidden)]
pub fn fuzz_body(body: &[u8]) -> bool {
    let Ok(changes) = parse_changes(body) else {
        return false;
    };
    for c in changes.into_iter().flatten() {
        let _ = message_of(c);
    }
    true
}

/// The customer message a feed change is, if it is a visitor's new comment or post.
fn message_of(c: Comment) -> Option<InboundMessage> {
    let it = c.item;
    if it.verb != "add" || !ITEMS.contains(&it.item.as_str()) {
        tracing::info!(item = %it.item, verb = %it.verb, "Page change skipped: not a new comment or post");
        return None;
    }
    let from = it.from?;
    if from.id == c.page {
        tracing::info!("Page change skipped: the Page's own comment");
        return None;
    }
    let id = if it.item == "comment" {
        it.comment_id
    } else {
        it.post_id
    }?;
    let text = it.message.unwrap_or_default();
    let mut m = InboundMessage::new(Channel::FacebookComments, from.id, text);
    m.display_name = from.name;
    m.provider_msg_id = Some(id);
    m.attachments = it
        .photo
        .map(|url| Attachment {
            kind: "image".into(),
            name: None,
            content_type: None,
            size: None,
            url: Some(url),
            file: None,
        })
        .into_iter()
        .collect();
    Some(m)
}

/// Hides (`{"is_hidden": true}`), shows again or deletes comment `id` with the page
/// token.
async fn moderate(
    client: &reqwest::Client,
    cfg: &ChannelSettings,
    id: &str,
    action: Moderation,
) -> Result<(), SendFailure> {
    let ms = &cfg.messenger;
    let url = format!("{}/{}/{}", ms.api_base, ms.api_version, id);
    let req = match action {
        Moderation::Hide | Moderation::Unhide => client
            .post(url)
            .json(&serde_json::json!({ "is_hidden": action == Moderation::Hide })),
        Moderation::Delete => client.delete(url),
    };
    let resp = req
        .query(&[("access_token", ms.page_access_token.as_str())])
        .send()
        .await
        .map_err(SendFailure::from_reqwest)?;
    read_answer(resp).await.map(drop)
}

/// Answers `d` in public, under the conversation's latest comment.
pub async fn send(client: &reqwest::Client, cfg: &ChannelSettings, d: &Delivery) -> SendResult {
    let ms = &cfg.messenger;
    if !matches!(d.send_as, SendAs::Reply) {
        return Err(SendFailure::permanent(
            "a public comment reply is plain text (no tag, no template)",
        ));
    }
    let Some(comment) = d.references.last() else {
        return Err(SendFailure::permanent(
            "no comment of the customer to answer under",
        ));
    };
    let resp = client
        .post(format!(
            "{}/{}/{}/comments",
            ms.api_base, ms.api_version, comment
        ))
        .query(&[("access_token", ms.page_access_token.as_str())])
        .json(&serde_json::json!({ "message": d.text }))
        .send()
        .await
        .map_err(SendFailure::from_reqwest)?;
    Ok(answered_id(&read_answer(resp).await?, "/id"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(changes: Value) -> Vec<u8> {
        json!({"object": "page", "entry": [{"id": "PAGE1", "time": 1, "changes": changes}]})
            .to_string()
            .into_bytes()
    }

    fn feed(value: Value) -> Value {
        json!({"field": "feed", "value": value})
    }

    #[test]
    fn new_comments_and_visitor_posts_become_messages_and_the_rest_is_skipped() {
        let from = json!({"id": "U7", "name": "Hanako"});
        let parsed = parse_changes(&body(json!([
            feed(json!({"item": "comment", "verb": "add", "comment_id": "P_C1",
                        "post_id": "P", "from": from, "message": "届きません",
                        "created_time": 1_700_000_000})),
            feed(json!({"item": "status", "verb": "add", "post_id": "PAGE1_9",
                        "from": from, "message": "hello page"})),
            feed(json!({"item": "comment", "verb": "edited", "comment_id": "P_C1",
                        "from": from, "message": "edit"})),
            feed(json!({"item": "comment", "verb": "add", "comment_id": "P_C2",
                        "from": {"id": "PAGE1"}, "message": "our own answer"})),
            feed(json!({"item": "reaction", "verb": "add", "from": from})),
            {"field": "mention", "value": {}},
            {"field": "feed", "value": "not an object"}
        ])))
        .unwrap();
        assert_eq!(parsed.len(), 6, "the non-feed change is dropped");
        assert!(parsed[5].is_err());
        let out: Vec<_> = parsed.into_iter().flatten().map(message_of).collect();
        let c = out[0].as_ref().unwrap();
        assert_eq!(c.channel, Channel::FacebookComments);
        assert_eq!(
            (
                c.address.as_str(),
                c.text.as_str(),
                c.provider_msg_id.as_deref()
            ),
            ("U7", "届きません", Some("P_C1"))
        );
        assert_eq!(c.display_name.as_deref(), Some("Hanako"));
        let post = out[1].as_ref().unwrap();
        assert_eq!(post.provider_msg_id.as_deref(), Some("PAGE1_9"));
        assert!(out[2..].iter().all(Option::is_none));
    }

    #[test]
    fn messaging_only_bodies_yield_nothing_and_floods_are_refused() {
        let dm = json!({"object": "page", "entry": [{"id": "P", "messaging": [{}]}]});
        assert!(parse_changes(dm.to_string().as_bytes()).unwrap().is_empty());
        let ig = json!({"object": "instagram", "entry": [{"id": "P", "changes": [{}]}]});
        assert!(parse_changes(ig.to_string().as_bytes()).unwrap().is_empty());
        assert!(parse_changes(b"[]").is_err());
        let many: Vec<Value> = (0..=MAX_CHANGES).map(|_| json!({})).collect();
        assert!(parse_changes(&body(json!(many))).is_err());
    }
}
