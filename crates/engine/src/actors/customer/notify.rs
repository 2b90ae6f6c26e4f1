//! The customer actor's side of proactive notifications: a [`Notify`] order (from
//! `POST /api/v1/events` or the scheduler) is sent on the first usable channel of the
//! customer's preference, scheduled, or suppressed — decided and committed here, where
//! the customer's opt-outs and addresses live, so an opt-out that arrives first always
//! wins and one idempotency key is sent once.
//!
//! A send is one commit: the `notification_sent` timeline event, its outbox entry, the
//! `notification` record (and, for email, an unsubscribe token), and the removal of the
//! `notify_due` record it came from.

pub mod scheduler;

use super::{Atomic, CustomerActor};
use crate::actors::messages::{ConversationEvent, EngineError, EngineResult};
use crate::actors::outbound::Delivery;
use crate::domain::{Channel, EventKind, TimelineEvent};
use crate::notify::{
    self, NotificationRecord, NotificationStatus, Rule, SendOrder, NOTIFICATION_KIND,
};
use crate::store::{Batch, RecordWrite};
use crate::survey::Language;
use crate::template::Template;
use actix::prelude::*;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Send (or schedule) one notification to this customer.
#[derive(Debug, Clone, Message, serde::Serialize, serde::Deserialize)]
#[rtype(result = "EngineResult<NotificationRecord>")]
pub struct Notify {
    pub order: SendOrder,
    pub rule: Rule,
    /// The `notify_due` record this send comes from (the scheduler), removed with it.
    pub due_key: Option<String>,
}

/// The document behind an unsubscribe link (record kind `unsubscribe`, key = token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnsubscribeToken {
    pub customer_id: crate::domain::CustomerId,
    pub channel: Channel,
}

/// What [`CustomerActor::notify_plan`] decided: a commit (batch, the record it
/// writes, the send to make after it), or the stored notification as it stands.
type Plan = Result<(Batch, NotificationRecord, Option<AfterSend>), NotificationRecord>;

/// What to do once a send is committed.
struct AfterSend {
    event: TimelineEvent,
    delivery: Delivery,
}

impl CustomerActor {
    /// Decides what `msg` does now, given the stored notification `existing`.
    fn notify_plan(
        &self,
        msg: &Notify,
        existing: Option<NotificationRecord>,
    ) -> EngineResult<Plan> {
        let customer = self.check_ready()?.clone();
        let now = self.engine.now();
        let order = &msg.order;
        match existing {
            // Idempotent: the same key names the same notification, sent once.
            Some(rec) if rec.status != NotificationStatus::Scheduled => return Ok(Err(rec)),
            Some(rec) if msg.due_key.is_none() => return Ok(Err(rec)),
            _ => {}
        }
        let mut batch = Batch::default();
        if let Some(k) = &msg.due_key {
            batch
                .records
                .push(RecordWrite::delete(notify::DUE_KIND, k.clone()));
        }
        let mut rec = NotificationRecord {
            id: order.id.clone(),
            event_type: order.event_type.clone(),
            customer_id: self.id,
            status: NotificationStatus::Scheduled,
            channel: None,
            reason: None,
            text: None,
            event_id: None,
            created_at: order.created_at,
            send_at: order.send_at,
            sent_at: None,
        };
        let put = |batch: &mut Batch, rec: &NotificationRecord| -> EngineResult<()> {
            let bytes = serde_json::to_vec(rec)
                .map_err(|e| EngineError::internal(format!("notification: {e}")))?;
            batch
                .records
                .push(RecordWrite::put(NOTIFICATION_KIND, rec.id.clone(), bytes));
            Ok(())
        };
        if msg.due_key.is_none() {
            if let Some(at) = order.send_at.filter(|at| *at > now) {
                let bytes = serde_json::to_vec(order)
                    .map_err(|e| EngineError::internal(format!("notification: {e}")))?;
                batch.records.push(RecordWrite::put(
                    notify::DUE_KIND,
                    notify::due_key(at, &order.id),
                    bytes,
                ));
                put(&mut batch, &rec)?;
                return Ok(Ok((batch, rec, None)));
            }
        }
        let settings = &self.engine.settings;
        let mut vars = order.vars.clone();
        vars.insert("customer.id".into(), self.id.to_string());
        if let Some(n) = &customer.display_name {
            vars.insert("customer.name".into(), n.clone());
        }
        // Send now: the first usable channel of the customer's preference.
        let mut reasons = Vec::new();
        let mut target = None;
        for c in notify::channel_order(&msg.rule, notify::preferred_channel(&customer)) {
            match self.reply_target(c) {
                Ok(Some(to)) => match self.automated_allowed(c) {
                    Ok(()) => {
                        target = Some((c, to, None));
                        break;
                    }
                    // Outside the window: the rule's approved template, if it can.
                    Err(why) => match self.notification_template(c, &msg.rule, &vars) {
                        Some(Ok(t)) => {
                            target = Some((c, to, Some(t)));
                            break;
                        }
                        Some(Err(e)) => reasons.push(format!("{why}; {e}")),
                        None => reasons.push(why),
                    },
                },
                Ok(None) => reasons.push(format!("{c}: no address")),
                Err(e) => reasons.push(e.message),
            }
        }
        let Some((channel, to, template)) = target else {
            rec.status = NotificationStatus::Suppressed;
            rec.reason = Some(format!("no usable channel ({})", reasons.join("; ")));
            put(&mut batch, &rec)?;
            return Ok(Ok((batch, rec, None)));
        };
        let lang = Language::of_customer(&customer, &settings.notify.default_language);
        let (lang, src) = msg
            .rule
            .template_for(lang)
            .ok_or_else(|| EngineError::invalid("the rule has no template"))?;
        if channel == Channel::Email {
            let token = crate::survey::new_secret();
            let url = format!("{}/unsubscribe/{token}", settings.channels.public_url);
            let doc = UnsubscribeToken {
                customer_id: self.id,
                channel: Channel::Email,
            };
            let bytes = serde_json::to_vec(&doc)
                .map_err(|e| EngineError::internal(format!("unsubscribe: {e}")))?;
            batch
                .records
                .push(RecordWrite::put(notify::UNSUBSCRIBE_KIND, token, bytes));
            vars.insert("unsubscribe_url".into(), url);
        }
        let max = settings.notify.max_template_bytes;
        let rendered = match &template {
            // The customer reads the approved template's body with its parameters.
            Some((_, body)) => Ok(body.clone()),
            None => Template::parse(src, max).and_then(|t| t.render(&vars)),
        };
        let mut text = match rendered {
            Ok(t) => t,
            Err(e) => {
                rec.status = NotificationStatus::Suppressed;
                rec.reason = Some(e.to_string());
                put(&mut batch, &rec)?;
                return Ok(Ok((batch, rec, None)));
            }
        };
        let mut subject = None;
        if channel == Channel::Email {
            if !src.contains("unsubscribe_url") {
                let url = vars.get("unsubscribe_url").cloned().unwrap_or_default();
                text.push_str(&match lang {
                    Language::Ja => format!("\n\n--\n配信停止はこちら: {url}"),
                    Language::En => format!("\n\n--\nUnsubscribe: {url}"),
                });
            }
            subject = Some(
                msg.rule
                    .subjects
                    .get(lang.as_str())
                    .and_then(|s| Template::parse(s, max).and_then(|t| t.render(&vars)).ok())
                    .unwrap_or_else(|| order.event_type.clone()),
            );
        }
        let conv = self.open.as_ref().map(|c| c.id);
        let event = TimelineEvent::new(
            self.id,
            conv,
            now,
            EventKind::NotificationSent {
                notification_id: order.id.clone(),
                event_type: order.event_type.clone(),
                channel,
                text: text.clone(),
            },
        );
        let delivery = Delivery {
            customer_id: self.id,
            // The delivery status is recorded against the open conversation, else a
            // fresh id that names this send only.
            conversation_id: conv.unwrap_or_default(),
            event_id: event.id,
            channel,
            to,
            text: text.clone(),
            subject,
            references: Vec::new(),
            attempt: 0,
            attempted: false,
            quick_replies: Vec::new(),
            send_as: template
                .map(|(t, _)| crate::domain::SendAs::Template(t))
                .unwrap_or_default(),
            attachments: Vec::new(),
        };
        batch.events.push(event.clone());
        batch.outbox.push(delivery.entry(now));
        rec.status = NotificationStatus::Sent;
        rec.channel = Some(channel);
        rec.text = Some(text);
        rec.event_id = Some(event.id);
        rec.sent_at = Some(now);
        put(&mut batch, &rec)?;
        Ok(Ok((batch, rec, Some(AfterSend { event, delivery }))))
    }
}

impl CustomerActor {
    /// The approved template rule `rule` sends on `channel` outside its window, with
    /// its parameters rendered from `vars`, and the text the customer reads; `None`:
    /// the channel takes no templates or the rule names none; `Err`: it does not
    /// render or is not approved as named (its reason).
    fn notification_template(
        &self,
        channel: Channel,
        rule: &Rule,
        vars: &crate::template::Vars,
    ) -> Option<Result<(crate::domain::TemplateMessage, String), String>> {
        let facts = &self.engine.settings.channels;
        if !facts.windows.get(&channel).is_some_and(|w| w.templates) {
            return None;
        }
        let t = rule
            .whatsapp_template
            .as_ref()
            .filter(|_| channel == Channel::Whatsapp)?;
        let max = self.engine.settings.notify.max_template_bytes;
        Some(
            t.render(vars, max)
                .map_err(|e| format!("whatsapp_template: {e}"))
                .and_then(|msg| {
                    let approved = facts.templates.get(&channel).map_or(&[][..], Vec::as_slice);
                    crate::domain::ApprovedTemplate::resolve(approved, &msg)
                        .map(|text| (msg, text))
                        .map_err(|e| format!("whatsapp_template: {}: {}", e.field, e.reason))
                }),
        )
    }
}

impl Handler<Notify> for CustomerActor {
    type Result = Atomic<NotificationRecord>;

    fn handle(&mut self, msg: Notify, _: &mut Context<Self>) -> Self::Result {
        self.last_activity = Instant::now();
        let store = self.engine.store.clone();
        let id = msg.order.id.clone();
        let read = async move { store.record(NOTIFICATION_KIND, &id).await };
        let fut = read.into_actor(self).then(move |res, act, _| {
            let existing = res
                .map_err(crate::store::StoreError::into_engine)
                .and_then(|raw| match raw {
                    Some(b) => serde_json::from_slice::<NotificationRecord>(&b)
                        .map(Some)
                        .map_err(|e| EngineError::internal(format!("notification: {e}"))),
                    None => Ok(None),
                });
            let plan = existing.and_then(|e| act.notify_plan(&msg, e));
            match plan {
                Err(e) => fut::ready(Err(e)).boxed_local(),
                Ok(Err(rec)) => fut::ready(Ok(rec)).boxed_local(),
                Ok(Ok((batch, rec, after))) => {
                    let store = act.engine.store.clone();
                    async move { store.commit(batch).await }
                        .into_actor(act)
                        .map(move |r, act, _| {
                            r.map_err(crate::store::StoreError::into_engine)?;
                            if let Some(a) = after {
                                act.remember(&a.event);
                                crate::metrics::message(a.delivery.channel, "out");
                                if let Some(conv) = act.open.clone() {
                                    act.tell_agent_event(
                                        &conv,
                                        ConversationEvent {
                                            conversation_id: conv.id,
                                            event: a.event.clone(),
                                        },
                                    );
                                }
                                act.engine.deliver(a.delivery);
                            }
                            Ok(rec)
                        })
                        .boxed_local()
                }
            }
        });
        Atomic::new(Box::pin(fut))
    }
}
