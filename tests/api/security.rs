//! Security promises, each a test over real sockets: every REST route and websocket
//! checks token, role and ownership (401 vs 403 matrix); revocation (logout, disabled
//! agent, role change) and expiry close open sockets; logins are throttled per account
//! and address and per IP (429 + Retry-After; the account is never locked, many
//! failures raise an alarm), and an unknown id costs the same password check; browser
//! origins outside the allow-list are refused at the handshake; idle sockets and persistent floods are closed with their codes;
//! visitor tokens are bound to one customer and ids cannot be guessed; replayed
//! provider webhooks are dropped; logs carry no message bodies or tokens.

use crate::channels::{channels_on, fb_post, fb_text, line_post};
use crate::helpers::*;
use crate::recorder::Recorder;
use base64::Engine as _;
use serde_json::{json, Value};
use switchboard::domain::time::ManualClock;
use switchboard::domain::Millis;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite;

/// `method path` with an optional bearer token and JSON body: (status, body).
async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    body: Option<&Value>,
    token: Option<&str>,
) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut r = app.http.request(method, format!("{}{}", app.base, path));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    if let Some(b) = body {
        r = r.json(b);
    }
    let resp = r.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// The HTTP status a websocket handshake was refused with (panics if it upgraded).
async fn ws_refused(url: &str, origin: Option<&str>) -> u16 {
    use tungstenite::client::IntoClientRequest;
    let mut req = url.into_client_request().unwrap();
    if let Some(o) = origin {
        req.headers_mut().insert("Origin", o.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Err(tungstenite::Error::Http(r)) => r.status().as_u16(),
        Err(e) => panic!("{url}: unexpected error {e:?}"),
        Ok(_) => panic!("{url}: upgraded, expected a refusal"),
    }
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    /// Any staff token.
    Staff,
    /// Supervisors, admins, and the agent who holds or held the conversation.
    Owner,
    /// The agent itself, supervisors, admins.
    SelfOrSupervisor,
    Supervisor,
    Admin,
}

/// Waits for the server's close frame; returns (code, reason).
async fn close_of(c: &mut Client) -> (u16, String) {
    let f = c.closed().await.expect("a close frame");
    (u16::from(f.code), f.reason.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_checks_token_role_and_ownership() {
    let clock = ManualClock::new(Millis(1_800_000_000_000));
    let app =
        spawn_app_with_clock(|s| s.timing.agent_token_ttl_ms = 3_600_000, clock.clone()).await;
    app.agent("alice", &["general"], json!({})).await;
    app.agent("bob", &["general"], json!({})).await;
    app.agent("sue", &["general"], json!({"role": "supervisor"}))
        .await;
    app.agent("rev", &["general"], json!({})).await;
    // A token that will have expired, and one revoked by logging out.
    let stale = app.login("bob", "bob-password").await;
    clock.advance_ms(40 * 60_000);
    let alice = app.login("alice", "alice-password").await;
    let bob = app.login("bob", "bob-password").await;
    let sue = app.login("sue", "sue-password").await;
    let admin = app.login("admin", ADMIN_PASSWORD).await;
    let revoked = app.login("rev", "rev-password").await;
    assert_eq!(
        call(&app, "POST", "/api/v1/logout", None, Some(&revoked))
            .await
            .0,
        204
    );
    clock.advance_ms(30 * 60_000);
    assert_eq!(
        call(&app, "GET", "/api/v1/queues", None, Some(&stale))
            .await
            .1["message"],
        "token expired"
    );

    // Alice serves a visitor: her conversation and customer.
    let mut a = Client::available(&app, &alice).await;
    let (mut chat, welcome) = Client::visitor(&app).await;
    let visitor = welcome["token"].as_str().unwrap().to_owned();
    chat_say(&mut chat, "hello").await;
    let conv = accept_next(&mut a).await;
    let c = conv["id"].as_str().unwrap().to_owned();
    let k = welcome["customer_id"].as_str().unwrap().to_owned();
    let (_, cust) = call(
        &app,
        "GET",
        &format!("/api/v1/customers/{k}"),
        None,
        Some(&admin),
    )
    .await;
    let address = cust["identities"][0]["address"]
        .as_str()
        .unwrap()
        .to_owned();
    let nobody = uuid::Uuid::new_v4();

    use Who::*;
    let routes: Vec<(&str, String, Option<Value>, Who)> = vec![
        ("GET", "/api/v1/queues".into(), None, Staff),
        ("GET", "/api/v1/queues/general".into(), None, Staff),
        (
            "GET",
            format!("/api/v1/customers?channel=chat&address={address}"),
            None,
            Owner,
        ),
        ("GET", format!("/api/v1/customers/{k}"), None, Owner),
        (
            "GET",
            format!("/api/v1/customers/{k}/timeline"),
            None,
            Owner,
        ),
        (
            "GET",
            format!("/api/v1/customers/{k}/conversations"),
            None,
            Owner,
        ),
        (
            "POST",
            format!("/api/v1/customers/{k}/identities"),
            Some(json!({"channel": "nope", "address": "x"})),
            Owner,
        ),
        (
            "POST",
            format!("/api/v1/customers/{k}/merge"),
            Some(json!({"other": k})),
            Owner,
        ),
        (
            "POST",
            format!("/api/v1/customers/{k}/unmerge"),
            Some(json!({"other": k})),
            Owner,
        ),
        ("GET", format!("/api/v1/conversations/{c}"), None, Owner),
        (
            "GET",
            format!("/api/v1/conversations/{c}/trace"),
            None,
            Owner,
        ),
        ("GET", "/api/v1/agents/alice".into(), None, SelfOrSupervisor),
        ("GET", "/api/v1/agents".into(), None, Supervisor),
        (
            "POST",
            "/api/v1/inbound".into(),
            Some(json!({"channel": "nope", "address": "x", "text": "t"})),
            Supervisor,
        ),
        (
            "POST",
            "/api/v1/customers".into(),
            Some(json!({"identities": []})),
            Supervisor,
        ),
        (
            "DELETE",
            format!("/api/v1/customers/{k}/identities/sms/%2B819000000001"),
            None,
            Supervisor,
        ),
        (
            "PUT",
            "/api/v1/queues/general".into(),
            Some(json!({"offer_timeout_ms": 1})),
            Admin,
        ),
        (
            "PUT",
            "/api/v1/agents/zed".into(),
            Some(json!({"display_name": "", "role": "agent"})),
            Admin,
        ),
        (
            "GET",
            format!("/api/v1/customers/{nobody}/export"),
            None,
            Admin,
        ),
        (
            "POST",
            format!("/api/v1/customers/{nobody}/erase"),
            None,
            Admin,
        ),
        ("GET", "/api/v1/audit".into(), None, Admin),
        (
            "GET",
            "/api/v1/reports?from=0&to=3600000&interval=hour&group=queue".into(),
            None,
            Supervisor,
        ),
        (
            "GET",
            "/api/v1/reports/funnel?from=0&to=3600000".into(),
            None,
            Supervisor,
        ),
        (
            "POST",
            "/api/v1/simulations".into(),
            Some(json!({"queue": "general", "from": 0, "to": 3_600_000})),
            Supervisor,
        ),
        ("GET", "/api/v1/supervisor/live".into(), None, Supervisor),
        (
            "GET",
            "/api/v1/supervisor/subscribers".into(),
            None,
            Supervisor,
        ),
        (
            "POST",
            "/api/v1/supervisor/agents/zed/status".into(),
            Some(json!({"status": "away"})),
            Supervisor,
        ),
        (
            "PUT",
            "/api/v1/supervisor/agents/zed/queues".into(),
            Some(json!({"queues": ["general"]})),
            Supervisor,
        ),
        (
            "PATCH",
            "/api/v1/supervisor/agents/zed/skills".into(),
            Some(json!({"skills": {"difficulty": 2}})),
            Supervisor,
        ),
        (
            "PATCH",
            "/api/v1/supervisor/queues/general".into(),
            Some(json!({})),
            Supervisor,
        ),
        // Self-service and assist (issue 4).
        ("GET", "/api/v1/kb/articles".into(), None, Staff),
        (
            "POST",
            "/api/v1/kb/articles".into(),
            Some(json!({"title": "t", "body": "b", "language": "en"})),
            Staff,
        ),
        ("GET", "/api/v1/kb/search?q=returns".into(), None, Staff),
        (
            "GET",
            format!("/api/v1/kb/suggest?conversation={c}"),
            None,
            Owner,
        ),
        (
            "DELETE",
            format!("/api/v1/kb/articles/{nobody}"),
            None,
            Supervisor,
        ),
        ("GET", "/api/v1/kb/drafts".into(), None, Supervisor),
        (
            "POST",
            format!("/api/v1/kb/drafts/{nobody}/publish"),
            None,
            Supervisor,
        ),
        (
            "DELETE",
            format!("/api/v1/kb/drafts/{nobody}"),
            None,
            Supervisor,
        ),
        ("GET", "/api/v1/canned".into(), None, Staff),
        (
            "POST",
            "/api/v1/canned".into(),
            Some(json!({"title": "t", "text": "x", "language": "en"})),
            Supervisor,
        ),
        ("GET", format!("/api/v1/customers/{k}/crm"), None, Owner),
        (
            "GET",
            format!("/api/v1/conversations/{c}/survey"),
            None,
            Owner,
        ),
        (
            "POST",
            "/api/v1/events".into(),
            Some(json!({"type": "no.such.rule", "customer": {"id": k}})),
            Supervisor,
        ),
        ("GET", "/api/v1/notification-rules".into(), None, Supervisor),
        (
            "GET",
            format!("/api/v1/notifications/{nobody}"),
            None,
            Supervisor,
        ),
    ];
    for (method, path, body, who) in &routes {
        let body = body.as_ref();
        // Not authenticated: 401 `unauthorized`, whatever the role would have been.
        for (what, token) in [
            ("no token", None),
            ("garbage", Some("garbage")),
            ("expired", Some(stale.as_str())),
            ("revoked", Some(revoked.as_str())),
            ("visitor", Some(visitor.as_str())),
        ] {
            let (s, v) = call(&app, method, path, body, token).await;
            assert_eq!(s, 401, "{method} {path} with {what}: {v}");
            assert_eq!(v["code"], "unauthorized", "{method} {path} with {what}");
        }
        let (denied, allowed): (Vec<&str>, Vec<&str>) = match who {
            Staff => (vec![], vec![&alice, &bob, &sue, &admin]),
            Owner => (vec![&bob], vec![&alice, &sue, &admin]),
            SelfOrSupervisor => (vec![&bob], vec![&alice, &sue, &admin]),
            Supervisor => (vec![&alice, &bob], vec![&sue, &admin]),
            Admin => (vec![&alice, &bob, &sue], vec![&admin]),
        };
        for t in denied {
            let (s, v) = call(&app, method, path, body, Some(t)).await;
            assert_eq!(s, 403, "{method} {path} ({who:?}) must be refused: {v}");
            assert_eq!(v["code"], "forbidden", "{method} {path}");
        }
        for t in allowed {
            let (s, v) = call(&app, method, path, body, Some(t)).await;
            assert!(
                s != 401 && s != 403,
                "{method} {path} ({who:?}) must pass the access check: {s} {v}"
            );
        }
    }
    // Logout needs a valid token too.
    for token in [
        None,
        Some("garbage"),
        Some(stale.as_str()),
        Some(revoked.as_str()),
    ] {
        assert_eq!(
            call(&app, "POST", "/api/v1/logout", None, token).await.0,
            401
        );
    }
    // Websockets: the handshake checks the token before any upgrade.
    for token in ["", "garbage", &stale, &revoked, &visitor] {
        let url = app.ws_url(&format!("/ws/agent?token={token}"));
        assert_eq!(
            ws_refused(&url, None).await,
            401,
            "/ws/agent with {token:?}"
        );
    }
    for token in ["", "garbage", &stale, &revoked, &visitor] {
        let url = app.ws_url(&format!("/ws/supervisor?token={token}"));
        assert_eq!(
            ws_refused(&url, None).await,
            401,
            "/ws/supervisor with {token:?}"
        );
    }
    for token in [&alice, &bob] {
        let url = app.ws_url(&format!("/ws/supervisor?token={token}"));
        assert_eq!(ws_refused(&url, None).await, 403, "/ws/supervisor, agent");
    }
    for token in ["garbage", &alice, &admin] {
        let url = app.ws_url(&format!("/ws/chat?token={token}"));
        assert_eq!(
            ws_refused(&url, None).await,
            401,
            "/ws/chat with a staff token"
        );
    }
    // Over the agent socket, too, another agent's customer is refused.
    let mut b = Client::agent(&app, &bob).await;
    b.send(json!({"type": "history", "customer_id": k})).await;
    assert_eq!(b.expect("error").await["code"], "forbidden");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_disabling_and_role_change_revoke_tokens_and_close_sockets() {
    let app = spawn_app(|_| {}).await;
    let t = app.agent("carl", &["general"], json!({})).await;
    let mut tab1 = Client::agent(&app, &t).await;
    let mut tab2 = Client::agent(&app, &t).await;
    assert_eq!(
        call(&app, "POST", "/api/v1/logout", None, Some(&t)).await.0,
        204
    );
    // Both sockets close with 4001 at once: waited on the close frame itself.
    assert_eq!(close_of(&mut tab1).await, (4001, "logged out".into()));
    assert_eq!(close_of(&mut tab2).await, (4001, "logged out".into()));
    let (s, v) = call(&app, "GET", "/api/v1/queues", None, Some(&t)).await;
    assert_eq!((s, v["message"].as_str()), (401, Some("token revoked")));
    // A supervisor's live-metrics socket is a staff socket like any other.
    let st = app.agent("suki", &[], json!({"role": "supervisor"})).await;
    let mut live = Supervisor::connect(&app, &st, "").await;
    assert_eq!(
        call(&app, "POST", "/api/v1/logout", None, Some(&st))
            .await
            .0,
        204
    );
    assert_eq!(close_of(&mut live.c).await, (4001, "logged out".into()));
    let url = app.ws_url(&format!("/ws/agent?token={t}"));
    assert_eq!(ws_refused(&url, None).await, 401);

    // A new login works; disabling the agent closes its socket and refuses logins.
    let t2 = app.login("carl", "carl-password").await;
    let mut tab = Client::agent(&app, &t2).await;
    let (s, _) = app
        .put(
            "/api/v1/agents/carl",
            json!({"display_name": "Carl", "role": "agent", "queues": ["general"], "disabled": true}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(close_of(&mut tab).await, (4001, "agent disabled".into()));
    assert_eq!(
        call(&app, "GET", "/api/v1/queues", None, Some(&t2)).await.0,
        401
    );
    let (s, _) = call(
        &app,
        "POST",
        "/api/v1/login",
        Some(&json!({"agent_id": "carl", "password": "carl-password"})),
        None,
    )
    .await;
    assert_eq!(s, 401);

    // A role change revokes the tokens that carry the old role.
    let t3 = app.agent("dora", &["general"], json!({})).await;
    let mut d = Client::agent(&app, &t3).await;
    let (s, _) = app
        .put(
            "/api/v1/agents/dora",
            json!({"display_name": "Dora", "role": "supervisor", "queues": ["general"]}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(close_of(&mut d).await, (4001, "role changed".into()));
    assert_eq!(
        call(&app, "GET", "/api/v1/agents", None, Some(&t3)).await.0,
        401
    );
    let t4 = app.login("dora", "dora-password").await;
    assert_eq!(
        call(&app, "GET", "/api/v1/agents", None, Some(&t4)).await.0,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expiring_token_closes_its_socket() {
    let clock = ManualClock::new(Millis(1_800_000_000_000));
    let app = spawn_app_with_clock(
        |s| {
            s.timing.agent_token_ttl_ms = 60_000;
            s.timing.heartbeat_ms = 50;
        },
        clock.clone(),
    )
    .await;
    let t = app.agent("exp", &["general"], json!({})).await;
    let mut c = Client::agent(&app, &t).await;
    c.sync().await;
    clock.advance_ms(60_001);
    assert_eq!(close_of(&mut c).await, (4002, "token expired".into()));
}

/// A client whose connections come from `127.0.0.{last}` (loopback 127/8 on Linux).
fn client_from(last: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, last]))
        .build()
        .unwrap()
}

/// `POST /api/v1/login` from `http`: (status, Retry-After, body).
async fn login_from(
    app: &TestApp,
    http: &reqwest::Client,
    id: &str,
    pw: &str,
) -> (u16, Option<String>, Value) {
    let r = http
        .post(format!("{}/api/v1/login", app.base))
        .json(&json!({"agent_id": id, "password": pw}))
        .send()
        .await
        .unwrap();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap();
    (status, retry, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_are_throttled_per_account_and_address_and_per_ip() {
    let clock = ManualClock::new(Millis(1_800_000_000_000));
    let app = spawn_app_with_clock(
        |s| {
            s.security.login_failures_per_account = 3;
            s.security.login_failures_per_ip = 5;
            s.security.login_window_ms = 60_000;
        },
        clock.clone(),
    )
    .await;
    for id in ["erin", "frank", "gina"] {
        app.agent(id, &["general"], json!({})).await;
    }
    let other_ip = client_from(2);
    let here = app.http.clone();
    let login = |http: &reqwest::Client, id: &'static str, pw: &'static str| {
        let http = http.clone();
        let app = &app;
        async move { login_from(app, &http, id, pw).await }
    };
    for _ in 0..3 {
        assert_eq!(login(&here, "erin", "wrong-password").await.0, 401);
    }
    // This account from this address: even the right password is refused now, before
    // it is checked.
    let (s, retry, body) = login(&here, "erin", "erin-password").await;
    assert_eq!((s, retry.as_deref()), (429, Some("60")), "{body}");
    assert_eq!(body["code"], "rate_limited");
    // From another address the owner still logs in: the account itself is not locked.
    assert_eq!(login(&other_ip, "erin", "erin-password").await.0, 200);
    // Per IP: two more failures from this address (5 in all) block every account here.
    for _ in 0..2 {
        assert_eq!(login(&here, "frank", "wrong-password").await.0, 401);
    }
    let (s, retry, _) = login(&here, "gina", "gina-password").await;
    assert_eq!((s, retry.as_deref()), (429, Some("60")));
    assert_eq!(login(&other_ip, "gina", "gina-password").await.0, 200);
    // The window ends: everyone may log in again.
    clock.advance_ms(60_000);
    assert_eq!(login(&here, "erin", "erin-password").await.0, 200);
    assert_eq!(login(&here, "gina", "gina-password").await.0, 200);
}

/// The audit log's `login_failures_alarm` entries.
async fn alarms_audited(app: &TestApp) -> Vec<Value> {
    let (s, v) = app.get("/api/v1/audit?limit=50").await;
    assert_eq!(s, 200, "{v}");
    v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "login_failures_alarm")
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_from_one_address_do_not_lock_admin_out_and_many_raise_the_alarm() {
    let clock = ManualClock::new(Millis(1_800_000_000_000));
    let app = spawn_app_with_clock(
        |s| {
            s.security.login_failures_per_account = 3;
            s.security.login_alarm_failures_per_account = 5;
            s.security.login_window_ms = 60_000;
        },
        clock.clone(),
    )
    .await;
    let attacker = client_from(2);
    for _ in 0..3 {
        assert_eq!(login_from(&app, &attacker, "admin", "guess").await.0, 401);
    }
    let (s, retry, _) = login_from(&app, &attacker, "admin", ADMIN_PASSWORD).await;
    assert_eq!((s, retry.as_deref()), (429, Some("60")));
    // The owner, from her own address, is not locked out.
    let (s, _, v) = login_from(&app, &app.http, "admin", ADMIN_PASSWORD).await;
    assert_eq!(s, 200, "{v}");
    // No alarm yet; two more failures from a second address reach it (5 in all).
    assert!(alarms_audited(&app).await.is_empty());
    let second = client_from(3);
    for _ in 0..2 {
        assert_eq!(login_from(&app, &second, "admin", "guess").await.0, 401);
    }
    let alarms = alarms_audited(&app).await;
    assert_eq!(alarms.len(), 1, "{alarms:?}");
    assert_eq!(alarms[0]["actor"], "admin");
    assert_eq!(alarms[0]["detail"]["failures"], 5);
    // The alarm locks nothing, and is a metric.
    assert_eq!(
        login_from(&app, &app.http, "admin", ADMIN_PASSWORD).await.0,
        200
    );
    let text = metrics_text(&app.http, &app.base).await;
    let raised: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("switchboard_login_alarms_total "))
        .unwrap_or_else(|| panic!("alarm metric exposed:\n{text}"))
        .trim()
        .parse()
        .unwrap();
    assert!(raised >= 1.0, "{raised}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_logins_run_the_same_password_check_and_say_the_same() {
    let app = spawn_app(|_| {}).await;
    app.agent("hana", &["general"], json!({})).await;
    app.agent("ivan", &["general"], json!({})).await;
    let (s, v) = app
        .put(
            "/api/v1/agents/ivan",
            json!({"display_name": "IVAN", "password": "ivan-password",
            "role": "agent", "queues": ["general"], "disabled": true}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let checks = || app.engine.as_ref().unwrap().passwords.verifications();
    let mut answers = Vec::new();
    for (id, pw) in [
        ("hana", "wrong-password"),
        ("nobody", "wrong-password"),
        ("not an id!", "wrong-password"),
        ("ivan", "ivan-password"),
    ] {
        let before = checks();
        let (s, _, body) = login_from(&app, &app.http, id, pw).await;
        assert_eq!(s, 401, "{id}: {body}");
        assert_eq!(
            checks(),
            before + 1,
            "{id}: one password check, like any other"
        );
        answers.push(body);
    }
    assert!(
        answers.iter().all(|a| *a == answers[0]),
        "one answer for every refusal: {answers:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_origins_outside_the_allow_list_are_refused() {
    let app = spawn_app(|s| {
        s.security.allowed_origins = vec!["https://desk.example.com".into()];
    })
    .await;
    let t = app.agent("olga", &["general"], json!({})).await;
    let agent = app.ws_url(&format!("/ws/agent?token={t}"));
    let chat = app.ws_url("/ws/chat");
    for url in [&agent, &chat] {
        assert_eq!(
            ws_refused(url, Some("https://evil.example")).await,
            403,
            "{url}"
        );
        assert_eq!(ws_refused(url, Some("null")).await, 403, "{url}");
    }
    use tungstenite::client::IntoClientRequest;
    let own = format!("http://127.0.0.1:{}", app.port);
    for origin in [Some("https://desk.example.com"), Some(own.as_str()), None] {
        for url in [&agent, &chat] {
            let mut req = url.as_str().into_client_request().unwrap();
            if let Some(o) = origin {
                req.headers_mut().insert("Origin", o.parse().unwrap());
            }
            let (ws, resp) = tokio_tungstenite::connect_async(req)
                .await
                .unwrap_or_else(|e| panic!("{url} from {origin:?}: {e:?}"));
            assert_eq!(resp.status(), 101);
            drop(ws);
        }
    }
}

/// Bytes read from a raw socket, with one deadline for the whole wait.
struct Raw {
    tcp: tokio::net::TcpStream,
    buf: Vec<u8>,
    deadline: tokio::time::Instant,
}

impl Raw {
    /// Reads until at least `n` bytes are buffered.
    async fn fill(&mut self, n: usize) {
        let mut chunk = [0u8; 4096];
        while self.buf.len() < n {
            let got = tokio::time::timeout_at(self.deadline, self.tcp.read(&mut chunk))
                .await
                .expect("server closes an idle socket")
                .unwrap();
            assert!(got > 0, "connection ended without a close frame");
            self.buf.extend_from_slice(&chunk[..got]);
        }
    }
}

/// A websocket client that does the handshake by hand and then never answers a ping:
/// it reads raw frames until the server's close frame and returns its code.
async fn silent_until_closed(app: &TestApp, path: &str) -> u16 {
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n",
        app.port
    );
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Raw {
        tcp,
        buf: Vec::new(),
        deadline: tokio::time::Instant::now() + WAIT,
    };
    let end = loop {
        if let Some(p) = raw.buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        let n = raw.buf.len() + 1;
        raw.fill(n).await;
    };
    assert!(
        raw.buf.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&raw.buf)
    );
    raw.buf.drain(..end);
    loop {
        // Server frames are unmasked: opcode, length (7 bits, or 16/64 bits), payload.
        raw.fill(2).await;
        let (opcode, len7) = (raw.buf[0] & 0x0f, (raw.buf[1] & 0x7f) as usize);
        let (header, len) = match len7 {
            126 => {
                raw.fill(4).await;
                (4, u16::from_be_bytes([raw.buf[2], raw.buf[3]]) as usize)
            }
            127 => {
                raw.fill(10).await;
                let mut b = [0u8; 8];
                b.copy_from_slice(&raw.buf[2..10]);
                (10, u64::from_be_bytes(b) as usize)
            }
            n => (2, n),
        };
        raw.fill(header + len).await;
        if opcode == 0x8 {
            assert!(len >= 2, "close frame without a code");
            return u16::from_be_bytes([raw.buf[header], raw.buf[header + 1]]);
        }
        raw.buf.drain(..header + len);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sockets_are_closed() {
    let app = spawn_app(|s| {
        s.timing.heartbeat_ms = 50;
        s.timing.client_timeout_ms = 300;
    })
    .await;
    let t = app.agent("idle", &["general"], json!({})).await;
    assert_eq!(
        silent_until_closed(&app, &format!("/ws/agent?token={t}")).await,
        1001
    );
    assert_eq!(silent_until_closed(&app, "/ws/chat").await, 1001);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persistent_flood_closes_the_socket_with_a_reason() {
    let app = spawn_app(|s| {
        s.limits.ws_messages_per_second = 1;
        s.security.ws_rate_limit_close_after = 5;
    })
    .await;
    let (mut chat, _) = Client::visitor(&app).await;
    let mut sent = 0;
    for i in 0..50 {
        if !chat
            .try_send(json!({"type": "ping", "nonce": i.to_string()}))
            .await
        {
            break;
        }
        sent += 1;
    }
    assert!(sent > 5);
    // First the typed error, then the close with 1008 and its reason.
    assert_eq!(chat.expect("error").await["code"], "rate_limited");
    let f = chat.closed().await.expect("close frame");
    assert_eq!(u16::from(f.code), 1008);
    assert_eq!(f.reason, "rate limit");
}

/// The JSON claims of a token (`base64url(claims).base64url(mac)`).
fn claims_of(token: &str) -> (Value, &str) {
    let (p, sig) = token.split_once('.').unwrap();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    (
        serde_json::from_slice(&b64.decode(p).unwrap()).unwrap(),
        sig,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visitors_cannot_reach_each_other_by_guessing_or_forging() {
    let app = spawn_app(|_| {}).await;
    let t = app.agent("vera", &["general"], json!({})).await;
    let mut a = Client::available(&app, &t).await;
    let (mut va, wa) = Client::visitor(&app).await;
    let (mut vb, wb) = Client::visitor(&app).await;
    chat_say(&mut vb, "B's secret").await;
    let conv_b = accept_next(&mut a).await;
    let ta = wa["token"].as_str().unwrap();
    let b_id = wb["customer_id"].as_str().unwrap();

    // Ids are random UUIDs (v4: 122 random bits), not counters.
    for id in [
        b_id,
        wa["customer_id"].as_str().unwrap(),
        conv_b["id"].as_str().unwrap(),
    ] {
        let u = uuid::Uuid::parse_str(id).unwrap();
        assert_eq!(u.get_version_num(), 4, "{id}");
    }
    // A's token rewritten to name B's customer: the signature no longer matches.
    let (mut claims, sig) = claims_of(ta);
    assert_eq!(claims["kind"], "visitor");
    claims["customer"] = json!(b_id);
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let forged = format!("{}.{sig}", b64.encode(claims.to_string()));
    let url = app.ws_url(&format!("/ws/chat?token={forged}"));
    assert_eq!(ws_refused(&url, None).await, 401);
    // A visitor token opens no REST door, even with B's real ids.
    for path in [
        format!("/api/v1/conversations/{}", conv_b["id"].as_str().unwrap()),
        format!("/api/v1/customers/{b_id}/timeline"),
    ] {
        assert_eq!(call(&app, "GET", &path, None, Some(ta)).await.0, 401);
    }
    // Guessed ids for the chat socket: a made-up token is refused, and a fresh visitor
    // is a new customer that sees nothing of B.
    let guess = format!(
        "{}.{sig}",
        b64.encode(
            json!({"kind": "visitor", "customer": b_id,
        "address": "v-guess", "exp": i64::MAX})
            .to_string()
        )
    );
    let url = app.ws_url(&format!("/ws/chat?token={guess}"));
    assert_eq!(ws_refused(&url, None).await, 401);
    let (_, wc) = Client::visitor(&app).await;
    assert_ne!(wc["customer_id"], wb["customer_id"]);
    assert!(wc["history"].as_array().is_none_or(|h| h.is_empty()));
    // A reconnecting visitor sees its own conversation only.
    let (_, again) = {
        let mut c = Client::connect(&app.ws_url(&format!("/ws/chat?token={ta}"))).await;
        let w = c.expect("welcome").await;
        (c, w)
    };
    assert_eq!(again["customer_id"], wa["customer_id"]);
    assert!(!again.to_string().contains("B's secret"));
    va.sync().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_provider_events_older_than_the_window_are_dropped() {
    let rec = Recorder::start().await;
    let app = spawn_app(|s| {
        channels_on(s, &rec);
        s.security.webhook_max_event_age_ms = 60_000;
    })
    .await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let event = |user: &str, id: &str, ts: i64| {
        json!({"destination": "Ubot", "events": [{
            "type": "message", "mode": "active", "timestamp": ts,
            "webhookEventId": format!("01H{id}"), "source": {"type": "user", "userId": user},
            "replyToken": "rt", "message": {"id": id, "type": "text", "text": "hi"}}]})
    };
    // Validly signed, but two hours old: answered 200 (LINE must not retry) and dropped.
    assert_eq!(
        line_post(&app, &event("Uold", "m1", now - 7_200_000), None).await,
        200
    );
    assert_eq!(line_post(&app, &event("Unew", "m2", now), None).await, 200);
    let (s, _) = app.get("/api/v1/customers?channel=line&address=Uold").await;
    assert_eq!(s, 404, "a replayed event created a customer");
    let (s, _) = app.get("/api/v1/customers?channel=line&address=Unew").await;
    assert_eq!(s, 200);
    // Messenger: the same rule on `messaging[].timestamp`.
    let fb = |psid: &str, mid: &str, ts: i64| {
        let mut v = fb_text(psid, mid, "hi");
        v["entry"][0]["messaging"][0]["timestamp"] = json!(ts);
        v
    };
    assert_eq!(
        fb_post(&app, &fb("PSIDold", "mid.1", now - 7_200_000), None).await,
        200
    );
    assert_eq!(fb_post(&app, &fb("PSIDnew", "mid.2", now), None).await, 200);
    let (s, _) = app
        .get("/api/v1/customers?channel=messenger&address=PSIDold")
        .await;
    assert_eq!(s, 404, "a replayed Messenger event created a customer");
    let (s, _) = app
        .get("/api/v1/customers?channel=messenger&address=PSIDnew")
        .await;
    assert_eq!(s, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_carry_no_message_bodies_or_tokens() {
    // The real binary at debug level, its log captured.
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["--listen", &format!("127.0.0.1:{port}"), "--workers", "1"])
        .arg("--data-dir")
        .arg(dir.path())
        .env("SWITCHBOARD_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("RUST_LOG", "switchboard=trace,info")
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("binary starts");
    // Drained while the engine runs, so a full pipe never stalls it.
    let drain = |pipe: Option<Box<dyn tokio::io::AsyncRead + Send + Unpin>>| {
        tokio::spawn(async move {
            let mut v = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut v).await;
            }
            v
        })
    };
    let out = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let err = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = std::time::Instant::now() + WAIT;
    while !matches!(http.get(format!("{base}/readyz")).send().await, Ok(r) if r.status() == 200) {
        assert!(std::time::Instant::now() < deadline, "engine did not start");
        tokio::time::sleep(std::time::Duration::from_millis(25)).await; // poll interval
    }
    let secret_body = "BODY-7f3a こんにちは <b>secret</b>";
    let login: Value = http
        .post(format!("{base}/api/v1/login"))
        .json(&json!({"agent_id": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap().to_owned();
    // A failed login (the password is a secret too), an inbound message, a chat message.
    http.post(format!("{base}/api/v1/login"))
        .json(&json!({"agent_id": "admin", "password": "PW-secret-91"}))
        .send()
        .await
        .unwrap();
    let r = http
        .post(format!("{base}/api/v1/inbound"))
        .bearer_auth(&token)
        .json(&json!({"channel": "sms", "address": "+819011112222", "text": secret_body}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/ws/chat"))
        .await
        .unwrap();
    use futures::{SinkExt, StreamExt};
    let welcome = ws.next().await.unwrap().unwrap().into_text().unwrap();
    let visitor: Value = serde_json::from_str(&welcome).unwrap();
    let msg = json!({"type": "message", "client_msg_id": "c1", "text": secret_body});
    ws.send(tungstenite::Message::Text(msg.to_string()))
        .await
        .unwrap();
    // Wait for the ack, then an invalid frame whose error echoes nothing either.
    loop {
        let m = ws.next().await.unwrap().unwrap();
        if m.to_text().unwrap_or("").contains("\"ack\"") {
            break;
        }
    }
    drop(ws);
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.await.unwrap()),
        String::from_utf8_lossy(&err.await.unwrap())
    );
    assert!(
        log.contains("switchboard listening"),
        "no log captured: {log}"
    );
    for secret in [
        "BODY-7f3a",
        "secret</b>",
        "PW-secret-91",
        ADMIN_PASSWORD,
        token.as_str(),
        visitor["token"].as_str().unwrap(),
    ] {
        assert!(!log.contains(secret), "the log contains {secret:?}:\n{log}");
    }
}
