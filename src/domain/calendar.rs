//! The lab's working-day calendar: which local days are worked, and day arithmetic on them.
//!
//! Rule (STANDARDS.md §6, HIGH): working days follow the official calendar published each year
//! by the State Council: Saturday and Sunday are off except make-up working days (调休上班), and
//! public holidays are off. A calendar is a time zone (default Asia/Shanghai, DESIGN.md
//! "Deadlines and turnaround") plus the listed exceptions; any day not listed follows the
//! Monday–Friday rule. Day boundaries are local midnights in the calendar's time zone; instants
//! are UTC. Time-of-day arithmetic (working durations, pauses) is in `working_time.rs`; loading a
//! calendar from CSV text is in `calendar_csv.rs`.

use super::terms::{coded_enum, UnknownCode};
use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveDateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound::{Excluded, Included, Unbounded};

pub use super::calendar_csv::parse_calendar_csv;

coded_enum!(
    /// What an official calendar says about one date (STANDARDS.md §6).
    DayKind, "day kind" {
        /// Off, even if a weekday (public holiday).
        RestDay => "rest_day",
        /// Worked, even if a Saturday or Sunday (make-up working day, 调休上班).
        WorkingDay => "working_day",
    }
);

/// One listed date of an official calendar: a holiday rest day or a make-up working day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarDay {
    /// The local date.
    pub date: NaiveDate,
    /// Whether the date is off or worked.
    pub kind: DayKind,
    /// The holiday it belongs to, as published (e.g. "国庆节 National Day").
    pub occasion: String,
}

/// A half-open span of time `[start, end)` between two UTC instants, e.g. a pause of a stage's
/// clock (DESIGN.md "Deadlines and turnaround"). An interval with `end <= start` is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Interval {
    /// First instant inside the interval (UTC).
    pub start: DateTime<Utc>,
    /// First instant after the interval (UTC).
    pub end: DateTime<Utc>,
}

/// Errors of building or loading a calendar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// The same date is listed twice with different kinds.
    #[error("date {date} is listed both as {first} and as {second}")]
    ConflictingDay {
        /// The date listed twice.
        date: NaiveDate,
        /// The kind given first.
        first: DayKind,
        /// The kind given later.
        second: DayKind,
    },
    /// The CSV text could not be read (bad quoting, uneven rows, invalid UTF-8).
    #[error("calendar CSV line {line}: {message}")]
    Csv {
        /// 1-based line of the file (the header is line 1).
        line: u64,
        /// What went wrong.
        message: String,
    },
    /// A required column is missing from the header.
    #[error("calendar CSV: missing column '{column}' in the header (need date, kind, occasion)")]
    MissingColumn {
        /// The missing column.
        column: &'static str,
    },
    /// A field holds an invalid value.
    #[error("calendar CSV line {line}, column '{column}': {message}")]
    InvalidField {
        /// 1-based line of the file (the header is line 1).
        line: u64,
        /// The column name.
        column: &'static str,
        /// What is wrong, with the value as given.
        message: String,
    },
    /// The same date appears on two lines of one file with different kinds.
    #[error("calendar CSV line {line}: date {date} is already listed on line {first_line} with another kind")]
    ConflictingLine {
        /// The later line.
        line: u64,
        /// The earlier line.
        first_line: u64,
        /// The date listed twice.
        date: NaiveDate,
    },
}

/// A lab's working-day calendar: a time zone plus the dates an official calendar lists as
/// holiday rest days or make-up working days (STANDARDS.md §6; DESIGN.md "Deadlines and
/// turnaround"). Unlisted dates follow Monday–Friday working, Saturday–Sunday rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingCalendar {
    tz: Tz,
    overrides: BTreeMap<NaiveDate, DayKind>,
    occasions: BTreeMap<NaiveDate, String>,
}

impl WorkingCalendar {
    /// Builds a calendar for time zone `tz` from the listed days (any order; several years may be
    /// combined). A date listed twice with the same kind is kept once (first occasion wins).
    ///
    /// # Errors
    /// [`CalendarError::ConflictingDay`] when a date is listed twice with different kinds.
    pub fn new(tz: Tz, days: impl IntoIterator<Item = CalendarDay>) -> Result<Self, CalendarError> {
        let mut overrides = BTreeMap::new();
        let mut occasions = BTreeMap::new();
        for day in days {
            match overrides.get(&day.date) {
                Some(&first) if first != day.kind => {
                    return Err(CalendarError::ConflictingDay {
                        date: day.date,
                        first,
                        second: day.kind,
                    })
                }
                Some(_) => {}
                None => {
                    overrides.insert(day.date, day.kind);
                    occasions.insert(day.date, day.occasion);
                }
            }
        }
        Ok(WorkingCalendar {
            tz,
            overrides,
            occasions,
        })
    }

    /// The calendar's time zone (day boundaries are local midnights in it).
    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// The listed kind of `date`, if the official calendar lists it.
    pub fn listed_kind(&self, date: NaiveDate) -> Option<DayKind> {
        self.overrides.get(&date).copied()
    }

    /// The occasion of a listed date (e.g. "春节 Spring Festival"), if listed.
    pub fn occasion(&self, date: NaiveDate) -> Option<&str> {
        self.occasions.get(&date).map(String::as_str)
    }

    /// Whether the local `date` is a working day: its listed kind if listed, else Monday–Friday
    /// (STANDARDS.md §6).
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        match self.overrides.get(&date) {
            Some(kind) => *kind == DayKind::WorkingDay,
            None => is_weekday(date),
        }
    }

    /// The local date (in the calendar's time zone) of a UTC instant.
    pub fn local_date(&self, instant: DateTime<Utc>) -> NaiveDate {
        instant.with_timezone(&self.tz).date_naive()
    }

    /// The first instant of the local `date` (local midnight), as UTC. If midnight is repeated
    /// (clocks set back) the earlier one is taken; if it does not exist (clocks set forward over
    /// midnight) the earliest valid local time after it is taken. Asia/Shanghai has had neither
    /// since 1991. Saturates at the ends of chrono's range.
    pub fn start_of_day(&self, date: NaiveDate) -> DateTime<Utc> {
        let midnight = date.and_time(chrono::NaiveTime::MIN);
        if let Some(t) = self.earliest_valid(midnight) {
            return t;
        }
        // In a gap: find the first valid minute, then the first valid second before it.
        let after = |secs: i64| midnight.checked_add_signed(TimeDelta::seconds(secs));
        for m in 1..=(48 * 60) {
            let Some(at) = after(m * 60) else {
                break;
            };
            if self.earliest_valid(at).is_some() {
                for s in 1..=60 {
                    let Some(sec) = after(m * 60 - 60 + s) else {
                        break;
                    };
                    if let Some(t) = self.earliest_valid(sec) {
                        return t;
                    }
                }
            }
        }
        if date.year() < 0 {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        }
    }

    fn earliest_valid(&self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        self.tz
            .from_local_datetime(&local)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The `n`-th working day after `date` (`date` itself is not counted; `n = 0` gives `date`).
    /// Example (2025 official calendar): Tuesday 2025-09-30 + 1 working day = Thursday
    /// 2025-10-09 (10-01..10-08 are the National Day holiday). Saturates at `NaiveDate::MAX`.
    pub fn add_working_days(&self, date: NaiveDate, n: u32) -> NaiveDate {
        let mut cur = date;
        let mut remaining = n;
        while remaining > 0 {
            // Fast-forward whole weeks with no listed date: each has exactly 5 working days.
            // Keep at least one working day to find by stepping, so we land on a working day.
            let weeks_by_n = (remaining - 1) / 5;
            let weeks_free = match self.overrides.range((Excluded(cur), Unbounded)).next() {
                // The weeks (cur, cur + 7w] must end before the next listed date.
                Some((next, _)) => {
                    u32::try_from(((*next - cur).num_days() - 1) / 7).unwrap_or(u32::MAX)
                }
                None => u32::MAX,
            };
            let weeks = weeks_by_n.min(weeks_free);
            if weeks > 0 {
                cur = match cur.checked_add_days(Days::new(7 * u64::from(weeks))) {
                    Some(d) => d,
                    None => return NaiveDate::MAX,
                };
                remaining -= 5 * weeks; // 5 × weeks ≤ remaining − 1
                continue;
            }
            cur = match cur.succ_opt() {
                Some(d) => d,
                None => return NaiveDate::MAX,
            };
            if self.is_working_day(cur) {
                remaining -= 1;
            }
        }
        cur
    }

    /// The number of working days `d` with `from < d ≤ to`; when `to < from`, minus the count for
    /// `(to, from]`. So `working_days_between(d, add_working_days(d, n)) == n`.
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> i64 {
        if to < from {
            return -self.working_days_between(to, from);
        }
        let mut count = weekdays_through(to) - weekdays_through(from);
        for (date, kind) in self.overrides.range((Excluded(from), Included(to))) {
            match (is_weekday(*date), kind) {
                (true, DayKind::RestDay) => count -= 1,
                (false, DayKind::WorkingDay) => count += 1,
                _ => {}
            }
        }
        count
    }
}

fn is_weekday(date: NaiveDate) -> bool {
    date.weekday().num_days_from_monday() < 5
}

/// Number of Monday–Friday dates among CE days 1..=N of `date` (day 1 = 0001-01-01, a Monday),
/// extended to N ≤ 0 so that differences count weekdays in any range.
fn weekdays_through(date: NaiveDate) -> i64 {
    let n = i64::from(date.num_days_from_ce());
    5 * n.div_euclid(7) + n.rem_euclid(7).min(5)
}

#[cfg(test)]
mod tests {
    use super::super::calendar_csv::cn_2025_2026;
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn weekends_holidays_and_make_up_days() {
        let cal = cn_2025_2026();
        assert!(cal.is_working_day(d("2025-09-26"))); // Friday, unlisted
        assert!(!cal.is_working_day(d("2025-09-27"))); // Saturday, unlisted
        assert!(cal.is_working_day(d("2025-09-28"))); // Sunday, make-up day
        assert!(!cal.is_working_day(d("2025-10-01"))); // Wednesday, National Day
        assert!(!cal.is_working_day(d("2025-10-08"))); // Wednesday, last day of the holiday
        assert!(cal.is_working_day(d("2025-10-11"))); // Saturday, make-up day
        assert_eq!(cal.listed_kind(d("2025-10-11")), Some(DayKind::WorkingDay));
        assert_eq!(cal.occasion(d("2026-02-14")), Some("春节 Spring Festival"));
        assert_eq!(cal.tz(), chrono_tz::Asia::Shanghai);
    }

    #[test]
    fn conflicting_days_are_refused_and_repeats_kept_once() {
        let day = |kind| CalendarDay {
            date: d("2025-10-01"),
            kind,
            occasion: "x".into(),
        };
        let e = WorkingCalendar::new(Tz::UTC, [day(DayKind::RestDay), day(DayKind::WorkingDay)])
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "date 2025-10-01 is listed both as rest_day and as working_day"
        );
        let cal = WorkingCalendar::new(Tz::UTC, [day(DayKind::RestDay), day(DayKind::RestDay)]);
        assert!(!cal.unwrap().is_working_day(d("2025-10-01")));
    }

    #[test]
    fn national_day_2025_spans() {
        let cal = cn_2025_2026();
        // Fri 09-26 → Sun 09-28 (make-up), Mon 09-29, Tue 09-30, [10-01..10-08 rest],
        // Thu 10-09, Fri 10-10, Sat 10-11 (make-up): 6 working days.
        assert_eq!(cal.add_working_days(d("2025-09-26"), 6), d("2025-10-11"));
        assert_eq!(
            cal.working_days_between(d("2025-09-26"), d("2025-10-11")),
            6
        );
        assert_eq!(
            cal.working_days_between(d("2025-10-11"), d("2025-09-26")),
            -6
        );
        // Tue 09-30 + 1 = Thu 10-09; the holiday week adds nothing.
        assert_eq!(cal.add_working_days(d("2025-09-30"), 1), d("2025-10-09"));
        assert_eq!(cal.add_working_days(d("2025-09-30"), 0), d("2025-09-30"));
    }

    #[test]
    fn spring_festival_2026() {
        let cal = cn_2025_2026();
        // Fri 02-13 → Sat 02-14 (make-up) = 1; 02-15..02-23 rest; Tue 02-24 = 2, Wed 02-25 = 3,
        // Thu 02-26 = 4, Fri 02-27 = 5, Sat 02-28 (make-up) = 6, Mon 03-02 = 7.
        assert_eq!(cal.add_working_days(d("2026-02-13"), 1), d("2026-02-14"));
        assert_eq!(cal.add_working_days(d("2026-02-13"), 2), d("2026-02-24"));
        assert_eq!(cal.add_working_days(d("2026-02-13"), 7), d("2026-03-02"));
        // February 2026: 20 weekdays − 6 weekday holidays (16..20, 23) + 2 make-up Saturdays = 16.
        assert_eq!(
            cal.working_days_between(d("2026-01-31"), d("2026-02-28")),
            16
        );
    }

    #[test]
    fn whole_years_and_long_jumps() {
        let cal = cn_2025_2026();
        // 2025 (starts on a Wednesday, 365 days): 52 × 5 + 1 = 261 weekdays. Rest days on
        // weekdays: 01-01, 01-28..31, 02-03, 02-04, 04-04, 05-01, 05-02, 05-05, 06-02,
        // 10-01..03, 10-06..08 = 1 + 4 + 2 + 1 + 3 + 1 + 3 + 3 = 18; make-up days 01-26, 02-08,
        // 04-27, 09-28, 10-11 = 5. 261 − 18 + 5 = 248.
        assert_eq!(
            cal.working_days_between(d("2024-12-31"), d("2025-12-31")),
            248
        );
        // After the last listed date only Monday–Friday count: 2027-01-01 is a Friday;
        // 5 working days later is Friday 2027-01-08; 500 = 100 weeks = 700 days later:
        // 2027-01-01 + 365 = 2028-01-01, + 335 = day 336 of leap 2028 = Friday 2028-12-01.
        assert_eq!(cal.add_working_days(d("2027-01-01"), 5), d("2027-01-08"));
        assert_eq!(cal.add_working_days(d("2027-01-01"), 500), d("2028-12-01"));
        assert_eq!(cal.add_working_days(NaiveDate::MAX, 1), NaiveDate::MAX);
    }

    #[test]
    fn start_of_day_and_local_date_in_shanghai_and_across_dst() {
        let cal = cn_2025_2026();
        let t = cal.start_of_day(d("2025-10-09"));
        assert_eq!(t.to_rfc3339(), "2025-10-08T16:00:00+00:00"); // 00:00 +08:00
        assert_eq!(cal.local_date(t), d("2025-10-09"));
        assert_eq!(cal.local_date(t - TimeDelta::seconds(1)), d("2025-10-08"));
        // America/Santiago set clocks forward at midnight on 2024-09-08 (00:00 → 01:00, −04 → −03):
        // the day starts at 01:00 −03:00 = 04:00 UTC.
        let cl = WorkingCalendar::new(chrono_tz::America::Santiago, []).unwrap();
        assert_eq!(
            cl.start_of_day(d("2024-09-08")).to_rfc3339(),
            "2024-09-08T04:00:00+00:00"
        );
        // Pacific/Apia skipped 2011-12-30 entirely: that day starts when 12-31 starts.
        let ws = WorkingCalendar::new(chrono_tz::Pacific::Apia, []).unwrap();
        assert_eq!(
            ws.start_of_day(d("2011-12-30")),
            ws.start_of_day(d("2011-12-31"))
        );
    }

    proptest! {
        #[test]
        fn add_then_count_round_trips(days in 0i64..730, n in 0u32..60) {
            let cal = cn_2025_2026();
            let start = d("2025-01-01") + TimeDelta::days(days);
            let end = cal.add_working_days(start, n);
            prop_assert_eq!(cal.working_days_between(start, end), i64::from(n));
            prop_assert!(n == 0 || cal.is_working_day(end));
        }

        #[test]
        fn count_matches_day_by_day(a in -800i64..800, b in -800i64..800) {
            let cal = cn_2025_2026();
            let from = d("2025-06-01") + TimeDelta::days(a);
            let to = d("2025-06-01") + TimeDelta::days(b);
            let (lo, hi, sign) = if from <= to { (from, to, 1) } else { (to, from, -1) };
            let brute = lo.iter_days().skip(1).take_while(|x| *x <= hi)
                .filter(|x| cal.is_working_day(*x)).count() as i64;
            prop_assert_eq!(cal.working_days_between(from, to), sign * brute);
        }
    }
}
