//! Transport: the REST calls the harness makes (login, create agent, inbound message,
//! readiness, where actors run), with the protocol crate's bodies, and websocket
//! connections split into a reader (kept by the socket's task) and a writer task fed
//! through a bounded channel.

use anyhow::{anyhow, bail, Context, Result};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use protocol::rest::{
    AgentUpsert, InboundRequest, InboundResponse, LocateRequest, LocateResponse, LoginRequest,
    LoginResponse,
};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
pub type WsReader = SplitStream<Ws>;

/// Frames queued per socket before a sender waits for the writer.
const WRITE_QUEUE: usize = 1024;
/// Longest wait for a `/readyz` answer: a node that cannot answer within it is not
/// ready for a load run.
const READYZ_TIMEOUT: Duration = Duration::from_secs(2);

/// The engine's REST API.
#[derive(Clone)]
pub struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    pub fn new(base: &str) -> Result<Api> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Api {
            client,
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    /// `POST /api/v1/login` → token.
    pub async fn login(&self, agent_id: &str, password: &str) -> Result<String> {
        let resp = self
            .client
            .post(format!("{}/api/v1/login", self.base))
            .json(&LoginRequest {
                agent_id: agent_id.to_owned(),
                password: password.to_owned(),
            })
            .send()
            .await
            .with_context(|| format!("POST /api/v1/login ({agent_id}) to {}", self.base))?;
        let status = resp.status();
        if !status.is_success() {
            let body = resp.text().await.unwrap_or_default();
            bail!("login {agent_id}: HTTP {status}: {body}");
        }
        Ok(resp.json::<LoginResponse>().await?.token)
    }

    /// `GET /readyz` → its HTTP status (200 ready; 503 standby or store unreachable).
    pub async fn readyz(&self) -> Result<u16> {
        let resp = self
            .client
            .get(format!("{}/readyz", self.base))
            .timeout(READYZ_TIMEOUT)
            .send()
            .await
            .with_context(|| format!("GET {}/readyz", self.base))?;
        Ok(resp.status().as_u16())
    }

    /// `POST /api/v1/cluster/locate` with a staff token: the node each asked
    /// customer's, agent's and queue's actor runs on (docs/cluster.md).
    pub async fn locate(&self, token: &str, body: &LocateRequest) -> Result<LocateResponse> {
        let url = format!("{}/api/v1/cluster/locate", self.base);
        let resp = self
            .client
            .post(&url)
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .with_context(|| format!("POST {url}"))?;
        let status = resp.status();
        if !status.is_success() {
            let body = resp.text().await.unwrap_or_default();
            bail!("POST {url}: HTTP {status}: {body}");
        }
        Ok(resp.json().await?)
    }

    /// `PUT /api/v1/agents/{id}` with an admin token.
    pub async fn put_agent(&self, admin_token: &str, id: &str, body: &AgentUpsert) -> Result<()> {
        let resp = self
            .client
            .put(format!("{}/api/v1/agents/{id}", self.base))
            .bearer_auth(admin_token)
            .json(body)
            .send()
            .await
            .with_context(|| format!("PUT /api/v1/agents/{id}"))?;
        let status = resp.status();
        if !status.is_success() {
            let body = resp.text().await.unwrap_or_default();
            bail!("create agent {id}: HTTP {status}: {body}");
        }
        Ok(())
    }
}

/// An HTTP call answered with an error status.
#[derive(Debug, thiserror::Error)]
#[error("HTTP {status}: {body}")]
pub struct HttpError {
    pub status: u16,
    pub body: String,
}

impl Api {
    /// `POST /api/v1/inbound` with a supervisor or admin token; an error status is an
    /// [`HttpError`] (inside the `anyhow::Error`).
    pub async fn inbound(&self, token: &str, body: &InboundRequest) -> Result<InboundResponse> {
        let resp = self
            .client
            .post(format!("{}/api/v1/inbound", self.base))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .context("POST /api/v1/inbound")?;
        let status = resp.status();
        if !status.is_success() {
            let body = resp.text().await.unwrap_or_default();
            return Err(HttpError {
                status: status.as_u16(),
                body,
            }
            .into());
        }
        Ok(resp.json().await?)
    }
}

/// `http://host:port` → `ws://host:port` (the harness speaks plain websockets only).
pub fn ws_base(http_base: &str) -> Result<String> {
    let base = http_base.trim_end_matches('/');
    if let Some(rest) = base.strip_prefix("http://") {
        Ok(format!("ws://{rest}"))
    } else if base.starts_with("ws://") {
        Ok(base.to_owned())
    } else {
        Err(anyhow!(
            "--url must be http://HOST:PORT (TLS is not supported; run next to the engine): {http_base}"
        ))
    }
}

/// One websocket: frames to send go into `tx`; frames received come from `rx`.
pub struct Conn {
    pub tx: mpsc::Sender<Message>,
    pub rx: WsReader,
    pub writer: JoinHandle<Result<()>>,
}

impl Conn {
    /// Opens `url` (TCP_NODELAY on) and starts its writer task.
    pub async fn connect(url: &str) -> Result<Conn> {
        let (ws, _) = tokio_tungstenite::connect_async_with_config(url, None, true)
            .await
            .with_context(|| format!("websocket connect {}", redact(url)))?;
        let (sink, rx) = ws.split();
        let (tx, queue) = mpsc::channel(WRITE_QUEUE);
        let writer = tokio::spawn(write_loop(sink, queue));
        Ok(Conn { tx, rx, writer })
    }

    /// Reads the next text frame, skipping control frames; `None` when the socket ended.
    pub async fn next_text(rx: &mut WsReader) -> Option<Result<String>> {
        loop {
            match rx.next().await? {
                Ok(Message::Text(t)) => return Some(Ok(t)),
                Ok(Message::Close(c)) => {
                    return Some(Err(anyhow!(
                        "closed by the engine: {}",
                        c.map(|c| format!("{} {}", c.code, c.reason))
                            .unwrap_or_default()
                    )))
                }
                Ok(_) => continue,
                Err(e) => return Some(Err(e.into())),
            }
        }
    }

    /// Reads the first text frame within `timeout`.
    pub async fn first_text(&mut self, timeout: Duration) -> Result<String> {
        match tokio::time::timeout(timeout, Self::next_text(&mut self.rx)).await {
            Ok(Some(r)) => r,
            Ok(None) => bail!("socket closed before the first message"),
            Err(_) => bail!("no first message within {timeout:?}"),
        }
    }

    /// Closes the sending side (the writer sends a close frame) and waits briefly for the
    /// writer to finish.
    pub async fn close(self) {
        let Conn { tx, rx, writer } = self;
        drop(tx);
        let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
        drop(rx);
    }
}

impl Conn {
    /// Drops a socket whose peer is gone without the closing handshake (a dead engine
    /// would make [`Conn::close`] wait for nothing): the writer task is stopped.
    pub fn abandon(self) {
        self.writer.abort();
    }
}

/// Writes queued frames, batching whatever is queued into one flush.
async fn write_loop(
    mut sink: SplitSink<Ws, Message>,
    mut queue: mpsc::Receiver<Message>,
) -> Result<()> {
    while let Some(m) = queue.recv().await {
        sink.feed(m).await?;
        while let Ok(m) = queue.try_recv() {
            sink.feed(m).await?;
        }
        sink.flush().await?;
    }
    let _ = sink.close().await;
    Ok(())
}

/// Hides the token in an agent socket URL for error messages.
fn redact(url: &str) -> String {
    match url.split_once("token=") {
        Some((a, _)) => format!("{a}token=…"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_urls() {
        assert_eq!(
            ws_base("http://127.0.0.1:8080/").unwrap(),
            "ws://127.0.0.1:8080"
        );
        assert!(ws_base("https://x").is_err());
        assert_eq!(
            redact("ws://h/ws/agent?token=abc"),
            "ws://h/ws/agent?token=…"
        );
    }
}
