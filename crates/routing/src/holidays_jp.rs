//! Japan's national holidays (国民の祝日), computed by rule for 2000 to 2099.
//!
//! Owns only the calendar: which civil dates are public holidays in Japan, and by what
//! name. It knows nothing of time zones or business hours: callers ask about a date
//! already taken in Japan's civil calendar.
//!
//! # Sources
//! The Act on National Holidays (国民の祝日に関する法律, Act No. 178 of 1948) as in
//! force in each year, with its amendments: the Happy Monday amendments (成人の日 and
//! 体育の日 on Mondays from 2000, 海の日 and 敬老の日 from 2003); 昭和の日, みどりの日
//! on 4 May and the current 振替休日 rule from 2007; 山の日 from 2016; 天皇誕生日 on
//! 23 February from 2020 (by the 2017 abdication act, which left 2019 with none);
//! 体育の日 renamed スポーツの日 from 2020. Also the 2019 enthronement act
//! (天皇の即位の日及び即位礼正殿の儀の行われる日を休日とする法律), which made 1 May
//! and 22 October 2019 count as national holidays, and the Tokyo Olympics special
//! measures act, which moved 海の日, スポーツの日 and 山の日 in 2020 and 2021.
//!
//! # Rules
//! - **Base holidays** (国民の祝日 and the two 2019 days): fixed dates, nth Mondays
//!   and the two equinox days; see `national`.
//! - **振替休日** (substitute holiday, art. 3(2)): when a base holiday falls on a
//!   Sunday, the next day that is not a base holiday is a holiday. Until 2006 the Act
//!   said "the next day"; the readings agree on 2000 to 2006, where no Sunday base
//!   holiday is followed by another (a test checks it).
//! - **国民の休日** (citizens' holiday, art. 3(3)): a day that is not a base holiday,
//!   whose previous and next days both are. Until 2006 the Act excluded Sundays and
//!   振替休日 from this, and so does this module: after 2006 every such day is a
//!   Tuesday or Thursday, so the current wording gives the same days. This rule makes
//!   4 May a holiday before 2007, and 30 April and 2 May 2019 and some 22 Septembers
//!   (2009, 2015, 2026).
//!
//! # Limits
//! Only 2000 to 2099: earlier years had other rules, and the equinox formula holds
//! only to 2099. The equinox days are not fixed by the Act: each February the Official
//! Gazette publishes them for the next year only (暦要項, computed by the National
//! Astronomical Observatory). The formula here is the standard approximation; it
//! agrees with every day published so far (2000 to 2027) and with the Observatory's
//! predictions to 2030, but a far-future year could differ by a day. Amendments to
//! the Act after this was written must be added by hand.

use jiff::civil::{Date, Weekday};

/// First and last year the built-in calendar covers.
pub const FIRST_YEAR: i16 = 2000;
pub const LAST_YEAR: i16 = 2099;

const SUBSTITUTE: &str = "振替休日";
const CITIZENS: &str = "国民の休日";

/// Enough room for any year in range (the most is asserted in the tests), so building
/// a year's list allocates exactly once.
const CAPACITY: usize = 24;

/// The holiday on `date`, by its Japanese name (e.g. "元日", "振替休日", "国民の休日"),
/// or None. Years outside FIRST_YEAR..=LAST_YEAR have none.
pub fn holiday(date: Date) -> Option<&'static str> {
    holidays(date.year())
        .into_iter()
        .find(|&(day, _)| day == date)
        .map(|(_, name)| name)
}

/// Every holiday of `year`, in date order (empty outside the range).
pub fn holidays(year: i16) -> Vec<(Date, &'static str)> {
    if !(FIRST_YEAR..=LAST_YEAR).contains(&year) {
        return Vec::new();
    }
    let mut days = Vec::with_capacity(CAPACITY);
    national(year, &mut days);
    days.sort_unstable_by_key(|&(day, _)| day);
    let base = days.len();

    // 振替休日: from each Sunday base holiday, the first following day that is not one.
    for i in 0..base {
        let (day, _) = days[i];
        if day.weekday() != Weekday::Sunday {
            continue;
        }
        let mut next = day.tomorrow().ok();
        while let Some(d) = next.filter(|&d| is_in(&days[..base], d)) {
            next = d.tomorrow().ok();
        }
        if let Some(d) = next {
            days.push((d, SUBSTITUTE));
        }
    }

    // 国民の休日: a lone non-holiday between two base holidays. Consecutive entries of
    // the sorted base list two days apart have exactly such a day between them.
    for i in 1..base {
        let (before, _) = days[i - 1];
        let (after, _) = days[i];
        let Some(middle) = before.tomorrow().ok() else {
            continue;
        };
        if middle.tomorrow().ok() != Some(after)
            || middle.weekday() == Weekday::Sunday
            || is_in(&days[base..], middle)
        {
            continue;
        }
        days.push((middle, CITIZENS));
    }

    days.sort_unstable_by_key(|&(day, _)| day);
    days
}

/// Pushes the base holidays (国民の祝日, plus the 2019 enthronement days, which the
/// special act made count as such) of `year`, unsorted.
fn national(year: i16, out: &mut Vec<(Date, &'static str)>) {
    let mut add = |day: Option<Date>, name: &'static str| {
        // Every date built here is valid for years in range; `None` cannot occur, and
        // if it did, dropping the entry beats panicking in a routing decision.
        if let Some(day) = day {
            out.push((day, name));
        }
    };
    let (vernal, autumnal) = equinoxes(year);

    add(on(year, 1, 1), "元日");
    add(nth_monday(year, 1, 2), "成人の日");
    add(on(year, 2, 11), "建国記念の日");
    if year >= 2020 {
        add(on(year, 2, 23), "天皇誕生日");
    }
    add(on(year, 3, vernal), "春分の日");
    add(
        on(year, 4, 29),
        if year >= 2007 {
            "昭和の日"
        } else {
            "みどりの日"
        },
    );
    if year == 2019 {
        add(on(year, 5, 1), "天皇の即位の日");
    }
    add(on(year, 5, 3), "憲法記念日");
    if year >= 2007 {
        add(on(year, 5, 4), "みどりの日");
    }
    add(on(year, 5, 5), "こどもの日");
    let marine = match year {
        ..=2002 => on(year, 7, 20),
        2020 => on(year, 7, 23),
        2021 => on(year, 7, 22),
        _ => nth_monday(year, 7, 3),
    };
    add(marine, "海の日");
    let mountain = match year {
        ..=2015 => None,
        2020 => on(year, 8, 10),
        2021 => on(year, 8, 8),
        _ => on(year, 8, 11),
    };
    add(mountain, "山の日");
    let aged = match year {
        ..=2002 => on(year, 9, 15),
        _ => nth_monday(year, 9, 3),
    };
    add(aged, "敬老の日");
    add(on(year, 9, autumnal), "秋分の日");
    match year {
        ..=2019 => add(nth_monday(year, 10, 2), "体育の日"),
        2020 => add(on(year, 7, 24), "スポーツの日"),
        2021 => add(on(year, 7, 23), "スポーツの日"),
        _ => add(nth_monday(year, 10, 2), "スポーツの日"),
    }
    if year == 2019 {
        add(on(year, 10, 22), "即位礼正殿の儀の行われる日");
    }
    add(on(year, 11, 3), "文化の日");
    add(on(year, 11, 23), "勤労感謝の日");
    if year <= 2018 {
        add(on(year, 12, 23), "天皇誕生日");
    }
}

/// Days of March and September of the equinoxes of `year` (valid 1980 to 2099):
/// floor(20.8431 + 0.242194 n - floor(n / 4)) and the same with 23.2488, n = year - 1980.
/// Done in millionths with integers, so no float rounding can move a day; n >= 0 in
/// range, so integer division is the floor.
fn equinoxes(year: i16) -> (i8, i8) {
    let n = i32::from(year) - 1980;
    let day = |base: i32| (base + 242_194 * n) / 1_000_000 - n / 4;
    let vernal = day(20_843_100);
    let autumnal = day(23_248_800);
    // In range these are 19 to 21 and 22 to 23, so the fallback is never taken.
    (
        i8::try_from(vernal).unwrap_or(20),
        i8::try_from(autumnal).unwrap_or(23),
    )
}

fn on(year: i16, month: i8, day: i8) -> Option<Date> {
    Date::new(year, month, day).ok()
}

fn nth_monday(year: i16, month: i8, nth: i8) -> Option<Date> {
    on(year, month, 1)?
        .nth_weekday_of_month(nth, Weekday::Monday)
        .ok()
}

/// Whether `day` is in `list` (a few entries: a linear scan is cheapest).
fn is_in(list: &[(Date, &str)], day: Date) -> bool {
    list.iter().any(|&(d, _)| d == day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    /// The year's holidays as (month, day, name), for exact comparison.
    fn md(year: i16) -> Vec<(i8, i8, &'static str)> {
        holidays(year)
            .into_iter()
            .map(|(d, name)| (d.month(), d.day(), name))
            .collect()
    }

    #[test]
    fn year_2024() {
        assert_eq!(
            md(2024),
            vec![
                (1, 1, "元日"),
                (1, 8, "成人の日"),
                (2, 11, "建国記念の日"),
                (2, 12, "振替休日"),
                (2, 23, "天皇誕生日"),
                (3, 20, "春分の日"),
                (4, 29, "昭和の日"),
                (5, 3, "憲法記念日"),
                (5, 4, "みどりの日"),
                (5, 5, "こどもの日"),
                (5, 6, "振替休日"),
                (7, 15, "海の日"),
                (8, 11, "山の日"),
                (8, 12, "振替休日"),
                (9, 16, "敬老の日"),
                (9, 22, "秋分の日"),
                (9, 23, "振替休日"),
                (10, 14, "スポーツの日"),
                (11, 3, "文化の日"),
                (11, 4, "振替休日"),
                (11, 23, "勤労感謝の日"),
            ]
        );
    }

    #[test]
    fn year_2025() {
        assert_eq!(
            md(2025),
            vec![
                (1, 1, "元日"),
                (1, 13, "成人の日"),
                (2, 11, "建国記念の日"),
                (2, 23, "天皇誕生日"),
                (2, 24, "振替休日"),
                (3, 20, "春分の日"),
                (4, 29, "昭和の日"),
                (5, 3, "憲法記念日"),
                (5, 4, "みどりの日"),
                (5, 5, "こどもの日"),
                (5, 6, "振替休日"),
                (7, 21, "海の日"),
                (8, 11, "山の日"),
                (9, 15, "敬老の日"),
                (9, 23, "秋分の日"),
                (10, 13, "スポーツの日"),
                (11, 3, "文化の日"),
                (11, 23, "勤労感謝の日"),
                (11, 24, "振替休日"),
            ]
        );
    }

    #[test]
    fn year_2026_has_a_citizens_holiday_in_september() {
        assert_eq!(
            md(2026),
            vec![
                (1, 1, "元日"),
                (1, 12, "成人の日"),
                (2, 11, "建国記念の日"),
                (2, 23, "天皇誕生日"),
                (3, 20, "春分の日"),
                (4, 29, "昭和の日"),
                (5, 3, "憲法記念日"),
                (5, 4, "みどりの日"),
                (5, 5, "こどもの日"),
                (5, 6, "振替休日"),
                (7, 20, "海の日"),
                (8, 11, "山の日"),
                (9, 21, "敬老の日"),
                (9, 22, "国民の休日"),
                (9, 23, "秋分の日"),
                (10, 12, "スポーツの日"),
                (11, 3, "文化の日"),
                (11, 23, "勤労感謝の日"),
            ]
        );
    }

    #[test]
    fn year_2019_enthronement() {
        let all = md(2019);
        let golden_week: Vec<_> = all
            .iter()
            .copied()
            .filter(|&(m, d, _)| (m, d) >= (4, 29) && (m, d) <= (5, 6))
            .collect();
        assert_eq!(
            golden_week,
            vec![
                (4, 29, "昭和の日"),
                (4, 30, "国民の休日"),
                (5, 1, "天皇の即位の日"),
                (5, 2, "国民の休日"),
                (5, 3, "憲法記念日"),
                (5, 4, "みどりの日"),
                (5, 5, "こどもの日"),
                (5, 6, "振替休日"),
            ]
        );
        assert_eq!(
            holiday(date(2019, 10, 22)),
            Some("即位礼正殿の儀の行われる日")
        );
        // Neither emperor's birthday falls in 2019.
        assert_eq!(holiday(date(2019, 12, 23)), None);
        assert_eq!(holiday(date(2019, 2, 23)), None);
        assert!(!all.iter().any(|&(_, _, name)| name == "天皇誕生日"));
    }

    #[test]
    fn year_2020_olympic_moves() {
        let all = md(2020);
        for expected in [
            (2, 23, "天皇誕生日"),
            (2, 24, "振替休日"),
            (3, 20, "春分の日"),
            (7, 23, "海の日"),
            (7, 24, "スポーツの日"),
            (8, 10, "山の日"),
            (9, 22, "秋分の日"),
        ] {
            assert!(all.contains(&expected), "missing {expected:?}");
        }
        assert!(!all.iter().any(|&(m, _, _)| m == 10), "{all:?}");
        assert_eq!(holiday(date(2020, 8, 11)), None);
    }

    #[test]
    fn year_2021_olympic_moves() {
        let all = md(2021);
        for expected in [
            (7, 22, "海の日"),
            (7, 23, "スポーツの日"),
            (8, 8, "山の日"),
            (8, 9, "振替休日"),
        ] {
            assert!(all.contains(&expected), "missing {expected:?}");
        }
        assert!(!all.iter().any(|&(m, _, _)| m == 10), "{all:?}");
        assert_eq!(holiday(date(2021, 7, 19)), None);
        assert_eq!(holiday(date(2021, 8, 11)), None);
    }

    #[test]
    fn before_2007_april_29_is_greenery_day_and_may_4_a_citizens_holiday() {
        for year in [2005, 2006] {
            assert_eq!(holiday(date(year, 4, 29)), Some("みどりの日"));
            assert_eq!(holiday(date(year, 5, 4)), Some("国民の休日"));
        }
        assert_eq!(date(2006, 5, 4).weekday(), Weekday::Thursday);
        assert_eq!(holiday(date(2007, 4, 29)), Some("昭和の日"));
        assert_eq!(holiday(date(2007, 5, 4)), Some("みどりの日"));
        // 4 May 2003 was a Sunday: a Sunday is never a 国民の休日.
        assert_eq!(holiday(date(2003, 5, 4)), None);
    }

    #[test]
    fn citizens_holiday_in_september_2009_and_2015() {
        assert_eq!(holiday(date(2009, 9, 22)), Some("国民の休日"));
        assert_eq!(holiday(date(2015, 9, 22)), Some("国民の休日"));
    }

    #[test]
    fn ordinary_days_and_out_of_range_years_have_none() {
        assert_eq!(holiday(date(2026, 12, 2)), None);
        assert_eq!(holiday(date(2100, 1, 1)), None);
        assert_eq!(holiday(date(1999, 1, 1)), None);
        assert!(holidays(FIRST_YEAR - 1).is_empty());
        assert!(holidays(LAST_YEAR + 1).is_empty());
        assert_eq!(holiday(date(FIRST_YEAR, 1, 1)), Some("元日"));
        assert_eq!(holiday(date(LAST_YEAR, 1, 1)), Some("元日"));
    }

    /// The formula against the Gazette (2000 to 2027) and the National Astronomical
    /// Observatory's predictions (2028 to 2030).
    #[test]
    fn equinoxes_match_the_published_days() {
        let vernal_21 = [
            2002, 2003, 2006, 2007, 2010, 2011, 2014, 2015, 2018, 2019, 2022, 2023, 2027,
        ];
        let autumnal_22 = [2012, 2016, 2020, 2024, 2028];
        for year in 2000..=2030 {
            let (v, a) = equinoxes(year);
            assert_eq!(v, if vernal_21.contains(&year) { 21 } else { 20 }, "{year}");
            assert_eq!(
                a,
                if autumnal_22.contains(&year) { 22 } else { 23 },
                "{year}"
            );
        }
    }

    #[test]
    fn every_year_in_range_is_consistent() {
        let mut fewest = usize::MAX;
        let mut most = 0;
        for year in FIRST_YEAR..=LAST_YEAR {
            let all = holidays(year);
            fewest = fewest.min(all.len());
            most = most.max(all.len());
            assert!(
                all.windows(2).all(|w| w[0].0 < w[1].0),
                "{year}: not strictly increasing"
            );
            assert!(all.iter().all(|&(d, _)| d.year() == year), "{year}");
            let is_base = |d: Date| {
                all.iter()
                    .any(|&(h, name)| h == d && name != SUBSTITUTE && name != CITIZENS)
            };
            for &(day, name) in &all {
                assert_eq!(holiday(day), Some(name));
                if name == SUBSTITUTE || name == CITIZENS {
                    assert_ne!(day.weekday(), Weekday::Sunday, "{day} {name}");
                }
                if name == SUBSTITUTE && year < 2007 {
                    // The pre-2007 rule ("the next day") gives the same day.
                    assert_eq!(day.yesterday().unwrap().weekday(), Weekday::Sunday);
                }
                if name == CITIZENS && year >= 2007 {
                    // The post-2006 rule (no Sunday exclusion) gives the same day.
                    assert!(
                        matches!(day.weekday(), Weekday::Tuesday | Weekday::Thursday),
                        "{day}"
                    );
                }
                if name == SUBSTITUTE {
                    // Walking back, only base holidays until a Sunday one.
                    let mut back = day.yesterday().unwrap();
                    while back.weekday() != Weekday::Sunday {
                        assert!(is_base(back), "{day}: {back} is not a base holiday");
                        back = back.yesterday().unwrap();
                    }
                    assert!(is_base(back), "{day}: Sunday {back} is not a base holiday");
                }
                if name == CITIZENS {
                    assert!(is_base(day.yesterday().unwrap()), "{day}");
                    assert!(is_base(day.tomorrow().unwrap()), "{day}");
                }
                // Every Sunday base holiday is followed by its substitute.
                if is_base(day) && day.weekday() == Weekday::Sunday {
                    let mut next = day.tomorrow().unwrap();
                    while is_base(next) {
                        next = next.tomorrow().unwrap();
                    }
                    assert_eq!(holiday(next), Some(SUBSTITUTE), "{day}");
                }
            }
        }
        assert_eq!((fewest, most), (15, 22));
        assert!(most <= CAPACITY);
    }
}
