//! The agent's sockets: attaching (with the welcome that gives a reconnecting socket
//! its whole state back), detaching, the grace period after the last socket goes, and
//! the router that turns each `AgentRequest` from a session into the actor's work.

use super::work::Writing;
use super::*;

impl AgentActor {
    pub(super) fn welcome(&self, resumed: bool) -> AgentNotice {
        AgentNotice::Welcome {
            agent: AgentInfo {
                id: self.profile.id.clone(),
                display_name: self.profile.display_name.clone(),
                role: self.profile.role,
                skills: self.profile.skills.clone(),
                capacity: self.profile.capacity,
                queues: self.profile.queues.clone(),
            },
            status: self.status.label().to_owned(),
            reason: match &self.status {
                AgentStatus::Away { reason } => Some(reason.clone()),
                _ => None,
            },
            conversations: vec![],
            offers: {
                let mut pending: Vec<&Pending> = self.offers.values().collect();
                pending.sort_by_key(|p| p.expires_at);
                pending.into_iter().map(|p| self.offer_view(p)).collect()
            },
            parked: {
                let mut parked: Vec<ParkedView> = self.parked.values().cloned().collect();
                parked.sort_by_key(|p| (p.parked_at, p.conversation_id));
                parked
            },
            server_time: self.engine.now(),
            resumed,
            calls: self.engine.settings.calls.media.clone(),
        }
    }

    /// Grace period over: give the work back and stop.
    pub(super) fn go_offline(&mut self, ctx: &mut Context<Self>) {
        self.status = AgentStatus::Offline;
        self.note_presence(Default::default());
        let ids: Vec<OfferId> = self.offers.keys().copied().collect();
        for id in ids {
            self.close_offer(id, OfferOutcome::Rescinded, ctx);
        }
        for (conv, h) in self.held.drain() {
            if h.state == ConversationState::Assigned || h.state == ConversationState::WrapUp {
                self.engine.tell_customer(
                    h.customer_id,
                    Requeue {
                        conversation_id: conv,
                        overflow_to: None,
                        reason: "agent offline".into(),
                    },
                );
            }
        }
        for q in &self.profile.queues {
            self.engine.tell_queue_until_taken(
                q,
                AgentGone {
                    agent_id: self.profile.id.clone(),
                },
            );
        }
        crate::metrics::agent_state(&self.profile.id, "offline", false);
        self.engine.live(crate::live::LiveEvent::AgentGone {
            agent_id: self.profile.id.clone(),
        });
        tracing::info!(agent = %self.profile.id, "agent offline after grace period");
        ctx.stop();
    }

    pub(super) fn start_grace(&mut self, ctx: &mut Context<Self>) {
        if self.grace_timer.is_none() {
            let grace = Duration::from_millis(self.engine.settings.timing.agent_grace_ms);
            self.grace_timer = Some(ctx.run_later(grace, |act, ctx| {
                act.grace_timer = None;
                if act.sessions.is_empty() {
                    act.go_offline(ctx);
                }
            }));
        }
    }

    pub(super) fn handle_request(
        &mut self,
        session: SessionRef,
        req: AgentRequest,
        ctx: &mut Context<Self>,
    ) {
        match req {
            AgentRequest::Ping { nonce } => self.push_to(&session, AgentNotice::Pong { nonce }),
            AgentRequest::SetStatus { status, reason } => {
                self.set_status(session, status, reason, ctx)
            }
            AgentRequest::Accept { offer: offer_id } => self.accept(session, offer_id, ctx),
            AgentRequest::Reject { offer: offer_id } => {
                if self
                    .close_offer(offer_id, OfferOutcome::Rejected, ctx)
                    .is_none()
                {
                    return self.error_to(
                        &session,
                        EngineError::new(ErrorCode::OfferNotFound, "no pending offer with that id"),
                        Some(offer_id.to_string()),
                    );
                }
                self.missed_in_row = 0;
                self.publish();
                self.pull(ctx);
            }
            AgentRequest::Reply {
                conversation: conversation_id,
                client_msg_id,
                text,
                channel,
                template,
                files,
            } => self.write(
                session,
                conversation_id,
                client_msg_id,
                text,
                Writing::Reply(channel, template, files),
                ctx,
            ),
            AgentRequest::Note {
                conversation: conversation_id,
                client_msg_id,
                text,
            } => self.write(
                session,
                conversation_id,
                client_msg_id,
                text,
                Writing::Note,
                ctx,
            ),
            AgentRequest::Typing {
                conversation: conversation_id,
            } => {
                if let Ok(h) = self.held_or_err(conversation_id) {
                    self.engine.tell_customer(
                        h.customer_id,
                        Typing {
                            conversation_id: Some(conversation_id),
                            from_agent: true,
                        },
                    );
                }
            }
            AgentRequest::WrapUp {
                conversation: conversation_id,
            } => self.close(session, conversation_id, CloseKind::WrapUp, None, ctx),
            AgentRequest::Resolve {
                conversation: conversation_id,
                disposition,
            } => self.close(
                session,
                conversation_id,
                CloseKind::Resolve,
                disposition,
                ctx,
            ),
            AgentRequest::Transfer {
                conversation: conversation_id,
                queue,
                agent,
            } => self.transfer(session, conversation_id, queue, agent, ctx),
            AgentRequest::Park { conversation } => self.park(Some(session), conversation, ctx),
            AgentRequest::Unpark { conversation } => self.unpark(session, conversation, ctx),
            AgentRequest::History {
                customer: customer_id,
                before,
                limit,
                request_id,
            } => self.history(session, customer_id, before, limit, request_id, ctx),
            AgentRequest::CallStart {
                conversation,
                media,
            } => self.call_start(session, conversation, media, ctx),
            AgentRequest::CallAnswer {
                conversation,
                call_id,
            } => self.call_answer(session, conversation, call_id, ctx),
            AgentRequest::CallSignal {
                conversation,
                call_id,
                signal,
            } => self.call_signal(session, conversation, call_id, signal, ctx),
            AgentRequest::CallHangup {
                conversation,
                call_id,
            } => self.call_hangup(session, conversation, call_id, ctx),
        }
    }
}

impl Handler<AttachAgent> for AgentActor {
    type Result = ();

    fn handle(&mut self, msg: AttachAgent, ctx: &mut Context<Self>) -> Self::Result {
        let resumed = self.ever_attached || !self.held.is_empty();
        self.ever_attached = true;
        if let Some(t) = self.grace_timer.take() {
            ctx.cancel_future(t);
        }
        self.sessions.insert(msg.session.clone());
        crate::metrics::ws_connections("agent", 1);
        // Conversations (with recent messages) come from their customer actors; the
        // welcome goes out with them, then routing state is published.
        let engine = self.engine.clone();
        let held: Vec<(ConversationId, CustomerId)> =
            self.held.iter().map(|(c, h)| (*c, h.customer_id)).collect();
        let mut welcome = self.welcome(resumed);
        let session = msg.session;
        ctx.wait(
            async move {
                let views = held
                    .into_iter()
                    .map(|(conv, customer)| held_view(engine.clone(), conv, customer));
                let views = futures_util::future::join_all(views).await;
                views.into_iter().flatten().collect::<Vec<_>>()
            }
            .into_actor(self)
            .map(move |views, act, ctx| {
                for v in &views {
                    act.listed(v, ctx);
                }
                if let AgentNotice::Welcome { conversations, .. } = &mut welcome {
                    *conversations = views;
                }
                act.push_to(&session, welcome);
                act.publish();
                act.pull(ctx);
            }),
        );
    }
}

/// A held conversation as a welcome lists it. From its customer's actor when that
/// runs on this node (it holds the latest events; no store read). From the store when
/// it runs on another node: the agent's actor waits for the welcome before it handles
/// anything else, and another node's actor may be loading after a takeover or its
/// shard between owners — up to `cluster.actor_timeout_ms` of this agent's messages
/// held up (seen in the failover benchmark). The store holds every event the actor
/// pushed (an event is committed before it is pushed), so the view is the same. The
/// other source is tried when the first fails, so that a welcome never leaves out a
/// conversation the agent holds; `None` only when neither answers.
async fn held_view(
    engine: Engine,
    conv: ConversationId,
    customer: CustomerId,
) -> Option<crate::domain::view::ConversationView> {
    let ask = || {
        engine.ask_customer(
            customer,
            GetConversationView {
                conversation_id: conv,
            },
        )
    };
    let read = || async {
        stored_view(&engine, conv, customer)
            .await
            .map_err(|e| e.to_string())
    };
    let (first, second) = if engine.is_here::<crate::actors::customer::CustomerActor>(&customer) {
        match ask().await {
            Ok(v) => return Some(v),
            Err(asked) => (asked.to_string(), read().await),
        }
    } else {
        match read().await {
            Ok(v) => return v,
            Err(read) => (read, ask().await.map(Some).map_err(|e| e.to_string())),
        }
    };
    match second {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(%conv, %customer, first = %first, then = %e, "a held conversation left out of a welcome: neither its customer's actor nor the store answered");
            None
        }
    }
}

/// A conversation's view read from the store: its row, its customer's profile and the
/// customer's latest events (`limits.recent_events`, oldest first), as its
/// customer's actor would show it.
async fn stored_view(
    engine: &Engine,
    conv: ConversationId,
    customer: CustomerId,
) -> Result<Option<crate::domain::view::ConversationView>, crate::store::StoreError> {
    let store = &engine.store;
    let (Some(c), Some(profile)) = (
        store.conversation(conv).await?,
        store.customer(customer).await?,
    ) else {
        return Ok(None);
    };
    let mut recent = crate::actors::timeline::timeline(
        store,
        customer,
        None,
        engine.settings.limits.recent_events,
    )
    .await?;
    recent.reverse();
    Ok(Some(crate::domain::view::ConversationView {
        id: c.id,
        customer: crate::domain::view::CustomerView {
            id: profile.id,
            display_name: profile.display_name,
            priority: profile.priority,
            attributes: profile.attributes,
            identities: profile.identities,
            opted_out: profile.opted_out,
        },
        channel: c.channel,
        queue: c.queue,
        state: c.state,
        agent: c.agent,
        created_at: c.created_at,
        enqueued_at: c.enqueued_at,
        recent,
    }))
}

impl Handler<DetachAgent> for AgentActor {
    type Result = ();

    fn handle(&mut self, msg: DetachAgent, ctx: &mut Context<Self>) {
        self.detach(&msg.session, ctx);
    }
}

/// Reconnects told to a socket that missed a push, each after a longer pause (at
/// most [`RECONNECT_PAUSE_MAX`]: about a minute in all), before it is left alone; it
/// stays detached meanwhile (nothing more is pushed to it), and a request it sends
/// tells it again ([`AgentCommand`]).
const RECONNECT_TRIES: u32 = 40;
const RECONNECT_PAUSE: Duration = Duration::from_millis(250);
const RECONNECT_PAUSE_MAX: Duration = Duration::from_secs(2);

impl Handler<PushLost> for AgentActor {
    type Result = ();

    /// The socket stops getting pushes at once (what it would miss next is as lost as
    /// what it missed), and is told to reconnect: its new socket's welcome lists every
    /// held conversation whole. The telling crosses the same busy link, so it is
    /// repeated while it is lost too.
    fn handle(&mut self, msg: PushLost, ctx: &mut Context<Self>) {
        if msg.tries == 0 {
            if !self.sessions.contains(&msg.session) {
                // Several pushes lost at once: the first one's report acts.
                return;
            }
            tracing::info!(agent = %self.profile.id, session = msg.session.id, "a push to an agent socket on another node was lost; the socket is told to reconnect");
            crate::metrics::agent_catch_ups("resync", 1);
            self.detach(&msg.session, ctx);
        } else if msg.tries >= RECONNECT_TRIES {
            tracing::warn!(agent = %self.profile.id, session = msg.session.id, "an agent socket could not be told to reconnect");
            return;
        }
        let (engine, agent) = (self.engine.clone(), self.profile.id.clone());
        let pause = (RECONNECT_PAUSE * msg.tries).min(RECONNECT_PAUSE_MAX);
        ctx.run_later(pause, move |_, _| {
            let again = PushLost {
                session: msg.session.clone(),
                tries: msg.tries + 1,
            };
            engine.push_agent(
                &msg.session,
                AgentNotice::Reconnect {
                    reason: "resync".into(),
                },
                || {},
                super::to_agent(&engine, &agent, again),
            );
        });
    }
}

impl AgentActor {
    /// `session` is no longer one of the agent's sockets.
    fn detach(&mut self, session: &SessionRef, ctx: &mut Context<Self>) {
        if self.sessions.remove(session) {
            crate::metrics::ws_connections("agent", -1);
        }
        self.call_socket_gone(session);
        if self.sessions.is_empty() {
            // Nobody can answer a pending offer now: give each back to its queue at once
            // (rescinded) so it goes to another agent, instead of holding the
            // conversation until the offer times out. Held conversations stay for the
            // grace period; a reconnecting agent is offered work again.
            let pending: Vec<OfferId> = self.offers.keys().copied().collect();
            for id in pending {
                self.close_offer(id, OfferOutcome::Rescinded, ctx);
            }
            self.unshown.clear();
            self.publish();
            self.start_grace(ctx);
        }
    }
}

impl Handler<AgentCommand> for AgentActor {
    type Result = ();
    fn handle(&mut self, msg: AgentCommand, ctx: &mut Context<Self>) {
        // A socket detached after a lost push that still speaks (a client sends only
        // after its welcome, so after its attach): it is alive and its node reaches
        // this one, so it is told to reconnect now. Its request is still served.
        if self.engine.cluster().is_some() && !self.sessions.contains(&msg.session) {
            self.engine.push_agent(
                &msg.session,
                AgentNotice::Reconnect {
                    reason: "resync".into(),
                },
                || {},
                || {},
            );
        }
        self.handle_request(msg.session, msg.request, ctx);
    }
}
