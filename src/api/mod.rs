//! The HTTP surface: JSON under `/api/v1`, thin handlers (parse → service → respond).

pub mod access;
pub mod audit;
pub mod auth;
pub mod health;
pub mod openapi;
pub mod reference;
pub mod samples;

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
    web::block(f)
        .await
        .map_err(|e| AppError::Internal(format!("blocking task failed: {e}")))?
}

/// Registers every route and the JSON/query error handlers that turn malformed input into
/// `{"error", "message"}` bodies.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::JsonConfig::default().limit(256 * 1024).error_handler(
        |err, _req: &HttpRequest| {
            AppError::bad_request("malformed_json", format!("request body: {err}")).into()
        },
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
    .service(
        web::scope("/api/v1")
            .route("/openapi.json", web::get().to(openapi::openapi))
            .route("/me", web::get().to(auth::me))
            .route("/suppliers", web::get().to(reference::list_suppliers))
            .route("/suppliers", web::post().to(reference::create_supplier))
            .route("/suppliers/{code}", web::get().to(reference::get_supplier))
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
            .route("/samples/{key}/{action}", web::post().to(samples::action))
            .route("/audit", web::get().to(audit::list))
            .route("/audit/verify", web::get().to(audit::verify)),
    )
    .default_service(web::to(|| async {
        Err::<actix_web::HttpResponse, AppError>(AppError::NotFound("no such endpoint".into()))
    }));
}
