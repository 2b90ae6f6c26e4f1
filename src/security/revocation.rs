//! Staff token revocation. Every staff token carries its agent's *token generation*
//! at issue time; a token is valid only while that generation is current. Logging out,
//! disabling an agent or changing its role bumps the generation (durably, in the
//! store's `settings` under `auth/token_gen/{agent}`), which revokes every token issued
//! before and closes the agent's open sockets at once (close code 4001).
//!
//! The generation is cached per agent after its first read. Sessions register a
//! [`CloseSession`] recipient here while they are open. Deliberately absent: revocation
//! is not broadcast to other engine nodes (each node owns its agents' sockets).

use crate::domain::{AgentId, Millis};
use crate::store::{Batch, SharedStore, StoreError};
use actix::prelude::*;
use dashmap::DashMap;
use std::collections::HashMap;

/// Close code of a socket whose token was revoked (logout, agent disabled, role
/// changed).
pub const CLOSE_REVOKED: u16 = 4001;
/// Close code of a socket whose token expired while it was open.
pub const CLOSE_EXPIRED: u16 = 4002;

/// The token a staff socket was opened with, checked on every heartbeat: any staff
/// session (agent, supervisor) holds one, registers a [`CloseSession`] recipient with
/// [`Revocations::register`] in `started`, and closes when [`TokenWatch::check`] fails.
#[derive(Debug, Clone)]
pub struct TokenWatch {
    pub agent_id: AgentId,
    pub exp: crate::domain::Millis,
    pub gen: u64,
}

impl TokenWatch {
    /// `Err((close code, reason))` once the token expired (engine clock) or was revoked.
    pub fn check(&self, now: Millis, guards: &super::Guards) -> Result<(), (u16, &'static str)> {
        if self.exp <= now {
            return Err((CLOSE_EXPIRED, "token expired"));
        }
        if guards
            .revocations
            .cached(&self.agent_id)
            .is_some_and(|g| g != self.gen)
        {
            return Err((CLOSE_REVOKED, "token revoked"));
        }
        Ok(())
    }

    /// [`TokenWatch::check`] on a socket's heartbeat: a failure is counted in
    /// `switchboard_ws_refused_total` (`expired` or `revoked`).
    pub fn on_heartbeat(
        &self,
        now: Millis,
        guards: &super::Guards,
    ) -> Result<(), (u16, &'static str)> {
        self.check(now, guards).inspect_err(|(code, _)| {
            crate::metrics::ws_refused(if *code == CLOSE_EXPIRED {
                "expired"
            } else {
                "revoked"
            })
        })
    }
}

/// Tells a staff session to close with this code and reason.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct CloseSession {
    pub code: u16,
    pub reason: &'static str,
}

/// Token generations and the open staff sessions per agent.
#[derive(Default)]
pub struct Revocations {
    /// agent -> current token generation (cached from the store).
    generations: DashMap<AgentId, u64>,
    /// agent -> session id -> where to send [`CloseSession`].
    sessions: DashMap<AgentId, HashMap<u64, Recipient<CloseSession>>>,
}

fn key(agent: &AgentId) -> String {
    format!("auth/token_gen/{agent}")
}

impl Revocations {
    /// The agent's current token generation (0 until the first revocation).
    pub async fn generation(
        &self,
        store: &SharedStore,
        agent: &AgentId,
    ) -> Result<u64, StoreError> {
        if let Some(g) = self.generations.get(agent) {
            return Ok(*g);
        }
        let stored = match store.setting(&key(agent)).await? {
            Some(bytes) => <[u8; 8]>::try_from(bytes.as_slice())
                .map(u64::from_be_bytes)
                .map_err(|_| StoreError::Corrupt(format!("{}: not a u64", key(agent))))?,
            None => 0,
        };
        // A revocation that raced with this read has already put a newer value.
        Ok(*self.generations.entry(agent.clone()).or_insert(stored))
    }

    /// The cached generation, if this node has read it (sync: for session heartbeats).
    pub fn cached(&self, agent: &AgentId) -> Option<u64> {
        self.generations.get(agent).map(|g| *g)
    }

    /// Revokes every token of `agent` issued so far and closes its open sockets.
    /// Returns the new generation, durable when this returns.
    pub async fn revoke(
        &self,
        store: &SharedStore,
        agent: &AgentId,
        reason: &'static str,
    ) -> Result<u64, StoreError> {
        let next = self.generation(store, agent).await? + 1;
        store
            .commit(Batch {
                settings: vec![(key(agent), next.to_be_bytes().to_vec())],
                ..Default::default()
            })
            .await?;
        self.generations
            .entry(agent.clone())
            .and_modify(|g| *g = (*g).max(next))
            .or_insert(next);
        self.close_sessions(agent, CLOSE_REVOKED, reason);
        tracing::info!(agent = %agent, reason, "staff tokens revoked");
        Ok(next)
    }

    /// Asks every open session of `agent` to close.
    pub fn close_sessions(&self, agent: &AgentId, code: u16, reason: &'static str) {
        if let Some(sessions) = self.sessions.get(agent) {
            for r in sessions.values() {
                r.do_send(CloseSession { code, reason });
            }
        }
    }

    /// A staff session opened (call from its `started`).
    pub fn register(&self, agent: &AgentId, session_id: u64, r: Recipient<CloseSession>) {
        self.sessions
            .entry(agent.clone())
            .or_default()
            .insert(session_id, r);
    }

    /// A staff session closed (call from its `stopped`).
    pub fn unregister(&self, agent: &AgentId, session_id: u64) {
        self.sessions.remove_if_mut(agent, |_, m| {
            m.remove(&session_id);
            m.is_empty()
        });
    }
}
