//! Reference data: jurisdictions, suppliers, limit sets, calendars, labs. Read into domain
//! types; written by import and admin endpoints (each write audited in its transaction).

use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::db::schema::{calendar_days, jurisdictions, labs, limit_sets, limits, suppliers};
use crate::db::Tx;
use crate::domain::calendar::{CalendarDay, DayKind, WorkingCalendar};
use crate::domain::deadline::DeadlinePolicy;
use crate::domain::limits::{Limit, LimitSet};
use crate::domain::terms::{ComparisonMethod, Operator, ResultParameter, SupplierKind};
use crate::error::AppError;
use crate::with_tx;

/// A jurisdiction row (county ⊂ city ⊂ province ⊂ nation), with optional deadline settings.
#[derive(Debug, Clone, Serialize, Deserialize, diesel::Queryable, PartialEq)]
pub struct Jurisdiction {
    /// Stable code, e.g. "cn", "cn-he", "cn-he-demo-county".
    pub code: String,
    /// Name.
    pub name: String,
    /// nation, region, province, city or county.
    pub level: String,
    /// The enclosing jurisdiction.
    pub parent_code: Option<String>,
    /// Initial-test deadline in working days, if this jurisdiction sets one.
    pub initial_test_working_days: Option<i32>,
    /// Retest deadline in working days, if set here.
    pub retest_working_days: Option<i32>,
    /// Appeal window in calendar days, if set here.
    pub appeal_window_calendar_days: Option<i32>,
}

/// A supplier: production enterprise or sale point.
#[derive(Debug, Clone, Serialize, diesel::Queryable, PartialEq)]
pub struct Supplier {
    /// Row id.
    pub id: i64,
    /// Unique code.
    pub code: String,
    /// Name.
    pub name: String,
    /// production_enterprise or sale_point.
    pub kind: String,
    /// Town (镇).
    pub town: String,
    /// Licence number (unique).
    pub licence_no: String,
    /// Jurisdiction code.
    pub jurisdiction_code: String,
    /// Optimistic-lock version.
    pub version: i32,
    /// Created (ms since the epoch).
    pub created_at: i64,
}

/// A lab.
#[derive(Debug, Clone, Serialize, diesel::Queryable)]
pub struct Lab {
    /// Row id.
    pub id: i64,
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// IANA time zone, e.g. Asia/Shanghai.
    pub timezone: String,
    /// Calendar code used for working days.
    pub calendar_code: String,
    /// Created (ms).
    pub created_at: i64,
}

/// The chain of jurisdiction codes from `code` up to the nation (at most 8 levels).
///
/// # Errors
/// [`AppError::Invalid`] when `code` is unknown.
pub fn jurisdiction_chain(tx: &mut Tx<'_>, code: &str) -> Result<Vec<Jurisdiction>, AppError> {
    let mut chain = Vec::new();
    let mut next = Some(code.to_string());
    while let Some(c) = next {
        if chain.len() >= 8 {
            break;
        }
        let j: Option<Jurisdiction> = with_tx!(tx, |conn| jurisdictions::table
            .find(&c)
            .first(conn)
            .optional())?;
        match j {
            Some(j) => {
                next = j.parent_code.clone();
                chain.push(j);
            }
            None if chain.is_empty() => {
                return Err(AppError::invalid(
                    "unknown_jurisdiction",
                    format!(
                        "unknown jurisdiction '{}'",
                        crate::domain::decimal::echo(&c)
                    ),
                ))
            }
            None => break,
        }
    }
    Ok(chain)
}

/// The deadline policy for a jurisdiction chain: the nearest jurisdiction that sets a value
/// wins, per value; unset values take [`DeadlinePolicy::default`].
pub fn deadline_policy(chain: &[Jurisdiction]) -> DeadlinePolicy {
    let mut p = DeadlinePolicy::default();
    let pick = |f: fn(&Jurisdiction) -> Option<i32>| {
        chain.iter().find_map(f).and_then(|v| u32::try_from(v).ok())
    };
    if let Some(v) = pick(|j| j.initial_test_working_days) {
        p.initial_test_working_days = v;
    }
    if let Some(v) = pick(|j| j.retest_working_days) {
        p.retest_working_days = v;
    }
    if let Some(v) = pick(|j| j.appeal_window_calendar_days) {
        p.appeal_window_calendar_days = v;
    }
    p
}

/// Every limit set with its limits.
///
/// # Errors
/// [`AppError::Internal`] when a stored value does not parse (schema checks prevent it).
pub fn load_limit_sets(tx: &mut Tx<'_>) -> Result<Vec<LimitSet>, AppError> {
    type SetRow = (
        String,
        String,
        String,
        String,
        String,
        Option<String>,
        String,
    );
    type LimitRow = (String, String, String, String, i32, String);
    let sets: Vec<SetRow> = with_tx!(tx, |c| limit_sets::table
        .select((
            limit_sets::id,
            limit_sets::name,
            limit_sets::source,
            limit_sets::jurisdiction_code,
            limit_sets::effective_from,
            limit_sets::effective_to,
            limit_sets::coal_categories,
        ))
        .order(limit_sets::id)
        .load(c))?;
    let rows: Vec<LimitRow> = with_tx!(tx, |c| limits::table
        .select((
            limits::limit_set_id,
            limits::parameter,
            limits::operator,
            limits::value,
            limits::decimals,
            limits::method
        ))
        .order((limits::limit_set_id, limits::id))
        .load(c))?;
    let bad = |what: &str| AppError::Internal(format!("stored limit set has a bad {what}"));
    let mut out = Vec::with_capacity(sets.len());
    for (id, name, source, jurisdiction, from, to, cats) in sets {
        let mut set_limits = Vec::new();
        for (_, p, o, v, d, m) in rows.iter().filter(|r| r.0 == id) {
            set_limits.push(Limit {
                parameter: ResultParameter::from_code(p).map_err(|_| bad("parameter"))?,
                operator: Operator::from_code(o).map_err(|_| bad("operator"))?,
                value: Decimal::from_str(v).map_err(|_| bad("value"))?,
                decimals: u32::try_from(*d).map_err(|_| bad("decimals"))?,
                method: ComparisonMethod::from_code(m).map_err(|_| bad("method"))?,
            });
        }
        out.push(LimitSet {
            id,
            name,
            source,
            jurisdiction,
            effective_from: NaiveDate::from_str(&from).map_err(|_| bad("date"))?,
            effective_to: to
                .map(|t| NaiveDate::from_str(&t))
                .transpose()
                .map_err(|_| bad("date"))?,
            coal_categories: split_categories(&cats),
            limits: set_limits,
        });
    }
    Ok(out)
}

/// Splits the stored `;`-separated coal categories (empty = every category).
pub fn split_categories(text: &str) -> Vec<String> {
    text.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// Creates or replaces one limit set (`POST /api/v1/limit-sets` and the admin's page): its
/// jurisdiction must exist; when something changed the audit event `limit_set.put` (the set as
/// JSON) is written by `actor` in the same transaction. Returns whether something changed.
///
/// # Errors
/// [`AppError::Invalid`] for an unknown jurisdiction or a set that breaks a rule; database
/// errors.
pub fn put_limit_set(
    tx: &mut Tx<'_>,
    actor: &str,
    set: &LimitSet,
    now_ms: i64,
) -> Result<bool, AppError> {
    jurisdiction_chain(tx, &set.jurisdiction)?;
    let changed = upsert_limit_set(tx, set, now_ms)?;
    if changed {
        crate::service::audit::append(
            tx,
            now_ms,
            crate::service::audit::NewEvent {
                actor: actor.into(),
                action: "limit_set.put".into(),
                entity: "limit_set".into(),
                entity_id: set.id.clone(),
                after: serde_json::to_value(set).ok(),
                ..Default::default()
            },
        )?;
    }
    Ok(changed)
}

/// Inserts or replaces a limit set and its limits. Returns true when something changed
/// (an identical set already stored changes nothing, so importing twice is a no-op).
///
/// # Errors
/// [`AppError::Invalid`] when the set breaks a rule; database errors.
pub fn upsert_limit_set(tx: &mut Tx<'_>, set: &LimitSet, now_ms: i64) -> Result<bool, AppError> {
    set.validate()
        .map_err(|e| AppError::invalid("invalid_limit_set", e.to_string()))?;
    check_code("limit set id", &set.id)?;
    // A limit is a content in % (0–100) or a calorific value in MJ/kg (0–40): nothing else can
    // be a limit a result is compared with.
    for l in &set.limits {
        let max = if l.parameter == ResultParameter::QnetAr {
            40
        } else {
            100
        };
        if l.value < rust_decimal::Decimal::ZERO || l.value > rust_decimal::Decimal::from(max) {
            return Err(AppError::invalid(
                "invalid_limit_set",
                format!(
                    "limit set {}: {} limit {} lies outside 0–{max} {}",
                    set.id,
                    l.parameter,
                    l.value,
                    l.parameter.unit()
                ),
            ));
        }
    }
    let existing = load_limit_sets(tx)?.into_iter().find(|s| s.id == set.id);
    if existing.as_ref() == Some(set) {
        return Ok(false);
    }
    let cats = set.coal_categories.join(";");
    let from = set.effective_from.to_string();
    let to = set.effective_to.map(|d| d.to_string());
    with_tx!(tx, |c| {
        diesel::delete(limits::table.filter(limits::limit_set_id.eq(&set.id))).execute(c)?;
        diesel::delete(limit_sets::table.find(&set.id)).execute(c)?;
        diesel::insert_into(limit_sets::table)
            .values((
                limit_sets::id.eq(&set.id),
                limit_sets::name.eq(&set.name),
                limit_sets::source.eq(&set.source),
                limit_sets::jurisdiction_code.eq(&set.jurisdiction),
                limit_sets::effective_from.eq(&from),
                limit_sets::effective_to.eq(&to),
                limit_sets::coal_categories.eq(&cats),
                limit_sets::created_at.eq(now_ms),
            ))
            .execute(c)?;
        for l in &set.limits {
            diesel::insert_into(limits::table)
                .values((
                    limits::limit_set_id.eq(&set.id),
                    limits::parameter.eq(l.parameter.as_code()),
                    limits::operator.eq(l.operator.as_code()),
                    limits::value.eq(l.value.to_string()),
                    limits::decimals.eq(l.decimals as i32),
                    limits::method.eq(l.method.as_code()),
                ))
                .execute(c)?;
        }
        Ok::<_, diesel::result::Error>(())
    })?;
    Ok(true)
}

/// The working calendar with the given code and time zone.
///
/// # Errors
/// [`AppError::Invalid`] for an unknown time zone; [`AppError::Internal`] for bad stored rows.
pub fn load_calendar(
    tx: &mut Tx<'_>,
    calendar_code: &str,
    timezone: &str,
) -> Result<WorkingCalendar, AppError> {
    let tz: chrono_tz::Tz = timezone.parse().map_err(|_| {
        AppError::invalid(
            "unknown_timezone",
            format!("unknown time zone '{timezone}'"),
        )
    })?;
    let rows: Vec<(String, String, String)> = with_tx!(tx, |c| calendar_days::table
        .filter(calendar_days::calendar_code.eq(calendar_code))
        .select((
            calendar_days::day,
            calendar_days::kind,
            calendar_days::occasion
        ))
        .load(c))?;
    let mut days = Vec::with_capacity(rows.len());
    for (d, k, o) in rows {
        days.push(CalendarDay {
            date: NaiveDate::from_str(&d)
                .map_err(|_| AppError::Internal("bad calendar date".into()))?,
            kind: if k == "working_day" {
                DayKind::WorkingDay
            } else {
                DayKind::RestDay
            },
            occasion: o,
        });
    }
    WorkingCalendar::new(tz, days).map_err(|e| AppError::Internal(e.to_string()))
}

/// The lab with this id.
///
/// # Errors
/// [`AppError::NotFound`].
pub fn lab(tx: &mut Tx<'_>, id: i64) -> Result<Lab, AppError> {
    with_tx!(tx, |c| labs::table.find(id).first::<Lab>(c).optional())?
        .ok_or_else(|| AppError::NotFound(format!("lab {id} not found")))
}

/// The supplier with this code.
///
/// # Errors
/// [`AppError::Invalid`] (`unknown_supplier`) when there is none.
pub fn supplier_by_code(tx: &mut Tx<'_>, code: &str) -> Result<Supplier, AppError> {
    with_tx!(tx, |c| suppliers::table
        .filter(suppliers::code.eq(code))
        .first::<Supplier>(c)
        .optional())?
    .ok_or_else(|| {
        AppError::invalid(
            "unknown_supplier",
            format!("unknown supplier '{}'", crate::domain::decimal::echo(code)),
        )
    })
}

/// Checks a code (supplier code, limit-set id): 1 to 64 characters of A–Z, a–z, 0–9, `-`,
/// `_` and `.`, starting with a letter or digit, so codes are safe in paths, file names and CSV.
///
/// # Errors
/// [`AppError::Invalid`] naming the field.
pub fn check_code(field: &str, code: &str) -> Result<(), AppError> {
    let ok = (1..=64).contains(&code.len())
        && code
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(AppError::invalid(
            "invalid_value",
            format!("{field} '{}' must be 1–64 characters of letters, digits, '-', '_' or '.', starting with a letter or digit", crate::domain::decimal::echo(code)),
        ))
    }
}

diesel::define_sql_function! {
    /// SQL `lower(text)`: ASCII letters on SQLite, every letter on PostgreSQL (the same on
    /// supplier codes, which hold ASCII only; see `samples::seal_lookup_keys` for seals).
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// Checks that no supplier has `code`, in any letter case (`sp-02` beside `SP-02`: a
/// regulator reading or typing a code cannot tell them apart). Served by the index
/// `suppliers_code_lower` (migration 000071).
///
/// # Errors
/// 409 `already_exists` naming the existing code; database errors.
pub fn check_code_free(tx: &mut Tx<'_>, code: &str) -> Result<(), AppError> {
    // Another server may be adding the same code in another letter case.
    crate::db::lock_for_check(tx, crate::db::SUPPLIER_LOCK_KEY)?;
    let other: Option<String> = with_tx!(tx, |c| suppliers::table
        .filter(lower(suppliers::code).eq(code.to_ascii_lowercase()))
        .select(suppliers::code)
        .first(c)
        .optional())?;
    refuse_taken("supplier code", code, other, "supplier")
}

/// 409 `already_exists` when `existing` (the stored value equal to `value` in any letter case,
/// found by the caller) is there: "`what` 'value' is already in use", or, when the letter case
/// differs, "… differs only in letter case from the existing `noun` 'existing'".
///
/// # Errors
/// As described; `Ok` when `existing` is `None`.
pub fn refuse_taken(
    what: &str,
    value: &str,
    existing: Option<String>,
    noun: &str,
) -> Result<(), AppError> {
    match existing {
        Some(e) if e == value => Err(AppError::conflict(
            "already_exists",
            format!("{what} '{value}' is already in use"),
        )),
        Some(e) => Err(AppError::conflict(
            "already_exists",
            format!("{what} '{value}' differs only in letter case from the existing {noun} '{e}'"),
        )),
        None => Ok(()),
    }
}

/// Checks that no supplier holds licence number `licence_no` (unique among suppliers).
///
/// # Errors
/// 409 `already_exists` naming the supplier that holds it; database errors.
pub fn check_licence_free(tx: &mut Tx<'_>, licence_no: &str) -> Result<(), AppError> {
    crate::db::lock_for_check(tx, crate::db::SUPPLIER_LOCK_KEY)?;
    // In any letter case, as seal numbers (index suppliers_licence_lower, migration 000072).
    let keys = crate::service::samples::seal_lookup_keys(&[licence_no]);
    let holder: Option<(String, String)> = with_tx!(tx, |c| suppliers::table
        .filter(lower(suppliers::licence_no).eq_any(&keys))
        .select((suppliers::code, suppliers::licence_no))
        .first(c)
        .optional())?;
    match holder {
        Some((code, held)) if held != licence_no => Err(AppError::conflict(
            "already_exists",
            format!("licence number '{licence_no}' differs only in letter case from '{held}', held by supplier '{code}'"),
        )),
        Some((code, _)) => Err(AppError::conflict(
            "already_exists",
            format!("licence number '{licence_no}' is already held by supplier '{code}'"),
        )),
        None => Ok(()),
    }
}

/// Checks the free-text fields of a supplier: name, town and licence number not empty, at most
/// 200 characters, no control or text-direction characters (src/service/text_input.rs).
///
/// # Errors
/// [`AppError::Invalid`] naming the field.
pub fn check_supplier_text(name: &str, town: &str, licence_no: &str) -> Result<(), AppError> {
    for (field, v) in [("name", name), ("town", town), ("licence_no", licence_no)] {
        if v.trim().is_empty() {
            return Err(AppError::invalid(
                "missing_value",
                format!("{field} must not be empty"),
            ));
        }
        crate::service::text_input::single_line(field, v, 200)?;
    }
    crate::service::text_input::identifier("licence_no", licence_no, 200)?;
    Ok(())
}

/// Validates a supplier kind code.
///
/// # Errors
/// [`AppError::Invalid`] naming the legal kinds.
pub fn check_supplier_kind(kind: &str) -> Result<SupplierKind, AppError> {
    SupplierKind::from_code(kind).map_err(|e| AppError::invalid("invalid_value", e.to_string()))
}
