//! Releasing an amendment (four eyes: not by its proposer), re-issuing the report under a new
//! number that names the one it replaces, re-computing the final verdict, and reading the
//! revisions of a sample.
//!
//! Report numbers: `<sample code>-I<n>` for the initial test and `-R<n>` for the retest, where
//! n counts the stage's released revisions (the first release is n = 1, so the first amendment
//! issues `…-I2` replacing `…-I1`).
//!
//! Effect on the sample when no retest overrides the initial test: an amended initial verdict
//! of `pass` closes the sample (as a passing first release does); `fail` puts it back to
//! `initial_released` with the enterprise's receipt cleared, because the enterprise must receive
//! the re-issued report and its appeal window starts again from that receipt.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::db::schema::{samples, stage_revisions, stages, users};
use crate::db::Tx;
use crate::domain::lifecycle::SampleState;
use crate::domain::terms::{Role, Stage};
use crate::error::AppError;
use crate::service::amend::{parse_stage, revisions, RevisionRow};
use crate::service::audit::{self, NewEvent};
use crate::service::auth::CurrentUser;
use crate::service::samples as sample_svc;
use crate::service::workflow::{check_version, check_visible, stage_row, state_of};
use crate::time::{ms_to_rfc3339, to_ms};
use crate::with_tx;

/// `POST /api/v1/samples/{key}/amendments/release`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseAmendment {
    /// The sample version the client last saw.
    pub version: i32,
    /// initial_test or retest.
    pub stage: String,
    /// The pending revision to release.
    pub revision: i32,
}

/// One revision as shown to a user.
#[derive(Debug, Clone, Serialize)]
pub struct RevisionView {
    /// initial_test or retest.
    pub stage: String,
    /// 1 = the original release.
    pub revision: i32,
    /// pending, released or withdrawn.
    pub status: String,
    /// Report number (released revisions).
    pub report_no: Option<String>,
    /// The report this one replaces.
    pub replaces_report_no: Option<String>,
    /// Why.
    pub reason: String,
    /// Corrected determinations as typed, by analysis (empty for revision 1).
    pub determinations: serde_json::Value,
    /// Means used, by analysis (full precision).
    pub means: serde_json::Value,
    /// Results (as on the stage).
    pub results: serde_json::Value,
    /// pass or fail.
    pub verdict: String,
    /// Every limit checked.
    pub limits: serde_json::Value,
    /// Proposed by (username).
    pub proposed_by: Option<String>,
    /// Proposed at, RFC 3339.
    pub proposed_at: String,
    /// Released by (username).
    pub released_by: Option<String>,
    /// Released at, RFC 3339.
    pub released_at: Option<String>,
}

fn name_of(tx: &mut Tx<'_>, id: Option<i64>) -> Result<Option<String>, AppError> {
    match id {
        None => Ok(None),
        Some(id) => Ok(with_tx!(tx, |c| users::table
            .find(id)
            .select(users::username)
            .first::<String>(c)
            .optional())?),
    }
}

fn json(t: &str) -> serde_json::Value {
    serde_json::from_str(t).unwrap_or(serde_json::Value::Null)
}

/// Every revision of a sample's stages as `user` may see them: regulators and auditors see
/// released revisions only.
///
/// # Errors
/// 404 for another lab's sample, or for outsiders when nothing is released.
pub fn list(
    tx: &mut Tx<'_>,
    user: &CurrentUser,
    sample_id: i64,
) -> Result<Vec<RevisionView>, AppError> {
    let sample = sample_svc::load(tx, sample_id)?;
    check_visible(&sample, user)?;
    let outsider = matches!(user.role, Role::Regulator | Role::Auditor);
    let mut out = Vec::new();
    for stage in [Stage::InitialTest, Stage::Retest] {
        let Some(st) = stage_row(tx, sample.id, stage)? else {
            continue;
        };
        out.extend(stage_views(tx, stage, st.id, outsider)?);
    }
    Ok(out)
}

/// The revisions of one stage as shown (empty when it was never amended); `outsider` (regulator
/// or auditor) sees released revisions only. One indexed query, plus one per named user.
///
/// # Errors
/// Database errors.
pub fn stage_views(
    tx: &mut Tx<'_>,
    stage: Stage,
    stage_id: i64,
    outsider: bool,
) -> Result<Vec<RevisionView>, AppError> {
    let mut out = Vec::new();
    for r in revisions(tx, stage_id)? {
        if outsider && r.status != "released" {
            continue;
        }
        out.push(RevisionView {
            stage: stage.as_code().into(),
            revision: r.revision,
            status: r.status.clone(),
            report_no: r.report_no.clone(),
            replaces_report_no: r.replaces_report_no.clone(),
            reason: r.reason.clone(),
            determinations: json(&r.determinations),
            means: json(&r.means),
            results: json(&r.results),
            verdict: r.verdict.clone(),
            limits: json(&r.verdict_detail),
            proposed_by: name_of(tx, r.proposed_by)?,
            proposed_at: ms_to_rfc3339(r.proposed_at),
            released_by: name_of(tx, r.released_by)?,
            released_at: r.released_at.map(ms_to_rfc3339),
        });
    }
    Ok(out)
}

/// Releases a pending amendment: the stage reports the new revision under a new report number,
/// the final verdict is re-computed, and the audit trail records both. Returns the revision.
///
/// # Errors
/// 409 `version_conflict`; 404 when no such pending revision exists; 409 `four_eyes` when the
/// releasing reviewer proposed it; 409 `illegal_transition` for an amendment of the initial
/// test while a retest is requested or under way; 404 for another lab's sample.
pub fn release(
    tx: &mut Tx<'_>,
    user: &CurrentUser,
    sample_id: i64,
    req: &ReleaseAmendment,
    now: DateTime<Utc>,
) -> Result<RevisionRow, AppError> {
    let now_ms = to_ms(now);
    let sample = sample_svc::load_for_update(tx, sample_id)?;
    check_visible(&sample, user)?;
    check_version(&sample, req.version)?;
    let stage = parse_stage(&req.stage)?;
    let st = stage_row(tx, sample.id, stage)?
        .ok_or_else(|| AppError::NotFound(format!("no {} stage", stage.as_code())))?;
    let all = revisions(tx, st.id)?;
    let rev = all
        .iter()
        .find(|r| r.revision == req.revision && r.status == "pending")
        .cloned()
        .ok_or_else(|| {
            AppError::NotFound(format!(
                "no pending revision {} of the {} stage",
                req.revision,
                stage.as_code()
            ))
        })?;
    if rev.proposed_by == Some(user.id) {
        return Err(AppError::conflict(
            "four_eyes",
            "an amendment is released by a reviewer other than the one who proposed it",
        ));
    }
    // While a retest is under way, the appeal is judged by the retest: an amended initial
    // verdict released now would stand as the verdict so far beside an open appeal against the
    // report it replaced. It waits for the retest's release (then it re-issues the initial
    // report without changing the final verdict, which is the retest's).
    if stage == Stage::InitialTest {
        let retest_open = matches!(
            state_of(&sample)?,
            SampleState::RetestTesting | SampleState::RetestReview
        );
        if retest_open {
            return Err(AppError::conflict(
                "illegal_transition",
                "a retest is under way: an amendment of the initial test is released after the retest's release",
            ));
        }
    }
    let n = all.iter().filter(|r| r.status == "released").count() + 1;
    let prefix = if stage == Stage::Retest { "R" } else { "I" };
    let report_no = format!("{}-{prefix}{n}", sample.sample_code);
    let replaces = st.report_no.clone();
    with_tx!(tx, |c| diesel::update(stage_revisions::table.find(rev.id))
        .set((
            stage_revisions::status.eq("released"),
            stage_revisions::released_by.eq(user.id),
            stage_revisions::released_at.eq(now_ms),
            stage_revisions::report_no.eq(&report_no),
            stage_revisions::replaces_report_no.eq(&replaces),
        ))
        .execute(c))?;
    // The stage row carries the current revision, which every list and report reads; the
    // original release time stays (turnaround counts to the first release).
    with_tx!(tx, |c| diesel::update(stages::table.find(st.id))
        .set((
            stages::verdict.eq(&rev.verdict),
            stages::verdict_detail.eq(&rev.verdict_detail),
            stages::results.eq(&rev.results),
            stages::reproducibility.eq(&rev.reproducibility),
            stages::report_no.eq(&report_no),
        ))
        .execute(c))?;
    crate::service::result_rows::store(tx, st.id, rev.revision, &rev.results, &rev.verdict_detail)?;
    let state = state_of(&sample)?;
    if matches!(state, SampleState::Rejected | SampleState::Cancelled) {
        return Err(AppError::conflict(
            "illegal_transition",
            format!(
                "the sample is {}: nothing more is issued for it",
                state.as_code()
            ),
        ));
    }
    let retest = stage_row(tx, sample.id, Stage::Retest)?;
    let retest_released = retest.as_ref().is_some_and(|r| r.released_at.is_some());
    let (mut next, mut closed_at, mut received, mut appeal) = (
        state,
        sample.closed_at,
        sample.result_received_at,
        sample.appeal_closes_at,
    );
    let final_verdict = if stage == Stage::Retest || !retest_released {
        Some(rev.verdict.clone())
    } else {
        sample.final_verdict.clone()
    };
    if stage == Stage::InitialTest && retest.is_none() {
        if rev.verdict == "pass" {
            next = SampleState::Closed;
            closed_at = closed_at.or(Some(now_ms));
            // A pass has no appeal: a failed initial test whose window was still open when the
            // amendment turned it into a pass is final at this release, not at the end of the
            // window it no longer has (`domain::effective::StoredFinality::final_at`). A
            // window that had already ended keeps its end: the verdict was final since then.
            if appeal.is_some_and(|closes| closes > now_ms) {
                received = None;
                appeal = None;
            }
        } else {
            next = SampleState::InitialReleased;
            closed_at = None;
            received = None;
            appeal = None;
        }
    }
    let n = with_tx!(tx, |c| diesel::update(
        samples::table
            .filter(samples::id.eq(sample.id))
            .filter(samples::version.eq(sample.version))
    )
    .set((
        samples::state.eq(next.as_code()),
        samples::final_verdict.eq(&final_verdict),
        samples::closed_at.eq(closed_at),
        samples::result_received_at.eq(received),
        samples::appeal_closes_at.eq(appeal),
        samples::version.eq(sample.version + 1),
    ))
    .execute(c))?;
    if n != 1 {
        return Err(AppError::concurrent_change());
    }
    audit::append(
        tx,
        now_ms,
        NewEvent {
            actor: user.username.clone(),
            action: "stage.amend_release".into(),
            entity: "stage".into(),
            entity_id: report_no.clone(),
            sample_id: Some(sample.id),
            before: Some(serde_json::json!({
                "report_no": replaces, "verdict": st.verdict, "state": sample.state,
                "final_verdict": sample.final_verdict, "version": sample.version,
            })),
            after: Some(serde_json::json!({
                "revision": rev.revision, "report_no": report_no, "replaces_report_no": replaces,
                "verdict": rev.verdict, "state": next.as_code(), "final_verdict": final_verdict,
                "version": sample.version + 1,
            })),
            reason: Some(rev.reason.clone()),
        },
    )?;
    let mut out = rev;
    out.status = "released".into();
    out.released_by = Some(user.id);
    out.released_at = Some(now_ms);
    out.report_no = Some(report_no);
    out.replaces_report_no = replaces;
    Ok(out)
}
