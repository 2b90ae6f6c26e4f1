//! Websocket upgrade routes. The handshake authenticates (token in the `token` query
//! parameter, since browsers cannot set headers on websockets) before any actor starts;
//! a bad token is a 401 and no upgrade.

use super::error::ApiError;
use super::AppState;
use crate::auth::Claims;
use crate::domain::{AgentId, Channel, CustomerId, IdentityKey};
use crate::ws::{agent_session::AgentSession, chat_session::ChatSession};
use actix_web::{web, HttpRequest, HttpResponse};
use actix_web_actors::ws;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct TokenQuery {
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

pub async fn agent_ws(
    req: HttpRequest,
    stream: web::Payload,
    state: web::Data<AppState>,
    q: web::Query<TokenQuery>,
) -> Result<HttpResponse, actix_web::Error> {
    let engine = &state.engine;
    let token = q
        .token
        .as_deref()
        .ok_or_else(|| ApiError::unauthorized("missing token"))?;
    let agent_id = match engine.tokens.verify(token, engine.now()) {
        Ok(Claims::Staff { sub, .. }) => {
            AgentId::parse(&sub).map_err(|_| ApiError::unauthorized("bad token subject"))?
        }
        Ok(_) => return Err(ApiError::unauthorized("not a staff token").into()),
        Err(e) => return Err(ApiError::unauthorized(e.to_string()).into()),
    };
    let profile = engine
        .store
        .agent(&agent_id)
        .await
        .map_err(ApiError::from)?
        .filter(|p| !p.disabled)
        .ok_or_else(|| ApiError::unauthorized("agent unknown or disabled"))?;
    let agent = engine.agent_or_start(profile);
    let session = AgentSession::new(
        agent,
        engine.next_session_id(),
        &engine.settings,
        engine.drain_signal(),
    );
    ws::WsResponseBuilder::new(session, &req, stream)
        .frame_size(frame_cap(engine.settings.limits.max_ws_message_bytes))
        .start()
}

pub async fn chat_ws(
    req: HttpRequest,
    stream: web::Payload,
    state: web::Data<AppState>,
    q: web::Query<TokenQuery>,
) -> Result<HttpResponse, actix_web::Error> {
    let engine = &state.engine;
    let login = match q.login.as_deref().filter(|t| !t.is_empty()) {
        Some(jwt) => Some(
            crate::channels::login::verify(
                &engine.settings.channels.login_secret,
                jwt,
                engine.now(),
            )
            .map_err(|e| ApiError::unauthorized(e.to_string()))?,
        ),
        None => None,
    };
    let (customer, address, token) = match q.token.as_deref().filter(|t| !t.is_empty()) {
        _ if login.is_some() => login_visitor(engine, login.as_ref()).await?,
        Some(t) => match engine.tokens.verify(t, engine.now()) {
            Ok(Claims::Visitor {
                customer, address, ..
            }) => {
                let id = CustomerId::parse(&customer)
                    .map_err(|_| ApiError::unauthorized("bad visitor token"))?;
                (survivor_of(engine, id).await?, address, t.to_owned())
            }
            Ok(_) => return Err(ApiError::unauthorized("not a visitor token").into()),
            Err(e) => return Err(ApiError::unauthorized(e.to_string()).into()),
        },
        None => {
            // A new visitor: an unguessable chat address, a customer, a signed token.
            let address = format!("v-{}", uuid::Uuid::new_v4().simple());
            let key = IdentityKey::parse(Channel::Chat, &address).map_err(ApiError::from)?;
            let (id, _) = engine
                .resolve_identity(&key)
                .await
                .map_err(ApiError::from)?;
            let token = engine.tokens.sign(&Claims::Visitor {
                customer: id.to_string(),
                address: address.clone(),
                exp: engine
                    .now()
                    .plus_ms(engine.settings.timing.visitor_token_ttl_ms),
            });
            (id, address, token)
        }
    };
    let session = ChatSession::new(engine.clone(), customer, address, token);
    ws::WsResponseBuilder::new(session, &req, stream)
        .frame_size(frame_cap(engine.settings.limits.max_ws_message_bytes))
        .start()
}

/// A visitor proven by a login token: the customer the token leads to, a fresh chat
/// address linked to them, and a visitor token for reconnecting.
async fn login_visitor(
    engine: &crate::actors::Engine,
    claims: Option<&crate::channels::login::LoginClaims>,
) -> Result<(CustomerId, String, String), ApiError> {
    let claims = claims.ok_or_else(|| ApiError::unauthorized("missing login token"))?;
    let id = engine.resolve_login(claims).await?;
    let address = format!("v-{}", uuid::Uuid::new_v4().simple());
    let key = IdentityKey::parse(Channel::Chat, &address)?;
    engine.link_identity(id, key, None, "login_token").await?;
    let token = engine.tokens.sign(&Claims::Visitor {
        customer: id.to_string(),
        address: address.clone(),
        exp: engine
            .now()
            .plus_ms(engine.settings.timing.visitor_token_ttl_ms),
    });
    Ok((id, address, token))
}

/// The customer `id` reads as now: the survivor if it was merged (a visitor token made
/// before a merge keeps working).
async fn survivor_of(
    engine: &crate::actors::Engine,
    mut id: CustomerId,
) -> Result<CustomerId, ApiError> {
    for _ in 0..8 {
        match engine.store.customer(id).await?.and_then(|c| c.merged_into) {
            Some(next) => id = next,
            None => break,
        }
    }
    Ok(id)
}
