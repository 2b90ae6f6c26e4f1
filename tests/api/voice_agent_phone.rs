//! Phone calls to an agent's own phone (docs/voice.md "The agent's own phone"): an
//! agent whose profile has a phone accepts a waiting call, and
//! `POST /api/v1/voice/bridge` moves the caller's call at the platform (the local
//! recorder standing in for api.twilio.com, asserting the exact request: path, basic
//! auth, the new TwiML parsed and checked) to a `<Dial><Number>` of that phone; an
//! unanswered phone puts the conversation back in its queue and the caller back into
//! `<Enqueue>`; an answered one ends like any bridged call. A call out through the
//! agent's phone rings it first (REST `Calls.json`) and then dials the customer with
//! the checked `<Dial>` of a softphone call out. Bad profiles and requests get typed
//! errors and move nothing.

use crate::channels::{twilio_post, PUBLIC, TWILIO_TOKEN};
use crate::helpers::*;
use crate::recorder::Recorder;
use crate::twiml::check;
use crate::voice_softphone::{rest_on, voice_on, ACCOUNT, OUR_NUMBER};
use crate::voice_survey::{follow, paths, waiting_call};
use base64::Engine as _;
use serde_json::{json, Value};

async fn phone_app(rec: &Recorder) -> TestApp {
    let base = rec.base.clone();
    spawn_app(move |s| {
        voice_on(s);
        rest_on(s, &base);
        s.channels.voice.caller_id = OUR_NUMBER.into();
    })
    .await
}

async fn bridge(app: &TestApp, token: &str, conv: &str) -> (u16, Value) {
    let r = app
        .http
        .post(format!("{}/api/v1/voice/bridge", app.base))
        .bearer_auth(token)
        .json(&json!({"conversation_id": conv}))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[actix_rt::test]
async fn a_call_rings_the_agents_own_phone_and_comes_back_when_unanswered() {
    let rec = Recorder::start().await;
    let app = phone_app(&rec).await;
    // The phone is checked and kept as E.164.
    let (s, v) = app
        .put(
            "/api/v1/agents/bad",
            json!({"display_name": "Bad", "password": "bad-password", "role": "agent",
                   "phone": "call me"}),
        )
        .await;
    assert_eq!((s, v["code"].as_str()), (400, Some("invalid")), "{v}");
    let ann = app
        .agent("ann", &["general"], json!({"phone": "+81 90-5555-0000"}))
        .await;
    let (_, profile) = app.get("/api/v1/agents/ann").await;
    let mut a = Client::available(&app, &ann).await;

    let call = "CA00000000000000000000000000000070";
    let enqueue = waiting_call(&app, "+81312345690", call).await;
    let conv = accept_next(&mut a).await["id"].as_str().unwrap().to_owned();
    let (s, v) = bridge(&app, &ann, &conv).await;
    assert_eq!(s, 202, "{v} {profile}");
    assert_eq!(v["phone"], "+819055550000");

    // The platform was asked to move the caller's call to a <Dial> of that phone.
    let moved = rec
        .wait_for(
            &format!("/2010-04-01/Accounts/{ACCOUNT}/Calls/{call}.json"),
            1,
        )
        .await;
    assert_eq!(moved[0].method, "POST");
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT}:{TWILIO_TOKEN}"));
    assert_eq!(
        moved[0].header("authorization"),
        Some(format!("Basic {basic}").as_str())
    );
    let form = moved[0].form();
    assert_eq!(form.keys().collect::<Vec<_>>(), ["Twiml"]);
    let dial = check(&form["Twiml"]);
    assert_eq!(paths(&dial), ["Response/Dial", "Response/Dial/Number"]);
    assert_eq!(dial[1].text, "+819055550000");
    assert_eq!(dial[0].attrs["timeout"], "20");
    assert_eq!(dial[0].attrs["answerOnBridge"], "true");
    let leg = dial[0].attrs["action"].clone();
    assert_eq!(
        leg,
        format!("{PUBLIC}/webhooks/twilio/voice/agent-leg?conversation={conv}&agent=ann")
    );

    // Ann's phone is not answered: the caller waits again, the conversation is back
    // in its queue and offered again.
    let unanswered = [
        ("CallSid", call),
        ("From", "+81312345690"),
        ("CallStatus", "in-progress"),
        ("DialCallStatus", "no-answer"),
    ];
    let back = follow(&app, &leg, &unanswered).await;
    assert_eq!(paths(&back), ["Response/Say", "Response/Enqueue"]);
    assert_eq!(back[1].text, conv);
    assert_eq!(back[1].attrs["action"], enqueue.attrs["action"]);
    a.expect_where("conversation_updated", |m| m["held"] == false)
        .await;

    // Offered again and answered this time: when the call ends, it ends here.
    let again = accept_next(&mut a).await;
    assert_eq!(again["id"], conv.as_str());
    assert_eq!(bridge(&app, &ann, &conv).await.0, 202);
    let answered = [
        ("CallSid", call),
        ("From", "+81312345690"),
        ("CallStatus", "in-progress"),
        ("DialCallStatus", "completed"),
        ("DialCallDuration", "95"),
    ];
    assert_eq!(
        paths(&follow(&app, &leg, &answered).await),
        ["Response/Hangup"]
    );

    // An agent without a phone, or who does not hold the call: refused, nothing moved.
    let bo = app.agent("bo", &["general"], json!({})).await;
    let (s, v) = bridge(&app, &bo, &conv).await;
    assert_eq!((s, v["code"].as_str()), (403, Some("forbidden")), "{v}");
    let (s, v) = bridge(&app, &ann, "not-a-conversation").await;
    assert_eq!(s, 400, "{v}");
    let calls = rec
        .all()
        .iter()
        .filter(|r| r.path.contains("/Calls/"))
        .count();
    assert_eq!(calls, 2, "one move per bridge asked");
    // A forged outcome is refused.
    let path = leg.strip_prefix(PUBLIC).unwrap();
    assert_eq!(
        twilio_post(&app, path, &unanswered, Some("forged")).await.0,
        401
    );
}

#[actix_rt::test]
async fn an_agent_without_a_phone_is_told_to_use_the_softphone() {
    let rec = Recorder::start().await;
    let app = phone_app(&rec).await;
    let cy = app.agent("cy", &["general"], json!({})).await;
    let mut c = Client::available(&app, &cy).await;
    waiting_call(&app, "+81312345691", "CA00000000000000000000000000000071").await;
    let conv = accept_next(&mut c).await["id"].as_str().unwrap().to_owned();
    let (s, v) = bridge(&app, &cy, &conv).await;
    assert_eq!((s, v["code"].as_str()), (409, Some("conflict")), "{v}");
    assert!(rec.all().is_empty(), "nothing was asked of the platform");
}

/// The desktop in Chromium (clients/tests/agent_phone.mjs): an agent with a phone
/// accepts a call and the desktop asks the engine to ring that phone, not the softphone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desktop_sends_an_accepted_call_to_the_agents_phone_in_a_real_browser() {
    let rec = Recorder::start().await;
    let app = phone_app(&rec).await;
    app.agent("pat", &["general"], json!({"phone": "+819055550001"}))
        .await;
    run_browser_script(
        &app,
        "agent_phone.mjs",
        &[
            ("AGENT_ID", "pat"),
            ("AGENT_PASSWORD", "pat-password"),
            ("CALLER", "+81355507777"),
            ("AGENT_PHONE", "+819055550001"),
            ("TWILIO_AUTH_TOKEN", TWILIO_TOKEN),
            ("TWILIO_PUBLIC_URL", PUBLIC),
        ],
        "agent phone browser test passed",
    )
    .await;
    // The script's call (its CallSid) was moved to a <Dial> of pat's phone.
    let call = "CA00000000000000000000000000000077";
    let moved = rec
        .wait_for(
            &format!("/2010-04-01/Accounts/{ACCOUNT}/Calls/{call}.json"),
            1,
        )
        .await;
    let dial = check(&moved[0].form()["Twiml"]);
    assert_eq!(dial[1].text, "+819055550001");
}

/// A call out (click-to-call, a callback) with the agent's own phone as the first leg.
#[actix_rt::test]
async fn an_agent_calls_a_customer_through_their_own_phone() {
    let rec = Recorder::start().await;
    let app = phone_app(&rec).await;
    let ann = app
        .agent("ann", &["general"], json!({"phone": "+819055550000"}))
        .await;
    let me = |token: String| {
        let app = &app;
        async move {
            let r = app
                .http
                .get(format!("{}/api/v1/voice/me", app.base))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        }
    };
    assert_eq!(
        me(ann.clone()).await,
        json!({"softphone": false, "phone": "+819055550000", "calls_out": true})
    );
    let mut a = Client::available(&app, &ann).await;
    app.inbound("sms", "+81355501234", "please call me", Some("sms-9"))
        .await;
    let conv = accept_next(&mut a).await["id"].as_str().unwrap().to_owned();
    let call_out = |to: &'static str, token: String| {
        let (app, conv) = (&app, conv.clone());
        async move {
            let r = app
                .http
                .post(format!("{}/api/v1/voice/call-out", app.base))
                .bearer_auth(token)
                .json(&json!({"conversation_id": conv, "to": to}))
                .send()
                .await
                .unwrap();
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (s, v) = call_out("+81 3-5550-1234", ann.clone()).await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(
        v,
        json!({"conversation_id": conv, "phone": "+819055550000", "to": "+81355501234"})
    );
    let placed = rec
        .wait_for(&format!("/2010-04-01/Accounts/{ACCOUNT}/Calls.json"), 1)
        .await;
    let form = placed[0].form();
    assert_eq!(
        form.keys().collect::<Vec<_>>(),
        ["From", "Timeout", "To", "Twiml"]
    );
    assert_eq!(form["To"], "+819055550000", "the agent's phone rings first");
    assert_eq!(form["From"], OUR_NUMBER);
    assert_eq!(form["Timeout"], "20");
    let twiml = check(&form["Twiml"]);
    assert_eq!(
        paths(&twiml),
        ["Response/Say", "Response/Dial", "Response/Dial/Number"]
    );
    assert_eq!(twiml[1].attrs["callerId"], OUR_NUMBER);
    assert_eq!(
        twiml[1].attrs["action"],
        format!("{PUBLIC}/webhooks/twilio/voice/dialed?conversation={conv}&agent=ann")
    );
    assert_eq!(twiml[2].text, "+81355501234");

    // Another number: refused, nothing placed. An agent without a phone, or who does
    // not hold the conversation: refused.
    let (s, v) = call_out("+81399998888", ann.clone()).await;
    assert_eq!((s, v["code"].as_str()), (400, Some("invalid")), "{v}");
    let bo = app.agent("bo", &["general"], json!({})).await;
    assert_eq!(
        me(bo.clone()).await,
        json!({"softphone": false, "calls_out": true})
    );
    let (s, v) = call_out("+81355501234", bo).await;
    assert_eq!((s, v["code"].as_str()), (403, Some("forbidden")), "{v}");
    let placed = rec
        .all()
        .iter()
        .filter(|r| r.path.ends_with("/Calls.json"))
        .count();
    assert_eq!(placed, 1);
}
