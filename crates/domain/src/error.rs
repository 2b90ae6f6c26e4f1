//! Errors every layer shares: the stable, machine-readable [`ErrorCode`] (the `code`
//! of a websocket `error` frame and of a REST error body) and [`EngineError`], what the
//! engine answers when it refuses something. The edges map a code to an HTTP status.

use serde::{Deserialize, Serialize};

/// Why something was refused, as clients see it. Stable: clients match on it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadJson,
    UnknownType,
    TooLarge,
    Invalid,
    NotFound,
    NotYours,
    OfferNotFound,
    QueueFull,
    /// The engine is saturated (its store's write queue is full): nothing was stored;
    /// retry the same message (same client id) after a short wait.
    Busy,
    Unavailable,
    Unauthorized,
    /// Authenticated, but the role or ownership does not allow this (403).
    Forbidden,
    RateLimited,
    /// The request conflicts with current state (an identity owned by another
    /// customer, a merge that cannot be applied).
    Conflict,
    Internal,
}

/// Engine-level error, mapped to a websocket error code or an HTTP status at the edge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct EngineError {
    pub code: ErrorCode,
    pub message: String,
    /// The event the error is about: for `conflict` on a reused id, the event the id
    /// was first applied as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<crate::EventId>,
}

impl EngineError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            event_id: None,
        }
    }
    /// The same error, about `event`.
    pub fn with_event(mut self, event: crate::EventId) -> Self {
        self.event_id = Some(event);
        self
    }
    pub fn unavailable(e: impl std::fmt::Display) -> Self {
        Self::new(ErrorCode::Unavailable, format!("store unavailable: {e}"))
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }
    pub fn not_yours() -> Self {
        Self::new(ErrorCode::NotYours, "you do not hold this conversation")
    }
    pub fn invalid(m: impl Into<String>) -> Self {
        Self::new(ErrorCode::Invalid, m)
    }
    pub fn internal(m: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, m)
    }
}

pub type EngineResult<T> = Result<T, EngineError>;
