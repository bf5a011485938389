//! Regulator queries (docs/reports.md): the status of one sample by sample code or report
//! number, the supplier list with pass rates, appeals and overdue stages, and the non-compliant
//! suppliers of a period. Released data only: a sample counts once its initial test is released
//! (`final_verdict` not null), so nothing unreleased reaches a regulator or auditor.
//!
//! Every list uses the *effective state* of a sample at `now` (src/service/reports_sql.rs): a
//! failed initial test whose appeal window has lapsed without a retest request is closed, with
//! the initial verdict final from the end of the window, even before anyone records the close.
//! Aggregations are GROUP BY queries in the database; at most one row per supplier (or per
//! failing sample, for the non-compliant list) reaches Rust.

use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::QueryableByName;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::db::Tx;
use crate::domain::rounding::round_half_even;
use crate::domain::terms::{Role, Stage, SupplierKind, Verdict};
use crate::error::AppError;
use crate::service::auth::CurrentUser;
use crate::service::reports_sql::{
    effective_closed_at, effective_state, load_rows, Bind, NOW, NOW_CTE,
};
pub use crate::service::reports_status::{sample_status, SampleStatus, StageStatus};
use crate::time::{ms_to_rfc3339, parse_date};

/// Filters of the supplier list and the non-compliant list (all optional, combined with AND).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupplierFilter {
    /// Town (镇) of the supplier.
    pub town: Option<String>,
    /// Supplier kind: production_enterprise or sale_point.
    pub kind: Option<String>,
    /// Samples taken on or after this local date (YYYY-MM-DD, lab time zone).
    pub from: Option<String>,
    /// Samples taken on or before this local date.
    pub to: Option<String>,
    /// Only samples whose verdict so far is pass or fail.
    pub verdict: Option<String>,
    /// Only samples with a released stage of this kind (initial_test or retest).
    pub stage: Option<String>,
    /// Response format (json or csv); read by the HTTP handler.
    pub format: Option<String>,
}

/// One supplier's line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct SupplierStatus {
    /// Supplier code.
    pub code: String,
    /// Name.
    pub name: String,
    /// production_enterprise or sale_point.
    pub kind: String,
    /// Town.
    pub town: String,
    /// Released samples matching the filter (rejected and cancelled samples excluded).
    pub samples: i64,
    /// Of those, final (closed, or appeal window lapsed) with verdict pass.
    pub final_pass: i64,
    /// Final with verdict fail.
    pub final_fail: i64,
    /// Not final yet: appeal window open, receipt not recorded, or retest running.
    pub pending: i64,
    /// final_pass / (final_pass + final_fail), 4 decimals; None without final verdicts.
    pub pass_rate: Option<Decimal>,
    /// Verdict of the sample that became final last.
    pub last_final_verdict: Option<String>,
    /// Its sample code.
    pub last_final_sample: Option<String>,
    /// When it became final (RFC 3339).
    pub last_final_at: Option<String>,
    /// Retests requested and not yet released.
    pub open_appeals: i64,
    /// Stages open and past due now (deadlines only; samples taken in the period, any verdict).
    pub overdue_stages: i64,
}

#[derive(QueryableByName)]
struct SupplierRow {
    #[diesel(sql_type = Text)]
    code: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    town: String,
    #[diesel(sql_type = BigInt)]
    samples: i64,
    #[diesel(sql_type = BigInt)]
    final_pass: i64,
    #[diesel(sql_type = BigInt)]
    final_fail: i64,
    #[diesel(sql_type = BigInt)]
    open_appeals: i64,
    #[diesel(sql_type = BigInt)]
    overdue_stages: i64,
    #[diesel(sql_type = Nullable<Text>)]
    last_final_verdict: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    last_final_sample: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    last_final_at: Option<i64>,
}

fn bad(m: String) -> AppError {
    AppError::invalid("invalid_value", m)
}

/// The sample conditions of a filter (on `s`), and those that do not depend on the verdict.
struct Conditions {
    all: String,
    period: String,
    binds_all: Vec<Bind>,
    binds_period: Vec<Bind>,
}

fn conditions(user: &CurrentUser, f: &SupplierFilter) -> Result<Conditions, AppError> {
    let mut period = String::new();
    let mut bp = Vec::new();
    let from = f
        .from
        .as_deref()
        .map(|d| parse_date("from", d).map_err(bad))
        .transpose()?;
    let to =
        f.to.as_deref()
            .map(|d| parse_date("to", d).map_err(bad))
            .transpose()?;
    if let (Some(a), Some(b)) = (from, to) {
        // A reversed period would answer an empty report as if nothing had been sampled.
        if a > b {
            return Err(bad(format!("from ({a}) is after to ({b})")));
        }
    }
    if let Some(d) = from {
        period.push_str(" AND s.sampled_on >= ?");
        bp.push(Bind::Text(d.to_string()));
    }
    if let Some(d) = to {
        period.push_str(" AND s.sampled_on <= ?");
        bp.push(Bind::Text(d.to_string()));
    }
    if matches!(user.role, Role::Technician | Role::Reviewer) {
        // Lab staff see their own lab's samples only.
        period.push_str(" AND s.lab_id = ?");
        bp.push(Bind::Int(user.lab_id.unwrap_or(-1)));
    }
    let mut all = period.clone();
    let mut ba = bp.clone();
    if let Some(v) = &f.verdict {
        Verdict::from_code(v).map_err(|e| bad(e.to_string()))?;
        all.push_str(" AND s.final_verdict = ?");
        ba.push(Bind::Text(v.clone()));
    }
    if let Some(st) = &f.stage {
        Stage::from_code(st).map_err(|e| bad(e.to_string()))?;
        all.push_str(
            " AND EXISTS (SELECT 1 FROM stages g2 WHERE g2.sample_id = s.id AND g2.stage = ? \
             AND g2.released_at IS NOT NULL)",
        );
        ba.push(Bind::Text(st.clone()));
    }
    Ok(Conditions {
        all,
        period,
        binds_all: ba,
        binds_period: bp,
    })
}

fn supplier_conditions(f: &SupplierFilter, binds: &mut Vec<Bind>) -> Result<String, AppError> {
    let mut sql = String::new();
    if let Some(t) = &f.town {
        sql.push_str(" AND sp.town = ?");
        binds.push(Bind::Text(t.clone()));
    }
    if let Some(k) = &f.kind {
        SupplierKind::from_code(k).map_err(|e| bad(e.to_string()))?;
        sql.push_str(" AND sp.kind = ?");
        binds.push(Bind::Text(k.clone()));
    }
    Ok(sql)
}

/// CTE `sm`: released samples (not rejected or cancelled) matching `cond`, with their effective
/// state and the instant they became final.
/// Comes after [`NOW_CTE`] in the WITH list.
fn released_samples_cte(cond: &str) -> String {
    format!(
        "sm AS (SELECT s.id, s.supplier_id, s.sample_code, s.sampled_on, s.final_verdict, s.state, \
           {eff} AS eff_state, {closed} AS final_at FROM samples s \
         WHERE s.final_verdict IS NOT NULL AND s.state NOT IN ('rejected', 'cancelled'){cond})",
        eff = effective_state(),
        closed = effective_closed_at(),
    )
}

/// Suppliers with their sample counts, pass rate, last final verdict, open appeals and overdue
/// stages, ordered by code. With a verdict or stage filter, only suppliers with matching samples.
///
/// # Errors
/// [`AppError::Invalid`] for a bad filter value; database errors.
pub fn suppliers(
    tx: &mut Tx<'_>,
    user: &CurrentUser,
    f: &SupplierFilter,
    now: DateTime<Utc>,
) -> Result<Vec<SupplierStatus>, AppError> {
    let now_ms = now.timestamp_millis();
    let c = conditions(user, f)?;
    let mut binds = vec![Bind::Int(now_ms)];
    binds.extend(c.binds_all.clone());
    binds.extend(c.binds_period.clone());
    let sup = supplier_conditions(f, &mut binds)?;
    let only_matching = if f.verdict.is_some() || f.stage.is_some() {
        " AND COALESCE(agg.samples, 0) > 0"
    } else {
        ""
    };
    let sql = format!(
        "WITH {NOW_CTE}, {sm}, \
         fin AS (SELECT sm.supplier_id, sm.final_verdict, sm.sample_code, sm.final_at, \
           ROW_NUMBER() OVER (PARTITION BY sm.supplier_id ORDER BY sm.final_at DESC, sm.id DESC) AS rn \
           FROM sm WHERE sm.eff_state = 'closed'), \
         agg AS (SELECT sm.supplier_id, COUNT(*) AS samples, \
           CAST(SUM(CASE WHEN sm.eff_state = 'closed' AND sm.final_verdict = 'pass' THEN 1 ELSE 0 END) AS BIGINT) AS final_pass, \
           CAST(SUM(CASE WHEN sm.eff_state = 'closed' AND sm.final_verdict = 'fail' THEN 1 ELSE 0 END) AS BIGINT) AS final_fail, \
           CAST(SUM(CASE WHEN sm.state IN ('retest_testing', 'retest_review') THEN 1 ELSE 0 END) AS BIGINT) AS open_appeals \
           FROM sm GROUP BY sm.supplier_id), \
         od AS (SELECT s.supplier_id, COUNT(*) AS overdue FROM stages g JOIN samples s ON s.id = g.sample_id \
           WHERE g.released_at IS NULL AND g.due_at < {NOW} AND s.state NOT IN ('rejected', 'cancelled'){period} \
           GROUP BY s.supplier_id) \
         SELECT sp.code, sp.name, sp.kind, sp.town, COALESCE(agg.samples, 0) AS samples, \
           COALESCE(agg.final_pass, 0) AS final_pass, COALESCE(agg.final_fail, 0) AS final_fail, \
           COALESCE(agg.open_appeals, 0) AS open_appeals, COALESCE(od.overdue, 0) AS overdue_stages, \
           fin.final_verdict AS last_final_verdict, fin.sample_code AS last_final_sample, \
           fin.final_at AS last_final_at \
         FROM suppliers sp LEFT JOIN agg ON agg.supplier_id = sp.id \
           LEFT JOIN fin ON fin.supplier_id = sp.id AND fin.rn = 1 \
           LEFT JOIN od ON od.supplier_id = sp.id \
         WHERE 1 = 1{sup}{only_matching} ORDER BY sp.code",
        sm = released_samples_cte(&c.all),
        period = c.period,
    );
    let rows: Vec<SupplierRow> = load_rows(tx, &sql, &binds)?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let decided = r.final_pass + r.final_fail;
            SupplierStatus {
                pending: r.samples - decided,
                pass_rate: (decided > 0).then(|| {
                    round_half_even(Decimal::from(r.final_pass) / Decimal::from(decided), 4)
                }),
                code: r.code,
                name: r.name,
                kind: r.kind,
                town: r.town,
                samples: r.samples,
                final_pass: r.final_pass,
                final_fail: r.final_fail,
                last_final_verdict: r.last_final_verdict,
                last_final_sample: r.last_final_sample,
                last_final_at: r.last_final_at.map(ms_to_rfc3339),
                open_appeals: r.open_appeals,
                overdue_stages: r.overdue_stages,
            }
        })
        .collect())
}

/// A supplier with at least one final fail among the samples taken in the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NonCompliant {
    /// Supplier code.
    pub code: String,
    /// Name.
    pub name: String,
    /// production_enterprise or sale_point.
    pub kind: String,
    /// Town.
    pub town: String,
    /// Number of final fails.
    pub final_fails: i64,
    /// The failed samples, newest sampling first.
    pub samples: Vec<FailedSample>,
}

/// One sample with a final fail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, QueryableByName)]
pub struct FailedSample {
    /// Supplier code (the group this sample belongs to).
    #[diesel(sql_type = Text)]
    #[serde(skip)]
    pub supplier_code: String,
    /// Sample code.
    #[diesel(sql_type = Text)]
    pub sample_code: String,
    /// Local sampling date.
    #[diesel(sql_type = Text)]
    pub sampled_on: String,
    /// Report number of the stage whose verdict is final (the retest's when there was one).
    #[diesel(sql_type = Nullable<Text>)]
    pub report_no: Option<String>,
    /// When the fail became final (ms).
    #[diesel(sql_type = BigInt)]
    #[serde(serialize_with = "as_rfc3339")]
    pub final_at: i64,
}

fn as_rfc3339<S: serde::Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&ms_to_rfc3339(*ms))
}

#[derive(QueryableByName)]
struct FailCount {
    #[diesel(sql_type = Text)]
    code: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    town: String,
    #[diesel(sql_type = BigInt)]
    final_fails: i64,
}

/// The non-compliant suppliers: at least one final fail among samples taken in the period
/// (`verdict` and `stage` filters are ignored: the list is about final fails).
///
/// # Errors
/// [`AppError::Invalid`] for a bad filter value; database errors.
pub fn non_compliant(
    tx: &mut Tx<'_>,
    user: &CurrentUser,
    f: &SupplierFilter,
    now: DateTime<Utc>,
) -> Result<Vec<NonCompliant>, AppError> {
    let now_ms = now.timestamp_millis();
    let f = SupplierFilter {
        verdict: None,
        stage: None,
        ..f.clone()
    };
    let c = conditions(user, &f)?;
    let mut binds = vec![Bind::Int(now_ms)];
    binds.extend(c.binds_all.clone());
    let sup = supplier_conditions(&f, &mut binds)?;
    let base = format!(
        "WITH {NOW_CTE}, {sm} SELECT {{cols}} FROM sm JOIN suppliers sp ON sp.id = sm.supplier_id \
         WHERE sm.eff_state = 'closed' AND sm.final_verdict = 'fail'{sup} {{tail}}",
        sm = released_samples_cte(&c.all),
    );
    let counts: Vec<FailCount> = load_rows(
        tx,
        &base
            .replace(
                "{cols}",
                "sp.code, sp.name, sp.kind, sp.town, COUNT(*) AS final_fails",
            )
            .replace(
                "{tail}",
                "GROUP BY sp.code, sp.name, sp.kind, sp.town ORDER BY sp.code",
            ),
        &binds,
    )?;
    let failed: Vec<FailedSample> = load_rows(
        tx,
        &base
            .replace(
                "{cols}",
                "sp.code AS supplier_code, sm.sample_code, sm.sampled_on, sm.final_at, \
                 (SELECT g.report_no FROM stages g WHERE g.sample_id = sm.id AND g.released_at IS NOT NULL \
                  ORDER BY g.released_at DESC LIMIT 1) AS report_no",
            )
            .replace("{tail}", "ORDER BY sp.code, sm.sampled_on DESC, sm.sample_code DESC"),
        &binds,
    )?;
    Ok(counts
        .into_iter()
        .map(|r| NonCompliant {
            samples: failed
                .iter()
                .filter(|s| s.supplier_code == r.code)
                .cloned()
                .collect(),
            code: r.code,
            name: r.name,
            kind: r.kind,
            town: r.town,
            final_fails: r.final_fails,
        })
        .collect())
}

/// Whether `cell` is a plain number (`-0.5`, `+3`, `1e-3`): such a cell is left as it is,
/// since a spreadsheet reads it as a number, never as a formula.
fn is_plain_number(cell: &str) -> bool {
    let b = cell.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let mut digits = i - int_start;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        digits += i - frac_start;
    }
    if digits == 0 {
        return false;
    }
    if i < b.len() && matches!(b[i], b'e' | b'E') {
        i += 1;
        if i < b.len() && matches!(b[i], b'+' | b'-') {
            i += 1;
        }
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return false;
        }
    }
    i == b.len()
}

/// Neutralises a CSV cell against formula injection (OWASP "CSV injection"): text starting
/// with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading single quote, so a
/// spreadsheet shows it as text instead of evaluating it. Plain numbers (`-0.5`) are kept.
/// Every CSV export goes through [`to_csv`], which applies this to every cell.
pub fn csv_safe_cell(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') if !is_plain_number(cell) => {
            std::borrow::Cow::Owned(format!("'{cell}"))
        }
        _ => std::borrow::Cow::Borrowed(cell),
    }
}

/// Writes `rows` as CSV (header from the field names, UTF-8), every cell neutralised by
/// [`csv_safe_cell`]. With no rows the answer is the header line alone, so an empty report
/// still names its columns.
///
/// # Errors
/// [`AppError::Internal`] when a row cannot be written (nested values are not written by
/// callers).
pub fn to_csv<T: Serialize + Default>(rows: &[T]) -> Result<String, AppError> {
    let err = |e: csv::Error| AppError::Internal(format!("csv: {e}"));
    // Serialise with serde (header from the field names), then neutralise cell by cell.
    let mut raw = csv::Writer::from_writer(Vec::new());
    for r in rows {
        raw.serialize(r).map_err(err)?;
    }
    let header_only = rows.is_empty();
    if header_only {
        // serde gives the field names only with a value: a default row, whose line is dropped.
        raw.serialize(T::default()).map_err(err)?;
    }
    let raw = raw
        .into_inner()
        .map_err(|e| AppError::Internal(format!("csv: {e}")))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(raw.as_slice());
    let mut w = csv::Writer::from_writer(Vec::new());
    for record in reader
        .records()
        .take(if header_only { 1 } else { usize::MAX })
    {
        let record = record.map_err(err)?;
        w.write_record(record.iter().map(|c| csv_safe_cell(c).into_owned()))
            .map_err(err)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| AppError::Internal(format!("csv: {e}")))?;
    String::from_utf8(bytes).map_err(|e| AppError::Internal(format!("csv: {e}")))
}

#[cfg(test)]
mod csv_tests {
    use super::*;

    #[derive(Serialize, Default)]
    struct Line {
        name: String,
        town: String,
        code: String,
        #[serde(with = "rust_decimal::serde::str")]
        value: Decimal,
        delta: f64,
        count: i64,
    }

    #[test]
    fn no_rows_give_the_header_line_alone() {
        let csv = to_csv::<Line>(&[]).unwrap();
        assert_eq!(csv, "name,town,code,value,delta,count\n");
    }

    #[test]
    fn formula_cells_are_neutralised_numbers_are_not() {
        let rows = [Line {
            name: "=HYPERLINK(\"http://evil\",\"x\")".into(),
            town: "@SUM(1)".into(),
            code: "-2+3".into(),
            value: Decimal::from_str_exact("-0.5").unwrap(),
            delta: -1.25,
            count: -3,
        }];
        let csv = to_csv(&rows).unwrap();
        let mut r = csv::Reader::from_reader(csv.as_bytes());
        let rec = r.records().next().unwrap().unwrap();
        let cells: Vec<&str> = rec.iter().collect();
        assert_eq!(
            cells,
            [
                "'=HYPERLINK(\"http://evil\",\"x\")",
                "'@SUM(1)",
                "'-2+3",
                "-0.5",
                "-1.25",
                "-3"
            ],
            "{csv}"
        );
        for (c, want) in [
            ("+1", "+1"),
            ("1e-3", "1e-3"),
            ("-", "'-"),
            ("+", "'+"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("-.5", "-.5"),
            ("-1e", "'-1e"),
            ("煤", "煤"),
            ("", ""),
            ("a=b", "a=b"),
        ] {
            assert_eq!(csv_safe_cell(c), want, "{c:?}");
        }
    }
}
