//! Hold, consult (the warm transfer) and listen-in on a live phone call (docs/voice.md
//! "Hold, consult and listen-in"): the call moves into a Twilio conference. Against
//! the local recorder standing in for api.twilio.com, every REST request is asserted
//! (method, path, form, basic auth), every TwiML answer parsed and checked, and the
//! conference's status callbacks are posted signed as Twilio posts them, in the
//! order Twilio sends them. Refusals are typed and move nothing.

use crate::channels::{twilio_post, PUBLIC, TWILIO_TOKEN};
use crate::helpers::*;
use crate::recorder::{Recorded, Recorder};
use crate::twiml::check;
use crate::voice_softphone::{
    rest_on, softphone_dials, softphone_on, voice_on, ACCOUNT, APP, OUR_NUMBER,
};
use crate::voice_survey::{follow, paths, waiting_call};
use base64::Engine as _;
use serde_json::{json, Value};

/// Ann's softphone leg.
const ANN_LEG: &str = "CA00000000000000000000000000000a11";
const CONF: &str = "CF00000000000000000000000000000c0f";

async fn room_app(rec: &Recorder) -> TestApp {
    let base = rec.base.clone();
    spawn_app(move |s| {
        voice_on(s);
        softphone_on(s);
        rest_on(s, &base);
    })
    .await
}

async fn ask(app: &TestApp, token: &str, path: &str, body: Value) -> (u16, Value) {
    let r = app
        .http
        .post(format!("{}/api/v1/voice/{path}", app.base))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// The conference's status callback `event` for participant `call`.
async fn conference_event(app: &TestApp, conv: &str, event: &str, call: Option<&str>) -> u16 {
    let mut p = vec![
        ("AccountSid", ACCOUNT),
        ("ConferenceSid", CONF),
        ("FriendlyName", "x"),
        ("StatusCallbackEvent", event),
    ];
    if let Some(c) = call {
        p.push(("CallSid", c));
    }
    let path = format!("/webhooks/twilio/voice/room?conversation={conv}");
    let (s, body) = twilio_post(app, &path, &p, None).await;
    assert!(s == 204, "{event}: {s} {body}");
    s
}

/// The REST request at `path`, checked for the account's basic auth.
fn authed(r: &Recorded) {
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT}:{TWILIO_TOKEN}"));
    assert_eq!(
        r.header("authorization"),
        Some(format!("Basic {basic}").as_str()),
        "{}",
        r.path
    );
}

fn participant_path(call: &str) -> String {
    format!("/2010-04-01/Accounts/{ACCOUNT}/Conferences/{CONF}/Participants/{call}.json")
}

/// The requests made since `from` (an index into the recorder's list).
fn since(rec: &Recorder, from: usize) -> Vec<Recorded> {
    rec.all().into_iter().skip(from).collect()
}

/// `(method, path, form)` of `r`, sorted form.
fn summary(r: &Recorded) -> (String, String, Vec<(String, String)>) {
    authed(r);
    (
        r.method.clone(),
        r.path.clone(),
        r.form().into_iter().collect(),
    )
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = p
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    v.sort();
    v
}

/// Supervisors see `agent` on a phone call of `conv` in `phase`.
async fn phase(app: &TestApp, agent: &'static str, conv: &str, phase: &'static str) {
    let conv = conv.to_owned();
    app.get_until("/api/v1/supervisor/live", phase, move |v: &Value| {
        v["agents"].as_array().is_some_and(|a| {
            a.iter().any(|a| {
                a["agent_id"] == agent
                    && a["call"]["phase"] == phase
                    && a["call"]["conversation_id"] == conv.as_str()
            })
        })
    })
    .await;
}

#[actix_rt::test]
async fn an_agent_holds_consults_and_hands_a_call_over() {
    let rec = Recorder::start().await;
    let app = room_app(&rec).await;
    let ann = app.agent("ann", &["general"], json!({})).await;
    let bo = app.agent("bo", &["general"], json!({})).await;
    let mut a = Client::available(&app, &ann).await;
    let caller_call = "CA00000000000000000000000000000061";
    let caller = "+81312345661";
    let enqueue = waiting_call(&app, caller, caller_call).await;
    let after = enqueue.attrs["action"].clone();
    let conv = accept_next(&mut a).await["id"].as_str().unwrap().to_owned();

    // Before the softphone bridged: nothing to hold.
    let (s, v) = ask(
        &app,
        &ann,
        "hold",
        json!({"conversation_id": conv, "hold": true}),
    )
    .await;
    assert_eq!((s, v["code"].as_str()), (409, Some("conflict")), "{v}");
    assert!(rec.all().is_empty());
    assert_eq!(
        paths(&softphone_dials(&app, "ann", ANN_LEG, &conv).await)[1],
        "Response/Dial/Queue"
    );
    // Ann's leg answered the call: in her timeline, once however often it is told.
    let answered = a
        .expect_where("event", |e| {
            e["event"]["type"] == "call" && e["event"]["status"] == "answered"
        })
        .await;
    assert_eq!(answered["event"]["call_id"], ANN_LEG);
    assert_eq!(answered["event"]["detail"], "ann");
    softphone_dials(&app, "ann", ANN_LEG, &conv).await;
    let customer = answered["event"]["customer_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Hold: Ann's leg is moved into the conference.
    let (s, v) = ask(
        &app,
        &ann,
        "hold",
        json!({"conversation_id": conv, "hold": true}),
    )
    .await;
    assert_eq!(
        (s, &v),
        (202, &json!({"conversation_id": conv, "hold": true}))
    );
    let moved = rec
        .wait_for(&format!("/Accounts/{ACCOUNT}/Calls/{ANN_LEG}.json"), 1)
        .await;
    let (method, _, form) = summary(&moved[0]);
    assert_eq!(method, "POST");
    assert_eq!(form.len(), 1, "{form:?}");
    let agent_twiml = check(&form[0].1);
    assert_eq!(
        paths(&agent_twiml),
        ["Response/Dial", "Response/Dial/Conference"]
    );
    let room = format!("{PUBLIC}/webhooks/twilio/voice/room?conversation={conv}");
    let c = &agent_twiml[1];
    assert_eq!(c.text, format!("sb-{conv}"));
    assert_eq!(c.attrs["startConferenceOnEnter"], "true");
    assert_eq!(c.attrs["endConferenceOnExit"], "true");
    assert_eq!(c.attrs["beep"], "false");
    assert_eq!(c.attrs["statusCallback"], room);
    assert_eq!(c.attrs["statusCallbackEvent"], "start end join leave hold");

    // Ann's leg left the queue's bridge: the caller follows into the conference.
    let bridged = [
        ("CallSid", caller_call),
        ("From", caller),
        ("QueueResult", "bridged"),
        ("CallStatus", "in-progress"),
    ];
    let caller_twiml = follow(&app, &after, &bridged).await;
    assert_eq!(
        paths(&caller_twiml),
        ["Response/Dial", "Response/Dial/Conference"]
    );
    assert_eq!(caller_twiml[0].attrs["action"], after);
    assert_eq!(caller_twiml[1].text, format!("sb-{conv}"));
    assert_eq!(caller_twiml[1].attrs["startConferenceOnEnter"], "false");
    assert_eq!(caller_twiml[1].attrs["endConferenceOnExit"], "true");

    // The conference starts with Ann; the caller's joining holds them.
    let n = rec.all().len();
    conference_event(&app, &conv, "conference-start", None).await;
    conference_event(&app, &conv, "participant-join", Some(ANN_LEG)).await;
    assert_eq!(rec.all().len(), n, "nothing to do for Ann's joining");
    conference_event(&app, &conv, "participant-join", Some(caller_call)).await;
    let held = rec.wait_for(&participant_path(caller_call), 1).await;
    assert_eq!(
        summary(&held[0]),
        (
            "POST".into(),
            participant_path(caller_call),
            pairs(&[("Hold", "true")])
        )
    );
    conference_event(&app, &conv, "participant-hold", Some(caller_call)).await;
    phase(&app, "ann", &conv, "on_hold").await;
    // Its queue counts the held call.
    app.get_until(
        "/api/v1/supervisor/live",
        "general's held call",
        |v: &Value| {
            v["queues"].as_array().is_some_and(|q| {
                q.iter().any(|q| {
                    q["queue"] == "general"
                        && q["calls"]
                            == json!({"ringing": 0, "talking": 0, "on_hold": 1, "wrap_up": 0})
                })
            })
        },
    )
    .await;

    // Resume: asked at once, now that the conference is known.
    let (s, _) = ask(
        &app,
        &ann,
        "hold",
        json!({"conversation_id": conv, "hold": false}),
    )
    .await;
    assert_eq!(s, 202);
    let unheld = rec.wait_for(&participant_path(caller_call), 2).await;
    assert_eq!(summary(&unheld[1]).2, pairs(&[("Hold", "false")]));
    conference_event(&app, &conv, "participant-unhold", Some(caller_call)).await;
    phase(&app, "ann", &conv, "talking").await;

    // Consult Bo: the caller is held, Bo's softphone is rung into the conference.
    for (body, code) in [
        (
            json!({"conversation_id": conv, "agent_id": "ann"}),
            "invalid",
        ),
        (
            json!({"conversation_id": conv, "agent_id": "nobody"}),
            "invalid",
        ),
    ] {
        let (s, v) = ask(&app, &ann, "consult", body).await;
        assert_eq!((s, v["code"].as_str()), (400, Some(code)), "{v}");
    }
    let (s, v) = ask(
        &app,
        &bo,
        "consult",
        json!({"conversation_id": conv, "agent_id": "ann"}),
    )
    .await;
    assert_eq!((s, v["code"].as_str()), (403, Some("forbidden")), "{v}");
    let (s, v) = ask(
        &app,
        &ann,
        "consult/complete",
        json!({"conversation_id": conv}),
    )
    .await;
    assert_eq!((s, v["code"].as_str()), (409, Some("conflict")), "{v}");
    let n = rec.all().len();
    let (s, v) = ask(
        &app,
        &ann,
        "consult",
        json!({"conversation_id": conv, "agent_id": "bo"}),
    )
    .await;
    assert_eq!(
        (s, &v),
        (202, &json!({"conversation_id": conv, "agent_id": "bo"}))
    );
    let (s, v) = ask(
        &app,
        &ann,
        "consult",
        json!({"conversation_id": conv, "agent_id": "bo"}),
    )
    .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (409, Some("conflict")),
        "a second consult: {v}"
    );
    let asked = since(&rec, n);
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert_eq!(
        summary(&asked[0]),
        (
            "POST".into(),
            participant_path(caller_call),
            pairs(&[("Hold", "true")])
        )
    );
    let create = format!("/2010-04-01/Accounts/{ACCOUNT}/Conferences/{CONF}/Participants.json");
    let bo_callback = format!("{room}&agent=bo");
    assert_eq!(
        summary(&asked[1]),
        (
            "POST".into(),
            create.clone(),
            pairs(&[
                ("From", "client:ann"),
                ("To", "client:bo"),
                ("Label", "consult"),
                ("Timeout", "20"),
                ("Beep", "false"),
                ("StartConferenceOnEnter", "true"),
                ("EndConferenceOnExit", "false"),
                ("StatusCallback", bo_callback.as_str()),
                ("StatusCallbackEvent", "completed"),
            ])
        )
    );
    // The recorder numbers the leg it creates by its request count.
    let bo_leg = format!("CA{:032}", n + 2);
    conference_event(&app, &conv, "participant-join", Some(&bo_leg)).await;

    // The hand-over: the conversation goes to Bo, his leg now ends the conference,
    // Ann's leaves it and the caller comes off hold.
    let mut b = Client::available(&app, &bo).await;
    let n = rec.all().len();
    let (s, v) = ask(
        &app,
        &ann,
        "consult/complete",
        json!({"conversation_id": conv}),
    )
    .await;
    assert_eq!(
        (s, &v),
        (202, &json!({"conversation_id": conv, "agent_id": "bo"}))
    );
    let asked: Vec<_> = since(&rec, n).iter().map(summary).collect();
    assert_eq!(
        asked,
        [
            (
                "POST".into(),
                participant_path(&bo_leg),
                pairs(&[("EndConferenceOnExit", "true")])
            ),
            (
                "POST".into(),
                participant_path(ANN_LEG),
                pairs(&[("EndConferenceOnExit", "false")])
            ),
            ("DELETE".into(), participant_path(ANN_LEG), vec![]),
            (
                "POST".into(),
                participant_path(caller_call),
                pairs(&[("Hold", "false")])
            ),
        ]
    );
    a.expect_where("conversation_updated", |m| m["held"] == false)
        .await;
    let offered = accept_next(&mut b).await;
    assert_eq!(offered["id"], conv.as_str());
    // Bo's softphone, should it dial the accepted call, joins the conference.
    let rejoin = softphone_dials(&app, "bo", &bo_leg, &conv).await;
    assert_eq!(
        paths(&rejoin),
        ["Response/Dial", "Response/Dial/Conference"]
    );
    assert_eq!(rejoin[1].text, format!("sb-{conv}"));
    phase(&app, "bo", &conv, "talking").await;

    // Bo hangs up: the conference ends and the caller, still on the line, hears the
    // end of the call (no transfer meanwhile, no survey configured).
    conference_event(&app, &conv, "conference-end", None).await;
    let ended = [
        ("CallSid", caller_call),
        ("From", caller),
        ("DialCallStatus", "completed"),
        ("CallStatus", "in-progress"),
    ];
    assert_eq!(
        paths(&follow(&app, &after, &ended).await),
        ["Response/Hangup"]
    );
    let (_, c) = app.get(&format!("/api/v1/conversations/{conv}")).await;
    assert_eq!(c["agent"], "bo", "{c}");
    // Each leg that answered is in the timeline (newest first) once: Bo's at the
    // hand-over, Ann's before.
    let (_, t) = app
        .get(&format!("/api/v1/customers/{customer}/timeline"))
        .await;
    let answers: Vec<(&str, &str)> = t["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "call" && e["status"] == "answered")
        .map(|e| {
            (
                e["call_id"].as_str().unwrap(),
                e["detail"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(answers, [(bo_leg.as_str(), "bo"), (ANN_LEG, "ann")]);
    // The call's room is forgotten with it: nothing left to hold.
    let (s, v) = ask(
        &app,
        &bo,
        "hold",
        json!({"conversation_id": conv, "hold": true}),
    )
    .await;
    assert_eq!((s, v["code"].as_str()), (409, Some("conflict")), "{v}");
}

#[actix_rt::test]
async fn a_consult_is_cancelled_or_unanswered_and_failures_move_nothing() {
    let rec = Recorder::start().await;
    let app = room_app(&rec).await;
    let ann = app.agent("ann", &["general"], json!({})).await;
    app.agent("bo", &["general"], json!({})).await;
    app.agent("cy", &[], json!({})).await;
    let mut a = Client::available(&app, &ann).await;
    let caller_call = "CA00000000000000000000000000000062";
    let caller = "+81312345662";
    let enqueue = waiting_call(&app, caller, caller_call).await;
    let after = enqueue.attrs["action"].clone();
    let conv = accept_next(&mut a).await["id"].as_str().unwrap().to_owned();
    softphone_dials(&app, "ann", ANN_LEG, &conv).await;

    // An agent of another queue cannot take the call.
    let (s, v) = ask(
        &app,
        &ann,
        "consult",
        json!({"conversation_id": conv, "agent_id": "cy"}),
    )
    .await;
    assert_eq!((s, v["code"].as_str()), (400, Some("invalid")), "{v}");
    // The platform fails the move: 503, and the next ask moves it again.
    rec.fail_next(&[500]);
    let (s, v) = ask(
        &app,
        &ann,
        "consult",
        json!({"conversation_id": conv, "agent_id": "bo"}),
    )
    .await;
    assert_eq!((s, v["code"].as_str()), (503, Some("unavailable")), "{v}");
    let (s, v) = ask(
        &app,
        &ann,
        "consult",
        json!({"conversation_id": conv, "agent_id": "bo"}),
    )
    .await;
    assert_eq!(s, 202, "{v}");
    let moves = rec
        .wait_for(&format!("/Accounts/{ACCOUNT}/Calls/{ANN_LEG}.json"), 2)
        .await;
    assert_eq!(moves.len(), 2);
    let bridged = [
        ("CallSid", caller_call),
        ("From", caller),
        ("QueueResult", "bridged"),
        ("CallStatus", "in-progress"),
    ];
    follow(&app, &after, &bridged).await;

    // Bo is dialled at the conference's first callback; the caller, held at joining.
    let n = rec.all().len();
    conference_event(&app, &conv, "participant-join", Some(ANN_LEG)).await;
    let asked = since(&rec, n);
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(asked[0].path.ends_with("/Participants.json"));
    assert_eq!(asked[0].form()["To"], "client:bo");
    let bo_leg = format!("CA{:032}", n + 1);
    // The callback comes again (Twilio retried): Bo is not rung twice.
    conference_event(&app, &conv, "participant-join", Some(ANN_LEG)).await;
    conference_event(&app, &conv, "participant-join", Some(caller_call)).await;
    let asked = since(&rec, n);
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert_eq!(asked[1].path, participant_path(caller_call));
    assert_eq!(asked[1].form()["Hold"], "true");

    // Bo does not answer: his leg's end forgets the consult; hand-over is refused.
    let p = [
        ("AccountSid", ACCOUNT),
        ("CallSid", bo_leg.as_str()),
        ("CallStatus", "no-answer"),
    ];
    let path = format!("/webhooks/twilio/voice/room?conversation={conv}&agent=bo");
    let (s, body) = twilio_post(&app, &path, &p, None).await;
    assert_eq!(s, 204, "{body}");
    let (s, v) = ask(
        &app,
        &ann,
        "consult/complete",
        json!({"conversation_id": conv}),
    )
    .await;
    assert_eq!((s, v["code"].as_str()), (409, Some("conflict")), "{v}");
    // Cancelling takes the caller off hold.
    let n = rec.all().len();
    let (s, v) = ask(
        &app,
        &ann,
        "consult/cancel",
        json!({"conversation_id": conv}),
    )
    .await;
    assert_eq!(s, 202, "{v}");
    let asked = since(&rec, n);
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(
        summary(&asked[0]),
        (
            "POST".into(),
            participant_path(caller_call),
            pairs(&[("Hold", "false")])
        )
    );

    // A consult cancelled after Bo joined removes his leg.
    let (s, _) = ask(
        &app,
        &ann,
        "consult",
        json!({"conversation_id": conv, "agent_id": "bo"}),
    )
    .await;
    assert_eq!(s, 202);
    let n = rec.all().len();
    let asked = rec.wait_for("/Participants.json", 2).await;
    let bo_leg = format!("CA{:032}", n);
    assert_eq!(asked.len(), 2);
    let n = rec.all().len();
    let (s, _) = ask(
        &app,
        &ann,
        "consult/cancel",
        json!({"conversation_id": conv}),
    )
    .await;
    assert_eq!(s, 202);
    let asked: Vec<_> = since(&rec, n).iter().map(summary).collect();
    assert_eq!(
        asked,
        [
            ("DELETE".into(), participant_path(&bo_leg), vec![]),
            (
                "POST".into(),
                participant_path(caller_call),
                pairs(&[("Hold", "false")])
            ),
        ]
    );
    // Nothing to cancel now.
    let (s, v) = ask(
        &app,
        &ann,
        "consult/cancel",
        json!({"conversation_id": conv}),
    )
    .await;
    assert_eq!((s, v["code"].as_str()), (409, Some("conflict")), "{v}");
    // Bad callbacks are refused: an unsigned one, a conference id that is none.
    let bad = [
        ("AccountSid", ACCOUNT),
        ("ConferenceSid", "nope"),
        ("StatusCallbackEvent", "participant-join"),
        ("CallSid", caller_call),
    ];
    let room = format!("/webhooks/twilio/voice/room?conversation={conv}");
    let (s, _) = twilio_post(&app, &room, &bad, None).await;
    assert_eq!(s, 400);
    let (s, _) = twilio_post(&app, &room, &bad[..1], Some("forged")).await;
    assert_eq!(s, 401);
}

#[actix_rt::test]
async fn a_supervisor_listens_in_or_whispers_on_their_phone() {
    let rec = Recorder::start().await;
    let app = room_app(&rec).await;
    let ann = app.agent("ann", &["general"], json!({})).await;
    let sue = app
        .agent(
            "sue",
            &["general"],
            json!({"role": "supervisor", "phone": "+819055550009"}),
        )
        .await;
    let mut a = Client::available(&app, &ann).await;
    let caller_call = "CA00000000000000000000000000000063";
    waiting_call(&app, "+81312345663", caller_call).await;
    let conv = accept_next(&mut a).await["id"].as_str().unwrap().to_owned();
    softphone_dials(&app, "ann", ANN_LEG, &conv).await;

    // Agents may not listen in.
    let (s, v) = ask(&app, &ann, "listen", json!({"conversation_id": conv})).await;
    assert_eq!((s, v["code"].as_str()), (403, Some("forbidden")), "{v}");
    let (s, v) = ask(&app, &sue, "listen", json!({"conversation_id": conv})).await;
    assert_eq!(
        (s, &v),
        (202, &json!({"conversation_id": conv, "agent_id": "ann"}))
    );
    let (s, v) = ask(&app, &sue, "listen", json!({"conversation_id": conv})).await;
    assert_eq!((s, v["code"].as_str()), (409, Some("conflict")), "{v}");
    rec.wait_for(&format!("/Calls/{ANN_LEG}.json"), 1).await;
    let n = rec.all().len();
    conference_event(&app, &conv, "participant-join", Some(ANN_LEG)).await;
    let asked = since(&rec, n);
    assert_eq!(asked.len(), 1, "{asked:?}");
    let room = format!("{PUBLIC}/webhooks/twilio/voice/room?conversation={conv}&agent=sue");
    assert_eq!(
        summary(&asked[0]).2,
        pairs(&[
            ("From", OUR_NUMBER),
            ("To", "+819055550009"),
            ("Label", "listen"),
            ("Timeout", "20"),
            ("Beep", "false"),
            ("StartConferenceOnEnter", "false"),
            ("EndConferenceOnExit", "false"),
            ("Muted", "true"),
            ("StatusCallback", room.as_str()),
            ("StatusCallbackEvent", "completed"),
        ])
    );
    // Sue hangs up and comes back whispering: coaching Ann's leg.
    let sue_leg = format!("CA{:032}", n + 1);
    conference_event(&app, &conv, "participant-leave", Some(&sue_leg)).await;
    let n = rec.all().len();
    let (s, _) = ask(
        &app,
        &sue,
        "listen",
        json!({"conversation_id": conv, "whisper": true}),
    )
    .await;
    assert_eq!(s, 202);
    let asked = since(&rec, n);
    assert_eq!(asked.len(), 1, "{asked:?}");
    let form = asked[0].form();
    assert_eq!(form["Label"], "whisper");
    assert_eq!(form["Coaching"], "true");
    assert_eq!(form["CallSidToCoach"], ANN_LEG);
    assert!(!form.contains_key("Muted"));
}

#[actix_rt::test]
async fn a_call_on_the_agents_own_phone_is_held_through_its_answered_leg() {
    let rec = Recorder::start().await;
    let app = room_app(&rec).await;
    let ann = app
        .agent("ann", &["general"], json!({"phone": "+819055550000"}))
        .await;
    let mut a = Client::available(&app, &ann).await;
    let caller_call = "CA00000000000000000000000000000064";
    let caller = "+81312345664";
    waiting_call(&app, caller, caller_call).await;
    let conv = accept_next(&mut a).await["id"].as_str().unwrap().to_owned();
    let (s, v) = ask(&app, &ann, "bridge", json!({"conversation_id": conv})).await;
    assert_eq!(s, 202, "{v}");
    let moved = rec.wait_for(&format!("/Calls/{caller_call}.json"), 1).await;
    let dial = check(&moved[0].form()["Twiml"]);
    assert_eq!(paths(&dial), ["Response/Dial", "Response/Dial/Number"]);
    let answered = dial[1].attrs["statusCallback"].clone();
    assert_eq!(
        answered,
        format!("{PUBLIC}/webhooks/twilio/voice/agent-answered?conversation={conv}&agent=ann")
    );
    assert_eq!(dial[1].attrs["statusCallbackEvent"], "answered");
    let leg_url = dial[0].attrs["action"].clone();
    // Ann answers her phone: that leg is the one moved.
    let ann_phone_leg = "CA00000000000000000000000000000b64";
    let p = [
        ("CallSid", ann_phone_leg),
        ("CallStatus", "in-progress"),
        ("ParentCallSid", caller_call),
    ];
    let path = answered.strip_prefix(PUBLIC).unwrap();
    let (s, body) = twilio_post(&app, path, &p, None).await;
    assert_eq!(s, 204, "{body}");
    let (s, _) = ask(
        &app,
        &ann,
        "hold",
        json!({"conversation_id": conv, "hold": true}),
    )
    .await;
    assert_eq!(s, 202);
    let moved = rec
        .wait_for(&format!("/Calls/{ann_phone_leg}.json"), 1)
        .await;
    assert_eq!(
        paths(&check(&moved[0].form()["Twiml"])),
        ["Response/Dial", "Response/Dial/Conference"]
    );
    // The caller's <Dial> of Ann's phone ends: the caller goes into the conference.
    let ended = [
        ("CallSid", caller_call),
        ("DialCallStatus", "completed"),
        ("CallStatus", "in-progress"),
    ];
    let next = follow(&app, &leg_url, &ended).await;
    assert_eq!(paths(&next), ["Response/Dial", "Response/Dial/Conference"]);
    assert_eq!(next[1].text, format!("sb-{conv}"));
}

/// The desktop in Chromium (clients/tests/voice_room.mjs), the Twilio SDK replaced at
/// its documented interface: Hold, Resume, Consult, Cancel and Complete transfer on a
/// live softphone call, each asked once of the engine, and a colleague's consult
/// ringing the softphone. What the engine asked of the platform is checked here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desktop_holds_consults_and_hands_over_in_a_real_browser() {
    let rec = Recorder::start().await;
    let app = room_app(&rec).await;
    app.agent("amy", &["general"], json!({})).await;
    app.agent("bob", &["general"], json!({})).await;
    let shots = std::env::var("SCREENSHOT_DIR").unwrap_or_default();
    run_browser_script(
        &app,
        "voice_room.mjs",
        &[
            ("AGENT_ID", "amy"),
            ("AGENT_PASSWORD", "amy-password"),
            ("CALLER", "+81312345670"),
            ("OTHER_AGENT", "bob"),
            ("TWILIO_ACCOUNT", ACCOUNT),
            ("TWILIO_APP", APP),
            ("TWILIO_AUTH_TOKEN", TWILIO_TOKEN),
            ("TWILIO_PUBLIC_URL", PUBLIC),
            ("SCREENSHOT_DIR", shots.as_str()),
        ],
        "voice room browser test passed",
    )
    .await;
    // The script's softphone leg was moved into the conference once, Bob was rung
    // into it, and the hand-over removed the leg.
    let leg = "CA00000000000000000000000000000a11";
    let moved = rec.wait_for(&format!("/Calls/{leg}.json"), 1).await;
    assert_eq!(moved.len(), 1);
    assert_eq!(
        paths(&check(&moved[0].form()["Twiml"])),
        ["Response/Dial", "Response/Dial/Conference"]
    );
    let rung = rec.wait_for("/Participants.json", 1).await;
    assert_eq!(rung[0].form()["To"], "client:bob");
    let removed: Vec<_> = rec
        .all()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .map(|r| r.path)
        .collect();
    assert_eq!(removed, [participant_path(leg)]);
}

/// A caller who hangs up while bridged takes the call's room with them: the agent has
/// nothing left to hold, and nothing is asked of the platform.
#[actix_rt::test]
async fn a_caller_who_hangs_up_leaves_no_room_behind() {
    let rec = Recorder::start().await;
    let app = room_app(&rec).await;
    let ann = app.agent("ann", &["general"], json!({})).await;
    let mut a = Client::available(&app, &ann).await;
    let caller_call = "CA00000000000000000000000000000065";
    let caller = "+81312345665";
    let enqueue = waiting_call(&app, caller, caller_call).await;
    let conv = accept_next(&mut a).await["id"].as_str().unwrap().to_owned();
    softphone_dials(&app, "ann", ANN_LEG, &conv).await;
    let hung_up = [
        ("CallSid", caller_call),
        ("From", caller),
        ("QueueResult", "bridged"),
        ("CallStatus", "completed"),
    ];
    let next = follow(&app, &enqueue.attrs["action"], &hung_up).await;
    assert_eq!(paths(&next), ["Response/Hangup"]);
    let (s, v) = ask(
        &app,
        &ann,
        "hold",
        json!({"conversation_id": conv, "hold": true}),
    )
    .await;
    assert_eq!((s, v["code"].as_str()), (409, Some("conflict")), "{v}");
    assert!(rec.all().is_empty(), "{:?}", rec.all());
}

/// The supervisor console in Chromium (clients/tests/supervisor_listen.mjs): the queue's
/// tile counts the agent's phone call, and Listen rings the supervisor's phone into it
/// (the call moved into its conference at the recorder); Whisper, once in, is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_listens_in_from_the_console_in_a_real_browser() {
    let rec = Recorder::start().await;
    let app = room_app(&rec).await;
    let pat = app.agent("pat", &["general"], json!({})).await;
    app.agent(
        "sue",
        &["general"],
        json!({"role": "supervisor", "phone": "+819055550009"}),
    )
    .await;
    let mut p = Client::available(&app, &pat).await;
    waiting_call(&app, "+81312345666", "CA00000000000000000000000000000066").await;
    let conv = accept_next(&mut p).await["id"].as_str().unwrap().to_owned();
    softphone_dials(&app, "pat", ANN_LEG, &conv).await;
    let shots = std::env::var("SCREENSHOT_DIR").unwrap_or_default();
    run_browser_script(
        &app,
        "supervisor_listen.mjs",
        &[
            ("SUPERVISOR_ID", "sue"),
            ("SUPERVISOR_PASSWORD", "sue-password"),
            ("AGENT_ID", "pat"),
            ("CONVERSATION_ID", conv.as_str()),
            ("QUEUE", "general"),
            ("SCREENSHOT_DIR", shots.as_str()),
        ],
        "supervisor listen browser test passed",
    )
    .await;
    let moved = rec.wait_for(&format!("/Calls/{ANN_LEG}.json"), 1).await;
    assert_eq!(moved.len(), 1, "moved once: the whisper was refused");
    // Sue is rung once the conference names itself.
    let n = rec.all().len();
    conference_event(&app, &conv, "participant-join", Some(ANN_LEG)).await;
    let rung = since(&rec, n);
    assert_eq!(rung.len(), 1, "{rung:?}");
    assert_eq!(rung[0].form()["To"], "+819055550009");
    assert_eq!(rung[0].form()["Muted"], "true");
}
