//! Individuals and moving-range (X-mR) control chart with three run rules (docs/statistics.md).
//!
//! Centre line x̄; σ̂ = mR̄ / d₂ with d₂ = 1.128 (the bias constant of the range of two
//! observations, ISO 7870-2:2023 / Montgomery, Introduction to Statistical Quality Control,
//! Appendix VI); limits x̄ ± 3σ̂. Rules (Western Electric / Nelson): a point beyond 3σ; nine
//! points in a row on one side of the centre line; six points in a row steadily rising or
//! falling.

use serde::Serialize;

use crate::domain::stats::Outcome;

/// d₂ for moving ranges of two observations.
pub const D2: f64 = 1.128;

/// D₄ for the upper limit of the moving-range chart (n = 2).
pub const D4: f64 = 3.267;

/// A run rule of the individuals chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlRule {
    /// A point above the UCL or below the LCL.
    BeyondLimits,
    /// Nine (or more) points in a row strictly on one side of the centre line.
    NineOnOneSide,
    /// Six (or more) points in a row, each strictly above (or below) the one before.
    SixTrending,
}

/// One violation: the points `first..=last` (indices into the series, time order).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Violation {
    /// Which rule.
    pub rule: ControlRule,
    /// Index of the first point of the run (= `last` for a single point).
    pub first: usize,
    /// Index of the last point of the run.
    pub last: usize,
}

/// An X-mR chart.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ControlChart {
    /// Points.
    pub n: usize,
    /// Centre line: the mean x̄.
    pub centre: f64,
    /// Mean moving range mR̄ = Σ|x_i − x_{i−1}| / (n − 1).
    pub mr_bar: f64,
    /// σ̂ = mR̄ / 1.128.
    pub sigma: f64,
    /// Upper control limit x̄ + 3σ̂.
    pub ucl: f64,
    /// Lower control limit x̄ − 3σ̂.
    pub lcl: f64,
    /// Upper limit of the moving-range chart D₄·mR̄ (3.267·mR̄).
    pub mr_ucl: f64,
    /// Rule violations in order of their first point (beyond-limits points one by one, runs as
    /// maximal runs).
    pub violations: Vec<Violation>,
}

/// Maximal runs of at least `min_len` consecutive indices, where `joins(i)` links i to i − 1.
fn runs(
    n: usize,
    min_len: usize,
    joins: impl Fn(usize) -> bool,
    rule: ControlRule,
) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=n {
        if i == n || !joins(i) {
            if i - start >= min_len {
                out.push(Violation {
                    rule,
                    first: start,
                    last: i - 1,
                });
            }
            start = i;
        }
    }
    out
}

/// Maximal runs of at least `min_len` points, each strictly above (or each strictly below) the
/// one before; an equal value ends a run.
fn trends(values: &[f64], min_len: usize) -> Vec<Violation> {
    let mut out = Vec::new();
    let (mut start, mut dir) = (0usize, 0i8);
    let close = |start: usize, last: usize, out: &mut Vec<Violation>| {
        if last + 1 - start >= min_len {
            out.push(Violation {
                rule: ControlRule::SixTrending,
                first: start,
                last,
            });
        }
    };
    for i in 1..values.len() {
        let step = if values[i] > values[i - 1] {
            1
        } else if values[i] < values[i - 1] {
            -1
        } else {
            0
        };
        if step != 0 && step == dir {
            continue;
        }
        close(start, i - 1, &mut out);
        if step != 0 {
            (start, dir) = (i - 1, step);
        } else {
            (start, dir) = (i, 0);
        }
    }
    if !values.is_empty() {
        close(start, values.len() - 1, &mut out);
    }
    out
}

/// The X-mR chart of `values` in time order with its rule violations.
///
/// Returns [`Outcome::InsufficientData`] below 2 values (no moving range).
pub fn control_chart(values: &[f64]) -> Outcome<ControlChart> {
    let n = values.len();
    if n < 2 {
        return Outcome::insufficient(2, n, "a moving range needs two values");
    }
    let centre = values.iter().sum::<f64>() / n as f64;
    let mr_bar = values.windows(2).map(|w| (w[1] - w[0]).abs()).sum::<f64>() / (n - 1) as f64;
    let sigma = mr_bar / D2;
    let (ucl, lcl) = (centre + 3.0 * sigma, centre - 3.0 * sigma);
    let mut violations: Vec<Violation> = values
        .iter()
        .enumerate()
        .filter(|(_, x)| **x > ucl || **x < lcl)
        .map(|(i, _)| Violation {
            rule: ControlRule::BeyondLimits,
            first: i,
            last: i,
        })
        .collect();
    // Side of each point: +1 above, −1 below, 0 on the centre line (which breaks a run).
    let side = |i: usize| {
        if values[i] > centre {
            1
        } else if values[i] < centre {
            -1
        } else {
            0
        }
    };
    violations.extend(runs(
        n,
        9,
        |i| side(i) != 0 && side(i) == side(i - 1),
        ControlRule::NineOnOneSide,
    ));
    violations.extend(trends(values, 6));
    violations.sort_by_key(|v| (v.first, v.last));
    Outcome::Ok {
        value: ControlChart {
            n,
            centre,
            mr_bar,
            sigma,
            ucl,
            lcl,
            mr_ucl: D4 * mr_bar,
            violations,
        },
    }
}
