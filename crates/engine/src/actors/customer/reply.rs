//! An agent's reply or note: where it goes (address, channel, opt-outs, email
//! threading), committed with its outbox entry, then delivered; delivery results
//! recorded as they come back; channel opt-out and opt-in.

use super::*;
use crate::domain::{ReplyPath, SendAs, TemplateMessage};

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
        // A channel sharing its address space with others (a phone number, an X
        // account) reaches the customer at the address they are known by on a sibling.
        let shared = channel.capabilities().address.shared_evidence().is_some();
        let sibling = |c: Channel| {
            c != channel && shared && c.capabilities().address == channel.capabilities().address
        };
        from_recent
            .or_else(|| {
                customer
                    .identities
                    .iter()
                    .find(|k| k.channel == channel)
                    .or_else(|| customer.identities.iter().find(|k| sibling(k.channel)))
                    .map(|k| k.address.clone())
            })
            .ok_or_else(|| EngineError::invalid(format!("the customer has no {channel} address")))
    }

    /// A reply on private channel `channel` to a customer who has no address there
    /// yet but commented in public within [`crate::domain::PRIVATE_REPLY_MS`] on a
    /// channel that moves to it (a Page comment → Messenger): the commenter's address
    /// and the private reply naming their latest comment. The provider then tells the
    /// private address, which the dispatcher links (`private_reply`).
    fn private_reply(&self, channel: Channel) -> Option<(String, SendAs)> {
        let customer = self.check_ready().ok()?;
        // Never around an opt-out or a connector that is off (`reply_target`'s refusal
        // stands).
        if customer.opted_out.contains(&channel)
            || !self.engine.settings.channels.replies.contains(&channel)
        {
            return None;
        }
        let now = self.engine.now();
        self.recent.iter().rev().find_map(|e| match &e.kind {
            EventKind::MessageIn {
                channel: c,
                address,
                client_msg_id: Some(id),
                ..
            } if c.private_channel() == Some(channel)
                && u64::try_from(now.0.saturating_sub(e.at.0))
                    .is_ok_and(|age| age <= crate::domain::PRIVATE_REPLY_MS) =>
            {
                let comment_id = crate::tombstones::provider_id_of(*c, id)?.to_owned();
                Some((address.clone(), SendAs::PrivateReply { comment_id }))
            }
            _ => None,
        })
    }

    /// The provider ids a reply on `channel` answers: the email thread's message ids,
    /// or the latest public post (comment, mention) a public reply goes under.
    fn reply_references(&self, channel: Channel) -> (Option<String>, Vec<String>) {
        if channel == Channel::Email {
            return self.email_thread();
        }
        if channel.private_channel().is_none() {
            return (None, Vec::new());
        }
        let latest = self.recent.iter().rev().find_map(|e| match &e.kind {
            EventKind::MessageIn {
                channel: c,
                client_msg_id: Some(id),
                ..
            } if *c == channel => crate::tombstones::provider_id_of(*c, id).map(str::to_owned),
            _ => None,
        });
        (None, latest.into_iter().collect())
    }

    /// Checks that a reply can go out on `channel` and returns the delivery target
    /// (`None` for the web chat sockets).
    pub(super) fn reply_target(&self, channel: Channel) -> EngineResult<Option<String>> {
        match channel.capabilities().replies {
            // Video sessions run beside the web chat, whose sockets carry the text.
            ReplyPath::Socket => return Ok(None),
            ReplyPath::NoText => {
                return Err(EngineError::invalid(
                    "a call carries no text; choose a messaging channel for this reply",
                ))
            }
            ReplyPath::Connector => {}
        }
        if !self.engine.settings.channels.replies.contains(&channel) {
            return Err(EngineError::invalid(format!(
                "the {channel} connector is not enabled"
            )));
        }
        self.reply_address(channel).map(Some)
    }

    /// How a reply on `channel` goes out with respect to the channel's reply window
    /// (docs/channels.md "Reply windows"), and the text to record for it: `text`, or
    /// the rendered `template`. Refused: a template on a channel that takes none, one
    /// that is not approved or lacks parameters, and free text after the window.
    pub(super) fn send_as(
        &self,
        channel: Channel,
        text: &str,
        template: Option<&TemplateMessage>,
    ) -> EngineResult<(SendAs, String)> {
        let facts = &self.engine.settings.channels;
        let window = facts.windows.get(&channel);
        if let Some(t) = template {
            if !window.is_some_and(|w| w.templates) {
                return Err(EngineError::invalid(format!(
                    "{channel} takes no template messages"
                )));
            }
            let approved = facts.templates.get(&channel).map_or(&[][..], Vec::as_slice);
            let rendered = crate::domain::ApprovedTemplate::resolve(approved, t)
                .map_err(|e| EngineError::invalid(format!("{}: {}", e.field, e.reason)))?;
            return Ok((SendAs::Template(t.clone()), rendered));
        }
        let Some(w) = window else {
            return Ok((SendAs::Reply, text.to_owned()));
        };
        let since = self.since_last_in(channel);
        match since {
            Some(age) if age <= w.free_ms => Ok((SendAs::Reply, text.to_owned())),
            Some(age) if w.tagged_ms.is_some_and(|t| age <= t) => {
                Ok((SendAs::HumanAgent, text.to_owned()))
            }
            _ => {
                let hours = w.tagged_ms.unwrap_or(w.free_ms) / 3_600_000;
                let when = match since {
                    Some(age) => format!("wrote {} hours ago", age / 3_600_000),
                    None => format!("has not written on {channel}"),
                };
                let next = if w.templates {
                    "send an approved template"
                } else {
                    "wait until they write again, or reply on another channel"
                };
                Err(EngineError::invalid(format!(
                    "outside the {channel} reply window: the customer {when} (replies \
                     are allowed within {hours} hours of their last message); {next}"
                )))
            }
        }
    }

    /// Whether a reply on `channel` may carry `files`: the web chat's sockets carry
    /// them, a connector only if it says so (`ChannelFacts::files`); a template never;
    /// none larger than the channel takes (`attachments.channel_max_bytes`).
    fn files_allowed(
        &self,
        channel: Channel,
        template: bool,
        files: &[crate::domain::Attachment],
    ) -> EngineResult<()> {
        if template {
            return Err(EngineError::invalid("a template message carries no files"));
        }
        let max = self.engine.settings.attachments.max_bytes_on(channel);
        if let Some(big) = files.iter().find(|a| a.size.is_some_and(|s| s > max)) {
            return Err(EngineError::invalid(format!(
                "{channel} takes files up to {max} bytes; {} is {} bytes",
                big.name.as_deref().unwrap_or("the file"),
                big.size.unwrap_or_default()
            )));
        }
        match channel.capabilities().replies {
            ReplyPath::Socket => Ok(()),
            _ if self.engine.settings.channels.files.contains(&channel) => Ok(()),
            _ => Err(EngineError::invalid(format!(
                "{channel} replies carry no files here; send the file on the web chat, or \
                 write the customer where files are carried"
            ))),
        }
    }

    /// How long ago (ms) the customer last wrote on `channel`, if they have.
    fn since_last_in(&self, channel: Channel) -> Option<u64> {
        self.last_in
            .get(&channel)
            .map(|at| self.engine.now().0.saturating_sub(at.0).max(0) as u64)
    }

    /// Whether an automated message (a notification) may go out on `channel` now:
    /// inside its free window, if it has one (a tag is for a human's reply, and
    /// notification rules name no template). `Err` says why not.
    pub(super) fn automated_allowed(&self, channel: Channel) -> Result<(), String> {
        let Some(w) = self.engine.settings.channels.windows.get(&channel) else {
            return Ok(());
        };
        match self.since_last_in(channel) {
            Some(age) if age <= w.free_ms => Ok(()),
            _ => Err(format!(
                "{channel}: outside its reply window (the customer has not written there \
                 within {} hours)",
                w.free_ms / 3_600_000
            )),
        }
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

/// Refuses a public reply on X longer than a post may be (X counts most CJK
/// characters twice: [`crate::domain::x_weighted_len`]).
fn public_text_fits(channel: Channel, text: &str) -> EngineResult<()> {
    if channel == Channel::XMentions && crate::domain::x_weighted_len(text) > X_POST_WEIGHT {
        return Err(EngineError::invalid(format!(
            "a public reply on X is at most {X_POST_WEIGHT} (weighted) characters, where \
             Japanese and other CJK characters count 2; shorten it or move to a direct \
             message"
        )));
    }
    Ok(())
}

/// The weighted length of an X post.
const X_POST_WEIGHT: usize = 280;

impl Handler<AgentWrite> for CustomerActor {
    type Result = Atomic<InboundAck>;

    fn handle(&mut self, msg: AgentWrite, ctx: &mut Context<Self>) -> Self::Result {
        let began = std::time::Instant::now();
        try_atomic!(self.begin());
        // A template's text is the engine's rendering of it, checked when applied; a
        // reply of files alone needs no text.
        let files_alone = msg.text.trim().is_empty() && !msg.attachments.is_empty();
        if msg.template.is_none() && !files_alone {
            try_atomic!(self.validate_text(&msg.text));
        }
        // A retry is answered as one even after the conversation left the agent.
        let idem = once::Idem::agent(&msg);
        self.once(
            Some(idem),
            |ack| ack,
            |act, _, idem| act.apply_write(msg, idem),
            ctx,
        )
        .timed("agent", began)
    }
}

impl CustomerActor {
    /// Applies an agent's reply or note not applied before (see `once`).
    fn apply_write(&mut self, msg: AgentWrite, idem: Option<once::Idem>) -> Atomic<InboundAck> {
        let conv = try_atomic!(self.open_held_by(msg.conversation_id, &msg.agent_id));
        let key = idem.as_ref().map(|i| i.key.clone()).unwrap_or_default();
        // The default reply channel is the one the customer last wrote on.
        let channel = msg.channel.unwrap_or(conv.channel);
        let (target, send_as, text) = if msg.note {
            if msg.template.is_some() {
                return done(Err(EngineError::invalid("a note is never a template")));
            }
            (None, SendAs::Reply, msg.text.clone())
        } else {
            let (target, private) = match self.reply_target(channel) {
                Ok(t) => (t, None),
                Err(e) => match self.private_reply(channel) {
                    Some((to, send_as)) => (Some(to), Some(send_as)),
                    None => return done(Err(e)),
                },
            };
            if !msg.attachments.is_empty() {
                try_atomic!(self.files_allowed(channel, msg.template.is_some(), &msg.attachments));
            }
            try_atomic!(public_text_fits(channel, &msg.text));
            let (send_as, text) = match private {
                Some(_) if msg.template.is_some() || !msg.attachments.is_empty() => {
                    return done(Err(EngineError::invalid(
                        "a private reply to a comment is one text message: no template, no \
                         files (send them once the customer answers on Messenger)",
                    )))
                }
                Some(p) => (p, msg.text.clone()),
                None => try_atomic!(self.send_as(channel, &msg.text, msg.template.as_ref())),
            };
            (target, send_as, text)
        };
        let now = self.engine.now();
        let kind = if msg.note {
            EventKind::Note {
                agent_id: msg.agent_id.clone(),
                text: text.clone(),
            }
        } else {
            EventKind::MessageOut {
                channel,
                agent_id: Some(msg.agent_id.clone()),
                text: text.clone(),
                client_msg_id: Some(msg.client_msg_id.clone()),
                attachments: msg.attachments.clone(),
            }
        };
        let mut ev = [TimelineEvent::new(self.id, Some(conv.id), now, kind)];
        self.failed.reuse(Some(&key), &mut ev);
        let [ev] = ev;
        // A reply for a provider goes into the outbox in the same commit as its event.
        let delivery = target.map(|to| {
            let (subject, references) = self.reply_references(channel);
            crate::actors::outbound::Delivery {
                customer_id: self.id,
                conversation_id: conv.id,
                event_id: ev.id,
                channel,
                to,
                text,
                subject,
                references,
                attempt: 0,
                attempted: false,
                quick_replies: Vec::new(),
                send_as,
                attachments: msg.attachments.clone(),
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
        let committing = std::time::Instant::now();
        self.commit_retryable(batch, Some(key), move |act| {
            crate::metrics::message_stage("agent", "commit", committing);
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
