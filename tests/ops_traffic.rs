//! Bad traffic (issue 9, item 3): oversized JSON and raw bodies (413), JSON nested past the
//! depth limit (400), a page size over the cap (422), a request head that never ends (408), and
//! per-client rate limits on login and writes (429 with Retry-After). Each gets a JSON error
//! body and the server keeps serving. The real binary, on SQLite and on PostgreSQL, with low
//! limits set explicitly.

mod ops_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use ops_support::{client, Backend, Fresh, Server, ADMIN, TECH};
use serde_json::{json, Value};

fn error_of(r: reqwest::blocking::Response) -> (u16, Value) {
    let s = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = r.text().unwrap_or_default();
    assert!(
        ct.starts_with("application/json"),
        "{s}: not JSON ({ct}): {body}"
    );
    (s, serde_json::from_str(&body).expect("JSON error body"))
}

fn nested(depth: usize) -> String {
    format!(
        "{{\"analysis\":\"mad\",\"value\":{}{}}}",
        "[".repeat(depth),
        "]".repeat(depth)
    )
}

fn bad_traffic(backend: Backend) {
    let Some(fresh) = Fresh::new(backend) else {
        return;
    };
    {
        let db = fresh.open(2);
        coallab::service::demo::seed_demo_people(&db, chrono::Utc::now()).unwrap();
    }
    let log = fresh.dir.path().join("serve.log");
    let server = Server::start(
        &fresh,
        &[
            "--rate-login-per-minute",
            "3",
            "--rate-writes-per-minute",
            "25",
            "--max-body-mb",
            "1",
            "--request-timeout-secs",
            "1",
        ],
        &[],
        &log,
    );
    let c = client();
    let health = |c: &reqwest::blocking::Client| {
        assert_eq!(
            c.get(server.url("/health"))
                .send()
                .unwrap()
                .status()
                .as_u16(),
            200
        )
    };

    // Page size over the cap of 200: 422 (reads are never rate limited).
    let (s, v) = error_of(
        c.get(server.url("/api/v1/samples?per_page=500"))
            .bearer_auth(TECH)
            .send()
            .unwrap(),
    );
    assert_eq!(
        (s, v["error"].as_str()),
        (422, Some("invalid_value")),
        "{v}"
    );
    assert!(v["message"].as_str().unwrap().contains("200"));

    // JSON nested deeper than serde_json's limit of 128: a clear 400, twice, the second one
    // 100 000 levels deep (a stack overflow would kill the process).
    for depth in [200, 100_000] {
        let (s, v) = error_of(
            c.post(server.url("/api/v1/samples/ANY/determinations"))
                .bearer_auth(TECH)
                .header("content-type", "application/json")
                .body(nested(depth))
                .send()
                .unwrap(),
        );
        assert_eq!(s, 400, "{v}");
        assert_eq!(v["error"], "json_too_deep", "{v}");
        assert!(v["message"].as_str().unwrap().contains("128"), "{v}");
    }
    health(&c);

    // A JSON body over 256 KiB: 413.
    let big = json!({"supplier_code": "x".repeat(300 * 1024)});
    let (s, v) = error_of(
        c.post(server.url("/api/v1/samples"))
            .bearer_auth(TECH)
            .json(&big)
            .send()
            .unwrap(),
    );
    assert_eq!(
        (s, v["error"].as_str()),
        (413, Some("payload_too_large")),
        "{v}"
    );

    // A raw CSV import over --max-body-mb 1: 413 with the JSON error body.
    let csv = format!(
        "code,name,kind,town,licence_no,jurisdiction_code\n{}",
        "SP-X,name,sale_point,town,LIC,cn\n".repeat(40_000)
    );
    assert!(csv.len() > 1024 * 1024);
    let (s, v) = error_of(
        c.post(server.url("/api/v1/import/suppliers"))
            .bearer_auth(ADMIN)
            .header("content-type", "text/csv")
            .body(csv)
            .send()
            .unwrap(),
    );
    assert_eq!(
        (s, v["error"].as_str()),
        (413, Some("payload_too_large")),
        "{v}"
    );
    health(&c);

    // A request head that never ends: 408 after --request-timeout-secs 1.
    let addr = server.address.trim_start_matches("http://").to_string();
    let mut tcp = TcpStream::connect(&addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    tcp.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let mut buf = [0u8; 64];
    let n = tcp.read(&mut buf).unwrap();
    let head = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(head.starts_with("HTTP/1.1 408"), "{head:?}");

    // Login: 3 a minute per client; the 4th is refused before the password is even checked.
    for i in 0..3 {
        let r = c
            .post(server.url("/login"))
            .json(&json!({"username": format!("nobody-{i}"), "password": "wrong password 1"}))
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 401, "attempt {i}");
    }
    let r = c
        .post(server.url("/login"))
        .json(&json!({"username": "nobody-3", "password": "wrong password 1"}))
        .send()
        .unwrap();
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // One token comes back every 60/3 = 20 s.
    assert!((1..=20).contains(&retry), "{retry}");
    let (s, v) = error_of(r);
    assert_eq!((s, v["error"].as_str()), (429, Some("rate_limited")), "{v}");

    // Writes: 25 a minute per client. 4 were spent above (2 deep JSON, 1 big JSON, 1 CSV; the
    // login bucket is separate), so 21 more pass and the 22nd (i = 21) gets 429.
    let mut limited = None;
    for i in 0..30 {
        let r = c
            .post(server.url("/api/v1/samples/NO-SUCH/receive"))
            .bearer_auth(TECH)
            .json(&json!({"version": 1}))
            .send()
            .unwrap();
        if r.status().as_u16() == 429 {
            limited = Some((i, r));
            break;
        }
        assert_eq!(r.status().as_u16(), 404);
    }
    let (i, r) = limited.expect("writes are rate limited");
    assert_eq!(i, 21, "25 writes a minute, 4 spent before");
    assert!(r.headers().contains_key("retry-after"));
    let (_, v) = error_of(r);
    assert_eq!(v["error"], "rate_limited");
    // X-Forwarded-For is not trusted by default: it cannot buy a fresh bucket.
    let r = c
        .post(server.url("/api/v1/samples/NO-SUCH/receive"))
        .bearer_auth(TECH)
        .header("X-Forwarded-For", "203.0.113.7")
        .json(&json!({"version": 1}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    // Reads still pass, and the server is alive.
    assert_eq!(
        c.get(server.url("/api/v1/me"))
            .bearer_auth(TECH)
            .send()
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    health(&c);
}

#[test]
fn sqlite_bad_traffic_is_refused_clearly() {
    bad_traffic(Backend::Sqlite);
}

#[test]
fn pg_bad_traffic_is_refused_clearly() {
    bad_traffic(Backend::Postgres);
}
