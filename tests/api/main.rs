//! Integration tests over real HTTP: each test starts the coallab server on a random port over
//! its own fresh database (a SQLite file, or a PostgreSQL database dropped afterwards) seeded
//! with the demo people, and walks the API as the lab, the regulator and the auditor would.
//!
//! Every scenario runs twice: `sqlite_<scenario>` and `pg_<scenario>` (`cargo test --test api
//! pg_` runs only the PostgreSQL half; without a reachable PostgreSQL those print SKIPPED, or
//! fail when `CI=true`).

mod checks;
mod helpers;

mod audit;
mod bad_input;
mod health;
mod imports;
mod lists;
mod retest;
mod token_cache;
mod workflow;
