//! A request id for every request: taken from a sane incoming `X-Request-Id` (a reverse proxy's)
//! or made up here, sent back in the `X-Request-Id` response header, and carried by a tracing
//! span so that every log line written while the request runs names it (JSON logs put it under
//! `span.request_id`). The access line logs method, path (never the query string), status and
//! duration, and never a header: the `Authorization` token is not logged anywhere.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::Error;
use tracing::Instrument;

/// The response (and accepted request) header carrying the id.
pub const HEADER: &str = "x-request-id";

/// Whether an incoming id may be reused: 1 to 64 characters of `[A-Za-z0-9._-]`, so a client
/// cannot inject text into log lines.
pub fn acceptable(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A new random id: 16 lowercase hex digits (64 random bits).
pub fn new_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// The middleware (use with `actix_web::middleware::from_fn`).
///
/// # Errors
/// Whatever the inner service returns.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map(str::to_string)
        .unwrap_or_else(new_id);
    let span = tracing::info_span!("request", request_id = %id);
    let method = req.method().to_string();
    // At most 200 bytes of the path: a client cannot fill the log with one request.
    let path = match req.path().char_indices().nth(200) {
        Some((end, _)) => format!("{}…", &req.path()[..end]),
        None => req.path().to_string(),
    };
    let peer = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let started = Instant::now();
    async move {
        let result = next.call(req).await;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        match result {
            Ok(mut res) => {
                tracing::info!(target: "coallab::http", %method, %path, %peer,
                    status = res.status().as_u16(), ms = format!("{ms:.1}"), "request");
                if let Ok(v) = HeaderValue::from_str(&id) {
                    res.headers_mut().insert(HeaderName::from_static(HEADER), v);
                }
                Ok(res)
            }
            Err(e) => {
                tracing::warn!(target: "coallab::http", %method, %path, %peer,
                    ms = format!("{ms:.1}"), error = %e, "request failed");
                Err(e)
            }
        }
    }
    .instrument(span)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_from_clients_are_checked() {
        assert!(acceptable("abc-123_x.y"));
        assert!(!acceptable(""));
        assert!(!acceptable("a b"));
        assert!(!acceptable("line\nbreak"));
        assert!(!acceptable(&"x".repeat(65)));
        let id = new_id();
        assert_eq!(id.len(), 16);
        assert!(acceptable(&id));
    }
}
