//! The conversations the agent holds: writing replies and notes, wrap-up and close,
//! transfer, the customer's history, and what the customer actors tell it (events,
//! a conversation leaving, typing, held conversations restored after a restart).

use super::*;

impl AgentActor {
    /// The agent's sockets are shown `view` (a welcome, an assignment): its events
    /// count as shown.
    pub(super) fn listed(&mut self, view: &crate::domain::view::ConversationView) {
        let newest = view
            .recent
            .iter()
            .filter(|e| e.conversation_id == Some(view.id))
            .map(|e| e.id)
            .max();
        if let Some(h) = self.held.get_mut(&view.id) {
            h.shown = h.shown.max(newest);
        }
    }

    /// The customer's side closed a conversation this agent holds: tell the sockets and
    /// free the slot.
    pub(super) fn left(
        &mut self,
        conv: ConversationId,
        state: ConversationState,
        ctx: &mut Context<Self>,
    ) {
        if self.held.contains_key(&conv) {
            self.push(AgentNotice::ConversationUpdated {
                conversation_id: conv,
                state,
                held: false,
            });
            self.released(conv, ctx);
        }
    }

    /// A slot freed (resolve, transfer, customer left).
    pub(super) fn released(&mut self, conv: ConversationId, ctx: &mut Context<Self>) {
        if self.held.remove(&conv).is_some() {
            if self.held.is_empty() {
                self.idle_since = self.engine.now();
            }
            self.publish();
            self.pull(ctx);
        }
    }

    pub(super) fn held_or_err(&self, conv: ConversationId) -> EngineResult<Held> {
        self.held
            .get(&conv)
            .cloned()
            .ok_or_else(EngineError::not_yours)
    }

    pub(super) fn write(
        &mut self,
        session: SessionRef,
        conv: ConversationId,
        client_msg_id: String,
        text: String,
        writing: Writing,
        ctx: &mut Context<Self>,
    ) {
        let (note, channel) = match writing {
            Writing::Reply(c) => (false, c),
            Writing::Note => (true, None),
        };
        let h = match self.held_or_err(conv) {
            Ok(h) => h,
            Err(e) => return self.error_to(&session, e, Some(client_msg_id)),
        };
        if client_msg_id.is_empty() || client_msg_id.len() > crate::domain::ids::MAX_CLIENT_MSG_ID {
            return self.error_to(
                &session,
                EngineError::invalid("client_msg_id must be 1 to 128 bytes"),
                Some(client_msg_id),
            );
        }
        let msg = AgentWrite {
            conversation_id: conv,
            agent_id: self.profile.id.clone(),
            client_msg_id: client_msg_id.clone(),
            text,
            note,
            channel,
        };
        let engine = self.engine.clone();
        let fut = async move { engine.ask_customer(h.customer_id, msg).await };
        ctx.spawn(fut.into_actor(self).map(move |res, act, _| match res {
            Ok(ack) => act.push_to(
                &session,
                AgentNotice::Ack {
                    client_msg_id,
                    conversation_id: ack.conversation_id,
                    event_id: ack.event_id,
                    duplicate: ack.duplicate,
                },
            ),
            Err(e) => act.error_to(&session, e, Some(client_msg_id)),
        }));
    }

    pub(super) fn close(
        &mut self,
        session: SessionRef,
        conv: ConversationId,
        kind: CloseKind,
        disposition: Option<String>,
        ctx: &mut Context<Self>,
    ) {
        let h = match self.held_or_err(conv) {
            Ok(h) => h,
            Err(e) => return self.error_to(&session, e, Some(conv.to_string())),
        };
        let msg = CloseConversation {
            conversation_id: conv,
            agent_id: self.profile.id.clone(),
            kind,
            disposition,
        };
        let engine = self.engine.clone();
        let fut = async move { engine.ask_customer(h.customer_id, msg).await };
        ctx.spawn(fut.into_actor(self).map(move |res, act, ctx| match res {
            Ok(()) => {
                let state = match kind {
                    CloseKind::WrapUp => ConversationState::WrapUp,
                    CloseKind::Resolve => ConversationState::Resolved,
                };
                act.push(AgentNotice::ConversationUpdated {
                    conversation_id: conv,
                    state,
                    held: kind == CloseKind::WrapUp,
                });
                match kind {
                    CloseKind::WrapUp => {
                        if let Some(h) = act.held.get_mut(&conv) {
                            h.state = ConversationState::WrapUp;
                        }
                    }
                    CloseKind::Resolve => act.released(conv, ctx),
                }
            }
            Err(e) => act.error_to(&session, e, Some(conv.to_string())),
        }));
    }

    pub(super) fn transfer(
        &mut self,
        session: SessionRef,
        conv: ConversationId,
        queue: Option<QueueName>,
        agent: Option<crate::domain::AgentId>,
        ctx: &mut Context<Self>,
    ) {
        let h = match self.held_or_err(conv) {
            Ok(h) => h,
            Err(e) => return self.error_to(&session, e, Some(conv.to_string())),
        };
        let msg = Transfer {
            conversation_id: conv,
            from_agent: Some(self.profile.id.clone()),
            to_queue: queue,
            to_agent: agent,
        };
        let engine = self.engine.clone();
        let fut = async move { engine.ask_customer(h.customer_id, msg).await };
        ctx.spawn(fut.into_actor(self).map(move |res, act, ctx| match res {
            Ok(()) => {
                act.push(AgentNotice::ConversationUpdated {
                    conversation_id: conv,
                    state: ConversationState::Queued,
                    held: false,
                });
                act.released(conv, ctx);
            }
            Err(e) => act.error_to(&session, e, Some(conv.to_string())),
        }));
    }

    pub(super) fn history(
        &mut self,
        session: SessionRef,
        customer: CustomerId,
        before: Option<crate::domain::EventId>,
        limit: Option<usize>,
        request_id: Option<String>,
        ctx: &mut Context<Self>,
    ) {
        let max = self.engine.settings.limits.max_page;
        let limit = limit.unwrap_or(50);
        if limit == 0 || limit > max {
            return self.error_to(
                &session,
                EngineError::invalid(format!("limit must be 1 to {max}")),
                request_id,
            );
        }
        let holds = self.held.values().any(|h| h.customer_id == customer);
        let store = self.engine.store.clone();
        let me = self.profile.id.clone();
        let fut = async move {
            // Agents read customers they hold or have served.
            if !holds {
                let convs = store
                    .conversations_of(customer)
                    .await
                    .map_err(EngineError::unavailable)?;
                if !convs.iter().any(|c| c.agent.as_ref() == Some(&me)) {
                    return Err(EngineError::new(
                        ErrorCode::Forbidden,
                        "you have not served this customer",
                    ));
                }
            }
            let mut events = crate::actors::timeline::timeline(&store, customer, before, limit + 1)
                .await
                .map_err(EngineError::unavailable)?;
            let more = events.len() > limit;
            events.truncate(limit);
            Ok((events, more))
        };
        ctx.spawn(fut.into_actor(self).map(move |res, act, _| match res {
            Ok((events, more)) => act.push_to(
                &session,
                AgentNotice::History {
                    request_id,
                    customer_id: customer,
                    events,
                    more,
                },
            ),
            Err(e) => act.error_to(&session, e, request_id),
        }));
    }
}

/// What an agent is writing: a reply to the customer (on a chosen channel, or the
/// default one) or an internal note.
pub(super) enum Writing {
    Reply(Option<crate::domain::Channel>),
    Note,
}

impl Handler<ConversationEvent> for AgentActor {
    type Result = ();
    fn handle(&mut self, msg: ConversationEvent, _: &mut Context<Self>) {
        if let Some(h) = self.held.get_mut(&msg.conversation_id) {
            // The customer moved (e.g. called in, or went to video): the conversation now
            // uses that channel's capacity, so a call makes the agent exclusive to it.
            if let Some(i) = h.caught.iter().position(|id| *id == msg.event.id) {
                // Already pushed: a catch-up got there first.
                h.caught.swap_remove(i);
                return;
            }
            h.shown = h.shown.max(Some(msg.event.id));
            if let crate::domain::EventKind::ChannelSwitched { to, .. } = &msg.event.kind {
                if h.class != to.class() {
                    h.class = to.class();
                    self.publish();
                }
            }
            self.push(AgentNotice::Event {
                conversation_id: msg.conversation_id,
                event: msg.event,
            });
        }
    }
}

impl Handler<ConversationLeft> for AgentActor {
    type Result = ();
    fn handle(&mut self, msg: ConversationLeft, ctx: &mut Context<Self>) {
        if let Some(left) = self.assigning.get_mut(&msg.conversation_id) {
            // Overtook the assignment's answer: told after it (see `assigning`).
            *left = Some(msg.state);
            return;
        }
        self.left(msg.conversation_id, msg.state, ctx);
    }
}

impl Handler<Typing> for AgentActor {
    type Result = ();
    fn handle(&mut self, msg: Typing, _: &mut Context<Self>) {
        if let Some(c) = msg.conversation_id.filter(|c| self.held.contains_key(c)) {
            self.push(AgentNotice::CustomerTyping { conversation_id: c });
        }
    }
}

impl Handler<CatchUp> for AgentActor {
    type Result = ();
    fn handle(&mut self, msg: CatchUp, ctx: &mut Context<Self>) {
        let conv = msg.conversation_id;
        // Only past what this actor knows it showed: a conversation never listed here
        // is listed whole by the next welcome.
        let Some(shown) = self.held.get(&conv).and_then(|h| h.shown) else {
            return;
        };
        if msg.last <= shown {
            return;
        }
        let engine = self.engine.clone();
        let ask = engine.ask_customer(
            msg.customer_id,
            GetConversationView {
                conversation_id: conv,
            },
        );
        // Before the next message: events told after this one find them shown.
        ctx.wait(ask.into_actor(self).map(move |res, act, _| {
            let Ok(view) = res else {
                return;
            };
            let Some(h) = act.held.get_mut(&conv) else {
                return;
            };
            let from = h.shown;
            let missed: Vec<crate::domain::TimelineEvent> = view
                .recent
                .into_iter()
                .filter(|e| e.conversation_id == Some(conv) && from.is_none_or(|s| e.id > s))
                .collect();
            if let Some(last) = missed.last() {
                h.shown = Some(last.id);
            }
            // Their own messages may still come (from the old node, late): bounded by
            // what one catch-up pushes, forgotten at the next one.
            h.caught = missed.iter().map(|e| e.id).collect();
            if !missed.is_empty() {
                tracing::info!(conversation = %conv, missed = missed.len(), "events the agent missed pushed after the customer's actor moved");
            }
            for event in missed {
                act.push(AgentNotice::Event {
                    conversation_id: conv,
                    event,
                });
            }
        }));
    }
}

impl Handler<RestoreHeld> for AgentActor {
    type Result = ();
    fn handle(&mut self, msg: RestoreHeld, _: &mut Context<Self>) {
        for (conv, customer, channel, _queue) in msg.conversations {
            let channel: Channel = channel;
            if self.held.contains_key(&conv) {
                // Read by the actor itself at its start: what it showed stays.
                continue;
            }
            self.held.insert(
                conv,
                Held {
                    customer_id: customer,
                    class: channel.class(),
                    state: ConversationState::Assigned,
                    shown: None,
                    caught: Vec::new(),
                },
            );
        }
    }
}
