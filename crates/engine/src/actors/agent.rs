//! `AgentActor`: one per logged-in agent. Owns the agent's status, held conversations,
//! pending offers (with their timeouts) and attached websocket sessions.
//!
//! It is the arbiter of its capacity: a queue's [`Reserve`] succeeds only if a slot of
//! that channel class is free counting held conversations *and* pending offers, so no
//! agent ever exceeds capacity however many queues offer at once. It alone decides an
//! offer's outcome (accepted / rejected / timed out / rescinded) and reports it to the
//! queue. When a slot frees it asks each of its queues for their best waiting
//! conversation ([`Peek`]) and pulls the best across queues ([`Pull`]).
//!
//! It outlives its last socket for `agent_grace_ms`; a socket that reconnects in time
//! gets the full state back. After the grace period, held conversations go back to
//! their queues (original wait kept) and the actor stops.

mod calls;
pub mod messages;
mod offers;
mod park;
mod session;
pub(crate) mod shown;
mod status;
mod work;

pub use status::check_reason;

use super::messages::*;
use super::registry::Engine;
use super::sessions::SessionRef;
use crate::domain::view::{AgentInfo, CustomerView, OfferView, ParkedView};
use crate::domain::{
    AgentProfile, AgentStatus, Channel, ChannelClass, ConversationId, ConversationState,
    CustomerId, ErrorCode, Millis, OfferId, OfferOutcome, QueueName, RequestedStatus,
};
use actix::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::time::Duration;

/// A conversation the agent holds.
#[derive(Debug, Clone)]
struct Held {
    customer_id: CustomerId,
    class: ChannelClass,
    state: ConversationState,
    /// The channel the customer last wrote on, and the queue it came from (what a
    /// parked-list entry shows).
    channel: Channel,
    queue: QueueName,
    /// Its channel is asynchronous: it may be parked, and is after the customer's
    /// silence (`parking.auto_park_after_ms`).
    parks: bool,
    /// The customer's last message in it, or when this actor took it (assignment,
    /// restore): where their silence is counted from.
    silent_since: Millis,
    /// When `state` last changed here (assignment, restore, wrap-up).
    state_since: Millis,
    /// A phone call whose caller is on hold now ([`PhoneHold`]).
    on_hold: bool,
    /// What this actor pushed or listed of the conversation to the agent's sockets: a
    /// [`CatchUp`] pushes the rest, and nothing is pushed twice.
    shown: shown::Shown,
    /// While a catch-up reads the conversation: the newest event asked about since it
    /// started (read again after it when still not shown).
    catching: Option<crate::domain::EventId>,
    /// What catch-ups said the agent may have missed while the conversation was not
    /// listed here yet (or while another catch-up ran): the oldest lost when named,
    /// and the newest; made after the listing.
    owed: Option<(Option<crate::domain::EventId>, crate::domain::EventId)>,
}

/// Sends `msg` to agent `id`'s actor on this node when called, if it still runs: what
/// a message or push that was lost on the way starts (its repair).
fn to_agent<M>(engine: &Engine, id: &crate::domain::AgentId, msg: M) -> impl FnOnce() + 'static
where
    AgentActor: Handler<M>,
    M: actix::Message + Send + 'static,
    M::Result: Send,
{
    let (engine, id) = (engine.clone(), id.clone());
    move || {
        if let Some(a) = engine.agent(&id) {
            a.do_send(msg);
        }
    }
}

impl Held {
    fn new(
        customer_id: CustomerId,
        channel: Channel,
        queue: QueueName,
        state: ConversationState,
        now: Millis,
    ) -> Self {
        Held {
            customer_id,
            channel,
            queue,
            class: channel.class(),
            state,
            parks: channel.capabilities().parks,
            silent_since: now,
            state_since: now,
            on_hold: false,
            shown: Default::default(),
            catching: None,
            owed: None,
        }
    }

    /// Remembers a catch-up to make later (see `owed`).
    fn owe(&mut self, first: Option<crate::domain::EventId>, last: crate::domain::EventId) {
        self.owed = Some(match self.owed {
            None => (first, last),
            Some(owed) => shown::widen(owed, (first, last)),
        });
    }

    /// Whether a catch-up of `first..=last` is needed, and where it reads from
    /// (`Some(None)`: from what was shown). Needed when the events were lost before
    /// this actor's first listing (it started after a takeover, and the listing held
    /// only the latest events: read from the oldest owed), or while either end is
    /// unshown.
    fn catch_up_needed(
        &self,
        first: Option<crate::domain::EventId>,
        last: crate::domain::EventId,
    ) -> Option<Option<crate::domain::EventId>> {
        let from = first.and_then(|f| self.shown.owed_from(f));
        (from.is_some() || self.shown.missing(first, last)).then_some(from)
    }

    /// A catch-up from `from` up to `up_to` starts (see [`Held::catch_up_needed`]).
    fn catch_up_begins(
        &mut self,
        from: Option<crate::domain::EventId>,
        up_to: crate::domain::EventId,
    ) {
        if let Some(f) = from {
            self.shown.owed_taken(f);
        }
        self.catching = Some(up_to);
    }
}

/// What each agent gets back after a restart or a takeover, from the store's open
/// conversations: those it held (assigned or in wrap-up) and those it parked, for the
/// agents `keep` admits.
pub fn restores(
    open: &[crate::domain::Conversation],
    keep: impl Fn(&crate::domain::AgentId) -> bool,
) -> BTreeMap<crate::domain::AgentId, RestoreHeld> {
    let mut out: BTreeMap<crate::domain::AgentId, RestoreHeld> = BTreeMap::new();
    for c in open {
        let (agent, parked) = match (c.state, &c.agent, &c.preferred_agent) {
            (ConversationState::Assigned | ConversationState::WrapUp, Some(a), _) => (a, false),
            (ConversationState::Parked, _, Some(a)) => (a, true),
            _ => continue,
        };
        if !keep(agent) {
            continue;
        }
        let r = out.entry(agent.clone()).or_insert_with(|| RestoreHeld {
            conversations: Vec::new(),
            parked: Vec::new(),
        });
        if parked {
            r.parked.push(parked_view(c));
        } else {
            r.conversations
                .push((c.id, c.customer_id, c.channel, c.queue.clone()));
        }
    }
    out
}

/// The parked-list entry of a conversation the store holds as parked.
pub(crate) fn parked_view(c: &crate::domain::Conversation) -> ParkedView {
    ParkedView {
        conversation_id: c.id,
        customer_id: c.customer_id,
        channel: c.channel,
        queue: c.queue.clone(),
        parked_at: c.updated_at,
        auto: false,
    }
}

/// An offer waiting for the agent's answer.
struct Pending {
    info: OfferInfo,
    expires_at: Millis,
    timer: SpawnHandle,
    customer: Option<CustomerView>,
    /// The customer lookup for the offer card has finished (found or not).
    ready: bool,
}

pub struct AgentActor {
    engine: Engine,
    profile: AgentProfile,
    status: AgentStatus,
    /// The agent's sockets.
    sessions: HashSet<SessionRef>,
    held: HashMap<ConversationId, Held>,
    /// Conversations this agent parked (at most `parking.max_per_agent`); they use no
    /// slot.
    parked: BTreeMap<ConversationId, ParkedView>,
    /// Parks asked of the customers' actors and not answered yet (counted against the
    /// bound; an auto-park is not asked twice).
    parking: HashSet<ConversationId>,
    /// Accepted conversations whose `Assign` is still in flight, with the state a
    /// `ConversationLeft` that overtook it reported (the customer left meanwhile): the
    /// agent's sockets get `conversation_assigned` first, then that update, never an
    /// assignment of a conversation already released.
    assigning: HashMap<ConversationId, Option<ConversationState>>,
    offers: HashMap<OfferId, Pending>,
    /// Offers in reservation order whose card has not been pushed yet: cards go out in
    /// this order even when their customer lookups finish out of order.
    unshown: VecDeque<OfferId>,
    /// Consecutive offers that timed out; reset by any answer.
    missed_in_row: u32,
    /// Since when the agent has had nothing to do (for longest-idle routing).
    idle_since: Millis,
    grace_timer: Option<SpawnHandle>,
    /// A Peek/Pull round is in flight; at most one at a time.
    pulling: bool,
    /// Another round was requested while one was in flight.
    pull_again: bool,
    /// A socket attached before (so a new socket resumes a session).
    ever_attached: bool,
    /// Started again after a crash: reload held conversations from the store.
    reload: bool,
    /// A publish lost on its way to a queue is to be made again ([`RepublishLost`]).
    republishing: bool,
    /// The queues the presence log last recorded this agent routable in (see
    /// [`Self::note_presence`]).
    routable_in: BTreeSet<QueueName>,
    /// The browser call the agent is in (see `calls`).
    call: Option<calls::AgentCall>,
    /// Browser calls ringing at the agent's sockets, by id, with their media (until
    /// they end: at most one per held conversation).
    rung: HashMap<String, crate::domain::CallMedia>,
}

impl AgentActor {
    pub fn new(engine: Engine, profile: AgentProfile) -> Self {
        let now = engine.now();
        Self {
            engine,
            profile,
            status: AgentStatus::Away {
                reason: "login".into(),
            },
            sessions: HashSet::new(),
            held: HashMap::new(),
            parked: BTreeMap::new(),
            parking: HashSet::new(),
            assigning: HashMap::new(),
            offers: HashMap::new(),
            unshown: VecDeque::new(),
            missed_in_row: 0,
            idle_since: now,
            grace_timer: None,
            pulling: false,
            pull_again: false,
            ever_attached: false,
            reload: false,
            republishing: false,
            routable_in: BTreeSet::new(),
            call: None,
            rung: HashMap::new(),
        }
    }

    /// An agent actor replacing one that crashed, or starting on a node that took its
    /// shard: on start it reloads the conversations the store has assigned to this
    /// agent (pending offers died with the old actor; their queues rescind them).
    pub fn restarted(engine: Engine, profile: AgentProfile) -> Self {
        Self {
            reload: true,
            ..Self::new(engine, profile)
        }
    }

    fn counts(&self) -> [u16; 4] {
        let mut c = [0u16; 4];
        for h in self.held.values() {
            c[h.class.index()] += 1;
        }
        for p in self.offers.values() {
            c[p.info.channel.class().index()] += 1;
        }
        if self.on_call() {
            // A browser call takes the voice slot (voice is exclusive).
            c[ChannelClass::Voice.index()] += 1;
        }
        c
    }

    fn free(&self) -> [u16; 4] {
        let counts = self.counts();
        let mut f = [0u16; 4];
        for class in ChannelClass::ALL {
            f[class.index()] = self.profile.capacity.free(class, &counts);
        }
        f
    }

    fn available(&self) -> bool {
        self.status == AgentStatus::Available && !self.sessions.is_empty()
    }

    fn occupancy_permille(&self) -> u32 {
        let total = self.profile.capacity.total_non_voice().max(1) as u32;
        let counts = self.counts();
        let used: u32 = counts.iter().map(|&c| c as u32).sum();
        if counts[ChannelClass::Voice.index()] > 0 {
            return 1000;
        }
        (used * 1000 / total).min(1000)
    }

    /// The queues this agent is eligible for (serves it and has the skills).
    fn eligible_queues(&self) -> Vec<QueueName> {
        self.profile
            .queues
            .iter()
            .filter(|q| {
                self.engine
                    .queue_config(q)
                    .is_some_and(|c| c.admits(&self.profile.skills))
            })
            .cloned()
            .collect()
    }

    /// Records in the presence log where this agent became routable (available,
    /// connected, eligible) or stopped being so since the last call: one event per
    /// queue that changed, none when nothing did (docs/metrics.md "Presence log"). Not
    /// waited for; a lost write leaves the simulator a shift too long or too short.
    pub(super) fn note_presence(&mut self, routable: BTreeSet<QueueName>) {
        if routable == self.routable_in {
            return;
        }
        let at = self.engine.now();
        let agent = &self.profile.id;
        let event = |queue: &QueueName, routable: bool| crate::domain::PresenceEvent {
            id: crate::domain::EventId::new(),
            at,
            queue: queue.clone(),
            agent: agent.clone(),
            routable,
        };
        let presence: Vec<_> = routable
            .difference(&self.routable_in)
            .map(|q| event(q, true))
            .chain(
                self.routable_in
                    .difference(&routable)
                    .map(|q| event(q, false)),
            )
            .collect();
        self.routable_in = routable;
        let store = self.engine.store.clone();
        actix::spawn(async move {
            let batch = crate::store::Batch {
                presence,
                ..Default::default()
            };
            if let Err(e) = store.commit(batch).await {
                tracing::warn!(error = %e, "presence not stored");
            }
        });
    }

    /// Pushes routing state to every queue (index update), and records a change of
    /// where the agent is routable.
    fn publish(&mut self) {
        let eligible = self.eligible_queues();
        let routable = if self.available() {
            eligible.iter().cloned().collect()
        } else {
            BTreeSet::new()
        };
        self.note_presence(routable);
        let update = AgentUpdate {
            agent_id: self.profile.id.clone(),
            available: self.available(),
            free: self.free(),
            idle_since: self.idle_since,
            occupancy_permille: self.occupancy_permille(),
            skills: self.profile.skills.clone(),
        };
        for q in eligible {
            // Lost (a queue on another node refused it or missed the deadline): the
            // queue would route by a stale picture of this agent, so it is told again
            // — what holds then, not this — after a pause.
            let lost = to_agent(&self.engine, &self.profile.id, RepublishLost);
            self.engine.tell_queue_or_else(&q, update.clone(), lost);
        }
        crate::metrics::agent_state(
            &self.profile.id,
            self.status.label(),
            !self.sessions.is_empty(),
        );
        self.report_live();
    }

    /// Tells the live hub this agent's state (never waits for it).
    fn report_live(&self) {
        let counts = self.counts();
        let total = self.profile.capacity.total_non_voice();
        let work: u16 = counts.iter().sum();
        let used = if counts[ChannelClass::Voice.index()] > 0 {
            total
        } else {
            work.min(total)
        };
        self.engine
            .live(crate::live::LiveEvent::Agent(crate::live::AgentReport {
                agent_id: self.profile.id.clone(),
                display_name: self.profile.display_name.clone(),
                queues: self.eligible_queues(),
                presence: match self.status {
                    AgentStatus::Available => crate::live::Presence::Available,
                    AgentStatus::Away { .. } => crate::live::Presence::Away,
                    AgentStatus::Offline => crate::live::Presence::Offline,
                },
                reason: match &self.status {
                    AgentStatus::Away { reason } => Some(reason.clone()),
                    _ => None,
                },
                connected: !self.sessions.is_empty(),
                work,
                slots_used: used,
                slots_total: total,
                call: self
                    .call
                    .as_ref()
                    .map(|c| {
                        let queue = self.held.get(&c.conversation()).map(|h| h.queue.clone());
                        c.view(queue)
                    })
                    .or_else(|| self.phone_call()),
            }));
    }

    /// The phone call the agent holds, as supervisors see it: a voice conversation
    /// (its media at the telephony platform), talking while assigned, then wrap-up.
    fn phone_call(&self) -> Option<crate::domain::live_view::AgentCallView> {
        use crate::domain::live_view::{AgentCallView, CallPhase};
        self.held.iter().find_map(|(id, h)| {
            let phase = match h.state {
                _ if h.channel != Channel::Voice => return None,
                ConversationState::Assigned if h.on_hold => CallPhase::OnHold,
                ConversationState::Assigned => CallPhase::Talking,
                ConversationState::WrapUp => CallPhase::WrapUp,
                _ => return None,
            };
            Some(AgentCallView {
                conversation_id: *id,
                media: crate::domain::CallMedia::Audio,
                phase,
                since: h.state_since,
                phone: true,
                queue: Some(h.queue.clone()),
            })
        })
    }

    fn push(&self, msg: AgentNotice) {
        for s in &self.sessions {
            self.push_to(s, msg.clone());
        }
    }

    /// Pushes to one of the agent's sockets. One found gone here is left to its own
    /// `DetachAgent` (a socket sends it as it stops); one another node says is gone is
    /// detached by that answer; one whose push another node refused or did not answer
    /// in time is told to reconnect ([`PushLost`]).
    fn push_to(&self, session: &SessionRef, msg: AgentNotice) {
        if !self.sessions.contains(session) {
            return;
        }
        let id = &self.profile.id;
        let detach = DetachAgent {
            session: session.clone(),
        };
        let lost = PushLost {
            session: session.clone(),
            tries: 0,
        };
        self.engine.push_agent(
            session,
            msg,
            to_agent(&self.engine, id, detach),
            to_agent(&self.engine, id, lost),
        );
    }

    fn error_to(&self, session: &SessionRef, e: EngineError, reference: Option<String>) {
        self.push_to(
            session,
            AgentNotice::Refused {
                error: e,
                reference,
            },
        );
    }

    fn status_msg(&self) -> AgentNotice {
        AgentNotice::Status {
            status: self.status.label().to_owned(),
            reason: match &self.status {
                AgentStatus::Away { reason } => Some(reason.clone()),
                _ => None,
            },
        }
    }
}

impl Actor for AgentActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(4096);
        // Started without a socket (restored after a restart): the grace period runs.
        self.start_grace(ctx);
        self.watch_silence(ctx);
        if self.reload {
            let store = self.engine.store.clone();
            let id = self.profile.id.clone();
            // Before any other message (a socket attaching) is handled.
            ctx.wait(
                async move { store.open_conversations().await }
                    .into_actor(self)
                    .map(move |res, act, _| match res {
                        Ok(open) => {
                            let now = act.engine.now();
                            for c in open {
                                match c.state {
                                    ConversationState::Assigned | ConversationState::WrapUp
                                        if c.agent.as_ref() == Some(&id) =>
                                    {
                                        act.held.insert(
                                            c.id,
                                            Held::new(c.customer_id, c.channel, c.queue, c.state, now),
                                        );
                                    }
                                    ConversationState::Parked
                                        if c.preferred_agent.as_ref() == Some(&id) =>
                                    {
                                        act.parked.insert(c.id, parked_view(&c));
                                    }
                                    _ => {}
                                }
                            }
                            tracing::info!(agent = %id, held = act.held.len(), parked = act.parked.len(), "agent actor (re)started; held and parked conversations reloaded");
                        }
                        Err(e) => {
                            tracing::error!(agent = %id, error = %e, "agent actor start: cannot reload held conversations")
                        }
                    }),
            );
        }
    }

    fn stopped(&mut self, ctx: &mut Self::Context) {
        // Stopped by a panic (actix runs `stopped` while the crashed actor unwinds):
        // stay registered, so that the next lookup sees a dead actor and restarts it
        // with its conversations reloaded (`Engine::agent_or_start`).
        if std::thread::panicking() {
            return;
        }
        self.engine.agent_stopped(&self.profile.id, &ctx.address());
    }
}

impl Handler<Republish> for AgentActor {
    type Result = ();
    fn handle(&mut self, _: Republish, ctx: &mut Context<Self>) {
        self.publish();
        self.pull(ctx);
    }
}

/// An [`AgentUpdate`] to a queue on another node was lost. Local: the send's own task
/// sends it.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct RepublishLost;

impl Handler<RepublishLost> for AgentActor {
    type Result = ();
    fn handle(&mut self, _: RepublishLost, ctx: &mut Context<Self>) {
        if self.republishing {
            return;
        }
        self.republishing = true;
        ctx.run_later(super::mail::RESEND_PAUSE, |act, ctx| {
            act.republishing = false;
            act.publish();
            act.pull(ctx);
        });
    }
}

impl Handler<InjectPanic> for AgentActor {
    type Result = ();
    fn handle(&mut self, _: InjectPanic, _: &mut Context<Self>) {
        panic!("agent {}: injected panic (test hook)", self.profile.id);
    }
}

impl Handler<GetAgentLive> for AgentActor {
    type Result = MessageResult<GetAgentLive>;
    fn handle(&mut self, _: GetAgentLive, _: &mut Context<Self>) -> Self::Result {
        MessageResult(AgentLive {
            id: self.profile.id.clone(),
            status: self.status.label().to_owned(),
            reason: match &self.status {
                AgentStatus::Away { reason } => Some(reason.clone()),
                _ => None,
            },
            connected_sockets: self.sessions.len(),
            held: self.held.keys().copied().collect(),
            parked: self.parked.keys().copied().collect(),
            pending_offers: self
                .offers
                .values()
                .map(|p| p.info.conversation_id)
                .collect(),
            free: self.free(),
            missed_in_row: self.missed_in_row,
        })
    }
}
