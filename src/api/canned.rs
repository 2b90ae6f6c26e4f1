//! Canned responses over REST: `GET/POST /api/v1/canned`, `GET/PUT/DELETE
//! /api/v1/canned/{id}`, and `POST /api/v1/canned/{id}/render?conversation=<id>`.
//! Every staff member reads and renders; supervisors and admins write. Records live in
//! the store's records table (kind `canned`); updates carry the version they replace
//! (409 `conflict` otherwise). The model and its validation are `crate::canned`.

use super::access;
use super::error::ApiError;
use super::extract::Staff;
use super::AppState;
use crate::canned::{Canned, CannedError, CannedInput, KIND};
use crate::domain::ErrorCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use switchboard_engine::actors::versioned::Claimed;

/// Serialises the read-check-write of canned changes (version and shortcut checks)
/// within this process; across nodes each version is claimed (`save`).
static WRITE_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

impl From<CannedError> for ApiError {
    fn from(e: CannedError) -> Self {
        match e {
            CannedError::Fields { fields } => ApiError::fields(
                fields
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect(),
            ),
            e => ApiError::invalid(e.to_string()),
        }
    }
}

async fn all(state: &AppState) -> Result<Vec<Canned>, ApiError> {
    let max = state.server.settings.canned.max_responses;
    let rows = state.server.store.records(KIND, None, max + 1).await?;
    Ok(rows
        .into_iter()
        .filter_map(|(_, v)| serde_json::from_slice(&v).ok())
        .collect())
}

async fn one(state: &AppState, id: &str) -> Result<Canned, ApiError> {
    let bytes = state
        .server
        .store
        .record(KIND, id)
        .await?
        .ok_or_else(|| ApiError::not_found("canned response"))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("stored canned response: {e}")))
}

/// Writes `c` as the change after version `from` (`None`: creates it, at the version
/// after any its id had before), claimed so that no other save — on any node — took
/// that version: `c` as stored, or 409.
async fn save(state: &AppState, c: &Canned, from: Option<u64>) -> Result<Canned, ApiError> {
    let store = &state.server.store;
    let bytes = |c: &Canned| serde_json::to_vec(c).expect("a canned response serialises");
    let won = match from {
        None => CLAIMED
            .create(store, &c.id, |version| {
                bytes(&Canned {
                    version,
                    ..c.clone()
                })
            })
            .await?
            .map(|version| Canned {
                version,
                ..c.clone()
            }),
        Some(from) => CLAIMED
            .change(store, &c.id, from, Some(bytes(c)))
            .await?
            .then(|| c.clone()),
    };
    won.ok_or_else(|| conflict(&c.id))
}

fn conflict(id: &str) -> ApiError {
    ApiError::new(
        ErrorCode::Conflict,
        format!("canned response {id:?} was changed by another save: reload it"),
    )
}

/// Changes are claimed version by version (`Claimed`).
const CLAIMED: Claimed = Claimed(KIND);

/// Refuses a shortcut another response already uses.
fn shortcut_free(list: &[Canned], c: &Canned) -> Result<(), ApiError> {
    match &c.shortcut {
        Some(sc)
            if list
                .iter()
                .any(|o| o.id != c.id && o.shortcut.as_ref() == Some(sc)) =>
        {
            Err(ApiError::new(
                ErrorCode::Conflict,
                format!("shortcut {sc:?} is taken"),
            ))
        }
        _ => Ok(()),
    }
}

/// A canned response as a supervisor writes it (`version` is required by `PUT` only).
// The schema of `CannedInput`, which the canned crate has without OpenAPI derives;
// `openapi::tests::schemas_of_lower_crate_types_agree_with_them` holds the two together.
#[derive(utoipa::ToSchema)]
#[schema(as = CannedInput)]
#[allow(dead_code)]
pub struct CannedInputSchema {
    /// `POST` only: 1 to 64 of `a-z 0-9 _ -` (default: generated).
    id: Option<String>,
    title: String,
    /// The template: `{{customer.name}}`, `{{agent.name}}`, `{{conversation.id}}`,
    /// `{{crm.<key>}}`, ...
    text: String,
    #[schema(value_type = super::openapi::schema::LanguageName, inline)]
    language: String,
    #[serde(default)]
    tags: Vec<String>,
    shortcut: Option<String>,
    /// Required by `PUT`: the version being replaced (409 otherwise).
    version: Option<u64>,
}

/// Filters of the list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub language: Option<String>,
    pub tag: Option<String>,
    /// Words in the title or text.
    pub q: Option<String>,
}

/// Canned responses (filters: language, tag, q).
#[utoipa::path(get, path = "/api/v1/canned", tag = "assist", security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "`{canned: [...]}`"),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
    )
)]
pub async fn list(
    state: web::Data<AppState>,
    _staff: Staff,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let items: Vec<Canned> = all(&state)
        .await?
        .into_iter()
        .filter(|c| c.matches(q.language.as_deref(), q.tag.as_deref(), q.q.as_deref()))
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "canned": items })))
}

/// A canned response.
#[utoipa::path(get, path = "/api/v1/canned/{id}", tag = "assist", operation_id = "canned_get",
    security(("bearer" = [])), params(("id" = String, Path, description = "canned response id")),
    responses(
        (status = 200, description = "the canned response"),
        (status = 401, response = ApiError),
        (status = 404, response = ApiError),
    )
)]
pub async fn get(
    state: web::Data<AppState>,
    _staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(one(&state, &path).await?))
}

/// Create a canned response (supervisor, admin).
#[utoipa::path(post, path = "/api/v1/canned", tag = "assist", operation_id = "canned_create",
    security(("bearer" = [])),
    request_body = CannedInputSchema,
    responses(
        (status = 201, description = "the canned response"),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 409, response = ApiError),
        (status = 413, response = ApiError),
    )
)]
pub async fn create(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    staff: Staff,
    body: web::Json<CannedInput>,
) -> Result<HttpResponse, ApiError> {
    staff.require_supervisor()?;
    let input = body.into_inner();
    let id = match &input.id {
        Some(id) if crate::canned::slug_ok(id, 64) => id.clone(),
        Some(_) => return Err(ApiError::invalid("id must be 1 to 64 of a-z 0-9 _ -")),
        None => uuid::Uuid::now_v7().simple().to_string(),
    };
    let s = &state.server.settings.canned;
    let c = input.into_record(id, 1, state.server.now(), staff.id.as_str(), s)?;
    let _g = WRITE_LOCK.lock().await;
    let list = all(&state).await?;
    if list.iter().any(|o| o.id == c.id) {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("canned response {:?} exists", c.id),
        ));
    }
    if list.len() >= s.max_responses {
        return Err(ApiError::new(
            ErrorCode::TooLarge,
            format!("at most {} canned responses", s.max_responses),
        ));
    }
    shortcut_free(&list, &c)?;
    let c = save(&state, &c, None).await?;
    super::audit_trail::record_change(&req, None, json_of(&c));
    Ok(HttpResponse::Created().json(c))
}

/// Replace a canned response; `version` must be the current one (supervisor, admin).
#[utoipa::path(put, path = "/api/v1/canned/{id}", tag = "assist", operation_id = "canned_update",
    security(("bearer" = [])), params(("id" = String, Path, description = "canned response id")),
    request_body = CannedInputSchema,
    responses(
        (status = 200, description = "the canned response"),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
        (status = 409, response = ApiError),
    )
)]
pub async fn update(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    staff: Staff,
    path: web::Path<String>,
    body: web::Json<CannedInput>,
) -> Result<HttpResponse, ApiError> {
    staff.require_supervisor()?;
    let input = body.into_inner();
    let version = input
        .version
        .ok_or_else(|| ApiError::invalid("version (the one being replaced) is required"))?;
    if input.id.as_ref().is_some_and(|i| *i != *path) {
        return Err(ApiError::invalid("id in the body differs from the path"));
    }
    let s = &state.server.settings.canned;
    let _g = WRITE_LOCK.lock().await;
    let old = one(&state, &path).await?;
    if old.version != version {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("version {version} is not the current {}", old.version),
        ));
    }
    let c = input.into_record(
        old.id.clone(),
        old.version + 1,
        state.server.now(),
        staff.id.as_str(),
        s,
    )?;
    shortcut_free(&all(&state).await?, &c)?;
    let c = save(&state, &c, Some(old.version)).await?;
    super::audit_trail::record_change(&req, Some(json_of(&old)), json_of(&c));
    Ok(HttpResponse::Ok().json(c))
}

/// Delete a canned response (supervisor, admin).
#[utoipa::path(delete, path = "/api/v1/canned/{id}", tag = "assist", operation_id = "canned_delete",
    security(("bearer" = [])), params(("id" = String, Path, description = "canned response id")),
    responses(
        (status = 204, description = "deleted"),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
        (status = 409, response = ApiError),
    )
)]
pub async fn delete(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    staff.require_supervisor()?;
    let _g = WRITE_LOCK.lock().await;
    let old = one(&state, &path).await?;
    if !CLAIMED
        .change(&state.server.store, &old.id, old.version, None)
        .await?
    {
        return Err(conflict(&old.id));
    }
    super::audit_trail::record_change(&req, Some(json_of(&old)), serde_json::Value::Null);
    Ok(HttpResponse::NoContent().finish())
}

/// A value as the audit log keeps it (`audit_trail::record_change`).
fn json_of(v: &impl serde::Serialize) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or_default()
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RenderQuery {
    /// The conversation whose customer, agent and CRM data fill the template.
    pub conversation: String,
}

/// The response rendered for a conversation the caller may read.
#[utoipa::path(post, path = "/api/v1/canned/{id}/render", tag = "assist",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "canned response id"), RenderQuery),
    responses(
        (status = 200, description = "`{id, text}`"),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
    )
)]
pub async fn render(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    q: web::Query<RenderQuery>,
) -> Result<HttpResponse, ApiError> {
    let c = one(&state, &path).await?;
    let conv_id = crate::domain::ConversationId::parse(&q.conversation)
        .map_err(|_| ApiError::not_found("conversation"))?;
    let server = &state.server;
    let conv = access::readable_conversation(server, &staff, conv_id).await?;
    let customer = server.store.customer(conv.customer_id).await?;
    let agent = server.store.agent(&staff.id).await?;
    let crm = server.crm.attributes(conv.customer_id);
    let mut vars = crate::template::Vars::new();
    vars.insert("conversation.id".into(), conv.id.to_string());
    vars.insert("conversation.channel".into(), conv.channel.to_string());
    vars.insert("conversation.queue".into(), conv.queue.to_string());
    vars.insert("customer.id".into(), conv.customer_id.to_string());
    let name = customer
        .and_then(|c| c.display_name)
        .filter(|n| !n.trim().is_empty())
        .or_else(|| crm.get("name").cloned());
    if let Some(n) = name {
        vars.insert("customer.name".into(), n);
    }
    vars.insert("agent.id".into(), staff.id.to_string());
    if let Some(a) = agent {
        vars.insert("agent.name".into(), a.display_name);
    }
    for (k, v) in crm {
        vars.insert(format!("crm.{k}"), v);
    }
    let text = c
        .render(&vars, server.settings.canned.max_text_bytes)
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "id": c.id, "text": text })))
}
