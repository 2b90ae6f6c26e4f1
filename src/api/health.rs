//! Liveness, readiness and the Prometheus scrape endpoint.

use super::AppState;
use actix_web::{web, HttpResponse};

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// Ready when the store answers and the queue actors are up. `store` names the backend
/// (`embedded` or `scylla`; for ScyllaDB the probe is a LOCAL_QUORUM read).
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

pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render())
}
