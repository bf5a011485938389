//! Stage deadlines, the appeal window and turnaround (DESIGN.md "Deadlines and turnaround";
//! STANDARDS.md §6). All day arithmetic goes through a [`WorkingCalendar`], so every list, report
//! and chart uses the same time model.

use super::calendar::{Interval, WorkingCalendar};
use chrono::{DateTime, Days, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The configurable deadlines of a jurisdiction (DESIGN.md: N, M and K are configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadlinePolicy {
    /// N: working days from receipt to the initial-test report.
    pub initial_test_working_days: u32,
    /// M: working days from the retest request to the retest report.
    pub retest_working_days: u32,
    /// K: calendar days, counted from the day after the enterprise receives the result, in which
    /// it may apply for a retest.
    pub appeal_window_calendar_days: u32,
    /// Whether an appeal window whose last day is not a working day runs to the next working day.
    pub extend_appeal_to_working_day: bool,
}

impl Default for DeadlinePolicy {
    /// N = 20 and M = 20 working days: no coal-specific national figure exists; a comparable SAMR
    /// measure gives the lab 20 working days from receipt to report (STANDARDS.md §6, MEDIUM).
    /// Counties set shorter ones in their configuration.
    ///
    /// K = 15 calendar days: Product Quality Law Art. 15, "within 15 days of receiving the
    /// result" (STANDARDS.md §6, HIGH); the day of receipt is not counted (MEDIUM).
    ///
    /// No extension to the next working day: the law says days, not working days, and none of our
    /// sources extends a window ending on a holiday. A jurisdiction whose rules do may turn it on.
    fn default() -> Self {
        DeadlinePolicy {
            initial_test_working_days: 20,
            retest_working_days: 20,
            appeal_window_calendar_days: 15,
            extend_appeal_to_working_day: false,
        }
    }
}

/// The due instant of a stage that started at `start` (receipt for `initial_test`, the retest
/// request for `retest`) and has `working_days` working days (DESIGN.md; STANDARDS.md §6).
///
/// Without pauses: the end (next local midnight) of the `working_days`-th working day after the
/// local date of `start`; the start day is not counted, so a sample received on Monday with
/// N = 1 is due at the end of Tuesday. With pauses: the stage gets the same working time, but
/// its clock stands still inside pauses, so the due instant moves later by the working time
/// inside pauses that begin before it (overlapping pauses count once; pause time on rest days
/// moves nothing). A pause that begins after the due instant cannot rescue an overdue stage.
/// Formally: base = start of the day after that working day; budget = working time in
/// [start, base); due = max(base, earliest t with working time in [start, t) outside pauses =
/// budget).
pub fn stage_due(
    cal: &WorkingCalendar,
    start: DateTime<Utc>,
    working_days: u32,
    pauses: &[Interval],
) -> DateTime<Utc> {
    let last_day = cal.add_working_days(cal.local_date(start), working_days);
    let base = match last_day.succ_opt() {
        Some(next) => cal.start_of_day(next),
        None => return DateTime::<Utc>::MAX_UTC,
    };
    let budget = cal.working_duration(start, base, &[]);
    base.max(cal.add_working_duration_paused(start, budget, pauses))
}

/// Whether a stage is overdue: finished after `due`, or not finished and `now` is after `due`.
/// Finishing exactly at `due` is on time.
pub fn is_overdue(due: DateTime<Utc>, finished: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    match finished {
        Some(at) => at > due,
        None => now > due,
    }
}

/// The period in which an enterprise may apply for a retest (Product Quality Law Art. 15;
/// STANDARDS.md §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppealWindow {
    /// The last local date on which an application is accepted.
    pub last_day: chrono::NaiveDate,
    /// The first instant at which applications are refused: local midnight after `last_day`.
    pub closes_at: DateTime<Utc>,
}

/// The appeal window after the enterprise received the result at `result_received`.
///
/// `last_day` = local date of receipt + K calendar days (the day of receipt is not counted:
/// received 2025-03-01 with K = 15 → last day 2025-03-16). If the policy extends windows and
/// `last_day` is not a working day, it moves to the next working day. The window closes at the
/// local midnight after `last_day`. Source: Product Quality Law Art. 15 (HIGH); day counting
/// MEDIUM (STANDARDS.md §6).
pub fn appeal_window(
    cal: &WorkingCalendar,
    result_received: DateTime<Utc>,
    policy: &DeadlinePolicy,
) -> AppealWindow {
    let received = cal.local_date(result_received);
    let k = u64::from(policy.appeal_window_calendar_days);
    let mut last_day = received
        .checked_add_days(Days::new(k))
        .unwrap_or(chrono::NaiveDate::MAX);
    if policy.extend_appeal_to_working_day && !cal.is_working_day(last_day) {
        last_day = cal.add_working_days(last_day, 1);
    }
    let closes_at = match last_day.succ_opt() {
        Some(next) => cal.start_of_day(next),
        None => DateTime::<Utc>::MAX_UTC,
    };
    AppealWindow {
        last_day,
        closes_at,
    }
}

/// Whether a retest application made at `at` is in time: `at` is before the window closes.
pub fn appeal_open(window: &AppealWindow, at: DateTime<Utc>) -> bool {
    at < window.closes_at
}

/// A stage's turnaround (DESIGN.md "turnaround"): working time from its start to the release of
/// its report, paused time excluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turnaround {
    /// Working time in whole seconds (sub-second remainders are dropped).
    pub working_seconds: i64,
    /// `working_seconds` / 86 400, in working days (24 h each): exact when the quotient has a
    /// finite decimal expansion, else rounded at rust_decimal's precision (at most 28 decimal
    /// places). Round it for display, not before.
    pub working_days: Decimal,
    /// `working_seconds` / 3 600, in hours, same precision rule.
    pub working_hours: Decimal,
}

/// The turnaround of a stage from `start` to `end` (release) with its `pauses`, on `cal`'s
/// working days. `end <= start` gives zero.
pub fn turnaround(
    cal: &WorkingCalendar,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    pauses: &[Interval],
) -> Turnaround {
    let working_seconds = cal.working_duration(start, end, pauses).num_seconds();
    let secs = Decimal::from(working_seconds);
    let per = |unit: i64| {
        secs.checked_div(Decimal::from(unit))
            .unwrap_or(Decimal::ZERO)
            .normalize()
    };
    Turnaround {
        working_seconds,
        working_days: per(86_400),
        working_hours: per(3_600),
    }
}

#[cfg(test)]
mod tests {
    use super::super::calendar_csv::cn_2025_2026;
    use super::*;
    use chrono::{Duration, NaiveDate, TimeZone};
    use chrono_tz::Asia::Shanghai;

    fn sh(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Shanghai
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn dec(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    #[test]
    fn defaults_follow_the_sources() {
        let p = DeadlinePolicy::default();
        assert_eq!(
            (p.initial_test_working_days, p.retest_working_days),
            (20, 20)
        );
        assert_eq!(p.appeal_window_calendar_days, 15);
        assert!(!p.extend_appeal_to_working_day);
    }

    #[test]
    fn due_across_national_day_and_a_make_up_saturday() {
        let cal = cn_2025_2026();
        // Received Friday 2025-09-26 15:00, N = 6: Sun 09-28 (make-up) 1, Mon 09-29 2,
        // Tue 09-30 3, [10-01..10-08 holiday], Thu 10-09 4, Fri 10-10 5, Sat 10-11 (make-up) 6
        // → due at the end of Saturday 10-11 = Sunday 10-12 00:00.
        let received = sh(2025, 9, 26, 15, 0);
        assert_eq!(stage_due(&cal, received, 6, &[]), sh(2025, 10, 12, 0, 0));
        // N = 7: Sunday 10-12 is a plain Sunday, so Monday 10-13 → due Tuesday 10-14 00:00.
        assert_eq!(stage_due(&cal, received, 7, &[]), sh(2025, 10, 14, 0, 0));
        // N = 20 from Thursday 2025-09-18: 09-19 1, 09-22..26 2–6, 09-28 7, 09-29 8, 09-30 9,
        // 10-09 10, 10-10 11, 10-11 12, 10-13..17 13–17, 10-20 18, 10-21 19, 10-22 20
        // → due Thursday 10-23 00:00.
        assert_eq!(
            stage_due(&cal, sh(2025, 9, 18, 10, 0), 20, &[]),
            sh(2025, 10, 23, 0, 0)
        );
        // N = 0: due at the end of the day of receipt.
        assert_eq!(stage_due(&cal, received, 0, &[]), sh(2025, 9, 27, 0, 0));
    }

    #[test]
    fn a_paused_stage_is_due_later() {
        let cal = cn_2025_2026();
        // Received Monday 2025-03-03 10:00, N = 3 → Thu 03-06 ends: base = Friday 03-07 00:00.
        let received = sh(2025, 3, 3, 10, 0);
        assert_eq!(stage_due(&cal, received, 3, &[]), sh(2025, 3, 7, 0, 0));
        // Paused Tuesday 09:00–17:00 (instrument down) = 8 h of working time → Friday 08:00.
        let down = Interval {
            start: sh(2025, 3, 4, 9, 0),
            end: sh(2025, 3, 4, 17, 0),
        };
        assert_eq!(stage_due(&cal, received, 3, &[down]), sh(2025, 3, 7, 8, 0));
        // Paused Wednesday 12:00 → Monday 03-10 12:00 (waiting for the enterprise). Budget =
        // Mon 14 h + Tue/Wed/Thu 3 × 24 h = 86 h. Before the pause: Mon 14 + Tue 24 + Wed 12
        // = 50 h; the other 36 h run from Monday 03-10 12:00: 12 h Monday + 24 h Tuesday
        // → due Wednesday 03-12 00:00.
        let wait = Interval {
            start: sh(2025, 3, 5, 12, 0),
            end: sh(2025, 3, 10, 12, 0),
        };
        assert_eq!(stage_due(&cal, received, 3, &[wait]), sh(2025, 3, 12, 0, 0));
        // A pause after the due instant does not rescue an overdue stage.
        let late = Interval {
            start: sh(2025, 3, 7, 9, 0),
            end: sh(2025, 3, 7, 17, 0),
        };
        assert_eq!(stage_due(&cal, received, 3, &[late]), sh(2025, 3, 7, 0, 0));
    }

    #[test]
    fn overdue() {
        let due = sh(2025, 3, 7, 0, 0);
        assert!(!is_overdue(due, Some(due), due + Duration::days(9))); // finished exactly at due
        assert!(is_overdue(due, Some(due + Duration::seconds(1)), due));
        assert!(!is_overdue(due, None, due));
        assert!(is_overdue(due, None, due + Duration::seconds(1)));
    }

    #[test]
    fn appeal_window_counts_from_the_day_after_receipt() {
        let cal = cn_2025_2026();
        let policy = DeadlinePolicy::default();
        // Received Saturday 2025-03-01 16:30; day 1 = 03-02 … day 15 = 03-16 (a Sunday).
        let w = appeal_window(&cal, sh(2025, 3, 1, 16, 30), &policy);
        assert_eq!(w.last_day, NaiveDate::from_ymd_opt(2025, 3, 16).unwrap());
        assert_eq!(w.closes_at, sh(2025, 3, 17, 0, 0));
        assert!(appeal_open(&w, sh(2025, 3, 16, 23, 59))); // on the last day: open
        assert!(!appeal_open(&w, sh(2025, 3, 17, 0, 0))); // the day after: refused
        assert!(!appeal_open(&w, sh(2025, 3, 17, 9, 0)));
        // With extension, Sunday 03-16 moves to Monday 03-17.
        let ext = DeadlinePolicy {
            extend_appeal_to_working_day: true,
            ..policy
        };
        let w = appeal_window(&cal, sh(2025, 3, 1, 16, 30), &ext);
        assert_eq!(w.last_day, NaiveDate::from_ymd_opt(2025, 3, 17).unwrap());
        assert!(appeal_open(&w, sh(2025, 3, 17, 9, 0)));
        // Received Tuesday 2025-09-23: + 15 = Wednesday 10-08, a National Day rest day; extended
        // over 10-01..10-08 to Thursday 10-09.
        let w = appeal_window(&cal, sh(2025, 9, 23, 10, 0), &ext);
        assert_eq!(w.last_day, NaiveDate::from_ymd_opt(2025, 10, 9).unwrap());
        // Without extension it closes at the end of 10-08 = 2025-10-08T16:00Z.
        let w = appeal_window(&cal, sh(2025, 9, 23, 10, 0), &policy);
        assert_eq!(w.closes_at.to_rfc3339(), "2025-10-08T16:00:00+00:00");
    }

    #[test]
    fn turnaround_in_seconds_days_and_hours() {
        let cal = cn_2025_2026();
        // Friday 2025-09-26 18:00 → Monday 09-29 06:00: 6 h + make-up Sunday 24 h + 6 h = 36 h
        // = 129 600 s = 1.5 working days; paused Sunday 10:00–11:30 (1.5 h) → 34.5 h
        // = 124 200 s = 124 200 / 86 400 = 1.4375 days.
        let (a, b) = (sh(2025, 9, 26, 18, 0), sh(2025, 9, 29, 6, 0));
        let t = turnaround(&cal, a, b, &[]);
        assert_eq!(
            (t.working_seconds, t.working_days, t.working_hours),
            (129_600, dec("1.5"), dec("36"))
        );
        let pause = Interval {
            start: sh(2025, 9, 28, 10, 0),
            end: sh(2025, 9, 28, 11, 30),
        };
        let t = turnaround(&cal, a, b, &[pause]);
        assert_eq!(
            (t.working_seconds, t.working_days, t.working_hours),
            (124_200, dec("1.4375"), dec("34.5"))
        );
        // 1 s = 1/86 400 day = 0.0000115740740…: not a finite decimal, so 28 decimal places.
        let t = turnaround(&cal, a, a + Duration::seconds(1), &[]);
        assert_eq!(t.working_days, dec("0.0000115740740740740740740741"));
        assert_eq!(turnaround(&cal, b, a, &[]).working_seconds, 0);
    }
}
