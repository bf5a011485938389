//! Free text typed by people (names, seal numbers, reasons): bounded in length and free of
//! control and text-direction characters, which would forge lines in logs, CSV exports and
//! printed reports, or make a name display as another (Unicode bidi overrides, "Trojan
//! Source"). Checked before anything is written.

use crate::error::AppError;

/// Unicode bidirectional embedding, override and isolate controls (U+202A–U+202E,
/// U+2066–U+2069) and the implicit marks (U+200E, U+200F, U+061C).
fn is_direction_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// The Unicode line and paragraph separators (U+2028, U+2029: line breaks to many viewers) and
/// the zero-width no-break space / byte-order mark (U+FEFF: invisible).
fn is_invisible_break(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}' | '\u{FEFF}')
}

/// Characters that show nothing: the zero-width space, joiners and word joiner, invisible
/// operators, the soft hyphen, the combining grapheme joiner, the Mongolian vowel separator,
/// the Hangul fillers and U+FEFF.
fn is_blank_format(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200D}'
            | '\u{2060}'..='\u{2064}'
            | '\u{00AD}'
            | '\u{034F}'
            | '\u{180E}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{3164}'
            | '\u{FFA0}'
            | '\u{FEFF}'
    )
}

/// Whether `v` shows anything: it holds a character that is neither white space nor one of
/// the characters that show nothing (a name of only zero-width spaces is blank).
pub fn visible(v: &str) -> bool {
    v.chars().any(|c| !c.is_whitespace() && !is_blank_format(c))
}

fn check(field: &str, v: &str, max: usize, allowed: &[char]) -> Result<(), AppError> {
    if v.chars().count() > max {
        return Err(AppError::invalid(
            "invalid_value",
            format!("{field} is longer than {max} characters"),
        ));
    }
    if v.chars().any(|c| {
        (c.is_control() && !allowed.contains(&c))
            || is_direction_control(c)
            || is_invisible_break(c)
    }) {
        return Err(AppError::invalid(
            "invalid_value",
            format!("{field} contains control or text-direction characters"),
        ));
    }
    Ok(())
}

/// One line of text (a name, a code): at most `max` characters, no control characters at all.
///
/// # Errors
/// 422 `invalid_value` naming `field`.
pub fn single_line(field: &str, v: &str, max: usize) -> Result<(), AppError> {
    check(field, v, max, &[])
}

/// An identifier read off a label (a seal number, a licence number): [`single_line`], and no
/// character that shows nothing (a zero-width space would make `T-1` and `T-1\u{200B}` two
/// seals that print the same).
///
/// # Errors
/// 422 `invalid_value` naming `field`.
pub fn identifier(field: &str, v: &str, max: usize) -> Result<(), AppError> {
    check(field, v, max, &[])?;
    if v.chars().any(is_blank_format) {
        return Err(AppError::invalid(
            "invalid_value",
            format!("{field} contains a character that shows nothing (a zero-width space, joiner or soft hyphen)"),
        ));
    }
    Ok(())
}

/// A paragraph (a reason): at most `max` characters; line breaks and tabs are allowed, other
/// control characters are not.
///
/// # Errors
/// 422 `invalid_value` naming `field`.
pub fn paragraph(field: &str, v: &str, max: usize) -> Result<(), AppError> {
    check(field, v, max, &['\n', '\r', '\t'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_refuse_controls_and_direction_overrides() {
        assert!(single_line("name", "张伟", 10).is_ok());
        assert!(single_line("name", "a\u{7}b", 10).is_err());
        assert!(single_line("name", "tech\u{202E}gnaw", 20).is_err());
        assert!(single_line("name", "a\u{200F}", 10).is_err());
        assert!(single_line("name", "a\nb", 10).is_err());
        assert!(single_line("name", "N8\u{2028}x", 10).is_err());
        assert!(single_line("name", "\u{FEFF}SP", 10).is_err());
        assert!(paragraph("reason", "a\u{2029}b", 10).is_err());
        // Blank to a reader: white space and zero-width characters only.
        assert!(visible("张伟") && visible(" a\u{200B}"));
        assert!(!visible(" \u{200B}\u{3000}") && !visible("\u{2060}\u{00AD}") && !visible(""));
        assert!(paragraph("reason", "a\r\nb\tc", 10).is_ok());
        // 11 characters (not bytes) is over 10.
        assert!(single_line("name", "一二三四五六七八九十一", 10).is_err());
        assert!(single_line("name", "一二三四五六七八九十", 10).is_ok());
    }

    #[test]
    fn reasons_keep_line_breaks_only() {
        assert!(paragraph("reason", "seal broken\r\nsee photo\t1", 100).is_ok());
        assert!(paragraph("reason", "x\u{1b}[31m", 100).is_err());
        assert!(paragraph("reason", "x\u{2066}y", 100).is_err());
    }
}
