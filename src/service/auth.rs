//! Users and personal API tokens (bearer). Tokens are 256-bit random values shown once and
//! stored only as their SHA-256, expiring and revocable.

use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::db::schema::{api_tokens, users};
use crate::db::Tx;
use crate::domain::terms::Role;
use crate::error::AppError;
use crate::with_tx;

/// The person behind a request.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CurrentUser {
    /// User id.
    pub id: i64,
    /// Login name (written into the audit trail).
    pub username: String,
    /// Role.
    pub role: Role,
    /// Lab membership (technicians and reviewers belong to a lab).
    pub lab_id: Option<i64>,
}

/// SHA-256 hex of a token, as stored.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Finds the user of a bearer token that is neither expired, revoked nor disabled.
///
/// # Errors
/// [`AppError::Unauthorized`] for an unknown, expired or revoked token or a disabled user.
pub fn authenticate(tx: &mut Tx<'_>, token: &str, now_ms: i64) -> Result<CurrentUser, AppError> {
    Ok(authenticate_digest(tx, &token_digest(token), now_ms)?.0)
}

/// Like [`authenticate`], from the token's SHA-256 hex digest ([`token_digest`]); also returns
/// the token's expiry (ms since the epoch, UTC).
///
/// # Errors
/// As [`authenticate`].
pub fn authenticate_digest(
    tx: &mut Tx<'_>,
    digest: &str,
    now_ms: i64,
) -> Result<(CurrentUser, i64), AppError> {
    let row: Option<(i64, String, String, Option<i64>, bool, i64, bool)> =
        with_tx!(tx, |c| api_tokens::table
            .inner_join(users::table)
            .filter(api_tokens::token_sha256.eq(digest))
            .select((
                users::id,
                users::username,
                users::role,
                users::lab_id,
                users::disabled,
                api_tokens::expires_at,
                api_tokens::revoked
            ))
            .first(c)
            .optional())?;
    let Some((id, username, role, lab_id, disabled, expires_at, revoked)) = row else {
        return Err(AppError::Unauthorized("unknown API token".into()));
    };
    if revoked || expires_at <= now_ms {
        return Err(AppError::Unauthorized(
            "the API token has expired or was revoked".into(),
        ));
    }
    if disabled {
        return Err(AppError::Unauthorized("the user is disabled".into()));
    }
    let role = Role::from_code(&role).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok((
        CurrentUser {
            id,
            username,
            role,
            lab_id,
        },
        expires_at,
    ))
}

/// Creates a user; returns its id.
///
/// # Errors
/// 409 `already_exists` for a username taken in any letter case; 422 `invalid_value` for a
/// username that breaks [`check_username`], or control or text-direction characters in the
/// display name.
pub fn add_user(
    tx: &mut Tx<'_>,
    username: &str,
    display_name: &str,
    role: Role,
    lab_id: Option<i64>,
    now_ms: i64,
) -> Result<i64, AppError> {
    check_username(username)?;
    crate::service::text_input::single_line("display_name", display_name, 200)?;
    // Unique in any letter case: "TECH-WANG" beside "tech-wang" would read as one person.
    let taken: Option<String> = with_tx!(tx, |c| users::table
        .filter(crate::service::reference::lower(users::username).eq(username.to_ascii_lowercase()))
        .select(users::username)
        .first(c)
        .optional())?;
    crate::service::reference::refuse_taken("username", username, taken, "user")?;
    Ok(with_tx!(tx, |c| diesel::insert_into(users::table)
        .values((
            users::username.eq(username),
            users::display_name.eq(display_name),
            users::role.eq(role.as_code()),
            users::lab_id.eq(lab_id),
            users::created_at.eq(now_ms),
        ))
        .returning(users::id)
        .get_result::<i64>(c))?)
}

/// Actor names the audit trail gives to coallab itself ("system": the appeal-close job and
/// other automatic steps; "cli": the command line); no person may be called so.
pub const RESERVED_USERNAMES: [&str; 3] = ["system", "cli", "anonymous"];

/// Checks a new username: 1 to 64 characters of ASCII letters, digits, `.`, `_` and `-`,
/// starting with a letter or digit (it appears in the audit trail, logs and paths), and none of
/// [`RESERVED_USERNAMES`] in any letter case.
///
/// # Errors
/// 422 `invalid_value` saying which rule.
pub fn check_username(username: &str) -> Result<(), AppError> {
    // The characters of a code (src/service/reference.rs `check_code`).
    crate::service::reference::check_code("username", username)?;
    if RESERVED_USERNAMES
        .iter()
        .any(|r| r.eq_ignore_ascii_case(username))
    {
        return Err(AppError::invalid(
            "invalid_value",
            format!(
                "username '{username}' is reserved: the audit trail uses it for coallab itself"
            ),
        ));
    }
    Ok(())
}

/// Issues a new token for a user; returns the token text (shown once, stored hashed).
///
/// # Errors
/// Database errors.
pub fn issue_token(
    tx: &mut Tx<'_>,
    user_id: i64,
    label: &str,
    expires_at_ms: i64,
    now_ms: i64,
) -> Result<String, AppError> {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = format!("clb_{}", hex::encode(bytes));
    store_token(tx, user_id, &token, label, expires_at_ms, now_ms)?;
    Ok(token)
}

/// Stores a token chosen by the caller (demo mode's documented demo tokens).
///
/// # Errors
/// Database errors (409 when the token already exists).
pub fn store_token(
    tx: &mut Tx<'_>,
    user_id: i64,
    token: &str,
    label: &str,
    expires_at_ms: i64,
    now_ms: i64,
) -> Result<(), AppError> {
    let digest = token_digest(token);
    with_tx!(tx, |c| diesel::insert_into(api_tokens::table)
        .values((
            api_tokens::user_id.eq(user_id),
            api_tokens::token_sha256.eq(&digest),
            api_tokens::label.eq(label),
            api_tokens::expires_at.eq(expires_at_ms),
            api_tokens::created_at.eq(now_ms),
        ))
        .execute(c))?;
    Ok(())
}

/// Display names of users by id (for reports and views).
///
/// # Errors
/// Database errors.
pub fn username_of(tx: &mut Tx<'_>, id: i64) -> Result<Option<String>, AppError> {
    Ok(with_tx!(tx, |c| users::table
        .find(id)
        .select(users::username)
        .first::<String>(c)
        .optional())?)
}
