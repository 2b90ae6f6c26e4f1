//! The one table mapping every REST error to an HTTP status and a JSON body
//! `{"code": "...", "message": "..."}` (codes shared with the websocket protocol).
//! The same type is the OpenAPI document's `Error` schema and shared `Error` response.

use crate::actors::messages::EngineError;
use crate::domain::ErrorCode;
use actix_web::http::StatusCode;
use actix_web::{error, HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;

/// A typed error: `code` names what went wrong, `message` says it for people.
#[derive(Debug, Clone, Serialize, thiserror::Error, utoipa::ToSchema)]
#[schema(as = Error)]
#[error("{message}")]
pub struct ApiError {
    #[schema(schema_with = code_schema)]
    pub code: ErrorCode,
    pub message: String,
    /// For `conflict` on a reused `client_msg_id`: the event that id was first
    /// applied as.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub event_id: Option<crate::domain::EventId>,
    /// For `invalid`: what is wrong with each field of the request body, by field name
    /// (every field at once, so a form can mark them all).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<std::collections::BTreeMap<String, String>>,
    /// Seconds for a `Retry-After` header (rate limits); not part of the body.
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            event_id: None,
            fields: None,
            retry_after: None,
        }
    }
    /// Authenticated but not allowed (role or ownership): 403 `forbidden`.
    pub fn forbidden(m: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, m)
    }
    /// Too many attempts: 429 `rate_limited` with `Retry-After: secs`.
    pub fn rate_limited(m: impl Into<String>, retry_after_secs: u64) -> Self {
        Self {
            retry_after: Some(retry_after_secs.max(1)),
            ..Self::new(ErrorCode::RateLimited, m)
        }
    }
    pub fn unauthorized(m: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, m)
    }
    pub fn invalid(m: impl Into<String>) -> Self {
        Self::new(ErrorCode::Invalid, m)
    }
    /// 400 `invalid` naming every field that is wrong (`fields`).
    pub fn fields(fields: std::collections::BTreeMap<String, String>) -> Self {
        let message = fields
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join("; ");
        Self {
            fields: Some(fields),
            ..Self::new(ErrorCode::Invalid, message)
        }
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }
}

/// Every error code, in the order of [`ErrorCode`] (the `Error` schema's `code` values).
/// A new code does not compile (`_EVERY_CODE` below) until it is listed here too.
pub const CODES: [ErrorCode; 15] = [
    ErrorCode::BadJson,
    ErrorCode::UnknownType,
    ErrorCode::TooLarge,
    ErrorCode::Invalid,
    ErrorCode::NotFound,
    ErrorCode::NotYours,
    ErrorCode::OfferNotFound,
    ErrorCode::QueueFull,
    ErrorCode::Busy,
    ErrorCode::Unavailable,
    ErrorCode::Unauthorized,
    ErrorCode::Forbidden,
    ErrorCode::RateLimited,
    ErrorCode::Conflict,
    ErrorCode::Internal,
];

/// Exhaustive over [`ErrorCode`]: keeps [`CODES`] complete.
const _EVERY_CODE: fn(ErrorCode) = |c| match c {
    ErrorCode::BadJson
    | ErrorCode::UnknownType
    | ErrorCode::TooLarge
    | ErrorCode::Invalid
    | ErrorCode::NotFound
    | ErrorCode::NotYours
    | ErrorCode::OfferNotFound
    | ErrorCode::QueueFull
    | ErrorCode::Busy
    | ErrorCode::Unavailable
    | ErrorCode::Unauthorized
    | ErrorCode::Forbidden
    | ErrorCode::RateLimited
    | ErrorCode::Conflict
    | ErrorCode::Internal => {}
};

fn code_schema() -> utoipa::openapi::Object {
    crate::schema::string_enum(&CODES)
}

/// The shared `Error` response (`#/components/responses/Error`) every operation names
/// for its error statuses.
impl<'r> utoipa::ToResponse<'r> for ApiError {
    fn response() -> (
        &'r str,
        utoipa::openapi::RefOr<utoipa::openapi::response::Response>,
    ) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let content = ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("Error")))
            .build();
        let response = ResponseBuilder::new()
            .description("Typed error `{code, message}`; the status follows from `code`")
            .content("application/json", content)
            .build();
        ("Error", response.into())
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        Self {
            event_id: e.event_id,
            ..Self::new(e.code, e.message)
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        crate::store::StoreError::into_engine(e).into()
    }
}

impl From<crate::domain::ParseError> for ApiError {
    fn from(e: crate::domain::ParseError) -> Self {
        Self::invalid(e.to_string())
    }
}

/// Status for each error code (the table is the protocol's, shared with the webhooks).
pub fn status_of(code: ErrorCode) -> StatusCode {
    StatusCode::from_u16(crate::ws::protocol::rest::http_status(code))
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        status_of(self.code)
    }
    fn error_response(&self) -> HttpResponse {
        let mut r = HttpResponse::build(self.status_code());
        if let Some(secs) = self.retry_after {
            r.insert_header(("Retry-After", secs.to_string()));
        } else if crate::ws::protocol::rest::retry_later(self.code) {
            r.insert_header(("Retry-After", "5"));
        }
        r.json(self)
    }
}

pub fn json_config(limit: usize) -> actix_web::web::JsonConfig {
    actix_web::web::JsonConfig::default()
        .limit(limit)
        .error_handler(|err, _req| {
            let api = match &err {
                error::JsonPayloadError::OverflowKnownLength { .. }
                | error::JsonPayloadError::Overflow { .. } => {
                    ApiError::new(ErrorCode::TooLarge, err.to_string())
                }
                error::JsonPayloadError::ContentType => {
                    ApiError::new(ErrorCode::BadJson, "Content-Type must be application/json")
                }
                _ => ApiError::new(ErrorCode::BadJson, err.to_string()),
            };
            api.into()
        })
}

pub fn query_config() -> actix_web::web::QueryConfig {
    actix_web::web::QueryConfig::default()
        .error_handler(|err, _| ApiError::invalid(err.to_string()).into())
}

pub fn path_config() -> actix_web::web::PathConfig {
    actix_web::web::PathConfig::default()
        .error_handler(|err, _| ApiError::invalid(err.to_string()).into())
}

/// What a request under `/api/v1` that matches no route gets: 404 `not_found`.
pub fn no_route(method: &str, path: &str) -> ApiError {
    ApiError::not_found(&format!("route {method} {path}"))
}

/// The `/api/v1` scope's default service: [`no_route`].
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    no_route(req.method().as_str(), req.path()).error_response()
}
