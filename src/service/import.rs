//! CSV import of jurisdictions, suppliers, limit sets, calendars and samples (formats in
//! docs/formats.md). Files may be UTF-8 (with or without BOM) or GBK. All or nothing: every row
//! is checked first and any error refuses the whole file, naming row and column; then all rows
//! are written in one transaction. Importing the same file twice changes nothing.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::db::schema::{calendar_days, jurisdictions, suppliers};
use crate::db::{Db, Tx};
use crate::domain::calendar::DayKind;
use crate::domain::decimal::parse_determination;
use crate::domain::limits::{Limit, LimitSet};
use crate::domain::terms::{Analysis, ComparisonMethod, Operator, ResultParameter};
use crate::error::AppError;
use crate::ops::progress::{NoProgress, Progress};
use crate::service::audit::{self, NewEvent};
use crate::service::auth::CurrentUser;
use crate::service::import_samples::CheckedRow;
use crate::service::reference::{self, split_categories};
use crate::service::samples::NewSample;
use crate::time::{parse_date, to_ms};
use crate::with_tx;
use diesel::ExpressionMethods;

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportKind {
    /// code,name,level,parent_code,initial_test_working_days,retest_working_days,appeal_window_calendar_days
    Jurisdictions,
    /// code,name,kind,town,licence_no,jurisdiction_code
    Suppliers,
    /// One row per limit: set_id,name,source,jurisdiction_code,effective_from,effective_to,coal_categories,parameter,operator,value,decimals,method
    LimitSets,
    /// date,kind,occasion,source (the official calendar file's columns)
    Calendar,
    /// One row per sample with its determinations (see docs/formats.md).
    Samples,
}

impl FromStr for ImportKind {
    type Err = AppError;
    fn from_str(s: &str) -> Result<Self, AppError> {
        Ok(match s {
            "jurisdictions" => ImportKind::Jurisdictions,
            "suppliers" => ImportKind::Suppliers,
            "limit-sets" | "limit_sets" => ImportKind::LimitSets,
            "calendar" | "calendars" => ImportKind::Calendar,
            "samples" => ImportKind::Samples,
            _ => return Err(AppError::NotFound(format!("unknown import kind '{s}' (jurisdictions, suppliers, limit-sets, calendar, samples)"))),
        })
    }
}

/// One problem in a file.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RowError {
    /// Line number in the file (the header is line 1).
    pub row: usize,
    /// Column name, or "" for the whole row.
    pub column: String,
    /// What is wrong.
    pub message: String,
}

/// What an import did.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    /// Kind imported.
    pub kind: ImportKind,
    /// Data rows read.
    pub rows: usize,
    /// Records created or changed.
    pub changed: usize,
    /// Records already present and identical.
    pub unchanged: usize,
}

/// Decodes a file: UTF-8 (a BOM is dropped) or, failing that, GBK.
///
/// # Errors
/// [`AppError::Invalid`] when the bytes are neither.
pub fn decode(bytes: &[u8]) -> Result<String, AppError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Ok(s.to_string());
    }
    encoding_rs::GBK
        .decode_without_bom_handling_and_without_replacement(bytes)
        .map(|s| s.into_owned())
        .ok_or_else(|| AppError::invalid("bad_encoding", "the file is neither UTF-8 nor GBK"))
}

/// A parsed CSV: header and rows of (line number, field map).
struct Table {
    rows: Vec<(usize, HashMap<String, String>)>,
}

fn read_table(text: &str, required: &[&str], optional: &[&str]) -> Result<Table, Vec<RowError>> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = match rdr.headers() {
        Ok(h) => h.iter().map(|s| s.trim().to_string()).collect(),
        Err(e) => {
            return Err(vec![RowError {
                row: 1,
                column: String::new(),
                message: format!("cannot read the header: {e}"),
            }])
        }
    };
    let mut errors = Vec::new();
    for r in required {
        if !headers.iter().any(|h| h == r) {
            errors.push(RowError {
                row: 1,
                column: r.to_string(),
                message: "required column is missing".into(),
            });
        }
    }
    for h in &headers {
        if !required.contains(&h.as_str()) && !optional.contains(&h.as_str()) {
            errors.push(RowError {
                row: 1,
                column: h.clone(),
                message: "unknown column".into(),
            });
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut rows = Vec::new();
    for rec in rdr.records() {
        match rec {
            Ok(rec) => {
                let line = rec.position().map(|p| p.line() as usize).unwrap_or(0);
                let map = headers
                    .iter()
                    .cloned()
                    .zip(rec.iter().map(|s| s.trim().to_string()))
                    .collect();
                rows.push((line, map));
            }
            Err(e) => {
                let line = e.position().map(|p| p.line() as usize).unwrap_or(0);
                errors.push(RowError {
                    row: line,
                    column: String::new(),
                    message: format!("malformed CSV row: {e}"),
                });
            }
        }
    }
    if errors.is_empty() {
        Ok(Table { rows })
    } else {
        Err(errors)
    }
}

fn refuse(errors: Vec<RowError>) -> AppError {
    let shown: Vec<String> = errors
        .iter()
        .take(50)
        .map(|e| {
            if e.column.is_empty() {
                format!("row {}: {}", e.row, e.message)
            } else {
                format!("row {}, column {}: {}", e.row, e.column, e.message)
            }
        })
        .collect();
    let more = if errors.len() > 50 {
        format!(" (and {} more)", errors.len() - 50)
    } else {
        String::new()
    };
    AppError::invalid(
        "import_refused",
        format!(
            "nothing was imported; {} problem(s): {}{more}",
            errors.len(),
            shown.join("; ")
        ),
    )
}

/// Options of an import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Calendar code for calendar files (default "cn").
    pub calendar_code: String,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            calendar_code: "cn".into(),
        }
    }
}

/// The refusal of a whole file for one cell: `row`, `column` and the check's message.
fn at_column(row: usize, column: &str, e: AppError) -> AppError {
    refuse(vec![RowError {
        row,
        column: column.into(),
        message: e.to_string(),
    }])
}

/// Imports one file, all or nothing.
///
/// # Errors
/// [`AppError::Invalid`] (`import_refused`) listing every bad row and column; nothing changes.
pub fn import(
    db: &Db,
    user: &CurrentUser,
    kind: ImportKind,
    bytes: &[u8],
    opts: &ImportOptions,
    now: DateTime<Utc>,
) -> Result<ImportReport, AppError> {
    import_with_progress(db, user, kind, bytes, opts, now, &NoProgress)
}

/// [`import`], reporting the rows of a samples file written so far to `progress`.
///
/// # Errors
/// As [`import`].
pub fn import_with_progress(
    db: &Db,
    user: &CurrentUser,
    kind: ImportKind,
    bytes: &[u8],
    opts: &ImportOptions,
    now: DateTime<Utc>,
    progress: &dyn Progress,
) -> Result<ImportReport, AppError> {
    let text = decode(bytes)?;
    let now_ms = to_ms(now);
    let report = match kind {
        ImportKind::Jurisdictions => {
            let t = read_table(
                &text,
                &["code", "name", "level"],
                &[
                    "parent_code",
                    "initial_test_working_days",
                    "retest_working_days",
                    "appeal_window_calendar_days",
                ],
            )
            .map_err(refuse)?;
            let mut errors = Vec::new();
            let mut parsed = Vec::new();
            for (line, r) in &t.rows {
                let mut int = |col: &str| -> Option<i32> {
                    let v = r.get(col).map(String::as_str).unwrap_or("");
                    if v.is_empty() {
                        return None;
                    }
                    match v.parse::<i32>() {
                        Ok(n) if n > 0 => Some(n),
                        _ => {
                            errors.push(RowError {
                                row: *line,
                                column: col.into(),
                                message: format!("'{v}' is not a positive whole number"),
                            });
                            None
                        }
                    }
                };
                let j = reference::Jurisdiction {
                    code: r["code"].clone(),
                    name: r["name"].clone(),
                    level: r["level"].clone(),
                    parent_code: r.get("parent_code").filter(|p| !p.is_empty()).cloned(),
                    initial_test_working_days: int("initial_test_working_days"),
                    retest_working_days: int("retest_working_days"),
                    appeal_window_calendar_days: int("appeal_window_calendar_days"),
                };
                if j.code.is_empty() {
                    errors.push(RowError {
                        row: *line,
                        column: "code".into(),
                        message: "must not be empty".into(),
                    });
                }
                if !["nation", "region", "province", "city", "county"].contains(&j.level.as_str()) {
                    errors.push(RowError {
                        row: *line,
                        column: "level".into(),
                        message: format!(
                            "'{}' is not one of nation, region, province, city, county",
                            j.level
                        ),
                    });
                }
                parsed.push((*line, j));
            }
            if !errors.is_empty() {
                return Err(refuse(errors));
            }
            db.transaction(|tx| {
                let (mut changed, mut unchanged) = (0, 0);
                for (line, j) in &parsed {
                    let existing: Option<reference::Jurisdiction> =
                        with_tx!(tx, |c| jurisdictions::table
                            .find(&j.code)
                            .first(c)
                            .optional())?;
                    if existing.as_ref() == Some(j) {
                        unchanged += 1;
                        continue;
                    }
                    // Update in place when it exists: suppliers and limit sets refer to it.
                    let values = (
                        jurisdictions::name.eq(&j.name),
                        jurisdictions::level.eq(&j.level),
                        jurisdictions::parent_code.eq(&j.parent_code),
                        jurisdictions::initial_test_working_days.eq(j.initial_test_working_days),
                        jurisdictions::retest_working_days.eq(j.retest_working_days),
                        jurisdictions::appeal_window_calendar_days
                            .eq(j.appeal_window_calendar_days),
                    );
                    let res = if existing.is_some() {
                        with_tx!(tx, |c| diesel::update(jurisdictions::table.find(&j.code))
                            .set(values)
                            .execute(c))
                    } else {
                        with_tx!(tx, |c| diesel::insert_into(jurisdictions::table)
                            .values((jurisdictions::code.eq(&j.code), values))
                            .execute(c))
                    };
                    res.map_err(|e| row_db_error(*line, e))?;
                    changed += 1;
                }
                audit_import(tx, user, "jurisdictions", changed, now_ms)?;
                Ok(ImportReport {
                    kind,
                    rows: parsed.len(),
                    changed,
                    unchanged,
                })
            })?
        }
        ImportKind::Suppliers => {
            let t = read_table(
                &text,
                &[
                    "code",
                    "name",
                    "kind",
                    "town",
                    "licence_no",
                    "jurisdiction_code",
                ],
                &[],
            )
            .map_err(refuse)?;
            let mut errors = Vec::new();
            for (line, r) in &t.rows {
                for col in ["code", "name", "town", "licence_no", "jurisdiction_code"] {
                    if r[col].is_empty() {
                        errors.push(RowError {
                            row: *line,
                            column: col.into(),
                            message: "must not be empty".into(),
                        });
                    }
                }
                if let Err(e) = reference::check_code("code", &r["code"]) {
                    errors.push(RowError {
                        row: *line,
                        column: "code".into(),
                        message: e.to_string(),
                    });
                }
                if let Err(e) =
                    reference::check_supplier_text(&r["name"], &r["town"], &r["licence_no"])
                {
                    errors.push(RowError {
                        row: *line,
                        column: String::new(),
                        message: e.to_string(),
                    });
                }
                if let Some((first, _)) = t
                    .rows
                    .iter()
                    .find(|(l, o)| l < line && o["code"].eq_ignore_ascii_case(&r["code"]))
                {
                    errors.push(RowError {
                        row: *line,
                        column: "code".into(),
                        message: format!(
                            "supplier '{}' is already on row {first} (codes are compared in any letter case)",
                            r["code"]
                        ),
                    });
                }
                if let Err(e) = reference::check_supplier_kind(&r["kind"]) {
                    errors.push(RowError {
                        row: *line,
                        column: "kind".into(),
                        message: e.to_string(),
                    });
                }
            }
            if !errors.is_empty() {
                return Err(refuse(errors));
            }
            db.transaction(|tx| {
                let known: Vec<String> = with_tx!(tx, |c| jurisdictions::table
                    .select(jurisdictions::code)
                    .load(c))?;
                let unknown: Vec<RowError> = t
                    .rows
                    .iter()
                    .filter(|(_, r)| !known.contains(&r["jurisdiction_code"]))
                    .map(|(line, r)| RowError {
                        row: *line,
                        column: "jurisdiction_code".into(),
                        message: format!("unknown jurisdiction '{}'", r["jurisdiction_code"]),
                    })
                    .collect();
                if !unknown.is_empty() {
                    return Err(refuse(unknown));
                }
                let (mut changed, mut unchanged) = (0, 0);
                for (line, r) in &t.rows {
                    let existing: Option<reference::Supplier> = with_tx!(tx, |c| suppliers::table
                        .filter(suppliers::code.eq(&r["code"]))
                        .first(c)
                        .optional())?;
                    match existing {
                        Some(s)
                            if s.name == r["name"]
                                && s.kind == r["kind"]
                                && s.town == r["town"]
                                && s.licence_no == r["licence_no"]
                                && s.jurisdiction_code == r["jurisdiction_code"] =>
                        {
                            unchanged += 1
                        }
                        Some(s) => {
                            // A new licence number must be free in any letter case, as on
                            // POST /suppliers (earlier rows of this file included).
                            if !s.licence_no.eq_ignore_ascii_case(&r["licence_no"]) {
                                reference::check_licence_free(tx, &r["licence_no"])
                                    .map_err(|e| at_column(*line, "licence_no", e))?;
                            }
                            with_tx!(tx, |c| diesel::update(suppliers::table.find(s.id))
                                .set((
                                    suppliers::name.eq(&r["name"]),
                                    suppliers::kind.eq(&r["kind"]),
                                    suppliers::town.eq(&r["town"]),
                                    suppliers::licence_no.eq(&r["licence_no"]),
                                    suppliers::jurisdiction_code.eq(&r["jurisdiction_code"]),
                                    suppliers::version.eq(s.version + 1)
                                ))
                                .execute(c))
                            .map_err(|e| row_db_error(*line, e))?;
                            changed += 1;
                        }
                        None => {
                            reference::check_code_free(tx, &r["code"])
                                .map_err(|e| at_column(*line, "code", e))?;
                            reference::check_licence_free(tx, &r["licence_no"])
                                .map_err(|e| at_column(*line, "licence_no", e))?;
                            with_tx!(tx, |c| diesel::insert_into(suppliers::table)
                                .values((
                                    suppliers::code.eq(&r["code"]),
                                    suppliers::name.eq(&r["name"]),
                                    suppliers::kind.eq(&r["kind"]),
                                    suppliers::town.eq(&r["town"]),
                                    suppliers::licence_no.eq(&r["licence_no"]),
                                    suppliers::jurisdiction_code.eq(&r["jurisdiction_code"]),
                                    suppliers::created_at.eq(now_ms)
                                ))
                                .execute(c))
                            .map_err(|e| row_db_error(*line, e))?;
                            changed += 1;
                        }
                    }
                }
                audit_import(tx, user, "suppliers", changed, now_ms)?;
                Ok(ImportReport {
                    kind,
                    rows: t.rows.len(),
                    changed,
                    unchanged,
                })
            })?
        }
        ImportKind::LimitSets => {
            let t = read_table(
                &text,
                &[
                    "set_id",
                    "name",
                    "source",
                    "jurisdiction_code",
                    "effective_from",
                    "parameter",
                    "operator",
                    "value",
                    "decimals",
                    "method",
                ],
                &["effective_to", "coal_categories"],
            )
            .map_err(refuse)?;
            let sets = parse_limit_sets(&t)?;
            db.transaction(|tx| {
                let (mut changed, mut unchanged) = (0, 0);
                for (line, set) in &sets {
                    let jurisdiction_known: i64 = with_tx!(tx, |c| jurisdictions::table
                        .filter(jurisdictions::code.eq(&set.jurisdiction))
                        .count()
                        .get_result(c))?;
                    if jurisdiction_known == 0 {
                        return Err(refuse(vec![RowError {
                            row: *line,
                            column: "jurisdiction_code".into(),
                            message: format!("unknown jurisdiction '{}'", set.jurisdiction),
                        }]));
                    }
                    if reference::upsert_limit_set(tx, set, now_ms).map_err(|e| match e {
                        AppError::Invalid { message, .. } => refuse(vec![RowError {
                            row: *line,
                            column: String::new(),
                            message,
                        }]),
                        other => other,
                    })? {
                        changed += 1
                    } else {
                        unchanged += 1
                    }
                }
                audit_import(tx, user, "limit_sets", changed, now_ms)?;
                Ok(ImportReport {
                    kind,
                    rows: t.rows.len(),
                    changed,
                    unchanged,
                })
            })?
        }
        ImportKind::Calendar => {
            // The calendar code names the calendar in labs, paths and the audit trail.
            crate::service::reference::check_code("calendar", &opts.calendar_code)?;
            let t =
                read_table(&text, &["date", "kind"], &["occasion", "source"]).map_err(refuse)?;
            let mut errors = Vec::new();
            let mut days: BTreeMap<NaiveDate, (usize, &HashMap<String, String>)> = BTreeMap::new();
            for (line, r) in &t.rows {
                match parse_date("date", &r["date"]) {
                    Ok(d) => {
                        if days.insert(d, (*line, r)).is_some() {
                            errors.push(RowError {
                                row: *line,
                                column: "date".into(),
                                message: format!("{d} is listed twice"),
                            });
                        }
                    }
                    Err(m) => errors.push(RowError {
                        row: *line,
                        column: "date".into(),
                        message: m,
                    }),
                }
                if DayKind::from_code(&r["kind"]).is_err() {
                    errors.push(RowError {
                        row: *line,
                        column: "kind".into(),
                        message: format!("'{}' is not rest_day or working_day", r["kind"]),
                    });
                }
            }
            if !errors.is_empty() {
                return Err(refuse(errors));
            }
            let code = opts.calendar_code.clone();
            db.transaction(|tx| {
                let (mut changed, mut unchanged) = (0, 0);
                for (d, (line, r)) in &days {
                    let day = d.to_string();
                    let occasion = r.get("occasion").cloned().unwrap_or_default();
                    let source = r.get("source").cloned().unwrap_or_default();
                    let existing: Option<(String, String, String)> =
                        with_tx!(tx, |c| calendar_days::table
                            .find((&code, &day))
                            .select((
                                calendar_days::kind,
                                calendar_days::occasion,
                                calendar_days::source
                            ))
                            .first(c)
                            .optional())?;
                    if existing == Some((r["kind"].clone(), occasion.clone(), source.clone())) {
                        unchanged += 1;
                        continue;
                    }
                    with_tx!(tx, |c| diesel::delete(
                        calendar_days::table.find((&code, &day))
                    )
                    .execute(c)
                    .and_then(|_| diesel::insert_into(calendar_days::table)
                        .values((
                            calendar_days::calendar_code.eq(&code),
                            calendar_days::day.eq(&day),
                            calendar_days::kind.eq(&r["kind"]),
                            calendar_days::occasion.eq(&occasion),
                            calendar_days::source.eq(&source)
                        ))
                        .execute(c)))
                    .map_err(|e| row_db_error(*line, e))?;
                    changed += 1;
                }
                audit_import(tx, user, &format!("calendar {code}"), changed, now_ms)?;
                Ok(ImportReport {
                    kind,
                    rows: days.len(),
                    changed,
                    unchanged,
                })
            })?
        }
        ImportKind::Samples => import_samples(db, user, &text, now, progress, SamplesWriter::Bulk)?,
    };
    Ok(report)
}

fn row_db_error(line: usize, e: diesel::result::Error) -> AppError {
    let inner = AppError::Database(e);
    refuse(vec![RowError {
        row: line,
        column: String::new(),
        message: inner.client_message(),
    }])
}

fn audit_import(
    tx: &mut Tx<'_>,
    user: &CurrentUser,
    what: &str,
    changed: usize,
    now_ms: i64,
) -> Result<(), AppError> {
    if changed == 0 {
        return Ok(());
    }
    audit::append(
        tx,
        now_ms,
        NewEvent {
            actor: user.username.clone(),
            action: "import".into(),
            entity: "import".into(),
            entity_id: what.to_string(),
            after: Some(serde_json::json!({"changed": changed})),
            ..Default::default()
        },
    )?;
    Ok(())
}

fn parse_limit_sets(t: &Table) -> Result<Vec<(usize, LimitSet)>, AppError> {
    let mut errors = Vec::new();
    let mut sets: Vec<(usize, LimitSet)> = Vec::new();
    for (line, r) in &t.rows {
        let err = |errors: &mut Vec<RowError>, col: &str, m: String| {
            errors.push(RowError {
                row: *line,
                column: col.into(),
                message: m,
            })
        };
        let from = parse_date("effective_from", &r["effective_from"])
            .map_err(|m| err(&mut errors, "effective_from", m))
            .ok();
        let to = match r.get("effective_to").map(String::as_str).unwrap_or("") {
            "" => Some(None),
            t => parse_date("effective_to", t)
                .map(Some)
                .map_err(|m| err(&mut errors, "effective_to", m))
                .ok(),
        };
        let parameter = ResultParameter::from_code(&r["parameter"])
            .map_err(|e| err(&mut errors, "parameter", e.to_string()))
            .ok();
        let operator = Operator::from_code(&r["operator"])
            .map_err(|e| err(&mut errors, "operator", e.to_string()))
            .ok();
        let value = crate::domain::decimal::parse_decimal(&r["value"])
            .map_err(|e| err(&mut errors, "value", e.to_string()))
            .ok();
        let decimals = r["decimals"]
            .parse::<u32>()
            .map_err(|_| {
                err(
                    &mut errors,
                    "decimals",
                    format!("'{}' is not a whole number 0–6", r["decimals"]),
                )
            })
            .ok();
        let method = ComparisonMethod::from_code(&r["method"])
            .map_err(|e| err(&mut errors, "method", e.to_string()))
            .ok();
        let (
            Some(from),
            Some(to),
            Some(parameter),
            Some(operator),
            Some(value),
            Some(decimals),
            Some(method),
        ) = (from, to, parameter, operator, value, decimals, method)
        else {
            continue;
        };
        let limit = Limit {
            parameter,
            operator,
            value,
            decimals,
            method,
        };
        let header = LimitSet {
            id: r["set_id"].clone(),
            name: r["name"].clone(),
            source: r["source"].clone(),
            jurisdiction: r["jurisdiction_code"].clone(),
            effective_from: from,
            effective_to: to,
            coal_categories: split_categories(
                r.get("coal_categories").map(String::as_str).unwrap_or(""),
            ),
            limits: vec![],
        };
        match sets.iter_mut().find(|(_, s)| s.id == header.id) {
            Some((_, s)) => {
                if (LimitSet {
                    limits: vec![],
                    ..s.clone()
                }) != header
                {
                    err(&mut errors, "set_id", format!("set '{}' has different name, source, jurisdiction, dates or categories on different rows", header.id));
                }
                s.limits.push(limit);
            }
            None => sets.push((
                *line,
                LimitSet {
                    limits: vec![limit],
                    ..header
                },
            )),
        }
    }
    for (line, s) in &sets {
        if let Err(e) = s.validate() {
            errors.push(RowError {
                row: *line,
                column: String::new(),
                message: e.to_string(),
            });
        }
    }
    if errors.is_empty() {
        Ok(sets)
    } else {
        Err(refuse(errors))
    }
}

/// Columns of a samples file that hold determinations (";"-separated, in the order made).
pub const DETERMINATION_COLUMNS: [Analysis; 6] = [
    Analysis::Mt,
    Analysis::Mad,
    Analysis::Aad,
    Analysis::Vad,
    Analysis::StAd,
    Analysis::QgrAd,
];

/// How a samples file is written (both give the same rows; tests compare them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SamplesWriter {
    /// Worked out in memory, multi-row INSERT / COPY ([`crate::service::import_samples::write`]).
    Bulk,
    /// One service call per step ([`crate::service::import_samples::write_workflow`]).
    Workflow,
}

/// Imports a samples file with the chosen writer (the import of [`ImportKind::Samples`]).
///
/// # Errors
/// As [`import`].
pub fn import_samples(
    db: &Db,
    user: &CurrentUser,
    text: &str,
    now: DateTime<Utc>,
    progress: &dyn Progress,
    writer: SamplesWriter,
) -> Result<ImportReport, AppError> {
    let det_cols: Vec<&str> = DETERMINATION_COLUMNS.iter().map(|a| a.as_code()).collect();
    let mut optional = vec![
        "coal_category",
        "claimed_grade",
        "lot_no",
        "retained_custodian",
        "retained_location",
    ];
    optional.extend(det_cols.iter());
    let t = read_table(
        text,
        &[
            "supplier_code",
            "sampled_at",
            "samplers",
            "test_seal_no",
            "retained_seal_no",
        ],
        &optional,
    )
    .map_err(refuse)?;
    let mut errors = Vec::new();
    let mut parsed: Vec<CheckedRow> = Vec::with_capacity(t.rows.len());
    let mut first_row: HashMap<(String, String), usize> = HashMap::new();
    for (line, r) in &t.rows {
        let input = NewSample {
            supplier_code: r["supplier_code"].clone(),
            coal_category: r.get("coal_category").cloned().unwrap_or_default(),
            claimed_grade: r.get("claimed_grade").cloned().unwrap_or_default(),
            lot_no: r.get("lot_no").cloned().unwrap_or_default(),
            lot_mass_t: None,
            top_size_mm: None,
            sampling_method: "manual".into(),
            increments: None,
            gross_mass_kg: None,
            samplers: r["samplers"]
                .split(';')
                .map(|s| s.trim().to_string())
                .collect(),
            sampled_at: r["sampled_at"].clone(),
            test_seal_no: r["test_seal_no"].clone(),
            retained_seal_no: r["retained_seal_no"].clone(),
            retained_custodian: r.get("retained_custodian").cloned().unwrap_or_default(),
            retained_location: r.get("retained_location").cloned().unwrap_or_default(),
            prepared_on: None,
        };
        if let Err(e) = input.validate() {
            let msg = e.to_string();
            let col = [
                "supplier_code",
                "sampled_at",
                "samplers",
                "test_seal_no",
                "retained_seal_no",
            ]
            .into_iter()
            .find(|c| msg.contains(c))
            .unwrap_or("");
            errors.push(RowError {
                row: *line,
                column: col.into(),
                message: msg,
            });
        }
        let mut dets: Vec<(Analysis, String)> = Vec::new();
        for a in DETERMINATION_COLUMNS {
            let cell = r.get(a.as_code()).map(String::as_str).unwrap_or("");
            for v in cell.split(';').map(str::trim).filter(|v| !v.is_empty()) {
                match parse_determination(a, v) {
                    Ok(_) => dets.push((a, v.to_string())),
                    Err(e) => errors.push(RowError {
                        row: *line,
                        column: a.as_code().into(),
                        message: e.to_string(),
                    }),
                }
            }
        }
        match first_row.entry((input.supplier_code.clone(), input.test_seal_no.clone())) {
            std::collections::hash_map::Entry::Occupied(first) => errors.push(RowError {
                row: *line,
                column: "test_seal_no".into(),
                message: format!(
                    "the same supplier and test seal number are already on row {}",
                    first.get()
                ),
            }),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(*line);
            }
        }
        parsed.push((*line, input, dets));
    }
    if !errors.is_empty() {
        return Err(refuse(errors));
    }
    let at_row = |line: usize, e: AppError| match e {
        AppError::Invalid { message, .. } | AppError::Conflict { message, .. } => {
            refuse(vec![RowError {
                row: line,
                column: String::new(),
                message,
            }])
        }
        other => other,
    };
    db.transaction(|tx| {
        let (changed, unchanged) = match writer {
            SamplesWriter::Bulk => {
                crate::service::import_samples::write(tx, user, &parsed, now, progress, &at_row)?
            }
            SamplesWriter::Workflow => {
                crate::service::import_samples::write_workflow(tx, user, &parsed, now, &at_row)?
            }
        };
        Ok(ImportReport {
            kind: ImportKind::Samples,
            rows: parsed.len(),
            changed,
            unchanged,
        })
    })
}
