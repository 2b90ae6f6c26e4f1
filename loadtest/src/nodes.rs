//! The engine nodes a run talks to (`--url`, one or several): which node each client
//! tries first and in what order it falls back, how long it waits between rounds of
//! attempts, which node the admin (REST) calls go to, and per-node tallies for the
//! report.
//!
//! The selection is pure and unit tested ([`NodeSet::home`], [`NodeSet::order`],
//! [`first_ready`], [`Backoff::delay`]); the I/O around it is small: [`NodeSet::admin`]
//! probes `/readyz`, [`NodeSet::one_round`] and [`NodeSet::until_connected`] run a
//! caller's connect attempt on node after node. What a connect attempt is (a login, a
//! websocket handshake, a `welcome`) belongs to the agent and customer tasks, not here.
//!
//! Why a fallback at all: with active/standby on the CQL store only one engine of the
//! set is ready at a time; the others answer `/readyz` 503 `standby` and refuse every
//! other request (a websocket upgrade included) with 503 `unavailable`. A client whose
//! node refuses it tries the next one.

use crate::net::{ws_base, Api};
use crate::stats::Count;
use anyhow::{anyhow, bail, ensure, Result};
use serde::Serialize;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::time::Duration;
use tokio::time::Instant;

/// Which kind of client: agents and customers start on different nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Agent,
    Customer,
}

/// One engine address.
pub struct Node {
    /// `http://host:port`, no trailing slash: REST calls and `/readyz`.
    pub http: String,
    /// `ws://host:port`: the websockets.
    pub ws: String,
    /// What happened at this node during the run.
    pub tally: NodeTally,
}

/// Per-node counts, bumped by the client tasks.
#[derive(Debug, Default)]
pub struct NodeTally {
    /// Agent sockets opened here (first connections and reconnections).
    pub agent_connects: Count,
    /// Customer sockets opened here.
    pub customer_connects: Count,
    /// Of those, reconnections (a client whose socket had dropped).
    pub reconnects: Count,
    /// Connect attempts this node refused or failed (not ready, unreachable).
    pub refused: Count,
    /// Agent sockets open here now.
    agents_now: AtomicU64,
    /// Customer sockets open here now.
    customers_now: AtomicU64,
}

impl NodeTally {
    /// A socket of `role` opened here (`again`: a reconnection).
    pub fn opened(&self, role: Role, again: bool) {
        match role {
            Role::Agent => {
                self.agent_connects.inc();
                self.agents_now.fetch_add(1, SeqCst);
            }
            Role::Customer => {
                self.customer_connects.inc();
                self.customers_now.fetch_add(1, SeqCst);
            }
        }
        if again {
            self.reconnects.inc();
        }
    }

    /// A socket of `role` that was open here ended.
    pub fn closed(&self, role: Role) {
        let gauge = match role {
            Role::Agent => &self.agents_now,
            Role::Customer => &self.customers_now,
        };
        // Never below zero, whatever the order of events.
        let _ = gauge.fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1));
    }

    /// Sockets of `role` open here now.
    pub fn open_now(&self, role: Role) -> u64 {
        match role {
            Role::Agent => self.agents_now.load(SeqCst),
            Role::Customer => self.customers_now.load(SeqCst),
        }
    }
}

/// The per-node line of a report.
#[derive(Debug, Clone, Serialize)]
pub struct NodeCounts {
    pub url: String,
    /// Agent sockets opened on this node (first connections and reconnections).
    pub agent_connects: u64,
    /// Customer sockets opened on this node.
    pub customer_connects: u64,
    /// Of those, reconnections.
    pub reconnects: u64,
    /// Connect attempts this node refused (not ready, unreachable).
    pub refused: u64,
}

/// The engine nodes of a run, in `--url` order.
pub struct NodeSet {
    nodes: Vec<Node>,
}

impl NodeSet {
    /// `--url` values: each may itself be a comma-separated list (`--url A,B` and
    /// `--url A --url B` mean the same). Empty entries are ignored; a repeated URL or
    /// an empty set is refused.
    pub fn parse<S: AsRef<str>>(values: &[S]) -> Result<NodeSet> {
        let mut nodes: Vec<Node> = Vec::new();
        for v in values {
            for part in v.as_ref().split(',') {
                let http = part.trim().trim_end_matches('/');
                if http.is_empty() {
                    continue;
                }
                let ws = ws_base(http)?;
                ensure!(
                    nodes.iter().all(|n| n.http != http),
                    "--url {http} is given twice"
                );
                nodes.push(Node {
                    http: http.to_owned(),
                    ws,
                    tally: NodeTally::default(),
                });
            }
        }
        ensure!(!nodes.is_empty(), "--url: no engine address given");
        Ok(NodeSet { nodes })
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn node(&self, i: usize) -> &Node {
        &self.nodes[i % self.nodes.len()]
    }

    pub fn iter(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter()
    }

    /// The URLs, comma-separated (one URL: exactly that URL).
    pub fn label(&self) -> String {
        self.urls().join(",")
    }

    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.http.clone()).collect()
    }

    /// The node a client tries first: agent `i` on node `i % n`, customer `j` on node
    /// `(j + 1) % n`, so that an agent and a customer are usually on different nodes.
    pub fn home(&self, role: Role, index: usize) -> usize {
        let n = self.nodes.len();
        match role {
            Role::Agent => index % n,
            Role::Customer => (index + 1) % n,
        }
    }

    /// Every node once, starting at `first` and wrapping around: the order of one
    /// round of connect attempts.
    pub fn order(&self, first: usize) -> impl Iterator<Item = usize> {
        let n = self.nodes.len();
        (0..n).map(move |k| (first + k) % n)
    }

    /// Where a client whose socket on node `dropped` ended starts its next round: the
    /// node after it (the one that just failed is the least likely to serve).
    pub fn after(&self, dropped: usize) -> usize {
        (dropped + 1) % self.nodes.len()
    }

    /// Sockets of `role` open now, all nodes together.
    pub fn open_now(&self, role: Role) -> u64 {
        self.nodes.iter().map(|n| n.tally.open_now(role)).sum()
    }

    /// The per-node lines of a report.
    pub fn counts(&self) -> Vec<NodeCounts> {
        self.nodes
            .iter()
            .map(|n| NodeCounts {
                url: n.http.clone(),
                agent_connects: n.tally.agent_connects.get(),
                customer_connects: n.tally.customer_connects.get(),
                reconnects: n.tally.reconnects.get(),
                refused: n.tally.refused.get(),
            })
            .collect()
    }

    /// The node the admin and REST setup calls go to: the first one answering
    /// `/readyz` 200, polled every `poll` for at most `timeout`. With a single URL that
    /// URL, unprobed (as before there were several).
    pub async fn admin(&self, poll: Duration, timeout: Duration) -> Result<usize> {
        if self.nodes.len() == 1 {
            return Ok(0);
        }
        let apis = self
            .nodes
            .iter()
            .map(|n| Api::new(&n.http))
            .collect::<Result<Vec<_>>>()?;
        let deadline = Instant::now() + timeout;
        loop {
            let mut states = Vec::with_capacity(apis.len());
            for api in &apis {
                states.push(Readiness::of(api.readyz().await));
            }
            if let Some(i) = first_ready(&states) {
                return Ok(i);
            }
            if Instant::now() >= deadline {
                let seen: Vec<String> = self
                    .nodes
                    .iter()
                    .zip(&states)
                    .map(|(n, s)| format!("{}: {s}", n.http))
                    .collect();
                bail!(
                    "no engine answered /readyz 200 within {:.0}s ({})",
                    timeout.as_secs_f64(),
                    seen.join("; ")
                );
            }
            tokio::time::sleep(poll).await;
        }
    }

    /// One round: `attempt(node)` on every node in [`NodeSet::order`] from `first`
    /// until one succeeds; each failure is tallied as a refusal at its node. The error
    /// names every node's failure.
    pub async fn one_round<T, F, Fut>(&self, first: usize, mut attempt: F) -> Result<(usize, T)>
    where
        F: FnMut(usize) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut failures = Vec::new();
        for i in self.order(first) {
            match attempt(i).await {
                Ok(t) => return Ok((i, t)),
                Err(e) => {
                    self.nodes[i].tally.refused.inc();
                    failures.push(if self.nodes.len() == 1 {
                        format!("{e:#}")
                    } else {
                        format!("{}: {e:#}", self.nodes[i].http)
                    });
                }
            }
        }
        Err(anyhow!(failures.join("; ")))
    }

    /// Rounds of [`NodeSet::one_round`] from `first`, waiting [`Backoff::delay`]
    /// between them (scaled by `jitter()`, a draw in `[0, 1]`), until one succeeds or
    /// `backoff.give_up` has passed.
    pub async fn until_connected<T, F, Fut>(
        &self,
        first: usize,
        backoff: Backoff,
        mut jitter: impl FnMut() -> f64,
        mut attempt: F,
    ) -> Result<(usize, T)>
    where
        F: FnMut(usize) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let deadline = Instant::now() + backoff.give_up;
        let mut round = 0u32;
        loop {
            match self.one_round(first, &mut attempt).await {
                Ok(r) => return Ok(r),
                Err(e) => {
                    let wait = backoff.delay(round, jitter());
                    if Instant::now() + wait >= deadline {
                        bail!(
                            "no node accepted within {:.1}s ({} rounds); last: {e:#}",
                            backoff.give_up.as_secs_f64(),
                            round + 1
                        );
                    }
                    tokio::time::sleep(wait).await;
                    round = round.saturating_add(1);
                }
            }
        }
    }
}

/// What a node's `/readyz` said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// 200: serving.
    Ready,
    /// Another status (503 `standby`, 503 while the store is unreachable…).
    NotReady(u16),
    /// No HTTP answer (nothing listening, timed out).
    Unreachable,
}

impl Readiness {
    /// From the status of a `/readyz` call, or its failure.
    pub fn of(status: Result<u16>) -> Readiness {
        match status {
            Ok(200) => Readiness::Ready,
            Ok(s) => Readiness::NotReady(s),
            Err(_) => Readiness::Unreachable,
        }
    }
}

impl std::fmt::Display for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Readiness::Ready => write!(f, "ready"),
            Readiness::NotReady(s) => write!(f, "HTTP {s}"),
            Readiness::Unreachable => write!(f, "unreachable"),
        }
    }
}

/// The first ready node, in `--url` order.
pub fn first_ready(states: &[Readiness]) -> Option<usize> {
    states.iter().position(|s| *s == Readiness::Ready)
}

/// How a client waits between rounds of connect attempts, and for how long it tries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// Wait after the first failed round.
    pub min: Duration,
    /// Longest wait between rounds.
    pub max: Duration,
    /// Give up after trying this long.
    pub give_up: Duration,
}

impl Backoff {
    /// The wait after failed round `round` (0-based): `min · 2^round`, at most `max`,
    /// scaled into `[half, all]` of that by `jitter` in `[0, 1]` so that clients that
    /// lost their node together do not all come back in the same millisecond.
    pub fn delay(&self, round: u32, jitter: f64) -> Duration {
        let full = self
            .min
            .saturating_mul(1u32.checked_shl(round.min(31)).unwrap_or(u32::MAX))
            .min(self.max);
        full.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(n: usize) -> NodeSet {
        let urls: Vec<String> = (0..n)
            .map(|i| format!("http://127.0.0.1:{}", 8000 + i))
            .collect();
        NodeSet::parse(&urls).unwrap()
    }

    #[test]
    fn parses_commas_and_repeats() {
        let a = NodeSet::parse(&["http://h:1,http://h:2/", " http://h:3 "]).unwrap();
        assert_eq!(a.urls(), ["http://h:1", "http://h:2", "http://h:3"]);
        assert_eq!(a.node(1).ws, "ws://h:2");
        assert_eq!(a.label(), "http://h:1,http://h:2,http://h:3");
        // The single-URL form is that URL.
        let one = NodeSet::parse(&["http://127.0.0.1:8080"]).unwrap();
        assert_eq!(one.label(), "http://127.0.0.1:8080");
        assert!(NodeSet::parse(&["http://h:1,http://h:1"]).is_err());
        assert!(NodeSet::parse(&[",", ""]).is_err());
        assert!(NodeSet::parse(&["https://h:1"]).is_err());
    }

    #[test]
    fn agents_and_customers_start_on_different_nodes() {
        let s = set(2);
        assert_eq!(
            (0..4).map(|i| s.home(Role::Agent, i)).collect::<Vec<_>>(),
            [0, 1, 0, 1]
        );
        assert_eq!(
            (0..4)
                .map(|j| s.home(Role::Customer, j))
                .collect::<Vec<_>>(),
            [1, 0, 1, 0]
        );
        let s = set(3);
        assert_eq!(s.home(Role::Agent, 5), 2);
        assert_eq!(s.home(Role::Customer, 5), 0);
        // One node: everyone on it.
        let s = set(1);
        assert_eq!((s.home(Role::Agent, 7), s.home(Role::Customer, 7)), (0, 0));
    }

    #[test]
    fn a_round_visits_every_node_once_from_the_first() {
        let s = set(3);
        assert_eq!(s.order(0).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(s.order(2).collect::<Vec<_>>(), [2, 0, 1]);
        assert_eq!(s.order(4).collect::<Vec<_>>(), [1, 2, 0]);
        assert_eq!(s.after(2), 0);
        assert_eq!(set(1).order(0).collect::<Vec<_>>(), [0]);
        assert_eq!(set(1).after(0), 0);
    }

    #[test]
    fn the_first_ready_node_is_chosen() {
        use Readiness::*;
        assert_eq!(first_ready(&[NotReady(503), Ready, Ready]), Some(1));
        assert_eq!(first_ready(&[Unreachable, NotReady(503)]), None);
        assert_eq!(first_ready(&[]), None);
        assert_eq!(Readiness::of(Ok(200)), Ready);
        assert_eq!(Readiness::of(Ok(503)), NotReady(503));
        assert_eq!(Readiness::of(Err(anyhow!("refused"))), Unreachable);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter_between_half_and_all() {
        let b = Backoff {
            min: Duration::from_millis(50),
            max: Duration::from_millis(500),
            give_up: Duration::from_secs(60),
        };
        assert_eq!(b.delay(0, 1.0), Duration::from_millis(50));
        assert_eq!(b.delay(1, 1.0), Duration::from_millis(100));
        assert_eq!(b.delay(3, 1.0), Duration::from_millis(400));
        assert_eq!(b.delay(4, 1.0), Duration::from_millis(500));
        assert_eq!(b.delay(u32::MAX, 1.0), Duration::from_millis(500));
        assert_eq!(b.delay(0, 0.0), Duration::from_millis(25));
        assert_eq!(b.delay(9, 0.0), Duration::from_millis(250));
        assert_eq!(b.delay(9, 7.0), Duration::from_millis(500));
    }

    /// A round falls through refusing nodes to the one that accepts, tallying the
    /// refusals; a round where every node refuses names each failure.
    #[tokio::test]
    async fn a_round_falls_back_and_tallies_refusals() {
        let s = set(3);
        let (i, v) = s
            .one_round(1, |i| async move {
                if i == 0 {
                    Ok(i * 10)
                } else {
                    Err(anyhow!("503 standby"))
                }
            })
            .await
            .unwrap();
        assert_eq!((i, v), (0, 0));
        let refused: Vec<u64> = s.counts().iter().map(|c| c.refused).collect();
        assert_eq!(refused, [0, 1, 1]);
        let e = s
            .one_round(0, |_| async { Err::<(), _>(anyhow!("refused")) })
            .await
            .unwrap_err()
            .to_string();
        assert_eq!(e.matches("refused").count(), 3, "{e}");
    }

    /// Rounds repeat until a node accepts, and stop at the give-up time (paused clock:
    /// the waits take no real time).
    #[tokio::test(start_paused = true)]
    async fn rounds_repeat_until_accepted_or_given_up() {
        let s = set(2);
        let b = Backoff {
            min: Duration::from_millis(100),
            max: Duration::from_millis(400),
            give_up: Duration::from_secs(2),
        };
        let mut tries = 0;
        let (i, ()) = s
            .until_connected(
                0,
                b,
                || 1.0,
                |i| {
                    tries += 1;
                    let ok = tries > 5 && i == 1;
                    async move {
                        if ok {
                            Ok(())
                        } else {
                            Err(anyhow!("not yet"))
                        }
                    }
                },
            )
            .await
            .unwrap();
        assert_eq!((i, tries), (1, 6));
        let t0 = Instant::now();
        let e = s
            .until_connected(0, b, || 1.0, |_| async { Err::<(), _>(anyhow!("down")) })
            .await
            .unwrap_err();
        assert!(e.to_string().contains("no node accepted"), "{e}");
        assert!(t0.elapsed() <= Duration::from_secs(2));
    }

    #[test]
    fn tallies_count_open_sockets_per_role() {
        let s = set(2);
        s.node(0).tally.opened(Role::Agent, false);
        s.node(1).tally.opened(Role::Customer, false);
        s.node(1).tally.opened(Role::Customer, true);
        s.node(1).tally.closed(Role::Customer);
        s.node(0).tally.closed(Role::Customer); // none open there: stays at zero
        assert_eq!(s.open_now(Role::Agent), 1);
        assert_eq!(s.open_now(Role::Customer), 1);
        let c = s.counts();
        assert_eq!((c[1].customer_connects, c[1].reconnects), (2, 1));
    }
}
