//! The status of one sample by sample code or report number, as a regulator asks for it
//! (docs/reports.md): its effective state at `now`, whether its verdict is final, and each
//! stage's deadline and verdict (no results or limits).

use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::QueryableByName;
use serde::Serialize;

use crate::db::Tx;
use crate::domain::terms::Role;
use crate::error::AppError;
use crate::service::auth::CurrentUser;
use crate::service::reports_sql::{effective_closed_at, effective_state, load_rows, Bind, NOW_CTE};
use crate::time::ms_to_rfc3339;

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

#[derive(QueryableByName)]
struct StatusRow {
    #[diesel(sql_type = BigInt)]
    lab_id: i64,
    #[diesel(sql_type = Text)]
    sample_code: String,
    #[diesel(sql_type = Text)]
    code: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    town: String,
    #[diesel(sql_type = Text)]
    sampled_on: String,
    #[diesel(sql_type = Text)]
    state: String,
    #[diesel(sql_type = Text)]
    eff_state: String,
    #[diesel(sql_type = Nullable<Text>)]
    final_verdict: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    final_at: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    appeal_closes_at: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    stage: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    report_no: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    started_at: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    due_at: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    released_at: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    verdict: Option<String>,
}

/// The status of the sample with this sample code or report number (exactly one of them).
///
/// # Errors
/// 422 unless exactly one key is given; 404 when there is no such sample, it belongs to another
/// lab (lab staff), or (regulators and auditors) nothing of it is released.
pub fn sample_status(
    tx: &mut Tx<'_>,
    user: &CurrentUser,
    sample_code: Option<&str>,
    report_no: Option<&str>,
    now: DateTime<Utc>,
) -> Result<SampleStatus, AppError> {
    let now_ms = now.timestamp_millis();
    let (cond, key) = match (sample_code, report_no) {
        (Some(c), None) => ("s.sample_code = ?", c),
        (None, Some(r)) => (
            "s.id = (SELECT r.sample_id FROM stages r WHERE r.report_no = ?)",
            r,
        ),
        _ => {
            return Err(AppError::invalid(
                "invalid_value",
                "give exactly one of sample_code and report_no",
            ))
        }
    };
    // One statement: the sample with its supplier and its stages in order (one row per stage,
    // or one row with NULL stage columns before the first stage).
    let sql = format!(
        "WITH {NOW_CTE} SELECT s.lab_id, s.sample_code, sp.code, sp.name, sp.kind, sp.town, s.sampled_on, \
           s.state, {eff} AS eff_state, s.final_verdict, {closed} AS final_at, s.appeal_closes_at, \
           g.stage, g.report_no, g.started_at, g.due_at, g.released_at, g.verdict \
         FROM samples s JOIN suppliers sp ON sp.id = s.supplier_id \
           LEFT JOIN stages g ON g.sample_id = s.id WHERE {cond} ORDER BY g.id",
        eff = effective_state(),
        closed = effective_closed_at(),
    );
    let binds = [Bind::Int(now_ms), Bind::Text(key.trim().to_string())];
    let mut rows: Vec<StatusRow> = load_rows(tx, &sql, &binds)?;
    let not_found =
        || AppError::NotFound(format!("sample '{}' not found or not released", key.trim()));
    let stages: Vec<StageStatus> = {
        let Some(first) = rows.first() else {
            return Err(not_found());
        };
        let outsider = matches!(user.role, Role::Regulator | Role::Auditor);
        let other_lab = matches!(user.role, Role::Technician | Role::Reviewer)
            && user.lab_id != Some(first.lab_id);
        if other_lab || (outsider && first.final_verdict.is_none()) {
            return Err(not_found());
        }
        let withdrawn = matches!(first.state.as_str(), "rejected" | "cancelled");
        rows.iter_mut()
            .filter_map(|r| {
                let (started, due) = (r.started_at?, r.due_at?);
                Some(StageStatus {
                    overdue: match r.released_at {
                        Some(rel) => rel > due,
                        None => !withdrawn && now_ms > due,
                    },
                    stage: r.stage.take()?,
                    report_no: r.report_no.take(),
                    started_at: ms_to_rfc3339(started),
                    due_at: ms_to_rfc3339(due),
                    released_at: r.released_at.map(ms_to_rfc3339),
                    verdict: r.verdict.take(),
                })
            })
            .collect()
    };
    let row = rows.swap_remove(0);
    let open_appeal = matches!(row.state.as_str(), "retest_testing" | "retest_review");
    Ok(SampleStatus {
        verdict_is_final: row.eff_state == "closed",
        final_at: row.final_at.map(ms_to_rfc3339),
        appeal_closes_at: row.appeal_closes_at.map(ms_to_rfc3339),
        open_appeal,
        stages,
        sample_code: row.sample_code,
        supplier_code: row.code,
        supplier_name: row.name,
        supplier_kind: row.kind,
        town: row.town,
        sampled_on: row.sampled_on,
        state: row.state,
        effective_state: row.eff_state,
        final_verdict: row.final_verdict,
    })
}
