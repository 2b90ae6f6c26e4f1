//! The web clients from `clients/` (agent desktop, customer chat, shared modules),
//! embedded into the binary at build time (read from disk in debug builds), served at
//! `/agent/`, `/chat/`, `/supervisor/` and `/shared/`. Every file of those folders is
//! served, so a new module needs no list; what only development reads (the browser
//! tests, npm's files, the type checker's `tsconfig.json` and `types/`) is left out.

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

pub async fn serve(path: web::Path<(String, String)>) -> HttpResponse {
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
        Some(content) => HttpResponse::Ok()
            .content_type(content.metadata.mimetype())
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .insert_header(("X-Content-Type-Options", "nosniff"))
            .body(content.data.into_owned()),
        None => HttpResponse::NotFound()
            .json(serde_json::json!({"code": "not_found", "message": "no such file"})),
    }
}
