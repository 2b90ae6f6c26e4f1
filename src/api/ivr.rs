//! The IVR tree over REST. Open to visitors (no token; bounded by the tree's size
//! limits, cacheable):
//!
//! - `GET /api/v1/ivr`: the tree in force, prompts and labels in Japanese and English
//!   (404 when there is none), with its version as the `ETag`.
//! - `GET /api/v1/ivr/articles/{id}`: a knowledge-base article (store kind
//!   `kb_article`) that an option of the tree names; any other id is 404, so the
//!   knowledge base is not readable through here.
//!
//! For admins, the tree edited live (`switchboard_engine::actors::ivr_versions`): `GET
//! /api/v1/ivr/versions`, `GET /api/v1/ivr/versions/{n}`, `PUT /api/v1/ivr` (a new
//! version; `?dry_run=true` only checks) and `POST /api/v1/ivr/versions/{n}/restore`
//! (a rollback, saved as the newest version). Refusals name the field at fault.

use super::error::ApiError;
use super::extract::Staff;
use super::AppState;
use crate::domain::ErrorCode;
use crate::ivr::Tree;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use switchboard_engine::actors::ivr_versions::{IvrVersion, SaveError, MAX_NOTE_BYTES};

pub use switchboard_engine::articles::{read as read_article, ArticleView as Article};

/// The document's schema of [`Article`] (the engine's `ArticleView`, which does not
/// derive utoipa's traits); a test holds the two to the same properties.
#[derive(utoipa::ToSchema)]
#[schema(as = IvrArticle)]
#[allow(dead_code)]
pub struct ArticleSchema {
    id: String,
    title: String,
    body: String,
    /// `ja` or `en`.
    language: String,
}

fn tree(
    state: &AppState,
) -> Result<std::sync::Arc<switchboard_engine::actors::ivr_versions::ActiveIvr>, ApiError> {
    state.server.ivr().ok_or_else(|| ApiError::not_found("ivr"))
}

fn cached(state: &AppState) -> (&'static str, String) {
    (
        "Cache-Control",
        format!(
            "public, max-age={}",
            state.server.settings.ivr.cache_max_age_s
        ),
    )
}

/// The IVR menu tree in force, with prompts and labels in Japanese and English.
///
/// No token; cacheable; the `ETag` names the version (`If-None-Match` answers 304).
/// 404 when there is no tree.
#[utoipa::path(get, path = "/api/v1/ivr", tag = "ivr",
    responses(
        (status = 200, description = "`{root, menus: [{id, prompt: {ja, en}, options: [{key, phrases, label: {ja, en}, action}]}]}`"),
        (status = 304, description = "the version named by `If-None-Match` is still in force"),
        (status = 404, response = ApiError),
    )
)]
pub async fn get_tree(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let t = tree(&state)?;
    let etag = format!("\"ivr-{}\"", t.version);
    let fresh = req
        .headers()
        .get(actix_web::http::header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim() == etag));
    let mut res = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header(cached(&state))
        .insert_header(("ETag", etag));
    Ok(if fresh {
        res.finish()
    } else {
        res.json(&t.tree)
    })
}

/// Versions listed at most by `GET /api/v1/ivr/versions`.
const LISTED_VERSIONS: usize = 100;

/// The saved versions of the IVR tree, newest first (admin).
///
/// `current` is the version in force (`null`: no tree). Version 0 is the
/// configuration file's tree. At most 100 versions, the newest.
#[utoipa::path(get, path = "/api/v1/ivr/versions", tag = "ivr", operation_id = "list_ivr_versions", security(("bearer" = [])),
    responses(
        (status = 200, description = "`{current, versions: [{version, saved_at, saved_by, note, restored_from}]}`"),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
    )
)]
pub async fn versions(state: web::Data<AppState>, staff: Staff) -> Result<HttpResponse, ApiError> {
    staff.require_admin()?;
    let (current, versions) = state.server.ivr_versions(LISTED_VERSIONS).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "current": current, "versions": versions })))
}

fn version_number(raw: &str) -> Result<u64, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::invalid(format!("{raw:?} is not a version number")))
}

async fn version_or_404(state: &AppState, n: u64) -> Result<IvrVersion, ApiError> {
    state
        .server
        .ivr_version(n)
        .await?
        .ok_or_else(|| ApiError::not_found("ivr version"))
}

/// One saved version of the IVR tree, with its tree (admin).
#[utoipa::path(get, path = "/api/v1/ivr/versions/{n}", tag = "ivr", operation_id = "get_ivr_version", security(("bearer" = [])),
    params(("n" = u64, Path, description = "version number")),
    responses(
        (status = 200, description = "`{version, saved_at, saved_by, note, restored_from, tree: {root, menus}}`"),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
    )
)]
pub async fn version(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    staff.require_admin()?;
    let n = version_number(&path)?;
    Ok(HttpResponse::Ok().json(version_or_404(&state, n).await?))
}

/// `PUT /api/v1/ivr`'s body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TreeSave {
    /// The version the edit started from: it must still be the newest (`null` or 0
    /// when there was no tree).
    #[serde(default)]
    version: Option<u64>,
    tree: serde_json::Value,
    #[serde(default)]
    note: String,
}

/// `PUT /api/v1/ivr`'s query.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SaveQuery {
    /// Only check the tree; nothing is saved.
    #[serde(default)]
    dry_run: bool,
}

/// `POST /api/v1/ivr/versions/{n}/restore`'s body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Restore {
    /// The newest version, as the admin last saw it.
    version: u64,
    #[serde(default)]
    note: String,
}

fn save_error(e: SaveError) -> ApiError {
    match e {
        SaveError::Invalid(all) => {
            ApiError::fields(all.into_iter().map(|t| (t.path, t.message)).collect())
        }
        SaveError::Conflict { current } => ApiError::new(
            ErrorCode::Conflict,
            format!("version {current} was saved since this edit began: reload and edit it"),
        ),
        SaveError::Store(e) => ApiError::from(e),
    }
}

fn check_note(note: &str) -> Result<(), ApiError> {
    if note.len() > MAX_NOTE_BYTES {
        return Err(ApiError::fields(
            [(
                "note".to_owned(),
                format!("must be at most {MAX_NOTE_BYTES} bytes"),
            )]
            .into_iter()
            .collect(),
        ));
    }
    Ok(())
}

/// Saves a new version of the IVR tree and puts it in force on every node (admin).
///
/// Body `{version, tree: {root, menus}, note?}`: `version` is the one the edit started
/// from and must still be the newest (409 `conflict` otherwise). A wrong tree is 400
/// with `fields` naming where (`menus[i].options[j].label`, ...), and nothing is saved.
/// `?dry_run=true` only checks: 200 `{"valid": true}`.
#[utoipa::path(put, path = "/api/v1/ivr", tag = "ivr", operation_id = "save_ivr_tree", security(("bearer" = [])),
    params(SaveQuery),
    request_body(content = Object, description = "`{version, tree: {root, menus}, note}`"),
    responses(
        (status = 200, description = "the new version, as `GET /api/v1/ivr/versions/{n}` gives it"),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 409, response = ApiError),
    )
)]
pub async fn put_tree(
    state: web::Data<AppState>,
    req: HttpRequest,
    staff: Staff,
    query: web::Query<SaveQuery>,
    body: web::Json<TreeSave>,
) -> Result<HttpResponse, ApiError> {
    staff.require_admin()?;
    let body = body.into_inner();
    check_note(&body.note)?;
    let tree: Tree = serde_json::from_value(body.tree).map_err(|e| {
        let msg = e.to_string();
        ApiError::fields([("tree".to_owned(), msg)].into_iter().collect())
    })?;
    if query.dry_run {
        let problems = state.server.ivr_check(&tree);
        if !problems.is_empty() {
            return Err(save_error(SaveError::Invalid(problems)));
        }
        return Ok(HttpResponse::Ok().json(serde_json::json!({ "valid": true })));
    }
    let before = state.server.ivr().map(|a| a.version);
    let saved = state
        .server
        .ivr_save(
            body.version.unwrap_or(0),
            tree,
            staff.id.as_str(),
            body.note,
            None,
        )
        .await
        .map_err(save_error)?;
    super::audit_trail::record_change(
        &req,
        before.map(|v| serde_json::json!({ "version": v })),
        serde_json::to_value(&saved).unwrap_or_default(),
    );
    Ok(HttpResponse::Ok().json(saved))
}

/// Rolls the IVR tree back: saves version `n`'s tree again as the newest version and
/// puts it in force (admin).
///
/// Body `{version, note?}`: `version` is the newest as the admin last saw it (409
/// `conflict` otherwise). The tree is checked again (a queue it names may be gone).
#[utoipa::path(post, path = "/api/v1/ivr/versions/{n}/restore", tag = "ivr", operation_id = "restore_ivr_version", security(("bearer" = [])),
    params(("n" = u64, Path, description = "the version to restore")),
    request_body(content = Object, description = "`{version, note}`"),
    responses(
        (status = 200, description = "the new version, with `restored_from`"),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
        (status = 409, response = ApiError),
    )
)]
pub async fn restore(
    state: web::Data<AppState>,
    req: HttpRequest,
    staff: Staff,
    path: web::Path<String>,
    body: web::Json<Restore>,
) -> Result<HttpResponse, ApiError> {
    staff.require_admin()?;
    let n = version_number(&path)?;
    let body = body.into_inner();
    check_note(&body.note)?;
    let old = version_or_404(&state, n).await?;
    let note = if body.note.is_empty() {
        format!("restored version {n}")
    } else {
        body.note
    };
    let saved = state
        .server
        .ivr_save(body.version, old.tree, staff.id.as_str(), note, Some(n))
        .await
        .map_err(save_error)?;
    super::audit_trail::record_change(
        &req,
        Some(serde_json::json!({ "version": body.version })),
        serde_json::to_value(&saved).unwrap_or_default(),
    );
    Ok(HttpResponse::Ok().json(saved))
}

/// A knowledge-base article the IVR tree names (no token); any other id is 404.
#[utoipa::path(get, path = "/api/v1/ivr/articles/{id}", tag = "ivr",
    params(("id" = String, Path, description = "article id")),
    responses(
        (status = 200, description = "the article", body = ArticleSchema),
        (status = 404, response = ApiError),
    )
)]
pub async fn get_article(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let t = tree(&state)?;
    let id = path.into_inner();
    if !t.tree.articles().contains(id.as_str()) {
        return Err(ApiError::not_found("article"));
    }
    let a = read_article(&state.server.store, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("article"))?;
    Ok(HttpResponse::Ok().insert_header(cached(&state)).json(a))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// The documented `IvrArticle` has exactly the properties an article is sent with.
    #[test]
    fn the_article_schema_matches_what_is_sent() {
        let doc = super::super::openapi::document();
        let documented: BTreeSet<String> = doc["components"]["schemas"]["IvrArticle"]["properties"]
            .as_object()
            .expect("IvrArticle is in the document")
            .keys()
            .cloned()
            .collect();
        let sent = serde_json::to_value(Article {
            id: "a".into(),
            title: "t".into(),
            body: "b".into(),
            language: "ja".into(),
        })
        .unwrap();
        let sent: BTreeSet<String> = sent.as_object().unwrap().keys().cloned().collect();
        assert_eq!(documented, sent);
    }
}
