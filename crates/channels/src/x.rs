//! X (Twitter) direct messages, through the Account Activity API.
//!
//! - CRC challenge: `GET /webhooks/x?crc_token=..` answers `{"response_token":
//!   "sha256=" + base64(HMAC-SHA256(consumer secret, crc_token))}`, as X asks when the
//!   webhook is registered and hourly after.
//! - Inbound: `POST /webhooks/x`, JSON signed with `X-Twitter-Webhooks-Signature`
//!   (`sha256=` + base64(HMAC-SHA256(consumer secret, raw body))). Its
//!   `direct_message_events` of type `message_create` sent *to* the business account
//!   (`for_user_id`) are the customer's: the text, a quick-reply answer's text, and a
//!   media attachment (kind and URL), fetched with OAuth 1.0a (`oauth1`) and stored
//!   when `oauth1_*` credentials are configured. The sender is the X user id, one identity on the
//!   `x` channel, with the display name from `users`. Our own sends (sender =
//!   `for_user_id`) and every other event kind (typing, reads, follows) are skipped
//!   with a log line; public posts (`tweet_create_events`) go to `x_mentions`. The
//!   event id de-duplicates redeliveries; the `created_timestamp` is checked against
//!   the replay window.
//! - Outbound: `POST {api_base}/2/dm_conversations/with/{user id}/messages` with
//!   `{"text": ..}` and the business account's OAuth 2.0 user access token (bearer).
//!   An agent's images are uploaded first (`POST /2/media/upload`, `dm_image`) and
//!   attached, one per message; other files go as signed links in the text.
//!   X keeps no reply window on direct messages (the customer may close their DMs; the
//!   send then fails with X's answer).

use super::connector::{serve, Connector, SendContext, Sender, Webhook};
use super::webhook::{self, WebhookError};
use super::{ChannelSettings, InboundMessage};
use crate::connector::{SendFailure, SendResult};
use crate::domain::{Attachment, Channel, SendAs};
use crate::{media, Gateway};
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::future::BoxFuture;
use serde::Deserialize;
use serde_json::Value;
use switchboard_engine::outbound::Delivery;

const PROVIDER: &str = "x";
/// Direct-message events taken from one call.
const MAX_EVENTS: usize = 1000;
/// Longest CRC token answered.
const MAX_CRC_TOKEN: usize = 256;

#[derive(Debug, Deserialize)]
pub struct CrcQuery {
    crc_token: Option<String>,
}

/// `GET /webhooks/x?crc_token=..`: the challenge-response check.
pub async fn crc(
    state: web::Data<Gateway>,
    q: web::Query<CrcQuery>,
) -> Result<HttpResponse, WebhookError> {
    let cfg = &state.channels().x;
    if !cfg.enabled {
        return Err(WebhookError::Disabled);
    }
    let token = q
        .crc_token
        .as_deref()
        .filter(|t| !t.is_empty() && t.len() <= MAX_CRC_TOKEN)
        .ok_or_else(|| WebhookError::Malformed("crc_token is missing or too long".into()))?;
    let response_token = super::signature::x_signature(&cfg.consumer_secret, token.as_bytes());
    Ok(HttpResponse::Ok().json(serde_json::json!({ "response_token": response_token })))
}

#[derive(Debug, Deserialize)]
struct Payload {
    for_user_id: String,
    #[serde(default)]
    direct_message_events: Vec<Value>,
    #[serde(default)]
    users: serde_json::Map<String, Value>,
}

#[derive(Debug, Deserialize)]
struct DmEvent {
    #[serde(rename = "type")]
    kind: String,
    id: String,
    /// Milliseconds since the epoch, as a string.
    #[serde(default)]
    created_timestamp: Option<String>,
    #[serde(default)]
    message_create: Option<MessageCreate>,
}

#[derive(Debug, Deserialize)]
struct MessageCreate {
    sender_id: String,
    #[serde(default)]
    message_data: MessageData,
}

#[derive(Debug, Default, Deserialize)]
struct MessageData {
    #[serde(default)]
    text: String,
    #[serde(default)]
    attachment: Option<Value>,
}

/// The X (Account Activity API) connector.
pub struct X;

impl Connector for X {
    fn provider(&self) -> &'static str {
        PROVIDER
    }
    fn enabled(&self, s: &ChannelSettings) -> bool {
        s.x.enabled
    }
    fn routes(&self, cfg: &mut web::ServiceConfig) {
        cfg.route("/x", web::get().to(crc))
            .route("/x", web::post().to(webhook_post));
    }
    fn sender(&self) -> Option<&dyn Sender> {
        Some(self)
    }
}

impl Sender for X {
    fn channel(&self) -> Channel {
        Channel::X
    }
    /// JPEG, PNG and WebP images uploaded and attached, one per direct message; other
    /// files as signed links in the text (see [`send`]).
    fn carries_files(&self) -> bool {
        true
    }
    fn send<'a>(&'a self, cx: SendContext<'a>, d: &'a Delivery) -> BoxFuture<'a, SendResult> {
        Box::pin(send(cx, d))
    }
}

/// Image types X's one-shot media upload takes for a direct message (`dm_image`).
const DM_IMAGE_TYPES: [&str; 3] = ["image/jpeg", "image/png", "image/webp"];

/// Uploads stored file `id` of `d`'s customer with `POST {api_base}/2/media/upload`
/// (multipart: `media`, `media_category=dm_image`, `media_type`); the media id.
async fn upload(
    cx: SendContext<'_>,
    d: &Delivery,
    id: &crate::domain::BlobId,
) -> Result<String, SendFailure> {
    let x = &cx.gateway.channels().x;
    let (meta, bytes) = match cx.gateway.blobs.read(d.customer_id, id).await {
        Ok(Some(found)) => found,
        Ok(None) => return Err(SendFailure::permanent(format!("file {id} is gone"))),
        Err(e) => return Err(SendFailure::temporary(e.to_string())),
    };
    let part = reqwest::multipart::Part::bytes(bytes)
        .file_name(meta.name.unwrap_or_else(|| "image".into()))
        .mime_str(&meta.content_type)
        .map_err(|e| SendFailure::permanent(format!("file type: {e}")))?;
    let form = reqwest::multipart::Form::new()
        .text("media_category", "dm_image")
        .text("media_type", meta.content_type.clone())
        .part("media", part);
    let resp = cx
        .client
        .post(format!("{}/2/media/upload", x.api_base))
        .bearer_auth(&x.access_token)
        .multipart(form)
        .send()
        .await
        .map_err(SendFailure::from_reqwest)?;
    let answer = crate::connector::read_answer(resp).await?;
    answer["data"]["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| SendFailure::permanent("the media upload answered no id"))
}

impl Webhook for X {
    /// The body itself: the signature covers all of it.
    type Verified = ();
    const CONTENT_TYPE: &'static str = "application/json";
    fn verify(
        &self,
        gateway: &Gateway,
        req: &HttpRequest,
        body: &[u8],
    ) -> Result<(), WebhookError> {
        let header = webhook::header(req, "X-Twitter-Webhooks-Signature");
        if super::signature::verify_x(&gateway.channels().x.consumer_secret, body, header) {
            Ok(())
        } else {
            Err(WebhookError::BadSignature)
        }
    }
}

/// `POST /webhooks/x`.
pub async fn webhook_post(
    state: web::Data<Gateway>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, WebhookError> {
    serve(&X, &state, &req, &body, |()| handle(&state, &body)).await
}

async fn handle(state: &Gateway, body: &[u8]) -> Result<HttpResponse, WebhookError> {
    let parsed = parse_events(body)?;
    let events = webhook::fresh_events(state, PROVIDER, parsed, |(e, _)| {
        e.created_timestamp.as_deref()?.parse().ok()
    });
    for (ev, name) in events {
        let Some(mut m) = message_of(ev) else {
            continue;
        };
        m.display_name = name;
        m.queue = state.channels().x.queue.clone();
        // The media of a direct message is served to OAuth 1.0a only.
        if let Some(creds) = state.channels().x.oauth1() {
            let auth = media::Auth::OAuth1(creds);
            media::fetch_urls(state, PROVIDER, &mut m, auth, &state.channels().x.api_base).await;
        }
        webhook::ingest_or_skip(state, PROVIDER, m).await?;
    }
    crate::x_mentions::handle(state, body).await?;
    Ok(HttpResponse::Ok().finish())
}

type Parsed = Vec<Result<(DmEvent, Option<String>), serde_json::Error>>;

/// A verified body's direct-message events sent to the business account, each with
/// its sender's display name; at most `MAX_EVENTS`. A payload without
/// `direct_message_events` (typing, reads, follows, tweets) yields none; an event that
/// does not parse is an `Err` the handler skips. Pure, no I/O: fuzzed through
/// `switchboard::fuzz`.
fn parse_events(body: &[u8]) -> Result<Parsed, WebhookError> {
    let payload: Payload = serde_json::from_slice(body)
        .map_err(|e| WebhookError::Malformed(format!("X payload: {e}")))?;
    if payload.direct_message_events.len() > MAX_EVENTS {
        return Err(WebhookError::Malformed(
            "too many events in one call".into(),
        ));
    }
    let me = payload.for_user_id;
    let users = payload.users;
    Ok(payload
        .direct_message_events
        .into_iter()
        .map(serde_json::from_value::<DmEvent>)
        .filter(|e| match e {
            Ok(e) => {
                let ours = e.message_create.as_ref().is_some_and(|m| m.sender_id == me);
                if ours {
                    tracing::info!("X event skipped: our own message");
                }
                !ours
            }
            Err(_) => true,
        })
        .map(|e| {
            e.map(|e| {
                let name = e.message_create.as_ref().and_then(|m| {
                    users
                        .get(&m.sender_id)
                        .and_then(|u| u["name"].as_str())
                        .map(str::to_owned)
                });
                (e, name)
            })
        })
        .collect())
}

/// Fuzz entry (see `switchboard::fuzz`): parses `body` as the handler does and turns each
/// event into the inbound message it would deliver. Returns whether it was accepted.
#[doc(hidden)]
pub fn fuzz_body(body: &[u8]) -> bool {
    let Ok(events) = parse_events(body) else {
        return false;
    };
    for (ev, _) in events.into_iter().flatten() {
        let _ = message_of(ev);
    }
    true
}

/// The customer message a direct-message event is, if it is one.
fn message_of(ev: DmEvent) -> Option<InboundMessage> {
    if ev.kind != "message_create" {
        tracing::info!(kind = %ev.kind, "X event skipped: not a message");
        return None;
    }
    let mc = ev.message_create?;
    let attachments = mc
        .message_data
        .attachment
        .as_ref()
        .and_then(|a| {
            let media = &a["media"];
            Some(Attachment {
                kind: match media["type"].as_str()? {
                    "photo" => "image",
                    "animated_gif" => "video",
                    other => other,
                }
                .to_owned(),
                name: None,
                content_type: None,
                size: None,
                url: media["media_url_https"].as_str().map(str::to_owned),
                file: None,
            })
        })
        .into_iter()
        .collect();
    let mut m = InboundMessage::new(Channel::X, mc.sender_id, mc.message_data.text);
    m.provider_msg_id = Some(ev.id);
    m.attachments = attachments;
    Some(m)
}

/// Sends `d` as direct messages: its images (JPEG, PNG, WebP) uploaded first, each
/// attached to a message of its own (X takes one per message), the text — with a
/// signed link for every other file and the quick replies written under it — on the
/// first. Everything is uploaded before anything is sent, so an upload failure sends
/// nothing; a send failing after an earlier message went out is reported as possibly
/// sent.
pub async fn send(cx: SendContext<'_>, d: &Delivery) -> SendResult {
    let x = &cx.gateway.channels().x;
    if !matches!(d.send_as, SendAs::Reply) {
        return Err(SendFailure::permanent(
            "X direct messages are plain replies (no tag, no template)",
        ));
    }
    let links = crate::file_links::of_delivery(cx.gateway, d)?;
    let mut text = d.text.clone();
    let mut media = Vec::new();
    for (a, (_, url)) in d.attachments.iter().zip(&links) {
        let image = DM_IMAGE_TYPES.contains(&a.content_type.as_deref().unwrap_or(""));
        match (&a.file, image) {
            (Some(id), true) => media.push(upload(cx, d, id).await?),
            _ => crate::file_links::write_under(&mut text, a, url),
        }
    }
    // Quick replies are written under the text: X's v2 DMs have no buttons.
    for q in &d.quick_replies {
        text.push_str("\n- ");
        text.push_str(q);
    }
    let mut bodies: Vec<Value> = media
        .iter()
        .map(|id| serde_json::json!({ "attachments": [{ "media_id": id }] }))
        .collect();
    match bodies.first_mut() {
        Some(first) if !text.is_empty() => first["text"] = text.into(),
        Some(_) => {}
        None => bodies.push(serde_json::json!({ "text": text })),
    }
    let mut last = crate::connector::Sent::default();
    for (i, body) in bodies.into_iter().enumerate() {
        let resp = cx
            .client
            .post(format!(
                "{}/2/dm_conversations/with/{}/messages",
                x.api_base, d.to
            ))
            .bearer_auth(&x.access_token)
            .json(&body)
            .send()
            .await
            .map_err(SendFailure::from_reqwest);
        let answer = match resp {
            Ok(r) => crate::connector::read_answer(r).await,
            Err(e) => Err(e),
        };
        last = match answer {
            Ok(a) => crate::connector::answered_id(&a, "/data/dm_event_id"),
            Err(mut e) if i > 0 => {
                e.maybe_sent = true;
                e.detail = format!("part {} of the reply failed: {}", i + 1, e.detail);
                return Err(e);
            }
            Err(e) => return Err(e),
        };
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(events: Value) -> Vec<u8> {
        json!({"for_user_id": "4337869213", "direct_message_events": events,
               "users": {"3001969357": {"id": "3001969357", "name": "Jordan", "screen_name": "jb"}}})
        .to_string()
        .into_bytes()
    }

    fn dm(id: &str, sender: &str, data: Value) -> Value {
        json!({"type": "message_create", "id": id, "created_timestamp": "1516403560557",
               "message_create": {"target": {"recipient_id": "4337869213"},
                                  "sender_id": sender, "message_data": data}})
    }

    #[test]
    fn direct_messages_to_us_become_messages_and_ours_are_skipped() {
        let evs = parse_events(&body(json!([
            dm("1", "3001969357", json!({"text": "DM来ました"})),
            dm("2", "4337869213", json!({"text": "our own reply"})),
            dm("3", "3001969357", json!({"text": "https://t.co/x",
                "attachment": {"type": "media", "media": {"type": "photo",
                    "media_url_https": "https://ton.x.com/i/ton/data/dm/1.jpg"}}})),
            {"type": "something_else", "id": "4"}
        ])))
        .unwrap();
        let out: Vec<_> = evs
            .into_iter()
            .map(Result::unwrap)
            .map(|(e, name)| (message_of(e), name))
            .collect();
        assert_eq!(out.len(), 3, "our own message is dropped before parsing");
        let (m, name) = &out[0];
        let m = m.as_ref().unwrap();
        assert_eq!(
            (m.address.as_str(), m.text.as_str()),
            ("3001969357", "DM来ました")
        );
        assert_eq!(name.as_deref(), Some("Jordan"));
        let photo = out[1].0.as_ref().unwrap();
        assert_eq!(photo.attachments[0].kind, "image");
        assert!(out[2].0.is_none(), "other event kinds are skipped");
    }

    #[test]
    fn other_activity_yields_nothing_and_bad_payloads_are_refused() {
        let typing = json!({"for_user_id": "1", "direct_message_indicate_typing_events": []});
        assert!(parse_events(typing.to_string().as_bytes())
            .unwrap()
            .is_empty());
        assert!(parse_events(b"{}").is_err(), "for_user_id is required");
        let many: Vec<Value> = (0..=MAX_EVENTS)
            .map(|n| dm(&n.to_string(), "2", json!({"text": "x"})))
            .collect();
        assert!(parse_events(&body(json!(many))).is_err());
    }
}
