//! Four eyes, immutability, amendments, the appeal window, the retest, expired windows.

use super::*;

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
    // The original report I1 is printed (its verification code issued) before any amendment.
    let i1 = format!("{}-I1", s.sample_code);
    let i1_code =
        t.db.transaction(|tx| {
            coallab::service::reports_doc::report_document(
                tx,
                &p.reviewer,
                &i1,
                local(2026, 3, 5, 9, 0),
            )
        })
        .unwrap()
        .verification_code;
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
    // The replaced report still verifies as genuine, with its own (failing) verdict, and says
    // which report replaced it; its code does not open the new report.
    let old_doc =
        t.db.read(|tx| coallab::service::reports_doc::verify(tx, &i1, &i1_code))
            .unwrap()
            .expect("the replaced report verifies");
    assert_eq!(
        (
            old_doc.report_no.as_str(),
            old_doc.verdict.as_str(),
            old_doc.replaced_by
        ),
        (i1.as_str(), "fail", Some(format!("{code_}-I2")))
    );
    assert!(t
        .db
        .read(|tx| coallab::service::reports_doc::verify(tx, &format!("{code_}-I2"), &i1_code))
        .unwrap()
        .is_none());
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

/// `reviewer` proposes new Aad duplicates for the initial test of sample `id` at `at`.
fn propose_initial_aad(
    db: &Db,
    reviewer: &coallab::service::auth::CurrentUser,
    id: i64,
    aad: [&str; 2],
    at: DateTime<Utc>,
) {
    let v = sample(db, id).version;
    db.transaction(|tx| {
        amend::propose(
            tx,
            reviewer,
            id,
            &AmendRequest {
                version: v,
                stage: "initial_test".into(),
                reason: "Aad of the wrong sample was typed".into(),
                determinations: vec![AmendedAnalysis {
                    analysis: "aad".into(),
                    values: aad.iter().map(|v| (*v).into()).collect(),
                }],
            },
            at,
        )
    })
    .unwrap();
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
    propose_initial_aad(&t.db, &p.reviewer, id, ["19.60", "19.70"], at);
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
fn an_amendment_corrects_only_what_the_stage_reported() {
    let t = fresh_db(Backend::Sqlite).unwrap();
    let p = seed(&t.db, t0());
    let id = tested_sample(&t.db, &p.tech, &PASSING, 1);
    release(&t.db, &p, id).unwrap();
    let before = sample(&t.db, id).version;
    // The initial test reported Mad, Aad and St,ad; Vad was never determined.
    let e =
        t.db.transaction(|tx| {
            amend::propose(
                tx,
                &p.reviewer,
                id,
                &AmendRequest {
                    version: before,
                    stage: "initial_test".into(),
                    reason: "add a volatile matter result".into(),
                    determinations: vec![AmendedAnalysis {
                        analysis: "vad".into(),
                        values: vec!["30.10".into(), "30.20".into()],
                    }],
                },
                local(2026, 3, 9, 9, 0),
            )
        })
        .unwrap_err();
    let msg = e.to_string();
    assert_eq!(code(e), "invalid_value");
    assert!(msg.contains("reported no vad"), "{msg}");
    assert_eq!(sample(&t.db, id).version, before, "nothing changed");
}

#[test]
fn an_amended_initial_fail_that_passes_is_final_at_the_amendment() {
    let t = fresh_db(Backend::Sqlite).unwrap();
    let p = seed(&t.db, t0());
    let rev2 = second_reviewer(&t.db, p.reviewer.lab_id, t0());
    // Aad 19.60/19.70 → Ad 20.06 ≥ 16: the initial test fails (released 2026-03-05 10:00).
    let id = tested_sample(&t.db, &p.tech, &FAILING, 1);
    release(&t.db, &p, id).unwrap();
    result_received(&t.db, &p.regulator, id, local(2026, 3, 6, 10, 0));
    let window_end = sample(&t.db, id).appeal_closes_at.expect("window");
    // Aad was really 12.00/12.10 (Ad 12.30 < 16, St,d 0.52 < 1): the amendment, released on
    // 2026-03-09 while the appeal window is still open, passes the sample.
    let at = local(2026, 3, 9, 9, 0);
    assert!(coallab::time::to_ms(at) < window_end);
    propose_initial_aad(&t.db, &p.reviewer, id, ["12.00", "12.10"], at);
    let rel = ReleaseAmendment {
        version: sample(&t.db, id).version,
        stage: "initial_test".into(),
        revision: 2,
    };
    t.db.transaction(|tx| amend_release::release(tx, &rev2, id, &rel, at))
        .unwrap();
    let s = sample(&t.db, id);
    let at_ms = coallab::time::to_ms(at);
    assert_eq!(
        (
            s.state.as_str(),
            s.final_verdict.as_deref(),
            s.closed_at,
            s.result_received_at,
            s.appeal_closes_at
        ),
        ("closed", Some("pass"), Some(at_ms), None, None)
    );
    // Final at the amendment's release, not at the end of the window the pass no longer has.
    let stored = coallab::domain::effective::StoredFinality {
        state: coallab::domain::lifecycle::SampleState::Closed,
        appeal_closes_at: s.appeal_closes_at,
        retest_requested_at: s.retest_requested_at,
        closed_at: s.closed_at,
    };
    assert_eq!(stored.final_at(at_ms), Some(at_ms));
    assert!(audit::verify(&t.db).unwrap().ok);
}

/// An amendment of the initial test proposed before the enterprise appealed is not released
/// while the retest is under way: the appeal is judged by the retest, and an amended initial
/// `pass` would otherwise stand as the verdict so far beside an open appeal against the report
/// it replaced. (After the retest's release the final verdict is the retest's, whatever an
/// amendment of the initial test says: src/service/amend_release.rs.)
#[test]
fn an_initial_amendment_waits_for_the_retest() {
    let t = fresh_db(Backend::Sqlite).unwrap();
    let p = seed(&t.db, t0());
    let rev2 = second_reviewer(&t.db, p.reviewer.lab_id, t0());
    let (id, _) = failed_and_received(&t.db, &p, 1);
    // Aad was really 12.00/12.10 (mean 12.05 → Ad = 1205 / 97.98 = 12.30 < 16): a pass.
    let at = local(2026, 3, 11, 9, 0);
    propose_initial_aad(&t.db, &p.reviewer, id, ["12.00", "12.10"], at);
    act(
        &t.db,
        &p.regulator,
        id,
        Action::RequestRetest,
        appeal(1),
        local(2026, 3, 12, 9, 0),
    )
    .unwrap();
    let before = sample(&t.db, id);
    assert_eq!(before.state, "retest_testing");
    let rel = |version| ReleaseAmendment {
        version,
        stage: "initial_test".into(),
        revision: 2,
    };
    let e =
        t.db.transaction(|tx| amend_release::release(tx, &rev2, id, &rel(before.version), at))
            .unwrap_err();
    assert_eq!(e.code(), "illegal_transition", "{e}");
    // Nothing changed: state, verdict so far (the initial fail) and version.
    let after = sample(&t.db, id);
    assert_eq!(
        (
            after.state.as_str(),
            after.final_verdict.as_deref(),
            after.version
        ),
        ("retest_testing", Some("fail"), before.version)
    );
    assert!(audit::verify(&t.db).unwrap().ok);
}
