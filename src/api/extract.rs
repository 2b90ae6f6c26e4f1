//! Request extractors: the authenticated staff member (Bearer token) and parsed path ids.

use super::error::ApiError;
use super::AppState;
use crate::auth::Claims;
use crate::domain::{AgentId, Role};
use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use std::future::{ready, Ready};

/// A staff member authenticated by `Authorization: Bearer <token>`.
#[derive(Debug, Clone)]
pub struct Staff {
    pub id: AgentId,
    pub role: Role,
}

impl Staff {
    /// Supervisors and admins only.
    pub fn require_supervisor(&self) -> Result<(), ApiError> {
        match self.role {
            Role::Supervisor | Role::Admin => Ok(()),
            Role::Agent => Err(ApiError::unauthorized("supervisor or admin role required")),
        }
    }
}

impl FromRequest for Staff {
    type Error = ApiError;
    type Future = Ready<Result<Staff, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(staff_from(req))
    }
}

fn staff_from(req: &HttpRequest) -> Result<Staff, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::new(crate::ws::protocol::ErrorCode::Internal, "no state"))?;
    let header = req
        .headers()
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer token"))?;
    let token = header
        .strip_prefix("Bearer ")
        .ok_or_else(|| ApiError::unauthorized("expected a Bearer token"))?;
    match state.engine.tokens.verify(token, state.engine.now()) {
        Ok(Claims::Staff { sub, role, .. }) => Ok(Staff {
            id: AgentId::parse(&sub).map_err(|_| ApiError::unauthorized("bad token subject"))?,
            role,
        }),
        Ok(Claims::Visitor { .. }) => {
            Err(ApiError::unauthorized("visitor tokens cannot use this API"))
        }
        Err(e) => Err(ApiError::unauthorized(e.to_string())),
    }
}
