//! Proactive notification edge: `POST /api/v1/events` (an order system reports an
//! event about a customer), the notification rules (`PUT/GET/DELETE
//! /api/v1/notification-rules/{type}`, `GET /api/v1/notification-rules`), a
//! notification's state (`GET /api/v1/notifications/{id}`), the scheduler's counters
//! (`GET /api/v1/notifications-scheduler`) and the email unsubscribe page
//! (`GET`/`POST /unsubscribe/{token}`, its words in `templates/unsubscribe.html`).
//!
//! Every staff route here needs a supervisor or admin token. Everything is checked
//! before anything is stored: an unknown event type, an unknown customer, data that
//! leaves a template variable without a value, a broken template — each is a typed
//! error and changes nothing. The send itself is decided by the customer's actor
//! (`actors/customer/notify.rs`).

use super::error::ApiError;
use super::extract::Staff;
use super::AppState;
use crate::actors::customer::notify::{Notify, UnsubscribeToken};
use crate::actors::messages::SetOptOut;
use crate::domain::ErrorCode;
use crate::domain::{Channel, Customer, CustomerId, IdentityKey, Millis};
use crate::notify::{self, NotificationRecord, NotifyError, Rule, SendOrder};
use crate::survey::Language;
use crate::template::Template;
use crate::Server;
use actix_web::{http::StatusCode, web, HttpResponse};
use serde::Deserialize;
use std::sync::atomic::Ordering;
use switchboard_engine::actors::versioned::Claimed;

impl From<NotifyError> for ApiError {
    fn from(e: NotifyError) -> Self {
        ApiError::invalid(e.to_string())
    }
}

async fn rule(server: &Server, event_type: &str) -> Result<Option<Rule>, ApiError> {
    match server.store.record(notify::RULE_KIND, event_type).await? {
        Some(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| ApiError::new(ErrorCode::Internal, format!("rule: {e}"))),
        None => Ok(None),
    }
}

/// How to tell a customer about one event type.
// The schema of `Rule`, which the notify crate has without OpenAPI derives;
// `openapi::tests::schemas_of_lower_crate_types_agree_with_them` holds the two together.
#[derive(utoipa::ToSchema)]
#[schema(as = NotificationRule)]
#[allow(dead_code)]
pub struct RuleSchema {
    /// Message template per language (`ja`, `en`); at least one.
    templates: std::collections::BTreeMap<String, String>,
    /// Email subject per language (default: the event type).
    #[serde(default)]
    subjects: std::collections::BTreeMap<String, String>,
    /// Variables the templates may use besides the built-in ones.
    #[serde(default)]
    variables: Vec<String>,
    /// Channels in order of preference (the customer's preferred channel comes first).
    #[schema(value_type = Vec<super::openapi::schema::ChannelName>, inline)]
    channels: Vec<Channel>,
    /// The stored version this save replaces (0: a new rule); stale is 409. Left out,
    /// the save replaces whatever is stored. Answered with the version saved.
    version: Option<u64>,
}

/// Serialises the read-check-write of rule saves (the version check) in this process;
/// across nodes each version is claimed (`Claimed`).
static RULE_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Create or replace a notification rule (supervisor, admin).
///
/// Templates per language (ja, en), subjects, variables, channels. Every template is
/// parsed at save time (a broken one is `400 invalid` with its byte offset) and nothing
/// is saved unless all are good; `fields` names every wrong field. `version`, when
/// given, must be the stored one (0 for a new rule; a rule saved before versions is
/// 1), else `409 conflict`.
#[utoipa::path(put, path = "/api/v1/notification-rules/{type}", tag = "engagement",
    security(("bearer" = [])), params(("type" = String, Path, description = "event type: `a-z 0-9 . _ -`")),
    request_body = RuleSchema,
    responses(
        (status = 200, description = "`{type, rule}`"),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 409, response = ApiError),
    )
)]
pub async fn put_rule(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    staff: Staff,
    path: web::Path<String>,
    body: web::Json<Rule>,
) -> Result<HttpResponse, ApiError> {
    staff.require_supervisor()?;
    let server = &state.server;
    let r = body.into_inner();
    // Every wrong field named at once (the event type is the path's).
    let mut fields: std::collections::BTreeMap<String, String> = r
        .problems(server.settings.notify.max_template_bytes)
        .into_iter()
        .map(|(f, e)| (f, e.to_string()))
        .collect();
    if let Err(e) = notify::check_type(&path) {
        fields.insert("type".into(), e.to_string());
    }
    if !fields.is_empty() {
        return Err(ApiError::fields(fields));
    }
    let _one_at_a_time = RULE_LOCK.lock().await;
    let before = rule(server, &path).await?;
    let stored = before.as_ref().map_or(0, |b| b.version.unwrap_or(1));
    if r.version.is_some_and(|v| v != stored) {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("the rule is at version {stored}: reload and edit it"),
        ));
    }
    let mut r = r;
    r.version = Some(stored + 1);
    if before.is_none() {
        let max = server.settings.notify.max_rules;
        let have = server.store.records(notify::RULE_KIND, None, max).await?;
        if have.len() >= max {
            return Err(ApiError::invalid(format!("more than {max} rules")));
        }
    }
    let claimed = Claimed(notify::RULE_KIND);
    let bytes = |r: &Rule| serde_json::to_vec(r).expect("a rule serialises");
    let won = match &before {
        None => claimed
            .create(&server.store, &path, |v| {
                bytes(&Rule {
                    version: Some(v),
                    ..r.clone()
                })
            })
            .await?
            .map(|v| r.version = Some(v))
            .is_some(),
        Some(_) => {
            claimed
                .change(&server.store, &path, stored, Some(bytes(&r)))
                .await?
        }
    };
    if !won {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "another save changed the rule at the same time: reload and edit it",
        ));
    }
    super::audit_trail::record_change(
        &req,
        before.map(|b| serde_json::to_value(b).unwrap_or_default()),
        serde_json::to_value(&r).unwrap_or_default(),
    );
    Ok(HttpResponse::Ok().json(serde_json::json!({"type": path.as_str(), "rule": r})))
}

/// A notification rule (supervisor, admin).
#[utoipa::path(get, path = "/api/v1/notification-rules/{type}", tag = "engagement",
    security(("bearer" = [])), params(("type" = String, Path, description = "event type: `a-z 0-9 . _ -`")),
    responses(
        (status = 200, description = "`{type, rule}`"),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
    )
)]
pub async fn get_rule(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    staff.require_supervisor()?;
    notify::check_type(&path)?;
    let r = rule(&state.server, &path)
        .await?
        .ok_or_else(|| ApiError::not_found("notification rule"))?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"type": path.as_str(), "rule": r})))
}

/// Notification rules (supervisor, admin).
#[utoipa::path(get, path = "/api/v1/notification-rules", tag = "engagement",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`{rules: [{type, rule}]}`"),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
    )
)]
pub async fn list_rules(
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<HttpResponse, ApiError> {
    staff.require_supervisor()?;
    let server = &state.server;
    let all = server
        .store
        .records(notify::RULE_KIND, None, server.settings.notify.max_rules)
        .await?;
    let rules: Vec<serde_json::Value> = all
        .into_iter()
        .filter_map(|(k, b)| {
            let r: Rule = serde_json::from_slice(&b).ok()?;
            Some(serde_json::json!({"type": k, "rule": r}))
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "rules": rules })))
}

/// Delete a notification rule (supervisor, admin).
///
/// Scheduled sends of the type are dropped when they come due.
#[utoipa::path(delete, path = "/api/v1/notification-rules/{type}", tag = "engagement",
    security(("bearer" = [])), params(("type" = String, Path, description = "event type: `a-z 0-9 . _ -`")),
    responses(
        (status = 204, description = "deleted"),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
        (status = 409, response = ApiError),
    )
)]
pub async fn delete_rule(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    staff.require_supervisor()?;
    notify::check_type(&path)?;
    let Some(before) = rule(&state.server, &path).await? else {
        return Err(ApiError::not_found("notification rule"));
    };
    let _one_at_a_time = RULE_LOCK.lock().await;
    let version = before.version.unwrap_or(1);
    if !Claimed(notify::RULE_KIND)
        .change(&state.server.store, &path, version, None)
        .await?
    {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "another save changed the rule at the same time: reload it",
        ));
    }
    super::audit_trail::record_change(
        &req,
        Some(serde_json::to_value(before).unwrap_or_default()),
        serde_json::Value::Null,
    );
    Ok(HttpResponse::NoContent().finish())
}

/// The customer an event is about: exactly one of these.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerRef {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub line: Option<String>,
}

/// `send_at`: epoch milliseconds, or an RFC 3339 timestamp
/// `YYYY-MM-DDTHH:MM:SS(.sss)Z` or with a `±HH:MM` offset.
// Parsed by [`parse_rfc3339`].
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum SendAt {
    Ms(i64),
    Text(String),
}

/// An event about a customer.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventIn {
    /// The event type: a notification rule's name.
    #[serde(rename = "type")]
    pub event_type: String,
    pub customer: CustomerRef,
    /// The templates' variables (nested objects flatten to `a.b`).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// Send later (default: now).
    #[serde(default)]
    pub send_at: Option<SendAt>,
    /// 1 to 200 bytes: the same key and type is one notification.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// Parses an RFC 3339 timestamp, `YYYY-MM-DDTHH:MM:SS[.fff]Z` or with a `±HH:MM`
/// offset, into epoch milliseconds (a finer fraction is cut, towards the past).
///
/// jiff parses and checks the date, time and offset. Its grammar is wider than RFC
/// 3339 (ISO 8601 and RFC 9557 forms such as `20261201T0900Z`, `…T09:00+09` or
/// `…Z[Asia/Tokyo]`); the shape check before it keeps those refused, as they always
/// were here.
pub fn parse_rfc3339(s: &str) -> Option<Millis> {
    let b = s.as_bytes();
    let n = b.len();
    let rfc3339_shape = n >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[13] == b':'
        && b[16] == b':'
        && matches!(b[19], b'.' | b'Z' | b'z' | b'+' | b'-')
        && (matches!(b[n - 1], b'Z' | b'z')
            || (matches!(b[n - 6], b'+' | b'-') && b[n - 3] == b':'));
    if !rfc3339_shape {
        return None;
    }
    let t: jiff::Timestamp = s.parse().ok()?;
    i64::try_from(t.as_nanosecond().div_euclid(1_000_000))
        .ok()
        .map(Millis)
}

async fn find_customer(server: &Server, r: &CustomerRef) -> Result<Customer, ApiError> {
    let given = [
        r.id.is_some(),
        r.phone.is_some(),
        r.email.is_some(),
        r.line.is_some(),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    if given != 1 {
        return Err(ApiError::invalid(
            "customer: exactly one of id, phone, email, line",
        ));
    }
    let id = if let Some(id) = &r.id {
        CustomerId::parse(id)?
    } else {
        let key = match (&r.phone, &r.email, &r.line) {
            (Some(p), _, _) => IdentityKey::parse(Channel::Sms, p)?,
            (_, Some(e), _) => IdentityKey::parse(Channel::Email, e)?,
            (_, _, Some(l)) => IdentityKey::parse(Channel::Line, l)?,
            _ => return Err(ApiError::invalid("customer reference")),
        };
        server
            .store
            .customer_by_identity(&key)
            .await?
            .ok_or_else(|| ApiError::not_found("customer"))?
    };
    let mut c = server
        .store
        .customer(id)
        .await?
        .ok_or_else(|| ApiError::not_found("customer"))?;
    // A merged record answers for its survivor.
    if let Some(into) = c.merged_into {
        c = server
            .store
            .customer(into)
            .await?
            .ok_or_else(|| ApiError::not_found("customer"))?;
    }
    Ok(c)
}

/// Report an event about a customer (supervisor, admin).
///
/// The rule of its type decides the message; 202 `{id, status: sent|scheduled|suppressed,
/// channel?, reason?}`.
#[utoipa::path(post, path = "/api/v1/events", tag = "engagement", security(("bearer" = [])),
    request_body = EventIn,
    responses(
        (status = 202, description = "the notification"),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
    )
)]
pub async fn post_event(
    state: web::Data<AppState>,
    staff: Staff,
    body: web::Json<EventIn>,
) -> Result<HttpResponse, ApiError> {
    staff.require_supervisor()?;
    let server = &state.server;
    let cfg = &server.settings.notify;
    let ev = body.into_inner();
    notify::check_type(&ev.event_type)?;
    let rule = rule(server, &ev.event_type).await?.ok_or_else(|| {
        ApiError::invalid(format!(
            "unknown event type {:?}: no notification rule",
            ev.event_type
        ))
    })?;
    let customer = find_customer(server, &ev.customer).await?;
    let vars = notify::flatten_data(&ev.data, cfg.max_variables, cfg.max_value_bytes)?;
    // Every template of the rule must render with this data (a missing variable is
    // named now, not when the message is due).
    let mut check = vars.clone();
    check.insert("customer.id".into(), customer.id.to_string());
    check.insert("customer.name".into(), String::new());
    check.insert("unsubscribe_url".into(), String::new());
    for (lang, src) in &rule.templates {
        Template::parse(src, cfg.max_template_bytes)
            .and_then(|t| t.render(&check))
            .map_err(|e| {
                ApiError::invalid(format!("data does not fit the {lang} template: {e}"))
            })?;
    }
    let now = server.now();
    let send_at = match &ev.send_at {
        None => None,
        Some(SendAt::Ms(ms)) => Some(Millis(*ms)),
        Some(SendAt::Text(t)) => Some(parse_rfc3339(t).ok_or_else(|| {
            ApiError::invalid("send_at: RFC 3339 (2026-12-01T09:00:00Z) or epoch milliseconds")
        })?),
    };
    if send_at.is_some_and(|at| at.0 > now.0.saturating_add(cfg.max_schedule_ahead_ms as i64)) {
        return Err(ApiError::invalid("send_at is too far ahead"));
    }
    let id = match &ev.idempotency_key {
        Some(k) if k.is_empty() || k.len() > 200 => {
            return Err(ApiError::invalid("idempotency_key must be 1 to 200 bytes"))
        }
        Some(k) => notify::id_for_key(&ev.event_type, k),
        None => format!("n-{}", uuid::Uuid::now_v7().simple()),
    };
    let order = SendOrder {
        id,
        event_type: ev.event_type,
        customer_id: customer.id,
        vars,
        send_at,
        created_at: now,
    };
    let rec = server
        .ask_customer(
            customer.id,
            Notify {
                order,
                rule,
                due_key: None,
            },
        )
        .await?;
    Ok(HttpResponse::Accepted().json(rec))
}

/// A notification and its delivery status (supervisor, admin).
#[utoipa::path(get, path = "/api/v1/notifications/{id}", tag = "engagement",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "notification id")),
    responses(
        (status = 200, description = "the notification and `delivery`"),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
    )
)]
pub async fn get_notification(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    staff.require_supervisor()?;
    if path.len() > 100 {
        return Err(ApiError::not_found("notification"));
    }
    let raw = state
        .server
        .store
        .record(notify::NOTIFICATION_KIND, &path)
        .await?
        .ok_or_else(|| ApiError::not_found("notification"))?;
    let rec: NotificationRecord = serde_json::from_slice(&raw)
        .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
    // Delivery (sent to the provider, failed, bounced) is the `message_status` of the
    // `notification_sent` event, looked up among the customer's latest events.
    let mut delivery = serde_json::Value::Null;
    if let Some(ev) = rec.event_id {
        let page = state.server.settings.limits.max_page;
        let events =
            crate::actors::timeline::timeline(&state.server.store, rec.customer_id, None, page)
                .await?;
        // Newest first: the first status found is the latest.
        if let Some(e) = events.iter().find(|e| {
            matches!(&e.kind, crate::domain::EventKind::MessageStatus { message_event_id, .. } if *message_event_id == ev)
        }) {
            if let crate::domain::EventKind::MessageStatus { status, detail, provider_msg_id, .. } = &e.kind {
                delivery = serde_json::json!({"status": status, "detail": detail, "provider_msg_id": provider_msg_id, "at": e.at});
            }
        }
    }
    let mut body = serde_json::to_value(&rec)
        .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
    body["delivery"] = delivery;
    Ok(HttpResponse::Ok().json(body))
}

/// Notification scheduler counters (supervisor, admin).
///
/// Ticks completed, the engine time the last one looked at, scheduled sends handed
/// over.
#[utoipa::path(get, path = "/api/v1/notifications-scheduler", tag = "engagement",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`{ticks, last_tick_at, sent}`"),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
    )
)]
pub async fn scheduler(state: web::Data<AppState>, staff: Staff) -> Result<HttpResponse, ApiError> {
    staff.require_supervisor()?;
    let s = &state.server.notify_stats;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "ticks": s.ticks.load(Ordering::SeqCst),
        "last_tick_at": s.last_tick_at.load(Ordering::SeqCst),
        "sent": s.sent.load(Ordering::SeqCst),
    })))
}

// ------------------------------------------------------------------ unsubscribe

/// The unsubscribe pages' Content-Security-Policy: no script, no style, forms post back.
const UNSUBSCRIBE_CSP: &str = "default-src 'none'; form-action 'self'";

/// What the unsubscribe page says; the words are in `templates/unsubscribe.html`.
enum Step {
    Confirm,
    Invalid,
    Done,
    Retry,
}

#[derive(askama::Template)]
#[template(path = "unsubscribe.html")]
struct UnsubscribePage {
    lang: &'static str,
    step: Step,
}

fn html(status: StatusCode, lang: Language, step: Step) -> HttpResponse {
    let page = UnsubscribePage {
        lang: lang.as_str(),
        step,
    };
    super::html::page(status, UNSUBSCRIBE_CSP, &page)
}

async fn token_doc(server: &Server, token: &str) -> Option<UnsubscribeToken> {
    if token.len() != 32 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let raw = server
        .store
        .record(notify::UNSUBSCRIBE_KIND, token)
        .await
        .ok()??;
    serde_json::from_slice(&raw).ok()
}

fn lang(server: &Server) -> Language {
    Language::parse(&server.settings.notify.default_language).unwrap_or(Language::Ja)
}

/// `GET /unsubscribe/{token}`: a confirmation form (a GET changes nothing, so link
/// scanners cannot unsubscribe anyone).
pub async fn unsubscribe_form(state: web::Data<AppState>, path: web::Path<String>) -> HttpResponse {
    let l = lang(&state.server);
    if token_doc(&state.server, &path).await.is_none() {
        return html(StatusCode::NOT_FOUND, l, Step::Invalid);
    }
    html(StatusCode::OK, l, Step::Confirm)
}

/// `POST /unsubscribe/{token}` (the form, or RFC 8058 one-click): opts the customer
/// out of email.
pub async fn unsubscribe(state: web::Data<AppState>, path: web::Path<String>) -> HttpResponse {
    let l = lang(&state.server);
    let Some(doc) = token_doc(&state.server, &path).await else {
        return html(StatusCode::NOT_FOUND, l, Step::Invalid);
    };
    let res = state
        .server
        .ask_customer(
            doc.customer_id,
            SetOptOut {
                channel: doc.channel,
                opted_out: true,
                provider_msg_id: None,
            },
        )
        .await;
    match res {
        Ok(()) => html(StatusCode::OK, l, Step::Done),
        Err(e) => html(super::error::status_of(e.code), l, Step::Retry),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_timestamps() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(Millis(0)));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:01.5Z"), Some(Millis(1_500)));
        assert_eq!(
            parse_rfc3339("2026-12-01T09:00:00+09:00"),
            parse_rfc3339("2026-12-01T00:00:00Z")
        );
        assert_eq!(
            parse_rfc3339("2000-03-01T00:00:00Z"),
            Some(Millis(951_868_800_000))
        );
        assert_eq!(parse_rfc3339("2026-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("tomorrow"), None);
        assert_eq!(parse_rfc3339("2026-12-01T00:00:00"), None);
    }

    #[test]
    fn unsubscribe_pages() {
        use askama::Template;
        let render = |step| UnsubscribePage { lang: "ja", step }.render().unwrap();
        assert!(render(Step::Confirm).contains(r#"<form method="post">"#));
        assert!(render(Step::Done).contains(r#"<p id="result" data-code="ok">"#));
        for step in [Step::Invalid, Step::Retry] {
            let page = render(step);
            assert!(page.contains(r#"<p id="result">"#), "{page}");
            assert!(page.starts_with("<!doctype html>\n<html lang=\"ja\">"));
        }
    }

    #[test]
    fn rfc3339_edges() {
        let utc = parse_rfc3339("2026-12-01T00:00:00Z");
        assert!(utc.is_some());
        // RFC 3339 allows lower case and a space for the `T`, and `-00:00`.
        for same in [
            "2026-12-01t00:00:00z",
            "2026-12-01 00:00:00Z",
            "2026-12-01T00:00:00-00:00",
            "2026-12-01T00:00:00.000Z",
            "2026-11-30T15:00:00.0000000-09:00",
        ] {
            assert_eq!(parse_rfc3339(same), utc, "{same}");
        }
        // Fractions are cut to the millisecond, towards the past.
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00.0019Z"), Some(Millis(1)));
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59.9991Z"), Some(Millis(-1)));
        // ISO 8601 and RFC 9557 forms that jiff reads are not RFC 3339.
        for refused in [
            "20261201T000000Z",
            "2026-12-01T00:00Z",
            "2026-12-01T00Z",
            "2026-12-01T00:00:00+09",
            "2026-12-01T00:00:00+0900",
            "2026-12-01T00:00:00,5Z",
            "2026-12-01T00:00:00Z[UTC]",
            "2026-12-01T00:00:00+09:00[Asia/Tokyo]",
            "+002026-12-01T00:00:00Z",
            "2026-12-01T00:00:00.Z",
            "2026-12-01X00:00:00Z",
            "2026-12-01T24:00:00Z",
            // An impossible day (jiff checks the month's length).
            "2026-02-30T00:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(refused), None, "{refused}");
        }
    }
}
