//! Transferring a live phone call (docs/voice.md "Transfer"): the agent bridged to a
//! caller transfers the conversation to another agent or back to a queue; when the
//! agent's leg ends, the platform asks the `<Enqueue>` action, and the engine puts
//! the caller back in the queue (a checked `<Say>` and `<Enqueue>`), so the next
//! agent's softphone bridges to the caller as for any call — while a call whose
//! agent still holds it ends there. Every TwiML answer is parsed and checked.

use crate::helpers::*;
use crate::voice_softphone::{softphone_dials, softphone_on, voice_on};

/// The softphones' legs.
const LEG: &str = "CA00000000000000000000000000000090";
use crate::voice_survey::{follow, paths, waiting_call};
use serde_json::{json, Value};

async fn transfer_app() -> TestApp {
    spawn_app(|s| {
        voice_on(s);
        softphone_on(s);
    })
    .await
}

#[actix_rt::test]
async fn a_transferred_call_waits_again_and_reaches_the_next_agent() {
    let app = transfer_app().await;
    let ann = app.agent("ann", &["general"], json!({})).await;
    let mut a = Client::available(&app, &ann).await;
    let call = "CA00000000000000000000000000000050";
    let caller = "+81312345680";
    let enqueue = waiting_call(&app, caller, call).await;
    let after = enqueue.attrs["action"].clone();
    let conv = accept_next(&mut a).await;
    let id = conv["id"].as_str().unwrap().to_owned();
    assert_eq!(
        paths(&softphone_dials(&app, "ann", LEG, &id).await)[1],
        "Response/Dial/Queue"
    );
    // Supervisors see Ann on the phone call.
    let on_call = |agent: &'static str, phase: &'static str, conv: String| {
        move |v: &Value| {
            v["agents"].as_array().is_some_and(|a| {
                a.iter().any(|a| {
                    a["agent_id"] == agent
                        && a["call"]["phone"] == true
                        && a["call"]["phase"] == phase
                        && a["call"]["conversation_id"] == conv.as_str()
                })
            })
        }
    };
    app.get_until(
        "/api/v1/supervisor/live",
        "ann talking on the phone",
        on_call("ann", "talking", id.clone()),
    )
    .await;
    let bo = app.agent("bo", &["general"], json!({})).await;
    let mut b = Client::available(&app, &bo).await;

    // Ann transfers the live call to Bo; her leg ends and Twilio asks what next.
    a.send(json!({"type": "transfer", "conversation_id": id, "agent": "bo"}))
        .await;
    a.expect_where("conversation_updated", |m| m["held"] == false)
        .await;
    let left = [
        ("CallSid", call),
        ("From", caller),
        ("QueueResult", "bridged"),
        ("CallStatus", "in-progress"),
    ];
    let back = follow(&app, &after, &left).await;
    assert_eq!(paths(&back), ["Response/Say", "Response/Enqueue"]);
    assert_eq!(
        back[1].text, id,
        "the caller waits in the conversation's queue again"
    );
    assert_eq!(back[1].attrs["action"], after);

    // Bo accepts; his softphone is bridged to the caller; Ann's no longer is.
    let o = b.expect("offer").await;
    assert_eq!(o["conversation_id"], id.as_str());
    b.send(json!({"type": "accept", "offer_id": o["offer_id"]}))
        .await;
    b.expect("conversation_assigned").await;
    let bridge = softphone_dials(&app, "bo", LEG, &id).await;
    assert_eq!(paths(&bridge), ["Response/Dial", "Response/Dial/Queue"]);
    assert_eq!(bridge[1].text, id);
    assert_eq!(
        paths(&softphone_dials(&app, "ann", LEG, &id).await),
        ["Response/Say", "Response/Hangup"]
    );

    // Bo hangs up with the call still his: the call ends (no survey configured).
    assert_eq!(
        paths(&follow(&app, &after, &left).await),
        ["Response/Hangup"]
    );

    // Bo sends it back to the queue while on the line: the caller waits again.
    b.sync().await;
    assert_eq!(
        paths(&softphone_dials(&app, "bo", LEG, &id).await)[0],
        "Response/Dial"
    );
    b.send(json!({"type": "transfer", "conversation_id": id, "queue": "general"}))
        .await;
    b.expect_where("conversation_updated", |m| m["held"] == false)
        .await;
    let again = follow(&app, &after, &left).await;
    assert_eq!(paths(&again), ["Response/Say", "Response/Enqueue"]);
    // A caller who hung up meanwhile is not put anywhere.
    let gone = [
        ("CallSid", call),
        ("From", caller),
        ("QueueResult", "bridged"),
        ("CallStatus", "completed"),
    ];
    assert_eq!(
        paths(&follow(&app, &after, &gone).await),
        ["Response/Hangup"]
    );

    // Ann (idle longest) takes it again and wraps it up: supervisors see the wrap-up.
    let o = a.expect("offer").await;
    a.send(json!({"type": "accept", "offer_id": o["offer_id"]}))
        .await;
    a.expect("conversation_assigned").await;
    app.get_until(
        "/api/v1/supervisor/live",
        "ann talking on the phone again",
        on_call("ann", "talking", id.clone()),
    )
    .await;
    a.send(json!({"type": "wrap_up", "conversation_id": id}))
        .await;
    app.get_until(
        "/api/v1/supervisor/live",
        "ann in the call's wrap-up",
        on_call("ann", "wrap_up", id.clone()),
    )
    .await;
}
