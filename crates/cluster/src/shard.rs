//! What is owned. Customers and agents are many: each id maps to one of a fixed number
//! of shards (`cluster.shards`, recorded in the keyspace and changed only with every
//! node stopped, since it decides where every actor lives), and a shard is owned as a
//! whole. Queues and the singletons are few and each is owned on its own. [`OwnerKey::as_key`] is
//! the text the lease rows are keyed by.

use domain::{AgentId, CustomerId, QueueName};

/// Shards per cluster unless configured: enough for a few dozen nodes to get an even
/// share (rendezvous over 256 keys), few enough that a takeover reloads little at once.
pub const DEFAULT_SHARDS: u32 = 256;

/// One shard of customers and agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ShardId(pub u32);

/// The fixed number of shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardMap {
    shards: u32,
}

/// A shard count of zero.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cluster.shards must be at least 1")]
pub struct NoShards;

impl ShardMap {
    pub fn new(shards: u32) -> Result<Self, NoShards> {
        if shards == 0 {
            return Err(NoShards);
        }
        Ok(Self { shards })
    }

    pub fn shards(&self) -> u32 {
        self.shards
    }

    /// Every shard, in order.
    pub fn all(&self) -> impl Iterator<Item = ShardId> {
        (0..self.shards).map(ShardId)
    }

    /// The shard of a customer.
    pub fn customer(&self, id: CustomerId) -> ShardId {
        self.of(b"customer", id.as_bytes())
    }

    /// The shard of an agent.
    pub fn agent(&self, id: &AgentId) -> ShardId {
        self.of(b"agent", id.as_str().as_bytes())
    }

    /// The shard whose owner keeps the failed-login counters of `name` (a client
    /// address or an account name, as typed).
    pub fn login(&self, name: &str) -> ShardId {
        self.of(b"login", name.as_bytes())
    }

    fn of(&self, kind: &[u8], id: &[u8]) -> ShardId {
        ShardId((crate::hash64(&[kind, id]) % u64::from(self.shards)) as u32)
    }
}

/// The processes that run once per cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Singleton {
    /// The live metrics hub the supervisors watch.
    Hub,
    /// Scheduled notifications.
    Notifier,
    /// Callbacks due again.
    CallbackSweeper,
    /// The embedded store's idempotency expiry (the CQL store expires by TTL).
    IdempotencyExpiry,
    /// The outbound event stream's deliveries and its journal's pruning.
    EventStream,
}

impl Singleton {
    pub const ALL: [Singleton; 5] = [
        Singleton::Hub,
        Singleton::Notifier,
        Singleton::CallbackSweeper,
        Singleton::IdempotencyExpiry,
        Singleton::EventStream,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Singleton::Hub => "hub",
            Singleton::Notifier => "notifier",
            Singleton::CallbackSweeper => "callback-sweeper",
            Singleton::IdempotencyExpiry => "idempotency-expiry",
            Singleton::EventStream => "event-stream",
        }
    }
}

/// The lease of the active engine of an active/standby pair (one placement, `single`):
/// whoever holds it runs every actor.
pub const ACTIVE_ENGINE_KEY: &str = "singleton/active-engine";

/// Anything a node can own.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OwnerKey {
    Shard(ShardId),
    Queue(QueueName),
    Singleton(Singleton),
}

impl OwnerKey {
    /// The lease row's key: `shard/17`, `queue/support`, `singleton/hub`. Distinct for
    /// distinct keys (queue names are slugs without `/`).
    pub fn as_key(&self) -> String {
        match self {
            OwnerKey::Shard(s) => format!("shard/{}", s.0),
            OwnerKey::Queue(q) => format!("queue/{}", q.as_str()),
            OwnerKey::Singleton(s) => format!("singleton/{}", s.as_str()),
        }
    }

    /// The key a lease row is keyed by, read back ([`OwnerKey::as_key`]); `None` for
    /// any other row (memberships, the active-engine lease, a key of a newer build).
    pub fn parse(key: &str) -> Option<OwnerKey> {
        let (kind, rest) = key.split_once('/')?;
        match kind {
            "shard" => rest.parse().ok().map(|n| OwnerKey::Shard(ShardId(n))),
            "queue" => QueueName::parse(rest).ok().map(OwnerKey::Queue),
            "singleton" => Singleton::ALL
                .into_iter()
                .find(|s| s.as_str() == rest)
                .map(OwnerKey::Singleton),
            _ => None,
        }
    }
}

/// The store's setting that records the shard count a keyspace's spread nodes run
/// with (decimal text), written by the first spread node to join.
pub const COUNT_SETTING: &str = "cluster.shards";

/// What a joining spread node does about the recorded shard count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CountRecord {
    /// The record agrees: nothing to write.
    Agrees,
    /// No record yet, or one nobody live runs with any more: write this node's count.
    Write,
}

/// A joining node's shard count differs from the one live members run with: the
/// same id would map to different shards on different nodes, so two of them could
/// each run an actor for one customer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "cluster.shards is {mine} here but {recorded} in this keyspace, and members run \
     with it ({}); give every node the same cluster.shards (to change it, stop every \
     node first)",
    live.join(", ")
)]
pub struct CountMismatch {
    pub mine: u32,
    pub recorded: u32,
    pub live: Vec<String>,
}

/// The rule for a node joining with `mine` shards when the keyspace records
/// `recorded` (None: not yet, or unreadable as a count) and `live` names the live
/// members. A different count is taken over only when no member is live: every node
/// was stopped, so nothing runs with the old map.
pub fn check_count(
    recorded: Option<u32>,
    mine: u32,
    live: &[String],
) -> Result<CountRecord, CountMismatch> {
    match recorded {
        Some(r) if r == mine => Ok(CountRecord::Agrees),
        Some(r) if !live.is_empty() => Err(CountMismatch {
            mine,
            recorded: r,
            live: live.to_vec(),
        }),
        _ => Ok(CountRecord::Write),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn a_different_shard_count_is_refused_while_a_member_runs_with_the_recorded_one() {
        let live = vec!["node-a".to_owned()];
        assert_eq!(check_count(None, 12, &live), Ok(CountRecord::Write));
        assert_eq!(check_count(Some(12), 12, &live), Ok(CountRecord::Agrees));
        let e = check_count(Some(12), 16, &live).unwrap_err();
        assert_eq!((e.mine, e.recorded), (16, 12));
        assert!(e.to_string().contains("node-a"), "{e}");
        // Nobody runs with the old map: the new count is recorded.
        assert_eq!(check_count(Some(12), 16, &[]), Ok(CountRecord::Write));
    }

    #[test]
    fn zero_shards_is_refused() {
        assert_eq!(ShardMap::new(0), Err(NoShards));
    }

    #[test]
    fn customers_spread_evenly_and_always_to_the_same_shard() {
        let map = ShardMap::new(64).unwrap();
        let mut counts: BTreeMap<ShardId, usize> = BTreeMap::new();
        for i in 0..64_000u128 {
            let id = CustomerId::from_bytes(i.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes());
            let s = map.customer(id);
            assert_eq!(map.customer(id), s, "stable");
            *counts.entry(s).or_default() += 1;
        }
        assert_eq!(counts.len(), 64, "every shard used");
        // 1,000 expected per shard; a good hash stays well within ±20%.
        assert!(
            counts.values().all(|&n| (800..1_200).contains(&n)),
            "{counts:?}"
        );
    }

    #[test]
    fn keys_read_back_as_what_they_own() {
        let mut keys = vec![
            OwnerKey::Shard(ShardId(0)),
            OwnerKey::Shard(ShardId(255)),
            OwnerKey::Queue(QueueName::parse("support").unwrap()),
        ];
        keys.extend(Singleton::ALL.map(OwnerKey::Singleton));
        for k in keys {
            assert_eq!(OwnerKey::parse(&k.as_key()), Some(k));
        }
        for other in [
            "node/a",
            "singleton/active-engine",
            "shard/x",
            "shard/",
            "queue/Not A Slug",
            "nothing",
        ] {
            assert_eq!(OwnerKey::parse(other), None, "{other}");
        }
    }

    #[test]
    fn keys_name_what_they_own() {
        let q = QueueName::parse("support").unwrap();
        assert_eq!(OwnerKey::Shard(ShardId(17)).as_key(), "shard/17");
        assert_eq!(OwnerKey::Queue(q).as_key(), "queue/support");
        assert_eq!(
            OwnerKey::Singleton(Singleton::Hub).as_key(),
            "singleton/hub"
        );
        let agent = AgentId::parse("alice").unwrap();
        let map = ShardMap::new(DEFAULT_SHARDS).unwrap();
        assert!(map.agent(&agent).0 < DEFAULT_SHARDS);
    }
}
