//! Calls with an agent's own phone as a leg (docs/voice.md "The agent's own phone" and
//! "Calling out"): the outcome of a call out (`POST /webhooks/twilio/voice/dialed`: a
//! callback's attempt or a `call` event), moving a waiting caller to the agent's phone
//! ([`bridge_to_phone`], REST call update), its answer
//! (`POST /webhooks/twilio/voice/agent-answered`: the agent's leg, for `room`) and its
//! outcome (`POST /webhooks/twilio/voice/agent-leg`), and a call out through that phone
//! ([`call_out_via_phone`], REST `Calls.json`).

use super::*;

webhook! {
    /// `POST /webhooks/twilio/voice/dialed?conversation=..&agent=..`: how an agent's call
    /// out ended.
    dialed => dialed_inner
}

async fn dialed_inner(
    state: &Gateway,
    req: &HttpRequest,
    params: Vec<(String, String)>,
) -> Result<HttpResponse, WebhookError> {
    use crate::ivr::callbacks::Outcome;
    let (conversation, agent, status) = agent_call(req, &params, "DialCallStatus")?;
    let outcome = match status {
        "completed" | "answered" => Outcome::Reached,
        "busy" => Outcome::Busy,
        "no-answer" | "failed" | "canceled" => Outcome::NoAnswer,
        other => {
            return Err(WebhookError::Malformed(format!(
                "DialCallStatus {other:?} is not a dial's end"
            )))
        }
    };
    let Some(customer) = customer_of(state, conversation).await? else {
        return Ok(twiml("<Hangup/>".into()));
    };
    let attempt = state
        .ask_customer(
            customer,
            crate::actors::customer::callback::CallbackOutcome {
                conversation_id: conversation,
                agent_id: agent,
                outcome,
            },
        )
        .await;
    match attempt {
        Ok(_) => {}
        // No callback is pending: an ordinary call out, recorded as a call.
        Err(e) if e.code == crate::domain::ErrorCode::Conflict => {
            let call_id = required(&params, "DialCallSid")?;
            state
                .ask_customer(
                    customer,
                    CallEnded {
                        call_id: call_id.to_owned(),
                        status: status.to_owned(),
                        duration_s: field(&params, "DialCallDuration").and_then(|d| d.parse().ok()),
                        conversation_id: Some(conversation),
                    },
                )
                .await?;
        }
        Err(e) => {
            tracing::info!(%conversation, error = %e, "a call out's outcome was not recorded");
        }
    }
    // The agent's leg has nothing more to do.
    Ok(twiml("<Hangup/>".into()))
}

/// Moves the waiting caller's call `call_sid` of voice conversation `c` to agent
/// `agent`'s own phone `phone` (E.164): the call's TwiML becomes a `<Dial>` of that
/// number (recorded when the queue records), ringing `ring_s` seconds, whose outcome
/// comes to `agent_leg`.
pub async fn bridge_to_phone(
    state: &Gateway,
    c: &crate::domain::Conversation,
    call_sid: &str,
    agent: &crate::domain::AgentId,
    phone: &str,
    ring_s: u32,
) -> Result<(), RestError> {
    let v = &rest_account(state)?;
    if !(call_sid.len() == 34 && call_sid.starts_with("CA")) {
        return Err(RestError::Gone);
    }
    remember_bridge(state, c.id, agent)
        .await
        .map_err(|e| RestError::Upstream(e.message))?;
    let leg = format!(
        "{}/webhooks/twilio/voice/agent-leg?conversation={}&agent={agent}",
        state.channels().public_url,
        c.id
    );
    let answered = format!(
        "{}/webhooks/twilio/voice/agent-answered?conversation={}&agent={agent}",
        state.channels().public_url,
        c.id
    );
    let twiml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Dial timeout=\"{ring_s}\" \
         answerOnBridge=\"true\" action=\"{}\"{}><Number statusCallbackEvent=\"answered\" \
         statusCallback=\"{}\">{}</Number></Dial></Response>",
        xml_escape(&leg),
        recorded(state, c),
        xml_escape(&answered),
        xml_escape(phone)
    );
    let url = format!(
        "{}/2010-04-01/Accounts/{}/Calls/{call_sid}.json",
        v.api_base, v.account_sid
    );
    rest(
        state
            .api_client
            .post(url)
            .form(&[("Twiml", twiml.as_str())]),
        v,
    )
    .await?;
    Ok(())
}

/// Why a call out through an agent's own phone was not placed.
#[derive(Debug)]
pub enum CallOutError {
    /// The number may not be called from this conversation (or no caller id is set):
    /// the reason.
    Refused(&'static str),
    Rest(RestError),
}

/// An agent's call out from held conversation `c` through the agent's own phone:
/// the platform calls `phone` first (REST `Calls.json`, from `channels.voice.caller_id`)
/// and, once the agent answers, dials `to` — the same checked `<Dial>` as a softphone
/// call out, whose outcome comes to `dialed` (a callback's attempt, or a `call` event).
pub async fn call_out_via_phone(
    state: &Gateway,
    c: &crate::domain::Conversation,
    phone: &str,
    to: &str,
    ring_s: u32,
) -> Result<String, CallOutError> {
    let v = &rest_account(state).map_err(CallOutError::Rest)?;
    let dial = dial_out(state, c, to)
        .await
        .map_err(|e| CallOutError::Rest(RestError::Upstream(e.to_string())))?
        .map_err(CallOutError::Refused)?;
    let connecting = if v.language.starts_with("en") {
        "Connecting you to the customer."
    } else {
        "お客様におつなぎします。"
    };
    let twiml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>{}{dial}</Response>",
        say(state, connecting)
    );
    let url = format!(
        "{}/2010-04-01/Accounts/{}/Calls.json",
        v.api_base, v.account_sid
    );
    let timeout = ring_s.to_string();
    let form = [
        ("To", phone),
        ("From", v.caller_id.as_str()),
        ("Timeout", timeout.as_str()),
        ("Twiml", twiml.as_str()),
    ];
    rest(state.api_client.post(url).form(&form), v)
        .await
        .map_err(CallOutError::Rest)?;
    let number = IdentityKey::parse(Channel::Voice, to)
        .map(|k| k.address)
        .unwrap_or_else(|_| to.to_owned());
    Ok(number)
}

webhook! {
    /// `POST /webhooks/twilio/voice/agent-leg?conversation=..&agent=..`: how the call to
    /// an agent's own phone ended.
    agent_leg => agent_leg_inner
}

async fn agent_leg_inner(
    state: &Gateway,
    req: &HttpRequest,
    params: Vec<(String, String)>,
) -> Result<HttpResponse, WebhookError> {
    let (conversation, agent, status) = agent_call(req, &params, "DialCallStatus")?;
    if field(&params, "CallStatus").is_some_and(|s| s != "in-progress") {
        // The caller hung up: the status callback ends the call.
        room::forget(state, conversation).await?;
        return Ok(twiml("<Hangup/>".into()));
    }
    match status {
        "completed" | "answered" => Ok(twiml(after_bridge(state, conversation).await?)),
        "busy" | "no-answer" | "failed" | "canceled" => {
            // The agent did not answer: the conversation goes back to its queue (as
            // a rejected offer would) and the caller waits again.
            if let Some(conv) = state
                .store
                .conversation(conversation)
                .await
                .map_err(crate::actors::messages::EngineError::unavailable)?
            {
                if conv.agent.as_ref() == Some(&agent) {
                    let back = state
                        .ask_customer(
                            conv.customer_id,
                            crate::actors::messages::Transfer {
                                conversation_id: conversation,
                                from_agent: Some(agent.clone()),
                                to_queue: Some(conv.queue.clone()),
                                to_agent: None,
                            },
                        )
                        .await;
                    match back {
                        // The agent did not ask for it: its actor is told, as when a
                        // customer leaves.
                        Ok(()) => state.engine.tell_agent(
                            &agent,
                            crate::actors::messages::ConversationLeft {
                                conversation_id: conversation,
                                state: crate::domain::ConversationState::Queued,
                            },
                        ),
                        Err(e) => {
                            tracing::info!(%conversation, %agent, error = %e, "an unanswered agent phone did not requeue");
                        }
                    }
                }
            }
            let held = if state.channels().voice.language.starts_with("en") {
                "Please hold while we find another agent."
            } else {
                "ただいま別の担当者におつなぎします。そのままお待ちください。"
            };
            Ok(twiml(format!(
                "{}{}",
                say(state, held),
                enqueue(state, conversation)
            )))
        }
        other => Err(WebhookError::Malformed(format!(
            "DialCallStatus {other:?} is not a dial's end"
        ))),
    }
}

webhook! {
    /// `POST /webhooks/twilio/voice/agent-answered?conversation=..&agent=..`: the agent
    /// answered their phone; its call (`CallSid`) is the agent's leg of the call's room.
    agent_answered => agent_answered_inner
}

async fn agent_answered_inner(
    state: &Gateway,
    req: &HttpRequest,
    params: Vec<(String, String)>,
) -> Result<HttpResponse, WebhookError> {
    let (conversation, agent, call) = agent_call(req, &params, "CallSid")?;
    if !(call.len() == 34 && call.starts_with("CA")) {
        return Err(WebhookError::Malformed(format!(
            "CallSid {call:?} is not a call"
        )));
    }
    if required(&params, "CallStatus")? == "in-progress" {
        room::bridged(state, conversation, &agent, call).await?;
        if let Some(c) = state
            .store
            .conversation(conversation)
            .await
            .map_err(crate::actors::messages::EngineError::unavailable)?
        {
            answered(state, &c, call, &agent).await;
        }
    }
    Ok(HttpResponse::NoContent().finish())
}

/// The conversation and agent a callback URL of an agent's call names, and the
/// platform's `field` of the call.
fn agent_call<'p>(
    req: &HttpRequest,
    params: &'p [(String, String)],
    field: &str,
) -> Result<
    (
        crate::domain::ConversationId,
        crate::domain::AgentId,
        &'p str,
    ),
    WebhookError,
> {
    Ok((
        conversation_in(req)?,
        agent_in(req)?,
        required(params, field)?,
    ))
}
