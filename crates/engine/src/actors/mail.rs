//! Where an actor's messages go when actors live on several nodes: the engine's
//! [`Cluster`] handle (this node's ownership loop, its node-to-node [`Peers`] and the
//! shard map), the keys that say which node runs a customer, agent or queue actor
//! (`cluster::shard`), and [`Engine::ask`] / [`Engine::tell`], which deliver a message
//! to its actor here when this node owns the actor's key and over the wire to the
//! owner otherwise. Without a cluster (one engine, or active/standby) every actor is
//! here and nothing crosses a wire.
//!
//! A message crosses as `To<A, M> {id, msg}` under the kind [`Mail::KIND`]; every
//! node serves every kind ([`serve`]) by delivering to its own actor, so a message
//! that arrives where its key is no longer owned is answered `moved` by the peers
//! layer before any actor sees it.

use super::agent::AgentActor;
use super::customer::CustomerActor;
use super::hub::LiveHub;
use super::queue::QueueActor;
use super::Engine;
use crate::domain::{AgentId, CustomerId, EngineError, EngineResult, QueueName};
use crate::ownership::Driver;
use crate::peers::{Peers, Refusal, SendError, Wire};
use actix::dev::ToEnvelope;
use actix::prelude::*;
use cluster::shard::{OwnerKey, ShardMap, Singleton};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

/// This node's part in a cluster whose actors are placed on several nodes.
pub struct Cluster {
    /// The ownership loop: which keys this node holds, and who holds the others.
    pub driver: Arc<Driver>,
    /// Node-to-node messages to a key's owner.
    pub peers: Arc<Peers>,
    /// Customer and agent ids to shards (`cluster.shards`).
    pub shards: ShardMap,
    /// How long a message to an actor on another node may take, answer included
    /// (`cluster.actor_timeout_ms`).
    pub timeout: Duration,
    /// How often a socket looks whether its actor's key moved (`cluster.lease_poll_ms`:
    /// the rows it compares are read that often).
    pub seat_check: Duration,
}

impl Cluster {
    /// This node's name (sessions are addressed by it: `node/<name>`).
    pub fn node_name(&self) -> &str {
        &self.driver.node().name
    }

    /// The lease key of the customer's shard.
    pub fn customer_key(&self, id: CustomerId) -> String {
        OwnerKey::Shard(self.shards.customer(id)).as_key()
    }

    /// The lease key of the agent's shard.
    pub fn agent_key(&self, id: &AgentId) -> String {
        OwnerKey::Shard(self.shards.agent(id)).as_key()
    }

    /// The lease key of a queue.
    pub fn queue_key(name: &QueueName) -> String {
        OwnerKey::Queue(name.clone()).as_key()
    }

    /// The lease key of a singleton.
    pub fn singleton_key(s: Singleton) -> String {
        OwnerKey::Singleton(s).as_key()
    }

    /// The membership key of a node: messages to its sockets go there.
    pub fn node_key(name: &str) -> String {
        cluster::membership::key(name)
    }

    /// Whether this node holds `key` now (by its own deadline).
    pub fn owns(&self, key: &str) -> bool {
        self.driver.owns(key).is_some()
    }

    /// Sends `message` to the holder of `key` and reads its reply, within
    /// [`Cluster::timeout`]. A key between owners (its holder gone, the next not yet
    /// in), or held by a node where nothing listens any more (a process killed: its
    /// lease lapses and the key moves), is asked again every [`Cluster::seat_check`] —
    /// a takeover completes within a round or two once the old lease has lapsed —
    /// instead of failing at once. A refused connection delivered nothing, so asking
    /// again cannot act twice; a client that was refused at once would only retry,
    /// and meet the new owner later than the next look does.
    pub async fn ask_owner<W: Wire>(&self, key: &str, message: &W) -> Result<W::Reply, SendError> {
        let until = tokio::time::Instant::now() + self.timeout;
        loop {
            let left = until.saturating_duration_since(tokio::time::Instant::now());
            match self.peers.ask(key, message, left).await {
                Err(SendError::Unowned { .. } | SendError::Unreachable { refused: true, .. })
                    if tokio::time::Instant::now() + self.seat_check < until =>
                {
                    tokio::time::sleep(self.seat_check).await;
                }
                other => return other,
            }
        }
    }
}

impl Engine {
    /// Joins the engine to a cluster whose actors are placed on several nodes. Set once
    /// at start-up, before any actor runs; later calls are ignored.
    pub fn set_cluster(&self, cluster: Arc<Cluster>) {
        let _ = self.cluster.set(cluster);
    }

    /// The cluster this engine's actors are placed in, if any.
    pub fn cluster(&self) -> Option<&Arc<Cluster>> {
        self.cluster.get()
    }
}

/// An actor that lives on the node owning its key.
pub trait Placed: Actor<Context = Context<Self>> {
    /// What names one actor of the kind (a customer id, an agent id, a queue name).
    type Id: Serialize + DeserializeOwned + Clone + Send + std::fmt::Display + 'static;
    /// The lease key of the actor's shard, queue or singleton.
    fn key(cluster: &Cluster, id: &Self::Id) -> String;
    /// The actor here, started if it starts on demand (a customer); `None` if it does
    /// not run here (an agent not connected, a queue not configured).
    fn here(engine: &Engine, id: &Self::Id) -> Option<Addr<Self>>;
    /// Forgets a stopped actor whose mailbox was found closed, so that [`Placed::here`]
    /// starts a fresh one.
    fn forget_closed(_engine: &Engine, _id: &Self::Id) {}
}

impl Placed for CustomerActor {
    type Id = CustomerId;
    fn key(cluster: &Cluster, id: &CustomerId) -> String {
        cluster.customer_key(*id)
    }
    fn here(engine: &Engine, id: &CustomerId) -> Option<Addr<Self>> {
        Some(engine.customer(*id))
    }
    fn forget_closed(engine: &Engine, id: &CustomerId) {
        engine.forget_closed_customer(*id);
    }
}

impl Placed for AgentActor {
    type Id = AgentId;
    fn key(cluster: &Cluster, id: &AgentId) -> String {
        cluster.agent_key(id)
    }
    fn here(engine: &Engine, id: &AgentId) -> Option<Addr<Self>> {
        engine.agent(id)
    }
}

impl Placed for QueueActor {
    type Id = QueueName;
    fn key(_: &Cluster, id: &QueueName) -> String {
        Cluster::queue_key(id)
    }
    fn here(engine: &Engine, id: &QueueName) -> Option<Addr<Self>> {
        // Routed here because this node holds the queue's key: its actor may not have
        // started yet (the key's change is applied a moment after it is granted).
        engine.queue(id).or_else(|| {
            if engine.cluster().is_some() {
                engine.take_queue(id);
            }
            engine.queue(id)
        })
    }
}

/// The one live hub of the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TheHub;

impl std::fmt::Display for TheHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("hub")
    }
}

impl Placed for LiveHub {
    type Id = TheHub;
    fn key(_: &Cluster, _: &TheHub) -> String {
        Cluster::singleton_key(Singleton::Hub)
    }
    fn here(engine: &Engine, _: &TheHub) -> Option<Addr<Self>> {
        engine.hub()
    }
}

/// A message of actor `A` that may cross nodes: a plain serde type with a kind name,
/// unique among every actor's messages.
pub trait Mail<A: Placed>: Message + Serialize + DeserializeOwned + Clone + Send + 'static
where
    Self::Result: Serialize + DeserializeOwned + Send,
{
    const KIND: &'static str;
}

/// A message on its way to actor `A` named `id`.
#[derive(Serialize, Deserialize)]
#[serde(bound(serialize = "M: Serialize", deserialize = "M: DeserializeOwned"))]
pub struct To<A: Placed, M> {
    pub id: A::Id,
    pub msg: M,
    #[serde(skip)]
    actor: PhantomData<fn() -> A>,
}

impl<A, M> Wire for To<A, M>
where
    A: Placed,
    M: Mail<A>,
    M::Result: Serialize + DeserializeOwned + Send,
{
    const KIND: &'static str = M::KIND;
    /// `Err` when the actor does not run on the owner (an agent not connected).
    type Reply = EngineResult<M::Result>;
}

/// Where a message for a key goes.
enum Place {
    Here,
    There(Arc<Cluster>, String),
}

impl Engine {
    fn place_of<A: Placed>(&self, id: &A::Id) -> Place {
        match self.cluster() {
            None => Place::Here,
            Some(c) => {
                let key = A::key(c, id);
                if c.owns(&key) {
                    Place::Here
                } else {
                    Place::There(c.clone(), key)
                }
            }
        }
    }

    /// Whether actor `A` named `id` runs on this node (always, without a cluster).
    pub fn is_here<A: Placed>(&self, id: &A::Id) -> bool {
        matches!(self.place_of::<A>(id), Place::Here)
    }

    /// Sends `msg` to actor `A` named `id` and waits for its answer: here, or on the
    /// node that owns its key. `Err` when it could not be reached (`unavailable`:
    /// retry; the message may have been acted on, which every door of the engine
    /// deduplicates by id) or does not run (an agent not connected).
    ///
    /// An actor here gets the message at the call, before the future is first polled
    /// (as `Addr::send`): what the caller sends it next arrives after it.
    pub fn ask<A, M>(
        &self,
        id: A::Id,
        msg: M,
    ) -> impl std::future::Future<Output = EngineResult<M::Result>> + 'static
    where
        A: Placed + Handler<M>,
        A::Context: ToEnvelope<A, M>,
        M: Mail<A>,
        M::Result: Serialize + DeserializeOwned + Send,
    {
        let place = self.place_of::<A>(&id);
        let sent = match place {
            Place::Here => A::here(self, &id).map(|a| a.send(msg.clone())),
            Place::There(..) => None,
        };
        let engine = self.clone();
        async move {
            match place {
                Place::Here => {
                    match sent {
                        Some(request) => match request.await {
                            Ok(r) => return Ok(r),
                            // Passivated as it arrived: once more, on a fresh actor.
                            Err(MailboxError::Closed) => A::forget_closed(&engine, &id),
                            Err(MailboxError::Timeout) => {
                                return Err(EngineError::internal(format!(
                                    "actor for {id} unavailable"
                                )))
                            }
                        },
                        None => return Err(not_running(&id)),
                    }
                    engine.ask_here::<A, M>(id, msg).await
                }
                Place::There(c, key) => {
                    let to = To::<A, M> {
                        id,
                        msg,
                        actor: PhantomData,
                    };
                    match c.ask_owner(&key, &to).await {
                        Ok(r) => r,
                        Err(e) => Err(unreached(&key, e)),
                    }
                }
            }
        }
    }

    /// [`Engine::ask`] for the messages that answer an [`EngineResult`].
    pub fn call<A, M, R>(
        &self,
        id: A::Id,
        msg: M,
    ) -> impl std::future::Future<Output = EngineResult<R>> + 'static
    where
        A: Placed + Handler<M>,
        A::Context: ToEnvelope<A, M>,
        M: Mail<A> + Message<Result = EngineResult<R>>,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        let asked = self.ask::<A, M>(id, msg);
        async move { asked.await? }
    }

    /// Sends `msg` to actor `A` named `id` without waiting (here: its mailbox; on
    /// another node: a task sends it, and a failure is logged and counted).
    pub fn tell<A, M>(&self, id: A::Id, msg: M)
    where
        A: Placed + Handler<M>,
        A::Context: ToEnvelope<A, M>,
        M: Mail<A>,
        M::Result: Serialize + DeserializeOwned + Send,
    {
        self.tell_or_else::<A, M>(id, msg, || {})
    }

    /// [`Engine::tell`], calling `lost` (on this thread) when the message was for an
    /// actor on another node and did not reach it: refused (`busy`), past its
    /// deadline, or between owners. A sender that must not lose it repairs from there
    /// (a customer's events to its agent: [`super::agent::messages::CatchUp`]).
    pub fn tell_or_else<A, M>(&self, id: A::Id, msg: M, lost: impl FnOnce() + 'static)
    where
        A: Placed + Handler<M>,
        A::Context: ToEnvelope<A, M>,
        M: Mail<A>,
        M::Result: Serialize + DeserializeOwned + Send,
    {
        match self.place_of::<A>(&id) {
            Place::Here => match A::here(self, &id) {
                Some(a) => a.do_send(msg),
                None => {
                    tracing::debug!(kind = M::KIND, %id, "message to an actor not running here dropped")
                }
            },
            Place::There(c, key) => {
                let to = To::<A, M> {
                    id,
                    msg,
                    actor: PhantomData,
                };
                actix::spawn(async move {
                    match c.ask_owner(&key, &to).await {
                        Ok(_) => return,
                        // Still between owners at the deadline: the next owner reloads
                        // from the store.
                        Err(e @ SendError::Unowned { .. }) => {
                            tracing::debug!(kind = M::KIND, key, error = %e, "message to an actor between owners dropped");
                        }
                        Err(e) => {
                            tracing::warn!(kind = M::KIND, key, error = %e, "message to another node's actor not delivered");
                        }
                    }
                    lost();
                });
            }
        }
    }

    /// Delivers `msg` to actor `A` here, starting it again once if its mailbox closed
    /// as the message arrived (a customer passivating).
    async fn ask_here<A, M>(&self, id: A::Id, msg: M) -> EngineResult<M::Result>
    where
        A: Placed + Handler<M>,
        A::Context: ToEnvelope<A, M>,
        M: Mail<A>,
        M::Result: Serialize + DeserializeOwned + Send,
    {
        for _ in 0..2 {
            let Some(addr) = A::here(self, &id) else {
                return Err(not_running(&id));
            };
            match addr.send(msg.clone()).await {
                Ok(r) => return Ok(r),
                Err(MailboxError::Closed) => {
                    A::forget_closed(self, &id);
                    continue;
                }
                Err(MailboxError::Timeout) => break,
            }
        }
        Err(EngineError::internal(format!("actor for {id} unavailable")))
    }
}

/// Sends of one message [`Engine::tell_queue_until_taken`] makes at most, and the
/// pause after a lost one (times the sends so far).
pub const RESEND_TRIES: u32 = 6;
pub const RESEND_PAUSE: std::time::Duration = std::time::Duration::from_millis(250);

fn unreached(key: &str, e: SendError) -> EngineError {
    match e {
        SendError::Overloaded { .. } => EngineError::new(
            crate::domain::ErrorCode::Busy,
            format!("the node owning {key} is saturated; retry"),
        ),
        e => EngineError::new(
            crate::domain::ErrorCode::Unavailable,
            format!("{key} could not be reached: {e}; retry"),
        ),
    }
}

/// An actor this node should hold is not running (it is moving, or stopping): a
/// node's state, not the store's, so it does not say "store".
fn not_running(id: &impl std::fmt::Display) -> EngineError {
    EngineError::new(
        crate::domain::ErrorCode::Unavailable,
        format!("{id} is not running on this node; retry"),
    )
}

/// Calls `$then!` with every actor and the messages it takes that may cross nodes
/// (everything but the self-addressed timers and the test-only `InjectPanic`).
macro_rules! all_mail {
    ($then:ident) => {
        $then! {
            CustomerActor => [
                Inbound, AgentWrite, CallEnded, CallRecorded, PhoneAnswered, IvrStep, EscalateVideo, SetOptOut, Assign,
                GetConversationView, CloseConversation, Transfer, Park, Unpark, Requeue, AssignFailed, CustomerLeave,
                Identify, AttachChat, DetachChat, Typing, RecordEvents, WatchConversation,
                UnwatchConversation,
                Absorb, Evict, LinkIdentity, NameIfUnnamed, Retire, UnlinkIdentity, Unmerge,
                Unretire, AnswerSurvey, AskPhoneSurvey, CallbackDue, CallbackOutcome, RequestCallback, Notify,
                CheckResponse, StartConversation, CallRequest,
            ],
            QueueActor => [
                AgentGone, AgentUpdate, Dequeue, Enqueue, GetQueueSnapshot, OfferClosed, Peek,
                Pull, Reconfigure, Republish, ServiceLevel,
            ],
            AgentActor => [
                AgentCommand, AttachAgent, CatchUp, ConversationEvent, ConversationLeft, DetachAgent,
                GetAgentLive, ParkedLeft, PhoneHold,
                Republish, Rescind, Reserve, RestoreHeld, SetAgentQueues, SetAgentSkills,
                SupervisorSetStatus,
                Typing, CallNews,
            ],
            LiveHub => [
                GetHubStats, GetLive, HubEvent, SetFilter, Subscribe, SubscriberAck, Unsubscribe,
            ],
        }
    };
}

use super::customer::callback::{CallbackDue, CallbackOutcome, RequestCallback};
use super::customer::identity::{
    Absorb, Evict, LinkIdentity, NameIfUnnamed, Retire, UnlinkIdentity, Unmerge, Unretire,
};
use super::customer::notify::Notify;
use super::customer::responses::CheckResponse;
use super::customer::survey::{AnswerSurvey, AskPhoneSurvey};
use super::messages::*;
use super::queue::Reconfigure;

macro_rules! impl_mail {
    ($($actor:ident => [$($msg:ident),* $(,)?]),* $(,)?) => {$($(
        impl Mail<$actor> for $msg {
            const KIND: &'static str = concat!(stringify!($actor), ".", stringify!($msg));
        }
    )*)*};
}
all_mail!(impl_mail);

/// Registers, on this node's peers, the delivery of every actor message kind to the
/// actors here. The peers layer admits an envelope only while this node owns its key.
/// The handlers hold the engine weakly (the engine holds them): once it has stopped
/// they refuse with `stopping`.
pub fn serve(engine: &Engine, peers: &Peers) {
    macro_rules! serve_kinds {
        ($($actor:ident => [$($msg:ident),* $(,)?]),* $(,)?) => {$($(
            {
                let weak = engine.downgrade();
                peers.serve(move |_key, to: To<$actor, $msg>| {
                    let engine = running(&weak);
                    async move { Ok(engine?.ask_here::<$actor, $msg>(to.id, to.msg).await) }
                });
            }
        )*)*};
    }
    all_mail!(serve_kinds);
    let weak = engine.downgrade();
    peers.serve(move |_key, _: RepublishAgents| {
        let done = running(&weak).map(|e| e.republish_local_agents());
        async { done }
    });
    let weak = engine.downgrade();
    peers.serve(move |_key, start: StartAgent| {
        let done = running(&weak).map(|e| {
            e.agent_or_start(start.profile);
        });
        async { done }
    });
    let weak = engine.downgrade();
    peers.serve(move |_key, changed: QueuesChanged| {
        let done = running(&weak).map(|e| {
            for q in changed.queues {
                e.start_queue(q);
            }
            if let Some(c) = e.cluster() {
                c.driver.set_keys(e.placed_keys());
            }
        });
        async { done }
    });
    let weak = engine.downgrade();
    peers.serve(move |_key, changed: ConfigChanged| {
        let engine = running(&weak);
        async move {
            let engine = engine?;
            let read = match changed.what {
                Config::Ivr => engine.ivr_reload().await,
                Config::Wrapup => engine.wrapup_reload().await,
                Config::Survey => engine.survey_reload().await,
                other => engine.config_listener(other).await,
            };
            // Refused, the sender asks again (`Engine::broadcast`).
            read.map_err(|e| Refusal {
                code: "unavailable".into(),
                message: format!(
                    "could not re-read the {:?} configuration: {e}",
                    changed.what
                ),
            })
        }
    });
}

/// The engine, or a refusal once it has stopped.
fn running(weak: &super::registry::WeakEngine) -> Result<Engine, Refusal> {
    weak.upgrade().ok_or_else(|| Refusal {
        code: "stopping".into(),
        message: "this node's engine has stopped".into(),
    })
}

/// The three placed actors by name, for readable call sites.
impl Engine {
    /// Whether a queue of that name is configured (its actor runs on the node owning
    /// its key; every node knows the configurations).
    pub fn queue_exists(&self, name: &QueueName) -> bool {
        self.queue_config(name).is_some()
    }

    /// [`Engine::ask`] to a queue.
    pub fn ask_queue<M>(
        &self,
        name: &QueueName,
        msg: M,
    ) -> impl std::future::Future<Output = EngineResult<M::Result>> + 'static
    where
        QueueActor: Handler<M>,
        M: Mail<QueueActor>,
        M::Result: Serialize + DeserializeOwned + Send,
    {
        self.ask::<QueueActor, M>(name.clone(), msg)
    }

    /// [`Engine::tell`] to a queue.
    pub fn tell_queue<M>(&self, name: &QueueName, msg: M)
    where
        QueueActor: Handler<M>,
        M: Mail<QueueActor>,
        M::Result: Serialize + DeserializeOwned + Send,
    {
        self.tell::<QueueActor, M>(name.clone(), msg)
    }

    /// [`Engine::tell`] to a queue of something it must not miss and takes twice
    /// without harm (an offer's outcome, an agent leaving): told again after a pause
    /// while another node refuses it or misses the deadline, up to [`RESEND_TRIES`]
    /// times in all.
    pub fn tell_queue_until_taken<M>(&self, name: &QueueName, msg: M)
    where
        QueueActor: Handler<M>,
        M: Mail<QueueActor>,
        M::Result: Serialize + DeserializeOwned + Send,
    {
        self.resend::<QueueActor, M>(name.clone(), msg, 1)
    }

    /// [`Engine::tell_queue_until_taken`] to a customer's actor.
    pub fn tell_customer_until_taken<M>(&self, id: CustomerId, msg: M)
    where
        CustomerActor: Handler<M>,
        M: Mail<CustomerActor>,
        M::Result: Serialize + DeserializeOwned + Send,
    {
        self.resend::<CustomerActor, M>(id, msg, 1)
    }

    fn resend<A, M>(&self, id: A::Id, msg: M, tries: u32)
    where
        A: Placed + Handler<M>,
        A::Context: ToEnvelope<A, M>,
        M: Mail<A>,
        M::Result: Serialize + DeserializeOwned + Send,
    {
        let (engine, again, to) = (self.clone(), msg.clone(), id.clone());
        self.tell_or_else::<A, M>(id, msg, move || {
            if tries >= RESEND_TRIES {
                tracing::warn!(kind = M::KIND, %to, "message to an actor on another node given up");
                return;
            }
            actix::spawn(async move {
                actix_rt::time::sleep(RESEND_PAUSE * tries).await;
                engine.resend::<A, M>(to, again, tries + 1);
            });
        });
    }

    /// [`Engine::tell_or_else`] to a queue.
    pub fn tell_queue_or_else<M>(&self, name: &QueueName, msg: M, lost: impl FnOnce() + 'static)
    where
        QueueActor: Handler<M>,
        M: Mail<QueueActor>,
        M::Result: Serialize + DeserializeOwned + Send,
    {
        self.tell_or_else::<QueueActor, M>(name.clone(), msg, lost)
    }

    /// [`Engine::ask`] to an agent's actor (`Err` if the agent is not connected).
    pub fn ask_agent<M>(
        &self,
        id: &AgentId,
        msg: M,
    ) -> impl std::future::Future<Output = EngineResult<M::Result>> + 'static
    where
        AgentActor: Handler<M>,
        M: Mail<AgentActor>,
        M::Result: Serialize + DeserializeOwned + Send,
    {
        self.ask::<AgentActor, M>(id.clone(), msg)
    }

    /// [`Engine::tell`] to an agent's actor (dropped if the agent is not connected).
    pub fn tell_agent<M>(&self, id: &AgentId, msg: M)
    where
        AgentActor: Handler<M>,
        M: Mail<AgentActor>,
        M::Result: Serialize + DeserializeOwned + Send,
    {
        self.tell::<AgentActor, M>(id.clone(), msg)
    }

    /// [`Engine::tell_or_else`] to an agent's actor.
    pub fn tell_agent_or_else<M>(&self, id: &AgentId, msg: M, lost: impl FnOnce() + 'static)
    where
        AgentActor: Handler<M>,
        M: Mail<AgentActor>,
        M::Result: Serialize + DeserializeOwned + Send,
    {
        self.tell_or_else::<AgentActor, M>(id.clone(), msg, lost)
    }

    /// [`Engine::ask`] to the live hub.
    pub fn ask_hub<M>(
        &self,
        msg: M,
    ) -> impl std::future::Future<Output = EngineResult<M::Result>> + 'static
    where
        LiveHub: Handler<M>,
        M: Mail<LiveHub>,
        M::Result: Serialize + DeserializeOwned + Send,
    {
        self.ask::<LiveHub, M>(TheHub, msg)
    }
}

/// Every agent actor of a node re-announces itself to its queues ([`Republish`]):
/// sent to each live member's membership key when a queue actor starts afresh.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepublishAgents {}

impl Wire for RepublishAgents {
    const KIND: &'static str = "agents.republish";
    type Reply = ();
}

impl Engine {
    /// Has every agent actor of the cluster re-announce itself to its queues (after a
    /// queue actor started with an empty index): those here at once, those on the other
    /// live members through their membership keys.
    pub fn republish_agents(&self) {
        self.republish_local_agents();
        self.broadcast(RepublishAgents {});
    }

    /// Sends `message` to every other live member's membership key, from a spawned
    /// task (the caller never waits). A member that refuses it or misses the deadline
    /// (busy, or its own store read failed) is asked again, as
    /// [`Engine::tell_queue_until_taken`] does, up to [`RESEND_TRIES`] sends while it is
    /// still a live member; one that misses every send is logged. Broadcasts are
    /// idempotent (re-read this, re-announce that), so a repeat is harmless. Nothing
    /// without a cluster.
    pub fn broadcast<M: Wire + Sync>(&self, message: M) {
        let Some(c) = self.cluster().cloned() else {
            return;
        };
        let me = c.node_name().to_owned();
        let live = move |c: &Cluster| -> Vec<String> {
            c.driver
                .members()
                .into_iter()
                .filter(|m| m.live && m.node.name != me)
                .map(|m| m.node.name)
                .collect()
        };
        let others = live(&c);
        actix::spawn(async move {
            for name in others {
                let key = Cluster::node_key(&name);
                let mut tries = 0;
                loop {
                    tries += 1;
                    let Err(e) = c.peers.ask(&key, &message, c.timeout).await else {
                        break;
                    };
                    if tries >= RESEND_TRIES || !live(&c).contains(&name) {
                        tracing::warn!(kind = M::KIND, key, tries, error = %e, "a member missed a broadcast");
                        break;
                    }
                    actix_rt::time::sleep(RESEND_PAUSE * tries).await;
                }
            }
        });
    }

    fn republish_local_agents(&self) {
        for id in self.agent_ids() {
            if let Some(a) = self.agent(&id) {
                a.do_send(Republish);
            }
        }
    }
}

/// Queues created or changed on another node: every member learns their configuration,
/// the node owning each queue's key reconfigures (or starts) its actor, and the placed
/// keys include every queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueuesChanged {
    pub queues: Vec<crate::domain::QueueConfig>,
}

impl Wire for QueuesChanged {
    const KIND: &'static str = "queues.changed";
    type Reply = ();
}

/// Configuration a member changed in the store and every other member re-reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Config {
    /// The IVR tree in force (`crate::ivr_versions`).
    Ivr,
    /// The wrap-up codes (`super::wrapup`).
    Wrapup,
    /// The CSAT survey settings (`super::survey_config`).
    Survey,
    /// The channel connectors' settings (the server's, through
    /// [`Engine::on_config_changed`]).
    Channels,
}

/// "Re-read this configuration from the store."
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigChanged {
    pub what: Config,
}

impl Wire for ConfigChanged {
    const KIND: &'static str = "config.changed";
    type Reply = ();
}

impl Engine {
    /// Every key a cluster places: the shards, each configured queue, the singletons.
    /// The same on every node that knows the same queues.
    pub fn placed_keys(&self) -> Vec<String> {
        let Some(c) = self.cluster() else {
            return Vec::new();
        };
        c.shards
            .all()
            .map(OwnerKey::Shard)
            .chain(self.queue_names().into_iter().map(OwnerKey::Queue))
            .chain(Singleton::ALL.into_iter().map(OwnerKey::Singleton))
            .map(|k| k.as_key())
            .collect()
    }

    /// Waits until `key` has a live holder (this node or another), at most the
    /// actor time-out; at once without a cluster.
    pub(crate) async fn until_owned(&self, key: &str) {
        let Some(c) = self.cluster().cloned() else {
            return;
        };
        let until = tokio::time::Instant::now() + c.timeout;
        while !c.owns(key) && c.driver.holder(key).is_none() {
            if tokio::time::Instant::now() >= until {
                tracing::warn!(
                    key,
                    "no owner yet; messages to it are refused until one takes it"
                );
                return;
            }
            tokio::time::sleep(c.seat_check).await;
        }
    }

    /// After this node saved `queues`: the placed keys follow, and every other live
    /// member is told (a member that misses it learns the queues at its next start;
    /// until then it places keys by the set it knows).
    pub(crate) fn queues_changed(&self, queues: Vec<crate::domain::QueueConfig>) {
        let Some(c) = self.cluster().cloned() else {
            return;
        };
        c.driver.set_keys(self.placed_keys());
        self.broadcast(QueuesChanged { queues });
    }
}

/// Where a socket's actor runs, as the socket last found it: here (its address, whose
/// mailbox closes if it crashes), or on another node under the epoch of its key then.
pub enum Seat<A: Actor> {
    Here(Addr<A>),
    There { key: String, epoch: Option<u64> },
}

impl Engine {
    /// Where actor `A` named `id` runs now (`here` gives its address, asked only when
    /// it runs here).
    pub fn seat<A: Placed>(&self, id: &A::Id, here: impl FnOnce() -> Addr<A>) -> Seat<A> {
        match self.place_of::<A>(id) {
            Place::Here => Seat::Here(here()),
            Place::There(c, key) => Seat::There {
                epoch: c.driver.owner(&key).map(|o| o.epoch),
                key,
            },
        }
    }

    /// How often sockets look whether their actor moved ([`Engine::moved`]): in a
    /// cluster, as often as the lease rows are read; `None` without one (a crash here
    /// is noticed at the heartbeat).
    pub fn seat_check(&self) -> Option<Duration> {
        self.cluster().map(|c| c.seat_check)
    }

    /// Whether the actor a socket sat with is gone: crashed here, or its key moved to
    /// another owner (or another epoch) since. The socket then tells its client to
    /// reconnect, which attaches it to the actor where it runs now.
    pub fn moved<A: Actor>(&self, seat: &Seat<A>) -> bool {
        match seat {
            Seat::Here(a) => !a.connected(),
            Seat::There { key, epoch } => match self.cluster() {
                None => true,
                Some(c) => c.owns(key) || c.driver.owner(key).map(|o| o.epoch) != *epoch,
            },
        }
    }
}

/// Start (or find) an agent's actor on the node owning the agent's shard: an agent's
/// socket connected elsewhere.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StartAgent {
    pub profile: crate::domain::AgentProfile,
}

impl Wire for StartAgent {
    const KIND: &'static str = "agent.start";
    type Reply = ();
}

impl Engine {
    /// The agent's actor, started from `profile` where it runs (here, or on the node
    /// owning its shard), and where that is.
    pub async fn start_agent(
        &self,
        profile: crate::domain::AgentProfile,
    ) -> EngineResult<Seat<AgentActor>> {
        let id = profile.id.clone();
        match self.place_of::<AgentActor>(&id) {
            Place::Here => Ok(Seat::Here(self.agent_or_start(profile))),
            Place::There(c, key) => {
                c.ask_owner(&key, &StartAgent { profile })
                    .await
                    .map_err(|e| unreached(&key, e))?;
                // The owner as of the answer: read before the ask, a key between
                // owners (a takeover) would leave the seat with no epoch, and the
                // socket would find its actor moved at its next look.
                Ok(Seat::There {
                    epoch: c.driver.owner(&key).map(|o| o.epoch),
                    key,
                })
            }
        }
    }
}
