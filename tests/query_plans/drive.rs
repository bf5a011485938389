//! Driving the request paths that change data over HTTP: sign-in, registration, the whole
//! workflow of a failing sample with retest and amendment, closes, rejects, cancels, retained
//! samples, CSV imports. The read paths are in [`crate::reads`].

use coallab::db::Db;
use serde_json::{json, Value};

use crate::fill::exec;
use crate::{phase, route};

pub const TECH: &str = "demo-technician";
pub const TECH2: &str = "demo-technician-2";
pub const REVIEWER: &str = "demo-reviewer";
pub const REVIEWER2: &str = "plan-reviewer-2";
pub const REGULATOR: &str = "demo-regulator";
pub const AUDITOR: &str = "demo-auditor";
pub const ADMIN: &str = "demo-admin";

pub struct Client {
    pub base: String,
    pub http: reqwest::blocking::Client,
}

pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Answer {
    #[track_caller]
    pub fn ok(self) -> Value {
        assert!(
            (200..300).contains(&self.status),
            "HTTP {}: {}",
            self.status,
            self.body
        );
        self.body
    }
}

impl Client {
    pub fn send(&self, method: &str, path: &str, rb: reqwest::blocking::RequestBuilder) -> Answer {
        phase(&format!("{method} {}", route(path)));
        let r = rb.send().expect("HTTP request");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r.bytes().expect("body");
        Answer {
            status,
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            headers,
        }
    }

    pub fn get(&self, path: &str, token: &str) -> Answer {
        let rb = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(token);
        self.send("GET", path, rb)
    }

    pub fn post(&self, path: &str, token: &str, body: &Value) -> Answer {
        let rb = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(body);
        self.send("POST", path, rb)
    }

    pub fn version(&self, key: &str) -> i64 {
        self.get(&format!("/api/v1/samples/{key}"), REVIEWER).ok()["version"]
            .as_i64()
            .expect("version")
    }

    pub fn act(&self, key: &str, action: &str, token: &str, extra: Value) -> Value {
        let mut body = json!({ "version": self.version(key) });
        if let (Some(b), Value::Object(e)) = (body.as_object_mut(), extra) {
            b.extend(e);
        }
        self.post(&format!("/api/v1/samples/{key}/{action}"), token, &body)
            .ok()
    }

    pub fn determine(&self, key: &str, token: &str, analysis: &str, values: &[&str]) {
        for v in values {
            self.post(
                &format!("/api/v1/samples/{key}/determinations"),
                token,
                &json!({"analysis": analysis, "value": v}),
            )
            .ok();
        }
    }

    pub fn register(&self, seal: &str, supplier: &str) -> Value {
        self.post(
            "/api/v1/samples",
            TECH,
            &json!({
                "supplier_code": supplier, "samplers": ["张伟", "刘洋"],
                "sampled_at": (chrono::Utc::now() - chrono::Duration::hours(3)).to_rfc3339(),
                "coal_category": "无烟块煤", "test_seal_no": format!("T-{seal}"),
                "retained_seal_no": format!("B-{seal}"), "lot_no": "LOT-PLAN",
            }),
        )
        .ok()
    }

    /// Registers, receives, starts and tests a sample (Mad, Aad, St,ad) and submits it.
    pub fn tested(&self, seal: &str, supplier: &str, st_ad: [&str; 2]) -> String {
        let code = self.register(seal, supplier)["sample_code"]
            .as_str()
            .expect("code")
            .to_string();
        self.act(&code, "receive", TECH, Value::Null);
        self.act(&code, "start", TECH, Value::Null);
        self.determine(&code, TECH, "mad", &["2.10", "2.16"]);
        self.determine(&code, TECH, "aad", &["15.02", "15.37", "15.20"]);
        self.determine(&code, TECH, "st_ad", &st_ad);
        self.act(&code, "submit", TECH, Value::Null);
        code
    }
}

/// Drives every request path that changes data, then [`reads`], as each role.
pub fn drive(c: &Client, db: &Db) {
    // Health, identity, reference data.
    for (p, t) in [
        ("/health", TECH),
        ("/ready", TECH),
        ("/api/v1/me", TECH),
        ("/api/v1/suppliers", REGULATOR),
        ("/api/v1/suppliers/SP-04", REGULATOR),
        ("/api/v1/jurisdictions", REGULATOR),
        ("/api/v1/limit-sets", REGULATOR),
        ("/api/v1/calendars/cn", REGULATOR),
    ] {
        c.get(p, t).ok();
    }

    // Browser sign-in: a failed login, a good one, a request with the cookie, logout.
    let login = |user: &str, password: &str| {
        let rb = c
            .http
            .post(format!("{}/login", c.base))
            .json(&json!({"username": user, "password": password}));
        c.send("POST", "/login", rb)
    };
    assert_eq!(login("reg-chen", "wrong password").status, 401);
    assert_eq!(login("nobody", "wrong password").status, 401);
    let ok = login("reg-chen", "reg-chen-demo-pass");
    assert_eq!(ok.status, 200, "{}", ok.body);
    let cookie = ok
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("coallab_session="))
        .and_then(|v| v.split(';').next())
        .expect("session cookie")
        .to_string();
    let csrf = ok.body["csrf_token"].as_str().expect("csrf").to_string();
    let rb = c
        .http
        .get(format!("{}/api/v1/samples?verdict=fail", c.base))
        .header("Cookie", &cookie);
    assert_eq!(
        c.send("GET", "/api/v1/samples?verdict=fail", rb).status,
        200
    );
    let rb = c
        .http
        .post(format!("{}/logout", c.base))
        .header("Cookie", &cookie)
        .header("X-CSRF-Token", &csrf);
    assert_eq!(c.send("POST", "/logout", rb).status, 204);

    // Registration with an idempotency key, and its repeat.
    let body = json!({
        "supplier_code": "SP-04", "samplers": ["张伟", "刘洋"],
        "sampled_at": (chrono::Utc::now() - chrono::Duration::hours(2)).to_rfc3339(),
        "test_seal_no": "T-PLAN-IDEM", "retained_seal_no": "B-PLAN-IDEM",
    });
    let rb = c
        .http
        .post(format!("{}/api/v1/samples", c.base))
        .bearer_auth(TECH)
        .header("Idempotency-Key", "plan-idem-1")
        .json(&body);
    let first = c.send("POST", "/api/v1/samples", rb).ok();
    let rb = c
        .http
        .post(format!("{}/api/v1/samples", c.base))
        .bearer_auth(TECH)
        .header("Idempotency-Key", "plan-idem-1")
        .json(&body);
    let again = c.send("POST", "/api/v1/samples", rb).ok();
    assert_eq!(first["id"], again["id"]);
    // A reused seal is refused.
    let rb = c
        .http
        .post(format!("{}/api/v1/samples", c.base))
        .bearer_auth(TECH)
        .json(&body);
    assert_eq!(c.send("POST", "/api/v1/samples", rb).status, 409);

    // A failing sample through the whole workflow: return, release, receipt, retest, amendment.
    // St,ad 0.98/1.00 → St,d 1.0115 ≥ 1.00 fails the loose-coal clause (README tour).
    let s1 = c.tested("PLAN-1", "SP-04", ["0.98", "1.00"]);
    let lab_code = c.get(&format!("/api/v1/samples/{s1}"), TECH).ok()["lab_code"]
        .as_str()
        .expect("lab code")
        .to_string();
    c.get(&format!("/api/v1/samples/{lab_code}"), TECH).ok();
    c.act(&s1, "return", REVIEWER, json!({"reason": "check Aad"}));
    c.act(&s1, "submit", TECH, Value::Null);
    let released = c.act(&s1, "release", REVIEWER, Value::Null);
    assert_eq!(released["final_verdict"], "fail", "{released}");
    let id1 = released["id"].as_i64().expect("id");
    c.get(&format!("/api/v1/samples/{id1}"), REGULATOR).ok();
    c.act(
        &s1,
        "result-received",
        REGULATOR,
        json!({"received_at": chrono::Utc::now().to_rfc3339()}),
    );
    c.act(
        &s1,
        "request_retest",
        REGULATOR,
        json!({"retained_seal_no": "B-PLAN-1", "retained_condition": "intact", "reason": "appeal"}),
    );
    c.determine(&s1, TECH2, "mad", &["2.00", "2.00"]);
    c.determine(&s1, TECH2, "aad", &["12.10", "12.20"]);
    c.determine(&s1, TECH2, "st_ad", &["0.89", "0.91"]);
    c.act(&s1, "submit", TECH2, Value::Null);
    let closed = c.act(&s1, "release", REVIEWER, Value::Null);
    assert_eq!(closed["state"], "closed", "{closed}");
    // The retest report's code is issued now; after the amendment it names its replacement.
    let r1_code = c
        .get(
            &format!("/api/v1/reports/documents/{s1}-R1?format=json"),
            REGULATOR,
        )
        .ok()["verification_code"]
        .as_str()
        .expect("code")
        .to_string();
    let proposed = c
        .post(
            &format!("/api/v1/samples/{s1}/amendments"),
            REVIEWER,
            &json!({"version": c.version(&s1), "stage": "retest", "reason": "transcription error",
                    "determinations": [{"analysis": "aad", "values": ["12.12", "12.20"]}]}),
        )
        .ok();
    c.post(
        &format!("/api/v1/samples/{s1}/amendments/release"),
        REVIEWER2,
        &json!({"version": c.version(&s1), "stage": "retest", "revision": proposed["revision"]}),
    )
    .ok();
    c.get(&format!("/api/v1/samples/{s1}/revisions"), REGULATOR)
        .ok();

    // Reports on this sample: status, the test report documents and their public verification.
    c.get(
        &format!("/api/v1/reports/status?sample_code={s1}"),
        REGULATOR,
    )
    .ok();
    let report_no = format!("{s1}-R2");
    c.get(
        &format!("/api/v1/reports/status?report_no={report_no}"),
        REGULATOR,
    )
    .ok();
    // The replaced report R1 still names its sample (as /verify still accepts it); the
    // stages show the current number R2.
    let replaced = c
        .get(
            &format!("/api/v1/reports/status?report_no={s1}-R1"),
            REGULATOR,
        )
        .ok();
    assert_eq!(replaced["sample_code"], s1.as_str(), "{replaced}");
    assert!(replaced.to_string().contains(&report_no), "{replaced}");
    let doc = c
        .get(
            &format!("/api/v1/reports/documents/{report_no}?format=json"),
            REGULATOR,
        )
        .ok();
    let code = doc["verification_code"].as_str().expect("code").to_string();
    c.get(
        &format!("/api/v1/reports/documents/{s1}-I1?format=html"),
        AUDITOR,
    )
    .ok();
    c.get(
        &format!("/api/v1/reports/documents/{report_no}?format=pdf"),
        REVIEWER,
    )
    .ok();
    let rb = c.http.get(format!(
        "{}/verify/{report_no}?code={code}&format=json",
        c.base
    ));
    assert_eq!(
        c.send("GET", "/verify/{report_no}?code=&format=", rb)
            .status,
        200
    );
    let rb = c.http.get(format!(
        "{}/verify/{s1}-R1?code={r1_code}&format=json",
        c.base
    ));
    let replaced = c.send("GET", "/verify/{report_no}?code=&format=", rb).ok();
    assert_eq!(replaced["replaced_by"], report_no.as_str(), "{replaced}");

    // A passing sample (closes on release), a failing one closed after its window, a rejected
    // and a cancelled one.
    let s2 = c.tested("PLAN-2", "SP-02", ["0.48", "0.50"]);
    c.act(&s2, "release", REVIEWER, Value::Null);
    let s3 = c.tested("PLAN-3", "SP-03", ["0.98", "1.00"]);
    c.act(&s3, "release", REVIEWER, Value::Null);
    c.act(
        &s3,
        "result-received",
        REGULATOR,
        json!({"received_at": chrono::Utc::now().to_rfc3339()}),
    );
    phase("(test setup)");
    exec(
        db,
        &format!(
            "UPDATE samples SET result_received_at = {}, appeal_closes_at = {} \
             WHERE sample_code = '{s3}'",
            (chrono::Utc::now() - chrono::Duration::days(40)).timestamp_millis(),
            (chrono::Utc::now() - chrono::Duration::days(20)).timestamp_millis()
        ),
    );
    c.act(
        &s3,
        "close",
        REVIEWER,
        json!({"reason": "appeal window over"}),
    );
    let s4 = c.register("PLAN-4", "SP-05")["sample_code"]
        .as_str()
        .unwrap()
        .to_string();
    c.act(&s4, "reject", TECH, json!({"reason": "broken seal"}));
    let s5 = c.register("PLAN-5", "SP-06")["sample_code"]
        .as_str()
        .unwrap()
        .to_string();
    c.act(&s5, "receive", TECH, Value::Null);
    c.act(&s5, "cancel", REVIEWER, json!({"reason": "withdrawn"}));

    // Retained samples due for discard, and a discard.
    let due = c
        .get(
            "/api/v1/retained-samples/due?on=2027-12-31&per_page=200",
            TECH,
        )
        .ok();
    c.get("/api/v1/retained-samples/due?page=2&per_page=5", AUDITOR)
        .ok();
    let item = due["items"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["may_discard"] == true))
        .expect("a retained sample that may be discarded");
    c.post(
        &format!("/api/v1/samples/{}/discard-retained", item["id"]),
        TECH,
        &json!({"version": item["version"], "reason": "retention period over"}),
    )
    .ok();

    // A CSV import of samples (and its repeat), and of suppliers.
    let csv = "supplier_code,sampled_at,samplers,test_seal_no,retained_seal_no,mad,aad,st_ad\n\
               SP-01,2026-11-28T09:30:00+08:00,张伟;刘洋,T-PLAN-CSV1,B-PLAN-CSV1,2.10;2.16,12.10;12.32;12.20,0.48;0.50\n\
               SP-05,2026-11-28T10:15:00+08:00,张伟;刘洋,T-PLAN-CSV2,B-PLAN-CSV2,1.95;2.05,14.20,0.71;0.73\n";
    for _ in 0..2 {
        let rb = c
            .http
            .post(format!("{}/api/v1/import/samples", c.base))
            .bearer_auth(TECH)
            .header("Content-Type", "text/csv")
            .body(csv);
        assert_eq!(
            c.send("POST", "/api/v1/import/samples", rb).status,
            200,
            "samples import"
        );
    }
    let rb = c
        .http
        .post(format!("{}/api/v1/import/suppliers", c.base))
        .bearer_auth(ADMIN)
        .header("Content-Type", "text/csv")
        .body(
            "code,name,kind,town,licence_no,jurisdiction_code\n\
             SP-PLAN,测试,sale_point,东关镇 Dongguan,T-PLAN,cn-he-handan-demo\n",
        );
    let a = c.send("POST", "/api/v1/import/suppliers", rb);
    assert_eq!(a.status, 200, "{}", a.body);
    c.post(
        "/api/v1/suppliers",
        ADMIN,
        &json!({"code": "SP-PLAN2", "name": "测试二", "kind": "sale_point", "town": "东关镇 Dongguan",
                "licence_no": "T-PLAN2", "jurisdiction_code": "cn-he-handan-demo"}),
    )
    .ok();

    crate::reads::reads(c, db, id1);
}
