//! A customer's message: continue the open conversation (channel switch, forward
//! to the holding agent), hand it to the bot, or reopen / open a conversation and
//! enqueue it. One commit per message, acknowledged only after it.

use super::*;

impl CustomerActor {
    /// The `message_in` event for `msg` in conversation `conv`.
    pub(super) fn message_in(
        &self,
        msg: &Inbound,
        conv: ConversationId,
        now: Millis,
    ) -> TimelineEvent {
        TimelineEvent::new(
            self.id,
            Some(conv),
            now,
            EventKind::MessageIn {
                channel: msg.channel,
                address: msg.address.clone(),
                text: msg.text.clone(),
                client_msg_id: msg.client_msg_id.clone(),
                attachments: msg.attachments.clone(),
                subject: msg.subject.clone(),
            },
        )
    }

    /// The closed conversation a message from the customer reopens, if any: the last
    /// one, when it closed inside the reopen window or the message is threaded to it.
    pub(super) fn reopenable(&self, msg: &Inbound, now: Millis) -> Option<Conversation> {
        let last = self.last_closed.as_ref()?;
        let window = self.engine.settings.channels.reopen_window_ms;
        let threaded = msg.thread == Some(last.id);
        (threaded || now.since(last.updated_at) <= window).then(|| last.clone())
    }

    /// The customer record with `display_name` filled in from the channel, if it had
    /// none (the only change an inbound message makes to the profile).
    pub(super) fn named(&self, customer: &Customer, msg: &Inbound) -> Option<Customer> {
        let name = msg.display_name.as_deref()?.trim();
        if customer.display_name.is_some() || name.is_empty() || name.len() > 100 {
            return None;
        }
        let mut c = customer.clone();
        c.display_name = Some(name.chars().filter(|c| !c.is_control()).collect());
        Some(c)
    }
}

impl Handler<Inbound> for CustomerActor {
    type Result = Atomic<InboundAck>;

    fn handle(&mut self, msg: Inbound, _: &mut Context<Self>) -> Self::Result {
        let customer = try_atomic!(self.begin()).clone();
        try_atomic!(self.validate_text(&msg.text));
        let seen_key = msg.client_msg_id.as_ref().map(|c| Self::seen_key("in", c));
        if let Some(ack) = seen_key.as_ref().and_then(|k| self.seen.get(k)) {
            return done(Ok(ack.clone()));
        }
        if let Some(answered) = self.survey_reply(&msg, seen_key.clone()) {
            return answered;
        }
        let now = self.engine.now();
        let store = self.engine.store.clone();
        let preview: String = msg.text.chars().take(200).collect();
        let renamed = self.named(&customer, &msg);

        if let Some(conv) = self.open.clone() {
            // Continue the open conversation, whatever channel it came from.
            let mut events = Vec::new();
            let mut updated = conv.clone();
            if conv.channel != msg.channel {
                events.push(TimelineEvent::new(
                    self.id,
                    Some(conv.id),
                    now,
                    EventKind::ChannelSwitched {
                        from: conv.channel,
                        to: msg.channel,
                    },
                ));
                updated.channel = msg.channel;
            }
            events.push(self.message_in(&msg, conv.id, now));
            self.failed.reuse(seen_key.as_ref(), &mut events);
            let Some(ev) = Self::message_in_of(&events) else {
                return done(Err(EngineError::internal("no message event")));
            };
            // The conversation row changes only on a channel switch; a plain message is
            // one timeline row (the hot path of the store writer).
            let conversations = if updated.channel != conv.channel {
                updated.updated_at = now;
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
            let key = seen_key.clone();
            return self.commit_retryable(batch, key, move |act| {
                if renamed.is_some() {
                    act.customer = renamed;
                }
                let ack = act.inbound_applied(msg.channel, &events, &ev, &updated, seen_key);
                for e in &events {
                    act.tell_agent(
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

        if let Some(r) = self.bot_inbound(&msg, now, &seen_key) {
            return r;
        }
        // A reopened or a new conversation: it waits in a queue.
        let reopen = self.reopenable(&msg, now);
        let queue_name = match msg
            .queue
            .clone()
            .or_else(|| {
                reopen
                    .as_ref()
                    .map(|c| c.queue.clone())
                    .filter(|q| self.engine.queue(q).is_some())
            })
            .or_else(|| self.engine.default_queue_for(msg.channel))
        {
            Some(q) => q,
            None => return done(Err(EngineError::not_found("queue"))),
        };
        let Some(queue) = self.engine.queue(&queue_name) else {
            return done(Err(EngineError::not_found("queue")));
        };
        let mut events = Vec::new();
        // Event ids are time-ordered: create them in the order they happened.
        let conv = match &reopen {
            Some(old) => {
                events.push(TimelineEvent::new(
                    self.id,
                    Some(old.id),
                    now,
                    EventKind::ConversationReopened {
                        channel: msg.channel,
                        queue: queue_name.clone(),
                    },
                ));
                if old.channel != msg.channel {
                    events.push(TimelineEvent::new(
                        self.id,
                        Some(old.id),
                        now,
                        EventKind::ChannelSwitched {
                            from: old.channel,
                            to: msg.channel,
                        },
                    ));
                }
                Conversation {
                    channel: msg.channel,
                    queue: queue_name.clone(),
                    state: ConversationState::Queued,
                    priority: customer.priority,
                    enqueued_at: now,
                    enqueue_seq: self.engine.next_enqueue_seq(),
                    // Sticky: the agent who had it is preferred again.
                    preferred_agent: old.agent.clone().or(customer.last_agent.clone()),
                    agent: None,
                    required_agent: None,
                    disposition: None,
                    updated_at: now,
                    ..old.clone()
                }
            }
            None => {
                let conv_id = self.bot_conversation_id().unwrap_or_default();
                events.push(TimelineEvent::new(
                    self.id,
                    Some(conv_id),
                    now,
                    EventKind::ConversationOpened {
                        channel: msg.channel,
                        queue: queue_name.clone(),
                    },
                ));
                Conversation {
                    id: conv_id,
                    customer_id: self.id,
                    channel: msg.channel,
                    queue: queue_name.clone(),
                    state: ConversationState::Queued,
                    priority: customer.priority,
                    created_at: now,
                    enqueued_at: now,
                    enqueue_seq: self.engine.next_enqueue_seq(),
                    agent: None,
                    preferred_agent: customer.last_agent.clone(),
                    required_agent: None,
                    disposition: None,
                    updated_at: now,
                }
            }
        };
        let conv_id = conv.id;
        events.push(self.message_in(&msg, conv_id, now));
        events.push(TimelineEvent::new(
            self.id,
            Some(conv_id),
            now,
            EventKind::Queued {
                queue: queue_name.clone(),
                priority: conv.priority,
            },
        ));
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
        let batch = self.reported(batch, reopen.as_ref(), &conv);
        let (batch, handoff) = self.bot_take_handoff(batch);
        let reopened = reopen.is_some();
        AtomicResponse::new(Box::pin(
            async move {
                // Admission first (the queue may refuse), then durability. If the commit
                // fails the queue entry is withdrawn: nothing was acknowledged.
                let position = queue
                    .send(enqueue)
                    .await
                    .map_err(|_| EngineError::internal("queue unavailable"))??;
                if let Err(e) = store.commit(batch).await {
                    queue.do_send(Dequeue {
                        conversation_id: conv_id,
                        reason: "store_failed".into(),
                    });
                    return Err(crate::store::StoreError::into_engine(e));
                }
                Ok(position)
            }
            .into_actor(self)
            .map(move |res, act, _| {
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
                let ack = act.inbound_applied(msg.channel, &events, &ev, &conv, seen_key);
                act.push_chat(ChatNotice::Event { event: ev.clone() });
                act.bot_handed_off(handoff);
                act.push_chat_state(&conv, None, Some(position));
                Ok(ack)
            }),
        ))
    }
}
