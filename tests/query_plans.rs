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
//!    [`EXCLUDED_REQUESTS`].

mod ops_support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use coallab::db::Db;
use diesel::connection::{set_default_instrumentation, Instrumentation, InstrumentationEvent};
use diesel::sql_types::{Integer, Text};
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl, SqliteConnection};
use ops_support::{Backend, Fresh};
use serde_json::{json, Value};

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

// ---- the data -----------------------------------------------------------------------------

const COPIES: i64 = 10;
const FILLER_SUPPLIERS: i64 = 300;
const FILLER_ROWS: i64 = 5000;
const YEAR_MS: i64 = 365 * 86_400_000;

fn exec(db: &Db, sql: &str) {
    db.transaction(|tx| Ok(coallab::with_tx!(tx, |c| diesel::sql_query(sql).execute(c))?))
        .unwrap_or_else(|e| panic!("{e}\n{sql}"));
}

#[derive(QueryableByName)]
struct One {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn scalar(db: &Db, sql: &str) -> i64 {
    let rows: Vec<One> = db
        .read(|tx| Ok(coallab::with_tx!(tx, |c| diesel::sql_query(sql).load(c))?))
        .unwrap_or_else(|e| panic!("{e}\n{sql}"));
    rows[0].n
}

/// `YYYY-…` text date `col` moved back `k` years (NULL stays NULL).
fn years_back(col: &str, k: i64) -> String {
    format!("CAST(CAST(substr({col}, 1, 4) AS INTEGER) - {k} AS TEXT) || substr({col}, 5)")
}

/// Fills the database: the demo county, `COPIES` copies of its samples moved back one year
/// each and spread over `FILLER_SUPPLIERS` more suppliers, and filler sessions, tokens,
/// idempotency keys and login counters. Audit events of the copies get negative sequence numbers,
/// so the live chain (from 1) still verifies.
fn fill(db: &Db) {
    let now = chrono::Utc::now();
    coallab::service::demo::seed(db, now).expect("demo county");
    let now_ms = now.timestamp_millis();
    let series = |n: i64| {
        format!("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n}) ")
    };
    exec(
        db,
        &format!(
            "{}INSERT INTO suppliers (code, name, kind, town, licence_no, jurisdiction_code, version, created_at) \
             SELECT 'FX-' || CAST(i AS TEXT), 'filler supplier ' || CAST(i AS TEXT), \
             CASE WHEN i % 5 = 0 THEN 'production_enterprise' ELSE 'sale_point' END, \
             'filler town ' || CAST(i % 40 AS TEXT), 'FXL-' || CAST(i AS TEXT), \
             (SELECT jurisdiction_code FROM suppliers WHERE code = 'SP-02'), 1, {now_ms} FROM n",
            series(FILLER_SUPPLIERS)
        ),
    );
    let first_filler = scalar(
        db,
        "SELECT CAST(MIN(id) AS BIGINT) AS n FROM suppliers WHERE code LIKE 'FX-%'",
    );
    for k in 1..=COPIES {
        let off = k * 10_000_000;
        let ms = k * YEAR_MS;
        let sfx = format!("'-C{k}'");
        let keep = "< 10000000";
        let sample_cols = "id, sample_code, lab_code, lab_id, supplier_id, state, coal_category, \
            sampled_at, sampled_on, test_seal_no, retained_seal_no, retained_discard_on, \
            retained_condition, limit_sets_frozen, registered_at, received_at, result_received_at, \
            appeal_closes_at, retest_requested_at, closed_at, final_verdict, current_stage, due_at, \
            state_reason, idempotency_key, version, created_by";
        let statements = [
            format!(
                "INSERT INTO samples ({sample_cols}) SELECT id + {off}, sample_code || {sfx}, \
                 lab_code || {sfx}, lab_id, \
                 CASE WHEN id % 4 = 0 THEN supplier_id ELSE {first_filler} + ((id * 7 + {k}) % {FILLER_SUPPLIERS}) END, \
                 state, coal_category, sampled_at - {ms}, {}, test_seal_no || {sfx}, \
                 retained_seal_no || {sfx}, {}, retained_condition, limit_sets_frozen, \
                 registered_at - {ms}, received_at - {ms}, result_received_at - {ms}, \
                 appeal_closes_at - {ms}, retest_requested_at - {ms}, closed_at - {ms}, \
                 final_verdict, current_stage, due_at - {ms}, state_reason, idempotency_key || {sfx}, \
                 version, created_by FROM samples WHERE id {keep}",
                years_back("sampled_on", k),
                years_back("retained_discard_on", k)
            ),
            format!(
                "INSERT INTO sampling_records (sample_id, claimed_grade, lot_no, lot_mass_t, top_size_mm, \
                 sampling_method, increments, gross_mass_kg, samplers, retained_custodian, retained_location, \
                 prepared_on) SELECT sample_id + {off}, claimed_grade, lot_no, lot_mass_t, top_size_mm, \
                 sampling_method, increments, gross_mass_kg, samplers, retained_custodian, retained_location, \
                 {} FROM sampling_records WHERE sample_id {keep}",
                years_back("prepared_on", k)
            ),
            format!(
                "INSERT INTO stages (id, sample_id, stage, started_at, due_at, submitted_at, released_at, \
                 released_by, verdict, verdict_detail, results, reproducibility, report_no) \
                 SELECT id + {off}, sample_id + {off}, stage, started_at - {ms}, due_at - {ms}, \
                 submitted_at - {ms}, released_at - {ms}, released_by, verdict, verdict_detail, results, \
                 reproducibility, report_no || {sfx} FROM stages WHERE id {keep}"
            ),
            format!(
                "INSERT INTO stage_pauses (id, stage_id, started_at, ended_at, reason) \
                 SELECT id + {off}, stage_id + {off}, started_at - {ms}, ended_at - {ms}, reason \
                 FROM stage_pauses WHERE id {keep}"
            ),
            format!(
                "INSERT INTO determinations (id, stage_id, analysis, run, seq, value_text, entered_by, entered_at) \
                 SELECT id + {off}, stage_id + {off}, analysis, run, seq, value_text, entered_by, \
                 entered_at - {ms} FROM determinations WHERE id {keep}"
            ),
            format!(
                "INSERT INTO analysis_runs (stage_id, analysis, run, outcome, mean, detail) \
                 SELECT stage_id + {off}, analysis, run, outcome, mean, detail FROM analysis_runs \
                 WHERE stage_id {keep}"
            ),
            format!(
                "INSERT INTO stage_revisions (id, stage_id, revision, status, determinations, means, results, \
                 verdict, verdict_detail, reproducibility, reason, proposed_by, proposed_at, released_by, \
                 released_at, report_no, replaces_report_no) SELECT id + {off}, stage_id + {off}, revision, \
                 status, determinations, means, results, verdict, verdict_detail, reproducibility, reason, \
                 proposed_by, proposed_at - {ms}, released_by, released_at - {ms}, report_no || {sfx}, \
                 replaces_report_no || {sfx} FROM stage_revisions WHERE id {keep}"
            ),
            format!(
                "INSERT INTO stage_results (stage_id, revision, parameter, basis, value, reported) \
                 SELECT stage_id + {off}, revision, parameter, basis, value, reported FROM stage_results \
                 WHERE stage_id {keep}"
            ),
            format!(
                "INSERT INTO limit_verdicts (stage_id, revision, limit_set_id, parameter, operator, limit_value, \
                 limit_decimals, method, value, rounded_value, compared_value, verdict, source) \
                 SELECT stage_id + {off}, revision, limit_set_id, parameter, operator, limit_value, \
                 limit_decimals, method, value, rounded_value, compared_value, verdict, source \
                 FROM limit_verdicts WHERE stage_id {keep}"
            ),
            format!(
                "INSERT INTO report_codes (report_no, code, issued_at, issued_by) \
                 SELECT report_no || {sfx}, code, issued_at - {ms}, issued_by FROM report_codes \
                 WHERE report_no NOT LIKE '%-C%'"
            ),
            format!(
                "INSERT INTO retained_discards (sample_id, discarded_at, discarded_by, reason) \
                 SELECT sample_id + {off}, discarded_at - {ms}, discarded_by, reason FROM retained_discards \
                 WHERE sample_id {keep}"
            ),
            format!(
                "INSERT INTO audit_events (seq, at, actor, action, entity, entity_id, sample_id, before_json, \
                 after_json, reason, prev_hash, hash) SELECT -(seq + {off}), at - {ms}, actor, action, entity, \
                 entity_id, sample_id + {off}, before_json, after_json, reason, prev_hash, hash || {sfx} \
                 FROM audit_events WHERE seq > 0"
            ),
        ];
        for s in &statements {
            exec(db, s);
        }
    }
    // Pauses on one stage in ten, and the retained samples of the copies older than three
    // years discarded, so that both tables have rows for the planners to weigh.
    exec(
        db,
        "INSERT INTO stage_pauses (stage_id, started_at, ended_at, reason) SELECT id, \
         started_at + 3600000, started_at + 7200000, 'waiting for the enterprise' FROM stages \
         WHERE id % 10 = 0",
    );
    exec(
        db,
        &format!(
            "INSERT INTO retained_discards (sample_id, discarded_at, discarded_by, reason) \
             SELECT id, {now_ms}, NULL, 'retention period over' FROM samples WHERE id >= 30000000 \
             AND id NOT IN (SELECT sample_id FROM retained_discards)"
        ),
    );
    let user = "(SELECT MIN(id) FROM users)";
    for s in [
        format!(
            "{}INSERT INTO sessions (id_sha256, user_id, created_at, expires_at, ip) \
             SELECT 'filler-' || CAST(i AS TEXT), {user}, {now_ms} - i * 60000, {now_ms} + (i - 2500) * 60000, \
             '10.0.0.1' FROM n",
            series(FILLER_ROWS)
        ),
        format!(
            "{}INSERT INTO api_tokens (user_id, token_sha256, label, expires_at, revoked, created_at) \
             SELECT {user}, 'filler-' || CAST(i AS TEXT), 'filler', {now_ms} + i * 60000, FALSE, {now_ms} FROM n",
            series(FILLER_ROWS)
        ),
        format!(
            "{}INSERT INTO idempotency_keys (key, endpoint, status, body, created_at) \
             SELECT 'filler-' || CAST(i AS TEXT), 'POST /api/v1/samples', 201, '{{}}', {now_ms} - i * 60000 FROM n",
            series(FILLER_ROWS)
        ),
        format!(
            "{}INSERT INTO login_throttle (key, failures, last_failed_at, locked_until) \
             SELECT 'ip:10.1.' || CAST(i AS TEXT), 1, {now_ms} - i * 60000, 0 FROM n",
            series(FILLER_ROWS)
        ),
    ] {
        exec(db, &s);
    }
    // Planner statistics as a running server has them: SQLite through `Db::optimize` (what
    // `coallab serve` runs at start and hourly), PostgreSQL through ANALYZE (autovacuum's job).
    match db.backend() {
        coallab::db::Backend::Sqlite => {
            db.optimize().expect("PRAGMA optimize");
            let analysed = scalar(
                db,
                "SELECT CAST(COUNT(DISTINCT tbl) AS BIGINT) AS n FROM sqlite_stat1",
            );
            assert!(analysed >= 10, "PRAGMA optimize analysed {analysed} tables");
        }
        coallab::db::Backend::Postgres => exec(db, "ANALYZE"),
    }
    let samples = scalar(db, "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM samples");
    assert!(
        samples >= 312 * (COPIES + 1),
        "expected the demo county and {COPIES} copies, found {samples} samples"
    );
}

// ---- driving the request paths ------------------------------------------------------------

const TECH: &str = "demo-technician";
const TECH2: &str = "demo-technician-2";
const REVIEWER: &str = "demo-reviewer";
const REVIEWER2: &str = "plan-reviewer-2";
const REGULATOR: &str = "demo-regulator";
const AUDITOR: &str = "demo-auditor";
const ADMIN: &str = "demo-admin";

struct Client {
    base: String,
    http: reqwest::blocking::Client,
}

struct Answer {
    status: u16,
    body: Value,
    headers: reqwest::header::HeaderMap,
}

impl Answer {
    #[track_caller]
    fn ok(self) -> Value {
        assert!(
            (200..300).contains(&self.status),
            "HTTP {}: {}",
            self.status,
            self.body
        );
        self.body
    }
}

impl Client {
    fn send(&self, method: &str, path: &str, rb: reqwest::blocking::RequestBuilder) -> Answer {
        phase(&format!("{method} {}", route(path)));
        let r = rb.send().expect("HTTP request");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r.bytes().expect("body");
        Answer {
            status,
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            headers,
        }
    }

    fn get(&self, path: &str, token: &str) -> Answer {
        let rb = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(token);
        self.send("GET", path, rb)
    }

    fn post(&self, path: &str, token: &str, body: &Value) -> Answer {
        let rb = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(body);
        self.send("POST", path, rb)
    }

    fn version(&self, key: &str) -> i64 {
        self.get(&format!("/api/v1/samples/{key}"), REVIEWER).ok()["version"]
            .as_i64()
            .expect("version")
    }

    fn act(&self, key: &str, action: &str, token: &str, extra: Value) -> Value {
        let mut body = json!({ "version": self.version(key) });
        if let (Some(b), Value::Object(e)) = (body.as_object_mut(), extra) {
            b.extend(e);
        }
        self.post(&format!("/api/v1/samples/{key}/{action}"), token, &body)
            .ok()
    }

    fn determine(&self, key: &str, token: &str, analysis: &str, values: &[&str]) {
        for v in values {
            self.post(
                &format!("/api/v1/samples/{key}/determinations"),
                token,
                &json!({"analysis": analysis, "value": v}),
            )
            .ok();
        }
    }

    fn register(&self, seal: &str, supplier: &str) -> Value {
        self.post(
            "/api/v1/samples",
            TECH,
            &json!({
                "supplier_code": supplier, "samplers": ["张伟", "刘洋"],
                "sampled_at": (chrono::Utc::now() - chrono::Duration::hours(3)).to_rfc3339(),
                "coal_category": "无烟块煤", "test_seal_no": format!("T-{seal}"),
                "retained_seal_no": format!("B-{seal}"), "lot_no": "LOT-PLAN",
            }),
        )
        .ok()
    }

    /// Registers, receives, starts and tests a sample (Mad, Aad, St,ad) and submits it.
    fn tested(&self, seal: &str, supplier: &str, st_ad: [&str; 2]) -> String {
        let code = self.register(seal, supplier)["sample_code"]
            .as_str()
            .expect("code")
            .to_string();
        self.act(&code, "receive", TECH, Value::Null);
        self.act(&code, "start", TECH, Value::Null);
        self.determine(&code, TECH, "mad", &["2.10", "2.16"]);
        self.determine(&code, TECH, "aad", &["15.02", "15.37", "15.20"]);
        self.determine(&code, TECH, "st_ad", &st_ad);
        self.act(&code, "submit", TECH, Value::Null);
        code
    }
}

/// Drives every request path once or more, as each role, with each filter.
fn drive(c: &Client, db: &Db) {
    // Health, identity, reference data.
    for (p, t) in [
        ("/health", TECH),
        ("/ready", TECH),
        ("/api/v1/me", TECH),
        ("/api/v1/suppliers", REGULATOR),
        ("/api/v1/suppliers/SP-04", REGULATOR),
        ("/api/v1/jurisdictions", REGULATOR),
        ("/api/v1/limit-sets", REGULATOR),
        ("/api/v1/calendars/cn", REGULATOR),
    ] {
        c.get(p, t).ok();
    }

    // Browser sign-in: a failed login, a good one, a request with the cookie, logout.
    let login = |user: &str, password: &str| {
        let rb = c
            .http
            .post(format!("{}/login", c.base))
            .json(&json!({"username": user, "password": password}));
        c.send("POST", "/login", rb)
    };
    assert_eq!(login("reg-chen", "wrong password").status, 401);
    assert_eq!(login("nobody", "wrong password").status, 401);
    let ok = login("reg-chen", "reg-chen-demo-pass");
    assert_eq!(ok.status, 200, "{}", ok.body);
    let cookie = ok
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("coallab_session="))
        .and_then(|v| v.split(';').next())
        .expect("session cookie")
        .to_string();
    let csrf = ok.body["csrf_token"].as_str().expect("csrf").to_string();
    let rb = c
        .http
        .get(format!("{}/api/v1/samples?verdict=fail", c.base))
        .header("Cookie", &cookie);
    assert_eq!(
        c.send("GET", "/api/v1/samples?verdict=fail", rb).status,
        200
    );
    let rb = c
        .http
        .post(format!("{}/logout", c.base))
        .header("Cookie", &cookie)
        .header("X-CSRF-Token", &csrf);
    assert_eq!(c.send("POST", "/logout", rb).status, 204);

    // Registration with an idempotency key, and its repeat.
    let body = json!({
        "supplier_code": "SP-04", "samplers": ["张伟", "刘洋"],
        "sampled_at": (chrono::Utc::now() - chrono::Duration::hours(2)).to_rfc3339(),
        "test_seal_no": "T-PLAN-IDEM", "retained_seal_no": "B-PLAN-IDEM",
    });
    let rb = c
        .http
        .post(format!("{}/api/v1/samples", c.base))
        .bearer_auth(TECH)
        .header("Idempotency-Key", "plan-idem-1")
        .json(&body);
    let first = c.send("POST", "/api/v1/samples", rb).ok();
    let rb = c
        .http
        .post(format!("{}/api/v1/samples", c.base))
        .bearer_auth(TECH)
        .header("Idempotency-Key", "plan-idem-1")
        .json(&body);
    let again = c.send("POST", "/api/v1/samples", rb).ok();
    assert_eq!(first["id"], again["id"]);
    // A reused seal is refused.
    let rb = c
        .http
        .post(format!("{}/api/v1/samples", c.base))
        .bearer_auth(TECH)
        .json(&body);
    assert_eq!(c.send("POST", "/api/v1/samples", rb).status, 409);

    // A failing sample through the whole workflow: return, release, receipt, retest, amendment.
    // St,ad 0.98/1.00 → St,d 1.0115 ≥ 1.00 fails the loose-coal clause (README tour).
    let s1 = c.tested("PLAN-1", "SP-04", ["0.98", "1.00"]);
    let lab_code = c.get(&format!("/api/v1/samples/{s1}"), TECH).ok()["lab_code"]
        .as_str()
        .expect("lab code")
        .to_string();
    c.get(&format!("/api/v1/samples/{lab_code}"), TECH).ok();
    c.act(&s1, "return", REVIEWER, json!({"reason": "check Aad"}));
    c.act(&s1, "submit", TECH, Value::Null);
    let released = c.act(&s1, "release", REVIEWER, Value::Null);
    assert_eq!(released["final_verdict"], "fail", "{released}");
    let id1 = released["id"].as_i64().expect("id");
    c.get(&format!("/api/v1/samples/{id1}"), REGULATOR).ok();
    c.act(
        &s1,
        "result-received",
        REGULATOR,
        json!({"received_at": chrono::Utc::now().to_rfc3339()}),
    );
    c.act(
        &s1,
        "request_retest",
        REGULATOR,
        json!({"retained_seal_no": "B-PLAN-1", "retained_condition": "intact", "reason": "appeal"}),
    );
    c.determine(&s1, TECH2, "mad", &["2.00", "2.00"]);
    c.determine(&s1, TECH2, "aad", &["12.10", "12.20"]);
    c.determine(&s1, TECH2, "st_ad", &["0.89", "0.91"]);
    c.act(&s1, "submit", TECH2, Value::Null);
    let closed = c.act(&s1, "release", REVIEWER, Value::Null);
    assert_eq!(closed["state"], "closed", "{closed}");
    // The retest report's code is issued now; after the amendment it names its replacement.
    let r1_code = c
        .get(
            &format!("/api/v1/reports/documents/{s1}-R1?format=json"),
            REGULATOR,
        )
        .ok()["verification_code"]
        .as_str()
        .expect("code")
        .to_string();
    let proposed = c
        .post(
            &format!("/api/v1/samples/{s1}/amendments"),
            REVIEWER,
            &json!({"version": c.version(&s1), "stage": "retest", "reason": "transcription error",
                    "determinations": [{"analysis": "aad", "values": ["12.12", "12.20"]}]}),
        )
        .ok();
    c.post(
        &format!("/api/v1/samples/{s1}/amendments/release"),
        REVIEWER2,
        &json!({"version": c.version(&s1), "stage": "retest", "revision": proposed["revision"]}),
    )
    .ok();
    c.get(&format!("/api/v1/samples/{s1}/revisions"), REGULATOR)
        .ok();

    // Reports on this sample: status, the test report documents and their public verification.
    c.get(
        &format!("/api/v1/reports/status?sample_code={s1}"),
        REGULATOR,
    )
    .ok();
    let report_no = format!("{s1}-R2");
    c.get(
        &format!("/api/v1/reports/status?report_no={report_no}"),
        REGULATOR,
    )
    .ok();
    let doc = c
        .get(
            &format!("/api/v1/reports/documents/{report_no}?format=json"),
            REGULATOR,
        )
        .ok();
    let code = doc["verification_code"].as_str().expect("code").to_string();
    c.get(
        &format!("/api/v1/reports/documents/{s1}-I1?format=html"),
        AUDITOR,
    )
    .ok();
    c.get(
        &format!("/api/v1/reports/documents/{report_no}?format=pdf"),
        REVIEWER,
    )
    .ok();
    let rb = c.http.get(format!(
        "{}/verify/{report_no}?code={code}&format=json",
        c.base
    ));
    assert_eq!(
        c.send("GET", "/verify/{report_no}?code=&format=", rb)
            .status,
        200
    );
    let rb = c.http.get(format!(
        "{}/verify/{s1}-R1?code={r1_code}&format=json",
        c.base
    ));
    let replaced = c.send("GET", "/verify/{report_no}?code=&format=", rb).ok();
    assert_eq!(replaced["replaced_by"], report_no.as_str(), "{replaced}");

    // A passing sample (closes on release), a failing one closed after its window, a rejected
    // and a cancelled one.
    let s2 = c.tested("PLAN-2", "SP-02", ["0.48", "0.50"]);
    c.act(&s2, "release", REVIEWER, Value::Null);
    let s3 = c.tested("PLAN-3", "SP-03", ["0.98", "1.00"]);
    c.act(&s3, "release", REVIEWER, Value::Null);
    c.act(
        &s3,
        "result-received",
        REGULATOR,
        json!({"received_at": chrono::Utc::now().to_rfc3339()}),
    );
    phase("(test setup)");
    exec(
        db,
        &format!(
            "UPDATE samples SET result_received_at = {}, appeal_closes_at = {} \
             WHERE sample_code = '{s3}'",
            (chrono::Utc::now() - chrono::Duration::days(40)).timestamp_millis(),
            (chrono::Utc::now() - chrono::Duration::days(20)).timestamp_millis()
        ),
    );
    c.act(
        &s3,
        "close",
        REVIEWER,
        json!({"reason": "appeal window over"}),
    );
    let s4 = c.register("PLAN-4", "SP-05")["sample_code"]
        .as_str()
        .unwrap()
        .to_string();
    c.act(&s4, "reject", TECH, json!({"reason": "broken seal"}));
    let s5 = c.register("PLAN-5", "SP-06")["sample_code"]
        .as_str()
        .unwrap()
        .to_string();
    c.act(&s5, "receive", TECH, Value::Null);
    c.act(&s5, "cancel", REVIEWER, json!({"reason": "withdrawn"}));

    // Retained samples due for discard, and a discard.
    let due = c
        .get(
            "/api/v1/retained-samples/due?on=2027-12-31&per_page=200",
            TECH,
        )
        .ok();
    c.get("/api/v1/retained-samples/due?page=2&per_page=5", AUDITOR)
        .ok();
    let item = due["items"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["may_discard"] == true))
        .expect("a retained sample that may be discarded");
    c.post(
        &format!("/api/v1/samples/{}/discard-retained", item["id"]),
        TECH,
        &json!({"version": item["version"], "reason": "retention period over"}),
    )
    .ok();

    // A CSV import of samples (and its repeat), and of suppliers.
    let csv = "supplier_code,sampled_at,samplers,test_seal_no,retained_seal_no,mad,aad,st_ad\n\
               SP-01,2026-11-28T09:30:00+08:00,张伟;刘洋,T-PLAN-CSV1,B-PLAN-CSV1,2.10;2.16,12.10;12.32;12.20,0.48;0.50\n\
               SP-05,2026-11-28T10:15:00+08:00,张伟;刘洋,T-PLAN-CSV2,B-PLAN-CSV2,1.95;2.05,14.20,0.71;0.73\n";
    for _ in 0..2 {
        let rb = c
            .http
            .post(format!("{}/api/v1/import/samples", c.base))
            .bearer_auth(TECH)
            .header("Content-Type", "text/csv")
            .body(csv);
        assert_eq!(
            c.send("POST", "/api/v1/import/samples", rb).status,
            200,
            "samples import"
        );
    }
    let rb = c
        .http
        .post(format!("{}/api/v1/import/suppliers", c.base))
        .bearer_auth(ADMIN)
        .header("Content-Type", "text/csv")
        .body(
            "code,name,kind,town,licence_no,jurisdiction_code\n\
             SP-PLAN,测试,sale_point,东关镇 Dongguan,T-PLAN,cn-he-handan-demo\n",
        );
    let a = c.send("POST", "/api/v1/import/suppliers", rb);
    assert_eq!(a.status, 200, "{}", a.body);
    c.post(
        "/api/v1/suppliers",
        ADMIN,
        &json!({"code": "SP-PLAN2", "name": "测试二", "kind": "sale_point", "town": "东关镇 Dongguan",
                "licence_no": "T-PLAN2", "jurisdiction_code": "cn-he-handan-demo"}),
    )
    .ok();

    // The sample list, as each role, with each filter.
    let filters = [
        "",
        "?supplier=SP-04",
        "?town=filler%20town%207",
        "?state=closed",
        "?state=initial_testing",
        "?verdict=fail",
        "?stage=retest",
        "?overdue=true",
        "?overdue=false",
        "?from=2025-01-01&to=2025-12-31",
        "?from=2026-11-01",
        "?page=3&per_page=20",
        "?supplier=SP-04&verdict=fail&from=2020-01-01&to=2026-12-31",
        "?state=initial_released&overdue=false",
    ];
    for token in [TECH, REVIEWER, REGULATOR, AUDITOR, ADMIN] {
        for f in filters {
            if token == TECH && (f.contains("supplier=") || f.contains("town=")) {
                continue;
            }
            c.get(&format!("/api/v1/samples{f}"), token).ok();
        }
    }

    // Regulator reports, TAT and overdue, with their filters.
    for token in [REGULATOR, REVIEWER] {
        for f in [
            "",
            "?from=2025-11-01&to=2026-03-31",
            "?from=2021-01-01&to=2021-12-31&town=filler%20town%203",
            "?kind=production_enterprise&verdict=fail",
            "?stage=retest&from=2024-01-01",
            "?format=csv",
        ] {
            c.get(&format!("/api/v1/reports/suppliers{f}"), token).ok();
        }
        for f in [
            "",
            "?from=2025-11-01&to=2026-03-31",
            "?town=filler%20town%203",
        ] {
            c.get(&format!("/api/v1/reports/non-compliant{f}"), token)
                .ok();
        }
    }
    for g in [
        "stage",
        "period-week",
        "period-month",
        "supplier",
        "technician",
        "lab",
    ] {
        c.get(
            &format!("/api/v1/reports/tat?from=2025-11-01&to=2026-03-31&group_by={g}"),
            AUDITOR,
        )
        .ok();
    }
    c.get(
        "/api/v1/reports/tat?from=2026-01-01&to=2026-12-31&stage=retest&format=csv",
        AUDITOR,
    )
    .ok();
    c.get(
        "/api/v1/reports/overdue?from=2026-01-01&to=2026-12-31",
        AUDITOR,
    )
    .ok();

    // Statistics and charts.
    for p in [
        "/api/v1/suppliers/SP-04/stats?parameter=std",
        "/api/v1/suppliers/SP-04/stats?parameter=ad&from=2025-11-01&to=2026-03-31",
        "/api/v1/suppliers/SP-04/chart.svg",
        "/api/v1/suppliers/SP-04/chart.png?parameters=std",
        "/api/v1/stats/ranking?parameter=std",
        "/api/v1/stats/ranking?parameter=ad&from=2025-11-01&to=2026-03-31",
        "/api/v1/charts/comparison.svg?parameter=ad",
        "/api/v1/charts/comparison.png?parameter=std&from=2025-11-01",
    ] {
        c.get(p, REGULATOR).ok();
    }

    // The audit trail with each filter, and the chain check (excluded: a full pass by nature).
    for f in [
        "?per_page=5",
        "?page=4&per_page=50",
        &format!("?sample_id={id1}"),
        "?actor=tech-wang&per_page=20",
        "?action=sample.release&per_page=20",
        "?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z",
        "?actor=tech-wang&action=determination.enter&from=2025-12-01T00:00:00Z",
    ] {
        c.get(&format!("/api/v1/audit{f}"), AUDITOR).ok();
    }
    let verify = c.get("/api/v1/audit/verify", AUDITOR).ok();
    assert_eq!(verify["ok"], true, "{verify}");

    // The periodic jobs of `coallab serve`: closing lapsed appeal windows, purging sessions.
    phase("job: appeal_close::close_expired");
    coallab::service::appeal_close::close_expired(db, chrono::Utc::now()).expect("close job");
    phase("job: users_session::purge_expired");
    db.transaction(|tx| {
        coallab::service::users_session::purge_expired(tx, chrono::Utc::now().timestamp_millis())
    })
    .expect("purge sessions");
}

// ---- explaining -----------------------------------------------------------------------------

#[derive(QueryableByName)]
struct SqlitePlanRow {
    #[diesel(sql_type = Integer)]
    id: i32,
    #[diesel(sql_type = Integer)]
    parent: i32,
    #[diesel(sql_type = Text)]
    detail: String,
}

#[derive(QueryableByName)]
struct PgPlanRow {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    line: String,
}

const KEYWORDS: &[&str] = &[
    "WHERE",
    "ON",
    "JOIN",
    "INNER",
    "LEFT",
    "RIGHT",
    "OUTER",
    "CROSS",
    "GROUP",
    "ORDER",
    "LIMIT",
    "SET",
    "USING",
    "VALUES",
    "SELECT",
    "UNION",
    "HAVING",
    "OFFSET",
    "RETURNING",
    "WINDOW",
];

/// Table name (and alias) → table, from the FROM / JOIN / UPDATE / INTO clauses of `sql`.
fn aliases(sql: &str) -> BTreeMap<String, String> {
    let mut tokens = Vec::new();
    let mut cur = String::new();
    for ch in sql.chars() {
        if ch.is_ascii_alphanumeric() || ch == '_' {
            cur.push(ch);
        } else {
            if !cur.is_empty() {
                tokens.push(std::mem::take(&mut cur));
            }
            if ch == '(' || ch == ')' || ch == ',' {
                tokens.push(ch.to_string());
            }
        }
    }
    if !cur.is_empty() {
        tokens.push(cur);
    }
    let mut out = BTreeMap::new();
    for i in 0..tokens.len() {
        let t = tokens[i].to_ascii_uppercase();
        if !matches!(t.as_str(), "FROM" | "JOIN" | "UPDATE" | "INTO") {
            continue;
        }
        let Some(table) = tokens.get(i + 1) else {
            continue;
        };
        if table == "(" {
            continue;
        }
        out.insert(table.clone(), table.clone());
        let mut j = i + 2;
        if tokens.get(j).is_some_and(|a| a.eq_ignore_ascii_case("AS")) {
            j += 1;
        }
        if let Some(alias) = tokens.get(j) {
            let upper = alias.to_ascii_uppercase();
            if alias.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !KEYWORDS.contains(&upper.as_str())
            {
                out.entry(alias.clone()).or_insert_with(|| table.clone());
            }
        }
    }
    out
}

fn small(table: &str) -> bool {
    SMALL_TABLES.iter().any(|(t, _)| *t == table)
}

/// One finding: a statement, the requests that issued it, its plan, and what it scans.
struct Finding {
    sql: String,
    requests: BTreeSet<String>,
    plan: String,
    scans: Vec<Scan>,
}

/// A whole-table pass found in a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Scan {
    table: String,
    /// `table scan` (no index at all) or `full index scan` (an index walked end to end).
    kind: &'static str,
    line: String,
}

/// SQLite: `SCAN x` (no index) and `SCAN x USING [COVERING] INDEX i` (the whole index) of a
/// table that is not small.
fn sqlite_scans(
    plan: &[SqlitePlanRow],
    names: &BTreeMap<String, String>,
    tables: &BTreeSet<String>,
) -> Vec<Scan> {
    let mut out = Vec::new();
    for r in plan {
        let Some(rest) = r.detail.strip_prefix("SCAN ") else {
            continue;
        };
        let name = rest.split_whitespace().next().unwrap_or("");
        let Some(table) = names.get(name).filter(|t| tables.contains(*t)) else {
            continue;
        };
        if small(table) {
            continue;
        }
        out.push(Scan {
            table: table.clone(),
            kind: if rest.contains(" USING ") {
                "full index scan"
            } else {
                "table scan"
            },
            line: r.detail.clone(),
        });
    }
    out
}

/// PostgreSQL: `Seq Scan on t` (no index could serve) and index scans without an `Index Cond`
/// (the whole index) of a table that is not small.
fn pg_scans(plan: &[String]) -> Vec<Scan> {
    let mut out = Vec::new();
    for (i, l) in plan.iter().enumerate() {
        let table_after = |marker: &str| {
            l.split(marker)
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .map(|t| t.trim_matches('"').to_string())
        };
        if let Some(t) = table_after("Seq Scan on ") {
            if !small(&t) {
                out.push(Scan {
                    table: t,
                    kind: "table scan",
                    line: l.trim().to_string(),
                });
            }
            continue;
        }
        if !(l.contains("Index Scan") || l.contains("Index Only Scan")) || l.contains("Bitmap") {
            continue;
        }
        let Some(t) = table_after(" on ") else {
            continue;
        };
        let has_cond = plan[i + 1..]
            .iter()
            .take_while(|n| !n.contains("->"))
            .any(|n| n.contains("Index Cond:"));
        if !has_cond && !small(&t) {
            out.push(Scan {
                table: t,
                kind: "full index scan",
                line: l.trim().to_string(),
            });
        }
    }
    out
}

/// The indexes a plan reads (SQLite `USING [COVERING] INDEX i`, PostgreSQL `… using i on t`
/// and `Bitmap Index Scan on i`).
fn indexes_in(plan: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in plan.lines() {
        for marker in [
            "USING INDEX ",
            "USING COVERING INDEX ",
            " using ",
            "Bitmap Index Scan on ",
        ] {
            if let Some(rest) = line.split(marker).nth(1) {
                if let Some(name) = rest.split_whitespace().next() {
                    out.insert(name.trim_matches('"').to_string());
                }
            }
        }
    }
    out
}

fn placeholders(sql: &str) -> usize {
    let b = sql.as_bytes();
    let mut max = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' {
            let mut j = i + 1;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            if let Ok(n) = sql[i + 1..j].parse::<usize>() {
                max = max.max(n);
            }
            i = j;
        } else {
            i += 1;
        }
    }
    max
}

enum Explainer {
    Sqlite(SqliteConnection),
    Pg(PgConnection),
}

impl Explainer {
    /// The plan as text lines and the whole-table passes in it.
    fn explain(
        &mut self,
        sql: &str,
        tables: &BTreeSet<String>,
    ) -> Result<(String, Vec<Scan>), String> {
        match self {
            Explainer::Sqlite(c) => {
                let rows: Vec<SqlitePlanRow> =
                    diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
                        .load(c)
                        .map_err(|e| e.to_string())?;
                let text = rows
                    .iter()
                    .map(|r| format!("{:>3} {:>3} {}", r.id, r.parent, r.detail))
                    .collect::<Vec<_>>()
                    .join("\n");
                Ok((text, sqlite_scans(&rows, &aliases(sql), tables)))
            }
            Explainer::Pg(c) => {
                use diesel::connection::SimpleConnection;
                let _ = c.batch_execute("DEALLOCATE ALL");
                c.batch_execute(&format!("PREPARE plan_check AS {sql}"))
                    .map_err(|e| format!("PREPARE: {e}"))?;
                let args = vec!["NULL"; placeholders(sql)].join(", ");
                let exec = if args.is_empty() {
                    "EXPLAIN EXECUTE plan_check".to_string()
                } else {
                    format!("EXPLAIN EXECUTE plan_check({args})")
                };
                let rows: Vec<PgPlanRow> =
                    diesel::sql_query(exec).load(c).map_err(|e| e.to_string())?;
                let lines: Vec<String> = rows.into_iter().map(|r| r.line).collect();
                let scans = pg_scans(&lines);
                Ok((lines.join("\n"), scans))
            }
        }
    }
}

fn excluded(request: &str) -> bool {
    EXCLUDED_REQUESTS.iter().any(|(r, _)| *r == request)
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
    drive(&client, &db);
    RECORDING.store(false, Ordering::SeqCst);
    drop(handle.stop(false));
    let _ = thread.join();

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
fn table_names(db: &Db) -> BTreeSet<String> {
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = Text)]
        name: String,
    }
    let rows: Vec<Name> = db
        .read(|tx| {
            Ok(match tx {
                coallab::db::Tx::Sqlite(c) => diesel::sql_query(
                    "SELECT name FROM sqlite_master WHERE type = 'table'",
                )
                .load(&mut **c)?,
                coallab::db::Tx::Pg(c) => diesel::sql_query(
                    "SELECT CAST(tablename AS TEXT) AS name FROM pg_tables WHERE schemaname = 'public'",
                )
                .load(&mut **c)?,
            })
        })
        .expect("table names");
    rows.into_iter().map(|r| r.name).collect()
}

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
