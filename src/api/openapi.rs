//! `GET /api/v1/openapi.json`: the OpenAPI 3 description of the API (kept in openapi.json
//! beside this file; a test checks that every route is described).

use actix_web::HttpResponse;

/// The OpenAPI document, as shipped.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

/// `GET /api/v1/openapi.json`.
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(OPENAPI_JSON)
}
