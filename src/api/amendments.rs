//! Amendment endpoints: propose a new revision of a released stage, release it (a second
//! reviewer), and read every revision of a sample.

use crate::api::json_object::Object;
use actix_web::{web, HttpResponse};

use crate::api::access::{require, Endpoint};
use crate::api::auth::Auth;
use crate::api::sample_tx::in_sample_tx;
use crate::api::{blocking, AppState};
use crate::error::AppError;
use crate::service::amend::{self, AmendRequest};
use crate::service::amend_release::{self, ReleaseAmendment};
use crate::service::samples as svc;

/// `POST /api/v1/samples/{key}/amendments` with `{version, stage, reason, determinations:
/// [{analysis, values: ["…", "…"]}]}`: 201 with the pending revision (its verdict computed by
/// the server).
pub async fn propose(
    state: web::Data<AppState>,
    Auth(user): Auth,
    key: web::Path<String>,
    body: web::Json<Object<AmendRequest>>,
) -> Result<HttpResponse, AppError> {
    require(&user, Endpoint::Amend)?;
    let rev = in_sample_tx(&state.db, key.into_inner(), move |tx, id, now| {
        amend::propose(tx, &user, id, &body, now)
    })
    .await?;
    Ok(HttpResponse::Created().json(rev))
}

/// `POST /api/v1/samples/{key}/amendments/release` with `{version, stage, revision}`: releases
/// a pending revision (not by its proposer) and re-issues the report; 200 with the revision.
pub async fn release(
    state: web::Data<AppState>,
    Auth(user): Auth,
    key: web::Path<String>,
    body: web::Json<Object<ReleaseAmendment>>,
) -> Result<HttpResponse, AppError> {
    require(&user, Endpoint::Amend)?;
    let rev = in_sample_tx(&state.db, key.into_inner(), move |tx, id, now| {
        amend_release::release(tx, &user, id, &body, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(rev))
}

/// `GET /api/v1/samples/{key}/revisions`: every revision of the sample's stages (regulators
/// and auditors: released ones only).
pub async fn list(
    state: web::Data<AppState>,
    Auth(user): Auth,
    key: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    require(&user, Endpoint::ReadSamples)?;
    let db = state.db.clone();
    let out = blocking(move || {
        db.read(|tx| {
            let id = svc::resolve(tx, &key)?;
            amend_release::list(tx, &user, id)
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(out))
}
