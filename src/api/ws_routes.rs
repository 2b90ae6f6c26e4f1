//! Websocket upgrade routes. The handshake authenticates (token in the `token` query
//! parameter, since browsers cannot set headers on websockets) before any actor starts;
//! a bad token is a 401 and no upgrade. A browser `Origin` outside the allow-list
//! (`crate::security::origin`) is a 403 before anything else. `/ws/chat` then takes
//! its client address's budgets (`crate::budget`): a socket open, a socket slot, and
//! for a new visitor a visitor; over budget is a 429 and nothing is created.

use super::error::ApiError;
use super::AppState;
use crate::auth::Claims;
use crate::budget::Door;
use crate::domain::{Channel, CustomerId, IdentityKey};
use crate::security::revocation::TokenWatch;
use crate::ws::{
    agent_session::AgentSession, chat_session::ChatSession, supervisor_session::SupervisorSession,
};
use actix_web::{web, HttpRequest, HttpResponse};
use actix_web_actors::ws;
use serde::Deserialize;

/// The query of `/ws/agent` and `/ws/chat`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenQuery {
    /// `/ws/agent`: the staff token (required). `/ws/chat`: the visitor token of an
    /// earlier chat (optional; without one a new visitor gets one).
    pub token: Option<String>,
    /// Web chat only: a login token (JWT) signed by the company's website.
    #[serde(default)]
    pub login: Option<String>,
}

/// Websocket frames may exceed the message limit a little, so an oversize message can
/// be answered with a typed `too_large` error instead of a dropped connection; frames
/// beyond this hard cap close the socket (1009).
fn frame_cap(max_message: usize) -> usize {
    max_message.saturating_mul(2).max(128 * 1024)
}

/// Refuses (403 `forbidden`) a handshake whose `Origin` is not allowed. Every
/// websocket route calls this first.
pub fn check_origin(req: &HttpRequest, server: &crate::Server) -> Result<(), ApiError> {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    if crate::security::origin::allowed(&server.settings.security, header("origin"), header("host"))
    {
        Ok(())
    } else {
        crate::metrics::ws_refused("origin");
        tracing::info!(path = req.path(), "websocket origin refused");
        Err(ApiError::forbidden("origin not allowed"))
    }
}

/// The handshake of every staff socket, before any upgrade: the browser origin, then a
/// valid, unrevoked staff token (`?token=`) of an agent that exists and is not
/// disabled. Returns the token's claims and the agent's profile.
async fn staff_handshake(
    req: &HttpRequest,
    server: &crate::Server,
    token: Option<&str>,
) -> Result<(super::extract::Staff, crate::domain::AgentProfile), ApiError> {
    check_origin(req, server)?;
    let token = token.ok_or_else(|| ApiError::unauthorized("missing token"))?;
    let staff = super::extract::staff_from_token(server, token).await?;
    let profile = server
        .store
        .agent(&staff.id)
        .await
        .map_err(ApiError::from)?
        .filter(|p| !p.disabled)
        .ok_or_else(|| ApiError::unauthorized("agent unknown or disabled"))?;
    Ok((staff, profile))
}

/// Agent websocket (staff token in the `token` query parameter).
///
/// The agent desktop's socket; see docs/protocol.md.
#[utoipa::path(get, path = "/ws/agent", tag = "websockets", params(TokenQuery),
    responses(
        (status = 101, description = "upgrade"),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
    )
)]
pub async fn agent_ws(
    req: HttpRequest,
    stream: web::Payload,
    state: web::Data<AppState>,
    q: web::Query<TokenQuery>,
) -> Result<HttpResponse, actix_web::Error> {
    let server = &state.server;
    let (staff, profile) = staff_handshake(&req, server, q.token.as_deref()).await?;
    let agent_id = staff.id.clone();
    let agent = server.start_agent(profile).await.map_err(ApiError::from)?;
    let session = AgentSession::new(
        agent,
        server.new_session(),
        server,
        TokenWatch {
            agent_id,
            exp: staff.exp,
            gen: staff.gen,
        },
        server.drain_signal(),
    );
    ws::WsResponseBuilder::new(session, &req, stream)
        .frame_size(frame_cap(server.settings.limits.max_ws_message_bytes))
        .start()
}

/// Customer web-chat websocket (optional visitor token).
///
/// See docs/protocol.md; a `login` token signed by the company's website links the
/// chat to the customer it names.
#[utoipa::path(get, path = "/ws/chat", tag = "websockets", params(TokenQuery),
    responses(
        (status = 101, description = "upgrade"),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
    )
)]
pub async fn chat_ws(
    req: HttpRequest,
    stream: web::Payload,
    state: web::Data<AppState>,
    q: web::Query<TokenQuery>,
) -> Result<HttpResponse, actix_web::Error> {
    let server = &state.server;
    check_origin(&req, server)?;
    // The anonymous door's budgets (docs/security.md, "Anonymous doors"), before any
    // token is read or anything is created.
    let ip = crate::security::client::client_ip(&req, &server.security.proxies);
    let budgets = &server.budgets;
    let permit = match ip {
        Some(ip) => {
            budgets
                .take(Door::ChatOpen, ip, server.now())
                .map_err(refused)?;
            Some(budgets.open_socket(ip, server.now()).map_err(refused)?)
        }
        None => None,
    };
    let login = match q.login.as_deref().filter(|t| !t.is_empty()) {
        Some(jwt) => Some(
            crate::channels::login::verify(
                &server.settings.channels.login_secret,
                jwt,
                server.now(),
            )
            .map_err(|e| ApiError::unauthorized(e.to_string()))?,
        ),
        None => None,
    };
    let (customer, address, token) = match q.token.as_deref().filter(|t| !t.is_empty()) {
        _ if login.is_some() => login_visitor(server, login.as_ref()).await?,
        Some(t) => match server.tokens.verify(t, server.now()) {
            Ok(Claims::Visitor {
                customer, address, ..
            }) => {
                let id = CustomerId::parse(&customer)
                    .map_err(|_| ApiError::unauthorized("bad visitor token"))?;
                let id = survivor_of(server, id).await?;
                // An erased customer's visitor tokens open nothing.
                if server.is_erased(id).await.map_err(ApiError::from)? {
                    return Err(
                        ApiError::unauthorized("visitor token of an erased customer").into(),
                    );
                }
                (id, address, t.to_owned())
            }
            Ok(_) => return Err(ApiError::unauthorized("not a visitor token").into()),
            Err(e) => return Err(ApiError::unauthorized(e.to_string()).into()),
        },
        None => {
            if let Some(ip) = ip {
                budgets
                    .take(Door::Visitor, ip, server.now())
                    .map_err(refused)?;
            }
            // A new visitor: an unguessable chat address, a customer, a signed token.
            let address = format!("v-{}", uuid::Uuid::new_v4().simple());
            let key = IdentityKey::parse(Channel::Chat, &address).map_err(ApiError::from)?;
            let (id, _) = server
                .resolve_identity(&key)
                .await
                .map_err(ApiError::from)?;
            let token = server.tokens.sign(&Claims::Visitor {
                customer: id.to_string(),
                address: address.clone(),
                exp: server
                    .now()
                    .plus_ms(server.settings.timing.visitor_token_ttl_ms),
            });
            (id, address, token)
        }
    };
    let session = ChatSession::new(server.clone(), customer, address, token, ip, permit);
    ws::WsResponseBuilder::new(session, &req, stream)
        .frame_size(frame_cap(server.settings.limits.max_ws_message_bytes))
        .start()
}

/// A refused anonymous budget: 429 `rate_limited` with `Retry-After`.
fn refused(r: crate::budget::Refused) -> ApiError {
    tracing::info!(
        door = r.door.as_str(),
        "anonymous door refused an address over budget"
    );
    ApiError::rate_limited(r.message(), r.retry_after_secs)
}

/// A visitor proven by a login token: the customer the token leads to, a fresh chat
/// address linked to them, and a visitor token for reconnecting.
async fn login_visitor(
    server: &crate::Server,
    claims: Option<&crate::channels::login::LoginClaims>,
) -> Result<(CustomerId, String, String), ApiError> {
    let claims = claims.ok_or_else(|| ApiError::unauthorized("missing login token"))?;
    let id = server.resolve_login(claims).await?;
    let address = format!("v-{}", uuid::Uuid::new_v4().simple());
    let key = IdentityKey::parse(Channel::Chat, &address)?;
    server.link_identity(id, key, None, "login_token").await?;
    let token = server.tokens.sign(&Claims::Visitor {
        customer: id.to_string(),
        address: address.clone(),
        exp: server
            .now()
            .plus_ms(server.settings.timing.visitor_token_ttl_ms),
    });
    Ok((id, address, token))
}

/// The customer `id` reads as now: the survivor if it was merged (a visitor token made
/// before a merge keeps working).
pub(super) async fn survivor_of(
    server: &crate::Server,
    mut id: CustomerId,
) -> Result<CustomerId, ApiError> {
    for _ in 0..8 {
        match server.store.customer(id).await?.and_then(|c| c.merged_into) {
            Some(next) => id = next,
            None => break,
        }
    }
    Ok(id)
}

/// The query of `/ws/supervisor`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SupervisorQuery {
    /// The staff token (supervisor or admin).
    pub token: Option<String>,
    /// Comma-separated queue names to watch (default: every queue).
    #[serde(default)]
    pub queues: Option<String>,
}

/// Supervisor live-metrics websocket (supervisor or admin role).
///
/// The same staff-token handshake as `/ws/agent`, then the supervisor or admin role is
/// required; agents are refused before any upgrade. See docs/protocol.md.
#[utoipa::path(get, path = "/ws/supervisor", tag = "websockets", params(SupervisorQuery),
    responses(
        (status = 101, description = "upgrade"),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 503, response = ApiError),
    )
)]
pub async fn supervisor_ws(
    req: HttpRequest,
    stream: web::Payload,
    state: web::Data<AppState>,
    q: web::Query<SupervisorQuery>,
) -> Result<HttpResponse, actix_web::Error> {
    use std::sync::atomic::Ordering;
    let server = &state.server;
    let (staff, _) = staff_handshake(&req, server, q.token.as_deref()).await?;
    staff.require_supervisor()?;
    let queues = match q.queues.as_deref().filter(|s| !s.is_empty()) {
        Some(list) => {
            let names = list
                .split(',')
                .map(crate::domain::QueueName::parse)
                .collect::<Result<Vec<_>, _>>()
                .map_err(ApiError::from)?;
            Some(
                crate::ws::supervisor_session::queue_set(names)
                    .map_err(|e| ApiError::new(e.code, e.message))?,
            )
        }
        None => None,
    };
    // In a cluster the hub runs on the node holding its key.
    if server.hub().is_none() && server.cluster().is_none() {
        return Err(ApiError::new(
            crate::domain::ErrorCode::Unavailable,
            "live hub not running",
        )
        .into());
    }
    // Counted by the sessions themselves (start / stop); a burst of handshakes may
    // pass the limit by the few in flight.
    let max = server.settings.limits.max_supervisors;
    if server.supervisor_sockets.load(Ordering::Relaxed) >= max {
        return Err(ApiError::new(
            crate::domain::ErrorCode::Unavailable,
            format!("at most {max} supervisor sockets"),
        )
        .into());
    }
    let watch = TokenWatch {
        agent_id: staff.id.clone(),
        exp: staff.exp,
        gen: staff.gen,
    };
    let session = SupervisorSession::new(server.clone(), staff.id, queues, watch);
    ws::WsResponseBuilder::new(session, &req, stream)
        .frame_size(frame_cap(server.settings.limits.max_ws_message_bytes))
        .start()
}
