//! The self-service funnel: what became of each contact from where it came in — the IVR
//! menus it walked or what the bot did, why it went to a person, whether it moved to
//! another channel — to its resolution and first-contact resolution, by entry point
//! (docs/metrics.md "Self-service funnel").
//!
//! Pure computation over report events, like [`crate::compute`]. A contact is one
//! conversation, or one bot session that never became one; it belongs to the report
//! when its first event (a `self_service` step or a new conversation's `offered`) is
//! in `[from, to)`, and is followed through every event given, including those after
//! `to` (a cohort: the caller reads up to the first-contact-resolution window).

use crate::{ratio, RepeatContacts};
use domain::{
    Channel, ConversationId, Millis, OfferOrigin, QueueName, ReportEvent, ReportKind,
    SelfServiceFront,
};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// One funnel request, already validated by the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct FunnelParams {
    /// Contacts whose first event is at or after this (UTC millis)…
    pub from: Millis,
    /// …and before this.
    pub to: Millis,
    /// Only contacts that came in to this queue.
    pub queue: Option<QueueName>,
    /// A resolution followed by a repeat contact within this window is not a
    /// first-contact resolution (as in [`crate::ReportParams`]).
    pub fcr_window_ms: u64,
}

/// The funnel: one summary row per entry point, and the flows through it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Funnel {
    pub entries: Vec<EntryRow>,
    pub flows: Vec<FlowRow>,
}

/// Where the contacts of one entry point went.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntryRow {
    /// The channel the contact came in on.
    pub channel: Channel,
    /// What served it first: `bot`, `voice_ivr`, `visual_ivr`, or `none` (straight to a
    /// queue).
    pub front: &'static str,
    pub contacts: u64,
    /// Bot sessions in which the bot answered with an article at least once.
    pub bot_answered: u64,
    /// Self-service contacts that never reached a queue.
    pub contained: u64,
    /// Self-service contacts that went to a person, and why (`handoff_reasons`).
    pub handed_off: u64,
    pub handoff_reasons: BTreeMap<String, u64>,
    /// Contacts that reached a queue (handed off, or straight in).
    pub queued: u64,
    /// Contacts an agent took.
    pub answered: u64,
    /// Contacts that moved to another channel.
    pub switched_channel: u64,
    pub resolved: u64,
    /// Resolved at first contact: never reopened, no repeat contact within the window.
    pub fcr_resolved: u64,
    pub abandoned: u64,
    /// Queued and neither resolved nor abandoned by the end of the data.
    pub open: u64,
    /// `contained / contacts`, for a self-service front.
    pub containment_rate: Option<f64>,
    /// `resolved / queued`.
    pub resolution_rate: Option<f64>,
    /// `fcr_resolved / resolved`.
    pub fcr_rate: Option<f64>,
}

/// How many contacts took one path through the funnel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowRow {
    pub channel: Channel,
    pub front: &'static str,
    /// The IVR menus walked (`main>billing`), or the bot's `answered` (an article
    /// answered at least once) / `not_answered`; `None` with no self-service.
    pub step: Option<String>,
    /// Why self-service handed the contact to a person; `None`: it did not (contained,
    /// or no self-service).
    pub handoff: Option<String>,
    /// The channel the contact moved to, if it moved.
    pub switched_to: Option<Channel>,
    pub outcome: Outcome,
    pub contacts: u64,
}

/// Where a contact ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Self-service kept it: it never reached a queue.
    Contained,
    /// In a queue or with an agent at the end of the data.
    Open,
    Abandoned,
    /// Resolved, but reopened or followed by a repeat contact.
    Resolved,
    /// Resolved at first contact.
    ResolvedFirstContact,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Contained => "contained",
            Outcome::Open => "open",
            Outcome::Abandoned => "abandoned",
            Outcome::Resolved => "resolved",
            Outcome::ResolvedFirstContact => "resolved_first_contact",
        }
    }
}

/// The latest self-service step of a contact.
struct Step {
    front: SelfServiceFront,
    label: String,
    handoff: Option<String>,
}

/// One contact followed through its events.
struct Contact {
    /// Its first event started it (a step or a new conversation's offer); else it began
    /// before the events given and is left out.
    counted: bool,
    started: Millis,
    channel: Channel,
    queue: QueueName,
    step: Option<Step>,
    bot_answered: bool,
    queued: bool,
    answered: bool,
    switched_to: Option<Channel>,
    /// `None` while open.
    ended: Option<Outcome>,
}

/// The funnel of `events` (report events of every queue, in any order).
pub fn funnel(events: &[ReportEvent], params: &FunnelParams) -> Funnel {
    let repeats = RepeatContacts::index(events);
    let mut order: Vec<&ReportEvent> = events.iter().collect();
    order.sort_by_key(|e| (e.at, e.id));
    let mut contacts: HashMap<ConversationId, Contact> = HashMap::new();
    for e in order {
        let starts = matches!(
            e.kind,
            ReportKind::SelfService { .. }
                | ReportKind::Offered {
                    origin: OfferOrigin::New,
                    ..
                }
        );
        let c = contacts.entry(e.conversation).or_insert_with(|| Contact {
            counted: starts,
            started: e.at,
            channel: e.channel,
            queue: e.queue.clone(),
            step: None,
            bot_answered: false,
            queued: false,
            answered: false,
            switched_to: None,
            ended: None,
        });
        match &e.kind {
            ReportKind::SelfService {
                front,
                path,
                answers,
                handoff,
                ..
            } => {
                let label = match front {
                    SelfServiceFront::Bot if *answers > 0 => "answered".to_owned(),
                    SelfServiceFront::Bot => "not_answered".to_owned(),
                    _ => path.join(">"),
                };
                c.bot_answered |= *front == SelfServiceFront::Bot && *answers > 0;
                c.step = Some(Step {
                    front: *front,
                    label,
                    handoff: handoff.clone(),
                });
            }
            ReportKind::Offered { .. } | ReportKind::Reopened => {
                c.queued = true;
                c.ended = None;
            }
            ReportKind::Answered { .. } => c.answered = true,
            ReportKind::ChannelSwitched { .. } => {
                c.switched_to.get_or_insert(e.channel);
            }
            ReportKind::Resolved { first_contact } => {
                let fcr = *first_contact && !repeats.after(e, params.fcr_window_ms);
                c.ended = Some(if fcr {
                    Outcome::ResolvedFirstContact
                } else {
                    Outcome::Resolved
                });
            }
            ReportKind::Abandoned { .. } => c.ended = Some(Outcome::Abandoned),
            _ => {}
        }
    }

    let mut entries: BTreeMap<(Channel, &'static str), EntryAcc> = BTreeMap::new();
    let mut flows: HashMap<FlowKey, u64> = HashMap::new();
    for c in contacts.into_values() {
        if !c.counted || c.started < params.from || c.started >= params.to {
            continue;
        }
        if params.queue.as_ref().is_some_and(|q| *q != c.queue) {
            continue;
        }
        let front = c.step.as_ref().map_or("none", |s| s.front.as_str());
        let outcome = if c.queued {
            c.ended.unwrap_or(Outcome::Open)
        } else {
            Outcome::Contained
        };
        let handoff = c
            .step
            .as_ref()
            .and_then(|s| s.handoff.clone())
            .filter(|_| c.queued);
        let acc = entries.entry((c.channel, front)).or_default();
        acc.contacts += 1;
        acc.bot_answered += u64::from(c.bot_answered);
        if c.step.is_some() && !c.queued {
            acc.contained += 1;
        }
        if let Some(reason) = &handoff {
            acc.handed_off += 1;
            *acc.handoff_reasons.entry(reason.clone()).or_default() += 1;
        }
        acc.queued += u64::from(c.queued);
        acc.answered += u64::from(c.answered);
        acc.switched_channel += u64::from(c.switched_to.is_some());
        match outcome {
            Outcome::Resolved => acc.resolved += 1,
            Outcome::ResolvedFirstContact => {
                acc.resolved += 1;
                acc.fcr_resolved += 1;
            }
            Outcome::Abandoned => acc.abandoned += 1,
            Outcome::Open => acc.open += 1,
            Outcome::Contained => {}
        }
        *flows
            .entry(FlowKey {
                channel: c.channel,
                front,
                step: c.step.map(|s| s.label),
                handoff,
                switched_to: c.switched_to,
                outcome,
            })
            .or_default() += 1;
    }

    let entries = entries
        .into_iter()
        .map(|((channel, front), a)| EntryRow {
            channel,
            front,
            containment_rate: (front != "none")
                .then(|| ratio(a.contained, a.contacts))
                .flatten(),
            resolution_rate: ratio(a.resolved, a.queued),
            fcr_rate: ratio(a.fcr_resolved, a.resolved),
            contacts: a.contacts,
            bot_answered: a.bot_answered,
            contained: a.contained,
            handed_off: a.handed_off,
            handoff_reasons: a.handoff_reasons,
            queued: a.queued,
            answered: a.answered,
            switched_channel: a.switched_channel,
            resolved: a.resolved,
            fcr_resolved: a.fcr_resolved,
            abandoned: a.abandoned,
            open: a.open,
        })
        .collect();
    let mut flows: Vec<FlowRow> = flows
        .into_iter()
        .map(|(k, contacts)| FlowRow {
            channel: k.channel,
            front: k.front,
            step: k.step,
            handoff: k.handoff,
            switched_to: k.switched_to,
            outcome: k.outcome,
            contacts,
        })
        .collect();
    // Biggest flows first; ties in a fixed order, so the answer is deterministic.
    flows.sort_by(|a, b| {
        b.contacts.cmp(&a.contacts).then_with(|| {
            (
                a.channel,
                a.front,
                &a.step,
                &a.handoff,
                a.switched_to,
                a.outcome,
            )
                .cmp(&(
                    b.channel,
                    b.front,
                    &b.step,
                    &b.handoff,
                    b.switched_to,
                    b.outcome,
                ))
        })
    });
    Funnel { entries, flows }
}

#[derive(Default)]
struct EntryAcc {
    contacts: u64,
    bot_answered: u64,
    contained: u64,
    handed_off: u64,
    handoff_reasons: BTreeMap<String, u64>,
    queued: u64,
    answered: u64,
    switched_channel: u64,
    resolved: u64,
    fcr_resolved: u64,
    abandoned: u64,
    open: u64,
}

#[derive(PartialEq, Eq, Hash)]
struct FlowKey {
    channel: Channel,
    front: &'static str,
    step: Option<String>,
    handoff: Option<String>,
    switched_to: Option<Channel>,
    outcome: Outcome,
}
