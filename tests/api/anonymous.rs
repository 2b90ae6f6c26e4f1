//! The anonymous doors' budgets per client address (docs/security.md, "Anonymous
//! doors"): one address flooding `/ws/chat` gets its budget and then 429s, while a
//! visitor from another address is served; a flood's conversations leave the queue
//! soon after their sockets go and are reported `left_unserved`, not abandoned; the
//! sockets one address holds open are capped; a visitor's callback may name only the
//! IVR's callback queues and allowed countries. Every test runs on loopback: client
//! sockets bound to 127.0.0.2 are "another address".

use crate::helpers::*;
use serde_json::{json, Value};
use switchboard::domain::time::ManualClock;
use switchboard::domain::Millis;
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::MaybeTlsStream;

/// Tight budgets: 30 socket opens, 10 visitors and 10 conversations a minute, 20
/// sockets at once; an unserved anonymous chat leaves 300 ms after its socket.
fn tight(s: &mut switchboard::config::Settings) {
    s.anonymous = switchboard::budget::AnonymousSettings {
        window_ms: 60_000,
        chat_opens_per_window: 30,
        visitors_per_window: 10,
        conversations_per_window: 10,
        callbacks_per_window: 2,
        help_requests_per_window: 4,
        sso_requests_per_window: 30,
        max_chat_sockets: 20,
        unserved_grace_ms: 300,
        flood_alert_per_minute: 50,
    };
}

/// The handshake of `/ws/chat{query}` from a socket bound to `from`: the client, or
/// the refusal's status, `Retry-After` and body.
async fn chat_from(
    app: &TestApp,
    from: &str,
    query: &str,
) -> Result<Client, (u16, Option<u64>, Value)> {
    chat_via(app, from, query, None).await
}

/// [`chat_from`] with an `X-Forwarded-For` header.
async fn chat_via(
    app: &TestApp,
    from: &str,
    query: &str,
    forwarded_for: Option<&str>,
) -> Result<Client, (u16, Option<u64>, Value)> {
    use tungstenite::client::IntoClientRequest;
    let mut request = app
        .ws_url(&format!("/ws/chat{query}"))
        .into_client_request()
        .unwrap();
    if let Some(f) = forwarded_for {
        request
            .headers_mut()
            .insert("x-forwarded-for", f.parse().unwrap());
    }
    let sock = TcpSocket::new_v4().unwrap();
    sock.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let stream = sock
        .connect(format!("127.0.0.1:{}", app.port).parse().unwrap())
        .await
        .expect("tcp connects");
    match tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream)).await {
        Ok((ws, _)) => Ok(Client::from_stream(ws)),
        Err(tungstenite::Error::Http(r)) => {
            let retry = r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok());
            let body = r
                .body()
                .as_deref()
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or(Value::Null);
            Err((r.status().as_u16(), retry, body))
        }
        Err(e) => panic!("handshake failed otherwise: {e}"),
    }
}

async fn waiting(app: &TestApp) -> u64 {
    app.get("/api/v1/queues/general").await.1["waiting"]
        .as_u64()
        .expect("waiting")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anonymous_flood_from_one_address_is_bounded_and_a_real_visitor_is_served() {
    let clock = ManualClock::new(Millis(1_800_000_000_000));
    let app = spawn_app_with_clock(tight, clock.clone()).await;

    // 300 new visitors from one address, each saying one thing.
    const FLOOD: usize = 300;
    let mut accepted = Vec::new();
    let mut refused = 0;
    for _ in 0..FLOOD {
        match chat_from(&app, "127.0.0.1", "").await {
            Ok(mut c) => {
                c.expect("welcome").await;
                chat_say(&mut c, "fake").await;
                accepted.push(c);
            }
            Err((status, retry, body)) => {
                assert_eq!(status, 429, "{body}");
                assert_eq!(body["code"], "rate_limited", "{body}");
                // One visitor a minute / 10 = back in 6 s; socket opens in 2 s.
                assert!(matches!(retry, Some(1..=6)), "Retry-After {retry:?}");
                refused += 1;
            }
        }
    }
    assert_eq!(accepted.len(), 10, "the visitors budget");
    assert_eq!(refused, FLOOD - 10);
    assert_eq!(waiting(&app).await, 10, "only the budget's chats wait");

    // A real visitor from another address is let in and waits behind 10, not 300.
    let mut real = chat_from(&app, "127.0.0.2", "")
        .await
        .expect("real visitor");
    real.expect("welcome").await;
    chat_say(&mut real, "注文について").await;
    assert_eq!(waiting(&app).await, 11);

    // The supervisor sees the flood.
    let (s, flood) = app.get("/api/v1/supervisor/flood").await;
    assert_eq!(s, 200, "{flood}");
    assert_eq!(flood["flood"], true, "{flood}");
    assert_eq!(flood["total"], (FLOOD - 10) as u64, "{flood}");
    let metrics = metrics_text(&app.http, &app.base).await;
    assert!(
        metrics.contains("switchboard_anonymous_refused_total{door=\"chat_open\"}")
            || metrics.contains("switchboard_anonymous_refused_total{door=\"visitor\"}"),
        "{metrics}"
    );

    // The flood's sockets go: their chats leave the queue soon (not after
    // visitor_grace_ms), the real visitor's stays.
    for c in accepted {
        c.close().await;
    }
    app.get_until("/api/v1/queues/general", "the flood left", |q| {
        q["waiting"] == 1
    })
    .await;

    // Reported as left unserved, not as abandoned customers.
    let t0 = 1_800_000_000_000i64 - 3_600_000;
    let body = app
        .get_until(
            &format!(
                "/api/v1/reports?from={t0}&to={}&interval=day&group=queue",
                t0 + 86_400_000
            ),
            "the left_unserved rows",
            |b| b["rows"][0]["left_unserved"] == 10,
        )
        .await;
    let r = &body["rows"][0];
    assert_eq!(r["abandoned"], 0, "{r:#}");
    assert_eq!(r["offered"], 11, "{r:#}");

    // A minute later the address has a budget again.
    clock.advance_ms(60_000);
    let mut back = chat_from(&app, "127.0.0.1", "")
        .await
        .expect("budget refilled");
    back.expect("welcome").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_may_hold_only_so_many_chat_sockets_and_open_so_many_conversations() {
    let clock = ManualClock::new(Millis(1_800_000_000_000));
    let app = spawn_app_with_clock(
        |s| {
            tight(s);
            s.anonymous.visitors_per_window = 100;
            s.anonymous.chat_opens_per_window = 100;
            s.anonymous.conversations_per_window = 2;
        },
        clock.clone(),
    )
    .await;
    // Sockets at once: a returning visitor's token opens sockets too.
    let mut first = chat_from(&app, "127.0.0.1", "").await.expect("first");
    let token = first.expect("welcome").await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut open = vec![first];
    for _ in 1..20 {
        let mut c = chat_from(&app, "127.0.0.1", &format!("?token={token}"))
            .await
            .expect("under the cap");
        c.expect("welcome").await;
        open.push(c);
    }
    let (status, retry, body) = chat_from(&app, "127.0.0.1", &format!("?token={token}"))
        .await
        .err()
        .expect("the 21st socket is refused");
    assert_eq!((status, body["code"].as_str()), (429, Some("rate_limited")));
    assert!(retry.is_some());
    // Another address is not affected; a closed socket frees its place.
    chat_from(&app, "127.0.0.2", "")
        .await
        .expect("other address");
    open.pop().unwrap().close().await;
    let mut again = loop {
        // The server sees the close a moment after the client sent it.
        if let Ok(c) = chat_from(&app, "127.0.0.1", &format!("?token={token}")).await {
            break c;
        }
        tokio::task::yield_now().await;
    };
    again.expect("welcome").await;
    drop(open);
    drop(again);

    // Conversations opened from one address: two, then rate_limited, nothing stored.
    let mut customers = Vec::new();
    for i in 0..3 {
        let mut c = chat_from(&app, "127.0.0.2", "").await.expect("visitor");
        let w = c.expect("welcome").await;
        customers.push(w["customer_id"].as_str().unwrap().to_owned());
        c.send(json!({"type": "message", "client_msg_id": format!("m{i}"), "text": "hello"}))
            .await;
        let m = loop {
            let m = c.next().await;
            if m["type"] == "ack" || m["type"] == "error" {
                break m;
            }
        };
        if i < 2 {
            assert_eq!(m["type"], "ack", "{m}");
        } else {
            assert_eq!(m["type"], "error", "{m}");
            assert_eq!(m["code"], "rate_limited", "{m}");
            assert_eq!(m["ref"], "m2", "{m}");
            assert!(
                app.timeline(&customers[2]).await.is_empty(),
                "nothing stored for the refused one"
            );
        }
    }
    assert_eq!(waiting(&app).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitors_callback_names_only_ivr_callback_queues_and_allowed_countries() {
    let app = spawn_app(|s| {
        tight(s);
        s.anonymous.callbacks_per_window = 3;
        s.callbacks.allowed_country_codes = vec!["81".into()];
    })
    .await;
    app.queue("vip", json!({})).await;
    let (mut chat, w) = Client::visitor(&app).await;
    let customer = w["customer_id"].as_str().unwrap().to_owned();
    let token = w["token"].as_str().unwrap().to_owned();

    // A queue the IVR offers no callback from: refused, nothing stored.
    chat.send(json!({"type": "request_callback", "phone": "+819011112222", "queue": "vip"}))
        .await;
    let e = chat.expect("error").await;
    assert_eq!(e["code"], "invalid", "{e}");
    assert!(
        e["message"].as_str().unwrap().contains("callback option"),
        "{e}"
    );
    // A number abroad: refused.
    chat.send(json!({"type": "request_callback", "phone": "+15551234567"}))
        .await;
    let e = chat.expect("error").await;
    assert_eq!(e["code"], "invalid", "{e}");
    assert!(e["message"].as_str().unwrap().contains("country"), "{e}");
    assert!(app.timeline(&customer).await.is_empty(), "nothing stored");

    // The REST door holds visitors to the same rule.
    let http = &app.http;
    let r = http
        .post(format!("{}/api/v1/callbacks", app.base))
        .bearer_auth(&token)
        .json(&json!({"phone": "+819011112222", "queue": "vip"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(app.timeline(&customer).await.is_empty(), "nothing stored");
    // Staff may name any queue.
    let (s, cb) = app
        .post(
            "/api/v1/callbacks",
            json!({"customer_id": customer, "phone": "+819011112222", "queue": "vip"}),
        )
        .await;
    assert_eq!(s, 201, "{cb}");
    // Three requests a minute per address, valid or not (the budget is taken first):
    // the fourth is refused before anything is looked at.
    let r = http
        .post(format!("{}/api/v1/callbacks", app.base))
        .bearer_auth(&token)
        .json(&json!({"phone": "+819011112222"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429, "the callback budget is spent");
    assert!(r.headers().get("retry-after").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_counts_only_behind_a_trusted_proxy() {
    let app = spawn_app(|s| {
        tight(s);
        s.anonymous.visitors_per_window = 1;
        s.security.trusted_proxies = vec!["127.0.0.1/32".into()];
    })
    .await;
    // Through the trusted proxy (127.0.0.1): each forwarded client has its own budget,
    // and what the client prepended itself is not believed.
    for client in ["203.0.113.5", "203.0.113.6"] {
        let mut c = chat_via(&app, "127.0.0.1", "", Some(&format!("10.9.9.9, {client}")))
            .await
            .unwrap_or_else(|e| panic!("{client}: {e:?}"));
        c.expect("welcome").await;
    }
    let (status, ..) = chat_via(&app, "127.0.0.1", "", Some("10.9.9.9, 203.0.113.5"))
        .await
        .err()
        .expect("203.0.113.5 spent its visitor");
    assert_eq!(status, 429);
    // From anyone else the header is ignored: 127.0.0.2 is one address whatever it says.
    chat_via(&app, "127.0.0.2", "", Some("198.51.100.1"))
        .await
        .expect("first from 127.0.0.2");
    let (status, ..) = chat_via(&app, "127.0.0.2", "", Some("198.51.100.2"))
        .await
        .err()
        .expect("a forged header does not buy a new budget");
    assert_eq!(status, 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_the_website_logged_in_keeps_the_full_grace() {
    use crate::identity::{in_an_hour, jwt, LOGIN_SECRET};
    let app = spawn_app(|s| {
        tight(s);
        s.anonymous.unserved_grace_ms = 100;
        s.channels.login_secret = LOGIN_SECRET.into();
    })
    .await;
    // A customer the company's website proved (a login token), waiting.
    let token = jwt(
        &json!({"sub": "crm-7", "name": "Known", "exp": in_an_hour()}),
        LOGIN_SECRET,
    );
    let mut known = chat_from(&app, "127.0.0.1", &format!("?login={token}"))
        .await
        .expect("login visitor");
    let known_id = known.expect("welcome").await["customer_id"]
        .as_str()
        .unwrap()
        .to_owned();
    chat_say(&mut known, "ログイン済みです").await;
    // An anonymous visitor, waiting too.
    let (mut anon, _) = Client::visitor(&app).await;
    chat_say(&mut anon, "hello").await;
    assert_eq!(waiting(&app).await, 2);

    // Both sockets go, the known customer's first: only the anonymous chat leaves
    // after the short grace; the known one keeps timing.visitor_grace_ms (120 s).
    known.close().await;
    anon.close().await;
    app.get_until("/api/v1/queues/general", "the anonymous chat left", |q| {
        q["waiting"] == 1
    })
    .await;
    let kinds = types(&app.timeline(&known_id).await);
    assert!(!kinds.contains(&"abandoned".to_owned()), "{kinds:?}");
}
