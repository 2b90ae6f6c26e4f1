//! Socket sessions' cluster-wide addresses: the table of the websockets this node holds,
//! and the pushes that reach one wherever it is.
//!
//! A session (chat, agent or supervisor socket) is named by a [`SessionRef`]: the node
//! that holds it (its name and the incarnation of its run, `None` on an engine without
//! a cluster) and an id this node gave it. Actors keep these refs, never a process
//! address, so the attach messages are plain serde values and an actor on one node can
//! push to a socket held by another.
//!
//! - **The table** ([`Sessions`], in the engine): id -> [`Sink`], the socket actor's
//!   recipient. A session takes its ref with [`Engine::new_session`] when it is built,
//!   registers its recipient when it starts (`Engine::register_*_session`) and
//!   unregisters when it stops ([`Engine::unregister_session`]).
//! - **Pushes** (`Engine::push_chat`, `push_agent`, `push_supervisor`): to a session of
//!   this node's run, delivered at once with the semantics each actor always had —
//!   chat and agent pushes and a supervisor's `Close` are never dropped (`do_send`), a
//!   supervisor's `Msg` is dropped when the socket's bounded mailbox is full
//!   (`try_send`; the hub's flow control counts on it). To a session on another node,
//!   a [`SessionPush`] (kind `session.push`) to that node's membership key
//!   (`node/<name>`), sent by a spawned task (the actor never waits) with a deadline of
//!   [`PUSH_TIMEOUT`]; the receiving node ([`serve`]) delivers it the same way and
//!   answers what became of it. Pushes from one actor to one node arrive in the order
//!   sent (`Peers` keeps a peer's envelopes in order and the handler delivers before
//!   its first wait).
//! - **Gone sessions:** a push answers [`Pushed`] at once: `Delivered`, `Full` or
//!   `Gone` for a session here (gone: not in the table, its mailbox closed, or a ref
//!   from an earlier run of this node), `Forwarded` for one elsewhere. When the other
//!   node answers `Gone` (or is no longer a member), the push's `gone` callback runs —
//!   the actor tells itself to detach that session — so actors forget dead sessions
//!   wherever they were. A push that fails otherwise (timeout, unreachable) is lost,
//!   as one to a socket that drops: the client gets the state back when it reconnects.

use super::mail::Cluster;
use super::messages::*;
use super::registry::Engine;
use crate::peers::{Peers, SendError, Wire};
use actix::prelude::SendError as TrySendError;
use actix::prelude::*;
use cluster::NodeId;
use dashmap::DashMap;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// Where a socket session is: the node holding it and its id there.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SessionRef {
    /// The node (name and run) holding the socket; `None` on an engine without a
    /// cluster, where every session is here. The incarnation keeps a ref from a node's
    /// earlier run from reaching a socket its next run gave the same id.
    pub node: Option<NodeId>,
    /// Unique on that node's run.
    pub id: u64,
}

/// A socket's actor, as the table holds it.
pub enum Sink {
    Chat(Recipient<ChatPush>),
    Agent(Recipient<AgentPush>),
    Supervisor(Recipient<SupervisorPush>),
}

/// The sockets this node holds, by session id: one table, shared by its clones (the
/// engine's, and the [`serve`] handler's, which must not hold the engine).
#[derive(Clone, Default)]
pub struct Sessions(Arc<DashMap<u64, Sink>>);

impl Sessions {
    /// Delivers `push` to session `id` of this node's run.
    fn deliver(&self, id: u64, push: Push) -> Pushed {
        match self.0.get(&id) {
            Some(sink) => sink.deliver(push),
            None => Pushed::Gone,
        }
    }

    /// Whether session `id` is in the table with its mailbox open.
    fn open(&self, id: u64) -> bool {
        self.0.get(&id).is_some_and(|s| s.open())
    }
}

/// A push to one socket, of whichever kind (the body of a [`SessionPush`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Push {
    Chat(ChatPush),
    Agent(AgentPush),
    Supervisor(SupervisorPush),
}

/// What became of a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pushed {
    /// In the socket's mailbox.
    Delivered,
    /// The socket's mailbox was full: dropped (supervisor messages only).
    Full,
    /// No such session any more: forget it.
    Gone,
    /// On its way to the node holding the session; its `gone` callback runs if that
    /// node answers that the session is gone. (Never a node's answer.)
    Forwarded,
}

/// A push to a session held by the node receiving it; answered with [`Pushed`]
/// (`Delivered`, `Full` or `Gone`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionPush {
    pub session: SessionRef,
    pub push: Push,
}

impl Wire for SessionPush {
    const KIND: &'static str = "session.push";
    type Reply = Pushed;
}

/// How long a push to another node may take to arrive and be answered: past it, the
/// receiver does not deliver it (a stale frame) and the sender stops waiting.
pub const PUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// Registers this node's handler of [`SessionPush`] (every member, at start-up): it
/// delivers to `engine`'s table a push for a session of this run of the node (the one
/// `peers` speaks for), and answers `Gone` for any other. It holds the table, not the
/// engine (the engine holds the peers).
pub fn serve(engine: &Engine, peers: &Peers) {
    let (table, me) = (engine.sessions.clone(), peers.node().clone());
    peers.serve(move |_key, msg: SessionPush| {
        let pushed = if msg.session.node.as_ref() == Some(&me) {
            table.deliver(msg.session.id, msg.push)
        } else {
            Pushed::Gone
        };
        async move { Ok(pushed) }
    });
}

/// Where a ref points, from this engine.
enum Place {
    Here,
    /// Another node of this engine's cluster (a member or not).
    There(Arc<Cluster>, NodeId),
    /// Unreachable from here: an earlier run of this node, or a node of a cluster this
    /// engine is not in.
    Nowhere,
}

impl Sink {
    fn open(&self) -> bool {
        match self {
            Sink::Chat(r) => r.connected(),
            Sink::Agent(r) => r.connected(),
            Sink::Supervisor(r) => r.connected(),
        }
    }

    fn deliver(&self, push: Push) -> Pushed {
        match (self, push) {
            (Sink::Chat(r), Push::Chat(p)) => always(r, p),
            (Sink::Agent(r), Push::Agent(p)) => always(r, p),
            (Sink::Supervisor(r), Push::Supervisor(p @ SupervisorPush::Close(_))) => always(r, p),
            (Sink::Supervisor(r), Push::Supervisor(p)) => match r.try_send(p) {
                Ok(()) => Pushed::Delivered,
                Err(TrySendError::Full(_)) => Pushed::Full,
                Err(TrySendError::Closed(_)) => Pushed::Gone,
            },
            // Not the session it was meant for.
            _ => Pushed::Gone,
        }
    }
}

/// Delivers whatever the mailbox holds (`do_send`), unless it is closed.
fn always<M>(r: &Recipient<M>, m: M) -> Pushed
where
    M: Message + Send + 'static,
    M::Result: Send,
{
    if !r.connected() {
        return Pushed::Gone;
    }
    r.do_send(m);
    Pushed::Delivered
}

impl Engine {
    /// A fresh address for a socket of this node (its session actor takes it when
    /// built, and registers its recipient under it when it starts).
    pub fn new_session(&self) -> SessionRef {
        SessionRef {
            node: self.cluster().map(|c| c.driver.node().clone()),
            id: self.next_session_id(),
        }
    }

    /// Puts a chat socket in the table under `session` (from [`Engine::new_session`]).
    pub fn register_chat_session(&self, session: &SessionRef, r: Recipient<ChatPush>) {
        self.register_session(session, Sink::Chat(r));
    }

    /// Puts an agent socket in the table under `session`.
    pub fn register_agent_session(&self, session: &SessionRef, r: Recipient<AgentPush>) {
        self.register_session(session, Sink::Agent(r));
    }

    /// Puts a supervisor socket in the table under `session`.
    pub fn register_supervisor_session(&self, session: &SessionRef, r: Recipient<SupervisorPush>) {
        self.register_session(session, Sink::Supervisor(r));
    }

    fn register_session(&self, session: &SessionRef, sink: Sink) {
        debug_assert!(
            matches!(self.where_is(session), Place::Here),
            "a session registers under a ref of this node"
        );
        self.sessions.0.insert(session.id, sink);
    }

    /// Takes a stopped socket out of the table: pushes to it answer `Gone` from now on.
    pub fn unregister_session(&self, id: u64) {
        self.sessions.0.remove(&id);
    }

    /// Pushes a notice to a chat socket (see the module doc for `gone`).
    pub fn push_chat(
        &self,
        to: &SessionRef,
        notice: ChatNotice,
        gone: impl FnOnce() + 'static,
    ) -> Pushed {
        self.push(to, Push::Chat(ChatPush(notice)), gone, || {})
    }

    /// Pushes a notice to an agent socket; `lost` is called when it was for a socket
    /// on another node and did not get there (refused, past its deadline), so the
    /// agent's actor can make the socket whole again.
    pub fn push_agent(
        &self,
        to: &SessionRef,
        notice: AgentNotice,
        gone: impl FnOnce() + 'static,
        lost: impl FnOnce() + 'static,
    ) -> Pushed {
        self.push(to, Push::Agent(AgentPush(notice)), gone, lost)
    }

    /// Pushes to a supervisor socket: a `Msg` is dropped (`Full`) when the socket's
    /// mailbox is full, a `Close` never is.
    pub fn push_supervisor(
        &self,
        to: &SessionRef,
        push: SupervisorPush,
        gone: impl FnOnce() + 'static,
    ) -> Pushed {
        self.push(to, Push::Supervisor(push), gone, || {})
    }

    /// Whether `session` may still be open: false once it is known gone (one of this
    /// node's that left the table or closed); a session elsewhere is assumed open until
    /// a push finds it gone.
    pub fn session_alive(&self, session: &SessionRef) -> bool {
        match self.where_is(session) {
            Place::Here => self.sessions.open(session.id),
            Place::There(..) => true,
            Place::Nowhere => false,
        }
    }

    fn where_is(&self, session: &SessionRef) -> Place {
        let Some(node) = &session.node else {
            return Place::Here;
        };
        match self.cluster() {
            Some(c) if c.driver.node() == node => Place::Here,
            Some(c) if c.node_name() != node.name => Place::There(c.clone(), node.clone()),
            _ => Place::Nowhere,
        }
    }

    fn push(
        &self,
        to: &SessionRef,
        push: Push,
        gone: impl FnOnce() + 'static,
        lost: impl FnOnce() + 'static,
    ) -> Pushed {
        let (cluster, node) = match self.where_is(to) {
            Place::Here => return self.sessions.deliver(to.id, push),
            Place::Nowhere => return Pushed::Gone,
            Place::There(cluster, node) => (cluster, node),
        };
        let key = Cluster::node_key(&node.name);
        let msg = SessionPush {
            session: to.clone(),
            push,
        };
        actix_rt::spawn(async move {
            match cluster.peers.ask(&key, &msg, PUSH_TIMEOUT).await {
                Ok(Pushed::Gone) | Err(SendError::Unowned { .. }) => gone(),
                Ok(_) => {}
                // Counted with every node-to-node message's outcome.
                Err(e) => {
                    tracing::debug!(
                        session = msg.session.id,
                        node = %node,
                        error = %e,
                        "push to another node lost"
                    );
                    lost();
                }
            }
        });
        Pushed::Forwarded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A socket's stand-in: keeps what it is pushed.
    struct Socket<M>(Arc<Mutex<Vec<M>>>);

    impl<M: Unpin + 'static> Actor for Socket<M> {
        type Context = Context<Self>;
        fn started(&mut self, ctx: &mut Context<Self>) {
            ctx.set_mailbox_capacity(1);
        }
    }

    impl<M> Handler<M> for Socket<M>
    where
        M: Message<Result = ()> + Send + Unpin + 'static,
    {
        type Result = ();
        fn handle(&mut self, msg: M, _: &mut Context<Self>) {
            self.0.lock().unwrap().push(msg);
        }
    }

    fn socket<M>() -> (Addr<Socket<M>>, Arc<Mutex<Vec<M>>>)
    where
        M: Message<Result = ()> + Send + Unpin + 'static,
    {
        let got = Arc::new(Mutex::new(Vec::new()));
        (Socket(got.clone()).start(), got)
    }

    /// A directory removed when the test ends.
    struct TempDir(std::path::PathBuf);

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn engine() -> (Engine, TempDir) {
        let dir = TempDir(
            std::env::temp_dir().join(format!("switchboard-sessions-{}", uuid::Uuid::new_v4())),
        );
        let store = store::embedded::EmbeddedStore::open(&dir.0, Default::default()).unwrap();
        let engine = Engine::new(
            Arc::new(store),
            Arc::new(crate::domain::SystemClock),
            Arc::new(crate::settings::EngineSettings {
                actor_threads: 1,
                ..Default::default()
            }),
            crate::auth::TokenSigner::new([7; 32]),
            crate::tombstones::TombstoneKey::new([9; 32]),
        );
        (engine, dir)
    }

    fn never() -> impl FnOnce() + 'static {
        || panic!("no remote push here")
    }

    async fn settle() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    #[actix_rt::test]
    async fn a_registered_session_gets_its_pushes_until_it_unregisters() {
        let (engine, _dir) = engine();
        let (addr, got) = socket::<ChatPush>();
        let me = engine.new_session();
        assert_eq!(me.node, None, "no cluster: every session is here");
        engine.register_chat_session(&me, addr.recipient());
        assert!(engine.session_alive(&me));
        assert_eq!(
            engine.push_chat(&me, ChatNotice::AgentTyping, never()),
            Pushed::Delivered
        );
        settle().await;
        assert_eq!(got.lock().unwrap().len(), 1);

        engine.unregister_session(me.id);
        assert!(!engine.session_alive(&me));
        assert_eq!(
            engine.push_chat(&me, ChatNotice::AgentTyping, never()),
            Pushed::Gone
        );
        settle().await;
        assert_eq!(got.lock().unwrap().len(), 1);
        // Ids are not reused.
        assert_ne!(engine.new_session().id, me.id);
    }

    #[actix_rt::test]
    async fn a_stopped_socket_or_a_push_of_another_kind_is_gone() {
        let (engine, _dir) = engine();
        let thread = actix::Arbiter::new();
        let got = Arc::new(Mutex::new(Vec::<AgentPush>::new()));
        let addr = Socket::start_in_arbiter(&thread.handle(), {
            let got = got.clone();
            move |_| Socket(got)
        });
        let me = engine.new_session();
        engine.register_agent_session(&me, addr.recipient());
        assert_eq!(
            engine.push_chat(&me, ChatNotice::AgentTyping, never()),
            Pushed::Gone,
            "a chat push to an agent socket"
        );
        let pong = || AgentNotice::Pong { nonce: None };
        assert_eq!(
            engine.push_agent(&me, pong(), never(), never()),
            Pushed::Delivered
        );
        // Its thread ended without it unregistering: the closed mailbox says gone.
        thread.stop();
        thread.join().unwrap();
        assert!(!engine.session_alive(&me));
        assert_eq!(
            engine.push_agent(&me, pong(), never(), never()),
            Pushed::Gone
        );
    }

    #[actix_rt::test]
    async fn a_full_supervisor_socket_drops_messages_but_not_the_close() {
        let (engine, _dir) = engine();
        let (addr, got) = socket::<SupervisorPush>();
        let me = engine.new_session();
        engine.register_supervisor_session(&me, addr.recipient());
        settle().await; // started: its mailbox holds one message
        let msg = || {
            SupervisorPush::Msg(Box::new(SupervisorNotice::Delta {
                seq: 1,
                server_time: crate::domain::Millis(0),
                queues: vec![],
                agents: vec![],
            }))
        };
        assert_eq!(
            engine.push_supervisor(&me, msg(), never()),
            Pushed::Delivered
        );
        assert_eq!(engine.push_supervisor(&me, msg(), never()), Pushed::Full);
        let close = SupervisorPush::Close("too slow".into());
        assert_eq!(
            engine.push_supervisor(&me, close, never()),
            Pushed::Delivered
        );
        settle().await;
        let got = got.lock().unwrap();
        assert_eq!(got.len(), 2, "the message that fitted, then the close");
        assert!(matches!(got[1], SupervisorPush::Close(_)));
    }

    #[test]
    fn a_session_push_is_plain_json() {
        let push = SessionPush {
            session: SessionRef {
                node: Some(NodeId {
                    name: "a".into(),
                    incarnation: 3,
                }),
                id: 42,
            },
            push: Push::Chat(ChatPush(ChatNotice::AgentTyping)),
        };
        let json = serde_json::to_value(&push).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "session": {"node": {"name": "a", "incarnation": 3}, "id": 42},
                "push": {"Chat": "AgentTyping"},
            })
        );
        let back: SessionPush = serde_json::from_value(json).unwrap();
        assert_eq!(back.session, push.session);
        assert_eq!(serde_json::to_value(Pushed::Gone).unwrap(), "gone");
    }
}
