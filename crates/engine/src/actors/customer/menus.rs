//! The customer actor's side of the IVR tree walked in writing (decisions in
//! `crate::ivr::messaging`; docs/ivr.md "Menus in writing").
//!
//! A customer message on a channel of `ivr.messaging.channels`, with no open
//! conversation and none to reopen, walks the menus. A turn commits, in one batch, the
//! customer's `message_in`, the menu (or article) as a `bot_reply` of kind `ivr`, its
//! outbox entry with the options as quick replies, the funnel's `self_service` step and
//! the updated `ivr_session` record — so a restart loses neither an acknowledged message
//! nor the customer's place. Its events carry the session's conversation id; no
//! conversation record exists yet.
//!
//! Leaving the tree does not commit here: [`CustomerActor::menus_inbound`] sets the
//! message's queue, skills and IVR path and leaves the exit pending; the ordinary
//! enqueue path of `Inbound` opens the conversation under the session's id
//! ([`CustomerActor::menus_conversation_id`]) and adds the parting reply and the
//! session's deletion to its own commit ([`CustomerActor::menus_take_exit`]). A
//! callback choice then turns the waiting conversation into a callback to the
//! customer's number (`callback::request`, source `messaging_ivr`): a second commit,
//! so if it is refused the customer still waits in the queue in writing, which is
//! logged.

use super::callback::{request, CallbackRequest};
use super::{Atomic, CustomerActor};
use crate::actors::messages::{EngineError, Inbound, InboundAck};
use crate::actors::outbound::Delivery;
use crate::domain::{
    AddressKind, Channel, ConversationId, EventKind, Millis, QueueName, ReportEvent, ReportKind,
    SelfServiceFront, TimelineEvent,
};
use crate::ivr::messaging::{article_text, ExitTo, Prompt, Session, Turn, Walk, IVR_SESSION};
use crate::store::{Batch, RecordWrite};
use actix::prelude::*;

/// The `source` of a callback chosen in the menus in writing.
pub const CALLBACK_SOURCE: &str = "messaging_ivr";

/// The written menus' state in the customer actor.
#[derive(Default)]
pub struct MenusState {
    /// The running session (loaded at activation, replaced after each turn).
    session: Option<Session>,
    /// An exit decided for the message being handled, taken by the enqueue path.
    pending: Option<PendingExit>,
}

struct PendingExit {
    conversation_id: ConversationId,
    channel: Channel,
    text: String,
    /// The number to call back and the queue waited in, for a callback choice.
    callback: Option<(String, QueueName)>,
    ivr_path: Vec<String>,
}

/// An exit's parting reply and callback, built by [`CustomerActor::menus_take_exit`].
pub struct MenusExit {
    reply: TimelineEvent,
    delivery: Option<Delivery>,
    callback: Option<(String, QueueName)>,
    ivr_path: Vec<String>,
}

impl CustomerActor {
    /// At activation: loads the customer's session in the written menus, if any (only
    /// when some channel walks them).
    pub(super) fn menus_load(&mut self, ctx: &mut Context<Self>) {
        if self.engine.settings.ivr.messaging.channels.is_empty() {
            return;
        }
        self.load_own_record(ctx, IVR_SESSION, |act, s| act.menus.session = Some(s));
    }

    /// The written menus' answer to `msg`, when they take it: `None` lets the ordinary
    /// path handle it (no menus on this channel, a conversation open or to reopen, or
    /// an exit, which the enqueue path completes after this sets `msg`'s queue, skills
    /// and IVR path). A queue the message already names (the connector's own) is where
    /// an exit that names none goes.
    pub(super) fn menus_inbound(
        &mut self,
        msg: &mut Inbound,
        now: Millis,
        idem: &Option<super::once::Idem>,
    ) -> Option<Atomic<InboundAck>> {
        self.menus.pending = None;
        if !self.engine.settings.walks_ivr(msg.channel) || self.open.is_some() {
            return None;
        }
        let ivr = self.engine.ivr()?;
        if self.reopenable(msg, now).is_some() {
            return None;
        }
        let callbacks = msg.channel.capabilities().address == AddressKind::Phone
            && self.engine.settings.callbacks.phone_allowed(&msg.address);
        let walk = Walk {
            tree: &ivr.tree,
            settings: &self.engine.settings.ivr,
            quick_replies: msg.channel.capabilities().quick_replies,
            callbacks,
        };
        // A session whose conversation exists already ended in an exit; an idle one
        // is over.
        let idle = self.engine.settings.ivr.messaging.idle_ms;
        let running = self.menus.session.clone().filter(|s| {
            s.channel == msg.channel
                && !s.expired(now, idle)
                && self
                    .last_closed
                    .as_ref()
                    .is_none_or(|c| c.id != s.conversation_id)
        });
        let (session, turn) = match running {
            Some(mut s) => {
                let turn = walk.answer(&mut s, &msg.text, now);
                (s, turn)
            }
            None => {
                let mut s = Session::new(&ivr.tree, msg.channel, &msg.text, now);
                let first = walk.start(&mut s);
                (s, Turn::Menu(first))
            }
        };
        let (prompt, article) = match turn {
            Turn::Menu(p) => (p, None),
            Turn::Article { id, then } => (then, Some(id)),
            Turn::Exit(exit) => {
                // The connector's own queue (`channels.<name>.queue`) stands in for
                // "the channel's default" where the choice names none.
                let (queue, callback) = match exit.to {
                    ExitTo::Queue(q) => (q.or_else(|| msg.queue.clone()), None),
                    ExitTo::Callback(q) => {
                        let q = q
                            .or_else(|| self.engine.default_queue_for(Channel::Voice))
                            .or_else(|| msg.queue.clone())
                            .or_else(|| self.engine.default_queue_for(msg.channel))?;
                        (Some(q.clone()), Some((msg.address.clone(), q)))
                    }
                };
                msg.queue = queue;
                msg.requirements = exit.skills;
                msg.ivr_path = exit.path.clone();
                self.menus.pending = Some(PendingExit {
                    conversation_id: session.conversation_id,
                    channel: msg.channel,
                    text: exit.text.replace("{phone}", &msg.address),
                    callback,
                    ivr_path: exit.path,
                });
                return None;
            }
        };
        let queue = msg
            .queue
            .clone()
            .or_else(|| self.engine.default_queue_for(msg.channel));
        Some(self.menus_turn(msg, session, prompt, article, queue, now, idem))
    }

    /// Commits one turn that keeps the customer in the menus (see the module doc).
    #[allow(clippy::too_many_arguments)]
    fn menus_turn(
        &mut self,
        msg: &Inbound,
        session: Session,
        prompt: Prompt,
        article: Option<String>,
        queue: Option<QueueName>,
        now: Millis,
        idem: &Option<super::once::Idem>,
    ) -> Atomic<InboundAck> {
        let conv_id = session.conversation_id;
        let channel = msg.channel;
        let message = self.message_in(msg, conv_id, now);
        let target = match self.reply_target(channel) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(channel = %channel, error = %e.message, "ivr menu not deliverable");
                None
            }
        };
        let bytes = match serde_json::to_vec(&session) {
            Ok(b) => b,
            Err(e) => return super::done(Err(EngineError::internal(e.to_string()))),
        };
        let mut batch = Batch {
            events: vec![message.clone()],
            records: vec![RecordWrite::put(IVR_SESSION, self.id.to_string(), bytes)],
            ..Default::default()
        };
        batch = self.with_idem(batch, idem.as_ref(), &message, conv_id);
        let customer = self.id;
        let store = self.engine.store.clone();
        let max_chars = self.engine.settings.ivr.max_article_chars;
        let path = session.path.clone();
        let idem = idem.clone();
        Atomic::new(Box::pin(
            async move {
                let read = match &article {
                    Some(id) => crate::articles::read(&store, id).await.unwrap_or_else(|e| {
                        tracing::warn!(article = %id, error = %e, "ivr article unreadable");
                        None
                    }),
                    None => None,
                };
                if let (Some(id), None) = (&article, &read) {
                    tracing::warn!(article = %id, "ivr article missing: the menu alone is shown");
                }
                let text = match &read {
                    Some(a) => format!(
                        "{}\n\n{}",
                        article_text(&a.title, &a.body, max_chars),
                        prompt.text
                    ),
                    None => prompt.text,
                };
                let reply = TimelineEvent::new(
                    customer,
                    Some(conv_id),
                    now,
                    EventKind::BotReply {
                        channel,
                        kind: "ivr".into(),
                        text: text.clone(),
                        article_id: read.as_ref().map(|a| a.id.clone()),
                        article_title: read.as_ref().map(|a| a.title.clone()),
                    },
                );
                let delivery = target.map(|to| {
                    let mut d = Delivery::plain(customer, conv_id, reply.id, channel, to, text);
                    d.quick_replies = prompt.choices;
                    d
                });
                batch.events.push(reply.clone());
                if let Some(d) = &delivery {
                    batch.outbox.push(d.entry(now));
                }
                batch.report_events.extend(queue.map(|queue| ReportEvent {
                    id: crate::domain::EventId::derived(reply.id, 0),
                    at: now,
                    queue,
                    channel,
                    conversation: conv_id,
                    customer,
                    agent: None,
                    difficulty: None,
                    kind: ReportKind::SelfService {
                        front: SelfServiceFront::ivr_on(channel),
                        path,
                        turns: 0,
                        answers: 0,
                        handoff: None,
                    },
                }));
                store
                    .commit(batch)
                    .await
                    .map_err(crate::store::StoreError::into_engine)?;
                Ok((reply, delivery))
            }
            .into_actor(self)
            .map(move |res, act, _| {
                let (reply, delivery) = res?;
                act.menus.session = Some(session);
                Ok(act.self_service_turn_done(channel, message, reply, delivery, idem))
            }),
        ))
    }

    /// The id a new conversation takes: the session's, when an exit is pending.
    pub(super) fn menus_conversation_id(&self) -> Option<ConversationId> {
        self.menus.pending.as_ref().map(|p| p.conversation_id)
    }

    /// Adds the pending exit (if any) to the enqueue commit: the parting `bot_reply`,
    /// its outbox entry and the session's deletion.
    pub(super) fn menus_take_exit(&mut self, mut batch: Batch) -> (Batch, Option<MenusExit>) {
        let Some(p) = self.menus.pending.take() else {
            return (batch, None);
        };
        let now = self.engine.now();
        let reply = self.bot_reply_event(p.conversation_id, p.channel, "ivr", p.text, None, now);
        let delivery = self.bot_delivery(&reply, p.conversation_id);
        batch.events.push(reply.clone());
        if let Some(d) = &delivery {
            batch.outbox.push(d.entry(now));
        }
        batch
            .records
            .push(RecordWrite::delete(IVR_SESSION, self.id.to_string()));
        (
            batch,
            Some(MenusExit {
                reply,
                delivery,
                callback: p.callback,
                ivr_path: p.ivr_path,
            }),
        )
    }

    /// Once the enqueue commit is durable: the session is over, the parting reply goes
    /// out, and a callback choice becomes a callback.
    pub(super) fn menus_exited(&mut self, exit: Option<MenusExit>) {
        let Some(exit) = exit else { return };
        self.menus.session = None;
        self.remember(&exit.reply);
        self.bot_send(exit.reply, exit.delivery);
        let Some((phone, queue)) = exit.callback else {
            return;
        };
        let engine = self.engine.clone();
        let customer = self.id;
        let ivr_path = exit.ivr_path;
        actix::spawn(async move {
            let req = CallbackRequest {
                phone,
                queue: None,
                note: None,
                ivr_path,
                source: CALLBACK_SOURCE.into(),
            };
            if let Err(e) = request(&engine, customer, req).await {
                tracing::warn!(customer = %customer, queue = %queue, error = %e.message,
                    "callback chosen in the written menus refused; the customer waits in writing");
            }
        });
    }
}
