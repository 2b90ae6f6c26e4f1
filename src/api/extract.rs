//! Request extractors: the authenticated staff member (Bearer token) and parsed path ids.
//!
//! A staff token is accepted only if its signature is good, it has not expired and its
//! generation is the agent's current one (not revoked by logout, disabling or a role
//! change). Failing any of these is 401 `unauthorized`; a valid token whose role is
//! too low is 403 `forbidden` (see [`Staff::require_supervisor`], [`Staff::require_admin`]).

use super::error::ApiError;
use super::AppState;
use crate::auth::Claims;
use crate::domain::{AgentId, Millis, Role};
use crate::Server;
use actix_web::{dev::Payload, web, FromRequest, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;

/// A staff member authenticated by `Authorization: Bearer <token>`.
#[derive(Debug, Clone)]
pub struct Staff {
    pub id: AgentId,
    pub role: Role,
    /// When the token expires (sockets close then).
    pub exp: Millis,
    /// The token generation it carries (sockets close when it is revoked).
    pub gen: u64,
}

impl Staff {
    /// Supervisors and admins only.
    pub fn require_supervisor(&self) -> Result<(), ApiError> {
        match self.role {
            Role::Supervisor | Role::Admin => Ok(()),
            Role::Agent => Err(ApiError::forbidden("supervisor or admin role required")),
        }
    }

    /// Admins only.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        match self.role {
            Role::Admin => Ok(()),
            _ => Err(ApiError::forbidden("admin role required")),
        }
    }

    /// Supervisors and admins see every customer and conversation.
    pub fn sees_everything(&self) -> bool {
        matches!(self.role, Role::Supervisor | Role::Admin)
    }
}

impl FromRequest for Staff {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Staff, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let server = req
            .app_data::<web::Data<AppState>>()
            .map(|s| s.server.clone());
        let token = bearer(req).map(str::to_owned);
        let req = req.clone();
        Box::pin(async move {
            let server = server
                .ok_or_else(|| ApiError::new(crate::domain::ErrorCode::Internal, "no state"))?;
            let staff = staff_from_token(&server, &token?).await?;
            // Who asked, for the audit trail of the request (`audit_trail`).
            req.extensions_mut().insert(staff.clone());
            Ok(staff)
        })
    }
}

/// The `Authorization: Bearer` token of `req` (staff or visitor; not yet verified).
pub fn bearer_token(req: &HttpRequest) -> Result<&str, ApiError> {
    bearer(req)
}

fn bearer(req: &HttpRequest) -> Result<&str, ApiError> {
    let header = req
        .headers()
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer token"))?;
    header
        .strip_prefix("Bearer ")
        .ok_or_else(|| ApiError::unauthorized("expected a Bearer token"))
}

/// Verifies a staff token (REST header or websocket `token` parameter): signature,
/// expiry, and that it was not revoked.
pub async fn staff_from_token(server: &Server, token: &str) -> Result<Staff, ApiError> {
    match server.tokens.verify(token, server.now()) {
        Ok(Claims::Staff {
            sub,
            role,
            exp,
            gen,
            ..
        }) => {
            let id =
                AgentId::parse(&sub).map_err(|_| ApiError::unauthorized("bad token subject"))?;
            let current = server
                .security
                .revocations
                .generation(&server.store, &id)
                .await?;
            if gen != current {
                return Err(ApiError::unauthorized("token revoked"));
            }
            Ok(Staff { id, role, exp, gen })
        }
        Ok(Claims::Visitor { .. }) => {
            Err(ApiError::unauthorized("visitor tokens cannot use this API"))
        }
        Err(e) => Err(ApiError::unauthorized(e.to_string())),
    }
}
