//! Parking: an agent (or the engine, after the customer's silence) sets an assigned
//! conversation on an asynchronous channel aside, freeing the agent's slot; the agent
//! may take it back or resolve it; the customer's next message queues it again
//! (`inbound.rs`), sticky to that agent.

use super::*;

impl CustomerActor {
    /// The open conversation `conv_id` when `agent` parked it.
    fn open_parked_by(
        &self,
        conv_id: ConversationId,
        agent: &crate::domain::AgentId,
    ) -> EngineResult<Conversation> {
        self.open_if(conv_id, |c| {
            c.state == ConversationState::Parked && c.preferred_agent.as_ref() == Some(agent)
        })
    }

    /// Since when the customer of `conv` has been silent: their last message in it, or
    /// its assignment, whichever came last (the conversation's last change when the
    /// recent events hold neither).
    fn silent_since(&self, conv: &Conversation) -> Millis {
        self.recent
            .iter()
            .rev()
            .filter(|e| e.conversation_id == Some(conv.id))
            .find_map(|e| match &e.kind {
                EventKind::MessageIn { .. } | EventKind::Assigned { .. } => Some(e.at),
                _ => None,
            })
            .unwrap_or(conv.updated_at)
    }

    /// The parked `conv` queued again, sticky to the agent who parked it, and the
    /// batch that stores it.
    pub(super) fn unparked(&self, conv: &Conversation, now: Millis) -> (Conversation, Batch) {
        let (updated, queued) = decide::unpark(self.id, conv, self.engine.next_enqueue_seq(), now);
        let batch = Batch::default().event(queued).conversation(updated.clone());
        (updated, batch)
    }

    /// `before` was parked and is now `after` (queued again, transferred, resolved):
    /// the agent who parked it takes it off their parked list.
    pub(super) fn tell_parker(&self, before: &Conversation, after: &Conversation) {
        if before.state != ConversationState::Parked {
            return;
        }
        if let Some(agent) = &before.preferred_agent {
            self.engine.tell_agent(
                agent,
                ParkedLeft {
                    conversation_id: after.id,
                    state: after.state,
                },
            );
        }
    }

    /// After an unpark is stored: the queue is told until it takes the conversation
    /// (a forced enqueue is never refused), the parking agent's list loses it.
    pub(super) fn unpark_applied(&mut self, before: &Conversation, after: &Conversation) {
        crate::metrics::conversation_unparked(&after.queue);
        self.open = Some(after.clone());
        self.tell_parker(before, after);
        let enqueue = self.enqueue_msg(after, self.last_customer_text(), true);
        self.engine.tell_queue_until_taken(&after.queue, enqueue);
        self.push_chat_state(after, None, None);
    }
}

impl Handler<Park> for CustomerActor {
    type Result = Atomic<()>;

    fn handle(&mut self, msg: Park, _: &mut Context<Self>) -> Self::Result {
        try_atomic!(self.begin());
        let conv = try_atomic!(self.open_held_by(msg.conversation_id, &msg.agent_id));
        if conv.state != ConversationState::Assigned {
            return done(Err(EngineError::invalid(
                "only an assigned conversation parks (this one is in wrap-up)",
            )));
        }
        if !conv.channel.capabilities().parks {
            return done(Err(EngineError::invalid(format!(
                "a {} conversation cannot be parked; only {} ones",
                conv.channel.as_str(),
                crate::domain::channels_where(|k| k.parks)
            ))));
        }
        let now = self.engine.now();
        if msg.auto {
            let after = self.engine.settings.parking.auto_park_after_ms;
            let since = self.silent_since(&conv);
            if after == 0 || now.since(since) < after {
                return done(Err(EngineError::new(
                    ErrorCode::Conflict,
                    "the customer wrote since; not parked",
                )));
            }
        }
        let mut updated = conv.clone();
        updated.state = ConversationState::Parked;
        updated.agent = None;
        updated.preferred_agent = Some(msg.agent_id.clone());
        updated.required_agent = None;
        updated.updated_at = now;
        let ev = TimelineEvent::new(
            self.id,
            Some(conv.id),
            now,
            EventKind::Parked {
                agent_id: msg.agent_id.clone(),
                auto: msg.auto,
            },
        );
        let batch = Batch::default()
            .event(ev.clone())
            .conversation(updated.clone());
        let batch = self.reported(batch, Some(&conv), &updated);
        let auto = msg.auto;
        self.commit_then(batch, move |act| {
            act.remember(&ev);
            crate::metrics::conversation_parked(&updated.queue, auto);
            act.open = Some(updated.clone());
            act.push_chat_state(&updated, None, None);
            Ok(())
        })
    }
}

impl Handler<Unpark> for CustomerActor {
    type Result = Atomic<()>;

    fn handle(&mut self, msg: Unpark, _: &mut Context<Self>) -> Self::Result {
        try_atomic!(self.begin());
        let conv = try_atomic!(self.open_parked_by(msg.conversation_id, &msg.agent_id));
        if !self.engine.queue_exists(&conv.queue) {
            return done(Err(EngineError::not_found("queue")));
        }
        let now = self.engine.now();
        let (updated, batch) = self.unparked(&conv, now);
        let batch = self.reported(batch, Some(&conv), &updated);
        let events = batch.events.clone();
        self.commit_then(batch, move |act| {
            for e in &events {
                act.remember(e);
            }
            act.unpark_applied(&conv, &updated);
            Ok(())
        })
    }
}

impl CustomerActor {
    /// The agent who parked `conv_id` resolves it without taking it back.
    pub(super) fn parked_resolvable(
        &self,
        conv_id: ConversationId,
        agent: &crate::domain::AgentId,
    ) -> EngineResult<Conversation> {
        self.open_parked_by(conv_id, agent)
    }
}
