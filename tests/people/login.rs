//! Passwords, the login throttle, and the user commands of the CLI.

use super::*;

#[test]
fn login_failures_are_slowed_logged_and_cleared() {
    use coallab::service::users_session::{login, LoginOutcome};
    let t = fresh_db(Backend::Sqlite).unwrap();
    let p = seed(&t.db, t0());
    t.db.transaction(|tx| {
        coallab::service::users::set_password(
            tx,
            p.admin.id,
            "admin",
            "a much better secret",
            "cli",
            t0().timestamp_millis(),
        )
    })
    .unwrap();
    let t1 = t0() + Duration::hours(1);
    // Five wrong passwords within a second: the fifth locks "admin" for 1 000 ms.
    for i in 0..5 {
        let o = login(
            &t.db,
            "admin",
            "wrong",
            "10.0.0.1",
            t1 + Duration::milliseconds(i),
        )
        .unwrap();
        assert!(matches!(o, LoginOutcome::Refused), "{o:?}");
    }
    // Locked until t1 + 4 ms + 1 000 ms: at t1 + 504 ms even the right password waits 500 ms.
    let o = login(
        &t.db,
        "admin",
        "a much better secret",
        "10.0.0.2",
        t1 + Duration::milliseconds(504),
    )
    .unwrap();
    assert!(
        matches!(
            o,
            LoginOutcome::Throttled {
                retry_after_ms: 500
            }
        ),
        "{o:?}"
    );
    let o = login(
        &t.db,
        "admin",
        "a much better secret",
        "10.0.0.2",
        t1 + Duration::milliseconds(1004),
    )
    .unwrap();
    let LoginOutcome::Success(s) = o else {
        panic!("{o:?}")
    };
    assert_eq!(s.user.username, "admin");
    let failed: i64 =
        t.db.read(|tx| {
            Ok(with_tx!(tx, |c| audit_events::table
                .filter(audit_events::action.eq("login.failed"))
                .filter(audit_events::entity_id.eq("admin"))
                .count()
                .get_result(c))?)
        })
        .unwrap();
    assert_eq!(failed, 5);
    // The success cleared the username's counter: one more failure is not locked.
    let o = login(
        &t.db,
        "admin",
        "wrong",
        "10.0.0.3",
        t1 + Duration::seconds(2),
    )
    .unwrap();
    assert!(matches!(o, LoginOutcome::Refused));
    let o = login(
        &t.db,
        "admin",
        "a much better secret",
        "10.0.0.3",
        t1 + Duration::seconds(2),
    )
    .unwrap();
    assert!(matches!(o, LoginOutcome::Success(_)));
    // Unknown users: the same refusal as a wrong password.
    for name in ["nobody", "admin2"] {
        let o = login(&t.db, name, "whatever-password", "10.0.0.4", t1).unwrap();
        assert!(matches!(o, LoginOutcome::Refused));
    }
    // Samples untouched by any of this.
    let n: i64 =
        t.db.read(|tx| Ok(with_tx!(tx, |c| samples::table.count().get_result(c))?))
            .unwrap();
    assert_eq!(n, 0);
}

#[test]
fn cli_passwd_token_expiry_and_revocation() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], stdin: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_coallab"))
            .arg("--data-dir")
            .arg(dir.path())
            .args(args)
            .env_remove("DATABASE_URL")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };
    // Control and text-direction characters in a name are refused (U+202E would show
    // "boss\u{202E}nimda" as "bossadmin"): nothing is created.
    assert!(!run(&["user", "add", "boss\u{202E}nimda", "--role", "admin"], "").0);
    assert!(!run(&["user", "add", "boss\u{7}", "--role", "admin"], "").0);
    assert!(run(&["user", "add", "boss", "--role", "admin"], "").0);
    // 11 characters: refused.
    assert!(!run(&["user", "passwd", "boss"], "eleven-char\n").0);
    assert!(run(&["user", "passwd", "boss"], "twelve-chars\n").0);
    let (ok, token) = run(&["user", "token", "boss", "--expires", "2030-01-01"], "");
    assert!(ok);
    let token = token.trim().to_string();
    assert!(token.starts_with("clb_"));
    let db = Db::open_sqlite(&dir.path().join("coallab.db"), 2).unwrap();
    let now = Utc::now().timestamp_millis();
    let user = db
        .read(|tx| coallab::service::auth::authenticate(tx, &token, now))
        .unwrap();
    assert_eq!(user.username, "boss");
    // 2030-01-01T00:00:00Z = 1 893 456 000 000 ms: the token is dead from then on.
    assert!(db
        .read(|tx| coallab::service::auth::authenticate(tx, &token, 1_893_456_000_000))
        .is_err());
    let login =
        coallab::service::users_session::login(&db, "boss", "twelve-chars", "cli", Utc::now())
            .unwrap();
    assert!(matches!(
        login,
        coallab::service::users_session::LoginOutcome::Success(_)
    ));
    assert!(run(&["user", "revoke-tokens", "boss"], "").0);
    assert!(db
        .read(|tx| coallab::service::auth::authenticate(tx, &token, now))
        .is_err());
    // A technician needs a lab; disabling refuses the next sign-in.
    assert!(!run(&["user", "add", "tech-x", "--role", "technician"], "").0);
    assert!(run(&["user", "disable", "boss"], "").0);
    let login =
        coallab::service::users_session::login(&db, "boss", "twelve-chars", "cli", Utc::now())
            .unwrap();
    assert!(matches!(
        login,
        coallab::service::users_session::LoginOutcome::Refused
    ));
    let log: Vec<String> = db
        .read(|tx| {
            Ok(with_tx!(tx, |c| audit_events::table
                .order(audit_events::seq.asc())
                .select(audit_events::action)
                .load(c))?)
        })
        .unwrap();
    for a in [
        "user.add",
        "user.passwd",
        "token.issue",
        "login.success",
        "user.revoke_tokens",
        "user.disable",
    ] {
        assert!(log.iter().any(|x| x == a), "{a} not in {log:?}");
    }
}
