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
//!
//! A third one runs the router inside a model of the whole offer lifecycle, with agents
//! that arbitrate their own capacity the way `AgentActor` does (a reservation counts
//! against capacity; snapshots are published after every change), customers that
//! abandon, offers that are accepted, rejected, timed out or rescinded when a socket
//! drops, and agents that finish work. After every step: no agent holds or is offered
//! more than its capacity allows (voice exclusive), no conversation is assigned twice,
//! and every conversation is in exactly one of waiting / offered / answered /
//! abandoned, in agreement with the router. Finally every agent comes back and works
//! the queue down: every conversation ends answered or abandoned.

use super::widening::{Ranking, Rings};
use super::*;
use domain::{
    meets, AgentId, ChannelClass, ConversationId, Millis, Proficiency, RoutingStrategy, Skill,
    SkillFloors, WideningStep,
};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use strum::IntoEnumIterator;
use uuid::Uuid;

const AGENTS: usize = 6;
const CONVS: usize = 24;

fn aid(i: usize) -> AgentId {
    AgentId::parse(&format!("agent-{i}")).unwrap()
}

fn cid(i: usize) -> ConversationId {
    ConversationId(Uuid::from_u128(i as u128 + 1))
}

/// Cases per property test: `default` (what CI runs), or `PROPTEST_CASES` for a longer
/// session (docs/testing.md); an explicit count in a test's config would otherwise
/// override proptest's own reading of that variable.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The `i`-th of every routing strategy: the properties below draw `i` from
/// `0..STRATEGIES`, so a new strategy is covered without touching this file.
fn strategy(i: u8) -> RoutingStrategy {
    RoutingStrategy::iter()
        .nth(usize::from(i) % RoutingStrategy::iter().len())
        .expect("at least one strategy")
}

/// How many strategies there are (the range the properties draw from).
fn strategies() -> u8 {
    u8::try_from(RoutingStrategy::iter().len()).expect("fewer than 256 strategies")
}

#[derive(Debug, Clone)]
enum Op {
    Upsert {
        agent: usize,
        available: bool,
        free: [u16; 4],
        idle: i64,
        occ: u32,
        skills: Vec<(usize, u8)>,
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
    /// One of [`rings`]'s configurations, ranking on or off, the weight of skill 0, novices
    /// first or not.
    SetRules(usize, bool, u8, bool),
    WidenDue(i64),
}

/// Skills the properties draw from.
const SKILLS: usize = 4;

/// `s0`, `s1`, `s2`, and the last one is `difficulty` (novice routing).
fn skill(i: usize) -> Skill {
    if i == SKILLS - 1 {
        return Skill::parse("difficulty").unwrap();
    }
    Skill::parse(&format!("s{i}")).unwrap()
}

fn floors(v: &[(usize, u8)]) -> SkillFloors {
    v.iter()
        .map(|(s, p)| (skill(*s), Proficiency::new(*p).unwrap()))
        .collect()
}

/// Widening configurations: none; one floor; floor, drop, drop all.
fn rings(i: usize) -> Rings {
    let step = |after_ms, floor: Option<u8>, drop: &[usize], all| WideningStep {
        after_ms,
        floor: floor.map(|p| Proficiency::new(p).unwrap()),
        drop_skills: drop.iter().map(|i| skill(*i)).collect(),
        drop_all_skills: all,
    };
    let steps = match i % 3 {
        0 => vec![],
        1 => vec![step(20, Some(2), &[], false)],
        _ => vec![
            step(10, Some(3), &[], false),
            step(30, None, &[0], false),
            step(60, None, &[], true),
        ],
    };
    Rings::compile(&steps, None).unwrap()
}

/// What `w` requires at `now` (None: nothing of its own).
fn floors_now(r: &QueueRouter, w: &WaitingEntry, now: Millis) -> Option<SkillFloors> {
    if w.requirements.is_empty() {
        return None;
    }
    let waited = (now.0 - w.enqueued_at.0).max(0) as u64;
    Some(r.rings().relax(&w.requirements, r.rings().ring_at(waited)))
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
        proptest::collection::vec((0..SKILLS, 1..=5u8), 0..3),
    )
        .prop_map(
            |(c, class, priority, at, seq, pref, sticky, req, tried, needs)| WaitingEntry {
                conversation: cid(c),
                class: ChannelClass::ALL[class],
                priority,
                enqueued_at: Millis(at),
                seq,
                preferred_agent: pref.map(aid),
                sticky_until: Millis(sticky),
                required_agent: req.map(aid),
                tried: tried.into_iter().map(aid).collect(),
                requirements: floors(&needs),
            },
        )
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..AGENTS, proptest::bool::weighted(0.85), [0..2u16, 0..3u16, 0..2u16, 0..2u16], 0..30i64, 0..4u32,
              proptest::collection::vec((0..SKILLS, 1..=5u8), 0..4))
            .prop_map(|(agent, available, free, idle, occ, skills)| Op::Upsert { agent, available, free, idle, occ: occ * 250, skills }),
        1 => (0..AGENTS).prop_map(Op::RemoveAgent),
        5 => entry_strategy().prop_map(Op::Enqueue),
        1 => (0..CONVS).prop_map(Op::Bounce),
        1 => (0..CONVS).prop_map(Op::Remove),
        6 => (0..150i64).prop_map(Op::Decide),
        3 => (0..CONVS, proptest::bool::ANY).prop_map(|(conv, accepted)| Op::Close { conv, accepted }),
        2 => (0..AGENTS, 0..150i64).prop_map(|(agent, now)| Op::BestFor { agent, now }),
        2 => (0..CONVS, 0..AGENTS, 0..150i64).prop_map(|(conv, agent, now)| Op::TakeFor { conv, agent, now }),
        1 => (0..strategies()).prop_map(Op::SetStrategy),
        1 => (0..3usize, proptest::bool::weighted(0.8), 0..4u8, proptest::bool::weighted(0.7))
            .prop_map(|(i, on, w, novices)| Op::SetRules(i, on, w, novices)),
        1 => (0..150i64).prop_map(Op::WidenDue),
    ]
}

/// The naive decision: scan every waiting conversation in rank order and every agent.
fn oracle_decide(r: &QueueRouter, now: Millis) -> Option<(ConversationId, AgentId)> {
    let mut convs: Vec<&WaitingEntry> = r.waiting().collect();
    convs.sort_by_key(|w| WaitKey::of(w));
    let agents: Vec<&AgentSnapshot> = r.agents().collect();
    for w in convs {
        let free = |id: &AgentId| agents.iter().any(|a| &a.id == id && a.routable(w.class));
        let need = floors_now(r, w, now);
        let fits = |a: &AgentSnapshot| need.as_ref().is_none_or(|f| meets(&a.skills, f));
        if let Some(req) = &w.required_agent {
            if free(req) && !w.tried.contains(req) {
                return Some((w.conversation, req.clone()));
            }
            continue;
        }
        if let Some(p) = &w.preferred_agent {
            let unfit = agents.iter().any(|a| &a.id == p && !fits(a));
            if !w.tried.contains(p) && !unfit {
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
            .filter(|a| a.routable(w.class) && !w.tried.contains(&a.id) && fits(a))
            .min_by_key(|a| {
                (
                    std::cmp::Reverse(oracle_score(r.ranking(), &w.requirements, &a.skills)),
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

/// The ranking score, computed here rather than by the code under test: with novices
/// first and a `difficulty` needed, the fit (10 at the same difficulty, one less per
/// step above, the agent's own difficulty below it; an agent without one is a 5) ×
/// 10,000; plus, with ranking on, Σ weight (1 unless set) × the agent's proficiency
/// over the other skills the conversation needs.
fn oracle_score(ranking: &Ranking, need: &SkillFloors, have: &SkillFloors) -> u32 {
    let held = |s: &Skill| match have.get(s) {
        Some(p) => u32::from(p.get()),
        None if s.as_str() == "difficulty" => 5,
        None => 0,
    };
    let contact = need
        .iter()
        .find(|(s, _)| s.as_str() == "difficulty")
        .map(|(_, p)| u32::from(p.get()))
        .filter(|_| ranking.novices_first);
    let fit = contact.map_or(0, |c| {
        let own = held(&Skill::parse("difficulty").unwrap());
        (if own >= c { 10 - (own - c) } else { own }) * 10_000
    });
    if !ranking.by_proficiency {
        return fit;
    }
    fit + need
        .keys()
        .filter(|s| contact.is_none() || s.as_str() != "difficulty")
        .map(|s| u32::from(ranking.weights.get(s).copied().unwrap_or(1)) * held(s))
        .sum::<u32>()
}

/// Naive eligibility of `agent` for `w` at `now`.
fn oracle_allows(r: &QueueRouter, w: &WaitingEntry, agent: &AgentId, now: Millis) -> bool {
    let need = floors_now(r, w, now).filter(|_| w.required_agent.is_none());
    let free = r.agents().any(|a| {
        &a.id == agent && a.routable(w.class) && need.as_ref().is_none_or(|f| meets(&a.skills, f))
    });
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
            skills,
        } => r.upsert_agent(AgentSnapshot {
            id: aid(*agent),
            available: *available,
            free: *free,
            idle_since: Millis(*idle),
            occupancy_permille: *occ,
            skills: floors(skills),
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
                // Never an agent short of the conversation's skills in its ring (a
                // transfer goes to its named agent whatever the skills).
                let w = before.get(&d.conversation).unwrap();
                let f = floors_now(&before, w, now).filter(|_| w.required_agent.is_none());
                if let Some(f) = f {
                    let a = before.agents().find(|a| a.id == d.agent).unwrap();
                    assert!(meets(&a.skills, &f), "{} lacks {f:?}", d.agent);
                }
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
        Op::SetRules(i, on, w, novices) => {
            let mut ranking = Ranking {
                by_proficiency: *on,
                novices_first: *novices,
                ..Ranking::default()
            };
            ranking.weights.insert(skill(0), *w);
            r.set_rules(rings(*i), ranking);
        }
        Op::WidenDue(now) => {
            let now = Millis(*now);
            for wd in r.widen_due(now) {
                let w = r
                    .get(&wd.conversation)
                    .expect("widened a waiting conversation");
                let waited = (now.0 - w.enqueued_at.0).max(0) as u64;
                assert!(wd.ring >= 1 && wd.ring <= r.rings().ring_at(waited));
                let relaxed = r.rings().relax(&w.requirements, wd.ring);
                assert_eq!(wd.requires, super::widening::describe(&relaxed));
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(256), ..ProptestConfig::default() })]

    #[test]
    fn random_operations_keep_invariants_and_match_the_oracle(
        s in 0..strategies(),
        max_waiting in 1..30usize,
        needs_max in prop_oneof![0..4usize, Just(NEEDS_MAX)],
        ops in proptest::collection::vec(op_strategy(), 1..120),
    ) {
        let mut r = QueueRouter::new(strategy(s), max_waiting);
        r.set_needs_max(needs_max);
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
        s in 0..strategies(),
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
            skills: Default::default(),
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
                requirements: Default::default(),
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

// ------------------------------------------------------------------ offer lifecycle

use domain::Capacity;
use std::collections::BTreeMap as Map;

/// Where a conversation is in the lifecycle model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Life {
    Waiting,
    Offered(usize),
    Answered(usize),
    Done,
    Abandoned,
}

/// An agent as `AgentActor` keeps it: its own capacity arbitration.
#[derive(Debug, Clone)]
struct ModelAgent {
    capacity: Capacity,
    connected: bool,
    held: BTreeSet<usize>,
    offers: BTreeSet<usize>,
}

#[derive(Debug, Clone)]
enum LifeOp {
    Arrive { class: usize, priority: i32 },
    Decide,
    Accept(usize),
    Reject(usize),
    Finish(usize),
    Abandon(usize),
    Drop(usize),
    Back(usize),
}

fn life_op() -> impl Strategy<Value = LifeOp> {
    prop_oneof![
        4 => (0..4usize, 0..3i32).prop_map(|(class, priority)| LifeOp::Arrive { class, priority }),
        6 => Just(LifeOp::Decide),
        3 => (0..64usize).prop_map(LifeOp::Accept),
        2 => (0..64usize).prop_map(LifeOp::Reject),
        2 => (0..64usize).prop_map(LifeOp::Finish),
        1 => (0..64usize).prop_map(LifeOp::Abandon),
        1 => (0..AGENTS).prop_map(LifeOp::Drop),
        1 => (0..AGENTS).prop_map(LifeOp::Back),
    ]
}

struct Lifecycle {
    router: QueueRouter,
    agents: Vec<ModelAgent>,
    convs: Vec<(ChannelClass, Life)>,
    /// Times each conversation was assigned (accepted); must never exceed 1.
    assigned: Map<usize, u32>,
    now: i64,
}

impl Lifecycle {
    fn counts(&self, a: usize) -> [u16; 4] {
        let mut c = [0u16; 4];
        let ag = &self.agents[a];
        for i in ag.held.iter().chain(ag.offers.iter()) {
            c[self.convs[*i].0.index()] += 1;
        }
        c
    }

    /// The agent publishes its snapshot (as `AgentActor::publish`).
    fn publish(&mut self, a: usize) {
        let counts = self.counts(a);
        let ag = &self.agents[a];
        let mut free = [0u16; 4];
        for class in ChannelClass::ALL {
            free[class.index()] = ag.capacity.free(class, &counts);
        }
        self.router.upsert_agent(AgentSnapshot {
            id: aid(a),
            available: ag.connected,
            free,
            idle_since: Millis(a as i64),
            occupancy_permille: 0,
            skills: Default::default(),
        });
    }

    fn offer_back(&mut self, i: usize, a: usize) {
        self.agents[a].offers.remove(&i);
        assert!(self.router.offer_closed(&cid(i), &aid(a), false).is_none());
        self.convs[i].1 = Life::Waiting;
    }

    fn nth_where(&self, n: usize, f: impl Fn(Life) -> bool) -> Option<usize> {
        let v: Vec<usize> = (0..self.convs.len())
            .filter(|i| f(self.convs[*i].1))
            .collect();
        (!v.is_empty()).then(|| v[n % v.len()])
    }

    fn apply(&mut self, op: &LifeOp) {
        match op {
            LifeOp::Arrive { class, priority } => {
                let i = self.convs.len();
                let class = ChannelClass::ALL[*class];
                self.now += 1;
                self.router
                    .enqueue(WaitingEntry {
                        conversation: cid(i),
                        class,
                        priority: *priority,
                        enqueued_at: Millis(self.now),
                        seq: i as u64,
                        preferred_agent: None,
                        sticky_until: Millis(0),
                        required_agent: None,
                        tried: BTreeSet::new(),
                        requirements: Default::default(),
                    })
                    .expect("room");
                self.convs.push((class, Life::Waiting));
            }
            LifeOp::Decide => {
                while let Some(d) = self.router.decide(Millis(self.now)) {
                    let i = self
                        .convs
                        .iter()
                        .enumerate()
                        .position(|(k, _)| cid(k) == d.conversation)
                        .expect("known conversation");
                    let a = (0..AGENTS)
                        .find(|a| aid(*a) == d.agent)
                        .expect("known agent");
                    assert_eq!(
                        self.convs[i].1,
                        Life::Waiting,
                        "only waiting ones are decided"
                    );
                    // The agent is the arbiter: it reserves only a free slot. With
                    // snapshots published after every change the router never asks for
                    // one that is not free.
                    let counts = self.counts(a);
                    assert!(
                        self.agents[a].connected
                            && self.agents[a].capacity.free(d.class, &counts) > 0,
                        "decided for agent {a} without a free {:?} slot",
                        d.class
                    );
                    self.agents[a].offers.insert(i);
                    self.convs[i].1 = Life::Offered(a);
                    self.publish(a);
                }
            }
            LifeOp::Accept(n) => {
                if let Some(i) = self.nth_where(*n, |l| matches!(l, Life::Offered(_))) {
                    let Life::Offered(a) = self.convs[i].1 else {
                        unreachable!()
                    };
                    let out = self.router.offer_closed(&cid(i), &aid(a), true);
                    assert!(out.is_some(), "an offered conversation can be accepted");
                    self.agents[a].offers.remove(&i);
                    self.agents[a].held.insert(i);
                    self.convs[i].1 = Life::Answered(a);
                    *self.assigned.entry(i).or_default() += 1;
                    self.publish(a);
                }
            }
            LifeOp::Reject(n) => {
                if let Some(i) = self.nth_where(*n, |l| matches!(l, Life::Offered(_))) {
                    let Life::Offered(a) = self.convs[i].1 else {
                        unreachable!()
                    };
                    self.offer_back(i, a);
                    self.publish(a);
                }
            }
            LifeOp::Finish(n) => {
                if let Some(i) = self.nth_where(*n, |l| matches!(l, Life::Answered(_))) {
                    let Life::Answered(a) = self.convs[i].1 else {
                        unreachable!()
                    };
                    self.agents[a].held.remove(&i);
                    self.convs[i].1 = Life::Done;
                    self.publish(a);
                }
            }
            LifeOp::Abandon(n) => {
                if let Some(i) =
                    self.nth_where(*n, |l| matches!(l, Life::Waiting | Life::Offered(_)))
                {
                    // The customer leaves: the queue drops it and rescinds any offer.
                    assert!(self.router.remove(&cid(i)).is_some());
                    if let Life::Offered(a) = self.convs[i].1 {
                        self.agents[a].offers.remove(&i);
                        self.publish(a);
                    }
                    self.convs[i].1 = Life::Abandoned;
                }
            }
            LifeOp::Drop(a) => {
                // The last socket closes: pending offers are rescinded at once; held
                // conversations stay for the grace period.
                self.agents[*a].connected = false;
                let offers: Vec<usize> = self.agents[*a].offers.iter().copied().collect();
                for i in offers {
                    self.offer_back(i, *a);
                }
                self.publish(*a);
            }
            LifeOp::Back(a) => {
                if !self.agents[*a].connected {
                    self.agents[*a].connected = true;
                    self.router.forget_tried(&aid(*a));
                }
                self.publish(*a);
            }
        }
    }

    /// Offers are accepted and work finished until nothing is offered or held and
    /// nothing more is decided.
    fn drain(&mut self) {
        for _ in 0..10_000 {
            self.apply(&LifeOp::Decide);
            let working = self
                .convs
                .iter()
                .any(|(_, l)| matches!(l, Life::Answered(_)));
            if self.router.offered_len() == 0 && !working {
                break;
            }
            self.apply(&LifeOp::Accept(0));
            self.apply(&LifeOp::Finish(0));
            self.check();
        }
        self.check();
    }

    fn check(&self) {
        self.router.debug_check_invariants();
        for (a, ag) in self.agents.iter().enumerate() {
            let counts = self.counts(a);
            for class in ChannelClass::ALL {
                assert!(
                    counts[class.index()] <= ag.capacity.of(class),
                    "agent {a} over capacity: {counts:?}"
                );
            }
            let voice = counts[ChannelClass::Voice.index()];
            assert!(
                voice == 0 || counts.iter().sum::<u16>() == voice,
                "voice is exclusive: {counts:?}"
            );
        }
        assert!(self.assigned.values().all(|n| *n == 1), "assigned twice");
        for (i, (_, life)) in self.convs.iter().enumerate() {
            let c = cid(i);
            match life {
                Life::Waiting => {
                    assert!(
                        self.router.position(&c).is_some() && self.router.offered_to(&c).is_none()
                    )
                }
                Life::Offered(a) => {
                    assert_eq!(self.router.offered_to(&c), Some(&aid(*a)));
                    assert!(self.agents[*a].offers.contains(&i));
                }
                Life::Answered(_) | Life::Done | Life::Abandoned => {
                    assert!(self.router.get(&c).is_none(), "left the router")
                }
            }
        }
        assert_eq!(
            self.router.waiting_len() + self.router.offered_len(),
            self.convs
                .iter()
                .filter(|(_, l)| matches!(l, Life::Waiting | Life::Offered(_)))
                .count()
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(128), ..ProptestConfig::default() })]

    #[test]
    fn offer_lifecycle_never_exceeds_capacity_and_ends_answered_or_abandoned(
        s in 0..strategies(),
        caps in proptest::collection::vec((0..2u16, 0..3u16, 0..3u16, 0..3u16), AGENTS),
        ops in proptest::collection::vec(life_op(), 1..150),
    ) {
        let mut m = Lifecycle {
            router: QueueRouter::new(strategy(s), 10_000),
            agents: caps
                .iter()
                .map(|(v, c, e, g)| ModelAgent {
                    capacity: Capacity { voice: *v, chat: *c, email: *e, messaging: *g },
                    connected: true,
                    held: BTreeSet::new(),
                    offers: BTreeSet::new(),
                })
                .collect(),
            convs: Vec::new(),
            assigned: Map::new(),
            now: 0,
        };
        // One agent can take every class, so the queue can always be worked down.
        m.agents[0].capacity = Capacity { voice: 1, chat: 2, email: 2, messaging: 2 };
        for a in 0..AGENTS {
            m.publish(a);
        }
        for op in &ops {
            m.apply(op);
            m.check();
        }
        // Everyone connects and works until nothing is placeable: what still waits
        // was passed on by every agent able to take it (it waits for one to come back).
        for a in 0..AGENTS {
            m.apply(&LifeOp::Back(a));
        }
        m.drain();
        prop_assert!(m.router.decide(Millis(m.now)).is_none(), "placeable work left");
        prop_assert_eq!(m.router.offered_len(), 0);
        // Agents step away and come back (which forgets what they passed on): then the
        // queue is worked down completely.
        for a in 0..AGENTS {
            m.apply(&LifeOp::Drop(a));
            m.apply(&LifeOp::Back(a));
        }
        m.drain();
        for (i, (_, life)) in m.convs.iter().enumerate() {
            prop_assert!(
                matches!(life, Life::Answered(_) | Life::Done | Life::Abandoned),
                "conversation {} ended {:?}", i, life
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(512), ..ProptestConfig::default() })]

    /// Widening is monotone: whatever the (valid) steps, each ring requires a subset of
    /// the skills of the ring before, at floors no higher, so an agent eligible in ring
    /// k is eligible in ring k + 1; and the ring of a wait never goes back as it grows.
    #[test]
    fn widening_only_ever_widens(
        base in proptest::collection::vec((0..SKILLS, 1..=5u8), 0..4),
        steps in proptest::collection::vec(
            (1..50u64, proptest::option::of(1..=5u8), proptest::collection::btree_set(0..SKILLS, 0..2), proptest::bool::weighted(0.15)),
            0..5,
        ),
        agents in proptest::collection::vec(proptest::collection::vec((0..SKILLS, 1..=5u8), 0..4), 1..6),
    ) {
        // Valid by construction: floors only fall, a skill is dropped once, nothing
        // after dropping them all, and every step relaxes something.
        let (mut at, mut floor_now, mut all) = (0, 6u8, false);
        let mut dropped = BTreeSet::new();
        let mut valid: Vec<WideningStep> = Vec::new();
        for (gap, floor, drop, drop_all) in steps {
            if all {
                break;
            }
            at += gap;
            let floor = floor.filter(|f| *f < floor_now);
            let drop: Vec<usize> = drop.into_iter().filter(|d| dropped.insert(*d)).collect();
            if floor.is_none() && drop.is_empty() && !drop_all {
                continue;
            }
            floor_now = floor.unwrap_or(floor_now);
            all = drop_all;
            valid.push(WideningStep {
                after_ms: at,
                floor: floor.map(|p| Proficiency::new(p).unwrap()),
                drop_skills: drop.into_iter().map(skill).collect(),
                drop_all_skills: drop_all,
            });
        }
        let rings = Rings::compile(&valid, None).expect("valid steps compile");
        let base = floors(&base);
        for k in 0..rings.steps() {
            let (now, next) = (rings.relax(&base, k), rings.relax(&base, k + 1));
            for (s, p) in &next {
                prop_assert!(now.get(s).is_some_and(|q| p <= q), "ring {} requires {s:?} more", k + 1);
            }
            for a in &agents {
                let a = floors(a);
                prop_assert!(!meets(&a, &now) || meets(&a, &next), "eligible in ring {k}, not {}", k + 1);
            }
        }
        let mut last = 0;
        for waited in 0..=at + 1 {
            let ring = rings.ring_at(waited);
            prop_assert!(ring >= last);
            last = ring;
        }
        prop_assert_eq!(last, rings.steps());
    }
}
