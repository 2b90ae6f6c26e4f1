//! The cluster core: the rules by which engine nodes share one contact center over the
//! CQL store (docs/cluster.md). Pure: no I/O, no clock, no actors — times are passed in
//! (milliseconds of a node's monotonic clock, or of the store's), so every rule is
//! tested on a manual clock.
//!
//! - [`shard`]: what is owned — every customer and agent id maps to one of a fixed
//!   number of shards; each queue and each singleton has a key of its own
//!   ([`shard::OwnerKey`]).
//! - [`placement`]: who should own it — rendezvous (highest random weight) hashing over
//!   the live members, so a member joining or leaving moves only the keys it takes or
//!   gives up.
//! - [`lease`]: who may act as owner — a lease per key with an epoch that grows on every
//!   takeover (the fencing token), the one rule every store applies ([`lease::claim`],
//!   kept in memory by [`lease::LeaseTable`], made LWT conditions by the CQL backend)
//!   and a node's own view ([`lease::Holding`]), which stops serving before the store
//!   can let anyone else take the key (self-fencing on the node's monotonic clock).
//! - [`membership`]: who is in the cluster — a lease row per node (`node/<name>`) with
//!   its address, live until it lapses.
//! - [`ownership`]: one node's ownership loop as pure decisions — which keys to take,
//!   renew and hand over each round, and which to stop acting on.
//! - [`envelope`]: node-to-node messages — addressed to a key's owner under an epoch,
//!   with a deadline; who sends where ([`envelope::route`]) and who may act on what
//!   arrives ([`envelope::admit`]).
//! - [`quorum`]: whether a node cut off from its peers (but not from the store) may
//!   go on serving, or stands aside until it reaches a majority of the members again.
//! - [`clock`]: whether a node's wall clock is close enough to the store's for the
//!   lease rows' expiry times to mean the same on every node.

pub mod clock;
pub mod envelope;
pub mod lease;
pub mod membership;
pub mod ownership;
pub mod placement;
pub mod quorum;
pub mod shard;

/// A node of the cluster: its name (stable across restarts, e.g. the host) and the
/// incarnation of its current run (new at every start), so a restarted node is never
/// mistaken for its previous run.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct NodeId {
    pub name: String,
    pub incarnation: u64,
}

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}#{}", self.name, self.incarnation)
    }
}

/// 64-bit FNV-1a over `bytes` followed by a finaliser (splitmix64), so that similar
/// inputs spread over the whole range. Stable across builds and machines: every node
/// must compute the same shard and the same placement.
pub(crate) fn hash64(parts: &[&[u8]]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    for p in parts {
        for b in p.iter().copied().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(PRIME);
        }
    }
    // splitmix64 finaliser.
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// A small deterministic generator for the simulations' delays (xorshift64*).
#[cfg(test)]
pub(crate) struct Rng(pub u64);

#[cfg(test)]
impl Rng {
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_hash_is_pinned() {
        // Nodes of different builds must agree: changing this breaks a rolling upgrade.
        assert_eq!(super::hash64(&[b"a"]), super::hash64(&[b"a"]));
        assert_ne!(super::hash64(&[b"ab", b"c"]), super::hash64(&[b"a", b"bc"]));
        assert_eq!(super::hash64(&[]), 0xf52a_15e9_a9b5_e89b);
    }
}
