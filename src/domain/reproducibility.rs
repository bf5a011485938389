//! Initial test against retest: the reproducibility critical difference R (再现性临界差, means
//! of two laboratories, dry basis; STANDARDS.md §4). DESIGN.md: "the initial and retest means
//! are checked against the reproducibility limit R and a difference over R is flagged".
//!
//! Confidence in the R values is MEDIUM or LOW (STANDARDS.md §4), so they are data
//! ([`ReproducibilityTable`]) with shipped defaults that a lab can replace.

use crate::domain::precision_table::{band_index, validate_bands, TableError};
use crate::domain::terms::ResultParameter;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// One level of a reproducibility table: means up to `upper` take `critical_difference`
/// (same band semantics as [`crate::domain::precision_table::RepeatabilityBand`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReproducibilityBand {
    /// Upper edge of the band, % on the dry basis; `None` = no upper edge (last band only).
    pub upper: Option<Decimal>,
    /// Whether a mean exactly at `upper` belongs to this band (else to the next).
    pub upper_inclusive: bool,
    /// Critical difference R for this band, % on the dry basis; must be > 0.
    pub critical_difference: Decimal,
}

/// The reproducibility critical differences R of one result parameter by level of the mean.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReproducibilityTable {
    /// The parameter (dry basis) the table applies to.
    pub parameter: ResultParameter,
    /// Where the values come from, with their confidence.
    pub source: String,
    /// Bands in ascending order of `upper`; the last one open.
    pub bands: Vec<ReproducibilityBand>,
}

impl ReproducibilityTable {
    /// Checks the table: bands present, every R > 0, edges strictly ascending, last band open.
    ///
    /// # Errors
    /// The first [`TableError`] found.
    pub fn validate(&self) -> Result<(), TableError> {
        validate_bands(self.bands.iter().map(|b| (b.upper, b.critical_difference)))
    }

    /// R for the mean of the two results (% dry basis). On a table that fails
    /// [`validate`](Self::validate): the last band's R, or zero for an empty table.
    pub fn critical_difference_for_mean(&self, mean: Decimal) -> Decimal {
        let edges = self.bands.iter().map(|b| (b.upper, b.upper_inclusive));
        match band_index(edges, mean) {
            Some(i) => self.bands[i].critical_difference,
            None => self
                .bands
                .last()
                .map_or(Decimal::ZERO, |b| b.critical_difference),
        }
    }
}

/// The result of comparing an initial test with its retest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReproducibilityCheck {
    /// The parameter compared (dry basis).
    pub parameter: ResultParameter,
    /// Initial-test result, % dry basis, unrounded.
    pub initial: Decimal,
    /// Retest result, % dry basis, unrounded.
    pub retest: Decimal,
    /// |initial − retest|, %.
    pub difference: Decimal,
    /// R for the mean of the two, %.
    pub critical_difference: Decimal,
    /// `difference ≤ critical_difference`; `false` is flagged for review.
    pub consistent: bool,
}

/// Why the reproducibility check cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReproducibilityError {
    /// No reproducibility table for this parameter (only Ad and St,d have defaults).
    #[error("no reproducibility table for {parameter}")]
    NoTable {
        /// The parameter asked for.
        parameter: ResultParameter,
    },
    /// The table given is for another parameter.
    #[error("the table is for {table}, not {parameter}")]
    WrongTable {
        /// The parameter asked for.
        parameter: ResultParameter,
        /// The table's parameter.
        table: ResultParameter,
    },
    /// A result is negative.
    #[error("a result must not be negative (got {value} %)")]
    NegativeValue {
        /// The value given.
        value: Decimal,
    },
    /// The table is not valid.
    #[error("invalid reproducibility table: {0}")]
    InvalidTable(#[from] TableError),
}

fn band(upper: Option<(i64, u32)>, upper_inclusive: bool, r: (i64, u32)) -> ReproducibilityBand {
    ReproducibilityBand {
        upper: upper.map(|(m, s)| Decimal::new(m, s)),
        upper_inclusive,
        critical_difference: Decimal::new(r.0, r.1),
    }
}

/// The shipped reproducibility table of a parameter (STANDARDS.md §4), or `None`.
///
/// - Ad: < 15.00 % → 0.30; 15.00–30.00 % → 0.50; > 30.00 % → 0.70 (MEDIUM/LOW confidence;
///   the ash bands of GB/T 212-2008).
/// - St,d: ≤ 1.50 % → 0.10; > 1.50 and ≤ 4.00 % → 0.20 (MEDIUM); > 4.00 % → 0.30 (LOW).
///
/// All other parameters: `None` (Qgr,d 300 J/g is in STANDARDS.md but coallab reports no Qgr,d).
pub fn default_reproducibility_table(parameter: ResultParameter) -> Option<ReproducibilityTable> {
    let (source, bands) = match parameter {
        ResultParameter::Ad => (
            "STANDARDS.md §4, Ad reproducibility critical difference (MEDIUM/LOW)",
            vec![
                band(Some((1500, 2)), false, (30, 2)),
                band(Some((3000, 2)), true, (50, 2)),
                band(None, false, (70, 2)),
            ],
        ),
        ResultParameter::Std => (
            "STANDARDS.md §4, St,d reproducibility critical difference (MEDIUM; > 4.00 % LOW)",
            vec![
                band(Some((150, 2)), true, (10, 2)),
                band(Some((400, 2)), true, (20, 2)),
                band(None, false, (30, 2)),
            ],
        ),
        _ => return None,
    };
    Some(ReproducibilityTable {
        parameter,
        source: source.to_string(),
        bands,
    })
}

/// Checks an initial-test result against its retest with the shipped table of `parameter`
/// (see [`default_reproducibility_table`]). Values are % on the dry basis, unrounded.
/// R is chosen by the mean (initial + retest)/2; consistent when |initial − retest| ≤ R.
///
/// # Errors
/// [`ReproducibilityError::NoTable`] for parameters other than Ad and St,d;
/// [`ReproducibilityError::NegativeValue`].
pub fn check_reproducibility(
    parameter: ResultParameter,
    initial_d: Decimal,
    retest_d: Decimal,
) -> Result<ReproducibilityCheck, ReproducibilityError> {
    let table = default_reproducibility_table(parameter)
        .ok_or(ReproducibilityError::NoTable { parameter })?;
    check_reproducibility_with(&table, parameter, initial_d, retest_d)
}

/// As [`check_reproducibility`], with a configured table.
///
/// # Errors
/// [`ReproducibilityError::WrongTable`] when the table is for another parameter,
/// [`ReproducibilityError::InvalidTable`], [`ReproducibilityError::NegativeValue`].
pub fn check_reproducibility_with(
    table: &ReproducibilityTable,
    parameter: ResultParameter,
    initial_d: Decimal,
    retest_d: Decimal,
) -> Result<ReproducibilityCheck, ReproducibilityError> {
    if table.parameter != parameter {
        return Err(ReproducibilityError::WrongTable {
            parameter,
            table: table.parameter,
        });
    }
    table.validate()?;
    for value in [initial_d, retest_d] {
        if value < Decimal::ZERO {
            return Err(ReproducibilityError::NegativeValue { value });
        }
    }
    // Both are in 0..=Decimal::MAX, so the difference cannot overflow; the mean is the
    // half-sum, computed as halves to stay in range.
    let two = Decimal::TWO;
    let mean = initial_d / two + retest_d / two;
    let difference = (initial_d - retest_d).abs();
    let critical_difference = table.critical_difference_for_mean(mean);
    Ok(ReproducibilityCheck {
        parameter,
        initial: initial_d,
        retest: retest_d,
        difference,
        critical_difference,
        consistent: difference <= critical_difference,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    #[test]
    fn std_within_and_over_r() {
        // St,d 0.95 and 1.03: mean 0.99 ≤ 1.50 → R 0.10; |0.95 − 1.03| = 0.08 ≤ 0.10.
        let c = check_reproducibility(ResultParameter::Std, d("0.95"), d("1.03")).unwrap();
        assert_eq!(
            (c.difference, c.critical_difference, c.consistent),
            (d("0.08"), d("0.10"), true)
        );
        // 1.45 and 1.56: mean 3.01/2 = 1.505 > 1.50 → R 0.20; difference 0.11 ≤ 0.20.
        let c = check_reproducibility(ResultParameter::Std, d("1.45"), d("1.56")).unwrap();
        assert_eq!(
            (c.difference, c.critical_difference, c.consistent),
            (d("0.11"), d("0.20"), true)
        );
        // 1.44 and 1.56: mean 1.50 → R 0.10; difference 0.12 > 0.10 → flagged.
        let c = check_reproducibility(ResultParameter::Std, d("1.44"), d("1.56")).unwrap();
        assert_eq!(
            (c.difference, c.critical_difference, c.consistent),
            (d("0.12"), d("0.10"), false)
        );
    }

    #[test]
    fn ad_with_a_configured_table() {
        // Ad values are MEDIUM/LOW, so this test types its own table with the same shape.
        let json = r#"{"parameter":"ad","source":"test",
            "bands":[{"upper":"15.00","upper_inclusive":false,"critical_difference":"0.30"},
                     {"upper":"30.00","upper_inclusive":true,"critical_difference":"0.50"},
                     {"upper":null,"upper_inclusive":false,"critical_difference":"0.70"}]}"#;
        let t: ReproducibilityTable = serde_json::from_str(json).unwrap();
        // 14.80 and 15.20: mean 15.00 → 0.50; difference 0.40 ≤ 0.50.
        let c =
            check_reproducibility_with(&t, ResultParameter::Ad, d("14.80"), d("15.20")).unwrap();
        assert_eq!(
            (c.difference, c.critical_difference, c.consistent),
            (d("0.40"), d("0.50"), true)
        );
        // 14.70 and 15.20: mean 14.95 → 0.30; difference 0.50 > 0.30.
        let c =
            check_reproducibility_with(&t, ResultParameter::Ad, d("15.20"), d("14.70")).unwrap();
        assert_eq!(
            (c.difference, c.critical_difference, c.consistent),
            (d("0.50"), d("0.30"), false)
        );
        // The shipped Ad table has the same edges and validates.
        let shipped = default_reproducibility_table(ResultParameter::Ad).unwrap();
        assert_eq!(shipped.validate(), Ok(()));
        let edges: Vec<_> = shipped.bands.iter().map(|b| b.upper).collect();
        assert_eq!(edges, vec![Some(d("15.00")), Some(d("30.00")), None]);
    }

    #[test]
    fn errors() {
        assert_eq!(
            check_reproducibility(ResultParameter::Vdaf, d("30"), d("30")),
            Err(ReproducibilityError::NoTable {
                parameter: ResultParameter::Vdaf
            })
        );
        assert_eq!(
            check_reproducibility(ResultParameter::Std, d("-0.1"), d("1")),
            Err(ReproducibilityError::NegativeValue { value: d("-0.1") })
        );
        let t = default_reproducibility_table(ResultParameter::Std).unwrap();
        assert_eq!(
            check_reproducibility_with(&t, ResultParameter::Ad, d("1"), d("1")),
            Err(ReproducibilityError::WrongTable {
                parameter: ResultParameter::Ad,
                table: ResultParameter::Std
            })
        );
    }
}
