//! Reported results from the accepted analysis means of one sample and stage (DESIGN.md
//! "From determinations to a verdict", step 3; STANDARDS.md §1–§3).
//!
//! Each result keeps its full-precision value (used for full-value comparison with limits), the
//! value rounded half to even to its report decimals (GB/T 8170-2008), its basis, and the
//! means it was computed from (STANDARDS.md §2: "record which Mad/Mt a converted value used").

use crate::domain::basis::{self, convert, fc_ad, qnet_ar, BasisError, BasisInputs};
use crate::domain::rounding::round_half_even;
use crate::domain::terms::{Analysis, Basis, ResultParameter};
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::BTreeMap;

/// One reported result of a sample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DerivedResult {
    /// The parameter (with its basis and unit: % mass fraction, or MJ/kg for Qnet,ar).
    pub parameter: ResultParameter,
    /// Full precision, unrounded, in the parameter's unit on `basis`.
    pub value: Decimal,
    /// `value` rounded half to even to `parameter.report_decimals()` (GB/T 8170-2008).
    pub reported: Decimal,
    /// The basis of `value` (= `parameter.basis()`).
    pub basis: Basis,
    /// The accepted means used, the converted analysis first (e.g. Aad then Mad for Ad).
    pub inputs: Vec<(Analysis, Decimal)>,
}

fn result(
    parameter: ResultParameter,
    value: Decimal,
    inputs: Vec<(Analysis, Decimal)>,
) -> DerivedResult {
    DerivedResult {
        parameter,
        value,
        reported: round_half_even(value, parameter.report_decimals()),
        basis: parameter.basis(),
        inputs,
    }
}

/// Checks every mean present: moistures in [0, 100), contents in [0, 100], Mad + Aad < 100,
/// Qgr,ad not negative.
fn validate(means: &BTreeMap<Analysis, Decimal>) -> Result<(), BasisError> {
    let get = |a| means.get(&a).copied();
    basis::validate(&BasisInputs {
        mad: get(Analysis::Mad),
        mt: get(Analysis::Mt),
        aad: get(Analysis::Aad),
    })?;
    for a in [Analysis::Vad, Analysis::StAd, Analysis::Had] {
        if let Some(v) = get(a) {
            basis::check_content(v)?;
        }
    }
    match get(Analysis::QgrAd) {
        Some(q) if q < Decimal::ZERO => Err(BasisError::NegativeCalorificValue { value: q }),
        _ => Ok(()),
    }
}

/// Derives every result parameter that the accepted means allow, in [`ResultParameter`] order
/// (Ad, St,d, Vdaf, Qnet,ar, FCad, Aad, St,ad, Mad, Mt).
///
/// `means` are the accepted, unrounded means per analysis (% mass fraction on the analysis's
/// basis; Qgr,ad in MJ/kg). Reported as-is: Mad, Mt, Aad, St,ad. Derived (STANDARDS.md §2,
/// GB/T 483-2007 §7.2): Ad from Aad + Mad; St,d from St,ad + Mad; Vdaf from Vad + Mad + Aad;
/// FCad = 100 − (Mad + Aad + Vad); Qnet,ar from Qgr,ad + Had + Mt + Mad (GB/T 213-2008, see
/// [`qnet_ar`]). A parameter whose inputs are absent is skipped, not an error. Mt below Mad is
/// an error only where a value is converted between ar and ad (Qnet,ar).
///
/// # Errors
/// A [`BasisError`] for impossible means, checked for every mean present (moisture outside
/// [0, 100), negative content or content above 100 %, Mad + Aad ≥ 100, negative Qgr,ad) or met
/// while deriving (Vdaf above 100 %, Mad + Aad + Vad above 100 %, Mt < Mad, negative Qnet,ar).
pub fn derive_results(
    means: &BTreeMap<Analysis, Decimal>,
) -> Result<Vec<DerivedResult>, BasisError> {
    validate(means)?;
    let get = |a| means.get(&a).copied();
    let (mad, mt, aad) = (get(Analysis::Mad), get(Analysis::Mt), get(Analysis::Aad));
    let (vad, st_ad) = (get(Analysis::Vad), get(Analysis::StAd));
    let (qgr, had) = (get(Analysis::QgrAd), get(Analysis::Had));
    let mut out = Vec::new();

    for (parameter, analysis, value) in [
        (ResultParameter::Mad, Analysis::Mad, mad),
        (ResultParameter::Mt, Analysis::Mt, mt),
        (ResultParameter::Aad, Analysis::Aad, aad),
        (ResultParameter::StAd, Analysis::StAd, st_ad),
    ] {
        if let Some(v) = value {
            out.push(result(parameter, v, vec![(analysis, v)]));
        }
    }
    if let Some(mad) = mad {
        let inputs = BasisInputs {
            mad: Some(mad),
            mt: None,
            aad,
        };
        for (parameter, analysis, value) in [
            (ResultParameter::Ad, Analysis::Aad, aad),
            (ResultParameter::Std, Analysis::StAd, st_ad),
        ] {
            if let Some(v) = value {
                let dry = convert(v, Basis::Ad, Basis::D, &inputs)?;
                out.push(result(
                    parameter,
                    dry,
                    vec![(analysis, v), (Analysis::Mad, mad)],
                ));
            }
        }
        if let (Some(aad), Some(vad)) = (aad, vad) {
            let used = vec![
                (Analysis::Vad, vad),
                (Analysis::Mad, mad),
                (Analysis::Aad, aad),
            ];
            let vdaf = convert(vad, Basis::Ad, Basis::Daf, &inputs)?;
            out.push(result(ResultParameter::Vdaf, vdaf, used.clone()));
            out.push(result(ResultParameter::FcAd, fc_ad(mad, aad, vad)?, used));
        }
        if let (Some(qgr), Some(had), Some(mt)) = (qgr, had, mt) {
            let q = qnet_ar(qgr, had, mt, mad)?;
            let used = vec![
                (Analysis::QgrAd, qgr),
                (Analysis::Had, had),
                (Analysis::Mt, mt),
                (Analysis::Mad, mad),
            ];
            out.push(result(ResultParameter::QnetAr, q, used));
        }
    }
    out.sort_by_key(|r| r.parameter);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    fn means(pairs: &[(Analysis, &str)]) -> BTreeMap<Analysis, Decimal> {
        pairs.iter().map(|(a, v)| (*a, d(v))).collect()
    }

    fn reported(results: &[DerivedResult]) -> Vec<(ResultParameter, String)> {
        results
            .iter()
            .map(|r| (r.parameter, r.reported.to_string()))
            .collect()
    }

    #[test]
    fn every_parameter_from_a_full_set() {
        let m = means(&[
            (Analysis::Mad, "2.00"),
            (Analysis::Mt, "8.0"),
            (Analysis::Aad, "12.00"),
            (Analysis::Vad, "25.00"),
            (Analysis::StAd, "0.98"),
            (Analysis::QgrAd, "25.00"),
            (Analysis::Had, "4.00"),
        ]);
        let r = derive_results(&m).unwrap();
        use ResultParameter as P;
        let expected = [
            (P::Ad, "12.24"),     // 12.00 × 100/98 = 12.2448979… → 12.24
            (P::Std, "1.00"),     // 0.98 × 100/98 = 1 exactly → 1.00
            (P::Vdaf, "29.07"),   // 25.00 × 100/(100 − 2 − 12) = 2500/86 = 29.0697… → 29.07
            (P::QnetAr, "22.51"), // (25 − 0.206×4) × 92/98 − 0.023×8 = 22.51183… → 22.51
            (P::FcAd, "61.00"),   // 100 − (2.00 + 12.00 + 25.00) = 61.00
            (P::Aad, "12.00"),
            (P::StAd, "0.98"),
            (P::Mad, "2.00"),
            (P::Mt, "8.0"), // Mt reports 1 decimal
        ];
        let expected: Vec<_> = expected.iter().map(|(p, s)| (*p, s.to_string())).collect();
        assert_eq!(reported(&r), expected);
        // The unrounded value is kept, and the means it used are recorded.
        assert_eq!(r[0].value, d("12.244897959183673469387755102"));
        assert_eq!(r[0].basis, Basis::D);
        assert_eq!(
            r[0].inputs,
            vec![(Analysis::Aad, d("12.00")), (Analysis::Mad, d("2.00"))]
        );
        assert_eq!(r[3].inputs.len(), 4);
    }

    #[test]
    fn reported_values_round_half_to_even() {
        // Aad mean of 12.34 and 12.35 = 12.345: the dropped 5 is followed by nothing and the kept
        // 4 is even → 12.34. Ad = 12.345 × 100/98 = 12.596938… → 12.60.
        let r = derive_results(&means(&[
            (Analysis::Aad, "12.345"),
            (Analysis::Mad, "2.00"),
        ]))
        .unwrap();
        let expected = vec![
            (ResultParameter::Ad, "12.60".to_string()),
            (ResultParameter::Aad, "12.34".to_string()),
            (ResultParameter::Mad, "2.00".to_string()),
        ];
        assert_eq!(reported(&r), expected);
    }

    #[test]
    fn mavis_downs_row() {
        // Mavis Downs MDL 136, GSQ open-file report CR 58068 via CoalCalcs (prox_long),
        // /work/shared/data/real/mavis_downs_prox_ad.csv, 1122CR 808170-9 LU:
        // Mad 2.0, Aad 13.9, Vad 19.4 (published FCad 64.7).
        let m = means(&[
            (Analysis::Mad, "2.0"),
            (Analysis::Aad, "13.9"),
            (Analysis::Vad, "19.4"),
        ]);
        let r = derive_results(&m).unwrap();
        use ResultParameter as P;
        let expected: Vec<_> = [
            (P::Ad, "14.18"),   // 1390/98 = 14.18367…
            (P::Vdaf, "23.07"), // 1940/84.1 = 23.06777…
            (P::FcAd, "64.70"), // 100 − 35.3 = 64.7, as published
            (P::Aad, "13.90"),
            (P::Mad, "2.00"),
        ]
        .iter()
        .map(|(p, s)| (*p, s.to_string()))
        .collect();
        assert_eq!(reported(&r), expected);
    }

    #[test]
    fn missing_inputs_are_skipped() {
        // Vad alone is reported nowhere; Aad without Mad gives Aad only; Qgr,ad without Had
        // gives no Qnet,ar.
        assert_eq!(
            derive_results(&means(&[(Analysis::Vad, "20")])).unwrap(),
            vec![]
        );
        let r = derive_results(&means(&[(Analysis::Aad, "20"), (Analysis::QgrAd, "25")])).unwrap();
        assert_eq!(
            reported(&r),
            vec![(ResultParameter::Aad, "20.00".to_string())]
        );
        // Mt below Mad matters only where ar and ad meet (Qnet,ar), which is skipped here.
        let r = derive_results(&means(&[(Analysis::Mad, "9.0"), (Analysis::Mt, "8.0")])).unwrap();
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn impossible_means_are_errors() {
        let m = means(&[(Analysis::Mad, "60"), (Analysis::Aad, "40")]);
        assert_eq!(
            derive_results(&m),
            Err(BasisError::MoisturePlusAshTooHigh {
                mad: d("60"),
                aad: d("40")
            })
        );
        // Vdaf = 60 × 100/(100 − 2 − 40) = 103.4… > 100.
        let m = means(&[
            (Analysis::Mad, "2"),
            (Analysis::Aad, "40"),
            (Analysis::Vad, "60"),
        ]);
        assert!(matches!(
            derive_results(&m),
            Err(BasisError::ResultOutOfRange { .. })
        ));
        let m = means(&[
            (Analysis::Mad, "9.0"),
            (Analysis::Mt, "8.0"),
            (Analysis::QgrAd, "25"),
            (Analysis::Had, "4"),
        ]);
        assert_eq!(
            derive_results(&m),
            Err(BasisError::TotalMoistureBelowMad {
                mt: d("8.0"),
                mad: d("9.0")
            })
        );
        let m = means(&[(Analysis::StAd, "-0.01")]);
        assert_eq!(
            derive_results(&m),
            Err(BasisError::NegativeContent { value: d("-0.01") })
        );
    }
}
