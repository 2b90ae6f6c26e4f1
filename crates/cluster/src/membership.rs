//! Who is in the cluster: every running node holds a lease row of its own,
//! `node/<name>` (its membership), renewed with the keys it owns and carrying the
//! address other nodes reach it at. A member is live while its row has not lapsed
//! (the same rule as any lease, `Lease::lapsed`); a node that stops renewing drops out
//! of the live members once its row lapses, and a graceful stop releases it at once.
//! Placement is computed over the live members only.

use crate::lease::Lease;
use crate::NodeId;

/// The prefix of membership keys.
pub const PREFIX: &str = "node/";

/// The lease key of the member named `name`.
pub fn key(name: &str) -> String {
    format!("{PREFIX}{name}")
}

/// The member's name, when `key` is a membership key.
pub fn name(key: &str) -> Option<&str> {
    key.strip_prefix(PREFIX).filter(|n| !n.is_empty())
}

/// A member as the lease rows show it to a node whose wall clock reads `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub node: NodeId,
    pub address: String,
    /// Its row has not lapsed (released, or past its expiry by more than the skew).
    pub live: bool,
    /// Wall-clock ms until its row expires (negative once past).
    pub expires_in_ms: i64,
}

/// The members among `rows` (key, lease, address), by name.
pub fn members<'a>(
    rows: impl IntoIterator<Item = (&'a str, &'a Lease, &'a str)>,
    now: u64,
    skew_ms: u64,
) -> Vec<Member> {
    let mut out: Vec<Member> = rows
        .into_iter()
        .filter(|(key, _, _)| name(key).is_some())
        .map(|(_, lease, address)| Member {
            node: lease.holder.clone(),
            address: address.to_owned(),
            live: !lease.lapsed(now, skew_ms),
            expires_in_ms: lease.expires_at as i64 - now as i64,
        })
        .collect();
    out.sort_by(|a, b| a.node.name.cmp(&b.node.name));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(name: &str, expires_at: u64) -> Lease {
        Lease {
            holder: NodeId {
                name: name.into(),
                incarnation: 1,
            },
            epoch: 1,
            expires_at,
        }
    }

    #[test]
    fn members_are_the_node_rows_live_until_they_lapse() {
        assert_eq!(key("host:8080"), "node/host:8080");
        assert_eq!(name("node/host:8080"), Some("host:8080"));
        assert_eq!(name("node/"), None);
        assert_eq!(name("shard/1"), None);
        let (b, a, gone, released, shard) = (
            lease("b", 10_000),
            lease("a", 9_000),
            lease("gone", 4_000),
            lease("left", crate::lease::RELEASED),
            lease("a", 10_000),
        );
        let rows = [
            ("node/b", &b, "10.0.0.2:8080"),
            ("node/a", &a, "10.0.0.1:8080"),
            ("node/gone", &gone, ""),
            ("node/left", &released, ""),
            ("shard/1", &shard, ""),
        ];
        let m = members(rows, 9_400, 500);
        let names: Vec<(&str, bool)> = m.iter().map(|m| (m.node.name.as_str(), m.live)).collect();
        assert_eq!(
            names,
            [("a", true), ("b", true), ("gone", false), ("left", false)]
        );
        assert_eq!(m[0].address, "10.0.0.1:8080");
        assert_eq!(
            m[0].expires_in_ms, -400,
            "past expiry, within the skew: live"
        );
    }
}
