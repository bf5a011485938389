//! The working-time clock table (`working_clock`) that lets the database measure working time.
//!
//! For each (calendar code, time zone) pair used by a lab there is one row per local date from
//! [`CLOCK_FIRST_DAY`] to the day before [`CLOCK_END_DAY`]: the UTC instants of its local
//! midnights, whether it is a working day (decided by [`WorkingCalendar::is_working_day`], the
//! one time model of src/domain/calendar.rs), and the working time accumulated before it. Then
//! W(t) = cum_before + working × (t − day_start) is the working time from the first day to `t`,
//! and W(b) − W(a) equals `WorkingCalendar::working_duration(a, b, &[])` exactly (whole local
//! days count, DESIGN.md "Deadlines and turnaround"). The table is derived data: it is rebuilt
//! whenever the calendar rows it was built from change (a SHA-256 fingerprint is kept in
//! `working_clock_builds`), so a calendar import needs no extra step.

use chrono::{Datelike, NaiveDate};
use diesel::ExpressionMethods;
use sha2::{Digest, Sha256};

use crate::db::schema::{calendar_days, labs, working_clock, working_clock_builds};
use crate::db::{Db, Tx};
use crate::domain::calendar::WorkingCalendar;
use crate::error::AppError;
use crate::service::reference;
use crate::time::to_ms;
use crate::with_tx;

/// First local date of every clock.
pub const CLOCK_FIRST_DAY: (i32, u32, u32) = (2010, 1, 1);
/// First local date after every clock (exclusive end).
pub const CLOCK_END_DAY: (i32, u32, u32) = (2060, 1, 1);
/// Rows per INSERT statement (8 parameters each, far below both backends' limits).
const BATCH: usize = 1000;
/// Advisory lock key for rebuilding clocks on PostgreSQL (several servers may start reports at once).
const CLOCK_LOCK_KEY: i64 = 0x636c_6f63_6b00;

fn day(t: (i32, u32, u32)) -> NaiveDate {
    NaiveDate::from_ymd_opt(t.0, t.1, t.2).unwrap_or_default()
}

/// The instants `[first, end)` (ms, UTC) a clock in time zone `tz` covers; report inputs must
/// lie inside.
pub fn clock_span_ms(cal: &WorkingCalendar) -> (i64, i64) {
    (
        to_ms(cal.start_of_day(day(CLOCK_FIRST_DAY))),
        to_ms(cal.start_of_day(day(CLOCK_END_DAY))),
    )
}

/// One row of the clock (defined with the in-memory clock in src/domain/turnaround.rs).
pub use crate::domain::turnaround::ClockDay;

/// The clock rows of `cal` over the whole span, in date order.
pub fn clock_days(cal: &WorkingCalendar) -> Vec<ClockDay> {
    let mut out = Vec::new();
    let mut cum = 0i64;
    let end = day(CLOCK_END_DAY);
    let mut d = day(CLOCK_FIRST_DAY);
    let mut start = to_ms(cal.start_of_day(d));
    while d < end {
        let Some(next) = d.succ_opt() else { break };
        let stop = to_ms(cal.start_of_day(next));
        let working = i32::from(cal.is_working_day(d));
        let w = d.iso_week();
        out.push(ClockDay {
            day_start: start,
            day_end: stop,
            day: d.to_string(),
            iso_week: format!("{}-W{:02}", w.year(), w.week()),
            working,
            cum_before: cum,
        });
        if working == 1 {
            cum += stop - start;
        }
        d = next;
        start = stop;
    }
    out
}

fn fingerprint(tx: &mut Tx<'_>, calendar_code: &str, timezone: &str) -> Result<String, AppError> {
    let rows: Vec<(String, String)> = with_tx!(tx, |c| calendar_days::table
        .filter(calendar_days::calendar_code.eq(calendar_code))
        .order(calendar_days::day.asc())
        .select((calendar_days::day, calendar_days::kind))
        .load(c))?;
    let mut h = Sha256::new();
    h.update(format!("clock-v1 {CLOCK_FIRST_DAY:?} {CLOCK_END_DAY:?} {timezone}\n").as_bytes());
    for (d, k) in rows {
        h.update(format!("{d},{k}\n").as_bytes());
    }
    Ok(hex::encode(h.finalize()))
}

fn stored_fingerprint(
    tx: &mut Tx<'_>,
    calendar_code: &str,
    timezone: &str,
) -> Result<Option<String>, AppError> {
    Ok(with_tx!(tx, |c| working_clock_builds::table
        .find((calendar_code, timezone))
        .select(working_clock_builds::fingerprint)
        .first::<String>(c)
        .optional())?)
}

/// Makes sure the clock of every lab's (calendar, time zone) is built from the calendar rows as
/// they are now. Cheap when nothing changed (one small read per clock); a rebuild writes about
/// 18 300 rows per clock in one transaction.
///
/// # Errors
/// [`AppError::Invalid`] for a lab with an unknown time zone; database errors.
pub fn ensure_clocks(db: &Db, now_ms: i64) -> Result<(), AppError> {
    let pairs: Vec<(String, String)> = db.read(|tx| {
        Ok(with_tx!(tx, |c| labs::table
            .select((labs::calendar_code, labs::timezone))
            .distinct()
            .load(c))?)
    })?;
    for (cc, tz) in pairs {
        let fresh = db
            .read(|tx| Ok(stored_fingerprint(tx, &cc, &tz)? == Some(fingerprint(tx, &cc, &tz)?)))?;
        if fresh {
            continue;
        }
        db.transaction(|tx| {
            if let Tx::Pg(c) = tx {
                use diesel::connection::SimpleConnection;
                c.batch_execute(&format!("SELECT pg_advisory_xact_lock({CLOCK_LOCK_KEY})"))?;
            }
            let fp = fingerprint(tx, &cc, &tz)?;
            if stored_fingerprint(tx, &cc, &tz)? == Some(fp.clone()) {
                return Ok(()); // another server rebuilt it meanwhile
            }
            let cal = reference::load_calendar(tx, &cc, &tz)?;
            rebuild(tx, &cc, &tz, &cal)?;
            with_tx!(tx, |c| diesel::delete(
                working_clock_builds::table.find((cc.as_str(), tz.as_str()))
            )
            .execute(c))?;
            with_tx!(tx, |c| diesel::insert_into(working_clock_builds::table)
                .values((
                    working_clock_builds::calendar_code.eq(&cc),
                    working_clock_builds::timezone.eq(&tz),
                    working_clock_builds::fingerprint.eq(&fp),
                    working_clock_builds::built_at.eq(now_ms),
                ))
                .execute(c))?;
            Ok(())
        })?;
    }
    Ok(())
}

fn rebuild(tx: &mut Tx<'_>, cc: &str, tz: &str, cal: &WorkingCalendar) -> Result<(), AppError> {
    with_tx!(tx, |c| diesel::delete(
        working_clock::table
            .filter(working_clock::calendar_code.eq(cc))
            .filter(working_clock::timezone.eq(tz))
    )
    .execute(c))?;
    let days = clock_days(cal);
    for chunk in days.chunks(BATCH) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|d| {
                (
                    working_clock::calendar_code.eq(cc),
                    working_clock::timezone.eq(tz),
                    working_clock::day_start.eq(d.day_start),
                    working_clock::day_end.eq(d.day_end),
                    working_clock::day.eq(d.day.as_str()),
                    working_clock::iso_week.eq(d.iso_week.as_str()),
                    working_clock::working.eq(d.working),
                    working_clock::cum_before.eq(d.cum_before),
                )
            })
            .collect();
        with_tx!(tx, |c| diesel::insert_into(working_clock::table)
            .values(&rows)
            .execute(c))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calendar_csv::cn_2025_2026;
    use chrono::{TimeZone, Utc};
    use chrono_tz::Asia::Shanghai;

    fn sh(y: i32, m: u32, d: u32, h: u32) -> i64 {
        to_ms(
            Shanghai
                .with_ymd_and_hms(y, m, d, h, 0, 0)
                .unwrap()
                .with_timezone(&Utc),
        )
    }

    /// W(t) as the SQL computes it, from the rows.
    fn w(days: &[ClockDay], t: i64) -> i64 {
        let i = days.partition_point(|d| d.day_start <= t) - 1;
        days[i].cum_before + i64::from(days[i].working) * (t - days[i].day_start)
    }

    #[test]
    fn clock_differences_equal_the_domain_working_time() {
        let cal = cn_2025_2026();
        let days = clock_days(&cal);
        // 2010-01-01 .. 2059-12-31: 50 years with 13 leap years = 18 262 days.
        assert_eq!(days.len(), 18_262);
        // Fri 2025-09-26 18:00 → Mon 09-29 06:00: 6 h + make-up Sunday 24 h + 6 h = 36 h.
        let (a, b) = (sh(2025, 9, 26, 18), sh(2025, 9, 29, 6));
        assert_eq!(w(&days, b) - w(&days, a), 36 * 3_600_000);
        // Tue 09-30 12:00 → Sat 10-11 01:00: 12 h + (10-01..08 rest) 24 h (Thu) + 24 h (Fri)
        // + 1 h on make-up Saturday 10-11 = 61 h.
        let (a, b) = (sh(2025, 9, 30, 12), sh(2025, 10, 11, 1));
        assert_eq!(w(&days, b) - w(&days, a), 61 * 3_600_000);
        let dom = cal.working_duration(crate::time::from_ms(a), crate::time::from_ms(b), &[]);
        assert_eq!(dom.num_milliseconds(), 61 * 3_600_000);
        let oct1 = days.iter().find(|d| d.day == "2025-10-01").unwrap();
        assert_eq!((oct1.working, oct1.iso_week.as_str()), (0, "2025-W40"));
    }
}
