//! A reply on its way out, in domain terms, and the port that delivers it.
//!
//! The customer actor commits the `message_out` event together with the reply's outbox
//! entry, then hands a [`Delivery`] to the [`Outbound`] port (the server's dispatcher,
//! which calls the provider). The outcome comes back as [`record`]: a `message_status`
//! event in the customer's timeline, committed with the removal of the outbox entry.
//! The engine never names a provider.

use crate::actors::messages::RecordEvents;
use crate::actors::Engine;
use crate::domain::{
    Channel, ConversationId, CustomerId, DeliveryStatus, EventId, EventKind, TimelineEvent,
};

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
    /// Its provider was called (or about to be) in some run: durable in the outbox
    /// entry before the first call to a provider without idempotency keys, so a crash
    /// during that call never leads to a second send (see `DeliveryStatus::Unknown`).
    pub attempted: bool,
    /// Quick-reply choices shown under the text where the channel has them (LINE
    /// `quickReply`, Messenger `quick_replies`); each sends its label back as text. Kept
    /// in the outbox entry, so a resend after a restart offers them too.
    pub quick_replies: Vec<String>,
    /// How it goes out with respect to the channel's reply window.
    pub send_as: crate::domain::SendAs,
    /// Stored files sent with it (a connector that `carries_files` reads their bytes).
    pub attachments: Vec<crate::domain::Attachment>,
}

impl Delivery {
    /// A first attempt at plain text to `to` (no subject, thread, buttons, window
    /// rule or files; set those after).
    pub fn plain(
        customer_id: CustomerId,
        conversation_id: ConversationId,
        event_id: EventId,
        channel: Channel,
        to: String,
        text: String,
    ) -> Delivery {
        Delivery {
            customer_id,
            conversation_id,
            event_id,
            channel,
            to,
            text,
            subject: None,
            references: Vec::new(),
            attempt: 0,
            attempted: false,
            quick_replies: Vec::new(),
            send_as: Default::default(),
            attachments: Vec::new(),
        }
    }

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
            attempted: self.attempted,
            send_as: self.send_as.clone(),
            attachments: self.attachments.clone(),
            quick_replies: self.quick_replies.clone(),
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
            attempted: o.attempted,
            quick_replies: o.quick_replies,
            send_as: o.send_as,
            attachments: o.attachments,
        }
    }
}

/// Delivers replies. Implemented by the server's outbound dispatcher; an engine
/// without one records every reply as failed.
pub trait Outbound: Send + Sync + 'static {
    /// Queues `d` for delivery without blocking; a delivery that cannot be queued is
    /// recorded as failed at once (through [`record`]).
    fn submit(&self, engine: &Engine, d: Delivery);

    /// Graceful shutdown, first step: takes no new delivery; the provider calls in
    /// flight finish and record their outcome (see [`Outbound::idle`]).
    fn drain(&self);

    /// No provider call is in flight (after [`Outbound::drain`], all have finished).
    fn idle(&self) -> bool;

    /// Stops delivering at once (shutdown, after the drain or its deadline). A send
    /// still in flight is abandoned; its outbox entry stays for the next start.
    fn stop(&self);
}

/// The `message_status` event of `d`'s outcome.
fn status_event(
    engine: &Engine,
    d: &Delivery,
    status: DeliveryStatus,
    provider_msg_id: Option<String>,
    detail: Option<String>,
) -> RecordEvents {
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
    RecordEvents {
        events: vec![ev],
        outbox_done: vec![d.event_id],
    }
}

/// Records a delivery's final outcome in the customer's timeline and takes it out of
/// the outbox, in one commit (fire and forget).
pub fn record(
    engine: &Engine,
    d: &Delivery,
    status: DeliveryStatus,
    provider_msg_id: Option<String>,
    detail: Option<String>,
) {
    engine.tell_customer(
        d.customer_id,
        status_event(engine, d, status, provider_msg_id, detail),
    );
}

/// [`record`], returning once the outcome is durable (the dispatcher's workers wait
/// for it, so a graceful shutdown that waits for them loses no outcome).
pub async fn record_durably(
    engine: &Engine,
    d: &Delivery,
    status: DeliveryStatus,
    provider_msg_id: Option<String>,
    detail: Option<String>,
) -> crate::domain::EngineResult<()> {
    let msg = status_event(engine, d, status, provider_msg_id, detail);
    engine.ask_customer(d.customer_id, msg).await
}
