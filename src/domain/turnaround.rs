//! Turnaround of stages against the working-time clock, and the statistics of a group of stages
//! (DESIGN.md "Deadlines and turnaround"; docs/reports.md "Turnaround report").
//!
//! Pure: the clock is the `working_clock` rows of one (calendar, time zone) held in memory, and
//! every instant is in milliseconds since the Unix epoch (UTC). The TAT report
//! (src/service/reports_tat.rs) loads the stages of its period and calls these functions.

use chrono::DateTime;
use rust_decimal::Decimal;

use super::calendar::Interval;
use super::rounding::round_half_even;
use super::working_time::merge_intervals;

/// One local day of a working-time clock (a row of `working_clock`, built by
/// src/service/reports_clock.rs from the lab's calendar).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockDay {
    /// Local midnight starting the day (ms, UTC).
    pub day_start: i64,
    /// Local midnight ending it (ms, UTC).
    pub day_end: i64,
    /// The local date, YYYY-MM-DD.
    pub day: String,
    /// ISO week of the date, e.g. 2025-W40 (weeks start on Monday).
    pub iso_week: String,
    /// 1 for a working day, else 0.
    pub working: i32,
    /// Working time (ms) from the clock's first day to `day_start`.
    pub cum_before: i64,
}

/// A working-time clock in memory: W(t), the working time from the clock's first day to `t`.
/// W(b) − W(a) is the working time in [a, b) of `WorkingCalendar::working_duration` without
/// pauses (whole local working days, in ms).
#[derive(Debug, Clone)]
pub struct WorkingClock {
    days: Vec<ClockDay>,
}

impl WorkingClock {
    /// The clock of these days; they are sorted by `day_start` here.
    pub fn new(mut days: Vec<ClockDay>) -> WorkingClock {
        days.sort_by_key(|d| d.day_start);
        WorkingClock { days }
    }

    /// The local day holding `t` (ms); None before the clock's first day.
    pub fn day_of(&self, t: i64) -> Option<&ClockDay> {
        let after = self.days.partition_point(|d| d.day_start <= t);
        after.checked_sub(1).map(|i| &self.days[i])
    }

    /// W(t) in ms; None before the clock's first day.
    pub fn working_ms(&self, t: i64) -> Option<i64> {
        self.day_of(t)
            .map(|d| d.cum_before + i64::from(d.working) * (t - d.day_start))
    }

    /// Working time (ms) in `[a, b)` (W(b) − W(a)); None outside the clock.
    pub fn between(&self, a: i64, b: i64) -> Option<i64> {
        Some(self.working_ms(b)? - self.working_ms(a)?)
    }
}

/// A pause of a stage's clock: from `start` to `end` (ms), `end` None while it lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pause {
    /// First instant of the pause (ms).
    pub start: i64,
    /// End of the pause (ms), None while open.
    pub end: Option<i64>,
}

/// Working time (ms) of the stage `[start, released)` that falls inside its pauses: each pause
/// clamped to the stage (an open pause runs to the release), overlapping pauses counted once.
/// None when an instant lies outside the clock.
pub fn paused_working_ms(
    clock: &WorkingClock,
    start: i64,
    released: i64,
    pauses: &[Pause],
) -> Option<i64> {
    let instant = |ms: i64| DateTime::from_timestamp_millis(ms);
    let mut pieces = Vec::with_capacity(pauses.len());
    for p in pauses {
        let a = p.start.max(start);
        let b = p.end.unwrap_or(released).min(released);
        if b > a {
            pieces.push(Interval {
                start: instant(a)?,
                end: instant(b)?,
            });
        }
    }
    merge_intervals(&pieces).iter().try_fold(0i64, |sum, i| {
        Some(sum + clock.between(i.start.timestamp_millis(), i.end.timestamp_millis())?)
    })
}

/// Turnaround in whole working seconds of a stage released at `released`: W(released) −
/// W(start) less the paused working time, in ms, divided by 1 000 and truncated.
/// None when an instant lies outside the clock.
pub fn turnaround_seconds(
    clock: &WorkingClock,
    start: i64,
    released: i64,
    pauses: &[Pause],
) -> Option<i64> {
    let worked = clock.between(start, released)?;
    Some((worked - paused_working_ms(clock, start, released, pauses)?) / 1000)
}

/// One stage of a TAT report as seen at `as_of`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageTurnaround {
    /// Due instant (ms).
    pub due_at: i64,
    /// Release (ms) if released at or before `as_of`; None while open.
    pub released_at: Option<i64>,
    /// Turnaround in working seconds ([`turnaround_seconds`]); set exactly when released.
    pub turnaround_s: Option<i64>,
}

/// The figures of one group of stages (docs/reports.md): counts, and the turnaround of the
/// released ones in working seconds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TurnaroundSummary {
    /// Stages in the group.
    pub started: i64,
    /// Released at or before `as_of`.
    pub released: i64,
    /// Released at or before their due instant.
    pub on_time: i64,
    /// Released after their due instant.
    pub late_released: i64,
    /// Open at `as_of` and past due (due instant before `as_of`).
    pub open_past_due: i64,
    /// Mean turnaround (s), rounded half to even to 0.1 s (GB/T 8170); None when none released.
    pub mean_s: Option<Decimal>,
    /// Median (s), linear interpolation ([`percentile_linear`]).
    pub median_s: Option<Decimal>,
    /// 90th percentile (s), linear interpolation.
    pub p90_s: Option<Decimal>,
    /// Maximum (s).
    pub max_s: Option<i64>,
}

/// The percentile `num / den` of ascending `sorted` values by linear interpolation between
/// closest ranks (Hyndman–Fan type 7, as PostgreSQL `percentile_cont` and Excel
/// `PERCENTILE.INC`): h = (n − 1)·p + 1, x[⌊h⌋] + (h − ⌊h⌋)(x[⌊h⌋ + 1] − x[⌊h⌋]), exact.
/// None for no values.
pub fn percentile_linear(sorted: &[i64], num: i64, den: i64) -> Option<Decimal> {
    let n = i64::try_from(sorted.len()).ok()?;
    if n == 0 || den <= 0 {
        return None;
    }
    let lo_rank = (n - 1) * num / den;
    let frac = (n - 1) * num % den;
    let lo = *sorted.get(usize::try_from(lo_rank).ok()?)?;
    let hi = sorted
        .get(usize::try_from(lo_rank + 1).ok()?)
        .copied()
        .unwrap_or(lo);
    Some(Decimal::from(lo) + Decimal::from(hi - lo) * Decimal::from(frac) / Decimal::from(den))
}

/// The figures of a group of stages at `as_of_ms`.
pub fn summarize(stages: &[StageTurnaround], as_of_ms: i64) -> TurnaroundSummary {
    let mut s = TurnaroundSummary {
        started: i64::try_from(stages.len()).unwrap_or(i64::MAX),
        ..TurnaroundSummary::default()
    };
    let mut tats: Vec<i64> = Vec::with_capacity(stages.len());
    for st in stages {
        match (st.released_at, st.turnaround_s) {
            (Some(rel), Some(tat)) => {
                if rel <= st.due_at {
                    s.on_time += 1;
                } else {
                    s.late_released += 1;
                }
                tats.push(tat);
            }
            _ => {
                if st.due_at < as_of_ms {
                    s.open_past_due += 1;
                }
            }
        }
    }
    s.released = i64::try_from(tats.len()).unwrap_or(i64::MAX);
    if !tats.is_empty() {
        tats.sort_unstable();
        let sum: i64 = tats.iter().sum();
        s.mean_s = Some(round_half_even(
            Decimal::from(sum) / Decimal::from(s.released),
            1,
        ));
        s.median_s = percentile_linear(&tats, 1, 2);
        s.p90_s = percentile_linear(&tats, 9, 10);
        s.max_s = tats.last().copied();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    /// Four days from t = 0: working, rest, rest, working (UTC midnights, 24 h each).
    fn clock() -> WorkingClock {
        let mut cum = 0;
        let days = [1, 0, 0, 1]
            .iter()
            .enumerate()
            .map(|(i, &w)| {
                let i = i as i64;
                let d = ClockDay {
                    day_start: i * DAY,
                    day_end: (i + 1) * DAY,
                    day: format!("2025-01-0{}", i + 1),
                    iso_week: "2025-W01".into(),
                    working: w,
                    cum_before: cum,
                };
                cum += i64::from(w) * DAY;
                d
            })
            .collect();
        WorkingClock::new(days)
    }

    #[test]
    fn working_time_skips_rest_days() {
        let c = clock();
        // From 12:00 on day 1 (working) to 06:00 on day 4 (working): 12 h + 0 + 0 + 6 h = 18 h.
        let (a, b) = (DAY / 2, 3 * DAY + DAY / 4);
        assert_eq!(c.between(a, b), Some(18 * 3_600_000));
        assert_eq!(c.working_ms(-1), None);
        assert_eq!(
            c.day_of(2 * DAY).map(|d| d.day.as_str()),
            Some("2025-01-03")
        );
    }

    #[test]
    fn pauses_are_clamped_and_counted_once() {
        let c = clock();
        let (start, rel) = (DAY / 2, 3 * DAY + DAY / 4); // 18 working hours, as above
        let h = 3_600_000;
        let pauses = [
            // Before the start to 14:00 day 1: clamped to 12:00–14:00 = 2 h.
            Pause {
                start: 0,
                end: Some(14 * h),
            },
            // 13:00–16:00 day 1 overlaps the first: adds 14:00–16:00 = 2 h.
            Pause {
                start: 13 * h,
                end: Some(16 * h),
            },
            // Open from 05:00 day 4: runs to the release at 06:00 = 1 h.
            Pause {
                start: 3 * DAY + 5 * h,
                end: None,
            },
        ];
        assert_eq!(paused_working_ms(&c, start, rel, &pauses), Some(5 * h));
        // 18 h − 5 h = 13 h = 46 800 s.
        assert_eq!(turnaround_seconds(&c, start, rel, &pauses), Some(46_800));
    }

    #[test]
    fn linear_percentiles_by_hand() {
        // 10, 20, 30, 40: median h = 3·0.5 + 1 = 2.5 → 20 + 0.5·10 = 25;
        // p90 h = 3·0.9 + 1 = 3.7 → 30 + 0.7·10 = 37.
        let v = [10, 20, 30, 40];
        assert_eq!(percentile_linear(&v, 1, 2), Some(Decimal::from(25)));
        assert_eq!(percentile_linear(&v, 9, 10), Some(Decimal::from(37)));
        // One value: both are the value itself; none: None.
        assert_eq!(percentile_linear(&[7], 9, 10), Some(Decimal::from(7)));
        assert_eq!(percentile_linear(&[], 1, 2), None);
    }

    #[test]
    fn summary_counts_and_figures() {
        let asof = 100;
        let st = |due, rel: Option<i64>, tat: Option<i64>| StageTurnaround {
            due_at: due,
            released_at: rel,
            turnaround_s: tat,
        };
        let s = summarize(
            &[
                st(50, Some(40), Some(10)), // on time
                st(50, Some(60), Some(21)), // late
                st(50, Some(50), Some(30)), // on time (released at the due instant)
                st(90, None, None),         // open, past due at 100
                st(150, None, None),        // open, not yet due
            ],
            asof,
        );
        assert_eq!(
            (
                s.started,
                s.released,
                s.on_time,
                s.late_released,
                s.open_past_due
            ),
            (5, 3, 2, 1, 1)
        );
        // mean (10 + 21 + 30) / 3 = 20.333… → 20.3; median 21; p90 h = 2·0.9 + 1 = 2.8 →
        // 21 + 0.8·9 = 28.2; max 30.
        assert_eq!(s.mean_s, Some(Decimal::new(203, 1)));
        assert_eq!(s.median_s, Some(Decimal::from(21)));
        assert_eq!(s.p90_s, Some(Decimal::new(282, 1)));
        assert_eq!(s.max_s, Some(30));
    }
}
