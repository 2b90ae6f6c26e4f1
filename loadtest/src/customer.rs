//! One simulated web-chat customer: a task owning one `/ws/chat` socket. It sends one
//! stamped opening message when the phase becomes [`Phase::Open`], then, during
//! [`Phase::Load`], one stamped message per tick of its own interval (its share of the
//! aggregate rate, offset so all customers together send evenly), and records
//! agent → customer latency for every stamped reply (`message_out` event).
//!
//! The socket opens on the customer's home node of the [`NodeSet`], or the next one
//! that accepts it. Without [`Resilience`] (`messages`) a socket that ends is a
//! harness error and the task stops. With it (`failover`) the customer behaves as the
//! web client does: it keeps every message until its `ack`; when the socket drops it
//! reconnects with its visitor token to any node that accepts it (backoff, bounded)
//! and writes again every message not yet acknowledged, with the same `client_msg_id`
//! and text; messages due while it is offline wait for the new socket; a message
//! answered `busy` or `unavailable` is written again after a short wait. Every send,
//! resend, ack and error goes into the run's ledger.

use crate::client::{joined, next_frame, Client, Session};
use crate::clock;
use crate::failover::ledger::{Ack, MsgKey};
use crate::failover::Resilience;
use crate::frames::{code_name, read, to_text};
use crate::messages::Phase;
use crate::net::Conn;
use crate::nodes::{NodeSet, Role};
use crate::stamp::{Kind, Stamp};
use crate::stats::{record_ns, record_since, Shared};
use anyhow::{bail, Context, Result};
use protocol::{ChatClientMsg, ChatServerMsg, ConversationState, ErrorCode, EventKind};
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Instant, Interval, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message;

/// Settings common to every customer task.
#[derive(Debug, Clone, Copy)]
pub struct CustomerCfg {
    pub customers: u32,
    /// Each customer's interval between load messages (`customers / rate`).
    pub period: Duration,
    /// Opening messages per second across all customers (0: all at once).
    pub open_rate: f64,
    /// Minimum message text size, bytes.
    pub text_bytes: usize,
}

/// A message written (or due) and not yet acknowledged.
struct Pending {
    client_msg_id: String,
    text: String,
    /// Written on the current socket (false: due while offline, or refused `busy`).
    written: bool,
    /// Written at least once on some socket.
    ever_written: bool,
}

/// Opens customer `idx`'s chat socket on node `node` (as a new visitor, or resuming
/// `token`) and waits for `welcome`. The session's welcome is the visitor token: it
/// resumes the same customer and conversation.
async fn open_chat(
    nodes: &NodeSet,
    node: usize,
    idx: u32,
    token: Option<&str>,
) -> Result<Session<Welcomed>> {
    let ws_base = &nodes.node(node).ws;
    let url = match token {
        Some(t) => format!("{ws_base}/ws/chat?token={t}"),
        None => format!("{ws_base}/ws/chat"),
    };
    let mut conn = Conn::connect(&url)
        .await
        .with_context(|| format!("customer {idx}"))?;
    let first = conn
        .first_text(Duration::from_secs(30))
        .await
        .with_context(|| format!("customer {idx}: waiting for welcome"))?;
    let token = match read::<ChatServerMsg>(&first) {
        Ok(Some(ChatServerMsg::Welcome {
            token, customer_id, ..
        })) => Welcomed {
            token,
            customer: customer_id.to_string(),
        },
        Ok(Some(ChatServerMsg::Error(e))) => bail!(
            "customer {idx}: error {} instead of welcome: {}",
            code_name(e.code),
            e.message
        ),
        _ => bail!("customer {idx}: expected welcome, got {first}"),
    };
    Ok(Session {
        node,
        conn,
        opened: clock::now_ns(),
        welcome: token,
    })
}

/// What a chat `welcome` gives the harness: the visitor token (it resumes the same
/// customer and conversation) and the customer's id.
struct Welcomed {
    token: String,
    customer: String,
}

/// The `client_msg_id` of customer `idx`'s message `seq` in run `run` (0: the opening
/// message). Unique per run, and readable back by [`seq_of`].
fn msg_id(run: u32, idx: u32, seq: u64) -> String {
    format!("lt-{run:08x}-{idx}-{seq}")
}

/// The sequence number in a [`msg_id`].
fn seq_of(client_msg_id: &str) -> Option<u64> {
    client_msg_id.rsplit('-').next()?.parse().ok()
}

pub struct Customer {
    idx: u32,
    /// The socket; `None` while reconnecting (only with `resilience`).
    conn: Option<Conn>,
    /// The node the socket is on.
    node: usize,
    /// When the socket was opened ([`clock`] ns): tells acks of the engine that took
    /// over from those of the one that died.
    conn_opened: u64,
    /// The visitor token from the first `welcome`.
    token: String,
    nodes: Arc<NodeSet>,
    /// Keep unacknowledged messages and reconnect instead of failing (`failover`).
    resilience: Option<Arc<Resilience>>,
    /// The reconnection under way.
    reconnecting: Option<JoinHandle<Result<Session<Welcomed>>>>,
    /// Messages not yet acknowledged, by sequence number (only with `resilience`).
    outbox: BTreeMap<u64, Pending>,
    /// When to write again the messages answered `busy` or `unavailable`.
    retry_at: Option<Instant>,
    shared: Arc<Shared>,
    cfg: CustomerCfg,
    /// Task number, for the histogram shard.
    task: usize,
    seq: u64,
    /// Send times of measured messages not yet acknowledged, by sequence number.
    unacked: HashMap<u64, u64>,
    open_msg_id: Option<String>,
    stopping: bool,
    writer_failed: bool,
}

impl Customer {
    /// Connects customer `idx` as a new visitor on its home node, or the next node
    /// that accepts it, and waits for `welcome`.
    pub async fn connect(
        nodes: Arc<NodeSet>,
        task: usize,
        idx: u32,
        shared: Arc<Shared>,
        cfg: CustomerCfg,
        resilience: Option<Arc<Resilience>>,
    ) -> Result<Customer> {
        let home = nodes.home(Role::Customer, idx as usize);
        let (node, session) = nodes
            .one_round(home, |i| open_chat(&nodes, i, idx, None))
            .await?;
        let session_customer = session.welcome.customer.clone();
        let customer = Customer {
            idx,
            conn: Some(session.conn),
            node,
            conn_opened: session.opened,
            token: session.welcome.token,
            nodes,
            resilience,
            reconnecting: None,
            outbox: BTreeMap::new(),
            retry_at: None,
            shared,
            cfg,
            task,
            seq: 0,
            unacked: HashMap::new(),
            open_msg_id: None,
            stopping: false,
            writer_failed: false,
        };
        customer
            .client()
            .opened(customer.node, customer.conn_opened, false);
        customer
            .shared
            .sites
            .customer(idx, session_customer, customer.node);
        customer.shared.counters.customers_connected.inc();
        Ok(customer)
    }

    /// This customer, as the records of its sockets know it.
    fn client(&self) -> Client<'_> {
        Client {
            role: Role::Customer,
            idx: self.idx,
            nodes: &self.nodes,
            shared: &self.shared,
            resilience: self.resilience.as_deref(),
        }
    }

    /// Runs until [`Phase::Stop`].
    pub async fn run(mut self, mut phase: watch::Receiver<Phase>) {
        let mut open_at: Option<Instant> = None;
        let mut ticker: Option<(Interval, Instant)> = None;
        let mut done_sending = false;
        loop {
            tokio::select! {
                frame = next_frame(&mut self.conn) => match frame {
                    Some(Ok(text)) => self.on_frame(&text),
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
                () = sleep_until(self.retry_at) => {
                    self.retry_at = None;
                    self.write_pending().await;
                }
                changed = phase.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let p = *phase.borrow_and_update();
                    match p {
                        Phase::Setup => {}
                        Phase::Open { at } => {
                            let delay = if self.cfg.open_rate > 0.0 {
                                Duration::from_secs_f64(f64::from(self.idx) / self.cfg.open_rate)
                            } else {
                                Duration::ZERO
                            };
                            open_at = Some(at + delay);
                        }
                        Phase::Load { start, end } => {
                            let offset = self.cfg.period.mul_f64(f64::from(self.idx) / f64::from(self.cfg.customers));
                            let mut i = tokio::time::interval_at(start + offset, self.cfg.period);
                            // Catch up after a stall, so the aggregate rate is kept.
                            i.set_missed_tick_behavior(MissedTickBehavior::Burst);
                            ticker = Some((i, end));
                        }
                        Phase::Stop => break,
                    }
                }
                () = sleep_until(open_at) => {
                    open_at = None;
                    self.open().await;
                }
                t = tick(&mut ticker) => {
                    let end = ticker.as_ref().map(|(_, end)| *end).unwrap_or(t);
                    if t >= end {
                        ticker = None;
                        if !done_sending {
                            done_sending = true;
                            self.shared.counters.customers_done.inc();
                        }
                    } else {
                        self.send_load(t).await;
                    }
                }
            }
        }
        if !done_sending {
            self.shared.counters.customers_done.inc();
        }
        self.stopping = true;
        if let Some(r) = self.reconnecting.take() {
            r.abort();
        }
        self.send(&ChatClientMsg::Leave {}).await;
        if let Some(conn) = self.conn.take() {
            self.nodes.node(self.node).tally.closed(Role::Customer);
            conn.close().await;
        }
    }

    /// The socket ended (`detail` says how). Returns whether the task stops: when the
    /// run is stopping, or without resilience (a harness error then); otherwise a
    /// reconnection starts, with the visitor token.
    fn socket_ended(&mut self, detail: String) -> bool {
        if self.stopping() {
            return true;
        }
        let Some(r) = self.resilience.clone() else {
            self.shared.harness_error(
                "customer_socket_failed",
                format!("customer {}: {detail}", self.idx),
            );
            return true;
        };
        r.ledger.dropped(Role::Customer, self.idx, clock::now_ns());
        self.nodes.node(self.node).tally.closed(Role::Customer);
        if let Some(conn) = self.conn.take() {
            conn.abandon();
        }
        self.writer_failed = false;
        for p in self.outbox.values_mut() {
            p.written = false;
        }
        let (nodes, token, idx) = (Arc::clone(&self.nodes), self.token.clone(), self.idx);
        let first = nodes.after(self.node);
        self.reconnecting = Some(tokio::spawn(async move {
            let mut rng = rand::rngs::SmallRng::from_entropy();
            let (nodes, token) = (&nodes, &token);
            let (_, session) = nodes
                .until_connected(
                    first,
                    r.backoff,
                    || rng.gen::<f64>(),
                    |i| open_chat(nodes, i, idx, Some(token)),
                )
                .await?;
            Ok(session)
        }));
        false
    }

    /// A reconnection finished: every message not yet acknowledged is written again.
    /// Returns whether the task goes on.
    async fn reconnected(
        &mut self,
        done: Result<Result<Session<Welcomed>>, tokio::task::JoinError>,
    ) -> bool {
        self.reconnecting = None;
        let Some(session) = self
            .client()
            .reconnected(done, format_args!("customer {}", self.idx))
        else {
            return false;
        };
        self.node = session.node;
        self.conn_opened = session.opened;
        self.token = session.welcome.token;
        self.conn = Some(session.conn);
        self.write_pending().await;
        true
    }

    /// Writes every unacknowledged message not written on the current socket, oldest
    /// first, with its original `client_msg_id` and text.
    async fn write_pending(&mut self) {
        if self.conn.is_none() {
            return;
        }
        let Some(r) = self.resilience.clone() else {
            return;
        };
        let due: Vec<ChatClientMsg> = self
            .outbox
            .values_mut()
            .filter(|p| !p.written)
            .map(|p| {
                if p.ever_written {
                    r.ledger.resent(clock::now_ns());
                }
                p.written = true;
                p.ever_written = true;
                ChatClientMsg::Message {
                    client_msg_id: p.client_msg_id.clone(),
                    text: p.text.clone(),
                    queue: None,
                    ivr_path: Vec::new(),
                    files: Vec::new(),
                }
            })
            .collect();
        for m in &due {
            self.send(m).await;
        }
    }

    /// Whether this task or the whole run is stopping: endings are expected then.
    fn stopping(&self) -> bool {
        self.stopping || self.shared.is_stopping()
    }

    /// Writes a frame; without a socket (reconnecting) it is dropped (messages wait in
    /// the outbox).
    async fn send(&mut self, msg: &ChatClientMsg) {
        let Some(conn) = &self.conn else {
            return;
        };
        if conn.tx.send(Message::Text(to_text(msg))).await.is_err() && !self.writer_failed {
            self.writer_failed = true;
            // With resilience the reader sees the end too, and reconnects.
            if !self.stopping() && self.resilience.is_none() {
                self.shared.harness_error(
                    "customer_socket_failed",
                    format!("customer {}: writer stopped", self.idx),
                );
            }
        }
    }

    fn stamp(&self, kind: Kind, seq: u64, sent_ns: u64) -> String {
        Stamp {
            run: self.shared.run,
            kind,
            customer: self.idx,
            seq,
            sent_ns,
        }
        .text(self.cfg.text_bytes)
    }

    /// The opening message: it opens the conversation; its stamp (in the offer's
    /// `preview`) gives time-to-offer.
    async fn open(&mut self) {
        let id = msg_id(self.shared.run, self.idx, 0);
        self.open_msg_id = Some(id.clone());
        let text = self.stamp(Kind::Open, 0, clock::now_ns());
        self.send(&ChatClientMsg::Message {
            client_msg_id: id,
            text,
            queue: None,
            ivr_path: Vec::new(),
            files: Vec::new(),
        })
        .await;
    }

    /// One load message, due at `due`.
    async fn send_load(&mut self, due: Instant) {
        self.seq += 1;
        let now = std::time::Instant::now();
        let sent_ns = clock::ns_of(now);
        let c = &self.shared.counters;
        c.c2a_sent.inc();
        if self.shared.in_window(sent_ns) {
            c.c2a_measured_sent.inc();
            self.unacked.insert(self.seq, sent_ns);
            record_ns(
                &mut self.shared.hists(self.task).send_lag,
                u64::try_from(now.saturating_duration_since(due.into_std()).as_nanos())
                    .unwrap_or(u64::MAX),
            );
        }
        let text = self.stamp(Kind::Msg, self.seq, sent_ns);
        let client_msg_id = msg_id(self.shared.run, self.idx, self.seq);
        if let Some(r) = &self.resilience {
            let key = MsgKey {
                customer: self.idx,
                seq: self.seq,
            };
            r.ledger.sent(key, sent_ns);
            let online = self.conn.is_some();
            self.outbox.insert(
                self.seq,
                Pending {
                    client_msg_id: client_msg_id.clone(),
                    text: text.clone(),
                    written: online,
                    ever_written: online,
                },
            );
            if !online {
                return;
            }
        }
        self.send(&ChatClientMsg::Message {
            client_msg_id,
            text,
            queue: None,
            ivr_path: Vec::new(),
            files: Vec::new(),
        })
        .await;
    }

    fn on_frame(&mut self, text: &str) {
        let msg = match read::<ChatServerMsg>(text) {
            Ok(Some(m)) => m,
            Ok(None) => return,
            Err(e) => {
                return self.shared.harness_error(
                    "unparsable_frame",
                    format!("customer {}: {e}: {text:.200}", self.idx),
                )
            }
        };
        let c = &self.shared.counters;
        match msg {
            ChatServerMsg::Ack {
                client_msg_id,
                duplicate,
                event_id,
                ..
            } => {
                if duplicate {
                    c.duplicate_acks.inc();
                }
                if self.open_msg_id.as_deref() == Some(client_msg_id.as_str()) {
                    c.opened.inc();
                } else {
                    c.c2a_acked.inc();
                    if let Some(sent) = seq_of(&client_msg_id).and_then(|q| self.unacked.remove(&q))
                    {
                        record_since(&mut self.shared.hists(self.task).c2a_ack, sent);
                    }
                    if let (Some(r), Some(seq)) = (&self.resilience, seq_of(&client_msg_id)) {
                        self.outbox.remove(&seq);
                        r.ledger.acked(Ack {
                            key: MsgKey {
                                customer: self.idx,
                                seq,
                            },
                            event: event_id,
                            duplicate,
                            at: clock::now_ns(),
                            conn_opened: self.conn_opened,
                        });
                    }
                }
            }
            ChatServerMsg::Event { event } => {
                // The customer's own messages are echoed back as `message_in`; only
                // agent replies are measured.
                let EventKind::MessageOut { text, .. } = &event.kind else {
                    return;
                };
                let Some(s) = Stamp::parse(text)
                    .filter(|s| s.run == self.shared.run && s.kind == Kind::Reply)
                else {
                    return;
                };
                c.a2c_received.inc();
                if s.customer != self.idx {
                    self.shared.harness_error(
                        "misrouted",
                        format!(
                            "customer {} got a reply meant for customer {}",
                            self.idx, s.customer
                        ),
                    );
                }
                if self.shared.in_window(s.sent_ns) {
                    record_since(&mut self.shared.hists(self.task).a2c, s.sent_ns);
                    c.a2c_measured_received.inc();
                }
            }
            ChatServerMsg::Conversation(c)
                if matches!(
                    c.state,
                    ConversationState::Resolved | ConversationState::Abandoned
                ) && !self.stopping() =>
            {
                self.shared.harness_error(
                    "conversation_ended",
                    format!(
                        "customer {}: conversation {} {}",
                        self.idx,
                        c.id,
                        c.state.as_str()
                    ),
                );
            }
            ChatServerMsg::Error(e) => {
                if let Some(r) = &self.resilience {
                    r.ledger.error(clock::now_ns());
                    // Nothing was stored: write it again after a short wait.
                    if matches!(e.code, ErrorCode::Busy | ErrorCode::Unavailable) {
                        let refused = e.reference.as_deref().and_then(seq_of);
                        if let Some(p) = refused.and_then(|seq| self.outbox.get_mut(&seq)) {
                            p.written = false;
                            self.retry_at.get_or_insert(Instant::now() + r.backoff.min);
                        }
                    }
                }
                self.shared.engine_error(
                    &format!("customer {}", self.idx),
                    &code_name(e.code),
                    &e.message,
                    e.reference.as_deref(),
                )
            }
            // `agent_typing`, `pong`, `reconnect` (the socket closes next)...
            _ => {}
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn tick(ticker: &mut Option<(Interval, Instant)>) -> Instant {
    match ticker {
        Some((i, _)) => i.tick().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_read_back() {
        let id = msg_id(0xdead_beef, 42, 7);
        assert_eq!(id, "lt-deadbeef-42-7");
        assert_eq!(seq_of(&id), Some(7));
        assert_eq!(seq_of(&msg_id(1, 0, 0)), Some(0));
        assert_eq!(seq_of("6f3c8a52-3c4e-4c5e-9a43-54f1f0f1a001"), None);
    }
}
