//! The reviewer's queue: samples of the lab whose initial test or retest waits for review, with
//! release and return (with a reason) right on the line; the bench page has the same actions.

use actix_web::{web, HttpResponse};

use crate::api::access::Endpoint;
use crate::api::AppState;
use crate::domain::lifecycle::SampleState;
use crate::web::auth::Ui;
use crate::web::page::WebError;
use crate::web::technician::samples_in_states;

const IN_REVIEW: &[SampleState] = &[SampleState::InitialReview, SampleState::RetestReview];

/// `GET /ui/review`: the review queue.
///
/// # Errors
/// Login, 403 or the service's error as a page.
pub async fn queue(state: web::Data<AppState>, ui: Ui) -> Result<HttpResponse, WebError> {
    ui.require(Endpoint::UiReview)?;
    let items = samples_in_states(&state, &ui, IN_REVIEW)
        .await
        .map_err(|e| ui.fail(e))?;
    ui.page("review.html", serde_json::json!({ "items": items }))
}
