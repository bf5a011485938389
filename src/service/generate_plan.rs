//! The plan of a generated data set (`coallab demo generate`): suppliers, and for every sample
//! the random draws of the demo county ([`crate::service::demo`]): typed determinations, how
//! long the lab takes, whether a failed enterprise appeals. Pure and deterministic for a seed.
//!
//! The plan holds no outcome: verdicts, deadlines and precision decisions are worked out from it
//! by the domain rules, either by the real workflow ([`crate::service::generate_replay`]) or by
//! the bulk writer ([`crate::service::generate_bulk`]); both must give the same rows.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;

use crate::domain::repeatability::default_table;
use crate::domain::terms::Analysis;
use crate::service::demo::{Profile, PROFILES};
use crate::service::samples::NewSample;

/// First sampling day of a generated data set (the official calendar fixture starts 2025-01-01).
pub const FIRST_DAY: (i32, u32, u32) = (2025, 1, 1);
/// Last sampling day (the calendar fixture ends 2026-12-31; deadlines need a month after it).
pub const LAST_DAY: (i32, u32, u32) = (2026, 11, 29);
/// Samples of the supplier with many results: `min(BIG_SUPPLIER_SAMPLES, ⌈N/2⌉)`, spread evenly
/// over the period, so that at 20 000 samples or more it has over 10 000 released St,d results.
pub const BIG_SUPPLIER_SAMPLES: usize = 10_500;
/// Towns of the demo county (the demo suppliers' towns).
pub const TOWNS: [&str; 7] = [
    "东关镇 Dongguan",
    "北辰镇 Beichen",
    "西河镇 Xihe",
    "南岭镇 Nanling",
    "石桥镇 Shiqiao",
    "柳林乡 Liulin",
    "马头镇 Matou",
];
/// The demo county's jurisdiction, where every generated supplier lies.
pub const JURISDICTION: &str = "cn-he-handan-demo";

/// The instant after which nothing happens: 2026-11-30 00:00 Beijing time. Work that would
/// come later stays undone, so the last days' samples are still in progress.
pub fn cutoff() -> DateTime<Utc> {
    local(2026, 11, 30, 0, 0)
}

/// A Beijing-time instant.
fn local(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

/// One generated supplier.
#[derive(Debug, Clone)]
pub struct SupplierPlan {
    /// Code, e.g. `GEN-SP-00001`.
    pub code: String,
    /// Name (invented).
    pub name: String,
    /// `production_enterprise` or `sale_point`.
    pub kind: &'static str,
    /// Town of the demo county.
    pub town: &'static str,
    /// Licence number (unique).
    pub licence_no: String,
    /// Quality profile (one of the demo county's nine).
    pub profile: &'static Profile,
}

impl SupplierPlan {
    fn is_pe(&self) -> bool {
        self.kind == "production_enterprise"
    }
}

/// The determinations typed for one analysis, in order; entry stops at the first accepted mean.
#[derive(Debug, Clone)]
pub struct AnalysisValues {
    /// The analysis.
    pub analysis: Analysis,
    /// Typed values (up to four).
    pub typed: Vec<String>,
}

/// The three analyses of one test stage (Mad, Aad, St,ad as in the demo county).
#[derive(Debug, Clone)]
pub struct StageValues {
    /// Mad, Aad, St,ad in entry order.
    pub analyses: [AnalysisValues; 3],
}

/// Everything drawn for one sample.
#[derive(Debug, Clone)]
pub struct SamplePlan {
    /// Index of the sample, from 0.
    pub index: usize,
    /// Index into the supplier plans.
    pub supplier: usize,
    /// Technician of the initial test (0 or 1); the retest is by the other one.
    pub tech: usize,
    /// Sampling instant.
    pub sampled: DateTime<Utc>,
    /// Initial test determinations.
    pub initial: StageValues,
    /// Calendar days from receipt to submission of the initial test (10 % late: 9–12).
    pub initial_days: i64,
    /// Whether the enterprise appeals a failed initial test (45 %).
    pub appeal: bool,
    /// Calendar days from the result's receipt to the appeal (3–11, inside the window).
    pub appeal_after_days: i64,
    /// Retest determinations (used only after an appeal).
    pub retest: StageValues,
    /// Calendar days from the appeal to the retest's submission (2–4).
    pub retest_days: i64,
}

/// When each step of a sample happens (steps after [`cutoff`] are not done).
#[derive(Debug, Clone, Copy)]
pub struct Timeline {
    /// Registration.
    pub registered: DateTime<Utc>,
    /// Receipt in the lab (initial test starts its clock).
    pub received: DateTime<Utc>,
    /// Testing started.
    pub started: DateTime<Utc>,
    /// First determination of the initial test; analyses at +0 h, +2 h, +4 h, 20 min apart.
    pub tested: DateTime<Utc>,
    /// Initial test submitted for review.
    pub submitted: DateTime<Utc>,
    /// Initial test released.
    pub released: DateTime<Utc>,
    /// The enterprise received the failed result (recorded one hour later).
    pub result_received: DateTime<Utc>,
    /// Retest requested.
    pub appealed: DateTime<Utc>,
    /// First determination of the retest.
    pub retested: DateTime<Utc>,
    /// Retest submitted.
    pub retest_submitted: DateTime<Utc>,
    /// Retest released.
    pub retest_released: DateTime<Utc>,
    /// A failed, unappealed sample closed after the appeal window.
    pub closed: DateTime<Utc>,
}

impl SamplePlan {
    /// The instants of every step.
    pub fn timeline(&self) -> Timeline {
        let received = self.sampled + Duration::hours(5);
        let tested = received + Duration::days(1);
        let submitted = received + Duration::days(self.initial_days) + Duration::hours(6);
        let released = submitted + Duration::hours(20);
        let result_received = released + Duration::days(2);
        let appealed = result_received + Duration::days(self.appeal_after_days);
        let retest_submitted = appealed + Duration::days(self.retest_days);
        Timeline {
            registered: self.sampled + Duration::hours(3),
            received,
            started: received + Duration::minutes(30),
            tested,
            submitted,
            released,
            result_received,
            appealed,
            retested: appealed + Duration::days(1),
            retest_submitted,
            retest_released: retest_submitted + Duration::hours(6),
            closed: result_received + Duration::days(17),
        }
    }

    /// The registration form of this sample.
    pub fn new_sample(&self, supplier: &SupplierPlan) -> NewSample {
        let i = self.index + 1;
        let pe = supplier.is_pe();
        NewSample {
            supplier_code: supplier.code.clone(),
            coal_category: if pe {
                "型煤 briquette".into()
            } else {
                "无烟块煤 anthracite lump".into()
            },
            claimed_grade: "无烟1号".into(),
            lot_no: format!("LOT-{i:07}"),
            lot_mass_t: Some(format!("{}.0", 20 + (i % 30))),
            top_size_mm: Some(if pe { 50 } else { 25 }),
            sampling_method: "manual".into(),
            increments: Some(20),
            gross_mass_kg: Some(if pe { "340".into() } else { "80".into() }),
            samplers: vec!["张伟".into(), "刘洋".into()],
            sampled_at: self.sampled.to_rfc3339(),
            test_seal_no: format!("T{i:08}"),
            retained_seal_no: format!("B{i:08}"),
            retained_custodian: "样品管理员 周敏".into(),
            retained_location: "存查样柜 A".into(),
            prepared_on: None,
        }
    }
}

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct PlanOptions {
    /// Number of samples.
    pub samples: usize,
    /// Number of suppliers (at least 1).
    pub suppliers: usize,
    /// Random seed.
    pub seed: u64,
}

/// The suppliers: supplier k has the demo profile `(k + 5) mod 9` (so the first, the big one, is
/// like SP-04, the demo's worst sale point), its town `k mod 7`.
pub fn suppliers(n: usize) -> Vec<SupplierPlan> {
    (0..n)
        .map(|k| {
            let profile = &PROFILES[(k + 5) % PROFILES.len()];
            let pe = profile.code.starts_with("PE");
            let kind = if pe { "PE" } else { "SP" };
            SupplierPlan {
                code: format!("GEN-{kind}-{:05}", k + 1),
                name: format!(
                    "生成{} Generated {} {} (invented)",
                    if pe { "型煤厂" } else { "煤炭销售点" },
                    if pe { "Briquette Works" } else { "Coal Point" },
                    k + 1
                ),
                kind: if pe {
                    "production_enterprise"
                } else {
                    "sale_point"
                },
                town: TOWNS[k % TOWNS.len()],
                licence_no: format!("GEN-{kind}-L{:06}", k + 1),
                profile,
            }
        })
        .collect()
}

/// Number of samples of the big supplier (index 0) among `n`.
pub fn big_supplier_samples(n: usize, suppliers: usize) -> usize {
    if suppliers <= 1 {
        n
    } else {
        BIG_SUPPLIER_SAMPLES.min(n.div_ceil(2))
    }
}

/// Draws the samples one by one (an iterator, so that a million plans need no memory).
pub struct SamplePlans {
    opts: PlanOptions,
    big: usize,
    next: usize,
    days: i64,
    first: NaiveDate,
    rng: StdRng,
}

/// The plans of all samples, in sampling order.
pub fn samples(opts: PlanOptions) -> SamplePlans {
    let first = NaiveDate::from_ymd_opt(FIRST_DAY.0, FIRST_DAY.1, FIRST_DAY.2).unwrap_or_default();
    let last = NaiveDate::from_ymd_opt(LAST_DAY.0, LAST_DAY.1, LAST_DAY.2).unwrap_or_default();
    SamplePlans {
        opts,
        big: big_supplier_samples(opts.samples, opts.suppliers.max(1)),
        next: 0,
        days: (last - first).num_days() + 1,
        first,
        rng: StdRng::seed_from_u64(opts.seed),
    }
}

impl Iterator for SamplePlans {
    type Item = SamplePlan;

    fn next(&mut self) -> Option<SamplePlan> {
        let i = self.next;
        let n = self.opts.samples;
        if i >= n {
            return None;
        }
        self.next += 1;
        // The big supplier's share, spread evenly (Bresenham): sample i is its when ⌊(i+1)·b/n⌋ grows.
        let big = (i + 1) * self.big / n > i * self.big / n;
        let m = self.opts.suppliers.max(1);
        let supplier = if big || m == 1 {
            0
        } else {
            self.rng.random_range(1..m)
        };
        // Day k of the period for sample i: k = ⌊i·(days − 1)/(n − 1)⌋, first and last day included.
        let day = self.first + Duration::days((i as i64 * (self.days - 1)) / (n as i64 - 1).max(1));
        let minute = self.rng.random_range(0..(9 * 60));
        let sampled = local(
            chrono::Datelike::year(&day),
            chrono::Datelike::month(&day),
            chrono::Datelike::day(&day),
            8 + minute / 60,
            minute % 60,
        );
        let profile = &PROFILES[(supplier + 5) % PROFILES.len()];
        let spread = self.rng.random_bool(0.08);
        let initial = stage_values(profile, spread, &mut self.rng);
        let initial_days = if self.rng.random_bool(0.1) {
            self.rng.random_range(9..13)
        } else {
            self.rng.random_range(1..6)
        };
        let appeal = self.rng.random_bool(0.45);
        let appeal_after_days = self.rng.random_range(3..12);
        let retest = stage_values(profile, false, &mut self.rng);
        let retest_days = self.rng.random_range(2..5);
        Some(SamplePlan {
            index: i,
            supplier,
            tech: i % 2,
            sampled,
            initial,
            initial_days,
            appeal,
            appeal_after_days,
            retest,
            retest_days,
        })
    }
}

/// Formats a simulated measurement with two decimals as a person would type it.
fn typed(v: f64) -> String {
    format!("{:.2}", v.max(0.01))
}

/// Draws the true contents of one portion as in the demo county: Mad, then Aad and St,ad on the
/// air-dried basis from dry ones (Xad = Xd × (100 − Mad)/100, GB/T 483-2007 §7.2).
fn stage_values(p: &Profile, spread_aad: bool, rng: &mut StdRng) -> StageValues {
    let mad = (p.mad + rng.random_range(-0.5..0.5)).clamp(0.5, 4.0);
    let ad = (p.ad + rng.random_range(-2.5..2.5)).clamp(8.0, 28.0);
    let std = (p.std + rng.random_range(-0.18..0.18)).clamp(0.3, 1.8);
    let aad = ad * (100.0 - mad) / 100.0;
    let stad = std * (100.0 - mad) / 100.0;
    StageValues {
        analyses: [
            values(Analysis::Mad, mad, false, rng),
            values(Analysis::Aad, aad, spread_aad, rng),
            values(Analysis::StAd, stad, false, rng),
        ],
    }
}

/// Up to four typed determinations around `truth`; with `spread` the first pair differs by
/// 1.1 r (a third determination is needed, and the three span 1.1 r ≤ 1.2 r).
fn values(a: Analysis, truth: f64, spread: bool, rng: &mut StdRng) -> AnalysisValues {
    let r: f64 = default_table(a)
        .map(|t| {
            t.r_for_mean(
                Decimal::from_f64_retain(truth)
                    .unwrap_or_default()
                    .round_dp(2),
            )
        })
        .map(|r| r.to_string().parse().unwrap_or(0.2))
        .unwrap_or(0.2);
    let v = if spread {
        [truth - 0.55 * r, truth + 0.55 * r, truth, truth]
    } else {
        let e = rng.random_range(-0.3..0.3) * r;
        [truth + e, truth - e * 0.5, truth, truth]
    };
    AnalysisValues {
        analysis: a,
        typed: v.iter().map(|x| typed(*x)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_supplier_gets_its_fixed_share_spread_over_the_period() {
        // 40 000 samples, 50 suppliers: min(10 500, 20 000) = 10 500 go to supplier 0.
        let plans: Vec<SamplePlan> = samples(PlanOptions {
            samples: 40_000,
            suppliers: 50,
            seed: 7,
        })
        .collect();
        assert_eq!(plans.iter().filter(|p| p.supplier == 0).count(), 10_500);
        assert!(plans.iter().all(|p| p.supplier < 50));
        // Sampling days run from 2025-01-01 to 2026-11-29 in order.
        let tz = chrono_tz::Asia::Shanghai;
        assert_eq!(
            plans[0].sampled.with_timezone(&tz).date_naive().to_string(),
            "2025-01-01"
        );
        assert_eq!(
            plans[39_999]
                .sampled
                .with_timezone(&tz)
                .date_naive()
                .to_string(),
            "2026-11-29"
        );
    }

    #[test]
    fn same_seed_same_plan() {
        let o = PlanOptions {
            samples: 50,
            suppliers: 5,
            seed: 42,
        };
        let a: Vec<String> = samples(o).map(|p| format!("{p:?}")).collect();
        let b: Vec<String> = samples(o).map(|p| format!("{p:?}")).collect();
        assert_eq!(a, b);
    }
}
