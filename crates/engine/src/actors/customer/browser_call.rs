//! Browser calls (WebRTC) in the open conversation, between the visitor's web chat and
//! the agent holding it: this actor owns the call — who called, who answered, which
//! of the visitor's sockets is in it, the ring time-out — writes its `call_started`,
//! `call_answered` and `call_ended` timeline events, and relays each side's WebRTC
//! signals to the other (checked for shape, size and count; never interpreted). The
//! media goes browser to browser. The agent's actor keeps its own side (the voice slot
//! the call takes, which of its sockets is in it: `agent::calls`).
//!
//! A call ends when either side hangs up or declines, the agent is on another call
//! (`busy`), nobody answers within `calls.ring_timeout_ms`, the socket of a side in the
//! call closes (`disconnected`: a page reload ends the call, it is never silently
//! kept), or the conversation leaves the agent (`closed`). The call lives in this
//! actor's memory (the actor stays while it lasts); its events are written as they
//! happen, and a store failure loses the line, never the call.

use super::*;
use crate::domain::{
    AgentId, CallEnd, CallEndReason, CallMedia, CallParty, CallRef, CallRelay, CallRing, CallSignal,
};

/// The call in the open conversation.
pub(super) struct LiveCall {
    id: String,
    conversation_id: ConversationId,
    media: CallMedia,
    /// Who called.
    by: CallParty,
    agent_id: AgentId,
    /// The visitor's socket in the call: the one that called, or that answered.
    customer_session: Option<SessionRef>,
    answered_at: Option<Millis>,
    ring_timer: Option<SpawnHandle>,
    /// Signals the visitor sent in this call (bounded by `calls.max_signals_per_call`).
    customer_signals: u32,
}

impl Handler<CallRequest> for CustomerActor {
    type Result = EngineResult<Option<CallRing>>;

    fn handle(&mut self, msg: CallRequest, ctx: &mut Context<Self>) -> Self::Result {
        self.begin()?;
        let from = msg.from;
        match msg.action {
            CallAction::Start { media } => self
                .start_call(msg.conversation_id, from, media, ctx)
                .map(Some),
            CallAction::Answer { call_id } => {
                self.answer_call(&from, &call_id, ctx)?;
                Ok(None)
            }
            CallAction::Signal { call_id, signal } => {
                self.relay_signal(&from, &call_id, signal)?;
                Ok(None)
            }
            CallAction::Hangup { call_id } => {
                let party = self.party_in(&from, &call_id)?;
                let call = self.call.as_ref().expect("party_in found the call");
                let reason = if call.answered_at.is_none() && call.by != party {
                    CallEndReason::Declined
                } else {
                    CallEndReason::Hangup
                };
                self.end_call(reason, party, ctx);
                Ok(None)
            }
            CallAction::Busy { call_id } => {
                self.ended_by_agent(&from, &call_id, CallEndReason::Busy, CallParty::Agent, ctx)
            }
            CallAction::Lost { call_id } => self.ended_by_agent(
                &from,
                &call_id,
                CallEndReason::Disconnected,
                CallParty::Agent,
                ctx,
            ),
            CallAction::Closed { call_id } => self.ended_by_agent(
                &from,
                &call_id,
                CallEndReason::Closed,
                CallParty::System,
                ctx,
            ),
        }
    }
}

fn no_call() -> EngineError {
    refuse(ErrorCode::NotFound, "no such call in this conversation")
}

fn refuse(code: ErrorCode, message: impl Into<String>) -> EngineError {
    EngineError::new(code, message)
}

impl CustomerActor {
    fn start_call(
        &mut self,
        named: Option<ConversationId>,
        from: CallFrom,
        media: CallMedia,
        ctx: &mut Context<Self>,
    ) -> EngineResult<CallRing> {
        let settings = &self.engine.settings.calls;
        if !settings.allows(media) {
            return Err(refuse(
                ErrorCode::Unavailable,
                format!("browser calls with {} are off", media.as_str()),
            ));
        }
        let conv = self
            .open
            .clone()
            .filter(|c| c.state == ConversationState::Assigned)
            .ok_or_else(|| refuse(ErrorCode::Unavailable, "no agent holds the conversation"))?;
        let agent_id = conv
            .agent
            .clone()
            .ok_or_else(|| refuse(ErrorCode::Unavailable, "no agent holds the conversation"))?;
        let by = match &from {
            CallFrom::Customer { .. } => CallParty::Customer,
            CallFrom::Agent { agent_id: asker } => {
                if *asker != agent_id || named != Some(conv.id) {
                    return Err(refuse(
                        ErrorCode::NotFound,
                        "the conversation is not held by this agent",
                    ));
                }
                if self.chat.is_empty() {
                    return Err(refuse(
                        ErrorCode::Unavailable,
                        "the customer has no web chat open",
                    ));
                }
                CallParty::Agent
            }
        };
        if self.call.is_some() {
            return Err(refuse(
                ErrorCode::Conflict,
                "a call is already live in this conversation",
            ));
        }
        let id = uuid::Uuid::new_v4().to_string();
        let now = self.engine.now();
        let now_s = now.0.max(0) as u64 / 1000;
        let ring = |user: &str| CallRing {
            conversation_id: conv.id,
            call_id: id.clone(),
            media,
            ice_servers: settings.ice_servers_for(user, now_s),
        };
        let (for_customer, for_agent) = (ring(&self.id.to_string()), ring(agent_id.as_str()));
        let timeout = Duration::from_millis(settings.ring_timeout_ms);
        let ring_id = id.clone();
        let ring_timer = ctx.run_later(timeout, move |act, ctx| {
            let unanswered = act
                .call
                .as_ref()
                .is_some_and(|c| c.id == ring_id && c.answered_at.is_none());
            if unanswered {
                act.call.as_mut().expect("the call").ring_timer = None;
                act.end_call(CallEndReason::NoAnswer, CallParty::System, ctx);
            }
        });
        self.call = Some(LiveCall {
            id: id.clone(),
            conversation_id: conv.id,
            media,
            by,
            agent_id: agent_id.clone(),
            customer_session: match from {
                CallFrom::Customer { session } => Some(session),
                CallFrom::Agent { .. } => None,
            },
            answered_at: None,
            ring_timer: Some(ring_timer),
            customer_signals: 0,
        });
        crate::metrics::browser_call("started", media.as_str());
        self.record_call_event(
            conv.id,
            EventKind::CallStarted {
                call_id: id,
                media,
                by,
                agent_id: agent_id.clone(),
            },
            ctx,
        );
        Ok(match by {
            CallParty::Agent => {
                self.push_chat(ChatNotice::CallIncoming(for_customer));
                for_agent
            }
            _ => {
                self.engine
                    .tell_agent(&agent_id, CallNews::Incoming(for_agent));
                for_customer
            }
        })
    }

    /// Which side `from` is in call `call_id`; `not_found` when there is no such call
    /// or the asker is not part of it (another agent, another visitor socket).
    fn party_in(&self, from: &CallFrom, call_id: &str) -> EngineResult<CallParty> {
        let call = self
            .call
            .as_ref()
            .filter(|c| c.id == call_id)
            .ok_or_else(no_call)?;
        match from {
            CallFrom::Agent { agent_id } if *agent_id == call.agent_id => Ok(CallParty::Agent),
            CallFrom::Customer { session }
                if call.customer_session.as_ref().is_none_or(|s| s == session) =>
            {
                Ok(CallParty::Customer)
            }
            _ => Err(refuse(
                ErrorCode::NotFound,
                "this socket is not in the call",
            )),
        }
    }

    fn answer_call(
        &mut self,
        from: &CallFrom,
        call_id: &str,
        ctx: &mut Context<Self>,
    ) -> EngineResult<()> {
        let party = self.party_in(from, call_id)?;
        let now = self.engine.now();
        let call = self.call.as_mut().expect("party_in found the call");
        if call.by == party {
            return Err(EngineError::invalid(
                "a caller does not answer its own call",
            ));
        }
        if call.answered_at.is_some() {
            return Err(refuse(ErrorCode::Conflict, "the call was already answered"));
        }
        call.answered_at = Some(now);
        if let CallFrom::Customer { session } = from {
            call.customer_session = Some(session.clone());
        }
        let timer = call.ring_timer.take();
        let answered_conv = call.conversation_id;
        let answered = CallRef {
            conversation_id: call.conversation_id,
            call_id: call.id.clone(),
        };
        let agent_id = call.agent_id.clone();
        if let Some(t) = timer {
            ctx.cancel_future(t);
        }
        self.push_chat(ChatNotice::CallAnswered(answered.clone()));
        self.engine
            .tell_agent(&agent_id, CallNews::Answered(answered));
        self.record_call_event(
            answered_conv,
            EventKind::CallAnswered {
                call_id: call_id.to_owned(),
            },
            ctx,
        );
        Ok(())
    }

    fn relay_signal(
        &mut self,
        from: &CallFrom,
        call_id: &str,
        signal: CallSignal,
    ) -> EngineResult<()> {
        let party = self.party_in(from, call_id)?;
        let settings = &self.engine.settings.calls;
        let call = self.call.as_mut().expect("party_in found the call");
        if call.answered_at.is_none() {
            return Err(refuse(ErrorCode::Conflict, "the call is not answered yet"));
        }
        if party == CallParty::Customer && call.customer_session.is_none() {
            return Err(refuse(
                ErrorCode::NotFound,
                "this socket is not in the call",
            ));
        }
        signal
            .check(settings.max_signal_bytes)
            .map_err(EngineError::invalid)?;
        let relay = CallRelay {
            conversation_id: call.conversation_id,
            call_id: call.id.clone(),
            signal,
        };
        match party {
            CallParty::Customer => {
                call.customer_signals += 1;
                if call.customer_signals > settings.max_signals_per_call {
                    return Err(refuse(
                        ErrorCode::RateLimited,
                        format!(
                            "more than {} signals in one call",
                            settings.max_signals_per_call
                        ),
                    ));
                }
                let agent_id = call.agent_id.clone();
                self.engine.tell_agent(&agent_id, CallNews::Signal(relay));
            }
            _ => self.push_chat(ChatNotice::CallSignal(relay)),
        }
        Ok(())
    }

    /// The agent's actor ends call `call_id` (`busy`, its socket lost, the
    /// conversation closed); a call already over is not an error.
    fn ended_by_agent(
        &mut self,
        from: &CallFrom,
        call_id: &str,
        reason: CallEndReason,
        by: CallParty,
        ctx: &mut Context<Self>,
    ) -> EngineResult<Option<CallRing>> {
        if !matches!(from, CallFrom::Agent { .. }) {
            return Err(refuse(
                ErrorCode::Forbidden,
                "only the agent's side says that",
            ));
        }
        if self.party_in(from, call_id).is_ok() {
            self.end_call(reason, by, ctx);
        }
        Ok(None)
    }

    /// Ends the call (if any): both sides are told, `call_ended` is written.
    pub(super) fn end_call(
        &mut self,
        reason: CallEndReason,
        by: CallParty,
        ctx: &mut Context<Self>,
    ) {
        let Some(call) = self.call.take() else {
            return;
        };
        if let Some(t) = call.ring_timer {
            ctx.cancel_future(t);
        }
        let duration_ms = call.answered_at.map_or(0, |a| self.engine.now().since(a));
        let end = CallEnd {
            conversation_id: call.conversation_id,
            call_id: call.id.clone(),
            reason,
            by,
            duration_ms,
        };
        self.push_chat(ChatNotice::CallEnded(end.clone()));
        self.engine.tell_agent(&call.agent_id, CallNews::Ended(end));
        crate::metrics::browser_call(reason.as_str(), call.media.as_str());
        self.record_call_event(
            call.conversation_id,
            EventKind::CallEnded {
                call_id: call.id,
                reason,
                by,
                duration_ms,
            },
            ctx,
        );
    }

    /// A visitor socket closed: the call it was in ends, and so does one ringing at a
    /// visitor who has no socket left.
    pub(super) fn call_socket_gone(&mut self, session: &SessionRef, ctx: &mut Context<Self>) {
        let Some(call) = &self.call else {
            return;
        };
        let in_call = call.customer_session.as_ref() == Some(session);
        let ringing_nobody = call.customer_session.is_none() && self.chat.is_empty();
        if in_call || ringing_nobody {
            self.end_call(CallEndReason::Disconnected, CallParty::Customer, ctx);
        }
    }

    /// Whether a call keeps the actor from being passivated.
    pub(super) fn in_call(&self) -> bool {
        self.call.is_some()
    }

    /// Writes a call event of the open conversation; once stored, the agent and the
    /// visitor see it in the timeline. A failed write is logged (the call goes on).
    fn record_call_event(
        &mut self,
        conversation: ConversationId,
        kind: EventKind,
        ctx: &mut Context<Self>,
    ) {
        let ev = TimelineEvent::new(self.id, Some(conversation), self.engine.now(), kind);
        // The agent sees it while it holds the conversation (a call ended by the
        // conversation leaving it is in the timeline the next agent loads).
        let held = self.open.clone().filter(|c| c.id == conversation);
        let store = self.engine.store.clone();
        let batch = Batch::default().event(ev.clone());
        ctx.wait(
            async move { store.commit(batch).await }
                .into_actor(self)
                .map(move |res, act, _| match res {
                    Ok(()) => {
                        act.remember(&ev);
                        if let Some(conv) = held {
                            act.tell_agent_event(
                                &conv,
                                ConversationEvent {
                                    conversation_id: conv.id,
                                    event: ev.clone(),
                                },
                            );
                        }
                        act.push_chat(ChatNotice::Event { event: ev });
                    }
                    Err(e) => {
                        tracing::warn!(customer = %act.id, kind = ev.kind.type_name(), error = %e, "a call event could not be stored")
                    }
                }),
        );
    }
}
