//! Browser sessions: password login, the server-side session table, CSRF tokens, logout.
//!
//! The session cookie holds a 256-bit random id; the database keeps only its SHA-256, so a copy
//! of the database does not let anyone sign in. The CSRF token is derived from the session id
//! (SHA-256 over a domain-separated string), so it is never stored and every server can check it
//! without shared memory. Sessions expire after [`SESSION_TTL_MS`].

use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::db::schema::{sessions, users};
use crate::db::{Db, Tx};
use crate::domain::terms::Role;
use crate::error::AppError;
use crate::service::audit::{self, NewEvent};
use crate::service::auth::{token_digest, CurrentUser};
use crate::service::users::{
    clear_failures, locked_until, login_row, record_failure, verify_dummy, verify_password,
    FREE_FAILURES_PER_IP, FREE_FAILURES_PER_USER,
};
use crate::time::to_ms;
use crate::with_tx;

/// Lifetime of a browser session, ms (12 hours: one working day, then sign in again).
pub const SESSION_TTL_MS: i64 = 12 * 3_600_000;

/// A session just opened: the cookie value (shown to the browser only), its CSRF token, the user
/// and the expiry.
#[derive(Debug, Clone, Serialize)]
pub struct NewSession {
    /// The cookie value (secret).
    #[serde(skip)]
    pub id: String,
    /// Must come back in `X-CSRF-Token` (or a `csrf_token` form field) on state-changing requests.
    pub csrf_token: String,
    /// Who signed in.
    pub user: CurrentUser,
    /// Expiry, ms since the epoch (UTC).
    pub expires_at: i64,
}

/// What a login attempt came to.
#[derive(Debug, Clone)]
pub enum LoginOutcome {
    /// Signed in.
    Success(NewSession),
    /// Wrong username or password, or a disabled user or one without a password (the answer
    /// does not say which).
    Refused,
    /// Too many failures for this username or address: try again after `retry_after_ms`.
    Throttled {
        /// Milliseconds until the lockout ends.
        retry_after_ms: i64,
    },
}

/// The CSRF token of a session id: hex SHA-256 of `"coallab-csrf:" + id`.
pub fn csrf_token(session_id: &str) -> String {
    hex::encode(Sha256::digest(
        format!("coallab-csrf:{session_id}").as_bytes(),
    ))
}

/// Compares two strings in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn user_key(username: &str) -> String {
    format!("user:{}", username.to_lowercase())
}

fn ip_key(ip: &str) -> String {
    format!("ip:{ip}")
}

/// Signs a user in with a password. Throttled keys are refused without checking the password;
/// a failure is counted for the username and the address and written to the audit trail as
/// `login.failed` (and logged as a warning); a success clears the username's counter, opens a
/// session and writes `login.success`. The argon2 check runs outside any transaction.
///
/// # Errors
/// Database errors only; a wrong password is [`LoginOutcome::Refused`], not an error.
pub fn login(
    db: &Db,
    username: &str,
    password: &str,
    ip: &str,
    now: DateTime<Utc>,
) -> Result<LoginOutcome, AppError> {
    let now_ms = to_ms(now);
    // No username holds a control character (src/service/text_input.rs); one typed is shown
    // as U+FFFD, so it names nobody and never reaches the database as a NUL byte.
    let username: String = username
        .trim()
        .chars()
        .take(64)
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect();
    let (ukey, ikey) = (user_key(&username), ip_key(ip));
    let (row, locked) = db.read(|tx| {
        let locked = locked_until(tx, &ukey)?.max(locked_until(tx, &ikey)?);
        Ok((login_row(tx, &username)?, locked))
    })?;
    if locked > now_ms {
        tracing::warn!(username = ?username, ip = %ip, "login refused: throttled");
        return Ok(LoginOutcome::Throttled {
            retry_after_ms: locked - now_ms,
        });
    }
    let ok = match &row {
        Some((_, _, _, false, Some(phc))) => verify_password(password, phc),
        _ => {
            verify_dummy(password);
            false
        }
    };
    if !ok {
        let (failures, until) = db.transaction(|tx| {
            let (failures, until) = record_failure(tx, &ukey, FREE_FAILURES_PER_USER, now_ms)?;
            let (_, ip_until) = record_failure(tx, &ikey, FREE_FAILURES_PER_IP, now_ms)?;
            audit::append(
                tx,
                now_ms,
                NewEvent {
                    actor: "anonymous".into(),
                    action: "login.failed".into(),
                    entity: "user".into(),
                    entity_id: username.clone(),
                    after: Some(serde_json::json!({
                        "ip": ip, "failures": failures, "locked_until": until.max(ip_until)
                    })),
                    ..Default::default()
                },
            )?;
            Ok((failures, until.max(ip_until)))
        })?;
        tracing::warn!(username = ?username, ip = %ip, failures, locked_ms = until - now_ms, "login failed");
        return Ok(LoginOutcome::Refused);
    }
    let Some((id, role, lab_id, _, _)) = row else {
        return Ok(LoginOutcome::Refused);
    };
    let role = Role::from_code(&role).map_err(|e| AppError::Internal(e.to_string()))?;
    let user = CurrentUser {
        id,
        username: username.clone(),
        role,
        lab_id,
    };
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let session_id = hex::encode(bytes);
    let expires_at = now_ms + SESSION_TTL_MS;
    db.transaction(|tx| {
        clear_failures(tx, &ukey)?;
        // Expired sessions of this user are dead weight: drop them while we are here.
        with_tx!(tx, |c| diesel::delete(
            sessions::table
                .filter(sessions::user_id.eq(id))
                .filter(sessions::expires_at.le(now_ms))
        )
        .execute(c))?;
        with_tx!(tx, |c| diesel::insert_into(sessions::table)
            .values((
                sessions::id_sha256.eq(token_digest(&session_id)),
                sessions::user_id.eq(id),
                sessions::created_at.eq(now_ms),
                sessions::expires_at.eq(expires_at),
                sessions::ip.eq(ip),
            ))
            .execute(c))?;
        audit::append(
            tx,
            now_ms,
            NewEvent {
                actor: username.clone(),
                action: "login.success".into(),
                entity: "user".into(),
                entity_id: username.clone(),
                after: Some(serde_json::json!({"ip": ip, "expires_at": expires_at})),
                ..Default::default()
            },
        )
    })?;
    tracing::info!(username = ?username, ip = %ip, "login");
    Ok(LoginOutcome::Success(NewSession {
        csrf_token: csrf_token(&session_id),
        id: session_id,
        user,
        expires_at,
    }))
}

/// The user of a session cookie that exists, has not expired and whose user is not disabled.
///
/// # Errors
/// [`AppError::Unauthorized`] otherwise.
pub fn session_user(
    tx: &mut Tx<'_>,
    session_id: &str,
    now_ms: i64,
) -> Result<CurrentUser, AppError> {
    let digest = token_digest(session_id);
    let row: Option<(i64, String, String, Option<i64>, bool, i64)> =
        with_tx!(tx, |c| sessions::table
            .inner_join(users::table)
            .filter(sessions::id_sha256.eq(&digest))
            .select((
                users::id,
                users::username,
                users::role,
                users::lab_id,
                users::disabled,
                sessions::expires_at
            ))
            .first(c)
            .optional())?;
    let Some((id, username, role, lab_id, disabled, expires_at)) = row else {
        return Err(AppError::Unauthorized(
            "unknown session: sign in again".into(),
        ));
    };
    if expires_at <= now_ms {
        return Err(AppError::Unauthorized(
            "the session has expired: sign in again".into(),
        ));
    }
    if disabled {
        return Err(AppError::Unauthorized("the user is disabled".into()));
    }
    Ok(CurrentUser {
        id,
        username,
        role: Role::from_code(&role).map_err(|e| AppError::Internal(e.to_string()))?,
        lab_id,
    })
}

/// Ends a session (logout) and writes `logout`. Unknown sessions end silently.
///
/// # Errors
/// Database errors.
pub fn logout(tx: &mut Tx<'_>, session_id: &str, now_ms: i64) -> Result<(), AppError> {
    let user = session_user(tx, session_id, now_ms).ok();
    let digest = token_digest(session_id);
    with_tx!(tx, |c| diesel::delete(sessions::table.find(&digest))
        .execute(c))?;
    if let Some(u) = user {
        audit::append(
            tx,
            now_ms,
            NewEvent {
                actor: u.username.clone(),
                action: "logout".into(),
                entity: "user".into(),
                entity_id: u.username,
                ..Default::default()
            },
        )?;
    }
    Ok(())
}

/// Deletes every expired session (housekeeping; no audit event: nothing changes for anyone).
/// Returns how many were deleted.
///
/// # Errors
/// Database errors.
pub fn purge_expired(tx: &mut Tx<'_>, now_ms: i64) -> Result<usize, AppError> {
    Ok(with_tx!(tx, |c| diesel::delete(
        sessions::table.filter(sessions::expires_at.le(now_ms))
    )
    .execute(c))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_token_is_bound_to_the_session_and_differs_from_its_stored_digest() {
        let a = csrf_token("aa");
        assert_eq!(a.len(), 64);
        assert_ne!(a, csrf_token("ab"));
        // The database holds SHA-256(id); the CSRF token is SHA-256("coallab-csrf:" + id).
        assert_ne!(a, token_digest("aa"));
        assert!(constant_time_eq(&a, &csrf_token("aa")));
        assert!(!constant_time_eq(&a, &csrf_token("ab")));
        assert!(!constant_time_eq("abc", "ab"));
    }
}
