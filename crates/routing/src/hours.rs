//! Business hours: whether a queue is open at an instant, and when that next changes.
//!
//! A [`Calendar`] is compiled from a queue's [`BusinessHours`] once, when the
//! configuration is accepted, and every mistake is refused then with the exact field
//! ([`HoursError`]): an unknown time zone or weekday, a malformed or overlapping
//! interval, an unknown holiday calendar, an impossible closure, or hours that would
//! never open with no way out for the conversations that wait.
//!
//! Hours are local wall-clock time in the calendar's IANA time zone, so a daylight
//! saving change moves the instants, not the hours: `09:00-18:00` opens at 09:00 local
//! on both sides of it. An interval that starts in a skipped hour opens at the first
//! instant after the gap; an hour a fold repeats is in or out of the hours both times
//! (the clock going back can close and reopen an interval). Closed days (built-in holidays, closures) close the whole
//! local day. Pure like the rest of the routing core: the instant is passed in.

use crate::holidays_jp;
use domain::{BusinessHours, Millis};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// Longest a closure may last (a closure of years is a queue to delete).
pub const MAX_CLOSURE_DAYS: i64 = 366;
/// Most closures per queue.
pub const MAX_CLOSURES: usize = 200;
/// Most intervals per weekday.
pub const MAX_INTERVALS_PER_DAY: usize = 8;
/// Longest after-hours message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 1000;
/// How far ahead [`Calendar::next_change`] looks: past a year of closures.
const LOOKAHEAD_DAYS: i64 = 400;

const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A configuration mistake, naming the field (`hours.weekly.mon[1]`) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {why}")]
pub struct HoursError {
    pub field: String,
    pub why: String,
}

fn refuse(field: impl Into<String>, why: impl Into<String>) -> HoursError {
    HoursError {
        field: field.into(),
        why: why.into(),
    }
}

/// Why a queue is closed at an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closed {
    /// Outside the weekly hours.
    OutsideHours,
    /// A built-in national holiday, by its name.
    Holiday(&'static str),
    /// A configured closure, by its name.
    Closure(String),
}

impl Closed {
    /// A short description for traces and the queue view.
    pub fn describe(&self) -> String {
        match self {
            Closed::OutsideHours => "outside opening hours".into(),
            Closed::Holiday(name) => format!("holiday: {name}"),
            Closed::Closure(name) if name.is_empty() => "closed".into(),
            Closed::Closure(name) => format!("closed: {name}"),
        }
    }
}

/// A queue's compiled business hours.
#[derive(Debug, Clone)]
pub struct Calendar {
    tz: TimeZone,
    /// Per weekday (Monday first), sorted, non-overlapping `[start, end)` minutes of
    /// the local day (end up to 1440).
    weekly: [Vec<(u16, u16)>; 7],
    japan: bool,
    closures: Vec<(Date, Date, String)>,
}

impl Calendar {
    /// Checks `hours` and compiles it. `queue` is the queue's own name (a queue cannot
    /// route its after-hours contacts to itself).
    pub fn compile(hours: &BusinessHours, queue: &domain::QueueName) -> Result<Self, HoursError> {
        let tz = TimeZone::get(&hours.time_zone).map_err(|_| {
            refuse(
                "hours.time_zone",
                format!(
                    "unknown time zone {:?} (an IANA name such as Asia/Tokyo)",
                    hours.time_zone
                ),
            )
        })?;
        let mut weekly: [Vec<(u16, u16)>; 7] = Default::default();
        for (day, intervals) in &hours.weekly {
            let Some(i) = WEEKDAYS.iter().position(|d| d == day) else {
                return Err(refuse(
                    format!("hours.weekly.{day}"),
                    "not a weekday (mon, tue, wed, thu, fri, sat or sun)",
                ));
            };
            if intervals.len() > MAX_INTERVALS_PER_DAY {
                return Err(refuse(
                    format!("hours.weekly.{day}"),
                    format!("at most {MAX_INTERVALS_PER_DAY} intervals a day"),
                ));
            }
            let mut parsed = Vec::with_capacity(intervals.len());
            for (k, text) in intervals.iter().enumerate() {
                let field = format!("hours.weekly.{day}[{k}]");
                parsed.push((interval(text).map_err(|why| refuse(&field, why))?, field));
            }
            parsed.sort();
            for pair in parsed.windows(2) {
                let ((a, _), (b, field)) = (&pair[0], &pair[1]);
                if b.0 < a.1 {
                    return Err(refuse(
                        field,
                        format!("overlaps {}-{}", clock(a.0), clock(a.1)),
                    ));
                }
            }
            weekly[i] = parsed.into_iter().map(|(iv, _)| iv).collect();
        }
        let mut japan = false;
        for (k, name) in hours.holidays.iter().enumerate() {
            match name.as_str() {
                "jp" => japan = true,
                other => {
                    return Err(refuse(
                        format!("hours.holidays[{k}]"),
                        format!("unknown holiday calendar {other:?} (known: jp)"),
                    ))
                }
            }
        }
        if hours.closures.len() > MAX_CLOSURES {
            return Err(refuse(
                "hours.closures",
                format!("at most {MAX_CLOSURES} closures"),
            ));
        }
        let mut closures = Vec::with_capacity(hours.closures.len());
        for (k, c) in hours.closures.iter().enumerate() {
            let day = |field: &str, text: &str| {
                text.parse::<Date>().map_err(|_| {
                    refuse(
                        format!("hours.closures[{k}].{field}"),
                        format!("{text:?} is not a date (YYYY-MM-DD)"),
                    )
                })
            };
            let from = day("from", &c.from)?;
            let to = match &c.to {
                Some(t) => day("to", t)?,
                None => from,
            };
            if to < from {
                return Err(refuse(format!("hours.closures[{k}].to"), "before its from"));
            }
            let days = from.until(to).map(|s| s.get_days()).unwrap_or(i32::MAX);
            if i64::from(days) + 1 > MAX_CLOSURE_DAYS {
                return Err(refuse(
                    format!("hours.closures[{k}]"),
                    format!("longer than {MAX_CLOSURE_DAYS} days"),
                ));
            }
            if c.name.chars().count() > 100 {
                return Err(refuse(
                    format!("hours.closures[{k}].name"),
                    "at most 100 characters",
                ));
            }
            closures.push((from, to, c.name.clone()));
        }
        let after = &hours.after_hours;
        if let Some(m) = &after.message {
            if m.trim().is_empty() {
                return Err(refuse("hours.after_hours.message", "empty"));
            }
            if m.chars().count() > MAX_MESSAGE_CHARS {
                return Err(refuse(
                    "hours.after_hours.message",
                    format!("at most {MAX_MESSAGE_CHARS} characters"),
                ));
            }
        }
        if after.route_to.as_ref() == Some(queue) {
            return Err(refuse(
                "hours.after_hours.route_to",
                "a queue cannot route its after-hours contacts to itself",
            ));
        }
        if weekly.iter().all(Vec::is_empty) && !after.offer {
            // Conversations would wait for an opening that never comes (routing
            // elsewhere only takes the new ones, and only while that queue is open).
            return Err(refuse(
                "hours.weekly",
                "the queue would never open: give it opening hours, or set after_hours.offer",
            ));
        }
        Ok(Self {
            tz,
            weekly,
            japan,
            closures,
        })
    }

    /// Whether the queue is open at `at`, and if not, why.
    pub fn closed_at(&self, at: Millis) -> Option<Closed> {
        let Ok(t) = Timestamp::from_millisecond(at.0) else {
            return Some(Closed::OutsideHours);
        };
        let local = t.to_zoned_datetime(self.tz.clone());
        if let Some(why) = self.closed_day(local.date()) {
            return Some(why);
        }
        let day = usize::try_from(local.weekday().to_monday_zero_offset()).unwrap_or(0);
        let minute = (local.hour() as u16) * 60 + local.minute() as u16;
        let open = self.weekly[day]
            .iter()
            .any(|&(s, e)| s <= minute && minute < e);
        (!open).then_some(Closed::OutsideHours)
    }

    pub fn is_open(&self, at: Millis) -> bool {
        self.closed_at(at).is_none()
    }

    /// The first instant after `at` at which the queue opens or closes; `None` when it
    /// does not change within [`LOOKAHEAD_DAYS`].
    pub fn next_change(&self, at: Millis) -> Option<Millis> {
        let open = self.is_open(at);
        let t = Timestamp::from_millisecond(at.0).ok()?;
        let mut date = t.to_zoned_datetime(self.tz.clone()).date();
        for _ in 0..LOOKAHEAD_DAYS {
            let next = date.tomorrow().ok()?;
            // The state changes only at this day's interval starts and ends: a closed
            // day's midnight is a change only where an interval ends at 24:00 before
            // it or starts at 00:00 after it.
            // A wall-clock time a daylight-saving fold repeats is an edge twice, and
            // the state can also flip at a transition itself (the clock jumps over an
            // edge, or back into an earlier hour).
            let mut edges: Vec<Millis> = Vec::with_capacity(16);
            if self.closed_day(date).is_none() {
                let day = usize::try_from(date.weekday().to_monday_zero_offset()).unwrap_or(0);
                for &(s, e) in &self.weekly[day] {
                    edges.extend(self.instants(date, s));
                    edges.extend(self.instants(date, e));
                }
            }
            if let (Some(from), Some(to)) =
                (self.instants(date, 0).next(), self.instants(next, 0).next())
            {
                let from = Timestamp::from_millisecond(from.0 - 1).ok()?;
                edges.extend(
                    self.tz
                        .following(from)
                        .map(|tr| Millis(tr.timestamp().as_millisecond()))
                        .take_while(|m| *m <= to),
                );
            }
            edges.sort();
            for edge in edges {
                if edge > at && self.is_open(edge) != open {
                    return Some(edge);
                }
            }
            date = next;
        }
        None
    }

    /// `at` as local time in the calendar's zone, e.g.
    /// `2026-12-07T09:00:00+09:00[Asia/Tokyo]`.
    pub fn local(&self, at: Millis) -> String {
        match Timestamp::from_millisecond(at.0) {
            Ok(t) => t.to_zoned_datetime(self.tz.clone()).to_string(),
            Err(_) => format!("{}ms", at.0),
        }
    }

    /// Why the whole local day `date` is closed, if it is.
    fn closed_day(&self, date: Date) -> Option<Closed> {
        if let Some((_, _, name)) = self
            .closures
            .iter()
            .find(|(from, to, _)| *from <= date && date <= *to)
        {
            return Some(Closed::Closure(name.clone()));
        }
        if self.japan {
            if let Some(name) = holidays_jp::holiday(date) {
                return Some(Closed::Holiday(name));
            }
        }
        None
    }

    /// The instants of local minute `minute` (0..=1440) of `date`, earlier first: two
    /// where a daylight-saving fold repeats it; in a gap, the instants it maps to with
    /// the offsets on either side.
    fn instants(&self, date: Date, minute: u16) -> impl Iterator<Item = Millis> {
        let (date, minute) = if minute >= 1440 {
            (date.tomorrow().ok(), minute - 1440)
        } else {
            (Some(date), minute)
        };
        let (mut first, mut second) = (None, None);
        if let Some(date) = date {
            let dt = date.at((minute / 60) as i8, (minute % 60) as i8, 0, 0);
            let amb = self.tz.to_ambiguous_zoned_datetime(dt);
            let ms = |z: jiff::ZonedDateTime| Millis(z.timestamp().as_millisecond());
            first = amb.clone().earlier().ok().map(ms);
            second = amb.later().ok().map(ms).filter(|m| Some(*m) != first);
        }
        first.into_iter().chain(second)
    }
}

/// `HH:MM-HH:MM` as minutes of the day, the end after the start (and at most 24:00).
fn interval(text: &str) -> Result<(u16, u16), String> {
    let bad = || format!("{text:?} is not an interval HH:MM-HH:MM");
    let (a, b) = text.split_once('-').ok_or_else(bad)?;
    let (start, end) = (
        minute_of(a.trim()).ok_or_else(bad)?,
        minute_of(b.trim()).ok_or_else(bad)?,
    );
    if start >= 1440 {
        return Err(format!("{text:?}: a day's last start is 23:59"));
    }
    if end <= start {
        return Err(format!(
            "{text:?} ends before it starts (a night shift is two intervals: 22:00-24:00 and the next day's 00:00-06:00)"
        ));
    }
    Ok((start, end))
}

fn minute_of(text: &str) -> Option<u16> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    match (h, m) {
        (24, 0) => Some(1440),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

fn clock(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{AfterHours, Closure, QueueName};
    use std::collections::BTreeMap;

    fn hours(tz: &str, weekly: &[(&str, &[&str])]) -> BusinessHours {
        BusinessHours {
            time_zone: tz.into(),
            weekly: weekly
                .iter()
                .map(|(d, iv)| (d.to_string(), iv.iter().map(|s| s.to_string()).collect()))
                .collect::<BTreeMap<_, _>>(),
            holidays: vec![],
            closures: vec![],
            after_hours: AfterHours::default(),
        }
    }

    fn q() -> QueueName {
        QueueName::parse("support").unwrap()
    }

    fn at(tz: &str, text: &str) -> Millis {
        let dt: jiff::civil::DateTime = text.parse().unwrap();
        let z = TimeZone::get(tz).unwrap().to_zoned_datetime(dt).unwrap();
        Millis(z.timestamp().as_millisecond())
    }

    const WEEKDAYS_9_18: &[(&str, &[&str])] = &[
        ("mon", &["09:00-18:00"]),
        ("tue", &["09:00-18:00"]),
        ("wed", &["09:00-18:00"]),
        ("thu", &["09:00-18:00"]),
        ("fri", &["09:00-18:00"]),
    ];

    #[test]
    fn open_inside_the_weekly_hours_in_the_queues_time_zone() {
        let c = Calendar::compile(&hours("Asia/Tokyo", WEEKDAYS_9_18), &q()).unwrap();
        // 2026-12-04 is a Friday.
        assert!(c.is_open(at("Asia/Tokyo", "2026-12-04T09:00")));
        assert!(c.is_open(at("Asia/Tokyo", "2026-12-04T17:59:59")));
        assert_eq!(
            c.closed_at(at("Asia/Tokyo", "2026-12-04T18:00")),
            Some(Closed::OutsideHours)
        );
        assert!(!c.is_open(at("Asia/Tokyo", "2026-12-04T08:59")));
        assert!(!c.is_open(at("Asia/Tokyo", "2026-12-05T10:00")), "Saturday");
        // 09:00 in Tokyo is 00:00 UTC: the instant, not the machine's zone, decides.
        assert!(c.is_open(at("UTC", "2026-12-04T00:00")));
        assert!(!c.is_open(at("UTC", "2026-12-03T23:59")));
    }

    #[test]
    fn the_next_change_is_the_next_opening_or_closing() {
        let c = Calendar::compile(&hours("Asia/Tokyo", WEEKDAYS_9_18), &q()).unwrap();
        let tokyo = |s| at("Asia/Tokyo", s);
        assert_eq!(
            c.next_change(tokyo("2026-12-04T10:00")),
            Some(tokyo("2026-12-04T18:00"))
        );
        // Friday evening: Monday morning.
        assert_eq!(
            c.next_change(tokyo("2026-12-04T18:00")),
            Some(tokyo("2026-12-07T09:00"))
        );
        assert_eq!(
            c.next_change(tokyo("2026-12-04T08:00")),
            Some(tokyo("2026-12-04T09:00"))
        );
    }

    #[test]
    fn hours_follow_local_time_across_daylight_saving_changes() {
        let ny = |s| at("America/New_York", s);
        let c = Calendar::compile(
            &hours(
                "America/New_York",
                &[("sun", &["09:00-17:00"]), ("sat", &["09:00-17:00"])],
            ),
            &q(),
        )
        .unwrap();
        // 2026-03-08 (Sunday): clocks go from 02:00 EST to 03:00 EDT.
        assert!(c.is_open(ny("2026-03-08T09:00")));
        assert!(!c.is_open(ny("2026-03-08T08:59")));
        assert_eq!(
            c.next_change(ny("2026-03-07T20:00")),
            Some(ny("2026-03-08T09:00"))
        );
        // The same local hour is 14:00 UTC before and 13:00 UTC after.
        assert_eq!(ny("2026-03-07T09:00").0 % 86_400_000, 14 * 3_600_000);
        assert_eq!(ny("2026-03-08T09:00").0 % 86_400_000, 13 * 3_600_000);
        // 2026-11-01 (Sunday): back to EST.
        assert!(c.is_open(ny("2026-11-01T16:59")));
        assert_eq!(
            c.next_change(ny("2026-11-01T10:00")),
            Some(ny("2026-11-01T17:00"))
        );
    }

    #[test]
    fn an_interval_starting_in_a_skipped_hour_opens_after_the_gap() {
        // 02:30 does not exist in New York on 2026-03-08.
        let c = Calendar::compile(
            &hours("America/New_York", &[("sun", &["02:30-04:00"])]),
            &q(),
        )
        .unwrap();
        let ny = |s| at("America/New_York", s);
        let opens = c.next_change(ny("2026-03-08T01:00")).unwrap();
        assert_eq!(
            opens,
            ny("2026-03-08T03:00"),
            "the first instant after the gap (the wall clock is past 02:30 there)"
        );
        assert!(c.is_open(opens));
        assert!(!c.is_open(Millis(opens.0 - 1)));
    }

    #[test]
    fn a_fold_closes_and_reopens_an_interval_it_repeats() {
        // 2026-11-01 in New York: 01:00-01:59 happens twice (EDT, then EST).
        let c = Calendar::compile(
            &hours("America/New_York", &[("sun", &["01:30-03:30"])]),
            &q(),
        )
        .unwrap();
        let utc = |s| at("UTC", s);
        // 01:45 EDT: open; at 06:00Z the clock goes back to 01:00 EST, before 01:30.
        assert_eq!(
            c.next_change(utc("2026-11-01T05:45")),
            Some(utc("2026-11-01T06:00"))
        );
        // 01:30 EST opens it again.
        assert_eq!(
            c.next_change(utc("2026-11-01T06:00")),
            Some(utc("2026-11-01T06:30"))
        );
        assert_eq!(
            c.next_change(utc("2026-11-01T06:30")),
            Some(utc("2026-11-01T08:30"))
        );
    }

    #[test]
    fn a_night_shift_over_midnight_is_open_without_a_break() {
        let c = Calendar::compile(
            &hours(
                "Asia/Tokyo",
                &[("fri", &["22:00-24:00"]), ("sat", &["00:00-06:00"])],
            ),
            &q(),
        )
        .unwrap();
        let tokyo = |s| at("Asia/Tokyo", s);
        assert!(c.is_open(tokyo("2026-12-04T23:59")));
        assert!(c.is_open(tokyo("2026-12-05T00:00")));
        assert_eq!(
            c.next_change(tokyo("2026-12-04T22:30")),
            Some(tokyo("2026-12-05T06:00"))
        );
    }

    #[test]
    fn japanese_holidays_and_closures_close_the_whole_day() {
        let mut h = hours("Asia/Tokyo", WEEKDAYS_9_18);
        h.holidays = vec!["jp".into()];
        h.closures = vec![Closure {
            from: "2026-12-29".into(),
            to: Some("2027-01-03".into()),
            name: "year end".into(),
        }];
        let c = Calendar::compile(&h, &q()).unwrap();
        let tokyo = |s| at("Asia/Tokyo", s);
        // 2026-11-23 (Monday): Labour Thanksgiving Day.
        assert_eq!(
            c.closed_at(tokyo("2026-11-23T10:00")),
            Some(Closed::Holiday("勤労感謝の日"))
        );
        assert!(c.is_open(tokyo("2026-11-24T10:00")));
        assert_eq!(
            c.closed_at(tokyo("2026-12-30T10:00")),
            Some(Closed::Closure("year end".into()))
        );
        // From the last working day of the year to the first of the next: Monday
        // 2027-01-04 (not a holiday).
        assert_eq!(
            c.next_change(tokyo("2026-12-28T18:00")),
            Some(tokyo("2027-01-04T09:00"))
        );
        // Friday 2026-09-18 to Thursday 2026-09-24: Sep 21-23 are holidays.
        assert_eq!(
            c.next_change(tokyo("2026-09-18T18:00")),
            Some(tokyo("2026-09-24T09:00"))
        );
    }

    #[test]
    fn adjacent_intervals_make_no_change_between_them() {
        let c = Calendar::compile(
            &hours("UTC", &[("mon", &["13:00-18:00", "09:00-13:00"])]),
            &q(),
        )
        .unwrap();
        let utc = |s| at("UTC", s);
        assert_eq!(
            c.next_change(utc("2026-12-07T10:00")),
            Some(utc("2026-12-07T18:00"))
        );
    }

    #[test]
    fn always_open_with_offer_has_no_change() {
        let mut h = hours("UTC", &[]);
        h.after_hours.offer = true;
        let c = Calendar::compile(&h, &q()).unwrap();
        assert_eq!(c.next_change(at("UTC", "2026-12-07T10:00")), None);
    }

    proptest::proptest! {
        /// `next_change` is exact: the state holds from `t` up to the change (checked
        /// just before it and at random points between) and flips at it — across
        /// daylight-saving changes, holidays, closures and midnight-spanning shifts.
        #[test]
        fn the_state_holds_until_the_next_change_and_flips_there(
            t in 1_704_067_200_000i64..1_924_992_000_000, // 2024 to 2031
            zone in 0usize..3,
            between in proptest::collection::vec(0.0f64..1.0, 4),
        ) {
            let mut h = match zone {
                0 => hours("Asia/Tokyo", WEEKDAYS_9_18),
                1 => hours("America/New_York", &[("sun", &["01:30-03:30"]), ("sat", &["22:00-24:00"]), ("wed", &["09:00-12:00", "12:00-17:00"])]),
                _ => hours("Europe/London", &[("mon", &["00:00-24:00"]), ("tue", &["00:00-02:00", "23:00-24:00"])]),
            };
            h.holidays = vec!["jp".into()];
            h.closures = vec![Closure { from: "2027-03-01".into(), to: Some("2027-04-15".into()), name: "move".into() }];
            let c = Calendar::compile(&h, &q()).unwrap();
            let t = Millis(t);
            let open = c.is_open(t);
            let change = c.next_change(t).expect("every calendar here changes within weeks");
            proptest::prop_assert!(change > t);
            proptest::prop_assert_ne!(c.is_open(change), open);
            proptest::prop_assert_eq!(c.is_open(Millis(change.0 - 1)), open);
            for f in between {
                let mid = Millis(t.0 + ((change.0 - t.0) as f64 * f) as i64);
                proptest::prop_assert_eq!(c.is_open(mid), open, "at {}", c.local(mid));
            }
        }
    }

    #[test]
    fn mistakes_are_refused_with_the_exact_field() {
        let refused = |h: BusinessHours| Calendar::compile(&h, &q()).unwrap_err();
        let base = || hours("Asia/Tokyo", WEEKDAYS_9_18);
        let e = refused(BusinessHours {
            time_zone: "Asia/Tokio".into(),
            ..base()
        });
        assert_eq!(e.field, "hours.time_zone");
        let e = refused(hours("UTC", &[("monday", &["09:00-18:00"])]));
        assert_eq!(e.field, "hours.weekly.monday");
        for bad in [
            "9:00-18:00",
            "09:00-25:00",
            "09:60-10:00",
            "18:00-09:00",
            "09:00",
            "24:00-24:00",
            "09:00-09:00",
        ] {
            let e = refused(hours("UTC", &[("mon", &["08:00-08:30", bad])]));
            assert_eq!(e.field, "hours.weekly.mon[1]", "{bad}: {e}");
        }
        let e = refused(hours("UTC", &[("tue", &["09:00-12:00", "11:00-13:00"])]));
        assert_eq!(e.to_string(), "hours.weekly.tue[1]: overlaps 09:00-12:00");
        let e = refused(BusinessHours {
            holidays: vec!["jp".into(), "us".into()],
            ..base()
        });
        assert_eq!(e.field, "hours.holidays[1]");
        let closure = |from: &str, to: Option<&str>| Closure {
            from: from.into(),
            to: to.map(Into::into),
            name: String::new(),
        };
        let e = refused(BusinessHours {
            closures: vec![closure("2026-12-29", None), closure("2026-02-30", None)],
            ..base()
        });
        assert_eq!(e.field, "hours.closures[1].from");
        let e = refused(BusinessHours {
            closures: vec![closure("2026-12-29", Some("2026-12-28"))],
            ..base()
        });
        assert_eq!(e.field, "hours.closures[0].to");
        let e = refused(BusinessHours {
            closures: vec![closure("2026-01-01", Some("2027-01-02"))],
            ..base()
        });
        assert_eq!(e.field, "hours.closures[0]");
        let mut h = base();
        h.after_hours.route_to = Some(q());
        assert_eq!(refused(h).field, "hours.after_hours.route_to");
        let mut h = base();
        h.after_hours.message = Some("  ".into());
        assert_eq!(refused(h).field, "hours.after_hours.message");
        let mut h = base();
        h.after_hours.message = Some("x".repeat(MAX_MESSAGE_CHARS + 1));
        assert_eq!(refused(h).field, "hours.after_hours.message");
        // Never open, and nothing offers: conversations would wait for ever.
        assert_eq!(refused(hours("UTC", &[])).field, "hours.weekly");
        // A closure of exactly MAX_CLOSURE_DAYS is fine.
        Calendar::compile(
            &BusinessHours {
                closures: vec![closure("2026-01-01", Some("2027-01-01"))],
                ..base()
            },
            &q(),
        )
        .unwrap();
    }
}
