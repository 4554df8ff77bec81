//! A response of the Responses API: its output items and usage.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::usage::ResponseUsage;
use crate::money::Usd;

/// One piece of a message item's content (`output_text` with its `text`, or a
/// `refusal`); other fields (`annotations`) are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OutputContent {
    /// `output_text`, `refusal`, ...
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The text of an `output_text` part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Other fields, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One output item: a `message`, a `function_call`, a `reasoning` item, a
/// built-in tool's call (`web_search_call`, ...). Fields of kinds Elelem does
/// not read are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OutputItem {
    /// `message`, `function_call`, `reasoning`, ...
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The item's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `completed`, `in_progress`, `incomplete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// A message's role (`assistant`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// A message's content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Vec<OutputContent>>,
    /// A function call's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A function call's arguments (a JSON text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
    /// A function call's id, to send its output back with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    /// Other fields, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Elelem's facts about a response (not serialized).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResponseMeta {
    /// The `provider:model` asked for.
    pub requested_model: String,
    /// The `provider:model` that answered.
    pub answered_by: String,
    /// Requests sent, retries included.
    pub attempts: u32,
    /// The exact cost of every attempt.
    pub cost: Usd,
    /// The parsed answer, when JSON was asked for (`text.format`).
    pub json: Option<Value>,
}

/// A response: OpenAI's `response` object, serialized exactly as it came
/// (fields Elelem does not read, such as `created_at` or `instructions`, are
/// kept in `extra`). Elelem's own facts are in [`elelem`](Response::elelem).
///
/// ```
/// let response: elelem_core::Response = serde_json::from_str(r#"{
///     "id": "resp_1", "object": "response", "status": "completed", "model": "gpt-4.1-mini",
///     "output": [{"type": "message", "role": "assistant",
///                 "content": [{"type": "output_text", "text": "Hello", "annotations": []}]}],
///     "usage": {"input_tokens": 5, "output_tokens": 1, "total_tokens": 6}
/// }"#).unwrap();
/// assert_eq!(response.output_text(), "Hello");
/// assert_eq!(response.extra["object"], "response");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// The response id (`resp_...`), to continue it with `previous_response_id`.
    #[serde(default)]
    pub id: String,
    /// `completed`, `failed`, `incomplete`, `in_progress`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The upstream model that answered.
    #[serde(default)]
    pub model: String,
    /// The output items, in order.
    #[serde(default)]
    pub output: Vec<OutputItem>,
    /// Token usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<ResponseUsage>,
    /// The error of a failed response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    /// Other fields, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    /// Elelem's facts (not serialized).
    #[serde(skip)]
    pub elelem: ResponseMeta,
}

impl Response {
    /// The text of every `output_text` part of every message item, joined.
    pub fn output_text(&self) -> String {
        self.output
            .iter()
            .filter(|item| item.kind == "message")
            .flat_map(|item| item.content.iter().flatten())
            .filter(|part| part.kind == "output_text")
            .filter_map(|part| part.text.as_deref())
            .collect()
    }

    /// The function calls the model made.
    ///
    /// ```
    /// let response: elelem_core::Response = serde_json::from_str(r#"{"output": [
    ///     {"type": "function_call", "name": "lookup", "arguments": "{}", "call_id": "call_1"}]}"#).unwrap();
    /// assert_eq!(response.function_calls().count(), 1);
    /// ```
    pub fn function_calls(&self) -> impl Iterator<Item = &OutputItem> {
        self.output
            .iter()
            .filter(|item| item.kind == "function_call")
    }

    /// The error a response holds instead of an answer (`status: "failed"`, or
    /// a non-null `error`).
    pub fn failure(&self) -> Option<&Value> {
        match &self.error {
            Some(error) if !error.is_null() => Some(error),
            _ => None,
        }
    }
}
