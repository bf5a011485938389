//! Embedded migrations, one folder per backend, run on start.
//!
//! On PostgreSQL the run holds a session advisory lock so several servers starting at once on
//! one database migrate one at a time (STYLE.md: six servers racing failed 10 of 24 times without).

use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::db::{Db, Tx};
use crate::error::AppError;

const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");
/// Arbitrary constant key of the PostgreSQL advisory lock that guards migrations.
const MIGRATION_LOCK_KEY: i64 = 0x636f_616c_6c61_62;

/// Applies every pending migration; returns how many were applied.
///
/// # Errors
/// [`AppError::Config`] when a migration fails (nothing of that migration is applied).
pub fn run_migrations(db: &Db) -> Result<usize, AppError> {
    let fail = |e: Box<dyn std::error::Error + Send + Sync>| {
        AppError::Config(format!("migration failed: {e}"))
    };
    db.read(|tx| match tx {
        Tx::Sqlite(c) => {
            let applied = c.run_pending_migrations(SQLITE).map_err(fail)?;
            Ok(applied.len())
        }
        Tx::Pg(c) => {
            c.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))?;
            let result = c.run_pending_migrations(POSTGRES).map(|v| v.len());
            c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))?;
            result.map_err(fail)
        }
    })
}

/// Whether every embedded migration has been applied (for `/ready`).
///
/// # Errors
/// [`AppError::Unavailable`] when the database cannot be asked.
pub fn migrations_current(db: &Db) -> Result<bool, AppError> {
    db.read(|tx| {
        let pending = match tx {
            Tx::Sqlite(c) => c.pending_migrations(SQLITE).map(|v| v.len()),
            Tx::Pg(c) => c.pending_migrations(POSTGRES).map(|v| v.len()),
        }
        .map_err(|e| AppError::Unavailable(format!("cannot read migrations: {e}")))?;
        Ok(pending == 0)
    })
}

/// Number of embedded migrations for the backend (both folders carry the same versions).
pub fn embedded_count() -> usize {
    MigrationSource::<diesel::sqlite::Sqlite>::migrations(&SQLITE)
        .map(|m| m.len())
        .unwrap_or(0)
}
