//! `coallab report …`: the turnaround-time report and the overdue list on the command line,
//! printed as JSON or CSV (the same computation as `GET /api/v1/reports/tat`).

use std::process::ExitCode;

use crate::config::StorageSettings;
use crate::error::AppError;
use crate::service::reports_params::{overdue_csv, run_overdue, run_tat, tat_csv, TatParams};

/// Report subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum ReportCommand {
    /// Turnaround-time report: count, median, p90, max and mean working days per stage and group,
    /// on-time rate, and the open stages past due at --as-of.
    Tat(ReportArgs),
    /// The open stages past due at --as-of.
    Overdue(ReportArgs),
}

/// Arguments of a report.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// Period start: YYYY-MM-DD (local midnight, lab time zone) or RFC 3339.
    #[arg(long)]
    pub from: String,
    /// Period end: YYYY-MM-DD (inclusive) or RFC 3339 (exclusive).
    #[arg(long)]
    pub to: String,
    /// stage, period-week, period-month, supplier, technician or lab.
    #[arg(long, default_value = "stage")]
    pub group_by: String,
    /// json or csv.
    #[arg(long, default_value = "json")]
    pub format: String,
    /// The instant the report describes, RFC 3339 (default now); the same --as-of gives the
    /// same figures later.
    #[arg(long)]
    pub as_of: Option<String>,
    /// Only initial_test or retest.
    #[arg(long)]
    pub stage: Option<String>,
}

/// Runs a report command and prints it to stdout.
///
/// # Errors
/// [`AppError`] for bad arguments or database problems (printed by the caller).
pub fn run(settings: &StorageSettings, command: ReportCommand) -> Result<ExitCode, AppError> {
    let (overdue, a) = match command {
        ReportCommand::Tat(a) => (false, a),
        ReportCommand::Overdue(a) => (true, a),
    };
    let csv = match a.format.as_str() {
        "csv" => true,
        "json" => false,
        other => {
            return Err(AppError::Config(format!(
                "--format {other}: use json or csv"
            )))
        }
    };
    let params = TatParams {
        from: Some(a.from),
        to: Some(a.to),
        group_by: Some(a.group_by),
        as_of: a.as_of,
        stage: a.stage,
        format: None,
    };
    let db = settings.open(2)?;
    let now = chrono::Utc::now();
    // One long query: a spinner on a terminal, a line every 2 s otherwise (issue 8).
    let spinner = crate::ops::progress::Spinner::start(if overdue {
        "report overdue"
    } else {
        "report tat"
    });
    let text = if overdue {
        let rows = run_overdue(&db, &params, now)?;
        if csv {
            overdue_csv(&rows)?
        } else {
            serde_json::to_string_pretty(&serde_json::json!({ "items": rows }))
                .map_err(|e| AppError::Internal(e.to_string()))?
        }
    } else {
        let report = run_tat(&db, &params, now)?;
        if csv {
            tat_csv(&report)?
        } else {
            serde_json::to_string_pretty(&report).map_err(|e| AppError::Internal(e.to_string()))?
        }
    };
    drop(spinner);
    print!("{text}");
    if !text.ends_with('\n') {
        println!();
    }
    Ok(ExitCode::SUCCESS)
}
