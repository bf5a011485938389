//! Reference data every installation needs (the official calendar, the limit sets with their
//! sources, the jurisdictions) and the demo county: one lab, demo users with documented demo
//! tokens, 7 towns, 2 production enterprises and 7 sale points, and about 300 samples over the
//! 2025–2026 heating season driven through the real workflow (so every value, verdict, deadline
//! and audit event is produced by the same rules as live work).

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;

use crate::db::schema::labs;
use crate::db::{Db, Tx};
use crate::domain::lifecycle::Action;
use crate::domain::repeatability::default_table;
use crate::domain::terms::{Analysis, Role};
use crate::error::AppError;
use crate::service::auth::{self, CurrentUser};
use crate::service::entry::{self, NewDetermination};
use crate::service::import::{import, ImportKind, ImportOptions};
use crate::service::samples::{self as sample_svc, NewSample};
use crate::service::workflow::{self, ActionRequest, ResultReceived};
use crate::with_tx;

/// The official working calendar of China, 2025–2026 (State Council notices).
pub const CALENDAR_CSV: &str = include_str!("../../fixtures/calendars/cn-official-2025-2026.csv");
/// Jurisdictions of the shipped limit sets.
pub const JURISDICTIONS_CSV: &str = include_str!("../../fixtures/jurisdictions.csv");
/// Limit sets with their sources (STANDARDS.md §5).
pub const LIMIT_SETS_CSV: &str = include_str!("../../fixtures/limit_sets.csv");
/// The demo county's jurisdiction.
pub const DEMO_JURISDICTIONS_CSV: &str = include_str!("../../fixtures/demo/jurisdictions.csv");
/// The demo county's suppliers.
pub const DEMO_SUPPLIERS_CSV: &str = include_str!("../../fixtures/demo/suppliers.csv");

/// Demo accounts: (username, role, demo token). The tokens exist only in a demo database.
pub const DEMO_USERS: [(&str, Role, &str); 6] = [
    ("tech-wang", Role::Technician, "demo-technician"),
    ("tech-li", Role::Technician, "demo-technician-2"),
    ("rev-zhao", Role::Reviewer, "demo-reviewer"),
    ("reg-chen", Role::Regulator, "demo-regulator"),
    ("aud-liu", Role::Auditor, "demo-auditor"),
    ("admin", Role::Admin, "demo-admin"),
];

/// Whether the database has no lab yet (a fresh installation).
///
/// # Errors
/// Database errors.
pub fn is_empty(db: &Db) -> Result<bool, AppError> {
    db.read(|tx| Ok(with_tx!(tx, |c| labs::table.count().get_result::<i64>(c))? == 0))
}

fn seeder() -> CurrentUser {
    CurrentUser {
        id: 0,
        username: "seed".into(),
        role: Role::Admin,
        lab_id: None,
    }
}

/// Loads the calendar, jurisdictions and limit sets shipped in fixtures/ (idempotent).
///
/// # Errors
/// [`AppError`] from the import.
pub fn seed_reference(db: &Db, now: DateTime<Utc>) -> Result<(), AppError> {
    let u = seeder();
    import(
        db,
        &u,
        ImportKind::Calendar,
        CALENDAR_CSV.as_bytes(),
        &ImportOptions::default(),
        now,
    )?;
    import(
        db,
        &u,
        ImportKind::Jurisdictions,
        JURISDICTIONS_CSV.as_bytes(),
        &ImportOptions::default(),
        now,
    )?;
    import(
        db,
        &u,
        ImportKind::LimitSets,
        LIMIT_SETS_CSV.as_bytes(),
        &ImportOptions::default(),
        now,
    )?;
    Ok(())
}

/// Loads the reference data, the demo lab, users (with their demo tokens) and suppliers, but no
/// samples. Returns the demo users keyed as in [`DEMO_USERS`].
///
/// # Errors
/// [`AppError`] from the writes.
pub fn seed_demo_people(db: &Db, now: DateTime<Utc>) -> Result<Vec<CurrentUser>, AppError> {
    seed_demo_lab(db, now, Some(DEMO_SUPPLIERS_CSV))
}

/// Loads the reference data, the demo county's jurisdiction, the suppliers of `suppliers_csv`
/// (the import format; `None`: none), and the demo lab and users with their demo tokens.
///
/// # Errors
/// [`AppError`] from the writes.
pub fn seed_demo_lab(
    db: &Db,
    now: DateTime<Utc>,
    suppliers_csv: Option<&str>,
) -> Result<Vec<CurrentUser>, AppError> {
    seed_reference(db, now)?;
    let u = seeder();
    import(
        db,
        &u,
        ImportKind::Jurisdictions,
        DEMO_JURISDICTIONS_CSV.as_bytes(),
        &ImportOptions::default(),
        now,
    )?;
    if let Some(csv) = suppliers_csv {
        import(
            db,
            &u,
            ImportKind::Suppliers,
            csv.as_bytes(),
            &ImportOptions::default(),
            now,
        )?;
    }
    let now_ms = now.timestamp_millis();
    db.transaction(|tx| {
        let lab_id: i64 = with_tx!(tx, |c| diesel::insert_into(labs::table)
            .values((
                labs::code.eq("DEMO"),
                labs::name.eq("示范县煤质检测站 Demo County Coal Lab"),
                labs::timezone.eq("Asia/Shanghai"),
                labs::created_at.eq(now_ms)
            ))
            .returning(labs::id)
            .get_result(c))?;
        let mut out = Vec::new();
        for (name, role, token) in DEMO_USERS {
            let lab = matches!(role, Role::Technician | Role::Reviewer).then_some(lab_id);
            let id = auth::add_user(tx, name, name, role, lab, now_ms)?;
            auth::store_token(tx, id, token, "demo", now_ms + 3650 * 86_400_000, now_ms)?;
            let phc = crate::service::users::demo_password_hash(name)?;
            crate::service::users::store_password_hash(tx, id, &phc, now_ms)?;
            out.push(CurrentUser {
                id,
                username: name.to_string(),
                role,
                lab_id: lab,
            });
        }
        crate::service::audit::append(
            tx,
            now_ms,
            crate::service::audit::NewEvent {
                actor: "seed".into(),
                action: "demo.seed".into(),
                entity: "lab".into(),
                entity_id: "DEMO".into(),
                ..Default::default()
            },
        )?;
        Ok(out)
    })
}

/// One supplier's quality profile in the demo: typical Ad, St,d and Mad (%).
#[derive(Debug)]
pub struct Profile {
    /// The demo supplier's code.
    pub code: &'static str,
    /// Typical ash, dry basis, %.
    pub ad: f64,
    /// Typical total sulfur, dry basis, %.
    pub std: f64,
    /// Typical moisture of the analysis sample, %.
    pub mad: f64,
}

/// The demo county's nine supplier profiles (also used by `demo generate`).
pub const PROFILES: [Profile; 9] = [
    Profile {
        code: "PE-01",
        ad: 10.5,
        std: 0.45,
        mad: 1.2,
    },
    Profile {
        code: "PE-02",
        ad: 12.0,
        std: 0.55,
        mad: 1.8,
    },
    Profile {
        code: "SP-01",
        ad: 13.0,
        std: 0.62,
        mad: 2.0,
    },
    Profile {
        code: "SP-02",
        ad: 14.8,
        std: 0.85,
        mad: 2.4,
    },
    Profile {
        code: "SP-03",
        ad: 11.5,
        std: 0.50,
        mad: 1.5,
    },
    Profile {
        code: "SP-04",
        ad: 17.5,
        std: 1.10,
        mad: 3.0,
    },
    Profile {
        code: "SP-05",
        ad: 12.8,
        std: 0.70,
        mad: 2.2,
    },
    Profile {
        code: "SP-06",
        ad: 15.5,
        std: 0.95,
        mad: 2.8,
    },
    Profile {
        code: "SP-07",
        ad: 9.0,
        std: 0.40,
        mad: 0.9,
    },
];

/// Formats a simulated measurement with `decimals` decimals as a person would type it.
/// The demo's random numbers are f64; every value stored is the typed decimal string.
fn typed(v: f64, decimals: usize) -> String {
    format!("{:.*}", decimals, v.max(0.01))
}

fn local(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(y, m, d, h, 0, 0)
        .single()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

struct Actors {
    techs: [CurrentUser; 2],
    reviewer: CurrentUser,
    regulator: CurrentUser,
}

/// Applies `action` to sample `id` at its current version, as `user` at `at` (the demo and
/// the generator's replay push samples through the real workflow with it).
///
/// # Errors
/// Every error of [`workflow::apply_action`].
pub(crate) fn act(
    tx: &mut Tx<'_>,
    user: &CurrentUser,
    id: i64,
    action: Action,
    reason: Option<&str>,
    at: DateTime<Utc>,
) -> Result<(), AppError> {
    let version = sample_svc::load(tx, id)?.version;
    workflow::apply_action(
        tx,
        user,
        id,
        action,
        &ActionRequest {
            version,
            reason: reason.map(String::from),
            ..Default::default()
        },
        at,
    )
}

/// Enters duplicates of one analysis until the server accepts a mean; `spread` > 1 makes the
/// first pair differ by more than r so that a third determination is needed.
fn measure(
    tx: &mut Tx<'_>,
    user: &CurrentUser,
    id: i64,
    a: Analysis,
    truth: f64,
    decimals: usize,
    spread: bool,
    rng: &mut StdRng,
    at: DateTime<Utc>,
) -> Result<(), AppError> {
    let table = default_table(a).ok_or_else(|| AppError::Internal("no table".into()))?;
    let r: f64 = table
        .r_for_mean(
            Decimal::from_f64_retain(truth)
                .unwrap_or_default()
                .round_dp(2),
        )
        .to_string()
        .parse()
        .unwrap_or(0.2);
    let mut values: Vec<f64> = if spread {
        // The pair differs by 1.1 r (> r: a third is needed); the three span 1.1 r ≤ 1.2 r.
        vec![truth - 0.55 * r, truth + 0.55 * r, truth, truth]
    } else {
        let e = rng.random_range(-0.3..0.3) * r;
        vec![truth + e, truth - e * 0.5, truth, truth]
    };
    for (i, v) in values.drain(..).enumerate() {
        let out = entry::enter(
            tx,
            user,
            id,
            &NewDetermination {
                analysis: a.as_code().into(),
                value: serde_json::Value::String(typed(v, decimals)),
            },
            at + Duration::minutes(i as i64 * 20),
        )?;
        if matches!(
            out.precision,
            crate::domain::repeatability::PrecisionOutcome::Accepted { .. }
        ) {
            return Ok(());
        }
    }
    Ok(())
}

/// Seeds the demo county: reference data, people, suppliers and about 300 samples of the
/// 2025–2026 heating season plus open samples of this month (some overdue). Deterministic
/// (fixed random seed). Returns a summary with the demo tokens to print.
///
/// # Errors
/// [`AppError`] from the workflow (a failure leaves the samples already written; run on an
/// empty database).
pub fn seed(db: &Db, now: DateTime<Utc>) -> Result<String, AppError> {
    let people = seed_demo_people(db, now)?;
    let actors = Actors {
        techs: [people[0].clone(), people[1].clone()],
        reviewer: people[2].clone(),
        regulator: people[3].clone(),
    };
    let mut rng = StdRng::seed_from_u64(20251115);
    let season_start = NaiveDate::from_ymd_opt(2025, 11, 15).unwrap_or_default();
    let mut count = 0usize;
    // About 300 samples: one every ~0.4 days over 120 days, suppliers in turn.
    db.transaction(|tx| {
        for i in 0..300usize {
            let p = &PROFILES[i % PROFILES.len()];
            let day = season_start + Duration::days((i as i64 * 2) / 5);
            let sampled = local(day.year(), day.month(), day.day(), 9 + (i % 6) as u32);
            simulate_sample(tx, &actors, p, i, sampled, &mut rng, now)?;
            count += 1;
        }
        // Open work of the current month: some still registered, received or in testing, several past due.
        for j in 0..12usize {
            let p = &PROFILES[(j * 4) % PROFILES.len()];
            let sampled = now - Duration::days(30 - (j as i64) * 2);
            open_sample(tx, &actors, p, 300 + j, sampled, &mut rng, j)?;
            count += 1;
        }
        Ok(())
    })?;
    let mut s = format!("demo county loaded: {count} samples, 9 suppliers in 7 towns, lab DEMO.\nDemo API tokens and sign-in passwords (demo database only):\n");
    for (name, role, token) in DEMO_USERS {
        s.push_str(&format!(
            "  {:<10} {name:<10} Authorization: Bearer {token}   password: {}\n",
            role.as_code(),
            crate::service::users::demo_password(name)
        ));
    }
    Ok(s)
}

fn new_sample(p: &Profile, i: usize, sampled: DateTime<Utc>) -> NewSample {
    NewSample {
        supplier_code: p.code.into(),
        coal_category: if p.code.starts_with("PE") {
            "型煤 briquette".into()
        } else {
            "无烟块煤 anthracite lump".into()
        },
        claimed_grade: "无烟1号".into(),
        lot_no: format!("LOT-{i:04}"),
        lot_mass_t: Some(format!("{}.0", 20 + (i % 30))),
        top_size_mm: Some(if p.code.starts_with("PE") { 50 } else { 25 }),
        sampling_method: "manual".into(),
        increments: Some(20),
        gross_mass_kg: Some(if p.code.starts_with("PE") {
            "340".into()
        } else {
            "80".into()
        }),
        samplers: vec!["张伟".into(), "刘洋".into()],
        sampled_at: sampled.to_rfc3339(),
        test_seal_no: format!("T{:06}", 100000 + i),
        retained_seal_no: format!("B{:06}", 100000 + i),
        retained_custodian: "样品管理员 周敏".into(),
        retained_location: "存查样柜 A".into(),
        prepared_on: None,
    }
}

fn truths(p: &Profile, rng: &mut StdRng) -> (f64, f64, f64) {
    let mad = (p.mad + rng.random_range(-0.5..0.5)).clamp(0.5, 4.0);
    let ad = (p.ad + rng.random_range(-2.5..2.5)).clamp(8.0, 28.0);
    let std = (p.std + rng.random_range(-0.18..0.18)).clamp(0.3, 1.8);
    // Air-dried contents from dry ones: Xad = Xd × (100 − Mad)/100 (GB/T 483-2007 §7.2).
    (mad, ad * (100.0 - mad) / 100.0, std * (100.0 - mad) / 100.0)
}

fn test_stage(
    tx: &mut Tx<'_>,
    tech: &CurrentUser,
    id: i64,
    p: &Profile,
    rng: &mut StdRng,
    spread: bool,
    at: DateTime<Utc>,
) -> Result<(), AppError> {
    let (mad, aad, stad) = truths(p, rng);
    measure(tx, tech, id, Analysis::Mad, mad, 2, false, rng, at)?;
    measure(
        tx,
        tech,
        id,
        Analysis::Aad,
        aad,
        2,
        spread,
        rng,
        at + Duration::hours(2),
    )?;
    measure(
        tx,
        tech,
        id,
        Analysis::StAd,
        stad,
        2,
        false,
        rng,
        at + Duration::hours(4),
    )?;
    Ok(())
}

fn simulate_sample(
    tx: &mut Tx<'_>,
    a: &Actors,
    p: &Profile,
    i: usize,
    sampled: DateTime<Utc>,
    rng: &mut StdRng,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let tech = &a.techs[i % 2];
    let other = &a.techs[(i + 1) % 2];
    let id = sample_svc::register(
        tx,
        tech,
        &new_sample(p, i, sampled),
        None,
        sampled + Duration::hours(3),
    )?;
    let received = sampled + Duration::hours(5);
    act(tx, tech, id, Action::Receive, None, received)?;
    act(
        tx,
        tech,
        id,
        Action::Start,
        None,
        received + Duration::minutes(30),
    )?;
    let spread = rng.random_bool(0.08);
    let work_days = if rng.random_bool(0.1) {
        rng.random_range(9..13)
    } else {
        rng.random_range(1..6)
    };
    let tested = received + Duration::days(1);
    test_stage(tx, tech, id, p, rng, spread, tested)?;
    let submitted = received + Duration::days(work_days);
    act(tx, tech, id, Action::Submit, None, submitted)?;
    let released = submitted + Duration::hours(20);
    act(tx, &a.reviewer, id, Action::Release, None, released)?;
    let s = sample_svc::load(tx, id)?;
    if s.final_verdict.as_deref() != Some("fail") {
        return Ok(());
    }
    let got = released + Duration::days(2);
    workflow::record_result_received(
        tx,
        &a.regulator,
        id,
        &ResultReceived {
            version: s.version,
            received_at: got.to_rfc3339(),
        },
        got + Duration::hours(1),
    )?;
    if rng.random_bool(0.45) {
        let asked = got + Duration::days(rng.random_range(3..12));
        let version = sample_svc::load(tx, id)?.version;
        let req = ActionRequest {
            version,
            reason: Some("企业对初检结果有异议，申请复检 (the enterprise appeals)".into()),
            retained_seal_no: Some(s.retained_seal_no.clone()),
            retained_condition: Some("封条完好 seal intact".into()),
        };
        workflow::apply_action(tx, &a.regulator, id, Action::RequestRetest, &req, asked)?;
        test_stage(tx, other, id, p, rng, false, asked + Duration::days(1))?;
        let submitted = asked + Duration::days(rng.random_range(2..5));
        act(tx, other, id, Action::Submit, None, submitted)?;
        act(
            tx,
            &a.reviewer,
            id,
            Action::Release,
            None,
            submitted + Duration::hours(6),
        )?;
    } else {
        let closed = got + Duration::days(17);
        if closed < now {
            act(
                tx,
                &a.reviewer,
                id,
                Action::Close,
                Some("no appeal within the appeal window"),
                closed,
            )?;
        }
    }
    Ok(())
}

fn open_sample(
    tx: &mut Tx<'_>,
    a: &Actors,
    p: &Profile,
    i: usize,
    sampled: DateTime<Utc>,
    rng: &mut StdRng,
    j: usize,
) -> Result<(), AppError> {
    let tech = &a.techs[i % 2];
    let id = sample_svc::register(
        tx,
        tech,
        &new_sample(p, i, sampled),
        None,
        sampled + Duration::hours(2),
    )?;
    if j % 4 == 3 {
        return Ok(()); // registered, not yet received
    }
    let received = sampled + Duration::hours(4);
    act(tx, tech, id, Action::Receive, None, received)?;
    if j % 4 == 2 {
        return Ok(());
    }
    act(
        tx,
        tech,
        id,
        Action::Start,
        None,
        received + Duration::hours(1),
    )?;
    if j % 4 == 0 {
        test_stage(tx, tech, id, p, rng, false, received + Duration::days(1))?;
    }
    Ok(())
}
