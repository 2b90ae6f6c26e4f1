//! The wire of node-to-node messages (docs/cluster.md, "Node-to-node messages"):
//! [`HttpTransport`], the engine's [`Transport`] as HTTP/1.1 requests with keep-alive
//! connections, and [`configure`], the route that receives them,
//! `POST /internal/v1/envelopes` — a JSON array of envelopes in, a JSON array of
//! answers out, one per envelope.
//!
//! Every request carries the cluster secret (`Authorization: Bearer …`,
//! `cluster.secret`); a request without it, or with another, is refused 401 and nothing
//! in it is looked at. A request naming another protocol version than this build's
//! (`switchboard-peer-protocol`, [`cluster::envelope::PROTOCOL`]), or none, is refused
//! 409 `protocol_mismatch` before its body is read. A body over `cluster.max_peer_request_bytes`, or with more
//! envelopes than `cluster.peer_batch`, is refused 413; one that is not an array of
//! envelopes, 400 — each with the API's typed error body. What the engine does with
//! the envelopes is [`Peers::receive`]'s business.

use crate::peers::{Peers, Transport, Undelivered};
use actix_web::{web, HttpRequest, HttpResponse};
use cluster::envelope::{Answer, Envelope};
use futures_util::future::BoxFuture;
use std::sync::Arc;
use std::time::Duration;

/// The route's path.
pub const PATH: &str = "/internal/v1/envelopes";

/// The request header naming the sender's protocol version
/// ([`cluster::envelope::PROTOCOL`]).
pub const PROTOCOL_HEADER: &str = "switchboard-peer-protocol";

/// How long an engine's HTTP server keeps an idle connection open (set on both of its
/// servers: `startup` and the holding server), so that [`PEER_IDLE`] is known to be
/// shorter.
pub const SERVER_KEEP_ALIVE: Duration = Duration::from_secs(5);

/// How long a node keeps an idle connection to a peer for its next request: well under
/// the peer's [`SERVER_KEEP_ALIVE`], so a pooled connection is never reused just as
/// the peer closes it. A request written into a connection the peer is closing fails
/// ("connection closed before message completed") with its whole batch; with a 30 s
/// pool against the 5 s keep-alive, one such failure in a 1,000 msg/s run over three
/// nodes cost two customer messages `unavailable` (BENCHMARKS.md, "The cost of a
/// cross-node hop in one run over three nodes").
pub const PEER_IDLE: Duration = Duration::from_secs(2);

/// Sends batches over HTTP with the cluster secret.
pub struct HttpTransport {
    client: reqwest::Client,
    secret: Arc<str>,
}

impl HttpTransport {
    pub fn new(secret: &str) -> Self {
        Self {
            client: reqwest::Client::builder()
                // Envelopes are small and latency-bound: no Nagle delay.
                .tcp_nodelay(true)
                .pool_idle_timeout(PEER_IDLE)
                .build()
                .expect("an HTTP client without TLS settings builds"),
            secret: secret.into(),
        }
    }
}

impl Transport for HttpTransport {
    fn deliver(
        &self,
        address: &str,
        batch: Vec<Envelope>,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<Vec<Answer>, Undelivered>> {
        let request = self
            .client
            .post(format!("http://{address}{PATH}"))
            .bearer_auth(&*self.secret)
            .header(PROTOCOL_HEADER, cluster::envelope::PROTOCOL.to_string())
            .timeout(timeout)
            .json(&batch);
        Box::pin(async move {
            let r = request.send().await.map_err(|e| why(&e, timeout))?;
            let status = r.status();
            if !status.is_success() {
                let body = r.text().await.unwrap_or_default();
                return Err(Undelivered {
                    why: format!("{status}: {body}"),
                    refused: false,
                });
            }
            r.json::<Vec<Answer>>().await.map_err(|e| why(&e, timeout))
        })
    }
}

/// Why a request failed, in words an operator can act on: a timeout says it was the
/// deadline (the peer accepted the connection and did not answer in time: paused,
/// overloaded or cut off), anything else names its cause; a refused connection is
/// marked as such (nothing listens there).
fn why(e: &reqwest::Error, timeout: Duration) -> Undelivered {
    if e.is_timeout() {
        return Undelivered {
            why: format!(
                "no answer before the deadline ({} ms): the peer is paused, overloaded or \
                 cut off",
                timeout.as_millis()
            ),
            refused: false,
        };
    }
    let mut text = e.to_string();
    let mut refused = false;
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        refused |= cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused);
        source = cause.source();
    }
    Undelivered { why: text, refused }
}

/// What the receiving route needs.
#[derive(Clone)]
pub struct Receiver {
    pub peers: Arc<Peers>,
    pub secret: Arc<str>,
    pub max_bytes: usize,
}

/// Mounts `POST /internal/v1/envelopes`.
pub fn configure(cfg: &mut web::ServiceConfig, receiver: Receiver) {
    cfg.app_data(web::Data::new(receiver))
        .service(web::resource(PATH).route(web::post().to(receive)));
}

async fn receive(
    req: HttpRequest,
    mut payload: web::Payload,
    receiver: web::Data<Receiver>,
) -> HttpResponse {
    use futures_util::StreamExt;
    let presented = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !same(presented.as_bytes(), receiver.secret.as_bytes()) {
        return error(
            401,
            "unauthorized",
            "the cluster secret is missing or wrong",
        );
    }
    let spoken = req
        .headers()
        .get(PROTOCOL_HEADER)
        .and_then(|v| v.to_str().ok());
    let ours = cluster::envelope::PROTOCOL.to_string();
    if spoken != Some(ours.as_str()) {
        return error(
            409,
            "protocol_mismatch",
            &format!(
                "this node speaks node-to-node protocol {}; the request speaks {} \
                 (every node of a cluster must run a build that speaks the same protocol)",
                cluster::envelope::PROTOCOL,
                spoken.unwrap_or("none (no switchboard-peer-protocol header)")
            ),
        );
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let Ok(chunk) = chunk else {
            return error(400, "bad_request", "the request body could not be read");
        };
        if body.len() + chunk.len() > receiver.max_bytes {
            return error(
                413,
                "too_large",
                &format!("the body is over {} bytes", receiver.max_bytes),
            );
        }
        body.extend_from_slice(&chunk);
    }
    let batch: Vec<Envelope> = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return error(400, "bad_json", &format!("not an array of envelopes: {e}")),
    };
    let max = receiver.peers.config().batch;
    if batch.len() > max {
        return error(
            413,
            "too_large",
            &format!("{} envelopes; at most {max} per request", batch.len()),
        );
    }
    HttpResponse::Ok().json(receiver.peers.receive(batch).await)
}

fn error(status: u16, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("a valid status"))
        .json(serde_json::json!({"code": code, "message": message}))
}

/// Constant-time equality (the secret's length is not secret).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
