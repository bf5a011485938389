//! Comparing the rows two databases hold for the same samples (tests/generate.rs and
//! tests/import_samples.rs check that a bulk path writes exactly the rows of the workflow).

use coallab::db::{Db, Tx};
use diesel::sql_types::{BigInt, Text};
use diesel::{QueryableByName, RunQueryDsl};

/// The tables a sample's lifecycle writes, each with the order that makes its rows comparable.
pub const TABLES: [(&str, &str); 8] = [
    ("samples", "id"),
    ("sampling_records", "sample_id"),
    ("stages", "id"),
    ("determinations", "id"),
    ("analysis_runs", "stage_id, analysis, run"),
    ("stage_results", "stage_id, parameter"),
    ("limit_verdicts", "stage_id, limit_set_id, parameter"),
    ("audit_events", "seq"),
];

/// One `COUNT(*) AS n` row.
#[derive(QueryableByName)]
pub struct Count {
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

/// One `… AS h` text row.
#[derive(QueryableByName)]
pub struct Digest {
    #[diesel(sql_type = Text)]
    pub h: String,
}

/// MD5 of every row of `table` in `order` (PostgreSQL only).
pub fn pg_digest(db: &Db, table: &str, order: &str) -> String {
    db.read(|tx| {
        let q = format!(
            "SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY {order}), '')) AS h FROM {table} t"
        );
        Ok(match tx {
            Tx::Pg(c) => diesel::sql_query(q).get_result::<Digest>(*c)?.h,
            Tx::Sqlite(_) => unreachable!("pg_digest on a SQLite database"),
        })
    })
    .unwrap()
}
