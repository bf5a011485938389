//! Basis conversion of coal analysis results (STANDARDS.md §2: GB/T 483-2007 §7.2;
//! GB/T 35985-2018, MOD ISO 1170:2013) and fixed carbon by difference. The net calorific value
//! as received (GB/T 213-2008) is in [`crate::domain::calorific`], re-exported here as [`qnet_ar`].
//!
//! All contents are % mass fraction; calorific values are MJ/kg (1 MJ/kg = 1000 J/g).
//! Conversions start from unrounded values and keep full `Decimal` precision (28 significant
//! digits); only the reported value is rounded, elsewhere (STANDARDS.md §2 and §3).

pub use crate::domain::calorific::qnet_ar;
use crate::domain::terms::Basis;
use rust_decimal::Decimal;
use thiserror::Error;

/// Why a conversion or derived value cannot be computed from the inputs given.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BasisError {
    /// A moisture (Mad or Mt, % mass fraction) is negative or 100 % or more.
    #[error("{name} must be at least 0 % and below 100 % (got {value} %)")]
    MoistureOutOfRange {
        /// "Mad" or "Mt".
        name: &'static str,
        /// The value given, %.
        value: Decimal,
    },
    /// Moisture plus ash is 100 % or more, so nothing combustible is left (Mad + Aad ≥ 100;
    /// equivalently Ad ≥ 100 or Mt + Aar ≥ 100, which follow from it).
    #[error("Mad + Aad must be below 100 % (got {mad} % + {aad} %)")]
    MoisturePlusAshTooHigh {
        /// Mad, % air-dried.
        mad: Decimal,
        /// Aad, % air-dried.
        aad: Decimal,
    },
    /// A content (the value converted, Aad, Vad or Had) is negative.
    #[error("a content must not be negative (got {value} %)")]
    NegativeContent {
        /// The value given, %.
        value: Decimal,
    },
    /// A content given as input (the value converted, Aad or Had) is above 100 %.
    #[error("a content must not exceed 100 % (got {value} %)")]
    ContentAbove100 {
        /// The value given, %.
        value: Decimal,
    },
    /// The conversion needs an input that was not given (e.g. Mt to reach `ar`, Aad to reach `daf`).
    #[error("{name} is needed for this conversion but was not given")]
    MissingInput {
        /// "Mad", "Mt" or "Aad".
        name: &'static str,
    },
    /// Mt below Mad: impossible for one sample when converting between `ar` and `ad` (or `daf`).
    #[error("total moisture Mt {mt} % is below the air-dried moisture Mad {mad} %")]
    TotalMoistureBelowMad {
        /// Mt, % as received.
        mt: Decimal,
        /// Mad, % air-dried.
        mad: Decimal,
    },
    /// The converted content is above 100 % (e.g. Vad + Mad + Aad > 100 when converting to daf).
    #[error("the converted content {value} % on basis {basis} exceeds 100 %")]
    ResultOutOfRange {
        /// The converted value, %.
        value: Decimal,
        /// The basis converted to.
        basis: Basis,
    },
    /// Mad + Aad + Vad exceed 100 %, so fixed carbon by difference would be negative.
    #[error(
        "Mad + Aad + Vad = {sum} % exceeds 100 %: fixed carbon by difference would be negative"
    )]
    ProximateSumAbove100 {
        /// Mad + Aad + Vad, % air-dried.
        sum: Decimal,
    },
    /// A calorific value (given Qgr,ad, or computed Qnet,ar) is negative, MJ/kg.
    #[error("calorific value must not be negative (got {value} MJ/kg)")]
    NegativeCalorificValue {
        /// The value, MJ/kg.
        value: Decimal,
    },
    /// The decimal arithmetic overflowed (only possible with absurd inputs).
    #[error("decimal overflow in basis conversion")]
    ArithmeticOverflow,
}

/// The per-sample values a conversion may need, all % mass fraction, as determined (unrounded).
///
/// Ash on bases other than `ad` is computed from `aad` (Ad = Aad·100/(100 − Mad),
/// Aar = Aad·(100 − Mt)/(100 − Mad)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BasisInputs {
    /// Mad: moisture of the air-dried analysis sample, %.
    pub mad: Option<Decimal>,
    /// Mt: total moisture, % as received (= Mar).
    pub mt: Option<Decimal>,
    /// Aad: ash, % air-dried.
    pub aad: Option<Decimal>,
}

pub(crate) const HUNDRED: Decimal = Decimal::ONE_HUNDRED;

pub(crate) fn check_moisture(name: &'static str, value: Decimal) -> Result<Decimal, BasisError> {
    if value < Decimal::ZERO || value >= HUNDRED {
        return Err(BasisError::MoistureOutOfRange { name, value });
    }
    Ok(value)
}

pub(crate) fn check_content(value: Decimal) -> Result<Decimal, BasisError> {
    if value < Decimal::ZERO {
        return Err(BasisError::NegativeContent { value });
    }
    if value > HUNDRED {
        return Err(BasisError::ContentAbove100 { value });
    }
    Ok(value)
}

fn check_ash(mad: Decimal, aad: Decimal) -> Result<(), BasisError> {
    check_content(aad)?;
    if mad + aad >= HUNDRED {
        return Err(BasisError::MoisturePlusAshTooHigh { mad, aad });
    }
    Ok(())
}

/// Checks every input that is present, whether or not the conversion needs it.
pub(crate) fn validate(inputs: &BasisInputs) -> Result<(), BasisError> {
    if let Some(mad) = inputs.mad {
        check_moisture("Mad", mad)?;
    }
    if let Some(mt) = inputs.mt {
        check_moisture("Mt", mt)?;
    }
    if let Some(aad) = inputs.aad {
        check_ash(inputs.mad.unwrap_or(Decimal::ZERO), aad)?;
    }
    Ok(())
}

fn need(value: Option<Decimal>, name: &'static str) -> Result<Decimal, BasisError> {
    value.ok_or(BasisError::MissingInput { name })
}

/// The factor that takes a value on `basis` to the dry basis, as (numerator, denominator).
/// These are the first column of STANDARDS.md §2 read towards `d`: ad→d 100/(100 − Mad),
/// ar→d 100/(100 − Mt), daf→d (100 − Ad)/100 = (100 − Mad − Aad)/(100 − Mad).
fn to_dry(basis: Basis, i: &BasisInputs) -> Result<(Decimal, Decimal), BasisError> {
    Ok(match basis {
        Basis::D => (Decimal::ONE, Decimal::ONE),
        Basis::Ad => (HUNDRED, HUNDRED - need(i.mad, "Mad")?),
        Basis::Ar => (HUNDRED, HUNDRED - need(i.mt, "Mt")?),
        Basis::Daf => {
            let mad = need(i.mad, "Mad")?;
            let aad = need(i.aad, "Aad")?;
            (HUNDRED - mad - aad, HUNDRED - mad)
        }
    })
}

/// Converts a content from one basis to another (STANDARDS.md §2, GB/T 483-2007 §7.2,
/// GB/T 35985-2018).
///
/// `value` is a content in % mass fraction on `from` (not a moisture: moisture is not converted
/// with these factors); the result is in % on `to`, unrounded. Every pair of `ad`, `ar`, `d`,
/// `daf` uses the factor of the STANDARDS.md §2 table (from `daf`: the inverse of the factor to
/// `daf`). The factor is computed as from→d × d→to with Ad and Aar written in terms of Aad,
/// which is algebraically the table's factor, so that the result takes exactly one decimal
/// division (e.g. ar→daf = 100/(100 − Mt − Aar) = 100·(100 − Mad)/((100 − Mt)·(100 − Mad − Aad))).
/// Identity (`from == to`) returns `value` unchanged.
///
/// Needs: ad↔d Mad; ar↔d Mt; ad↔ar Mad, Mt; any pair with daf Mad and Aad (with ar also Mt).
///
/// # Errors
/// - [`BasisError::NegativeContent`] / [`BasisError::ContentAbove100`]: `value` or Aad outside 0–100 %;
/// - [`BasisError::MoistureOutOfRange`]: Mad or Mt < 0 or ≥ 100;
/// - [`BasisError::MoisturePlusAshTooHigh`]: Mad + Aad ≥ 100 (so Ad ≥ 100, Mt + Aar ≥ 100);
/// - [`BasisError::MissingInput`]: an input the pair needs is absent;
/// - [`BasisError::TotalMoistureBelowMad`]: Mt < Mad when converting between ar and ad or daf;
/// - [`BasisError::ResultOutOfRange`]: the converted content exceeds 100 %.
///
/// Every present input is validated, even one this pair does not need.
pub fn convert(
    value: Decimal,
    from: Basis,
    to: Basis,
    inputs: &BasisInputs,
) -> Result<Decimal, BasisError> {
    check_content(value)?;
    validate(inputs)?;
    if from == to {
        return Ok(value);
    }
    let (from_num, from_den) = to_dry(from, inputs)?;
    let (to_num, to_den) = to_dry(to, inputs)?;
    let uses_ar_and_mad =
        (from == Basis::Ar || to == Basis::Ar) && from != Basis::D && to != Basis::D;
    if uses_ar_and_mad {
        let (mt, mad) = (need(inputs.mt, "Mt")?, need(inputs.mad, "Mad")?);
        if mt < mad {
            return Err(BasisError::TotalMoistureBelowMad { mt, mad });
        }
    }
    // value × (from→d) × (d→to) = value × from_num·to_den / (from_den·to_num).
    let num = value
        .checked_mul(from_num)
        .and_then(|x| x.checked_mul(to_den))
        .ok_or(BasisError::ArithmeticOverflow)?;
    let den = from_den
        .checked_mul(to_num)
        .ok_or(BasisError::ArithmeticOverflow)?;
    let out = num.checked_div(den).ok_or(BasisError::ArithmeticOverflow)?;
    if out > HUNDRED {
        return Err(BasisError::ResultOutOfRange {
            value: out,
            basis: to,
        });
    }
    Ok(out)
}

/// Fixed carbon by difference, % air-dried: FCad = 100 − (Mad + Aad + Vad)
/// (STANDARDS.md §2; GB/T 212-2008). Inputs are % air-dried, unrounded.
///
/// # Errors
/// [`BasisError::MoistureOutOfRange`] (Mad), [`BasisError::NegativeContent`] (Aad or Vad < 0),
/// [`BasisError::MoisturePlusAshTooHigh`] (Mad + Aad ≥ 100), [`BasisError::ProximateSumAbove100`]
/// (the result would be negative).
pub fn fc_ad(mad: Decimal, aad: Decimal, vad: Decimal) -> Result<Decimal, BasisError> {
    check_moisture("Mad", mad)?;
    check_ash(mad, aad)?;
    if vad < Decimal::ZERO {
        return Err(BasisError::NegativeContent { value: vad });
    }
    let sum = mad + aad + vad;
    if sum > HUNDRED {
        return Err(BasisError::ProximateSumAbove100 { sum });
    }
    Ok(HUNDRED - sum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    fn inputs(mad: Option<&str>, mt: Option<&str>, aad: Option<&str>) -> BasisInputs {
        BasisInputs {
            mad: mad.map(d),
            mt: mt.map(d),
            aad: aad.map(d),
        }
    }

    #[test]
    fn ad_to_d_and_back() {
        let i = inputs(Some("2.00"), None, None);
        // Ad = 12.00 × 100/(100 − 2.00) = 1200/98 = 12.24489795918367346938775510204…
        // (28 significant digits kept; the 29th digit is 0, so no carry).
        let ad = convert(d("12.00"), Basis::Ad, Basis::D, &i).unwrap();
        assert_eq!(ad, d("12.244897959183673469387755102"));
        // Back: 12.244897959183673469387755102 × 98 = 1199.999999999999999999999999996; /100
        // = 11.99999999999999999999999999996, which 28 significant digits hold as 12.
        let back = convert(ad, Basis::D, Basis::Ad, &i).unwrap();
        assert_eq!(back.round_dp(6), d("12.000000"));
        assert!((back - d("12.00")).abs() < Decimal::new(1, 20));
    }

    #[test]
    fn identity_returns_the_value_unchanged() {
        let v = d("12.3456789");
        assert_eq!(
            convert(v, Basis::Ar, Basis::Ar, &BasisInputs::default()),
            Ok(v)
        );
    }

    #[test]
    fn ad_to_daf_and_back() {
        let i = inputs(Some("2.00"), None, Some("12.00"));
        // Vdaf = 25.00 × 100/(100 − 2.00 − 12.00) = 2500/86 = 29.069767441860465116279069767…
        let v = convert(d("25.00"), Basis::Ad, Basis::Daf, &i).unwrap();
        assert_eq!(v.round_dp(6), d("29.069767"));
        // daf → ad is the inverse: 29.0697674… × 86/100 = 25.00 (to 1e-20).
        let back = convert(v, Basis::Daf, Basis::Ad, &i).unwrap();
        assert!((back - d("25.00")).abs() < Decimal::new(1, 20));
    }

    #[test]
    fn ad_to_ar_with_total_moisture() {
        let i = inputs(Some("2.00"), Some("8.0"), None);
        // Aar = 12.00 × (100 − 8.0)/(100 − 2.00) = 1104/98 = 11.265306122448979591836734694
        let aar = convert(d("12.00"), Basis::Ad, Basis::Ar, &i).unwrap();
        assert_eq!(aar.round_dp(6), d("11.265306"));
        // ar → d only needs Mt: 23.00 × 100/(100 − 8.0) = 2300/92 = 25 exactly.
        let i_mt = inputs(None, Some("8.0"), None);
        assert_eq!(
            convert(d("23.00"), Basis::Ar, Basis::D, &i_mt).unwrap(),
            d("25")
        );
        // d → ar: 25 × (100 − 8.0)/100 = 23.
        assert_eq!(
            convert(d("25"), Basis::D, Basis::Ar, &i_mt).unwrap(),
            d("23")
        );
    }

    #[test]
    fn daf_via_ar_and_via_d_agree() {
        let i = inputs(Some("2.00"), Some("8.0"), Some("12.00"));
        // Aar = 12 × 92/98 = 11.2653061224…, so ar→daf = 100/(100 − 8 − 11.2653…) = 100·98/(92·86).
        // 23.00 × 9800/7912 = 28.488372093023255813953488372…
        let from_ar = convert(d("23.00"), Basis::Ar, Basis::Daf, &i).unwrap();
        assert_eq!(from_ar.round_dp(6), d("28.488372"));
        // The same sample on d: 23.00 × 100/92 = 25; Ad = 1200/98; 25 × 100/(100 − Ad) is the
        // same 28.4883720930…
        let from_d = convert(d("25"), Basis::D, Basis::Daf, &i).unwrap();
        assert!((from_ar - from_d).abs() < Decimal::new(1, 20));
        // daf → ar: 30.00 × 92·86/(100·98) = 237360/9800 = 24.220408163265306122448979592
        let to_ar = convert(d("30.00"), Basis::Daf, Basis::Ar, &i).unwrap();
        assert_eq!(to_ar.round_dp(6), d("24.220408"));
    }

    #[test]
    fn each_error() {
        let v = d("10");
        let e = |i: BasisInputs, from, to| convert(v, from, to, &i).unwrap_err();
        assert_eq!(
            e(inputs(Some("100"), None, None), Basis::Ad, Basis::D),
            BasisError::MoistureOutOfRange {
                name: "Mad",
                value: d("100")
            }
        );
        assert_eq!(
            e(inputs(None, Some("-0.1"), None), Basis::Ar, Basis::D),
            BasisError::MoistureOutOfRange {
                name: "Mt",
                value: d("-0.1")
            }
        );
        // 60 + 40 = 100 ≥ 100.
        assert_eq!(
            e(inputs(Some("60"), None, Some("40")), Basis::Ad, Basis::Daf),
            BasisError::MoisturePlusAshTooHigh {
                mad: d("60"),
                aad: d("40")
            }
        );
        assert_eq!(
            convert(d("-1"), Basis::Ad, Basis::D, &inputs(Some("2"), None, None)),
            Err(BasisError::NegativeContent { value: d("-1") })
        );
        assert_eq!(
            e(inputs(Some("2"), None, None), Basis::Ad, Basis::Ar),
            BasisError::MissingInput { name: "Mt" }
        );
        assert_eq!(
            e(inputs(Some("2"), Some("8"), None), Basis::Ad, Basis::Daf),
            BasisError::MissingInput { name: "Aad" }
        );
        assert_eq!(
            e(inputs(Some("9.0"), Some("8.0"), None), Basis::Ar, Basis::Ad),
            BasisError::TotalMoistureBelowMad {
                mt: d("8.0"),
                mad: d("9.0")
            }
        );
        // 60 × 100/(100 − 2 − 40) = 6000/58 = 103.45… > 100.
        let r = convert(
            d("60"),
            Basis::Ad,
            Basis::Daf,
            &inputs(Some("2"), None, Some("40")),
        );
        assert!(matches!(
            r,
            Err(BasisError::ResultOutOfRange {
                basis: Basis::Daf,
                ..
            })
        ));
    }

    #[test]
    fn mavis_downs_rows() {
        // Real rows of /work/shared/data/real/mavis_downs_prox_ad.csv: Mavis Downs MDL 136,
        // Bowen Basin (Peabody Energy Australia 2011, GSQ open-file report CR 58068), via the
        // MIT-licensed R package CoalCalcs (prox_long).
        // 1122CR 808170-9 LU: Mad 2.0, Aad 13.9, Vad 19.4, FCad 64.7.
        // FCad = 100 − (2.0 + 13.9 + 19.4) = 100 − 35.3 = 64.7, as published.
        assert_eq!(fc_ad(d("2.0"), d("13.9"), d("19.4")).unwrap(), d("64.7"));
        // Vdaf = 19.4 × 100/(100 − 2.0 − 13.9) = 1940/84.1 = 23.067776456599286563614744352…
        let i = inputs(Some("2.0"), None, Some("13.9"));
        let vdaf = convert(d("19.4"), Basis::Ad, Basis::Daf, &i).unwrap();
        assert_eq!(vdaf.round_dp(6), d("23.067776"));
        // Ad = 13.9 × 100/98 = 1390/98 = 14.183673469387755102040816327…
        let ad = convert(d("13.9"), Basis::Ad, Basis::D, &i).unwrap();
        assert_eq!(ad.round_dp(6), d("14.183673"));
        // 1130CR 808147-8 VU1: Mad 2.1, Aad 64.3, Vad 11.4, FCad 22.2: 100 − 77.8 = 22.2;
        // Vdaf = 11.4 × 100/(100 − 2.1 − 64.3) = 1140/33.6 = 33.928571428571…
        assert_eq!(fc_ad(d("2.1"), d("64.3"), d("11.4")).unwrap(), d("22.2"));
        let i = inputs(Some("2.1"), None, Some("64.3"));
        let vdaf = convert(d("11.4"), Basis::Ad, Basis::Daf, &i).unwrap();
        assert_eq!(vdaf.round_dp(6), d("33.928571"));
        // 1160C4 461497-500 VU1 is one of the four published rows that do not close:
        // Mad 1.35, Aad 1.2, Vad 11.2 give FCad 100 − 13.75 = 86.25, not the published 21.6.
        assert_eq!(fc_ad(d("1.35"), d("1.2"), d("11.2")).unwrap(), d("86.25"));
    }

    #[test]
    fn fc_ad_refuses_a_sum_above_100() {
        // 5 + 60 + 35.4 = 100.4 > 100.
        assert_eq!(
            fc_ad(d("5"), d("60"), d("35.4")),
            Err(BasisError::ProximateSumAbove100 { sum: d("100.4") })
        );
        // Exactly 100 leaves FCad = 0.
        assert_eq!(fc_ad(d("5"), d("60"), d("35")).unwrap(), d("0"));
    }

    proptest! {
        #[test]
        fn ad_d_ad_round_trip(mad in 0i64..4000, aad in 0i64..6000) {
            // Mad in [0, 40.00), Aad in [0, 60.00), two decimals as typed.
            let (mad, aad) = (Decimal::new(mad, 2), Decimal::new(aad, 2));
            let i = BasisInputs { mad: Some(mad), mt: None, aad: Some(aad) };
            let dry = convert(aad, Basis::Ad, Basis::D, &i).unwrap();
            let back = convert(dry, Basis::D, Basis::Ad, &i).unwrap();
            prop_assert!((back - aad).abs() < Decimal::new(1, 20));
            prop_assert_eq!(back.round_dp(6), aad.round_dp(6));
        }
    }
}
