//! Who may act as owner: leases with an epoch, and the self-fencing rule.
//!
//! The store keeps one lease row per key ([`LeaseTable`] is the model of its rules; the
//! CQL backend implements them with lightweight transactions and a TTL): a node
//! acquires a free or expired key and the epoch grows by one (the fencing token); the
//! holder renews it, with the same epoch, before it expires; a graceful stop releases
//! it. Rows that carry state and are rewritten (conversations, customers) carry the
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
            ttl_ms: 4_000,
            renew_every_ms: 1_000,
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

/// A lease as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub holder: NodeId,
    /// Grows by one on every change of holder (and on re-acquiring after a release).
    pub epoch: u64,
    /// Store time (ms) at which it lapses unless renewed.
    pub expires_at: u64,
}

/// Why the store refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeaseError {
    #[error("held by {} (epoch {})", .0.holder, .0.epoch)]
    Held(Lease),
    #[error("the lease was lost (expired or taken)")]
    Lost,
}

/// The store's rules for lease rows, one per key: what the CQL backend implements with
/// lightweight transactions (compare-and-set) and a TTL. `now` is the store's time.
#[derive(Debug, Clone, Default)]
pub struct LeaseTable {
    rows: BTreeMap<String, Lease>,
    /// Epochs ever granted per key, so a key released or expired never hands out an
    /// epoch twice (the CQL row keeps its epoch column; only the holder expires).
    epochs: BTreeMap<String, u64>,
}

impl LeaseTable {
    /// The live lease of `key` at `now`.
    pub fn get(&self, key: &str, now: u64) -> Option<&Lease> {
        self.rows.get(key).filter(|l| l.expires_at > now)
    }

    /// Grants `key` to `node` if it is free or lapsed (a new epoch), or renews it if
    /// `node` holds it already (same epoch).
    pub fn acquire(
        &mut self,
        key: &str,
        node: &NodeId,
        now: u64,
        ttl: u64,
    ) -> Result<Lease, LeaseError> {
        if let Some(l) = self.get(key, now) {
            // A newer run of the holder's name takes over at once (a name is one
            // process: its earlier run is dead).
            let succession = l.holder.name == node.name && l.holder.incarnation < node.incarnation;
            if l.holder != *node && !succession {
                return Err(LeaseError::Held(l.clone()));
            }
        }
        if let Some(l) = self.get(key, now).filter(|l| l.holder == *node) {
            let epoch = l.epoch;
            return self.renew(key, node, epoch, now, ttl);
        }
        let epoch = self.epochs.get(key).copied().unwrap_or(0) + 1;
        self.epochs.insert(key.to_owned(), epoch);
        let lease = Lease {
            holder: node.clone(),
            epoch,
            expires_at: now + ttl,
        };
        self.rows.insert(key.to_owned(), lease.clone());
        Ok(lease)
    }

    /// Extends the lease `node` holds with `epoch`; refused once it lapsed or moved.
    pub fn renew(
        &mut self,
        key: &str,
        node: &NodeId,
        epoch: u64,
        now: u64,
        ttl: u64,
    ) -> Result<Lease, LeaseError> {
        match self.rows.get_mut(key) {
            Some(l) if l.holder == *node && l.epoch == epoch && l.expires_at > now => {
                l.expires_at = now + ttl;
                Ok(l.clone())
            }
            _ => Err(LeaseError::Lost),
        }
    }

    /// Gives the lease up (graceful hand-off): the key is free at once.
    pub fn release(&mut self, key: &str, node: &NodeId, epoch: u64) -> bool {
        match self.rows.get(key) {
            Some(l) if l.holder == *node && l.epoch == epoch => {
                self.rows.remove(key);
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
        let l = t.acquire("shard/1", &a, 0, 100).unwrap();
        assert_eq!(l.epoch, 1);
        assert_eq!(
            t.acquire("shard/1", &b, 50, 100),
            Err(LeaseError::Held(l.clone()))
        );
        // Renewed by its holder: same epoch, later expiry.
        assert_eq!(t.renew("shard/1", &a, 1, 90, 100).unwrap().expires_at, 190);
        // Lapsed: the holder cannot renew, another takes it with a new epoch.
        assert_eq!(t.renew("shard/1", &a, 1, 190, 100), Err(LeaseError::Lost));
        assert_eq!(t.acquire("shard/1", &b, 190, 100).unwrap().epoch, 2);
        // Only the holder of that epoch releases; then the key is free at once.
        assert!(!t.release("shard/1", &a, 2));
        assert!(t.release("shard/1", &b, 2));
        let again = t.acquire("shard/1", &node("a", 2), 191, 100).unwrap();
        assert_eq!(again.epoch, 3, "epochs never repeat");
        // A newer run of the holder's name takes over at once; never the reverse.
        let a3 = node("a", 3);
        assert_eq!(t.acquire("shard/1", &a3, 192, 100).unwrap().epoch, 4);
        let stale = node("a", 2);
        assert!(matches!(
            t.acquire("shard/1", &stale, 193, 100),
            Err(LeaseError::Held(_))
        ));
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
        assert_eq!(LeaseTiming::default().local_validity_ms(), 4_000 - 4 - 250);
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
        assert!(!h.renew_due(1_999, &timing));
        assert!(h.renew_due(2_000, &timing));
        // A late answer to an older renewal changes nothing.
        h.renewed(2_000, &timing);
        let until = h.valid_until;
        h.renewed(1_500, &timing);
        assert_eq!(h.valid_until, until);
    }

    /// A small deterministic generator for the simulation's delays.
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            // xorshift64*
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
        }
    }

    /// What a simulated node is doing.
    #[derive(Debug, Clone)]
    struct Sim {
        id: NodeId,
        /// Local clock = offset + real × rate (rate in ppm of real time).
        offset: u64,
        rate_ppm: u64,
        holding: Option<Holding>,
        /// A request in flight: (arrives at the store, local send time, is renewal).
        request: Option<(u64, u64)>,
        /// The store's answer in flight: (arrives at the node, epoch or lost, sent at).
        answer: Option<(u64, Option<u64>, u64)>,
        /// Paused (SIGSTOP) during [from, to) of real time.
        pause: (u64, u64),
    }

    impl Sim {
        fn local(&self, real: u64) -> u64 {
            self.offset + real * self.rate_ppm / 1_000_000
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Three nodes with clocks drifting within the bound, random network delays and
        /// pauses far longer than the lease compete for one key through the store's
        /// rules: at no real millisecond do two nodes both believe they may serve, and
        /// the epochs of those beliefs only grow.
        #[test]
        fn at_most_one_node_may_serve_at_any_instant(
            seed in 1u64..u64::MAX,
            rates in proptest::collection::vec(999_000u64..=1_001_000, 3),
            pauses in proptest::collection::vec((0u64..20_000, 0u64..12_000), 3),
            max_delay in 0u64..1_500,
        ) {
            let timing = LeaseTiming::default();
            let mut rng = Rng(seed);
            let mut table = LeaseTable::default();
            let mut nodes: Vec<Sim> = (0..3)
                .map(|i| Sim {
                    id: node(&format!("n{i}"), 1),
                    offset: 10_000 * i as u64,
                    rate_ppm: rates[i],
                    holding: None,
                    request: None,
                    answer: None,
                    pause: (pauses[i].0, pauses[i].0 + pauses[i].1),
                })
                .collect();
            let mut last_epoch = 0;
            for real in 0..30_000u64 {
                for n in nodes.iter_mut() {
                    // The store applies a request when it arrives (real time = store time).
                    if let Some((at, sent)) = n.request {
                        if at == real {
                            n.request = None;
                            let res = match &n.holding {
                                Some(h) => table.renew("k", &n.id, h.epoch, real, timing.ttl_ms),
                                None => table.acquire("k", &n.id, real, timing.ttl_ms),
                            };
                            let back = real + rng.below(max_delay + 1);
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
                        n.request = Some((real + 1 + rng.below(max_delay + 1), now));
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
