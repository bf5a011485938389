//! The TAT report checked against an independent oracle on the scaled test data: the report as
//! it was computed before (all in SQL: W(t) by a correlated seek in `working_clock` per
//! instant, overlapping pauses by a window function, percentiles by ROW_NUMBER) must give the
//! same lines and the same overdue stages as the report computed in Rust over the rows of one
//! covering index (src/service/reports_tat.rs), for every grouping, with and without a stage
//! filter, now and at an `as_of` in the past.

use chrono::{DateTime, TimeZone, Utc};
use coallab::db::Db;
use coallab::domain::terms::Stage;
use coallab::service::reports_clock::ensure_clocks;
use coallab::service::reports_sql::{clock_column, greatest, least, load_rows, working_ms};
use coallab::service::reports_tat::{overdue_stages, tat_report, GroupBy, OverdueStage, TatQuery};
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::QueryableByName;

#[derive(QueryableByName, Debug, PartialEq)]
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

#[derive(QueryableByName, Debug, PartialEq)]
struct OverdueRow {
    #[diesel(sql_type = Text)]
    stage: String,
    #[diesel(sql_type = Text)]
    sample_code: String,
    #[diesel(sql_type = Text)]
    supplier_code: String,
    #[diesel(sql_type = Text)]
    lab_code: String,
    #[diesel(sql_type = BigInt)]
    started_at: i64,
    #[diesel(sql_type = BigInt)]
    due_at: i64,
    #[diesel(sql_type = BigInt)]
    overdue_working_seconds: i64,
}

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

fn oracle_groups(db: &Db, q: &TatQuery) -> Vec<GroupRow> {
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
    db.read(|tx| load_rows(tx, &sql, &[]))
        .expect("oracle report")
}

fn oracle_overdue(db: &Db, q: &TatQuery) -> Vec<OverdueRow> {
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
    db.read(|tx| load_rows(tx, &sql, &[]))
        .expect("oracle overdue")
}

/// Type 7 percentile from the oracle's two ranks, as the report defined it before.
fn interpolate(lo: Option<i64>, hi: Option<i64>, num: i64, den: i64) -> Option<String> {
    let lo = lo?;
    let hi = hi.unwrap_or(lo);
    let v = rust_decimal::Decimal::from(lo)
        + rust_decimal::Decimal::from(hi - lo) * rust_decimal::Decimal::from(num)
            / rust_decimal::Decimal::from(den);
    Some(v.normalize().to_string())
}

/// Compares the report with the oracle for every grouping and stage filter at two instants.
/// Returns how many report lines were compared.
pub fn check(db: &Db) -> usize {
    let now = Utc::now();
    ensure_clocks(db, now.timestamp_millis()).expect("clocks");
    let at = |y, m, d| Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap();
    let past: DateTime<Utc> = at(2021, 6, 30);
    let mut compared = 0;
    let mut released = 0;
    let mut overdue_seen = 0;
    for as_of in [now, past] {
        for stage in [None, Some(Stage::InitialTest), Some(Stage::Retest)] {
            for group_by in [
                GroupBy::Stage,
                GroupBy::PeriodWeek,
                GroupBy::PeriodMonth,
                GroupBy::Supplier,
                GroupBy::Technician,
                GroupBy::Lab,
            ] {
                let q = TatQuery {
                    from: at(2012, 1, 1),
                    to: at(2030, 1, 1),
                    as_of,
                    group_by,
                    stage,
                };
                let report = db.read(|tx| tat_report(tx, &q)).expect("report");
                let oracle = oracle_groups(db, &q);
                let what = format!("{group_by:?} stage {stage:?} as of {as_of}");
                assert_eq!(report.groups.len(), oracle.len(), "lines of {what}");
                for (g, o) in report.groups.iter().zip(&oracle) {
                    let n = o.released;
                    let got = (
                        g.stage.as_str(),
                        g.group.as_str(),
                        g.started,
                        g.released,
                        g.on_time,
                        g.late - g.open_past_due,
                        g.open_past_due,
                        g.max.map(|f| f.seconds.to_string()),
                        g.median.map(|f| f.seconds.to_string()),
                        g.p90.map(|f| f.seconds.to_string()),
                    );
                    let want = (
                        o.stage.as_str(),
                        o.grp.as_str(),
                        o.started,
                        o.released,
                        o.on_time,
                        o.late_released,
                        o.open_past_due,
                        o.max_s.map(|s| s.to_string()),
                        (n > 0)
                            .then(|| interpolate(o.med_lo, o.med_hi, (n - 1) % 2, 2))
                            .flatten(),
                        (n > 0)
                            .then(|| interpolate(o.p90_lo, o.p90_hi, (9 * (n - 1)) % 10, 10))
                            .flatten(),
                    );
                    assert_eq!(got, want, "line of {what}");
                    // The mean: the oracle's exact sum over n, rounded half to even to 0.1 s.
                    if n > 0 {
                        let mean = coallab::domain::rounding::round_half_even(
                            rust_decimal::Decimal::from(o.sum_s) / rust_decimal::Decimal::from(n),
                            1,
                        );
                        assert_eq!(
                            g.mean.map(|f| f.seconds),
                            Some(mean.normalize()),
                            "mean of {what}"
                        );
                    }
                    released += g.released;
                    compared += 1;
                }
                let overdue = db.read(|tx| overdue_stages(tx, &q)).expect("overdue");
                let want = oracle_overdue(db, &q);
                let want: Vec<OverdueStage> = want
                    .into_iter()
                    .map(|s| OverdueStage {
                        stage: s.stage,
                        sample_code: s.sample_code,
                        supplier_code: s.supplier_code,
                        lab_code: s.lab_code,
                        started_at: s.started_at,
                        due_at: s.due_at,
                        overdue_working_seconds: s.overdue_working_seconds,
                    })
                    .collect();
                assert_eq!(overdue, want, "overdue stages of {what}");
                assert_eq!(
                    report.open_past_due, overdue,
                    "report's overdue list of {what}"
                );
                overdue_seen += overdue.len();
            }
        }
    }
    // The data must exercise the report: released stages, pauses, and open stages past due.
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let pauses: Vec<Count> = db
        .read(|tx| load_rows(tx, "SELECT COUNT(*) AS n FROM stage_pauses", &[]))
        .expect("pauses");
    assert!(pauses[0].n > 10, "only {} pauses in the data", pauses[0].n);
    assert!(released > 1_000, "only {released} released stages compared");
    assert!(overdue_seen > 0, "no overdue stage compared");
    compared
}
