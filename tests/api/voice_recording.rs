//! Phone call recording per queue (docs/voice.md "Recording"): the `<Dial>` that
//! bridges an agent of a recording queue carries Twilio's recording attributes (and
//! one of a queue that does not record carries none); the platform's recording
//! callback becomes one staff-only `call_recorded` event, however often it is
//! retried; staff who may read the conversation play it through the engine, which
//! asks the recording server (the local recorder standing in for api.twilio.com) at
//! the exact path with the account's credentials and audits the play; the customer,
//! other agents, unknown recordings and forged callbacks get nothing.

use crate::channels::{twilio_post, PUBLIC, TWILIO_TOKEN};
use crate::helpers::*;
use crate::recorder::Recorder;
use crate::twiml::check;
use crate::voice_softphone::{rest_on, softphone_on, voice_on, ACCOUNT, APP};
use base64::Engine as _;
use serde_json::{json, Value};

const RECORDING: &str = "RE0000000000000000000000000000abcd";

async fn recording_app(rec: &Recorder) -> TestApp {
    let base = rec.base.clone();
    spawn_app(move |s| {
        voice_on(s);
        softphone_on(s);
        rest_on(s, &base);
    })
    .await
}

/// A caller waits; agent `agent` (token) accepts; its softphone's call through the
/// TwiML App is answered with the returned `<Dial>` elements. Returns the conversation.
async fn bridged(
    app: &TestApp,
    a: &mut Client,
    agent: &str,
    caller: &str,
    call: &str,
) -> (String, Vec<crate::twiml::Element>) {
    crate::voice_survey::waiting_call(app, caller, call).await;
    let conv = accept_next(a).await["id"].as_str().unwrap().to_owned();
    let from = format!("client:{agent}");
    let p = [
        ("AccountSid", ACCOUNT),
        ("ApplicationSid", APP),
        ("CallSid", "CA00000000000000000000000000000020"),
        ("From", from.as_str()),
        ("To", ""),
        ("conversation", conv.as_str()),
    ];
    let (s, xml) = twilio_post(app, "/webhooks/twilio/voice/client", &p, None).await;
    assert_eq!(s, 200, "{xml}");
    (conv, check(&xml))
}

fn recording_callback<'a>(status: &'a str, duration: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("AccountSid", ACCOUNT),
        ("CallSid", "CA00000000000000000000000000000020"),
        ("RecordingSid", RECORDING),
        ("RecordingStatus", status),
        ("RecordingDuration", duration),
        ("RecordingChannels", "2"),
        ("RecordingSource", "DialVerb"),
        (
            "RecordingUrl",
            "https://api.twilio.com/2010-04-01/Accounts/AC00000000000000000000000000000001/Recordings/RE0000000000000000000000000000abcd",
        ),
    ]
}

async fn play(app: &TestApp, token: &str, conv: &str, recording: &str) -> reqwest::Response {
    app.http
        .get(format!(
            "{}/api/v1/conversations/{conv}/recordings/{recording}",
            app.base
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[actix_rt::test]
async fn a_recording_queue_records_the_bridged_call_and_staff_play_it_through_the_engine() {
    let rec = Recorder::start().await;
    let app = recording_app(&rec).await;
    app.queue(
        "general",
        json!({"default_for": ["voice", "chat", "sms"], "record_calls": true}),
    )
    .await;
    let ann = app.agent("ann", &["general"], json!({})).await;
    let bo = app.agent("bo", &["general"], json!({})).await;
    let mut a = Client::available(&app, &ann).await;
    let (conv, dial) = bridged(
        &app,
        &mut a,
        "ann",
        "+81312345678",
        "CA00000000000000000000000000000010",
    )
    .await;
    assert_eq!(dial[0].path, "Response/Dial");
    let callback = format!("{PUBLIC}/webhooks/twilio/voice/recording?conversation={conv}");
    assert_eq!(dial[0].attrs["record"], "record-from-answer-dual");
    assert_eq!(dial[0].attrs["recordingStatusCallback"], callback);
    assert_eq!(
        dial[0].attrs["recordingStatusCallbackEvent"],
        "completed absent"
    );

    // The platform reports the recording, twice (a retry), after an in-progress
    // report that is not recorded.
    let path = format!("/webhooks/twilio/voice/recording?conversation={conv}");
    let (s, body) = twilio_post(&app, &path, &recording_callback("in-progress", ""), None).await;
    assert_eq!(s, 204, "{body}");
    for _ in 0..2 {
        let (s, body) =
            twilio_post(&app, &path, &recording_callback("completed", "42"), None).await;
        assert_eq!(s, 204, "{body}");
    }
    let ev = a
        .expect_where("event", |e| e["event"]["type"] == "call_recorded")
        .await;
    assert_eq!(ev["event"]["recording_id"], RECORDING);
    assert_eq!(ev["event"]["status"], "completed");
    assert_eq!(ev["event"]["duration_s"], 42);
    let customer = ev["event"]["customer_id"].as_str().unwrap().to_owned();
    let (s, timeline) = app
        .get(&format!("/api/v1/customers/{customer}/timeline"))
        .await;
    assert_eq!(s, 200);
    let recorded: Vec<&Value> = timeline["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "call_recorded")
        .collect();
    assert_eq!(recorded.len(), 1, "one event however often it is reported");

    // A forged callback, one without its conversation, a bad recording id: refused.
    let (s, _) = twilio_post(
        &app,
        &path,
        &recording_callback("completed", "42"),
        Some("forged"),
    )
    .await;
    assert_eq!(s, 401);
    let (s, _) = twilio_post(
        &app,
        "/webhooks/twilio/voice/recording",
        &recording_callback("completed", "42"),
        None,
    )
    .await;
    assert_eq!(s, 400);
    let mut bad = recording_callback("completed", "42");
    bad[2].1 = "RE../../Calls";
    assert_eq!(twilio_post(&app, &path, &bad, None).await.0, 400);

    // The agent who took the call plays it: streamed from the platform's exact path,
    // with the account's credentials, and audited.
    let r = play(&app, &ann, &conv, RECORDING).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "audio/mpeg");
    assert_eq!(r.headers()["cache-control"], "private, no-store");
    let bytes = r.bytes().await.unwrap();
    assert!(bytes.starts_with(b"ID3") && bytes.ends_with(RECORDING.as_bytes()));
    let asked = rec
        .wait_for(
            &format!("/2010-04-01/Accounts/{ACCOUNT}/Recordings/{RECORDING}.mp3"),
            1,
        )
        .await;
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT}:{TWILIO_TOKEN}"));
    assert_eq!(asked[0].method, "GET");
    assert_eq!(
        asked[0].header("authorization"),
        Some(format!("Basic {basic}").as_str())
    );
    let (s, audit) = app.get("/api/v1/audit").await;
    assert_eq!(s, 200, "{audit}");
    let played = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "recording_played")
        .unwrap_or_else(|| panic!("the play is audited: {audit}"));
    assert_eq!(played["actor"], "ann");
    assert_eq!(played["customer_id"], customer.as_str());
    assert_eq!(played["detail"]["recording_id"], RECORDING);

    // Another agent may not; a recording the timeline does not hold is not fetched.
    assert_eq!(play(&app, &bo, &conv, RECORDING).await.status(), 403);
    let other = "RE0000000000000000000000000000ffff";
    assert_eq!(play(&app, &ann, &conv, other).await.status(), 404);
    assert_eq!(play(&app, &ann, &conv, "../../Calls").await.status(), 404);
    assert_eq!(
        rec.all()
            .iter()
            .filter(|r| r.path.contains("/Recordings/"))
            .count(),
        1,
        "only the recorded one was asked for"
    );
}

#[actix_rt::test]
async fn a_queue_that_does_not_record_dials_without_recording() {
    let rec = Recorder::start().await;
    let app = recording_app(&rec).await;
    let ann = app.agent("ann", &["general"], json!({})).await;
    let mut a = Client::available(&app, &ann).await;
    let (_, dial) = bridged(
        &app,
        &mut a,
        "ann",
        "+81312345679",
        "CA00000000000000000000000000000011",
    )
    .await;
    assert_eq!(dial[0].path, "Response/Dial");
    assert!(dial[0].attrs.is_empty(), "{:?}", dial[0].attrs);
}
