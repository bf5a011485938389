//! Checks shared by the workflow scenarios: deadlines on the official calendar, the verdict
//! entry of one limit, and the precision outcome of one analysis.

use chrono::{DateTime, Timelike, Utc};
use coallab::domain::calendar::{parse_calendar_csv, WorkingCalendar};
use serde_json::{json, Value};

use crate::helpers::{dec, dec10};

/// The official calendar shipped in fixtures/ in the demo lab's time zone.
pub fn calendar() -> WorkingCalendar {
    let days = parse_calendar_csv(coallab::service::demo::CALENDAR_CSV).expect("calendar CSV");
    WorkingCalendar::new(chrono_tz::Asia::Shanghai, days).expect("calendar")
}

#[track_caller]
pub fn instant(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("not an instant: {v}")))
        .expect("RFC 3339")
        .with_timezone(&Utc)
}

/// Checks that `due` is the local midnight ending the `n`-th working day after the local day
/// of `start` (STANDARDS.md §6: the start day is not counted), on the official calendar.
#[track_caller]
pub fn assert_due(start: &Value, due: &Value, n: u32) {
    let cal = calendar();
    let (start, due) = (instant(start), instant(due));
    let receipt_day = cal.local_date(start);
    let last_day = cal.add_working_days(receipt_day, n);
    let expected = cal.start_of_day(last_day.succ_opt().expect("next day"));
    assert_eq!(
        due, expected,
        "due instant for {n} working days from {start}"
    );
    // The same, structurally: a local midnight, the day before it is a working day, and exactly
    // n working days lie in (receipt day, that day].
    let local = due.with_timezone(&chrono_tz::Asia::Shanghai);
    assert_eq!((local.hour(), local.minute(), local.second()), (0, 0, 0));
    let last = local.date_naive().pred_opt().expect("previous day");
    assert!(cal.is_working_day(last), "{last} is not a working day");
    assert_eq!(cal.working_days_between(receipt_day, last), i64::from(n));
}

/// The limit check of `set` on `parameter` in a stage's `limits` array.
#[track_caller]
pub fn limit<'a>(limits: &'a Value, set: &str, parameter: &str) -> &'a Value {
    limits
        .as_array()
        .expect("limits array")
        .iter()
        .find(|l| l["limit_set_id"] == set && l["parameter"] == parameter)
        .unwrap_or_else(|| panic!("no {set}/{parameter} in {limits}"))
}

/// The limit sets in force for the demo county (cn-he-handan-demo → cn-he-handan → cn-he →
/// cn-jjj → cn) on an unstated coal category: most local first, nation last (the lignite set is
/// restricted to lignite and does not apply).
pub const SETS: [&str; 3] = ["cn-he-handan-2013", "cn-jjj-loose-coal", "cn-ndrc16-art6"];

/// Checks one limit entry: operator, limit value, compared result (to 10 decimals), rounded
/// value and verdict.
#[allow(clippy::too_many_arguments)]
#[track_caller]
pub fn assert_limit(
    limits: &Value,
    set: &str,
    parameter: &str,
    operator: &str,
    limit_value: &str,
    value10: &str,
    rounded: &str,
    verdict: &str,
) {
    let l = limit(limits, set, parameter);
    assert_eq!(l["operator"], operator, "{l}");
    assert_eq!(dec(&l["limit_value"]), limit_value.parse().unwrap(), "{l}");
    assert_eq!(dec10(&l["value"]), value10, "{l}");
    assert_eq!(dec(&l["rounded_value"]), rounded.parse().unwrap(), "{l}");
    assert_eq!(l["verdict"], verdict, "{l}");
    assert_eq!(l["method"], "full_value", "{l}");
    assert_eq!(l["basis"], "d", "{l}");
    assert!(!l["source"].as_str().unwrap_or("").is_empty(), "{l}");
}

#[track_caller]
pub fn assert_accepted(out: &Value, mean10: &str, r: &str, factor: &str, used: &[usize]) {
    let p = &out["precision"];
    assert_eq!(p["outcome"], "accepted", "{out}");
    assert_eq!(dec10(&p["mean"]), mean10, "{out}");
    assert_eq!(dec(&p["r"]), r.parse().unwrap(), "{out}");
    assert_eq!(dec(&p["factor"]), factor.parse().unwrap(), "{out}");
    assert_eq!(p["used"], json!(used), "{out}");
    assert_eq!(p["flagged_for_review"], false, "{out}");
}
