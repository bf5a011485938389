//! Browser sign-in: `POST /login` (form or JSON `username` + `password`) sets the session
//! cookie; `POST /logout` ends it. Requests authenticated by the cookie must send the session's
//! CSRF token back on every state-changing method (see [`cookie_user`]).
//!
//! Cookie: `coallab_session`, `HttpOnly`, `SameSite=Strict`, `Path=/`, and `Secure` when
//! `COALLAB_COOKIE_SECURE=true` (set it when coallab is served over TLS, directly or behind a
//! proxy).

use crate::api::json_object::Object;
use std::sync::OnceLock;

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::Method;
use actix_web::{web, Either, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::api::{blocking, AppState};
use crate::error::AppError;
use crate::service::auth::CurrentUser;
use crate::service::users_session::{
    self as sessions, constant_time_eq, csrf_token, LoginOutcome, SESSION_TTL_MS,
};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "coallab_session";
/// Header that carries the CSRF token.
pub const CSRF_HEADER: &str = "X-CSRF-Token";

/// Whether cookies carry `Secure` (`COALLAB_COOKIE_SECURE=true|1`), read once.
pub fn cookie_secure() -> bool {
    static SECURE: OnceLock<bool> = OnceLock::new();
    *SECURE.get_or_init(|| {
        std::env::var("COALLAB_COOKIE_SECURE")
            .map(|v| matches!(v.trim(), "1" | "true" | "yes"))
            .unwrap_or(false)
    })
}

/// Username and password, as a form or JSON.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginForm {
    /// Login name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// The optional form body of a logout.
#[derive(Deserialize, Default)]
pub struct LogoutForm {
    /// The CSRF token, for plain HTML forms that cannot set a header.
    pub csrf_token: Option<String>,
}

/// The client's address for the sign-in throttle (also used by the web login form).
pub fn client_ip(req: &HttpRequest) -> String {
    // The peer address, not X-Forwarded-For: a client could forge that header to dodge the
    // per-address throttle. Behind a proxy, every client shares the proxy's counter.
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The session cookie with its attributes (also set by the web login form).
pub fn session_cookie(value: String, max_age_ms: i64) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(cookie_secure())
        .max_age(CookieDuration::milliseconds(max_age_ms))
        .finish()
}

/// `POST /login`: 200 with `{user, csrf_token, expires_at}` and the session cookie; 401
/// `unauthorized` for a wrong username or password (the same answer for both); 429
/// `too_many_attempts` with `Retry-After` while the username or address is locked out.
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Either<web::Json<Object<LoginForm>>, web::Form<LoginForm>>,
) -> Result<HttpResponse, AppError> {
    let form = match body {
        Either::Left(j) => j.into_inner().into_inner(),
        Either::Right(f) => f.into_inner(),
    };
    let ip = client_ip(&req);
    let db = state.db.clone();
    let outcome = blocking(move || {
        sessions::login(&db, &form.username, &form.password, &ip, chrono::Utc::now())
    })
    .await?;
    match outcome {
        LoginOutcome::Success(s) => Ok(HttpResponse::Ok()
            .cookie(session_cookie(s.id.clone(), SESSION_TTL_MS))
            .insert_header(("Cache-Control", "no-store"))
            .json(&s)),
        LoginOutcome::Refused => Err(AppError::Unauthorized("wrong username or password".into())),
        LoginOutcome::Throttled { retry_after_ms } => {
            let secs = (retry_after_ms + 999) / 1000;
            Ok(HttpResponse::TooManyRequests()
                .insert_header(("Retry-After", secs.to_string()))
                .json(serde_json::json!({
                    "error": "too_many_attempts",
                    "message": format!("too many failed sign-ins; try again in {secs} s"),
                })))
        }
    }
}

/// `POST /logout`: ends the cookie's session (needs its CSRF token in `X-CSRF-Token` or a
/// `csrf_token` form field) and clears the cookie; 204.
pub async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: Option<web::Form<LogoutForm>>,
) -> Result<HttpResponse, AppError> {
    let Some(id) = req.cookie(SESSION_COOKIE).map(|c| c.value().to_string()) else {
        return Err(AppError::Unauthorized("no session cookie".into()));
    };
    let sent = header_csrf(&req).or_else(|| form.and_then(|f| f.into_inner().csrf_token));
    check_csrf(&id, sent.as_deref())?;
    let db = state.db.clone();
    blocking(move || {
        db.transaction(|tx| sessions::logout(tx, &id, chrono::Utc::now().timestamp_millis()))
    })
    .await?;
    let mut gone = session_cookie(String::new(), 0);
    gone.make_removal();
    Ok(HttpResponse::NoContent().cookie(gone).finish())
}

fn header_csrf(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(CSRF_HEADER)
        .and_then(|h| h.to_str().ok())
        .map(|s| s.trim().to_string())
}

fn check_csrf(session_id: &str, sent: Option<&str>) -> Result<(), AppError> {
    match sent {
        Some(t) if constant_time_eq(t, &csrf_token(session_id)) => Ok(()),
        _ => Err(AppError::Forbidden(format!(
            "a request signed in by cookie must send the session's CSRF token in {CSRF_HEADER}"
        ))),
    }
}

/// The session id of a request's cookie, and whether the request's method changes state (and so
/// needs the CSRF token): everything but GET, HEAD and OPTIONS.
pub fn session_of(req: &HttpRequest) -> Option<(String, Option<String>, bool)> {
    let id = req.cookie(SESSION_COOKIE)?.value().to_string();
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    Some((id, header_csrf(req), unsafe_method))
}

/// Authenticates a cookie session, then checks the CSRF token for state-changing methods.
///
/// # Errors
/// 403 without a matching CSRF token on a state-changing request; 401 for an unknown, expired
/// or disabled session.
pub async fn cookie_user(
    state: &AppState,
    session_id: String,
    csrf: Option<String>,
    unsafe_method: bool,
) -> Result<CurrentUser, AppError> {
    let db = state.db.clone();
    let id = session_id.clone();
    let user = blocking(move || {
        db.read(|tx| sessions::session_user(tx, &id, chrono::Utc::now().timestamp_millis()))
    })
    .await?;
    if unsafe_method {
        check_csrf(&session_id, csrf.as_deref())?;
    }
    Ok(user)
}
