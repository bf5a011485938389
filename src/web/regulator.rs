//! The regulator's pages: the dashboard (released samples, pass rate by supplier and by town,
//! non-compliant suppliers, open appeals, overdue stages, from `service::reports`), a released
//! sample with its verdicts and limits (and the forms that record the enterprise's receipt of
//! the result and its appeal, which opens the retest), and a supplier with its quality chart,
//! statistics and final verdicts.

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use chrono::Utc;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::api::access::Endpoint;
use crate::api::sample_tx::in_sample_tx;
use crate::api::{blocking, AppState};
use crate::domain::lifecycle::Action;
use crate::domain::terms::ResultParameter;
use crate::error::AppError;
use crate::service::reference;
use crate::service::reports::{self as reports, SupplierFilter, SupplierStatus};
use crate::service::samples::{self as svc, SampleFilter};
use crate::service::stats::{supplier_stats, Period};
use crate::service::view::sample_view;
use crate::service::workflow::{self, ActionRequest, ResultReceived};
use crate::web::auth::Ui;
use crate::web::page::{see_other, Flash, WebError};
use crate::web::query::UiQuery;
use crate::web::technician::{local_input_to_rfc3339, local_now_input};

/// The dashboard's period filter (empty = all time).
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct PeriodQuery {
    /// First sampling day, YYYY-MM-DD.
    #[serde(default)]
    pub from: String,
    /// Last sampling day, YYYY-MM-DD.
    #[serde(default)]
    pub to: String,
}

fn opt(v: &str) -> Option<String> {
    Some(v.trim().to_string()).filter(|s| !s.is_empty())
}

/// Final pass / fail counts of a group of suppliers, with the pass rate (4 decimals, the
/// rounding of the supplier report).
#[derive(Debug, Default, Serialize)]
pub struct Tally {
    /// Group name (a town) or empty for all.
    pub name: String,
    /// Released samples.
    pub samples: i64,
    /// Final pass.
    pub final_pass: i64,
    /// Final fail.
    pub final_fail: i64,
    /// Not final yet.
    pub pending: i64,
    /// Retests requested and not released.
    pub open_appeals: i64,
    /// Open stages past due.
    pub overdue_stages: i64,
    /// final_pass / (final_pass + final_fail).
    pub pass_rate: Option<Decimal>,
}

impl Tally {
    fn add(&mut self, s: &SupplierStatus) {
        self.samples += s.samples;
        self.final_pass += s.final_pass;
        self.final_fail += s.final_fail;
        self.pending += s.pending;
        self.open_appeals += s.open_appeals;
        self.overdue_stages += s.overdue_stages;
        let judged = self.final_pass + self.final_fail;
        self.pass_rate = (judged > 0)
            .then(|| (Decimal::from(self.final_pass) / Decimal::from(judged)).round_dp(4));
    }
}

/// Sums the supplier lines into a total and one line per town (sorted by town).
pub fn tallies(rows: &[SupplierStatus]) -> (Tally, Vec<Tally>) {
    let mut total = Tally::default();
    let mut towns: BTreeMap<&str, Tally> = BTreeMap::new();
    for r in rows {
        total.add(r);
        let t = towns.entry(r.town.as_str()).or_insert_with(|| Tally {
            name: r.town.clone(),
            ..Default::default()
        });
        t.add(r);
    }
    (total, towns.into_values().collect())
}

/// `GET /ui/regulator`: the dashboard.
///
/// # Errors
/// Login, 403 or the service's error as a page.
pub async fn dashboard(
    state: web::Data<AppState>,
    ui: Ui,
    q: UiQuery<PeriodQuery>,
) -> Result<HttpResponse, WebError> {
    ui.require(Endpoint::UiOversight)?;
    let q = q.into_inner();
    let filter = SupplierFilter {
        from: opt(&q.from),
        to: opt(&q.to),
        ..Default::default()
    };
    let db = state.db.clone();
    let user = ui.user.clone();
    let (rows, bad) = blocking(move || {
        db.read(|tx| {
            let now = Utc::now();
            Ok((
                reports::suppliers(tx, &user, &filter, now)?,
                reports::non_compliant(tx, &user, &filter, now)?,
            ))
        })
    })
    .await
    .map_err(|e| ui.fail(e))?;
    let (total, towns) = tallies(&rows);
    ui.page(
        "dashboard.html",
        serde_json::json!({
            "q": q, "total": total, "towns": towns, "suppliers": rows, "non_compliant": bad,
        }),
    )
}

/// The find-a-sample form.
#[derive(Debug, Deserialize)]
pub struct FindQuery {
    /// Sample code (or report number's sample part, or id).
    pub code: String,
}

/// `GET /ui/regulator/find?code=…`: goes to the sample's page (which answers 404 for a sample
/// that does not exist or is not released).
///
/// # Errors
/// Login or 403.
pub async fn find(ui: Ui, q: UiQuery<FindQuery>) -> Result<HttpResponse, WebError> {
    ui.require(Endpoint::UiOversight)?;
    let code = q.code.trim();
    Ok(see_other(
        &format!(
            "/ui/regulator/samples/{}",
            crate::web::page::encode_query(code).replace('/', "%2F")
        ),
        None,
    ))
}

/// `GET /ui/regulator/samples/{key}`: a released sample.
///
/// # Errors
/// Login, 403, 404 while nothing of it is released.
pub async fn sample_page(
    state: web::Data<AppState>,
    ui: Ui,
    key: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    ui.require(Endpoint::UiOversight)?;
    let db = state.db.clone();
    let user = ui.user.clone();
    let view = blocking(move || {
        db.read(|tx| {
            let id = svc::resolve(tx, &key)?;
            sample_view(tx, &user, id, Utc::now())
        })
    })
    .await
    .map_err(|e| ui.fail(e))?;
    let may_appeal = crate::api::access::roles_for(Endpoint::UiAppeal).contains(&ui.user.role)
        && view.actions.iter().any(|a| a == "request_retest");
    ui.page(
        "reg_sample.html",
        serde_json::json!({ "s": view, "may_appeal": may_appeal, "now_local": local_now_input() }),
    )
}

/// The receipt form.
#[derive(Debug, Deserialize)]
pub struct ReceiptFields {
    /// CSRF token.
    #[serde(default)]
    pub csrf_token: String,
    /// Sample version shown on the page.
    pub version: i32,
    /// `YYYY-MM-DDTHH:MM`, Beijing time.
    pub received_at: String,
}

/// `POST /ui/regulator/samples/{key}/receipt`: when the enterprise received the initial
/// result (starts the appeal window), with `workflow::record_result_received`.
///
/// # Errors
/// Login, 403, or a CSRF mismatch; refusals come back as the page's message.
pub async fn record_receipt(
    state: web::Data<AppState>,
    ui: Ui,
    key: web::Path<String>,
    form: web::Form<ReceiptFields>,
) -> Result<HttpResponse, WebError> {
    ui.require(Endpoint::UiAppeal)?;
    ui.check_csrf(&form.csrf_token)?;
    let key = key.into_inner();
    let back = format!("/ui/regulator/samples/{key}");
    let req = ResultReceived {
        version: form.version,
        received_at: local_input_to_rfc3339(&form.received_at),
    };
    let user = ui.user.clone();
    let out = in_sample_tx(&state.db, key, move |tx, id, now| {
        workflow::record_result_received(tx, &user, id, &req, now)
    })
    .await;
    let flash = match out {
        Ok(()) => Flash::ok("reg.receipt_recorded", ""),
        Err(e) => Flash::from_error(&e),
    };
    Ok(see_other(&back, Some(flash)))
}

/// The appeal form.
#[derive(Debug, Deserialize)]
pub struct AppealFields {
    /// CSRF token.
    #[serde(default)]
    pub csrf_token: String,
    /// Sample version shown on the page.
    pub version: i32,
    /// Seal number read on the retained sample.
    pub retained_seal_no: String,
    /// Condition of its seal.
    pub retained_condition: String,
    /// The appeal's note.
    #[serde(default)]
    pub reason: String,
}

/// `POST /ui/regulator/samples/{key}/appeal`: records the enterprise's appeal, i.e. the
/// `request_retest` action, which opens the retest on the retained sample.
///
/// # Errors
/// Login, 403, or a CSRF mismatch; refusals come back as the page's message.
pub async fn record_appeal(
    state: web::Data<AppState>,
    ui: Ui,
    key: web::Path<String>,
    form: web::Form<AppealFields>,
) -> Result<HttpResponse, WebError> {
    ui.require(Endpoint::UiAppeal)?;
    ui.check_csrf(&form.csrf_token)?;
    let key = key.into_inner();
    let back = format!("/ui/regulator/samples/{key}");
    let f = form.into_inner();
    let req = ActionRequest {
        version: f.version,
        reason: opt(&f.reason),
        retained_seal_no: Some(f.retained_seal_no.trim().to_string()),
        retained_condition: Some(f.retained_condition.trim().to_string()),
    };
    let user = ui.user.clone();
    let out = in_sample_tx(&state.db, key, move |tx, id, now| {
        workflow::apply_action(tx, &user, id, Action::RequestRetest, &req, now)
    })
    .await;
    let flash = match out {
        Ok(()) => Flash::ok("reg.appeal_recorded", ""),
        Err(e) => Flash::from_error(&e),
    };
    Ok(see_other(&back, Some(flash)))
}

/// The statistics of one parameter as the supplier page shows them.
#[derive(Debug, Serialize)]
struct ParamStats {
    parameter: &'static str,
    n: usize,
    mean: Option<f64>,
    median: Option<f64>,
    min: Option<f64>,
    max: Option<f64>,
    pass_rate: Option<f64>,
    risk: Option<f64>,
    sen_slope_per_30_days: Option<f64>,
}

/// `GET /ui/regulator/suppliers/{code}`: a supplier with its released samples and final
/// verdicts, its quality chart (the API's SVG) and the statistics of Ad and St,d.
///
/// # Errors
/// Login, 403, 422 for an unknown supplier code.
pub async fn supplier_page(
    state: web::Data<AppState>,
    ui: Ui,
    code: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    ui.require(Endpoint::UiOversight)?;
    let db = state.db.clone();
    let user = ui.user.clone();
    let code = code.into_inner();
    let page = blocking(move || {
        db.read(|tx| {
            let now = Utc::now();
            // The code is the page's address: an unknown one is a page that does not exist.
            let supplier = reference::supplier_by_code(tx, code.trim()).map_err(|e| match e {
                AppError::Invalid {
                    code: "unknown_supplier",
                    message,
                } => AppError::NotFound(message),
                e => e,
            })?;
            let line = reports::suppliers(tx, &user, &SupplierFilter::default(), now)?
                .into_iter()
                .find(|r| r.code == supplier.code);
            let mut stats = Vec::new();
            for p in [ResultParameter::Ad, ResultParameter::Std] {
                let s = supplier_stats(tx, &supplier.code, p, Period::default())?.stats;
                let d = s.descriptive.ok();
                stats.push(ParamStats {
                    parameter: p.as_code(),
                    n: s.n,
                    mean: d.map(|d| d.mean),
                    median: d.map(|d| d.median),
                    min: d.map(|d| d.min),
                    max: d.map(|d| d.max),
                    pass_rate: s.pass_rate.ok().map(|r| r.rate),
                    risk: s.risk,
                    sen_slope_per_30_days: s.mann_kendall.ok().map(|m| m.sen_slope_per_30_days),
                });
            }
            let samples = svc::list(
                tx,
                &user,
                &SampleFilter {
                    supplier: Some(supplier.code.clone()),
                    per_page: Some(50),
                    ..Default::default()
                },
                now,
            )?;
            Ok::<_, AppError>(serde_json::json!({
                "supplier": supplier, "line": line, "stats": stats, "samples": samples,
            }))
        })
    })
    .await
    .map_err(|e| ui.fail(e))?;
    ui.page("supplier.html", page)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(code: &str, town: &str, pass: i64, fail: i64) -> SupplierStatus {
        SupplierStatus {
            code: code.into(),
            name: code.into(),
            kind: "sale_point".into(),
            town: town.into(),
            samples: pass + fail + 1,
            final_pass: pass,
            final_fail: fail,
            pending: 1,
            pass_rate: None,
            last_final_verdict: None,
            last_final_sample: None,
            last_final_at: None,
            open_appeals: 1,
            overdue_stages: 0,
        }
    }

    #[test]
    fn towns_sum_their_suppliers() {
        let rows = [
            line("A", "东镇", 3, 1),
            line("B", "东镇", 1, 1),
            line("C", "西镇", 0, 0),
        ];
        let (total, towns) = tallies(&rows);
        // All: pass 3 + 1 + 0 = 4, fail 1 + 1 + 0 = 2 → 4/6 = 0.6666… → 0.6667.
        assert_eq!(total.final_pass, 4);
        assert_eq!(total.pass_rate, Some(Decimal::new(6667, 4)));
        // Samples: (3+1+1) + (1+1+1) + (0+0+1) = 5 + 3 + 1 = 9; appeals 1 each = 3.
        assert_eq!(total.samples, 9);
        assert_eq!(total.open_appeals, 3);
        assert_eq!(towns.len(), 2);
        // 东镇: 4 pass, 2 fail → 0.6667; 西镇 has no final verdict → no rate.
        assert_eq!(towns[0].name, "东镇");
        assert_eq!(towns[0].pass_rate, Some(Decimal::new(6667, 4)));
        assert_eq!(towns[1].pass_rate, None);
    }
}
