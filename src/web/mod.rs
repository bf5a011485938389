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
pub mod query;
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

/// One path of the interface: a request with another method than `allow` gets the 405 page
/// (with `Allow`), not the scope's 404.
fn resource(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move |req: HttpRequest| async move {
        let mut r = status_page(&req, StatusCode::METHOD_NOT_ALLOWED, "");
        r.headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static(allow));
        r
    }))
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

/// Whether `path` belongs to the web interface (its errors are HTML pages, never JSON).
pub fn is_web_path(path: &str) -> bool {
    path == "/ui" || path.starts_with("/ui/")
}

/// The HTML page, in the request's language, of an error answered outside the handlers: a 429
/// of the rate limiter (`src/ops/rate_limit.rs`), a 405 or another bodiless error that the
/// middleware of `src/ops/json_errors.rs` finds on a `/ui` path. `detail` is shown as it is.
pub fn status_page(req: &HttpRequest, status: StatusCode, detail: &str) -> HttpResponse {
    let chrome = auth::anonymous_chrome(req);
    let message_key = match status {
        StatusCode::TOO_MANY_REQUESTS => "error.rate_limited",
        StatusCode::METHOD_NOT_ALLOWED => "error.method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "error.too_large",
        StatusCode::NOT_FOUND => "error.not_found",
        StatusCode::FORBIDDEN => "error.forbidden",
        s if s.is_client_error() => "err.bad_request",
        _ => "err.other",
    };
    error_page(status, &chrome, "error.title", message_key, detail)
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
                        if let actix_web::error::UrlencodedError::Overflow { size, limit } = &err {
                            let detail =
                                format!("form of {size} bytes is over the limit of {limit} bytes");
                            let page = status_page(req, StatusCode::PAYLOAD_TOO_LARGE, &detail);
                            return actix_web::error::InternalError::from_response(err, page)
                                .into();
                        }
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
            // Query strings: web::query::UiQuery, which names the wrong parameter.
            .service(resource("", "GET").route(web::get().to(to_ui)))
            .service(resource("/", "GET").route(web::get().to(auth::home)))
            .service(resource("/static/app.css", "GET").route(web::get().to(css)))
            .service(
                resource("/login", "GET, POST")
                    .route(web::get().to(auth::login_page))
                    .route(web::post().to(auth::login)),
            )
            .service(resource("/logout", "POST").route(web::post().to(auth::logout)))
            .service(resource("/lang", "GET").route(web::get().to(auth::switch_lang)))
            .service(resource("/lab", "GET").route(web::get().to(technician::worklist)))
            .service(
                resource("/lab/register", "GET, POST")
                    .route(web::get().to(technician::register_page))
                    .route(web::post().to(technician::register)),
            )
            .service(
                resource("/lab/samples/{key}", "GET").route(web::get().to(technician::sample_page)),
            )
            .service(
                resource("/lab/samples/{key}/determinations", "POST")
                    .route(web::post().to(technician::enter_determination)),
            )
            .service(
                resource("/lab/samples/{key}/action", "POST")
                    .route(web::post().to(technician::action)),
            )
            .service(resource("/review", "GET").route(web::get().to(reviewer::queue)))
            .service(resource("/regulator", "GET").route(web::get().to(regulator::dashboard)))
            .service(resource("/regulator/find", "GET").route(web::get().to(regulator::find)))
            .service(
                resource("/regulator/samples/{key}", "GET")
                    .route(web::get().to(regulator::sample_page)),
            )
            .service(
                resource("/regulator/samples/{key}/receipt", "POST")
                    .route(web::post().to(regulator::record_receipt)),
            )
            .service(
                resource("/regulator/samples/{key}/appeal", "POST")
                    .route(web::post().to(regulator::record_appeal)),
            )
            .service(
                resource("/regulator/suppliers/{code}", "GET")
                    .route(web::get().to(regulator::supplier_page)),
            )
            .service(resource("/audit/tat", "GET").route(web::get().to(auditor::tat)))
            .service(resource("/audit/trail", "GET").route(web::get().to(auditor::trail)))
            .service(resource("/audit/chain", "GET").route(web::get().to(auditor::chain)))
            .service(
                resource("/admin/limit-sets", "GET, POST")
                    .route(web::get().to(admin::limit_sets))
                    .route(web::post().to(admin::put_limit_set)),
            )
            .service(
                resource("/admin/suppliers", "GET, POST")
                    .route(web::get().to(admin::suppliers))
                    .route(web::post().to(admin::add_supplier)),
            )
            .service(
                resource("/admin/users", "GET, POST")
                    .route(web::get().to(admin_users::users))
                    .route(web::post().to(admin_users::add_user)),
            )
            .service(
                resource("/admin/users/password", "POST")
                    .route(web::post().to(admin_users::set_password)),
            )
            .service(
                resource("/admin/users/disable", "POST")
                    .route(web::post().to(admin_users::disable)),
            )
            .service(
                resource("/admin/users/revoke-tokens", "POST")
                    .route(web::post().to(admin_users::revoke_tokens)),
            )
            .service(
                resource("/admin/calendars", "GET, POST")
                    .route(web::get().to(admin::calendars))
                    .route(web::post().to(admin::import_calendar)),
            )
            .default_service(web::to(not_found)),
    );
}
