//! Login throttling: failed logins are counted per account and per client IP in a
//! fixed window (`security.login_window_ms`); past `login_failures_per_account` or
//! `login_failures_per_ip` failures, logins from that account or IP answer 429 with
//! `Retry-After` until the window ends, before any password is checked (so a blocked
//! attacker cannot keep guessing, and argon2 work is not spent on them). Successful
//! logins are not counted, so many agents behind one address can log in.
//!
//! Time comes from the engine clock, so tests move it by hand. Memory is bounded: a
//! map past [`MAX_TRACKED`] keys drops its expired windows, and if still full, its
//! oldest.

use crate::domain::Millis;
use dashmap::DashMap;

/// Keys (accounts or IPs) tracked per map before expired windows are swept.
pub const MAX_TRACKED: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Millis,
    failures: u32,
}

/// Failed-login counters.
pub struct LoginLimiter {
    accounts: DashMap<String, Window>,
    ips: DashMap<String, Window>,
    per_account: u32,
    per_ip: u32,
    window_ms: u64,
}

/// Logins from this account or address are refused for `retry_after_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blocked {
    pub retry_after_secs: u64,
    /// `account` or `ip`.
    pub by: &'static str,
}

impl LoginLimiter {
    pub fn new(s: &crate::config::SecuritySettings) -> Self {
        LoginLimiter {
            accounts: DashMap::new(),
            ips: DashMap::new(),
            per_account: s.login_failures_per_account.max(1),
            per_ip: s.login_failures_per_ip.max(1),
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
        if let Some(s) = self.blocked_in(&self.accounts, account, self.per_account, now) {
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

    fn count(&self, map: &DashMap<String, Window>, key: &str, now: Millis) {
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
    }

    /// Records a failed login (unknown account, wrong password, disabled).
    pub fn failed(&self, account: &str, ip: &str, now: Millis) {
        self.count(&self.accounts, account, now);
        self.count(&self.ips, ip, now);
    }

    /// A successful login clears the account's failures (not the address's).
    pub fn succeeded(&self, account: &str) {
        self.accounts.remove(account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> LoginLimiter {
        LoginLimiter::new(&crate::config::SecuritySettings {
            login_failures_per_account: 3,
            login_failures_per_ip: 5,
            login_window_ms: 10_000,
            ..Default::default()
        })
    }

    #[test]
    fn blocks_per_account_then_per_ip_until_the_window_ends() {
        let l = limiter();
        let t = Millis(1_000);
        for _ in 0..3 {
            assert!(l.check("alice", "1.1.1.1", t).is_ok());
            l.failed("alice", "1.1.1.1", t);
        }
        let b = l.check("alice", "2.2.2.2", t).unwrap_err();
        assert_eq!(b.by, "account");
        assert_eq!(b.retry_after_secs, 10);
        // Another account from the same address still may try, until the IP limit.
        assert!(l.check("bob", "1.1.1.1", t).is_ok());
        l.failed("bob", "1.1.1.1", t);
        l.failed("carol", "1.1.1.1", t);
        assert_eq!(l.check("dave", "1.1.1.1", t).unwrap_err().by, "ip");
        assert!(l.check("dave", "3.3.3.3", t).is_ok());
        // The window ends.
        assert!(l.check("alice", "2.2.2.2", Millis(11_000)).is_ok());
        assert!(l.check("dave", "1.1.1.1", Millis(11_000)).is_ok());
        assert_eq!(
            l.check("alice", "2.2.2.2", Millis(10_500))
                .unwrap_err()
                .retry_after_secs,
            1
        );
    }

    #[test]
    fn success_clears_the_account() {
        let l = limiter();
        l.failed("alice", "ip", Millis(0));
        l.failed("alice", "ip", Millis(0));
        l.succeeded("alice");
        l.failed("alice", "ip", Millis(0));
        assert!(l.check("alice", "other", Millis(0)).is_ok());
    }
}
