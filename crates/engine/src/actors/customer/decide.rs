//! What one inbound message does to a customer's conversations, as pure functions:
//! state, message and time in; timeline events and the conversation row out. No actor,
//! no store, no clock read — the `Inbound` handler (`inbound.rs`) asks these, then
//! commits and notifies, so every rule here is unit-tested like the routing core.
//!
//! The three outcomes: the message **continues** the open conversation (a channel
//! switch is recorded; a parked one is **unparked**: it waits in its queue again), or,
//! with none open, it **reopens** the last closed one (inside the reopen window, or
//! threaded to it) or **opens** a new one; both of the latter wait in a queue.

use crate::actors::messages::Inbound;
use crate::domain::{
    Conversation, ConversationId, ConversationState, Customer, CustomerId, EventKind, Millis,
    QueueName, TimelineEvent,
};

/// The `message_in` event of `msg` in conversation `conv`.
pub fn message_in(
    customer: CustomerId,
    msg: &Inbound,
    conv: ConversationId,
    now: Millis,
) -> TimelineEvent {
    TimelineEvent::new(
        customer,
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

/// The customer record with `display_name` filled in from the channel, if it had none
/// (the only change an inbound message makes to the profile): trimmed, at most 100
/// bytes, control characters dropped.
pub fn named(customer: &Customer, msg: &Inbound) -> Option<Customer> {
    let name = msg.display_name.as_deref()?.trim();
    if customer.display_name.is_some() || name.is_empty() || name.len() > 100 {
        return None;
    }
    let mut c = customer.clone();
    c.display_name = Some(name.chars().filter(|c| !c.is_control()).collect());
    Some(c)
}

/// A message that continues the open conversation.
#[derive(Debug, Clone)]
pub struct Continued {
    /// `channel_switched` (when the channel changed), then `message_in`.
    pub events: Vec<TimelineEvent>,
    /// The conversation after the message.
    pub conversation: Conversation,
    /// Whether the conversation row changed (only on a channel switch: a plain message
    /// is one timeline row, the hot path of the store writer).
    pub row_changed: bool,
}

/// `msg` continues `open`, whatever channel it came from.
pub fn continue_open(
    customer: CustomerId,
    open: &Conversation,
    msg: &Inbound,
    now: Millis,
) -> Continued {
    let mut events = Vec::new();
    let mut conversation = open.clone();
    let row_changed = open.channel != msg.channel;
    if row_changed {
        events.push(TimelineEvent::new(
            customer,
            Some(open.id),
            now,
            EventKind::ChannelSwitched {
                from: open.channel,
                to: msg.channel,
            },
        ));
        conversation.channel = msg.channel;
        conversation.updated_at = now;
    }
    events.push(message_in(customer, msg, open.id, now));
    Continued {
        events,
        conversation,
        row_changed,
    }
}

/// A parked conversation queued again (the customer wrote, or its agent took it
/// back): waiting from `now` in its own queue, sticky to the agent who parked it (the
/// queue's `sticky_wait_ms` is how long it waits for them), with the `queued` event
/// that says so.
pub fn unpark(
    customer: CustomerId,
    parked: &Conversation,
    enqueue_seq: u64,
    now: Millis,
) -> (Conversation, TimelineEvent) {
    let mut conv = parked.clone();
    conv.state = ConversationState::Queued;
    conv.agent = None;
    conv.required_agent = None;
    conv.enqueued_at = now;
    conv.enqueue_seq = enqueue_seq;
    conv.updated_at = now;
    let queued = TimelineEvent::new(
        customer,
        Some(conv.id),
        now,
        EventKind::Queued {
            queue: conv.queue.clone(),
            priority: conv.priority,
        },
    );
    (conv, queued)
}

/// The closed conversation `msg` reopens, if any: the last one, when it closed within
/// `window_ms` of `now` or the message is threaded to it.
pub fn reopenable<'a>(
    last_closed: Option<&'a Conversation>,
    msg: &Inbound,
    now: Millis,
    window_ms: u64,
) -> Option<&'a Conversation> {
    let last = last_closed?;
    let threaded = msg.thread == Some(last.id);
    (threaded || now.since(last.updated_at) <= window_ms).then_some(last)
}

/// Where a reopened or new conversation waits.
#[derive(Debug, Clone)]
pub struct Placement {
    pub queue: QueueName,
    /// Arrival order among conversations enqueued in the same millisecond.
    pub enqueue_seq: u64,
    /// The id a new conversation takes (ignored when one is reopened).
    pub new_id: ConversationId,
}

/// A message that reopens or opens a conversation.
#[derive(Debug, Clone)]
pub struct Opened {
    /// `conversation_reopened` (+ `channel_switched`) or `conversation_opened`, then
    /// `message_in`, then `queued` — in the order they happened, so their time-ordered
    /// ids sort the same way.
    pub events: Vec<TimelineEvent>,
    /// The conversation, waiting in its queue.
    pub conversation: Conversation,
    pub reopened: bool,
}

/// `msg` reopens `reopen` (if given) or opens a new conversation, queued at `place`.
/// A reopened conversation keeps its id and history and prefers the agent who had it;
/// a new one prefers the customer's last agent. The customer's priority applies, and so
/// do the requirements of its attributes (`difficulty`, `language`) that the contact
/// does not set itself.
pub fn open(
    customer: &Customer,
    reopen: Option<&Conversation>,
    msg: &Inbound,
    place: Placement,
    now: Millis,
) -> Opened {
    let mut events = Vec::new();
    let conversation = match reopen {
        Some(old) => {
            events.push(TimelineEvent::new(
                customer.id,
                Some(old.id),
                now,
                EventKind::ConversationReopened {
                    channel: msg.channel,
                    queue: place.queue.clone(),
                },
            ));
            if old.channel != msg.channel {
                events.push(TimelineEvent::new(
                    customer.id,
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
                queue: place.queue.clone(),
                state: ConversationState::Queued,
                priority: customer.priority,
                enqueued_at: now,
                enqueue_seq: place.enqueue_seq,
                // Sticky: the agent who had it is preferred again.
                preferred_agent: old.agent.clone().or(customer.last_agent.clone()),
                agent: None,
                required_agent: None,
                disposition: None,
                // What this contact asked for, else what the conversation needed.
                requirements: customer.requirements_for(if msg.requirements.is_empty() {
                    &old.requirements
                } else {
                    &msg.requirements
                }),
                updated_at: now,
                ..old.clone()
            }
        }
        None => {
            events.push(TimelineEvent::new(
                customer.id,
                Some(place.new_id),
                now,
                EventKind::ConversationOpened {
                    channel: msg.channel,
                    queue: place.queue.clone(),
                    ivr_path: msg.ivr_path.clone(),
                },
            ));
            Conversation {
                id: place.new_id,
                customer_id: customer.id,
                channel: msg.channel,
                queue: place.queue.clone(),
                state: ConversationState::Queued,
                priority: customer.priority,
                created_at: now,
                enqueued_at: now,
                enqueue_seq: place.enqueue_seq,
                agent: None,
                preferred_agent: customer.last_agent.clone(),
                required_agent: None,
                disposition: None,
                requirements: customer.requirements_for(&msg.requirements),
                updated_at: now,
            }
        }
    };
    events.push(message_in(customer.id, msg, conversation.id, now));
    events.push(TimelineEvent::new(
        customer.id,
        Some(conversation.id),
        now,
        EventKind::Queued {
            queue: place.queue,
            priority: conversation.priority,
        },
    ));
    Opened {
        events,
        conversation,
        reopened: reopen.is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AgentId, Channel};

    fn customer() -> Customer {
        Customer {
            id: CustomerId::new(),
            display_name: None,
            identities: Vec::new(),
            priority: 3,
            attributes: Default::default(),
            last_agent: Some(AgentId::parse("last").unwrap()),
            opted_out: Default::default(),
            merged_into: None,
            merged: Vec::new(),
            created_at: Millis(0),
        }
    }

    fn msg(channel: Channel) -> Inbound {
        Inbound {
            client_msg_id: Some("m1".into()),
            ..Inbound::new(channel, "+819012345678", "hello")
        }
    }

    fn place(queue: &str, seq: u64) -> Placement {
        Placement {
            queue: QueueName::parse(queue).unwrap(),
            enqueue_seq: seq,
            new_id: ConversationId::new(),
        }
    }

    fn kinds(events: &[TimelineEvent]) -> Vec<&'static str> {
        events
            .iter()
            .map(|e| match &e.kind {
                EventKind::ConversationOpened { .. } => "opened",
                EventKind::ConversationReopened { .. } => "reopened",
                EventKind::ChannelSwitched { .. } => "switched",
                EventKind::MessageIn { .. } => "message_in",
                EventKind::Queued { .. } => "queued",
                _ => "other",
            })
            .collect()
    }

    /// A closed conversation on `channel`, closed at `at`, last held by `agent`.
    fn closed(c: &Customer, channel: Channel, at: Millis, agent: &str) -> Conversation {
        let mut conv = open(c, None, &msg(channel), place("general", 1), at).conversation;
        conv.state = ConversationState::Resolved;
        conv.agent = Some(AgentId::parse(agent).unwrap());
        conv.updated_at = at;
        conv
    }

    #[test]
    fn a_new_conversation_is_opened_queued_and_sticky_to_the_last_agent() {
        let c = customer();
        let p = place("sales", 7);
        let new_id = p.new_id;
        let o = open(&c, None, &msg(Channel::Sms), p, Millis(1_000));
        assert!(!o.reopened);
        assert_eq!(kinds(&o.events), ["opened", "message_in", "queued"]);
        assert!(o.events.iter().all(|e| e.conversation_id == Some(new_id)));
        assert!(
            o.events.windows(2).all(|w| w[0].id < w[1].id),
            "ids in order"
        );
        let conv = &o.conversation;
        assert_eq!(conv.id, new_id);
        assert_eq!(conv.state, ConversationState::Queued);
        assert_eq!(conv.queue.as_str(), "sales");
        assert_eq!((conv.priority, conv.enqueue_seq), (3, 7));
        assert_eq!(
            (conv.created_at, conv.enqueued_at),
            (Millis(1_000), Millis(1_000))
        );
        assert_eq!(conv.preferred_agent, c.last_agent);
        assert_eq!(conv.agent, None);
    }

    #[test]
    fn the_customers_tier_and_language_apply_unless_the_contact_gives_its_own() {
        let mut c = customer();
        c.attributes.insert("difficulty".into(), "4".into());
        c.attributes.insert("language".into(), "ja".into());
        c.attributes.insert("plan".into(), "gold".into());
        let skill = |s: &str| crate::domain::Skill::parse(s).unwrap();
        let p = |v| crate::domain::Proficiency::new(v).unwrap();
        let o = open(&c, None, &msg(Channel::Sms), place("sales", 1), Millis(1));
        let want: crate::domain::SkillFloors =
            [(skill("difficulty"), p(4)), (skill("lang-ja"), p(1))].into();
        assert_eq!(o.conversation.requirements, want);
        // The contact's own difficulty wins; the customer's language is added.
        let mut m = msg(Channel::Sms);
        m.requirements = [(skill("difficulty"), p(2))].into();
        let o = open(&c, None, &m, place("sales", 2), Millis(2));
        let want: crate::domain::SkillFloors =
            [(skill("difficulty"), p(2)), (skill("lang-ja"), p(1))].into();
        assert_eq!(o.conversation.requirements, want);
        // A malformed attribute (stored before it was checked) adds nothing.
        c.attributes.insert("difficulty".into(), "hard".into());
        let o = open(&c, None, &msg(Channel::Sms), place("sales", 3), Millis(3));
        assert!(o.conversation.requirements.is_empty());
        // Reopened without skills of its own: the old ones, with the customer's.
        c.attributes.insert("difficulty".into(), "3".into());
        let old = closed(&c, Channel::Chat, Millis(500), "held");
        let o = open(
            &c,
            Some(&old),
            &msg(Channel::Chat),
            place("sales", 4),
            Millis(600),
        );
        assert_eq!(
            o.conversation.requirements.get(&skill("difficulty")),
            Some(&p(3))
        );
    }

    #[test]
    fn a_reopened_conversation_keeps_its_id_and_prefers_its_agent() {
        let c = customer();
        let old = closed(&c, Channel::Chat, Millis(500), "held");
        let o = open(
            &c,
            Some(&old),
            &msg(Channel::Line),
            place("support", 9),
            Millis(2_000),
        );
        assert!(o.reopened);
        assert_eq!(
            kinds(&o.events),
            ["reopened", "switched", "message_in", "queued"]
        );
        let conv = &o.conversation;
        assert_eq!((conv.id, conv.created_at), (old.id, old.created_at));
        assert_eq!(conv.channel, Channel::Line);
        assert_eq!(conv.state, ConversationState::Queued);
        assert_eq!(
            conv.preferred_agent.as_ref().map(|a| a.as_str()),
            Some("held")
        );
        assert_eq!((conv.agent.clone(), conv.disposition.clone()), (None, None));
        assert_eq!(conv.enqueued_at, Millis(2_000));

        // Same channel: no switch recorded.
        let same = open(
            &c,
            Some(&old),
            &msg(Channel::Chat),
            place("support", 10),
            Millis(2_000),
        );
        assert_eq!(kinds(&same.events), ["reopened", "message_in", "queued"]);
    }

    #[test]
    fn reopening_needs_the_window_or_a_thread() {
        let c = customer();
        let last = closed(&c, Channel::Email, Millis(10_000), "a");
        let m = msg(Channel::Email);
        assert!(reopenable(None, &m, Millis(10_001), 1_000).is_none());
        assert!(reopenable(Some(&last), &m, Millis(11_000), 1_000).is_some());
        assert!(reopenable(Some(&last), &m, Millis(11_001), 1_000).is_none());
        let threaded = Inbound {
            thread: Some(last.id),
            ..m.clone()
        };
        assert!(reopenable(Some(&last), &threaded, Millis(99_999_999), 1_000).is_some());
        let elsewhere = Inbound {
            thread: Some(ConversationId::new()),
            ..m
        };
        assert!(reopenable(Some(&last), &elsewhere, Millis(99_999_999), 1_000).is_none());
    }

    #[test]
    fn a_message_continues_the_open_conversation_switching_channel_if_needed() {
        let c = customer();
        let conv = open(
            &c,
            None,
            &msg(Channel::Chat),
            place("general", 1),
            Millis(1),
        )
        .conversation;

        let same = continue_open(c.id, &conv, &msg(Channel::Chat), Millis(5));
        assert_eq!(kinds(&same.events), ["message_in"]);
        assert!(!same.row_changed);
        assert_eq!(
            same.conversation, conv,
            "a plain message leaves the row alone"
        );

        let switched = continue_open(c.id, &conv, &msg(Channel::Sms), Millis(6));
        assert_eq!(kinds(&switched.events), ["switched", "message_in"]);
        assert!(switched.row_changed);
        assert_eq!(switched.conversation.channel, Channel::Sms);
        assert_eq!(switched.conversation.updated_at, Millis(6));
        assert_eq!(switched.conversation.id, conv.id);
    }

    #[test]
    fn a_channel_name_fills_an_empty_display_name_only() {
        let c = customer();
        let with = |name: &str| Inbound {
            display_name: Some(name.into()),
            ..msg(Channel::Line)
        };
        let named_once = named(&c, &with("  Hanako\u{7}  ")).expect("named");
        assert_eq!(named_once.display_name.as_deref(), Some("Hanako"));
        assert!(
            named(&named_once, &with("Other")).is_none(),
            "never renamed"
        );
        assert!(named(&c, &with("   ")).is_none());
        assert!(named(&c, &with(&"x".repeat(101))).is_none());
        assert!(named(&c, &msg(Channel::Line)).is_none());
    }
}
