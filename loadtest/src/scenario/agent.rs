//! One scenario agent: a task owning one `/ws/agent` socket at a time. It accepts offers
//! (or rejects one with the scenario's probability), answers every customer message at
//! once with a stamped reply, keeps each conversation for its drawn handle time, then
//! `wrap_up`, waits the wrap-up time and `resolve`s. On its disconnect schedule (and in
//! storms) it drops its socket, stays down, reconnects with the same token and
//! reconciles the resumed `welcome` with what it held.
//!
//! It measures customer → agent latency, routing latency (opening message → `offer`),
//! time to answer, handle time and, for REST-channel customers (who have no socket),
//! agent → customer latency from the echo of its own reply; it tells those REST
//! customer tasks what happened through [`Shared::signal_rest`]. It never decides an
//! arrival's outcome by itself: the ledger does.

use super::config::{Ch, RestReply, Scenario};
use super::shared::{Hists, RestSignal, Shared};
use crate::clock;
use crate::frames::{code_name, read, resolve, set_status, text_of, to_text};
use crate::net::Conn;
use crate::stamp::{Kind, Stamp};
use anyhow::{bail, Context, Result};
use protocol::{
    AgentClientMsg, AgentServerMsg, ConversationId, ConversationView, EventKind, OfferView,
    RequestedStatus,
};
use rand::rngs::SmallRng;
use rand::Rng;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// A held conversation of this run.
struct Conv {
    idx: u32,
    channel: Ch,
    assigned_at: Instant,
    /// Earliest time to start wrap-up (the K replies must also be sent).
    handle_until: Instant,
    /// Customer message sequence numbers received.
    received: BTreeSet<u64>,
    /// Reply echoes seen (REST conversations: that is their delivery).
    echoed: BTreeSet<u64>,
    replies: u64,
    phase: ConvPhase,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ConvPhase {
    Talking,
    WrapUp { until: Instant },
    Resolving,
}

/// A scheduled socket drop: at `at`, down for `down`.
#[derive(Debug, Clone, Copy)]
pub struct SocketDrop {
    pub at: Instant,
    pub down: Duration,
}

pub struct ScnAgent {
    pub id: String,
    ws_url: String,
    shared: Arc<Shared>,
    sc: Arc<Scenario>,
    rng: SmallRng,
    conn: Option<Conn>,
    convs: HashMap<ConversationId, Conv>,
    /// Offers accepted, by conversation: the arrival.
    offers: HashMap<ConversationId, u32>,
    /// Conversations from earlier runs, being resolved.
    stale: HashSet<ConversationId>,
    /// Customer messages that arrived before their `conversation_assigned`.
    early: HashMap<ConversationId, Vec<Stamp>>,
    drops: Vec<SocketDrop>,
    /// Replies written but not yet acknowledged (client_msg_id -> frame): a socket
    /// that drops may lose them, so they are written again after reconnecting (the
    /// engine de-duplicates by client_msg_id).
    unacked: HashMap<String, String>,
    ready: bool,
    stopping: bool,
}

enum Wake {
    Frame(Option<Result<String>>),
    Timer,
    Drop(SocketDrop),
    Stop,
}

impl ScnAgent {
    pub fn new(
        id: String,
        ws_base: &str,
        token: &str,
        shared: Arc<Shared>,
        sc: Arc<Scenario>,
        rng: SmallRng,
        mut drops: Vec<SocketDrop>,
    ) -> ScnAgent {
        drops.sort_by_key(|d| std::cmp::Reverse(d.at));
        ScnAgent {
            id,
            ws_url: format!("{ws_base}/ws/agent?token={token}"),
            shared,
            sc,
            rng,
            conn: None,
            convs: HashMap::new(),
            offers: HashMap::new(),
            stale: HashSet::new(),
            early: HashMap::new(),
            drops,
            unacked: HashMap::new(),
            ready: false,
            stopping: false,
        }
    }

    /// Connects, reads `welcome`, reconciles it, sets itself available.
    pub async fn connect(&mut self) -> Result<()> {
        let mut conn = Conn::connect(&self.ws_url)
            .await
            .with_context(|| format!("agent {}", self.id))?;
        let first = conn
            .first_text(Duration::from_secs(30))
            .await
            .with_context(|| format!("agent {}: waiting for welcome", self.id))?;
        let (conversations, offers) = match read::<AgentServerMsg>(&first) {
            Ok(Some(AgentServerMsg::Welcome {
                conversations,
                offers,
                ..
            })) => (conversations, offers),
            Ok(Some(AgentServerMsg::Error(e))) => bail!(
                "agent {}: error {}: {}",
                self.id,
                code_name(e.code),
                e.message
            ),
            _ => bail!("agent {}: expected welcome, got {first:.200}", self.id),
        };
        self.shared.connection_opened();
        self.conn = Some(conn);
        self.reconcile(conversations, offers).await;
        let resend: Vec<String> = self.unacked.values().cloned().collect();
        for text in resend {
            self.send_text(text).await;
        }
        // A `resolve` written on the socket that dropped may be lost too: the engine
        // still lists the conversation as held, so resolve it again.
        let resolving: Vec<ConversationId> = self
            .convs
            .iter()
            .filter(|(_, c)| c.phase == ConvPhase::Resolving)
            .map(|(id, _)| *id)
            .collect();
        for id in resolving {
            self.send(&resolve(id)).await;
        }
        self.send(&set_status(RequestedStatus::Available)).await;
        Ok(())
    }

    /// Runs until `stop` turns true.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        loop {
            let next_timer = self.next_deadline();
            let next_drop = self.drops.last().copied();
            let wake = {
                let Some(conn) = self.conn.as_mut() else {
                    break;
                };
                tokio::select! {
                    f = Conn::next_text(&mut conn.rx) => Wake::Frame(f),
                    () = sleep_opt(next_timer) => Wake::Timer,
                    () = sleep_opt(next_drop.map(|d| d.at)) => Wake::Drop(next_drop.expect("scheduled")),
                    _ = stop.changed() => Wake::Stop,
                }
            };
            match wake {
                Wake::Frame(Some(Ok(text))) => self.on_frame(&text).await,
                Wake::Frame(other) => {
                    if self.stopping() {
                        break;
                    }
                    let why = match other {
                        Some(Err(e)) => format!("{e:#}"),
                        _ => "socket ended".to_owned(),
                    };
                    self.shared
                        .error("harness:agent_socket_failed", format!("{}: {why}", self.id));
                    self.drop_socket().await;
                    if !self.down_for(Duration::from_secs(1), &mut stop).await {
                        break;
                    }
                }
                Wake::Timer => {}
                Wake::Drop(d) => {
                    self.drops.pop();
                    self.shared.counters.disconnects.inc();
                    self.drop_socket().await;
                    if !self.down_for(d.down, &mut stop).await {
                        break;
                    }
                    self.shared.counters.reconnects.inc();
                }
                Wake::Stop => break,
            }
            if self.conn.is_some() {
                self.on_timers().await;
            }
        }
        self.finish().await;
    }

    /// Stays disconnected for `down`, then reconnects; false when the run stopped.
    async fn down_for(&mut self, down: Duration, stop: &mut watch::Receiver<bool>) -> bool {
        tokio::select! {
            () = tokio::time::sleep(down) => {}
            _ = stop.changed() => return false,
        }
        for attempt in 0..5 {
            match self.connect().await {
                Ok(()) => return true,
                Err(e) => {
                    self.shared
                        .error("harness:agent_reconnect_failed", format!("{e:#}"));
                    if attempt < 4 {
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        }
        false
    }

    async fn drop_socket(&mut self) {
        if let Some(conn) = self.conn.take() {
            conn.close().await;
            self.shared.connection_closed();
        }
    }

    /// Goes away, resolves what it holds, closes the socket.
    async fn finish(mut self) {
        self.stopping = true;
        if self.conn.is_some() {
            self.send(&set_status(RequestedStatus::Away)).await;
            let ids: Vec<ConversationId> = self
                .convs
                .keys()
                .chain(self.stale.iter())
                .copied()
                .collect();
            for c in ids {
                self.send(&resolve(c)).await;
            }
        }
        self.drop_socket().await;
    }

    fn stopping(&self) -> bool {
        self.stopping || self.shared.is_stopping()
    }

    async fn send(&mut self, msg: &AgentClientMsg) {
        self.send_text(to_text(msg)).await;
    }

    async fn send_text(&mut self, text: String) {
        let Some(conn) = self.conn.as_ref() else {
            return;
        };
        if conn.tx.send(Message::Text(text)).await.is_err() && !self.stopping() {
            self.shared
                .error("harness:agent_writer_stopped", self.id.clone());
        }
    }

    fn our_stamp(&self, text: Option<&str>, kind: Kind) -> Option<Stamp> {
        text.and_then(Stamp::parse)
            .filter(|s| s.run == self.shared.run && s.kind == kind)
    }

    // ------------------------------------------------------------ frames

    async fn on_frame(&mut self, text: &str) {
        let msg = match read::<AgentServerMsg>(text) {
            Ok(Some(m)) => m,
            Ok(None) => return,
            Err(e) => {
                return self.shared.error(
                    "harness:unparsable_frame",
                    format!("{}: {e}: {text:.200}", self.id),
                )
            }
        };
        match msg {
            AgentServerMsg::Status { status, reason } => {
                if status == "available" {
                    if !self.ready {
                        self.ready = true;
                        self.shared.counters.agents_ready.inc();
                    }
                } else if !self.stopping() {
                    self.shared.error(
                        "harness:agent_set_away",
                        format!("{}: {status} ({})", self.id, reason.unwrap_or_default()),
                    );
                    self.send(&set_status(RequestedStatus::Available)).await;
                }
            }
            AgentServerMsg::Offer(o) => self.on_offer(o, true).await,
            AgentServerMsg::OfferRevoked {
                conversation_id,
                outcome,
                ..
            } => {
                if outcome != "rejected" {
                    self.shared.counters.revoked.inc();
                }
                self.offers.remove(&conversation_id);
            }
            AgentServerMsg::ConversationAssigned { conversation } => {
                self.on_assigned(conversation, true).await
            }
            AgentServerMsg::Event {
                conversation_id,
                event,
            } => match &event.kind {
                EventKind::MessageIn { text, .. } => {
                    if let Some(s) = self.our_stamp(Some(text), Kind::Msg) {
                        self.on_customer_msg(conversation_id, s, true).await;
                    }
                }
                EventKind::Note { text, .. } | EventKind::MessageOut { text, .. } => {
                    if let Some(s) = self.our_stamp(Some(text), Kind::Reply) {
                        self.on_echo(conversation_id, s, true);
                    }
                }
                _ => {}
            },
            AgentServerMsg::ConversationUpdated {
                conversation_id,
                held: false,
                ..
            } => self.ended(conversation_id),
            AgentServerMsg::Error(e) => self.shared.error(
                &format!("ws:{}", code_name(e.code)),
                format!(
                    "agent {}: {}{}",
                    self.id,
                    e.message,
                    e.reference
                        .map(|r| format!(" (ref {r})"))
                        .unwrap_or_default()
                ),
            ),
            AgentServerMsg::Ack { client_msg_id, .. } => {
                self.unacked.remove(&client_msg_id);
            }
            // `customer_typing`, `pong`, `reconnect` (the socket closes next)...
            _ => {}
        }
    }

    /// A conversation left this agent.
    fn ended(&mut self, conversation_id: ConversationId) {
        self.stale.remove(&conversation_id);
        self.early.remove(&conversation_id);
        if let Some(conv) = self.convs.remove(&conversation_id) {
            let c = &self.shared.counters;
            if conv.phase == ConvPhase::Resolving {
                c.completed.inc();
            } else if !self.stopping() {
                // The customer left an answered conversation.
                c.left_after_answer.inc();
            }
            if conv.channel != Ch::Chat {
                self.shared.signal_rest(conv.idx, RestSignal::Ended);
            }
        }
    }

    async fn on_offer(&mut self, o: OfferView, live: bool) {
        let Some(s) = self.our_stamp(o.preview.as_deref(), Kind::Open) else {
            // Not this run's: take it and resolve it, so it stops using capacity.
            self.send(&AgentClientMsg::Accept {
                offer_id: o.offer_id,
            })
            .await;
            return;
        };
        if self.offers.contains_key(&o.conversation_id) {
            // Listed again in a resumed welcome: our accept may have been lost.
            self.send(&AgentClientMsg::Accept {
                offer_id: o.offer_id,
            })
            .await;
            return;
        }
        let c = &self.shared.counters;
        c.offered.inc();
        if live {
            self.shared.record(
                |h: &mut Hists| &mut h.routing,
                clock::now_ns().saturating_sub(s.sent_ns),
            );
        }
        if !self.stopping() && self.rng.gen_bool(self.sc.agents.reject_probability) {
            c.rejected.inc();
            self.send(&AgentClientMsg::Reject {
                offer_id: o.offer_id,
                reason: None,
            })
            .await;
            return;
        }
        self.offers.insert(o.conversation_id, s.customer);
        self.send(&AgentClientMsg::Accept {
            offer_id: o.offer_id,
        })
        .await;
    }

    async fn on_assigned(&mut self, view: ConversationView, live: bool) {
        let id = view.id;
        if let Some(idx) = self.offers.remove(&id) {
            self.shared.counters.accepted.inc();
            if let Some(arrived_ns) = self.shared.answered(idx, &self.id, id) {
                self.shared.record(
                    |h: &mut Hists| &mut h.answer,
                    clock::now_ns().saturating_sub(arrived_ns),
                );
            }
            self.hold(id, idx);
        } else if !self.convs.contains_key(&id) {
            // Not offered in this session: this run's but never seen (should not
            // happen), or an earlier run's.
            let ours = view.recent.iter().find_map(|e| {
                text_of(e)
                    .and_then(Stamp::parse)
                    .filter(|s| s.run == self.shared.run)
            });
            match ours {
                Some(s) => {
                    self.shared.error(
                        "harness:unexpected_assignment",
                        format!("{}: arrival {} never offered here", self.id, s.customer),
                    );
                    self.hold(id, s.customer);
                }
                None => {
                    self.stale.insert(id);
                    self.send(&resolve(id)).await;
                    return;
                }
            }
        }
        // Messages already in the view (sent before the view was built, or while this
        // socket was down) count once; the live `event`s that follow are deduplicated.
        for e in &view.recent {
            if e.conversation_id.is_some_and(|c| c != id) {
                continue;
            }
            match &e.kind {
                EventKind::MessageIn { text, .. } => {
                    if let Some(s) = self.our_stamp(Some(text), Kind::Msg) {
                        self.on_customer_msg(id, s, false).await;
                    }
                }
                EventKind::Note { text, .. } | EventKind::MessageOut { text, .. } => {
                    if let Some(s) = self.our_stamp(Some(text), Kind::Reply) {
                        self.on_echo(id, s, false);
                    }
                }
                _ => {}
            }
        }
        for s in self.early.remove(&id).unwrap_or_default() {
            self.on_customer_msg(id, s, live).await;
        }
    }

    fn hold(&mut self, id: ConversationId, idx: u32) {
        let channel = self.shared.channel_of(idx).unwrap_or(Ch::Chat);
        let now = Instant::now();
        let handle = self
            .sc
            .agents
            .handle_time
            .sample(&mut self.rng, self.sc.time_scale);
        self.convs.insert(
            id,
            Conv {
                idx,
                channel,
                assigned_at: now,
                handle_until: now + handle,
                received: BTreeSet::new(),
                echoed: BTreeSet::new(),
                replies: 0,
                phase: ConvPhase::Talking,
            },
        );
        if channel != Ch::Chat {
            self.shared.signal_rest(idx, RestSignal::Assigned);
        }
    }

    /// A resumed `welcome`: held conversations and pending offers as the engine sees them.
    async fn reconcile(&mut self, conversations: Vec<ConversationView>, offers: Vec<OfferView>) {
        let listed: HashSet<ConversationId> = conversations.iter().map(|c| c.id).collect();
        let gone: Vec<ConversationId> = self
            .convs
            .keys()
            .filter(|k| !listed.contains(*k))
            .copied()
            .collect();
        for id in gone {
            self.ended(id);
        }
        for c in conversations {
            self.on_assigned(c, false).await;
        }
        for o in offers {
            self.on_offer(o, false).await;
        }
    }

    /// A customer message (live `event`, or found in a view when `live` is false).
    async fn on_customer_msg(&mut self, conversation_id: ConversationId, s: Stamp, live: bool) {
        let Some(conv) = self.convs.get_mut(&conversation_id) else {
            if !self.stale.contains(&conversation_id) {
                self.early.entry(conversation_id).or_default().push(s);
            }
            return;
        };
        let c = &self.shared.counters;
        if !conv.received.insert(s.seq) {
            c.c2a_redelivered.inc();
            return;
        }
        if s.customer != conv.idx {
            self.shared.violation(format!(
                "arrival {}'s message delivered in arrival {}'s conversation",
                s.customer, conv.idx
            ));
        }
        let reply_ns = clock::now_ns();
        // Count the reply as sent before the message as received, so the drain never
        // sees "all received" while a reply is still to be counted.
        c.a2c_sent.inc();
        c.c2a_received.inc();
        if live {
            self.shared.record_c2a(reply_ns.saturating_sub(s.sent_ns));
        }
        conv.replies = conv.replies.max(s.seq);
        let text = Stamp {
            run: self.shared.run,
            kind: Kind::Reply,
            customer: conv.idx,
            seq: s.seq,
            sent_ns: reply_ns,
        }
        .text(0);
        let client_msg_id = uuid::Uuid::new_v4().to_string();
        let ack_key = client_msg_id.clone();
        let note = conv.channel != Ch::Chat && self.sc.channels.rest_reply == RestReply::Note;
        let msg = if note {
            AgentClientMsg::Note {
                conversation_id,
                client_msg_id,
                text,
            }
        } else {
            AgentClientMsg::Message {
                conversation_id,
                client_msg_id,
                text,
                channel: None,
                template: None,
                files: Vec::new(),
            }
        };
        let frame = to_text(&msg);
        self.unacked.insert(ack_key, frame.clone());
        self.send_text(frame).await;
    }

    /// The echo of this agent's own reply. For a REST customer it is the delivery.
    fn on_echo(&mut self, conversation_id: ConversationId, s: Stamp, live: bool) {
        let Some(conv) = self.convs.get_mut(&conversation_id) else {
            return;
        };
        if conv.channel == Ch::Chat {
            return;
        }
        let c = &self.shared.counters;
        if !conv.echoed.insert(s.seq) {
            c.a2c_redelivered.inc();
            return;
        }
        c.a2c_received.inc();
        if live {
            self.shared
                .record_a2c(clock::now_ns().saturating_sub(s.sent_ns));
        }
        self.shared.signal_rest(conv.idx, RestSignal::Reply(s.seq));
    }

    // ------------------------------------------------------------ timers

    fn next_deadline(&self) -> Option<Instant> {
        let k = u64::from(self.sc.conversation.messages);
        self.convs
            .values()
            .filter_map(|c| match c.phase {
                ConvPhase::Talking if c.replies >= k => Some(c.handle_until),
                ConvPhase::WrapUp { until } => Some(until),
                _ => None,
            })
            .min()
    }

    async fn on_timers(&mut self) {
        let now = Instant::now();
        let k = u64::from(self.sc.conversation.messages);
        let wrap = Duration::from_secs_f64(self.sc.agents.wrap_up_s * self.sc.time_scale);
        let mut actions: Vec<(ConversationId, bool)> = Vec::new();
        for (id, c) in &mut self.convs {
            match c.phase {
                ConvPhase::Talking if c.replies >= k && now >= c.handle_until => {
                    if wrap.is_zero() {
                        c.phase = ConvPhase::Resolving;
                        actions.push((*id, false));
                    } else {
                        c.phase = ConvPhase::WrapUp { until: now + wrap };
                        actions.push((*id, true));
                    }
                }
                ConvPhase::WrapUp { until } if now >= until => {
                    c.phase = ConvPhase::Resolving;
                    actions.push((*id, false));
                }
                _ => {}
            }
        }
        for (id, wrap_up) in actions {
            if wrap_up {
                self.send(&AgentClientMsg::WrapUp {
                    conversation_id: id,
                })
                .await;
            } else {
                if let Some(c) = self.convs.get(&id) {
                    let held = c.assigned_at.elapsed();
                    self.shared.record(
                        |h: &mut Hists| &mut h.handle,
                        u64::try_from(held.as_nanos()).unwrap_or(u64::MAX),
                    );
                }
                self.send(&resolve(id)).await;
            }
        }
    }
}

async fn sleep_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
