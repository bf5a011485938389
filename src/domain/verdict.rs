//! Verdicts: a stage's results against every limit of every limit set in force (DESIGN.md "From
//! determinations to a verdict", steps 4–5; STANDARDS.md §3 and §5).
//!
//! Each limit is checked with its own operator, decimal place and comparison method
//! (GB/T 8170-2008 §4.3). The stage passes only if every limit passes, and the verdict lists
//! every limit checked with the value compared, the rounded value reported and the source.

use crate::domain::limits::LimitSet;
use crate::domain::rounding::{compare_with_limit, round_half_even};
use crate::domain::terms::{Basis, ComparisonMethod, Operator, ResultParameter, Verdict};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The check of one result against one limit, as printed on the report.
///
/// Values are in the parameter's unit (% mass fraction, or MJ/kg for Qnet,ar) on `basis`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LimitVerdict {
    /// The limit set the limit belongs to.
    pub limit_set_id: String,
    /// The source of the limit set (document and article).
    pub source: String,
    /// The result checked, e.g. St,d.
    pub parameter: ResultParameter,
    /// The basis of the result and the limit.
    pub basis: Basis,
    /// The limit's operator: the value passes when `compared_value OP limit_value`.
    pub operator: Operator,
    /// The limit value.
    pub limit_value: Decimal,
    /// The limit's decimal place.
    pub limit_decimals: u32,
    /// Full-value or rounded-value comparison (GB/T 8170-2008 §4.3), shown on the report.
    pub method: ComparisonMethod,
    /// The result at full precision.
    pub value: Decimal,
    /// The result rounded half to even to `limit_decimals` (GB/T 8170-2008): what the report prints.
    pub rounded_value: Decimal,
    /// The value actually compared: `value` (full-value) or `rounded_value` (rounded-value).
    pub compared_value: Decimal,
    /// Pass when `compared_value OP limit_value` holds.
    pub verdict: Verdict,
}

/// The verdict of one stage (initial test or retest): pass only if every limit passes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageVerdict {
    /// Pass only if every entry of `limits` passes.
    pub verdict: Verdict,
    /// Every limit checked, set by set in the order the sets were given, limits in set order.
    pub limits: Vec<LimitVerdict>,
}

/// Why a stage could not be judged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerdictError {
    /// No limit set is in force for the supplier's jurisdiction, date and coal category, so
    /// there is nothing to judge against (a verdict of "pass" would be a false assurance).
    #[error("no limit set is in force for this sample: no verdict can be given")]
    NoLimitSetsInForce,
    /// The sets in force hold no limit at all.
    #[error("the limit sets in force hold no limit: no verdict can be given")]
    NoLimits,
    /// A limit needs a result the stage does not have.
    #[error("limit set '{limit_set_id}' has a limit on {parameter}, but the stage has no {parameter} result")]
    MissingResult {
        /// The parameter without a result.
        parameter: ResultParameter,
        /// The set whose limit needs it.
        limit_set_id: String,
    },
}

/// Judges one stage: every result of `results` (full precision, in the parameter's unit on its
/// basis, already converted per STANDARDS.md §2) against every limit of every set in `sets`
/// (normally [`crate::domain::limits::sets_in_force`]). Each limit uses its own operator,
/// decimals and comparison method ([`compare_with_limit`], GB/T 8170-2008 §4.3); the stage
/// passes only if every limit passes (DESIGN.md step 5).
///
/// # Errors
/// - [`VerdictError::NoLimitSetsInForce`] when `sets` is empty;
/// - [`VerdictError::NoLimits`] when the sets hold no limit;
/// - [`VerdictError::MissingResult`] for the first limit whose parameter has no result.
pub fn judge_stage(
    results: &BTreeMap<ResultParameter, Decimal>,
    sets: &[&LimitSet],
) -> Result<StageVerdict, VerdictError> {
    if sets.is_empty() {
        return Err(VerdictError::NoLimitSetsInForce);
    }
    let mut limits = Vec::new();
    for set in sets {
        for limit in &set.limits {
            let value =
                *results
                    .get(&limit.parameter)
                    .ok_or_else(|| VerdictError::MissingResult {
                        parameter: limit.parameter,
                        limit_set_id: set.id.clone(),
                    })?;
            let comparison = compare_with_limit(
                value,
                limit.operator,
                limit.value,
                limit.decimals,
                limit.method,
            );
            limits.push(LimitVerdict {
                limit_set_id: set.id.clone(),
                source: set.source.clone(),
                parameter: limit.parameter,
                basis: limit.basis(),
                operator: limit.operator,
                limit_value: limit.value,
                limit_decimals: limit.decimals,
                method: limit.method,
                value,
                rounded_value: round_half_even(value, limit.decimals),
                compared_value: comparison.compared_value,
                verdict: if comparison.passes {
                    Verdict::Pass
                } else {
                    Verdict::Fail
                },
            });
        }
    }
    if limits.is_empty() {
        return Err(VerdictError::NoLimits);
    }
    let verdict = if limits.iter().all(|l| l.verdict == Verdict::Pass) {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    Ok(StageVerdict { verdict, limits })
}

/// The sample's final verdict: the retest's verdict when there is one (the retest on the
/// retained sample is final, DESIGN.md "Sample lifecycle"; STANDARDS.md §6, LOW-MEDIUM),
/// otherwise the initial test's; `None` while neither stage has a verdict.
pub fn final_verdict(initial: Option<Verdict>, retest: Option<Verdict>) -> Option<Verdict> {
    retest.or(initial)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::limits::Limit;
    use chrono::NaiveDate;

    fn d(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    fn limit(p: ResultParameter, op: Operator, value: &str, method: ComparisonMethod) -> Limit {
        // Decimals 2: the limits "16 %", "1 %" are read at the reported precision of % contents
        // (STANDARDS.md §1: 2 decimals), so the report prints 15.99, not 16.
        Limit {
            parameter: p,
            operator: op,
            value: d(value),
            decimals: 2,
            method,
        }
    }

    /// NDRC order 16, loose-coal clause for Beijing–Tianjin–Hebei: loose coal with Ad ≥ 16 % or
    /// St,d ≥ 1 % is restricted, i.e. Ad < 16 and St,d < 1 pass (STANDARDS.md §5). Full-value
    /// comparison, as the measures name no method (STANDARDS.md §3).
    fn loose_coal(method: ComparisonMethod) -> LimitSet {
        LimitSet {
            id: "cn-ndrc16-loose-jjj".into(),
            name: "Loose coal, Beijing–Tianjin–Hebei".into(),
            source: "商品煤质量管理暂行办法 (NDRC order 16), loose-coal clause".into(),
            jurisdiction: "hebei".into(),
            effective_from: NaiveDate::from_ymd_opt(2015, 1, 1).unwrap(),
            effective_to: None,
            coal_categories: vec![],
            limits: vec![
                limit(ResultParameter::Ad, Operator::Lt, "16", method),
                limit(ResultParameter::Std, Operator::Lt, "1", method),
            ],
        }
    }

    /// NDRC order 16 Art. 6, all commercial coal: Ad ≤ 40 %, St,d ≤ 3 % (STANDARDS.md §5).
    fn national() -> LimitSet {
        let m = ComparisonMethod::FullValue;
        LimitSet {
            id: "cn-ndrc16-art6".into(),
            name: "Commercial coal".into(),
            source: "商品煤质量管理暂行办法 (NDRC order 16), Art. 6".into(),
            jurisdiction: "cn".into(),
            limits: vec![
                limit(ResultParameter::Ad, Operator::Le, "40", m),
                limit(ResultParameter::Std, Operator::Le, "3", m),
            ],
            ..loose_coal(m)
        }
    }

    fn results(ad: &str, std: &str) -> BTreeMap<ResultParameter, Decimal> {
        BTreeMap::from([(ResultParameter::Ad, d(ad)), (ResultParameter::Std, d(std))])
    }

    #[test]
    fn clean_sample_passes_both_sets() {
        let (loose, nation) = (loose_coal(ComparisonMethod::FullValue), national());
        assert!(loose.validate().is_ok() && nation.validate().is_ok());
        let v = judge_stage(&results("15.994", "0.998"), &[&loose, &nation]).unwrap();
        assert_eq!(v.verdict, Verdict::Pass);
        assert_eq!(v.limits.len(), 4); // 2 limits × 2 sets
                                       // 15.994 < 16; 0.998 < 1; 15.994 ≤ 40; 0.998 ≤ 3.
        assert!(v.limits.iter().all(|l| l.verdict == Verdict::Pass));
        let ad = &v.limits[0];
        assert_eq!(ad.limit_set_id, "cn-ndrc16-loose-jjj");
        assert_eq!(ad.basis, Basis::D);
        assert_eq!(ad.value, d("15.994"));
        assert_eq!(ad.compared_value, d("15.994")); // full value compared
        assert_eq!(ad.rounded_value.to_string(), "15.99"); // dropped 4 < 5
        let std = &v.limits[1];
        // Reported 1.00 (0.998: dropped 8 > 5 → carry), yet it passes: full value 0.998 < 1.
        assert_eq!(std.rounded_value.to_string(), "1.00");
        assert_eq!(std.verdict, Verdict::Pass);
        assert_eq!(
            v.limits[2].source,
            "商品煤质量管理暂行办法 (NDRC order 16), Art. 6"
        );
    }

    #[test]
    fn sulfur_exactly_one_fails_the_loose_coal_clause_only() {
        let (loose, nation) = (loose_coal(ComparisonMethod::FullValue), national());
        let v = judge_stage(&results("15.00", "1.00"), &[&loose, &nation]).unwrap();
        assert_eq!(v.verdict, Verdict::Fail);
        let by = |set: &str, p| {
            v.limits
                .iter()
                .find(|l| l.limit_set_id == set && l.parameter == p)
                .unwrap()
                .verdict
        };
        // 1.00 < 1 is false → fail; 1.00 ≤ 3 → pass; Ad 15.00 < 16 and ≤ 40 → pass.
        assert_eq!(
            by("cn-ndrc16-loose-jjj", ResultParameter::Std),
            Verdict::Fail
        );
        assert_eq!(by("cn-ndrc16-art6", ResultParameter::Std), Verdict::Pass);
        assert_eq!(
            by("cn-ndrc16-loose-jjj", ResultParameter::Ad),
            Verdict::Pass
        );
        assert_eq!(by("cn-ndrc16-art6", ResultParameter::Ad), Verdict::Pass);
        // The national set alone passes the same sample.
        assert_eq!(
            judge_stage(&results("15.00", "1.00"), &[&nation])
                .unwrap()
                .verdict,
            Verdict::Pass
        );
    }

    #[test]
    fn full_and_rounded_methods_disagree_at_15_996() {
        // Ad 15.996 against Ad < 16 with 2 decimals (16 read as 16.00).
        let r = results("15.996", "0.50");
        // Full value: 15.996 < 16 → pass.
        let full = loose_coal(ComparisonMethod::FullValue);
        let v = judge_stage(&r, &[&full]).unwrap();
        assert_eq!(v.verdict, Verdict::Pass);
        assert_eq!(v.limits[0].compared_value, d("15.996"));
        // Rounded value: 15.996 → 16.00 (dropped 6 > 5 → carry); 16.00 < 16 is false → fail.
        let rounded = loose_coal(ComparisonMethod::RoundedValue);
        let v = judge_stage(&r, &[&rounded]).unwrap();
        assert_eq!(v.verdict, Verdict::Fail);
        assert_eq!(v.limits[0].compared_value.to_string(), "16.00");
        assert_eq!(v.limits[0].rounded_value.to_string(), "16.00");
        assert_eq!(v.limits[0].verdict, Verdict::Fail);
        assert_eq!(v.limits[1].verdict, Verdict::Pass); // St,d 0.50 < 1
    }

    #[test]
    fn errors() {
        let nation = national();
        assert_eq!(
            judge_stage(&results("10", "1"), &[]),
            Err(VerdictError::NoLimitSetsInForce)
        );
        let only_ad = BTreeMap::from([(ResultParameter::Ad, d("10.00"))]);
        assert_eq!(
            judge_stage(&only_ad, &[&nation]),
            Err(VerdictError::MissingResult {
                parameter: ResultParameter::Std,
                limit_set_id: "cn-ndrc16-art6".into()
            })
        );
        let empty = LimitSet {
            limits: vec![],
            ..national()
        };
        assert_eq!(
            judge_stage(&results("10", "1"), &[&empty]),
            Err(VerdictError::NoLimits)
        );
    }

    #[test]
    fn retest_verdict_is_final() {
        use Verdict::{Fail, Pass};
        assert_eq!(final_verdict(None, None), None);
        assert_eq!(final_verdict(Some(Fail), None), Some(Fail));
        assert_eq!(final_verdict(Some(Fail), Some(Pass)), Some(Pass));
        assert_eq!(final_verdict(Some(Pass), Some(Fail)), Some(Fail));
        assert_eq!(final_verdict(None, Some(Pass)), Some(Pass));
    }

    #[test]
    fn serde_round_trip() {
        let v = judge_stage(&results("15.994", "0.998"), &[&national()]).unwrap();
        let json = serde_json::to_string(&v).unwrap();
        assert!(json.contains("\"method\":\"full_value\""));
        assert_eq!(serde_json::from_str::<StageVerdict>(&json).unwrap(), v);
    }
}
