//! Net calorific value as received, Qnet,ar, from the gross calorific value of the analysis
//! sample (STANDARDS.md §2; GB/T 213-2008). Units: MJ/kg (1 MJ/kg = 1000 J/g). Re-exported from
//! [`crate::domain::basis`], whose errors it uses.

use crate::domain::basis::{check_content, check_moisture, BasisError, HUNDRED};
use rust_decimal::Decimal;

/// Net calorific value as received, MJ/kg (STANDARDS.md §2; GB/T 213-2008).
///
/// The standard states it in J/g: Qnet,ar = (Qgr,ad − 206·Had) × (100 − Mt)/(100 − Mad) − 23·Mt.
/// With Q in MJ/kg (1 MJ/kg = 1000 J/g) the coefficients become 0.206 and 0.023:
/// Qnet,ar = (Qgr,ad − 0.206·Had) × (100 − Mt)/(100 − Mad) − 0.023·Mt.
/// `qgr_ad_mj_per_kg` is Qgr,ad in MJ/kg; `had` (hydrogen), `mad` are % air-dried; `mt` is % as
/// received. Unrounded; one decimal division.
///
/// # Errors
/// [`BasisError::MoistureOutOfRange`] (Mt, Mad), [`BasisError::TotalMoistureBelowMad`],
/// [`BasisError::NegativeContent`] / [`BasisError::ContentAbove100`] (Had),
/// [`BasisError::NegativeCalorificValue`] (Qgr,ad given, or Qnet,ar computed, below zero).
pub fn qnet_ar(
    qgr_ad_mj_per_kg: Decimal,
    had: Decimal,
    mt: Decimal,
    mad: Decimal,
) -> Result<Decimal, BasisError> {
    check_moisture("Mt", mt)?;
    check_moisture("Mad", mad)?;
    if mt < mad {
        return Err(BasisError::TotalMoistureBelowMad { mt, mad });
    }
    check_content(had)?;
    if qgr_ad_mj_per_kg < Decimal::ZERO {
        return Err(BasisError::NegativeCalorificValue {
            value: qgr_ad_mj_per_kg,
        });
    }
    let hydrogen = Decimal::new(206, 3); // 206 J/g per % H = 0.206 MJ/kg
    let water = Decimal::new(23, 3); // 23 J/g per % Mt = 0.023 MJ/kg
    let num = (qgr_ad_mj_per_kg - hydrogen * had)
        .checked_mul(HUNDRED - mt)
        .ok_or(BasisError::ArithmeticOverflow)?;
    let q = num
        .checked_div(HUNDRED - mad)
        .ok_or(BasisError::ArithmeticOverflow)?
        - water * mt;
    if q < Decimal::ZERO {
        return Err(BasisError::NegativeCalorificValue { value: q });
    }
    Ok(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    #[test]
    fn qnet_ar_in_mj_per_kg() {
        // Qgr,ad 25.00 MJ/kg, Had 4.00 %, Mt 8.0 %, Mad 2.00 %:
        // (25.00 − 0.206 × 4.00) × (100 − 8.0)/(100 − 2.00) − 0.023 × 8.0
        // = 24.176 × 92/98 − 0.184 = 2224.192/98 − 0.184
        // = 22.695836734693877551020408163 − 0.184 = 22.511836734693877551020408163
        let q = qnet_ar(d("25.00"), d("4.00"), d("8.0"), d("2.00")).unwrap();
        assert_eq!(q.round_dp(9), d("22.511836735"));
        assert_eq!(
            qnet_ar(d("25"), d("4"), d("1.0"), d("2.0")),
            Err(BasisError::TotalMoistureBelowMad {
                mt: d("1.0"),
                mad: d("2.0")
            })
        );
        assert_eq!(
            qnet_ar(d("-1"), d("4"), d("8"), d("2")),
            Err(BasisError::NegativeCalorificValue { value: d("-1") })
        );
    }
}
