//! `coallab demo generate`: the command-line side of [`crate::service::generate`] (prints one
//! JSON summary on stdout; progress on stderr).

use std::process::ExitCode;

use clap::Args;

use crate::config::StorageSettings;
use crate::error::AppError;
use crate::service::generate::{generate, GenerateOptions, Writer};

/// `coallab demo generate --samples N --suppliers M [--seed S] [--workflow]`.
#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// Number of samples.
    #[arg(long)]
    pub samples: usize,
    /// Number of suppliers (production enterprises and sale points).
    #[arg(long)]
    pub suppliers: usize,
    /// Random seed; the same seed gives the same data.
    #[arg(long, default_value_t = 20251115)]
    pub seed: u64,
    /// Drive every step through the real service calls instead of the bulk writer (slow; the
    /// reference the bulk writer is checked against).
    #[arg(long)]
    pub workflow: bool,
}

/// Runs the command.
///
/// # Errors
/// [`AppError::Config`] for a non-empty database or zero counts; write errors.
pub fn run(settings: &StorageSettings, args: &GenerateArgs) -> Result<ExitCode, AppError> {
    let db = settings.open(2)?;
    let progress = crate::ops::progress::for_stderr("generate", "samples");
    let summary = generate(
        &db,
        &GenerateOptions {
            samples: args.samples,
            suppliers: args.suppliers,
            seed: args.seed,
            writer: if args.workflow {
                Writer::Workflow
            } else {
                Writer::Bulk
            },
        },
        progress.as_ref(),
        chrono::Utc::now(),
    )?;
    println!(
        "{}",
        serde_json::to_string(&summary).map_err(|e| AppError::Internal(e.to_string()))?
    );
    Ok(ExitCode::SUCCESS)
}
