//! OpenAI's `chat.completion.chunk`: one piece of a streamed answer.

use serde::Serialize;
use serde_json::{Map, Value};

use super::one_first::OneFirst;
use super::open_object::open_object;

use super::{FinishReason, Role, Usage};

/// One streamed chunk, identical in shape to OpenAI's `chat.completion.chunk`.
///
/// ```
/// let chunk: elelem_core::ChatCompletionChunk = serde_json::from_str(
///     r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m",
///        "choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}"#,
/// ).unwrap();
/// assert_eq!(chunk.choices[0].delta.content.as_deref(), Some("Hel"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatCompletionChunk {
    /// The completion's id (the same in every chunk).
    pub id: String,
    /// Always `chat.completion.chunk`.
    pub object: String,
    /// Unix time of creation.
    pub created: u64,
    /// The model, as the provider names it.
    pub model: String,
    /// The deltas (empty in the final usage chunk).
    pub choices: Vec<ChunkChoice>,
    /// Usage: only in the final chunk, when asked for with `stream_options`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// The backend configuration fingerprint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_fingerprint: Option<String>,
    /// The service tier used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<String>,
    /// Vendor fields (`x_groq`, ...), kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

open_object! {
    ChatCompletionChunk {
        id: String = Default::default(),
        object: String = chunk_object(),
        created: u64 = Default::default(),
        model: String = Default::default(),
        choices: Vec<ChunkChoice> [via OneFirst<ChunkChoice>] = Default::default(),
        usage: Option<Usage> = Default::default(),
        system_fingerprint: Option<String> = Default::default(),
        service_tier: Option<String> = Default::default(),
    }
    extra: extra,
    skip: [],
}

fn chunk_object() -> String {
    "chat.completion.chunk".to_owned()
}

/// One choice's delta in a chunk.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChunkChoice {
    /// The choice's index.
    pub index: u32,
    /// What this chunk adds.
    pub delta: Delta,
    /// Set in the choice's last chunk.
    pub finish_reason: Option<FinishReason>,
    /// Log probabilities, when requested.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Value>,
    /// Other fields, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

open_object! {
    ChunkChoice {
        index: u32 = Default::default(),
        delta: Delta = Default::default(),
        finish_reason: Option<FinishReason> = Default::default(),
        logprobs: Option<Value> = Default::default(),
    }
    extra: extra,
    skip: [],
}

/// What one chunk adds to a message.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Delta {
    /// The role, in the first chunk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// More text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// More reasoning text (DeepSeek's field; Elelem also puts removed `<think>`
    /// text here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    /// Pieces of tool calls, by index.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<Value>>,
    /// Other fields (`refusal`, GROQ's `reasoning`, ...), kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

open_object! {
    Delta {
        role: Option<Role> = Default::default(),
        content: Option<String> = Default::default(),
        reasoning_content: Option<String> = Default::default(),
        tool_calls: Option<Vec<Value>> = Default::default(),
    }
    extra: extra,
    skip: [],
}
