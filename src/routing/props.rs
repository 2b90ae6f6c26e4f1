//! Property tests of `QueueRouter` against a brute-force oracle.
//!
//! Owns only tests; must not be relied on by non-test code. Random operation sequences
//! are applied to a router and after every step:
//! - `debug_check_invariants` holds (never waiting and offered at once; the class
//!   indexes hold exactly the agents with `available && free > 0`, under their keys);
//! - every `decide` returns exactly what a naive scan of all conversations and all
//!   agents returns (so the conversation is the best-ranked placeable one and the
//!   agent is the strategy's first eligible one), and the agent was available, had a
//!   free slot of the class, was not in `tried`, and was the required agent if any;
//! - `best_for` / `take_for` agree with a naive eligibility scan;
//! - `waiting()` is in routing order; `position`, `oldest_enqueued_at` and
//!   `waiting_older_than` agree with naive scans.
//!
//! A second property drives enough decide / accept rounds with enough agents and
//! checks that every enqueued conversation is decided exactly once.

use super::*;
use crate::domain::{AgentId, ChannelClass, ConversationId, Millis, RoutingStrategy};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

const AGENTS: usize = 6;
const CONVS: usize = 24;

fn aid(i: usize) -> AgentId {
    AgentId::parse(&format!("agent-{i}")).unwrap()
}

fn cid(i: usize) -> ConversationId {
    ConversationId(Uuid::from_u128(i as u128 + 1))
}

fn strategy(i: u8) -> RoutingStrategy {
    match i % 3 {
        0 => RoutingStrategy::LongestIdle,
        1 => RoutingStrategy::LeastOccupied,
        _ => RoutingStrategy::RoundRobin,
    }
}

#[derive(Debug, Clone)]
enum Op {
    Upsert {
        agent: usize,
        available: bool,
        free: [u16; 4],
        idle: i64,
        occ: u32,
    },
    RemoveAgent(usize),
    Enqueue(WaitingEntry),
    /// Remove, then requeue the same entry (the disconnect path).
    Bounce(usize),
    Remove(usize),
    Decide(i64),
    Close {
        conv: usize,
        accepted: bool,
    },
    BestFor {
        agent: usize,
        now: i64,
    },
    TakeFor {
        conv: usize,
        agent: usize,
        now: i64,
    },
    SetStrategy(u8),
}

fn entry_strategy() -> impl Strategy<Value = WaitingEntry> {
    (
        0..CONVS,
        0..4usize,
        0..3i32,
        0..40i64,
        0..4u64,
        proptest::option::weighted(0.3, 0..AGENTS),
        0..120i64,
        proptest::option::weighted(0.1, 0..AGENTS),
        proptest::collection::btree_set(0..AGENTS, 0..3),
    )
        .prop_map(
            |(c, class, priority, at, seq, pref, sticky, req, tried)| WaitingEntry {
                conversation: cid(c),
                class: ChannelClass::ALL[class],
                priority,
                enqueued_at: Millis(at),
                seq,
                preferred_agent: pref.map(aid),
                sticky_until: Millis(sticky),
                required_agent: req.map(aid),
                tried: tried.into_iter().map(aid).collect(),
            },
        )
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..AGENTS, proptest::bool::weighted(0.85), [0..2u16, 0..3u16, 0..2u16, 0..2u16], 0..30i64, 0..4u32)
            .prop_map(|(agent, available, free, idle, occ)| Op::Upsert { agent, available, free, idle, occ: occ * 250 }),
        1 => (0..AGENTS).prop_map(Op::RemoveAgent),
        5 => entry_strategy().prop_map(Op::Enqueue),
        1 => (0..CONVS).prop_map(Op::Bounce),
        1 => (0..CONVS).prop_map(Op::Remove),
        6 => (0..150i64).prop_map(Op::Decide),
        3 => (0..CONVS, proptest::bool::ANY).prop_map(|(conv, accepted)| Op::Close { conv, accepted }),
        2 => (0..AGENTS, 0..150i64).prop_map(|(agent, now)| Op::BestFor { agent, now }),
        2 => (0..CONVS, 0..AGENTS, 0..150i64).prop_map(|(conv, agent, now)| Op::TakeFor { conv, agent, now }),
        1 => (0..3u8).prop_map(Op::SetStrategy),
    ]
}

/// The naive decision: scan every waiting conversation in rank order and every agent.
fn oracle_decide(r: &QueueRouter, now: Millis) -> Option<(ConversationId, AgentId)> {
    let mut convs: Vec<&WaitingEntry> = r.waiting().collect();
    convs.sort_by_key(|w| WaitKey::of(w));
    let agents: Vec<&AgentSnapshot> = r.agents().collect();
    for w in convs {
        let free = |id: &AgentId| agents.iter().any(|a| &a.id == id && a.routable(w.class));
        if let Some(req) = &w.required_agent {
            if free(req) && !w.tried.contains(req) {
                return Some((w.conversation, req.clone()));
            }
            continue;
        }
        if let Some(p) = &w.preferred_agent {
            if !w.tried.contains(p) {
                if free(p) {
                    return Some((w.conversation, p.clone()));
                }
                if now < w.sticky_until {
                    continue;
                }
            }
        }
        let best = agents
            .iter()
            .filter(|a| a.routable(w.class) && !w.tried.contains(&a.id))
            .min_by_key(|a| {
                (
                    StrategyKey::of(r.strategy(), a, r.rr_tick(&a.id)),
                    a.id.clone(),
                )
            });
        if let Some(a) = best {
            return Some((w.conversation, a.id.clone()));
        }
    }
    None
}

/// Naive eligibility of `agent` for `w` at `now`.
fn oracle_allows(r: &QueueRouter, w: &WaitingEntry, agent: &AgentId, now: Millis) -> bool {
    let free = r.agents().any(|a| &a.id == agent && a.routable(w.class));
    if !free || w.tried.contains(agent) {
        return false;
    }
    if let Some(req) = &w.required_agent {
        return req == agent;
    }
    match &w.preferred_agent {
        Some(p) if p != agent && !w.tried.contains(p) => now >= w.sticky_until,
        _ => true,
    }
}

fn check_decision(before: &QueueRouter, after: &QueueRouter, d: &Decision) {
    let w = before
        .get(&d.conversation)
        .expect("decided a known conversation");
    assert!(
        before.offered_to(&d.conversation).is_none(),
        "decided an offered conversation"
    );
    let a = before
        .agents()
        .find(|a| a.id == d.agent)
        .expect("known agent");
    assert!(a.available, "unavailable agent chosen");
    assert!(
        a.free[w.class.index()] > 0,
        "agent without a free slot chosen"
    );
    assert!(!w.tried.contains(&d.agent), "tried agent chosen");
    if let Some(req) = &w.required_agent {
        assert_eq!(req, &d.agent, "not the required agent");
    }
    assert_eq!(d.class, w.class);
    assert_eq!(after.offered_to(&d.conversation), Some(&d.agent));
    assert!(after.position(&d.conversation).is_none());
    assert!(d.trace.len() <= TRACE_CAP);
    assert_eq!(d.trace.last().map(|s| s.step), Some("chosen"));
    // The local charge.
    let a2 = after.agents().find(|a| a.id == d.agent).unwrap();
    if w.class == ChannelClass::Voice {
        assert_eq!(a2.free, [0; 4]);
    } else {
        let ci = w.class.index();
        assert_eq!(a2.free[ci], a.free[ci] - 1);
        assert_eq!(a2.free[ChannelClass::Voice.index()], 0);
    }
}

fn apply(r: &mut QueueRouter, op: &Op) {
    match op {
        Op::Upsert {
            agent,
            available,
            free,
            idle,
            occ,
        } => r.upsert_agent(AgentSnapshot {
            id: aid(*agent),
            available: *available,
            free: *free,
            idle_since: Millis(*idle),
            occupancy_permille: *occ,
        }),
        Op::RemoveAgent(a) => r.remove_agent(&aid(*a)),
        Op::Enqueue(w) => {
            let known = r.get(&w.conversation).is_some();
            let full = r.waiting_len() + r.offered_len() >= r.max_waiting();
            let res = r.enqueue(w.clone());
            match res {
                Err(EnqueueError::Duplicate) => assert!(known),
                Err(EnqueueError::Full { max }) => {
                    assert!(!known && full);
                    assert_eq!(max, r.max_waiting());
                }
                Ok(()) => {
                    assert!(!known && !full);
                    assert_eq!(r.get(&w.conversation), Some(w));
                }
            }
        }
        Op::Bounce(c) => {
            if let Some(w) = r.remove(&cid(*c)) {
                let rank_key = WaitKey::of(&w);
                r.requeue(w);
                assert_eq!(r.get(&cid(*c)).map(WaitKey::of), Some(rank_key));
            }
        }
        Op::Remove(c) => {
            let had = r.get(&cid(*c)).cloned();
            assert_eq!(r.remove(&cid(*c)), had);
            assert!(r.get(&cid(*c)).is_none());
        }
        Op::Decide(now) => {
            let now = Millis(*now);
            let expected = oracle_decide(r, now);
            let before = r.clone();
            let got = r.decide(now);
            assert_eq!(
                got.as_ref().map(|d| (d.conversation, d.agent.clone())),
                expected
            );
            if let Some(d) = &got {
                check_decision(&before, r, d);
            }
        }
        Op::Close { conv, accepted } => {
            let c = cid(*conv);
            if let Some(agent) = r.offered_to(&c).cloned() {
                let key = r.get(&c).map(WaitKey::of);
                let out = r.offer_closed(&c, &agent, *accepted);
                if *accepted {
                    assert!(out.is_some() && r.get(&c).is_none());
                } else {
                    assert!(out.is_none());
                    let w = r.get(&c).expect("back in waiting");
                    assert!(w.tried.contains(&agent));
                    assert_eq!(Some(WaitKey::of(w)), key, "original key");
                    assert!(r.offered_to(&c).is_none());
                }
            }
        }
        Op::BestFor { agent, now } => {
            let (agent, now) = (aid(*agent), Millis(*now));
            let expected = r
                .waiting()
                .filter(|w| oracle_allows(r, w, &agent, now))
                .map(WaitKey::of)
                .min()
                .map(|k| k.conversation);
            assert_eq!(r.best_for(&agent, now).map(|p| p.conversation), expected);
        }
        Op::TakeFor { conv, agent, now } => {
            let (c, agent, now) = (cid(*conv), aid(*agent), Millis(*now));
            let eligible =
                r.position(&c).is_some() && oracle_allows(r, r.get(&c).unwrap(), &agent, now);
            let before = r.clone();
            let got = r.take_for(&c, &agent, now);
            assert_eq!(got.is_some(), eligible);
            if let Some(d) = &got {
                assert_eq!((d.conversation, &d.agent), (c, &agent));
                check_decision(&before, r, d);
            }
        }
        Op::SetStrategy(s) => r.set_strategy(strategy(*s)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_operations_keep_invariants_and_match_the_oracle(
        s in 0..3u8,
        max_waiting in 1..30usize,
        ops in proptest::collection::vec(op_strategy(), 1..120),
    ) {
        let mut r = QueueRouter::new(strategy(s), max_waiting);
        for op in &ops {
            apply(&mut r, op);
            r.debug_check_invariants();
            let w: BTreeSet<_> = r.waiting().map(|w| w.conversation).collect();
            prop_assert_eq!(w.len(), r.waiting_len());
            for c in &w {
                prop_assert!(r.offered_to(c).is_none(), "waiting and offered at once");
            }
            // `waiting()` is in routing order.
            let keys: Vec<_> = r.waiting().map(WaitKey::of).collect();
            prop_assert!(keys.windows(2).all(|p| p[0] < p[1]));
            // Positions, ages and overflow views agree with naive scans.
            for w in r.waiting() {
                let rank = r
                    .waiting()
                    .filter(|o| o.class == w.class && WaitKey::of(o) < WaitKey::of(w))
                    .count();
                prop_assert_eq!(r.position(&w.conversation), Some(rank));
            }
            let all: Vec<&WaitingEntry> = (0..CONVS).filter_map(|i| r.get(&cid(i))).collect();
            prop_assert_eq!(r.oldest_enqueued_at(), all.iter().map(|w| w.enqueued_at).min());
            let cutoff = Millis(20);
            let mut old: Vec<&WaitingEntry> = r.waiting().filter(|w| w.enqueued_at <= cutoff).collect();
            old.sort_by_key(|w| (w.enqueued_at, w.seq, w.conversation));
            let old: Vec<ConversationId> = old.iter().map(|w| w.conversation).collect();
            prop_assert_eq!(r.waiting_older_than(cutoff), old);
        }
    }

    #[test]
    fn every_conversation_is_decided_exactly_once(
        s in 0..3u8,
        n_agents in 1..AGENTS,
        convs in proptest::collection::vec(
            (0..4usize, 0..3i32, 0..50i64, proptest::option::weighted(0.3, 0..AGENTS),
             0..200i64, proptest::option::weighted(0.1, 0..AGENTS), proptest::collection::btree_set(0..AGENTS, 0..3)),
            0..60),
    ) {
        let mut r = QueueRouter::new(strategy(s), 1_000);
        let full = |i: usize| AgentSnapshot {
            id: aid(i),
            available: true,
            free: [1, 2, 2, 2],
            idle_since: Millis(i as i64),
            occupancy_permille: 0,
        };
        for i in 0..n_agents {
            r.upsert_agent(full(i));
        }
        let mut expected = BTreeSet::new();
        for (i, (class, priority, at, pref, sticky, req, tried)) in convs.into_iter().enumerate() {
            // Keep every conversation placeable: its required agent exists and is
            // untried, and at least one agent is untried.
            let req = req.map(|a| a % n_agents);
            let tried: BTreeSet<AgentId> = tried
                .into_iter()
                .filter(|a| *a < n_agents && Some(*a) != req && *a != n_agents - 1)
                .map(aid)
                .collect();
            let w = WaitingEntry {
                conversation: cid(i),
                class: ChannelClass::ALL[class],
                priority,
                enqueued_at: Millis(at),
                seq: i as u64,
                preferred_agent: pref.map(aid),
                sticky_until: Millis(sticky),
                required_agent: req.map(aid),
                tried,
            };
            r.enqueue(w).unwrap();
            expected.insert(cid(i));
        }
        let mut decided: BTreeMap<ConversationId, usize> = BTreeMap::new();
        let mut now = 0;
        for _ in 0..10_000 {
            if r.waiting_len() == 0 {
                break;
            }
            match r.decide(Millis(now)) {
                Some(d) => {
                    *decided.entry(d.conversation).or_default() += 1;
                    prop_assert!(r.offer_closed(&d.conversation, &d.agent, true).is_some());
                }
                None => {
                    // Agents finish their work; time moves on (sticky waits end).
                    for i in 0..n_agents {
                        r.upsert_agent(full(i));
                    }
                    now += 10;
                }
            }
            r.debug_check_invariants();
        }
        prop_assert_eq!(r.waiting_len(), 0);
        prop_assert_eq!(r.offered_len(), 0);
        prop_assert_eq!(decided.keys().copied().collect::<BTreeSet<_>>(), expected);
        prop_assert!(decided.values().all(|n| *n == 1));
    }
}
