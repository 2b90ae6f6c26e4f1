//! Wall-clock time as milliseconds since the Unix epoch, and the injectable `Clock`.
//!
//! Timestamps stored in events and used for wait-time accounting come from a `Clock` so
//! tests can control them. Timers (offer timeouts, grace periods) use tokio time, which
//! tests can pause.

use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (UTC).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(transparent)]
pub struct Millis(pub i64);

impl Millis {
    /// Milliseconds elapsed from `earlier` to `self`, never negative.
    pub fn since(self, earlier: Millis) -> u64 {
        (self.0 - earlier.0).max(0) as u64
    }
    pub fn plus_ms(self, ms: u64) -> Millis {
        Millis(self.0.saturating_add(ms as i64))
    }
}

/// Source of "now". Cheap to clone (an `Arc`).
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> Millis;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Millis {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Millis(d.as_millis() as i64)
    }
}

/// A clock tests move by hand.
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn new(start: Millis) -> Self {
        Self(Arc::new(AtomicI64::new(start.0)))
    }
    pub fn advance_ms(&self, ms: u64) {
        self.0.fetch_add(ms as i64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Millis {
        Millis(self.0.load(Ordering::SeqCst))
    }
}

/// Shared clock handle passed to every actor.
pub type SharedClock = Arc<dyn Clock>;
