//! The test report (检验报告) of a released stage: its content, its verification code, the
//! printable HTML page, and the public check `GET /verify/{report_no}?code=…`.
//!
//! A report shows the sample record, every result with its basis, reported decimals and method
//! standard, each limit with its source and comparison method (GB/T 8170-2008 §4.3), the verdict,
//! the technicians and the reviewer, the report number and a verification code. The code is 20
//! characters from a 32-letter alphabet (100 random bits), issued once per report number when
//! the document is first produced (audited) and printed on it; the public check answers only
//! for the right pair of report number and code, and shows only what the report shows.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::db::schema::{
    determinations, labs, report_codes, samples, stage_revisions, stages, suppliers, users,
};
use crate::db::Tx;
use crate::domain::rounding::round_half_even;
use crate::domain::terms::{Analysis, ComparisonMethod, Operator, ResultParameter, Role};
use crate::domain::verdict::LimitVerdict;
use crate::error::AppError;
use crate::service::audit::{self, NewEvent};
use crate::service::auth::CurrentUser;
use crate::service::rows::{SampleRow, StageRow};
use crate::with_tx;

/// One result line of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResultLine {
    /// Symbol, e.g. "St,d".
    pub parameter: String,
    /// Basis code (ad, ar, d, daf).
    pub basis: String,
    /// The reported value, rounded half to even to `decimals` (GB/T 8170-2008).
    pub value: String,
    /// Unit: % or MJ/kg.
    pub unit: String,
    /// Reported decimals.
    pub decimals: u32,
    /// Method standards of the determinations it derives from, e.g. "GB/T 212-2008".
    pub methods: String,
}

/// One limit check of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LimitLine {
    /// Limit set id.
    pub limit_set: String,
    /// Its source (law, notice, standard).
    pub source: String,
    /// Symbol of the parameter.
    pub parameter: String,
    /// The requirement, e.g. "< 1.00 %".
    pub requirement: String,
    /// 全数值比较法 full-value or 修约值比较法 rounded-value comparison.
    pub method: String,
    /// The value compared.
    pub compared_value: String,
    /// pass or fail.
    pub verdict: String,
}

/// The content of one test report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportDoc {
    /// Report number (e.g. DEMO-2025-000012-I1).
    pub report_no: String,
    /// initial_test or retest.
    pub stage: String,
    /// Lab name.
    pub lab: String,
    /// Sample code.
    pub sample_code: String,
    /// Supplier name.
    pub supplier: String,
    /// Supplier code.
    pub supplier_code: String,
    /// Supplier licence number.
    pub licence_no: String,
    /// Town.
    pub town: String,
    /// Coal category as recorded.
    pub coal_category: String,
    /// Sampling instant, local time of the lab (YYYY-MM-DD HH:MM).
    pub sampled_at: String,
    /// Seal numbers of the test portion and the retained sample.
    pub seals: String,
    /// Start of the stage (receipt or retest request), local time.
    pub started_at: String,
    /// Release, local time.
    pub released_at: String,
    /// Results.
    pub results: Vec<ResultLine>,
    /// Limit checks.
    pub limits: Vec<LimitLine>,
    /// Stage verdict: pass or fail.
    pub verdict: String,
    /// Who entered the determinations (display names).
    pub technicians: Vec<String>,
    /// Who released the stage.
    pub reviewer: String,
    /// The verification code printed on the report.
    pub verification_code: String,
    /// Set when an amendment re-issued this report under a new number (the replacing report).
    pub replaced_by: Option<String>,
}

fn internal(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(e.to_string())
}

fn local(ms: i64, tz: chrono_tz::Tz) -> String {
    crate::time::from_ms(ms)
        .with_timezone(&tz)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

fn operator_symbol(o: Operator) -> &'static str {
    match o {
        Operator::Le => "≤",
        Operator::Lt => "<",
        Operator::Ge => "≥",
        Operator::Gt => ">",
    }
}

fn results_of(text: Option<&str>) -> Result<Vec<ResultLine>, AppError> {
    let items: Vec<serde_json::Value> = match text {
        Some(t) => serde_json::from_str(t).map_err(internal)?,
        None => Vec::new(),
    };
    let mut out = Vec::new();
    for r in items {
        let code = r["parameter"].as_str().unwrap_or_default();
        let p = ResultParameter::from_code(code).map_err(internal)?;
        let mut methods: Vec<&str> = r["inputs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i.get(0)?.as_str())
            .filter_map(|a| Analysis::from_code(a).ok())
            .map(|a| a.method_standard())
            .collect();
        methods.dedup();
        out.push(ResultLine {
            parameter: p.symbol().into(),
            basis: r["basis"].as_str().unwrap_or_default().into(),
            value: r["reported"].as_str().unwrap_or_default().into(),
            unit: p.unit().into(),
            decimals: p.report_decimals(),
            methods: methods.join(", "),
        });
    }
    Ok(out)
}

fn limits_of(text: Option<&str>) -> Result<Vec<LimitLine>, AppError> {
    let items: Vec<LimitVerdict> = match text {
        Some(t) => serde_json::from_str(t).map_err(internal)?,
        None => Vec::new(),
    };
    Ok(items
        .into_iter()
        .map(|l| LimitLine {
            limit_set: l.limit_set_id,
            source: l.source,
            parameter: l.parameter.symbol().into(),
            requirement: format!(
                "{} {} {}",
                operator_symbol(l.operator),
                round_half_even(l.limit_value, l.limit_decimals),
                l.parameter.unit()
            ),
            method: match l.method {
                ComparisonMethod::FullValue => "全数值比较法 full-value comparison".into(),
                ComparisonMethod::RoundedValue => "修约值比较法 rounded-value comparison".into(),
            },
            compared_value: Decimal::to_string(&l.compared_value),
            verdict: l.verdict.as_code().into(),
        })
        .collect())
}

/// The released stage with this report number, its sample, and whether `user` may see it
/// (lab staff: own lab only).
fn released_stage(
    tx: &mut Tx<'_>,
    user: Option<&CurrentUser>,
    report_no: &str,
) -> Result<(StageRow, SampleRow), AppError> {
    let not_found = || AppError::NotFound(format!("report '{report_no}' not found"));
    let st: StageRow = with_tx!(tx, |c| stages::table
        .filter(stages::report_no.eq(report_no))
        .filter(stages::released_at.is_not_null())
        .first(c)
        .optional())?
    .ok_or_else(not_found)?;
    let s: SampleRow = with_tx!(tx, |c| samples::table.find(st.sample_id).first(c))?;
    if let Some(u) = user {
        if matches!(u.role, Role::Technician | Role::Reviewer) && u.lab_id != Some(s.lab_id) {
            return Err(not_found());
        }
    }
    Ok((st, s))
}

fn build(tx: &mut Tx<'_>, st: StageRow, s: SampleRow, code: String) -> Result<ReportDoc, AppError> {
    let (lab, tz): (String, String) = with_tx!(tx, |c| labs::table
        .find(s.lab_id)
        .select((labs::name, labs::timezone))
        .first(c))?;
    let tz: chrono_tz::Tz = tz.parse().unwrap_or(chrono_tz::Asia::Shanghai);
    let (supplier, supplier_code, licence_no, town): (String, String, String, String) =
        with_tx!(tx, |c| suppliers::table
            .find(s.supplier_id)
            .select((
                suppliers::name,
                suppliers::code,
                suppliers::licence_no,
                suppliers::town
            ))
            .first(c))?;
    let technicians: Vec<String> = with_tx!(tx, |c| determinations::table
        .inner_join(users::table.on(users::id.nullable().eq(determinations::entered_by)))
        .filter(determinations::stage_id.eq(st.id))
        .select(users::display_name)
        .distinct()
        .order(users::display_name.asc())
        .load(c))?;
    let reviewer: String = match st.released_by {
        Some(id) => with_tx!(tx, |c| users::table
            .find(id)
            .select(users::display_name)
            .first(c))?,
        None => String::new(),
    };
    Ok(ReportDoc {
        report_no: st.report_no.clone().unwrap_or_default(),
        stage: st.stage.clone(),
        lab,
        sample_code: s.sample_code,
        supplier,
        supplier_code,
        licence_no,
        town,
        coal_category: s.coal_category,
        sampled_at: local(s.sampled_at, tz),
        seals: format!("{} / {}", s.test_seal_no, s.retained_seal_no),
        started_at: local(st.started_at, tz),
        released_at: local(st.released_at.unwrap_or_default(), tz),
        results: results_of(st.results.as_deref())?,
        limits: limits_of(st.verdict_detail.as_deref())?,
        verdict: st.verdict.clone().unwrap_or_default(),
        technicians,
        reviewer,
        verification_code: code,
        replaced_by: None,
    })
}

/// The report document of `report_no` for an authorised user, issuing its verification code the
/// first time (audit event `report.code_issue` in the caller's transaction).
///
/// # Errors
/// 404 for an unknown or unreleased report number, or another lab's (lab staff).
pub fn report_document(
    tx: &mut Tx<'_>,
    user: &CurrentUser,
    report_no: &str,
    now: DateTime<Utc>,
) -> Result<ReportDoc, AppError> {
    let (st, s) = released_stage(tx, Some(user), report_no)?;
    let existing: Option<String> = with_tx!(tx, |c| report_codes::table
        .find(report_no)
        .select(report_codes::code)
        .first(c)
        .optional())?;
    let code = match existing {
        Some(c) => c,
        None => {
            let code = crate::service::random_code(20);
            let now_ms = now.timestamp_millis();
            with_tx!(tx, |c| diesel::insert_into(report_codes::table)
                .values((
                    report_codes::report_no.eq(report_no),
                    report_codes::code.eq(&code),
                    report_codes::issued_at.eq(now_ms),
                    report_codes::issued_by.eq(user.id),
                ))
                .execute(c))?;
            audit::append(
                tx,
                now_ms,
                NewEvent {
                    actor: user.username.clone(),
                    action: "report.code_issue".into(),
                    entity: "report".into(),
                    entity_id: report_no.to_string(),
                    sample_id: Some(s.id),
                    // The code itself stays out of the trail; its digest identifies it.
                    after: Some(serde_json::json!({
                        "code_sha256": hex::encode(Sha256::digest(code.as_bytes()))
                    })),
                    ..Default::default()
                },
            )?;
            code
        }
    };
    build(tx, st, s, code)
}

/// The public check: the report's content when `code` is the code issued for `report_no`,
/// else None — the same answer for an unknown report, an unissued code and a wrong code.
///
/// # Errors
/// Database errors only.
pub fn verify(tx: &mut Tx<'_>, report_no: &str, code: &str) -> Result<Option<ReportDoc>, AppError> {
    let stored: Option<String> = with_tx!(tx, |c| report_codes::table
        .find(report_no)
        .select(report_codes::code)
        .first(c)
        .optional())?;
    let Some(stored) = stored else {
        return Ok(None);
    };
    // Compare digests so that the time taken does not depend on the matching prefix.
    let digest = |t: &str| Sha256::digest(t.trim().to_uppercase().as_bytes());
    if digest(code) != digest(&stored) {
        return Ok(None);
    }
    match released_stage(tx, None, report_no) {
        Ok((st, s)) => Ok(Some(build(tx, st, s, stored)?)),
        Err(AppError::NotFound(_)) => replaced_report(tx, report_no, stored),
        Err(e) => Err(e),
    }
}

/// A genuine report that an amendment has replaced: its own released revision's results and
/// verdict, and the number of the report that replaces it.
fn replaced_report(
    tx: &mut Tx<'_>,
    report_no: &str,
    code: String,
) -> Result<Option<ReportDoc>, AppError> {
    type RevisionRow = (i64, String, String, String, Option<i64>, Option<i64>);
    let rev: Option<RevisionRow> = with_tx!(tx, |c| stage_revisions::table
        .filter(stage_revisions::report_no.eq(report_no))
        .filter(stage_revisions::status.eq("released"))
        .select((
            stage_revisions::stage_id,
            stage_revisions::results,
            stage_revisions::verdict,
            stage_revisions::verdict_detail,
            stage_revisions::released_by,
            stage_revisions::released_at,
        ))
        .first(c)
        .optional())?;
    let Some((stage_id, results, verdict, detail, released_by, released_at)) = rev else {
        return Ok(None);
    };
    let replaced_by: Option<String> = with_tx!(tx, |c| stage_revisions::table
        .filter(stage_revisions::replaces_report_no.eq(report_no))
        .select(stage_revisions::report_no)
        .first::<Option<String>>(c)
        .optional())?
    .flatten();
    let mut st: StageRow = with_tx!(tx, |c| stages::table.find(stage_id).first(c))?;
    let s: SampleRow = with_tx!(tx, |c| samples::table.find(st.sample_id).first(c))?;
    st.report_no = Some(report_no.to_string());
    st.results = Some(results);
    st.verdict = Some(verdict);
    st.verdict_detail = Some(detail);
    st.released_by = released_by.or(st.released_by);
    st.released_at = released_at.or(st.released_at);
    let mut doc = build(tx, st, s, code)?;
    doc.replaced_by = replaced_by;
    Ok(Some(doc))
}
