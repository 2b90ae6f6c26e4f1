//! The agents' browser softphone over REST: `POST /api/v1/voice/token` hands the
//! logged-in staff member a Twilio AccessToken for their own identity (their agent
//! id), with the voice grant of `[channels.voice.softphone]` — the token the Twilio
//! Voice JS SDK in the agent desktop connects with. Minted by the voice connector
//! (`channels::twilio_voice::access_token`); a token is never stored or logged.
//! docs/voice.md, "Phone calls".
//!
//! A phone call's recording: `GET /api/v1/conversations/{id}/recordings/{recording}`
//! plays it to staff who may read the conversation (`super::access`), streamed from
//! the telephony platform with the account's credentials
//! (`channels::twilio_voice::fetch_recording`); only a recording the conversation's
//! timeline holds as `call_recorded` `completed` is fetched, and every play is audited
//! (`recording_played`). docs/voice.md, "Recording".
//!
//! The agent's own phone: `POST /api/v1/voice/bridge` `{conversation_id}` rings the
//! phone of the agent's profile and connects the waiting caller of the voice
//! conversation the agent holds (`channels::twilio_voice::bridge_to_phone`); the
//! desktop sends it after accepting a phone call when the agent has no softphone.
//! `POST /api/v1/voice/call-out` `{conversation_id, to}` is a call out from a held
//! conversation with that phone as the first leg
//! (`channels::twilio_voice::call_out_via_phone`), and `GET /api/v1/voice/me` tells
//! the desktop which way its agent takes calls. docs/voice.md, "The agent's own
//! phone".

use super::error::ApiError;
use super::extract::Staff;
use super::AppState;
use crate::channels::twilio_voice::{
    bridge_to_phone, call_out_via_phone, fetch_recording, CallOutError, RestError,
};
use crate::domain::ErrorCode;
use crate::domain::{ConversationId, EventKind, RecordingStatus};
use crate::store::AuditEntry;
use actix_web::{web, HttpResponse};
use serde::Serialize;

/// A softphone token.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VoiceToken {
    /// The Twilio AccessToken (a JWT) for `Device` of the Voice JS SDK.
    pub token: String,
    /// The identity calls reach (`client:<identity>`): the agent id.
    pub identity: String,
    /// Unix seconds after which the token is refused; fetch a new one before.
    pub expires_at: u64,
}

/// A Twilio Voice access token for the logged-in staff member.
#[utoipa::path(post, path = "/api/v1/voice/token", tag = "agents", operation_id = "voice_token",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the token", body = VoiceToken),
        (status = 401, response = ApiError),
        (status = 503, response = ApiError),
    )
)]
pub async fn token(state: web::Data<AppState>, staff: Staff) -> Result<HttpResponse, ApiError> {
    let voice = &state.server.settings.channels.voice;
    let now_s = state.server.now().0.max(0) as u64 / 1000;
    let token = voice
        .enabled
        .then(|| {
            crate::channels::twilio_voice::access_token(&voice.softphone, staff.id.as_str(), now_s)
        })
        .flatten()
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::Unavailable,
                "the softphone is not configured ([channels.voice.softphone])",
            )
        })?;
    Ok(HttpResponse::Ok().json(VoiceToken {
        token,
        identity: staff.id.to_string(),
        expires_at: now_s + voice.softphone.token_ttl_s,
    }))
}

/// A phone call's recording, as MP3 (staff who may read the conversation; audited).
#[utoipa::path(get, path = "/api/v1/conversations/{id}/recordings/{recording}",
    tag = "conversations", operation_id = "play_recording",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "conversation id"),
        ("recording" = String, Path, description = "the recording id of a `call_recorded` event (`RE…`)"),
    ),
    responses(
        (status = 200, description = "the recording (`audio/mpeg`), streamed", content_type = "audio/mpeg"),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
        (status = 503, response = ApiError),
    )
)]
pub async fn recording(
    state: web::Data<AppState>,
    gateway: web::Data<crate::channels::Gateway>,
    staff: Staff,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, recording) = path.into_inner();
    let id = ConversationId::parse(&id).map_err(|_| ApiError::not_found("conversation"))?;
    let server = &state.server;
    let conv = super::access::readable_conversation(server, &staff, id).await?;
    if !recorded(server, conv.customer_id, id, &recording).await? {
        return Err(ApiError::not_found("recording"));
    }
    let resp = fetch_recording(&gateway, &recording)
        .await
        .map_err(|e| match e {
            RestError::NotConfigured => ApiError::new(
                ErrorCode::Unavailable,
                "recordings cannot be played: channels.voice.account_sid is not set",
            ),
            RestError::Gone => ApiError::not_found("recording"),
            RestError::Upstream(why) => {
                tracing::warn!(conversation = %id, recording, why, "a recording could not be fetched");
                ApiError::new(
                    ErrorCode::Unavailable,
                    "the telephony platform did not give the recording; retry",
                )
            }
        })?;
    server
        .store
        .append_audit(AuditEntry {
            id: crate::domain::EventId::new(),
            at: server.now(),
            actor: staff.id.clone(),
            action: "recording_played".into(),
            customer_id: Some(conv.customer_id),
            detail: serde_json::json!({"conversation_id": id, "recording_id": recording}),
        })
        .await?;
    let mut out = HttpResponse::Ok();
    out.content_type("audio/mpeg")
        .insert_header(("Cache-Control", "private, no-store"))
        .insert_header(("X-Content-Type-Options", "nosniff"));
    if let Some(len) = resp.content_length() {
        out.no_chunking(len);
    }
    Ok(out.streaming(resp.bytes_stream()))
}

/// Whether `customer`'s timeline holds recording `recording` of `conversation` as
/// completed.
async fn recorded(
    server: &crate::Server,
    customer: crate::domain::CustomerId,
    conversation: ConversationId,
    recording: &str,
) -> Result<bool, ApiError> {
    let found = super::access::find_event(server, customer, |e| {
        (e.conversation_id == Some(conversation)
            && matches!(&e.kind, EventKind::CallRecorded { recording_id, status, .. }
                if recording_id == recording && *status == RecordingStatus::Completed))
        .then_some(())
    })
    .await?;
    Ok(found.is_some())
}

/// What `POST /api/v1/voice/bridge` is asked.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BridgeBody {
    /// A voice conversation the caller holds, whose caller waits.
    #[schema(value_type = String)]
    pub conversation_id: ConversationId,
}

/// Where the call was sent.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Bridged {
    #[schema(value_type = String)]
    pub conversation_id: ConversationId,
    /// The agent's phone that now rings.
    pub phone: String,
}

/// How long the agent's phone rings before the caller goes back to the queue.
const AGENT_RING_S: u32 = 20;

/// Ring the agent's own phone and connect the waiting caller of a held voice call.
#[utoipa::path(post, path = "/api/v1/voice/bridge", tag = "agents", operation_id = "voice_bridge",
    security(("bearer" = [])),
    request_body = BridgeBody,
    responses(
        (status = 202, description = "the agent's phone rings", body = Bridged),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 409, response = ApiError),
        (status = 503, response = ApiError),
    )
)]
pub async fn bridge(
    state: web::Data<AppState>,
    gateway: web::Data<crate::channels::Gateway>,
    staff: Staff,
    body: web::Json<BridgeBody>,
) -> Result<HttpResponse, ApiError> {
    let server = &state.server;
    let id = body.conversation_id;
    let conv = held(server, &staff, id).await?;
    if conv.channel != crate::domain::Channel::Voice
        || conv.state != crate::domain::ConversationState::Assigned
    {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "this conversation has no caller waiting",
        ));
    }
    let phone = own_phone(server, &staff).await?;
    // Handed over to this agent in a conference: the caller is already with them.
    let room = crate::channels::twilio_voice::room::load(&gateway, id).await?;
    if room.is_some_and(|r| r.moved && r.agent == staff.id) {
        return Ok(HttpResponse::Accepted().json(Bridged {
            conversation_id: id,
            phone,
        }));
    }
    let call = caller_call(server, conv.customer_id, id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::Conflict, "this conversation has no phone call"))?;
    bridge_to_phone(&gateway, &conv, &call, &staff.id, &phone, AGENT_RING_S)
        .await
        .map_err(|e| match e {
            RestError::NotConfigured => ApiError::new(
                ErrorCode::Unavailable,
                "calls cannot be moved: channels.voice.account_sid is not set",
            ),
            RestError::Gone => ApiError::new(ErrorCode::Conflict, "the caller is no longer on the line"),
            RestError::Upstream(why) => {
                tracing::warn!(conversation = %id, why, "a call could not be moved to an agent's phone");
                ApiError::new(
                    ErrorCode::Unavailable,
                    "the telephony platform did not move the call; retry",
                )
            }
        })?;
    Ok(HttpResponse::Accepted().json(Bridged {
        conversation_id: id,
        phone,
    }))
}

/// The platform's id of the latest call of `conversation` (its `message_in` on voice).
pub(super) async fn caller_call(
    server: &crate::Server,
    customer: crate::domain::CustomerId,
    conversation: ConversationId,
) -> Result<Option<String>, ApiError> {
    super::access::find_event(server, customer, |e| match &e.kind {
        EventKind::MessageIn {
            channel: crate::domain::Channel::Voice,
            client_msg_id: Some(id),
            ..
        } if e.conversation_id == Some(conversation) => {
            switchboard_engine::tombstones::provider_id_of(crate::domain::Channel::Voice, id)
                .map(str::to_owned)
        }
        _ => None,
    })
    .await
}

/// How the logged-in staff member takes phone calls.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VoiceMe {
    /// The browser softphone is configured (`POST /voice/token` gives a token).
    pub softphone: bool,
    /// The phone of the profile: calls ring it instead of the softphone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Calls out can be placed (`channels.voice.caller_id` is set).
    pub calls_out: bool,
}

/// How the logged-in staff member takes phone calls.
#[utoipa::path(get, path = "/api/v1/voice/me", tag = "agents", operation_id = "voice_me",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "softphone, phone, calls out", body = VoiceMe),
        (status = 401, response = ApiError),
    )
)]
pub async fn me(state: web::Data<AppState>, staff: Staff) -> Result<HttpResponse, ApiError> {
    let voice = &state.server.settings.channels.voice;
    let phone = state
        .server
        .store
        .agent(&staff.id)
        .await?
        .and_then(|p| p.phone);
    Ok(HttpResponse::Ok().json(VoiceMe {
        softphone: voice.enabled && voice.softphone.configured(),
        phone: phone.filter(|_| voice.enabled),
        calls_out: voice.enabled && !voice.caller_id.is_empty(),
    }))
}

/// What `POST /api/v1/voice/call-out` is asked.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallOutBody {
    /// A conversation the caller holds.
    #[schema(value_type = String)]
    pub conversation_id: ConversationId,
    /// The number to call: one of the conversation's customer's phone numbers, or its
    /// pending callback's.
    pub to: String,
}

/// A call out placed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CalledOut {
    #[schema(value_type = String)]
    pub conversation_id: ConversationId,
    /// The agent's phone, rung first.
    pub phone: String,
    /// The number dialled once the agent answers (E.164).
    pub to: String,
}

/// Call a customer through the agent's own phone (it rings first).
#[utoipa::path(post, path = "/api/v1/voice/call-out", tag = "agents", operation_id = "voice_call_out",
    security(("bearer" = [])),
    request_body = CallOutBody,
    responses(
        (status = 202, description = "the agent's phone rings; the customer is dialled when it answers", body = CalledOut),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 409, response = ApiError),
        (status = 503, response = ApiError),
    )
)]
pub async fn call_out(
    state: web::Data<AppState>,
    gateway: web::Data<crate::channels::Gateway>,
    staff: Staff,
    body: web::Json<CallOutBody>,
) -> Result<HttpResponse, ApiError> {
    let server = &state.server;
    let body = body.into_inner();
    let id = body.conversation_id;
    let conv = held(server, &staff, id).await?;
    let phone = own_phone(server, &staff).await?;
    let to = call_out_via_phone(&gateway, &conv, &phone, &body.to, AGENT_RING_S)
        .await
        .map_err(|e| match e {
            CallOutError::Refused(why) => ApiError::invalid(format!("this number cannot be called: {why}")),
            CallOutError::Rest(RestError::NotConfigured) => ApiError::new(
                ErrorCode::Unavailable,
                "calls cannot be placed: channels.voice.account_sid is not set",
            ),
            CallOutError::Rest(e) => {
                tracing::warn!(conversation = %id, error = ?e, "a call out through an agent's phone failed");
                ApiError::new(
                    ErrorCode::Unavailable,
                    "the telephony platform did not place the call; retry",
                )
            }
        })?;
    Ok(HttpResponse::Accepted().json(CalledOut {
        conversation_id: id,
        phone,
        to,
    }))
}

/// Conversation `id`, when `staff` holds it now; else 403.
pub(super) async fn held(
    server: &crate::Server,
    staff: &Staff,
    id: ConversationId,
) -> Result<crate::domain::Conversation, ApiError> {
    server
        .store
        .conversation(id)
        .await?
        .filter(|c| c.agent.as_ref() == Some(&staff.id) && c.state.is_open())
        .ok_or_else(|| ApiError::forbidden("you do not hold this conversation"))
}

/// The phone of `staff`'s profile; 409 when it has none.
async fn own_phone(server: &crate::Server, staff: &Staff) -> Result<String, ApiError> {
    server
        .store
        .agent(&staff.id)
        .await?
        .and_then(|p| p.phone)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::Conflict,
                "your profile has no phone; take calls with the softphone",
            )
        })
}
