//! Moderating a customer's public post over REST: `POST /api/v1/conversations/{id}/
//! moderation` with `{event_id, action}` hides, shows again or deletes, at the
//! provider, the post a `message_in` event of the conversation recorded (a Page
//! comment, an X reply: docs/channels.md "Public comments and mentions"), then records
//! a `post_moderated` event in the timeline, which the holding agent sees at once.
//!
//! Who may: staff allowed to see the conversation's customer (`super::access`). The
//! event must be a `message_in` of this conversation on a public channel; what the
//! provider's API does not allow (deleting another account's X post) is 400; a
//! provider refusal is 409 with its answer, an unreachable provider 503. Nothing is
//! recorded unless the provider did it.

use super::error::ApiError;
use super::extract::Staff;
use super::AppState;
use crate::actors::messages::RecordEvents;
use crate::channels::registry::{self, ModerationError};
use crate::channels::Gateway;
use crate::domain::{ConversationId, ErrorCode, EventId, EventKind, Moderation, TimelineEvent};
use actix_web::{web, HttpResponse};
use serde::Deserialize;

/// The post to moderate and what to do.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModerationBody {
    /// The `message_in` event of the customer's post.
    pub event_id: String,
    /// `hide`, `unhide` or `delete`.
    #[schema(value_type = String)]
    pub action: Moderation,
}

/// Hides, shows again or deletes a customer's public post at the provider.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/moderation", tag = "conversations",
    operation_id = "moderate_post",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "conversation id")),
    request_body = ModerationBody,
    responses(
        (status = 200, description = "the `post_moderated` event recorded"),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
        (status = 409, response = ApiError),
        (status = 503, response = ApiError),
    )
)]
pub async fn moderate(
    state: web::Data<AppState>,
    gateway: web::Data<Gateway>,
    staff: Staff,
    path: web::Path<String>,
    body: web::Json<ModerationBody>,
) -> Result<HttpResponse, ApiError> {
    let server = &state.server;
    let conv_id = ConversationId::parse(&path)?;
    let conv = server
        .store
        .conversation(conv_id)
        .await?
        .ok_or_else(|| ApiError::not_found("conversation"))?;
    super::access::customer(server, &staff, conv.customer_id).await?;
    let event_id = EventId::parse(&body.event_id)?;
    let post = server
        .store
        .event(conv.customer_id, event_id)
        .await?
        .filter(|e| e.conversation_id == Some(conv_id))
        .ok_or_else(|| ApiError::not_found("event of this conversation"))?;
    let (channel, post_id) = match &post.kind {
        EventKind::MessageIn {
            channel,
            client_msg_id: Some(id),
            ..
        } if channel.private_channel().is_some() => (
            *channel,
            switchboard_engine::tombstones::provider_id_of(*channel, id)
                .ok_or_else(|| ApiError::invalid("the post's provider id is not stored"))?
                .to_owned(),
        ),
        _ => {
            return Err(ApiError::invalid(
                "only a customer's public post (a message on facebook_comments or \
                 x_mentions) is moderated",
            ))
        }
    };
    registry::moderate(
        &gateway,
        &gateway.api_client,
        channel,
        &post_id,
        body.action,
    )
    .await
    .map_err(|e| match e {
        ModerationError::Unsupported(m) => ApiError::invalid(m),
        ModerationError::Provider(f) if f.temporary => ApiError::new(
            ErrorCode::Unavailable,
            format!("the provider could not be reached: {}", f.detail),
        ),
        ModerationError::Provider(f) => ApiError::new(
            ErrorCode::Conflict,
            format!("the provider refused: {}", f.detail),
        ),
    })?;
    let ev = TimelineEvent::new(
        conv.customer_id,
        Some(conv_id),
        server.now(),
        EventKind::PostModerated {
            message_event_id: event_id,
            channel,
            action: body.action,
            agent_id: staff.id,
        },
    );
    server
        .ask_customer(
            conv.customer_id,
            RecordEvents {
                events: vec![ev.clone()],
                outbox_done: Vec::new(),
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(ev))
}
