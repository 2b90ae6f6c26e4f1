//! Response-time targets (docs/api.md "Response times"). The customer's actor is the
//! clock's authority: [`ContactFacts`]' response clock starts at the customer's first
//! message no agent has answered and stops at the next agent reply, and is rebuilt
//! from the timeline at activation, so it survives passivation, restarts and moves.
//!
//! A clock with a target has a due record (kind [`DUE_KIND`], keyed by due time), put
//! in the commit that starts the clock and deleted in the one that stops it. The
//! sweeper ([`tick`], run by the holder of `singleton/notifier` with the notification
//! scheduler) reads the due records up to now, from just before where it last swept up
//! to (a cursor it also keeps in the store), and asks each customer's actor to check
//! ([`CheckResponse`]): still unanswered, the actor records `response_overdue` once
//! (timeline and report), raises a waiting conversation's priority by the queue's
//! `overdue_boost`, shows the event to the holding agent and alerts the supervisors of
//! the queue. Either way the due record goes in the same commit.

use super::*;
use crate::domain::live_view::ResponseAlert;
use crate::domain::ResponseTargets;
use crate::reports::derive::ResponseClock;
use crate::store::RecordWrite;
use serde::{Deserialize, Serialize};

/// Record kind of the due records.
pub const DUE_KIND: &str = "response_due";

/// How far behind the last due time handled the sweeper reads again (due records
/// written late by a node whose clock is a little behind are still found).
const SWEEP_OVERLAP_MS: i64 = 60_000;

/// A due record's key: the due time zero-padded (key order is due order) and the
/// conversation.
pub fn due_key(due: Millis, conv: ConversationId) -> String {
    format!("{:020}:{conv}", due.0.max(0))
}

/// The due time of a due record's key.
fn due_of(key: &str) -> Option<Millis> {
    key.split(':').next()?.parse().ok().map(Millis)
}

/// What a due record holds: whose clock, and which run of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Due {
    pub customer_id: CustomerId,
    pub conversation_id: ConversationId,
    pub since: Millis,
    pub first: bool,
    pub target_ms: u64,
}

/// The sweeper found a due record past its time: the customer's actor checks whether
/// that clock still runs, records it overdue if so, and deletes the record.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
#[rtype(result = "EngineResult<()>")]
pub struct CheckResponse {
    pub due: Due,
    pub key: String,
}

impl CustomerActor {
    /// The due-record writes of a commit of `events` to `conv` (`targets`: its queue's):
    /// the running clock's record deleted when the commit stops or restarts it, a new
    /// record when it starts one with a target.
    pub(super) fn response_dues(
        &self,
        events: &[TimelineEvent],
        conv: &Conversation,
        targets: Option<&ResponseTargets>,
    ) -> Vec<RecordWrite> {
        let Some(t) = targets else {
            return Vec::new();
        };
        let before = self.facts.response_of(conv.id);
        let mut facts = self.facts.clone();
        for e in events {
            facts.observe(e);
        }
        let after = facts.response_of(conv.id);
        if before.waiting_since == after.waiting_since {
            return Vec::new();
        }
        let due = |c: &ResponseClock| {
            let since = c.waiting_since?;
            let target_ms = t.target(conv.channel, c.first())?;
            Some((since, target_ms, c.first()))
        };
        let mut out = Vec::new();
        if let Some((since, target_ms, _)) = due(&before) {
            out.push(RecordWrite::delete(
                DUE_KIND,
                due_key(since.plus_ms(target_ms), conv.id),
            ));
        }
        if let Some((since, target_ms, first)) = due(&after) {
            let record = Due {
                customer_id: self.id,
                conversation_id: conv.id,
                since,
                first,
                target_ms,
            };
            match serde_json::to_vec(&record) {
                Ok(bytes) => out.push(RecordWrite::put(
                    DUE_KIND,
                    due_key(since.plus_ms(target_ms), conv.id),
                    bytes,
                )),
                Err(e) => tracing::error!(error = %e, "response due record not encoded"),
            }
        }
        out
    }

    /// After a commit of `events` to `conv` is applied: the verdict of a reply that
    /// stopped a clock (`before`: the clock before the commit), for the metric and the
    /// live figures.
    pub(super) fn responses_told(
        &self,
        before: ResponseClock,
        events: &[TimelineEvent],
        conv: &Conversation,
    ) {
        let Some(since) = before.waiting_since else {
            return;
        };
        let Some(reply) = events.iter().find(|e| {
            matches!(
                e.kind,
                EventKind::MessageOut {
                    agent_id: Some(_),
                    ..
                }
            )
        }) else {
            return;
        };
        let first = before.first();
        let target = self
            .engine
            .response_targets(&conv.queue)
            .and_then(|t| t.target(conv.channel, first));
        let within = match target {
            None => {
                crate::metrics::response(&conv.queue, first, "untimed");
                return;
            }
            // Counted already, when the sweeper saw the target pass.
            Some(_) if before.overdue => return,
            Some(t) => reply.at.since(since) <= t,
        };
        crate::metrics::response(
            &conv.queue,
            first,
            if within { "within_target" } else { "overdue" },
        );
        self.engine.live(crate::live::LiveEvent::Response {
            queue: conv.queue.clone(),
            within_target: within,
            alert: None,
        });
    }
}

impl Handler<CheckResponse> for CustomerActor {
    type Result = Atomic<()>;

    fn handle(&mut self, msg: CheckResponse, _: &mut Context<Self>) -> Self::Result {
        try_atomic!(self.begin());
        let due = msg.due;
        let drop_due = Batch {
            records: vec![RecordWrite::delete(DUE_KIND, msg.key.clone())],
            ..Default::default()
        };
        let running = self.open.clone().filter(|c| {
            c.id == due.conversation_id && {
                let clock = self.facts.response_of(c.id);
                clock.waiting_since == Some(due.since) && !clock.overdue
            }
        });
        let Some(conv) = running else {
            // Answered, closed or moved since: the record is all that is left.
            return self.commit_then(drop_due, |_| Ok(()));
        };
        let now = self.engine.now();
        let ev = TimelineEvent::new(
            self.id,
            Some(conv.id),
            now,
            EventKind::ResponseOverdue {
                first: due.first,
                target_ms: due.target_ms,
                since: due.since,
            },
        );
        let boost = self
            .engine
            .response_targets(&conv.queue)
            .map_or(0, |t| t.overdue_boost);
        let mut updated = conv.clone();
        let boosted = conv.state == ConversationState::Queued && boost > 0;
        if boosted {
            updated.priority = conv.priority.saturating_add(boost);
            updated.updated_at = now;
        }
        let batch = Batch {
            events: vec![ev.clone()],
            conversations: if boosted {
                vec![updated.clone()]
            } else {
                Vec::new()
            },
            ..drop_due
        };
        let batch = self.reported(batch, Some(&conv), &updated);
        self.commit_then(batch, move |act| {
            act.remember(&ev);
            act.open = Some(updated.clone());
            if boosted {
                // The queue takes the higher priority of a conversation it holds.
                let enqueue = act.enqueue_msg(&updated, None, true);
                act.engine.tell_queue(&updated.queue, enqueue);
            }
            act.tell_agent_event(
                &updated,
                ConversationEvent {
                    conversation_id: updated.id,
                    event: ev.clone(),
                },
            );
            crate::metrics::response(&updated.queue, due.first, "overdue");
            act.engine.live(crate::live::LiveEvent::Response {
                queue: updated.queue.clone(),
                within_target: false,
                alert: Some(ResponseAlert {
                    queue: updated.queue.clone(),
                    conversation_id: updated.id,
                    customer_id: act.id,
                    agent_id: updated.agent.clone(),
                    state: updated.state,
                    first: due.first,
                    target_ms: due.target_ms,
                    since: due.since,
                    at: now,
                }),
            });
            Ok(())
        })
    }
}

/// Where the sweeper reads from next (a little before the due time it has swept up
/// to), and what of it the store holds: a node that takes the sweeper over starts
/// where the last one stopped, instead of reading every deleted record (on CQL, every
/// tombstone) from the first.
#[derive(Debug, Default)]
pub struct SweepCursor(std::sync::Mutex<Sweep>);

#[derive(Debug, Default, Clone, Copy)]
pub struct Sweep {
    /// Read from the store once on this node.
    loaded: bool,
    /// Every due record up to this due time was handled.
    at: Option<Millis>,
    /// The value last stored.
    saved: Option<Millis>,
}

/// Record kind and key of the stored cursor.
const CURSOR_KIND: &str = "response_sweep";
const CURSOR_KEY: &str = "cursor";

impl SweepCursor {
    fn get(&self) -> Sweep {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn set(&self, s: Sweep) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = s;
    }
}

/// One pass over the due records up to `now`: each is checked by its customer's
/// actor. One that cannot be checked now (the actor is unavailable or busy) is tried
/// again at the next pass; the rest are done.
pub async fn tick(engine: &Engine, now: Millis) {
    let mut sweep = engine.response_sweep.get();
    if !sweep.loaded {
        match engine.store.record(CURSOR_KIND, CURSOR_KEY).await {
            Ok(v) => {
                let at = v
                    .and_then(|b| String::from_utf8(b).ok())
                    .and_then(|t| t.parse().ok())
                    .map(Millis);
                sweep = Sweep {
                    loaded: true,
                    at,
                    saved: at,
                };
            }
            Err(e) => {
                tracing::warn!(error = %e, "response sweeper: reading its cursor failed");
                return;
            }
        }
    }
    let after = sweep
        .at
        .map(|f| format!("{:020}", (f.0 - SWEEP_OVERLAP_MS).max(0)));
    // Every key of a due time up to now sorts at or below `{now}~`.
    let until = format!("{:020}~", now.0.max(0));
    let limit = engine.settings.notify.due_per_tick;
    let due = match engine
        .store
        .records_through(DUE_KIND, after.as_deref(), &until, limit)
        .await
    {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "response sweeper: reading due records failed");
            engine.response_sweep.set(sweep);
            return;
        }
    };
    let read = due.len();
    // The cursor moves up to the first record left for the next pass.
    let mut handled_to = sweep.at;
    let mut blocked = false;
    for (key, bytes) in due {
        let Some(at) = due_of(&key) else {
            continue;
        };
        let due: Due = match serde_json::from_slice(&bytes) {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(key = %key, error = %e, "response sweeper: unreadable due record, dropped");
                let batch = Batch {
                    records: vec![RecordWrite::delete(DUE_KIND, key)],
                    ..Default::default()
                };
                if let Err(e) = engine.store.commit(batch).await {
                    tracing::warn!(error = %e, "response sweeper: dropping a record failed");
                }
                continue;
            }
        };
        let customer = due.customer_id;
        let key_again = key.clone();
        let done = match engine
            .ask_customer(customer, CheckResponse { due, key })
            .await
        {
            Ok(()) => true,
            Err(e)
                if matches!(
                    e.code,
                    ErrorCode::Unavailable | ErrorCode::Busy | ErrorCode::Internal
                ) =>
            {
                tracing::debug!(customer = %customer, error = %e.message, "response sweeper: retrying next pass");
                false
            }
            Err(e) => {
                // A customer merged away or erased: its conversation went with it.
                tracing::warn!(customer = %customer, error = %e.message, "response sweeper: due record not checkable, dropped");
                let batch = Batch {
                    records: vec![RecordWrite::delete(DUE_KIND, key_again)],
                    ..Default::default()
                };
                engine.store.commit(batch).await.is_ok()
            }
        };
        if !done {
            blocked = true;
        } else if !blocked {
            handled_to = Some(at);
        }
    }
    // Everything due by now was read and handled: the next pass starts near now.
    if !blocked && read < limit {
        handled_to = Some(now);
    }
    sweep.at = handled_to;
    if let Some(at) =
        handled_to.filter(|at| sweep.saved.is_none_or(|s| at.0 - s.0 >= SWEEP_OVERLAP_MS))
    {
        let batch = Batch {
            records: vec![RecordWrite::put(
                CURSOR_KIND,
                CURSOR_KEY,
                at.0.to_string().into_bytes(),
            )],
            ..Default::default()
        };
        match engine.store.commit(batch).await {
            Ok(()) => sweep.saved = Some(at),
            Err(e) => tracing::debug!(error = %e, "response sweeper: storing its cursor failed"),
        }
    }
    engine.response_sweep.set(sweep);
}
