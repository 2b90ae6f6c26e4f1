//! Channel connectors (`switchboard-channels`): each turns a provider's real wire
//! format into the engine's inbound message and sends replies back in the provider's
//! format. The only crate that names a provider; it sits on the engine and below the
//! server, which mounts its routes and starts its dispatcher.
//!
//! - [`Gateway`] is what every connector works with: the engine plus the channel
//!   settings (`[channels]`), the IVR settings and the webhook replay window.
//! - [`ingest`] is the one door every connector uses: normalise the address, resolve
//!   (or create) the customer by identity, and hand the message to the customer's actor,
//!   which makes it durable before the connector acknowledges the provider. A provider's
//!   retry carries the same provider message id and is stored once.
//! - [`outbound::Dispatcher`] delivers agent replies: the customer actor commits the
//!   `message_out` event, then queues a `Delivery` (the engine's outbound port); a bounded pool of
//!   workers calls the provider's API (never on an actor's thread), retries temporary
//!   failures with backoff, and records the result as a `message_status` event.
//! - [`connector`]: the `Connector` trait every provider implements, the one list of
//!   them (`CONNECTORS`), and the webhook skeleton (`serve`: count, 404 while disabled,
//!   content type, signature).
//! - One module per provider: [`twilio_sms`], [`twilio_voice`], [`line`], [`messenger`],
//!   [`instagram`], [`whatsapp`], [`x`], [`email`] (SMTP in, relay out), and the public
//!   social channels [`facebook_comments`] and [`x_mentions`], which take their input
//!   on Messenger's and X's webhooks; [`signature`] holds the webhook signature checks. Video rooms need no provider call: the engine fills the configured
//!   join-link template (`channels.video`).

pub mod config;
pub mod connector;
pub mod email;
pub mod facebook_comments;
pub mod file_links;
pub mod gateway;
pub mod instagram;
pub mod line;
pub mod login;
pub mod media;
pub mod messenger;
pub mod oauth1;
pub mod outbound;
mod public;
pub mod registry;
pub mod signature;
pub mod stream;
pub mod twilio_sms;
pub mod twilio_voice;
mod webhook;
pub mod whatsapp;
pub mod x;
pub mod x_mentions;

/// The webhook form parser, for the server's fuzzing entry points.
#[doc(hidden)]
pub fn webhook_form(body: &[u8]) -> Result<Vec<(String, String)>, webhook::WebhookError> {
    webhook::parse_form(body)
}

pub use config::ChannelSettings;
pub use gateway::Gateway;
/// The provider door of the engine's ingest port (`actors::ingest`): every connector
/// hands its parsed [`InboundMessage`] to [`ingest`].
pub use switchboard_engine::actors::ingest::{
    describe_attachments, from_provider as ingest, truncate, InboundMessage, IncomingFile,
    Ingested, Provided,
};

// The layers below, under the names the connectors use.
pub(crate) use ::cluster;
pub(crate) use ::domain;
pub(crate) use ::ivr;
pub(crate) use ::store;
pub(crate) use ::survey;
pub(crate) use switchboard_engine::{actors, metrics, redact};

use actix_web::web;

/// Registers every connector's webhook routes ([`connector::CONNECTORS`]; a connector
/// that is disabled answers 404, as if it did not exist). Bodies over `max_body` bytes
/// get 413.
pub fn configure(cfg: &mut web::ServiceConfig, max_body: usize) {
    cfg.service(
        web::scope("/webhooks")
            .app_data(web::PayloadConfig::new(max_body))
            .configure(registry::configure),
    );
}
