//! The customer actor's side of CSAT surveys: sending the question when a conversation
//! is resolved (committed with the resolution, through the outbox for providers), taking
//! an answer (chat widget, REST/email link, or a digit replied on SMS/LINE/Messenger
//! inside the answer window) and storing it once: the `survey` record, a
//! `survey_answered` timeline event and a `csat` report event in one commit.
//!
//! A phone call's survey is asked on the call itself, by keypad, when the agent hangs
//! up ([`AskPhoneSurvey`], before the conversation is resolved): the record and the
//! `survey_sent` event are written then, and the key pressed is an [`AnswerSurvey`]
//! like any other.
//!
//! Wording and answer parsing are `crate::survey` (pure).

use super::{done, try_atomic, Atomic, CustomerActor};
use crate::actors::messages::ChatNotice;
use crate::actors::messages::{EngineError, EngineResult, Inbound, InboundAck};
use crate::actors::outbound::Delivery;
use crate::domain::report::{ReportEvent, ReportKind};
use crate::domain::ErrorCode;
use crate::domain::{
    Channel, Conversation, ConversationId, EventId, EventKind, SurveyPath, TimelineEvent,
};
use crate::store::{Batch, RecordWrite};
use crate::survey::{self, Answer, Language, SurveyRecord, SurveyStatus, SCALE_MAX};
use actix::prelude::*;

/// Answer this customer's survey of `conversation_id`.
#[derive(Debug, Clone, Message, serde::Serialize, serde::Deserialize)]
#[rtype(result = "EngineResult<SurveyRecord>")]
pub struct AnswerSurvey {
    pub conversation_id: ConversationId,
    /// Already checked to be in 1..=scale.
    pub score: u8,
    pub comment: Option<String>,
    /// Where the answer came from.
    pub channel: Channel,
    /// The email link's secret, when the answer came through it (checked against the
    /// record's).
    pub secret: Option<String>,
}

/// The caller of voice conversation `conversation_id` is still on the line after the
/// agent hung up: ask the keypad survey (once). Replies with the language to ask in,
/// or `None` when no survey is asked (surveys off, not a call of this customer, or
/// already answered). Asked again (the platform retried), the same survey is asked.
#[derive(Debug, Clone, Message, serde::Serialize, serde::Deserialize)]
#[rtype(result = "EngineResult<Option<Language>>")]
pub struct AskPhoneSurvey {
    pub conversation_id: ConversationId,
}

/// What to do once a survey is committed.
pub(crate) struct SurveyOut {
    event: TimelineEvent,
    delivery: Option<Delivery>,
    chat: Option<ChatNotice>,
}

/// Client message id of the one "please answer 1–5" reminder of a conversation.
fn reprompt_id(conv: ConversationId) -> String {
    format!("survey-reprompt:{conv}")
}

impl CustomerActor {
    /// Hook of `CloseConversation` (resolve): when surveys are enabled and the
    /// conversation's channel can carry one, adds the question (event, record, outbox
    /// entry) to the resolution's `batch`.
    pub(super) fn survey_on_resolve(
        &self,
        batch: &mut Batch,
        conv: &Conversation,
    ) -> Option<SurveyOut> {
        let cfg = self.engine.survey();
        if !cfg.enabled || conv.state != crate::domain::ConversationState::Resolved {
            return None;
        }
        let customer = self.customer.as_ref()?;
        let channel = conv.channel;
        let target = match self.reply_target(channel) {
            Ok(t) => t,
            Err(e) => {
                tracing::info!(conversation = %conv.id, %channel, reason = %e.message, "no survey: channel cannot carry it");
                return None;
            }
        };
        let lang = Language::of_customer(customer, &cfg.default_language);
        let secret = (channel.capabilities().survey == SurveyPath::ByLink).then(survey::new_secret);
        let link = secret.as_ref().map(|s| {
            format!(
                "{}/survey/{}.{s}",
                self.engine.settings.channels.public_url, conv.id
            )
        });
        let text = survey::question(channel, lang, link.as_deref());
        let now = self.engine.now();
        let event = TimelineEvent::new(
            self.id,
            Some(conv.id),
            now,
            EventKind::SurveySent {
                channel,
                scale_max: SCALE_MAX,
                text: text.clone(),
            },
        );
        let record = sent_record(self.id, conv, channel, lang, now, secret);
        let bytes = serde_json::to_vec(&record).ok()?;
        batch
            .records
            .push(RecordWrite::put(survey::KIND, conv.id.to_string(), bytes));
        batch.events.push(event.clone());
        let delivery = target.map(|to| {
            let subject = (channel == Channel::Email).then(|| match lang {
                Language::Ja => "アンケートのお願い".to_owned(),
                Language::En => "How did we do?".to_owned(),
            });
            Delivery {
                customer_id: self.id,
                conversation_id: conv.id,
                event_id: event.id,
                channel,
                to,
                text: text.clone(),
                subject,
                references: Vec::new(),
                attempt: 0,
                attempted: false,
                quick_replies: if channel.capabilities().quick_replies {
                    (1..=SCALE_MAX).map(|n| n.to_string()).collect()
                } else {
                    Vec::new()
                },
                send_as: Default::default(),
                attachments: Vec::new(),
            }
        });
        if let Some(d) = &delivery {
            batch.outbox.push(d.entry(now));
        }
        let chat = delivery.is_none().then_some(ChatNotice::Survey {
            conversation_id: conv.id,
            question: text,
            scale_max: SCALE_MAX,
        });
        Some(SurveyOut {
            event,
            delivery,
            chat,
        })
    }

    /// After the resolution (with its survey) is committed: remember the event and send.
    pub(super) fn survey_sent(&mut self, out: Option<SurveyOut>) {
        let Some(out) = out else { return };
        self.remember(&out.event);
        if let Some(m) = out.chat {
            self.push_chat(m);
        }
        if let Some(d) = out.delivery {
            crate::metrics::message(d.channel, "out");
            self.engine.deliver(d);
        }
    }

    /// The latest survey of the last closed conversation still waiting for an answer on
    /// `channel` inside the answer window: `(conversation, language)`.
    fn survey_awaiting(&self, channel: Channel) -> Option<(ConversationId, Language)> {
        if self.open.is_some() {
            return None;
        }
        let conv = self.last_closed.as_ref()?.id;
        let mut sent = None;
        for e in self.recent.iter().rev() {
            if e.conversation_id != Some(conv) {
                continue;
            }
            match &e.kind {
                EventKind::SurveyAnswered { .. } => return None,
                EventKind::SurveySent {
                    channel: c, text, ..
                } => {
                    sent = Some((e.at, *c, text));
                    break;
                }
                _ => {}
            }
        }
        let (at, c, text) = sent?;
        let window = self.engine.survey().answer_window_ms;
        if c != channel || self.engine.now().since(at) > window {
            return None;
        }
        // The question's language is the one it was asked in.
        let lang = if text.is_ascii() {
            Language::En
        } else {
            Language::Ja
        };
        Some((conv, lang))
    }

    /// Hook of `Inbound`: a reply on SMS/LINE/Messenger to a survey waiting for its
    /// answer is taken as the answer (not a new message); a rating out of range gets one
    /// reminder. `None`: the message goes the normal way.
    pub(super) fn survey_reply(
        &mut self,
        msg: &Inbound,
        idem: Option<super::once::Idem>,
    ) -> Option<Atomic<InboundAck>> {
        if msg.channel.capabilities().survey != SurveyPath::ByReply {
            return None;
        }
        let (conv, lang) = self.survey_awaiting(msg.channel)?;
        match survey::parse_answer(&msg.text, SCALE_MAX) {
            Answer::NotAnAnswer => None,
            Answer::Score { score, comment } => {
                let max = self.engine.survey().max_comment_bytes;
                let comment = comment.map(|c| truncate(&c, max));
                let fut = self.answer_future(
                    AnswerSurvey {
                        conversation_id: conv,
                        score,
                        comment,
                        channel: msg.channel,
                        secret: None,
                    },
                    idem.clone(),
                );
                Some(Atomic::new(Box::pin(fut.map(
                    move |res, act: &mut CustomerActor, _| {
                        let (_, ev) = res?;
                        let ack = act.acked(idem, ev.id, conv);
                        Ok(ack)
                    },
                ))))
            }
            Answer::OutOfRange => {
                let rid = reprompt_id(conv);
                let reminded = self.recent.iter().any(|e| {
                    matches!(&e.kind, EventKind::MessageOut { client_msg_id: Some(c), .. } if *c == rid)
                });
                if reminded {
                    return None;
                }
                let to = self.reply_target(msg.channel).ok().flatten()?;
                let now = self.engine.now();
                let text = survey::reprompt(lang).to_owned();
                let ev = TimelineEvent::new(
                    self.id,
                    Some(conv),
                    now,
                    EventKind::MessageOut {
                        channel: msg.channel,
                        agent_id: None,
                        text: text.clone(),
                        client_msg_id: Some(rid),
                        attachments: Vec::new(),
                    },
                );
                let d = Delivery::plain(self.id, conv, ev.id, msg.channel, to, text);
                let mut batch = Batch::default().event(ev.clone());
                batch.outbox.push(d.entry(now));
                let batch = self.with_idem(batch, idem.as_ref(), &ev, conv);
                Some(self.commit_then(batch, move |act| {
                    act.remember(&ev);
                    act.engine.deliver(d);
                    let ack = act.acked(idem, ev.id, conv);
                    Ok(ack)
                }))
            }
        }
    }

    /// Reads the survey record, checks it can take this answer, and commits the answer
    /// (record, timeline event, report event) in one batch.
    fn answer_future(
        &self,
        a: AnswerSurvey,
        idem: Option<super::once::Idem>,
    ) -> impl ActorFuture<Self, Output = EngineResult<(SurveyRecord, TimelineEvent)>> + 'static
    {
        let retention = self.engine.settings.limits.idempotency_retention_ms;
        let store = self.engine.store.clone();
        let now = self.engine.now();
        let me = self.id;
        let window = self.engine.survey().answer_window_ms;
        async move {
            let key = a.conversation_id.to_string();
            let raw = store
                .record(survey::KIND, &key)
                .await
                .map_err(crate::store::StoreError::into_engine)?
                .ok_or_else(|| EngineError::not_found("survey"))?;
            let mut rec: SurveyRecord = serde_json::from_slice(&raw)
                .map_err(|e| EngineError::internal(format!("survey record: {e}")))?;
            if rec.customer_id != me {
                return Err(EngineError::not_found("survey"));
            }
            if let Some(s) = &a.secret {
                let ok = rec
                    .secret
                    .as_deref()
                    .is_some_and(|r| survey::same_secret(r, s));
                if !ok && rec.status == SurveyStatus::Sent {
                    return Err(EngineError::not_found("survey"));
                }
            }
            if rec.status == SurveyStatus::Answered {
                return Err(EngineError::new(
                    ErrorCode::Conflict,
                    "this survey was already answered",
                ));
            }
            if now.since(rec.sent_at) > window {
                return Err(EngineError::invalid("this survey has expired"));
            }
            rec.status = SurveyStatus::Answered;
            rec.score = Some(a.score);
            rec.comment = a.comment.clone();
            rec.answered_at = Some(now);
            rec.answered_on = Some(a.channel);
            // Single use: the link's secret is spent.
            rec.secret = None;
            let ev = TimelineEvent::new(
                me,
                Some(rec.conversation_id),
                now,
                EventKind::SurveyAnswered {
                    channel: a.channel,
                    score: a.score,
                    scale_max: rec.scale_max,
                    comment: a.comment.clone(),
                },
            );
            let report = ReportEvent {
                id: EventId::new(),
                at: now,
                queue: rec.queue.clone(),
                channel: rec.channel,
                conversation: rec.conversation_id,
                customer: me,
                agent: rec.agent.clone(),
                difficulty: rec.difficulty,
                kind: ReportKind::Csat {
                    score: a.score,
                    scale_max: rec.scale_max,
                },
            };
            let bytes = serde_json::to_vec(&rec)
                .map_err(|e| EngineError::internal(format!("survey record: {e}")))?;
            let batch = Batch {
                events: vec![ev.clone()],
                report_events: vec![report],
                records: vec![RecordWrite::put(survey::KIND, key, bytes)],
                idempotency: idem
                    .iter()
                    .map(|i| super::once::record(me, i, &ev, rec.conversation_id, retention))
                    .collect(),
                ..Default::default()
            };
            store
                .commit(batch)
                .await
                .map_err(crate::store::StoreError::into_engine)?;
            Ok((rec, ev))
        }
        .into_actor(self)
        .map(|res, act: &mut CustomerActor, _| {
            if let Ok((rec, ev)) = &res {
                act.remember(ev);
                crate::metrics::message(rec.channel, "in");
            }
            res
        })
    }
}

/// The record of a survey of `conv` just asked of `customer` on `channel`.
fn sent_record(
    customer: crate::domain::CustomerId,
    conv: &Conversation,
    channel: Channel,
    language: Language,
    now: crate::domain::Millis,
    secret: Option<String>,
) -> SurveyRecord {
    SurveyRecord {
        conversation_id: conv.id,
        customer_id: customer,
        channel,
        queue: conv.queue.clone(),
        agent: conv.agent.clone(),
        difficulty: crate::domain::difficulty_of(&conv.requirements),
        language,
        status: SurveyStatus::Sent,
        scale_max: SCALE_MAX,
        sent_at: now,
        secret,
        score: None,
        comment: None,
        answered_at: None,
        answered_on: None,
    }
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

impl Handler<AskPhoneSurvey> for CustomerActor {
    type Result = Atomic<Option<Language>>;

    fn handle(&mut self, msg: AskPhoneSurvey, _: &mut Context<Self>) -> Self::Result {
        try_atomic!(self.begin());
        let cfg = self.engine.survey();
        let conv = [self.open.as_ref(), self.last_closed.as_ref()]
            .into_iter()
            .flatten()
            .find(|c| c.id == msg.conversation_id && c.channel == Channel::Voice)
            .cloned();
        let (Some(conv), Some(customer), true) = (conv, self.customer.as_ref(), cfg.enabled) else {
            return done(Ok(None));
        };
        let lang = Language::of_customer(customer, &cfg.default_language);
        let store = self.engine.store.clone();
        let now = self.engine.now();
        let me = self.id;
        let record = sent_record(me, &conv, Channel::Voice, lang, now, None);
        let event = TimelineEvent::new(
            me,
            Some(conv.id),
            now,
            EventKind::SurveySent {
                channel: Channel::Voice,
                scale_max: SCALE_MAX,
                text: survey::phone_question(lang).to_owned(),
            },
        );
        Atomic::new(Box::pin(
            async move {
                let key = conv.id.to_string();
                let existing = store
                    .record(survey::KIND, &key)
                    .await
                    .map_err(crate::store::StoreError::into_engine)?;
                if let Some(raw) = existing {
                    let rec: SurveyRecord = serde_json::from_slice(&raw)
                        .map_err(|e| EngineError::internal(format!("survey record: {e}")))?;
                    return Ok(match rec.status {
                        SurveyStatus::Sent => Some((rec.language, None)),
                        _ => None,
                    });
                }
                let bytes = serde_json::to_vec(&record)
                    .map_err(|e| EngineError::internal(format!("survey record: {e}")))?;
                let batch = Batch {
                    events: vec![event.clone()],
                    records: vec![RecordWrite::put(survey::KIND, key, bytes)],
                    ..Default::default()
                };
                store
                    .commit(batch)
                    .await
                    .map_err(crate::store::StoreError::into_engine)?;
                Ok(Some((lang, Some(event))))
            }
            .into_actor(self)
            .map(|res: EngineResult<_>, act: &mut CustomerActor, _| {
                let asked = res?;
                if let Some((_, Some(ev))) = &asked {
                    act.remember(ev);
                }
                Ok(asked.map(|(lang, _)| lang))
            }),
        ))
    }
}

impl Handler<AnswerSurvey> for CustomerActor {
    type Result = Atomic<SurveyRecord>;

    fn handle(&mut self, msg: AnswerSurvey, _: &mut Context<Self>) -> Self::Result {
        try_atomic!(self.begin());
        if let Some(c) = &msg.comment {
            if c.len() > self.engine.survey().max_comment_bytes {
                return done(Err(EngineError::invalid(format!(
                    "comment longer than {} bytes",
                    self.engine.survey().max_comment_bytes
                ))));
            }
        }
        if !(1..=SCALE_MAX).contains(&msg.score) {
            return done(Err(EngineError::invalid(format!(
                "score must be an integer from 1 to {SCALE_MAX}"
            ))));
        }
        Atomic::new(Box::pin(self.answer_future(msg, None).map(|res, _, _| {
            let (mut rec, _) = res?;
            rec.secret = None;
            Ok(rec)
        })))
    }
}
