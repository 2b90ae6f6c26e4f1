//! Wrap-up codes over REST (docs/admin.md "Wrap-up codes"): `GET
//! /api/v1/wrapup-codes` (every staff member; `?queue=` gives what an agent of that
//! queue is offered and whether the queue requires one), `PUT` and `DELETE
//! /api/v1/wrapup-codes/{code}` (admins). Updates carry the version they replace (409
//! `conflict` otherwise); bad fields are named. The list and the check at resolve are
//! `switchboard_engine::actors::wrapup`.

use super::error::ApiError;
use super::extract::Staff;
use super::AppState;
use crate::domain::{ErrorCode, QueueName};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use switchboard_engine::actors::wrapup::{ChangeError, Label, WrapupCode};

impl From<ChangeError> for ApiError {
    fn from(e: ChangeError) -> Self {
        match e {
            ChangeError::Fields(f) => {
                ApiError::fields(f.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }
            ChangeError::Conflict { current } => ApiError::new(
                ErrorCode::Conflict,
                format!("the code is at version {current}: reload and edit it"),
            ),
            ChangeError::Full { max } => ApiError::invalid(format!(
                "the list holds {max} codes already (limits.max_wrapup_codes)"
            )),
            ChangeError::NotFound => ApiError::not_found("wrap-up code"),
            ChangeError::Store(e) => ApiError::from(e),
        }
    }
}

/// `GET /api/v1/wrapup-codes`'s query.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only the active codes that apply to this queue, and whether it requires one.
    queue: Option<String>,
}

/// The wrap-up codes (any staff member).
///
/// Without `queue`: `{codes}`, every code, retired ones included. With `queue`:
/// `{queue, required, codes}`, the active codes an agent of that queue picks from at
/// resolve, and whether the queue requires one.
#[utoipa::path(get, path = "/api/v1/wrapup-codes", tag = "queues", operation_id = "list_wrapup_codes", security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "`{codes: [{code, label: {ja, en}, queues, active, version}]}`, with `queue` and `required` when asked for a queue"),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 404, response = ApiError),
    )
)]
pub async fn list(
    state: web::Data<AppState>,
    _staff: Staff,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let codes = state.server.wrapup_codes();
    let Some(raw) = &query.queue else {
        return Ok(HttpResponse::Ok().json(serde_json::json!({ "codes": *codes })));
    };
    let queue = QueueName::parse(raw)?;
    let config = state
        .server
        .queue_config(&queue)
        .ok_or_else(|| ApiError::not_found("queue"))?;
    let offered: Vec<&WrapupCode> = codes.iter().filter(|c| c.applies_to(&queue)).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "queue": queue,
        "required": config.wrapup_required,
        "codes": offered,
    })))
}

/// `PUT /api/v1/wrapup-codes/{code}`'s body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeInput {
    label: Label,
    #[serde(default)]
    queues: Vec<QueueName>,
    #[serde(default = "yes")]
    active: bool,
    /// The version replaced; 0 (or absent) creates the code.
    #[serde(default)]
    version: u64,
}

fn yes() -> bool {
    true
}

/// Creates or updates a wrap-up code (admin).
///
/// Body `{label: {ja, en}, queues, active, version}`. The code (the path) is 1-40 of
/// `[a-z0-9_-]`; labels 1-100 bytes; queues must exist (empty: every queue). `version`
/// is the one replaced (0 creates; 409 `conflict` when stale). Bad fields are named in
/// `fields` and nothing is stored.
#[utoipa::path(put, path = "/api/v1/wrapup-codes/{code}", tag = "queues", operation_id = "put_wrapup_code", security(("bearer" = [])),
    params(("code" = String, Path, description = "the code")),
    request_body(content = Object, description = "`{label: {ja, en}, queues, active, version}`"),
    responses(
        (status = 200, description = "the code as stored, with its new version"),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 409, response = ApiError),
    )
)]
pub async fn put(
    state: web::Data<AppState>,
    req: HttpRequest,
    staff: Staff,
    path: web::Path<String>,
    body: web::Json<CodeInput>,
) -> Result<HttpResponse, ApiError> {
    staff.require_admin()?;
    let code = path.into_inner();
    let body = body.into_inner();
    let before = state
        .server
        .wrapup_codes()
        .iter()
        .find(|c| c.code == code)
        .cloned();
    let saved = state
        .server
        .wrapup_put(WrapupCode {
            code,
            label: body.label,
            queues: body.queues,
            active: body.active,
            version: body.version,
        })
        .await?;
    super::audit_trail::record_change(
        &req,
        before.map(|b| serde_json::to_value(b).unwrap_or_default()),
        serde_json::to_value(&saved).unwrap_or_default(),
    );
    Ok(HttpResponse::Ok().json(saved))
}

/// Deletes a wrap-up code (admin); resolved conversations keep their disposition.
#[utoipa::path(delete, path = "/api/v1/wrapup-codes/{code}", tag = "queues", operation_id = "delete_wrapup_code", security(("bearer" = [])),
    params(("code" = String, Path, description = "the code")),
    responses(
        (status = 204, description = "deleted"),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
    )
)]
pub async fn delete(
    state: web::Data<AppState>,
    req: HttpRequest,
    staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    staff.require_admin()?;
    let gone = state.server.wrapup_delete(&path).await?;
    super::audit_trail::record_change(
        &req,
        Some(serde_json::to_value(&gone).unwrap_or_default()),
        serde_json::Value::Null,
    );
    Ok(HttpResponse::NoContent().finish())
}
