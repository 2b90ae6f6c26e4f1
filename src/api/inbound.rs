//! `POST /api/v1/inbound`: deliver a customer message from any `(channel, address)`.
//! The entry point integrations use (validation: the REST door of `actors::ingest`);
//! responds once the message is durable. Requires a supervisor or admin token.

use super::error::ApiError;
use super::extract::Staff;
use super::AppState;
use crate::actors::ingest;
use crate::domain::{ConversationId, CustomerId, EventId};
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InboundRequest {
    #[schema(value_type = super::openapi::schema::ChannelName, inline)]
    pub channel: String,
    /// The customer's address on the channel (normalised as on intake).
    pub address: String,
    pub text: String,
    /// The sender's id of the message: a retry with the same id is stored once.
    #[serde(default)]
    #[schema(max_length = 128)]
    pub client_msg_id: Option<String>,
    /// The queue a new conversation joins (default: the channel's).
    #[serde(default)]
    pub queue: Option<String>,
    /// Skills the conversation needs of its agent, on top of its queue's: skill name
    /// to minimum proficiency (1 to 5), at most 16 (docs/api.md "Per-contact
    /// skills"). Refused when no agent of the queue could ever meet them.
    #[serde(default)]
    pub requirements: std::collections::BTreeMap<String, u8>,
    /// A language the agent must speak, e.g. `ja` (the skill `lang-ja`).
    #[serde(default)]
    pub language: Option<String>,
    /// How hard the contact is, 1 to 5 (the skill `difficulty`): only agents whose own
    /// difficulty is at least this take it, the closest fit first (docs/api.md
    /// "Novices").
    #[serde(default)]
    pub difficulty: Option<u8>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InboundResponse {
    #[schema(value_type = String)]
    pub customer_id: CustomerId,
    #[schema(value_type = String)]
    pub conversation_id: ConversationId,
    #[schema(value_type = String)]
    pub event_id: EventId,
    /// The message was already stored (same `client_msg_id`).
    pub duplicate: bool,
    pub new_customer: bool,
}

/// Deliver a customer message from (channel, address); 202 once durable (supervisor,
/// admin).
#[utoipa::path(post, path = "/api/v1/inbound", tag = "customers", security(("bearer" = [])),
    request_body = InboundRequest,
    responses(
        (status = 202, description = "stored", body = InboundResponse),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 413, response = ApiError),
        (status = 503, response = ApiError),
    )
)]
#[tracing::instrument(skip_all, fields(channel = %body.channel))]
pub async fn inbound(
    state: web::Data<AppState>,
    staff: Staff,
    body: web::Json<InboundRequest>,
) -> Result<HttpResponse, ApiError> {
    staff.require_supervisor()?;
    let body = body.into_inner();
    let done = ingest::from_rest(
        &state.server,
        ingest::RestInput {
            channel: body.channel,
            address: body.address,
            text: body.text,
            client_msg_id: body.client_msg_id,
            queue: body.queue,
            requirements: body.requirements,
            difficulty: body.difficulty,
            language: body.language,
        },
    )
    .await?;
    let ack = done.ack;
    Ok(HttpResponse::Accepted().json(InboundResponse {
        customer_id: done.customer_id,
        conversation_id: ack.conversation_id,
        event_id: ack.event_id,
        duplicate: ack.duplicate,
        new_customer: done.new_customer,
    }))
}
