//! `coallab demo generate`: realistic data at scale in an empty database: the reference data,
//! the demo lab with its demo people and tokens, M generated suppliers in the towns of the demo
//! county, and N samples from 2025-01-01 to 2026-11-29 with the demo county's distributions
//! (plan in [`crate::service::generate_plan`]). Supplier 1 (`GEN-SP-00001`) gets a fixed share
//! of `min(10 500, ⌈N/2⌉)` samples so that it has over 10 000 released results at N ≥ 20 000.
//!
//! Two writers give the same rows: [`Writer::Bulk`] computes every row in Rust with the domain
//! rules and writes them with multi-row inserts in large transactions (the default, for
//! millions of samples); [`Writer::Workflow`] drives each step through the real service calls
//! (slow; the reference that tests compare the bulk writer with).

use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::db::schema::samples;
use crate::db::Db;
use crate::error::AppError;
use crate::ops::progress::Progress;
use crate::service::demo;
use crate::service::generate_plan::{self, PlanOptions, SupplierPlan, JURISDICTION};
use crate::service::generate_replay::{replay_sample, Actors};
use crate::with_tx;

/// How the rows are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer {
    /// Rows computed in Rust, multi-row inserts in large transactions (fast).
    Bulk,
    /// One real service call per workflow step (slow; the reference).
    Workflow,
}

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct GenerateOptions {
    /// Number of samples (N).
    pub samples: usize,
    /// Number of suppliers (M ≥ 1).
    pub suppliers: usize,
    /// Random seed (the same seed gives the same data).
    pub seed: u64,
    /// The writer.
    pub writer: Writer,
}

/// What was generated (printed as JSON by the command).
#[derive(Debug, Clone, Serialize)]
pub struct GenerateSummary {
    /// Samples written.
    pub samples: usize,
    /// Suppliers written.
    pub suppliers: usize,
    /// Code of the supplier with the fixed large share.
    pub big_supplier: String,
    /// Its samples with a released final result (one St,d result each).
    pub big_supplier_results: i64,
    /// Samples still in registered, received or a testing state.
    pub in_progress: i64,
    /// First sampling date (lab time, YYYY-MM-DD).
    pub first_sampled: String,
    /// Last sampling date.
    pub last_sampled: String,
    /// Wall-clock seconds of the whole command.
    pub seconds: f64,
    /// Samples per second.
    pub samples_per_second: f64,
}

/// Samples per transaction of the workflow writer.
const WORKFLOW_CHUNK: usize = 200;

/// The suppliers as an import file (docs/formats.md, suppliers).
fn suppliers_csv(sup: &[SupplierPlan]) -> String {
    let mut s = String::from("code,name,kind,town,licence_no,jurisdiction_code\n");
    for p in sup {
        s.push_str(&format!(
            "{},{},{},{},{},{JURISDICTION}\n",
            p.code, p.name, p.kind, p.town, p.licence_no
        ));
    }
    s
}

/// Generates the data set into an empty database.
///
/// # Errors
/// [`AppError::Config`] when the database already has a lab (not empty) or N, M are 0;
/// [`AppError`] from the writes (the samples written so far stay; start again on an empty
/// database).
pub fn generate(
    db: &Db,
    opts: &GenerateOptions,
    progress: &dyn Progress,
    now: DateTime<Utc>,
) -> Result<GenerateSummary, AppError> {
    let started = Instant::now();
    if opts.samples == 0 || opts.suppliers == 0 {
        return Err(AppError::Config(
            "--samples and --suppliers must be at least 1".into(),
        ));
    }
    if !demo::is_empty(db)? {
        return Err(AppError::Config(
            "the database is not empty; demo generate writes only into an empty database".into(),
        ));
    }
    let sup = generate_plan::suppliers(opts.suppliers);
    let people = demo::seed_demo_lab(db, now, Some(&suppliers_csv(&sup)))?;
    let actors = Actors {
        techs: [people[0].clone(), people[1].clone()],
        reviewer: people[2].clone(),
        regulator: people[3].clone(),
    };
    let plan = PlanOptions {
        samples: opts.samples,
        suppliers: opts.suppliers,
        seed: opts.seed,
    };
    progress.start(opts.samples as u64);
    match opts.writer {
        Writer::Workflow => {
            let mut plans = generate_plan::samples(plan).peekable();
            let mut done = 0u64;
            while plans.peek().is_some() {
                let chunk: Vec<_> = plans.by_ref().take(WORKFLOW_CHUNK).collect();
                db.transaction(|tx| {
                    for p in &chunk {
                        replay_sample(tx, &actors, &sup[p.supplier], p)?;
                    }
                    Ok(())
                })?;
                done += chunk.len() as u64;
                progress.set(done);
            }
        }
        Writer::Bulk => {
            crate::service::generate_bulk::write(db, &actors, &sup, plan, progress)?;
        }
    }
    progress.finish();
    crate::service::reports_clock::ensure_clocks(db, now.timestamp_millis())?;
    summary(db, opts, &sup, started)
}

fn summary(
    db: &Db,
    opts: &GenerateOptions,
    sup: &[SupplierPlan],
    started: Instant,
) -> Result<GenerateSummary, AppError> {
    use crate::db::schema::suppliers;
    let big = sup.first().map(|s| s.code.clone()).unwrap_or_default();
    let (results, in_progress, first, last, count) = db.read(|tx| {
        let big_id: i64 = with_tx!(tx, |c| suppliers::table
            .filter(suppliers::code.eq(&big))
            .select(suppliers::id)
            .first(c))?;
        let results: i64 = with_tx!(tx, |c| samples::table
            .filter(samples::supplier_id.eq(big_id))
            .filter(samples::final_verdict.is_not_null())
            .count()
            .get_result(c))?;
        let in_progress: i64 = with_tx!(tx, |c| samples::table
            .filter(samples::state.eq_any([
                "registered",
                "received",
                "initial_testing",
                "retest_testing"
            ]))
            .count()
            .get_result(c))?;
        let first: Option<String> = with_tx!(tx, |c| samples::table
            .select(diesel::dsl::min(samples::sampled_on))
            .first(c))?;
        let last: Option<String> = with_tx!(tx, |c| samples::table
            .select(diesel::dsl::max(samples::sampled_on))
            .first(c))?;
        let count: i64 = with_tx!(tx, |c| samples::table.count().get_result(c))?;
        Ok((results, in_progress, first, last, count))
    })?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(GenerateSummary {
        samples: usize::try_from(count).unwrap_or(0),
        suppliers: opts.suppliers,
        big_supplier: big,
        big_supplier_results: results,
        in_progress,
        first_sampled: first.unwrap_or_default(),
        last_sampled: last.unwrap_or_default(),
        seconds: (seconds * 100.0).round() / 100.0,
        samples_per_second: (count as f64 / seconds.max(1e-9)).round(),
    })
}
