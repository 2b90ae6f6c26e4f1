//! Outbound delivery of agent replies to providers' APIs.
//!
//! The dispatcher is the engine's outbound port ([`Outbound`]): the customer actor
//! commits the `message_out` event first, then submits the [`Delivery`], which never
//! blocks: a full queue fails the send at once
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

use crate::actors::Engine;
use crate::connector::{SendContext, SendFailure};
use crate::domain::DeliveryStatus;
use crate::registry::sender_for;
use crate::Gateway;
use std::sync::Arc;
use std::time::Duration;
use switchboard_engine::outbound::{record, Delivery, Outbound};
use tokio::sync::{mpsc, Mutex};

/// The bounded outbound queue and its workers.
#[derive(Clone)]
pub struct Dispatcher {
    tx: mpsc::Sender<Delivery>,
    workers: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Dispatcher {
    /// Starts the worker pool on the current runtime.
    pub fn start(gateway: Gateway) -> Self {
        let cfg = &gateway.channels;
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
            let gateway = gateway.clone();
            let client = client.clone();
            let tx = tx.clone();
            workers.push(tokio::spawn(async move {
                loop {
                    let job = { rx.lock().await.recv().await };
                    let Some(job) = job else { break };
                    deliver(&gateway, &client, &tx, job).await;
                }
            }));
        }
        Self {
            tx,
            workers: Arc::new(std::sync::Mutex::new(workers)),
        }
    }

    /// Submits every reply left in the outbox by the previous run.
    pub async fn resume(&self, gateway: &Gateway) -> Result<usize, crate::store::StoreError> {
        let pending = gateway
            .store
            .pending_outbox(gateway.channels.outbound_queue)
            .await?;
        let n = pending.len();
        for o in pending {
            self.submit(gateway, o.into());
        }
        Ok(n)
    }
}

impl Outbound for Dispatcher {
    /// Queues `d`; a full queue records the send as failed at once.
    fn submit(&self, engine: &Engine, d: Delivery) {
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

    /// Stops the workers (shutdown). A send in flight is abandoned; its outbox entry
    /// stays, so the next start sends it.
    fn stop(&self) {
        let workers = std::mem::take(&mut *self.workers.lock().unwrap_or_else(|p| p.into_inner()));
        for w in workers {
            w.abort();
        }
    }
}

async fn deliver(
    gateway: &Gateway,
    client: &reqwest::Client,
    tx: &mpsc::Sender<Delivery>,
    d: Delivery,
) {
    let cfg = &gateway.channels;
    let result = match sender_for(d.channel) {
        Some((_, s)) => s.send(SendContext { gateway, client }, &d).await,
        None => Err(SendFailure::permanent(format!(
            "no outbound connector for {}",
            d.channel
        ))),
    };
    match result {
        Ok(provider_id) => {
            crate::metrics::outbound(d.channel, "sent");
            record(gateway, &d, DeliveryStatus::Sent, provider_id, None);
        }
        Err(f) if f.temporary && d.attempt + 1 < cfg.outbound_attempts => {
            crate::metrics::outbound(d.channel, "retried");
            tracing::info!(channel = %d.channel, attempt = d.attempt, detail = %crate::redact::Redacted(&f.detail), "outbound send failed; retrying");
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
            tracing::warn!(channel = %d.channel, detail = %crate::redact::Redacted(&f.detail), "outbound send failed");
            record(gateway, &d, DeliveryStatus::Failed, None, Some(f.detail));
        }
    }
}
