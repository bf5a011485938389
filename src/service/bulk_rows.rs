//! Bulk work on samples without a database round trip per step: the rows that the workflow
//! services (register, lifecycle actions, determination entry, release) would write are worked
//! out in memory with the same domain rules and checks, with explicit ids and the audit events
//! chained in order, and then written with multi-row INSERTs ([`BulkWriter::flush`]).
//!
//! Used by `demo generate` ([`crate::service::generate_bulk`]) and the samples import
//! ([`crate::service::import`]). The caller holds the only writer: on SQLite the write
//! transaction, on PostgreSQL the audit chain's advisory lock, is taken for each flush, and ids
//! are read once at the start, so no other writer may run meanwhile (a generated or imported
//! batch on a serving database takes the locks for its whole transaction, see
//! [`BulkWriter::load`]).

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::str::FromStr;

use chrono::{DateTime, Days, NaiveDate, Utc};
use diesel::connection::SimpleConnection;
use diesel::ExpressionMethods;
use rust_decimal::Decimal;

use crate::db::schema::{
    analysis_runs, audit_events, determinations, limit_verdicts, samples, sampling_records,
    stage_results, stages,
};
use crate::db::Tx;
use crate::domain::calendar::WorkingCalendar;
use crate::domain::deadline::{
    appeal_open, appeal_window, stage_due, AppealWindow, DeadlinePolicy,
};
use crate::domain::decimal::parse_determination;
use crate::domain::lifecycle::{transition, Action, Actor, SampleState};
use crate::domain::limits::{sets_in_force, LimitSet};
use crate::domain::repeatability::{assess, default_table, PrecisionOutcome};
use crate::domain::reproducibility::check_reproducibility;
use crate::domain::requirements::analyses_for;
use crate::domain::results::{derive_results, DerivedResult};
use crate::domain::terms::{Analysis, ResultParameter, Stage};
use crate::domain::verdict::{judge_stage, LimitVerdict};
use crate::error::AppError;
use crate::service::audit::{event_hash, AuditEvent, NewEvent, GENESIS_HASH};
use crate::service::auth::CurrentUser;
use crate::service::reference::{self, Lab};
use crate::service::samples::NewSample;
use crate::service::workflow::transition_error;
use crate::time::to_ms;
use crate::with_tx;

fn internal(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(e.to_string())
}

/// A lab's facts: id, code, time zone and working calendar.
pub struct LabFacts {
    /// Row id.
    pub id: i64,
    /// Code (prefix of sample codes).
    pub code: String,
    /// Time zone.
    pub tz: chrono_tz::Tz,
    /// Working calendar.
    pub calendar: WorkingCalendar,
}

impl LabFacts {
    /// Reads the lab with this id.
    ///
    /// # Errors
    /// [`AppError::NotFound`] for no such lab; bad stored calendar or time zone.
    pub fn load(tx: &mut Tx<'_>, lab_id: i64) -> Result<LabFacts, AppError> {
        let lab: Lab = reference::lab(tx, lab_id)?;
        Ok(LabFacts {
            id: lab.id,
            calendar: reference::load_calendar(tx, &lab.calendar_code, &lab.timezone)?,
            tz: lab
                .timezone
                .parse()
                .map_err(|_| internal("lab time zone"))?,
            code: lab.code,
        })
    }
}

/// A supplier's facts: id, jurisdiction chain, deadline policy and retention period.
pub struct SupplierFacts {
    /// Row id.
    pub id: i64,
    /// Its jurisdiction.
    pub jurisdiction: String,
    /// Jurisdiction codes from the supplier's up to the nation.
    pub chain: Vec<String>,
    /// Deadlines of the chain.
    pub policy: DeadlinePolicy,
    /// Retention of retained samples after a release, calendar days.
    pub keep_days: u32,
}

impl SupplierFacts {
    /// The facts of supplier `id` in jurisdiction `jurisdiction`.
    ///
    /// # Errors
    /// Database errors; an unknown jurisdiction.
    pub fn load(tx: &mut Tx<'_>, id: i64, jurisdiction: &str) -> Result<SupplierFacts, AppError> {
        let chain = reference::jurisdiction_chain(tx, jurisdiction)?;
        let (keep_days, _) = crate::service::retention::keep_days(tx, jurisdiction)?;
        Ok(SupplierFacts {
            id,
            jurisdiction: jurisdiction.to_string(),
            policy: reference::deadline_policy(&chain),
            chain: chain.into_iter().map(|j| j.code).collect(),
            keep_days,
        })
    }
}

/// The limit sets frozen at registration for one jurisdiction chain, date and coal category.
pub struct Frozen {
    /// As stored in `samples.limit_sets_frozen`.
    pub json: String,
    /// Set ids (for the register event).
    pub ids: Vec<String>,
    /// The sets, read back from `json` as the workflow reads them.
    pub sets: Vec<LimitSet>,
}

/// Frozen limit sets, worked out once per (jurisdiction, date, category).
pub struct FrozenCache {
    all_sets: Vec<LimitSet>,
    map: HashMap<(String, NaiveDate, String), Rc<Frozen>>,
}

impl FrozenCache {
    /// Reads every limit set.
    ///
    /// # Errors
    /// Database errors.
    pub fn load(tx: &mut Tx<'_>) -> Result<FrozenCache, AppError> {
        Ok(FrozenCache {
            all_sets: reference::load_limit_sets(tx)?,
            map: HashMap::new(),
        })
    }

    /// The sets in force for the supplier on `on` for `category` (as `samples::register`).
    ///
    /// # Errors
    /// 422 `no_limit_sets_in_force`.
    pub fn get(
        &mut self,
        sup: &SupplierFacts,
        on: NaiveDate,
        category: &str,
    ) -> Result<Rc<Frozen>, AppError> {
        let key = (sup.jurisdiction.clone(), on, category.to_string());
        if let Some(f) = self.map.get(&key) {
            return Ok(f.clone());
        }
        let chain: Vec<&str> = sup.chain.iter().map(String::as_str).collect();
        let cat = Some(category).filter(|c| !c.is_empty());
        let in_force: Vec<LimitSet> = sets_in_force(&self.all_sets, &chain, on, cat)
            .into_iter()
            .cloned()
            .collect();
        if in_force.is_empty() {
            return Err(AppError::invalid(
                "no_limit_sets_in_force",
                format!(
                    "no limit set is in force for jurisdiction '{}' on {on}; load one first",
                    sup.jurisdiction
                ),
            ));
        }
        let json = serde_json::to_string(&in_force).map_err(internal)?;
        let sets: Vec<LimitSet> = serde_json::from_str(&json).map_err(internal)?;
        let f = Rc::new(Frozen {
            ids: in_force.iter().map(|s| s.id.clone()).collect(),
            json,
            sets,
        });
        self.map.insert(key, f.clone());
        Ok(f)
    }
}

/// A sample row as it ends.
struct SampleOut {
    id: i64,
    sample_code: String,
    lab_code: String,
    lab_id: i64,
    supplier_id: i64,
    state: SampleState,
    coal_category: String,
    sampled_at: i64,
    sampled_on: String,
    test_seal_no: String,
    retained_seal_no: String,
    retained_discard_on: Option<String>,
    retained_condition: Option<String>,
    frozen: Rc<Frozen>,
    registered_at: i64,
    received_at: Option<i64>,
    result_received_at: Option<i64>,
    appeal_closes_at: Option<i64>,
    retest_requested_at: Option<i64>,
    closed_at: Option<i64>,
    final_verdict: Option<String>,
    current_stage: Option<Stage>,
    due_at: Option<i64>,
    state_reason: Option<String>,
    idempotency_key: Option<String>,
    version: i32,
    created_by: i64,
}

struct RecordOut {
    sample_id: i64,
    claimed_grade: String,
    lot_no: String,
    lot_mass_t: Option<String>,
    top_size_mm: Option<i32>,
    sampling_method: String,
    increments: Option<i32>,
    gross_mass_kg: Option<String>,
    samplers: String,
    retained_custodian: String,
    retained_location: String,
    prepared_on: Option<String>,
}

struct StageOut {
    id: i64,
    sample_id: i64,
    stage: Stage,
    started_at: i64,
    due_at: i64,
    submitted_at: Option<i64>,
    released_at: Option<i64>,
    released_by: Option<i64>,
    verdict: Option<String>,
    verdict_detail: Option<String>,
    results: Option<String>,
    reproducibility: Option<String>,
    report_no: Option<String>,
}

struct DetOut {
    id: i64,
    stage_id: i64,
    analysis: Analysis,
    run: i32,
    seq: i32,
    value_text: String,
    entered_by: i64,
    entered_at: i64,
}

struct RunOut {
    stage_id: i64,
    analysis: Analysis,
    run: i32,
    outcome: &'static str,
    mean: Option<String>,
    detail: String,
}

struct ResultOut {
    stage_id: i64,
    parameter: String,
    basis: String,
    value: String,
    reported: String,
}

/// Rows worked out and not yet written, with the next ids and the head of the audit chain.
pub struct BulkWriter {
    samples: Vec<SampleOut>,
    records: Vec<RecordOut>,
    stages: Vec<StageOut>,
    dets: Vec<DetOut>,
    runs: Vec<RunOut>,
    results: Vec<ResultOut>,
    verdicts: Vec<(i64, LimitVerdict)>,
    events: Vec<AuditEvent>,
    next_sample: i64,
    next_stage: i64,
    next_det: i64,
    seq: i64,
    prev_hash: String,
    /// Rows flushed so far: samples.
    pub written_samples: u64,
}

impl BulkWriter {
    /// Reads the next ids and the audit chain's head. Call inside the transaction that will
    /// hold the writes (or with no other writer running): on PostgreSQL this takes the audit
    /// chain's advisory lock for the transaction.
    ///
    /// # Errors
    /// Database errors.
    pub fn load(tx: &mut Tx<'_>) -> Result<BulkWriter, AppError> {
        lock_chain(tx)?;
        let max_sample: Option<i64> = with_tx!(tx, |c| samples::table
            .select(diesel::dsl::max(samples::id))
            .first(c))?;
        let max_stage: Option<i64> = with_tx!(tx, |c| stages::table
            .select(diesel::dsl::max(stages::id))
            .first(c))?;
        let max_det: Option<i64> = with_tx!(tx, |c| determinations::table
            .select(diesel::dsl::max(determinations::id))
            .first(c))?;
        let last: Option<(i64, String)> = with_tx!(tx, |c| audit_events::table
            .select((audit_events::seq, audit_events::hash))
            .order(audit_events::seq.desc())
            .first(c)
            .optional())?;
        let (seq, prev_hash) = last.unwrap_or((0, GENESIS_HASH.to_string()));
        Ok(BulkWriter {
            samples: Vec::new(),
            records: Vec::new(),
            stages: Vec::new(),
            dets: Vec::new(),
            runs: Vec::new(),
            results: Vec::new(),
            verdicts: Vec::new(),
            events: Vec::new(),
            next_sample: max_sample.unwrap_or(0) + 1,
            next_stage: max_stage.unwrap_or(0) + 1,
            next_det: max_det.unwrap_or(0) + 1,
            seq,
            prev_hash,
            written_samples: 0,
        })
    }

    /// Appends an audit event to the chain (as `audit::append`).
    pub fn event(&mut self, at_ms: i64, e: NewEvent) {
        self.seq += 1;
        let mut row = AuditEvent {
            seq: self.seq,
            at: at_ms,
            actor: e.actor,
            action: e.action,
            entity: e.entity,
            entity_id: e.entity_id,
            sample_id: e.sample_id,
            before_json: e.before.map(|v| v.to_string()),
            after_json: e.after.map(|v| v.to_string()),
            reason: e.reason,
            prev_hash: std::mem::take(&mut self.prev_hash),
            hash: String::new(),
        };
        row.hash = event_hash(&row);
        self.prev_hash = row.hash.clone();
        self.events.push(row);
    }

    /// Samples waiting to be written.
    pub fn pending_samples(&self) -> usize {
        self.samples.len()
    }

    /// Writes every pending row in the caller's transaction and forgets them.
    ///
    /// # Errors
    /// Database errors (the caller's transaction rolls back).
    pub fn flush(&mut self, tx: &mut Tx<'_>) -> Result<(), AppError> {
        lock_chain(tx)?;
        if let Tx::Pg(c) = tx {
            c.batch_execute(
                "LOCK TABLE samples, stages, determinations IN SHARE ROW EXCLUSIVE MODE",
            )?;
        }
        // The ids were handed out from the maxima read at the start: refuse if another writer
        // added rows since (a server using the database between two transactions).
        let first_sample = self.samples.iter().map(|s| s.id).min();
        let max_sample: Option<i64> = with_tx!(tx, |c| samples::table
            .select(diesel::dsl::max(samples::id))
            .first(c))?;
        let max_seq: Option<i64> = with_tx!(tx, |c| audit_events::table
            .select(diesel::dsl::max(audit_events::seq))
            .first(c))?;
        let first_seq = self.events.first().map(|e| e.seq);
        if first_sample.is_some_and(|f| max_sample.unwrap_or(0) >= f)
            || first_seq.is_some_and(|f| max_seq.unwrap_or(0) >= f)
        {
            return Err(AppError::conflict(
                "concurrent_writer",
                "another writer added samples or audit events meanwhile; run bulk work on a database no server is using",
            ));
        }
        insert_rows(tx, self)?;
        self.written_samples += self.samples.len() as u64;
        self.samples.clear();
        self.records.clear();
        self.stages.clear();
        self.dets.clear();
        self.runs.clear();
        self.results.clear();
        self.verdicts.clear();
        self.events.clear();
        if let Tx::Pg(c) = tx {
            // Rows carry explicit ids: move the identity sequences past them.
            c.batch_execute(
                "SELECT setval(pg_get_serial_sequence('samples','id'), (SELECT max(id) FROM samples)); \
                 SELECT setval(pg_get_serial_sequence('stages','id'), (SELECT max(id) FROM stages)); \
                 SELECT setval(pg_get_serial_sequence('determinations','id'), (SELECT max(id) FROM determinations));",
            )?;
        }
        Ok(())
    }
}

fn lock_chain(tx: &mut Tx<'_>) -> Result<(), AppError> {
    if let Tx::Pg(c) = tx {
        c.batch_execute(&format!(
            "SELECT pg_advisory_xact_lock({})",
            crate::service::audit::AUDIT_LOCK_KEY
        ))?;
    }
    Ok(())
}

/// Entry state of one analysis of one stage.
#[derive(Default)]
struct AnalysisState {
    run: i32,
    texts: Vec<String>,
    run_ix: Option<usize>,
    accepted: Option<Decimal>,
    discarded: bool,
}

/// One sample being worked on: its row, its stages and the entry state of their analyses.
pub struct SampleSim {
    s: SampleOut,
    /// (stage, index into the writer's stages) in creation order.
    stages: Vec<(Stage, usize)>,
    analyses: BTreeMap<(Stage, Analysis), AnalysisState>,
    /// Users who entered determinations, per stage.
    entered_by: BTreeMap<Stage, Vec<i64>>,
}

impl SampleSim {
    /// Registers a sample as `samples::register` does (after the caller's checks of the
    /// supplier, seals and dates): codes from the id, the frozen limit sets, the sampling
    /// record and the `sample.register` event.
    ///
    /// # Errors
    /// [`AppError::Invalid`] for a bad field.
    #[allow(clippy::too_many_arguments)]
    pub fn register(
        w: &mut BulkWriter,
        lab: &LabFacts,
        sup: &SupplierFacts,
        frozen: Rc<Frozen>,
        user: &CurrentUser,
        input: &NewSample,
        idempotency_key: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<SampleSim, AppError> {
        let sampled_at = input.validate()?;
        let sampled_on = lab.calendar.local_date(sampled_at);
        let id = w.next_sample;
        w.next_sample += 1;
        let sample_code = format!("{}-{}-{:06}", lab.code, sampled_on.format("%Y"), id);
        let lab_code = format!("L{}", crate::service::blind_code(id));
        let now_ms = to_ms(now);
        w.records.push(RecordOut {
            sample_id: id,
            claimed_grade: input.claimed_grade.trim().into(),
            lot_no: input.lot_no.trim().into(),
            lot_mass_t: input.lot_mass_t.clone(),
            top_size_mm: input.top_size_mm,
            sampling_method: input.sampling_method.clone(),
            increments: input.increments,
            gross_mass_kg: input.gross_mass_kg.clone(),
            samplers: input
                .samplers
                .iter()
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join("; "),
            retained_custodian: input.retained_custodian.trim().into(),
            retained_location: input.retained_location.trim().into(),
            prepared_on: input.prepared_on.clone(),
        });
        w.event(
            now_ms,
            NewEvent {
                actor: user.username.clone(),
                action: "sample.register".into(),
                entity: "sample".into(),
                entity_id: sample_code.clone(),
                sample_id: Some(id),
                before: None,
                after: Some(
                    serde_json::json!({"input": input, "sample_code": sample_code, "lab_code": lab_code,
                "limit_sets": frozen.ids}),
                ),
                reason: None,
            },
        );
        Ok(SampleSim {
            s: SampleOut {
                id,
                sample_code,
                lab_code,
                lab_id: lab.id,
                supplier_id: sup.id,
                state: SampleState::Registered,
                coal_category: input.coal_category.trim().into(),
                sampled_at: to_ms(sampled_at),
                sampled_on: sampled_on.to_string(),
                test_seal_no: input.test_seal_no.trim().into(),
                retained_seal_no: input.retained_seal_no.trim().into(),
                retained_discard_on: None,
                retained_condition: None,
                frozen,
                registered_at: now_ms,
                received_at: None,
                result_received_at: None,
                appeal_closes_at: None,
                retest_requested_at: None,
                closed_at: None,
                final_verdict: None,
                current_stage: None,
                due_at: None,
                state_reason: None,
                idempotency_key,
                version: 1,
                created_by: user.id,
            },
            stages: Vec::new(),
            analyses: BTreeMap::new(),
            entered_by: BTreeMap::new(),
        })
    }

    /// The sample's id.
    pub fn id(&self) -> i64 {
        self.s.id
    }

    /// The sample's code.
    pub fn sample_code(&self) -> &str {
        &self.s.sample_code
    }

    /// The sample's lifecycle state.
    pub fn state(&self) -> SampleState {
        self.s.state
    }

    /// Hands the finished sample row to the writer.
    pub fn finish(self, w: &mut BulkWriter) {
        w.samples.push(self.s);
    }

    fn stage_ix(&self, stage: Stage) -> Option<usize> {
        self.stages
            .iter()
            .find(|(s, _)| *s == stage)
            .map(|(_, i)| *i)
    }

    /// A lifecycle action's transition, version bump, reason and audit event (as
    /// `workflow::apply_action`); the caller sets the action's own fields first.
    fn act(
        &mut self,
        w: &mut BulkWriter,
        user: &CurrentUser,
        a: Action,
        reason: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<SampleState, AppError> {
        let before = self.s.state;
        let next = transition(before, a, Actor::User(user.role)).map_err(transition_error)?;
        if let Some(r) = reason {
            self.s.state_reason = Some(r.to_string());
        }
        self.s.state = next;
        let version = self.s.version;
        self.s.version += 1;
        w.event(
            to_ms(at),
            NewEvent {
                actor: user.username.clone(),
                action: format!("sample.{}", a.as_code()),
                entity: "sample".into(),
                entity_id: self.s.sample_code.clone(),
                sample_id: Some(self.s.id),
                before: Some(serde_json::json!({"state": before.as_code(), "version": version})),
                after: Some(serde_json::json!({"state": next.as_code(), "version": version + 1})),
                reason: reason.map(String::from),
            },
        );
        Ok(next)
    }

    fn new_stage(
        &mut self,
        w: &mut BulkWriter,
        stage: Stage,
        start: DateTime<Utc>,
        due: DateTime<Utc>,
    ) {
        let id = w.next_stage;
        w.next_stage += 1;
        w.stages.push(StageOut {
            id,
            sample_id: self.s.id,
            stage,
            started_at: to_ms(start),
            due_at: to_ms(due),
            submitted_at: None,
            released_at: None,
            released_by: None,
            verdict: None,
            verdict_detail: None,
            results: None,
            reproducibility: None,
            report_no: None,
        });
        self.stages.push((stage, w.stages.len() - 1));
    }

    /// Receives the sample: the initial test's stage starts with its due instant.
    ///
    /// # Errors
    /// 409 `illegal_transition` unless registered.
    pub fn receive(
        &mut self,
        w: &mut BulkWriter,
        lab: &LabFacts,
        sup: &SupplierFacts,
        user: &CurrentUser,
        at: DateTime<Utc>,
    ) -> Result<(), AppError> {
        transition(self.s.state, Action::Receive, Actor::User(user.role))
            .map_err(transition_error)?;
        let due = stage_due(&lab.calendar, at, sup.policy.initial_test_working_days, &[]);
        self.new_stage(w, Stage::InitialTest, at, due);
        self.s.received_at = Some(to_ms(at));
        self.s.current_stage = Some(Stage::InitialTest);
        self.s.due_at = Some(to_ms(due));
        self.act(w, user, Action::Receive, None, at)?;
        Ok(())
    }

    /// Starts testing.
    ///
    /// # Errors
    /// 409 `illegal_transition` unless received.
    pub fn start(
        &mut self,
        w: &mut BulkWriter,
        user: &CurrentUser,
        at: DateTime<Utc>,
    ) -> Result<(), AppError> {
        self.act(w, user, Action::Start, None, at)?;
        Ok(())
    }

    /// Enters one determination as `entry::enter` does and returns the precision outcome.
    ///
    /// # Errors
    /// 422 for a bad value; 409 `not_in_testing`, `analysis_already_accepted`,
    /// `same_technician`; 422 `impossible_result` (as `entry::enter`).
    pub fn enter(
        &mut self,
        w: &mut BulkWriter,
        user: &CurrentUser,
        analysis: Analysis,
        text: &str,
        at: DateTime<Utc>,
    ) -> Result<PrecisionOutcome, AppError> {
        parse_determination(analysis, text).map_err(|e| {
            AppError::invalid("invalid_value", format!("{}: {e}", analysis.as_code()))
        })?;
        let table = default_table(analysis).ok_or_else(|| {
            AppError::invalid(
                "no_repeatability_table",
                format!(
                    "no repeatability limit is configured for {}",
                    analysis.as_code()
                ),
            )
        })?;
        let stage = match self.s.state {
            SampleState::InitialTesting => Stage::InitialTest,
            SampleState::RetestTesting => Stage::Retest,
            other => {
                return Err(AppError::conflict("not_in_testing", format!(
                    "determinations are entered in state initial_testing or retest_testing; the sample is {}", other.as_code())))
            }
        };
        let stage_ix = self
            .stage_ix(stage)
            .ok_or_else(|| AppError::Internal("stage row missing".into()))?;
        if stage == Stage::Retest
            && self
                .entered_by
                .get(&Stage::InitialTest)
                .is_some_and(|v| v.contains(&user.id))
        {
            return Err(AppError::conflict(
                "same_technician",
                "the retest must be done by a technician other than the one of the initial test",
            ));
        }
        let stage_id = w.stages[stage_ix].id;
        let st = self.analyses.entry((stage, analysis)).or_default();
        if let Some(mean) = st.accepted {
            return Err(AppError::conflict(
                "analysis_already_accepted",
                format!(
                    "{} already has an accepted mean ({mean}); no more determinations are needed",
                    analysis.as_code()
                ),
            ));
        }
        if st.run == 0 || st.discarded {
            st.run += 1;
            st.texts.clear();
            st.run_ix = None;
            st.discarded = false;
        }
        let typed = crate::domain::decimal::recorded_text(text);
        let seq = st.texts.len() as i32 + 1;
        let run = st.run;
        st.texts.push(typed.clone());
        let values = st
            .texts
            .iter()
            .map(|t| Decimal::from_str(t).map_err(internal))
            .collect::<Result<Vec<_>, _>>()?;
        let outcome = assess(&values, &table)
            .map_err(|e| AppError::conflict("precision_rule", e.to_string()))?;
        if let PrecisionOutcome::Accepted { mean, .. } = &outcome {
            let mut means = self.accepted_means(stage);
            means.insert(analysis, *mean);
            derive_results(&means).map_err(|e| {
                AppError::invalid(
                    "impossible_result",
                    format!(
                        "{} mean {mean} with the other accepted means: {e}; check the value",
                        analysis.as_code()
                    ),
                )
            })?;
        }
        let (code, mean) = match &outcome {
            PrecisionOutcome::Accepted { mean, .. } => ("accepted", Some(mean.to_string())),
            PrecisionOutcome::NeedsAnotherDetermination { .. } => {
                ("needs_another_determination", None)
            }
            PrecisionOutcome::DiscardAndRestart { .. } => ("discard_and_restart", None),
        };
        let detail = serde_json::to_string(&outcome).map_err(internal)?;
        let st = self.analyses.entry((stage, analysis)).or_default();
        match st.run_ix {
            Some(ix) => {
                let r = &mut w.runs[ix];
                r.outcome = code;
                r.mean = mean.clone();
                r.detail = detail;
            }
            None => {
                w.runs.push(RunOut {
                    stage_id,
                    analysis,
                    run,
                    outcome: code,
                    mean: mean.clone(),
                    detail,
                });
                st.run_ix = Some(w.runs.len() - 1);
            }
        }
        match code {
            // The stored mean is read back as the workflow reads it (text → decimal).
            "accepted" => {
                st.accepted = mean
                    .as_deref()
                    .map(Decimal::from_str)
                    .transpose()
                    .map_err(internal)?;
            }
            "discard_and_restart" => st.discarded = true,
            _ => {}
        }
        w.dets.push(DetOut {
            id: w.next_det,
            stage_id,
            analysis,
            run,
            seq,
            value_text: typed.clone(),
            entered_by: user.id,
            entered_at: to_ms(at),
        });
        w.next_det += 1;
        let by = self.entered_by.entry(stage).or_default();
        if !by.contains(&user.id) {
            by.push(user.id);
        }
        w.event(
            to_ms(at),
            NewEvent {
                actor: user.username.clone(),
                action: "determination.enter".into(),
                entity: "determination".into(),
                entity_id: format!(
                    "{}/{}/{}/{}/{}",
                    self.s.sample_code,
                    stage.as_code(),
                    analysis.as_code(),
                    run,
                    seq
                ),
                sample_id: Some(self.s.id),
                before: None,
                after: Some(serde_json::json!({"value": typed, "precision": outcome})),
                reason: None,
            },
        );
        Ok(outcome)
    }

    fn accepted_means(&self, stage: Stage) -> BTreeMap<Analysis, Decimal> {
        self.analyses
            .iter()
            .filter(|((s, _), _)| *s == stage)
            .filter_map(|((_, a), st)| st.accepted.map(|m| (*a, m)))
            .collect()
    }

    fn current(&self) -> Result<(Stage, usize), AppError> {
        let stage = self
            .s
            .current_stage
            .ok_or_else(|| AppError::Internal("no current stage".into()))?;
        Ok((
            stage,
            self.stage_ix(stage)
                .ok_or_else(|| AppError::Internal("no stage".into()))?,
        ))
    }

    fn precision_met(&self, stage: Stage) -> Result<BTreeMap<Analysis, Decimal>, AppError> {
        let needed = analyses_for(
            self.s
                .frozen
                .sets
                .iter()
                .flat_map(|s| s.limits.iter().map(|l| l.parameter)),
        );
        let means = self.accepted_means(stage);
        let missing: Vec<&str> = needed
            .iter()
            .filter(|a| !means.contains_key(a))
            .map(|a| a.as_code())
            .collect();
        if !missing.is_empty() {
            return Err(AppError::conflict(
                "precision_not_met",
                format!(
                    "these analyses have no accepted mean yet: {}",
                    missing.join(", ")
                ),
            ));
        }
        Ok(means)
    }

    /// Submits the current stage for review.
    ///
    /// # Errors
    /// 409 `illegal_transition`; 409 `precision_not_met` (nothing changes).
    pub fn submit(
        &mut self,
        w: &mut BulkWriter,
        user: &CurrentUser,
        at: DateTime<Utc>,
    ) -> Result<(), AppError> {
        transition(self.s.state, Action::Submit, Actor::User(user.role))
            .map_err(transition_error)?;
        let (stage, ix) = self.current()?;
        self.precision_met(stage)?;
        w.stages[ix].submitted_at = Some(to_ms(at));
        self.act(w, user, Action::Submit, None, at)?;
        Ok(())
    }

    /// Releases the current stage as `workflow::apply_action(Release)` does; returns its
    /// verdict code.
    ///
    /// # Errors
    /// 409 `illegal_transition`, `four_eyes`, `precision_not_met`, `cannot_judge`.
    pub fn release(
        &mut self,
        w: &mut BulkWriter,
        lab: &LabFacts,
        sup: &SupplierFacts,
        reviewer: &CurrentUser,
        at: DateTime<Utc>,
    ) -> Result<String, AppError> {
        let mut next = transition(self.s.state, Action::Release, Actor::User(reviewer.role))
            .map_err(transition_error)?;
        let (stage, stage_ix) = self.current()?;
        if self
            .entered_by
            .get(&stage)
            .is_some_and(|v| v.contains(&reviewer.id))
        {
            return Err(AppError::conflict(
                "four_eyes",
                "a stage is released by a reviewer who entered none of its determinations",
            ));
        }
        let means = self.precision_met(stage)?;
        let at_ms = to_ms(at);
        let stage_id = w.stages[stage_ix].id;
        let results: Vec<DerivedResult> = derive_results(&means)
            .map_err(|e| AppError::invalid("impossible_result", e.to_string()))?;
        let values: BTreeMap<ResultParameter, Decimal> =
            results.iter().map(|r| (r.parameter, r.value)).collect();
        let set_refs: Vec<&LimitSet> = self.s.frozen.sets.iter().collect();
        let verdict = judge_stage(&values, &set_refs)
            .map_err(|e| AppError::conflict("cannot_judge", e.to_string()))?;
        let reproducibility = if stage == Stage::Retest {
            let initial: Vec<serde_json::Value> = self
                .stage_ix(Stage::InitialTest)
                .and_then(|ix| w.stages[ix].results.as_deref())
                .map(serde_json::from_str)
                .transpose()
                .map_err(internal)?
                .unwrap_or_default();
            let initial_value = |p: ResultParameter| -> Option<Decimal> {
                let r = initial
                    .iter()
                    .find(|r| r.get("parameter").and_then(|v| v.as_str()) == Some(p.as_code()))?;
                Decimal::from_str(r.get("value")?.as_str()?).ok()
            };
            let checks: Vec<_> = [ResultParameter::Ad, ResultParameter::Std]
                .iter()
                .filter_map(|p| {
                    let a = initial_value(*p)?;
                    let b = values.get(p)?;
                    check_reproducibility(*p, a, *b).ok()
                })
                .collect();
            Some(serde_json::to_string(&checks).map_err(internal)?)
        } else {
            None
        };
        let report_no = format!(
            "{}-{}",
            self.s.sample_code,
            if stage == Stage::Retest { "R1" } else { "I1" }
        );
        let verdict_code = verdict.verdict.as_code().to_string();
        let detail = serde_json::to_string(&verdict.limits).map_err(internal)?;
        let results_json = serde_json::to_string(&results).map_err(internal)?;
        // stage_results rows as result_rows::store reads them from the stored JSON.
        for r in serde_json::from_str::<Vec<serde_json::Value>>(&results_json).map_err(internal)? {
            let field = |name: &str| -> Result<String, AppError> {
                r.get(name)
                    .and_then(|x| x.as_str())
                    .map(String::from)
                    .ok_or_else(|| AppError::Internal(format!("stored result lacks '{name}'")))
            };
            w.results.push(ResultOut {
                stage_id,
                parameter: field("parameter")?,
                basis: field("basis")?,
                value: field("value")?,
                reported: field("reported")?,
            });
        }
        for l in &verdict.limits {
            w.verdicts.push((stage_id, l.clone()));
        }
        w.event(
            at_ms,
            NewEvent {
                actor: reviewer.username.clone(),
                action: "stage.release".into(),
                entity: "stage".into(),
                entity_id: report_no.clone(),
                sample_id: Some(self.s.id),
                before: None,
                after: Some(
                    serde_json::json!({"stage": stage.as_code(), "verdict": verdict_code, "results": results, "limits": verdict.limits, "reproducibility": reproducibility}),
                ),
                reason: None,
            },
        );
        {
            let st = &mut w.stages[stage_ix];
            st.released_at = Some(at_ms);
            st.released_by = Some(reviewer.id);
            st.verdict = Some(verdict_code.clone());
            st.verdict_detail = Some(detail);
            st.results = Some(results_json);
            st.reproducibility = reproducibility;
            st.report_no = Some(report_no);
        }
        // retention::on_release: the retained sample's discard date counts from this release.
        let released_on = at.with_timezone(&lab.tz).date_naive();
        self.s.retained_discard_on = Some(
            released_on
                .checked_add_days(Days::new(u64::from(sup.keep_days)))
                .unwrap_or(NaiveDate::MAX)
                .to_string(),
        );
        self.s.final_verdict = Some(verdict_code.clone());
        self.s.due_at = None;
        let before = self.s.state;
        let version = self.s.version;
        let closes = stage == Stage::Retest || verdict_code == "pass";
        if closes {
            next = transition(next, Action::Close, Actor::System).map_err(transition_error)?;
            self.s.closed_at = Some(at_ms);
        }
        self.s.state = next;
        self.s.version += 1;
        w.event(
            at_ms,
            NewEvent {
                actor: reviewer.username.clone(),
                action: "sample.release".into(),
                entity: "sample".into(),
                entity_id: self.s.sample_code.clone(),
                sample_id: Some(self.s.id),
                before: Some(serde_json::json!({"state": before.as_code(), "version": version})),
                after: Some(serde_json::json!({"state": next.as_code(), "version": version + 1})),
                reason: None,
            },
        );
        if closes {
            w.event(
                at_ms,
                NewEvent {
                    actor: "system".into(),
                    action: "sample.close".into(),
                    entity: "sample".into(),
                    entity_id: self.s.sample_code.clone(),
                    sample_id: Some(self.s.id),
                    before: None,
                    after: Some(serde_json::json!({"state": next.as_code()})),
                    reason: Some(format!(
                        "{} verdict {} is final",
                        stage.as_code(),
                        verdict_code
                    )),
                },
            );
        }
        Ok(verdict_code)
    }

    /// Records when the enterprise received the initial result (as
    /// `workflow::record_result_received`); returns the appeal window.
    ///
    /// # Errors
    /// 409 `illegal_transition` unless initial_released.
    pub fn result_received(
        &mut self,
        w: &mut BulkWriter,
        lab: &LabFacts,
        sup: &SupplierFacts,
        user: &CurrentUser,
        received: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<AppealWindow, AppError> {
        if self.s.state != SampleState::InitialReleased {
            return Err(AppError::conflict(
                "illegal_transition",
                "the result receipt is recorded only in state initial_released",
            ));
        }
        let received = crate::time::from_ms(to_ms(received));
        let window = appeal_window(&lab.calendar, received, &sup.policy);
        let before = self.s.result_received_at;
        self.s.result_received_at = Some(to_ms(received));
        self.s.appeal_closes_at = Some(to_ms(window.closes_at));
        self.s.version += 1;
        w.event(
            to_ms(at),
            NewEvent {
                actor: user.username.clone(),
                action: "sample.result_received".into(),
                entity: "sample".into(),
                entity_id: self.s.sample_code.clone(),
                sample_id: Some(self.s.id),
                before: Some(serde_json::json!({"result_received_at": before})),
                after: Some(
                    serde_json::json!({"result_received_at": to_ms(received), "appeal_last_day": window.last_day.to_string()}),
                ),
                reason: None,
            },
        );
        Ok(window)
    }

    /// The enterprise appeals: the retest stage starts (as `apply_action(RequestRetest)` with
    /// the recorded seal).
    ///
    /// # Errors
    /// 409 `illegal_transition`, `retest_not_applicable`, `appeal_window_closed`.
    #[allow(clippy::too_many_arguments)]
    pub fn request_retest(
        &mut self,
        w: &mut BulkWriter,
        lab: &LabFacts,
        sup: &SupplierFacts,
        window: &AppealWindow,
        user: &CurrentUser,
        reason: &str,
        condition: &str,
        at: DateTime<Utc>,
    ) -> Result<(), AppError> {
        transition(self.s.state, Action::RequestRetest, Actor::User(user.role))
            .map_err(transition_error)?;
        if self.s.final_verdict.as_deref() != Some("fail") {
            return Err(AppError::conflict(
                "retest_not_applicable",
                "only a failed initial test can be appealed",
            ));
        }
        if !appeal_open(window, at) {
            return Err(AppError::conflict(
                "appeal_window_closed",
                "the appeal window is closed",
            ));
        }
        let due = stage_due(&lab.calendar, at, sup.policy.retest_working_days, &[]);
        self.new_stage(w, Stage::Retest, at, due);
        self.s.retest_requested_at = Some(to_ms(at));
        self.s.retained_condition = Some(condition.to_string());
        self.s.current_stage = Some(Stage::Retest);
        self.s.due_at = Some(to_ms(due));
        self.act(w, user, Action::RequestRetest, Some(reason), at)?;
        Ok(())
    }

    /// Closes a failed, unappealed sample after its appeal window.
    ///
    /// # Errors
    /// 409 `illegal_transition`, `appeal_window_open`.
    pub fn close(
        &mut self,
        w: &mut BulkWriter,
        window: &AppealWindow,
        user: &CurrentUser,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), AppError> {
        transition(self.s.state, Action::Close, Actor::User(user.role))
            .map_err(transition_error)?;
        if appeal_open(window, at) {
            return Err(AppError::conflict(
                "appeal_window_open",
                format!(
                    "the appeal window is open until the end of {}",
                    window.last_day
                ),
            ));
        }
        self.s.closed_at = Some(to_ms(at));
        self.act(w, user, Action::Close, Some(reason), at)?;
        Ok(())
    }
}

/// Writes `items` into `table`: on SQLite as multi-row INSERTs of at most 32 766 bound values
/// each (SQLite's limit), on PostgreSQL with one binary `COPY … FROM STDIN` (no bound-value
/// limit, far fewer bytes parsed). `$tuple` maps an item `$r` to the row's column values.
macro_rules! put_rows {
    ($tx:expr, $table:expr, $items:expr, $ncols:expr, |$r:ident| $tuple:expr) => {{
        let items = &$items;
        if !items.is_empty() {
            match $tx {
                Tx::Sqlite(c) => {
                    for chunk in items.chunks((32_766 / $ncols).max(1)) {
                        let rows: Vec<_> = chunk.iter().map(|$r| $tuple).collect();
                        diesel::insert_into($table).values(rows).execute(&mut **c)?;
                    }
                }
                Tx::Pg(c) => {
                    let rows: Vec<_> = items.iter().map(|$r| $tuple).collect();
                    diesel::copy_from($table)
                        .from_insertable(rows)
                        .execute(&mut **c)?;
                }
            }
        }
    }};
}

fn insert_rows(tx: &mut Tx<'_>, b: &BulkWriter) -> Result<(), AppError> {
    use diesel::{ExecuteCopyFromDsl, RunQueryDsl};
    put_rows!(tx, samples::table, b.samples, 27, |s| (
        samples::id.eq(s.id),
        samples::sample_code.eq(&s.sample_code),
        samples::lab_code.eq(&s.lab_code),
        samples::lab_id.eq(s.lab_id),
        samples::supplier_id.eq(s.supplier_id),
        samples::state.eq(s.state.as_code()),
        samples::coal_category.eq(&s.coal_category),
        samples::sampled_at.eq(s.sampled_at),
        samples::sampled_on.eq(&s.sampled_on),
        samples::test_seal_no.eq(&s.test_seal_no),
        samples::retained_seal_no.eq(&s.retained_seal_no),
        samples::retained_discard_on.eq(&s.retained_discard_on),
        samples::retained_condition.eq(&s.retained_condition),
        samples::limit_sets_frozen.eq(&s.frozen.json),
        samples::registered_at.eq(s.registered_at),
        samples::received_at.eq(s.received_at),
        samples::result_received_at.eq(s.result_received_at),
        samples::appeal_closes_at.eq(s.appeal_closes_at),
        samples::retest_requested_at.eq(s.retest_requested_at),
        samples::closed_at.eq(s.closed_at),
        samples::final_verdict.eq(&s.final_verdict),
        samples::current_stage.eq(s.current_stage.map(|c| c.as_code())),
        samples::due_at.eq(s.due_at),
        samples::state_reason.eq(&s.state_reason),
        samples::idempotency_key.eq(&s.idempotency_key),
        samples::version.eq(s.version),
        samples::created_by.eq(s.created_by),
    ));
    put_rows!(tx, sampling_records::table, b.records, 12, |r| (
        sampling_records::sample_id.eq(r.sample_id),
        sampling_records::claimed_grade.eq(&r.claimed_grade),
        sampling_records::lot_no.eq(&r.lot_no),
        sampling_records::lot_mass_t.eq(&r.lot_mass_t),
        sampling_records::top_size_mm.eq(r.top_size_mm),
        sampling_records::sampling_method.eq(&r.sampling_method),
        sampling_records::increments.eq(r.increments),
        sampling_records::gross_mass_kg.eq(&r.gross_mass_kg),
        sampling_records::samplers.eq(&r.samplers),
        sampling_records::retained_custodian.eq(&r.retained_custodian),
        sampling_records::retained_location.eq(&r.retained_location),
        sampling_records::prepared_on.eq(&r.prepared_on),
    ));
    put_rows!(tx, stages::table, b.stages, 13, |r| (
        stages::id.eq(r.id),
        stages::sample_id.eq(r.sample_id),
        stages::stage.eq(r.stage.as_code()),
        stages::started_at.eq(r.started_at),
        stages::due_at.eq(r.due_at),
        stages::submitted_at.eq(r.submitted_at),
        stages::released_at.eq(r.released_at),
        stages::released_by.eq(r.released_by),
        stages::verdict.eq(&r.verdict),
        stages::verdict_detail.eq(&r.verdict_detail),
        stages::results.eq(&r.results),
        stages::reproducibility.eq(&r.reproducibility),
        stages::report_no.eq(&r.report_no),
    ));
    put_rows!(tx, determinations::table, b.dets, 8, |r| (
        determinations::id.eq(r.id),
        determinations::stage_id.eq(r.stage_id),
        determinations::analysis.eq(r.analysis.as_code()),
        determinations::run.eq(r.run),
        determinations::seq.eq(r.seq),
        determinations::value_text.eq(&r.value_text),
        determinations::entered_by.eq(r.entered_by),
        determinations::entered_at.eq(r.entered_at),
    ));
    put_rows!(tx, analysis_runs::table, b.runs, 6, |r| (
        analysis_runs::stage_id.eq(r.stage_id),
        analysis_runs::analysis.eq(r.analysis.as_code()),
        analysis_runs::run.eq(r.run),
        analysis_runs::outcome.eq(r.outcome),
        analysis_runs::mean.eq(&r.mean),
        analysis_runs::detail.eq(&r.detail),
    ));
    put_rows!(tx, stage_results::table, b.results, 6, |r| (
        stage_results::stage_id.eq(r.stage_id),
        stage_results::revision.eq(1),
        stage_results::parameter.eq(&r.parameter),
        stage_results::basis.eq(&r.basis),
        stage_results::value.eq(&r.value),
        stage_results::reported.eq(&r.reported),
    ));
    put_rows!(tx, limit_verdicts::table, b.verdicts, 13, |v| (
        limit_verdicts::stage_id.eq(v.0),
        limit_verdicts::revision.eq(1),
        limit_verdicts::limit_set_id.eq(&v.1.limit_set_id),
        limit_verdicts::parameter.eq(v.1.parameter.as_code()),
        limit_verdicts::operator.eq(v.1.operator.as_code()),
        limit_verdicts::limit_value.eq(v.1.limit_value.to_string()),
        limit_verdicts::limit_decimals.eq(v.1.limit_decimals as i32),
        limit_verdicts::method.eq(v.1.method.as_code()),
        limit_verdicts::value.eq(v.1.value.to_string()),
        limit_verdicts::rounded_value.eq(v.1.rounded_value.to_string()),
        limit_verdicts::compared_value.eq(v.1.compared_value.to_string()),
        limit_verdicts::verdict.eq(v.1.verdict.as_code()),
        limit_verdicts::source.eq(&v.1.source),
    ));
    put_rows!(tx, audit_events::table, b.events, 12, |e| (
        audit_events::seq.eq(e.seq),
        audit_events::at.eq(e.at),
        audit_events::actor.eq(&e.actor),
        audit_events::action.eq(&e.action),
        audit_events::entity.eq(&e.entity),
        audit_events::entity_id.eq(&e.entity_id),
        audit_events::sample_id.eq(e.sample_id),
        audit_events::before_json.eq(&e.before_json),
        audit_events::after_json.eq(&e.after_json),
        audit_events::reason.eq(&e.reason),
        audit_events::prev_hash.eq(&e.prev_hash),
        audit_events::hash.eq(&e.hash),
    ));
    Ok(())
}
