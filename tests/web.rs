//! The web interface (issue 7) over real HTTP: every page with every role (and with nobody
//! signed in) against the authorization table, HTML error pages instead of JSON, CSRF on forms,
//! the language switch, and the bench flow of a technician through plain HTML forms (the
//! server's precision decision on the page at once).

mod people_support;

use coallab::api::access::{roles_for, Endpoint};
use coallab::domain::lifecycle::Action;
use coallab::domain::terms::Role;
use coallab::service::workflow::ActionRequest;
use people_support::{act, spawn, tested_sample, Backend, TestServer, FAILING};

/// (role, user name) of the demo people; passwords are `<user>-demo-pass`.
const PEOPLE: [(Role, &str); 5] = [
    (Role::Technician, "tech-wang"),
    (Role::Reviewer, "rev-zhao"),
    (Role::Regulator, "reg-chen"),
    (Role::Auditor, "aud-liu"),
    (Role::Admin, "admin"),
];

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .expect("client")
}

/// A signed-in browser: the session cookie, its CSRF token (read from the page) and the
/// language cookie.
struct Browser {
    base: String,
    session: String,
    lang: Option<&'static str>,
    /// The one-shot message cookie a POST set (a browser sends it with the next page).
    flash: std::cell::RefCell<Option<String>>,
    client: reqwest::blocking::Client,
}

struct Page {
    status: u16,
    location: Option<String>,
    content_type: String,
    body: String,
}

impl Browser {
    fn sign_in(server: &TestServer, user: &str) -> Browser {
        let client = client();
        let r = client
            .post(format!("{}/ui/login", server.address))
            .form(&[
                ("username", user),
                ("password", &format!("{user}-demo-pass")),
                ("next", "/ui/"),
            ])
            .send()
            .expect("login");
        assert_eq!(r.status().as_u16(), 303, "login of {user}");
        assert_eq!(r.headers()["location"], "/ui/");
        let session = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| c.strip_prefix("coallab_session="))
            .and_then(|c| c.split(';').next())
            .expect("session cookie")
            .to_string();
        Browser {
            base: server.address.clone(),
            session,
            lang: None,
            flash: Default::default(),
            client,
        }
    }

    fn cookies(&self) -> String {
        let mut c = format!("coallab_session={}", self.session);
        if let Some(l) = self.lang {
            c.push_str(&format!("; lang={l}"));
        }
        if let Some(f) = self.flash.take() {
            c.push_str(&format!("; coallab_flash={f}"));
        }
        c
    }

    fn get(&self, path: &str) -> Page {
        page(
            self.client
                .get(format!("{}{path}", self.base))
                .header("Cookie", self.cookies())
                .send()
                .expect("GET"),
        )
    }

    fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .header("Cookie", self.cookies())
            .form(form)
            .send()
            .expect("POST");
        let flash = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| c.strip_prefix("coallab_flash="))
            .and_then(|c| c.split(';').next())
            .map(str::to_string);
        *self.flash.borrow_mut() = flash;
        page(r)
    }

    /// The CSRF token of the page's forms.
    fn csrf(&self) -> String {
        let body = self.get("/ui/").body;
        let marker = "name=\"csrf_token\" value=\"";
        let at = body.find(marker).expect("a form with the CSRF token") + marker.len();
        body[at..].split('"').next().expect("token").to_string()
    }
}

fn page(r: reqwest::blocking::Response) -> Page {
    Page {
        status: r.status().as_u16(),
        location: r
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        content_type: r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string(),
        body: r.text().expect("body"),
    }
}

/// Every page of `coallab::web::PAGES`, with the roles that must see it, written out here by
/// hand (the test also checks the table says the same).
fn expected() -> Vec<(&'static str, Endpoint, Vec<Role>)> {
    use Role::*;
    vec![
        (
            "/ui/",
            Endpoint::UiHome,
            vec![Technician, Reviewer, Regulator, Auditor, Admin],
        ),
        ("/ui/lab", Endpoint::UiLab, vec![Technician, Reviewer]),
        (
            "/ui/lab/register",
            Endpoint::UiLab,
            vec![Technician, Reviewer],
        ),
        (
            "/ui/lab/samples/{key}",
            Endpoint::UiLab,
            vec![Technician, Reviewer],
        ),
        ("/ui/review", Endpoint::UiReview, vec![Reviewer]),
        (
            "/ui/regulator",
            Endpoint::UiOversight,
            vec![Regulator, Auditor, Admin],
        ),
        (
            "/ui/regulator/samples/{key}",
            Endpoint::UiOversight,
            vec![Regulator, Auditor, Admin],
        ),
        (
            "/ui/regulator/suppliers/{code}",
            Endpoint::UiOversight,
            vec![Regulator, Auditor, Admin],
        ),
        ("/ui/audit/tat", Endpoint::UiAudit, vec![Auditor, Admin]),
        ("/ui/audit/trail", Endpoint::UiAudit, vec![Auditor, Admin]),
        ("/ui/audit/chain", Endpoint::UiAudit, vec![Auditor, Admin]),
        ("/ui/admin/limit-sets", Endpoint::UiAdmin, vec![Admin]),
        ("/ui/admin/suppliers", Endpoint::UiAdmin, vec![Admin]),
        ("/ui/admin/users", Endpoint::UiAdmin, vec![Admin]),
        ("/ui/admin/calendars", Endpoint::UiAdmin, vec![Admin]),
    ]
}

fn every_page_with_every_role(backend: Backend) {
    let Some(server) = spawn(backend) else {
        return;
    };
    let p = &server.people;
    // A released failing sample of SP-01: the lab and the regulator both may open it.
    let id = tested_sample(&server.db, &p.tech, &FAILING, 1);
    act(
        &server.db,
        &p.reviewer,
        id,
        Action::Release,
        ActionRequest::default(),
        people_support::local(2026, 3, 5, 10, 0),
    )
    .expect("release");

    let listed: Vec<&str> = coallab::web::PAGES.iter().map(|(_, p)| *p).collect();
    let mine: Vec<&str> = expected().iter().map(|(p, _, _)| *p).collect();
    assert_eq!(
        listed, mine,
        "tests/web.rs must walk exactly coallab::web::PAGES"
    );

    let browsers: Vec<(Role, Browser)> = PEOPLE
        .iter()
        .map(|(role, user)| (*role, Browser::sign_in(&server, user)))
        .collect();
    let anonymous = client();
    for (path, endpoint, roles) in expected() {
        let mut table = roles_for(endpoint).to_vec();
        table.sort_by_key(|r| r.as_code());
        let mut want = roles.clone();
        want.sort_by_key(|r| r.as_code());
        assert_eq!(
            table, want,
            "{path}: src/api/access.rs disagrees with this test"
        );
        let url = path
            .replace("{key}", &id.to_string())
            .replace("{code}", "SP-01");
        for (role, b) in &browsers {
            let got = b.get(&url);
            let status = if roles.contains(role) { 200 } else { 403 };
            assert_eq!(got.status, status, "{role:?} on {url}: {}", got.body);
            assert!(
                got.content_type.starts_with("text/html"),
                "{role:?} on {url}: {} is not an HTML page",
                got.content_type
            );
            if status == 403 {
                // The 403 page in Chinese (the default language): 无权访问 "not allowed".
                assert!(got.body.contains("无权访问"), "{}", got.body);
            }
        }
        // Nobody signed in: to the sign-in page, and back here afterwards.
        let r = page(
            anonymous
                .get(format!("{}{url}", server.address))
                .send()
                .expect("GET"),
        );
        assert_eq!(r.status, 303, "{url} without a session");
        assert_eq!(
            r.location.as_deref(),
            Some(format!("/ui/login?next={url}").as_str())
        );
    }
    // Finding a sample by its code goes to its page; the lab may not use the regulator's search.
    let code = browsers[2]
        .1
        .get(&format!("/ui/regulator/samples/{id}"))
        .body;
    assert!(code.contains("DEMO-2026-"), "{code}");
    let found = browsers[2]
        .1
        .get("/ui/regulator/find?code=DEMO-2026-000001");
    assert_eq!(
        (found.status, found.location.as_deref()),
        (303, Some("/ui/regulator/samples/DEMO-2026-000001"))
    );
    assert_eq!(browsers[0].1.get("/ui/regulator/find?code=x").status, 403);
    // The auditor's pages show real data: the chain holds, the release is in the trail, and the
    // TAT report offers the API's CSV with the same filters.
    let auditor = &browsers[3].1;
    let chain = auditor.get("/ui/audit/chain").body;
    assert!(chain.contains("data-ok=\"true\""), "{chain}");
    let trail = auditor.get(&format!(
        "/ui/audit/trail?sample_id={id}&action=stage.release"
    ));
    assert!(
        trail.body.contains(">1 条记录"),
        "one release of this sample: {}",
        trail.body
    );
    // A sample id that is not a number is refused, not ignored (which would list every event).
    let bad = auditor.get("/ui/audit/trail?sample_id=abc");
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(
        bad.body.contains("sample_id &#x27;abc&#x27;") || bad.body.contains("sample_id 'abc'"),
        "{}",
        bad.body
    );
    assert!(!bad.body.contains("条记录"), "{}", bad.body);
    let tat = auditor.get("/ui/audit/tat?from=2026-03-01&to=2026-03-31&group_by=stage&stage=");
    assert_eq!(tat.status, 200, "{}", tat.body);
    // minijinja escapes "/" in attributes as &#x2f;, which the browser reads as "/".
    assert!(
        tat.body
            .contains("tat?format=csv&amp;from=2026-03-01&amp;to=2026-03-31&amp;group_by=stage\""),
        "{}",
        tat.body
    );
    // Received Mon 2026-03-02 14:00, released Thu 2026-03-05 10:00 (Beijing): 2 working days
    // and 20 hours = 2 + 20/24 = 2.8333… working days, shown to 3 decimals.
    assert!(
        tat.body.contains("<td class=\"num\">2.833</td>"),
        "{}",
        tat.body
    );
    // The admin sees the Handan rule of the demo county: St,d < 1.00 (STANDARDS.md §5).
    let sets = browsers[4].1.get("/ui/admin/limit-sets").body;
    assert!(
        sets.contains("data-limit-set=\"cn-he-handan-2013\""),
        "{sets}"
    );
    assert!(sets.contains("<td class=\"num\">&lt; 1.00</td>"), "{sets}");
    // The admin's lists: the six demo people, the official calendar's Spring Festival 2026.
    let users = browsers[4].1.get("/ui/admin/users").body;
    assert_eq!(users.matches("<tr data-user=").count(), 6, "{users}");
    assert!(users.contains("<tr data-user=\"tech-li\">"));
    let cals = browsers[4].1.get("/ui/admin/calendars").body;
    assert!(cals.contains("<td>2026-02-17</td>"), "{cals}");
    // Adding a supplier through the form; the same code again is refused on the form.
    let admin = &browsers[4].1;
    let csrf = admin.csrf();
    let fields = [
        ("csrf_token", csrf.as_str()),
        ("code", "SP-99"),
        ("name", "测试销售点 Test Point"),
        ("kind", "sale_point"),
        ("town", "测试镇"),
        ("licence_no", "LIC-WEB-99"),
        ("jurisdiction_code", "cn-he-handan"),
    ];
    let added = admin.post("/ui/admin/suppliers", &fields);
    assert_eq!(added.status, 303, "{}", added.body);
    let list = admin.get("/ui/admin/suppliers").body;
    assert!(list.contains("受检单位已新增"), "{list}");
    assert!(list.contains("<tr data-supplier=\"SP-99\">"), "{list}");
    let again = admin.post("/ui/admin/suppliers", &fields);
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(again.body.contains("value=\"LIC-WEB-99\""));
    // `/` goes to the interface; an unknown /ui page is an HTML 404, not the API's JSON.
    let root = page(
        anonymous
            .get(format!("{}/", server.address))
            .send()
            .expect("GET /"),
    );
    assert_eq!((root.status, root.location.as_deref()), (303, Some("/ui/")));
    let missing = browsers[0].1.get("/ui/no-such-page");
    assert_eq!(missing.status, 404);
    assert!(missing.content_type.starts_with("text/html"));
    // A supplier page of a code nobody holds does not exist either: 404, naming the code.
    let (_, regulator) = browsers
        .iter()
        .find(|(r, _)| *r == Role::Regulator)
        .expect("a regulator");
    let nobody = regulator.get("/ui/regulator/suppliers/SP-NOPE");
    assert_eq!(nobody.status, 404, "{}", nobody.body);
    assert!(nobody.content_type.starts_with("text/html"));
    assert!(nobody.body.contains("SP-NOPE"), "{}", nobody.body);
    // The API keeps its JSON errors.
    let api = page(
        anonymous
            .get(format!("{}/api/v1/no-such", server.address))
            .send()
            .expect("GET"),
    );
    assert!(api.content_type.starts_with("application/json"));
}

#[test]
fn sqlite_every_page_with_every_role() {
    every_page_with_every_role(Backend::Sqlite);
}

#[test]
fn pg_every_page_with_every_role() {
    every_page_with_every_role(Backend::Postgres);
}

/// The bench through HTML forms: register, receive, start, a pair over r asks for a third, the
/// accepted mean, submit; CSRF is required; English by the switch.
fn bench_flow_in_html_forms(backend: Backend) {
    let Some(server) = spawn(backend) else {
        return;
    };
    let tech = Browser::sign_in(&server, "tech-wang");
    let csrf = tech.csrf();
    let sampled = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let form = |csrf: &str| {
        vec![
            ("csrf_token", csrf.to_string()),
            ("supplier_code", "SP-02".to_string()),
            ("sampler1", "张伟".to_string()),
            ("sampler2", "刘洋".to_string()),
            ("sampled_at", sampled.clone()),
            ("coal_category", "无烟块煤".to_string()),
            ("test_seal_no", "T-WEB-1".to_string()),
            ("retained_seal_no", "B-WEB-1".to_string()),
        ]
    };
    // Without the CSRF token: a 403 HTML page, and nothing registered.
    let bad = form("0".repeat(64).as_str());
    let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = tech.post("/ui/lab/register", &bad);
    assert_eq!(refused.status, 403);
    assert!(refused.content_type.starts_with("text/html"));
    // A form over the 64 KiB limit: a 413 page.
    let huge = "x".repeat(70_000);
    let mut big = bad.clone();
    big.push(("lot_no", huge.as_str()));
    let refused = tech.post("/ui/lab/register", &big);
    assert_eq!(refused.status, 413, "{}", refused.body);
    assert!(refused.content_type.starts_with("text/html"));
    // A form with no CSRF field at all: the same 403, not a 400 about a missing field.
    let missing: Vec<(&str, &str)> = bad.iter().skip(1).copied().collect();
    let refused = tech.post("/ui/lab/register", &missing);
    assert_eq!(refused.status, 403, "{}", refused.body);
    // A refusal of the service comes back on the form, values kept: one sampler named twice.
    let mut twice = form(&csrf);
    twice[3].1 = "张伟".into();
    let twice: Vec<(&str, &str)> = twice.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let again = tech.post("/ui/lab/register", &twice);
    assert_eq!(again.status, 422, "{}", again.body);
    assert!(again.body.contains("at least two different samplers"));
    assert!(again.body.contains("value=\"T-WEB-1\""));

    let good = form(&csrf);
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let done = tech.post("/ui/lab/register", &good);
    assert_eq!(done.status, 303, "{}", done.body);
    let sample_page = done.location.expect("to the sample page");
    assert!(sample_page.starts_with("/ui/lab/samples/"));
    let shown = tech.get(&sample_page);
    assert!(
        shown.body.contains("样品已登记"),
        "the flash says registered"
    );
    assert!(shown.body.contains("data-state=\"registered\""));
    let id = sample_page.rsplit('/').next().unwrap().to_string();
    let act = |action: &str, version: &str| {
        let r = tech.post(
            &format!("/ui/lab/samples/{id}/action"),
            &[
                ("csrf_token", &csrf),
                ("action", action),
                ("version", version),
            ],
        );
        assert_eq!(r.status, 303, "{action}");
        tech.get(&sample_page)
    };
    assert!(act("receive", "1").body.contains("data-state=\"received\""));
    assert!(act("start", "2")
        .body
        .contains("data-state=\"initial_testing\""));
    let enter = |analysis: &str, value: &str| {
        let r = tech.post(
            &format!("/ui/lab/samples/{id}/determinations"),
            &[
                ("csrf_token", &csrf),
                ("analysis", analysis),
                ("value", value),
            ],
        );
        assert_eq!(r.status, 303);
        tech.get(&sample_page).body
    };
    // Aad 15.02 / 15.37: range 0.35 > r 0.30 (mean 15.195 in 15.00–30.00 %) → one more.
    enter("aad", "15.02");
    let second = enter("aad", "15.37");
    assert!(
        second.contains("data-outcome=\"needs_another_determination\""),
        "{second}"
    );
    assert!(second.contains("超出重复性限 r，需再做一次测定"));
    // Third 15.20: range of three 0.35 ≤ 1.2 × 0.30 = 0.36 → accepted, mean
    // (15.02 + 15.37 + 15.20) / 3 = 45.59 / 3 = 15.196666…
    let third = enter("aad", "15.20");
    assert!(third.contains("data-outcome=\"accepted\""), "{third}");
    assert!(third.contains("15.196666"), "{third}");
    // A refusal (Mad ≥ 100) is the page's message, in Chinese by default.
    let bad = enter("mad", "120");
    assert!(bad.contains("输入值无效"), "{bad}");
    // English by the switch: the cookie, then the same page in English.
    let switch = page(
        tech.client
            .get(format!("{}/ui/lang?to=en&back={sample_page}", tech.base))
            .send()
            .expect("switch"),
    );
    assert_eq!(switch.status, 303);
    assert_eq!(switch.location.as_deref(), Some(sample_page.as_str()));
    let mut en = Browser {
        lang: Some("en"),
        ..tech
    };
    en.client = client();
    let english = en.get(&sample_page);
    assert!(english.body.contains("<html lang=\"en\">"));
    assert!(english.body.contains("initial test in progress"));
}

#[test]
fn sqlite_bench_flow_in_html_forms() {
    bench_flow_in_html_forms(Backend::Sqlite);
}

#[test]
fn pg_bench_flow_in_html_forms() {
    bench_flow_in_html_forms(Backend::Postgres);
}

/// Status of `POST /ui/login` with this name and password (303 signed in, 401 refused).
fn login_status(server: &TestServer, user: &str, password: &str) -> u16 {
    client()
        .post(format!("{}/ui/login", server.address))
        .form(&[("username", user), ("password", password), ("next", "/ui/")])
        .send()
        .expect("login")
        .status()
        .as_u16()
}

/// Status of `GET /api/v1/me` with a bearer token (200 valid, 401 revoked).
fn token_status(server: &TestServer, token: &str) -> u16 {
    client()
        .get(format!("{}/api/v1/me", server.address))
        .bearer_auth(token)
        .send()
        .expect("GET /api/v1/me")
        .status()
        .as_u16()
}

/// Status of the status lookup of a sample that does not exist, with a bearer token (401 for a
/// revoked token; else whatever the role may see).
fn lookup_status(server: &TestServer, token: &str) -> u16 {
    client()
        .get(format!(
            "{}/api/v1/reports/status?sample_code=NONE",
            server.address
        ))
        .bearer_auth(token)
        .send()
        .expect("GET /api/v1/reports/status")
        .status()
        .as_u16()
}

/// How many audit events of `action` by the admin the trail page lists for `entity` (e.g.
/// `user tech-zhou`).
fn audited(admin: &Browser, action: &str, entity: &str) -> usize {
    let trail = admin
        .get(&format!("/ui/audit/trail?actor=admin&action={action}"))
        .body;
    trail
        .matches(&format!("<td>admin</td><td>{action}</td><td>{entity}</td>"))
        .count()
}

/// The admin's forms: users (add with a password, set a password, revoke tokens, disable),
/// limit sets (add or replace as JSON), calendars (import a CSV). Each change shows on the page
/// and in the audit trail; bad input is a 4xx page that keeps the typed values and changes
/// nothing; other roles get 403 and change nothing.
fn admin_forms(backend: Backend) {
    let Some(server) = spawn(backend) else {
        return;
    };
    let admin = Browser::sign_in(&server, "admin");
    let csrf = admin.csrf();
    let users_before = admin.get("/ui/admin/users").body;
    assert_eq!(users_before.matches("<tr data-user=").count(), 6);
    // The admin's navigation leads to the three forms' pages.
    for href in [
        "/ui/admin/users",
        "/ui/admin/limit-sets",
        "/ui/admin/calendars",
    ] {
        // (minijinja's HTML escaping writes `/` as `&#x2f;`.)
        let escaped = href.replace('/', "&#x2f;");
        assert!(
            users_before.contains(&format!("<li><a href=\"{escaped}\"")),
            "{href}: {users_before}"
        );
    }
    // Without the session's CSRF token: 403, nobody added.
    let forged = admin.post(
        "/ui/admin/users",
        &[
            ("csrf_token", "0"),
            ("username", "forged"),
            ("role", "admin"),
            ("lab", ""),
            ("display_name", ""),
            ("password", "forged-password-1"),
        ],
    );
    assert_eq!(forged.status, 403);
    assert_eq!(login_status(&server, "forged", "forged-password-1"), 401);

    // --- Users: a refused new user (password of 11 characters) keeps the typed values, never
    // the password, and adds nobody.
    let short = "short-pass1"; // 11 characters < 12
    let mut fields = vec![
        ("csrf_token", csrf.as_str()),
        ("username", "tech-zhou"),
        ("display_name", "周技术员"),
        ("role", "technician"),
        ("lab", "DEMO"),
        ("password", short),
    ];
    let refused = admin.post("/ui/admin/users", &fields);
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.content_type.starts_with("text/html"));
    assert!(refused.body.contains("密码不符合要求"), "{}", refused.body);
    assert!(refused.body.contains("value=\"tech-zhou\""));
    assert!(refused.body.contains("value=\"周技术员\""));
    assert!(!refused.body.contains(short), "a password is never echoed");
    // A technician without a lab is refused too.
    fields[4] = ("lab", "");
    fields[5] = ("password", "tech-zhou-demo-pass");
    let no_lab = admin.post("/ui/admin/users", &fields);
    assert_eq!(no_lab.status, 422, "{}", no_lab.body);
    assert!(no_lab.body.contains("need a lab"), "{}", no_lab.body);
    // Another role may not add anyone (403), even with its own valid CSRF token.
    let tech = Browser::sign_in(&server, "tech-wang");
    let tech_csrf = tech.csrf();
    let mut as_tech = fields.clone();
    as_tech[0] = ("csrf_token", tech_csrf.as_str());
    as_tech[4] = ("lab", "DEMO");
    assert_eq!(tech.post("/ui/admin/users", &as_tech).status, 403);
    let list = admin.get("/ui/admin/users").body;
    assert_eq!(list.matches("<tr data-user=").count(), 6, "nobody added");
    assert_eq!(
        login_status(&server, "tech-zhou", "tech-zhou-demo-pass"),
        401
    );
    // Accepted: the user is listed, signs in with the initial password, and both changes are
    // in the audit trail.
    fields[4] = ("lab", "DEMO");
    let added = admin.post("/ui/admin/users", &fields);
    assert_eq!(
        (added.status, added.location.as_deref()),
        (303, Some("/ui/admin/users")),
        "{}",
        added.body
    );
    let list = admin.get("/ui/admin/users").body;
    assert!(list.contains("用户已新增"), "{list}");
    assert_eq!(list.matches("<tr data-user=").count(), 7);
    assert!(
        list.contains(
            "<tr data-user=\"tech-zhou\"><td>tech-zhou</td><td>周技术员</td><td>检验员</td><td>DEMO</td><td>否</td>"
        ),
        "{list}"
    );
    let zhou = Browser::sign_in(&server, "tech-zhou");
    assert_eq!(zhou.get("/ui/lab").status, 200);
    assert_eq!(audited(&admin, "user.add", "user tech-zhou"), 1);
    assert_eq!(audited(&admin, "user.passwd", "user tech-zhou"), 1);
    // The same name again: 409 on the form; in capitals too (it would read as the same person).
    let again = admin.post("/ui/admin/users", &fields);
    assert_eq!(again.status, 409, "{}", again.body);
    let mut shouted = fields.clone();
    shouted[1] = ("username", "TECH-ZHOU");
    let again = admin.post("/ui/admin/users", &shouted);
    assert_eq!(again.status, 409, "{}", again.body);
    // "system" names coallab itself in the audit trail; a space or '<' is no username; a
    // regulator belongs to no lab (the lab chosen is refused, not dropped).
    for (name, role, lab) in [
        ("system", "technician", "DEMO"),
        ("new tech", "technician", "DEMO"),
        ("reg-<x>", "regulator", ""),
        ("reg-new", "regulator", "DEMO"),
    ] {
        let mut f = fields.clone();
        f[1] = ("username", name);
        f[3] = ("role", role);
        f[4] = ("lab", lab);
        let refused = admin.post("/ui/admin/users", &f);
        assert_eq!(refused.status, 422, "{name}: {}", refused.body);
    }
    assert_eq!(
        admin
            .get("/ui/admin/users")
            .body
            .matches("<tr data-user=")
            .count(),
        7
    );

    // --- A new password: too short is refused (the old one still works); a good one replaces
    // it and ends the user's sessions.
    let refused = admin.post(
        "/ui/admin/users/password",
        &[
            ("csrf_token", &csrf),
            ("username", "tech-zhou"),
            ("password", short),
        ],
    );
    assert_eq!(refused.status, 422);
    assert!(refused
        .body
        .contains("<option value=\"tech-zhou\" selected>"));
    assert_eq!(
        login_status(&server, "tech-zhou", "tech-zhou-demo-pass"),
        303
    );
    let set = admin.post(
        "/ui/admin/users/password",
        &[
            ("csrf_token", &csrf),
            ("username", "tech-zhou"),
            ("password", "a-new-passphrase-42"),
        ],
    );
    assert_eq!(set.status, 303, "{}", set.body);
    assert_eq!(
        login_status(&server, "tech-zhou", "tech-zhou-demo-pass"),
        401
    );
    assert_eq!(
        login_status(&server, "tech-zhou", "a-new-passphrase-42"),
        303
    );
    assert_eq!(zhou.get("/ui/lab").status, 303, "the old session ended");
    assert_eq!(audited(&admin, "user.passwd", "user tech-zhou"), 2);
    assert_eq!(
        tech.post(
            "/ui/admin/users/password",
            &[
                ("csrf_token", &tech_csrf),
                ("username", "tech-zhou"),
                ("password", "taken-over-by-tech"),
            ],
        )
        .status,
        403
    );
    assert_eq!(
        login_status(&server, "tech-zhou", "taken-over-by-tech"),
        401
    );

    // --- Revoking API tokens: tech-li's demo token stops working, on the status lookup too
    // (whose token memory, 10 s here, is emptied by the revocation).
    assert_eq!(token_status(&server, "demo-technician-2"), 200);
    assert_ne!(lookup_status(&server, "demo-technician-2"), 401);
    let as_tech = [("csrf_token", tech_csrf.as_str()), ("username", "tech-li")];
    assert_eq!(
        tech.post("/ui/admin/users/revoke-tokens", &as_tech).status,
        403
    );
    assert_eq!(token_status(&server, "demo-technician-2"), 200);
    let unknown = admin.post(
        "/ui/admin/users/revoke-tokens",
        &[("csrf_token", &csrf), ("username", "nobody")],
    );
    assert_eq!(unknown.status, 404);
    let revoked = admin.post(
        "/ui/admin/users/revoke-tokens",
        &[("csrf_token", &csrf), ("username", "tech-li")],
    );
    assert_eq!(revoked.status, 303, "{}", revoked.body);
    assert!(admin.get("/ui/admin/users").body.contains("tech-li: 1"));
    assert_eq!(token_status(&server, "demo-technician-2"), 401);
    assert_eq!(lookup_status(&server, "demo-technician-2"), 401);
    assert_eq!(audited(&admin, "user.revoke_tokens", "user tech-li"), 1);

    // --- Disabling: not by a technician, not the admin themself; then tech-zhou is out.
    let as_tech = [
        ("csrf_token", tech_csrf.as_str()),
        ("username", "tech-zhou"),
    ];
    assert_eq!(tech.post("/ui/admin/users/disable", &as_tech).status, 403);
    assert_eq!(
        login_status(&server, "tech-zhou", "a-new-passphrase-42"),
        303
    );
    let own = admin.post(
        "/ui/admin/users/disable",
        &[("csrf_token", &csrf), ("username", "admin")],
    );
    assert_eq!(own.status, 422, "{}", own.body);
    let disabled = admin.post(
        "/ui/admin/users/disable",
        &[("csrf_token", &csrf), ("username", "tech-zhou")],
    );
    assert_eq!(disabled.status, 303, "{}", disabled.body);
    let list = admin.get("/ui/admin/users").body;
    assert!(
        list.contains("<td>DEMO</td><td>是</td>"),
        "tech-zhou is disabled: {list}"
    );
    assert_eq!(
        login_status(&server, "tech-zhou", "a-new-passphrase-42"),
        401
    );
    assert_eq!(audited(&admin, "user.disable", "user tech-zhou"), 1);
    assert_eq!(audited(&admin, "user.disable", "user admin"), 0);

    // --- Limit sets: a copy of the Handan rule under a new id with St,d < 0.80, sent as JSON.
    let api_sets = || -> Vec<serde_json::Value> {
        client()
            .get(format!("{}/api/v1/limit-sets", server.address))
            .bearer_auth("demo-admin")
            .send()
            .expect("GET limit-sets")
            .json()
            .expect("JSON")
    };
    let before = api_sets();
    let mut set = before
        .iter()
        .find(|s| s["id"] == "cn-he-handan-2013")
        .expect("the demo's Handan set")
        .clone();
    set["id"] = "web-handan-2030".into();
    set["name"] = "Web test set".into();
    set["effective_from"] = "2030-01-01".into();
    set["limits"] = serde_json::json!([{"parameter": "std", "operator": "lt", "value": "0.80",
        "decimals": 2, "method": "full_value"}]);
    let mut bad = set.clone();
    bad["jurisdiction"] = "xx-nowhere".into();
    let bad = bad.to_string();
    let refused = admin.post(
        "/ui/admin/limit-sets",
        &[("csrf_token", &csrf), ("json", &bad)],
    );
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains("&quot;xx-nowhere&quot;"),
        "typed JSON kept"
    );
    let malformed = admin.post(
        "/ui/admin/limit-sets",
        &[("csrf_token", &csrf), ("json", "{\"id\": ")],
    );
    assert_eq!(malformed.status, 400, "{}", malformed.body);
    assert!(
        malformed.body.contains("limit set JSON"),
        "{}",
        malformed.body
    );
    let good = set.to_string();
    assert_eq!(
        tech.post(
            "/ui/admin/limit-sets",
            &[("csrf_token", &tech_csrf), ("json", &good)]
        )
        .status,
        403
    );
    assert_eq!(api_sets().len(), before.len(), "nothing stored");
    let saved = admin.post(
        "/ui/admin/limit-sets",
        &[("csrf_token", &csrf), ("json", &good)],
    );
    assert_eq!(saved.status, 303, "{}", saved.body);
    let page = admin.get("/ui/admin/limit-sets").body;
    assert!(page.contains("限值标准已保存"), "{page}");
    assert!(
        page.contains("data-limit-set=\"web-handan-2030\""),
        "{page}"
    );
    assert!(page.contains("<td class=\"num\">&lt; 0.80</td>"), "{page}");
    let after = api_sets();
    assert_eq!(after.len(), before.len() + 1);
    let stored = after
        .iter()
        .find(|s| s["id"] == "web-handan-2030")
        .expect("stored");
    assert_eq!(stored["limits"][0]["value"], "0.80");
    assert_eq!(
        audited(&admin, "limit_set.put", "limit_set web-handan-2030"),
        1
    );
    // The same JSON again changes nothing and writes no event.
    admin.post(
        "/ui/admin/limit-sets",
        &[("csrf_token", &csrf), ("json", &good)],
    );
    assert!(admin
        .get("/ui/admin/limit-sets")
        .body
        .contains("限值标准未变"));
    assert_eq!(
        audited(&admin, "limit_set.put", "limit_set web-handan-2030"),
        1
    );
    // The edit link fills the form with a stored set's JSON.
    let edit = admin.get("/ui/admin/limit-sets?edit=web-handan-2030").body;
    assert!(edit.contains("&quot;Web test set&quot;"), "{edit}");

    // --- Calendars: a file with a bad date (line 3) and a bad kind (line 4) is refused as a
    // whole: its good line 2 is not imported either.
    let cals = admin.get("/ui/admin/calendars").body;
    let code = {
        let marker = "<option value=\"";
        let at = cals.find(marker).expect("a calendar to choose") + marker.len();
        cals[at..].split('"').next().expect("code").to_string()
    };
    assert!(!cals.contains("<td>2027-05-01</td>"));
    let bad_csv = "date,kind\n2027-05-01,rest_day\n2027-13-01,rest_day\n2027-05-02,holiday\n";
    let refused = admin.post(
        "/ui/admin/calendars",
        &[("csrf_token", &csrf), ("calendar", &code), ("csv", bad_csv)],
    );
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains("row 3, column date"),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("row 4, column kind"),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("2027-13-01,rest_day"),
        "typed CSV kept"
    );
    assert!(!admin
        .get("/ui/admin/calendars")
        .body
        .contains("<td>2027-05-01</td>"));
    let good_csv = "date,kind,occasion,source\n2027-05-01,rest_day,劳动节,web test\n\
                    2027-04-27,working_day,劳动节调休,web test\n";
    assert_eq!(
        tech.post(
            "/ui/admin/calendars",
            &[
                ("csrf_token", &tech_csrf),
                ("calendar", &code),
                ("csv", good_csv)
            ],
        )
        .status,
        403
    );
    assert!(!admin
        .get("/ui/admin/calendars")
        .body
        .contains("<td>2027-05-01</td>"));
    let imported = admin.post(
        "/ui/admin/calendars",
        &[
            ("csrf_token", &csrf),
            ("calendar", &code),
            ("csv", good_csv),
        ],
    );
    assert_eq!(imported.status, 303, "{}", imported.body);
    let cals = admin.get("/ui/admin/calendars").body;
    assert!(cals.contains("日历已导入"), "{cals}");
    assert!(
        cals.contains(&format!("{code}: 2 rows, 2 changed, 0 unchanged")),
        "{cals}"
    );
    assert!(
        cals.contains("<tr><td>2027-04-27</td><td>调休上班日</td><td>劳动节调休</td>"),
        "{cals}"
    );
    assert!(cals.contains("<td>2027-05-01</td>"));
    assert_eq!(
        audited(&admin, "import", &format!("import calendar {code}")),
        1
    );
}

#[test]
fn sqlite_admin_forms() {
    admin_forms(Backend::Sqlite);
}

#[test]
fn pg_admin_forms() {
    admin_forms(Backend::Postgres);
}

/// Errors answered outside the page handlers are HTML pages in the page language on `/ui`
/// paths and stay JSON on the API: a method the page does not take (405) and the rate limiter's
/// 429 (default limit: 30 sign-in attempts a minute per client).
#[test]
fn errors_outside_handlers_are_html_pages() {
    let Some(server) = spawn(Backend::Sqlite) else {
        return;
    };
    let c = client();
    let url = |p: &str| format!("{}{p}", server.address);
    // 405: the review queue is only read.
    let r = page(c.delete(url("/ui/review")).send().expect("DELETE"));
    assert_eq!(r.status, 405);
    assert!(
        r.content_type.starts_with("text/html"),
        "{}",
        r.content_type
    );
    assert!(r.body.contains("此页面不接受该请求方式"), "{}", r.body);
    let r = page(
        c.delete(url("/ui/review"))
            .header("Cookie", "lang=en")
            .send()
            .expect("DELETE"),
    );
    assert!(r.body.contains("<html lang=\"en\">"), "{}", r.body);
    assert!(r
        .body
        .contains("This page does not accept that kind of request."));
    let r = c.put(url("/ui/admin/users")).send().expect("PUT");
    assert_eq!(r.status().as_u16(), 405);
    assert_eq!(r.headers()["allow"], "GET, POST");
    // The API's errors stay JSON.
    let r = page(c.delete(url("/api/v1/limit-sets")).send().expect("DELETE"));
    assert_eq!(r.status, 405);
    assert!(r.content_type.starts_with("application/json"));
    assert!(r.body.contains("\"method_not_allowed\""), "{}", r.body);
    // 30 sign-in posts (empty forms, refused with 400 by the page) use up the minute's
    // allowance; the 31st is the limiter's 429, an English page with Retry-After.
    for i in 1..=30 {
        let r = c.post(url("/ui/login")).send().expect("POST");
        assert_eq!(r.status().as_u16(), 400, "attempt {i}");
    }
    let r = c
        .post(url("/ui/login"))
        .header("Cookie", "lang=en")
        .send()
        .expect("POST");
    assert_eq!(r.status().as_u16(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    // One token comes back every 60 s / 30 = 2 s.
    assert!((1..=2).contains(&retry), "{retry}");
    let r = page(r);
    assert!(
        r.content_type.starts_with("text/html"),
        "{}",
        r.content_type
    );
    assert!(r.body.contains("Too many requests: please wait a moment"));
    assert!(r.body.contains("too many login attempts from 127.0.0.1"));
    // The same bucket on the API answers JSON.
    let r = page(
        c.post(url("/login"))
            .json(&serde_json::json!({"username": "x", "password": "y"}))
            .send()
            .expect("POST /login"),
    );
    assert_eq!(r.status, 429);
    assert!(r.content_type.starts_with("application/json"));
    assert!(r.body.contains("\"rate_limited\""));
}
