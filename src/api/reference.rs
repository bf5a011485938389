//! Reference-data endpoints: suppliers, jurisdictions, limit sets, calendars, CSV import.

use crate::api::json_object::Object;
use crate::api::query::Query;
use crate::service::limit_set_input::limit_set_from_json;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::api::access::{require, Endpoint};
use crate::api::auth::Auth;
use crate::api::{blocking, AppState};
use crate::error::AppError;
use crate::service::import::{self, ImportKind, ImportOptions};
use crate::service::reference::{self, Jurisdiction, Supplier};
use crate::service::reference_lists as lists;

/// Supplier list filters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupplierFilter {
    /// Town.
    pub town: Option<String>,
    /// production_enterprise or sale_point.
    pub kind: Option<String>,
}

/// `GET /api/v1/suppliers`.
pub async fn list_suppliers(
    state: web::Data<AppState>,
    Auth(user): Auth,
    f: Query<SupplierFilter>,
) -> Result<HttpResponse, AppError> {
    require(&user, Endpoint::ReadSuppliers)?;
    let db = state.db.clone();
    let list: Vec<Supplier> = blocking(move || {
        db.read(|tx| lists::list_suppliers(tx, f.town.as_deref(), f.kind.as_deref()))
    })
    .await?;
    Ok(HttpResponse::Ok().json(list))
}

pub use crate::service::reference_lists::NewSupplier;

/// `POST /api/v1/suppliers` (admin).
pub async fn create_supplier(
    state: web::Data<AppState>,
    Auth(user): Auth,
    body: web::Json<Object<NewSupplier>>,
) -> Result<HttpResponse, AppError> {
    require(&user, Endpoint::WriteReference)?;
    let db = state.db.clone();
    let s = blocking(move || {
        db.transaction(|tx| {
            lists::create_supplier(tx, &user, &body, chrono::Utc::now().timestamp_millis())
        })
    })
    .await?;
    Ok(HttpResponse::Created().json(s))
}

/// `GET /api/v1/suppliers/{code}`.
pub async fn get_supplier(
    state: web::Data<AppState>,
    Auth(user): Auth,
    code: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    require(&user, Endpoint::ReadSuppliers)?;
    let db = state.db.clone();
    let s = blocking(move || {
        db.read(|tx| {
            reference::supplier_by_code(tx, &code)
                .map_err(|_| AppError::NotFound(format!("supplier '{code}' not found")))
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(s))
}

/// `GET /api/v1/jurisdictions`.
pub async fn list_jurisdictions(
    state: web::Data<AppState>,
    Auth(user): Auth,
) -> Result<HttpResponse, AppError> {
    require(&user, Endpoint::ReadReference)?;
    let db = state.db.clone();
    let list: Vec<Jurisdiction> = blocking(move || db.read(lists::list_jurisdictions)).await?;
    Ok(HttpResponse::Ok().json(list))
}

/// `GET /api/v1/limit-sets`: every limit set with its source. Regulators and auditors see them
/// too: they are public rules, not a sample's limit hints.
pub async fn list_limit_sets(
    state: web::Data<AppState>,
    Auth(user): Auth,
) -> Result<HttpResponse, AppError> {
    require(&user, Endpoint::ReadReference)?;
    let db = state.db.clone();
    let sets = blocking(move || db.read(reference::load_limit_sets)).await?;
    Ok(HttpResponse::Ok().json(sets))
}

/// `POST /api/v1/limit-sets` (admin): creates or replaces one limit set (JSON of the model,
/// each limit's `value` a plain decimal string: [`limit_set_from_json`]).
pub async fn put_limit_set(
    state: web::Data<AppState>,
    Auth(user): Auth,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, AppError> {
    require(&user, Endpoint::WriteReference)?;
    let db = state.db.clone();
    let set = limit_set_from_json(body.into_inner())?;
    let changed = blocking(move || {
        db.transaction(|tx| {
            let now = chrono::Utc::now().timestamp_millis();
            reference::put_limit_set(tx, &user.username, &set, now)
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"changed": changed})))
}

/// `GET /api/v1/calendars/{code}`: the listed days of a working calendar.
pub async fn get_calendar(
    state: web::Data<AppState>,
    Auth(user): Auth,
    code: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    require(&user, Endpoint::ReadReference)?;
    let db = state.db.clone();
    let days = blocking(move || db.read(|tx| lists::calendar_days(tx, &code))).await?;
    Ok(HttpResponse::Ok().json(days))
}

/// Query of an import.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// Calendar code for calendar files (default `cn`); refused with 400 `bad_query` on the
    /// other kinds.
    pub calendar: Option<String>,
}

/// `POST /api/v1/import/{kind}` with the CSV file as the body (UTF-8 or GBK). Admins import
/// reference data; technicians and reviewers import samples.
pub async fn import_csv(
    state: web::Data<AppState>,
    Auth(user): Auth,
    kind: web::Path<String>,
    q: Query<ImportQuery>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let kind: ImportKind = kind.parse()?;
    if kind == ImportKind::Samples {
        require(&user, Endpoint::RegisterSample)?;
    } else {
        require(&user, Endpoint::WriteReference)?;
    }
    if kind != ImportKind::Calendar && q.calendar.is_some() {
        // A parameter the import would ignore is refused, so a mistaken call is seen at once.
        return Err(AppError::bad_request(
            "bad_query",
            "query parameter 'calendar' applies only to /import/calendar",
        ));
    }
    let opts = ImportOptions {
        calendar_code: q.calendar.clone().unwrap_or_else(|| "cn".into()),
    };
    let db = state.db.clone();
    let report =
        blocking(move || import::import(&db, &user, kind, &body, &opts, chrono::Utc::now()))
            .await?;
    Ok(HttpResponse::Ok().json(report))
}
