//! The bulk writer of `demo generate`: each sample's plan is worked through the same steps as
//! [`crate::service::generate_replay`] does with the real services, but in memory
//! ([`crate::service::bulk_rows`], same domain rules and audit events), and the rows are written
//! with multi-row INSERTs, [`CHUNK`] samples per transaction.
//!
//! Settings for this command only: SQLite runs with `synchronous=OFF` and a 1 GiB page cache on
//! its connection (a crash of the machine mid-way can corrupt the file: generate again, which a
//! generated database always allows); PostgreSQL with `synchronous_commit=off` for the session
//! (a crash loses at most the last commits, never consistency).

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use diesel::connection::SimpleConnection;
use diesel::Connection;

use crate::db::schema::suppliers;
use crate::db::{Db, Tx};
use crate::domain::repeatability::PrecisionOutcome;
use crate::error::AppError;
use crate::ops::progress::Progress;
use crate::service::bulk_rows::{BulkWriter, FrozenCache, LabFacts, SampleSim, SupplierFacts};
use crate::service::generate_plan::{
    self, cutoff, PlanOptions, SamplePlan, StageValues, SupplierPlan,
};
use crate::service::generate_replay::{Actors, APPEAL_REASON, CLOSE_REASON, RETAINED_CONDITION};
use crate::with_tx;

/// Samples per transaction.
pub const CHUNK: usize = 5_000;

/// Writes the samples of `plan` (the lab, people and suppliers exist already).
///
/// # Errors
/// [`AppError`] from the rules (a plan they refuse is a bug) or the database.
pub fn write(
    db: &Db,
    actors: &Actors,
    sup: &[SupplierPlan],
    plan: PlanOptions,
    progress: &dyn Progress,
) -> Result<(), AppError> {
    match db {
        Db::Sqlite(p) => {
            let mut c = p
                .get()
                .map_err(|e| AppError::Unavailable(format!("no database connection: {e}")))?;
            c.batch_execute("PRAGMA synchronous=OFF; PRAGMA cache_size=-1048576;")?;
            let out = run(&mut Tx::Sqlite(&mut c), actors, sup, plan, progress);
            c.batch_execute("PRAGMA synchronous=NORMAL; PRAGMA cache_size=-2000;")?;
            out
        }
        Db::Pg(p) => {
            let mut c = p
                .get()
                .map_err(|e| AppError::Unavailable(format!("no database connection: {e}")))?;
            c.batch_execute("SET synchronous_commit = off")?;
            let out = run(&mut Tx::Pg(&mut c), actors, sup, plan, progress);
            c.batch_execute("RESET synchronous_commit")?;
            out
        }
    }
}

/// Runs `f` in a write transaction on this connection.
pub(crate) fn in_transaction<T>(
    tx: &mut Tx<'_>,
    f: impl FnOnce(&mut Tx<'_>) -> Result<T, AppError>,
) -> Result<T, AppError> {
    match tx {
        Tx::Sqlite(c) => c.immediate_transaction(|c| f(&mut Tx::Sqlite(c))),
        Tx::Pg(c) => c.transaction(|c| f(&mut Tx::Pg(c))),
    }
}

struct Ctx {
    lab: LabFacts,
    sups: Vec<SupplierFacts>,
    frozen: FrozenCache,
}

fn load_ctx(tx: &mut Tx<'_>, actors: &Actors, sup: &[SupplierPlan]) -> Result<Ctx, AppError> {
    let lab_id = actors.techs[0]
        .lab_id
        .ok_or_else(|| AppError::Internal("technician without lab".into()))?;
    let rows: Vec<(String, i64, String)> = with_tx!(tx, |c| suppliers::table
        .select((suppliers::code, suppliers::id, suppliers::jurisdiction_code))
        .load(c))?;
    let by_code: HashMap<String, (i64, String)> =
        rows.into_iter().map(|(c, i, j)| (c, (i, j))).collect();
    let mut sups = Vec::with_capacity(sup.len());
    for s in sup {
        let (id, j) = by_code
            .get(&s.code)
            .ok_or_else(|| AppError::Internal(format!("supplier {} missing", s.code)))?;
        sups.push(SupplierFacts::load(tx, *id, j)?);
    }
    Ok(Ctx {
        lab: LabFacts::load(tx, lab_id)?,
        sups,
        frozen: FrozenCache::load(tx)?,
    })
}

fn run(
    tx: &mut Tx<'_>,
    actors: &Actors,
    sup: &[SupplierPlan],
    plan: PlanOptions,
    progress: &dyn Progress,
) -> Result<(), AppError> {
    let mut ctx = load_ctx(tx, actors, sup)?;
    let mut w = in_transaction(tx, BulkWriter::load)?;
    let mut plans = generate_plan::samples(plan).peekable();
    let mut done = 0u64;
    while plans.peek().is_some() {
        let mut count = 0u64;
        for p in plans.by_ref().take(CHUNK) {
            simulate(&mut ctx, &mut w, actors, &sup[p.supplier], &p)?;
            count += 1;
        }
        in_transaction(tx, |tx| w.flush(tx))?;
        done += count;
        progress.set(done);
    }
    Ok(())
}

/// Enters a stage's determinations from `at` until each analysis has an accepted mean; false
/// when cut off first (as `generate_replay`).
fn enter_stage(
    w: &mut BulkWriter,
    sim: &mut SampleSim,
    tech: &crate::service::auth::CurrentUser,
    values: &StageValues,
    at: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<bool, AppError> {
    for (k, a) in values.analyses.iter().enumerate() {
        for (i, v) in a.typed.iter().enumerate() {
            let when = at + Duration::hours(2 * k as i64) + Duration::minutes(20 * i as i64);
            if when >= end {
                return Ok(false);
            }
            if matches!(
                sim.enter(w, tech, a.analysis, v, when)?,
                PrecisionOutcome::Accepted { .. }
            ) {
                break;
            }
        }
    }
    Ok(true)
}

fn simulate(
    ctx: &mut Ctx,
    w: &mut BulkWriter,
    actors: &Actors,
    supplier: &SupplierPlan,
    p: &SamplePlan,
) -> Result<(), AppError> {
    let t = p.timeline();
    let end = cutoff();
    if t.registered >= end {
        return Ok(());
    }
    let tech = &actors.techs[p.tech];
    let other = &actors.techs[1 - p.tech];
    let reviewer = &actors.reviewer;
    let sup = &ctx.sups[p.supplier];
    let input = p.new_sample(supplier);
    let on = ctx.lab.calendar.local_date(input.validate()?);
    let frozen = ctx.frozen.get(sup, on, input.coal_category.trim())?;
    let lab = &ctx.lab;
    let mut sim = SampleSim::register(w, lab, sup, frozen, tech, &input, None, t.registered)?;
    let out = (|| -> Result<(), AppError> {
        if t.received >= end {
            return Ok(());
        }
        sim.receive(w, lab, sup, tech, t.received)?;
        if t.started >= end {
            return Ok(());
        }
        sim.start(w, tech, t.started)?;
        if !enter_stage(w, &mut sim, tech, &p.initial, t.tested, end)? || t.submitted >= end {
            return Ok(());
        }
        sim.submit(w, tech, t.submitted)?;
        if t.released >= end {
            return Ok(());
        }
        if sim.release(w, lab, sup, reviewer, t.released)? != "fail" {
            return Ok(());
        }
        let recorded = t.result_received + Duration::hours(1);
        if recorded >= end {
            return Ok(());
        }
        let window =
            sim.result_received(w, lab, sup, &actors.regulator, t.result_received, recorded)?;
        if p.appeal {
            if t.appealed >= end {
                return Ok(());
            }
            sim.request_retest(
                w,
                lab,
                sup,
                &window,
                &actors.regulator,
                APPEAL_REASON,
                RETAINED_CONDITION,
                t.appealed,
            )?;
            if !enter_stage(w, &mut sim, other, &p.retest, t.retested, end)?
                || t.retest_submitted >= end
            {
                return Ok(());
            }
            sim.submit(w, other, t.retest_submitted)?;
            if t.retest_released >= end {
                return Ok(());
            }
            sim.release(w, lab, sup, reviewer, t.retest_released)?;
        } else if t.closed < end {
            sim.close(w, &window, reviewer, CLOSE_REASON, t.closed)?;
        }
        Ok(())
    })();
    sim.finish(w);
    out
}
