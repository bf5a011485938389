//! Writing a checked samples file (docs/formats.md, samples) in one transaction: each row is
//! registered, received, started, has its determinations entered and is submitted when every
//! needed analysis is accepted, with the same rules, checks and audit events as the services of
//! those steps, but worked out in memory ([`crate::service::bulk_rows`]) and written with
//! multi-row INSERTs (SQLite) or binary COPY (PostgreSQL) instead of tens of queries per row.
//! All or nothing: any refused row refuses the file, naming its line.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use chrono::{DateTime, Utc};
use diesel::connection::SimpleConnection;

use crate::db::schema::{samples, suppliers};
use crate::db::Tx;
use crate::domain::lifecycle::SampleState;
use crate::domain::terms::Analysis;
use crate::error::AppError;
use crate::ops::progress::Progress;
use crate::service::auth::CurrentUser;
use crate::service::bulk_rows::{BulkWriter, FrozenCache, LabFacts, SampleSim, SupplierFacts};
use crate::service::reference::lower;
use crate::service::samples::{seal_key, seal_lookup_keys, NewSample};
use crate::with_tx;

/// Rows worked out before their rows are written (within the one transaction).
const FLUSH_EVERY: usize = 5_000;
/// Keys per `IN (…)` lookup (under SQLite's bound-value limit).
const KEYS_PER_QUERY: usize = 5_000;

/// One checked row: its line, the registration and the determinations in entry order.
pub type CheckedRow = (usize, NewSample, Vec<(Analysis, String)>);

/// Writes the checked rows; returns (samples created, rows already imported). Calls
/// `at_row(line, error)` to turn a refused step into the file's error.
///
/// # Errors
/// 403 when the user belongs to no lab; the first refused row (through `at_row`); database
/// errors. The caller's transaction then rolls back: nothing is imported.
pub fn write(
    tx: &mut Tx<'_>,
    user: &CurrentUser,
    rows: &[CheckedRow],
    now: DateTime<Utc>,
    progress: &dyn Progress,
    at_row: &dyn Fn(usize, AppError) -> AppError,
) -> Result<(usize, usize), AppError> {
    // SQLite: a large file's rows stay in one transaction; a 256 MiB page cache (default 2 MiB)
    // keeps its pages from spilling to the write-ahead log before the commit.
    if let Tx::Sqlite(c) = tx {
        c.batch_execute("PRAGMA cache_size = -262144")?;
    }
    let out = write_rows(tx, user, rows, now, progress, at_row);
    if let Tx::Sqlite(c) = tx {
        c.batch_execute("PRAGMA cache_size = -2000")?;
    }
    out
}

fn write_rows(
    tx: &mut Tx<'_>,
    user: &CurrentUser,
    rows: &[CheckedRow],
    now: DateTime<Utc>,
    progress: &dyn Progress,
    at_row: &dyn Fn(usize, AppError) -> AppError,
) -> Result<(usize, usize), AppError> {
    let lab_id = user
        .lab_id
        .ok_or_else(|| AppError::Forbidden("only members of a lab may register samples".into()))?;
    // Before the table lock, in the order registration takes them (src/service/samples.rs).
    crate::db::lock_for_check(tx, crate::db::SEAL_LOCK_KEY)?;
    if let Tx::Pg(c) = tx {
        // Explicit ids below: no other session may add samples, stages or determinations
        // until this transaction ends (they wait; the audit chain's lock makes them wait anyway).
        c.batch_execute("LOCK TABLE samples, stages, determinations IN SHARE ROW EXCLUSIVE MODE")?;
    }
    let mut w = BulkWriter::load(tx)?;
    let lab = LabFacts::load(tx, lab_id)?;
    let mut frozen = FrozenCache::load(tx)?;
    let keys: Vec<String> = rows.iter().map(|(_, input, _)| import_key(input)).collect();
    let mut done_keys: HashSet<String> = HashSet::new();
    for chunk in keys.chunks(KEYS_PER_QUERY) {
        let found: Vec<Option<String>> = with_tx!(tx, |c| samples::table
            .filter(samples::idempotency_key.eq_any(chunk))
            .select(samples::idempotency_key)
            .load(c))?;
        done_keys.extend(found.into_iter().flatten());
    }
    // Seal numbers of the file already in use in the lab, with the sample that holds each
    // (looked up by the seal indexes, a chunk of the file's seals per query).
    let mut seals: HashMap<String, String> = HashMap::new();
    let file_seals: Vec<&str> = rows
        .iter()
        .flat_map(|(_, input, _)| [input.test_seal_no.trim(), input.retained_seal_no.trim()])
        .collect();
    for chunk in file_seals.chunks(KEYS_PER_QUERY / 4) {
        // In any letter case, as registration compares them.
        let keys = seal_lookup_keys(chunk);
        let held: Vec<(String, String, String)> = with_tx!(tx, |c| samples::table
            .filter(samples::lab_id.eq(lab_id))
            .filter(
                lower(samples::test_seal_no)
                    .eq_any(&keys)
                    .or(lower(samples::retained_seal_no).eq_any(&keys))
            )
            .select((
                samples::test_seal_no,
                samples::retained_seal_no,
                samples::sample_code
            ))
            .load(c))?;
        for (t, r, code) in held {
            seals
                .entry(seal_key(&t))
                .or_insert_with(|| format!("sample {code}"));
            seals
                .entry(seal_key(&r))
                .or_insert(format!("sample {code}"));
        }
    }
    // The file's suppliers (by their unique code).
    let mut codes: Vec<&str> = rows
        .iter()
        .map(|(_, input, _)| input.supplier_code.trim())
        .collect();
    codes.sort_unstable();
    codes.dedup();
    let mut known: HashMap<String, (i64, String)> = HashMap::new();
    for chunk in codes.chunks(KEYS_PER_QUERY) {
        let found: Vec<(String, i64, String)> = with_tx!(tx, |c| suppliers::table
            .filter(suppliers::code.eq_any(chunk))
            .select((suppliers::code, suppliers::id, suppliers::jurisdiction_code))
            .load(c))?;
        known.extend(found.into_iter().map(|(c, i, j)| (c, (i, j))));
    }
    let mut facts: HashMap<String, Rc<SupplierFacts>> = HashMap::new();
    let (mut changed, mut unchanged) = (0usize, 0usize);
    progress.start(rows.len() as u64);
    for (i, ((line, input, dets), key)) in rows.iter().zip(keys).enumerate() {
        if done_keys.contains(&key) {
            unchanged += 1;
            continue;
        }
        let code = input.supplier_code.trim();
        let sup = match facts.get(code) {
            Some(f) => f.clone(),
            None => {
                let (id, j) = known.get(code).ok_or_else(|| {
                    at_row(
                        *line,
                        AppError::invalid(
                            "unknown_supplier",
                            format!("unknown supplier '{}'", crate::domain::decimal::echo(code)),
                        ),
                    )
                })?;
                let f = Rc::new(SupplierFacts::load(tx, *id, j)?);
                facts.insert(code.to_string(), f.clone());
                f
            }
        };
        row(
            &mut w,
            &lab,
            &sup,
            &mut frozen,
            &mut seals,
            user,
            input,
            dets,
            key.clone(),
            *line,
            now,
        )
        .map_err(|e| at_row(*line, e))?;
        done_keys.insert(key);
        changed += 1;
        if w.pending_samples() >= FLUSH_EVERY {
            w.flush(tx)?;
        }
        if i % 1000 == 999 {
            progress.set(i as u64 + 1);
        }
    }
    w.flush(tx)?;
    progress.set(rows.len() as u64);
    Ok((changed, unchanged))
}

/// The key that recognises a row imported before (`csv:SUPPLIER:TEST_SEAL`).
pub fn import_key(input: &NewSample) -> String {
    format!("csv:{}:{}", input.supplier_code, input.test_seal_no)
}

#[allow(clippy::too_many_arguments)]
fn row(
    w: &mut BulkWriter,
    lab: &LabFacts,
    sup: &SupplierFacts,
    frozen: &mut FrozenCache,
    seals: &mut HashMap<String, String>,
    user: &CurrentUser,
    input: &NewSample,
    dets: &[(Analysis, String)],
    key: String,
    line: usize,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    // samples::register: the checks in its order.
    let sampled_at = input.validate()?;
    if sampled_at > now + chrono::Duration::minutes(5) {
        return Err(AppError::invalid(
            "invalid_value",
            "sampled_at lies in the future",
        ));
    }
    let test = input.test_seal_no.trim();
    let retained = input.retained_seal_no.trim();
    if let Some(other) = seals
        .get(&seal_key(test))
        .or_else(|| seals.get(&seal_key(retained)))
    {
        return Err(AppError::conflict(
            "seal_in_use",
            format!("seal number {test} or {retained} is already recorded on {other} (compared in any letter case)"),
        ));
    }
    let on = lab.calendar.local_date(sampled_at);
    let sets = frozen.get(sup, on, input.coal_category.trim())?;
    let mut sim = SampleSim::register(w, lab, sup, sets, user, input, Some(key), now)?;
    let out = (|| -> Result<(), AppError> {
        sim.receive(w, lab, sup, user, now)?;
        sim.start(w, user, now)?;
        for (a, v) in dets {
            sim.enter(w, user, *a, v, now)?;
        }
        if sim.state() == SampleState::InitialTesting {
            // Submitted when every needed analysis is accepted; otherwise it waits in testing.
            match sim.submit(w, user, now) {
                Err(e) if e.code() == "precision_not_met" => {}
                other => other?,
            }
        }
        Ok(())
    })();
    sim.finish(w);
    out?;
    // The file's own rows are named by row: their sample codes exist only if the file imports.
    seals.insert(seal_key(test), format!("row {line} of this file"));
    seals.insert(seal_key(retained), format!("row {line} of this file"));
    Ok(())
}

/// The reference writer: each row through the real services (`samples::register`,
/// `workflow::apply_action`, `entry::enter`), one call per step, as before the bulk writer.
/// Slow; tests check that [`write`] writes the same rows.
///
/// # Errors
/// As [`write`].
pub fn write_workflow(
    tx: &mut Tx<'_>,
    user: &CurrentUser,
    rows: &[CheckedRow],
    now: DateTime<Utc>,
    at_row: &dyn Fn(usize, AppError) -> AppError,
) -> Result<(usize, usize), AppError> {
    use crate::domain::lifecycle::Action;
    use crate::service::entry::{self, NewDetermination};
    use crate::service::samples as sample_svc;
    use crate::service::workflow::{self, ActionRequest};
    let (mut changed, mut unchanged) = (0, 0);
    for (line, input, dets) in rows {
        let key = import_key(input);
        let exists: i64 = with_tx!(tx, |c| samples::table
            .filter(samples::idempotency_key.eq(&key))
            .count()
            .get_result(c))?;
        if exists > 0 {
            unchanged += 1;
            continue;
        }
        let at = |e: AppError| at_row(*line, e);
        let id = sample_svc::register(tx, user, input, Some(&key), now).map_err(at)?;
        for action in [Action::Receive, Action::Start] {
            let version = sample_svc::load(tx, id)?.version;
            let req = ActionRequest {
                version,
                ..Default::default()
            };
            workflow::apply_action(tx, user, id, action, &req, now).map_err(at)?;
        }
        for (a, v) in dets {
            let d = NewDetermination {
                analysis: a.as_code().into(),
                value: serde_json::Value::String(v.clone()),
            };
            entry::enter(tx, user, id, &d, now).map_err(at)?;
        }
        let s = sample_svc::load(tx, id)?;
        if workflow::state_of(&s)? == SampleState::InitialTesting {
            let req = ActionRequest {
                version: s.version,
                ..Default::default()
            };
            match workflow::apply_action(tx, user, id, Action::Submit, &req, now) {
                Err(e) if e.code() == "precision_not_met" => {}
                other => other.map_err(at)?,
            }
        }
        changed += 1;
    }
    Ok((changed, unchanged))
}
