//! Settings from the command line and the environment (`COALLAB_BIND`, `COALLAB_DATA_DIR`,
//! `DATABASE_URL`), validated at start with one clear message per wrong value.

use std::path::PathBuf;

use crate::db::Db;
use crate::error::AppError;

/// Where the data lives.
#[derive(Debug, Clone)]
pub struct StorageSettings {
    /// Directory of the SQLite file (created if missing). Default `./data`.
    pub data_dir: PathBuf,
    /// `postgres://…` or `sqlite://PATH`; unset → `DATA_DIR/coallab.db`.
    pub database_url: Option<String>,
}

impl StorageSettings {
    /// The database URL in effect.
    pub fn url(&self) -> String {
        match &self.database_url {
            Some(u) if !u.trim().is_empty() => u.trim().to_string(),
            _ => self
                .data_dir
                .join("coallab.db")
                .to_string_lossy()
                .to_string(),
        }
    }

    /// Opens the database (creating the data directory for SQLite) and runs migrations.
    ///
    /// # Errors
    /// [`AppError::Config`] naming what is wrong (unreachable server, unwritable directory…).
    pub fn open(&self, pool_size: u32) -> Result<Db, AppError> {
        let url = self.url();
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            if self
                .database_url
                .as_deref()
                .is_some_and(|u| u.contains("://") && !u.starts_with("sqlite://"))
            {
                return Err(AppError::Config(format!("DATABASE_URL must start with postgres://, postgresql:// or sqlite:// (got '{}')", crate::ops::settings::redact_url(&url))));
            }
            std::fs::create_dir_all(&self.data_dir).map_err(|e| {
                AppError::Config(format!(
                    "cannot create data directory {}: {e}",
                    self.data_dir.display()
                ))
            })?;
        }
        let db = Db::open(&url, pool_size)?;
        crate::db::migrate::run_migrations(&db)?;
        Ok(db)
    }

    /// Opens a database that must already exist, for commands that only read or check it
    /// (`audit verify`): a mistyped `--data-dir` must not create an empty database and report
    /// on that.
    ///
    /// # Errors
    /// [`AppError::Config`] when the SQLite file does not exist; every error of [`Self::open`].
    pub fn open_existing(&self, pool_size: u32) -> Result<Db, AppError> {
        let url = self.url();
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            let path = PathBuf::from(url.strip_prefix("sqlite://").unwrap_or(&url));
            if !path.is_file() {
                return Err(AppError::Config(format!(
                    "no coallab database at {} (check --data-dir or DATABASE_URL)",
                    path.display()
                )));
            }
        }
        self.open(pool_size)
    }
}
