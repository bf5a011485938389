//! Results and per-limit verdicts of a released stage revision, written as rows of
//! `stage_results` and `limit_verdicts` in the release transaction (first release: revision 1;
//! an amendment: its revision number). The stage also keeps them as JSON for display.

use crate::db::schema::{limit_verdicts, stage_results};
use crate::db::Tx;
use crate::domain::verdict::LimitVerdict;
use crate::error::AppError;
use crate::with_tx;

fn field<'a>(v: &'a serde_json::Value, name: &str) -> Result<&'a str, AppError> {
    v.get(name)
        .and_then(|x| x.as_str())
        .ok_or_else(|| AppError::Internal(format!("stored result lacks '{name}'")))
}

/// Stores the rows of one released revision.
///
/// `results_json` is the JSON array of [`crate::domain::results::DerivedResult`] and
/// `limits_json` the JSON array of [`LimitVerdict`] that the release computed.
///
/// # Errors
/// [`AppError::Internal`] for JSON that does not have that shape; database errors (a revision
/// stored twice is a unique violation).
pub fn store(
    tx: &mut Tx<'_>,
    stage_id: i64,
    revision: i32,
    results_json: &str,
    limits_json: &str,
) -> Result<(), AppError> {
    let results: Vec<serde_json::Value> = serde_json::from_str(results_json)
        .map_err(|e| AppError::Internal(format!("results JSON: {e}")))?;
    let limits: Vec<LimitVerdict> = serde_json::from_str(limits_json)
        .map_err(|e| AppError::Internal(format!("limits JSON: {e}")))?;
    for r in &results {
        let (parameter, basis, value, reported) = (
            field(r, "parameter")?,
            field(r, "basis")?,
            field(r, "value")?,
            field(r, "reported")?,
        );
        with_tx!(tx, |c| diesel::insert_into(stage_results::table)
            .values((
                stage_results::stage_id.eq(stage_id),
                stage_results::revision.eq(revision),
                stage_results::parameter.eq(parameter),
                stage_results::basis.eq(basis),
                stage_results::value.eq(value),
                stage_results::reported.eq(reported),
            ))
            .execute(c))?;
    }
    for l in &limits {
        with_tx!(tx, |c| diesel::insert_into(limit_verdicts::table)
            .values((
                limit_verdicts::stage_id.eq(stage_id),
                limit_verdicts::revision.eq(revision),
                limit_verdicts::limit_set_id.eq(&l.limit_set_id),
                limit_verdicts::parameter.eq(l.parameter.as_code()),
                limit_verdicts::operator.eq(l.operator.as_code()),
                limit_verdicts::limit_value.eq(l.limit_value.to_string()),
                limit_verdicts::limit_decimals.eq(l.limit_decimals as i32),
                limit_verdicts::method.eq(l.method.as_code()),
                limit_verdicts::value.eq(l.value.to_string()),
                limit_verdicts::rounded_value.eq(l.rounded_value.to_string()),
                limit_verdicts::compared_value.eq(l.compared_value.to_string()),
                limit_verdicts::verdict.eq(l.verdict.as_code()),
                limit_verdicts::source.eq(&l.source),
            ))
            .execute(c))?;
    }
    Ok(())
}
