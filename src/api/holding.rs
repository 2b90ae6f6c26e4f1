//! The holding server: what the engine's address answers while the engine waits at
//! start — for an unreachable store (the CQL database is down or has no quorum yet), or
//! as a standby, for the active engine's lease (`crate::active`). It owns no engine
//! state — there is none yet — and changes nothing:
//!
//! * `GET /healthz` — 200: the process is alive;
//! * `GET /readyz` — 503 `{"status": "store unavailable" | "standby", "store": ...,
//!   "error": ...}`, the shape the running engine gives when its store fails;
//! * everything else — 503 `{"code": "unavailable", ...}` with `Retry-After`, the
//!   documented answer of every door while the store is unavailable. Providers retry a
//!   webhook answered 503, so nothing sent meanwhile is lost.
//!
//! It is stopped (and its address freed) just before the real server binds.

use crate::domain::ErrorCode;
use actix_web::{web, App, HttpResponse, HttpServer};
use std::sync::{Arc, Mutex};

/// Why the engine is not serving yet; updated by the connect loop.
#[derive(Clone, Default)]
pub struct HoldingReason(Arc<Mutex<String>>);

impl HoldingReason {
    pub fn set(&self, reason: impl Into<String>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = reason.into();
    }
    fn get(&self) -> String {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Seconds a client is told to wait before retrying.
const RETRY_AFTER_S: &str = "5";

/// Starts the holding server on `listen`; the handle stops it. With `peers`, it also
/// answers node-to-node messages (a standby is a member other nodes reach).
pub fn start(
    listen: std::net::SocketAddr,
    status: &'static str,
    backend: &'static str,
    reason: HoldingReason,
    peers: Option<crate::peering::Receiver>,
) -> std::io::Result<actix_web::dev::ServerHandle> {
    let server = HttpServer::new(move || {
        let reason = reason.clone();
        let ready_reason = reason.clone();
        let peers = peers.clone();
        App::new()
            .configure(move |c| {
                if let Some(r) = peers {
                    crate::peering::configure(c, r);
                }
            })
            .route(
                "/healthz",
                web::get().to(|| async { HttpResponse::Ok().body("ok") }),
            )
            .route(
                "/readyz",
                web::get().to(move || {
                    let error = ready_reason.get();
                    async move {
                        HttpResponse::ServiceUnavailable().json(serde_json::json!({
                            "status": status, "store": backend, "error": error
                        }))
                    }
                }),
            )
            .default_service(web::to(move || {
                let error = reason.get();
                async move {
                    HttpResponse::ServiceUnavailable()
                        .insert_header(("Retry-After", RETRY_AFTER_S))
                        .json(serde_json::json!({
                            "code": ErrorCode::Unavailable,
                            "message": format!(
                                "the engine is not serving yet ({status}: {error}); \
                                 nothing was stored, retry shortly"
                            ),
                        }))
                }
            }))
    })
    .workers(1)
    .keep_alive(crate::peering::SERVER_KEEP_ALIVE)
    .disable_signals()
    .bind(listen)?
    .run();
    let handle = server.handle();
    actix_rt::spawn(server);
    Ok(handle)
}
