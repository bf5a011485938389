//! Connection pools for SQLite and PostgreSQL behind one type.

use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::{Connection, PgConnection, SqliteConnection};
use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::error::AppError;

/// Which database backend a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file (the default).
    Sqlite,
    /// PostgreSQL server, for several coallab servers on one database.
    Postgres,
}

/// A pool of connections to either backend. Cheap to clone.
#[derive(Clone)]
pub enum Db {
    /// SQLite pool.
    Sqlite(SqlitePool),
    /// PostgreSQL pool.
    Pg(Pool<ConnectionManager<PgConnection>>),
}

/// A borrowed connection of either backend; inside [`Db::transaction`] it is one transaction.
pub enum Tx<'a> {
    /// SQLite connection.
    Sqlite(&'a mut SqliteConnection),
    /// PostgreSQL connection.
    Pg(&'a mut PgConnection),
}

/// The SQLite pool and the file it opens (for [`SqlitePool::open_reader`]). Derefs to the pool.
#[derive(Clone)]
pub struct SqlitePool {
    pool: Pool<ConnectionManager<SqliteConnection>>,
    url: Arc<str>,
}

impl Deref for SqlitePool {
    type Target = Pool<ConnectionManager<SqliteConnection>>;
    fn deref(&self) -> &Self::Target {
        &self.pool
    }
}

impl SqlitePool {
    /// Opens a connection of its own to the same file, outside the pool, that can only read
    /// (`PRAGMA query_only`): for an HTTP worker's short reads on its own thread
    /// (src/api/worker_reads.rs). Waits at most 2 s for a lock (a reader of a WAL database
    /// waits only while the file is being recovered).
    ///
    /// # Errors
    /// [`AppError::Unavailable`] when the file cannot be opened.
    pub fn open_reader(&self) -> Result<SqliteConnection, AppError> {
        let mut c = SqliteConnection::establish(&self.url)
            .map_err(|e| AppError::Unavailable(format!("cannot open the SQLite database: {e}")))?;
        c.batch_execute(
            "PRAGMA busy_timeout = 2000; PRAGMA foreign_keys = ON; PRAGMA query_only = ON;",
        )?;
        Ok(c)
    }
}

#[derive(Debug)]
struct SqlitePragmas;

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(
            "PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
        )
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

impl Db {
    /// Opens (creating if needed) the SQLite database file at `path`.
    ///
    /// # Errors
    /// [`AppError::Config`] when the file cannot be opened.
    pub fn open_sqlite(path: &Path, pool_size: u32) -> Result<Db, AppError> {
        let url = path.to_string_lossy().to_string();
        // Open once directly so that a bad path gives its real error, and switch the file to WAL
        // (a persistent setting) before the pool opens connections in parallel.
        let mut first = SqliteConnection::establish(&url)
            .map_err(|e| AppError::Config(format!("cannot open SQLite database {url}: {e}")))?;
        first
            .batch_execute("PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL;")
            .map_err(|e| AppError::Config(format!("cannot switch {url} to WAL: {e}")))?;
        drop(first);
        let pool = Pool::builder()
            .max_size(pool_size)
            .connection_timeout(Duration::from_secs(10))
            .connection_customizer(Box::new(SqlitePragmas))
            .build(ConnectionManager::<SqliteConnection>::new(url.clone()))
            .map_err(|e| AppError::Config(format!("SQLite pool: {e}")))?;
        Ok(Db::Sqlite(SqlitePool {
            pool,
            url: url.into(),
        }))
    }

    /// Connects to PostgreSQL at `url` (`postgres://…`).
    ///
    /// # Errors
    /// [`AppError::Config`] with the server's own message when it cannot be reached.
    pub fn open_postgres(url: &str, pool_size: u32) -> Result<Db, AppError> {
        PgConnection::establish(url)
            .map_err(|e| AppError::Config(format!("cannot connect to PostgreSQL: {e}")))?;
        let pool = Pool::builder()
            .max_size(pool_size)
            .connection_timeout(Duration::from_secs(10))
            .build(ConnectionManager::<PgConnection>::new(url))
            .map_err(|e| AppError::Config(format!("PostgreSQL pool: {e}")))?;
        Ok(Db::Pg(pool))
    }

    /// Opens the database named by `url`: `postgres://` or `postgresql://` → PostgreSQL,
    /// `sqlite://PATH` or a plain path → SQLite.
    ///
    /// # Errors
    /// [`AppError::Config`] when the database cannot be opened.
    pub fn open(url: &str, pool_size: u32) -> Result<Db, AppError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Db::open_postgres(url, pool_size)
        } else {
            let path = url.strip_prefix("sqlite://").unwrap_or(url);
            Db::open_sqlite(Path::new(path), pool_size)
        }
    }

    /// The backend of this pool.
    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Pg(_) => Backend::Postgres,
        }
    }

    /// Runs `f` on a pooled connection without a transaction (reads).
    ///
    /// # Errors
    /// [`AppError::Unavailable`] when no connection can be had; whatever `f` returns.
    pub fn read<T>(
        &self,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        match self {
            Db::Sqlite(p) => {
                let mut c: PooledConnection<_> = p.get().map_err(unavailable)?;
                f(&mut Tx::Sqlite(&mut c))
            }
            Db::Pg(p) => {
                let mut c: PooledConnection<_> = p.get().map_err(unavailable)?;
                f(&mut Tx::Pg(&mut c))
            }
        }
    }

    /// Runs `f` inside one write transaction: all of it commits or none of it does.
    /// SQLite takes the write lock at the start (`BEGIN IMMEDIATE`) so concurrent writers queue
    /// instead of failing on lock upgrade.
    ///
    /// # Errors
    /// [`AppError::Unavailable`] when no connection can be had; whatever `f` returns (the
    /// transaction is rolled back).
    pub fn transaction<T>(
        &self,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        match self {
            Db::Sqlite(p) => {
                let mut c = p.get().map_err(unavailable)?;
                c.immediate_transaction(|c| f(&mut Tx::Sqlite(c)))
            }
            Db::Pg(p) => {
                let mut c = p.get().map_err(unavailable)?;
                c.transaction(|c| f(&mut Tx::Pg(c)))
            }
        }
    }
}

impl Db {
    /// Refreshes the planner's statistics where they are stale. SQLite keeps none on its own:
    /// `PRAGMA optimize` (SQLite ≥ 3.46, with a bounded `analysis_limit`) runs ANALYZE on the
    /// tables whose size changed much since their last analysis, so that the planner weighs
    /// indexes by their real selectivity (docs/performance.md). PostgreSQL's autovacuum does
    /// this itself: nothing to do there. Called at start and every hour by `coallab serve`.
    ///
    /// # Errors
    /// Database errors.
    pub fn optimize(&self) -> Result<(), AppError> {
        match self {
            Db::Sqlite(p) => {
                let mut c = p.get().map_err(unavailable)?;
                c.batch_execute("PRAGMA analysis_limit = 1000; PRAGMA optimize = 0x10002;")?;
                Ok(())
            }
            Db::Pg(_) => Ok(()),
        }
    }
}

impl Tx<'_> {
    /// The backend of this connection.
    pub fn backend(&self) -> Backend {
        match self {
            Tx::Sqlite(_) => Backend::Sqlite,
            Tx::Pg(_) => Backend::Postgres,
        }
    }
}

fn unavailable(e: diesel::r2d2::PoolError) -> AppError {
    AppError::Unavailable(format!("no database connection: {e}"))
}
