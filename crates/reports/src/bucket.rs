//! Report intervals and calendar arithmetic: which bucket a timestamp falls in.
//!
//! Buckets are aligned in a fixed UTC offset (`utc_offset_minutes`, 0 by default; +540
//! for Japan): 15 minutes and hours on the clock, days at local midnight, ISO weeks from
//! Monday 00:00, calendar months from the 1st. Pure functions, no clock, no I/O.

use domain::{Millis, ParseError};
use serde::{Deserialize, Serialize};

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = domain::report::DAY_MS;

/// The width of a report bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Interval {
    #[serde(rename = "15m")]
    FifteenMinutes,
    #[serde(rename = "hour")]
    Hour,
    #[serde(rename = "day")]
    Day,
    #[serde(rename = "week")]
    Week,
    #[serde(rename = "month")]
    Month,
}

impl Interval {
    pub const ALL: [Interval; 5] = [
        Interval::FifteenMinutes,
        Interval::Hour,
        Interval::Day,
        Interval::Week,
        Interval::Month,
    ];

    pub fn parse(s: &str) -> Result<Self, ParseError> {
        Self::ALL
            .into_iter()
            .find(|i| i.as_str() == s)
            .ok_or_else(|| {
                ParseError::new(
                    "interval",
                    format!("unknown interval {s:?}: use 15m, hour, day, week or month"),
                )
            })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Interval::FifteenMinutes => "15m",
            Interval::Hour => "hour",
            Interval::Day => "day",
            Interval::Week => "week",
            Interval::Month => "month",
        }
    }

    /// The shortest length of one bucket (months: 28 days), to bound bucket counts.
    pub fn min_len_ms(self) -> i64 {
        match self {
            Interval::FifteenMinutes => 15 * MINUTE_MS,
            Interval::Hour => 60 * MINUTE_MS,
            Interval::Day => DAY_MS,
            Interval::Week => 7 * DAY_MS,
            Interval::Month => 28 * DAY_MS,
        }
    }

    /// The start (UTC millis) of the bucket holding `at`, aligned in `offset_ms`.
    pub fn bucket_start(self, at: Millis, offset_ms: i64) -> Millis {
        let local = at.0 + offset_ms;
        let start_local = match self {
            Interval::FifteenMinutes | Interval::Hour | Interval::Day => {
                let w = self.min_len_ms();
                local.div_euclid(w) * w
            }
            Interval::Week => {
                let day = local.div_euclid(DAY_MS);
                // 1970-01-01 was a Thursday: day 0 is weekday 3 counting Monday as 0.
                let monday = day - (day + 3).rem_euclid(7);
                monday * DAY_MS
            }
            Interval::Month => {
                let (y, m, _) = civil_from_days(local.div_euclid(DAY_MS));
                days_from_civil(y, m, 1) * DAY_MS
            }
        };
        Millis(start_local - offset_ms)
    }
}

/// (year, month 1..=12, day 1..=31) of a day count since 1970-01-01 (proleptic
/// Gregorian; Howard Hinnant's `civil_from_days`).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Days since 1970-01-01 of a civil date (inverse of [`civil_from_days`]).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-03-18 (a Wednesday) 10:37:12.345 UTC.
    const T: i64 = 1_773_830_232_345;

    #[test]
    fn civil_round_trips() {
        for z in [-800_000, -1, 0, 1, 59, 60, 11_016, 20_530, 2_932_896] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_530), (2026, 3, 18));
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
    }

    #[test]
    fn utc_buckets() {
        let day = 20_530 * DAY_MS; // 2026-03-18 00:00 UTC
        let at = Millis(T);
        assert_eq!(T - day, (10 * 60 + 37) * MINUTE_MS + 12_345);
        let b = |i: Interval| i.bucket_start(at, 0).0;
        assert_eq!(
            b(Interval::FifteenMinutes),
            day + (10 * 60 + 30) * MINUTE_MS
        );
        assert_eq!(b(Interval::Hour), day + 10 * 60 * MINUTE_MS);
        assert_eq!(b(Interval::Day), day);
        // Monday 2026-03-16.
        assert_eq!(b(Interval::Week), day - 2 * DAY_MS);
        // 2026-03-01.
        assert_eq!(b(Interval::Month), days_from_civil(2026, 3, 1) * DAY_MS);
    }

    #[test]
    fn offset_buckets_follow_local_midnight() {
        // JST (+9 h): 2026-03-18 10:37 UTC is 19:37 JST, same local day, which began
        // at 2026-03-17 15:00 UTC.
        let jst = 9 * 60 * MINUTE_MS;
        let day = 20_530 * DAY_MS;
        assert_eq!(Interval::Day.bucket_start(Millis(T), jst).0, day - jst);
        // 2026-03-31 20:00 UTC is 2026-04-01 05:00 JST: April in Japan.
        let at = Millis(days_from_civil(2026, 3, 31) * DAY_MS + 20 * 60 * MINUTE_MS);
        assert_eq!(
            Interval::Month.bucket_start(at, jst).0,
            days_from_civil(2026, 4, 1) * DAY_MS - jst
        );
        assert_eq!(
            Interval::Month.bucket_start(at, 0).0,
            days_from_civil(2026, 3, 1) * DAY_MS
        );
    }

    #[test]
    fn parse_names() {
        for i in Interval::ALL {
            assert_eq!(Interval::parse(i.as_str()), Ok(i));
        }
        assert!(Interval::parse("minute").is_err());
        assert!(Interval::parse("").is_err());
    }
}
