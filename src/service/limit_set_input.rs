//! A limit set as an admin sends it in JSON (`POST /api/v1/limit-sets`, the admin page): the
//! model's own form ([`LimitSet`]), except that each limit's `value` must be a JSON string
//! holding a plain decimal, read exactly as typed (docs/formats.md "limit-sets": no exponent,
//! at most 6 decimals), as the CSV import reads it. The model alone would also take a JSON
//! number, exponent notation ("1e1"), or 30 digits silently rounded to 28.

use serde_json::Value;

use crate::domain::decimal::parse_decimal;
use crate::domain::limits::LimitSet;
use crate::error::AppError;

/// The limit set of `body` (a JSON object).
///
/// # Errors
/// - 422 `invalid_limit_set` naming the limit: a `value` that is not a string, or not a plain
///   decimal ([`parse_decimal`]'s rules);
/// - 400 `malformed_json`: not an object, or not the model's shape (serde's message).
pub fn limit_set_from_json(body: Value) -> Result<LimitSet, AppError> {
    if !body.is_object() {
        return Err(AppError::bad_request(
            "malformed_json",
            "a limit set is a JSON object",
        ));
    }
    if let Some(limits) = body.get("limits").and_then(Value::as_array) {
        for (i, limit) in limits.iter().enumerate() {
            let problem = match limit.get("value") {
                None => None, // serde names the missing field
                Some(Value::String(text)) => parse_decimal(text).err().map(|e| e.to_string()),
                Some(other) => Some(format!("must be a string such as \"16.00\", not {other}")),
            };
            if let Some(p) = problem {
                return Err(AppError::invalid(
                    "invalid_limit_set",
                    format!("limits[{i}].value: {p}"),
                ));
            }
        }
    }
    serde_json::from_value(body)
        .map_err(|e| AppError::bad_request("malformed_json", format!("request body: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    fn set(value: Value) -> Value {
        serde_json::json!({"id": "t-1", "name": "n", "source": "s", "jurisdiction": "cn",
            "effective_from": "2025-01-01", "effective_to": null, "coal_categories": [],
            "limits": [{"parameter": "ad", "operator": "le", "value": value, "decimals": 2,
            "method": "full_value"}]})
    }

    fn code_and_message(v: Value) -> (String, String) {
        let e = limit_set_from_json(set(v)).unwrap_err();
        (e.code().to_string(), e.to_string())
    }

    #[test]
    fn a_limit_value_is_a_plain_decimal_string() {
        let ok = limit_set_from_json(set(Value::from("16.00"))).unwrap();
        // Kept as typed: 16.00, scale 2.
        assert_eq!(ok.limits[0].value, Decimal::new(1600, 2));
        assert_eq!(ok.limits[0].value.scale(), 2);
        // 37 significant digits would be rounded to 28 by the decimal type: refused instead.
        let (code, msg) = code_and_message(Value::from("16.0000000000000000000000000000000001"));
        assert_eq!(code, "invalid_limit_set");
        assert!(msg.starts_with("limits[0].value: "), "{msg}");
        for bad in ["1e1", "16,00", ".5", "NaN", ""] {
            assert_eq!(
                code_and_message(Value::from(bad)).0,
                "invalid_limit_set",
                "{bad}"
            );
        }
        // A JSON number is not a string as typed.
        let (code, msg) = code_and_message(serde_json::json!(16));
        assert_eq!(code, "invalid_limit_set");
        assert!(msg.contains("must be a string"), "{msg}");
        // Not an object at all.
        let e = limit_set_from_json(serde_json::json!([1])).unwrap_err();
        assert_eq!(e.code(), "malformed_json");
    }
}
