//! Rounding and comparison with a limit, GB/T 8170-2008 (STANDARDS.md §3).
//!
//! Rounding is half to even (四舍六入五成双), done once, on the exact decimal as recorded; never
//! step by step and never through binary floating point. A value is compared with a limit
//! either as it is (全数值比较法, full-value comparison) or after rounding to the limit's decimal
//! place (修约值比较法, rounded-value comparison), as the limit says (GB/T 8170-2008 §4.3).

use crate::domain::terms::{ComparisonMethod, Operator};
use rust_decimal::{Decimal, RoundingStrategy};

/// Rounds `value` to `decimals` decimal places, half to even (GB/T 8170-2008 §3.3, 四舍六入五成双).
///
/// - first dropped digit < 5 → drop; > 5 → carry;
/// - = 5 followed by any non-zero digit → carry;
/// - = 5 followed by nothing or zeros → carry if the kept last digit is odd, drop if it is even.
///
/// Negative numbers are rounded on their absolute value (−2.5 → −2, −3.5 → −4), and a result of
/// zero is printed without a sign. The result always has exactly `decimals` decimals
/// (1.2 to 2 decimals is 1.20), so it can be printed as reported. The unit is that of `value`.
/// `decimals` above 28 (the most a `Decimal` holds) is treated as 28. Never fails.
pub fn round_half_even(value: Decimal, decimals: u32) -> Decimal {
    let decimals = decimals.min(Decimal::MAX_SCALE);
    let mut rounded = value.round_dp_with_strategy(decimals, RoundingStrategy::MidpointNearestEven);
    // round_dp leaves values with fewer decimals untouched: pad so "1.2" prints as "1.20".
    rounded.rescale(decimals);
    if rounded.is_zero() {
        // −0.004 → 0.00, not "-0.00" on a report.
        rounded.set_sign_positive(true);
    }
    rounded
}

/// The outcome of comparing one value with one limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Comparison {
    /// The value that was compared: the value itself (full-value) or the value rounded to the
    /// limit's decimals (rounded-value). Same unit as the value.
    pub compared_value: Decimal,
    /// Whether `compared_value OP limit` holds.
    pub passes: bool,
}

/// Whether `left OP right` holds (`Operator::Le` is ≤, `Lt` <, `Ge` ≥, `Gt` >); numeric
/// comparison, so 1.0 and 1.00 are equal.
pub fn holds(left: Decimal, operator: Operator, right: Decimal) -> bool {
    match operator {
        Operator::Le => left <= right,
        Operator::Lt => left < right,
        Operator::Ge => left >= right,
        Operator::Gt => left > right,
    }
}

/// Compares `value` with a limit `OP limit` (GB/T 8170-2008 §4.3).
///
/// - [`ComparisonMethod::FullValue`] (全数值比较法): the unrounded value is compared, so any
///   excursion beyond the limit fails (St,d 1.004 against ≤ 1.00 fails).
/// - [`ComparisonMethod::RoundedValue`] (修约值比较法): the value is first rounded half to even to
///   `limit_decimals` ([`round_half_even`]), then compared (St,d 1.004 → 1.00 ≤ 1.00 passes).
///
/// `value` and `limit` are in the same unit and on the same basis (the caller converts first,
/// STANDARDS.md §2). Never fails.
pub fn compare_with_limit(
    value: Decimal,
    operator: Operator,
    limit: Decimal,
    limit_decimals: u32,
    method: ComparisonMethod,
) -> Comparison {
    let compared_value = match method {
        ComparisonMethod::FullValue => value,
        ComparisonMethod::RoundedValue => round_half_even(value, limit_decimals),
    };
    Comparison {
        compared_value,
        passes: holds(compared_value, operator, limit),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    /// Rounds and prints, so the scale is checked along with the value.
    fn r(value: &str, decimals: u32) -> String {
        round_half_even(d(value), decimals).to_string()
    }

    #[test]
    fn half_to_even_examples() {
        assert_eq!(r("2.5", 0), "2"); // dropped 5, nothing after, kept 2 even → drop
        assert_eq!(r("3.5", 0), "4"); // dropped 5, kept 3 odd → carry
        assert_eq!(r("1.005", 2), "1.00"); // dropped 5, kept 0 even → drop
        assert_eq!(r("1.015", 2), "1.02"); // dropped 5, kept 1 odd → carry
        assert_eq!(r("1.025", 2), "1.02"); // dropped 5, kept 2 even → drop
        assert_eq!(r("1.035", 2), "1.04"); // dropped 5, kept 3 odd → carry
        assert_eq!(r("1.0051", 2), "1.01"); // dropped 51: 5 then non-zero → carry
        assert_eq!(r("1.0250001", 2), "1.03"); // dropped 50001: 5 then non-zero → carry
        assert_eq!(r("1.02500", 2), "1.02"); // dropped 500: 5 then zeros, kept 2 even → drop
        assert_eq!(r("2.675", 2), "2.68"); // exact decimal: dropped 5, kept 7 odd → carry
        assert_eq!(r("1.234", 2), "1.23"); // dropped 4 < 5 → drop
        assert_eq!(r("1.236", 2), "1.24"); // dropped 6 > 5 → carry
        assert_eq!(r("9.995", 2), "10.00"); // kept 9 odd → carry ripples: 9.99 + 0.01 = 10.00
        assert_eq!(r("15.996", 0), "16"); // dropped 996: first 9 > 5 → carry
    }

    #[test]
    fn result_has_exactly_the_requested_decimals() {
        assert_eq!(r("1.2", 2), "1.20"); // padded: 1.2 = 1.20
        assert_eq!(r("16", 2), "16.00");
        assert_eq!(r("0", 3), "0.000");
        assert_eq!(r("1.50", 1), "1.5"); // 1.50 → dropped 0 → 1.5
        assert_eq!(round_half_even(d("1.2"), 2).scale(), 2);
    }

    #[test]
    fn negative_values_round_on_the_absolute_value() {
        assert_eq!(r("-2.5", 0), "-2"); // |−2.5| → 2, sign kept
        assert_eq!(r("-3.5", 0), "-4"); // |−3.5| → 4
        assert_eq!(r("-1.015", 2), "-1.02"); // |−1.015| → 1.02
        assert_eq!(r("-1.0051", 2), "-1.01"); // |−1.0051| → 1.01
        assert_eq!(r("-0.004", 2), "0.00"); // |−0.004| → 0.00, zero printed unsigned
    }

    #[test]
    fn the_four_operators_exactly_at_the_limit() {
        let limit = d("1.00");
        let at = |op| compare_with_limit(d("1.00"), op, limit, 2, ComparisonMethod::FullValue);
        assert!(at(Operator::Le).passes); // 1.00 ≤ 1.00
        assert!(!at(Operator::Lt).passes); // 1.00 < 1.00 is false
        assert!(at(Operator::Ge).passes); // 1.00 ≥ 1.00
        assert!(!at(Operator::Gt).passes); // 1.00 > 1.00 is false

        // Scale does not matter: 1 = 1.000.
        assert!(holds(d("1"), Operator::Le, d("1.000")));
        assert!(!holds(d("1"), Operator::Lt, d("1.000")));
    }

    #[test]
    fn full_value_fails_where_rounded_value_passes() {
        // St,d 1.004 against ≤ 1.00 (2 decimals).
        let full = compare_with_limit(
            d("1.004"),
            Operator::Le,
            d("1.00"),
            2,
            ComparisonMethod::FullValue,
        );
        // full: 1.004 ≤ 1.00 is false.
        assert_eq!(full.compared_value, d("1.004"));
        assert!(!full.passes);
        let rounded = compare_with_limit(
            d("1.004"),
            Operator::Le,
            d("1.00"),
            2,
            ComparisonMethod::RoundedValue,
        );
        // rounded: 1.004 → 1.00 (dropped 4 < 5); 1.00 ≤ 1.00 holds.
        assert_eq!(rounded.compared_value.to_string(), "1.00");
        assert!(rounded.passes);
        // And the other way for "<": 0.996 < 1.00 passes in full, but rounds to 1.00 and fails.
        let lt = |m| compare_with_limit(d("0.996"), Operator::Lt, d("1.00"), 2, m);
        assert!(lt(ComparisonMethod::FullValue).passes);
        assert!(!lt(ComparisonMethod::RoundedValue).passes);
        // Half to even in the comparison: 1.005 → 1.00 (kept 0 even) ≤ 1.00 passes;
        // 1.015 → 1.02 > 1.01 for a limit ≤ 1.01 fails.
        let c =
            |v, l| compare_with_limit(d(v), Operator::Le, d(l), 2, ComparisonMethod::RoundedValue);
        assert!(c("1.005", "1.00").passes);
        assert!(!c("1.015", "1.01").passes);
    }

    /// Reference GB/T 8170 rounding written on the digit string, without rust_decimal rounding.
    fn reference_round(text: &str, decimals: usize) -> String {
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (int_part, frac_part) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        let mut frac: Vec<u8> = frac_part.bytes().map(|b| b - b'0').collect();
        while frac.len() < decimals {
            frac.push(0);
        }
        let dropped = frac.split_off(decimals);
        let mut kept: Vec<u8> = int_part.bytes().map(|b| b - b'0').collect();
        kept.extend_from_slice(&frac);
        let carry = match dropped.first() {
            None => false,
            Some(&first) if first < 5 => false,
            Some(&first) if first > 5 => true,
            Some(_) if dropped[1..].iter().any(|&x| x != 0) => true,
            Some(_) => kept.last().is_some_and(|&last| last % 2 == 1),
        };
        if carry {
            let mut i = kept.len();
            loop {
                if i == 0 {
                    kept.insert(0, 1);
                    break;
                }
                i -= 1;
                if kept[i] == 9 {
                    kept[i] = 0;
                } else {
                    kept[i] += 1;
                    break;
                }
            }
        }
        let digits: String = kept.iter().map(|x| char::from(b'0' + x)).collect();
        let split = digits.len() - decimals;
        let int_digits = digits[..split].trim_start_matches('0');
        let int_digits = if int_digits.is_empty() {
            "0"
        } else {
            int_digits
        };
        let mut out = String::new();
        if negative && kept.iter().any(|&x| x != 0) {
            out.push('-');
        }
        out.push_str(int_digits);
        if decimals > 0 {
            out.push('.');
            out.push_str(&digits[split..]);
        }
        out
    }

    #[test]
    fn reference_round_agrees_on_the_hand_examples() {
        assert_eq!(reference_round("2.5", 0), "2");
        assert_eq!(reference_round("9.995", 2), "10.00");
        assert_eq!(reference_round("-0.004", 2), "0.00");
        assert_eq!(reference_round("1.2", 2), "1.20");
    }

    proptest! {
        #[test]
        fn agrees_with_digit_by_digit_reference(
            mantissa in -100_000_000_000_000_i64..=100_000_000_000_000_i64,
            scale in 0u32..=8,
            decimals in 0u32..=4,
            // Bias towards ties: replace the last dropped digits with 5 or 50…0.
            tie in 0u8..3,
        ) {
            let mantissa = match (tie, scale > decimals) {
                (1, true) => mantissa / 10 * 10 + mantissa.signum() * 5,
                (2, true) => {
                    let p = 10_i64.pow(scale - decimals);
                    mantissa / p * p + mantissa.signum() * (p / 2)
                }
                _ => mantissa,
            };
            let value = Decimal::new(mantissa, scale);
            let text = value.to_string();
            prop_assert_eq!(
                round_half_even(value, decimals).to_string(),
                reference_round(&text, decimals as usize),
                "{} to {} decimals", text, decimals
            );
        }
    }
}
