//! `POST /api/v1/login`: agent id + password -> signed staff token;
//! `POST /api/v1/logout`: revokes every token of the caller and closes its sockets.
//!
//! Logins are throttled per account and per client IP (`crate::security::login_limit`):
//! past the configured failures a login answers 429 `rate_limited` with `Retry-After`
//! before the password is checked.

use super::error::ApiError;
use super::extract::Staff;
use super::AppState;
use crate::auth::Claims;
use crate::domain::{AgentId, Role};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub agent_id: String,
    pub password: String,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LoginResponse {
    /// The bearer token for `Authorization: Bearer` and the websockets' `token`.
    pub token: String,
    #[schema(value_type = String)]
    pub agent_id: AgentId,
    #[schema(value_type = super::openapi::schema::RoleName, inline)]
    pub role: Role,
    /// When the token expires, UTC milliseconds.
    #[schema(value_type = i64)]
    pub expires_at: crate::domain::Millis,
}

/// The client address logins are counted by: the TCP peer (a proxy in front should be
/// given its own limits; forwarded headers are not trusted).
fn client_ip(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Log in; returns a bearer token.
///
/// Throttled per account and per client address: past the configured failures the
/// answer is 429 `rate_limited` with `Retry-After`, before the password is checked.
#[utoipa::path(post, path = "/api/v1/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "token, agent_id, role, expires_at", body = LoginResponse),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 429, response = ApiError),
    )
)]
#[tracing::instrument(skip(state, req, body), fields(agent = %body.agent_id))]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let denied = || ApiError::unauthorized("unknown agent or wrong password");
    let server = &state.server;
    let limiter = &server.security.logins;
    let ip = client_ip(&req);
    // Counted by the raw account name, so unknown or malformed names count too.
    let account: String = body.agent_id.chars().take(128).collect();
    if let Err(b) = limiter.check(&account, &ip, server.now()) {
        tracing::info!(by = b.by, "login throttled");
        crate::metrics::login_throttled(b.by);
        return Err(ApiError::rate_limited(
            format!("too many failed logins; retry in {} s", b.retry_after_secs),
            b.retry_after_secs,
        ));
    }
    let fail = || {
        limiter.failed(&account, &ip, server.now());
        denied()
    };
    let id = AgentId::parse(&body.agent_id).map_err(|_| fail())?;
    if body.password.len() > 1024 {
        return Err(fail());
    }
    let Some(profile) = server.store.agent(&id).await? else {
        return Err(fail());
    };
    let password = body.password.clone();
    let hash = profile.password_hash.clone();
    let ok = server
        .passwords
        .verify(password, hash)
        .await
        .map_err(|_| ApiError::new(crate::domain::ErrorCode::Internal, "hashing failed"))?;
    if !ok || profile.disabled {
        tracing::info!("login refused");
        return Err(fail());
    }
    limiter.succeeded(&account);
    let gen = server
        .security
        .revocations
        .generation(&server.store, &id)
        .await?;
    let exp = server
        .now()
        .plus_ms(server.settings.timing.agent_token_ttl_ms);
    let token = server.tokens.sign(&Claims::Staff {
        sub: id.to_string(),
        role: profile.role,
        exp,
        gen,
    });
    Ok(HttpResponse::Ok().json(LoginResponse {
        token,
        agent_id: id,
        role: profile.role,
        expires_at: exp,
    }))
}

/// Revoke every token of the caller and close its sockets (code 4001).
#[utoipa::path(post, path = "/api/v1/logout", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 204, description = "logged out"),
        (status = 401, response = ApiError),
    )
)]
#[tracing::instrument(skip_all, fields(agent = %staff.id))]
pub async fn logout(state: web::Data<AppState>, staff: Staff) -> Result<HttpResponse, ApiError> {
    let server = &state.server;
    server
        .security
        .revocations
        .revoke(&server.store, &staff.id, "logged out")
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
