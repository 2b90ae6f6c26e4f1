//! Agent-started conversations over REST: `POST /api/v1/customers/{id}/conversations`
//! opens a conversation with the customer on a messaging channel with the calling
//! agent's first message; it waits for that agent in one of their queues (docs/api.md
//! "Outbound conversations"; the rules are the customer actor's, `customer::start`).
//! The caller must be allowed to see the customer (`super::access`); the queue, if
//! named, must be one of theirs (default: the channel's default queue, which must be
//! one of theirs too).

use super::error::ApiError;
use super::extract::Staff;
use super::AppState;
use crate::actors::customer::messages::StartConversation;
use crate::domain::{Channel, CustomerId, QueueName, TemplateMessage};
use actix_web::{web, HttpResponse};
use serde::Deserialize;

/// What the agent starts the conversation with.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartBody {
    /// `sms`, `email`, `line`, `messenger`, `instagram`, `whatsapp` or `x`.
    pub channel: String,
    /// The agent's first message (may be empty with `template`).
    #[serde(default)]
    pub text: String,
    /// An approved template (`{name, language, parameters}`): WhatsApp outside its
    /// 24-hour window takes nothing else.
    #[schema(value_type = Option<Object>)]
    pub template: Option<TemplateMessage>,
    /// The queue it waits in for the agent: one of the agent's queues (default: the
    /// channel's default queue).
    pub queue: Option<String>,
    /// Makes a retry idempotent: the same id answers the same conversation.
    pub client_msg_id: String,
}

/// Starts a conversation with a customer, routed to the calling agent.
#[utoipa::path(post, path = "/api/v1/customers/{id}/conversations", tag = "conversations",
    operation_id = "start_conversation",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "customer id")),
    request_body = StartBody,
    responses(
        (status = 201, description = "`{customer_id, conversation_id, event_id, duplicate}`"),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
        (status = 409, response = ApiError),
        (status = 503, response = ApiError),
    )
)]
pub async fn start(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    body: web::Json<StartBody>,
) -> Result<HttpResponse, ApiError> {
    let server = &state.server;
    let id = CustomerId::parse(&path)?;
    super::access::customer(server, &staff, id).await?;
    let id = super::ws_routes::survivor_of(server, id).await?;
    let body = body.into_inner();
    let channel = Channel::parse(&body.channel)?;
    let queue = match &body.queue {
        Some(q) => QueueName::parse(q)?,
        None => server
            .default_queue_for(channel)
            .ok_or_else(|| ApiError::not_found("queue"))?,
    };
    let profile = server
        .store
        .agent(&staff.id)
        .await?
        .ok_or_else(|| ApiError::not_found("agent"))?;
    if !profile.queues.contains(&queue) {
        return Err(ApiError::invalid(format!(
            "you are not in queue {queue}; name one of your queues"
        )));
    }
    if body.client_msg_id.is_empty()
        || body.client_msg_id.len() > crate::domain::ids::MAX_CLIENT_MSG_ID
    {
        return Err(ApiError::invalid("client_msg_id must be 1 to 128 bytes"));
    }
    let ack = server
        .ask_customer(
            id,
            StartConversation {
                agent_id: staff.id,
                channel,
                queue,
                client_msg_id: body.client_msg_id,
                text: body.text,
                template: body.template,
            },
        )
        .await?;
    Ok(HttpResponse::Created().json(serde_json::json!({
        "customer_id": id,
        "conversation_id": ack.conversation_id,
        "event_id": ack.event_id,
        "duplicate": ack.duplicate,
    })))
}
