//! The HTTP worker's own SQLite read connection (src/api/worker_reads.rs,
//! `SqlitePool::open_reader`): it cannot write, and it reads the last committed state at once
//! while a writer holds the write lock (WAL), so a lookup on the worker's thread never waits
//! for a write transaction.

use coallab::db::Db;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn labs(c: &mut SqliteConnection) -> i64 {
    diesel::sql_query("SELECT COUNT(*) AS n FROM labs")
        .get_result::<Count>(c)
        .unwrap()
        .n
}

#[test]
fn the_worker_reader_cannot_write_and_never_waits_for_a_writer() {
    let dir = tempfile::tempdir().unwrap();
    let settings = coallab::config::StorageSettings {
        data_dir: dir.path().to_path_buf(),
        database_url: None,
    };
    let db = settings.open(4).unwrap();
    let Db::Sqlite(pool) = &db else {
        panic!("the default storage is SQLite")
    };
    let mut reader = pool.open_reader().unwrap();
    let before = labs(&mut reader);

    // Read-only: a write is refused by SQLite itself, and nothing is written.
    let err = reader
        .batch_execute("INSERT INTO labs (code, name, created_at) VALUES ('R-1', 'r', 0)")
        .unwrap_err();
    assert!(err.to_string().contains("readonly"), "{err}");
    assert_eq!(labs(&mut reader), before);

    // A writer takes the write lock and inserts a lab without committing: the reader answers
    // with the committed state. (Were it waiting for the lock, it would give up after its 2 s
    // busy timeout with "database is locked", as this thread holds the lock meanwhile.)
    let mut writer = pool.get().unwrap();
    writer
        .batch_execute(
            "BEGIN IMMEDIATE; INSERT INTO labs (code, name, created_at) VALUES ('W-1', 'w', 0);",
        )
        .unwrap();
    assert_eq!(labs(&mut reader), before);
    // Once committed, the next read sees it.
    writer.batch_execute("COMMIT;").unwrap();
    assert_eq!(labs(&mut reader), before + 1);
}
