//! A customer's message: continue the open conversation (channel switch, forward
//! to the holding agent, queue a parked one again), hand it to the bot, or reopen /
//! open a conversation and enqueue it. One commit per message, acknowledged only
//! after it. What the message does is decided by the pure functions of `decide.rs`;
//! this handler commits and notifies.

use super::*;

impl CustomerActor {
    /// The `message_in` event for `msg` in conversation `conv`.
    pub(super) fn message_in(
        &self,
        msg: &Inbound,
        conv: ConversationId,
        now: Millis,
    ) -> TimelineEvent {
        decide::message_in(self.id, msg, conv, now)
    }

    /// The closed conversation a message from the customer reopens, if any.
    pub(super) fn reopenable(&self, msg: &Inbound, now: Millis) -> Option<Conversation> {
        let window = self.engine.settings.channels.reopen_window_ms;
        decide::reopenable(self.last_closed.as_ref(), msg, now, window).cloned()
    }
}

impl Handler<Inbound> for CustomerActor {
    type Result = Atomic<InboundAck>;

    fn handle(&mut self, msg: Inbound, ctx: &mut Context<Self>) -> Self::Result {
        let began = std::time::Instant::now();
        try_atomic!(self.begin());
        self.call_left_menus(&msg);
        try_atomic!(self.validate_text(&msg.text));
        let idem = once::Idem::inbound(&msg);
        self.once(
            idem,
            |ack| ack,
            |act, _, idem| act.apply_inbound(msg, idem),
            ctx,
        )
        .timed("customer", began)
    }
}

impl CustomerActor {
    /// Applies a customer's message not applied before (see `once`).
    fn apply_inbound(&mut self, mut msg: Inbound, idem: Option<once::Idem>) -> Atomic<InboundAck> {
        let customer = try_atomic!(self.check_ready()).clone();
        let seen_key = idem.as_ref().map(|i| i.key.clone());
        if let Some(answered) = self.survey_reply(&msg, idem.clone()) {
            return answered;
        }
        let now = self.engine.now();
        let store = self.engine.store.clone();
        let preview: String = msg.text.chars().take(200).collect();
        let renamed = decide::named(&customer, &msg);

        if let Some(conv) = self.open.clone() {
            // Continue the open conversation, whatever channel it came from.
            let decide::Continued {
                mut events,
                conversation: mut updated,
                mut row_changed,
            } = decide::continue_open(self.id, &conv, &msg, now);
            // A parked conversation waits in its queue again, for its agent first.
            let unparked = conv.state == ConversationState::Parked;
            if unparked {
                let (u, queued) =
                    decide::unpark(self.id, &updated, self.engine.next_enqueue_seq(), now);
                updated = u;
                events.push(queued);
                row_changed = true;
            }
            self.failed.reuse(seen_key.as_ref(), &mut events);
            let Some(ev) = Self::message_in_of(&events) else {
                return done(Err(EngineError::internal("no message event")));
            };
            let conversations = if row_changed {
                vec![updated.clone()]
            } else {
                Vec::new()
            };
            let batch = Batch {
                events: events.clone(),
                conversations,
                customers: renamed.iter().cloned().collect(),
                ..Default::default()
            };
            let batch = self.reported(batch, Some(&conv), &updated);
            let batch = self.with_idem(batch, idem.as_ref(), &ev, updated.id);
            let committing = std::time::Instant::now();
            return self.commit_retryable(batch, seen_key, move |act| {
                crate::metrics::message_stage("customer", "commit", committing);
                if renamed.is_some() {
                    act.customer = renamed;
                }
                let ack = act.inbound_applied(msg.channel, &events, &ev, &updated, idem);
                if unparked {
                    act.push_chat(ChatNotice::Event { event: ev.clone() });
                    act.unpark_applied(&conv, &updated);
                    return Ok(ack);
                }
                for e in &events {
                    act.tell_agent_event(
                        &updated,
                        ConversationEvent {
                            conversation_id: updated.id,
                            event: e.clone(),
                        },
                    );
                }
                act.push_chat(ChatNotice::Event { event: ev.clone() });
                act.requeue_if_class_changed(&conv, &updated);
                Ok(ack)
            });
        }

        if let Some(r) = self.menus_inbound(&mut msg, now, &idem) {
            return r;
        }
        if let Some(r) = self.bot_inbound(&msg, now, &idem) {
            return r;
        }
        // A reopened or a new conversation: it waits in a queue. From an anonymous door
        // it takes one of its address's `conversation` budget first.
        if let Some(ip) = msg.budget_from {
            if let Err(r) = self
                .engine
                .budgets
                .take(crate::budget::Door::Conversation, ip, now)
            {
                return done(Err(r.into_engine()));
            }
        }
        let reopen = self.reopenable(&msg, now);
        let queue_name = match msg
            .queue
            .clone()
            .or_else(|| {
                reopen
                    .as_ref()
                    .map(|c| c.queue.clone())
                    .filter(|q| self.engine.queue_exists(q))
            })
            .or_else(|| self.engine.default_queue_for(msg.channel))
        {
            Some(q) => q,
            None => return done(Err(EngineError::not_found("queue"))),
        };
        if !self.engine.queue_exists(&queue_name) {
            return done(Err(EngineError::not_found("queue")));
        }
        let (queue_name, after_hours) = self.after_hours(queue_name);
        // A call nobody will answer before the opening is told so and ends (the voice
        // connector's answer): its conversation does not wait for the opening.
        let call_ends = msg.channel == crate::domain::Channel::Voice
            && after_hours.as_ref().is_some_and(|p| p.waits_unoffered);
        let queue = queue_name.clone();
        let engine = self.engine.clone();
        let place = decide::Placement {
            queue: queue_name,
            enqueue_seq: self.engine.next_enqueue_seq(),
            new_id: self
                .bot_conversation_id()
                .or_else(|| self.menus_conversation_id())
                .unwrap_or_default(),
        };
        let decide::Opened {
            mut events,
            conversation: conv,
            reopened,
        } = decide::open(&customer, reopen.as_ref(), &msg, place, now);
        let conv_id = conv.id;
        self.failed.reuse(seen_key.as_ref(), &mut events);
        let Some(ev) = Self::message_in_of(&events) else {
            return done(Err(EngineError::internal("no message event")));
        };
        let enqueue = self.enqueue_msg(&conv, Some(preview), false);
        let batch = Batch {
            events: events.clone(),
            conversations: vec![conv.clone()],
            customers: renamed.iter().cloned().collect(),
            ..Default::default()
        };
        // The hand-off's events first: its `bot_handoff` is reported with the rest.
        let (batch, handoff) = self.bot_take_handoff(batch);
        let (batch, menus_exit) = self.menus_take_exit(batch);
        let batch = self.reported(batch, reopen.as_ref(), &conv);
        let batch = self.with_idem(batch, idem.as_ref(), &ev, conv.id);
        let (batch, after_hours) = self.after_hours_batch(after_hours, conv_id, msg.channel, batch);
        Atomic::new(Box::pin(
            async move {
                // Admission first (the queue may refuse), then durability. If the commit
                // fails the queue entry is withdrawn: nothing was acknowledged.
                let position = engine.ask_queue(&queue, enqueue).await??;
                if let Err(e) = store.commit(batch).await {
                    engine.tell_queue(
                        &queue,
                        Dequeue {
                            conversation_id: conv_id,
                            reason: "store_failed".into(),
                        },
                    );
                    return Err(crate::store::StoreError::into_engine(e));
                }
                Ok(position)
            }
            .into_actor(self)
            .map(move |res, act, ctx| {
                if res.is_err() {
                    if let Some(k) = &seen_key {
                        act.failed.record(k, &events);
                    }
                }
                let position = res?;
                act.failed.forget(seen_key.as_ref());
                if renamed.is_some() {
                    act.customer = renamed;
                }
                if reopened {
                    act.last_closed = None;
                    crate::metrics::conversation_reopened(msg.channel);
                } else {
                    crate::metrics::conversation_opened(msg.channel);
                }
                let ack = act.inbound_applied(msg.channel, &events, &ev, &conv, idem);
                act.push_chat(ChatNotice::Event { event: ev.clone() });
                act.bot_handed_off(handoff);
                act.menus_exited(menus_exit);
                act.after_hours_told(after_hours);
                if call_ends {
                    act.abandon(ctx, false);
                }
                act.push_chat_state(&conv, None, Some(position));
                Ok(ack)
            }),
        ))
    }
}
