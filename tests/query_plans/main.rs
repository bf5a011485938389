//! No query in a request path scans a whole table (issue 8), checked with the databases' own
//! planners on both backends.
//!
//! How it works (docs/performance.md, "Indexes and query plans"):
//! 1. A fresh database gets the demo county, then copies of it shifted back year by year over
//!    300 more suppliers (about 3 400 samples with their stages, determinations, results,
//!    verdicts, revisions and audit events), and thousands of sessions, API tokens, idempotency
//!    keys and login counters; then planner statistics as a running server has them
//!    (`PRAGMA optimize` through `Db::optimize` on SQLite, `ANALYZE` on PostgreSQL).
//! 2. diesel's instrumentation records the SQL text of every statement the server issues while
//!    the test drives every request path over HTTP (the in-process server on port 0) and runs
//!    the periodic jobs.
//! 3. Every distinct statement is explained: SQLite `EXPLAIN QUERY PLAN` (unbound parameters),
//!    PostgreSQL `PREPARE` + `EXPLAIN EXECUTE` under `plan_cache_mode = force_generic_plan` (the
//!    plan for any parameter values) and `enable_seqscan = off`, so that a `Seq Scan` left in a
//!    plan means no index could serve it.
//! 4. The test fails naming each statement, the requests that issued it and its plan when it
//!    scans a table that grows with use (`SCAN t` without an index on SQLite, `Seq Scan on t` on
//!    PostgreSQL). Small reference tables are allowed by name, with the reason, in
//!    [`SMALL_TABLES`]; whole-chain work that is not a lookup is excluded by request in
//!    [`EXCLUDED_REQUESTS`]. Walks over a whole index (a page in index order, a list's total,
//!    all-time aggregates) are reported in `target/tmp/query_plans_<backend>.txt`, not failed.
//!
//! Modules: `fill` (the data), `drive` and `reads` (the request paths), `explain` (plans).

#[path = "../ops_support/mod.rs"]
mod ops_support;

mod drive;
mod explain;
mod fill;
mod reads;
mod tat_oracle;

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use diesel::connection::{set_default_instrumentation, Instrumentation, InstrumentationEvent};
use diesel::{Connection, PgConnection, SqliteConnection};
use drive::{Client, REVIEWER2};
use explain::{aliases, excluded, indexes_in, placeholders, table_names, Explainer, Finding};
use fill::fill;
use ops_support::{Backend, Fresh};

/// Tables that stay small whatever the volume of samples, so a full scan of them is cheap.
const SMALL_TABLES: &[(&str, &str)] = &[
    ("labs", "one row per laboratory (a handful per province)"),
    (
        "jurisdictions",
        "nation, provinces, cities, counties: bounded by the map",
    ),
    ("limit_sets", "the regulations in force: tens of rows"),
    ("limits", "a few limits per limit set"),
    (
        "calendar_days",
        "official rest and make-up days: about 120 rows a year per calendar",
    ),
    (
        "users",
        "the lab's and the regulators' staff: hundreds at most",
    ),
    ("user_passwords", "one row per user"),
    (
        "suppliers",
        "enterprises and sale points: thousands at province scale; reports list all of them",
    ),
    (
        "retention_policies",
        "one row per jurisdiction with its own period",
    ),
    (
        "working_clock_builds",
        "one row per (calendar, time zone) pair",
    ),
    ("__diesel_schema_migrations", "one row per migration"),
];

/// Requests whose statements may scan, with the reason (they are not lookups).
const EXCLUDED_REQUESTS: &[(&str, &str)] = &[
    (
        "GET /api/v1/audit/verify",
        "recomputes the SHA-256 chain over every audit event, in order: a full pass by nature \
         (in pages of 5 000 along the primary key)",
    ),
    (
        "GET /api/v1/reports/suppliers",
        "the supplier list without from/to is an all-time aggregate over every released sample: \
         a full pass by nature (with from/to it reads the period through samples_sampled_on)",
    ),
    (
        "GET /api/v1/reports/suppliers?format",
        "the same all-time aggregate as CSV",
    ),
];

/// Each index of migration `2026-11-30-000050_request_path_indexes` and the later index
/// migrations with a request it was made for: that request's plans must read it, on both backends. The plan check alone would not
/// notice a dropped index whose request falls back on a poor one (a seal check through
/// `lab_id`), so the purpose of each index is pinned here.
const EXPECTED_INDEXES: &[(&str, &str)] = &[
    ("samples_test_seal_lower", "POST /api/v1/samples"),
    ("samples_retained_seal_lower", "POST /api/v1/samples"),
    ("samples_test_seal_lower", "POST /api/v1/import/samples"),
    ("samples_retained_seal_lower", "POST /api/v1/import/samples"),
    ("samples_sampled_on", "GET /api/v1/samples?from&to"),
    (
        "samples_sampled_on",
        "GET /api/v1/reports/suppliers?from&to",
    ),
    (
        "samples_sampled_on",
        "GET /api/v1/reports/non-compliant?from&to",
    ),
    ("samples_lab_sampled", "GET /api/v1/samples"),
    ("samples_state_appeal", "job: appeal_close::close_expired"),
    ("audit_events_actor", "GET /api/v1/audit?actor&per_page"),
    ("audit_events_action", "GET /api/v1/audit?action&per_page"),
    ("stage_revisions_replaces", "GET /verify/{key}?code&format"),
    (
        "stages_started_cover",
        "GET /api/v1/reports/tat?from&group_by&to",
    ),
    (
        "stages_started_cover",
        "GET /api/v1/reports/overdue?from&to",
    ),
    (
        "stages_sample_cover",
        "GET /api/v1/reports/status?sample_code",
    ),
    ("suppliers_code_lower", "POST /api/v1/suppliers"),
    ("suppliers_licence_lower", "POST /api/v1/suppliers"),
    ("suppliers_code_lower", "POST /api/v1/import/suppliers"),
];

static RECORDING: AtomicBool = AtomicBool::new(false);
static CURRENT: Mutex<String> = Mutex::new(String::new());
/// SQL text (without binds) → the requests that issued it.
static SEEN: Mutex<BTreeMap<String, BTreeSet<String>>> = Mutex::new(BTreeMap::new());
/// The two tests share the recorder: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn instrumentation() -> Option<Box<dyn Instrumentation>> {
    Some(Box::new(|event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            if RECORDING.load(Ordering::SeqCst) {
                record(&query.to_string());
            }
        }
    }))
}

fn record(text: &str) {
    let sql = match text.rfind(" -- binds: ") {
        Some(i) => &text[..i],
        None => text,
    };
    let phase = CURRENT.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    for stmt in sql.split(';') {
        let stmt = stmt.trim();
        let first = stmt
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        if matches!(
            first.as_str(),
            "SELECT" | "WITH" | "INSERT" | "UPDATE" | "DELETE"
        ) {
            seen.entry(stmt.to_string())
                .or_default()
                .insert(phase.clone());
        }
    }
}

/// `/api/v1/samples/DEMO-2026-000313/receive?x=1&y=2` → `/api/v1/samples/{key}/receive?x&y`:
/// the route, and the names (not the values) of the query parameters, sorted.
fn route(path: &str) -> String {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let mut out = Vec::new();
    let mut prev = "";
    for seg in path.split('/') {
        let variable = matches!(prev, "samples" | "documents" | "verify" | "calendars")
            || (prev == "suppliers" && !seg.is_empty());
        out.push(if variable && !seg.is_empty() {
            "{key}"
        } else {
            seg
        });
        prev = seg;
    }
    let mut names: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split('=').next().unwrap_or(p))
        .collect();
    names.sort_unstable();
    let mut route = out.join("/");
    if !names.is_empty() {
        route.push('?');
        route.push_str(&names.join("&"));
    }
    route
}

fn phase(name: &str) {
    *CURRENT.lock().unwrap_or_else(|e| e.into_inner()) = name.to_string();
}

fn check_plans(backend: Backend) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    set_default_instrumentation(instrumentation).expect("instrumentation");
    let Some(fresh) = Fresh::new(backend) else {
        return;
    };
    let db = fresh.open(8);
    coallab::db::migrate::run_migrations(&db).expect("migrations");
    fill(&db);
    // A second reviewer (four eyes on amendments) with a token.
    db.transaction(|tx| {
        let lab: i64 = coallab::with_tx!(tx, |c| coallab::db::schema::labs::table
            .select(coallab::db::schema::labs::id)
            .first(c))?;
        let now = chrono::Utc::now().timestamp_millis();
        let id = coallab::service::auth::add_user(
            tx,
            "rev-plan",
            "rev-plan",
            coallab::domain::terms::Role::Reviewer,
            Some(lab),
            now,
        )?;
        coallab::service::auth::store_token(tx, id, REVIEWER2, "plan", now + 86_400_000, now)
    })
    .expect("second reviewer");

    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = std::sync::mpsc::channel();
    let server_db = db.clone();
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = coallab::server::start(server_db, listener, 2).expect("server");
            tx.send(server.handle()).expect("handle");
            let _ = server.await;
        })
    });
    let handle = rx.recv().expect("server handle");
    let client = Client {
        base: format!("http://127.0.0.1:{port}"),
        http: reqwest::blocking::Client::builder()
            .timeout(std::time::Duration::from_secs(120))
            .build()
            .expect("client"),
    };

    SEEN.lock().unwrap_or_else(|e| e.into_inner()).clear();
    RECORDING.store(true, Ordering::SeqCst);
    drive::drive(&client, &db);
    RECORDING.store(false, Ordering::SeqCst);
    drop(handle.stop(false));
    let _ = thread.join();
    let lines = tat_oracle::check(&db);
    eprintln!("{backend:?}: the TAT report equals its SQL oracle on {lines} lines");

    let seen = std::mem::take(&mut *SEEN.lock().unwrap_or_else(|e| e.into_inner()));
    let requests: BTreeSet<&String> = seen.values().flatten().collect();
    assert!(
        seen.len() >= 100 && requests.len() >= 40,
        "the recorder saw only {} statements from {} requests: is the instrumentation installed?",
        seen.len(),
        requests.len()
    );
    let mut explainer = match backend {
        Backend::Sqlite => Explainer::Sqlite(
            SqliteConnection::establish(&fresh.sqlite_file().display().to_string())
                .expect("SQLite"),
        ),
        Backend::Postgres => {
            use diesel::connection::SimpleConnection;
            let url = fresh.settings.database_url.clone().expect("url");
            let mut c = PgConnection::establish(&url).expect("PostgreSQL");
            c.batch_execute("SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off")
                .expect("planner settings");
            Explainer::Pg(c)
        }
    };
    let tables = table_names(&db);
    let mut findings = Vec::new();
    let mut failures = Vec::new();
    let mut excluded_count = 0;
    let mut usage: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut every = String::new();
    for (sql, requests) in &seen {
        if requests.iter().all(|r| excluded(r) || r == "(test setup)") {
            excluded_count += 1;
            continue;
        }
        let explained = explainer.explain(sql, &tables);
        if let Ok((plan, _)) = &explained {
            every.push_str(&format!(
                "\n--- {}\n{sql}\n{plan}\n",
                requests.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
            for index in indexes_in(plan) {
                usage
                    .entry(index)
                    .or_default()
                    .extend(requests.iter().cloned());
            }
        }
        match explained {
            Ok((plan, scans)) if !scans.is_empty() => findings.push(Finding {
                sql: sql.clone(),
                requests: requests.clone(),
                plan,
                scans,
            }),
            Ok(_) => {}
            Err(e) => failures.push(format!("{sql}\n  issued by {requests:?}\n  {e}")),
        }
    }
    let mut full = String::new();
    let mut short = String::new();
    // Table scans first, then whole-index walks.
    findings.sort_by_key(|f| !f.scans.iter().any(|s| s.kind == "table scan"));
    for f in &findings {
        let requests = f.requests.iter().cloned().collect::<Vec<_>>().join(", ");
        let scans = f
            .scans
            .iter()
            .map(|s| format!("{} of {} ({})", s.kind, s.table, s.line))
            .collect::<Vec<_>>()
            .join("; ");
        full.push_str(&format!(
            "\n--- {scans}\n{}\n  issued by: {requests}\n  plan:\n{}\n",
            f.sql, f.plan
        ));
        if f.scans.iter().any(|s| s.kind == "table scan") {
            let head: String = f.sql.chars().take(160).collect();
            short.push_str(&format!("\n- {scans}\n  by {requests}\n  {head}…\n"));
        }
    }
    let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("query_plans_{backend:?}.txt").to_lowercase());
    std::fs::write(&file, &full).expect("write the report");
    std::fs::write(
        file.with_file_name(format!("query_plans_{backend:?}_all.txt").to_lowercase()),
        every,
    )
    .expect("write every plan");
    let used: String = usage
        .iter()
        .map(|(index, requests)| {
            format!(
                "{index}\n  {}\n",
                requests.iter().cloned().collect::<Vec<_>>().join("\n  ")
            )
        })
        .collect();
    std::fs::write(
        file.with_file_name(format!("query_plans_{backend:?}_indexes.txt").to_lowercase()),
        used,
    )
    .expect("write the index usage");
    eprintln!(
        "{backend:?}: {} distinct statements from {} requests explained ({excluded_count} \
         excluded); whole-index walks in {} (every plan in *_all.txt, index use in *_indexes.txt)",
        seen.len() - excluded_count,
        requests.len(),
        file.display()
    );
    let missing: Vec<String> = EXPECTED_INDEXES
        .iter()
        .filter(|(index, request)| !usage.get(*index).is_some_and(|r| r.contains(*request)))
        .map(|(index, request)| format!("{request} does not read {index}"))
        .collect();
    assert!(
        missing.is_empty(),
        "{backend:?}: {} (every plan in *_all.txt)",
        missing.join("; ")
    );
    assert!(
        failures.is_empty(),
        "{} statements could not be explained:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let scanning = findings
        .iter()
        .filter(|f| f.scans.iter().any(|s| s.kind == "table scan"))
        .count();
    eprintln!(
        "{backend:?}: {} statements walk a whole index (listed in the report, not failures)",
        findings.len() - scanning
    );
    assert!(
        scanning == 0,
        "{backend:?}: {scanning} statements of request paths scan a whole table (plans in {}):\n{short}",
        file.display()
    );
}

/// The tables of the database.
#[test]
fn sqlite_request_paths_use_indexes() {
    check_plans(Backend::Sqlite);
}

#[test]
fn pg_request_paths_use_indexes() {
    check_plans(Backend::Postgres);
}

#[test]
fn aliases_are_resolved() {
    let a = aliases(
        "SELECT * FROM \"samples\" INNER JOIN suppliers sp ON sp.id = s.supplier_id \
         LEFT JOIN stages AS g ON g.sample_id = samples.id WHERE x IN (SELECT 1 FROM working_clock wc)",
    );
    assert_eq!(a.get("samples").map(String::as_str), Some("samples"));
    assert_eq!(a.get("sp").map(String::as_str), Some("suppliers"));
    assert_eq!(a.get("g").map(String::as_str), Some("stages"));
    assert_eq!(a.get("wc").map(String::as_str), Some("working_clock"));
    assert_eq!(a.get("INNER"), None);
    assert_eq!(placeholders("a = $1 AND b = $12 LIMIT $3"), 12);
    assert_eq!(
        route("/api/v1/samples/DEMO-2026-000313/receive?y=2&x=1"),
        "/api/v1/samples/{key}/receive?x&y"
    );
    assert_eq!(route("/api/v1/suppliers"), "/api/v1/suppliers");
    assert_eq!(
        route("/api/v1/suppliers/SP-04/chart.svg"),
        "/api/v1/suppliers/{key}/chart.svg"
    );
}
