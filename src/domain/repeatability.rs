//! Duplicate determinations: the rule for the number of determinations (GB/T 483-2007;
//! STANDARDS.md §4) with the repeatability limit r chosen by the mean (r tables in
//! [`crate::domain::precision_table`], re-exported here).
//!
//! The rule: two determinations within r → their mean; otherwise a third, range ≤ 1.2 r → mean
//! of three; otherwise a fourth, range ≤ 1.3 r → mean of four; otherwise the mean of a triple
//! of the four with range ≤ 1.2 r (the smallest range; flagged for review when several qualify);
//! otherwise discard all and start again. The mean is always computed here from the
//! determinations, never taken from a client.

pub use crate::domain::precision_table::{
    default_table, default_table_opt, RepeatabilityBand, RepeatabilityTable, TableError,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// What the rule decides for the determinations made so far. Values in the analysis's unit
/// (% mass fraction on the analysis's basis, or MJ/kg for Qgr,ad).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PrecisionOutcome {
    /// Report `mean` (full precision, not rounded) of the determinations at `used`.
    Accepted {
        /// Mean of the determinations used, unrounded.
        mean: Decimal,
        /// Indices into the determinations given, ascending.
        used: Vec<usize>,
        /// r for the mean of the determinations used.
        r: Decimal,
        /// 1 (two determinations), 1.2 (three) or 1.3 (four).
        factor: Decimal,
        /// factor × r.
        allowed_range: Decimal,
        /// max − min of the determinations used.
        range: Decimal,
        /// Set when several triples of four qualified (GB/T 483-2007 gives no choice).
        flagged_for_review: bool,
    },
    /// Make one more determination. `range`, `r` and `allowed_range` are those of the step
    /// that failed (`None` after a single determination).
    NeedsAnotherDetermination {
        /// Number of determinations so far (1, 2 or 3).
        have: usize,
        /// max − min of the determinations so far.
        range: Option<Decimal>,
        /// r for their mean.
        r: Option<Decimal>,
        /// factor × r that the range exceeded.
        allowed_range: Option<Decimal>,
    },
    /// Four determinations and no acceptable set: discard all and start again.
    DiscardAndRestart {
        /// max − min of the four.
        range: Decimal,
        /// r for the mean of the four.
        r: Decimal,
    },
}

/// Why the rule cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PrecisionError {
    /// No determinations were given.
    #[error("no determinations")]
    NoDeterminations,
    /// More than four determinations: GB/T 483-2007 stops at four.
    #[error("{count} determinations given; the rule stops at four (discard and restart)")]
    TooManyDeterminations {
        /// How many were given.
        count: usize,
    },
    /// A determination is negative (contents and calorific values cannot be).
    #[error("determination {index} is negative ({value})")]
    NegativeDetermination {
        /// Index of the determination (0-based).
        index: usize,
        /// The value given.
        value: Decimal,
    },
    /// The repeatability table is not valid.
    #[error("invalid repeatability table: {0}")]
    InvalidTable(#[from] TableError),
    /// Decimal overflow (only with absurd values).
    #[error("decimal overflow")]
    ArithmeticOverflow,
}

/// Mean, range and r of the determinations at `idx`.
struct Step {
    mean: Decimal,
    range: Decimal,
    r: Decimal,
}

fn step(
    values: &[Decimal],
    idx: &[usize],
    table: &RepeatabilityTable,
) -> Result<Step, PrecisionError> {
    let picked = || idx.iter().map(|&i| values[i]);
    let sum = picked().try_fold(Decimal::ZERO, |acc, v| acc.checked_add(v));
    let mean = sum
        .and_then(|s| s.checked_div(Decimal::from(idx.len())))
        .ok_or(PrecisionError::ArithmeticOverflow)?;
    let max = picked().max().unwrap_or(Decimal::ZERO);
    let min = picked().min().unwrap_or(Decimal::ZERO);
    let range = max
        .checked_sub(min)
        .ok_or(PrecisionError::ArithmeticOverflow)?;
    Ok(Step {
        mean,
        range,
        r: table.r_for_mean(mean),
    })
}

fn allowed(r: Decimal, factor: Decimal) -> Result<Decimal, PrecisionError> {
    r.checked_mul(factor)
        .ok_or(PrecisionError::ArithmeticOverflow)
}

fn accepted(
    s: &Step,
    used: Vec<usize>,
    factor: Decimal,
    flagged: bool,
) -> Result<PrecisionOutcome, PrecisionError> {
    Ok(PrecisionOutcome::Accepted {
        mean: s.mean,
        used,
        r: s.r,
        factor,
        allowed_range: allowed(s.r, factor)?,
        range: s.range,
        flagged_for_review: flagged,
    })
}

/// Applies the GB/T 483-2007 rule for the number of determinations to all determinations made
/// so far for one analysis of one sample (in entry order), with r from `table` chosen by the
/// mean of the determinations considered at each step (for a triple of four: that triple's mean).
///
/// Values are in the analysis's unit (% mass fraction, or MJ/kg for Qgr,ad), as typed.
/// One determination is never accepted. Limits: 2 → r, 3 → 1.2 r, 4 → 1.3 r; with four, the
/// fallback triple must be within 1.2 r (its smallest range wins, ties to the first in index
/// order; `flagged_for_review` when more than one triple qualifies).
///
/// # Errors
/// [`PrecisionError::NoDeterminations`], [`PrecisionError::TooManyDeterminations`] (> 4),
/// [`PrecisionError::NegativeDetermination`], [`PrecisionError::InvalidTable`] (see
/// [`RepeatabilityTable::validate`]), [`PrecisionError::ArithmeticOverflow`].
pub fn assess(
    determinations: &[Decimal],
    table: &RepeatabilityTable,
) -> Result<PrecisionOutcome, PrecisionError> {
    table.validate()?;
    let n = determinations.len();
    if n == 0 {
        return Err(PrecisionError::NoDeterminations);
    }
    if n > 4 {
        return Err(PrecisionError::TooManyDeterminations { count: n });
    }
    if let Some((index, &value)) = determinations
        .iter()
        .enumerate()
        .find(|(_, v)| **v < Decimal::ZERO)
    {
        return Err(PrecisionError::NegativeDetermination { index, value });
    }
    if n == 1 {
        return Ok(PrecisionOutcome::NeedsAnotherDetermination {
            have: 1,
            range: None,
            r: None,
            allowed_range: None,
        });
    }
    let factor = match n {
        2 => Decimal::ONE,
        3 => Decimal::new(12, 1),
        _ => Decimal::new(13, 1),
    };
    let all: Vec<usize> = (0..n).collect();
    let s = step(determinations, &all, table)?;
    let limit = allowed(s.r, factor)?;
    if s.range <= limit {
        return accepted(&s, all, factor, false);
    }
    if n < 4 {
        return Ok(PrecisionOutcome::NeedsAnotherDetermination {
            have: n,
            range: Some(s.range),
            r: Some(s.r),
            allowed_range: Some(limit),
        });
    }
    // Four determinations over 1.3 r: look for triples within 1.2 r, in index order.
    let triple_factor = Decimal::new(12, 1);
    let mut qualifying = Vec::new();
    for skip in (0..4).rev() {
        let idx: Vec<usize> = (0..4).filter(|&i| i != skip).collect();
        let t = step(determinations, &idx, table)?;
        if t.range <= allowed(t.r, triple_factor)? {
            qualifying.push((idx, t));
        }
    }
    let flagged = qualifying.len() > 1;
    // min_by_key keeps the first of equal keys, so ties go to the first triple in index order.
    match qualifying.into_iter().min_by_key(|(_, t)| t.range) {
        Some((idx, t)) => accepted(&t, idx, triple_factor, flagged),
        None => Ok(PrecisionOutcome::DiscardAndRestart {
            range: s.range,
            r: s.r,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::terms::Analysis;

    fn d(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    fn ds(v: &[&str]) -> Vec<Decimal> {
        v.iter().map(|s| d(s)).collect()
    }

    fn aad() -> RepeatabilityTable {
        default_table(Analysis::Aad).unwrap()
    }

    fn mean_used(o: &PrecisionOutcome) -> (Decimal, Vec<usize>, bool) {
        match o {
            PrecisionOutcome::Accepted {
                mean,
                used,
                flagged_for_review,
                ..
            } => (*mean, used.clone(), *flagged_for_review),
            other => panic!("expected Accepted, got {other:?}"),
        }
    }

    #[test]
    fn pair_within_r_is_accepted() {
        // mean (12.10 + 12.25)/2 = 12.175 < 15.00 → r 0.20; range 0.15 ≤ 0.20.
        let o = assess(&ds(&["12.10", "12.25"]), &aad()).unwrap();
        assert_eq!(
            o,
            PrecisionOutcome::Accepted {
                mean: d("12.175"),
                used: vec![0, 1],
                r: d("0.20"),
                factor: d("1"),
                allowed_range: d("0.20"),
                range: d("0.15"),
                flagged_for_review: false,
            }
        );
    }

    #[test]
    fn pair_over_r_needs_a_third() {
        // mean 12.225 → r 0.20; range 12.35 − 12.10 = 0.25 > 0.20.
        let o = assess(&ds(&["12.10", "12.35"]), &aad()).unwrap();
        assert_eq!(
            o,
            PrecisionOutcome::NeedsAnotherDetermination {
                have: 2,
                range: Some(d("0.25")),
                r: Some(d("0.20")),
                allowed_range: Some(d("0.20")),
            }
        );
    }

    #[test]
    fn a_third_within_1_2_r() {
        // Pair 12.10, 12.32: range 0.22 > 0.20. With 12.20: mean 36.62/3 = 12.20666…, r 0.20,
        // 1.2 × 0.20 = 0.24 ≥ range 0.22 → mean of three.
        let o = assess(&ds(&["12.10", "12.32", "12.20"]), &aad()).unwrap();
        let (mean, used, _) = mean_used(&o);
        assert_eq!(mean, d("12.206666666666666666666666667"));
        assert_eq!(used, vec![0, 1, 2]);
        // 12.10, 12.35, 12.30: range 0.25 > 0.24 → a fourth.
        let o = assess(&ds(&["12.10", "12.35", "12.30"]), &aad()).unwrap();
        assert!(matches!(
            o,
            PrecisionOutcome::NeedsAnotherDetermination { have: 3, .. }
        ));
    }

    #[test]
    fn four_within_1_3_r() {
        // 12.10, 12.35, 12.35, 12.20: mean 49.00/4 = 12.25, r 0.20, 1.3 r = 0.26 ≥ range 0.25.
        let o = assess(&ds(&["12.10", "12.35", "12.35", "12.20"]), &aad()).unwrap();
        let (mean, used, flagged) = mean_used(&o);
        assert_eq!((mean, used, flagged), (d("12.25"), vec![0, 1, 2, 3], false));
    }

    #[test]
    fn four_with_one_fallback_triple() {
        // 12.10, 12.45, 12.20, 12.25: range 0.35 > 0.26. Triples (index order):
        // {0,1,2} 0.35, {0,1,3} 0.35, {0,2,3} 12.25 − 12.10 = 0.15 ≤ 0.24, {1,2,3} 0.25 > 0.24.
        // Mean of {0,2,3} = 36.55/3 = 12.18333…
        let o = assess(&ds(&["12.10", "12.45", "12.20", "12.25"]), &aad()).unwrap();
        let (mean, used, flagged) = mean_used(&o);
        assert_eq!(mean, d("12.183333333333333333333333333"));
        assert_eq!((used, flagged), (vec![0, 2, 3], false));
    }

    #[test]
    fn several_triples_take_the_smallest_range_and_flag() {
        // 12.10, 12.40, 12.25, 12.30: {0,2,3} range 0.20, {1,2,3} range 0.15 (both ≤ 0.24):
        // {1,2,3} wins, mean 36.95/3 = 12.31666…, flagged.
        let o = assess(&ds(&["12.10", "12.40", "12.25", "12.30"]), &aad()).unwrap();
        let (mean, used, flagged) = mean_used(&o);
        assert_eq!(mean, d("12.316666666666666666666666667"));
        assert_eq!((used, flagged), (vec![1, 2, 3], true));
        // 12.10, 12.40, 12.20, 12.30: {0,2,3} and {1,2,3} both range 0.20: tie → first in
        // index order {0,2,3}, mean 36.60/3 = 12.2, flagged.
        let o = assess(&ds(&["12.10", "12.40", "12.20", "12.30"]), &aad()).unwrap();
        let (mean, used, flagged) = mean_used(&o);
        assert_eq!((mean, used, flagged), (d("12.2"), vec![0, 2, 3], true));
    }

    #[test]
    fn discard_and_restart() {
        // 12.10, 12.40, 12.15, 12.70: mean 49.35/4 = 12.3375 → r 0.20; range 0.60 > 0.26;
        // triple ranges 0.30, 0.60, 0.60, 0.55, all > 0.24.
        let o = assess(&ds(&["12.10", "12.40", "12.15", "12.70"]), &aad()).unwrap();
        assert_eq!(
            o,
            PrecisionOutcome::DiscardAndRestart {
                range: d("0.60"),
                r: d("0.20")
            }
        );
    }

    #[test]
    fn the_triple_takes_r_by_its_own_mean() {
        // 14.80, 14.90, 15.10, 15.60: mean of four 60.40/4 = 15.10 → r 0.30, 1.3 r 0.39 < 0.80.
        // Triple {0,1,2}: range 0.30, mean 44.80/3 = 14.933… < 15.00 → r 0.20, 1.2 r 0.24 < 0.30
        // (it would pass with the four's r: 0.36). The others have ranges 0.80, 0.80, 0.70.
        let o = assess(&ds(&["14.80", "14.90", "15.10", "15.60"]), &aad()).unwrap();
        assert_eq!(
            o,
            PrecisionOutcome::DiscardAndRestart {
                range: d("0.80"),
                r: d("0.30")
            }
        );
    }

    #[test]
    fn band_edges_follow_the_mean() {
        // Aad mean (14.85 + 15.15)/2 = 15.00 → r 0.30; range 0.30 ≤ 0.30 → accepted.
        let o = assess(&ds(&["14.85", "15.15"]), &aad()).unwrap();
        assert!(matches!(o, PrecisionOutcome::Accepted { r, .. } if r == d("0.30")));
        // mean (14.84 + 15.14)/2 = 14.99 → r 0.20; range 0.30 > 0.20.
        let o = assess(&ds(&["14.84", "15.14"]), &aad()).unwrap();
        assert!(
            matches!(o, PrecisionOutcome::NeedsAnotherDetermination { r: Some(r), .. } if r == d("0.20"))
        );
        let st = default_table(Analysis::StAd).unwrap();
        // St,ad mean (1.48 + 1.52)/2 = 1.50 → r 0.05; range 0.04 ≤ 0.05.
        let o = assess(&ds(&["1.48", "1.52"]), &st).unwrap();
        assert!(matches!(o, PrecisionOutcome::Accepted { r, .. } if r == d("0.05")));
        // mean (1.46 + 1.56)/2 = 1.51 → r 0.10; range 0.10 ≤ 0.10.
        let o = assess(&ds(&["1.46", "1.56"]), &st).unwrap();
        assert!(matches!(o, PrecisionOutcome::Accepted { r, .. } if r == d("0.10")));
    }

    #[test]
    fn a_single_determination_is_never_accepted() {
        let o = assess(&ds(&["12.00"]), &aad()).unwrap();
        assert_eq!(
            o,
            PrecisionOutcome::NeedsAnotherDetermination {
                have: 1,
                range: None,
                r: None,
                allowed_range: None
            }
        );
    }

    #[test]
    fn a_configured_table_with_other_edges() {
        // A lab's own Aad table: < 10 → 0.15, ≥ 10 → 0.25.
        let json = r#"{"analysis":"aad","method_standard":"lab SOP 7",
            "bands":[{"upper":"10","upper_inclusive":false,"r":"0.15"},
                     {"upper":null,"upper_inclusive":false,"r":"0.25"}]}"#;
        let t: RepeatabilityTable = serde_json::from_str(json).unwrap();
        t.validate().unwrap();
        // mean (9.90 + 10.10)/2 = 10.00 → r 0.25 here (0.20 by default); range 0.20 ≤ 0.25.
        let o = assess(&ds(&["9.90", "10.10"]), &t).unwrap();
        assert!(matches!(o, PrecisionOutcome::Accepted { r, .. } if r == d("0.25")));
        // mean (9.80 + 9.96)/2 = 9.88 → r 0.15; range 0.16 > 0.15.
        let o = assess(&ds(&["9.80", "9.96"]), &t).unwrap();
        assert!(matches!(
            o,
            PrecisionOutcome::NeedsAnotherDetermination { .. }
        ));
    }

    #[test]
    fn errors() {
        assert_eq!(assess(&[], &aad()), Err(PrecisionError::NoDeterminations));
        let five = ds(&["1", "1", "1", "1", "1"]);
        assert_eq!(
            assess(&five, &aad()),
            Err(PrecisionError::TooManyDeterminations { count: 5 })
        );
        assert_eq!(
            assess(&ds(&["1", "-0.1"]), &aad()),
            Err(PrecisionError::NegativeDetermination {
                index: 1,
                value: d("-0.1")
            })
        );
        let mut bad = aad();
        bad.bands.pop();
        assert_eq!(
            assess(&ds(&["1", "1"]), &bad),
            Err(PrecisionError::InvalidTable(TableError::LastBandNotOpen))
        );
    }

    #[test]
    fn outcome_json_is_tagged() {
        let o = assess(&ds(&["12.10", "12.35"]), &aad()).unwrap();
        let v = serde_json::to_value(&o).unwrap();
        assert_eq!(v["outcome"], "needs_another_determination");
        assert_eq!(v["range"], "0.25");
    }
}
