//! The verdict preview of the stage in progress: what the release would decide from the accepted
//! means entered so far (converted results and every limit checked), computed with the same
//! domain functions as the release (`derive_results`, `judge_stage`) and stored nowhere.
//! Regulators and auditors never see it (only lab pages call it).

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::db::Tx;
use crate::domain::limits::LimitSet;
use crate::domain::results::{derive_results, DerivedResult};
use crate::domain::terms::{ResultParameter, Stage};
use crate::domain::verdict::{judge_stage, StageVerdict};
use crate::error::AppError;
use crate::service::samples;
use crate::service::workflow::{accepted_means, frozen_sets, stage_row, state_of};

/// What the release of the open stage would decide now.
#[derive(Debug, Serialize)]
pub struct StagePreview {
    /// The stage in testing or review.
    pub stage: Stage,
    /// Converted results from the accepted means (empty when they do not suffice yet).
    pub results: Vec<DerivedResult>,
    /// The verdict and each limit, when every limited parameter has a result.
    pub verdict: Option<StageVerdict>,
    /// Why there is no verdict yet (the domain's words), if there is none.
    pub missing: Option<String>,
}

/// The preview of the sample's stage in testing or review; `None` in other states.
///
/// # Errors
/// Database errors; [`AppError::NotFound`] for an unknown sample.
pub fn stage_preview(tx: &mut Tx<'_>, sample_id: i64) -> Result<Option<StagePreview>, AppError> {
    let sample = samples::load(tx, sample_id)?;
    let Some(stage) = state_of(&sample)?.stage() else {
        return Ok(None);
    };
    let Some(st) = stage_row(tx, sample.id, stage)? else {
        return Ok(None);
    };
    if st.released_at.is_some() {
        return Ok(None);
    }
    let means = accepted_means(tx, st.id)?;
    let results = match derive_results(&means) {
        Ok(r) => r,
        Err(e) => {
            return Ok(Some(StagePreview {
                stage,
                results: Vec::new(),
                verdict: None,
                missing: Some(e.to_string()),
            }))
        }
    };
    let values: BTreeMap<ResultParameter, Decimal> =
        results.iter().map(|r| (r.parameter, r.value)).collect();
    let sets: Vec<LimitSet> = frozen_sets(&sample)?;
    let refs: Vec<&LimitSet> = sets.iter().collect();
    let (verdict, missing) = match judge_stage(&values, &refs) {
        Ok(v) => (Some(v), None),
        Err(e) => (None, Some(e.to_string())),
    };
    Ok(Some(StagePreview {
        stage,
        results,
        verdict,
        missing,
    }))
}
