//! The web clients from `clients/` (agent desktop, customer chat, shared modules),
//! embedded into the binary at build time (read from disk in debug builds), served at
//! `/agent/`, `/chat/`, `/supervisor/` and `/shared/`. Every file of those folders is
//! served, so a new module needs no list; what only development reads (the browser
//! tests, npm's files, the type checker's `tsconfig.json` and `types/`) is left out.
//!
//! Every page is sent with a Content-Security-Policy: scripts only from the engine
//! (no inline script, no `eval`), connections only back to it, and frame ancestors
//! `'none'` for the staff pages (agent, supervisor) or the engine and
//! `security.allowed_origins` for the customer chat (a company site may frame it).

use actix_web::{http::header, web, HttpResponse};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "clients/"]
#[exclude = "node_modules/*"]
#[exclude = "tests/*"]
#[exclude = "package*.json"]
#[exclude = "tsconfig.json"]
#[exclude = "types/*"]
struct Clients;

const SERVED: [&str; 4] = ["agent", "chat", "shared", "supervisor"];

pub async fn root() -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, "/agent/"))
        .finish()
}

/// `/agent` -> `/agent/` so relative asset URLs resolve.
pub async fn slash(path: web::Path<String>) -> HttpResponse {
    let client = path.into_inner();
    if !SERVED.contains(&client.as_str()) {
        return HttpResponse::NotFound()
            .json(serde_json::json!({"code": "not_found", "message": "no such page"}));
    }
    HttpResponse::MovedPermanently()
        .insert_header((header::LOCATION, format!("/{client}/")))
        .finish()
}

/// The Content-Security-Policy of `client`'s pages.
pub fn page_csp(client: &str, allowed_origins: &[String]) -> String {
    let ancestors = if client == "chat" {
        std::iter::once("'self'")
            .chain(allowed_origins.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        "'none'".to_owned()
    };
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data: blob: https:; media-src 'self' blob:; frame-src blob:; \
         connect-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors {ancestors}"
    )
}

pub async fn serve(
    path: web::Path<(String, String)>,
    state: web::Data<super::AppState>,
) -> HttpResponse {
    let (client, rest) = path.into_inner();
    if !SERVED.contains(&client.as_str()) {
        return HttpResponse::NotFound()
            .json(serde_json::json!({"code": "not_found", "message": "no such page"}));
    }
    let rest = if rest.is_empty() || rest.ends_with('/') {
        format!("{rest}index.html")
    } else {
        rest
    };
    let file = format!("{client}/{rest}");
    match Clients::get(&file) {
        Some(content) => {
            let mime = content.metadata.mimetype();
            let mut r = HttpResponse::Ok();
            r.content_type(mime)
                .insert_header((header::CACHE_CONTROL, "no-cache"))
                .insert_header(("X-Content-Type-Options", "nosniff"))
                .insert_header(("Referrer-Policy", "same-origin"));
            if mime.starts_with("text/html") {
                let origins = &state.server.settings.security.allowed_origins;
                r.insert_header(("Content-Security-Policy", page_csp(&client, origins)));
                if client != "chat" {
                    r.insert_header(("X-Frame-Options", "DENY"));
                }
            }
            r.body(content.data.into_owned())
        }
        None => HttpResponse::NotFound()
            .json(serde_json::json!({"code": "not_found", "message": "no such file"})),
    }
}
