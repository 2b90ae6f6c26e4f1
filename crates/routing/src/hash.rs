//! A fast, non-cryptographic hasher for the router's hash maps.
//!
//! Owns only hashing. The router's maps are keyed by conversation ids (random v4 UUIDs
//! made by the engine) and agent ids (slugs chosen by admins): neither is chosen by an
//! untrusted party, so hash flooding is not a concern, while SipHash was a fifth of the
//! cost of a decision. Must not be used for maps keyed by client-supplied data.

use std::hash::{BuildHasherDefault, Hasher};

/// FxHash-style word mixing with a murmur3 finaliser (so every input bit reaches the
/// low bits the hash table indexes with).
#[derive(Debug, Default, Clone, Copy)]
pub struct FastHasher(u64);

const K: u64 = 0x517c_c1b7_2722_0a95;

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 56));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

/// `HashMap<K, V, FastState>`.
pub type FastState = BuildHasherDefault<FastHasher>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, Hash};

    #[test]
    fn distinct_inputs_spread() {
        let s = FastState::default();
        let mut low = std::collections::HashSet::new();
        for i in 0..1_000u32 {
            let id = format!("agent-{i:05}");
            low.insert(s.hash_one(id.as_str()) & 0x3ff);
        }
        // 1,000 keys into 1,024 buckets: a decent hash leaves few collisions.
        assert!(low.len() > 550, "{}", low.len());
        let mut h1 = FastHasher::default();
        "ab".hash(&mut h1);
        let mut h2 = FastHasher::default();
        "ba".hash(&mut h2);
        assert_ne!(h1.finish(), h2.finish());
    }
}
