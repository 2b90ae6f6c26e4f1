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
    if !t.articles().contains(id.as_str()) {
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
