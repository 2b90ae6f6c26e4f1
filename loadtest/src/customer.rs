//! One simulated web-chat customer: a task owning one `/ws/chat` socket. It sends one
//! stamped opening message when the phase becomes [`Phase::Open`], then, during
//! [`Phase::Load`], one stamped message per tick of its own interval (its share of the
//! aggregate rate, offset so all customers together send evenly), and records
//! agent → customer latency for every stamped reply (`message_out` event).

use crate::clock;
use crate::frames::{code_name, read, to_text};
use crate::messages::Phase;
use crate::net::Conn;
use crate::stamp::{Kind, Stamp};
use crate::stats::{record_ns, record_since, Shared};
use anyhow::{bail, Context, Result};
use protocol::{ChatClientMsg, ChatServerMsg, ConversationState, EventKind};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
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

pub struct Customer {
    idx: u32,
    conn: Conn,
    shared: Arc<Shared>,
    cfg: CustomerCfg,
    /// Task number, for the histogram shard.
    task: usize,
    seq: u64,
    open_msg_id: Option<String>,
    stopping: bool,
    writer_failed: bool,
}

impl Customer {
    /// Connects customer `idx` as a new visitor and waits for `welcome`.
    pub async fn connect(
        ws_base: &str,
        task: usize,
        idx: u32,
        shared: Arc<Shared>,
        cfg: CustomerCfg,
    ) -> Result<Customer> {
        let mut conn = Conn::connect(&format!("{ws_base}/ws/chat"))
            .await
            .with_context(|| format!("customer {idx}"))?;
        let first = conn
            .first_text(Duration::from_secs(30))
            .await
            .with_context(|| format!("customer {idx}: waiting for welcome"))?;
        match read::<ChatServerMsg>(&first) {
            Ok(Some(ChatServerMsg::Welcome { .. })) => {}
            Ok(Some(ChatServerMsg::Error(e))) => bail!(
                "customer {idx}: error {} instead of welcome: {}",
                code_name(e.code),
                e.message
            ),
            _ => bail!("customer {idx}: expected welcome, got {first}"),
        }
        shared.counters.customers_connected.inc();
        Ok(Customer {
            idx,
            conn,
            shared,
            cfg,
            task,
            seq: 0,
            open_msg_id: None,
            stopping: false,
            writer_failed: false,
        })
    }

    /// Runs until [`Phase::Stop`].
    pub async fn run(mut self, mut phase: watch::Receiver<Phase>) {
        let mut open_at: Option<Instant> = None;
        let mut ticker: Option<(Interval, Instant)> = None;
        let mut done_sending = false;
        loop {
            tokio::select! {
                frame = Conn::next_text(&mut self.conn.rx) => match frame {
                    Some(Ok(text)) => self.on_frame(&text),
                    Some(Err(e)) => {
                        if !self.stopping() {
                            self.shared.harness_error("customer_socket_failed", format!("customer {}: {e:#}", self.idx));
                        }
                        break;
                    }
                    None => {
                        if !self.stopping() {
                            self.shared.harness_error("customer_socket_failed", format!("customer {}: socket ended", self.idx));
                        }
                        break;
                    }
                },
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
        self.send(&ChatClientMsg::Leave {}).await;
        self.conn.close().await;
    }

    /// Whether this task or the whole run is stopping: endings are expected then.
    fn stopping(&self) -> bool {
        self.stopping || self.shared.is_stopping()
    }

    async fn send(&mut self, msg: &ChatClientMsg) {
        if self
            .conn
            .tx
            .send(Message::Text(to_text(msg)))
            .await
            .is_err()
            && !self.writer_failed
        {
            self.writer_failed = true;
            if !self.stopping() {
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
        let id = uuid::Uuid::new_v4().to_string();
        self.open_msg_id = Some(id.clone());
        let text = self.stamp(Kind::Open, 0, clock::now_ns());
        self.send(&ChatClientMsg::Message {
            client_msg_id: id,
            text,
            queue: None,
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
            record_ns(
                &mut self.shared.hists(self.task).send_lag,
                u64::try_from(now.saturating_duration_since(due.into_std()).as_nanos())
                    .unwrap_or(u64::MAX),
            );
        }
        let text = self.stamp(Kind::Msg, self.seq, sent_ns);
        self.send(&ChatClientMsg::Message {
            client_msg_id: uuid::Uuid::new_v4().to_string(),
            text,
            queue: None,
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
                ..
            } => {
                if duplicate {
                    c.duplicate_acks.inc();
                }
                if self.open_msg_id.as_deref() == Some(client_msg_id.as_str()) {
                    c.opened.inc();
                } else {
                    c.c2a_acked.inc();
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
            ChatServerMsg::Error(e) => self.shared.engine_error(
                &format!("customer {}", self.idx),
                &code_name(e.code),
                &e.message,
                e.reference.as_deref(),
            ),
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
