//! OpenAI's legacy `text_completion` object (`POST /v1/completions`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{ElelemMeta, FinishReason, Usage};

/// A legacy completion: a prompt in, `choices[].text` out.
///
/// ```
/// let c: elelem_core::TextCompletion = serde_json::from_str(
///     r#"{"id":"cmpl-1","object":"text_completion","created":1,"model":"m",
///        "choices":[{"text":" world","index":0,"logprobs":null,"finish_reason":"stop"}]}"#,
/// ).unwrap();
/// assert_eq!(c.choices[0].text, " world");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextCompletion {
    /// The provider's id.
    #[serde(default)]
    pub id: String,
    /// Always `text_completion`.
    #[serde(default = "text_completion_object")]
    pub object: String,
    /// Unix time of creation.
    #[serde(default)]
    pub created: u64,
    /// The model, as the provider names it.
    #[serde(default)]
    pub model: String,
    /// The answers.
    #[serde(default)]
    pub choices: Vec<TextChoice>,
    /// Token usage, when reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Vendor fields, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    /// Elelem's facts about the call; not part of the OpenAI JSON.
    #[serde(skip)]
    pub elelem: ElelemMeta,
}

fn text_completion_object() -> String {
    "text_completion".to_owned()
}

/// One answer of a legacy completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextChoice {
    /// The generated text.
    #[serde(default)]
    pub text: String,
    /// The answer's index.
    #[serde(default)]
    pub index: u32,
    /// Log probabilities, when requested.
    #[serde(default)]
    pub logprobs: Option<Value>,
    /// Why generation stopped.
    #[serde(default)]
    pub finish_reason: Option<FinishReason>,
    /// Other fields, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
