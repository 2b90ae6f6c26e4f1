//! Staff single sign-on routes (docs/sso.md): `GET /api/v1/auth/methods` (which
//! sign-ins the staff pages offer), `GET /api/v1/oidc/login` (starts a sign-in: the
//! browser goes to the provider with state, nonce and a PKCE challenge; the sign-in in
//! flight is sealed into an HttpOnly cookie, so whichever node the callback reaches can
//! finish it) and `GET /api/v1/oidc/callback` (the provider sends the browser back
//! with a code: it is redeemed, the ID token checked, the agent looked up and a staff
//! token issued with the role the IdP's groups map to).
//!
//! The callback always answers with a redirect to the staff page the sign-in started
//! from: on success with the session in the URL fragment (`#sso_token=…&agent_id=…&
//! role=…&expires_at=…`, never sent to a server; the page takes it and removes it from
//! the address bar), on refusal with `#sso_error={reason}` (`crate::oidc::Refusal`).
//! Every sign-in is audited (`login`, `detail.method = "oidc"`) and counted
//! (`switchboard_sso_logins_total{outcome}`). Both `oidc` routes take one of the client
//! address's anonymous budget (`anonymous.sso_requests_per_window`), since each may
//! call the provider.

use super::error::ApiError;
use super::AppState;
use crate::auth::Claims;
use crate::oidc::{self, Pending, Refusal, StaffClient};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

/// Takes one of the client address's single sign-on budget
/// (`anonymous.sso_requests_per_window`): 429 `rate_limited` past it.
fn take_budget(server: &crate::Server, req: &HttpRequest) -> Result<(), ApiError> {
    if let Some(ip) = crate::security::client::client_ip(req, &server.security.proxies) {
        server
            .budgets
            .take(crate::budget::Door::Sso, ip, server.now())
            .map_err(|r| ApiError::rate_limited(r.message(), r.retry_after_secs))?;
    }
    Ok(())
}

/// Longest sign-in cookie accepted, bytes.
const MAX_COOKIE: usize = 2048;
/// Longest `code` or `state` accepted from the provider's redirect, bytes.
const MAX_PARAM: usize = 4096;

/// The single sign-on the staff pages offer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SsoMethod {
    /// The button's label.
    pub label: String,
    /// Where the button goes (add `?client=supervisor` from the dashboard).
    pub login_url: String,
}

/// Which sign-ins are open.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuthMethods {
    /// Agent id + password (`POST /api/v1/login`).
    pub password: bool,
    /// Single sign-on with OpenID Connect, when configured.
    pub sso: Option<SsoMethod>,
}

/// Which sign-ins the staff pages offer. Public.
#[utoipa::path(get, path = "/api/v1/auth/methods", tag = "auth", operation_id = "auth_methods",
    responses((status = 200, description = "the sign-ins open", body = AuthMethods))
)]
pub async fn methods(state: web::Data<AppState>) -> HttpResponse {
    let s = &state.server.settings.oidc;
    HttpResponse::Ok().json(AuthMethods {
        password: s.password_login,
        sso: state.server.oidc.as_ref().map(|_| SsoMethod {
            label: s.label.clone(),
            login_url: "/api/v1/oidc/login".into(),
        }),
    })
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LoginQuery {
    /// The staff page to come back to: `agent` (default), `supervisor` or `admin`.
    #[param(value_type = Option<String>)]
    pub client: Option<StaffClient>,
}

/// The cookie that carries `value` for the callback (or clears it, `None`).
fn state_cookie(server: &crate::Server, value: Option<String>) -> Cookie<'static> {
    let s = &server.settings.oidc;
    let secure = s.redirect_url.starts_with("https://");
    let mut c = Cookie::build(oidc::COOKIE, value.clone().unwrap_or_default())
        .path("/api/v1/oidc")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .finish();
    match value {
        Some(_) => c.set_max_age(actix_web::cookie::time::Duration::milliseconds(
            s.state_ttl_ms as i64,
        )),
        None => c.make_removal(),
    }
    c
}

/// A redirect to `client`'s page with `fragment`, the sign-in cookie cleared.
fn back_to(server: &crate::Server, client: StaffClient, fragment: &str) -> HttpResponse {
    HttpResponse::Found()
        .insert_header(("location", format!("{}#{fragment}", client.path())))
        .insert_header(("cache-control", "no-store"))
        .insert_header(("referrer-policy", "no-referrer"))
        .cookie(state_cookie(server, None))
        .finish()
}

fn refused(server: &crate::Server, client: StaffClient, why: Refusal) -> HttpResponse {
    tracing::info!(reason = why.name(), "single sign-on refused");
    oidc::count(why.name());
    back_to(server, client, &format!("sso_error={}", why.name()))
}

/// Start a single sign-on: a redirect to the identity provider.
///
/// Sets the HttpOnly cookie `sb_oidc` (the sign-in in flight, sealed) and answers 302
/// to the provider's authorization endpoint (code flow, PKCE S256, `state`, `nonce`).
/// An unreachable provider sends the browser back with `#sso_error=provider_unavailable`.
#[utoipa::path(get, path = "/api/v1/oidc/login", tag = "auth", operation_id = "oidc_login", params(LoginQuery),
    responses(
        (status = 302, description = "to the provider, or back to the staff page with `#sso_error=…`"),
        (status = 400, response = ApiError),
        (status = 404, response = ApiError),
        (status = 429, response = ApiError),
    )
)]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<LoginQuery>,
) -> Result<HttpResponse, ApiError> {
    let server = &state.server;
    let Some(provider) = server.oidc.as_ref() else {
        return Err(ApiError::not_found("single sign-on"));
    };
    take_budget(server, &req)?;
    let client = q.client.unwrap_or(StaffClient::Agent);
    let exp = server.now().plus_ms(server.settings.oidc.state_ttl_ms);
    let pending = Pending::new(client, exp);
    let url = match provider.authorization_url(&pending).await {
        Ok(url) => url,
        Err(why) => return Ok(refused(server, client, why)),
    };
    let sealed = server.tokens.seal(
        oidc::SEAL_PURPOSE,
        &serde_json::to_vec(&pending).expect("a pending sign-in serialises"),
    );
    Ok(HttpResponse::Found()
        .insert_header(("location", url))
        .insert_header(("cache-control", "no-store"))
        .cookie(state_cookie(server, Some(sealed)))
        .finish())
}

/// What the provider's redirect carries (RFC 6749 4.1.2, RFC 9207 `iss`).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub iss: Option<String>,
}

/// The sign-in in flight, from the cookie: present, sealed by this cluster, unexpired.
fn pending(req: &HttpRequest, server: &crate::Server) -> Option<Pending> {
    let cookie = req.cookie(oidc::COOKIE)?;
    let raw = server
        .tokens
        .open(oidc::SEAL_PURPOSE, cookie.value(), MAX_COOKIE)?;
    let p: Pending = serde_json::from_slice(&raw).ok()?;
    (p.exp > server.now()).then_some(p)
}

/// The provider sends the browser back here.
///
/// Answers 302 to the staff page the sign-in started from: `#sso_token=…&agent_id=…&
/// role=…&expires_at=…` when signed in, `#sso_error={reason}` when refused (no sign-in
/// in flight or another `state`, the provider's error, an ID token that fails a check,
/// no agent account, a disabled account, no group mapped to a role).
#[utoipa::path(get, path = "/api/v1/oidc/callback", tag = "auth", operation_id = "oidc_callback", params(CallbackQuery),
    responses(
        (status = 302, description = "back to the staff page with the session or `#sso_error=…` in the fragment"),
        (status = 404, response = ApiError),
        (status = 429, response = ApiError),
    )
)]
pub async fn callback(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<CallbackQuery>,
) -> Result<HttpResponse, ApiError> {
    let server = &state.server;
    let Some(provider) = server.oidc.as_ref() else {
        return Err(ApiError::not_found("single sign-on"));
    };
    take_budget(server, &req)?;
    let pending = pending(&req, server);
    let client = pending.as_ref().map_or(StaffClient::Agent, |p| p.client);
    match finish(server, provider, &req, pending, &q).await {
        Ok(fragment) => {
            oidc::count("ok");
            Ok(back_to(server, client, &fragment))
        }
        Err(why) => Ok(refused(server, client, why)),
    }
}

/// Checks the redirect against the sign-in in flight, redeems the code, looks the
/// agent up and issues its token: the fragment the staff page signs in with.
async fn finish(
    server: &crate::Server,
    provider: &oidc::provider::Provider,
    req: &HttpRequest,
    pending: Option<Pending>,
    q: &CallbackQuery,
) -> Result<String, Refusal> {
    let s = &server.settings.oidc;
    let pending = pending.ok_or(Refusal::State)?;
    let state = q.state.as_deref().filter(|v| v.len() <= MAX_PARAM);
    if state != Some(pending.state.as_str()) {
        return Err(Refusal::State);
    }
    // RFC 9207: a provider that names itself must be the one configured (mix-up).
    if q.iss.as_deref().is_some_and(|iss| iss != s.issuer) {
        return Err(Refusal::Issuer);
    }
    if q.error.is_some() {
        return Err(Refusal::ProviderDenied);
    }
    let code = q
        .code
        .as_deref()
        .filter(|c| !c.is_empty() && c.len() <= MAX_PARAM)
        .ok_or(Refusal::ProviderDenied)?;
    let who = provider.redeem(code, &pending, server.now()).await?;
    let profile = server
        .store
        .agent(&who.agent)
        .await
        .map_err(|_| Refusal::Store)?
        .ok_or(Refusal::UnknownAgent)?;
    if profile.disabled {
        return Err(Refusal::Disabled);
    }
    let gen = server
        .security
        .revocations
        .generation(&server.store, &who.agent)
        .await
        .map_err(|_| Refusal::Store)?;
    let exp = server
        .now()
        .plus_ms(server.settings.timing.agent_token_ttl_ms);
    let token = server.tokens.sign(&Claims::Staff {
        sub: who.agent.to_string(),
        role: who.role,
        exp,
        gen,
    });
    let from = crate::security::client::client_ip(req, &server.security.proxies)
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "unknown".into());
    server
        .store
        .append_audit(crate::store::AuditEntry {
            id: crate::domain::EventId::new(),
            at: server.now(),
            actor: who.agent.clone(),
            action: "login".into(),
            customer_id: None,
            detail: serde_json::json!({
                "from": from, "role": who.role, "method": "oidc",
                "issuer": s.issuer, "sub": who.sub,
            }),
        })
        .await
        .map_err(|_| Refusal::Store)?;
    let role = serde_json::to_value(who.role)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    Ok(serde_urlencoded::to_string([
        ("sso_token", token),
        ("agent_id", who.agent.to_string()),
        ("role", role),
        ("expires_at", exp.0.to_string()),
    ])
    .expect("strings encode"))
}
