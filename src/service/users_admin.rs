//! Changing people: adding and disabling users, finding one by name. The command line
//! (`coallab user add|disable`) and the admin's pages call these, so both write the same audit
//! events (`user.add`, `user.disable`) in the same transaction as the change. Passwords and
//! token revocation are in [`crate::service::users`].

use crate::db::schema::{labs, sessions, users};
use crate::db::Tx;
use crate::domain::terms::Role;
use crate::error::AppError;
use crate::service::audit::{self, NewEvent};
use crate::service::auth::{self, CurrentUser};
use crate::with_tx;

/// The user called `username`.
///
/// # Errors
/// [`AppError::NotFound`] when there is none; database errors.
pub fn user_by_name(tx: &mut Tx<'_>, username: &str) -> Result<CurrentUser, AppError> {
    let row: Option<(i64, String, String, Option<i64>)> = with_tx!(tx, |c| users::table
        .filter(users::username.eq(username))
        .select((users::id, users::username, users::role, users::lab_id))
        .first(c)
        .optional())?;
    let (id, username, role, lab_id) =
        row.ok_or_else(|| AppError::NotFound(format!("no user '{username}'")))?;
    Ok(CurrentUser {
        id,
        username,
        role: Role::from_code(&role).map_err(|e| AppError::Internal(e.to_string()))?,
        lab_id,
    })
}

/// Adds a user of `role` (technicians and reviewers belong to the lab `lab`, the others to
/// none) and writes the audit event `user.add` (role and lab; never a password). Returns the
/// new user's id.
///
/// # Errors
/// `invalid_value` (422) for an unknown lab, a lab role without a lab or another role with one,
/// an empty or over-long username; 409 for a taken username; database errors.
pub fn add_user(
    tx: &mut Tx<'_>,
    actor: &str,
    username: &str,
    display_name: &str,
    role: Role,
    lab: Option<&str>,
    now_ms: i64,
) -> Result<i64, AppError> {
    let lab = lab.map(str::trim).filter(|l| !l.is_empty());
    let lab_role = matches!(role, Role::Technician | Role::Reviewer);
    let lab_id = match lab {
        Some(code) if lab_role => Some(
            with_tx!(tx, |c| labs::table
                .filter(labs::code.eq(code))
                .select(labs::id)
                .first::<i64>(c)
                .optional())?
            .ok_or_else(|| AppError::invalid("invalid_value", format!("no lab '{code}'")))?,
        ),
        Some(code) => {
            return Err(AppError::invalid(
                "invalid_value",
                format!(
                    "only technicians and reviewers belong to a lab ('{code}' given for a {})",
                    role.as_code()
                ),
            ))
        }
        None if lab_role => {
            return Err(AppError::invalid(
                "invalid_value",
                "technicians and reviewers need a lab",
            ))
        }
        None => None,
    };
    let display_name = match display_name.trim() {
        "" => username,
        d => d,
    };
    let id = auth::add_user(tx, username, display_name, role, lab_id, now_ms)?;
    audit::append(
        tx,
        now_ms,
        NewEvent {
            actor: actor.into(),
            action: "user.add".into(),
            entity: "user".into(),
            entity_id: username.into(),
            after: Some(serde_json::json!({"role": role, "lab": lab})),
            ..Default::default()
        },
    )?;
    Ok(id)
}

/// Disables a user: their tokens and browser sessions stop working at once (both check the
/// flag), and their sessions are deleted. Writes `user.disable`.
///
/// # Errors
/// [`AppError::NotFound`] for an unknown user; database errors.
pub fn disable_user(
    tx: &mut Tx<'_>,
    actor: &str,
    username: &str,
    now_ms: i64,
) -> Result<(), AppError> {
    let user = user_by_name(tx, username)?;
    with_tx!(tx, |c| diesel::update(users::table.find(user.id))
        .set(users::disabled.eq(true))
        .execute(c))?;
    let ended = with_tx!(tx, |c| diesel::delete(
        sessions::table.filter(sessions::user_id.eq(user.id))
    )
    .execute(c))?;
    audit::append(
        tx,
        now_ms,
        NewEvent {
            actor: actor.into(),
            action: "user.disable".into(),
            entity: "user".into(),
            entity_id: username.into(),
            after: Some(serde_json::json!({"sessions_ended": ended})),
            ..Default::default()
        },
    )?;
    Ok(())
}
