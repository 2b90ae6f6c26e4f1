//! The post-call survey by keypad (docs/voice.md "Survey by keypad"): with surveys on,
//! a waiting caller's `<Enqueue>` names the engine's action URL; when the agent hangs
//! up (`QueueResult=bridged`) the caller hears the question in a one-digit `<Gather>`;
//! a key out of range is asked again up to `ivr.max_retries` times; the key 1 to 5 is
//! the conversation's CSAT, stored once (the survey record, `survey_sent` and
//! `survey_answered` events) and counted for the queue and the agent; a caller who
//! hung up in the queue, or whose survey was answered, is not asked. Every TwiML
//! answer is parsed and checked (`twiml.rs`).

use crate::channels::{twilio_post, PUBLIC};
use crate::helpers::*;
use crate::twiml::check;
use serde_json::json;

async fn survey_app(surveys: bool) -> TestApp {
    spawn_app(move |s| {
        s.survey.enabled = surveys;
        s.ivr.max_retries = 1;
        crate::voice_softphone::voice_on(s);
    })
    .await
}

/// A call from `caller` comes in and waits; returns the `<Enqueue>` element.
pub async fn waiting_call(app: &TestApp, caller: &str, call: &str) -> crate::twiml::Element {
    let p = [
        ("CallSid", call),
        ("From", caller),
        ("To", "+81501234567"),
        ("CallStatus", "ringing"),
    ];
    let (s, xml) = twilio_post(app, "/webhooks/twilio/voice", &p, None).await;
    assert_eq!(s, 200, "{xml}");
    check(&xml)
        .into_iter()
        .find(|e| e.path == "Response/Enqueue")
        .unwrap_or_else(|| panic!("the caller waits: {xml}"))
}

/// Posts the platform's request to `url` (an absolute URL the engine gave) with
/// `params`; returns the checked TwiML.
pub async fn follow(
    app: &TestApp,
    url: &str,
    params: &[(&str, &str)],
) -> Vec<crate::twiml::Element> {
    let path = url.strip_prefix(PUBLIC).expect("an URL of ours");
    let (s, xml) = twilio_post(app, path, params, None).await;
    assert_eq!(s, 200, "{xml}");
    check(&xml)
}

pub fn paths(els: &[crate::twiml::Element]) -> Vec<&str> {
    els.iter().map(|e| e.path.as_str()).collect()
}

#[actix_rt::test]
async fn the_caller_rates_the_call_by_keypad_after_the_agent_hangs_up() {
    let app = survey_app(true).await;
    let ann = app.agent("ann", &["general"], json!({})).await;
    let mut a = Client::available(&app, &ann).await;
    let call = "CA00000000000000000000000000000040";
    let enqueue = waiting_call(&app, "+81312345670", call).await;
    let conv = accept_next(&mut a).await["id"].as_str().unwrap().to_owned();
    assert_eq!(enqueue.text, conv);
    let after = enqueue.attrs["action"].clone();
    assert_eq!(
        after,
        format!("{PUBLIC}/webhooks/twilio/voice/after?conversation={conv}")
    );

    // The agent hangs up: the caller is asked, in the customer's language (Japanese
    // by default), for one key.
    let left = [
        ("CallSid", call),
        ("From", "+81312345670"),
        ("QueueResult", "bridged"),
        ("QueueTime", "12"),
        ("CallStatus", "in-progress"),
    ];
    let asked = follow(&app, &after, &left).await;
    assert_eq!(
        paths(&asked),
        ["Response/Gather", "Response/Gather/Say", "Response/Hangup"]
    );
    let gather = &asked[0];
    assert_eq!(gather.attrs["numDigits"], "1");
    assert_eq!(gather.attrs["input"], "dtmf");
    assert_eq!(asked[1].attrs["language"], "ja-JP");
    assert!(asked[1].text.contains('5'), "{}", asked[1].text);
    let (s, rec) = app
        .get(&format!("/api/v1/conversations/{conv}/survey"))
        .await;
    assert_eq!(s, 200, "{rec}");
    assert_eq!(
        (rec["status"].as_str(), rec["channel"].as_str()),
        (Some("sent"), Some("voice"))
    );
    // Asked again (the platform retried): the same survey, not a second one.
    assert_eq!(
        paths(&follow(&app, &after, &left).await)[0],
        "Response/Gather"
    );

    // A key out of range is asked again once (ivr.max_retries = 1), then a valid key.
    let csat = gather.attrs["action"].clone();
    let key = |d: &'static str| [("CallSid", call), ("From", "+81312345670"), ("Digits", d)];
    let again = follow(&app, &csat, &key("9")).await;
    assert_eq!(paths(&again)[0], "Response/Gather");
    let csat_retry = again[0].attrs["action"].clone();
    assert!(csat_retry.ends_with("&try=1"), "{csat_retry}");
    let thanks = follow(&app, &csat_retry, &key("4")).await;
    assert_eq!(paths(&thanks), ["Response/Say", "Response/Hangup"]);
    // The same key again (a retry): thanked, nothing stored twice.
    let thanks = follow(&app, &csat_retry, &key("4")).await;
    assert_eq!(paths(&thanks), ["Response/Say", "Response/Hangup"]);

    let (_, rec) = app
        .get(&format!("/api/v1/conversations/{conv}/survey"))
        .await;
    assert_eq!(rec["status"], "answered");
    assert_eq!(rec["score"], 4);
    assert_eq!(rec["agent"], "ann");
    assert_eq!(rec["answered_on"], "voice");
    let customer = rec["customer_id"].as_str().unwrap().to_owned();
    let t: Vec<String> = app
        .timeline(&customer)
        .await
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect();
    let count = |k: &str| t.iter().filter(|t| *t == k).count();
    assert_eq!(
        (count("survey_sent"), count("survey_answered")),
        (1, 1),
        "{t:?}"
    );

    // Once answered, the caller is not asked again; out of range twice hangs up.
    assert_eq!(
        paths(&follow(&app, &after, &left).await),
        ["Response/Hangup"]
    );
    let twice = follow(&app, &csat_retry, &key("0")).await;
    assert_eq!(paths(&twice), ["Response/Hangup"]);
}

#[actix_rt::test]
async fn a_caller_who_hung_up_in_the_queue_or_without_surveys_is_not_asked() {
    let app = survey_app(true).await;
    let enqueue = waiting_call(&app, "+81312345671", "CA00000000000000000000000000000041").await;
    let after = enqueue.attrs["action"].clone();
    let hung_up = [
        ("CallSid", "CA00000000000000000000000000000041"),
        ("From", "+81312345671"),
        ("QueueResult", "hangup"),
        ("CallStatus", "completed"),
    ];
    assert_eq!(
        paths(&follow(&app, &after, &hung_up).await),
        ["Response/Hangup"]
    );
    let (s, _) = app
        .get(&format!("/api/v1/conversations/{}/survey", enqueue.text))
        .await;
    assert_eq!(s, 404, "no survey was asked");
    // An action without its conversation, unsigned: refused.
    let (s, _) = twilio_post(&app, "/webhooks/twilio/voice/after", &hung_up, None).await;
    assert_eq!(s, 400);
    let path = after.strip_prefix(PUBLIC).unwrap();
    assert_eq!(
        twilio_post(&app, path, &hung_up, Some("forged")).await.0,
        401
    );

    // Surveys off: the agent who took the call hangs up, and so does the call.
    let off = survey_app(false).await;
    let bo = off.agent("bo", &["general"], json!({})).await;
    let mut b = Client::available(&off, &bo).await;
    let call = "CA00000000000000000000000000000042";
    let enqueue = waiting_call(&off, "+81312345672", call).await;
    accept_next(&mut b).await;
    let left = [
        ("CallSid", call),
        ("From", "+81312345672"),
        ("QueueResult", "bridged"),
        ("CallStatus", "in-progress"),
    ];
    assert_eq!(
        paths(&follow(&off, &enqueue.attrs["action"], &left).await),
        ["Response/Hangup"]
    );
}
