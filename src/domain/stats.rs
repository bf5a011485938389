//! Trend statistics of one supplier's released final results for one parameter (issue 6;
//! docs/statistics.md gives every formula with a worked reading).
//!
//! Statistics are the one place where coallab computes in binary floating point: the exact
//! decimal results ([`Point::value`]) are converted to `f64` here, at the boundary, and nothing
//! computed here ever feeds back into a verdict. Verdicts shown with the points are the ones
//! judged on the exact decimals (GB/T 8170-2008).
//!
//! Every statistic that needs more points than there are returns
//! [`Outcome::InsufficientData`] (never NaN or infinity). Distributions (Student's t, normal)
//! come from `statrs`. The pieces live in [`crate::domain::stats_trend`] (linear trend,
//! Mann–Kendall, Sen's slope) and [`crate::domain::stats_control`] (X-mR chart).

use chrono::{DateTime, Utc};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

use crate::domain::stats_control::{control_chart, ControlChart};
use crate::domain::stats_trend::{linear_trend, mann_kendall, LinearTrend, MannKendall};
use crate::domain::terms::{Operator, Verdict};

/// Milliseconds in a day (time axis of the trend statistics is in days).
const MS_PER_DAY: f64 = 86_400_000.0;

/// The 97.5 % quantile of the standard normal distribution (two-sided 95 %).
pub const Z_975: f64 = 1.959_963_984_540_054;

/// The result of a statistic, or why it could not be computed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome<T> {
    /// Computed.
    Ok {
        /// The statistic.
        value: T,
    },
    /// Too few usable points: `needed` are required, `have` are available.
    InsufficientData {
        /// Points required.
        needed: usize,
        /// Points available.
        have: usize,
        /// What is missing, in words.
        reason: String,
    },
}

impl<T> Outcome<T> {
    /// The value when computed.
    pub fn ok(&self) -> Option<&T> {
        match self {
            Outcome::Ok { value } => Some(value),
            Outcome::InsufficientData { .. } => None,
        }
    }

    pub(crate) fn insufficient(needed: usize, have: usize, reason: impl Into<String>) -> Self {
        Outcome::InsufficientData {
            needed,
            have,
            reason: reason.into(),
        }
    }
}

/// One released final result of one sample, as the statistics see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Sampling instant (UTC).
    pub at: DateTime<Utc>,
    /// The result at full precision, in the parameter's unit on its basis.
    pub value: Decimal,
    /// Pass/fail of this parameter against every limit on it that applied to the sample;
    /// `None` when no limit applied to this parameter.
    pub verdict: Option<Verdict>,
    /// True when the value comes from a released retest (else from the initial test).
    pub retest: bool,
}

/// A limit line: one distinct limit on the parameter (several sets may share it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LimitLine {
    /// The operator a passing value satisfies (e.g. `lt` for "Ad < 16.00").
    pub operator: Operator,
    /// The limit value, in the parameter's unit on its basis.
    pub value: Decimal,
    /// The limit sets that hold this limit.
    pub limit_set_ids: Vec<String>,
}

impl LimitLine {
    /// True for an upper limit (≤ or <): failing means lying above it.
    pub fn is_upper(&self) -> bool {
        matches!(self.operator, Operator::Le | Operator::Lt)
    }
}

/// n, mean, standard deviation, median, minimum, maximum (unit of the parameter).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Descriptive {
    /// Number of values.
    pub n: usize,
    /// Arithmetic mean x̄ = Σx / n.
    pub mean: f64,
    /// Sample standard deviation s = √(Σ(x − x̄)² / (n − 1)); needs n ≥ 2.
    pub sd: Outcome<f64>,
    /// Median (mean of the two middle values when n is even).
    pub median: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
}

/// Pass rate with its Wilson score 95 % interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PassRate {
    /// Samples judged on this parameter.
    pub n: usize,
    /// Of which passed.
    pub passed: usize,
    /// passed / n.
    pub rate: f64,
    /// Lower end of the Wilson 95 % interval.
    pub wilson_low: f64,
    /// Upper end of the Wilson 95 % interval.
    pub wilson_high: f64,
}

/// The estimated probability that the next sample fails one limit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Exceedance {
    /// The limit.
    pub limit: LimitLine,
    /// P(next value on the failing side) under the Student-t predictive model (used for ranking).
    pub probability: f64,
    /// The same under the plug-in normal model N(x̄, s²), for comparison.
    pub probability_normal: f64,
    /// The model in words, with its numbers.
    pub model: String,
}

/// Everything computed for one series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesStats {
    /// Number of points.
    pub n: usize,
    /// Descriptive statistics (needs 1 point; sd needs 2).
    pub descriptive: Outcome<Descriptive>,
    /// Pass rate over the points that have a verdict (needs 1).
    pub pass_rate: Outcome<PassRate>,
    /// Least-squares trend (needs 3 points at 2 distinct times).
    pub linear_trend: Outcome<LinearTrend>,
    /// Mann–Kendall test and Sen's slope (needs 3).
    pub mann_kendall: Outcome<MannKendall>,
    /// Individuals (X-mR) control chart (needs 2).
    pub control_chart: Outcome<ControlChart>,
    /// Probability that the next sample fails each limit (needs 3).
    pub exceedance: Outcome<Vec<Exceedance>>,
    /// The largest exceedance probability over the limits (the risk used for ranking).
    pub risk: Option<f64>,
}

/// Converts an exact decimal to `f64` for statistics only.
pub fn to_f64(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(0.0)
}

/// Days since the Unix epoch of an instant (the time axis of the trend statistics).
pub fn days(at: DateTime<Utc>) -> f64 {
    at.timestamp_millis() as f64 / MS_PER_DAY
}

/// n, mean, sd, median, min, max of `values`.
///
/// Returns [`Outcome::InsufficientData`] for an empty slice; `sd` alone is insufficient for
/// one value.
pub fn descriptive(values: &[f64]) -> Outcome<Descriptive> {
    let n = values.len();
    if n == 0 {
        return Outcome::insufficient(1, 0, "no released result in the period");
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let sd = if n < 2 {
        Outcome::insufficient(2, n, "a standard deviation needs two values")
    } else {
        let ss: f64 = values.iter().map(|x| (x - mean).powi(2)).sum();
        Outcome::Ok {
            value: (ss / (n - 1) as f64).sqrt(),
        }
    };
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    Outcome::Ok {
        value: Descriptive {
            n,
            mean,
            sd,
            median,
            min: sorted[0],
            max: sorted[n - 1],
        },
    }
}

/// Median of a non-empty slice (sorts a copy).
pub(crate) fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Pass rate `passed / n` with the Wilson score 95 % interval (Wilson 1927):
/// centre (p̂ + z²/2n)/(1 + z²/n), half-width z·√(p̂(1 − p̂)/n + z²/4n²)/(1 + z²/n), z = 1.95996.
///
/// Returns [`Outcome::InsufficientData`] when `n` is 0.
pub fn pass_rate(passed: usize, n: usize) -> Outcome<PassRate> {
    if n == 0 {
        return Outcome::insufficient(1, 0, "no result in the period was judged on this parameter");
    }
    let nf = n as f64;
    let p = passed as f64 / nf;
    let z2 = Z_975 * Z_975;
    let denom = 1.0 + z2 / nf;
    let centre = (p + z2 / (2.0 * nf)) / denom;
    let half = Z_975 * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt() / denom;
    Outcome::Ok {
        value: PassRate {
            n,
            passed,
            rate: p,
            wilson_low: (centre - half).max(0.0),
            wilson_high: (centre + half).min(1.0),
        },
    }
}

/// Probability that the next value fails each of `limits`, from the values alone.
///
/// Model (stated in each answer): the values are independent draws from one normal
/// distribution with unknown mean and variance; the next value then follows the Student-t
/// predictive distribution x̄ + s·√(1 + 1/n)·T(n − 1). For an upper limit L the probability is
/// P(X > L) = 1 − F_t((L − x̄)/(s√(1 + 1/n)); n − 1), for a lower limit P(X < L). Equality with
/// the limit has probability 0 under a continuous model, so ≤ and < give the same number. The
/// plug-in normal N(x̄, s²) is given alongside. When every value is equal (s = 0) the
/// probability is 1 if x̄ fails the limit, else 0. The model ignores trends: read it with the
/// trend tests.
///
/// Returns [`Outcome::InsufficientData`] below 3 values.
pub fn exceedance(values: &[f64], limits: &[LimitLine]) -> Outcome<Vec<Exceedance>> {
    let n = values.len();
    if n < 3 {
        return Outcome::insufficient(3, n, "an exceedance probability needs three values");
    }
    let Some(d) = descriptive(values).ok().cloned() else {
        return Outcome::insufficient(3, n, "no values");
    };
    let s = d.sd.ok().copied().unwrap_or(0.0);
    let nf = n as f64;
    let scale = s * (1.0 + 1.0 / nf).sqrt();
    let out = limits
        .iter()
        .map(|limit| {
            let l = to_f64(limit.value);
            let upper = limit.is_upper();
            let (p_t, p_n, model) = if s == 0.0 {
                let fails = match limit.operator {
                    Operator::Le => d.mean > l,
                    Operator::Lt => d.mean >= l,
                    Operator::Ge => d.mean < l,
                    Operator::Gt => d.mean <= l,
                };
                let p = if fails { 1.0 } else { 0.0 };
                (
                    p,
                    p,
                    format!("degenerate: all {n} values equal {:.4}", d.mean),
                )
            } else {
                let z = (l - d.mean) / scale;
                // Both constructors only fail for a non-positive scale or freedom, excluded here.
                let t = StudentsT::new(0.0, 1.0, nf - 1.0)
                    .map(|t| t.cdf(z))
                    .unwrap_or(0.5);
                let zn = (l - d.mean) / s;
                let nn = Normal::new(0.0, 1.0).map(|n| n.cdf(zn)).unwrap_or(0.5);
                let (p_t, p_n) = if upper { (1.0 - t, 1.0 - nn) } else { (t, nn) };
                (
                    p_t,
                    p_n,
                    format!(
                        "Student-t predictive: X = x̄ + s·√(1 + 1/n)·T(n − 1) with x̄ = {:.4}, \
                         s = {:.4}, n = {n}; P(X {} {}) (independent normal values, no trend)",
                        d.mean,
                        s,
                        if upper { ">" } else { "<" },
                        limit.value
                    ),
                )
            };
            Exceedance {
                limit: limit.clone(),
                probability: p_t,
                probability_normal: p_n,
                model,
            }
        })
        .collect();
    Outcome::Ok { value: out }
}

/// Computes every statistic of one series. `points` are in time order; `limits` are the
/// limits on the parameter that apply to the next sample (those of the latest sample).
pub fn analyse(points: &[Point], limits: &[LimitLine]) -> SeriesStats {
    let values: Vec<f64> = points.iter().map(|p| to_f64(p.value)).collect();
    let t: Vec<f64> = points.iter().map(|p| days(p.at)).collect();
    let judged: Vec<Verdict> = points.iter().filter_map(|p| p.verdict).collect();
    let passed = judged.iter().filter(|v| **v == Verdict::Pass).count();
    let exceedance = exceedance(&values, limits);
    let risk = exceedance
        .ok()
        .and_then(|e| e.iter().map(|x| x.probability).reduce(f64::max));
    SeriesStats {
        n: points.len(),
        descriptive: descriptive(&values),
        pass_rate: pass_rate(passed, judged.len()),
        linear_trend: linear_trend(&t, &values),
        mann_kendall: mann_kendall(&t, &values),
        control_chart: control_chart(&values),
        exceedance,
        risk,
    }
}

#[cfg(test)]
#[path = "stats_tests.rs"]
mod tests;
