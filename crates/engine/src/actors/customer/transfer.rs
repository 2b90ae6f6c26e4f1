//! Transfers to a queue or a person, and requeueing a conversation whose agent is
//! gone.

use super::*;

impl Handler<Transfer> for CustomerActor {
    type Result = Atomic<()>;

    fn handle(&mut self, msg: Transfer, _: &mut Context<Self>) -> Self::Result {
        try_atomic!(self.begin());
        let conv = match &msg.from_agent {
            Some(a) => try_atomic!(self.open_held_by(msg.conversation_id, a)),
            None => try_atomic!(self.open_with(msg.conversation_id)).clone(),
        };
        if msg.to_queue.is_none() && msg.to_agent.is_none() {
            return done(Err(EngineError::invalid(
                "transfer needs a queue or an agent",
            )));
        }
        if msg.to_agent.is_some() && msg.to_agent == msg.from_agent {
            return done(Err(EngineError::invalid("cannot transfer to yourself")));
        }
        let to_queue = msg.to_queue.clone().unwrap_or_else(|| conv.queue.clone());
        if !self.engine.queue_exists(&to_queue) {
            return done(Err(EngineError::not_found("queue")));
        }
        let old_queue = (conv.state == ConversationState::Queued).then(|| conv.queue.clone());
        let engine = self.engine.clone();
        let now = self.engine.now();
        let mut updated = conv.clone();
        updated.state = ConversationState::Queued;
        updated.agent = None;
        updated.queue = to_queue.clone();
        updated.preferred_agent = None;
        updated.required_agent = msg.to_agent.clone();
        updated.updated_at = now;
        let events = vec![
            TimelineEvent::new(
                self.id,
                Some(conv.id),
                now,
                EventKind::Transferred {
                    from_agent: msg.from_agent.clone(),
                    to_queue: to_queue.clone(),
                    to_agent: msg.to_agent.clone(),
                },
            ),
            TimelineEvent::new(
                self.id,
                Some(conv.id),
                now,
                EventKind::Queued {
                    queue: to_queue.clone(),
                    priority: updated.priority,
                },
            ),
        ];
        let enqueue = self.enqueue_msg(&updated, self.last_customer_text(), true);
        let batch = Batch {
            events: events.clone(),
            conversations: vec![updated.clone()],
            ..Default::default()
        };
        let batch = self.reported(batch, Some(&conv), &updated);
        let store = self.engine.store.clone();
        let to_agent = msg.to_agent.clone();
        Atomic::new(Box::pin(
            async move {
                if let Some(a) = &to_agent {
                    let profile = store
                        .agent(a)
                        .await
                        .map_err(EngineError::unavailable)?
                        .ok_or_else(|| EngineError::not_found("agent"))?;
                    if !profile.queues.contains(&to_queue) {
                        return Err(EngineError::invalid(format!(
                            "agent {a} does not serve queue {to_queue}"
                        )));
                    }
                }
                store
                    .commit(batch)
                    .await
                    .map_err(EngineError::unavailable)?;
                if let Some(old) = old_queue {
                    engine.tell_queue(
                        &old,
                        Dequeue {
                            conversation_id: conv.id,
                            reason: "transferred".into(),
                        },
                    );
                }
                Ok(())
            }
            .into_actor(self)
            .map(move |res, act, _| {
                res?;
                // Stored: the actor holds what the store holds, and the target queue
                // is told until it takes the conversation (as in `Requeue`). Asked
                // instead, a failed ask left the conversation stored as waiting in
                // the new queue, held here as before, and in no queue.
                for e in &events {
                    act.remember(e);
                }
                act.tell_parker(&conv, &updated);
                act.open = Some(updated.clone());
                act.push_chat_state(&updated, None, None);
                act.engine.tell_queue_until_taken(&updated.queue, enqueue);
                Ok(())
            }),
        ))
    }
}

impl Handler<Requeue> for CustomerActor {
    type Result = Atomic<()>;

    fn handle(&mut self, msg: Requeue, _: &mut Context<Self>) -> Self::Result {
        try_atomic!(self.check_ready());
        let conv = try_atomic!(self.open_with(msg.conversation_id)).clone();
        let now = self.engine.now();
        let mut updated = conv.clone();
        updated.updated_at = now;
        let event = match &msg.overflow_to {
            Some(to) => {
                if conv.state != ConversationState::Queued {
                    return done(Err(EngineError::invalid(
                        "only waiting conversations overflow",
                    )));
                }
                updated.queue = to.clone();
                EventKind::Overflowed {
                    from: conv.queue.clone(),
                    to: to.clone(),
                }
            }
            None => {
                updated.state = ConversationState::Queued;
                updated.agent = None;
                updated.preferred_agent = None;
                updated.required_agent = None;
                EventKind::Queued {
                    queue: conv.queue.clone(),
                    priority: conv.priority,
                }
            }
        };
        if !self.engine.queue_exists(&updated.queue) {
            return done(Err(EngineError::not_found("queue")));
        }
        let ev = TimelineEvent::new(self.id, Some(conv.id), now, event);
        let batch = Batch::default()
            .event(ev.clone())
            .conversation(updated.clone());
        let batch = self.reported(batch, Some(&conv), &updated);
        let enqueue = self.enqueue_msg(&updated, self.last_customer_text(), true);
        tracing::info!(conversation = %conv.id, reason = %msg.reason, "requeue");
        // Once stored, the actor holds what the store holds, and the queue is told
        // until it takes the conversation (a forced enqueue is never refused; only
        // the way there can fail). Asked instead, a queue on a busy node left the
        // conversation stored as waiting, held here as assigned, and in no queue.
        self.commit_then(batch, move |act| {
            act.remember(&ev);
            act.open = Some(updated.clone());
            act.push_chat_state(&updated, None, None);
            act.engine.tell_queue_until_taken(&updated.queue, enqueue);
            Ok(())
        })
    }
}
