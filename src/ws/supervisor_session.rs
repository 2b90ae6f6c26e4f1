//! Supervisor websocket session (`/ws/supervisor`): one actor per socket. Authenticated
//! at the handshake (supervisor or admin role, see `crate::api::ws_routes`); subscribes
//! to the [`LiveHub`] on start, writes its `snapshot` / `delta` pushes as JSON, and
//! forwards the client's `subscribe` and `ack` to the hub. Holds no figures itself.
//! `watch` attaches it to a conversation's customer actor, which pushes that
//! conversation's events (`conversation_event`) until `unwatch` or the socket closes.
//!
//! On graceful shutdown it sends `reconnect` and closes with 1012 (`super::drain`).
//! Like every staff socket it is closed when its token expires (checked on every
//! heartbeat) or is revoked (pushed at once by `crate::security::revocation`).
//!
//! Its mailbox is bounded by the hub's window (the hub `try_send`s and never has more
//! than `limits.supervisor_window` pushes outstanding), so a client that stops reading
//! holds at most that many messages here.

use super::frames::{decode, screen, RateLimit, Screened};
use super::protocol::{
    ErrorCode, SupervisorClientMsg, SupervisorServerMsg, WireError, MAX_SUBSCRIBED_QUEUES,
    MAX_WATCHED,
};
use crate::actors::hub::LiveHub;
use crate::actors::messages::{
    EngineError, SetFilter, Subscribe, SubscriberAck, SupervisorNotice, SupervisorPush,
    Unsubscribe, UnwatchConversation, WatchConversation,
};
use crate::actors::sessions::SessionRef;
use crate::domain::{AgentId, ConversationId, CustomerId, QueueName};
use crate::security::revocation::{CloseSession, TokenWatch};
use actix::prelude::*;
use actix_web_actors::ws;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

pub struct SupervisorSession {
    server: crate::Server,
    /// This socket's address (`actors::sessions`): in the engine's table while it runs.
    session: SessionRef,
    supervisor: AgentId,
    /// The queue set asked for at connect (`?queues=a,b`); `None` = every queue.
    queues: Option<BTreeSet<QueueName>>,
    /// Last frame (or pong) from the client, for the idle timeout.
    last_seen: Instant,
    heartbeat: Duration,
    client_timeout: Duration,
    max_bytes: usize,
    rate: RateLimit,
    /// Conversations watched live, and whose they are (to unwatch).
    watched: HashMap<ConversationId, CustomerId>,
    /// The token the socket was opened with (expiry, revocation).
    token: TokenWatch,
}

impl SupervisorSession {
    /// A session for `supervisor` (counted in `engine.supervisor_sockets` while it runs).
    pub fn new(
        server: crate::Server,
        supervisor: AgentId,
        queues: Option<BTreeSet<QueueName>>,
        token: TokenWatch,
    ) -> Self {
        let s = &server.settings;
        Self {
            session: server.new_session(),
            supervisor,
            queues,
            last_seen: Instant::now(),
            heartbeat: Duration::from_millis(s.timing.heartbeat_ms),
            client_timeout: Duration::from_millis(s.timing.client_timeout_ms),
            max_bytes: s.limits.max_ws_message_bytes,
            rate: RateLimit::from_settings(s),
            watched: HashMap::new(),
            token,
            server,
        }
    }

    fn send(ctx: &mut ws::WebsocketContext<Self>, msg: &SupervisorServerMsg) {
        match serde_json::to_string(msg) {
            Ok(t) => ctx.text(t),
            Err(e) => tracing::error!(error = %e, "supervisor message did not serialise"),
        }
    }

    fn error(ctx: &mut ws::WebsocketContext<Self>, e: WireError) {
        Self::send(ctx, &SupervisorServerMsg::Error(e));
    }

    fn engine_error(ctx: &mut ws::WebsocketContext<Self>, e: EngineError, conv: ConversationId) {
        Self::error(
            ctx,
            WireError {
                code: e.code,
                message: e.message,
                reference: Some(conv.to_string()),
                event_id: e.event_id,
            },
        );
    }

    /// Starts following a conversation: find its customer, attach to its actor.
    fn watch(&mut self, conv: ConversationId, ctx: &mut ws::WebsocketContext<Self>) {
        if self.watched.len() >= MAX_WATCHED && !self.watched.contains_key(&conv) {
            return Self::engine_error(
                ctx,
                EngineError::invalid(format!("at most {MAX_WATCHED} conversations at once")),
                conv,
            );
        }
        let server = self.server.clone();
        let msg = WatchConversation {
            conversation_id: conv,
            session: self.session.clone(),
        };
        let fut = async move {
            let c = server
                .store
                .conversation(conv)
                .await
                .map_err(EngineError::unavailable)?
                .ok_or_else(|| EngineError::not_found("conversation"))?;
            let view = server.ask_customer(c.customer_id, msg).await?;
            Ok::<_, EngineError>((c.customer_id, view))
        };
        ctx.spawn(fut.into_actor(self).map(move |res, act, ctx| match res {
            Ok((customer, view)) => {
                act.watched.insert(conv, customer);
                Self::send(ctx, &SupervisorServerMsg::Watching { conversation: view });
            }
            Err(e) => Self::engine_error(ctx, e, conv),
        }));
    }

    fn unwatch(&mut self, conv: ConversationId) {
        if let Some(customer) = self.watched.remove(&conv) {
            self.server.tell_customer(
                customer,
                UnwatchConversation {
                    session: self.session.clone(),
                    conversation_id: Some(conv),
                },
            );
        }
    }
}

/// Parses a queue set (`subscribe` message or `?queues=`); at most
/// [`MAX_SUBSCRIBED_QUEUES`] names.
pub fn queue_set(names: Vec<QueueName>) -> Result<BTreeSet<QueueName>, WireError> {
    if names.len() > MAX_SUBSCRIBED_QUEUES {
        return Err(WireError {
            code: ErrorCode::Invalid,
            message: format!("at most {MAX_SUBSCRIBED_QUEUES} queues per subscription"),
            reference: None,
            event_id: None,
        });
    }
    Ok(names.into_iter().collect())
}

impl Actor for SupervisorSession {
    type Context = ws::WebsocketContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // The hub never has more than `window` pushes outstanding; a little headroom
        // for the close notice.
        ctx.set_mailbox_capacity(self.server.settings.limits.supervisor_window.max(1) + 4);
        crate::metrics::ws_connections("supervisor", 1);
        self.server
            .supervisor_sockets
            .fetch_add(1, Ordering::Relaxed);
        self.server
            .register_supervisor_session(&self.session, ctx.address().recipient());
        self.server.security.revocations.register(
            &self.token.agent_id,
            self.session.id,
            ctx.address().recipient(),
        );
        // A revocation between the handshake check and the registration above.
        if let Err((code, reason)) = self.token.check(self.server.now(), &self.server.security) {
            return super::frames::close_with(ctx, code, reason);
        }
        let reconnect = serde_json::to_string(&SupervisorServerMsg::Reconnect {
            reason: "shutdown".into(),
        })
        .unwrap_or_default();
        super::drain::watch(self, ctx, self.server.drain_signal(), reconnect);
        self.server.tell::<LiveHub, _>(
            crate::actors::mail::TheHub,
            Subscribe {
                session: self.session.clone(),
                supervisor: self.supervisor.clone(),
                queues: self.queues.clone(),
            },
        );
        ctx.run_interval(self.heartbeat, |act, ctx| {
            if let Err((code, reason)) = act
                .token
                .on_heartbeat(act.server.now(), &act.server.security)
            {
                return super::frames::close_with(ctx, code, reason);
            }
            if act.last_seen.elapsed() > act.client_timeout {
                super::frames::close_idle(ctx);
            } else {
                ctx.ping(b"");
            }
        });
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        self.server
            .security
            .revocations
            .unregister(&self.token.agent_id, self.session.id);
        self.server.unregister_session(self.session.id);
        let watched: Vec<ConversationId> = self.watched.keys().copied().collect();
        for conv in watched {
            self.unwatch(conv);
        }
        crate::metrics::ws_connections("supervisor", -1);
        self.server
            .supervisor_sockets
            .fetch_sub(1, Ordering::Relaxed);
        self.server.tell::<LiveHub, _>(
            crate::actors::mail::TheHub,
            Unsubscribe {
                session: self.session.clone(),
            },
        );
    }
}

impl Handler<CloseSession> for SupervisorSession {
    type Result = ();
    fn handle(&mut self, msg: CloseSession, ctx: &mut Self::Context) {
        crate::metrics::ws_refused("revoked");
        super::frames::close_with(ctx, msg.code, msg.reason);
    }
}

impl Handler<SupervisorPush> for SupervisorSession {
    type Result = ();
    fn handle(&mut self, msg: SupervisorPush, ctx: &mut Self::Context) {
        match msg {
            SupervisorPush::Msg(m) => Self::send(ctx, &frame_of(*m)),
            SupervisorPush::Close(reason) => {
                ctx.close(Some(ws::CloseReason {
                    code: ws::CloseCode::Policy,
                    description: Some(reason),
                }));
                ctx.stop();
            }
        }
    }
}

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for SupervisorSession {
    fn handle(&mut self, item: Result<ws::Message, ws::ProtocolError>, ctx: &mut Self::Context) {
        self.last_seen = Instant::now();
        let text = match screen(item, &mut self.rate) {
            Screened::Text(t) => t,
            Screened::Pong(p) => return ctx.pong(&p),
            Screened::Ignore => return,
            Screened::Error(e) => return Self::error(ctx, e),
            Screened::Close(r) => {
                ctx.close(r);
                return ctx.stop();
            }
        };
        match decode::<SupervisorClientMsg>(&text, self.max_bytes) {
            Ok(SupervisorClientMsg::Ping { nonce }) => {
                Self::send(ctx, &SupervisorServerMsg::Pong { nonce })
            }
            Ok(SupervisorClientMsg::Ack { seq }) => self.server.tell::<LiveHub, _>(
                crate::actors::mail::TheHub,
                SubscriberAck {
                    session: self.session.clone(),
                    seq,
                },
            ),
            Ok(SupervisorClientMsg::Watch { conversation_id }) => self.watch(conversation_id, ctx),
            Ok(SupervisorClientMsg::Unwatch { conversation_id }) => self.unwatch(conversation_id),
            Ok(SupervisorClientMsg::Subscribe { queues }) => {
                let queues = match queues.map(queue_set).transpose() {
                    Ok(q) => q,
                    Err(e) => return Self::error(ctx, e),
                };
                self.queues = queues.clone();
                self.server.tell::<LiveHub, _>(
                    crate::actors::mail::TheHub,
                    SetFilter {
                        session: self.session.clone(),
                        queues,
                    },
                );
            }
            Err(e) => Self::error(ctx, e),
        }
    }
}

/// The frame for a supervisor notice (no actor builds a frame); adds the protocol
/// version to snapshots. Exhaustive, so a new notice does not compile until mapped.
fn frame_of(n: SupervisorNotice) -> SupervisorServerMsg {
    match n {
        SupervisorNotice::Snapshot {
            seq,
            reason,
            server_time,
            queues_filter,
            queues,
            agents,
        } => SupervisorServerMsg::Snapshot {
            seq,
            protocol: super::protocol::PROTOCOL_VERSION,
            reason,
            server_time,
            queues_filter,
            queues,
            agents,
        },
        SupervisorNotice::Delta {
            seq,
            server_time,
            queues,
            agents,
        } => SupervisorServerMsg::Delta {
            seq,
            server_time,
            queues,
            agents,
        },
        SupervisorNotice::ConversationEvent {
            conversation_id,
            event,
        } => SupervisorServerMsg::ConversationEvent {
            conversation_id,
            event,
        },
        SupervisorNotice::ResponseOverdue(alert) => SupervisorServerMsg::ResponseOverdue(alert),
    }
}
