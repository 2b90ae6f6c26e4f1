//! What every webhook handler shares: the error type and its HTTP mapping, content-type
//! and form parsing, and the public URL a provider signed.
//!
//! Status codes tell the provider what to do next: 2xx = stored (or a duplicate of
//! something stored), 401 = bad signature, 400/415 = malformed (do not retry), 503 with
//! `Retry-After` = we could not store it now (retry), 404 = connector disabled.

use crate::actors::messages::EngineError;
use crate::domain::ErrorCode;
use crate::Gateway;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("this connector is not enabled")]
    Disabled,
    #[error("signature missing or invalid")]
    BadSignature,
    #[error("expected content type {0}")]
    WrongContentType(&'static str),
    #[error("malformed payload: {0}")]
    Malformed(String),
    #[error("{0}")]
    Engine(EngineError),
}

impl From<EngineError> for WebhookError {
    fn from(e: EngineError) -> Self {
        WebhookError::Engine(e)
    }
}

impl ResponseError for WebhookError {
    fn status_code(&self) -> StatusCode {
        match self {
            WebhookError::Disabled => StatusCode::NOT_FOUND,
            WebhookError::BadSignature => StatusCode::UNAUTHORIZED,
            WebhookError::WrongContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            WebhookError::Malformed(_) => StatusCode::BAD_REQUEST,
            WebhookError::Engine(e) => {
                actix_web::http::StatusCode::from_u16(protocol::rest::http_status(e.code))
                    .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }
    fn error_response(&self) -> HttpResponse {
        let mut r = HttpResponse::build(self.status_code());
        if let WebhookError::Engine(e) = self {
            if matches!(
                e.code,
                ErrorCode::Unavailable | ErrorCode::Busy | ErrorCode::QueueFull
            ) {
                r.insert_header(("Retry-After", "5"));
            }
        }
        r.json(serde_json::json!({ "code": self.code(), "message": self.to_string() }))
    }
}

impl WebhookError {
    fn code(&self) -> &'static str {
        match self {
            WebhookError::Disabled => "not_found",
            WebhookError::BadSignature => "unauthorized",
            WebhookError::WrongContentType(_) | WebhookError::Malformed(_) => "invalid",
            WebhookError::Engine(_) => "engine",
        }
    }

    /// The outcome label for the webhook metric.
    pub fn outcome(&self) -> &'static str {
        match self {
            WebhookError::BadSignature => "rejected",
            WebhookError::Engine(e) if e.code == ErrorCode::Unavailable => "error",
            WebhookError::Engine(e) if e.code == ErrorCode::Busy => "busy",
            _ => "invalid",
        }
    }
}

/// Fails unless the request's content type starts with `expected`.
pub fn require_content_type(req: &HttpRequest, expected: &'static str) -> Result<(), WebhookError> {
    let ct = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ct.to_ascii_lowercase().starts_with(expected) {
        Ok(())
    } else {
        Err(WebhookError::WrongContentType(expected))
    }
}

/// An `application/x-www-form-urlencoded` body as ordered pairs.
pub fn parse_form(body: &[u8]) -> Result<Vec<(String, String)>, WebhookError> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .map_err(|e| WebhookError::Malformed(format!("form body: {e}")))
}

/// The value of form field `key`.
pub fn field<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// A required form field.
pub fn required<'a>(params: &'a [(String, String)], key: &str) -> Result<&'a str, WebhookError> {
    field(params, key)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| WebhookError::Malformed(format!("{key} is missing")))
}

/// The URL the provider called, as it saw it: the configured public base URL plus the
/// request's path and query.
pub fn public_url(gateway: &Gateway, req: &HttpRequest) -> String {
    let pq = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    format!("{}{pq}", gateway.channels().public_url)
}

/// Whether a provider event with timestamp `ts` (ms since the epoch) is older than
/// `security.webhook_max_event_age_ms`: a replay of a captured, validly signed
/// payload. Such events are skipped (logged, answered 2xx like any skipped event, so the
/// provider does not retry); the message id de-duplicates younger redeliveries.
pub fn too_old(gateway: &crate::Gateway, ts: Option<i64>) -> bool {
    let max = gateway.webhook_max_event_age_ms;
    match ts {
        Some(ts) if max > 0 => gateway.now().0.saturating_sub(ts) > max as i64,
        _ => false,
    }
}

/// The events of a verified batch worth handling, in order. An event that did not
/// parse, or whose timestamp (`ts`) is older than the replay window ([`too_old`]), is
/// skipped with a log line (the replay counted as `replay_skipped`): one bad event must
/// not make the provider redeliver the others.
pub fn fresh_events<E>(
    gateway: &Gateway,
    provider: &'static str,
    events: Vec<Result<E, serde_json::Error>>,
    ts: impl Fn(&E) -> Option<i64>,
) -> Vec<E> {
    events
        .into_iter()
        .filter_map(|ev| match ev {
            Ok(e) if too_old(gateway, ts(&e)) => {
                tracing::info!(provider, "webhook event skipped: older than the replay window");
                crate::metrics::webhook(provider, "replay_skipped");
                None
            }
            Ok(e) => Some(e),
            Err(e) => {
                tracing::info!(provider, error = %crate::redact::Redacted(&e.to_string()), "webhook event skipped: unreadable");
                None
            }
        })
        .collect()
}

/// The query of Meta's subscription handshake (Messenger, Instagram, WhatsApp):
/// `GET ...?hub.mode=subscribe&hub.verify_token=..&hub.challenge=..`.
#[derive(Debug, serde::Deserialize)]
pub struct HubChallenge {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

impl HubChallenge {
    /// Echoes the challenge when the verify token is `expected`; else 403 (404 while
    /// the connector is off).
    pub fn answer(&self, enabled: bool, expected: &str) -> Result<HttpResponse, WebhookError> {
        if !enabled {
            return Err(WebhookError::Disabled);
        }
        match (&self.mode, &self.verify_token, &self.challenge) {
            (Some(mode), Some(token), Some(challenge))
                if mode == "subscribe" && token == expected =>
            {
                Ok(HttpResponse::Ok()
                    .content_type("text/plain")
                    .body(challenge.clone()))
            }
            _ => Ok(HttpResponse::Forbidden().finish()),
        }
    }
}

/// Hands `m` to the engine (`ingest`); a message the engine finds unusable (invalid)
/// is skipped with a log line, since one bad message must not make the provider
/// redeliver the others. `None` then; any other failure is the call's.
pub async fn ingest_or_skip(
    gateway: &Gateway,
    provider: &'static str,
    m: crate::InboundMessage,
) -> Result<Option<crate::Provided>, WebhookError> {
    match crate::ingest(gateway, m).await {
        Ok(p) => Ok(Some(p)),
        Err(e) if e.code == ErrorCode::Invalid => {
            tracing::info!(provider, error = %crate::redact::Redacted(&e.to_string()), "message skipped");
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// A header as text.
pub fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Counts the outcome and passes the result through.
pub fn counted<T>(provider: &'static str, r: Result<T, WebhookError>) -> Result<T, WebhookError> {
    match &r {
        Ok(_) => crate::metrics::webhook(provider, "accepted"),
        Err(e) => {
            tracing::info!(provider, outcome = e.outcome(), error = %crate::redact::Redacted(&e.to_string()), "webhook refused");
            crate::metrics::webhook(provider, e.outcome())
        }
    }
    r
}

/// Parses a Twilio form body and checks its `X-Twilio-Signature` (over the public URL
/// and the parameters) with `auth_token`; returns the parameters. Shared by the SMS and voice
/// connectors, which Twilio signs the same way.
pub fn twilio_form(
    gateway: &Gateway,
    req: &HttpRequest,
    body: &[u8],
    auth_token: &str,
) -> Result<Vec<(String, String)>, WebhookError> {
    let params = parse_form(body)?;
    let url = public_url(gateway, req);
    if !crate::signature::verify_twilio(
        auth_token,
        &url,
        &params,
        header(req, "X-Twilio-Signature"),
    ) {
        return Err(WebhookError::BadSignature);
    }
    Ok(params)
}
