//! Parking from the agent's side: the agent parks a conversation it holds (or this
//! actor does, after the customer's silence), which frees the slot and lists it as
//! parked, within `parking.max_per_agent`; the agent takes one back. The customer's
//! actor is the authority (`customer/park.rs`); this actor moves the conversation
//! between its held and parked lists once that actor stored the change.

use super::*;

impl AgentActor {
    /// Parks `conv`, held by this agent. `session`: the socket that asked (told of a
    /// refusal); `None` when this actor parks it after the customer's silence.
    pub(super) fn park(
        &mut self,
        session: Option<SessionRef>,
        conv: ConversationId,
        ctx: &mut Context<Self>,
    ) {
        let asker = session.clone();
        let refuse = move |act: &Self, e: EngineError| {
            if let Some(s) = &asker {
                act.error_to(s, e, Some(conv.to_string()));
            }
        };
        let h = match self.held_or_err(conv) {
            Ok(h) => h,
            Err(e) => return refuse(self, e),
        };
        if self.parking.contains(&conv) {
            return refuse(self, EngineError::invalid("already being parked"));
        }
        let max = self.engine.settings.parking.max_per_agent;
        if self.parked.len() + self.parking.len() >= max {
            return refuse(
                self,
                EngineError::new(
                    ErrorCode::Conflict,
                    format!("{max} conversations parked already (parking.max_per_agent)"),
                ),
            );
        }
        let auto = session.is_none();
        let msg = Park {
            conversation_id: conv,
            agent_id: self.profile.id.clone(),
            auto,
        };
        self.parking.insert(conv);
        let engine = self.engine.clone();
        let customer = h.customer_id;
        let fut = async move { engine.ask_customer(customer, msg).await };
        ctx.spawn(fut.into_actor(self).map(move |res, act, ctx| {
            act.parking.remove(&conv);
            match res {
                Ok(()) => {
                    let Some(h) = act.held.get(&conv) else {
                        return;
                    };
                    let view = ParkedView {
                        conversation_id: conv,
                        customer_id: h.customer_id,
                        channel: h.channel,
                        queue: h.queue.clone(),
                        parked_at: act.engine.now(),
                        auto,
                    };
                    act.parked.insert(conv, view);
                    act.push(AgentNotice::ConversationUpdated {
                        conversation_id: conv,
                        state: ConversationState::Parked,
                        held: false,
                    });
                    act.released(conv, ctx);
                }
                Err(e) => {
                    if auto {
                        tracing::debug!(agent = %act.profile.id, conversation = %conv, error = %e, "auto-park not made");
                    }
                    refuse(act, e)
                }
            }
        }));
    }

    /// The agent takes back `conv`, which it parked: it waits in its queue for this
    /// agent (the queue's sticky wait), and leaves the parked list.
    pub(super) fn unpark(
        &mut self,
        session: SessionRef,
        conv: ConversationId,
        ctx: &mut Context<Self>,
    ) {
        let Some(p) = self.parked.get(&conv) else {
            return self.error_to(&session, EngineError::not_yours(), Some(conv.to_string()));
        };
        let msg = Unpark {
            conversation_id: conv,
            agent_id: self.profile.id.clone(),
        };
        let engine = self.engine.clone();
        let customer = p.customer_id;
        let fut = async move { engine.ask_customer(customer, msg).await };
        ctx.spawn(fut.into_actor(self).map(move |res, act, _| match res {
            // The customer's actor tells this one too (`ParkedLeft`); whichever comes
            // first lists it out.
            Ok(()) => act.parked_left(conv, ConversationState::Queued),
            Err(e) => act.error_to(&session, e, Some(conv.to_string())),
        }));
    }

    /// `conv` left the parked list (`state`: where it went); the sockets are told once.
    fn parked_left(&mut self, conv: ConversationId, state: ConversationState) {
        if self.parked.remove(&conv).is_some() {
            self.push(AgentNotice::ConversationUpdated {
                conversation_id: conv,
                state,
                held: false,
            });
        }
    }

    /// Every `parking.check_ms`, parks the held asynchronous conversations whose
    /// customer has been silent for `parking.auto_park_after_ms` (off at 0).
    pub(super) fn watch_silence(&mut self, ctx: &mut Context<Self>) {
        let cfg = &self.engine.settings.parking;
        if cfg.auto_park_after_ms == 0 {
            return;
        }
        ctx.run_interval(Duration::from_millis(cfg.check_ms), |act, ctx| {
            let after = act.engine.settings.parking.auto_park_after_ms;
            let now = act.engine.now();
            let mut silent: Vec<(Millis, ConversationId)> = act
                .held
                .iter()
                .filter(|(c, h)| {
                    h.parks
                        && h.state == ConversationState::Assigned
                        && now.since(h.silent_since) >= after
                        && !act.parking.contains(c)
                        && !act.assigning.contains_key(c)
                })
                .map(|(c, h)| (h.silent_since, *c))
                .collect();
            // The longest silent first, while the bound allows.
            silent.sort();
            let room = act
                .engine
                .settings
                .parking
                .max_per_agent
                .saturating_sub(act.parked.len() + act.parking.len());
            for (_, conv) in silent.into_iter().take(room) {
                act.park(None, conv, ctx);
            }
        });
    }
}

impl Handler<ParkedLeft> for AgentActor {
    type Result = ();
    fn handle(&mut self, msg: ParkedLeft, _: &mut Context<Self>) {
        self.parked_left(msg.conversation_id, msg.state);
    }
}
