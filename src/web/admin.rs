//! The administrator's pages: suppliers (and adding one), the limit sets (with their sources
//! and periods; adding or replacing one as JSON) and the labs' working calendars (importing a
//! calendar CSV), through the service functions the API uses (`reference_lists`,
//! `reference::load_limit_sets`/`put_limit_set`, `import::import`). Users are in
//! [`crate::web::admin_users`].

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::api::access::Endpoint;
use crate::api::{blocking, AppState};
use crate::error::AppError;
use crate::service::import::{self, ImportKind, ImportOptions};
use crate::service::reference::{load_limit_sets, put_limit_set as put_limit_set_in};
use crate::service::reference_lists::{self as lists, NewSupplier};
use crate::web::auth::Ui;
use crate::web::page::{see_other, Flash, WebError};
use crate::web::query::UiQuery;

/// Query of the limit-set page.
#[derive(Debug, Deserialize)]
pub struct EditQuery {
    /// The id of a set whose JSON fills the form.
    pub edit: Option<String>,
}

/// `GET /ui/admin/limit-sets?edit=`: every limit set with its limits, and the form to add or
/// replace one (filled with the JSON of the set `edit`).
///
/// # Errors
/// Login, 403, database errors as a page.
pub async fn limit_sets(
    state: web::Data<AppState>,
    ui: Ui,
    q: UiQuery<EditQuery>,
) -> Result<HttpResponse, WebError> {
    ui.require(Endpoint::UiAdmin)?;
    limit_sets_page(&state, &ui, None, q.into_inner().edit.as_deref(), None).await
}

async fn limit_sets_page(
    state: &AppState,
    ui: &Ui,
    typed: Option<String>,
    edit: Option<&str>,
    error: Option<Refusal>,
) -> Result<HttpResponse, WebError> {
    let db = state.db.clone();
    let sets = blocking(move || db.read(load_limit_sets))
        .await
        .map_err(|e| ui.fail(e))?;
    let json = typed.unwrap_or_else(|| {
        edit.and_then(|id| sets.iter().find(|s| s.id == id))
            .and_then(|s| serde_json::to_string_pretty(s).ok())
            .unwrap_or_default()
    });
    let (status, error) = match error {
        Some((status, flash)) => (status, Some(flash)),
        None => (actix_web::http::StatusCode::OK, None),
    };
    ui.page_with(
        status,
        "limit_sets.html",
        serde_json::json!({ "sets": sets, "json": json, "error": error }),
    )
}

/// The limit-set form.
#[derive(Debug, Deserialize)]
pub struct LimitSetForm {
    /// CSRF token.
    #[serde(default)]
    pub csrf_token: String,
    /// The set as JSON (the model of `POST /api/v1/limit-sets`).
    pub json: String,
}

/// `POST /ui/admin/limit-sets`: creates or replaces the limit set with
/// `reference::put_limit_set` (audit event `limit_set.put` when it changed); malformed JSON is
/// a 400, a set breaking a rule a 422, both shown on the form with the text typed.
///
/// # Errors
/// Login, 403, or a CSRF mismatch.
pub async fn put_limit_set(
    state: web::Data<AppState>,
    ui: Ui,
    form: web::Form<LimitSetForm>,
) -> Result<HttpResponse, WebError> {
    ui.require(Endpoint::UiAdmin)?;
    ui.check_csrf(&form.csrf_token)?;
    let text = form.into_inner().json;
    let db = state.db.clone();
    let actor = ui.user.username.clone();
    let input = text.clone();
    let out = blocking(move || {
        let json: serde_json::Value = serde_json::from_str(&input)
            .map_err(|e| AppError::bad_request("bad_request", format!("limit set JSON: {e}")))?;
        let set = crate::service::limit_set_input::limit_set_from_json(json)?;
        let changed = db.transaction(|tx| {
            put_limit_set_in(tx, &actor, &set, chrono::Utc::now().timestamp_millis())
        })?;
        Ok((set.id, changed))
    })
    .await;
    match out {
        Ok((id, changed)) => {
            let key = if changed {
                "admin.limit_set_saved"
            } else {
                "admin.limit_set_unchanged"
            };
            Ok(see_other("/ui/admin/limit-sets", Some(Flash::ok(key, id))))
        }
        Err(e) => limit_sets_page(&state, &ui, Some(text), None, Some(refusal(&e))).await,
    }
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
pub type Refusal = (actix_web::http::StatusCode, Flash);

/// The refusal of a form by the service: its status and message.
pub fn refusal(e: &AppError) -> Refusal {
    (
        actix_web::ResponseError::status_code(e),
        Flash::from_error(e),
    )
}

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
    #[serde(default)]
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
        Err(e) => suppliers_page(&state, &ui, s, Some(refusal(&e))).await,
    }
}

/// The calendar-import form (its typed values are shown again on a refusal).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CalendarFields {
    /// The calendar code (a lab's `calendar_code`).
    #[serde(default)]
    pub calendar: String,
    /// The CSV text: `date,kind,occasion,source`.
    #[serde(default)]
    pub csv: String,
}

/// `POST /ui/admin/calendars`.
#[derive(Debug, Deserialize)]
pub struct CalendarForm {
    /// CSRF token.
    #[serde(default)]
    pub csrf_token: String,
    /// The fields.
    #[serde(flatten)]
    pub fields: CalendarFields,
}

/// `GET /ui/admin/calendars`: the listed days (holidays, make-up working days) of each lab's
/// working calendar, and the form to import a calendar CSV.
///
/// # Errors
/// Login, 403, database errors as a page.
pub async fn calendars(state: web::Data<AppState>, ui: Ui) -> Result<HttpResponse, WebError> {
    ui.require(Endpoint::UiAdmin)?;
    calendars_page(&state, &ui, CalendarFields::default(), None).await
}

async fn calendars_page(
    state: &AppState,
    ui: &Ui,
    f: CalendarFields,
    error: Option<Refusal>,
) -> Result<HttpResponse, WebError> {
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
    let mut codes: Vec<String> = cals
        .iter()
        .filter_map(|c| c["code"].as_str().map(str::to_string))
        .collect();
    codes.sort();
    codes.dedup();
    let (status, error) = match error {
        Some((status, flash)) => (status, Some(flash)),
        None => (actix_web::http::StatusCode::OK, None),
    };
    ui.page_with(
        status,
        "admin_calendars.html",
        serde_json::json!({ "calendars": cals, "codes": codes, "f": f, "error": error }),
    )
}

/// `POST /ui/admin/calendars`: imports the CSV into the calendar with `import::import` (the
/// service of `POST /api/v1/import/calendar`): every row or none, the refused rows named by
/// their line number on the page, audit event `import`.
///
/// # Errors
/// Login, 403, or a CSRF mismatch.
pub async fn import_calendar(
    state: web::Data<AppState>,
    ui: Ui,
    form: web::Form<CalendarForm>,
) -> Result<HttpResponse, WebError> {
    ui.require(Endpoint::UiAdmin)?;
    ui.check_csrf(&form.csrf_token)?;
    let f = form.into_inner().fields;
    let db = state.db.clone();
    let user = ui.user.clone();
    let input = f.clone();
    let out = blocking(move || {
        let code = input.calendar.trim();
        if code.is_empty() {
            return Err(AppError::invalid("missing_value", "choose a calendar"));
        }
        let opts = ImportOptions {
            calendar_code: code.to_string(),
        };
        import::import(
            &db,
            &user,
            ImportKind::Calendar,
            input.csv.as_bytes(),
            &opts,
            chrono::Utc::now(),
        )
    })
    .await;
    match out {
        Ok(r) => Ok(see_other(
            "/ui/admin/calendars",
            Some(Flash::ok(
                "admin.calendar_imported",
                format!(
                    "{}: {} rows, {} changed, {} unchanged",
                    f.calendar.trim(),
                    r.rows,
                    r.changed,
                    r.unchanged
                ),
            )),
        )),
        Err(e) => calendars_page(&state, &ui, f, Some(refusal(&e))).await,
    }
}
