//! Two coallab servers on one database (issue 8, item 3): the real binary twice, as child
//! processes, on one fresh PostgreSQL database (and on one SQLite file), with 16 client threads
//! split across both servers racing on the same samples:
//! - registrations: every sample code and lab code is unique (in the answers and in the
//!   database), and one idempotency key sent to both servers at once registers one sample;
//! - determinations on the same analyses of the same samples: no lost update (the
//!   determinations stored are exactly those answered 2xx) and every stored precision decision
//!   is the one the rule gives for the determinations stored, in their order;
//! - the same transition with the same `version` from every thread: exactly one wins, every
//!   other gets `409 version_conflict`;
//! - no answer is a 5xx; `coallab audit verify` says ok, and the chain holds exactly one event
//!   per successful change.

mod ops_support;

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::sync::Arc;

use coallab::db::Db;
use coallab::domain::repeatability::{assess, default_table};
use coallab::domain::terms::Analysis;
use diesel::sql_types::{BigInt, Text};
use diesel::QueryableByName;
use ops_support::{client, run_cli, Backend, Fresh, Server, REVIEWER, TECH};
use rust_decimal::Decimal;
use serde_json::{json, Value};

const THREADS: usize = 16;
const REGISTRATIONS_PER_THREAD: usize = 8;
/// Samples on which the threads race with determinations.
const ENTRY_SAMPLES: usize = 4;
/// Samples on which the threads race with one transition.
const TRANSITION_SAMPLES: usize = 8;

/// One answer: status and JSON body.
#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    body: Value,
}

fn post(
    http: &reqwest::blocking::Client,
    url: &str,
    token: &str,
    body: &Value,
    key: Option<&str>,
) -> Answer {
    let mut rb = http.post(url).bearer_auth(token).json(body);
    if let Some(k) = key {
        rb = rb.header("Idempotency-Key", k);
    }
    let r = rb.send().expect("HTTP request");
    let status = r.status().as_u16();
    let text = r.text().unwrap_or_default();
    Answer {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
    }
}

fn registration(seal: &str) -> Value {
    json!({
        "supplier_code": "SP-02", "samplers": ["张伟", "刘洋"],
        "sampled_at": (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339(),
        "coal_category": "无烟块煤",
        "test_seal_no": format!("T-2S-{seal}"), "retained_seal_no": format!("B-2S-{seal}"),
    })
}

/// Runs `work(thread, http)` on `THREADS` threads at once and returns their results in order.
fn race<T: Send + 'static>(
    work: impl Fn(usize, &reqwest::blocking::Client) -> T + Send + Sync + 'static,
) -> Vec<T> {
    let work = Arc::new(work);
    let barrier = Arc::new(std::sync::Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let work = work.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let http = client();
                barrier.wait();
                work(t, &http)
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("client thread"))
        .collect()
}

#[track_caller]
fn no_server_errors(what: &str, answers: &[Answer]) {
    let bad: Vec<&Answer> = answers.iter().filter(|a| a.status >= 500).collect();
    assert!(
        bad.is_empty(),
        "{what}: {} answers were server errors, e.g. {:?}",
        bad.len(),
        bad.first()
    );
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(db: &Db, sql: &str) -> i64 {
    let rows: Vec<Count> = db
        .read(|tx| Ok(coallab::with_tx!(tx, |c| diesel::sql_query(sql).load(c))?))
        .unwrap_or_else(|e| panic!("{e}: {sql}"));
    rows[0].n
}

#[derive(QueryableByName, Debug)]
struct StoredDetermination {
    #[diesel(sql_type = BigInt)]
    sample_id: i64,
    #[diesel(sql_type = Text)]
    analysis: String,
    #[diesel(sql_type = BigInt)]
    run: i64,
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = Text)]
    value_text: String,
}

#[derive(QueryableByName, Debug)]
struct StoredRun {
    #[diesel(sql_type = BigInt)]
    sample_id: i64,
    #[diesel(sql_type = Text)]
    analysis: String,
    #[diesel(sql_type = BigInt)]
    run: i64,
    #[diesel(sql_type = Text)]
    outcome: String,
    #[diesel(sql_type = Text)]
    detail: String,
}

fn two_servers(backend: Backend) {
    let Some(fresh) = Fresh::new(backend) else {
        return;
    };
    let db = fresh.open(4);
    coallab::service::demo::seed_demo_people(&db, chrono::Utc::now()).expect("demo people");
    let args = ["--rate-writes-per-minute", "0"];
    let a = Server::start(&fresh, &args, &[], &fresh.dir.path().join("a.log"));
    let b = Server::start(&fresh, &args, &[], &fresh.dir.path().join("b.log"));
    let bases: Arc<[String; 2]> = Arc::new([a.url("/api/v1"), b.url("/api/v1")]);
    let events_at_start = count(
        &db,
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM audit_events",
    );

    // 1. Registrations from every thread, alternating servers.
    let answers: Vec<Vec<Answer>> = race({
        let bases = bases.clone();
        move |t, http| {
            (0..REGISTRATIONS_PER_THREAD)
                .map(|i| {
                    let url = format!("{}/samples", bases[(t + i) % 2]);
                    post(http, &url, TECH, &registration(&format!("{t}-{i}")), None)
                })
                .collect()
        }
    });
    let answers: Vec<Answer> = answers.into_iter().flatten().collect();
    no_server_errors("registrations", &answers);
    for a in &answers {
        assert_eq!(a.status, 201, "{a:?}");
    }
    let registered = THREADS * REGISTRATIONS_PER_THREAD;
    let distinct = |field: &str| -> BTreeSet<String> {
        answers.iter().map(|a| a.body[field].to_string()).collect()
    };
    assert_eq!(distinct("sample_code").len(), registered);
    assert_eq!(distinct("lab_code").len(), registered);
    assert_eq!(distinct("id").len(), registered);
    // The database agrees: 16 × 8 = 128 samples, 128 distinct codes of each kind.
    for col in ["id", "sample_code", "lab_code"] {
        assert_eq!(
            count(
                &db,
                &format!("SELECT CAST(COUNT(DISTINCT {col}) AS BIGINT) AS n FROM samples")
            ),
            registered as i64,
            "distinct {col}"
        );
    }

    // One idempotency key sent by every thread to both servers: one sample, and every answer
    // is 201 with it. A request that lost the race (its insert hit the key's unique index, or its
    // seal numbers were already recorded) looks the key up again and answers with the winner's
    // sample (src/api/samples.rs `register`).
    let same_key: Vec<Answer> = race({
        let bases = bases.clone();
        move |t, http| {
            let url = format!("{}/samples", bases[t % 2]);
            post(http, &url, TECH, &registration("same-key"), Some("race-1"))
        }
    });
    no_server_errors("same idempotency key", &same_key);
    for a in &same_key {
        assert_eq!(a.status, 201, "{a:?}");
    }
    let ids: BTreeSet<String> = same_key.iter().map(|a| a.body["id"].to_string()).collect();
    assert_eq!(ids.len(), 1, "{same_key:?}");
    // The same seal numbers, in two letter cases, without a key: the check and the insert are
    // one step under the seal lock, so exactly one registration wins and every other answer
    // is 409 seal_in_use (two used to win on PostgreSQL).
    let same_seal: Vec<Answer> = race({
        let bases = bases.clone();
        move |t, http| {
            let url = format!("{}/samples", bases[t % 2]);
            let seal = if t % 2 == 0 { "seal-case" } else { "SEAL-CASE" };
            post(http, &url, TECH, &registration(seal), None)
        }
    });
    no_server_errors("same seal numbers", &same_seal);
    let won = same_seal.iter().filter(|a| a.status == 201).count();
    assert_eq!(won, 1, "{same_seal:?}");
    for a in same_seal.iter().filter(|a| a.status != 201) {
        assert_eq!(
            (a.status, a.body["error"].as_str()),
            (409, Some("seal_in_use")),
            "{a:?}"
        );
    }
    let created_by_key = 2; // the key's sample and the seal race's winner

    // 2. Determinations racing on the same analyses of the same samples. Receive and start the
    // first ENTRY_SAMPLES samples (one at a time), then every thread enters Mad, Aad and St,ad
    // values on each of them, through both servers.
    let codes: Vec<String> = answers
        .iter()
        .map(|a| a.body["sample_code"].as_str().expect("code").to_string())
        .collect();
    let http = client();
    let mut serial_changes = 0usize;
    for (i, code) in codes.iter().take(ENTRY_SAMPLES).enumerate() {
        for (action, version) in [("receive", 1), ("start", 2)] {
            let url = format!("{}/samples/{code}/{action}", bases[i % 2]);
            let r = post(&http, &url, TECH, &json!({"version": version}), None);
            assert_eq!(r.status, 200, "{r:?}");
            serial_changes += 1;
        }
    }
    // Values per thread: Mad 2.10–2.14 and St,ad 0.90–0.93 lie within r (0.20, 0.05) of each
    // other, so two are accepted. Aad is 15.10 or 15.45: two equal values are accepted, two
    // different ones (range 0.35 > r 0.30) need a third, and any third is accepted (range 0.35
    // ≤ 1.2 r = 0.36) — which happens depends on who comes first.
    let entries: Vec<Vec<(String, String, Answer)>> = race({
        let bases = bases.clone();
        let codes: Vec<String> = codes.iter().take(ENTRY_SAMPLES).cloned().collect();
        move |t, http| {
            let mut out = Vec::new();
            for round in 0..2 {
                for (j, code) in codes.iter().enumerate() {
                    for (analysis, value) in [
                        ("mad", format!("2.{:02}", 10 + (t % 5))),
                        (
                            "aad",
                            if (t + round) % 2 == 0 {
                                "15.10"
                            } else {
                                "15.45"
                            }
                            .to_string(),
                        ),
                        ("st_ad", format!("0.{:02}", 90 + (t + j) % 4)),
                    ] {
                        let url = format!(
                            "{}/samples/{code}/determinations",
                            bases[(t + j + round) % 2]
                        );
                        let a = post(
                            http,
                            &url,
                            TECH,
                            &json!({"analysis": analysis, "value": value}),
                            None,
                        );
                        out.push((code.clone(), analysis.to_string(), a));
                    }
                }
            }
            out
        }
    });
    let entries: Vec<(String, String, Answer)> = entries.into_iter().flatten().collect();
    let entry_answers: Vec<Answer> = entries.iter().map(|e| e.2.clone()).collect();
    no_server_errors("determinations", &entry_answers);
    let accepted_entries = entries.iter().filter(|e| e.2.status == 201).count();
    for (_, _, a) in entries.iter().filter(|e| e.2.status != 201) {
        assert_eq!(a.status, 409, "{a:?}");
        assert_eq!(a.body["error"], "analysis_already_accepted", "{a:?}");
    }
    let stored: Vec<StoredDetermination> = db
        .read(|tx| {
            Ok(coallab::with_tx!(tx, |c| diesel::sql_query(
                "SELECT g.sample_id, d.analysis, CAST(d.run AS BIGINT) AS run, \
                 CAST(d.seq AS BIGINT) AS seq, d.value_text FROM determinations d \
                 JOIN stages g ON g.id = d.stage_id ORDER BY g.sample_id, d.analysis, d.run, d.seq"
            )
            .load(c))?)
        })
        .expect("determinations");
    // No lost update: every 2xx answer is a stored determination and nothing else is stored.
    assert_eq!(stored.len(), accepted_entries, "stored vs answered 201");
    let answered: BTreeSet<(String, String, i64, i64, String)> = entries
        .iter()
        .filter(|e| e.2.status == 201)
        .map(|(code, analysis, a)| {
            let seq = a.body["seq"].as_i64().expect("seq");
            let dets = a.body["determinations"].as_array().expect("determinations");
            (
                code.clone(),
                analysis.clone(),
                a.body["run"].as_i64().expect("run"),
                seq,
                dets[(seq - 1) as usize]
                    .as_str()
                    .expect("value")
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        answered.len(),
        accepted_entries,
        "two answers named the same (run, seq)"
    );
    let code_of: BTreeMap<i64, String> = answers
        .iter()
        .map(|a| {
            (
                a.body["id"].as_i64().expect("id"),
                a.body["sample_code"].as_str().expect("code").to_string(),
            )
        })
        .collect();
    let in_db: BTreeSet<(String, String, i64, i64, String)> = stored
        .iter()
        .map(|d| {
            (
                code_of[&d.sample_id].clone(),
                d.analysis.clone(),
                d.run,
                d.seq,
                d.value_text.clone(),
            )
        })
        .collect();
    assert_eq!(
        answered, in_db,
        "the answers and the stored determinations differ"
    );
    // Every stored decision is the rule's decision on the stored determinations of its run.
    let runs: Vec<StoredRun> = db
        .read(|tx| {
            Ok(coallab::with_tx!(tx, |c| {
                diesel::sql_query(
                "SELECT g.sample_id, r.analysis, CAST(r.run AS BIGINT) AS run, r.outcome, r.detail \
                 FROM analysis_runs r JOIN stages g ON g.id = r.stage_id"
            )
            .load(c)
            })?)
        })
        .expect("runs");
    let mut accepted_analyses = 0;
    for r in &runs {
        let values: Vec<Decimal> = stored
            .iter()
            .filter(|d| d.sample_id == r.sample_id && d.analysis == r.analysis && d.run == r.run)
            .map(|d| Decimal::from_str(&d.value_text).expect("decimal"))
            .collect();
        let analysis = Analysis::from_code(&r.analysis).expect("analysis");
        let table = default_table(analysis).expect("table");
        let outcome = assess(&values, &table).expect("assess");
        assert_eq!(
            serde_json::to_string(&outcome).expect("json"),
            r.detail,
            "{r:?} with {values:?}"
        );
        if r.outcome == "accepted" {
            accepted_analyses += 1;
        }
    }
    // Each of the 4 samples ends with Mad, Aad and St,ad accepted: 4 × 3 = 12 accepted runs
    // (16 threads × 2 rounds = 32 values per analysis is more than any run needs).
    assert_eq!(accepted_analyses, ENTRY_SAMPLES * 3, "{runs:?}");

    // 3. One transition, the same version, from every thread at once: receive (version 1) on
    // TRANSITION_SAMPLES registered samples, and submit on the tested ones (version 3).
    let targets: Vec<(String, &str, i64)> = codes
        .iter()
        .skip(ENTRY_SAMPLES)
        .take(TRANSITION_SAMPLES)
        .map(|c| (c.clone(), "receive", 1))
        .chain(
            codes
                .iter()
                .take(ENTRY_SAMPLES)
                .map(|c| (c.clone(), "submit", 3)),
        )
        .collect();
    let transitions: Vec<Vec<(String, Answer)>> = race({
        let bases = bases.clone();
        let targets = targets.clone();
        move |t, http| {
            targets
                .iter()
                .enumerate()
                .map(|(j, (code, action, version))| {
                    let url = format!("{}/samples/{code}/{action}", bases[(t + j) % 2]);
                    let a = post(http, &url, TECH, &json!({"version": version}), None);
                    (code.clone(), a)
                })
                .collect()
        }
    });
    let transitions: Vec<(String, Answer)> = transitions.into_iter().flatten().collect();
    no_server_errors(
        "transitions",
        &transitions.iter().map(|t| t.1.clone()).collect::<Vec<_>>(),
    );
    for (code, action, version) in &targets {
        let mine: Vec<&Answer> = transitions
            .iter()
            .filter(|(c, _)| c == code)
            .map(|(_, a)| a)
            .collect();
        let wins = mine.iter().filter(|a| a.status == 200).count();
        assert_eq!(wins, 1, "{action} of {code}: {mine:?}");
        for a in mine.iter().filter(|a| a.status != 200) {
            assert_eq!(
                (a.status, a.body["error"].as_str()),
                (409, Some("version_conflict")),
                "{action} of {code}: {a:?}"
            );
        }
        let now: Value = http
            .get(format!("{}/samples/{code}", bases[1]))
            .bearer_auth(REVIEWER)
            .send()
            .expect("get")
            .json()
            .expect("json");
        assert_eq!(now["version"].as_i64(), Some(version + 1), "{now}");
    }
    let transition_wins = targets.len();

    // 4. The audit chain verifies and holds one event per successful change:
    // registrations + the key's one sample + serial receive/start + 201 entries + transitions.
    let changes = registered + created_by_key + serial_changes + accepted_entries + transition_wins;
    let events = count(
        &db,
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM audit_events",
    );
    assert_eq!(events - events_at_start, changes as i64);
    for (action, n) in [
        ("sample.register", registered + created_by_key),
        ("determination.enter", accepted_entries),
        ("sample.receive", ENTRY_SAMPLES + TRANSITION_SAMPLES),
        ("sample.start", ENTRY_SAMPLES),
        ("sample.submit", ENTRY_SAMPLES),
    ] {
        assert_eq!(
            count(
                &db,
                &format!(
                    "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM audit_events WHERE action = '{action}'"
                )
            ),
            n as i64,
            "{action} events"
        );
    }
    let mut verify = fresh.args();
    verify.extend(["audit".into(), "verify".into()]);
    let (code, out, err) = run_cli(&verify);
    assert_eq!(code, 0, "{out}{err}");
    let report: Value = serde_json::from_str(&out).expect("verify JSON");
    assert_eq!(report["ok"], true, "{out}");
    assert_eq!(report["events"].as_i64(), Some(events), "{out}");
    for s in [&a, &b] {
        let log = s.log_text();
        assert!(
            !log.contains("request failed"),
            "server error logged:\n{log}"
        );
    }
}

#[test]
fn sqlite_two_servers_one_file() {
    two_servers(Backend::Sqlite);
}

#[test]
fn pg_two_servers_one_database() {
    two_servers(Backend::Postgres);
}
