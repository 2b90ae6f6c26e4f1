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

use super::error::ApiError;
use super::extract::Staff;
use super::AppState;
use crate::channels::twilio_voice::{fetch_recording, RecordingError};
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

/// Timeline events looked at for a recording (newest first) before it is not found.
const MAX_SCAN: usize = 20_000;
/// Events read per page while looking.
const PAGE: usize = 500;

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
            RecordingError::NotConfigured => ApiError::new(
                ErrorCode::Unavailable,
                "recordings cannot be played: channels.voice.account_sid is not set",
            ),
            RecordingError::NotFound => ApiError::not_found("recording"),
            RecordingError::Upstream(why) => {
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
    let mut before = None;
    let mut seen = 0;
    while seen < MAX_SCAN {
        let page = crate::actors::timeline::timeline(&server.store, customer, before, PAGE).await?;
        let found = page.iter().any(|e| {
            e.conversation_id == Some(conversation)
                && matches!(&e.kind, EventKind::CallRecorded { recording_id, status, .. }
                    if recording_id == recording && *status == RecordingStatus::Completed)
        });
        if found {
            return Ok(true);
        }
        seen += page.len();
        match page.last() {
            Some(last) if page.len() == PAGE => before = Some(last.id),
            _ => break,
        }
    }
    Ok(false)
}
