//! Liveness, readiness and the Prometheus scrape endpoint.

use super::AppState;
use actix_web::{web, HttpResponse};

/// Liveness.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "alive: `{status: ok}`"))
)]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// Readiness (store reachable, queues up).
///
/// Ready when the store answers and the queue actors are up. `store` names the backend
/// (`embedded` or `scylla`; for ScyllaDB the probe is a LOCAL_QUORUM read).
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "ready: `{status, queues, store}`"),
        (status = 503, description = "not ready: `{status, store, error?}`"),
    )
)]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let limit = std::time::Duration::from_millis(
        state.server.settings.timing.readyz_store_timeout_ms.max(1),
    );
    let store = match tokio::time::timeout(limit, state.server.store.health()).await {
        Ok(r) => r,
        Err(_) => Err(crate::store::StoreError::Unavailable(format!(
            "the store's health read took longer than timing.readyz_store_timeout_ms = {} ms",
            limit.as_millis()
        ))),
    };
    let queues = state.server.queue_names().len();
    let backend = state.server.settings.store.backend.as_str();
    // A store that does not answer is the cause to report first; a lapsed lease is
    // the engine's own step back.
    if let (Ok(()), Some(c)) = (&store, state.server.cluster().filter(|c| c.aside())) {
        return HttpResponse::ServiceUnavailable().json(serde_json::json!({
            "status": "standing aside", "store": backend,
            "error": format!(
                "{} reaches no majority of the cluster's members, so it has handed its \
                 keys over; it joins again once a majority answers (docs/cluster.md, \
                 \"Partitions\")",
                c.node
            )
        }));
    }
    if let (Ok(()), Some(c)) = (&store, state.server.cluster().filter(|c| c.suspended())) {
        return HttpResponse::ServiceUnavailable().json(serde_json::json!({
            "status": "lease lapsed", "store": backend,
            "error": format!(
                "{} could not renew its lease in time; it serves again when the store \
                 confirms it still holds the keyspace (docs/cluster.md)",
                c.node
            )
        }));
    }
    match store {
        Ok(()) if queues > 0 => HttpResponse::Ok()
            .json(serde_json::json!({"status": "ready", "queues": queues, "store": backend})),
        Ok(()) => HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({"status": "no queues", "store": backend})),
        Err(e) => HttpResponse::ServiceUnavailable().json(serde_json::json!({
            "status": "store unavailable", "store": backend, "error": e.to_string()
        })),
    }
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, description = "metrics", content_type = "text/plain"))
)]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render())
}
