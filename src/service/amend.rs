//! Amendments: the only way to correct a released stage (DESIGN.md "Sample lifecycle": a
//! released result is never edited). A reviewer proposes a new revision with corrected
//! determinations and a reason; the server re-applies the repeatability rule (GB/T 483-2007),
//! derives the results and judges them against the limit sets frozen on the sample, and stores
//! the revision as pending. A second reviewer releases it ([`crate::service::amend_release`]):
//! four eyes apply to amendments as to first releases. Every revision stays readable.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::db::schema::{samples, stage_revisions};
use crate::db::Tx;
use crate::domain::decimal::parse_determination;
use crate::domain::limits::LimitSet;
use crate::domain::repeatability::{assess, default_table, PrecisionOutcome};
use crate::domain::reproducibility::check_reproducibility;
use crate::domain::results::derive_results;
use crate::domain::terms::{Analysis, ResultParameter, Stage};
use crate::domain::verdict::judge_stage;
use crate::error::AppError;
use crate::service::audit::{self, NewEvent};
use crate::service::auth::CurrentUser;
use crate::service::rows::{SampleRow, StageRow};
use crate::service::samples as sample_svc;
use crate::service::workflow::{
    accepted_means, check_version, check_visible, frozen_sets, stage_row,
};
use crate::time::to_ms;
use crate::with_tx;

/// Corrected determinations of one analysis (all of them, as typed, as JSON strings).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmendedAnalysis {
    /// Analysis code: mt, mad, aad, vad, st_ad, qgr_ad.
    pub analysis: String,
    /// Two to four determinations as strings, e.g. ["20.01", "20.07"].
    pub values: Vec<serde_json::Value>,
}

/// `POST /api/v1/samples/{key}/amendments`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmendRequest {
    /// The sample version the client last saw (409 when stale).
    pub version: i32,
    /// The released stage to amend: initial_test or retest.
    pub stage: String,
    /// Why (required; kept with the revision and in the audit trail).
    pub reason: String,
    /// The analyses whose determinations are corrected; the others keep their current means.
    pub determinations: Vec<AmendedAnalysis>,
}

/// A `stage_revisions` row.
#[derive(Debug, Clone, Serialize, diesel::Queryable)]
#[allow(missing_docs)] // column names; see migrations/*/2026-11-30-000020_people
pub struct RevisionRow {
    pub id: i64,
    pub stage_id: i64,
    pub revision: i32,
    pub status: String,
    pub determinations: String,
    pub means: String,
    pub results: String,
    pub verdict: String,
    pub verdict_detail: String,
    pub reproducibility: Option<String>,
    pub reason: String,
    pub proposed_by: Option<i64>,
    pub proposed_at: i64,
    pub released_by: Option<i64>,
    pub released_at: Option<i64>,
    pub report_no: Option<String>,
    pub replaces_report_no: Option<String>,
}

/// What a stage's values come to: means, results, verdict, limits checked, reproducibility.
pub(crate) struct Judged {
    pub means: BTreeMap<Analysis, Decimal>,
    pub results_json: String,
    pub verdict: String,
    pub detail_json: String,
    pub reproducibility: Option<String>,
}

fn internal(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(e.to_string())
}

/// Parses a stage code.
///
/// # Errors
/// 422 `invalid_value`.
pub fn parse_stage(code: &str) -> Result<Stage, AppError> {
    Stage::from_code(code.trim()).map_err(|e| AppError::invalid("invalid_value", e.to_string()))
}

/// Revisions of a stage, oldest first.
///
/// # Errors
/// Database errors.
pub fn revisions(tx: &mut Tx<'_>, stage_id: i64) -> Result<Vec<RevisionRow>, AppError> {
    Ok(with_tx!(tx, |c| stage_revisions::table
        .filter(stage_revisions::stage_id.eq(stage_id))
        .order(stage_revisions::revision.asc())
        .load::<RevisionRow>(c))?)
}

/// The means the stage currently reports: the latest released revision's, or the accepted means
/// of its determinations when it was never amended.
pub(crate) fn current_means(
    tx: &mut Tx<'_>,
    st: &StageRow,
) -> Result<BTreeMap<Analysis, Decimal>, AppError> {
    let released = revisions(tx, st.id)?
        .into_iter()
        .rfind(|r| r.status == "released");
    match released {
        Some(r) => {
            let m: BTreeMap<String, String> = serde_json::from_str(&r.means).map_err(internal)?;
            m.into_iter()
                .map(|(a, v)| {
                    Ok((
                        Analysis::from_code(&a).map_err(internal)?,
                        Decimal::from_str(&v).map_err(internal)?,
                    ))
                })
                .collect()
        }
        None => accepted_means(tx, st.id),
    }
}

fn means_json(means: &BTreeMap<Analysis, Decimal>) -> Result<String, AppError> {
    let m: BTreeMap<&str, String> = means
        .iter()
        .map(|(a, v)| (a.as_code(), v.to_string()))
        .collect();
    serde_json::to_string(&m).map_err(internal)
}

/// Derives and judges a stage from its means (the same pure rules as the first release). For a
/// retest, the initial stage's current results are checked against the reproducibility limit R.
pub(crate) fn judge(
    tx: &mut Tx<'_>,
    sample: &SampleRow,
    stage: Stage,
    means: BTreeMap<Analysis, Decimal>,
) -> Result<Judged, AppError> {
    let sets = frozen_sets(sample)?;
    let results = derive_results(&means)
        .map_err(|e| AppError::invalid("impossible_result", e.to_string()))?;
    let values: BTreeMap<ResultParameter, Decimal> =
        results.iter().map(|r| (r.parameter, r.value)).collect();
    let set_refs: Vec<&LimitSet> = sets.iter().collect();
    let verdict = judge_stage(&values, &set_refs)
        .map_err(|e| AppError::conflict("cannot_judge", e.to_string()))?;
    let reproducibility = if stage == Stage::Retest {
        let initial: Vec<serde_json::Value> = stage_row(tx, sample.id, Stage::InitialTest)?
            .and_then(|s| s.results)
            .map(|t| serde_json::from_str(&t))
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
            .filter_map(|p| check_reproducibility(*p, initial_value(*p)?, *values.get(p)?).ok())
            .collect();
        Some(serde_json::to_string(&checks).map_err(internal)?)
    } else {
        None
    };
    Ok(Judged {
        means,
        results_json: serde_json::to_string(&results).map_err(internal)?,
        verdict: verdict.verdict.as_code().to_string(),
        detail_json: serde_json::to_string(&verdict.limits).map_err(internal)?,
        reproducibility,
    })
}

/// Checks corrected determinations: each analysis once, values as strings within the physical
/// range, and an accepted mean by the repeatability rule. Returns analysis → (typed values, mean).
fn check_determinations(
    input: &[AmendedAnalysis],
) -> Result<BTreeMap<Analysis, (Vec<String>, Decimal)>, AppError> {
    if input.is_empty() {
        return Err(AppError::invalid(
            "missing_value",
            "determinations must correct at least one analysis",
        ));
    }
    let mut out = BTreeMap::new();
    for a in input {
        let analysis = Analysis::from_code(a.analysis.trim())
            .map_err(|e| AppError::invalid("invalid_value", e.to_string()))?;
        let mut typed = Vec::new();
        let mut values = Vec::new();
        for v in &a.values {
            let serde_json::Value::String(t) = v else {
                return Err(AppError::invalid(
                    "value_not_string",
                    "each value must be a JSON string such as \"12.34\" (exact decimal)",
                ));
            };
            let d = parse_determination(analysis, t).map_err(|e| {
                AppError::invalid("invalid_value", format!("{}: {e}", analysis.as_code()))
            })?;
            typed.push(t.trim().to_string());
            values.push(d);
        }
        if !(2..=4).contains(&values.len()) {
            return Err(AppError::invalid(
                "invalid_value",
                format!("{}: give 2 to 4 determinations", analysis.as_code()),
            ));
        }
        let table = default_table(analysis).ok_or_else(|| {
            AppError::invalid(
                "no_repeatability_table",
                format!("no repeatability limit for {}", analysis.as_code()),
            )
        })?;
        let outcome = assess(&values, &table)
            .map_err(|e| AppError::invalid("precision_rule", e.to_string()))?;
        let PrecisionOutcome::Accepted { mean, .. } = outcome else {
            return Err(AppError::invalid(
                "precision_not_met",
                format!(
                    "{}: the corrected determinations give no accepted mean ({})",
                    analysis.as_code(),
                    serde_json::to_string(&outcome).unwrap_or_default()
                ),
            ));
        };
        if out.insert(analysis, (typed, mean)).is_some() {
            return Err(AppError::invalid(
                "invalid_value",
                format!("{} is listed twice", analysis.as_code()),
            ));
        }
    }
    Ok(out)
}

/// Bumps the sample's version (so concurrent amendments and actions conflict).
pub(crate) fn bump_version(tx: &mut Tx<'_>, sample: &SampleRow) -> Result<(), AppError> {
    let n = with_tx!(tx, |c| diesel::update(
        samples::table
            .filter(samples::id.eq(sample.id))
            .filter(samples::version.eq(sample.version))
    )
    .set(samples::version.eq(sample.version + 1))
    .execute(c))?;
    if n != 1 {
        return Err(AppError::concurrent_change());
    }
    Ok(())
}

/// Proposes an amendment of a released stage; returns the pending revision. A pending revision
/// of the same stage is withdrawn by the new proposal. On the first amendment the original
/// release is copied as revision 1, so both stay readable.
///
/// # Errors
/// 409 `version_conflict`; 409 `not_released` for a stage that is not released (an unreleased
/// stage is corrected by returning it); 422 for a missing reason, bad values or corrected
/// determinations that do not meet the repeatability rule; 404 for another lab's sample.
pub fn propose(
    tx: &mut Tx<'_>,
    user: &CurrentUser,
    sample_id: i64,
    req: &AmendRequest,
    now: DateTime<Utc>,
) -> Result<RevisionRow, AppError> {
    let now_ms = to_ms(now);
    let sample = sample_svc::load_for_update(tx, sample_id)?;
    check_visible(&sample, user)?;
    check_version(&sample, req.version)?;
    let stage = parse_stage(&req.stage)?;
    let reason = req.reason.trim();
    if reason.is_empty() || reason.len() > 2000 {
        return Err(AppError::invalid(
            "missing_value",
            "an amendment needs a reason (1 to 2000 characters)",
        ));
    }
    crate::service::text_input::paragraph("reason", reason, 2000)?;
    if matches!(
        crate::service::workflow::state_of(&sample)?,
        crate::domain::lifecycle::SampleState::Rejected
            | crate::domain::lifecycle::SampleState::Cancelled
    ) {
        return Err(AppError::conflict(
            "illegal_transition",
            format!("the sample is {}: it cannot be amended", sample.state),
        ));
    }
    let corrected = check_determinations(&req.determinations)?;
    let st = match stage_row(tx, sample.id, stage)? {
        Some(st) if st.released_at.is_some() => st,
        Some(_) => {
            return Err(AppError::conflict(
                "not_released",
                format!(
                    "the {} stage is not released: correct it by returning it (POST …/return), not by amendment",
                    stage.as_code()
                ),
            ))
        }
        None => {
            return Err(AppError::conflict(
                "not_released",
                format!("this sample has no {} stage to amend", stage.as_code()),
            ))
        }
    };
    let mut means = current_means(tx, &st)?;
    // An amendment corrects what the stage reported; an analysis it never reported would be a
    // new determination, which belongs to a new stage, not to a correction.
    if let Some(a) = corrected.keys().find(|a| !means.contains_key(a)) {
        let reported: Vec<&str> = means.keys().map(|a| a.as_code()).collect();
        return Err(AppError::invalid(
            "invalid_value",
            format!(
                "{}: the {} stage reported no {} to correct (it reported {})",
                a.as_code(),
                stage.as_code(),
                a.as_code(),
                reported.join(", ")
            ),
        ));
    }
    for (a, (_, mean)) in &corrected {
        means.insert(*a, *mean);
    }
    let judged = judge(tx, &sample, stage, means)?;
    let existing = revisions(tx, st.id)?;
    if existing.is_empty() {
        let original = accepted_means(tx, st.id)?;
        with_tx!(tx, |c| diesel::insert_into(stage_revisions::table)
            .values((
                stage_revisions::stage_id.eq(st.id),
                stage_revisions::revision.eq(1),
                stage_revisions::status.eq("released"),
                stage_revisions::determinations.eq("{}"),
                stage_revisions::means.eq(means_json(&original)?),
                stage_revisions::results.eq(st.results.clone().unwrap_or_default()),
                stage_revisions::verdict.eq(st.verdict.clone().unwrap_or_default()),
                stage_revisions::verdict_detail.eq(st.verdict_detail.clone().unwrap_or_default()),
                stage_revisions::reproducibility.eq(st.reproducibility.clone()),
                stage_revisions::reason.eq("original release"),
                stage_revisions::proposed_by.eq(st.released_by),
                stage_revisions::proposed_at.eq(st.released_at.unwrap_or(now_ms)),
                stage_revisions::released_by.eq(st.released_by),
                stage_revisions::released_at.eq(st.released_at),
                stage_revisions::report_no.eq(st.report_no.clone()),
            ))
            .execute(c))?;
    }
    let withdrawn: Vec<i32> = existing
        .iter()
        .filter(|r| r.status == "pending")
        .map(|r| r.revision)
        .collect();
    with_tx!(tx, |c| diesel::update(
        stage_revisions::table
            .filter(stage_revisions::stage_id.eq(st.id))
            .filter(stage_revisions::status.eq("pending"))
    )
    .set(stage_revisions::status.eq("withdrawn"))
    .execute(c))?;
    let revision = existing.iter().map(|r| r.revision).max().unwrap_or(1) + 1;
    let dets: BTreeMap<&str, &Vec<String>> = corrected
        .iter()
        .map(|(a, (typed, _))| (a.as_code(), typed))
        .collect();
    let dets_json = serde_json::to_string(&dets).map_err(internal)?;
    let row: RevisionRow = with_tx!(tx, |c| diesel::insert_into(stage_revisions::table)
        .values((
            stage_revisions::stage_id.eq(st.id),
            stage_revisions::revision.eq(revision),
            stage_revisions::status.eq("pending"),
            stage_revisions::determinations.eq(&dets_json),
            stage_revisions::means.eq(means_json(&judged.means)?),
            stage_revisions::results.eq(&judged.results_json),
            stage_revisions::verdict.eq(&judged.verdict),
            stage_revisions::verdict_detail.eq(&judged.detail_json),
            stage_revisions::reproducibility.eq(&judged.reproducibility),
            stage_revisions::reason.eq(reason),
            stage_revisions::proposed_by.eq(user.id),
            stage_revisions::proposed_at.eq(now_ms),
        ))
        .returning(stage_revisions::all_columns)
        .get_result(c))?;
    bump_version(tx, &sample)?;
    audit::append(
        tx,
        now_ms,
        NewEvent {
            actor: user.username.clone(),
            action: "stage.amend_propose".into(),
            entity: "stage".into(),
            entity_id: format!("{}/{}", sample.sample_code, stage.as_code()),
            sample_id: Some(sample.id),
            before: Some(serde_json::json!({
                "report_no": st.report_no, "verdict": st.verdict, "withdrawn_revisions": withdrawn
            })),
            after: Some(serde_json::json!({
                "revision": revision, "determinations": dets, "verdict": judged.verdict,
                "results": serde_json::from_str::<serde_json::Value>(&judged.results_json).unwrap_or_default(),
            })),
            reason: Some(reason.to_string()),
        },
    )?;
    Ok(row)
}
