//! `coallab stats` and `coallab chart`: the statistics and charts of issue 6 from the command
//! line (same data and code as the API).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::charts::ChartFormat;
use crate::config::StorageSettings;
use crate::error::AppError;
use crate::service::stats::{parse_parameter, supplier_stats, Period};
use crate::service::stats_charts::{parse_parameters, supplier_chart_bytes};

/// `coallab stats SUPPLIER [--parameter ad] [--from DAY] [--to DAY]`.
#[derive(Args, Debug)]
pub struct StatsArgs {
    /// Supplier code, e.g. SP-04.
    pub supplier: String,
    /// Result parameter code: ad, std, vdaf, qnet_ar, fc_ad, aad, st_ad, mad, mt.
    #[arg(long, default_value = "ad")]
    pub parameter: String,
    /// First sampling day, YYYY-MM-DD.
    #[arg(long)]
    pub from: Option<String>,
    /// Last sampling day, YYYY-MM-DD.
    #[arg(long)]
    pub to: Option<String>,
}

/// `coallab chart SUPPLIER --out FILE.svg|png [--parameters ad,std] [--from DAY] [--to DAY]`.
#[derive(Args, Debug)]
pub struct ChartArgs {
    /// Supplier code, e.g. SP-04.
    pub supplier: String,
    /// Output file; its extension (.svg or .png) chooses the format.
    #[arg(long)]
    pub out: PathBuf,
    /// Comma-separated parameter codes, one panel each.
    #[arg(long, default_value = "ad,std")]
    pub parameters: String,
    /// First sampling day, YYYY-MM-DD.
    #[arg(long)]
    pub from: Option<String>,
    /// Last sampling day, YYYY-MM-DD.
    #[arg(long)]
    pub to: Option<String>,
}

fn cli_error(e: AppError) -> AppError {
    match e {
        AppError::BadRequest { message, .. } | AppError::Invalid { message, .. } => {
            AppError::Config(message)
        }
        other => other,
    }
}

/// Prints the statistics of one supplier and parameter as JSON.
///
/// # Errors
/// [`AppError::Config`] for bad arguments; [`AppError::NotFound`] for an unknown supplier.
pub fn stats(settings: &StorageSettings, args: StatsArgs) -> Result<ExitCode, AppError> {
    let parameter = parse_parameter(&args.parameter).map_err(cli_error)?;
    let period = Period::parse(args.from.as_deref(), args.to.as_deref()).map_err(cli_error)?;
    let db = settings.open(1)?;
    let out = db.read(|tx| supplier_stats(tx, &args.supplier, parameter, period))?;
    println!(
        "{}",
        serde_json::to_string_pretty(&out).map_err(|e| AppError::Internal(e.to_string()))?
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes one supplier's chart to `--out` (SVG or PNG by extension).
///
/// # Errors
/// [`AppError::Config`] for bad arguments or an unwritable file; [`AppError::NotFound`] for an
/// unknown supplier.
pub fn chart(settings: &StorageSettings, args: ChartArgs) -> Result<ExitCode, AppError> {
    let path = args.out.to_string_lossy().to_string();
    let format = ChartFormat::from_path(&path).ok_or_else(|| {
        AppError::Config(format!(
            "--out {path}: the file name must end in .svg or .png"
        ))
    })?;
    let parameters = parse_parameters(Some(&args.parameters)).map_err(cli_error)?;
    let period = Period::parse(args.from.as_deref(), args.to.as_deref()).map_err(cli_error)?;
    let db = settings.open(1)?;
    let bytes =
        db.read(|tx| supplier_chart_bytes(tx, &args.supplier, &parameters, period, format))?;
    std::fs::write(&args.out, &bytes)
        .map_err(|e| AppError::Config(format!("cannot write {path}: {e}")))?;
    println!("{path}: {} bytes", bytes.len());
    Ok(ExitCode::SUCCESS)
}
