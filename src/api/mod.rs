//! HTTP edge: REST under `/api/v1`, the websocket upgrade routes, health, metrics and
//! the static web clients. Handlers parse input into domain types, call the engine, and
//! map every failure through one table ([`error::ApiError`]) to a status and a JSON
//! body `{code, message}`. JSON shapes live here and in `crate::ws::protocol`.

pub mod access;
pub mod admin;
pub mod audit_trail;
pub mod callbacks;
pub mod canned;
pub mod cluster_view;
pub mod connectors;
pub mod crm;
pub mod customers;
pub mod error;
pub mod extract;
pub mod files;
pub mod funnel;
pub mod health;
pub mod help;
pub mod holding;
pub mod html;
pub mod identity;
pub mod inbound;
pub mod ivr;
pub mod kb;
pub mod live;
pub mod login;
pub mod moderation;
pub mod notify;
pub mod oidc;
pub mod openapi;
pub mod outbound;
pub mod privacy;
pub mod read;
pub mod reports;
pub mod search;
pub mod simulate;
pub mod static_files;
pub mod stream;
pub mod supervisor;
pub mod survey;
pub mod voice;
pub mod voice_room;
pub mod windows;
pub mod wrapup;
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

/// Every route under `/api/v1`, in matching order: `method "path" => handler`. This
/// list is the only way a REST route is mounted ([`configure`] mounts the scope it
/// builds), and [`API_V1_ROUTES`] is the same list as data, which `openapi::tests`
/// checks against the OpenAPI document both ways: a route added here without a
/// `#[utoipa::path]` in [`openapi::ApiDoc`] fails that test, and so does a documented
/// route that is not here.
macro_rules! api_v1 {
    ($($method:ident $path:literal => $handler:path,)*) => {
        /// `(method, path)` of every route under [`API_V1`], paths relative to it.
        pub const API_V1_ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        /// The `/api/v1` scope with every route of the table; anything else in it is
        /// 404 `not_found` ([`error::not_found`]).
        fn api_v1_scope() -> actix_web::Scope {
            web::scope(API_V1)
                $(.route($path, web::$method().to($handler)))*
                .default_service(web::to(error::not_found))
        }
    };
}

/// Where the REST API is mounted.
pub const API_V1: &str = "/api/v1";

api_v1! {
    get "/openapi.json" => openapi::openapi,
    post "/login" => login::login,
    post "/logout" => login::logout,
    get "/auth/methods" => oidc::methods,
    get "/oidc/login" => oidc::login,
    get "/oidc/callback" => oidc::callback,
    get "/audit" => privacy::audit,
    get "/customers/{id}/export" => privacy::export,
    post "/customers/{id}/erase" => privacy::erase,
    post "/inbound" => inbound::inbound,
    post "/customers" => customers::create,
    get "/customers" => read::customer_by_identity,
    get "/customers/{id}" => read::customer,
    get "/customers/{id}/timeline" => read::timeline,
    get "/customers/{id}/conversations" => read::customer_conversations,
    post "/customers/{id}/conversations" => outbound::start,
    post "/conversations/{id}/moderation" => moderation::moderate,
    post "/customers/{id}/files" => files::upload,
    get "/customers/{id}/files/{file}" => files::download,
    post "/customers/{id}/identities" => identity::link,
    delete "/customers/{id}/identities/{channel}/{address}" => identity::unlink,
    post "/customers/{id}/merge" => identity::merge,
    post "/customers/{id}/unmerge" => identity::unmerge,
    post "/identities/stitch" => identity::stitch,
    get "/conversations/{id}" => read::conversation,
    get "/conversations/{id}/trace" => read::trace,
    get "/reply-windows" => windows::list,
    post "/voice/token" => voice::token,
    post "/voice/bridge" => voice::bridge,
    post "/voice/call-out" => voice::call_out,
    get "/voice/me" => voice::me,
    post "/voice/hold" => voice_room::hold,
    post "/voice/consult" => voice_room::consult,
    post "/voice/consult/complete" => voice_room::complete,
    post "/voice/consult/cancel" => voice_room::cancel,
    post "/voice/listen" => voice_room::listen,
    get "/conversations/{id}/recordings/{recording}" => voice::recording,
    get "/queues" => live::queues,
    get "/queues/{name}" => live::queue,
    put "/queues/{name}" => admin::put_queue,
    get "/queue-configs" => admin::queue_configs,
    put "/agents/{id}" => admin::put_agent,
    get "/agents" => live::agents,
    get "/agents/{id}" => live::agent,
    get "/reports" => reports::report,
    get "/reports/funnel" => funnel::funnel_report,
    post "/simulations" => simulate::simulate_period,
    get "/supervisor/live" => supervisor::live,
    get "/cluster" => cluster_view::view,
    post "/cluster/locate" => cluster_view::locate,
    get "/supervisor/subscribers" => supervisor::subscribers,
    get "/supervisor/flood" => supervisor::flood,
    post "/supervisor/agents/{id}/status" => supervisor::set_agent_status,
    put "/supervisor/agents/{id}/queues" => supervisor::set_agent_queues,
    patch "/supervisor/agents/{id}/skills" => supervisor::patch_agent_skills,
    patch "/supervisor/queues/{name}" => supervisor::patch_queue,
    get "/customers/{id}/crm" => crm::customer_crm,
    get "/canned" => canned::list,
    post "/canned" => canned::create,
    get "/canned/{id}" => canned::get,
    put "/canned/{id}" => canned::update,
    delete "/canned/{id}" => canned::delete,
    post "/canned/{id}/render" => canned::render,
    get "/connectors" => connectors::get,
    put "/connectors" => connectors::put,
    get "/wrapup-codes" => wrapup::list,
    put "/wrapup-codes/{code}" => wrapup::put,
    delete "/wrapup-codes/{code}" => wrapup::delete,
    post "/surveys/{token}" => survey::answer_json,
    get "/conversations/{id}/survey" => survey::of_conversation,
    get "/survey-settings" => survey::get_settings,
    put "/survey-settings" => survey::put_settings,
    post "/events" => notify::post_event,
    get "/notification-rules" => notify::list_rules,
    put "/notification-rules/{type}" => notify::put_rule,
    get "/notification-rules/{type}" => notify::get_rule,
    delete "/notification-rules/{type}" => notify::delete_rule,
    get "/notifications/{id}" => notify::get_notification,
    get "/notifications-scheduler" => notify::scheduler,
    get "/kb/articles" => kb::list,
    post "/kb/articles" => kb::create,
    get "/kb/articles/{id}" => kb::get,
    put "/kb/articles/{id}" => kb::update,
    delete "/kb/articles/{id}" => kb::delete,
    get "/kb/drafts" => kb::list_drafts,
    post "/kb/drafts/{id}/publish" => kb::publish,
    delete "/kb/drafts/{id}" => kb::discard,
    get "/kb/search" => kb::search,
    get "/kb/suggest" => kb::suggest,
    get "/kb/stats" => kb::stats,
    get "/search/conversations" => search::conversations,
    get "/stream/types" => stream::types,
    get "/stream/subscribers" => stream::list,
    post "/stream/subscribers" => stream::create,
    get "/stream/subscribers/{id}" => stream::get,
    patch "/stream/subscribers/{id}" => stream::update,
    delete "/stream/subscribers/{id}" => stream::delete,
    post "/stream/subscribers/{id}/secret" => stream::rotate_secret,
    post "/stream/subscribers/{id}/replay" => stream::replay,
    get "/stream/subscribers/{id}/dead-letters" => stream::dead_letters,
    post "/stream/subscribers/{id}/dead-letters/{at}/{event}/redeliver" => stream::redeliver,
    delete "/stream/subscribers/{id}/dead-letters/{at}/{event}" => stream::discard,
    get "/ivr" => ivr::get_tree,
    put "/ivr" => ivr::put_tree,
    get "/ivr/versions" => ivr::versions,
    get "/ivr/versions/{n}" => ivr::version,
    post "/ivr/versions/{n}/restore" => ivr::restore,
    get "/ivr/articles/{id}" => ivr::get_article,
    post "/callbacks" => callbacks::create,
    post "/callbacks/{id}/outcome" => callbacks::outcome,
}

/// Registers every route: health and metrics, the websocket upgrades, the REST API
/// (the `api_v1!` table), the HTML pages of email links and the static web clients.
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
        .service(api_v1_scope().wrap(actix_web::middleware::from_fn(audit_trail::audit_mutations)))
        .route("/survey/{token}", web::get().to(survey::form))
        .route("/survey/{token}", web::post().to(survey::submit))
        .route(
            "/unsubscribe/{token}",
            web::get().to(notify::unsubscribe_form),
        )
        .route("/unsubscribe/{token}", web::post().to(notify::unsubscribe))
        .route("/files/{customer}/{file}", web::get().to(files::by_link))
        .configure(help::routes)
        .route("/", web::get().to(static_files::root))
        .route("/{client}", web::get().to(static_files::slash))
        .route("/{client}/{path:.*}", web::get().to(static_files::serve));
}
