//! The turnaround-time (TAT) report for auditors (DESIGN.md "Deadlines and turnaround";
//! docs/reports.md): per stage and group, how many stages started, were released, were on time
//! or late, and the count, mean, median, 90th percentile and maximum of their turnaround in
//! working days and hours; plus the open stages past due at `as_of`.
//!
//! Everything is computed by the database in one query per part: the working time of each stage
//! comes from the `working_clock` table (src/service/reports_clock.rs, built with the domain
//! calendar), paused time from `stage_pauses` (overlapping pauses counted once, as
//! `domain::working_time::merge_intervals` does), and the statistics from GROUP BY and window
//! functions (ROW_NUMBER/COUNT) that SQLite and PostgreSQL both run. Only one row per group
//! reaches Rust.
//!
//! Reproducibility: a stage counts when it started before `as_of`; it is released at `as_of`
//! only if `released_at <= as_of`, else it is open; determinations count when entered at or
//! before `as_of`; a sample rejected or cancelled (audit event at or before `as_of`) drops its
//! unreleased stage. Later work therefore never changes a report with the same `as_of`.

use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::QueryableByName;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::db::Tx;
use crate::domain::rounding::round_half_even;
use crate::domain::terms::Stage;
use crate::error::AppError;
use crate::service::reports_sql::{clock_column, greatest, least, load_rows, working_ms};
use crate::time::ms_to_rfc3339;

/// How the TAT report groups stages (always within each stage kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GroupBy {
    /// One group per stage kind.
    Stage,
    /// ISO week (Monday to Sunday) of the stage's start, in the lab's time zone, e.g. 2025-W40.
    PeriodWeek,
    /// Calendar month of the stage's start, in the lab's time zone, e.g. 2025-10.
    PeriodMonth,
    /// Supplier code.
    Supplier,
    /// Username of each person who entered determinations of the stage (a stage entered by two
    /// technicians counts in both groups; "(none)" when nobody had entered any by `as_of`).
    Technician,
    /// Lab code.
    Lab,
}

impl GroupBy {
    /// Parses `stage`, `period-week`, `period-month`, `supplier`, `technician` or `lab`.
    ///
    /// # Errors
    /// [`AppError::Invalid`] naming the legal values.
    pub fn parse(text: &str) -> Result<GroupBy, AppError> {
        Ok(match text.trim() {
            "stage" => GroupBy::Stage,
            "period-week" | "week" => GroupBy::PeriodWeek,
            "period-month" | "month" => GroupBy::PeriodMonth,
            "supplier" => GroupBy::Supplier,
            "technician" => GroupBy::Technician,
            "lab" => GroupBy::Lab,
            other => {
                return Err(AppError::invalid(
                    "invalid_value",
                    format!("group_by '{other}': use stage, period-week, period-month, supplier, technician or lab"),
                ))
            }
        })
    }
}

/// What to report on: stages that started in `[from, to)` and before `as_of` (instants).
#[derive(Debug, Clone)]
pub struct TatQuery {
    /// First instant of the period.
    pub from: DateTime<Utc>,
    /// First instant after the period.
    pub to: DateTime<Utc>,
    /// The instant the report describes.
    pub as_of: DateTime<Utc>,
    /// Grouping.
    pub group_by: GroupBy,
    /// Only this stage kind, if set.
    pub stage: Option<Stage>,
}

/// A turnaround figure in three units: working seconds (exact; median and percentile may end in
/// a fraction), working days (÷ 86 400, 3 decimals) and working hours (÷ 3 600, 2 decimals),
/// rounded half to even (GB/T 8170) once from the exact value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Figure {
    /// Working seconds, exact (mean rounded to 0.1 s).
    pub seconds: Decimal,
    /// Working days (24 working hours each), 3 decimals.
    pub days: Decimal,
    /// Working hours, 2 decimals.
    pub hours: Decimal,
}

impl Figure {
    /// The figure of `seconds` working seconds.
    pub fn of(seconds: Decimal) -> Figure {
        Figure {
            seconds: seconds.normalize(),
            days: round_half_even(seconds / Decimal::from(86_400), 3),
            hours: round_half_even(seconds / Decimal::from(3_600), 2),
        }
    }
}

/// One line of the report: one stage kind within one group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TatGroup {
    /// initial_test or retest.
    pub stage: String,
    /// The group's key (see [`GroupBy`]); "all" when grouping by stage.
    pub group: String,
    /// Stages that started in the period before `as_of`.
    pub started: i64,
    /// Of those, released at or before `as_of` (their turnaround is counted).
    pub released: i64,
    /// Started but not released at `as_of`.
    pub open: i64,
    /// Released at or before the due instant.
    pub on_time: i64,
    /// Late: released after the due instant, or open at `as_of` and past due.
    pub late: i64,
    /// Of `late`, open at `as_of` and past due.
    pub open_past_due: i64,
    /// on_time / (on_time + late), 4 decimals; None when both are zero. Open stages not yet due
    /// are undecided and count in neither (`domain::deadline::is_overdue`).
    pub on_time_rate: Option<Decimal>,
    /// Mean turnaround of the released stages.
    pub mean: Option<Figure>,
    /// Median (linear interpolation, see docs/reports.md).
    pub median: Option<Figure>,
    /// 90th percentile (linear interpolation).
    pub p90: Option<Figure>,
    /// Maximum.
    pub max: Option<Figure>,
}

/// An open stage past its due instant at `as_of`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, QueryableByName)]
pub struct OverdueStage {
    /// initial_test or retest.
    #[diesel(sql_type = Text)]
    pub stage: String,
    /// Sample code.
    #[diesel(sql_type = Text)]
    pub sample_code: String,
    /// Supplier code.
    #[diesel(sql_type = Text)]
    pub supplier_code: String,
    /// Lab code.
    #[diesel(sql_type = Text)]
    pub lab_code: String,
    /// Start of the stage (ms).
    #[diesel(sql_type = BigInt)]
    #[serde(serialize_with = "as_rfc3339")]
    pub started_at: i64,
    /// Due instant (ms).
    #[diesel(sql_type = BigInt)]
    #[serde(serialize_with = "as_rfc3339")]
    pub due_at: i64,
    /// Working seconds from the due instant to `as_of`.
    #[diesel(sql_type = BigInt)]
    pub overdue_working_seconds: i64,
}

fn as_rfc3339<S: serde::Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&ms_to_rfc3339(*ms))
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TatReport {
    /// The instant described (RFC 3339).
    pub as_of: String,
    /// Period start (RFC 3339).
    pub from: String,
    /// Period end, exclusive (RFC 3339).
    pub to: String,
    /// Grouping.
    pub group_by: GroupBy,
    /// How the median and p90 are computed.
    pub percentile_method: &'static str,
    /// One line per stage kind and group, ordered by stage then group.
    pub groups: Vec<TatGroup>,
    /// Open stages past due at `as_of`, earliest due first.
    pub open_past_due: Vec<OverdueStage>,
}

/// The percentile definition used (docs/reports.md).
pub const PERCENTILE_METHOD: &str =
    "linear interpolation between closest ranks (Hyndman-Fan type 7, as PostgreSQL percentile_cont and Excel PERCENTILE.INC): h = (n - 1) p + 1, x[floor h] + (h - floor h)(x[floor h + 1] - x[floor h])";

#[derive(QueryableByName)]
struct GroupRow {
    #[diesel(sql_type = Text)]
    stage: String,
    #[diesel(sql_type = Text)]
    grp: String,
    #[diesel(sql_type = BigInt)]
    started: i64,
    #[diesel(sql_type = BigInt)]
    released: i64,
    #[diesel(sql_type = BigInt)]
    on_time: i64,
    #[diesel(sql_type = BigInt)]
    late_released: i64,
    #[diesel(sql_type = BigInt)]
    open_past_due: i64,
    #[diesel(sql_type = BigInt)]
    sum_s: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    max_s: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    med_lo: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    med_hi: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    p90_lo: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    p90_hi: Option<i64>,
}

/// The stages of the report, with their release as seen at `as_of` (`rel`), their clock and
/// their grouping attributes: CTEs `st` and `live`. `st` is MATERIALIZED (SQLite ≥ 3.35,
/// PostgreSQL ≥ 12) so that both backends compute it once from the range of `stages_started`;
/// inlined, SQLite walked all of `stages` in `stages_released` order to feed the window
/// functions (tests/query_plans/).
fn stages_cte(q: &TatQuery) -> String {
    let (from, to, asof) = (
        q.from.timestamp_millis(),
        q.to.timestamp_millis(),
        q.as_of.timestamp_millis(),
    );
    let stage_filter = q
        .stage
        .map(|s| format!(" AND g.stage = '{}'", s.as_code()))
        .unwrap_or_default();
    format!(
        "st AS MATERIALIZED (SELECT g.id AS stage_id, g.stage, g.sample_id, g.started_at, g.due_at, \
           CASE WHEN g.released_at IS NOT NULL AND g.released_at <= {asof} THEN g.released_at END AS rel, \
           l.calendar_code AS cc, l.timezone AS tz, l.code AS lab_code, sp.code AS supplier_code, \
           s.sample_code \
         FROM stages g JOIN samples s ON s.id = g.sample_id JOIN labs l ON l.id = s.lab_id \
           JOIN suppliers sp ON sp.id = s.supplier_id \
         WHERE g.started_at >= {from} AND g.started_at < {to} AND g.started_at < {asof}{stage_filter}), \
         live AS (SELECT st.* FROM st WHERE st.rel IS NOT NULL OR NOT EXISTS (SELECT 1 FROM audit_events a \
           WHERE a.sample_id = st.sample_id AND a.action IN ('sample.reject', 'sample.cancel') AND a.at <= {asof}))"
    )
}

/// Working time inside pauses per released stage, clamped to [start, release] and with
/// overlapping pauses counted once: each pause contributes only the part after the latest end of
/// the pauses that started before it. CTEs `pz`, `pzw`, `pieces`, `paused`. `live CROSS JOIN
/// stage_pauses` keeps SQLite's join order (the report's stages, then their pauses by
/// `stage_pauses_stage`) instead of walking every pause; PostgreSQL treats it as a plain join.
fn paused_cte(asof: i64) -> String {
    let ps = greatest("p.started_at", "live.started_at");
    let pe = least("COALESCE(p.ended_at, live.rel)", "live.rel");
    let es = greatest("pzw.ps", "COALESCE(pzw.prev_end, pzw.ps)");
    format!(
        "pz AS (SELECT p.id, p.stage_id, {ps} AS ps, {pe} AS pe, live.cc, live.tz \
           FROM live CROSS JOIN stage_pauses p WHERE p.stage_id = live.stage_id \
           AND live.rel IS NOT NULL AND p.started_at < {asof}), \
         pzw AS (SELECT pz.*, MAX(pz.pe) OVER (PARTITION BY pz.stage_id ORDER BY pz.ps, pz.id \
           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end FROM pz WHERE pz.pe > pz.ps), \
         pieces AS (SELECT pzw.stage_id, pzw.cc, pzw.tz, pzw.pe, {es} AS es FROM pzw), \
         paused AS (SELECT pieces.stage_id, CAST(SUM({wpe} - {wes}) AS BIGINT) AS paused_ms \
           FROM pieces WHERE pieces.pe > pieces.es GROUP BY pieces.stage_id)",
        wpe = working_ms("pieces.pe", "pieces.cc", "pieces.tz"),
        wes = working_ms("pieces.es", "pieces.cc", "pieces.tz"),
    )
}

fn group_sql(g: GroupBy, asof: i64) -> (String, String) {
    match g {
        GroupBy::Stage => ("CAST('all' AS TEXT)".into(), String::new()),
        GroupBy::Lab => ("tat.lab_code".into(), String::new()),
        GroupBy::Supplier => ("tat.supplier_code".into(), String::new()),
        GroupBy::PeriodWeek => (
            clock_column("iso_week", "tat.started_at", "tat.cc", "tat.tz"),
            String::new(),
        ),
        GroupBy::PeriodMonth => (
            format!(
                "SUBSTR({}, 1, 7)",
                clock_column("day", "tat.started_at", "tat.cc", "tat.tz")
            ),
            String::new(),
        ),
        GroupBy::Technician => (
            "COALESCE(u.username, '(none)')".into(),
            format!(
                " LEFT JOIN (SELECT DISTINCT d.stage_id, d.entered_by FROM determinations d \
                 WHERE d.stage_id IN (SELECT st.stage_id FROM st) AND d.entered_at <= {asof}) dd \
                 ON dd.stage_id = tat.stage_id \
                 LEFT JOIN users u ON u.id = dd.entered_by"
            ),
        ),
    }
}

/// Checks the query's instants: `from < to` and all inside the working clock.
///
/// # Errors
/// [`AppError::Invalid`] naming the problem.
pub fn validate(q: &TatQuery) -> Result<(), AppError> {
    if q.from >= q.to {
        return Err(AppError::invalid("invalid_value", "from must be before to"));
    }
    // One day inside the clock's span at both ends, whatever the lab's UTC offset.
    let day =
        |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).and_then(|d| d.and_hms_opt(0, 0, 0));
    let (Some(first), Some(last)) = (day(2010, 1, 2), day(2059, 12, 30)) else {
        return Err(AppError::Internal("clock bounds".into()));
    };
    let (first, last) = (first.and_utc(), last.and_utc());
    for (name, t) in [("from", q.from), ("to", q.to), ("as_of", q.as_of)] {
        if t < first || t > last {
            return Err(AppError::invalid(
                "invalid_value",
                format!("{name} must lie between 2010-01-02 and 2059-12-30 (the span of the working-time clock)"),
            ));
        }
    }
    Ok(())
}

/// Computes the report. Call [`crate::service::reports_clock::ensure_clocks`] first.
///
/// # Errors
/// [`AppError::Invalid`] for bad instants; database errors.
pub fn tat_report(tx: &mut Tx<'_>, q: &TatQuery) -> Result<TatReport, AppError> {
    validate(q)?;
    let asof = q.as_of.timestamp_millis();
    let (gexpr, gjoin) = group_sql(q.group_by, asof);
    let sql = format!(
        "WITH {st}, {paused}, \
         tat AS (SELECT live.*, CASE WHEN live.rel IS NULL THEN NULL ELSE \
           ({wrel} - {wstart} - COALESCE(paused.paused_ms, 0)) / 1000 END AS tat_s \
           FROM live LEFT JOIN paused ON paused.stage_id = live.stage_id), \
         grouped AS (SELECT tat.stage, {gexpr} AS grp, tat.rel, tat.due_at, tat.tat_s, \
           CASE WHEN tat.rel IS NULL THEN 0 ELSE 1 END AS done FROM tat{gjoin}), \
         ranked AS (SELECT grouped.*, \
           ROW_NUMBER() OVER (PARTITION BY grouped.stage, grouped.grp, grouped.done ORDER BY grouped.tat_s) AS rn, \
           COUNT(*) OVER (PARTITION BY grouped.stage, grouped.grp, grouped.done) AS n FROM grouped) \
         SELECT stage, grp, COUNT(*) AS started, CAST(SUM(done) AS BIGINT) AS released, \
           CAST(SUM(CASE WHEN done = 1 AND rel <= due_at THEN 1 ELSE 0 END) AS BIGINT) AS on_time, \
           CAST(SUM(CASE WHEN done = 1 AND rel > due_at THEN 1 ELSE 0 END) AS BIGINT) AS late_released, \
           CAST(SUM(CASE WHEN done = 0 AND due_at < {asof} THEN 1 ELSE 0 END) AS BIGINT) AS open_past_due, \
           CAST(SUM(CASE WHEN done = 1 THEN tat_s ELSE 0 END) AS BIGINT) AS sum_s, \
           MAX(CASE WHEN done = 1 THEN tat_s END) AS max_s, \
           MAX(CASE WHEN done = 1 AND rn = (n - 1) / 2 + 1 THEN tat_s END) AS med_lo, \
           MAX(CASE WHEN done = 1 AND rn = (n - 1) / 2 + 2 THEN tat_s END) AS med_hi, \
           MAX(CASE WHEN done = 1 AND rn = (9 * (n - 1)) / 10 + 1 THEN tat_s END) AS p90_lo, \
           MAX(CASE WHEN done = 1 AND rn = (9 * (n - 1)) / 10 + 2 THEN tat_s END) AS p90_hi \
         FROM ranked GROUP BY stage, grp ORDER BY stage, grp",
        st = stages_cte(q),
        paused = paused_cte(asof),
        wrel = working_ms("live.rel", "live.cc", "live.tz"),
        wstart = working_ms("live.started_at", "live.cc", "live.tz"),
    );
    let rows: Vec<GroupRow> = load_rows(tx, &sql, &[])?;
    let groups = rows.into_iter().map(group_of).collect();
    Ok(TatReport {
        as_of: ms_to_rfc3339(asof),
        from: ms_to_rfc3339(q.from.timestamp_millis()),
        to: ms_to_rfc3339(q.to.timestamp_millis()),
        group_by: q.group_by,
        percentile_method: PERCENTILE_METHOD,
        groups,
        open_past_due: overdue_stages(tx, q)?,
    })
}

/// The open stages past due at `as_of` among the stages of the report (same period and stage
/// filter), earliest due first.
///
/// # Errors
/// [`AppError::Invalid`] for bad instants; database errors.
pub fn overdue_stages(tx: &mut Tx<'_>, q: &TatQuery) -> Result<Vec<OverdueStage>, AppError> {
    validate(q)?;
    let asof = q.as_of.timestamp_millis();
    let sql = format!(
        "WITH {st} SELECT live.stage, live.sample_code, live.supplier_code, live.lab_code, \
           live.started_at, live.due_at, ({wasof} - {wdue}) / 1000 AS overdue_working_seconds \
         FROM live WHERE live.rel IS NULL AND live.due_at < {asof} \
         ORDER BY live.due_at, live.sample_code, live.stage",
        st = stages_cte(q),
        wasof = working_ms(&asof.to_string(), "live.cc", "live.tz"),
        wdue = working_ms("live.due_at", "live.cc", "live.tz"),
    );
    load_rows(tx, &sql, &[])
}

/// Linear interpolation between ranks `lo` and `lo + 1` with fraction `num / den`.
fn interpolate(lo: Option<i64>, hi: Option<i64>, num: i64, den: i64) -> Option<Decimal> {
    let lo = lo?;
    let hi = hi.unwrap_or(lo);
    Some(Decimal::from(lo) + Decimal::from(hi - lo) * Decimal::from(num) / Decimal::from(den))
}

fn group_of(r: GroupRow) -> TatGroup {
    let n = r.released;
    let late = r.late_released + r.open_past_due;
    let decided = r.on_time + late;
    let rate = (decided > 0)
        .then(|| round_half_even(Decimal::from(r.on_time) / Decimal::from(decided), 4));
    let (median, p90, mean) = if n > 0 {
        (
            interpolate(r.med_lo, r.med_hi, (n - 1) % 2, 2),
            interpolate(r.p90_lo, r.p90_hi, (9 * (n - 1)) % 10, 10),
            Some(round_half_even(
                Decimal::from(r.sum_s) / Decimal::from(n),
                1,
            )),
        )
    } else {
        (None, None, None)
    };
    TatGroup {
        stage: r.stage,
        group: r.grp,
        started: r.started,
        released: r.released,
        open: r.started - r.released,
        on_time: r.on_time,
        late,
        open_past_due: r.open_past_due,
        on_time_rate: rate,
        mean: mean.map(Figure::of),
        median: median.map(Figure::of),
        p90: p90.map(Figure::of),
        max: r.max_s.map(|s| Figure::of(Decimal::from(s))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_percentiles_by_hand() {
        // n = 4 values 10, 20, 30, 40: median h = 3·0.5 + 1 = 2.5 → 20 + 0.5·10 = 25;
        // p90 h = 3·0.9 + 1 = 3.7 → 30 + 0.7·10 = 37.
        assert_eq!(
            interpolate(Some(20), Some(30), 3 % 2, 2),
            Some(Decimal::from(25))
        );
        assert_eq!((9 * 3) / 10 + 1, 3);
        assert_eq!(
            interpolate(Some(30), Some(40), (9 * 3) % 10, 10),
            Some(Decimal::from(37))
        );
        // n = 1: both are the value itself.
        assert_eq!(interpolate(Some(7), None, 0, 2), Some(Decimal::from(7)));
    }

    #[test]
    fn figures_round_half_even_once() {
        // 129 600 s = 1.5 days = 36 h; 100 s = 0.001157… days → 0.001, 0.0277… h → 0.03.
        let f = Figure::of(Decimal::from(129_600));
        assert_eq!(
            (f.days.to_string(), f.hours.to_string()),
            ("1.500".into(), "36.00".into())
        );
        let f = Figure::of(Decimal::from(100));
        assert_eq!(
            (f.days.to_string(), f.hours.to_string()),
            ("0.001".into(), "0.03".into())
        );
    }
}
