//! Reading an official calendar from CSV text (no file I/O: the caller passes the text).
//!
//! Format (fixtures/calendars/cn-official-2025-2026.csv, from the State Council General Office
//! holiday notices; STANDARDS.md §6): a header naming at least `date`, `kind` and `occasion`
//! (any order; other columns such as `source` are kept in the file for provenance and ignored
//! here), then one row per listed date: ISO 8601 date, `rest_day` or `working_day`, occasion.

use super::calendar::{CalendarDay, CalendarError, DayKind};
use chrono::NaiveDate;
use std::collections::HashMap;

/// Parses calendar rows from CSV text (UTF-8, optional BOM, fields trimmed).
///
/// # Errors
/// - [`CalendarError::Csv`] for unreadable CSV (bad quoting, rows of uneven length), with line;
/// - [`CalendarError::MissingColumn`] when the header lacks `date`, `kind` or `occasion`;
/// - [`CalendarError::InvalidField`] for a date that is not `YYYY-MM-DD`, an unknown kind, or an
///   empty occasion, naming the line (the header is line 1) and column;
/// - [`CalendarError::ConflictingLine`] when a date appears again with another kind.
pub fn parse_calendar_csv(text: &str) -> Result<Vec<CalendarDay>, CalendarError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let csv_error = |e: csv::Error| CalendarError::Csv {
        line: e.position().map_or(1, csv::Position::line),
        message: e.to_string(),
    };
    let headers = reader.headers().map_err(csv_error)?.clone();
    let column = |name: &'static str| {
        headers
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}') == name)
            .ok_or(CalendarError::MissingColumn { column: name })
    };
    let (date_col, kind_col, occasion_col) =
        (column("date")?, column("kind")?, column("occasion")?);

    let mut days = Vec::new();
    let mut seen: HashMap<NaiveDate, (u64, DayKind)> = HashMap::new();
    for record in reader.records() {
        let record = record.map_err(csv_error)?;
        let line = record.position().map_or(0, csv::Position::line);
        let field = |col: usize| record.get(col).unwrap_or("");
        let invalid = |column: &'static str, message: String| CalendarError::InvalidField {
            line,
            column,
            message,
        };
        let raw_date = field(date_col);
        let date = NaiveDate::parse_from_str(raw_date, "%Y-%m-%d").map_err(|e| {
            invalid(
                "date",
                format!("'{raw_date}' is not a YYYY-MM-DD date ({e})"),
            )
        })?;
        let kind =
            DayKind::from_code(field(kind_col)).map_err(|e| invalid("kind", e.to_string()))?;
        let occasion = field(occasion_col);
        if occasion.is_empty() {
            return Err(invalid("occasion", "is empty".to_string()));
        }
        match seen.get(&date) {
            Some(&(first_line, first_kind)) if first_kind != kind => {
                return Err(CalendarError::ConflictingLine {
                    line,
                    first_line,
                    date,
                })
            }
            Some(_) => {}
            None => {
                seen.insert(date, (line, kind));
            }
        }
        days.push(CalendarDay {
            date,
            kind,
            occasion: occasion.to_string(),
        });
    }
    Ok(days)
}

/// The official 2025–2026 calendar of China in Asia/Shanghai, from the fixture (tests only).
#[cfg(test)]
pub(crate) fn cn_2025_2026() -> super::calendar::WorkingCalendar {
    let text = include_str!("../../fixtures/calendars/cn-official-2025-2026.csv");
    let days = parse_calendar_csv(text).expect("fixture parses");
    super::calendar::WorkingCalendar::new(chrono_tz::Asia::Shanghai, days).expect("no conflicts")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_official_fixture_loads() {
        let text = include_str!("../../fixtures/calendars/cn-official-2025-2026.csv");
        let days = parse_calendar_csv(text).unwrap();
        // 33 listed dates in 2025 and 39 in 2026 (count of data lines in the file).
        assert_eq!(days.len(), 72);
        assert_eq!(days[0].date, NaiveDate::from_ymd_opt(2025, 1, 1).unwrap());
        assert_eq!(days[0].kind, DayKind::RestDay);
        assert_eq!(days[0].occasion, "元旦 New Year");
        let make_up = days
            .iter()
            .filter(|d| d.kind == DayKind::WorkingDay)
            .count();
        // 2025: 01-26, 02-08, 04-27, 09-28, 10-11; 2026: 01-04, 02-14, 02-28, 05-09, 09-20,
        // 10-10 → 5 + 6 = 11 make-up working days.
        assert_eq!(make_up, 11);
    }

    #[test]
    fn columns_in_any_order_bom_and_spaces() {
        let text = "\u{feff}kind, date ,occasion\n working_day ,2025-10-11, 国庆节\n";
        let days = parse_calendar_csv(text).unwrap();
        assert_eq!(days.len(), 1);
        assert_eq!(days[0].kind, DayKind::WorkingDay);
        assert_eq!(days[0].occasion, "国庆节");
    }

    #[test]
    fn errors_name_line_and_column() {
        let e = parse_calendar_csv(
            "date,kind,occasion\n2025-10-01,rest_day,x\n2025-13-01,rest_day,x\n",
        )
        .unwrap_err();
        assert!(
            matches!(
                e,
                CalendarError::InvalidField {
                    line: 3,
                    column: "date",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e
            .to_string()
            .starts_with("calendar CSV line 3, column 'date': '2025-13-01'"));

        let e = parse_calendar_csv("date,kind,occasion\n2025-10-01,holiday,x\n").unwrap_err();
        assert!(matches!(
            e,
            CalendarError::InvalidField {
                line: 2,
                column: "kind",
                ..
            }
        ));
        assert!(e.to_string().contains("rest_day, working_day"), "{e}");

        let e = parse_calendar_csv("date,kind,occasion\n2025-10-01,rest_day,\n").unwrap_err();
        assert!(matches!(
            e,
            CalendarError::InvalidField {
                line: 2,
                column: "occasion",
                ..
            }
        ));

        let e = parse_calendar_csv("date,occasion\n2025-10-01,x\n").unwrap_err();
        assert_eq!(e, CalendarError::MissingColumn { column: "kind" });

        let e = parse_calendar_csv("date,kind,occasion\n2025-10-01,rest_day\n").unwrap_err();
        assert!(matches!(e, CalendarError::Csv { line: 2, .. }), "{e}");

        let text = "date,kind,occasion\n2025-10-11,working_day,a\n2025-10-01,rest_day,b\n2025-10-11,rest_day,c\n";
        let e = parse_calendar_csv(text).unwrap_err();
        assert_eq!(
            e.to_string(),
            "calendar CSV line 4: date 2025-10-11 is already listed on line 2 with another kind"
        );
    }
}
