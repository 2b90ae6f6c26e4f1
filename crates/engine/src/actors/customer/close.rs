//! Closing: wrap-up and resolve by the agent (of a conversation they hold or parked),
//! and the visitor leaving the chat.

use super::*;

impl Handler<CloseConversation> for CustomerActor {
    type Result = Atomic<()>;

    fn handle(&mut self, msg: CloseConversation, _: &mut Context<Self>) -> Self::Result {
        try_atomic!(self.begin());
        let conv = match self.open_held_by(msg.conversation_id, &msg.agent_id) {
            Ok(c) => c,
            // The agent who parked it may resolve it without taking it back.
            Err(_) if msg.kind == CloseKind::Resolve => {
                try_atomic!(self.parked_resolvable(msg.conversation_id, &msg.agent_id))
            }
            Err(e) => return done(Err(e)),
        };
        if let Some(d) = &msg.disposition {
            if d.len() > 200 {
                return done(Err(EngineError::invalid(
                    "disposition longer than 200 bytes",
                )));
            }
        }
        if msg.kind == CloseKind::Resolve {
            try_atomic!(self
                .engine
                .wrapup_check(&conv.queue, msg.disposition.as_deref()));
        }
        let now = self.engine.now();
        let mut updated = conv.clone();
        updated.updated_at = now;
        let kind = match msg.kind {
            CloseKind::WrapUp => {
                updated.state = ConversationState::WrapUp;
                EventKind::WrapUp {
                    agent_id: msg.agent_id.clone(),
                }
            }
            CloseKind::Resolve => {
                updated.state = ConversationState::Resolved;
                updated.disposition = msg.disposition.clone();
                EventKind::Resolved {
                    agent_id: Some(msg.agent_id.clone()),
                    disposition: msg.disposition.clone(),
                }
            }
        };
        let ev = TimelineEvent::new(self.id, Some(conv.id), now, kind);
        let batch = Batch::default()
            .event(ev.clone())
            .conversation(updated.clone());
        let mut batch = self.reported(batch, Some(&conv), &updated);
        let survey = self.survey_on_resolve(&mut batch, &updated);
        self.commit_then(batch, move |act| {
            act.remember(&ev);
            act.survey_sent(survey);
            if updated.state == ConversationState::Resolved {
                crate::metrics::conversation_resolved(&updated.queue);
                act.engine.live(crate::live::LiveEvent::Closed {
                    queue: updated.queue.clone(),
                    conversation: updated.id,
                });
                act.open = None;
                act.last_closed = Some(updated.clone());
            } else {
                act.open = Some(updated.clone());
            }
            act.push_chat_state(&updated, None, None);
            Ok(())
        })
    }
}

impl Handler<CustomerLeave> for CustomerActor {
    type Result = Atomic<()>;

    fn handle(&mut self, _: CustomerLeave, ctx: &mut Context<Self>) -> Self::Result {
        try_atomic!(self.begin());
        let Some(conv) = self.open.clone() else {
            return done(Ok(()));
        };
        if conv.state == ConversationState::Queued {
            // A visitor who asked for a callback may close the chat: the call comes.
            if !self.callback_pending(conv.id) {
                self.abandon(ctx, false);
            }
            return done(Ok(()));
        }
        // Assigned, in wrap-up or parked: the customer is gone; close it for the agent.
        let now = self.engine.now();
        let mut updated = conv.clone();
        updated.state = ConversationState::Resolved;
        updated.disposition = Some("customer_left".into());
        updated.updated_at = now;
        let ev = TimelineEvent::new(
            self.id,
            Some(conv.id),
            now,
            EventKind::Resolved {
                agent_id: None,
                disposition: Some("customer_left".into()),
            },
        );
        let batch = Batch::default()
            .event(ev.clone())
            .conversation(updated.clone());
        let batch = self.reported(batch, Some(&conv), &updated);
        self.commit_then(batch, move |act| {
            act.remember(&ev);
            act.tell_parker(&conv, &updated);
            act.open = None;
            act.last_closed = Some(updated.clone());
            crate::metrics::conversation_resolved(&updated.queue);
            act.engine.live(crate::live::LiveEvent::Closed {
                queue: updated.queue.clone(),
                conversation: updated.id,
            });
            act.tell_agent_event(
                &conv,
                ConversationEvent {
                    conversation_id: conv.id,
                    event: ev.clone(),
                },
            );
            act.tell_agent(
                &conv,
                ConversationLeft {
                    conversation_id: conv.id,
                    state: ConversationState::Resolved,
                },
            );
            act.push_chat_state(&updated, None, None);
            Ok(())
        })
    }
}
