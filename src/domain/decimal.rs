//! Parsing what a person typed into exact decimals (DESIGN.md "From determinations to a
//! verdict", step 1: determinations are decimals as typed, never binary floating point).
//!
//! GB/T 8170-2008 rounds "the decimal value as recorded" (STANDARDS.md §3), so the value must be
//! kept exactly as typed, scale included: "1.50" stays 1.50 (scale 2). Anything that is not a
//! plain decimal (exponents, NaN, infinity, thousands separators, a bare point) is refused with a
//! message a technician can act on, rather than guessed at.

use crate::domain::terms::Analysis;
use rust_decimal::Decimal;

/// Most decimals a typed value may carry. STANDARDS.md §1 reports at most 2 decimals and keeps
/// one more digit in determinations; 6 leaves room for instrument output without admitting noise.
pub const MAX_DECIMALS: u32 = 6;

/// Most integer digits a typed value may carry (contents are below 100 %, calorific values below
/// 100 MJ/kg; 15 digits is far beyond any physical value and keeps every value exact).
pub const MAX_INTEGER_DIGITS: u32 = 15;

/// Why a typed value was refused. `text` is the value as typed, trimmed of surrounding spaces.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    /// Nothing (or only spaces) was typed.
    #[error("no value entered")]
    Empty,
    /// Not a plain decimal: letters, NaN, infinity, thousands or decimal commas, a point without
    /// a digit on both sides, a second sign or point.
    #[error(
        "'{text}' is not a number: type digits with an optional decimal point and at least one \
         digit on each side of it, e.g. 12.34 (no thousands separators, no decimal comma)"
    )]
    NotANumber {
        /// The value as typed.
        text: String,
    },
    /// Exponent notation such as "1e3" or "1E-2".
    #[error("'{text}' uses exponent notation: type the plain decimal instead, e.g. 1000 or 0.01")]
    Exponent {
        /// The value as typed.
        text: String,
    },
    /// More decimals than [`MAX_DECIMALS`].
    #[error("'{text}' has too many decimals: at most {max} are accepted")]
    TooManyDecimals {
        /// The value as typed.
        text: String,
        /// The most decimals accepted ([`MAX_DECIMALS`]).
        max: u32,
    },
    /// More integer digits than [`MAX_INTEGER_DIGITS`].
    #[error("'{text}' has too many digits before the decimal point: at most {max} are accepted")]
    TooManyDigits {
        /// The value as typed.
        text: String,
        /// The most integer digits accepted ([`MAX_INTEGER_DIGITS`]).
        max: u32,
    },
    /// A negative value (including "-0" and "-0.00") where only values ≥ 0 make sense.
    #[error("'{text}' is negative: the value cannot be below zero")]
    Negative {
        /// The value as typed.
        text: String,
    },
    /// Outside the physical range of the analysis.
    #[error(
        "{text} is out of range for {}: it must be at least {min} and {} {max} {}",
        .analysis.symbol(),
        if *.max_inclusive { "at most" } else { "below" },
        .analysis.unit()
    )]
    OutOfRange {
        /// The value (as typed, or as given to [`validate_determination`]).
        text: String,
        /// The analysis whose range was checked.
        analysis: Analysis,
        /// Lowest allowed value (inclusive).
        min: Decimal,
        /// Upper bound, inclusive when `max_inclusive`, exclusive otherwise.
        max: Decimal,
        /// Whether `max` itself is allowed.
        max_inclusive: bool,
    },
}

/// How a refused value is echoed in its message: as typed up to 40 characters, longer ones cut
/// with "…" and their length, so a pasted page of text does not come back whole.
pub fn echo(text: &str) -> String {
    const MAX: usize = 40;
    let n = text.chars().count();
    if n <= MAX {
        text.to_string()
    } else {
        let head: String = text.chars().take(MAX).collect();
        format!("{head}… ({n} characters)")
    }
}

/// Parses a typed decimal exactly, keeping the scale as typed ("1.50" → 1.50, scale 2).
///
/// Accepted: surrounding whitespace, an optional leading `-` or `+`, ASCII digits, and an
/// optional `.` followed by 1 to [`MAX_DECIMALS`] digits; at least one digit before the point.
/// Source: DESIGN.md step 1 and STANDARDS.md §3 (round the decimal value as recorded).
///
/// # Errors
/// - [`DecimalError::Empty`]: nothing typed.
/// - [`DecimalError::Exponent`]: "1e3", "1E-2".
/// - [`DecimalError::NotANumber`]: "NaN", "inf", "1,000", "1,5", ".5", "5.", "1.2.3", "--1".
/// - [`DecimalError::TooManyDecimals`]: more than [`MAX_DECIMALS`] decimals.
/// - [`DecimalError::TooManyDigits`]: more than [`MAX_INTEGER_DIGITS`] integer digits.
pub fn parse_decimal(text: &str) -> Result<Decimal, DecimalError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DecimalError::Empty);
    }
    let not_a_number = || DecimalError::NotANumber { text: echo(text) };
    let (negative, unsigned) = match text.as_bytes()[0] {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (integer, fraction) = match unsigned.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (unsigned, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let well_formed = all_digits(integer) && fraction.is_none_or(all_digits);
    if !well_formed {
        // Exponent notation gets its own message, because spreadsheets and instruments produce it.
        let looks_like_exponent = text.contains(['e', 'E'])
            && text
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, 'e' | 'E' | '.' | '+' | '-'))
            && text.chars().any(|c| c.is_ascii_digit());
        return Err(if looks_like_exponent {
            DecimalError::Exponent { text: echo(text) }
        } else {
            not_a_number()
        });
    }
    let decimals = fraction.map_or(0, str::len);
    if decimals > MAX_DECIMALS as usize {
        return Err(DecimalError::TooManyDecimals {
            text: echo(text),
            max: MAX_DECIMALS,
        });
    }
    if integer.len() > MAX_INTEGER_DIGITS as usize {
        return Err(DecimalError::TooManyDigits {
            text: echo(text),
            max: MAX_INTEGER_DIGITS,
        });
    }
    // At most 15 + 6 digits: always exact in a Decimal (28 digits), so this cannot fail.
    let mut value = Decimal::from_str_exact(unsigned).map_err(|_| not_a_number())?;
    value.set_sign_negative(negative);
    Ok(value)
}

/// Parses a typed decimal that must not be negative (a content in % or a calorific value in
/// MJ/kg). "-0" and "-0.00" are refused too: a sign on zero is a typing slip worth showing.
///
/// # Errors
/// Every error of [`parse_decimal`], and [`DecimalError::Negative`] when a `-` sign was typed.
pub fn parse_non_negative(text: &str) -> Result<Decimal, DecimalError> {
    let value = parse_decimal(text)?;
    if text.trim().starts_with('-') {
        return Err(DecimalError::Negative {
            text: echo(text.trim()),
        });
    }
    Ok(value)
}

/// The physical range of one determination: (min, max, max_inclusive).
///
/// Contents (Mt, Mad, Aad, Vad, St,ad, Had) are % mass fractions: 0 ≤ v < 100 (a content of
/// 100 % would leave no coal). Qgr,ad is in MJ/kg: 0 ≤ v ≤ 40 (no coal exceeds about 37 MJ/kg;
/// STANDARDS.md §1 gives the unit).
pub fn determination_range(analysis: Analysis) -> (Decimal, Decimal, bool) {
    match analysis {
        Analysis::QgrAd => (Decimal::ZERO, Decimal::from(40), true),
        Analysis::Mt
        | Analysis::Mad
        | Analysis::Aad
        | Analysis::Vad
        | Analysis::StAd
        | Analysis::Had => (Decimal::ZERO, Decimal::ONE_HUNDRED, false),
    }
}

/// Checks a determination against the physical range of its analysis
/// ([`determination_range`]: contents in % 0 ≤ v < 100, Qgr,ad in MJ/kg 0 ≤ v ≤ 40).
///
/// # Errors
/// [`DecimalError::OutOfRange`] with the analysis, the bounds and whether the upper one is
/// inclusive.
pub fn validate_determination(analysis: Analysis, value: Decimal) -> Result<(), DecimalError> {
    let (min, max, max_inclusive) = determination_range(analysis);
    let below_max = if max_inclusive {
        value <= max
    } else {
        value < max
    };
    if value >= min && below_max {
        Ok(())
    } else {
        Err(DecimalError::OutOfRange {
            text: value.to_string(),
            analysis,
            min,
            max,
            max_inclusive,
        })
    }
}

/// The text of a typed decimal (a determination, a lot mass) as it is recorded: as typed (so
/// its scale stays, "1.50"), trimmed, without a leading `+` ("+2.10" → "2.10") and without
/// leading zeros before the integer digit ("0015.20" → "15.20", "00.5" → "0.5"), which
/// [`parse_decimal`] accepts but which are not part of the value.
pub fn recorded_text(text: &str) -> String {
    let t = text.trim();
    let t = t.strip_prefix('+').unwrap_or(t);
    let mut t = t;
    while t.len() > 1 && t.starts_with('0') && t[1..].starts_with(|c: char| c.is_ascii_digit()) {
        t = &t[1..];
    }
    t.to_string()
}

/// Parses one typed determination of `analysis` (% mass fraction, or MJ/kg for Qgr,ad): exact,
/// scale as typed, not negative, within the physical range.
///
/// # Errors
/// Every error of [`parse_non_negative`], then [`DecimalError::OutOfRange`] from
/// [`validate_determination`].
pub fn parse_determination(analysis: Analysis, text: &str) -> Result<Decimal, DecimalError> {
    let value = parse_non_negative(text)?;
    validate_determination(analysis, value)?;
    Ok(value)
}

#[cfg(test)]
mod tests {

    #[test]
    fn long_refused_values_are_echoed_shortened() {
        let long = "x".repeat(200_000);
        let e = super::parse_decimal(&long).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!(
                "'{}… (200000 characters)' is not a number",
                "x".repeat(40)
            )),
            "{}",
            &e[..80]
        );
        assert!(e.len() < 300);
        assert_eq!(super::echo("12,5"), "12,5");
    }
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    #[test]
    fn keeps_the_value_and_scale_as_typed() {
        // "1.50" is 150 × 10^-2: scale 2, printed back as typed.
        let v = parse_decimal("1.50").unwrap();
        assert_eq!(v.scale(), 2);
        assert_eq!(v.to_string(), "1.50");
        // Surrounding spaces (also the ideographic space U+3000) are trimmed.
        assert_eq!(parse_decimal("  12.345\t").unwrap().to_string(), "12.345");
        assert_eq!(parse_decimal("\u{3000}7\u{3000}").unwrap(), d("7"));
        // Signs: "+2.5" = 2.5, "-2.5" = -2.5.
        assert_eq!(parse_decimal("+2.5").unwrap(), d("2.5"));
        assert_eq!(parse_decimal("-2.5").unwrap(), d("-2.5"));
        // Six decimals is the most accepted: 0.000001 = 1 × 10^-6.
        assert_eq!(parse_decimal("0.000001").unwrap(), Decimal::new(1, 6));
        // Fifteen integer digits are accepted: 999 999 999 999 999.
        assert_eq!(
            parse_decimal("999999999999999").unwrap(),
            Decimal::from(999_999_999_999_999_i64)
        );
        // 2.675 stays exactly 2675 × 10^-3 (a float could not hold it).
        assert_eq!(parse_decimal("2.675").unwrap(), Decimal::new(2675, 3));
    }

    #[test]
    fn refuses_what_is_not_a_plain_decimal() {
        assert_eq!(parse_decimal(""), Err(DecimalError::Empty));
        assert_eq!(parse_decimal("   "), Err(DecimalError::Empty));
        for text in [
            "NaN", "nan", "inf", "-inf", "Infinity", "1,000", "1,5", "1 000", ".5", "5.", "-", "+",
            "1.2.3", "--1", "+-1", "1-", "abc", "１２", "−1", "0x10", "e", "1.5%",
        ] {
            assert_eq!(
                parse_decimal(text),
                Err(DecimalError::NotANumber {
                    text: text.to_string()
                }),
                "{text}"
            );
        }
        for text in ["1e3", "1E-2", "2.5e+1", "-1e3"] {
            assert_eq!(
                parse_decimal(text),
                Err(DecimalError::Exponent {
                    text: text.to_string()
                }),
                "{text}"
            );
        }
        // Seven decimals > MAX_DECIMALS = 6.
        assert_eq!(
            parse_decimal("1.0000001"),
            Err(DecimalError::TooManyDecimals {
                text: "1.0000001".into(),
                max: 6
            })
        );
        // Sixteen integer digits > MAX_INTEGER_DIGITS = 15.
        assert_eq!(
            parse_decimal("1000000000000000"),
            Err(DecimalError::TooManyDigits {
                text: "1000000000000000".into(),
                max: 15
            })
        );
    }

    #[test]
    fn non_negative_refuses_any_minus_sign() {
        assert_eq!(parse_non_negative("0").unwrap(), Decimal::ZERO);
        assert_eq!(parse_non_negative("+0.5").unwrap(), d("0.5"));
        for text in ["-1", "-0", "-0.00", " -0.01 "] {
            assert_eq!(
                parse_non_negative(text),
                Err(DecimalError::Negative {
                    text: text.trim().to_string()
                }),
                "{text}"
            );
        }
        // A malformed negative is reported as malformed first.
        assert!(matches!(
            parse_non_negative("-1e3"),
            Err(DecimalError::Exponent { .. })
        ));
    }

    #[test]
    fn physical_ranges_per_analysis() {
        // Contents: 0 ≤ v < 100.
        assert!(validate_determination(Analysis::Aad, d("0")).is_ok());
        assert!(validate_determination(Analysis::Mad, d("99.999999")).is_ok());
        let e = validate_determination(Analysis::Mad, d("100.00")).unwrap_err();
        assert_eq!(
            e,
            DecimalError::OutOfRange {
                text: "100.00".into(),
                analysis: Analysis::Mad,
                min: d("0"),
                max: d("100"),
                max_inclusive: false,
            }
        );
        assert_eq!(
            e.to_string(),
            "100.00 is out of range for Mad: it must be at least 0 and below 100 %"
        );
        assert!(validate_determination(Analysis::StAd, d("-0.01")).is_err());
        // Qgr,ad: 0 ≤ v ≤ 40 MJ/kg, 40 itself allowed, 40.01 not.
        assert!(validate_determination(Analysis::QgrAd, d("40.00")).is_ok());
        let e = validate_determination(Analysis::QgrAd, d("40.01")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "40.01 is out of range for Qgr,ad: it must be at least 0 and at most 40 MJ/kg"
        );
    }

    #[test]
    fn recorded_text_drops_only_the_plus_and_the_blanks() {
        assert_eq!(recorded_text(" +2.10 "), "2.10");
        assert_eq!(recorded_text("2.10"), "2.10");
        assert_eq!(recorded_text("0.5"), "0.5");
        // Leading zeros are not part of the value either; the scale stays.
        assert_eq!(recorded_text("0015.20"), "15.20");
        assert_eq!(recorded_text("00.5"), "0.5");
        assert_eq!(recorded_text("000"), "0");
        assert_eq!(recorded_text("+007"), "7");
    }

    #[test]
    fn parse_determination_chains_the_checks() {
        assert_eq!(
            parse_determination(Analysis::Aad, " 15.235 ").unwrap(),
            d("15.235")
        );
        assert!(matches!(
            parse_determination(Analysis::Aad, "-1"),
            Err(DecimalError::Negative { .. })
        ));
        assert!(matches!(
            parse_determination(Analysis::Aad, "100"),
            Err(DecimalError::OutOfRange { .. })
        ));
        assert!(matches!(
            parse_determination(Analysis::QgrAd, "24,5"),
            Err(DecimalError::NotANumber { .. })
        ));
    }
}
