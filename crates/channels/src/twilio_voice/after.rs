//! After the agent's leg of a bridged call (docs/voice.md "Transfer" and "Survey by
//! keypad"): the `<Enqueue>` action `POST /webhooks/twilio/voice/after`, which puts a
//! transferred caller back in the queue or asks the keypad survey, and its key,
//! `POST /webhooks/twilio/voice/csat`.

use super::*;

webhook! {
    /// `POST /webhooks/twilio/voice/after?conversation=..`: the caller left the queue.
    after => after_inner
}

async fn after_inner(
    state: &Gateway,
    req: &HttpRequest,
    params: Vec<(String, String)>,
) -> Result<HttpResponse, WebhookError> {
    let conversation = conversation_in(req)?;
    // The caller's conference ended (`room`) with the caller still on the line.
    let still_on = field(&params, "CallStatus") == Some("in-progress");
    if still_on && field(&params, "DialCallStatus").is_some() {
        return Ok(twiml(after_call(state, conversation).await?));
    }
    // Only a caller whose agent's leg ended is still on the line.
    if !still_on || field(&params, "QueueResult") != Some("bridged") {
        room::forget(state, conversation).await?;
        return Ok(twiml("<Hangup/>".into()));
    }
    Ok(twiml(after_bridge(state, conversation).await?))
}

/// What a caller still on the line hears once the agent's leg of `conversation` left
/// the bridge: the conference, when the call was moved there (`room`: hold, consult,
/// listen-in); else as after the call ([`after_call`]).
pub(super) async fn after_bridge(
    state: &Gateway,
    conversation: crate::domain::ConversationId,
) -> Result<String, WebhookError> {
    let Some(conv) = state
        .store
        .conversation(conversation)
        .await
        .map_err(crate::actors::messages::EngineError::unavailable)?
    else {
        return Ok("<Hangup/>".into());
    };
    if let Some(join) = room::moved_caller(state, &conv).await? {
        return Ok(join);
    }
    after_call(state, conversation).await
}

/// What a caller still on the line hears once their agent is gone: back in the queue
/// when the call was transferred meanwhile, else the keypad survey (with surveys on),
/// else the end of the call. The call's bridge and room are forgotten either way (a
/// next agent's leg writes them again).
async fn after_call(
    state: &Gateway,
    conversation: crate::domain::ConversationId,
) -> Result<String, WebhookError> {
    let store = &state.store;
    let unavailable = crate::actors::messages::EngineError::unavailable;
    let Some(conv) = store
        .conversation(conversation)
        .await
        .map_err(unavailable)?
    else {
        return Ok("<Hangup/>".into());
    };
    let bridged = store
        .record(BRIDGED, &conversation.to_string())
        .await
        .map_err(unavailable)?;
    room::forget(state, conversation).await?;
    if transferred(&conv, bridged.as_deref()) {
        // The call went to another queue or agent: the caller waits again, and the
        // next agent's softphone dials it as any other.
        let moving = if state.channels().voice.language.starts_with("en") {
            "Please hold while we transfer your call."
        } else {
            "おつなぎ先を変更します。そのままお待ちください。"
        };
        return Ok(format!(
            "{}{}",
            say(state, moving),
            enqueue(state, conversation)
        ));
    }
    let customer = conv.customer_id;
    let asked = state
        .ask_customer(
            customer,
            crate::actors::customer::survey::AskPhoneSurvey {
                conversation_id: conversation,
            },
        )
        .await;
    Ok(match asked {
        Ok(Some(lang)) => survey_gather(state, conversation, lang, 0, false),
        Ok(None) => "<Hangup/>".into(),
        Err(e) => {
            // The caller is not kept waiting on an engine that cannot take the answer.
            tracing::info!(%conversation, error = %e, "no keypad survey: the engine refused it");
            "<Hangup/>".into()
        }
    })
}

/// Whether open conversation `conv` moved away from the agent last bridged to its
/// caller (`bridged`, an agent id): waiting again, or held by someone else.
fn transferred(conv: &crate::domain::Conversation, bridged: Option<&[u8]>) -> bool {
    use crate::domain::ConversationState as S;
    match conv.state {
        S::Queued => true,
        S::Assigned | S::WrapUp => {
            bridged.is_some_and(|b| conv.agent.as_ref().map(|a| a.as_str().as_bytes()) != Some(b))
        }
        S::Parked | S::Resolved | S::Abandoned => false,
    }
}

/// The spoken language of the survey in `lang`.
fn survey_voice(lang: crate::survey::Language) -> &'static str {
    match lang {
        crate::survey::Language::Ja => "ja-JP",
        crate::survey::Language::En => "en-US",
    }
}

/// The one-digit `<Gather>` of the keypad survey (the reminder first when
/// `reprompt`), then a hang-up when no key comes.
fn survey_gather(
    state: &Gateway,
    conversation: crate::domain::ConversationId,
    lang: crate::survey::Language,
    tries: u32,
    reprompt: bool,
) -> String {
    let url = format!(
        "{}/webhooks/twilio/voice/csat?conversation={conversation}&lang={}&try={tries}",
        state.channels().public_url,
        lang.as_str()
    );
    let text = if reprompt {
        crate::survey::phone_reprompt(lang)
    } else {
        crate::survey::phone_question(lang)
    };
    format!(
        "<Gather input=\"dtmf\" numDigits=\"1\" timeout=\"{}\" action=\"{}\">\
         <Say language=\"{}\">{}</Say></Gather><Hangup/>",
        state.channels().voice.gather_timeout_s,
        xml_escape(&url),
        survey_voice(lang),
        xml_escape(text)
    )
}

webhook! {
    /// `POST /webhooks/twilio/voice/csat?conversation=..&lang=..&try=..`: the key pressed.
    csat => csat_inner
}

async fn csat_inner(
    state: &Gateway,
    req: &HttpRequest,
    params: Vec<(String, String)>,
) -> Result<HttpResponse, WebhookError> {
    let conversation = conversation_in(req)?;
    let query: Vec<(String, String)> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let lang = field(&query, "lang")
        .and_then(crate::survey::Language::parse)
        .unwrap_or(crate::survey::Language::Ja);
    let tries: u32 = field(&query, "try")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let score = field(&params, "Digits")
        .and_then(|d| d.parse::<u8>().ok())
        .filter(|s| (1..=crate::survey::SCALE_MAX).contains(s));
    let Some(score) = score else {
        return Ok(twiml(if tries < state.ivr.max_retries {
            survey_gather(state, conversation, lang, tries + 1, true)
        } else {
            "<Hangup/>".into()
        }));
    };
    let Some(customer) = customer_of(state, conversation).await? else {
        return Ok(twiml("<Hangup/>".into()));
    };
    let answered = state
        .ask_customer(
            customer,
            crate::actors::customer::survey::AnswerSurvey {
                conversation_id: conversation,
                score,
                comment: None,
                channel: Channel::Voice,
                secret: None,
            },
        )
        .await;
    match answered {
        // Answered now, or already (the platform retried): thanked either way.
        Ok(_) => {}
        Err(e) if e.code == crate::domain::ErrorCode::Conflict => {}
        Err(e) => {
            tracing::info!(%conversation, error = %e, "a keypad survey answer was refused");
            return Ok(twiml("<Hangup/>".into()));
        }
    }
    Ok(twiml(format!(
        "<Say language=\"{}\">{}</Say><Hangup/>",
        survey_voice(lang),
        xml_escape(crate::survey::phone_thanks(lang))
    )))
}
