//! The engine handle: the shared [`Services`] (store, clock, settings, token signer),
//! the [`Registry`] mapping ids to actor addresses (dashmap), with get-or-activate,
//! and the ports the server plugs in.
//!
//! A customer actor activates on first use and passivates itself when idle; a message
//! that races with passivation finds a closed mailbox and is retried once on a fresh
//! activation. Agent actors exist while an agent is connected or inside its grace
//! period. Queue actors live for the engine's lifetime.
//!
//! Placement: every actor runs on one of `settings.actor_threads` dedicated arbiters,
//! chosen by a hash of its id, so actor work spreads over the cores instead of piling
//! onto whichever thread happened to activate it.

use super::agent::AgentActor;
use super::customer::CustomerActor;
use super::messages::{EngineError, EngineResult};
use super::queue::QueueActor;
use crate::actors::outbound::{Delivery, Outbound};
use crate::auth::TokenSigner;
use crate::domain::time::SharedClock;
use crate::domain::{
    AgentId, AgentProfile, Channel, Customer, CustomerId, IdentityKey, QueueConfig, QueueName,
};
use crate::ports::{Answers, Prefetch};
use crate::settings::EngineSettings;
use crate::store::SharedStore;
use crate::tombstones::TombstoneKey;
use actix::prelude::*;
use dashmap::DashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Cheap-to-clone handle to everything an actor or handler needs: the [`Services`],
/// the [`Registry`] of actor addresses, and the ports the server plugs in.
#[derive(Clone)]
pub struct Engine(Arc<Inner>);

/// An [`Engine`] that may have stopped ([`Engine::downgrade`]).
#[derive(Clone)]
pub struct WeakEngine(std::sync::Weak<Inner>);

impl WeakEngine {
    /// The engine, unless it has stopped.
    pub fn upgrade(&self) -> Option<Engine> {
        self.0.upgrade().map(Engine)
    }
}

/// What every actor reads: the store, the clock, the settings, the token signer and
/// the erasure tombstones' key. `engine.store` and the like reach them through `Deref`.
pub struct Services {
    pub store: SharedStore,
    pub clock: SharedClock,
    pub settings: Arc<EngineSettings>,
    pub tokens: TokenSigner,
    /// Hashes provider message ids into erasure tombstones (`crate::tombstones`).
    pub tombstones: TombstoneKey,
    /// Where attachments' bytes live: the store's own chunked rows
    /// (`store::ChunkedBlobs`).
    pub blobs: Arc<dyn crate::store::BlobStore>,
}

/// Where each actor runs: the addresses of the live customer, agent and queue actors
/// by id, the queue configs, and the arbiters actors are placed on.
pub struct Registry {
    customers: DashMap<CustomerId, Addr<CustomerActor>>,
    agents: DashMap<AgentId, Addr<AgentActor>>,
    queues: DashMap<QueueName, Addr<QueueActor>>,
    /// Queue configs, for choosing a new conversation's queue by channel.
    queue_configs: DashMap<QueueName, QueueConfig>,
    /// The compiled business hours of the queues that have them.
    queue_hours: DashMap<QueueName, Arc<crate::routing::hours::Calendar>>,
    /// The agents' profiles as last read for `check_requirements`, and when: a
    /// request is let through on this copy, and refused only after a fresh read.
    agents_seen: std::sync::Mutex<Option<(crate::domain::Millis, Arc<Vec<AgentProfile>>)>>,
    /// The arbiters actors are placed on (empty outside an actix system: then actors
    /// start on the current arbiter).
    arbiters: Vec<actix::dev::ArbiterHandle>,
    /// The arbiter threads themselves, joined at shutdown.
    arbiter_threads: std::sync::Mutex<Vec<actix::Arbiter>>,
    placement: std::collections::hash_map::RandomState,
}

/// How long `check_requirements` trusts its copy of the agents' profiles to say that
/// someone could take a conversation (a refusal always reads them again).
const AGENTS_SEEN_TTL_MS: i64 = 10_000;

/// What the after-hours rules of a closed queue do to one arriving conversation
/// ([`Engine::after_hours`]).
#[derive(Debug, Clone)]
pub struct AfterHoursPlan {
    /// The queue it goes to: the after-hours queue, or the closed one.
    pub to: QueueName,
    /// Told to the customer, if the queue has a message.
    pub message: Option<String>,
    /// Why the queue is closed.
    pub why: crate::routing::hours::Closed,
    /// It waits where nobody is offered it until the opening.
    pub waits_unoffered: bool,
}

pub struct Inner {
    services: Services,
    registry: Registry,
    /// Arrival order tie-breaker for conversations enqueued in the same millisecond;
    /// restored above the highest stored value at start.
    enqueue_seq: AtomicU64,
    /// Ids for websocket sessions.
    session_seq: AtomicU64,
    /// The websockets this node holds, by session id (`super::sessions`).
    pub(super) sessions: super::sessions::Sessions,
    /// Outbound delivery; set once at start-up (absent in unit tests).
    outbound: std::sync::OnceLock<Box<dyn Outbound>>,
    /// The knowledge base the bot answers from; set once at start-up.
    answers: std::sync::OnceLock<Arc<dyn Answers>>,
    /// Work started when a customer activates (the CRM prefetch); set at start-up.
    prefetch: std::sync::OnceLock<Box<dyn Prefetch>>,
    /// The live hub while it runs here: from start-up on a lone engine (absent in unit
    /// tests); while this node holds `singleton/hub` in a cluster.
    hub: std::sync::RwLock<Option<Addr<super::hub::LiveHub>>>,
    /// The cluster the actors are placed in (`super::mail`); unset on a lone engine.
    pub(super) cluster: std::sync::OnceLock<Arc<super::mail::Cluster>>,
    /// Routing events dropped because the hub's mailbox was full.
    live_lost: AtomicU64,
    /// Supervisor sockets open now (bounded by `limits.max_supervisors`).
    pub supervisor_sockets: std::sync::atomic::AtomicUsize,
    /// Serialises identity links, unlinks, merges and unmerges, whose "is this address
    /// owned?" check and the write that follows must not interleave (see `stitching`).
    pub(crate) identity_lock: tokio::sync::Mutex<()>,
    /// A provider message holds it shared from its tombstone check until its customer
    /// actor has answered; an erasure holds it alone from reading the timelines to
    /// writing the erasure. So a message is either in the timeline the erasure reads
    /// (and leaves a tombstone) or checked after the tombstones are written, never
    /// resolved to a customer the erasure is removing (see `actors::ingest`). Lock
    /// order, everywhere: this gate, then `identity_lock` (a provider message from a
    /// phone number new on its channel may link it, `resolve_shared`).
    pub(crate) erasure_gate: tokio::sync::RwLock<()>,
    /// Serialises queue configuration changes, so that two of them moving a default
    /// channel cannot interleave their reads and writes.
    queue_lock: tokio::sync::Mutex<()>,
    /// Set once when a graceful shutdown begins: every websocket session watches it and
    /// tells its client to reconnect. Shared with the server's shutdown handle, which
    /// must not keep the engine alive.
    drain: Arc<tokio::sync::watch::Sender<bool>>,
    /// Notification scheduler ticks (observable over REST; see [`crate::actors::customer::notify::scheduler`]).
    pub notify_stats: crate::notify::SchedulerStats,
    /// Where the response sweeper reads from next (`customer::responses::tick`).
    pub response_sweep: super::customer::responses::SweepCursor,
    /// What each client address may still do at the anonymous doors.
    pub budgets: crate::budget::Budgets,
    /// The IVR tree in force (`crate::ivr_versions`).
    pub(crate) ivr_cell: crate::actors::ivr_versions::IvrCell,
    /// The wrap-up codes (`crate::wrapup`).
    pub(crate) wrapup_cell: crate::actors::wrapup::WrapupCell,
    /// The survey settings in force (`super::survey_config`).
    pub(crate) survey_cell: super::survey_config::SurveyCell,
    /// Re-reads configuration the server owns when a member changed it
    /// ([`Engine::on_config_changed`]).
    config_listener: std::sync::OnceLock<ConfigListener>,
}

/// What re-reads server-owned configuration (`super::mail::Config::Channels`) from the
/// store: set once at start-up.
pub type ConfigListener = Box<
    dyn Fn(
            super::mail::Config,
        )
            -> futures_util::future::BoxFuture<'static, Result<(), crate::store::StoreError>>
        + Send
        + Sync,
>;

impl Engine {
    /// Sets what re-reads server-owned configuration when another member changed it
    /// (once; later calls are ignored).
    pub fn on_config_changed(&self, listener: ConfigListener) {
        let _ = self.config_listener.set(listener);
    }

    /// Runs the listener for `what` (nothing when none is set).
    pub(crate) async fn config_listener(
        &self,
        what: super::mail::Config,
    ) -> Result<(), crate::store::StoreError> {
        match self.config_listener.get() {
            Some(f) => f(what).await,
            None => Ok(()),
        }
    }
}

impl std::ops::Deref for Engine {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl std::ops::Deref for Inner {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.services
    }
}

impl Engine {
    pub fn new(
        store: SharedStore,
        clock: SharedClock,
        settings: Arc<EngineSettings>,
        tokens: TokenSigner,
        tombstones: TombstoneKey,
    ) -> Self {
        let threads: Vec<actix::Arbiter> = if actix::System::try_current().is_some() {
            (0..settings.actor_threads.max(1))
                .map(|_| actix::Arbiter::new())
                .collect()
        } else {
            Vec::new()
        };
        let arbiters = threads.iter().map(|a| a.handle()).collect();
        let budgets = crate::budget::Budgets::new(settings.anonymous.clone());
        let ivr_configured = settings.ivr_configured.clone();
        let survey_configured = settings.survey.clone();
        let blobs = Arc::new(crate::store::ChunkedBlobs::new(
            store.clone(),
            settings.attachments.chunk_bytes,
        ));
        Engine(Arc::new(Inner {
            services: Services {
                blobs,
                store,
                clock,
                settings,
                tokens,
                tombstones,
            },
            registry: Registry {
                customers: DashMap::new(),
                agents: DashMap::new(),
                queues: DashMap::new(),
                queue_configs: DashMap::new(),
                queue_hours: DashMap::new(),
                agents_seen: std::sync::Mutex::new(None),
                arbiters,
                arbiter_threads: std::sync::Mutex::new(threads),
                placement: Default::default(),
            },
            enqueue_seq: AtomicU64::new(1),
            session_seq: AtomicU64::new(1),
            sessions: Default::default(),
            outbound: std::sync::OnceLock::new(),
            answers: std::sync::OnceLock::new(),
            prefetch: std::sync::OnceLock::new(),
            hub: std::sync::RwLock::new(None),
            cluster: std::sync::OnceLock::new(),
            live_lost: AtomicU64::new(0),
            supervisor_sockets: std::sync::atomic::AtomicUsize::new(0),
            identity_lock: tokio::sync::Mutex::new(()),
            erasure_gate: tokio::sync::RwLock::new(()),
            queue_lock: tokio::sync::Mutex::new(()),
            drain: Arc::new(tokio::sync::watch::Sender::new(false)),
            notify_stats: Default::default(),
            response_sweep: Default::default(),
            budgets,
            ivr_cell: crate::actors::ivr_versions::IvrCell::new(ivr_configured),
            wrapup_cell: Default::default(),
            survey_cell: super::survey_config::SurveyCell::new(survey_configured),
            config_listener: std::sync::OnceLock::new(),
        }))
    }

    /// Starts `actor` on the arbiter that `key` hashes to.
    fn place<A, K>(&self, key: &K, actor: A) -> Addr<A>
    where
        A: Actor<Context = Context<A>> + Send,
        K: Hash + ?Sized,
    {
        if self.registry.arbiters.is_empty() {
            return actor.start();
        }
        let i =
            (self.registry.placement.hash_one(key) % self.registry.arbiters.len() as u64) as usize;
        A::start_in_arbiter(&self.registry.arbiters[i], move |_| actor)
    }

    /// Stops the actor threads and waits for them: every actor is dropped, so once the
    /// server's own threads are gone nothing holds the store any more. Raises the drain
    /// signal first (if no drain did), so that background tasks holding the engine (the
    /// notification scheduler, the callback sweeper) end now instead of keeping the
    /// store open until the shutdown deadline.
    pub fn shutdown(&self) {
        self.begin_drain();
        if let Some(d) = self.outbound.get() {
            d.stop();
        }
        let threads = std::mem::take(
            &mut *self
                .registry
                .arbiter_threads
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        );
        for a in &threads {
            a.stop();
        }
        for a in threads {
            let _ = a.join();
        }
    }

    /// Runs `task` every `period` on the current arbiter until the drain begins (the
    /// background sweeps); a task's own failures are its to log.
    pub fn every<F, Fut>(&self, period: std::time::Duration, mut task: F)
    where
        F: FnMut(Engine) -> Fut + 'static,
        Fut: std::future::Future<Output = ()> + 'static,
    {
        let engine = self.clone();
        actix_rt::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut drain = engine.drain_signal();
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = drain.changed() => return,
                }
                if engine.draining() {
                    return;
                }
                task(engine.clone()).await;
            }
        });
    }

    /// Starts a graceful shutdown's drain: every websocket session sends its client a
    /// `reconnect` message and closes with 1012 (service restart). Idempotent.
    pub fn begin_drain(&self) {
        self.drain.send_replace(true);
    }

    /// The drain signal's sender, for a shutdown handle that must not hold the engine.
    pub fn drain_sender(&self) -> Arc<tokio::sync::watch::Sender<bool>> {
        self.drain.clone()
    }

    /// Whether a drain has begun.
    pub fn draining(&self) -> bool {
        *self.drain.borrow()
    }

    /// A receiver that turns `true` when the drain begins (sessions watch it).
    pub fn drain_signal(&self) -> tokio::sync::watch::Receiver<bool> {
        self.drain.subscribe()
    }

    /// How many handles to this engine exist (shutdown waits until it holds the last).
    pub fn holders(&self) -> usize {
        Arc::strong_count(&self.0)
    }

    /// A handle that does not keep the engine alive (for what the engine itself holds,
    /// such as its node-to-node handlers: the shutdown waits for the last holder).
    pub fn downgrade(&self) -> WeakEngine {
        WeakEngine(Arc::downgrade(&self.0))
    }

    /// Installs the outbound port (once, at start-up).
    pub fn set_outbound(&self, o: impl Outbound) {
        let _ = self.outbound.set(Box::new(o));
    }

    /// Installs the knowledge base the bot answers from (once, at start-up).
    pub fn set_answers(&self, a: Arc<dyn Answers>) {
        let _ = self.answers.set(a);
    }

    /// The knowledge base, once installed.
    pub fn answers(&self) -> Option<&dyn Answers> {
        self.answers.get().map(|a| a.as_ref())
    }

    /// Installs the work started when a customer activates (once, at start-up).
    pub fn set_prefetch(&self, p: impl Prefetch) {
        let _ = self.prefetch.set(Box::new(p));
    }

    /// Starts the activation work for `customer` (nothing without a prefetch port).
    pub fn customer_activated(&self, customer: &Customer) {
        if let Some(p) = self.prefetch.get() {
            p.customer_activated(customer);
        }
    }

    /// Graceful shutdown: outbound delivery takes no new reply; returns whether the
    /// calls in flight have finished (true at once without a dispatcher).
    pub fn drain_outbound(&self) -> bool {
        match self.outbound.get() {
            Some(o) => {
                o.drain();
                o.idle()
            }
            None => true,
        }
    }

    /// Queues an agent reply for delivery (never blocks).
    pub fn deliver(&self, d: Delivery) {
        match self.outbound.get() {
            Some(o) => o.submit(self, d),
            None => crate::actors::outbound::record(
                self,
                &d,
                crate::domain::DeliveryStatus::Failed,
                None,
                Some("outbound delivery is not running".into()),
            ),
        }
    }

    /// Starts the live hub (at start-up, or when this node takes `singleton/hub`) on
    /// one of the actor threads; the running one if it runs.
    pub fn start_hub(&self) -> Addr<super::hub::LiveHub> {
        let mut hub = self.hub.write().unwrap_or_else(|p| p.into_inner());
        if let Some(h) = hub.as_ref().filter(|h| h.connected()) {
            return h.clone();
        }
        let h = self.place("live-hub", super::hub::LiveHub::new(self.clone()));
        *hub = Some(h.clone());
        h
    }

    /// Stops the live hub here (another node took `singleton/hub`).
    pub fn stop_hub(&self) {
        let h = self.hub.write().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = h {
            h.do_send(super::keys::Handover);
        }
    }

    /// The live hub, while it runs here.
    pub fn hub(&self) -> Option<Addr<super::hub::LiveHub>> {
        self.hub.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Tells the live hub a routing fact. Never waits: when the hub's bounded
    /// mailbox is full the event is dropped and counted (routing never waits for the
    /// hub). In a cluster whose hub runs on another node, the fact goes there.
    pub fn live(&self, event: crate::live::LiveEvent) {
        let here = self.hub.read().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(h) = here {
            if h.try_send(super::messages::HubEvent(event)).is_err()
                && self.live_lost.fetch_add(1, Ordering::Relaxed) == 0
            {
                tracing::warn!("live hub mailbox full: live figures are dropping events");
            }
        } else if self.cluster().is_some() {
            self.tell::<super::hub::LiveHub, _>(
                super::mail::TheHub,
                super::messages::HubEvent(event),
            );
        }
    }

    /// Events the hub never received (mailbox full).
    pub fn live_events_lost(&self) -> u64 {
        self.live_lost.load(Ordering::Relaxed)
    }

    pub fn now(&self) -> crate::domain::Millis {
        self.clock.now()
    }

    pub fn next_enqueue_seq(&self) -> u64 {
        self.enqueue_seq.fetch_add(1, Ordering::Relaxed)
    }

    pub fn bump_enqueue_seq_above(&self, seen: u64) {
        self.enqueue_seq.fetch_max(seen + 1, Ordering::Relaxed);
    }

    pub fn next_session_id(&self) -> u64 {
        self.session_seq.fetch_add(1, Ordering::Relaxed)
    }

    // ------------------------------------------------------------ customers

    /// The customer's actor, activating it (on its arbiter) if needed.
    pub fn customer(&self, id: CustomerId) -> Addr<CustomerActor> {
        if let Some(a) = self.registry.customers.get(&id) {
            if a.connected() {
                return a.clone();
            }
        }
        let mut entry = self.registry.customers.entry(id).or_insert_with(|| {
            crate::metrics::customer_actor_activated();
            self.place(&id, CustomerActor::new(self.clone(), id))
        });
        if !entry.connected() {
            // Passivated (and not yet unregistered) or crashed: either way a fresh actor
            // reloads the customer from the store.
            crate::metrics::customer_actor_activated();
            *entry = self.place(&id, CustomerActor::new(self.clone(), id));
        }
        entry.clone()
    }

    /// Sends `msg` to the customer's actor (here or on the node owning its shard,
    /// [`Engine::call`]), re-activating once if the actor had just passivated.
    pub fn ask_customer<M, R>(
        &self,
        id: CustomerId,
        msg: M,
    ) -> impl std::future::Future<Output = EngineResult<R>> + 'static
    where
        M: super::mail::Mail<CustomerActor> + Message<Result = EngineResult<R>>,
        R: serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
        CustomerActor: Handler<M>,
    {
        self.call::<CustomerActor, M, R>(id, msg)
    }

    /// Fire-and-forget to the customer's actor ([`Engine::tell`]).
    pub fn tell_customer<M>(&self, id: CustomerId, msg: M)
    where
        M: super::mail::Mail<CustomerActor>,
        M::Result: serde::Serialize + serde::de::DeserializeOwned + Send,
        CustomerActor: Handler<M>,
    {
        self.tell::<CustomerActor, M>(id, msg);
    }

    /// Forgets the customer's actor if it has stopped (its mailbox closed).
    pub(crate) fn forget_closed_customer(&self, id: CustomerId) {
        self.registry
            .customers
            .remove_if(&id, |_, a| !a.connected());
    }

    /// The customer's actor if it runs here now (never starts one).
    pub(crate) fn running_customer(&self, id: CustomerId) -> Option<Addr<CustomerActor>> {
        self.registry.customers.get(&id).map(|a| a.clone())
    }

    /// The customers whose actors run here now.
    pub(crate) fn live_customer_ids(&self) -> Vec<CustomerId> {
        self.registry.customers.iter().map(|e| *e.key()).collect()
    }

    /// Stops a queue's actor here (another node took its key); it keeps no state the
    /// store does not have.
    pub(crate) fn stop_queue(&self, name: &QueueName) {
        if let Some((_, a)) = self.registry.queues.remove(name) {
            a.do_send(super::keys::Handover);
        }
    }

    /// Learns a queue's configuration without starting its actor (it runs on the node
    /// owning the queue's key).
    pub fn know_queue(&self, config: QueueConfig) {
        match config
            .hours
            .as_ref()
            .map(|h| crate::routing::hours::Calendar::compile(h, &config.name))
        {
            Some(Ok(c)) => {
                self.registry
                    .queue_hours
                    .insert(config.name.clone(), Arc::new(c));
            }
            Some(Err(e)) => {
                // Only a configuration stored by an older build can get here
                // (`save_queue` refuses it): the queue stays open rather than closed
                // for good.
                tracing::warn!(queue = %config.name, error = %e, "queue hours ignored");
                self.registry.queue_hours.remove(&config.name);
            }
            None => {
                self.registry.queue_hours.remove(&config.name);
            }
        }
        self.registry
            .queue_configs
            .insert(config.name.clone(), config);
    }

    /// A queue's compiled business hours; `None`: always open.
    pub fn queue_calendar(&self, name: &QueueName) -> Option<Arc<crate::routing::hours::Calendar>> {
        self.registry.queue_hours.get(name).map(|c| c.clone())
    }

    /// Why `queue` is closed now, if it is (its business hours).
    pub fn queue_closed(&self, name: &QueueName) -> Option<crate::routing::hours::Closed> {
        self.queue_calendar(name)?.closed_at(self.now())
    }

    /// What a conversation arriving now for `queue` gets from its after-hours rules;
    /// `None` while the queue is open. It goes to the after-hours queue when that one
    /// is open (one hop: nobody is routed in a circle), else it waits in `queue`.
    pub fn after_hours(&self, queue: &QueueName) -> Option<AfterHoursPlan> {
        let why = self.queue_closed(queue)?;
        let rules = self.queue_config(queue)?.hours?.after_hours;
        let routed = rules
            .route_to
            .filter(|to| self.queue_exists(to) && self.queue_closed(to).is_none());
        Some(AfterHoursPlan {
            waits_unoffered: routed.is_none() && !rules.offer,
            to: routed.unwrap_or_else(|| queue.clone()),
            message: rules.message,
            why,
        })
    }

    /// Called by a customer actor when it passivates.
    pub(crate) fn customer_passivated(&self, id: CustomerId, addr: &Addr<CustomerActor>) {
        self.registry.customers.remove_if(&id, |_, a| a == addr);
    }

    pub fn live_customers(&self) -> usize {
        self.registry.customers.len()
    }

    /// The customer for `(channel, address)`, created if unknown. A phone number (an
    /// X account) is one customer across the channels keyed by it (`resolve_shared`).
    pub async fn resolve_identity(&self, key: &IdentityKey) -> EngineResult<(CustomerId, bool)> {
        if let Some(evidence) = key.channel.capabilities().address.shared_evidence() {
            return self.resolve_shared(key, evidence).await;
        }
        self.create_for_identity(key).await
    }

    /// The customer mapped to `key`, or a new one with it.
    pub(super) async fn create_for_identity(
        &self,
        key: &IdentityKey,
    ) -> EngineResult<(CustomerId, bool)> {
        let fresh = Customer {
            id: CustomerId::new(),
            display_name: None,
            identities: vec![key.clone()],
            priority: 0,
            attributes: Default::default(),
            last_agent: None,
            opted_out: Default::default(),
            merged_into: None,
            merged: Vec::new(),
            created_at: self.now(),
        };
        self.store
            .resolve_or_create(key, fresh)
            .await
            .map_err(crate::store::StoreError::into_engine)
    }

    // ------------------------------------------------------------ agents

    pub fn agent(&self, id: &AgentId) -> Option<Addr<AgentActor>> {
        self.registry
            .agents
            .get(id)
            .map(|a| a.clone())
            .filter(|a| a.connected())
    }

    /// The agent's actor, started from `profile` if it is not running.
    pub fn agent_or_start(&self, profile: AgentProfile) -> Addr<AgentActor> {
        let id = profile.id.clone();
        let id_key = id.clone();
        let mut entry = self.registry.agents.entry(id).or_insert_with(|| {
            let actor = if self.cluster().is_some() {
                // In a cluster an agent's actor starts wherever its shard is now — at a
                // socket's attach, maybe while the shard's restore (`actors::keys`) is
                // still reading — so it reads what the agent holds itself, before any
                // other message: the welcome lists those conversations and their events
                // find them held.
                AgentActor::restarted(self.clone(), profile.clone())
            } else {
                AgentActor::new(self.clone(), profile.clone())
            };
            self.place(&profile.id, actor)
        });
        if !entry.connected() {
            // Still registered but not running: it crashed (a normal stop unregisters).
            // The new one reloads what the agent holds from the store.
            tracing::error!(agent = %id_key, "agent actor stopped unexpectedly; restarting it");
            crate::metrics::actor_restarted("agent");
            *entry = self.place(&id_key, AgentActor::restarted(self.clone(), profile));
        }
        entry.clone()
    }

    pub(crate) fn agent_stopped(&self, id: &AgentId, addr: &Addr<AgentActor>) {
        self.registry.agents.remove_if(id, |_, a| a == addr);
    }

    pub fn agent_ids(&self) -> Vec<AgentId> {
        self.registry
            .agents
            .iter()
            .map(|e| e.key().clone())
            .collect()
    }

    // ------------------------------------------------------------ queues

    /// The queue's actor. One that crashed (a panic ends its task, so its mailbox is
    /// closed) is restarted here, reloading its waiting conversations from the store.
    pub fn queue(&self, name: &QueueName) -> Option<Addr<QueueActor>> {
        let addr = self.registry.queues.get(name).map(|a| a.clone())?;
        if addr.connected() {
            return Some(addr);
        }
        let config = self.queue_config(name)?;
        let mut entry = self.registry.queues.entry(name.clone()).or_insert(addr);
        if !entry.connected() {
            tracing::error!(queue = %name, "queue actor stopped unexpectedly; restarting it");
            crate::metrics::actor_restarted("queue");
            *entry = self.place(name, QueueActor::restarted(self.clone(), config));
        }
        Some(entry.clone())
    }

    pub fn queue_config(&self, name: &QueueName) -> Option<QueueConfig> {
        self.registry.queue_configs.get(name).map(|c| c.clone())
    }

    /// The response-time targets of `name`, if it has any (docs/api.md "Response
    /// times").
    pub fn response_targets(&self, name: &QueueName) -> Option<crate::domain::ResponseTargets> {
        self.registry
            .queue_configs
            .get(name)
            .and_then(|c| c.response_times.clone())
    }

    /// Every configured queue, by name (wherever its actor runs).
    pub fn queue_names(&self) -> Vec<QueueName> {
        let mut v: Vec<_> = self
            .registry
            .queue_configs
            .iter()
            .map(|e| e.key().clone())
            .collect();
        v.sort();
        v
    }

    /// Refuses `requirements` for a conversation in `queue` when no enabled agent who
    /// serves the queue meets them even in the queue's last widening ring: such a
    /// conversation could never be offered.
    pub async fn check_requirements(
        &self,
        queue: &QueueName,
        requirements: &crate::domain::SkillFloors,
    ) -> EngineResult<()> {
        let Some(config) = self.queue_config(queue) else {
            return Err(EngineError::not_found("queue"));
        };
        let rings = crate::routing::widening::Rings::of_queue(&config).unwrap_or_default();
        let last = rings.relax(requirements, rings.steps());
        let someone = |agents: &[AgentProfile]| {
            agents.iter().any(|a| {
                !a.disabled
                    && a.queues.contains(queue)
                    && config.admits(&a.skills)
                    && crate::domain::meets(&a.skills, &last)
            })
        };
        // A recent copy may say yes; only the store may say no (an agent added a
        // moment ago counts).
        let now = self.now();
        let recent = self
            .registry
            .agents_seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .filter(|(at, _)| now.0.saturating_sub(at.0) < AGENTS_SEEN_TTL_MS)
            .map(|(_, a)| a.clone());
        if recent.is_some_and(|a| someone(a.as_slice())) {
            return Ok(());
        }
        let agents = Arc::new(
            self.store
                .agents()
                .await
                .map_err(EngineError::unavailable)?,
        );
        *self
            .registry
            .agents_seen
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some((now, agents.clone()));
        if someone(&agents) {
            return Ok(());
        }
        Err(EngineError::invalid(format!(
            "requirements: no agent serving queue {queue} meets {}, so nobody could ever take it",
            crate::routing::widening::describe(&last)
        )))
    }

    /// Stores a queue's configuration durably, then applies it at once (starting the
    /// queue actor if the queue is new; in a cluster, telling every member, and the
    /// queue's owner reconfigures or starts its actor). Admin and supervisor changes
    /// both come here.
    /// A channel is the default of at most one queue: a channel this change adds to
    /// `default_for` is taken off the queue that had it, in the same commit.
    pub async fn save_queue(&self, config: QueueConfig) -> EngineResult<()> {
        crate::routing::widening::Rings::of_queue(&config)
            .map_err(|e| EngineError::invalid(e.to_string()))?;
        if let Some((s, w)) = config.skill_weights.iter().find(|(_, w)| **w > 100) {
            return Err(EngineError::invalid(format!(
                "skill_weights.{}: {w}; must be 0 to 100",
                s.as_str()
            )));
        }
        crate::routing::service::check(&config.service_rules, &config.name)
            .map_err(|e| EngineError::invalid(e.to_string()))?;
        if let Some(t) = &config.response_times {
            crate::routing::sla::check(t).map_err(|e| EngineError::invalid(e.to_string()))?;
        }
        let moves = |q: &QueueName| -> Vec<QueueName> {
            let of = |c: &QueueConfig| {
                c.overflow
                    .iter()
                    .map(|o| o.to.clone())
                    .chain(c.service_rules.iter().filter_map(|r| r.overflow_to.clone()))
                    .collect()
            };
            if *q == config.name {
                of(&config)
            } else {
                self.registry
                    .queue_configs
                    .get(q)
                    .map(|c| of(&c))
                    .unwrap_or_default()
            }
        };
        for (i, r) in config.service_rules.iter().enumerate() {
            let Some(to) = &r.overflow_to else { continue };
            if !self.queue_exists(to) {
                return Err(EngineError::invalid(format!(
                    "service_rules[{i}].overflow_to: no queue named {to}"
                )));
            }
            if let Some(path) = crate::routing::service::overflow_cycle(&config.name, to, moves) {
                let path: Vec<&str> = path.iter().map(|q| q.as_str()).collect();
                return Err(EngineError::invalid(format!(
                    "service_rules[{i}].overflow_to: {to} leads back here ({}); conversations would go round for ever",
                    path.join(" → ")
                )));
            }
        }
        if let Some(h) = &config.hours {
            crate::routing::hours::Calendar::compile(h, &config.name)
                .map_err(|e| EngineError::invalid(e.to_string()))?;
            if let Some(to) = &h.after_hours.route_to {
                if !self.queue_exists(to) {
                    return Err(EngineError::invalid(format!(
                        "hours.after_hours.route_to: no queue named {to}"
                    )));
                }
            }
        }
        let _one_at_a_time = self.queue_lock.lock().await;
        // Only the channels this change adds move, so saving a queue of a store that
        // predates the rule leaves the others alone.
        let had: Vec<Channel> = self
            .registry
            .queue_configs
            .get(&config.name)
            .map(|q| q.default_for.clone())
            .unwrap_or_default();
        let added: Vec<Channel> = config
            .default_for
            .iter()
            .filter(|ch| !had.contains(ch))
            .copied()
            .collect();
        let mut queues = vec![config.clone()];
        for other in self.registry.queue_configs.iter() {
            if other.name != config.name && other.default_for.iter().any(|c| added.contains(c)) {
                let mut q = other.value().clone();
                q.default_for.retain(|c| !added.contains(c));
                queues.push(q);
            }
        }
        self.store
            .commit(crate::store::Batch {
                queues: queues.clone(),
                ..Default::default()
            })
            .await
            .map_err(crate::store::StoreError::into_engine)?;
        let new = self.queue_config(&config.name).is_none();
        for q in &queues {
            self.start_queue(q.clone());
        }
        self.queues_changed(queues);
        if new {
            // In a cluster a new queue's key is taken at the owners' next round: answer
            // once it has an owner, so the queue can be used at once.
            self.until_owned(&super::mail::Cluster::queue_key(&config.name))
                .await;
        }
        Ok(())
    }

    /// Starts (or reconfigures) the actor for `config` if it runs here; in a cluster
    /// whose queue runs on another node, tells that node's actor the new configuration.
    pub fn start_queue(&self, config: QueueConfig) {
        self.know_queue(config.clone());
        if !self.is_here::<QueueActor>(&config.name) {
            return;
        }
        if let Some(a) = self.queue(&config.name) {
            a.do_send(super::queue::Reconfigure(config));
            return;
        }
        let addr = self.place(&config.name, QueueActor::new(self.clone(), config.clone()));
        self.registry.queues.insert(config.name, addr);
    }

    /// Starts the actor of a queue whose key this node just took: it reloads the
    /// conversations waiting in it from the store (nothing runs before it has), and the
    /// agents of every node re-announce themselves to it.
    pub(crate) fn take_queue(&self, name: &QueueName) {
        let Some(config) = self.queue_config(name) else {
            return;
        };
        if self
            .registry
            .queues
            .get(name)
            .is_some_and(|a| a.connected())
        {
            return;
        }
        let addr = self.place(name, QueueActor::restarted(self.clone(), config));
        self.registry.queues.insert(name.clone(), addr);
    }

    /// The queue a new conversation on `channel` lands in: the one whose `default_for`
    /// lists the channel (one queue does, see [`Engine::save_queue`]; in a store that
    /// predates the rule, the first by name), else the first queue by name.
    pub fn default_queue_for(&self, channel: Channel) -> Option<QueueName> {
        let mut names: Vec<QueueConfig> = self
            .registry
            .queue_configs
            .iter()
            .map(|e| e.value().clone())
            .collect();
        names.sort_by(|a, b| a.name.cmp(&b.name));
        names
            .iter()
            .find(|c| c.default_for.contains(&channel))
            .or(names.first())
            .map(|c| c.name.clone())
    }
}
