//! Scenario customers, one task per arrival.
//!
//! - [`chat`]: a web-chat visitor on `/ws/chat`. Sends a stamped opening message; if
//!   not assigned within its patience it sends `leave` and waits for the engine to
//!   confirm `abandoned` (or `resolved`, when the assignment won the race). Once
//!   assigned, it sends K stamped messages, each after a think time following the
//!   previous reply, measures agent → customer latency of every reply, and ends when
//!   the agent resolves.
//! - [`rest`]: an SMS / email / LINE / Messenger customer through the REST channel door
//!   (`POST /api/v1/inbound`). It has no socket: the agent task tells it (in process)
//!   when it is assigned, when each reply is durable and when the conversation ends.
//!   It never abandons (the REST door has no way to leave).
//!
//! Customers only report into [`Shared`]; the ledger decides outcomes.

use super::config::{Ch, Scenario};
use super::shared::{RestSignal, Shared};
use crate::clock;
use crate::frames::{code_name, read, to_text};
use crate::net::{Api, Conn, HttpError};
use crate::stamp::{Kind, Stamp};
use protocol::rest::InboundRequest;
use protocol::{ChatClientMsg, ChatServerMsg, ConversationState, EventKind};
use rand::rngs::SmallRng;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// How long a customer that sent `leave` waits for the engine's answer.
const LEAVE_CONFIRM: Duration = Duration::from_secs(10);

fn stamp(shared: &Shared, kind: Kind, idx: u32, seq: u64) -> String {
    Stamp {
        run: shared.run,
        kind,
        customer: idx,
        seq,
        sent_ns: clock::now_ns(),
    }
    .text(0)
}

async fn sleep_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// A web-chat customer for arrival `idx`.
pub async fn chat(
    shared: Arc<Shared>,
    sc: Arc<Scenario>,
    ws_base: String,
    idx: u32,
    mut rng: SmallRng,
    mut stop: watch::Receiver<bool>,
) {
    let k = u64::from(sc.conversation.messages);
    let scale = sc.time_scale;
    let patience = sc.conversation.patience.sample(&mut rng, scale);
    let c = &shared.counters;
    let mut conn = match Conn::connect(&format!("{ws_base}/ws/chat")).await {
        Ok(conn) => conn,
        Err(e) => {
            shared.error("harness:customer_connect_failed", format!("{e:#}"));
            shared.refused(idx);
            shared.stage(idx, "done");
            c.customers_done.inc();
            return;
        }
    };
    shared.connection_opened();
    match conn.first_text(Duration::from_secs(30)).await {
        Ok(t) if matches!(read(&t), Ok(Some(ChatServerMsg::Welcome { .. }))) => {}
        other => {
            shared.error(
                "harness:customer_no_welcome",
                format!("arrival {idx}: {other:?}"),
            );
            shared.refused(idx);
            conn.close().await;
            shared.connection_closed();
            shared.stage(idx, "done");
            c.customers_done.inc();
            return;
        }
    }
    let send = |conn: &Conn, m: ChatClientMsg| {
        let tx = conn.tx.clone();
        async move { tx.send(Message::Text(to_text(&m))).await.is_ok() }
    };
    let opened = send(
        &conn,
        ChatClientMsg::Message {
            client_msg_id: uuid::Uuid::new_v4().to_string(),
            text: stamp(&shared, Kind::Open, idx, 0),
            queue: None,
            ivr_path: Vec::new(),
            files: Vec::new(),
        },
    )
    .await;
    if !opened {
        shared.error("harness:customer_writer_stopped", format!("arrival {idx}"));
    }
    shared.stage(idx, "waiting");
    let mut patience_at = Some(Instant::now() + patience);
    let mut leave_deadline: Option<Instant> = None;
    let mut next_send: Option<Instant> = None;
    let mut assigned = false;
    let mut sent_seq = 0u64;
    let mut replies = BTreeSet::new();
    loop {
        tokio::select! {
            f = Conn::next_text(&mut conn.rx) => {
                let text = match f {
                    Some(Ok(t)) => t,
                    other => {
                        if !shared.is_stopping() {
                            shared.error("harness:customer_socket_failed", format!("arrival {idx}: {other:?}"));
                        }
                        break;
                    }
                };
                match read::<ChatServerMsg>(&text) {
                    Ok(Some(ChatServerMsg::Conversation(conv))) => match conv.state {
                        ConversationState::Assigned if !assigned => {
                            assigned = true;
                            shared.stage(idx, if k > 0 { "assigned, thinking" } else { "awaiting resolve" });
                            patience_at = None;
                            if k > 0 && leave_deadline.is_none() {
                                next_send = Some(Instant::now() + sc.conversation.think_time.sample(&mut rng, scale));
                            }
                        }
                        ConversationState::Abandoned => {
                            shared.abandoned(idx);
                            break;
                        }
                        ConversationState::Resolved => break,
                        _ => {}
                    },
                    Ok(Some(ChatServerMsg::Event { event })) => {
                        let EventKind::MessageOut { text, .. } = &event.kind else { continue };
                        let Some(s) = Stamp::parse(text)
                            .filter(|s| s.run == shared.run && s.kind == Kind::Reply) else { continue };
                        if s.customer != idx {
                            shared.violation(format!("arrival {idx} got a reply meant for arrival {}", s.customer));
                            continue;
                        }
                        if !replies.insert(s.seq) {
                            c.a2c_redelivered.inc();
                            continue;
                        }
                        c.a2c_received.inc();
                        shared.record_a2c(clock::now_ns().saturating_sub(s.sent_ns));
                        if s.seq == sent_seq && sent_seq >= k {
                            shared.stage(idx, "awaiting resolve");
                        }
                        if s.seq == sent_seq && sent_seq < k && leave_deadline.is_none() {
                            shared.stage(idx, "thinking");
                            next_send = Some(Instant::now() + sc.conversation.think_time.sample(&mut rng, scale));
                        }
                    }
                    Ok(Some(ChatServerMsg::Error(e))) => shared.error(&format!("ws:{}", code_name(e.code)), format!("arrival {idx}: {}", e.message)),
                    Ok(_) => {}
                    Err(e) => shared.error("harness:unparsable_frame", format!("arrival {idx}: {e}: {text:.200}")),
                }
            }
            () = sleep_opt(patience_at) => {
                patience_at = None;
                next_send = None;
                leave_deadline = Some(Instant::now() + LEAVE_CONFIRM);
                shared.stage(idx, "leaving (patience)");
                send(&conn, ChatClientMsg::Leave {}).await;
            }
            () = sleep_opt(leave_deadline) => {
                shared.error("timeout:leave_unconfirmed", format!("arrival {idx}"));
                break;
            }
            () = sleep_opt(next_send) => {
                next_send = None;
                sent_seq += 1;
                c.c2a_sent.inc();
                shared.stage(idx, "awaiting reply");
                let ok = send(&conn, ChatClientMsg::Message {
                    client_msg_id: uuid::Uuid::new_v4().to_string(),
                    text: stamp(&shared, Kind::Msg, idx, sent_seq),
                    queue: None,
                    ivr_path: Vec::new(),
                    files: Vec::new(),
                }).await;
                if !ok {
                    shared.error("harness:customer_writer_stopped", format!("arrival {idx}"));
                }
            }
            _ = stop.changed() => break,
        }
    }
    conn.close().await;
    shared.connection_closed();
    shared.stage(idx, "done");
    c.customers_done.inc();
}

/// The identity address of REST arrival `idx` on `ch`, unique per run.
pub fn address(run: u32, ch: Ch, idx: u32) -> String {
    match ch {
        // E.164: +1 9 + 4 digits of the run + 6 digits of the arrival.
        Ch::Sms => format!("+19{:04}{:06}", run % 10_000, idx % 1_000_000),
        Ch::Email => format!("lt-{run:08x}-{idx}@loadtest.example"),
        Ch::Line => format!("U{run:08x}{idx:024x}"),
        Ch::Messenger | Ch::Chat => format!("{}{idx:09}", run % 1_000_000),
    }
}

/// A REST-channel customer for arrival `idx`.
#[allow(clippy::too_many_arguments)]
pub async fn rest(
    shared: Arc<Shared>,
    sc: Arc<Scenario>,
    api: Api,
    token: Arc<String>,
    idx: u32,
    ch: Ch,
    mut rng: SmallRng,
    mut stop: watch::Receiver<bool>,
) {
    let mut rx = shared.register_rest(idx);
    rest_conversation(
        &shared, &sc, &api, &token, idx, ch, &mut rng, &mut rx, &mut stop,
    )
    .await;
    shared.unregister_rest(idx);
    shared.stage(idx, "done");
    shared.counters.customers_done.inc();
}

#[allow(clippy::too_many_arguments)]
async fn rest_conversation(
    shared: &Shared,
    sc: &Scenario,
    api: &Api,
    token: &str,
    idx: u32,
    ch: Ch,
    rng: &mut SmallRng,
    rx: &mut mpsc::UnboundedReceiver<RestSignal>,
    stop: &mut watch::Receiver<bool>,
) {
    let addr = address(shared.run, ch, idx);
    let post = |kind: Kind, seq: u64| {
        let body = InboundRequest {
            channel: ch.name().to_owned(),
            address: addr.clone(),
            text: stamp(shared, kind, idx, seq),
            client_msg_id: Some(uuid::Uuid::new_v4().to_string()),
            queue: None,
        };
        async move { api.inbound(token, &body).await }
    };
    let http_error = |e: anyhow::Error| match e.downcast_ref::<HttpError>() {
        Some(h) => shared.error(
            &format!("http:{}", h.status),
            format!("arrival {idx}: {}", h.body),
        ),
        None => shared.error("harness:http_failed", format!("arrival {idx}: {e:#}")),
    };
    if let Err(e) = post(Kind::Open, 0).await {
        http_error(e);
        shared.refused(idx);
        return;
    }
    // Wait until assigned.
    shared.stage(idx, "waiting");
    loop {
        tokio::select! {
            s = rx.recv() => match s {
                Some(RestSignal::Assigned) => break,
                Some(RestSignal::Ended) | None => return,
                Some(RestSignal::Reply(_)) => {}
            },
            _ = stop.changed() => return,
        }
    }
    let k = u64::from(sc.conversation.messages);
    for seq in 1..=k {
        let think = sc.conversation.think_time.sample(rng, sc.time_scale);
        tokio::select! {
            () = tokio::time::sleep(think) => {}
            _ = stop.changed() => return,
        }
        shared.counters.c2a_sent.inc();
        shared.stage(idx, "awaiting reply");
        if let Err(e) = post(Kind::Msg, seq).await {
            http_error(e);
            return;
        }
        loop {
            tokio::select! {
                s = rx.recv() => match s {
                    Some(RestSignal::Reply(r)) if r >= seq => break,
                    Some(RestSignal::Ended) | None => return,
                    Some(_) => {}
                },
                _ = stop.changed() => return,
            }
        }
        shared.stage(idx, "thinking");
    }
    shared.stage(idx, "awaiting resolve");
    loop {
        tokio::select! {
            s = rx.recv() => match s {
                Some(RestSignal::Ended) | None => return,
                Some(_) => {}
            },
            _ = stop.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_valid_looking_and_distinct() {
        let sms = address(0x1234_5678, Ch::Sms, 42);
        assert!(sms.starts_with("+19") && sms.len() == 13, "{sms}");
        assert_ne!(address(1, Ch::Email, 1), address(1, Ch::Email, 2));
        assert_eq!(address(1, Ch::Line, 1).len(), 33);
    }
}
