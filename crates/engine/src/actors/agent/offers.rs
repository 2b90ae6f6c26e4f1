//! Offers: a queue's `Reserve` (granted only with a free slot of the class, counting
//! pending offers), showing them to the agent, accepting, timing out and rescinding,
//! and pulling the best waiting conversation across queues when a slot frees.

use super::*;

impl AgentActor {
    pub(super) fn offer_view(&self, p: &Pending) -> OfferView {
        let now = self.engine.now();
        OfferView {
            offer_id: p.info.offer_id,
            conversation_id: p.info.conversation_id,
            customer: p.customer.clone().unwrap_or(CustomerView {
                id: p.info.customer_id,
                display_name: None,
                priority: p.info.priority,
                attributes: Default::default(),
                identities: vec![],
                opted_out: Default::default(),
            }),
            channel: p.info.channel,
            queue: p.info.queue.clone(),
            priority: p.info.priority,
            waited_ms: now.since(p.info.enqueued_at),
            expires_at: p.expires_at,
            timeout_ms: p.info.timeout_ms,
            preview: p.info.preview.clone(),
        }
    }

    /// Asks every eligible queue for its best conversation for this agent and pulls
    /// the best one, repeating while capacity remains.
    pub(super) fn pull(&mut self, ctx: &mut Context<Self>) {
        if !self.available() || self.free().iter().all(|&f| f == 0) {
            return;
        }
        if self.pulling {
            self.pull_again = true;
            return;
        }
        self.pulling = true;
        self.pull_again = false;
        let queues: Vec<_> = self
            .eligible_queues()
            .into_iter()
            .filter(|q| self.engine.queue_exists(q))
            .collect();
        let agent_id = self.profile.id.clone();
        let engine = self.engine.clone();
        let fut = async move {
            let peeks = futures_util::future::join_all(queues.iter().map(|q| {
                engine.ask_queue(
                    q,
                    Peek {
                        agent_id: agent_id.clone(),
                    },
                )
            }))
            .await;
            let best = peeks
                .into_iter()
                .filter_map(|r| r.ok().flatten())
                .min_by_key(|p| p.rank());
            match best {
                Some(p) if engine.queue_exists(&p.queue) => engine
                    .ask_queue(
                        &p.queue,
                        Pull {
                            agent_id,
                            conversation_id: p.conversation_id,
                        },
                    )
                    .await
                    .unwrap_or(false),
                _ => false,
            }
        };
        ctx.spawn(fut.into_actor(self).map(|pulled, act, ctx| {
            act.pulling = false;
            if pulled || act.pull_again {
                act.pull(ctx);
            }
        }));
    }

    /// Pushes the cards of offers whose lookup finished, in reservation order; stops
    /// at the first one still waiting for its lookup. Closed offers are skipped.
    pub(super) fn show_ready_offers(&mut self) {
        while let Some(id) = self.unshown.front().copied() {
            match self.offers.get(&id) {
                None => {}
                Some(p) if p.ready => {
                    let view = self.offer_view(p);
                    self.push(AgentNotice::Offer(view));
                }
                Some(_) => break,
            }
            self.unshown.pop_front();
        }
    }

    pub(super) fn close_offer(
        &mut self,
        offer_id: OfferId,
        outcome: OfferOutcome,
        ctx: &mut Context<Self>,
    ) -> Option<OfferInfo> {
        let p = self.offers.remove(&offer_id)?;
        ctx.cancel_future(p.timer);
        self.engine.tell_queue_until_taken(
            &p.info.queue,
            OfferClosed {
                offer_id,
                conversation_id: p.info.conversation_id,
                agent_id: self.profile.id.clone(),
                outcome,
            },
        );
        if outcome != OfferOutcome::Accepted {
            self.push(AgentNotice::OfferRevoked {
                offer_id,
                conversation_id: p.info.conversation_id,
                outcome: outcome.as_str().to_owned(),
            });
        }
        Some(p.info)
    }

    pub(super) fn offer_timed_out(&mut self, offer_id: OfferId, ctx: &mut Context<Self>) {
        let Some(info) = self.close_offer(offer_id, OfferOutcome::TimedOut, ctx) else {
            return;
        };
        self.missed_in_row += 1;
        if self.missed_in_row >= info.max_missed.max(1) && self.status == AgentStatus::Available {
            self.status = AgentStatus::Away {
                reason: "missed".into(),
            };
            self.push(self.status_msg());
            tracing::info!(agent = %self.profile.id, missed = self.missed_in_row, "agent set away after missed offers");
        }
        self.publish();
        self.pull(ctx);
    }

    pub(super) fn accept(
        &mut self,
        session: SessionRef,
        offer_id: OfferId,
        ctx: &mut Context<Self>,
    ) {
        let Some(info) = self.close_offer(offer_id, OfferOutcome::Accepted, ctx) else {
            return self.error_to(
                &session,
                EngineError::new(ErrorCode::OfferNotFound, "no pending offer with that id"),
                Some(offer_id.to_string()),
            );
        };
        self.missed_in_row = 0;
        let conv = info.conversation_id;
        // The slot moves from "offered" to "held" in one step: capacity never dips.
        self.held.insert(
            conv,
            Held::new(
                info.customer_id,
                info.channel,
                info.queue.clone(),
                ConversationState::Assigned,
                self.engine.now(),
            ),
        );
        let assign = Assign {
            conversation_id: conv,
            agent_id: self.profile.id.clone(),
            agent_name: self.profile.display_name.clone(),
            offer_id,
        };
        self.assigning.insert(conv, None);
        let (engine, customer) = (self.engine.clone(), info.customer_id);
        let fut = async move { engine.ask_customer(customer, assign).await };
        ctx.spawn(fut.into_actor(self).map(move |res, act, ctx| {
            let left = act.assigning.remove(&conv).flatten();
            match res {
                Ok(view) => {
                    act.listed(&view, ctx);
                    act.push(AgentNotice::ConversationAssigned { conversation: view });
                    if let Some(state) = left {
                        act.left(conv, state, ctx);
                    }
                }
                Err(e) => {
                    if e.code != ErrorCode::OfferNotFound {
                        // Not confirmed (the write failed, or the answer was lost
                        // between nodes): the queue let the conversation go when the
                        // offer was accepted, so its customer's actor puts it back.
                        let failed = AssignFailed {
                            conversation_id: conv,
                            agent_id: act.profile.id.clone(),
                            offer_id,
                        };
                        act.engine.tell_customer_until_taken(customer, failed);
                    }
                    act.error_to(&session, e, Some(offer_id.to_string()));
                    act.released(conv, ctx);
                }
            }
        }));
        self.publish();
        self.pull(ctx);
    }
}

impl Handler<Reserve> for AgentActor {
    type Result = Result<(), String>;

    fn handle(&mut self, msg: Reserve, ctx: &mut Context<Self>) -> Self::Result {
        let info = msg.0;
        if !self.available() {
            return Err(format!(
                "agent {}",
                if self.sessions.is_empty() {
                    "disconnected"
                } else {
                    self.status.label()
                }
            ));
        }
        let class = info.channel.class();
        if self.free()[class.index()] == 0 {
            return Err(format!("no free {} slot", class.as_str()));
        }
        if self.held.contains_key(&info.conversation_id)
            || self
                .offers
                .values()
                .any(|p| p.info.conversation_id == info.conversation_id)
        {
            return Err("already holds or is offered this conversation".into());
        }
        let offer_id = info.offer_id;
        let timeout = Duration::from_millis(info.timeout_ms);
        let timer = ctx.run_later(timeout, move |act, ctx| act.offer_timed_out(offer_id, ctx));
        let expires_at = self.engine.now().plus_ms(info.timeout_ms);
        let customer_id = info.customer_id;
        self.offers.insert(
            offer_id,
            Pending {
                info,
                expires_at,
                timer,
                customer: None,
                ready: false,
            },
        );
        self.unshown.push_back(offer_id);
        self.publish();
        // Enrich the offer card with the customer's profile, then show it.
        let store = self.engine.store.clone();
        ctx.spawn(
            async move { store.customer(customer_id).await.ok().flatten() }
                .into_actor(self)
                .map(move |customer, act, _| {
                    if let Some(p) = act.offers.get_mut(&offer_id) {
                        p.customer = customer.map(|c| CustomerView {
                            id: c.id,
                            display_name: c.display_name,
                            priority: c.priority,
                            attributes: c.attributes,
                            identities: c.identities,
                            opted_out: c.opted_out,
                        });
                        p.ready = true;
                    }
                    act.show_ready_offers();
                }),
        );
        Ok(())
    }
}

impl Handler<Rescind> for AgentActor {
    type Result = ();
    fn handle(&mut self, msg: Rescind, ctx: &mut Context<Self>) {
        let id = self
            .offers
            .iter()
            .find(|(_, p)| p.info.conversation_id == msg.conversation_id)
            .map(|(id, _)| *id);
        if let Some(id) = id {
            self.close_offer(id, OfferOutcome::Rescinded, ctx);
            self.publish();
            self.pull(ctx);
        }
    }
}
