//! Charts of released final results: loads the series (service::stats) and draws them
//! (crate::charts). Used by the API and the CLI.

use crate::charts::comparison::{comparison_chart, MAX_SUPPLIERS};
use crate::charts::supplier::supplier_chart;
use crate::charts::ChartFormat;
use crate::db::Tx;
use crate::domain::stats::SeriesStats;
use crate::domain::terms::ResultParameter;
use crate::error::AppError;
use crate::service::stats::{load_series, parse_parameter, Period, Series};

/// The parameters a supplier chart shows when none are asked for: Ad and St,d.
pub const DEFAULT_PARAMETERS: [ResultParameter; 2] = [ResultParameter::Ad, ResultParameter::Std];

/// Parses a comma-separated list of parameter codes (`ad,std`); empty → Ad and St,d.
///
/// # Errors
/// [`AppError::BadRequest`] `bad_parameter` for an unknown code or more than 4 parameters.
pub fn parse_parameters(list: Option<&str>) -> Result<Vec<ResultParameter>, AppError> {
    let list = list.map(str::trim).filter(|s| !s.is_empty());
    let Some(list) = list else {
        return Ok(DEFAULT_PARAMETERS.to_vec());
    };
    let mut out = Vec::new();
    for code in list.split(',') {
        let p = parse_parameter(code)?;
        if !out.contains(&p) {
            out.push(p);
        }
    }
    if out.len() > 4 {
        return Err(AppError::bad_request(
            "bad_parameter",
            "a chart shows at most 4 parameters",
        ));
    }
    Ok(out)
}

fn period_text(period: Period) -> String {
    match (period.from, period.to) {
        (None, None) => String::new(),
        (f, t) => format!(
            " ({} – {})",
            f.map_or("…".into(), |d| d.to_string()),
            t.map_or("…".into(), |d| d.to_string())
        ),
    }
}

fn chart_error(e: crate::charts::ChartError) -> AppError {
    AppError::Internal(e.to_string())
}

/// One supplier's chart of `parameters` over `period`.
///
/// # Errors
/// [`AppError::NotFound`] for an unknown supplier; database errors; a drawing failure as
/// [`AppError::Internal`].
pub fn supplier_chart_bytes(
    tx: &mut Tx<'_>,
    supplier_code: &str,
    parameters: &[ResultParameter],
    period: Period,
    format: ChartFormat,
) -> Result<Vec<u8>, AppError> {
    let series = load_series(tx, Some(supplier_code), parameters, period)?;
    let stats: Vec<SeriesStats> = series.iter().map(Series::stats).collect();
    let panels: Vec<(&Series, &SeriesStats)> = series.iter().zip(&stats).collect();
    let name = series
        .first()
        .map(|s| s.supplier.name.clone())
        .unwrap_or_default();
    let title = format!(
        "{supplier_code} {name} — quality over time 质量趋势{}",
        period_text(period)
    );
    supplier_chart(&title, &panels, format).map_err(chart_error)
}

/// The suppliers a comparison shows: all of them up to [`MAX_SUPPLIERS`]; beyond that the
/// [`MAX_SUPPLIERS`] with the most results over the period (ties by supplier code), in supplier
/// code order. Returns the chosen series and how many suppliers there were.
pub fn pick_for_comparison(mut series: Vec<Series>) -> (Vec<Series>, usize) {
    let total = series.len();
    if total > MAX_SUPPLIERS {
        series.sort_by(|a, b| {
            b.points
                .len()
                .cmp(&a.points.len())
                .then_with(|| a.supplier.code.cmp(&b.supplier.code))
        });
        series.truncate(MAX_SUPPLIERS);
        series.sort_by(|a, b| a.supplier.code.cmp(&b.supplier.code));
    }
    (series, total)
}

/// Suppliers compared on `parameter` over `period`: every supplier, or when there are more
/// than [`MAX_SUPPLIERS`] the [`MAX_SUPPLIERS`] with the most results (the title says so),
/// so the image stays a bounded size however many suppliers are registered.
///
/// # Errors
/// Database errors; a drawing failure as [`AppError::Internal`].
pub fn comparison_chart_bytes(
    tx: &mut Tx<'_>,
    parameter: ResultParameter,
    period: Period,
    format: ChartFormat,
) -> Result<Vec<u8>, AppError> {
    let (series, total) = pick_for_comparison(load_series(tx, None, &[parameter], period)?);
    let stats: Vec<SeriesStats> = series.iter().map(Series::stats).collect();
    let entries: Vec<(&Series, &SeriesStats)> = series.iter().zip(&stats).collect();
    let top = if total > series.len() {
        format!(
            " — top {} of {total} suppliers by number of results 结果数最多的前 {} 家",
            series.len(),
            series.len()
        )
    } else {
        String::new()
    };
    let title = format!(
        "{} {} — suppliers compared 供应商比较{}{top}",
        parameter.symbol(),
        crate::charts::chinese_name(parameter),
        period_text(period)
    );
    comparison_chart(&title, parameter, &entries, format).map_err(chart_error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::stats::{SeriesPoint, SupplierRef};

    fn series(code: &str, n: usize) -> Series {
        let p = ResultParameter::Ad;
        Series {
            supplier: SupplierRef {
                code: code.into(),
                name: code.into(),
            },
            parameter: p,
            symbol: p.symbol(),
            unit: p.unit(),
            points: (0..n)
                .map(|i| SeriesPoint {
                    sample_code: format!("{code}-{i}"),
                    sampled_at: "2026-01-01T00:00:00Z".into(),
                    value: 10.into(),
                    reported: 10.into(),
                    verdict: None,
                    retest: false,
                })
                .collect(),
            limits: Vec::new(),
            next_limits: Vec::new(),
            domain_points: Vec::new(),
        }
    }

    #[test]
    fn comparison_keeps_at_most_40_suppliers_with_the_most_results() {
        // 3 023 suppliers (the user test): S0000 … S3022, supplier i has i % 50 results.
        let all: Vec<Series> = (0..3023)
            .map(|i| series(&format!("S{i:04}"), i % 50))
            .collect();
        let (picked, total) = pick_for_comparison(all);
        assert_eq!((picked.len(), total), (MAX_SUPPLIERS, 3023));
        // 61 suppliers have 49 results (i % 50 == 49): the 40 lowest codes of them, in order.
        let codes: Vec<&str> = picked.iter().map(|s| s.supplier.code.as_str()).collect();
        let want: Vec<String> = (0..40).map(|k| format!("S{:04}", 49 + 50 * k)).collect();
        assert_eq!(codes, want);
        assert!(picked.iter().all(|s| s.points.len() == 49));
        // Few suppliers: all kept, in their order, even without results.
        let few = vec![series("A", 0), series("B", 3)];
        let (picked, total) = pick_for_comparison(few);
        assert_eq!((picked.len(), total), (2, 2));
        assert_eq!(picked[0].supplier.code, "A");
    }
}
