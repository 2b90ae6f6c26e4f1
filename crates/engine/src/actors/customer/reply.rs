//! An agent's reply or note: where it goes (address, channel, opt-outs, email
//! threading), committed with its outbox entry, then delivered; delivery results
//! recorded as they come back; channel opt-out and opt-in.

use super::*;

impl CustomerActor {
    /// Where an agent's reply on `channel` goes: the address the customer last wrote
    /// from on that channel, else a linked identity of that channel.
    pub(super) fn reply_address(&self, channel: Channel) -> EngineResult<String> {
        let customer = self.check_ready()?;
        if customer.opted_out.contains(&channel) {
            return Err(EngineError::invalid(format!(
                "the customer opted out of {channel}"
            )));
        }
        let from_recent = self.recent.iter().rev().find_map(|e| match &e.kind {
            EventKind::MessageIn {
                channel: c,
                address,
                ..
            } if *c == channel => Some(address.clone()),
            _ => None,
        });
        from_recent
            .or_else(|| {
                customer
                    .identities
                    .iter()
                    .find(|k| k.channel == channel)
                    .map(|k| k.address.clone())
            })
            .ok_or_else(|| EngineError::invalid(format!("the customer has no {channel} address")))
    }

    /// Checks that a reply can go out on `channel` and returns the delivery target
    /// (`None` for the web chat sockets).
    pub(super) fn reply_target(&self, channel: Channel) -> EngineResult<Option<String>> {
        let enabled = match channel {
            // Video sessions run beside the web chat, whose sockets carry the text.
            Channel::Chat | Channel::Video => return Ok(None),
            Channel::Voice => {
                return Err(EngineError::invalid(
                    "a call carries no text; choose a messaging channel for this reply",
                ))
            }
            Channel::Sms | Channel::Line | Channel::Messenger | Channel::Email => {
                self.engine.settings.channels.replies.contains(&channel)
            }
        };
        if !enabled {
            return Err(EngineError::invalid(format!(
                "the {channel} connector is not enabled"
            )));
        }
        self.reply_address(channel).map(Some)
    }

    /// The subject and message ids an email reply threads under: the latest inbound
    /// email's.
    pub(super) fn email_thread(&self) -> (Option<String>, Vec<String>) {
        let subject = self.recent.iter().rev().find_map(|e| match &e.kind {
            EventKind::MessageIn {
                channel: Channel::Email,
                subject,
                ..
            } => Some(subject.clone()),
            _ => None,
        });
        let refs = self
            .recent
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::MessageIn {
                    channel: Channel::Email,
                    client_msg_id: Some(id),
                    ..
                } => id.strip_prefix("email:").map(str::to_owned),
                _ => None,
            })
            .collect();
        (subject.flatten(), refs)
    }
}

impl Handler<AgentWrite> for CustomerActor {
    type Result = Atomic<InboundAck>;

    fn handle(&mut self, msg: AgentWrite, ctx: &mut Context<Self>) -> Self::Result {
        try_atomic!(self.begin());
        try_atomic!(self.validate_text(&msg.text));
        // A retry is answered as one even after the conversation left the agent.
        let idem = once::Idem::agent(&msg);
        self.once(
            Some(idem),
            |ack| ack,
            |act, _, idem| act.apply_write(msg, idem),
            ctx,
        )
    }
}

impl CustomerActor {
    /// Applies an agent's reply or note not applied before (see `once`).
    fn apply_write(&mut self, msg: AgentWrite, idem: Option<once::Idem>) -> Atomic<InboundAck> {
        let conv = try_atomic!(self.open_held_by(msg.conversation_id, &msg.agent_id));
        let key = idem.as_ref().map(|i| i.key.clone()).unwrap_or_default();
        // The default reply channel is the one the customer last wrote on.
        let channel = msg.channel.unwrap_or(conv.channel);
        let target = if msg.note {
            None
        } else {
            try_atomic!(self.reply_target(channel))
        };
        let now = self.engine.now();
        let kind = if msg.note {
            EventKind::Note {
                agent_id: msg.agent_id.clone(),
                text: msg.text.clone(),
            }
        } else {
            EventKind::MessageOut {
                channel,
                agent_id: Some(msg.agent_id.clone()),
                text: msg.text.clone(),
                client_msg_id: Some(msg.client_msg_id.clone()),
            }
        };
        let mut ev = [TimelineEvent::new(self.id, Some(conv.id), now, kind)];
        self.failed.reuse(Some(&key), &mut ev);
        let [ev] = ev;
        // A reply for a provider goes into the outbox in the same commit as its event.
        let delivery = target.map(|to| {
            let (subject, references) = if channel == Channel::Email {
                self.email_thread()
            } else {
                (None, Vec::new())
            };
            crate::actors::outbound::Delivery {
                customer_id: self.id,
                conversation_id: conv.id,
                event_id: ev.id,
                channel,
                to,
                text: msg.text.clone(),
                subject,
                references,
                attempt: 0,
                attempted: false,
                quick_replies: Vec::new(),
            }
        });
        let mut batch = Batch::default().event(ev.clone());
        if let Some(d) = &delivery {
            batch.outbox.push(d.entry(now));
        }
        // A reply stops the response clock: its report and due record go with it.
        let clock = self.facts.response_of(conv.id);
        let batch = self.reported(batch, Some(&conv), &conv);
        let batch = self.with_idem(batch, idem.as_ref(), &ev, conv.id);
        self.commit_retryable(batch, Some(key), move |act| {
            act.responses_told(clock, std::slice::from_ref(&ev), &conv);
            act.remember(&ev);
            let ack = act.acked(idem, ev.id, conv.id);
            if !msg.note {
                crate::metrics::message(channel, "out");
                match delivery {
                    None => act.push_chat(ChatNotice::Event { event: ev.clone() }),
                    Some(d) => act.engine.deliver(d),
                }
            }
            act.tell_agent_event(
                &conv,
                ConversationEvent {
                    conversation_id: conv.id,
                    event: ev.clone(),
                },
            );
            Ok(ack)
        })
    }
}

impl Handler<RecordEvents> for CustomerActor {
    type Result = Atomic<()>;

    fn handle(&mut self, msg: RecordEvents, _: &mut Context<Self>) -> Self::Result {
        try_atomic!(self.check_ready());
        let batch = Batch {
            events: msg.events.clone(),
            outbox_done: msg.outbox_done.clone(),
            ..Default::default()
        };
        self.commit_then(batch, move |act| {
            for e in &msg.events {
                act.remember(e);
                if let Some(conv) = act.open.clone().filter(|c| Some(c.id) == e.conversation_id) {
                    act.tell_agent_event(
                        &conv,
                        ConversationEvent {
                            conversation_id: conv.id,
                            event: e.clone(),
                        },
                    );
                }
            }
            Ok(())
        })
    }
}

impl Handler<SetOptOut> for CustomerActor {
    type Result = Atomic<()>;

    fn handle(&mut self, msg: SetOptOut, _: &mut Context<Self>) -> Self::Result {
        let customer = try_atomic!(self.begin()).clone();
        if customer.opted_out.contains(&msg.channel) == msg.opted_out {
            return done(Ok(()));
        }
        let mut cust = customer;
        if msg.opted_out {
            cust.opted_out.insert(msg.channel);
        } else {
            cust.opted_out.remove(&msg.channel);
        }
        let ev = TimelineEvent::new(
            self.id,
            self.open.as_ref().map(|c| c.id),
            self.engine.now(),
            EventKind::OptOutChanged {
                channel: msg.channel,
                opted_out: msg.opted_out,
                provider_msg_id: msg.provider_msg_id.clone(),
            },
        );
        let batch = Batch {
            customers: vec![cust.clone()],
            events: vec![ev.clone()],
            ..Default::default()
        };
        self.commit_then(batch, move |act| {
            act.customer = Some(cust);
            act.remember(&ev);
            if let Some(conv) = act.open.clone() {
                act.tell_agent_event(
                    &conv,
                    ConversationEvent {
                        conversation_id: conv.id,
                        event: ev.clone(),
                    },
                );
            }
            Ok(())
        })
    }
}
