//! A live phone call's controls over REST (docs/voice.md "Hold, consult and
//! listen-in"): the agent who holds a bridged call puts the caller on hold
//! (`POST /api/v1/voice/hold`), consults another agent while the caller waits
//! (`POST /api/v1/voice/consult`) and hands the call over
//! (`POST /api/v1/voice/consult/complete`) or not (`…/cancel`); a supervisor listens in
//! or whispers to the agent (`POST /api/v1/voice/listen`). The call moves into a
//! conference at the telephony platform (`channels::twilio_voice::room`); whom a leg
//! rings is the person's profile phone, else their softphone (`client:<id>`).

use super::error::ApiError;
use super::extract::Staff;
use super::voice::{caller_call, held};
use super::AppState;
use crate::channels::twilio_voice::{self as tv, RestError, RoomError};
use crate::domain::{AgentId, Channel, ConversationId, ConversationState, ErrorCode};
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

/// What `POST /api/v1/voice/hold` is asked.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldBody {
    #[schema(value_type = String)]
    pub conversation_id: ConversationId,
    /// On hold (music), or back.
    pub hold: bool,
}

/// The hold asked.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Held {
    #[schema(value_type = String)]
    pub conversation_id: ConversationId,
    pub hold: bool,
}

/// Put the caller of the phone call you hold on hold, or take them off it.
#[utoipa::path(post, path = "/api/v1/voice/hold", tag = "agents", operation_id = "voice_hold",
    security(("bearer" = [])),
    request_body = HoldBody,
    responses(
        (status = 202, description = "asked of the telephony platform", body = Held),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 409, response = ApiError),
        (status = 503, response = ApiError),
    )
)]
pub async fn hold(
    state: web::Data<AppState>,
    gateway: web::Data<crate::channels::Gateway>,
    staff: Staff,
    body: web::Json<HoldBody>,
) -> Result<HttpResponse, ApiError> {
    let (conv, caller) = live_call(&state, &staff, body.conversation_id).await?;
    tv::hold(&gateway, &conv, &staff.id, &caller, body.hold)
        .await
        .map_err(|e| room_error(conv.id, e))?;
    Ok(HttpResponse::Accepted().json(Held {
        conversation_id: conv.id,
        hold: body.hold,
    }))
}

/// What `POST /api/v1/voice/consult` is asked.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsultBody {
    #[schema(value_type = String)]
    pub conversation_id: ConversationId,
    /// The agent to consult: one who serves the conversation's queue.
    #[schema(value_type = String)]
    pub agent_id: AgentId,
}

/// A consult or hand-over under way.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Consulting {
    #[schema(value_type = String)]
    pub conversation_id: ConversationId,
    #[schema(value_type = String)]
    pub agent_id: AgentId,
}

/// Consult another agent on the phone call you hold: the caller is held, the agent rung.
#[utoipa::path(post, path = "/api/v1/voice/consult", tag = "agents", operation_id = "voice_consult",
    security(("bearer" = [])),
    request_body = ConsultBody,
    responses(
        (status = 202, description = "the caller is held and the agent rings", body = Consulting),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 409, response = ApiError),
        (status = 503, response = ApiError),
    )
)]
pub async fn consult(
    state: web::Data<AppState>,
    gateway: web::Data<crate::channels::Gateway>,
    staff: Staff,
    body: web::Json<ConsultBody>,
) -> Result<HttpResponse, ApiError> {
    let (conv, caller) = live_call(&state, &staff, body.conversation_id).await?;
    let other = &body.agent_id;
    if other == &staff.id {
        return Err(ApiError::invalid("you cannot consult yourself"));
    }
    let profile = state
        .server
        .store
        .agent(other)
        .await?
        .ok_or_else(|| ApiError::invalid(format!("no agent {other}")))?;
    if !profile.queues.contains(&conv.queue) {
        return Err(ApiError::invalid(format!(
            "agent {other} does not serve queue {}",
            conv.queue
        )));
    }
    let to = ring_at(&state, other, profile.phone)?;
    tv::consult(&gateway, &conv, &staff.id, &caller, other, &to)
        .await
        .map_err(|e| room_error(conv.id, e))?;
    Ok(HttpResponse::Accepted().json(Consulting {
        conversation_id: conv.id,
        agent_id: other.clone(),
    }))
}

/// Names a conversation.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallBody {
    #[schema(value_type = String)]
    pub conversation_id: ConversationId,
}

/// Hand the phone call over to the agent consulted (it is transferred to them).
#[utoipa::path(post, path = "/api/v1/voice/consult/complete", tag = "agents",
    operation_id = "voice_consult_complete",
    security(("bearer" = [])),
    request_body = CallBody,
    responses(
        (status = 202, description = "handed over; your leg leaves the call", body = Consulting),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 409, response = ApiError),
        (status = 503, response = ApiError),
    )
)]
pub async fn complete(
    state: web::Data<AppState>,
    gateway: web::Data<crate::channels::Gateway>,
    staff: Staff,
    body: web::Json<CallBody>,
) -> Result<HttpResponse, ApiError> {
    let conv = held(&state.server, &staff, body.conversation_id).await?;
    let to = tv::complete_consult(&gateway, &conv, &staff.id)
        .await
        .map_err(|e| room_error(conv.id, e))?;
    Ok(HttpResponse::Accepted().json(Consulting {
        conversation_id: conv.id,
        agent_id: to,
    }))
}

/// End the consult without a hand-over: the agent consulted leaves, the caller is back.
#[utoipa::path(post, path = "/api/v1/voice/consult/cancel", tag = "agents",
    operation_id = "voice_consult_cancel",
    security(("bearer" = [])),
    request_body = CallBody,
    responses(
        (status = 202, description = "the consult is over", body = Held),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 409, response = ApiError),
        (status = 503, response = ApiError),
    )
)]
pub async fn cancel(
    state: web::Data<AppState>,
    gateway: web::Data<crate::channels::Gateway>,
    staff: Staff,
    body: web::Json<CallBody>,
) -> Result<HttpResponse, ApiError> {
    let conv = held(&state.server, &staff, body.conversation_id).await?;
    tv::cancel_consult(&gateway, &conv, &staff.id)
        .await
        .map_err(|e| room_error(conv.id, e))?;
    Ok(HttpResponse::Accepted().json(Held {
        conversation_id: conv.id,
        hold: false,
    }))
}

/// What `POST /api/v1/voice/listen` is asked.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListenBody {
    #[schema(value_type = String)]
    pub conversation_id: ConversationId,
    /// Speak to the agent only (the caller does not hear); else listen, muted.
    #[serde(default)]
    pub whisper: bool,
}

/// Listen in on an agent's phone call, or whisper to the agent (supervisors).
#[utoipa::path(post, path = "/api/v1/voice/listen", tag = "supervisor", operation_id = "voice_listen",
    security(("bearer" = [])),
    request_body = ListenBody,
    responses(
        (status = 202, description = "your phone or softphone rings into the call", body = Consulting),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
        (status = 409, response = ApiError),
        (status = 503, response = ApiError),
    )
)]
pub async fn listen(
    state: web::Data<AppState>,
    gateway: web::Data<crate::channels::Gateway>,
    staff: Staff,
    body: web::Json<ListenBody>,
) -> Result<HttpResponse, ApiError> {
    staff.require_supervisor()?;
    let server = &state.server;
    let id = body.conversation_id;
    let conv = server
        .store
        .conversation(id)
        .await?
        .ok_or_else(|| ApiError::not_found("conversation"))?;
    let agent = match (&conv.agent, conv.channel, conv.state) {
        (Some(a), Channel::Voice, ConversationState::Assigned) => a.clone(),
        _ => {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                "no agent is on this call",
            ))
        }
    };
    if agent == staff.id {
        return Err(ApiError::invalid("this is your own call"));
    }
    let caller = caller_call(server, conv.customer_id, id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::Conflict, "this conversation has no phone call"))?;
    let phone = server.store.agent(&staff.id).await?.and_then(|p| p.phone);
    let to = ring_at(&state, &staff.id, phone)?;
    tv::listen(
        &gateway,
        &conv,
        &agent,
        &caller,
        &staff.id,
        &to,
        body.whisper,
    )
    .await
    .map_err(|e| room_error(id, e))?;
    Ok(HttpResponse::Accepted().json(Consulting {
        conversation_id: id,
        agent_id: agent,
    }))
}

/// The voice conversation `id` that `staff` holds and talks on, and its caller's call.
async fn live_call(
    state: &AppState,
    staff: &Staff,
    id: ConversationId,
) -> Result<(crate::domain::Conversation, String), ApiError> {
    let conv = held(&state.server, staff, id).await?;
    if conv.channel != Channel::Voice || conv.state != ConversationState::Assigned {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "this conversation has no live phone call",
        ));
    }
    let caller = caller_call(&state.server, conv.customer_id, id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::Conflict, "this conversation has no phone call"))?;
    Ok((conv, caller))
}

/// What rings `who` into a call: their profile's phone, else their softphone.
fn ring_at(state: &AppState, who: &AgentId, phone: Option<String>) -> Result<String, ApiError> {
    if let Some(p) = phone {
        return Ok(p);
    }
    if state.server.settings.channels.voice.softphone.configured() {
        return Ok(format!("client:{who}"));
    }
    Err(ApiError::new(
        ErrorCode::Conflict,
        format!("{who} can take no phone calls: no phone on the profile and no softphone"),
    ))
}

/// The answer to a room operation that was not done.
fn room_error(id: ConversationId, e: RoomError) -> ApiError {
    match e {
        RoomError::Conflict(why) => ApiError::new(ErrorCode::Conflict, why),
        RoomError::Engine(e) => e.into(),
        RoomError::Rest(RestError::NotConfigured) => ApiError::new(
            ErrorCode::Unavailable,
            "calls cannot be controlled: channels.voice.account_sid is not set",
        ),
        RoomError::Rest(RestError::Gone) => {
            ApiError::new(ErrorCode::Conflict, "the call is no longer on the line")
        }
        RoomError::Rest(RestError::Upstream(why)) => {
            tracing::warn!(conversation = %id, why, "a call could not be controlled");
            ApiError::new(
                ErrorCode::Unavailable,
                "the telephony platform did not do it; retry",
            )
        }
    }
}
