//! Rendering pages: the template environment (templates embedded in the binary with
//! `include_str!`, HTML auto-escaped), the chrome every page shares (language, user, CSRF token,
//! navigation, the one-shot flash message), and error pages in HTML (never the API's JSON).

use std::sync::OnceLock;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use chrono::{DateTime, Utc};
use minijinja::value::Serde;
use minijinja::Environment;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::web::i18n::{self, Lang};

/// Every template, by name, compiled into the binary.
pub const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("macros.html", include_str!("templates/macros.html")),
    ("login.html", include_str!("templates/login.html")),
    ("home.html", include_str!("templates/home.html")),
    ("error.html", include_str!("templates/error.html")),
    ("worklist.html", include_str!("templates/worklist.html")),
    ("register.html", include_str!("templates/register.html")),
    ("lab_sample.html", include_str!("templates/lab_sample.html")),
    ("review.html", include_str!("templates/review.html")),
    ("dashboard.html", include_str!("templates/dashboard.html")),
    ("reg_sample.html", include_str!("templates/reg_sample.html")),
    ("supplier.html", include_str!("templates/supplier.html")),
    ("tat.html", include_str!("templates/tat.html")),
    ("trail.html", include_str!("templates/trail.html")),
    ("chain.html", include_str!("templates/chain.html")),
    ("limit_sets.html", include_str!("templates/limit_sets.html")),
    (
        "admin_suppliers.html",
        include_str!("templates/admin_suppliers.html"),
    ),
    (
        "admin_users.html",
        include_str!("templates/admin_users.html"),
    ),
    (
        "admin_calendars.html",
        include_str!("templates/admin_calendars.html"),
    ),
];

/// The stylesheet served at `/ui/static/app.css` (system fonts, no download).
pub const CSS: &str = include_str!("static/app.css");

/// Name of the one-shot message cookie (post-redirect-get: the POST sets it, the next page
/// shows it once and clears it).
pub const FLASH_COOKIE: &str = "coallab_flash";
/// Name of the language cookie (`zh-CN` or `en`).
pub const LANG_COOKIE: &str = "lang";

/// Times on pages are shown in the lab time zone of the demo county and of DESIGN.md's default.
const DISPLAY_TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

/// `2026-11-30T01:30:00Z` → `2026-11-30 09:30` (Beijing time); anything else as it is.
pub fn local_time(v: &str) -> String {
    DateTime::parse_from_rfc3339(v)
        .map(|d| {
            d.with_timezone(&DISPLAY_TZ)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|_| v.to_string())
}

fn localtime_filter(v: Option<String>) -> String {
    v.as_deref().map(local_time).unwrap_or_default()
}

/// One environment per language: its `t("key")` function translates into that language, so
/// macros imported from another template translate too (they do not see the page's context).
fn env(lang: Lang) -> &'static Environment<'static> {
    static ENVS: OnceLock<[Environment<'static>; 2]> = OnceLock::new();
    let envs = ENVS.get_or_init(|| {
        [Lang::Zh, Lang::En].map(|lang| {
            let mut env = Environment::new();
            for (name, source) in TEMPLATES {
                env.add_template(name, source)
                    .unwrap_or_else(|e| panic!("template {name}: {e}"));
            }
            env.add_function("t", move |key: &str| i18n::t(lang, key));
            env.add_filter("localtime", localtime_filter);
            env.add_filter("q", |v: &str| encode_query(v));
            env.set_formatter(visible_formatter);
            env
        })
    });
    match lang {
        Lang::Zh => &envs[0],
        Lang::En => &envs[1],
    }
}

/// Whether `c` is a control character (other than tab and line breaks) or a text-direction
/// control: shown as U+FFFD in pages, so that a value typed into a filter or read from the
/// database cannot hide in a page or reorder what is around it.
fn hidden_char(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The pages' output formatter: minijinja's HTML escaping, after replacing each
/// [`hidden_char`] of a string by U+FFFD.
fn visible_formatter(
    out: &mut minijinja::Output<'_>,
    state: &mut minijinja::State<'_, '_>,
    value: &minijinja::Value,
) -> Result<(), minijinja::Error> {
    match value.as_str() {
        Some(s) if s.chars().any(hidden_char) => {
            let shown: String = s
                .chars()
                .map(|c| if hidden_char(c) { '\u{FFFD}' } else { c })
                .collect();
            let shown = if value.is_safe() {
                minijinja::Value::from_safe_string(shown)
            } else {
                minijinja::Value::from(shown)
            };
            minijinja::escape_formatter(out, state, &shown)
        }
        _ => minijinja::escape_formatter(out, state, value),
    }
}

/// Largest flash cookie value (bytes): under the 4 096 bytes browsers keep for a cookie's name,
/// value and attributes.
pub const MAX_FLASH_VALUE: usize = 3_800;

/// A one-shot message shown at the top of the next page.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Flash {
    /// `ok`, `info` or `error`.
    pub level: String,
    /// Catalogue key of the headline.
    pub key: String,
    /// Details as the server wrote them (numbers, codes, the service's message).
    pub detail: String,
    /// The precision decision of an entered determination (analysis, run, determinations,
    /// the `PrecisionOutcome` as JSON), shown with translated labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<serde_json::Value>,
}

impl Flash {
    /// A success message.
    pub fn ok(key: &str, detail: impl Into<String>) -> Flash {
        Flash {
            level: "ok".into(),
            key: key.into(),
            detail: detail.into(),
            outcome: None,
        }
    }

    /// A message of the given level.
    pub fn new(level: &str, key: &str, detail: impl Into<String>) -> Flash {
        Flash {
            level: level.into(),
            key: key.into(),
            detail: detail.into(),
            outcome: None,
        }
    }

    /// The message of a refusal by the service: its code's label when the catalogue has one.
    pub fn from_error(e: &AppError) -> Flash {
        let key = format!("err.{}", e.code());
        let key = if i18n::lookup(Lang::Zh, &key).is_some() {
            key
        } else {
            "err.other".into()
        };
        // Database text never reaches a page (as in the API): its code only.
        let detail = match e {
            AppError::Internal(_) => "internal error".to_string(),
            AppError::Database(_) => e.code().to_string(),
            other => format!("{}: {other}", other.code()),
        };
        Flash::new("error", &key, detail)
    }

    /// The cookie carrying this message (hex of its JSON: cookie-safe). Browsers drop a cookie
    /// over 4 096 bytes, and with it the whole message; a longer detail is shortened until the
    /// value fits in [`MAX_FLASH_VALUE`] bytes, ending in " …" so that the cut shows.
    pub fn cookie(&self) -> Cookie<'static> {
        Cookie::build(FLASH_COOKIE, self.cookie_value())
            .path("/ui")
            .http_only(true)
            .same_site(SameSite::Strict)
            .finish()
    }

    fn cookie_value(&self) -> String {
        let full: Vec<char> = self.detail.chars().collect();
        let mut keep = full.len();
        loop {
            let mut f = self.clone();
            if keep < full.len() {
                f.detail = full[..keep].iter().collect::<String>() + " …";
            }
            let value = hex::encode(serde_json::to_string(&f).unwrap_or_default().as_bytes());
            if value.len() <= MAX_FLASH_VALUE || keep == 0 {
                return value;
            }
            keep = keep * 3 / 4;
        }
    }

    /// Reads a flash cookie value.
    pub fn parse(v: &str) -> Option<Flash> {
        let bytes = hex::decode(v).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// A cookie that removes the flash message.
pub fn flash_removal() -> Cookie<'static> {
    let mut c = Cookie::build(FLASH_COOKIE, "").path("/ui").finish();
    c.make_removal();
    c
}

/// What every page shows around its content.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Chrome {
    /// `zh-CN` or `en`.
    pub lang: String,
    /// Signed-in user name.
    pub username: Option<String>,
    /// Role code of the signed-in user.
    pub role: Option<String>,
    /// The session's CSRF token, for the hidden field of every form.
    pub csrf: Option<String>,
    /// The path of this page (the language switch comes back here).
    pub path: String,
    /// Navigation entries (href, catalogue key) the user's role may open.
    pub nav: Vec<(String, String)>,
    /// The one-shot message.
    pub flash: Option<Flash>,
}

/// Renders `name` with `ctx` (a JSON object) plus the chrome.
///
/// # Errors
/// [`AppError::Internal`] when the template fails (a bug: the tests render every page).
pub fn render_html(
    name: &str,
    chrome: &Chrome,
    ctx: serde_json::Value,
) -> Result<String, AppError> {
    let mut ctx = match ctx {
        serde_json::Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    ctx.insert("lang".into(), chrome.lang.clone().into());
    ctx.insert(
        "chrome".into(),
        serde_json::to_value(chrome).map_err(|e| AppError::Internal(e.to_string()))?,
    );
    let tmpl = env(Lang::parse(&chrome.lang))
        .get_template(name)
        .map_err(|e| AppError::Internal(format!("template {name}: {e}")))?;
    tmpl.render(Serde(&serde_json::Value::Object(ctx)))
        .map_err(|e| AppError::Internal(format!("template {name}: {e:#}")))
}

/// An HTML response with `status`; clears the flash cookie when the page showed one.
pub fn html(status: StatusCode, chrome: &Chrome, body: String) -> HttpResponse {
    let mut b = HttpResponse::build(status);
    b.content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self'; style-src 'self'; form-action 'self'; frame-ancestors 'none'",
        ));
    if chrome.flash.is_some() {
        b.cookie(flash_removal());
    }
    b.body(body)
}

/// A 303 redirect (post-redirect-get), optionally with a flash message.
pub fn see_other(to: &str, flash: Option<Flash>) -> HttpResponse {
    let mut b = HttpResponse::SeeOther();
    b.insert_header((header::LOCATION, to.to_string()));
    if let Some(f) = flash {
        b.cookie(f.cookie());
    }
    b.finish()
}

/// Why a page was not shown.
#[derive(Debug)]
pub enum WebError {
    /// Not signed in (or the session ended): go to the login page, then back to `next`.
    Login {
        /// Where to go after signing in.
        next: String,
    },
    /// The role may not see this page: 403.
    Forbidden(Box<Chrome>),
    /// The service refused or failed.
    App(AppError, Box<Chrome>),
}

impl std::fmt::Display for WebError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WebError::Login { .. } => f.write_str("sign in first"),
            WebError::Forbidden(_) => f.write_str("forbidden"),
            WebError::App(e, _) => write!(f, "{e}"),
        }
    }
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        match self {
            WebError::Login { .. } => StatusCode::SEE_OTHER,
            WebError::Forbidden(_) => StatusCode::FORBIDDEN,
            WebError::App(e, _) => e.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            WebError::Login { next } => {
                let to = format!("/ui/login?next={}", encode_query(next));
                see_other(&to, None)
            }
            WebError::Forbidden(chrome) => error_page(
                StatusCode::FORBIDDEN,
                chrome,
                "error.forbidden_title",
                "error.forbidden",
                "",
            ),
            WebError::App(e, chrome) => {
                if matches!(e, AppError::Database(_) | AppError::Internal(_)) {
                    tracing::error!(error = %e, "web page failed");
                }
                let f = Flash::from_error(e);
                error_page(e.status_code(), chrome, "error.title", &f.key, &f.detail)
            }
        }
    }
}

/// An HTML error page.
pub fn error_page(
    status: StatusCode,
    chrome: &Chrome,
    title_key: &str,
    message_key: &str,
    detail: &str,
) -> HttpResponse {
    let body = render_html(
        "error.html",
        chrome,
        serde_json::json!({"title_key": title_key, "message_key": message_key, "detail": detail}),
    )
    .unwrap_or_else(|e| format!("<!doctype html><title>error</title><p>{e}</p>"));
    html(status, chrome, body)
}

/// Percent-encodes a query value (RFC 3986 unreserved characters pass).
pub fn encode_query(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A same-site path inside the interface, or `/ui/` (no open redirects).
pub fn safe_back(v: Option<&str>) -> String {
    match v {
        // Visible ASCII only: a control character (CR, LF, tab, NUL, DEL), a space or raw
        // non-ASCII text cannot go into a Location header; such a value is ignored.
        Some(p)
            if p.starts_with("/ui")
                && !p.contains("//")
                && !p
                    .split(['/', '?', '#'])
                    .any(|seg| seg == ".." || seg == ".")
                && !p.contains('\\')
                && p.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            p.to_string()
        }
        _ => "/ui/".to_string(),
    }
}

/// Now, for pages (a function so handlers read alike).
pub fn now() -> DateTime<Utc> {
    Utc::now()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles_and_every_static_key_exists() {
        let _ = env(Lang::Zh);
        // Every t("key") or t('key') written in a template must be in the catalogue.
        for (name, source) in TEMPLATES {
            let bytes = source.as_bytes();
            let mut keys = 0;
            for (i, _) in source.match_indices("t(") {
                let before = i.checked_sub(1).map(|j| bytes[j]);
                if before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_') {
                    continue; // e.g. reject(, select(
                }
                let rest = &source[i + 2..];
                let Some(quote) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') else {
                    continue;
                };
                let key = rest[1..].split(quote).next().unwrap_or_default();
                keys += 1;
                // Keys built from a prefix plus a code ("state." ~ code) end in a dot.
                if key.ends_with('.') {
                    continue;
                }
                assert!(
                    i18n::lookup(Lang::Zh, key).is_some(),
                    "{name} uses t(\"{key}\"), which the catalogue lacks"
                );
            }
            assert!(keys > 0, "{name} has no label: the scan is broken");
        }
    }

    #[test]
    fn local_time_is_beijing_time() {
        // 01:30 UTC + 8 h = 09:30 in Asia/Shanghai (no daylight saving).
        assert_eq!(local_time("2026-11-30T01:30:00Z"), "2026-11-30 09:30");
        assert_eq!(local_time("not a time"), "not a time");
    }

    #[test]
    fn flash_round_trips_and_back_links_stay_inside() {
        let f = Flash::ok("lab.registered", "DEMO-2026-000313 <b>");
        let c = f.cookie();
        let back = Flash::parse(c.value()).expect("parses");
        assert_eq!(back.detail, "DEMO-2026-000313 <b>");
        assert_eq!(safe_back(Some("https://evil.example/")), "/ui/");
        assert_eq!(safe_back(Some("//evil.example/ui")), "/ui/");
        assert_eq!(safe_back(Some("/ui/lab")), "/ui/lab");
        assert_eq!(safe_back(Some("/ui/lab?x=%0d%0a")), "/ui/lab?x=%0d%0a");
        // Not normalised paths: a browser would resolve them elsewhere.
        assert_eq!(safe_back(Some("/ui/../..//evil.example")), "/ui/");
        assert_eq!(safe_back(Some("/ui/./lab")), "/ui/");
        // A raw CR/LF, tab, NUL, DEL, space or non-ASCII character cannot go into Location.
        for bad in [
            "/ui/\r\nSet-Cookie:x=1",
            "/ui/\tx",
            "/ui/\0",
            "/ui/\x7f",
            "/ui/a b",
            "/ui/样品",
        ] {
            assert_eq!(safe_back(Some(bad)), "/ui/", "{bad:?}");
        }
        assert_eq!(encode_query("/ui/lab?a=1&b"), "/ui/lab%3Fa%3D1%26b");
    }
}

#[cfg(test)]
mod flash_tests {
    use super::*;

    #[test]
    fn hidden_characters_show_as_replacement_characters() {
        let mut env = Environment::new();
        env.set_formatter(visible_formatter);
        env.add_template("t.html", "<input value=\"{{ v }}\">")
            .unwrap();
        let t = env.get_template("t.html").unwrap();
        let render = |v: &str| t.render(minijinja::context! { v => v }).unwrap();
        // NUL, ESC, DEL, a C1 control and a right-to-left override: each one U+FFFD; the
        // quote and '<' are escaped as before; tab and text around are kept.
        assert_eq!(
            render("a\u{0}b\u{1b}[31mc\u{7f}d\u{85}e\u{202E}f\t\"<"),
            "<input value=\"a\u{FFFD}b\u{FFFD}[31mc\u{FFFD}d\u{FFFD}e\u{FFFD}f\t&quot;&lt;\">"
        );
        // Ordinary text, Chinese included, is untouched.
        assert_eq!(render("东关镇 SP-02"), "<input value=\"东关镇 SP-02\">");
    }

    #[test]
    fn a_long_flash_is_shortened_to_fit_a_cookie() {
        // 2 000 Chinese characters: 6 000 bytes of UTF-8, 12 000 of hex, far over the limit.
        let f = Flash::new("error", "err.invalid_value", "超".repeat(2_000));
        let v = f.cookie_value();
        assert!(v.len() <= MAX_FLASH_VALUE, "{}", v.len());
        let back = Flash::parse(&v).expect("parses");
        assert!(back.detail.ends_with(" …"));
        assert!(back.detail.starts_with("超超超"));
        // A short one is kept whole.
        let f = Flash::new("error", "err.invalid_value", "short");
        assert_eq!(Flash::parse(&f.cookie_value()).unwrap().detail, "short");
    }
}
