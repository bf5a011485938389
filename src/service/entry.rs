//! Entering determinations: the value as typed is stored, then the server applies the
//! repeatability rule (GB/T 483-2007, STANDARDS.md §4) to the raw determinations of the run and
//! answers with its decision. Nothing a client computed is trusted.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::db::schema::{analysis_runs, determinations};
use crate::db::Tx;
use crate::domain::decimal::parse_determination;
use crate::domain::lifecycle::SampleState;
use crate::domain::repeatability::{assess, default_table, PrecisionOutcome};
use crate::domain::results::derive_results;
use crate::domain::terms::{Analysis, Stage};
use crate::error::AppError;
use crate::service::audit::{self, NewEvent};
use crate::service::auth::CurrentUser;
use crate::service::rows::{AnalysisRunRow, DeterminationRow};
use crate::service::samples;
use crate::service::workflow::{accepted_means, check_visible, stage_row, state_of};
use crate::time::to_ms;
use crate::with_tx;

/// One determination as sent: the analysis code and the value **as a JSON string** (a JSON
/// number would pass through binary floating point).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDetermination {
    /// Analysis code: mt, mad, aad, vad, st_ad, qgr_ad.
    pub analysis: String,
    /// The value as typed, e.g. "12.34" (% on the analysis's basis, or MJ/kg for qgr_ad).
    pub value: serde_json::Value,
}

/// The server's answer to an entered determination.
#[derive(Debug, Clone, Serialize)]
pub struct EntryOutcome {
    /// Analysis code.
    pub analysis: Analysis,
    /// Run number (a new run starts after "discard and restart").
    pub run: i32,
    /// Position of this determination in the run (1–4).
    pub seq: i32,
    /// The determinations of the run so far, as typed.
    pub determinations: Vec<String>,
    /// The repeatability decision for the run.
    pub precision: PrecisionOutcome,
}

/// Stores one determination and returns the precision outcome for its run.
///
/// # Errors
/// 422 for a value that is not a string, not a decimal, negative or out of the physical range
/// (e.g. Mad ≥ 100); 409 `not_in_testing` unless a stage is in testing; 409
/// `analysis_already_accepted` when the run already has an accepted mean; 409
/// `same_technician` when a retest is entered by a technician of the initial test.
pub fn enter(
    tx: &mut Tx<'_>,
    user: &CurrentUser,
    sample_id: i64,
    input: &NewDetermination,
    now: DateTime<Utc>,
) -> Result<EntryOutcome, AppError> {
    let analysis = Analysis::from_code(input.analysis.trim())
        .map_err(|e| AppError::invalid("invalid_value", e.to_string()))?;
    let text =
        match &input.value {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(_) => return Err(AppError::invalid(
                "value_not_string",
                "value must be a JSON string such as \"12.34\" so that it stays an exact decimal",
            )),
            _ => {
                return Err(AppError::invalid(
                    "invalid_value",
                    "value must be a string holding a decimal number",
                ))
            }
        };
    let value = parse_determination(analysis, &text)
        .map_err(|e| AppError::invalid("invalid_value", format!("{}: {e}", analysis.as_code())))?;
    let table = default_table(analysis).ok_or_else(|| {
        AppError::invalid(
            "no_repeatability_table",
            format!(
                "no repeatability limit is configured for {}",
                analysis.as_code()
            ),
        )
    })?;
    let sample = samples::load_for_update(tx, sample_id)?;
    check_visible(&sample, user)?;
    let stage = match state_of(&sample)? {
        SampleState::InitialTesting => Stage::InitialTest,
        SampleState::RetestTesting => Stage::Retest,
        other => {
            return Err(AppError::conflict("not_in_testing", format!(
                "determinations are entered in state initial_testing or retest_testing; the sample is {}", other.as_code())))
        }
    };
    let st = stage_row(tx, sample.id, stage)?
        .ok_or_else(|| AppError::Internal("stage row missing".into()))?;
    if stage == Stage::Retest {
        if let Some(initial) = stage_row(tx, sample.id, Stage::InitialTest)? {
            let mine: i64 = with_tx!(tx, |c| determinations::table
                .filter(determinations::stage_id.eq(initial.id))
                .filter(determinations::entered_by.eq(user.id))
                .count()
                .get_result(c))?;
            if mine > 0 {
                return Err(AppError::conflict("same_technician", "the retest must be done by a technician other than the one of the initial test"));
            }
        }
    }
    let last_run: Option<AnalysisRunRow> = with_tx!(tx, |c| analysis_runs::table
        .filter(analysis_runs::stage_id.eq(st.id))
        .filter(analysis_runs::analysis.eq(analysis.as_code()))
        .order(analysis_runs::run.desc())
        .first(c)
        .optional())?;
    let run = match &last_run {
        None => 1,
        Some(r) if r.outcome == "accepted" => {
            return Err(AppError::conflict(
                "analysis_already_accepted",
                format!(
                    "{} already has an accepted mean ({}); no more determinations are needed",
                    analysis.as_code(),
                    r.mean.clone().unwrap_or_default()
                ),
            ))
        }
        Some(r) if r.outcome == "discard_and_restart" => r.run + 1,
        Some(r) => r.run,
    };
    let previous: Vec<DeterminationRow> = with_tx!(tx, |c| determinations::table
        .filter(determinations::stage_id.eq(st.id))
        .filter(determinations::analysis.eq(analysis.as_code()))
        .filter(determinations::run.eq(run))
        .order(determinations::seq.asc())
        .load(c))?;
    let seq = previous.len() as i32 + 1;
    let now_ms = to_ms(now);
    let typed = crate::domain::decimal::recorded_text(&text);
    with_tx!(tx, |c| diesel::insert_into(determinations::table)
        .values((
            determinations::stage_id.eq(st.id),
            determinations::analysis.eq(analysis.as_code()),
            determinations::run.eq(run),
            determinations::seq.eq(seq),
            determinations::value_text.eq(&typed),
            determinations::entered_by.eq(user.id),
            determinations::entered_at.eq(now_ms),
        ))
        .execute(c))?;
    let mut texts: Vec<String> = previous.iter().map(|d| d.value_text.clone()).collect();
    texts.push(typed.clone());
    let mut values = Vec::with_capacity(texts.len());
    for t in &texts {
        values.push(Decimal::from_str(t).map_err(|e| AppError::Internal(e.to_string()))?);
    }
    debug_assert_eq!(values.last(), Some(&value));
    let outcome =
        assess(&values, &table).map_err(|e| AppError::conflict("precision_rule", e.to_string()))?;
    if let PrecisionOutcome::Accepted { mean, .. } = &outcome {
        // An accepted mean is final for its run, so refuse one that cannot coexist with the
        // stage's other accepted means (e.g. Mad + Aad ≥ 100 %): the sample would be stuck.
        // Nothing of this request is kept (the transaction rolls back).
        let mut means = accepted_means(tx, st.id)?;
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
        PrecisionOutcome::NeedsAnotherDetermination { .. } => ("needs_another_determination", None),
        PrecisionOutcome::DiscardAndRestart { .. } => ("discard_and_restart", None),
    };
    let detail = serde_json::to_string(&outcome).map_err(|e| AppError::Internal(e.to_string()))?;
    with_tx!(tx, |c| {
        let n = diesel::update(
            analysis_runs::table
                .filter(analysis_runs::stage_id.eq(st.id))
                .filter(analysis_runs::analysis.eq(analysis.as_code()))
                .filter(analysis_runs::run.eq(run)),
        )
        .set((
            analysis_runs::outcome.eq(code),
            analysis_runs::mean.eq(&mean),
            analysis_runs::detail.eq(&detail),
        ))
        .execute(c)?;
        if n == 0 {
            diesel::insert_into(analysis_runs::table)
                .values((
                    analysis_runs::stage_id.eq(st.id),
                    analysis_runs::analysis.eq(analysis.as_code()),
                    analysis_runs::run.eq(run),
                    analysis_runs::outcome.eq(code),
                    analysis_runs::mean.eq(&mean),
                    analysis_runs::detail.eq(&detail),
                ))
                .execute(c)?;
        }
        Ok::<_, diesel::result::Error>(())
    })?;
    audit::append(
        tx,
        now_ms,
        NewEvent {
            actor: user.username.clone(),
            action: "determination.enter".into(),
            entity: "determination".into(),
            entity_id: format!(
                "{}/{}/{}/{}/{}",
                sample.sample_code,
                stage.as_code(),
                analysis.as_code(),
                run,
                seq
            ),
            sample_id: Some(sample.id),
            before: None,
            after: Some(serde_json::json!({"value": typed, "precision": outcome})),
            reason: None,
        },
    )?;
    Ok(EntryOutcome {
        analysis,
        run,
        seq,
        determinations: texts,
        precision: outcome,
    })
}
