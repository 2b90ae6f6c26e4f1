//! Liveness, readiness and the Prometheus scrape endpoint.

use super::AppState;
use actix_web::{web, HttpResponse};

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// Ready when the store answers and the queue actors are up.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let store = state.engine.store.health().await;
    let queues = state.engine.queue_names().len();
    match store {
        Ok(()) if queues > 0 => {
            HttpResponse::Ok().json(serde_json::json!({"status": "ready", "queues": queues}))
        }
        Ok(()) => {
            HttpResponse::ServiceUnavailable().json(serde_json::json!({"status": "no queues"}))
        }
        Err(e) => HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({"status": "store unavailable", "error": e.to_string()})),
    }
}

pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render())
}
