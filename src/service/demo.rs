//! The demo county (in progress).
use crate::db::Db;
use crate::error::AppError;
use chrono::{DateTime, Utc};
/// Whether the database has no lab yet.
pub fn is_empty(db: &Db) -> Result<bool, AppError> {
    let _ = db;
    Ok(false)
}
/// Seeds.
pub fn seed(db: &Db, now: DateTime<Utc>) -> Result<String, AppError> {
    let _ = (db, now);
    Ok(String::new())
}
