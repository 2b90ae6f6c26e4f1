//! Voice calls through Twilio Programmable Voice: the engine runs the IVR menu and
//! routes; the telephony platform carries the media.
//!
//! 1. `POST /webhooks/twilio/voice` (a call arrives: `CallSid`, `From`, `To`,
//!    `CallStatus`): answered with TwiML `<Gather>` speaking the greeting and the menu.
//!    With no menu configured the call goes straight to the voice queue.
//! 2. `POST /webhooks/twilio/voice/menu` (`Digits`): a queue option opens (or joins) the
//!    customer's conversation on channel `voice` — routed like any other, with voice's
//!    exclusive capacity — and answers `<Enqueue>` naming the conversation, so the
//!    platform holds the caller until the agent's client dials that queue. A callback
//!    option records the request in the queue and hangs up politely. An unknown digit
//!    replays the menu.
//! 3. `POST /webhooks/twilio/voice/status` (`CallStatus` = completed, busy, no-answer,
//!    canceled, failed): a caller who hangs up while waiting has abandoned; every end
//!    is recorded as a `call` event in the timeline.
//!
//! Every request must carry a valid `X-Twilio-Signature`. The call id (`CallSid`) makes
//! retries idempotent.

use super::twilio_sms::verified_form;
use super::webhook::{counted, field, required, WebhookError};
use super::{ingest, InboundMessage};
use crate::actors::messages::CallEnded;
use crate::api::AppState;
use crate::domain::{Channel, IdentityKey};
use actix_web::{web, HttpRequest, HttpResponse};

const PROVIDER: &str = "twilio_voice";

/// Escapes text for XML element content and attribute values.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn twiml(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/xml; charset=utf-8")
        .body(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>{body}</Response>"
        ))
}

fn say(state: &AppState, text: &str) -> String {
    format!(
        "<Say language=\"{}\">{}</Say>",
        xml_escape(&state.engine.settings.channels.voice.language),
        xml_escape(text)
    )
}

/// The `<Gather>` that speaks the greeting and the menu.
fn menu_twiml(state: &AppState, prefix: &str) -> HttpResponse {
    let ch = &state.engine.settings.channels;
    let v = &ch.voice;
    let mut spoken = format!("{prefix}{}", v.greeting);
    for o in &v.menu {
        spoken.push_str(&format!(" {}は{}を。", o.label, o.digit));
    }
    twiml(format!(
        "<Gather input=\"dtmf\" numDigits=\"1\" timeout=\"{}\" action=\"{}\" method=\"POST\">{}</Gather>{}<Redirect method=\"POST\">{}</Redirect>",
        v.gather_timeout_s,
        xml_escape(&format!("{}/webhooks/twilio/voice/menu", ch.public_url)),
        say(state, &spoken),
        say(state, "入力が確認できませんでした。"),
        xml_escape(&format!("{}/webhooks/twilio/voice", ch.public_url)),
    ))
}

fn enabled(state: &AppState) -> Result<(), WebhookError> {
    if state.engine.settings.channels.voice.enabled {
        Ok(())
    } else {
        Err(WebhookError::Disabled)
    }
}

/// `POST /webhooks/twilio/voice`.
pub async fn incoming(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, WebhookError> {
    counted(PROVIDER, incoming_inner(&state, &req, &body).await)
}

async fn incoming_inner(
    state: &AppState,
    req: &HttpRequest,
    body: &[u8],
) -> Result<HttpResponse, WebhookError> {
    enabled(state)?;
    let params = verified_form(
        state,
        req,
        body,
        &state.engine.settings.channels.voice.auth_token,
    )?;
    required(&params, "CallSid")?;
    required(&params, "From")?;
    if state.engine.settings.channels.voice.menu.is_empty() {
        return route_call(state, &params, None, "着信").await;
    }
    Ok(menu_twiml(state, ""))
}

/// `POST /webhooks/twilio/voice/menu`.
pub async fn menu(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, WebhookError> {
    counted(PROVIDER, menu_inner(&state, &req, &body).await)
}

async fn menu_inner(
    state: &AppState,
    req: &HttpRequest,
    body: &[u8],
) -> Result<HttpResponse, WebhookError> {
    enabled(state)?;
    let v = &state.engine.settings.channels.voice;
    let params = verified_form(state, req, body, &v.auth_token)?;
    let digits = field(&params, "Digits").unwrap_or("");
    let Some(option) = v
        .menu
        .iter()
        .find(|o| digits.len() == 1 && digits.starts_with(o.digit))
    else {
        return Ok(menu_twiml(state, "もう一度お選びください。"));
    };
    if option.callback {
        let from = required(&params, "From")?;
        let text = format!(
            "折り返し電話のご希望 ({from}) — IVR {}: {}",
            option.digit, option.label
        );
        route_call(state, &params, option.queue.clone(), &text).await?;
        return Ok(twiml(format!(
            "{}<Hangup/>",
            say(state, "折り返しお電話いたします。ありがとうございました。")
        )));
    }
    let text = format!("着信 — IVR {}: {}", option.digit, option.label);
    route_call(state, &params, option.queue.clone(), &text).await
}

/// Opens (or joins) the caller's voice conversation and holds the call for its agent.
async fn route_call(
    state: &AppState,
    params: &[(String, String)],
    queue: Option<crate::domain::QueueName>,
    text: &str,
) -> Result<HttpResponse, WebhookError> {
    let call = required(params, "CallSid")?;
    let from = required(params, "From")?;
    let mut m = InboundMessage::new(Channel::Voice, from, text);
    m.provider_msg_id = Some(call.to_owned());
    m.queue = queue;
    let done = ingest(&state.engine, m).await?;
    Ok(twiml(format!(
        "{}<Enqueue>{}</Enqueue>",
        say(state, "担当者におつなぎします。そのままお待ちください。"),
        done.ack.conversation_id
    )))
}

/// `POST /webhooks/twilio/voice/status`.
pub async fn status(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, WebhookError> {
    counted(PROVIDER, status_inner(&state, &req, &body).await)
}

async fn status_inner(
    state: &AppState,
    req: &HttpRequest,
    body: &[u8],
) -> Result<HttpResponse, WebhookError> {
    enabled(state)?;
    let params = verified_form(
        state,
        req,
        body,
        &state.engine.settings.channels.voice.auth_token,
    )?;
    let call = required(&params, "CallSid")?;
    let from = required(&params, "From")?;
    let status = required(&params, "CallStatus")?;
    if !matches!(
        status,
        "completed" | "busy" | "no-answer" | "canceled" | "failed"
    ) {
        return Ok(HttpResponse::NoContent().finish());
    }
    let key = IdentityKey::parse(Channel::Voice, from)
        .map_err(|e| WebhookError::Malformed(e.to_string()))?;
    let Some(customer) = state
        .engine
        .store
        .customer_by_identity(&key)
        .await
        .map_err(crate::actors::messages::EngineError::unavailable)?
    else {
        // A call that never reached the menu: nothing of it was recorded.
        return Ok(HttpResponse::NoContent().finish());
    };
    state
        .engine
        .ask_customer(
            customer,
            CallEnded {
                call_id: call.to_owned(),
                status: status.to_owned(),
                duration_s: field(&params, "CallDuration").and_then(|d| d.parse().ok()),
            },
        )
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
