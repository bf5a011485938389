//! Series of released final results per supplier and parameter, and their statistics
//! (issue 6; docs/statistics.md).
//!
//! The final result of a sample is its retest's when a retest is released, else its initial
//! test's (DESIGN.md "Sample lifecycle"). Only released stages are read; rejected and cancelled
//! samples are left out. The limits shown with a series are the limits on the parameter in the
//! limit sets frozen on each sample at registration; each point's verdict is recomputed on the
//! exact decimal value against those limits (GB/T 8170-2008 §4.3), as the release did.
//! One query per call, whatever the number of suppliers (no N+1).

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::db::schema::{samples, stages, suppliers};
use crate::db::Tx;
use crate::domain::limits::{Limit, LimitSet};
use crate::domain::rounding::compare_with_limit;
use crate::domain::stats::{analyse, LimitLine, Point, SeriesStats};
use crate::domain::terms::{ResultParameter, Stage, Verdict};
use crate::error::AppError;
use crate::time::{from_ms, ms_to_rfc3339, parse_date};
use crate::with_tx;

/// A period of sampling days (both inclusive, the lab's calendar days); open ends allowed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Period {
    /// First sampling day.
    pub from: Option<NaiveDate>,
    /// Last sampling day.
    pub to: Option<NaiveDate>,
}

impl Period {
    /// Parses `from`/`to` as YYYY-MM-DD (empty = open).
    ///
    /// # Errors
    /// [`AppError::BadRequest`] `bad_date` for a malformed date, `bad_period` when `to` is
    /// before `from`.
    pub fn parse(from: Option<&str>, to: Option<&str>) -> Result<Period, AppError> {
        let day = |field: &str, v: Option<&str>| -> Result<Option<NaiveDate>, AppError> {
            match v.map(str::trim).filter(|s| !s.is_empty()) {
                None => Ok(None),
                Some(s) => parse_date(field, s)
                    .map(Some)
                    .map_err(|m| AppError::bad_request("bad_date", m)),
            }
        };
        let period = Period {
            from: day("from", from)?,
            to: day("to", to)?,
        };
        if let (Some(f), Some(t)) = (period.from, period.to) {
            if t < f {
                return Err(AppError::bad_request(
                    "bad_period",
                    format!("to ({t}) is before from ({f})"),
                ));
            }
        }
        Ok(period)
    }
}

/// Parses a result parameter code (`ad`, `std`, …).
///
/// # Errors
/// [`AppError::BadRequest`] `bad_parameter` naming the legal codes.
pub fn parse_parameter(code: &str) -> Result<ResultParameter, AppError> {
    ResultParameter::from_code(code.trim())
        .map_err(|e| AppError::bad_request("bad_parameter", e.to_string()))
}

/// One point of a series as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SeriesPoint {
    /// Sample code.
    pub sample_code: String,
    /// Sampling instant, RFC 3339 UTC.
    pub sampled_at: String,
    /// Full-precision value (exact decimal, as a string).
    #[serde(with = "rust_decimal::serde::str")]
    pub value: Decimal,
    /// Value rounded half to even to the report decimals.
    #[serde(with = "rust_decimal::serde::str")]
    pub reported: Decimal,
    /// Pass/fail on this parameter (every limit on it); null when no limit applied.
    pub verdict: Option<Verdict>,
    /// From a released retest.
    pub retest: bool,
}

/// A supplier in a series.
#[derive(Debug, Clone, Serialize)]
pub struct SupplierRef {
    /// Supplier code.
    pub code: String,
    /// Name.
    pub name: String,
}

/// One supplier's series of one parameter.
#[derive(Debug, Clone, Serialize)]
pub struct Series {
    /// The supplier.
    pub supplier: SupplierRef,
    /// The parameter code.
    pub parameter: ResultParameter,
    /// Printed symbol, e.g. "St,d".
    pub symbol: &'static str,
    /// Unit ("%" or "MJ/kg").
    pub unit: &'static str,
    /// Points in time order.
    pub points: Vec<SeriesPoint>,
    /// Every distinct limit on the parameter that applied to a point of the series.
    pub limits: Vec<LimitLine>,
    /// The limits of the latest sample: those the exceedance probabilities use.
    pub next_limits: Vec<LimitLine>,
    /// The points for the statistics (same order as `points`).
    #[serde(skip)]
    pub domain_points: Vec<Point>,
}

impl Series {
    /// The statistics of this series.
    pub fn stats(&self) -> SeriesStats {
        analyse(&self.domain_points, &self.next_limits)
    }
}

#[derive(Deserialize)]
struct StoredResult {
    parameter: String,
    value: Decimal,
    reported: Decimal,
}

type Row = (i64, String, i64, String, i64, String, Option<String>);

/// The distinct limits (operator and value) on `parameter` in `sets`, with the sets holding each.
fn limits_on(sets: &[LimitSet], parameter: ResultParameter) -> Vec<LimitLine> {
    let mut out: Vec<LimitLine> = Vec::new();
    for set in sets {
        for l in set.limits.iter().filter(|l| l.parameter == parameter) {
            merge_line(
                &mut out,
                &LimitLine {
                    operator: l.operator,
                    value: l.value,
                    limit_set_ids: vec![set.id.clone()],
                },
            );
        }
    }
    out
}

/// Pass when `value` meets every limit on `parameter` in `sets`, each with its own operator,
/// decimals and comparison method; `None` when no limit is on the parameter.
fn verdict_on(sets: &[LimitSet], parameter: ResultParameter, value: Decimal) -> Option<Verdict> {
    let limits: Vec<&Limit> = sets
        .iter()
        .flat_map(|s| s.limits.iter().filter(|l| l.parameter == parameter))
        .collect();
    if limits.is_empty() {
        return None;
    }
    let pass = limits
        .iter()
        .all(|l| compare_with_limit(value, l.operator, l.value, l.decimals, l.method).passes);
    Some(if pass { Verdict::Pass } else { Verdict::Fail })
}

fn merge_line(into: &mut Vec<LimitLine>, line: &LimitLine) {
    match into
        .iter_mut()
        .find(|x| x.operator == line.operator && x.value == line.value)
    {
        Some(x) => {
            for id in &line.limit_set_ids {
                if !x.limit_set_ids.contains(id) {
                    x.limit_set_ids.push(id.clone());
                }
            }
        }
        None => into.push(line.clone()),
    }
}

/// Loads the series of `parameters` for one supplier (`supplier_code`) or for every supplier
/// (`None`), sampled within `period`. Suppliers without a point are included (empty series)
/// so that a ranking can list them as "insufficient data".
///
/// # Errors
/// [`AppError::NotFound`] for an unknown supplier code; [`AppError::Internal`] for an
/// unreadable stored result or limit-set snapshot; database errors.
pub fn load_series(
    tx: &mut Tx<'_>,
    supplier_code: Option<&str>,
    parameters: &[ResultParameter],
    period: Period,
) -> Result<Vec<Series>, AppError> {
    let supplier_rows: Vec<(i64, String, String)> = with_tx!(tx, |c| {
        let mut q = suppliers::table
            .select((suppliers::id, suppliers::code, suppliers::name))
            .order(suppliers::code.asc())
            .into_boxed();
        if let Some(code) = supplier_code {
            q = q.filter(suppliers::code.eq(code));
        }
        q.load(c)
    })?;
    if let Some(code) = supplier_code {
        if supplier_rows.is_empty() {
            return Err(AppError::NotFound(format!("no supplier '{code}'")));
        }
    }
    let from = period.from.map(|d| d.to_string());
    let to = period.to.map(|d| d.to_string());
    let one_id = supplier_code.and_then(|_| supplier_rows.first().map(|s| s.0));
    let rows: Vec<Row> = with_tx!(tx, |c| {
        let mut q = samples::table
            .inner_join(stages::table)
            .filter(stages::released_at.is_not_null())
            .filter(samples::state.ne_all(["rejected", "cancelled"]))
            .select((
                samples::id,
                samples::sample_code,
                samples::sampled_at,
                samples::limit_sets_frozen,
                samples::supplier_id,
                stages::stage,
                stages::results,
            ))
            .order((
                samples::sampled_at.asc(),
                samples::id.asc(),
                stages::id.asc(),
            ))
            .into_boxed();
        if let Some(id) = one_id {
            q = q.filter(samples::supplier_id.eq(id));
        }
        if let Some(f) = &from {
            q = q.filter(samples::sampled_on.ge(f.clone()));
        }
        if let Some(t) = &to {
            q = q.filter(samples::sampled_on.le(t.clone()));
        }
        q.load(c)
    })?;
    build_series(&supplier_rows, parameters, &rows)
}

fn build_series(
    supplier_rows: &[(i64, String, String)],
    parameters: &[ResultParameter],
    rows: &[Row],
) -> Result<Vec<Series>, AppError> {
    let mut index: HashMap<(i64, ResultParameter), usize> = HashMap::new();
    let mut out = Vec::with_capacity(supplier_rows.len() * parameters.len());
    for (id, code, name) in supplier_rows {
        for p in parameters {
            index.insert((*id, *p), out.len());
            out.push(Series {
                supplier: SupplierRef {
                    code: code.clone(),
                    name: name.clone(),
                },
                parameter: *p,
                symbol: p.symbol(),
                unit: p.unit(),
                points: Vec::new(),
                limits: Vec::new(),
                next_limits: Vec::new(),
                domain_points: Vec::new(),
            });
        }
    }
    // Many samples share one snapshot of limit sets: parse each distinct snapshot once.
    let mut snapshots: HashMap<&str, Vec<LimitSet>> = HashMap::new();
    let mut i = 0;
    while i < rows.len() {
        // Rows of one sample are adjacent (ordered by sample, then stage row id).
        let mut j = i + 1;
        while j < rows.len() && rows[j].0 == rows[i].0 {
            j += 1;
        }
        let group = &rows[i..j];
        i = j;
        let row = group
            .iter()
            .find(|r| r.5 == Stage::Retest.as_code())
            .unwrap_or(&group[0]);
        let (_, sample_code, sampled_at, frozen, supplier_id, stage, results) = row;
        let Some(results) = results else { continue };
        let results: Vec<StoredResult> = serde_json::from_str(results)
            .map_err(|e| AppError::Internal(format!("stored results of {sample_code}: {e}")))?;
        if !snapshots.contains_key(frozen.as_str()) {
            let sets: Vec<LimitSet> = serde_json::from_str(frozen).map_err(|e| {
                AppError::Internal(format!("frozen limit sets of {sample_code}: {e}"))
            })?;
            snapshots.insert(frozen.as_str(), sets);
        }
        let sets = &snapshots[frozen.as_str()];
        for r in &results {
            let Ok(parameter) = ResultParameter::from_code(&r.parameter) else {
                continue;
            };
            let Some(&k) = index.get(&(*supplier_id, parameter)) else {
                continue;
            };
            let applied = limits_on(sets, parameter);
            let verdict = verdict_on(sets, parameter, r.value);
            let retest = stage == Stage::Retest.as_code();
            let series = &mut out[k];
            for line in &applied {
                merge_line(&mut series.limits, line);
            }
            series.next_limits = applied;
            series.points.push(SeriesPoint {
                sample_code: sample_code.clone(),
                sampled_at: ms_to_rfc3339(*sampled_at),
                value: r.value,
                reported: r.reported,
                verdict,
                retest,
            });
            series.domain_points.push(Point {
                at: from_ms(*sampled_at),
                value: r.value,
                verdict,
                retest,
            });
        }
    }
    Ok(out)
}

/// The statistics of one supplier and parameter, as the API answers them.
#[derive(Debug, Clone, Serialize)]
pub struct SupplierStats {
    /// The period asked for.
    pub period: Period,
    /// The series (points and limits).
    #[serde(flatten)]
    pub series: Series,
    /// The statistics.
    pub stats: SeriesStats,
}

/// Loads one supplier's series of `parameter` in `period` and computes its statistics.
///
/// # Errors
/// As [`load_series`].
pub fn supplier_stats(
    tx: &mut Tx<'_>,
    supplier_code: &str,
    parameter: ResultParameter,
    period: Period,
) -> Result<SupplierStats, AppError> {
    let series = load_series(tx, Some(supplier_code), &[parameter], period)?
        .into_iter()
        .next()
        .ok_or_else(|| AppError::NotFound(format!("no supplier '{supplier_code}'")))?;
    Ok(SupplierStats {
        period,
        stats: series.stats(),
        series,
    })
}

/// Groups series by supplier code, keeping order (for charts with several parameters).
pub fn by_supplier(series: Vec<Series>) -> BTreeMap<String, Vec<Series>> {
    let mut out: BTreeMap<String, Vec<Series>> = BTreeMap::new();
    for s in series {
        out.entry(s.supplier.code.clone()).or_default().push(s);
    }
    out
}
