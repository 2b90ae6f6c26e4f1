//! The customer actor's side of queued callbacks (docs/ivr.md): a waiting conversation
//! becomes a callback in place (same queue entry, original enqueue time and sequence;
//! moved to the voice channel, so it needs a voice slot), an agent reports each dial's
//! outcome (reached: an ordinary conversation; no answer / busy: offered again after
//! `callbacks.retry_delay_ms`, up to `callbacks.max_attempts`, then resolved
//! `callback_failed`), and a sweeper puts due retries back in line.
//!
//! The pending callback is a store record (`ivr::callbacks::KIND`, keyed by
//! conversation id) written in the same commit as its timeline events, so it and its
//! attempt count survive a restart. A caller who hangs up after choosing a callback has
//! not abandoned (see `callback_pending`, used by the `CallEnded` handler).

use super::{done, try_atomic, Atomic, CustomerActor};
use crate::actors::messages::*;
use crate::actors::Engine;
use crate::domain::ErrorCode;
use crate::domain::{
    AgentId, Channel, ConversationId, ConversationState, CustomerId, EventKind, Millis, QueueName,
    TimelineEvent,
};
use crate::ivr::callbacks::{decide, CallbackRecord, CallbackState, Next, Outcome, KIND};
use crate::store::{Batch, RecordWrite};
use actix::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::time::Duration;

/// What a customer asks for (validated by [`request`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CallbackRequest {
    /// E.164, normalised (`IdentityKey::parse(Channel::Voice, ..)`).
    pub phone: String,
    /// The queue to wait in when not already waiting (else the voice default).
    pub queue: Option<QueueName>,
    pub note: Option<String>,
    pub ivr_path: Vec<String>,
    pub source: String,
}

/// Turn the customer's waiting conversation into a callback. `Ok(None)`: there is no
/// open conversation (the caller opens one first).
#[derive(Debug, Clone, Message, serde::Serialize, serde::Deserialize)]
#[rtype(result = "EngineResult<Option<CallbackAck>>")]
pub struct RequestCallback(pub CallbackRequest);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackAck {
    pub conversation_id: ConversationId,
    pub customer_id: CustomerId,
    pub queue: QueueName,
    pub phone: String,
}

/// The holding agent reports how a dial went.
#[derive(Debug, Clone, Message, serde::Serialize, serde::Deserialize)]
#[rtype(result = "EngineResult<AttemptView>")]
pub struct CallbackOutcome {
    pub conversation_id: ConversationId,
    pub agent_id: AgentId,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptView {
    pub conversation_id: ConversationId,
    pub attempt: u32,
    pub outcome: Outcome,
    pub next: Next,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<Millis>,
}

/// The sweeper found this callback's retry due: back in line at its original place.
#[derive(Debug, Clone, Message, serde::Serialize, serde::Deserialize)]
#[rtype(result = "EngineResult<()>")]
pub struct CallbackDue(pub CallbackRecord);

/// Validates `req` for `customer` and makes the callback: the open waiting
/// conversation keeps its place; with none, a new voice conversation joins `queue` at
/// the back first. Bad input changes nothing.
pub async fn request(
    engine: &Engine,
    customer: CustomerId,
    req: CallbackRequest,
) -> EngineResult<CallbackAck> {
    let max = engine.settings.callbacks.max_note_bytes;
    if let Some(n) = &req.note {
        if n.len() > max || n.chars().any(|c| c.is_control() && c != '\n') {
            return Err(EngineError::invalid(format!(
                "note must be at most {max} bytes of text"
            )));
        }
    }
    if let Some(q) = &req.queue {
        // A visitor picks from the IVR's callback options; staff may name any queue.
        let visitor = matches!(req.source.as_str(), "chat" | "visual_ivr");
        if visitor && !engine.ivr().is_some_and(|a| a.callback_queues.contains(q)) {
            return Err(EngineError::invalid(format!(
                "queue {q} is not a callback option of the IVR"
            )));
        }
        if !engine.queue_exists(q) {
            return Err(EngineError::not_found("queue"));
        }
    }
    if !engine.settings.callbacks.phone_allowed(&req.phone) {
        return Err(EngineError::invalid(
            "callbacks are not made to that country (callbacks.allowed_country_codes)",
        ));
    }
    if let Some(ack) = engine
        .ask_customer(customer, RequestCallback(req.clone()))
        .await?
    {
        return Ok(ack);
    }
    let Some(queue) = req
        .queue
        .clone()
        .or_else(|| engine.default_queue_for(Channel::Voice))
    else {
        return Err(EngineError::not_found("queue"));
    };
    let text = match &req.note {
        Some(n) if !n.trim().is_empty() => format!("折り返し電話のご希望: {n}"),
        _ => "折り返し電話のご希望".to_owned(),
    };
    engine
        .ask_customer(
            customer,
            Inbound {
                queue: Some(queue),
                ..Inbound::new(Channel::Voice, req.phone.clone(), text)
            },
        )
        .await?;
    engine
        .ask_customer(customer, RequestCallback(req))
        .await?
        .ok_or_else(|| EngineError::internal("the callback's conversation closed at once"))
}

/// A `request_callback` from the visitor's chat socket: validated like the REST
/// request, charged to the socket's client address (`anonymous.callbacks_per_window`),
/// answered with the chat message to push.
pub async fn from_chat(
    engine: Engine,
    client: Option<std::net::IpAddr>,
    customer: CustomerId,
    phone: String,
    note: Option<String>,
    ivr_path: Vec<String>,
    queue: Option<QueueName>,
) -> EngineResult<ChatNotice> {
    let phone = crate::domain::IdentityKey::parse(Channel::Voice, &phone)
        .map_err(|e| EngineError::invalid(e.to_string()))?
        .address;
    crate::ivr::check_reported_path(&ivr_path).map_err(EngineError::invalid)?;
    if let Some(ip) = client {
        engine
            .budgets
            .take(crate::budget::Door::Callback, ip, engine.now())
            .map_err(crate::budget::Refused::into_engine)?;
    }
    let source = if ivr_path.is_empty() {
        "chat"
    } else {
        "visual_ivr"
    };
    let ack = request(
        &engine,
        customer,
        CallbackRequest {
            phone,
            queue,
            note: note.filter(|n| !n.trim().is_empty()),
            ivr_path,
            source: source.into(),
        },
    )
    .await?;
    Ok(ChatNotice::CallbackRequested {
        conversation_id: ack.conversation_id,
        phone: ack.phone,
    })
}

impl CustomerActor {
    /// Whether `conv` has a callback not yet reached nor given up (from the timeline).
    pub(super) fn callback_pending(&self, conv: ConversationId) -> bool {
        self.recent
            .iter()
            .rev()
            .filter(|e| e.conversation_id == Some(conv))
            .find_map(|e| match &e.kind {
                EventKind::CallbackRequested { .. } => Some(true),
                EventKind::CallbackAttempt { next, .. } => Some(next == Next::Retry.as_str()),
                EventKind::ConversationOpened { .. } | EventKind::ConversationReopened { .. } => {
                    Some(false)
                }
                _ => None,
            })
            .unwrap_or(false)
    }
}

impl Handler<RequestCallback> for CustomerActor {
    type Result = Atomic<Option<CallbackAck>>;

    fn handle(&mut self, msg: RequestCallback, _: &mut Context<Self>) -> Self::Result {
        try_atomic!(self.begin());
        let req = msg.0;
        let Some(conv) = self.open.clone() else {
            return done(Ok(None));
        };
        if self.callback_pending(conv.id) {
            return done(Err(EngineError::new(
                ErrorCode::Conflict,
                "a callback is already requested for this conversation",
            )));
        }
        if conv.state != ConversationState::Queued {
            return done(Err(EngineError::new(
                ErrorCode::Conflict,
                "the conversation is already with an agent",
            )));
        }
        if let Some(q) = req.queue.as_ref().filter(|q| **q != conv.queue) {
            return done(Err(EngineError::invalid(format!(
                "the customer already waits in queue {} (asked for {q})",
                conv.queue
            ))));
        }
        let now = self.engine.now();
        let (updated, mut events) = self.switched_to(&conv, Channel::Voice, now);
        events.push(TimelineEvent::new(
            self.id,
            Some(conv.id),
            now,
            EventKind::CallbackRequested {
                phone: req.phone.clone(),
                queue: conv.queue.clone(),
                note: req.note.clone(),
                ivr_path: req.ivr_path.clone(),
                source: req.source.clone(),
            },
        ));
        let record = CallbackRecord {
            conversation_id: conv.id,
            customer_id: self.id,
            phone: req.phone.clone(),
            queue: conv.queue.clone(),
            note: req.note.clone(),
            ivr_path: req.ivr_path.clone(),
            source: req.source.clone(),
            requested_at: now,
            attempts: 0,
            state: CallbackState::Waiting,
            due_at: None,
        };
        let batch = Batch {
            events: events.clone(),
            conversations: if updated.channel != conv.channel {
                vec![updated.clone()]
            } else {
                Vec::new()
            },
            records: vec![RecordWrite::put(KIND, record.key(), record.to_bytes())],
            ..Default::default()
        };
        let batch = self.reported(batch, Some(&conv), &updated);
        self.commit_then(batch, move |act| {
            for e in &events {
                act.remember(e);
            }
            metrics::counter!("switchboard_callbacks_requested_total", "queue" => updated.queue.to_string()).increment(1);
            act.requeue_if_class_changed(&conv, &updated);
            act.open = Some(updated.clone());
            Ok(Some(CallbackAck {
                conversation_id: updated.id,
                customer_id: act.id,
                queue: updated.queue.clone(),
                phone: req.phone,
            }))
        })
    }
}

/// What an outcome changes, computed before the commit and applied after it.
struct OutcomePlan {
    batch: Batch,
    events: Vec<TimelineEvent>,
    before: crate::domain::Conversation,
    after: crate::domain::Conversation,
    view: AttemptView,
}

impl CustomerActor {
    fn plan_outcome(
        &self,
        record: Option<CallbackRecord>,
        msg: &CallbackOutcome,
    ) -> EngineResult<OutcomePlan> {
        self.check_ready()?;
        let conv = self.open_held_by(msg.conversation_id, &msg.agent_id)?;
        let rec = match record {
            Some(r) if self.callback_pending(conv.id) => r,
            _ => {
                return Err(EngineError::new(
                    ErrorCode::Conflict,
                    "no callback is pending on this conversation",
                ))
            }
        };
        let s = &self.engine.settings.callbacks;
        let now = self.engine.now();
        let attempt = rec.attempts + 1;
        let next = decide(msg.outcome, attempt, s);
        let retry_at = (next == Next::Retry).then(|| now.plus_ms(s.retry_delay_ms));
        let mut events = vec![TimelineEvent::new(
            self.id,
            Some(conv.id),
            now,
            EventKind::CallbackAttempt {
                agent_id: msg.agent_id.clone(),
                attempt,
                outcome: msg.outcome.as_str().into(),
                next: next.as_str().into(),
                retry_at,
            },
        )];
        let mut after = conv.clone();
        let record = match next {
            Next::Connected => RecordWrite::delete(KIND, rec.key()),
            Next::Retry => {
                after.state = ConversationState::Queued;
                after.agent = None;
                after.required_agent = None;
                after.updated_at = now;
                let r = CallbackRecord {
                    attempts: attempt,
                    state: CallbackState::RetryWait,
                    due_at: retry_at,
                    ..rec
                };
                RecordWrite::put(KIND, r.key(), r.to_bytes())
            }
            Next::Failed => {
                after.state = ConversationState::Resolved;
                after.disposition = Some("callback_failed".into());
                after.updated_at = now;
                events.push(TimelineEvent::new(
                    self.id,
                    Some(conv.id),
                    now,
                    EventKind::Resolved {
                        agent_id: Some(msg.agent_id.clone()),
                        disposition: Some("callback_failed".into()),
                    },
                ));
                RecordWrite::delete(KIND, rec.key())
            }
        };
        let batch = Batch {
            events: events.clone(),
            conversations: if after != conv {
                vec![after.clone()]
            } else {
                Vec::new()
            },
            records: vec![record],
            ..Default::default()
        };
        let batch = self.reported(batch, Some(&conv), &after);
        Ok(OutcomePlan {
            batch,
            events,
            before: conv,
            view: AttemptView {
                conversation_id: after.id,
                attempt,
                outcome: msg.outcome,
                next,
                retry_at,
            },
            after,
        })
    }

    fn apply_outcome(&mut self, p: OutcomePlan) -> AttemptView {
        for e in &p.events {
            self.remember(e);
            self.tell_agent_event(
                &p.before,
                ConversationEvent {
                    conversation_id: p.before.id,
                    event: e.clone(),
                },
            );
        }
        metrics::counter!("switchboard_callback_attempts_total", "queue" => p.after.queue.to_string(), "next" => p.view.next.as_str()).increment(1);
        match p.view.next {
            Next::Connected => {
                self.open = Some(p.after);
            }
            Next::Retry => {
                self.tell_agent(
                    &p.before,
                    ConversationLeft {
                        conversation_id: p.before.id,
                        state: ConversationState::Queued,
                    },
                );
                self.open = Some(p.after.clone());
                self.push_chat_state(&p.after, None, None);
            }
            Next::Failed => {
                self.tell_agent(
                    &p.before,
                    ConversationLeft {
                        conversation_id: p.before.id,
                        state: ConversationState::Resolved,
                    },
                );
                crate::metrics::conversation_resolved(&p.after.queue);
                self.engine.live(crate::live::LiveEvent::Closed {
                    queue: p.after.queue.clone(),
                    conversation: p.after.id,
                });
                self.open = None;
                self.last_closed = Some(p.after.clone());
                self.push_chat_state(&p.after, None, None);
            }
        }
        p.view
    }
}

impl Handler<CallbackOutcome> for CustomerActor {
    type Result = Atomic<AttemptView>;

    fn handle(&mut self, msg: CallbackOutcome, _: &mut Context<Self>) -> Self::Result {
        try_atomic!(self.begin());
        let store = self.engine.store.clone();
        let key = msg.conversation_id.to_string();
        Atomic::new(Box::pin(
            async move { store.record(KIND, &key).await }
                .into_actor(self)
                .then(move |res, act, _| {
                    let plan = res
                        .map_err(crate::store::StoreError::into_engine)
                        .and_then(|b| {
                            act.plan_outcome(b.and_then(|b| CallbackRecord::from_bytes(&b)), &msg)
                        });
                    let store = act.engine.store.clone();
                    async move {
                        let plan = plan?;
                        let batch = plan.batch.clone();
                        store
                            .commit(batch)
                            .await
                            .map_err(crate::store::StoreError::into_engine)?;
                        Ok(plan)
                    }
                    .into_actor(act)
                    .map(|res: EngineResult<OutcomePlan>, act, _| Ok(act.apply_outcome(res?)))
                }),
        ))
    }
}

impl Handler<CallbackDue> for CustomerActor {
    type Result = Atomic<()>;

    fn handle(&mut self, msg: CallbackDue, _: &mut Context<Self>) -> Self::Result {
        if self.check_ready().is_err() {
            return done(Ok(()));
        }
        let rec = msg.0;
        let waiting = self.open.clone().filter(|c| {
            c.id == rec.conversation_id
                && c.state == ConversationState::Queued
                && self.callback_pending(c.id)
        });
        let Some(conv) = waiting else {
            // The conversation closed some other way: forget the callback.
            let batch = Batch {
                records: vec![RecordWrite::delete(KIND, rec.key())],
                ..Default::default()
            };
            return self.commit_then(batch, |_| Ok(()));
        };
        if rec.state != CallbackState::RetryWait {
            return done(Ok(()));
        }
        if !self.engine.queue_exists(&conv.queue) {
            return done(Ok(()));
        }
        let queue = conv.queue.clone();
        let now = self.engine.now();
        let ev = TimelineEvent::new(
            self.id,
            Some(conv.id),
            now,
            EventKind::Queued {
                queue: conv.queue.clone(),
                priority: conv.priority,
            },
        );
        let back = CallbackRecord {
            state: CallbackState::Waiting,
            due_at: None,
            ..rec
        };
        let batch = Batch {
            events: vec![ev.clone()],
            records: vec![RecordWrite::put(KIND, back.key(), back.to_bytes())],
            ..Default::default()
        };
        let batch = self.reported(batch, Some(&conv), &conv);
        // Its original enqueue time and sequence: the same place in line.
        let enqueue = self.enqueue_msg(&conv, self.last_customer_text(), true);
        self.commit_then(batch, move |act| {
            act.remember(&ev);
            act.engine.tell_queue(&queue, enqueue);
            Ok(())
        })
    }
}

/// Conversations whose callback waits for its retry delay (not to be put back in line
/// at engine start before it is due).
pub async fn retry_waiting(
    store: &crate::store::SharedStore,
    page: usize,
) -> Result<HashSet<ConversationId>, crate::store::StoreError> {
    let mut out = HashSet::new();
    let mut after: Option<String> = None;
    loop {
        let rows = store.records(KIND, after.as_deref(), page.max(1)).await?;
        let n = rows.len();
        for (k, v) in rows {
            if let Some(r) = CallbackRecord::from_bytes(&v) {
                if r.state == CallbackState::RetryWait {
                    out.insert(r.conversation_id);
                }
            }
            after = Some(k);
        }
        if n < page.max(1) {
            return Ok(out);
        }
    }
}

/// One pass: every callback whose retry is due goes to its customer actor.
async fn sweep(engine: &Engine) -> Result<usize, crate::store::StoreError> {
    let page = engine.settings.callbacks.sweep_page.max(1);
    let now = engine.now();
    let mut after: Option<String> = None;
    let mut due = 0;
    loop {
        let rows = engine.store.records(KIND, after.as_deref(), page).await?;
        let n = rows.len();
        for (k, v) in rows {
            if let Some(r) = CallbackRecord::from_bytes(&v) {
                if r.state == CallbackState::RetryWait && r.due_at.is_some_and(|d| d <= now) {
                    due += 1;
                    engine.tell_customer(r.customer_id, CallbackDue(r));
                }
            }
            after = Some(k);
        }
        if n < page {
            return Ok(due);
        }
    }
}

/// Starts the sweeper that puts due retries back in line (every `callbacks.sweep_ms`,
/// on the engine clock, so a manual test clock drives it), and describes the callback
/// metrics for `/metrics`.
pub fn start_sweeper(engine: Engine) {
    // The recorder first (installed once per process), so the descriptions land in it.
    crate::metrics::install();
    metrics::describe_counter!(
        "switchboard_callbacks_requested_total",
        "Queued callbacks requested, by queue."
    );
    metrics::describe_counter!(
        "switchboard_callback_attempts_total",
        "Callback dials reported by agents, by queue and what followed (connected, retry, failed)."
    );
    let every = Duration::from_millis(engine.settings.callbacks.sweep_ms.max(1));
    engine.every(every, |engine| async move {
        // In a cluster, the holder of `singleton/callback-sweeper` sweeps.
        if !engine.runs(cluster::shard::Singleton::CallbackSweeper) {
            return;
        }
        if let Err(e) = sweep(&engine).await {
            tracing::warn!(error = %e, "callback sweep failed");
        }
    });
}
