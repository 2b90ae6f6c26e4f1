//! The REST side of the contract that is not a body shape: the HTTP status each error
//! code answers with (docs/api.md). One table for every door that answers over HTTP —
//! the REST handlers and the provider webhooks alike.

use domain::ErrorCode;

/// The HTTP status of a refusal with `code`.
pub fn http_status(code: ErrorCode) -> u16 {
    match code {
        ErrorCode::BadJson | ErrorCode::UnknownType | ErrorCode::Invalid => 400,
        ErrorCode::TooLarge => 413,
        ErrorCode::NotFound | ErrorCode::OfferNotFound => 404,
        ErrorCode::NotYours | ErrorCode::Forbidden => 403,
        ErrorCode::Unauthorized => 401,
        ErrorCode::QueueFull | ErrorCode::Busy | ErrorCode::Unavailable => 503,
        ErrorCode::RateLimited => 429,
        ErrorCode::Conflict => 409,
        ErrorCode::Internal => 500,
    }
}

/// Whether a refusal with `code` is temporary: the answer carries `Retry-After`.
pub fn retry_later(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::QueueFull | ErrorCode::Busy | ErrorCode::Unavailable
    )
}
