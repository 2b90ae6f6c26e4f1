//! `CustomerActor`: one per active customer. Owns the customer's live context (profile,
//! identities, the open conversation, recent timeline, recently seen client message
//! ids) and is the only writer of its conversation state.
//!
//! Every inbound or outbound event is committed to the store *before* it is
//! acknowledged or forwarded (handlers are atomic: the mailbox waits for the commit, so
//! a customer's events are applied in order). It forwards customer messages to the
//! holding agent and agent replies to the customer's channel. It passivates after
//! `customer_idle_ms` without activity and no chat socket, and reactivates from the
//! store on the next message. It never awaits an agent actor.
//!
//! This file holds the actor's state, activation and the helpers every concern shares
//! (`begin`, `try_atomic!`, `commit_then`); each concern's handlers live in their own
//! file under `customer/`: `inbound` (a customer's message), `reply` (agent replies,
//! delivery results, opt-outs), `assign`, `close`, `transfer`, `chat` (web-chat
//! presence and typing), `call` (voice end, video escalation), `watch` (supervisors),
//! `identity` (identify, merge, unmerge), `bot`, `survey`, `notify`, `callback`,
//! `responses` (response-time targets: clocks, due records, the overdue sweeper),
//! `once` (exactly once: ids looked up before, and recorded with, what they produce),
//! `retry` (ids kept for a failed commit's retry) and `behind` (events whose push to
//! the agent was lost, caught up).

use super::messages::*;
use super::registry::Engine;
use super::sessions::{Pushed, SessionRef};
use crate::domain::view::{
    visible_to_customer, ChatConversationView, ConversationView, CustomerView,
};
use crate::domain::ErrorCode;
use crate::domain::{
    Channel, Conversation, ConversationId, ConversationState, Customer, CustomerId, EventKind,
    Millis, TimelineEvent,
};
use crate::reports::derive::{derive, ContactFacts};
use crate::store::Batch;
use actix::prelude::*;
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

mod assign;
mod behind;
pub mod bot;
mod browser_call;
mod call;
pub mod callback;
mod chat;
mod close;
pub mod decide;
mod hours;
pub mod identity;
mod inbound;
pub mod menus;
pub mod messages;
pub mod notify;
pub mod once;
mod park;
mod reply;
pub mod responses;
pub(crate) mod retry;
pub mod start;
pub mod survey;
mod transfer;
mod watch;

pub struct CustomerActor {
    engine: Engine,
    id: CustomerId,
    /// None until loaded, or if the customer does not exist.
    customer: Option<Customer>,
    /// The one open conversation (one conversation across channels).
    open: Option<Conversation>,
    /// The latest closed conversation: a new message inside the reopen window (or an
    /// email reply threaded to it) reopens it instead of starting another.
    last_closed: Option<Conversation>,
    /// Latest events, oldest first, bounded by `limits.recent_events`.
    recent: VecDeque<TimelineEvent>,
    /// Idempotency key -> ack of the latest ids applied (bounded, FIFO eviction); the
    /// store's records cover the rest (see `once`).
    seen: HashMap<String, once::Seen>,
    seen_order: VecDeque<String>,
    /// Ids of attempts whose commit failed, reused by their retries (see `retry`).
    failed: retry::FailedAttempts,
    /// Attached web-chat sockets.
    chat: HashSet<SessionRef>,
    /// Supervisor sessions watching a conversation.
    watchers: HashSet<(SessionRef, ConversationId)>,
    last_activity: Instant,
    /// Pending "abandon if the visitor does not come back" timer.
    abandon_timer: Option<SpawnHandle>,
    /// Set when loading from the store failed; every request then fails fast.
    load_error: Option<String>,
    /// Set while this record is being merged into (or has been merged into) another:
    /// every request is refused, so nothing is written to a record whose identities
    /// are moving away.
    retiring: Option<CustomerId>,
    /// What the report events of the open conversation need to know (answer and
    /// wrap-up times, reopened); fed by every remembered event, rebuilt at load.
    facts: ContactFacts,
    /// When the customer last wrote on each channel (from the remembered events and
    /// the open conversation's): where a channel has a reply window, it runs from here.
    last_in: std::collections::BTreeMap<Channel, Millis>,
    /// The FAQ bot's session and pending hand-off (see `bot`).
    bot: bot::BotState,
    /// The session in the IVR menus in writing and its pending exit (see `menus`).
    menus: menus::MenusState,
    /// Events whose push to the agent was lost, being caught up (see `behind`).
    behind: behind::Behind,
    /// Calls in the phone's IVR menus that reached no queue yet, with where they are
    /// (oldest first, at most [`call::MAX_IVR_CALLS`]); see `call.rs`.
    ivr_calls: VecDeque<(String, Vec<String>)>,
    /// The browser call in the open conversation (see `browser_call`).
    call: Option<browser_call::LiveCall>,
}

struct Loaded {
    customer: Option<Customer>,
    open: Option<Conversation>,
    last_closed: Option<Conversation>,
    recent: Vec<TimelineEvent>,
    /// The open conversation's events since it was opened or reopened, oldest first
    /// (to rebuild [`ContactFacts`]).
    open_events: Vec<TimelineEvent>,
}

/// Most timeline pages read at activation to find where the open conversation began.
const FACT_PAGES: usize = 20;

/// The events of `conv` from its last opening or reopening on, oldest first: the
/// timeline is read newest first, page by page, until that event (or [`FACT_PAGES`]).
async fn open_conversation_events(
    store: &crate::store::SharedStore,
    customer: CustomerId,
    conv: ConversationId,
    page: usize,
) -> Result<Vec<TimelineEvent>, crate::store::StoreError> {
    let mut out = Vec::new();
    let mut before = None;
    for _ in 0..FACT_PAGES {
        let events = super::timeline::timeline(store, customer, before, page).await?;
        let Some(last) = events.last() else {
            break;
        };
        before = Some(last.id);
        let n = events.len();
        for e in events {
            if e.conversation_id != Some(conv) {
                continue;
            }
            let start = matches!(
                e.kind,
                EventKind::ConversationOpened { .. } | EventKind::ConversationReopened { .. }
            );
            out.push(e);
            if start {
                out.reverse();
                return Ok(out);
            }
        }
        if n < page {
            break;
        }
    }
    out.reverse();
    Ok(out)
}

impl CustomerActor {
    /// `conv` moved to `to` (voice for a callback, video for an escalation): the
    /// updated conversation and, when the channel changed, its `channel_switched` event.
    fn switched_to(
        &self,
        conv: &Conversation,
        to: Channel,
        now: Millis,
    ) -> (Conversation, Vec<TimelineEvent>) {
        let mut updated = conv.clone();
        if conv.channel == to {
            return (updated, Vec::new());
        }
        updated.channel = to;
        updated.updated_at = now;
        let switched = TimelineEvent::new(
            self.id,
            Some(conv.id),
            now,
            EventKind::ChannelSwitched {
                from: conv.channel,
                to,
            },
        );
        (updated, vec![switched])
    }

    pub fn new(engine: Engine, id: CustomerId) -> Self {
        Self {
            engine,
            id,
            customer: None,
            open: None,
            last_closed: None,
            recent: VecDeque::new(),
            seen: HashMap::new(),
            seen_order: VecDeque::new(),
            failed: retry::FailedAttempts::default(),
            chat: HashSet::new(),
            watchers: HashSet::new(),
            last_activity: Instant::now(),
            abandon_timer: None,
            load_error: None,
            retiring: None,
            facts: ContactFacts::default(),
            last_in: Default::default(),
            bot: Default::default(),
            menus: Default::default(),
            behind: Default::default(),
            ivr_calls: VecDeque::new(),
            call: None,
        }
    }

    /// Every state-changing handler's first step: note the activity (it keeps the actor
    /// from being passivated) and refuse while it cannot serve ([`Self::check_ready`]).
    fn begin(&mut self) -> EngineResult<&Customer> {
        self.last_activity = Instant::now();
        self.check_ready()
    }

    fn check_ready(&self) -> EngineResult<&Customer> {
        if let Some(e) = &self.load_error {
            return Err(EngineError::unavailable(e));
        }
        let c = self
            .customer
            .as_ref()
            .ok_or_else(|| EngineError::not_found("customer"))?;
        match self.retiring.or(c.merged_into) {
            // Retired into itself: an erasure is under way (`actors::privacy`).
            Some(into) if into == self.id => Err(EngineError::new(
                ErrorCode::Conflict,
                format!("customer {} is being erased", self.id),
            )),
            Some(into) => Err(EngineError::new(
                ErrorCode::Conflict,
                format!("customer {} was merged into {into}", self.id),
            )),
            None => Ok(c),
        }
    }

    fn remember(&mut self, event: &TimelineEvent) {
        self.facts.observe(event);
        self.note_inbound(event);
        if let Some(conv) = event.conversation_id {
            self.tell_watchers(conv, event);
        }
        self.recent.push_back(event.clone());
        while self.recent.len() > self.engine.settings.limits.recent_events {
            self.recent.pop_front();
        }
    }

    /// Keeps [`Self::last_in`] up to date with a customer message.
    fn note_inbound(&mut self, event: &TimelineEvent) {
        if let EventKind::MessageIn { channel, .. } = &event.kind {
            let last = self.last_in.entry(*channel).or_insert(event.at);
            *last = (*last).max(event.at);
        }
    }

    /// Pushes an event to the supervisors watching its conversation (never waits; a
    /// gone session is forgotten, a full one misses the event).
    fn tell_watchers(&mut self, conv: ConversationId, event: &TimelineEvent) {
        let (engine, id) = (&self.engine, self.id);
        self.watchers.retain(|(session, c)| {
            *c != conv
                || engine.push_supervisor(
                    session,
                    SupervisorPush::Msg(Box::new(SupervisorNotice::ConversationEvent {
                        conversation_id: conv,
                        event: event.clone(),
                    })),
                    forget(
                        engine,
                        id,
                        UnwatchConversation {
                            session: session.clone(),
                            conversation_id: None,
                        },
                    ),
                ) != Pushed::Gone
        });
    }

    /// `batch` with the report events its timeline events produce for the conversation
    /// going from `before` to `after` (docs/metrics.md), written in the same commit.
    fn reported(
        &self,
        mut batch: Batch,
        before: Option<&Conversation>,
        after: &Conversation,
    ) -> Batch {
        let targets = self.engine.response_targets(&after.queue);
        batch.report_events.extend(derive(
            &batch.events,
            before,
            after,
            &self.facts,
            targets.as_ref(),
        ));
        let dues = self.response_dues(&batch.events, after, targets.as_ref());
        batch.records.extend(dues);
        batch
    }

    fn customer_view(&self) -> CustomerView {
        let c = self.customer.as_ref();
        CustomerView {
            id: self.id,
            display_name: c.and_then(|c| c.display_name.clone()),
            priority: c.map(|c| c.priority).unwrap_or(0),
            attributes: c.map(|c| c.attributes.clone()).unwrap_or_default(),
            identities: c.map(|c| c.identities.clone()).unwrap_or_default(),
            opted_out: c.map(|c| c.opted_out.clone()).unwrap_or_default(),
        }
    }

    fn conversation_view(&self, conv: &Conversation) -> ConversationView {
        ConversationView {
            id: conv.id,
            customer: self.customer_view(),
            channel: conv.channel,
            queue: conv.queue.clone(),
            state: conv.state,
            agent: conv.agent.clone(),
            created_at: conv.created_at,
            enqueued_at: conv.enqueued_at,
            recent: self.recent.iter().cloned().collect(),
        }
    }

    /// Pushes a notice to every attached chat socket. One found gone here is left to
    /// its own `DetachChat` (a socket sends it as it stops); one another node says is
    /// gone is detached by that answer.
    fn push_chat(&self, msg: ChatNotice) {
        for session in &self.chat {
            let detach = DetachChat {
                session: session.clone(),
            };
            self.engine
                .push_chat(session, msg.clone(), forget(&self.engine, self.id, detach));
        }
    }

    fn push_chat_state(
        &self,
        conv: &Conversation,
        agent_name: Option<String>,
        position: Option<usize>,
    ) {
        self.push_chat(ChatNotice::Conversation(ChatConversationView {
            id: conv.id,
            state: conv.state,
            agent_name,
            position,
        }));
    }

    fn tell_agent<M>(&self, conv: &Conversation, msg: M)
    where
        M: super::mail::Mail<super::agent::AgentActor>,
        M::Result: serde::Serialize + serde::de::DeserializeOwned + Send,
        super::agent::AgentActor: Handler<M>,
    {
        if let Some(agent) = &conv.agent {
            self.engine.tell_agent(agent, msg);
        }
    }

    /// In a cluster, a fresh actor (maybe on another node after a takeover) tells the
    /// agent holding its open conversation the newest event it found: one its previous
    /// actor stored but whose push to the agent was lost reaches the agent now
    /// ([`super::agent::AgentActor`]'s `CatchUp`).
    fn catch_up_agent(&self, open_events: &[TimelineEvent]) {
        if self.engine.cluster().is_none() {
            return;
        }
        let Some(conv) = self.open.as_ref().filter(|c| c.agent.is_some()) else {
            return;
        };
        let Some(last) = open_events.iter().map(|e| e.id).max() else {
            return;
        };
        // Asked until the agent's actor takes it: told once, it was lost in the
        // reconnect wave of a failover, the very moment it is for.
        self.agent_may_have_missed(conv, last);
    }

    fn validate_text(&self, text: &str) -> EngineResult<()> {
        if text.trim().is_empty() {
            return Err(EngineError::invalid("text is empty"));
        }
        let max = self.engine.settings.limits.max_text_bytes;
        if text.len() > max {
            return Err(EngineError::new(
                ErrorCode::TooLarge,
                format!("text is {} bytes; the limit is {max}", text.len()),
            ));
        }
        Ok(())
    }

    /// The open conversation, when it is `id`.
    fn open_with(&self, id: ConversationId) -> EngineResult<&Conversation> {
        match &self.open {
            Some(c) if c.id == id => Ok(c),
            _ => Err(EngineError::not_found("open conversation")),
        }
    }

    /// The open conversation `conv_id` when `agent` holds it (assigned or in wrap-up).
    fn open_held_by(
        &self,
        conv_id: ConversationId,
        agent: &crate::domain::AgentId,
    ) -> EngineResult<Conversation> {
        self.open_if(conv_id, |c| {
            c.agent.as_ref() == Some(agent)
                && matches!(
                    c.state,
                    ConversationState::Assigned | ConversationState::WrapUp
                )
        })
    }

    /// The open conversation `conv_id` when `mine` holds for it; else `not_yours`.
    fn open_if(
        &self,
        conv_id: ConversationId,
        mine: impl Fn(&Conversation) -> bool,
    ) -> EngineResult<Conversation> {
        match &self.open {
            Some(c) if c.id == conv_id && mine(c) => Ok(c.clone()),
            _ => Err(EngineError::not_yours()),
        }
    }

    /// Builds the enqueue request for `conv`.
    fn enqueue_msg(&self, conv: &Conversation, preview: Option<String>, force: bool) -> Enqueue {
        Enqueue {
            conversation_id: conv.id,
            customer_id: self.id,
            channel: conv.channel,
            priority: conv.priority,
            enqueued_at: conv.enqueued_at,
            seq: conv.enqueue_seq,
            preferred_agent: conv.preferred_agent.clone(),
            required_agent: conv.required_agent.clone(),
            preview,
            force,
            failed_offer: None,
            requirements: conv.requirements.clone(),
        }
    }

    fn last_customer_text(&self) -> Option<String> {
        self.recent.iter().rev().find_map(|e| match &e.kind {
            EventKind::MessageIn { text, .. } => Some(text.chars().take(200).collect()),
            _ => None,
        })
    }

    /// A waiting conversation whose channel moved to another capacity class (a chat
    /// that became a call or a video) takes its place in the queue again under the new
    /// class, keeping its enqueue time, so it is offered with the right capacity.
    fn requeue_if_class_changed(&self, before: &Conversation, after: &Conversation) {
        if after.state != ConversationState::Queued
            || before.channel.class() == after.channel.class()
        {
            return;
        }
        self.engine.tell_queue(
            &after.queue,
            Dequeue {
                conversation_id: after.id,
                reason: format!("channel_class_changed:{}", after.channel.class().as_str()),
            },
        );
        self.engine.tell_queue(
            &after.queue,
            self.enqueue_msg(after, self.last_customer_text(), true),
        );
    }

    /// Whether `conv` is a waiting web chat of a visitor nobody knows (no identity but
    /// anonymous web-chat addresses) that no agent ever served: when its socket goes it leaves
    /// the queue after `anonymous.unserved_grace_ms` and is reported `left_unserved`.
    fn unserved_visitor(&self, conv: &Conversation) -> bool {
        let Some(c) = self.customer.as_ref() else {
            return false;
        };
        conv.channel == Channel::Chat
            && conv.state == ConversationState::Queued
            && c.last_agent.is_none()
            // Only anonymous chat addresses (`v-…`); a website login (`acct:…`) is known.
            && c.identities
                .iter()
                .all(|i| i.channel == Channel::Chat && i.address.starts_with("v-"))
            && !self.recent.iter().any(|e| {
                e.conversation_id == Some(conv.id) && matches!(e.kind, EventKind::Assigned { .. })
            })
    }

    /// Marks a waiting conversation abandoned: commit, then dequeue and notify.
    /// `socket_gone`: the visitor's last socket closed (their grace ran out), as
    /// opposed to leaving on purpose or hanging up.
    fn abandon(&mut self, ctx: &mut Context<Self>, socket_gone: bool) {
        let Some(conv) = self.open.clone() else {
            return;
        };
        if conv.state != ConversationState::Queued {
            return;
        }
        let left_unserved = socket_gone && self.unserved_visitor(&conv);
        let now = self.engine.now();
        let mut updated = conv.clone();
        updated.state = ConversationState::Abandoned;
        updated.updated_at = now;
        let ev = TimelineEvent::new(
            self.id,
            Some(conv.id),
            now,
            EventKind::Abandoned {
                waited_ms: now.since(conv.enqueued_at),
                left_unserved,
            },
        );
        let batch = Batch::default()
            .event(ev.clone())
            .conversation(updated.clone());
        let batch = self.reported(batch, Some(&conv), &updated);
        let store = self.engine.store.clone();
        ctx.wait(
            async move { store.commit(batch).await }
                .into_actor(self)
                .map(move |res, act, _| match res {
                    Ok(()) => {
                        act.engine.tell_queue(
                            &updated.queue,
                            Dequeue {
                                conversation_id: updated.id,
                                reason: if left_unserved {
                                    "left_unserved"
                                } else {
                                    "abandoned"
                                }
                                .into(),
                            },
                        );
                        if left_unserved {
                            crate::metrics::left_unserved(&updated.queue);
                        } else {
                            crate::metrics::conversation_abandoned(&updated.queue);
                        }
                        act.remember(&ev);
                        act.open = None;
                        act.last_closed = Some(updated.clone());
                        act.push_chat_state(&updated, None, None);
                    }
                    Err(e) => {
                        tracing::warn!(customer = %act.id, error = %e, "abandon not recorded")
                    }
                }),
        );
    }
}

impl Actor for CustomerActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(256);
        let store = self.engine.store.clone();
        let id = self.id;
        let recent_n = self.engine.settings.limits.recent_events;
        let page = self.engine.settings.limits.max_page.max(1);
        ctx.wait(
            async move {
                let customer = store.customer(id).await?;
                // Merged records' conversations and events read as this customer's.
                let convs = super::timeline::conversations(&store, id).await?;
                let open = convs.iter().find(|c| c.state.is_open()).cloned();
                let last_closed = convs
                    .into_iter()
                    .filter(|c| !c.state.is_open())
                    .max_by_key(|c| c.updated_at)
                    .map(|c| Conversation {
                        customer_id: id,
                        ..c
                    });
                let mut recent = super::timeline::timeline(&store, id, None, recent_n).await?;
                recent.reverse();
                let open_events = match &open {
                    Some(c) => open_conversation_events(&store, id, c.id, page).await?,
                    None => Vec::new(),
                };
                Ok::<_, crate::store::StoreError>(Loaded {
                    customer,
                    open,
                    last_closed,
                    recent,
                    open_events,
                })
            }
            .into_actor(self)
            .map(|res, act, _| match res {
                Ok(l) => {
                    act.customer = l.customer;
                    act.open = l.open;
                    act.last_closed = l.last_closed;
                    for e in l.recent {
                        // Events this engine writes for the customer sort after the
                        // ones it found, whatever clock wrote those (a takeover).
                        crate::domain::EventId::observe(e.id);
                        act.remember(&e);
                    }
                    act.facts = ContactFacts::default();
                    for e in &l.open_events {
                        act.facts.observe(e);
                        act.note_inbound(e);
                    }
                    if let Some(c) = &act.customer {
                        act.engine.customer_activated(c);
                    }
                    act.catch_up_agent(&l.open_events);
                }
                Err(e) => {
                    tracing::warn!(customer = %act.id, error = %e, "customer load failed");
                    act.load_error = Some(e.to_string());
                }
            }),
        );
        self.bot_load(ctx);
        self.menus_load(ctx);
        let idle = Duration::from_millis(self.engine.settings.timing.customer_idle_ms.max(10));
        ctx.run_interval(idle / 2, move |act, ctx| {
            // A record merged away stops at once (it only refuses work); one being
            // merged stays until the merge is decided.
            let merged = act
                .customer
                .as_ref()
                .is_some_and(|c| c.merged_into.is_some());
            act.watchers.retain(|(s, _)| act.engine.session_alive(s));
            let idle_now = act.chat.is_empty()
                && act.watchers.is_empty()
                && !act.in_call()
                && act.last_activity.elapsed() >= idle;
            if act.retiring.is_none() && (merged || idle_now) {
                act.engine.customer_passivated(act.id, &ctx.address());
                ctx.stop();
            }
        });
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        crate::metrics::customer_actor_passivated();
    }
}

/// A handler's answer that runs with the mailbox held (as actix's `AtomicResponse`), and
/// that can be chained: [`Atomic::into_future`] gives the future back, so a handler can
/// first look something up (an idempotency record, see `once`) and then run another
/// handler's body, all in one atomic step.
pub struct Atomic<T>(ResponseActFuture<CustomerActor, EngineResult<T>>);

impl<T> Atomic<T> {
    fn new(fut: ResponseActFuture<CustomerActor, EngineResult<T>>) -> Self {
        Self(fut)
    }

    fn into_future(self) -> ResponseActFuture<CustomerActor, EngineResult<T>> {
        self.0
    }

    /// This answer, timed from `since` to its end as the `in_actor` stage of `path`
    /// (`crate::metrics::message_stage`).
    fn timed(self, path: &'static str, since: std::time::Instant) -> Self
    where
        T: 'static,
    {
        Self(Box::pin(self.0.map(move |res, _, _| {
            crate::metrics::message_stage(path, "in_actor", since);
            res
        })))
    }
}

impl<M, T> actix::dev::MessageResponse<CustomerActor, M> for Atomic<T>
where
    M: Message<Result = EngineResult<T>>,
    T: 'static,
{
    fn handle(
        self,
        ctx: &mut Context<CustomerActor>,
        tx: Option<actix::dev::OneshotSender<M::Result>>,
    ) {
        ctx.wait(self.0.map(|res, _, _| {
            if let Some(tx) = tx {
                // A caller that stopped waiting is not an error.
                let _ = tx.send(res);
            }
        }));
    }
}

fn done<T: 'static>(r: EngineResult<T>) -> Atomic<T> {
    Atomic::new(Box::pin(fut::ready(r)))
}

/// A push's `gone` callback (`super::sessions`): tells customer `id`'s actor `msg`,
/// which detaches the session another node found gone.
fn forget<M>(engine: &Engine, id: CustomerId, msg: M) -> impl FnOnce() + 'static
where
    M: super::mail::Mail<CustomerActor>,
    M::Result: serde::Serialize + serde::de::DeserializeOwned + Send,
    CustomerActor: Handler<M>,
{
    let engine = engine.clone();
    move || engine.tell_customer(id, msg)
}

/// `?` for handlers that answer an [`Atomic`]: the value of `Ok`, or return the error
/// as the handler's (already finished) answer.
macro_rules! try_atomic {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return done(Err(e)),
        }
    };
}
pub(crate) use try_atomic;

impl CustomerActor {
    /// The shape of every plain state change here: commit `batch` durably, and only
    /// then apply `then` to the actor (atomically: no other message runs in between).
    /// A failed commit changes nothing and answers `unavailable`.
    /// At activation, before any message: reads this customer's record of `kind` and
    /// hands its value to `keep`. An unreadable value is logged and ignored; a store
    /// failure fails every request, as a failed load does.
    fn load_own_record<T: serde::de::DeserializeOwned + 'static>(
        &mut self,
        ctx: &mut Context<Self>,
        kind: &'static str,
        keep: fn(&mut Self, T),
    ) {
        let store = self.engine.store.clone();
        let key = self.id.to_string();
        ctx.wait(
            async move { store.record(kind, &key).await }
                .into_actor(self)
                .map(move |res, act, _| match res {
                    Ok(Some(bytes)) => match serde_json::from_slice(&bytes) {
                        Ok(v) => keep(act, v),
                        Err(e) => tracing::warn!(kind, error = %e, "unreadable record ignored"),
                    },
                    Ok(None) => {}
                    Err(e) => act.load_error = Some(e.to_string()),
                }),
        );
    }

    fn commit_then<T: 'static>(
        &self,
        batch: Batch,
        then: impl FnOnce(&mut Self) -> EngineResult<T> + 'static,
    ) -> Atomic<T> {
        let store = self.engine.store.clone();
        Atomic::new(Box::pin(
            async move { store.commit(batch).await }
                .into_actor(self)
                .map(move |res, act, _| {
                    res.map_err(crate::store::StoreError::into_engine)?;
                    then(act)
                }),
        ))
    }
}

impl CustomerActor {
    /// [`Self::commit_then`] for a message with a client id: if the commit fails, the
    /// attempt's ids are kept so that the client's retry rewrites the same rows (a failed
    /// CQL write may still have been applied); once it succeeds they are forgotten.
    fn commit_retryable<T: 'static>(
        &self,
        batch: Batch,
        key: Option<String>,
        then: impl FnOnce(&mut Self) -> EngineResult<T> + 'static,
    ) -> Atomic<T> {
        let store = self.engine.store.clone();
        let events = batch.events.clone();
        Atomic::new(Box::pin(
            async move { store.commit(batch).await }
                .into_actor(self)
                .map(move |res, act, _| {
                    if let Err(e) = res {
                        if let Some(k) = &key {
                            act.failed.record(k, &events);
                        }
                        return Err(crate::store::StoreError::into_engine(e));
                    }
                    act.failed.forget(key.as_ref());
                    then(act)
                }),
        ))
    }

    /// The `message_in` event among `events`.
    fn message_in_of(events: &[TimelineEvent]) -> Option<TimelineEvent> {
        events
            .iter()
            .find(|e| matches!(e.kind, EventKind::MessageIn { .. }))
            .cloned()
    }

    /// Bookkeeping once an inbound message is durable: count it, keep its events in
    /// the recent timeline, remember its client id for duplicate retries, and make
    /// `conv` the open conversation. Returns the ack.
    fn inbound_applied(
        &mut self,
        channel: Channel,
        events: &[TimelineEvent],
        message: &TimelineEvent,
        conv: &Conversation,
        idem: Option<once::Idem>,
    ) -> InboundAck {
        crate::metrics::message(channel, "in");
        for e in events {
            self.remember(e);
        }
        let ack = self.acked(idem, message.id, conv.id);
        self.open = Some(conv.clone());
        ack
    }
}

impl Handler<InjectPanic> for CustomerActor {
    type Result = ();
    fn handle(&mut self, _: InjectPanic, _: &mut Context<Self>) {
        panic!("customer {}: injected panic (test hook)", self.id);
    }
}
