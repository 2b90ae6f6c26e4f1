//! `LiveHub`: the one actor that keeps live supervisor figures and streams them.
//!
//! Queue, agent and customer actors tell it routing facts ([`HubEvent`], sent with
//! `Engine::live`: `try_send` into a bounded mailbox, never awaited, dropped and
//! counted if full). It applies them to [`LiveState`] at the engine clock's time and
//! marks what changed; a timer flushes the changes to every subscribed supervisor
//! session at most `limits.supervisor_pushes_per_second` times a second, as one delta
//! per subscriber filtered by its queue set.
//!
//! Flow control: each push carries a `seq`; a subscriber may have at most
//! `limits.supervisor_window` pushes unacknowledged. Past that the hub sends it
//! nothing (deltas are dropped, not buffered) and owes it a snapshot, sent at its next
//! ack; one that stays behind for `timing.supervisor_stall_ms` is closed. So a slow
//! supervisor costs at most `window` messages of memory and never slows routing.
//!
//! It must not await any actor, read the store, or hold business state other than
//! the live figures.

pub mod messages;

use super::messages::*;
use super::registry::Engine;
use super::sessions::{Pushed, SessionRef};
use crate::domain::{AgentId, Millis, QueueName};
use crate::live::{Changed, LiveConfig, LiveState, QueueLiveView};
use crate::routing::service::{Figures, ServiceState};
use actix::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// One supervisor socket.
struct Subscriber {
    supervisor: AgentId,
    /// `None`: every queue.
    queues: Option<BTreeSet<QueueName>>,
    /// Agents this subscriber was last told about (so one moved out of its queues is
    /// still updated once).
    known_agents: BTreeSet<AgentId>,
    sent_seq: u64,
    acked_seq: u64,
    /// Since when deltas are being dropped (a snapshot is owed).
    behind_since: Option<Instant>,
    deltas_dropped: u64,
    resyncs: u64,
}

impl Subscriber {
    fn in_flight(&self) -> u64 {
        self.sent_seq.saturating_sub(self.acked_seq)
    }
    fn wants(&self, q: &QueueName) -> bool {
        self.queues.as_ref().is_none_or(|s| s.contains(q))
    }
}

pub struct LiveHub {
    engine: Engine,
    state: LiveState,
    subscribers: HashMap<SessionRef, Subscriber>,
    /// Changes not yet pushed.
    dirty: Changed,
    window: u64,
    /// Per queue with `service_rules`: the rules judged, their state, and why each rule
    /// on turned on.
    service: HashMap<QueueName, Judged>,
    /// Judgements so far (every [`SERVICE_REPEAT`]th repeats the state of rules on).
    judged: u64,
}

/// One queue's service rules as the hub judges them.
#[derive(Default)]
struct Judged {
    rules: Vec<crate::domain::ServiceRule>,
    state: ServiceState,
    on: BTreeMap<usize, String>,
}

/// The hub tells a queue whose service rules are on their state again every this many
/// judgements (seconds), so a queue that restarted or missed a message heals.
const SERVICE_REPEAT: u64 = 5;

impl LiveHub {
    pub fn new(engine: Engine) -> Self {
        let t = &engine.settings.timing;
        let config = LiveConfig {
            sl_threshold_ms: t.live_sl_threshold_ms,
            interval_ms: t.live_interval_ms.max(60_000),
            offer_window_ms: t.live_offer_window_ms.max(60_000),
        };
        let now = engine.now();
        Self {
            window: engine.settings.limits.supervisor_window.max(1) as u64,
            state: LiveState::new(config, now),
            subscribers: HashMap::new(),
            dirty: Changed::default(),
            service: HashMap::new(),
            judged: 0,
            engine,
        }
    }

    fn snapshot_parts(
        &self,
        queues: Option<&BTreeSet<QueueName>>,
        now: Millis,
    ) -> (Vec<QueueLiveView>, Vec<crate::live::AgentLiveView>) {
        let qs = self
            .state
            .queue_names()
            .filter(|q| queues.is_none_or(|s| s.contains(*q)))
            .filter_map(|q| self.state.queue_view(q, now))
            .collect();
        (qs, self.state.agents_in(queues))
    }

    /// Judges every queue's `service_rules` on its live figures now (once a second)
    /// and tells the queue which are on when one turned, or every
    /// [`SERVICE_REPEAT`]th time while any is on (docs/api.md "Service-level routing").
    fn judge_service(&mut self) {
        let now = self.engine.now();
        self.judged += 1;
        let repeat = self.judged.is_multiple_of(SERVICE_REPEAT);
        let names: Vec<QueueName> = self.state.queue_names().cloned().collect();
        self.service.retain(|q, _| names.contains(q));
        for q in names {
            let rules = self
                .engine
                .queue_config(&q)
                .map(|c| c.service_rules)
                .unwrap_or_default();
            if rules.is_empty() {
                self.service.remove(&q);
                continue;
            }
            let Some(view) = self.state.queue_view(&q, now) else {
                continue;
            };
            let j = self.service.entry(q.clone()).or_default();
            if j.rules != rules {
                // New rules are judged afresh (the queue forgot the old ones too).
                *j = Judged {
                    rules,
                    ..Judged::default()
                };
            }
            let figures = Figures {
                ewt_s: view.ewt_seconds,
                service_level: view.interval.service_level,
            };
            let turns = j.state.observe(&j.rules, figures);
            let remind = repeat && !j.on.is_empty();
            if turns.is_empty() && !remind {
                continue;
            }
            for t in &turns {
                if t.on {
                    j.on.insert(t.rule, t.why.clone());
                } else {
                    j.on.remove(&t.rule);
                }
            }
            let msg = ServiceLevel {
                rules: j.rules.clone(),
                on: j.on.clone(),
                turns: turns.into_iter().map(|t| (t.rule, t.on, t.why)).collect(),
            };
            self.engine.tell_queue(&q, msg);
        }
    }

    /// Sends a full snapshot to one subscriber (if its window has room).
    fn send_snapshot(&mut self, session: &SessionRef, reason: &str) {
        let now = self.engine.now();
        self.dirty.merge(self.state.tick(now));
        let Some(sub) = self.subscribers.get(session) else {
            return;
        };
        if sub.in_flight() >= self.window {
            return;
        }
        let (queues, agents) = self.snapshot_parts(sub.queues.as_ref(), now);
        let known: BTreeSet<AgentId> = agents.iter().map(|a| a.agent_id.clone()).collect();
        let filter = sub.queues.as_ref().map(|s| s.iter().cloned().collect());
        let seq = sub.sent_seq + 1;
        let msg = SupervisorNotice::Snapshot {
            seq,
            reason: reason.to_owned(),
            server_time: now,
            queues_filter: filter,
            queues,
            agents,
        };
        self.push(session, msg, Some(known));
    }

    /// Pushes one message; on success the subscriber's seq moves on. A full mailbox
    /// counts as falling behind; a gone session removes the subscriber. A push to
    /// another node counts as sent: one the socket's node drops for a full mailbox is
    /// never acknowledged, so the window closes and the subscriber falls behind.
    fn push(
        &mut self,
        session: &SessionRef,
        msg: SupervisorNotice,
        known: Option<BTreeSet<AgentId>>,
    ) -> bool {
        if !self.subscribers.contains_key(session) {
            return false;
        }
        let push = SupervisorPush::Msg(Box::new(msg));
        let pushed = self
            .engine
            .push_supervisor(session, push, self.forget(session));
        let Some(sub) = self.subscribers.get_mut(session) else {
            return false;
        };
        match pushed {
            Pushed::Delivered | Pushed::Forwarded => {
                sub.sent_seq += 1;
                if let Some(k) = known {
                    sub.known_agents = k;
                    sub.behind_since = None;
                }
                true
            }
            Pushed::Full => {
                sub.behind_since.get_or_insert_with(Instant::now);
                sub.deltas_dropped += 1;
                false
            }
            Pushed::Gone => {
                self.subscribers.remove(session);
                false
            }
        }
    }

    /// Pushes `alert` to every subscriber of its queue at once (outside the delta flow:
    /// alerts are rare, and a subscriber that fell behind still gets them).
    fn alert(&self, alert: &crate::domain::live_view::ResponseAlert) {
        for (session, sub) in &self.subscribers {
            if sub.wants(&alert.queue) {
                let push =
                    SupervisorPush::Msg(Box::new(SupervisorNotice::ResponseOverdue(alert.clone())));
                self.engine
                    .push_supervisor(session, push, self.forget(session));
            }
        }
    }

    /// A push's `gone` callback: unsubscribes the session another node found gone.
    fn forget(&self, session: &SessionRef) -> impl FnOnce() + 'static {
        let (engine, session) = (self.engine.clone(), session.clone());
        move || {
            if let Some(hub) = engine.hub() {
                hub.do_send(Unsubscribe { session });
            }
        }
    }

    /// Sends every subscriber what changed since the last flush.
    fn flush(&mut self) {
        let now = self.engine.now();
        self.dirty.merge(self.state.tick(now));
        self.close_stalled();
        if self.dirty.is_empty() || self.subscribers.is_empty() {
            if self.subscribers.is_empty() {
                self.dirty = Changed::default();
            }
            return;
        }
        let dirty = std::mem::take(&mut self.dirty);
        let queue_names: Vec<QueueName> = if dirty.all_queues {
            self.state.queue_names().cloned().collect()
        } else {
            dirty.queues.iter().cloned().collect()
        };
        let views: BTreeMap<QueueName, QueueLiveView> = queue_names
            .into_iter()
            .filter_map(|q| self.state.queue_view(&q, now).map(|v| (q, v)))
            .collect();
        let sessions: Vec<SessionRef> = self.subscribers.keys().cloned().collect();
        for session in &sessions {
            let Some(sub) = self.subscribers.get_mut(session) else {
                continue;
            };
            let queues: Vec<QueueLiveView> = views
                .values()
                .filter(|v| sub.wants(&v.queue))
                .cloned()
                .collect();
            let mut known = sub.known_agents.clone();
            let mut agents = Vec::new();
            for id in &dirty.agents {
                let serves = self.state.agent_serves(id, sub.queues.as_ref());
                if serves || known.contains(id) {
                    if let Some(v) = self.state.agent_view(id) {
                        agents.push(v);
                    }
                }
                if serves {
                    known.insert(id.clone());
                } else {
                    known.remove(id);
                }
            }
            if queues.is_empty() && agents.is_empty() {
                continue;
            }
            if sub.behind_since.is_some() || sub.in_flight() >= self.window {
                // Behind: drop it; the snapshot at the next ack covers it.
                sub.behind_since.get_or_insert_with(Instant::now);
                sub.deltas_dropped += 1;
                continue;
            }
            let msg = SupervisorNotice::Delta {
                seq: sub.sent_seq + 1,
                server_time: now,
                queues,
                agents,
            };
            if self.push(session, msg, None) {
                if let Some(sub) = self.subscribers.get_mut(session) {
                    sub.known_agents = known;
                }
            }
        }
    }

    /// Closes subscribers behind for longer than `timing.supervisor_stall_ms`.
    fn close_stalled(&mut self) {
        let limit = Duration::from_millis(self.engine.settings.timing.supervisor_stall_ms);
        let stalled: Vec<SessionRef> = self
            .subscribers
            .iter()
            .filter(|(_, s)| s.behind_since.is_some_and(|t| t.elapsed() > limit))
            .map(|(session, _)| session.clone())
            .collect();
        for session in stalled {
            if let Some(s) = self.subscribers.remove(&session) {
                tracing::info!(session = session.id, supervisor = %s.supervisor, "supervisor socket closed: too far behind");
                let close = SupervisorPush::Close(
                    "too slow: unacknowledged updates past the window".into(),
                );
                // Already forgotten: nothing to do if it is gone.
                self.engine.push_supervisor(&session, close, || {});
            }
        }
    }
}

impl Actor for LiveHub {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(self.engine.settings.limits.hub_mailbox.max(16));
        let rate = self
            .engine
            .settings
            .limits
            .supervisor_pushes_per_second
            .max(1) as u64;
        ctx.run_interval(Duration::from_millis((1000 / rate).max(1)), |act, _| {
            act.flush()
        });
        ctx.run_interval(Duration::from_secs(1), |act, _| act.judge_service());
    }
}

impl Handler<HubEvent> for LiveHub {
    type Result = ();
    fn handle(&mut self, msg: HubEvent, _: &mut Context<Self>) {
        let now = self.engine.now();
        if let crate::live::LiveEvent::Response {
            alert: Some(alert), ..
        } = &msg.0
        {
            self.alert(alert);
        }
        let changed = self.state.apply(msg.0, now);
        self.dirty.merge(changed);
    }
}

impl Handler<Subscribe> for LiveHub {
    type Result = ();
    fn handle(&mut self, msg: Subscribe, _: &mut Context<Self>) {
        self.subscribers.insert(
            msg.session.clone(),
            Subscriber {
                supervisor: msg.supervisor,
                queues: msg.queues,
                known_agents: BTreeSet::new(),
                sent_seq: 0,
                acked_seq: 0,
                behind_since: None,
                deltas_dropped: 0,
                resyncs: 0,
            },
        );
        self.send_snapshot(&msg.session, "connect");
    }
}

impl Handler<SetFilter> for LiveHub {
    type Result = ();
    fn handle(&mut self, msg: SetFilter, _: &mut Context<Self>) {
        if let Some(s) = self.subscribers.get_mut(&msg.session) {
            s.queues = msg.queues;
            // Anything pending for the old set is superseded by this snapshot.
            s.behind_since = Some(s.behind_since.unwrap_or_else(Instant::now));
            self.send_snapshot(&msg.session, "subscribe");
        }
    }
}

impl Handler<SubscriberAck> for LiveHub {
    type Result = ();
    fn handle(&mut self, msg: SubscriberAck, _: &mut Context<Self>) {
        let Some(s) = self.subscribers.get_mut(&msg.session) else {
            return;
        };
        // Acks never go backwards nor past what was sent.
        s.acked_seq = s.acked_seq.max(msg.seq.min(s.sent_seq));
        if s.behind_since.is_some() && s.in_flight() < self.window {
            s.resyncs += 1;
            self.send_snapshot(&msg.session, "resync");
        }
    }
}

impl Handler<Unsubscribe> for LiveHub {
    type Result = ();
    fn handle(&mut self, msg: Unsubscribe, _: &mut Context<Self>) {
        self.subscribers.remove(&msg.session);
    }
}

impl Handler<GetLive> for LiveHub {
    type Result = MessageResult<GetLive>;
    fn handle(&mut self, msg: GetLive, _: &mut Context<Self>) -> Self::Result {
        let now = self.engine.now();
        self.dirty.merge(self.state.tick(now));
        let (queues, agents) = self.snapshot_parts(msg.queues.as_ref(), now);
        MessageResult(LiveSnapshot {
            server_time: now,
            queues,
            agents,
        })
    }
}

impl Handler<GetHubStats> for LiveHub {
    type Result = MessageResult<GetHubStats>;
    fn handle(&mut self, _: GetHubStats, _: &mut Context<Self>) -> Self::Result {
        let mut subscribers: Vec<SubscriberStats> = self
            .subscribers
            .iter()
            .map(|(session, s)| SubscriberStats {
                session_id: session.id,
                node: session.node.clone(),
                supervisor: s.supervisor.clone(),
                in_flight: s.in_flight(),
                last_seq: s.sent_seq,
                behind: s.behind_since.is_some(),
                deltas_dropped: s.deltas_dropped,
                resyncs: s.resyncs,
            })
            .collect();
        subscribers.sort_by(|a, b| (&a.node, a.session_id).cmp(&(&b.node, b.session_id)));
        MessageResult(HubStats {
            window: self.window,
            events_lost: self.engine.live_events_lost(),
            subscribers,
        })
    }
}
