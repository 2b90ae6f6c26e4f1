//! The customer actor's side of the FAQ bot (decisions in `crate::bot`).
//!
//! A customer message on a bot-enabled channel, with no open conversation and none to
//! reopen, goes to the bot. A bot turn commits, in one batch, the customer's
//! `message_in`, the `bot_reply`, the reply's outbox entry (SMS, LINE, Messenger), the
//! session's `self_service` report event (the funnel report) and the updated
//! `bot_session` record — so a restart never loses an acknowledged
//! message or a session mid-way. Its events carry the session's conversation id but
//! no conversation record exists yet.
//!
//! A hand-off does not commit here: [`CustomerActor::bot_inbound`] leaves the
//! decision pending and the ordinary enqueue path of `Inbound` opens the conversation
//! under the session's id ([`CustomerActor::bot_conversation_id`]), adds the
//! hand-off's `bot_reply` + `bot_handoff` events and the session's deletion to its own
//! commit ([`CustomerActor::bot_take_handoff`]), and sends the reply once durable
//! ([`CustomerActor::bot_handed_off`]).

use super::{Atomic, CustomerActor};
use crate::actors::messages::{ChatNotice, EngineError, Inbound, InboundAck};
use crate::actors::outbound::Delivery;
use crate::bot::{
    decide, language_of, BotSession, BotTurn, Candidate, Decision, HandoffReason, BOT_SESSION,
};
use crate::domain::{Channel, ConversationId, EventKind, Millis, TimelineEvent};
use crate::reports::derive::bot_turn;
use crate::store::{Batch, RecordWrite};
use actix::prelude::*;

/// `client_msg_id` prefix of the web chat's "talk to a person" button (see
/// `ChatClientMsg::Handoff`).
pub const HANDOFF_BUTTON_PREFIX: &str = "handoff:";

/// The `client_msg_id` a button press is stored under: prefixed once.
pub fn button_id(client_msg_id: String) -> String {
    if client_msg_id.starts_with(HANDOFF_BUTTON_PREFIX) {
        client_msg_id
    } else {
        format!("{HANDOFF_BUTTON_PREFIX}{client_msg_id}")
    }
}

/// The bot's state in the customer actor.
#[derive(Default)]
pub struct BotState {
    /// The running session (loaded at activation, replaced after each turn).
    session: Option<BotSession>,
    /// A hand-off decided for the message being handled, taken by the enqueue path.
    pending: Option<Pending>,
}

struct Pending {
    session: BotSession,
    reason: HandoffReason,
    text: String,
    channel: Channel,
}

/// A hand-off's events and reply, built by [`CustomerActor::bot_take_handoff`].
pub struct Handoff {
    events: Vec<TimelineEvent>,
    delivery: Option<Delivery>,
}

impl CustomerActor {
    /// At activation: loads the customer's bot session, if one is running.
    pub(super) fn bot_load(&mut self, ctx: &mut Context<Self>) {
        self.load_own_record(ctx, BOT_SESSION, |act, s| act.bot.session = Some(s));
    }

    /// The bot's answer to `msg`, when the bot takes it: `None` lets the ordinary path
    /// handle it (bot off for this channel or queue, a conversation open or to reopen,
    /// or a hand-off, which the enqueue path completes).
    pub(super) fn bot_inbound(
        &mut self,
        msg: &Inbound,
        now: Millis,
        idem: &Option<super::once::Idem>,
    ) -> Option<Atomic<InboundAck>> {
        self.bot.pending = None;
        let cfg = &self.engine.settings.bot;
        if !cfg.enabled || !cfg.channels.contains(&msg.channel) || self.open.is_some() {
            return None;
        }
        if self.reopenable(msg, now).is_some() {
            return None;
        }
        let queue = msg
            .queue
            .clone()
            .or_else(|| self.engine.default_queue_for(msg.channel))?;
        if !cfg.queues.is_empty() && !cfg.queues.contains(&queue) {
            return None;
        }
        // A session whose conversation exists already ended in a hand-off; an idle one
        // is over.
        let used = |s: &BotSession| {
            self.last_closed
                .as_ref()
                .is_some_and(|c| c.id == s.conversation_id)
                || s.expired(now, cfg.session_idle_ms)
        };
        let mut session = match self.bot.session.clone() {
            Some(s) if !used(&s) => s,
            _ => BotSession::new(self.id, msg.channel, &msg.text, now),
        };
        let button = msg
            .client_msg_id
            .as_deref()
            .is_some_and(|c| c.starts_with(HANDOFF_BUTTON_PREFIX));
        let best = if button {
            None
        } else {
            self.engine
                .answers()
                .and_then(|a| a.best(&msg.text, language_of(&msg.text), msg.channel))
        };
        let (text, article) = match decide(cfg, &session, &msg.text, button, best) {
            Decision::Handoff { text, reason } => {
                session.turns.push(BotTurn {
                    question: msg.text.clone(),
                    answer: text.clone(),
                    article_id: None,
                    article_title: None,
                    at: now,
                });
                self.bot.pending = Some(Pending {
                    session,
                    reason,
                    text,
                    channel: msg.channel,
                });
                return None;
            }
            Decision::Answer { text, article } => (text, Some(article)),
            Decision::NotSure { text } => {
                session.unanswered += 1;
                (text, None)
            }
        };
        session.turns.push(BotTurn {
            question: msg.text.clone(),
            answer: text.clone(),
            article_id: article.as_ref().map(|a| a.id.clone()),
            article_title: article.as_ref().map(|a| a.title.clone()),
            at: now,
        });
        let conv_id = session.conversation_id;
        let message = self.message_in(msg, conv_id, now);
        let kind = if article.is_some() {
            "answer"
        } else {
            "not_sure"
        };
        let reply = self.bot_reply_event(conv_id, msg.channel, kind, text, article.as_ref(), now);
        let mut delivery = self.bot_delivery(&reply, conv_id);
        // Where the channel shows buttons, one under the answer asks for a person.
        if let Some(d) = delivery
            .as_mut()
            .filter(|_| msg.channel.capabilities().quick_replies)
        {
            d.quick_replies = cfg
                .handoff_button(&session.language)
                .map(str::to_owned)
                .into_iter()
                .collect();
        }
        let bytes = match serde_json::to_vec(&session) {
            Ok(b) => b,
            Err(e) => return Some(super::done(Err(EngineError::internal(e.to_string())))),
        };
        let mut batch = Batch {
            events: vec![message.clone(), reply.clone()],
            records: vec![RecordWrite::put(BOT_SESSION, self.id.to_string(), bytes)],
            report_events: bot_turn(&reply, &queue, &session.turns)
                .into_iter()
                .collect(),
            ..Default::default()
        };
        if let Some(d) = &delivery {
            batch.outbox.push(d.entry(now));
        }
        let batch = self.with_idem(batch, idem.as_ref(), &message, conv_id);
        let channel = msg.channel;
        let idem = idem.clone();
        Some(self.commit_then(batch, move |act| {
            act.bot.session = Some(session);
            Ok(act.self_service_turn_done(channel, message, reply, delivery, idem))
        }))
    }

    /// Once a self-service turn (the bot's, or the written IVR's) is durable: the
    /// message counted and remembered with the reply, acknowledged, pushed to the
    /// customer's chat sockets, and the reply sent.
    pub(super) fn self_service_turn_done(
        &mut self,
        channel: Channel,
        message: TimelineEvent,
        reply: TimelineEvent,
        delivery: Option<Delivery>,
        idem: Option<super::once::Idem>,
    ) -> InboundAck {
        crate::metrics::message(channel, "in");
        self.remember(&message);
        self.remember(&reply);
        let conv = message.conversation_id.unwrap_or_default();
        let ack = self.acked(idem, message.id, conv);
        self.push_chat(ChatNotice::Event { event: message });
        self.bot_send(reply, delivery);
        ack
    }

    /// The id a new conversation takes: the handed-off session's, when one is pending.
    pub(super) fn bot_conversation_id(&self) -> Option<ConversationId> {
        self.bot.pending.as_ref().map(|p| p.session.conversation_id)
    }

    /// Adds the pending hand-off (if any) to the enqueue commit: the `bot_reply`
    /// telling the customer a person is coming, the `bot_handoff` with the whole
    /// transcript, the reply's outbox entry and the session's deletion.
    pub(super) fn bot_take_handoff(&mut self, mut batch: Batch) -> (Batch, Option<Handoff>) {
        let Some(p) = self.bot.pending.take() else {
            return (batch, None);
        };
        let now = self.engine.now();
        let conv = p.session.conversation_id;
        let reply = self.bot_reply_event(conv, p.channel, "handoff", p.text, None, now);
        let delivery = self.bot_delivery(&reply, conv);
        let handoff = TimelineEvent::new(
            self.id,
            Some(conv),
            now,
            EventKind::BotHandoff {
                reason: p.reason.as_str().into(),
                language: p.session.language.clone(),
                transcript: p.session.turns,
            },
        );
        batch.events.push(reply.clone());
        batch.events.push(handoff.clone());
        if let Some(d) = &delivery {
            batch.outbox.push(d.entry(now));
        }
        batch
            .records
            .push(RecordWrite::delete(BOT_SESSION, self.id.to_string()));
        (
            batch,
            Some(Handoff {
                events: vec![reply, handoff],
                delivery,
            }),
        )
    }

    /// Once the enqueue commit is durable: the session is over, the events join the
    /// recent timeline (the agent's view), the reply goes out.
    pub(super) fn bot_handed_off(&mut self, h: Option<Handoff>) {
        let Some(h) = h else { return };
        self.bot.session = None;
        for e in &h.events {
            self.remember(e);
        }
        let mut events = h.events.into_iter();
        if let Some(reply) = events.next() {
            self.bot_send(reply, h.delivery);
        }
        for e in events {
            self.push_chat(ChatNotice::Event { event: e });
        }
    }

    pub(super) fn bot_reply_event(
        &self,
        conv: ConversationId,
        channel: Channel,
        kind: &str,
        text: String,
        article: Option<&Candidate>,
        now: Millis,
    ) -> TimelineEvent {
        TimelineEvent::new(
            self.id,
            Some(conv),
            now,
            EventKind::BotReply {
                channel,
                kind: kind.to_owned(),
                text,
                article_id: article.map(|a| a.id.clone()),
                article_title: article.map(|a| a.title.clone()),
            },
        )
    }

    /// The outbox delivery of a bot reply on a provider channel (`None` on the web chat,
    /// whose sockets get it, or when the channel cannot take replies).
    pub(super) fn bot_delivery(
        &self,
        reply: &TimelineEvent,
        conv: ConversationId,
    ) -> Option<Delivery> {
        let EventKind::BotReply { channel, text, .. } = &reply.kind else {
            return None;
        };
        match self.reply_target(*channel) {
            Ok(Some(to)) => Some(Delivery::plain(
                self.id,
                conv,
                reply.id,
                *channel,
                to,
                text.clone(),
            )),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(channel = %channel, error = %e.message, "bot reply not deliverable");
                None
            }
        }
    }

    pub(super) fn bot_send(&self, reply: TimelineEvent, delivery: Option<Delivery>) {
        let channel = match &reply.kind {
            EventKind::BotReply { channel, .. } => *channel,
            _ => return,
        };
        crate::metrics::message(channel, "out");
        match delivery {
            Some(d) => self.engine.deliver(d),
            None => self.push_chat(ChatNotice::Event { event: reply }),
        }
    }
}
