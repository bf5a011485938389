//! The failing path: a verdict over a limit, the enterprise's receipt of the result, an appeal
//! and a retest by another technician whose verdict is final; and deadlines and the appeal
//! window running out. Expected values are worked out by hand; the arithmetic is in comments.

use chrono::Utc;
use serde_json::{json, Value};

use crate::both;
use crate::checks::*;
use crate::helpers::*;

fn failing_verdict_and_retest(backend: Backend) {
    let Some(app) = spawn_app(backend) else {
        return;
    };
    let id = app.sample_in_testing(TECH, "SP-04", &days_ago(2), "F1");
    // Mad 1.98/2.02 → 2.00; Aad 12.00/12.10 → 12.05 (r 0.20, range 0.10);
    // St,ad 1.00/1.02 → 1.01 (r 0.05, range 0.02).
    app.determine_all(id, TECH, "mad", &["1.98", "2.02"]);
    app.determine_all(id, TECH, "aad", &["12.00", "12.10"]);
    app.determine_all(id, TECH, "st_ad", &["1.00", "1.02"]);
    app.act(id, "submit", TECH, Value::Null).expect(200);
    // Unreleased work is invisible to the regulator.
    app.get(&format!("/api/v1/samples/{id}"), Some(REGULATOR))
        .expect_error(404, "not_found");
    let rel = app.act(id, "release", REVIEWER, Value::Null).expect(200);
    // A failed initial test stays released: the appeal window decides what comes next.
    assert_eq!(rel["state"], "initial_released", "{rel}");
    assert_eq!(rel["final_verdict"], "fail");
    assert_eq!(rel["due_at"], Value::Null);

    // Ad   = 12.05 × 100/98 = 12.2959183673 → passes every Ad limit;
    // St,d = 1.01 × 100/98 = 1.0306122449 → 1.03: fails St,d < 1.00 (Handan, loose coal),
    //        passes St,d ≤ 3.00 (national).
    let limits = &rel["stages"][0]["limits"];
    assert_eq!(rel["stages"][0]["verdict"], "fail");
    assert_limit(
        limits,
        SETS[0],
        "ad",
        "lt",
        "16.00",
        "12.2959183673",
        "12.30",
        "pass",
    );
    assert_limit(
        limits,
        SETS[0],
        "std",
        "lt",
        "1.00",
        "1.0306122449",
        "1.03",
        "fail",
    );
    assert_limit(
        limits,
        SETS[1],
        "ad",
        "lt",
        "16.00",
        "12.2959183673",
        "12.30",
        "pass",
    );
    assert_limit(
        limits,
        SETS[1],
        "std",
        "lt",
        "1.00",
        "1.0306122449",
        "1.03",
        "fail",
    );
    assert_limit(
        limits,
        SETS[2],
        "ad",
        "le",
        "40.00",
        "12.2959183673",
        "12.30",
        "pass",
    );
    assert_limit(
        limits,
        SETS[2],
        "std",
        "le",
        "3.00",
        "1.0306122449",
        "1.03",
        "pass",
    );

    // The regulator sees it now, and may appeal only after recording the enterprise's receipt.
    let seen = app.sample(id, REGULATOR);
    assert_eq!(seen["final_verdict"], "fail");
    assert_eq!(
        seen["actions"],
        json!(["request_retest"]),
        "the regulator may request a retest (close is the reviewer's)"
    );
    app.act(
        id,
        "request_retest",
        REGULATOR,
        json!({"retained_seal_no": "B-F1", "retained_condition": "封条完好 seal intact"}),
    )
    .expect_error(409, "result_receipt_missing");

    // The enterprise received the result now; K = 15 calendar days, the receipt day not
    // counted: the window closes at the local midnight after receipt day + 15.
    let version = seen["version"].as_i64().unwrap();
    let received_at = Utc::now().to_rfc3339();
    let rr = app
        .post_json(
            &format!("/api/v1/samples/{id}/result-received"),
            Some(REGULATOR),
            &json!({"version": version, "received_at": received_at}),
        )
        .expect(200);
    assert_eq!(rr["version"].as_i64(), Some(version + 1));
    let cal = calendar();
    let receipt_day = cal.local_date(instant(&rr["result_received_at"]));
    let closes = cal.start_of_day(receipt_day + chrono::Duration::days(16));
    assert_eq!(instant(&rr["appeal_closes_at"]), closes);
    // Closing while the window is open is refused.
    app.act(id, "close", REVIEWER, json!({"reason": "no appeal"}))
        .expect_error(409, "appeal_window_open");

    // The retest needs the sealed retained sample: a wrong seal number is refused.
    app.act(
        id,
        "request_retest",
        REGULATOR,
        json!({"retained_seal_no": "B-XX", "retained_condition": "intact"}),
    )
    .expect_error(422, "seal_mismatch");
    // The condition is free text checked like a reason: no control or text-direction
    // characters, at most 500 characters. Nothing changes.
    for bad in [
        "\u{0}\u{1b}[2J".to_string(),
        "intact\u{202E}".to_string(),
        "x".repeat(501),
    ] {
        app.act(
            id,
            "request_retest",
            REGULATOR,
            json!({"retained_seal_no": "B-F1", "retained_condition": bad}),
        )
        .expect_error(422, "invalid_value");
    }
    let rt = app
        .act(
            id,
            "request_retest",
            REGULATOR,
            json!({"retained_seal_no": "B-F1", "retained_condition": "封条完好 seal intact",
                   "reason": "企业申请复检 the enterprise appeals"}),
        )
        .expect(200);
    assert_eq!(rt["state"], "retest_testing");
    assert_eq!(rt["current_stage"], "retest");
    // The regulator does not see the unreleased retest stage.
    assert_eq!(rt["stages"].as_array().unwrap().len(), 1, "{rt}");
    let lab_view = app.sample(id, REVIEWER);
    assert_eq!(
        lab_view["sampling"]["retained_condition"],
        "封条完好 seal intact"
    );
    let retest = &lab_view["stages"][1];
    assert_eq!(retest["stage"], "retest");
    // Retest deadline: M = 5 working days from the request.
    assert_due(&retest["started_at"], &retest["due_at"], 5);
    assert_eq!(lab_view["due_at"], retest["due_at"]);

    // The technician of the initial test may not do the retest; nothing is stored.
    let version = app.version(id);
    let audit_before = app.audit_total();
    app.determine(id, TECH, "mad", json!("2.00"))
        .expect_error(409, "same_technician");
    assert_eq!(app.version(id), version);
    assert_eq!(app.audit_total(), audit_before);
    assert_eq!(app.sample(id, REVIEWER)["stages"][1]["analyses"], json!([]));

    // Retest by the second technician on the retained sample:
    // Mad 2.00/2.00 → 2.00; Aad 12.10/12.20 → 12.15 (range 0.10 ≤ 0.20);
    // St,ad 0.89/0.91 → 0.90 (range 0.02 ≤ 0.05).
    app.determine_all(id, TECH2, "mad", &["2.00", "2.00"]);
    app.determine_all(id, TECH2, "aad", &["12.10", "12.20"]);
    let out = app.determine_all(id, TECH2, "st_ad", &["0.89", "0.91"]);
    assert_accepted(&out, "0.9", "0.05", "1", &[0, 1]);
    app.act(id, "submit", TECH2, Value::Null).expect(200);
    let done = app.act(id, "release", REVIEWER, Value::Null).expect(200);
    // The retest verdict is final: the sample closes with it.
    assert_eq!(done["state"], "closed", "{done}");
    // Retest: Ad = 12.15/0.98 = 12.3979591837; St,d = 0.90/0.98 = 0.9183673469 < 1.00 → pass.
    assert_eq!(done["final_verdict"], "pass");
    let retest = &done["stages"][1];
    assert_eq!(retest["verdict"], "pass");
    assert_eq!(
        retest["report_no"],
        format!("{}-R1", done["sample_code"].as_str().unwrap())
    );
    assert_limit(
        &retest["limits"],
        SETS[0],
        "std",
        "lt",
        "1.00",
        "0.9183673469",
        "0.92",
        "pass",
    );
    assert_limit(
        &retest["limits"],
        SETS[1],
        "ad",
        "lt",
        "16.00",
        "12.3979591837",
        "12.40",
        "pass",
    );
    // The initial stage keeps its own verdict.
    assert_eq!(done["stages"][0]["verdict"], "fail");

    // Reproducibility (initial vs retest, dry basis):
    //   Ad:   |12.2959183673 − 12.3979591837| = 0.1020408163; mean 12.35 < 15.00 → R 0.30 → consistent
    //   St,d: |1.0306122449 − 0.9183673469| = 0.1122448980; mean 0.97 ≤ 1.50 → R 0.10 → flagged
    let checks = retest["reproducibility"]
        .as_array()
        .expect("reproducibility");
    assert_eq!(checks.len(), 2, "{checks:?}");
    let check = |p: &str| checks.iter().find(|c| c["parameter"] == p).unwrap();
    let ad = check("ad");
    assert_eq!(dec10(&ad["initial"]), "12.2959183673");
    assert_eq!(dec10(&ad["retest"]), "12.3979591837");
    assert_eq!(dec10(&ad["difference"]), "0.1020408163");
    assert_eq!(dec(&ad["critical_difference"]), "0.30".parse().unwrap());
    assert_eq!(ad["consistent"], true);
    let std = check("std");
    assert_eq!(dec10(&std["difference"]), "0.112244898");
    assert_eq!(dec(&std["critical_difference"]), "0.10".parse().unwrap());
    assert_eq!(std["consistent"], false);

    // The regulator sees both released stages and the final verdict.
    let seen = app.sample(id, REGULATOR);
    assert_eq!(seen["final_verdict"], "pass");
    assert_eq!(seen["stages"].as_array().unwrap().len(), 2);
    assert_eq!(seen["actions"], json!([]));
}
both!(failing_verdict_and_retest => sqlite_failing_verdict_and_retest, pg_failing_verdict_and_retest);

/// Day boundaries in the lab's time zone, a stage released after its deadline, and the appeal
/// window running out. The clock is not waited for: deadlines and the enterprise's receipt are
/// moved into the past directly in the database.
fn deadlines_and_appeal_window(backend: Backend) {
    let Some(app) = spawn_app(backend) else {
        return;
    };
    // 2025-12-31T17:30Z is 2026-01-01 01:30 in Asia/Shanghai: the sampling day (and the year in
    // the sample code) is the lab's local one.
    let reg = app.register(TECH, "SP-07", "2025-12-31T17:30:00Z", "D1");
    let id = reg["id"].as_i64().unwrap();
    assert_eq!(reg["sampling"]["sampled_on"], "2026-01-01");
    assert_eq!(reg["sampling"]["sampled_at"], "2025-12-31T17:30:00.000Z");
    assert!(
        reg["sample_code"]
            .as_str()
            .unwrap()
            .starts_with("DEMO-2026-"),
        "{reg}"
    );
    let on_day = app
        .get(
            "/api/v1/samples?from=2026-01-01&to=2026-01-01",
            Some(REVIEWER),
        )
        .expect(200);
    assert_eq!(on_day["total"], 1);
    let day_before = app
        .get("/api/v1/samples?to=2025-12-31", Some(REVIEWER))
        .expect(200);
    assert_eq!(day_before["total"], 0);

    app.act(id, "receive", TECH, Value::Null).expect(200);
    app.act(id, "start", TECH, Value::Null).expect(200);
    // Mad 0.98/1.02 → 1.00; Aad 9.00/9.10 → 9.05; St,ad 1.20/1.22 → 1.21.
    app.determine_all(id, TECH, "mad", &["0.98", "1.02"]);
    app.determine_all(id, TECH, "aad", &["9.00", "9.10"]);
    app.determine_all(id, TECH, "st_ad", &["1.20", "1.22"]);
    app.act(id, "submit", TECH, Value::Null).expect(200);

    // The initial test's deadline passes before the release.
    app.execute_sql(&format!(
        "UPDATE stages SET due_at = 1000 WHERE sample_id = {id}"
    ));
    app.execute_sql(&format!("UPDATE samples SET due_at = 1000 WHERE id = {id}"));
    let late = app.sample(id, REVIEWER);
    assert_eq!(
        (
            late["overdue"].as_bool(),
            late["stages"][0]["overdue"].as_bool()
        ),
        (Some(true), Some(true))
    );
    let rel = app.act(id, "release", REVIEWER, Value::Null).expect(200);
    // St,d = 1.21 × 100/(100 − 1.00) = 1.2222222222 → 1.22 ≥ 1.00: fail.
    assert_eq!(rel["final_verdict"], "fail");
    assert_limit(
        &rel["stages"][0]["limits"],
        SETS[0],
        "std",
        "lt",
        "1.00",
        "1.2222222222",
        "1.22",
        "fail",
    );
    // Ad = 9.05/0.99 = 9.1414141414 → 9.14: passes.
    assert_limit(
        &rel["stages"][0]["limits"],
        SETS[1],
        "ad",
        "lt",
        "16.00",
        "9.1414141414",
        "9.14",
        "pass",
    );
    // Released after its due instant: the stage stays marked overdue; nothing is open any more.
    assert_eq!(rel["stages"][0]["overdue"], true);
    assert_eq!(rel["overdue"], false);
    assert_eq!(rel["due_at"], Value::Null);

    // The enterprise received the result; then 20 days pass (> K = 15).
    let version = app.version(id);
    app.post_json(
        &format!("/api/v1/samples/{id}/result-received"),
        Some(REGULATOR),
        &json!({"version": version, "received_at": Utc::now().to_rfc3339()}),
    )
    .expect(200);
    // A receipt before the release is impossible.
    app.post_json(
        &format!("/api/v1/samples/{id}/result-received"),
        Some(REGULATOR),
        &json!({"version": version + 1, "received_at": "2026-01-01T00:00:00+08:00"}),
    )
    .expect_error(422, "invalid_value");
    let received = Utc::now() - chrono::Duration::days(20);
    app.execute_sql(&format!(
        "UPDATE samples SET result_received_at = {} WHERE id = {id}",
        received.timestamp_millis()
    ));
    let last_day = calendar().local_date(received) + chrono::Duration::days(15);
    let msg = app
        .act(
            id,
            "request_retest",
            REGULATOR,
            json!({"retained_seal_no": "B-D1", "retained_condition": "intact"}),
        )
        .expect_error(409, "appeal_window_closed");
    assert!(
        msg.contains(&last_day.to_string()),
        "{msg} should name {last_day}"
    );
    // With the window's end stored in the past too, the sample view no longer offers the
    // retest (the sample is closed in effect, before the closing job records it).
    app.execute_sql(&format!(
        "UPDATE samples SET appeal_closes_at = {} WHERE id = {id}",
        (Utc::now() - chrono::Duration::days(4)).timestamp_millis()
    ));
    let seen = app.sample(id, REGULATOR);
    assert_eq!(seen["state"], "initial_released");
    assert!(
        !seen["actions"]
            .as_array()
            .unwrap()
            .contains(&json!("request_retest")),
        "{}",
        seen["actions"]
    );
    // The regulator does not close samples; the reviewer does, once the window has passed.
    app.act(id, "close", REGULATOR, Value::Null)
        .expect_error(403, "forbidden");
    let closed = app
        .act(
            id,
            "close",
            REVIEWER,
            json!({"reason": "no appeal within the appeal window"}),
        )
        .expect(200);
    assert_eq!(closed["state"], "closed");
    assert_eq!(closed["final_verdict"], "fail");
    assert_eq!(closed["actions"], json!([]));
}
both!(deadlines_and_appeal_window => sqlite_deadlines_and_appeal_window, pg_deadlines_and_appeal_window);
