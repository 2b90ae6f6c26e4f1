//! `QueueActor`: one per queue. Owns the queue's [`QueueRouter`] (waiting conversations
//! in priority-then-wait order, and an index of eligible agents with free capacity) and
//! the offers it has made.
//!
//! It decides *who* is offered *what*; each agent actor is the arbiter of its own
//! capacity and of its offers' outcomes (accept / reject / time out), which it reports
//! back with [`OfferClosed`]. Reject and time-out put the conversation back at its
//! original rank and offer it to the next agent. Routing events are written to the
//! timeline and the routing trace without blocking the mailbox. A queue actor never
//! awaits another actor inside a handler.

pub mod messages;

use super::agent::AgentActor;
use super::messages::*;
use super::registry::Engine;
use crate::domain::ErrorCode;
use crate::domain::{
    AgentId, ConversationId, CustomerId, EventKind, Millis, OfferId, OfferOutcome, QueueConfig,
    ReportEvent, ReportKind, TimelineEvent,
};
use crate::live::{LiveEvent, OfferStat};
use crate::routing::widening::{Ranking, Rings};
use crate::routing::{AgentSnapshot, Decision, EnqueueError, QueueRouter, WaitingEntry};
use crate::store::{Batch, TraceEntry};
use actix::prelude::*;
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

/// What the queue remembers about a waiting conversation to build an offer.
#[derive(Debug, Clone)]
struct Waiter {
    customer_id: CustomerId,
    channel: crate::domain::Channel,
    priority: i32,
    enqueued_at: Millis,
    preview: Option<String>,
}

pub struct QueueActor {
    engine: Engine,
    config: QueueConfig,
    router: QueueRouter,
    waiters: HashMap<ConversationId, Waiter>,
    /// Live offers: conversation -> (offer, agent, when it was made).
    offers: HashMap<ConversationId, (OfferId, AgentId, Instant)>,
    /// Offers rescinded because their conversation left the queue, until the agent's
    /// `OfferClosed` arrives: who and which channel, for that outcome's timeline and
    /// report events. In flight for milliseconds; bounded by [`RESCINDING_MAX`].
    rescinding: HashMap<OfferId, (CustomerId, crate::domain::Channel)>,
    /// The latest offers closed here, oldest first (at most [`CLOSED_MAX`]): an
    /// outcome told again (resent after a lost answer, or the agent's own after the
    /// orphan sweep closed it) is counted and recorded once.
    closed: (HashSet<OfferId>, VecDeque<OfferId>),
    /// Whether the queue offered at the last look at its business hours: a change is
    /// acted on by the once-a-second tick (closing holds new offers back; opening
    /// offers what waited).
    offering: bool,
    /// Started again after a crash: reload the waiting conversations from the store.
    reload: bool,
    /// The `service_rules` on now (index -> why it turned on), as the live hub last
    /// judged them (docs/api.md "Service-level routing").
    service_on: std::collections::BTreeMap<usize, String>,
    /// When the hub last told it (`service_on` lapses [`SERVICE_LAPSE`] after).
    service_seen: Instant,
}

/// Rules the hub said were on lapse when it has not repeated them for this long (it
/// repeats every few seconds while any is on): a hub that moved to another node
/// starts with every rule off and would never turn off what it never turned on.
const SERVICE_LAPSE: Duration = Duration::from_secs(15);

/// How long past its time-out an offer to an agent on another node may stay without an
/// outcome before the queue takes it for orphaned (see `sweep_orphaned_offers`).
const ORPHAN_SLACK: Duration = Duration::from_secs(5);

/// Most rescinded offers remembered while their outcome is in flight (a lost entry
/// only drops that outcome from the timeline and the reports).
const RESCINDING_MAX: usize = 4096;

/// Most closed offers remembered to drop an outcome told twice (a duplicate older
/// than that is counted twice in the offer metric and the timeline).
const CLOSED_MAX: usize = 4096;

/// A queue's widening rings and proficiency ranking. A configuration `save_queue`
/// would refuse (only one stored by an older build) widens nothing, and says so.
fn rules(config: &QueueConfig) -> (Rings, Ranking) {
    let rings = Rings::of_queue(config).unwrap_or_else(|e| {
        tracing::warn!(queue = %config.name, error = %e, "queue widening ignored");
        Rings::default()
    });
    (rings, Ranking::of_queue(config))
}

/// New configuration for a running queue.
#[derive(Debug, Clone, Message, serde::Serialize, serde::Deserialize)]
#[rtype(result = "()")]
pub struct Reconfigure(pub QueueConfig);

impl QueueActor {
    pub fn new(engine: Engine, config: QueueConfig) -> Self {
        let mut router = QueueRouter::new(config.strategy, config.max_waiting);
        let (rings, ranking) = rules(&config);
        router.set_rules(rings, ranking);
        Self {
            engine,
            config,
            router,
            waiters: HashMap::new(),
            offers: HashMap::new(),
            rescinding: HashMap::new(),
            closed: Default::default(),
            offering: true,
            reload: false,
            service_on: Default::default(),
            service_seen: Instant::now(),
        }
    }

    /// A queue actor replacing one that crashed: on start it re-queues this queue's
    /// waiting conversations from the store (original order and wait time, as after
    /// an engine restart) and asks every running agent to publish itself again.
    pub fn restarted(engine: Engine, config: QueueConfig) -> Self {
        Self {
            reload: true,
            ..Self::new(engine, config)
        }
    }

    /// Remembers that `offer` closed; false when it already had.
    fn first_close(&mut self, offer: OfferId) -> bool {
        let (seen, order) = &mut self.closed;
        if !seen.insert(offer) {
            return false;
        }
        order.push_back(offer);
        if order.len() > CLOSED_MAX {
            if let Some(old) = order.pop_front() {
                seen.remove(&old);
            }
        }
        true
    }

    /// Offers whose agent actor is gone (it crashed, or its node died, so it will never
    /// answer): closed as rescinded, so the conversation goes to someone else instead
    /// of staying offered for ever. An agent actor on this node is gone when it no
    /// longer runs; one on another node when its offer has outlived its time-out by
    /// [`ORPHAN_SLACK`] without an outcome (the agent's own timer closes it at the
    /// time-out). A late acceptance of a rescinded offer is refused by the customer's
    /// actor, the arbiter of assignment, so the conversation is never held twice.
    fn sweep_orphaned_offers(&mut self, ctx: &mut Context<Self>) {
        let outlived = Duration::from_millis(self.config.offer_timeout_ms) + ORPHAN_SLACK;
        let orphaned: Vec<(ConversationId, OfferId, AgentId)> = self
            .offers
            .iter()
            .filter(|(_, (_, a, at))| {
                if self.engine.is_here::<AgentActor>(a) {
                    self.engine.agent(a).is_none()
                } else {
                    at.elapsed() > outlived
                }
            })
            .map(|(c, (o, a, _))| (*c, *o, a.clone()))
            .collect();
        for (conversation_id, offer_id, agent_id) in orphaned {
            tracing::warn!(queue = %self.config.name, agent = %agent_id, conversation = %conversation_id, "offer to a stopped agent actor rescinded");
            ctx.notify(OfferClosed {
                offer_id,
                conversation_id,
                agent_id,
                outcome: OfferOutcome::Rescinded,
            });
        }
    }

    fn trace(
        &self,
        conv: ConversationId,
        step: &str,
        agent: Option<AgentId>,
        detail: String,
    ) -> TraceEntry {
        TraceEntry {
            conversation_id: conv,
            id: crate::domain::EventId::new(),
            at: self.engine.now(),
            queue: self.config.name.clone(),
            step: step.to_owned(),
            agent,
            detail,
        }
    }

    /// Durably records routing events without blocking the mailbox.
    fn record(&self, events: Vec<TimelineEvent>, traces: Vec<TraceEntry>) {
        self.record_with_reports(events, traces, Vec::new());
    }

    /// [`Self::record`] with report events (docs/metrics.md) in the same commit.
    fn record_with_reports(
        &self,
        events: Vec<TimelineEvent>,
        traces: Vec<TraceEntry>,
        report_events: Vec<ReportEvent>,
    ) {
        let store = self.engine.store.clone();
        let batch = Batch {
            events,
            traces,
            report_events,
            ..Default::default()
        };
        actix::spawn(async move {
            if let Err(e) = store.commit(batch).await {
                tracing::warn!(error = %e, "routing record not stored");
            }
        });
    }

    fn gauges(&self) {
        let now = self.engine.now();
        crate::metrics::queue_state(
            &self.config.name,
            self.router.waiting_len(),
            self.router
                .oldest_enqueued_at()
                .map(|t| now.since(t))
                .unwrap_or(0),
        );
        crate::metrics::service_rules_on(&self.config.name, self.service_on.len());
    }

    /// Tells the live hub this queue exists (so it shows before any traffic).
    fn announce(&self) {
        self.engine.live(LiveEvent::QueueConfigured {
            queue: self.config.name.clone(),
            display_name: self.config.display_name.clone(),
        });
    }

    /// Offers as many waiting conversations as there are free eligible agents.
    /// Whether the queue offers now: open by its business hours, or configured to
    /// offer while closed.
    fn offers_now(&self) -> bool {
        let offer_anyway = self
            .config
            .hours
            .as_ref()
            .is_none_or(|h| h.after_hours.offer);
        offer_anyway || self.engine.queue_closed(&self.config.name).is_none()
    }

    /// Opens or closes the queue when its business hours say so. Checked every second
    /// (on the engine's clock, so a test's manual clock drives it too).
    fn hours_tick(&mut self, ctx: &mut Context<Self>) {
        if !self.service_on.is_empty() && self.service_seen.elapsed() > SERVICE_LAPSE {
            tracing::warn!(queue = %self.config.name, "service rules lapsed: the live hub stopped repeating them");
            self.service_on.clear();
            self.gauges();
        }
        self.service_overflow();
        if self.note_widened() {
            self.dispatch(ctx);
        }
        let offering = self.offers_now();
        if offering == self.offering {
            return;
        }
        self.offering = offering;
        tracing::info!(queue = %self.config.name, offering, "queue business hours: {}", if offering { "open" } else { "closed" });
        if offering {
            self.dispatch(ctx);
        }
    }

    /// Traces the widening rings that opened by now (`widened`), so that the trace of
    /// a conversation offered in a wider ring says when that ring opened. Called by the
    /// once-a-second tick and before any decision; true when a ring opened, and then
    /// the caller must route (`dispatch`): nobody else will for that opening.
    fn note_widened(&mut self) -> bool {
        let widened = self.router.widen_due(self.engine.now());
        if widened.is_empty() {
            return false;
        }
        let traces = widened
            .into_iter()
            .map(|w| {
                let detail = format!("ring {} of {}: requires {}", w.ring, w.of, w.requires);
                self.trace(w.conversation, "widened", None, detail)
            })
            .collect();
        self.record(vec![], traces);
        true
    }

    fn dispatch(&mut self, ctx: &mut Context<Self>) {
        self.note_widened();
        self.offering = self.offers_now();
        if !self.offering {
            // Closed: the conversations wait for the opening (`hours_tick`).
            self.gauges();
            return;
        }
        loop {
            let now = self.engine.now();
            let t0 = Instant::now();
            let Some(d) = self.router.decide(now) else {
                break;
            };
            crate::metrics::routing_decision(t0.elapsed());
            self.place_offer(d, ctx);
        }
        self.gauges();
    }

    fn place_offer(&mut self, d: Decision, ctx: &mut Context<Self>) {
        let conv = d.conversation;
        let Some(w) = self.waiters.get(&conv).cloned() else {
            self.router.remove(&conv);
            return;
        };
        let mut traces: Vec<TraceEntry> = d
            .trace
            .iter()
            .map(|s| self.trace(conv, s.step, s.agent.clone(), s.detail.clone()))
            .collect();
        if self.engine.is_here::<AgentActor>(&d.agent) && self.engine.agent(&d.agent).is_none() {
            // Gone since its last update: forget it and put the conversation back.
            self.router.remove_agent(&d.agent);
            if let Some(e) = self.router.remove(&conv) {
                self.router.requeue(e);
            }
            traces.push(self.trace(conv, "skipped", Some(d.agent), "agent disconnected".into()));
            self.record(vec![], traces);
            return;
        }
        let offer_id = OfferId::new();
        self.offers
            .insert(conv, (offer_id, d.agent.clone(), Instant::now()));
        traces.push(self.trace(
            conv,
            "offered",
            Some(d.agent.clone()),
            format!(
                "offer {offer_id} timeout_ms={}",
                self.config.offer_timeout_ms
            ),
        ));
        let info = OfferInfo {
            offer_id,
            conversation_id: conv,
            customer_id: w.customer_id,
            channel: w.channel,
            queue: self.config.name.clone(),
            priority: w.priority,
            enqueued_at: w.enqueued_at,
            timeout_ms: self.config.offer_timeout_ms,
            max_missed: self.config.max_missed_offers,
            preview: w.preview.clone(),
        };
        let agent_id = d.agent.clone();
        let now = self.engine.now();
        // Asked here, not inside the spawned future: the message is queued at once, so
        // offers placed in one dispatch reach the agent in routing order.
        let reserve = self.engine.ask_agent(&d.agent, Reserve(info));
        ctx.spawn(reserve.into_actor(self).map(move |res, act, ctx| {
            match res {
                Ok(Ok(())) => {
                    crate::metrics::offer("offered", &act.config.name);
                    act.engine.live(LiveEvent::Offer {
                        queue: act.config.name.clone(),
                        outcome: OfferStat::Offered,
                    });
                    let ev = TimelineEvent::new(
                        w.customer_id,
                        Some(conv),
                        now,
                        EventKind::Offered {
                            agent_id: agent_id.clone(),
                            offer_id,
                        },
                    );
                    act.record(vec![ev], traces);
                }
                other => {
                    let reason = match other {
                        Ok(Err(r)) => r,
                        _ => "agent unreachable".to_owned(),
                    };
                    if act.offers.get(&conv).map(|o| o.0) == Some(offer_id) {
                        act.offers.remove(&conv);
                        if let Some(e) = act.router.remove(&conv) {
                            act.router.requeue(e);
                        }
                        // The agent's index entry was stale; it pushes fresh state (and
                        // pulls work) whenever its capacity frees.
                        act.router.remove_agent(&agent_id);
                        traces.push(act.trace(conv, "declined", Some(agent_id), reason));
                        act.record(vec![], traces);
                        act.dispatch(ctx);
                    }
                }
            }
        }));
    }

    fn arm_timers(&self, conv: ConversationId, entry: &WaitingEntry, ctx: &mut Context<Self>) {
        let now = self.engine.now();
        if entry.preferred_agent.is_some() && entry.sticky_until > now {
            // When the sticky wait ends, anyone eligible may take it.
            ctx.run_later(
                Duration::from_millis(entry.sticky_until.since(now) + 1),
                |act, ctx| act.dispatch(ctx),
            );
        }
        if let Some(of) = &self.config.overflow {
            let due = entry.enqueued_at.plus_ms(of.after_ms);
            self.arm_overflow(conv, due.since(now), ctx);
        }
    }

    fn arm_overflow(&self, conv: ConversationId, in_ms: u64, ctx: &mut Context<Self>) {
        ctx.run_later(Duration::from_millis(in_ms), move |act, ctx| {
            act.check_overflow(conv, ctx)
        });
    }

    fn check_overflow(&mut self, conv: ConversationId, ctx: &mut Context<Self>) {
        let Some(of) = self.config.overflow.clone() else {
            return;
        };
        if self.offers.contains_key(&conv) {
            // Being offered right now; look again shortly.
            self.arm_overflow(conv, 1_000, ctx);
            return;
        }
        // Armed under an earlier rule: only act once the current rule says it is due.
        let now = self.engine.now();
        if self
            .waiters
            .get(&conv)
            .is_some_and(|w| w.enqueued_at.plus_ms(of.after_ms) > now)
        {
            return;
        }
        self.overflow_now(conv, &of.to, format!("to queue {}", of.to));
    }

    /// Moves waiting (not offered) `conv` to queue `to`, keeping its wait time, with
    /// `detail` in its trace; nothing when `to` is gone or is this queue.
    fn overflow_now(
        &mut self,
        conv: ConversationId,
        to: &crate::domain::QueueName,
        detail: String,
    ) {
        if !self.engine.queue_exists(to) || *to == self.config.name {
            return;
        }
        let Some(_) = self.router.remove(&conv) else {
            return;
        };
        let Some(w) = self.waiters.remove(&conv) else {
            return;
        };
        self.engine.live(LiveEvent::Removed {
            queue: self.config.name.clone(),
            conversation: conv,
        });
        let t = self.trace(conv, "overflowed", None, detail);
        self.record(vec![], vec![t]);
        self.engine.tell_customer(
            w.customer_id,
            Requeue {
                conversation_id: conv,
                overflow_to: Some(to.clone()),
                reason: "overflow".into(),
            },
        );
        self.gauges();
    }

    /// While a service rule with `overflow_to` is on, every conversation waiting here
    /// (not being offered) moves there. Called when the hub's judgement arrives and by
    /// the once-a-second tick (for arrivals since).
    fn service_overflow(&mut self) {
        let Some((i, to, why)) = self.service_on.iter().find_map(|(i, why)| {
            let to = self.config.service_rules.get(*i)?.overflow_to.clone()?;
            Some((*i, to, why.clone()))
        }) else {
            return;
        };
        let waiting: Vec<ConversationId> = self
            .waiters
            .keys()
            .filter(|c| !self.offers.contains_key(c))
            .copied()
            .collect();
        for conv in waiting {
            let detail = format!("to queue {to}: service rule {i} ({why})");
            self.overflow_now(conv, &to, detail);
        }
    }

    /// The priority the service rules on now add to the queue's own.
    fn service_boost(&self) -> i32 {
        self.service_on
            .keys()
            .filter_map(|i| self.config.service_rules.get(*i)?.boost_priority)
            .sum::<i32>()
            .min(crate::routing::service::MAX_BOOST)
    }
}

impl Actor for QueueActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(100_000);
        self.announce();
        ctx.run_interval(Duration::from_secs(1), |act, _| act.gauges());
        ctx.run_interval(Duration::from_secs(1), |act, ctx| {
            act.gauges();
            act.sweep_orphaned_offers(ctx);
            act.hours_tick(ctx);
        });
        if self.reload {
            self.reload_waiting(ctx);
        }
    }
}

impl QueueActor {
    /// After a crash: every conversation the store has waiting in this queue goes back
    /// in (nothing else runs until it has), then agents re-index themselves.
    fn reload_waiting(&mut self, ctx: &mut Context<Self>) {
        let store = self.engine.store.clone();
        let name = self.config.name.clone();
        ctx.wait(
            async move { store.open_conversations().await }
                .into_actor(self)
                .map(move |res, act, ctx| {
                    let mut open = match res {
                        Ok(open) => open,
                        Err(e) => {
                            tracing::error!(queue = %name, error = %e, "queue restart: cannot reload waiting conversations");
                            return;
                        }
                    };
                    open.retain(|c| {
                        c.queue == name && c.state == crate::domain::ConversationState::Queued
                    });
                    open.sort_by_key(|c| {
                        (std::cmp::Reverse(c.priority), c.enqueued_at, c.enqueue_seq)
                    });
                    let n = open.len();
                    for c in open {
                        let _ = <Self as Handler<Enqueue>>::handle(
                            act,
                            Enqueue::restore(&c),
                            ctx,
                        );
                    }
                    tracing::warn!(queue = %name, requeued = n, "queue actor restarted; waiting conversations reloaded");
                    act.engine.republish_agents();
                }),
        );
    }
}

/// Re-announces the queue and what waits in it to the live hub (a hub that just
/// started on this or another node learns the queue's state; requeues are not counted
/// as arrivals).
impl Handler<Republish> for QueueActor {
    type Result = ();
    fn handle(&mut self, _: Republish, _: &mut Context<Self>) {
        self.announce();
        for (conv, w) in &self.waiters {
            self.engine.live(LiveEvent::Enqueued {
                queue: self.config.name.clone(),
                conversation: *conv,
                enqueued_at: w.enqueued_at,
                arrival: false,
            });
        }
        self.gauges();
    }
}

impl Handler<InjectPanic> for QueueActor {
    type Result = ();
    fn handle(&mut self, _: InjectPanic, _: &mut Context<Self>) {
        panic!("queue {}: injected panic (test hook)", self.config.name);
    }
}

impl Handler<Enqueue> for QueueActor {
    type Result = EngineResult<usize>;

    fn handle(&mut self, msg: Enqueue, ctx: &mut Context<Self>) -> Self::Result {
        let conv = msg.conversation_id;
        if self.waiters.contains_key(&conv) {
            // A stored conversation's priority went up (its response time passed): it
            // takes its new rank at once.
            if self
                .router
                .get(&conv)
                .is_some_and(|w| msg.priority > w.priority)
                && self.router.set_priority(&conv, msg.priority)
            {
                self.dispatch(ctx);
            }
            let failed_here = msg
                .failed_offer
                .is_some_and(|f| self.offers.get(&conv).is_some_and(|o| o.0 == f));
            if let Some((_, agent, _)) = failed_here.then(|| self.offers.remove(&conv)).flatten() {
                // Accepted, and its assignment failed before the acceptance came here:
                // the offer is over (its late outcome finds it gone) and the
                // conversation waits again, for that agent too.
                if let Some(w) = self.router.offer_closed(&conv, &agent, true) {
                    self.router.requeue(w);
                }
                self.dispatch(ctx);
            }
            return Ok(self.router.position(&conv).map(|p| p + 1).unwrap_or(1));
        }
        let sticky_until = if msg.preferred_agent.is_some() {
            msg.enqueued_at.plus_ms(self.config.sticky_wait_ms)
        } else {
            msg.enqueued_at
        };
        let entry = WaitingEntry {
            conversation: conv,
            class: msg.channel.class(),
            priority: msg.priority,
            enqueued_at: msg.enqueued_at,
            seq: msg.seq,
            preferred_agent: msg.preferred_agent.clone(),
            sticky_until,
            required_agent: msg.required_agent.clone(),
            tried: BTreeSet::new(),
            requirements: msg.requirements.clone(),
        };
        if msg.force {
            self.router.requeue(entry.clone());
        } else {
            match self.router.enqueue(entry.clone()) {
                Ok(()) => {}
                Err(EnqueueError::Duplicate) => {}
                Err(EnqueueError::Full { max }) => {
                    crate::metrics::refused(&self.config.name);
                    let t = self.trace(conv, "refused", None, format!("queue full: {max} waiting"));
                    self.record(vec![], vec![t]);
                    return Err(EngineError::new(
                        ErrorCode::QueueFull,
                        format!(
                            "queue {} is full ({max} waiting); try again later",
                            self.config.name
                        ),
                    ));
                }
            }
        }
        self.waiters.insert(
            conv,
            Waiter {
                customer_id: msg.customer_id,
                channel: msg.channel,
                priority: msg.priority,
                enqueued_at: msg.enqueued_at,
                preview: msg.preview,
            },
        );
        self.engine.live(LiveEvent::Enqueued {
            queue: self.config.name.clone(),
            conversation: conv,
            enqueued_at: msg.enqueued_at,
            arrival: !msg.force,
        });
        let position = self.router.position(&conv).map(|p| p + 1).unwrap_or(1);
        let mut detail = format!(
            "priority={} class={} preferred={} required={}",
            msg.priority,
            msg.channel.class().as_str(),
            msg.preferred_agent
                .as_ref()
                .map(|a| a.as_str())
                .unwrap_or("-"),
            msg.required_agent
                .as_ref()
                .map(|a| a.as_str())
                .unwrap_or("-"),
        );
        if !msg.requirements.is_empty() {
            let requires = crate::routing::widening::compact(&msg.requirements);
            detail.push_str(&format!(" requires={requires}"));
        }
        let mut traces = vec![self.trace(conv, "enqueued", None, detail)];
        if let Some(why) = self.engine.queue_closed(&self.config.name) {
            let opens = self.engine.queue_calendar(&self.config.name).and_then(|c| {
                let at = c.next_change(self.engine.now())?;
                Some(c.local(at))
            });
            let detail = match opens {
                Some(at) => format!("{}; opens at {at}", why.describe()),
                None => why.describe(),
            };
            traces.push(self.trace(conv, "closed", None, detail));
        }
        self.record(vec![], traces);
        self.arm_timers(conv, &entry, ctx);
        self.dispatch(ctx);
        Ok(position)
    }
}

impl Handler<Dequeue> for QueueActor {
    type Result = ();

    fn handle(&mut self, msg: Dequeue, _: &mut Context<Self>) {
        let conv = msg.conversation_id;
        self.router.remove(&conv);
        let waiter = self.waiters.remove(&conv);
        if let Some(w) = &waiter {
            let queue = self.config.name.clone();
            self.engine.live(if msg.reason == "abandoned" {
                LiveEvent::Abandoned {
                    queue,
                    conversation: conv,
                    waited_ms: self.engine.now().since(w.enqueued_at),
                }
            } else {
                LiveEvent::Removed {
                    queue,
                    conversation: conv,
                }
            });
        }
        if let Some((offer_id, agent, _)) = self.offers.remove(&conv) {
            if let Some(w) = waiter {
                if self.rescinding.len() >= RESCINDING_MAX {
                    self.rescinding.clear();
                }
                self.rescinding.insert(offer_id, (w.customer_id, w.channel));
            }
            self.engine.tell_agent(
                &agent,
                Rescind {
                    conversation_id: conv,
                },
            );
        }
        let t = self.trace(conv, "removed", None, msg.reason);
        self.record(vec![], vec![t]);
        self.gauges();
    }
}

impl Handler<AgentUpdate> for QueueActor {
    type Result = ();

    fn handle(&mut self, msg: AgentUpdate, _: &mut Context<Self>) {
        // Index only. Work for a freed agent arrives by its own Peek/Pull, so that the
        // agent, not the queues, picks the best conversation across its queues.
        if msg.available && !self.router.is_available(&msg.agent_id) {
            // Back at work: what it passed on before may be offered to it again.
            self.router.forget_tried(&msg.agent_id);
        }
        self.router.upsert_agent(AgentSnapshot {
            id: msg.agent_id,
            available: msg.available,
            free: msg.free,
            idle_since: msg.idle_since,
            occupancy_permille: msg.occupancy_permille,
            skills: msg.skills,
        });
    }
}

impl Handler<AgentGone> for QueueActor {
    type Result = ();
    fn handle(&mut self, msg: AgentGone, _: &mut Context<Self>) {
        self.router.remove_agent(&msg.agent_id);
    }
}

impl Handler<OfferClosed> for QueueActor {
    type Result = ();

    fn handle(&mut self, msg: OfferClosed, ctx: &mut Context<Self>) {
        let conv = msg.conversation_id;
        if !self.first_close(msg.offer_id) {
            tracing::debug!(queue = %self.config.name, offer = %msg.offer_id, "an offer's outcome told again: dropped");
            return;
        }
        crate::metrics::offer(msg.outcome.as_str(), &self.config.name);
        self.engine.live(LiveEvent::Offer {
            queue: self.config.name.clone(),
            outcome: match msg.outcome {
                OfferOutcome::Accepted => OfferStat::Accepted,
                OfferOutcome::Rejected => OfferStat::Rejected,
                OfferOutcome::TimedOut => OfferStat::TimedOut,
                OfferOutcome::Rescinded => OfferStat::Rescinded,
            },
        });
        let customer = self
            .waiters
            .get(&conv)
            .map(|w| (w.customer_id, w.channel))
            .or_else(|| self.rescinding.remove(&msg.offer_id));
        let difficulty = self
            .router
            .get(&conv)
            .and_then(|w| crate::domain::difficulty_of(&w.requirements));
        let current = self.offers.get(&conv).map(|o| o.0) == Some(msg.offer_id);
        if current {
            self.offers.remove(&conv);
            match msg.outcome {
                OfferOutcome::Accepted => {
                    self.router.offer_closed(&conv, &msg.agent_id, true);
                    if let Some(w) = self.waiters.remove(&conv) {
                        self.engine.live(LiveEvent::Answered {
                            queue: self.config.name.clone(),
                            conversation: conv,
                            waited_ms: self.engine.now().since(w.enqueued_at),
                        });
                    }
                }
                OfferOutcome::Rejected | OfferOutcome::TimedOut | OfferOutcome::Rescinded => {
                    self.router.offer_closed(&conv, &msg.agent_id, false);
                    // A transfer to a person who declined or missed it falls back to
                    // the whole queue rather than waiting for that person for ever.
                    if self.router.widen(&conv) {
                        let t = self.trace(
                            conv,
                            "widened",
                            Some(msg.agent_id.clone()),
                            "the agent it was transferred to did not take it".into(),
                        );
                        self.record(vec![], vec![t]);
                    }
                }
            }
        }
        let t = self.trace(
            conv,
            msg.outcome.as_str(),
            Some(msg.agent_id.clone()),
            format!("offer {}", msg.offer_id),
        );
        let now = self.engine.now();
        let events = customer
            .map(|(c, _)| {
                vec![TimelineEvent::new(
                    c,
                    Some(conv),
                    now,
                    EventKind::OfferClosed {
                        agent_id: msg.agent_id.clone(),
                        offer_id: msg.offer_id,
                        outcome: msg.outcome,
                    },
                )]
            })
            .unwrap_or_default();
        let reports = customer
            .map(|(c, channel)| {
                vec![ReportEvent {
                    id: crate::domain::EventId::new(),
                    at: now,
                    queue: self.config.name.clone(),
                    channel,
                    conversation: conv,
                    customer: c,
                    agent: Some(msg.agent_id.clone()),
                    difficulty,
                    kind: ReportKind::OfferClosed {
                        outcome: msg.outcome,
                    },
                }]
            })
            .unwrap_or_default();
        self.record_with_reports(events, vec![t], reports);
        if current && msg.outcome != OfferOutcome::Accepted {
            self.dispatch(ctx);
        } else {
            self.gauges();
        }
    }
}

impl Handler<Peek> for QueueActor {
    type Result = Option<PeekResult>;

    fn handle(&mut self, msg: Peek, ctx: &mut Context<Self>) -> Self::Result {
        if !self.offers_now() {
            return None;
        }
        if self.note_widened() {
            // A ring opened: others may take what it widened, not only this agent.
            self.dispatch(ctx);
        }
        let p = self.router.best_for(&msg.agent_id, self.engine.now())?;
        Some(PeekResult {
            queue: self.config.name.clone(),
            conversation_id: p.conversation,
            priority: p
                .priority
                .saturating_add(self.config.priority)
                .saturating_add(self.service_boost()),
            enqueued_at: p.enqueued_at,
            seq: p.seq,
        })
    }
}

impl Handler<Pull> for QueueActor {
    type Result = bool;

    fn handle(&mut self, msg: Pull, ctx: &mut Context<Self>) -> bool {
        if !self.offers_now() {
            return false;
        }
        if self.note_widened() {
            // A ring opened: others may take what it widened, not only this agent.
            self.dispatch(ctx);
        }
        let now = self.engine.now();
        let t0 = Instant::now();
        let Some(d) = self
            .router
            .take_for(&msg.conversation_id, &msg.agent_id, now)
        else {
            return false;
        };
        crate::metrics::routing_decision(t0.elapsed());
        self.place_offer(d, ctx);
        self.gauges();
        true
    }
}

impl Handler<GetQueueSnapshot> for QueueActor {
    type Result = MessageResult<GetQueueSnapshot>;

    fn handle(&mut self, _: GetQueueSnapshot, _: &mut Context<Self>) -> Self::Result {
        let now = self.engine.now();
        let agents: Vec<_> = self.router.agents().collect();
        MessageResult(QueueSnapshot {
            config: self.config.clone(),
            waiting: self.router.waiting_len(),
            offered: self.router.offered_len(),
            longest_wait_ms: self
                .router
                .oldest_enqueued_at()
                .map(|t| now.since(t))
                .unwrap_or(0),
            agents: agents.len(),
            agents_available: agents.iter().filter(|a| a.available).count(),
            queue: self
                .router
                .waiting()
                .take(100)
                .map(|w| WaitingView {
                    conversation_id: w.conversation,
                    channel_class: w.class,
                    priority: w.priority,
                    enqueued_at: w.enqueued_at,
                    waited_ms: now.since(w.enqueued_at),
                })
                .collect(),
            hours: self.engine.queue_calendar(&self.config.name).map(|c| {
                let closed = c.closed_at(now);
                let next = c.next_change(now);
                HoursStatus {
                    open: closed.is_none(),
                    offering: self.offers_now(),
                    closed_because: closed.map(|w| w.describe()),
                    next_change: next,
                    next_change_local: next.map(|at| c.local(at)),
                }
            }),
            service_rules_on: self.service_on.clone(),
        })
    }
}

impl Handler<Reconfigure> for QueueActor {
    type Result = ();
    fn handle(&mut self, msg: Reconfigure, ctx: &mut Context<Self>) {
        self.router.set_strategy(msg.0.strategy);
        self.router.set_max_waiting(msg.0.max_waiting);
        let (rings, ranking) = rules(&msg.0);
        self.router.set_rules(rings, ranking);
        let overflow_changed = self.config.overflow != msg.0.overflow;
        if self.config.service_rules != msg.0.service_rules {
            // Judged afresh by the hub under the new rules.
            self.service_on.clear();
        }
        self.config = msg.0;
        self.announce();
        if overflow_changed {
            // Waiting conversations follow the new overflow rule too (a timer that
            // fires under a rule since removed finds nothing to do).
            if let Some(of) = self.config.overflow.clone() {
                let now = self.engine.now();
                let due: Vec<_> = self
                    .waiters
                    .iter()
                    .map(|(c, w)| (*c, w.enqueued_at.plus_ms(of.after_ms).since(now)))
                    .collect();
                for (c, in_ms) in due {
                    self.arm_overflow(c, in_ms, ctx);
                }
            }
        }
        self.dispatch(ctx);
    }
}

impl Handler<ServiceLevel> for QueueActor {
    type Result = ();
    fn handle(&mut self, msg: ServiceLevel, _: &mut Context<Self>) {
        if msg.rules != self.config.service_rules {
            return;
        }
        for (rule, on, why) in &msg.turns {
            tracing::info!(queue = %self.config.name, rule, on, why = %why, "service rule turned {}", if *on { "on" } else { "off" });
        }
        self.service_on = msg.on;
        self.service_seen = Instant::now();
        self.gauges();
        self.service_overflow();
    }
}
