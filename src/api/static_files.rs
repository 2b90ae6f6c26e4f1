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

const SERVED: [&str; 5] = ["admin", "agent", "chat", "shared", "supervisor"];

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

/// Where the Twilio Voice JS SDK of the agent desktop's softphone connects and fetches
/// its sounds from (its README, "Content Security Policy"); the SDK itself is served
/// from here (`clients/agent/vendor/`).
const TWILIO_VOICE_CONNECT: &str = "https://eventgw.twilio.com wss://voice-js.roaming.twilio.com \
     https://media.twiliocdn.com https://sdk.twilio.com";
const TWILIO_VOICE_MEDIA: &str = "mediastream: https://media.twiliocdn.com https://sdk.twilio.com";

/// The Content-Security-Policy of `client`'s pages; `softphone`: the agent desktop may
/// reach Twilio's voice hosts (`[channels.voice.softphone]` configured).
pub fn page_csp(client: &str, allowed_origins: &[String], softphone: bool) -> String {
    let ancestors = if client == "chat" {
        std::iter::once("'self'")
            .chain(allowed_origins.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        "'none'".to_owned()
    };
    let (connect, media) = if softphone && client == "agent" {
        (
            format!("'self' {TWILIO_VOICE_CONNECT}"),
            format!("'self' blob: {TWILIO_VOICE_MEDIA}"),
        )
    } else {
        ("'self'".to_owned(), "'self' blob:".to_owned())
    };
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data: blob: https:; media-src {media}; frame-src blob:; \
         connect-src {connect}; \
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
                let settings = &state.server.settings;
                let voice = &settings.channels.voice;
                let softphone = voice.enabled && voice.softphone.configured();
                let origins = &settings.security.allowed_origins;
                r.insert_header((
                    "Content-Security-Policy",
                    page_csp(&client, origins, softphone),
                ));
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
