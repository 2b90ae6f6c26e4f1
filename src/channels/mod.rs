//! Channel connectors: each turns a provider's real wire format into the engine's
//! inbound message and sends replies back in the provider's format.
//!
//! - [`ingest`] is the one door every connector uses: normalise the address, resolve
//!   (or create) the customer by identity, and hand the message to the customer's actor,
//!   which makes it durable before the connector acknowledges the provider. A provider's
//!   retry carries the same provider message id and is stored once.
//! - [`outbound::Dispatcher`] delivers agent replies: the customer actor commits the
//!   `message_out` event, then queues a [`outbound::Delivery`]; a bounded pool of
//!   workers calls the provider's API (never on an actor's thread), retries temporary
//!   failures with backoff, and records the result as a `message_status` event.
//! - [`connector`]: the `Connector` trait every provider implements, the one list of
//!   them (`CONNECTORS`), and the webhook skeleton (`serve`: count, 404 while disabled,
//!   content type, signature).
//! - One module per provider: [`twilio_sms`], [`twilio_voice`], [`line`], [`messenger`],
//!   [`email`] (SMTP in, relay out); [`video`] makes video-room links (no provider
//!   calls); [`signature`] holds the webhook signature checks.

pub mod config;
pub mod connector;
pub mod email;
pub mod line;
pub mod login;
pub mod messenger;
pub mod outbound;
pub mod signature;
pub mod twilio_sms;
pub mod twilio_voice;
pub mod video;
mod webhook;

/// The webhook form parser, for `crate::fuzz`.
pub(crate) fn webhook_form(body: &[u8]) -> Result<Vec<(String, String)>, webhook::WebhookError> {
    webhook::parse_form(body)
}

pub use config::ChannelSettings;

use crate::actors::messages::{EngineError, EngineResult, Inbound, InboundAck};
use crate::actors::registry::Engine;
use crate::domain::{Attachment, Channel, ConversationId, CustomerId, IdentityKey, QueueName};
use actix_web::web;

/// A customer message as a connector parsed it.
#[derive(Debug, Clone)]
pub struct InboundMessage {
    pub channel: Channel,
    /// The provider's address of the sender (phone number, email, LINE user id, PSID).
    pub address: String,
    /// A name the provider gave (email From name). Shown, never used to match people.
    pub display_name: Option<String>,
    pub text: String,
    /// The provider's id for this message: retries with the same id are stored once.
    pub provider_msg_id: Option<String>,
    pub attachments: Vec<Attachment>,
    pub subject: Option<String>,
    /// Queue for a new conversation (else the channel's default queue).
    pub queue: Option<QueueName>,
    /// The conversation this continues, when the provider threads (email replies).
    pub thread: Option<ConversationId>,
}

impl InboundMessage {
    pub fn new(channel: Channel, address: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            channel,
            address: address.into(),
            display_name: None,
            text: text.into(),
            provider_msg_id: None,
            attachments: Vec::new(),
            subject: None,
            queue: None,
            thread: None,
        }
    }
}

/// What [`ingest`] did.
#[derive(Debug, Clone)]
pub struct Ingested {
    pub customer_id: CustomerId,
    pub new_customer: bool,
    pub ack: InboundAck,
}

/// Longest provider message id kept for de-duplication.
const MAX_PROVIDER_ID: usize = 200;

/// Delivers `m` to its customer. Returns once the message is durable (or was a
/// duplicate of one that is). Text over the limit is cut at a character boundary with
/// a marker: a provider cannot be asked to shorten a message it already took.
pub async fn ingest(engine: &Engine, mut m: InboundMessage) -> EngineResult<Ingested> {
    let key = IdentityKey::parse(m.channel, &m.address)
        .map_err(|e| EngineError::invalid(e.to_string()))?;
    if let Some(id) = &m.provider_msg_id {
        if id.is_empty() || id.len() > MAX_PROVIDER_ID {
            return Err(EngineError::invalid(
                "provider message id must be 1 to 200 bytes",
            ));
        }
    }
    m.text = truncate(m.text.trim(), engine.settings.limits.max_text_bytes);
    if m.text.is_empty() {
        m.text = describe_attachments(&m.attachments);
    }
    if m.text.is_empty() {
        return Err(EngineError::invalid(
            "the message has no text and no attachment",
        ));
    }
    let (customer_id, new_customer) = engine.resolve_identity(&key).await?;
    let ack = engine
        .ask_customer(
            customer_id,
            Inbound {
                channel: m.channel,
                address: key.address,
                text: m.text,
                client_msg_id: m
                    .provider_msg_id
                    .map(|id| format!("{}:{id}", m.channel.as_str())),
                queue: m.queue,
                attachments: m.attachments,
                subject: m.subject,
                display_name: m.display_name,
                thread: m.thread,
            },
        )
        .await?;
    Ok(Ingested {
        customer_id,
        new_customer,
        ack,
    })
}

/// `text` cut to at most `max` bytes on a character boundary, marked when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    const MARK: &str = " […]";
    let mut end = max.saturating_sub(MARK.len());
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{MARK}", &text[..end])
}

/// "[image] [file: a.pdf]" for a message that is only attachments.
pub fn describe_attachments(a: &[Attachment]) -> String {
    a.iter()
        .map(|a| match &a.name {
            Some(n) => format!("[{}: {n}]", a.kind),
            None => format!("[{}]", a.kind),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Registers every connector's webhook routes ([`connector::CONNECTORS`]; a connector
/// that is disabled answers 404, as if it did not exist). Bodies over `max_body` bytes
/// get 413.
pub fn configure(cfg: &mut web::ServiceConfig, max_body: usize) {
    cfg.service(
        web::scope("/webhooks")
            .app_data(web::PayloadConfig::new(max_body))
            .configure(connector::configure),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_keeps_char_boundaries() {
        assert_eq!(truncate("abc", 3), "abc");
        let t = truncate(&"あ".repeat(100), 20);
        assert!(t.len() <= 20, "{t}");
        assert!(t.ends_with(" […]"));
        assert_eq!(
            describe_attachments(&[Attachment {
                kind: "file".into(),
                name: Some("a.pdf".into()),
                content_type: None,
                size: None,
                url: None
            }]),
            "[file: a.pdf]"
        );
    }
}
