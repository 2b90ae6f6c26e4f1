//! Facebook Messenger Platform: the Messenger connector, and the wire format, signature
//! check and Send API it shares with Instagram messaging (`instagram`, through
//! [`Product`]).
//!
//! - Subscription: `GET /webhooks/messenger?hub.mode=subscribe&hub.verify_token=..&
//!   hub.challenge=..` answers the challenge when the verify token matches, else 403.
//! - Inbound: `POST /webhooks/messenger`, JSON `{"object": "page", "entry": [{"messaging":
//!   [...]}]}` signed with `X-Hub-Signature-256` (`sha256=` + hex HMAC-SHA256 of the raw
//!   body with the app secret). Handled: `message` (text and attachments; echoes of our
//!   own sends are skipped) and `postback` (a button: its title is the customer's
//!   words). Other events (delivery, read, reactions) are skipped with a log line and
//!   answered 200. `account_linking` (Account Linking): `status: "linked"` carries
//!   our login token (a JWT signed with `channels.login_secret`, see `login`) as the
//!   `authorization_code`; the PSID is linked to the customer it proves (if nobody
//!   owns the PSID yet; else logged). `status: "unlinked"` takes the PSID away from its
//!   customer. A token that does not verify is logged and skipped (200): a redelivery
//!   would not make it valid. The `mid` de-duplicates redeliveries. If storing fails, the whole
//!   call gets 503 and Messenger redelivers; already-stored messages stay single.
//! - Outbound: Send API `POST {api_base}/{version}/me/messages` with
//!   `{"recipient": {"id": PSID}, "messaging_type": "RESPONSE", "message": {"text"}}`.
//!   A private reply to a Page comment (`facebook_comments`; `SendAs::PrivateReply`)
//!   names `{"recipient": {"comment_id": ..}}` instead; Meta answers it with the
//!   commenter's PSID (`recipient_id`), which is linked to the customer.
//! - Page feed changes (`entry[].changes`, field `feed`) arriving on this webhook are
//!   public comments: `facebook_comments` takes them.
//! - The 24-hour rule ([`Sender::window`]): free replies within 24 hours of the
//!   customer's last message; with `human_agent_tag` (Meta's Human Agent permission),
//!   up to 7 days as `"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"`; later
//!   replies are refused before they are committed.

use super::connector::{serve, Connector, SendContext, Sender, Webhook};
use super::webhook::{self, WebhookError};
use super::{ChannelSettings, InboundMessage};
use crate::connector::{SendFailure, SendResult, Sent};
use crate::domain::{Attachment, Channel, SendAs};
use crate::media;
use crate::Gateway;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::future::BoxFuture;
use serde::Deserialize;
use switchboard_engine::outbound::Delivery;

const MAX_EVENTS: usize = 1000;

/// A product of the Messenger Platform this module serves: Facebook Messenger, or
/// Instagram messaging (`instagram`), which share the wire format, the signature and
/// the Send API and differ in their webhook `object`, channel and settings.
pub(crate) struct Product {
    pub provider: &'static str,
    pub channel: Channel,
    /// The webhook payload's `object`.
    pub object: &'static str,
    pub settings: fn(&ChannelSettings) -> &crate::config::Messenger,
}

pub(crate) const MESSENGER: Product = Product {
    provider: "messenger",
    channel: Channel::Messenger,
    object: "page",
    settings: |s| &s.messenger,
};

/// `GET /webhooks/messenger`: the subscription handshake.
pub async fn verify(
    state: web::Data<Gateway>,
    q: web::Query<webhook::HubChallenge>,
) -> Result<HttpResponse, WebhookError> {
    handshake(&MESSENGER, &state, &q)
}

/// Answers `product`'s subscription handshake.
pub(crate) fn handshake(
    product: &Product,
    state: &Gateway,
    q: &webhook::HubChallenge,
) -> Result<HttpResponse, WebhookError> {
    let all = state.channels();
    let cfg = (product.settings)(&all);
    q.answer(cfg.enabled, &cfg.verify_token)
}

#[derive(Debug, Deserialize)]
struct Payload {
    object: String,
    #[serde(default)]
    entry: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
struct Entry {
    #[serde(default)]
    messaging: Vec<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct Messaging {
    sender: Party,
    /// Milliseconds since the epoch; events older than the replay window are skipped.
    #[serde(default)]
    timestamp: Option<i64>,
    #[serde(default)]
    message: Option<Msg>,
    #[serde(default)]
    postback: Option<Postback>,
    #[serde(default)]
    account_linking: Option<AccountLinking>,
}

#[derive(Debug, Deserialize)]
struct AccountLinking {
    status: String,
    #[serde(default)]
    authorization_code: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Party {
    id: String,
}

#[derive(Debug, Deserialize)]
struct Msg {
    mid: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    is_echo: bool,
    #[serde(default)]
    attachments: Vec<Att>,
    /// Instagram: the story (or message) this replies to.
    #[serde(default)]
    reply_to: Option<serde_json::Value>,
    /// Instagram: the customer unsent a message, or sent one the API cannot show.
    #[serde(default)]
    is_deleted: bool,
    #[serde(default)]
    is_unsupported: bool,
}

#[derive(Debug, Deserialize)]
struct Att {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    payload: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct Postback {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    payload: Option<String>,
    #[serde(default)]
    mid: Option<String>,
}

/// The Facebook Messenger (Meta Send API) connector.
pub struct Messenger;

impl Connector for Messenger {
    fn provider(&self) -> &'static str {
        MESSENGER.provider
    }
    fn enabled(&self, s: &ChannelSettings) -> bool {
        s.messenger.enabled
    }
    fn routes(&self, cfg: &mut web::ServiceConfig) {
        cfg.route("/messenger", web::get().to(verify))
            .route("/messenger", web::post().to(webhook));
    }
    fn sender(&self) -> Option<&dyn Sender> {
        Some(self)
    }
}

/// Meta's standard messaging window, and the Human Agent tag's.
pub(crate) const DAY_MS: u64 = 24 * 3_600_000;
const HUMAN_AGENT_MS: u64 = 7 * DAY_MS;

impl Sender for Messenger {
    fn channel(&self) -> Channel {
        Channel::Messenger
    }
    fn window(&self, s: &ChannelSettings) -> Option<crate::domain::ReplyWindow> {
        Some(window(&s.messenger))
    }
    fn carries_files(&self) -> bool {
        true
    }
    fn send<'a>(&'a self, cx: SendContext<'a>, d: &'a Delivery) -> BoxFuture<'a, SendResult> {
        let ch = cx.gateway.channels();
        Box::pin(async move { send(cx, &ch.messenger, d).await })
    }
}

/// Meta's 24-hour window, and the Human Agent tag's 7 days where the app may use it.
pub(crate) fn window(cfg: &crate::config::Messenger) -> crate::domain::ReplyWindow {
    crate::domain::ReplyWindow {
        free_ms: DAY_MS,
        tagged_ms: cfg.human_agent_tag.then_some(HUMAN_AGENT_MS),
        templates: false,
    }
}

impl Webhook for Messenger {
    /// The body itself: the signature covers all of it.
    type Verified = ();
    const CONTENT_TYPE: &'static str = "application/json";
    fn verify(
        &self,
        gateway: &Gateway,
        req: &HttpRequest,
        body: &[u8],
    ) -> Result<(), WebhookError> {
        verify_signature(&gateway.channels().messenger, req, body)
    }
}

/// Checks `X-Hub-Signature-256` over `body` with the app secret of `cfg`.
pub(crate) fn verify_signature(
    cfg: &crate::config::Messenger,
    req: &HttpRequest,
    body: &[u8],
) -> Result<(), WebhookError> {
    let header = webhook::header(req, "X-Hub-Signature-256");
    if super::signature::verify_messenger(&cfg.app_secret, body, header) {
        Ok(())
    } else {
        Err(WebhookError::BadSignature)
    }
}

/// `POST /webhooks/messenger`.
pub async fn webhook(
    state: web::Data<Gateway>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, WebhookError> {
    serve(&Messenger, &state, &req, &body, |()| {
        handle(&MESSENGER, &state, &body)
    })
    .await
}

/// Handles a verified call of `product`'s webhook.
pub(crate) async fn handle(
    product: &Product,
    state: &Gateway,
    body: &[u8],
) -> Result<HttpResponse, WebhookError> {
    let all = state.channels();
    let cfg = (product.settings)(&all);
    let events = webhook::fresh_events(
        state,
        product.provider,
        parse_events(body, product.object)?,
        |e| e.timestamp,
    );
    for mut ev in events {
        if let Some(al) = ev.account_linking.take() {
            if product.channel == Channel::Messenger {
                account_linking(state, &ev.sender.id, al).await?;
            }
            continue;
        }
        let Some(mut m) = message_of(ev, product.channel, cfg.queue.clone()) else {
            continue;
        };
        // Media: the payload's URL on Meta's CDN (no credentials needed or sent).
        media::fetch_urls(
            state,
            product.provider,
            &mut m,
            media::Auth::None,
            &cfg.api_base,
        )
        .await;
        webhook::ingest_or_skip(state, product.provider, m).await?;
    }
    if product.channel == Channel::Messenger {
        crate::facebook_comments::handle(state, body).await?;
    }
    Ok(HttpResponse::Ok().body("EVENT_RECEIVED"))
}

/// Links (or unlinks) the sender's PSID as the Account Linking event says.
async fn account_linking(
    state: &Gateway,
    psid: &str,
    al: AccountLinking,
) -> Result<(), WebhookError> {
    let gateway = &state;
    let Ok(key) = crate::domain::IdentityKey::parse(Channel::Messenger, psid) else {
        tracing::info!("Messenger account_linking skipped: bad sender id");
        return Ok(());
    };
    match al.status.as_str() {
        "linked" => {
            let code = al.authorization_code.unwrap_or_default();
            let claims = match super::login::verify(
                &gateway.channels().login_secret,
                &code,
                gateway.now(),
            ) {
                Ok(c) => c,
                Err(e) => {
                    tracing::info!(error = %crate::redact::Redacted(&e.to_string()), "Messenger account_linking skipped");
                    return Ok(());
                }
            };
            match gateway
                .link_by_login(&claims, key, "messenger_account_linking")
                .await
            {
                Ok((customer, outcome)) => {
                    tracing::info!(customer = %customer, ?outcome, "Messenger account linked")
                }
                Err(e) if e.code == crate::domain::ErrorCode::Invalid => {
                    tracing::info!(error = %crate::redact::Redacted(&e.to_string()), "Messenger account_linking skipped")
                }
                Err(e) => return Err(e.into()),
            }
        }
        "unlinked" => {
            let owner = gateway
                .store
                .customer_by_identity(&key)
                .await
                .map_err(|e| {
                    WebhookError::from(crate::actors::messages::EngineError::unavailable(e))
                })?;
            if let Some(customer) = owner {
                match gateway.unlink_identity(customer, key, None).await {
                    Ok(()) => tracing::info!(customer = %customer, "Messenger account unlinked"),
                    Err(e) if e.code == crate::domain::ErrorCode::NotFound => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        other => tracing::info!(status = other, "Messenger account_linking skipped"),
    }
    Ok(())
}

/// A verified body's messaging events: the payload must be an `object` object (`page`,
/// `instagram`) with at most `MAX_EVENTS` events; an event that does not parse is an
/// `Err` the handler skips. Pure, no I/O: fuzzed through `switchboard::fuzz`.
fn parse_events(
    body: &[u8],
    object: &str,
) -> Result<Vec<Result<Messaging, serde_json::Error>>, WebhookError> {
    let payload: Payload = serde_json::from_slice(body)
        .map_err(|e| WebhookError::Malformed(format!("Messenger Platform payload: {e}")))?;
    if payload.object != object {
        return Err(WebhookError::Malformed(format!(
            "object {:?}; expected {object:?}",
            payload.object
        )));
    }
    let events: Vec<serde_json::Value> = payload
        .entry
        .into_iter()
        .flat_map(|e| e.messaging)
        .collect();
    if events.len() > MAX_EVENTS {
        return Err(WebhookError::Malformed(
            "too many events in one call".into(),
        ));
    }
    Ok(events
        .into_iter()
        .map(serde_json::from_value::<Messaging>)
        .collect())
}

/// Fuzz entry (see `switchboard::fuzz`): parses `body` as the handler does and turns each
/// event into the inbound message it would deliver. Returns whether it was accepted.
#[doc(hidden)]
pub fn fuzz_body(body: &[u8]) -> bool {
    let (object, channel) = match serde_json::from_slice::<Payload>(body) {
        Ok(p) if p.object == "instagram" => ("instagram", Channel::Instagram),
        _ => ("page", Channel::Messenger),
    };
    let Ok(events) = parse_events(body, object) else {
        return false;
    };
    for ev in events.into_iter().flatten() {
        let _ = message_of(ev, channel, None);
    }
    true
}

/// The customer message in a messaging event on `channel`, if it is one we handle.
/// Instagram's story replies carry the story as a `story_reply` attachment; its story
/// mentions arrive as `story_mention` attachments; unsent and unsupported messages
/// are skipped.
fn message_of(
    ev: Messaging,
    channel: Channel,
    queue: Option<crate::domain::QueueName>,
) -> Option<InboundMessage> {
    let url_of =
        |p: Option<&serde_json::Value>| p.and_then(|p| p["url"].as_str()).map(str::to_owned);
    let mut m = if let Some(msg) = ev.message {
        if msg.is_echo || msg.is_deleted || msg.is_unsupported {
            tracing::info!(%channel, "event skipped: an echo, unsent or unsupported message");
            return None;
        }
        let mut attachments: Vec<Attachment> = msg
            .attachments
            .iter()
            .map(|a| Attachment {
                kind: a.kind.clone(),
                name: None,
                content_type: None,
                size: None,
                url: url_of(a.payload.as_ref()),
                file: None,
            })
            .collect();
        if let Some(story) = msg.reply_to.as_ref().map(|r| &r["story"]) {
            if story.is_object() {
                attachments.push(Attachment {
                    kind: "story_reply".into(),
                    name: None,
                    content_type: None,
                    size: None,
                    url: url_of(Some(story)),
                    file: None,
                });
            }
        }
        let mut m = InboundMessage::new(channel, ev.sender.id, msg.text.unwrap_or_default());
        m.provider_msg_id = Some(msg.mid);
        m.attachments = attachments;
        m
    } else if let Some(pb) = ev.postback {
        let text = pb.title.clone().or(pb.payload.clone()).unwrap_or_default();
        let mut m = InboundMessage::new(channel, ev.sender.id, text);
        m.provider_msg_id = pb.mid.map(|mid| format!("postback:{mid}"));
        m
    } else {
        tracing::info!(%channel, "event skipped: not a message or postback");
        return None;
    };
    m.queue = queue;
    Some(m)
}

/// Sends `d` with the Send API, with the page settings `ms` (Messenger's or
/// Instagram's): each file first, as an attachment Meta fetches by its signed link
/// (`crate::file_links`), then the text (if any). A part that fails after the first
/// went out leaves the reply `unknown`: the parts before are not sent again.
pub async fn send(cx: SendContext<'_>, ms: &crate::config::Messenger, d: &Delivery) -> SendResult {
    let mut messages: Vec<serde_json::Value> = crate::file_links::of_delivery(cx.gateway, d)?
        .into_iter()
        .map(|(kind, url)| {
            serde_json::json!({
                "attachment": {"type": kind, "payload": {"url": url, "is_reusable": false}}
            })
        })
        .collect();
    if !d.text.trim().is_empty() || messages.is_empty() {
        let mut message = serde_json::json!({ "text": d.text });
        if !d.quick_replies.is_empty() {
            let qr: Vec<_> = d
                .quick_replies
                .iter()
                .map(|q| serde_json::json!({"content_type": "text", "title": q, "payload": q}))
                .collect();
            message["quick_replies"] = serde_json::json!(qr);
        }
        messages.push(message);
    }
    let mut last = Sent::default();
    for (i, message) in messages.into_iter().enumerate() {
        last = match send_message(cx.client, ms, d, message).await {
            Err(mut e) if i > 0 => {
                e.maybe_sent = true;
                e.detail = format!("part {} of the reply failed: {}", i + 1, e.detail);
                return Err(e);
            }
            r => r?,
        };
    }
    Ok(last)
}

/// One Send API call of `d` carrying `message`.
async fn send_message(
    client: &reqwest::Client,
    ms: &crate::config::Messenger,
    d: &Delivery,
    message: serde_json::Value,
) -> SendResult {
    let mut body = serde_json::json!({
        "recipient": { "id": d.to },
        "messaging_type": "RESPONSE",
        "message": message,
    });
    match &d.send_as {
        SendAs::Reply => {}
        SendAs::HumanAgent => {
            body["messaging_type"] = "MESSAGE_TAG".into();
            body["tag"] = "HUMAN_AGENT".into();
        }
        SendAs::PrivateReply { comment_id } => {
            body["recipient"] = serde_json::json!({ "comment_id": comment_id });
        }
        SendAs::Template(_) => {
            return Err(SendFailure::permanent(
                "the Messenger Platform takes no template messages",
            ))
        }
    }
    let resp = client
        .post(format!("{}/{}/me/messages", ms.api_base, ms.api_version))
        .query(&[("access_token", ms.page_access_token.as_str())])
        .json(&body)
        .send()
        .await
        .map_err(SendFailure::from_reqwest)?;
    let answer = crate::connector::read_answer(resp).await?;
    let mut sent = crate::connector::answered_id(&answer, "/message_id");
    // A private reply's answer names the commenter's Messenger id: from now on they
    // are that Messenger customer too.
    if matches!(d.send_as, SendAs::PrivateReply { .. }) {
        sent.learned = answer["recipient_id"]
            .as_str()
            .and_then(|psid| crate::domain::IdentityKey::parse(d.channel, psid).ok());
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn events(object: &str, messaging: serde_json::Value) -> Vec<Messaging> {
        let body =
            json!({"object": object, "entry": [{"id": "IG1", "time": 1, "messaging": messaging}]});
        parse_events(body.to_string().as_bytes(), object)
            .unwrap()
            .into_iter()
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn instagram_story_replies_mentions_and_unsent_messages() {
        let evs = events(
            "instagram",
            json!([
                {"sender": {"id": "IGSID1"}, "recipient": {"id": "IG1"}, "timestamp": 1,
                 "message": {"mid": "ig1", "text": "素敵！",
                    "reply_to": {"story": {"url": "https://cdn.example/s1.jpg", "id": "S1"}}}},
                {"sender": {"id": "IGSID1"}, "recipient": {"id": "IG1"}, "timestamp": 2,
                 "message": {"mid": "ig2", "attachments": [
                    {"type": "story_mention", "payload": {"url": "https://cdn.example/s2.jpg"}}]}},
                {"sender": {"id": "IGSID1"}, "recipient": {"id": "IG1"}, "timestamp": 3,
                 "message": {"mid": "ig3", "is_deleted": true}},
                {"sender": {"id": "IGSID1"}, "recipient": {"id": "IG1"}, "timestamp": 4,
                 "message": {"mid": "ig4", "is_unsupported": true}},
                {"sender": {"id": "IGSID1"}, "recipient": {"id": "IG1"}, "timestamp": 5,
                 "message": {"mid": "ig5", "text": "はい", "quick_reply": {"payload": "YES"}}}
            ]),
        );
        let out: Vec<_> = evs
            .into_iter()
            .filter_map(|e| message_of(e, Channel::Instagram, None))
            .collect();
        assert_eq!(out.len(), 3, "unsent and unsupported messages are skipped");
        assert!(out.iter().all(|m| m.channel == Channel::Instagram));
        assert_eq!(out[0].text, "素敵！");
        assert_eq!(out[0].attachments[0].kind, "story_reply");
        assert_eq!(
            out[0].attachments[0].url.as_deref(),
            Some("https://cdn.example/s1.jpg")
        );
        assert_eq!(out[1].attachments[0].kind, "story_mention");
        assert_eq!(
            (out[2].text.as_str(), out[2].provider_msg_id.as_deref()),
            ("はい", Some("ig5"))
        );
    }

    #[test]
    fn each_product_takes_only_its_own_object() {
        let ig = json!({"object": "instagram", "entry": []}).to_string();
        let page = json!({"object": "page", "entry": []}).to_string();
        assert!(parse_events(ig.as_bytes(), "instagram").is_ok());
        assert!(parse_events(ig.as_bytes(), "page").is_err());
        assert!(parse_events(page.as_bytes(), "instagram").is_err());
    }
}
