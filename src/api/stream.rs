//! The outbound event stream over REST (admins only; docs/event-stream.md):
//! subscribers (`/api/v1/stream/subscribers`), the types one can subscribe to, each
//! subscriber's progress, a new secret, a replay from a point in time, and the dead
//! letters (list, redeliver, discard). Subscribers live in the records table (kind
//! `stream_subscriber`); a change carries the version it replaces (409 otherwise) and
//! every bad field is named at once (`fields`). The secret is shown when it is made and
//! never again; the audit log keeps each change without it, and with the URL's query
//! values masked.

use super::error::ApiError;
use super::extract::Staff;
use super::AppState;
use crate::channels::stream::deliver;
use crate::channels::stream::model::{self, Replay, Subscriber, SubscriberInput};
use crate::domain::{ErrorCode, EventId, Millis, STREAM_TYPES};
use crate::store::{journal, Batch, RecordWrite};
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use switchboard_engine::actors::versioned::Claimed;

/// Serialises the read-check-write of subscriber changes within this process.
static WRITE_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A subscriber as `POST` and `PATCH` take it.
#[derive(utoipa::ToSchema)]
#[schema(as = SubscriberInput)]
#[allow(dead_code)]
pub struct SubscriberInputSchema {
    /// 1 to 100 characters.
    name: Option<String>,
    /// `https://` (or `http://` with `stream.allow_http`), a public address unless
    /// `stream.allow_private_addresses`.
    url: Option<String>,
    /// Stream types (`GET /api/v1/stream/types`), or `["*"]` for all.
    types: Option<Vec<String>>,
    active: Option<bool>,
    /// Required by `PATCH`: the version being replaced (409 otherwise).
    version: Option<u32>,
}

async fn one(state: &AppState, id: &str) -> Result<Subscriber, ApiError> {
    if !model::id_ok(id) {
        return Err(ApiError::not_found("subscriber"));
    }
    let bytes = state
        .server
        .store
        .record(model::SUBSCRIBER_KIND, id)
        .await?
        .ok_or_else(|| ApiError::not_found("subscriber"))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("stored subscriber: {e}")))
}

/// Writes `sub` as the change after version `from` (`None`: a new subscriber),
/// claimed so that no other save — on any node — took that version (409 otherwise).
async fn save(state: &AppState, sub: &Subscriber, from: Option<u32>) -> Result<(), ApiError> {
    let bytes =
        serde_json::to_vec(sub).map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
    let store = &state.server.store;
    let won = match from {
        None => CLAIMED
            .create(store, &sub.id, |_| bytes.clone())
            .await?
            .is_some(),
        Some(from) => {
            CLAIMED
                .change(store, &sub.id, from.into(), Some(bytes))
                .await?
        }
    };
    if won {
        Ok(())
    } else {
        Err(conflict())
    }
}

fn conflict() -> ApiError {
    ApiError::new(
        ErrorCode::Conflict,
        "another save changed the subscriber at the same time: reload it",
    )
}

/// Changes are claimed version by version (`Claimed`).
const CLAIMED: Claimed = Claimed(model::SUBSCRIBER_KIND);

fn settings(state: &AppState) -> &crate::channels::stream::StreamSettings {
    &state.server.settings.stream
}

/// The types a subscriber can ask for.
#[utoipa::path(get, path = "/api/v1/stream/types", tag = "stream", operation_id = "stream_types",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`{types: [...]}`; `*` subscribes to all"),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
    )
)]
pub async fn types(staff: Staff) -> Result<HttpResponse, ApiError> {
    staff.require_admin()?;
    Ok(HttpResponse::Ok().json(json!({ "types": STREAM_TYPES })))
}

/// Every subscriber (secrets never shown).
#[utoipa::path(get, path = "/api/v1/stream/subscribers", tag = "stream",
    operation_id = "stream_subscribers", security(("bearer" = [])),
    responses(
        (status = 200, description = "`{subscribers: [...]}`"),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
    )
)]
pub async fn list(state: web::Data<AppState>, staff: Staff) -> Result<HttpResponse, ApiError> {
    staff.require_admin()?;
    let subs = deliver::subscribers(&state.server.engine, settings(&state)).await?;
    let views: Vec<_> = subs.iter().map(Subscriber::view).collect();
    Ok(HttpResponse::Ok().json(json!({ "subscribers": views })))
}

/// Register a subscriber; the answer carries its signing secret, shown only now.
#[utoipa::path(post, path = "/api/v1/stream/subscribers", tag = "stream",
    operation_id = "stream_subscriber_create", security(("bearer" = [])),
    request_body = SubscriberInputSchema,
    responses(
        (status = 201, description = "the subscriber, with `secret`"),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 413, response = ApiError),
    )
)]
pub async fn create(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    staff: Staff,
    body: web::Json<SubscriberInput>,
) -> Result<HttpResponse, ApiError> {
    staff.require_admin()?;
    let input = body.into_inner();
    let now = state.server.now();
    let blank = Subscriber {
        id: model::new_id(),
        name: String::new(),
        url: String::new(),
        types: Vec::new(),
        active: true,
        secret: model::new_secret(),
        version: 1,
        created_at: now,
        updated_at: now,
        created_by: staff.id.as_str().to_owned(),
        replay: None,
    };
    let sub = input
        .apply(blank, settings(&state))
        .map_err(ApiError::fields)?;
    let _g = WRITE_LOCK.lock().await;
    let existing = deliver::subscribers(&state.server.engine, settings(&state)).await?;
    let max = settings(&state).max_subscribers;
    if existing.len() >= max {
        return Err(ApiError::new(
            ErrorCode::TooLarge,
            format!("at most {max} subscribers (stream.max_subscribers)"),
        ));
    }
    save(&state, &sub, None).await?;
    super::audit_trail::record_change(&req, None, sub.audit_view());
    let mut out = sub.view();
    out["secret"] = json!(sub.secret);
    Ok(HttpResponse::Created().json(out))
}

/// A subscriber and how far its stream has got.
#[utoipa::path(get, path = "/api/v1/stream/subscribers/{id}", tag = "stream",
    operation_id = "stream_subscriber_get", security(("bearer" = [])),
    params(("id" = String, Path, description = "subscriber id")),
    responses(
        (status = 200, description = "the subscriber with `progress`: delivered through, counts, last error, dead letters"),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
    )
)]
pub async fn get(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    staff.require_admin()?;
    let sub = one(&state, &path).await?;
    let cursor = deliver::cursor_of(&state.server.engine, &sub).await?;
    let max = settings(&state).max_dead_letters;
    let dead = deliver::dead_letters(&state.server.engine, &sub.id, None, max)
        .await?
        .len();
    let status = deliver::status_of(&state.server.engine, &sub).await?;
    let mut out = sub.view();
    out["progress"] = json!({
        "delivered_through": journal::parse_key(&cursor.position).map(|(at, _)| at),
        "delivered": cursor.delivered,
        "dead": cursor.dead,
        "dead_letters": dead,
        "last_success_at": cursor.last_success_at,
        "last_error": status.last_error,
        "last_error_at": status.last_error_at,
        "retrying": status.retrying,
    });
    Ok(HttpResponse::Ok().json(out))
}

/// Change a subscriber's name, URL, types or whether it is active; `version` must be
/// the current one.
#[utoipa::path(patch, path = "/api/v1/stream/subscribers/{id}", tag = "stream",
    operation_id = "stream_subscriber_update", security(("bearer" = [])),
    params(("id" = String, Path, description = "subscriber id")),
    request_body = SubscriberInputSchema,
    responses(
        (status = 200, description = "the subscriber"),
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
    body: web::Json<SubscriberInput>,
) -> Result<HttpResponse, ApiError> {
    staff.require_admin()?;
    let input = body.into_inner();
    let version = input
        .version
        .ok_or_else(|| ApiError::invalid("version (the one being replaced) is required"))?;
    let _g = WRITE_LOCK.lock().await;
    let old = one(&state, &path).await?;
    if old.version != version {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("version {version} is not the current {}", old.version),
        ));
    }
    let mut sub = input
        .apply(old.clone(), settings(&state))
        .map_err(ApiError::fields)?;
    sub.version = old.version + 1;
    sub.updated_at = state.server.now();
    save(&state, &sub, Some(old.version)).await?;
    super::audit_trail::record_change(&req, Some(old.audit_view()), sub.audit_view());
    Ok(HttpResponse::Ok().json(sub.view()))
}

/// Delete a subscriber, its cursor and its dead letters.
#[utoipa::path(delete, path = "/api/v1/stream/subscribers/{id}", tag = "stream",
    operation_id = "stream_subscriber_delete", security(("bearer" = [])),
    params(("id" = String, Path, description = "subscriber id")),
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
    staff.require_admin()?;
    let _g = WRITE_LOCK.lock().await;
    let old = one(&state, &path).await?;
    let max = settings(&state).max_dead_letters;
    let dead = deliver::dead_letters(&state.server.engine, &old.id, None, max).await?;
    if !CLAIMED
        .change(&state.server.store, &old.id, old.version.into(), None)
        .await?
    {
        return Err(conflict());
    }
    let mut records = vec![
        RecordWrite::delete(model::CURSOR_KIND, old.id.as_str()),
        RecordWrite::delete(model::STATUS_KIND, old.id.as_str()),
    ];
    records.extend(
        dead.iter()
            .map(|(k, _)| RecordWrite::delete(model::DEAD_KIND, model::dead_key(&old.id, k))),
    );
    state
        .server
        .store
        .commit(Batch {
            records,
            ..Default::default()
        })
        .await?;
    super::audit_trail::record_change(&req, Some(old.audit_view()), serde_json::Value::Null);
    Ok(HttpResponse::NoContent().finish())
}

/// Make a new signing secret (the old one stops at once); shown only in this answer.
#[utoipa::path(post, path = "/api/v1/stream/subscribers/{id}/secret", tag = "stream",
    operation_id = "stream_subscriber_secret", security(("bearer" = [])),
    params(("id" = String, Path, description = "subscriber id")),
    responses(
        (status = 200, description = "`{secret}`"),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
        (status = 409, response = ApiError),
    )
)]
pub async fn rotate_secret(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    staff.require_admin()?;
    let _g = WRITE_LOCK.lock().await;
    let old = one(&state, &path).await?;
    let mut sub = old.clone();
    sub.secret = model::new_secret();
    sub.version += 1;
    sub.updated_at = state.server.now();
    save(&state, &sub, Some(old.version)).await?;
    super::audit_trail::record_change(&req, Some(old.audit_view()), sub.audit_view());
    Ok(HttpResponse::Ok().json(json!({ "secret": sub.secret, "version": sub.version })))
}

/// Where a replay starts.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayIn {
    /// Unix milliseconds: every event from this instant on is sent again (within the
    /// journal's `stream.journal_hours`), with its original `Switchboard-Event-Id`.
    pub from: i64,
}

/// Send everything again from a point in time.
#[utoipa::path(post, path = "/api/v1/stream/subscribers/{id}/replay", tag = "stream",
    operation_id = "stream_subscriber_replay", security(("bearer" = [])),
    params(("id" = String, Path, description = "subscriber id")),
    request_body = ReplayIn,
    responses(
        (status = 202, description = "the subscriber; its stream restarts from `from`"),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
        (status = 409, response = ApiError),
    )
)]
pub async fn replay(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    staff: Staff,
    path: web::Path<String>,
    body: web::Json<ReplayIn>,
) -> Result<HttpResponse, ApiError> {
    staff.require_admin()?;
    let now = state.server.now();
    let kept = settings(&state).journal_hours as i64 * journal::HOUR_MS;
    let oldest = now.0 - kept;
    if body.from > now.0 || body.from < oldest {
        let mut fields = model::FieldErrors::new();
        fields.insert(
            "from".into(),
            format!(
                "must be between {oldest} and now ({}): the journal keeps {} hours",
                now.0,
                settings(&state).journal_hours
            ),
        );
        return Err(ApiError::fields(fields));
    }
    let _g = WRITE_LOCK.lock().await;
    let old = one(&state, &path).await?;
    let mut sub = old.clone();
    let token = old.replay.map(|r| r.token).unwrap_or(0) + 1;
    sub.replay = Some(Replay {
        token,
        from: Millis(body.from),
    });
    sub.version += 1;
    sub.updated_at = now;
    save(&state, &sub, Some(old.version)).await?;
    super::audit_trail::record_change(&req, Some(old.audit_view()), sub.audit_view());
    Ok(HttpResponse::Accepted().json(sub.view()))
}

/// Paging of the dead letters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeadQuery {
    /// The last `key` of the previous page.
    pub after: Option<String>,
    /// 1 to 500 (default 100).
    pub limit: Option<usize>,
}

/// A subscriber's dead letters, oldest first.
#[utoipa::path(get, path = "/api/v1/stream/subscribers/{id}/dead-letters", tag = "stream",
    operation_id = "stream_dead_letters", security(("bearer" = [])),
    params(("id" = String, Path, description = "subscriber id"), DeadQuery),
    responses(
        (status = 200, description = "`{dead_letters: [...], next}`"),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
    )
)]
pub async fn dead_letters(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    q: web::Query<DeadQuery>,
) -> Result<HttpResponse, ApiError> {
    staff.require_admin()?;
    let sub = one(&state, &path).await?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid("limit must be 1 to 500"));
    }
    if let Some(a) = &q.after {
        if journal::parse_key(a).is_none() {
            return Err(ApiError::invalid("after must be a dead letter's key"));
        }
    }
    let rows =
        deliver::dead_letters(&state.server.engine, &sub.id, q.after.as_deref(), limit + 1).await?;
    let more = rows.len() > limit;
    let page: Vec<_> = rows.into_iter().take(limit).map(|(_, d)| d).collect();
    let next = more.then(|| page.last().map(|d| d.key.clone())).flatten();
    Ok(HttpResponse::Ok().json(json!({ "dead_letters": page, "next": next })))
}

/// The dead letter named by its time and event id.
async fn dead_one(
    state: &AppState,
    sub: &Subscriber,
    at: i64,
    event: &str,
) -> Result<(String, model::DeadLetter), ApiError> {
    let id = EventId::parse(event).map_err(|_| ApiError::not_found("dead letter"))?;
    let key = journal::key_of(Millis(at), id);
    let bytes = state
        .server
        .store
        .record(model::DEAD_KIND, &model::dead_key(&sub.id, &key))
        .await?
        .ok_or_else(|| ApiError::not_found("dead letter"))?;
    let dead = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("stored dead letter: {e}")))?;
    Ok((key, dead))
}

/// Try a dead letter again now: delivered, it leaves the dead letters; refused, it
/// stays and the answer (502) says why.
#[utoipa::path(post, path = "/api/v1/stream/subscribers/{id}/dead-letters/{at}/{event}/redeliver",
    tag = "stream", operation_id = "stream_dead_letter_redeliver", security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "subscriber id"),
        ("at" = i64, Path, description = "the event's time (Unix ms), from the letter's key"),
        ("event" = String, Path, description = "the event id"),
    ),
    responses(
        (status = 200, description = "delivered"),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
        (status = 502, description = "the subscriber refused it again: `{delivered: false, error}`"),
        (status = 503, response = ApiError),
    )
)]
pub async fn redeliver(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    staff: Staff,
    path: web::Path<(String, i64, String)>,
) -> Result<HttpResponse, ApiError> {
    staff.require_admin()?;
    let (id, at, event) = path.into_inner();
    let sub = one(&state, &id).await?;
    let (key, dead) = dead_one(&state, &sub, at, &event).await?;
    let stream = state
        .server
        .stream()
        .ok_or_else(|| ApiError::new(ErrorCode::Unavailable, "the event stream is not running"))?;
    match stream.redeliver(&state.server.engine, &sub, &dead).await {
        Ok(()) => {
            state
                .server
                .store
                .commit(Batch {
                    records: vec![RecordWrite::delete(
                        model::DEAD_KIND,
                        model::dead_key(&sub.id, &key),
                    )],
                    ..Default::default()
                })
                .await?;
            super::audit_trail::record_change(
                &req,
                Some(serde_json::to_value(&dead).unwrap_or_default()),
                serde_json::Value::Null,
            );
            Ok(HttpResponse::Ok().json(json!({ "delivered": true })))
        }
        Err(e) => Ok(HttpResponse::BadGateway().json(json!({ "delivered": false, "error": e }))),
    }
}

/// Discard a dead letter.
#[utoipa::path(delete, path = "/api/v1/stream/subscribers/{id}/dead-letters/{at}/{event}",
    tag = "stream", operation_id = "stream_dead_letter_delete", security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "subscriber id"),
        ("at" = i64, Path, description = "the event's time (Unix ms), from the letter's key"),
        ("event" = String, Path, description = "the event id"),
    ),
    responses(
        (status = 204, description = "discarded"),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
    )
)]
pub async fn discard(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    staff: Staff,
    path: web::Path<(String, i64, String)>,
) -> Result<HttpResponse, ApiError> {
    staff.require_admin()?;
    let (id, at, event) = path.into_inner();
    let sub = one(&state, &id).await?;
    let (key, dead) = dead_one(&state, &sub, at, &event).await?;
    state
        .server
        .store
        .commit(Batch {
            records: vec![RecordWrite::delete(
                model::DEAD_KIND,
                model::dead_key(&sub.id, &key),
            )],
            ..Default::default()
        })
        .await?;
    super::audit_trail::record_change(
        &req,
        Some(serde_json::to_value(&dead).unwrap_or_default()),
        serde_json::Value::Null,
    );
    Ok(HttpResponse::NoContent().finish())
}
