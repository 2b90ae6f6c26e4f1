//! The connector seam: what a provider connector is ([`Connector`]: its routes, whether
//! it is enabled, and — through its [`Sender`] — which channel's replies it sends and
//! how), the one list of them
//! ([`CONNECTORS`]), and the skeleton every webhook call goes through
//! ([`Webhook`] + [`serve`]: count the outcome, 404 while disabled, content type,
//! provider signature, then the connector's own handler).
//!
//! Adding a provider is one module with a unit struct implementing [`Connector`] (and
//! [`Webhook`] when it takes webhooks), one line in [`CONNECTORS`], and — for a new
//! channel — one `Channel` variant with its capability row in `domain::channel`. The
//! outbound dispatcher and the webhook scope find it through the list; nothing matches
//! on providers elsewhere.

use super::webhook::{counted, require_content_type, WebhookError};
use super::ChannelSettings;
use crate::domain::Channel;
use crate::Gateway;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::future::BoxFuture;
use std::future::Future;
use switchboard_engine::outbound::Delivery;

/// What a provider's API call needs besides the delivery.
#[derive(Clone, Copy)]
pub struct SendContext<'a> {
    pub gateway: &'a Gateway,
    /// The dispatcher's shared HTTP client (timeouts and user agent set).
    pub client: &'a reqwest::Client,
}

/// A provider call that did not succeed.
#[derive(Debug, Clone)]
pub struct SendFailure {
    /// Worth retrying (network, timeout, 429, 5xx).
    pub temporary: bool,
    pub detail: String,
}

impl SendFailure {
    pub fn permanent(d: impl Into<String>) -> Self {
        Self {
            temporary: false,
            detail: d.into(),
        }
    }
    pub fn temporary(d: impl Into<String>) -> Self {
        Self {
            temporary: true,
            detail: d.into(),
        }
    }
    /// Classifies a reqwest error (all transport failures are temporary).
    pub fn from_reqwest(e: reqwest::Error) -> Self {
        Self::temporary(format!("request failed: {e}"))
    }
    /// Classifies a non-success HTTP status.
    pub fn from_status(status: reqwest::StatusCode, body: &str) -> Self {
        let detail = format!(
            "HTTP {}: {}",
            status.as_u16(),
            body.chars().take(300).collect::<String>()
        );
        if status.as_u16() == 429 || status.is_server_error() {
            Self::temporary(detail)
        } else {
            Self::permanent(detail)
        }
    }
}

/// Result of a successful provider call: its id for the message, if it gave one.
pub type SendResult = Result<Option<String>, SendFailure>;

/// One provider connector.
pub trait Connector: Sync {
    /// Its name in metrics (`switchboard_webhooks_total{provider}`) and logs.
    fn provider(&self) -> &'static str;
    /// Whether the settings turn it on. A disabled connector's webhooks answer 404, as
    /// if they did not exist.
    fn enabled(&self, settings: &ChannelSettings) -> bool;
    /// Mounts its webhook routes (inside the `/webhooks` scope). None by default: a
    /// connector may take its input elsewhere (email over SMTP).
    fn routes(&self, _cfg: &mut web::ServiceConfig) {}
    /// How it sends agent replies, if it does (at most one connector per channel;
    /// `registry_covers_every_connector_channel` checks it).
    fn sender(&self) -> Option<&dyn Sender> {
        None
    }
}

/// A connector that sends agent replies on one channel.
pub trait Sender: Sync {
    /// The channel whose replies it sends.
    fn channel(&self) -> Channel;
    /// Sends one reply; called by the outbound dispatcher's workers only.
    fn send<'a>(&'a self, cx: SendContext<'a>, d: &'a Delivery) -> BoxFuture<'a, SendResult>;
}

/// A connector that takes signed webhook calls.
pub trait Webhook: Connector {
    /// What a verified call yields to the handler (form parameters, the raw body).
    type Verified;
    /// The request content type it accepts (prefix, lowercase).
    const CONTENT_TYPE: &'static str;
    /// Checks the provider's signature over `body`; parses what the signature covers.
    fn verify(
        &self,
        gateway: &Gateway,
        req: &HttpRequest,
        body: &[u8],
    ) -> Result<Self::Verified, WebhookError>;
}

/// Runs one webhook call of `w`: 404 while disabled, then the content type, then the
/// signature, then `handle` with what was verified; the outcome of all of it is counted
/// under the connector's provider name.
pub async fn serve<W, Fut>(
    w: &W,
    state: &Gateway,
    req: &HttpRequest,
    body: &[u8],
    handle: impl FnOnce(W::Verified) -> Fut,
) -> Result<HttpResponse, WebhookError>
where
    W: Webhook,
    Fut: Future<Output = Result<HttpResponse, WebhookError>>,
{
    let r = async {
        if !w.enabled(&state.channels) {
            return Err(WebhookError::Disabled);
        }
        require_content_type(req, W::CONTENT_TYPE)?;
        let verified = w.verify(state, req, body)?;
        handle(verified).await
    }
    .await;
    counted(w.provider(), r)
}
