//! The cost of a cross-node hop, in one run over several nodes (issue 16): where each
//! client's socket is and where its actor runs, and the customer → agent latencies
//! split by it — everything on one node (the customer's socket, its actor, the queue,
//! the agent's actor and socket) against the customer's actor, the queue and the
//! agent's socket on three different nodes.
//!
//! The sockets' nodes and ids are noted as clients connect ([`Sites`]); every measured
//! customer → agent sample is kept with who sent and who received it. The engine says
//! where each actor runs (`POST /api/v1/cluster/locate`: the key each id falls on and
//! its holder, from the store's lease rows), asked before and after the load; each
//! sample is then classed ([`split`]). Placement must not move during the run (no node
//! joins or leaves): the split is refused if the two answers differ.

use crate::nodes::NodeSet;
use crate::stats::{record_ns, Latency};
use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use protocol::rest::{LocateRequest, Located};
use protocol::{AgentId, CustomerId, QueueName};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// One customer → agent delivery: customer index, agent task, latency in ns.
struct Sample {
    customer: u32,
    agent: u32,
    ns: u64,
}

/// Where the run's clients are, and the samples to class (kept only once
/// [`Sites::enable`]d: a run on one node keeps none).
#[derive(Default)]
pub struct Sites {
    enabled: AtomicBool,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Customer index → (customer id, socket's node).
    customers: BTreeMap<u32, (String, usize)>,
    /// Agent task → (agent id, socket's node).
    agents: BTreeMap<u32, (String, usize)>,
    samples: Vec<Sample>,
}

impl Sites {
    /// Keeps the samples from now on.
    pub fn enable(&self) {
        self.enabled.store(true, Ordering::Relaxed);
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Customer `idx` (id `id`) opened its socket on node `node`.
    pub fn customer(&self, idx: u32, id: String, node: usize) {
        self.inner().customers.insert(idx, (id, node));
    }

    /// Agent task `task` (id `id`) opened its socket on node `node`.
    pub fn agent(&self, task: u32, id: String, node: usize) {
        self.inner().agents.insert(task, (id, node));
    }

    /// A measured customer → agent delivery.
    pub fn sample(&self, customer: u32, agent: u32, ns: u64) {
        if self.enabled.load(Ordering::Relaxed) {
            self.inner().samples.push(Sample {
                customer,
                agent,
                ns,
            });
        }
    }
}

/// Customer → agent latency by placement.
#[derive(Debug, Clone, Serialize)]
pub struct HopSplit {
    /// The customer's socket and actor, the queue, the agent's actor and socket all on
    /// one node.
    pub one_node: Latency,
    /// The customer's actor, the queue and the agent's socket on three different
    /// nodes.
    pub three_nodes: Latency,
    /// Every other placement.
    pub mixed: Latency,
    /// Samples whose client or key had no known place (not counted above).
    pub unplaced: u64,
}

/// Where the run's actors ran, as node indexes: customer and agent ids, and the queue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placement {
    customers: BTreeMap<String, usize>,
    agents: BTreeMap<String, usize>,
    queue: Option<usize>,
}

/// Ids asked per locate call: well under the engine's default body limit
/// (`limits.max_http_body_bytes`) at about 40 bytes an id.
const LOCATE_CHUNK: usize = 1_000;

/// The index in `nodes` of a live holder's address; `None` for a key without a live
/// holder or a holder that is not one of the run's nodes.
fn node_of(found: &Located, nodes: &NodeSet) -> Option<usize> {
    let bare = |a: &str| {
        a.trim_start_matches("http://")
            .trim_start_matches("https://")
            .trim_end_matches('/')
            .to_owned()
    };
    let address = bare(found.address.as_deref().filter(|_| found.live)?);
    nodes.iter().position(|n| bare(&n.http) == address)
}

/// Asks `api` where the actors of the run's clients (noted in `sites`) and of `queue`
/// run.
pub async fn read(
    api: &crate::net::Api,
    token: &str,
    nodes: &NodeSet,
    sites: &Sites,
    queue: &str,
) -> Result<Placement> {
    let (customers, agents) = {
        let inner = sites.inner();
        let customers: Vec<CustomerId> = inner
            .customers
            .values()
            .map(|(id, _)| CustomerId::parse(id).with_context(|| format!("customer id {id}")))
            .collect::<Result<_>>()?;
        let agents: Vec<AgentId> = inner
            .agents
            .values()
            .map(|(id, _)| AgentId::parse(id).with_context(|| format!("agent id {id}")))
            .collect::<Result<_>>()?;
        (customers, agents)
    };
    let queue = QueueName::parse(queue).with_context(|| format!("queue {queue}"))?;
    // The queue with the first chunk of customers; the agents in chunks after them.
    let mut asks: Vec<LocateRequest> = customers
        .chunks(LOCATE_CHUNK)
        .map(|c| LocateRequest {
            customers: c.to_vec(),
            ..Default::default()
        })
        .chain(agents.chunks(LOCATE_CHUNK).map(|a| LocateRequest {
            agents: a.to_vec(),
            ..Default::default()
        }))
        .collect();
    match asks.first_mut() {
        Some(first) => first.queues.push(queue),
        None => asks.push(LocateRequest {
            queues: vec![queue],
            ..Default::default()
        }),
    }
    let mut out = Placement::default();
    for ask in &asks {
        let found = api.locate(token, ask).await?;
        if let Some(q) = found.queues.first() {
            out.queue = node_of(q, nodes);
        }
        place(&mut out.customers, found.customers, nodes);
        place(&mut out.agents, found.agents, nodes);
    }
    Ok(out)
}

fn place(into: &mut BTreeMap<String, usize>, found: Vec<Located>, nodes: &NodeSet) {
    for f in found {
        if let Some(node) = node_of(&f, nodes) {
            into.insert(f.id, node);
        }
    }
}

/// Classes the kept samples by where their actors ran.
pub fn split(sites: &Sites, placed: &Placement) -> Result<HopSplit> {
    let inner = sites.inner();
    let customer_of = |idx: u32| -> Option<(usize, usize)> {
        let (id, socket) = inner.customers.get(&idx)?;
        Some((*socket, *placed.customers.get(id)?))
    };
    let agent_of = |task: u32| -> Option<(usize, usize)> {
        let (id, socket) = inner.agents.get(&task)?;
        Some((*placed.agents.get(id)?, *socket))
    };
    let hist = || Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3);
    let (mut one, mut three, mut mixed) = (hist()?, hist()?, hist()?);
    let mut unplaced = 0;
    for s in &inner.samples {
        let (Some((c_socket, c_actor)), Some((a_actor, a_socket)), Some(q)) =
            (customer_of(s.customer), agent_of(s.agent), placed.queue)
        else {
            unplaced += 1;
            continue;
        };
        let h = match class(c_socket, c_actor, q, a_actor, a_socket) {
            Class::OneNode => &mut one,
            Class::ThreeNodes => &mut three,
            Class::Mixed => &mut mixed,
        };
        record_ns(h, s.ns);
    }
    Ok(HopSplit {
        one_node: Latency::of(&one),
        three_nodes: Latency::of(&three),
        mixed: Latency::of(&mixed),
        unplaced,
    })
}

#[derive(Debug, PartialEq, Eq)]
enum Class {
    OneNode,
    ThreeNodes,
    Mixed,
}

/// The placement class of one delivery, from the nodes of the customer's socket and
/// actor, the queue, and the agent's actor and socket.
fn class(c_socket: usize, c_actor: usize, queue: usize, a_actor: usize, a_socket: usize) -> Class {
    if [c_actor, queue, a_actor, a_socket]
        .iter()
        .all(|n| *n == c_socket)
    {
        Class::OneNode
    } else if c_actor != queue && queue != a_socket && c_actor != a_socket {
        Class::ThreeNodes
    } else {
        Class::Mixed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_are_classed_by_where_their_parts_ran() {
        assert_eq!(class(1, 1, 1, 1, 1), Class::OneNode);
        // The customer's actor, the queue and the agent's socket on three nodes,
        // whatever the rest.
        assert_eq!(class(0, 0, 1, 2, 2), Class::ThreeNodes);
        assert_eq!(class(2, 0, 1, 0, 2), Class::ThreeNodes);
        // Two of the three on one node.
        assert_eq!(class(0, 0, 0, 1, 1), Class::Mixed);
        // Everything on one node but the customer's socket.
        assert_eq!(class(2, 1, 1, 1, 1), Class::Mixed);
    }

    fn located(id: &str, address: &str, live: bool) -> Located {
        Located {
            id: id.into(),
            key: "shard/0".into(),
            holder: Some("node-x".into()),
            address: Some(address.into()),
            epoch: Some(1),
            live,
        }
    }

    #[test]
    fn holders_are_matched_to_nodes_by_address() {
        let nodes = NodeSet::parse(&["http://127.0.0.1:8181,http://127.0.0.1:8182"]).unwrap();
        let mut into = BTreeMap::new();
        place(
            &mut into,
            vec![
                located("a", "127.0.0.1:8182", true),
                located("b", "http://127.0.0.1:8181/", true),
                // A key waiting for a new owner, and a holder not in the run.
                located("c", "127.0.0.1:8181", false),
                located("d", "127.0.0.1:9999", true),
            ],
            &nodes,
        );
        assert_eq!(
            into,
            BTreeMap::from([("a".to_owned(), 1), ("b".to_owned(), 0)])
        );
    }

    #[test]
    fn samples_are_split_by_where_their_actors_ran() {
        let sites = Sites::default();
        sites.sample(0, 0, 1_000); // not enabled: not kept
        sites.enable();
        sites.customer(0, "c0".into(), 0);
        sites.customer(1, "c1".into(), 0);
        sites.agent(0, "ren1".into(), 2);
        sites.agent(1, "ren2".into(), 0);
        sites.sample(0, 1, 2_000_000); // all on node 0
        sites.sample(1, 0, 3_000_000); // c1's actor on 1, queue on 0, ren1's socket on 2
        sites.sample(0, 0, 4_000_000); // the agent's socket elsewhere: mixed
        sites.sample(7, 0, 2_000_000); // an unknown customer
        let placed = Placement {
            customers: BTreeMap::from([("c0".into(), 0), ("c1".into(), 1)]),
            agents: BTreeMap::from([("ren1".into(), 0), ("ren2".into(), 0)]),
            queue: Some(0),
        };
        let s = split(&sites, &placed).unwrap();
        assert_eq!(
            (
                s.one_node.samples,
                s.three_nodes.samples,
                s.mixed.samples,
                s.unplaced
            ),
            (1, 1, 1, 1)
        );
        assert_eq!(s.one_node.p50, Some(2.0));
        let three = s.three_nodes.p50.unwrap();
        assert!((three - 3.0).abs() < 0.01, "{three}");
    }
}
