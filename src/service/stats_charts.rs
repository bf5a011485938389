//! Charts of released final results: loads the series (service::stats) and draws them
//! (crate::charts). Used by the API and the CLI.

use crate::charts::comparison::comparison_chart;
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

/// Every supplier compared on `parameter` over `period`.
///
/// # Errors
/// Database errors; a drawing failure as [`AppError::Internal`].
pub fn comparison_chart_bytes(
    tx: &mut Tx<'_>,
    parameter: ResultParameter,
    period: Period,
    format: ChartFormat,
) -> Result<Vec<u8>, AppError> {
    let series = load_series(tx, None, &[parameter], period)?;
    let stats: Vec<SeriesStats> = series.iter().map(Series::stats).collect();
    let entries: Vec<(&Series, &SeriesStats)> = series.iter().zip(&stats).collect();
    let title = format!(
        "{} {} — suppliers compared 供应商比较{}",
        parameter.symbol(),
        crate::charts::chinese_name(parameter),
        period_text(period)
    );
    comparison_chart(&title, parameter, &entries, format).map_err(chart_error)
}
