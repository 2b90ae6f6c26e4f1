//! Sort keys: the waiting order of conversations (`WaitKey`) and the per-strategy order
//! of agents (`StrategyKey`).
//!
//! Owns the definition of "better" on both sides of a decision, and nothing else: it
//! must not hold state, mutate the router or do I/O. Changing an order here changes
//! routing everywhere, so both orders are total (ids break every tie).

use super::types::{AgentSnapshot, WaitingEntry};
use domain::{ConversationId, Millis, RoutingStrategy};
use std::cmp::Reverse;

/// Position of a waiting conversation: priority DESC, enqueued_at ASC, seq ASC, then
/// the conversation id so that two entries never collide (a duplicated `seq`, e.g.
/// from another queue's counter after overflow, must not overwrite a conversation).
/// Derived `Ord` compares the fields in declaration order; smaller is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WaitKey {
    /// Higher priority first, hence `Reverse`.
    pub priority: Reverse<i32>,
    /// Older first.
    pub enqueued_at: Millis,
    /// Earlier arrival first.
    pub seq: u64,
    /// Final tie-breaker; also lets the waiting set carry the id itself.
    pub conversation: ConversationId,
}

impl WaitKey {
    /// The key of an entry. Depends only on fields that never change while the
    /// conversation is in the queue, so a requeued entry gets back its original rank.
    pub fn of(w: &WaitingEntry) -> Self {
        WaitKey {
            priority: Reverse(w.priority),
            enqueued_at: w.enqueued_at,
            seq: w.seq,
            conversation: w.conversation,
        }
    }
}

/// Position of an agent in a class index under the queue's strategy; smaller goes
/// first, the agent id (stored beside it in the index) breaks ties. Each strategy's
/// key is defined in [`super::strategy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StrategyKey {
    /// The strategy's main criterion.
    pub primary: i64,
    /// The strategy's tie-breaker (idle_since, or 0 where unused).
    pub secondary: i64,
}

impl StrategyKey {
    /// The key of `a` under `strategy` (see [`super::strategy`]); `rr_tick` is the
    /// router's tick of the last time it chose this agent (0 = never).
    pub fn of(strategy: RoutingStrategy, a: &AgentSnapshot, rr_tick: u64) -> Self {
        super::strategy::key(strategy, a, rr_tick)
    }
}

/// The strategy's name as used in traces and configuration.
pub fn strategy_name(s: RoutingStrategy) -> &'static str {
    super::strategy::of(s).name()
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::ChannelClass;
    use std::collections::BTreeSet;

    fn entry(priority: i32, at: i64, seq: u64) -> WaitingEntry {
        WaitingEntry {
            conversation: ConversationId::new(),
            class: ChannelClass::Chat,
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

    #[test]
    fn wait_key_orders_priority_then_age_then_seq() {
        let hi_new = WaitKey::of(&entry(2, 100, 9));
        let lo_old = WaitKey::of(&entry(1, 0, 0));
        let lo_new = WaitKey::of(&entry(1, 50, 0));
        let lo_new_later_seq = WaitKey::of(&entry(1, 50, 1));
        assert!(hi_new < lo_old);
        assert!(lo_old < lo_new);
        assert!(lo_new < lo_new_later_seq);
    }
}
