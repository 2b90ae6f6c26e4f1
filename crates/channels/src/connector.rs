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
    /// The provider may have taken the message anyway (a timeout or a dropped
    /// connection after the request went out, HTTP 500, 502 or 504), and asking again
    /// could send it twice: the reply ends `unknown`, never retried. A connector whose
    /// retry is de-duplicated by a key clears it ([`SendFailure::repeatable`]).
    pub maybe_sent: bool,
    pub detail: String,
}

impl SendFailure {
    pub fn permanent(d: impl Into<String>) -> Self {
        Self {
            temporary: false,
            maybe_sent: false,
            detail: d.into(),
        }
    }
    /// Not taken (the provider said so, or the request never reached it).
    pub fn temporary(d: impl Into<String>) -> Self {
        Self {
            temporary: true,
            maybe_sent: false,
            detail: d.into(),
        }
    }
    /// Outcome unknown: the provider may have taken it.
    pub fn ambiguous(d: impl Into<String>) -> Self {
        Self {
            temporary: true,
            maybe_sent: true,
            detail: d.into(),
        }
    }
    /// The same failure, for a call the provider de-duplicates (same idempotency key
    /// on the retry): safe to ask again whatever happened.
    pub fn repeatable(self) -> Self {
        Self {
            maybe_sent: false,
            ..self
        }
    }
    /// Classifies a reqwest error: no connection means not sent; anything after the
    /// connection (a timeout, a reset) may have been taken.
    pub fn from_reqwest(e: reqwest::Error) -> Self {
        let detail = format!("request failed: {e}");
        if e.is_connect() {
            Self::temporary(detail)
        } else {
            Self::ambiguous(detail)
        }
    }
    /// Classifies a non-success HTTP status.
    pub fn from_status(status: reqwest::StatusCode, body: &str) -> Self {
        let detail = format!(
            "HTTP {}: {}",
            status.as_u16(),
            body.chars().take(300).collect::<String>()
        );
        match status.as_u16() {
            // Refused before processing: rate limited, unavailable.
            429 | 503 => Self::temporary(detail),
            // An error inside, or a gateway that lost the answer: maybe processed.
            _ if status.is_server_error() => Self::ambiguous(detail),
            _ => Self::permanent(detail),
        }
    }
}

/// What a provider answered to a send it took.
#[derive(Debug, Default)]
pub struct Sent {
    /// Its id for the message, if it gave one.
    pub provider_msg_id: Option<String>,
    /// An address of the customer the answer taught (the Messenger id Meta answers a
    /// private reply to a Page comment with): the dispatcher links it to the customer
    /// (evidence `private_reply`) before it records the outcome.
    pub learned: Option<crate::domain::IdentityKey>,
}

impl From<Option<String>> for Sent {
    fn from(provider_msg_id: Option<String>) -> Self {
        Self {
            provider_msg_id,
            learned: None,
        }
    }
}

/// Result of a provider call.
pub type SendResult = Result<Sent, SendFailure>;

/// A provider's JSON answer to a call it took (`Null` when the body is not JSON), or
/// the failure its status means ([`SendFailure::from_status`]).
pub async fn read_answer(resp: reqwest::Response) -> Result<serde_json::Value, SendFailure> {
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if !status.is_success() {
        return Err(SendFailure::from_status(status, &text));
    }
    Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
}

/// The string at `v[pointer]` (a JSON pointer), as a provider message id.
pub fn answered_id(v: &serde_json::Value, pointer: &str) -> Sent {
    Sent::from(
        v.pointer(pointer)
            .and_then(|s| s.as_str())
            .map(str::to_owned),
    )
}

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
    /// Whether sending `d` now can be repeated harmlessly (the provider de-duplicates
    /// by an idempotency key derived from the event id). If not, the dispatcher marks
    /// the outbox entry `attempted`, durably, before the call, and a restart that
    /// finds the mark reports the reply `unknown` instead of sending it again. A
    /// connector that answers `true` must not take a non-repeatable path for a
    /// delivery that is not marked (`d.attempted == false`).
    fn idempotent(&self, _d: &Delivery) -> bool {
        false
    }
    /// The provider's customer-service window on this channel, if it has one: the
    /// customer actor refuses a reply outside it before anything is committed.
    fn window(&self, _settings: &ChannelSettings) -> Option<crate::domain::ReplyWindow> {
        None
    }
    /// Whether its replies carry stored files (`Delivery::attachments`); a reply with
    /// files on a channel whose sender says no is refused before commit.
    fn carries_files(&self) -> bool {
        false
    }
    /// The templates approved at the provider (for a window that takes them).
    fn templates(&self, _settings: &ChannelSettings) -> Vec<crate::domain::ApprovedTemplate> {
        Vec::new()
    }
    /// Sends one reply; called by the outbound dispatcher's workers only.
    fn send<'a>(&'a self, cx: SendContext<'a>, d: &'a Delivery) -> BoxFuture<'a, SendResult>;
    /// Hides, shows again or deletes the customer's public post `post_id` (the
    /// provider's id) where the provider's API lets the business; `None`: it does not
    /// (a private channel, or X's delete of another account's post).
    fn moderate<'a>(
        &'a self,
        _cx: SendContext<'a>,
        _post_id: &'a str,
        _action: crate::domain::Moderation,
    ) -> Option<BoxFuture<'a, Result<(), SendFailure>>> {
        None
    }
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
        if !w.enabled(&state.channels()) {
            return Err(WebhookError::Disabled);
        }
        require_content_type(req, W::CONTENT_TYPE)?;
        let verified = w.verify(state, req, body)?;
        handle(verified).await
    }
    .await;
    counted(w.provider(), r)
}
