//! `POST /api/v1/customers`: create a known customer (CRM import) with a display name,
//! routing priority (VIP > 0), attributes and identities. Supervisor or admin. An
//! identity that already belongs to a customer is refused (409-style `invalid`), so
//! two customers are never silently merged.

use super::error::ApiError;
use super::extract::Staff;
use super::AppState;
use crate::domain::{Channel, Customer, CustomerId, IdentityKey};
use crate::store::Batch;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use std::collections::BTreeMap;

/// An identity of a new customer.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = NewIdentity)]
#[serde(deny_unknown_fields)]
pub struct IdentityIn {
    #[schema(value_type = super::openapi::schema::ChannelName, inline)]
    pub channel: String,
    pub address: String,
}

/// A known customer to create.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerIn {
    #[serde(default)]
    pub display_name: Option<String>,
    /// Routing priority, -100 to 100 (VIP > 0).
    #[serde(default)]
    #[schema(minimum = -100, maximum = 100)]
    pub priority: i32,
    /// At most 100; keys up to 100 bytes, values up to 1000.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// 1 to 20 identities no customer owns yet.
    #[schema(min_items = 1, max_items = 20)]
    pub identities: Vec<IdentityIn>,
}

/// Create a known customer (CRM import) (supervisor, admin).
///
/// Display name, priority, attributes, identities. An identity that already belongs to
/// a customer is refused, so two customers are never silently merged.
#[utoipa::path(post, path = "/api/v1/customers", tag = "customers", security(("bearer" = [])),
    request_body = CustomerIn,
    responses(
        (status = 201, description = "the customer"),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
    )
)]
pub async fn create(
    state: web::Data<AppState>,
    staff: Staff,
    body: web::Json<CustomerIn>,
) -> Result<HttpResponse, ApiError> {
    staff.require_supervisor()?;
    let body = body.into_inner();
    if body.identities.is_empty() || body.identities.len() > 20 {
        return Err(ApiError::invalid("give 1 to 20 identities"));
    }
    if !(-100..=100).contains(&body.priority) {
        return Err(ApiError::invalid("priority must be -100 to 100"));
    }
    if body.attributes.len() > 100
        || body
            .attributes
            .iter()
            .any(|(k, v)| k.len() > 100 || v.len() > 1000)
    {
        return Err(ApiError::invalid(
            "at most 100 attributes, keys 100 bytes, values 1000 bytes",
        ));
    }
    crate::domain::attribute_requirements(&body.attributes)?;
    let mut keys = Vec::new();
    for i in &body.identities {
        keys.push(IdentityKey::parse(Channel::parse(&i.channel)?, &i.address)?);
    }
    let store = &state.server.store;
    for k in &keys {
        if store.customer_by_identity(k).await?.is_some() {
            return Err(ApiError::invalid(format!(
                "identity {}:{} already belongs to a customer",
                k.channel, k.address
            )));
        }
    }
    let customer = Customer {
        id: CustomerId::new(),
        display_name: body.display_name,
        identities: keys.clone(),
        priority: body.priority,
        attributes: body.attributes,
        last_agent: None,
        opted_out: Default::default(),
        merged_into: None,
        merged: Vec::new(),
        created_at: state.server.now(),
    };
    let (id, created) = store.resolve_or_create(&keys[0], customer.clone()).await?;
    if !created {
        return Err(ApiError::invalid("identity already belongs to a customer"));
    }
    let batch = Batch {
        identities: keys[1..].iter().map(|k| (k.clone(), id)).collect(),
        ..Default::default()
    };
    if !batch.is_empty() {
        store.commit(batch).await?;
    }
    Ok(HttpResponse::Created().json(customer))
}
