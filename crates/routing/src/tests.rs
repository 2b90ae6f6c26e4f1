//! Example-based tests of `QueueRouter`: strategies, waiting order, sticky and required
//! routing, tried exclusion, voice exclusivity, limits, requeue, pull, trace.
//!
//! Owns only tests; must not be relied on by non-test code. Property tests live in
//! `props.rs`.

use super::*;
use domain::{AgentId, ChannelClass, ConversationId, Millis, RoutingStrategy};
use std::collections::BTreeSet;
use uuid::Uuid;

const VOICE: usize = 0;
const CHAT: usize = 1;

fn aid(s: &str) -> AgentId {
    AgentId::parse(s).unwrap()
}

fn cid(n: u128) -> ConversationId {
    ConversationId(Uuid::from_u128(n))
}

fn agent(id: &str, idle: i64, occ: u32, free: [u16; 4]) -> AgentSnapshot {
    AgentSnapshot {
        id: aid(id),
        available: true,
        free,
        idle_since: Millis(idle),
        occupancy_permille: occ,
        skills: Default::default(),
    }
}

/// An agent with `chat` free chat slots and nothing else.
fn chatter(id: &str, idle: i64, chat: u16) -> AgentSnapshot {
    agent(id, idle, 0, [0, chat, 0, 0])
}

fn entry(n: u128, class: ChannelClass, priority: i32, at: i64, seq: u64) -> WaitingEntry {
    WaitingEntry {
        conversation: cid(n),
        class,
        priority,
        enqueued_at: Millis(at),
        seq,
        preferred_agent: None,
        sticky_until: Millis(0),
        required_agent: None,
        tried: BTreeSet::new(),
        requirements: Default::default(),
    }
}

fn chat(n: u128, priority: i32, at: i64) -> WaitingEntry {
    entry(n, ChannelClass::Chat, priority, at, n as u64)
}

fn router(s: RoutingStrategy) -> QueueRouter {
    QueueRouter::new(s, 1_000)
}

/// Runs `decide` until it returns `None`, accepting every offer; returns the agents in
/// decision order.
fn drain_agents(r: &mut QueueRouter, now: i64) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(d) = r.decide(Millis(now)) {
        r.debug_check_invariants();
        out.push(d.agent.as_str().to_owned());
        assert!(r.offer_closed(&d.conversation, &d.agent, true).is_some());
    }
    out
}

#[test]
fn longest_idle_takes_the_earliest_idle_since_first() {
    let mut r = router(RoutingStrategy::LongestIdle);
    r.upsert_agent(chatter("a", 30, 1));
    r.upsert_agent(chatter("b", 10, 1));
    r.upsert_agent(chatter("c", 20, 1));
    for n in 1..=3 {
        r.enqueue(chat(n, 0, 0)).unwrap();
    }
    assert_eq!(drain_agents(&mut r, 0), ["b", "c", "a"]);
}

#[test]
fn longest_idle_keeps_a_multi_slot_agent_first_until_full() {
    // The local charge does not touch idle_since: the agent actor does when it pushes.
    let mut r = router(RoutingStrategy::LongestIdle);
    r.upsert_agent(chatter("a", 1, 2));
    r.upsert_agent(chatter("b", 2, 2));
    for n in 1..=4 {
        r.enqueue(chat(n, 0, 0)).unwrap();
    }
    assert_eq!(drain_agents(&mut r, 0), ["a", "a", "b", "b"]);
}

#[test]
fn least_occupied_orders_by_occupancy_then_idle_since() {
    let mut r = router(RoutingStrategy::LeastOccupied);
    r.upsert_agent(agent("a", 1, 500, [0, 1, 0, 0]));
    r.upsert_agent(agent("b", 20, 100, [0, 1, 0, 0]));
    r.upsert_agent(agent("c", 10, 100, [0, 1, 0, 0]));
    for n in 1..=3 {
        r.enqueue(chat(n, 0, 0)).unwrap();
    }
    assert_eq!(drain_agents(&mut r, 0), ["c", "b", "a"]);
}

#[test]
fn round_robin_rotates_through_agents() {
    let mut r = router(RoutingStrategy::RoundRobin);
    r.upsert_agent(chatter("a", 1, 3));
    r.upsert_agent(chatter("b", 2, 3));
    r.upsert_agent(chatter("c", 3, 3));
    for n in 1..=7 {
        r.enqueue(chat(n, 0, 0)).unwrap();
    }
    assert_eq!(drain_agents(&mut r, 0), ["a", "b", "c", "a", "b", "c", "a"]);
}

#[test]
fn round_robin_tick_survives_remove_agent() {
    let mut r = router(RoutingStrategy::RoundRobin);
    r.upsert_agent(chatter("a", 1, 3));
    r.upsert_agent(chatter("b", 2, 3));
    r.enqueue(chat(1, 0, 0)).unwrap();
    assert_eq!(drain_agents(&mut r, 0), ["a"]);
    // "a" reconnects: it must not jump ahead of "b", who has not had a turn.
    r.remove_agent(&aid("a"));
    r.upsert_agent(chatter("a", 1, 3));
    r.enqueue(chat(2, 0, 0)).unwrap();
    assert_eq!(drain_agents(&mut r, 0), ["b"]);
}

#[test]
fn set_strategy_reorders_the_index() {
    let mut r = router(RoutingStrategy::LongestIdle);
    r.upsert_agent(agent("a", 1, 900, [0, 1, 0, 0]));
    r.upsert_agent(agent("b", 2, 100, [0, 1, 0, 0]));
    r.set_strategy(RoutingStrategy::LeastOccupied);
    r.debug_check_invariants();
    r.enqueue(chat(1, 0, 0)).unwrap();
    assert_eq!(drain_agents(&mut r, 0), ["b"]);
    assert_eq!(r.strategy(), RoutingStrategy::LeastOccupied);
}

#[test]
fn priority_beats_wait_time() {
    let mut r = router(RoutingStrategy::LongestIdle);
    r.enqueue(chat(1, 0, 0)).unwrap();
    r.enqueue(chat(2, 5, 100)).unwrap();
    r.upsert_agent(chatter("a", 0, 1));
    assert_eq!(r.decide(Millis(200)).unwrap().conversation, cid(2));
}

#[test]
fn older_beats_newer_and_seq_breaks_ties() {
    let mut r = router(RoutingStrategy::LongestIdle);
    r.enqueue(entry(1, ChannelClass::Chat, 1, 50, 7)).unwrap();
    r.enqueue(entry(2, ChannelClass::Chat, 1, 50, 3)).unwrap();
    r.enqueue(entry(3, ChannelClass::Chat, 1, 10, 9)).unwrap();
    let order: Vec<_> = r.waiting().map(|w| w.conversation).collect();
    assert_eq!(order, [cid(3), cid(2), cid(1)]);
    r.upsert_agent(chatter("a", 0, 3));
    let got: Vec<_> = std::iter::from_fn(|| r.decide(Millis(100)))
        .map(|d| d.conversation)
        .collect();
    assert_eq!(got, [cid(3), cid(2), cid(1)]);
}

#[test]
fn the_best_ranked_class_goes_first() {
    let mut r = router(RoutingStrategy::LongestIdle);
    r.enqueue(entry(1, ChannelClass::Email, 0, 5, 1)).unwrap();
    r.enqueue(entry(2, ChannelClass::Chat, 0, 9, 2)).unwrap();
    r.enqueue(entry(3, ChannelClass::Messaging, 2, 20, 3))
        .unwrap();
    r.upsert_agent(agent("a", 0, 0, [0, 5, 5, 5]));
    let got: Vec<_> = std::iter::from_fn(|| r.decide(Millis(100)))
        .map(|d| d.conversation)
        .collect();
    assert_eq!(got, [cid(3), cid(1), cid(2)]);
    let merged: Vec<_> = r.waiting().collect();
    assert!(merged.is_empty());
}

#[test]
fn sticky_blocks_until_sticky_until_then_widens() {
    let mut r = router(RoutingStrategy::LongestIdle);
    let mut sticky = chat(1, 0, 0);
    sticky.preferred_agent = Some(aid("bob"));
    sticky.sticky_until = Millis(1_000);
    r.enqueue(sticky).unwrap();
    r.enqueue(chat(2, 0, 10)).unwrap();
    r.upsert_agent(chatter("bob", 0, 0)); // busy
    r.upsert_agent(chatter("alice", 5, 1));

    // Before the sticky wait ends the first conversation is blocked; the next one goes.
    let d = r.decide(Millis(500)).unwrap();
    assert_eq!((d.conversation, d.agent.as_str()), (cid(2), "alice"));
    assert!(d
        .trace
        .iter()
        .any(|s| s.step == "blocked" && s.agent == Some(aid("bob"))));
    r.upsert_agent(chatter("carol", 7, 1));
    assert!(r.decide(Millis(999)).is_none(), "still sticky");

    // After it, anyone may take it.
    let d = r.decide(Millis(1_000)).unwrap();
    assert_eq!((d.conversation, d.agent.as_str()), (cid(1), "carol"));
    r.debug_check_invariants();
}

#[test]
fn preferred_agent_goes_first_when_free_even_after_sticky() {
    let mut r = router(RoutingStrategy::LongestIdle);
    let mut w = chat(1, 0, 0);
    w.preferred_agent = Some(aid("bob"));
    w.sticky_until = Millis(10);
    r.enqueue(w).unwrap();
    r.upsert_agent(chatter("alice", 0, 1)); // idle longer
    r.upsert_agent(chatter("bob", 50, 1));
    let d = r.decide(Millis(5_000)).unwrap();
    assert_eq!(d.agent.as_str(), "bob");
    let chosen = d.trace.last().unwrap();
    assert_eq!(chosen.step, "chosen");
    assert!(
        chosen.detail.contains("route=preferred_agent"),
        "{}",
        chosen.detail
    );
}

#[test]
fn preferred_agent_in_tried_voids_the_sticky_wait() {
    let mut r = router(RoutingStrategy::LongestIdle);
    let mut w = chat(1, 0, 0);
    w.preferred_agent = Some(aid("bob"));
    w.sticky_until = Millis(1_000);
    r.enqueue(w).unwrap();
    r.upsert_agent(chatter("bob", 0, 1));
    r.upsert_agent(chatter("alice", 5, 1));
    let d = r.decide(Millis(1)).unwrap();
    assert_eq!(d.agent.as_str(), "bob");
    assert!(r.offer_closed(&cid(1), &aid("bob"), false).is_none());
    // bob rejected it: no point waiting for him.
    let d = r.decide(Millis(2)).unwrap();
    assert_eq!(d.agent.as_str(), "alice");
}

#[test]
fn required_agent_only() {
    let mut r = router(RoutingStrategy::LongestIdle);
    let mut w = chat(1, 5, 0);
    w.required_agent = Some(aid("bob"));
    r.enqueue(w).unwrap();
    r.upsert_agent(chatter("alice", 0, 3));
    r.upsert_agent(chatter("bob", 10, 0));
    assert!(
        r.decide(Millis(1)).is_none(),
        "bob is busy; alice may not take it"
    );
    r.enqueue(chat(2, 0, 0)).unwrap();
    let d = r.decide(Millis(1)).unwrap();
    assert_eq!((d.conversation, d.agent.as_str()), (cid(2), "alice"));
    r.upsert_agent(chatter("bob", 10, 1));
    let d = r.decide(Millis(1)).unwrap();
    assert_eq!((d.conversation, d.agent.as_str()), (cid(1), "bob"));
    // Rejected by bob: nobody else may ever take it.
    r.offer_closed(&cid(1), &aid("bob"), false);
    r.upsert_agent(chatter("bob", 10, 1));
    assert!(r.decide(Millis(2)).is_none());
    assert_eq!(r.waiting_len(), 1);
}

#[test]
fn tried_agents_are_never_offered_again() {
    let mut r = router(RoutingStrategy::LongestIdle);
    r.upsert_agent(chatter("a", 0, 1));
    r.upsert_agent(chatter("b", 1, 1));
    r.enqueue(chat(1, 0, 0)).unwrap();
    let d = r.decide(Millis(0)).unwrap();
    assert_eq!(d.agent.as_str(), "a");
    assert!(r.offer_closed(&cid(1), &aid("a"), false).is_none());
    r.upsert_agent(chatter("a", 0, 1)); // the agent actor frees the slot again
    let d = r.decide(Millis(0)).unwrap();
    assert_eq!(d.agent.as_str(), "b");
    assert!(d
        .trace
        .iter()
        .any(|s| s.step == "skipped" && s.agent == Some(aid("a")) && s.detail == "tried before"));
    r.offer_closed(&cid(1), &aid("b"), false);
    r.upsert_agent(chatter("b", 1, 1));
    assert!(r.decide(Millis(0)).is_none(), "both tried");
    assert_eq!(r.get(&cid(1)).unwrap().tried.len(), 2);
}

#[test]
fn forget_tried_lets_a_returning_agent_be_offered_again() {
    let mut r = router(RoutingStrategy::LongestIdle);
    r.upsert_agent(chatter("a", 0, 1));
    r.enqueue(chat(1, 0, 0)).unwrap();
    r.enqueue(chat(2, 0, 1)).unwrap();
    let d = r.decide(Millis(2)).unwrap();
    assert_eq!(d.conversation, cid(1));
    r.offer_closed(&cid(1), &aid("a"), false);
    r.upsert_agent(chatter("a", 0, 1));
    assert_eq!(r.decide(Millis(2)).unwrap().conversation, cid(2));
    r.offer_closed(&cid(2), &aid("a"), false);
    r.upsert_agent(chatter("a", 0, 1));
    assert!(r.decide(Millis(2)).is_none(), "a tried both");
    r.forget_tried(&aid("a"));
    r.debug_check_invariants();
    let d = r.decide(Millis(3)).unwrap();
    assert_eq!(
        (d.conversation, d.agent.as_str()),
        (cid(1), "a"),
        "oldest first again"
    );
}

#[test]
fn widen_opens_a_declined_transfer_to_everyone() {
    let mut r = router(RoutingStrategy::LongestIdle);
    let mut w = chat(1, 0, 0);
    w.required_agent = Some(aid("bob"));
    r.enqueue(w).unwrap();
    r.enqueue(chat(2, 0, 5)).unwrap();
    r.upsert_agent(chatter("bob", 10, 1));
    let d = r.decide(Millis(6)).unwrap();
    assert_eq!((d.conversation, d.agent.as_str()), (cid(1), "bob"));
    r.offer_closed(&cid(1), &aid("bob"), false);
    assert!(r.widen(&cid(1)));
    assert!(!r.widen(&cid(1)), "already open");
    r.debug_check_invariants();
    r.upsert_agent(chatter("alice", 0, 1));
    let d = r.decide(Millis(7)).unwrap();
    assert_eq!(
        (d.conversation, d.agent.as_str()),
        (cid(1), "alice"),
        "keeps its rank, bob stays excluded"
    );
}

#[test]
fn voice_exclusivity_through_free_slots() {
    let mut r = router(RoutingStrategy::LongestIdle);
    r.upsert_agent(agent("a", 0, 0, [1, 3, 5, 5]));
    r.enqueue(entry(1, ChannelClass::Voice, 5, 0, 1)).unwrap();
    r.enqueue(entry(2, ChannelClass::Chat, 0, 0, 2)).unwrap();
    let d = r.decide(Millis(0)).unwrap();
    assert_eq!((d.conversation, d.class), (cid(1), ChannelClass::Voice));
    // On a call: nothing else.
    assert!(r.decide(Millis(0)).is_none());
    for class in ChannelClass::ALL {
        assert_eq!(r.free_agents(class), 0);
    }
    r.debug_check_invariants();

    // A chat closes voice.
    let mut r = router(RoutingStrategy::LongestIdle);
    r.upsert_agent(agent("a", 0, 0, [1, 3, 5, 5]));
    r.enqueue(entry(1, ChannelClass::Voice, 0, 10, 1)).unwrap();
    r.enqueue(entry(2, ChannelClass::Chat, 5, 0, 2)).unwrap();
    let d = r.decide(Millis(0)).unwrap();
    assert_eq!(d.conversation, cid(2));
    assert_eq!(r.free_agents(ChannelClass::Voice), 0);
    assert_eq!(r.free_agents(ChannelClass::Chat), 1);
    assert!(
        r.decide(Millis(0)).is_none(),
        "voice waits for a fully free agent"
    );
    let snap = r.agents().next().unwrap();
    assert_eq!(snap.free[VOICE], 0);
    assert_eq!(snap.free[CHAT], 2);
}

#[test]
fn unavailable_agents_are_not_indexed() {
    let mut r = router(RoutingStrategy::LongestIdle);
    let mut a = chatter("a", 0, 3);
    a.available = false;
    r.upsert_agent(a);
    r.enqueue(chat(1, 0, 0)).unwrap();
    assert_eq!(r.free_agents(ChannelClass::Chat), 0);
    assert!(r.decide(Millis(0)).is_none());
    assert_eq!(r.agents().count(), 1);
    r.upsert_agent(chatter("a", 0, 3));
    assert_eq!(r.free_agents(ChannelClass::Chat), 1);
    r.remove_agent(&aid("a"));
    assert_eq!(r.free_agents(ChannelClass::Chat), 0);
    assert_eq!(r.agents().count(), 0);
    r.debug_check_invariants();
}

#[test]
fn full_refusal_and_duplicates() {
    let mut r = QueueRouter::new(RoutingStrategy::LongestIdle, 2);
    r.enqueue(chat(1, 0, 0)).unwrap();
    assert_eq!(r.enqueue(chat(1, 0, 0)), Err(EnqueueError::Duplicate));
    r.enqueue(chat(2, 0, 0)).unwrap();
    assert_eq!(r.enqueue(chat(3, 0, 0)), Err(EnqueueError::Full { max: 2 }));
    r.upsert_agent(chatter("a", 0, 1));
    let d = r.decide(Millis(0)).unwrap();
    // Offered still counts.
    assert_eq!(r.enqueue(chat(3, 0, 0)), Err(EnqueueError::Full { max: 2 }));
    assert_eq!(
        r.enqueue(chat(d.conversation.0.as_u128(), 0, 0)),
        Err(EnqueueError::Duplicate)
    );
    r.offer_closed(&d.conversation, &d.agent, true).unwrap();
    r.enqueue(chat(3, 0, 0)).unwrap();
    // requeue is never refused.
    r.requeue(chat(4, 0, 0));
    assert_eq!(r.waiting_len(), 3);
    r.set_max_waiting(10);
    r.enqueue(chat(5, 0, 0)).unwrap();
    assert_eq!(r.max_waiting(), 10);
}

#[test]
fn requeue_keeps_original_rank() {
    let mut r = router(RoutingStrategy::LongestIdle);
    for n in 1..=3 {
        r.enqueue(chat(n, 0, n as i64)).unwrap();
    }
    r.upsert_agent(chatter("a", 0, 1));
    let d = r.decide(Millis(10)).unwrap();
    assert_eq!(d.conversation, cid(1));
    assert_eq!(r.position(&cid(1)), None);
    assert_eq!(r.position(&cid(2)), Some(0));
    // A newcomer arrives meanwhile.
    r.enqueue(chat(4, 0, 9)).unwrap();
    // Rejected: back at the front with its original key.
    assert!(r.offer_closed(&cid(1), &aid("a"), false).is_none());
    assert_eq!(r.position(&cid(1)), Some(0));
    assert_eq!(r.position(&cid(4)), Some(3));
    // Disconnect path: remove from offered, requeue.
    r.upsert_agent(chatter("b", 1, 1));
    let d = r.decide(Millis(10)).unwrap();
    assert_eq!((d.conversation, d.agent.as_str()), (cid(1), "b"));
    let e = r.remove(&cid(1)).unwrap();
    assert_eq!(r.offered_len(), 0);
    r.requeue(e);
    assert_eq!(r.position(&cid(1)), Some(0));
    assert_eq!(r.get(&cid(1)).unwrap().tried, BTreeSet::from([aid("a")]));
    r.debug_check_invariants();
}

#[test]
fn requeue_replaces_an_offered_entry() {
    let mut r = router(RoutingStrategy::LongestIdle);
    r.enqueue(chat(1, 0, 0)).unwrap();
    r.upsert_agent(chatter("a", 0, 1));
    r.decide(Millis(0)).unwrap();
    r.requeue(chat(1, 0, 0));
    assert_eq!((r.waiting_len(), r.offered_len()), (1, 0));
    assert_eq!(r.offered_to(&cid(1)), None);
    r.debug_check_invariants();
}

#[test]
fn offer_closed_by_someone_else_is_ignored() {
    let mut r = router(RoutingStrategy::LongestIdle);
    r.enqueue(chat(1, 0, 0)).unwrap();
    r.upsert_agent(chatter("a", 0, 1));
    r.decide(Millis(0)).unwrap();
    assert_eq!(r.offered_to(&cid(1)), Some(&aid("a")));
    assert!(r.offer_closed(&cid(1), &aid("zed"), true).is_none());
    assert!(r.offer_closed(&cid(1), &aid("zed"), false).is_none());
    assert_eq!(r.offered_len(), 1);
    let e = r.offer_closed(&cid(1), &aid("a"), true).unwrap();
    assert_eq!(e.conversation, cid(1));
    assert_eq!((r.waiting_len(), r.offered_len()), (0, 0));
}

#[test]
fn best_for_and_take_for() {
    let mut r = router(RoutingStrategy::LongestIdle);
    r.upsert_agent(chatter("alice", 0, 1));
    r.upsert_agent(chatter("bob", 0, 0));
    // 1: sticky for bob (busy) until 100.
    let mut w = chat(1, 9, 0);
    w.preferred_agent = Some(aid("bob"));
    w.sticky_until = Millis(100);
    r.enqueue(w).unwrap();
    // 2: requires carol.
    let mut w = chat(2, 8, 0);
    w.required_agent = Some(aid("carol"));
    r.enqueue(w).unwrap();
    // 3: alice rejected it before.
    let mut w = chat(3, 7, 0);
    w.tried.insert(aid("alice"));
    r.enqueue(w).unwrap();
    // 4: plain, lowest priority.
    r.enqueue(chat(4, 0, 0)).unwrap();
    // 5: email; alice has no email slot.
    r.enqueue(entry(5, ChannelClass::Email, 9, 0, 5)).unwrap();

    let p = r.best_for(&aid("alice"), Millis(50)).unwrap();
    assert_eq!(p.conversation, cid(4));
    assert_eq!((p.priority, p.enqueued_at, p.seq), (0, Millis(0), 4));
    assert_eq!(
        r.best_for(&aid("bob"), Millis(50)),
        None,
        "bob has no free slot"
    );
    assert_eq!(r.best_for(&aid("nobody"), Millis(50)), None);
    // After the sticky wait, alice may have conversation 1.
    assert_eq!(
        r.best_for(&aid("alice"), Millis(100)).unwrap().conversation,
        cid(1)
    );

    assert!(
        r.take_for(&cid(1), &aid("alice"), Millis(50)).is_none(),
        "sticky for bob"
    );
    assert!(
        r.take_for(&cid(2), &aid("alice"), Millis(50)).is_none(),
        "required carol"
    );
    assert!(
        r.take_for(&cid(3), &aid("alice"), Millis(50)).is_none(),
        "tried"
    );
    assert!(
        r.take_for(&cid(5), &aid("alice"), Millis(50)).is_none(),
        "no email slot"
    );
    let d = r.take_for(&cid(4), &aid("alice"), Millis(50)).unwrap();
    assert_eq!((d.conversation, d.agent.as_str()), (cid(4), "alice"));
    assert_eq!(d.trace.last().unwrap().step, "chosen");
    assert_eq!(r.offered_to(&cid(4)), Some(&aid("alice")));
    assert_eq!(r.free_agents(ChannelClass::Chat), 0, "alice charged");
    assert!(
        r.take_for(&cid(4), &aid("alice"), Millis(50)).is_none(),
        "already offered"
    );
    r.debug_check_invariants();

    // The required agent may pull its transfer even while another agent's sticky
    // wait would hold it.
    let mut w = chat(6, 0, 0);
    w.required_agent = Some(aid("carol"));
    w.preferred_agent = Some(aid("bob"));
    w.sticky_until = Millis(1_000);
    r.enqueue(w).unwrap();
    r.upsert_agent(chatter("carol", 0, 1));
    assert_eq!(
        r.best_for(&aid("carol"), Millis(50)).unwrap().conversation,
        cid(2)
    );
    assert!(r.take_for(&cid(6), &aid("carol"), Millis(50)).is_some());
}

#[test]
fn position_ages_and_overflow_views() {
    let mut r = router(RoutingStrategy::LongestIdle);
    r.enqueue(chat(1, 0, 30)).unwrap();
    r.enqueue(chat(2, 1, 40)).unwrap();
    r.enqueue(chat(3, 0, 10)).unwrap();
    r.enqueue(entry(4, ChannelClass::Email, 0, 5, 4)).unwrap();
    assert_eq!(r.position(&cid(2)), Some(0));
    assert_eq!(r.position(&cid(3)), Some(1));
    assert_eq!(r.position(&cid(1)), Some(2));
    assert_eq!(r.position(&cid(4)), Some(0), "rank within its class");
    assert_eq!(r.position(&cid(99)), None);
    assert_eq!(r.oldest_enqueued_at(), Some(Millis(5)));
    assert_eq!(r.waiting_older_than(Millis(30)), [cid(4), cid(3), cid(1)]);
    // Offered conversations count for the oldest wait but not for overflow.
    r.upsert_agent(agent("a", 0, 0, [0, 0, 1, 0]));
    assert_eq!(r.decide(Millis(50)).unwrap().conversation, cid(4));
    assert_eq!(r.oldest_enqueued_at(), Some(Millis(5)));
    assert_eq!(r.waiting_older_than(Millis(30)), [cid(3), cid(1)]);
    let all: Vec<_> = r.waiting().map(|w| w.conversation).collect();
    assert_eq!(all, [cid(2), cid(3), cid(1)]);
    assert!(r.remove(&cid(4)).is_some());
    assert_eq!(r.oldest_enqueued_at(), Some(Millis(10)));
    assert!(r.remove(&cid(4)).is_none());
}

#[test]
fn position_is_right_from_both_ends() {
    let mut r = router(RoutingStrategy::LongestIdle);
    for n in 0..101u128 {
        r.enqueue(chat(n + 1, 0, n as i64)).unwrap();
    }
    for n in 0..101u128 {
        assert_eq!(r.position(&cid(n + 1)), Some(n as usize));
    }
}

#[test]
fn trace_is_capped_and_explains() {
    let mut r = router(RoutingStrategy::LongestIdle);
    for n in 1..=40u128 {
        let mut w = chat(n, 1, n as i64);
        w.preferred_agent = Some(aid("bob"));
        w.sticky_until = Millis(1_000);
        r.enqueue(w).unwrap();
    }
    r.enqueue(chat(100, 0, 0)).unwrap();
    r.upsert_agent(chatter("alice", 3, 1));
    let d = r.decide(Millis(0)).unwrap();
    assert_eq!(d.conversation, cid(100));
    assert!(d.trace.len() <= TRACE_CAP, "{}", d.trace.len());
    let considered = d.trace.iter().find(|s| s.step == "considered").unwrap();
    assert!(
        considered.detail.contains("blocked_ahead=40"),
        "{}",
        considered.detail
    );
    let chosen = d.trace.last().unwrap();
    assert_eq!(chosen.step, "chosen");
    assert_eq!(chosen.agent, Some(aid("alice")));
    assert!(
        chosen.detail.contains("strategy=longest_idle idle_since=3"),
        "{}",
        chosen.detail
    );
    assert!(chosen.detail.contains("steps omitted"), "{}", chosen.detail);
    assert!(d.trace.iter().filter(|s| s.step == "blocked").count() >= 10);
}

#[test]
fn skips_per_class_are_capped() {
    let blocked_then_free = |blocked: u128| {
        let mut r = router(RoutingStrategy::LongestIdle);
        for n in 1..=blocked {
            let mut w = chat(n, 1, 0);
            w.preferred_agent = Some(aid("bob"));
            w.sticky_until = Millis(1_000);
            r.enqueue(w).unwrap();
        }
        r.enqueue(chat(10_000, 0, 0)).unwrap();
        r.upsert_agent(chatter("alice", 0, 1));
        (
            r.decide(Millis(0)).map(|d| d.conversation),
            r.best_for(&aid("alice"), Millis(0)).map(|p| p.conversation),
        )
    };
    let below = MAX_SKIPS_PER_CLASS as u128 - 1;
    assert_eq!(blocked_then_free(below).0, Some(cid(10_000)));
    assert_eq!(
        blocked_then_free(MAX_SKIPS_PER_CLASS as u128),
        (None, None),
        "documented cap"
    );
}

#[test]
fn a_backlog_of_transfers_to_an_absent_agent_blocks_nobody() {
    let mut r = QueueRouter::new(RoutingStrategy::LongestIdle, 10_000);
    for n in 1..=1_000u128 {
        let mut w = chat(n, 5, n as i64);
        w.required_agent = Some(aid("bob"));
        r.enqueue(w).unwrap();
    }
    r.enqueue(chat(5_000, 0, 0)).unwrap();
    r.upsert_agent(chatter("alice", 0, 1));
    let d = r.decide(Millis(0)).unwrap();
    assert_eq!((d.conversation, d.agent.as_str()), (cid(5_000), "alice"));
    assert_eq!(
        r.position(&cid(1)),
        Some(0),
        "transfers still rank in the class"
    );
    assert_eq!(r.waiting().next().unwrap().conversation, cid(1));
    // bob logs in: his best transfer goes to him at once.
    r.upsert_agent(chatter("bob", 9, 2));
    assert_eq!(
        r.best_for(&aid("bob"), Millis(0)).unwrap().conversation,
        cid(1)
    );
    let d = r.decide(Millis(0)).unwrap();
    assert_eq!((d.conversation, d.agent.as_str()), (cid(1), "bob"));
    let chosen = d.trace.last().unwrap();
    assert!(
        chosen.detail.contains("route=required_agent"),
        "{}",
        chosen.detail
    );
    let d = r.decide(Millis(0)).unwrap();
    assert_eq!((d.conversation, d.agent.as_str()), (cid(2), "bob"));
    assert!(r.decide(Millis(0)).is_none(), "bob is full");
    r.debug_check_invariants();
    // bob rejects one: it can never be placed, and stays visible in the queue.
    assert!(r.offer_closed(&cid(2), &aid("bob"), false).is_none());
    r.upsert_agent(chatter("bob", 9, 3));
    assert_eq!(r.position(&cid(2)), Some(0));
    let d = r.decide(Millis(0)).unwrap();
    assert_eq!(d.conversation, cid(3));
    r.remove_agent(&aid("bob"));
    assert!(r.decide(Millis(0)).is_none());
    r.debug_check_invariants();
}

#[test]
fn round_robin_trace_names_the_tick() {
    let mut r = router(RoutingStrategy::RoundRobin);
    r.upsert_agent(chatter("a", 0, 2));
    r.enqueue(chat(1, 0, 0)).unwrap();
    r.enqueue(chat(2, 0, 0)).unwrap();
    let d1 = r.decide(Millis(0)).unwrap();
    assert!(d1
        .trace
        .last()
        .unwrap()
        .detail
        .contains("last_offered_tick=0"));
    let d2 = r.decide(Millis(0)).unwrap();
    assert!(d2
        .trace
        .last()
        .unwrap()
        .detail
        .contains("last_offered_tick=1"));
}

#[test]
fn a_requirement_no_free_agent_meets_is_passed_over_as_a_whole() {
    use domain::{Proficiency, Skill, WideningStep};
    let billing = Skill::parse("billing").unwrap();
    let mut r = router(RoutingStrategy::LongestIdle);
    let steps = [WideningStep {
        after_ms: 10_000,
        floor: Some(Proficiency::new(2).unwrap()),
        drop_skills: Vec::new(),
        drop_all_skills: false,
    }];
    r.set_rules(
        widening::Rings::compile(&steps, None).unwrap(),
        widening::Ranking::default(),
    );
    // More hard contacts than a walk may skip, all ahead of one plain chat: nobody
    // free has billing>=5, so they wait in a dead lane, which is never walked.
    let hard = MAX_SKIPS_PER_CLASS as u128 + 50;
    for n in 1..=hard {
        let mut w = chat(n, 1, 0);
        w.requirements = [(billing.clone(), Proficiency::new(5).unwrap())].into();
        r.enqueue(w).unwrap();
    }
    r.enqueue(chat(10_000, 0, 0)).unwrap();
    let mut ann = chatter("ann", 0, 1);
    ann.skills = [(billing.clone(), Proficiency::new(2).unwrap())].into();
    r.upsert_agent(ann.clone());
    let d = r.decide(Millis(0)).unwrap();
    assert_eq!(d.conversation, cid(10_000));
    let passed = d
        .trace
        .iter()
        .find(|s| s.step == "blocked")
        .expect("the lane is in the trace");
    assert_eq!(
        passed.detail,
        format!(
            "{hard} conversation(s) of the class wait for skills no free agent has (not walked)"
        )
    );
    let at = d.trace.iter().position(|s| s.step == "considered").unwrap();
    assert!(
        d.trace[at].detail.contains("blocked_ahead=0"),
        "{}",
        d.trace[at].detail
    );
    assert!(
        d.trace.iter().position(|s| s.step == "blocked").unwrap() < at,
        "the lane step comes before the winner's"
    );
    r.debug_check_invariants();
    // Ten seconds in, the floor drops to 2: the lane moves, and ann (billing 2) takes
    // the first hard contact once she is free again.
    assert!(r.offer_closed(&cid(10_000), &aid("ann"), true).is_some());
    r.upsert_agent(ann);
    assert!(r.decide(Millis(9_999)).is_none());
    r.debug_check_invariants();
    let d = r.decide(Millis(10_000)).unwrap();
    assert_eq!((d.conversation, d.agent.as_str()), (cid(1), "ann"));
    r.debug_check_invariants();
}

/// A response-time target passed: the conversation's priority is raised and it is
/// offered before older ones at once; an offered one keeps its boost when declined.
#[test]
fn a_raised_priority_moves_a_waiting_or_offered_conversation_ahead() {
    let mut r = router(RoutingStrategy::LongestIdle);
    for n in 1..=3 {
        r.enqueue(chat(n, 0, n as i64 * 10)).expect("enqueued");
    }
    assert!(r.set_priority(&cid(3), 10));
    assert!(!r.set_priority(&cid(9), 10), "not here");
    r.debug_check_invariants();
    r.upsert_agent(chatter("a", 0, 1));
    let d = r.decide(Millis(100)).expect("decision");
    assert_eq!(d.conversation, cid(3), "the boosted one first");
    // Offered to a, boosted further, declined: it waits again ahead of 1 and 2.
    assert!(r.set_priority(&cid(3), 20));
    assert!(r.offer_closed(&cid(3), &aid("a"), false).is_none());
    assert_eq!(r.get(&cid(3)).map(|w| w.priority), Some(20));
    assert_eq!(r.position(&cid(3)), Some(0));
    r.debug_check_invariants();
}
