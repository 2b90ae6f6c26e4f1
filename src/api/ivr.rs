//! The visual IVR's read API, open to visitors (no token; bounded by the configured
//! tree's size limits, cacheable):
//!
//! - `GET /api/v1/ivr`: the menu tree with prompts and labels in Japanese and English
//!   (404 when no tree is configured).
//! - `GET /api/v1/ivr/articles/{id}`: a knowledge-base article (store kind
//!   `kb_article`) that an option of the tree names; any other id is 404, so the
//!   knowledge base is not readable through here.

use super::error::ApiError;
use super::AppState;
use crate::ivr::Tree;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

/// Store record kind of knowledge-base articles (owned by the knowledge base).
pub const ARTICLE_KIND: &str = "kb_article";

/// The article fields a visitor sees.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = IvrArticle)]
pub struct Article {
    #[serde(default)]
    pub id: String,
    pub title: String,
    pub body: String,
    #[serde(default)]
    pub language: String,
}

/// Reads article `id` from the store (`None` if absent or unreadable).
pub async fn read_article(
    store: &crate::store::SharedStore,
    id: &str,
) -> Result<Option<Article>, crate::store::StoreError> {
    Ok(store
        .record(ARTICLE_KIND, id)
        .await?
        .and_then(|b| serde_json::from_slice::<Article>(&b).ok())
        .map(|a| Article { id: id.into(), ..a }))
}

fn tree(state: &AppState) -> Result<Tree, ApiError> {
    let s = &state.server.settings;
    crate::ivr::tree(s).ok_or_else(|| ApiError::not_found("ivr"))
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

/// The IVR menu tree with prompts and labels in Japanese and English.
///
/// No token; cacheable. 404 when no tree is configured.
#[utoipa::path(get, path = "/api/v1/ivr", tag = "ivr",
    responses(
        (status = 200, description = "`{root, menus: [{id, prompt: {ja, en}, options: [{key, phrases, label: {ja, en}, action}]}]}`"),
        (status = 404, response = ApiError),
    )
)]
pub async fn get_tree(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let t = tree(&state)?;
    Ok(HttpResponse::Ok().insert_header(cached(&state)).json(t))
}

/// A knowledge-base article the IVR tree names (no token); any other id is 404.
#[utoipa::path(get, path = "/api/v1/ivr/articles/{id}", tag = "ivr",
    params(("id" = String, Path, description = "article id")),
    responses(
        (status = 200, description = "the article", body = Article),
        (status = 404, response = ApiError),
    )
)]
pub async fn get_article(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let t = tree(&state)?;
    let id = path.into_inner();
    if !t.articles().contains(id.as_str()) {
        return Err(ApiError::not_found("article"));
    }
    let a = read_article(&state.server.store, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("article"))?;
    Ok(HttpResponse::Ok().insert_header(cached(&state)).json(a))
}
