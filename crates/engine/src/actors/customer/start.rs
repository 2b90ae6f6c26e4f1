//! An agent starts a conversation with the customer (`POST
//! /api/v1/customers/{id}/conversations`, docs/api.md "Outbound conversations"): on a
//! messaging channel the customer has an address on, under the channel's rules (its
//! connector on, no opt-out, the reply window: a WhatsApp template once the window is
//! closed, Messenger's tag or a refusal). The conversation opens with the agent's
//! message, waits in the queue for that agent alone (the router's `required_agent`;
//! should they decline, anyone of the queue may take it), and is one more conversation
//! in the customer's timeline. Refused while the customer has an open conversation:
//! the agent writes there instead. One commit, with the outbox entry of the message;
//! applied once per `client_msg_id`.

use super::*;
use crate::domain::ReplyPath;

impl Handler<StartConversation> for CustomerActor {
    type Result = Atomic<InboundAck>;

    fn handle(&mut self, msg: StartConversation, ctx: &mut Context<Self>) -> Self::Result {
        try_atomic!(self.begin());
        if msg.template.is_none() {
            try_atomic!(self.validate_text(&msg.text));
        }
        let template = msg.template.as_ref();
        let idem = once::Idem {
            key: format!("start:{}:{}", msg.agent_id, msg.client_msg_id),
            digest: once::digest(&[
                msg.channel.as_str(),
                msg.queue.as_str(),
                &msg.text,
                template.map_or("", |t| t.name.as_str()),
                &template
                    .map(|t| t.parameters.join("\u{1f}"))
                    .unwrap_or_default(),
            ]),
        };
        self.once(
            Some(idem),
            |ack| ack,
            |act, _, idem| act.apply_start(msg, idem),
            ctx,
        )
    }
}

impl CustomerActor {
    fn apply_start(
        &mut self,
        msg: StartConversation,
        idem: Option<once::Idem>,
    ) -> Atomic<InboundAck> {
        let customer = try_atomic!(self.check_ready()).clone();
        if let Some(open) = &self.open {
            return done(Err(EngineError::new(
                ErrorCode::Conflict,
                format!(
                    "the customer has an open conversation ({}); write there",
                    open.id
                ),
            )));
        }
        if msg.channel.capabilities().replies != ReplyPath::Connector {
            return done(Err(EngineError::invalid(format!(
                "a conversation is started on a messaging channel, not on {}",
                msg.channel
            ))));
        }
        if let Some(private) = msg.channel.private_channel() {
            return done(Err(EngineError::invalid(format!(
                "{} is answered under the customer's own post, never started; write on \
                 {private}",
                msg.channel
            ))));
        }
        let to = match try_atomic!(self.reply_target(msg.channel)) {
            Some(to) => to,
            None => return done(Err(EngineError::invalid("no address to write to"))),
        };
        let (send_as, text) =
            try_atomic!(self.send_as(msg.channel, &msg.text, msg.template.as_ref()));
        if !self.engine.queue_exists(&msg.queue) {
            return done(Err(EngineError::not_found("queue")));
        }
        let now = self.engine.now();
        let conv = Conversation {
            id: ConversationId::new(),
            customer_id: self.id,
            channel: msg.channel,
            queue: msg.queue.clone(),
            state: ConversationState::Queued,
            priority: customer.priority,
            created_at: now,
            enqueued_at: now,
            enqueue_seq: self.engine.next_enqueue_seq(),
            agent: None,
            preferred_agent: Some(msg.agent_id.clone()),
            required_agent: Some(msg.agent_id.clone()),
            disposition: None,
            requirements: Default::default(),
            updated_at: now,
        };
        let event = |kind| TimelineEvent::new(self.id, Some(conv.id), now, kind);
        // Made in the order they happen: their time-ordered ids sort the same way.
        let opened = event(EventKind::ConversationOpened {
            channel: msg.channel,
            queue: msg.queue.clone(),
            ivr_path: Vec::new(),
        });
        let out = event(EventKind::MessageOut {
            channel: msg.channel,
            agent_id: Some(msg.agent_id.clone()),
            text: text.clone(),
            client_msg_id: Some(msg.client_msg_id.clone()),
            attachments: Vec::new(),
        });
        let events = vec![
            opened,
            out.clone(),
            event(EventKind::Queued {
                queue: msg.queue.clone(),
                priority: conv.priority,
            }),
        ];
        let (subject, references) = if msg.channel == Channel::Email {
            self.email_thread()
        } else {
            (None, Vec::new())
        };
        let delivery = crate::actors::outbound::Delivery {
            customer_id: self.id,
            conversation_id: conv.id,
            event_id: out.id,
            channel: msg.channel,
            to,
            text: text.clone(),
            subject,
            references,
            attempt: 0,
            attempted: false,
            quick_replies: Vec::new(),
            send_as,
            attachments: Vec::new(),
        };
        let preview: String = text.chars().take(200).collect();
        let enqueue = self.enqueue_msg(&conv, Some(preview), false);
        let mut batch = Batch {
            events: events.clone(),
            conversations: vec![conv.clone()],
            ..Default::default()
        };
        batch.outbox.push(delivery.entry(now));
        let batch = self.reported(batch, None, &conv);
        let batch = self.with_idem(batch, idem.as_ref(), &out, conv.id);
        let (engine, store, queue, conv_id) = (
            self.engine.clone(),
            self.engine.store.clone(),
            msg.queue.clone(),
            conv.id,
        );
        Atomic::new(Box::pin(
            async move {
                // Admission first, then durability; a failed commit withdraws the entry.
                engine.ask_queue(&queue, enqueue).await??;
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
                Ok(())
            }
            .into_actor(self)
            .map(move |res: EngineResult<()>, act, _| {
                res?;
                for e in &events {
                    act.remember(e);
                }
                act.open = Some(conv.clone());
                crate::metrics::conversation_opened(msg.channel);
                crate::metrics::message(msg.channel, "out");
                act.engine.deliver(delivery);
                Ok(act.acked(idem, out.id, conv.id))
            }),
        ))
    }
}
