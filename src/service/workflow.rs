//! Lifecycle actions on a sample (receive, start, submit, release, return, request a retest,
//! close, reject, cancel) and recording when the enterprise received the result. Each action
//! checks the optimistic version, applies the pure lifecycle rule, does its side effects and
//! writes its audit event in the caller's transaction.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::db::schema::{analysis_runs, determinations, samples, stages};
use crate::db::Tx;
use crate::domain::deadline::{appeal_open, appeal_window, stage_due};
use crate::domain::lifecycle::{
    allowed_actors, transition, Action, Actor, SampleState, TransitionError,
};
use crate::domain::limits::LimitSet;
use crate::domain::reproducibility::check_reproducibility;
use crate::domain::requirements::analyses_for;
use crate::domain::results::derive_results;
use crate::domain::terms::{Analysis, ResultParameter, Role, Stage};
use crate::domain::verdict::judge_stage;
use crate::error::AppError;
use crate::service::audit::{self, NewEvent};
use crate::service::auth::CurrentUser;
use crate::service::reference;
use crate::service::rows::{SampleRow, StageRow};
use crate::service::samples as sample_svc;
use crate::service::samples::SAMPLE_NOT_FOUND;
use crate::time::{from_ms, parse_instant, to_ms};
use crate::with_tx;

/// The body of an action request.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    /// The sample version the client last saw (409 when stale).
    pub version: i32,
    /// Reason (required for return, reject, cancel; kept in the audit trail for every action).
    pub reason: Option<String>,
    /// For request_retest: the seal number read on the retained sample (must match the record).
    pub retained_seal_no: Option<String>,
    /// For request_retest: the condition of the retained sample's seal, e.g. "intact".
    pub retained_condition: Option<String>,
}

/// The body of "the enterprise received the initial result".
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultReceived {
    /// The sample version the client last saw.
    pub version: i32,
    /// When the enterprise received the result, RFC 3339.
    pub received_at: String,
}

/// Maps a refused transition to its HTTP meaning: an illegal action is 409 and names the legal
/// ones; a role that may not act is 403.
pub fn transition_error(e: TransitionError) -> AppError {
    match e {
        TransitionError::IllegalAction { .. } => {
            AppError::conflict("illegal_transition", e.to_string())
        }
        TransitionError::ActorNotAllowed { .. } => AppError::Forbidden(e.to_string()),
    }
}

pub(crate) fn check_version(sample: &SampleRow, version: i32) -> Result<(), AppError> {
    if sample.version != version {
        return Err(AppError::conflict(
            "version_conflict",
            format!(
                "sample {} is at version {}, you sent version {version}: reload it and try again",
                sample.sample_code, sample.version
            ),
        ));
    }
    Ok(())
}

/// Whether `user` may see `sample` at all: lab staff only their lab's samples, regulators and
/// auditors only samples with a released verdict. Every read and every write of one sample
/// checks this first, before any state or version check, so that a refused write tells no more
/// than a refused read.
///
/// # Errors
/// 404 with [`SAMPLE_NOT_FOUND`] otherwise.
pub(crate) fn check_visible(sample: &SampleRow, user: &CurrentUser) -> Result<(), AppError> {
    let other_lab = matches!(user.role, Role::Technician | Role::Reviewer)
        && user.lab_id != Some(sample.lab_id);
    let unreleased =
        matches!(user.role, Role::Regulator | Role::Auditor) && sample.final_verdict.is_none();
    if other_lab || unreleased {
        return Err(AppError::NotFound(SAMPLE_NOT_FOUND.to_string()));
    }
    Ok(())
}

pub(crate) fn state_of(sample: &SampleRow) -> Result<SampleState, AppError> {
    SampleState::from_code(&sample.state).map_err(|e| AppError::Internal(e.to_string()))
}

pub(crate) fn frozen_sets(sample: &SampleRow) -> Result<Vec<LimitSet>, AppError> {
    serde_json::from_str(&sample.limit_sets_frozen)
        .map_err(|e| AppError::Internal(format!("frozen limit sets: {e}")))
}

/// The stage row of a sample, if it exists.
///
/// # Errors
/// Database errors.
pub fn stage_row(
    tx: &mut Tx<'_>,
    sample_id: i64,
    stage: Stage,
) -> Result<Option<StageRow>, AppError> {
    Ok(with_tx!(tx, |c| stages::table
        .filter(stages::sample_id.eq(sample_id))
        .filter(stages::stage.eq(stage.as_code()))
        .first::<StageRow>(c)
        .optional())?)
}

/// Accepted means of every analysis of a stage (latest accepted run per analysis).
///
/// # Errors
/// [`AppError::Internal`] for an unparsable stored mean.
pub fn accepted_means(
    tx: &mut Tx<'_>,
    stage_id: i64,
) -> Result<BTreeMap<Analysis, Decimal>, AppError> {
    let rows: Vec<(String, Option<String>)> = with_tx!(tx, |c| analysis_runs::table
        .filter(analysis_runs::stage_id.eq(stage_id))
        .filter(analysis_runs::outcome.eq("accepted"))
        .order(analysis_runs::run.asc())
        .select((analysis_runs::analysis, analysis_runs::mean))
        .load(c))?;
    let mut out = BTreeMap::new();
    for (a, m) in rows {
        let a = Analysis::from_code(&a).map_err(|e| AppError::Internal(e.to_string()))?;
        let m = m.ok_or_else(|| AppError::Internal("accepted run without mean".into()))?;
        out.insert(
            a,
            Decimal::from_str(&m).map_err(|e| AppError::Internal(e.to_string()))?,
        );
    }
    Ok(out)
}

fn required_reason(action: Action, req: &ActionRequest) -> Result<Option<String>, AppError> {
    let reason = req
        .reason
        .as_ref()
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    if matches!(action, Action::Return | Action::Reject | Action::Cancel) && reason.is_none() {
        return Err(AppError::invalid(
            "missing_value",
            format!("{} needs a reason", action.as_code()),
        ));
    }
    if let Some(r) = &reason {
        crate::service::text_input::paragraph("reason", r, 2000)?;
    }
    Ok(reason)
}

/// Applies a lifecycle action to a sample.
///
/// # Errors
/// 409 `version_conflict` for a stale version, 409 `illegal_transition` naming the legal actions,
/// 403 for a role that may not, 409 `precision_not_met` when analyses are not accepted, 409
/// `four_eyes` when the releasing reviewer entered determinations of the stage, 409
/// `appeal_window_closed` / `appeal_window_open`, 422 for missing reasons or a seal mismatch.
pub fn apply_action(
    tx: &mut Tx<'_>,
    user: &CurrentUser,
    sample_id: i64,
    action: Action,
    req: &ActionRequest,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    // A role that may never take this action learns so first (403), whatever the sample; then
    // a sample the user may not see answers 404 before any state or version check.
    let actor = Actor::User(user.role);
    let allowed = allowed_actors(action);
    if !allowed.contains(&actor) {
        return Err(transition_error(TransitionError::ActorNotAllowed {
            action,
            actor,
            allowed,
        }));
    }
    let sample = sample_svc::load_for_update(tx, sample_id)?;
    check_visible(&sample, user)?;
    check_version(&sample, req.version)?;
    let reason = required_reason(action, req)?;
    let state = state_of(&sample)?;
    let mut next = transition(state, action, Actor::User(user.role)).map_err(transition_error)?;
    let now_ms = to_ms(now);
    let lab = reference::lab(tx, sample.lab_id)?;
    let calendar = reference::load_calendar(tx, &lab.calendar_code, &lab.timezone)?;
    let supplier_jurisdiction: String = with_tx!(tx, |c| crate::db::schema::suppliers::table
        .find(sample.supplier_id)
        .select(crate::db::schema::suppliers::jurisdiction_code)
        .first(c))?;
    let policy =
        reference::deadline_policy(&reference::jurisdiction_chain(tx, &supplier_jurisdiction)?);
    let stage = sample
        .current_stage
        .as_deref()
        .map(Stage::from_code)
        .transpose()
        .map_err(|e| AppError::Internal(e.to_string()))?;

    let mut extra_events: Vec<NewEvent> = Vec::new();
    let mut upd = SampleUpdate::default();
    match action {
        Action::Receive => {
            let due = stage_due(&calendar, now, policy.initial_test_working_days, &[]);
            with_tx!(tx, |c| diesel::insert_into(stages::table)
                .values((
                    stages::sample_id.eq(sample.id),
                    stages::stage.eq(Stage::InitialTest.as_code()),
                    stages::started_at.eq(now_ms),
                    stages::due_at.eq(to_ms(due)),
                ))
                .execute(c))?;
            upd.received_at = Some(now_ms);
            upd.current_stage = Some(Stage::InitialTest);
            upd.due_at = Some(Some(to_ms(due)));
        }
        Action::Start | Action::Return => {}
        Action::Submit => {
            let st = stage_row(tx, sample.id, stage.unwrap_or(Stage::InitialTest))?
                .ok_or_else(|| AppError::Internal("no stage".into()))?;
            ensure_precision_met(tx, &sample, &st)?;
            with_tx!(tx, |c| diesel::update(stages::table.find(st.id))
                .set(stages::submitted_at.eq(now_ms))
                .execute(c))?;
        }
        Action::Release => {
            let stage = stage.ok_or_else(|| AppError::Internal("no current stage".into()))?;
            let st = stage_row(tx, sample.id, stage)?
                .ok_or_else(|| AppError::Internal("no stage".into()))?;
            release_stage(tx, user, &sample, &st, stage, now_ms)?;
            // OPS (issue 9): the retained sample's discard date counts from this release.
            crate::service::retention::on_release(tx, &sample, now)?;
            let verdict = stage_row(tx, sample.id, stage)?.and_then(|s| s.verdict);
            upd.final_verdict = Some(verdict.clone());
            upd.due_at = Some(None);
            // A passing initial test, or any retest, is final: the sample closes at once.
            if stage == Stage::Retest || verdict.as_deref() == Some("pass") {
                let closed =
                    transition(next, Action::Close, Actor::System).map_err(transition_error)?;
                extra_events.push(NewEvent {
                    actor: "system".into(),
                    action: "sample.close".into(),
                    reason: Some(format!(
                        "{} verdict {} is final",
                        stage.as_code(),
                        verdict.clone().unwrap_or_default()
                    )),
                    ..Default::default()
                });
                next = closed;
                upd.closed_at = Some(now_ms);
            }
        }
        Action::RequestRetest => {
            if sample.final_verdict.as_deref() != Some("fail") {
                return Err(AppError::conflict(
                    "retest_not_applicable",
                    "only a failed initial test can be appealed",
                ));
            }
            let received = sample.result_received_at.ok_or_else(|| {
                AppError::conflict("result_receipt_missing", "record when the enterprise received the initial result first (POST …/result-received)")
            })?;
            let window = appeal_window(&calendar, from_ms(received), &policy);
            if !appeal_open(&window, now) {
                return Err(AppError::conflict(
                    "appeal_window_closed",
                    format!("the appeal window closed at the end of {} ({} calendar days after the result was received on {}, receipt day not counted)",
                        window.last_day, policy.appeal_window_calendar_days, calendar.local_date(from_ms(received))),
                ));
            }
            let seal = req.retained_seal_no.as_deref().map(str::trim).unwrap_or("");
            if seal != sample.retained_seal_no {
                return Err(AppError::invalid("seal_mismatch", format!(
                    "retained_seal_no '{seal}' does not match the recorded seal of the retained sample; the retest needs the sealed retained sample")));
            }
            let condition = req.retained_condition.as_deref().map(str::trim).filter(|c| !c.is_empty())
                .ok_or_else(|| AppError::invalid("missing_value", "retained_condition must describe the seal and sample condition, e.g. intact"))?;
            crate::service::text_input::paragraph("retained_condition", condition, 500)?;
            let due = stage_due(&calendar, now, policy.retest_working_days, &[]);
            with_tx!(tx, |c| diesel::insert_into(stages::table)
                .values((
                    stages::sample_id.eq(sample.id),
                    stages::stage.eq(Stage::Retest.as_code()),
                    stages::started_at.eq(now_ms),
                    stages::due_at.eq(to_ms(due)),
                ))
                .execute(c))?;
            upd.retest_requested_at = Some(now_ms);
            upd.retained_condition = Some(condition.to_string());
            upd.current_stage = Some(Stage::Retest);
            upd.due_at = Some(Some(to_ms(due)));
        }
        Action::Close => {
            if state == SampleState::InitialReleased
                && sample.final_verdict.as_deref() == Some("fail")
            {
                let Some(received) = sample.result_received_at else {
                    return Err(AppError::conflict("appeal_window_open", "the enterprise's receipt of the result is not recorded, so the appeal window has not started"));
                };
                let window = appeal_window(&calendar, from_ms(received), &policy);
                if appeal_open(&window, now) {
                    return Err(AppError::conflict(
                        "appeal_window_open",
                        format!(
                            "the appeal window is open until the end of {}",
                            window.last_day
                        ),
                    ));
                }
            }
            upd.closed_at = Some(now_ms);
        }
        Action::Reject | Action::Cancel => {
            upd.due_at = Some(None);
        }
    }
    upd.state_reason = reason.clone();
    write_update(tx, &sample, next, &upd)?;
    audit::append(
        tx,
        now_ms,
        NewEvent {
            actor: user.username.clone(),
            action: format!("sample.{}", action.as_code()),
            entity: "sample".into(),
            entity_id: sample.sample_code.clone(),
            sample_id: Some(sample.id),
            before: Some(serde_json::json!({"state": sample.state, "version": sample.version})),
            after: Some(
                serde_json::json!({"state": next.as_code(), "version": sample.version + 1}),
            ),
            reason,
        },
    )?;
    for mut e in extra_events {
        e.entity = "sample".into();
        e.entity_id = sample.sample_code.clone();
        e.sample_id = Some(sample.id);
        e.after = Some(serde_json::json!({"state": next.as_code()}));
        audit::append(tx, now_ms, e)?;
    }
    Ok(())
}

fn ensure_precision_met(
    tx: &mut Tx<'_>,
    sample: &SampleRow,
    st: &StageRow,
) -> Result<BTreeMap<Analysis, Decimal>, AppError> {
    let sets = frozen_sets(sample)?;
    let needed = analyses_for(
        sets.iter()
            .flat_map(|s| s.limits.iter().map(|l| l.parameter)),
    );
    let means = accepted_means(tx, st.id)?;
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

fn release_stage(
    tx: &mut Tx<'_>,
    user: &CurrentUser,
    sample: &SampleRow,
    st: &StageRow,
    stage: Stage,
    now_ms: i64,
) -> Result<(), AppError> {
    let entered_by_me: i64 = with_tx!(tx, |c| determinations::table
        .filter(determinations::stage_id.eq(st.id))
        .filter(determinations::entered_by.eq(user.id))
        .count()
        .get_result(c))?;
    if entered_by_me > 0 {
        return Err(AppError::conflict(
            "four_eyes",
            "a stage is released by a reviewer who entered none of its determinations",
        ));
    }
    let means = ensure_precision_met(tx, sample, st)?;
    let sets = frozen_sets(sample)?;
    let results = derive_results(&means)
        .map_err(|e| AppError::invalid("impossible_result", e.to_string()))?;
    let values: BTreeMap<ResultParameter, Decimal> =
        results.iter().map(|r| (r.parameter, r.value)).collect();
    let set_refs: Vec<&LimitSet> = sets.iter().collect();
    let verdict = judge_stage(&values, &set_refs)
        .map_err(|e| AppError::conflict("cannot_judge", e.to_string()))?;
    let reproducibility = if stage == Stage::Retest {
        let initial = stage_row(tx, sample.id, Stage::InitialTest)?.and_then(|s| s.results);
        // Stored results are JSON objects with "parameter" and "value" (DerivedResult).
        let initial: Vec<serde_json::Value> = initial
            .map(|t| serde_json::from_str(&t))
            .transpose()
            .map_err(|e| AppError::Internal(e.to_string()))?
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
        Some(serde_json::to_string(&checks).map_err(|e| AppError::Internal(e.to_string()))?)
    } else {
        None
    };
    let report_no = format!(
        "{}-{}",
        sample.sample_code,
        if stage == Stage::Retest { "R1" } else { "I1" }
    );
    let verdict_code = verdict.verdict.as_code();
    let detail =
        serde_json::to_string(&verdict.limits).map_err(|e| AppError::Internal(e.to_string()))?;
    let results_json =
        serde_json::to_string(&results).map_err(|e| AppError::Internal(e.to_string()))?;
    with_tx!(tx, |c| diesel::update(stages::table.find(st.id))
        .set((
            stages::released_at.eq(now_ms),
            stages::released_by.eq(user.id),
            stages::verdict.eq(verdict_code),
            stages::verdict_detail.eq(&detail),
            stages::results.eq(&results_json),
            stages::reproducibility.eq(&reproducibility),
            stages::report_no.eq(&report_no),
        ))
        .execute(c))?;
    crate::service::result_rows::store(tx, st.id, 1, &results_json, &detail)?;
    audit::append(
        tx,
        now_ms,
        NewEvent {
            actor: user.username.clone(),
            action: "stage.release".into(),
            entity: "stage".into(),
            entity_id: report_no.clone(),
            sample_id: Some(sample.id),
            before: None,
            after: Some(
                serde_json::json!({"stage": stage.as_code(), "verdict": verdict_code, "results": results, "limits": verdict.limits, "reproducibility": reproducibility}),
            ),
            reason: None,
        },
    )?;
    Ok(())
}

/// Fields an action changes on the sample row (None = unchanged).
#[derive(Default)]
struct SampleUpdate {
    received_at: Option<i64>,
    retest_requested_at: Option<i64>,
    closed_at: Option<i64>,
    final_verdict: Option<Option<String>>,
    current_stage: Option<Stage>,
    due_at: Option<Option<i64>>,
    retained_condition: Option<String>,
    state_reason: Option<String>,
}

fn write_update(
    tx: &mut Tx<'_>,
    sample: &SampleRow,
    next: SampleState,
    u: &SampleUpdate,
) -> Result<(), AppError> {
    let received_at = u.received_at.or(sample.received_at);
    let retest_requested_at = u.retest_requested_at.or(sample.retest_requested_at);
    let closed_at = u.closed_at.or(sample.closed_at);
    let final_verdict = u
        .final_verdict
        .clone()
        .unwrap_or(sample.final_verdict.clone());
    let current_stage = u
        .current_stage
        .map(|s| s.as_code().to_string())
        .or(sample.current_stage.clone());
    let due_at = u.due_at.unwrap_or(sample.due_at);
    let retained_condition = u
        .retained_condition
        .clone()
        .or(sample.retained_condition.clone());
    let state_reason = u.state_reason.clone().or(sample.state_reason.clone());
    let n = with_tx!(tx, |c| diesel::update(
        samples::table
            .filter(samples::id.eq(sample.id))
            .filter(samples::version.eq(sample.version))
    )
    .set((
        samples::state.eq(next.as_code()),
        samples::received_at.eq(received_at),
        samples::retest_requested_at.eq(retest_requested_at),
        samples::closed_at.eq(closed_at),
        samples::final_verdict.eq(final_verdict),
        samples::current_stage.eq(current_stage),
        samples::due_at.eq(due_at),
        samples::retained_condition.eq(retained_condition),
        samples::state_reason.eq(state_reason),
        samples::version.eq(sample.version + 1),
    ))
    .execute(c))?;
    if n != 1 {
        return Err(AppError::concurrent_change());
    }
    Ok(())
}

/// Records when the enterprise received the initial result; the appeal window counts from it.
///
/// # Errors
/// 409 `version_conflict`; 409 `illegal_transition` unless the initial test is released and not
/// yet appealed; 422 for a bad or future instant or one before the release.
pub fn record_result_received(
    tx: &mut Tx<'_>,
    user: &CurrentUser,
    sample_id: i64,
    req: &ResultReceived,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let sample = sample_svc::load_for_update(tx, sample_id)?;
    check_visible(&sample, user)?;
    check_version(&sample, req.version)?;
    if state_of(&sample)? != SampleState::InitialReleased {
        return Err(AppError::conflict(
            "illegal_transition",
            format!(
                "the result receipt is recorded only in state initial_released (the sample is {})",
                sample.state
            ),
        ));
    }
    let at = parse_instant("received_at", &req.received_at)
        .map_err(|m| AppError::invalid("invalid_value", m))?;
    let released = stage_row(tx, sample.id, Stage::InitialTest)?
        .and_then(|s| s.released_at)
        .unwrap_or(0);
    if to_ms(at) < released || at > now + chrono::Duration::minutes(5) {
        return Err(AppError::invalid(
            "invalid_value",
            "received_at must lie between the release of the result and now",
        ));
    }
    let lab = reference::lab(tx, sample.lab_id)?;
    let calendar = reference::load_calendar(tx, &lab.calendar_code, &lab.timezone)?;
    let supplier_jurisdiction: String = with_tx!(tx, |c| crate::db::schema::suppliers::table
        .find(sample.supplier_id)
        .select(crate::db::schema::suppliers::jurisdiction_code)
        .first(c))?;
    let policy =
        reference::deadline_policy(&reference::jurisdiction_chain(tx, &supplier_jurisdiction)?);
    let window = appeal_window(&calendar, at, &policy);
    let n = with_tx!(tx, |c| diesel::update(
        samples::table
            .filter(samples::id.eq(sample.id))
            .filter(samples::version.eq(sample.version))
    )
    .set((
        samples::result_received_at.eq(to_ms(at)),
        samples::appeal_closes_at.eq(to_ms(window.closes_at)),
        samples::version.eq(sample.version + 1),
    ))
    .execute(c))?;
    if n != 1 {
        return Err(AppError::concurrent_change());
    }
    audit::append(
        tx,
        to_ms(now),
        NewEvent {
            actor: user.username.clone(),
            action: "sample.result_received".into(),
            entity: "sample".into(),
            entity_id: sample.sample_code.clone(),
            sample_id: Some(sample.id),
            before: Some(serde_json::json!({"result_received_at": sample.result_received_at})),
            after: Some(
                serde_json::json!({"result_received_at": to_ms(at), "appeal_last_day": window.last_day.to_string()}),
            ),
            reason: None,
        },
    )?;
    Ok(())
}
