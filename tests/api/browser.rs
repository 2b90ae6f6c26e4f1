//! Browser end-to-end: headless Chromium (Debian's package) driven by playwright-core
//! logs in as an agent, accepts a chat from the customer page and exchanges messages,
//! including markup that must render as text; the customer escalates to video (both
//! pages show the join link, the agent's reply-channel picker follows to `video`) and a
//! reply sent on `chat` with the picker reaches the customer. The script is
//! clients/tests/agent_chat.mjs; this test starts the engine and runs it. The supervisor
//! dashboard has its own script, clients/tests/supervisor.mjs. `.ci/run` installs chromium and
//! playwright-core; without them this test fails and says how to install them.

use crate::helpers::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_and_customer_talk_in_a_real_browser() {
    let app = spawn_app(|_| {}).await;
    app.agent("browser", &["general"], json!({})).await;
    run_browser_script(
        &app,
        "agent_chat.mjs",
        &[
            ("AGENT_ID", "browser"),
            ("AGENT_PASSWORD", "browser-password"),
        ],
        "browser test passed",
    )
    .await;
}

/// The supervisor dashboard (clients/tests/supervisor.mjs): live tiles, agent table and
/// chart follow a load the script runs (REST arrivals, the agent desktop accepting);
/// the flood badge shows the anonymous request refused before it starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_supervisor_dashboard_follows_a_live_load_in_a_real_browser() {
    let app = spawn_app(|s| {
        // One refused callback request is a flood here: the badge must show.
        s.anonymous.callbacks_per_window = 1;
        s.anonymous.flood_alert_per_minute = 1;
    })
    .await;
    // A first reply is due within a second: the waiting customers become overdue and
    // the dashboard lists them (no boost, so they are offered in arrival order).
    app.queue(
        "general",
        json!({"display_name": "General",
               "default_for": ["chat", "sms", "email", "voice", "line", "messenger", "video"],
               "response_times": {"first_ms": 1000, "overdue_boost": 0}}),
    )
    .await;
    app.agent("alice", &["general"], json!({})).await;
    app.agent("sup", &[], json!({"role": "supervisor"})).await;
    let (_visitor, w) = Client::visitor(&app).await;
    for expected in [400, 429] {
        // The budget is taken before the (bad) number is looked at.
        let r = app
            .http
            .post(format!("{}/api/v1/callbacks", app.base))
            .bearer_auth(w["token"].as_str().unwrap())
            .json(&json!({"phone": "not a number"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), expected);
    }
    run_browser_script(
        &app,
        "supervisor.mjs",
        &[
            ("SUPERVISOR_ID", "sup"),
            ("SUPERVISOR_PASSWORD", "sup-password"),
            ("AGENT_ID", "alice"),
            ("AGENT_PASSWORD", "alice-password"),
        ],
        "supervisor browser test passed",
    )
    .await;
}

/// Runs `clients/tests/<script>` against `app` with the agent's login; asserts it passed.
async fn run_assist_script(app: &TestApp, script: &str, agent: &str, passed: &str) {
    let password = format!("{agent}-password");
    run_browser_script(
        app,
        script,
        &[("AGENT_ID", agent), ("AGENT_PASSWORD", &password)],
        passed,
    )
    .await;
}

/// The agent desktop's assist panel (clients/tests/agent_assist.mjs): CRM attributes and
/// orders from a fake CRM, a canned response picked with `/greet` and rendered with the
/// customer's name, an internal note the customer's socket never receives, Japanese.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_assist_panel_shows_crm_canned_responses_and_notes_in_a_real_browser() {
    let crm = crate::recorder::Recorder::start().await;
    let url = format!("{}/crm/customers/{{customer_id}}", crm.base);
    let app = spawn_app(move |s| s.crm.url = Some(url)).await;
    app.agent("assist", &["general"], json!({})).await;
    for body in [
        json!({"id": "greet", "title": "Greeting", "language": "en", "shortcut": "greet",
            "text": "Hello {{customer.name}}, this is {{agent.name}}."}),
        json!({"id": "sorry-ja", "title": "お詫び", "language": "ja", "shortcut": "owabi",
            "text": "{{customer.name}}様、ご不便をおかけして申し訳ございません。"}),
    ] {
        let (s, v) = app.post("/api/v1/canned", body).await;
        assert_eq!(s, 201, "{v}");
    }
    run_assist_script(
        &app,
        "agent_assist.mjs",
        "assist",
        "assist browser test passed",
    )
    .await;
}

/// The knowledge-base half of the assist panel (clients/tests/agent_assist_kb.mjs):
/// suggestions, search, insert, an agent's article draft a supervisor publishes and an
/// edit conflict, against the real knowledge base (`/api/v1/kb/*`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_assist_panel_uses_the_knowledge_base_in_a_real_browser() {
    let app = spawn_app(|_| {}).await;
    app.agent("assist", &["general"], json!({})).await;
    run_assist_script(
        &app,
        "agent_assist_kb.mjs",
        "assist",
        "assist kb browser test passed",
    )
    .await;
}

/// "Write first…" on the desktop (clients/tests/write_first.mjs): the agent starts an
/// SMS conversation with a customer they served; what reaches Twilio is the message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_writes_first_from_the_desktop_in_a_real_browser() {
    let rec = crate::recorder::Recorder::start().await;
    let app = spawn_app(|s| crate::channels::channels_on(s, &rec)).await;
    let wes = app.agent("wes", &["general"], json!({})).await;
    {
        let mut agent = Client::available(&app, &wes).await;
        let (s, _) =
            crate::channels::sms_in(&app, "SM700", "+819012345000", "在庫ありますか").await;
        assert_eq!(s, 200);
        let conv = accept_next(&mut agent).await;
        resolve(&mut agent, &conv).await;
        agent.close().await;
    }
    run_browser_script(
        &app,
        "write_first.mjs",
        &[("AGENT_ID", "wes"), ("AGENT_PASSWORD", "wes-password")],
        "write first browser test passed",
    )
    .await;
    let sent = rec
        .wait_for("/2010-04-01/Accounts/AC0123456789abcdef/Messages.json", 1)
        .await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].form()["To"], "+819012345000");
    assert_eq!(sent[0].form()["Body"], "ご注文の商品が入荷しました。");
}
