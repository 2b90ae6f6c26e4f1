//! Agent websocket session (`/ws/agent`): one actor per socket. Authenticated at the
//! handshake (see `crate::api::ws_routes`); parses frames into `AgentClientMsg` and
//! forwards them to the agent's `AgentActor`; writes `AgentServerMsg` pushes out as
//! JSON. Holds no agent state: the agent actor outlives the socket.

use super::frames::{decode, screen, RateLimit, Screened};
use super::protocol::{AgentClientMsg, AgentServerMsg, WireError};
use crate::actors::agent::AgentActor;
use crate::actors::messages::{AgentCommand, AgentPush, AttachAgent, DetachAgent};
use actix::prelude::*;
use actix_web_actors::ws;
use std::time::{Duration, Instant};

pub struct AgentSession {
    agent: Addr<AgentActor>,
    session_id: u64,
    /// Last frame (or pong) from the client, for the idle timeout.
    last_seen: Instant,
    heartbeat: Duration,
    client_timeout: Duration,
    max_bytes: usize,
    rate: RateLimit,
    /// The engine's drain signal (graceful shutdown), taken once the session starts.
    drain: Option<tokio::sync::watch::Receiver<bool>>,
}

impl AgentSession {
    pub fn new(
        agent: Addr<AgentActor>,
        session_id: u64,
        settings: &crate::config::Settings,
        drain: tokio::sync::watch::Receiver<bool>,
    ) -> Self {
        Self {
            agent,
            session_id,
            last_seen: Instant::now(),
            heartbeat: Duration::from_millis(settings.timing.heartbeat_ms),
            client_timeout: Duration::from_millis(settings.timing.client_timeout_ms),
            max_bytes: settings.limits.max_ws_message_bytes,
            rate: RateLimit::new(settings.limits.ws_messages_per_second),
            drain: Some(drain),
        }
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

    /// The agent actor this socket speaks to crashed (its mailbox is closed): tell the
    /// client to reconnect, which attaches it to a restarted actor with the agent's
    /// conversations reloaded. Returns whether the socket is closing.
    fn closing_if_agent_gone(&self, ctx: &mut ws::WebsocketContext<Self>) -> bool {
        if self.agent.connected() {
            return false;
        }
        Self::send(
            ctx,
            &AgentServerMsg::Reconnect {
                reason: "agent_restarted".into(),
            },
        );
        ctx.close(Some(ws::CloseReason {
            code: ws::CloseCode::Restart,
            description: Some(super::drain::RECONNECT_REASON.into()),
        }));
        ctx.stop();
        true
    }
}

impl Actor for AgentSession {
    type Context = ws::WebsocketContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.agent.do_send(AttachAgent {
            session_id: self.session_id,
            recipient: ctx.address().recipient(),
        });
        if let Some(rx) = self.drain.take() {
            let reconnect = serde_json::to_string(&AgentServerMsg::Reconnect {
                reason: "shutdown".into(),
            })
            .unwrap_or_default();
            super::drain::watch(self, ctx, rx, reconnect);
        }
        ctx.run_interval(self.heartbeat, |act, ctx| {
            if act.closing_if_agent_gone(ctx) {
                return;
            }
            if act.last_seen.elapsed() > act.client_timeout {
                ctx.close(Some(ws::CloseReason {
                    code: ws::CloseCode::Away,
                    description: Some("idle timeout".into()),
                }));
                ctx.stop();
            } else {
                ctx.ping(b"");
            }
        });
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        self.agent.do_send(DetachAgent {
            session_id: self.session_id,
        });
    }
}

impl Handler<AgentPush> for AgentSession {
    type Result = ();
    fn handle(&mut self, msg: AgentPush, ctx: &mut Self::Context) {
        Self::send(ctx, &msg.0);
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
            Ok(msg) => self.agent.do_send(AgentCommand {
                session_id: self.session_id,
                msg,
            }),
            Err(e) => Self::error(ctx, e),
        }
    }
}
