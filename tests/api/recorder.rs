//! A local HTTP server standing in for the providers' APIs (Twilio, LINE, Messenger,
//! Instagram, WhatsApp, X):
//! the engine's real HTTP client calls it over a real socket; it records every request
//! (method, path, query, headers, body) and answers like the provider would. Tests
//! wait for a recorded request with a deadline, never a sleep. Queued statuses let a
//! test make the next calls fail (e.g. 500 to exercise retries).

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("recorded body is JSON")
    }
    pub fn form(&self) -> BTreeMap<String, String> {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(&self.body)
            .expect("recorded body is a form")
            .into_iter()
            .collect()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(|s| s.as_str())
    }
}

#[derive(Default)]
struct Shared {
    requests: Mutex<Vec<Recorded>>,
    /// Statuses to answer the next requests with, before the normal answer.
    fail_next: Mutex<VecDeque<u16>>,
    notify: Notify,
}

pub struct Recorder {
    pub base: String,
    shared: Arc<Shared>,
    system: actix_rt::System,
    server: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Recorder {
    fn drop(&mut self) {
        // Stopping the server ends the system's `block_on`.
        drop(self.server.stop(false));
        self.system.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What the provider answers on success, by path.
fn answer(path: &str, n: usize) -> HttpResponse {
    if path.ends_with("/Participants.json") {
        // Twilio's Conference Participants API: the new leg, numbered by request.
        HttpResponse::Created().json(serde_json::json!({
            "call_sid": format!("CA{n:032}"), "status": "queued"
        }))
    } else if path.contains("/Messages.json") {
        HttpResponse::Created().json(serde_json::json!({
            "sid": format!("SM{n:032}"), "status": "queued"
        }))
    } else if path.starts_with("/v2/bot/message/") {
        HttpResponse::Ok().json(serde_json::json!({
            "sentMessages": [{ "id": format!("{}", 500000 + n), "quoteToken": "q" }]
        }))
    } else if path.starts_with("/crm/") {
        crm_answer(path)
    } else if path.ends_with("/me/messages") {
        HttpResponse::Ok().json(serde_json::json!({
            "recipient_id": "psid", "message_id": format!("m_{n}")
        }))
    } else if path.ends_with("/comments") {
        // A comment under a Page comment (Graph API).
        HttpResponse::Ok().json(serde_json::json!({"id": format!("P_REPLY{n}")}))
    } else if path == "/2/tweets" {
        HttpResponse::Created().json(serde_json::json!({
            "data": {"id": format!("{}", 1_800_000_000 + n), "text": "..."}
        }))
    } else if path == "/2/media/upload" {
        // X's one-shot media upload.
        HttpResponse::Ok().json(serde_json::json!({
            "data": {"id": format!("{}", 1_880_000_000 + n), "media_key": format!("3_{n}")}
        }))
    } else if path.starts_with("/2/dm_conversations/with/") {
        HttpResponse::Created().json(serde_json::json!({
            "data": {"dm_conversation_id": "4337869213-3001969357", "dm_event_id": format!("{}", 1_700_000_000 + n)}
        }))
    } else if path.ends_with("/media") {
        // WhatsApp's media upload.
        HttpResponse::Ok().json(serde_json::json!({"id": format!("UPLOADED{n}")}))
    } else if path.ends_with("/messages") {
        HttpResponse::Ok().json(serde_json::json!({
            "messaging_product": "whatsapp",
            "contacts": [{"input": "819012345678", "wa_id": "819012345678"}],
            "messages": [{"id": format!("wamid.OUT{n}")}]
        }))
    } else {
        HttpResponse::Ok().finish()
    }
}

/// A fake CRM (tests/api/crm.rs, the assist browser test): the customer's phone in the
/// path picks a bad answer (`15550000001` garbage, `15550000002` a huge body), anything
/// else gets attributes and two orders.
fn crm_answer(path: &str) -> HttpResponse {
    if path.contains("15550000001") {
        return HttpResponse::Ok()
            .content_type("application/json")
            .body("<html>not json</html>");
    }
    if path.contains("15550000002") {
        let big = "x".repeat(256 * 1024);
        return HttpResponse::Ok().json(serde_json::json!({"attributes": {"blob": big}}));
    }
    HttpResponse::Ok().json(serde_json::json!({
        "attributes": {"name": "Hanako Yamada", "tier": "gold", "lifetime_value": 125000},
        "orders": [
            {"id": "A-1001", "date": "2026-11-20", "status": "shipped", "total": "¥4,980"},
            {"id": "A-0999", "date": "2026-10-02", "status": "delivered", "total": 1200}
        ]
    }))
}

async fn record(
    req: HttpRequest,
    body: web::Bytes,
    shared: web::Data<Arc<Shared>>,
) -> HttpResponse {
    let rec = Recorded {
        method: req.method().to_string(),
        path: req.path().to_owned(),
        query: req.query_string().to_owned(),
        headers: req
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    v.to_str().unwrap_or("").to_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
    };
    let n = {
        let mut r = shared.requests.lock().unwrap();
        r.push(rec.clone());
        r.len()
    };
    shared.notify.notify_waiters();
    if let Some(code) = shared.fail_next.lock().unwrap().pop_front() {
        return HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap())
            .json(serde_json::json!({"message": "injected failure"}));
    }
    if let Some(media) = media_answer(&req, &rec.path) {
        return media;
    }
    answer(&rec.path, n)
}

/// The providers' media (tests/api/media.rs): a PNG at `/media/png`, LINE's content
/// API, X's direct-message media (`/1.1/ton/data/dm/…`), Twilio's media URLs (a redirect to the PNG, as Twilio's go to its CDN),
/// WhatsApp's media-id lookup (a URL on this server), one too large, and a redirect to
/// the cloud metadata address.
fn media_answer(req: &HttpRequest, path: &str) -> Option<HttpResponse> {
    let png = || {
        HttpResponse::Ok()
            .content_type("image/png")
            .body(crate::files::PNG)
    };
    if path == "/media/png"
        || (path.starts_with("/v2/bot/message/") && path.ends_with("/content"))
        || path.starts_with("/1.1/ton/data/dm/")
    {
        return Some(png());
    }
    if path == "/media/big" {
        let mut big = crate::files::PNG.to_vec();
        big.resize(64 * 1024, 0);
        return Some(HttpResponse::Ok().content_type("image/png").body(big));
    }
    if path == "/media/evil-redirect" {
        return Some(
            HttpResponse::Found()
                .insert_header(("Location", "http://169.254.169.254/latest/meta-data/"))
                .finish(),
        );
    }
    // Twilio's recordings: the MP3 of a recording id, stamped with the id.
    if let Some(rest) = path
        .split_once("/Recordings/")
        .and_then(|(_, r)| r.strip_suffix(".mp3"))
    {
        let mut body = b"ID3\x04\0\0\0\0\0\0".to_vec();
        body.extend_from_slice(rest.as_bytes());
        return Some(HttpResponse::Ok().content_type("audio/mpeg").body(body));
    }
    if path.contains("/Media/") {
        return Some(
            HttpResponse::TemporaryRedirect()
                .insert_header(("Location", "/media/png"))
                .finish(),
        );
    }
    if let Some(id) = path
        .strip_prefix("/v21.0/")
        .filter(|id| id.starts_with("MEDIA"))
    {
        let host = req.connection_info().host().to_owned();
        return Some(HttpResponse::Ok().json(serde_json::json!({
            "messaging_product": "whatsapp", "id": id, "mime_type": "image/png",
            "url": format!("http://{host}/media/png"), "file_size": crate::files::PNG.len()
        })));
    }
    None
}

impl Recorder {
    pub async fn start() -> Recorder {
        Self::start_on(0).await
    }

    /// [`Recorder::start`] on 127.0.0.1:`port` (0: any): a receiver that comes up on
    /// the address a sender has been failing to reach.
    pub async fn start_on(port: u16) -> Recorder {
        let shared = Arc::new(Shared::default());
        let (tx, rx) = tokio::sync::oneshot::channel();
        let s2 = shared.clone();
        let thread = std::thread::spawn(move || {
            let sys = actix_rt::System::new();
            sys.block_on(async move {
                let data = web::Data::new(s2);
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(data.clone())
                        .default_service(web::to(record))
                })
                .workers(1)
                .bind(("127.0.0.1", port))
                .unwrap();
                let port = server.addrs()[0].port();
                let server = server.run();
                tx.send((port, actix_rt::System::current(), server.handle()))
                    .ok();
                server.await.ok();
            });
        });
        let (port, system, server) = rx.await.unwrap();
        Recorder {
            base: format!("http://127.0.0.1:{port}"),
            shared,
            system,
            server,
            thread: Some(thread),
        }
    }

    /// Answers the next requests with these statuses (then normally again).
    pub fn fail_next(&self, statuses: &[u16]) {
        self.shared.fail_next.lock().unwrap().extend(statuses);
    }

    pub fn all(&self) -> Vec<Recorded> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests have arrived whose path contains `path`;
    /// returns them.
    pub async fn wait_for(&self, path: &str, n: usize) -> Vec<Recorded> {
        let deadline = tokio::time::Instant::now() + super::helpers::WAIT;
        loop {
            let notified = self.shared.notify.notified();
            tokio::pin!(notified);
            // Registered before looking, so a request arriving in between still wakes us.
            notified.as_mut().enable();
            let got: Vec<Recorded> = self
                .all()
                .into_iter()
                .filter(|r| r.path.contains(path))
                .collect();
            if got.len() >= n {
                return got;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "waited for {n} request(s) to {path}; got {}: {:?}",
                    got.len(),
                    self.all()
                        .iter()
                        .map(|r| r.path.clone())
                        .collect::<Vec<_>>()
                );
            }
        }
    }
}
