//! What the agent and customer tasks of `messages` and `failover` ([`crate::agent`],
//! [`crate::customer`]) share about their socket: the session a `welcome` opens, the
//! records of a socket opened (node tally, ledger), the end of a reconnection, and the
//! waits of their event loops (the next frame, the reconnection's end).

use crate::clock;
use crate::failover::Resilience;
use crate::net::Conn;
use crate::nodes::{NodeSet, Role};
use crate::stats::Shared;
use anyhow::Result;
use std::fmt;
use tokio::task::{JoinError, JoinHandle};

/// A client socket past its `welcome`, with what the welcome brought (`W`).
pub struct Session<W> {
    /// The node it is on.
    pub(crate) node: usize,
    pub(crate) conn: Conn,
    /// When it was opened ([`clock`] ns).
    pub(crate) opened: u64,
    pub(crate) welcome: W,
}

/// One agent or customer task, as the records of its sockets know it.
pub(crate) struct Client<'a> {
    pub role: Role,
    /// Its number in the ledger: the agent's task number, the customer's index.
    pub idx: u32,
    pub nodes: &'a NodeSet,
    pub shared: &'a Shared,
    /// `failover` only: reconnect, and record in the ledger.
    pub resilience: Option<&'a Resilience>,
}

impl Client<'_> {
    /// A socket opened on `node` at `at` ([`clock`] ns); `again`: a reconnection.
    /// Counted at the node and, with resilience, in the ledger.
    pub fn opened(&self, node: usize, at: u64, again: bool) {
        self.nodes.node(node).tally.opened(self.role, again);
        if let Some(r) = self.resilience {
            r.ledger.opened(self.role, self.idx, at);
        }
    }

    /// A reconnection finished (`done`). Its new session is recorded as opened and
    /// returned, for the task to take up. A reconnection that gave up, or a task that
    /// failed, is a harness error (`who: …`), also in the ledger's error timeline; then
    /// `None`: the task stops.
    pub fn reconnected<W>(
        &self,
        done: Result<Result<Session<W>>, JoinError>,
        who: fmt::Arguments<'_>,
    ) -> Option<Session<W>> {
        let (kind, detail) = match done {
            Ok(Ok(session)) => {
                self.opened(session.node, session.opened, true);
                return Some(session);
            }
            Ok(Err(e)) => {
                let kind = match self.role {
                    Role::Agent => "agent_reconnect_failed",
                    Role::Customer => "customer_reconnect_failed",
                };
                (kind, format!("{who}: {e:#}"))
            }
            Err(e) => ("task_failed", format!("{who}: {e}")),
        };
        if let Some(r) = self.resilience {
            r.ledger.error(clock::now_ns());
        }
        self.shared.harness_error(kind, detail);
        None
    }
}

/// The next frame of the socket; pending while there is none (reconnecting).
pub(crate) async fn next_frame(conn: &mut Option<Conn>) -> Option<Result<String>> {
    match conn {
        Some(c) => Conn::next_text(&mut c.rx).await,
        None => std::future::pending().await,
    }
}

/// The end of the task in `handle`; pending while there is none.
pub(crate) async fn joined<T>(handle: &mut Option<JoinHandle<T>>) -> Result<T, JoinError> {
    match handle {
        Some(h) => h.await,
        None => std::future::pending().await,
    }
}
