//! `TokenCount`: a lenient decoding of one token count in a provider's usage.
//!
//! A provider that sends a count Elelem cannot read (a string, a negative number, a
//! fraction) has still answered: the count becomes unknown (`None`), the answer
//! stays decodable. Failing the whole answer would retry (and bill) a call that
//! succeeded, or break a stream.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// One token count: `Some` for a non-negative integer that fits a `u64`, `None`
/// for `null` or anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TokenCount(Option<u64>);

impl<'de> Deserialize<'de> for TokenCount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let count = match Value::deserialize(deserializer)? {
            Value::Null => None,
            Value::Number(number) => number.as_u64(),
            _ => None,
        };
        if count.is_none() {
            tracing::debug!("a token count that is not a non-negative integer is unknown");
        }
        Ok(TokenCount(count))
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
    fn a_count_given_twice_is_still_an_error() {
        assert!(serde_json::from_str::<Usage>(r#"{"prompt_tokens":1,"prompt_tokens":2}"#).is_err());
    }
}
