//! Privacy REST, admin only (`crate::actors::privacy` does the work):
//!
//! - `GET /api/v1/customers/{id}/export`: everything about the customer as one JSON
//!   document (profile, identities, conversations, timeline incl. merged records).
//! - `POST /api/v1/customers/{id}/erase`: erases the customer's personal data; 200 with
//!   counts; 409 `conflict` while a conversation is open or a chat connected.
//! - `GET /api/v1/audit?before=&limit=`: the audit log (these operations, knowledge-base
//!   changes, login alarms), newest first, paged.
//!
//! Both operations are recorded in the audit log before they answer.

use super::error::ApiError;
use super::extract::Staff;
use super::AppState;
use crate::domain::{CustomerId, EventId};
use actix_web::{web, HttpResponse};
use serde::Deserialize;

fn customer_id(s: &str) -> Result<CustomerId, ApiError> {
    CustomerId::parse(s).map_err(|_| ApiError::not_found("customer"))
}

/// Everything about a customer as JSON (admin; audited).
///
/// Profile, identities, conversations and timeline, merged records included, as one
/// attachment.
#[utoipa::path(get, path = "/api/v1/customers/{id}/export", tag = "privacy",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "customer id")),
    responses(
        (status = 200, description = "the customer's data"),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
    )
)]
pub async fn export(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    staff.require_admin()?;
    let id = customer_id(&path)?;
    let doc = state.server.export_customer(id, &staff.id).await?;
    Ok(HttpResponse::Ok()
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"customer-{id}.json\""),
        ))
        .json(doc))
}

/// Erase a customer's personal data (admin; audited).
///
/// Timeline, identities, profile and the conversations' personal fields. 409 while a
/// conversation is open or a chat connected.
#[utoipa::path(post, path = "/api/v1/customers/{id}/erase", tag = "privacy",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "customer id")),
    responses(
        (status = 200, description = "counts of what was erased"),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
        (status = 409, response = ApiError),
    )
)]
pub async fn erase(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    staff.require_admin()?;
    let id = customer_id(&path)?;
    let report = state.server.erase_customer(id, &staff.id).await?;
    Ok(HttpResponse::Ok().json(report))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditPage {
    /// Entries older than this entry id (`next_before` of the previous page).
    pub before: Option<String>,
    /// Entries per page (default 50; at most `limits.max_page`).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<usize>,
}

/// Audit log, newest first (admin).
///
/// Privacy operations, knowledge-base changes and login alarms (docs/security.md).
#[utoipa::path(get, path = "/api/v1/audit", tag = "privacy", security(("bearer" = [])),
    params(AuditPage),
    responses(
        (status = 200, description = "`{entries, next_before}`"),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
    )
)]
pub async fn audit(
    state: web::Data<AppState>,
    staff: Staff,
    page: web::Query<AuditPage>,
) -> Result<HttpResponse, ApiError> {
    staff.require_admin()?;
    let max = state.server.settings.limits.max_page;
    let limit = page.limit.unwrap_or(50);
    if limit == 0 || limit > max {
        return Err(ApiError::invalid(format!("limit must be 1 to {max}")));
    }
    let before = page.before.as_deref().map(EventId::parse).transpose()?;
    let mut entries = state.server.store.audit_log(before, limit + 1).await?;
    let more = entries.len() > limit;
    entries.truncate(limit);
    let next_before = if more {
        entries.last().map(|e| e.id)
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "entries": entries,
        "next_before": next_before,
    })))
}
