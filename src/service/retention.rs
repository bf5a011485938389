//! Retained samples (存查样) over time (issue 9): when each may be discarded, the list of those
//! whose discard date has come, and recording a discard.
//!
//! Discard date = local date (lab time zone) of the release of the sample's last stage + K
//! calendar days. STANDARDS.md §6: "commonly 2–3 months after reporting" is LOW-MEDIUM, so K is
//! configuration: a `retention_policies` row for the supplier's jurisdiction or the nearest
//! jurisdiction above it, else the global row (scope `*`), else [`DEFAULT_KEEP_DAYS`].
//! A retained sample is never discarded while its appeal window is open or a retest is
//! requested or running (STANDARDS.md §6: "never discard one while its appeal window or retest
//! is open"), nor before its result is released and final.

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::db::schema::{
    retained_discards, retention_policies, samples, sampling_records, suppliers,
};
use crate::db::Tx;
use crate::domain::terms::Role;
use crate::error::AppError;
use crate::service::audit::{self, NewEvent};
use crate::service::auth::CurrentUser;
use crate::service::reference;
use crate::service::rows::SampleRow;
use crate::service::samples::Page;
use crate::time::to_ms;
use crate::with_tx;

/// Calendar days a retained sample is kept after the release of its last stage when no policy
/// is configured: 90, the upper middle of "2–3 months" (STANDARDS.md §6, LOW-MEDIUM).
pub const DEFAULT_KEEP_DAYS: u32 = 90;
/// The scope of the global policy row.
pub const GLOBAL_SCOPE: &str = "*";

/// Why a discard is refused now: (error code, message); `None` when it is allowed. Pure.
///
/// `appeal_closes_at` and `now_ms` are ms since the epoch (UTC).
pub fn discard_blocked(
    state: &str,
    final_verdict: Option<&str>,
    result_received_at: Option<i64>,
    appeal_closes_at: Option<i64>,
    retest_requested_at: Option<i64>,
    now_ms: i64,
) -> Option<(&'static str, String)> {
    match state {
        "registered" | "received" | "initial_testing" | "initial_review" => Some((
            "result_not_final",
            format!("the sample is {state}: its retained sample is kept until the result is released and final"),
        )),
        "retest_testing" | "retest_review" | "retest_released" => Some((
            "retest_open",
            "a retest is requested or running on this retained sample".into(),
        )),
        "initial_released" | "closed" if final_verdict == Some("fail") && retest_requested_at.is_none() => {
            match (result_received_at, appeal_closes_at) {
                (None, _) if state == "initial_released" => Some((
                    "appeal_window_open",
                    "the enterprise's receipt of the result is not recorded, so its appeal window has not even started".into(),
                )),
                (_, Some(closes)) if closes > now_ms => Some((
                    "appeal_window_open",
                    format!("the appeal window is open until {}", crate::time::ms_to_rfc3339(closes)),
                )),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The retention period in calendar days for a supplier jurisdiction, and the scope it came from.
///
/// # Errors
/// Database errors; an unknown jurisdiction.
pub fn keep_days(tx: &mut Tx<'_>, jurisdiction: &str) -> Result<(u32, String), AppError> {
    let chain = reference::jurisdiction_chain(tx, jurisdiction)?;
    let mut scopes: Vec<String> = chain.iter().map(|j| j.code.clone()).collect();
    scopes.push(GLOBAL_SCOPE.into());
    let rows: Vec<(String, i32)> = with_tx!(tx, |c| retention_policies::table
        .filter(retention_policies::scope.eq_any(&scopes))
        .select((
            retention_policies::scope,
            retention_policies::keep_calendar_days
        ))
        .load(c))?;
    for s in &scopes {
        if let Some((scope, days)) = rows.iter().find(|(sc, _)| sc == s) {
            return Ok((
                u32::try_from(*days).unwrap_or(DEFAULT_KEEP_DAYS),
                scope.clone(),
            ));
        }
    }
    Ok((DEFAULT_KEEP_DAYS, "default".into()))
}

fn lab_tz(tx: &mut Tx<'_>, lab_id: i64) -> Result<chrono_tz::Tz, AppError> {
    let lab = reference::lab(tx, lab_id)?;
    lab.timezone
        .parse()
        .map_err(|_| AppError::Internal(format!("lab time zone '{}'", lab.timezone)))
}

/// Sets the discard date of a sample whose stage is released at `now` (called by the release
/// action in the same transaction). Later releases (a retest) move it later.
///
/// # Errors
/// Database errors.
pub fn on_release(tx: &mut Tx<'_>, sample: &SampleRow, now: DateTime<Utc>) -> Result<(), AppError> {
    let jurisdiction: String = with_tx!(tx, |c| suppliers::table
        .find(sample.supplier_id)
        .select(suppliers::jurisdiction_code)
        .first(c))?;
    let (days, _) = keep_days(tx, &jurisdiction)?;
    let released_on = now.with_timezone(&lab_tz(tx, sample.lab_id)?).date_naive();
    let discard_on = released_on
        .checked_add_days(Days::new(u64::from(days)))
        .unwrap_or(NaiveDate::MAX);
    with_tx!(tx, |c| diesel::update(samples::table.find(sample.id))
        .set(samples::retained_discard_on.eq(discard_on.to_string()))
        .execute(c))?;
    Ok(())
}

/// Sets the retention period of `scope` (a jurisdiction code, or `*` for all), with its source.
///
/// # Errors
/// 422 for days outside 0..=3650, an unknown jurisdiction or an empty source.
pub fn set_policy(
    tx: &mut Tx<'_>,
    actor: &str,
    scope: &str,
    days: u32,
    source: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    if days > 3650 {
        return Err(AppError::invalid(
            "invalid_value",
            "days must be between 0 and 3650",
        ));
    }
    if source.trim().is_empty() {
        return Err(AppError::invalid(
            "missing_value",
            "say where the retention period comes from (--source)",
        ));
    }
    if scope != GLOBAL_SCOPE {
        reference::jurisdiction_chain(tx, scope)?;
    }
    let before: Option<i32> = with_tx!(tx, |c| retention_policies::table
        .find(scope)
        .select(retention_policies::keep_calendar_days)
        .first(c)
        .optional())?;
    let days_i = i32::try_from(days).unwrap_or(i32::MAX);
    let now_ms = to_ms(now);
    with_tx!(tx, |c| {
        diesel::delete(retention_policies::table.find(scope)).execute(c)?;
        diesel::insert_into(retention_policies::table)
            .values((
                retention_policies::scope.eq(scope),
                retention_policies::keep_calendar_days.eq(days_i),
                retention_policies::source.eq(source.trim()),
                retention_policies::updated_at.eq(now_ms),
            ))
            .execute(c)
    })?;
    audit::append(
        tx,
        now_ms,
        NewEvent {
            actor: actor.into(),
            action: "retention_policy.set".into(),
            entity: "retention_policy".into(),
            entity_id: scope.into(),
            before: before.map(|d| serde_json::json!({"keep_calendar_days": d})),
            after: Some(serde_json::json!({"keep_calendar_days": days, "source": source.trim()})),
            ..Default::default()
        },
    )?;
    Ok(())
}

/// Query of `GET /api/v1/retained-samples/due`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DueQuery {
    /// The date to look at (YYYY-MM-DD); default today in Asia/Shanghai.
    pub on: Option<String>,
    /// Page number from 1.
    pub page: Option<i64>,
    /// Items per page, 1..=200 (default 50).
    pub per_page: Option<i64>,
}

/// One retained sample whose discard date has come.
#[derive(Debug, Clone, Serialize)]
pub struct DueSample {
    /// Sample id.
    pub id: i64,
    /// Sample code.
    pub sample_code: String,
    /// Blind lab code.
    pub lab_code: String,
    /// Lifecycle state.
    pub state: String,
    /// Final verdict.
    pub final_verdict: Option<String>,
    /// Seal number of the retained sample.
    pub retained_seal_no: String,
    /// Where it is stored.
    pub retained_location: String,
    /// Who keeps it.
    pub retained_custodian: String,
    /// Its discard date (lab time zone).
    pub retained_discard_on: String,
    /// Version to send with the discard.
    pub version: i32,
    /// Whether a discard would be accepted now.
    pub may_discard: bool,
    /// Why not, if not: (code) appeal_window_open, retest_open, result_not_final.
    pub blocked_by: Option<String>,
    /// Why not, in words.
    pub blocked_reason: Option<String>,
}

type DueRow = (SampleRow, Option<(String, String)>);

/// The retained samples of the user's lab (all labs for admins and auditors) whose discard date
/// is on or before `query.on` and that are not discarded yet, earliest date first.
///
/// # Errors
/// 422 for a bad date or page size.
pub fn due(
    tx: &mut Tx<'_>,
    user: &CurrentUser,
    query: &DueQuery,
    now: DateTime<Utc>,
) -> Result<Page<DueSample>, AppError> {
    let (page, per_page) = crate::service::samples::page_bounds(query.page, query.per_page)?;
    let on = match &query.on {
        Some(d) => {
            crate::time::parse_date("on", d).map_err(|m| AppError::invalid("invalid_value", m))?
        }
        None => now.with_timezone(&chrono_tz::Asia::Shanghai).date_naive(),
    }
    .to_string();
    let lab = match user.role {
        Role::Technician | Role::Reviewer => Some(user.lab_id.unwrap_or(-1)),
        _ => None,
    };
    let (total, rows): (i64, Vec<DueRow>) = with_tx!(tx, |c| {
        let base = || {
            let mut q = samples::table
                .filter(samples::retained_discard_on.le(on.clone()))
                .filter(diesel::dsl::not(diesel::dsl::exists(
                    retained_discards::table.filter(retained_discards::sample_id.eq(samples::id)),
                )))
                .into_boxed();
            if let Some(l) = lab {
                q = q.filter(samples::lab_id.eq(l));
            }
            q
        };
        let total: i64 = base().count().get_result(c)?;
        let ids: Vec<i64> = base()
            .order((samples::retained_discard_on.asc(), samples::id.asc()))
            .offset((page - 1) * per_page)
            .limit(per_page)
            .select(samples::id)
            .load(c)?;
        let rows: Vec<DueRow> = samples::table
            .left_join(sampling_records::table)
            .filter(samples::id.eq_any(&ids))
            .order((samples::retained_discard_on.asc(), samples::id.asc()))
            .select((
                samples::all_columns,
                (
                    sampling_records::retained_location,
                    sampling_records::retained_custodian,
                )
                    .nullable(),
            ))
            .load(c)?;
        Ok::<_, diesel::result::Error>((total, rows))
    })?;
    let now_ms = to_ms(now);
    let items = rows
        .into_iter()
        .map(|(s, rec)| {
            let blocked = discard_blocked(
                &s.state,
                s.final_verdict.as_deref(),
                s.result_received_at,
                s.appeal_closes_at,
                s.retest_requested_at,
                now_ms,
            );
            let (location, custodian) = rec.unwrap_or_default();
            DueSample {
                id: s.id,
                sample_code: s.sample_code,
                lab_code: s.lab_code,
                state: s.state,
                final_verdict: s.final_verdict,
                retained_seal_no: s.retained_seal_no,
                retained_location: location,
                retained_custodian: custodian,
                retained_discard_on: s.retained_discard_on.unwrap_or_default(),
                version: s.version,
                may_discard: blocked.is_none(),
                blocked_by: blocked.as_ref().map(|b| b.0.to_string()),
                blocked_reason: blocked.map(|b| b.1),
            }
        })
        .collect();
    Ok(Page {
        items,
        page,
        per_page,
        total,
    })
}

/// Body of `POST /api/v1/samples/{key}/discard-retained`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscardRequest {
    /// The sample version the client last saw (409 when stale).
    pub version: i32,
    /// Why and how it was discarded (1 to 2000 characters).
    pub reason: String,
}

/// Records that the retained sample of `sample_id` was discarded; bumps the sample's version
/// and writes `sample.discard_retained` to the audit trail.
///
/// # Errors
/// 404 for another lab's sample; 409 `version_conflict`, `already_discarded`,
/// `appeal_window_open`, `retest_open`, `result_not_final`, `retention_not_due`; 422 for a
/// missing reason.
pub fn discard(
    tx: &mut Tx<'_>,
    user: &CurrentUser,
    sample_id: i64,
    req: &DiscardRequest,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let sample = crate::service::samples::load_for_update(tx, sample_id)?;
    crate::service::workflow::check_visible(&sample, user)?;
    crate::service::workflow::check_version(&sample, req.version)?;
    let reason = req.reason.trim();
    if reason.is_empty() || reason.chars().count() > 2000 {
        return Err(AppError::invalid(
            "missing_value",
            "reason must say why and how the retained sample was discarded (1 to 2000 characters)",
        ));
    }
    crate::service::text_input::paragraph("reason", reason, 2000)?;
    let done: i64 = with_tx!(tx, |c| retained_discards::table
        .filter(retained_discards::sample_id.eq(sample.id))
        .count()
        .get_result(c))?;
    if done > 0 {
        return Err(AppError::conflict(
            "already_discarded",
            format!(
                "the retained sample of {} is already discarded",
                sample.sample_code
            ),
        ));
    }
    let now_ms = to_ms(now);
    if let Some((code, message)) = discard_blocked(
        &sample.state,
        sample.final_verdict.as_deref(),
        sample.result_received_at,
        sample.appeal_closes_at,
        sample.retest_requested_at,
        now_ms,
    ) {
        return Err(AppError::conflict(code, message));
    }
    if let Some(d) = &sample.retained_discard_on {
        let today = now
            .with_timezone(&lab_tz(tx, sample.lab_id)?)
            .date_naive()
            .to_string();
        if d.as_str() > today.as_str() {
            return Err(AppError::conflict(
                "retention_not_due",
                format!("the retained sample is kept until {d} (today is {today})"),
            ));
        }
    }
    let user_id = (user.id > 0).then_some(user.id);
    let n = with_tx!(tx, |c| {
        diesel::insert_into(retained_discards::table)
            .values((
                retained_discards::sample_id.eq(sample.id),
                retained_discards::discarded_at.eq(now_ms),
                retained_discards::discarded_by.eq(user_id),
                retained_discards::reason.eq(reason),
            ))
            .execute(c)?;
        diesel::update(
            samples::table
                .filter(samples::id.eq(sample.id))
                .filter(samples::version.eq(sample.version)),
        )
        .set(samples::version.eq(sample.version + 1))
        .execute(c)
    })?;
    if n != 1 {
        return Err(AppError::concurrent_change());
    }
    audit::append(
        tx,
        now_ms,
        NewEvent {
            actor: user.username.clone(),
            action: "sample.discard_retained".into(),
            entity: "sample".into(),
            entity_id: sample.sample_code.clone(),
            sample_id: Some(sample.id),
            before: Some(
                serde_json::json!({"retained_seal_no": sample.retained_seal_no, "retained_discard_on": sample.retained_discard_on, "version": sample.version}),
            ),
            after: Some(
                serde_json::json!({"retained": "discarded", "version": sample.version + 1}),
            ),
            reason: Some(reason.to_string()),
        },
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_windows_and_retests_block_a_discard() {
        let now = 1_000_000;
        assert_eq!(
            discard_blocked("initial_testing", None, None, None, None, now)
                .unwrap()
                .0,
            "result_not_final"
        );
        assert_eq!(
            discard_blocked(
                "retest_testing",
                Some("fail"),
                Some(1),
                Some(2),
                Some(3),
                now
            )
            .unwrap()
            .0,
            "retest_open"
        );
        // Failed, result not yet received by the enterprise: the window has not started.
        assert_eq!(
            discard_blocked("initial_released", Some("fail"), None, None, None, now)
                .unwrap()
                .0,
            "appeal_window_open"
        );
        // Window closes 1 ms after now: still open; at now: closed.
        assert_eq!(
            discard_blocked(
                "initial_released",
                Some("fail"),
                Some(1),
                Some(now + 1),
                None,
                now
            )
            .unwrap()
            .0,
            "appeal_window_open"
        );
        assert_eq!(
            discard_blocked(
                "initial_released",
                Some("fail"),
                Some(1),
                Some(now),
                None,
                now
            ),
            None
        );
        assert_eq!(
            discard_blocked("closed", Some("pass"), None, None, None, now),
            None
        );
        assert_eq!(
            discard_blocked("closed", Some("fail"), Some(1), Some(2), Some(3), now),
            None
        );
        assert_eq!(
            discard_blocked("cancelled", None, None, None, None, now),
            None
        );
    }
}
