//! The administrator's pages: the limit sets (with their sources and periods), read from
//! `reference::load_limit_sets` as `GET /api/v1/limit-sets` does. Changing reference data,
//! users and calendars stays with the API and the command line for now (docs/web.md).

use actix_web::{web, HttpResponse};

use crate::api::access::Endpoint;
use crate::api::{blocking, AppState};
use crate::service::reference::load_limit_sets;
use crate::web::auth::Ui;
use crate::web::page::WebError;

/// `GET /ui/admin/limit-sets`: every limit set with its limits.
///
/// # Errors
/// Login, 403, database errors as a page.
pub async fn limit_sets(state: web::Data<AppState>, ui: Ui) -> Result<HttpResponse, WebError> {
    ui.require(Endpoint::UiAdmin)?;
    let db = state.db.clone();
    let sets = blocking(move || db.read(load_limit_sets))
        .await
        .map_err(|e| ui.fail(e))?;
    ui.page("limit_sets.html", serde_json::json!({ "sets": sets }))
}
