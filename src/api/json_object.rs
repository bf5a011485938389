//! JSON request bodies must be objects. serde's derived `Deserialize` of a struct also accepts
//! a JSON array, read by position (`["aad","10.10"]` as a determination): a shape no endpoint
//! documents, which bypasses the field names and `deny_unknown_fields`. [`Object`] accepts only
//! a JSON object and hands it to the struct's own `Deserialize`.

use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// A request body `T` that was sent as a JSON object (anything else: 400 `malformed_json`,
/// "invalid type: …, expected a JSON object"). Dereferences to `T`.
#[derive(Debug, Clone)]
pub struct Object<T>(pub T);

impl<T> Object<T> {
    /// The body.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Object<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OnlyMap<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for OnlyMap<T> {
            type Value = T;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map))
            }
        }

        deserializer
            .deserialize_map(OnlyMap(PhantomData))
            .map(Object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Pair {
        analysis: String,
        value: String,
    }

    #[test]
    fn only_an_object_is_a_body() {
        let ok: Object<Pair> =
            serde_json::from_str(r#"{"analysis":"aad","value":"10.10"}"#).unwrap();
        assert_eq!(ok.analysis, "aad");
        assert_eq!(ok.into_inner().value, "10.10");
        // The same fields by position: refused, where the derive alone would accept them.
        assert!(serde_json::from_str::<Pair>(r#"["aad","10.10"]"#).is_ok());
        let err = serde_json::from_str::<Object<Pair>>(r#"["aad","10.10"]"#).unwrap_err();
        assert!(err.to_string().contains("expected a JSON object"), "{err}");
        for bad in ["3", "\"x\"", "null", "true"] {
            assert!(serde_json::from_str::<Object<Pair>>(bad).is_err(), "{bad}");
        }
        // The struct's own rules still hold inside the object.
        let err = serde_json::from_str::<Object<Pair>>(r#"{"analysis":"aad","value":"1","x":1}"#)
            .unwrap_err();
        assert!(err.to_string().contains("unknown field `x`"), "{err}");
        let err = serde_json::from_str::<Object<Pair>>(r#"{"analysis":"aad"}"#).unwrap_err();
        assert!(err.to_string().contains("missing field `value`"), "{err}");
    }
}
