//! Working time between instants: the time that falls on local working days of a
//! [`WorkingCalendar`] and outside every pause of a stage's clock (DESIGN.md "Deadlines and
//! turnaround": paused time is not turnaround; STANDARDS.md §6 for which days are worked).
//!
//! A working day counts whole (24 h of local time, or 23/25 h on a DST change day); there are no
//! office hours. Durations are `chrono::Duration` (nanosecond precision).

use super::calendar::{Interval, WorkingCalendar};
use chrono::{DateTime, Duration, NaiveDate, Utc};

/// The union of `intervals` as sorted, disjoint, non-empty intervals (overlapping or touching
/// intervals are joined; empty ones, `end <= start`, are dropped).
pub fn merge_intervals(intervals: &[Interval]) -> Vec<Interval> {
    let mut sorted: Vec<Interval> = intervals
        .iter()
        .filter(|i| i.start < i.end)
        .copied()
        .collect();
    sorted.sort_by_key(|i| (i.start, i.end));
    let mut merged: Vec<Interval> = Vec::with_capacity(sorted.len());
    for i in sorted {
        match merged.last_mut() {
            Some(last) if i.start <= last.end => last.end = last.end.max(i.end),
            _ => merged.push(i),
        }
    }
    merged
}

impl WorkingCalendar {
    /// The working time in `[start, end)`: the part on local working days and outside every
    /// pause (overlapping pauses count once). Zero when `end <= start`.
    /// Example: Friday 2025-09-26 18:00 to Monday 2025-09-29 06:00 (Shanghai) = 6 h on Friday +
    /// 24 h on make-up Sunday 09-28 + 6 h on Monday = 36 h.
    pub fn working_duration(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        pauses: &[Interval],
    ) -> Duration {
        let mut total = Duration::zero();
        if end <= start {
            return total;
        }
        let pauses = merge_intervals(pauses);
        self.for_each_working_span(start, |span| {
            if span.start >= end {
                return false;
            }
            let span = Interval {
                start: span.start,
                end: span.end.min(end),
            };
            for free in unpaused(span, &pauses) {
                total += free.end - free.start;
            }
            true
        });
        total
    }

    /// The earliest instant `t` with `working_duration(start, t, &[]) == d`: `start` plus `d` of
    /// working time. A zero or negative `d` gives `start`.
    /// Example: Tuesday 2025-09-30 12:00 + 36 h = Thursday 2025-10-09 00:00 + 24 h = Friday
    /// 2025-10-10 00:00 (12 h left of Tuesday, then the holiday 10-01..10-08 is skipped).
    pub fn add_working_duration(&self, start: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
        self.add_working_duration_paused(start, d, &[])
    }

    /// The earliest instant `t` with `working_duration(start, t, pauses) == d`: like
    /// [`WorkingCalendar::add_working_duration`] but the clock stands still inside `pauses`.
    /// A zero or negative `d` gives `start`. Saturates at `DateTime::<Utc>::MAX_UTC`.
    pub fn add_working_duration_paused(
        &self,
        start: DateTime<Utc>,
        d: Duration,
        pauses: &[Interval],
    ) -> DateTime<Utc> {
        if d <= Duration::zero() {
            return start;
        }
        // Working time never exceeds elapsed time, so nothing before `start + d` can do.
        if DateTime::<Utc>::MAX_UTC - start < d {
            return DateTime::<Utc>::MAX_UTC;
        }
        let pauses = merge_intervals(pauses);
        let mut remaining = d;
        let mut found = DateTime::<Utc>::MAX_UTC;
        self.for_each_working_span(start, |span| {
            for free in unpaused(span, &pauses) {
                let available = free.end - free.start;
                if remaining <= available {
                    found = free.start + remaining;
                    return false;
                }
                remaining -= available;
            }
            true
        });
        found
    }

    /// Calls `f` with each working-day span `[max(day start, from), day end)` in time order,
    /// from the local day of `from` on, until `f` returns false or the date range ends.
    fn for_each_working_span(&self, from: DateTime<Utc>, mut f: impl FnMut(Interval) -> bool) {
        let mut day: NaiveDate = self.local_date(from);
        let mut day_start = self.start_of_day(day);
        loop {
            let Some(next) = day.succ_opt() else { return };
            let day_end = self.start_of_day(next);
            let start = day_start.max(from);
            if self.is_working_day(day)
                && start < day_end
                && !f(Interval {
                    start,
                    end: day_end,
                })
            {
                return;
            }
            day = next;
            day_start = day_end;
        }
    }
}

/// The parts of `span` outside the sorted, disjoint `pauses`, in time order.
fn unpaused(span: Interval, pauses: &[Interval]) -> Vec<Interval> {
    let mut free = Vec::new();
    let mut cursor = span.start;
    let first = pauses.partition_point(|p| p.end <= span.start);
    for p in &pauses[first..] {
        if p.start >= span.end {
            break;
        }
        if p.start > cursor {
            free.push(Interval {
                start: cursor,
                end: p.start,
            });
        }
        cursor = cursor.max(p.end);
    }
    if cursor < span.end {
        free.push(Interval {
            start: cursor,
            end: span.end,
        });
    }
    free
}

#[cfg(test)]
mod tests {
    use super::super::calendar_csv::cn_2025_2026;
    use super::*;
    use chrono::TimeZone;
    use chrono_tz::Asia::Shanghai;
    use proptest::prelude::*;

    /// A Shanghai local time as UTC.
    fn sh(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Shanghai
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn iv(start: DateTime<Utc>, end: DateTime<Utc>) -> Interval {
        Interval { start, end }
    }

    #[test]
    fn across_an_ordinary_weekend() {
        let cal = cn_2025_2026();
        // Friday 2025-03-07 16:00 → Monday 03-10 10:00: Friday 8 h + Sat 0 + Sun 0 + Monday 10 h.
        let (a, b) = (sh(2025, 3, 7, 16, 0), sh(2025, 3, 10, 10, 0));
        assert_eq!(cal.working_duration(a, b, &[]), Duration::hours(18));
        assert_eq!(cal.add_working_duration(a, Duration::hours(18)), b);
        // Exactly 8 h reaches Friday's end: Saturday 00:00, not Monday 00:00 (earliest instant).
        assert_eq!(
            cal.add_working_duration(a, Duration::hours(8)),
            sh(2025, 3, 8, 0, 0)
        );
        assert_eq!(cal.working_duration(b, a, &[]), Duration::zero());
        assert_eq!(cal.add_working_duration(a, Duration::zero()), a);
    }

    #[test]
    fn make_up_sunday_and_national_day() {
        let cal = cn_2025_2026();
        // Friday 09-26 18:00 → Monday 09-29 06:00: 6 h + Sat 0 + make-up Sun 24 h + 6 h = 36 h.
        let (a, b) = (sh(2025, 9, 26, 18, 0), sh(2025, 9, 29, 6, 0));
        assert_eq!(cal.working_duration(a, b, &[]), Duration::hours(36));
        // Tuesday 09-30 12:00 + 36 h: 12 h of Tuesday, 10-01..08 rest, 24 h of Thursday 10-09 →
        // Friday 10-10 00:00.
        let t = sh(2025, 9, 30, 12, 0);
        assert_eq!(
            cal.add_working_duration(t, Duration::hours(36)),
            sh(2025, 10, 10, 0, 0)
        );
        // + 60 h: 12 + 24 (10-09) + 24 (10-10) = 60 → Saturday 10-11 00:00; + 61 h → 10-11 01:00
        // because Saturday 10-11 is a make-up working day.
        assert_eq!(
            cal.add_working_duration(t, Duration::hours(60)),
            sh(2025, 10, 11, 0, 0)
        );
        assert_eq!(
            cal.add_working_duration(t, Duration::hours(61)),
            sh(2025, 10, 11, 1, 0)
        );
    }

    #[test]
    fn pauses_overlapping_and_on_rest_days() {
        let cal = cn_2025_2026();
        // Monday 2025-03-03 00:00 → Saturday 03-08 00:00 is 5 × 24 = 120 h of working time.
        let (a, b) = (sh(2025, 3, 3, 0, 0), sh(2025, 3, 8, 0, 0));
        let pauses = [
            iv(sh(2025, 3, 4, 9, 0), sh(2025, 3, 4, 12, 0)), // Tue 09–12
            iv(sh(2025, 3, 4, 11, 0), sh(2025, 3, 4, 14, 0)), // Tue 11–14, overlaps: union 09–14 = 5 h
            iv(sh(2025, 3, 7, 20, 0), sh(2025, 3, 10, 2, 0)), // Fri 20:00 → Mon 02:00: 4 h before b
        ];
        // 120 − 5 − 4 = 111 h.
        assert_eq!(cal.working_duration(a, b, &pauses), Duration::hours(111));
        // Until Monday 03-10 06:00 adds Monday 02:00–06:00 = 4 h (Mon 00–02 is paused): 115 h.
        assert_eq!(
            cal.working_duration(a, sh(2025, 3, 10, 6, 0), &pauses),
            Duration::hours(115)
        );
        // 111 h with those pauses ends Friday 20:00 (pause starts) → the earliest such instant.
        assert_eq!(
            cal.add_working_duration_paused(a, Duration::hours(111), &pauses),
            sh(2025, 3, 7, 20, 0)
        );
        // 112 h: the remaining hour runs Monday 02:00–03:00.
        assert_eq!(
            cal.add_working_duration_paused(a, Duration::hours(112), &pauses),
            sh(2025, 3, 10, 3, 0)
        );
        // A pause on a rest day changes nothing: Saturday 03-08 10:00–12:00.
        let weekend = [iv(sh(2025, 3, 8, 10, 0), sh(2025, 3, 8, 12, 0))];
        assert_eq!(
            cal.working_duration(a, sh(2025, 3, 10, 0, 0), &weekend),
            Duration::hours(120)
        );
    }

    #[test]
    fn merging_pauses() {
        let (t0, t1, t2, t3) = (
            sh(2025, 1, 2, 0, 0),
            sh(2025, 1, 2, 1, 0),
            sh(2025, 1, 2, 2, 0),
            sh(2025, 1, 2, 3, 0),
        );
        let merged = merge_intervals(&[iv(t2, t3), iv(t0, t1), iv(t1, t2), iv(t3, t0)]);
        assert_eq!(merged, vec![iv(t0, t3)]); // touching intervals join; the reversed one is empty
    }

    #[test]
    fn extreme_durations_saturate() {
        let cal = cn_2025_2026();
        let t = sh(2025, 1, 2, 0, 0);
        assert_eq!(
            cal.add_working_duration(t, Duration::MAX),
            DateTime::<Utc>::MAX_UTC
        );
        assert_eq!(cal.add_working_duration(t, Duration::hours(-5)), t);
    }

    proptest! {
        #[test]
        fn add_then_measure_round_trips(minutes in 0i64..(730 * 1440), d_min in 0i64..(40 * 1440)) {
            let cal = cn_2025_2026();
            let t = sh(2025, 1, 1, 0, 0) + Duration::minutes(minutes);
            let d = Duration::minutes(d_min);
            let end = cal.add_working_duration(t, d);
            prop_assert_eq!(cal.working_duration(t, end, &[]), d);
            // Earliest: one second less of elapsed time gives less working time (when d > 0).
            if d_min > 0 {
                prop_assert!(cal.working_duration(t, end - Duration::seconds(1), &[]) < d);
            }
        }

        #[test]
        fn paused_add_then_measure_round_trips(
            minutes in 0i64..(700 * 1440), d_min in 0i64..(20 * 1440),
            p in proptest::collection::vec((0i64..(30 * 1440), 0i64..(3 * 1440)), 0..4),
        ) {
            let cal = cn_2025_2026();
            let t = sh(2025, 1, 1, 0, 0) + Duration::minutes(minutes);
            let pauses: Vec<Interval> = p.iter()
                .map(|(s, len)| iv(t + Duration::minutes(*s), t + Duration::minutes(s + len)))
                .collect();
            let d = Duration::minutes(d_min);
            let end = cal.add_working_duration_paused(t, d, &pauses);
            prop_assert_eq!(cal.working_duration(t, end, &pauses), d);
        }
    }
}
