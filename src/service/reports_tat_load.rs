//! What the TAT report reads (src/service/reports_tat.rs): the stages started in its period
//! with their due and release instants, the labs' working clocks held in memory, and, only when
//! the report needs them, the stages' samples, pauses and technicians.
//!
//! Every read is an index range or index lookups (tests/query_plans/): the stages come from the
//! covering index `stages_started_cover (started_at, stage, sample_id, due_at, released_at)`
//! without touching the wide `stages` rows, and the `samples` rows are read only for the
//! groupings that need them (supplier, lab) or when the labs do not all share one clock.

use std::collections::{BTreeSet, HashMap, HashSet};

use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::QueryableByName;

use crate::db::schema::{audit_events, labs, samples, stages, suppliers, working_clock};
use crate::db::Tx;
use crate::domain::turnaround::{ClockDay, Pause, WorkingClock};
use crate::error::AppError;
use crate::service::reports_sql::{load_rows, Bind};
use crate::service::reports_tat::TatQuery;
use crate::with_tx;

/// A stage started in the report's period, as seen at `as_of`.
#[derive(Debug, Clone)]
pub(crate) struct PeriodStage {
    pub id: i64,
    pub stage: String,
    pub sample_id: i64,
    pub started_at: i64,
    pub due_at: i64,
    /// Release instant when released at or before `as_of`.
    pub rel: Option<i64>,
}

/// The stages started in `[from, min(to, as_of))` (of the stage kind asked for), without those
/// left unreleased by a sample rejected or cancelled at or before `as_of`.
///
/// # Errors
/// Database errors.
pub(crate) fn period_stages(tx: &mut Tx<'_>, q: &TatQuery) -> Result<Vec<PeriodStage>, AppError> {
    let (from, to, asof) = bounds(q);
    let kind = q.stage.map(|s| s.as_code().to_string());
    type Row = (i64, String, i64, i64, i64, Option<i64>);
    let rows: Vec<Row> = with_tx!(tx, |c| {
        let mut query = stages::table
            .filter(stages::started_at.ge(from).and(stages::started_at.lt(to)))
            .select((
                stages::id,
                stages::stage,
                stages::sample_id,
                stages::started_at,
                stages::due_at,
                stages::released_at,
            ))
            .into_boxed();
        if let Some(k) = kind.clone() {
            query = query.filter(stages::stage.eq(k));
        }
        query.load(c)
    })?;
    let mut out: Vec<PeriodStage> = rows
        .into_iter()
        .map(
            |(id, stage, sample_id, started_at, due_at, released)| PeriodStage {
                id,
                stage,
                sample_id,
                started_at,
                due_at,
                rel: released.filter(|r| *r <= asof),
            },
        )
        .collect();
    if out.iter().any(|s| s.rel.is_none()) {
        let withdrawn = withdrawn_samples(tx, asof)?;
        out.retain(|s| s.rel.is_some() || !withdrawn.contains(&s.sample_id));
    }
    Ok(out)
}

/// `[from, min(to, as_of))` in ms, and `as_of`.
fn bounds(q: &TatQuery) -> (i64, i64, i64) {
    let asof = q.as_of.timestamp_millis();
    (
        q.from.timestamp_millis(),
        q.to.timestamp_millis().min(asof),
        asof,
    )
}

/// Samples rejected or cancelled at or before `asof` (audit actions `sample.reject`,
/// `sample.cancel`, read through `audit_events_action`).
fn withdrawn_samples(tx: &mut Tx<'_>, asof: i64) -> Result<HashSet<i64>, AppError> {
    let ids: Vec<Option<i64>> = with_tx!(tx, |c| audit_events::table
        .filter(audit_events::action.eq_any(["sample.reject", "sample.cancel"]))
        .filter(audit_events::at.le(asof))
        .select(audit_events::sample_id)
        .load(c))?;
    Ok(ids.into_iter().flatten().collect())
}

/// The labs with their codes and working clocks (one clock per distinct calendar and time
/// zone, about 18 300 days each, read once per report).
pub(crate) struct LabClocks {
    clocks: Vec<WorkingClock>,
    /// lab id → (lab code, index into `clocks`).
    labs: HashMap<i64, (String, usize)>,
}

impl LabClocks {
    /// The clock every lab shares, when they all share one.
    pub fn shared(&self) -> Option<&WorkingClock> {
        (self.clocks.len() == 1).then(|| &self.clocks[0])
    }

    /// The clock of a lab.
    ///
    /// # Errors
    /// [`AppError::Internal`] for a lab without a clock (`ensure_clocks` not called).
    pub fn of_lab(&self, lab_id: i64) -> Result<&WorkingClock, AppError> {
        self.labs
            .get(&lab_id)
            .map(|(_, i)| &self.clocks[*i])
            .ok_or_else(|| AppError::Internal(format!("no working clock for lab {lab_id}")))
    }

    /// The code of a lab.
    pub fn code(&self, lab_id: i64) -> Result<&str, AppError> {
        self.labs
            .get(&lab_id)
            .map(|(c, _)| c.as_str())
            .ok_or_else(|| AppError::Internal(format!("no lab {lab_id}")))
    }
}

/// Loads every lab's clock from `working_clock`.
///
/// # Errors
/// [`AppError::Internal`] when a lab's clock was never built; database errors.
pub(crate) fn lab_clocks(tx: &mut Tx<'_>) -> Result<LabClocks, AppError> {
    let lab_rows: Vec<(i64, String, String, String)> = with_tx!(tx, |c| labs::table
        .select((labs::id, labs::code, labs::calendar_code, labs::timezone))
        .load(c))?;
    let mut keys: Vec<(String, String)> = Vec::new();
    let mut clocks = Vec::new();
    let mut by_lab = HashMap::new();
    for (id, code, cc, tz) in lab_rows {
        let key = (cc, tz);
        let idx = match keys.iter().position(|k| *k == key) {
            Some(i) => i,
            None => {
                let days = clock_rows(tx, &key.0, &key.1)?;
                if days.is_empty() {
                    return Err(AppError::Internal(format!(
                        "the working clock of {} {} is not built",
                        key.0, key.1
                    )));
                }
                clocks.push(WorkingClock::new(days));
                keys.push(key);
                keys.len() - 1
            }
        };
        by_lab.insert(id, (code, idx));
    }
    Ok(LabClocks {
        clocks,
        labs: by_lab,
    })
}

fn clock_rows(tx: &mut Tx<'_>, cc: &str, tz: &str) -> Result<Vec<ClockDay>, AppError> {
    type Row = (i64, i64, String, String, i32, i64);
    let rows: Vec<Row> = with_tx!(tx, |c| working_clock::table
        .filter(working_clock::calendar_code.eq(cc))
        .filter(working_clock::timezone.eq(tz))
        .order(working_clock::day_start.asc())
        .select((
            working_clock::day_start,
            working_clock::day_end,
            working_clock::day,
            working_clock::iso_week,
            working_clock::working,
            working_clock::cum_before,
        ))
        .load(c))?;
    Ok(rows
        .into_iter()
        .map(
            |(day_start, day_end, day, iso_week, working, cum_before)| ClockDay {
                day_start,
                day_end,
                day,
                iso_week,
                working,
                cum_before,
            },
        )
        .collect())
}

/// Lab and supplier of the samples of the period's stages: sample id → (lab id, supplier id).
///
/// # Errors
/// Database errors.
pub(crate) fn sample_labs_suppliers(
    tx: &mut Tx<'_>,
    q: &TatQuery,
) -> Result<HashMap<i64, (i64, i64)>, AppError> {
    let (from, to, _) = bounds(q);
    let kind = q.stage.map(|s| s.as_code().to_string());
    let rows: Vec<(i64, i64, i64)> = with_tx!(tx, |c| {
        let mut query = stages::table
            .inner_join(samples::table)
            .filter(stages::started_at.ge(from).and(stages::started_at.lt(to)))
            .select((samples::id, samples::lab_id, samples::supplier_id))
            .into_boxed();
        if let Some(k) = kind.clone() {
            query = query.filter(stages::stage.eq(k));
        }
        query.load(c)
    })?;
    Ok(rows.into_iter().map(|(s, l, p)| (s, (l, p))).collect())
}

/// Supplier id → code, of every supplier.
///
/// # Errors
/// Database errors.
pub(crate) fn supplier_codes(tx: &mut Tx<'_>) -> Result<HashMap<i64, String>, AppError> {
    let rows: Vec<(i64, String)> = with_tx!(tx, |c| suppliers::table
        .select((suppliers::id, suppliers::code))
        .load(c))?;
    Ok(rows.into_iter().collect())
}

#[derive(QueryableByName)]
struct PauseRow {
    #[diesel(sql_type = BigInt)]
    stage_id: i64,
    #[diesel(sql_type = BigInt)]
    started_at: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    ended_at: Option<i64>,
}

/// The pauses started before `as_of` of the period's stages, by stage id. `stages CROSS JOIN
/// stage_pauses` keeps SQLite's join order (the period's stages by `stages_started_cover`, then
/// their pauses by `stage_pauses_stage`) instead of walking every pause.
///
/// # Errors
/// Database errors.
pub(crate) fn period_pauses(
    tx: &mut Tx<'_>,
    q: &TatQuery,
) -> Result<HashMap<i64, Vec<Pause>>, AppError> {
    let rows: Vec<PauseRow> = of_period_stages(
        tx,
        q,
        "SELECT p.stage_id, p.started_at, p.ended_at FROM stages g CROSS JOIN stage_pauses p \
         WHERE p.stage_id = g.id",
        "p.started_at < ?",
    )?;
    let mut out: HashMap<i64, Vec<Pause>> = HashMap::new();
    for r in rows {
        out.entry(r.stage_id).or_default().push(Pause {
            start: r.started_at,
            end: r.ended_at,
        });
    }
    Ok(out)
}

/// Rows of `select` (a query over `stages g` joined to a child table by stage id, ending in
/// its WHERE clause) for the stages of the report's period and stage kind, with `as_of_cond`
/// (one `?`, bound to `as_of`) on the child rows.
fn of_period_stages<T>(
    tx: &mut Tx<'_>,
    q: &TatQuery,
    select: &str,
    as_of_cond: &str,
) -> Result<Vec<T>, AppError>
where
    T: QueryableByName<diesel::sqlite::Sqlite> + QueryableByName<diesel::pg::Pg> + 'static,
{
    let (from, to, asof) = bounds(q);
    let mut binds = Vec::new();
    let kind_sql = match q.stage {
        Some(s) => {
            binds.push(Bind::Text(s.as_code().to_string()));
            " AND g.stage = ?"
        }
        None => "",
    };
    binds.extend([Bind::Int(from), Bind::Int(to), Bind::Int(asof)]);
    let sql =
        format!("{select}{kind_sql} AND g.started_at >= ? AND g.started_at < ? AND {as_of_cond}");
    load_rows(tx, &sql, &binds)
}

#[derive(QueryableByName)]
struct EntryRow {
    #[diesel(sql_type = BigInt)]
    stage_id: i64,
    #[diesel(sql_type = Nullable<Text>)]
    username: Option<String>,
}

/// Who entered determinations of the period's stages at or before `as_of`: stage id → the
/// usernames, "(none)" for determinations without a recorded person.
///
/// # Errors
/// Database errors.
pub(crate) fn period_technicians(
    tx: &mut Tx<'_>,
    q: &TatQuery,
) -> Result<HashMap<i64, BTreeSet<String>>, AppError> {
    let rows: Vec<EntryRow> = of_period_stages(
        tx,
        q,
        "SELECT DISTINCT d.stage_id, u.username FROM stages g CROSS JOIN determinations d \
         LEFT JOIN users u ON u.id = d.entered_by WHERE d.stage_id = g.id",
        "d.entered_at <= ?",
    )?;
    let mut out: HashMap<i64, BTreeSet<String>> = HashMap::new();
    for r in rows {
        out.entry(r.stage_id)
            .or_default()
            .insert(r.username.unwrap_or_else(|| NONE.to_string()));
    }
    Ok(out)
}

/// The group of stages nobody entered determinations for (and of entries without a person).
pub(crate) const NONE: &str = "(none)";

/// Sample code, supplier code and lab id of these stages: stage id → (sample code, supplier
/// code, lab id); read by primary key, 500 stages per query.
///
/// # Errors
/// Database errors.
pub(crate) fn stage_samples(
    tx: &mut Tx<'_>,
    stage_ids: &[i64],
) -> Result<HashMap<i64, (String, String, i64)>, AppError> {
    let mut out = HashMap::with_capacity(stage_ids.len());
    for chunk in stage_ids.chunks(500) {
        let rows: Vec<(i64, String, String, i64)> = with_tx!(tx, |c| stages::table
            .inner_join(samples::table.inner_join(suppliers::table))
            .filter(stages::id.eq_any(chunk))
            .select((
                stages::id,
                samples::sample_code,
                suppliers::code,
                samples::lab_id
            ))
            .load(c))?;
        out.extend(rows.into_iter().map(|(id, s, p, l)| (id, (s, p, l))));
    }
    Ok(out)
}
