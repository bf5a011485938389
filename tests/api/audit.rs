//! The audit trail over HTTP: the events of a workflow, the SHA-256 chain verifies, an edited or
//! deleted row is found at its place, and only auditors and admins may read it.

use serde_json::Value;

use crate::both;
use crate::helpers::*;

fn audit_chain(backend: Backend) {
    let Some(app) = spawn_app(backend) else {
        return;
    };
    let id = app.released_sample(
        TECH,
        "SP-06",
        &days_ago(1),
        "AU1",
        ["2.78", "2.82"],
        ["14.10", "14.20"],
        ["0.90", "0.92"],
    );

    // Every step of the sample is in the trail, in order, with its actor.
    let events = app
        .get(
            &format!("/api/v1/audit?sample_id={id}&per_page=200"),
            Some(AUDITOR),
        )
        .expect(200);
    let steps: Vec<(&str, &str)> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["actor"].as_str().unwrap(), e["action"].as_str().unwrap()))
        .collect();
    let det = ("tech-wang", "determination.enter");
    assert_eq!(
        steps,
        vec![
            ("tech-wang", "sample.register"),
            ("tech-wang", "sample.receive"),
            ("tech-wang", "sample.start"),
            det,
            det,
            det,
            det,
            det,
            det,
            ("tech-wang", "sample.submit"),
            ("rev-zhao", "stage.release"),
            ("rev-zhao", "sample.release"),
            ("system", "sample.close"),
        ]
    );
    assert_eq!(events["total"], 13);
    // Filters by actor and action.
    let by_reviewer = app
        .get("/api/v1/audit?actor=rev-zhao", Some(AUDITOR))
        .expect(200);
    assert_eq!(by_reviewer["total"], 2);
    app.get("/api/v1/audit?per_page=500", Some(AUDITOR))
        .expect_error(422, "invalid_value");

    // The chain verifies.
    let total = app.audit_total();
    let report = app.get("/api/v1/audit/verify", Some(AUDITOR)).expect(200);
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["events"].as_i64(), Some(total));
    assert_eq!(report["first_broken"], Value::Null);
    // Admins may verify too.
    assert_eq!(
        app.get("/api/v1/audit/verify", Some(ADMIN)).expect(200)["ok"],
        true
    );

    // Edit event 5 behind the application's back: the chain breaks exactly there.
    let page = app
        .get("/api/v1/audit?per_page=10", Some(AUDITOR))
        .expect(200);
    let fifth = &page["items"][4];
    assert_eq!(fifth["seq"], 5);
    let original = fifth["after_json"].clone();
    let n = app.execute_sql(
        "UPDATE audit_events SET after_json = '{\"changed\":0,\"tampered\":true}' WHERE seq = 5",
    );
    assert_eq!(n, 1);
    let report = app.get("/api/v1/audit/verify", Some(AUDITOR)).expect(200);
    assert_eq!(report["ok"], false, "{report}");
    assert_eq!(report["first_broken"]["seq"], 5, "{report}");
    assert!(
        report["first_broken"]["problem"]
            .as_str()
            .unwrap()
            .contains("edited"),
        "{report}"
    );
    assert_eq!(
        report["events"], 5,
        "verification stops at the first broken link"
    );

    // Put it back: the chain holds again.
    let restore = match original.as_str() {
        Some(t) => format!(
            "UPDATE audit_events SET after_json = '{}' WHERE seq = 5",
            t.replace('\'', "''")
        ),
        None => "UPDATE audit_events SET after_json = NULL WHERE seq = 5".to_string(),
    };
    assert_eq!(app.execute_sql(&restore), 1);
    assert_eq!(
        app.get("/api/v1/audit/verify", Some(AUDITOR)).expect(200)["ok"],
        true
    );

    // Delete event 3: the break shows at event 4, which has no predecessor.
    assert_eq!(app.execute_sql("DELETE FROM audit_events WHERE seq = 3"), 1);
    let report = app.get("/api/v1/audit/verify", Some(AUDITOR)).expect(200);
    assert_eq!(report["ok"], false);
    assert_eq!(report["first_broken"]["seq"], 4, "{report}");

    // Only auditors and admins read the trail.
    for token in [TECH, REVIEWER, REGULATOR] {
        app.get("/api/v1/audit", Some(token))
            .expect_error(403, "forbidden");
        app.get("/api/v1/audit/verify", Some(token))
            .expect_error(403, "forbidden");
    }
    app.get("/api/v1/audit", None)
        .expect_error(401, "unauthorized");
}
both!(audit_chain => sqlite_audit_chain, pg_audit_chain);

/// A page far beyond the end is a bad filter (422), as in the sample list.
///
/// BUG (src/api/audit.rs, `list`): `page` has no upper bound, so `(page - 1) * per_page`
/// overflows i64: a panic in the handler and a 500 in debug builds (a negative OFFSET and a
/// database error in release builds). The sample list bounds page to 1..=1 000 000.
fn audit_page_out_of_range(backend: Backend) {
    let Some(app) = spawn_app(backend) else {
        return;
    };
    app.get("/api/v1/audit?page=9223372036854775807", Some(AUDITOR))
        .expect_error(422, "invalid_value");
    // A reversed period is refused, as on the sample list and the reports (was 200 and empty).
    let msg = app
        .get(
            "/api/v1/audit?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z",
            Some(AUDITOR),
        )
        .expect_error(422, "invalid_value");
    assert_eq!(msg, "from must not be after to");
}
both!(audit_page_out_of_range => sqlite_audit_page_out_of_range, pg_audit_page_out_of_range);

/// Unreleased results are invisible to auditors (DESIGN.md "Who uses it"), in the audit trail
/// too: the values of determinations of a stage not yet released are withheld from them until
/// the release; admins see them as stored.
fn auditors_see_results_once_released(backend: Backend) {
    let Some(app) = spawn_app(backend) else {
        return;
    };
    let id = app.sample_in_testing(TECH, "SP-06", &days_ago(1), "AU9");
    app.determine_all(id, TECH, "aad", &["14.13"]);
    let entries = |token: &str| -> Vec<String> {
        app.get(
            &format!("/api/v1/audit?sample_id={id}&action=determination.enter"),
            Some(token),
        )
        .expect(200)["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["after_json"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let seen = entries(AUDITOR);
    assert_eq!(seen.len(), 1);
    assert!(
        seen[0].contains("withheld") && !seen[0].contains("14.13"),
        "{seen:?}"
    );
    let stored = entries(ADMIN);
    assert!(stored[0].contains("\"value\":\"14.13\""), "{stored:?}");
    // The hash covers the value (few enough to try them all): withheld too, and the next
    // event's prev_hash with it.
    app.determine_all(id, TECH, "aad", &["14.17"]);
    let trail = |token: &str| -> Vec<Value> {
        app.get(&format!("/api/v1/audit?sample_id={id}"), Some(token))
            .expect(200)["items"]
            .as_array()
            .unwrap()
            .clone()
    };
    let seen = trail(AUDITOR);
    let dets: Vec<&Value> = seen
        .iter()
        .filter(|e| e["action"] == "determination.enter")
        .collect();
    assert_eq!(dets.len(), 2);
    assert!(dets.iter().all(|e| e["hash"] == "withheld"), "{dets:?}");
    assert_eq!(dets[1]["prev_hash"], "withheld", "{dets:?}");
    assert_eq!(
        dets[1]["seq"].as_i64(),
        dets[0]["seq"].as_i64().map(|s| s + 1)
    );
    let stored = trail(ADMIN);
    assert!(stored.iter().all(|e| e["hash"] != "withheld"));
    // The chain still verifies (it checks the stored text).
    assert_eq!(
        app.get("/api/v1/audit/verify", Some(AUDITOR)).expect(200)["ok"],
        true
    );
    // Released (Aad 14.13/14.17: range 0.04 ≤ r 0.30): the auditor sees every value.
    app.determine_all(id, TECH, "mad", &["2.78", "2.82"]);
    app.determine_all(id, TECH, "st_ad", &["0.90", "0.92"]);
    app.act(id, "submit", TECH, serde_json::Value::Null)
        .expect(200);
    app.act(id, "release", REVIEWER, serde_json::Value::Null)
        .expect(200);
    let seen = entries(AUDITOR);
    assert_eq!(seen.len(), 6);
    assert!(seen.iter().all(|e| !e.contains("withheld")), "{seen:?}");
    assert!(seen[0].contains("\"value\":\"14.13\""), "{seen:?}");
    assert!(trail(AUDITOR)
        .iter()
        .all(|e| e["hash"] != "withheld" && e["prev_hash"] != "withheld"));
}
both!(auditors_see_results_once_released => sqlite_auditors_see_results_once_released, pg_auditors_see_results_once_released);
