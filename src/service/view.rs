//! The full view of one sample, shaped by role: technicians see the blind lab code and not the
//! supplier; regulators and auditors see a stage's values only after its release.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::db::schema::samples as sample_rows;
use crate::db::schema::{analysis_runs, determinations, sampling_records, stages, suppliers};
use crate::db::Tx;
use crate::domain::lifecycle::{allowed_actors, legal_actions, Actor};
use crate::domain::terms::Role;
use crate::error::AppError;
use crate::service::auth::CurrentUser;
use crate::service::reference::Supplier;
use crate::service::rows::{
    AnalysisRunRow, DeterminationRow, SampleRow, SamplingRecordRow, StageRow,
};
use crate::service::samples::SAMPLE_NOT_FOUND;
use crate::service::workflow::{check_visible, frozen_sets, state_of};
use crate::time::ms_to_rfc3339;
use crate::with_tx;

/// One analysis run with its determinations and the server's decision.
#[derive(Debug, Serialize)]
pub struct RunView {
    /// Analysis code.
    pub analysis: String,
    /// Run number.
    pub run: i32,
    /// Determinations as typed, in order.
    pub determinations: Vec<String>,
    /// The repeatability decision (JSON of the outcome).
    pub precision: serde_json::Value,
}

/// One stage.
#[derive(Debug, Serialize)]
pub struct StageView {
    /// initial_test or retest.
    pub stage: String,
    /// Start (receipt or retest request), RFC 3339.
    pub started_at: String,
    /// Due instant, RFC 3339.
    pub due_at: String,
    /// Released, RFC 3339.
    pub released_at: Option<String>,
    /// True when open past due or released after due.
    pub overdue: bool,
    /// Report number.
    pub report_no: Option<String>,
    /// Stage verdict.
    pub verdict: Option<String>,
    /// Results (value at full precision, reported value, basis, inputs).
    pub results: Option<serde_json::Value>,
    /// One entry per limit checked.
    pub limits: Option<serde_json::Value>,
    /// Initial-vs-retest reproducibility checks (retest only).
    pub reproducibility: Option<serde_json::Value>,
    /// Analysis runs (hidden from regulators and auditors until release).
    pub analyses: Vec<RunView>,
    /// Revisions when the stage was amended (revision 1 = the original release); absent if never.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub revisions: Vec<crate::service::amend_release::RevisionView>,
}

/// The whole sample.
#[derive(Debug, Serialize)]
pub struct SampleView {
    /// Id.
    pub id: i64,
    /// Sample code.
    pub sample_code: String,
    /// Blind lab code.
    pub lab_code: String,
    /// Supplier (hidden from technicians).
    pub supplier: Option<Supplier>,
    /// Lifecycle state.
    pub state: String,
    /// Reason of the last reasoned action.
    pub state_reason: Option<String>,
    /// Optimistic-lock version to send back with an action.
    pub version: i32,
    /// Actions this user may take now.
    pub actions: Vec<String>,
    /// Stage in progress or last released.
    pub current_stage: Option<String>,
    /// Due instant of the open stage.
    pub due_at: Option<String>,
    /// Open stage past due.
    pub overdue: bool,
    /// Final verdict so far (a retest's verdict is final).
    pub final_verdict: Option<String>,
    /// Sampling record.
    pub sampling: serde_json::Value,
    /// When the enterprise received the initial result.
    pub result_received_at: Option<String>,
    /// End of the appeal window (exclusive instant).
    pub appeal_closes_at: Option<String>,
    /// Limit sets frozen at registration (ids and sources); hidden from regulators and
    /// auditors until a stage is released.
    pub limit_sets: Option<serde_json::Value>,
    /// Stages.
    pub stages: Vec<StageView>,
}

fn parse_json(t: &Option<String>) -> Option<serde_json::Value> {
    t.as_deref().and_then(|s| serde_json::from_str(s).ok())
}

/// Reads one sample as `user` may see it.
///
/// # Errors
/// [`AppError::NotFound`] when it does not exist, belongs to another lab, or (for regulators and
/// auditors) has nothing released yet.
pub fn sample_view(
    tx: &mut Tx<'_>,
    user: &CurrentUser,
    id: i64,
    now: DateTime<Utc>,
) -> Result<SampleView, AppError> {
    // The sample with its supplier and sampling record in one query, and the analysis runs and
    // determinations of all its stages in one query each (not one per stage): a status lookup
    // is a handful of index seeks (docs/performance.md).
    let (s, supplier, record): (SampleRow, Supplier, Option<SamplingRecordRow>) =
        with_tx!(tx, |c| sample_rows::table
            .find(id)
            .inner_join(suppliers::table)
            .left_join(sampling_records::table)
            .first(c)
            .optional())?
        .ok_or_else(|| AppError::NotFound(SAMPLE_NOT_FOUND.to_string()))?;
    check_visible(&s, user)?;
    let outsider = matches!(user.role, Role::Regulator | Role::Auditor);
    let now_ms = now.timestamp_millis();
    let stage_rows: Vec<StageRow> = with_tx!(tx, |c| stages::table
        .filter(stages::sample_id.eq(s.id))
        .order(stages::id.asc())
        .load(c))?;
    let all_runs: Vec<AnalysisRunRow> = with_tx!(tx, |c| analysis_runs::table
        .inner_join(stages::table)
        .filter(stages::sample_id.eq(s.id))
        .select(analysis_runs::all_columns)
        .order((
            analysis_runs::stage_id,
            analysis_runs::analysis,
            analysis_runs::run
        ))
        .load(c))?;
    let all_dets: Vec<DeterminationRow> = with_tx!(tx, |c| determinations::table
        .inner_join(stages::table)
        .filter(stages::sample_id.eq(s.id))
        .select(determinations::all_columns)
        .order((
            determinations::stage_id,
            determinations::analysis,
            determinations::run,
            determinations::seq
        ))
        .load(c))?;
    let mut stage_views = Vec::new();
    for st in stage_rows {
        let released = st.released_at.is_some();
        let analyses = if outsider && !released {
            Vec::new()
        } else {
            let runs = all_runs.iter().filter(|r| r.stage_id == st.id);
            let dets: Vec<&DeterminationRow> =
                all_dets.iter().filter(|d| d.stage_id == st.id).collect();
            runs.map(|r| RunView {
                determinations: dets
                    .iter()
                    .filter(|d| d.analysis == r.analysis && d.run == r.run)
                    .map(|d| d.value_text.clone())
                    .collect(),
                precision: serde_json::from_str(&r.detail).unwrap_or(serde_json::Value::Null),
                analysis: r.analysis.clone(),
                run: r.run,
            })
            .collect()
        };
        if outsider && !released {
            continue;
        }
        let revisions = match crate::domain::terms::Stage::from_code(&st.stage) {
            Ok(stage) if released => {
                crate::service::amend_release::stage_views(tx, stage, st.id, outsider)?
            }
            _ => Vec::new(),
        };
        stage_views.push(StageView {
            revisions,
            overdue: st.released_at.map_or(now_ms > st.due_at, |r| r > st.due_at),
            stage: st.stage,
            started_at: ms_to_rfc3339(st.started_at),
            due_at: ms_to_rfc3339(st.due_at),
            released_at: st.released_at.map(ms_to_rfc3339),
            report_no: st.report_no,
            verdict: st.verdict,
            results: parse_json(&st.results),
            limits: parse_json(&st.verdict_detail),
            reproducibility: parse_json(&st.reproducibility),
            analyses,
        });
    }
    let state = state_of(&s)?;
    // Once the appeal window has ended the sample is closed in effect (domain::effective), even
    // before the closing job records it: a retest can no longer be requested.
    let lapsed = crate::domain::effective::StoredFinality {
        state,
        appeal_closes_at: s.appeal_closes_at,
        retest_requested_at: s.retest_requested_at,
        closed_at: s.closed_at,
    }
    .appeal_lapsed(now_ms);
    let actions = legal_actions(state)
        .into_iter()
        .filter(|a| allowed_actors(*a).contains(&Actor::User(user.role)))
        .filter(|a| !(lapsed && *a == crate::domain::lifecycle::Action::RequestRetest))
        .map(|a| a.as_code().to_string())
        .collect();
    let sets = frozen_sets(&s)?;
    let hide_supplier = matches!(user.role, Role::Technician);
    Ok(SampleView {
        id: s.id,
        sample_code: s.sample_code.clone(),
        lab_code: s.lab_code.clone(),
        supplier: (!hide_supplier).then_some(supplier),
        state: s.state.clone(),
        state_reason: s.state_reason.clone(),
        version: s.version,
        actions,
        current_stage: s.current_stage.clone(),
        due_at: s.due_at.map(ms_to_rfc3339),
        overdue: s.due_at.is_some_and(|d| d < now_ms),
        final_verdict: s.final_verdict.clone(),
        sampling: serde_json::json!({
            "coal_category": s.coal_category, "sampled_at": ms_to_rfc3339(s.sampled_at), "sampled_on": s.sampled_on,
            "test_seal_no": s.test_seal_no, "retained_seal_no": s.retained_seal_no,
            "retained_condition": s.retained_condition, "retained_discard_on": s.retained_discard_on,
            "received_at": s.received_at.map(ms_to_rfc3339), "record": record,
        }),
        result_received_at: s.result_received_at.map(ms_to_rfc3339),
        appeal_closes_at: s.appeal_closes_at.map(ms_to_rfc3339),
        limit_sets: Some(serde_json::to_value(&sets).unwrap_or_default()),
        stages: stage_views,
    })
}
