//! Web-chat presence: sockets attaching and detaching, the grace period before an
//! absent visitor's waiting conversation is abandoned (shorter for a visitor nobody
//! knows and nobody served: `anonymous.unserved_grace_ms`), typing indicators.

use super::*;

impl Handler<AttachChat> for CustomerActor {
    type Result = EngineResult<ChatWelcome>;

    fn handle(&mut self, msg: AttachChat, ctx: &mut Context<Self>) -> Self::Result {
        self.last_activity = Instant::now();
        self.check_ready()?;
        self.chat.insert(msg.session);
        if let Some(h) = self.abandon_timer.take() {
            ctx.cancel_future(h);
        }
        Ok(ChatWelcome {
            conversation: self.open.as_ref().map(|c| ChatConversationView {
                id: c.id,
                state: c.state,
                agent_name: c.agent.as_ref().map(|a| a.to_string()),
                position: None,
            }),
            history: self
                .recent
                .iter()
                .filter(|e| visible_to_customer(e))
                .cloned()
                .collect(),
        })
    }
}

/// Internal: the visitor's grace period ended.
#[derive(Message)]
#[rtype(result = "()")]
struct AbandonIfAway;

impl Handler<AbandonIfAway> for CustomerActor {
    type Result = ();
    fn handle(&mut self, _: AbandonIfAway, ctx: &mut Context<Self>) {
        self.abandon_timer = None;
        if self.chat.is_empty() {
            self.abandon(ctx, true);
        }
    }
}

impl Handler<DetachChat> for CustomerActor {
    type Result = ();

    fn handle(&mut self, msg: DetachChat, ctx: &mut Context<Self>) {
        self.last_activity = Instant::now();
        self.chat.remove(&msg.session);
        self.call_socket_gone(&msg.session, ctx);
        let waiting_on_chat = self
            .open
            .as_ref()
            .is_some_and(|c| c.state == ConversationState::Queued && c.channel == Channel::Chat);
        if self.chat.is_empty() && waiting_on_chat && self.abandon_timer.is_none() {
            let unserved = self.open.as_ref().is_some_and(|c| self.unserved_visitor(c));
            // Never longer than a known visitor's grace.
            let visitor_grace = self.engine.settings.timing.visitor_grace_ms;
            let grace = Duration::from_millis(if unserved {
                self.engine
                    .settings
                    .anonymous
                    .unserved_grace_ms
                    .min(visitor_grace)
            } else {
                visitor_grace
            });
            self.abandon_timer = Some(ctx.notify_later(AbandonIfAway, grace));
        }
    }
}

impl Handler<Typing> for CustomerActor {
    type Result = ();

    fn handle(&mut self, msg: Typing, _: &mut Context<Self>) {
        let Some(conv) = self.open.clone() else {
            return;
        };
        if msg.from_agent {
            self.push_chat(ChatNotice::AgentTyping);
        } else if conv.state == ConversationState::Assigned {
            self.tell_agent(
                &conv,
                Typing {
                    conversation_id: Some(conv.id),
                    from_agent: false,
                },
            );
        }
    }
}
