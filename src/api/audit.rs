//! `GET /api/v1/audit` (filtered, paginated events) and `GET /api/v1/audit/verify`.

use crate::api::access::{require, Endpoint};
use crate::api::auth::Auth;
use crate::api::query::Query;
use crate::api::{blocking, AppState};
use crate::error::AppError;
use crate::service::audit::verify as verify_chain;
use crate::service::audit_view::list_events_for;
use actix_web::{web, HttpResponse};

pub use crate::service::audit::AuditFilter;

/// `GET /api/v1/audit`: events, oldest first (for auditors, unreleased results withheld:
/// src/service/audit_view.rs).
pub async fn list(
    state: web::Data<AppState>,
    Auth(user): Auth,
    f: Query<AuditFilter>,
) -> Result<HttpResponse, AppError> {
    require(&user, Endpoint::ReadAudit)?;
    let db = state.db.clone();
    let f = f.into_inner();
    let out = blocking(move || db.read(|tx| list_events_for(tx, &user, &f))).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// `GET /api/v1/audit/verify`: recomputes the hash chain; reports the first broken link.
pub async fn verify(
    state: web::Data<AppState>,
    Auth(user): Auth,
) -> Result<HttpResponse, AppError> {
    require(&user, Endpoint::ReadAudit)?;
    let db = state.db.clone();
    let report = blocking(move || verify_chain(&db)).await?;
    Ok(HttpResponse::Ok().json(report))
}
