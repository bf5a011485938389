//! Who is looking at a page: the browser session (the cookie of `src/api/session.rs`), the
//! language cookie, the one-shot flash message; and the sign-in, sign-out and language pages.
//!
//! HTML forms cannot send the `X-CSRF-Token` header, so every form of the interface carries the
//! session's CSRF token as the hidden field `csrf_token`, checked by [`Ui::check_csrf`] before
//! any change.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::api::access::{roles_for, Endpoint};
use crate::api::session::{client_ip, session_cookie, SESSION_COOKIE};
use crate::api::{blocking, AppState};
use crate::error::AppError;
use crate::service::auth::CurrentUser;
use crate::service::users_session::{
    self as sessions, constant_time_eq, csrf_token, LoginOutcome, SESSION_TTL_MS,
};
use crate::web::i18n::Lang;
use crate::web::page::{
    error_page, html, render_html, safe_back, see_other, Chrome, Flash, WebError, FLASH_COOKIE,
    LANG_COOKIE,
};
use crate::web::query::UiQuery;

/// The navigation: (href, catalogue key, the table entry whose roles see it).
const NAV: &[(&str, &str, Endpoint)] = &[
    ("/ui/lab", "lab.worklist", Endpoint::UiLab),
    ("/ui/lab/register", "lab.register", Endpoint::UiLab),
    ("/ui/review", "review.queue", Endpoint::UiReview),
    ("/ui/regulator", "reg.dashboard", Endpoint::UiOversight),
    ("/ui/audit/tat", "audit.tat", Endpoint::UiAudit),
    ("/ui/audit/trail", "audit.trail", Endpoint::UiAudit),
    ("/ui/audit/chain", "audit.chain", Endpoint::UiAudit),
    (
        "/ui/admin/limit-sets",
        "admin.limit_sets",
        Endpoint::UiAdmin,
    ),
    ("/ui/admin/users", "admin.users", Endpoint::UiAdmin),
    ("/ui/admin/suppliers", "admin.suppliers", Endpoint::UiAdmin),
    ("/ui/admin/calendars", "admin.calendars", Endpoint::UiAdmin),
];

/// The language of a request: the `lang` cookie, else Chinese.
pub fn lang_of(req: &HttpRequest) -> Lang {
    req.cookie(LANG_COOKIE)
        .map(|c| Lang::parse(c.value()))
        .unwrap_or(Lang::Zh)
}

/// The chrome of a page seen by nobody in particular (sign-in page, errors before sign-in).
pub fn anonymous_chrome(req: &HttpRequest) -> Chrome {
    Chrome {
        lang: lang_of(req).code().to_string(),
        path: path_of(req),
        flash: req
            .cookie(FLASH_COOKIE)
            .and_then(|c| Flash::parse(c.value())),
        ..Default::default()
    }
}

fn path_of(req: &HttpRequest) -> String {
    req.uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/ui/".into())
}

/// A signed-in user on a page, with the page's chrome.
pub struct Ui {
    /// The user.
    pub user: CurrentUser,
    /// The page language.
    pub lang: Lang,
    /// What the page shows around its content.
    pub chrome: Chrome,
    session_id: String,
}

impl Ui {
    /// Refuses a role the table does not allow on `endpoint` with the 403 page.
    ///
    /// # Errors
    /// [`WebError::Forbidden`].
    pub fn require(&self, endpoint: Endpoint) -> Result<(), WebError> {
        if roles_for(endpoint).contains(&self.user.role) {
            Ok(())
        } else {
            Err(WebError::Forbidden(Box::new(self.chrome.clone())))
        }
    }

    /// Checks the `csrf_token` field of a form against the session.
    ///
    /// # Errors
    /// [`WebError::App`] 403 when it does not match.
    pub fn check_csrf(&self, sent: &str) -> Result<(), WebError> {
        if constant_time_eq(sent.trim(), &csrf_token(&self.session_id)) {
            Ok(())
        } else {
            Err(self.fail(AppError::Forbidden(
                "the form's CSRF token does not match the session: reload the page".into(),
            )))
        }
    }

    /// The error page for a failure of the service.
    pub fn fail(&self, e: AppError) -> WebError {
        WebError::App(e, Box::new(self.chrome.clone()))
    }

    /// Renders a page with status 200.
    ///
    /// # Errors
    /// [`WebError::App`] when the template fails.
    pub fn page(&self, name: &str, ctx: serde_json::Value) -> Result<HttpResponse, WebError> {
        self.page_with(StatusCode::OK, name, ctx)
    }

    /// Renders a page with `status`.
    ///
    /// # Errors
    /// [`WebError::App`] when the template fails.
    pub fn page_with(
        &self,
        status: StatusCode,
        name: &str,
        ctx: serde_json::Value,
    ) -> Result<HttpResponse, WebError> {
        let body = render_html(name, &self.chrome, ctx).map_err(|e| self.fail(e))?;
        Ok(html(status, &self.chrome, body))
    }
}

impl FromRequest for Ui {
    type Error = WebError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let mut chrome = anonymous_chrome(req);
        let session = req.cookie(SESSION_COOKIE).map(|c| c.value().to_string());
        let lang = lang_of(req);
        Box::pin(async move {
            let next = chrome.path.clone();
            let Some(session_id) = session else {
                return Err(WebError::Login { next });
            };
            let state = state.ok_or_else(|| {
                WebError::App(
                    AppError::Internal("no app state".into()),
                    Box::new(chrome.clone()),
                )
            })?;
            let db = state.db.clone();
            let id = session_id.clone();
            let user = blocking(move || {
                db.read(|tx| sessions::session_user(tx, &id, chrono::Utc::now().timestamp_millis()))
            })
            .await;
            let user = match user {
                Ok(u) => u,
                Err(AppError::Unauthorized(_)) => return Err(WebError::Login { next }),
                Err(e) => return Err(WebError::App(e, Box::new(chrome))),
            };
            chrome.username = Some(user.username.clone());
            chrome.role = Some(user.role.as_code().to_string());
            chrome.csrf = Some(csrf_token(&session_id));
            chrome.nav = NAV
                .iter()
                .filter(|(_, _, ep)| roles_for(*ep).contains(&user.role))
                .map(|(href, key, _)| (href.to_string(), key.to_string()))
                .collect();
            Ok(Ui {
                user,
                lang,
                chrome,
                session_id,
            })
        })
    }
}

/// Query of the sign-in page.
#[derive(Deserialize)]
pub struct NextQuery {
    /// Where to go after signing in.
    pub next: Option<String>,
}

/// `GET /ui/login`: the sign-in form.
pub async fn login_page(req: HttpRequest, q: UiQuery<NextQuery>) -> HttpResponse {
    let chrome = anonymous_chrome(&req);
    login_form(&chrome, StatusCode::OK, q.next.as_deref(), "", None)
}

fn login_form(
    chrome: &Chrome,
    status: StatusCode,
    next: Option<&str>,
    username: &str,
    error_key: Option<&str>,
) -> HttpResponse {
    match render_html(
        "login.html",
        chrome,
        serde_json::json!({"next": safe_back(next), "username": username, "error_key": error_key}),
    ) {
        Ok(body) => html(status, chrome, body),
        Err(e) => error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            chrome,
            "error.title",
            "err.other",
            &e.to_string(),
        ),
    }
}

/// The sign-in form's fields.
#[derive(Deserialize)]
pub struct LoginFields {
    /// Login name.
    pub username: String,
    /// Password.
    pub password: String,
    /// Where to go afterwards (a `/ui` path).
    pub next: Option<String>,
}

/// `POST /ui/login`: signs in with the session machinery of `POST /login`, sets the session
/// cookie and goes on to `next`; a refusal shows the form again (401, or 429 while throttled).
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<LoginFields>,
) -> HttpResponse {
    let chrome = anonymous_chrome(&req);
    let form = form.into_inner();
    let ip = client_ip(&req);
    let db = state.db.clone();
    let (username, password) = (form.username.clone(), form.password);
    let outcome =
        blocking(move || sessions::login(&db, &username, &password, &ip, chrono::Utc::now())).await;
    match outcome {
        Ok(LoginOutcome::Success(s)) => {
            let mut r = see_other(&safe_back(form.next.as_deref()), None);
            let _ = r.add_cookie(&session_cookie(s.id.clone(), SESSION_TTL_MS));
            r
        }
        Ok(LoginOutcome::Refused) => login_form(
            &chrome,
            StatusCode::UNAUTHORIZED,
            form.next.as_deref(),
            &form.username,
            Some("login.refused"),
        ),
        Ok(LoginOutcome::Throttled { .. }) => login_form(
            &chrome,
            StatusCode::TOO_MANY_REQUESTS,
            form.next.as_deref(),
            &form.username,
            Some("login.throttled"),
        ),
        Err(e) => WebError::App(e, Box::new(chrome)).into_response(),
    }
}

trait IntoResponse {
    fn into_response(self) -> HttpResponse;
}

impl IntoResponse for WebError {
    fn into_response(self) -> HttpResponse {
        actix_web::ResponseError::error_response(&self)
    }
}

/// A form that only carries the CSRF token.
#[derive(Deserialize)]
pub struct CsrfOnly {
    /// The session's CSRF token.
    #[serde(default)]
    pub csrf_token: String,
}

/// `POST /ui/logout`: ends the session (CSRF-checked) and goes to the sign-in page.
pub async fn logout(
    state: web::Data<AppState>,
    ui: Ui,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, WebError> {
    ui.check_csrf(&form.csrf_token)?;
    let db = state.db.clone();
    let id = ui.session_id.clone();
    blocking(move || {
        db.transaction(|tx| sessions::logout(tx, &id, chrono::Utc::now().timestamp_millis()))
    })
    .await
    .map_err(|e| ui.fail(e))?;
    let mut gone = session_cookie(String::new(), 0);
    gone.make_removal();
    let mut r = see_other("/ui/login", Some(Flash::ok("login.signed_out", "")));
    let _ = r.add_cookie(&gone);
    Ok(r)
}

/// Query of the language switch.
#[derive(Deserialize)]
pub struct LangQuery {
    /// `en` or `zh-CN`.
    pub to: String,
    /// The page to go back to (a `/ui` path).
    pub back: Option<String>,
}

/// `GET /ui/lang?to=en&back=/ui/…`: sets the `lang` cookie (one year) and goes back.
pub async fn switch_lang(q: UiQuery<LangQuery>) -> HttpResponse {
    let lang = Lang::parse(&q.to);
    let cookie = Cookie::build(LANG_COOKIE, lang.code())
        .path("/")
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::days(365))
        .finish();
    let mut r = see_other(&safe_back(q.back.as_deref()), None);
    let _ = r.add_cookie(&cookie);
    r
}

/// `GET /ui/`: the start page with the pages the role may open.
///
/// # Errors
/// The login redirect when nobody is signed in.
pub async fn home(ui: Ui) -> Result<HttpResponse, WebError> {
    ui.require(Endpoint::UiHome)?;
    ui.page("home.html", serde_json::json!({}))
}
