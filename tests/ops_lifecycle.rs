//! Server lifecycle (issue 9, item 4): settings validated at start with one clear line per
//! wrong value, `/health` and `/ready`, JSON logs whose lines carry the request id and never a
//! token or a password, and graceful shutdown on SIGTERM. The real binary, SQLite and PostgreSQL.

mod ops_support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ops_support::{client, run_cli, Backend, Fresh, Server, TECH};
use serde_json::Value;

#[test]
fn wrong_settings_are_each_named_at_start() {
    let fresh = Fresh::new(Backend::Sqlite).unwrap();
    let file = fresh.dir.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    let data = file.join("data").display().to_string();
    // Four wrong values at once: four lines.
    let (code, _, err) = run_cli(&[
        "--data-dir".into(),
        data.clone(),
        "serve".into(),
        "--bind".into(),
        "localhost-8080".into(),
        "--pool-size".into(),
        "0".into(),
        "--max-body-mb".into(),
        "0".into(),
    ]);
    assert_eq!(code, 2, "{err}");
    for needle in ["--bind", "--pool-size", "--data-dir", "--max-body-mb"] {
        assert!(err.contains(needle), "{needle} missing in: {err}");
    }
    assert_eq!(err.matches("\n  - ").count(), 4, "{err}");

    // A DATABASE_URL of another database: named, its password not shown.
    let (code, _, err) = run_cli(&[
        "--database-url".into(),
        "mysql://coal:hunter2-secret@db/lab".into(),
        "serve".into(),
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("DATABASE_URL must start with postgres://"),
        "{err}"
    );
    assert!(!err.contains("hunter2-secret"), "{err}");

    // An unreachable PostgreSQL (nothing listens on port 1): a clear error, no password.
    let (code, _, err) = run_cli(&[
        "--database-url".into(),
        "postgres://coal:hunter2-secret@127.0.0.1:1/lab".into(),
        "serve".into(),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot connect to PostgreSQL"), "{err}");
    assert!(!err.contains("hunter2-secret"), "{err}");
}

fn lifecycle(backend: Backend) {
    let Some(mut fresh) = Fresh::new(backend) else {
        return;
    };
    if let Some(url) = fresh.settings.database_url.clone() {
        // trust authentication ignores the password, so it can be a marker that must never be
        // logged or printed.
        let url = url.replacen(
            "postgres://postgres@",
            "postgres://postgres:pg-marker-secret@",
            1,
        );
        assert!(url.contains("pg-marker-secret"), "{url}");
        fresh.settings.database_url = Some(url);
    }
    {
        let db = fresh.open(2);
        coallab::service::demo::seed_demo_people(&db, chrono::Utc::now()).unwrap();
    }
    let log = fresh.dir.path().join("serve.log");
    let mut server = Server::start(
        &fresh,
        &[],
        &[("COALLAB_LOG_FORMAT", "json"), ("COALLAB_LOG", "info")],
        &log,
    );
    let c = client();

    let h: Value = c.get(server.url("/health")).send().unwrap().json().unwrap();
    assert_eq!(h["status"], "ok");
    let r: Value = c.get(server.url("/ready")).send().unwrap().json().unwrap();
    assert_eq!(r["status"], "ready");

    // A request id chosen by a proxy is kept; otherwise one is made up.
    let res = c
        .get(server.url("/api/v1/me"))
        .bearer_auth(TECH)
        .header("X-Request-Id", "ops-req-42")
        .send()
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.headers()["x-request-id"], "ops-req-42");
    let res = c
        .get(server.url("/api/v1/me"))
        .bearer_auth("not-a-real-token-but-secret")
        .header("X-Request-Id", "bad id with spaces")
        .send()
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    let made_up = res.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(made_up.len(), 16, "{made_up}");
    // A login with a password: the password must never reach the log.
    let res = c
        .post(server.url("/login"))
        .json(&serde_json::json!({"username": "tech-wang", "password": "login-marker-secret"}))
        .send()
        .unwrap();
    assert!(res.status().is_client_error());

    // Graceful shutdown: SIGTERM while a client keeps sending; every answer it got is whole
    // and successful, and the process exits 0 after saying so.
    let stop = Arc::new(AtomicBool::new(false));
    let base = server.address.clone();
    let flag = stop.clone();
    let load = std::thread::spawn(move || {
        let c = client();
        let mut ok = 0;
        for _ in 0..2000 {
            if flag.load(Ordering::Relaxed) {
                break;
            }
            match c
                .get(format!("{base}/api/v1/samples?per_page=5"))
                .bearer_auth(TECH)
                .send()
            {
                Ok(r) => {
                    assert_eq!(r.status().as_u16(), 200);
                    let v: Value = r.json().expect("a whole JSON body");
                    assert!(v["items"].is_array());
                    ok += 1;
                }
                Err(_) => break, // refused once the server stopped accepting
            }
        }
        ok
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    let status = server.terminate(40).expect("coallab exits after SIGTERM");
    stop.store(true, Ordering::Relaxed);
    let answered = load.join().expect("load thread");
    assert!(answered > 0);
    assert!(status.success(), "{status:?}");

    let text = server.log_text();
    assert!(text.contains("coallab stopped"), "{text}");
    let mut with_id = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        if line.contains("ops-req-42") {
            assert_eq!(v["span"]["request_id"], "ops-req-42", "{line}");
            with_id += 1;
        }
        for secret in [
            "demo-technician",
            "not-a-real-token-but-secret",
            "login-marker-secret",
            "pg-marker-secret",
            "Bearer",
        ] {
            assert!(!line.contains(secret), "{secret} logged: {line}");
        }
    }
    assert!(with_id >= 1, "no line with the request id:\n{text}");
    let access = text
        .lines()
        .find(|l| l.contains("ops-req-42") && l.contains("/api/v1/me"))
        .expect("access line of the request");
    let v: Value = serde_json::from_str(access).unwrap();
    assert_eq!(v["fields"]["status"], 200, "{access}");
    assert!(text.contains(&made_up), "made-up id logged too");
}

#[test]
fn sqlite_lifecycle_health_logs_shutdown() {
    lifecycle(Backend::Sqlite);
}

#[test]
fn pg_lifecycle_health_logs_shutdown() {
    lifecycle(Backend::Postgres);
}
