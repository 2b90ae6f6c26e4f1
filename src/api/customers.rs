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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityIn {
    pub channel: String,
    pub address: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerIn {
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub priority: i32,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    pub identities: Vec<IdentityIn>,
}

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
