//! Per-client-address budgets at the anonymous doors (docs/security.md, "Anonymous
//! doors"): web-chat socket opens, new visitors, conversations opened from a chat
//! socket, callback requests, the help center's searches and feedback, staff single
//! sign-on starts and returns, and chat
//! sockets open at once. Each door is a token
//! bucket per address (`[anonymous]` sets its size and refill); a door whose bucket is
//! empty refuses with the seconds until one token is back, which the server answers as
//! 429 `rate_limited` with `Retry-After` (or a `rate_limited` error frame). Nothing is
//! created before the budget is taken, so a refusal changes nothing.
//!
//! Addresses: IPv4 as is, IPv6 by its /64 prefix (one subscriber's allocation), an
//! IPv4-mapped IPv6 address as the IPv4 one. Time is the engine clock (tests move it
//! by hand). Memory is bounded: past [`MAX_TRACKED`] buckets, full ones are forgotten
//! (a full bucket is the same as a new one), and if that is not enough, a tenth of them
//! chosen arbitrarily.
//!
//! Refusals are counted per door (`switchboard_anonymous_refused_total{door}`) and
//! kept per minute, so the supervisor can be shown a flood while it happens.

use crate::domain::Millis;
use dashmap::DashMap;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Buckets kept per door before full ones are swept.
pub const MAX_TRACKED: usize = 100_000;

pub use crate::settings::AnonymousSettings;

/// An anonymous door.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Door {
    ChatOpen,
    Visitor,
    Conversation,
    Callback,
    /// The public help center's searches and feedback (pages and the chat widget's
    /// suggestions).
    Help,
    /// Staff single sign-on starts and returns (`/api/v1/oidc/login`, `/callback`):
    /// each may call the identity provider.
    Sso,
    /// Sockets open at once (a cap, not a rate).
    ChatSockets,
}

impl Door {
    pub const ALL: [Door; 7] = [
        Door::ChatOpen,
        Door::Visitor,
        Door::Conversation,
        Door::Callback,
        Door::Help,
        Door::Sso,
        Door::ChatSockets,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Door::ChatOpen => "chat_open",
            Door::Visitor => "visitor",
            Door::Conversation => "conversation",
            Door::Callback => "callback",
            Door::Help => "help",
            Door::Sso => "sso",
            Door::ChatSockets => "chat_sockets",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A door refused: try again after `retry_after_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub door: Door,
    pub retry_after_secs: u64,
}

impl Refused {
    /// The typed error of an actor door (`rate_limited`, the wait in the text).
    pub fn into_engine(self) -> crate::domain::EngineError {
        crate::domain::EngineError::new(crate::domain::ErrorCode::RateLimited, self.message())
    }

    /// What the client is told.
    pub fn message(&self) -> String {
        match self.door {
            Door::ChatSockets => {
                "too many chat sockets open from this address; close one first".into()
            }
            d => format!(
                "too many {} from this address; retry in {} s",
                match d {
                    Door::ChatOpen => "chat connections",
                    Door::Visitor => "new visitors",
                    Door::Conversation => "new conversations",
                    Door::Help => "help-center requests",
                    Door::Sso => "single sign-on requests",
                    _ => "callback requests",
                },
                self.retry_after_secs
            ),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Tokens left, in thousandths (integer arithmetic keeps refills exact).
    milli: u64,
    at: Millis,
}

/// The address a budget is kept for.
pub fn budget_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// The budgets of every anonymous door.
pub struct Budgets {
    settings: AnonymousSettings,
    /// One per rate door (every door but `ChatSockets`, the last, counted in `sockets`).
    buckets: [DashMap<IpAddr, Bucket>; Door::ALL.len() - 1],
    sockets: Arc<DashMap<IpAddr, u32>>,
    /// Refusals per door in the current minute, and the minute (`at / 60_000`).
    minute: AtomicU64,
    this_minute: [AtomicU64; Door::ALL.len()],
    last_minute: [AtomicU64; Door::ALL.len()],
}

/// A chat socket counted against its address while it lives.
#[derive(Debug)]
pub struct SocketPermit {
    sockets: Arc<DashMap<IpAddr, u32>>,
    key: IpAddr,
}

impl Drop for SocketPermit {
    fn drop(&mut self) {
        self.sockets.remove_if_mut(&self.key, |_, n| {
            *n = n.saturating_sub(1);
            *n == 0
        });
    }
}

/// Refusals per door in the last full minute and the current one.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FloodView {
    /// `door -> refusals` over the last full minute plus the current one.
    pub refused: std::collections::BTreeMap<String, u64>,
    pub total: u64,
    /// `total` reached `anonymous.flood_alert_per_minute`.
    pub flood: bool,
}

impl Budgets {
    pub fn new(settings: AnonymousSettings) -> Self {
        Self {
            settings,
            buckets: Default::default(),
            sockets: Arc::new(DashMap::new()),
            minute: AtomicU64::new(0),
            this_minute: Default::default(),
            last_minute: Default::default(),
        }
    }

    pub fn settings(&self) -> &AnonymousSettings {
        &self.settings
    }

    fn per_window(&self, door: Door) -> u32 {
        let s = &self.settings;
        match door {
            Door::ChatOpen => s.chat_opens_per_window,
            Door::Visitor => s.visitors_per_window,
            Door::Conversation => s.conversations_per_window,
            Door::Callback => s.callbacks_per_window,
            Door::Help => s.help_requests_per_window,
            Door::Sso => s.sso_requests_per_window,
            Door::ChatSockets => s.max_chat_sockets,
        }
        .max(1)
    }

    /// Takes one token of `door` for `ip`, or says when one will be back.
    pub fn take(&self, door: Door, ip: IpAddr, now: Millis) -> Result<(), Refused> {
        debug_assert!(
            door != Door::ChatSockets,
            "a cap, not a rate: use open_socket"
        );
        let key = budget_key(ip);
        let per = u64::from(self.per_window(door));
        let window = self.settings.window_ms.max(1);
        let full = per * 1000;
        let map = &self.buckets[door.index()];
        if map.len() >= MAX_TRACKED && !map.contains_key(&key) {
            self.sweep(map, per, window, now);
        }
        let mut b = map.entry(key).or_insert(Bucket {
            milli: full,
            at: now,
        });
        // Refill: `per` tokens per `window` ms, in thousandths.
        let elapsed = now.since(b.at);
        let refill = u128::from(elapsed) * u128::from(full) / u128::from(window);
        b.milli = (u128::from(b.milli) + refill).min(u128::from(full)) as u64;
        b.at = now;
        if b.milli >= 1000 {
            b.milli -= 1000;
            return Ok(());
        }
        // Time until the missing thousandths are refilled, rounded up to whole seconds.
        let missing = 1000 - b.milli;
        let wait_ms = (u128::from(missing) * u128::from(window)).div_ceil(u128::from(full));
        drop(b);
        Err(self.refused(door, (wait_ms as u64).div_ceil(1000).max(1), now))
    }

    /// Counts a chat socket against `ip` while the permit lives, or refuses when the
    /// address holds `max_chat_sockets` already.
    pub fn open_socket(&self, ip: IpAddr, now: Millis) -> Result<SocketPermit, Refused> {
        let key = budget_key(ip);
        let max = self.per_window(Door::ChatSockets);
        let mut n = self.sockets.entry(key).or_insert(0);
        if *n >= max {
            drop(n);
            return Err(self.refused(Door::ChatSockets, 5, now));
        }
        *n += 1;
        Ok(SocketPermit {
            sockets: self.sockets.clone(),
            key,
        })
    }

    /// Chat sockets `ip` holds open now.
    pub fn sockets_of(&self, ip: IpAddr) -> u32 {
        self.sockets.get(&budget_key(ip)).map(|n| *n).unwrap_or(0)
    }

    fn sweep(&self, map: &DashMap<IpAddr, Bucket>, per: u64, window: u64, now: Millis) {
        let full = per * 1000;
        map.retain(|_, b| {
            let refill = u128::from(now.since(b.at)) * u128::from(full) / u128::from(window);
            u128::from(b.milli) + refill < u128::from(full)
        });
        if map.len() >= MAX_TRACKED {
            // Make room for a tenth more, so an address flood does not sweep each time.
            let extra: Vec<IpAddr> = map
                .iter()
                .take(map.len() - MAX_TRACKED * 9 / 10)
                .map(|e| *e.key())
                .collect();
            for k in extra {
                map.remove(&k);
            }
        }
    }

    fn roll(&self, now: Millis) {
        let minute = (now.0.max(0) as u64) / 60_000;
        let seen = self.minute.load(Ordering::Relaxed);
        if minute != seen
            && self
                .minute
                .compare_exchange(seen, minute, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            for (this, last) in self.this_minute.iter().zip(&self.last_minute) {
                let n = this.swap(0, Ordering::Relaxed);
                last.store(if minute == seen + 1 { n } else { 0 }, Ordering::Relaxed);
            }
        }
    }

    fn refused(&self, door: Door, retry_after_secs: u64, now: Millis) -> Refused {
        self.roll(now);
        self.this_minute[door.index()].fetch_add(1, Ordering::Relaxed);
        crate::metrics::anonymous_refused(door.as_str());
        Refused {
            door,
            retry_after_secs,
        }
    }

    /// Refusals over the last full minute and the current one.
    pub fn flood(&self, now: Millis) -> FloodView {
        self.roll(now);
        let mut refused = std::collections::BTreeMap::new();
        let mut total = 0;
        for d in Door::ALL {
            let n = self.this_minute[d.index()].load(Ordering::Relaxed)
                + self.last_minute[d.index()].load(Ordering::Relaxed);
            total += n;
            refused.insert(d.as_str().to_owned(), n);
        }
        FloodView {
            refused,
            total,
            flood: total >= self.settings.flood_alert_per_minute.max(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn budgets(per: u32) -> Budgets {
        Budgets::new(AnonymousSettings {
            window_ms: 60_000,
            chat_opens_per_window: per,
            max_chat_sockets: 2,
            ..Default::default()
        })
    }

    #[test]
    fn a_bucket_allows_its_budget_then_refuses_until_a_token_is_back() {
        let b = budgets(3);
        let a = ip("192.0.2.1");
        let t = Millis(1_000_000);
        for _ in 0..3 {
            b.take(Door::ChatOpen, a, t).unwrap();
        }
        let r = b.take(Door::ChatOpen, a, t).unwrap_err();
        // One token is back after 60 s / 3 = 20 s.
        assert_eq!(r.retry_after_secs, 20);
        assert_eq!(r.door, Door::ChatOpen);
        assert!(b.take(Door::ChatOpen, a, Millis(t.0 + 19_000)).is_err());
        b.take(Door::ChatOpen, a, Millis(t.0 + 40_000)).unwrap();
        // Another address has its own budget.
        b.take(Door::ChatOpen, ip("192.0.2.2"), t).unwrap();
    }

    #[test]
    fn ipv6_addresses_share_their_slash_64_and_mapped_v4_is_v4() {
        let b = budgets(1);
        let t = Millis(5_000);
        b.take(Door::ChatOpen, ip("2001:db8:1:2::1"), t).unwrap();
        assert!(b.take(Door::ChatOpen, ip("2001:db8:1:2::ffff"), t).is_err());
        b.take(Door::ChatOpen, ip("2001:db8:1:3::1"), t).unwrap();
        b.take(Door::ChatOpen, ip("192.0.2.9"), t).unwrap();
        assert!(b.take(Door::ChatOpen, ip("::ffff:192.0.2.9"), t).is_err());
    }

    #[test]
    fn sockets_are_capped_while_their_permits_live() {
        let b = budgets(10);
        let a = ip("192.0.2.1");
        let p1 = b.open_socket(a, Millis(0)).unwrap();
        let _p2 = b.open_socket(a, Millis(0)).unwrap();
        assert_eq!(
            b.open_socket(a, Millis(0)).unwrap_err().door,
            Door::ChatSockets
        );
        drop(p1);
        assert_eq!(b.sockets_of(a), 1);
        b.open_socket(a, Millis(0)).unwrap();
    }

    #[test]
    fn refusals_are_kept_per_minute_for_the_flood_view() {
        let b = budgets(1);
        let a = ip("192.0.2.1");
        b.take(Door::ChatOpen, a, Millis(60_000)).unwrap();
        for _ in 0..3 {
            b.take(Door::ChatOpen, a, Millis(60_001)).unwrap_err();
        }
        assert_eq!(b.flood(Millis(61_000)).refused["chat_open"], 3);
        // Still counted in the next minute, gone the one after.
        assert_eq!(b.flood(Millis(121_000)).total, 3);
        assert_eq!(b.flood(Millis(181_000)).total, 0);
    }

    #[test]
    fn the_map_stays_bounded() {
        let b = budgets(1);
        for i in 0..(MAX_TRACKED as u32 + 10) {
            let a = IpAddr::V4(std::net::Ipv4Addr::from(i));
            let _ = b.take(Door::ChatOpen, a, Millis(0));
        }
        assert!(b.buckets[Door::ChatOpen.index()].len() <= MAX_TRACKED);
    }

    #[test]
    fn settings_refuse_a_zero_budget() {
        assert!(AnonymousSettings::default().validate().is_ok());
        let s = AnonymousSettings {
            visitors_per_window: 0,
            ..Default::default()
        };
        assert!(s.validate().is_err());
    }
}
