//! The administrator's changes to people, from the users page: add a user with an initial
//! password, set a new password, revoke a user's API tokens, disable a user. They call the
//! service functions of `coallab user add|passwd|revoke-tokens|disable`
//! (`service::users_admin`, `service::users`), which write the same audit events in the same
//! transaction. A password is never shown again, not even on a refused form.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::api::access::Endpoint;
use crate::api::{blocking, AppState};
use crate::domain::terms::Role;
use crate::error::AppError;
use crate::service::reference_lists as lists;
use crate::service::users::{self, check_password_rules};
use crate::service::users_admin;
use crate::web::admin::{refusal, Refusal};
use crate::web::auth::Ui;
use crate::web::page::{see_other, Flash, WebError};

/// The roles offered on the form, in the order shown.
const ROLES: [&str; 5] = ["technician", "reviewer", "regulator", "auditor", "admin"];

/// The typed values of the new-user form (everything but the password).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NewUserFields {
    /// Login name.
    #[serde(default)]
    pub username: String,
    /// Display name (the login name when empty).
    #[serde(default)]
    pub display_name: String,
    /// Role code.
    #[serde(default)]
    pub role: String,
    /// Lab code (technicians and reviewers; ignored for other roles).
    #[serde(default)]
    pub lab: String,
}

/// `POST /ui/admin/users`.
#[derive(Debug, Deserialize)]
pub struct AddUserForm {
    /// CSRF token.
    #[serde(default)]
    pub csrf_token: String,
    /// The user.
    #[serde(flatten)]
    pub user: NewUserFields,
    /// The initial password.
    pub password: String,
}

/// `POST /ui/admin/users/password`.
#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    /// CSRF token.
    #[serde(default)]
    pub csrf_token: String,
    /// Whose password.
    pub username: String,
    /// The new password.
    pub password: String,
}

/// `POST /ui/admin/users/disable` and `/ui/admin/users/revoke-tokens`.
#[derive(Debug, Deserialize)]
pub struct UserForm {
    /// CSRF token.
    #[serde(default)]
    pub csrf_token: String,
    /// The user.
    pub username: String,
}

/// `GET /ui/admin/users`: every user with role, lab and whether disabled; the forms.
///
/// # Errors
/// Login, 403, database errors as a page.
pub async fn users(state: web::Data<AppState>, ui: Ui) -> Result<HttpResponse, WebError> {
    ui.require(Endpoint::UiAdmin)?;
    users_page(&state, &ui, NewUserFields::default(), "", None).await
}

async fn users_page(
    state: &AppState,
    ui: &Ui,
    f: NewUserFields,
    pw_user: &str,
    error: Option<Refusal>,
) -> Result<HttpResponse, WebError> {
    let db = state.db.clone();
    let (list, labs) =
        blocking(move || db.read(|tx| Ok((lists::list_users(tx)?, lists::lab_calendars(tx)?))))
            .await
            .map_err(|e| ui.fail(e))?;
    let labs: Vec<String> = labs.into_iter().map(|(lab, _)| lab).collect();
    let (status, error) = match error {
        Some((status, flash)) => (status, Some(flash)),
        None => (StatusCode::OK, None),
    };
    ui.page_with(
        status,
        "admin_users.html",
        serde_json::json!({
            "users": list, "labs": labs, "roles": ROLES, "f": f, "pw_user": pw_user,
            "error": error,
        }),
    )
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// `POST /ui/admin/users`: adds the user and sets the initial password in one transaction
/// (audit events `user.add` and `user.passwd`); a refusal shows the form again with the typed
/// values except the password.
///
/// # Errors
/// Login, 403, or a CSRF mismatch.
pub async fn add_user(
    state: web::Data<AppState>,
    ui: Ui,
    form: web::Form<AddUserForm>,
) -> Result<HttpResponse, WebError> {
    ui.require(Endpoint::UiAdmin)?;
    ui.check_csrf(&form.csrf_token)?;
    let AddUserForm {
        user: f, password, ..
    } = form.into_inner();
    let db = state.db.clone();
    let actor = ui.user.username.clone();
    let input = f.clone();
    let out = blocking(move || {
        let role = Role::from_code(input.role.trim())
            .map_err(|e| AppError::invalid("invalid_value", e.to_string()))?;
        check_password_rules(&password)?;
        // As chosen: a lab for a role without one is refused by the service, as on the CLI.
        let lab = Some(input.lab.as_str());
        let username = input.username.trim();
        db.transaction(|tx| {
            let now = now_ms();
            let id =
                users_admin::add_user(tx, &actor, username, &input.display_name, role, lab, now)?;
            users::set_password(tx, id, username, &password, &actor, now)
        })
    })
    .await;
    match out {
        Ok(()) => Ok(see_other(
            "/ui/admin/users",
            Some(Flash::ok("admin.user_added", f.username.trim())),
        )),
        Err(e) => users_page(&state, &ui, f, "", Some(refusal(&e))).await,
    }
}

/// `POST /ui/admin/users/password`: sets a new password and ends the user's browser sessions
/// (`user.passwd`).
///
/// # Errors
/// Login, 403, or a CSRF mismatch.
pub async fn set_password(
    state: web::Data<AppState>,
    ui: Ui,
    form: web::Form<PasswordForm>,
) -> Result<HttpResponse, WebError> {
    ui.require(Endpoint::UiAdmin)?;
    ui.check_csrf(&form.csrf_token)?;
    let PasswordForm {
        username, password, ..
    } = form.into_inner();
    let db = state.db.clone();
    let actor = ui.user.username.clone();
    let name = username.clone();
    let out = blocking(move || {
        check_password_rules(&password)?;
        db.transaction(|tx| {
            let user = users_admin::user_by_name(tx, &name)?;
            users::set_password(tx, user.id, &name, &password, &actor, now_ms())
        })
    })
    .await;
    match out {
        Ok(()) => Ok(see_other(
            "/ui/admin/users",
            Some(Flash::ok("admin.password_set", username)),
        )),
        Err(e) => {
            let f = NewUserFields::default();
            users_page(&state, &ui, f, &username, Some(refusal(&e))).await
        }
    }
}

/// `POST /ui/admin/users/disable`: disables a user (`user.disable`); the signed-in admin cannot
/// disable themself.
///
/// # Errors
/// Login, 403, or a CSRF mismatch.
pub async fn disable(
    state: web::Data<AppState>,
    ui: Ui,
    form: web::Form<UserForm>,
) -> Result<HttpResponse, WebError> {
    ui.require(Endpoint::UiAdmin)?;
    ui.check_csrf(&form.csrf_token)?;
    let username = form.into_inner().username;
    let db = state.db.clone();
    let actor = ui.user.username.clone();
    let name = username.clone();
    let out = blocking(move || {
        if name == actor {
            return Err(AppError::invalid(
                "invalid_value",
                "you cannot disable the account you are signed in with",
            ));
        }
        db.transaction(|tx| users_admin::disable_user(tx, &actor, &name, now_ms()))
    })
    .await;
    // After the commit: the status lookup must not trust a remembered token of this user.
    state.tokens.clear();
    match out {
        Ok(()) => Ok(see_other(
            "/ui/admin/users",
            Some(Flash::ok("admin.user_disabled", username)),
        )),
        Err(e) => users_page(&state, &ui, NewUserFields::default(), "", Some(refusal(&e))).await,
    }
}

/// `POST /ui/admin/users/revoke-tokens`: revokes every API token of a user and ends their
/// browser sessions (`user.revoke_tokens`).
///
/// # Errors
/// Login, 403, or a CSRF mismatch.
pub async fn revoke_tokens(
    state: web::Data<AppState>,
    ui: Ui,
    form: web::Form<UserForm>,
) -> Result<HttpResponse, WebError> {
    ui.require(Endpoint::UiAdmin)?;
    ui.check_csrf(&form.csrf_token)?;
    let username = form.into_inner().username;
    let db = state.db.clone();
    let actor = ui.user.username.clone();
    let name = username.clone();
    let out = blocking(move || {
        db.transaction(|tx| {
            let user = users_admin::user_by_name(tx, &name)?;
            users::revoke_tokens(tx, user.id, &name, &actor, now_ms())
        })
    })
    .await;
    // After the commit: the status lookup must not trust a remembered token of this user.
    state.tokens.clear();
    match out {
        Ok(n) => Ok(see_other(
            "/ui/admin/users",
            Some(Flash::ok(
                "admin.tokens_revoked",
                format!("{username}: {n}"),
            )),
        )),
        Err(e) => users_page(&state, &ui, NewUserFields::default(), "", Some(refusal(&e))).await,
    }
}
