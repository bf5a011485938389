//! Bad input is refused with the right status and error code, and changes nothing: the sample's
//! version, the sample list and the audit trail are the same afterwards.

use serde_json::{json, Value};

use crate::both;
use crate::helpers::*;

/// What a refused request must leave untouched.
struct Snapshot {
    version: i64,
    samples: i64,
    audit: i64,
    analyses: Value,
}

fn snapshot(app: &TestApp, id: i64) -> Snapshot {
    let view = app.sample(id, REVIEWER);
    Snapshot {
        version: view["version"].as_i64().unwrap(),
        samples: app.sample_total(REVIEWER),
        audit: app.audit_total(),
        analyses: view["stages"][0]["analyses"].clone(),
    }
}

#[track_caller]
fn assert_unchanged(app: &TestApp, id: i64, before: &Snapshot) {
    let now = snapshot(app, id);
    assert_eq!(now.version, before.version, "sample version changed");
    assert_eq!(now.samples, before.samples, "sample count changed");
    assert_eq!(now.audit, before.audit, "audit trail changed");
    assert_eq!(now.analyses, before.analyses, "determinations changed");
}

fn refused_requests_change_nothing(backend: Backend) {
    let Some(app) = spawn_app(backend) else {
        return;
    };
    let id = app.sample_in_testing(TECH, "SP-01", &days_ago(1), "B1");
    let before = snapshot(&app, id);

    // Malformed JSON, a missing field and an unknown field: 400 malformed_json.
    app.post_bytes(
        "/api/v1/samples",
        Some(TECH),
        "application/json",
        br#"{"supplier_code": "SP-01", "samplers": ["a", "b"#.to_vec(),
    )
    .expect_error(400, "malformed_json");
    let mut missing = new_sample("SP-01", &days_ago(1), "B2");
    missing.as_object_mut().unwrap().remove("samplers");
    app.post_json("/api/v1/samples", Some(TECH), &missing)
        .expect_error(400, "malformed_json");
    let mut unknown = new_sample("SP-01", &days_ago(1), "B2");
    unknown["colour"] = json!("black");
    app.post_json("/api/v1/samples", Some(TECH), &unknown)
        .expect_error(400, "malformed_json");
    app.post_bytes(
        &format!("/api/v1/samples/{id}/determinations"),
        Some(TECH),
        "application/json",
        b"analysis=mad&value=1.5".to_vec(),
    )
    .expect_error(400, "malformed_json");
    // The fields of a body by position, as a JSON array: not an object, refused (serde's
    // derive alone would take `["mad","1.50"]` as analysis and value).
    let msg = app
        .post_json(
            &format!("/api/v1/samples/{id}/determinations"),
            Some(TECH),
            &json!(["mad", "1.50"]),
        )
        .expect_error(400, "malformed_json");
    assert!(msg.contains("expected a JSON object"), "{msg}");
    app.post_json(
        &format!("/api/v1/samples/{id}/receive"),
        Some(TECH),
        &json!([1]),
    )
    .expect_error(400, "malformed_json");

    // Unknown supplier: 422 unknown_supplier.
    let msg = app
        .post_json(
            "/api/v1/samples",
            Some(TECH),
            &new_sample("XX-99", &days_ago(1), "B3"),
        )
        .expect_error(422, "unknown_supplier");
    assert!(msg.contains("XX-99"), "{msg}");
    // One sampler only, equal seals, a sampling instant in the future: 422.
    let mut one = new_sample("SP-01", &days_ago(1), "B4");
    one["samplers"] = json!(["张伟", " "]);
    app.post_json("/api/v1/samples", Some(TECH), &one)
        .expect_error(422, "invalid_value");
    // A zero-width space is no name either.
    one["samplers"] = json!(["张伟", "\u{200B}"]);
    app.post_json("/api/v1/samples", Some(TECH), &one)
        .expect_error(422, "invalid_value");
    let mut seals = new_sample("SP-01", &days_ago(1), "B5");
    seals["retained_seal_no"] = seals["test_seal_no"].clone();
    app.post_json("/api/v1/samples", Some(TECH), &seals)
        .expect_error(422, "invalid_value");
    // The same seal number in another letter case is the same seal.
    let lower = seals["test_seal_no"].as_str().unwrap().to_lowercase();
    assert_ne!(lower, seals["test_seal_no"].as_str().unwrap());
    seals["retained_seal_no"] = json!(lower);
    app.post_json("/api/v1/samples", Some(TECH), &seals)
        .expect_error(422, "invalid_value");
    app.post_json(
        "/api/v1/samples",
        Some(TECH),
        &new_sample(
            "SP-01",
            &(chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339(),
            "B6",
        ),
    )
    .expect_error(422, "invalid_value");
    assert_unchanged(&app, id, &before);

    // Determinations: negative, not a number, a JSON number, Mad of 100 %, an unknown analysis.
    let msg = app
        .determine(id, TECH, "mad", json!("-1.0"))
        .expect_error(422, "invalid_value");
    assert!(msg.contains("negative"), "{msg}");
    app.determine(id, TECH, "aad", json!("abc"))
        .expect_error(422, "invalid_value");
    // 12.5 as a JSON number would pass through binary floating point: refused.
    app.determine(id, TECH, "aad", json!(12.5))
        .expect_error(422, "value_not_string");
    // Mad is a moisture: it must lie below 100 %.
    let msg = app
        .determine(id, TECH, "mad", json!("100"))
        .expect_error(422, "invalid_value");
    assert!(msg.contains("out of range"), "{msg}");
    app.determine(id, TECH, "ash", json!("12.00"))
        .expect_error(422, "invalid_value");
    app.determine(id, TECH, "aad", Value::Null)
        .expect_error(422, "invalid_value");
    assert_unchanged(&app, id, &before);

    // Release before every analysis is accepted. The sample is in initial_testing, where
    // release is not a legal action at all (409 illegal_transition naming the legal ones) …
    app.determine_all(id, TECH, "mad", &["1.48", "1.52"]);
    let before = snapshot(&app, id);
    let msg = app
        .act(id, "release", REVIEWER, Value::Null)
        .expect_error(409, "illegal_transition");
    assert!(
        msg.contains("legal actions: submit, reject, cancel"),
        "{msg}"
    );
    // … and submitting it for review is refused until Aad and St,ad are accepted.
    let msg = app
        .act(id, "submit", TECH, Value::Null)
        .expect_error(409, "precision_not_met");
    assert!(
        msg.contains("aad") && msg.contains("st_ad") && !msg.contains("mad,"),
        "{msg}"
    );
    assert_unchanged(&app, id, &before);
    // Aad with a pair over r is not accepted yet either (14.00/14.25: range 0.25 > r 0.20).
    app.determine_all(id, TECH, "aad", &["14.00", "14.25"]);
    app.determine_all(id, TECH, "st_ad", &["0.50", "0.51"]);
    let before = snapshot(&app, id);
    let msg = app
        .act(id, "submit", TECH, Value::Null)
        .expect_error(409, "precision_not_met");
    assert!(msg.contains("aad") && !msg.contains("st_ad"), "{msg}");
    assert_unchanged(&app, id, &before);

    // A wrong transition: 409 illegal_transition, the message names the legal actions.
    let fresh = app.register(TECH, "SP-01", &days_ago(1), "B7")["id"]
        .as_i64()
        .unwrap();
    let before_fresh = snapshot(&app, fresh);
    let msg = app
        .act(fresh, "start", TECH, Value::Null)
        .expect_error(409, "illegal_transition");
    assert_eq!(
        msg,
        "cannot start a sample in state registered; legal actions: receive, reject, cancel"
    );
    // A stale version: 409 version_conflict.
    app.post_json(
        &format!("/api/v1/samples/{fresh}/receive"),
        Some(TECH),
        &json!({"version": 0}),
    )
    .expect_error(409, "version_conflict");
    // An unknown action: 404; reject and cancel need a reason: 422.
    app.act(fresh, "explode", TECH, Value::Null)
        .expect_error(404, "not_found");
    app.act(fresh, "reject", TECH, Value::Null)
        .expect_error(422, "missing_value");
    assert_unchanged(&app, fresh, &before_fresh);

    // No token, a bad token: 401 with a Bearer challenge.
    let r = app.get("/api/v1/samples", None);
    assert_eq!(
        r.headers
            .get("WWW-Authenticate")
            .map(|v| v.to_str().unwrap()),
        Some("Bearer")
    );
    r.expect_error(401, "unauthorized");
    app.post_json(
        "/api/v1/samples",
        None,
        &new_sample("SP-01", &days_ago(1), "B8"),
    )
    .expect_error(401, "unauthorized");
    app.get("/api/v1/samples", Some("not-a-token"))
        .expect_error(401, "unauthorized");
    // A token with a byte that is not ASCII (Latin-1 'ö') is an unknown token, not a missing
    // header.
    let r = reqwest::blocking::Client::new()
        .get(format!("{}/api/v1/samples", app.address))
        .header(
            "Authorization",
            reqwest::header::HeaderValue::from_bytes(b"Bearer dem\xf6-admin").unwrap(),
        )
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let body: Value = r.json().unwrap();
    assert_eq!(body["message"], "unknown API token", "{body}");
    // Two Authorization headers (two valid tokens of different people): which one counts would
    // be a guess, so neither does; the status lookup (its own token path) says the same.
    for path in ["/api/v1/samples", "/api/v1/reports/status?sample_code=X"] {
        let r = reqwest::blocking::Client::new()
            .get(format!("{}{path}", app.address))
            .header("Authorization", format!("Bearer {TECH}"))
            .header("Authorization", format!("Bearer {ADMIN}"))
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 401, "{path}");
        let body: Value = r.json().unwrap();
        assert_eq!(
            body["message"], "send one Authorization header, not several",
            "{path}: {body}"
        );
    }
    // Wrong role: 403. A regulator registers no samples and receives none, an auditor enters
    // no determinations, a technician reads no supplier.
    let before = snapshot(&app, id);
    app.post_json(
        "/api/v1/samples",
        Some(REGULATOR),
        &new_sample("SP-01", &days_ago(1), "B9"),
    )
    .expect_error(403, "forbidden");
    app.determine(id, AUDITOR, "aad", json!("14.10"))
        .expect_error(403, "forbidden");
    app.get("/api/v1/suppliers", Some(TECH))
        .expect_error(403, "forbidden");
    app.act(fresh, "receive", REGULATOR, Value::Null)
        .expect_error(403, "forbidden");
    assert_unchanged(&app, fresh, &before_fresh);
    assert_unchanged(&app, id, &before);
}
both!(refused_requests_change_nothing => sqlite_refused_requests_change_nothing, pg_refused_requests_change_nothing);

/// Four eyes: a reviewer who entered determinations of a stage may not release it.
fn self_release_is_refused(backend: Backend) {
    let Some(app) = spawn_app(backend) else {
        return;
    };
    // The reviewer does the bench work himself …
    let id = app.sample_in_testing(REVIEWER, "SP-03", &days_ago(1), "E1");
    app.determine_all(id, REVIEWER, "mad", &["1.50", "1.52"]);
    app.determine_all(id, TECH, "aad", &["11.00", "11.10"]);
    app.determine_all(id, TECH, "st_ad", &["0.50", "0.52"]);
    app.act(id, "submit", REVIEWER, Value::Null).expect(200);
    let before = snapshot(&app, id);
    // … so he may not release it, even though the technician entered most of it.
    let msg = app
        .act(id, "release", REVIEWER, Value::Null)
        .expect_error(409, "four_eyes");
    assert!(msg.contains("entered none"), "{msg}");
    assert_unchanged(&app, id, &before);
    let view = app.sample(id, REVIEWER);
    assert_eq!(view["state"], "initial_review");
    assert_eq!(view["final_verdict"], Value::Null);
    // Sent back for rework with a reason, it returns to testing.
    let back = app
        .act(
            id,
            "return",
            REVIEWER,
            json!({"reason": "second reviewer needed"}),
        )
        .expect(200);
    assert_eq!(back["state"], "initial_testing");
    assert_eq!(back["state_reason"], "second reviewer needed");
}
both!(self_release_is_refused => sqlite_self_release_is_refused, pg_self_release_is_refused);

/// Findings of a user test: values that used to be stored and now are refused, each changing
/// nothing.
fn suspicious_values_are_refused(backend: Backend) {
    let Some(app) = spawn_app(backend) else {
        return;
    };
    let id = app.sample_in_testing(TECH, "SP-03", &days_ago(1), "S1");
    let before = snapshot(&app, id);

    // The same sampler twice is one sampler: GB 475 spot checks name two different people.
    let mut same = new_sample("SP-03", &days_ago(1), "S2");
    same["samplers"] = json!(["张伟", " 张伟 "]);
    app.post_json("/api/v1/samples", Some(TECH), &same)
        .expect_error(422, "invalid_value");
    // A seal number already recorded on sample S1 is not used again.
    let reused = new_sample("SP-03", &days_ago(1), "S1");
    let msg = app
        .post_json("/api/v1/samples", Some(TECH), &reused)
        .expect_error(409, "seal_in_use");
    assert!(msg.contains("T-S1"), "{msg}");
    // In any letter case: "t-s1" reads as the seal "T-S1" (new_sample seals are T-/B-{seal}).
    let lower = new_sample("SP-03", &days_ago(1), "s1");
    let msg = app
        .post_json("/api/v1/samples", Some(TECH), &lower)
        .expect_error(409, "seal_in_use");
    assert!(
        msg.contains("T-s1") && msg.contains("any letter case"),
        "{msg}"
    );
    // A zero-width space would make a second seal that prints as "T-S1".
    let mut hidden = new_sample("SP-03", &days_ago(1), "S4");
    hidden["test_seal_no"] = json!("T-S1\u{200B}");
    let msg = app
        .post_json("/api/v1/samples", Some(TECH), &hidden)
        .expect_error(422, "invalid_value");
    assert!(
        msg.contains("test_seal_no") && msg.contains("shows nothing"),
        "{msg}"
    );
    // Control characters (log and CSV forgery) and over-long text.
    let mut ctl = new_sample("SP-03", &days_ago(1), "S3");
    ctl["lot_no"] = json!("LOT\n2026 INFO forged");
    app.post_json("/api/v1/samples", Some(TECH), &ctl)
        .expect_error(422, "invalid_value");
    // The samplers are stored joined by "; ": a name holding ';' would read as two people.
    let mut joined = new_sample("SP-03", &days_ago(1), "S6");
    joined["samplers"] = json!(["张伟; 刘洋", "王芳"]);
    app.post_json("/api/v1/samples", Some(TECH), &joined)
        .expect_error(422, "invalid_value");
    let mut long = new_sample("SP-03", &days_ago(1), "S4");
    long["samplers"] = json!(["x".repeat(101), "刘洋"]);
    app.post_json("/api/v1/samples", Some(TECH), &long)
        .expect_error(422, "invalid_value");
    // Prepared before it was sampled.
    let mut early = new_sample("SP-03", &days_ago(1), "S5");
    early["prepared_on"] = json!("1999-01-01");
    app.post_json("/api/v1/samples", Some(TECH), &early)
        .expect_error(422, "invalid_value");
    assert_unchanged(&app, id, &before);

    // Mad 60.00/60.00 is accepted (mean 60.00), then Aad 50.00/50.00 would be accepted too, but
    // Mad + Aad = 110 ≥ 100 % cannot be: the second Aad is refused and nothing of it is kept,
    // so the sample is not stuck with means no release can use.
    app.determine_all(id, TECH, "mad", &["60.00", "60.00"]);
    app.determine(id, TECH, "aad", json!("50.00")).expect(201);
    let before = snapshot(&app, id);
    app.determine(id, TECH, "aad", json!("50.00"))
        .expect_error(422, "impossible_result");
    assert_unchanged(&app, id, &before);

    // Codes must be plain: no path characters, and limits must be physical values.
    let supplier = json!({"code": "../x", "name": "n", "kind": "sale_point", "town": "t",
        "licence_no": "L-X", "jurisdiction_code": "cn-he-handan-demo"});
    app.post_json("/api/v1/suppliers", Some(ADMIN), &supplier)
        .expect_error(422, "invalid_value");
    // A right-to-left override in a supplier's name, town or licence number would make it
    // display as another in reports and CSV files.
    for (field, v) in [
        ("name", "x\u{202E}y"),
        ("town", "t\u{2066}"),
        ("licence_no", "L-\u{200F}9"),
    ] {
        let mut sp = json!({"code": "SP-91", "name": "n", "kind": "sale_point", "town": "t",
            "licence_no": "L-91", "jurisdiction_code": "cn-he-handan-demo"});
        sp[field] = json!(v);
        let msg = app
            .post_json("/api/v1/suppliers", Some(ADMIN), &sp)
            .expect_error(422, "invalid_value");
        assert!(msg.contains(field), "{msg}");
    }
    app.get("/api/v1/suppliers/SP-91", Some(ADMIN))
        .expect_error(404, "not_found");
    let set = json!({"id": "neg-1", "name": "n", "source": "s", "jurisdiction": "cn",
        "effective_from": "2025-01-01", "effective_to": null, "coal_categories": [],
        "limits": [{"parameter": "ad", "operator": "le", "value": "-1.00", "decimals": 2,
        "method": "full_value"}]});
    app.post_json("/api/v1/limit-sets", Some(ADMIN), &set)
        .expect_error(422, "invalid_limit_set");
    // The same supplier code twice in one file: refused, naming both rows, nothing imported.
    let csv = "code,name,kind,town,licence_no,jurisdiction_code\n\
               SP-90,A,sale_point,T,L-90,cn-he-handan-demo\n\
               SP-90,B,sale_point,T,L-91,cn-he-handan-demo\n";
    let msg = app
        .post_bytes(
            "/api/v1/import/suppliers",
            Some(ADMIN),
            "text/csv",
            csv.as_bytes().to_vec(),
        )
        .expect_error(422, "import_refused");
    assert!(
        msg.contains("row 3, column code") && msg.contains("row 2"),
        "{msg}"
    );
    app.get("/api/v1/suppliers/SP-90", Some(ADMIN))
        .expect_error(404, "not_found");
    // Codes differing only in letter case cannot be told apart by a reader: 'sp-02' beside the
    // demo's 'SP-02' is refused, by the API (409) and by an import (422, naming the row), and
    // so is such a pair within one file; nothing is created.
    let lower = json!({"code": "sp-02", "name": "n", "kind": "sale_point", "town": "t",
        "licence_no": "L-92", "jurisdiction_code": "cn-he-handan-demo"});
    let msg = app
        .post_json("/api/v1/suppliers", Some(ADMIN), &lower)
        .expect_error(409, "already_exists");
    assert!(msg.contains("'SP-02'"), "{msg}");
    // The same code exactly, or a licence number in use: 409 saying which.
    let mut same = lower.clone();
    same["code"] = json!("SP-02");
    let msg = app
        .post_json("/api/v1/suppliers", Some(ADMIN), &same)
        .expect_error(409, "already_exists");
    assert_eq!(msg, "supplier code 'SP-02' is already in use");
    let taken = app.get("/api/v1/suppliers/SP-03", Some(ADMIN)).expect(200)["licence_no"]
        .as_str()
        .unwrap()
        .to_string();
    let mut licence = lower.clone();
    licence["code"] = json!("SP-97");
    licence["licence_no"] = json!(taken);
    let msg = app
        .post_json("/api/v1/suppliers", Some(ADMIN), &licence)
        .expect_error(409, "already_exists");
    assert!(
        msg.ends_with("is already held by supplier 'SP-03'"),
        "{msg}"
    );
    // The same licence number in lower case is the same licence.
    licence["licence_no"] = json!(taken.to_lowercase());
    let msg = app
        .post_json("/api/v1/suppliers", Some(ADMIN), &licence)
        .expect_error(409, "already_exists");
    assert!(
        msg.contains("differs only in letter case") && msg.ends_with("supplier 'SP-03'"),
        "{msg}"
    );
    // Two rows of a suppliers file (after the header), refused: the message.
    let refused_import = |row2: &str, row3: &str| {
        let csv = format!("code,name,kind,town,licence_no,jurisdiction_code\n{row2}\n{row3}\n");
        app.post_bytes(
            "/api/v1/import/suppliers",
            Some(ADMIN),
            "text/csv",
            csv.into_bytes(),
        )
        .expect_error(422, "import_refused")
    };
    let msg = refused_import(
        "SP-93,A,sale_point,T,L-93,cn-he-handan-demo",
        "sp-03,B,sale_point,T,L-94,cn-he-handan-demo",
    );
    assert!(
        msg.contains("row 3, column code") && msg.contains("'SP-03'"),
        "{msg}"
    );
    let msg = refused_import(
        "SP-95,A,sale_point,T,L-95,cn-he-handan-demo",
        "sp-95,B,sale_point,T,L-96,cn-he-handan-demo",
    );
    assert!(
        msg.contains("row 3, column code") && msg.contains("row 2"),
        "{msg}"
    );
    // Licence numbers in any letter case, as on POST /suppliers: within the file, and against
    // a supplier already stored (SP-03 holds the licence `taken`).
    let msg = refused_import(
        "SP-91,A,sale_point,T,LN-1,cn-he-handan-demo",
        "SP-92,B,sale_point,T,ln-1,cn-he-handan-demo",
    );
    assert!(
        msg.contains("row 3, column licence_no") && msg.contains("differs only in letter case"),
        "{msg}"
    );
    let row = format!(
        "SP-92,B,sale_point,T,{},cn-he-handan-demo",
        taken.to_lowercase()
    );
    let msg = refused_import("SP-91,A,sale_point,T,LN-1,cn-he-handan-demo", &row);
    assert!(
        msg.contains("row 3, column licence_no") && msg.contains("'SP-03'"),
        "{msg}"
    );
    for code in [
        "sp-02", "SP-93", "sp-03", "SP-95", "sp-95", "SP-97", "SP-91", "SP-92",
    ] {
        app.get(&format!("/api/v1/suppliers/{code}"), Some(ADMIN))
            .expect_error(404, "not_found");
    }
}
both!(suspicious_values_are_refused => sqlite_suspicious_values_are_refused, pg_suspicious_values_are_refused);

/// A refused value is echoed shortened (40 characters and its length), so a pasted page of
/// text does not come back whole in the error (a 30-row file of 200 KB codes answered 6 MB).
fn long_values_are_echoed_shortened(backend: Backend) {
    let Some(app) = spawn_app(backend) else {
        return;
    };
    let long = "x".repeat(200_000);
    let msg = app
        .post_json(
            "/api/v1/suppliers",
            Some(ADMIN),
            &json!({"code": long, "name": "n", "kind": "sale_point", "town": "t",
                    "licence_no": "L-LONG", "jurisdiction_code": "cn-he-handan-demo"}),
        )
        .expect_error(422, "invalid_value");
    assert!(
        msg.len() < 300 && msg.contains("(200000 characters)"),
        "{}",
        &msg[..200.min(msg.len())]
    );
    let mut sample = new_sample("SP-01", &days_ago(1), "LONG1");
    sample["sampled_at"] = json!(long);
    let msg = app
        .post_json("/api/v1/samples", Some(TECH), &sample)
        .expect_error(422, "invalid_value");
    assert!(
        msg.len() < 300 && msg.contains("(200000 characters)"),
        "{}",
        &msg[..200.min(msg.len())]
    );
    let mut sample = new_sample("SP-01", &days_ago(1), "LONG2");
    sample["supplier_code"] = json!("S".repeat(100));
    let msg = app
        .post_json("/api/v1/samples", Some(TECH), &sample)
        .expect_error(422, "unknown_supplier");
    assert!(msg.contains("(100 characters)"), "{msg}");
}
both!(long_values_are_echoed_shortened => sqlite_long_values_are_echoed_shortened, pg_long_values_are_echoed_shortened);

/// A NUL byte (`%00`) in a path or query string: 400 before routing, on both backends alike
/// (PostgreSQL cannot compare a text with a NUL byte, which made these lookups a 500 there).
fn nul_bytes_are_refused(backend: Backend) {
    let Some(app) = spawn_app(backend) else {
        return;
    };
    let audit = app.audit_total();
    for (path, token) in [
        ("/api/v1/samples/DEMO%00", Some(TECH)),
        ("/api/v1/samples?supplier=SP%00", Some(REGULATOR)),
        ("/api/v1/audit?actor=%00", Some(AUDITOR)),
        ("/api/v1/reports/status?sample_code=%00", Some(REGULATOR)),
        ("/api/v1/calendars/cn%00", Some(ADMIN)),
        ("/verify/X%00?code=A", None),
        ("/ui/regulator/suppliers/%00", None),
    ] {
        let msg = app.get(path, token).expect_error(400, "bad_request");
        assert!(msg.contains("NUL byte"), "{path}: {msg}");
    }
    // "%2500" is the text "%00", not a NUL byte: an ordinary unknown sample.
    app.get("/api/v1/samples/DEMO%2500", Some(TECH))
        .expect_error(404, "not_found");
    // A username holding a NUL byte names nobody: the usual 401, not a database error.
    app.post_json(
        "/login",
        None,
        &json!({"username": "tech-wang\u{0}", "password": "tech-wang-demo-pass"}),
    )
    .expect_error(401, "unauthorized");
    assert_eq!(app.audit_total(), audit + 1, "one login.failed event");
}
both!(nul_bytes_are_refused => sqlite_nul_bytes_are_refused, pg_nul_bytes_are_refused);
