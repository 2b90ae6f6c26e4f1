//! A conversation that opens while its queue is closed (the queue's business hours,
//! `routing::hours`): it goes to the queue's after-hours queue when that one is open,
//! and the customer is told the after-hours message once, on the channel they wrote
//! on, in the same commit as their message.
//!
//! The queue actor itself holds offers back while closed (`QueueActor::offers_now`);
//! here only the arrival is decided. A route never goes further than one queue: an
//! after-hours queue that is closed too leaves the conversation waiting where it was
//! headed, which is the documented fallback (nobody is routed in a circle). A call
//! that would wait so is abandoned at once: the caller hears the message and the
//! call ends (`channels::twilio_voice`), and no dead call is offered at the opening.

use super::CustomerActor;
use crate::actors::outbound::Delivery;
use crate::domain::{Channel, ConversationId, QueueName, TimelineEvent};
use crate::store::{Batch, TraceEntry};

/// What a closed queue does to one arriving conversation.
pub(super) struct AfterHours {
    /// The message told to the customer, if the queue has one.
    pub message: Option<String>,
    /// Why the queue is closed, and where the conversation went, for its trace.
    pub trace: String,
    /// The queue whose hours applied.
    pub closed_queue: QueueName,
    /// Nobody is offered it before the opening.
    pub waits_unoffered: bool,
}

/// The after-hours reply once stored: pushed or delivered after the customer's message.
pub(super) struct AfterHoursReply {
    event: TimelineEvent,
    delivery: Option<Delivery>,
}

impl CustomerActor {
    /// The queue a new conversation headed for `queue` goes to, and what the after-hours
    /// rules add to it (`None` while `queue` is open).
    pub(super) fn after_hours(&self, queue: QueueName) -> (QueueName, Option<AfterHours>) {
        let Some(plan) = self.engine.after_hours(&queue) else {
            return (queue, None);
        };
        let trace = if plan.to != queue {
            format!("{}; routed to queue {}", plan.why.describe(), plan.to)
        } else if plan.waits_unoffered {
            format!("{}; waits for the opening", plan.why.describe())
        } else {
            format!("{}; offered while closed", plan.why.describe())
        };
        let rules = AfterHours {
            message: plan.message,
            trace,
            closed_queue: queue,
            waits_unoffered: plan.waits_unoffered,
        };
        (plan.to, Some(rules))
    }

    /// Adds the after-hours trace, and the message's event and outbox entry, to the
    /// conversation's opening commit.
    pub(super) fn after_hours_batch(
        &self,
        plan: Option<AfterHours>,
        conv: ConversationId,
        channel: Channel,
        mut batch: Batch,
    ) -> (Batch, Option<AfterHoursReply>) {
        let Some(plan) = plan else {
            return (batch, None);
        };
        let now = self.engine.now();
        batch.traces.push(TraceEntry {
            conversation_id: conv,
            id: crate::domain::EventId::new(),
            at: now,
            queue: plan.closed_queue,
            step: "after_hours".into(),
            agent: None,
            detail: plan.trace,
        });
        let Some(text) = plan.message else {
            return (batch, None);
        };
        let event = self.bot_reply_event(conv, channel, "after_hours", text, None, now);
        // A caller hears it in the answer to the call (`channels::twilio_voice`).
        let delivery = match channel {
            Channel::Voice => None,
            _ => self.bot_delivery(&event, conv),
        };
        batch.events.push(event.clone());
        if let Some(d) = &delivery {
            batch.outbox.push(d.entry(now));
        }
        (batch, Some(AfterHoursReply { event, delivery }))
    }

    /// Tells the stored after-hours message (after the customer's own message).
    pub(super) fn after_hours_told(&mut self, reply: Option<AfterHoursReply>) {
        if let Some(r) = reply {
            self.remember(&r.event);
            self.bot_send(r.event, r.delivery);
        }
    }
}
