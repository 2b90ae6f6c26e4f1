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
use std::path::Path;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_and_customer_talk_in_a_real_browser() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("clients/tests/agent_chat.mjs");
    assert!(
        root.join("clients/node_modules/playwright-core").exists(),
        "playwright-core is not installed: run `npm ci --prefix clients` (scripts/test.sh does this)"
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} missing: `apt-get install chromium` (scripts/test.sh does this)"
    );

    let app = spawn_app(|_| {}).await;
    app.agent("browser", &["general"], json!({})).await;
    let out = tokio::process::Command::new("node")
        .arg(&script)
        .env("SWITCHBOARD_URL", &app.base)
        .env("AGENT_ID", "browser")
        .env("AGENT_PASSWORD", "browser-password")
        .env("CHROMIUM", &chromium)
        .current_dir(root)
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The steps it went through (seen with `-- --nocapture`).
    print!("{stdout}");
    assert!(
        out.status.success(),
        "browser test failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("browser test passed"), "{stdout}");
}

/// The supervisor dashboard (clients/tests/supervisor.mjs): live tiles, agent table and
/// chart follow a load the script runs (REST arrivals, the agent desktop accepting).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_supervisor_dashboard_follows_a_live_load_in_a_real_browser() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("clients/tests/supervisor.mjs");
    assert!(
        root.join("clients/node_modules/playwright-core").exists(),
        "playwright-core is not installed: run `npm ci --prefix clients` (scripts/test.sh does this)"
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} missing: `apt-get install chromium` (scripts/test.sh does this)"
    );

    let app = spawn_app(|_| {}).await;
    app.agent("alice", &["general"], json!({})).await;
    app.agent("sup", &[], json!({"role": "supervisor"})).await;
    let out = tokio::process::Command::new("node")
        .arg(&script)
        .env("SWITCHBOARD_URL", &app.base)
        .env("SUPERVISOR_ID", "sup")
        .env("SUPERVISOR_PASSWORD", "sup-password")
        .env("AGENT_ID", "alice")
        .env("AGENT_PASSWORD", "alice-password")
        .env("ADMIN_TOKEN", &app.admin)
        .env("CHROMIUM", &chromium)
        .current_dir(root)
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    print!("{stdout}");
    assert!(
        out.status.success(),
        "supervisor browser test failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains("supervisor browser test passed"),
        "{stdout}"
    );
}

/// Runs `clients/tests/<script>` against `app` with the agent's login; asserts it passed.
async fn run_assist_script(app: &TestApp, script: &str, agent: &str, passed: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        root.join("clients/node_modules/playwright-core").exists(),
        "playwright-core is not installed: run `npm ci --prefix clients` (scripts/test.sh does this)"
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} missing: `apt-get install chromium` (scripts/test.sh does this)"
    );
    let out = tokio::process::Command::new("node")
        .arg(root.join("clients/tests").join(script))
        .env("SWITCHBOARD_URL", &app.base)
        .env("AGENT_ID", agent)
        .env("AGENT_PASSWORD", format!("{agent}-password"))
        .env("ADMIN_TOKEN", &app.admin)
        .env("CHROMIUM", &chromium)
        .current_dir(root)
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    print!("{stdout}");
    assert!(
        out.status.success(),
        "{script} failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains(passed), "{stdout}");
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
/// suggestions, search, insert, article create and an edit conflict, against the
/// real knowledge base (`/api/v1/kb/*`).
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
