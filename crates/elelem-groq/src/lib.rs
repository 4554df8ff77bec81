//! The GROQ provider for Elelem: the OpenAI protocol at
//! `https://api.groq.com/openai/v1`, key in `GROQ_API_KEY`.
//!
//! GROQ's quirk: when it cannot produce the JSON a request asked for, it answers
//! HTTP 400 with `error.code = "json_validate_failed"` and the rejected text in
//! `error.failed_generation`. That is a JSON failure of the model, not a bad
//! request, so it is classified [`ProviderErrorKind::ApiJsonValidation`] and goes
//! through Elelem's JSON retry ladder (counted as `api_json_validation_retries`).
//!
//! ```
//! use elelem_groq as _;
//! let plugin = elelem_core::provider::ProviderPlugin::all().find(|p| p.name == "groq");
//! assert!(plugin.is_some());
//! ```

use std::sync::Arc;

use serde_json::Value;

use elelem_core::provider::{Provider, ProviderErrorKind, ProviderPlugin, ProviderSettings};
use elelem_core::{ChatCompletionChunk, Delta, ElelemError};
use elelem_openai::{OpenAiCompatible, Quirks};

/// The GROQ catalogue.
pub const CATALOGUE: &str = include_str!("../../../models/groq.toml");

/// GROQ's deviations from OpenAI.
///
/// ```
/// use elelem_openai::Quirks;
/// use elelem_core::provider::ProviderErrorKind;
/// let error = serde_json::json!({"code": "json_validate_failed"});
/// assert_eq!(elelem_groq::GroqQuirks.classify_error(400, Some(&error)), Some(ProviderErrorKind::ApiJsonValidation));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct GroqQuirks;

impl Quirks for GroqQuirks {
    fn classify_error(&self, status: u16, error: Option<&Value>) -> Option<ProviderErrorKind> {
        let code = error?.get("code")?.as_str()?;
        (status == 400 && code == "json_validate_failed")
            .then_some(ProviderErrorKind::ApiJsonValidation)
    }

    /// GROQ streams its usage in the last chunk's `x_groq.usage`, not in a usage
    /// chunk: it is moved to `usage` so streamed calls are billed like others.
    /// With `reasoning_format=parsed` it streams the reasoning in `delta.reasoning`:
    /// that text is moved to `delta.reasoning_content`, where Elelem collects a
    /// stream's reasoning, so the stream carries the reasoning the plain call has.
    fn adapt_chunk(&self, chunk: &mut ChatCompletionChunk) {
        for choice in &mut chunk.choices {
            move_reasoning(&mut choice.delta);
        }
        if chunk.usage.is_some() {
            return;
        }
        let usage = chunk
            .extra
            .get("x_groq")
            .and_then(|x| x.get("usage"))
            .cloned();
        if let Some(usage) = usage.and_then(|u| serde_json::from_value(u).ok()) {
            chunk.usage = Some(usage);
        }
    }

    /// GROQ takes no `stream_options`; its usage comes in `x_groq` anyway.
    fn stream_usage(&self) -> bool {
        false
    }
}

/// Moves GROQ's `delta.reasoning` text to `delta.reasoning_content` (after any text
/// already there); a `reasoning` that is not text is left as sent.
fn move_reasoning(delta: &mut Delta) {
    if !matches!(delta.extra.get("reasoning"), Some(Value::String(_))) {
        return;
    }
    if let Some(Value::String(text)) = delta.extra.remove("reasoning") {
        delta
            .reasoning_content
            .get_or_insert_with(String::new)
            .push_str(&text);
    }
}

/// Builds the `groq` provider.
///
/// ```
/// # use std::time::Duration;
/// let settings = elelem_core::provider::ProviderSettings {
///     name: "groq".into(), base_url: "https://api.groq.com/openai/v1".into(),
///     api_key: Some("gsk-test".into()), api_key_env: Some("GROQ_API_KEY".into()),
///     timeout: Duration::from_secs(60), max_response_bytes: 1 << 20,
/// };
/// assert!(elelem_groq::build(settings).is_ok());
/// ```
pub fn build(settings: ProviderSettings) -> Result<Arc<dyn Provider>, ElelemError> {
    OpenAiCompatible::provider(settings, Arc::new(GroqQuirks))
}

elelem_core::inventory::submit! {
    ProviderPlugin { name: "groq", catalogue: CATALOGUE, build }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn chunk(delta: Value) -> ChatCompletionChunk {
        serde_json::from_value(serde_json::json!({
            "id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": null}]
        }))
        .unwrap()
    }

    #[test]
    fn streamed_reasoning_moves_to_reasoning_content() {
        let mut c = chunk(serde_json::json!({"reasoning": "think"}));
        GroqQuirks.adapt_chunk(&mut c);
        let delta = &c.choices[0].delta;
        assert_eq!(delta.reasoning_content.as_deref(), Some("think"));
        assert!(!delta.extra.contains_key("reasoning"));
    }

    #[test]
    fn streamed_reasoning_follows_reasoning_content_and_odd_values_stay() {
        let mut c = chunk(serde_json::json!({"reasoning_content": "a", "reasoning": "b"}));
        GroqQuirks.adapt_chunk(&mut c);
        assert_eq!(c.choices[0].delta.reasoning_content.as_deref(), Some("ab"));

        let mut c = chunk(serde_json::json!({"reasoning": {"summary": "x"}}));
        GroqQuirks.adapt_chunk(&mut c);
        assert_eq!(c.choices[0].delta.reasoning_content, None);
        assert!(c.choices[0].delta.extra.contains_key("reasoning"));
    }
}
