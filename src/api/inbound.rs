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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundRequest {
    pub channel: String,
    pub address: String,
    pub text: String,
    #[serde(default)]
    pub client_msg_id: Option<String>,
    #[serde(default)]
    pub queue: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct InboundResponse {
    pub customer_id: CustomerId,
    pub conversation_id: ConversationId,
    pub event_id: EventId,
    pub duplicate: bool,
    pub new_customer: bool,
}

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
