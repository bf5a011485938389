//! Instants as stored: milliseconds since the Unix epoch, UTC.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

/// An instant as stored in the database (ms since the epoch, UTC).
pub fn to_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// The instant of a stored ms value. Out-of-range values clamp to the epoch (never panics).
pub fn from_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// Parses an RFC 3339 instant (`2025-12-01T09:30:00+08:00`).
///
/// # Errors
/// A human message naming the field when the text is not RFC 3339.
pub fn parse_instant(field: &str, text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            format!(
                "{field}: '{}' is not an RFC 3339 instant such as 2025-12-01T09:30:00+08:00",
                crate::domain::decimal::echo(text)
            )
        })
}

/// Parses an ISO date (`2025-12-01`).
///
/// # Errors
/// A human message naming the field when the text is not YYYY-MM-DD.
pub fn parse_date(field: &str, text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
        format!(
            "{field}: '{}' is not a date in the form YYYY-MM-DD",
            crate::domain::decimal::echo(text)
        )
    })
}

/// RFC 3339 text of a stored instant, in UTC.
pub fn ms_to_rfc3339(ms: i64) -> String {
    from_ms(ms).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
