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

pub use switchboard_engine::articles::{read as read_article, ArticleView as Article};

fn tree(state: &AppState) -> Result<Tree, ApiError> {
    let s = &state.server.settings;
    s.ivr_tree().ok_or_else(|| ApiError::not_found("ivr"))
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

/// `GET /api/v1/ivr`.
pub async fn get_tree(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let t = tree(&state)?;
    Ok(HttpResponse::Ok().insert_header(cached(&state)).json(t))
}

/// `GET /api/v1/ivr/articles/{id}`.
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
