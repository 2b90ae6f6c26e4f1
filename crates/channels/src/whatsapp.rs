//! WhatsApp Business Platform, Cloud API.
//!
//! - Subscription: `GET /webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=..&
//!   hub.challenge=..` answers the challenge when the verify token matches, else 403.
//! - Inbound: `POST /webhooks/whatsapp`, JSON `{"object": "whatsapp_business_account",
//!   "entry": [{"changes": [{"field": "messages", "value": {...}}]}]}` signed with
//!   `X-Hub-Signature-256` (`sha256=` + hex HMAC-SHA256 of the raw body with the app
//!   secret). A value's `messages` are the customer's: `text`; `image`, `document`,
//!   `audio`, `video` and `sticker` (an attachment whose content is the media id,
//!   `whatsapp-media:{id}`, with its MIME type, file name and caption); `location` and
//!   `contacts` (written out as text); `interactive` (a reply button or list row: its
//!   title is the customer's words) and `button` (a template's quick reply). The
//!   sender is the `from` number, one identity with its `+` (E.164); the profile name
//!   is shown. Reactions, `unsupported` and `system` messages are skipped with a log
//!   line. The `wamid` de-duplicates redeliveries.
//! - Statuses: a value's `statuses` report our sends as `delivered`, `read` or `failed`
//!   (with the error's code and title); each names the reply it is about through the
//!   `biz_opaque_callback_data` the send set (`{customer}.{event}.{conversation}`),
//!   and becomes a `message_status` event. `sent` is already recorded when the API
//!   answered.
//! - Outbound: `POST {api_base}/{version}/{phone_number_id}/messages` with a bearer
//!   token: `text`; with quick replies, an `interactive` message (up to 3 reply buttons
//!   of 20 characters, else a list of up to 10 rows of 24 characters; more or longer
//!   choices are written under the text); an approved `template` with its body
//!   parameters.
//! - The 24-hour customer-service window ([`Sender::window`]): free-form messages
//!   within 24 hours of the customer's last message; after it only approved templates
//!   (`channels.whatsapp.templates`), refused before anything is committed otherwise.

use super::connector::{serve, Connector, SendContext, Sender, Webhook};
use super::webhook::{self, WebhookError};
use super::{ChannelSettings, InboundMessage};
use crate::actors::messages::RecordEvents;
use crate::connector::{SendFailure, SendResult, Sent};
use crate::domain::{
    ApprovedTemplate, Attachment, Channel, ConversationId, CustomerId, DeliveryStatus, EventId,
    EventKind, ReplyWindow, SendAs, TimelineEvent,
};
use crate::media;
use crate::Gateway;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::future::BoxFuture;
use serde::Deserialize;
use serde_json::{json, Value};
use switchboard_engine::outbound::Delivery;

const PROVIDER: &str = "whatsapp";
/// Messages and statuses taken from one call.
const MAX_EVENTS: usize = 1000;
/// Reply buttons in one interactive message, and the characters of a title.
const MAX_BUTTONS: usize = 3;
const MAX_BUTTON_CHARS: usize = 20;
/// Rows of an interactive list, and the characters of a row's title.
const MAX_ROWS: usize = 10;
const MAX_ROW_CHARS: usize = 24;
/// Characters of an interactive message's body (longer text goes as plain text with
/// the choices written out).
const MAX_BODY_CHARS: usize = 1024;

/// `GET /webhooks/whatsapp`: the subscription handshake.
pub async fn verify(
    state: web::Data<Gateway>,
    q: web::Query<webhook::HubChallenge>,
) -> Result<HttpResponse, WebhookError> {
    let cfg = &state.channels().whatsapp;
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
    changes: Vec<Change>,
}

#[derive(Debug, Deserialize)]
struct Change {
    #[serde(default)]
    field: String,
    #[serde(default)]
    value: Value,
}

/// One thing a webhook call reports.
#[derive(Debug)]
enum Event {
    Message(Box<WaMessage>, Option<String>),
    Status(WaStatus),
}

#[derive(Debug, Deserialize)]
struct WaMessage {
    from: String,
    id: String,
    /// Seconds since the epoch, as a string.
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<TextBody>,
    #[serde(default)]
    image: Option<Media>,
    #[serde(default)]
    document: Option<Media>,
    #[serde(default)]
    audio: Option<Media>,
    #[serde(default)]
    video: Option<Media>,
    #[serde(default)]
    sticker: Option<Media>,
    #[serde(default)]
    location: Option<Location>,
    #[serde(default)]
    contacts: Vec<Value>,
    #[serde(default)]
    interactive: Option<Value>,
    #[serde(default)]
    button: Option<Button>,
}

#[derive(Debug, Deserialize)]
struct TextBody {
    body: String,
}

#[derive(Debug, Deserialize)]
struct Media {
    id: String,
    #[serde(default)]
    mime_type: Option<String>,
    #[serde(default)]
    filename: Option<String>,
    #[serde(default)]
    caption: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Location {
    latitude: f64,
    longitude: f64,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    address: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Button {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    payload: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WaStatus {
    id: String,
    status: String,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    biz_opaque_callback_data: Option<String>,
    #[serde(default)]
    errors: Vec<WaError>,
}

#[derive(Debug, Deserialize)]
struct WaError {
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    title: Option<String>,
}

/// The WhatsApp Cloud API connector.
pub struct WhatsApp;

impl Connector for WhatsApp {
    fn provider(&self) -> &'static str {
        PROVIDER
    }
    fn enabled(&self, s: &ChannelSettings) -> bool {
        s.whatsapp.enabled
    }
    fn routes(&self, cfg: &mut web::ServiceConfig) {
        cfg.route("/whatsapp", web::get().to(verify))
            .route("/whatsapp", web::post().to(webhook_post));
    }
    fn sender(&self) -> Option<&dyn Sender> {
        Some(self)
    }
}

impl Sender for WhatsApp {
    fn channel(&self) -> Channel {
        Channel::Whatsapp
    }
    fn window(&self, _: &ChannelSettings) -> Option<ReplyWindow> {
        Some(ReplyWindow {
            free_ms: crate::messenger::DAY_MS,
            tagged_ms: None,
            templates: true,
        })
    }
    fn templates(&self, s: &ChannelSettings) -> Vec<ApprovedTemplate> {
        s.whatsapp.templates.clone()
    }
    /// Files are uploaded to the Cloud API's media endpoint, then sent by media id.
    fn carries_files(&self) -> bool {
        true
    }
    fn send<'a>(&'a self, cx: SendContext<'a>, d: &'a Delivery) -> BoxFuture<'a, SendResult> {
        Box::pin(async move {
            if d.attachments.iter().any(|a| a.file.is_some()) {
                send_files(cx, d).await
            } else {
                send(cx.client, &cx.gateway.channels(), d).await
            }
        })
    }
}

impl Webhook for WhatsApp {
    /// The body itself: the signature covers all of it.
    type Verified = ();
    const CONTENT_TYPE: &'static str = "application/json";
    fn verify(
        &self,
        gateway: &Gateway,
        req: &HttpRequest,
        body: &[u8],
    ) -> Result<(), WebhookError> {
        let secret = &gateway.channels().whatsapp.app_secret;
        let header = webhook::header(req, "X-Hub-Signature-256");
        if super::signature::verify_messenger(secret, body, header) {
            Ok(())
        } else {
            Err(WebhookError::BadSignature)
        }
    }
}

/// `POST /webhooks/whatsapp`.
pub async fn webhook_post(
    state: web::Data<Gateway>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, WebhookError> {
    serve(&WhatsApp, &state, &req, &body, |()| handle(&state, &body)).await
}

/// The media URL of each attachment that names a Cloud API media id: asked of
/// `GET /{version}/{media-id}` (the answer's `url`, on Meta's CDN, is read with the same
/// token). An id that cannot be resolved is kept as a reference, logged and counted.
async fn media_plans(state: &Gateway, attachments: &[Attachment]) -> Vec<Option<media::Fetch>> {
    let wa = &state.channels().whatsapp;
    let mut plans = Vec::with_capacity(attachments.len());
    for a in attachments {
        let Some(id) = a
            .url
            .as_deref()
            .and_then(|u| u.strip_prefix("whatsapp-media:"))
        else {
            plans.push(None);
            continue;
        };
        let lookup = media::Fetch {
            url: format!("{}/{}/{}", wa.api_base, wa.api_version, id),
            auth: media::Auth::Bearer(wa.access_token.clone()),
            api_base: wa.api_base.clone(),
        };
        let url = match media::fetch(state, &lookup, 64 * 1024).await {
            Ok(got) => serde_json::from_slice::<serde_json::Value>(&got.bytes)
                .ok()
                .and_then(|v| v["url"].as_str().map(str::to_owned)),
            Err(e) => {
                tracing::info!(provider = PROVIDER, "media id not resolved: {e}");
                None
            }
        };
        if url.is_none() {
            crate::metrics::media_fetched(PROVIDER, "status");
        }
        plans.push(url.map(|url| media::Fetch {
            url,
            auth: media::Auth::Bearer(wa.access_token.clone()),
            api_base: wa.api_base.clone(),
        }));
    }
    plans
}

async fn handle(state: &Gateway, body: &[u8]) -> Result<HttpResponse, WebhookError> {
    let events = webhook::fresh_events(state, PROVIDER, parse_events(body)?, |e| match e {
        Event::Message(m, _) => seconds_to_ms(m.timestamp.as_deref()),
        Event::Status(s) => seconds_to_ms(s.timestamp.as_deref()),
    });
    for ev in events {
        match ev {
            Event::Message(m, name) => {
                let Some(mut m) = message_of(*m) else {
                    continue;
                };
                m.display_name = name;
                m.queue = state.channels().whatsapp.queue.clone();
                // The id lookups are media requests too: none for a message taken before.
                let has_media = m.attachments.iter().any(|a| a.url.is_some());
                if has_media && media::fresh(state, PROVIDER, &m).await {
                    let plans = media_plans(state, &m.attachments).await;
                    media::fetch_planned(state, PROVIDER, &mut m, plans).await;
                }
                webhook::ingest_or_skip(state, PROVIDER, m).await?;
            }
            Event::Status(s) => status(state, s).await?,
        }
    }
    Ok(HttpResponse::Ok().finish())
}

/// A provider timestamp (seconds, as text) in milliseconds.
fn seconds_to_ms(s: Option<&str>) -> Option<i64> {
    s?.parse::<i64>().ok()?.checked_mul(1000)
}

/// A verified body's messages (each with the sender's profile name) and statuses: the
/// payload must be a `whatsapp_business_account` object with at most `MAX_EVENTS` of
/// them; one that does not parse is an `Err` the handler skips. Changes of other
/// fields (templates, account updates) are skipped. Pure, no I/O: fuzzed through
/// `switchboard::fuzz`.
fn parse_events(body: &[u8]) -> Result<Vec<Result<Event, serde_json::Error>>, WebhookError> {
    let payload: Payload = serde_json::from_slice(body)
        .map_err(|e| WebhookError::Malformed(format!("WhatsApp payload: {e}")))?;
    if payload.object != "whatsapp_business_account" {
        return Err(WebhookError::Malformed(format!(
            "object {:?}; expected \"whatsapp_business_account\"",
            payload.object
        )));
    }
    let mut out = Vec::new();
    for change in payload.entry.into_iter().flat_map(|e| e.changes) {
        if change.field != "messages" {
            tracing::info!(field = %change.field, "WhatsApp change skipped");
            continue;
        }
        let v = change.value;
        let name_of = |wa_id: &str| {
            v["contacts"].as_array().and_then(|cs| {
                cs.iter()
                    .find(|c| c["wa_id"].as_str() == Some(wa_id))
                    .and_then(|c| c["profile"]["name"].as_str())
                    .map(str::to_owned)
            })
        };
        for m in v["messages"].as_array().into_iter().flatten() {
            out.push(serde_json::from_value::<WaMessage>(m.clone()).map(|m| {
                let name = name_of(&m.from);
                Event::Message(Box::new(m), name)
            }));
        }
        for s in v["statuses"].as_array().into_iter().flatten() {
            out.push(serde_json::from_value::<WaStatus>(s.clone()).map(Event::Status));
        }
        if out.len() > MAX_EVENTS {
            return Err(WebhookError::Malformed(
                "too many events in one call".into(),
            ));
        }
    }
    Ok(out)
}

/// Fuzz entry (see `switchboard::fuzz`): parses `body` as the handler does and turns each
/// message into the inbound message it would deliver. Returns whether it was accepted.
#[doc(hidden)]
pub fn fuzz_body(body: &[u8]) -> bool {
    let Ok(events) = parse_events(body) else {
        return false;
    };
    for ev in events.into_iter().flatten() {
        match ev {
            Event::Message(m, _) => {
                let _ = message_of(*m);
            }
            Event::Status(s) => {
                let _ = callback_of(s.biz_opaque_callback_data.as_deref());
            }
        }
    }
    true
}

/// The customer message a WhatsApp message is, if it is one we handle.
fn message_of(m: WaMessage) -> Option<InboundMessage> {
    let from = format!("+{}", m.from.trim_start_matches('+'));
    let media = |kind: &str, md: &Media| Attachment {
        kind: kind.into(),
        name: md.filename.clone(),
        content_type: md.mime_type.clone(),
        size: None,
        // Content is fetched from the Cloud API's media endpoint by id.
        url: Some(format!("whatsapp-media:{}", md.id)),
        file: None,
    };
    let (text, attachments) = match m.kind.as_str() {
        "text" => (m.text.map(|t| t.body).unwrap_or_default(), Vec::new()),
        "image" | "document" | "audio" | "video" | "sticker" => {
            let md = match m.kind.as_str() {
                "image" => m.image.as_ref(),
                "document" => m.document.as_ref(),
                "audio" => m.audio.as_ref(),
                "video" => m.video.as_ref(),
                _ => m.sticker.as_ref(),
            }?;
            let kind = if m.kind == "document" {
                "file"
            } else {
                &m.kind
            };
            (
                md.caption.clone().unwrap_or_default(),
                vec![media(kind, md)],
            )
        }
        "location" => {
            let l = m.location?;
            let place = [l.name, l.address]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", ");
            let text = format!("[location: {:.6}, {:.6}] {place}", l.latitude, l.longitude);
            (text.trim_end().to_owned(), Vec::new())
        }
        "contacts" => {
            let cards: Vec<String> = m
                .contacts
                .iter()
                .map(|c| {
                    let name = c["name"]["formatted_name"].as_str().unwrap_or("?");
                    let phones: Vec<&str> = c["phones"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|p| p["phone"].as_str())
                        .collect();
                    format!("[contact: {name} {}]", phones.join(" "))
                })
                .collect();
            (cards.join(" "), Vec::new())
        }
        "interactive" => {
            let i = m.interactive?;
            let reply = match i["type"].as_str() {
                Some("button_reply") => &i["button_reply"],
                Some("list_reply") => &i["list_reply"],
                _ => return skipped("interactive"),
            };
            let text = reply["title"].as_str().or(reply["id"].as_str())?;
            (text.to_owned(), Vec::new())
        }
        "button" => {
            let b = m.button?;
            (b.text.or(b.payload).unwrap_or_default(), Vec::new())
        }
        other => return skipped(other),
    };
    let mut out = InboundMessage::new(Channel::Whatsapp, from, text);
    out.provider_msg_id = Some(m.id);
    out.attachments = attachments;
    Some(out)
}

fn skipped(kind: &str) -> Option<InboundMessage> {
    tracing::info!(kind, "WhatsApp message skipped: not a kind we take");
    None
}

/// The reply a status is about, from the callback data the send set.
fn callback_of(data: Option<&str>) -> Option<(CustomerId, EventId, ConversationId)> {
    let mut parts = data?.split('.');
    let c = CustomerId::parse(parts.next()?).ok()?;
    let e = EventId::parse(parts.next()?).ok()?;
    let conv = ConversationId::parse(parts.next()?).ok()?;
    parts.next().is_none().then_some((c, e, conv))
}

/// Records a delivery status on the reply it is about.
async fn status(state: &Gateway, s: WaStatus) -> Result<(), WebhookError> {
    let status = match s.status.as_str() {
        "delivered" => DeliveryStatus::Delivered,
        "read" => DeliveryStatus::Read,
        "failed" => DeliveryStatus::Failed,
        // `sent` was recorded when the API answered.
        _ => return Ok(()),
    };
    let Some((customer, event, conv)) = callback_of(s.biz_opaque_callback_data.as_deref()) else {
        tracing::info!("WhatsApp status skipped: not about a reply of ours");
        return Ok(());
    };
    let detail = s.errors.first().map(|e| {
        format!(
            "WhatsApp error {}: {}",
            e.code.unwrap_or_default(),
            e.title.as_deref().unwrap_or("")
        )
    });
    let ev = TimelineEvent::new(
        customer,
        Some(conv),
        state.now(),
        EventKind::MessageStatus {
            message_event_id: event,
            channel: Channel::Whatsapp,
            status,
            provider_msg_id: Some(s.id),
            detail,
        },
    );
    state
        .ask_customer(
            customer,
            RecordEvents {
                events: vec![ev],
                outbox_done: Vec::new(),
            },
        )
        .await?;
    Ok(())
}

/// The message object of a delivery (without the envelope fields).
fn message_body(d: &Delivery) -> Value {
    if let SendAs::Template(t) = &d.send_as {
        let mut template = json!({"name": t.name, "language": {"code": t.language}});
        if !t.parameters.is_empty() {
            let params: Vec<Value> = t
                .parameters
                .iter()
                .map(|p| json!({"type": "text", "text": p}))
                .collect();
            template["components"] = json!([{"type": "body", "parameters": params}]);
        }
        return json!({"type": "template", "template": template});
    }
    let q = &d.quick_replies;
    let fits = |max: usize| {
        d.text.chars().count() <= MAX_BODY_CHARS && q.iter().all(|t| t.chars().count() <= max)
    };
    if q.is_empty() {
        json!({"type": "text", "text": {"preview_url": false, "body": d.text}})
    } else if q.len() <= MAX_BUTTONS && fits(MAX_BUTTON_CHARS) {
        let buttons: Vec<Value> = q
            .iter()
            .map(|t| json!({"type": "reply", "reply": {"id": t, "title": t}}))
            .collect();
        json!({"type": "interactive", "interactive": {
            "type": "button", "body": {"text": d.text}, "action": {"buttons": buttons}}})
    } else if q.len() <= MAX_ROWS && fits(MAX_ROW_CHARS) {
        let rows: Vec<Value> = q.iter().map(|t| json!({"id": t, "title": t})).collect();
        json!({"type": "interactive", "interactive": {
            "type": "list", "body": {"text": d.text},
            "action": {"button": "…", "sections": [{"rows": rows}]}}})
    } else {
        let lines: Vec<String> = q.iter().map(|t| format!("- {t}")).collect();
        let body = format!("{}\n{}", d.text, lines.join("\n"));
        json!({"type": "text", "text": {"preview_url": false, "body": body}})
    }
}

/// Sends `d` with the Cloud API.
pub async fn send(client: &reqwest::Client, cfg: &ChannelSettings, d: &Delivery) -> SendResult {
    if matches!(d.send_as, SendAs::HumanAgent) {
        return Err(SendFailure::permanent(
            "WhatsApp has no human-agent tag; send a template",
        ));
    }
    post_message(client, cfg, d, message_body(d)).await
}

/// The media message kind of a file type (`document` for anything not an image,
/// audio or video).
fn media_kind(content_type: &str) -> &'static str {
    match crate::domain::attachment::kind_of(content_type) {
        "image" => "image",
        "audio" => "audio",
        "video" => "video",
        _ => "document",
    }
}

/// Sends a reply with files: each file is uploaded (`POST /{phone-number-id}/media`,
/// multipart), then sent as a media message by its id, the text as the first file's
/// caption (or a text message first when that file is audio, which takes none).
/// Everything is uploaded before anything is sent, so an upload failure sends nothing;
/// a send failing after an earlier part went out is reported as possibly sent.
async fn send_files(cx: SendContext<'_>, d: &Delivery) -> SendResult {
    let cfg = &cx.gateway.channels();
    let wa = &cfg.whatsapp;
    let mut uploaded = Vec::new();
    for a in d.attachments.iter().filter(|a| a.file.is_some()) {
        let Some(id) = &a.file else { continue };
        let (meta, bytes) = match cx.gateway.blobs.read(d.customer_id, id).await {
            Ok(Some(found)) => found,
            Ok(None) => return Err(SendFailure::permanent(format!("file {id} is gone"))),
            Err(e) => return Err(SendFailure::temporary(e.to_string())),
        };
        let name = meta.name.clone().unwrap_or_else(|| "file".into());
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(name.clone())
            .mime_str(&meta.content_type)
            .map_err(|e| SendFailure::permanent(format!("file type: {e}")))?;
        let form = reqwest::multipart::Form::new()
            .text("messaging_product", "whatsapp")
            .text("type", meta.content_type.clone())
            .part("file", part);
        let resp = cx
            .client
            .post(format!(
                "{}/{}/{}/media",
                wa.api_base, wa.api_version, wa.phone_number_id
            ))
            .bearer_auth(&wa.access_token)
            .multipart(form)
            .send()
            .await
            .map_err(SendFailure::from_reqwest)?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(SendFailure::from_status(status, &text));
        }
        let media_id = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["id"].as_str().map(str::to_owned))
            .ok_or_else(|| SendFailure::permanent("the media upload answered no id"))?;
        uploaded.push((media_kind(&meta.content_type), media_id, name));
    }
    let mut caption = Some(d.text.trim()).filter(|t| !t.is_empty());
    let mut bodies = Vec::new();
    if uploaded.first().is_some_and(|(kind, ..)| *kind == "audio") {
        if let Some(text) = caption.take() {
            bodies.push(json!({"type": "text", "text": {"preview_url": false, "body": text}}));
        }
    }
    for (kind, id, name) in uploaded {
        let mut media = json!({"id": id});
        if let Some(text) = caption.take() {
            media["caption"] = text.into();
        }
        if kind == "document" {
            media["filename"] = name.into();
        }
        bodies.push(json!({"type": kind, kind: media}));
    }
    let mut last = None;
    for (i, body) in bodies.into_iter().enumerate() {
        match post_message(cx.client, cfg, d, body).await {
            Ok(sent) => last = sent.provider_msg_id.or(last),
            Err(mut e) if i > 0 => {
                e.maybe_sent = true;
                e.detail = format!("part {} of the reply failed: {}", i + 1, e.detail);
                return Err(e);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(Sent::from(last))
}

/// Posts one message `body` of `d` to the Cloud API; the provider's message id.
async fn post_message(
    client: &reqwest::Client,
    cfg: &ChannelSettings,
    d: &Delivery,
    mut body: Value,
) -> SendResult {
    let wa = &cfg.whatsapp;
    body["messaging_product"] = "whatsapp".into();
    body["recipient_type"] = "individual".into();
    body["to"] = d.to.trim_start_matches('+').into();
    body["biz_opaque_callback_data"] =
        format!("{}.{}.{}", d.customer_id, d.event_id, d.conversation_id).into();
    let resp = client
        .post(format!(
            "{}/{}/{}/messages",
            wa.api_base, wa.api_version, wa.phone_number_id
        ))
        .bearer_auth(&wa.access_token)
        .json(&body)
        .send()
        .await
        .map_err(SendFailure::from_reqwest)?;
    let answer = crate::connector::read_answer(resp).await?;
    Ok(crate::connector::answered_id(&answer, "/messages/0/id"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(messages: Value) -> Vec<u8> {
        json!({"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [
            {"field": "messages", "value": {"messaging_product": "whatsapp",
             "contacts": [{"profile": {"name": "山田太郎"}, "wa_id": "819012345678"}],
             "messages": messages}}]}]})
        .to_string()
        .into_bytes()
    }

    fn one(m: Value) -> Option<InboundMessage> {
        let mut evs = parse_events(&body(json!([m]))).unwrap();
        match evs.pop().unwrap().unwrap() {
            Event::Message(m, name) => {
                assert_eq!(name.as_deref(), Some("山田太郎"));
                message_of(*m)
            }
            Event::Status(_) => panic!("a status"),
        }
    }

    #[test]
    fn every_message_kind_becomes_text_or_an_attachment() {
        let base = |kind: &str, extra: Value| {
            let mut m = json!({"from": "819012345678", "id": "wamid.1", "timestamp": "1733400000", "type": kind});
            m.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            m
        };
        let t = one(base("text", json!({"text": {"body": "注文はどこ？"}}))).unwrap();
        assert_eq!(
            (t.address.as_str(), t.text.as_str()),
            ("+819012345678", "注文はどこ？")
        );
        assert_eq!(t.provider_msg_id.as_deref(), Some("wamid.1"));
        let d = one(base(
            "document",
            json!({"document": {"id": "M1", "mime_type": "application/pdf", "filename": "invoice.pdf"}}),
        ))
        .unwrap();
        assert_eq!(d.attachments[0].kind, "file");
        assert_eq!(d.attachments[0].name.as_deref(), Some("invoice.pdf"));
        assert_eq!(d.attachments[0].url.as_deref(), Some("whatsapp-media:M1"));
        let i = one(base(
            "image",
            json!({"image": {"id": "M2", "mime_type": "image/jpeg", "caption": "壊れた箱"}}),
        ))
        .unwrap();
        assert_eq!(
            (i.text.as_str(), i.attachments[0].kind.as_str()),
            ("壊れた箱", "image")
        );
        let l = one(base(
            "location",
            json!({"location": {"latitude": 35.681236, "longitude": 139.767125, "name": "東京駅"}}),
        ))
        .unwrap();
        assert_eq!(l.text, "[location: 35.681236, 139.767125] 東京駅");
        let c = one(base("contacts", json!({"contacts": [{"name": {"formatted_name": "Hanako"}, "phones": [{"phone": "+81 90 1111 2222"}]}]}))).unwrap();
        assert_eq!(c.text, "[contact: Hanako +81 90 1111 2222]");
        let b = one(base("interactive", json!({"interactive": {"type": "button_reply", "button_reply": {"id": "b1", "title": "はい"}}}))).unwrap();
        assert_eq!(b.text, "はい");
        let r = one(base("interactive", json!({"interactive": {"type": "list_reply", "list_reply": {"id": "r1", "title": "返品", "description": "x"}}}))).unwrap();
        assert_eq!(r.text, "返品");
        let q = one(base(
            "button",
            json!({"button": {"text": "Stop promotions", "payload": "STOP"}}),
        ))
        .unwrap();
        assert_eq!(q.text, "Stop promotions");
        assert!(one(base(
            "reaction",
            json!({"reaction": {"message_id": "wamid.0", "emoji": "👍"}})
        ))
        .is_none());
        assert!(one(base("unsupported", json!({}))).is_none());
        // A media message without its media object is skipped, not a panic.
        assert!(one(base("image", json!({}))).is_none());
    }

    #[test]
    fn payloads_of_another_object_or_too_many_events_are_refused() {
        let other = json!({"object": "page", "entry": []}).to_string();
        assert!(parse_events(other.as_bytes()).is_err());
        let many: Vec<Value> = (0..=MAX_EVENTS)
            .map(|n| json!({"from": "1", "id": format!("w{n}"), "type": "text", "text": {"body": "x"}}))
            .collect();
        assert!(parse_events(&body(json!(many))).is_err());
        // A change of another field yields nothing.
        let tpl = json!({"object": "whatsapp_business_account", "entry": [{"changes": [
            {"field": "message_template_status_update", "value": {"event": "APPROVED"}}]}]});
        assert!(parse_events(tpl.to_string().as_bytes()).unwrap().is_empty());
    }

    #[test]
    fn callback_data_names_one_reply_exactly() {
        let (c, e, v) = (CustomerId::new(), EventId::new(), ConversationId::new());
        let data = format!("{c}.{e}.{v}");
        assert_eq!(callback_of(Some(&data)), Some((c, e, v)));
        assert_eq!(callback_of(Some(&format!("{data}.x"))), None);
        assert_eq!(callback_of(Some("a.b.c")), None);
        assert_eq!(callback_of(None), None);
    }

    fn delivery(quick: &[&str]) -> Delivery {
        Delivery {
            customer_id: CustomerId::new(),
            conversation_id: ConversationId::new(),
            event_id: EventId::new(),
            channel: Channel::Whatsapp,
            to: "+819012345678".into(),
            text: "どれにしますか".into(),
            subject: None,
            references: Vec::new(),
            attempt: 0,
            attempted: false,
            quick_replies: quick.iter().map(|s| s.to_string()).collect(),
            send_as: SendAs::Reply,
            attachments: Vec::new(),
        }
    }

    #[test]
    fn quick_replies_become_buttons_a_list_or_lines() {
        let b = message_body(&delivery(&["1", "2", "3"]));
        assert_eq!(b["interactive"]["type"], "button");
        assert_eq!(
            b["interactive"]["action"]["buttons"][2]["reply"]["title"],
            "3"
        );
        let l = message_body(&delivery(&["1", "2", "3", "4", "5"]));
        assert_eq!(l["interactive"]["type"], "list");
        assert_eq!(
            l["interactive"]["action"]["sections"][0]["rows"][4]["id"],
            "5"
        );
        let long = "x".repeat(MAX_ROW_CHARS + 1);
        let t = message_body(&delivery(&["a", &long]));
        assert_eq!(t["type"], "text");
        assert_eq!(t["text"]["body"], format!("どれにしますか\n- a\n- {long}"));
        // A body over WhatsApp's interactive limit goes as text too.
        let mut d = delivery(&["a", "b"]);
        d.text = "あ".repeat(MAX_BODY_CHARS + 1);
        let t = message_body(&d);
        assert_eq!(t["type"], "text");
        assert!(t["text"]["body"].as_str().unwrap().ends_with("\n- a\n- b"));
    }
}
