//! Voice calls through Twilio Programmable Voice: the engine runs the IVR menu and
//! routes; the telephony platform carries the media.
//!
//! 1. `POST /webhooks/twilio/voice` (a call arrives: `CallSid`, `From`, `To`,
//!    `CallStatus`): answered with TwiML `<Gather>` speaking the greeting and the root
//!    menu of the IVR tree (`crate::ivr`, docs/ivr.md). With no menu configured the
//!    call goes straight to the voice queue.
//! 2. `POST /webhooks/twilio/voice/menu?path=..&try=..` (`Digits` or `SpeechResult`):
//!    the caller's place in the tree travels in the signed action URL. A submenu,
//!    repeat or back option speaks that menu; an article option reads the article and
//!    replays the menu; a queue option opens (or joins) the customer's conversation on
//!    channel `voice` — routed like any other, with voice's exclusive capacity — and
//!    answers `<Enqueue>` naming the conversation, so the platform holds the caller
//!    until the agent's client dials that queue. A callback option makes the waiting
//!    conversation a queued callback (`actors::customer::callback`) and hangs up
//!    politely. Invalid input replays the menu up to `ivr.max_retries` times, then runs
//!    `ivr.default_action` (or hangs up).
//! 3. `POST /webhooks/twilio/voice/status` (`CallStatus` = completed, busy, no-answer,
//!    canceled, failed): a caller who hangs up while waiting has abandoned (unless a
//!    callback was asked for); every end is recorded as a `call` event in the timeline.
//! 4. The agents' browser softphone (Twilio Voice JS SDK): [`access_token`] is the
//!    Twilio AccessToken (a JWT with a voice grant for the agent's identity, signed
//!    with the configured API key) that `POST /api/v1/voice/token` hands the logged-in
//!    agent; the SDK's call from the desktop reaches the TwiML App's voice URL,
//!    `POST /webhooks/twilio/voice/client` (`From` = `client:<agent id>`,
//!    `conversation` = the conversation the agent accepted): answered
//!    `<Dial><Queue>` with that conversation's queue — bridging the agent to the
//!    waiting caller — only when that agent holds that voice conversation now. With
//!    `to` (the agent calls a customer: click-to-call, a callback) it is answered
//!    `<Dial callerId><Number>` to that number, only when the agent holds the
//!    conversation and the number is one of its customer's phone identities; its
//!    outcome comes to `POST /webhooks/twilio/voice/dialed?conversation=..&agent=..`
//!    (`DialCallStatus`): the attempt of a pending callback (reached, no answer,
//!    busy: `CallbackOutcome`, which retries or connects as docs/ivr.md says), else a
//!    `call` event of the conversation. Any other call is told so and hung up.
//! 5. Recording (docs/voice.md "Recording"): the `<Dial>` that bridges an agent of a
//!    queue with `record_calls` (or calls out from its conversation) records both
//!    sides from the answer, and the platform reports the recording to
//!    `POST /webhooks/twilio/voice/recording?conversation=..` (`RecordingSid`,
//!    `RecordingStatus`, `RecordingDuration`, `RecordingUrl`): a staff-only
//!    `call_recorded` event of that conversation. [`fetch_recording`] is how staff
//!    play it: the engine asks the REST API with the account's credentials, never
//!    the browser.
//! 6. After the agent's leg: the `<Enqueue>` names
//!    `POST /webhooks/twilio/voice/after?conversation=..` as its action, which the
//!    platform asks when the caller leaves the queue. After a bridged call
//!    (`QueueResult=bridged`, the caller still on the line): a conversation that
//!    was transferred meanwhile (waiting again, or held by another agent than the one
//!    last bridged, remembered when the softphone dialled) puts the caller back in
//!    the queue for the next agent (docs/voice.md "Transfer"); otherwise, with
//!    `[survey]` on, it asks the keypad survey (docs/voice.md "Survey by keypad",
//!    `AskPhoneSurvey`) with a one-digit `<Gather>` to
//!    `POST /webhooks/twilio/voice/csat?conversation=..&try=..`, whose key is the
//!    answer (`AnswerSurvey`); a key out of range is asked again up to
//!    `ivr.max_retries` times. Anything else hangs up.
//!
//! 7. The agent's own phone (docs/voice.md "The agent's own phone"): for an agent
//!    whose profile has a `phone`, [`bridge_to_phone`] moves the waiting caller's
//!    call (REST `Calls/{CallSid}.json`, new TwiML) to a `<Dial><Number>` of that
//!    phone, whose outcome comes to
//!    `POST /webhooks/twilio/voice/agent-leg?conversation=..&agent=..`: answered and
//!    ended, the caller goes on as after any bridge (`after_bridge`); busy, no
//!    answer or failed, the conversation goes back to its queue and the caller back
//!    into `<Enqueue>`. [`call_out_via_phone`] is a call out (click-to-call, a
//!    callback) with the agent's phone as its first leg (REST `Calls.json`): once the
//!    agent answers, the checked `<Dial>` of a softphone call out runs.
//!
//! 8. Hold, consult (the warm transfer) and listen-in (docs/voice.md "Hold, consult
//!    and listen-in"): the bridged call moves into a Twilio conference named after the
//!    conversation, driven by the conference's status callback
//!    (`POST /webhooks/twilio/voice/room?conversation=..`) and the REST Participants
//!    API. The agent's leg is known from the softphone's call (`CallSid` of item 4) or
//!    the answered call to the agent's phone
//!    (`POST /webhooks/twilio/voice/agent-answered?conversation=..&agent=..`).
//!
//! Items 1 to 4 are this file; 5 is `recording`, 6 `after`, 7 `agent_phone` (and the
//! call-out outcome, `dialed`), 8 `room`.
//!
//! Every request must carry a valid `X-Twilio-Signature`. The call id (`CallSid`) makes
//! retries idempotent.

use super::connector::{serve, Connector, Webhook};
use super::webhook::{field, required, WebhookError};
use super::{ingest, ChannelSettings, InboundMessage, Provided};
use crate::actors::messages::{CallEnded, CallRecorded};
use crate::domain::{Channel, IdentityKey, SkillFloors};
use crate::ivr::{Action, Position, Tree};
use crate::Gateway;
use actix_web::{web, HttpRequest, HttpResponse};

use after::after_bridge;
pub use after::{after, csat};
pub use agent_phone::{
    agent_answered, agent_leg, bridge_to_phone, call_out_via_phone, dialed, CallOutError,
};
use recording::{conference_recorded, recorded};
pub use recording::{fetch_recording, recording};
pub use room::{cancel_consult, complete_consult, consult, hold, listen, room, RoomError};

const PROVIDER: &str = "twilio_voice";

/// The voice connector: Twilio Programmable Voice webhooks (calls carry no text
/// replies, so it sends nothing through the outbound dispatcher).
pub struct TwilioVoice;

impl Connector for TwilioVoice {
    fn provider(&self) -> &'static str {
        PROVIDER
    }
    fn enabled(&self, s: &ChannelSettings) -> bool {
        s.voice.enabled
    }
    fn routes(&self, cfg: &mut web::ServiceConfig) {
        cfg.route("/twilio/voice", web::post().to(incoming))
            .route("/twilio/voice/menu", web::post().to(menu))
            .route("/twilio/voice/status", web::post().to(status))
            .route("/twilio/voice/client", web::post().to(client))
            .route("/twilio/voice/recording", web::post().to(recording))
            .route("/twilio/voice/after", web::post().to(after))
            .route("/twilio/voice/dialed", web::post().to(dialed))
            .route("/twilio/voice/agent-leg", web::post().to(agent_leg))
            .route(
                "/twilio/voice/agent-answered",
                web::post().to(agent_answered),
            )
            .route("/twilio/voice/room", web::post().to(room))
            .route("/twilio/voice/csat", web::post().to(csat));
    }
}

impl Webhook for TwilioVoice {
    type Verified = Vec<(String, String)>;
    const CONTENT_TYPE: &'static str = "application/x-www-form-urlencoded";
    fn verify(
        &self,
        gateway: &Gateway,
        req: &HttpRequest,
        body: &[u8],
    ) -> Result<Self::Verified, WebhookError> {
        crate::webhook::twilio_form(gateway, req, body, &gateway.channels().voice.auth_token)
    }
}

/// A Twilio voice webhook `$name`: the request verified (`serve`: signature, form,
/// replay window) and answered by `$inner(state, request, params)`.
macro_rules! webhook {
    ($(#[$doc:meta])* $name:ident => $inner:ident) => {
        $(#[$doc])*
        pub async fn $name(
            state: web::Data<Gateway>,
            req: HttpRequest,
            body: web::Bytes,
        ) -> Result<HttpResponse, WebhookError> {
            serve(&TwilioVoice, &state, &req, &body, |params| {
                $inner(&state, &req, params)
            })
            .await
        }
    };
}

// After the macro: the parts of the connector that use it.
mod after;
mod agent_phone;
mod recording;
pub mod room;

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

fn say(state: &Gateway, text: &str) -> String {
    format!(
        "<Say language=\"{}\">{}</Say>",
        xml_escape(&state.channels().voice.language),
        xml_escape(text)
    )
}

/// The tree the calls run through: the one in force (`Gateway::ivr_tree`).
fn ivr_tree(state: &Gateway) -> Option<Tree> {
    state.ivr_tree()
}

/// The menu webhook's URL for `pos` after `tries` invalid inputs (the root with no
/// retries is the bare URL).
fn menu_url(state: &Gateway, pos: &Position, tries: u32) -> String {
    let base = format!("{}/webhooks/twilio/voice/menu", state.channels().public_url);
    if pos.0.len() == 1 && tries == 0 {
        base
    } else {
        format!("{base}?path={}&try={tries}", pos.encode())
    }
}

/// The `<Gather>` that speaks the menu at `pos` (with the greeting at the root).
fn menu_twiml(
    state: &Gateway,
    tree: &Tree,
    pos: &Position,
    tries: u32,
    prefix: &str,
) -> HttpResponse {
    let v = &state.channels().voice;
    let lang = v.language.as_str();
    let en = lang.to_ascii_lowercase().starts_with("en");
    let Some(menu) = tree.menu(pos.current()) else {
        return twiml(format!("{}<Hangup/>", say(state, "申し訳ございません。")));
    };
    let prompt = menu.prompt.for_language(lang);
    let mut spoken = prefix.to_owned();
    if pos.0.len() == 1 && prompt != v.greeting {
        spoken.push_str(&v.greeting);
    }
    spoken.push_str(prompt);
    for o in &menu.options {
        // Chat is a visual-IVR action: a call cannot take it.
        let (Some(k), false) = (o.key, matches!(o.action, Action::Chat(_))) else {
            continue;
        };
        let label = o.label.for_language(lang);
        if en {
            spoken.push_str(&format!(" For {label}, press {k}."));
        } else {
            spoken.push_str(&format!(" {label}は{k}を。"));
        }
    }
    let speech = menu.options.iter().any(|o| !o.phrases.is_empty());
    let input = if speech {
        format!(
            "input=\"dtmf speech\" language=\"{}\" speechTimeout=\"auto\"",
            xml_escape(lang)
        )
    } else {
        "input=\"dtmf\"".to_owned()
    };
    twiml(format!(
        "<Gather {input} numDigits=\"1\" timeout=\"{}\" action=\"{}\" method=\"POST\">{}</Gather><Redirect method=\"POST\">{}</Redirect>",
        v.gather_timeout_s,
        xml_escape(&menu_url(state, pos, tries)),
        say(state, &spoken),
        // No input at all counts as an invalid one.
        xml_escape(&menu_url(state, pos, tries + 1)),
    ))
}

webhook! {
    /// `POST /webhooks/twilio/voice`.
    incoming => incoming_inner
}

async fn incoming_inner(
    state: &Gateway,
    _req: &HttpRequest,
    params: Vec<(String, String)>,
) -> Result<HttpResponse, WebhookError> {
    required(&params, "CallSid")?;
    required(&params, "From")?;
    let Some(tree) = ivr_tree(state) else {
        return route_call(state, &params, None, &SkillFloors::new(), &[], "着信").await;
    };
    let root = Position::root(&tree);
    in_menus(state, &params, &root).await;
    Ok(menu_twiml(state, &tree, &root, 0, ""))
}

/// Tells the caller's customer that the call is in the menus at `pos` (a call that
/// ends there counts as contained by self-service). Never fails the call: a refusal
/// is logged.
async fn in_menus(state: &Gateway, params: &[(String, String)], pos: &Position) {
    let (Some(call), Some(from)) = (field(params, "CallSid"), field(params, "From")) else {
        return;
    };
    let told = switchboard_engine::actors::ingest::ivr_step_from_provider(
        &state.engine,
        from,
        call,
        pos.0.clone(),
    )
    .await;
    if let Err(e) = told {
        tracing::warn!(error = %e, "a call's place in the IVR menus not kept");
    }
}

webhook! {
    /// `POST /webhooks/twilio/voice/menu`.
    menu => menu_inner
}

async fn menu_inner(
    state: &Gateway,
    req: &HttpRequest,
    params: Vec<(String, String)>,
) -> Result<HttpResponse, WebhookError> {
    let v = &state.channels().voice;
    let Some(tree) = ivr_tree(state) else {
        return route_call(state, &params, None, &SkillFloors::new(), &[], "着信").await;
    };
    // Where the caller is: the (signed) action URL's query; anything else is the root.
    let query: Vec<(String, String)> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let pos = field(&query, "path")
        .and_then(|p| Position::parse(&tree, p))
        .unwrap_or_else(|| Position::root(&tree));
    let tries: u32 = field(&query, "try")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let limits = &state.ivr;
    let digits = field(&params, "Digits");
    let speech = field(&params, "SpeechResult").filter(|s| s.len() <= limits.max_speech_bytes);
    let chosen = tree
        .menu(pos.current())
        .and_then(|m| m.choose(digits, speech))
        .filter(|o| !matches!(o.action, Action::Chat(_)));
    let Some(option) = chosen else {
        if tries < limits.max_retries {
            in_menus(state, &params, &pos).await;
            return Ok(menu_twiml(
                state,
                &tree,
                &pos,
                tries + 1,
                "もう一度お選びください。",
            ));
        }
        return match limits.default_action.clone() {
            Some(a) => act(state, &tree, &pos, &params, &a, &SkillFloors::new(), "既定").await,
            None => Ok(twiml(format!(
                "{}<Hangup/>",
                say(
                    state,
                    "入力が確認できませんでした。お手数ですがおかけ直しください。"
                )
            ))),
        };
    };
    let label = option.label.for_language(&v.language).to_owned();
    act(
        state,
        &tree,
        &pos,
        &params,
        &option.action,
        &option.skills,
        &label,
    )
    .await
}

/// Carries out a chosen action for the caller at `pos`.
async fn act(
    state: &Gateway,
    tree: &Tree,
    pos: &Position,
    params: &[(String, String)],
    action: &Action,
    skills: &SkillFloors,
    label: &str,
) -> Result<HttpResponse, WebhookError> {
    match action {
        Action::Menu(_) | Action::Repeat | Action::Chat(_) | Action::Back => {
            let next = match action {
                Action::Menu(to) => pos.enter(to),
                Action::Back => pos.back(),
                _ => pos.clone(),
            };
            in_menus(state, params, &next).await;
            Ok(menu_twiml(state, tree, &next, 0, ""))
        }
        Action::Queue(q) => {
            let text = format!("着信 — IVR {}: {label}", pos.encode());
            route_call(state, params, Some(q.clone()), skills, &pos.0, &text).await
        }
        Action::Article(id) => {
            in_menus(state, params, pos).await;
            let article = switchboard_engine::articles::read(&state.store, id)
                .await
                .map_err(crate::actors::messages::EngineError::unavailable)?;
            let text = match article {
                Some(a) => {
                    let max = state.ivr.max_article_chars;
                    format!(
                        "{}。{}",
                        a.title,
                        a.body.chars().take(max).collect::<String>()
                    )
                }
                None => "申し訳ございません。ただいまご案内できません。".to_owned(),
            };
            Ok(twiml(format!(
                "{}<Redirect method=\"POST\">{}</Redirect>",
                say(state, &text),
                xml_escape(&menu_url(state, pos, 0)),
            )))
        }
        Action::Callback(q) => {
            let from = required(params, "From")?;
            let phone = IdentityKey::parse(Channel::Voice, from)
                .map_err(|e| WebhookError::Malformed(e.to_string()))?
                .address;
            let text = format!(
                "折り返し電話のご希望 ({phone}) — IVR {}: {label}",
                pos.encode()
            );
            let Provided::Stored(done) =
                ingest_call(state, params, q.clone(), &SkillFloors::new(), &pos.0, &text).await?
            else {
                return Ok(erased_call());
            };
            let requested = crate::actors::customer::callback::request(
                state,
                done.customer_id,
                crate::actors::customer::callback::CallbackRequest {
                    phone,
                    queue: None,
                    note: None,
                    ivr_path: pos.0.clone(),
                    source: "voice_ivr".into(),
                },
            )
            .await;
            match requested {
                // A retried webhook: the callback is already pending.
                Ok(_) => {}
                Err(e) if e.code == crate::domain::ErrorCode::Conflict => {}
                Err(e) => return Err(e.into()),
            }
            Ok(twiml(format!(
                "{}<Hangup/>",
                say(state, "折り返しお電話いたします。ありがとうございました。")
            )))
        }
    }
}

/// Opens (or joins) the caller's voice conversation, unless the call was received
/// before its customer was erased. `path`: the IVR menus the caller went through.
async fn ingest_call(
    state: &Gateway,
    params: &[(String, String)],
    queue: Option<crate::domain::QueueName>,
    skills: &SkillFloors,
    path: &[String],
    text: &str,
) -> Result<Provided, WebhookError> {
    let call = required(params, "CallSid")?;
    let from = required(params, "From")?;
    let mut m = InboundMessage::new(Channel::Voice, from, text);
    m.provider_msg_id = Some(call.to_owned());
    m.queue = queue;
    m.requirements = skills.clone();
    m.ivr_path = path.to_vec();
    Ok(ingest(state, m).await?)
}

/// Opens (or joins) the caller's voice conversation and holds the call for its agent.
async fn route_call(
    state: &Gateway,
    params: &[(String, String)],
    queue: Option<crate::domain::QueueName>,
    skills: &SkillFloors,
    path: &[String],
    text: &str,
) -> Result<HttpResponse, WebhookError> {
    // The queue's business hours, as the customer's actor will apply them to the
    // conversation (`Engine::after_hours`): decided before, so the caller hears them.
    let engine = &state.engine;
    let after_hours = queue
        .clone()
        .or_else(|| engine.default_queue_for(Channel::Voice))
        .and_then(|q| engine.after_hours(&q));
    let Provided::Stored(done) = ingest_call(state, params, queue, skills, path, text).await?
    else {
        return Ok(erased_call());
    };
    let told = after_hours
        .as_ref()
        .and_then(|p| p.message.as_deref())
        .map(|m| say(state, m))
        .unwrap_or_default();
    if after_hours.is_some_and(|p| p.waits_unoffered) {
        // Nobody would answer before the opening: the caller is told, and the call
        // ends (its conversation is recorded and abandoned at once by its actor).
        return Ok(twiml(format!("{told}<Hangup/>")));
    }
    Ok(twiml(format!(
        "{told}{}{}",
        say(state, "担当者におつなぎします。そのままお待ちください。"),
        enqueue(state, done.ack.conversation_id)
    )))
}

/// The `<Enqueue>` that holds the caller of `conversation` until an agent's softphone
/// dials it; the platform comes back to [`after`] when the caller leaves it.
fn enqueue(state: &Gateway, conversation: crate::domain::ConversationId) -> String {
    let url = format!(
        "{}/webhooks/twilio/voice/after?conversation={conversation}",
        state.channels().public_url
    );
    format!(
        "<Enqueue action=\"{}\">{conversation}</Enqueue>",
        xml_escape(&url)
    )
}

/// Record kind of the agent last bridged to a conversation's caller (key: the
/// conversation id; value: the agent id).
const BRIDGED: &str = "voice_bridged";

/// Remembers that the caller of `conversation` is being bridged to `agent`, so that a
/// transfer puts the caller back in the queue when this agent's leg ends (`after`).
async fn remember_bridge(
    state: &Gateway,
    conversation: crate::domain::ConversationId,
    agent: &crate::domain::AgentId,
) -> Result<(), crate::actors::messages::EngineError> {
    let batch = crate::store::Batch {
        records: vec![crate::store::RecordWrite::put(
            BRIDGED,
            conversation.to_string(),
            agent.as_str().as_bytes().to_vec(),
        )],
        ..Default::default()
    };
    state
        .store
        .commit(batch)
        .await
        .map_err(crate::actors::messages::EngineError::unavailable)
}

/// Records that `agent`'s leg `call` answered the caller of `c` (a `call` event,
/// `answered`). Never fails the call: a refusal is logged.
async fn answered(
    state: &Gateway,
    c: &crate::domain::Conversation,
    call: &str,
    agent: &crate::domain::AgentId,
) {
    let told = state
        .ask_customer(
            c.customer_id,
            crate::actors::messages::PhoneAnswered {
                conversation_id: c.id,
                call_id: call.to_owned(),
                agent_id: agent.clone(),
            },
        )
        .await;
    if let Err(e) = told {
        tracing::info!(conversation = %c.id, %agent, error = %e, "a call's answer was not recorded");
    }
}

/// The answer to a call whose `CallSid` an erasure left a tombstone of (a replayed
/// webhook): nothing was stored, the call ends.
fn erased_call() -> HttpResponse {
    twiml("<Hangup/>".into())
}

webhook! {
    /// `POST /webhooks/twilio/voice/status`.
    status => status_inner
}

async fn status_inner(
    state: &Gateway,
    _req: &HttpRequest,
    params: Vec<(String, String)>,
) -> Result<HttpResponse, WebhookError> {
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
        .store
        .customer_by_identity(&key)
        .await
        .map_err(crate::actors::messages::EngineError::unavailable)?
    else {
        // A call that never reached the menu: nothing of it was recorded.
        return Ok(HttpResponse::NoContent().finish());
    };
    state
        .ask_customer(
            customer,
            CallEnded {
                call_id: call.to_owned(),
                status: status.to_owned(),
                duration_s: field(&params, "CallDuration").and_then(|d| d.parse().ok()),
                conversation_id: None,
            },
        )
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The Twilio AccessToken for agent `identity` at Unix second `now_s`: a JWT (HS256,
/// content type `twilio-fpa;v=1`) issued by the API key for the account, whose voice
/// grant lets the Voice SDK call through the TwiML App and receive calls as `identity`.
/// `None` while the softphone is not configured.
pub fn access_token(s: &crate::config::Softphone, identity: &str, now_s: u64) -> Option<String> {
    if !s.configured() {
        return None;
    }
    let header = jsonwebtoken::Header {
        typ: Some("JWT".into()),
        cty: Some("twilio-fpa;v=1".into()),
        ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256)
    };
    let claims = serde_json::json!({
        "jti": format!("{}-{now_s}", s.api_key_sid),
        "iss": s.api_key_sid,
        "sub": s.account_sid,
        "iat": now_s,
        "nbf": now_s,
        "exp": now_s + s.token_ttl_s,
        "grants": {
            "identity": identity,
            "voice": {
                "incoming": {"allow": true},
                "outgoing": {"application_sid": s.twiml_app_sid},
            },
        },
    });
    let key = jsonwebtoken::EncodingKey::from_secret(s.api_key_secret.as_bytes()).ok()?;
    jsonwebtoken::encode(&header, &claims, &key).ok()
}

webhook! {
    /// `POST /webhooks/twilio/voice/client`: a call from an agent's softphone.
    client => client_inner
}

async fn client_inner(
    state: &Gateway,
    _req: &HttpRequest,
    params: Vec<(String, String)>,
) -> Result<HttpResponse, WebhookError> {
    let softphone = &state.channels().voice.softphone;
    let app = required(&params, "ApplicationSid")?;
    if !softphone.configured() || app != softphone.twiml_app_sid {
        return Err(WebhookError::Malformed(
            "not a call of the configured TwiML App".into(),
        ));
    }
    let from = required(&params, "From")?;
    let agent = from
        .strip_prefix("client:")
        .and_then(|id| crate::domain::AgentId::parse(id).ok())
        .ok_or_else(|| WebhookError::Malformed(format!("From {from:?} is not a softphone")))?;
    let conversation = crate::domain::ConversationId::parse(required(&params, "conversation")?)
        .map_err(|e| WebhookError::Malformed(e.to_string()))?;
    let to = field(&params, "to").filter(|t| !t.trim().is_empty());
    let held = held_by(state, &agent, conversation).await?;
    if let (Some(c), None) = (&held, to) {
        if c.channel == Channel::Voice {
            let call = required(&params, "CallSid")?;
            // Its call is in a conference already (a hand-over): the agent joins it.
            if let Some(join) = room::rejoin(state, c, &agent, call).await? {
                return Ok(twiml(join));
            }
            remember_bridge(state, conversation, &agent).await?;
            room::bridged(state, conversation, &agent, call).await?;
            answered(state, c, call, &agent).await;
        }
    }
    let answer = match (held, to) {
        // The caller waits in the queue named after the conversation (`<Enqueue>`).
        (Some(c), None) if c.channel == Channel::Voice => Ok(format!(
            "<Dial{}><Queue>{}</Queue></Dial>",
            recorded(state, &c),
            xml_escape(&conversation.to_string())
        )),
        (Some(c), Some(to)) => dial_out(state, &c, to).await?,
        _ => Err("not held"),
    };
    Ok(match answer {
        Ok(dial) => twiml(dial),
        Err(why) => {
            tracing::info!(agent = %agent, conversation = %conversation, why, "a softphone call was refused and hung up");
            let refusal = if state.channels().voice.language.starts_with("en") {
                "This call cannot be connected."
            } else {
                "この通話はお繋ぎできません。"
            };
            twiml(format!("{}<Hangup/>", say(state, refusal)))
        }
    })
}

/// The `<Dial>` of an agent's call out to `to` from held conversation `c`, or why not:
/// no caller id configured, or `to` is neither one of the conversation's customer's
/// phone numbers (voice, SMS or WhatsApp identity) nor the number of its pending
/// callback.
async fn dial_out(
    state: &Gateway,
    c: &crate::domain::Conversation,
    to: &str,
) -> Result<Result<String, &'static str>, WebhookError> {
    let caller_id = &state.channels().voice.caller_id;
    if caller_id.is_empty() {
        return Ok(Err("no channels.voice.caller_id for calls out"));
    }
    let Ok(number) = IdentityKey::parse(Channel::Voice, to) else {
        return Ok(Err("not a phone number"));
    };
    for channel in [Channel::Voice, Channel::Sms, Channel::Whatsapp] {
        let key = IdentityKey::parse(channel, &number.address)
            .map_err(|e| WebhookError::Malformed(e.to_string()))?;
        let owner = state
            .store
            .customer_by_identity(&key)
            .await
            .map_err(crate::actors::messages::EngineError::unavailable)?;
        if owner == Some(c.customer_id) {
            return Ok(Ok(dial_number(state, c, caller_id, &number.address)));
        }
    }
    // A callback's number (given by the customer, perhaps no identity of theirs).
    let callback = state
        .store
        .record(crate::ivr::callbacks::KIND, &c.id.to_string())
        .await
        .map_err(crate::actors::messages::EngineError::unavailable)?
        .and_then(|b| crate::ivr::callbacks::CallbackRecord::from_bytes(&b));
    if callback.is_some_and(|r| r.customer_id == c.customer_id && r.phone == number.address) {
        return Ok(Ok(dial_number(state, c, caller_id, &number.address)));
    }
    Ok(Err("not a number of the conversation's customer"))
}

/// The `<Dial>` of a call out from conversation `c` to `number` (E.164), whose outcome
/// comes back to `dialed`.
fn dial_number(
    state: &Gateway,
    c: &crate::domain::Conversation,
    caller_id: &str,
    number: &str,
) -> String {
    let dialed = format!(
        "{}/webhooks/twilio/voice/dialed?conversation={}&agent={}",
        state.channels().public_url,
        c.id,
        c.agent.as_ref().map(|a| a.as_str()).unwrap_or_default()
    );
    format!(
        "<Dial callerId=\"{}\" answerOnBridge=\"true\" action=\"{}\"{}>\
         <Number>{}</Number></Dial>",
        xml_escape(caller_id),
        xml_escape(&dialed),
        recorded(state, c),
        xml_escape(number)
    )
}

/// The conversation, when `agent` holds it now.
async fn held_by(
    state: &Gateway,
    agent: &crate::domain::AgentId,
    conversation: crate::domain::ConversationId,
) -> Result<Option<crate::domain::Conversation>, WebhookError> {
    let Ok(live) = state
        .engine
        .ask_agent(agent, crate::actors::messages::GetAgentLive)
        .await
    else {
        return Ok(None);
    };
    if !live.held.contains(&conversation) {
        return Ok(None);
    }
    let conv = state
        .store
        .conversation(conversation)
        .await
        .map_err(crate::actors::messages::EngineError::unavailable)?;
    Ok(conv.filter(|c| c.agent.as_ref() == Some(agent)))
}

/// Why a REST call to the platform did not do what was asked.
#[derive(Debug)]
pub enum RestError {
    /// `channels.voice.account_sid` (or the auth token) is not set.
    NotConfigured,
    /// The platform has no such call or recording, or the call is over (a 4xx but
    /// 401/403).
    Gone,
    /// The platform could not be reached, refused the credentials or failed.
    Upstream(String),
}

/// The voice settings, when the REST API can be called (an account and its token).
fn rest_account(state: &Gateway) -> Result<crate::config::TwilioVoice, RestError> {
    let v = state.channels().voice.clone();
    if v.account_sid.is_empty() || v.auth_token.is_empty() {
        return Err(RestError::NotConfigured);
    }
    Ok(v)
}

/// Sends `req` to the REST API with the account's credentials: a success answer, or
/// why not.
async fn rest(
    req: reqwest::RequestBuilder,
    v: &crate::config::TwilioVoice,
) -> Result<reqwest::Response, RestError> {
    let resp = req
        .basic_auth(&v.account_sid, Some(&v.auth_token))
        .send()
        .await
        .map_err(|e| RestError::Upstream(e.without_url().to_string()))?;
    match resp.status() {
        s if s.is_success() => Ok(resp),
        s if s.is_client_error() && s.as_u16() != 401 && s.as_u16() != 403 => Err(RestError::Gone),
        s => Err(RestError::Upstream(format!("the platform answered {s}"))),
    }
}

/// The agent named in a callback URL's (signed) query.
fn agent_in(req: &HttpRequest) -> Result<crate::domain::AgentId, WebhookError> {
    let query: Vec<(String, String)> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    field(&query, "agent")
        .and_then(|a| crate::domain::AgentId::parse(a).ok())
        .ok_or_else(|| WebhookError::Malformed("no agent in the callback URL".into()))
}

/// The conversation named in a callback URL's (signed) query.
fn conversation_in(req: &HttpRequest) -> Result<crate::domain::ConversationId, WebhookError> {
    let query: Vec<(String, String)> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let id = field(&query, "conversation")
        .ok_or_else(|| WebhookError::Malformed("no conversation in the callback URL".into()))?;
    crate::domain::ConversationId::parse(id).map_err(|e| WebhookError::Malformed(e.to_string()))
}

/// The customer of `conversation`, if it exists.
async fn customer_of(
    state: &Gateway,
    conversation: crate::domain::ConversationId,
) -> Result<Option<crate::domain::CustomerId>, WebhookError> {
    Ok(state
        .store
        .conversation(conversation)
        .await
        .map_err(crate::actors::messages::EngineError::unavailable)?
        .map(|c| c.customer_id))
}
