//! The status of one sample by sample code or report number, as a regulator asks for it
//! (docs/reports.md): its effective state at `now`, whether its verdict is final, and each
//! stage's deadline and verdict (no results or limits).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::db::schema::{samples, stage_revisions, stages, suppliers};
use crate::db::Tx;
use crate::domain::effective::StoredFinality;
use crate::domain::lifecycle::SampleState;
use crate::domain::terms::Role;
use crate::error::AppError;
use crate::service::auth::CurrentUser;
use crate::time::ms_to_rfc3339;
use crate::with_tx;

/// The status of one sample, as a regulator asks for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SampleStatus {
    /// Sample code.
    pub sample_code: String,
    /// Supplier code.
    pub supplier_code: String,
    /// Supplier name.
    pub supplier_name: String,
    /// Supplier kind.
    pub supplier_kind: String,
    /// Supplier town.
    pub town: String,
    /// Local sampling date.
    pub sampled_on: String,
    /// The state as stored.
    pub state: String,
    /// The state at `now` (closed once an appeal window lapsed without a retest request).
    pub effective_state: String,
    /// Verdict so far (initial, or the retest's once released).
    pub final_verdict: Option<String>,
    /// Whether that verdict is final.
    pub verdict_is_final: bool,
    /// When it became final (RFC 3339).
    pub final_at: Option<String>,
    /// End of the appeal window (exclusive, RFC 3339), once the result receipt is recorded.
    pub appeal_closes_at: Option<String>,
    /// Retest requested and not yet released.
    pub open_appeal: bool,
    /// Stages in order.
    pub stages: Vec<StageStatus>,
}

/// One stage of a sample (deadline and verdict; no results or limits).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StageStatus {
    /// initial_test or retest.
    pub stage: String,
    /// Report number, once released.
    pub report_no: Option<String>,
    /// Start (RFC 3339).
    pub started_at: String,
    /// Due (RFC 3339).
    pub due_at: String,
    /// Released (RFC 3339).
    pub released_at: Option<String>,
    /// Stage verdict, once released.
    pub verdict: Option<String>,
    /// Released after due, or open and past due now.
    pub overdue: bool,
}

/// One row of the status statement: the sample with its supplier, and one of its stages (all
/// stage columns `None` before the first stage).
type StatusRow = (
    SampleColumns,
    (String, String, String, String),
    (
        Option<String>,
        Option<String>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<String>,
    ),
);

/// lab_id, sample_code, sampled_on, state, final_verdict, appeal_closes_at, retest_requested_at,
/// closed_at.
type SampleColumns = (
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

/// The status of the sample with this sample code or report number (exactly one of them).
///
/// # Errors
/// 422 unless exactly one key is given, and it is not blank; 404 when there is no such sample, it belongs to another
/// lab (lab staff), or (regulators and auditors) nothing of it is released.
pub fn sample_status(
    tx: &mut Tx<'_>,
    user: &CurrentUser,
    sample_code: Option<&str>,
    report_no: Option<&str>,
    now: DateTime<Utc>,
) -> Result<SampleStatus, AppError> {
    let now_ms = now.timestamp_millis();
    let key = match (sample_code, report_no) {
        (Some(c), None) => c.trim(),
        (None, Some(r)) => r.trim(),
        _ => {
            return Err(AppError::invalid(
                "invalid_value",
                "give exactly one of sample_code and report_no",
            ))
        }
    };
    if key.is_empty() {
        let field = if sample_code.is_some() {
            "sample_code"
        } else {
            "report_no"
        };
        return Err(AppError::invalid(
            "missing_value",
            format!("{field} must not be empty"),
        ));
    }
    // The key is echoed back shortened: a code or report number is far shorter than 64.
    let shown: String = match key.char_indices().nth(64) {
        Some((end, _)) => format!("{}…", &key[..end]),
        None => key.to_string(),
    };
    let not_found = || match report_no {
        None => AppError::NotFound(format!("sample '{shown}' not found or not released")),
        Some(_) => AppError::NotFound(format!("report '{shown}' not found or not released")),
    };
    let code = match report_no {
        None => key.to_string(),
        Some(_) => match with_tx!(tx, |c| stages::table
            .inner_join(samples::table)
            .filter(stages::report_no.eq(key))
            .select(samples::sample_code)
            .first::<String>(c)
            .optional())?
        {
            Some(code) => code,
            // A report replaced by an amendment (`…-I1` after `…-I2` was issued) still names
            // its sample, as /verify still accepts it; the stages below show the current
            // report numbers. Only on a miss, so the usual lookup stays one statement.
            None => with_tx!(tx, |c| stage_revisions::table
                .inner_join(stages::table.inner_join(samples::table))
                .filter(
                    stage_revisions::report_no
                        .eq(key)
                        .or(stage_revisions::replaces_report_no.eq(key))
                )
                .select(samples::sample_code)
                .first::<String>(c)
                .optional())?
            .ok_or_else(not_found)?,
        },
    };
    // One statement (prepared once per connection): the sample with its supplier and its
    // stages in order, one row per stage, or one row with no stage before the first stage.
    let mut rows: Vec<StatusRow> = with_tx!(tx, |c| samples::table
        .inner_join(suppliers::table)
        .left_join(stages::table)
        .filter(samples::sample_code.eq(&code))
        .order(stages::id.nullable().asc())
        .select((
            (
                samples::lab_id,
                samples::sample_code,
                samples::sampled_on,
                samples::state,
                samples::final_verdict,
                samples::appeal_closes_at,
                samples::retest_requested_at,
                samples::closed_at,
            ),
            (
                suppliers::code,
                suppliers::name,
                suppliers::kind,
                suppliers::town,
            ),
            (
                stages::stage.nullable(),
                stages::report_no.nullable(),
                stages::started_at.nullable(),
                stages::due_at.nullable(),
                stages::released_at.nullable(),
                stages::verdict.nullable(),
            ),
        ))
        .load(c))?;
    let Some((
        (lab_id, _, _, state, final_verdict, appeal_closes_at, retest_requested_at, closed_at),
        ..,
    )) = rows.first()
    else {
        return Err(not_found());
    };
    let stored = StoredFinality {
        state: SampleState::from_code(state).map_err(|e| AppError::Internal(e.to_string()))?,
        appeal_closes_at: *appeal_closes_at,
        retest_requested_at: *retest_requested_at,
        closed_at: *closed_at,
    };
    let (lab_id, released) = (*lab_id, final_verdict.is_some());
    let outsider = matches!(user.role, Role::Regulator | Role::Auditor);
    let other_lab =
        matches!(user.role, Role::Technician | Role::Reviewer) && user.lab_id != Some(lab_id);
    if other_lab || (outsider && !released) {
        return Err(not_found());
    }
    let withdrawn = matches!(stored.state, SampleState::Rejected | SampleState::Cancelled);
    let stages: Vec<StageStatus> = rows
        .iter_mut()
        .filter_map(|(_, _, g)| {
            let (started, due) = (g.2?, g.3?);
            Some(StageStatus {
                overdue: match g.4 {
                    Some(rel) => rel > due,
                    None => !withdrawn && now_ms > due,
                },
                stage: g.0.take()?,
                report_no: g.1.take(),
                started_at: ms_to_rfc3339(started),
                due_at: ms_to_rfc3339(due),
                released_at: g.4.map(ms_to_rfc3339),
                verdict: g.5.take(),
            })
        })
        .collect();
    let (
        (_, sample_code, sampled_on, state, final_verdict, appeal_closes_at, ..),
        (supplier_code, supplier_name, supplier_kind, town),
        _,
    ) = rows.swap_remove(0);
    let effective = stored.effective_state(now_ms);
    Ok(SampleStatus {
        verdict_is_final: effective == SampleState::Closed,
        final_at: stored.final_at(now_ms).map(ms_to_rfc3339),
        appeal_closes_at: appeal_closes_at.map(ms_to_rfc3339),
        open_appeal: matches!(
            stored.state,
            SampleState::RetestTesting | SampleState::RetestReview
        ),
        stages,
        sample_code,
        supplier_code,
        supplier_name,
        supplier_kind,
        town,
        sampled_on,
        state,
        effective_state: effective.as_code().to_string(),
        final_verdict,
    })
}
