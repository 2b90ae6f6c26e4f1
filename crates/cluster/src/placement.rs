//! Who should own a key: rendezvous (highest random weight) hashing over the live
//! members. Each node scores each key with a stable hash of (key, node name); the
//! highest score wins. A node joining takes exactly the keys it now scores highest on;
//! a node leaving gives up exactly its own keys, spread over the others; every other
//! key stays where it is. The node's name, not its incarnation, is hashed, so a
//! restarted node gets its old keys back.
//!
//! Placement is a wish, not ownership: a node acts as owner only while it holds the
//! key's lease (see `lease`).

use crate::NodeId;

/// The score of `node` for `key`.
pub fn weight(key: &str, node: &NodeId) -> u64 {
    crate::hash64(&[key.as_bytes(), node.name.as_bytes()])
}

/// The member that should own `key`, if any (ties, which need equal 64-bit hashes,
/// go to the smaller name).
pub fn owner<'a>(key: &str, members: &'a [NodeId]) -> Option<&'a NodeId> {
    members.iter().max_by(|a, b| {
        weight(key, a)
            .cmp(&weight(key, b))
            .then(b.name.cmp(&a.name))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn node(name: &str) -> NodeId {
        NodeId {
            name: name.into(),
            incarnation: 1,
        }
    }

    fn keys() -> Vec<String> {
        (0..512).map(|i| format!("shard/{i}")).collect()
    }

    #[test]
    fn an_empty_cluster_owns_nothing() {
        assert_eq!(owner("shard/1", &[]), None);
    }

    #[test]
    fn three_nodes_share_the_keys_about_evenly() {
        let members = [node("a"), node("b"), node("c")];
        let mut counts = std::collections::BTreeMap::new();
        for k in keys() {
            *counts
                .entry(owner(&k, &members).unwrap().name.clone())
                .or_insert(0) += 1;
        }
        // 170.7 each expected.
        assert!(
            counts.values().all(|&n| (130..215).contains(&n)),
            "{counts:?}"
        );
    }

    #[test]
    fn a_restarted_node_gets_its_keys_back() {
        let before = [node("a"), node("b"), node("c")];
        let mut after = before.clone();
        after[1].incarnation = 2;
        for k in keys() {
            assert_eq!(
                owner(&k, &before).unwrap().name,
                owner(&k, &after).unwrap().name
            );
        }
    }

    proptest! {
        /// Removing a member moves only the keys it owned; adding one moves keys only
        /// to it.
        #[test]
        fn membership_changes_move_only_what_they_must(
            n in 2usize..8,
            gone in 0usize..8,
        ) {
            let all: Vec<NodeId> = (0..n).map(|i| node(&format!("node-{i}"))).collect();
            let gone = gone % n;
            let fewer: Vec<NodeId> = all.iter().enumerate()
                .filter(|(i, _)| *i != gone).map(|(_, m)| m.clone()).collect();
            for k in keys() {
                let with = owner(&k, &all).unwrap();
                let without = owner(&k, &fewer).unwrap();
                if *with != all[gone] {
                    // Not the leaver's: unmoved (the same in reverse when it joins).
                    prop_assert_eq!(with, without);
                } else {
                    prop_assert!(*without != all[gone]);
                }
            }
        }
    }
}
