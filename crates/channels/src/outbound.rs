//! Outbound delivery of agent replies to providers' APIs.
//!
//! The dispatcher is the engine's outbound port ([`Outbound`]): the customer actor
//! commits the `message_out` event first, then submits the [`Delivery`], which never
//! blocks: a full queue fails the send at once
//! (recorded as `failed`). A fixed pool of worker tasks takes deliveries off one
//! bounded queue and calls the provider's API with a timeout. A temporary failure is
//! retried with exponential backoff up to `outbound_attempts` (within the rule below);
//! a permanent one (other 4xx) is not. The outcome becomes a
//! `message_status` event in the customer's timeline, so the agent sees what happened.
//!
//! Never twice. A call the provider de-duplicates (LINE's push with `X-Line-Retry-Key`
//! derived from the event id; [`crate::connector::Sender::idempotent`]) is made again
//! whatever went wrong: the provider sends each key once. Any other call (Twilio,
//! Messenger, SMTP, LINE's reply API) is made again only when the failure proves the
//! provider did not take the message (no connection, HTTP 429 or 503); a timeout, a
//! dropped connection or HTTP 500/502/504 ends the reply `unknown` instead. Durability:
//! the reply's outbox entry is committed with its `message_out` event and removed with
//! its final `message_status`; before a call that cannot be repeated it is marked
//! `attempted`, durably. At start every entry still in the outbox is submitted again
//! ([`Dispatcher::resume`]): a committed reply is sent even across a crash, except one
//! marked `attempted`, whose call may have reached the provider: it ends `unknown`.
//! A graceful stop lets the calls in flight finish and record their outcome first.

use crate::actors::Engine;
use crate::connector::{SendContext, SendFailure};
use crate::domain::DeliveryStatus;
use crate::registry::sender_for;
use crate::store::Batch;
use crate::Gateway;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use switchboard_engine::outbound::{record, record_durably, Delivery, Outbound};
use tokio::sync::{mpsc, Mutex};

/// The bounded outbound queue and its workers.
#[derive(Clone)]
pub struct Dispatcher {
    tx: mpsc::Sender<Delivery>,
    workers: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    /// Raised by [`Outbound::drain`]: workers take no new delivery.
    draining: Arc<tokio::sync::watch::Sender<bool>>,
    /// Provider calls in flight (with their outcome's commit).
    in_flight: Arc<AtomicUsize>,
}

impl Dispatcher {
    /// Starts the worker pool on the current runtime.
    pub fn start(gateway: Gateway) -> Self {
        let cfg = &gateway.channels();
        let (tx, rx) = mpsc::channel(cfg.outbound_queue.max(1));
        let rx = Arc::new(Mutex::new(rx));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(cfg.outbound_timeout_ms.max(1)))
            .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        let draining = Arc::new(tokio::sync::watch::Sender::new(false));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let mut workers = Vec::new();
        for _ in 0..cfg.outbound_workers.max(1) {
            let rx = rx.clone();
            let gateway = gateway.clone();
            let client = client.clone();
            let tx = tx.clone();
            let mut stop = draining.subscribe();
            let in_flight = in_flight.clone();
            workers.push(tokio::spawn(async move {
                loop {
                    let job = tokio::select! {
                        job = async { rx.lock().await.recv().await } => job,
                        _ = stop.wait_for(|d| *d) => None,
                    };
                    let Some(job) = job else { break };
                    in_flight.fetch_add(1, Ordering::SeqCst);
                    deliver(&gateway, &client, &tx, job).await;
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                }
            }));
        }
        Self {
            tx,
            workers: Arc::new(std::sync::Mutex::new(workers)),
            draining,
            in_flight,
        }
    }

    /// Submits every reply left in the outbox by the previous run.
    pub async fn resume(&self, gateway: &Gateway) -> Result<usize, crate::store::StoreError> {
        let pending = gateway
            .store
            .pending_outbox(gateway.channels().outbound_queue)
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

    /// Idle workers exit; busy ones finish their call (and its outcome's commit)
    /// first. Queued deliveries stay in the outbox for the next start.
    fn drain(&self) {
        self.draining.send_replace(true);
    }

    fn idle(&self) -> bool {
        self.in_flight.load(Ordering::SeqCst) == 0
    }

    /// Aborts the workers. A send in flight is abandoned; its outbox entry stays for
    /// the next start (which reports it `unknown` where the provider has no
    /// idempotency key and the call had begun).
    fn stop(&self) {
        self.draining.send_replace(true);
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
    mut d: Delivery,
) {
    let Some((_, sender)) = sender_for(d.channel) else {
        let detail = format!("no outbound connector for {}", d.channel);
        crate::metrics::outbound(d.channel, "failed");
        return settle(gateway, &d, DeliveryStatus::Failed, None, Some(detail)).await;
    };
    if d.attempted && d.attempt == 0 {
        // Left by a run that stopped during (or right before) the call: the provider
        // may have it, and cannot tell us. Never sent twice.
        crate::metrics::outbound(d.channel, "unknown");
        let detail = "the engine stopped while sending it; the provider may or may not \
                      have it, and it is not sent again (no idempotency key)";
        return settle(
            gateway,
            &d,
            DeliveryStatus::Unknown,
            None,
            Some(detail.into()),
        )
        .await;
    }
    if !d.attempted && !sender.idempotent(&d) {
        // Durable before the call, so a crash during it is known at the next start.
        d.attempted = true;
        let mark = Batch {
            outbox: vec![d.entry(gateway.now())],
            ..Default::default()
        };
        if let Err(e) = gateway.store.commit(mark).await {
            d.attempted = false;
            let f = SendFailure::temporary(e.to_string());
            return retry_or_fail(gateway, tx, d, f).await;
        }
    }
    match sender.send(SendContext { gateway, client }, &d).await {
        Ok(sent) => {
            crate::metrics::outbound(d.channel, "sent");
            if let Some(key) = sent.learned {
                learn(gateway, &d, key).await;
            }
            settle(
                gateway,
                &d,
                DeliveryStatus::Sent,
                sent.provider_msg_id,
                None,
            )
            .await;
        }
        Err(f) if f.maybe_sent => {
            crate::metrics::outbound(d.channel, "unknown");
            tracing::warn!(channel = %d.channel, detail = %crate::redact::Redacted(&f.detail), "outbound send outcome unknown; not resent");
            let detail = format!(
                "{}; the provider may have taken it, and it is not sent again (no \
                 idempotency key)",
                f.detail
            );
            settle(gateway, &d, DeliveryStatus::Unknown, None, Some(detail)).await;
        }
        Err(f) => retry_or_fail(gateway, tx, d, f).await,
    }
}

/// Links the address a provider's answer taught (`Sent::learned`) to the customer;
/// an address another customer owns already is left there and logged (an agent may
/// merge the two).
async fn learn(gateway: &Gateway, d: &Delivery, key: crate::domain::IdentityKey) {
    let channel = key.channel;
    match gateway
        .link_identity(d.customer_id, key, None, "private_reply")
        .await
    {
        Ok(switchboard_engine::actors::customer::identity::LinkOutcome::OwnedBy(other)) => {
            tracing::info!(%channel, customer = %d.customer_id, %other, "address a private reply taught belongs to another customer; not linked");
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(%channel, error = %e, "address a private reply taught not linked");
        }
    }
}

/// A temporary failure is retried with backoff while attempts remain; anything else
/// is recorded as failed. A retried reply the provider did not take loses its
/// `attempted` mark first (durably), so a restart before the retry sends it again.
async fn retry_or_fail(
    gateway: &Gateway,
    tx: &mpsc::Sender<Delivery>,
    d: Delivery,
    f: SendFailure,
) {
    let cfg = &gateway.channels();
    if f.temporary && d.attempt + 1 < cfg.outbound_attempts {
        tracing::info!(channel = %d.channel, attempt = d.attempt, detail = %crate::redact::Redacted(&f.detail), "outbound send failed; retrying");
        let delay = cfg.outbound_retry_ms.saturating_mul(1 << d.attempt.min(10));
        let mut next = d;
        next.attempt += 1;
        if next.attempted && !f.maybe_sent {
            next.attempted = false;
            let clear = Batch {
                outbox: vec![next.entry(gateway.now())],
                ..Default::default()
            };
            if gateway.store.commit(clear).await.is_err() {
                // Still marked: a restart before the retry reports it `unknown`.
                next.attempted = true;
            }
        }
        // Counted once the retry is set up (its mark cleared): what tests wait for.
        crate::metrics::outbound(next.channel, "retried");
        let tx = tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(delay)).await;
            let _ = tx.send(next).await;
        });
        return;
    }
    crate::metrics::outbound(d.channel, "failed");
    tracing::warn!(channel = %d.channel, detail = %crate::redact::Redacted(&f.detail), "outbound send failed");
    settle(gateway, &d, DeliveryStatus::Failed, None, Some(f.detail)).await;
}

/// Records `d`'s final outcome and waits until it is durable (a failure to record it
/// leaves the outbox entry, so the next start settles it).
async fn settle(
    gateway: &Gateway,
    d: &Delivery,
    status: DeliveryStatus,
    provider_id: Option<String>,
    detail: Option<String>,
) {
    if let Err(e) = record_durably(gateway, d, status, provider_id, detail).await {
        tracing::warn!(channel = %d.channel, error = %e, "delivery outcome not recorded");
    }
}
