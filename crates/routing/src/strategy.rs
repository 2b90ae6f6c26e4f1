//! Routing strategies: how a queue orders the eligible agents with a free slot.
//!
//! Each strategy is one [`Strategy`] implementation here, reached from its
//! configuration value by [`of`] — an exhaustive `match`, so a new
//! [`RoutingStrategy`] variant does not compile until it has an implementation. The
//! property tests iterate over `RoutingStrategy::iter()`, so it cannot go untested
//! either. A strategy only computes a sort key and says what it was; it holds no state
//! (round robin's ticks are the router's) and must not do I/O.

use super::keys::StrategyKey;
use super::types::AgentSnapshot;
use domain::RoutingStrategy;
use std::fmt::Write as _;

/// One way of ordering agents: the smaller key goes first; the agent id breaks ties.
pub trait Strategy: Send + Sync + 'static {
    /// The name in configuration and traces (the serde name of its `RoutingStrategy`).
    fn name(&self) -> &'static str;
    /// The key of `a`; `rr_tick` is the router's tick of the last time it chose this
    /// agent (0 = never).
    fn key(&self, a: &AgentSnapshot, rr_tick: u64) -> StrategyKey;
    /// Writes the key in words for the decision trace (`name=value` pairs) into
    /// `out`, which the router reuses for the whole trace line (no allocation here).
    fn write_detail(&self, a: &AgentSnapshot, key: StrategyKey, out: &mut String);
}

/// The implementation of a configured strategy.
pub fn of(kind: RoutingStrategy) -> &'static dyn Strategy {
    match kind {
        RoutingStrategy::LongestIdle => &LongestIdle,
        RoutingStrategy::LeastOccupied => &LeastOccupied,
        RoutingStrategy::RoundRobin => &RoundRobin,
    }
}

/// The key of `a` under `kind`: the same as `of(kind).key(..)`, dispatched statically
/// because the router computes a key on every agent update (BENCHMARKS.md: the first
/// version, a vtable call here plus the trace detail in its own `String`, cost up to
/// 12% of decisions/s).
#[inline]
pub fn key(kind: RoutingStrategy, a: &AgentSnapshot, rr_tick: u64) -> StrategyKey {
    match kind {
        RoutingStrategy::LongestIdle => LongestIdle.key(a, rr_tick),
        RoutingStrategy::LeastOccupied => LeastOccupied.key(a, rr_tick),
        RoutingStrategy::RoundRobin => RoundRobin.key(a, rr_tick),
    }
}

/// The agent idle the longest goes first: `(idle_since, 0)`.
struct LongestIdle;

impl Strategy for LongestIdle {
    fn name(&self) -> &'static str {
        "longest_idle"
    }
    fn key(&self, a: &AgentSnapshot, _rr_tick: u64) -> StrategyKey {
        StrategyKey {
            primary: a.idle_since.0,
            secondary: 0,
        }
    }
    fn write_detail(&self, a: &AgentSnapshot, _key: StrategyKey, out: &mut String) {
        let _ = write!(out, "idle_since={}", a.idle_since.0);
    }
}

/// The least occupied agent goes first: `(occupancy_permille, idle_since)`.
struct LeastOccupied;

impl Strategy for LeastOccupied {
    fn name(&self) -> &'static str {
        "least_occupied"
    }
    fn key(&self, a: &AgentSnapshot, _rr_tick: u64) -> StrategyKey {
        StrategyKey {
            primary: i64::from(a.occupancy_permille),
            secondary: a.idle_since.0,
        }
    }
    fn write_detail(&self, a: &AgentSnapshot, _key: StrategyKey, out: &mut String) {
        let _ = write!(
            out,
            "occupancy_permille={} idle_since={}",
            a.occupancy_permille, a.idle_since.0
        );
    }
}

/// Agents take turns: `(last_offered_tick, idle_since)`.
struct RoundRobin;

impl Strategy for RoundRobin {
    fn name(&self) -> &'static str {
        "round_robin"
    }
    fn key(&self, a: &AgentSnapshot, rr_tick: u64) -> StrategyKey {
        StrategyKey {
            primary: i64::try_from(rr_tick).unwrap_or(i64::MAX),
            secondary: a.idle_since.0,
        }
    }
    fn write_detail(&self, a: &AgentSnapshot, key: StrategyKey, out: &mut String) {
        let _ = write!(
            out,
            "last_offered_tick={} idle_since={}",
            key.primary, a.idle_since.0
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{AgentId, Millis};
    use strum::IntoEnumIterator;

    #[test]
    fn every_strategy_is_named_as_configured() {
        for kind in RoutingStrategy::iter() {
            let name = of(kind).name();
            let parsed: RoutingStrategy =
                serde_json::from_value(serde_json::Value::String(name.into())).unwrap();
            assert_eq!(parsed, kind, "{name}");
        }
    }

    #[test]
    fn keys_and_details() {
        let a = AgentSnapshot {
            id: AgentId::parse("a").unwrap(),
            available: true,
            free: [0, 1, 0, 0],
            idle_since: Millis(7),
            occupancy_permille: 250,
            skills: Default::default(),
        };
        let k = |s| {
            let k = of(s).key(&a, 3);
            assert_eq!(key(s, &a, 3), k, "static and dynamic dispatch agree");
            let mut detail = String::new();
            of(s).write_detail(&a, k, &mut detail);
            (k.primary, k.secondary, detail)
        };
        assert_eq!(
            k(RoutingStrategy::LongestIdle),
            (7, 0, "idle_since=7".into())
        );
        assert_eq!(
            k(RoutingStrategy::LeastOccupied),
            (250, 7, "occupancy_permille=250 idle_since=7".into())
        );
        assert_eq!(
            k(RoutingStrategy::RoundRobin),
            (3, 7, "last_offered_tick=3 idle_since=7".into())
        );
    }
}
