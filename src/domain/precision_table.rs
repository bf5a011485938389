//! Precision tables as data: the repeatability limit r of each analysis by level of the mean
//! (STANDARDS.md §4; r values from GB/T 212-2008, GB/T 214-2007, GB/T 213-2008 and GB/T 211),
//! and the band checks shared with the reproducibility tables.
//!
//! Band edges are data ([`RepeatabilityTable`]), so a lab can load other edges without a code
//! change. The rule that uses r is in `repeatability.rs`; its public names are re-exported there.

use crate::domain::terms::Analysis;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// One level of a precision table: means up to `upper` take `r`.
///
/// A mean `m` falls in the first band (in table order) with `m < upper`, or `m == upper` when
/// `upper_inclusive`; a band with `upper: None` has no upper edge and must be last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepeatabilityBand {
    /// Upper edge of the band, in the analysis's unit (% or MJ/kg); `None` = no upper edge.
    pub upper: Option<Decimal>,
    /// Whether a mean exactly at `upper` belongs to this band (else to the next).
    pub upper_inclusive: bool,
    /// Repeatability limit r for this band, in the analysis's unit; must be > 0.
    pub r: Decimal,
}

/// The repeatability limits r of one analysis, by level of the mean (STANDARDS.md §4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepeatabilityTable {
    /// The analysis the table applies to.
    pub analysis: Analysis,
    /// The method standard the r values come from, e.g. "GB/T 212-2008".
    pub method_standard: String,
    /// Bands in ascending order of `upper`; the last one open (`upper: None`).
    pub bands: Vec<RepeatabilityBand>,
}

/// Why a precision table (repeatability or reproducibility) is not usable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TableError {
    /// The table has no bands.
    #[error("the table has no bands")]
    Empty,
    /// A band's limit is zero or negative.
    #[error("band {index}: the limit must be greater than zero (got {value})")]
    NonPositiveLimit {
        /// Index of the band (0-based).
        index: usize,
        /// The limit given.
        value: Decimal,
    },
    /// A band's upper edge is not above the previous band's.
    #[error("band {index}: upper edges must be strictly ascending")]
    NotAscending {
        /// Index of the band (0-based).
        index: usize,
    },
    /// A band without an upper edge is followed by other bands.
    #[error("band {index}: only the last band may be open (no upper edge)")]
    OpenBandNotLast {
        /// Index of the band (0-based).
        index: usize,
    },
    /// The last band has an upper edge, so high means would find no band.
    #[error("the last band must be open (no upper edge)")]
    LastBandNotOpen,
}

/// Index of the band a mean falls in: the first with `mean < upper` (or `== upper` when
/// inclusive), or an open band. `None` only for an invalid table.
pub(crate) fn band_index(
    edges: impl Iterator<Item = (Option<Decimal>, bool)>,
    mean: Decimal,
) -> Option<usize> {
    edges
        .enumerate()
        .find_map(|(i, (upper, inclusive))| match upper {
            None => Some(i),
            Some(u) if mean < u || (inclusive && mean == u) => Some(i),
            Some(_) => None,
        })
}

/// Checks bands given as (upper, limit): not empty, limits > 0, uppers strictly ascending,
/// exactly the last band open.
pub(crate) fn validate_bands(
    bands: impl ExactSizeIterator<Item = (Option<Decimal>, Decimal)>,
) -> Result<(), TableError> {
    let n = bands.len();
    if n == 0 {
        return Err(TableError::Empty);
    }
    let mut previous: Option<Decimal> = None;
    for (index, (upper, limit)) in bands.enumerate() {
        if limit <= Decimal::ZERO {
            return Err(TableError::NonPositiveLimit {
                index,
                value: limit,
            });
        }
        match upper {
            None if index + 1 < n => return Err(TableError::OpenBandNotLast { index }),
            None => {}
            Some(_) if index + 1 == n => return Err(TableError::LastBandNotOpen),
            Some(u) => {
                if previous.is_some_and(|p| u <= p) {
                    return Err(TableError::NotAscending { index });
                }
                previous = Some(u);
            }
        }
    }
    Ok(())
}

impl RepeatabilityTable {
    /// The repeatability limit r for a mean (in the analysis's unit, % or MJ/kg).
    ///
    /// On a table that fails [`validate`](Self::validate) and has no band for the mean, the last
    /// band's r is returned (zero for an empty table): validate tables when they are loaded.
    pub fn r_for_mean(&self, mean: Decimal) -> Decimal {
        let edges = self.bands.iter().map(|b| (b.upper, b.upper_inclusive));
        match band_index(edges, mean) {
            Some(i) => self.bands[i].r,
            None => self.bands.last().map_or(Decimal::ZERO, |b| b.r),
        }
    }

    /// Checks the table: at least one band, every r > 0, upper edges strictly ascending, the
    /// last band (and only it) open.
    ///
    /// # Errors
    /// The first [`TableError`] found.
    pub fn validate(&self) -> Result<(), TableError> {
        validate_bands(self.bands.iter().map(|b| (b.upper, b.r)))
    }
}

fn band(upper: Option<(i64, u32)>, upper_inclusive: bool, r: (i64, u32)) -> RepeatabilityBand {
    RepeatabilityBand {
        upper: upper.map(|(m, s)| Decimal::new(m, s)),
        upper_inclusive,
        r: Decimal::new(r.0, r.1),
    }
}

/// The default repeatability table of an analysis (STANDARDS.md §4), or `None` when our
/// sources give no r (Had: hydrogen, GB/T 476, is not in STANDARDS.md; load it as data).
///
/// Units as the analysis: % mass fraction, Qgr,ad in MJ/kg. Defaults:
/// - Mad (GB/T 212-2008): < 5.00 → 0.20; 5.00–10.00 → 0.30; > 10.00 → 0.40
/// - Aad (GB/T 212-2008): < 15.00 → 0.20; 15.00–30.00 → 0.30; > 30.00 → 0.50
/// - Vad (GB/T 212-2008): < 20.00 → 0.30; 20.00–40.00 → 0.50; > 40.00 → 0.80
/// - St,ad (GB/T 214-2007): ≤ 1.50 → 0.05; > 1.50 and ≤ 4.00 → 0.10; > 4.00 → 0.20
/// - Qgr,ad (GB/T 213-2008): any → 0.12 MJ/kg (120 J/g)
/// - Mt (GB/T 211): < 10 → 0.40; ≥ 10 → 0.50 (MEDIUM confidence)
///
/// A middle band "a–b" includes both edges (a mean of exactly 15.00 % Aad takes 0.30, exactly
/// 30.00 takes 0.30; MEDIUM confidence), hence the edges are data.
pub fn default_table(analysis: Analysis) -> Option<RepeatabilityTable> {
    let bands = match analysis {
        Analysis::Mad => vec![
            band(Some((500, 2)), false, (20, 2)),
            band(Some((1000, 2)), true, (30, 2)),
            band(None, false, (40, 2)),
        ],
        Analysis::Aad => vec![
            band(Some((1500, 2)), false, (20, 2)),
            band(Some((3000, 2)), true, (30, 2)),
            band(None, false, (50, 2)),
        ],
        Analysis::Vad => vec![
            band(Some((2000, 2)), false, (30, 2)),
            band(Some((4000, 2)), true, (50, 2)),
            band(None, false, (80, 2)),
        ],
        Analysis::StAd => vec![
            band(Some((150, 2)), true, (5, 2)),
            band(Some((400, 2)), true, (10, 2)),
            band(None, false, (20, 2)),
        ],
        Analysis::QgrAd => vec![band(None, false, (12, 2))],
        Analysis::Mt => vec![
            band(Some((10, 0)), false, (40, 2)),
            band(None, false, (50, 2)),
        ],
        Analysis::Had => return None,
    };
    Some(RepeatabilityTable {
        analysis,
        method_standard: analysis.method_standard().to_string(),
        bands,
    })
}

/// Same as [`default_table`] (kept as an alias under the name the design brief used).
pub fn default_table_opt(analysis: Analysis) -> Option<RepeatabilityTable> {
    default_table(analysis)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    fn r(analysis: Analysis, mean: &str) -> Decimal {
        default_table(analysis).unwrap().r_for_mean(d(mean))
    }

    #[test]
    fn default_bands_by_the_mean() {
        // Mad: < 5.00 → 0.20; 5.00–10.00 → 0.30; > 10.00 → 0.40.
        assert_eq!(r(Analysis::Mad, "4.99"), d("0.20"));
        assert_eq!(r(Analysis::Mad, "5.00"), d("0.30"));
        assert_eq!(r(Analysis::Mad, "10.00"), d("0.30"));
        assert_eq!(r(Analysis::Mad, "10.01"), d("0.40"));
        // Aad: 14.99 → 0.20; exactly 15.00 and exactly 30.00 → 0.30; 30.01 → 0.50.
        assert_eq!(r(Analysis::Aad, "14.99"), d("0.20"));
        assert_eq!(r(Analysis::Aad, "15.00"), d("0.30"));
        assert_eq!(r(Analysis::Aad, "30.00"), d("0.30"));
        assert_eq!(r(Analysis::Aad, "30.01"), d("0.50"));
        // Vad: 19.99 → 0.30; 20.00 → 0.50; 40.00 → 0.50; 40.01 → 0.80.
        assert_eq!(r(Analysis::Vad, "19.99"), d("0.30"));
        assert_eq!(r(Analysis::Vad, "20.00"), d("0.50"));
        assert_eq!(r(Analysis::Vad, "40.00"), d("0.50"));
        assert_eq!(r(Analysis::Vad, "40.01"), d("0.80"));
        // St,ad: 1.50 → 0.05; 1.51 → 0.10; 4.00 → 0.10; 4.01 → 0.20.
        assert_eq!(r(Analysis::StAd, "1.50"), d("0.05"));
        assert_eq!(r(Analysis::StAd, "1.51"), d("0.10"));
        assert_eq!(r(Analysis::StAd, "4.00"), d("0.10"));
        assert_eq!(r(Analysis::StAd, "4.01"), d("0.20"));
        // Qgr,ad: 0.12 MJ/kg (120 J/g) at any level.
        assert_eq!(r(Analysis::QgrAd, "24.5"), d("0.12"));
        // Mt: < 10 → 0.40; ≥ 10 → 0.50.
        assert_eq!(r(Analysis::Mt, "9.9"), d("0.40"));
        assert_eq!(r(Analysis::Mt, "10.0"), d("0.50"));
    }

    #[test]
    fn every_default_is_valid_and_had_has_none() {
        for a in Analysis::ALL {
            match default_table(*a) {
                Some(t) => {
                    assert_eq!(t.validate(), Ok(()));
                    assert_eq!(t.analysis, *a);
                }
                None => assert_eq!(*a, Analysis::Had),
            }
        }
        assert_eq!(default_table_opt(Analysis::Had), None);
    }

    #[test]
    fn validate_finds_each_fault() {
        let b = |upper: Option<&str>, r: &str| RepeatabilityBand {
            upper: upper.map(d),
            upper_inclusive: false,
            r: d(r),
        };
        let t = |bands| RepeatabilityTable {
            analysis: Analysis::Aad,
            method_standard: "test".into(),
            bands,
        };
        assert_eq!(t(vec![]).validate(), Err(TableError::Empty));
        assert_eq!(
            t(vec![b(None, "0")]).validate(),
            Err(TableError::NonPositiveLimit {
                index: 0,
                value: d("0")
            })
        );
        assert_eq!(
            t(vec![
                b(Some("15"), "0.2"),
                b(Some("15"), "0.3"),
                b(None, "0.5")
            ])
            .validate(),
            Err(TableError::NotAscending { index: 1 })
        );
        assert_eq!(
            t(vec![b(None, "0.2"), b(None, "0.3")]).validate(),
            Err(TableError::OpenBandNotLast { index: 0 })
        );
        assert_eq!(
            t(vec![b(Some("15"), "0.2")]).validate(),
            Err(TableError::LastBandNotOpen)
        );
        // An invalid table still answers without panicking: the last band's r, or 0 if empty.
        assert_eq!(t(vec![b(Some("15"), "0.2")]).r_for_mean(d("20")), d("0.2"));
        assert_eq!(t(vec![]).r_for_mean(d("20")), d("0"));
    }
}
