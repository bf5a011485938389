//! Closing samples whose appeal window passed with no appeal (DESIGN.md "Sample lifecycle":
//! `initial_released(fail) ─(window expires)→ closed(fail)`; Product Quality Law Art. 15: no
//! objection in time means the result is accepted, STANDARDS.md §6).
//!
//! Lists already treat such samples as closed at query time; this job makes the stored state
//! catch up. It runs at server start and every minute. Several servers may run it at once: each
//! sample closes in its own transaction guarded by the sample's version, so a sample closed by
//! another server (or appealed a moment before) is skipped, never closed twice.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::db::schema::samples;
use crate::db::{Db, Tx};
use crate::domain::lifecycle::{transition, Action, Actor, SampleState};
use crate::error::AppError;
use crate::service::audit::{self, NewEvent};
use crate::service::samples as sample_svc;
use crate::service::workflow::{state_of, transition_error};
use crate::time::{ms_to_rfc3339, to_ms};
use crate::with_tx;

/// Samples to close: initial_released with a failing verdict whose window closed at or before
/// `now_ms` (`appeal_closes_at` is the exclusive end of the window).
fn due(tx: &mut Tx<'_>, now_ms: i64) -> Result<Vec<i64>, AppError> {
    Ok(with_tx!(tx, |c| samples::table
        .filter(samples::state.eq(SampleState::InitialReleased.as_code()))
        .filter(samples::final_verdict.eq("fail"))
        .filter(samples::appeal_closes_at.le(now_ms))
        // Oldest windows first, in the order of `samples_state_appeal` (state, appeal_closes_at),
        // so the batch is read from that index whatever the planner knows of the values.
        .order(samples::appeal_closes_at.asc())
        .select(samples::id)
        .limit(1000)
        .load::<i64>(c))?)
}

/// Closes one sample if it is still due; returns whether this call closed it.
fn close_one(tx: &mut Tx<'_>, id: i64, now_ms: i64) -> Result<bool, AppError> {
    let s = sample_svc::load_for_update(tx, id)?;
    let still_due = state_of(&s)? == SampleState::InitialReleased
        && s.final_verdict.as_deref() == Some("fail")
        && s.appeal_closes_at.is_some_and(|t| t <= now_ms);
    if !still_due {
        return Ok(false);
    }
    let next = transition(SampleState::InitialReleased, Action::Close, Actor::System)
        .map_err(transition_error)?;
    let n = with_tx!(tx, |c| diesel::update(
        samples::table
            .filter(samples::id.eq(s.id))
            .filter(samples::version.eq(s.version))
    )
    .set((
        samples::state.eq(next.as_code()),
        samples::closed_at.eq(now_ms),
        samples::version.eq(s.version + 1),
    ))
    .execute(c))?;
    if n != 1 {
        return Ok(false);
    }
    audit::append(
        tx,
        now_ms,
        NewEvent {
            actor: "system".into(),
            action: "sample.close".into(),
            entity: "sample".into(),
            entity_id: s.sample_code.clone(),
            sample_id: Some(s.id),
            before: Some(serde_json::json!({"state": s.state, "version": s.version})),
            after: Some(serde_json::json!({
                "state": next.as_code(), "version": s.version + 1, "final_verdict": s.final_verdict
            })),
            reason: Some(format!(
                "no retest requested before the appeal window closed at {}: the initial verdict fail is final",
                s.appeal_closes_at.map(ms_to_rfc3339).unwrap_or_default()
            )),
        },
    )?;
    Ok(true)
}

/// Closes (as the system) every initial_released fail sample whose appeal window closed at or
/// before `now`, one transaction per sample, with a `sample.close` audit event each. Returns how
/// many this call closed. Idempotent: a second run at the same `now` closes nothing.
///
/// # Errors
/// Database errors (samples closed before the error stay closed).
pub fn close_expired(db: &Db, now: DateTime<Utc>) -> Result<usize, AppError> {
    let now_ms = to_ms(now);
    let mut closed = 0;
    loop {
        let ids = db.read(|tx| due(tx, now_ms))?;
        let batch = ids.len();
        let mut progressed = 0;
        for id in ids {
            match db.transaction(|tx| close_one(tx, id, now_ms)) {
                Ok(true) => {
                    closed += 1;
                    progressed += 1
                }
                Ok(false) => {}
                // Another server changed the sample at the same moment: its turn, not ours.
                Err(AppError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        if batch < 1000 || progressed == 0 {
            break;
        }
    }
    if closed > 0 {
        tracing::info!(closed, "closed samples whose appeal window passed");
    }
    Ok(closed)
}

/// Runs [`close_expired`] now and then every `every` on a background thread for the life of the
/// process (also purging expired browser sessions, and refreshing SQLite's planner statistics
/// with [`Db::optimize`] at start and every 60th run). Errors are logged, never fatal.
pub fn spawn_periodic(db: Db, every: Duration) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("coallab-appeal-close".into())
        .spawn(move || {
            let mut runs: u64 = 0;
            loop {
                // Planner statistics (SQLite): at start and then every 60th run (hourly).
                if runs.is_multiple_of(60) {
                    if let Err(e) = db.optimize() {
                        tracing::warn!(error = %e, "refreshing the planner statistics failed");
                    }
                }
                runs += 1;
                let now = Utc::now();
                if let Err(e) = close_expired(&db, now) {
                    tracing::warn!(error = %e, "closing expired appeal windows failed");
                }
                let purged = db
                    .transaction(|tx| crate::service::users_session::purge_expired(tx, to_ms(now)));
                if let Err(e) = purged {
                    tracing::warn!(error = %e, "purging expired sessions failed");
                }
                std::thread::sleep(every);
            }
        })
}
