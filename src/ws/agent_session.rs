//! Agent websocket session (`/ws/agent`): one actor per socket. Authenticated at the
//! handshake (see `crate::api::ws_routes`); parses frames into `AgentClientMsg` and
//! forwards them to the agent's `AgentActor`; writes `AgentServerMsg` pushes out as
//! JSON. Holds no agent state: the agent actor outlives the socket.
//!
//! Security rules it enforces: the socket closes with 4001 when the agent's tokens are
//! revoked (logout, disabled, role changed; pushed by `crate::security::revocation`),
//! with 4002 once the token it was opened with expires, with 1001 after
//! `timing.client_timeout_ms` of silence, and with 1008 on a persistent flood.

use super::frames::{decode, screen, RateLimit, Screened};
use super::protocol::{AgentClientMsg, AgentServerMsg, WireError};
use crate::actors::agent::AgentActor;
use crate::actors::mail::Seat;
use crate::actors::messages::{
    AgentCommand, AgentNotice, AgentPush, AgentRequest, AttachAgent, DetachAgent,
};
use crate::actors::sessions::SessionRef;
use crate::domain::RequestedStatus;
use crate::security::revocation::{CloseSession, TokenWatch};
use crate::Server;
use actix::prelude::*;
use actix_web_actors::ws;
use std::time::{Duration, Instant};

/// The `reconnect` reason when the agent's actor restarted, moved, or missed the
/// socket's attach (docs/protocol.md).
const AGENT_RESTARTED: &str = "agent_restarted";

pub struct AgentSession {
    /// Where the agent's actor runs (here, or on the node owning its shard).
    agent: Seat<AgentActor>,
    /// This socket's address (`actors::sessions`): in the engine's table while it runs.
    session: SessionRef,
    /// Last frame (or pong) from the client, for the idle timeout.
    last_seen: Instant,
    heartbeat: Duration,
    client_timeout: Duration,
    max_bytes: usize,
    rate: RateLimit,
    /// For the token checks on every heartbeat (engine clock, revocations).
    server: Server,
    /// The token the socket was opened with.
    token: TokenWatch,
    /// The engine's drain signal (graceful shutdown), taken once the session starts.
    drain: Option<tokio::sync::watch::Receiver<bool>>,
    /// A re-attach to a moved actor is under way ([`AgentSession::follow_agent`]).
    following: bool,
    /// The agent's status as this socket last showed it (`welcome`, `status`): what a
    /// socket that follows its actor sets again on the new one, which starts `away`.
    status: Option<(RequestedStatus, Option<String>)>,
}

impl AgentSession {
    pub fn new(
        agent: Seat<AgentActor>,
        session: SessionRef,
        server: &Server,
        token: TokenWatch,
        drain: tokio::sync::watch::Receiver<bool>,
    ) -> Self {
        let settings = &server.settings;
        Self {
            agent,
            session,
            last_seen: Instant::now(),
            heartbeat: Duration::from_millis(settings.timing.heartbeat_ms),
            client_timeout: Duration::from_millis(settings.timing.client_timeout_ms),
            max_bytes: settings.limits.max_ws_message_bytes,
            rate: RateLimit::from_settings(settings),
            server: server.clone(),
            token,
            drain: Some(drain),
            following: false,
            status: None,
        }
    }

    /// The token still holds: not expired, not revoked (checked on every heartbeat; a
    /// revocation is also pushed at once).
    fn token_check(&self) -> Result<(), (u16, &'static str)> {
        self.token.check(self.server.now(), &self.server.security)
    }

    fn send(ctx: &mut ws::WebsocketContext<Self>, msg: &AgentServerMsg) {
        match serde_json::to_string(msg) {
            Ok(t) => ctx.text(t),
            Err(e) => tracing::error!(error = %e, "agent message did not serialise"),
        }
    }

    fn error(ctx: &mut ws::WebsocketContext<Self>, e: WireError) {
        Self::send(ctx, &AgentServerMsg::Error(e));
    }

    /// The agent actor this socket speaks to stopped or moved. Crashed here (its
    /// mailbox closed, its key still held here): the client is told to reconnect, which
    /// attaches it to a restarted actor with the agent's conversations reloaded. Moved
    /// to another node with its shard (a takeover, a handover): the socket follows it
    /// ([`AgentSession::follow_agent`]) and stays open. Returns whether the socket is
    /// closing.
    fn closing_if_agent_gone(&mut self, ctx: &mut ws::WebsocketContext<Self>) -> bool {
        if self.following || !self.server.moved(&self.agent) {
            return false;
        }
        let moved_away = match &self.agent {
            Seat::There { .. } => true,
            Seat::Here(_) => {
                self.server.cluster().is_some()
                    && !self.server.is_here::<AgentActor>(&self.token.agent_id)
            }
        };
        if moved_away {
            self.follow_agent(ctx);
            return false;
        }
        Self::reconnect(ctx, AGENT_RESTARTED);
        true
    }

    /// Attaches this socket to the agent's actor where it runs now (started there from
    /// the agent's profile if the move did not start it), keeping the socket open: the
    /// actor sends it a new `welcome`, which lists every held conversation whole (the
    /// client rebuilds its state from a `welcome`, as after a reconnect, but keeps its
    /// socket and outbox), and the status the socket last showed is set again (an
    /// agent who was available stays available; the new actor starts `away`). Frames
    /// the client sends meanwhile wait until that is done. If the actor cannot be
    /// reached within the deadline, the client is told to reconnect.
    fn follow_agent(&mut self, ctx: &mut ws::WebsocketContext<Self>) {
        self.following = true;
        let server = self.server.clone();
        let id = self.token.agent_id.clone();
        let session = self.session.clone();
        let status = self.status.clone();
        let follow = async move {
            let profile = server
                .store
                .agent(&id)
                .await
                .map_err(crate::actors::messages::EngineError::unavailable)?
                .filter(|p| !p.disabled)
                .ok_or_else(|| {
                    crate::actors::messages::EngineError::not_found("agent unknown or disabled")
                })?;
            let seat = server.start_agent(profile).await?;
            server
                .ask_agent(
                    &id,
                    AttachAgent {
                        session: session.clone(),
                    },
                )
                .await?;
            if let Some((status, reason)) = status {
                let request = AgentRequest::SetStatus { status, reason };
                server.tell_agent(&id, AgentCommand { session, request });
            }
            Ok::<_, crate::actors::messages::EngineError>(seat)
        };
        ctx.wait(follow.into_actor(self).map(|res, act, ctx| {
            act.following = false;
            match res {
                Ok(seat) => {
                    crate::metrics::socket_followed("agent", "followed");
                    act.agent = seat;
                }
                Err(e) => {
                    tracing::info!(agent = %act.token.agent_id, error = %e, "an agent socket could not follow its actor; told to reconnect");
                    crate::metrics::socket_followed("agent", "reconnect");
                    Self::reconnect(ctx, AGENT_RESTARTED);
                }
            }
        }));
    }

    /// Tells the client to reconnect (its agent's actor is elsewhere now, or did not
    /// get this socket's attach: `agent_restarted`; a push to it was lost: `resync`)
    /// and closes the socket.
    fn reconnect(ctx: &mut ws::WebsocketContext<Self>, reason: impl Into<String>) {
        Self::send(
            ctx,
            &AgentServerMsg::Reconnect {
                reason: reason.into(),
            },
        );
        ctx.close(Some(ws::CloseReason {
            code: ws::CloseCode::Restart,
            description: Some(super::drain::RECONNECT_REASON.into()),
        }));
        ctx.stop();
    }
}

impl Actor for AgentSession {
    type Context = ws::WebsocketContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.server
            .register_agent_session(&self.session, ctx.address().recipient());
        self.server.security.revocations.register(
            &self.token.agent_id,
            self.session.id,
            ctx.address().recipient(),
        );
        // A revocation between the handshake check and the registration above.
        if let Err((code, reason)) = self.token_check() {
            return super::frames::close_with(ctx, code, reason);
        }
        let attach = AttachAgent {
            session: self.session.clone(),
        };
        if self.server.cluster().is_none() {
            // One node: the actor is local and started; its mailbox delivers.
            self.server.tell_agent(&self.token.agent_id, attach);
        } else {
            // Asked, not told: an attach that does not reach the actor on its node (the
            // peer queue full, the shard between owners past the deadline) would leave
            // an open socket that never gets its welcome; the client reconnects instead.
            let attach = self.server.ask_agent(&self.token.agent_id, attach);
            ctx.spawn(attach.into_actor(self).map(|res, act, ctx| {
                if let Err(e) = res {
                    tracing::warn!(agent = %act.token.agent_id, error = %e, "agent socket's attach not delivered; the client reconnects");
                    Self::reconnect(ctx, AGENT_RESTARTED);
                }
            }));
        }
        if let Some(rx) = self.drain.take() {
            let reconnect = serde_json::to_string(&AgentServerMsg::Reconnect {
                reason: "shutdown".into(),
            })
            .unwrap_or_default();
            super::drain::watch(self, ctx, rx, reconnect);
        }
        // In a cluster, the agent's actor may move with its shard: look as often as the
        // lease rows are read, so the client reconnects to it at once.
        if let Some(every) = self.server.seat_check() {
            ctx.run_interval(every, |act, ctx| {
                act.closing_if_agent_gone(ctx);
            });
        }
        ctx.run_interval(self.heartbeat, |act, ctx| {
            if let Err((code, reason)) = act
                .token
                .on_heartbeat(act.server.now(), &act.server.security)
            {
                return super::frames::close_with(ctx, code, reason);
            }
            if act.closing_if_agent_gone(ctx) {
                return;
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
        self.server.tell_agent(
            &self.token.agent_id,
            DetachAgent {
                session: self.session.clone(),
            },
        );
    }
}

impl Handler<AgentPush> for AgentSession {
    type Result = ();
    fn handle(&mut self, msg: AgentPush, ctx: &mut Self::Context) {
        match &msg.0 {
            AgentNotice::Reconnect { reason } => return Self::reconnect(ctx, reason.clone()),
            AgentNotice::Welcome { status, reason, .. }
            | AgentNotice::Status { status, reason } => {
                self.status = requested(status, reason.as_deref());
            }
            _ => {}
        }
        Self::send(ctx, &frame_of(msg.0));
    }
}

impl Handler<CloseSession> for AgentSession {
    type Result = ();
    fn handle(&mut self, msg: CloseSession, ctx: &mut Self::Context) {
        crate::metrics::ws_refused("revoked");
        super::frames::close_with(ctx, msg.code, msg.reason);
    }
}

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for AgentSession {
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
        if self.closing_if_agent_gone(ctx) {
            return;
        }
        match decode::<AgentClientMsg>(&text, self.max_bytes) {
            Ok(msg) => self.server.tell_agent(
                &self.token.agent_id,
                AgentCommand {
                    session: self.session.clone(),
                    request: request_of(msg),
                },
            ),
            Err(e) => Self::error(ctx, e),
        }
    }
}

/// The status an agent asks for to be in the one shown as `status` (`available`,
/// `away` with its reason); `None` for `offline`.
fn requested(status: &str, reason: Option<&str>) -> Option<(RequestedStatus, Option<String>)> {
    match status {
        "available" => Some((RequestedStatus::Available, None)),
        "away" => Some((RequestedStatus::Away, reason.map(str::to_owned))),
        _ => None,
    }
}

/// The engine's request for a decoded frame: the session is the only place that knows
/// both (the actor never sees a frame). Exhaustive, so a new frame type does not compile
/// until it says what it asks for.
fn request_of(msg: AgentClientMsg) -> AgentRequest {
    match msg {
        AgentClientMsg::Ping { nonce } => AgentRequest::Ping { nonce },
        AgentClientMsg::SetStatus { status, reason } => AgentRequest::SetStatus { status, reason },
        AgentClientMsg::Accept { offer_id } => AgentRequest::Accept { offer: offer_id },
        // The reason is free text for the agent's own client; the engine records none.
        AgentClientMsg::Reject {
            offer_id,
            reason: _,
        } => AgentRequest::Reject { offer: offer_id },
        AgentClientMsg::Message {
            conversation_id,
            client_msg_id,
            text,
            channel,
            template,
            files,
        } => AgentRequest::Reply {
            conversation: conversation_id,
            client_msg_id,
            text,
            channel,
            template,
            files,
        },
        AgentClientMsg::Note {
            conversation_id,
            client_msg_id,
            text,
        } => AgentRequest::Note {
            conversation: conversation_id,
            client_msg_id,
            text,
        },
        AgentClientMsg::Typing { conversation_id } => AgentRequest::Typing {
            conversation: conversation_id,
        },
        AgentClientMsg::CallStart {
            conversation_id,
            media,
        } => AgentRequest::CallStart {
            conversation: conversation_id,
            media,
        },
        AgentClientMsg::CallAnswer {
            conversation_id,
            call_id,
        } => AgentRequest::CallAnswer {
            conversation: conversation_id,
            call_id,
        },
        AgentClientMsg::CallSignal {
            conversation_id,
            call_id,
            signal,
        } => AgentRequest::CallSignal {
            conversation: conversation_id,
            call_id,
            signal,
        },
        AgentClientMsg::CallHangup {
            conversation_id,
            call_id,
        } => AgentRequest::CallHangup {
            conversation: conversation_id,
            call_id,
        },
        AgentClientMsg::WrapUp { conversation_id } => AgentRequest::WrapUp {
            conversation: conversation_id,
        },
        AgentClientMsg::Resolve {
            conversation_id,
            disposition,
        } => AgentRequest::Resolve {
            conversation: conversation_id,
            disposition,
        },
        AgentClientMsg::Transfer {
            conversation_id,
            queue,
            agent,
        } => AgentRequest::Transfer {
            conversation: conversation_id,
            queue,
            agent,
        },
        AgentClientMsg::Park { conversation_id } => AgentRequest::Park {
            conversation: conversation_id,
        },
        AgentClientMsg::Unpark { conversation_id } => AgentRequest::Unpark {
            conversation: conversation_id,
        },
        AgentClientMsg::History {
            customer_id,
            before,
            limit,
            request_id,
        } => AgentRequest::History {
            customer: customer_id,
            before,
            limit,
            request_id,
        },
    }
}

/// The frame for an agent actor's notice: the other half of the translation (the
/// actor never builds a frame). Exhaustive both ways, so a new notice or a new frame
/// does not compile until it is mapped.
fn frame_of(n: AgentNotice) -> AgentServerMsg {
    match n {
        AgentNotice::Welcome {
            agent,
            status,
            reason,
            conversations,
            offers,
            parked,
            server_time,
            resumed,
            calls,
        } => AgentServerMsg::Welcome {
            protocol: super::protocol::PROTOCOL_VERSION,
            agent,
            status,
            reason,
            conversations,
            offers,
            parked,
            server_time,
            resumed,
            calls,
        },
        AgentNotice::Status { status, reason } => AgentServerMsg::Status { status, reason },
        AgentNotice::Offer(o) => AgentServerMsg::Offer(o),
        AgentNotice::OfferRevoked {
            offer_id,
            conversation_id,
            outcome,
        } => AgentServerMsg::OfferRevoked {
            offer_id,
            conversation_id,
            outcome,
        },
        AgentNotice::ConversationAssigned { conversation } => {
            AgentServerMsg::ConversationAssigned { conversation }
        }
        AgentNotice::Event {
            conversation_id,
            event,
        } => AgentServerMsg::Event {
            conversation_id,
            event,
        },
        AgentNotice::Ack {
            client_msg_id,
            conversation_id,
            event_id,
            duplicate,
        } => AgentServerMsg::Ack {
            client_msg_id,
            conversation_id,
            event_id,
            duplicate,
        },
        AgentNotice::ConversationUpdated {
            conversation_id,
            state,
            held,
        } => AgentServerMsg::ConversationUpdated {
            conversation_id,
            state,
            held,
        },
        AgentNotice::CustomerTyping { conversation_id } => {
            AgentServerMsg::CustomerTyping { conversation_id }
        }
        AgentNotice::CallRinging(r) => AgentServerMsg::CallRinging(r),
        AgentNotice::CallIncoming(r) => AgentServerMsg::CallIncoming(r),
        AgentNotice::CallAnswered(r) => AgentServerMsg::CallAnswered(r),
        AgentNotice::CallSignal(r) => AgentServerMsg::CallSignal(r),
        AgentNotice::CallEnded(e) => AgentServerMsg::CallEnded(e),
        AgentNotice::History {
            request_id,
            customer_id,
            events,
            more,
        } => AgentServerMsg::History {
            request_id,
            customer_id,
            events,
            more,
        },
        AgentNotice::Pong { nonce } => AgentServerMsg::Pong { nonce },
        AgentNotice::Reconnect { reason } => AgentServerMsg::Reconnect { reason },
        AgentNotice::Refused { error, reference } => AgentServerMsg::Error(WireError {
            code: error.code,
            message: error.message,
            reference,
            event_id: error.event_id,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ConversationId, OfferId, RequestedStatus};

    fn req(frame: &str) -> AgentRequest {
        request_of(decode::<AgentClientMsg>(frame, 4096).expect("frame decodes"))
    }

    #[test]
    fn frames_become_engine_requests() {
        let c = ConversationId::new();
        assert_eq!(
            req(&format!(
                r#"{{"type":"message","conversation_id":"{c}","client_msg_id":"m1","text":"hi"}}"#
            )),
            AgentRequest::Reply {
                conversation: c,
                client_msg_id: "m1".into(),
                text: "hi".into(),
                channel: None,
                template: None,
                files: Vec::new(),
            }
        );
        let o = OfferId::new();
        assert_eq!(
            req(&format!(
                r#"{{"type":"reject","offer_id":"{o}","reason":"busy"}}"#
            )),
            AgentRequest::Reject { offer: o }
        );
        assert_eq!(
            req(r#"{"type":"set_status","status":"away","reason":"lunch"}"#),
            AgentRequest::SetStatus {
                status: RequestedStatus::Away,
                reason: Some("lunch".into()),
            }
        );
        assert_eq!(
            req(&format!(r#"{{"type":"wrap_up","conversation_id":"{c}"}}"#)),
            AgentRequest::WrapUp { conversation: c }
        );
    }

    #[test]
    fn a_shown_status_is_the_one_asked_for_again() {
        assert_eq!(
            requested("available", None),
            Some((RequestedStatus::Available, None))
        );
        assert_eq!(
            requested("away", Some("lunch")),
            Some((RequestedStatus::Away, Some("lunch".into())))
        );
        assert_eq!(requested("offline", None), None);
    }

    #[test]
    fn notices_become_frames() {
        let refused = frame_of(AgentNotice::Refused {
            error: crate::actors::messages::EngineError::not_yours(),
            reference: Some("m1".into()),
        });
        let json = serde_json::to_value(&refused).unwrap();
        assert_eq!(json["type"], "error");
        assert_eq!(json["code"], "not_yours");
        assert_eq!(json["ref"], "m1");
        let pong = serde_json::to_value(frame_of(AgentNotice::Pong { nonce: None })).unwrap();
        assert_eq!(pong, serde_json::json!({"type": "pong"}));
    }
}
