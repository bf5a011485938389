//! The bearer-token extractor and `GET /api/v1/me`.

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use actix_web::{web, FromRequest, HttpRequest, HttpResponse};

use crate::api::access::{require, Endpoint};
use crate::api::token_cache::TokenCache;
use crate::api::{blocking, AppState};
use crate::error::AppError;
use crate::service::auth::{authenticate, authenticate_digest, token_digest, CurrentUser};

/// The authenticated user of a request: `Authorization: Bearer <token>`, or else the browser
/// session cookie (state-changing requests then need `X-CSRF-Token`); 401 without either.
pub struct Auth(pub CurrentUser);

impl FromRequest for Auth {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let header = authorization(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        // Without an Authorization header, a browser session cookie (with CSRF check) will do.
        let cookie = header
            .is_none()
            .then(|| crate::api::session::session_of(req))
            .flatten();
        Box::pin(async move {
            let state = state.ok_or_else(|| AppError::Internal("no app state".into()))?;
            if let Some((id, csrf, unsafe_method)) = cookie {
                let user =
                    crate::api::session::cookie_user(&state, id, csrf, unsafe_method).await?;
                return Ok(Auth(user));
            }
            let token = bearer_token(header.as_deref())?;
            let db = state.db.clone();
            let user = blocking(move || {
                db.read(|tx| authenticate(tx, &token, chrono::Utc::now().timestamp_millis()))
            })
            .await?;
            Ok(Auth(user))
        })
    }
}

/// The `Authorization` header: `None` without one. Bytes that are not visible ASCII (no token
/// holds them) are read as UTF-8 with U+FFFD for what is not, so that such a header is judged
/// by itself ("unknown API token") rather than as no header (which would let a session cookie
/// decide).
///
/// Several `Authorization` headers are one header value that no token matches
/// ([`SEVERAL_HEADERS`]): which one counts would be a guess, so none does.
fn authorization(req: &HttpRequest) -> Option<String> {
    let mut all = req.headers().get_all("Authorization");
    let first = all.next()?;
    if all.next().is_some() {
        return Some(SEVERAL_HEADERS.to_string());
    }
    Some(String::from_utf8_lossy(first.as_bytes()).into_owned())
}

/// What [`authorization`] answers for a request with more than one `Authorization` header (a
/// NUL byte cannot arrive in a header, so no real header equals it).
const SEVERAL_HEADERS: &str = "\0several";

/// The token of an `Authorization: Bearer <token>` header value. The scheme name is
/// case-insensitive (RFC 9110 §11.1); spaces around the token are ignored.
fn bearer_token(header: Option<&str>) -> Result<String, AppError> {
    if header == Some(SEVERAL_HEADERS) {
        return Err(AppError::Unauthorized(
            "send one Authorization header, not several".into(),
        ));
    }
    Ok(header
        .and_then(|h| h.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("Bearer"))
        .map(|(_, token)| token.trim())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            AppError::Unauthorized(
                "send Authorization: Bearer <API token>, or sign in at POST /login".into(),
            )
        })?
        .to_string())
}

/// Like [`Auth`], but a bearer token is looked up by the handler, inside its own blocking
/// database call ([`LazyAuth::user`]), instead of in one of its own: one hand-over to the
/// blocking thread pool per request instead of two on the hot paths (status lookup,
/// determination entry; docs/performance.md). A session cookie is checked at once, as by
/// [`Auth`]. The errors are the same as [`Auth`]'s.
pub enum LazyAuth {
    /// A bearer token, not yet looked up.
    Token(String),
    /// A user already authenticated (session cookie).
    User(CurrentUser),
}

impl LazyAuth {
    /// The authenticated user.
    ///
    /// # Errors
    /// [`AppError::Unauthorized`] as [`authenticate`].
    pub fn user(self, tx: &mut crate::db::Tx<'_>) -> Result<CurrentUser, AppError> {
        match self {
            LazyAuth::Token(t) => authenticate(tx, &t, chrono::Utc::now().timestamp_millis()),
            LazyAuth::User(u) => Ok(u),
        }
    }

    /// The authenticated user, trusting a bearer token that this server checked within the
    /// cache's time ([`TokenCache`]; the status lookup only).
    ///
    /// # Errors
    /// [`AppError::Unauthorized`] as [`authenticate`] (a failed check is never remembered).
    pub fn user_cached(
        self,
        tx: &mut crate::db::Tx<'_>,
        cache: &TokenCache,
    ) -> Result<CurrentUser, AppError> {
        let token = match self {
            LazyAuth::Token(t) => t,
            LazyAuth::User(u) => return Ok(u),
        };
        let digest = token_digest(&token);
        let (now, now_ms) = (Instant::now(), chrono::Utc::now().timestamp_millis());
        if let Some(user) = cache.get(&digest, now, now_ms) {
            return Ok(user);
        }
        let (user, token_expires_at) = authenticate_digest(tx, &digest, now_ms)?;
        cache.put(digest, user.clone(), token_expires_at, now);
        Ok(user)
    }
}

impl FromRequest for LazyAuth {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let header = authorization(req);
        if header.is_none() {
            let auth = Auth::from_request(req, payload);
            return Box::pin(async move { Ok(LazyAuth::User(auth.await?.0)) });
        }
        let token = bearer_token(header.as_deref());
        Box::pin(async move { Ok(LazyAuth::Token(token?)) })
    }
}

/// `GET /api/v1/me`: who the token belongs to.
pub async fn me(Auth(user): Auth) -> Result<HttpResponse, AppError> {
    require(&user, Endpoint::Me)?;
    Ok(HttpResponse::Ok().json(user))
}
