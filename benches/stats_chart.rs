//! Time to compute the statistics and draw the charts of one supplier with 10 000 released
//! results (issue 6). Run: `cargo bench --bench stats_chart` (release profile).
//!
//! The results are generated in memory (no database): Ad around 15 % with a slow upward drift
//! and a deterministic pseudo-random scatter, one sample every 2 hours, every 10th a retest,
//! limits Ad < 16.00 and ≤ 40.00 as in the demo county. Prints the best and the median of
//! several runs of each step.

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use coallab::charts::comparison::comparison_chart;
use coallab::charts::supplier::supplier_chart;
use coallab::charts::ChartFormat;
use coallab::domain::stats::{self, LimitLine, Point};
use coallab::domain::terms::{Operator, ResultParameter, Verdict};
use coallab::domain::{stats_control, stats_trend};
use coallab::service::stats::{Series, SupplierRef};
use rust_decimal::Decimal;

const N: usize = 10_000;

fn series(n: usize) -> Series {
    let start = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let limit = Decimal::new(1600, 2);
    let domain_points = (0..n)
        .map(|i| {
            // xorshift64*: a fixed scatter of about ±0.8 %.
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let u = (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64;
            let v = 15.0 + 0.0001 * i as f64 + (u - 0.5) * 1.6;
            // Typed with 4 decimals, as an exact decimal.
            let value = Decimal::new((v * 10_000.0).round() as i64, 4);
            Point {
                at: start + chrono::Duration::hours(2 * i as i64),
                value,
                verdict: Some(if value < limit {
                    Verdict::Pass
                } else {
                    Verdict::Fail
                }),
                retest: i % 10 == 0,
            }
        })
        .collect();
    let limits = vec![
        LimitLine {
            operator: Operator::Lt,
            value: limit,
            limit_set_ids: vec!["cn-jjj-loose-coal".into(), "cn-he-handan-2013".into()],
        },
        LimitLine {
            operator: Operator::Le,
            value: Decimal::new(4000, 2),
            limit_set_ids: vec!["cn-ndrc16-art6".into()],
        },
    ];
    Series {
        supplier: SupplierRef {
            code: "BENCH-01".into(),
            name: "基准测试供应商 bench supplier".into(),
        },
        parameter: ResultParameter::Ad,
        symbol: "Ad",
        unit: "%",
        points: Vec::new(),
        next_limits: limits.clone(),
        limits,
        domain_points,
    }
}

fn time<T>(label: &str, runs: usize, mut f: impl FnMut() -> T) -> T {
    let mut times: Vec<Duration> = Vec::with_capacity(runs);
    let mut out = None;
    for _ in 0..runs {
        let t = Instant::now();
        out = Some(std::hint::black_box(f()));
        times.push(t.elapsed());
    }
    times.sort();
    println!(
        "{label:<58} best {:>9.2} ms   median {:>9.2} ms   ({runs} runs)",
        times[0].as_secs_f64() * 1e3,
        times[runs / 2].as_secs_f64() * 1e3
    );
    out.expect("at least one run")
}

fn main() {
    let s = series(N);
    println!("one supplier, {N} results (Ad), limits < 16.00 and ≤ 40.00");
    let st = time(
        "statistics (all of them, incl. Mann–Kendall + Sen)",
        7,
        || s.stats(),
    );
    let t: Vec<f64> = s.domain_points.iter().map(|p| stats::days(p.at)).collect();
    let x: Vec<f64> = s
        .domain_points
        .iter()
        .map(|p| stats::to_f64(p.value))
        .collect();
    time("  of which: decimal → f64 and time axis", 7, || {
        let t: Vec<f64> = s.domain_points.iter().map(|p| stats::days(p.at)).collect();
        let x: Vec<f64> = s
            .domain_points
            .iter()
            .map(|p| stats::to_f64(p.value))
            .collect();
        (t, x)
    });
    time(
        "  of which: Mann–Kendall S (merge sort) + Sen's slope",
        7,
        || stats_trend::mann_kendall(&t, &x),
    );
    time("  of which: linear trend", 7, || {
        stats_trend::linear_trend(&t, &x)
    });
    time("  of which: X-mR chart and run rules", 7, || {
        stats_control::control_chart(&x)
    });
    time("  of which: descriptive + exceedance", 7, || {
        (
            stats::descriptive(&x),
            stats::exceedance(&x, &s.next_limits),
        )
    });
    let svg = time("supplier chart SVG (1 panel)", 7, || {
        supplier_chart("BENCH-01 基准", &[(&s, &st)], ChartFormat::Svg).unwrap()
    });
    let png = time("supplier chart PNG (1 panel, embedded CJK font)", 7, || {
        supplier_chart("BENCH-01 基准", &[(&s, &st)], ChartFormat::Png).unwrap()
    });
    time(
        "statistics + SVG chart (what GET chart.svg computes)",
        7,
        || {
            let st = s.stats();
            supplier_chart("BENCH-01 基准", &[(&s, &st)], ChartFormat::Svg).unwrap()
        },
    );
    time(
        "statistics + PNG chart (what GET chart.png computes)",
        7,
        || {
            let st = s.stats();
            supplier_chart("BENCH-01 基准", &[(&s, &st)], ChartFormat::Png).unwrap()
        },
    );
    let others: Vec<Series> = (0..8).map(|_| series(N / 8)).collect();
    let mut all: Vec<&Series> = vec![&s];
    all.extend(others.iter());
    let stats: Vec<_> = all.iter().map(|x| x.stats()).collect();
    let entries: Vec<_> = all.iter().copied().zip(stats.iter()).collect();
    time(
        "comparison chart SVG (9 suppliers, 18 750 results)",
        5,
        || comparison_chart("Ad 比较", ResultParameter::Ad, &entries, ChartFormat::Svg).unwrap(),
    );
    println!(
        "sizes: SVG {} kB, PNG {} kB; n = {}, Sen slope {:.5} %/30 d",
        svg.len() / 1024,
        png.len() / 1024,
        st.n,
        st.mann_kendall
            .ok()
            .map_or(f64::NAN, |m| m.sen_slope_per_30_days)
    );
}
