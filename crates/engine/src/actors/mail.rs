//! Where an actor's messages go when actors live on several nodes: the engine's
//! [`Cluster`] handle (this node's ownership loop, its node-to-node [`Peers`] and the
//! shard map), and the keys that say which node runs a customer, agent or queue
//! actor (`cluster::shard`). Without a cluster (one engine, or active/standby) every
//! actor is here and nothing crosses a wire.

use crate::domain::{AgentId, CustomerId, QueueName};
use crate::ownership::Driver;
use crate::peers::Peers;
use cluster::shard::{OwnerKey, ShardMap, Singleton};
use std::sync::Arc;

/// This node's part in a cluster whose actors are placed on several nodes.
pub struct Cluster {
    /// The ownership loop: which keys this node holds, and who holds the others.
    pub driver: Arc<Driver>,
    /// Node-to-node messages to a key's owner.
    pub peers: Arc<Peers>,
    /// Customer and agent ids to shards (`cluster.shards`).
    pub shards: ShardMap,
}

impl Cluster {
    /// This node's name (sessions are addressed by it: `node/<name>`).
    pub fn node_name(&self) -> &str {
        &self.driver.node().name
    }

    /// The lease key of the customer's shard.
    pub fn customer_key(&self, id: CustomerId) -> String {
        OwnerKey::Shard(self.shards.customer(id)).as_key()
    }

    /// The lease key of the agent's shard.
    pub fn agent_key(&self, id: &AgentId) -> String {
        OwnerKey::Shard(self.shards.agent(id)).as_key()
    }

    /// The lease key of a queue.
    pub fn queue_key(name: &QueueName) -> String {
        OwnerKey::Queue(name.clone()).as_key()
    }

    /// The lease key of a singleton.
    pub fn singleton_key(s: Singleton) -> String {
        OwnerKey::Singleton(s).as_key()
    }

    /// The membership key of a node: messages to its sockets go there.
    pub fn node_key(name: &str) -> String {
        cluster::membership::key(name)
    }

    /// Whether this node holds `key` now (by its own deadline).
    pub fn owns(&self, key: &str) -> bool {
        self.driver.owns(key).is_some()
    }
}

impl super::Engine {
    /// Joins the engine to a cluster whose actors are placed on several nodes. Set once
    /// at start-up, before any actor runs; later calls are ignored.
    pub fn set_cluster(&self, cluster: Arc<Cluster>) {
        let _ = self.cluster.set(cluster);
    }

    /// The cluster this engine's actors are placed in, if any.
    pub fn cluster(&self) -> Option<&Arc<Cluster>> {
        self.cluster.get()
    }
}
