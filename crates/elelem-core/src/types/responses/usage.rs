//! The Responses API's usage and its mapping onto Elelem's [`Usage`].

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::types::token_count::TokenCount;
use crate::types::{CompletionTokensDetails, PromptTokensDetails, Usage};

/// A token count read leniently (a count that is not a non-negative integer is
/// unknown, never a failed answer).
fn count<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    TokenCount::deserialize(deserializer).map(Into::into)
}

/// Token usage of one response, as the Responses API reports it.
///
/// ```
/// let usage: elelem_core::ResponseUsage = serde_json::from_str(
///     r#"{"input_tokens":100,"input_tokens_details":{"cached_tokens":40},
///         "output_tokens":30,"output_tokens_details":{"reasoning_tokens":20},"total_tokens":130}"#,
/// ).unwrap();
/// let usage = usage.to_usage();
/// assert_eq!((usage.prompt_tokens, usage.completion_tokens), (Some(100), Some(30)));
/// assert_eq!((usage.cached_tokens(), usage.reasoning_tokens()), (Some(40), Some(20)));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponseUsage {
    /// Input tokens, cached ones included.
    #[serde(
        default,
        deserialize_with = "count",
        skip_serializing_if = "Option::is_none"
    )]
    pub input_tokens: Option<u64>,
    /// Breakdown of the input tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens_details: Option<InputTokensDetails>,
    /// Output tokens, reasoning ones included.
    #[serde(
        default,
        deserialize_with = "count",
        skip_serializing_if = "Option::is_none"
    )]
    pub output_tokens: Option<u64>,
    /// Breakdown of the output tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens_details: Option<OutputTokensDetails>,
    /// Input plus output.
    #[serde(
        default,
        deserialize_with = "count",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_tokens: Option<u64>,
    /// Vendor fields (xAI's `cost_in_usd_ticks`), kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Breakdown of a response's input tokens.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InputTokensDetails {
    /// Tokens read from the provider's prompt cache (part of `input_tokens`).
    #[serde(
        default,
        deserialize_with = "count",
        skip_serializing_if = "Option::is_none"
    )]
    pub cached_tokens: Option<u64>,
    /// Other fields, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Breakdown of a response's output tokens.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OutputTokensDetails {
    /// Hidden reasoning tokens (part of `output_tokens`).
    #[serde(
        default,
        deserialize_with = "count",
        skip_serializing_if = "Option::is_none"
    )]
    pub reasoning_tokens: Option<u64>,
    /// Other fields, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ResponseUsage {
    /// The same counts as chat [`Usage`], which the cost code and the ledgers
    /// read: `input_tokens` -> `prompt_tokens`, `output_tokens` ->
    /// `completion_tokens`, cached and reasoning tokens in their details.
    /// Vendor fields are kept in `extra`.
    ///
    /// ```
    /// let usage: elelem_core::ResponseUsage = serde_json::from_str(r#"{"input_tokens":3,"cost_in_usd_ticks":7}"#).unwrap();
    /// let usage = usage.to_usage();
    /// assert_eq!(usage.completion_tokens, None);
    /// assert_eq!(usage.extra["cost_in_usd_ticks"], 7);
    /// ```
    pub fn to_usage(&self) -> Usage {
        let cached = self
            .input_tokens_details
            .as_ref()
            .and_then(|d| d.cached_tokens);
        let reasoning = self
            .output_tokens_details
            .as_ref()
            .and_then(|d| d.reasoning_tokens);
        Usage {
            prompt_tokens: self.input_tokens,
            completion_tokens: self.output_tokens,
            total_tokens: self.total_tokens,
            prompt_tokens_details: cached.map(|cached| PromptTokensDetails {
                cached_tokens: Some(cached),
                ..PromptTokensDetails::default()
            }),
            completion_tokens_details: reasoning.map(|reasoning| CompletionTokensDetails {
                reasoning_tokens: Some(reasoning),
                ..CompletionTokensDetails::default()
            }),
            extra: self.extra.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn unreadable_counts_are_unknown_not_a_failed_answer() {
        let usage: ResponseUsage = serde_json::from_str(
            r#"{"input_tokens":-3,"output_tokens":"many","total_tokens":null}"#,
        )
        .unwrap();
        assert_eq!(usage.input_tokens, None);
        assert_eq!(usage.output_tokens, None);
        assert_eq!(usage.to_usage(), Usage::default());
    }
}
