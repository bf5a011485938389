//! The HTTP surface: JSON under `/api/v1`, thin handlers (parse → service → respond).

pub mod access;
pub mod amendments;
pub mod audit;
pub mod auth;
pub mod health;
pub mod openapi;
pub mod reference;
pub mod reports;
pub mod retention;
pub mod sample_tx;
pub mod samples;
pub mod session;
pub mod stats;
pub mod worker_reads;

use actix_web::{web, HttpRequest};

use crate::db::Db;
use crate::error::AppError;

/// Shared state of every worker: the database pool, nothing else (the server keeps no state
/// another instance would need).
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub db: Db,
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
    .app_data(
        web::QueryConfig::default().error_handler(|err, _req: &HttpRequest| {
            AppError::bad_request("bad_query", format!("query string: {err}")).into()
        }),
    )
    .app_data(
        web::PathConfig::default().error_handler(|err, _req: &HttpRequest| {
            AppError::bad_request("bad_path", format!("path: {err}")).into()
        }),
    )
    .route("/health", web::get().to(health::health))
    .route("/ready", web::get().to(health::ready))
    .route("/verify/{report_no}", web::get().to(reports::verify))
    .route("/login", web::post().to(session::login))
    .route("/logout", web::post().to(session::logout))
    .service(
        web::scope("/api/v1")
            .route("/openapi.json", web::get().to(openapi::openapi))
            .route("/me", web::get().to(auth::me))
            .route("/suppliers", web::get().to(reference::list_suppliers))
            .route("/suppliers", web::post().to(reference::create_supplier))
            .route("/suppliers/{code}", web::get().to(reference::get_supplier))
            .route("/suppliers/{code}/stats", web::get().to(stats::supplier))
            .route(
                "/suppliers/{code}/chart.svg",
                web::get().to(stats::supplier_svg),
            )
            .route(
                "/suppliers/{code}/chart.png",
                web::get().to(stats::supplier_png),
            )
            .route("/stats/ranking", web::get().to(stats::rank))
            .route(
                "/charts/comparison.svg",
                web::get().to(stats::comparison_svg),
            )
            .route(
                "/charts/comparison.png",
                web::get().to(stats::comparison_png),
            )
            .route(
                "/jurisdictions",
                web::get().to(reference::list_jurisdictions),
            )
            .route("/limit-sets", web::get().to(reference::list_limit_sets))
            .route("/limit-sets", web::post().to(reference::put_limit_set))
            .route("/calendars/{code}", web::get().to(reference::get_calendar))
            .route("/import/{kind}", web::post().to(reference::import_csv))
            .route("/samples", web::get().to(samples::list))
            .route("/samples", web::post().to(samples::register))
            .route("/samples/{key}", web::get().to(samples::get))
            .route(
                "/samples/{key}/determinations",
                web::post().to(samples::enter_determination),
            )
            .route(
                "/samples/{key}/result-received",
                web::post().to(samples::result_received),
            )
            .route(
                "/samples/{key}/amendments",
                web::post().to(amendments::propose),
            )
            .route(
                "/samples/{key}/amendments/release",
                web::post().to(amendments::release),
            )
            .route("/samples/{key}/revisions", web::get().to(amendments::list))
            .route(
                "/samples/{key}/discard-retained",
                web::post().to(retention::discard),
            )
            .route("/retained-samples/due", web::get().to(retention::due))
            .route("/samples/{key}/{action}", web::post().to(samples::action))
            .route("/audit", web::get().to(audit::list))
            .route("/reports/status", web::get().to(reports::status))
            .route("/reports/suppliers", web::get().to(reports::suppliers))
            .route(
                "/reports/non-compliant",
                web::get().to(reports::non_compliant),
            )
            .route("/reports/tat", web::get().to(reports::tat))
            .route("/reports/overdue", web::get().to(reports::overdue))
            .route(
                "/reports/documents/{report_no}",
                web::get().to(reports::document),
            )
            .route("/audit/verify", web::get().to(audit::verify)),
    )
    .default_service(web::to(|| async {
        Err::<actix_web::HttpResponse, AppError>(AppError::NotFound("no such endpoint".into()))
    }));
}
