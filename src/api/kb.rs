//! Knowledge-base REST: articles (list, create, read, update with optimistic
//! `version`, delete), full-text search, and suggestions for a conversation.
//!
//! Any staff role may read, search, create and update; deleting needs supervisor or
//! admin. Suggestions follow the agent access rules of [`super::access`]. Every write
//! commits the `kb_article` record first (the store is the truth) and then updates the
//! index, under the knowledge base's write lock so two updates of one version cannot
//! both win. Limits are the `[kb]` settings (docs/kb.md).

use super::error::ApiError;
use super::extract::Staff;
use super::{access, AppState};
use crate::domain::ErrorCode;
use crate::domain::{Channel, ConversationId, EventKind};
use crate::kb::{Article, SearchResult, KB_ARTICLE, LANGUAGES};
use crate::store::{Batch, RecordWrite};
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

/// Most articles per list page.
const MAX_PAGE: usize = 200;
/// Customer messages of a conversation that make up a suggestion query.
const SUGGEST_MESSAGES: usize = 3;

/// Body of `POST` and `PUT` (`version` is required by `PUT` only).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArticleIn {
    pub title: String,
    pub body: String,
    #[serde(default)]
    pub tags: Vec<String>,
    pub language: String,
    #[serde(default)]
    pub channels: Vec<String>,
    #[serde(default)]
    pub version: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub after: Option<String>,
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize)]
struct ListOut {
    articles: Vec<Article>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    pub q: String,
    pub lang: Option<String>,
    pub channel: Option<String>,
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuggestQuery {
    pub conversation: String,
    pub limit: Option<usize>,
}

/// Validated content of an article.
fn validate(
    s: &crate::kb::KbSettings,
    a: &ArticleIn,
) -> Result<(Vec<String>, Vec<Channel>), ApiError> {
    let title = a.title.trim();
    if title.is_empty() {
        return Err(ApiError::invalid("title must not be empty"));
    }
    if a.title.len() > s.max_title_bytes {
        return Err(ApiError::invalid(format!(
            "title is longer than {} bytes",
            s.max_title_bytes
        )));
    }
    if a.body.trim().is_empty() {
        return Err(ApiError::invalid("body must not be empty"));
    }
    if !LANGUAGES.contains(&a.language.as_str()) {
        return Err(ApiError::invalid("language must be \"ja\" or \"en\""));
    }
    if a.tags.len() > s.max_tags {
        return Err(ApiError::invalid(format!("at most {} tags", s.max_tags)));
    }
    let mut tags = Vec::new();
    for t in &a.tags {
        let t = t.trim();
        if t.is_empty() || t.len() > 64 {
            return Err(ApiError::invalid("a tag must be 1 to 64 bytes"));
        }
        if !tags.iter().any(|x: &String| x == t) {
            tags.push(t.to_owned());
        }
    }
    let size = a.title.len() + a.body.len() + tags.iter().map(String::len).sum::<usize>();
    if size > s.max_article_bytes {
        return Err(ApiError::new(
            ErrorCode::TooLarge,
            format!("article is larger than {} bytes", s.max_article_bytes),
        ));
    }
    let mut channels = Vec::new();
    for c in &a.channels {
        let c = Channel::parse(c)?;
        if !channels.contains(&c) {
            channels.push(c);
        }
    }
    Ok((tags, channels))
}

async fn load(state: &AppState, id: &str) -> Result<Article, ApiError> {
    if id.len() > 64 {
        return Err(ApiError::not_found("article"));
    }
    let bytes = state
        .server
        .store
        .record(KB_ARTICLE, id)
        .await?
        .ok_or_else(|| ApiError::not_found("article"))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(
            ErrorCode::Internal,
            format!("stored article unreadable: {e}"),
        )
    })
}

async fn save(state: &AppState, a: &Article) -> Result<(), ApiError> {
    let bytes =
        serde_json::to_vec(a).map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
    state
        .server
        .store
        .commit(Batch {
            records: vec![RecordWrite::put(KB_ARTICLE, a.id.clone(), bytes)],
            ..Default::default()
        })
        .await?;
    state.server.kb().upsert(a);
    Ok(())
}

fn now(state: &AppState) -> u64 {
    state.server.now().0.max(0) as u64
}

/// `GET /api/v1/kb/articles?after=&limit=`: articles ordered by id.
pub async fn list(
    state: web::Data<AppState>,
    _staff: Staff,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = q.limit.unwrap_or(50);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::invalid(format!("limit must be 1 to {MAX_PAGE}")));
    }
    let page = state
        .server
        .store
        .records(KB_ARTICLE, q.after.as_deref(), limit + 1)
        .await?;
    let more = page.len() > limit;
    let articles: Vec<Article> = page
        .into_iter()
        .take(limit)
        .filter_map(|(_, b)| serde_json::from_slice(&b).ok())
        .collect();
    let next = if more {
        articles.last().map(|a| a.id.clone())
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(ListOut { articles, next }))
}

/// `POST /api/v1/kb/articles` → 201 with the article (version 1).
pub async fn create(
    state: web::Data<AppState>,
    staff: Staff,
    body: web::Json<ArticleIn>,
) -> Result<HttpResponse, ApiError> {
    let kb = state.server.kb().clone();
    let (tags, channels) = validate(&kb.settings, &body)?;
    let body = body.into_inner();
    let a = Article {
        id: uuid::Uuid::new_v4().to_string(),
        title: body.title.trim().to_owned(),
        body: body.body,
        tags,
        language: body.language,
        channels,
        version: 1,
        updated_at: now(&state),
        updated_by: staff.id.as_str().to_owned(),
    };
    let _w = kb.write_lock.lock().await;
    save(&state, &a).await?;
    Ok(HttpResponse::Created().json(a))
}

/// `GET /api/v1/kb/articles/{id}`.
pub async fn get(
    state: web::Data<AppState>,
    _staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(load(&state, &path).await?))
}

/// `PUT /api/v1/kb/articles/{id}`: replaces the content when `version` is the stored
/// one (else 409 `conflict`); the version goes up by one.
pub async fn update(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    body: web::Json<ArticleIn>,
) -> Result<HttpResponse, ApiError> {
    let kb = state.server.kb().clone();
    let (tags, channels) = validate(&kb.settings, &body)?;
    let body = body.into_inner();
    let version = body
        .version
        .ok_or_else(|| ApiError::invalid("version is required"))?;
    let _w = kb.write_lock.lock().await;
    let old = load(&state, &path).await?;
    if old.version != version {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("article is at version {}, not {version}", old.version),
        ));
    }
    let a = Article {
        title: body.title.trim().to_owned(),
        body: body.body,
        tags,
        language: body.language,
        channels,
        version: old.version + 1,
        updated_at: now(&state),
        updated_by: staff.id.as_str().to_owned(),
        ..old
    };
    save(&state, &a).await?;
    Ok(HttpResponse::Ok().json(a))
}

/// `DELETE /api/v1/kb/articles/{id}` (supervisor or admin) → 204.
pub async fn delete(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    staff.require_supervisor()?;
    let kb = state.server.kb().clone();
    let _w = kb.write_lock.lock().await;
    let a = load(&state, &path).await?;
    state
        .server
        .store
        .commit(Batch {
            records: vec![RecordWrite::delete(KB_ARTICLE, a.id.clone())],
            ..Default::default()
        })
        .await?;
    kb.remove(&a.id);
    Ok(HttpResponse::NoContent().finish())
}

fn limit_of(state: &AppState, limit: Option<usize>) -> Result<usize, ApiError> {
    let max = state.server.kb().settings.max_results;
    match limit {
        None => Ok(max.min(5)),
        Some(l) if l == 0 || l > max => Err(ApiError::invalid(format!("limit must be 1 to {max}"))),
        Some(l) => Ok(l),
    }
}

fn check_query(state: &AppState, q: &str) -> Result<(), ApiError> {
    let max = state.server.kb().settings.max_query_bytes;
    if q.len() > max {
        return Err(ApiError::invalid(format!(
            "query is longer than {max} bytes"
        )));
    }
    if q.trim().is_empty() {
        return Err(ApiError::invalid("query must not be empty"));
    }
    Ok(())
}

/// `GET /api/v1/kb/search?q=&lang=&channel=&limit=`.
pub async fn search(
    state: web::Data<AppState>,
    _staff: Staff,
    q: web::Query<SearchQuery>,
) -> Result<HttpResponse, ApiError> {
    check_query(&state, &q.q)?;
    let limit = limit_of(&state, q.limit)?;
    if let Some(l) = &q.lang {
        if !LANGUAGES.contains(&l.as_str()) {
            return Err(ApiError::invalid("lang must be \"ja\" or \"en\""));
        }
    }
    let channel = q.channel.as_deref().map(Channel::parse).transpose()?;
    let r: SearchResult = state
        .server
        .kb()
        .search(&q.q, q.lang.as_deref(), channel, limit);
    Ok(HttpResponse::Ok().json(r))
}

/// `GET /api/v1/kb/suggest?conversation=&limit=`: a search built from the
/// conversation's latest customer messages, on its channel.
pub async fn suggest(
    state: web::Data<AppState>,
    staff: Staff,
    q: web::Query<SuggestQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = limit_of(&state, q.limit)?;
    let id =
        ConversationId::parse(&q.conversation).map_err(|_| ApiError::not_found("conversation"))?;
    let c = access::readable_conversation(&state.server, &staff, id).await?;
    let events =
        crate::actors::timeline::timeline(&state.server.store, c.customer_id, None, 200).await?;
    let max = state.server.kb().settings.max_query_bytes;
    let mut query = String::new();
    for e in events
        .iter()
        .filter(|e| e.conversation_id == Some(c.id))
        .filter_map(|e| match &e.kind {
            EventKind::MessageIn { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .take(SUGGEST_MESSAGES)
    {
        if query.len() + e.len() + 1 > max {
            break;
        }
        query.push_str(e);
        query.push('\n');
    }
    let r = state
        .server
        .kb()
        .search(&query, None, Some(c.channel), limit);
    Ok(HttpResponse::Ok().json(r))
}

/// The knowledge-base routes for `GET /api/v1/openapi.json` (docs/kb.md).
pub fn openapi_paths() -> serde_json::Map<String, serde_json::Value> {
    use serde_json::json;
    let err = json!({"$ref": "#/components/responses/Error"});
    let q = |name: &str, required: bool, ty: &str| json!({"name": name, "in": "query", "required": required, "schema": {"type": ty}});
    let id = json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}});
    let article = json!({"type": "object", "required": ["title", "body", "language"],
        "properties": {"title": {"type": "string"}, "body": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "language": {"type": "string", "enum": ["ja", "en"]},
            "channels": {"type": "array", "items": {"type": "string"}},
            "version": {"type": "integer", "description": "required by PUT"}}});
    let body = json!({"required": true, "content": {"application/json": {"schema": article}}});
    let sec = json!([{"bearer": []}]);
    let mut m = serde_json::Map::new();
    m.insert("/api/v1/kb/articles".into(), json!({
        "get": {"summary": "Knowledge-base articles ordered by id (any staff)", "security": sec,
            "parameters": [q("after", false, "string"), q("limit", false, "integer")],
            "responses": {"200": {"description": "{articles, next?}"}, "400": err, "401": err}},
        "post": {"summary": "Create an article (any staff)", "security": sec, "requestBody": body,
            "responses": {"201": {"description": "the article"}, "400": err, "401": err, "413": err}}}));
    m.insert("/api/v1/kb/articles/{id}".into(), json!({
        "get": {"summary": "An article", "security": sec, "parameters": [id],
            "responses": {"200": {"description": "the article"}, "404": err}},
        "put": {"summary": "Replace an article's content; `version` must be the stored one (409 otherwise)",
            "security": sec, "parameters": [id], "requestBody": body,
            "responses": {"200": {"description": "the article, version + 1"}, "400": err, "404": err, "409": err}},
        "delete": {"summary": "Delete an article (supervisor, admin)", "security": sec, "parameters": [id],
            "responses": {"204": {"description": "deleted"}, "403": err, "404": err}}}));
    m.insert("/api/v1/kb/search".into(), json!({"get": {
        "summary": "Full-text search: {hits:[{id,title,snippet,body,language,tags,score,confidence,confident}], tokenizer}",
        "security": sec,
        "parameters": [q("q", true, "string"), q("lang", false, "string"), q("channel", false, "string"), q("limit", false, "integer")],
        "responses": {"200": {"description": "hits"}, "400": err, "401": err}}}));
    m.insert("/api/v1/kb/suggest".into(), json!({"get": {
        "summary": "Articles for a conversation, from its latest customer messages (agent access rules)",
        "security": sec,
        "parameters": [q("conversation", true, "string"), q("limit", false, "integer")],
        "responses": {"200": {"description": "hits"}, "403": err, "404": err}}}));
    m
}
