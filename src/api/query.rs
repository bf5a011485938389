//! The query-string extractor of the API: like `actix_web::web::Query`, with a refusal that
//! names the parameter (`query parameter 'per_page': invalid digit found in string`), found with
//! serde_path_to_error, so a client sees at once which of its parameters was wrong.

use std::future::{ready, Ready};
use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use serde::de::DeserializeOwned;

use crate::error::AppError;

/// Parses a query string (`a=1&b=x`, percent-decoded, `+` as space) into `T`.
///
/// # Errors
/// The human text of the refusal: `query parameter '<name>': <reason>` when one parameter's
/// value is wrong, `query string: <reason>` otherwise (an unknown parameter names itself and
/// the known ones).
pub fn parse<T: DeserializeOwned>(query: &str) -> Result<T, String> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let reason = e.into_inner();
        if path.is_empty() || path == "." || path == "?" {
            format!("query string: {reason}")
        } else {
            format!("query parameter '{path}': {reason}")
        }
    })
}

/// The request's query string deserialized into `T`.
///
/// # Errors
/// 400 `bad_query` with the text of [`parse`]; the handler does not run.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T> Query<T> {
    /// The parsed value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Query<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            parse(req.query_string())
                .map(Query)
                .map_err(|m| AppError::bad_request("bad_query", m)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::parse;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Paging {
        page: Option<u32>,
        per_page: Option<u32>,
        overdue: Option<bool>,
        supplier: Option<String>,
    }

    #[test]
    fn a_wrong_value_names_its_parameter() {
        let e = parse::<Paging>("page=2&per_page=ten").unwrap_err();
        assert_eq!(
            e,
            "query parameter 'per_page': invalid digit found in string"
        );
        let e = parse::<Paging>("overdue=perhaps").unwrap_err();
        assert!(e.starts_with("query parameter 'overdue': "), "{e}");
    }

    #[test]
    fn an_unknown_parameter_names_itself() {
        let e = parse::<Paging>("colour=black").unwrap_err();
        assert!(e.contains("unknown field `colour`"), "{e}");
    }

    #[test]
    fn good_values_parse_percent_decoded() {
        let p = parse::<Paging>("page=3&supplier=SP%2D01+x").unwrap();
        assert_eq!(
            p,
            Paging {
                page: Some(3),
                per_page: None,
                overdue: None,
                supplier: Some("SP-01 x".into())
            }
        );
        assert_eq!(
            parse::<Paging>("").unwrap(),
            Paging {
                page: None,
                per_page: None,
                overdue: None,
                supplier: None
            }
        );
    }
}
