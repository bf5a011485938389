//! Liveness, readiness, the OpenAPI document, the JSON 404 and 405, and HEAD.

use crate::both;
use crate::helpers::*;

/// Every route registered in src/api/mod.rs (`configure`), written out by hand.
const ROUTES: [(&str, &str); 20] = [
    ("get", "/health"),
    ("get", "/ready"),
    ("get", "/api/v1/openapi.json"),
    ("get", "/api/v1/me"),
    ("get", "/api/v1/suppliers"),
    ("post", "/api/v1/suppliers"),
    ("get", "/api/v1/suppliers/{code}"),
    ("get", "/api/v1/jurisdictions"),
    ("get", "/api/v1/limit-sets"),
    ("post", "/api/v1/limit-sets"),
    ("get", "/api/v1/calendars/{code}"),
    ("post", "/api/v1/import/{kind}"),
    ("get", "/api/v1/samples"),
    ("post", "/api/v1/samples"),
    ("get", "/api/v1/samples/{key}"),
    ("post", "/api/v1/samples/{key}/determinations"),
    ("post", "/api/v1/samples/{key}/result-received"),
    ("post", "/api/v1/samples/{key}/{action}"),
    ("get", "/api/v1/audit"),
    ("get", "/api/v1/audit/verify"),
];

fn health_and_openapi(backend: Backend) {
    let Some(app) = spawn_app(backend) else {
        return;
    };
    assert_eq!(app.get("/health", None).expect(200)["status"], "ok");
    assert_eq!(app.get("/ready", None).expect(200)["status"], "ready");

    let doc = app.get("/api/v1/openapi.json", None).expect(200);
    assert!(
        doc["openapi"].as_str().unwrap_or("").starts_with("3."),
        "not an OpenAPI 3 document"
    );
    let paths = doc["paths"].as_object().expect("paths");
    let mut missing = Vec::new();
    for (method, path) in ROUTES {
        // The document describes itself implicitly; every other route must be in it.
        if path == "/api/v1/openapi.json" {
            continue;
        }
        if paths.get(path).and_then(|p| p.get(method)).is_none() {
            missing.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    assert!(
        missing.is_empty(),
        "routes missing from openapi.json: {missing:?}"
    );
    // Who am I.
    let me = app.get("/api/v1/me", Some(TECH2)).expect(200);
    assert_eq!(
        (me["username"].as_str(), me["role"].as_str()),
        (Some("tech-li"), Some("technician"))
    );
    // Unknown endpoints answer JSON too.
    app.get("/api/v1/nothing-here", Some(TECH))
        .expect_error(404, "not_found");
    // A known path with a method it does not take: 405 with the methods it does (RFC 9110
    // §15.5.6), for a fixed path and for a path with a parameter.
    let client = reqwest::blocking::Client::new();
    for (method, path, allow) in [
        (
            reqwest::Method::DELETE,
            "/api/v1/samples",
            "GET, HEAD, POST",
        ),
        (reqwest::Method::PUT, "/api/v1/suppliers/SP-01", "GET, HEAD"),
        (
            reqwest::Method::GET,
            "/api/v1/samples/1/determinations",
            "POST",
        ),
        (reqwest::Method::PATCH, "/health", "GET, HEAD"),
        // A fixed path beside a pattern: `/samples/{key}/{action}` takes POSTs, but not this
        // one (before, it answered 404 "no such sample action: revisions").
        (
            reqwest::Method::POST,
            "/api/v1/samples/1/revisions",
            "GET, HEAD",
        ),
        (reqwest::Method::OPTIONS, "/api/v1/samples/1/submit", "POST"),
    ] {
        let r = client
            .request(method.clone(), format!("{}{path}", app.address))
            .bearer_auth(TECH)
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 405, "{method} {path}");
        assert_eq!(r.headers()["allow"], allow, "{method} {path}");
        let body: serde_json::Value = r.json().unwrap();
        assert_eq!(body["error"], "method_not_allowed", "{body}");
    }
    // A pattern still takes what no fixed path beside it serves: an unknown action is a 404
    // of the action handler, a known one goes on to the sample (404: there is no sample 999999).
    let msg = app
        .post_json(
            "/api/v1/samples/1/explode",
            Some(TECH),
            &serde_json::json!({"version": 1}),
        )
        .expect_error(404, "not_found");
    assert!(msg.contains("no such sample action"), "{msg}");
    app.post_json(
        "/api/v1/samples/999999/submit",
        Some(TECH),
        &serde_json::json!({"version": 1}),
    )
    .expect_error(404, "not_found");
    // HEAD is answered as GET, without the body: the same status and length.
    let get = client
        .get(format!("{}/api/v1/suppliers/SP-01", app.address))
        .bearer_auth(REGULATOR)
        .send()
        .unwrap();
    let head = client
        .head(format!("{}/api/v1/suppliers/SP-01", app.address))
        .bearer_auth(REGULATOR)
        .send()
        .unwrap();
    assert_eq!((head.status().as_u16(), get.status().as_u16()), (200, 200));
    assert_eq!(
        head.headers()["content-length"],
        get.headers()["content-length"]
    );
    assert!(head.bytes().unwrap().is_empty());
    // A test report's first view issues its verification code (an audit event): HEAD there
    // is refused, not answered as a GET that writes.
    let head = client
        .head(format!(
            "{}/api/v1/reports/documents/NO-SUCH-I1",
            app.address
        ))
        .bearer_auth(REGULATOR)
        .send()
        .unwrap();
    assert_eq!(head.status().as_u16(), 405);
    assert_eq!(head.headers()["allow"], "GET");
    // The web pages answer HEAD as GET too (they were 404 and 405): the sign-in page and `/`.
    for path in ["/ui/login", "/"] {
        let get = client.get(format!("{}{path}", app.address)).send().unwrap();
        let head = client
            .head(format!("{}{path}", app.address))
            .send()
            .unwrap();
        assert_eq!(head.status(), get.status(), "{path}");
        assert_eq!(
            head.headers().get("content-length"),
            get.headers().get("content-length"),
            "{path}"
        );
        assert!(head.bytes().unwrap().is_empty(), "{path}");
    }
    let head = client
        .head(format!("{}/ui/login", app.address))
        .send()
        .unwrap();
    assert_eq!(head.status().as_u16(), 200);
}
both!(health_and_openapi => sqlite_health_and_openapi, pg_health_and_openapi);

/// Every route of src/api/mod.rs (`r.get("…", …)`, `r.get_without_head`, `r.post`) as
/// (method, full path), read from the source itself (white space removed, so that a call
/// rustfmt splits over lines counts too) so that a route added later cannot be forgotten in
/// openapi.json.
fn routes_in_source() -> Vec<(String, String)> {
    let squashed: String = include_str!("../../src/api/mod.rs")
        .split_whitespace()
        .collect();
    let mut out = Vec::new();
    for (call, method) in [
        ("get", "get"),
        ("get_without_head", "get"),
        ("post", "post"),
    ] {
        for chunk in squashed.split(&format!("r.{call}(\"")).skip(1) {
            let path = chunk.split('"').next().expect("route path");
            out.push((method.to_string(), path.to_string()));
        }
    }
    out
}

/// The OpenAPI document lists every route registered in src/api/mod.rs, itself included.
///
/// BUG (minor, src/api/openapi.json): `GET /api/v1/openapi.json` is registered in
/// src/api/mod.rs but is not in the document's "paths".
fn openapi_describes_every_registered_route(backend: Backend) {
    let Some(app) = spawn_app(backend) else {
        return;
    };
    let registered = routes_in_source();
    // The parse itself is checked against the hand-written list.
    for (method, path) in ROUTES {
        assert!(
            registered.contains(&(method.to_string(), path.to_string())),
            "{method} {path} not found in src/api/mod.rs (parsed: {registered:?})"
        );
    }
    let doc = app.get("/api/v1/openapi.json", None).expect(200);
    let missing: Vec<String> = registered
        .iter()
        .filter(|(m, p)| doc["paths"][p.as_str()][m.as_str()].is_null())
        .map(|(m, p)| format!("{} {p}", m.to_uppercase()))
        .collect();
    assert!(
        missing.is_empty(),
        "registered but not in openapi.json: {missing:?}"
    );
}
both!(openapi_describes_every_registered_route => sqlite_openapi_describes_every_registered_route, pg_openapi_describes_every_registered_route);
