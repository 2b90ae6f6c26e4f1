//! Read-only REST over the store: customers, timelines (paged, newest first),
//! conversations and routing traces. Staff token required; agents read only the
//! customers and conversations they hold or held (`super::access`).

use super::access;
use super::error::ApiError;
use super::extract::Staff;
use super::AppState;
use crate::domain::{ConversationId, CustomerId, EventId};
use actix_web::{web, HttpResponse};
use serde::Deserialize;

/// A page of a timeline.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Page {
    /// Events older than this event id (`next_before` of the previous page).
    pub before: Option<String>,
    /// Events per page (default 50; at most `limits.max_page`).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<usize>,
}

fn customer_id(s: &str) -> Result<CustomerId, ApiError> {
    CustomerId::parse(s).map_err(|_| ApiError::not_found("customer"))
}

fn conversation_id(s: &str) -> Result<ConversationId, ApiError> {
    ConversationId::parse(s).map_err(|_| ApiError::not_found("conversation"))
}

/// A customer.
#[utoipa::path(get, path = "/api/v1/customers/{id}", tag = "customers",
    security(("bearer" = [])), params(("id" = String, Path, description = "customer id")),
    responses(
        (status = 200, description = "the customer"),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
    )
)]
pub async fn customer(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = customer_id(&path)?;
    let c = access::readable_customer(&state.server, &staff, id).await?;
    Ok(HttpResponse::Ok().json(c))
}

/// A customer's timeline, newest first, paged.
///
/// Merged records read as part of the customer's timeline.
#[utoipa::path(get, path = "/api/v1/customers/{id}/timeline", tag = "customers",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "customer id"), Page),
    responses(
        (status = 200, description = "`{customer_id, events, next_before}`"),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
    )
)]
pub async fn timeline(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    page: web::Query<Page>,
) -> Result<HttpResponse, ApiError> {
    let id = customer_id(&path)?;
    access::customer(&state.server, &staff, id).await?;
    let max = state.server.settings.limits.max_page;
    let limit = page.limit.unwrap_or(50);
    if limit == 0 || limit > max {
        return Err(ApiError::invalid(format!("limit must be 1 to {max}")));
    }
    let before = page.before.as_deref().map(EventId::parse).transpose()?;
    // Merged records read as part of this customer's timeline.
    let mut events =
        crate::actors::timeline::timeline(&state.server.store, id, before, limit + 1).await?;
    let more = events.len() > limit;
    events.truncate(limit);
    let next_before = if more {
        events.last().map(|e| e.id)
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "customer_id": id,
        "events": events,
        "next_before": next_before,
    })))
}

/// A customer's conversations.
#[utoipa::path(get, path = "/api/v1/customers/{id}/conversations", tag = "customers",
    security(("bearer" = [])), params(("id" = String, Path, description = "customer id")),
    responses(
        (status = 200, description = "the conversations"),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
    )
)]
pub async fn customer_conversations(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = customer_id(&path)?;
    access::customer(&state.server, &staff, id).await?;
    Ok(HttpResponse::Ok()
        .json(crate::actors::timeline::conversations(&state.server.store, id).await?))
}

/// A conversation.
#[utoipa::path(get, path = "/api/v1/conversations/{id}", tag = "conversations",
    security(("bearer" = [])), params(("id" = String, Path, description = "conversation id")),
    responses(
        (status = 200, description = "the conversation"),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
    )
)]
pub async fn conversation(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = conversation_id(&path)?;
    let c = access::readable_conversation(&state.server, &staff, id).await?;
    Ok(HttpResponse::Ok().json(c))
}

/// A conversation's routing trace.
///
/// Who was considered, skipped and why, each offer and outcome.
#[utoipa::path(get, path = "/api/v1/conversations/{id}/trace", tag = "conversations",
    security(("bearer" = [])), params(("id" = String, Path, description = "conversation id")),
    responses(
        (status = 200, description = "`{conversation_id, steps}`"),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
    )
)]
pub async fn trace(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = conversation_id(&path)?;
    access::readable_conversation(&state.server, &staff, id).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "conversation_id": id,
        "steps": state.server.store.trace(id).await?,
    })))
}

/// An identity to look a customer up by.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct IdentityQuery {
    #[param(value_type = super::openapi::schema::ChannelName, inline)]
    pub channel: String,
    /// Normalised as on intake (`+8190...` may be sent as `%2B8190...`).
    pub address: String,
}

/// The customer who owns identity (channel, address).
///
/// An agent that may not see the owner gets 403 whether or not a customer has the
/// identity; supervisors and admins get 404 when none has.
#[utoipa::path(get, path = "/api/v1/customers", tag = "customers", security(("bearer" = [])),
    params(IdentityQuery),
    responses(
        (status = 200, description = "the customer"),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
    )
)]
pub async fn customer_by_identity(
    state: web::Data<AppState>,
    staff: Staff,
    q: web::Query<IdentityQuery>,
) -> Result<HttpResponse, ApiError> {
    let channel = crate::domain::Channel::parse(&q.channel)?;
    let key = crate::domain::IdentityKey::parse(channel, &q.address)?;
    let Some(id) = state.server.store.customer_by_identity(&key).await? else {
        // An agent is told the same whether the identity is unknown or another's.
        return Err(if staff.sees_everything() {
            ApiError::not_found("customer")
        } else {
            access::customer_forbidden()
        });
    };
    let c = access::readable_customer(&state.server, &staff, id).await?;
    Ok(HttpResponse::Ok().json(c))
}
