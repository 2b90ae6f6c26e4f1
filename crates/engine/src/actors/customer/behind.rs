//! Events whose push to the agent was lost. In a cluster a customer's events reach its
//! agent's actor on another node by a told message; when that node refuses it (its
//! peer queue full, `busy`), misses the deadline or is between owners, the event is
//! stored and acknowledged but the agent never saw it. The customer's actor then asks
//! the agent's actor to catch up ([`CatchUp`]: it reads the conversation and pushes
//! what it has not shown) from a task of its own, retried with a growing delay, so
//! the actor itself never waits for an agent. One task per customer: losses that
//! come while it runs only raise the newest event it asks about. A customer's actor
//! that starts in a cluster asks the same way about the newest event it found.

use super::*;
use crate::actors::agent::shown::widen;
use crate::domain::{AgentId, EventId};
use std::sync::{Arc, Mutex};

/// The first wait before asking, and the longest between attempts.
const FIRST_DELAY: Duration = Duration::from_millis(200);
const MAX_DELAY: Duration = Duration::from_secs(4);
/// Attempts before giving up (about a minute at the longest delay); the agent's next
/// welcome still lists the conversation whole.
const MAX_ATTEMPTS: u32 = 20;

/// What the agent missed, shared between the actor and its catch-up task.
#[derive(Default)]
pub(super) struct Behind(Arc<Mutex<BehindState>>);

#[derive(Default)]
struct BehindState {
    /// A task is asking.
    running: bool,
    /// The newest lost event still to ask about, with its conversation and agent.
    missed: Option<Missed>,
}

#[derive(Clone)]
struct Missed {
    agent: AgentId,
    conversation_id: ConversationId,
    /// The oldest lost, when known.
    first: Option<EventId>,
    last: EventId,
}

impl CustomerActor {
    /// Tells the agent holding `conv` about one of its events; a loss is repaired by a
    /// catch-up (see the module doc).
    pub(super) fn tell_agent_event(&self, conv: &Conversation, msg: ConversationEvent) {
        let Some(agent) = conv.agent.clone() else {
            return;
        };
        if self.engine.cluster().is_none() {
            // One node: delivered here or not at all (an agent not connected reloads
            // from the store), so there is no loss to repair and nothing to prepare.
            self.engine.tell_agent(&agent, msg);
            return;
        }
        let missed = Missed {
            agent: agent.clone(),
            conversation_id: msg.conversation_id,
            first: Some(msg.event.id),
            last: msg.event.id,
        };
        let (behind, engine, customer) = (self.behind.0.clone(), self.engine.clone(), self.id);
        self.engine.tell_agent_or_else(&agent, msg, move || {
            missed_by(engine, customer, behind, missed)
        });
    }

    /// The agent holding `conv` may have missed its events up to `last` (this actor
    /// started on a node that took its shard, and the old one may have died between
    /// storing an event and telling the agent): it is asked to catch up, as after a
    /// lost event.
    pub(super) fn agent_may_have_missed(&self, conv: &Conversation, last: EventId) {
        let Some(agent) = conv.agent.clone() else {
            return;
        };
        let missed = Missed {
            agent,
            conversation_id: conv.id,
            first: None,
            last,
        };
        missed_by(self.engine.clone(), self.id, self.behind.0.clone(), missed);
    }
}

/// Records what the agent missed, and starts the customer's catch-up task unless it
/// runs.
fn missed_by(
    engine: Engine,
    customer: CustomerId,
    behind: Arc<Mutex<BehindState>>,
    missed: Missed,
) {
    let start = {
        let mut s = behind.lock().unwrap_or_else(|p| p.into_inner());
        s.missed = Some(match s.missed.take() {
            Some(m) if m.conversation_id == missed.conversation_id => {
                let (first, last) = widen((m.first, m.last), (missed.first, missed.last));
                Missed {
                    first,
                    last,
                    ..missed
                }
            }
            _ => missed,
        });
        !std::mem::replace(&mut s.running, true)
    };
    if start {
        actix::spawn(catch_up(engine, customer, behind));
    }
}

/// Asks the agent to catch up until it took the newest missed event (or the attempts
/// run out).
async fn catch_up(engine: Engine, customer: CustomerId, behind: Arc<Mutex<BehindState>>) {
    let lock = || behind.lock().unwrap_or_else(|p| p.into_inner());
    let mut delay = FIRST_DELAY;
    for _ in 0..MAX_ATTEMPTS {
        actix_rt::time::sleep(delay).await;
        let m = {
            let mut s = lock();
            match s.missed.take() {
                Some(m) => m,
                None => {
                    s.running = false;
                    return;
                }
            }
        };
        let asked = engine
            .ask_agent(
                &m.agent,
                CatchUp {
                    conversation_id: m.conversation_id,
                    customer_id: customer,
                    first: m.first,
                    last: m.last,
                },
            )
            .await;
        match asked {
            Ok(()) => {
                crate::metrics::agent_catch_ups("asked", 1);
                delay = FIRST_DELAY;
            }
            Err(e) => {
                tracing::debug!(%customer, agent = %m.agent, error = %e, "agent catch-up not delivered; asking again");
                let mut s = lock();
                if s.missed.is_none() {
                    s.missed = Some(m);
                }
                delay = (delay * 2).min(MAX_DELAY);
            }
        }
    }
    let mut s = lock();
    if let Some(m) = s.missed.take() {
        crate::metrics::agent_catch_ups("given_up", 1);
        tracing::warn!(%customer, agent = %m.agent, conversation = %m.conversation_id, "agent catch-up given up; its next welcome lists the conversation");
    }
    s.running = false;
}
