//! Shared by tests/people.rs and tests/access.rs (PEOPLE, issue 4): a fresh database per test
//! (SQLite file in a temp dir, or a PostgreSQL database created and dropped), the real server
//! on port 0, and a sample driven through the workflow service with explicit instants.
#![allow(dead_code)] // each test binary uses part of it

use std::net::TcpListener;
use std::sync::mpsc;
use std::thread::JoinHandle;

use chrono::{DateTime, TimeZone, Utc};
use coallab::db::Db;
use coallab::domain::lifecycle::Action;
use coallab::error::AppError;
use coallab::service::auth::CurrentUser;
use coallab::service::entry::{self, NewDetermination};
use coallab::service::samples::{self as sample_svc, NewSample};
use coallab::service::workflow::{self, ActionRequest, ResultReceived};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

/// Which database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Drops the test's PostgreSQL database (terminating leftover connections first).
pub struct PgGuard {
    admin_url: String,
    name: String,
}

impl Drop for PgGuard {
    fn drop(&mut self) {
        let Ok(mut c) = PgConnection::establish(&self.admin_url) else {
            return;
        };
        let _ = c.batch_execute(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{}' AND pid <> pg_backend_pid()",
            self.name
        ));
        if let Err(e) = c.batch_execute(&format!("DROP DATABASE IF EXISTS {}", self.name)) {
            eprintln!("cannot drop test database {}: {e}", self.name);
        }
    }
}

/// A fresh migrated database; the guard removes it.
pub struct TestDb {
    pub db: Db,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    _pg: Option<PgGuard>,
}

fn admin_url() -> String {
    std::env::var("COALLAB_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// A fresh database of `backend`, migrated. `None` (with a SKIPPED note) only for PostgreSQL
/// outside CI when it is unreachable; under `CI=true` an unreachable PostgreSQL panics.
pub fn fresh_db(backend: Backend) -> Option<TestDb> {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let path = dir.path().join("coallab.sqlite3");
            let db = Db::open_sqlite(&path, 8).expect("open SQLite");
            coallab::db::migrate::run_migrations(&db).expect("migrations");
            Some(TestDb {
                db,
                url: path.to_string_lossy().to_string(),
                _dir: Some(dir),
                _pg: None,
            })
        }
        Backend::Postgres => {
            let admin = admin_url();
            let mut c = match PgConnection::establish(&admin) {
                Ok(c) => c,
                Err(e) => {
                    if std::env::var("CI").as_deref() == Ok("true") {
                        panic!("PostgreSQL must be reachable at {admin} in CI: {e}");
                    }
                    use std::io::Write;
                    let _ = writeln!(
                        std::io::stderr(),
                        "SKIPPED: PostgreSQL not reachable at {admin} ({e})"
                    );
                    return None;
                }
            };
            let name = format!("coallab_people_{:016x}", rand::random::<u64>());
            c.batch_execute(&format!("CREATE DATABASE {name}"))
                .expect("CREATE DATABASE");
            let guard = PgGuard {
                admin_url: admin.clone(),
                name: name.clone(),
            };
            let root = admin.rsplit_once('/').map(|(r, _)| r).unwrap_or(&admin);
            let url = format!("{root}/{name}");
            let db = Db::open(&url, 8).expect("open PostgreSQL");
            coallab::db::migrate::run_migrations(&db).expect("migrations");
            Some(TestDb {
                db,
                url,
                _dir: None,
                _pg: Some(guard),
            })
        }
    }
}

/// The demo people: [tech-wang, tech-li, rev-zhao, reg-chen, aud-liu, admin].
pub struct People {
    pub tech: CurrentUser,
    pub tech2: CurrentUser,
    pub reviewer: CurrentUser,
    pub regulator: CurrentUser,
    pub auditor: CurrentUser,
    pub admin: CurrentUser,
}

/// Seeds the demo people (and reference data) at `now`.
pub fn seed(db: &Db, now: DateTime<Utc>) -> People {
    let p = coallab::service::demo::seed_demo_people(db, now).expect("seed demo people");
    People {
        tech: p[0].clone(),
        tech2: p[1].clone(),
        reviewer: p[2].clone(),
        regulator: p[3].clone(),
        auditor: p[4].clone(),
        admin: p[5].clone(),
    }
}

/// A second reviewer of the demo lab (for four-eyes on amendments).
pub fn second_reviewer(db: &Db, lab_id: Option<i64>, now: DateTime<Utc>) -> CurrentUser {
    db.transaction(|tx| {
        let id = coallab::service::auth::add_user(
            tx,
            "rev-sun",
            "rev-sun",
            coallab::domain::terms::Role::Reviewer,
            lab_id,
            now.timestamp_millis(),
        )?;
        Ok(CurrentUser {
            id,
            username: "rev-sun".into(),
            role: coallab::domain::terms::Role::Reviewer,
            lab_id,
        })
    })
    .expect("add reviewer")
}

/// Asia/Shanghai local time → UTC.
pub fn local(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .expect("valid local time")
        .with_timezone(&Utc)
}

/// Runs one workflow action at `at` with the sample's current version.
pub fn act(
    db: &Db,
    user: &CurrentUser,
    id: i64,
    action: Action,
    req: ActionRequest,
    at: DateTime<Utc>,
) -> Result<(), AppError> {
    db.transaction(|tx| {
        let version = sample_svc::load(tx, id)?.version;
        workflow::apply_action(tx, user, id, action, &ActionRequest { version, ..req }, at)
    })
}

/// Enters determinations of one analysis.
pub fn enter(
    db: &Db,
    user: &CurrentUser,
    id: i64,
    analysis: &str,
    values: &[&str],
    at: DateTime<Utc>,
) -> Result<(), AppError> {
    for v in values {
        db.transaction(|tx| {
            entry::enter(
                tx,
                user,
                id,
                &NewDetermination {
                    analysis: analysis.into(),
                    value: serde_json::Value::String((*v).into()),
                },
                at,
            )
        })?;
    }
    Ok(())
}

/// Determinations of a failing sample (Ad ≥ 16 %): Mad 2.00/2.04 → 2.02 (|Δ| 0.04 ≤ r 0.20);
/// Aad 19.60/19.70 → 19.65 (0.10 ≤ 0.30); St,ad 0.50/0.52 → 0.51 (0.02 ≤ 0.05).
/// Ad = 19.65 × 100 / (100 − 2.02) = 1965 / 97.98 = 20.0551… ≥ 16 → fail (GB/T 483 §7.2).
pub const FAILING: [(&str, [&str; 2]); 3] = [
    ("mad", ["2.00", "2.04"]),
    ("aad", ["19.60", "19.70"]),
    ("st_ad", ["0.50", "0.52"]),
];

/// Determinations of a passing sample: Aad 12.00/12.10 → 12.05; Ad = 1205 / 97.98 = 12.2984… < 16;
/// St,d = 0.51 × 100 / 97.98 = 0.5205… < 1 → pass.
pub const PASSING: [(&str, [&str; 2]); 3] = [
    ("mad", ["2.00", "2.04"]),
    ("aad", ["12.00", "12.10"]),
    ("st_ad", ["0.50", "0.52"]),
];

/// Registers a sample of SP-01 sampled 2026-03-02 09:00 (Shanghai), receives and starts it, and
/// has `tech` enter `values`, then submits it (2026-03-04). Returns its id.
pub fn tested_sample(
    db: &Db,
    tech: &CurrentUser,
    values: &[(&str, [&str; 2]); 3],
    n: usize,
) -> i64 {
    let sampled = local(2026, 3, 2, 9, 0);
    let id = db
        .transaction(|tx| {
            sample_svc::register(
                tx,
                tech,
                &NewSample {
                    supplier_code: "SP-01".into(),
                    coal_category: "无烟块煤".into(),
                    claimed_grade: String::new(),
                    lot_no: format!("LOT-{n}"),
                    lot_mass_t: None,
                    top_size_mm: Some(25),
                    sampling_method: "manual".into(),
                    increments: Some(20),
                    gross_mass_kg: Some("80".into()),
                    samplers: vec!["张伟".into(), "刘洋".into()],
                    sampled_at: sampled.to_rfc3339(),
                    test_seal_no: format!("T{n:06}"),
                    retained_seal_no: format!("B{n:06}"),
                    retained_custodian: "周敏".into(),
                    retained_location: "A".into(),
                    prepared_on: None,
                },
                None,
                sampled + chrono::Duration::hours(1),
            )
        })
        .expect("register");
    let t = local(2026, 3, 2, 14, 0);
    act(db, tech, id, Action::Receive, ActionRequest::default(), t).expect("receive");
    act(db, tech, id, Action::Start, ActionRequest::default(), t).expect("start");
    for (a, v) in values {
        enter(db, tech, id, a, v, local(2026, 3, 3, 10, 0)).expect("enter");
    }
    act(
        db,
        tech,
        id,
        Action::Submit,
        ActionRequest::default(),
        local(2026, 3, 4, 10, 0),
    )
    .expect("submit");
    id
}

/// Records that the enterprise received the initial result at `received`.
pub fn result_received(db: &Db, regulator: &CurrentUser, id: i64, received: DateTime<Utc>) {
    db.transaction(|tx| {
        let version = sample_svc::load(tx, id)?.version;
        workflow::record_result_received(
            tx,
            regulator,
            id,
            &ResultReceived {
                version,
                received_at: received.to_rfc3339(),
            },
            received,
        )
    })
    .expect("result received");
}

/// The retest request body for sample number `n` (seal B00000n, intact).
pub fn appeal(n: usize) -> ActionRequest {
    ActionRequest {
        version: 0,
        reason: Some("the enterprise appeals".into()),
        retained_seal_no: Some(format!("B{n:06}")),
        retained_condition: Some("seal intact".into()),
    }
}

/// A running server on port 0 over its own database.
pub struct TestServer {
    pub address: String,
    pub db: Db,
    /// The demo people seeded.
    pub people: People,
    handle: Option<(actix_web::dev::ServerHandle, JoinHandle<()>)>,
    _db: TestDb,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some((h, t)) = self.handle.take() {
            drop(h.stop(false));
            let _ = t.join();
        }
    }
}

/// Starts the real server over a fresh database seeded with the demo people.
pub fn spawn(backend: Backend) -> Option<TestServer> {
    let tdb = fresh_db(backend)?;
    let people = seed(&tdb.db, Utc::now());
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = mpsc::channel();
    let db = tdb.db.clone();
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            // The status lookup's token memory at its longest (10 s, src/api/token_cache.rs), so
            // that a revocation or a disabling the server does not forget shows in these tests.
            let limits = coallab::ops::settings::ServeLimits {
                token_cache_ms: 10_000,
                ..Default::default()
            };
            let server =
                coallab::server::start_with(db, listener, 2, &limits).expect("server start");
            tx.send(server.handle()).expect("send handle");
            let _ = server.await;
        })
    });
    let handle = rx.recv().expect("server handle");
    Some(TestServer {
        address: format!("http://127.0.0.1:{port}"),
        db: tdb.db.clone(),
        people,
        handle: Some((handle, thread)),
        _db: tdb,
    })
}
