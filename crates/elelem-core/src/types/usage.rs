//! Token usage as OpenAI reports it.

use serde::Serialize;
use serde_json::{Map, Value};

use super::open_object::open_object;
use super::token_count::TokenCount;

/// Token counts of one response. A number the provider did not report is `None`,
/// never a silent zero; fields Elelem does not know (GROQ's `queue_time`, ...) are
/// kept in `extra`.
///
/// ```
/// let usage: elelem_core::Usage = serde_json::from_str(
///     r#"{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,"queue_time":0.01}"#,
/// ).unwrap();
/// assert_eq!(usage.prompt_tokens, Some(10));
/// assert_eq!(usage.reasoning_tokens(), None);
/// assert!(usage.extra.contains_key("queue_time"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Usage {
    /// Input tokens, cached ones included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_tokens: Option<u64>,
    /// Output tokens, reasoning ones included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completion_tokens: Option<u64>,
    /// Input plus output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_tokens: Option<u64>,
    /// Breakdown of the input tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_details: Option<PromptTokensDetails>,
    /// Breakdown of the output tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completion_tokens_details: Option<CompletionTokensDetails>,
    /// Vendor fields, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

open_object! {
    Usage {
        prompt_tokens: Option<u64> [via TokenCount] = Default::default(),
        completion_tokens: Option<u64> [via TokenCount] = Default::default(),
        total_tokens: Option<u64> [via TokenCount] = Default::default(),
        prompt_tokens_details: Option<PromptTokensDetails> = Default::default(),
        completion_tokens_details: Option<CompletionTokensDetails> = Default::default(),
    }
    extra: extra,
    skip: [],
}

impl Usage {
    /// Cached input tokens, if reported.
    pub fn cached_tokens(&self) -> Option<u64> {
        self.prompt_tokens_details.as_ref()?.cached_tokens
    }

    /// Reasoning tokens, if reported.
    pub fn reasoning_tokens(&self) -> Option<u64> {
        self.completion_tokens_details.as_ref()?.reasoning_tokens
    }

    /// Input tokens written to the provider's prompt cache, if reported (Anthropic's
    /// `cache_creation_input_tokens`, OpenRouter's `cache_write_tokens`).
    ///
    /// ```
    /// let usage: elelem_core::Usage = serde_json::from_str(
    ///     r#"{"prompt_tokens":100,"prompt_tokens_details":{"cached_tokens":0,"cache_write_tokens":80}}"#,
    /// ).unwrap();
    /// assert_eq!(usage.cache_write_tokens(), Some(80));
    /// ```
    pub fn cache_write_tokens(&self) -> Option<u64> {
        self.prompt_tokens_details.as_ref()?.cache_write_tokens
    }
}

/// Breakdown of input tokens.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PromptTokensDetails {
    /// Tokens read from the provider's prompt cache (part of `prompt_tokens`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cached_tokens: Option<u64>,
    /// Tokens written to the provider's prompt cache (part of `prompt_tokens`,
    /// billed at the cache-write price).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_write_tokens: Option<u64>,
    /// Audio input tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_tokens: Option<u64>,
    /// Other fields, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

open_object! {
    PromptTokensDetails {
        cached_tokens: Option<u64> [via TokenCount] = Default::default(),
        cache_write_tokens: Option<u64> [via TokenCount] = Default::default(),
        audio_tokens: Option<u64> [via TokenCount] = Default::default(),
    }
    extra: extra,
    skip: [],
}

/// Breakdown of output tokens.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CompletionTokensDetails {
    /// Hidden reasoning tokens (part of `completion_tokens`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<u64>,
    /// Audio output tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_tokens: Option<u64>,
    /// Predicted-output tokens that were used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted_prediction_tokens: Option<u64>,
    /// Predicted-output tokens that were not used (still billed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected_prediction_tokens: Option<u64>,
    /// Other fields, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

open_object! {
    CompletionTokensDetails {
        reasoning_tokens: Option<u64> [via TokenCount] = Default::default(),
        audio_tokens: Option<u64> [via TokenCount] = Default::default(),
        accepted_prediction_tokens: Option<u64> [via TokenCount] = Default::default(),
        rejected_prediction_tokens: Option<u64> [via TokenCount] = Default::default(),
    }
    extra: extra,
    skip: [],
}
