//! Queued callbacks over REST (docs/ivr.md):
//!
//! - `POST /api/v1/callbacks` `{customer_id, phone, queue?, note?}`: staff (who may
//!   see the customer), or the visitor's own chat token (then `customer_id` may be
//!   omitted). The phone number is normalised as an E.164 identity. Unknown customer
//!   404, bad number 400, unknown queue 404, a callback already pending 409; nothing is
//!   stored on error.
//! - `POST /api/v1/callbacks/{conversation_id}/outcome` `{outcome}`: the holding agent
//!   reports a dial (`reached`, `no_answer`, `busy`).

use super::error::ApiError;
use super::extract::staff_from_token;
use super::AppState;
use crate::actors::customer::callback::{self, CallbackOutcome, CallbackRequest};
use crate::auth::Claims;
use crate::domain::{Channel, ConversationId, CustomerId, IdentityKey, QueueName};
use crate::ivr::callbacks::Outcome;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

/// A callback request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCallback {
    /// Required with a staff token; a visitor's own by default.
    #[serde(default)]
    pub customer_id: Option<String>,
    /// The number to call back (E.164).
    pub phone: String,
    /// Default: the voice channel's queue.
    #[serde(default)]
    pub queue: Option<String>,
    /// For the agent who calls back.
    #[serde(default)]
    pub note: Option<String>,
    /// Menus of the visual IVR the visitor went through, root first.
    #[serde(default)]
    pub ivr_path: Vec<String>,
}

/// Most IVR path steps accepted with a request.
const MAX_PATH: usize = 16;

fn bearer(req: &HttpRequest) -> Result<&str, ApiError> {
    req.headers()
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer token"))
}

/// Ask for a callback instead of waiting.
///
/// Staff for a customer they may see, or the visitor's own chat token (bearer): the
/// waiting conversation keeps its place, else a new voice conversation joins the
/// queue. Nothing is stored on error; a callback already pending is 409.
#[utoipa::path(post, path = "/api/v1/callbacks", tag = "ivr", operation_id = "callback_create",
    security(("bearer" = [])), request_body = CreateCallback,
    responses(
        (status = 201, description = "`{conversation_id, customer_id, queue, phone}`"),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
        (status = 409, response = ApiError),
    )
)]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<CreateCallback>,
) -> Result<HttpResponse, ApiError> {
    let server = &state.server;
    let token = bearer(&req)?;
    let body = body.into_inner();
    let named = body
        .customer_id
        .as_deref()
        .map(|s| CustomerId::parse(s).map_err(|_| ApiError::not_found("customer")))
        .transpose()?;
    // Who asks: a visitor for itself, or staff for a customer they may see.
    let (customer, source) = match server.tokens.verify(token, server.now()) {
        Ok(Claims::Visitor { customer, .. }) => {
            let own = CustomerId::parse(&customer)
                .map_err(|_| ApiError::unauthorized("bad token subject"))?;
            if named.is_some_and(|c| c != own) {
                return Err(ApiError::forbidden(
                    "a visitor may ask a callback only for itself",
                ));
            }
            if let Some(ip) = crate::security::client::client_ip(&req, &server.security.proxies) {
                server
                    .budgets
                    .take(crate::budget::Door::Callback, ip, server.now())
                    .map_err(|r| ApiError::rate_limited(r.message(), r.retry_after_secs))?;
            }
            (
                own,
                if body.ivr_path.is_empty() {
                    "chat"
                } else {
                    "visual_ivr"
                },
            )
        }
        Ok(Claims::Staff { .. }) => {
            let staff = staff_from_token(server, token).await?;
            let c = named.ok_or_else(|| ApiError::invalid("customer_id is required"))?;
            super::access::customer(server, &staff, c).await?;
            (c, "rest")
        }
        Err(_) => return Err(ApiError::unauthorized("invalid or expired token")),
    };
    let phone = IdentityKey::parse(Channel::Voice, &body.phone)?.address;
    let queue = body.queue.as_deref().map(QueueName::parse).transpose()?;
    if body.ivr_path.len() > MAX_PATH || body.ivr_path.iter().any(|m| m.len() > 32) {
        return Err(ApiError::invalid("ivr_path is too long"));
    }
    let ack = callback::request(
        server,
        customer,
        CallbackRequest {
            phone,
            queue,
            note: body.note.filter(|n| !n.trim().is_empty()),
            ivr_path: body.ivr_path,
            source: source.into(),
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(ack))
}

/// How a callback dial went.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutcomeBody {
    #[schema(value_type = super::openapi::schema::OutcomeName, inline)]
    pub outcome: Outcome,
}

/// The holding agent reports a callback dial: reached, no_answer or busy.
///
/// Not reached: retried after `callbacks.retry_delay_ms`, up to
/// `callbacks.max_attempts`.
#[utoipa::path(post, path = "/api/v1/callbacks/{id}/outcome", tag = "ivr",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "the callback's conversation id")),
    request_body = OutcomeBody,
    responses(
        (status = 200, description = "`{conversation_id, attempt, outcome, next, retry_at?}`"),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
        (status = 409, response = ApiError),
    )
)]
pub async fn outcome(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<OutcomeBody>,
) -> Result<HttpResponse, ApiError> {
    let server = &state.server;
    let staff = staff_from_token(server, bearer(&req)?).await?;
    let id = ConversationId::parse(&path).map_err(|_| ApiError::not_found("conversation"))?;
    let conv = server
        .store
        .conversation(id)
        .await?
        .ok_or_else(|| ApiError::not_found("conversation"))?;
    let view = server
        .ask_customer(
            conv.customer_id,
            CallbackOutcome {
                conversation_id: id,
                agent_id: staff.id,
                outcome: body.outcome,
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(view))
}
