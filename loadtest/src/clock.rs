//! Process-local monotonic clock shared by every task.
//!
//! Both ends of every measured message (the customer socket and the agent socket) live
//! in this process, so a send time is written into the message text as nanoseconds
//! since one shared [`Instant`] origin and the receiving task subtracts it from its own
//! reading of the same clock. No wall clock, no cross-machine skew.

use std::sync::OnceLock;
use std::time::Instant;

static ORIGIN: OnceLock<Instant> = OnceLock::new();

/// The shared origin; fixed by the first call.
pub fn origin() -> Instant {
    *ORIGIN.get_or_init(Instant::now)
}

/// Nanoseconds from the origin to `t` (0 for instants before the origin).
pub fn ns_of(t: Instant) -> u64 {
    u64::try_from(t.saturating_duration_since(origin()).as_nanos()).unwrap_or(u64::MAX)
}

/// Nanoseconds since the origin, now.
pub fn now_ns() -> u64 {
    ns_of(Instant::now())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn round_trip() {
        let t = origin() + Duration::from_millis(1500);
        assert_eq!(ns_of(t), 1_500_000_000);
        assert!(now_ns() < u64::MAX);
    }
}
