//! Requests whose path or query string holds a NUL byte (`%00`) are refused with 400 before
//! routing. No code, name or key may hold one, and PostgreSQL cannot even compare a text with
//! it (`invalid byte sequence for encoding "UTF8": 0x00`), which made such lookups a 500 there
//! while SQLite answered 404.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::ResponseError;

use crate::error::AppError;

/// Whether a raw (still percent-encoded) path and query would decode to a NUL byte. A raw NUL
/// never reaches here (the HTTP parser refuses it), so `%00` is the only way to write one.
pub fn holds_nul(raw_path_and_query: &str) -> bool {
    raw_path_and_query.contains("%00") || raw_path_and_query.contains('\0')
}

/// The middleware (use with `actix_web::middleware::from_fn`).
///
/// # Errors
/// Whatever the inner service returns; the refusal itself is a response, 400 `bad_request`.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let raw = req
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("");
    if holds_nul(raw) {
        let e = AppError::bad_request(
            "bad_request",
            "the path or query string holds a NUL byte (%00)",
        );
        return Ok(req.into_response(e.error_response()).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use super::holds_nul;

    #[test]
    fn only_an_encoded_nul_is_refused() {
        assert!(holds_nul("/api/v1/samples/DEMO%00"));
        assert!(holds_nul("/api/v1/samples?town=%00x"));
        // "%2500" decodes to the three characters "%00", not to a NUL byte.
        assert!(!holds_nul("/api/v1/samples?town=%2500"));
        assert!(!holds_nul("/api/v1/samples/DEMO-2026-000100"));
    }
}
