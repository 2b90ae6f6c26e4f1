//! `POST /api/v1/inbound`: deliver a customer message from any `(channel, address)`.
//! The entry point connectors and integrations use; responds once the message is
//! durable. Requires a supervisor or admin token.

use super::error::ApiError;
use super::extract::Staff;
use super::AppState;
use crate::actors::messages::Inbound;
use crate::domain::{Channel, ConversationId, CustomerId, EventId, IdentityKey, QueueName};
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
    let channel = Channel::parse(&body.channel)?;
    let key = IdentityKey::parse(channel, &body.address)?;
    let queue = body.queue.as_deref().map(QueueName::parse).transpose()?;
    if let Some(c) = &body.client_msg_id {
        if c.is_empty() || c.len() > crate::ws::protocol::MAX_CLIENT_MSG_ID {
            return Err(ApiError::invalid("client_msg_id must be 1 to 128 bytes"));
        }
    }
    let engine = &state.engine;
    // Validate everything before resolving the identity, so bad input creates nothing.
    let max = engine.settings.limits.max_text_bytes;
    if body.text.trim().is_empty() {
        return Err(ApiError::invalid("text is empty"));
    }
    if body.text.len() > max {
        return Err(ApiError::new(
            crate::ws::protocol::ErrorCode::TooLarge,
            format!("text is {} bytes; the limit is {max}", body.text.len()),
        ));
    }
    if let Some(q) = &queue {
        if engine.queue(q).is_none() {
            return Err(ApiError::not_found("queue"));
        }
    }
    let (customer_id, new_customer) = engine.resolve_identity(&key).await?;
    let ack = engine
        .ask_customer(
            customer_id,
            Inbound {
                channel,
                address: key.address,
                text: body.text,
                client_msg_id: body.client_msg_id,
                queue,
                attachments: Vec::new(),
                subject: None,
                display_name: None,
                thread: None,
            },
        )
        .await?;
    Ok(HttpResponse::Accepted().json(InboundResponse {
        customer_id,
        conversation_id: ack.conversation_id,
        event_id: ack.event_id,
        duplicate: ack.duplicate,
        new_customer,
    }))
}
