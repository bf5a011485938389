//! Storage: the only place that knows which database backend is running.
//!
//! SQLite (default: a file in the data directory, WAL, foreign keys on, busy timeout) or
//! PostgreSQL (`DATABASE_URL=postgres://…`). Query code is written once against diesel's DSL and
//! compiled for both backends through [`with_tx!`]; a [`Tx`] is a borrowed connection of either
//! kind, usually inside one transaction.

pub mod migrate;
pub mod pool;
pub mod schema;

pub use pool::{Backend, Db, Tx};

/// Runs `$body` with `$c` bound to the concrete diesel connection behind a [`Tx`].
/// The body is compiled once per backend, so it may use any diesel DSL both backends support.
#[macro_export]
macro_rules! with_tx {
    ($tx:expr, |$c:ident| $body:expr) => {
        match $tx {
            $crate::db::Tx::Sqlite($c) => {
                #[allow(unused_imports)]
                use diesel::prelude::*;
                let $c: &mut diesel::SqliteConnection = &mut **$c;
                $body
            }
            $crate::db::Tx::Pg($c) => {
                #[allow(unused_imports)]
                use diesel::prelude::*;
                let $c: &mut diesel::PgConnection = &mut **$c;
                $body
            }
        }
    };
}

/// PostgreSQL advisory lock that serialises the check-then-insert of seal numbers
/// (registration and the samples CSV import), so that two servers cannot both find a seal
/// number free and both record it.
pub const SEAL_LOCK_KEY: i64 = 0x7365_616c;
/// PostgreSQL advisory lock that serialises the check-then-insert of supplier codes and
/// licence numbers (`sp-02` beside `SP-02` is refused; a plain unique index cannot say so).
pub const SUPPLIER_LOCK_KEY: i64 = 0x7375_7070;

/// Takes the transaction-scoped advisory lock `key` on PostgreSQL (held until commit or
/// rollback; taking it again in the same transaction is free). SQLite needs nothing: its write
/// transactions already run one at a time.
///
/// Take it before the transaction writes anything, so that every holder waits for it in the
/// same order.
///
/// # Errors
/// [`crate::error::AppError::Database`] when the statement fails.
pub fn lock_for_check(tx: &mut Tx<'_>, key: i64) -> Result<(), crate::error::AppError> {
    if let Tx::Pg(c) = tx {
        use diesel::connection::SimpleConnection;
        c.batch_execute(&format!("SELECT pg_advisory_xact_lock({key})"))?;
    }
    Ok(())
}
