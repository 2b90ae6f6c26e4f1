//! Knowledge-base REST: articles (list, create, read, update with optimistic
//! `version`, delete), drafts (list, publish, discard), full-text search, and
//! suggestions for a conversation.
//!
//! Articles are what customers are told (the bot, the IVR), so only supervisors and
//! admins change them. An agent's create or update is stored as a [`Draft`] that is
//! served to no one until a supervisor publishes it (`kb.agents_propose_drafts`, on by
//! default; off, agents get 403). Any staff role may read and search. Suggestions
//! follow the agent access rules of [`super::access`]. Every change (create, update,
//! delete, propose, publish, discard) is written to the audit log with actor, article
//! and action, before it is committed, so none goes unaudited. Every write commits the
//! record first (the store is the truth) and then updates the index, under the
//! knowledge base's write lock so two updates of one version cannot both win. Limits
//! are the `[kb]` settings (docs/kb.md).

use super::error::ApiError;
use super::extract::Staff;
use super::{access, AppState};
use crate::domain::ErrorCode;
use crate::domain::{Channel, ConversationId, EventKind};
use crate::kb::{Article, Draft, SearchResult, KB_ARTICLE, KB_DRAFT, LANGUAGES};
use crate::store::{AuditEntry, Batch, RecordWrite};
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

/// Most articles per list page.
const MAX_PAGE: usize = 200;
/// Customer messages of a conversation that make up a suggestion query.
const SUGGEST_MESSAGES: usize = 3;

/// Body of `POST` and `PUT` (`version` is required by `PUT` only).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArticleIn {
    /// At most `kb.max_title_bytes`.
    pub title: String,
    pub body: String,
    /// Each 1 to 64 bytes; at most `kb.max_tags`.
    #[serde(default)]
    pub tags: Vec<String>,
    #[schema(value_type = super::openapi::schema::LanguageName, inline)]
    pub language: String,
    /// Where the article may be shown; empty = every channel.
    #[serde(default)]
    #[schema(value_type = Vec<super::openapi::schema::ChannelName>, inline)]
    pub channels: Vec<String>,
    /// Shown in the public help center (when also visible on `chat`); default `false`.
    #[serde(default)]
    pub public: bool,
    /// Required by `PUT`: the stored version (409 otherwise).
    #[serde(default)]
    pub version: Option<u64>,
}

/// A page of the article list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Articles after this id (`next` of the previous page).
    pub after: Option<String>,
    /// Articles per page (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<usize>,
}

/// A page of articles, ordered by id.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = ArticlePage)]
struct ListOut {
    articles: Vec<Article>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

/// A full-text search.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// The query, at most `kb.max_query_bytes`.
    pub q: String,
    /// Only articles in this language (`ja`, `en`).
    pub lang: Option<String>,
    /// Only articles shown on this channel.
    pub channel: Option<String>,
    /// Hits (default 5; at most `kb.max_results`).
    pub limit: Option<usize>,
}

/// Suggestions for a conversation.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SuggestQuery {
    /// A conversation the caller may read.
    pub conversation: String,
    /// Hits (default 5; at most `kb.max_results`).
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
    changed(state, &a.id);
    Ok(())
}

/// Tells the other members of a cluster to re-read article `id` (nothing without one).
fn changed(state: &AppState, id: &str) {
    state.server.engine.broadcast(crate::kb::ArticlesChanged {
        ids: vec![id.to_owned()],
    });
}

fn now(state: &AppState) -> u64 {
    state.server.now().0.max(0) as u64
}

/// How an article write by `staff` takes effect.
enum Write {
    /// Supervisor or admin: the article changes and is served at once.
    Publish,
    /// Agent, with `kb.agents_propose_drafts`: a draft for a supervisor.
    Propose,
}

fn write_mode(state: &AppState, staff: &Staff) -> Result<Write, ApiError> {
    if staff.sees_everything() {
        Ok(Write::Publish)
    } else if state.server.kb().settings.agents_propose_drafts {
        Ok(Write::Propose)
    } else {
        Err(ApiError::forbidden(
            "only supervisors and admins change knowledge-base articles",
        ))
    }
}

/// Appends the audit entry of a knowledge-base change by `staff`.
async fn audit(
    state: &AppState,
    staff: &Staff,
    action: &str,
    detail: serde_json::Value,
) -> Result<(), ApiError> {
    state
        .server
        .store
        .append_audit(AuditEntry {
            id: crate::domain::EventId::new(),
            at: state.server.now(),
            actor: staff.id.clone(),
            action: action.into(),
            customer_id: None,
            detail,
        })
        .await?;
    Ok(())
}

async fn load_draft(state: &AppState, id: &str) -> Result<Draft, ApiError> {
    if id.len() > 64 {
        return Err(ApiError::not_found("draft"));
    }
    let bytes = state
        .server
        .store
        .record(KB_DRAFT, id)
        .await?
        .ok_or_else(|| ApiError::not_found("draft"))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("stored draft unreadable: {e}")))
}

/// Stores an agent's proposal (under the write lock): 202 with the draft; 413 past
/// `kb.max_drafts` waiting.
async fn propose(state: &AppState, staff: &Staff, d: Draft) -> Result<HttpResponse, ApiError> {
    let max = state.server.kb().settings.max_drafts;
    let waiting = state.server.store.records(KB_DRAFT, None, max).await?;
    if waiting.len() >= max {
        return Err(ApiError::new(
            ErrorCode::TooLarge,
            format!("{max} drafts are waiting for a supervisor already"),
        ));
    }
    let bytes =
        serde_json::to_vec(&d).map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
    audit(
        state,
        staff,
        "kb_draft_proposed",
        serde_json::json!({"draft_id": d.id, "article_id": d.article_id, "base_version": d.base_version}),
    )
    .await?;
    state
        .server
        .store
        .commit(Batch {
            records: vec![RecordWrite::put(KB_DRAFT, d.id.clone(), bytes)],
            ..Default::default()
        })
        .await?;
    Ok(HttpResponse::Accepted().json(d))
}

/// Knowledge-base articles ordered by id (any staff).
#[utoipa::path(get, path = "/api/v1/kb/articles", tag = "kb", operation_id = "kb_list",
    security(("bearer" = [])), params(ListQuery),
    responses(
        (status = 200, description = "`{articles, next?}`", body = ListOut),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
    )
)]
pub async fn list(
    state: web::Data<AppState>,
    _staff: Staff,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let (articles, next) = page_of(&state, KB_ARTICLE, &q, |a: &Article| a.id.clone()).await?;
    Ok(HttpResponse::Ok().json(ListOut { articles, next }))
}

/// Create an article (supervisor, admin; an agent proposes a draft).
///
/// Supervisors and admins: 201, served at once. Agents: 202 with a draft that is served
/// to no one until a supervisor publishes it (403 with `kb.agents_propose_drafts` off).
#[utoipa::path(post, path = "/api/v1/kb/articles", tag = "kb", operation_id = "kb_create",
    security(("bearer" = [])), request_body = ArticleIn,
    responses(
        (status = 201, description = "the article, version 1", body = Article),
        (status = 202, description = "an agent's draft, not served yet", body = Draft),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 413, response = ApiError),
    )
)]
pub async fn create(
    state: web::Data<AppState>,
    staff: Staff,
    body: web::Json<ArticleIn>,
) -> Result<HttpResponse, ApiError> {
    let mode = write_mode(&state, &staff)?;
    let kb = state.server.kb().clone();
    let (tags, channels) = validate(&kb.settings, &body)?;
    let body = body.into_inner();
    let _w = kb.write_lock.lock().await;
    if let Write::Propose = mode {
        let d = Draft {
            id: uuid::Uuid::new_v4().to_string(),
            article_id: None,
            base_version: None,
            title: body.title.trim().to_owned(),
            body: body.body,
            tags,
            language: body.language,
            channels,
            public: body.public,
            proposed_by: staff.id.as_str().to_owned(),
            proposed_at: now(&state),
        };
        return propose(&state, &staff, d).await;
    }
    let a = Article {
        id: uuid::Uuid::new_v4().to_string(),
        title: body.title.trim().to_owned(),
        body: body.body,
        tags,
        language: body.language,
        channels,
        public: body.public,
        version: 1,
        updated_at: now(&state),
        updated_by: staff.id.as_str().to_owned(),
    };
    audit(
        &state,
        &staff,
        "kb_article_created",
        serde_json::json!({"article_id": a.id, "version": a.version}),
    )
    .await?;
    save(&state, &a).await?;
    Ok(HttpResponse::Created().json(a))
}

/// An article (any staff).
#[utoipa::path(get, path = "/api/v1/kb/articles/{id}", tag = "kb", operation_id = "kb_get",
    security(("bearer" = [])), params(("id" = String, Path, description = "article id")),
    responses(
        (status = 200, description = "the article", body = Article),
        (status = 401, response = ApiError),
        (status = 404, response = ApiError),
    )
)]
pub async fn get(
    state: web::Data<AppState>,
    _staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(load(&state, &path).await?))
}

/// Replace an article's content; `version` must be the stored one (409 otherwise).
///
/// Supervisors and admins: the version goes up by one, served at once. Agents: 202 with
/// a draft of the change, served to no one until a supervisor publishes it (403 with
/// `kb.agents_propose_drafts` off).
#[utoipa::path(put, path = "/api/v1/kb/articles/{id}", tag = "kb", operation_id = "kb_update",
    security(("bearer" = [])), params(("id" = String, Path, description = "article id")),
    request_body = ArticleIn,
    responses(
        (status = 200, description = "the article, version + 1", body = Article),
        (status = 202, description = "an agent's draft, not served yet", body = Draft),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
        (status = 409, response = ApiError),
        (status = 413, response = ApiError),
    )
)]
pub async fn update(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    body: web::Json<ArticleIn>,
) -> Result<HttpResponse, ApiError> {
    let mode = write_mode(&state, &staff)?;
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
    if let Write::Propose = mode {
        let d = Draft {
            id: uuid::Uuid::new_v4().to_string(),
            article_id: Some(old.id),
            base_version: Some(old.version),
            title: body.title.trim().to_owned(),
            body: body.body,
            tags,
            language: body.language,
            channels,
            public: body.public,
            proposed_by: staff.id.as_str().to_owned(),
            proposed_at: now(&state),
        };
        return propose(&state, &staff, d).await;
    }
    let a = Article {
        title: body.title.trim().to_owned(),
        body: body.body,
        tags,
        language: body.language,
        channels,
        public: body.public,
        version: old.version + 1,
        updated_at: now(&state),
        updated_by: staff.id.as_str().to_owned(),
        ..old
    };
    audit(
        &state,
        &staff,
        "kb_article_updated",
        serde_json::json!({"article_id": a.id, "version": a.version}),
    )
    .await?;
    save(&state, &a).await?;
    Ok(HttpResponse::Ok().json(a))
}

/// Delete an article (supervisor, admin).
#[utoipa::path(delete, path = "/api/v1/kb/articles/{id}", tag = "kb", operation_id = "kb_delete",
    security(("bearer" = [])), params(("id" = String, Path, description = "article id")),
    responses(
        (status = 204, description = "deleted"),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
    )
)]
pub async fn delete(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    staff.require_supervisor()?;
    let kb = state.server.kb().clone();
    let _w = kb.write_lock.lock().await;
    let a = load(&state, &path).await?;
    audited_delete(
        &state,
        &staff,
        "kb_article_deleted",
        serde_json::json!({"article_id": a.id, "version": a.version}),
        RecordWrite::delete(KB_ARTICLE, a.id.clone()),
    )
    .await?;
    kb.remove(&a.id);
    changed(&state, &a.id);
    Ok(HttpResponse::NoContent().finish())
}

/// A page of drafts waiting for a supervisor.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = DraftPage)]
struct DraftsOut {
    drafts: Vec<Draft>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

/// Drafts agents proposed, ordered by id (supervisor, admin).
#[utoipa::path(get, path = "/api/v1/kb/drafts", tag = "kb", operation_id = "kb_drafts",
    security(("bearer" = [])), params(ListQuery),
    responses(
        (status = 200, description = "`{drafts, next?}`", body = DraftsOut),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
    )
)]
pub async fn list_drafts(
    state: web::Data<AppState>,
    staff: Staff,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    staff.require_supervisor()?;
    let (drafts, next) = page_of(&state, KB_DRAFT, &q, |d: &Draft| d.id.clone()).await?;
    Ok(HttpResponse::Ok().json(DraftsOut { drafts, next }))
}

/// Publish a draft (supervisor, admin): it becomes the article, served at once.
///
/// A new article takes the draft's id at version 1; a change raises the article's
/// version by one, and is a 409 `conflict` (nothing changed) if the article moved on
/// or was deleted since the draft was made.
#[utoipa::path(post, path = "/api/v1/kb/drafts/{id}/publish", tag = "kb",
    operation_id = "kb_publish", security(("bearer" = [])),
    params(("id" = String, Path, description = "draft id")),
    responses(
        (status = 200, description = "the published article", body = Article),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
        (status = 409, response = ApiError),
    )
)]
pub async fn publish(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    staff.require_supervisor()?;
    let kb = state.server.kb().clone();
    let _w = kb.write_lock.lock().await;
    let d = load_draft(&state, &path).await?;
    let (id, version) = match (&d.article_id, d.base_version) {
        (Some(id), Some(base)) => {
            let old = match load(&state, id).await {
                Err(e) if e.code == ErrorCode::NotFound => {
                    return Err(ApiError::new(
                        ErrorCode::Conflict,
                        "the article was deleted since the draft was made",
                    ))
                }
                other => other?,
            };
            if old.version != base {
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    format!(
                        "the article is at version {}, the draft was made on {base}",
                        old.version
                    ),
                ));
            }
            (old.id, old.version + 1)
        }
        _ => (d.id.clone(), 1),
    };
    let a = Article {
        id,
        title: d.title,
        body: d.body,
        tags: d.tags,
        language: d.language,
        channels: d.channels,
        public: d.public,
        version,
        updated_at: now(&state),
        updated_by: staff.id.as_str().to_owned(),
    };
    let bytes =
        serde_json::to_vec(&a).map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
    audit(
        &state,
        &staff,
        "kb_article_published",
        serde_json::json!({"article_id": a.id, "version": a.version, "draft_id": d.id,
                           "proposed_by": d.proposed_by}),
    )
    .await?;
    state
        .server
        .store
        .commit(Batch {
            records: vec![
                RecordWrite::put(KB_ARTICLE, a.id.clone(), bytes),
                RecordWrite::delete(KB_DRAFT, d.id.clone()),
            ],
            ..Default::default()
        })
        .await?;
    kb.upsert(&a);
    changed(&state, &a.id);
    Ok(HttpResponse::Ok().json(a))
}

/// Discard a draft (supervisor, admin).
#[utoipa::path(delete, path = "/api/v1/kb/drafts/{id}", tag = "kb", operation_id = "kb_discard",
    security(("bearer" = [])), params(("id" = String, Path, description = "draft id")),
    responses(
        (status = 204, description = "discarded"),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
    )
)]
pub async fn discard(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    staff.require_supervisor()?;
    let kb = state.server.kb().clone();
    let _w = kb.write_lock.lock().await;
    let d = load_draft(&state, &path).await?;
    audited_delete(
        &state,
        &staff,
        "kb_draft_discarded",
        serde_json::json!({"draft_id": d.id, "article_id": d.article_id}),
        RecordWrite::delete(KB_DRAFT, d.id.clone()),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// One page of `kind`'s records after `q.after` (1..=MAX_PAGE, default 50), and the
/// id to continue after when there are more.
async fn page_of<T: serde::de::DeserializeOwned>(
    state: &AppState,
    kind: &str,
    q: &ListQuery,
    id: impl Fn(&T) -> String,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let limit = q.limit.unwrap_or(50);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::invalid(format!("limit must be 1 to {MAX_PAGE}")));
    }
    let page = state
        .server
        .store
        .records(kind, q.after.as_deref(), limit + 1)
        .await?;
    let more = page.len() > limit;
    let items: Vec<T> = page
        .into_iter()
        .take(limit)
        .filter_map(|(_, b)| serde_json::from_slice(&b).ok())
        .collect();
    let next = if more { items.last().map(id) } else { None };
    Ok((items, next))
}

/// Audits `action`, then deletes the record (the audit entry first, so no change goes
/// unaudited).
async fn audited_delete(
    state: &AppState,
    staff: &Staff,
    action: &str,
    detail: serde_json::Value,
    delete: RecordWrite,
) -> Result<(), ApiError> {
    audit(state, staff, action, detail).await?;
    state
        .server
        .store
        .commit(Batch {
            records: vec![delete],
            ..Default::default()
        })
        .await?;
    Ok(())
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

/// Full-text search (any staff).
#[utoipa::path(get, path = "/api/v1/kb/search", tag = "kb", security(("bearer" = [])),
    params(SearchQuery),
    responses(
        (status = 200, description = "hits, best first", body = SearchResult),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
    )
)]
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

/// Articles for a conversation, from its latest customer messages (agent access rules).
///
/// A search built from the conversation's latest customer messages, on its channel.
#[utoipa::path(get, path = "/api/v1/kb/suggest", tag = "kb", security(("bearer" = [])),
    params(SuggestQuery),
    responses(
        (status = 200, description = "hits, best first", body = SearchResult),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
    )
)]
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

/// The range of `GET /kb/stats`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    /// Unix ms; the UTC day it falls in is the first counted.
    pub from: i64,
    /// Unix ms, exclusive; the UTC day of `to - 1` is the last counted.
    pub to: i64,
}

/// What customers did with one article over the range.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ArticleStatsOut {
    pub id: String,
    /// Absent when the article was deleted since.
    pub title: Option<String>,
    pub language: Option<String>,
    /// Whether the help center shows it now.
    pub public: bool,
    /// Pages shown: the help center's article page and the web chat's inline article.
    pub views: u64,
    /// "Did this answer your question?" — yes.
    pub helpful: u64,
    /// … — no.
    pub not_helpful: u64,
    /// `helpful / (helpful + not_helpful)`; absent without answers.
    pub helpful_rate: Option<f64>,
}

/// Article stats over a range, most viewed first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = ArticleStatsPage)]
struct StatsOut {
    from: i64,
    to: i64,
    articles: Vec<ArticleStatsOut>,
}

/// Help-center views and "was this helpful?" answers per article (supervisor, admin).
///
/// Counted per UTC day by the node that served them and written to the store every
/// `help.flush_ms` (this node's latest counts are written before reading). Whole days:
/// every day touched by `from..to`.
#[utoipa::path(get, path = "/api/v1/kb/stats", tag = "kb", operation_id = "kb_stats",
    security(("bearer" = [])), params(StatsQuery),
    responses(
        (status = 200, description = "`{from, to, articles}`", body = StatsOut),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
    )
)]
pub async fn stats(
    state: web::Data<AppState>,
    staff: Staff,
    q: web::Query<StatsQuery>,
) -> Result<HttpResponse, ApiError> {
    use crate::kb::stats::{day_of, read};
    staff.require_supervisor()?;
    let help = &state.server.settings.help;
    if q.from < 0 || q.to <= q.from {
        return Err(ApiError::invalid("from must be >= 0 and before to"));
    }
    let (first, last) = (day_of(q.from), day_of(q.to - 1));
    if last - first >= i64::from(help.max_stats_days) {
        return Err(ApiError::invalid(format!(
            "the range is longer than {} days",
            help.max_stats_days
        )));
    }
    let kb = state.server.kb();
    kb.stats
        .flush(&state.server.store, state.server.now().0)
        .await?;
    let totals = match read(&state.server.store, first, last, help.max_stats_rows).await {
        Ok(t) => t,
        Err(Some(e)) => return Err(e.into()),
        Err(None) => {
            return Err(ApiError::invalid(format!(
                "more than {} stats rows in the range: ask for fewer days",
                help.max_stats_rows
            )))
        }
    };
    let mut articles: Vec<ArticleStatsOut> = Vec::with_capacity(totals.len());
    for (id, c) in totals {
        let a = match state.server.store.record(KB_ARTICLE, &id).await? {
            Some(bytes) => serde_json::from_slice::<Article>(&bytes).ok(),
            None => None,
        };
        let answers = c.helpful + c.not_helpful;
        articles.push(ArticleStatsOut {
            title: a.as_ref().map(|a| a.title.clone()),
            language: a.as_ref().map(|a| a.language.clone()),
            public: a.as_ref().is_some_and(Article::in_help_center),
            id,
            views: c.views,
            helpful: c.helpful,
            not_helpful: c.not_helpful,
            helpful_rate: (answers > 0).then(|| c.helpful as f64 / answers as f64),
        });
    }
    articles.sort_by(|a, b| b.views.cmp(&a.views).then_with(|| a.id.cmp(&b.id)));
    Ok(HttpResponse::Ok().json(StatsOut {
        from: q.from,
        to: q.to,
        articles,
    }))
}
