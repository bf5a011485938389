//! `coallab demo generate` (issue 8): the bulk writer writes exactly the rows that the real
//! workflow writes for the same plan (every table of the sample lifecycle and the audit chain,
//! on SQLite and PostgreSQL), and the command's summary, refusal of a non-empty database, audit
//! chain and the service's own reads agree with counts worked out from the plan.

mod ops_support;

use chrono::{TimeZone, Utc};
use coallab::db::{Db, Tx};
use coallab::ops::progress::NoProgress;
use coallab::service::generate::{generate, GenerateOptions, Writer};
use coallab::service::generate_plan::{self, cutoff, PlanOptions};
use diesel::connection::SimpleConnection;
use diesel::RunQueryDsl;
use ops_support::lifecycle_rows::{pg_digest, Count, TABLES};
use ops_support::{run_cli, Backend, Fresh};

fn opts(writer: Writer) -> GenerateOptions {
    GenerateOptions {
        samples: 300,
        suppliers: 5,
        seed: 3,
        writer,
    }
}

fn seed_now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 2, 0, 0).unwrap()
}

fn count(db: &Db, table: &str) -> i64 {
    db.read(|tx| {
        let q = format!("SELECT count(*) AS n FROM {table}");
        Ok(match tx {
            Tx::Sqlite(c) => diesel::sql_query(q).get_result::<Count>(*c)?,
            Tx::Pg(c) => diesel::sql_query(q).get_result::<Count>(*c)?,
        }
        .n)
    })
    .unwrap()
}

#[test]
fn bulk_writer_writes_the_rows_of_the_workflow_sqlite() {
    let (a, b) = (
        Fresh::new(Backend::Sqlite).unwrap(),
        Fresh::new(Backend::Sqlite).unwrap(),
    );
    let (dba, dbb) = (a.open(2), b.open(2));
    generate(&dba, &opts(Writer::Workflow), &NoProgress, seed_now()).unwrap();
    generate(&dbb, &opts(Writer::Bulk), &NoProgress, seed_now()).unwrap();
    assert_eq!(count(&dbb, "samples"), 300);
    let mut c = match &dbb {
        Db::Sqlite(p) => p.get().unwrap(),
        Db::Pg(_) => unreachable!(),
    };
    c.batch_execute(&format!(
        "ATTACH DATABASE '{}' AS w",
        a.sqlite_file().display()
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
    for db in [&dba, &dbb] {
        assert!(coallab::service::audit::verify(db).unwrap().ok);
    }
}

#[test]
fn pg_bulk_writer_writes_the_rows_of_the_workflow() {
    let Some(a) = Fresh::new(Backend::Postgres) else {
        return;
    };
    let b = Fresh::new(Backend::Postgres).unwrap();
    let (dba, dbb) = (a.open(2), b.open(2));
    generate(&dba, &opts(Writer::Workflow), &NoProgress, seed_now()).unwrap();
    generate(&dbb, &opts(Writer::Bulk), &NoProgress, seed_now()).unwrap();
    assert_eq!(count(&dbb, "samples"), 300);
    for (table, order) in TABLES {
        assert_eq!(
            pg_digest(&dba, table, order),
            pg_digest(&dbb, table, order),
            "{table} differs"
        );
    }
    for db in [&dba, &dbb] {
        assert!(coallab::service::audit::verify(db).unwrap().ok);
    }
    // The identity sequences moved past the explicit ids: the next sample gets id 301.
    let next = dbb
        .read(|tx| match tx {
            Tx::Pg(c) => Ok(diesel::sql_query(
                "SELECT nextval(pg_get_serial_sequence('samples','id')) AS n",
            )
            .get_result::<Count>(*c)?
            .n),
            Tx::Sqlite(_) => unreachable!(),
        })
        .unwrap();
    assert_eq!(next, 301);
}

/// Counts worked out from the plan alone: (samples of the big supplier released by the cutoff,
/// initial stages started (received) before the cutoff, initial stages released before it,
/// samples whose initial test is not submitted by the cutoff).
fn plan_counts(samples: usize, suppliers: usize, seed: u64) -> (i64, i64, i64, i64) {
    let end = cutoff();
    let mut out = (0, 0, 0, 0);
    for p in generate_plan::samples(PlanOptions {
        samples,
        suppliers,
        seed,
    }) {
        let t = p.timeline();
        if p.supplier == 0 && t.released < end {
            out.0 += 1;
        }
        if t.received < end {
            out.1 += 1;
        }
        if t.released < end {
            out.2 += 1;
        }
        if t.submitted >= end {
            out.3 += 1;
        }
    }
    out
}

#[test]
fn demo_generate_command_agrees_with_its_plan_and_the_reports() {
    let fresh = Fresh::new(Backend::Sqlite).unwrap();
    let mut args = fresh.args();
    args.extend(
        [
            "demo",
            "generate",
            "--samples",
            "400",
            "--suppliers",
            "6",
            "--seed",
            "5",
        ]
        .map(String::from),
    );
    let (code, out, err) = run_cli(&args);
    assert_eq!(code, 0, "{err}");
    // Not a terminal: plain progress lines on stderr, the last one with the full count.
    assert!(err.contains("generate: 400/400 samples"), "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let (big_released, started, released, not_submitted) = plan_counts(400, 6, 5);
    assert_eq!(v["samples"], 400);
    assert_eq!(v["suppliers"], 6);
    assert_eq!(v["big_supplier"], "GEN-SP-00001");
    // The big supplier's share: min(10 500, ⌈400/2⌉) = 200 samples, released ones counted.
    assert_eq!(generate_plan::big_supplier_samples(400, 6), 200);
    assert_eq!(v["big_supplier_results"], big_released);
    assert!(big_released > 190 && big_released <= 200, "{big_released}");
    assert_eq!(v["first_sampled"], "2025-01-01");
    assert_eq!(v["last_sampled"], "2026-11-29");
    assert!(v["in_progress"].as_i64().unwrap() >= not_submitted);
    assert!(v["seconds"].as_f64().is_some());

    // A second run refuses the database, which is no longer empty.
    let (code, _, err) = run_cli(&args);
    assert_ne!(code, 0);
    assert!(err.contains("not empty"), "{err}");

    // The audit chain verifies.
    let mut a = fresh.args();
    a.extend(["audit", "verify"].map(String::from));
    let (code, out, err) = run_cli(&a);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("\"ok\": true") || out.contains("\"ok\":true"),
        "{out}"
    );

    // The turnaround report counts the initial stages the plan started and released.
    let mut a = fresh.args();
    a.extend(
        [
            "report",
            "tat",
            "--from",
            "2025-01-01",
            "--to",
            "2026-11-30",
            "--as-of",
            "2026-11-30T00:00:00+08:00",
            "--stage",
            "initial_test",
        ]
        .map(String::from),
    );
    let (code, out, err) = run_cli(&a);
    assert_eq!(code, 0, "{err}");
    let r: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let g = &r["groups"][0];
    assert_eq!(g["stage"], "initial_test");
    assert_eq!(g["started"], started);
    assert_eq!(g["released"], released);
    assert_eq!(g["open"], started - released);

    // The demo tokens work, and the service's own sample view reads what the plan says: the
    // first sample (2025-01-01) is closed with its initial report; the last one (sampled on
    // 2026-11-29, received the same day, tests due the next day after the cutoff) is in testing.
    let db = fresh.open(1);
    let now = Utc::now();
    let tech = db
        .read(|tx| {
            coallab::service::auth::authenticate(tx, "demo-technician", now.timestamp_millis())
        })
        .unwrap();
    assert_eq!(tech.username, "tech-wang");
    let first = db
        .read(|tx| coallab::service::view::sample_view(tx, &tech, 1, now))
        .unwrap();
    assert_eq!(first.sample_code, "DEMO-2025-000001");
    assert_eq!(first.state, "closed");
    assert!(first.final_verdict.is_some());
    assert_eq!(
        first.stages[0].report_no.as_deref(),
        Some("DEMO-2025-000001-I1")
    );
    let last = db
        .read(|tx| coallab::service::view::sample_view(tx, &tech, 400, now))
        .unwrap();
    assert_eq!(last.sample_code, "DEMO-2026-000400");
    assert_eq!(last.state, "initial_testing");
    assert_eq!(last.stages.len(), 1);
    assert!(last.stages[0].analyses.is_empty());
}
