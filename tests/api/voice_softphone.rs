//! The agents' browser softphone for phone calls (docs/voice.md, "Phone calls"): the
//! Twilio AccessToken `POST /api/v1/voice/token` hands an agent, verified here
//! independently (HS256 over the API key secret, Twilio's header and grant shape); and
//! the TwiML App's voice URL, which bridges the agent who accepted a waiting caller's
//! conversation to that caller (`<Dial><Queue>`) and hangs up on anyone else. Every
//! TwiML answer is parsed and checked against Twilio's documented verbs and attributes
//! (`twiml.rs`). The agent desktop's softphone runs in Chromium with the SDK replaced
//! at its documented interface (`clients/tests/softphone.mjs`), under a page policy
//! that lets the real SDK reach Twilio.

use crate::channels::{twilio_post, PUBLIC, TWILIO_TOKEN};
use crate::helpers::*;
use crate::twiml::check;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use switchboard::config::Settings;

/// The Twilio account, API key, TwiML App and number of the voice tests.
pub const ACCOUNT: &str = "AC00000000000000000000000000000001";
const KEY: &str = "SK00000000000000000000000000000002";
const KEY_SECRET: &str = "softphone-api-key-secret";
pub const APP: &str = "AP00000000000000000000000000000003";
pub const OUR_NUMBER: &str = "+81501234567";

/// The voice connector on: webhooks signed with [`TWILIO_TOKEN`] for [`PUBLIC`].
pub fn voice_on(s: &mut Settings) {
    let c = &mut s.channels;
    c.public_url = PUBLIC.into();
    c.voice.enabled = true;
    c.voice.auth_token = TWILIO_TOKEN.into();
}

/// The agents' softphone configured, and calls out from [`OUR_NUMBER`].
pub fn softphone_on(s: &mut Settings) {
    let v = &mut s.channels.voice;
    v.softphone.account_sid = ACCOUNT.into();
    v.softphone.api_key_sid = KEY.into();
    v.softphone.api_key_secret = KEY_SECRET.into();
    v.softphone.twiml_app_sid = APP.into();
    v.softphone.token_ttl_s = 600;
    v.caller_id = OUR_NUMBER.into();
}

/// Twilio's REST API (recordings, call updates, calls) at `api_base`.
pub fn rest_on(s: &mut Settings, api_base: &str) {
    s.channels.voice.account_sid = ACCOUNT.into();
    s.channels.voice.api_base = api_base.into();
}

/// Agent `agent`'s softphone (its call `leg`) dials `conv` through the TwiML App: the
/// checked answer.
pub async fn softphone_dials(
    app: &TestApp,
    agent: &str,
    leg: &str,
    conv: &str,
) -> Vec<crate::twiml::Element> {
    let from = format!("client:{agent}");
    let p = [
        ("AccountSid", ACCOUNT),
        ("ApplicationSid", APP),
        ("CallSid", leg),
        ("From", from.as_str()),
        ("To", ""),
        ("conversation", conv),
    ];
    let (s, xml) = twilio_post(app, "/webhooks/twilio/voice/client", &p, None).await;
    assert_eq!(s, 200, "{xml}");
    check(&xml)
}

async fn voice_app(softphone: bool) -> TestApp {
    spawn_app(|s| {
        voice_on(s);
        if softphone {
            softphone_on(s);
        }
    })
    .await
}

/// The header and claims of a JWT whose HS256 signature over `secret` holds.
fn verified(token: &str, secret: &str) -> (Value, Value) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{}.{}", parts[0], parts[1]).as_bytes());
    mac.verify_slice(&b64.decode(parts[2]).unwrap())
        .expect("the signature holds");
    let json = |p: &str| serde_json::from_slice::<Value>(&b64.decode(p).unwrap()).unwrap();
    (json(parts[0]), json(parts[1]))
}

async fn voice_token(app: &TestApp, bearer: Option<&str>) -> (u16, Value) {
    let mut r = app.http.post(format!("{}/api/v1/voice/token", app.base));
    if let Some(b) = bearer {
        r = r.bearer_auth(b);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[actix_rt::test]
async fn an_agent_gets_a_twilio_access_token_with_a_voice_grant() {
    let app = voice_app(true).await;
    let token = app.agent("ann", &["general"], json!({})).await;
    let (s, v) = voice_token(&app, Some(&token)).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["identity"], "ann");
    let (header, claims) = verified(v["token"].as_str().unwrap(), KEY_SECRET);
    assert_eq!(header["alg"], "HS256");
    assert_eq!(header["typ"], "JWT");
    assert_eq!(header["cty"], "twilio-fpa;v=1");
    assert_eq!(claims["iss"], KEY);
    assert_eq!(claims["sub"], ACCOUNT);
    assert!(claims["jti"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{KEY}-")));
    let exp = claims["exp"].as_u64().unwrap();
    assert_eq!(exp - claims["iat"].as_u64().unwrap(), 600);
    assert_eq!(v["expires_at"].as_u64(), Some(exp));
    assert_eq!(
        claims["grants"],
        json!({"identity": "ann", "voice": {"incoming": {"allow": true},
                                            "outgoing": {"application_sid": APP}}})
    );
    // A forged secret does not verify it.
    let forged = std::panic::catch_unwind(|| verified(v["token"].as_str().unwrap(), "other"));
    assert!(forged.is_err());

    // No login: refused; no softphone configured: unavailable, nothing minted.
    assert_eq!(voice_token(&app, None).await.0, 401);
    let bare = voice_app(false).await;
    let token = bare.agent("ann", &["general"], json!({})).await;
    let (s, v) = voice_token(&bare, Some(&token)).await;
    assert_eq!((s, v["code"].as_str()), (503, Some("unavailable")), "{v}");
}

#[actix_rt::test]
async fn the_softphone_is_bridged_to_the_caller_whose_conversation_its_agent_accepted() {
    let app = voice_app(true).await;
    let ann = app.agent("ann", &["general"], json!({})).await;
    app.agent("bo", &["general"], json!({})).await;
    let mut a = Client::available(&app, &ann).await;

    // A call comes in (no menu: straight to the voice queue) and waits in <Enqueue>.
    let call = [
        ("CallSid", "CA00000000000000000000000000000010"),
        ("From", "+81312345678"),
        ("To", "+81501234567"),
        ("CallStatus", "ringing"),
    ];
    let (s, xml) = twilio_post(&app, "/webhooks/twilio/voice", &call, None).await;
    assert_eq!(s, 200, "{xml}");
    let waiting = check(&xml);
    let enqueue = waiting
        .iter()
        .find(|e| e.path == "Response/Enqueue")
        .expect("the caller waits in a queue");
    let conv = accept_next(&mut a).await;
    assert_eq!(conv["id"], enqueue.text.as_str());
    assert_eq!(conv["channel"], "voice");

    // The agent's softphone calls through the TwiML App for that conversation.
    let leg = |from: &'static str, app_sid: &'static str, conversation: String| {
        vec![
            ("AccountSid", ACCOUNT.to_owned()),
            ("ApplicationSid", app_sid.to_owned()),
            ("CallSid", "CA00000000000000000000000000000020".to_owned()),
            ("From", from.to_owned()),
            ("To", String::new()),
            ("conversation", conversation),
        ]
    };
    let post = |params: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let p: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            twilio_post(app, "/webhooks/twilio/voice/client", &p, None).await
        }
    };
    let conv_id = enqueue.text.clone();
    let (s, xml) = post(leg("client:ann", APP, conv_id.clone())).await;
    assert_eq!(s, 200, "{xml}");
    let bridge = check(&xml);
    let paths: Vec<&str> = bridge.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["Response/Dial", "Response/Dial/Queue"]);
    assert_eq!(bridge[1].text, conv_id);

    // Another agent, or a conversation nobody holds: told and hung up, never bridged.
    for (from, conversation) in [
        ("client:bo", conv_id.clone()),
        ("client:ann", uuid::Uuid::now_v7().to_string()),
    ] {
        let (s, xml) = post(leg(from, APP, conversation)).await;
        assert_eq!(s, 200, "{xml}");
        let refused: Vec<String> = check(&xml).into_iter().map(|e| e.path).collect();
        assert_eq!(refused, ["Response/Say", "Response/Hangup"], "{xml}");
    }
    // Another TwiML App, a caller that is no softphone, an unsigned request: refused.
    let (s, _) = post(leg(
        "client:ann",
        "AP99999999999999999999999999999999",
        conv_id.clone(),
    ))
    .await;
    assert_eq!(s, 400);
    let (s, _) = post(leg("+81312345678", APP, conv_id.clone())).await;
    assert_eq!(s, 400);
    let unsigned: Vec<(&str, String)> = leg("client:ann", APP, conv_id.clone());
    let p: Vec<(&str, &str)> = unsigned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (s, _) = twilio_post(&app, "/webhooks/twilio/voice/client", &p, Some("forged")).await;
    assert_eq!(s, 401);
}

/// Where the real SDK must connect: allowed on the agent desktop only, and only with a
/// softphone configured.
#[actix_rt::test]
async fn only_the_agent_desktop_may_reach_twilio_and_only_with_a_softphone() {
    let csp = |app: &TestApp, page: &'static str| {
        let (http, url) = (app.http.clone(), format!("{}{page}", app.base));
        async move {
            let r = http.get(url).send().await.unwrap();
            r.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .to_owned()
        }
    };
    let app = voice_app(true).await;
    let agent = csp(&app, "/agent/").await;
    assert!(
        agent.contains(
            "connect-src 'self' https://eventgw.twilio.com wss://voice-js.roaming.twilio.com"
        ),
        "{agent}"
    );
    assert!(
        agent.contains("media-src 'self' blob: mediastream:"),
        "{agent}"
    );
    assert!(agent.contains("script-src 'self';"), "{agent}");
    for page in ["/chat/", "/supervisor/"] {
        assert!(!csp(&app, page).await.contains("twilio"), "{page}");
    }
    assert!(!csp(&voice_app(false).await, "/agent/")
        .await
        .contains("twilio"));
}

/// The desktop's softphone in Chromium (clients/tests/softphone.mjs), the Twilio SDK
/// replaced by a fake at its documented interface (`Device`, `Call`): the token
/// fetched and renewed, the accepted phone call dialled with its conversation,
/// connected, muted, hung up; its recording (the queue records calls) reported by a
/// signed callback, shown in the timeline, fetched only when Play is clicked (from the
/// local recorder standing in for Twilio's REST API) and audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desktop_softphone_dials_the_accepted_call_in_a_real_browser() {
    // Twilio's REST API (recordings), kept until the test ends.
    let rec = crate::recorder::Recorder::start().await;
    let api_base = rec.base.clone();
    let app = spawn_app(move |s| {
        voice_on(s);
        softphone_on(s);
        rest_on(s, &api_base);
    })
    .await;
    // Voice records its calls; web chat and SMS still go to the same queue.
    app.queue(
        "general",
        json!({"default_for": ["voice", "chat", "sms"], "record_calls": true}),
    )
    .await;
    app.agent("phil", &["general"], json!({})).await;
    run_browser_script(
        &app,
        "softphone.mjs",
        &[
            ("AGENT_ID", "phil"),
            ("AGENT_PASSWORD", "phil-password"),
            ("CALLER", "+81355501234"),
            ("TWILIO_ACCOUNT", ACCOUNT),
            ("TWILIO_AUTH_TOKEN", TWILIO_TOKEN),
            ("TWILIO_PUBLIC_URL", PUBLIC),
        ],
        "softphone browser test passed",
    )
    .await;
    drop(rec);
}

/// The agent's softphone calls out to a customer of a conversation it holds
/// (click-to-call, a callback): `<Dial callerId><Number>` to one of that customer's
/// phone numbers, and nowhere else.
#[actix_rt::test]
async fn an_agent_calls_out_only_to_a_number_of_the_customer_it_holds() {
    let app = voice_app(true).await;
    let ann = app.agent("ann", &["general"], json!({})).await;
    let mut a = Client::available(&app, &ann).await;
    app.inbound("sms", "+81355501234", "please call me", Some("sms-1"))
        .await;
    let conv = accept_next(&mut a).await;
    let conv_id = conv["id"].as_str().unwrap().to_owned();
    let out = |to: &str| {
        let (app, conv_id, to) = (&app, conv_id.clone(), to.to_owned());
        async move {
            let p = [
                ("AccountSid", ACCOUNT),
                ("ApplicationSid", APP),
                ("CallSid", "CA00000000000000000000000000000030"),
                ("From", "client:ann"),
                ("To", ""),
                ("conversation", conv_id.as_str()),
                ("to", to.as_str()),
            ];
            let (s, xml) = twilio_post(app, "/webhooks/twilio/voice/client", &p, None).await;
            assert_eq!(s, 200, "{xml}");
            check(&xml)
        }
    };
    // The customer's own number, written loosely: dialled as E.164 from our number.
    let dial = out("+81 3-5550-1234").await;
    let paths: Vec<&str> = dial.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["Response/Dial", "Response/Dial/Number"]);
    assert_eq!(dial[0].attrs["callerId"], OUR_NUMBER);
    assert_eq!(dial[0].attrs["answerOnBridge"], "true");
    assert_eq!(dial[1].text, "+81355501234");
    let dialed = dial[0].attrs["action"].clone();
    assert_eq!(
        dialed,
        format!("{PUBLIC}/webhooks/twilio/voice/dialed?conversation={conv_id}&agent=ann")
    );
    // The call is answered and ends: its outcome is a `call` event of the conversation.
    let path = dialed.strip_prefix(PUBLIC).unwrap();
    let ended = [
        ("AccountSid", ACCOUNT),
        ("CallSid", "CA00000000000000000000000000000030"),
        ("DialCallSid", "CA00000000000000000000000000000032"),
        ("DialCallStatus", "completed"),
        ("DialCallDuration", "42"),
    ];
    for _ in 0..2 {
        let (s, xml) = twilio_post(&app, path, &ended, None).await;
        assert_eq!(s, 200, "{xml}");
        let after: Vec<String> = check(&xml).into_iter().map(|e| e.path).collect();
        assert_eq!(after, ["Response/Hangup"]);
    }
    let (_, view) = app.get(&format!("/api/v1/conversations/{conv_id}")).await;
    let customer = view["customer_id"].as_str().unwrap();
    let calls: Vec<Value> = app
        .timeline(customer)
        .await
        .into_iter()
        .filter(|e| e["type"] == "call")
        .collect();
    assert_eq!(
        calls.len(),
        1,
        "one end however often it is reported: {calls:?}"
    );
    assert_eq!(calls[0]["conversation_id"], conv_id.as_str());
    assert_eq!(calls[0]["call_id"], "CA00000000000000000000000000000032");
    assert_eq!(calls[0]["detail"], "outbound completed after 42 s");
    // Another number, or not a number: refused and hung up.
    for to in ["+81399998888", "call me maybe"] {
        let refused: Vec<String> = out(to).await.into_iter().map(|e| e.path).collect();
        assert_eq!(refused, ["Response/Say", "Response/Hangup"], "{to}");
    }
    // Bridging an SMS conversation as if it were a waiting call: refused too.
    let p = [
        ("AccountSid", ACCOUNT),
        ("ApplicationSid", APP),
        ("CallSid", "CA00000000000000000000000000000031"),
        ("From", "client:ann"),
        ("To", ""),
        ("conversation", conv_id.as_str()),
    ];
    let (_, xml) = twilio_post(&app, "/webhooks/twilio/voice/client", &p, None).await;
    let refused: Vec<String> = check(&xml).into_iter().map(|e| e.path).collect();
    assert_eq!(refused, ["Response/Say", "Response/Hangup"]);
}

/// A callback dialled from the softphone: the dial's outcome is the callback's attempt,
/// recorded by the engine (no answer: the callback goes back in line for a retry).
#[actix_rt::test]
async fn a_callback_dialled_from_the_softphone_records_its_attempt() {
    let app = voice_app(true).await;
    let ann = app.agent("ann", &["general"], json!({})).await;
    let (mut v, w) = Client::visitor(&app).await;
    chat_say(&mut v, "please call me back").await;
    let r = app
        .http
        .post(format!("{}/api/v1/callbacks", app.base))
        .bearer_auth(w["token"].as_str().unwrap())
        .json(&json!({"phone": "+81 90-1111-2222"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let mut a = Client::available(&app, &ann).await;
    let task = accept_next(&mut a).await;
    let conv_id = task["id"].as_str().unwrap().to_owned();
    let p = [
        ("AccountSid", ACCOUNT),
        ("ApplicationSid", APP),
        ("CallSid", "CA00000000000000000000000000000060"),
        ("From", "client:ann"),
        ("To", ""),
        ("conversation", conv_id.as_str()),
        ("to", "+819011112222"),
    ];
    let (s, xml) = twilio_post(&app, "/webhooks/twilio/voice/client", &p, None).await;
    assert_eq!(s, 200, "{xml}");
    let dial = check(&xml);
    assert_eq!(dial[1].text, "+819011112222", "{xml}");
    let path = dial[0].attrs["action"]
        .strip_prefix(PUBLIC)
        .unwrap()
        .to_owned();
    let no_answer = [
        ("AccountSid", ACCOUNT),
        ("CallSid", "CA00000000000000000000000000000060"),
        ("DialCallSid", "CA00000000000000000000000000000061"),
        ("DialCallStatus", "no-answer"),
    ];
    let (s, xml) = twilio_post(&app, &path, &no_answer, None).await;
    assert_eq!(s, 200, "{xml}");
    // The attempt is recorded and the callback leaves the agent to wait for its retry.
    let attempt = a
        .expect_where("event", |e| e["event"]["type"] == "callback_attempt")
        .await;
    assert_eq!(attempt["event"]["outcome"], "no_answer");
    assert_eq!(attempt["event"]["attempt"], 1);
    assert_eq!(attempt["event"]["next"], "retry");
    a.expect_where("conversation_updated", |m| m["held"] == false)
        .await;
    // A forged report and one without its agent are refused.
    assert_eq!(
        twilio_post(&app, &path, &no_answer, Some("forged")).await.0,
        401
    );
    let bare = format!("/webhooks/twilio/voice/dialed?conversation={conv_id}");
    assert_eq!(twilio_post(&app, &bare, &no_answer, None).await.0, 400);
}
