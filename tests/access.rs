//! PEOPLE (issue 4): every endpoint × every role (and no credentials) against the one
//! authorization table (src/api/access.rs), over real HTTP; and browser sessions: login by
//! JSON or form, the cookie's attributes, CSRF on state-changing requests, logout, throttling.
//!
//! The route list below must name every route registered in src/api/mod.rs: the test reads that
//! file and fails when a route is missing here (add it with its `Endpoint` and a valid body).

mod people_support;

use coallab::api::access::{roles_for, Endpoint};
use coallab::domain::terms::Role;
use people_support::{spawn, Backend, TestServer};
use serde_json::{json, Value};

/// (role, demo bearer token) from src/service/demo.rs `DEMO_USERS`.
const ROLES: [(Role, &str); 5] = [
    (Role::Technician, "demo-technician"),
    (Role::Reviewer, "demo-reviewer"),
    (Role::Regulator, "demo-regulator"),
    (Role::Auditor, "demo-auditor"),
    (Role::Admin, "demo-admin"),
];

/// Who may call a route.
#[derive(Debug, Clone, Copy)]
enum Guard {
    /// No credentials needed.
    Public,
    /// The roles of this entry of the authorization table.
    Table(Endpoint),
}

struct Route {
    method: &'static str,
    /// As written in src/api/mod.rs (inside the /api/v1 scope unless it starts at the root).
    literal: &'static str,
    /// A concrete URL to call.
    url: &'static str,
    guard: Guard,
    body: Option<Value>,
}

fn r(method: &'static str, literal: &'static str, url: &'static str, guard: Guard) -> Route {
    Route {
        method,
        literal,
        url,
        guard,
        body: None,
    }
}

fn sample_body() -> Value {
    json!({
        "supplier_code": "SP-01", "samplers": ["张伟", "刘洋"], "sampled_at": "2026-03-02T01:00:00Z",
        "test_seal_no": "T-ACCESS-1", "retained_seal_no": "B-ACCESS-1"
    })
}

/// Every route with the guard the table gives it. Unknown sample keys make allowed calls end in
/// 404 (after the role check) instead of changing anything.
fn routes() -> Vec<Route> {
    use Endpoint::*;
    use Guard::*;
    let with = |mut route: Route, body: Value| {
        route.body = Some(body);
        route
    };
    vec![
        r("get", "/health", "/health", Public),
        r("get", "/ready", "/ready", Public),
        r(
            "get",
            "/verify/{report_no}",
            "/verify/NO-SUCH?format=json",
            Public,
        ),
        r("post", "/login", "/login", Public),
        r("post", "/logout", "/logout", Public),
        r("get", "/openapi.json", "/api/v1/openapi.json", Public),
        r("get", "/me", "/api/v1/me", Table(Me)),
        r(
            "get",
            "/suppliers",
            "/api/v1/suppliers",
            Table(ReadSuppliers),
        ),
        with(
            r(
                "post",
                "/suppliers",
                "/api/v1/suppliers",
                Table(WriteReference),
            ),
            json!({"code": "SP-ACC", "name": "Access Test Point", "kind": "sale_point",
                   "town": "东关镇 Dongguan", "licence_no": "ACC-1", "jurisdiction_code": "cn-he-handan-demo"}),
        ),
        r(
            "get",
            "/suppliers/{code}",
            "/api/v1/suppliers/SP-01",
            Table(ReadSuppliers),
        ),
        r(
            "get",
            "/suppliers/{code}/stats",
            "/api/v1/suppliers/SP-01/stats",
            Table(ReadStats),
        ),
        r(
            "get",
            "/suppliers/{code}/chart.svg",
            "/api/v1/suppliers/SP-01/chart.svg",
            Table(ReadStats),
        ),
        r(
            "get",
            "/suppliers/{code}/chart.png",
            "/api/v1/suppliers/SP-01/chart.png",
            Table(ReadStats),
        ),
        r(
            "get",
            "/stats/ranking",
            "/api/v1/stats/ranking",
            Table(ReadStats),
        ),
        r(
            "get",
            "/charts/comparison.svg",
            "/api/v1/charts/comparison.svg",
            Table(ReadStats),
        ),
        r(
            "get",
            "/charts/comparison.png",
            "/api/v1/charts/comparison.png",
            Table(ReadStats),
        ),
        r(
            "get",
            "/jurisdictions",
            "/api/v1/jurisdictions",
            Table(ReadReference),
        ),
        r(
            "get",
            "/limit-sets",
            "/api/v1/limit-sets",
            Table(ReadReference),
        ),
        with(
            r(
                "post",
                "/limit-sets",
                "/api/v1/limit-sets",
                Table(WriteReference),
            ),
            json!({"id": "access-test", "name": "access test", "source": "tests/access.rs",
                   "jurisdiction": "cn-he-handan-demo", "effective_from": "2030-01-01",
                   "effective_to": null, "coal_categories": [],
                   "limits": [{"parameter": "ad", "operator": "le", "value": "40.00",
                               "decimals": 2, "method": "full_value"}]}),
        ),
        r(
            "get",
            "/calendars/{code}",
            "/api/v1/calendars/cn",
            Table(ReadReference),
        ),
        with(
            r(
                "post",
                "/import/{kind}",
                "/api/v1/import/suppliers",
                Table(WriteReference),
            ),
            Value::String("code,name,kind,town,licence_no,jurisdiction_code\n".into()),
        ),
        r("get", "/samples", "/api/v1/samples", Table(ReadSamples)),
        with(
            r("post", "/samples", "/api/v1/samples", Table(RegisterSample)),
            sample_body(),
        ),
        r(
            "get",
            "/samples/{key}",
            "/api/v1/samples/NO-SUCH",
            Table(ReadSamples),
        ),
        with(
            r(
                "post",
                "/samples/{key}/determinations",
                "/api/v1/samples/NO-SUCH/determinations",
                Table(EnterDetermination),
            ),
            json!({"analysis": "mad", "value": "2.00"}),
        ),
        with(
            r(
                "post",
                "/samples/{key}/result-received",
                "/api/v1/samples/NO-SUCH/result-received",
                Table(RecordResultReceived),
            ),
            json!({"version": 1, "received_at": "2026-03-10T02:00:00Z"}),
        ),
        with(
            r(
                "post",
                "/samples/{key}/amendments",
                "/api/v1/samples/NO-SUCH/amendments",
                Table(Amend),
            ),
            json!({"version": 1, "stage": "initial_test", "reason": "typo",
                   "determinations": [{"analysis": "aad", "values": ["12.00", "12.10"]}]}),
        ),
        with(
            r(
                "post",
                "/samples/{key}/amendments/release",
                "/api/v1/samples/NO-SUCH/amendments/release",
                Table(Amend),
            ),
            json!({"version": 1, "stage": "initial_test", "revision": 2}),
        ),
        r(
            "get",
            "/samples/{key}/revisions",
            "/api/v1/samples/NO-SUCH/revisions",
            Table(ReadSamples),
        ),
        with(
            r(
                "post",
                "/samples/{key}/discard-retained",
                "/api/v1/samples/NO-SUCH/discard-retained",
                Table(DiscardRetained),
            ),
            json!({"version": 1, "reason": "retention period over"}),
        ),
        r(
            "get",
            "/retained-samples/due",
            "/api/v1/retained-samples/due",
            Table(ReadRetained),
        ),
        with(
            r(
                "post",
                "/samples/{key}/{action}",
                "/api/v1/samples/NO-SUCH/receive",
                Table(SampleAction),
            ),
            json!({"version": 1}),
        ),
        r("get", "/audit", "/api/v1/audit", Table(ReadAudit)),
        r(
            "get",
            "/audit/verify",
            "/api/v1/audit/verify",
            Table(ReadAudit),
        ),
        r(
            "get",
            "/reports/status",
            "/api/v1/reports/status",
            Table(RegulatorReports),
        ),
        r(
            "get",
            "/reports/suppliers",
            "/api/v1/reports/suppliers",
            Table(RegulatorReports),
        ),
        r(
            "get",
            "/reports/non-compliant",
            "/api/v1/reports/non-compliant",
            Table(RegulatorReports),
        ),
        r(
            "get",
            "/reports/documents/{report_no}",
            "/api/v1/reports/documents/NO-SUCH",
            Table(ReportDocument),
        ),
        r(
            "get",
            "/reports/tat",
            "/api/v1/reports/tat",
            Table(TatReport),
        ),
        r(
            "get",
            "/reports/overdue",
            "/api/v1/reports/overdue",
            Table(TatReport),
        ),
    ]
}

/// (method, literal) of every `r.get("…", …)`, `r.get_without_head("…", …)` and
/// `r.post("…", …)` in src/api/mod.rs (the
/// route table of src/api/routes.rs), with the `/api/v1` prefix taken off as in [`routes`].
fn registered_routes() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/api/mod.rs"))
        .expect("read src/api/mod.rs");
    let squashed: String = text.split_whitespace().collect();
    for other in ["web::scope(", "web::resource(", ".route(", ".service("] {
        assert!(
            !squashed.contains(other),
            "src/api/mod.rs registers a route with {other}: teach tests/access.rs to read it"
        );
    }
    let mut out = Vec::new();
    for (call, method) in [
        ("get", "get"),
        ("get_without_head", "get"),
        ("post", "post"),
    ] {
        for chunk in squashed.split(&format!("r.{call}(\"")).skip(1) {
            let (literal, _) = chunk.split_once('"').expect("route literal");
            let literal = literal.strip_prefix("/api/v1").unwrap_or(literal);
            out.push((method.to_string(), literal.to_string()));
        }
    }
    out
}

#[test]
fn the_route_list_covers_every_registered_route() {
    let mut registered = registered_routes();
    let mut listed: Vec<(String, String)> = routes()
        .iter()
        .map(|r| (r.method.to_string(), r.literal.to_string()))
        .collect();
    registered.sort();
    listed.sort();
    assert_eq!(
        registered, listed,
        "tests/access.rs must list exactly the routes of src/api/mod.rs"
    );
}

fn call(
    client: &reqwest::blocking::Client,
    app: &TestServer,
    route: &Route,
    token: Option<&str>,
) -> u16 {
    let url = format!("{}{}", app.address, route.url);
    let mut rb = match route.method {
        "get" => client.get(url),
        "post" => client.post(url),
        "put" => client.put(url),
        "patch" => client.patch(url),
        "delete" => client.delete(url),
        other => panic!("method {other}"),
    };
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    rb = match &route.body {
        Some(Value::String(raw)) => rb.body(raw.clone()),
        Some(v) => rb.json(v),
        None if route.method != "get" => rb.json(&json!({})),
        None => rb,
    };
    rb.send().expect("HTTP").status().as_u16()
}

fn every_endpoint_with_every_role(backend: Backend) {
    let Some(app) = spawn(backend) else { return };
    let client = reqwest::blocking::Client::new();
    let mut failures = Vec::new();
    for route in routes() {
        let Guard::Table(endpoint) = route.guard else {
            continue;
        };
        // No credentials: 401 on every guarded endpoint.
        let status = call(&client, &app, &route, None);
        if status != 401 {
            failures.push(format!(
                "{} {} without credentials: {status}, want 401",
                route.method, route.url
            ));
        }
        let status = call(&client, &app, &route, Some("clb_not_a_token"));
        if status != 401 {
            failures.push(format!(
                "{} {} with a bad token: {status}, want 401",
                route.method, route.url
            ));
        }
        for (role, token) in ROLES {
            let status = call(&client, &app, &route, Some(token));
            let allowed = roles_for(endpoint).contains(&role);
            let ok = if allowed {
                status != 401 && status != 403
            } else {
                status == 403
            };
            if !ok {
                failures.push(format!(
                    "{} {} as {role}: {status}, want {}",
                    route.method,
                    route.url,
                    if allowed {
                        "allowed (not 401/403)"
                    } else {
                        "403"
                    }
                ));
            }
        }
    }
    // Public GET endpoints answer without credentials (login and logout: see below).
    for route in routes() {
        if matches!(route.guard, Guard::Public) && route.method == "get" {
            let status = call(&client, &app, &route, None);
            if status == 401 || status == 403 {
                failures.push(format!("GET {} without credentials: {status}", route.url));
            }
        }
    }
    for url in ["/health", "/ready", "/api/v1/openapi.json"] {
        let s = client
            .get(format!("{}{url}", app.address))
            .send()
            .unwrap()
            .status();
        if s != 200 {
            failures.push(format!("GET {url} without credentials: {s}, want 200"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn sqlite_every_endpoint_with_every_role() {
    every_endpoint_with_every_role(Backend::Sqlite);
}

#[test]
fn pg_every_endpoint_with_every_role() {
    every_endpoint_with_every_role(Backend::Postgres);
}

fn session_cookie(resp: &reqwest::blocking::Response) -> (String, String) {
    let set = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("coallab_session="))
        .expect("session cookie");
    let pair = set.split(';').next().unwrap().to_string();
    (pair, set)
}

#[test]
fn browser_session_with_csrf_and_logout() {
    let app = spawn(Backend::Sqlite).unwrap();
    let c = reqwest::blocking::Client::new();
    let url = |p: &str| format!("{}{p}", app.address);
    // Wrong password: 401, no cookie.
    let resp = c
        .post(url("/login"))
        .json(&json!({"username": "rev-zhao", "password": "not the password"}))
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    assert!(resp.headers().get("set-cookie").is_none());
    // JSON login with the demo password.
    let resp = c
        .post(url("/login"))
        .json(&json!({"username": "rev-zhao", "password": "rev-zhao-demo-pass"}))
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let (cookie, attrs) = session_cookie(&resp);
    for a in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(attrs.contains(a), "{attrs} lacks {a}");
    }
    assert!(
        !attrs.contains("Secure"),
        "Secure only with COALLAB_COOKIE_SECURE: {attrs}"
    );
    let body: Value = resp.json().unwrap();
    let csrf = body["csrf_token"].as_str().unwrap().to_string();
    assert_eq!(body["user"]["username"], "rev-zhao");
    // Reads need no CSRF token.
    let me: Value = c
        .get(url("/api/v1/me"))
        .header("Cookie", &cookie)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        (me["username"].as_str(), me["role"].as_str()),
        (Some("rev-zhao"), Some("reviewer"))
    );
    // A state-changing request by cookie: 403 without or with a wrong token, 201 with it.
    let post = |token: Option<&str>| {
        let mut rb = c
            .post(url("/api/v1/samples"))
            .header("Cookie", &cookie)
            .json(&sample_body());
        if let Some(t) = token {
            rb = rb.header("X-CSRF-Token", t);
        }
        rb.send().unwrap().status().as_u16()
    };
    assert_eq!(post(None), 403);
    assert_eq!(post(Some(&"0".repeat(64))), 403);
    assert_eq!(post(Some(&csrf)), 201);
    // A bearer request needs no CSRF token.
    let s = c
        .post(url("/api/v1/samples"))
        .bearer_auth("demo-technician")
        .json(
            &json!({"supplier_code": "SP-01", "samplers": ["张伟", "刘洋"],
                      "sampled_at": "2026-03-02T01:00:00Z",
                      "test_seal_no": "T-ACCESS-2", "retained_seal_no": "B-ACCESS-2"}),
        )
        .send()
        .unwrap()
        .status();
    assert_eq!(s.as_u16(), 201);
    // Logout needs the token too (here as a form field), then the cookie is dead.
    let s = c
        .post(url("/logout"))
        .header("Cookie", &cookie)
        .send()
        .unwrap()
        .status();
    assert_eq!(s.as_u16(), 403);
    let resp = c
        .post(url("/logout"))
        .header("Cookie", &cookie)
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    assert!(session_cookie(&resp).1.contains("Max-Age=0"));
    let s = c
        .get(url("/api/v1/me"))
        .header("Cookie", &cookie)
        .send()
        .unwrap()
        .status();
    assert_eq!(s.as_u16(), 401);
    // A form login works as well.
    let resp = c
        .post(url("/login"))
        .form(&[("username", "aud-liu"), ("password", "aud-liu-demo-pass")])
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let (cookie, _) = session_cookie(&resp);
    // The auditor's session sees the failed login and the logout in the audit trail.
    let events: Value = c
        .get(url("/api/v1/audit?per_page=200"))
        .header("Cookie", &cookie)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let actions: Vec<&str> = events["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for a in ["login.failed", "login.success", "logout"] {
        assert!(actions.contains(&a), "{a} not in {actions:?}");
    }
}

#[test]
fn a_locked_out_username_gets_429_even_with_the_right_password() {
    use coallab::db::schema::login_throttle;
    use coallab::with_tx;
    let app = spawn(Backend::Sqlite).unwrap();
    // Lock "reg-chen" for an hour, as the throttle does after 5 + 12 failures (capped at 15 min;
    // an hour here so that the test cannot outlive it).
    let until = chrono::Utc::now().timestamp_millis() + 3_600_000;
    app.db
        .transaction(|tx| {
            Ok(with_tx!(tx, |c| diesel::insert_into(
                login_throttle::table
            )
            .values((
                login_throttle::key.eq("user:reg-chen"),
                login_throttle::failures.eq(17),
                login_throttle::last_failed_at.eq(until - 3_600_000),
                login_throttle::locked_until.eq(until),
            ))
            .execute(c))?)
        })
        .unwrap();
    let resp = reqwest::blocking::Client::new()
        .post(format!("{}/login", app.address))
        .json(&json!({"username": "reg-chen", "password": "reg-chen-demo-pass"}))
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    let retry: i64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((3500..=3600).contains(&retry), "{retry}");
    let body: Value = resp.json().unwrap();
    assert_eq!(body["error"], "too_many_attempts");
}

/// A regulator or auditor cannot see a sample before its first release (GET answers 404), so a
/// write they try on it must not tell them more: the same 404 and text as the GET, before any
/// state or version check, and nothing changes (the sample stays at version 1).
#[test]
fn writes_reveal_nothing_of_an_unreleased_sample() {
    let Some(app) = spawn(Backend::Sqlite) else {
        return;
    };
    let client = reqwest::blocking::Client::new();
    let mut body = sample_body();
    body["test_seal_no"] = json!("T-HIDDEN-1");
    body["retained_seal_no"] = json!("B-HIDDEN-1");
    let created: Value = client
        .post(format!("{}/api/v1/samples", app.address))
        .bearer_auth("demo-technician")
        .json(&body)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let code = created["sample_code"]
        .as_str()
        .expect("sample_code")
        .to_string();
    let hidden = |method: &str, path: String, token: &str, body: Value| {
        let url = format!("{}/api/v1/samples/{code}{path}", app.address);
        let rb = match method {
            "get" => client.get(url),
            _ => client.post(url).json(&body),
        };
        let resp = rb.bearer_auth(token).send().unwrap();
        let status = resp.status().as_u16();
        let answer: Value = resp.json().unwrap();
        (status, answer)
    };
    let (status, read) = hidden("get", String::new(), "demo-regulator", json!(null));
    assert_eq!(status, 404, "{read}");
    let writes = [
        (
            "/result-received",
            json!({"version": 1, "received_at": "2026-03-03T01:00:00Z"}),
        ),
        ("/request_retest", json!({"version": 1, "reason": "appeal"})),
        ("/close", json!({"version": 1})),
        (
            "/request_retest",
            json!({"version": 7, "reason": "a wrong version"}),
        ),
    ];
    for token in ["demo-regulator", "demo-auditor"] {
        for (path, body) in &writes {
            let (status, answer) = hidden("post", path.to_string(), token, body.clone());
            // The auditor may not write at all, nor may a regulator close (403 before the sample
            // is read: it says nothing about the sample).
            let want = if token == "demo-auditor" || *path == "/close" {
                403
            } else {
                404
            };
            assert_eq!(status, want, "{token} {path}: {answer}");
            if want == 404 {
                assert_eq!(answer, read, "{token} {path} answers as the GET does");
            }
        }
    }
    let (status, own) = hidden("get", String::new(), "demo-technician", json!(null));
    assert_eq!((status, own["version"].as_i64()), (200, Some(1)), "{own}");
}
