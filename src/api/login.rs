//! `POST /api/v1/login`: agent id + password -> signed staff token;
//! `POST /api/v1/logout`: revokes every token of the caller and closes its sockets.
//!
//! Logins are throttled per (account, client IP) and per client IP
//! (`crate::security::login_limit`; across the cluster in spread placement,
//! `crate::security::shared_logins`): past the configured failures a login answers 429
//! `rate_limited` with `Retry-After` before the password is checked. Many failures of
//! one account from every address raise an alarm (metric, warn log, audit entry) but
//! lock nothing.
//!
//! Every refused login (unknown id, wrong password, disabled account) does the same
//! argon2 work and gets the same answer, so neither the body nor the time it takes
//! tells which agent ids exist.

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

/// The client address logins are counted by: the TCP peer, or behind one of
/// `security.trusted_proxies` the address it forwarded (`security::client`).
fn client_ip(req: &HttpRequest, server: &crate::Server) -> String {
    crate::security::client::client_ip(req, &server.security.proxies)
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Log in; returns a bearer token.
///
/// Throttled per account and client address and per client address: past the
/// configured failures the answer is 429 `rate_limited` with `Retry-After`, before the
/// password is checked. Unknown ids, wrong passwords and disabled accounts get the same
/// 401 after the same password-hash work.
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
    if !server.settings.oidc.password_login {
        return Err(ApiError::forbidden(
            "password sign-in is turned off here: use single sign-on",
        ));
    }
    let limiter = &server.security;
    let ip = client_ip(&req, server);
    // Counted by the raw account name, so unknown or malformed names count too.
    let account: String = body.agent_id.chars().take(128).collect();
    if let Err(b) = limiter.login_check(&account, &ip, server.now()).await {
        tracing::info!(by = b.by, "login throttled");
        crate::metrics::login_throttled(b.by);
        return Err(ApiError::rate_limited(
            format!("too many failed logins; retry in {} s", b.retry_after_secs),
            b.retry_after_secs,
        ));
    }
    let fail = || async {
        if let Some(alarm) = limiter.login_failed(&account, &ip, server.now()).await {
            raise_alarm(server, &account, alarm).await;
        }
        denied()
    };
    if body.password.len() > 1024 {
        return Err(fail().await);
    }
    // An unknown or malformed id is checked against the dummy hash: the same work, in
    // the same pool, as a real account's check.
    let id = AgentId::parse(&body.agent_id).ok();
    let profile = match &id {
        Some(id) => server.store.agent(id).await?,
        None => None,
    };
    let password = body.password.clone();
    let checked = match &profile {
        Some(p) => {
            server
                .passwords
                .verify(password, p.password_hash.clone())
                .await
        }
        None => server.passwords.verify_unknown(password).await,
    };
    let ok =
        checked.map_err(|_| ApiError::new(crate::domain::ErrorCode::Internal, "hashing failed"))?;
    let (Some(id), Some(profile)) = (id, profile) else {
        return Err(fail().await);
    };
    if !ok || profile.disabled {
        tracing::info!("login refused");
        return Err(fail().await);
    }
    limiter.login_succeeded(&account, &ip).await;
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
    // Every sign-in is in the audit log (a sign-out is, as any staff request that may
    // change something: `audit_trail`).
    server
        .store
        .append_audit(crate::store::AuditEntry {
            id: crate::domain::EventId::new(),
            at: server.now(),
            actor: id.clone(),
            action: "login".into(),
            customer_id: None,
            detail: serde_json::json!({"from": ip, "role": profile.role}),
        })
        .await?;
    Ok(HttpResponse::Ok().json(LoginResponse {
        token,
        agent_id: id,
        role: profile.role,
        expires_at: exp,
    }))
}

/// The failures of `account` from every address reached
/// `security.login_alarm_failures_per_account` in this window: a metric, a warn log and
/// an audit entry (actor: the account under attack, when its name is a valid id).
/// Nothing is locked.
async fn raise_alarm(
    server: &crate::Server,
    account: &str,
    alarm: crate::security::login_limit::Alarm,
) {
    crate::metrics::login_alarm();
    tracing::warn!(
        account,
        failures = alarm.failures,
        "many failed logins for one account from all addresses"
    );
    let Ok(actor) = AgentId::parse(account) else {
        return;
    };
    let entry = crate::store::AuditEntry {
        id: crate::domain::EventId::new(),
        at: server.now(),
        actor,
        action: "login_failures_alarm".into(),
        customer_id: None,
        detail: serde_json::json!({
            "failures": alarm.failures,
            "window_ms": server.settings.security.login_window_ms,
        }),
    };
    if let Err(e) = server.store.append_audit(entry).await {
        tracing::warn!(error = %e, "login alarm not audited");
    }
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
