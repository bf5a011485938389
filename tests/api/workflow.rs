//! The whole path of a sample over HTTP: registration, receipt, determinations with the
//! repeatability rule, submission, release with the verdict per limit and the deadline.
//!
//! Every expected value below is worked out by hand from the standards (STANDARDS.md §2–§6);
//! the arithmetic is in the comments.

use serde_json::{json, Value};

use crate::both;
use crate::checks::*;
use crate::helpers::*;

fn full_workflow(backend: Backend) {
    let Some(app) = spawn_app(backend) else {
        return;
    };

    // --- registration by the technician ------------------------------------------------
    let reg = app
        .post_json(
            "/api/v1/samples",
            Some(TECH),
            &new_sample("SP-04", &days_ago(1), "A1"),
        )
        .expect(201);
    let id = reg["id"].as_i64().expect("id");
    assert_eq!(reg["state"], "registered");
    assert_eq!(reg["version"], 1);
    assert_eq!(reg["actions"], json!(["receive", "reject"]));
    // Technicians work blind: a lab code, no supplier.
    assert_eq!(reg["supplier"], Value::Null);
    assert!(reg["lab_code"].as_str().unwrap().starts_with('L'), "{reg}");
    let code = reg["sample_code"].as_str().unwrap().to_string();
    assert!(code.starts_with("DEMO-"), "{code}");
    assert!(code.ends_with(&format!("{id:06}")), "{code}");
    let frozen: Vec<&str> = reg["limit_sets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(frozen, SETS);
    assert_eq!(reg["sampling"]["record"]["samplers"], "张伟; 刘洋");
    assert_eq!(reg["sampling"]["retained_seal_no"], "B-A1");

    // --- receipt starts the initial-test clock ------------------------------------------
    let rec = app
        .post_json(
            &format!("/api/v1/samples/{id}/receive"),
            Some(TECH),
            &json!({"version": 1}),
        )
        .expect(200);
    assert_eq!(
        (rec["state"].as_str(), rec["version"].as_i64()),
        (Some("received"), Some(2))
    );
    assert_eq!(rec["current_stage"], "initial_test");
    let stage = &rec["stages"][0];
    assert_eq!(stage["stage"], "initial_test");
    // Demo county: N = 7 working days (fixtures/demo/jurisdictions.csv).
    assert_due(&stage["started_at"], &stage["due_at"], 7);
    assert_eq!(rec["due_at"], stage["due_at"]);
    assert_eq!(rec["overdue"], false);
    assert_eq!(stage["overdue"], false);

    let started = app
        .post_json(
            &format!("/api/v1/samples/{id}/start"),
            Some(TECH),
            &json!({"version": 2}),
        )
        .expect(200);
    assert_eq!(started["state"], "initial_testing");
    assert_eq!(started["actions"], json!(["submit", "reject"]));

    // --- determinations -------------------------------------------------------------------
    // Mad 1.48 and 1.52: mean 1.50 < 5.00 → r 0.20 (GB/T 212-2008); range 0.04 ≤ 0.20 →
    // accepted with factor 1. The second is typed with a plus sign, which is not recorded.
    let out = app.determine_all(id, TECH, "mad", &["1.48", " +1.52"]);
    assert_eq!(
        (
            out["analysis"].as_str(),
            out["run"].as_i64(),
            out["seq"].as_i64()
        ),
        (Some("mad"), Some(1), Some(2))
    );
    assert_eq!(out["determinations"], json!(["1.48", "1.52"]));
    assert_accepted(&out, "1.5", "0.20", "1", &[0, 1]);
    assert_eq!(dec(&out["precision"]["range"]), "0.04".parse().unwrap());

    // Aad 14.00: one determination is never accepted.
    let out = app.determine_all(id, TECH, "aad", &["14.00"]);
    assert_eq!(out["precision"]["outcome"], "needs_another_determination");
    assert_eq!(out["precision"]["have"], 1);
    // Aad 14.22: mean 14.11 < 15.00 → r 0.20; range 0.22 > 0.20 → a third is needed.
    let out = app.determine_all(id, TECH, "aad", &["14.22"]);
    let p = &out["precision"];
    assert_eq!(p["outcome"], "needs_another_determination", "{out}");
    assert_eq!(p["have"], 2);
    assert_eq!(dec(&p["range"]), "0.22".parse().unwrap());
    assert_eq!(dec(&p["r"]), "0.20".parse().unwrap());
    assert_eq!(dec(&p["allowed_range"]), "0.20".parse().unwrap());
    // Aad 14.10: the three span 14.22 − 14.00 = 0.22 ≤ 1.2 × 0.20 = 0.24 → accepted,
    // mean (14.00 + 14.22 + 14.10)/3 = 42.32/3 = 14.10666…
    let out = app.determine_all(id, TECH, "aad", &["14.10"]);
    assert_eq!(out["seq"], 3);
    assert_accepted(&out, "14.1066666667", "0.20", "1.2", &[0, 1, 2]);
    assert_eq!(
        dec(&out["precision"]["allowed_range"]),
        "0.24".parse().unwrap()
    );
    assert_eq!(dec(&out["precision"]["range"]), "0.22".parse().unwrap());
    // An accepted analysis takes no more determinations.
    app.determine(id, TECH, "aad", json!("14.15"))
        .expect_error(409, "analysis_already_accepted");

    // St,ad 0.60 and 0.62: mean 0.61 ≤ 1.50 → r 0.05 (GB/T 214-2007); range 0.02 → accepted.
    let out = app.determine_all(id, TECH, "st_ad", &["0.60", "0.62"]);
    assert_accepted(&out, "0.61", "0.05", "1", &[0, 1]);

    // --- submit, review, release ----------------------------------------------------------
    let sub = app.act(id, "submit", TECH, Value::Null).expect(200);
    assert_eq!(sub["state"], "initial_review");
    // The technician may not release (release is the reviewer's).
    app.act(id, "release", TECH, Value::Null)
        .expect_error(403, "forbidden");
    let rel = app.act(id, "release", REVIEWER, Value::Null).expect(200);
    // A passing initial test is final: released and closed in one step.
    assert_eq!(rel["state"], "closed", "{rel}");
    assert_eq!(rel["final_verdict"], "pass");
    assert_eq!(rel["due_at"], Value::Null);
    assert_eq!(rel["overdue"], false);
    assert_eq!(rel["supplier"]["code"], "SP-04");

    let view = app.sample(id, REVIEWER);
    let st = &view["stages"][0];
    assert_eq!(view["stages"].as_array().unwrap().len(), 1);
    assert_eq!(st["verdict"], "pass");
    assert_eq!(st["report_no"], format!("{code}-I1"));
    assert_eq!(st["overdue"], false);
    assert!(st["released_at"].is_string());
    assert_due(&st["started_at"], &st["due_at"], 7);

    // Results (STANDARDS.md §2, dry basis X_d = X_ad × 100/(100 − Mad)):
    //   Ad   = 14.10666… × 100/(100 − 1.50) = 1410.666…/98.5 = 14.3214890017 → 14.32
    //   St,d = 0.61 × 100/98.5 = 61/98.5 = 0.6192893401 → 0.62
    let results = st["results"].as_array().expect("results");
    let result = |p: &str| {
        results
            .iter()
            .find(|r| r["parameter"] == p)
            .unwrap_or_else(|| panic!("no {p} in {results:?}"))
    };
    assert_eq!(dec10(&result("ad")["value"]), "14.3214890017");
    assert_eq!(dec(&result("ad")["reported"]), "14.32".parse().unwrap());
    assert_eq!(dec10(&result("std")["value"]), "0.6192893401");
    assert_eq!(dec(&result("std")["reported"]), "0.62".parse().unwrap());
    assert_eq!(dec(&result("mad")["value"]), "1.50".parse().unwrap());

    // Verdict per limit: 3 sets × (ad, std), every one checked on the full value.
    let limits = &st["limits"];
    assert_eq!(limits.as_array().unwrap().len(), 6, "{limits}");
    let order: Vec<&str> = limits
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["limit_set_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        [SETS[0], SETS[0], SETS[1], SETS[1], SETS[2], SETS[2]]
    );
    // Handan: Ad < 16.00 (14.32… passes), St,d < 1.00 (0.619… passes).
    assert_limit(
        limits,
        SETS[0],
        "ad",
        "lt",
        "16.00",
        "14.3214890017",
        "14.32",
        "pass",
    );
    assert_limit(
        limits,
        SETS[0],
        "std",
        "lt",
        "1.00",
        "0.6192893401",
        "0.62",
        "pass",
    );
    // Beijing–Tianjin–Hebei loose coal: the same limits from the national measures.
    assert_limit(
        limits,
        SETS[1],
        "ad",
        "lt",
        "16.00",
        "14.3214890017",
        "14.32",
        "pass",
    );
    assert_limit(
        limits,
        SETS[1],
        "std",
        "lt",
        "1.00",
        "0.6192893401",
        "0.62",
        "pass",
    );
    // National: Ad ≤ 40.00, St,d ≤ 3.00.
    assert_limit(
        limits,
        SETS[2],
        "ad",
        "le",
        "40.00",
        "14.3214890017",
        "14.32",
        "pass",
    );
    assert_limit(
        limits,
        SETS[2],
        "std",
        "le",
        "3.00",
        "0.6192893401",
        "0.62",
        "pass",
    );

    // The regulator now sees the released sample, with its supplier.
    let reg_view = app.sample(id, REGULATOR);
    assert_eq!(reg_view["final_verdict"], "pass");
    assert_eq!(reg_view["supplier"]["code"], "SP-04");
    assert_eq!(reg_view["stages"][0]["verdict"], "pass");

    // The same release is stored as rows: results (revision 1) and one verdict per limit (6).
    use coallab::db::schema::{limit_verdicts, stage_results, stages};
    let (ad, ad_reported, checks, failed): (String, String, i64, i64) = app
        .db
        .read(|tx| {
            Ok(coallab::with_tx!(tx, |c| {
                let stage: i64 = stages::table
                    .filter(stages::sample_id.eq(id))
                    .select(stages::id)
                    .first(c)?;
                let (v, r): (String, String) = stage_results::table
                    .filter(stage_results::stage_id.eq(stage))
                    .filter(stage_results::revision.eq(1))
                    .filter(stage_results::parameter.eq("ad"))
                    .select((stage_results::value, stage_results::reported))
                    .first(c)?;
                let n: i64 = limit_verdicts::table
                    .filter(limit_verdicts::stage_id.eq(stage))
                    .count()
                    .get_result(c)?;
                let f: i64 = limit_verdicts::table
                    .filter(limit_verdicts::stage_id.eq(stage))
                    .filter(limit_verdicts::verdict.eq("fail"))
                    .count()
                    .get_result(c)?;
                Ok::<_, diesel::result::Error>((v, r, n, f))
            })?)
        })
        .expect("result rows");
    // Full precision as computed: 1410.666…/98.5 = 14.32148900169…; reported 14.32.
    assert!(ad.starts_with("14.32148900169"), "{ad}");
    assert_eq!(ad_reported, "14.32");
    assert_eq!((checks, failed), (6, 0));
}
both!(full_workflow => sqlite_full_workflow, pg_full_workflow);

/// The rule for the number of determinations (GB/T 483-2007, STANDARDS.md §4) as the server
/// answers it, one determination at a time.
fn precision_rules(backend: Backend) {
    let Some(app) = spawn_app(backend) else {
        return;
    };
    let id = app.sample_in_testing(TECH, "SP-02", &days_ago(1), "P1");

    // Aad 16.10 and 16.45: mean 16.275 in 15.00–30.00 → r 0.30; range 0.35 > 0.30 → a third.
    let out = app.determine_all(id, TECH, "aad", &["16.10", "16.45"]);
    let p = &out["precision"];
    assert_eq!(p["outcome"], "needs_another_determination", "{out}");
    assert_eq!(dec(&p["r"]), "0.30".parse().unwrap());
    assert_eq!(dec(&p["range"]), "0.35".parse().unwrap());
    // 16.30: range still 0.35 ≤ 1.2 × 0.30 = 0.36 → accepted,
    // mean (16.10 + 16.45 + 16.30)/3 = 48.85/3 = 16.28333…
    let out = app.determine_all(id, TECH, "aad", &["16.30"]);
    assert_accepted(&out, "16.2833333333", "0.30", "1.2", &[0, 1, 2]);
    assert_eq!(
        dec(&out["precision"]["allowed_range"]),
        "0.36".parse().unwrap()
    );

    // Mad 2.00, 2.25 (range 0.25 > r 0.20), 2.10 (0.25 > 0.24), 2.12 (0.25 ≤ 1.3 × 0.20 = 0.26)
    // → mean of four (2.00 + 2.25 + 2.10 + 2.12)/4 = 8.47/4 = 2.1175.
    let out = app.determine_all(id, TECH, "mad", &["2.00", "2.25", "2.10"]);
    assert_eq!(out["precision"]["outcome"], "needs_another_determination");
    assert_eq!(
        dec(&out["precision"]["allowed_range"]),
        "0.24".parse().unwrap()
    );
    let out = app.determine_all(id, TECH, "mad", &["2.12"]);
    assert_accepted(&out, "2.1175", "0.20", "1.3", &[0, 1, 2, 3]);

    // St,ad 1.00, 1.10, 1.20, 1.30 (r 0.05): range 0.30 > 1.3 × 0.05 = 0.065 and every triple
    // spans ≥ 0.20 > 1.2 × 0.05 = 0.06 → discard all and start again.
    let out = app.determine_all(id, TECH, "st_ad", &["1.00", "1.10", "1.20", "1.30"]);
    assert_eq!(out["precision"]["outcome"], "discard_and_restart", "{out}");
    assert_eq!(dec(&out["precision"]["range"]), "0.30".parse().unwrap());
    assert_eq!(dec(&out["precision"]["r"]), "0.05".parse().unwrap());
    // The next determination opens run 2.
    let out = app.determine_all(id, TECH, "st_ad", &["1.05"]);
    assert_eq!(
        (out["run"].as_i64(), out["seq"].as_i64()),
        (Some(2), Some(1))
    );
    let out = app.determine_all(id, TECH, "st_ad", &["1.07"]);
    assert_accepted(&out, "1.06", "0.05", "1", &[0, 1]);

    // The view lists every run with its determinations as typed.
    let view = app.sample(id, TECH);
    let runs = view["stages"][0]["analyses"].as_array().unwrap();
    let st_runs: Vec<(i64, Value)> = runs
        .iter()
        .filter(|r| r["analysis"] == "st_ad")
        .map(|r| (r["run"].as_i64().unwrap(), r["determinations"].clone()))
        .collect();
    assert_eq!(
        st_runs,
        vec![
            (1, json!(["1.00", "1.10", "1.20", "1.30"])),
            (2, json!(["1.05", "1.07"]))
        ]
    );
}
both!(precision_rules => sqlite_precision_rules, pg_precision_rules);
