//! Unit tests of the statistics. Unless a test says otherwise, the expected numbers were
//! computed independently with numpy 2 / scipy 1.16 by scripts/stats_reference.py (run it to
//! print them again); the series are copied verbatim from that script.

use super::*;
use crate::domain::stats_control::{control_chart, ControlRule};
use crate::domain::stats_trend::{linear_trend, mann_kendall, sen_slope_for_test, Direction};
use chrono::TimeZone;

const A_T: [f64; 12] = [0., 9., 21., 30., 44., 52., 61., 75., 83., 97., 104., 118.];
const A_X: [f64; 12] = [
    14.82, 15.10, 14.95, 15.40, 15.22, 15.61, 15.35, 15.90, 15.72, 16.05, 15.88, 16.21,
];
const B_T: [f64; 10] = [0., 10., 10., 25., 31., 40., 52., 60., 60., 75.];
const B_X: [f64; 10] = [0.62, 0.65, 0.62, 0.70, 0.65, 0.58, 0.62, 0.71, 0.66, 0.65];
const C_X: [f64; 20] = [
    10.0, 10.4, 9.7, 10.1, 9.9, 10.3, 10.5, 10.2, 10.6, 10.4, 10.7, 10.3, 10.5, 10.8, 9.2, 9.3,
    9.5, 9.6, 9.8, 9.9,
];
const D_X: [f64; 8] = [0.91, 0.95, 0.88, 0.97, 0.93, 0.99, 0.90, 0.94];
const E_X: [f64; 10] = [5.0, 5.1, 4.9, 5.0, 5.2, 4.8, 5.0, 5.1, 6.5, 5.0];

/// Asserts |a − b| ≤ 1e-9·max(1, |b|).
fn close(a: f64, b: f64) {
    assert!(
        (a - b).abs() <= 1e-9 * b.abs().max(1.0),
        "got {a:?}, expected {b:?}"
    );
}

fn d(s: &str) -> Decimal {
    Decimal::from_str_exact(s).unwrap()
}

fn upper(value: &str, operator: Operator) -> LimitLine {
    LimitLine {
        operator,
        value: d(value),
        limit_set_ids: vec!["test".into()],
    }
}

#[test]
fn descriptive_matches_numpy() {
    let s = descriptive(&A_X);
    let v = s.ok().unwrap();
    assert_eq!(v.n, 12);
    close(v.mean, 15.5175);
    close(*v.sd.ok().unwrap(), 0.4475818868704874);
    close(v.median, 15.504999999999999);
    close(v.min, 14.82);
    close(v.max, 16.21);
    let b = descriptive(&B_X);
    let b = b.ok().unwrap();
    close(b.mean, 0.6460000000000001);
    close(*b.sd.ok().unwrap(), 0.03893013685508382);
    close(b.median, 0.65);
}

#[test]
fn too_few_points_are_typed_not_nan() {
    assert_eq!(
        descriptive(&[]),
        Outcome::InsufficientData {
            needed: 1,
            have: 0,
            reason: "no released result in the period".into()
        }
    );
    let one = descriptive(&[15.2]);
    let one = one.ok().unwrap();
    assert_eq!(one.mean, 15.2);
    assert!(matches!(
        one.sd,
        Outcome::InsufficientData {
            needed: 2,
            have: 1,
            ..
        }
    ));
    assert!(matches!(
        pass_rate(0, 0),
        Outcome::InsufficientData { needed: 1, .. }
    ));
    assert!(matches!(
        linear_trend(&[0., 1.], &[1., 2.]),
        Outcome::InsufficientData { needed: 3, .. }
    ));
    // Three values sampled at one instant: no slope can be estimated.
    assert!(matches!(
        linear_trend(&[5., 5., 5.], &[1., 2., 3.]),
        Outcome::InsufficientData { .. }
    ));
    assert!(matches!(
        mann_kendall(&[5., 5., 5.], &[1., 2., 3.]),
        Outcome::InsufficientData { .. }
    ));
    assert!(matches!(
        control_chart(&[1.0]),
        Outcome::InsufficientData { needed: 2, .. }
    ));
    assert!(matches!(
        exceedance(&[1.0, 2.0], &[upper("3.00", Operator::Le)]),
        Outcome::InsufficientData { needed: 3, .. }
    ));
    // Everything serializes to JSON without NaN (serde_json would write null for NaN).
    let json = serde_json::to_string(&analyse(&[], &[])).unwrap();
    assert!(json.contains("\"status\":\"insufficient_data\""), "{json}");
}

#[test]
fn constant_series_has_no_nan() {
    // All values equal: sd 0, perfect-fit trend with slope 0, MK S = 0, degenerate exceedance.
    let t = [0., 10., 20., 30.];
    let x = [0.80; 4];
    let tr = linear_trend(&t, &x);
    let tr = tr.ok().unwrap();
    assert_eq!((tr.slope_per_30_days, tr.p_value), (0.0, 1.0));
    let mk = mann_kendall(&t, &x);
    let mk = mk.ok().unwrap();
    assert_eq!((mk.s, mk.z, mk.p_value), (0, 0.0, 1.0));
    let e = exceedance(
        &x,
        &[upper("1.00", Operator::Lt), upper("0.80", Operator::Le)],
    );
    let e = e.ok().unwrap();
    // 0.80 < 1.00 passes → 0; 0.80 ≤ 0.80 passes → 0 (failing needs X > 0.80).
    assert_eq!(e[0].probability, 0.0);
    assert_eq!(e[1].probability, 0.0);
    // 0.80 < 0.80 fails → 1.
    let e = exceedance(&x, &[upper("0.80", Operator::Lt)]);
    assert_eq!(e.ok().unwrap()[0].probability, 1.0);
    let cc = control_chart(&x);
    let cc = cc.ok().unwrap();
    assert_eq!((cc.ucl, cc.lcl, cc.violations.len()), (0.8, 0.8, 0));
}

#[test]
fn wilson_interval_matches_scipy_binomtest() {
    let p = pass_rate(10, 12);
    let p = p.ok().unwrap();
    close(p.rate, 10.0 / 12.0);
    close(p.wilson_low, 0.5519691377470266);
    close(p.wilson_high, 0.953034857816146);
    let p = pass_rate(0, 5);
    let p = p.ok().unwrap();
    close(p.wilson_low, 0.0);
    close(p.wilson_high, 0.43448246478317476);
    let p = pass_rate(7, 7);
    let p = p.ok().unwrap();
    close(p.wilson_low, 0.6456695649333126);
    close(p.wilson_high, 1.0);
}

#[test]
fn linear_trend_matches_scipy_linregress() {
    let a = linear_trend(&A_T, &A_X);
    let a = a.ok().unwrap();
    close(a.slope_per_30_days, 0.32900427149543243);
    close(a.ci_low, 0.24757312564022957);
    close(a.ci_high, 0.4104354173506353);
    close(a.p_value, 4.128573167271084e-06);
    assert_eq!((a.df, a.direction), (10, Direction::Increasing));
    // The fitted line passes through (mean t, mean x).
    close(a.at(a.mean_t), 15.5175);
    let b = linear_trend(&B_T, &B_X);
    let b = b.ok().unwrap();
    close(b.slope_per_30_days, 0.011721650023526951);
    close(b.ci_low, -0.024757584690843996);
    close(b.ci_high, 0.048200884737897895);
    close(b.p_value, 0.4798909442901873);
    assert_eq!(b.direction, Direction::NoTrend);
}

#[test]
fn mann_kendall_matches_the_textbook_formulas() {
    let a = mann_kendall(&A_T, &A_X);
    let a = a.ok().unwrap();
    assert_eq!(a.s, 52);
    close(a.var_s, 212.66666666666666);
    close(a.z, 3.4971999547510824);
    close(a.p_value, 0.0004701692793139693);
    close(a.tau, 0.7878787878787878);
    close(a.sen_slope_per_30_days, 0.32765060240963867);
    assert_eq!(a.direction, Direction::Increasing);
    // B has tied values (ties correction) and pairs sampled the same day (no Sen slope pair).
    let b = mann_kendall(&B_T, &B_X);
    let b = b.ok().unwrap();
    assert_eq!(b.s, 9);
    close(b.var_s, 117.66666666666667);
    close(b.z, 0.7375021006356025);
    close(b.p_value, 0.4608170662312341);
    close(b.tau, 0.2);
    close(b.sen_slope_per_30_days, 0.010344827586206905);
}

#[test]
fn sen_slope_by_bisection_equals_the_direct_median() {
    // Self-consistency (no Python): 400 pseudo-random points with repeated times and values;
    // the bisection used above 4·10⁶ pairs must find the median the sort finds.
    let mut state = 12345u64;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as f64 / (1u64 << 31) as f64
    };
    let mut t = 0.0;
    let (mut ts, mut xs) = (Vec::new(), Vec::new());
    for i in 0..400 {
        if i % 7 != 3 {
            t += (next() * 5.0).floor() + 1.0;
        }
        ts.push(t);
        xs.push((10.0 + 0.01 * t + next()) * 100.0_f64.round() / 100.0);
    }
    let direct = sen_slope_for_test(&ts, &xs, false);
    let bisect = sen_slope_for_test(&ts, &xs, true);
    assert!(
        (direct - bisect).abs() <= 1e-12 * direct.abs().max(1e-3),
        "{direct} vs {bisect}"
    );
    // Odd and even pair counts both (401 points change the parity of n(n−1)/2 here).
    ts.push(t + 3.0);
    xs.push(12.0);
    let direct = sen_slope_for_test(&ts, &xs, false);
    let bisect = sen_slope_for_test(&ts, &xs, true);
    assert!(
        (direct - bisect).abs() <= 1e-12 * direct.abs().max(1e-3),
        "{direct} vs {bisect}"
    );
}

#[test]
fn control_chart_limits_and_rules_match_numpy() {
    let c = control_chart(&C_X);
    let c = c.ok().unwrap();
    close(c.centre, 10.085);
    close(c.mr_bar, 0.35263157894736846);
    close(c.ucl, 11.022849944008959);
    close(c.lcl, 9.147150055991043);
    close(c.mr_ucl, 3.267 * 0.35263157894736846);
    let found: Vec<(ControlRule, usize, usize)> = c
        .violations
        .iter()
        .map(|v| (v.rule, v.first, v.last))
        .collect();
    assert_eq!(
        found,
        vec![
            (ControlRule::NineOnOneSide, 5, 13),
            (ControlRule::SixTrending, 14, 19)
        ]
    );
    let e = control_chart(&E_X);
    let e = e.ok().unwrap();
    close(e.ucl, 6.40113475177305);
    close(e.lcl, 3.918865248226951);
    let found: Vec<(ControlRule, usize, usize)> = e
        .violations
        .iter()
        .map(|v| (v.rule, v.first, v.last))
        .collect();
    assert_eq!(found, vec![(ControlRule::BeyondLimits, 8, 8)]);
}

#[test]
fn six_trending_counts_a_shared_turning_point() {
    // By hand: 1..6 rises (6 points, indices 0–5), then 6 → 1 falls (indices 5–10).
    let x = [1., 2., 3., 4., 5., 6., 5., 4., 3., 2., 1.];
    let c = control_chart(&x);
    let rules: Vec<(ControlRule, usize, usize)> = c
        .ok()
        .unwrap()
        .violations
        .iter()
        .filter(|v| v.rule == ControlRule::SixTrending)
        .map(|v| (v.rule, v.first, v.last))
        .collect();
    assert_eq!(
        rules,
        vec![
            (ControlRule::SixTrending, 0, 5),
            (ControlRule::SixTrending, 5, 10)
        ]
    );
    // Five rising points are not a violation; an equal value breaks a run.
    let c = control_chart(&[1., 2., 3., 4., 5., 5., 6., 7.]);
    assert!(c
        .ok()
        .unwrap()
        .violations
        .iter()
        .all(|v| v.rule != ControlRule::SixTrending));
}

#[test]
fn exceedance_matches_scipy_t_and_norm() {
    let limits = [
        upper("1.00", Operator::Lt),
        upper("3.00", Operator::Le),
        upper("0.80", Operator::Ge),
    ];
    let e = exceedance(&D_X, &limits);
    let e = e.ok().unwrap();
    close(e[0].probability, 0.06592302687330372);
    close(e[0].probability_normal, 0.03521859059075623);
    assert!((e[1].probability - 1.0870323402008724e-10).abs() < 1e-15);
    assert!(e[1].probability_normal < 1e-15);
    close(e[2].probability, 0.005393440647277434);
    close(e[2].probability_normal, 0.0001299450730714985);
    assert!(
        e[0].model.contains("Student-t predictive"),
        "{}",
        e[0].model
    );
    let a = exceedance(&A_X, &[upper("16.00", Operator::Lt)]);
    let a = a.ok().unwrap();
    close(a[0].probability, 0.16128207234015532);
    close(a[0].probability_normal, 0.14051352498181152);
}

#[test]
fn analyse_combines_everything_from_exact_decimals() {
    // Series A as points, one day = 86 400 000 ms from 2025-11-01 00:00 UTC; verdicts against
    // Ad < 16.00: 16.05 and 16.21 fail, so 10 of 12 pass (Wilson values as above).
    let start = Utc.with_ymd_and_hms(2025, 11, 1, 0, 0, 0).unwrap();
    let points: Vec<Point> = A_T
        .iter()
        .zip(A_X)
        .map(|(t, x)| Point {
            at: start + chrono::Duration::days(*t as i64),
            value: d(&format!("{x:.2}")),
            verdict: Some(if x < 16.0 {
                Verdict::Pass
            } else {
                Verdict::Fail
            }),
            retest: false,
        })
        .collect();
    let s = analyse(&points, &[upper("16.00", Operator::Lt)]);
    assert_eq!(s.n, 12);
    close(s.descriptive.ok().unwrap().mean, 15.5175);
    let pr = s.pass_rate.ok().unwrap();
    assert_eq!((pr.passed, pr.n), (10, 12));
    close(pr.wilson_low, 0.5519691377470266);
    close(
        s.linear_trend.ok().unwrap().slope_per_30_days,
        0.32900427149543243,
    );
    close(
        s.mann_kendall.ok().unwrap().sen_slope_per_30_days,
        0.32765060240963867,
    );
    close(s.risk.unwrap(), 0.16128207234015532);
}
