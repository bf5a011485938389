//! The web interface: server-rendered HTML pages under `/ui` (docs/web.md).
//!
//! Templates (minijinja, embedded in the binary) live in `src/web/templates/`, the stylesheet in
//! `src/web/static/`, every label in both languages in [`i18n`]. Pages sign in with the browser
//! session of `src/api/session.rs`; forms are plain HTML (post-redirect-get, no JavaScript) and
//! carry the session's CSRF token. Who may open which page is decided by the `Ui*` entries of
//! the one authorization table, `src/api/access.rs`. Handlers are thin: they call the service
//! functions the JSON API calls.

pub mod admin;
pub mod admin_users;
pub mod auditor;
pub mod auth;
pub mod i18n;
pub mod page;
pub mod regulator;
pub mod reviewer;
pub mod technician;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::AppError;
use page::{error_page, WebError};

/// Every page route: (method, path). tests/web.rs walks this list with every role.
pub const PAGES: &[(&str, &str)] = &[
    ("GET", "/ui/"),
    ("GET", "/ui/lab"),
    ("GET", "/ui/lab/register"),
    ("GET", "/ui/lab/samples/{key}"),
    ("GET", "/ui/review"),
    ("GET", "/ui/regulator"),
    ("GET", "/ui/regulator/samples/{key}"),
    ("GET", "/ui/regulator/suppliers/{code}"),
    ("GET", "/ui/audit/tat"),
    ("GET", "/ui/audit/trail"),
    ("GET", "/ui/audit/chain"),
    ("GET", "/ui/admin/limit-sets"),
    ("GET", "/ui/admin/suppliers"),
    ("GET", "/ui/admin/users"),
    ("GET", "/ui/admin/calendars"),
];

async fn css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(page::CSS)
}

async fn to_ui() -> HttpResponse {
    page::see_other("/ui/", None)
}

async fn not_found(req: HttpRequest) -> HttpResponse {
    let chrome = auth::anonymous_chrome(&req);
    error_page(
        StatusCode::NOT_FOUND,
        &chrome,
        "error.title",
        "error.not_found",
        "",
    )
}

/// Registers `/` (redirects to `/ui/`) and every `/ui` route. Malformed forms and paths are
/// answered with an HTML page, never JSON.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(to_ui)).service(
        web::scope("/ui")
            .app_data(
                web::FormConfig::default()
                    .limit(64 * 1024)
                    .error_handler(|err, req| {
                        let chrome = auth::anonymous_chrome(req);
                        let e = AppError::bad_request("bad_request", format!("form: {err}"));
                        actix_web::error::InternalError::from_response(
                            err,
                            actix_web::ResponseError::error_response(&WebError::App(
                                e,
                                Box::new(chrome),
                            )),
                        )
                        .into()
                    }),
            )
            .app_data(web::PathConfig::default().error_handler(|err, req| {
                let chrome = auth::anonymous_chrome(req);
                let e = AppError::bad_request("bad_request", format!("path: {err}"));
                actix_web::error::InternalError::from_response(
                    err,
                    actix_web::ResponseError::error_response(&WebError::App(e, Box::new(chrome))),
                )
                .into()
            }))
            .app_data(web::QueryConfig::default().error_handler(|err, req| {
                let chrome = auth::anonymous_chrome(req);
                let e = AppError::bad_request("bad_request", format!("query: {err}"));
                actix_web::error::InternalError::from_response(
                    err,
                    actix_web::ResponseError::error_response(&WebError::App(e, Box::new(chrome))),
                )
                .into()
            }))
            .route("", web::get().to(to_ui))
            .route("/", web::get().to(auth::home))
            .route("/static/app.css", web::get().to(css))
            .route("/login", web::get().to(auth::login_page))
            .route("/login", web::post().to(auth::login))
            .route("/logout", web::post().to(auth::logout))
            .route("/lang", web::get().to(auth::switch_lang))
            .route("/lab", web::get().to(technician::worklist))
            .route("/lab/register", web::get().to(technician::register_page))
            .route("/lab/register", web::post().to(technician::register))
            .route("/lab/samples/{key}", web::get().to(technician::sample_page))
            .route(
                "/lab/samples/{key}/determinations",
                web::post().to(technician::enter_determination),
            )
            .route(
                "/lab/samples/{key}/action",
                web::post().to(technician::action),
            )
            .route("/review", web::get().to(reviewer::queue))
            .route("/regulator", web::get().to(regulator::dashboard))
            .route("/regulator/find", web::get().to(regulator::find))
            .route(
                "/regulator/samples/{key}",
                web::get().to(regulator::sample_page),
            )
            .route(
                "/regulator/samples/{key}/receipt",
                web::post().to(regulator::record_receipt),
            )
            .route(
                "/regulator/samples/{key}/appeal",
                web::post().to(regulator::record_appeal),
            )
            .route(
                "/regulator/suppliers/{code}",
                web::get().to(regulator::supplier_page),
            )
            .route("/audit/tat", web::get().to(auditor::tat))
            .route("/audit/trail", web::get().to(auditor::trail))
            .route("/audit/chain", web::get().to(auditor::chain))
            .route("/admin/limit-sets", web::get().to(admin::limit_sets))
            .route("/admin/limit-sets", web::post().to(admin::put_limit_set))
            .route("/admin/suppliers", web::get().to(admin::suppliers))
            .route("/admin/suppliers", web::post().to(admin::add_supplier))
            .route("/admin/users", web::get().to(admin_users::users))
            .route("/admin/users", web::post().to(admin_users::add_user))
            .route(
                "/admin/users/password",
                web::post().to(admin_users::set_password),
            )
            .route("/admin/users/disable", web::post().to(admin_users::disable))
            .route(
                "/admin/users/revoke-tokens",
                web::post().to(admin_users::revoke_tokens),
            )
            .route("/admin/calendars", web::get().to(admin::calendars))
            .route("/admin/calendars", web::post().to(admin::import_calendar))
            .default_service(web::to(not_found)),
    );
}
