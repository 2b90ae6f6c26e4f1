//! The conversations the agent holds: writing replies and notes, wrap-up and close
//! (of a parked one too), transfer, the customer's history, and what the customer actors tell it (events,
//! a conversation leaving, typing, held conversations restored after a restart).

use super::*;

impl AgentActor {
    /// The agent's sockets are shown `view` (a welcome, an assignment): its events
    /// count as shown, and so do the events before them. When events before the view's
    /// were owed to the agent (a catch-up came before the conversation was ever listed
    /// here: this actor started after a takeover, and the view holds only the latest
    /// events), a catch-up from the oldest owed pushes them.
    pub(super) fn listed(
        &mut self,
        view: &crate::domain::view::ConversationView,
        ctx: &mut Context<Self>,
    ) {
        let events = view
            .recent
            .iter()
            .filter(|e| e.conversation_id == Some(view.id))
            .map(|e| e.id);
        let (Some(oldest), Some(newest)) = (events.clone().min(), events.max()) else {
            return;
        };
        let Some(h) = self.held.get_mut(&view.id) else {
            return;
        };
        h.shown.list(oldest, newest);
        if h.catching.is_some() {
            // What is owed is made after the running catch-up.
            return;
        }
        let Some((first, last)) = h.owed.take() else {
            return;
        };
        if let Some(from) = h.catch_up_needed(first, last) {
            h.catch_up_begins(from, newest.max(last));
            let customer = h.customer_id;
            self.catch_up(view.id, customer, from, 0, ctx);
        }
    }

    /// The customer's side closed a conversation this agent holds: tell the sockets and
    /// free the slot.
    pub(super) fn left(
        &mut self,
        conv: ConversationId,
        state: ConversationState,
        ctx: &mut Context<Self>,
    ) {
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
    pub(super) fn released(&mut self, conv: ConversationId, ctx: &mut Context<Self>) {
        self.call_conversation_gone(conv);
        if self.held.remove(&conv).is_some() {
            if self.held.is_empty() {
                self.idle_since = self.engine.now();
            }
            self.publish();
            self.pull(ctx);
        }
    }

    pub(super) fn held_or_err(&self, conv: ConversationId) -> EngineResult<Held> {
        self.held
            .get(&conv)
            .cloned()
            .ok_or_else(EngineError::not_yours)
    }

    pub(super) fn write(
        &mut self,
        session: SessionRef,
        conv: ConversationId,
        client_msg_id: String,
        text: String,
        writing: Writing,
        ctx: &mut Context<Self>,
    ) {
        let (note, channel, template, files) = match writing {
            Writing::Reply(c, t, f) => (false, c, t, f),
            Writing::Note => (true, None, None, Vec::new()),
        };
        let h = match self.held_or_err(conv) {
            Ok(h) => h,
            Err(e) => return self.error_to(&session, e, Some(client_msg_id)),
        };
        if client_msg_id.is_empty() || client_msg_id.len() > crate::domain::ids::MAX_CLIENT_MSG_ID {
            return self.error_to(
                &session,
                EngineError::invalid("client_msg_id must be 1 to 128 bytes"),
                Some(client_msg_id),
            );
        }
        let mut msg = AgentWrite {
            conversation_id: conv,
            agent_id: self.profile.id.clone(),
            client_msg_id: client_msg_id.clone(),
            text,
            note,
            channel,
            template,
            attachments: Vec::new(),
        };
        let engine = self.engine.clone();
        let began = std::time::Instant::now();
        let fut = async move {
            // Files are the customer's: uploaded for them, checked before the write.
            if !files.is_empty() {
                msg.attachments =
                    crate::actors::files::resolve(&engine, h.customer_id, &files).await?;
            }
            let answer = engine.ask_customer(h.customer_id, msg).await;
            crate::metrics::message_stage("agent", "round_trip", began);
            answer
        };
        ctx.spawn(fut.into_actor(self).map(move |res, act, _| match res {
            Ok(ack) => act.push_to(
                &session,
                AgentNotice::Ack {
                    client_msg_id,
                    conversation_id: ack.conversation_id,
                    event_id: ack.event_id,
                    duplicate: ack.duplicate,
                },
            ),
            Err(e) => act.error_to(&session, e, Some(client_msg_id)),
        }));
    }

    pub(super) fn close(
        &mut self,
        session: SessionRef,
        conv: ConversationId,
        kind: CloseKind,
        disposition: Option<String>,
        ctx: &mut Context<Self>,
    ) {
        let customer = match self.held_or_err(conv) {
            Ok(h) => h.customer_id,
            // A parked conversation may be resolved from the parked list.
            Err(_) if kind == CloseKind::Resolve && self.parked.contains_key(&conv) => {
                self.parked[&conv].customer_id
            }
            Err(e) => return self.error_to(&session, e, Some(conv.to_string())),
        };
        let msg = CloseConversation {
            conversation_id: conv,
            agent_id: self.profile.id.clone(),
            kind,
            disposition,
        };
        let engine = self.engine.clone();
        let fut = async move { engine.ask_customer(customer, msg).await };
        ctx.spawn(fut.into_actor(self).map(move |res, act, ctx| match res {
            Ok(()) => {
                act.parked.remove(&conv);
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
                            h.state_since = act.engine.now();
                        }
                        // Supervisors see a phone call go to wrap-up.
                        act.report_live();
                    }
                    CloseKind::Resolve => act.released(conv, ctx),
                }
            }
            Err(e) => act.error_to(&session, e, Some(conv.to_string())),
        }));
    }

    pub(super) fn transfer(
        &mut self,
        session: SessionRef,
        conv: ConversationId,
        queue: Option<QueueName>,
        agent: Option<crate::domain::AgentId>,
        ctx: &mut Context<Self>,
    ) {
        let h = match self.held_or_err(conv) {
            Ok(h) => h,
            Err(e) => return self.error_to(&session, e, Some(conv.to_string())),
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
            Err(e) => act.error_to(&session, e, Some(conv.to_string())),
        }));
    }

    pub(super) fn history(
        &mut self,
        session: SessionRef,
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
                &session,
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
            let mut events = crate::actors::timeline::timeline(&store, customer, before, limit + 1)
                .await
                .map_err(EngineError::unavailable)?;
            let more = events.len() > limit;
            events.truncate(limit);
            Ok((events, more))
        };
        ctx.spawn(fut.into_actor(self).map(move |res, act, _| match res {
            Ok((events, more)) => act.push_to(
                &session,
                AgentNotice::History {
                    request_id,
                    customer_id: customer,
                    events,
                    more,
                },
            ),
            Err(e) => act.error_to(&session, e, request_id),
        }));
    }
}

/// What an agent is writing: a reply to the customer (on a chosen channel, or the
/// default one) or an internal note.
pub(super) enum Writing {
    Reply(
        Option<crate::domain::Channel>,
        Option<crate::domain::TemplateMessage>,
        Vec<crate::domain::BlobId>,
    ),
    Note,
}

impl Handler<ConversationEvent> for AgentActor {
    type Result = ();
    fn handle(&mut self, msg: ConversationEvent, _: &mut Context<Self>) {
        let Some(h) = self.held.get_mut(&msg.conversation_id) else {
            tracing::debug!(agent = %self.profile.id, conversation = %msg.conversation_id, event = %msg.event.id, "event of a conversation not held here: dropped");
            return;
        };
        // The customer moved (e.g. called in, or went to video): the conversation now
        // uses that channel's capacity, so a call makes the agent exclusive to it.
        if let crate::domain::EventKind::MessageIn { .. } = &msg.event.kind {
            h.silent_since = h.silent_since.max(msg.event.at);
        }
        if let crate::domain::EventKind::ChannelSwitched { to, .. } = &msg.event.kind {
            h.channel = *to;
            h.parks = to.capabilities().parks;
            if h.class != to.class() {
                h.class = to.class();
                self.publish();
            }
        }
        if self.sessions.is_empty() {
            // Shown to nobody: the next socket's welcome lists it.
            return;
        }
        let Some(h) = self.held.get_mut(&msg.conversation_id) else {
            return;
        };
        if !h.shown.mark(msg.event.id) {
            // Already pushed: a catch-up got there first.
            tracing::debug!(agent = %self.profile.id, conversation = %msg.conversation_id, event = %msg.event.id, "event shown before: not pushed again");
            return;
        }
        self.push(AgentNotice::Event {
            conversation_id: msg.conversation_id,
            event: msg.event,
        });
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

impl Handler<CatchUp> for AgentActor {
    type Result = ();
    fn handle(&mut self, msg: CatchUp, ctx: &mut Context<Self>) {
        let Some(h) = self.held.get_mut(&msg.conversation_id) else {
            tracing::debug!(agent = %self.profile.id, conversation = %msg.conversation_id, "catch-up of a conversation not held here: dropped");
            return;
        };
        tracing::debug!(agent = %self.profile.id, conversation = %msg.conversation_id, first = ?msg.first, last = %msg.last, listed = h.shown.listed(), catching = h.catching.is_some(), "catch-up asked");
        // Only past what this actor knows it showed: a conversation never listed here
        // (or no socket to show it to) is listed by the next welcome, which pushes what
        // is owed before its events.
        if !h.shown.listed() || self.sessions.is_empty() {
            h.owe(msg.first, msg.last);
            return;
        }
        let Some(from) = h.catch_up_needed(msg.first, msg.last) else {
            return;
        };
        if h.catching.is_some() {
            // Made after the running one (whose read may have come before these
            // events were stored).
            h.owe(msg.first, msg.last);
            return;
        }
        h.catch_up_begins(from, msg.last);
        self.catch_up(msg.conversation_id, msg.customer_id, from, 0, ctx);
    }
}

/// Reads one catch-up makes at most, and the pause after a failed one (times the reads
/// so far); each read takes the customer's timeline from the store, newest first, in
/// pages of [`CATCH_UP_PAGE`] events down to what was shown, [`CATCH_UP_PAGES`] pages
/// at most.
const CATCH_UP_READS: u32 = 6;
const CATCH_UP_PAUSE: Duration = Duration::from_millis(500);
const CATCH_UP_PAGE: usize = 200;
const CATCH_UP_PAGES: usize = 5;

impl AgentActor {
    /// Reads the conversation's events from the store — not from the customer's actor,
    /// which may be on a node the wave keeps busy, and whose view holds only the
    /// latest events — without holding this actor up (its events and the agent's
    /// requests go on meanwhile; under a reconnect wave a catch-up that waited for
    /// its read stalled every agent), and pushes those up to the newest asked about
    /// that were not shown, oldest first. Reads again, after a pause, while that
    /// newest is not shown (the read failed, or a newer one was asked about
    /// meanwhile).
    fn catch_up(
        &mut self,
        conv: ConversationId,
        customer: CustomerId,
        from: Option<crate::domain::EventId>,
        reads: u32,
        ctx: &mut Context<Self>,
    ) {
        let Some(h) = self.held.get(&conv) else {
            return;
        };
        let (Some(newest), floor, first_listed) =
            (h.catching, h.shown.floor(), h.shown.first_listed())
        else {
            return;
        };
        let owed = move |id| super::shown::owed(id, from, first_listed);
        let store = self.engine.store.clone();
        let read = async move {
            let mut found = Vec::new();
            let mut before = None;
            for _ in 0..CATCH_UP_PAGES {
                let page =
                    crate::actors::timeline::timeline(&store, customer, before, CATCH_UP_PAGE)
                        .await?;
                let oldest = page.last().map(|e| e.id);
                // Down to what was shown, or to the oldest owed.
                let done = page.len() < CATCH_UP_PAGE
                    || oldest.is_some_and(|o| {
                        floor.is_some_and(|f| o <= f) && from.is_none_or(|f| o < f)
                    });
                found.extend(page.into_iter().filter(|e| {
                    e.conversation_id == Some(conv)
                        && e.id <= newest
                        && (floor.is_none_or(|f| e.id > f) || owed(e.id))
                }));
                if done {
                    break;
                }
                before = oldest;
            }
            Ok::<_, crate::store::StoreError>(found)
        };
        ctx.spawn(read.into_actor(self).map(move |res, act, ctx| {
            let Some(h) = act.held.get_mut(&conv) else {
                return;
            };
            let Some(newest) = h.catching else {
                return;
            };
            if act.sessions.is_empty() {
                // Every socket went meanwhile: the next one's welcome lists the
                // conversation, and pushes what is owed before it.
                h.catching = None;
                h.owe(from, newest);
                return;
            }
            // A read made the owed part: a read again goes on from what was shown.
            let next_from = if res.is_ok() { None } else { from };
            let mut missed: Vec<crate::domain::TimelineEvent> = match res {
                Ok(events) => events
                    .into_iter()
                    .filter(|e| h.shown.wanted(e.id, from))
                    .collect(),
                Err(e) => {
                    tracing::debug!(conversation = %conv, error = %e, "catch-up could not read the conversation");
                    Vec::new()
                }
            };
            missed.sort_by_key(|e| e.id);
            for e in &missed {
                h.shown.mark(e.id);
            }
            if h.shown.has(newest) {
                h.catching = None;
                // Asked about while this one ran, and still not shown: made now.
                if let Some((first, last)) = h.owed.take() {
                    if let Some(from) = h.catch_up_needed(first, last) {
                        h.catch_up_begins(from, last.max(newest));
                        act.catch_up(conv, customer, from, 0, ctx);
                    }
                }
            } else if reads + 1 < CATCH_UP_READS {
                ctx.run_later(CATCH_UP_PAUSE * (reads + 1), move |act, ctx| {
                    act.catch_up(conv, customer, next_from, reads + 1, ctx)
                });
            } else {
                h.catching = None;
                crate::metrics::agent_catch_ups("given_up", 1);
                tracing::warn!(conversation = %conv, "catch-up given up; the agent's next welcome lists the conversation");
            }
            if !missed.is_empty() {
                crate::metrics::agent_catch_ups("pushed", missed.len() as u64);
                tracing::info!(conversation = %conv, missed = missed.len(), "events the agent missed pushed");
            }
            for event in missed {
                act.push(AgentNotice::Event {
                    conversation_id: conv,
                    event,
                });
            }
        }));
    }
}

impl Handler<RestoreHeld> for AgentActor {
    type Result = ();
    fn handle(&mut self, msg: RestoreHeld, _: &mut Context<Self>) {
        let now = self.engine.now();
        for (conv, customer, channel, queue) in msg.conversations {
            let channel: Channel = channel;
            if self.held.contains_key(&conv) {
                // Read by the actor itself at its start: what it showed stays.
                continue;
            }
            self.held.insert(
                conv,
                Held::new(customer, channel, queue, ConversationState::Assigned, now),
            );
        }
        for p in msg.parked {
            self.parked.entry(p.conversation_id).or_insert(p);
        }
    }
}
