//! `AgentActor`: one per logged-in agent. Owns the agent's status, held conversations,
//! pending offers (with their timeouts) and attached websocket sessions.
//!
//! It is the arbiter of its capacity: a queue's [`Reserve`] succeeds only if a slot of
//! that channel class is free counting held conversations *and* pending offers, so no
//! agent ever exceeds capacity however many queues offer at once. It alone decides an
//! offer's outcome (accepted / rejected / timed out / rescinded) and reports it to the
//! queue. When a slot frees it asks each of its queues for their best waiting
//! conversation ([`Peek`]) and pulls the best across queues ([`Pull`]).
//!
//! It outlives its last socket for `agent_grace_ms`; a socket that reconnects in time
//! gets the full state back. After the grace period, held conversations go back to
//! their queues (original wait kept) and the actor stops.

pub mod messages;

use super::messages::*;
use super::registry::Engine;
use crate::domain::view::{AgentInfo, CustomerView, OfferView};
use crate::domain::{
    AgentProfile, AgentStatus, Channel, ChannelClass, ConversationId, ConversationState,
    CustomerId, ErrorCode, Millis, OfferId, OfferOutcome, QueueName, RequestedStatus,
};
use actix::prelude::*;
use std::collections::{HashMap, VecDeque};
use std::time::Duration;

/// A conversation the agent holds.
#[derive(Debug, Clone)]
struct Held {
    customer_id: CustomerId,
    class: ChannelClass,
    state: ConversationState,
}

/// An offer waiting for the agent's answer.
struct Pending {
    info: OfferInfo,
    expires_at: Millis,
    timer: SpawnHandle,
    customer: Option<CustomerView>,
    /// The customer lookup for the offer card has finished (found or not).
    ready: bool,
}

pub struct AgentActor {
    engine: Engine,
    profile: AgentProfile,
    status: AgentStatus,
    sessions: HashMap<u64, Recipient<AgentPush>>,
    held: HashMap<ConversationId, Held>,
    /// Accepted conversations whose `Assign` is still in flight, with the state a
    /// `ConversationLeft` that overtook it reported (the customer left meanwhile): the
    /// agent's sockets get `conversation_assigned` first, then that update, never an
    /// assignment of a conversation already released.
    assigning: HashMap<ConversationId, Option<ConversationState>>,
    offers: HashMap<OfferId, Pending>,
    /// Offers in reservation order whose card has not been pushed yet: cards go out in
    /// this order even when their customer lookups finish out of order.
    unshown: VecDeque<OfferId>,
    /// Consecutive offers that timed out; reset by any answer.
    missed_in_row: u32,
    /// Since when the agent has had nothing to do (for longest-idle routing).
    idle_since: Millis,
    grace_timer: Option<SpawnHandle>,
    /// A Peek/Pull round is in flight; at most one at a time.
    pulling: bool,
    /// Another round was requested while one was in flight.
    pull_again: bool,
    /// A socket attached before (so a new socket resumes a session).
    ever_attached: bool,
    /// Started again after a crash: reload held conversations from the store.
    reload: bool,
}

impl AgentActor {
    pub fn new(engine: Engine, profile: AgentProfile) -> Self {
        let now = engine.now();
        Self {
            engine,
            profile,
            status: AgentStatus::Away {
                reason: "login".into(),
            },
            sessions: HashMap::new(),
            held: HashMap::new(),
            assigning: HashMap::new(),
            offers: HashMap::new(),
            unshown: VecDeque::new(),
            missed_in_row: 0,
            idle_since: now,
            grace_timer: None,
            pulling: false,
            pull_again: false,
            ever_attached: false,
            reload: false,
        }
    }

    /// An agent actor replacing one that crashed: on start it reloads the
    /// conversations the store has assigned to this agent (pending offers died with the
    /// old actor; their queues rescind them).
    pub fn restarted(engine: Engine, profile: AgentProfile) -> Self {
        Self {
            reload: true,
            ..Self::new(engine, profile)
        }
    }

    fn counts(&self) -> [u16; 4] {
        let mut c = [0u16; 4];
        for h in self.held.values() {
            c[h.class.index()] += 1;
        }
        for p in self.offers.values() {
            c[p.info.channel.class().index()] += 1;
        }
        c
    }

    fn free(&self) -> [u16; 4] {
        let counts = self.counts();
        let mut f = [0u16; 4];
        for class in ChannelClass::ALL {
            f[class.index()] = self.profile.capacity.free(class, &counts);
        }
        f
    }

    fn available(&self) -> bool {
        self.status == AgentStatus::Available && !self.sessions.is_empty()
    }

    fn occupancy_permille(&self) -> u32 {
        let total = self.profile.capacity.total_non_voice().max(1) as u32;
        let counts = self.counts();
        let used: u32 = counts.iter().map(|&c| c as u32).sum();
        if counts[ChannelClass::Voice.index()] > 0 {
            return 1000;
        }
        (used * 1000 / total).min(1000)
    }

    /// The queues this agent is eligible for (serves it and has the skills).
    fn eligible_queues(&self) -> Vec<QueueName> {
        self.profile
            .queues
            .iter()
            .filter(|q| {
                self.engine
                    .queue_config(q)
                    .is_some_and(|c| c.admits(&self.profile.skills))
            })
            .cloned()
            .collect()
    }

    /// Pushes routing state to every queue (index update).
    fn publish(&self) {
        let update = AgentUpdate {
            agent_id: self.profile.id.clone(),
            available: self.available(),
            free: self.free(),
            idle_since: self.idle_since,
            occupancy_permille: self.occupancy_permille(),
        };
        for q in self.eligible_queues() {
            if let Some(a) = self.engine.queue(&q) {
                a.do_send(update.clone());
            }
        }
        crate::metrics::agent_state(
            &self.profile.id,
            self.status.label(),
            !self.sessions.is_empty(),
        );
        self.report_live();
    }

    /// Tells the live hub this agent's state (never waits for it).
    fn report_live(&self) {
        let counts = self.counts();
        let total = self.profile.capacity.total_non_voice();
        let work: u16 = counts.iter().sum();
        let used = if counts[ChannelClass::Voice.index()] > 0 {
            total
        } else {
            work.min(total)
        };
        self.engine
            .live(crate::live::LiveEvent::Agent(crate::live::AgentReport {
                agent_id: self.profile.id.clone(),
                display_name: self.profile.display_name.clone(),
                queues: self.eligible_queues(),
                presence: match self.status {
                    AgentStatus::Available => crate::live::Presence::Available,
                    AgentStatus::Away { .. } => crate::live::Presence::Away,
                    AgentStatus::Offline => crate::live::Presence::Offline,
                },
                reason: match &self.status {
                    AgentStatus::Away { reason } => Some(reason.clone()),
                    _ => None,
                },
                connected: !self.sessions.is_empty(),
                work,
                slots_used: used,
                slots_total: total,
            }));
    }

    fn push(&self, msg: AgentNotice) {
        for s in self.sessions.values() {
            s.do_send(AgentPush(msg.clone()));
        }
    }

    fn push_to(&self, session: u64, msg: AgentNotice) {
        if let Some(s) = self.sessions.get(&session) {
            s.do_send(AgentPush(msg));
        }
    }

    fn error_to(&self, session: u64, e: EngineError, reference: Option<String>) {
        self.push_to(
            session,
            AgentNotice::Refused {
                error: e,
                reference,
            },
        );
    }

    fn status_msg(&self) -> AgentNotice {
        AgentNotice::Status {
            status: self.status.label().to_owned(),
            reason: match &self.status {
                AgentStatus::Away { reason } => Some(reason.clone()),
                _ => None,
            },
        }
    }

    fn offer_view(&self, p: &Pending) -> OfferView {
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
    fn pull(&mut self, ctx: &mut Context<Self>) {
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
            .filter_map(|q| self.engine.queue(&q))
            .collect();
        let agent_id = self.profile.id.clone();
        let engine = self.engine.clone();
        let fut = async move {
            let peeks = futures_util::future::join_all(queues.iter().map(|q| {
                q.send(Peek {
                    agent_id: agent_id.clone(),
                })
            }))
            .await;
            let best = peeks
                .into_iter()
                .filter_map(|r| r.ok().flatten())
                .min_by_key(|p| p.rank());
            match best {
                Some(p) => match engine.queue(&p.queue) {
                    Some(q) => q
                        .send(Pull {
                            agent_id,
                            conversation_id: p.conversation_id,
                        })
                        .await
                        .unwrap_or(false),
                    None => false,
                },
                None => false,
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
    fn show_ready_offers(&mut self) {
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

    fn close_offer(
        &mut self,
        offer_id: OfferId,
        outcome: OfferOutcome,
        ctx: &mut Context<Self>,
    ) -> Option<OfferInfo> {
        let p = self.offers.remove(&offer_id)?;
        ctx.cancel_future(p.timer);
        if let Some(q) = self.engine.queue(&p.info.queue) {
            q.do_send(OfferClosed {
                offer_id,
                conversation_id: p.info.conversation_id,
                agent_id: self.profile.id.clone(),
                outcome,
            });
        }
        if outcome != OfferOutcome::Accepted {
            self.push(AgentNotice::OfferRevoked {
                offer_id,
                conversation_id: p.info.conversation_id,
                outcome: outcome.as_str().to_owned(),
            });
        }
        Some(p.info)
    }

    fn offer_timed_out(&mut self, offer_id: OfferId, ctx: &mut Context<Self>) {
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

    /// The customer's side closed a conversation this agent holds: tell the sockets and
    /// free the slot.
    fn left(&mut self, conv: ConversationId, state: ConversationState, ctx: &mut Context<Self>) {
        if self.held.contains_key(&conv) {
            self.push(AgentNotice::ConversationUpdated {
                conversation_id: conv,
                state,
                held: false,
            });
            self.released(conv, ctx);
        }
    }

    /// A slot freed (resolve, transfer, customer left).
    fn released(&mut self, conv: ConversationId, ctx: &mut Context<Self>) {
        if self.held.remove(&conv).is_some() {
            if self.held.is_empty() {
                self.idle_since = self.engine.now();
            }
            self.publish();
            self.pull(ctx);
        }
    }

    fn welcome(&self, resumed: bool) -> AgentNotice {
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
            server_time: self.engine.now(),
            resumed,
        }
    }

    /// Grace period over: give the work back and stop.
    fn go_offline(&mut self, ctx: &mut Context<Self>) {
        self.status = AgentStatus::Offline;
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
            if let Some(a) = self.engine.queue(q) {
                a.do_send(AgentGone {
                    agent_id: self.profile.id.clone(),
                });
            }
        }
        crate::metrics::agent_state(&self.profile.id, "offline", false);
        self.engine.live(crate::live::LiveEvent::AgentGone {
            agent_id: self.profile.id.clone(),
        });
        tracing::info!(agent = %self.profile.id, "agent offline after grace period");
        ctx.stop();
    }

    fn start_grace(&mut self, ctx: &mut Context<Self>) {
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

    fn held_or_err(&self, conv: ConversationId) -> EngineResult<Held> {
        self.held
            .get(&conv)
            .cloned()
            .ok_or_else(EngineError::not_yours)
    }

    fn handle_request(&mut self, session: u64, req: AgentRequest, ctx: &mut Context<Self>) {
        match req {
            AgentRequest::Ping { nonce } => self.push_to(session, AgentNotice::Pong { nonce }),
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
                        session,
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
            } => self.write(
                session,
                conversation_id,
                client_msg_id,
                text,
                Writing::Reply(channel),
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
            AgentRequest::History {
                customer: customer_id,
                before,
                limit,
                request_id,
            } => self.history(session, customer_id, before, limit, request_id, ctx),
        }
    }

    fn set_status(
        &mut self,
        session: u64,
        status: RequestedStatus,
        reason: Option<String>,
        ctx: &mut Context<Self>,
    ) {
        let reason = reason.unwrap_or_default();
        if let Err(e) = check_reason(&reason) {
            return self.error_to(session, e, None);
        }
        self.apply_status(status, reason, ctx);
    }

    /// Sets the status (reason already checked), tells every socket and the queues,
    /// and pulls work if the agent became available.
    fn apply_status(&mut self, status: RequestedStatus, reason: String, ctx: &mut Context<Self>) {
        match status {
            RequestedStatus::Available => {
                if self.status != AgentStatus::Available && self.held.is_empty() {
                    self.idle_since = self.engine.now();
                }
                self.status = AgentStatus::Available;
                self.missed_in_row = 0;
            }
            RequestedStatus::Away => {
                self.status = AgentStatus::Away {
                    reason: if reason.is_empty() {
                        "away".into()
                    } else {
                        reason
                    },
                }
            }
        }
        self.push(self.status_msg());
        self.publish();
        self.pull(ctx);
    }

    fn accept(&mut self, session: u64, offer_id: OfferId, ctx: &mut Context<Self>) {
        let Some(info) = self.close_offer(offer_id, OfferOutcome::Accepted, ctx) else {
            return self.error_to(
                session,
                EngineError::new(ErrorCode::OfferNotFound, "no pending offer with that id"),
                Some(offer_id.to_string()),
            );
        };
        self.missed_in_row = 0;
        let conv = info.conversation_id;
        // The slot moves from "offered" to "held" in one step: capacity never dips.
        self.held.insert(
            conv,
            Held {
                customer_id: info.customer_id,
                class: info.channel.class(),
                state: ConversationState::Assigned,
            },
        );
        let assign = Assign {
            conversation_id: conv,
            agent_id: self.profile.id.clone(),
            agent_name: self.profile.display_name.clone(),
            offer_id,
        };
        self.assigning.insert(conv, None);
        let engine = self.engine.clone();
        let fut = async move { engine.ask_customer(info.customer_id, assign).await };
        ctx.spawn(fut.into_actor(self).map(move |res, act, ctx| {
            let left = act.assigning.remove(&conv).flatten();
            match res {
                Ok(view) => {
                    act.push(AgentNotice::ConversationAssigned { conversation: view });
                    if let Some(state) = left {
                        act.left(conv, state, ctx);
                    }
                }
                Err(e) => {
                    act.error_to(session, e, Some(offer_id.to_string()));
                    act.released(conv, ctx);
                }
            }
        }));
        self.publish();
        self.pull(ctx);
    }

    fn write(
        &mut self,
        session: u64,
        conv: ConversationId,
        client_msg_id: String,
        text: String,
        writing: Writing,
        ctx: &mut Context<Self>,
    ) {
        let (note, channel) = match writing {
            Writing::Reply(c) => (false, c),
            Writing::Note => (true, None),
        };
        let h = match self.held_or_err(conv) {
            Ok(h) => h,
            Err(e) => return self.error_to(session, e, Some(client_msg_id)),
        };
        if client_msg_id.is_empty() || client_msg_id.len() > crate::domain::ids::MAX_CLIENT_MSG_ID {
            return self.error_to(
                session,
                EngineError::invalid("client_msg_id must be 1 to 128 bytes"),
                Some(client_msg_id),
            );
        }
        let msg = AgentWrite {
            conversation_id: conv,
            agent_id: self.profile.id.clone(),
            client_msg_id: client_msg_id.clone(),
            text,
            note,
            channel,
        };
        let engine = self.engine.clone();
        let fut = async move { engine.ask_customer(h.customer_id, msg).await };
        ctx.spawn(fut.into_actor(self).map(move |res, act, _| match res {
            Ok(ack) => act.push_to(
                session,
                AgentNotice::Ack {
                    client_msg_id,
                    conversation_id: ack.conversation_id,
                    event_id: ack.event_id,
                    duplicate: ack.duplicate,
                },
            ),
            Err(e) => act.error_to(session, e, Some(client_msg_id)),
        }));
    }

    fn close(
        &mut self,
        session: u64,
        conv: ConversationId,
        kind: CloseKind,
        disposition: Option<String>,
        ctx: &mut Context<Self>,
    ) {
        let h = match self.held_or_err(conv) {
            Ok(h) => h,
            Err(e) => return self.error_to(session, e, Some(conv.to_string())),
        };
        let msg = CloseConversation {
            conversation_id: conv,
            agent_id: self.profile.id.clone(),
            kind,
            disposition,
        };
        let engine = self.engine.clone();
        let fut = async move { engine.ask_customer(h.customer_id, msg).await };
        ctx.spawn(fut.into_actor(self).map(move |res, act, ctx| match res {
            Ok(()) => {
                let state = match kind {
                    CloseKind::WrapUp => ConversationState::WrapUp,
                    CloseKind::Resolve => ConversationState::Resolved,
                };
                act.push(AgentNotice::ConversationUpdated {
                    conversation_id: conv,
                    state,
                    held: kind == CloseKind::WrapUp,
                });
                match kind {
                    CloseKind::WrapUp => {
                        if let Some(h) = act.held.get_mut(&conv) {
                            h.state = ConversationState::WrapUp;
                        }
                    }
                    CloseKind::Resolve => act.released(conv, ctx),
                }
            }
            Err(e) => act.error_to(session, e, Some(conv.to_string())),
        }));
    }

    fn transfer(
        &mut self,
        session: u64,
        conv: ConversationId,
        queue: Option<QueueName>,
        agent: Option<crate::domain::AgentId>,
        ctx: &mut Context<Self>,
    ) {
        let h = match self.held_or_err(conv) {
            Ok(h) => h,
            Err(e) => return self.error_to(session, e, Some(conv.to_string())),
        };
        let msg = Transfer {
            conversation_id: conv,
            from_agent: Some(self.profile.id.clone()),
            to_queue: queue,
            to_agent: agent,
        };
        let engine = self.engine.clone();
        let fut = async move { engine.ask_customer(h.customer_id, msg).await };
        ctx.spawn(fut.into_actor(self).map(move |res, act, ctx| match res {
            Ok(()) => {
                act.push(AgentNotice::ConversationUpdated {
                    conversation_id: conv,
                    state: ConversationState::Queued,
                    held: false,
                });
                act.released(conv, ctx);
            }
            Err(e) => act.error_to(session, e, Some(conv.to_string())),
        }));
    }

    fn history(
        &mut self,
        session: u64,
        customer: CustomerId,
        before: Option<crate::domain::EventId>,
        limit: Option<usize>,
        request_id: Option<String>,
        ctx: &mut Context<Self>,
    ) {
        let max = self.engine.settings.limits.max_page;
        let limit = limit.unwrap_or(50);
        if limit == 0 || limit > max {
            return self.error_to(
                session,
                EngineError::invalid(format!("limit must be 1 to {max}")),
                request_id,
            );
        }
        let holds = self.held.values().any(|h| h.customer_id == customer);
        let store = self.engine.store.clone();
        let me = self.profile.id.clone();
        let fut = async move {
            // Agents read customers they hold or have served.
            if !holds {
                let convs = store
                    .conversations_of(customer)
                    .await
                    .map_err(EngineError::unavailable)?;
                if !convs.iter().any(|c| c.agent.as_ref() == Some(&me)) {
                    return Err(EngineError::new(
                        ErrorCode::Forbidden,
                        "you have not served this customer",
                    ));
                }
            }
            let mut events = super::timeline::timeline(&store, customer, before, limit + 1)
                .await
                .map_err(EngineError::unavailable)?;
            let more = events.len() > limit;
            events.truncate(limit);
            Ok((events, more))
        };
        ctx.spawn(fut.into_actor(self).map(move |res, act, _| match res {
            Ok((events, more)) => act.push_to(
                session,
                AgentNotice::History {
                    request_id,
                    customer_id: customer,
                    events,
                    more,
                },
            ),
            Err(e) => act.error_to(session, e, request_id),
        }));
    }
}

/// An away reason: at most 100 bytes of text without control characters.
pub fn check_reason(reason: &str) -> EngineResult<()> {
    if reason.len() > 100 || reason.chars().any(char::is_control) {
        return Err(EngineError::invalid(
            "reason must be at most 100 bytes of text",
        ));
    }
    Ok(())
}

/// What an agent is writing: a reply to the customer (on a chosen channel, or the
/// default one) or an internal note.
enum Writing {
    Reply(Option<crate::domain::Channel>),
    Note,
}

impl Actor for AgentActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(4096);
        // Started without a socket (restored after a restart): the grace period runs.
        self.start_grace(ctx);
        if self.reload {
            let store = self.engine.store.clone();
            let id = self.profile.id.clone();
            // Before any other message (a socket attaching) is handled.
            ctx.wait(
                async move { store.open_conversations().await }
                    .into_actor(self)
                    .map(move |res, act, _| match res {
                        Ok(open) => {
                            for c in open.into_iter().filter(|c| {
                                c.agent.as_ref() == Some(&id)
                                    && matches!(
                                        c.state,
                                        ConversationState::Assigned | ConversationState::WrapUp
                                    )
                            }) {
                                act.held.insert(
                                    c.id,
                                    Held {
                                        customer_id: c.customer_id,
                                        class: c.channel.class(),
                                        state: c.state,
                                    },
                                );
                            }
                            tracing::warn!(agent = %id, held = act.held.len(), "agent actor restarted; held conversations reloaded");
                        }
                        Err(e) => {
                            tracing::error!(agent = %id, error = %e, "agent restart: cannot reload held conversations")
                        }
                    }),
            );
        }
    }

    fn stopped(&mut self, ctx: &mut Self::Context) {
        // Stopped by a panic (actix runs `stopped` while the crashed actor unwinds):
        // stay registered, so that the next lookup sees a dead actor and restarts it
        // with its conversations reloaded (`Engine::agent_or_start`).
        if std::thread::panicking() {
            return;
        }
        self.engine.agent_stopped(&self.profile.id, &ctx.address());
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
        self.sessions.insert(msg.session_id, msg.recipient);
        crate::metrics::ws_connections("agent", 1);
        // Conversations (with recent messages) come from their customer actors; the
        // welcome goes out with them, then routing state is published.
        let engine = self.engine.clone();
        let held: Vec<(ConversationId, CustomerId)> =
            self.held.iter().map(|(c, h)| (*c, h.customer_id)).collect();
        let mut welcome = self.welcome(resumed);
        let session = msg.session_id;
        ctx.wait(
            async move {
                let mut views = Vec::new();
                for (conv, customer) in held {
                    if let Ok(v) = engine
                        .ask_customer(
                            customer,
                            GetConversationView {
                                conversation_id: conv,
                            },
                        )
                        .await
                    {
                        views.push(v);
                    }
                }
                views
            }
            .into_actor(self)
            .map(move |views, act, ctx| {
                if let AgentNotice::Welcome { conversations, .. } = &mut welcome {
                    *conversations = views;
                }
                act.push_to(session, welcome);
                act.publish();
                act.pull(ctx);
            }),
        );
        // The welcome is pushed above, after the views load.
    }
}

impl Handler<DetachAgent> for AgentActor {
    type Result = ();

    fn handle(&mut self, msg: DetachAgent, ctx: &mut Context<Self>) {
        if self.sessions.remove(&msg.session_id).is_some() {
            crate::metrics::ws_connections("agent", -1);
        }
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
        self.handle_request(msg.session_id, msg.request, ctx);
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

impl Handler<ConversationEvent> for AgentActor {
    type Result = ();
    fn handle(&mut self, msg: ConversationEvent, _: &mut Context<Self>) {
        if let Some(h) = self.held.get_mut(&msg.conversation_id) {
            // The customer moved (e.g. called in, or went to video): the conversation now
            // uses that channel's capacity, so a call makes the agent exclusive to it.
            if let crate::domain::EventKind::ChannelSwitched { to, .. } = &msg.event.kind {
                if h.class != to.class() {
                    h.class = to.class();
                    self.publish();
                }
            }
            self.push(AgentNotice::Event {
                conversation_id: msg.conversation_id,
                event: msg.event,
            });
        }
    }
}

impl Handler<ConversationLeft> for AgentActor {
    type Result = ();
    fn handle(&mut self, msg: ConversationLeft, ctx: &mut Context<Self>) {
        if let Some(left) = self.assigning.get_mut(&msg.conversation_id) {
            // Overtook the assignment's answer: told after it (see `assigning`).
            *left = Some(msg.state);
            return;
        }
        self.left(msg.conversation_id, msg.state, ctx);
    }
}

impl Handler<Typing> for AgentActor {
    type Result = ();
    fn handle(&mut self, msg: Typing, _: &mut Context<Self>) {
        if let Some(c) = msg.conversation_id.filter(|c| self.held.contains_key(c)) {
            self.push(AgentNotice::CustomerTyping { conversation_id: c });
        }
    }
}

impl Handler<RestoreHeld> for AgentActor {
    type Result = ();
    fn handle(&mut self, msg: RestoreHeld, _: &mut Context<Self>) {
        for (conv, customer, channel, _queue) in msg.conversations {
            let channel: Channel = channel;
            self.held.insert(
                conv,
                Held {
                    customer_id: customer,
                    class: channel.class(),
                    state: ConversationState::Assigned,
                },
            );
        }
    }
}

impl Handler<Republish> for AgentActor {
    type Result = ();
    fn handle(&mut self, _: Republish, ctx: &mut Context<Self>) {
        self.publish();
        self.pull(ctx);
    }
}

impl Handler<InjectPanic> for AgentActor {
    type Result = ();
    fn handle(&mut self, _: InjectPanic, _: &mut Context<Self>) {
        panic!("agent {}: injected panic (test hook)", self.profile.id);
    }
}

impl Handler<GetAgentLive> for AgentActor {
    type Result = MessageResult<GetAgentLive>;
    fn handle(&mut self, _: GetAgentLive, _: &mut Context<Self>) -> Self::Result {
        MessageResult(AgentLive {
            id: self.profile.id.clone(),
            status: self.status.label().to_owned(),
            reason: match &self.status {
                AgentStatus::Away { reason } => Some(reason.clone()),
                _ => None,
            },
            connected_sockets: self.sessions.len(),
            held: self.held.keys().copied().collect(),
            pending_offers: self
                .offers
                .values()
                .map(|p| p.info.conversation_id)
                .collect(),
            free: self.free(),
            missed_in_row: self.missed_in_row,
        })
    }
}

impl Handler<SupervisorSetStatus> for AgentActor {
    type Result = ();
    fn handle(&mut self, msg: SupervisorSetStatus, ctx: &mut Context<Self>) {
        if check_reason(msg.reason.as_deref().unwrap_or("")).is_err() {
            return;
        }
        tracing::info!(agent = %self.profile.id, by = %msg.by, status = ?msg.status, "status set by a supervisor");
        self.apply_status(msg.status, msg.reason.unwrap_or_default(), ctx);
    }
}

impl Handler<SetAgentQueues> for AgentActor {
    type Result = ();
    fn handle(&mut self, msg: SetAgentQueues, ctx: &mut Context<Self>) {
        let before = self.eligible_queues();
        self.profile.queues = msg.queues;
        let after = self.eligible_queues();
        // Queues it no longer serves forget it; held conversations stay with it.
        for q in before.iter().filter(|q| !after.contains(q)) {
            if let Some(a) = self.engine.queue(q) {
                a.do_send(AgentGone {
                    agent_id: self.profile.id.clone(),
                });
            }
        }
        self.publish();
        self.pull(ctx);
    }
}
