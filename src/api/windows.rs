//! The channels' reply windows over REST: `GET /api/v1/reply-windows` lists, for each
//! enabled channel that has one (Messenger, WhatsApp), how long after the customer's
//! last message free replies go out, how long a tagged late reply still does, and the
//! approved templates with their bodies and parameter counts. The agent desktop reads it
//! to show a conversation's window and to offer templates once it has closed; the rule
//! itself is applied by the customer's actor (docs/channels.md "Reply windows"). Any
//! staff member.

use super::error::ApiError;
use super::extract::Staff;
use super::AppState;
use crate::channels::registry;
use actix_web::{web, HttpResponse};
use serde::Serialize;

/// One channel's window.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WindowView {
    /// The channel, e.g. `whatsapp`.
    pub channel: String,
    /// Free replies within this long of the customer's last message.
    pub free_ms: u64,
    /// A late reply still goes out, tagged as a human agent's, up to this long; null:
    /// not at all.
    pub tagged_ms: Option<u64>,
    /// Template messages may be sent at any time.
    pub takes_templates: bool,
    /// The approved templates.
    pub templates: Vec<TemplateView>,
}

/// One approved template.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TemplateView {
    pub name: String,
    pub language: String,
    /// The body with `{{1}}`... placeholders.
    pub body: String,
    /// How many parameters the body takes.
    pub parameters: usize,
}

/// The reply windows of the enabled channels that have one.
#[utoipa::path(get, path = "/api/v1/reply-windows", tag = "conversations", operation_id = "reply_windows",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`{windows: [WindowView]}`", body = [WindowView]),
        (status = 401, response = ApiError),
    )
)]
pub async fn list(state: web::Data<AppState>, _staff: Staff) -> Result<HttpResponse, ApiError> {
    let settings = &state.server.settings.channels;
    let mut templates = registry::templates(settings);
    let windows: Vec<WindowView> = registry::windows(settings)
        .into_iter()
        .map(|(channel, w)| WindowView {
            channel: channel.to_string(),
            free_ms: w.free_ms,
            tagged_ms: w.tagged_ms,
            takes_templates: w.templates,
            templates: templates
                .remove(&channel)
                .unwrap_or_default()
                .into_iter()
                .map(|t| TemplateView {
                    parameters: t.parameter_count(),
                    name: t.name,
                    language: t.language,
                    body: t.body,
                })
                .collect(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "windows": windows })))
}
