//! Connector settings edited live (docs/channels.md "Editing connector settings"):
//! secrets are never answered, only set; switching a connector on or off is refused;
//! a rotated Twilio token is in force for the very next webhook (the old signature
//! refused, the new accepted) without a restart, and after one; a stale edit is 409.

use crate::channels::{channels_on, twilio_post, twilio_sign_with, PUBLIC, TWILIO_TOKEN};
use crate::helpers::*;
use crate::recorder::Recorder;
use serde_json::json;

const ROTATED: &str = "rotated-token-0123456789";

async fn sms(app: &TestApp, sid: &str, token: &str) -> u16 {
    let params = [
        ("MessageSid", sid),
        ("AccountSid", "AC0123456789abcdef"),
        ("From", "+819011112222"),
        ("To", "+15005550006"),
        ("Body", "hello"),
        ("NumMedia", "0"),
    ];
    let path = "/webhooks/twilio/sms";
    let sig = twilio_sign_with(token, &format!("{PUBLIC}{path}"), &params);
    twilio_post(app, path, &params, Some(&sig)).await.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_token_is_in_force_at_once_and_never_shown() {
    let rec = Recorder::start().await;
    let app = spawn_app(|s| channels_on(s, &rec)).await;
    let (st, v) = app.get("/api/v1/connectors").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["version"], 0);
    assert_eq!(v["settings"]["sms"]["auth_token"]["set"], true, "{v}");
    assert!(
        !v.to_string().contains(TWILIO_TOKEN),
        "a secret was answered: {v}"
    );

    let (st, v) = app
        .put(
            "/api/v1/connectors",
            json!({"version": 0, "settings": {"sms": {"enabled": false}}}),
        )
        .await;
    assert_eq!(st, 400, "{v}");
    assert!(v["fields"]["sms.enabled"].is_string(), "{v}");
    let (st, v) = app
        .put(
            "/api/v1/connectors",
            json!({"version": 0, "settings": {"sms": {"from_number": 5}}}),
        )
        .await;
    assert_eq!(st, 400, "{v}");
    assert_eq!(sms(&app, "SM1", TWILIO_TOKEN).await, 200, "nothing changed");

    let (st, v) = app
        .put(
            "/api/v1/connectors",
            json!({"version": 0, "settings": {"sms": {"auth_token": ROTATED}, "voice": {"auth_token": null}}}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["version"], 1);
    assert_eq!(v["settings"]["sms"]["auth_token"]["hint"], "…6789");
    assert!(!v.to_string().contains(ROTATED), "{v}");
    assert_eq!(
        sms(&app, "SM2", TWILIO_TOKEN).await,
        401,
        "the old token is refused"
    );
    assert_eq!(
        sms(&app, "SM3", ROTATED).await,
        200,
        "the new one is in force"
    );

    let (st, v) = app
        .put("/api/v1/connectors", json!({"version": 0, "settings": {}}))
        .await;
    assert_eq!((st, v["code"].as_str()), (409, Some("conflict")), "{v}");

    let dir = app.stop();
    let app = spawn_app_in(dir, |s| channels_on(s, &rec)).await;
    assert_eq!(app.get("/api/v1/connectors").await.1["version"], 1);
    assert_eq!(
        sms(&app, "SM4", TWILIO_TOKEN).await,
        401,
        "after a restart too"
    );
    assert_eq!(sms(&app, "SM5", ROTATED).await, 200);
}

/// The console's Connectors section (clients/tests/admin_connectors.mjs) shows the
/// settings file's SMS token as set and never its value, refuses what cannot be saved,
/// then rotates the token and changes the number; the engine has them at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_rotates_a_token_in_a_real_browser() {
    let rec = Recorder::start().await;
    let app = spawn_app(|s| channels_on(s, &rec)).await;
    run_browser_script(
        &app,
        "admin_connectors.mjs",
        &[
            ("ADMIN_ID", "admin"),
            ("ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("TWILIO_TOKEN", TWILIO_TOKEN),
        ],
        "admin connectors browser test passed",
    )
    .await;
    let (st, v) = app.get("/api/v1/connectors").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["version"], 1, "{v}");
    assert_eq!(v["saved_by"], "admin", "{v}");
    assert_eq!(v["settings"]["sms"]["from_number"], "+15005550007", "{v}");
    assert_eq!(v["settings"]["sms"]["auth_token"]["hint"], "…6789", "{v}");
    assert_eq!(
        v["settings"]["media"]["hosts"][0], "api.twilio.com",
        "the refused list was not saved: {v}"
    );
    assert!(
        !v.to_string().contains(ROTATED),
        "a secret was answered: {v}"
    );
    assert_eq!(
        sms(&app, "SM1", TWILIO_TOKEN).await,
        401,
        "the old token is refused"
    );
    assert_eq!(
        sms(&app, "SM2", ROTATED).await,
        200,
        "the rotated token is in force"
    );
}
