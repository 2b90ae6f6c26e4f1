//! LINE Messaging API.
//!
//! - Inbound: `POST /webhooks/line`, JSON `{"destination", "events": [...]}` signed with
//!   `X-Line-Signature` (base64 HMAC-SHA256 of the raw body with the channel secret).
//!   Handled events from one-to-one chats (`source.type = user`): `message` (text,
//!   sticker, image, video, audio, file, location), `follow` (opt back in) and
//!   `unfollow` (opt out: nothing is pushed until the user follows again). Group and
//!   room events and other event types are skipped with a log line and still answered
//!   200, as LINE expects. An empty `events` list is LINE's "verify" call.
//!   The message id de-duplicates LINE's redeliveries.
//! - Outbound: the reply API (`/v2/bot/message/reply`) while the user's last reply
//!   token is fresh, else the push API (`/v2/bot/message/push`) with `X-Line-Retry-Key`
//!   set to the event id, so a retried push is delivered once. An agent's files go in
//!   the same call: JPEG/PNG images as image messages by signed link
//!   (`file_links`), other files as links under the text.

use super::connector::{serve, Connector, SendContext, Sender, Webhook};
use super::webhook::{self, WebhookError};
use super::{ingest, ChannelSettings, InboundMessage, Provided};
use crate::connector::{SendFailure, SendResult};
use crate::domain::{Attachment, Channel};
use crate::media;
use crate::Gateway;
use actix_web::{web, HttpRequest, HttpResponse};
use dashmap::DashMap;
use futures_util::future::BoxFuture;
use serde::Deserialize;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use switchboard_engine::outbound::Delivery;

const PROVIDER: &str = "line";
/// A reply token is used only while younger than this (LINE: "about one minute").
const REPLY_TOKEN_TTL: Duration = Duration::from_secs(50);
/// Events per webhook call processed at most (LINE batches a few).
const MAX_EVENTS: usize = 100;

/// user id -> (latest reply token, when it arrived). A token is used once.
fn reply_tokens() -> &'static DashMap<String, (String, Instant)> {
    static T: OnceLock<DashMap<String, (String, Instant)>> = OnceLock::new();
    T.get_or_init(DashMap::new)
}

#[derive(Debug, Deserialize)]
struct Payload {
    #[serde(default)]
    events: Vec<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    source: Option<Source>,
    #[serde(default)]
    reply_token: Option<String>,
    #[serde(default)]
    message: Option<Message>,
    #[serde(default)]
    webhook_event_id: Option<String>,
    /// Milliseconds since the epoch; events older than the replay window are skipped.
    #[serde(default)]
    timestamp: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Source {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    user_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Message {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    package_id: Option<String>,
    #[serde(default)]
    sticker_id: Option<String>,
    #[serde(default)]
    keywords: Option<Vec<String>>,
    #[serde(default)]
    file_name: Option<String>,
    #[serde(default)]
    file_size: Option<u64>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    address: Option<String>,
}

/// The LINE Messaging API connector.
pub struct Line;

impl Connector for Line {
    fn provider(&self) -> &'static str {
        PROVIDER
    }
    fn enabled(&self, s: &ChannelSettings) -> bool {
        s.line.enabled
    }
    fn routes(&self, cfg: &mut web::ServiceConfig) {
        cfg.route("/line", web::post().to(webhook));
    }
    fn sender(&self) -> Option<&dyn Sender> {
        Some(self)
    }
}

impl Sender for Line {
    fn channel(&self) -> Channel {
        Channel::Line
    }
    /// A push carries `X-Line-Retry-Key` = the reply's event id (LINE accepts one push
    /// per key); the reply API (free of the message quota) has no key, so a delivery
    /// that may use a fresh reply token is not repeatable.
    fn idempotent(&self, d: &Delivery) -> bool {
        reply_tokens()
            .get(&d.to)
            .is_none_or(|t| t.1.elapsed() >= REPLY_TOKEN_TTL)
    }
    /// JPEG and PNG images as image messages; other files as signed links in the text
    /// (LINE's Messaging API has no document message, and its audio and video
    /// messages need a duration and a preview the engine does not have).
    fn carries_files(&self) -> bool {
        true
    }
    fn send<'a>(&'a self, cx: SendContext<'a>, d: &'a Delivery) -> BoxFuture<'a, SendResult> {
        Box::pin(async move {
            let files = crate::file_links::of_delivery(cx.gateway, d)?;
            send(cx.client, &cx.gateway.channels(), d, &messages(d, &files)).await
        })
    }
}

/// Messages in one push or reply call (LINE's limit).
const MAX_MESSAGES: usize = 5;

/// The messages of `d` whose files have the signed links `files` (in order): JPEG and
/// PNG images as image messages (the image itself as its preview), as many as leave
/// room for the text; every other file, and images past those, as `name: link` lines
/// under the text; the text last, with the quick replies.
fn messages(d: &Delivery, files: &[(&'static str, String)]) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let mut text = d.text.clone();
    for (a, (_, url)) in d.attachments.iter().zip(files) {
        let ct = a.content_type.as_deref().unwrap_or("");
        if matches!(ct, "image/jpeg" | "image/png") && out.len() < MAX_MESSAGES - 1 {
            out.push(
                serde_json::json!({"type": "image", "originalContentUrl": url,
                                        "previewImageUrl": url}),
            );
            continue;
        }
        crate::file_links::write_under(&mut text, a, url);
    }
    if !text.trim().is_empty() || out.is_empty() {
        out.push(serde_json::json!({ "type": "text", "text": text }));
    }
    if !d.quick_replies.is_empty() {
        let items: Vec<_> = d
            .quick_replies
            .iter()
            .map(|q| serde_json::json!({"type": "action", "action": {"type": "message", "label": q, "text": q}}))
            .collect();
        if let Some(last) = out.last_mut() {
            last["quickReply"] = serde_json::json!({ "items": items });
        }
    }
    out
}

impl Webhook for Line {
    /// The body itself: the signature covers all of it.
    type Verified = ();
    const CONTENT_TYPE: &'static str = "application/json";
    fn verify(
        &self,
        gateway: &Gateway,
        req: &HttpRequest,
        body: &[u8],
    ) -> Result<(), WebhookError> {
        let secret = &gateway.channels().line.channel_secret;
        if super::signature::verify_line(secret, body, webhook::header(req, "X-Line-Signature")) {
            Ok(())
        } else {
            Err(WebhookError::BadSignature)
        }
    }
}

/// `POST /webhooks/line`.
pub async fn webhook(
    state: web::Data<Gateway>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, WebhookError> {
    serve(&Line, &state, &req, &body, |()| handle(&state, &body)).await
}

async fn handle(state: &Gateway, body: &[u8]) -> Result<HttpResponse, WebhookError> {
    let events = webhook::fresh_events(state, PROVIDER, parse_events(body)?, |e| e.timestamp);
    for ev in events {
        handle_event(state, ev).await?;
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({})))
}

/// A verified body's events: the payload must parse and hold at most `MAX_EVENTS`; an
/// event that does not parse is an `Err` the handler skips (one bad event must not make
/// LINE redeliver the others). Pure, no I/O: fuzzed through `switchboard::fuzz`.
fn parse_events(body: &[u8]) -> Result<Vec<Result<Event, serde_json::Error>>, WebhookError> {
    let payload: Payload = serde_json::from_slice(body)
        .map_err(|e| WebhookError::Malformed(format!("LINE payload: {e}")))?;
    if payload.events.len() > MAX_EVENTS {
        return Err(WebhookError::Malformed(format!(
            "{} events; at most {MAX_EVENTS} per call",
            payload.events.len()
        )));
    }
    Ok(payload
        .events
        .into_iter()
        .map(serde_json::from_value::<Event>)
        .collect())
}

/// Fuzz entry (see `switchboard::fuzz`): parses `body` as the handler does and derives each
/// message's text and attachments. Returns whether the payload was accepted.
#[doc(hidden)]
pub fn fuzz_body(body: &[u8]) -> bool {
    let Ok(events) = parse_events(body) else {
        return false;
    };
    for ev in events.into_iter().flatten() {
        if let Some(m) = &ev.message {
            let _ = content(m);
        }
    }
    true
}

async fn handle_event(state: &Gateway, ev: Event) -> Result<(), WebhookError> {
    let gateway = &state;
    let user = match &ev.source {
        Some(Source {
            kind,
            user_id: Some(u),
        }) if kind == "user" => u.clone(),
        _ => {
            tracing::info!(kind = %ev.kind, "LINE event skipped: not from a one-to-one chat");
            return Ok(());
        }
    };
    match ev.kind.as_str() {
        "follow" | "unfollow" => {
            // Recorded under its webhookEventId, or dropped if an erasure left its
            // tombstone.
            crate::actors::ingest::opt_out_from_provider(
                gateway,
                Channel::Line,
                &user,
                ev.webhook_event_id.as_deref(),
                ev.kind == "unfollow",
            )
            .await?;
            Ok(())
        }
        "message" => {
            let Some(msg) = ev.message else {
                return Err(WebhookError::Malformed(
                    "message event without message".into(),
                ));
            };
            let (text, attachments) = content(&msg);
            let mut m = InboundMessage::new(Channel::Line, user.clone(), text);
            m.provider_msg_id = Some(msg.id.clone());
            // Images, audio, video and files: read from the content API by message id.
            let cfg = &gateway.channels().line;
            let plans = attachments
                .iter()
                .map(|a| {
                    let id = a.url.as_deref()?.strip_prefix("line-content:")?;
                    Some(media::Fetch {
                        url: format!("{}/v2/bot/message/{id}/content", cfg.data_api_base),
                        auth: media::Auth::Bearer(cfg.channel_access_token.clone()),
                        api_base: cfg.data_api_base.clone(),
                    })
                })
                .collect();
            m.attachments = attachments;
            media::fetch_all(gateway, "line", &mut m, plans).await;
            m.queue = gateway.channels().line.queue.clone();
            match ingest(gateway, m).await {
                Ok(Provided::Stored(_)) => {}
                // Received before its customer was erased: nothing to reply to.
                Ok(Provided::Erased) => return Ok(()),
                // One unusable message must not make LINE redeliver the others.
                Err(e) if e.code == crate::domain::ErrorCode::Invalid => {
                    tracing::info!(error = %crate::redact::Redacted(&e.to_string()), "LINE message skipped");
                    return Ok(());
                }
                Err(e) => return Err(e.into()),
            }
            if let Some(token) = ev.reply_token {
                reply_tokens().insert(user, (token, Instant::now()));
            }
            Ok(())
        }
        other => {
            tracing::info!(kind = other, id = ?ev.webhook_event_id, "LINE event skipped: type not handled");
            Ok(())
        }
    }
}

/// The text and attachments of a LINE message.
fn content(m: &Message) -> (String, Vec<Attachment>) {
    let att = |kind: &str, name: Option<String>, size: Option<u64>| Attachment {
        kind: kind.to_owned(),
        name,
        content_type: None,
        size,
        // Content is fetched from the LINE content API by message id.
        url: Some(format!("line-content:{}", m.id)),
        file: None,
    };
    match m.kind.as_str() {
        "text" => (m.text.clone().unwrap_or_default(), Vec::new()),
        "sticker" => {
            let name = format!(
                "{}/{}",
                m.package_id.as_deref().unwrap_or("?"),
                m.sticker_id.as_deref().unwrap_or("?")
            );
            let words = m
                .keywords
                .as_ref()
                .map(|k| k.iter().take(3).cloned().collect::<Vec<_>>().join(", "))
                .unwrap_or_default();
            let text = if words.is_empty() {
                String::new()
            } else {
                format!("[sticker: {words}]")
            };
            (
                text,
                vec![Attachment {
                    url: None,
                    ..att("sticker", Some(name), None)
                }],
            )
        }
        "file" => (
            String::new(),
            vec![att("file", m.file_name.clone(), m.file_size)],
        ),
        "location" => (
            format!(
                "[location] {} {}",
                m.title.as_deref().unwrap_or(""),
                m.address.as_deref().unwrap_or("")
            )
            .trim()
            .to_owned(),
            Vec::new(),
        ),
        kind @ ("image" | "video" | "audio") => (String::new(), vec![att(kind, None, None)]),
        other => (format!("[{other}]"), Vec::new()),
    }
}

/// Sends `messages` (of `d`) in one call: reply API with a fresh reply token, else
/// push API.
pub async fn send(
    client: &reqwest::Client,
    cfg: &ChannelSettings,
    d: &Delivery,
    messages: &[serde_json::Value],
) -> SendResult {
    let line = &cfg.line;
    // The reply token only for a delivery marked attempted (not repeatable): a push
    // is the repeatable path.
    let fresh = if d.attempted {
        reply_tokens()
            .remove_if(&d.to, |_, (_, at)| at.elapsed() < REPLY_TOKEN_TTL)
            .map(|(_, (token, _))| token)
    } else {
        None
    };
    if let Some(token) = fresh {
        let resp = client
            .post(format!("{}/v2/bot/message/reply", line.api_base))
            .bearer_auth(&line.channel_access_token)
            .json(&serde_json::json!({ "replyToken": token, "messages": messages }))
            .send()
            .await
            .map_err(SendFailure::from_reqwest)?;
        let status = resp.status();
        if status.is_success() {
            return Ok(sent_id(resp).await.into());
        }
        if status.is_server_error() {
            // It may have been sent: a push now could send it twice.
            let text = resp.text().await.unwrap_or_default();
            return Err(SendFailure::from_status(status, &text));
        }
        // An expired or used token: fall through to push.
        tracing::info!(status = %status, "LINE reply refused; pushing instead");
    }
    let resp = client
        .post(format!("{}/v2/bot/message/push", line.api_base))
        .bearer_auth(&line.channel_access_token)
        .header("X-Line-Retry-Key", d.event_id.to_string())
        .json(&serde_json::json!({ "to": d.to, "messages": messages }))
        .send()
        .await
        .map_err(|e| SendFailure::from_reqwest(e).repeatable())?;
    let status = resp.status();
    // 409: a retry of a push LINE already accepted (same retry key).
    if status.is_success() || status.as_u16() == 409 {
        return Ok(sent_id(resp).await.into());
    }
    let text = resp.text().await.unwrap_or_default();
    Err(SendFailure::from_status(status, &text).repeatable())
}

async fn sent_id(resp: reqwest::Response) -> Option<String> {
    let v: serde_json::Value = resp.json().await.ok()?;
    v["sentMessages"][0]["id"].as_str().map(str::to_owned)
}
