//! The two shapes every sample write handler shares: resolve the `{key}` of the path (id,
//! sample code or lab code) and run the use case in one write transaction off the executor;
//! optionally answer with the sample as the caller may see it.

use chrono::{DateTime, Utc};

use crate::api::access::{require, Endpoint};
use crate::api::auth::LazyAuth;
use crate::api::blocking;
use crate::db::{Db, Tx};
use crate::error::AppError;
use crate::service::auth::CurrentUser;
use crate::service::samples::resolve;
use crate::service::view::{sample_view, SampleView};

/// Runs `f(tx, sample_id, now)` in one write transaction and returns what it returns.
///
/// # Errors
/// 404 for an unknown key; whatever `f` returns (the transaction is rolled back).
pub async fn in_sample_tx<T: Send + 'static>(
    db: &Db,
    key: String,
    f: impl FnOnce(&mut Tx<'_>, i64, DateTime<Utc>) -> Result<T, AppError> + Send + 'static,
) -> Result<T, AppError> {
    let db = db.clone();
    blocking(move || {
        let now = Utc::now();
        db.transaction(|tx| {
            let id = resolve(tx, &key)?;
            f(tx, id, now)
        })
    })
    .await
}

/// Like [`in_sample_tx`] for a caller whose bearer token is still to be checked: the token is
/// looked up and the user's access to `endpoint` checked in the same hand-over to the blocking
/// pool, before the write transaction (which then gets the user), so the request takes one
/// hand-over instead of two.
///
/// # Errors
/// 401 for a bad token; 403 when the role may not use `endpoint`; as [`in_sample_tx`].
pub async fn in_sample_tx_as<T: Send + 'static>(
    db: &Db,
    auth: LazyAuth,
    endpoint: Endpoint,
    key: String,
    f: impl FnOnce(&mut Tx<'_>, &CurrentUser, i64, DateTime<Utc>) -> Result<T, AppError>
        + Send
        + 'static,
) -> Result<T, AppError> {
    let db = db.clone();
    blocking(move || {
        let user = db.read(|tx| auth.user(tx))?;
        require(&user, endpoint)?;
        let now = Utc::now();
        db.transaction(|tx| {
            let id = resolve(tx, &key)?;
            f(tx, &user, id, now)
        })
    })
    .await
}

/// Runs `f(tx, sample_id, now)` in one write transaction, then reads the sample back as `user`
/// may see it (after the commit).
///
/// # Errors
/// As [`in_sample_tx`], and 404 when the user may not see the sample afterwards.
pub async fn in_sample_tx_then_view(
    db: &Db,
    user: CurrentUser,
    key: String,
    f: impl FnOnce(&mut Tx<'_>, &CurrentUser, i64, DateTime<Utc>) -> Result<(), AppError>
        + Send
        + 'static,
) -> Result<SampleView, AppError> {
    let db = db.clone();
    blocking(move || {
        let now = Utc::now();
        let id = db.transaction(|tx| {
            let id = resolve(tx, &key)?;
            f(tx, &user, id, now)?;
            Ok(id)
        })?;
        db.read(|tx| sample_view(tx, &user, id, now))
    })
    .await
}
