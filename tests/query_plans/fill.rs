//! The data: the demo county, copies of it moved back year by year over more suppliers, and
//! filler rows, then planner statistics as a running server has them.

use coallab::db::Db;
use diesel::QueryableByName;

const COPIES: i64 = 10;
const FILLER_SUPPLIERS: i64 = 300;
const FILLER_ROWS: i64 = 5000;
const YEAR_MS: i64 = 365 * 86_400_000;

pub fn exec(db: &Db, sql: &str) {
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
pub fn fill(db: &Db) {
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
