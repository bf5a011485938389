//! Crash safety (issue 9, item 2): SIGKILL the real server in the middle of a burst of
//! concurrent determination entries and lifecycle actions, restart it, and show that every
//! acknowledged request is there, nothing is half there, SQLite passes `PRAGMA integrity_check`
//! and the audit chain verifies. On SQLite and on PostgreSQL. Loopback only; bounded (each
//! worker sends at most 8 requests per sample; the kill comes after 60 acknowledgements or 30 s).

mod ops_support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use coallab::db::schema::{audit_events, determinations, samples, stages};
use coallab::with_tx;
use ops_support::{client, new_sample, Backend, Fresh, Server, REVIEWER, TECH};
use serde_json::{json, Value};

const THREADS: usize = 4;
const SAMPLES_PER_THREAD: usize = 6;
/// Duplicates within r for every analysis the demo limit sets need (Mad, Aad, St,ad).
const DETERMINATIONS: [(&str, &str); 6] = [
    ("mad", "2.10"),
    ("mad", "2.16"),
    ("aad", "15.02"),
    ("aad", "15.10"),
    ("st_ad", "0.98"),
    ("st_ad", "1.00"),
];

#[derive(Debug, Clone)]
enum Ack {
    Determination { sample: String, analysis: String },
    Submit { sample: String },
    Release { sample: String },
}

fn post(
    c: &reqwest::blocking::Client,
    url: &str,
    token: &str,
    body: &Value,
) -> reqwest::Result<(u16, Value)> {
    let r = c.post(url).bearer_auth(token).json(body).send()?;
    let status = r.status().as_u16();
    let v = r.json::<Value>().unwrap_or(Value::Null);
    Ok((status, v))
}

fn crash(backend: Backend) {
    let Some(fresh) = Fresh::new(backend) else {
        return;
    };
    {
        let db = fresh.open(2);
        coallab::service::demo::seed_demo_people(&db, chrono::Utc::now()).expect("seed people");
    }
    let log = fresh.dir.path().join("serve-1.log");
    let mut server = Server::start(&fresh, &["--rate-writes-per-minute", "0"], &[], &log);
    let c = client();

    // Registered, received and started samples to work on.
    let mut codes = Vec::new();
    for i in 0..THREADS * SAMPLES_PER_THREAD {
        let (s, v) = post(&c, &server.url("/api/v1/samples"), TECH, &new_sample(i)).unwrap();
        assert_eq!(s, 201, "{v}");
        let code = v["sample_code"].as_str().unwrap().to_string();
        for (version, action) in [(1, "receive"), (2, "start")] {
            let (s, v) = post(
                &c,
                &server.url(&format!("/api/v1/samples/{code}/{action}")),
                TECH,
                &json!({"version": version}),
            )
            .unwrap();
            assert_eq!(s, 200, "{action}: {v}");
        }
        codes.push(code);
    }

    // The burst: each worker drives its own samples to release, one request at a time.
    let acks: Arc<Mutex<Vec<Ack>>> = Arc::default();
    let done = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = codes
        .chunks(SAMPLES_PER_THREAD)
        .map(|chunk| {
            let chunk = chunk.to_vec();
            let base = server.address.clone();
            let acks = acks.clone();
            let done = done.clone();
            std::thread::spawn(move || {
                let c = client();
                for code in chunk {
                    for (analysis, value) in DETERMINATIONS {
                        let url = format!("{base}/api/v1/samples/{code}/determinations");
                        match post(
                            &c,
                            &url,
                            TECH,
                            &json!({"analysis": analysis, "value": value}),
                        ) {
                            Ok((201, _)) => {
                                acks.lock().unwrap().push(Ack::Determination {
                                    sample: code.clone(),
                                    analysis: analysis.into(),
                                });
                                done.fetch_add(1, Ordering::SeqCst);
                            }
                            Ok((s, v)) => panic!("determination answered {s}: {v}"),
                            Err(_) => return, // the server died with this request in flight
                        }
                    }
                    for (version, action, token) in [(3, "submit", TECH), (4, "release", REVIEWER)]
                    {
                        let url = format!("{base}/api/v1/samples/{code}/{action}");
                        match post(&c, &url, token, &json!({"version": version})) {
                            Ok((200, _)) => {
                                let ack = if action == "submit" {
                                    Ack::Submit {
                                        sample: code.clone(),
                                    }
                                } else {
                                    Ack::Release {
                                        sample: code.clone(),
                                    }
                                };
                                acks.lock().unwrap().push(ack);
                                done.fetch_add(1, Ordering::SeqCst);
                            }
                            Ok((s, v)) => panic!("{action} answered {s}: {v}"),
                            Err(_) => return,
                        }
                    }
                }
            })
        })
        .collect();
    let started = Instant::now();
    while done.load(Ordering::SeqCst) < 60 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(2));
    }
    server.kill(); // SIGKILL in the middle of the burst
    for w in workers {
        w.join().expect("worker");
    }
    let acks = acks.lock().unwrap().clone();
    let total = THREADS * SAMPLES_PER_THREAD * (DETERMINATIONS.len() + 2);
    eprintln!(
        "{} of {total} requests acknowledged before SIGKILL",
        acks.len()
    );
    assert!(
        acks.len() >= 60 && acks.len() < total,
        "the kill must land mid-burst ({} acks)",
        acks.len()
    );

    // Restart on the same database.
    let log2 = fresh.dir.path().join("serve-2.log");
    let server = Server::start(&fresh, &[], &[], &log2);
    let c = client();
    let ready = c.get(server.url("/ready")).send().unwrap();
    assert_eq!(ready.status().as_u16(), 200);

    // Every acknowledged request is there.
    let mut acked_dets: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut stored_total = 0usize;
    for a in &acks {
        if let Ack::Determination { sample, analysis } = a {
            *acked_dets
                .entry((sample.clone(), analysis.clone()))
                .or_default() += 1;
        }
    }
    let mut views = BTreeMap::new();
    for code in &codes {
        let v: Value = c
            .get(server.url(&format!("/api/v1/samples/{code}")))
            .bearer_auth(TECH)
            .send()
            .unwrap()
            .json()
            .unwrap();
        for analysis in ["mad", "aad", "st_ad"] {
            let stored: usize = v["stages"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|s| s["analyses"].as_array().cloned().unwrap_or_default())
                .filter(|r| r["analysis"] == *analysis)
                .map(|r| r["determinations"].as_array().map_or(0, |d| d.len()))
                .sum();
            let acked = acked_dets
                .get(&(code.clone(), analysis.to_string()))
                .copied()
                .unwrap_or(0);
            assert!(
                stored >= acked,
                "{code} {analysis}: {acked} acknowledged but {stored} stored"
            );
            stored_total += stored;
        }
        views.insert(code.clone(), v);
    }
    let acked_total: usize = acked_dets.values().sum();
    // At most one request per worker was in flight when the server died; it may or may not
    // have committed, but nothing else may appear.
    assert!(
        stored_total <= acked_total + THREADS,
        "{stored_total} stored, {acked_total} acknowledged"
    );
    for a in &acks {
        match a {
            Ack::Submit { sample } => {
                let st = views[sample]["state"].as_str().unwrap();
                assert!(
                    ["initial_review", "initial_released", "closed"].contains(&st),
                    "{sample} submitted but {st}"
                );
            }
            Ack::Release { sample } => {
                let st = views[sample]["state"].as_str().unwrap();
                assert!(
                    ["initial_released", "closed"].contains(&st),
                    "{sample} released but {st}"
                );
                assert!(views[sample]["final_verdict"].is_string());
            }
            Ack::Determination { .. } => {}
        }
    }

    // Nothing is half there: every row change has its audit event and the other way round.
    let db = fresh.open(2);
    db.read(|tx| {
        let rows: Vec<(i64, i32)> = with_tx!(tx, |c| samples::table
            .select((samples::id, samples::version))
            .load(c))?;
        for (id, version) in rows {
            let dets: i64 = with_tx!(tx, |c| determinations::table
                .inner_join(stages::table)
                .filter(stages::sample_id.eq(id))
                .count()
                .get_result(c))?;
            let det_events: i64 = with_tx!(tx, |c| audit_events::table
                .filter(audit_events::sample_id.eq(id))
                .filter(audit_events::action.eq("determination.enter"))
                .count()
                .get_result(c))?;
            assert_eq!(
                dets, det_events,
                "sample {id}: determinations vs their audit events"
            );
            let versioned: i64 = with_tx!(tx, |c| audit_events::table
                .filter(audit_events::sample_id.eq(id))
                .filter(audit_events::action.like("sample.%"))
                .filter(audit_events::actor.ne("system"))
                .count()
                .get_result(c))?;
            assert_eq!(
                i64::from(version),
                versioned,
                "sample {id}: version vs its action events"
            );
            let released: i64 = with_tx!(tx, |c| stages::table
                .filter(stages::sample_id.eq(id))
                .filter(stages::released_at.is_not_null())
                .count()
                .get_result(c))?;
            let release_events: i64 = with_tx!(tx, |c| audit_events::table
                .filter(audit_events::sample_id.eq(id))
                .filter(audit_events::action.eq("stage.release"))
                .count()
                .get_result(c))?;
            assert_eq!(
                released, release_events,
                "sample {id}: released stages vs release events"
            );
        }
        Ok(())
    })
    .unwrap();
    if backend == Backend::Sqlite {
        coallab::service::backup::sqlite_integrity(&fresh.sqlite_file())
            .expect("PRAGMA integrity_check");
    }
    let chain = coallab::service::audit::verify(&db).unwrap();
    assert!(chain.ok, "{chain:?}");
    let v: Value = c
        .get(server.url("/api/v1/audit/verify"))
        .bearer_auth(ops_support::AUDITOR)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(v["ok"], true, "{v}");

    // And the restarted server takes new work.
    let (s, v) = post(&c, &server.url("/api/v1/samples"), TECH, &new_sample(999)).unwrap();
    assert_eq!(s, 201, "{v}");
}

#[test]
fn sqlite_sigkill_mid_burst_loses_nothing_acknowledged() {
    crash(Backend::Sqlite);
}

#[test]
fn pg_sigkill_mid_burst_loses_nothing_acknowledged() {
    crash(Backend::Postgres);
}
