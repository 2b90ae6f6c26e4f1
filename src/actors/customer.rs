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

use super::messages::*;
use super::registry::Engine;
use crate::domain::{
    Channel, Conversation, ConversationId, ConversationState, Customer, CustomerId, EventKind,
    IdentityKey, Millis, TimelineEvent,
};
use crate::reports::derive::{derive, ContactFacts};
use crate::store::Batch;
use crate::ws::protocol::{
    visible_to_customer, ChatConversationView, ChatServerMsg, ConversationView, CustomerView,
    ErrorCode,
};
use actix::prelude::*;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

pub(crate) mod bot;
pub(crate) mod callback;
pub(crate) mod identity;
pub(crate) mod notify;
pub(crate) mod retry;
pub(crate) mod survey;

/// Client message ids remembered per customer for idempotent retries.
const SEEN_IDS: usize = 1024;

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
    /// client_msg_id -> ack, for retries (bounded, FIFO eviction).
    seen: HashMap<String, InboundAck>,
    seen_order: VecDeque<String>,
    /// Ids of attempts whose commit failed, reused by their retries (see `retry`).
    failed: retry::FailedAttempts,
    /// Attached web-chat sockets.
    chat: HashMap<u64, Recipient<ChatPush>>,
    /// Supervisor sessions watching a conversation: (session, conversation) -> socket.
    watchers: HashMap<(u64, ConversationId), Recipient<SupervisorPush>>,
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
    /// The FAQ bot's session and pending hand-off (see `bot`).
    bot: bot::BotState,
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
            chat: HashMap::new(),
            watchers: HashMap::new(),
            last_activity: Instant::now(),
            abandon_timer: None,
            load_error: None,
            retiring: None,
            facts: ContactFacts::default(),
            bot: Default::default(),
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
        if let Some(conv) = event.conversation_id {
            self.tell_watchers(conv, event);
        }
        self.recent.push_back(event.clone());
        while self.recent.len() > self.engine.settings.limits.recent_events {
            self.recent.pop_front();
        }
        let client_id = match &event.kind {
            EventKind::MessageIn { client_msg_id, .. }
            | EventKind::MessageOut { client_msg_id, .. } => client_msg_id.clone(),
            _ => None,
        };
        if let (Some(cid), Some(conv)) = (client_id, event.conversation_id) {
            self.remember_id(
                cid,
                InboundAck {
                    event_id: event.id,
                    conversation_id: conv,
                    duplicate: true,
                },
            );
        }
    }

    /// Pushes an event to the supervisors watching its conversation (never waits; a
    /// closed session is forgotten, a full one misses the event).
    fn tell_watchers(&mut self, conv: ConversationId, event: &TimelineEvent) {
        self.watchers.retain(|(_, c), r| {
            *c != conv
                || !matches!(
                    r.try_send(SupervisorPush::Msg(Box::new(
                        crate::ws::protocol::SupervisorServerMsg::ConversationEvent {
                            conversation_id: conv,
                            event: event.clone(),
                        }
                    ))),
                    Err(SendError::Closed(_))
                )
        });
    }

    fn remember_id(&mut self, cid: String, ack: InboundAck) {
        if self.seen.insert(cid.clone(), ack).is_none() {
            self.seen_order.push_back(cid);
            while self.seen_order.len() > SEEN_IDS {
                if let Some(old) = self.seen_order.pop_front() {
                    self.seen.remove(&old);
                }
            }
        }
    }

    /// `batch` with the report events its timeline events produce for the conversation
    /// going from `before` to `after` (docs/metrics.md), written in the same commit.
    fn reported(
        &self,
        mut batch: Batch,
        before: Option<&Conversation>,
        after: &Conversation,
    ) -> Batch {
        batch
            .report_events
            .extend(derive(&batch.events, before, after, &self.facts));
        batch
    }

    fn seen_key(conv_scope: &str, cid: &str) -> String {
        format!("{conv_scope}:{cid}")
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

    fn push_chat(&self, msg: ChatServerMsg) {
        for r in self.chat.values() {
            r.do_send(ChatPush(msg.clone()));
        }
    }

    fn push_chat_state(
        &self,
        conv: &Conversation,
        agent_name: Option<String>,
        position: Option<usize>,
    ) {
        self.push_chat(ChatServerMsg::Conversation(ChatConversationView {
            id: conv.id,
            state: conv.state,
            agent_name,
            position,
        }));
    }

    fn tell_agent<M>(&self, conv: &Conversation, msg: M)
    where
        M: Message + Send + 'static,
        M::Result: Send,
        super::agent::AgentActor: Handler<M>,
    {
        if let Some(agent) = conv.agent.as_ref().and_then(|a| self.engine.agent(a)) {
            agent.do_send(msg);
        }
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

    fn open_held_by(
        &self,
        conv_id: ConversationId,
        agent: &crate::domain::AgentId,
    ) -> EngineResult<Conversation> {
        match &self.open {
            Some(c)
                if c.id == conv_id
                    && c.agent.as_ref() == Some(agent)
                    && matches!(
                        c.state,
                        ConversationState::Assigned | ConversationState::WrapUp
                    ) =>
            {
                Ok(c.clone())
            }
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
        if let Some(q) = self.engine.queue(&after.queue) {
            q.do_send(Dequeue {
                conversation_id: after.id,
                reason: format!("channel_class_changed:{}", after.channel.class().as_str()),
            });
            q.do_send(self.enqueue_msg(after, self.last_customer_text(), true));
        }
    }

    /// Marks a waiting conversation abandoned: commit, then dequeue and notify.
    fn abandon(&mut self, ctx: &mut Context<Self>) {
        let Some(conv) = self.open.clone() else {
            return;
        };
        if conv.state != ConversationState::Queued {
            return;
        }
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
                        if let Some(q) = act.engine.queue(&updated.queue) {
                            q.do_send(Dequeue {
                                conversation_id: updated.id,
                                reason: "abandoned".into(),
                            });
                        }
                        crate::metrics::conversation_abandoned(&updated.queue);
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
                        act.remember(&e);
                    }
                    act.facts = ContactFacts::default();
                    for e in &l.open_events {
                        act.facts.observe(e);
                    }
                    if let Some(c) = &act.customer {
                        act.engine.crm.activated(c);
                    }
                }
                Err(e) => {
                    tracing::warn!(customer = %act.id, error = %e, "customer load failed");
                    act.load_error = Some(e.to_string());
                }
            }),
        );
        self.bot_load(ctx);
        let idle = Duration::from_millis(self.engine.settings.timing.customer_idle_ms.max(10));
        ctx.run_interval(idle / 2, move |act, ctx| {
            // A record merged away stops at once (it only refuses work); one being
            // merged stays until the merge is decided.
            let merged = act
                .customer
                .as_ref()
                .is_some_and(|c| c.merged_into.is_some());
            act.watchers.retain(|_, r| r.connected());
            let idle_now = act.chat.is_empty()
                && act.watchers.is_empty()
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

type Atomic<T> = AtomicResponse<CustomerActor, EngineResult<T>>;

fn done<T: 'static>(r: EngineResult<T>) -> Atomic<T> {
    AtomicResponse::new(Box::pin(fut::ready(r)))
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
    fn commit_then<T: 'static>(
        &self,
        batch: Batch,
        then: impl FnOnce(&mut Self) -> EngineResult<T> + 'static,
    ) -> Atomic<T> {
        let store = self.engine.store.clone();
        AtomicResponse::new(Box::pin(
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
        AtomicResponse::new(Box::pin(
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
        seen_key: Option<String>,
    ) -> InboundAck {
        crate::metrics::message(channel, "in");
        for e in events {
            self.remember(e);
        }
        let ack = InboundAck {
            event_id: message.id,
            conversation_id: conv.id,
            duplicate: false,
        };
        if let Some(k) = seen_key {
            self.remember_id(
                k,
                InboundAck {
                    duplicate: true,
                    ..ack.clone()
                },
            );
        }
        self.open = Some(conv.clone());
        ack
    }
}

impl CustomerActor {
    /// The `message_in` event for `msg` in conversation `conv`.
    fn message_in(&self, msg: &Inbound, conv: ConversationId, now: Millis) -> TimelineEvent {
        TimelineEvent::new(
            self.id,
            Some(conv),
            now,
            EventKind::MessageIn {
                channel: msg.channel,
                address: msg.address.clone(),
                text: msg.text.clone(),
                client_msg_id: msg.client_msg_id.clone(),
                attachments: msg.attachments.clone(),
                subject: msg.subject.clone(),
            },
        )
    }

    /// The closed conversation a message from the customer reopens, if any: the last
    /// one, when it closed inside the reopen window or the message is threaded to it.
    fn reopenable(&self, msg: &Inbound, now: Millis) -> Option<Conversation> {
        let last = self.last_closed.as_ref()?;
        let window = self.engine.settings.channels.reopen_window_ms;
        let threaded = msg.thread == Some(last.id);
        (threaded || now.since(last.updated_at) <= window).then(|| last.clone())
    }

    /// The customer record with `display_name` filled in from the channel, if it had
    /// none (the only change an inbound message makes to the profile).
    fn named(&self, customer: &Customer, msg: &Inbound) -> Option<Customer> {
        let name = msg.display_name.as_deref()?.trim();
        if customer.display_name.is_some() || name.is_empty() || name.len() > 100 {
            return None;
        }
        let mut c = customer.clone();
        c.display_name = Some(name.chars().filter(|c| !c.is_control()).collect());
        Some(c)
    }
}

impl Handler<Inbound> for CustomerActor {
    type Result = Atomic<InboundAck>;

    fn handle(&mut self, msg: Inbound, _: &mut Context<Self>) -> Self::Result {
        let customer = try_atomic!(self.begin()).clone();
        try_atomic!(self.validate_text(&msg.text));
        let seen_key = msg.client_msg_id.as_ref().map(|c| Self::seen_key("in", c));
        if let Some(ack) = seen_key.as_ref().and_then(|k| self.seen.get(k)) {
            return done(Ok(ack.clone()));
        }
        if let Some(answered) = self.survey_reply(&msg, seen_key.clone()) {
            return answered;
        }
        let now = self.engine.now();
        let store = self.engine.store.clone();
        let preview: String = msg.text.chars().take(200).collect();
        let renamed = self.named(&customer, &msg);

        if let Some(conv) = self.open.clone() {
            // Continue the open conversation, whatever channel it came from.
            let mut events = Vec::new();
            let mut updated = conv.clone();
            if conv.channel != msg.channel {
                events.push(TimelineEvent::new(
                    self.id,
                    Some(conv.id),
                    now,
                    EventKind::ChannelSwitched {
                        from: conv.channel,
                        to: msg.channel,
                    },
                ));
                updated.channel = msg.channel;
            }
            events.push(self.message_in(&msg, conv.id, now));
            self.failed.reuse(seen_key.as_ref(), &mut events);
            let Some(ev) = Self::message_in_of(&events) else {
                return done(Err(EngineError::internal("no message event")));
            };
            // The conversation row changes only on a channel switch; a plain message is
            // one timeline row (the hot path of the store writer).
            let conversations = if updated.channel != conv.channel {
                updated.updated_at = now;
                vec![updated.clone()]
            } else {
                Vec::new()
            };
            let batch = Batch {
                events: events.clone(),
                conversations,
                customers: renamed.iter().cloned().collect(),
                ..Default::default()
            };
            let batch = self.reported(batch, Some(&conv), &updated);
            let key = seen_key.clone();
            return self.commit_retryable(batch, key, move |act| {
                if renamed.is_some() {
                    act.customer = renamed;
                }
                let ack = act.inbound_applied(msg.channel, &events, &ev, &updated, seen_key);
                for e in &events {
                    act.tell_agent(
                        &updated,
                        ConversationEvent {
                            conversation_id: updated.id,
                            event: e.clone(),
                        },
                    );
                }
                act.push_chat(ChatServerMsg::Event { event: ev.clone() });
                act.requeue_if_class_changed(&conv, &updated);
                Ok(ack)
            });
        }

        if let Some(r) = self.bot_inbound(&msg, now, &seen_key) {
            return r;
        }
        // A reopened or a new conversation: it waits in a queue.
        let reopen = self.reopenable(&msg, now);
        let queue_name = match msg
            .queue
            .clone()
            .or_else(|| {
                reopen
                    .as_ref()
                    .map(|c| c.queue.clone())
                    .filter(|q| self.engine.queue(q).is_some())
            })
            .or_else(|| self.engine.default_queue_for(msg.channel))
        {
            Some(q) => q,
            None => return done(Err(EngineError::not_found("queue"))),
        };
        let Some(queue) = self.engine.queue(&queue_name) else {
            return done(Err(EngineError::not_found("queue")));
        };
        let mut events = Vec::new();
        // Event ids are time-ordered: create them in the order they happened.
        let conv = match &reopen {
            Some(old) => {
                events.push(TimelineEvent::new(
                    self.id,
                    Some(old.id),
                    now,
                    EventKind::ConversationReopened {
                        channel: msg.channel,
                        queue: queue_name.clone(),
                    },
                ));
                if old.channel != msg.channel {
                    events.push(TimelineEvent::new(
                        self.id,
                        Some(old.id),
                        now,
                        EventKind::ChannelSwitched {
                            from: old.channel,
                            to: msg.channel,
                        },
                    ));
                }
                Conversation {
                    channel: msg.channel,
                    queue: queue_name.clone(),
                    state: ConversationState::Queued,
                    priority: customer.priority,
                    enqueued_at: now,
                    enqueue_seq: self.engine.next_enqueue_seq(),
                    // Sticky: the agent who had it is preferred again.
                    preferred_agent: old.agent.clone().or(customer.last_agent.clone()),
                    agent: None,
                    required_agent: None,
                    disposition: None,
                    updated_at: now,
                    ..old.clone()
                }
            }
            None => {
                let conv_id = self.bot_conversation_id().unwrap_or_default();
                events.push(TimelineEvent::new(
                    self.id,
                    Some(conv_id),
                    now,
                    EventKind::ConversationOpened {
                        channel: msg.channel,
                        queue: queue_name.clone(),
                    },
                ));
                Conversation {
                    id: conv_id,
                    customer_id: self.id,
                    channel: msg.channel,
                    queue: queue_name.clone(),
                    state: ConversationState::Queued,
                    priority: customer.priority,
                    created_at: now,
                    enqueued_at: now,
                    enqueue_seq: self.engine.next_enqueue_seq(),
                    agent: None,
                    preferred_agent: customer.last_agent.clone(),
                    required_agent: None,
                    disposition: None,
                    updated_at: now,
                }
            }
        };
        let conv_id = conv.id;
        events.push(self.message_in(&msg, conv_id, now));
        events.push(TimelineEvent::new(
            self.id,
            Some(conv_id),
            now,
            EventKind::Queued {
                queue: queue_name.clone(),
                priority: conv.priority,
            },
        ));
        self.failed.reuse(seen_key.as_ref(), &mut events);
        let Some(ev) = Self::message_in_of(&events) else {
            return done(Err(EngineError::internal("no message event")));
        };
        let enqueue = self.enqueue_msg(&conv, Some(preview), false);
        let batch = Batch {
            events: events.clone(),
            conversations: vec![conv.clone()],
            customers: renamed.iter().cloned().collect(),
            ..Default::default()
        };
        let batch = self.reported(batch, reopen.as_ref(), &conv);
        let (batch, handoff) = self.bot_take_handoff(batch);
        let reopened = reopen.is_some();
        AtomicResponse::new(Box::pin(
            async move {
                // Admission first (the queue may refuse), then durability. If the commit
                // fails the queue entry is withdrawn: nothing was acknowledged.
                let position = queue
                    .send(enqueue)
                    .await
                    .map_err(|_| EngineError::internal("queue unavailable"))??;
                if let Err(e) = store.commit(batch).await {
                    queue.do_send(Dequeue {
                        conversation_id: conv_id,
                        reason: "store_failed".into(),
                    });
                    return Err(crate::store::StoreError::into_engine(e));
                }
                Ok(position)
            }
            .into_actor(self)
            .map(move |res, act, _| {
                if res.is_err() {
                    if let Some(k) = &seen_key {
                        act.failed.record(k, &events);
                    }
                }
                let position = res?;
                act.failed.forget(seen_key.as_ref());
                if renamed.is_some() {
                    act.customer = renamed;
                }
                if reopened {
                    act.last_closed = None;
                    crate::metrics::conversation_reopened(msg.channel);
                } else {
                    crate::metrics::conversation_opened(msg.channel);
                }
                let ack = act.inbound_applied(msg.channel, &events, &ev, &conv, seen_key);
                act.push_chat(ChatServerMsg::Event { event: ev.clone() });
                act.bot_handed_off(handoff);
                act.push_chat_state(&conv, None, Some(position));
                Ok(ack)
            }),
        ))
    }
}

impl CustomerActor {
    /// Where an agent's reply on `channel` goes: the address the customer last wrote
    /// from on that channel, else a linked identity of that channel.
    fn reply_address(&self, channel: Channel) -> EngineResult<String> {
        let customer = self.check_ready()?;
        if customer.opted_out.contains(&channel) {
            return Err(EngineError::invalid(format!(
                "the customer opted out of {channel}"
            )));
        }
        let from_recent = self.recent.iter().rev().find_map(|e| match &e.kind {
            EventKind::MessageIn {
                channel: c,
                address,
                ..
            } if *c == channel => Some(address.clone()),
            _ => None,
        });
        from_recent
            .or_else(|| {
                customer
                    .identities
                    .iter()
                    .find(|k| k.channel == channel)
                    .map(|k| k.address.clone())
            })
            .ok_or_else(|| EngineError::invalid(format!("the customer has no {channel} address")))
    }

    /// Checks that a reply can go out on `channel` and returns the delivery target
    /// (`None` for the web chat sockets).
    fn reply_target(&self, channel: Channel) -> EngineResult<Option<String>> {
        let ch = &self.engine.settings.channels;
        let enabled = match channel {
            // Video sessions run beside the web chat, whose sockets carry the text.
            Channel::Chat | Channel::Video => return Ok(None),
            Channel::Voice => {
                return Err(EngineError::invalid(
                    "a call carries no text; choose a messaging channel for this reply",
                ))
            }
            Channel::Sms => ch.sms.enabled,
            Channel::Line => ch.line.enabled,
            Channel::Messenger => ch.messenger.enabled,
            Channel::Email => self.engine.email_enabled(),
        };
        if !enabled {
            return Err(EngineError::invalid(format!(
                "the {channel} connector is not enabled"
            )));
        }
        self.reply_address(channel).map(Some)
    }

    /// The subject and message ids an email reply threads under: the latest inbound
    /// email's.
    fn email_thread(&self) -> (Option<String>, Vec<String>) {
        let subject = self.recent.iter().rev().find_map(|e| match &e.kind {
            EventKind::MessageIn {
                channel: Channel::Email,
                subject,
                ..
            } => Some(subject.clone()),
            _ => None,
        });
        let refs = self
            .recent
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::MessageIn {
                    channel: Channel::Email,
                    client_msg_id: Some(id),
                    ..
                } => id.strip_prefix("email:").map(str::to_owned),
                _ => None,
            })
            .collect();
        (subject.flatten(), refs)
    }
}

impl Handler<AgentWrite> for CustomerActor {
    type Result = Atomic<InboundAck>;

    fn handle(&mut self, msg: AgentWrite, _: &mut Context<Self>) -> Self::Result {
        try_atomic!(self.begin());
        let conv = try_atomic!(self.open_held_by(msg.conversation_id, &msg.agent_id));
        try_atomic!(self.validate_text(&msg.text));
        let key = Self::seen_key(&format!("out:{}", msg.agent_id), &msg.client_msg_id);
        if let Some(ack) = self.seen.get(&key) {
            return done(Ok(ack.clone()));
        }
        // The default reply channel is the one the customer last wrote on.
        let channel = msg.channel.unwrap_or(conv.channel);
        let target = if msg.note {
            None
        } else {
            try_atomic!(self.reply_target(channel))
        };
        let now = self.engine.now();
        let kind = if msg.note {
            EventKind::Note {
                agent_id: msg.agent_id.clone(),
                text: msg.text.clone(),
            }
        } else {
            EventKind::MessageOut {
                channel,
                agent_id: Some(msg.agent_id.clone()),
                text: msg.text.clone(),
                client_msg_id: Some(msg.client_msg_id.clone()),
            }
        };
        let mut ev = [TimelineEvent::new(self.id, Some(conv.id), now, kind)];
        self.failed.reuse(Some(&key), &mut ev);
        let [ev] = ev;
        // A reply for a provider goes into the outbox in the same commit as its event.
        let delivery = target.map(|to| {
            let (subject, references) = if channel == Channel::Email {
                self.email_thread()
            } else {
                (None, Vec::new())
            };
            crate::channels::outbound::Delivery {
                customer_id: self.id,
                conversation_id: conv.id,
                event_id: ev.id,
                channel,
                to,
                text: msg.text.clone(),
                subject,
                references,
                attempt: 0,
                quick_replies: Vec::new(),
            }
        });
        let mut batch = Batch::default().event(ev.clone());
        if let Some(d) = &delivery {
            batch.outbox.push(d.entry(now));
        }
        self.commit_retryable(batch, Some(key.clone()), move |act| {
            act.remember(&ev);
            let ack = InboundAck {
                event_id: ev.id,
                conversation_id: conv.id,
                duplicate: false,
            };
            act.remember_id(
                key,
                InboundAck {
                    duplicate: true,
                    ..ack.clone()
                },
            );
            if !msg.note {
                crate::metrics::message(channel, "out");
                match delivery {
                    None => act.push_chat(ChatServerMsg::Event { event: ev.clone() }),
                    Some(d) => act.engine.deliver(d),
                }
            }
            act.tell_agent(
                &conv,
                ConversationEvent {
                    conversation_id: conv.id,
                    event: ev.clone(),
                },
            );
            Ok(ack)
        })
    }
}

impl Handler<RecordEvents> for CustomerActor {
    type Result = Atomic<()>;

    fn handle(&mut self, msg: RecordEvents, _: &mut Context<Self>) -> Self::Result {
        try_atomic!(self.check_ready());
        let batch = Batch {
            events: msg.events.clone(),
            outbox_done: msg.outbox_done.clone(),
            ..Default::default()
        };
        self.commit_then(batch, move |act| {
            for e in &msg.events {
                act.remember(e);
                if let Some(conv) = act.open.clone().filter(|c| Some(c.id) == e.conversation_id) {
                    act.tell_agent(
                        &conv,
                        ConversationEvent {
                            conversation_id: conv.id,
                            event: e.clone(),
                        },
                    );
                }
            }
            Ok(())
        })
    }
}

impl Handler<SetOptOut> for CustomerActor {
    type Result = Atomic<()>;

    fn handle(&mut self, msg: SetOptOut, _: &mut Context<Self>) -> Self::Result {
        let customer = try_atomic!(self.begin()).clone();
        if customer.opted_out.contains(&msg.channel) == msg.opted_out {
            return done(Ok(()));
        }
        let mut cust = customer;
        if msg.opted_out {
            cust.opted_out.insert(msg.channel);
        } else {
            cust.opted_out.remove(&msg.channel);
        }
        let ev = TimelineEvent::new(
            self.id,
            self.open.as_ref().map(|c| c.id),
            self.engine.now(),
            EventKind::OptOutChanged {
                channel: msg.channel,
                opted_out: msg.opted_out,
            },
        );
        let batch = Batch {
            customers: vec![cust.clone()],
            events: vec![ev.clone()],
            ..Default::default()
        };
        self.commit_then(batch, move |act| {
            act.customer = Some(cust);
            act.remember(&ev);
            if let Some(conv) = act.open.clone() {
                act.tell_agent(
                    &conv,
                    ConversationEvent {
                        conversation_id: conv.id,
                        event: ev.clone(),
                    },
                );
            }
            Ok(())
        })
    }
}

impl Handler<Assign> for CustomerActor {
    type Result = Atomic<ConversationView>;

    fn handle(&mut self, msg: Assign, _: &mut Context<Self>) -> Self::Result {
        let customer = try_atomic!(self.begin()).clone();
        let conv = match &self.open {
            Some(c) if c.id == msg.conversation_id && c.state == ConversationState::Queued => {
                c.clone()
            }
            _ => {
                return done(Err(EngineError::new(
                    ErrorCode::OfferNotFound,
                    "the conversation is no longer waiting",
                )))
            }
        };
        let now = self.engine.now();
        let mut updated = conv.clone();
        updated.state = ConversationState::Assigned;
        updated.agent = Some(msg.agent_id.clone());
        updated.required_agent = None;
        updated.updated_at = now;
        let mut cust = customer.clone();
        cust.last_agent = Some(msg.agent_id.clone());
        let ev = TimelineEvent::new(
            self.id,
            Some(conv.id),
            now,
            EventKind::Assigned {
                agent_id: msg.agent_id.clone(),
            },
        );
        let batch = Batch {
            events: vec![ev.clone()],
            conversations: vec![updated.clone()],
            customers: vec![cust.clone()],
            ..Default::default()
        };
        let batch = self.reported(batch, Some(&conv), &updated);
        self.commit_then(batch, move |act| {
            let since = act.facts.waiting_since(updated.id, updated.enqueued_at);
            crate::metrics::answered(&updated.queue, now.since(since));
            act.customer = Some(cust);
            act.remember(&ev);
            act.open = Some(updated.clone());
            act.push_chat_state(&updated, Some(msg.agent_name.clone()), None);
            Ok(act.conversation_view(&updated))
        })
    }
}

impl Handler<GetConversationView> for CustomerActor {
    type Result = EngineResult<ConversationView>;

    fn handle(&mut self, msg: GetConversationView, _: &mut Context<Self>) -> Self::Result {
        self.check_ready()?;
        self.open_with(msg.conversation_id)
            .map(|c| self.conversation_view(c))
    }
}

impl Handler<CloseConversation> for CustomerActor {
    type Result = Atomic<()>;

    fn handle(&mut self, msg: CloseConversation, _: &mut Context<Self>) -> Self::Result {
        try_atomic!(self.begin());
        let conv = try_atomic!(self.open_held_by(msg.conversation_id, &msg.agent_id));
        if let Some(d) = &msg.disposition {
            if d.len() > 200 {
                return done(Err(EngineError::invalid(
                    "disposition longer than 200 bytes",
                )));
            }
        }
        let now = self.engine.now();
        let mut updated = conv.clone();
        updated.updated_at = now;
        let kind = match msg.kind {
            CloseKind::WrapUp => {
                updated.state = ConversationState::WrapUp;
                EventKind::WrapUp {
                    agent_id: msg.agent_id.clone(),
                }
            }
            CloseKind::Resolve => {
                updated.state = ConversationState::Resolved;
                updated.disposition = msg.disposition.clone();
                EventKind::Resolved {
                    agent_id: Some(msg.agent_id.clone()),
                    disposition: msg.disposition.clone(),
                }
            }
        };
        let ev = TimelineEvent::new(self.id, Some(conv.id), now, kind);
        let batch = Batch::default()
            .event(ev.clone())
            .conversation(updated.clone());
        let mut batch = self.reported(batch, Some(&conv), &updated);
        let survey = self.survey_on_resolve(&mut batch, &updated);
        self.commit_then(batch, move |act| {
            act.remember(&ev);
            act.survey_sent(survey);
            if updated.state == ConversationState::Resolved {
                crate::metrics::conversation_resolved(&updated.queue);
                act.engine.live(crate::live::LiveEvent::Closed {
                    queue: updated.queue.clone(),
                    conversation: updated.id,
                });
                act.open = None;
                act.last_closed = Some(updated.clone());
            } else {
                act.open = Some(updated.clone());
            }
            act.push_chat_state(&updated, None, None);
            Ok(())
        })
    }
}

impl Handler<Transfer> for CustomerActor {
    type Result = Atomic<()>;

    fn handle(&mut self, msg: Transfer, _: &mut Context<Self>) -> Self::Result {
        try_atomic!(self.begin());
        let conv = match &msg.from_agent {
            Some(a) => try_atomic!(self.open_held_by(msg.conversation_id, a)),
            None => try_atomic!(self.open_with(msg.conversation_id)).clone(),
        };
        if msg.to_queue.is_none() && msg.to_agent.is_none() {
            return done(Err(EngineError::invalid(
                "transfer needs a queue or an agent",
            )));
        }
        if msg.to_agent.is_some() && msg.to_agent == msg.from_agent {
            return done(Err(EngineError::invalid("cannot transfer to yourself")));
        }
        let to_queue = msg.to_queue.clone().unwrap_or_else(|| conv.queue.clone());
        let Some(queue) = self.engine.queue(&to_queue) else {
            return done(Err(EngineError::not_found("queue")));
        };
        let old_queue = if conv.state == ConversationState::Queued {
            self.engine.queue(&conv.queue)
        } else {
            None
        };
        let now = self.engine.now();
        let mut updated = conv.clone();
        updated.state = ConversationState::Queued;
        updated.agent = None;
        updated.queue = to_queue.clone();
        updated.preferred_agent = None;
        updated.required_agent = msg.to_agent.clone();
        updated.updated_at = now;
        let events = vec![
            TimelineEvent::new(
                self.id,
                Some(conv.id),
                now,
                EventKind::Transferred {
                    from_agent: msg.from_agent.clone(),
                    to_queue: to_queue.clone(),
                    to_agent: msg.to_agent.clone(),
                },
            ),
            TimelineEvent::new(
                self.id,
                Some(conv.id),
                now,
                EventKind::Queued {
                    queue: to_queue.clone(),
                    priority: updated.priority,
                },
            ),
        ];
        let enqueue = self.enqueue_msg(&updated, self.last_customer_text(), true);
        let batch = Batch {
            events: events.clone(),
            conversations: vec![updated.clone()],
            ..Default::default()
        };
        let batch = self.reported(batch, Some(&conv), &updated);
        let store = self.engine.store.clone();
        let to_agent = msg.to_agent.clone();
        AtomicResponse::new(Box::pin(
            async move {
                if let Some(a) = &to_agent {
                    let profile = store
                        .agent(a)
                        .await
                        .map_err(EngineError::unavailable)?
                        .ok_or_else(|| EngineError::not_found("agent"))?;
                    if !profile.queues.contains(&to_queue) {
                        return Err(EngineError::invalid(format!(
                            "agent {a} does not serve queue {to_queue}"
                        )));
                    }
                }
                store
                    .commit(batch)
                    .await
                    .map_err(EngineError::unavailable)?;
                if let Some(old) = old_queue {
                    old.do_send(Dequeue {
                        conversation_id: conv.id,
                        reason: "transferred".into(),
                    });
                }
                queue
                    .send(enqueue)
                    .await
                    .map_err(|_| EngineError::internal("queue unavailable"))??;
                Ok(())
            }
            .into_actor(self)
            .map(move |res, act, _| {
                res?;
                for e in &events {
                    act.remember(e);
                }
                act.open = Some(updated.clone());
                act.push_chat_state(&updated, None, None);
                Ok(())
            }),
        ))
    }
}

impl Handler<Requeue> for CustomerActor {
    type Result = Atomic<()>;

    fn handle(&mut self, msg: Requeue, _: &mut Context<Self>) -> Self::Result {
        try_atomic!(self.check_ready());
        let conv = try_atomic!(self.open_with(msg.conversation_id)).clone();
        let now = self.engine.now();
        let mut updated = conv.clone();
        updated.updated_at = now;
        let event = match &msg.overflow_to {
            Some(to) => {
                if conv.state != ConversationState::Queued {
                    return done(Err(EngineError::invalid(
                        "only waiting conversations overflow",
                    )));
                }
                updated.queue = to.clone();
                EventKind::Overflowed {
                    from: conv.queue.clone(),
                    to: to.clone(),
                }
            }
            None => {
                updated.state = ConversationState::Queued;
                updated.agent = None;
                updated.preferred_agent = None;
                updated.required_agent = None;
                EventKind::Queued {
                    queue: conv.queue.clone(),
                    priority: conv.priority,
                }
            }
        };
        let Some(queue) = self.engine.queue(&updated.queue) else {
            return done(Err(EngineError::not_found("queue")));
        };
        let ev = TimelineEvent::new(self.id, Some(conv.id), now, event);
        let batch = Batch::default()
            .event(ev.clone())
            .conversation(updated.clone());
        let batch = self.reported(batch, Some(&conv), &updated);
        let enqueue = self.enqueue_msg(&updated, self.last_customer_text(), true);
        let store = self.engine.store.clone();
        tracing::info!(conversation = %conv.id, reason = %msg.reason, "requeue");
        AtomicResponse::new(Box::pin(
            async move {
                store
                    .commit(batch)
                    .await
                    .map_err(EngineError::unavailable)?;
                queue
                    .send(enqueue)
                    .await
                    .map_err(|_| EngineError::internal("queue unavailable"))??;
                Ok(())
            }
            .into_actor(self)
            .map(move |res, act, _| {
                res?;
                act.remember(&ev);
                act.open = Some(updated.clone());
                act.push_chat_state(&updated, None, None);
                Ok(())
            }),
        ))
    }
}

impl Handler<CustomerLeave> for CustomerActor {
    type Result = Atomic<()>;

    fn handle(&mut self, _: CustomerLeave, ctx: &mut Context<Self>) -> Self::Result {
        try_atomic!(self.begin());
        let Some(conv) = self.open.clone() else {
            return done(Ok(()));
        };
        if conv.state == ConversationState::Queued {
            // A visitor who asked for a callback may close the chat: the call comes.
            if !self.callback_pending(conv.id) {
                self.abandon(ctx);
            }
            return done(Ok(()));
        }
        // Assigned or in wrap-up: the customer is gone; close it for the agent.
        let now = self.engine.now();
        let mut updated = conv.clone();
        updated.state = ConversationState::Resolved;
        updated.disposition = Some("customer_left".into());
        updated.updated_at = now;
        let ev = TimelineEvent::new(
            self.id,
            Some(conv.id),
            now,
            EventKind::Resolved {
                agent_id: None,
                disposition: Some("customer_left".into()),
            },
        );
        let batch = Batch::default()
            .event(ev.clone())
            .conversation(updated.clone());
        let batch = self.reported(batch, Some(&conv), &updated);
        self.commit_then(batch, move |act| {
            act.remember(&ev);
            act.open = None;
            act.last_closed = Some(updated.clone());
            crate::metrics::conversation_resolved(&updated.queue);
            act.engine.live(crate::live::LiveEvent::Closed {
                queue: updated.queue.clone(),
                conversation: updated.id,
            });
            act.tell_agent(
                &conv,
                ConversationEvent {
                    conversation_id: conv.id,
                    event: ev.clone(),
                },
            );
            act.tell_agent(
                &conv,
                ConversationLeft {
                    conversation_id: conv.id,
                    state: ConversationState::Resolved,
                },
            );
            act.push_chat_state(&updated, None, None);
            Ok(())
        })
    }
}

impl Handler<Identify> for CustomerActor {
    type Result = Atomic<()>;

    fn handle(&mut self, msg: Identify, _: &mut Context<Self>) -> Self::Result {
        let customer = try_atomic!(self.begin()).clone();
        // A chat form is typed by whoever holds the browser: not evidence of identity.
        // The name becomes the display name; email and phone are kept, normalised, as
        // unverified attributes an agent can act on (link or merge), never as links.
        let mut cust = customer;
        for (attr, channel, value) in [
            ("unverified_email", Channel::Email, &msg.email),
            ("unverified_phone", Channel::Sms, &msg.phone),
        ] {
            if let Some(v) = value.as_deref().filter(|s| !s.trim().is_empty()) {
                match IdentityKey::parse(channel, v) {
                    Ok(k) => {
                        cust.attributes.insert(attr.to_owned(), k.address);
                    }
                    Err(e) => return done(Err(EngineError::invalid(e.to_string()))),
                }
            }
        }
        match msg.name.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(n) if n.len() > 100 || n.chars().any(char::is_control) => {
                return done(Err(EngineError::invalid(
                    "name must be at most 100 bytes of text",
                )))
            }
            Some(n) => cust.display_name = Some(n.to_owned()),
            None => {}
        }
        let batch = Batch {
            customers: vec![cust.clone()],
            ..Default::default()
        };
        self.commit_then(batch, move |act| {
            act.customer = Some(cust);
            Ok(())
        })
    }
}

impl Handler<AttachChat> for CustomerActor {
    type Result = EngineResult<ChatWelcome>;

    fn handle(&mut self, msg: AttachChat, ctx: &mut Context<Self>) -> Self::Result {
        self.last_activity = Instant::now();
        self.check_ready()?;
        self.chat.insert(msg.session_id, msg.recipient);
        if let Some(h) = self.abandon_timer.take() {
            ctx.cancel_future(h);
        }
        Ok(ChatWelcome {
            conversation: self.open.as_ref().map(|c| ChatConversationView {
                id: c.id,
                state: c.state,
                agent_name: c.agent.as_ref().map(|a| a.to_string()),
                position: None,
            }),
            history: self
                .recent
                .iter()
                .filter(|e| visible_to_customer(e))
                .cloned()
                .collect(),
        })
    }
}

/// Internal: the visitor's grace period ended.
#[derive(Message)]
#[rtype(result = "()")]
struct AbandonIfAway;

impl Handler<AbandonIfAway> for CustomerActor {
    type Result = ();
    fn handle(&mut self, _: AbandonIfAway, ctx: &mut Context<Self>) {
        self.abandon_timer = None;
        if self.chat.is_empty() {
            self.abandon(ctx);
        }
    }
}

impl Handler<DetachChat> for CustomerActor {
    type Result = ();

    fn handle(&mut self, msg: DetachChat, ctx: &mut Context<Self>) {
        self.last_activity = Instant::now();
        self.chat.remove(&msg.session_id);
        let waiting_on_chat = self
            .open
            .as_ref()
            .is_some_and(|c| c.state == ConversationState::Queued && c.channel == Channel::Chat);
        if self.chat.is_empty() && waiting_on_chat && self.abandon_timer.is_none() {
            let grace = Duration::from_millis(self.engine.settings.timing.visitor_grace_ms);
            self.abandon_timer = Some(ctx.notify_later(AbandonIfAway, grace));
        }
    }
}

impl Handler<Typing> for CustomerActor {
    type Result = ();

    fn handle(&mut self, msg: Typing, _: &mut Context<Self>) {
        let Some(conv) = self.open.clone() else {
            return;
        };
        if msg.from_agent {
            self.push_chat(ChatServerMsg::AgentTyping {});
        } else if conv.state == ConversationState::Assigned {
            self.tell_agent(
                &conv,
                Typing {
                    conversation_id: Some(conv.id),
                    from_agent: false,
                },
            );
        }
    }
}

impl Handler<CallEnded> for CustomerActor {
    type Result = Atomic<()>;

    fn handle(&mut self, msg: CallEnded, _: &mut Context<Self>) -> Self::Result {
        try_atomic!(self.begin());
        let seen_key = Self::seen_key("call-end", &msg.call_id);
        if self.seen.contains_key(&seen_key) {
            return done(Ok(()));
        }
        // The call's conversation: the open one if it is on voice.
        let conv = self.open.clone().filter(|c| c.channel == Channel::Voice);
        let detail = match msg.duration_s {
            Some(s) => format!("{} after {s} s", msg.status),
            None => msg.status.clone(),
        };
        let ev = TimelineEvent::new(
            self.id,
            conv.as_ref().map(|c| c.id),
            self.engine.now(),
            EventKind::Call {
                call_id: msg.call_id.clone(),
                status: crate::domain::CallStatus::Ended,
                detail: Some(detail),
            },
        );
        let batch = Batch::default().event(ev.clone());
        AtomicResponse::new(Box::pin(
            {
                let store = self.engine.store.clone();
                async move { store.commit(batch).await }
            }
            .into_actor(self)
            .map(move |res, act, ctx| {
                res.map_err(crate::store::StoreError::into_engine)?;
                act.remember(&ev);
                act.remember_id(
                    seen_key,
                    InboundAck {
                        event_id: ev.id,
                        conversation_id: conv.as_ref().map(|c| c.id).unwrap_or_default(),
                        duplicate: true,
                    },
                );
                if let Some(c) = &conv {
                    act.tell_agent(
                        c,
                        ConversationEvent {
                            conversation_id: c.id,
                            event: ev.clone(),
                        },
                    );
                    // A caller who hangs up while waiting has abandoned (unless a
                    // callback was asked for).
                    if c.state == ConversationState::Queued && !act.callback_pending(c.id) {
                        act.abandon(ctx);
                    }
                }
                Ok(())
            }),
        ))
    }
}

impl Handler<InjectPanic> for CustomerActor {
    type Result = ();
    fn handle(&mut self, _: InjectPanic, _: &mut Context<Self>) {
        panic!("customer {}: injected panic (test hook)", self.id);
    }
}

impl Handler<EscalateVideo> for CustomerActor {
    type Result = Atomic<String>;

    fn handle(&mut self, _: EscalateVideo, _: &mut Context<Self>) -> Self::Result {
        try_atomic!(self.begin());
        let cfg = &self.engine.settings.channels.video;
        if !cfg.enabled {
            return done(Err(EngineError::invalid("video is not enabled")));
        }
        let Some(conv) = self.open.clone() else {
            return done(Err(EngineError::invalid(
                "there is no open conversation to continue on video",
            )));
        };
        let now = self.engine.now();
        let join_url = crate::channels::video::join_url(cfg, conv.id);
        let (updated, mut events) = self.switched_to(&conv, Channel::Video, now);
        let invite = TimelineEvent::new(
            self.id,
            Some(conv.id),
            now,
            EventKind::VideoInvited {
                join_url: join_url.clone(),
            },
        );
        events.push(invite.clone());
        let batch = Batch {
            events: events.clone(),
            conversations: vec![updated.clone()],
            ..Default::default()
        };
        let batch = self.reported(batch, Some(&conv), &updated);
        self.commit_then(batch, move |act| {
            for e in &events {
                act.remember(e);
                act.tell_agent(
                    &updated,
                    ConversationEvent {
                        conversation_id: updated.id,
                        event: e.clone(),
                    },
                );
            }
            act.requeue_if_class_changed(&conv, &updated);
            act.open = Some(updated);
            act.push_chat(ChatServerMsg::Event { event: invite });
            Ok(join_url)
        })
    }
}

impl Handler<WatchConversation> for CustomerActor {
    type Result = EngineResult<ConversationView>;

    fn handle(&mut self, msg: WatchConversation, _: &mut Context<Self>) -> Self::Result {
        self.check_ready()?;
        let view = self.conversation_view(self.open_with(msg.conversation_id)?);
        self.watchers
            .insert((msg.session_id, msg.conversation_id), msg.recipient);
        Ok(view)
    }
}

impl Handler<UnwatchConversation> for CustomerActor {
    type Result = ();

    fn handle(&mut self, msg: UnwatchConversation, _: &mut Context<Self>) {
        self.watchers.retain(|(s, c), _| {
            *s != msg.session_id || msg.conversation_id.is_some_and(|id| id != *c)
        });
    }
}
