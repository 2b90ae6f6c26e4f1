//! The quorum watch of a spread-placement node (docs/cluster.md, "Partitions"): every
//! `cluster.quorum_check_ms` it pings the other live members (a [`Ping`] on each one's
//! membership key, concurrently, each for at most `cluster.peer_ping_timeout_ms`),
//! and the cluster core's rule ([`cluster::quorum`]) decides whether this node still
//! reaches a majority of them. One that has not for `cluster.quorum_loss_ms` **stands
//! aside** — the ownership loop hands its keys and its membership over at once
//! ([`Driver::stand_aside`]), so the majority takes them at its next round instead of
//! waiting for them to lapse — and keeps pinging; once it has reached a majority again
//! for `cluster.quorum_regain_ms` it joins anew and takes its share back.
//!
//! A member counts as reached when it answers the ping, or answered any other
//! request of this node within the last two rounds: under load a ping waits behind
//! the actors' messages to that peer and may miss its deadline although the peer
//! answers them. A member whose host refuses the connection — nothing listens at its address: the
//! process died, or has joined and is not serving yet — is not counted at all (it
//! serves nobody either); one that does not answer in time is counted, unreachable.
//!
//! The store alone still decides who owns what: the watch only makes this node give
//! its keys up (or ask for them again) under the usual lease rules, so a wrong verdict
//! costs availability, never a second owner.

use crate::ownership::Driver;
use crate::peers::{Peers, Ping, SendError};
use cluster::envelope::Owner;
use cluster::membership;
use cluster::quorum::{majority, Quorum, QuorumTiming, Verdict};
use std::collections::BTreeSet;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// The watch's settings.
#[derive(Debug, Clone, Copy)]
pub struct QuorumConfig {
    pub timing: QuorumTiming,
    /// How long each ping may take.
    pub ping_timeout: Duration,
}

/// Watches this node's reach on the current runtime until the driver stops.
pub fn watch(driver: &Arc<Driver>, peers: Arc<Peers>, config: QuorumConfig) {
    crate::metrics::standing_aside(false);
    tokio::spawn(run(Arc::downgrade(driver), peers, config));
}

async fn run(driver: Weak<Driver>, peers: Arc<Peers>, config: QuorumConfig) {
    let origin = Instant::now();
    let mut quorum = Quorum::new(config.timing);
    let mut tick = tokio::time::interval(Duration::from_millis(config.timing.check_ms.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(driver) = driver.upgrade() else {
            return;
        };
        if driver.stopping() {
            return;
        }
        let me = driver.node().name.clone();
        let others: Vec<Owner> = driver
            .members()
            .into_iter()
            .filter(|m| m.live && m.node.name != me)
            .filter_map(|m| {
                let row = driver.row(&membership::key(&m.node.name))?;
                Some(Owner {
                    node: m.node,
                    address: m.address,
                    epoch: row.lease.epoch,
                })
            })
            .collect();
        let answers = futures_util::future::join_all(others.into_iter().map(|owner| {
            let peers = peers.clone();
            async move {
                let name = owner.node.name.clone();
                let address = owner.address.clone();
                let key = membership::key(&name);
                let answer = peers
                    .ask_at(owner, &key, &Ping {}, config.ping_timeout)
                    .await;
                (name, address, answer)
            }
        }))
        .await;
        // Other traffic answered within two rounds counts as an answer too.
        let recent = Duration::from_millis(2 * config.timing.check_ms.max(1));
        let mut names = BTreeSet::new();
        let mut reachable = BTreeSet::new();
        for (name, address, answer) in answers {
            match answer {
                Ok(_) => {
                    reachable.insert(name.clone());
                }
                // Nothing listens there: not counted.
                Err(SendError::Unreachable { refused: true, .. }) => continue,
                Err(_) if peers.answered_within(&address, recent) => {
                    reachable.insert(name.clone());
                }
                Err(_) => {}
            }
            names.insert(name);
        }
        crate::metrics::cluster_reachable(reachable.len() + 1);
        let had = quorum.verdict();
        let now = origin.elapsed().as_millis() as u64;
        let verdict = quorum.observe(majority(&names, &reachable), now);
        if verdict == had {
            continue;
        }
        let (live, reach) = (names.len() + 1, reachable.len() + 1);
        match verdict {
            Verdict::StandAside => tracing::error!(
                node = %driver.node(),
                reachable = reach,
                live,
                "standing aside: this node has reached only {reach} of the {live} live \
                 members for {} ms; it hands its keys over until it reaches a majority",
                config.timing.loss_ms
            ),
            Verdict::Serve => tracing::warn!(
                node = %driver.node(),
                reachable = reach,
                live,
                "rejoining: this node reaches {reach} of the {live} live members again"
            ),
        }
        driver.stand_aside(verdict == Verdict::StandAside);
        crate::metrics::standing_aside(verdict == Verdict::StandAside);
    }
}
