//! Trend tests of a time series: least-squares slope with its Student-t interval, and the
//! Mann–Kendall test with Sen's slope (docs/statistics.md).
//!
//! Time is in days (any origin); slopes are reported per 30 days in the parameter's unit.

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

use crate::domain::stats::{median, Outcome};

/// Days in the "month" that slopes are expressed per.
pub const SLOPE_DAYS: f64 = 30.0;

/// Significance level of the trend verdicts.
pub const ALPHA: f64 = 0.05;

/// Direction of a trend at the 5 % level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Significant upward trend.
    Increasing,
    /// Significant downward trend.
    Decreasing,
    /// Not significant at 5 %.
    NoTrend,
}

fn direction(slope: f64, p_value: f64) -> Direction {
    if p_value >= ALPHA || slope == 0.0 {
        Direction::NoTrend
    } else if slope > 0.0 {
        Direction::Increasing
    } else {
        Direction::Decreasing
    }
}

/// Ordinary least-squares line y = a + b·t.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinearTrend {
    /// Points used.
    pub n: usize,
    /// Degrees of freedom n − 2.
    pub df: usize,
    /// Slope b × 30, unit per 30 days.
    pub slope_per_30_days: f64,
    /// Lower end of the 95 % interval of the slope (b − t₀.₉₇₅,df·SE(b)) × 30.
    pub ci_low: f64,
    /// Upper end of the 95 % interval of the slope × 30.
    pub ci_high: f64,
    /// Standard error of the slope × 30.
    pub std_error: f64,
    /// Two-sided p-value of H₀: b = 0 (t = b / SE(b), n − 2 degrees of freedom).
    pub p_value: f64,
    /// The line passes through (mean_t, mean_y): mean of the times, days since the epoch.
    pub mean_t: f64,
    /// Mean of the values.
    pub mean_y: f64,
    /// Increasing, decreasing or no trend at 5 %.
    pub direction: Direction,
}

impl LinearTrend {
    /// The fitted value at `t` (days since the epoch).
    pub fn at(&self, t: f64) -> f64 {
        self.mean_y + self.slope_per_30_days / SLOPE_DAYS * (t - self.mean_t)
    }
}

/// Least-squares slope of `values` on `t` (days) with its 95 % Student-t interval and p-value.
///
/// b = Sty/Stt, SE(b) = √(SSE/(n − 2)/Stt), interval b ± t₀.₉₇₅(n − 2)·SE(b),
/// p = 2(1 − F_t(|b/SE(b)|; n − 2)). A perfect fit (SSE = 0) gives SE 0, the interval [b, b] and
/// p = 0 (or 1 when b = 0).
///
/// Returns [`Outcome::InsufficientData`] with fewer than 3 points or when all times are equal.
pub fn linear_trend(t: &[f64], values: &[f64]) -> Outcome<LinearTrend> {
    let n = t.len().min(values.len());
    if n < 3 {
        return Outcome::insufficient(3, n, "a linear trend needs three values");
    }
    let nf = n as f64;
    let mt = t[..n].iter().sum::<f64>() / nf;
    let my = values[..n].iter().sum::<f64>() / nf;
    let (mut stt, mut sty) = (0.0, 0.0);
    for i in 0..n {
        stt += (t[i] - mt).powi(2);
        sty += (t[i] - mt) * (values[i] - my);
    }
    if stt <= 0.0 {
        return Outcome::insufficient(3, n, "all values were sampled at the same instant");
    }
    let b = sty / stt;
    let sse: f64 = (0..n)
        .map(|i| (values[i] - my - b * (t[i] - mt)).powi(2))
        .sum();
    let df = n - 2;
    let se = (sse / df as f64 / stt).sqrt();
    let dist = StudentsT::new(0.0, 1.0, df as f64).ok();
    let q = dist.as_ref().map_or(0.0, |d| d.inverse_cdf(0.975));
    let p_value = if se > 0.0 {
        dist.as_ref()
            .map_or(1.0, |d| 2.0 * (1.0 - d.cdf((b / se).abs())))
    } else if b != 0.0 {
        0.0
    } else {
        1.0
    };
    Outcome::Ok {
        value: LinearTrend {
            n,
            df,
            slope_per_30_days: b * SLOPE_DAYS,
            ci_low: (b - q * se) * SLOPE_DAYS,
            ci_high: (b + q * se) * SLOPE_DAYS,
            std_error: se * SLOPE_DAYS,
            p_value,
            mean_t: mt,
            mean_y: my,
            direction: direction(b, p_value),
        },
    }
}

/// Mann–Kendall trend test with Sen's slope.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MannKendall {
    /// Points used.
    pub n: usize,
    /// S = Σ_{i<j} sign(x_j − x_i), points in time order.
    pub s: i64,
    /// Var(S) = [n(n−1)(2n+5) − Σ_g t_g(t_g−1)(2t_g+5)] / 18 (t_g: sizes of groups of equal values).
    pub var_s: f64,
    /// Z = (S − 1)/√Var(S) for S > 0, (S + 1)/√Var(S) for S < 0, 0 for S = 0.
    pub z: f64,
    /// Two-sided p-value 2(1 − Φ(|Z|)).
    pub p_value: f64,
    /// Kendall's tau = S / (n(n − 1)/2).
    pub tau: f64,
    /// Sen's slope × 30: median of (x_j − x_i)/(t_j − t_i) over pairs with t_j ≠ t_i, unit per 30 days.
    pub sen_slope_per_30_days: f64,
    /// Increasing, decreasing or no trend at 5 % (sign of S).
    pub direction: Direction,
}

/// Above this many pairs Sen's slope is found by bisection instead of sorting every pairwise
/// slope (10 000 points make 5·10⁷ pairs: 400 MB of slopes).
pub const DIRECT_SEN_MAX_PAIRS: usize = 4_000_000;

/// Counts pairs i < j with `u[j] < u[i]` (`strict`) or `u[j] <= u[i]` by merge sort,
/// O(n log n). `u` is consumed as scratch.
fn count_descending_pairs(u: &mut [f64], strict: bool) -> u64 {
    let n = u.len();
    if n < 2 {
        return 0;
    }
    let mut buf = vec![0.0; n];
    let mut count = 0u64;
    let mut width = 1;
    while width < n {
        let mut lo = 0;
        while lo < n {
            let mid = (lo + width).min(n);
            let hi = (lo + 2 * width).min(n);
            let (mut i, mut j, mut k) = (lo, mid, lo);
            while i < mid && j < hi {
                // Take from the right run when it is below (or, non-strict, equal to) the left
                // head: it then forms a pair with every element left in the left run.
                let right_first = if strict { u[j] < u[i] } else { u[j] <= u[i] };
                if right_first {
                    buf[k] = u[j];
                    count += (mid - i) as u64;
                    j += 1;
                } else {
                    buf[k] = u[i];
                    i += 1;
                }
                k += 1;
            }
            buf[k..k + mid - i].copy_from_slice(&u[i..mid]);
            k += mid - i;
            buf[k..k + hi - j].copy_from_slice(&u[j..hi]);
            u[lo..hi].copy_from_slice(&buf[lo..hi]);
            lo = hi;
        }
        width *= 2;
    }
    count
}

/// Pairs i < j sampled at the same instant whose values satisfy x_j ≤ x_i (they are not
/// slopes, but the bisection count includes them whatever the slope tried).
fn same_time_pairs(t: &[f64], x: &[f64]) -> (u64, u64) {
    let (mut all, mut le) = (0u64, 0u64);
    let mut start = 0;
    while start < t.len() {
        let mut end = start + 1;
        while end < t.len() && t[end] == t[start] {
            end += 1;
        }
        for i in start..end {
            for j in i + 1..end {
                all += 1;
                if x[j] <= x[i] {
                    le += 1;
                }
            }
        }
        start = end;
    }
    (all, le)
}

/// The k-th smallest (1-based) pairwise slope by bisection on b: the number of pairs with
/// slope ≤ b is the number of pairs i < j with x_j − b·t_j ≤ x_i − b·t_i (t in ascending order).
fn kth_slope(t: &[f64], x: &[f64], k: u64, same_le: u64, bound: f64) -> f64 {
    // Times from the first one, so that x − b·t keeps its precision.
    let t0 = t.first().copied().unwrap_or(0.0);
    let count = |b: f64| {
        let mut u: Vec<f64> = t.iter().zip(x).map(|(t, x)| x - b * (t - t0)).collect();
        count_descending_pairs(&mut u, false) - same_le
    };
    // Stop at 13 significant digits, or 10⁻¹⁵ of the search range around a zero slope.
    let floor = bound * 1e-15;
    let (mut lo, mut hi) = (-bound, bound);
    for _ in 0..200 {
        let mid = lo + (hi - lo) / 2.0;
        if mid <= lo || mid >= hi || hi - lo <= (1e-13 * mid.abs()).max(floor) {
            break;
        }
        if count(mid) >= k {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

/// Sen's slope: the median of (x_j − x_i)/(t_j − t_i) over pairs with t_j ≠ t_i; `None` when
/// every pair has equal times. `t` must be ascending.
fn sen_slope(t: &[f64], x: &[f64]) -> Option<f64> {
    let n = t.len();
    let (same_all, same_le) = same_time_pairs(t, x);
    let pairs = (n * (n - 1) / 2) as u64 - same_all;
    if pairs == 0 {
        return None;
    }
    if pairs as usize <= DIRECT_SEN_MAX_PAIRS {
        let mut slopes = Vec::with_capacity(pairs as usize);
        for i in 0..n {
            for j in i + 1..n {
                let dt = t[j] - t[i];
                if dt != 0.0 {
                    slopes.push((x[j] - x[i]) / dt);
                }
            }
        }
        return Some(median(&slopes));
    }
    Some(sen_slope_bisect(t, x, pairs, same_le))
}

/// Sen's slope by bisection (used above [`DIRECT_SEN_MAX_PAIRS`]), to 13 significant digits.
fn sen_slope_bisect(t: &[f64], x: &[f64], pairs: u64, same_le: u64) -> f64 {
    let min_dt = t
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|d| *d > 0.0)
        .fold(f64::INFINITY, f64::min);
    let (xmin, xmax) = x
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    let bound = (xmax - xmin) / min_dt + 1.0;
    if pairs % 2 == 1 {
        kth_slope(t, x, pairs / 2 + 1, same_le, bound)
    } else {
        (kth_slope(t, x, pairs / 2, same_le, bound)
            + kth_slope(t, x, pairs / 2 + 1, same_le, bound))
            / 2.0
    }
}

/// Mann–Kendall test (Mann 1945, Kendall 1975; normal approximation with the ties correction
/// and a continuity correction of 1) and Sen's slope (Sen 1968) of `values` at times `t`
/// (days, ascending). S is counted by merge sort in O(n log n).
///
/// Returns [`Outcome::InsufficientData`] with fewer than 3 points or when all times are equal.
pub fn mann_kendall(t: &[f64], values: &[f64]) -> Outcome<MannKendall> {
    let n = t.len().min(values.len());
    if n < 3 {
        return Outcome::insufficient(3, n, "the Mann–Kendall test needs three values");
    }
    let (t, values) = (&t[..n], &values[..n]);
    let Some(sen) = sen_slope(t, values) else {
        return Outcome::insufficient(3, n, "all values were sampled at the same instant");
    };
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let (mut ties, mut tied_pairs) = (0.0, 0u64);
    let mut k = 0;
    while k < n {
        let mut g = 1;
        while k + g < n && sorted[k + g] == sorted[k] {
            g += 1;
        }
        let gf = g as f64;
        ties += gf * (gf - 1.0) * (2.0 * gf + 5.0);
        tied_pairs += (g * (g - 1) / 2) as u64;
        k += g;
    }
    let total = (n * (n - 1) / 2) as u64;
    let falling = count_descending_pairs(&mut values.to_vec(), true);
    // Pairs are rising, falling or tied: S = rising − falling.
    let s = (total - falling - tied_pairs) as i64 - falling as i64;
    let nf = n as f64;
    let var_s = (nf * (nf - 1.0) * (2.0 * nf + 5.0) - ties) / 18.0;
    let z = if var_s <= 0.0 || s == 0 {
        0.0
    } else if s > 0 {
        (s - 1) as f64 / var_s.sqrt()
    } else {
        (s + 1) as f64 / var_s.sqrt()
    };
    let p_value = Normal::new(0.0, 1.0).map_or(1.0, |d| 2.0 * (1.0 - d.cdf(z.abs())));
    Outcome::Ok {
        value: MannKendall {
            n,
            s,
            var_s,
            z,
            p_value,
            tau: s as f64 / (nf * (nf - 1.0) / 2.0),
            sen_slope_per_30_days: sen * SLOPE_DAYS,
            direction: direction(s as f64, p_value),
        },
    }
}

#[cfg(test)]
pub(crate) fn sen_slope_for_test(t: &[f64], x: &[f64], bisect: bool) -> f64 {
    let n = t.len();
    let (same_all, same_le) = same_time_pairs(t, x);
    let pairs = (n * (n - 1) / 2) as u64 - same_all;
    if bisect {
        sen_slope_bisect(t, x, pairs, same_le)
    } else {
        sen_slope(t, x).unwrap_or(f64::NAN)
    }
}
