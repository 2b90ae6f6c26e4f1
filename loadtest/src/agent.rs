//! One simulated agent: a task owning one `/ws/agent` socket. It sets itself available,
//! accepts every offer at once, records time-to-offer / time-to-assigned from the
//! opening message's stamp, records customer → agent latency for every `message_in`
//! event, and replies to every Nth message with a stamped reply.
//!
//! Offers and conversations that do not carry this run's stamp (left over from an
//! earlier run against the same engine) are accepted and resolved, so they stop taking
//! capacity, and counted as "stale".
//!
//! The socket opens on the agent's home node of the [`NodeSet`], or the next one that
//! accepts it. Without [`Resilience`] (`messages`) a socket that ends is a harness
//! error and the task stops. With it (`failover`) the agent reconnects to any node
//! that accepts it (logging in there again, or with its token: [`AgentReconnect`];
//! with backoff, bounded), takes the held
//! conversations of the new `welcome` back (also of one on the open socket, which
//! followed the agent's actor to another node), and records every delivery — live, or
//! in a `welcome`'s conversation view — in the run's ledger.

use crate::client::{joined, next_frame, Client, Session};
use crate::clock;
use crate::failover::ledger::{Delivery, MsgKey, Via};
use crate::failover::{AgentReconnect, Resilience};
use crate::frames::{code_name, read, resolve, set_status, to_text};
use crate::messages::Phase;
use crate::net::{Api, Conn};
use crate::nodes::{NodeSet, Role};
use crate::stamp::{Kind, Stamp};
use crate::stats::{record_since, Shared};
use anyhow::{bail, Context, Result};
use protocol::{
    AgentClientMsg, AgentServerMsg, ConversationId, ConversationView, EventKind, OfferView,
    RequestedStatus, TimelineEvent,
};
use rand::{Rng, SeedableRng};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

/// Settings common to every agent task.
#[derive(Debug, Clone, Copy)]
pub struct AgentCfg {
    /// Reply to messages whose sequence number is a multiple of this (0: never).
    pub reply_every: u64,
    /// Minimum reply text size, bytes.
    pub text_bytes: usize,
}

/// A conversation this agent holds for this run.
struct Held {
    customer: u32,
    last_seq: u64,
}

pub struct Agent {
    id: String,
    /// The login token: a reconnect may use it again.
    token: String,
    /// The socket; `None` while reconnecting (only with `resilience`).
    conn: Option<Conn>,
    /// The node the socket is on.
    node: usize,
    /// When the socket was opened ([`clock`] ns): tells deliveries from the engine that
    /// took over from those of the one that died.
    conn_opened: u64,
    nodes: Arc<NodeSet>,
    /// Reconnect instead of failing when the socket ends (`failover`).
    resilience: Option<Arc<Resilience>>,
    /// The reconnection under way.
    reconnecting: Option<JoinHandle<Result<Session<Welcome>>>>,
    shared: Arc<Shared>,
    cfg: AgentCfg,
    /// Task number, for the histogram shard.
    task: usize,
    /// Offers accepted, by conversation: (customer index, opening send time).
    offered: HashMap<ConversationId, (u32, u64)>,
    /// Offers accepted that are not this run's.
    stale_offers: HashSet<ConversationId>,
    held: HashMap<ConversationId, Held>,
    /// Conversations left over from earlier runs, being resolved.
    stale: HashSet<ConversationId>,
    available: bool,
    stopping: bool,
    writer_failed: bool,
    /// Held conversations and offers from the welcome, handled when the task starts.
    welcome_conversations: Vec<ConversationView>,
    welcome_offers: Vec<OfferView>,
    /// Send times of measured replies not yet acknowledged, by `client_msg_id`.
    unacked: HashMap<String, u64>,
}

/// What an agent's `welcome` brings: the conversations it holds, the offers open to it.
pub struct Welcome {
    conversations: Vec<ConversationView>,
    offers: Vec<OfferView>,
}

/// Opens agent `id`'s socket on node `node` with `token` and waits for `welcome`.
async fn open_session(
    nodes: &NodeSet,
    node: usize,
    id: &str,
    token: &str,
) -> Result<Session<Welcome>> {
    let ws_base = &nodes.node(node).ws;
    let mut conn = Conn::connect(&format!("{ws_base}/ws/agent?token={token}"))
        .await
        .with_context(|| format!("agent {id}"))?;
    let first = conn
        .first_text(Duration::from_secs(30))
        .await
        .with_context(|| format!("agent {id}: waiting for welcome"))?;
    let (conversations, offers) = match read::<AgentServerMsg>(&first) {
        Ok(Some(AgentServerMsg::Welcome {
            conversations,
            offers,
            ..
        })) => (conversations, offers),
        Ok(Some(AgentServerMsg::Error(e))) => bail!(
            "agent {id}: error {} instead of welcome: {}",
            code_name(e.code),
            e.message
        ),
        _ => bail!("agent {id}: expected welcome, got {first}"),
    };
    Ok(Session {
        node,
        conn,
        opened: clock::now_ns(),
        welcome: Welcome {
            conversations,
            offers,
        },
    })
}

impl Agent {
    /// Connects agent `id` (agent number `task`) with its login token on its home node,
    /// or the next node that accepts it, and waits for `welcome`.
    pub async fn connect(
        nodes: Arc<NodeSet>,
        task: usize,
        id: String,
        token: &str,
        shared: Arc<Shared>,
        cfg: AgentCfg,
        resilience: Option<Arc<Resilience>>,
    ) -> Result<Agent> {
        let home = nodes.home(Role::Agent, task);
        let (node, session) = nodes
            .one_round(home, |i| open_session(&nodes, i, &id, token))
            .await?;
        let agent = Agent {
            id,
            token: token.to_owned(),
            conn: Some(session.conn),
            node,
            conn_opened: session.opened,
            nodes,
            resilience,
            reconnecting: None,
            shared,
            cfg,
            task,
            offered: HashMap::new(),
            stale_offers: HashSet::new(),
            held: HashMap::new(),
            stale: HashSet::new(),
            available: false,
            stopping: false,
            writer_failed: false,
            welcome_conversations: session.welcome.conversations,
            welcome_offers: session.welcome.offers,
            unacked: HashMap::new(),
        };
        agent.client().opened(agent.node, agent.conn_opened, false);
        agent
            .shared
            .sites
            .agent(task as u32, agent.id.clone(), agent.node);
        Ok(agent)
    }

    /// This agent, as the records of its sockets know it.
    fn client(&self) -> Client<'_> {
        Client {
            role: Role::Agent,
            idx: self.task as u32,
            nodes: &self.nodes,
            shared: &self.shared,
            resilience: self.resilience.as_deref(),
        }
    }

    /// Runs until the phase becomes [`Phase::Stop`] (or the socket fails).
    pub async fn run(mut self, mut phase: watch::Receiver<Phase>) {
        for c in std::mem::take(&mut self.welcome_conversations) {
            self.on_assigned(c).await;
        }
        for o in std::mem::take(&mut self.welcome_offers) {
            self.on_offer(o).await;
        }
        self.send(&set_status(RequestedStatus::Available)).await;
        loop {
            tokio::select! {
                frame = next_frame(&mut self.conn) => match frame {
                    Some(Ok(text)) => self.on_frame(&text).await,
                    Some(Err(e)) => {
                        if self.socket_ended(format!("{e:#}")) {
                            break;
                        }
                    }
                    None => {
                        if self.socket_ended("socket ended".into()) {
                            break;
                        }
                    }
                },
                done = joined(&mut self.reconnecting) => {
                    if !self.reconnected(done).await {
                        break;
                    }
                }
                changed = phase.changed() => {
                    if changed.is_err() || *phase.borrow_and_update() == Phase::Stop {
                        break;
                    }
                }
            }
        }
        self.finish().await
    }

    /// Goes away, resolves what it holds, closes the socket.
    async fn finish(mut self) {
        self.stopping = true;
        if let Some(r) = self.reconnecting.take() {
            r.abort();
        }
        self.send(&set_status(RequestedStatus::Away)).await;
        let convs: Vec<ConversationId> =
            self.held.keys().chain(self.stale.iter()).copied().collect();
        for c in convs {
            self.send(&resolve(c)).await;
        }
        if let Some(conn) = self.conn.take() {
            self.nodes.node(self.node).tally.closed(Role::Agent);
            conn.close().await;
        }
    }

    /// The socket ended (`detail` says how). Returns whether the task stops: when the
    /// run is stopping, or without resilience (a harness error then); otherwise a
    /// reconnection starts.
    fn socket_ended(&mut self, detail: String) -> bool {
        if self.stopping() {
            return true;
        }
        let Some(r) = self.resilience.clone() else {
            self.shared.harness_error(
                "agent_socket_failed",
                format!("agent {}: {detail}", self.id),
            );
            return true;
        };
        r.ledger
            .dropped(Role::Agent, self.task as u32, clock::now_ns());
        self.nodes.node(self.node).tally.closed(Role::Agent);
        if let Some(conn) = self.conn.take() {
            conn.abandon();
        }
        self.writer_failed = false;
        let (nodes, id, token) = (Arc::clone(&self.nodes), self.id.clone(), self.token.clone());
        let first = nodes.after(self.node);
        self.reconnecting = Some(tokio::spawn(async move {
            let mut rng = rand::rngs::SmallRng::from_entropy();
            let (nodes, id, token, r) = (&nodes, &id, &token, &r);
            let (_, session) = nodes
                .until_connected(
                    first,
                    r.backoff,
                    || rng.gen::<f64>(),
                    |i| async move {
                        let fresh;
                        let token = match r.agent_reconnect {
                            AgentReconnect::Token => token,
                            AgentReconnect::Login => {
                                fresh = Api::new(&nodes.node(i).http)?
                                    .login(id, &r.agent_password)
                                    .await?;
                                &fresh
                            }
                        };
                        open_session(nodes, i, id, token).await
                    },
                )
                .await?;
            Ok(session)
        }));
        false
    }

    /// A reconnection finished: the held conversations and offers of the new `welcome`
    /// are taken back. Returns whether the task goes on.
    async fn reconnected(
        &mut self,
        done: Result<Result<Session<Welcome>>, tokio::task::JoinError>,
    ) -> bool {
        self.reconnecting = None;
        let Some(session) = self
            .client()
            .reconnected(done, format_args!("agent {}", self.id))
        else {
            return false;
        };
        self.node = session.node;
        self.conn_opened = session.opened;
        self.conn = Some(session.conn);
        for c in session.welcome.conversations {
            self.on_assigned(c).await;
        }
        for o in session.welcome.offers {
            self.on_offer(o).await;
        }
        self.send(&set_status(RequestedStatus::Available)).await;
        true
    }

    /// Records in the ledger the run's customer messages a conversation view lists
    /// (a `welcome` after a reconnect shows what arrived while the agent was away).
    fn record_view(&self, conv: &ConversationView) {
        let Some(r) = &self.resilience else {
            return;
        };
        let at = clock::now_ns();
        for e in conv
            .recent
            .iter()
            .filter(|e| e.conversation_id.is_none_or(|id| id == conv.id))
        {
            if let EventKind::MessageIn { text, .. } = &e.kind {
                if let Some(s) = self.our_stamp(Some(text), Kind::Msg) {
                    r.ledger.delivered(Delivery {
                        agent: self.task as u32,
                        key: MsgKey {
                            customer: s.customer,
                            seq: s.seq,
                        },
                        event: e.id,
                        via: Via::Welcome,
                        at,
                        conn_opened: self.conn_opened,
                    });
                }
            }
        }
    }

    /// Whether this task or the whole run is stopping: endings are expected then.
    fn stopping(&self) -> bool {
        self.stopping || self.shared.is_stopping()
    }

    /// Writes a frame; without a socket (reconnecting) it is dropped: what an agent
    /// sends (accept, status, resolve) is re-derived from the next `welcome`.
    async fn send(&mut self, msg: &AgentClientMsg) {
        let Some(conn) = &self.conn else {
            return;
        };
        if conn.tx.send(Message::Text(to_text(msg))).await.is_err() && !self.writer_failed {
            self.writer_failed = true;
            // With resilience the reader sees the end too, and reconnects.
            if !self.stopping() && self.resilience.is_none() {
                self.shared.harness_error(
                    "agent_socket_failed",
                    format!("agent {}: writer stopped", self.id),
                );
            }
        }
    }

    async fn on_frame(&mut self, text: &str) {
        let msg = match read::<AgentServerMsg>(text) {
            Ok(Some(m)) => m,
            Ok(None) => return,
            Err(e) => {
                return self.shared.harness_error(
                    "unparsable_frame",
                    format!("agent {}: {e}: {text:.200}", self.id),
                )
            }
        };
        let c = &self.shared.counters;
        match msg {
            AgentServerMsg::Status { status, reason } => {
                if status == "available" {
                    if !self.available {
                        self.available = true;
                        c.agents_ready.inc();
                    }
                } else if self.available && !self.stopping() {
                    self.shared.harness_error(
                        "agent_not_available",
                        format!(
                            "agent {}: status {status} ({})",
                            self.id,
                            reason.unwrap_or_default()
                        ),
                    );
                }
            }
            AgentServerMsg::Offer(o) => self.on_offer(o).await,
            // A `welcome` on an open socket: it followed the agent's actor to another
            // node (docs/cluster.md), and the new one lists the held conversations and
            // offers whole, as after a reconnect; the agent sets itself available again.
            AgentServerMsg::Welcome {
                conversations,
                offers,
                ..
            } => {
                for conv in conversations {
                    self.on_assigned(conv).await;
                }
                for o in offers {
                    self.on_offer(o).await;
                }
                self.send(&set_status(RequestedStatus::Available)).await;
            }
            AgentServerMsg::OfferRevoked {
                conversation_id,
                outcome,
                offer_id,
            } => {
                c.offers_revoked.inc();
                self.stale_offers.remove(&conversation_id);
                if self.offered.remove(&conversation_id).is_some() {
                    self.shared.harness_error(
                        "offer_revoked",
                        format!("agent {}: offer {offer_id} {outcome}", self.id),
                    );
                }
            }
            AgentServerMsg::ConversationAssigned { conversation } => {
                self.on_assigned(conversation).await
            }
            AgentServerMsg::Event {
                conversation_id,
                event,
            } => self.on_event(conversation_id, event).await,
            AgentServerMsg::Ack {
                duplicate,
                client_msg_id,
                ..
            } => {
                c.a2c_acked.inc();
                if let Some(sent) = self.unacked.remove(&client_msg_id) {
                    record_since(&mut self.shared.hists(self.task).a2c_ack, sent);
                }
                if duplicate {
                    c.duplicate_acks.inc();
                }
            }
            AgentServerMsg::ConversationUpdated {
                conversation_id,
                state,
                held: false,
            } => {
                self.stale.remove(&conversation_id);
                if self.held.remove(&conversation_id).is_some() && !self.stopping() {
                    self.shared.harness_error(
                        "conversation_lost",
                        format!(
                            "agent {}: conversation {conversation_id} left ({})",
                            self.id,
                            state.as_str()
                        ),
                    );
                }
            }
            AgentServerMsg::Error(e) => {
                if let Some(r) = &self.resilience {
                    r.ledger.error(clock::now_ns());
                }
                self.shared.engine_error(
                    &format!("agent {}", self.id),
                    &code_name(e.code),
                    &e.message,
                    e.reference.as_deref(),
                )
            }
            // `customer_typing`, `pong`, `reconnect` (the socket closes next)...
            _ => {}
        }
    }

    fn our_stamp(&self, text: Option<&str>, kind: Kind) -> Option<Stamp> {
        text.and_then(Stamp::parse)
            .filter(|s| s.run == self.shared.run && s.kind == kind)
    }

    async fn on_offer(&mut self, o: OfferView) {
        match self.our_stamp(o.preview.as_deref(), Kind::Open) {
            Some(s) => {
                self.shared.counters.offered.inc();
                record_since(&mut self.shared.hists(self.task).offer, s.sent_ns);
                self.offered
                    .insert(o.conversation_id, (s.customer, s.sent_ns));
            }
            None => {
                self.stale_offers.insert(o.conversation_id);
            }
        }
        self.send(&AgentClientMsg::Accept {
            offer_id: o.offer_id,
        })
        .await;
    }

    async fn on_assigned(&mut self, conv: ConversationView) {
        self.record_view(&conv);
        if self.held.contains_key(&conv.id) {
            // Listed again by the welcome of a reconnected socket.
            return;
        }
        let c = &self.shared.counters;
        if let Some((customer, open_ns)) = self.offered.remove(&conv.id) {
            c.assigned.inc();
            record_since(&mut self.shared.hists(self.task).assigned, open_ns);
            self.held.insert(
                conv.id,
                Held {
                    customer,
                    last_seq: 0,
                },
            );
            return;
        }
        self.stale_offers.remove(&conv.id);
        // Not offered in this session: this run's (a resumed socket) or an old run's.
        let ours = conv
            .recent
            .iter()
            .filter(|e| e.conversation_id.is_none_or(|id| id == conv.id))
            .find_map(|e| match &e.kind {
                EventKind::MessageIn { text, .. } => {
                    Stamp::parse(text).filter(|s| s.run == self.shared.run)
                }
                _ => None,
            });
        match ours {
            Some(s) => {
                c.assigned.inc();
                self.held.insert(
                    conv.id,
                    Held {
                        customer: s.customer,
                        last_seq: 0,
                    },
                );
            }
            None => {
                c.stale.inc();
                self.send(&resolve(conv.id)).await;
                self.stale.insert(conv.id);
            }
        }
    }

    async fn on_event(&mut self, conversation_id: ConversationId, event: TimelineEvent) {
        // The agent's own replies come back as `message_out`; only customer messages count.
        let EventKind::MessageIn { text, .. } = &event.kind else {
            return;
        };
        let Some(s) = self.our_stamp(Some(text), Kind::Msg) else {
            return;
        };
        if let Some(r) = &self.resilience {
            r.ledger.delivered(Delivery {
                agent: self.task as u32,
                key: MsgKey {
                    customer: s.customer,
                    seq: s.seq,
                },
                event: event.id,
                via: Via::Live,
                at: clock::now_ns(),
                conn_opened: self.conn_opened,
            });
        }
        let shared = Arc::clone(&self.shared);
        let c = &shared.counters;
        let reply =
            self.cfg.reply_every > 0 && s.seq % self.cfg.reply_every == 0 && !self.stopping();
        let reply_ns = clock::now_ns();
        // Count the reply as sent before counting this message as received, so the drain
        // never sees "all received" while a reply is still to be counted.
        if reply {
            c.a2c_sent.inc();
            if shared.in_window(reply_ns) {
                c.a2c_measured_sent.inc();
            }
        }
        c.c2a_received.inc();
        if shared.in_window(s.sent_ns) {
            record_since(&mut shared.hists(self.task).c2a, s.sent_ns);
            let ns = clock::now_ns().saturating_sub(s.sent_ns);
            shared.sites.sample(s.customer, self.task as u32, ns);
            c.c2a_measured_received.inc();
        }
        match self.held.get_mut(&conversation_id) {
            Some(h) => {
                if h.customer != s.customer {
                    shared.harness_error(
                        "misrouted",
                        format!(
                            "agent {}: customer {}'s message in customer {}'s conversation",
                            self.id, s.customer, h.customer
                        ),
                    );
                }
                if s.seq <= h.last_seq {
                    c.out_of_order.inc();
                } else {
                    h.last_seq = s.seq;
                }
            }
            None => shared.harness_error(
                "event_for_unknown_conversation",
                format!("agent {}: conversation {conversation_id}", self.id),
            ),
        }
        if reply {
            let text = Stamp {
                run: shared.run,
                kind: Kind::Reply,
                customer: s.customer,
                seq: s.seq,
                sent_ns: reply_ns,
            }
            .text(self.cfg.text_bytes);
            let client_msg_id = uuid::Uuid::new_v4().to_string();
            if shared.in_window(reply_ns) {
                self.unacked.insert(client_msg_id.clone(), reply_ns);
            }
            self.send(&AgentClientMsg::Message {
                conversation_id,
                client_msg_id,
                text,
                channel: None,
                template: None,
                files: Vec::new(),
            })
            .await;
        }
    }
}
