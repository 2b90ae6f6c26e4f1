//! What a node runs for the keys it holds, when actors are placed on several nodes
//! (`cluster.placement = "spread"`, docs/cluster.md): the ownership loop's changes turn
//! into actors started and stopped.
//!
//! - **A shard gained**: the agents of the shard who hold conversations get their
//!   actors back (as at a restart: `RestoreHeld`, then they wait for their agent to
//!   reconnect); its customers' replies left undelivered are sent again; its
//!   customers' actors start on their first message and load themselves from the
//!   store.
//! - **A queue gained**: its actor starts and reloads the conversations waiting in it
//!   from the store before anything else, then the agents of every node re-announce
//!   themselves to it (`Engine::take_queue`).
//! - **The hub gained**: the live hub starts here; queues and agents re-announce.
//! - **Lost** (handed over, taken, or past this node's deadline): the key's actors
//!   stop at once, with no write — [`Handover`] — and the next owner reloads them from
//!   the store. The ownership loop has already stopped answering `owns` for the key,
//!   so a message still on its way here is answered `moved` and follows the key.
//! - The other singletons (notifications, callback sweeps, idempotency expiry) are
//!   tasks every node runs that act only while this node holds their key
//!   (`Engine::runs`).

use super::agent::AgentActor;
use super::hub::LiveHub;
use super::queue::QueueActor;
use super::Engine;
use crate::domain::AgentId;
use actix::prelude::*;
use cluster::ownership::Change;
use cluster::shard::{OwnerKey, ShardId, Singleton};
use std::collections::BTreeSet;
use tokio::sync::mpsc::UnboundedReceiver;

/// Most undelivered replies read back when shards are taken (the rest go out at the
/// next takeover or restart).
const OUTBOX_RESUME_LIMIT: usize = 10_000;

/// Stop now, writing nothing: another node owns this actor's key (or will).
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct Handover;

impl Handler<Handover> for AgentActor {
    type Result = ();
    fn handle(&mut self, _: Handover, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

impl Handler<Handover> for QueueActor {
    type Result = ();
    fn handle(&mut self, _: Handover, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

impl Handler<Handover> for LiveHub {
    type Result = ();
    fn handle(&mut self, _: Handover, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

impl Engine {
    /// Whether this node runs `singleton` now: always without a cluster; in one, while
    /// it holds the singleton's key.
    pub fn runs(&self, singleton: Singleton) -> bool {
        match self.cluster() {
            None => true,
            Some(c) => c.owns(&super::mail::Cluster::singleton_key(singleton)),
        }
    }
}

/// Applies the ownership loop's changes until the channel closes or the engine stops
/// (held weakly: the shutdown waits for the engine's last holder). Changes that arrive
/// together are applied together (a node joining takes many shards at once: one read
/// of the open conversations serves them all).
pub async fn run(engine: super::registry::WeakEngine, mut changes: UnboundedReceiver<Change>) {
    while let Some(first) = changes.recv().await {
        let mut batch = vec![first];
        while let Ok(more) = changes.try_recv() {
            batch.push(more);
        }
        let Some(engine) = engine.upgrade() else {
            return;
        };
        apply(&engine, batch).await;
    }
}

async fn apply(engine: &Engine, batch: Vec<Change>) {
    let mut gained_shards = BTreeSet::new();
    for change in batch {
        match change {
            Change::Gained { key, epoch } => match OwnerKey::parse(&key) {
                Some(OwnerKey::Shard(s)) => {
                    gained_shards.insert(s);
                }
                Some(OwnerKey::Queue(q)) => {
                    tracing::info!(queue = %q, epoch, "queue taken: its actor starts here");
                    engine.take_queue(&q);
                }
                Some(OwnerKey::Singleton(Singleton::Hub)) => {
                    tracing::info!(epoch, "live hub taken: it starts here");
                    engine.start_hub();
                    // Its figures start from what the queues and agents announce now.
                    for q in engine.queue_names() {
                        engine.tell_queue(&q, super::messages::Republish);
                    }
                    engine.republish_agents();
                }
                _ => {}
            },
            Change::Lost { key, why } => match OwnerKey::parse(&key) {
                Some(OwnerKey::Shard(s)) => {
                    tracing::info!(shard = s.0, ?why, "shard lost: its actors stop here");
                    drop_shard(engine, s);
                }
                Some(OwnerKey::Queue(q)) => {
                    tracing::info!(queue = %q, ?why, "queue lost: its actor stops here");
                    engine.stop_queue(&q);
                }
                Some(OwnerKey::Singleton(Singleton::Hub)) => engine.stop_hub(),
                _ => {}
            },
        }
    }
    if !gained_shards.is_empty() {
        tracing::info!(shards = ?gained_shards.iter().map(|s| s.0).collect::<Vec<_>>(), "shards taken: their actors start here");
        if let Err(e) = restore_shards(engine, &gained_shards).await {
            tracing::error!(error = %e, shards = gained_shards.len(), "shards taken, but their agents' conversations could not be read");
        }
    }
}

/// Stops the actors of a shard's customers and agents here, with no write.
fn drop_shard(engine: &Engine, shard: ShardId) {
    let Some(c) = engine.cluster() else {
        return;
    };
    for id in engine.live_customer_ids() {
        if c.shards.customer(id) == shard {
            if let Some(a) = engine.running_customer(id) {
                a.do_send(super::customer::identity::Evict);
            }
        }
    }
    for id in engine.agent_ids() {
        if c.shards.agent(&id) == shard {
            if let Some(a) = engine.agent(&id) {
                a.do_send(Handover);
            }
        }
    }
}

/// The agents of `shards` holding conversations get their actors, as after a restart.
async fn restore_shards(
    engine: &Engine,
    shards: &BTreeSet<ShardId>,
) -> Result<(), crate::store::StoreError> {
    let Some(c) = engine.cluster().cloned() else {
        return Ok(());
    };
    let open = engine.store.open_conversations().await?;
    for conv in &open {
        engine.bump_enqueue_seq_above(conv.enqueue_seq);
    }
    let by_agent = super::agent::restores(&open, |a: &AgentId| shards.contains(&c.shards.agent(a)));
    // Replies the shards' last owner left undelivered go out from here.
    let mut resent = 0usize;
    for o in engine.store.pending_outbox(OUTBOX_RESUME_LIMIT).await? {
        if shards.contains(&c.shards.customer(o.customer_id)) {
            engine.deliver(o.into());
            resent += 1;
        }
    }
    if resent > 0 {
        tracing::info!(
            resent,
            "replies left undelivered by the shards' last owner resubmitted"
        );
    }
    for (agent, restore) in by_agent {
        // Between the read and now the shard may have moved on again.
        if !engine.is_here::<AgentActor>(&agent) {
            continue;
        }
        tracing::info!(%agent, held = restore.conversations.len(), parked = restore.parked.len(), "agent's conversations restored here");
        match engine.store.agent(&agent).await? {
            Some(profile) => engine.agent_or_start(profile).do_send(restore),
            None => tracing::warn!(%agent, "agent gone; its conversations stay assigned"),
        }
    }
    Ok(())
}
