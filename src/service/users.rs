//! Passwords (argon2id), token revocation, and the throttle on failed logins.
//!
//! Passwords are stored only as argon2id PHC strings (RFC 9106 parameters of the `argon2`
//! crate's default: m = 19 MiB, t = 2, p = 1, the OWASP minimum). There is no built-in default
//! password: the first admin gets one from `coallab user passwd`. Failed logins are counted per
//! username and per client address in the database (so every server behind a load balancer sees
//! the same counters) and slowed with an exponential lockout ([`lockout_ms`]).

use std::sync::OnceLock;

use argon2::{Argon2, PasswordHasher, PasswordVerifier};

use crate::db::schema::{api_tokens, login_throttle, sessions, user_passwords, users};
use crate::db::Tx;
use crate::error::AppError;
use crate::service::audit::{self, NewEvent};
use crate::with_tx;

/// Shortest password accepted, in characters (Unicode scalar values).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password accepted, in characters (bounds the hashing work an attacker can ask for).
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// Failed attempts per username allowed before the lockout starts.
pub const FREE_FAILURES_PER_USER: i32 = 5;
/// Failed attempts per client address allowed before the lockout starts (offices share one).
pub const FREE_FAILURES_PER_IP: i32 = 20;
/// The first lockout, ms; it doubles with every further failure.
pub const FIRST_LOCKOUT_MS: i64 = 1_000;
/// The longest lockout, ms (15 minutes).
pub const MAX_LOCKOUT_MS: i64 = 15 * 60_000;
/// A counter whose last failure is older than this starts again from zero, ms (1 hour).
pub const FAILURE_MEMORY_MS: i64 = 60 * 60_000;

/// How long a key is locked after its `failures`-th consecutive failure, ms: nothing for the
/// first `free` failures, then [`FIRST_LOCKOUT_MS`] doubling per failure up to
/// [`MAX_LOCKOUT_MS`]. Pure.
pub fn lockout_ms(failures: i32, free: i32) -> i64 {
    if failures < free {
        return 0;
    }
    let doublings = (failures - free).min(20) as u32;
    (FIRST_LOCKOUT_MS << doublings).min(MAX_LOCKOUT_MS)
}

/// Checks a new password's length.
///
/// # Errors
/// [`AppError::Invalid`] (`weak_password`) when shorter than [`MIN_PASSWORD_CHARS`] or longer
/// than [`MAX_PASSWORD_CHARS`].
pub fn check_password_rules(password: &str) -> Result<(), AppError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(AppError::invalid(
            "weak_password",
            format!("a password needs at least {MIN_PASSWORD_CHARS} characters (got {n})"),
        ));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(AppError::invalid(
            "weak_password",
            format!("a password may have at most {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    Ok(())
}

/// Hashes a password with argon2id and a random 16-byte salt; returns the PHC string.
///
/// # Errors
/// [`AppError::Internal`] when the hasher fails (out of memory).
pub fn hash_password(password: &str) -> Result<String, AppError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("argon2: {e}")))
}

/// Whether `password` matches the stored PHC string (false for a malformed hash).
pub fn verify_password(password: &str, phc: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), phc)
        .is_ok()
}

/// Spends the same work as a real verification, for unknown usernames (so the answer time does
/// not reveal which usernames exist).
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let phc = DUMMY.get_or_init(|| hash_password("no user has this password").unwrap_or_default());
    let _ = verify_password(password, phc);
}

/// Reads a password from the first line of `input` (the line end is removed, nothing else) and
/// checks it against [`check_password_rules`].
///
/// # Errors
/// [`AppError::Config`] when nothing can be read; `weak_password` (422) for a short one.
pub fn read_password(mut input: impl std::io::BufRead) -> Result<String, AppError> {
    let mut line = String::new();
    input
        .read_line(&mut line)
        .map_err(|e| AppError::Config(format!("cannot read the password from stdin: {e}")))?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password).to_string();
    check_password_rules(&password)?;
    Ok(password)
}

/// Parses a token expiry: `YYYY-MM-DD` (midnight UTC starting that day) or an RFC 3339 instant;
/// returns ms since the epoch. It must lie after `now_ms` and within 10 years.
///
/// # Errors
/// [`AppError::Config`] naming the problem.
pub fn parse_expiry(text: &str, now_ms: i64) -> Result<i64, AppError> {
    let t = text.trim();
    let ms = if let Ok(d) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        d.and_hms_opt(0, 0, 0)
            .map(|x| x.and_utc().timestamp_millis())
    } else {
        chrono::DateTime::parse_from_rfc3339(t)
            .ok()
            .map(|x| x.timestamp_millis())
    }
    .ok_or_else(|| {
        AppError::Config(format!(
            "--expires '{t}': give YYYY-MM-DD or an RFC 3339 instant"
        ))
    })?;
    if ms <= now_ms || ms > now_ms + 3650 * 86_400_000 {
        return Err(AppError::Config(
            "--expires must lie in the future and within 10 years".into(),
        ));
    }
    Ok(ms)
}

/// The demo password of a demo account (demo databases only; printed by the demo seed).
pub fn demo_password(username: &str) -> String {
    format!("{username}-demo-pass")
}

/// The argon2id hash of [`demo_password`], computed once per process and per name (the demo
/// seed runs in every integration test; hashing is deliberately slow).
///
/// # Errors
/// [`AppError::Internal`] when the hasher fails.
pub fn demo_password_hash(username: &str) -> Result<String, AppError> {
    use std::collections::HashMap;
    use std::sync::Mutex;
    static CACHE: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(h) = cache.lock().ok().and_then(|c| c.get(username).cloned()) {
        return Ok(h);
    }
    let h = hash_password(&demo_password(username))?;
    if let Ok(mut c) = cache.lock() {
        c.insert(username.to_string(), h.clone());
    }
    Ok(h)
}

/// Sets (or replaces) a user's password, ends the user's browser sessions, and writes the
/// audit event `user.passwd` (the hash is never written to the trail).
///
/// # Errors
/// `weak_password` (422) from [`check_password_rules`]; database errors.
pub fn set_password(
    tx: &mut Tx<'_>,
    user_id: i64,
    username: &str,
    password: &str,
    actor: &str,
    now_ms: i64,
) -> Result<(), AppError> {
    check_password_rules(password)?;
    let phc = hash_password(password)?;
    store_password_hash(tx, user_id, &phc, now_ms)?;
    let ended = with_tx!(tx, |c| diesel::delete(
        sessions::table.filter(sessions::user_id.eq(user_id))
    )
    .execute(c))?;
    audit::append(
        tx,
        now_ms,
        NewEvent {
            actor: actor.into(),
            action: "user.passwd".into(),
            entity: "user".into(),
            entity_id: username.into(),
            after: Some(serde_json::json!({"sessions_ended": ended})),
            ..Default::default()
        },
    )?;
    Ok(())
}

/// Stores an already computed PHC string (insert or replace). No audit event: callers write it.
///
/// # Errors
/// Database errors.
pub fn store_password_hash(
    tx: &mut Tx<'_>,
    user_id: i64,
    phc: &str,
    now_ms: i64,
) -> Result<(), AppError> {
    with_tx!(tx, |c| diesel::insert_into(user_passwords::table)
        .values((
            user_passwords::user_id.eq(user_id),
            user_passwords::password_hash.eq(phc),
            user_passwords::changed_at.eq(now_ms),
        ))
        .on_conflict(user_passwords::user_id)
        .do_update()
        .set((
            user_passwords::password_hash.eq(phc),
            user_passwords::changed_at.eq(now_ms),
        ))
        .execute(c))?;
    Ok(())
}

/// Revokes every API token of a user and ends their browser sessions ("sign out everywhere");
/// writes `user.revoke_tokens`. Returns the number of tokens newly revoked.
///
/// # Errors
/// Database errors.
pub fn revoke_tokens(
    tx: &mut Tx<'_>,
    user_id: i64,
    username: &str,
    actor: &str,
    now_ms: i64,
) -> Result<usize, AppError> {
    let revoked = with_tx!(tx, |c| diesel::update(
        api_tokens::table
            .filter(api_tokens::user_id.eq(user_id))
            .filter(api_tokens::revoked.eq(false))
    )
    .set(api_tokens::revoked.eq(true))
    .execute(c))?;
    let ended = with_tx!(tx, |c| diesel::delete(
        sessions::table.filter(sessions::user_id.eq(user_id))
    )
    .execute(c))?;
    audit::append(
        tx,
        now_ms,
        NewEvent {
            actor: actor.into(),
            action: "user.revoke_tokens".into(),
            entity: "user".into(),
            entity_id: username.into(),
            after: Some(serde_json::json!({"tokens_revoked": revoked, "sessions_ended": ended})),
            ..Default::default()
        },
    )?;
    Ok(revoked)
}

/// A user's login record: id, role code, lab, disabled flag and password hash (if any).
pub type LoginRow = (i64, String, Option<i64>, bool, Option<String>);

/// Reads what a login needs about `username`.
///
/// # Errors
/// Database errors.
pub fn login_row(tx: &mut Tx<'_>, username: &str) -> Result<Option<LoginRow>, AppError> {
    Ok(with_tx!(tx, |c| users::table
        .left_join(user_passwords::table)
        .filter(users::username.eq(username))
        .select((
            users::id,
            users::role,
            users::lab_id,
            users::disabled,
            user_passwords::password_hash.nullable()
        ))
        .first::<LoginRow>(c)
        .optional())?)
}

/// The instant until which `key` is locked (0 when not locked), ms.
///
/// # Errors
/// Database errors.
pub fn locked_until(tx: &mut Tx<'_>, key: &str) -> Result<i64, AppError> {
    Ok(with_tx!(tx, |c| login_throttle::table
        .find(key)
        .select(login_throttle::locked_until)
        .first::<i64>(c)
        .optional())?
    .unwrap_or(0))
}

/// Counts one failure for `key` and sets its lockout; returns (failures, locked_until ms).
/// A counter whose last failure is older than [`FAILURE_MEMORY_MS`] restarts from zero.
///
/// # Errors
/// Database errors.
pub fn record_failure(
    tx: &mut Tx<'_>,
    key: &str,
    free: i32,
    now_ms: i64,
) -> Result<(i32, i64), AppError> {
    let prev: Option<(i32, i64)> = with_tx!(tx, |c| login_throttle::table
        .find(key)
        .select((login_throttle::failures, login_throttle::last_failed_at))
        .first(c)
        .optional())?;
    let failures = match prev {
        Some((n, last)) if now_ms - last <= FAILURE_MEMORY_MS => n.saturating_add(1),
        _ => 1,
    };
    let until = now_ms + lockout_ms(failures, free);
    with_tx!(tx, |c| diesel::insert_into(login_throttle::table)
        .values((
            login_throttle::key.eq(key),
            login_throttle::failures.eq(failures),
            login_throttle::last_failed_at.eq(now_ms),
            login_throttle::locked_until.eq(until),
        ))
        .on_conflict(login_throttle::key)
        .do_update()
        .set((
            login_throttle::failures.eq(failures),
            login_throttle::last_failed_at.eq(now_ms),
            login_throttle::locked_until.eq(until),
        ))
        .execute(c))?;
    Ok((failures, until))
}

/// Forgets the failures of `key` (after a successful login).
///
/// # Errors
/// Database errors.
pub fn clear_failures(tx: &mut Tx<'_>, key: &str) -> Result<(), AppError> {
    with_tx!(tx, |c| diesel::delete(login_throttle::table.find(key))
        .execute(c))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockout_doubles_after_the_free_failures_and_is_capped() {
        // Failures 1..=4 of 5 free: no lockout.
        assert_eq!(lockout_ms(4, 5), 0);
        // 5th failure: 1 s × 2^0 = 1 000 ms; 6th: 2 000; 8th: 1 000 × 2^3 = 8 000.
        assert_eq!(lockout_ms(5, 5), 1_000);
        assert_eq!(lockout_ms(6, 5), 2_000);
        assert_eq!(lockout_ms(8, 5), 8_000);
        // 15th: 1 000 × 2^10 = 1 024 000 ms > 900 000 (15 min) → capped at 900 000.
        assert_eq!(lockout_ms(15, 5), 900_000);
        assert_eq!(lockout_ms(i32::MAX, 5), 900_000);
    }

    #[test]
    fn password_rules_count_characters_not_bytes() {
        assert!(check_password_rules("short-pw-11").is_err()); // 11 characters
        assert!(check_password_rules("twelve-chars").is_ok()); // 12 characters
                                                               // 6 Chinese characters are 18 bytes but 6 characters: refused.
        assert!(check_password_rules("煤质检测密码").is_err());
        assert!(check_password_rules(&"x".repeat(1025)).is_err());
    }

    #[test]
    fn password_is_the_first_line_without_its_line_end() {
        let pw = read_password("  spaces kept  \r\nsecond line".as_bytes()).unwrap();
        assert_eq!(pw, "  spaces kept  ");
        assert!(read_password("too short\n".as_bytes()).is_err());
    }

    #[test]
    fn expiry_accepts_a_date_or_an_instant() {
        let now = 1_764_460_800_000; // 2025-11-30T00:00:00Z
                                     // 2025-12-01 midnight UTC = now + 86 400 000 ms.
        assert_eq!(parse_expiry("2025-12-01", now).unwrap(), now + 86_400_000);
        assert_eq!(
            parse_expiry("2025-12-01T08:00:00+08:00", now).unwrap(),
            now + 86_400_000
        );
        assert!(parse_expiry("2025-11-29", now).is_err()); // in the past
        assert!(parse_expiry("next week", now).is_err());
    }

    #[test]
    fn argon2id_hash_verifies_only_the_right_password() {
        let phc = hash_password("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$"), "{phc}");
        assert!(verify_password("correct horse battery", &phc));
        assert!(!verify_password("correct horse batterY", &phc));
        assert!(!verify_password("anything", "not a phc string"));
        // Salted: the same password hashes differently each time.
        assert_ne!(phc, hash_password("correct horse battery").unwrap());
    }
}
