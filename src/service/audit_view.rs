//! The audit trail as a reader sees it. Auditors read every event, but not results a lab has not
//! released yet (DESIGN.md "Who uses it": unreleased results are invisible to regulators and
//! auditors): the values of `determination.enter` events of a stage that is not released, and
//! of `stage.amend_propose` events of an amendment that is not released, are withheld until the
//! release; so are the `hash` of such an event and the `prev_hash` of the event after it,
//! from which the few possible values could be found by trying them. Admins see every event as
//! stored. The stored events and the chain are unchanged; `GET /api/v1/audit/verify` checks the
//! stored text.

use std::collections::HashMap;

use crate::db::schema::{audit_events, stage_revisions, stages};
use crate::db::Tx;
use crate::domain::terms::Role;
use crate::error::AppError;
use crate::service::audit::{list_events, AuditEvent, AuditFilter};
use crate::service::auth::CurrentUser;
use crate::service::samples::Page;
use crate::with_tx;

/// What a withheld event carries instead of its `after` values (JSON text).
pub const WITHHELD: &str =
    r#"{"withheld":"results not released yet; shown here once the lab releases them"}"#;

/// [`list_events`] for `user`: for an auditor, the values of unreleased results withheld.
///
/// # Errors
/// As [`list_events`]; database errors.
pub fn list_events_for(
    tx: &mut Tx<'_>,
    user: &CurrentUser,
    f: &AuditFilter,
) -> Result<Page<AuditEvent>, AppError> {
    let mut page = list_events(tx, f)?;
    if user.role == Role::Auditor {
        withhold_unreleased(tx, &mut page.items)?;
    }
    Ok(page)
}

/// The stage code named by an event's entity id (`{sample_code}/{stage}/…`).
fn stage_code(entity_id: &str) -> Option<&str> {
    entity_id.split('/').nth(1)
}

/// What a withheld event shows instead of its `hash`, and the event after it instead of its
/// `prev_hash`: the hash covers the withheld values, which are few enough (0.00–99.99) to be
/// found from it by trying them all.
pub const WITHHELD_HASH: &str = "withheld";

/// (sample id, stage code) → (stage id, released?), read once per page.
type StageCache = HashMap<(i64, String), Option<(i64, bool)>>;

/// Whether `e` carries results that are not released yet.
fn carries_unreleased(
    tx: &mut Tx<'_>,
    stage_of: &mut StageCache,
    e: &AuditEvent,
) -> Result<bool, AppError> {
    let proposal = e.action == "stage.amend_propose";
    if e.action != "determination.enter" && !proposal {
        return Ok(false);
    }
    let (Some(sample_id), Some(code)) = (e.sample_id, stage_code(&e.entity_id)) else {
        return Ok(true);
    };
    let key = (sample_id, code.to_string());
    let stage = match stage_of.get(&key) {
        Some(s) => *s,
        None => {
            let row: Option<(i64, Option<i64>)> = with_tx!(tx, |c| stages::table
                .filter(stages::sample_id.eq(sample_id))
                .filter(stages::stage.eq(code))
                .select((stages::id, stages::released_at))
                .first(c)
                .optional())?;
            let s = row.map(|(id, released)| (id, released.is_some()));
            stage_of.insert(key, s);
            s
        }
    };
    Ok(match (stage, proposal) {
        (Some((_, released)), false) => !released,
        (Some((stage_id, _)), true) => {
            let revision = e
                .after_json
                .as_deref()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
                .and_then(|v| v["revision"].as_i64());
            match revision {
                Some(r) => {
                    let status: Option<String> = with_tx!(tx, |c| stage_revisions::table
                        .filter(stage_revisions::stage_id.eq(stage_id))
                        .filter(stage_revisions::revision.eq(r as i32))
                        .select(stage_revisions::status)
                        .first(c)
                        .optional())?;
                    status.as_deref() != Some("released")
                }
                None => true,
            }
        }
        (None, _) => true,
    })
}

/// Withholds what would show unreleased results: the `after` values of such events
/// ([`WITHHELD`]), their `hash`, and the `prev_hash` of the event after each of them
/// ([`WITHHELD_HASH`]), whether or not that one is on the page.
///
/// # Errors
/// Database errors.
pub fn withhold_unreleased(tx: &mut Tx<'_>, events: &mut [AuditEvent]) -> Result<(), AppError> {
    let mut stage_of = StageCache::new();
    let mut withheld = std::collections::HashSet::new();
    for e in events.iter() {
        if carries_unreleased(tx, &mut stage_of, e)? {
            withheld.insert(e.seq);
        }
    }
    // The predecessors not on the page: their hash is each event's prev_hash.
    let missing: Vec<i64> = events
        .iter()
        .map(|e| e.seq - 1)
        .filter(|s| *s > 0 && !events.iter().any(|e| e.seq == *s))
        .collect();
    for chunk in missing.chunks(500) {
        let before: Vec<AuditEvent> = with_tx!(tx, |c| audit_events::table
            .filter(audit_events::seq.eq_any(chunk))
            .load::<AuditEvent>(c))?;
        for e in &before {
            if carries_unreleased(tx, &mut stage_of, e)? {
                withheld.insert(e.seq);
            }
        }
    }
    for e in events.iter_mut() {
        if withheld.contains(&e.seq) {
            e.after_json = Some(WITHHELD.to_string());
            e.hash = WITHHELD_HASH.to_string();
        }
        if withheld.contains(&(e.seq - 1)) {
            e.prev_hash = WITHHELD_HASH.to_string();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::stage_code;

    #[test]
    fn the_stage_is_the_second_part_of_the_entity_id() {
        assert_eq!(
            stage_code("DEMO-2026-000313/initial_test/aad/1/2"),
            Some("initial_test")
        );
        assert_eq!(stage_code("DEMO-2026-000313/retest"), Some("retest"));
        assert_eq!(stage_code("DEMO-2026-000313"), None);
    }
}
