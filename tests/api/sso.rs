//! Staff single sign-on against a real OpenID provider: panva's `oidc-provider` (from
//! npm) run by clients/tests/oidc_provider.mjs on a local port, with the engine's
//! `[oidc]` pointing at it and password sign-in off. Over plain HTTP: which sign-ins
//! are open, the password login refused, the redirect to the provider (code flow, PKCE
//! S256, state, nonce, the sealed HttpOnly cookie), a callback without the sign-in in
//! flight or with a forged cookie refused. In Chromium (clients/tests/sso.mjs): agent
//! and supervisor sign in through the provider's pages; a user in no mapped group, a
//! user without an account, and ID tokens altered five ways (payload under the old
//! signature, audience, expiry, nonce, unpublished key) are refused; a signing-key
//! rotation is followed. Afterwards the refusals are counted by reason and the
//! sign-ins are in the audit log.

use crate::helpers::*;
use crate::process::free_port;
use serde_json::{json, Value};
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};

const CLIENT_ID: &str = "switchboard-staff";
const CLIENT_SECRET: &str = "a client secret for the test";

/// The provider process, stopped when dropped.
struct Provider {
    url: String,
    _child: tokio::process::Child,
}

/// Starts clients/tests/oidc_provider.mjs for an engine calling back at `engine_port`
/// and waits until it listens.
async fn provider(engine_port: u16) -> Provider {
    let port = free_port();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        root.join("clients/node_modules/oidc-provider").exists(),
        "oidc-provider is not installed: run `npm ci --prefix clients` (scripts/test.sh does this)"
    );
    let accounts = json!({
        "alice": {"groups": ["cc-agents", "staff"]},
        "sam": {"groups": ["cc-leads"]},
        "eve": {"groups": ["staff"]},
        "ghost": {"groups": ["cc-agents"]},
    });
    let mut child = tokio::process::Command::new("node")
        .arg(root.join("clients/tests/oidc_provider.mjs"))
        .env("OIDC_PORT", port.to_string())
        .env("OIDC_CLIENT_ID", CLIENT_ID)
        .env("OIDC_CLIENT_SECRET", CLIENT_SECRET)
        .env(
            "OIDC_REDIRECT",
            format!("http://127.0.0.1:{engine_port}/api/v1/oidc/callback"),
        )
        .env("OIDC_ACCOUNTS", accounts.to_string())
        .current_dir(root)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(url) = line.strip_prefix("oidc provider ready at ") {
                return url.to_string();
            }
        }
        panic!("the provider exited before it was ready");
    })
    .await
    .expect("the provider starts within 30 s");
    // Its later lines (alterations, rotation) are echoed for `--nocapture`.
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            println!("provider: {line}");
        }
    });
    Provider { url, _child: child }
}

/// The value of the sample `name{labels}`, 0 when absent.
async fn sample(app: &TestApp, series: &str) -> f64 {
    metrics_text(&app.http, &app.base)
        .await
        .lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_sign_in_with_a_real_openid_provider() {
    let port = free_port();
    let idp = provider(port).await;
    let issuer = idp.url.clone();
    let app = spawn_app(move |s| {
        s.listen = format!("127.0.0.1:{port}").parse().unwrap();
        let o = &mut s.oidc;
        o.enabled = true;
        o.issuer = issuer;
        o.client_id = CLIENT_ID.into();
        o.client_secret = Some(CLIENT_SECRET.into());
        o.redirect_url = format!("http://127.0.0.1:{port}/api/v1/oidc/callback");
        o.allow_http = true;
        o.password_login = false;
        o.label = "Company SSO".into();
        o.jwks_min_refresh_ms = 0;
        o.roles = [
            ("cc-agents".to_string(), switchboard::domain::Role::Agent),
            (
                "cc-leads".to_string(),
                switchboard::domain::Role::Supervisor,
            ),
        ]
        .into();
    })
    .await;
    for (id, role) in [("alice", "agent"), ("sam", "agent"), ("eve", "agent")] {
        let (st, v) = app
            .put(
                &format!("/api/v1/agents/{id}"),
                json!({"display_name": id, "password": format!("{id}-password"),
                       "role": role, "queues": ["general"]}),
            )
            .await;
        assert_eq!(st, 200, "{v}");
    }

    // Which sign-ins are open; the password door is shut, even for a real password.
    let methods: Value = app
        .http
        .get(format!("{}/api/v1/auth/methods", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        methods,
        json!({"password": false, "sso": {"label": "Company SSO", "login_url": "/api/v1/oidc/login"}})
    );
    let r = app
        .http
        .post(format!("{}/api/v1/login", app.base))
        .json(&json!({"agent_id": "alice", "password": "alice-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "forbidden");

    // The redirect to the provider: code flow, PKCE S256, the sealed cookie.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http
        .get(format!("{}/api/v1/oidc/login?client=supervisor", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302, "{:?}", r.text().await);
    let to = reqwest::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    assert!(to.as_str().starts_with(&idp.url), "{to}");
    let q: std::collections::HashMap<_, _> = to.query_pairs().into_owned().collect();
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"].len(), 43);
    assert_eq!(
        q["redirect_uri"],
        format!("http://127.0.0.1:{port}/api/v1/oidc/callback")
    );
    assert!(q["scope"].split(' ').any(|s| s == "openid"), "{q:?}");
    assert!(q["state"].len() >= 32 && q["nonce"].len() >= 32, "{q:?}");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    for attr in ["sb_oidc=", "HttpOnly", "SameSite=Lax", "Path=/api/v1/oidc"] {
        assert!(cookie.contains(attr), "{attr} missing from {cookie}");
    }
    let sealed = cookie
        .trim_start_matches("sb_oidc=")
        .split(';')
        .next()
        .unwrap()
        .to_string();

    // The callback needs the sign-in in flight: no cookie, another state, a forged
    // cookie, and the provider's error each go back with a reason.
    let callback = |query: String, cookie: Option<String>| {
        let mut req = http.get(format!("{}/api/v1/oidc/callback?{query}", app.base));
        if let Some(c) = cookie {
            req = req.header("cookie", format!("sb_oidc={c}"));
        }
        async move {
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 302);
            r.headers()["location"].to_str().unwrap().to_string()
        }
    };
    let state = q["state"].clone();
    assert_eq!(
        callback(format!("code=x&state={state}"), None).await,
        "/agent/#sso_error=state"
    );
    assert_eq!(
        callback("code=x&state=another".into(), Some(sealed.clone())).await,
        "/supervisor/#sso_error=state"
    );
    let (payload, mac) = sealed.split_once('.').unwrap();
    // The MAC's last character changed (to another one: a fixed replacement would
    // leave it as it was one time in 64).
    let last = if mac.ends_with('A') { 'B' } else { 'A' };
    let forged = format!("{payload}.{}{last}", &mac[..mac.len() - 1]);
    assert_eq!(
        callback(format!("code=x&state={state}"), Some(forged)).await,
        "/agent/#sso_error=state"
    );
    assert_eq!(
        callback(
            format!("error=access_denied&state={state}"),
            Some(sealed.clone())
        )
        .await,
        "/supervisor/#sso_error=provider_denied"
    );
    // A provider naming another issuer (RFC 9207) is refused before its code is used.
    assert_eq!(
        callback(
            format!("code=x&state={state}&iss=https://evil.example"),
            Some(sealed.clone())
        )
        .await,
        "/supervisor/#sso_error=issuer"
    );

    // The browser, through the provider's own pages.
    run_browser_script(
        &app,
        "sso.mjs",
        &[("OIDC_URL", idp.url.as_str())],
        "sso browser test passed",
    )
    .await;

    let count = |outcome: &'static str| {
        let app = &app;
        async move {
            sample(
                app,
                &format!("switchboard_sso_logins_total{{outcome=\"{outcome}\"}}"),
            )
            .await
        }
    };
    for (outcome, n) in [
        ("ok", 3.0),
        ("no_role", 1.0),
        ("unknown_agent", 1.0),
        ("bad_signature", 1.0),
        ("audience", 1.0),
        ("expired", 1.0),
        ("nonce", 1.0),
        ("unknown_key", 1.0),
        ("state", 3.0),
        ("provider_denied", 1.0),
        ("issuer", 1.0),
    ] {
        assert_eq!(count(outcome).await, n, "outcome {outcome}");
    }

    // Each sign-in is audited with its method, the provider and the role it mapped to
    // (sam's account says agent; the IdP's group makes him a supervisor).
    let (st, log) = app.get("/api/v1/audit?action=login&limit=50").await;
    assert_eq!(st, 200, "{log}");
    let entries: Vec<(String, String)> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "login")
        .map(|e| {
            assert_eq!(e["detail"]["method"], "oidc", "{e}");
            assert_eq!(e["detail"]["issuer"], idp.url.as_str(), "{e}");
            (
                e["actor"].as_str().unwrap().to_string(),
                e["detail"]["role"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut sorted = entries.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            ("alice".to_string(), "agent".to_string()),
            ("alice".into(), "agent".into()),
            ("sam".into(), "supervisor".into()),
        ],
        "{log}"
    );
}

/// A provider that fails: the sign-in goes back with `provider_unavailable`, the
/// provider is left alone for `retry_failed_ms` after the failure, and the address's
/// single sign-on budget runs out into 429 with `Retry-After`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_provider_is_left_alone_and_the_door_is_budgeted() {
    // The "provider": answers every connection with a 500, counting them.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = connections.clone();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = listener.accept().await {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let _ = s
                .write_all(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .await;
        }
    });
    let app = spawn_app(move |s| {
        s.anonymous.sso_requests_per_window = 3;
        let o = &mut s.oidc;
        o.enabled = true;
        o.issuer = format!("http://{addr}");
        o.client_id = CLIENT_ID.into();
        o.redirect_url = "http://127.0.0.1:9/api/v1/oidc/callback".into();
        o.allow_http = true;
        o.retry_failed_ms = 600_000;
        o.roles = [("cc-agents".to_string(), switchboard::domain::Role::Agent)].into();
    })
    .await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = || http.get(format!("{}/api/v1/oidc/login", app.base)).send();
    for _ in 0..3 {
        let r = login().await.unwrap();
        assert_eq!(r.status(), 302);
        assert_eq!(
            r.headers()["location"],
            "/agent/#sso_error=provider_unavailable"
        );
        assert!(
            r.headers()
                .get("set-cookie")
                .is_some_and(|c| c.to_str().unwrap().contains("Max-Age=0")),
            "the refusal clears the cookie"
        );
    }
    assert_eq!(
        connections.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "after the first failure the provider is left alone"
    );
    let r = login().await.unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "rate_limited");
    assert_eq!(
        sample(
            &app,
            "switchboard_sso_logins_total{outcome=\"provider_unavailable\"}"
        )
        .await,
        3.0
    );
    // Password sign-in stays open (`password_login` defaults to true).
    let (st, methods) = app.get("/api/v1/auth/methods").await;
    assert_eq!(st, 200);
    assert_eq!(methods["password"], true);
}
