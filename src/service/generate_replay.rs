//! Drives a generation plan through the real workflow (register, receive, start, enter,
//! submit, release, result receipt, appeal, retest, close), one service call per step, as the
//! demo county does. Slow (tens of queries per sample) but it is the reference: the bulk writer
//! ([`crate::service::generate_bulk`]) must produce the same rows (tests compare them).

use chrono::{DateTime, Duration, Utc};

use crate::db::Tx;
use crate::domain::lifecycle::Action;
use crate::domain::repeatability::PrecisionOutcome;
use crate::error::AppError;
use crate::service::auth::CurrentUser;
use crate::service::demo::act;
use crate::service::entry::{self, NewDetermination};
use crate::service::generate_plan::{cutoff, SamplePlan, StageValues, SupplierPlan};
use crate::service::samples as sample_svc;
use crate::service::workflow::{self, ActionRequest, ResultReceived};

/// The people who act in generated work: two technicians, a reviewer and a regulator.
#[derive(Debug, Clone)]
pub struct Actors {
    /// Technicians (the retest is by the one who did not do the initial test).
    pub techs: [CurrentUser; 2],
    /// Releases stages and closes unappealed samples.
    pub reviewer: CurrentUser,
    /// Records result receipts and appeals.
    pub regulator: CurrentUser,
}

/// The reason of an appeal in generated data.
pub const APPEAL_REASON: &str = "企业对初检结果有异议，申请复检 (the enterprise appeals)";
/// The retained sample's condition recorded at an appeal.
pub const RETAINED_CONDITION: &str = "封条完好 seal intact";
/// The reason of closing a failed sample without appeal.
pub const CLOSE_REASON: &str = "no appeal within the appeal window";

/// Enters a stage's determinations from `at` (analyses 2 h apart, determinations 20 min apart)
/// until each analysis has an accepted mean; stops at the cutoff. Returns false when cut off.
fn enter_stage(
    tx: &mut Tx<'_>,
    tech: &CurrentUser,
    id: i64,
    values: &StageValues,
    at: DateTime<Utc>,
) -> Result<bool, AppError> {
    for (k, a) in values.analyses.iter().enumerate() {
        for (i, v) in a.typed.iter().enumerate() {
            let when = at + Duration::hours(2 * k as i64) + Duration::minutes(20 * i as i64);
            if when >= cutoff() {
                return Ok(false);
            }
            let out = entry::enter(
                tx,
                tech,
                id,
                &NewDetermination {
                    analysis: a.analysis.as_code().into(),
                    value: serde_json::Value::String(v.clone()),
                },
                when,
            )?;
            if matches!(out.precision, PrecisionOutcome::Accepted { .. }) {
                break;
            }
        }
    }
    Ok(true)
}

/// Runs one sample's plan through the workflow in the caller's transaction.
///
/// # Errors
/// [`AppError`] from the workflow (a plan that the rules refuse is a bug of the generator).
pub fn replay_sample(
    tx: &mut Tx<'_>,
    a: &Actors,
    supplier: &SupplierPlan,
    p: &SamplePlan,
) -> Result<(), AppError> {
    let t = p.timeline();
    let end = cutoff();
    let tech = &a.techs[p.tech];
    let other = &a.techs[1 - p.tech];
    if t.registered >= end {
        return Ok(());
    }
    let id = sample_svc::register(tx, tech, &p.new_sample(supplier), None, t.registered)?;
    if t.received >= end {
        return Ok(());
    }
    act(tx, tech, id, Action::Receive, None, t.received)?;
    if t.started >= end {
        return Ok(());
    }
    act(tx, tech, id, Action::Start, None, t.started)?;
    if !enter_stage(tx, tech, id, &p.initial, t.tested)? || t.submitted >= end {
        return Ok(());
    }
    act(tx, tech, id, Action::Submit, None, t.submitted)?;
    if t.released >= end {
        return Ok(());
    }
    act(tx, &a.reviewer, id, Action::Release, None, t.released)?;
    let s = sample_svc::load(tx, id)?;
    if s.final_verdict.as_deref() != Some("fail") {
        return Ok(());
    }
    let recorded = t.result_received + Duration::hours(1);
    if recorded >= end {
        return Ok(());
    }
    workflow::record_result_received(
        tx,
        &a.regulator,
        id,
        &ResultReceived {
            version: s.version,
            received_at: t.result_received.to_rfc3339(),
        },
        recorded,
    )?;
    if p.appeal {
        if t.appealed >= end {
            return Ok(());
        }
        let version = sample_svc::load(tx, id)?.version;
        let req = ActionRequest {
            version,
            reason: Some(APPEAL_REASON.into()),
            retained_seal_no: Some(s.retained_seal_no.clone()),
            retained_condition: Some(RETAINED_CONDITION.into()),
        };
        workflow::apply_action(
            tx,
            &a.regulator,
            id,
            Action::RequestRetest,
            &req,
            t.appealed,
        )?;
        if !enter_stage(tx, other, id, &p.retest, t.retested)? || t.retest_submitted >= end {
            return Ok(());
        }
        act(tx, other, id, Action::Submit, None, t.retest_submitted)?;
        if t.retest_released >= end {
            return Ok(());
        }
        act(
            tx,
            &a.reviewer,
            id,
            Action::Release,
            None,
            t.retest_released,
        )?;
    } else if t.closed < end {
        act(
            tx,
            &a.reviewer,
            id,
            Action::Close,
            Some(CLOSE_REASON),
            t.closed,
        )?;
    }
    Ok(())
}
