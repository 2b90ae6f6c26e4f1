//! Which report events a conversation change produces: timeline events in, report
//! events out, so the customer actor writes them in the same commit (one place decides
//! what "offered", "answered", "handled"… mean; docs/metrics.md).
//!
//! The durations a report event carries need a little memory of the open conversation
//! (when it was answered, when wrap-up began, whether it was reopened): that is
//! [`ContactFacts`], which the actor feeds every committed event of the conversation and
//! rebuilds from the timeline when it is activated. Pure: no clock, no store.

use domain::{
    BotTurn, Conversation, ConversationId, ConversationState, EventKind, Millis, OfferOrigin,
    QueueName, ReportEvent, ReportKind, ResponseTargets, SelfServiceFront, TimelineEvent,
};

/// What the report events of the open conversation need to remember between commits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactFacts {
    /// The conversation these facts are about.
    pub conversation: Option<ConversationId>,
    /// When the current agent accepted it (`None` while waiting).
    pub answered_at: Option<Millis>,
    /// When the current agent started wrap-up.
    pub wrap_started_at: Option<Millis>,
    /// The conversation was reopened at least once: its resolution is not first contact.
    pub reopened: bool,
    /// When it last went back to waiting after an agent had it (transfer, requeue):
    /// its wait in the new queue counts from here, not from the first enqueue (which
    /// the conversation keeps for its place in routing order).
    pub requeued_at: Option<Millis>,
    /// How long the customer has been waiting for an agent's reply.
    pub response: ResponseClock,
}

/// The response clock of the open conversation (docs/api.md "Response times"): it runs
/// from the customer's first message no agent has answered yet to the next agent reply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResponseClock {
    /// The customer's first message not answered yet; none: nobody is waiting.
    pub waiting_since: Option<Millis>,
    /// An agent replied since the conversation opened or reopened: the next reply is not
    /// the first.
    pub replied: bool,
    /// The running clock's target passed, and that was recorded (`response_overdue`).
    pub overdue: bool,
}

impl ResponseClock {
    fn observe(&mut self, e: &TimelineEvent) {
        match &e.kind {
            EventKind::MessageIn { channel, .. }
                if self.waiting_since.is_none()
                    && channel.capabilities().replies != domain::ReplyPath::NoText =>
            {
                self.waiting_since = Some(e.at);
                self.overdue = false;
            }
            EventKind::MessageOut {
                agent_id: Some(_), ..
            } => {
                *self = ResponseClock {
                    replied: true,
                    ..ResponseClock::default()
                }
            }
            EventKind::ResponseOverdue { since, .. } if self.waiting_since == Some(*since) => {
                self.overdue = true;
            }
            // Nothing is left to answer.
            EventKind::Resolved { .. } | EventKind::Abandoned { .. } => {
                *self = ResponseClock {
                    replied: self.replied,
                    ..ResponseClock::default()
                }
            }
            _ => {}
        }
    }

    /// Whether the reply that stops this clock is the conversation's first.
    pub fn first(&self) -> bool {
        !self.replied
    }
}

impl ContactFacts {
    /// Takes one committed timeline event into account (events in commit order).
    pub fn observe(&mut self, e: &TimelineEvent) {
        let Some(conv) = e.conversation_id else {
            return;
        };
        let fresh = |reopened| ContactFacts {
            conversation: Some(conv),
            reopened,
            ..ContactFacts::default()
        };
        match &e.kind {
            EventKind::ConversationOpened { .. } => *self = fresh(false),
            EventKind::ConversationReopened { .. } => *self = fresh(true),
            _ if self.conversation != Some(conv) => {
                // Facts of another conversation: start over, knowing nothing earlier.
                *self = fresh(false);
                self.observe_same(e);
            }
            _ => self.observe_same(e),
        }
    }

    /// The response clock of `conv` (stopped when these facts are about another).
    pub fn response_of(&self, conv: ConversationId) -> ResponseClock {
        if self.conversation == Some(conv) {
            self.response
        } else {
            ResponseClock::default()
        }
    }

    fn observe_same(&mut self, e: &TimelineEvent) {
        self.response.observe(e);
        match &e.kind {
            EventKind::Assigned { .. } => {
                self.answered_at = Some(e.at);
                self.wrap_started_at = None;
            }
            EventKind::WrapUp { .. } => self.wrap_started_at = Some(e.at),
            EventKind::Transferred { .. } => {
                self.requeued_at = Some(e.at);
                self.answered_at = None;
                self.wrap_started_at = None;
            }
            EventKind::Queued { .. } => {
                if self.answered_at.is_some() {
                    self.requeued_at = Some(e.at);
                }
                self.answered_at = None;
                self.wrap_started_at = None;
            }
            EventKind::Resolved { .. } | EventKind::Abandoned { .. } | EventKind::Parked { .. } => {
                self.answered_at = None;
                self.wrap_started_at = None;
            }
            _ => {}
        }
    }

    /// Talk and wrap-up milliseconds of a handling segment ending at `end`.
    fn segment(&self, conv: ConversationId, end: Millis) -> (u64, u64) {
        if self.conversation != Some(conv) {
            return (0, 0);
        }
        let Some(answered) = self.answered_at else {
            return (0, 0);
        };
        match self.wrap_started_at {
            Some(w) => (w.since(answered), end.since(w)),
            None => (end.since(answered), 0),
        }
    }

    /// Since when `conv`, enqueued at `enqueued_at`, has been waiting (the later of its
    /// enqueue and its last transfer or requeue).
    pub fn waiting_since(&self, conv: ConversationId, enqueued_at: Millis) -> Millis {
        match self.requeued_at {
            Some(t) if self.conversation == Some(conv) => t.max(enqueued_at),
            _ => enqueued_at,
        }
    }

    fn reopened(&self, conv: ConversationId) -> bool {
        self.conversation == Some(conv) && self.reopened
    }
}

/// The report events of one commit: `events` (the timeline events it writes, in order)
/// change conversation `before` (its state before the commit; `None` for a new one) into
/// `after`. `facts` are the facts before the commit; `targets`, the response-time
/// targets of `after`'s queue.
pub fn derive(
    events: &[TimelineEvent],
    before: Option<&Conversation>,
    after: &Conversation,
    facts: &ContactFacts,
    targets: Option<&ResponseTargets>,
) -> Vec<ReportEvent> {
    let mut out = Vec::new();
    let prior = before.unwrap_or(after);
    let held = matches!(
        prior.state,
        ConversationState::Assigned | ConversationState::WrapUp
    );
    // What the contact needs, as of this commit: an offer carries it for the replay.
    let offered = |origin| ReportKind::Offered {
        origin,
        requirements: after.requirements.clone(),
        priority: after.priority,
        preferred_agent: after.preferred_agent.clone(),
        required_agent: after.required_agent.clone(),
    };
    for e in events {
        if e.conversation_id != Some(after.id) {
            continue;
        }
        // Report ids derive from the timeline event's: a batch committed again after a
        // failed attempt (same timeline ids) writes the same report rows.
        let mut n: u8 = 0;
        let mut push = |queue: &QueueName, channel, agent, kind| {
            let id = domain::EventId::derived(e.id, n);
            n = n.wrapping_add(1);
            out.push(ReportEvent {
                id,
                at: e.at,
                queue: queue.clone(),
                channel,
                conversation: after.id,
                customer: after.customer_id,
                agent,
                difficulty: domain::difficulty_of(&after.requirements),
                kind,
            })
        };
        // The agent's handling segment ends when the conversation they hold is
        // resolved, transferred away or parked: reported before what ended it.
        let ends_segment = matches!(
            e.kind,
            EventKind::Resolved { .. } | EventKind::Transferred { .. } | EventKind::Parked { .. }
        );
        if held && ends_segment {
            let (talk_ms, wrap_ms) = facts.segment(after.id, e.at);
            push(
                &prior.queue,
                prior.channel,
                prior.agent.clone(),
                ReportKind::WrapupDone { talk_ms, wrap_ms },
            );
        }
        match &e.kind {
            EventKind::ConversationOpened {
                channel,
                queue,
                ivr_path,
            } => {
                push(queue, *channel, None, offered(OfferOrigin::New));
                if !ivr_path.is_empty() {
                    push(
                        queue,
                        *channel,
                        None,
                        ReportKind::SelfService {
                            front: SelfServiceFront::ivr_on(*channel),
                            path: ivr_path.clone(),
                            turns: 0,
                            answers: 0,
                            handoff: Some("queue".into()),
                        },
                    );
                }
            }
            EventKind::BotHandoff {
                reason, transcript, ..
            } => push(
                &after.queue,
                after.channel,
                None,
                bot_step(transcript, Some(reason.clone())),
            ),
            EventKind::CallbackRequested {
                ivr_path, source, ..
            } if !ivr_path.is_empty() => {
                let front = if source == "voice_ivr" {
                    SelfServiceFront::VoiceIvr
                } else {
                    SelfServiceFront::VisualIvr
                };
                push(
                    &after.queue,
                    after.channel,
                    None,
                    ReportKind::SelfService {
                        front,
                        path: ivr_path.clone(),
                        turns: 0,
                        answers: 0,
                        handoff: Some("callback".into()),
                    },
                );
            }
            EventKind::ConversationReopened { channel, queue } => {
                push(&prior.queue, *channel, None, ReportKind::Reopened);
                push(queue, *channel, None, offered(OfferOrigin::Reopened));
            }
            EventKind::ChannelSwitched { from, to } => push(
                &after.queue,
                *to,
                None,
                ReportKind::ChannelSwitched { from: *from },
            ),
            EventKind::Assigned { agent_id } => push(
                &after.queue,
                after.channel,
                Some(agent_id.clone()),
                ReportKind::Answered {
                    wait_ms: e.at.since(facts.waiting_since(after.id, prior.enqueued_at)),
                },
            ),
            EventKind::Abandoned {
                waited_ms,
                left_unserved,
            } => push(
                &prior.queue,
                prior.channel,
                None,
                ReportKind::Abandoned {
                    wait_ms: (*waited_ms)
                        .min(e.at.since(facts.waiting_since(after.id, prior.enqueued_at))),
                    left_unserved: *left_unserved,
                },
            ),
            EventKind::Resolved { .. } => {
                push(
                    &prior.queue,
                    prior.channel,
                    prior.agent.clone(),
                    ReportKind::Resolved {
                        first_contact: !facts.reopened(after.id),
                    },
                );
            }
            EventKind::Transferred { to_queue, .. } => {
                push(
                    &prior.queue,
                    prior.channel,
                    prior.agent.clone(),
                    ReportKind::Transferred {
                        to_queue: to_queue.clone(),
                        overflow: false,
                    },
                );
                push(
                    to_queue,
                    after.channel,
                    None,
                    offered(OfferOrigin::Transfer),
                );
            }
            EventKind::MessageOut {
                agent_id: Some(agent),
                ..
            } => {
                let clock = facts.response_of(after.id);
                if let Some(since) = clock.waiting_since {
                    let first = clock.first();
                    let wait_ms = e.at.since(since);
                    let target_ms = targets.and_then(|t| t.target(after.channel, first));
                    let agent = Some(agent.clone());
                    push(
                        &after.queue,
                        after.channel,
                        agent.clone(),
                        ReportKind::Responded {
                            first,
                            wait_ms,
                            target_ms,
                        },
                    );
                    // Late, and the engine had not seen the target pass yet.
                    if let Some(t) = target_ms.filter(|t| wait_ms > *t && !clock.overdue) {
                        push(
                            &after.queue,
                            after.channel,
                            agent,
                            ReportKind::ResponseOverdue {
                                first,
                                target_ms: t,
                            },
                        );
                    }
                }
            }
            EventKind::ResponseOverdue {
                first, target_ms, ..
            } => push(
                &after.queue,
                after.channel,
                after.agent.clone(),
                ReportKind::ResponseOverdue {
                    first: *first,
                    target_ms: *target_ms,
                },
            ),
            EventKind::Parked { auto, .. } => {
                push(
                    &prior.queue,
                    prior.channel,
                    prior.agent.clone(),
                    ReportKind::Parked { auto: *auto },
                );
            }
            EventKind::Queued { queue, .. } if prior.state == ConversationState::Parked => {
                push(queue, after.channel, None, offered(OfferOrigin::Unparked))
            }
            EventKind::Overflowed { from, to } => {
                push(
                    from,
                    prior.channel,
                    None,
                    ReportKind::Transferred {
                        to_queue: to.clone(),
                        overflow: true,
                    },
                );
                push(to, after.channel, None, offered(OfferOrigin::Overflow));
            }
            _ => {}
        }
    }
    out
}

/// The `self_service` step of a bot session with these `turns` (`handoff`: why it went
/// to a person, if it did).
fn bot_step(turns: &[BotTurn], handoff: Option<String>) -> ReportKind {
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    ReportKind::SelfService {
        front: SelfServiceFront::Bot,
        path: Vec::new(),
        turns: count(turns.len()),
        answers: count(turns.iter().filter(|t| t.article_id.is_some()).count()),
        handoff,
    }
}

/// The report event of a bot turn that kept the customer (`reply`: the committed
/// `bot_reply`, `turns`: the session's turns so far, `queue`: where a hand-off would
/// go). Bot turns open no conversation, so they do not pass through [`derive`].
pub fn bot_turn(
    reply: &TimelineEvent,
    queue: &QueueName,
    turns: &[BotTurn],
) -> Option<ReportEvent> {
    let (EventKind::BotReply { channel, .. }, Some(conversation)) =
        (&reply.kind, reply.conversation_id)
    else {
        return None;
    };
    Some(ReportEvent {
        id: domain::EventId::derived(reply.id, 0),
        at: reply.at,
        queue: queue.clone(),
        channel: *channel,
        conversation,
        customer: reply.customer_id,
        agent: None,
        difficulty: None,
        kind: bot_step(turns, None),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{AgentId, Channel, CustomerId};

    fn conv(state: ConversationState, agent: Option<&str>) -> Conversation {
        Conversation {
            id: ConversationId::new(),
            customer_id: CustomerId::new(),
            channel: Channel::Chat,
            queue: QueueName::parse("sales").expect("q"),
            state,
            priority: 0,
            created_at: Millis(1_000),
            enqueued_at: Millis(1_000),
            enqueue_seq: 1,
            agent: agent.map(|a| AgentId::parse(a).expect("agent")),
            preferred_agent: None,
            required_agent: None,
            disposition: None,
            requirements: Default::default(),
            updated_at: Millis(1_000),
        }
    }

    fn ev(c: &Conversation, at: i64, kind: EventKind) -> TimelineEvent {
        TimelineEvent::new(c.customer_id, Some(c.id), Millis(at), kind)
    }

    fn kinds(r: &[ReportEvent]) -> Vec<&'static str> {
        r.iter().map(|e| e.kind.as_str()).collect()
    }

    /// An offer carries what the contact needs and its priority (the simulator's
    /// replay), and the difficulty among them groups it.
    #[test]
    fn an_offer_carries_the_contacts_requirements_and_priority() {
        let needs = domain::SkillFloors::from([
            (
                domain::Skill::parse("billing").expect("skill"),
                domain::Proficiency::new(3).expect("level"),
            ),
            (
                domain::difficulty_skill(),
                domain::Proficiency::new(4).expect("level"),
            ),
        ]);
        let c = Conversation {
            requirements: needs.clone(),
            priority: 7,
            ..conv(ConversationState::Queued, None)
        };
        let opened = ev(
            &c,
            1_000,
            EventKind::ConversationOpened {
                channel: Channel::Chat,
                queue: c.queue.clone(),
                ivr_path: Vec::new(),
            },
        );
        let r = derive(&[opened], None, &c, &ContactFacts::default(), None);
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(
            r[0].kind,
            ReportKind::Offered {
                origin: OfferOrigin::New,
                requirements: needs,
                priority: 7,
                preferred_agent: None,
                required_agent: None,
            }
        );
        assert_eq!(r[0].difficulty, domain::Proficiency::new(4).ok());
    }

    /// Answered at 21 s, parked at 81 s (a 60 s handling segment, counted to the
    /// agent), the customer writes at 500 s (offered again, `unparked`), answered at
    /// 530 s after 30 s: the wait runs from the return, not from the first enqueue.
    #[test]
    fn a_parked_contact_ends_its_segment_and_returns_as_an_offer() {
        let alice = AgentId::parse("alice").expect("agent");
        let queued = conv(ConversationState::Queued, None);
        let mut facts = ContactFacts::default();
        facts.observe(&ev(
            &queued,
            1_000,
            EventKind::ConversationOpened {
                channel: Channel::Sms,
                queue: queued.queue.clone(),
                ivr_path: Vec::new(),
            },
        ));
        let assigned = Conversation {
            state: ConversationState::Assigned,
            agent: Some(alice.clone()),
            ..queued.clone()
        };
        facts.observe(&ev(
            &queued,
            21_000,
            EventKind::Assigned {
                agent_id: alice.clone(),
            },
        ));
        let p = ev(
            &queued,
            81_000,
            EventKind::Parked {
                agent_id: alice.clone(),
                auto: true,
            },
        );
        let parked = Conversation {
            state: ConversationState::Parked,
            agent: None,
            preferred_agent: Some(alice.clone()),
            updated_at: Millis(81_000),
            ..assigned.clone()
        };
        let r = derive(
            std::slice::from_ref(&p),
            Some(&assigned),
            &parked,
            &facts,
            None,
        );
        assert_eq!(
            r.iter()
                .map(|e| (e.kind.clone(), e.agent.clone()))
                .collect::<Vec<_>>(),
            [
                (
                    ReportKind::WrapupDone {
                        talk_ms: 60_000,
                        wrap_ms: 0
                    },
                    Some(alice.clone())
                ),
                (ReportKind::Parked { auto: true }, Some(alice.clone())),
            ]
        );
        facts.observe(&p);

        let back = Conversation {
            state: ConversationState::Queued,
            enqueued_at: Millis(500_000),
            ..parked.clone()
        };
        let q = ev(
            &queued,
            500_000,
            EventKind::Queued {
                queue: back.queue.clone(),
                priority: 0,
            },
        );
        let r = derive(std::slice::from_ref(&q), Some(&parked), &back, &facts, None);
        assert_eq!(
            r.iter().map(|e| e.kind.clone()).collect::<Vec<_>>(),
            // It waits for Alice first, as the queue does.
            [ReportKind::Offered {
                origin: OfferOrigin::Unparked,
                requirements: Default::default(),
                priority: 0,
                preferred_agent: Some(alice.clone()),
                required_agent: None,
            }]
        );
        facts.observe(&q);
        // A plain requeue (not from parked) offers nothing new.
        assert!(derive(std::slice::from_ref(&q), Some(&back), &back, &facts, None).is_empty());

        let a = ev(
            &queued,
            530_000,
            EventKind::Assigned {
                agent_id: alice.clone(),
            },
        );
        let again = Conversation {
            state: ConversationState::Assigned,
            agent: Some(alice.clone()),
            ..back.clone()
        };
        let r = derive(std::slice::from_ref(&a), Some(&back), &again, &facts, None);
        assert_eq!(r[0].kind, ReportKind::Answered { wait_ms: 30_000 });
    }

    /// Answered at 21 s (waited 20 s from 1 s), wrap-up at 81 s, resolved at 96 s:
    /// talk 60 s, wrap 15 s.
    #[test]
    fn a_contact_from_offer_to_resolution() {
        let alice = AgentId::parse("alice").expect("agent");
        let queued = conv(ConversationState::Queued, None);
        let mut facts = ContactFacts::default();
        let opened = ev(
            &queued,
            1_000,
            EventKind::ConversationOpened {
                channel: Channel::Chat,
                queue: queued.queue.clone(),
                ivr_path: Vec::new(),
            },
        );
        let r = derive(std::slice::from_ref(&opened), None, &queued, &facts, None);
        assert_eq!(kinds(&r), ["offered"]);
        facts.observe(&opened);

        let assigned = Conversation {
            state: ConversationState::Assigned,
            agent: Some(alice.clone()),
            ..queued.clone()
        };
        let a = ev(
            &queued,
            21_000,
            EventKind::Assigned {
                agent_id: alice.clone(),
            },
        );
        let r = derive(
            std::slice::from_ref(&a),
            Some(&queued),
            &assigned,
            &facts,
            None,
        );
        assert_eq!(r[0].kind, ReportKind::Answered { wait_ms: 20_000 });
        assert_eq!(r[0].agent.as_ref(), Some(&alice));
        facts.observe(&a);

        let w = ev(
            &queued,
            81_000,
            EventKind::WrapUp {
                agent_id: alice.clone(),
            },
        );
        let wrap = Conversation {
            state: ConversationState::WrapUp,
            ..assigned.clone()
        };
        assert!(derive(
            std::slice::from_ref(&w),
            Some(&assigned),
            &wrap,
            &facts,
            None
        )
        .is_empty());
        facts.observe(&w);

        let done = ev(
            &queued,
            96_000,
            EventKind::Resolved {
                agent_id: Some(alice.clone()),
                disposition: None,
            },
        );
        let resolved = Conversation {
            state: ConversationState::Resolved,
            ..wrap.clone()
        };
        let r = derive(
            std::slice::from_ref(&done),
            Some(&wrap),
            &resolved,
            &facts,
            None,
        );
        assert_eq!(
            r.iter().map(|e| e.kind.clone()).collect::<Vec<_>>(),
            [
                ReportKind::WrapupDone {
                    talk_ms: 60_000,
                    wrap_ms: 15_000
                },
                ReportKind::Resolved {
                    first_contact: true
                }
            ]
        );
    }

    #[test]
    fn a_reopened_conversation_is_not_first_contact_and_transfers_split() {
        let bob = AgentId::parse("bob").expect("agent");
        let held = conv(ConversationState::Assigned, Some("bob"));
        let mut facts = ContactFacts::default();
        facts.observe(&ev(
            &held,
            500,
            EventKind::ConversationReopened {
                channel: Channel::Chat,
                queue: held.queue.clone(),
            },
        ));
        facts.observe(&ev(
            &held,
            2_000,
            EventKind::Assigned {
                agent_id: bob.clone(),
            },
        ));
        let support = QueueName::parse("support").expect("q");
        let t = ev(
            &held,
            12_000,
            EventKind::Transferred {
                from_agent: Some(bob.clone()),
                to_queue: support.clone(),
                to_agent: None,
            },
        );
        let moved = Conversation {
            state: ConversationState::Queued,
            agent: None,
            queue: support.clone(),
            ..held.clone()
        };
        let r = derive(std::slice::from_ref(&t), Some(&held), &moved, &facts, None);
        assert_eq!(kinds(&r), ["wrapup_done", "transferred", "offered"]);
        assert_eq!(
            r[0].kind,
            ReportKind::WrapupDone {
                talk_ms: 10_000,
                wrap_ms: 0
            }
        );
        assert_eq!(r[1].queue.as_str(), "sales");
        assert_eq!(r[2].queue, support);
        // Answered again in support 3 s after the transfer: the wait counts from the
        // transfer (12 s), not from the first enqueue (1 s) kept for routing order.
        facts.observe(&t);
        let carol = AgentId::parse("carol").expect("agent");
        let a = ev(
            &held,
            15_000,
            EventKind::Assigned {
                agent_id: carol.clone(),
            },
        );
        let taken = Conversation {
            state: ConversationState::Assigned,
            agent: Some(carol),
            ..moved.clone()
        };
        let r = derive(std::slice::from_ref(&a), Some(&moved), &taken, &facts, None);
        assert_eq!(r[0].kind, ReportKind::Answered { wait_ms: 3_000 });
        assert_eq!(r[0].queue, support);
        // Resolved later: not first contact (it had been reopened).
        let done = ev(
            &held,
            20_000,
            EventKind::Resolved {
                agent_id: None,
                disposition: None,
            },
        );
        let r = derive(
            std::slice::from_ref(&done),
            Some(&held),
            &held,
            &facts,
            None,
        );
        assert_eq!(
            r[1].kind,
            ReportKind::Resolved {
                first_contact: false
            }
        );
    }

    /// The response clock: the customer writes at 10 s and 15 s (the clock runs from
    /// 10 s), alice answers at 70 s (first reply: 60 s, inside a 90 s target), the
    /// customer writes at 100 s and alice answers at 400 s (next reply: 300 s, past a
    /// 120 s target, reported late once). A bot-free note does not stop it; the overdue
    /// event the engine wrote at 220 s keeps the late reply from being counted twice.
    #[test]
    fn replies_are_timed_from_the_first_unanswered_message() {
        let alice = AgentId::parse("alice").expect("agent");
        let held = Conversation {
            channel: Channel::Sms,
            ..conv(ConversationState::Assigned, Some("alice"))
        };
        let targets = ResponseTargets {
            first_ms: Some(90_000),
            next_ms: Some(120_000),
            channels: Default::default(),
            overdue_boost: 10,
        };
        let inbound = |at| {
            ev(
                &held,
                at,
                EventKind::MessageIn {
                    channel: Channel::Sms,
                    address: "+81".into(),
                    text: "hi".into(),
                    client_msg_id: None,
                    attachments: Vec::new(),
                    subject: None,
                },
            )
        };
        let reply = |at| {
            ev(
                &held,
                at,
                EventKind::MessageOut {
                    channel: Channel::Sms,
                    agent_id: Some(alice.clone()),
                    text: "hello".into(),
                    client_msg_id: None,
                    attachments: Vec::new(),
                },
            )
        };
        let mut facts = ContactFacts::default();
        facts.observe(&ev(
            &held,
            1_000,
            EventKind::ConversationOpened {
                channel: Channel::Sms,
                queue: held.queue.clone(),
                ivr_path: Vec::new(),
            },
        ));
        facts.observe(&inbound(10_000));
        facts.observe(&inbound(15_000));
        facts.observe(&ev(
            &held,
            20_000,
            EventKind::Note {
                agent_id: alice.clone(),
                text: "looking".into(),
            },
        ));
        assert_eq!(
            facts.response_of(held.id).waiting_since,
            Some(Millis(10_000))
        );
        let first = reply(70_000);
        let r = derive(
            std::slice::from_ref(&first),
            Some(&held),
            &held,
            &facts,
            Some(&targets),
        );
        assert_eq!(
            r.iter().map(|e| e.kind.clone()).collect::<Vec<_>>(),
            [ReportKind::Responded {
                first: true,
                wait_ms: 60_000,
                target_ms: Some(90_000)
            }]
        );
        assert_eq!(r[0].agent, Some(alice.clone()));
        facts.observe(&first);
        assert_eq!(facts.response_of(held.id).waiting_since, None);
        // A reply with nobody waiting is not timed.
        assert!(derive(
            std::slice::from_ref(&reply(80_000)),
            Some(&held),
            &held,
            &facts,
            Some(&targets)
        )
        .is_empty());

        facts.observe(&inbound(100_000));
        let late = reply(400_000);
        let r = derive(
            std::slice::from_ref(&late),
            Some(&held),
            &held,
            &facts,
            Some(&targets),
        );
        assert_eq!(
            kinds(&r),
            ["responded", "response_overdue"],
            "late and not seen passing: reported overdue with the reply"
        );
        assert_eq!(
            r[0].kind,
            ReportKind::Responded {
                first: false,
                wait_ms: 300_000,
                target_ms: Some(120_000)
            }
        );
        facts.observe(&ev(
            &held,
            220_000,
            EventKind::ResponseOverdue {
                first: false,
                target_ms: 120_000,
                since: Millis(100_000),
            },
        ));
        let r = derive(
            std::slice::from_ref(&late),
            Some(&held),
            &held,
            &facts,
            Some(&targets),
        );
        assert_eq!(kinds(&r), ["responded"], "the overdue was counted at 220 s");
        // Without targets the reply is still timed, with no target.
        let r = derive(
            std::slice::from_ref(&late),
            Some(&held),
            &held,
            &facts,
            None,
        );
        assert_eq!(
            r[0].kind,
            ReportKind::Responded {
                first: false,
                wait_ms: 300_000,
                target_ms: None
            }
        );
        // A resolution stops the clock: nothing is left to answer.
        facts.observe(&ev(
            &held,
            500_000,
            EventKind::Resolved {
                agent_id: Some(alice.clone()),
                disposition: None,
            },
        ));
        assert_eq!(facts.response_of(held.id).waiting_since, None);
    }

    fn steps(r: &[ReportEvent]) -> Vec<&ReportKind> {
        r.iter()
            .map(|e| &e.kind)
            .filter(|k| matches!(k, ReportKind::SelfService { .. }))
            .collect()
    }

    fn turn(article: Option<&str>) -> BotTurn {
        BotTurn {
            question: "q".into(),
            answer: "a".into(),
            article_id: article.map(str::to_owned),
            article_title: None,
            at: Millis(1_000),
        }
    }

    /// The self-service step goes with the commit that ends it: an IVR caller's new
    /// conversation, the bot's hand-off (counted from its transcript), an IVR leaf's
    /// callback; a callback asked for outside the IVR is no self-service.
    #[test]
    fn self_service_steps_are_reported_where_they_end() {
        let queued = conv(ConversationState::Queued, None);
        let facts = ContactFacts::default();
        let opened = ev(
            &queued,
            1_000,
            EventKind::ConversationOpened {
                channel: Channel::Voice,
                queue: queued.queue.clone(),
                ivr_path: vec!["main".into(), "orders".into()],
            },
        );
        let r = derive(&[opened], None, &queued, &facts, None);
        assert_eq!(kinds(&r), ["offered", "self_service"]);
        assert_eq!(
            steps(&r),
            [&ReportKind::SelfService {
                front: SelfServiceFront::VoiceIvr,
                path: vec!["main".into(), "orders".into()],
                turns: 0,
                answers: 0,
                handoff: Some("queue".into()),
            }]
        );
        // Straight in: no step.
        let plain = ev(
            &queued,
            1_000,
            EventKind::ConversationOpened {
                channel: Channel::Chat,
                queue: queued.queue.clone(),
                ivr_path: Vec::new(),
            },
        );
        assert_eq!(
            kinds(&derive(&[plain], None, &queued, &facts, None)),
            ["offered"]
        );

        let handoff = ev(
            &queued,
            2_000,
            EventKind::BotHandoff {
                reason: "turn_limit".into(),
                language: "ja".into(),
                transcript: vec![turn(Some("kb-1")), turn(None), turn(Some("kb-2"))],
            },
        );
        let r = derive(&[handoff], Some(&queued), &queued, &facts, None);
        assert_eq!(
            steps(&r),
            [&ReportKind::SelfService {
                front: SelfServiceFront::Bot,
                path: Vec::new(),
                turns: 3,
                answers: 2,
                handoff: Some("turn_limit".into()),
            }]
        );

        let callback = |path: Vec<String>, source: &str| {
            ev(
                &queued,
                3_000,
                EventKind::CallbackRequested {
                    phone: "+81311112222".into(),
                    queue: queued.queue.clone(),
                    note: None,
                    ivr_path: path,
                    source: source.into(),
                },
            )
        };
        let r = derive(
            &[callback(vec!["main".into()], "visual_ivr")],
            Some(&queued),
            &queued,
            &facts,
            None,
        );
        assert_eq!(
            steps(&r),
            [&ReportKind::SelfService {
                front: SelfServiceFront::VisualIvr,
                path: vec!["main".into()],
                turns: 0,
                answers: 0,
                handoff: Some("callback".into()),
            }]
        );
        let r = derive(
            &[callback(Vec::new(), "chat")],
            Some(&queued),
            &queued,
            &facts,
            None,
        );
        assert!(steps(&r).is_empty(), "{r:?}");
    }

    /// A bot turn that keeps the customer: one step, keyed by the reply (a commit
    /// retried writes the same row), in the queue a hand-off would go to.
    #[test]
    fn a_bot_turn_reports_the_session_so_far() {
        let queued = conv(ConversationState::Queued, None);
        let reply = ev(
            &queued,
            5_000,
            EventKind::BotReply {
                channel: Channel::Line,
                kind: "answer".into(),
                text: "t".into(),
                article_id: Some("kb-1".into()),
                article_title: None,
            },
        );
        let r = bot_turn(&reply, &queued.queue, &[turn(None), turn(Some("kb-1"))]).expect("a step");
        assert_eq!(r.id, domain::EventId::derived(reply.id, 0));
        assert_eq!(
            (r.at, r.channel, r.conversation),
            (Millis(5_000), Channel::Line, queued.id)
        );
        assert_eq!(
            r.kind,
            ReportKind::SelfService {
                front: SelfServiceFront::Bot,
                path: Vec::new(),
                turns: 2,
                answers: 1,
                handoff: None,
            }
        );
        let note = ev(
            &queued,
            5_000,
            EventKind::Note {
                agent_id: AgentId::parse("alice").expect("agent"),
                text: "n".into(),
            },
        );
        assert!(bot_turn(&note, &queued.queue, &[]).is_none());
    }
}
