//! Outbound delivery of agent replies to providers' APIs.
//!
//! The customer actor commits the `message_out` event first, then calls
//! [`Dispatcher::submit`], which never blocks: a full queue fails the send at once
//! (recorded as `failed`). A fixed pool of worker tasks takes deliveries off one
//! bounded queue and calls the provider's API with a timeout. A temporary failure
//! (network error, timeout, HTTP 429 or 5xx) is retried with exponential backoff up to
//! `outbound_attempts`; a permanent one (other 4xx) is not. The outcome becomes a
//! `message_status` event in the customer's timeline, so the agent sees what happened.
//!
//! Retries reuse the provider's idempotency key where it has one (LINE's
//! `X-Line-Retry-Key` is derived from the event id), so a retried push is sent once.
//! Durability: the reply's outbox entry is committed with its `message_out` event and
//! removed with its final `message_status`; at start every entry still in the outbox is
//! submitted again ([`Dispatcher::resume`]), so a committed reply is sent at least once
//! even across a crash.

use super::connector::SendContext;
use crate::actors::messages::RecordEvents;
use crate::actors::registry::Engine;
use crate::domain::{
    Channel, ConversationId, CustomerId, DeliveryStatus, EventId, EventKind, TimelineEvent,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Mutex};

/// One reply to deliver.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub customer_id: CustomerId,
    pub conversation_id: ConversationId,
    /// The committed `message_out` event.
    pub event_id: EventId,
    pub channel: Channel,
    /// The customer's address on `channel`.
    pub to: String,
    pub text: String,
    /// Email subject of the thread.
    pub subject: Option<String>,
    /// Email message ids to thread under (In-Reply-To / References).
    pub references: Vec<String>,
    pub attempt: u32,
    /// Quick-reply choices shown under the text where the channel has them (LINE
    /// `quickReply`, Messenger `quick_replies`); each sends its label back as text. Not
    /// kept in the outbox: a delivery resent after a restart is plain text.
    pub quick_replies: Vec<String>,
}

impl Delivery {
    /// The durable outbox record of this delivery.
    pub fn entry(&self, created_at: crate::domain::Millis) -> crate::store::OutboxEntry {
        crate::store::OutboxEntry {
            event_id: self.event_id,
            customer_id: self.customer_id,
            conversation_id: self.conversation_id,
            channel: self.channel,
            to: self.to.clone(),
            text: self.text.clone(),
            subject: self.subject.clone(),
            references: self.references.clone(),
            created_at,
        }
    }
}

impl From<crate::store::OutboxEntry> for Delivery {
    fn from(o: crate::store::OutboxEntry) -> Self {
        Self {
            customer_id: o.customer_id,
            conversation_id: o.conversation_id,
            event_id: o.event_id,
            channel: o.channel,
            to: o.to,
            text: o.text,
            subject: o.subject,
            references: o.references,
            attempt: 0,
            quick_replies: Vec::new(),
        }
    }
}

/// A provider call that did not succeed.
#[derive(Debug, Clone)]
pub struct SendFailure {
    /// Worth retrying (network, timeout, 429, 5xx).
    pub temporary: bool,
    pub detail: String,
}

impl SendFailure {
    pub fn permanent(d: impl Into<String>) -> Self {
        Self {
            temporary: false,
            detail: d.into(),
        }
    }
    pub fn temporary(d: impl Into<String>) -> Self {
        Self {
            temporary: true,
            detail: d.into(),
        }
    }
    /// Classifies a reqwest error (all transport failures are temporary).
    pub fn from_reqwest(e: reqwest::Error) -> Self {
        Self::temporary(format!("request failed: {e}"))
    }
    /// Classifies a non-success HTTP status.
    pub fn from_status(status: reqwest::StatusCode, body: &str) -> Self {
        let detail = format!(
            "HTTP {}: {}",
            status.as_u16(),
            body.chars().take(300).collect::<String>()
        );
        if status.as_u16() == 429 || status.is_server_error() {
            Self::temporary(detail)
        } else {
            Self::permanent(detail)
        }
    }
}

/// Result of a successful provider call: its id for the message, if it gave one.
pub type SendResult = Result<Option<String>, SendFailure>;

/// The bounded outbound queue and its workers.
#[derive(Clone)]
pub struct Dispatcher {
    tx: mpsc::Sender<Delivery>,
    workers: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Dispatcher {
    /// Starts the worker pool on the current runtime.
    pub fn start(engine: Engine) -> Self {
        let cfg = &engine.settings.channels;
        let (tx, rx) = mpsc::channel(cfg.outbound_queue.max(1));
        let rx = Arc::new(Mutex::new(rx));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(cfg.outbound_timeout_ms.max(1)))
            .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        let mut workers = Vec::new();
        for _ in 0..cfg.outbound_workers.max(1) {
            let rx = rx.clone();
            let engine = engine.clone();
            let client = client.clone();
            let tx = tx.clone();
            workers.push(tokio::spawn(async move {
                loop {
                    let job = { rx.lock().await.recv().await };
                    let Some(job) = job else { break };
                    deliver(&engine, &client, &tx, job).await;
                }
            }));
        }
        Self {
            tx,
            workers: Arc::new(std::sync::Mutex::new(workers)),
        }
    }

    /// Stops the workers (shutdown). A send in flight is abandoned; its outbox entry
    /// stays, so the next start sends it.
    pub fn stop(&self) {
        let workers = std::mem::take(&mut *self.workers.lock().unwrap_or_else(|p| p.into_inner()));
        for w in workers {
            w.abort();
        }
    }

    /// Submits every reply left in the outbox by the previous run.
    pub async fn resume(&self, engine: &Engine) -> Result<usize, crate::store::StoreError> {
        let pending = engine
            .store
            .pending_outbox(engine.settings.channels.outbound_queue)
            .await?;
        let n = pending.len();
        for o in pending {
            self.submit(engine, o.into());
        }
        Ok(n)
    }

    /// Queues `d`; a full queue records the send as failed at once.
    pub fn submit(&self, engine: &Engine, d: Delivery) {
        if let Err(e) = self.tx.try_send(d) {
            let d = match e {
                mpsc::error::TrySendError::Full(d) | mpsc::error::TrySendError::Closed(d) => d,
            };
            crate::metrics::outbound(d.channel, "dropped");
            record(
                engine,
                &d,
                DeliveryStatus::Failed,
                None,
                Some("outbound queue full".into()),
            );
        }
    }
}

async fn deliver(
    engine: &Engine,
    client: &reqwest::Client,
    tx: &mpsc::Sender<Delivery>,
    d: Delivery,
) {
    let cfg = &engine.settings.channels;
    let result = match super::connector::sender_for(d.channel) {
        Some(c) => c.send(SendContext { engine, client }, &d).await,
        None => Err(SendFailure::permanent(format!(
            "no outbound connector for {}",
            d.channel
        ))),
    };
    match result {
        Ok(provider_id) => {
            crate::metrics::outbound(d.channel, "sent");
            record(engine, &d, DeliveryStatus::Sent, provider_id, None);
        }
        Err(f) if f.temporary && d.attempt + 1 < cfg.outbound_attempts => {
            crate::metrics::outbound(d.channel, "retried");
            tracing::info!(channel = %d.channel, attempt = d.attempt, detail = %crate::security::Redacted(&f.detail), "outbound send failed; retrying");
            let delay = cfg.outbound_retry_ms.saturating_mul(1 << d.attempt.min(10));
            let tx = tx.clone();
            let mut next = d;
            next.attempt += 1;
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(delay)).await;
                let _ = tx.send(next).await;
            });
        }
        Err(f) => {
            crate::metrics::outbound(d.channel, "failed");
            tracing::warn!(channel = %d.channel, detail = %crate::security::Redacted(&f.detail), "outbound send failed");
            record(engine, &d, DeliveryStatus::Failed, None, Some(f.detail));
        }
    }
}

/// Records a delivery's final outcome in the customer's timeline and takes it out of
/// the outbox, in one commit.
pub fn record(
    engine: &Engine,
    d: &Delivery,
    status: DeliveryStatus,
    provider_msg_id: Option<String>,
    detail: Option<String>,
) {
    let ev = TimelineEvent::new(
        d.customer_id,
        Some(d.conversation_id),
        engine.now(),
        EventKind::MessageStatus {
            message_event_id: d.event_id,
            channel: d.channel,
            status,
            provider_msg_id,
            detail,
        },
    );
    engine.tell_customer(
        d.customer_id,
        RecordEvents {
            events: vec![ev],
            outbox_done: vec![d.event_id],
        },
    );
}
