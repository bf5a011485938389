//! The HTTP surface: JSON under `/api/v1`, thin handlers (parse → service → respond).

pub mod access;
pub mod amendments;
pub mod audit;
pub mod auth;
pub mod health;
pub mod json_object;
pub mod openapi;
pub mod query;
pub mod reference;
pub mod reports;
pub mod retention;
pub mod routes;
pub mod sample_tx;
pub mod samples;
pub mod session;
pub mod stats;
pub mod token_cache;
pub mod worker_reads;

use actix_web::{web, HttpRequest};

use crate::db::Db;
use crate::error::AppError;

/// Shared state of every worker: the database pool and a one-second memory of checked API
/// tokens for the status lookup; the server keeps no state another instance would need.
pub struct AppState {
    /// The database.
    pub db: Db,
    /// API tokens the status lookup checked in the last second or so ([`token_cache`]).
    pub tokens: token_cache::TokenCache,
}

/// Runs blocking database work off the async executor.
///
/// # Errors
/// Whatever `f` returns; [`AppError::Internal`] when the blocking pool fails.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AppError> + Send + 'static,
) -> Result<T, AppError> {
    // Keep the request's tracing span (and so its request id) on the blocking thread.
    let span = tracing::Span::current();
    web::block(move || span.in_scope(f))
        .await
        .map_err(|e| AppError::Internal(format!("blocking task failed: {e}")))?
}

/// Registers every route and the JSON/query error handlers that turn malformed input into
/// `{"error", "message"}` bodies.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::JsonConfig::default().limit(256 * 1024).error_handler(
        // OPS (issue 9): 413 for too large, a clear 400 for nesting over serde_json's limit.
        |err, _req: &HttpRequest| crate::ops::json_errors::json_error(err),
    ))
    // Query strings: api::query::Query, which names the wrong parameter.
    .app_data(
        web::PathConfig::default().error_handler(|err, _req: &HttpRequest| {
            AppError::bad_request("bad_path", format!("path: {err}")).into()
        }),
    );
    let mut r = routes::Routes::new(cfg);
    // The router tries the paths in this order, matching each path with a parameter by a
    // regular expression: the hot lookup comes first (no other path matches it).
    r.get("/api/v1/reports/status", reports::status);
    r.get("/health", health::health);
    r.get("/ready", health::ready);
    r.get("/verify/{report_no}", reports::verify);
    r.post("/login", session::login);
    r.post("/logout", session::logout);
    r.get("/api/v1/openapi.json", openapi::openapi);
    r.get("/api/v1/me", auth::me);
    r.get("/api/v1/suppliers", reference::list_suppliers);
    r.post("/api/v1/suppliers", reference::create_supplier);
    r.get("/api/v1/suppliers/{code}", reference::get_supplier);
    r.get("/api/v1/suppliers/{code}/stats", stats::supplier);
    r.get("/api/v1/suppliers/{code}/chart.svg", stats::supplier_svg);
    r.get("/api/v1/suppliers/{code}/chart.png", stats::supplier_png);
    r.get("/api/v1/stats/ranking", stats::rank);
    r.get("/api/v1/charts/comparison.svg", stats::comparison_svg);
    r.get("/api/v1/charts/comparison.png", stats::comparison_png);
    r.get("/api/v1/jurisdictions", reference::list_jurisdictions);
    r.get("/api/v1/limit-sets", reference::list_limit_sets);
    r.post("/api/v1/limit-sets", reference::put_limit_set);
    r.get("/api/v1/calendars/{code}", reference::get_calendar);
    r.post("/api/v1/import/{kind}", reference::import_csv);
    r.get("/api/v1/samples", samples::list);
    r.post("/api/v1/samples", samples::register);
    r.get("/api/v1/samples/{key}", samples::get);
    r.post(
        "/api/v1/samples/{key}/determinations",
        samples::enter_determination,
    );
    r.post(
        "/api/v1/samples/{key}/result-received",
        samples::result_received,
    );
    r.post("/api/v1/samples/{key}/amendments", amendments::propose);
    r.post(
        "/api/v1/samples/{key}/amendments/release",
        amendments::release,
    );
    r.get("/api/v1/samples/{key}/revisions", amendments::list);
    r.post("/api/v1/samples/{key}/discard-retained", retention::discard);
    r.get("/api/v1/retained-samples/due", retention::due);
    r.post("/api/v1/samples/{key}/{action}", samples::action);
    r.get("/api/v1/audit", audit::list);
    r.get("/api/v1/reports/suppliers", reports::suppliers);
    r.get("/api/v1/reports/non-compliant", reports::non_compliant);
    r.get("/api/v1/reports/tat", reports::tat);
    r.get("/api/v1/reports/overdue", reports::overdue);
    // Its first view issues the report's verification code (an audit event): no HEAD.
    r.get_without_head("/api/v1/reports/documents/{report_no}", reports::document);
    r.get("/api/v1/audit/verify", audit::verify);
    r.finish();
}
