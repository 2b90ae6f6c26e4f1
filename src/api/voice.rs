//! The agents' browser softphone over REST: `POST /api/v1/voice/token` hands the
//! logged-in staff member a Twilio AccessToken for their own identity (their agent
//! id), with the voice grant of `[channels.voice.softphone]` — the token the Twilio
//! Voice JS SDK in the agent desktop connects with. Minted by the voice connector
//! (`channels::twilio_voice::access_token`); a token is never stored or logged.
//! docs/voice.md, "Phone calls".

use super::error::ApiError;
use super::extract::Staff;
use super::AppState;
use crate::domain::ErrorCode;
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
