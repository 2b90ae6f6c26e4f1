//! Whether a node may go on serving when it cannot reach its peers (docs/cluster.md,
//! "Partitions"): the store decides ownership, but a member the store still renews
//! and no peer can reach holds its keys for nobody — every message to its actors from
//! the other nodes fails. So each member pings the others, and one that reaches no
//! majority of the live members **stands aside** (hands its keys and membership over,
//! [`crate::ownership::Intent::Aside`]) until it reaches a majority again.
//!
//! [`majority`] is the rule for one round of pings; [`Quorum`] adds the hysteresis:
//! a node stands aside only after `loss_ms` of rounds without a majority (several
//! rounds in a row, and that long: a round that began before a pause and ended after
//! it does not count for more than one), and serves again only after `regain_ms` of
//! rounds with one. Times are a node's monotonic milliseconds, passed in.
//!
//! Only a node that reaches a strict minority stands aside. In an even split (two
//! members, or four split two and two) nobody does: a node cannot tell a peer cut off
//! from one merely overloaded, and with two members each would otherwise hand its
//! keys to the other on a busy second — both sides keep what they hold, the store
//! still deciding ownership. A member that died looks the same as one cut off until
//! its membership lapses; then it is no longer counted.

use std::collections::BTreeSet;

/// Whether this node, with the `reachable` subset of the other live members
/// (`others`), holds at least half of all the live members, itself included (a
/// strict minority stands aside).
pub fn majority(others: &BTreeSet<String>, reachable: &BTreeSet<String>) -> bool {
    let live = others.len() + 1;
    let side = others.intersection(reachable).count() + 1;
    2 * side >= live
}

/// The hysteresis's settings (`cluster.quorum_loss_ms`, `cluster.quorum_regain_ms`,
/// and the interval between rounds, `cluster.quorum_check_ms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuorumTiming {
    pub check_ms: u64,
    pub loss_ms: u64,
    pub regain_ms: u64,
}

impl Default for QuorumTiming {
    fn default() -> Self {
        Self {
            check_ms: 1_000,
            loss_ms: 3_000,
            regain_ms: 2_000,
        }
    }
}

impl QuorumTiming {
    /// Rounds in a row that `ms` takes (at least one).
    fn rounds(&self, ms: u64) -> u32 {
        u32::try_from(ms.div_ceil(self.check_ms.max(1)).max(1)).unwrap_or(u32::MAX)
    }
}

/// What a node should do after a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Serve,
    StandAside,
}

/// One node's record of its rounds.
#[derive(Debug, Clone)]
pub struct Quorum {
    timing: QuorumTiming,
    aside: bool,
    /// Rounds in a row that disagree with the current verdict, and when the first of
    /// them ended.
    streak: u32,
    since: u64,
}

impl Quorum {
    pub fn new(timing: QuorumTiming) -> Self {
        Self {
            timing,
            aside: false,
            streak: 0,
            since: 0,
        }
    }

    /// The verdict now.
    pub fn verdict(&self) -> Verdict {
        if self.aside {
            Verdict::StandAside
        } else {
            Verdict::Serve
        }
    }

    /// A round ended at `mono_now` with (`true`) or without a majority; the verdict
    /// from now on.
    pub fn observe(&mut self, has_majority: bool, mono_now: u64) -> Verdict {
        if has_majority != self.aside {
            // Agrees with the verdict: nothing builds up.
            self.streak = 0;
            return self.verdict();
        }
        if self.streak == 0 {
            self.since = mono_now;
        }
        self.streak += 1;
        let needed = if self.aside {
            self.timing.regain_ms
        } else {
            self.timing.loss_ms
        };
        // Rounds in a row *and* time: rounds after a pause do not fake the time, and a
        // round that began before a pause does not count for the whole pause.
        let long_enough = mono_now.saturating_sub(self.since) + self.timing.check_ms >= needed;
        if self.streak >= self.timing.rounds(needed) && long_enough {
            self.aside = !self.aside;
            self.streak = 0;
        }
        self.verdict()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn only_a_strict_minority_stands_aside() {
        // Alone: a majority of one.
        assert!(majority(&set(&[]), &set(&[])));
        // Three: one other reachable is two of three; none is one of three.
        assert!(majority(&set(&["a", "b"]), &set(&["b"])));
        assert!(!majority(&set(&["a", "b"]), &set(&[])));
        // Reachable nodes that are not live members do not count.
        assert!(!majority(&set(&["a", "b"]), &set(&["x", "y"])));
        // Two, neither reaching the other: both keep serving.
        assert!(majority(&set(&["b"]), &set(&[])));
        assert!(majority(&set(&["a"]), &set(&[])));
        // Four split two and two: both sides keep serving; one of four stands aside.
        assert!(majority(&set(&["a", "c", "d"]), &set(&["a"])));
        assert!(!majority(&set(&["a", "b", "d"]), &set(&[])));
        // Five: three of five serves, two of five stands aside.
        assert!(majority(&set(&["a", "b", "c", "d"]), &set(&["c", "d"])));
        assert!(!majority(&set(&["a", "b", "c", "d"]), &set(&["d"])));
    }

    #[test]
    fn a_node_stands_aside_after_the_loss_time_and_serves_after_the_regain_time() {
        let timing = QuorumTiming::default();
        let mut q = Quorum::new(timing);
        // One or two bad rounds are not enough; a good one starts the count again.
        assert_eq!(q.observe(false, 1_000), Verdict::Serve);
        assert_eq!(q.observe(false, 2_000), Verdict::Serve);
        assert_eq!(q.observe(true, 3_000), Verdict::Serve);
        assert_eq!(q.observe(false, 4_000), Verdict::Serve);
        assert_eq!(q.observe(false, 5_000), Verdict::Serve);
        assert_eq!(q.observe(false, 6_000), Verdict::StandAside);
        // Standing aside: one good round is not enough, two in a row are.
        assert_eq!(q.observe(true, 7_000), Verdict::StandAside);
        assert_eq!(q.observe(false, 8_000), Verdict::StandAside);
        assert_eq!(q.observe(true, 9_000), Verdict::StandAside);
        assert_eq!(q.observe(true, 10_000), Verdict::Serve);
    }

    #[test]
    fn rounds_bunched_after_a_pause_or_one_spanning_it_do_not_stand_a_node_aside() {
        let timing = QuorumTiming::default();
        // Three bad rounds within 200 ms (a paused node's timers all firing when it
        // wakes): not yet the loss time.
        let mut q = Quorum::new(timing);
        for t in [10_000, 10_100, 10_200] {
            assert_eq!(q.observe(false, t), Verdict::Serve);
        }
        // One bad round before a 60 s pause and one after: two rounds, not three.
        let mut q = Quorum::new(timing);
        assert_eq!(q.observe(false, 1_000), Verdict::Serve);
        assert_eq!(q.observe(false, 61_000), Verdict::Serve);
        assert_eq!(q.observe(true, 62_000), Verdict::Serve);
    }

    #[test]
    fn a_loss_time_of_one_round_acts_on_the_first_bad_round() {
        let mut q = Quorum::new(QuorumTiming {
            check_ms: 1_000,
            loss_ms: 1_000,
            regain_ms: 1_000,
        });
        assert_eq!(q.observe(false, 5), Verdict::StandAside);
        assert_eq!(q.observe(true, 1_005), Verdict::Serve);
    }
}
