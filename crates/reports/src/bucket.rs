//! Report intervals: which bucket a timestamp falls in.
//!
//! Buckets are aligned in a fixed UTC offset (`utc_offset_minutes`, 0 by default; +540
//! for Japan): 15 minutes and hours on the clock, days at local midnight, ISO weeks from
//! Monday 00:00, calendar months from the 1st. The calendar is jiff's (proleptic
//! Gregorian); this module only says where each interval starts. Pure functions, no
//! clock, no I/O.

use domain::{Millis, ParseError};
use jiff::civil::{DateTimeRound, Time};
use jiff::tz::Offset;
use jiff::{RoundMode, Timestamp, ToSpan, Unit};
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
    ///
    /// A timestamp or offset that jiff cannot represent (beyond the years -9999 to
    /// 9999, an offset past ±25:59), which neither the engine's clock nor a validated
    /// request makes, is a bucket of its own.
    pub fn bucket_start(self, at: Millis, offset_ms: i64) -> Millis {
        self.civil_start(at, offset_ms).unwrap_or(at)
    }

    fn civil_start(self, at: Millis, offset_ms: i64) -> Option<Millis> {
        let offset = Offset::from_seconds(i32::try_from(offset_ms / 1000).ok()?).ok()?;
        let local = offset.to_datetime(Timestamp::from_millisecond(at.0).ok()?);
        let truncated = |unit: Unit, increment: i64| {
            let round = DateTimeRound::new()
                .smallest(unit)
                .increment(increment)
                .mode(RoundMode::Trunc);
            local.round(round).ok()
        };
        let start = match self {
            Interval::FifteenMinutes => truncated(Unit::Minute, 15)?,
            Interval::Hour => truncated(Unit::Hour, 1)?,
            Interval::Day => local.start_of_day(),
            Interval::Week => {
                let since_monday = local.weekday().to_monday_zero_offset();
                let monday = local.date().checked_sub(since_monday.days()).ok()?;
                monday.to_datetime(Time::midnight())
            }
            Interval::Month => local.date().first_of_month().to_datetime(Time::midnight()),
        };
        Some(Millis(offset.to_timestamp(start).ok()?.as_millisecond()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-03-18 (a Wednesday) 10:37:12.345 UTC.
    const T: i64 = 1_773_830_232_345;

    const EPOCH: jiff::civil::Date = jiff::civil::date(1970, 1, 1);

    /// (year, month, day) of a day count since 1970-01-01.
    fn civil_from_days(z: i64) -> (i64, u32, u32) {
        let d = EPOCH.checked_add(z.days()).unwrap();
        (i64::from(d.year()), d.month() as u32, d.day() as u32)
    }

    /// Days since 1970-01-01 of a civil date.
    fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
        let date = jiff::civil::Date::new(y as i16, m as i8, d as i8).unwrap();
        i64::from((date - EPOCH).get_days())
    }

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
    fn buckets_before_1970_and_across_a_year() {
        // 1969-12-31 23:59:59.999 UTC, a Wednesday.
        let at = Millis(-1);
        assert_eq!(Interval::Day.bucket_start(at, 0).0, -DAY_MS);
        assert_eq!(Interval::Week.bucket_start(at, 0).0, -3 * DAY_MS);
        assert_eq!(
            Interval::Month.bucket_start(at, 0).0,
            days_from_civil(1969, 12, 1) * DAY_MS
        );
        // 2027-01-01 is a Friday: its week began on Monday 2026-12-28.
        let at = Millis(days_from_civil(2027, 1, 1) * DAY_MS);
        assert_eq!(
            Interval::Week.bucket_start(at, 0).0,
            days_from_civil(2026, 12, 28) * DAY_MS
        );
    }

    #[test]
    fn out_of_range_is_its_own_bucket() {
        for i in Interval::ALL {
            assert_eq!(i.bucket_start(Millis(i64::MAX), 0), Millis(i64::MAX));
            assert_eq!(i.bucket_start(Millis(i64::MIN), 0), Millis(i64::MIN));
            assert_eq!(i.bucket_start(Millis(T), i64::MAX), Millis(T));
        }
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
