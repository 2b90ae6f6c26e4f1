//! `GET /api/v1/search/conversations`: conversation search for staff (docs/search.md).
//! Supervisors and admins search every conversation; an agent only those assigned to
//! them (now or before), the rule of [`super::access`]. A search reads personal data,
//! so it is in the audit log (`super::audit_trail::PERSONAL_READS`).

use super::error::ApiError;
use super::extract::Staff;
use super::AppState;
use crate::domain::Channel;
use crate::search::{Filters, SearchHit};
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

/// Words and filters; every one given must hold.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// Words (Japanese or English), all of which must be found; at most
    /// `kb.max_query_bytes`. Empty or absent: every conversation matching the filters,
    /// newest first.
    pub q: Option<String>,
    /// A channel name (`chat`, `sms`, `email`, `line`, `voice`, …).
    pub channel: Option<String>,
    pub queue: Option<String>,
    /// Conversations assigned (now or before) to this agent.
    pub agent: Option<String>,
    /// The wrap-up code the conversation was resolved with.
    pub disposition: Option<String>,
    /// Created at or after (Unix ms).
    pub from: Option<i64>,
    /// Created before (Unix ms).
    pub to: Option<i64>,
    /// Survey score at least.
    pub csat_min: Option<u8>,
    /// Survey score at most.
    pub csat_max: Option<u8>,
    /// A customer attribute, `key:value` (case does not matter).
    pub attribute: Option<String>,
    /// Hits per page (default 20, at most `search.max_limit`).
    pub limit: Option<usize>,
    /// Hits skipped (at most `search.max_offset`).
    pub offset: Option<usize>,
}

/// A page of found conversations.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = ConversationSearchPage)]
struct Out {
    hits: Vec<SearchHit>,
    /// How many conversations matched in all.
    total: usize,
    /// `lindera-ipadic` or `cjk-bigram`.
    tokenizer: &'static str,
    /// Changes before this (Unix ms) are searchable (docs/search.md)…
    indexed_through: i64,
    /// …except these conversations, waiting to be indexed.
    pending: usize,
}

/// Search conversations (any staff; agents: their own).
#[utoipa::path(get, path = "/api/v1/search/conversations", tag = "search",
    operation_id = "search_conversations", security(("bearer" = [])), params(SearchQuery),
    responses(
        (status = 200, description = "hits, best first (newest first without words)", body = Out),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 404, response = ApiError),
        (status = 503, response = ApiError),
    )
)]
pub async fn conversations(
    state: web::Data<AppState>,
    staff: Staff,
    q: web::Query<SearchQuery>,
) -> Result<HttpResponse, ApiError> {
    let Some(feed) = state.server.search() else {
        return Err(ApiError::not_found(
            "conversation search (search.enabled is off)",
        ));
    };
    let s = &state.server.settings.search;
    let q = q.into_inner();
    let words = q.q.unwrap_or_default();
    let max_q = state.server.kb().settings.max_query_bytes;
    if words.len() > max_q {
        return Err(ApiError::invalid(format!("q is longer than {max_q} bytes")));
    }
    let limit = q.limit.unwrap_or(20);
    if !(1..=s.max_limit).contains(&limit) {
        return Err(ApiError::invalid(format!(
            "limit must be within 1..={}",
            s.max_limit
        )));
    }
    let offset = q.offset.unwrap_or(0);
    if offset > s.max_offset {
        return Err(ApiError::invalid(format!(
            "offset must be at most {}: narrow the search instead",
            s.max_offset
        )));
    }
    if let (Some(a), Some(b)) = (q.from, q.to) {
        if a >= b {
            return Err(ApiError::invalid("from must be before to"));
        }
    }
    if let (Some(a), Some(b)) = (q.csat_min, q.csat_max) {
        if a > b {
            return Err(ApiError::invalid("csat_min must not exceed csat_max"));
        }
    }
    let attribute = match q.attribute {
        None => None,
        Some(a) => match a.split_once(':') {
            Some((k, v)) if !k.trim().is_empty() && !v.trim().is_empty() => {
                Some((k.trim().to_owned(), v.trim().to_owned()))
            }
            _ => return Err(ApiError::invalid("attribute must be key:value")),
        },
    };
    let filters = Filters {
        channel: q.channel.as_deref().map(Channel::parse).transpose()?,
        queue: q.queue,
        agent: q.agent,
        disposition: q.disposition,
        from: q.from,
        to: q.to,
        csat_min: q.csat_min,
        csat_max: q.csat_max,
        attribute,
        only_agent: (!staff.sees_everything()).then(|| staff.id.as_str().to_owned()),
    };
    let feed2 = feed.clone();
    let page = web::block(move || feed2.index.search(&words, &filters, offset, limit))
        .await
        .map_err(|e| ApiError::new(crate::domain::ErrorCode::Internal, e.to_string()))?
        .map_err(|e| ApiError::new(crate::domain::ErrorCode::Internal, e.to_string()))?;
    let (indexed_through, pending) = feed.position();
    metrics::counter!("switchboard_search_queries_total").increment(1);
    Ok(HttpResponse::Ok().json(Out {
        hits: page.hits,
        total: page.total,
        tokenizer: feed.index.tokenizer_name(),
        indexed_through,
        pending,
    }))
}
