//! The samples import (docs/formats.md, samples; issue 8 made it a bulk writer): it writes
//! exactly the rows that the real services write for the same file (every table of the sample
//! lifecycle and the audit chain, SQLite and PostgreSQL), stays all or nothing with row-numbered
//! errors, and importing twice changes nothing.

mod ops_support;

use chrono::{TimeZone, Utc};
use coallab::db::{Db, Tx};
use coallab::ops::progress::NoProgress;
use coallab::service::auth::CurrentUser;
use coallab::service::import::{import_samples, SamplesWriter};
use diesel::connection::SimpleConnection;
use diesel::sql_types::Text;
use diesel::{QueryableByName, RunQueryDsl};
use ops_support::lifecycle_rows::{pg_digest, Count, TABLES};
use ops_support::{Backend, Fresh};

#[derive(QueryableByName)]
struct StateRow {
    #[diesel(sql_type = Text)]
    state: String,
}

const HEADER: &str = "supplier_code,sampled_at,samplers,test_seal_no,retained_seal_no,coal_category,lot_no,mad,aad,st_ad";
/// The example of docs/formats.md.
const EXAMPLE: &str = "SP-01,2026-11-28T09:30:00+08:00,张伟;刘洋,T-2026-0001,B-2026-0001,无烟块煤,LOT-17,2.10;2.16,12.10;12.32;12.20,0.48;0.50
SP-05,2026-11-28T10:15:00+08:00,张伟;刘洋,T-2026-0002,B-2026-0002,无烟块煤,LOT-18,1.95;2.05,14.20,0.71;0.73
PE-02,2026-11-28T11:00:00+08:00,张伟;刘洋,T-2026-0003,B-2026-0003,型煤,LOT-19,,,";

/// The example plus 240 rows that cycle through: complete pairs, a pair that needs a third,
/// a discard-and-restart (four far apart, then a new run of two), a missing analysis, no values.
fn file() -> String {
    let mut s = format!("{HEADER}\n{EXAMPLE}\n");
    let sups = [
        "PE-01", "PE-02", "SP-01", "SP-02", "SP-03", "SP-04", "SP-05", "SP-06", "SP-07",
    ];
    for i in 0..240 {
        let (mad, aad, st) = match i % 5 {
            0 => ("1.80;1.84", "12.40;12.46", "0.52;0.53"),
            1 => ("2.20;2.25", "15.02;15.37;15.20", "1.10;1.12"),
            // 10.00, 10.60: > r; 10.30: range 0.6 > 1.2 r; 10.90: range 0.9 > 1.3 r and no
            // triple within 1.2 r → discard and restart; then 10.40, 10.44 in run 2.
            2 => (
                "2.00;2.04",
                "10.00;10.60;10.30;10.90;10.40;10.44",
                "0.60;0.62",
            ),
            3 => ("2.50;2.52", "", "0.70;0.71"),
            _ => ("", "", ""),
        };
        s.push_str(&format!(
            "{},2026-11-{:02}T{:02}:{:02}:00+08:00,王芳;李强,TS-{i:05},BS-{i:05},无烟块煤,L-{i},{mad},{aad},{st}\n",
            sups[i % sups.len()],
            1 + i % 27,
            8 + i % 9,
            i % 60,
        ));
    }
    s
}

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, 3, 0, 0).unwrap()
}

fn seeded(backend: Backend) -> Option<(Fresh, Db, CurrentUser)> {
    let fresh = Fresh::new(backend)?;
    let db = fresh.open(2);
    let people = coallab::service::demo::seed_demo_people(&db, now()).unwrap();
    let tech = people[0].clone();
    Some((fresh, db, tech))
}

fn count(db: &Db, sql: &str) -> i64 {
    db.read(|tx| {
        Ok(match tx {
            Tx::Sqlite(c) => diesel::sql_query(sql).get_result::<Count>(*c)?,
            Tx::Pg(c) => diesel::sql_query(sql).get_result::<Count>(*c)?,
        }
        .n)
    })
    .unwrap()
}

fn states(db: &Db) -> Vec<String> {
    db.read(|tx| {
        let q = "SELECT state FROM samples ORDER BY id";
        Ok(match tx {
            Tx::Sqlite(c) => diesel::sql_query(q).load::<StateRow>(*c)?,
            Tx::Pg(c) => diesel::sql_query(q).load::<StateRow>(*c)?,
        })
    })
    .unwrap()
    .into_iter()
    .map(|r| r.state)
    .collect()
}

fn import(db: &Db, u: &CurrentUser, text: &str, w: SamplesWriter) -> (usize, usize) {
    let r = import_samples(db, u, text, now(), &NoProgress, w).unwrap();
    (r.changed, r.unchanged)
}

/// Both writers on the same file; the rows of the first three are those of the example.
fn both_writers(backend: Backend) -> Option<(Fresh, Db, Fresh, Db)> {
    let (fa, dba, ua) = seeded(backend)?;
    let (fb, dbb, ub) = seeded(backend).unwrap();
    let text = file();
    assert_eq!(import(&dba, &ua, &text, SamplesWriter::Bulk), (243, 0));
    assert_eq!(import(&dbb, &ub, &text, SamplesWriter::Workflow), (243, 0));
    // Again: every row is recognised, nothing changes.
    assert_eq!(import(&dba, &ua, &text, SamplesWriter::Bulk), (0, 243));
    // The example: complete → submitted; one Aad only → waits; nothing entered → waits.
    let s = states(&dba);
    assert_eq!(
        &s[..3],
        ["initial_review", "initial_testing", "initial_testing"]
    );
    // Rows cycle by i mod 5: 0, 1, 2 complete (submitted), 3 lacks Aad, 4 has nothing:
    // 240 / 5 = 48 of each, so 3 × 48 = 144 submitted of the 240.
    assert_eq!(
        s[3..].iter().filter(|x| *x == "initial_review").count(),
        144
    );
    // The discard-and-restart rows have a second Aad run: 48 of them.
    assert_eq!(
        count(
            &dba,
            "SELECT count(*) AS n FROM analysis_runs WHERE analysis = 'aad' AND run = 2"
        ),
        48
    );
    Some((fa, dba, fb, dbb))
}

#[test]
fn bulk_import_writes_the_rows_of_the_workflow_sqlite() {
    let (_fa, dba, fb, _dbb) = both_writers(Backend::Sqlite).unwrap();
    let mut c = match &dba {
        Db::Sqlite(p) => p.get().unwrap(),
        Db::Pg(_) => unreachable!(),
    };
    c.batch_execute(&format!(
        "ATTACH DATABASE '{}' AS w",
        fb.sqlite_file().display()
    ))
    .unwrap();
    for (table, _) in TABLES {
        for (x, y) in [("main", "w"), ("w", "main")] {
            let q = format!(
                "SELECT count(*) AS n FROM (SELECT * FROM {x}.{table} EXCEPT SELECT * FROM {y}.{table})"
            );
            let n = diesel::sql_query(q).get_result::<Count>(&mut *c).unwrap().n;
            assert_eq!(n, 0, "{table}: {n} rows of {x} are not in {y}");
        }
    }
    assert!(coallab::service::audit::verify(&dba).unwrap().ok);
}

#[test]
fn pg_bulk_import_writes_the_rows_of_the_workflow() {
    let Some((_fa, dba, _fb, dbb)) = both_writers(Backend::Postgres) else {
        return;
    };
    for (table, order) in TABLES {
        assert_eq!(
            pg_digest(&dba, table, order),
            pg_digest(&dbb, table, order),
            "{table} differs"
        );
    }
    assert!(coallab::service::audit::verify(&dba).unwrap().ok);
}

fn refused(db: &Db, u: &CurrentUser, rows: &str) -> String {
    let text = format!("{HEADER}\n{rows}\n");
    let e = import_samples(db, u, &text, now(), &NoProgress, SamplesWriter::Bulk).unwrap_err();
    assert_eq!(
        count(db, "SELECT count(*) AS n FROM samples"),
        0,
        "nothing is written"
    );
    e.to_string()
}

#[test]
fn import_refuses_the_whole_file_naming_the_row() {
    let (_f, db, tech) = seeded(Backend::Sqlite).unwrap();
    let ok = "SP-01,2026-11-28T09:30:00+08:00,张伟;刘洋,T-1,B-1,无烟块煤,L1,2.10;2.16,,";
    // Line 3 (header is line 1): a supplier that does not exist.
    let e = refused(
        &db,
        &tech,
        &format!("{ok}\nXX-99,2026-11-28T09:30:00+08:00,张伟;刘洋,T-2,B-2,,,,,"),
    );
    assert!(
        e.contains("row 3") && e.contains("unknown supplier 'XX-99'"),
        "{e}"
    );
    // Line 3 uses row 2's retained seal, in lower case, as its test seal: named by its row,
    // since the sample of row 2 exists only if the file imports.
    let e = refused(
        &db,
        &tech,
        &format!("{ok}\nSP-02,2026-11-28T09:30:00+08:00,张伟;刘洋,b-1,B-9,,,,,"),
    );
    assert!(
        e.contains("row 3: seal number b-1 or B-9 is already recorded on row 2 of this file"),
        "{e}"
    );
    // A third Mad after the pair 2.10, 2.16 was accepted (range 0.06 ≤ r 0.20).
    let e = refused(
        &db,
        &tech,
        "SP-01,2026-11-28T09:30:00+08:00,张伟;刘洋,T-1,B-1,,,2.10;2.16;2.12,,",
    );
    assert!(
        e.contains("row 2") && e.contains("already has an accepted mean"),
        "{e}"
    );
    // Sampled in the future (now is 2026-11-29 11:00 Beijing time).
    let e = refused(
        &db,
        &tech,
        "SP-01,2026-12-01T09:30:00+08:00,张伟;刘洋,T-1,B-1,,,,,",
    );
    assert!(e.contains("row 2") && e.contains("future"), "{e}");
    // An importing user without a lab may not register samples.
    let admin = CurrentUser {
        lab_id: None,
        ..tech.clone()
    };
    let text = format!("{HEADER}\n{ok}\n");
    let e =
        import_samples(&db, &admin, &text, now(), &NoProgress, SamplesWriter::Bulk).unwrap_err();
    assert_eq!(e.code(), "forbidden");
}
