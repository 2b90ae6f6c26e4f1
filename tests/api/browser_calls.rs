//! Browser calls (WebRTC signalling, docs/voice.md "Browser calls") over the real
//! sockets: a call rings, is answered, relays each side's session descriptions and
//! candidates exactly, takes the agent's voice slot while it lasts and writes
//! `call_started` / `call_answered` / `call_ended` in the timeline; a hang-up, a closed
//! socket, a ring time-out and the conversation closing each end it on both sides with
//! its reason; bad frames are refused with typed errors and change nothing. The media
//! itself flows in Chromium with fake devices (clients/tests/webrtc_call.mjs, the last
//! test here): a voice and a video call between the agent desktop and the web chat,
//! with audio (and video) bytes received on both sides.

use crate::helpers::*;
use serde_json::{json, Value};

const OFFER: &str = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n";
const ANSWER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n";
const CANDIDATE: &str = "candidate:842163049 1 udp 1677729535 192.0.2.7 46154 typ srflx";

async fn calls_app(tweak: impl FnOnce(&mut switchboard::config::Settings)) -> TestApp {
    spawn_app(|s| {
        s.calls.media = vec![
            switchboard::domain::CallMedia::Audio,
            switchboard::domain::CallMedia::Video,
        ];
        s.calls.turn = Some(switchboard::calls::TurnRest {
            urls: vec!["turn:turn.example.org:3478".into()],
            secret: "turn-secret".into(),
            ttl_s: 600,
        });
        tweak(s);
    })
    .await
}

/// An agent holding a visitor's chat: (agent socket, visitor socket, conversation,
/// customer id).
async fn talking(app: &TestApp, agent: &str) -> (Client, Client, Value, String) {
    let token = app.agent(agent, &["general"], json!({})).await;
    let mut a = Client::available(app, &token).await;
    let (mut v, w) = Client::visitor(app).await;
    assert_eq!(w["calls"], json!(["audio", "video"]));
    chat_say(&mut v, "hello").await;
    let conv = accept_next(&mut a).await;
    v.expect_where("conversation", |c| c["state"] == "assigned")
        .await;
    let customer = w["customer_id"].as_str().unwrap().to_owned();
    (a, v, conv, customer)
}

/// The agent's free slots per channel class, as `GET /api/v1/agents/{id}` shows them.
async fn free(app: &TestApp, agent: &str) -> Value {
    let (s, v) = app.get(&format!("/api/v1/agents/{agent}")).await;
    assert_eq!(s, 200, "{v}");
    v["live"]["free"].clone()
}

async fn free_until(app: &TestApp, agent: &str, want: &Value) {
    app.get_until(&format!("/api/v1/agents/{agent}"), "free slots", |v| {
        v["live"]["free"] == *want
    })
    .await;
}

/// The agent calls the visitor and the visitor answers; returns the call id.
async fn agent_calls(a: &mut Client, v: &mut Client, conv: &Value, media: &str) -> Value {
    a.send(json!({"type": "call_start", "conversation_id": conv["id"], "media": media}))
        .await;
    let call = a.expect("call_ringing").await["call_id"].clone();
    v.expect("call_incoming").await;
    v.send(json!({"type": "call_answer", "call_id": call}))
        .await;
    a.expect("call_answered").await;
    v.expect("call_answered").await;
    call
}

/// The visitor calls the agent and the agent answers; returns the call id.
async fn visitor_calls(v: &mut Client, a: &mut Client, conv: &Value, media: &str) -> Value {
    v.send(json!({"type": "call_start", "media": media})).await;
    let call = v.expect("call_ringing").await["call_id"].clone();
    a.expect("call_incoming").await;
    a.send(json!({"type": "call_answer", "conversation_id": conv["id"], "call_id": call}))
        .await;
    v.expect("call_answered").await;
    a.expect("call_answered").await;
    call
}

fn error_for<'a>(code: &'a str) -> impl Fn(&Value) -> bool + 'a {
    move |m: &Value| m["code"] == code
}

#[actix_rt::test]
async fn a_call_rings_relays_signals_takes_the_voice_slot_and_ends_in_the_timeline() {
    let app = calls_app(|_| {}).await;
    let (mut a, mut v, conv, customer) = talking(&app, "alice").await;
    let before = free(&app, "alice").await;
    assert_ne!(before, json!([0, 0, 0, 0]), "a chat leaves slots free");

    v.send(json!({"type": "call_start", "media": "audio"}))
        .await;
    let ringing = v.expect("call_ringing").await;
    let call = ringing["call_id"].as_str().unwrap().to_owned();
    assert_eq!(ringing["conversation_id"], conv["id"]);
    assert_eq!(ringing["media"], "audio");
    // TURN REST credentials minted for the visitor: "<expiry>:<customer id>".
    let turn = &ringing["ice_servers"][0];
    assert_eq!(turn["urls"], json!(["turn:turn.example.org:3478"]));
    let user = turn["username"].as_str().unwrap();
    assert!(user.ends_with(&format!(":{customer}")), "{user}");
    assert!(turn["credential"].as_str().is_some_and(|c| c.len() == 28));
    let incoming = a.expect("call_incoming").await;
    assert_eq!(incoming["call_id"], call.as_str());
    let agent_user = incoming["ice_servers"][0]["username"].as_str().unwrap();
    assert!(agent_user.ends_with(":alice"), "{agent_user}");

    a.send(json!({"type": "call_answer", "conversation_id": conv["id"], "call_id": call}))
        .await;
    a.expect("call_answered").await;
    v.expect("call_answered").await;
    // The call takes the voice slot: nothing else is offered meanwhile.
    free_until(&app, "alice", &json!([0, 0, 0, 0])).await;
    // Supervisors see the agent talking on it.
    let talking = |v: &Value| {
        v["agents"].as_array().is_some_and(|a| {
            a.iter().any(|a| {
                a["agent_id"] == "alice"
                    && a["call"]["phase"] == "talking"
                    && a["call"]["media"] == "audio"
                    && a["call"]["conversation_id"] == conv["id"]
            })
        })
    };
    app.get_until("/api/v1/supervisor/live", "alice talking", talking)
        .await;

    // Signals cross exactly as sent, each way.
    let offer = json!({"kind": "offer", "sdp": OFFER});
    v.send(json!({"type": "call_signal", "call_id": call, "signal": offer}))
        .await;
    let got = a.expect("call_signal").await;
    assert_eq!(got["signal"], offer);
    assert_eq!(got["conversation_id"], conv["id"]);
    let answer = json!({"kind": "answer", "sdp": ANSWER});
    a.send(
        json!({"type": "call_signal", "conversation_id": conv["id"], "call_id": call,
                  "signal": answer}),
    )
    .await;
    assert_eq!(v.expect("call_signal").await["signal"], answer);
    let cand = json!({"kind": "candidate", "candidate": CANDIDATE, "sdp_mid": "0",
                      "sdp_mline_index": 0});
    a.send(
        json!({"type": "call_signal", "conversation_id": conv["id"], "call_id": call,
                  "signal": cand}),
    )
    .await;
    assert_eq!(v.expect("call_signal").await["signal"], cand);

    v.send(json!({"type": "call_hangup", "call_id": call}))
        .await;
    for side in [&mut a, &mut v] {
        let ended = side.expect("call_ended").await;
        assert_eq!(ended["call_id"], call.as_str());
        assert_eq!(ended["reason"], "hangup");
        assert_eq!(ended["by"], "customer");
        assert!(ended["duration_ms"].as_u64().is_some());
    }
    free_until(&app, "alice", &before).await;
    app.get_until("/api/v1/supervisor/live", "alice off the call", |v| {
        v["agents"].as_array().is_some_and(|a| {
            a.iter()
                .any(|a| a["agent_id"] == "alice" && a.get("call").is_none())
        })
    })
    .await;
    let events = app
        .timeline_until(&customer, "the call's end", |e| {
            e.iter().any(|e| e["type"] == "call_ended")
        })
        .await;
    let calls: Vec<(&str, &Value)> = events
        .iter()
        .filter(|e| e["type"].as_str().unwrap().starts_with("call_"))
        .map(|e| (e["type"].as_str().unwrap(), e))
        .collect();
    let kinds: Vec<&str> = calls.iter().map(|(k, _)| *k).collect();
    assert_eq!(kinds, ["call_started", "call_answered", "call_ended"]);
    assert_eq!(calls[0].1["by"], "customer");
    assert_eq!(calls[0].1["agent_id"], "alice");
    assert_eq!(calls[0].1["media"], "audio");
    assert_eq!(calls[2].1["reason"], "hangup");
    // The visitor's own page shows the call lines too (visible events).
    v.expect_where("event", |e| e["event"]["type"] == "call_ended")
        .await;
}

#[actix_rt::test]
async fn bad_call_frames_are_refused_with_typed_errors_and_change_nothing() {
    let app = calls_app(|s| {
        s.calls.media = vec![switchboard::domain::CallMedia::Audio];
    })
    .await;
    let token = app.agent("bob", &["general"], json!({})).await;
    let mut a = Client::available(&app, &token).await;
    let (mut v, _) = Client::visitor(&app).await;
    chat_say(&mut v, "hi").await;
    // Waiting, nobody holds it: nobody to call.
    v.send(json!({"type": "call_start", "media": "audio"}))
        .await;
    v.expect_where("error", error_for("unavailable")).await;
    let conv = accept_next(&mut a).await;
    v.expect_where("conversation", |c| c["state"] == "assigned")
        .await;
    // Video is off here.
    v.send(json!({"type": "call_start", "media": "video"}))
        .await;
    v.expect_where("error", error_for("unavailable")).await;
    // Malformed frames fail at the door.
    v.send(json!({"type": "call_start", "media": "hologram"}))
        .await;
    v.expect_where("error", error_for("bad_json")).await;
    v.send(json!({"type": "call_signal", "call_id": "x", "signal": {"kind": "offer", "sdp": "v=0", "extra": 1}}))
        .await;
    v.expect_where("error", error_for("bad_json")).await;
    // No such call.
    v.send(json!({"type": "call_signal", "call_id": "nope", "signal": {"kind": "offer", "sdp": OFFER}}))
        .await;
    v.expect_where("error", |m| m["code"] == "not_found" && m["ref"] == "nope")
        .await;

    // The agent calls; before the answer no signal crosses.
    a.send(json!({"type": "call_start", "conversation_id": conv["id"], "media": "audio"}))
        .await;
    let call = a.expect("call_ringing").await["call_id"].clone();
    let incoming = v.expect("call_incoming").await;
    assert_eq!(incoming["call_id"], call);
    a.send(
        json!({"type": "call_signal", "conversation_id": conv["id"], "call_id": call,
                  "signal": {"kind": "offer", "sdp": OFFER}}),
    )
    .await;
    a.expect_where("error", error_for("conflict")).await;
    // A second call in the conversation, or the agent answering its own call.
    a.send(json!({"type": "call_start", "conversation_id": conv["id"], "media": "audio"}))
        .await;
    a.expect_where("error", error_for("conflict")).await;
    v.send(json!({"type": "call_start", "media": "audio"}))
        .await;
    v.expect_where("error", error_for("conflict")).await;

    v.send(json!({"type": "call_answer", "call_id": call}))
        .await;
    v.expect("call_answered").await;
    a.expect("call_answered").await;
    // Not SDP, or over the size limit: refused, nothing relayed.
    v.send(json!({"type": "call_signal", "call_id": call, "signal": {"kind": "offer", "sdp": "hello"}}))
        .await;
    v.expect_where("error", error_for("invalid")).await;
    let huge = format!("v=0\r\n{}", "a".repeat(20 * 1024));
    v.send(
        json!({"type": "call_signal", "call_id": call, "signal": {"kind": "answer", "sdp": huge}}),
    )
    .await;
    v.expect_where("error", error_for("invalid")).await;
    v.send(json!({"type": "call_signal", "call_id": call,
                  "signal": {"kind": "candidate", "candidate": "candidate:1\r\na=x"}}))
        .await;
    v.expect_where("error", error_for("invalid")).await;
    a.assert_none_before_pong("call_signal").await;

    // Another visitor's socket is not in this call.
    let (mut other, _) = Client::visitor(&app).await;
    other
        .send(json!({"type": "call_hangup", "call_id": call}))
        .await;
    other.expect_where("error", error_for("not_found")).await;
    // A conversation the agent does not hold.
    let stranger = uuid::Uuid::now_v7().to_string();
    a.send(json!({"type": "call_start", "conversation_id": stranger, "media": "audio"}))
        .await;
    a.expect_where("error", error_for("not_yours")).await;

    // The call still runs: a valid signal crosses, then the agent hangs up.
    v.send(json!({"type": "call_signal", "call_id": call, "signal": {"kind": "answer", "sdp": ANSWER}}))
        .await;
    a.expect("call_signal").await;
    a.send(json!({"type": "call_hangup", "conversation_id": conv["id"], "call_id": call}))
        .await;
    let ended = v.expect("call_ended").await;
    assert_eq!(
        (ended["reason"].as_str(), ended["by"].as_str()),
        (Some("hangup"), Some("agent"))
    );
}

#[actix_rt::test]
async fn a_closed_socket_a_decline_a_ring_timeout_and_a_resolve_each_end_the_call() {
    let app = calls_app(|s| s.calls.ring_timeout_ms = 400).await;
    let (mut a, mut v, conv, _) = talking(&app, "carol").await;
    let before = free(&app, "carol").await;
    let ended = |reason: &'static str, by: &'static str| {
        move |m: &Value| m["reason"] == reason && m["by"] == by
    };

    // Declined by the visitor.
    a.send(json!({"type": "call_start", "conversation_id": conv["id"], "media": "video"}))
        .await;
    let call = a.expect("call_ringing").await["call_id"].clone();
    v.expect("call_incoming").await;
    v.send(json!({"type": "call_hangup", "call_id": call}))
        .await;
    a.expect_where("call_ended", ended("declined", "customer"))
        .await;
    free_until(&app, "carol", &before).await;

    // Nobody answers within calls.ring_timeout_ms.
    v.send(json!({"type": "call_start", "media": "audio"}))
        .await;
    v.expect("call_ringing").await;
    a.expect("call_incoming").await;
    v.expect_where("call_ended", ended("no_answer", "system"))
        .await;
    a.expect_where("call_ended", ended("no_answer", "system"))
        .await;

    // The visitor's page goes (a reload): the call ends, the slot is free again.
    agent_calls(&mut a, &mut v, &conv, "audio").await;
    free_until(&app, "carol", &json!([0, 0, 0, 0])).await;
    v.close().await;
    a.expect_where("call_ended", ended("disconnected", "customer"))
        .await;
    free_until(&app, "carol", &before).await;
}

#[actix_rt::test]
async fn the_agent_socket_closing_or_the_conversation_closing_ends_the_call() {
    let app = calls_app(|_| {}).await;
    let (mut a, mut v, conv, _) = talking(&app, "dave").await;
    let token = app.login("dave", "dave-password").await;

    // The agent's socket in the call closes: the visitor is told at once.
    visitor_calls(&mut v, &mut a, &conv, "audio").await;
    a.close().await;
    let e = v.expect("call_ended").await;
    assert_eq!(
        (e["reason"].as_str(), e["by"].as_str()),
        (Some("disconnected"), Some("agent"))
    );

    // Back within the grace period; the agent calls, then resolves the conversation.
    let mut a = Client::agent(&app, &token).await;
    agent_calls(&mut a, &mut v, &conv, "audio").await;
    resolve(&mut a, &conv).await;
    let e = v.expect("call_ended").await;
    assert_eq!(
        (e["reason"].as_str(), e["by"].as_str()),
        (Some("closed"), Some("system"))
    );
    // Holding nothing and on no call: the voice slot is free again.
    app.get_until("/api/v1/agents/dave", "the voice slot free", |v| {
        v["live"]["free"][0] == 1
    })
    .await;
}

#[actix_rt::test]
async fn a_customer_calling_an_agent_already_on_a_call_hears_busy() {
    let app = calls_app(|_| {}).await;
    let (mut a, mut v, conv, _) = talking(&app, "erin").await;
    // A second chat the agent took before the call.
    let (mut v2, _) = Client::visitor(&app).await;
    chat_say(&mut v2, "me too").await;
    accept_next(&mut a).await;
    v2.expect_where("conversation", |c| c["state"] == "assigned")
        .await;

    let call = visitor_calls(&mut v, &mut a, &conv, "audio").await;

    v2.send(json!({"type": "call_start", "media": "video"}))
        .await;
    let second = v2.expect("call_ringing").await["call_id"].clone();
    let e = v2.expect("call_ended").await;
    assert_eq!(e["call_id"], second);
    assert_eq!(
        (e["reason"].as_str(), e["by"].as_str()),
        (Some("busy"), Some("agent"))
    );
    // The agent was never rung by it, and the first call goes on.
    a.assert_none_where_before_pong("call_incoming", |m| m["call_id"] == second)
        .await;
    v.send(
        json!({"type": "call_signal", "call_id": call, "signal": {"kind": "offer", "sdp": OFFER}}),
    )
    .await;
    a.expect("call_signal").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voice_and_video_calls_carry_media_both_ways_in_a_real_browser() {
    let app = calls_app(|_| {}).await;
    app.agent("caller", &["general"], json!({})).await;
    let shots = std::env::var("SCREENSHOT_DIR").unwrap_or_default();
    run_browser_script(
        &app,
        "webrtc_call.mjs",
        &[
            ("AGENT_ID", "caller"),
            ("AGENT_PASSWORD", "caller-password"),
            ("SCREENSHOT_DIR", shots.as_str()),
        ],
        "webrtc call browser test passed",
    )
    .await;
}
