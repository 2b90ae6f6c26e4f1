//! The ingest port: the one way any door turns outside input into an [`Inbound`] for a
//! customer actor, with one validation policy per door, applied before anything is
//! resolved or stored (bad input creates no customer and changes nothing).
//!
//! | door | caller | policy |
//! |---|---|---|
//! | provider | `channels::*` connectors | address normalised; provider message id 1..=200 bytes, stored as `{channel}:{id}` so redeliveries are stored once; an id an erasure left a tombstone of is dropped before anyone is resolved ([`Provided::Erased`]); text trimmed and, over the limit, cut with a marker (a provider cannot be asked to shorten a message it already took); a message of attachments only reads as their description |
//! | web chat | `ws::chat_session` | `client_msg_id` 1..=128 bytes; a queue must be a chat option of the IVR; a bot hand-off button is a message stored under its button id; text limits checked by the actor (`too_large`) |
//! | REST | `api::inbound` | channel, address and queue parsed; `client_msg_id` 1..=128 bytes; text non-empty and within the limit (`too_large`); the queue must exist |

use super::messages::{EngineError, EngineResult, Inbound, InboundAck};
use super::registry::Engine;
use crate::domain::{
    difficulty_skill, language_skill, Attachment, Channel, ConversationId, CustomerId, ErrorCode,
    IdentityKey, Proficiency, QueueName, Skill, SkillFloors, MAX_REQUIRED_SKILLS,
};
use std::collections::BTreeMap;

/// Longest provider message id kept for de-duplication.
const MAX_PROVIDER_ID: usize = 200;

/// A customer message as a connector parsed it.
#[derive(Debug, Clone)]
pub struct InboundMessage {
    pub channel: Channel,
    /// The provider's address of the sender (phone number, email, LINE user id, PSID).
    pub address: String,
    /// A name the provider gave (email From name). Shown, never used to match people.
    pub display_name: Option<String>,
    pub text: String,
    /// The provider's id for this message: retries with the same id are stored once.
    pub provider_msg_id: Option<String>,
    pub attachments: Vec<Attachment>,
    /// Files that came with it, bytes and all (email parts, media fetched from the
    /// provider): stored for the customer under the file policy before the message is
    /// committed, each becoming an attachment (described only when refused).
    pub files: Vec<IncomingFile>,
    pub subject: Option<String>,
    /// Queue for a new conversation (else the channel's default queue).
    pub queue: Option<QueueName>,
    /// The conversation this continues, when the provider threads (email replies).
    pub thread: Option<ConversationId>,
    /// Skills a conversation this opens needs of its agent (an IVR option's).
    pub requirements: SkillFloors,
    /// The IVR menus the caller went through, root first.
    pub ivr_path: Vec<String>,
}

impl InboundMessage {
    pub fn new(channel: Channel, address: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            channel,
            address: address.into(),
            display_name: None,
            text: text.into(),
            provider_msg_id: None,
            attachments: Vec::new(),
            files: Vec::new(),
            subject: None,
            queue: None,
            thread: None,
            requirements: SkillFloors::new(),
            ivr_path: Vec::new(),
        }
    }
}

/// A file a connector received with a message, not stored yet.
#[derive(Debug, Clone)]
pub struct IncomingFile {
    pub name: Option<String>,
    /// The type the provider declared (checked against the bytes when stored).
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// What an ingest did.
#[derive(Debug, Clone)]
pub struct Ingested {
    pub customer_id: CustomerId,
    pub new_customer: bool,
    pub ack: InboundAck,
}

/// What the provider door did with a message.
#[derive(Debug, Clone)]
pub enum Provided {
    /// Stored, or a duplicate of a stored message.
    Stored(Ingested),
    /// Received before its customer was erased: its id has an erasure tombstone
    /// (`crate::tombstones`). Nothing was stored, resolved or queued; the connector
    /// answers the provider as for a stored message, so it does not retry.
    Erased,
}

/// The provider door: delivers `m` to its customer. Returns once the message is
/// durable (or was a duplicate of one that is), or at once when an erasure left a
/// tombstone of its id.
pub async fn from_provider(engine: &Engine, mut m: InboundMessage) -> EngineResult<Provided> {
    let key = IdentityKey::parse(m.channel, &m.address)
        .map_err(|e| EngineError::invalid(e.to_string()))?;
    if let Some(id) = &m.provider_msg_id {
        if id.is_empty() || id.len() > MAX_PROVIDER_ID {
            return Err(EngineError::invalid(
                "provider message id must be 1 to 200 bytes",
            ));
        }
    }
    m.text = truncate(m.text.trim(), engine.settings.limits.max_text_bytes);
    if m.text.is_empty() && m.attachments.is_empty() && m.files.is_empty() {
        return Err(EngineError::invalid(
            "the message has no text and no attachment",
        ));
    }
    let stored_id = m
        .provider_msg_id
        .map(|id| crate::tombstones::provider_id(m.channel, &id));
    // Shared with every other provider message; an erasure waits for it (see
    // `Inner::erasure_gate`).
    let _gate = engine.erasure_gate.read().await;
    if erased(engine, m.channel, stored_id.as_deref()).await? {
        return Ok(Provided::Erased);
    }
    let files = std::mem::take(&mut m.files);
    deliver(
        engine,
        key,
        files,
        Inbound {
            client_msg_id: stored_id,
            queue: m.queue,
            attachments: m.attachments,
            subject: m.subject,
            display_name: m.display_name,
            thread: m.thread,
            requirements: m.requirements,
            ivr_path: m.ivr_path,
            from_provider: true,
            ..Inbound::new(m.channel, String::new(), m.text)
        },
    )
    .await
    .map(Provided::Stored)
}

/// Whether the provider door has `m` already: an erasure left a tombstone of its id,
/// or its customer stored it before (a redelivery). A connector asks before fetching
/// the message's media, so a redelivery does not fetch it again and an erased
/// customer's is never fetched; [`from_provider`] still decides. A store failure
/// reads as "not yet" (the fetch then happens, as it would have).
pub async fn taken_before(engine: &Engine, m: &InboundMessage) -> bool {
    let Some(id) = &m.provider_msg_id else {
        return false;
    };
    let stored = crate::tombstones::provider_id(m.channel, id);
    let now = engine.now();
    let hash = engine.tombstones.hash(&stored);
    if matches!(engine.store.tombstone(&hash, now).await, Ok(Some(_))) {
        return true;
    }
    let Ok(key) = IdentityKey::parse(m.channel, &m.address) else {
        return false;
    };
    let Ok(Some(customer)) = engine.store.customer_by_identity(&key).await else {
        return false;
    };
    let idem = crate::actors::customer::once::inbound_key(&stored);
    matches!(
        engine.store.idempotency(customer, &idem, now).await,
        Ok(Some(_))
    )
}

/// Whether an erasure left a tombstone of `stored_id` (a provider id as stored); a hit
/// is logged and counted as dropped. Call it under the erasure gate.
async fn erased(engine: &Engine, channel: Channel, stored_id: Option<&str>) -> EngineResult<bool> {
    let Some(id) = stored_id else {
        return Ok(false);
    };
    let hash = engine.tombstones.hash(id);
    let hit = engine
        .store
        .tombstone(&hash, engine.now())
        .await
        .map_err(crate::store::StoreError::into_engine)?;
    if hit.is_some() {
        tracing::info!(channel = %channel, "provider input dropped: received before its customer was erased");
        crate::metrics::erased_message_dropped(channel);
    }
    Ok(hit.is_some())
}

/// The provider door for an opt-out change (an SMS STOP/START keyword, a LINE
/// unfollow/follow): like a message, dropped when an erasure left a tombstone of its id
/// (`Ok(false)`, nothing resolved or stored); else the address's customer (made if
/// new) records the change under the id (`Ok(true)`).
pub async fn opt_out_from_provider(
    engine: &Engine,
    channel: Channel,
    address: &str,
    provider_msg_id: Option<&str>,
    opted_out: bool,
) -> EngineResult<bool> {
    let key =
        IdentityKey::parse(channel, address).map_err(|e| EngineError::invalid(e.to_string()))?;
    if provider_msg_id.is_some_and(|id| id.is_empty() || id.len() > MAX_PROVIDER_ID) {
        return Err(EngineError::invalid(
            "provider message id must be 1 to 200 bytes",
        ));
    }
    let stored_id = provider_msg_id.map(|id| crate::tombstones::provider_id(channel, id));
    let _gate = engine.erasure_gate.read().await;
    if erased(engine, channel, stored_id.as_deref()).await? {
        return Ok(false);
    }
    let (customer, _) = engine.resolve_identity(&key).await?;
    engine
        .ask_customer(
            customer,
            crate::actors::messages::SetOptOut {
                channel,
                opted_out,
                provider_msg_id: stored_id,
            },
        )
        .await?;
    Ok(true)
}

/// The provider door for a caller's step in the phone's IVR menus: the caller's
/// customer (made if new) is told where call `call_id` is (`path`, menu ids, root
/// first), so that a call ending there counts as contained; nothing when an erasure
/// left a tombstone of the call's id. Told, not waited for.
pub async fn ivr_step_from_provider(
    engine: &Engine,
    address: &str,
    call_id: &str,
    path: Vec<String>,
) -> EngineResult<()> {
    let key = IdentityKey::parse(Channel::Voice, address)
        .map_err(|e| EngineError::invalid(e.to_string()))?;
    if call_id.is_empty() || call_id.len() > MAX_PROVIDER_ID {
        return Err(EngineError::invalid(
            "provider message id must be 1 to 200 bytes",
        ));
    }
    let stored_id = crate::tombstones::provider_id(Channel::Voice, call_id);
    let _gate = engine.erasure_gate.read().await;
    if erased(engine, Channel::Voice, Some(&stored_id)).await? {
        return Ok(());
    }
    let (customer, _) = engine.resolve_identity(&key).await?;
    engine.tell_customer(
        customer,
        crate::actors::messages::IvrStep {
            call_id: call_id.to_owned(),
            path,
        },
    );
    Ok(())
}

/// A message frame of the web chat, as the session decoded it.
#[derive(Debug, Clone)]
pub struct ChatInput {
    pub client_msg_id: String,
    pub text: String,
    pub queue: Option<QueueName>,
    /// The visual IVR's menus to the chat option of `queue`, root first.
    pub ivr_path: Vec<String>,
    /// Files the visitor uploaded, resolved by the session (`crate::actors::files::resolve`).
    pub files: Vec<crate::domain::BlobId>,
}

impl ChatInput {
    /// The bot's "talk to a person" button: a message (default text `agent`) stored
    /// under the button's id, so pressing it twice hands off once.
    pub fn handoff(client_msg_id: String, text: Option<String>) -> Self {
        Self {
            client_msg_id: crate::actors::customer::bot::button_id(client_msg_id),
            text: text
                .filter(|t| !t.trim().is_empty())
                .unwrap_or_else(|| "agent".into()),
            queue: None,
            ivr_path: Vec::new(),
            files: Vec::new(),
        }
    }
}

/// The web-chat door: the [`Inbound`] for a visitor's message, or why it is refused.
/// The session asks the customer actor itself (it counts the messages in flight on
/// its socket).
pub fn from_chat(
    engine: &Engine,
    address: &str,
    input: ChatInput,
    budget_from: Option<std::net::IpAddr>,
) -> EngineResult<Inbound> {
    let ivr = engine.ivr();
    let chat_queues = ivr.as_ref().map(|a| &a.chat_queues);
    if let Some(q) = input
        .queue
        .as_ref()
        .filter(|q| !chat_queues.is_some_and(|c| c.contains_key(*q)))
    {
        return Err(EngineError::invalid(format!(
            "queue {q} is not a chat option of the IVR"
        )));
    }
    check_client_msg_id(&input.client_msg_id)?;
    if !input.ivr_path.is_empty() && input.queue.is_none() {
        return Err(EngineError::invalid(
            "ivr_path goes with the queue of the chat option it leads to",
        ));
    }
    crate::ivr::check_reported_path(&input.ivr_path).map_err(EngineError::invalid)?;
    // The skills of the IVR's chat option that opens this queue, if any.
    let requirements = input
        .queue
        .as_ref()
        .and_then(|q| chat_queues.and_then(|c| c.get(q)))
        .cloned()
        .unwrap_or_default();
    Ok(Inbound {
        client_msg_id: Some(input.client_msg_id),
        queue: input.queue,
        budget_from,
        requirements,
        ivr_path: input.ivr_path,
        ..Inbound::new(Channel::Chat, address, input.text)
    })
}

/// A message for `POST /api/v1/inbound`, as the request body gave it.
#[derive(Debug, Clone)]
pub struct RestInput {
    pub channel: String,
    pub address: String,
    pub text: String,
    pub client_msg_id: Option<String>,
    pub queue: Option<String>,
    /// Skills the conversation needs of its agent: skill name -> minimum proficiency.
    pub requirements: BTreeMap<String, u8>,
    /// A language the agent must speak (the skill `lang-<code>`).
    pub language: Option<String>,
    /// How hard the contact is (the skill `difficulty`).
    pub difficulty: Option<u8>,
}

/// Parses a REST caller's required skills (language and difficulty), naming the field at
/// fault: at most [`MAX_REQUIRED_SKILLS`], each a skill name with a proficiency 1 to 5.
pub fn parse_requirements(
    raw: &BTreeMap<String, u8>,
    language: Option<&str>,
    difficulty: Option<u8>,
) -> EngineResult<SkillFloors> {
    let mut out = SkillFloors::new();
    for (name, p) in raw {
        let skill =
            Skill::parse(name).map_err(|e| EngineError::invalid(format!("requirements: {e}")))?;
        let p = Proficiency::new(*p)
            .map_err(|e| EngineError::invalid(format!("requirements.{name}: {e}")))?;
        out.insert(skill, p);
    }
    if let Some(code) = language {
        let skill = language_skill(code).ok_or_else(|| {
            EngineError::invalid(format!(
                "language: \"{}\" is not a language code (2 to 8 lowercase letters, e.g. ja)",
                crate::domain::Escaped::with_max(code, 32)
            ))
        })?;
        let one = Proficiency::new(1).expect("1 is a proficiency");
        out.entry(skill).or_insert(one);
    }
    if let Some(d) = difficulty {
        let d = Proficiency::new(d)
            .map_err(|_| EngineError::invalid(format!("difficulty: {d}; must be 1 to 5")))?;
        if let Some(other) = out.get(&difficulty_skill()).filter(|p| **p != d) {
            return Err(EngineError::invalid(format!(
                "difficulty: {} and requirements.difficulty {} disagree; give one",
                d.get(),
                other.get()
            )));
        }
        out.insert(difficulty_skill(), d);
    }
    if out.len() > MAX_REQUIRED_SKILLS {
        return Err(EngineError::invalid(format!(
            "requirements: {} skills; at most {MAX_REQUIRED_SKILLS}",
            out.len()
        )));
    }
    Ok(out)
}

/// The REST door: validates everything, then delivers; answers once durable.
pub async fn from_rest(engine: &Engine, input: RestInput) -> EngineResult<Ingested> {
    let invalid = |e: crate::domain::ParseError| EngineError::invalid(e.to_string());
    let channel = Channel::parse(&input.channel).map_err(invalid)?;
    let key = IdentityKey::parse(channel, &input.address).map_err(invalid)?;
    let queue = input
        .queue
        .as_deref()
        .map(QueueName::parse)
        .transpose()
        .map_err(invalid)?;
    if let Some(c) = &input.client_msg_id {
        check_client_msg_id(c)?;
    }
    let max = engine.settings.limits.max_text_bytes;
    if input.text.trim().is_empty() {
        return Err(EngineError::invalid("text is empty"));
    }
    if input.text.len() > max {
        return Err(EngineError::new(
            ErrorCode::TooLarge,
            format!("text is {} bytes; the limit is {max}", input.text.len()),
        ));
    }
    if let Some(q) = &queue {
        if !engine.queue_exists(q) {
            return Err(EngineError::not_found("queue"));
        }
    }
    let requirements = parse_requirements(
        &input.requirements,
        input.language.as_deref(),
        input.difficulty,
    )?;
    if !requirements.is_empty() {
        let q = queue
            .clone()
            .or_else(|| engine.default_queue_for(channel))
            .ok_or_else(|| EngineError::not_found("queue"))?;
        engine.check_requirements(&q, &requirements).await?;
    }
    deliver(
        engine,
        key,
        Vec::new(),
        Inbound {
            client_msg_id: input.client_msg_id,
            queue,
            requirements,
            ..Inbound::new(channel, String::new(), input.text)
        },
    )
    .await
}

/// Resolves (or creates) the customer of `key` and asks its actor to store `inbound`
/// (its address is the key's normalised one).
async fn deliver(
    engine: &Engine,
    key: IdentityKey,
    files: Vec<IncomingFile>,
    mut inbound: Inbound,
) -> EngineResult<Ingested> {
    let (customer_id, new_customer) = engine.resolve_identity(&key).await?;
    inbound.address = key.address;
    // The files are the customer's, stored before the message that names them.
    for f in files {
        inbound
            .attachments
            .push(super::files::store_incoming(engine, customer_id, inbound.channel, f).await?);
    }
    if inbound.text.is_empty() {
        inbound.text = describe_attachments(&inbound.attachments);
    }
    let ack = engine.ask_customer(customer_id, inbound).await?;
    Ok(Ingested {
        customer_id,
        new_customer,
        ack,
    })
}

fn check_client_msg_id(id: &str) -> EngineResult<()> {
    if id.is_empty() || id.len() > crate::domain::ids::MAX_CLIENT_MSG_ID {
        return Err(EngineError::invalid("client_msg_id must be 1 to 128 bytes"));
    }
    Ok(())
}

/// `text` cut to at most `max` bytes on a character boundary, marked when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    const MARK: &str = " […]";
    let mut end = max.saturating_sub(MARK.len());
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{MARK}", &text[..end])
}

/// "[image] [file: a.pdf]" for a message that is only attachments.
pub fn describe_attachments(a: &[Attachment]) -> String {
    a.iter()
        .map(|a| match &a.name {
            Some(n) => format!("[{}: {n}]", a.kind),
            None => format!("[{}]", a.kind),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_keeps_char_boundaries() {
        assert_eq!(truncate("abc", 3), "abc");
        let t = truncate(&"あ".repeat(100), 20);
        assert!(t.len() <= 20, "{t}");
        assert!(t.ends_with(" […]"));
        assert_eq!(
            describe_attachments(&[Attachment {
                kind: "file".into(),
                name: Some("a.pdf".into()),
                content_type: None,
                size: None,
                url: None,
                file: None,
            }]),
            "[file: a.pdf]"
        );
    }

    #[test]
    fn a_handoff_button_is_a_message_under_its_button_id() {
        let i = ChatInput::handoff("b1".into(), Some("  ".into()));
        assert_eq!(i.text, "agent");
        assert_eq!(
            i.client_msg_id,
            crate::actors::customer::bot::button_id("b1".into())
        );
        let again = ChatInput::handoff(i.client_msg_id.clone(), Some("人と話したい".into()));
        assert_eq!(again.client_msg_id, i.client_msg_id);
        assert_eq!(again.text, "人と話したい");
    }
}
