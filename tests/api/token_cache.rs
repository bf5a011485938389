//! The status lookup's memory of checked API tokens (src/api/token_cache.rs, docs/api.md
//! "Authentication"): a token revoked elsewhere (another server, the CLI: here the service
//! function on the same database, as they call it) still opens the status lookup until the
//! memory's time runs out, while every other endpoint refuses it at once; with
//! `--token-cache-ms 0` the status lookup refuses it at once too. (That a revocation on the
//! server itself is forgotten at once is checked in tests/web.rs, through the admin's form.)

use coallab::ops::settings::ServeLimits;
use coallab::service::users::revoke_tokens;
use coallab::service::users_admin::user_by_name;

use crate::both;
use crate::helpers::*;

/// Revokes every token of `username` straight in the database, as `coallab user
/// revoke-tokens` run on another machine would.
fn revoke_elsewhere(app: &TestApp, username: &str) {
    let now = chrono::Utc::now().timestamp_millis();
    let n = app
        .db
        .transaction(|tx| {
            let user = user_by_name(tx, username)?;
            revoke_tokens(tx, user.id, username, "cli", now)
        })
        .expect("revoke");
    assert_eq!(n, 1, "the demo regulator has one token");
}

/// A released sample's code, and the status lookup's path for it.
fn released_lookup(app: &TestApp, seal: &str) -> String {
    let id = app.released_sample(
        TECH,
        "SP-06",
        &days_ago(1),
        seal,
        ["2.78", "2.82"],
        ["14.10", "14.20"],
        ["0.90", "0.92"],
    );
    let code = app.sample(id, TECH)["sample_code"]
        .as_str()
        .expect("sample_code")
        .to_string();
    format!("/api/v1/reports/status?sample_code={code}")
}

fn revoked_elsewhere(backend: Backend) {
    // 10 s: far longer than the test takes, so the memory is certain to be used.
    let limits = ServeLimits {
        token_cache_ms: 10_000,
        ..ServeLimits::default()
    };
    let Some(app) = spawn_app_with(backend, limits) else {
        return;
    };
    let lookup = released_lookup(&app, "TC1");
    let me = app.get("/api/v1/me", Some(REGULATOR)).expect(200);
    let username = me["username"].as_str().unwrap().to_string();
    // An unknown token is never remembered: 401 each time.
    app.get(&lookup, Some("no-such-token"))
        .expect_error(401, "unauthorized");
    app.get(&lookup, Some("no-such-token"))
        .expect_error(401, "unauthorized");
    // The lookup checks the regulator's token and remembers it.
    let s = app.get(&lookup, Some(REGULATOR)).expect(200);
    // St,d = 0.91 × 100 / (100 − 2.80) = 0.94 % and Ad = 14.15 × 100 / 97.20 = 14.56 % pass
    // the demo limits: released and closed at once.
    assert_eq!(s["effective_state"], "closed");

    revoke_elsewhere(&app, &username);
    // Every other endpoint reads the token each time: refused at once.
    app.get("/api/v1/me", Some(REGULATOR))
        .expect_error(401, "unauthorized");
    app.get("/api/v1/reports/suppliers", Some(REGULATOR))
        .expect_error(401, "unauthorized");
    // The status lookup trusts its check of a moment ago (within 10 s): still 200.
    app.get(&lookup, Some(REGULATOR)).expect(200);

    // Without the memory, the status lookup refuses a token revoked elsewhere at once.
    let off = ServeLimits {
        token_cache_ms: 0,
        ..ServeLimits::default()
    };
    let Some(app) = spawn_app_with(backend, off) else {
        return;
    };
    let lookup = released_lookup(&app, "TC2");
    app.get(&lookup, Some(REGULATOR)).expect(200);
    revoke_elsewhere(&app, &username);
    app.get(&lookup, Some(REGULATOR))
        .expect_error(401, "unauthorized");
}

both!(revoked_elsewhere => sqlite_token_revoked_elsewhere, pg_token_revoked_elsewhere);
