//! The agent's side of a browser call (the customer's actor owns the call:
//! `customer::browser_call`): the one call the agent is in, which of its sockets is in
//! it, and the voice slot it takes — while the agent calls, rings out or talks, its
//! capacity counts a voice conversation (voice is exclusive), so it is offered nothing
//! else and a second call is refused (`conflict`), or answered `busy` when the customer
//! rings. The slot is freed here first whatever the customer's side answers: a hang-up,
//! the socket in the call closing, or the conversation leaving the agent never leaves
//! a stuck slot.

use super::*;
use crate::domain::live_view::{AgentCallView, CallPhase};
use crate::domain::{CallMedia, CallSignal};

/// The call this agent is in.
pub(super) struct AgentCall {
    conversation_id: ConversationId,
    /// `None` while its start is being asked of the customer's actor.
    call_id: Option<String>,
    customer_id: CustomerId,
    /// The agent's socket in the call.
    session: SessionRef,
    /// Signals the agent sent in this call (bounded by `calls.max_signals_per_call`).
    signals: u32,
    media: CallMedia,
    /// Ringing (out, or answered but not yet confirmed) or talking, and since when.
    phase: CallPhase,
    since: Millis,
}

impl AgentCall {
    fn is(&self, call_id: &str) -> bool {
        self.call_id.as_deref() == Some(call_id)
    }

    /// The call as supervisors see it.
    /// The conversation the call is in.
    pub(super) fn conversation(&self) -> ConversationId {
        self.conversation_id
    }

    /// The call as supervisors see it; `queue`: its conversation's.
    pub(super) fn view(&self, queue: Option<QueueName>) -> AgentCallView {
        AgentCallView {
            conversation_id: self.conversation_id,
            media: self.media,
            phase: self.phase,
            since: self.since,
            phone: false,
            queue,
        }
    }
}

impl AgentActor {
    /// Whether a call takes the voice slot.
    pub(super) fn on_call(&self) -> bool {
        self.call.is_some()
    }

    /// Asks the customer's actor `action` for `session`; a refusal goes back to that
    /// socket, and, for a start or an answer (`reserved`), frees the slot it took.
    #[allow(clippy::too_many_arguments)]
    fn ask_call(
        &mut self,
        reserved: bool,
        session: SessionRef,
        customer: CustomerId,
        conversation: ConversationId,
        action: CallAction,
        ctx: &mut Context<Self>,
        answered: impl FnOnce(&mut Self, &SessionRef, Option<crate::domain::CallRing>) + 'static,
    ) {
        // A refusal names the call, or the conversation for a start.
        let reference = match &action {
            CallAction::Start { .. } => conversation.to_string(),
            CallAction::Answer { call_id }
            | CallAction::Signal { call_id, .. }
            | CallAction::Hangup { call_id }
            | CallAction::Busy { call_id }
            | CallAction::Lost { call_id }
            | CallAction::Closed { call_id } => call_id.clone(),
        };
        let msg = self.call_request(conversation, action);
        let engine = self.engine.clone();
        let fut = async move { engine.ask_customer(customer, msg).await };
        ctx.spawn(fut.into_actor(self).map(move |res, act, _| match res {
            Ok(ring) => answered(act, &session, ring),
            Err(e) => {
                let holds = act
                    .call
                    .as_ref()
                    .is_some_and(|c| c.conversation_id == conversation && c.session == session);
                if reserved && holds {
                    act.call = None;
                    act.publish();
                }
                act.error_to(&session, e, Some(reference));
            }
        }));
    }

    /// A request of this agent's side about a call in `conversation`.
    fn call_request(&self, conversation: ConversationId, action: CallAction) -> CallRequest {
        CallRequest {
            conversation_id: Some(conversation),
            from: CallFrom::Agent {
                agent_id: self.profile.id.clone(),
            },
            action,
        }
    }

    /// Takes the voice slot for a call in held `conversation` (`call_id`: the call
    /// answered; `None` for one being started) and asks `action` of the customer's
    /// actor. Refused, nothing taken: not held (`not_yours`), already on a call
    /// (`conflict`).
    #[allow(clippy::too_many_arguments)]
    fn take_slot_and_ask(
        &mut self,
        session: SessionRef,
        conversation: ConversationId,
        call_id: Option<String>,
        media: CallMedia,
        action: CallAction,
        ctx: &mut Context<Self>,
        answered: impl FnOnce(&mut Self, &SessionRef, Option<crate::domain::CallRing>) + 'static,
    ) {
        let reference = call_id.clone().unwrap_or_else(|| conversation.to_string());
        let h = match self.held_or_err(conversation) {
            Ok(h) => h,
            Err(e) => return self.error_to(&session, e, Some(reference)),
        };
        if self.call.is_some() {
            return self.error_to(
                &session,
                EngineError::new(ErrorCode::Conflict, "you are already on a call"),
                Some(reference),
            );
        }
        self.call = Some(AgentCall {
            conversation_id: conversation,
            call_id,
            customer_id: h.customer_id,
            session: session.clone(),
            signals: 0,
            media,
            phase: CallPhase::Ringing,
            since: self.engine.now(),
        });
        self.publish();
        self.ask_call(
            true,
            session,
            h.customer_id,
            conversation,
            action,
            ctx,
            answered,
        );
    }

    pub(super) fn call_start(
        &mut self,
        session: SessionRef,
        conversation: ConversationId,
        media: CallMedia,
        ctx: &mut Context<Self>,
    ) {
        let start = CallAction::Start { media };
        self.take_slot_and_ask(
            session,
            conversation,
            None,
            media,
            start,
            ctx,
            |act, session, ring| {
                let Some(ring) = ring else {
                    return;
                };
                match act.call.as_mut() {
                    Some(c) if c.conversation_id == ring.conversation_id && c.call_id.is_none() => {
                        c.call_id = Some(ring.call_id.clone());
                        act.push_to(session, AgentNotice::CallRinging(ring));
                    }
                    // Ended (or replaced) before the answer came back: hang it up (a
                    // conversation no longer held rings out on its own time-out).
                    _ => {
                        if let Some(customer) =
                            act.held.get(&ring.conversation_id).map(|h| h.customer_id)
                        {
                            let hangup = CallAction::Hangup {
                                call_id: ring.call_id,
                            };
                            let msg = act.call_request(ring.conversation_id, hangup);
                            act.engine.tell_customer(customer, msg);
                        }
                    }
                }
            },
        );
    }

    pub(super) fn call_answer(
        &mut self,
        session: SessionRef,
        conversation: ConversationId,
        call_id: String,
        ctx: &mut Context<Self>,
    ) {
        let answer = CallAction::Answer {
            call_id: call_id.clone(),
        };
        let media = self.rung.get(&call_id).copied().unwrap_or(CallMedia::Audio);
        self.take_slot_and_ask(
            session,
            conversation,
            Some(call_id),
            media,
            answer,
            ctx,
            |_, _, _| {},
        );
    }

    pub(super) fn call_signal(
        &mut self,
        session: SessionRef,
        conversation: ConversationId,
        call_id: String,
        signal: CallSignal,
        ctx: &mut Context<Self>,
    ) {
        let max = self.engine.settings.calls.max_signals_per_call;
        let Some(call) = self.call.as_mut().filter(|c| {
            c.is(&call_id) && c.session == session && c.conversation_id == conversation
        }) else {
            return self.error_to(
                &session,
                EngineError::new(ErrorCode::NotFound, "this socket is not in that call"),
                Some(call_id),
            );
        };
        call.signals += 1;
        if call.signals > max {
            return self.error_to(
                &session,
                EngineError::new(
                    ErrorCode::RateLimited,
                    format!("more than {max} signals in one call"),
                ),
                Some(call_id),
            );
        }
        let customer = call.customer_id;
        self.ask_call(
            false,
            session,
            customer,
            conversation,
            CallAction::Signal { call_id, signal },
            ctx,
            |_, _, _| {},
        );
    }

    pub(super) fn call_hangup(
        &mut self,
        session: SessionRef,
        conversation: ConversationId,
        call_id: String,
        ctx: &mut Context<Self>,
    ) {
        if self.call.as_ref().is_some_and(|c| c.is(&call_id)) {
            self.call = None;
            self.publish();
        }
        let customer = match self.held_or_err(conversation) {
            Ok(h) => h.customer_id,
            Err(e) => return self.error_to(&session, e, Some(call_id)),
        };
        self.ask_call(
            false,
            session,
            customer,
            conversation,
            CallAction::Hangup { call_id },
            ctx,
            |_, _, _| {},
        );
    }

    /// Tells the customer's actor the call ended on this side (`action`), freeing the
    /// slot first.
    fn drop_call(&mut self, action: impl FnOnce(String) -> CallAction) {
        let Some(call) = self.call.take() else {
            return;
        };
        self.publish();
        if let Some(id) = call.call_id {
            let msg = self.call_request(call.conversation_id, action(id));
            self.engine.tell_customer(call.customer_id, msg);
        }
    }

    /// Socket `session` closed: the call it was in ends (`disconnected`).
    pub(super) fn call_socket_gone(&mut self, session: &SessionRef) {
        if self.call.as_ref().is_some_and(|c| c.session == *session) {
            self.drop_call(|call_id| CallAction::Lost { call_id });
        }
    }

    /// Conversation `conv` left the agent: its call ends (`closed`).
    pub(super) fn call_conversation_gone(&mut self, conv: ConversationId) {
        if self
            .call
            .as_ref()
            .is_some_and(|c| c.conversation_id == conv)
        {
            self.drop_call(|call_id| CallAction::Closed { call_id });
        }
    }
}

impl Handler<CallNews> for AgentActor {
    type Result = ();

    fn handle(&mut self, msg: CallNews, _: &mut Context<Self>) {
        match msg {
            CallNews::Incoming(ring) => {
                let held = self.held.get(&ring.conversation_id).map(|h| h.customer_id);
                let refuse = |act: &Self, customer: CustomerId, action: CallAction| {
                    let msg = act.call_request(ring.conversation_id, action);
                    act.engine.tell_customer(customer, msg)
                };
                match held {
                    None => {}
                    Some(customer) if self.call.is_some() || self.sessions.is_empty() => refuse(
                        self,
                        customer,
                        CallAction::Busy {
                            call_id: ring.call_id.clone(),
                        },
                    ),
                    Some(_) => {
                        self.rung.insert(ring.call_id.clone(), ring.media);
                        self.push(AgentNotice::CallIncoming(ring))
                    }
                }
            }
            CallNews::Answered(r) => {
                let now = self.engine.now();
                if let Some(c) = self.call.as_mut().filter(|c| c.is(&r.call_id)) {
                    c.phase = CallPhase::Talking;
                    c.since = now;
                    self.report_live();
                }
                self.push(AgentNotice::CallAnswered(r))
            }
            CallNews::Signal(r) => {
                if let Some(c) = self.call.as_ref().filter(|c| c.is(&r.call_id)) {
                    let session = c.session.clone();
                    self.push_to(&session, AgentNotice::CallSignal(r));
                }
            }
            CallNews::Ended(e) => {
                self.rung.remove(&e.call_id);
                let ours = self.call.as_ref().is_some_and(|c| {
                    c.conversation_id == e.conversation_id
                        && c.call_id.as_ref().is_none_or(|id| *id == e.call_id)
                });
                if ours {
                    self.call = None;
                    self.publish();
                }
                self.push(AgentNotice::CallEnded(e));
            }
        }
    }
}

impl Handler<PhoneHold> for AgentActor {
    type Result = ();
    fn handle(&mut self, msg: PhoneHold, _: &mut Context<Self>) {
        let Some(h) = self.held.get_mut(&msg.conversation_id) else {
            return;
        };
        if h.channel == crate::domain::Channel::Voice && h.on_hold != msg.on_hold {
            h.on_hold = msg.on_hold;
            self.report_live();
        }
    }
}
