//! Login throttling shared by spread nodes (docs/security.md, "Login throttling";
//! docs/cluster.md): an attacker spreading guesses over every node behind a
//! round-robin load balancer gets the same budget as against one node.
//!
//! Each counter lives on one node: the lock-out counts of a client address (its
//! failures, and each account's failures from it) on the owner of that address's
//! shard, the alarm count of an account on the owner of the account's shard (shards
//! as `cluster::shard::ShardMap::login` names them). A login asks those owners over
//! the node-to-node link ([`crate::peers`]; at home when this node owns the shard),
//! and each owner keeps its counters in its own [`LoginLimiter`]. It owns no other
//! state.
//!
//! An owner that does not answer within the deadline costs the login no more than
//! that: the node counts on its own limiter instead (the per-node throttling of a
//! single engine), and says so in a warning. A shard that moves takes no counts
//! with it: the new owner starts them again (as a restarted engine does).

use super::login_limit::{Alarm, Blocked, LoginLimiter};
use crate::domain::Millis;
use crate::peers::{Peers, Refusal, Wire};
use cluster::shard::{OwnerKey, ShardMap};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Whether a login for `account` from `ip` may be tried (asked of `ip`'s owner).
#[derive(Debug, Serialize, Deserialize)]
struct Check {
    account: String,
    ip: String,
    now: Millis,
}

impl Wire for Check {
    const KIND: &'static str = "login.check";
    /// Blocked: the seconds to wait and by what (`account` or `ip`).
    type Reply = Option<(u64, String)>;
}

/// A failed login, counted by `ip`'s owner (the lock-out).
#[derive(Debug, Serialize, Deserialize)]
struct FailedFrom {
    account: String,
    ip: String,
    now: Millis,
}

impl Wire for FailedFrom {
    const KIND: &'static str = "login.failed_from";
    type Reply = ();
}

/// A failed login, counted by `account`'s owner (the alarm).
#[derive(Debug, Serialize, Deserialize)]
struct FailedAccount {
    account: String,
    now: Millis,
}

impl Wire for FailedAccount {
    const KIND: &'static str = "login.failed_account";
    /// The failures of the account in its window, when they just reached the alarm.
    type Reply = Option<u32>;
}

/// A successful login, which clears the account's failures from `ip`.
#[derive(Debug, Serialize, Deserialize)]
struct Succeeded {
    account: String,
    ip: String,
}

impl Wire for Succeeded {
    const KIND: &'static str = "login.succeeded";
    type Reply = ();
}

/// The login throttling of a spread node.
pub struct SharedLogins {
    local: Arc<LoginLimiter>,
    peers: Arc<Peers>,
    shards: ShardMap,
    timeout: Duration,
}

/// Serves `kind` messages with `f` on the limiter of this node.
fn serve<M: Wire, Fut>(
    peers: &Peers,
    local: &Arc<LoginLimiter>,
    f: impl Fn(Arc<LoginLimiter>, M) -> Fut + Send + Sync + 'static,
) where
    Fut: Future<Output = Result<M::Reply, Refusal>> + Send + 'static,
{
    let local = local.clone();
    peers.serve(move |_key, m: M| f(local.clone(), m));
}

impl SharedLogins {
    /// Answers the other nodes' questions from `local`, and asks theirs; each question
    /// waits at most `timeout`.
    pub fn serve(
        local: Arc<LoginLimiter>,
        peers: Arc<Peers>,
        shards: ShardMap,
        timeout: Duration,
    ) -> Self {
        serve(&peers, &local, |l, m: Check| async move {
            Ok(l.check(&m.account, &m.ip, m.now)
                .err()
                .map(|b| (b.retry_after_secs, b.by.to_owned())))
        });
        serve(&peers, &local, |l, m: FailedFrom| async move {
            l.failed_from(&m.account, &m.ip, m.now);
            Ok(())
        });
        serve(&peers, &local, |l, m: FailedAccount| async move {
            Ok(l.failed_account(&m.account, m.now).map(|a| a.failures))
        });
        serve(&peers, &local, |l, m: Succeeded| async move {
            l.succeeded(&m.account, &m.ip);
            Ok(())
        });
        Self {
            local,
            peers,
            shards,
            timeout,
        }
    }

    fn key(&self, name: &str) -> String {
        OwnerKey::Shard(self.shards.login(name)).as_key()
    }

    /// Asks the owner of `name`'s shard; `None` (logged) when it did not answer.
    async fn ask<M: Wire + std::fmt::Debug>(&self, name: &str, m: M) -> Option<M::Reply> {
        let key = self.key(name);
        match self.peers.ask(&key, &m, self.timeout).await {
            Ok(reply) => Some(reply),
            Err(e) => {
                tracing::warn!(key, kind = M::KIND, error = %e, "login throttling: the counter's owner did not answer; counting on this node");
                None
            }
        }
    }

    /// [`LoginLimiter::check`] across the cluster.
    pub async fn check(&self, account: &str, ip: &str, now: Millis) -> Result<(), Blocked> {
        let asked = Check {
            account: account.to_owned(),
            ip: ip.to_owned(),
            now,
        };
        match self.ask(ip, asked).await {
            Some(None) => Ok(()),
            Some(Some((retry_after_secs, by))) => Err(Blocked {
                retry_after_secs,
                by: if by == "ip" { "ip" } else { "account" },
            }),
            None => self.local.check(account, ip, now),
        }
    }

    /// [`LoginLimiter::failed`] across the cluster.
    pub async fn failed(&self, account: &str, ip: &str, now: Millis) -> Option<Alarm> {
        let from = FailedFrom {
            account: account.to_owned(),
            ip: ip.to_owned(),
            now,
        };
        if self.ask(ip, from).await.is_none() {
            self.local.failed_from(account, ip, now);
        }
        let of = FailedAccount {
            account: account.to_owned(),
            now,
        };
        match self.ask(account, of).await {
            Some(alarm) => alarm.map(|failures| Alarm { failures }),
            None => self.local.failed_account(account, now),
        }
    }

    /// [`LoginLimiter::succeeded`] across the cluster.
    pub async fn succeeded(&self, account: &str, ip: &str) {
        let done = Succeeded {
            account: account.to_owned(),
            ip: ip.to_owned(),
        };
        if self.ask(ip, done).await.is_none() {
            self.local.succeeded(account, ip);
        }
    }
}
