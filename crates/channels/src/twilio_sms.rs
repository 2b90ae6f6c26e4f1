//! SMS through Twilio Programmable Messaging.
//!
//! - Inbound: `POST /webhooks/twilio/sms`, form-encoded (`MessageSid`, `From`, `To`,
//!   `Body`, `NumMedia`, `MediaUrl{n}`, `MediaContentType{n}`), signed with
//!   `X-Twilio-Signature`. Answered with an empty TwiML `<Response/>` once durable.
//!   `STOP`-family keywords opt the customer out of SMS, `START`-family back in (the
//!   same keyword lists as Twilio's Advanced Opt-Out); neither opens a conversation.
//! - Outbound: `POST {api_base}/2010-04-01/Accounts/{AccountSid}/Messages.json` with
//!   `To`, `From`, `Body`, `StatusCallback`, HTTP basic auth `AccountSid:AuthToken`.
//! - Status: `POST /webhooks/twilio/sms/status` (`MessageSid`, `MessageStatus`,
//!   `ErrorCode`); the callback URL carries the customer and event ids (covered by the
//!   signature), and each state becomes a `message_status` event.

use super::connector::{serve, Connector, SendContext, Sender, Webhook};
use super::webhook::{self, field, required, WebhookError};
use super::{ingest, ChannelSettings, InboundMessage};
use crate::actors::messages::RecordEvents;
use crate::connector::{SendFailure, SendResult};
use crate::domain::{
    Attachment, Channel, CustomerId, DeliveryStatus, EventId, EventKind, IdentityKey, TimelineEvent,
};
use crate::media;
use crate::Gateway;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::future::BoxFuture;
use switchboard_engine::outbound::Delivery;

const PROVIDER: &str = "twilio_sms";
/// Twilio allows at most 10 media items per message.
const MAX_MEDIA: usize = 10;

const STOP_WORDS: [&str; 8] = [
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "OPTOUT",
    "REVOKE",
];
const START_WORDS: [&str; 3] = ["START", "YES", "UNSTOP"];

/// Empty TwiML: "received, nothing to send right now".
pub fn empty_twiml() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/xml; charset=utf-8")
        .body("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>")
}

/// The SMS connector: Twilio Programmable Messaging.
pub struct TwilioSms;

impl Connector for TwilioSms {
    fn provider(&self) -> &'static str {
        PROVIDER
    }
    fn enabled(&self, s: &ChannelSettings) -> bool {
        s.sms.enabled
    }
    fn routes(&self, cfg: &mut web::ServiceConfig) {
        cfg.route("/twilio/sms", web::post().to(inbound))
            .route("/twilio/sms/status", web::post().to(status));
    }
    fn sender(&self) -> Option<&dyn Sender> {
        Some(self)
    }
}

impl Sender for TwilioSms {
    fn channel(&self) -> Channel {
        Channel::Sms
    }
    /// As MMS (`MediaUrl`), where the number and the destination country take it.
    fn carries_files(&self) -> bool {
        true
    }
    fn send<'a>(&'a self, cx: SendContext<'a>, d: &'a Delivery) -> BoxFuture<'a, SendResult> {
        Box::pin(send(cx, d))
    }
}

impl Webhook for TwilioSms {
    type Verified = Vec<(String, String)>;
    const CONTENT_TYPE: &'static str = "application/x-www-form-urlencoded";
    fn verify(
        &self,
        gateway: &Gateway,
        req: &HttpRequest,
        body: &[u8],
    ) -> Result<Self::Verified, WebhookError> {
        webhook::twilio_form(gateway, req, body, &gateway.channels().sms.auth_token)
    }
}

/// `POST /webhooks/twilio/sms`.
pub async fn inbound(
    state: web::Data<Gateway>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, WebhookError> {
    serve(&TwilioSms, &state, &req, &body, |params| {
        inbound_inner(&state, params)
    })
    .await
}

async fn inbound_inner(
    state: &Gateway,
    params: Vec<(String, String)>,
) -> Result<HttpResponse, WebhookError> {
    let cfg = &state.channels().sms;
    let SmsIn {
        sid,
        from,
        text,
        opt,
        attachments,
    } = parse_inbound(&params)?;
    let gateway = &state;
    if let Some(opted_out) = opt {
        // Recorded under its MessageSid, or dropped if an erasure left its tombstone.
        crate::actors::ingest::opt_out_from_provider(
            gateway,
            Channel::Sms,
            from,
            Some(sid),
            opted_out,
        )
        .await?;
        return Ok(empty_twiml());
    }

    let mut m = InboundMessage::new(Channel::Sms, from, text);
    m.provider_msg_id = Some(sid.to_owned());
    // MMS media: Twilio's media URLs, read with the account's credentials (they
    // redirect to Twilio's CDN, which takes none).
    m.attachments = attachments;
    let auth = media::Auth::Basic(cfg.account_sid.clone(), cfg.auth_token.clone());
    media::fetch_urls(gateway, "twilio", &mut m, auth, &cfg.api_base).await;
    m.queue = cfg.queue.clone();
    // Stored, or dropped as received before its customer was erased: Twilio gets the
    // same answer either way, so it does not retry.
    ingest(gateway, m).await?;
    Ok(empty_twiml())
}

/// An inbound SMS as the webhook's form fields say it.
#[derive(Debug)]
struct SmsIn<'a> {
    sid: &'a str,
    from: &'a str,
    text: &'a str,
    /// `Some(true)` for a STOP-family keyword, `Some(false)` for START-family.
    opt: Option<bool>,
    attachments: Vec<Attachment>,
}

/// Reads an inbound SMS from verified form fields. Pure, no I/O: fuzzed through
/// `switchboard::fuzz`.
fn parse_inbound(params: &[(String, String)]) -> Result<SmsIn<'_>, WebhookError> {
    let sid = field(params, "MessageSid")
        .or_else(|| field(params, "SmsSid"))
        .filter(|s| !s.is_empty())
        .ok_or_else(|| WebhookError::Malformed("MessageSid is missing".into()))?;
    let from = required(params, "From")?;
    let text = field(params, "Body").unwrap_or("");
    let keyword = text.trim().to_ascii_uppercase();
    let opt = if STOP_WORDS.contains(&keyword.as_str()) {
        Some(true)
    } else if START_WORDS.contains(&keyword.as_str()) {
        Some(false)
    } else {
        None
    };
    let n_media: usize = field(params, "NumMedia")
        .unwrap_or("0")
        .parse()
        .map_err(|_| WebhookError::Malformed("NumMedia is not a number".into()))?;
    let attachments = (0..n_media.min(MAX_MEDIA))
        .filter_map(|i| {
            let url = field(params, &format!("MediaUrl{i}"))?;
            let ct = field(params, &format!("MediaContentType{i}"));
            Some(Attachment {
                kind: ct
                    .and_then(|c| c.split('/').next())
                    .unwrap_or("file")
                    .to_owned(),
                name: None,
                content_type: ct.map(str::to_owned),
                size: None,
                url: Some(url.to_owned()),
                file: None,
            })
        })
        .collect();
    Ok(SmsIn {
        sid,
        from,
        text,
        opt,
        attachments,
    })
}

/// Fuzz entry (see `switchboard::fuzz`): a form body read as the inbound handler reads it
/// (after its signature check). Returns whether it was accepted.
#[doc(hidden)]
pub fn fuzz_body(body: &[u8]) -> bool {
    let Ok(params) = webhook::parse_form(body) else {
        return false;
    };
    match parse_inbound(&params) {
        Ok(m) => {
            assert!(m.attachments.len() <= MAX_MEDIA);
            let _ = IdentityKey::parse(Channel::Sms, m.from);
            true
        }
        Err(_) => false,
    }
}

#[derive(Debug, serde::Deserialize)]
pub struct StatusQuery {
    c: CustomerId,
    e: EventId,
    conv: crate::domain::ConversationId,
}

/// `POST /webhooks/twilio/sms/status?c={customer}&e={event}&conv={conversation}`.
pub async fn status(
    state: web::Data<Gateway>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, WebhookError> {
    serve(&TwilioSms, &state, &req, &body, |params| {
        status_inner(&state, &req, params)
    })
    .await
}

async fn status_inner(
    state: &Gateway,
    req: &HttpRequest,
    params: Vec<(String, String)>,
) -> Result<HttpResponse, WebhookError> {
    let q = web::Query::<StatusQuery>::from_query(req.query_string())
        .map_err(|e| WebhookError::Malformed(format!("callback query: {e}")))?;
    let sid = required(&params, "MessageSid")?;
    let status = match required(&params, "MessageStatus")? {
        "delivered" => DeliveryStatus::Delivered,
        "read" => DeliveryStatus::Read,
        "failed" | "undelivered" => DeliveryStatus::Failed,
        // queued / sending / sent / accepted / scheduled: already recorded as sent.
        _ => return Ok(HttpResponse::NoContent().finish()),
    };
    let detail = field(&params, "ErrorCode").map(|c| format!("Twilio error {c}"));
    let ev = TimelineEvent::new(
        q.c,
        Some(q.conv),
        state.now(),
        EventKind::MessageStatus {
            message_event_id: q.e,
            channel: Channel::Sms,
            status,
            provider_msg_id: Some(sid.to_owned()),
            detail,
        },
    );
    state
        .ask_customer(
            q.c,
            RecordEvents {
                events: vec![ev],
                outbox_done: Vec::new(),
            },
        )
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Sends `d` with the Messages API.
pub async fn send(cx: SendContext<'_>, d: &Delivery) -> SendResult {
    let (client, cfg) = (cx.client, &cx.gateway.channels());
    let sms = &cfg.sms;
    let url = format!(
        "{}/2010-04-01/Accounts/{}/Messages.json",
        sms.api_base, sms.account_sid
    );
    let callback = format!(
        "{}/webhooks/twilio/sms/status?c={}&e={}&conv={}",
        cfg.public_url, d.customer_id, d.event_id, d.conversation_id
    );
    // Files go as MMS: Twilio fetches each signed link (`crate::file_links`).
    let links = crate::file_links::of_delivery(cx.gateway, d)?;
    let mut form = vec![
        ("To", d.to.as_str()),
        ("From", sms.from_number.as_str()),
        ("Body", d.text.as_str()),
        ("StatusCallback", callback.as_str()),
    ];
    form.extend(links.iter().map(|(_, url)| ("MediaUrl", url.as_str())));
    let resp = client
        .post(url)
        .basic_auth(&sms.account_sid, Some(&sms.auth_token))
        .form(&form)
        .send()
        .await
        .map_err(SendFailure::from_reqwest)?;
    let answer = crate::connector::read_answer(resp).await?;
    Ok(crate::connector::answered_id(&answer, "/sid"))
}
