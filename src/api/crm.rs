//! `GET /api/v1/customers/{id}/crm`: the customer's CRM attributes and recent orders
//! as cached by `crate::crm`, with their status (`ok`, `stale`, `unavailable`,
//! `disabled`). Access as for the customer record (`super::access`). Reading never
//! waits for the CRM: a missing or stale entry is refreshed in the background and the
//! reader sees what is cached now.

use super::access;
use super::error::ApiError;
use super::extract::Staff;
use super::AppState;
use crate::domain::CustomerId;
use actix_web::{web, HttpResponse};

/// The customer's CRM attributes and recent orders.
///
/// Status `ok`, `stale`, `unavailable` or `disabled`. Reading never waits for the CRM.
#[utoipa::path(get, path = "/api/v1/customers/{id}/crm", tag = "assist",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "customer id")),
    responses(
        (status = 200, description = "`{status, fetched_at, attributes, orders, error}`"),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
    )
)]
pub async fn customer_crm(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = CustomerId::parse(&path).map_err(|_| ApiError::not_found("customer"))?;
    access::customer(&state.server, &staff, id).await?;
    let customer = if state.server.crm.enabled() {
        Some(
            state
                .server
                .store
                .customer(id)
                .await?
                .ok_or_else(|| ApiError::not_found("customer"))?,
        )
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(state.server.crm.view(id, customer.as_ref())))
}
