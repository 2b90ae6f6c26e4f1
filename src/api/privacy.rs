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
    // Its conversations (merged records' too) leave conversation search with it.
    let conversations: Vec<_> = crate::actors::timeline::conversations(&state.server.store, id)
        .await?
        .iter()
        .map(|c| c.id)
        .collect();
    let report = state.server.erase_customer(id, &staff.id).await?;
    let forget = crate::search::feed::Forget {
        customer: id,
        conversations,
    };
    if let Some(feed) = state.server.search() {
        feed.forget(&forget);
    }
    state.server.engine.broadcast(forget);
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
    /// Only this staff member's entries.
    pub actor: Option<String>,
    /// Only entries whose action starts with this (`login`, `PUT /api/v1/agents`, …).
    pub action: Option<String>,
    /// Only entries about this customer.
    pub customer_id: Option<String>,
    /// Only entries at or after this time (Unix ms).
    pub since: Option<i64>,
    /// Only entries before this time (Unix ms).
    pub until: Option<i64>,
    /// `json` (the default) or `csv` (`id,at,actor,action,customer_id,detail`, the
    /// detail as JSON; served as a download).
    pub format: Option<String>,
}

/// Audit log, newest first (admin): searchable by actor, action, customer and time,
/// exported as JSON or CSV.
///
/// Every staff request that may change something, sign-ins, privacy operations,
/// knowledge-base changes, recordings played and login alarms (docs/security.md). A
/// filtered page reads at most `limits.audit_scan_max` entries: with fewer matches than
/// asked, `next_before` says where to go on.
#[utoipa::path(get, path = "/api/v1/audit", tag = "privacy", security(("bearer" = [])),
    params(AuditPage),
    responses(
        (status = 200, description = "`{entries, next_before}`, or CSV with `format=csv`"),
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
    let limits = &state.server.settings.limits;
    let max = limits.max_page;
    let limit = page.limit.unwrap_or(50);
    if limit == 0 || limit > max {
        return Err(ApiError::invalid(format!("limit must be 1 to {max}")));
    }
    let csv = match page.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => return Err(ApiError::invalid(format!("format {other:?}: json or csv"))),
    };
    let customer = page
        .customer_id
        .as_deref()
        .map(crate::domain::CustomerId::parse)
        .transpose()
        .map_err(|_| ApiError::invalid("customer_id is not a customer id"))?;
    let wanted = |e: &crate::store::AuditEntry| {
        page.actor.as_deref().is_none_or(|a| e.actor.as_str() == a)
            && page
                .action
                .as_deref()
                .is_none_or(|a| e.action.starts_with(a))
            && customer.is_none_or(|c| e.customer_id == Some(c))
            && page.since.is_none_or(|t| e.at.0 >= t)
            && page.until.is_none_or(|t| e.at.0 < t)
    };
    let mut before = page.before.as_deref().map(EventId::parse).transpose()?;
    let mut entries = Vec::new();
    let mut scanned = 0usize;
    let mut next_before = None;
    // Newest first, a page of the store at a time, until enough match, the log ends,
    // the scan bound is reached or the entries are older than `since`.
    loop {
        let chunk = state.server.store.audit_log(before, max).await?;
        let ended = chunk.len() < max;
        for e in chunk {
            scanned += 1;
            before = Some(e.id);
            let too_old = page.since.is_some_and(|t| e.at.0 < t);
            if entries.len() == limit {
                next_before = entries.last().map(|e: &crate::store::AuditEntry| e.id);
                break;
            }
            if too_old {
                break;
            }
            if wanted(&e) {
                entries.push(e);
            }
            if scanned >= limits.audit_scan_max {
                next_before = before;
                break;
            }
        }
        if ended || next_before.is_some() || scanned >= limits.audit_scan_max {
            break;
        }
        if page
            .since
            .is_some_and(|t| entries.last().is_some_and(|e| e.at.0 < t))
        {
            break;
        }
    }
    if csv {
        return Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header(("Content-Disposition", "attachment; filename=\"audit.csv\""))
            .body(audit_csv(&entries)));
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "entries": entries,
        "next_before": next_before,
    })))
}

/// `entries` as CSV (RFC 4180: every field quoted, quotes doubled; a field a
/// spreadsheet would run as a formula — starting with `=`, `+`, `-` or `@` — gets a
/// leading `'`).
fn audit_csv(entries: &[crate::store::AuditEntry]) -> String {
    let field = |s: &str| {
        let guard = if s.starts_with(['=', '+', '-', '@']) {
            "'"
        } else {
            ""
        };
        format!("\"{guard}{}\"", s.replace('"', "\"\""))
    };
    let mut out = String::from("id,at,actor,action,customer_id,detail\r\n");
    for e in entries {
        let row = [
            e.id.to_string(),
            e.at.0.to_string(),
            e.actor.to_string(),
            e.action.clone(),
            e.customer_id.map(|c| c.to_string()).unwrap_or_default(),
            e.detail.to_string(),
        ];
        let row: Vec<String> = row.iter().map(|f| field(f)).collect();
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    out
}
