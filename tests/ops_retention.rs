//! Retained samples over time (issue 9, item 5), on SQLite and PostgreSQL: the retention period
//! is configuration (default 90 days, global, per jurisdiction), the release sets each sample's
//! discard date, `GET /api/v1/retained-samples/due` lists those whose date has come, and
//! `POST …/discard-retained` refuses while the appeal window or a retest is open and records the
//! discard with an audit event.

mod ops_support;

use ops_support::{client, new_sample, run_cli, Backend, Fresh, Server, AUDITOR, REVIEWER, TECH};
use serde_json::{json, Value};

const COUNTY: &str = "cn-he-handan-demo";
const REGULATOR: &str = "demo-regulator";

fn post(c: &reqwest::blocking::Client, url: String, token: &str, body: Value) -> (u16, Value) {
    let r = c.post(url).bearer_auth(token).json(&body).send().unwrap();
    (r.status().as_u16(), r.json().unwrap_or(Value::Null))
}

/// Registers, tests and releases a sample with the given St,ad pair; returns (code, version).
fn released(
    server: &Server,
    c: &reqwest::blocking::Client,
    i: usize,
    st: [&str; 2],
) -> (String, i64) {
    let (s, v) = post(c, server.url("/api/v1/samples"), TECH, new_sample(i));
    assert_eq!(s, 201, "{v}");
    let code = v["sample_code"].as_str().unwrap().to_string();
    let u = |p: &str| server.url(&format!("/api/v1/samples/{code}/{p}"));
    for (version, a) in [(1, "receive"), (2, "start")] {
        assert_eq!(post(c, u(a), TECH, json!({"version": version})).0, 200);
    }
    for (a, x) in [
        ("mad", "2.10"),
        ("mad", "2.16"),
        ("aad", "10.02"),
        ("aad", "10.10"),
        ("st_ad", st[0]),
        ("st_ad", st[1]),
    ] {
        let (s, v) = post(
            c,
            u("determinations"),
            TECH,
            json!({"analysis": a, "value": x}),
        );
        assert_eq!(s, 201, "{v}");
    }
    assert_eq!(post(c, u("submit"), TECH, json!({"version": 3})).0, 200);
    let (s, v) = post(c, u("release"), REVIEWER, json!({"version": 4}));
    assert_eq!(s, 200, "{v}");
    (code, v["version"].as_i64().unwrap())
}

fn due(server: &Server, c: &reqwest::blocking::Client, on: &str) -> Vec<Value> {
    let v: Value = c
        .get(server.url(&format!("/api/v1/retained-samples/due?on={on}")))
        .bearer_auth(TECH)
        .send()
        .unwrap()
        .json()
        .unwrap();
    v["items"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("{v}"))
}

fn retention(backend: Backend) {
    let Some(fresh) = Fresh::new(backend) else {
        return;
    };
    let db = fresh.open(2);
    coallab::service::demo::seed_demo_people(&db, chrono::Utc::now()).unwrap();
    // The period: 90 days by default, then the global row, then the nearest jurisdiction's.
    let days = |db: &coallab::db::Db| {
        db.read(|tx| coallab::service::retention::keep_days(tx, COUNTY))
            .unwrap()
    };
    assert_eq!(days(&db), (90, "default".to_string()));
    drop(db);
    let mut args = fresh.args();
    args.extend(["retention", "set", "45", "--source", "lab procedure QP-07"].map(String::from));
    assert_eq!(run_cli(&args).0, 0);
    let db = fresh.open(1);
    assert_eq!(days(&db), (45, "*".to_string()));
    drop(db);
    // The county keeps retained samples 0 days after release, so they are due today.
    let mut args = fresh.args();
    args.extend(
        [
            "retention",
            "set",
            "0",
            "--jurisdiction",
            COUNTY,
            "--source",
            "test",
        ]
        .map(String::from),
    );
    assert_eq!(run_cli(&args).0, 0);
    let db = fresh.open(1);
    assert_eq!(days(&db), (0, COUNTY.to_string()));
    drop(db);

    let log = fresh.dir.path().join("serve.log");
    let server = Server::start(&fresh, &[], &[], &log);
    let c = client();
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    let today_s = today.to_string();

    // A: passes (St,d = 0.51 × 100 / 97.87 = 0.521… < 1.00), closed at release: due today.
    let (a, a_version) = released(&server, &c, 1, ["0.50", "0.52"]);
    // B: fails (St,d = 0.99 × 100 / 97.87 = 1.0115… ≥ 1.00, loose-coal clause): appeal pending.
    let (b, b_version) = released(&server, &c, 2, ["0.98", "1.00"]);
    let yesterday = (today - chrono::Duration::days(1)).to_string();
    assert!(
        due(&server, &c, &yesterday).is_empty(),
        "nothing is due before its date"
    );
    let items = due(&server, &c, &today_s);
    let find =
        |items: &[Value], code: &str| items.iter().find(|i| i["sample_code"] == code).cloned();
    let ia = find(&items, &a).expect("A due");
    assert_eq!(ia["retained_discard_on"], today_s);
    assert_eq!(ia["may_discard"], true);
    assert_eq!(ia["retained_seal_no"], "B-OPS-1");
    let ib = find(&items, &b).expect("B due");
    assert_eq!(ib["may_discard"], false);
    assert_eq!(ib["blocked_by"], "appeal_window_open");

    let discard = |code: &str, version: i64, reason: &str| {
        post(
            &c,
            server.url(&format!("/api/v1/samples/{code}/discard-retained")),
            TECH,
            json!({"version": version, "reason": reason}),
        )
    };
    // B: refused while the appeal window has not started, while it is open, and during a retest.
    let (s, v) = discard(&b, b_version, "routine");
    assert_eq!(
        (s, v["error"].as_str()),
        (409, Some("appeal_window_open")),
        "{v}"
    );
    let (s, v) = post(
        &c,
        server.url(&format!("/api/v1/samples/{b}/result-received")),
        REGULATOR,
        json!({"version": b_version, "received_at": chrono::Utc::now().to_rfc3339()}),
    );
    assert_eq!(s, 200, "{v}");
    let b_version = v["version"].as_i64().unwrap();
    let (s, v) = discard(&b, b_version, "routine");
    assert_eq!(
        (s, v["error"].as_str()),
        (409, Some("appeal_window_open")),
        "{v}"
    );
    assert!(v["message"].as_str().unwrap().contains("open until"), "{v}");
    let (s, v) = post(
        &c,
        server.url(&format!("/api/v1/samples/{b}/request_retest")),
        REGULATOR,
        json!({"version": b_version, "retained_seal_no": "B-OPS-2", "retained_condition": "intact"}),
    );
    assert_eq!(s, 200, "{v}");
    let b_version = v["version"].as_i64().unwrap();
    let (s, v) = discard(&b, b_version, "routine");
    assert_eq!((s, v["error"].as_str()), (409, Some("retest_open")), "{v}");

    // A: a stale version is refused, a missing reason too, then the discard is recorded.
    assert_eq!(discard(&a, a_version - 1, "x").0, 409);
    assert_eq!(discard(&a, a_version, "  ").0, 422);
    // The reason goes into the audit trail: no control or text-direction characters.
    let (s, v) = discard(
        &a,
        a_version,
        "done\u{0}\u{1b}[31m \u{202E}forged\r\nINFO x",
    );
    assert_eq!(
        (s, v["error"].as_str()),
        (422, Some("invalid_value")),
        "{v}"
    );
    let (s, v) = discard(
        &a,
        a_version,
        "discarded with witness rev-zhao, log book p. 12",
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["version"].as_i64(), Some(a_version + 1));
    let (s, v) = discard(&a, a_version + 1, "again");
    assert_eq!(
        (s, v["error"].as_str()),
        (409, Some("already_discarded")),
        "{v}"
    );
    assert!(
        find(&due(&server, &c, &today_s), &a).is_none(),
        "a discarded sample leaves the list"
    );

    let ev: Value = c
        .get(server.url("/api/v1/audit?action=sample.discard_retained"))
        .bearer_auth(AUDITOR)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let items = ev["items"].as_array().unwrap_or_else(|| panic!("{ev}"));
    assert_eq!(items.len(), 1, "{ev}");
    assert_eq!(items[0]["entity_id"], a);
    assert_eq!(
        items[0]["reason"],
        "discarded with witness rev-zhao, log book p. 12"
    );

    // The page cap holds here too; the regulator may not see the custody list.
    let r = c
        .get(server.url("/api/v1/retained-samples/due?per_page=201"))
        .bearer_auth(TECH)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let r = c
        .get(server.url("/api/v1/retained-samples/due"))
        .bearer_auth(REGULATOR)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let db = fresh.open(1);
    assert!(coallab::service::audit::verify(&db).unwrap().ok);
}

#[test]
fn sqlite_retained_samples_due_and_discard() {
    retention(Backend::Sqlite);
}

#[test]
fn pg_retained_samples_due_and_discard() {
    retention(Backend::Postgres);
}
