//! The query-string extractor of the web pages: [`crate::api::query::parse`], refused as an
//! HTML 400 page that names the wrong parameter.

use std::future::{ready, Ready};
use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use serde::de::DeserializeOwned;

use crate::api::query::parse;
use crate::error::AppError;
use crate::web::auth::anonymous_chrome;
use crate::web::page::WebError;

/// The page's query string deserialized into `T`.
///
/// # Errors
/// An HTML 400 page (`bad_request`) with the text of [`parse`]; the handler does not run.
#[derive(Debug)]
pub struct UiQuery<T>(pub T);

impl<T> Deref for UiQuery<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> UiQuery<T> {
    /// The parsed value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned> FromRequest for UiQuery<T> {
    type Error = WebError;
    type Future = Ready<Result<Self, WebError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(parse(req.query_string()).map(UiQuery).map_err(|m| {
            WebError::App(
                AppError::bad_request("bad_request", m),
                Box::new(anonymous_chrome(req)),
            )
        }))
    }
}
