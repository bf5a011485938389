//! The auditor's pages: the turnaround-time report with its filters and a CSV download (the
//! API's CSV, with the same filters), the audit-trail browser, and the audit-chain check. They
//! call `reports_params::run_tat`, `audit_view::list_events_for` and `audit::verify`, as the API does.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::api::access::Endpoint;
use crate::api::{blocking, AppState};
use crate::error::AppError;
use crate::service::audit::{verify, AuditFilter};
use crate::service::audit_view::list_events_for;
use crate::service::reports_params::{run_tat, TatParams};
use crate::web::auth::Ui;
use crate::web::page::{encode_query, WebError};
use crate::web::query::UiQuery;

/// The TAT form (empty fields = the report's defaults).
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct TatFields {
    /// Period start, YYYY-MM-DD.
    #[serde(default)]
    pub from: String,
    /// Period end, YYYY-MM-DD (inclusive).
    #[serde(default)]
    pub to: String,
    /// Grouping.
    #[serde(default)]
    pub group_by: String,
    /// initial_test, retest, or empty for both.
    #[serde(default)]
    pub stage: String,
}

fn opt(v: &str) -> Option<String> {
    Some(v.trim().to_string()).filter(|s| !s.is_empty())
}

/// The groupings of the TAT report (docs/reports.md).
const GROUPS: [&str; 6] = [
    "stage",
    "period-week",
    "period-month",
    "supplier",
    "technician",
    "lab",
];

/// `GET /ui/audit/tat`: the turnaround report.
///
/// # Errors
/// Login, 403, or the service's refusal of a filter as a page.
pub async fn tat(
    state: web::Data<AppState>,
    ui: Ui,
    q: UiQuery<TatFields>,
) -> Result<HttpResponse, WebError> {
    ui.require(Endpoint::UiAudit)?;
    let mut q = q.into_inner();
    // The report needs a period: without one, the last 365 days up to today (Beijing dates).
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    if q.to.trim().is_empty() {
        q.to = today.to_string();
    }
    if q.from.trim().is_empty() {
        q.from = (today - chrono::Duration::days(365)).to_string();
    }
    let params = TatParams {
        from: opt(&q.from),
        to: opt(&q.to),
        group_by: opt(&q.group_by),
        stage: opt(&q.stage),
        ..Default::default()
    };
    let mut csv = String::from("/api/v1/reports/tat?format=csv");
    for (k, v) in [
        ("from", &params.from),
        ("to", &params.to),
        ("group_by", &params.group_by),
        ("stage", &params.stage),
    ] {
        if let Some(v) = v {
            csv.push_str(&format!("&{k}={}", encode_query(v)));
        }
    }
    let db = state.db.clone();
    let report = blocking(move || run_tat(&db, &params, chrono::Utc::now()))
        .await
        .map_err(|e| ui.fail(e))?;
    ui.page(
        "tat.html",
        serde_json::json!({ "q": q, "r": report, "csv": csv, "groups": GROUPS }),
    )
}

/// `GET /ui/audit/trail?sample_id=&actor=&action=&page=`: audit events, oldest first, 50 a page.
///
/// # Errors
/// Login, 403, or the service's refusal of a filter as a page.
pub async fn trail(
    state: web::Data<AppState>,
    ui: Ui,
    q: UiQuery<TrailFields>,
) -> Result<HttpResponse, WebError> {
    ui.require(Endpoint::UiAudit)?;
    let q = q.into_inner();
    // A sample id that is not a number is refused, as by the API, not ignored (which would
    // list every event as if no filter had been typed).
    let sample_id = match opt(&q.sample_id) {
        None => None,
        Some(s) => Some(s.trim().parse::<i64>().map_err(|_| {
            ui.fail(AppError::invalid(
                "invalid_value",
                format!("sample_id '{s}' is not a sample id (a whole number)"),
            ))
        })?),
    };
    let filter = AuditFilter {
        sample_id,
        actor: opt(&q.actor),
        action: opt(&q.action),
        page: Some(q.page.unwrap_or(1).max(1)),
        per_page: Some(50),
        ..Default::default()
    };
    let db = state.db.clone();
    let user = ui.user.clone();
    let page = blocking(move || db.read(|tx| list_events_for(tx, &user, &filter)))
        .await
        .map_err(|e| ui.fail(e))?;
    let events: Vec<serde_json::Value> = page
        .items
        .iter()
        .map(|e| {
            serde_json::json!({
                "seq": e.seq, "at": crate::time::ms_to_rfc3339(e.at), "actor": e.actor,
                "action": e.action, "entity": e.entity, "entity_id": e.entity_id,
                "sample_id": e.sample_id, "reason": e.reason,
                "after": e.after_json.as_deref().map(|a| a.chars().take(300).collect::<String>()),
            })
        })
        .collect();
    let last_page = ((page.total + page.per_page - 1) / page.per_page).max(1);
    let base = format!(
        "/ui/audit/trail?sample_id={}&actor={}&action={}",
        encode_query(&q.sample_id),
        encode_query(&q.actor),
        encode_query(&q.action)
    );
    ui.page(
        "trail.html",
        serde_json::json!({
            "q": q, "events": events, "total": page.total, "page": page.page,
            "last_page": last_page, "base": base,
        }),
    )
}

/// The audit-trail form.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct TrailFields {
    /// Sample id (number).
    #[serde(default)]
    pub sample_id: String,
    /// Username.
    #[serde(default)]
    pub actor: String,
    /// Action code, e.g. stage.release.
    #[serde(default)]
    pub action: String,
    /// Page from 1.
    pub page: Option<i64>,
}

/// `GET /ui/audit/chain`: recomputes the SHA-256 chain and shows whether every link holds.
///
/// # Errors
/// Login, 403, database errors as a page.
pub async fn chain(state: web::Data<AppState>, ui: Ui) -> Result<HttpResponse, WebError> {
    ui.require(Endpoint::UiAudit)?;
    let db = state.db.clone();
    let report = blocking(move || verify(&db))
        .await
        .map_err(|e| ui.fail(e))?;
    ui.page("chain.html", serde_json::json!({ "r": report }))
}
