//! `coallab backup FILE` and `coallab restore FILE [--force]` (issue 9; ISO/IEC 17025 §7.11 asks
//! a lab to protect its data and prove it can recover it).
//!
//! - SQLite: `VACUUM INTO 'FILE'` copies the database inside one read transaction, so the copy is
//!   consistent while the server keeps writing (WAL readers do not block writers). The copy is
//!   then opened, checked with `PRAGMA integrity_check` and its audit chain verified.
//! - PostgreSQL: `pg_dump --format=custom` (one snapshot, consistent while servers write); the
//!   dump is checked with `pg_restore --list`. Restore runs `pg_restore --clean --if-exists
//!   --single-transaction`, so a failed restore leaves the target as it was.
//!
//! Restore refuses a database that holds any lab, user, sample or audit event unless `force`
//! is given, migrates the restored copy to the current schema, and verifies its audit chain.
//! Stop the servers before a restore (docs/operations.md, "Restore drill").

use std::path::{Path, PathBuf};
use std::process::Command;

use diesel::connection::SimpleConnection;
use diesel::{Connection, ExpressionMethods, QueryDsl, RunQueryDsl, SqliteConnection};
use serde::Serialize;

use crate::config::StorageSettings;
use crate::db::schema::{audit_events, labs, samples, stages, users};
use crate::db::Db;
use crate::error::AppError;
use crate::ops::settings::redact_url;
use crate::service::audit::{self, ChainReport};
use crate::with_tx;

/// Row counts that a backup and its restored copy must agree on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Labs.
    pub labs: i64,
    /// Users.
    pub users: i64,
    /// Samples.
    pub samples: i64,
    /// Stages (initial tests and retests).
    pub stages: i64,
    /// Released stages (each carries a released result and verdict).
    pub released_results: i64,
    /// Audit events.
    pub audit_events: i64,
}

impl Counts {
    /// True when nothing worth keeping is there.
    pub fn is_empty(&self) -> bool {
        self.labs + self.users + self.samples + self.audit_events == 0
    }
}

/// What a backup or restore did.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// "sqlite" or "postgres".
    pub backend: &'static str,
    /// The backup file.
    pub file: String,
    /// Size of the backup file in bytes.
    pub bytes: u64,
    /// Counts in the copy (backup) or the restored database (restore).
    pub counts: Counts,
    /// The audit chain of the copy (SQLite backup) or of the restored database; None where the
    /// copy cannot be opened without restoring it (a PostgreSQL dump).
    pub audit_chain: Option<ChainReport>,
}

/// Counts the rows of `db`.
///
/// # Errors
/// Database errors.
pub fn counts(db: &Db) -> Result<Counts, AppError> {
    db.read(|tx| {
        Ok(with_tx!(tx, |c| Counts {
            labs: labs::table.count().get_result(c)?,
            users: users::table.count().get_result(c)?,
            samples: samples::table.count().get_result(c)?,
            stages: stages::table.count().get_result(c)?,
            released_results: stages::table
                .filter(stages::released_at.is_not_null())
                .count()
                .get_result(c)?,
            audit_events: audit_events::table.count().get_result(c)?,
        }))
    })
}

fn pg_counts(c: &mut diesel::PgConnection) -> Result<Counts, AppError> {
    Ok(Counts {
        labs: labs::table.count().get_result(c)?,
        users: users::table.count().get_result(c)?,
        samples: samples::table.count().get_result(c)?,
        stages: stages::table.count().get_result(c)?,
        released_results: stages::table
            .filter(stages::released_at.is_not_null())
            .count()
            .get_result(c)?,
        audit_events: audit_events::table.count().get_result(c)?,
    })
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

fn sqlite_path(settings: &StorageSettings) -> PathBuf {
    let url = settings.url();
    PathBuf::from(url.strip_prefix("sqlite://").unwrap_or(&url))
}

fn file_size(file: &Path) -> u64 {
    std::fs::metadata(file).map(|m| m.len()).unwrap_or(0)
}

fn run_tool(mut cmd: Command, what: &str, url: &str) -> Result<(), AppError> {
    let out = cmd.output().map_err(|e| {
        AppError::Config(format!(
            "cannot run {what}: {e} (install the PostgreSQL client tools of the server's major version)"
        ))
    })?;
    if out.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr).replace(url, &redact_url(url));
        Err(AppError::Config(format!(
            "{what} failed ({}): {}",
            out.status,
            stderr.trim()
        )))
    }
}

/// Checks a SQLite file with `PRAGMA integrity_check`.
///
/// # Errors
/// [`AppError::Config`] when it cannot be opened or is damaged.
pub fn sqlite_integrity(path: &Path) -> Result<(), AppError> {
    let mut c = open_file(path)?;
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        integrity_check: String,
    }
    let rows: Vec<Row> = diesel::sql_query("PRAGMA integrity_check")
        .load(&mut c)
        .map_err(|e| {
            AppError::Config(format!("{} is not a coallab database: {e}", path.display()))
        })?;
    let text: Vec<String> = rows.into_iter().map(|r| r.integrity_check).collect();
    if text == ["ok"] {
        Ok(())
    } else {
        Err(AppError::Config(format!(
            "{} fails the integrity check: {}",
            path.display(),
            text.join("; ")
        )))
    }
}

fn open_file(path: &Path) -> Result<SqliteConnection, AppError> {
    SqliteConnection::establish(&path.to_string_lossy())
        .map_err(|e| AppError::Config(format!("cannot open {}: {e}", path.display())))
}

/// Checks that the SQLite file at `path` holds coallab's tables (the migrations' record, labs,
/// users, samples and the audit chain), so that a restore never puts another program's
/// database in place of coallab's.
///
/// # Errors
/// [`AppError::Config`] naming the tables that are missing.
pub fn sqlite_is_coallab(path: &Path) -> Result<(), AppError> {
    let mut c = open_file(path)?;
    #[derive(diesel::QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let tables: Vec<Name> =
        diesel::sql_query("SELECT name FROM sqlite_master WHERE type = 'table'")
            .load(&mut c)
            .map_err(|e| {
                AppError::Config(format!("{} is not a coallab database: {e}", path.display()))
            })?;
    let missing: Vec<&str> = [
        "__diesel_schema_migrations",
        "labs",
        "users",
        "samples",
        "audit_events",
    ]
    .into_iter()
    .filter(|t| !tables.iter().any(|n| n.name == *t))
    .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(AppError::Config(format!(
            "{} is not a coallab backup: it has no table {}",
            path.display(),
            missing.join(", ")
        )))
    }
}

/// Takes a consistent online copy of the database into `file` (which must not exist).
///
/// # Errors
/// [`AppError::Config`] when `file` exists, the copy fails, or the copy does not verify.
pub fn backup(settings: &StorageSettings, file: &Path) -> Result<Report, AppError> {
    if file.exists() {
        return Err(AppError::Config(format!(
            "{} exists; a backup never overwrites a file",
            file.display()
        )));
    }
    let url = settings.url();
    if is_postgres(&url) {
        drop(settings.open(1)?); // migrations current, server reachable
                                 // Count inside a REPEATABLE READ transaction and let pg_dump share its snapshot, so the
                                 // counts reported are exactly those of the dump.
        let mut conn = diesel::PgConnection::establish(&url)
            .map_err(|e| AppError::Config(format!("cannot connect to PostgreSQL: {e}")))?;
        conn.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
        #[derive(diesel::QueryableByName)]
        struct Snap {
            #[diesel(sql_type = diesel::sql_types::Text)]
            snapshot: String,
        }
        let snap: Snap =
            diesel::sql_query("SELECT pg_export_snapshot() AS snapshot").get_result(&mut conn)?;
        let counts = pg_counts(&mut conn)?;
        let mut cmd = Command::new("pg_dump");
        cmd.arg("--format=custom")
            .arg("--no-owner")
            .arg(format!("--snapshot={}", snap.snapshot))
            .arg("--file")
            .arg(file)
            .arg("--dbname")
            .arg(&url);
        let dumped = run_tool(cmd, "pg_dump", &url);
        let _ = conn.batch_execute("COMMIT");
        dumped?;
        let mut list = Command::new("pg_restore");
        list.arg("--list").arg(file);
        run_tool(list, "pg_restore --list (checking the dump)", &url)?;
        return Ok(Report {
            backend: "postgres",
            file: file.display().to_string(),
            bytes: file_size(file),
            counts,
            audit_chain: None,
        });
    }
    let db = settings.open(1)?;
    let target = file.to_string_lossy().replace('\'', "''");
    db.read(|tx| {
        with_tx!(tx, |c| c.batch_execute(&format!("VACUUM INTO '{target}'")))?;
        Ok(())
    })
    .map_err(|e| AppError::Config(format!("VACUUM INTO {} failed: {e}", file.display())))?;
    drop(db);
    sqlite_integrity(file)?;
    let copy = Db::open_sqlite(file, 1)?;
    let counts = counts(&copy)?;
    let chain = audit::verify(&copy)?;
    // Leave the copy as one self-contained file (rollback journal, not WAL).
    copy.read(|tx| {
        with_tx!(tx, |c| c.batch_execute("PRAGMA journal_mode = DELETE"))?;
        Ok(())
    })?;
    drop(copy);
    if !chain.ok {
        return Err(AppError::Config(format!(
            "the copy's audit chain does not verify: {:?}",
            chain.first_broken
        )));
    }
    Ok(Report {
        backend: "sqlite",
        file: file.display().to_string(),
        bytes: file_size(file),
        counts,
        audit_chain: Some(chain),
    })
}

fn backup_kind(file: &Path) -> Result<&'static str, AppError> {
    use std::io::Read;
    let mut head = [0u8; 16];
    let mut f = std::fs::File::open(file)
        .map_err(|e| AppError::Config(format!("cannot read {}: {e}", file.display())))?;
    let n = f.read(&mut head).unwrap_or(0);
    if n >= 16 && &head == b"SQLite format 3\0" {
        Ok("sqlite")
    } else if n >= 5 && &head[..5] == b"PGDMP" {
        Ok("postgres")
    } else {
        Err(AppError::Config(format!(
            "{} is neither a SQLite backup nor a pg_dump custom-format dump",
            file.display()
        )))
    }
}

/// Opens the restored copy at `tmp` as coallab does (running the migrations) and verifies its
/// audit chain; closes it again, so that it is one file without a write-ahead log.
///
/// # Errors
/// [`AppError::Config`] when the copy cannot be migrated or its chain does not verify.
fn check_copy(tmp: &Path) -> Result<(), AppError> {
    let settings = StorageSettings {
        data_dir: tmp.parent().map(Path::to_path_buf).unwrap_or_default(),
        database_url: Some(format!("sqlite://{}", tmp.display())),
    };
    let db = settings.open(1).map_err(|e| {
        AppError::Config(format!(
            "the backup cannot be opened as coallab's database, nothing was restored: {e}"
        ))
    })?;
    let chain = audit::verify(&db)?;
    drop(db);
    if !chain.ok {
        return Err(AppError::Config(format!(
            "the backup's audit chain does not verify{}; nothing was restored",
            broken_at(&chain)
        )));
    }
    if Path::new(&format!("{}-wal", tmp.display())).exists() {
        return Err(AppError::Config(format!(
            "the checked copy {} was not closed cleanly; nothing was restored",
            tmp.display()
        )));
    }
    Ok(())
}

/// " at event N: problem" for a chain that does not verify (empty when no link is named).
fn broken_at(chain: &ChainReport) -> String {
    chain
        .first_broken
        .as_ref()
        .map(|b| format!(" at event {}: {}", b.seq, b.problem))
        .unwrap_or_default()
}

/// Removes `path` and its `-wal` and `-shm` files, if any.
fn remove_with_journal(path: &Path) {
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
    }
}

/// Restores `file` into the configured database. Refuses a non-empty target unless `force`.
///
/// # Errors
/// [`AppError::Config`] for a wrong kind of file, a non-empty target without `force`, a failed
/// copy or a restored database whose audit chain does not verify.
pub fn restore(settings: &StorageSettings, file: &Path, force: bool) -> Result<Report, AppError> {
    let kind = backup_kind(file)?;
    let url = settings.url();
    let pg = is_postgres(&url);
    if (kind == "postgres") != pg {
        return Err(AppError::Config(format!(
            "{} is a {kind} backup but the configured database is {}",
            file.display(),
            if pg { "PostgreSQL" } else { "SQLite" }
        )));
    }
    let refuse = |c: Counts| {
        AppError::Config(format!(
            "the target database is not empty ({} labs, {} users, {} samples, {} audit events); \
             restore overwrites it only with --force",
            c.labs, c.users, c.samples, c.audit_events
        ))
    };
    if pg {
        let db = settings.open(1)?;
        let before = counts(&db)?;
        drop(db);
        if !before.is_empty() && !force {
            return Err(refuse(before));
        }
        let mut cmd = Command::new("pg_restore");
        cmd.arg("--clean")
            .arg("--if-exists")
            .arg("--no-owner")
            .arg("--single-transaction")
            .arg("--dbname")
            .arg(&url)
            .arg(file);
        run_tool(cmd, "pg_restore", &url)?;
    } else {
        let path = sqlite_path(settings);
        if path.exists() {
            let db = settings.open(1)?;
            let before = counts(&db)?;
            drop(db);
            if !before.is_empty() && !force {
                return Err(refuse(before));
            }
        }
        sqlite_integrity(file)?;
        sqlite_is_coallab(file)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| AppError::Config(format!("cannot create {}: {e}", dir.display())))?;
        }
        // Copy beside the target, then rename over it: the target is either the old database or
        // the whole backup, never half of one.
        let tmp = PathBuf::from(format!("{}.restore-tmp", path.display()));
        std::fs::copy(file, &tmp)
            .map_err(|e| AppError::Config(format!("cannot copy to {}: {e}", tmp.display())))?;
        // Migrate and verify the copy before it replaces anything: a backup that cannot be
        // migrated or whose chain is broken leaves the database as it was.
        if let Err(e) = check_copy(&tmp) {
            remove_with_journal(&tmp);
            return Err(e);
        }
        for ext in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
        }
        std::fs::rename(&tmp, &path).map_err(|e| {
            AppError::Config(format!("cannot move the copy to {}: {e}", path.display()))
        })?;
    }
    let db = settings.open(1)?;
    let counts = counts(&db)?;
    let chain = audit::verify(&db)?;
    if !chain.ok {
        return Err(AppError::Config(format!(
            "restored, but the audit chain does not verify{}",
            broken_at(&chain)
        )));
    }
    Ok(Report {
        backend: if pg { "postgres" } else { "sqlite" },
        file: file.display().to_string(),
        bytes: file_size(file),
        counts,
        audit_chain: Some(chain),
    })
}
