//! REST for identity stitching by staff: link an identity to a customer by hand,
//! unlink one, merge two customers and undo a merge. Handlers parse and check roles;
//! the work is `crate::actors::stitching`'s.
//!
//! - `POST /api/v1/customers/{id}/identities` `{"channel","address"}` (any staff):
//!   201 linked, 200 already this customer's, 409 `conflict` when another customer owns
//!   it. Supervisors and admins are told the owner (`customer_id`) and to merge the two
//!   instead; an agent is told only `conflict`, so linking is no way to learn who owns
//!   a phone number or address.
//! - `DELETE /api/v1/customers/{id}/identities/{channel}/{address}` (supervisor+):
//!   the address is handed to a new empty customer.
//! - `POST /api/v1/customers/{id}/merge` `{"other"}` (any staff): `other` merges into
//!   `id`; 409 if they are the same, either is merged, or `other` has an open
//!   conversation or a connected chat.
//! - `POST /api/v1/customers/{id}/unmerge` `{"other"}` (any staff).
//! - `POST /api/v1/identities/stitch` `{"after"?, "limit"?}` (admin): one page of the
//!   pass merging the customers who share a phone number or an X account
//!   (`Engine::stitch_shared_identities`), audited as `identities_stitched`.
//!
//! An agent may do these only for customers it serves or served (`super::access`);
//! for a merge or unmerge, both of them.

use super::access;
use super::error::ApiError;
use super::extract::Staff;
use super::AppState;
use crate::actors::customer::identity::LinkOutcome;
use crate::domain::ErrorCode;
use crate::domain::{Channel, CustomerId, IdentityKey};
use actix_web::{web, HttpResponse};
use serde::Deserialize;

/// An identity to link to a customer.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = Identity)]
#[serde(deny_unknown_fields)]
pub struct IdentityIn {
    #[schema(value_type = super::openapi::schema::ChannelName, inline)]
    pub channel: String,
    pub address: String,
}

/// The other customer of a merge or unmerge.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OtherIn {
    /// A customer id.
    pub other: String,
}

fn customer_id(s: &str) -> Result<CustomerId, ApiError> {
    CustomerId::parse(s).map_err(|_| ApiError::not_found("customer"))
}

async fn customer_json(state: &AppState, id: CustomerId) -> Result<serde_json::Value, ApiError> {
    let c = state
        .server
        .store
        .customer(id)
        .await?
        .ok_or_else(|| ApiError::not_found("customer"))?;
    serde_json::to_value(c).map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))
}

/// What the audit log keeps of a customer's identity change (`audit_trail::record_change`):
/// its identities and the customers merged into it — no name, no attributes.
async fn identities_of(state: &AppState, id: CustomerId) -> Result<serde_json::Value, ApiError> {
    let c = state
        .server
        .store
        .customer(id)
        .await?
        .ok_or_else(|| ApiError::not_found("customer"))?;
    let merged: Vec<String> = c.merged.iter().map(|m| m.customer.to_string()).collect();
    Ok(serde_json::json!({"identities": c.identities, "merged": merged}))
}

/// Link an identity to the customer (explicit link by staff).
///
/// 201 linked, 200 already this customer's; 409 `conflict` when another customer owns
/// it: for supervisors and admins with `customer_id` (the owner) and a hint to merge
/// the two instead, for agents without either.
#[utoipa::path(post, path = "/api/v1/customers/{id}/identities", tag = "customers",
    security(("bearer" = [])), params(("id" = String, Path, description = "customer id")),
    request_body = IdentityIn,
    responses(
        (status = 200, description = "the customer (already linked)"),
        (status = 201, description = "the customer (linked)"),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
        (status = 409, response = ApiError),
    )
)]
pub async fn link(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    staff: Staff,
    path: web::Path<String>,
    body: web::Json<IdentityIn>,
) -> Result<HttpResponse, ApiError> {
    let id = customer_id(&path)?;
    access::customer(&state.server, &staff, id).await?;
    let key = IdentityKey::parse(Channel::parse(&body.channel)?, &body.address)?;
    let before = identities_of(&state, id).await?;
    let outcome = state
        .server
        .link_identity(id, key.clone(), Some(staff.id.clone()), "agent")
        .await?;
    if matches!(outcome, LinkOutcome::Linked) {
        super::audit_trail::record_change(&req, Some(before), identities_of(&state, id).await?);
    }
    match outcome {
        LinkOutcome::Linked => Ok(HttpResponse::Created().json(customer_json(&state, id).await?)),
        LinkOutcome::AlreadyLinked => Ok(HttpResponse::Ok().json(customer_json(&state, id).await?)),
        LinkOutcome::OwnedBy(_) if !staff.sees_everything() => Err(ApiError::new(
            ErrorCode::Conflict,
            "the identity cannot be linked to this customer",
        )),
        LinkOutcome::OwnedBy(owner) => Ok(HttpResponse::Conflict().json(serde_json::json!({
            "code": ErrorCode::Conflict,
            "message": format!(
                "{}:{} belongs to customer {owner}; merge the two customers instead",
                key.channel, key.address
            ),
            "customer_id": owner,
        }))),
    }
}

/// Unlink an identity (supervisor, admin).
///
/// The address is handed to a new empty customer.
#[utoipa::path(delete, path = "/api/v1/customers/{id}/identities/{channel}/{address}",
    tag = "customers", security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "customer id"),
        ("channel" = String, Path, description = "the identity's channel"),
        ("address" = String, Path, description = "the identity's address"),
    ),
    responses(
        (status = 200, description = "the customer"),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
    )
)]
pub async fn unlink(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    staff: Staff,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    staff.require_supervisor()?;
    let (id, channel, address) = path.into_inner();
    let id = customer_id(&id)?;
    let key = IdentityKey::parse(Channel::parse(&channel)?, &address)?;
    let before = identities_of(&state, id).await?;
    state
        .server
        .unlink_identity(id, key, Some(staff.id.clone()))
        .await?;
    super::audit_trail::record_change(&req, Some(before), identities_of(&state, id).await?);
    Ok(HttpResponse::Ok().json(customer_json(&state, id).await?))
}

/// Merge customer `other` into this one (identities move, timelines read as one).
///
/// 409 if they are the same, either is merged, or `other` has an open conversation or
/// a connected chat.
#[utoipa::path(post, path = "/api/v1/customers/{id}/merge", tag = "customers",
    security(("bearer" = [])), params(("id" = String, Path, description = "customer id")),
    request_body = OtherIn,
    responses(
        (status = 200, description = "the surviving customer"),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
        (status = 409, response = ApiError),
    )
)]
pub async fn merge(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    staff: Staff,
    path: web::Path<String>,
    body: web::Json<OtherIn>,
) -> Result<HttpResponse, ApiError> {
    let id = customer_id(&path)?;
    let other = customer_id(&body.other)?;
    access::customer(&state.server, &staff, id).await?;
    access::customer(&state.server, &staff, other).await?;
    let before = identities_of(&state, id).await?;
    let c = state
        .server
        .merge_customers(id, other, Some(staff.id.clone()))
        .await?;
    super::audit_trail::record_change(&req, Some(before), identities_of(&state, id).await?);
    Ok(HttpResponse::Ok().json(c))
}

/// Undo a merge: `other` gets its identities and timeline back.
#[utoipa::path(post, path = "/api/v1/customers/{id}/unmerge", tag = "customers",
    security(("bearer" = [])), params(("id" = String, Path, description = "customer id")),
    request_body = OtherIn,
    responses(
        (status = 200, description = "the customer"),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
        (status = 409, response = ApiError),
    )
)]
pub async fn unmerge(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    staff: Staff,
    path: web::Path<String>,
    body: web::Json<OtherIn>,
) -> Result<HttpResponse, ApiError> {
    let id = customer_id(&path)?;
    let other = customer_id(&body.other)?;
    access::customer(&state.server, &staff, id).await?;
    access::customer(&state.server, &staff, other).await?;
    let before = identities_of(&state, id).await?;
    let c = state
        .server
        .unmerge_customers(id, other, Some(staff.id.clone()))
        .await?;
    super::audit_trail::record_change(&req, Some(before), identities_of(&state, id).await?);
    Ok(HttpResponse::Ok().json(c))
}

/// One page of the pass that merges customers known by the same phone number or X
/// account (stored before one-customer-per-address, or split by a race).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StitchBody {
    /// The previous page's `next` (absent: from the start).
    #[serde(default)]
    pub after: Option<String>,
    /// Identity links read on this page: 1 to 1,000 (default 500).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// Largest page of [`stitch`].
const MAX_STITCH_PAGE: usize = 1_000;

/// Merges the customers who share a phone number or an X account, one page at a time.
#[utoipa::path(post, path = "/api/v1/identities/stitch", tag = "customers",
    operation_id = "stitch_identities",
    security(("bearer" = [])),
    request_body = StitchBody,
    responses(
        (status = 200, description = "`{scanned, merged: [{survivor, other, evidence}], skipped: [{survivor, other, evidence, reason}], next}`; call again with `after = next` until `next` is null"),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 503, response = ApiError),
    )
)]
pub async fn stitch(
    state: web::Data<AppState>,
    staff: Staff,
    body: web::Json<StitchBody>,
) -> Result<HttpResponse, ApiError> {
    staff.require_admin()?;
    let body = body.into_inner();
    let limit = body.limit.unwrap_or(500);
    if !(1..=MAX_STITCH_PAGE).contains(&limit) {
        return Err(ApiError::invalid(format!(
            "limit must be 1 to {MAX_STITCH_PAGE}"
        )));
    }
    if body.after.as_ref().is_some_and(|a| a.len() > 1024) {
        return Err(ApiError::invalid("after is not a cursor of this pass"));
    }
    let server = &state.server;
    let report = server.stitch_shared_identities(body.after, limit).await?;
    if !report.merged.is_empty() {
        server
            .store
            .append_audit(crate::store::privacy::AuditEntry {
                id: crate::domain::EventId::new(),
                at: server.now(),
                actor: staff.id.clone(),
                action: "identities_stitched".into(),
                customer_id: None,
                detail: serde_json::json!({
                    "merged": report.merged.iter()
                        .map(|m| serde_json::json!({"survivor": m.survivor, "other": m.other, "evidence": m.evidence}))
                        .collect::<Vec<_>>(),
                    "skipped": report.skipped.len(),
                }),
            })
            .await?;
    }
    Ok(HttpResponse::Ok().json(report))
}
