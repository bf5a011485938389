//! The administrator's pages: suppliers (and adding one), users, the limit sets (with their
//! sources and periods) and the labs' working calendars, through the service functions the API
//! uses (`reference_lists`, `reference::load_limit_sets`). Changing users, limit sets and
//! calendars stays with the API and the command line (docs/web.md).

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::api::access::Endpoint;
use crate::api::{blocking, AppState};
use crate::service::reference::load_limit_sets;
use crate::service::reference_lists::{self as lists, NewSupplier};
use crate::web::auth::Ui;
use crate::web::page::{see_other, Flash, WebError};

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

/// `GET /ui/admin/suppliers`: every supplier, and the form to add one.
///
/// # Errors
/// Login, 403, database errors as a page.
pub async fn suppliers(state: web::Data<AppState>, ui: Ui) -> Result<HttpResponse, WebError> {
    ui.require(Endpoint::UiAdmin)?;
    suppliers_page(&state, &ui, NewSupplier::default(), None).await
}

/// The status and message of a refused form.
type Refusal = (actix_web::http::StatusCode, Flash);

async fn suppliers_page(
    state: &AppState,
    ui: &Ui,
    form: NewSupplier,
    error: Option<Refusal>,
) -> Result<HttpResponse, WebError> {
    let db = state.db.clone();
    let (list, jurisdictions) = blocking(move || {
        db.read(|tx| {
            Ok((
                lists::list_suppliers(tx, None, None)?,
                lists::list_jurisdictions(tx)?,
            ))
        })
    })
    .await
    .map_err(|e| ui.fail(e))?;
    let (status, error) = match error {
        Some((status, flash)) => (status, Some(flash)),
        None => (actix_web::http::StatusCode::OK, None),
    };
    ui.page_with(
        status,
        "admin_suppliers.html",
        serde_json::json!({
            "suppliers": list, "jurisdictions": jurisdictions, "f": form, "error": error,
        }),
    )
}

/// The new-supplier form.
#[derive(Debug, Deserialize)]
pub struct SupplierFields {
    /// CSRF token.
    pub csrf_token: String,
    /// The supplier.
    #[serde(flatten)]
    pub supplier: NewSupplier,
}

/// `POST /ui/admin/suppliers`: adds a supplier with `reference_lists::create_supplier`; a
/// refusal shows the form again with the values typed.
///
/// # Errors
/// Login, 403, or a CSRF mismatch.
pub async fn add_supplier(
    state: web::Data<AppState>,
    ui: Ui,
    form: web::Form<SupplierFields>,
) -> Result<HttpResponse, WebError> {
    ui.require(Endpoint::UiAdmin)?;
    ui.check_csrf(&form.csrf_token)?;
    let s = form.into_inner().supplier;
    let db = state.db.clone();
    let user = ui.user.clone();
    let input = s.clone();
    let out = blocking(move || {
        db.transaction(|tx| {
            lists::create_supplier(tx, &user, &input, chrono::Utc::now().timestamp_millis())
        })
    })
    .await;
    match out {
        Ok(created) => Ok(see_other(
            "/ui/admin/suppliers",
            Some(Flash::ok("admin.supplier_added", created.code)),
        )),
        Err(e) => {
            let refusal = (
                actix_web::ResponseError::status_code(&e),
                Flash::from_error(&e),
            );
            suppliers_page(&state, &ui, s, Some(refusal)).await
        }
    }
}

/// `GET /ui/admin/users`: every user with role, lab and whether disabled.
///
/// # Errors
/// Login, 403, database errors as a page.
pub async fn users(state: web::Data<AppState>, ui: Ui) -> Result<HttpResponse, WebError> {
    ui.require(Endpoint::UiAdmin)?;
    let db = state.db.clone();
    let list = blocking(move || db.read(lists::list_users))
        .await
        .map_err(|e| ui.fail(e))?;
    ui.page("admin_users.html", serde_json::json!({ "users": list }))
}

/// `GET /ui/admin/calendars`: the listed days (holidays, make-up working days) of each lab's
/// working calendar.
///
/// # Errors
/// Login, 403, database errors as a page.
pub async fn calendars(state: web::Data<AppState>, ui: Ui) -> Result<HttpResponse, WebError> {
    ui.require(Endpoint::UiAdmin)?;
    let db = state.db.clone();
    let cals = blocking(move || {
        db.read(|tx| {
            let mut out = Vec::new();
            for (lab, code) in lists::lab_calendars(tx)? {
                let days = lists::calendar_days(tx, &code)?;
                out.push(serde_json::json!({"lab": lab, "code": code, "days": days}));
            }
            Ok(out)
        })
    })
    .await
    .map_err(|e| ui.fail(e))?;
    ui.page(
        "admin_calendars.html",
        serde_json::json!({ "calendars": cals }),
    )
}
