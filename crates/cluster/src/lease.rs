//! Who may act as owner: leases with an epoch, and the self-fencing rule.
//!
//! The store keeps one lease row per key, and every store applies one rule, [`claim`]
//! ([`LeaseTable`] is it in memory; the CQL backend makes it the condition of
//! lightweight transactions): a node acquires a free or lapsed key and the epoch grows
//! by one (the fencing token); the holder renews it, with the same epoch, before it
//! expires; a graceful stop releases it. Expiry is judged on the wall clock of the node
//! asking, with a bound on the skew between two nodes' clocks. Rows that carry state and are rewritten (conversations, customers) carry the
//! epoch of their last writer, and a write with an older epoch is refused
//! ([`RowFence`]), so a paused old owner cannot overwrite the new owner's state.
//!
//! A node's own view is [`Holding`]: it may act as owner only until its *local*
//! deadline, counted on its monotonic clock from the moment it **sent** the request
//! that the store granted, and shortened by the clock-drift bound and a margin
//! ([`LeaseTiming::local_validity_ms`]). The store counts the lease from when it
//! applied the request, which is later in real time, on the full TTL. So the node stops
//! before the store can let anyone else in, whatever the network delays and however
//! long the node was paused: an old owner that wakes up finds its deadline passed
//! before it does anything.

use crate::NodeId;
use std::collections::BTreeMap;

/// Lease timing (docs/cluster.md; `[cluster]` settings once the engine runs the
/// ownership loop).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseTiming {
    /// How long the store keeps a lease after it was granted or renewed.
    pub ttl_ms: u64,
    /// How often the holder renews.
    pub renew_every_ms: u64,
    /// Bound on how far a node's monotonic clock (and the store's) may run fast or slow
    /// against real time, in parts per million.
    pub max_drift_ppm: u64,
    /// Extra safety taken off the local deadline (store clock steps, scheduling).
    pub margin_ms: u64,
}

/// Lease timing that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimingError {
    #[error("cluster.lease_renew_ms ({renew}) must be below the local validity of a lease ({valid} ms: TTL less drift and margin), or the holder loses every lease between renewals")]
    RenewTooSlow { renew: u64, valid: u64 },
    #[error("cluster.lease_max_drift_ppm must be below 100000 (10%)")]
    DriftTooLarge,
}

impl Default for LeaseTiming {
    fn default() -> Self {
        Self {
            ttl_ms: 3_000,
            renew_every_ms: 750,
            max_drift_ppm: 1_000,
            margin_ms: 250,
        }
    }
}

impl LeaseTiming {
    /// How long after *sending* a granted request a node may act as owner, on its own
    /// clock: the TTL as the slowest allowed clock would count it, less the margin.
    pub fn local_validity_ms(&self) -> u64 {
        let drift = self
            .ttl_ms
            .saturating_mul(self.max_drift_ppm)
            .div_ceil(1_000_000);
        self.ttl_ms
            .saturating_sub(drift)
            .saturating_sub(self.margin_ms)
    }

    pub fn validate(&self) -> Result<(), TimingError> {
        if self.max_drift_ppm >= 100_000 {
            return Err(TimingError::DriftTooLarge);
        }
        let valid = self.local_validity_ms();
        if self.renew_every_ms == 0 || self.renew_every_ms >= valid {
            return Err(TimingError::RenewTooSlow {
                renew: self.renew_every_ms,
                valid,
            });
        }
        Ok(())
    }
}

/// A lease as the store keeps it: one row per key, never deleted (so an epoch is never
/// handed out twice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub holder: NodeId,
    /// Grows by one on every change of holder (and on re-acquiring after a release).
    pub epoch: u64,
    /// Wall-clock time (ms, on the holder's clock) at which it lapses unless renewed;
    /// [`RELEASED`] once its holder gave it up.
    pub expires_at: u64,
}

/// `expires_at` of a released lease: free at once.
pub const RELEASED: u64 = 0;

impl Lease {
    /// Whether a node whose wall clock reads `now` may take it: released, or past its
    /// expiry by more than `skew_ms` (the bound on the difference between two nodes'
    /// clocks), so the holder has stopped by its own clock too.
    pub fn lapsed(&self, now: u64, skew_ms: u64) -> bool {
        self.expires_at == RELEASED || self.expires_at.saturating_add(skew_ms) < now
    }

    /// Whether `node` is a later run of the holder's name: it takes the key at once (a
    /// name is one process, so its earlier run is dead — as an Orleans silo's new
    /// generation declares the old one dead); an earlier run never takes it back.
    pub fn succeeded_by(&self, node: &NodeId) -> bool {
        self.holder.name == node.name && self.holder.incarnation < node.incarnation
    }

    /// Whether `node` may renew it under `epoch`: it still holds it (not released, not
    /// taken). A renewal after the expiry is accepted as long as nobody took the key:
    /// the holder stopped acting at its own deadline, and nobody else acted since.
    pub fn renewable_by(&self, node: &NodeId, epoch: u64) -> bool {
        self.holder == *node && self.epoch == epoch && self.expires_at != RELEASED
    }

    /// Whether `node` may release it under `epoch`.
    pub fn releasable_by(&self, node: &NodeId, epoch: u64) -> bool {
        self.holder == *node && self.epoch == epoch
    }
}

/// What a node asking for a key may do, given the key's row: the one rule every store
/// implements (the embedded store in memory, the CQL store as the condition of a
/// lightweight transaction on the row it read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// No row yet: insert it with epoch 1, if there is still none.
    First,
    /// The node holds it: renew under its epoch.
    Renew { epoch: u64 },
    /// Lapsed or released: take it with `epoch + 1`, if the row still has `epoch` and is
    /// still lapsed.
    Take { epoch: u64 },
    /// Held by an earlier run of the node's name: take it with `epoch + 1` at once, if
    /// the row still has `epoch` and that holder.
    Succeed { epoch: u64 },
    /// Another node holds it.
    Held,
}

/// Decides [`Claim`] for `node` at wall-clock `now`.
pub fn claim(row: Option<&Lease>, node: &NodeId, now: u64, skew_ms: u64) -> Claim {
    match row {
        None => Claim::First,
        Some(l) if l.renewable_by(node, l.epoch) => Claim::Renew { epoch: l.epoch },
        Some(l) if l.succeeded_by(node) => Claim::Succeed { epoch: l.epoch },
        Some(l) if l.lapsed(now, skew_ms) => Claim::Take { epoch: l.epoch },
        Some(_) => Claim::Held,
    }
}

/// Why the store refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeaseError {
    #[error("held by {} (epoch {})", .0.holder, .0.epoch)]
    Held(Lease),
    #[error("the lease was lost (released or taken)")]
    Lost,
}

/// The store's rules for lease rows, one per key, in memory: the model of what the
/// stores implement (the embedded store's coordination is built on it; the CQL store
/// runs the same [`claim`] and conditions in lightweight transactions). `now` is the
/// caller's wall clock.
#[derive(Debug, Clone, Default)]
pub struct LeaseTable {
    rows: BTreeMap<String, Lease>,
}

impl LeaseTable {
    /// The row of `key` (lapsed or not).
    pub fn row(&self, key: &str) -> Option<&Lease> {
        self.rows.get(key)
    }

    /// Every row, by key.
    pub fn rows(&self) -> impl Iterator<Item = (&String, &Lease)> {
        self.rows.iter()
    }

    /// Grants `key` to `node` by [`claim`]: a new epoch when it takes the key, the
    /// same when it held it already.
    pub fn acquire(
        &mut self,
        key: &str,
        node: &NodeId,
        now: u64,
        ttl: u64,
        skew_ms: u64,
    ) -> Result<Lease, LeaseError> {
        let epoch = match claim(self.rows.get(key), node, now, skew_ms) {
            Claim::First => 1,
            Claim::Renew { epoch } => epoch,
            Claim::Take { epoch } | Claim::Succeed { epoch } => epoch + 1,
            Claim::Held => {
                let held = self.rows.get(key).cloned().ok_or(LeaseError::Lost)?;
                return Err(LeaseError::Held(held));
            }
        };
        let lease = Lease {
            holder: node.clone(),
            epoch,
            expires_at: now.saturating_add(ttl),
        };
        self.rows.insert(key.to_owned(), lease.clone());
        Ok(lease)
    }

    /// Extends the lease `node` holds with `epoch` ([`Lease::renewable_by`]).
    pub fn renew(
        &mut self,
        key: &str,
        node: &NodeId,
        epoch: u64,
        now: u64,
        ttl: u64,
    ) -> Result<Lease, LeaseError> {
        match self.rows.get_mut(key) {
            Some(l) if l.renewable_by(node, epoch) => {
                l.expires_at = now.saturating_add(ttl);
                Ok(l.clone())
            }
            _ => Err(LeaseError::Lost),
        }
    }

    /// Gives the lease up (graceful hand-off): the key is free at once; the row keeps
    /// its epoch.
    pub fn release(&mut self, key: &str, node: &NodeId, epoch: u64) -> bool {
        match self.rows.get_mut(key) {
            Some(l) if l.releasable_by(node, epoch) => {
                l.expires_at = RELEASED;
                true
            }
            _ => false,
        }
    }
}

/// A stale write refused by a row's fence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("fenced: the row was written under epoch {row_epoch} (version {row_version}); this write carries epoch {epoch} expecting version {expected}")]
pub struct Fenced {
    pub row_epoch: u64,
    pub row_version: u64,
    pub epoch: u64,
    pub expected: u64,
}

/// The compare-and-set a state row is rewritten with: the writer's epoch must be at
/// least the row's, and the version it read must still be the row's. Accepted writes
/// bump the version and record the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RowFence {
    pub epoch: u64,
    pub version: u64,
}

impl RowFence {
    pub fn write(&mut self, epoch: u64, expected_version: u64) -> Result<(), Fenced> {
        if epoch < self.epoch || expected_version != self.version {
            return Err(Fenced {
                row_epoch: self.epoch,
                row_version: self.version,
                epoch,
                expected: expected_version,
            });
        }
        self.epoch = epoch;
        self.version += 1;
        Ok(())
    }
}

/// A node's view of a lease it was granted. Times are the node's monotonic clock (ms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    pub epoch: u64,
    /// The node acts as owner strictly before this.
    pub valid_until: u64,
    /// When the last granted request was sent.
    pub sent_at: u64,
}

impl Holding {
    /// The store granted (acquired or renewed) the request sent at `sent_at`, with
    /// `epoch`.
    pub fn granted(epoch: u64, sent_at: u64, timing: &LeaseTiming) -> Self {
        Self {
            epoch,
            valid_until: sent_at + timing.local_validity_ms(),
            sent_at,
        }
    }

    /// A later grant of the same epoch (a renewal); an answer to an older request
    /// never shortens or extends past what the newest grant allows.
    pub fn renewed(&mut self, sent_at: u64, timing: &LeaseTiming) {
        if sent_at > self.sent_at {
            self.sent_at = sent_at;
            self.valid_until = self.valid_until.max(sent_at + timing.local_validity_ms());
        }
    }

    /// Whether the node may act as owner at `now`. Checked before every owner action
    /// (and after a pause, before anything else).
    pub fn may_serve(&self, now: u64) -> bool {
        now < self.valid_until
    }

    /// Time to send a renewal.
    pub fn renew_due(&self, now: u64, timing: &LeaseTiming) -> bool {
        now >= self.sent_at + timing.renew_every_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn node(name: &str, incarnation: u64) -> NodeId {
        NodeId {
            name: name.into(),
            incarnation,
        }
    }

    #[test]
    fn acquire_renew_expire_steal_release() {
        let (a, b) = (node("a", 1), node("b", 1));
        let mut t = LeaseTable::default();
        let l = t.acquire("shard/1", &a, 1_000, 100, 10).unwrap();
        assert_eq!(l.epoch, 1);
        assert_eq!(
            t.acquire("shard/1", &b, 1_050, 100, 10),
            Err(LeaseError::Held(l.clone()))
        );
        // Renewed by its holder: same epoch, later expiry.
        assert_eq!(
            t.renew("shard/1", &a, 1, 1_090, 100).unwrap().expires_at,
            1_190
        );
        // Past the expiry but within the skew: still held.
        assert!(matches!(
            t.acquire("shard/1", &b, 1_200, 100, 10),
            Err(LeaseError::Held(_))
        ));
        // Lapsed and untaken, the holder may still renew (it stopped at its own
        // deadline; nobody acted since).
        assert!(t.renew("shard/1", &a, 1, 1_195, 100).is_ok());
        // Lapsed beyond the skew: another takes it with a new epoch; the old holder
        // is refused from then on.
        assert_eq!(t.acquire("shard/1", &b, 1_306, 100, 10).unwrap().epoch, 2);
        assert_eq!(t.renew("shard/1", &a, 1, 1_307, 100), Err(LeaseError::Lost));
        // Only the holder of that epoch releases; then the key is free at once.
        assert!(!t.release("shard/1", &a, 2));
        assert!(t.release("shard/1", &b, 2));
        assert!(
            t.renew("shard/1", &b, 2, 1_308, 100).is_err(),
            "released is final"
        );
        let again = t.acquire("shard/1", &node("a", 2), 1_309, 100, 10).unwrap();
        assert_eq!(again.epoch, 3, "epochs never repeat");
        // A newer run of the holder's name takes over at once; never the reverse.
        let a3 = node("a", 3);
        assert_eq!(t.acquire("shard/1", &a3, 1_310, 100, 10).unwrap().epoch, 4);
        let stale = node("a", 2);
        assert!(matches!(
            t.acquire("shard/1", &stale, 1_311, 100, 10),
            Err(LeaseError::Held(_))
        ));
    }

    #[test]
    fn the_claim_rule() {
        let a = node("a", 2);
        let held = Lease {
            holder: a.clone(),
            epoch: 7,
            expires_at: 1_000,
        };
        assert_eq!(claim(None, &a, 0, 0), Claim::First);
        assert_eq!(claim(Some(&held), &a, 5_000, 0), Claim::Renew { epoch: 7 });
        assert_eq!(claim(Some(&held), &node("b", 1), 1_100, 100), Claim::Held);
        assert_eq!(
            claim(Some(&held), &node("b", 1), 1_101, 100),
            Claim::Take { epoch: 7 }
        );
        assert_eq!(
            claim(Some(&held), &node("a", 3), 0, 100),
            Claim::Succeed { epoch: 7 }
        );
        assert_eq!(claim(Some(&held), &node("a", 1), 500, 100), Claim::Held);
        let released = Lease {
            expires_at: RELEASED,
            ..held
        };
        assert_eq!(
            claim(Some(&released), &a, 0, 100),
            Claim::Take { epoch: 7 },
            "a released key is taken anew, even by its last holder"
        );
    }

    #[test]
    fn a_fence_refuses_an_older_epoch_and_a_stale_version() {
        let mut row = RowFence::default();
        row.write(1, 0).unwrap();
        row.write(2, 1).unwrap();
        // The old owner, paused before writing, wakes up.
        assert!(row.write(1, 1).is_err());
        // The new owner with a stale read.
        assert!(row.write(2, 1).is_err());
        row.write(2, 2).unwrap();
        assert_eq!(
            row,
            RowFence {
                epoch: 2,
                version: 3
            }
        );
    }

    #[test]
    fn timing_is_validated() {
        assert_eq!(LeaseTiming::default().validate(), Ok(()));
        assert_eq!(LeaseTiming::default().local_validity_ms(), 3_000 - 3 - 250);
        let slow = LeaseTiming {
            renew_every_ms: 3_800,
            ..LeaseTiming::default()
        };
        assert!(matches!(
            slow.validate(),
            Err(TimingError::RenewTooSlow { .. })
        ));
        let drift = LeaseTiming {
            max_drift_ppm: 100_000,
            ..LeaseTiming::default()
        };
        assert_eq!(drift.validate(), Err(TimingError::DriftTooLarge));
    }

    #[test]
    fn a_node_serves_from_its_send_time_and_stops_before_the_store_lets_go() {
        let timing = LeaseTiming::default();
        let mut h = Holding::granted(1, 1_000, &timing);
        assert!(h.may_serve(1_000 + timing.local_validity_ms() - 1));
        assert!(!h.may_serve(1_000 + timing.local_validity_ms()));
        assert!(!h.renew_due(1_749, &timing));
        assert!(h.renew_due(1_750, &timing));
        // A late answer to an older renewal changes nothing.
        h.renewed(2_000, &timing);
        let until = h.valid_until;
        h.renewed(1_500, &timing);
        assert_eq!(h.valid_until, until);
    }

    use crate::Rng;

    /// What a simulated node is doing.
    #[derive(Debug, Clone)]
    struct Sim {
        id: NodeId,
        /// Monotonic clock = offset + real × rate (rate in ppm of real time).
        offset: u64,
        rate_ppm: u64,
        /// Wall clock = real + wall_offset − SKEW/2 (within the skew bound of the
        /// others) — what the node writes into and judges lease rows by.
        wall_offset: u64,
        holding: Option<Holding>,
        /// A request in flight: (arrives at the store, monotonic send time, wall
        /// send time).
        request: Option<(u64, u64, u64)>,
        /// The store's answer in flight: (arrives at the node, epoch or lost, sent at).
        answer: Option<(u64, Option<u64>, u64)>,
        /// Paused (SIGSTOP) during [from, to) of real time.
        pause: (u64, u64),
        /// Cut off from the store during [from, to) of real time, still running:
        /// requests and answers in that window arrive only after it.
        cut: (u64, u64),
    }

    impl Sim {
        fn local(&self, real: u64) -> u64 {
            self.offset + real * self.rate_ppm / 1_000_000
        }
        /// When something sent at `real` with `delay` arrives, given the cut.
        fn arrives(&self, real: u64, delay: u64) -> u64 {
            if (self.cut.0..self.cut.1).contains(&real) {
                self.cut.1 + delay
            } else {
                real + delay
            }
        }
        fn wall(&self, real: u64) -> u64 {
            real + SKEW + self.wall_offset - SKEW / 2
        }
    }

    /// The bound on the difference between two simulated nodes' wall clocks.
    const SKEW: u64 = 500;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Three nodes with monotonic clocks drifting within the bound, wall clocks
        /// apart within the skew bound, random network delays, pauses far longer than
        /// the lease and cuts from the store (the node runs on; its requests arrive
        /// late) compete for one key through the store's rules: at no real millisecond
        /// do two nodes both believe they may serve, and the epochs of those beliefs
        /// only grow.
        #[test]
        fn at_most_one_node_may_serve_at_any_instant(
            seed in 1u64..u64::MAX,
            rates in proptest::collection::vec(999_000u64..=1_001_000, 3),
            pauses in proptest::collection::vec((0u64..20_000, 0u64..12_000), 3),
            // Clocks at the ends of the bound, where an error in it shows, most often.
            walls in proptest::collection::vec(prop_oneof![Just(0), Just(SKEW), 0u64..=SKEW], 3),
            cuts in proptest::collection::vec((0u64..20_000, 0u64..9_000), 3),
            max_delay in prop_oneof![0u64..50, 0u64..1_500],
        ) {
            let timing = LeaseTiming::default();
            let mut rng = Rng(seed);
            let mut table = LeaseTable::default();
            let mut nodes: Vec<Sim> = (0..3)
                .map(|i| Sim {
                    id: node(&format!("n{i}"), 1),
                    offset: 10_000 * i as u64,
                    rate_ppm: rates[i],
                    wall_offset: walls[i],
                    holding: None,
                    request: None,
                    answer: None,
                    pause: (pauses[i].0, pauses[i].0 + pauses[i].1),
                    cut: (cuts[i].0, cuts[i].0 + cuts[i].1),
                })
                .collect();
            let mut last_epoch = 0;
            for real in 0..30_000u64 {
                for n in nodes.iter_mut() {
                    // The store applies a request when it arrives (real time = store time).
                    if let Some((at, sent, wall)) = n.request {
                        if at == real {
                            n.request = None;
                            let res = match &n.holding {
                                Some(h) => table.renew("k", &n.id, h.epoch, wall, timing.ttl_ms),
                                None => table.acquire("k", &n.id, wall, timing.ttl_ms, SKEW),
                            };
                            let back = n.arrives(real, rng.below(max_delay + 1));
                            n.answer = Some((back, res.ok().map(|l| l.epoch), sent));
                        }
                    }
                    if (n.pause.0..n.pause.1).contains(&real) {
                        continue;
                    }
                    let now = n.local(real);
                    if let Some((at, granted, sent)) = n.answer {
                        if at <= real {
                            n.answer = None;
                            match (granted, &mut n.holding) {
                                (Some(e), Some(h)) if h.epoch == e => h.renewed(sent, &timing),
                                (Some(e), _) => n.holding = Some(Holding::granted(e, sent, &timing)),
                                (None, _) => n.holding = None,
                            }
                        }
                    }
                    if n.holding.as_ref().is_some_and(|h| !h.may_serve(now)) {
                        n.holding = None;
                    }
                    let due = n.holding.as_ref().is_none_or(|h| h.renew_due(now, &timing));
                    if due && n.request.is_none() && n.answer.is_none() {
                        let at = n.arrives(real, 1 + rng.below(max_delay + 1));
                        n.request = Some((at, now, n.wall(real)));
                    }
                }
                let serving: Vec<u64> = nodes
                    .iter()
                    .filter(|n| !(n.pause.0..n.pause.1).contains(&real))
                    .filter_map(|n| n.holding.as_ref().filter(|h| h.may_serve(n.local(real))).map(|h| h.epoch))
                    .collect();
                // A paused node does nothing; when it wakes it checks before acting
                // (above), so only running nodes can act as owner.
                prop_assert!(serving.len() <= 1, "two owners at {}: {:?}", real, serving);
                if let Some(&e) = serving.first() {
                    prop_assert!(e >= last_epoch, "epoch went back at {real}");
                    last_epoch = e;
                }
            }
        }
    }
}
