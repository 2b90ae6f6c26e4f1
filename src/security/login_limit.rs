//! Login throttling: failed logins are counted in a fixed window
//! (`security.login_window_ms`) per (account, client address) and per client address.
//! Past `login_failures_per_account` failures for one account from one address, or
//! `login_failures_per_ip` failures from one address, logins from there answer 429 with
//! `Retry-After` until the window ends, before any password is checked (so a blocked
//! attacker cannot keep guessing, and argon2 work is not spent on them). The account
//! itself is never locked: an attacker's failures from their address do not lock the
//! owner out from theirs.
//!
//! Failures per account across every address are counted too, for an alarm only:
//! when they reach `login_alarm_failures_per_account` in a window, [`LoginLimiter::failed`]
//! says so once for that window (the login handler raises a metric, a warn log and an
//! audit entry); nothing is refused because of it. Successful logins are not counted,
//! so many agents behind one address can log in.
//!
//! Time comes from the engine clock, so tests move it by hand. Memory is bounded: a
//! map past [`MAX_TRACKED`] keys drops its expired windows, and if still full, its
//! oldest.

use crate::domain::Millis;
use dashmap::DashMap;

/// Keys (account-address pairs, addresses or accounts) tracked per map before expired
/// windows are swept.
pub const MAX_TRACKED: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Millis,
    failures: u32,
}

/// Failed-login counters.
pub struct LoginLimiter {
    /// Failures of one account from one address (`account\nip`): the lock-out.
    pairs: DashMap<String, Window>,
    /// Failures from one address, whatever the account: the lock-out.
    ips: DashMap<String, Window>,
    /// Failures of one account from every address: the alarm only.
    accounts: DashMap<String, Window>,
    per_pair: u32,
    per_ip: u32,
    /// 0: no alarm.
    alarm_at: u32,
    window_ms: u64,
}

/// Logins from this account-address pair or address are refused for `retry_after_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blocked {
    pub retry_after_secs: u64,
    /// `account` (this account from this address) or `ip`.
    pub by: &'static str,
}

/// An account's failures from every address reached the alarm threshold in this window
/// (reported once per window).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alarm {
    /// Failures of the account in the window so far.
    pub failures: u32,
}

fn pair_key(account: &str, ip: &str) -> String {
    format!("{account}\n{ip}")
}

impl LoginLimiter {
    pub fn new(s: &crate::config::SecuritySettings) -> Self {
        LoginLimiter {
            pairs: DashMap::new(),
            ips: DashMap::new(),
            accounts: DashMap::new(),
            per_pair: s.login_failures_per_account.max(1),
            per_ip: s.login_failures_per_ip.max(1),
            alarm_at: s.login_alarm_failures_per_account,
            window_ms: s.login_window_ms.max(1),
        }
    }

    fn blocked_in(
        &self,
        map: &DashMap<String, Window>,
        key: &str,
        max: u32,
        now: Millis,
    ) -> Option<u64> {
        let w = map.get(key)?;
        let ends = w.started.0.saturating_add(self.window_ms as i64);
        if now.0 < ends && w.failures >= max {
            Some(((ends - now.0) as u64).div_ceil(1000))
        } else {
            None
        }
    }

    /// Whether a login for `account` from `ip` may be tried now.
    pub fn check(&self, account: &str, ip: &str, now: Millis) -> Result<(), Blocked> {
        if let Some(s) = self.blocked_in(&self.pairs, &pair_key(account, ip), self.per_pair, now) {
            return Err(Blocked {
                retry_after_secs: s,
                by: "account",
            });
        }
        if let Some(s) = self.blocked_in(&self.ips, ip, self.per_ip, now) {
            return Err(Blocked {
                retry_after_secs: s,
                by: "ip",
            });
        }
        Ok(())
    }

    /// Counts one failure of `key`; returns the failures in its window so far.
    fn count(&self, map: &DashMap<String, Window>, key: &str, now: Millis) -> u32 {
        if map.len() >= MAX_TRACKED && !map.contains_key(key) {
            let window = self.window_ms as i64;
            map.retain(|_, w| now.0 < w.started.0.saturating_add(window));
            if map.len() >= MAX_TRACKED {
                let oldest = map
                    .iter()
                    .min_by_key(|e| e.value().started)
                    .map(|e| e.key().clone());
                if let Some(k) = oldest {
                    map.remove(&k);
                }
            }
        }
        let mut w = map.entry(key.to_owned()).or_insert(Window {
            started: now,
            failures: 0,
        });
        if now.0 >= w.started.0.saturating_add(self.window_ms as i64) {
            *w = Window {
                started: now,
                failures: 0,
            };
        }
        w.failures = w.failures.saturating_add(1);
        w.failures
    }

    /// Records a failed login (unknown account, wrong password, disabled); says when
    /// the account's failures from every address just reached the alarm threshold.
    pub fn failed(&self, account: &str, ip: &str, now: Millis) -> Option<Alarm> {
        self.failed_from(account, ip, now);
        self.failed_account(account, now)
    }

    /// The lock-out's part of a failure: counted for the account from `ip`, and for
    /// `ip` (in a cluster, on the node owning `ip`'s counters).
    pub fn failed_from(&self, account: &str, ip: &str, now: Millis) {
        self.count(&self.pairs, &pair_key(account, ip), now);
        self.count(&self.ips, ip, now);
    }

    /// The alarm's part of a failure: counted for the account from every address (in
    /// a cluster, on the node owning the account's counter).
    pub fn failed_account(&self, account: &str, now: Millis) -> Option<Alarm> {
        let failures = self.count(&self.accounts, account, now);
        (self.alarm_at > 0 && failures == self.alarm_at).then_some(Alarm { failures })
    }

    /// A successful login clears the account's failures from this address (not the
    /// address's, nor the account's alarm count).
    pub fn succeeded(&self, account: &str, ip: &str) {
        self.pairs.remove(&pair_key(account, ip));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> LoginLimiter {
        LoginLimiter::new(&crate::config::SecuritySettings {
            login_failures_per_account: 3,
            login_failures_per_ip: 5,
            login_alarm_failures_per_account: 4,
            login_window_ms: 10_000,
            ..Default::default()
        })
    }

    #[test]
    fn blocks_per_account_and_address_then_per_ip_until_the_window_ends() {
        let l = limiter();
        let t = Millis(1_000);
        for _ in 0..3 {
            assert!(l.check("alice", "1.1.1.1", t).is_ok());
            l.failed("alice", "1.1.1.1", t);
        }
        let b = l.check("alice", "1.1.1.1", t).unwrap_err();
        assert_eq!(b.by, "account");
        assert_eq!(b.retry_after_secs, 10);
        // The owner, from another address, is not locked out.
        assert!(l.check("alice", "2.2.2.2", t).is_ok());
        // Another account from the same address still may try, until the IP limit.
        assert!(l.check("bob", "1.1.1.1", t).is_ok());
        l.failed("bob", "1.1.1.1", t);
        l.failed("carol", "1.1.1.1", t);
        assert_eq!(l.check("dave", "1.1.1.1", t).unwrap_err().by, "ip");
        assert!(l.check("dave", "3.3.3.3", t).is_ok());
        // The window ends.
        assert!(l.check("alice", "1.1.1.1", Millis(11_000)).is_ok());
        assert!(l.check("dave", "1.1.1.1", Millis(11_000)).is_ok());
        assert_eq!(
            l.check("alice", "1.1.1.1", Millis(10_500))
                .unwrap_err()
                .retry_after_secs,
            1
        );
    }

    #[test]
    fn the_alarm_counts_every_address_fires_once_per_window_and_locks_nothing() {
        let l = limiter();
        let t = Millis(0);
        assert_eq!(l.failed("alice", "1.1.1.1", t), None);
        assert_eq!(l.failed("alice", "2.2.2.2", t), None);
        assert_eq!(l.failed("alice", "3.3.3.3", t), None);
        assert_eq!(l.failed("alice", "4.4.4.4", t), Some(Alarm { failures: 4 }));
        assert_eq!(l.failed("alice", "5.5.5.5", t), None, "once per window");
        assert!(l.check("alice", "6.6.6.6", t).is_ok());
        // A new window may raise it again.
        for ip in ["1", "2", "3"] {
            assert_eq!(l.failed("alice", ip, Millis(10_000)), None);
        }
        assert!(l.failed("alice", "4", Millis(10_000)).is_some());
    }

    #[test]
    fn success_clears_the_account_from_that_address() {
        let l = limiter();
        l.failed("alice", "ip", Millis(0));
        l.failed("alice", "ip", Millis(0));
        l.succeeded("alice", "ip");
        l.failed("alice", "ip", Millis(0));
        assert!(l.check("alice", "ip", Millis(0)).is_ok());
    }
}
