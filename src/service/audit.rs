//! The append-only audit trail with a SHA-256 chain (DESIGN.md "Audit trail").
//!
//! Each event's hash covers its own fields and the previous event's hash, so an edited, deleted
//! or reordered row breaks the chain at that point. Appends are serialised: on SQLite by the
//! write transaction (`BEGIN IMMEDIATE`), on PostgreSQL by a transaction-scoped advisory lock,
//! so several servers on one database still build one chain.

use diesel::connection::SimpleConnection;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::db::schema::audit_events;
use crate::db::{Db, Tx};
use crate::error::AppError;
use crate::with_tx;

/// The hash that the first event chains to.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// The PostgreSQL advisory lock that serialises appends to the chain.
pub const AUDIT_LOCK_KEY: i64 = 0x6175_6469_74;

/// One event to append: who did what to which entity, with before/after and a reason.
#[derive(Debug, Clone, Default)]
pub struct NewEvent {
    /// Username, or "system".
    pub actor: String,
    /// What happened, e.g. "sample.receive", "determination.enter", "login.failed".
    pub action: String,
    /// Entity kind, e.g. "sample", "supplier", "limit_set".
    pub entity: String,
    /// Entity identifier.
    pub entity_id: String,
    /// The sample concerned, if any (for filtering).
    pub sample_id: Option<i64>,
    /// State before (JSON), if any.
    pub before: Option<serde_json::Value>,
    /// State after (JSON), if any.
    pub after: Option<serde_json::Value>,
    /// Reason given by the person, if any.
    pub reason: Option<String>,
}

/// A stored audit event.
#[derive(Debug, Clone, Serialize, diesel::Queryable)]
pub struct AuditEvent {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// Instant (ms since the epoch, UTC).
    pub at: i64,
    /// Username or "system".
    pub actor: String,
    /// What happened.
    pub action: String,
    /// Entity kind.
    pub entity: String,
    /// Entity identifier.
    pub entity_id: String,
    /// Sample concerned.
    pub sample_id: Option<i64>,
    /// Before (JSON text).
    pub before_json: Option<String>,
    /// After (JSON text).
    pub after_json: Option<String>,
    /// Reason.
    pub reason: Option<String>,
    /// Hash of the previous event.
    pub prev_hash: String,
    /// This event's hash.
    pub hash: String,
}

/// The canonical hash of an event: SHA-256 over a JSON array of every field and `prev_hash`.
pub fn event_hash(e: &AuditEvent) -> String {
    let canonical = serde_json::json!([
        e.seq,
        e.at,
        e.actor,
        e.action,
        e.entity,
        e.entity_id,
        e.sample_id,
        e.before_json,
        e.after_json,
        e.reason,
        e.prev_hash
    ]);
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

/// Appends one event inside the caller's transaction and returns its sequence number.
///
/// # Errors
/// [`AppError::Database`] when the insert fails (the caller's whole transaction rolls back).
pub fn append(tx: &mut Tx<'_>, at_ms: i64, event: NewEvent) -> Result<i64, AppError> {
    if let Tx::Pg(c) = tx {
        c.batch_execute(&format!("SELECT pg_advisory_xact_lock({AUDIT_LOCK_KEY})"))?;
    }
    let last: Option<(i64, String)> = with_tx!(tx, |c| audit_events::table
        .select((audit_events::seq, audit_events::hash))
        .order(audit_events::seq.desc())
        .first(c)
        .optional())?;
    let (prev_seq, prev_hash) = last.unwrap_or((0, GENESIS_HASH.to_string()));
    let mut row = AuditEvent {
        seq: prev_seq + 1,
        at: at_ms,
        actor: event.actor,
        action: event.action,
        entity: event.entity,
        entity_id: event.entity_id,
        sample_id: event.sample_id,
        before_json: event.before.map(|v| v.to_string()),
        after_json: event.after.map(|v| v.to_string()),
        reason: event.reason,
        prev_hash,
        hash: String::new(),
    };
    row.hash = event_hash(&row);
    with_tx!(tx, |c| diesel::insert_into(audit_events::table)
        .values((
            audit_events::seq.eq(row.seq),
            audit_events::at.eq(row.at),
            audit_events::actor.eq(&row.actor),
            audit_events::action.eq(&row.action),
            audit_events::entity.eq(&row.entity),
            audit_events::entity_id.eq(&row.entity_id),
            audit_events::sample_id.eq(row.sample_id),
            audit_events::before_json.eq(&row.before_json),
            audit_events::after_json.eq(&row.after_json),
            audit_events::reason.eq(&row.reason),
            audit_events::prev_hash.eq(&row.prev_hash),
            audit_events::hash.eq(&row.hash),
        ))
        .execute(c))?;
    Ok(row.seq)
}

/// The outcome of verifying the chain.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ChainReport {
    /// Events checked.
    pub events: i64,
    /// True when every link holds.
    pub ok: bool,
    /// The first broken link, if any: the sequence number and what is wrong.
    pub first_broken: Option<BrokenLink>,
}

/// Where and how the chain breaks.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BrokenLink {
    /// Sequence number of the first event that does not verify.
    pub seq: i64,
    /// What is wrong (edited, missing predecessor, reordered).
    pub problem: String,
}

/// Recomputes the whole chain in order of `seq`, in pages, and reports the first broken link.
///
/// # Errors
/// [`AppError::Database`] / [`AppError::Unavailable`] when the events cannot be read.
pub fn verify(db: &Db) -> Result<ChainReport, AppError> {
    let mut expected_prev = GENESIS_HASH.to_string();
    let mut expected_seq = 1i64;
    let mut count = 0i64;
    let mut after = 0i64;
    loop {
        let page: Vec<AuditEvent> = db.read(|tx| {
            Ok(with_tx!(tx, |c| audit_events::table
                .filter(audit_events::seq.gt(after))
                .order(audit_events::seq.asc())
                .limit(5000)
                .load::<AuditEvent>(c))?)
        })?;
        if page.is_empty() {
            break;
        }
        for e in &page {
            count += 1;
            let problem = if e.seq != expected_seq {
                Some(format!("expected event {expected_seq} next but found {} (an event is missing or was inserted)", e.seq))
            } else if e.prev_hash != expected_prev {
                Some(
                    "its previous-hash does not match the event before it (deleted or reordered)"
                        .to_string(),
                )
            } else if event_hash(e) != e.hash {
                Some("its content does not match its hash (edited)".to_string())
            } else {
                None
            };
            if let Some(problem) = problem {
                return Ok(ChainReport {
                    events: count,
                    ok: false,
                    first_broken: Some(BrokenLink {
                        seq: e.seq,
                        problem,
                    }),
                });
            }
            expected_prev = e.hash.clone();
            expected_seq += 1;
            after = e.seq;
        }
    }
    Ok(ChainReport {
        events: count,
        ok: true,
        first_broken: None,
    })
}

/// Filters of the audit list (all optional, combined with AND).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditFilter {
    /// Sample id.
    pub sample_id: Option<i64>,
    /// Username (or "system").
    pub actor: Option<String>,
    /// Action, e.g. sample.release.
    pub action: Option<String>,
    /// From this instant (RFC 3339), inclusive.
    pub from: Option<String>,
    /// Before this instant (RFC 3339), exclusive.
    pub to: Option<String>,
    /// Page from 1.
    pub page: Option<i64>,
    /// Items per page (1..=200).
    pub per_page: Option<i64>,
}

/// One page of audit events matching `f`, oldest first (`GET /api/v1/audit`, the auditor's
/// page of the web interface).
///
/// # Errors
/// [`AppError::Invalid`] for a bad instant or page; database errors.
pub fn list_events(
    tx: &mut Tx<'_>,
    f: &AuditFilter,
) -> Result<crate::service::samples::Page<AuditEvent>, AppError> {
    use crate::time::parse_instant;
    let (page, per_page) = crate::service::samples::page_bounds(f.page, f.per_page)?;
    let instant = |field: &str, v: &Option<String>| {
        v.as_deref()
            .map(|t| parse_instant(field, t))
            .transpose()
            .map_err(|m| AppError::invalid("invalid_value", m))
    };
    let from = instant("from", &f.from)?;
    let to = instant("to", &f.to)?;
    if let (Some(a), Some(b)) = (from, to) {
        // As the sample list and the reports: a reversed period is a mistake, not "nothing".
        if a > b {
            return Err(AppError::invalid(
                "invalid_value",
                "from must not be after to",
            ));
        }
    }
    macro_rules! q {
        () => {{
            let mut q = audit_events::table.into_boxed();
            if let Some(s) = f.sample_id {
                q = q.filter(audit_events::sample_id.eq(s));
            }
            if let Some(a) = &f.actor {
                q = q.filter(audit_events::actor.eq(a.clone()));
            }
            if let Some(a) = &f.action {
                q = q.filter(audit_events::action.eq(a.clone()));
            }
            if let Some(t) = from {
                q = q.filter(audit_events::at.ge(t.timestamp_millis()));
            }
            if let Some(t) = to {
                q = q.filter(audit_events::at.lt(t.timestamp_millis()));
            }
            q
        }};
    }
    let unfiltered = f.sample_id.is_none()
        && f.actor.is_none()
        && f.action.is_none()
        && from.is_none()
        && to.is_none();
    // Unfiltered, the total is the last sequence number: the chain numbers its events
    // 1, 2, 3 … without gaps (`audit verify` checks it), so this reads one index entry
    // instead of counting every event (docs/performance.md).
    let total: i64 = if unfiltered {
        with_tx!(tx, |c| audit_events::table
            .select(diesel::dsl::max(audit_events::seq))
            .first::<Option<i64>>(c))?
        .unwrap_or(0)
    } else {
        with_tx!(tx, |c| q!().count().get_result(c))?
    };
    let items: Vec<AuditEvent> = with_tx!(tx, |c| q!()
        .order(audit_events::seq.asc())
        .limit(per_page)
        .offset((page - 1) * per_page)
        .load(c))?;
    Ok(crate::service::samples::Page {
        items,
        page,
        per_page,
        total,
    })
}
