//! Registering samples and reading them back (one sample, or a filtered, paginated list).

use chrono::{DateTime, Utc};
use diesel::dsl::count_star;
use diesel::{OptionalExtension, QueryDsl, RunQueryDsl};
use serde::{Deserialize, Serialize};

use crate::db::schema::{samples, sampling_records, suppliers};
use crate::db::Tx;
use crate::domain::limits::{sets_in_force, LimitSet};
use crate::domain::terms::Role;
use crate::error::AppError;
use crate::service::audit::{self, NewEvent};
use crate::service::auth::CurrentUser;
use crate::service::reference::{self, lower, Supplier};
use crate::service::rows::SampleRow;
use crate::time::{parse_date, parse_instant, to_ms};
use crate::with_tx;

/// What a technician types when registering a sample (the sampling record of GB/T 475-2008 /
/// GB 474-2008, STANDARDS.md §7). Decimal quantities are strings, kept as typed.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NewSample {
    /// Supplier code (production enterprise or sale point).
    pub supplier_code: String,
    /// Coal category, e.g. "无烟块煤" (empty = not stated).
    #[serde(default)]
    pub coal_category: String,
    /// Grade the supplier claims.
    #[serde(default)]
    pub claimed_grade: String,
    /// Lot / batch number.
    #[serde(default)]
    pub lot_no: String,
    /// Lot mass in tonnes, exact decimal as text.
    pub lot_mass_t: Option<String>,
    /// Nominal top size, mm.
    pub top_size_mm: Option<i32>,
    /// "manual" or "mechanical".
    #[serde(default = "default_method")]
    pub sampling_method: String,
    /// Number of increments.
    pub increments: Option<i32>,
    /// Gross sample mass in kg, exact decimal as text.
    pub gross_mass_kg: Option<String>,
    /// At least two samplers (GB 475-2008 practice for spot checks).
    pub samplers: Vec<String>,
    /// Sampling instant, RFC 3339.
    pub sampled_at: String,
    /// Seal number of the test portion.
    pub test_seal_no: String,
    /// Seal number of the retained sample (存查样).
    pub retained_seal_no: String,
    /// Custodian of the retained sample.
    #[serde(default)]
    pub retained_custodian: String,
    /// Storage location of the retained sample.
    #[serde(default)]
    pub retained_location: String,
    /// Preparation date, YYYY-MM-DD.
    pub prepared_on: Option<String>,
}

fn default_method() -> String {
    "manual".into()
}

fn nonblank(field: &str, v: &str) -> Result<(), AppError> {
    if v.trim().is_empty() {
        return Err(AppError::invalid(
            "missing_value",
            format!("{field} must not be empty"),
        ));
    }
    if v.len() > 200 {
        return Err(AppError::invalid(
            "invalid_value",
            format!("{field} is longer than 200 characters"),
        ));
    }
    Ok(())
}

/// A free-text field as typed (src/service/text_input.rs).
fn plain_text(field: &str, v: &str, max: usize) -> Result<(), AppError> {
    crate::service::text_input::single_line(field, v, max)
}

use crate::domain::decimal::recorded_text;

fn optional_decimal(field: &str, v: &Option<String>) -> Result<(), AppError> {
    if let Some(text) = v {
        crate::domain::decimal::parse_non_negative(text)
            .map_err(|e| AppError::invalid("invalid_value", format!("{field}: {e}")))?;
    }
    Ok(())
}

impl NewSample {
    /// Checks every field; returns the sampling instant.
    ///
    /// # Errors
    /// [`AppError::Invalid`] naming the first bad field.
    pub fn validate(&self) -> Result<DateTime<Utc>, AppError> {
        nonblank("supplier_code", &self.supplier_code)?;
        nonblank("test_seal_no", &self.test_seal_no)?;
        nonblank("retained_seal_no", &self.retained_seal_no)?;
        // In any letter case: "t-y5" and "T-Y5" read as the same seal.
        if self
            .test_seal_no
            .trim()
            .eq_ignore_ascii_case(self.retained_seal_no.trim())
        {
            return Err(AppError::invalid(
                "invalid_value",
                "the test portion and the retained sample need different seal numbers (compared in any letter case)",
            ));
        }
        for (field, v) in [
            ("supplier_code", &self.supplier_code),
            ("coal_category", &self.coal_category),
            ("claimed_grade", &self.claimed_grade),
            ("lot_no", &self.lot_no),
            ("retained_custodian", &self.retained_custodian),
            ("retained_location", &self.retained_location),
        ] {
            plain_text(field, v, 200)?;
        }
        for (field, v) in [
            ("test_seal_no", &self.test_seal_no),
            ("retained_seal_no", &self.retained_seal_no),
        ] {
            crate::service::text_input::identifier(field, v, 200)?;
        }
        if self.samplers.len() > 10 {
            return Err(AppError::invalid(
                "invalid_value",
                "samplers: at most 10 names",
            ));
        }
        for name in &self.samplers {
            plain_text("samplers", name, 100)?;
            // The names are stored joined by "; ", so a name must not hold the separator.
            if name.contains(';') {
                return Err(AppError::invalid(
                    "invalid_value",
                    format!("samplers: '{}' contains ';', which separates the names; give each person as one list item", name.trim()),
                ));
            }
        }
        // Two different people: the same name twice is one sampler.
        let mut distinct: Vec<String> = self
            .samplers
            .iter()
            .map(|s| s.trim().to_lowercase())
            // A name of zero-width characters only names nobody.
            .filter(|s| crate::service::text_input::visible(s))
            .collect();
        distinct.sort();
        distinct.dedup();
        let samplers = distinct;
        if samplers.len() < 2 {
            return Err(AppError::invalid(
                "invalid_value",
                "samplers: at least two different samplers must be named",
            ));
        }
        if !matches!(self.sampling_method.as_str(), "manual" | "mechanical") {
            return Err(AppError::invalid(
                "invalid_value",
                "sampling_method must be manual or mechanical",
            ));
        }
        if self.top_size_mm.is_some_and(|v| v <= 0) || self.increments.is_some_and(|v| v <= 0) {
            return Err(AppError::invalid(
                "invalid_value",
                "top_size_mm and increments must be positive",
            ));
        }
        optional_decimal("lot_mass_t", &self.lot_mass_t)?;
        optional_decimal("gross_mass_kg", &self.gross_mass_kg)?;
        if let Some(d) = &self.prepared_on {
            parse_date("prepared_on", d).map_err(|m| AppError::invalid("invalid_value", m))?;
        }
        parse_instant("sampled_at", &self.sampled_at)
            .map_err(|m| AppError::invalid("invalid_value", m))
    }
}

/// The values that SQL `lower(seal)` of a stored seal equal to one of `seals` in any letter
/// case can take: SQLite's `lower` folds ASCII letters only, PostgreSQL's every letter, so
/// both foldings are asked for (served by the indexes `samples_test_seal_lower` and
/// `samples_retained_seal_lower`, migration 000072).
pub fn seal_lookup_keys(seals: &[&str]) -> Vec<String> {
    let mut keys: Vec<String> = seals
        .iter()
        .flat_map(|s| [s.to_ascii_lowercase(), s.to_lowercase()])
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// The key under which a seal number is compared in memory: every letter folded to lower case.
pub fn seal_key(seal: &str) -> String {
    seal.to_lowercase()
}

/// Registers a sample: validates it, freezes the limit sets in force for the supplier's
/// jurisdiction chain on the local sampling date, hands out the sample code and blind lab code,
/// and writes the audit event, all in the caller's transaction. Returns the new id.
///
/// # Errors
/// [`AppError::Invalid`] for a bad field, an unknown supplier or when no limit set is in force;
/// [`AppError::Forbidden`] when the user belongs to no lab.
pub fn register(
    tx: &mut Tx<'_>,
    user: &CurrentUser,
    input: &NewSample,
    idempotency_key: Option<&str>,
    now: DateTime<Utc>,
) -> Result<i64, AppError> {
    let sampled_at = input.validate()?;
    if sampled_at > now + chrono::Duration::minutes(5) {
        return Err(AppError::invalid(
            "invalid_value",
            "sampled_at lies in the future",
        ));
    }
    let lab_id = user
        .lab_id
        .ok_or_else(|| AppError::Forbidden("only members of a lab may register samples".into()))?;
    let lab = reference::lab(tx, lab_id)?;
    let supplier = reference::supplier_by_code(tx, input.supplier_code.trim())?;
    let calendar = reference::load_calendar(tx, &lab.calendar_code, &lab.timezone)?;
    let sampled_on = calendar.local_date(sampled_at);
    if let Some(prepared) = input.prepared_on.as_deref() {
        let prepared = parse_date("prepared_on", prepared)
            .map_err(|m| AppError::invalid("invalid_value", m))?;
        if prepared < sampled_on || prepared > calendar.local_date(now) {
            return Err(AppError::invalid(
                "invalid_value",
                format!("prepared_on {prepared} must lie between the sampling date {sampled_on} and today"),
            ));
        }
    }
    // A seal number identifies one sealed portion: it is never used again in the lab, in any
    // letter case. Another server may be registering the same seal: the lock makes the check
    // and the insert one step.
    crate::db::lock_for_check(tx, crate::db::SEAL_LOCK_KEY)?;
    let seals = [input.test_seal_no.trim(), input.retained_seal_no.trim()];
    let keys = seal_lookup_keys(&seals);
    let seal_reused: Option<String> = with_tx!(tx, |c| samples::table
        .filter(samples::lab_id.eq(lab_id))
        .filter(
            lower(samples::test_seal_no)
                .eq_any(&keys)
                .or(lower(samples::retained_seal_no).eq_any(&keys))
        )
        .select(samples::sample_code)
        .first(c)
        .optional())?;
    if let Some(other) = seal_reused {
        return Err(AppError::conflict(
            "seal_in_use",
            format!(
                "seal number {} or {} is already recorded on sample {other} (compared in any letter case)",
                seals[0], seals[1]
            ),
        ));
    }
    let chain = reference::jurisdiction_chain(tx, &supplier.jurisdiction_code)?;
    let chain_codes: Vec<&str> = chain.iter().map(|j| j.code.as_str()).collect();
    let all_sets = reference::load_limit_sets(tx)?;
    let category = Some(input.coal_category.trim()).filter(|c| !c.is_empty());
    let in_force: Vec<LimitSet> = sets_in_force(&all_sets, &chain_codes, sampled_on, category)
        .into_iter()
        .cloned()
        .collect();
    if in_force.is_empty() {
        return Err(AppError::invalid(
            "no_limit_sets_in_force",
            format!(
                "no limit set is in force for jurisdiction '{}' and coal category '{}' on {sampled_on}: check the sampling date and category, or load a limit set that covers them",
                supplier.jurisdiction_code,
                input.coal_category.trim()
            ),
        ));
    }
    let frozen = serde_json::to_string(&in_force).map_err(|e| AppError::Internal(e.to_string()))?;
    let now_ms = to_ms(now);
    let placeholder = format!("pending-{}", crate::service::random_code(16));
    let id: i64 = with_tx!(tx, |c| diesel::insert_into(samples::table)
        .values((
            samples::sample_code.eq(&placeholder),
            samples::lab_code.eq(&placeholder),
            samples::lab_id.eq(lab_id),
            samples::supplier_id.eq(supplier.id),
            samples::state.eq("registered"),
            samples::coal_category.eq(input.coal_category.trim()),
            samples::sampled_at.eq(to_ms(sampled_at)),
            samples::sampled_on.eq(sampled_on.to_string()),
            samples::test_seal_no.eq(input.test_seal_no.trim()),
            samples::retained_seal_no.eq(input.retained_seal_no.trim()),
            samples::limit_sets_frozen.eq(&frozen),
            samples::registered_at.eq(now_ms),
            samples::idempotency_key.eq(idempotency_key),
            samples::created_by.eq(user.id),
        ))
        .returning(samples::id)
        .get_result::<i64>(c))?;
    with_tx!(tx, |c| diesel::insert_into(sampling_records::table)
        .values((
            sampling_records::sample_id.eq(id),
            sampling_records::claimed_grade.eq(input.claimed_grade.trim()),
            sampling_records::lot_no.eq(input.lot_no.trim()),
            sampling_records::lot_mass_t.eq(input.lot_mass_t.as_deref().map(recorded_text)),
            sampling_records::top_size_mm.eq(input.top_size_mm),
            sampling_records::sampling_method.eq(&input.sampling_method),
            sampling_records::increments.eq(input.increments),
            sampling_records::gross_mass_kg.eq(input.gross_mass_kg.as_deref().map(recorded_text)),
            sampling_records::samplers.eq(input
                .samplers
                .iter()
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join("; ")),
            sampling_records::retained_custodian.eq(input.retained_custodian.trim()),
            sampling_records::retained_location.eq(input.retained_location.trim()),
            sampling_records::prepared_on.eq(&input.prepared_on),
        ))
        .execute(c))?;
    // Codes come from the row id, which the database hands out uniquely to every server.
    let sample_code = format!("{}-{}-{:06}", lab.code, sampled_on.format("%Y"), id);
    let lab_code = format!("L{}", crate::service::blind_code(id));
    with_tx!(tx, |c| diesel::update(samples::table.find(id))
        .set((
            samples::sample_code.eq(&sample_code),
            samples::lab_code.eq(&lab_code)
        ))
        .execute(c))?;
    audit::append(
        tx,
        now_ms,
        NewEvent {
            actor: user.username.clone(),
            action: "sample.register".into(),
            entity: "sample".into(),
            entity_id: sample_code.clone(),
            sample_id: Some(id),
            before: None,
            after: Some(
                serde_json::json!({"input": input, "sample_code": sample_code, "lab_code": lab_code,
            "limit_sets": in_force.iter().map(|s| s.id.as_str()).collect::<Vec<_>>()}),
            ),
            reason: None,
        },
    )?;
    Ok(id)
}

/// The sample with this id.
///
/// # Errors
/// [`AppError::NotFound`].
pub fn load(tx: &mut Tx<'_>, id: i64) -> Result<SampleRow, AppError> {
    with_tx!(tx, |c| samples::table
        .find(id)
        .first::<SampleRow>(c)
        .optional())?
    .ok_or_else(|| AppError::NotFound(SAMPLE_NOT_FOUND.to_string()))
}

/// The sample with this id, its row locked for the rest of the write transaction: on PostgreSQL
/// `SELECT … FOR UPDATE`, so that concurrent writes to one sample (from any server) queue and
/// each sees the one before it committed, as on SQLite, whose write transactions are serial
/// (`BEGIN IMMEDIATE`). Without it two determinations entered at once read the same run and
/// the second failed on the unique (stage, analysis, run, seq) key; two transitions with the
/// same version raced to insert the stage row (tests/two_servers.rs). Every use case that
/// changes a sample loads it with this, first.
///
/// # Errors
/// [`AppError::NotFound`].
pub fn load_for_update(tx: &mut Tx<'_>, id: i64) -> Result<SampleRow, AppError> {
    let row = match tx {
        Tx::Sqlite(c) => samples::table
            .find(id)
            .first::<SampleRow>(&mut **c)
            .optional()?,
        Tx::Pg(c) => samples::table
            .find(id)
            .for_update()
            .first::<SampleRow>(&mut **c)
            .optional()?,
    };
    row.ok_or_else(|| AppError::NotFound(SAMPLE_NOT_FOUND.to_string()))
}

/// The sample id for a sample code, lab code or numeric id.
///
/// # Errors
/// [`AppError::NotFound`].
pub fn resolve(tx: &mut Tx<'_>, key: &str) -> Result<i64, AppError> {
    if let Ok(id) = key.parse::<i64>() {
        return Ok(id);
    }
    with_tx!(tx, |c| samples::table
        .filter(samples::sample_code.eq(key).or(samples::lab_code.eq(key)))
        .select(samples::id)
        .first::<i64>(c)
        .optional())?
    .ok_or_else(|| AppError::NotFound(SAMPLE_NOT_FOUND.to_string()))
}

/// Filters of the sample list (all optional; combined with AND).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleFilter {
    /// Supplier code.
    pub supplier: Option<String>,
    /// Town of the supplier.
    pub town: Option<String>,
    /// Lifecycle state code.
    pub state: Option<String>,
    /// Final verdict: pass or fail.
    pub verdict: Option<String>,
    /// Stage in progress or last released: initial_test or retest.
    pub stage: Option<String>,
    /// true: only samples whose open stage is past its due instant.
    pub overdue: Option<bool>,
    /// Sampled on or after this date (YYYY-MM-DD, lab time zone).
    pub from: Option<String>,
    /// Sampled on or before this date.
    pub to: Option<String>,
    /// Page number from 1.
    pub page: Option<i64>,
    /// Items per page, 1..=200 (default 50).
    pub per_page: Option<i64>,
}

/// One line of the sample list.
#[derive(Debug, Clone, Serialize)]
pub struct SampleSummary {
    /// Id.
    pub id: i64,
    /// Sample code (regulators' reference).
    pub sample_code: String,
    /// Blind lab code (what technicians see).
    pub lab_code: String,
    /// Supplier code (hidden from technicians).
    pub supplier_code: Option<String>,
    /// Supplier town (hidden from technicians).
    pub town: Option<String>,
    /// Lifecycle state.
    pub state: String,
    /// Stage in progress or last released.
    pub stage: Option<String>,
    /// Local sampling date.
    pub sampled_on: String,
    /// Due instant of the open stage (RFC 3339), if any.
    pub due_at: Option<String>,
    /// True when the open stage is past due.
    pub overdue: bool,
    /// Final verdict so far (released data only).
    pub final_verdict: Option<String>,
    /// Optimistic-lock version.
    pub version: i32,
}

/// A page of results.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Page number from 1.
    pub page: i64,
    /// Items per page.
    pub per_page: i64,
    /// Items matching the filter in all pages.
    pub total: i64,
}

/// The one answer for a sample that does not exist, belongs to another lab, or (for regulators
/// and auditors) is not released: the same text in every case, so it reveals nothing.
pub const SAMPLE_NOT_FOUND: &str = "sample not found (or not visible to you)";

/// Largest page a client may ask for.
pub const MAX_PER_PAGE: i64 = 200;

/// The page and page size of a list request: defaults 1 and 50; page 1..=1 000 000 and
/// per_page 1..=[`MAX_PER_PAGE`] (so the offset never overflows).
///
/// # Errors
/// [`AppError::Invalid`] naming the bad value.
pub fn page_bounds(page: Option<i64>, per_page: Option<i64>) -> Result<(i64, i64), AppError> {
    let per_page = per_page.unwrap_or(50);
    if !(1..=MAX_PER_PAGE).contains(&per_page) {
        return Err(AppError::invalid(
            "invalid_value",
            format!("per_page must be between 1 and {MAX_PER_PAGE}"),
        ));
    }
    let page = page.unwrap_or(1);
    if !(1..=1_000_000).contains(&page) {
        return Err(AppError::invalid(
            "invalid_value",
            "page must be between 1 and 1000000",
        ));
    }
    Ok((page, per_page))
}

/// Lists samples matching `filter`, newest sampling first, one page.
///
/// # Errors
/// [`AppError::Invalid`] for a bad filter value (unknown state, bad date, page out of range).
pub fn list(
    tx: &mut Tx<'_>,
    user: &CurrentUser,
    filter: &SampleFilter,
    now: DateTime<Utc>,
) -> Result<Page<SampleSummary>, AppError> {
    let (page, per_page) = page_bounds(filter.page, filter.per_page)?;
    if let Some(s) = &filter.state {
        crate::domain::lifecycle::SampleState::from_code(s)
            .map_err(|e| AppError::invalid("invalid_value", e.to_string()))?;
    }
    if let Some(v) = &filter.verdict {
        crate::domain::terms::Verdict::from_code(v)
            .map_err(|e| AppError::invalid("invalid_value", e.to_string()))?;
    }
    if let Some(s) = &filter.stage {
        crate::domain::terms::Stage::from_code(s)
            .map_err(|e| AppError::invalid("invalid_value", e.to_string()))?;
    }
    let from = filter
        .from
        .as_deref()
        .map(|d| parse_date("from", d))
        .transpose()
        .map_err(|m| AppError::invalid("invalid_value", m))?;
    let to = filter
        .to
        .as_deref()
        .map(|d| parse_date("to", d))
        .transpose()
        .map_err(|m| AppError::invalid("invalid_value", m))?;
    if let (Some(a), Some(b)) = (from, to) {
        // A reversed period would answer an empty list as if nothing had been sampled (the
        // reports refuse it alike).
        if a > b {
            return Err(AppError::invalid(
                "invalid_value",
                format!("from ({a}) is after to ({b})"),
            ));
        }
    }
    let now_ms = to_ms(now);
    let released_only = matches!(user.role, Role::Regulator | Role::Auditor);
    // Technicians work blind: filtering by supplier or town would tell them whose coal a lab
    // code is. Lab staff see only their own lab's samples.
    if user.role == Role::Technician && (filter.supplier.is_some() || filter.town.is_some()) {
        return Err(AppError::Forbidden(
            "technicians work on blind lab codes and may not filter by supplier or town".into(),
        ));
    }
    let own_lab = match user.role {
        Role::Technician | Role::Reviewer => Some(user.lab_id.unwrap_or(-1)),
        _ => None,
    };

    macro_rules! filtered {
        () => {{
            let mut q = samples::table.inner_join(suppliers::table).into_boxed();
            if let Some(s) = &filter.supplier {
                q = q.filter(suppliers::code.eq(s.clone()));
            }
            if let Some(t) = &filter.town {
                q = q.filter(suppliers::town.eq(t.clone()));
            }
            if let Some(s) = &filter.state {
                q = q.filter(samples::state.eq(s.clone()));
            }
            if let Some(v) = &filter.verdict {
                q = q.filter(samples::final_verdict.eq(v.clone()));
            }
            if let Some(s) = &filter.stage {
                q = q.filter(samples::current_stage.eq(s.clone()));
            }
            if let Some(d) = from {
                q = q.filter(samples::sampled_on.ge(d.to_string()));
            }
            if let Some(d) = to {
                q = q.filter(samples::sampled_on.le(d.to_string()));
            }
            if filter.overdue == Some(true) {
                q = q.filter(samples::due_at.lt(now_ms));
            }
            if filter.overdue == Some(false) {
                q = q.filter(samples::due_at.is_null().or(samples::due_at.ge(now_ms)));
            }
            if released_only {
                q = q.filter(samples::final_verdict.is_not_null());
            }
            if let Some(lab) = own_lab {
                q = q.filter(samples::lab_id.eq(lab));
            }
            q
        }};
    }
    let total: i64 = with_tx!(tx, |c| filtered!().select(count_star()).first(c))?;
    let rows: Vec<(SampleRow, Supplier)> = with_tx!(tx, |c| filtered!()
        .order((samples::sampled_at.desc(), samples::id.desc()))
        .limit(per_page)
        .offset((page - 1) * per_page)
        .load(c))?;
    let hide_supplier = matches!(user.role, Role::Technician);
    let items = rows
        .into_iter()
        .map(|(s, sup)| SampleSummary {
            id: s.id,
            sample_code: s.sample_code,
            lab_code: s.lab_code,
            supplier_code: (!hide_supplier).then_some(sup.code),
            town: (!hide_supplier).then_some(sup.town),
            state: s.state,
            stage: s.current_stage,
            sampled_on: s.sampled_on,
            due_at: s.due_at.map(crate::time::ms_to_rfc3339),
            overdue: s.due_at.is_some_and(|d| d < now_ms),
            final_verdict: s.final_verdict,
            version: s.version,
        })
        .collect();
    Ok(Page {
        items,
        page,
        per_page,
        total,
    })
}
