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
