//! Unit tests of the report computation against values worked out by hand in the
//! comments.

use super::*;
use domain::report::DAY_MS;
use domain::{AgentId, Channel, EventId, QueueName};

const H: i64 = 3_600_000;

struct Log {
    events: Vec<ReportEvent>,
}

impl Log {
    fn new() -> Self {
        Self { events: Vec::new() }
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        at: i64,
        queue: &str,
        channel: Channel,
        conv: ConversationId,
        customer: CustomerId,
        agent: Option<&str>,
        kind: ReportKind,
    ) {
        self.events.push(ReportEvent {
            id: EventId::new(),
            at: Millis(at),
            queue: QueueName::parse(queue).expect("queue"),
            channel,
            conversation: conv,
            customer,
            agent: agent.map(|a| AgentId::parse(a).expect("agent")),
            difficulty: None,
            kind,
        });
    }
}

fn params(group: GroupBy, interval: Interval, to: i64) -> ReportParams {
    ReportParams {
        from: Millis(0),
        to: Millis(to),
        interval,
        group,
        queue: None,
        sl_thresholds_s: vec![20, 60],
        fcr_window_ms: 7 * DAY_MS as u64,
        utc_offset_minutes: 0,
    }
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

/// Five contacts in queue "sales" during hour 0, one in "support":
///
/// | contact | channel | wait s | outcome | talk s | wrap s |
/// |---|---|---|---|---|---|
/// | c1 | chat | 5  | answered by alice, resolved | 100 | 20 |
/// | c2 | chat | 15 | answered by bob, resolved   | 200 | 40 |
/// | c3 | sms  | 30 | answered by alice, transferred to support after 60 s talk | 60 | 0 |
/// | c4 | sms  | 90 | answered by bob, resolved, reopened 2 days later | 300 | 0 |
/// | c5 | chat | 40 | abandoned |
/// | s1 | sms  | 10 | answered in support by carol (after transfer... a different contact) |
///
/// sales, hour 0: offered 5; handled 4 (c1..c4); abandoned 1 → abandon rate 1/5 = 0.2.
/// SL@20 s: answered within 20 s = c1 (5), c2 (15) = 2; / (handled 4 + abandoned 1)
/// = 2/5 = 0.4. SL@60 s: c1, c2, c3 (30) = 3/5 = 0.6.
/// ASA = (5 + 15 + 30 + 90) / 4 = 140/4 = 35 s.
/// Handle segments ending in sales: c1 (100+20), c2 (200+40), c3 (60+0), c4 (300+0):
/// AHT = (120 + 240 + 60 + 300) / 4 = 720/4 = 180 s; talk avg = 660/4 = 165 s; wrap avg
/// = 60/4 = 15 s.
/// Waits of contacts that left the queue (answered + abandoned), sorted:
/// [5, 15, 30, 40, 90] (n = 5). Nearest rank: p50 → ⌈2.5⌉ = 3rd = 30 s; p90 → ⌈4.5⌉ =
/// 5th = 90 s; p99 → ⌈4.95⌉ = 5th = 90 s.
/// Resolved: c1, c2, c4 = 3 (all first contact). c4 reopened within 7 days → not FCR.
/// FCR = 2/3. Transfers: 1 (c3). Channel switches: 1 (c2 moved chat → sms).
#[test]
fn hand_computed_scenario_by_queue() {
    let mut log = Log::new();
    let s = |n: i64| n * 1000;
    let cust: Vec<CustomerId> = (0..6).map(|_| CustomerId::new()).collect();
    let conv: Vec<ConversationId> = (0..6).map(|_| ConversationId::new()).collect();
    let new = ReportKind::offered(OfferOrigin::New);
    use Channel::{Chat, Sms};
    // c1
    log.push(s(0), "sales", Chat, conv[0], cust[0], None, new.clone());
    log.push(
        s(5),
        "sales",
        Chat,
        conv[0],
        cust[0],
        Some("alice"),
        ReportKind::Answered { wait_ms: 5_000 },
    );
    log.push(
        s(125),
        "sales",
        Chat,
        conv[0],
        cust[0],
        Some("alice"),
        ReportKind::WrapupDone {
            talk_ms: 100_000,
            wrap_ms: 20_000,
        },
    );
    log.push(
        s(125),
        "sales",
        Chat,
        conv[0],
        cust[0],
        Some("alice"),
        ReportKind::Resolved {
            first_contact: true,
        },
    );
    // c2 (switches to SMS while talking)
    log.push(s(10), "sales", Chat, conv[1], cust[1], None, new.clone());
    log.push(
        s(25),
        "sales",
        Chat,
        conv[1],
        cust[1],
        Some("bob"),
        ReportKind::Answered { wait_ms: 15_000 },
    );
    log.push(
        s(60),
        "sales",
        Sms,
        conv[1],
        cust[1],
        None,
        ReportKind::ChannelSwitched { from: Chat },
    );
    log.push(
        s(265),
        "sales",
        Sms,
        conv[1],
        cust[1],
        Some("bob"),
        ReportKind::WrapupDone {
            talk_ms: 200_000,
            wrap_ms: 40_000,
        },
    );
    log.push(
        s(265),
        "sales",
        Sms,
        conv[1],
        cust[1],
        Some("bob"),
        ReportKind::Resolved {
            first_contact: true,
        },
    );
    // c3 (transferred to support)
    log.push(s(20), "sales", Sms, conv[2], cust[2], None, new.clone());
    log.push(
        s(50),
        "sales",
        Sms,
        conv[2],
        cust[2],
        Some("alice"),
        ReportKind::Answered { wait_ms: 30_000 },
    );
    log.push(
        s(110),
        "sales",
        Sms,
        conv[2],
        cust[2],
        Some("alice"),
        ReportKind::WrapupDone {
            talk_ms: 60_000,
            wrap_ms: 0,
        },
    );
    log.push(
        s(110),
        "sales",
        Sms,
        conv[2],
        cust[2],
        Some("alice"),
        ReportKind::Transferred {
            to_queue: QueueName::parse("support").expect("q"),
            overflow: false,
        },
    );
    log.push(
        s(110),
        "support",
        Sms,
        conv[2],
        cust[2],
        None,
        ReportKind::offered(OfferOrigin::Transfer),
    );
    // c4 (reopened two days later)
    log.push(s(30), "sales", Sms, conv[3], cust[3], None, new.clone());
    log.push(
        s(120),
        "sales",
        Sms,
        conv[3],
        cust[3],
        Some("bob"),
        ReportKind::Answered { wait_ms: 90_000 },
    );
    log.push(
        s(420),
        "sales",
        Sms,
        conv[3],
        cust[3],
        Some("bob"),
        ReportKind::WrapupDone {
            talk_ms: 300_000,
            wrap_ms: 0,
        },
    );
    log.push(
        s(420),
        "sales",
        Sms,
        conv[3],
        cust[3],
        Some("bob"),
        ReportKind::Resolved {
            first_contact: true,
        },
    );
    log.push(
        2 * DAY_MS,
        "sales",
        Sms,
        conv[3],
        cust[3],
        None,
        ReportKind::Reopened,
    );
    // c5 (abandons)
    log.push(s(40), "sales", Chat, conv[4], cust[4], None, new.clone());
    log.push(
        s(80),
        "sales",
        Chat,
        conv[4],
        cust[4],
        None,
        ReportKind::Abandoned {
            wait_ms: 40_000,
            left_unserved: false,
        },
    );
    // s1 in support
    log.push(s(100), "support", Sms, conv[5], cust[5], None, new.clone());
    log.push(
        s(110),
        "support",
        Sms,
        conv[5],
        cust[5],
        Some("carol"),
        ReportKind::Answered { wait_ms: 10_000 },
    );

    let rows = compute(&log.events, &params(GroupBy::Queue, Interval::Hour, H));
    assert_eq!(rows.len(), 2, "{rows:#?}");
    let sales = &rows[0];
    assert_eq!((sales.bucket_start, sales.group.as_str()), (0, "sales"));
    assert_eq!((sales.offered, sales.handled, sales.abandoned), (5, 4, 1));
    assert!(close(sales.abandon_rate, 0.2));
    assert!(close(sales.service_level, 0.4));
    assert_eq!(sales.service_level_threshold_seconds, Some(20));
    assert!(close(sales.service_levels[&60], 0.6));
    assert!(close(sales.asa_seconds, 35.0));
    assert!(close(sales.aht_seconds, 180.0));
    assert!(close(sales.talk_seconds_avg, 165.0));
    assert!(close(sales.wrap_seconds_avg, 15.0));
    assert!(close(sales.wait_p50_seconds, 30.0));
    assert!(close(sales.wait_p90_seconds, 90.0));
    assert!(close(sales.wait_p99_seconds, 90.0));
    assert!(close(sales.wait_max_seconds, 90.0));
    assert_eq!((sales.resolved, sales.fcr_resolved), (3, 2));
    assert!(close(sales.fcr_rate, 2.0 / 3.0));
    assert_eq!((sales.transfers, sales.channel_switches), (1, 1));
    // The reopen (day 2) is outside [0, 1 h): not counted, only looked at for FCR.
    assert_eq!(sales.reopened, 0);
    assert_eq!(sales.csat_count, 0);
    assert_eq!(sales.csat_average, None);

    // support: offered 2 (s1 new, c3 by transfer), handled 1 (s1, 10 s).
    let support = &rows[1];
    assert_eq!(support.group, "support");
    assert_eq!(
        (support.offered, support.handled, support.abandoned),
        (2, 1, 0)
    );
    assert!(close(support.service_level, 1.0));
    assert!(close(support.asa_seconds, 10.0));
    // No handle segment ended there: AHT is unknown, not 0.
    assert_eq!(support.aht_seconds, None);
    assert_eq!(support.fcr_rate, None);

    // By agent: alice answered c1 (5 s) and c3 (30 s): ASA 17.5 s, AHT (120 + 60)/2
    // = 90 s, resolved 1 (c1, FCR).
    // alice also had an offer time out and one rejected before c1 was accepted.
    for outcome in [
        OfferOutcome::TimedOut,
        OfferOutcome::Rejected,
        OfferOutcome::Accepted,
    ] {
        log.push(
            s(1),
            "sales",
            Chat,
            conv[0],
            cust[0],
            Some("alice"),
            ReportKind::OfferClosed { outcome },
        );
    }
    let by_agent = compute(&log.events, &params(GroupBy::Agent, Interval::Day, DAY_MS));
    let alice = by_agent
        .iter()
        .find(|r| r.group == "alice")
        .expect("alice row");
    assert_eq!((alice.offered, alice.handled, alice.abandoned), (0, 2, 0));
    assert!(close(alice.asa_seconds, 17.5));
    assert!(close(alice.aht_seconds, 90.0));
    assert_eq!(
        (alice.resolved, alice.fcr_resolved, alice.transfers),
        (1, 1, 1)
    );
    assert_eq!(
        (
            alice.offers_accepted,
            alice.offers_rejected,
            alice.offers_timed_out,
            alice.offers_rescinded
        ),
        (1, 1, 1, 0)
    );
    assert_eq!(
        by_agent
            .iter()
            .map(|r| r.group.as_str())
            .collect::<Vec<_>>(),
        ["alice", "bob", "carol"]
    );

    // By channel (volume per channel per day): chat offered c1, c2, c5 = 3; sms c3, c4,
    // s1 new + c3 transfer into support = 4.
    let by_channel = compute(
        &log.events,
        &params(GroupBy::Channel, Interval::Day, DAY_MS),
    );
    let volume: Vec<(&str, u64)> = by_channel
        .iter()
        .map(|r| (r.group.as_str(), r.offered))
        .collect();
    assert_eq!(volume, [("chat", 3), ("sms", 4)]);

    // A window of one day instead of seven: c4's reopen (2 days later) no longer
    // counts against it, FCR = 3/3.
    let mut short = params(GroupBy::Queue, Interval::Hour, H);
    short.fcr_window_ms = DAY_MS as u64;
    let sales = &compute(&log.events, &short)[0];
    assert_eq!(sales.fcr_resolved, 3);
}

/// A new conversation from the same customer inside the window also breaks FCR; one
/// after it does not; a resolution of a conversation that had been reopened is never
/// first contact.
#[test]
fn repeat_contact_from_the_same_customer() {
    let mut log = Log::new();
    let (a, b) = (CustomerId::new(), CustomerId::new());
    let (ca, ca2, cb, cb2) = (
        ConversationId::new(),
        ConversationId::new(),
        ConversationId::new(),
        ConversationId::new(),
    );
    let resolved = |first| ReportKind::Resolved {
        first_contact: first,
    };
    let new = ReportKind::offered(OfferOrigin::New);
    log.push(1_000, "q", Channel::Line, ca, a, Some("x"), resolved(true));
    log.push(2_000, "q", Channel::Line, cb, b, Some("x"), resolved(true));
    log.push(
        3_000,
        "q",
        Channel::Line,
        ca2,
        a,
        Some("x"),
        resolved(false),
    );
    // a writes again 6 days later (new conversation); b after 8 days.
    log.push(
        1_000 + 6 * DAY_MS,
        "q",
        Channel::Sms,
        ca2,
        a,
        None,
        new.clone(),
    );
    log.push(2_000 + 8 * DAY_MS, "q", Channel::Sms, cb2, b, None, new);
    let rows = compute(&log.events, &params(GroupBy::Queue, Interval::Day, DAY_MS));
    assert_eq!(rows.len(), 1);
    // Resolved 3; first contact and no repeat within 7 days: only b's.
    assert_eq!((rows[0].resolved, rows[0].fcr_resolved), (3, 1));
}

/// CSAT answers average their normalised scores: 4/5 and 5/5 and 2/5 → (0.8 + 1.0 +
/// 0.4)/3 = 0.7333…
#[test]
fn csat_average_and_count() {
    let mut log = Log::new();
    for s in [4, 5, 2] {
        log.push(
            10,
            "q",
            Channel::Email,
            ConversationId::new(),
            CustomerId::new(),
            Some("x"),
            ReportKind::Csat {
                score: s,
                scale_max: 5,
            },
        );
    }
    let rows = compute(
        &log.events,
        &params(GroupBy::Queue, Interval::FifteenMinutes, H),
    );
    assert_eq!(rows[0].csat_count, 3);
    assert!(close(rows[0].csat_average, 2.2 / 3.0));
}

/// Buckets split by timestamp; events outside [from, to) are not counted.
#[test]
fn buckets_and_range() {
    let mut log = Log::new();
    let (c, k) = (ConversationId::new(), CustomerId::new());
    let new = ReportKind::offered(OfferOrigin::New);
    for at in [0, 14 * 60_000, 15 * 60_000, 59 * 60_000, H, -1] {
        log.push(at, "q", Channel::Chat, c, k, None, new.clone());
    }
    let rows = compute(
        &log.events,
        &params(GroupBy::Queue, Interval::FifteenMinutes, H),
    );
    let got: Vec<(i64, u64)> = rows.iter().map(|r| (r.bucket_start, r.offered)).collect();
    assert_eq!(got, [(0, 2), (15 * 60_000, 1), (45 * 60_000, 1)]);
}

#[test]
fn nearest_rank_percentiles() {
    assert_eq!(percentile(&[], 50), None);
    assert_eq!(percentile(&[7], 99), Some(7));
    let v: Vec<u64> = (1..=10).collect();
    assert_eq!(percentile(&v, 50), Some(5));
    assert_eq!(percentile(&v, 90), Some(9));
    assert_eq!(percentile(&v, 99), Some(10));
    assert_eq!(percentile(&v, 0), Some(1));
}

#[test]
fn group_names_parse() {
    assert_eq!(GroupBy::parse("agent"), Ok(GroupBy::Agent));
    assert!(GroupBy::parse("customer").is_err());
}

/// `queue=` counts one queue's events only, but a repeat contact in another queue still
/// undoes a first-contact resolution.
#[test]
fn one_queue_with_repeat_contacts_elsewhere() {
    let mut log = Log::new();
    let (k, c1, c2) = (
        CustomerId::new(),
        ConversationId::new(),
        ConversationId::new(),
    );
    let new = ReportKind::offered(OfferOrigin::New);
    log.push(0, "sales", Channel::Chat, c1, k, None, new.clone());
    log.push(
        60_000,
        "sales",
        Channel::Chat,
        c1,
        k,
        Some("x"),
        ReportKind::Resolved {
            first_contact: true,
        },
    );
    // The same customer comes back an hour later, in "support".
    log.push(H, "support", Channel::Sms, c2, k, None, new);
    let mut p = params(GroupBy::Channel, Interval::Day, DAY_MS);
    p.queue = Some(QueueName::parse("sales").expect("q"));
    let rows = compute(&log.events, &p);
    // chat: sales's offer and resolution; the support offer is not counted (no sms
    // row) but makes the resolution not first-contact.
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!((rows[0].group.as_str(), rows[0].offered), ("chat", 1));
    assert_eq!((rows[0].resolved, rows[0].fcr_resolved), (1, 0));
}

/// Two hard contacts (difficulty 4) and one without a difficulty, in one hour:
/// hard h1 answered after 10 s, resolved after 100 s talk + 20 s wrap, CSAT 5/5;
/// hard h2 abandoned after 50 s; plain p1 answered after 30 s.
/// difficulty 4: offered 2, handled 1, abandoned 1 → abandon rate 0.5; SL@20 = 1/2;
/// AHT 120 s; CSAT 1.0. none: offered 1, handled 1, ASA 30 s.
#[test]
fn rows_by_difficulty_group_contacts_by_how_hard_they_are() {
    use Channel::*;
    let mut log = Log::new();
    let (h1, h2, p1) = (
        ConversationId::new(),
        ConversationId::new(),
        ConversationId::new(),
    );
    let cust = CustomerId::new();
    let hard = domain::Proficiency::new(4).ok();
    let s = |v: i64| v * 1000;
    let at = |log: &mut Log, t, conv, agent, kind, d| {
        log.push(t, "sales", Chat, conv, cust, agent, kind);
        log.events.last_mut().expect("pushed").difficulty = d;
    };
    let new = || ReportKind::offered(OfferOrigin::New);
    at(&mut log, s(0), h1, None, new(), hard);
    at(&mut log, s(0), h2, None, new(), hard);
    at(&mut log, s(0), p1, None, new(), None);
    at(
        &mut log,
        s(10),
        h1,
        Some("senior"),
        ReportKind::Answered { wait_ms: 10_000 },
        hard,
    );
    at(
        &mut log,
        s(30),
        p1,
        Some("novice"),
        ReportKind::Answered { wait_ms: 30_000 },
        None,
    );
    at(
        &mut log,
        s(50),
        h2,
        None,
        ReportKind::Abandoned {
            wait_ms: 50_000,
            left_unserved: false,
        },
        hard,
    );
    at(
        &mut log,
        s(130),
        h1,
        Some("senior"),
        ReportKind::WrapupDone {
            talk_ms: 100_000,
            wrap_ms: 20_000,
        },
        hard,
    );
    at(
        &mut log,
        s(131),
        h1,
        Some("senior"),
        ReportKind::Resolved {
            first_contact: true,
        },
        hard,
    );
    at(
        &mut log,
        s(200),
        h1,
        Some("senior"),
        ReportKind::Csat {
            score: 5,
            scale_max: 5,
        },
        hard,
    );
    let rows = compute(&log.events, &params(GroupBy::Difficulty, Interval::Hour, H));
    let groups: Vec<&str> = rows.iter().map(|r| r.group.as_str()).collect();
    assert_eq!(groups, ["4", "none"]);
    let (four, none) = (&rows[0], &rows[1]);
    assert_eq!((four.offered, four.handled, four.abandoned), (2, 1, 1));
    assert!(close(four.abandon_rate, 0.5));
    assert!(close(four.service_level, 0.5));
    assert!(close(four.aht_seconds, 120.0));
    assert!(close(four.csat_average, 1.0));
    assert_eq!((none.offered, none.handled, none.csat_count), (1, 1, 0));
    assert!(close(none.asa_seconds, 30.0));
    assert_eq!(GroupBy::parse("difficulty"), Ok(GroupBy::Difficulty));
}

// ------------------------------------------------------------------ the funnel

mod funnel {
    use super::*;
    use crate::funnel::{funnel, FlowRow, FunnelParams, Outcome};
    use domain::SelfServiceFront;

    fn step(
        front: SelfServiceFront,
        path: &[&str],
        answers: u32,
        handoff: Option<&str>,
    ) -> ReportKind {
        ReportKind::SelfService {
            front,
            path: path.iter().map(|s| s.to_string()).collect(),
            turns: answers + 1,
            answers,
            handoff: handoff.map(str::to_owned),
        }
    }

    fn new_offer() -> ReportKind {
        ReportKind::offered(OfferOrigin::New)
    }

    fn fparams(from: i64, to: i64) -> FunnelParams {
        FunnelParams {
            from: Millis(from),
            to: Millis(to),
            queue: None,
            fcr_window_ms: 7 * DAY_MS as u64,
        }
    }

    /// `channel/front step handoff switched outcome xN`, sorted.
    fn lines(flows: &[FlowRow]) -> Vec<String> {
        let mut out: Vec<String> = flows
            .iter()
            .map(|f| {
                format!(
                    "{}/{} {} {} {} {} x{}",
                    f.channel.as_str(),
                    f.front,
                    f.step.as_deref().unwrap_or("-"),
                    f.handoff.as_deref().unwrap_or("-"),
                    f.switched_to.map_or("-", |c| c.as_str()),
                    f.outcome.as_str(),
                    f.contacts
                )
            })
            .collect();
        out.sort();
        out
    }

    /// Seven contacts, each with its path worked out in the comments.
    fn day(log: &mut Log) {
        let (chat, sms, voice) = (Channel::Chat, Channel::Sms, Channel::Voice);
        // A: the bot, unanswered then answered; no hand-off: contained, `answered`.
        let (a, ca) = (ConversationId::new(), CustomerId::new());
        log.push(
            H,
            "general",
            chat,
            a,
            ca,
            None,
            step(SelfServiceFront::Bot, &[], 0, None),
        );
        log.push(
            H + 60_000,
            "general",
            chat,
            a,
            ca,
            None,
            step(SelfServiceFront::Bot, &[], 1, None),
        );
        // B: the bot hands off (`unanswered`), Bea resolves it; nothing follows: FCR.
        let (b, cb) = (ConversationId::new(), CustomerId::new());
        log.push(
            H,
            "general",
            chat,
            b,
            cb,
            None,
            step(SelfServiceFront::Bot, &[], 0, None),
        );
        log.push(2 * H, "general", chat, b, cb, None, new_offer());
        log.push(
            2 * H,
            "general",
            chat,
            b,
            cb,
            None,
            step(SelfServiceFront::Bot, &[], 0, Some("unanswered")),
        );
        log.push(
            2 * H + 1,
            "general",
            chat,
            b,
            cb,
            Some("bea"),
            ReportKind::Answered { wait_ms: 1 },
        );
        log.push(
            3 * H,
            "general",
            chat,
            b,
            cb,
            Some("bea"),
            ReportKind::Resolved {
                first_contact: true,
            },
        );
        // C: a call through main > orders, moved to SMS, then abandoned.
        let (c, cc) = (ConversationId::new(), CustomerId::new());
        log.push(H, "orders", voice, c, cc, None, new_offer());
        log.push(
            H,
            "orders",
            voice,
            c,
            cc,
            None,
            step(
                SelfServiceFront::VoiceIvr,
                &["main", "orders"],
                0,
                Some("queue"),
            ),
        );
        log.push(
            H + 5,
            "orders",
            sms,
            c,
            cc,
            None,
            ReportKind::ChannelSwitched { from: voice },
        );
        log.push(
            H + 9,
            "orders",
            sms,
            c,
            cc,
            None,
            ReportKind::Abandoned {
                wait_ms: 9,
                left_unserved: false,
            },
        );
        // D: an SMS straight in, resolved, reopened: open again.
        let (d, cd) = (ConversationId::new(), CustomerId::new());
        log.push(H, "general", sms, d, cd, None, new_offer());
        log.push(
            2 * H,
            "general",
            sms,
            d,
            cd,
            Some("bea"),
            ReportKind::Resolved {
                first_contact: true,
            },
        );
        log.push(3 * H, "general", sms, d, cd, None, ReportKind::Reopened);
        // E: an SMS straight in, resolved; the same customer writes again an hour later
        // (F, a new conversation): E is resolved, not at first contact; F is open.
        let (e, ce) = (ConversationId::new(), CustomerId::new());
        log.push(H, "general", sms, e, ce, None, new_offer());
        log.push(
            2 * H,
            "general",
            sms,
            e,
            ce,
            Some("bea"),
            ReportKind::Resolved {
                first_contact: true,
            },
        );
        let f = ConversationId::new();
        log.push(3 * H, "general", sms, f, ce, None, new_offer());
        // G: began before the range (its first event here is an answer): left out.
        let (g, cg) = (ConversationId::new(), CustomerId::new());
        log.push(
            H,
            "general",
            sms,
            g,
            cg,
            Some("bea"),
            ReportKind::Answered { wait_ms: 5 },
        );
        log.push(
            2 * H,
            "general",
            sms,
            g,
            cg,
            Some("bea"),
            ReportKind::Resolved {
                first_contact: true,
            },
        );
        // H: comes in at `to` (10 h): left out, though E's repeat is found before it.
        let (h, ch) = (ConversationId::new(), CustomerId::new());
        log.push(
            10 * H,
            "general",
            chat,
            h,
            ch,
            None,
            step(SelfServiceFront::Bot, &[], 0, None),
        );
    }

    #[test]
    fn every_contact_is_followed_from_its_entry_to_its_outcome() {
        let mut log = Log::new();
        day(&mut log);
        let f = funnel(&log.events, &fparams(0, 10 * H));
        assert_eq!(
            lines(&f.flows),
            [
                "chat/bot answered - - contained x1",
                "chat/bot not_answered unanswered - resolved_first_contact x1",
                "sms/none - - - open x2",
                "sms/none - - - resolved x1",
                "voice/voice_ivr main>orders queue sms abandoned x1",
            ]
        );
        // Biggest flow first.
        assert_eq!(f.flows[0].contacts, 2);
        assert_eq!(f.entries.len(), 3);
        let bot = &f.entries[0];
        assert_eq!((bot.channel, bot.front), (Channel::Chat, "bot"));
        assert_eq!(
            (
                bot.contacts,
                bot.bot_answered,
                bot.contained,
                bot.handed_off
            ),
            (2, 1, 1, 1)
        );
        assert_eq!(bot.handoff_reasons.get("unanswered"), Some(&1));
        assert_eq!(
            (bot.queued, bot.answered, bot.resolved, bot.fcr_resolved),
            (1, 1, 1, 1)
        );
        assert!(close(bot.containment_rate, 0.5));
        assert!(close(bot.fcr_rate, 1.0));
        let sms = &f.entries[1];
        assert_eq!((sms.channel, sms.front), (Channel::Sms, "none"));
        // D, E and F; G began before the range.
        assert_eq!(
            (
                sms.contacts,
                sms.queued,
                sms.resolved,
                sms.fcr_resolved,
                sms.open
            ),
            (3, 3, 1, 0, 2)
        );
        assert_eq!(sms.containment_rate, None);
        assert!(close(sms.resolution_rate, 1.0 / 3.0));
        assert!(close(sms.fcr_rate, 0.0));
        let ivr = &f.entries[2];
        assert_eq!((ivr.channel, ivr.front), (Channel::Voice, "voice_ivr"));
        assert_eq!(
            (
                ivr.contacts,
                ivr.handed_off,
                ivr.switched_channel,
                ivr.abandoned
            ),
            (1, 1, 1, 1)
        );
        assert!(close(ivr.containment_rate, 0.0));
    }

    #[test]
    fn the_order_events_come_in_does_not_matter() {
        let mut log = Log::new();
        day(&mut log);
        let p = fparams(0, 10 * H);
        let forward = funnel(&log.events, &p);
        log.events.reverse();
        assert_eq!(funnel(&log.events, &p), forward);
    }

    #[test]
    fn a_contact_belongs_to_the_queue_it_came_in_to() {
        let mut log = Log::new();
        let (a, ca) = (ConversationId::new(), CustomerId::new());
        log.push(
            H,
            "general",
            Channel::Chat,
            a,
            ca,
            None,
            step(SelfServiceFront::Bot, &[], 0, Some("requested")),
        );
        log.push(H, "general", Channel::Chat, a, ca, None, new_offer());
        log.push(
            2 * H,
            "general",
            Channel::Chat,
            a,
            ca,
            None,
            ReportKind::Transferred {
                to_queue: QueueName::parse("billing").expect("q"),
                overflow: false,
            },
        );
        log.push(
            2 * H,
            "billing",
            Channel::Chat,
            a,
            ca,
            None,
            ReportKind::offered(OfferOrigin::Transfer),
        );
        let mut p = fparams(0, 10 * H);
        p.queue = Some(QueueName::parse("general").expect("q"));
        let f = funnel(&log.events, &p);
        assert_eq!(f.entries.len(), 1);
        assert_eq!(f.flows[0].outcome, Outcome::Open);
        p.queue = Some(QueueName::parse("billing").expect("q"));
        assert!(funnel(&log.events, &p).entries.is_empty());
    }

    #[test]
    fn the_latest_step_wins_and_a_resolution_after_the_range_counts() {
        let mut log = Log::new();
        let (a, ca) = (ConversationId::new(), CustomerId::new());
        let web = Channel::Chat;
        log.push(
            H,
            "general",
            web,
            a,
            ca,
            None,
            step(SelfServiceFront::VisualIvr, &["main"], 0, Some("queue")),
        );
        log.push(H, "general", web, a, ca, None, new_offer());
        log.push(
            H + 1,
            "general",
            Channel::Voice,
            a,
            ca,
            None,
            step(SelfServiceFront::VisualIvr, &["main"], 0, Some("callback")),
        );
        log.push(
            20 * H,
            "general",
            Channel::Voice,
            a,
            ca,
            Some("bea"),
            ReportKind::Resolved {
                first_contact: true,
            },
        );
        let f = funnel(&log.events, &fparams(0, 10 * H));
        assert_eq!(
            lines(&f.flows),
            ["chat/visual_ivr main callback - resolved_first_contact x1"]
        );
        assert_eq!(f.entries[0].handoff_reasons.len(), 1);
    }
}
