//! A phone call's conference room (docs/voice.md "Hold, consult and listen-in"): what
//! a bridged call becomes when its agent puts the caller on hold, consults another
//! agent (the warm transfer) or a supervisor listens in — things a `<Dial><Queue>` or
//! `<Dial><Number>` bridge cannot do, and a Twilio conference can.
//!
//! The room of a conversation is a record (`voice_room`, [`Room`]): the agent's leg
//! bridged to the caller ([`bridged`]: the softphone's call, or the answered call to
//! the agent's phone), then, once moved, the conference's id, whether the caller should
//! be held, and who was asked in. Moving the call ([`hold`], [`consult`], [`listen`]
//! the first time) is one REST call update: the agent's leg gets the conference's TwiML,
//! its bridge to the caller breaks, and the caller's own TwiML asks what next
//! (`after`, `agent-leg`): the room answers the conference for the caller too
//! ([`caller_twiml`]). From then on the conference's status callback,
//! `POST /webhooks/twilio/voice/room?conversation=..`, drives the rest: the first
//! event names the conference (pending dial-ins are rung then, REST `Participants.json`),
//! the caller's joining holds them when asked, a consulted leg's end forgets the
//! consult, the caller's hold reaches the agent's actor (supervisors see `on_hold`), and
//! the conference's end removes the record.
//!
//! A consult's hand-over ([`complete_consult`]) transfers the conversation to the
//! consulted agent, makes their leg end the conference when it leaves, takes the
//! caller off hold and removes the first agent's leg; [`cancel_consult`] removes the
//! consulted leg and takes the caller off hold.
//!
//! The record is read and written under a per-conversation lock of this node; two
//! nodes serving the same call's callbacks at once could still lose a field (the
//! platform retries nothing that was answered), which docs/voice.md says.

use super::*;
use serde::{Deserialize, Serialize};

/// Record kind of a conversation's room (key: the conversation id; value: [`Room`]
/// as JSON).
const KIND: &str = "voice_room";

/// How long a consulted agent's or a supervisor's phone rings, in seconds.
pub const RING_S: u32 = 20;

/// A phone call's room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Room {
    /// The agent whose leg is bridged to the caller (after a hand-over, the consulted
    /// agent).
    pub agent: crate::domain::AgentId,
    /// That agent's leg (`CallSid`).
    pub agent_call: String,
    /// The caller's call, once a move was asked.
    #[serde(default)]
    pub caller_call: Option<String>,
    /// The call was moved into the conference.
    #[serde(default)]
    pub moved: bool,
    /// The conference's id (`CF…`), once its first callback named it.
    #[serde(default)]
    pub conference: Option<String>,
    /// The caller should be on hold.
    #[serde(default)]
    pub hold: bool,
    /// The agent consulted, while a consult is under way.
    #[serde(default)]
    pub consult: Option<Invite>,
    /// Supervisors listening in or whispering.
    #[serde(default)]
    pub listeners: Vec<Invite>,
}

/// Someone rung into the room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invite {
    pub agent: crate::domain::AgentId,
    /// What is dialled: `client:<agent id>` (the softphone) or a phone number.
    pub to: String,
    pub role: Role,
    /// Their leg, once dialled.
    #[serde(default)]
    pub call: Option<String>,
}

/// How an invitee is in the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Heard by everyone (the caller is on hold meanwhile).
    Consult,
    /// Muted: hears everyone.
    Listen,
    /// Heard by the agent only (Twilio's coaching).
    Whisper,
}

impl Role {
    fn label(self) -> &'static str {
        match self {
            Role::Consult => "consult",
            Role::Listen => "listen",
            Role::Whisper => "whisper",
        }
    }
}

/// Why a room operation was not done.
#[derive(Debug)]
pub enum RoomError {
    /// The call is not in the state the operation needs: why.
    Conflict(&'static str),
    Rest(RestError),
    Engine(crate::actors::messages::EngineError),
}

impl From<RestError> for RoomError {
    fn from(e: RestError) -> Self {
        RoomError::Rest(e)
    }
}

impl From<crate::actors::messages::EngineError> for RoomError {
    fn from(e: crate::actors::messages::EngineError) -> Self {
        RoomError::Engine(e)
    }
}

/// The lock of `conversation`'s room on this node (striped: a few conversations
/// share one).
fn lock(conversation: crate::domain::ConversationId) -> &'static tokio::sync::Mutex<()> {
    static LOCKS: std::sync::OnceLock<Vec<tokio::sync::Mutex<()>>> = std::sync::OnceLock::new();
    let locks = LOCKS.get_or_init(|| (0..64).map(|_| tokio::sync::Mutex::new(())).collect());
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    conversation.hash(&mut h);
    &locks[(h.finish() % locks.len() as u64) as usize]
}

/// The room of `conversation`, if any.
pub async fn load(
    state: &Gateway,
    conversation: crate::domain::ConversationId,
) -> Result<Option<Room>, crate::actors::messages::EngineError> {
    let raw = state
        .store
        .record(KIND, &conversation.to_string())
        .await
        .map_err(crate::actors::messages::EngineError::unavailable)?;
    Ok(raw.and_then(|b| serde_json::from_slice(&b).ok()))
}

async fn save(
    state: &Gateway,
    conversation: crate::domain::ConversationId,
    room: Option<&Room>,
) -> Result<(), crate::actors::messages::EngineError> {
    let key = conversation.to_string();
    let write = match room {
        Some(r) => crate::store::RecordWrite::put(
            KIND,
            key,
            serde_json::to_vec(r).expect("a room serializes"),
        ),
        None => crate::store::RecordWrite::delete(KIND, key),
    };
    state
        .store
        .commit(crate::store::Batch {
            records: vec![write],
            ..Default::default()
        })
        .await
        .map_err(crate::actors::messages::EngineError::unavailable)
}

/// Remembers that `agent`'s leg `call` is now bridged to the caller of
/// `conversation`: a fresh room, not moved.
pub(super) async fn bridged(
    state: &Gateway,
    conversation: crate::domain::ConversationId,
    agent: &crate::domain::AgentId,
    call: &str,
) -> Result<(), crate::actors::messages::EngineError> {
    let _held = lock(conversation).lock().await;
    let room = Room {
        agent: agent.clone(),
        agent_call: call.to_owned(),
        caller_call: None,
        moved: false,
        conference: None,
        hold: false,
        consult: None,
        listeners: Vec::new(),
    };
    save(state, conversation, Some(&room)).await
}

/// The conference's name for conversation `c`.
fn name(c: crate::domain::ConversationId) -> String {
    format!("sb-{c}")
}

/// The `<Conference>` of conversation `c` with `attrs`, reporting to the room's
/// callback.
fn conference(state: &Gateway, c: &crate::domain::Conversation, attrs: &str) -> String {
    let callback = format!(
        "{}/webhooks/twilio/voice/room?conversation={}",
        state.channels().public_url,
        c.id
    );
    format!(
        "<Conference beep=\"false\" {attrs} statusCallback=\"{}\" \
         statusCallbackEvent=\"start end join leave hold\"{}>{}</Conference>",
        xml_escape(&callback),
        conference_recorded(state, c),
        name(c.id)
    )
}

/// The TwiML that puts the caller of `c` in its conference: they wait (hear music)
/// until an agent is in, end the conference when they hang up, and come back to
/// `after` when it ends while they are still on the line.
pub(super) fn caller_twiml(state: &Gateway, c: &crate::domain::Conversation) -> String {
    let after = format!(
        "{}/webhooks/twilio/voice/after?conversation={}",
        state.channels().public_url,
        c.id
    );
    format!(
        "<Dial action=\"{}\">{}</Dial>",
        xml_escape(&after),
        conference(
            state,
            c,
            "startConferenceOnEnter=\"false\" endConferenceOnExit=\"true\""
        )
    )
}

/// The TwiML that puts the agent's leg of `c` in its conference (it starts it; the
/// call ends with it when the agent hangs up).
fn agent_twiml(state: &Gateway, c: &crate::domain::Conversation) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Dial>{}</Dial></Response>",
        conference(
            state,
            c,
            "startConferenceOnEnter=\"true\" endConferenceOnExit=\"true\""
        )
    )
}

/// What an agent's softphone that dials conversation `c` while its call is in a
/// conference joins: the conference, as its agent (after a hand-over, the new agent
/// may dial once more). The room now names this leg.
pub(super) async fn rejoin(
    state: &Gateway,
    c: &crate::domain::Conversation,
    agent: &crate::domain::AgentId,
    call: &str,
) -> Result<Option<String>, crate::actors::messages::EngineError> {
    let _held = lock(c.id).lock().await;
    let Some(mut room) = load(state, c.id).await?.filter(|r| r.moved) else {
        return Ok(None);
    };
    room.agent = agent.clone();
    room.agent_call = call.to_owned();
    save(state, c.id, Some(&room)).await?;
    Ok(Some(format!(
        "<Dial>{}</Dial>",
        conference(
            state,
            c,
            "startConferenceOnEnter=\"true\" endConferenceOnExit=\"true\""
        )
    )))
}

/// The caller's next TwiML when the agent's leg of conversation `c` left its bridge:
/// the conference, when the call was moved there.
pub(super) async fn moved_caller(
    state: &Gateway,
    c: &crate::domain::Conversation,
) -> Result<Option<String>, crate::actors::messages::EngineError> {
    Ok(load(state, c.id)
        .await?
        .filter(|r| r.moved)
        .map(|_| caller_twiml(state, c)))
}

/// Forgets the room of `conversation` (its conference ended).
async fn close(
    state: &Gateway,
    conversation: crate::domain::ConversationId,
) -> Result<(), crate::actors::messages::EngineError> {
    let _held = lock(conversation).lock().await;
    save(state, conversation, None).await
}

/// Forgets what the caller of `conversation` was bridged to — its room and the agent
/// last bridged (`voice_bridged`) — once no agent's leg is with the caller any more
/// (the caller hung up, or the call goes on without an agent).
pub(super) async fn forget(
    state: &Gateway,
    conversation: crate::domain::ConversationId,
) -> Result<(), crate::actors::messages::EngineError> {
    let _held = lock(conversation).lock().await;
    let key = conversation.to_string();
    state
        .store
        .commit(crate::store::Batch {
            records: vec![
                crate::store::RecordWrite::delete(KIND, key.clone()),
                crate::store::RecordWrite::delete(BRIDGED, key),
            ],
            ..Default::default()
        })
        .await
        .map_err(crate::actors::messages::EngineError::unavailable)
}

/// The room of `c` held by `agent` with `change` applied, moved into the conference
/// (the agent's leg updated) if it was not yet; else `change`'s effects are carried
/// out at once where the conference is known (`now`).
async fn change<F>(
    state: &Gateway,
    c: &crate::domain::Conversation,
    agent: &crate::domain::AgentId,
    caller_call: &str,
    change: F,
) -> Result<Room, RoomError>
where
    F: FnOnce(&mut Room) -> Result<(), &'static str>,
{
    let v = &rest_account(state)?;
    let _held = lock(c.id).lock().await;
    let before = load(state, c.id)
        .await?
        .filter(|r| &r.agent == agent)
        .ok_or(RoomError::Conflict("the call is not connected to you yet"))?;
    let mut room = before.clone();
    room.caller_call = Some(caller_call.to_owned());
    change(&mut room).map_err(RoomError::Conflict)?;
    let moving = !room.moved;
    room.moved = true;
    save(state, c.id, Some(&room)).await?;
    if moving {
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Calls/{}.json",
            v.api_base, v.account_sid, room.agent_call
        );
        let twiml = agent_twiml(state, c);
        let moved = rest(
            state
                .api_client
                .post(url)
                .form(&[("Twiml", twiml.as_str())]),
            v,
        )
        .await;
        if let Err(e) = moved {
            save(state, c.id, Some(&before)).await?;
            return Err(e.into());
        }
    }
    Ok(room)
}

/// Puts the caller of `c` on hold (or takes them off it), for `agent` who holds it.
pub async fn hold(
    state: &Gateway,
    c: &crate::domain::Conversation,
    agent: &crate::domain::AgentId,
    caller_call: &str,
    on: bool,
) -> Result<(), RoomError> {
    let room = change(state, c, agent, caller_call, |r| {
        if r.consult.is_some() && !on {
            return Err("a consult is under way: complete or cancel it");
        }
        r.hold = on;
        Ok(())
    })
    .await?;
    // Not in the conference yet: the caller's joining holds them.
    if let Some(conf) = &room.conference {
        set_hold(state, conf, caller_call, on).await?;
    }
    Ok(())
}

/// Consults agent `other` (rung at `to`) on the call of `c`: the caller is held, and
/// `other` is dialled into the conference, at once if it is known, else at its first
/// callback.
pub async fn consult(
    state: &Gateway,
    c: &crate::domain::Conversation,
    agent: &crate::domain::AgentId,
    caller_call: &str,
    other: &crate::domain::AgentId,
    to: &str,
) -> Result<(), RoomError> {
    let invite = Invite {
        agent: other.clone(),
        to: to.to_owned(),
        role: Role::Consult,
        call: None,
    };
    let room = change(state, c, agent, caller_call, |r| {
        if r.consult.is_some() {
            return Err("a consult is already under way");
        }
        r.hold = true;
        r.consult = Some(invite);
        Ok(())
    })
    .await?;
    if let Some(conf) = room.conference.clone() {
        set_hold(state, &conf, caller_call, true).await?;
        dial_pending(state, c, &conf).await?;
    }
    Ok(())
}

/// A supervisor (`who`, rung at `to`) listens in on the call of `c` held by `agent`,
/// muted, or whispers to the agent.
pub async fn listen(
    state: &Gateway,
    c: &crate::domain::Conversation,
    agent: &crate::domain::AgentId,
    caller_call: &str,
    who: &crate::domain::AgentId,
    to: &str,
    whisper: bool,
) -> Result<(), RoomError> {
    let invite = Invite {
        agent: who.clone(),
        to: to.to_owned(),
        role: if whisper { Role::Whisper } else { Role::Listen },
        call: None,
    };
    let room = change(state, c, agent, caller_call, |r| {
        if r.listeners.iter().any(|l| &l.agent == who) {
            return Err("you are already in this call");
        }
        r.listeners.push(invite);
        Ok(())
    })
    .await?;
    if let Some(conf) = room.conference.clone() {
        dial_pending(state, c, &conf).await?;
    }
    Ok(())
}

/// The hand-over of a consult on the call of `c`: the conversation is transferred
/// from `agent` to the consulted agent (their desktop is offered it), whose leg now
/// ends the conference when it leaves; the caller comes off hold and `agent`'s leg
/// leaves. The consulted agent.
pub async fn complete_consult(
    state: &Gateway,
    c: &crate::domain::Conversation,
    agent: &crate::domain::AgentId,
) -> Result<crate::domain::AgentId, RoomError> {
    let v = &rest_account(state)?;
    let _held = lock(c.id).lock().await;
    let mut room = load(state, c.id)
        .await?
        .filter(|r| &r.agent == agent)
        .ok_or(RoomError::Conflict("no consult is under way"))?;
    let (Some(consult), Some(conf)) = (room.consult.clone(), room.conference.clone()) else {
        return Err(RoomError::Conflict("no consult is under way"));
    };
    let Some(other_call) = consult.call.clone() else {
        return Err(RoomError::Conflict(
            "the consulted agent has not been reached yet",
        ));
    };
    state
        .ask_customer(
            c.customer_id,
            crate::actors::messages::Transfer {
                conversation_id: c.id,
                from_agent: Some(agent.clone()),
                to_queue: None,
                to_agent: Some(consult.agent.clone()),
            },
        )
        .await?;
    // The agent did not ask its own actor: it is told, as when a customer leaves.
    state.engine.tell_agent(
        agent,
        crate::actors::messages::ConversationLeft {
            conversation_id: c.id,
            state: crate::domain::ConversationState::Queued,
        },
    );
    // The caller's next TwiML (after the conference) counts the new agent as bridged,
    // whose leg answers the call now.
    remember_bridge(state, c.id, &consult.agent).await?;
    answered(state, c, &other_call, &consult.agent).await;
    let first_call = std::mem::replace(&mut room.agent_call, other_call.clone());
    room.agent = consult.agent.clone();
    room.consult = None;
    room.hold = false;
    save(state, c.id, Some(&room)).await?;
    participant(
        state,
        v,
        &conf,
        &other_call,
        &[("EndConferenceOnExit", "true")],
    )
    .await?;
    participant(
        state,
        v,
        &conf,
        &first_call,
        &[("EndConferenceOnExit", "false")],
    )
    .await?;
    kick(state, v, &conf, &first_call).await?;
    if let Some(caller) = &room.caller_call {
        set_hold(state, &conf, caller, false).await?;
    }
    state.engine.tell_agent(
        agent,
        crate::actors::messages::PhoneHold {
            conversation_id: c.id,
            on_hold: false,
        },
    );
    Ok(consult.agent)
}

/// Ends the consult on the call of `c` without a hand-over: the consulted leg leaves
/// (if it has not already: declined, hung up), the caller comes off hold.
pub async fn cancel_consult(
    state: &Gateway,
    c: &crate::domain::Conversation,
    agent: &crate::domain::AgentId,
) -> Result<(), RoomError> {
    let v = &rest_account(state)?;
    let _held = lock(c.id).lock().await;
    let mut room = load(state, c.id)
        .await?
        .filter(|r| &r.agent == agent && r.moved && (r.consult.is_some() || r.hold))
        .ok_or(RoomError::Conflict("no consult is under way"))?;
    let consult = room.consult.take();
    room.hold = false;
    save(state, c.id, Some(&room)).await?;
    let Some(conf) = &room.conference else {
        // Nobody was dialled yet.
        return Ok(());
    };
    if let Some(call) = consult.and_then(|i| i.call) {
        match kick(state, v, conf, &call).await {
            // Gone already (declined, hung up).
            Ok(()) | Err(RestError::Gone) => {}
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(caller) = &room.caller_call {
        set_hold(state, conf, caller, false).await?;
    }
    Ok(())
}

/// Holds or unholds participant `call` of conference `conf`.
async fn set_hold(state: &Gateway, conf: &str, call: &str, on: bool) -> Result<(), RestError> {
    let v = &rest_account(state)?;
    participant(
        state,
        v,
        conf,
        call,
        &[("Hold", if on { "true" } else { "false" })],
    )
    .await
}

/// Updates participant `call` of conference `conf` with `form`.
async fn participant(
    state: &Gateway,
    v: &crate::config::TwilioVoice,
    conf: &str,
    call: &str,
    form: &[(&str, &str)],
) -> Result<(), RestError> {
    let url = format!(
        "{}/2010-04-01/Accounts/{}/Conferences/{conf}/Participants/{call}.json",
        v.api_base, v.account_sid
    );
    rest(state.api_client.post(url).form(form), v).await?;
    Ok(())
}

/// Removes participant `call` from conference `conf` (their call leaves it).
async fn kick(
    state: &Gateway,
    v: &crate::config::TwilioVoice,
    conf: &str,
    call: &str,
) -> Result<(), RestError> {
    let url = format!(
        "{}/2010-04-01/Accounts/{}/Conferences/{conf}/Participants/{call}.json",
        v.api_base, v.account_sid
    );
    rest(state.api_client.delete(url), v).await?;
    Ok(())
}

/// Dials every invitee of `c`'s room not dialled yet into conference `conf`,
/// remembering their legs (under the room's lock).
async fn dial_pending(
    state: &Gateway,
    c: &crate::domain::Conversation,
    conf: &str,
) -> Result<(), RoomError> {
    let v = &rest_account(state)?;
    let _held = lock(c.id).lock().await;
    let Some(mut room) = load(state, c.id).await? else {
        return Ok(());
    };
    let mut invites: Vec<&mut Invite> = room.consult.iter_mut().collect();
    invites.extend(room.listeners.iter_mut());
    let mut dialled = false;
    for invite in invites.into_iter().filter(|i| i.call.is_none()) {
        invite.call = Some(dial_in(state, v, c, conf, invite, &room.agent_call).await?);
        dialled = true;
    }
    if dialled {
        save(state, c.id, Some(&room)).await?;
    }
    Ok(())
}

/// Rings `invite` into conference `conf` of `c` (REST `Participants.json`): their leg.
async fn dial_in(
    state: &Gateway,
    v: &crate::config::TwilioVoice,
    c: &crate::domain::Conversation,
    conf: &str,
    invite: &Invite,
    agent_call: &str,
) -> Result<String, RoomError> {
    let from = if invite.to.starts_with("client:") {
        format!(
            "client:{}",
            c.agent
                .as_ref()
                .map(|a| a.as_str())
                .unwrap_or("switchboard")
        )
    } else if v.caller_id.is_empty() {
        return Err(RoomError::Conflict(
            "phones cannot be rung: channels.voice.caller_id is not set",
        ));
    } else {
        v.caller_id.clone()
    };
    let callback = format!(
        "{}/webhooks/twilio/voice/room?conversation={}&agent={}",
        state.channels().public_url,
        c.id,
        invite.agent
    );
    let ring = RING_S.to_string();
    let mut form = vec![
        ("From", from.as_str()),
        ("To", invite.to.as_str()),
        ("Label", invite.role.label()),
        ("Timeout", ring.as_str()),
        ("Beep", "false"),
        ("EndConferenceOnExit", "false"),
        ("StatusCallback", callback.as_str()),
        ("StatusCallbackEvent", "completed"),
    ];
    match invite.role {
        Role::Consult => form.push(("StartConferenceOnEnter", "true")),
        Role::Listen => form.extend([("StartConferenceOnEnter", "false"), ("Muted", "true")]),
        Role::Whisper => form.extend([
            ("StartConferenceOnEnter", "false"),
            ("Coaching", "true"),
            ("CallSidToCoach", agent_call),
        ]),
    }
    let url = format!(
        "{}/2010-04-01/Accounts/{}/Conferences/{conf}/Participants.json",
        v.api_base, v.account_sid
    );
    let resp = rest(state.api_client.post(url).form(&form), v).await?;
    #[derive(Deserialize)]
    struct Created {
        call_sid: String,
    }
    let created: Created = resp
        .json()
        .await
        .map_err(|e| RestError::Upstream(format!("the participant's answer: {e}")))?;
    if !(created.call_sid.len() == 34 && created.call_sid.starts_with("CA")) {
        return Err(RestError::Upstream("the participant's answer has no call".into()).into());
    }
    Ok(created.call_sid)
}

webhook! {
    /// `POST /webhooks/twilio/voice/room?conversation=..[&agent=..]`: the conference's
    /// status callback, or (with `agent`) how a dialled-in leg ended.
    room => room_inner
}

async fn room_inner(
    state: &Gateway,
    req: &HttpRequest,
    params: Vec<(String, String)>,
) -> Result<HttpResponse, WebhookError> {
    let conversation = conversation_in(req)?;
    let Some(c) = state
        .store
        .conversation(conversation)
        .await
        .map_err(crate::actors::messages::EngineError::unavailable)?
    else {
        return Ok(HttpResponse::NoContent().finish());
    };
    let Some(event) = field(&params, "StatusCallbackEvent") else {
        // A dialled-in leg's status: at its end, that invitee is out of the room.
        let call = required(&params, "CallSid")?;
        if matches!(
            required(&params, "CallStatus")?,
            "completed" | "busy" | "no-answer" | "failed" | "canceled"
        ) {
            left(state, conversation, call).await?;
        }
        return Ok(HttpResponse::NoContent().finish());
    };
    match event {
        "conference-end" => {
            let room = load(state, conversation).await?;
            close(state, conversation).await?;
            if let Some(r) = room.filter(|r| r.hold) {
                tell_hold(state, &r, conversation, false);
            }
            return Ok(HttpResponse::NoContent().finish());
        }
        "participant-leave" => {
            left(state, conversation, required(&params, "CallSid")?).await?;
        }
        _ => {}
    }
    let conf = required(&params, "ConferenceSid")?;
    if !(conf.len() == 34 && conf.starts_with("CF")) {
        return Err(WebhookError::Malformed(format!(
            "ConferenceSid {conf:?} is not a conference"
        )));
    }
    let room = {
        let _held = lock(conversation).lock().await;
        let Some(mut room) = load(state, conversation).await?.filter(|r| r.moved) else {
            return Ok(HttpResponse::NoContent().finish());
        };
        if room.conference.as_deref() != Some(conf) {
            room.conference = Some(conf.to_owned());
            save(state, conversation, Some(&room)).await?;
        }
        room
    };
    let call = field(&params, "CallSid");
    let is_caller = call.is_some() && call == room.caller_call.as_deref();
    match event {
        "participant-join" if is_caller && room.hold => {
            set_hold(state, conf, call.unwrap_or_default(), true)
                .await
                .map_err(rest_failed)?;
        }
        "participant-hold" if is_caller => tell_hold(state, &room, conversation, true),
        "participant-unhold" if is_caller => tell_hold(state, &room, conversation, false),
        _ => {}
    }
    let pending = room
        .consult
        .iter()
        .chain(&room.listeners)
        .any(|i| i.call.is_none());
    if pending {
        dial_pending(state, &c, conf).await.map_err(|e| match e {
            RoomError::Rest(e) => rest_failed(e),
            RoomError::Engine(e) => e.into(),
            RoomError::Conflict(why) => WebhookError::Malformed(why.into()),
        })?;
    }
    Ok(HttpResponse::NoContent().finish())
}

/// A REST call the platform's callback needed failed: the callback is answered 503 so
/// the failure shows at the platform.
fn rest_failed(e: RestError) -> WebhookError {
    WebhookError::from(crate::actors::messages::EngineError::unavailable(format!(
        "the telephony platform: {e:?}"
    )))
}

/// Tells the agent of `room` that its caller is on hold, or not (supervisors see it).
fn tell_hold(
    state: &Gateway,
    room: &Room,
    conversation: crate::domain::ConversationId,
    on_hold: bool,
) {
    state.engine.tell_agent(
        &room.agent,
        crate::actors::messages::PhoneHold {
            conversation_id: conversation,
            on_hold,
        },
    );
}

/// Leg `call` of `conversation`'s room left (or never answered): an invitee of it is
/// out.
async fn left(
    state: &Gateway,
    conversation: crate::domain::ConversationId,
    call: &str,
) -> Result<(), crate::actors::messages::EngineError> {
    let _held = lock(conversation).lock().await;
    let Some(mut room) = load(state, conversation).await? else {
        return Ok(());
    };
    let before = room.clone();
    if room
        .consult
        .as_ref()
        .is_some_and(|i| i.call.as_deref() == Some(call))
    {
        room.consult = None;
    }
    room.listeners.retain(|i| i.call.as_deref() != Some(call));
    if room != before {
        save(state, conversation, Some(&room)).await?;
    }
    Ok(())
}
