//! Call recording (docs/voice.md "Recording"): the `<Dial>` attributes that record a
//! bridged call of a queue with `record_calls`, the platform's recording callback
//! (`POST /webhooks/twilio/voice/recording?conversation=..`, one staff-only
//! `call_recorded` event per recording and status), and [`fetch_recording`], how
//! staff play a recording: the engine asks the REST API at a URL it builds, with the
//! account's credentials.

use super::*;

/// The `<Dial>` attributes that record a call of conversation `c` (both sides, from
/// the answer) and report the recording, when its queue has `record_calls`; else none.
pub(super) fn recorded(state: &Gateway, c: &crate::domain::Conversation) -> String {
    if !state
        .engine
        .queue_config(&c.queue)
        .is_some_and(|q| q.record_calls)
    {
        return String::new();
    }
    let callback = format!(
        "{}/webhooks/twilio/voice/recording?conversation={}",
        state.channels().public_url,
        c.id
    );
    format!(
        " record=\"record-from-answer-dual\" recordingStatusCallback=\"{}\" \
         recordingStatusCallbackEvent=\"completed absent\"",
        xml_escape(&callback)
    )
}

webhook! {
    /// `POST /webhooks/twilio/voice/recording?conversation=..`: a call's recording.
    recording => recording_inner
}

async fn recording_inner(
    state: &Gateway,
    req: &HttpRequest,
    params: Vec<(String, String)>,
) -> Result<HttpResponse, WebhookError> {
    let conversation = conversation_in(req)?;
    let recording_id = required(&params, "RecordingSid")?;
    if !crate::domain::recording_id_valid(recording_id) {
        return Err(WebhookError::Malformed(format!(
            "RecordingSid {recording_id:?} is not a recording id"
        )));
    }
    let raw_status = required(&params, "RecordingStatus")?;
    let Some(status) = crate::domain::RecordingStatus::parse(raw_status) else {
        // `in-progress`: the recording is reported again when it ends.
        return Ok(HttpResponse::NoContent().finish());
    };
    let duration_s = match field(&params, "RecordingDuration") {
        None | Some("") => None,
        Some(d) => Some(d.parse::<u64>().map_err(|_| {
            WebhookError::Malformed(format!("RecordingDuration {d:?} is not a number"))
        })?),
    };
    let Some(conv) = state
        .store
        .conversation(conversation)
        .await
        .map_err(crate::actors::messages::EngineError::unavailable)?
    else {
        // Erased since (or never ours): nothing to attach the recording to.
        tracing::info!(%conversation, recording_id, "a recording of an unknown conversation was ignored");
        return Ok(HttpResponse::NoContent().finish());
    };
    state
        .ask_customer(
            conv.customer_id,
            CallRecorded {
                conversation_id: conversation,
                call_id: field(&params, "CallSid").unwrap_or_default().to_owned(),
                recording_id: recording_id.to_owned(),
                status,
                duration_s,
                url: field(&params, "RecordingUrl")
                    .unwrap_or_default()
                    .to_owned(),
            },
        )
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Asks the platform for recording `recording_id` (checked by
/// `domain::recording_id_valid`) as MP3, with the account's credentials; the answer
/// streams (no such recording: `Gone`). The URL is built here, never taken from a
/// callback.
pub async fn fetch_recording(
    state: &Gateway,
    recording_id: &str,
) -> Result<reqwest::Response, RestError> {
    let v = &rest_account(state)?;
    if !crate::domain::recording_id_valid(recording_id) {
        return Err(RestError::Gone);
    }
    let url = format!(
        "{}/2010-04-01/Accounts/{}/Recordings/{recording_id}.mp3",
        v.api_base, v.account_sid
    );
    rest(state.stream_client.get(url), v).await
}

/// The `<Conference>` attributes that record conversation `c`'s conference (from its
/// start) and report the recording, when its queue has `record_calls`; else none.
pub(super) fn conference_recorded(state: &Gateway, c: &crate::domain::Conversation) -> String {
    recorded(state, c).replace("record-from-answer-dual", "record-from-start")
}
