//! The operations commands of the CLI: `backup`, `restore`, `retention set|show`.

use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;

use crate::config::StorageSettings;
use crate::db::schema::retention_policies;
use crate::error::AppError;
use crate::service::{backup, retention};
use crate::with_tx;

/// `coallab retention …`.
#[derive(Subcommand, Debug)]
pub enum RetentionCommand {
    /// Set how many calendar days a retained sample is kept after its last release.
    Set {
        /// Calendar days (0–3650).
        days: u32,
        /// Jurisdiction code; without it the period applies everywhere no jurisdiction sets one.
        #[arg(long)]
        jurisdiction: Option<String>,
        /// Where the period comes from (rule, notice, lab procedure).
        #[arg(long)]
        source: String,
    },
    /// Show the configured periods (the default is 90 days).
    Show,
}

fn print_json(v: &impl serde::Serialize) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

/// `coallab backup FILE`.
///
/// # Errors
/// See [`backup::backup`].
pub fn backup(settings: &StorageSettings, file: &Path) -> Result<ExitCode, AppError> {
    print_json(&backup::backup(settings, file)?);
    Ok(ExitCode::SUCCESS)
}

/// `coallab restore FILE [--force]`.
///
/// # Errors
/// See [`backup::restore`].
pub fn restore(settings: &StorageSettings, file: &Path, force: bool) -> Result<ExitCode, AppError> {
    print_json(&backup::restore(settings, file, force)?);
    Ok(ExitCode::SUCCESS)
}

/// `coallab retention …`.
///
/// # Errors
/// Database errors; 422-style messages for bad values.
pub fn retention(
    settings: &StorageSettings,
    command: RetentionCommand,
) -> Result<ExitCode, AppError> {
    let db = settings.open(1)?;
    match command {
        RetentionCommand::Set {
            days,
            jurisdiction,
            source,
        } => {
            let scope = jurisdiction.unwrap_or_else(|| retention::GLOBAL_SCOPE.to_string());
            db.transaction(|tx| {
                retention::set_policy(tx, "cli", &scope, days, &source, chrono::Utc::now())
            })?;
            println!("retention of retained samples for {scope}: {days} calendar days after the last release");
        }
        RetentionCommand::Show => {
            let rows: Vec<(String, i32, String)> = db.read(|tx| {
                Ok(with_tx!(tx, |c| retention_policies::table
                    .order(retention_policies::scope.asc())
                    .select((
                        retention_policies::scope,
                        retention_policies::keep_calendar_days,
                        retention_policies::source
                    ))
                    .load(c))?)
            })?;
            println!("default: {} calendar days", retention::DEFAULT_KEEP_DAYS);
            for (scope, days, source) in rows {
                println!("{scope}: {days} calendar days ({source})");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
