//! Retained samples over time (issue 9): the list of those whose discard date has come and
//! recording a discard. Rules in [`crate::service::retention`].

use crate::api::json_object::Object;
use crate::api::query::Query;
use actix_web::{web, HttpResponse};

use crate::api::access::{require, Endpoint};
use crate::api::auth::Auth;
use crate::api::sample_tx::in_sample_tx_then_view;
use crate::api::{blocking, AppState};
use crate::error::AppError;
use crate::service::retention::{self, DiscardRequest, DueQuery};

/// `GET /api/v1/retained-samples/due?on=YYYY-MM-DD&page=&per_page=`: retained samples whose
/// discard date is on or before `on` and that are not discarded, each saying whether a discard
/// would be accepted now and, if not, why.
pub async fn due(
    state: web::Data<AppState>,
    Auth(user): Auth,
    query: Query<DueQuery>,
) -> Result<HttpResponse, AppError> {
    require(&user, Endpoint::ReadRetained)?;
    let db = state.db.clone();
    let page =
        blocking(move || db.read(|tx| retention::due(tx, &user, &query, chrono::Utc::now())))
            .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// `POST /api/v1/samples/{key}/discard-retained` with `{"version", "reason"}`: records the
/// discard; 409 while the appeal window or a retest is open, or before the discard date.
pub async fn discard(
    state: web::Data<AppState>,
    Auth(user): Auth,
    key: web::Path<String>,
    body: web::Json<Object<DiscardRequest>>,
) -> Result<HttpResponse, AppError> {
    require(&user, Endpoint::DiscardRetained)?;
    let view = in_sample_tx_then_view(
        &state.db,
        user,
        key.into_inner(),
        move |tx, user, id, now| retention::discard(tx, user, id, &body, now),
    )
    .await?;
    Ok(HttpResponse::Ok().json(view))
}
