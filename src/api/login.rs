//! `POST /api/v1/login`: agent id + password -> signed staff token.

use super::error::ApiError;
use super::AppState;
use crate::auth::Claims;
use crate::domain::{AgentId, Role};
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub agent_id: String,
    pub password: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct LoginResponse {
    pub token: String,
    pub agent_id: AgentId,
    pub role: Role,
    pub expires_at: crate::domain::Millis,
}

#[tracing::instrument(skip(state, body), fields(agent = %body.agent_id))]
pub async fn login(
    state: web::Data<AppState>,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let denied = || ApiError::unauthorized("unknown agent or wrong password");
    let id = AgentId::parse(&body.agent_id).map_err(|_| denied())?;
    if body.password.len() > 1024 {
        return Err(denied());
    }
    let engine = &state.engine;
    let profile = engine.store.agent(&id).await?.ok_or_else(denied)?;
    let password = body.password.clone();
    let hash = profile.password_hash.clone();
    let ok =
        engine.passwords.verify(password, hash).await.map_err(|_| {
            ApiError::new(crate::ws::protocol::ErrorCode::Internal, "hashing failed")
        })?;
    if !ok || profile.disabled {
        tracing::info!("login refused");
        return Err(denied());
    }
    let exp = engine
        .now()
        .plus_ms(engine.settings.timing.agent_token_ttl_ms);
    let token = engine.tokens.sign(&Claims::Staff {
        sub: id.to_string(),
        role: profile.role,
        exp,
    });
    Ok(HttpResponse::Ok().json(LoginResponse {
        token,
        agent_id: id,
        role: profile.role,
        expires_at: exp,
    }))
}
