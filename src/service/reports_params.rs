//! Parameters and flat CSV rows of the TAT report, shared by the HTTP handler and the CLI
//! (`coallab report tat`).

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::db::schema::labs;
use crate::db::{Db, Tx};
use crate::domain::terms::Stage;
use crate::error::AppError;
use crate::service::reports::to_csv;
use crate::service::reports_clock::ensure_clocks;
use crate::service::reports_tat::{
    overdue_stages, tat_report, Figure, GroupBy, OverdueStage, TatQuery, TatReport,
};
use crate::time::parse_instant;
use crate::with_tx;

/// The TAT report's parameters as text (query string or command line).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TatParams {
    /// Period start: a local date YYYY-MM-DD (its local midnight, lab time zone) or RFC 3339.
    pub from: Option<String>,
    /// Period end: a local date (inclusive: up to the midnight after it) or RFC 3339 (exclusive).
    pub to: Option<String>,
    /// stage (default), period-week, period-month, supplier, technician or lab.
    pub group_by: Option<String>,
    /// The instant described, RFC 3339; default now. Must not lie in the future.
    pub as_of: Option<String>,
    /// Only initial_test or retest.
    pub stage: Option<String>,
    /// json (default) or csv.
    pub format: Option<String>,
}

/// The time zone of the report's dates: the first lab's, else Asia/Shanghai.
fn report_tz(tx: &mut Tx<'_>) -> Result<chrono_tz::Tz, AppError> {
    let tz: Option<String> = with_tx!(tx, |c| labs::table
        .order(labs::id.asc())
        .select(labs::timezone)
        .first(c)
        .optional())?;
    Ok(tz
        .and_then(|t| t.parse().ok())
        .unwrap_or(chrono_tz::Asia::Shanghai))
}

fn bound(field: &str, text: &str, tz: chrono_tz::Tz, end: bool) -> Result<DateTime<Utc>, AppError> {
    let bad = |m: String| AppError::invalid("invalid_value", m);
    if let Ok(d) = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d") {
        let day = if end { d.succ_opt().unwrap_or(d) } else { d };
        let cal = crate::domain::calendar::WorkingCalendar::new(tz, [])
            .map_err(|e| AppError::Internal(e.to_string()))?;
        return Ok(cal.start_of_day(day));
    }
    parse_instant(field, text).map_err(|m| bad(format!("{m}, or a date YYYY-MM-DD")))
}

/// Turns text parameters into a query, with `now` as the default and latest `as_of`.
///
/// # Errors
/// [`AppError::Invalid`] for a missing or bad value, or an `as_of` in the future.
pub fn tat_query(tx: &mut Tx<'_>, p: &TatParams, now: DateTime<Utc>) -> Result<TatQuery, AppError> {
    let tz = report_tz(tx)?;
    let need = |v: &Option<String>, name: &str| {
        v.clone().ok_or_else(|| {
            AppError::invalid(
                "missing_value",
                format!("{name} is required (YYYY-MM-DD or RFC 3339)"),
            )
        })
    };
    let from = bound("from", &need(&p.from, "from")?, tz, false)?;
    let to = bound("to", &need(&p.to, "to")?, tz, true)?;
    let as_of = match &p.as_of {
        Some(t) => parse_instant("as_of", t).map_err(|m| AppError::invalid("invalid_value", m))?,
        None => now,
    };
    if as_of > now {
        return Err(AppError::invalid(
            "invalid_value",
            "as_of lies in the future: a report describes what has happened (it would change later)",
        ));
    }
    let stage = p
        .stage
        .as_deref()
        .map(Stage::from_code)
        .transpose()
        .map_err(|e| AppError::invalid("invalid_value", e.to_string()))?;
    let q = TatQuery {
        from,
        to,
        as_of,
        group_by: GroupBy::parse(p.group_by.as_deref().unwrap_or("stage"))?,
        stage,
    };
    crate::service::reports_tat::validate(&q)?;
    Ok(q)
}

/// Builds the working clocks if needed, then computes the report.
///
/// # Errors
/// As [`tat_query`] and [`tat_report`].
pub fn run_tat(db: &Db, p: &TatParams, now: DateTime<Utc>) -> Result<TatReport, AppError> {
    ensure_clocks(db, now.timestamp_millis())?;
    db.read(|tx| {
        let q = tat_query(tx, p, now)?;
        tat_report(tx, &q)
    })
}

/// Builds the working clocks if needed, then lists the open stages past due at `as_of`.
///
/// # Errors
/// As [`tat_query`].
pub fn run_overdue(
    db: &Db,
    p: &TatParams,
    now: DateTime<Utc>,
) -> Result<Vec<OverdueStage>, AppError> {
    ensure_clocks(db, now.timestamp_millis())?;
    db.read(|tx| {
        let q = tat_query(tx, p, now)?;
        overdue_stages(tx, &q)
    })
}

/// One CSV line of the TAT report.
#[derive(Debug, Serialize, Default)]
struct TatCsvRow<'a> {
    as_of: &'a str,
    stage: &'a str,
    group: &'a str,
    started: i64,
    released: i64,
    open: i64,
    on_time: i64,
    late: i64,
    open_past_due: i64,
    on_time_rate: Option<Decimal>,
    mean_working_days: Option<Decimal>,
    median_working_days: Option<Decimal>,
    p90_working_days: Option<Decimal>,
    max_working_days: Option<Decimal>,
    mean_working_hours: Option<Decimal>,
    median_working_hours: Option<Decimal>,
    p90_working_hours: Option<Decimal>,
    max_working_hours: Option<Decimal>,
    mean_working_seconds: Option<Decimal>,
    median_working_seconds: Option<Decimal>,
    p90_working_seconds: Option<Decimal>,
    max_working_seconds: Option<Decimal>,
}

/// The report's groups as CSV, one line per stage kind and group.
///
/// # Errors
/// [`AppError::Internal`] when writing fails.
pub fn tat_csv(r: &TatReport) -> Result<String, AppError> {
    let d = |f: Option<Figure>| f.map(|f| f.days);
    let h = |f: Option<Figure>| f.map(|f| f.hours);
    let s = |f: Option<Figure>| f.map(|f| f.seconds);
    let rows: Vec<TatCsvRow> = r
        .groups
        .iter()
        .map(|g| TatCsvRow {
            as_of: &r.as_of,
            stage: &g.stage,
            group: &g.group,
            started: g.started,
            released: g.released,
            open: g.open,
            on_time: g.on_time,
            late: g.late,
            open_past_due: g.open_past_due,
            on_time_rate: g.on_time_rate,
            mean_working_days: d(g.mean),
            median_working_days: d(g.median),
            p90_working_days: d(g.p90),
            max_working_days: d(g.max),
            mean_working_hours: h(g.mean),
            median_working_hours: h(g.median),
            p90_working_hours: h(g.p90),
            max_working_hours: h(g.max),
            mean_working_seconds: s(g.mean),
            median_working_seconds: s(g.median),
            p90_working_seconds: s(g.p90),
            max_working_seconds: s(g.max),
        })
        .collect();
    to_csv(&rows)
}

/// The overdue list as CSV.
///
/// # Errors
/// [`AppError::Internal`] when writing fails.
pub fn overdue_csv(rows: &[OverdueStage]) -> Result<String, AppError> {
    to_csv(rows)
}
