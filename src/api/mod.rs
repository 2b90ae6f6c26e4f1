//! HTTP edge: REST under `/api/v1`, the websocket upgrade routes, health, metrics and
//! the static web clients. Handlers parse input into domain types, call the engine, and
//! map every failure through one table ([`error::ApiError`]) to a status and a JSON
//! body `{code, message}`. JSON shapes live here and in `crate::ws::protocol`.

pub mod access;
pub mod admin;
pub mod callbacks;
pub mod canned;
pub mod crm;
pub mod customers;
pub mod error;
pub mod extract;
pub mod health;
pub mod holding;
pub mod html;
pub mod identity;
pub mod inbound;
pub mod ivr;
pub mod kb;
pub mod live;
pub mod login;
pub mod notify;
pub mod openapi;
pub mod privacy;
pub mod read;
pub mod reports;
pub mod static_files;
pub mod supervisor;
pub mod survey;
pub mod ws_routes;

use crate::Server;
use actix_web::web;
use metrics_exporter_prometheus::PrometheusHandle;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub server: Server,
    pub metrics: PrometheusHandle,
}

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig, max_body: usize) {
    cfg.app_data(error::json_config(max_body))
        .app_data(error::query_config())
        .app_data(error::path_config())
        .route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/metrics", web::get().to(health::metrics))
        .route("/ws/agent", web::get().to(ws_routes::agent_ws))
        .route("/ws/chat", web::get().to(ws_routes::chat_ws))
        .route("/ws/supervisor", web::get().to(ws_routes::supervisor_ws))
        .service(
            web::scope("/api/v1")
                .route("/openapi.json", web::get().to(openapi::openapi))
                .route("/login", web::post().to(login::login))
                .route("/logout", web::post().to(login::logout))
                .route("/audit", web::get().to(privacy::audit))
                .route("/customers/{id}/export", web::get().to(privacy::export))
                .route("/customers/{id}/erase", web::post().to(privacy::erase))
                .route("/inbound", web::post().to(inbound::inbound))
                .route("/customers", web::post().to(customers::create))
                .route("/customers", web::get().to(read::customer_by_identity))
                .route("/customers/{id}", web::get().to(read::customer))
                .route("/customers/{id}/timeline", web::get().to(read::timeline))
                .route(
                    "/customers/{id}/conversations",
                    web::get().to(read::customer_conversations),
                )
                .route("/customers/{id}/identities", web::post().to(identity::link))
                .route(
                    "/customers/{id}/identities/{channel}/{address}",
                    web::delete().to(identity::unlink),
                )
                .route("/customers/{id}/merge", web::post().to(identity::merge))
                .route("/customers/{id}/unmerge", web::post().to(identity::unmerge))
                .route("/conversations/{id}", web::get().to(read::conversation))
                .route("/conversations/{id}/trace", web::get().to(read::trace))
                .route("/queues", web::get().to(live::queues))
                .route("/queues/{name}", web::get().to(live::queue))
                .route("/queues/{name}", web::put().to(admin::put_queue))
                .route("/agents/{id}", web::put().to(admin::put_agent))
                .route("/agents", web::get().to(live::agents))
                .route("/agents/{id}", web::get().to(live::agent))
                .route("/reports", web::get().to(reports::report))
                .route("/supervisor/live", web::get().to(supervisor::live))
                .route(
                    "/supervisor/subscribers",
                    web::get().to(supervisor::subscribers),
                )
                .route(
                    "/supervisor/agents/{id}/status",
                    web::post().to(supervisor::set_agent_status),
                )
                .route(
                    "/supervisor/agents/{id}/queues",
                    web::put().to(supervisor::set_agent_queues),
                )
                .route(
                    "/supervisor/queues/{name}",
                    web::patch().to(supervisor::patch_queue),
                )
                .route("/customers/{id}/crm", web::get().to(crm::customer_crm))
                .route("/canned", web::get().to(canned::list))
                .route("/canned", web::post().to(canned::create))
                .route("/canned/{id}", web::get().to(canned::get))
                .route("/canned/{id}", web::put().to(canned::update))
                .route("/canned/{id}", web::delete().to(canned::delete))
                .route("/canned/{id}/render", web::post().to(canned::render))
                .route("/surveys/{token}", web::post().to(survey::answer_json))
                .route(
                    "/conversations/{id}/survey",
                    web::get().to(survey::of_conversation),
                )
                .route("/events", web::post().to(notify::post_event))
                .route("/notification-rules", web::get().to(notify::list_rules))
                .route(
                    "/notification-rules/{type}",
                    web::put().to(notify::put_rule),
                )
                .route(
                    "/notification-rules/{type}",
                    web::get().to(notify::get_rule),
                )
                .route(
                    "/notification-rules/{type}",
                    web::delete().to(notify::delete_rule),
                )
                .route(
                    "/notifications/{id}",
                    web::get().to(notify::get_notification),
                )
                .route("/notifications-scheduler", web::get().to(notify::scheduler))
                .route("/kb/articles", web::get().to(kb::list))
                .route("/kb/articles", web::post().to(kb::create))
                .route("/kb/articles/{id}", web::get().to(kb::get))
                .route("/kb/articles/{id}", web::put().to(kb::update))
                .route("/kb/articles/{id}", web::delete().to(kb::delete))
                .route("/kb/search", web::get().to(kb::search))
                .route("/kb/suggest", web::get().to(kb::suggest))
                .route("/ivr", web::get().to(ivr::get_tree))
                .route("/ivr/articles/{id}", web::get().to(ivr::get_article))
                .route("/callbacks", web::post().to(callbacks::create))
                .route(
                    "/callbacks/{id}/outcome",
                    web::post().to(callbacks::outcome),
                )
                .default_service(web::to(error::not_found)),
        )
        .route("/survey/{token}", web::get().to(survey::form))
        .route("/survey/{token}", web::post().to(survey::submit))
        .route(
            "/unsubscribe/{token}",
            web::get().to(notify::unsubscribe_form),
        )
        .route("/unsubscribe/{token}", web::post().to(notify::unsubscribe))
        .route("/", web::get().to(static_files::root))
        .route("/{client}", web::get().to(static_files::slash))
        .route("/{client}/{path:.*}", web::get().to(static_files::serve));
}
