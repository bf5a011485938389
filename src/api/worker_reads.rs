//! Short reads on the HTTP worker's own thread, for the hot lookups (the regulator's status
//! lookup; docs/performance.md "What was tuned").
//!
//! Every other handler hands its database work to actix's blocking thread pool and takes a
//! pooled connection there ([`crate::api::blocking`]): two thread hand-offs and a pool lock per
//! request, which on a 2-core machine cost more than an indexed SQLite lookup itself. On
//! SQLite, a [`WorkerReads`] instead gives each HTTP worker a read-only connection of its own
//! (`PRAGMA query_only`, outside the pool), used on the worker's thread. A reader of a WAL
//! database never waits for writers, so the worker is held only for the lookup itself (a few
//! index pages). On PostgreSQL a read is a network round trip that can wait on the server,
//! so reads stay on the blocking pool there.
//!
//! Only point reads through an index belong here: a long read would stall every connection
//! of the worker.

use std::cell::RefCell;

use diesel::SqliteConnection;

use crate::api::{blocking, AppState};
use crate::db::{Db, Tx};
use crate::error::AppError;

/// One per HTTP worker: created by the worker's app factory (src/server.rs) and never shared
/// between threads. Holds the worker's SQLite read connection, opened at first use.
#[derive(Default)]
pub struct WorkerReads {
    sqlite: RefCell<Option<SqliteConnection>>,
}

impl WorkerReads {
    /// Runs the point read `f`: on SQLite at once on this thread with the worker's read-only
    /// connection; on PostgreSQL on the blocking pool with a pooled connection. `f` cannot
    /// write on SQLite (the connection is read-only: a write fails with a database error).
    ///
    /// # Errors
    /// Whatever `f` returns; [`AppError::Unavailable`] when the connection cannot be opened.
    /// After a database error the SQLite connection is closed, and opened anew next time.
    pub async fn read<T, F>(&self, state: &AppState, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T, AppError> + Send + 'static,
    {
        match &state.db {
            Db::Sqlite(pool) => {
                // Borrowed only inside this synchronous block, never across an await.
                let mut slot = self.sqlite.borrow_mut();
                let conn = match slot.as_mut() {
                    Some(c) => c,
                    None => slot.insert(pool.open_reader()?),
                };
                let result = f(&mut Tx::Sqlite(conn));
                if matches!(result, Err(AppError::Database(_))) {
                    *slot = None;
                }
                result
            }
            Db::Pg(_) => {
                let db = state.db.clone();
                blocking(move || db.read(f)).await
            }
        }
    }
}
