//! The audit trail of every staff request that may change something
//! (docs/security.md "Audit log"): a middleware around the `/api/v1` scope that, once
//! a `POST`, `PUT`, `PATCH` or `DELETE` made with a valid staff token has been
//! answered, appends one entry to the store's audit log — who (the token's staff
//! member: the `Staff` extractor leaves it in the request, or the token is checked
//! here when the handler refused the request before reading it), when, from where (the
//! client address, `security.proxies` honoured), which route (`action`: the method and
//! the route's pattern, e.g. `PUT /api/v1/agents/{id}`), its path parameters and the
//! answer's status. A refused attempt is recorded too: the log says what staff tried,
//! not only what succeeded. Request bodies are not recorded (they carry passwords and
//! personal data); a handler that changes a resource says what it was before and is
//! after ([`record_change`], secrets left out: agents, queues, canned responses,
//! notification rules, supervisor patches, identity links and merges), and the routes that
//! export or play personal data write their own entries (`customer_exported`,
//! `recording_played`, …). A staff member's successful read of personal data over
//! REST ([`PERSONAL_READS`]) is audited the same way, with its query string (what a
//! search asked for); reads over the agent's websocket
//! (the desktop's own conversations) are not.
//!
//! Requests without a staff token (a visitor's, a provider's, a failed login) are not
//! staff actions: the routes that take them audit what they must themselves (login
//! failures raise `login_failures_alarm`). An entry that cannot be written (the store
//! down) is logged and counted (`switchboard_audit_write_failures_total`); the answer
//! already given stands.

use super::extract::Staff;
use super::AppState;
use crate::store::AuditEntry;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage};

/// Whether `method` may change something.
fn mutating(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

/// The `GET` routes that read a customer's personal data (patterns under `/api/v1`):
/// a staff member's successful read is audited. The export and a recording's playback
/// write entries of their own (`customer_exported`, `recording_played`).
pub const PERSONAL_READS: &[&str] = &[
    "/customers",
    "/customers/{id}",
    "/customers/{id}/timeline",
    "/customers/{id}/conversations",
    "/customers/{id}/files/{file}",
    "/customers/{id}/crm",
    "/conversations/{id}",
    "/conversations/{id}/trace",
    "/conversations/{id}/survey",
    "/search/conversations",
];

/// What a handler changed, for its request's audit entry (`detail.change`): the
/// resource before (none when created) and after, secrets left out.
#[derive(Debug, Clone)]
pub struct Change {
    pub before: Option<serde_json::Value>,
    pub after: serde_json::Value,
}

/// Records on `req` what its handler changed: the audit entry of the request carries it.
pub fn record_change(
    req: &actix_web::HttpRequest,
    before: Option<serde_json::Value>,
    after: serde_json::Value,
) {
    req.extensions_mut().insert(Change { before, after });
}

/// Whether the answered request `res` is audited: a staff mutation, whatever its
/// answer, or a successful read of personal data.
fn audited<B>(res: &ServiceResponse<B>) -> bool {
    let request = res.request();
    if mutating(request.method()) {
        return true;
    }
    request.method() == Method::GET
        && res.status().is_success()
        && request.match_pattern().is_some_and(|p| {
            p.strip_prefix(super::API_V1)
                .is_some_and(|p| PERSONAL_READS.contains(&p))
        })
}

/// The middleware: answers `req`, then audits it when it was a staff mutation or a
/// read of personal data.
pub async fn audit_mutations(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let res = next.call(req).await?;
    if !audited(&res) {
        return Ok(res);
    }
    let request = res.request();
    let Some(state) = request.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(res);
    };
    let server = &state.server;
    // The handler's `Staff` extractor left who asked; a request refused before it ran
    // (a body that did not parse) is checked here.
    let known = request.extensions().get::<Staff>().cloned();
    let staff = match known {
        Some(s) => s,
        None => match super::extract::bearer_token(request) {
            Ok(token) => match super::extract::staff_from_token(server, token).await {
                Ok(s) => s,
                Err(_) => return Ok(res),
            },
            Err(_) => return Ok(res),
        },
    };
    let pattern = request
        .match_pattern()
        .unwrap_or_else(|| request.path().to_owned());
    let params: serde_json::Map<String, serde_json::Value> = request
        .match_info()
        .iter()
        .map(|(k, v)| (k.to_owned(), serde_json::Value::from(v)))
        .collect();
    let customer_id = pattern
        .starts_with("/api/v1/customers/{id}")
        .then(|| request.match_info().get("id"))
        .flatten()
        .and_then(|id| crate::domain::CustomerId::parse(id).ok());
    let from = crate::security::client::client_ip(request, &server.security.proxies);
    let change = request.extensions().get::<Change>().cloned();
    let entry = AuditEntry {
        id: crate::domain::EventId::new(),
        at: server.now(),
        actor: staff.id.clone(),
        action: format!("{} {pattern}", request.method()),
        customer_id,
        detail: {
            let mut d = serde_json::json!({
                "path": request.path(),
                "params": params,
                "status": res.status().as_u16(),
                "from": from,
                "role": staff.role,
            });
            if let Some(c) = change {
                d["change"] = serde_json::json!({"before": c.before, "after": c.after});
            }
            // What a read asked for (a search's words and filters).
            if request.method() == actix_web::http::Method::GET
                && !request.query_string().is_empty()
            {
                d["query"] = request.query_string().into();
            }
            d
        },
    };
    if let Err(e) = server.store.append_audit(entry).await {
        crate::metrics::audit_write_failed();
        tracing::error!(actor = %staff.id, route = %pattern, error = %e, "an audit entry was not written");
    }
    Ok(res)
}
