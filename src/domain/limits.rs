//! Limit sets: versioned, sourced limits per jurisdiction and period (DESIGN.md glossary
//! "limit set"; STANDARDS.md §5).
//!
//! Limits change by place and date, so they are data, never code: each set has an id, a source,
//! a jurisdiction, an effective period, the coal categories it covers, and per parameter an
//! operator, a value with its decimals and a comparison method (GB/T 8170-2008 §4.3). A sample is
//! judged against every set in force for its supplier's jurisdiction on the sampling date.

use crate::domain::decimal::MAX_DECIMALS;
use crate::domain::terms::{Basis, ComparisonMethod, Operator, ResultParameter};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// One limit: the result `parameter` must satisfy `value OP limit` (STANDARDS.md §5).
///
/// `value` is in the parameter's unit (% mass fraction, or MJ/kg for Qnet,ar) on the
/// parameter's basis ([`Limit::basis`]). `decimals` is the limit's decimal place: the
/// rounded-value method rounds to it, and the report prints the value to it
/// (GB/T 8170-2008 §4.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Limit {
    /// The result the limit applies to, e.g. St,d.
    pub parameter: ResultParameter,
    /// The operator a passing value satisfies, e.g. `Lt` for "St,d < 1 %".
    pub operator: Operator,
    /// The limit value, in the parameter's unit and on its basis.
    pub value: Decimal,
    /// The limit's decimal place (0..=6).
    pub decimals: u32,
    /// Full-value (the default where the product standard is silent, STANDARDS.md §3) or
    /// rounded-value comparison.
    pub method: ComparisonMethod,
}

impl Limit {
    /// The basis of the limit, which is the basis of its parameter (e.g. St,d → dry).
    pub fn basis(&self) -> Basis {
        self.parameter.basis()
    }
}

/// A versioned set of limits with its jurisdiction, effective period and source
/// (DESIGN.md glossary; STANDARDS.md §5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LimitSet {
    /// Stable identifier, e.g. "cn-ndrc16-art6".
    pub id: String,
    /// Human name, e.g. "Commercial coal, Art. 6".
    pub name: String,
    /// Where the numbers come from (document, article), shown on every report.
    pub source: String,
    /// The jurisdiction the set applies in, e.g. "cn", "hebei", "hebei/handan".
    pub jurisdiction: String,
    /// First day in force (inclusive).
    pub effective_from: NaiveDate,
    /// Last day in force (inclusive); `None` while open-ended.
    pub effective_to: Option<NaiveDate>,
    /// Coal categories covered (e.g. "lignite", "loose_coal"); empty means every category.
    pub coal_categories: Vec<String>,
    /// The limits, at most one per parameter.
    pub limits: Vec<Limit>,
}

/// Why a limit set was refused on import.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// The id is empty or only spaces.
    #[error("a limit set needs an id")]
    EmptyId,
    /// No source is given: every limit must name where it comes from.
    #[error("limit set '{id}' has no source: name the document and article of its limits")]
    MissingSource {
        /// The set's id.
        id: String,
    },
    /// No jurisdiction is given, so the set could never be selected.
    #[error("limit set '{id}' has no jurisdiction")]
    EmptyJurisdiction {
        /// The set's id.
        id: String,
    },
    /// The set holds no limit.
    #[error("limit set '{id}' has no limits")]
    NoLimits {
        /// The set's id.
        id: String,
    },
    /// The last day in force is before the first.
    #[error("limit set '{id}' ends on {effective_to}, before it starts on {effective_from}")]
    EndBeforeStart {
        /// The set's id.
        id: String,
        /// First day in force.
        effective_from: NaiveDate,
        /// Last day in force.
        effective_to: NaiveDate,
    },
    /// Two limits for the same parameter in one set.
    #[error("limit set '{id}' has more than one limit for {parameter}")]
    DuplicateParameter {
        /// The set's id.
        id: String,
        /// The repeated parameter.
        parameter: ResultParameter,
    },
    /// A limit's decimal place is beyond [`MAX_DECIMALS`].
    #[error("limit set '{id}': the {parameter} limit has {decimals} decimals, at most {max} are allowed")]
    TooManyDecimals {
        /// The set's id.
        id: String,
        /// The parameter of the limit.
        parameter: ResultParameter,
        /// The decimals given.
        decimals: u32,
        /// The most allowed ([`MAX_DECIMALS`]).
        max: u32,
    },
    /// The limit value needs more decimals than the limit's decimal place (e.g. 0.65 with 1
    /// decimal): the value and its decimals contradict each other.
    #[error("limit set '{id}': the {parameter} limit {value} has more decimals than its stated {decimals}")]
    ValueScaleMismatch {
        /// The set's id.
        id: String,
        /// The parameter of the limit.
        parameter: ResultParameter,
        /// The limit value.
        value: Decimal,
        /// The stated decimals.
        decimals: u32,
    },
}

impl LimitSet {
    /// Checks that the set can be used: id, source and jurisdiction present, at least one limit,
    /// an end not before the start, one limit per parameter, decimals ≤ [`MAX_DECIMALS`] and a
    /// value that fits its decimals (trailing zeros do not count: 16.0 fits 0 decimals).
    ///
    /// # Errors
    /// The first problem found, in this order: [`LimitError::EmptyId`],
    /// [`LimitError::MissingSource`], [`LimitError::EmptyJurisdiction`],
    /// [`LimitError::NoLimits`], [`LimitError::EndBeforeStart`], then per limit in order
    /// [`LimitError::DuplicateParameter`], [`LimitError::TooManyDecimals`],
    /// [`LimitError::ValueScaleMismatch`].
    pub fn validate(&self) -> Result<(), LimitError> {
        let id = || self.id.clone();
        if self.id.trim().is_empty() {
            return Err(LimitError::EmptyId);
        }
        if self.source.trim().is_empty() {
            return Err(LimitError::MissingSource { id: id() });
        }
        if self.jurisdiction.trim().is_empty() {
            return Err(LimitError::EmptyJurisdiction { id: id() });
        }
        if self.limits.is_empty() {
            return Err(LimitError::NoLimits { id: id() });
        }
        if let Some(effective_to) = self.effective_to {
            if effective_to < self.effective_from {
                return Err(LimitError::EndBeforeStart {
                    id: id(),
                    effective_from: self.effective_from,
                    effective_to,
                });
            }
        }
        let mut seen = BTreeSet::new();
        for limit in &self.limits {
            if !seen.insert(limit.parameter) {
                return Err(LimitError::DuplicateParameter {
                    id: id(),
                    parameter: limit.parameter,
                });
            }
            if limit.decimals > MAX_DECIMALS {
                return Err(LimitError::TooManyDecimals {
                    id: id(),
                    parameter: limit.parameter,
                    decimals: limit.decimals,
                    max: MAX_DECIMALS,
                });
            }
            if limit.value.normalize().scale() > limit.decimals {
                return Err(LimitError::ValueScaleMismatch {
                    id: id(),
                    parameter: limit.parameter,
                    value: limit.value,
                    decimals: limit.decimals,
                });
            }
        }
        Ok(())
    }

    /// Whether the set is in force on `date` (a calendar day in the lab's time zone, normally
    /// the sampling date): `effective_from ≤ date ≤ effective_to`, both days inclusive.
    /// Example: Jinan 济政发〔2018〕9号 runs 2018-04-04 to 2023-04-03 (STANDARDS.md §5).
    pub fn in_force_on(&self, date: NaiveDate) -> bool {
        self.effective_from <= date && self.effective_to.is_none_or(|to| date <= to)
    }

    /// Whether the set covers a sample of coal category `category`. A set with no categories
    /// covers every sample; a set restricted to categories covers only samples of one of them,
    /// so a sample of unknown category (`None`) is judged only by unrestricted sets.
    /// Categories are compared exactly (they are codes).
    pub fn covers_category(&self, category: Option<&str>) -> bool {
        self.coal_categories.is_empty()
            || category.is_some_and(|c| self.coal_categories.iter().any(|x| x == c))
    }
}

/// The sets that apply to a sample: jurisdiction in `jurisdiction_chain` (the supplier's
/// jurisdiction and every enclosing one, e.g. `["hebei/xx-county", "hebei/xx-city", "hebei",
/// "cn"]`), in force on `date` ([`LimitSet::in_force_on`]) and covering `coal_category`
/// ([`LimitSet::covers_category`]). Source: STANDARDS.md §5 ("judged against every set in force
/// for its supplier's jurisdiction on the sampling date").
///
/// Ordered by position in the chain (most local first, nation last), then by id. Never fails;
/// an empty answer is the caller's error to report.
pub fn sets_in_force<'a>(
    sets: &'a [LimitSet],
    jurisdiction_chain: &[&str],
    date: NaiveDate,
    coal_category: Option<&str>,
) -> Vec<&'a LimitSet> {
    let mut found: Vec<(usize, &LimitSet)> = sets
        .iter()
        .filter_map(|set| {
            let position = jurisdiction_chain
                .iter()
                .position(|j| *j == set.jurisdiction)?;
            (set.in_force_on(date) && set.covers_category(coal_category)).then_some((position, set))
        })
        .collect();
    found.sort_by(|(pa, a), (pb, b)| pa.cmp(pb).then_with(|| a.id.cmp(&b.id)));
    found.into_iter().map(|(_, set)| set).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn limit(parameter: ResultParameter, operator: Operator, value: &str, decimals: u32) -> Limit {
        Limit {
            parameter,
            operator,
            value: d(value),
            decimals,
            method: ComparisonMethod::FullValue,
        }
    }

    fn set(id: &str, jurisdiction: &str, from: &str, to: Option<&str>) -> LimitSet {
        LimitSet {
            id: id.into(),
            name: id.into(),
            source: format!("source of {id}"),
            jurisdiction: jurisdiction.into(),
            effective_from: day(from),
            effective_to: to.map(day),
            coal_categories: vec![],
            limits: vec![limit(ResultParameter::Std, Operator::Le, "3", 2)],
        }
    }

    /// Jinan, 济政发〔2018〕9号: St,d ≤ 0.6 %, Ad ≤ 15 %, 2018-04-04 to 2023-04-03 (STANDARDS.md §5).
    fn jinan() -> LimitSet {
        LimitSet {
            limits: vec![
                limit(ResultParameter::Std, Operator::Le, "0.6", 2),
                limit(ResultParameter::Ad, Operator::Le, "15", 2),
            ],
            ..set(
                "jinan-2018-9",
                "shandong/jinan",
                "2018-04-04",
                Some("2023-04-03"),
            )
        }
    }

    #[test]
    fn jinan_expires_after_its_last_day() {
        let s = jinan();
        assert!(s.validate().is_ok());
        assert!(!s.in_force_on(day("2018-04-03"))); // day before the first
        assert!(s.in_force_on(day("2018-04-04"))); // first day, inclusive
        assert!(s.in_force_on(day("2023-04-03"))); // last day, inclusive
        assert!(!s.in_force_on(day("2023-04-04"))); // the next day
        assert_eq!(s.limits[0].basis(), Basis::D); // St,d is on the dry basis
    }

    #[test]
    fn open_ended_sets_and_categories() {
        let all = set("cn", "cn", "2015-01-01", None);
        assert!(!all.in_force_on(day("2014-12-31")));
        assert!(all.in_force_on(day("2015-01-01")) && all.in_force_on(day("2099-12-31")));
        assert!(all.covers_category(None) && all.covers_category(Some("lignite")));
        let mut lignite = set("cn-lignite", "cn", "2015-01-01", None);
        lignite.coal_categories = vec!["lignite".into()];
        assert!(lignite.covers_category(Some("lignite")));
        assert!(!lignite.covers_category(Some("anthracite")));
        assert!(!lignite.covers_category(None)); // unknown category: restricted sets do not apply
    }

    #[test]
    fn chain_selection_orders_local_first_then_by_id() {
        let county = "hebei/handan/xx";
        let mut briquette = set("county-briquette", county, "2015-01-01", None);
        briquette.coal_categories = vec!["briquette".into()];
        let sets = vec![
            set("cn-b", "cn", "2015-01-01", None),
            set("cn-a", "cn", "2015-01-01", None),
            set("hebei-loose", "hebei", "2015-01-01", None),
            set("handan-2013", "hebei/handan", "2013-11-15", None),
            jinan(),                                                     // other province
            set("county-old", county, "2010-01-01", Some("2014-12-31")), // expired
            set("county-future", county, "2030-01-01", None),            // not yet in force
            briquette,
        ];
        let ids = |chain: &[&str], date, category| -> Vec<String> {
            let found = sets_in_force(&sets, chain, day(date), category);
            found.iter().map(|s| s.id.clone()).collect()
        };
        let hebei = [county, "hebei/handan", "hebei", "cn"];
        let expected = ["handan-2013", "hebei-loose", "cn-a", "cn-b"];
        assert_eq!(ids(&hebei, "2025-06-01", None), expected);
        let with_briquette = [
            "county-briquette",
            "handan-2013",
            "hebei-loose",
            "cn-a",
            "cn-b",
        ];
        assert_eq!(ids(&hebei, "2025-06-01", Some("briquette")), with_briquette);
        // Jinan is in force in 2020, but only in a Jinan chain.
        assert_eq!(ids(&hebei, "2020-01-01", None), expected);
        let jinan_chain = ["shandong/jinan", "shandong", "cn"];
        assert_eq!(
            ids(&jinan_chain, "2020-01-01", None),
            ["jinan-2018-9", "cn-a", "cn-b"]
        );
        assert!(ids(&[], "2020-01-01", None).is_empty());
    }

    #[test]
    fn every_validation_error() {
        let ok = jinan();
        let broken = |change: &dyn Fn(&mut LimitSet)| {
            let mut s = ok.clone();
            change(&mut s);
            s.validate()
        };
        let id = || "jinan-2018-9".to_string();
        let err = |e| Err::<(), _>(e);
        assert_eq!(broken(&|s| s.id = " ".into()), err(LimitError::EmptyId));
        let e = LimitError::MissingSource { id: id() };
        assert_eq!(broken(&|s| s.source.clear()), err(e));
        let e = LimitError::EmptyJurisdiction { id: id() };
        assert_eq!(broken(&|s| s.jurisdiction.clear()), err(e));
        let e = LimitError::NoLimits { id: id() };
        assert_eq!(broken(&|s| s.limits.clear()), err(e));
        let (from, to) = (day("2018-04-04"), day("2018-04-03"));
        let e = LimitError::EndBeforeStart {
            id: id(),
            effective_from: from,
            effective_to: to,
        };
        assert_eq!(broken(&|s| s.effective_to = Some(to)), err(e));
        // A one-day set (to = from) is fine.
        assert_eq!(broken(&|s| s.effective_to = Some(from)), Ok(()));
        let add = |l: Limit| move |s: &mut LimitSet| s.limits.push(l.clone());
        let e = LimitError::DuplicateParameter {
            id: id(),
            parameter: ResultParameter::Std,
        };
        assert_eq!(
            broken(&add(limit(ResultParameter::Std, Operator::Lt, "1", 2))),
            err(e)
        );
        let (ad, max) = (ResultParameter::Ad, MAX_DECIMALS);
        let e = LimitError::TooManyDecimals {
            id: id(),
            parameter: ad,
            decimals: 7,
            max,
        };
        let seven = |s: &mut LimitSet| s.limits[1].decimals = 7; // 7 > MAX_DECIMALS = 6
        assert_eq!(broken(&seven), err(e));
        // 0.65 needs 2 decimals, the limit states 1.
        let e = LimitError::ValueScaleMismatch {
            id: id(),
            parameter: ad,
            value: d("0.65"),
            decimals: 1,
        };
        let mismatch =
            |s: &mut LimitSet| s.limits[1] = limit(ResultParameter::Ad, Operator::Le, "0.65", 1);
        assert_eq!(broken(&mismatch), err(e));
        // Trailing zeros do not count: 16.00 is 16, which fits 0 decimals.
        let trailing =
            |s: &mut LimitSet| s.limits[1] = limit(ResultParameter::Ad, Operator::Lt, "16.00", 0);
        assert_eq!(broken(&trailing), Ok(()));
    }

    #[test]
    fn serde_round_trip() {
        let s = jinan();
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.contains("\"effective_to\":\"2023-04-03\""));
        assert!(json.contains("\"operator\":\"le\""));
        assert_eq!(serde_json::from_str::<LimitSet>(&json).unwrap(), s);
    }
}
