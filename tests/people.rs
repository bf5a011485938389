//! PEOPLE (issue 4) acceptance tests at the service level, with explicit instants: four eyes,
//! immutability of released stages, amendments, the appeal window, the retest, closing expired
//! windows, passwords and the login throttle, and the audit chain under tampering and under
//! concurrent writers. The database tests run on SQLite and on PostgreSQL (`pg_` prefix).

mod people_support;

use chrono::{DateTime, Duration, Utc};
use coallab::db::schema::{audit_events, samples, stages};
use coallab::db::{Db, Tx};
use coallab::domain::lifecycle::Action;
use coallab::error::AppError;
use coallab::service::amend::{self, AmendRequest, AmendedAnalysis};
use coallab::service::amend_release::{self, ReleaseAmendment};
use coallab::service::appeal_close::close_expired;
use coallab::service::audit::{self, AuditEvent};
use coallab::service::samples as sample_svc;
use coallab::service::workflow::ActionRequest;
use coallab::with_tx;
use diesel::connection::SimpleConnection;
use people_support::*;

macro_rules! both {
    ($scenario:ident => $sqlite:ident, $pg:ident) => {
        #[test]
        fn $sqlite() {
            $scenario(Backend::Sqlite);
        }
        #[test]
        fn $pg() {
            $scenario(Backend::Postgres);
        }
    };
}

fn t0() -> DateTime<Utc> {
    local(2026, 3, 1, 8, 0)
}

fn code(e: AppError) -> &'static str {
    e.code()
}

fn release(db: &Db, p: &People, id: i64) -> Result<(), AppError> {
    act(
        db,
        &p.reviewer,
        id,
        Action::Release,
        ActionRequest::default(),
        local(2026, 3, 5, 10, 0),
    )
}

fn sample(db: &Db, id: i64) -> coallab::service::rows::SampleRow {
    db.read(|tx| sample_svc::load(tx, id)).unwrap()
}

fn exec(db: &Db, sql: &str) {
    db.read(|tx| {
        match tx {
            Tx::Sqlite(c) => c.batch_execute(sql)?,
            Tx::Pg(c) => c.batch_execute(sql)?,
        }
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

fn actions(db: &Db, sample_id: i64) -> Vec<(String, String)> {
    db.read(|tx| {
        Ok(with_tx!(tx, |c| audit_events::table
            .filter(audit_events::sample_id.eq(sample_id))
            .order(audit_events::seq.asc())
            .select((audit_events::actor, audit_events::action))
            .load::<(String, String)>(c))?)
    })
    .unwrap()
}

#[test]
fn self_release_is_refused() {
    let t = fresh_db(Backend::Sqlite).unwrap();
    let p = seed(&t.db, t0());
    // The reviewer enters the determinations and then tries to release them.
    let id = tested_sample(&t.db, &p.reviewer, &FAILING, 1);
    let e = release(&t.db, &p, id).unwrap_err();
    assert_eq!(code(e), "four_eyes");
    assert_eq!(sample(&t.db, id).state, "initial_review");
}

#[test]
fn a_released_result_cannot_be_edited() {
    let t = fresh_db(Backend::Sqlite).unwrap();
    let p = seed(&t.db, t0());
    let id = tested_sample(&t.db, &p.tech, &FAILING, 1);
    release(&t.db, &p, id).unwrap();
    let before = sample(&t.db, id);
    // A further determination after release: refused, for the technician and the reviewer.
    for who in [&p.tech, &p.reviewer] {
        let e = enter(&t.db, who, id, "aad", &["12.00"], local(2026, 3, 6, 9, 0)).unwrap_err();
        assert_eq!(code(e), "not_in_testing");
    }
    // Returning a released stage to testing is not a legal transition.
    let e = act(
        &t.db,
        &p.reviewer,
        id,
        Action::Return,
        ActionRequest {
            reason: Some("fix a value".into()),
            ..Default::default()
        },
        local(2026, 3, 6, 9, 0),
    )
    .unwrap_err();
    assert_eq!(code(e), "illegal_transition");
    let after = sample(&t.db, id);
    assert_eq!((after.version, after.state), (before.version, before.state));
    let stage_results: Option<String> =
        t.db.read(|tx| {
            Ok(with_tx!(tx, |c| stages::table
                .filter(stages::sample_id.eq(id))
                .select(stages::results)
                .first(c))?)
        })
        .unwrap();
    assert!(stage_results.unwrap().contains("\"ad\""));
}

fn amendment_keeps_both_revisions(backend: Backend) {
    let Some(t) = fresh_db(backend) else { return };
    let p = seed(&t.db, t0());
    let rev2 = second_reviewer(&t.db, p.reviewer.lab_id, t0());
    let id = tested_sample(&t.db, &p.tech, &FAILING, 1);
    release(&t.db, &p, id).unwrap();
    let s = sample(&t.db, id);
    assert_eq!(
        (s.state.as_str(), s.final_verdict.as_deref()),
        ("initial_released", Some("fail"))
    );
    // Amending an unreleased stage is refused (the retest does not exist).
    let req = |version: i32, stage: &str| AmendRequest {
        version,
        stage: stage.into(),
        reason: "Aad transcribed from the wrong crucible; balance printout 12.00/12.10".into(),
        determinations: vec![AmendedAnalysis {
            analysis: "aad".into(),
            values: vec!["12.00".into(), "12.10".into()],
        }],
    };
    let at = local(2026, 3, 6, 9, 0);
    let e =
        t.db.transaction(|tx| amend::propose(tx, &p.reviewer, id, &req(s.version, "retest"), at))
            .unwrap_err();
    assert_eq!(code(e), "not_released");
    // Proposed by rev-zhao: pending, verdict computed by the server. New Aad mean 12.05:
    // Ad = 12.05 × 100 / (100 − 2.02) = 1205 / 97.98 = 12.2984… < 16 → pass.
    let pending = t
        .db
        .transaction(|tx| amend::propose(tx, &p.reviewer, id, &req(s.version, "initial_test"), at))
        .unwrap();
    assert_eq!(
        (
            pending.revision,
            pending.status.as_str(),
            pending.verdict.as_str()
        ),
        (2, "pending", "pass")
    );
    // Still the original verdict until a second reviewer releases it.
    assert_eq!(sample(&t.db, id).final_verdict.as_deref(), Some("fail"));
    let v = sample(&t.db, id).version;
    let rel = ReleaseAmendment {
        version: v,
        stage: "initial_test".into(),
        revision: 2,
    };
    let e =
        t.db.transaction(|tx| amend_release::release(tx, &p.reviewer, id, &rel, at))
            .unwrap_err();
    assert_eq!(code(e), "four_eyes");
    let done =
        t.db.transaction(|tx| amend_release::release(tx, &rev2, id, &rel, at))
            .unwrap();
    let code_ = s.sample_code.clone();
    assert_eq!(done.report_no, Some(format!("{code_}-I2")));
    assert_eq!(done.replaces_report_no, Some(format!("{code_}-I1")));
    // Both revisions readable, with their own verdicts and report numbers.
    let revs =
        t.db.read(|tx| amend_release::list(tx, &p.auditor, id))
            .unwrap();
    let summary: Vec<_> = revs
        .iter()
        .map(|r| {
            (
                r.revision,
                r.status.as_str(),
                r.verdict.as_str(),
                r.report_no.clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, "released", "fail", Some(format!("{code_}-I1"))),
            (2, "released", "pass", Some(format!("{code_}-I2"))),
        ]
    );
    // Revision 1 keeps the original means (Aad 19.65), revision 2 the corrected ones (12.05).
    assert_eq!(revs[0].means["aad"], "19.65");
    assert_eq!(revs[1].means["aad"], "12.05");
    assert_eq!(revs[1].determinations["aad"][1], "12.10");
    // The sample now reports the amended verdict; a passing initial test closes it.
    let s2 = sample(&t.db, id);
    assert_eq!(
        (s2.state.as_str(), s2.final_verdict.as_deref()),
        ("closed", Some("pass"))
    );
    let log = actions(&t.db, id);
    assert!(log.contains(&("rev-zhao".into(), "stage.amend_propose".into())));
    assert!(log.contains(&("rev-sun".into(), "stage.amend_release".into())));
    assert!(audit::verify(&t.db).unwrap().ok);
}
both!(amendment_keeps_both_revisions => sqlite_amendment_keeps_both_revisions, pg_amendment_keeps_both_revisions);

/// Received 2026-03-10 10:00 Shanghai; K = 15 calendar days, the day of receipt not counted →
/// last day 2026-03-25; the window closes at 2026-03-26 00:00 +08:00 = 2026-03-25T16:00:00Z.
fn failed_and_received(db: &Db, p: &People, n: usize) -> (i64, DateTime<Utc>) {
    let id = tested_sample(db, &p.tech, &FAILING, n);
    release(db, p, id).unwrap();
    result_received(db, &p.regulator, id, local(2026, 3, 10, 10, 0));
    let closes = sample(db, id).appeal_closes_at.unwrap();
    assert_eq!(
        coallab::time::ms_to_rfc3339(closes),
        coallab::time::ms_to_rfc3339(
            chrono::DateTime::parse_from_rfc3339("2026-03-25T16:00:00Z")
                .unwrap()
                .timestamp_millis()
        )
    );
    (id, coallab::time::from_ms(closes))
}

#[test]
fn a_retest_request_one_day_after_the_window_is_refused() {
    let t = fresh_db(Backend::Sqlite).unwrap();
    let p = seed(&t.db, t0());
    let (id, closes) = failed_and_received(&t.db, &p, 1);
    let e = act(
        &t.db,
        &p.regulator,
        id,
        Action::RequestRetest,
        appeal(1),
        closes + Duration::days(1),
    )
    .unwrap_err();
    assert_eq!(code(e), "appeal_window_closed");
    assert_eq!(sample(&t.db, id).state, "initial_released");
    // One minute before the close it is accepted.
    act(
        &t.db,
        &p.regulator,
        id,
        Action::RequestRetest,
        appeal(1),
        closes - Duration::minutes(1),
    )
    .unwrap();
    assert_eq!(sample(&t.db, id).state, "retest_testing");
}

#[test]
fn the_retest_is_by_another_technician_and_its_verdict_is_final() {
    let t = fresh_db(Backend::Sqlite).unwrap();
    let p = seed(&t.db, t0());
    let (id, _) = failed_and_received(&t.db, &p, 1);
    let asked = local(2026, 3, 12, 9, 0);
    act(
        &t.db,
        &p.regulator,
        id,
        Action::RequestRetest,
        appeal(1),
        asked,
    )
    .unwrap();
    let e = enter(
        &t.db,
        &p.tech,
        id,
        "mad",
        &["2.00"],
        asked + Duration::hours(2),
    )
    .unwrap_err();
    assert_eq!(code(e), "same_technician");
    let at = asked + Duration::hours(3);
    for (a, v) in PASSING {
        enter(&t.db, &p.tech2, id, a, &v, at).unwrap();
    }
    act(
        &t.db,
        &p.tech2,
        id,
        Action::Submit,
        ActionRequest::default(),
        at,
    )
    .unwrap();
    act(
        &t.db,
        &p.reviewer,
        id,
        Action::Release,
        ActionRequest::default(),
        at + Duration::hours(1),
    )
    .unwrap();
    let s = sample(&t.db, id);
    // Initial fail (Ad 20.06), retest pass (Ad 12.30): the retest decides.
    assert_eq!(
        (s.state.as_str(), s.final_verdict.as_deref()),
        ("closed", Some("pass"))
    );
    let verdicts: Vec<(String, Option<String>)> =
        t.db.read(|tx| {
            Ok(with_tx!(tx, |c| stages::table
                .filter(stages::sample_id.eq(id))
                .order(stages::id.asc())
                .select((stages::stage, stages::verdict))
                .load(c))?)
        })
        .unwrap();
    assert_eq!(
        verdicts,
        vec![
            ("initial_test".into(), Some("fail".into())),
            ("retest".into(), Some("pass".into()))
        ]
    );
}

fn expired_windows_close_once(backend: Backend) {
    let Some(t) = fresh_db(backend) else { return };
    let p = seed(&t.db, t0());
    let (a, closes) = failed_and_received(&t.db, &p, 1);
    let (b, _) = failed_and_received(&t.db, &p, 2);
    let (appealed, _) = failed_and_received(&t.db, &p, 3);
    act(
        &t.db,
        &p.regulator,
        appealed,
        Action::RequestRetest,
        appeal(3),
        local(2026, 3, 12, 9, 0),
    )
    .unwrap();
    let passing = tested_sample(&t.db, &p.tech, &PASSING, 4);
    release(&t.db, &p, passing).unwrap();
    // One millisecond before the close: nothing to do.
    assert_eq!(
        close_expired(&t.db, closes - Duration::milliseconds(1)).unwrap(),
        0
    );
    // Four "servers" run the job at the same instant: a and b close exactly once.
    let results: Vec<usize> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4)
            .map(|_| s.spawn(|| close_expired(&t.db, closes).unwrap()))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(results.iter().sum::<usize>(), 2, "{results:?}");
    for id in [a, b] {
        let s = sample(&t.db, id);
        assert_eq!(
            (s.state.as_str(), s.final_verdict.as_deref(), s.closed_at),
            ("closed", Some("fail"), Some(closes.timestamp_millis()))
        );
        let closes_logged = actions(&t.db, id)
            .into_iter()
            .filter(|e| e == &("system".to_string(), "sample.close".to_string()))
            .count();
        assert_eq!(closes_logged, 1);
    }
    assert_eq!(sample(&t.db, appealed).state, "retest_testing");
    assert_eq!(sample(&t.db, passing).state, "closed");
    assert_eq!(close_expired(&t.db, closes + Duration::days(1)).unwrap(), 0);
    assert!(audit::verify(&t.db).unwrap().ok);
}
both!(expired_windows_close_once => sqlite_expired_windows_close_once, pg_expired_windows_close_once);

fn load_events(db: &Db) -> Vec<AuditEvent> {
    db.read(|tx| {
        Ok(with_tx!(tx, |c| audit_events::table
            .order(audit_events::seq.asc())
            .load::<AuditEvent>(c))?)
    })
    .unwrap()
}

fn restore(db: &Db, rows: &[AuditEvent]) {
    exec(db, "DELETE FROM audit_events");
    db.transaction(|tx| {
        for r in rows {
            with_tx!(tx, |c| diesel::insert_into(audit_events::table)
                .values((
                    audit_events::seq.eq(r.seq),
                    audit_events::at.eq(r.at),
                    audit_events::actor.eq(&r.actor),
                    audit_events::action.eq(&r.action),
                    audit_events::entity.eq(&r.entity),
                    audit_events::entity_id.eq(&r.entity_id),
                    audit_events::sample_id.eq(r.sample_id),
                    audit_events::before_json.eq(&r.before_json),
                    audit_events::after_json.eq(&r.after_json),
                    audit_events::reason.eq(&r.reason),
                    audit_events::prev_hash.eq(&r.prev_hash),
                    audit_events::hash.eq(&r.hash),
                ))
                .execute(c))?;
        }
        Ok(())
    })
    .unwrap();
    assert!(audit::verify(db).unwrap().ok, "restored chain verifies");
}

fn broken_at(db: &Db) -> (i64, String) {
    let r = audit::verify(db).unwrap();
    assert!(!r.ok);
    let b = r.first_broken.unwrap();
    (b.seq, b.problem)
}

fn audit_tampering_is_found(backend: Backend) {
    let Some(t) = fresh_db(backend) else { return };
    let p = seed(&t.db, t0());
    let id = tested_sample(&t.db, &p.tech, &FAILING, 1);
    release(&t.db, &p, id).unwrap();
    let clean = audit::verify(&t.db).unwrap();
    assert!(clean.ok, "{clean:?}");
    let rows = load_events(&t.db);
    let n = rows.len() as i64;
    assert_eq!(clean.events, n);
    let k = n - 3; // an event in the middle of the sample's history
                   // 1. Edit one field of event k.
    exec(
        &t.db,
        &format!("UPDATE audit_events SET actor = 'mallory' WHERE seq = {k}"),
    );
    let (seq, problem) = broken_at(&t.db);
    assert_eq!(seq, k);
    assert!(problem.contains("edited"), "{problem}");
    restore(&t.db, &rows);
    // 2. Edit event k and recompute its own hash: the next event's link breaks.
    let mut forged = rows[(k - 1) as usize].clone();
    forged.reason = Some("nothing happened".into());
    forged.hash = audit::event_hash(&forged);
    exec(
        &t.db,
        &format!(
            "UPDATE audit_events SET reason = 'nothing happened', hash = '{}' WHERE seq = {k}",
            forged.hash
        ),
    );
    assert_eq!(broken_at(&t.db).0, k + 1);
    restore(&t.db, &rows);
    // 3. Delete event k: the gap is found at k + 1.
    exec(&t.db, &format!("DELETE FROM audit_events WHERE seq = {k}"));
    let (seq, problem) = broken_at(&t.db);
    assert_eq!(seq, k + 1);
    assert!(problem.contains("missing"), "{problem}");
    restore(&t.db, &rows);
    // 4. Delete event k and renumber the later ones to close the gap: the link breaks at k.
    exec(&t.db, &format!("DELETE FROM audit_events WHERE seq = {k}"));
    exec(
        &t.db,
        &format!("UPDATE audit_events SET seq = seq - 1 WHERE seq > {k}"),
    );
    assert_eq!(broken_at(&t.db).0, k);
    restore(&t.db, &rows);
    // 5. Swap events k and k + 1 (reorder).
    exec(
        &t.db,
        &format!("UPDATE audit_events SET seq = -1 WHERE seq = {k}"),
    );
    exec(
        &t.db,
        &format!("UPDATE audit_events SET seq = {k} WHERE seq = {}", k + 1),
    );
    exec(
        &t.db,
        &format!("UPDATE audit_events SET seq = {} WHERE seq = -1", k + 1),
    );
    let (seq, problem) = broken_at(&t.db);
    assert_eq!(seq, k);
    assert!(problem.contains("reordered"), "{problem}");
    restore(&t.db, &rows);
    // The documented limit (docs/security.md): the LAST event rewritten with a recomputed hash
    // leaves a consistent chain; only an external anchor of the last hash can reveal it.
    let mut last = rows[(n - 1) as usize].clone();
    last.actor = "mallory".into();
    last.hash = audit::event_hash(&last);
    exec(
        &t.db,
        &format!(
            "UPDATE audit_events SET actor = 'mallory', hash = '{}' WHERE seq = {n}",
            last.hash
        ),
    );
    assert!(audit::verify(&t.db).unwrap().ok);
    assert_ne!(
        last.hash,
        rows[(n - 1) as usize].hash,
        "an anchored hash would differ"
    );
}
both!(audit_tampering_is_found => sqlite_audit_tampering_is_found, pg_audit_tampering_is_found);

/// Several pools (as several servers) on one PostgreSQL database, several threads each, append
/// events concurrently; the chain stays one unbroken sequence.
#[test]
fn pg_audit_chain_holds_with_concurrent_servers() {
    let Some(t) = fresh_db(Backend::Postgres) else {
        return;
    };
    const POOLS: usize = 3;
    const THREADS: usize = 4;
    const TXS: usize = 25;
    let pools: Vec<Db> = (0..POOLS)
        .map(|_| Db::open(&t.url, THREADS as u32).unwrap())
        .collect();
    std::thread::scope(|s| {
        for (pi, db) in pools.iter().enumerate() {
            for th in 0..THREADS {
                s.spawn(move || {
                    for i in 0..TXS {
                        db.transaction(|tx| {
                            // Two events per transaction: both land next to each other.
                            for half in 0..2 {
                                audit::append(
                                    tx,
                                    Utc::now().timestamp_millis(),
                                    audit::NewEvent {
                                        actor: format!("server-{pi}"),
                                        action: "test.concurrent".into(),
                                        entity: "thread".into(),
                                        entity_id: format!("{pi}/{th}/{i}/{half}"),
                                        ..Default::default()
                                    },
                                )?;
                            }
                            Ok(())
                        })
                        .unwrap();
                    }
                });
            }
        }
    });
    let r = audit::verify(&t.db).unwrap();
    // 3 pools × 4 threads × 25 transactions × 2 events = 600 events.
    assert_eq!((r.ok, r.events), (true, 600), "{r:?}");
    let rows = load_events(&t.db);
    for pair in rows.chunks(2) {
        let (a, b) = (&pair[0].entity_id, &pair[1].entity_id);
        assert_eq!(a.strip_suffix("/0"), b.strip_suffix("/1"), "{a} then {b}");
    }
    drop(pools);
}

#[test]
fn login_failures_are_slowed_logged_and_cleared() {
    use coallab::service::users_session::{login, LoginOutcome};
    let t = fresh_db(Backend::Sqlite).unwrap();
    let p = seed(&t.db, t0());
    t.db.transaction(|tx| {
        coallab::service::users::set_password(
            tx,
            p.admin.id,
            "admin",
            "a much better secret",
            "cli",
            t0().timestamp_millis(),
        )
    })
    .unwrap();
    let t1 = t0() + Duration::hours(1);
    // Five wrong passwords within a second: the fifth locks "admin" for 1 000 ms.
    for i in 0..5 {
        let o = login(
            &t.db,
            "admin",
            "wrong",
            "10.0.0.1",
            t1 + Duration::milliseconds(i),
        )
        .unwrap();
        assert!(matches!(o, LoginOutcome::Refused), "{o:?}");
    }
    // Locked until t1 + 4 ms + 1 000 ms: at t1 + 504 ms even the right password waits 500 ms.
    let o = login(
        &t.db,
        "admin",
        "a much better secret",
        "10.0.0.2",
        t1 + Duration::milliseconds(504),
    )
    .unwrap();
    assert!(
        matches!(
            o,
            LoginOutcome::Throttled {
                retry_after_ms: 500
            }
        ),
        "{o:?}"
    );
    let o = login(
        &t.db,
        "admin",
        "a much better secret",
        "10.0.0.2",
        t1 + Duration::milliseconds(1004),
    )
    .unwrap();
    let LoginOutcome::Success(s) = o else {
        panic!("{o:?}")
    };
    assert_eq!(s.user.username, "admin");
    let failed: i64 =
        t.db.read(|tx| {
            Ok(with_tx!(tx, |c| audit_events::table
                .filter(audit_events::action.eq("login.failed"))
                .filter(audit_events::entity_id.eq("admin"))
                .count()
                .get_result(c))?)
        })
        .unwrap();
    assert_eq!(failed, 5);
    // The success cleared the username's counter: one more failure is not locked.
    let o = login(
        &t.db,
        "admin",
        "wrong",
        "10.0.0.3",
        t1 + Duration::seconds(2),
    )
    .unwrap();
    assert!(matches!(o, LoginOutcome::Refused));
    let o = login(
        &t.db,
        "admin",
        "a much better secret",
        "10.0.0.3",
        t1 + Duration::seconds(2),
    )
    .unwrap();
    assert!(matches!(o, LoginOutcome::Success(_)));
    // Unknown users: the same refusal as a wrong password.
    for name in ["nobody", "admin2"] {
        let o = login(&t.db, name, "whatever-password", "10.0.0.4", t1).unwrap();
        assert!(matches!(o, LoginOutcome::Refused));
    }
    // Samples untouched by any of this.
    let n: i64 =
        t.db.read(|tx| Ok(with_tx!(tx, |c| samples::table.count().get_result(c))?))
            .unwrap();
    assert_eq!(n, 0);
}

#[test]
fn an_amended_initial_fail_reopens_the_appeal_window() {
    let t = fresh_db(Backend::Sqlite).unwrap();
    let p = seed(&t.db, t0());
    let rev2 = second_reviewer(&t.db, p.reviewer.lab_id, t0());
    let id = tested_sample(&t.db, &p.tech, &PASSING, 1);
    release(&t.db, &p, id).unwrap();
    assert_eq!(sample(&t.db, id).state, "closed");
    // Aad was really 19.60/19.70 (mean 19.65 → Ad 20.06 ≥ 16): the amendment fails the sample.
    let at = local(2026, 3, 9, 9, 0);
    let v = sample(&t.db, id).version;
    t.db.transaction(|tx| {
        amend::propose(
            tx,
            &p.reviewer,
            id,
            &AmendRequest {
                version: v,
                stage: "initial_test".into(),
                reason: "Aad of the wrong sample was typed".into(),
                determinations: vec![AmendedAnalysis {
                    analysis: "aad".into(),
                    values: vec!["19.60".into(), "19.70".into()],
                }],
            },
            at,
        )
    })
    .unwrap();
    let v = sample(&t.db, id).version;
    let rel = ReleaseAmendment {
        version: v,
        stage: "initial_test".into(),
        revision: 2,
    };
    t.db.transaction(|tx| amend_release::release(tx, &rev2, id, &rel, at))
        .unwrap();
    let s = sample(&t.db, id);
    assert_eq!(
        (
            s.state.as_str(),
            s.final_verdict.as_deref(),
            s.closed_at,
            s.result_received_at
        ),
        ("initial_released", Some("fail"), None, None)
    );
    // The enterprise receives the re-issued report; its window then runs and closes as usual.
    result_received(&t.db, &p.regulator, id, local(2026, 3, 10, 10, 0));
    let closes = coallab::time::from_ms(sample(&t.db, id).appeal_closes_at.unwrap());
    assert_eq!(close_expired(&t.db, closes).unwrap(), 1);
    assert_eq!(sample(&t.db, id).state, "closed");
}

#[test]
fn cli_passwd_token_expiry_and_revocation() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], stdin: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_coallab"))
            .arg("--data-dir")
            .arg(dir.path())
            .args(args)
            .env_remove("DATABASE_URL")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };
    assert!(run(&["user", "add", "boss", "--role", "admin"], "").0);
    // 11 characters: refused.
    assert!(!run(&["user", "passwd", "boss"], "eleven-char\n").0);
    assert!(run(&["user", "passwd", "boss"], "twelve-chars\n").0);
    let (ok, token) = run(&["user", "token", "boss", "--expires", "2030-01-01"], "");
    assert!(ok);
    let token = token.trim().to_string();
    assert!(token.starts_with("clb_"));
    let db = Db::open_sqlite(&dir.path().join("coallab.db"), 2).unwrap();
    let now = Utc::now().timestamp_millis();
    let user = db
        .read(|tx| coallab::service::auth::authenticate(tx, &token, now))
        .unwrap();
    assert_eq!(user.username, "boss");
    // 2030-01-01T00:00:00Z = 1 893 456 000 000 ms: the token is dead from then on.
    assert!(db
        .read(|tx| coallab::service::auth::authenticate(tx, &token, 1_893_456_000_000))
        .is_err());
    let login =
        coallab::service::users_session::login(&db, "boss", "twelve-chars", "cli", Utc::now())
            .unwrap();
    assert!(matches!(
        login,
        coallab::service::users_session::LoginOutcome::Success(_)
    ));
    assert!(run(&["user", "revoke-tokens", "boss"], "").0);
    assert!(db
        .read(|tx| coallab::service::auth::authenticate(tx, &token, now))
        .is_err());
    let log: Vec<String> = db
        .read(|tx| {
            Ok(with_tx!(tx, |c| audit_events::table
                .order(audit_events::seq.asc())
                .select(audit_events::action)
                .load(c))?)
        })
        .unwrap();
    for a in [
        "user.add",
        "user.passwd",
        "token.issue",
        "login.success",
        "user.revoke_tokens",
    ] {
        assert!(log.iter().any(|x| x == a), "{a} not in {log:?}");
    }
}
