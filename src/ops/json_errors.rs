//! Errors answered outside the handlers (a raw body over its size limit, an unsupported method)
//! come from actix-web as plain text; this middleware turns every error response that is not
//! already JSON into the API's `{"error": code, "message": text}` body, keeping the status and
//! headers such as `Retry-After`. Under `/ui` (the HTML interface) such an error (a 405, say)
//! becomes an HTML page in the page language instead ([`crate::web::status_page`]). It
//! also maps JSON body errors: too large → 413, nested deeper than serde_json's recursion limit
//! (128) → 400 with a message that says so.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::JsonPayloadError;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse};

use crate::error::AppError;

/// serde_json's fixed nesting limit for arrays and objects.
pub const JSON_DEPTH_LIMIT: usize = 128;

/// The JSON body of an error answered with `status`, when the original body was not JSON.
pub fn body_for(status: StatusCode) -> serde_json::Value {
    let (code, message) = match status.as_u16() {
        413 => (
            "payload_too_large",
            "the request body is larger than this endpoint accepts (JSON 256 KiB; CSV imports \
             see --max-body-mb)"
                .to_string(),
        ),
        405 => (
            "method_not_allowed",
            "this endpoint does not accept that method".into(),
        ),
        408 => (
            "request_timeout",
            "the request took too long to arrive".into(),
        ),
        415 => (
            "unsupported_media_type",
            "send Content-Type: application/json".into(),
        ),
        s if s >= 500 => ("internal", "internal error".into()),
        _ => (
            "bad_request",
            status
                .canonical_reason()
                .unwrap_or("bad request")
                .to_lowercase(),
        ),
    };
    serde_json::json!({"error": code, "message": message})
}

/// Maps an error of the JSON extractor to the API error (used by the `JsonConfig` in
/// `api::configure`).
pub fn json_error(err: JsonPayloadError) -> actix_web::Error {
    match &err {
        JsonPayloadError::OverflowKnownLength { length, limit } => {
            let body = serde_json::json!({"error": "payload_too_large",
                "message": format!("request body of {length} bytes is over the limit of {limit} bytes")});
            actix_web::error::InternalError::from_response(
                err,
                HttpResponse::PayloadTooLarge().json(body),
            )
            .into()
        }
        JsonPayloadError::Overflow { limit } => {
            let body = serde_json::json!({"error": "payload_too_large",
                "message": format!("request body is over the limit of {limit} bytes")});
            actix_web::error::InternalError::from_response(
                err,
                HttpResponse::PayloadTooLarge().json(body),
            )
            .into()
        }
        JsonPayloadError::Deserialize(e) if e.to_string().contains("recursion limit") => {
            AppError::bad_request(
                "json_too_deep",
                format!(
                    "request body: JSON nested deeper than {JSON_DEPTH_LIMIT} levels is refused"
                ),
            )
            .into()
        }
        JsonPayloadError::ContentType => AppError::bad_request(
            "malformed_json",
            "request body: send Content-Type: application/json",
        )
        .into(),
        JsonPayloadError::Deserialize(e) => {
            AppError::bad_request("malformed_json", format!("request body: {e}")).into()
        }
        // Transport-level failures (bad Content-Encoding, a body cut short): a plain message,
        // never the library's internal error text.
        _ => AppError::bad_request(
            "malformed_json",
            "request body could not be read: check Content-Type, Content-Encoding and Content-Length",
        )
        .into(),
    }
}

/// The middleware (use with `actix_web::middleware::from_fn`).
///
/// # Errors
/// Whatever the inner service returns.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    // The web interface (src/web) answers its own errors as HTML pages; what comes from
    // outside its handlers (a 405 with an empty body) gets one here.
    let web_page = crate::web::is_web_path(req.path());
    let res = next.call(req).await?;
    let status = res.status();
    let content_type = res
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let answered = if web_page {
        content_type.starts_with("text/html")
    } else {
        content_type.starts_with("application/json")
    };
    if !(status.is_client_error() || status.is_server_error()) || answered {
        return Ok(res.map_into_left_body());
    }
    let (req, old) = res.into_parts();
    let mut new = if web_page {
        crate::web::status_page(&req, status, "")
    } else {
        HttpResponse::build(status).json(body_for(status))
    };
    for (name, value) in old.headers() {
        if name != CONTENT_TYPE
            && name != actix_web::http::header::CONTENT_LENGTH
            && !new.headers().contains_key(name)
        {
            new.headers_mut().append(name.clone(), value.clone());
        }
    }
    Ok(ServiceResponse::new(req, new).map_into_right_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_errors_get_a_code() {
        assert_eq!(
            body_for(StatusCode::PAYLOAD_TOO_LARGE)["error"],
            "payload_too_large"
        );
        assert_eq!(body_for(StatusCode::BAD_GATEWAY)["error"], "internal");
        assert_eq!(
            body_for(StatusCode::NOT_ACCEPTABLE)["message"],
            "not acceptable"
        );
    }
}
