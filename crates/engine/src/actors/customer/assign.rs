//! Assignment: a queue's offer accepted by an agent makes the waiting conversation
//! theirs (or, not confirmed to the agent, puts it back in its queue); and the
//! agent's view of it.

use super::*;

impl Handler<Assign> for CustomerActor {
    type Result = Atomic<ConversationView>;

    fn handle(&mut self, msg: Assign, _: &mut Context<Self>) -> Self::Result {
        let customer = try_atomic!(self.begin()).clone();
        let conv = match &self.open {
            Some(c) if c.id == msg.conversation_id && c.state == ConversationState::Queued => {
                c.clone()
            }
            _ => {
                return done(Err(EngineError::new(
                    ErrorCode::OfferNotFound,
                    "the conversation is no longer waiting",
                )))
            }
        };
        let now = self.engine.now();
        let mut updated = conv.clone();
        updated.state = ConversationState::Assigned;
        updated.agent = Some(msg.agent_id.clone());
        updated.required_agent = None;
        updated.updated_at = now;
        let mut cust = customer.clone();
        cust.last_agent = Some(msg.agent_id.clone());
        let ev = TimelineEvent::new(
            self.id,
            Some(conv.id),
            now,
            EventKind::Assigned {
                agent_id: msg.agent_id.clone(),
            },
        );
        let batch = Batch {
            events: vec![ev.clone()],
            conversations: vec![updated.clone()],
            customers: vec![cust.clone()],
            ..Default::default()
        };
        let batch = self.reported(batch, Some(&conv), &updated);
        self.commit_then(batch, move |act| {
            let since = act.facts.waiting_since(updated.id, updated.enqueued_at);
            crate::metrics::answered(&updated.queue, now.since(since));
            act.customer = Some(cust);
            act.remember(&ev);
            act.open = Some(updated.clone());
            act.push_chat_state(&updated, Some(msg.agent_name.clone()), None);
            Ok(act.conversation_view(&updated))
        })
    }
}

impl Handler<AssignFailed> for CustomerActor {
    type Result = ();

    fn handle(&mut self, msg: AssignFailed, ctx: &mut Context<Self>) {
        let Some(conv) = self.open.as_ref().filter(|c| c.id == msg.conversation_id) else {
            return;
        };
        match conv.state {
            ConversationState::Queued => {
                tracing::info!(conversation = %conv.id, agent = %msg.agent_id, "assignment not made: the conversation waits in its queue again");
                let enqueue = Enqueue {
                    failed_offer: Some(msg.offer_id),
                    ..self.enqueue_msg(conv, self.last_customer_text(), true)
                };
                self.engine.tell_queue_until_taken(&conv.queue, enqueue);
            }
            ConversationState::Assigned if conv.agent.as_ref() == Some(&msg.agent_id) => {
                tracing::info!(conversation = %conv.id, agent = %msg.agent_id, "assignment made but not confirmed to the agent: requeued");
                ctx.notify(Requeue {
                    conversation_id: conv.id,
                    overflow_to: None,
                    reason: "assignment_unconfirmed".into(),
                });
            }
            _ => {}
        }
    }
}

impl Handler<GetConversationView> for CustomerActor {
    type Result = EngineResult<ConversationView>;

    fn handle(&mut self, msg: GetConversationView, _: &mut Context<Self>) -> Self::Result {
        self.check_ready()?;
        self.open_with(msg.conversation_id)
            .map(|c| self.conversation_view(c))
    }
}
