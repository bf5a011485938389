//! Backup and restore round trip (issue 9, item 1) on SQLite and PostgreSQL: seed the demo
//! county, take a backup with `coallab backup` while a writer keeps appending, restore it with
//! `coallab restore` into a fresh database, and compare counts and the audit chain.

mod ops_support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use coallab::service::backup::{counts, Counts};
use ops_support::{run_cli, Backend, Fresh};

fn round_trip(backend: Backend) {
    let Some(source) = Fresh::new(backend) else {
        return;
    };
    if backend == Backend::Postgres && which("pg_dump").is_none() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("pg_dump must be on PATH under CI=true");
        }
        eprintln!("SKIPPED: pg_dump not on PATH");
        return;
    }
    let db = source.open(4);
    coallab::service::demo::seed(&db, chrono::Utc::now()).expect("seed demo county");
    let seeded = counts(&db).unwrap();
    assert!(seeded.samples >= 300, "{seeded:?}");
    assert!(seeded.released_results >= 250, "{seeded:?}");

    // A writer keeps changing the database during the backup: the copy must still be one
    // consistent snapshot (its audit chain verifies).
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let db = db.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) && n < 2000 {
                db.transaction(|tx| {
                    coallab::service::retention::set_policy(
                        tx,
                        "ops-test",
                        "*",
                        60 + n % 30,
                        "backup test writer",
                        chrono::Utc::now(),
                    )
                })
                .expect("write during backup");
                n += 1;
            }
            n
        })
    };
    let file = source.dir.path().join("coallab.backup");
    let mut args = source.args();
    args.extend(["backup".into(), file.display().to_string()]);
    let (code, out, err) = run_cli(&args);
    stop.store(true, Ordering::Relaxed);
    let writes = writer.join().unwrap();
    assert_eq!(code, 0, "backup failed: {out}\n{err}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("backup prints JSON");
    let copied: Counts = serde_json::from_value::<CountsDe>(report["counts"].clone())
        .unwrap()
        .into();
    let after = counts(&db).unwrap();
    // The copy holds everything seeded, and no more than the source holds after the writer
    // stopped (each writer transaction adds exactly one audit event).
    assert_eq!(copied.samples, seeded.samples);
    assert_eq!(copied.stages, seeded.stages);
    assert_eq!(copied.released_results, seeded.released_results);
    assert!(copied.audit_events >= seeded.audit_events);
    assert!(copied.audit_events <= after.audit_events);
    assert_eq!(after.audit_events, seeded.audit_events + i64::from(writes));
    if backend == Backend::Sqlite {
        assert_eq!(report["audit_chain"]["ok"], true, "{report}");
    }

    // A backup never overwrites a file.
    let (code, _, err) = run_cli(&args);
    assert_ne!(code, 0);
    assert!(err.contains("never overwrites"), "{err}");
    drop(db);

    // Restore into a fresh location.
    let Some(target) = Fresh::new(backend) else {
        return;
    };
    let mut restore = target.args();
    restore.extend(["restore".into(), file.display().to_string()]);
    let (code, out, err) = run_cli(&restore);
    assert_eq!(code, 0, "restore failed: {out}\n{err}");
    let tdb = target.open(2);
    let restored = counts(&tdb).unwrap();
    assert_eq!(restored, copied, "restored counts equal the copy's");
    assert!(coallab::service::audit::verify(&tdb).unwrap().ok);
    // Every released result came back with its verdict and report number.
    let released_with_verdict = released_verdicts(&tdb);
    assert_eq!(released_with_verdict, copied.released_results);
    drop(tdb);

    let mut verify = target.args();
    verify.extend(["audit".into(), "verify".into()]);
    let (code, out, _) = run_cli(&verify);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("\"ok\": true"), "{out}");

    // A second restore into the now non-empty database is refused without --force ...
    let (code, _, err) = run_cli(&restore);
    assert_ne!(code, 0);
    assert!(
        err.contains("not empty") && err.contains("--force"),
        "{err}"
    );
    // ... and done with it.
    restore.push("--force".into());
    let (code, out, err) = run_cli(&restore);
    assert_eq!(code, 0, "forced restore failed: {out}\n{err}");
    let tdb = target.open(1);
    assert_eq!(counts(&tdb).unwrap(), copied);
    assert!(coallab::service::audit::verify(&tdb).unwrap().ok);
}

fn released_verdicts(db: &coallab::db::Db) -> i64 {
    use coallab::db::schema::stages;
    db.read(|tx| {
        Ok(coallab::with_tx!(tx, |c| stages::table
            .filter(stages::released_at.is_not_null())
            .filter(stages::verdict.is_not_null())
            .filter(stages::results.is_not_null())
            .filter(stages::report_no.is_not_null())
            .count()
            .get_result::<i64>(c))?)
    })
    .unwrap()
}

#[derive(serde::Deserialize)]
struct CountsDe {
    labs: i64,
    users: i64,
    samples: i64,
    stages: i64,
    released_results: i64,
    audit_events: i64,
}

impl From<CountsDe> for Counts {
    fn from(c: CountsDe) -> Self {
        Counts {
            labs: c.labs,
            users: c.users,
            samples: c.samples,
            stages: c.stages,
            released_results: c.released_results,
            audit_events: c.audit_events,
        }
    }
}

fn which(tool: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(tool))
            .find(|f| f.is_file())
    })
}

#[test]
fn sqlite_backup_restore_round_trip() {
    round_trip(Backend::Sqlite);
}

#[test]
fn pg_backup_restore_round_trip() {
    round_trip(Backend::Postgres);
}

#[test]
fn restore_refuses_a_file_that_is_not_a_backup() {
    let fresh = Fresh::new(Backend::Sqlite).unwrap();
    let junk = fresh.dir.path().join("junk.bin");
    std::fs::write(&junk, b"not a database at all").unwrap();
    let mut args = fresh.args();
    args.extend(["restore".into(), junk.display().to_string()]);
    let (code, _, err) = run_cli(&args);
    assert_eq!(code, 2);
    assert!(
        err.contains("neither a SQLite backup nor a pg_dump"),
        "{err}"
    );
}

#[test]
fn restore_refuses_a_sqlite_file_of_another_program() {
    let fresh = Fresh::new(Backend::Sqlite).unwrap();
    let foreign = fresh.dir.path().join("foreign.db");
    {
        use diesel::{Connection, RunQueryDsl};
        let mut c = diesel::SqliteConnection::establish(&foreign.to_string_lossy()).unwrap();
        diesel::sql_query("CREATE TABLE t (x INTEGER)")
            .execute(&mut c)
            .unwrap();
    }
    let mut args = fresh.args();
    args.extend(["restore".into(), foreign.display().to_string()]);
    let (code, out, err) = run_cli(&args);
    assert_eq!(code, 2, "{out}");
    assert!(
        err.contains("is not a coallab backup: it has no table __diesel_schema_migrations, labs, users, samples, audit_events"),
        "{err}"
    );
}

#[test]
fn a_backup_that_cannot_be_migrated_leaves_the_database_as_it_was() {
    let fresh = Fresh::new(Backend::Sqlite).unwrap();
    let db = fresh.open(2);
    coallab::service::demo::seed_demo_people(&db, chrono::Utc::now()).expect("demo people");
    let before = counts(&db).unwrap();
    drop(db);
    // The tables coallab's check looks for, empty and of the wrong shape: the migrations
    // fail on the copy ("table labs already exists").
    let fake = fresh.dir.path().join("fake.db");
    {
        use diesel::{Connection, RunQueryDsl};
        let mut c = diesel::SqliteConnection::establish(&fake.to_string_lossy()).unwrap();
        for t in [
            "__diesel_schema_migrations",
            "labs",
            "users",
            "samples",
            "audit_events",
        ] {
            diesel::sql_query(format!("CREATE TABLE {t} (x INTEGER)"))
                .execute(&mut c)
                .unwrap();
        }
    }
    let mut args = fresh.args();
    args.extend([
        "restore".into(),
        fake.display().to_string(),
        "--force".into(),
    ]);
    let (code, out, err) = run_cli(&args);
    assert_eq!(code, 2, "{out}");
    assert!(err.contains("nothing was restored"), "{err}");
    // The database is the one from before, whole: same counts, chain verifies.
    let db = fresh.open(2);
    let after = counts(&db).unwrap();
    assert_eq!(
        (after.users, after.audit_events),
        (before.users, before.audit_events)
    );
    assert!(coallab::service::audit::verify(&db).unwrap().ok);
    assert!(!fresh.settings.data_dir.read_dir().unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .contains("restore-tmp")));
}

#[test]
fn a_closed_pipe_ends_a_command_quietly() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Stdio};
    let fresh = Fresh::new(Backend::Sqlite).unwrap();
    let db = fresh.open(2);
    coallab::service::demo::seed_demo_people(&db, chrono::Utc::now()).expect("demo people");
    drop(db);
    // `coallab … | head` where head has already gone: the write fails with EPIPE. The
    // command ends by SIGPIPE, as Unix tools do, instead of panicking ("failed printing to
    // stdout: Broken pipe").
    let mut child = Command::new(env!("CARGO_BIN_EXE_coallab"))
        .args(fresh.args())
        .args([
            "report",
            "overdue",
            "--from",
            "2025-01-01",
            "--to",
            "2025-12-31",
            "--format",
            "csv",
        ])
        .env("COALLAB_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run coallab");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.signal(), Some(13), "SIGPIPE; {err}");
}

#[test]
fn lab_codes_are_codes() {
    let fresh = Fresh::new(Backend::Sqlite).unwrap();
    let add = |code: &str| {
        let mut args = fresh.args();
        args.extend([
            "lab".into(),
            "add".into(),
            code.into(),
            "--name".into(),
            "Lab".into(),
        ]);
        run_cli(&args)
    };
    // A '/' would split the sample codes' paths, a space or an escape would garble them.
    for bad in ["a/b", "bad code!", "CTL\u{1b}[31mX", ""] {
        let (code, _, err) = add(bad);
        assert_eq!(code, 2, "{bad:?}: {err}");
        assert!(err.contains("lab code '"), "{bad:?}: {err}");
    }
    let (code, _, err) = add("LAB2");
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = add("LAB2");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("lab code 'LAB2' is already in use"), "{err}");
    let (code, _, err) = add("lab2");
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("differs only in letter case from the existing lab 'LAB2'"),
        "{err}"
    );
    // 33 characters: over the column's 32.
    let (code, _, err) = add(&"L".repeat(33));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("must be 1–32 characters"), "{err}");
}

#[test]
fn audit_verify_refuses_a_data_dir_without_a_database() {
    // A mistyped --data-dir used to create an empty database and report its empty chain as
    // holding ({"events": 0, "ok": true}); an auditor must get an error instead.
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir");
    let args: Vec<String> = vec![
        "--data-dir".into(),
        missing.to_string_lossy().to_string(),
        "audit".into(),
        "verify".into(),
    ];
    let (code, out, err) = run_cli(&args);
    assert_ne!(code, 0, "{out}");
    assert!(!out.contains("\"ok\": true"), "{out}");
    assert!(err.contains("no coallab database"), "{err}");
    assert!(!missing.exists(), "verify created {}", missing.display());
}
