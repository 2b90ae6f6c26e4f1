//! How far a node's wall clock is from the store's, and whether that is within the
//! cluster's skew bound (docs/cluster.md, "Clock skew").
//!
//! Lease rows carry wall-clock expiry times written by one node and read by others,
//! who allow `cluster.clock_skew_ms` of disagreement ([`crate::lease::Lease::lapsed`]).
//! That allowance is only safe if the clocks really agree that well, so a node measures
//! its offset from the store's clock before it joins and refuses to start beyond half
//! the bound: two nodes each within half of it of the store are within the whole of it
//! of each other.
//!
//! One measurement is a [`Sample`]: the local wall clock when the question was sent,
//! the store's answer, and the local wall clock when the answer came. The store read
//! its clock somewhere in between, so the offset is known to within half the round
//! trip ([`Offset::uncertainty_ms`]); a node is refused only when it is *certainly*
//! beyond the limit, so a slow round trip never refuses a good clock.

/// One question to the store's clock, in wall-clock milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// This node's wall clock when the question was sent.
    pub sent_ms: u64,
    /// The store's wall clock in its answer.
    pub store_ms: u64,
    /// This node's wall clock when the answer arrived.
    pub received_ms: u64,
}

/// This node's clock minus the store's, to within `uncertainty_ms` either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offset {
    /// Positive: this node's clock is ahead of the store's.
    pub offset_ms: i64,
    pub uncertainty_ms: u64,
}

impl Sample {
    /// The offset this sample shows: the store read its clock between sending and
    /// receiving, so it is taken at the midpoint, give or take half the round trip. A
    /// local clock that stepped backwards between the two readings gives no bound
    /// (`u64::MAX` uncertainty).
    pub fn offset(&self) -> Offset {
        if self.received_ms < self.sent_ms {
            return Offset {
                offset_ms: 0,
                uncertainty_ms: u64::MAX,
            };
        }
        let round_trip = self.received_ms - self.sent_ms;
        let midpoint = self.sent_ms + round_trip / 2;
        Offset {
            offset_ms: midpoint as i64 - self.store_ms as i64,
            // +1: the store's clock has millisecond resolution, as does ours.
            uncertainty_ms: round_trip.div_ceil(2) + 1,
        }
    }
}

/// The tightest of several samples' offsets (the one with the shortest round trip).
pub fn best(samples: &[Sample]) -> Option<Offset> {
    samples
        .iter()
        .map(Sample::offset)
        .min_by_key(|o| o.uncertainty_ms)
}

/// Why a node may not join: its clock is certainly further from the store's than the
/// limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "this node's wall clock is {} ms {} the store's (measured to within {} ms); \
     cluster.clock_skew_ms = {bound_ms} allows each node {} ms: leases would be judged \
     lapsed too early or too late across nodes. Synchronise this machine's clock \
     (NTP, chrony) and start again",
    offset.offset_ms.unsigned_abs(),
    if offset.offset_ms > 0 { "ahead of" } else { "behind" },
    offset.uncertainty_ms,
    bound_ms / 2
)]
pub struct SkewError {
    pub offset: Offset,
    pub bound_ms: u64,
}

/// Accepts `offset` unless it is certainly more than half of `bound_ms` (the cluster's
/// skew bound between any two nodes) from the store's clock.
pub fn check(offset: Offset, bound_ms: u64) -> Result<(), SkewError> {
    let least = offset
        .offset_ms
        .unsigned_abs()
        .saturating_sub(offset.uncertainty_ms);
    if least > bound_ms / 2 {
        Err(SkewError { offset, bound_ms })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(sent: u64, store: u64, received: u64) -> Sample {
        Sample {
            sent_ms: sent,
            store_ms: store,
            received_ms: received,
        }
    }

    #[test]
    fn the_offset_is_taken_at_the_midpoint_of_the_round_trip() {
        // Sent at 1000, answered 1010: the store read its clock at about 1005.
        let o = sample(1_000, 4_005, 1_010).offset();
        assert_eq!(o.offset_ms, -3_000, "this node is 3 s behind");
        assert_eq!(o.uncertainty_ms, 6);
        let o = sample(10_000, 9_000, 10_000).offset();
        assert_eq!((o.offset_ms, o.uncertainty_ms), (1_000, 1));
    }

    #[test]
    fn a_clock_stepping_back_mid_sample_bounds_nothing() {
        let o = sample(2_000, 50_000, 1_000).offset();
        assert_eq!(o.uncertainty_ms, u64::MAX);
        assert_eq!(
            check(o, 500),
            Ok(()),
            "never refused on a sample that says nothing"
        );
    }

    #[test]
    fn the_shortest_round_trip_wins() {
        let samples = [
            sample(0, 300, 400),         // ±201
            sample(1_000, 1_010, 1_020), // ±11
            sample(2_000, 2_100, 2_050), // ±26
        ];
        assert_eq!(
            best(&samples),
            Some(Offset {
                offset_ms: 0,
                uncertainty_ms: 11
            })
        );
        assert_eq!(best(&[]), None);
    }

    #[test]
    fn a_node_is_refused_only_when_certainly_beyond_half_the_bound() {
        let at = |offset_ms, uncertainty_ms| Offset {
            offset_ms,
            uncertainty_ms,
        };
        // Half of 500 is each node's share.
        assert!(check(at(250, 0), 500).is_ok());
        assert!(check(at(-250, 0), 500).is_ok());
        assert!(check(at(251, 0), 500).is_err());
        assert!(check(at(-251, 0), 500).is_err());
        // Possibly within: not refused.
        assert!(check(at(900, 700), 500).is_ok());
        assert!(check(at(951, 700), 500).is_err());
    }

    #[test]
    fn the_refusal_says_which_way_and_by_how_much() {
        let e = check(
            Offset {
                offset_ms: 5_200,
                uncertainty_ms: 3,
            },
            500,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("5200 ms ahead of the store's"), "{e}");
        assert!(e.contains("within 3 ms"), "{e}");
        assert!(e.contains("allows each node 250 ms"), "{e}");
        let e = check(
            Offset {
                offset_ms: -800,
                uncertainty_ms: 1,
            },
            500,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("800 ms behind the store's"), "{e}");
    }
}
