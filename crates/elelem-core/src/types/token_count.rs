//! `TokenCount`: a lenient decoding of one token count in a provider's usage.
//!
//! A provider that sends a count Elelem cannot read (a string, a negative number, a
//! fraction) has still answered: the count becomes unknown (`None`), the answer
//! stays decodable. Failing the whole answer would retry (and bill) a call that
//! succeeded, or break a stream.

use std::fmt;

use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// One token count: `Some` for a non-negative integer that fits a `u64`, `None`
/// for `null` or anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TokenCount(Option<u64>);

impl<'de> Deserialize<'de> for TokenCount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // What `Value::deserialize` then `as_u64` gave, without building the value.
        let count = deserializer.deserialize_any(CountVisitor)?;
        if count.is_none() {
            tracing::debug!("a token count that is not a non-negative integer is unknown");
        }
        Ok(TokenCount(count))
    }
}

/// Reads any JSON value: a non-negative integer that fits a `u64` is the count,
/// anything else (read in full, as a `Value` would be) is none.
struct CountVisitor;

impl<'de> Visitor<'de> for CountVisitor {
    type Value = Option<u64>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any valid JSON value")
    }

    fn visit_u64<E>(self, value: u64) -> Result<Option<u64>, E> {
        Ok(Some(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Option<u64>, E> {
        Ok(u64::try_from(value).ok())
    }

    fn visit_f64<E>(self, _: f64) -> Result<Option<u64>, E> {
        Ok(None)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Option<u64>, E> {
        Ok(None)
    }

    fn visit_str<E>(self, _: &str) -> Result<Option<u64>, E> {
        Ok(None)
    }

    fn visit_unit<E>(self) -> Result<Option<u64>, E> {
        Ok(None)
    }

    fn visit_none<E>(self) -> Result<Option<u64>, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<u64>, D::Error> {
        deserializer.deserialize_any(CountVisitor)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<u64>, A::Error> {
        while seq.next_element::<Value>()?.is_some() {}
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<u64>, A::Error> {
        while map.next_entry::<String, Value>()?.is_some() {}
        Ok(None)
    }
}

impl From<TokenCount> for Option<u64> {
    fn from(count: TokenCount) -> Self {
        count.0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use crate::Usage;

    fn usage(json: &str) -> Usage {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_count_of_the_wrong_type_or_sign_is_unknown_and_the_rest_is_kept() {
        let u = usage(r#"{"prompt_tokens":"1234","completion_tokens":567,"total_tokens":-1}"#);
        assert_eq!(u.prompt_tokens, None);
        assert_eq!(u.completion_tokens, Some(567));
        assert_eq!(u.total_tokens, None);
        let u = usage(
            r#"{"prompt_tokens":1.5,"prompt_tokens_details":{"cached_tokens":[1]},
                "completion_tokens_details":{"reasoning_tokens":{"n":1},"audio_tokens":null}}"#,
        );
        assert_eq!(u.prompt_tokens, None);
        assert_eq!(u.cached_tokens(), None);
        assert_eq!(u.reasoning_tokens(), None);
    }

    #[test]
    fn good_counts_and_missing_counts_are_unchanged() {
        let u = usage(r#"{"prompt_tokens":18446744073709551615,"completion_tokens":0}"#);
        assert_eq!(u.prompt_tokens, Some(u64::MAX));
        assert_eq!(u.completion_tokens, Some(0));
        assert_eq!(u.total_tokens, None);
    }

    #[test]
    fn counts_decode_as_a_value_read_with_as_u64_did() {
        use serde_json::Value;
        let values = [
            "0",
            "7",
            "18446744073709551615",
            "18446744073709551616",
            "-1",
            "-0",
            "1.0",
            "1e3",
            "1e999",
            "null",
            "true",
            "\"12\"",
            "[]",
            "[1,{\"a\":[2]}]",
            "{}",
            "{\"a\":1,\"a\":2}",
            "[1e999]",
            "{\"a\":1e999}",
            "\"\\ud800\"",
            "[1,]",
            "{\"a\"}",
        ];
        for value in values {
            for body in [value.to_owned(), format!("[{value}]")] {
                let new = serde_json::from_str::<Vec<super::TokenCount>>(&format!("[{body}]"))
                    .map(|v| v.into_iter().map(Option::<u64>::from).collect::<Vec<_>>());
                let old = serde_json::from_str::<Vec<Value>>(&format!("[{body}]"))
                    .map(|v| v.iter().map(Value::as_u64).collect::<Vec<_>>());
                assert_eq!(
                    new.map_err(|e| e.to_string()),
                    old.map_err(|e| e.to_string()),
                    "{body}"
                );
            }
        }
    }

    #[test]
    fn a_count_given_twice_is_still_an_error() {
        assert!(serde_json::from_str::<Usage>(r#"{"prompt_tokens":1,"prompt_tokens":2}"#).is_err());
    }
}
