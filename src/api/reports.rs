//! Report endpoints (docs/reports.md): regulator queries and the turnaround-time report, as
//! JSON or CSV (`?format=csv` or `Accept: text/csv`).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::api::access::{require, Endpoint};
use crate::api::auth::{Auth, LazyAuth};
use crate::api::query::Query;
use crate::api::worker_reads::WorkerReads;
use crate::api::{blocking, AppState};
use crate::error::AppError;
use crate::service::reports::{self as svc, SupplierFilter};
use crate::service::reports_params::{overdue_csv, run_overdue, run_tat, tat_csv, TatParams};

/// Whether the client asked for CSV: `format=csv` wins, `format=json` too; else the Accept header.
fn wants_csv(req: &HttpRequest, format: Option<&str>) -> Result<bool, AppError> {
    match format.map(str::trim) {
        Some("csv") => Ok(true),
        Some("json") => Ok(false),
        Some(other) => Err(AppError::invalid(
            "invalid_value",
            format!("format '{other}': use json or csv"),
        )),
        None => Ok(req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/csv"))),
    }
}

fn csv_response(name: &str, body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}.csv\""),
        ))
        .body(body)
}

/// Query of `GET /api/v1/reports/status`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusQuery {
    /// Sample code.
    pub sample_code: Option<String>,
    /// Report number of a released stage.
    pub report_no: Option<String>,
    /// json or csv.
    pub format: Option<String>,
}

/// One CSV line of a status answer: the sample with one of its stages.
#[derive(Serialize, Default)]
struct StatusCsvRow<'a> {
    sample_code: &'a str,
    supplier_code: &'a str,
    town: &'a str,
    sampled_on: &'a str,
    effective_state: &'a str,
    final_verdict: Option<&'a str>,
    verdict_is_final: bool,
    final_at: Option<&'a str>,
    stage: &'a str,
    report_no: Option<&'a str>,
    started_at: &'a str,
    due_at: &'a str,
    released_at: Option<&'a str>,
    stage_verdict: Option<&'a str>,
    overdue: bool,
}

/// `GET /api/v1/reports/status?sample_code=…` or `?report_no=…`: where a sample stands.
///
/// A regulator's hot path: the bearer token is checked in the same database call as the lookup
/// ([`LazyAuth`]), or not read at all when this server checked it within `--token-cache-ms`
/// ([`crate::api::token_cache`]); on SQLite the call runs on the HTTP worker's own thread
/// ([`WorkerReads`], docs/performance.md). The errors come in the usual order (401, 403, then
/// a bad `format`, then 404).
pub async fn status(
    state: web::Data<AppState>,
    reads: web::Data<WorkerReads>,
    auth: LazyAuth,
    req: HttpRequest,
    q: Query<StatusQuery>,
) -> Result<HttpResponse, AppError> {
    let format = wants_csv(&req, q.format.as_deref());
    let q = q.into_inner();
    let cache = state.clone();
    let (s, csv) = reads
        .read(&state, move |tx| {
            let user = auth.user_cached(tx, &cache.tokens)?;
            require(&user, Endpoint::RegulatorReports)?;
            let csv = format?;
            let s = svc::sample_status(
                tx,
                &user,
                q.sample_code.as_deref(),
                q.report_no.as_deref(),
                chrono::Utc::now(),
            )?;
            Ok((s, csv))
        })
        .await?;
    if !csv {
        return Ok(HttpResponse::Ok().json(s));
    }
    let rows: Vec<StatusCsvRow> = s
        .stages
        .iter()
        .map(|g| StatusCsvRow {
            sample_code: &s.sample_code,
            supplier_code: &s.supplier_code,
            town: &s.town,
            sampled_on: &s.sampled_on,
            effective_state: &s.effective_state,
            final_verdict: s.final_verdict.as_deref(),
            verdict_is_final: s.verdict_is_final,
            final_at: s.final_at.as_deref(),
            stage: &g.stage,
            report_no: g.report_no.as_deref(),
            started_at: &g.started_at,
            due_at: &g.due_at,
            released_at: g.released_at.as_deref(),
            stage_verdict: g.verdict.as_deref(),
            overdue: g.overdue,
        })
        .collect();
    Ok(csv_response("status", svc::to_csv(&rows)?))
}

/// `GET /api/v1/reports/suppliers`: suppliers with counts, pass rate, last final verdict, open
/// appeals and overdue stages (filters: town, kind, from, to, verdict, stage).
pub async fn suppliers(
    state: web::Data<AppState>,
    Auth(user): Auth,
    req: HttpRequest,
    q: Query<SupplierFilter>,
) -> Result<HttpResponse, AppError> {
    require(&user, Endpoint::RegulatorReports)?;
    let csv = wants_csv(&req, q.format.as_deref())?;
    let db = state.db.clone();
    let rows =
        blocking(move || db.read(|tx| svc::suppliers(tx, &user, &q, chrono::Utc::now()))).await?;
    if csv {
        return Ok(csv_response("suppliers", svc::to_csv(&rows)?));
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": rows })))
}

/// One CSV line of the non-compliant list: a failed sample with its supplier.
#[derive(Serialize, Default)]
struct FailCsvRow<'a> {
    supplier_code: &'a str,
    name: &'a str,
    kind: &'a str,
    town: &'a str,
    final_fails: i64,
    sample_code: &'a str,
    sampled_on: &'a str,
    report_no: Option<&'a str>,
    final_at: String,
}

/// `GET /api/v1/reports/non-compliant`: suppliers with at least one final fail among samples
/// taken in the period (filters: from, to, town, kind).
pub async fn non_compliant(
    state: web::Data<AppState>,
    Auth(user): Auth,
    req: HttpRequest,
    q: Query<SupplierFilter>,
) -> Result<HttpResponse, AppError> {
    require(&user, Endpoint::RegulatorReports)?;
    let csv = wants_csv(&req, q.format.as_deref())?;
    let db = state.db.clone();
    let rows =
        blocking(move || db.read(|tx| svc::non_compliant(tx, &user, &q, chrono::Utc::now())))
            .await?;
    if !csv {
        return Ok(HttpResponse::Ok().json(serde_json::json!({ "items": rows })));
    }
    let lines: Vec<FailCsvRow> = rows
        .iter()
        .flat_map(|r| {
            r.samples.iter().map(move |s| FailCsvRow {
                supplier_code: &r.code,
                name: &r.name,
                kind: &r.kind,
                town: &r.town,
                final_fails: r.final_fails,
                sample_code: &s.sample_code,
                sampled_on: &s.sampled_on,
                report_no: s.report_no.as_deref(),
                final_at: crate::time::ms_to_rfc3339(s.final_at),
            })
        })
        .collect();
    Ok(csv_response("non-compliant", svc::to_csv(&lines)?))
}

/// `GET /api/v1/reports/tat?from=…&to=…&group_by=…&as_of=…&stage=…`: the turnaround report.
pub async fn tat(
    state: web::Data<AppState>,
    Auth(user): Auth,
    req: HttpRequest,
    q: Query<TatParams>,
) -> Result<HttpResponse, AppError> {
    require(&user, Endpoint::TatReport)?;
    let csv = wants_csv(&req, q.format.as_deref())?;
    let db = state.db.clone();
    let report = blocking(move || run_tat(&db, &q, chrono::Utc::now())).await?;
    if csv {
        return Ok(csv_response("tat", tat_csv(&report)?));
    }
    Ok(HttpResponse::Ok().json(report))
}

/// `GET /api/v1/reports/overdue?from=…&to=…&as_of=…&stage=…`: open stages past due at `as_of`.
pub async fn overdue(
    state: web::Data<AppState>,
    Auth(user): Auth,
    req: HttpRequest,
    q: Query<TatParams>,
) -> Result<HttpResponse, AppError> {
    require(&user, Endpoint::TatReport)?;
    let csv = wants_csv(&req, q.format.as_deref())?;
    let db = state.db.clone();
    let rows = blocking(move || run_overdue(&db, &q, chrono::Utc::now())).await?;
    if csv {
        return Ok(csv_response("overdue", overdue_csv(&rows)?));
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": rows })))
}

/// Query of the report document and the public check.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentQuery {
    /// html (default), pdf or json.
    pub format: Option<String>,
    /// The verification code (public check only).
    pub code: Option<String>,
}

/// A rendered document: content type, body and report number (for the file name).
type Rendered = (&'static str, Vec<u8>, String);

fn render(
    doc: &crate::service::reports_doc::ReportDoc,
    format: &str,
) -> Result<Rendered, AppError> {
    let body = match format {
        "html" => (
            "text/html; charset=utf-8",
            crate::service::reports_html::render_html(doc).into_bytes(),
        ),
        "pdf" => (
            "application/pdf",
            crate::service::reports_pdf::render_pdf(doc)?,
        ),
        "json" => (
            "application/json",
            serde_json::to_vec(doc).map_err(|e| AppError::Internal(e.to_string()))?,
        ),
        other => return Err(bad_format(other)),
    };
    Ok((body.0, body.1, doc.report_no.clone()))
}

fn doc_response((content_type, body, report_no): Rendered) -> HttpResponse {
    let mut r = HttpResponse::Ok();
    r.content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "no-store"));
    if content_type == "application/pdf" {
        r.insert_header((
            header::CONTENT_DISPOSITION,
            format!("inline; filename=\"{report_no}.pdf\""),
        ));
    }
    r.body(body)
}

/// `GET /api/v1/reports/documents/{report_no}?format=html|pdf|json`: the test report (检验报告)
/// of a released stage, with its verification code (issued on first use).
pub async fn document(
    state: web::Data<AppState>,
    Auth(user): Auth,
    report_no: web::Path<String>,
    q: Query<DocumentQuery>,
) -> Result<HttpResponse, AppError> {
    require(&user, Endpoint::ReportDocument)?;
    if q.code.is_some() {
        return Err(AppError::bad_request(
            "bad_query",
            "code belongs to /verify",
        ));
    }
    let format = q.format.clone().unwrap_or_else(|| "html".into());
    if !matches!(format.as_str(), "html" | "pdf" | "json") {
        return Err(bad_format(&format));
    }
    let db = state.db.clone();
    let rendered = blocking(move || {
        let doc = db.transaction(|tx| {
            crate::service::reports_doc::report_document(tx, &user, &report_no, chrono::Utc::now())
        })?;
        render(&doc, &format)
    })
    .await?;
    Ok(doc_response(rendered))
}

fn bad_format(format: &str) -> AppError {
    AppError::invalid(
        "invalid_value",
        format!("format '{format}': use html, pdf or json"),
    )
}

/// `GET /verify/{report_no}?code=…` (no login): confirms a genuine report and shows what the
/// report shows (HTML, or JSON with `format=json`). A wrong or missing code, an unknown report
/// number and an unissued code all get the same 404, revealing nothing.
pub async fn verify(
    state: web::Data<AppState>,
    report_no: web::Path<String>,
    q: Query<DocumentQuery>,
) -> Result<HttpResponse, AppError> {
    let format = q.format.clone().unwrap_or_else(|| "html".into());
    if !matches!(format.as_str(), "html" | "json") {
        return Err(bad_format(&format));
    }
    let code = q.code.clone().unwrap_or_default();
    let db = state.db.clone();
    let rendered = blocking(move || {
        let doc = db.read(|tx| crate::service::reports_doc::verify(tx, &report_no, &code))?;
        match doc {
            Some(d) => render(&d, &format),
            None => Err(AppError::NotFound(
                "no genuine report with this number and verification code".into(),
            )),
        }
    })
    .await?;
    Ok(doc_response(rendered))
}
