//! Scripted scenarios checked against figures computed by hand.

use super::*;
use domain::{AgentId, ConversationId, Millis, QueueName};

/// An interval boundary (15 minutes divide it).
const T0: i64 = 1_800_000_000_000;

fn q(s: &str) -> QueueName {
    QueueName::parse(s).unwrap()
}

fn agent(id: &str, queues: &[&str], presence: Presence, connected: bool, work: u16) -> LiveEvent {
    LiveEvent::Agent(AgentReport {
        agent_id: AgentId::parse(id).unwrap(),
        display_name: id.to_uppercase(),
        queues: queues.iter().map(|s| q(s)).collect(),
        presence,
        reason: (presence == Presence::Away).then(|| "lunch".to_owned()),
        connected,
        work,
        slots_used: work,
        slots_total: 3,
        call: None,
    })
}

fn at(ms: i64) -> Millis {
    Millis(T0 + ms)
}

/// |a - b| within HDR histogram precision (3 significant digits).
fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() <= b.abs() * 1e-3 + 1e-9)
}

#[test]
fn a_scripted_interval_matches_hand_computed_figures() {
    let mut s = LiveState::new(LiveConfig::default(), at(0));
    let sales = q("sales");
    s.apply(
        LiveEvent::QueueConfigured {
            queue: sales.clone(),
            display_name: "Sales".into(),
        },
        at(0),
    );
    // 15 arrivals, one a second.
    let convs: Vec<ConversationId> = (0..15).map(|_| ConversationId::new()).collect();
    for (k, c) in convs.iter().enumerate() {
        s.apply(
            LiveEvent::Enqueued {
                queue: sales.clone(),
                conversation: *c,
                enqueued_at: at(k as i64 * 1000),
                arrival: true,
            },
            at(k as i64 * 1000),
        );
    }
    // 10 answered with these waits, 2 abandoned, 3 still waiting (convs 12..15).
    let waits = [
        4_000, 8_000, 12_000, 16_000, 20_000, 24_000, 30_000, 36_000, 45_000, 60_000,
    ];
    for (c, w) in convs.iter().zip(waits) {
        s.apply(
            LiveEvent::Offer {
                queue: sales.clone(),
                outcome: OfferStat::Offered,
            },
            at(100_000),
        );
        s.apply(
            LiveEvent::Offer {
                queue: sales.clone(),
                outcome: OfferStat::Accepted,
            },
            at(100_000),
        );
        s.apply(
            LiveEvent::Answered {
                queue: sales.clone(),
                conversation: *c,
                waited_ms: w,
            },
            at(100_000),
        );
    }
    for (c, w) in convs[10..12].iter().zip([12_000, 70_000]) {
        s.apply(
            LiveEvent::Abandoned {
                queue: sales.clone(),
                conversation: *c,
                waited_ms: w,
            },
            at(110_000),
        );
    }
    for o in [OfferStat::Offered, OfferStat::Rejected] {
        s.apply(
            LiveEvent::Offer {
                queue: sales.clone(),
                outcome: o,
            },
            at(120_000),
        );
    }
    for o in [OfferStat::Offered, OfferStat::TimedOut] {
        s.apply(
            LiveEvent::Offer {
                queue: sales.clone(),
                outcome: o,
            },
            at(120_000),
        );
    }
    // Four of the answered are resolved after 120, 180, 240, 300 s of handling.
    for (c, h) in convs.iter().zip([120_000, 180_000, 240_000, 300_000]) {
        s.apply(
            LiveEvent::Closed {
                queue: sales.clone(),
                conversation: *c,
            },
            at(100_000 + h),
        );
    }
    // Two agents taking work, both full (3 of 3 slots); one away, one disconnected.
    s.apply(
        agent("a1", &["sales"], Presence::Available, true, 3),
        at(500_000),
    );
    s.apply(
        agent("a2", &["sales"], Presence::Available, true, 3),
        at(500_000),
    );
    s.apply(
        agent("a3", &["sales"], Presence::Away, true, 0),
        at(500_000),
    );
    s.apply(
        agent("a4", &["sales"], Presence::Available, false, 0),
        at(500_000),
    );

    let now = at(600_000);
    let v = s.queue_view(&sales, now).unwrap();
    assert_eq!(v.display_name, "Sales");
    assert_eq!(v.waiting, 3);
    // The oldest still waiting arrived at 12 s.
    assert_eq!(v.oldest_enqueued_at, Some(at(12_000)));
    assert_eq!(v.longest_wait_seconds, 588.0);
    let i = &v.interval;
    assert_eq!(i.start, at(0));
    assert_eq!((i.offered, i.answered, i.abandoned), (15, 10, 2));
    // Answered within 20 s: 4, 8, 12, 16, 20 s -> 5 of 12 outcomes.
    assert_eq!(i.answered_within_threshold, 5);
    assert!(close(i.service_level, 5.0 / 12.0), "{:?}", i.service_level);
    // ASA = 255 s / 10.
    assert!(close(i.asa_seconds, 25.5), "{:?}", i.asa_seconds);
    // Nearest rank of 10 sorted waits: p50 = 5th, p90 = 9th, p99 = 10th.
    assert!(close(i.wait_p50_seconds, 20.0), "{:?}", i.wait_p50_seconds);
    assert!(close(i.wait_p90_seconds, 45.0), "{:?}", i.wait_p90_seconds);
    assert!(close(i.wait_p99_seconds, 60.0), "{:?}", i.wait_p99_seconds);
    assert!(close(i.abandonment_rate, 2.0 / 12.0));
    // AHT = (120 + 180 + 240 + 300) / 4.
    assert_eq!(i.handled, 4);
    assert!(close(i.aht_seconds, 210.0));
    assert_eq!(
        v.agents,
        AgentCounts {
            available: 0,
            busy: 2,
            away: 1,
            offline: 1
        }
    );
    assert_eq!((v.slots_in_use, v.slots_available), (6, 0));
    assert!(close(v.occupancy, 1.0));
    // EWT = (waiting 3 - free 0 + 1) x AHT 210 s / 6 staffed slots = 140 s.
    assert!(close(v.ewt_seconds, 140.0), "{:?}", v.ewt_seconds);
    assert_eq!(
        v.offers,
        OfferCounts {
            offered: 12,
            accepted: 10,
            rejected: 1,
            timed_out: 1,
            rescinded: 0
        }
    );

    // A free slot for each waiting conversation and one more: no wait for a newcomer.
    s.apply(agent("a1", &["sales"], Presence::Available, true, 0), now);
    s.apply(agent("a2", &["sales"], Presence::Available, true, 2), now);
    let v = s.queue_view(&sales, now).unwrap();
    assert_eq!((v.slots_in_use, v.slots_available), (2, 4));
    assert_eq!(v.ewt_seconds, Some(0.0));
    assert_eq!(v.agents.available, 1);
    assert_eq!(v.agents.busy, 1);

    // The next interval starts empty; offers older than 15 minutes fall out.
    let later = at(15 * 60_000 + 121_000);
    let changed = s.tick(later);
    assert!(changed.all_queues);
    let v = s.queue_view(&sales, later).unwrap();
    assert_eq!(v.interval.start, at(15 * 60_000));
    assert_eq!((v.interval.offered, v.interval.answered), (0, 0));
    assert_eq!(v.interval.service_level, None);
    assert_eq!(v.interval.asa_seconds, None);
    assert_eq!(v.interval.wait_p90_seconds, None);
    assert_eq!(v.offers, OfferCounts::default());
    // Still waiting: live state is not interval state.
    assert_eq!(v.waiting, 3);
}

#[test]
fn requeues_and_removals_are_not_arrivals_or_outcomes() {
    let mut s = LiveState::new(LiveConfig::default(), at(0));
    let sales = q("sales");
    let c = ConversationId::new();
    let enq = |arrival| LiveEvent::Enqueued {
        queue: sales.clone(),
        conversation: c,
        enqueued_at: at(0),
        arrival,
    };
    s.apply(enq(true), at(0));
    // A duplicate enqueue changes nothing.
    s.apply(enq(true), at(1));
    s.apply(
        LiveEvent::Removed {
            queue: sales.clone(),
            conversation: c,
        },
        at(2),
    );
    s.apply(enq(false), at(3));
    let v = s.queue_view(&sales, at(10_000)).unwrap();
    assert_eq!(v.waiting, 1);
    assert_eq!(v.interval.offered, 1);
    assert_eq!(v.interval.answered + v.interval.abandoned, 0);
    assert_eq!(v.longest_wait_seconds, 10.0);
    // With nobody staffed and no handle time, the EWT is unknown.
    assert_eq!(v.ewt_seconds, None);
}

#[test]
fn agent_states_follow_reports_and_moves() {
    let mut s = LiveState::new(LiveConfig::default(), at(0));
    let a1 = AgentId::parse("a1").unwrap();
    s.apply(agent("a1", &["sales"], Presence::Available, true, 0), at(0));
    assert_eq!(s.agent_view(&a1).unwrap().state, AgentState::Available);
    s.apply(agent("a1", &["sales"], Presence::Available, true, 1), at(5));
    let v = s.agent_view(&a1).unwrap();
    assert_eq!((v.state, v.since), (AgentState::Busy, at(5)));
    // Same state again: `since` stays.
    s.apply(agent("a1", &["sales"], Presence::Available, true, 2), at(9));
    assert_eq!(s.agent_view(&a1).unwrap().since, at(5));
    let away = s.apply(agent("a1", &["sales"], Presence::Away, true, 0), at(10));
    let v = s.agent_view(&a1).unwrap();
    assert_eq!(
        (v.state, v.reason.as_deref()),
        (AgentState::Away, Some("lunch"))
    );
    assert!(away.agents.contains(&a1) && away.queues.contains(&q("sales")));
    // Moved to another queue: both queues change; the filter follows.
    let moved = s.apply(agent("a1", &["support"], Presence::Away, true, 0), at(11));
    assert!(moved.queues.contains(&q("sales")) && moved.queues.contains(&q("support")));
    let sales_only: std::collections::BTreeSet<_> = [q("sales")].into();
    assert!(s.agents_in(Some(&sales_only)).is_empty());
    assert_eq!(s.queue_view(&q("sales"), at(11)).unwrap().agents.away, 0);
    assert_eq!(s.queue_view(&q("support"), at(11)).unwrap().agents.away, 1);
    s.apply(
        LiveEvent::AgentGone {
            agent_id: a1.clone(),
        },
        at(20),
    );
    let v = s.agent_view(&a1).unwrap();
    assert_eq!(
        (v.state, v.since, v.reason),
        (AgentState::Offline, at(20), None)
    );
}

#[test]
fn service_level_counts_the_threshold_itself_as_within() {
    let config = LiveConfig {
        sl_threshold_ms: 10_000,
        ..LiveConfig::default()
    };
    let mut s = LiveState::new(config, at(0));
    let sales = q("sales");
    for w in [10_000, 10_001] {
        s.apply(
            LiveEvent::Answered {
                queue: sales.clone(),
                conversation: ConversationId::new(),
                waited_ms: w,
            },
            at(20_000),
        );
    }
    let v = s.queue_view(&sales, at(20_000)).unwrap();
    assert_eq!(v.interval.answered_within_threshold, 1);
    assert_eq!(v.interval.service_level, Some(0.5));
    assert_eq!(v.interval.sl_threshold_seconds, 10.0);
}

#[test]
fn a_queue_counts_the_calls_on_its_conversations_by_phase() {
    let mut s = LiveState::new(LiveConfig::default(), at(0));
    let on_call = |id: &str, queue: &str, phase: CallPhase| {
        let LiveEvent::Agent(mut r) =
            agent(id, &["sales", "support"], Presence::Available, true, 1)
        else {
            unreachable!()
        };
        r.call = Some(AgentCallView {
            conversation_id: ConversationId::new(),
            media: domain::CallMedia::Audio,
            phase,
            since: at(0),
            phone: true,
            queue: Some(q(queue)),
        });
        LiveEvent::Agent(r)
    };
    s.apply(on_call("a1", "sales", CallPhase::Talking), at(1));
    s.apply(on_call("a2", "sales", CallPhase::OnHold), at(2));
    s.apply(on_call("a3", "support", CallPhase::WrapUp), at(3));
    let sales = s.queue_view(&q("sales"), at(4)).unwrap().calls;
    assert_eq!(
        (sales.ringing, sales.talking, sales.on_hold, sales.wrap_up),
        (0, 1, 1, 0)
    );
    assert_eq!(s.queue_view(&q("support"), at(4)).unwrap().calls.wrap_up, 1);
    // a2's call ends: sales counts it no more.
    s.apply(
        agent("a2", &["sales", "support"], Presence::Available, true, 0),
        at(5),
    );
    assert_eq!(s.queue_view(&q("sales"), at(6)).unwrap().calls.on_hold, 0);
    // An agent of support only, on a call of a sales conversation (handed to them by
    // name): sales changes with that call, as it starts and as it ends.
    let LiveEvent::Agent(mut r) = agent("a4", &["support"], Presence::Available, true, 1) else {
        unreachable!()
    };
    let LiveEvent::Agent(with_call) = on_call("a4", "sales", CallPhase::Talking) else {
        unreachable!()
    };
    r.call = with_call.call;
    let started = s.apply(LiveEvent::Agent(r), at(7));
    assert!(started.queues.contains(&q("sales")));
    assert_eq!(s.queue_view(&q("sales"), at(7)).unwrap().calls.talking, 2);
    let ended = s.apply(
        agent("a4", &["support"], Presence::Available, true, 0),
        at(8),
    );
    assert!(ended.queues.contains(&q("sales")));
    assert_eq!(s.queue_view(&q("sales"), at(8)).unwrap().calls.talking, 1);
}
