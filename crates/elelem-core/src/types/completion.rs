//! OpenAI's `chat.completion` object, tolerant of what real providers send.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::one_first::OneFirst;
use super::open_object::open_object;
use super::{Role, Usage};
use crate::money::Usd;

/// A chat completion, identical in shape to OpenAI's `chat.completion` object.
///
/// It deserializes any real OpenAI-compatible response: missing `object`, `created`
/// or `usage`, an empty `finish_reason`, unknown values and vendor fields (kept in
/// `extra`). Elelem's own facts about the call are in [`ChatCompletion::elelem`],
/// which is not serialized, so the JSON stays exactly OpenAI's.
///
/// ```
/// let body = r#"{"id":"c1","object":"chat.completion","created":1,"model":"m",
///   "choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],
///   "usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4},
///   "x_groq":{"id":"req_1"}}"#;
/// let completion: elelem_core::ChatCompletion = serde_json::from_str(body).unwrap();
/// assert_eq!(completion.content(), Some("hi"));
/// assert!(completion.extra.contains_key("x_groq"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatCompletion {
    /// The provider's id for this completion.
    pub id: String,
    /// Always `chat.completion`.
    pub object: String,
    /// Unix time of creation.
    pub created: u64,
    /// The model that answered, as the provider names it.
    pub model: String,
    /// The answers.
    pub choices: Vec<Choice>,
    /// Token usage, when reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// The backend configuration fingerprint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_fingerprint: Option<String>,
    /// The service tier used; any value is accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<String>,
    /// Vendor fields (`x_groq`, ...), kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    /// Elelem's facts about the call; not part of the OpenAI JSON.
    #[serde(skip)]
    pub elelem: ElelemMeta,
}

open_object! {
    ChatCompletion {
        id: String = Default::default(),
        object: String = chat_completion_object(),
        created: u64 = Default::default(),
        model: String = Default::default(),
        choices: Vec<Choice> [via OneFirst<Choice>] = Default::default(),
        usage: Option<Usage> = Default::default(),
        system_fingerprint: Option<String> = Default::default(),
        service_tier: Option<String> = Default::default(),
    }
    extra: extra,
    skip: [elelem],
}

fn chat_completion_object() -> String {
    "chat.completion".to_owned()
}

/// Decodes the whole input into `place`, as `serde_json::from_*` decode a value
/// (trailing characters are an error).
fn fill<'de, R: serde_json::de::Read<'de>>(
    reader: &mut serde_json::Deserializer<R>,
    place: &mut ChatCompletion,
) -> Result<(), serde_json::Error> {
    ChatCompletion::deserialize_in_place(&mut *reader, place)?;
    reader.end()
}

impl ChatCompletion {
    /// Reads a completion from JSON straight into a box: as `serde_json::from_slice`
    /// reads it (the same fields, defaults and errors), but each field is written
    /// where it lies in the box instead of the whole 800-byte completion being
    /// moved through every layer of the decoder and then into a box.
    ///
    /// ```
    /// let json = br#"{"id":"c","choices":[{"message":{"content":"Hi"}}],"x_vendor":1}"#;
    /// let completion = elelem_core::ChatCompletion::from_json_boxed(json).unwrap();
    /// assert_eq!(completion.content(), Some("Hi"));
    /// assert_eq!(completion.object, "chat.completion");
    /// assert_eq!(completion.extra["x_vendor"], 1);
    /// assert!(elelem_core::ChatCompletion::from_json_boxed(b"[]").is_err());
    /// ```
    pub fn from_json_boxed(json: &[u8]) -> Result<Box<ChatCompletion>, serde_json::Error> {
        let mut completion = Box::new(ChatCompletion {
            id: String::new(),
            object: String::new(),
            created: 0,
            model: String::new(),
            choices: Vec::new(),
            usage: None,
            system_fingerprint: None,
            service_tier: None,
            extra: Map::new(),
            elelem: ElelemMeta::default(),
        });
        // Valid UTF-8 (every real answer) is read as text: the reader then skips
        // checking each string again.
        match std::str::from_utf8(json) {
            Ok(text) => fill(
                &mut serde_json::Deserializer::from_str(text),
                &mut completion,
            )?,
            Err(_) => fill(
                &mut serde_json::Deserializer::from_slice(json),
                &mut completion,
            )?,
        }
        Ok(completion)
    }

    /// The first choice's content, if any.
    pub fn content(&self) -> Option<&str> {
        self.choices.first()?.message.content.as_deref()
    }

    /// The answer and the reasoning behind it, whatever form the provider sent the
    /// reasoning in: `<think>` blocks (removed from the content by Elelem),
    /// `reasoning_content` (DeepSeek) or `reasoning` (GROQ's `parsed` format).
    ///
    /// ```
    /// let c: elelem_core::ChatCompletion = serde_json::from_str(
    ///     r#"{"choices":[{"message":{"content":"42","reasoning":"6 x 7"}}]}"#).unwrap();
    /// assert_eq!(c.answer_and_reasoning(), (Some("42"), Some("6 x 7")));
    /// ```
    pub fn answer_and_reasoning(&self) -> (Option<&str>, Option<&str>) {
        let message = self.choices.first().map(|c| &c.message);
        let field = message.and_then(|m| {
            ["reasoning_content", "reasoning"]
                .iter()
                .find_map(|key| m.extra.get(*key)?.as_str())
        });
        (
            message.and_then(|m| m.content.as_deref()),
            self.elelem.reasoning.as_deref().or(field),
        )
    }

    /// The first choice's tool calls, typed (empty when there are none).
    ///
    /// ```
    /// let c: elelem_core::ChatCompletion = serde_json::from_str(r#"{"choices":[{"message":{"tool_calls":[
    ///     {"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]}}]}"#).unwrap();
    /// assert_eq!(c.tool_calls()[0].function.name, "f");
    /// ```
    pub fn tool_calls(&self) -> Vec<crate::types::ToolCall> {
        self.choices
            .first()
            .and_then(|c| c.message.extra.get("tool_calls"))
            .and_then(|calls| serde_json::from_value(calls.clone()).ok())
            .unwrap_or_default()
    }
}

/// Elelem's facts about a finished call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ElelemMeta {
    /// The `provider:model` the caller asked for.
    pub requested_model: String,
    /// The `provider:model` that produced this answer (differs after a fallback,
    /// and for a virtual model names the candidate that answered).
    pub answered_by: String,
    /// For a virtual model, the position (from 0) of the candidate that answered
    /// in its candidate list.
    pub candidate: Option<usize>,
    /// How many requests were sent for this call, retries included.
    pub attempts: u32,
    /// The exact cost of all attempts of this call.
    pub cost: Usd,
    /// Reasoning text removed from the content (`<think>` blocks).
    pub reasoning: Option<String>,
    /// In JSON mode, the parsed and validated JSON value of the content.
    pub json: Option<Value>,
    /// Served from the response cache: nothing was sent, `attempts` and `cost`
    /// are zero (the saved cost is in the stats, `cache_saved_cost_usd`).
    pub cache_hit: bool,
}

/// One answer of a completion.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Choice {
    /// The answer's index.
    pub index: u32,
    /// The message.
    pub message: ResponseMessage,
    /// Why generation stopped.
    pub finish_reason: Option<FinishReason>,
    /// Log probabilities, when requested.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Value>,
    /// Other fields, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

open_object! {
    Choice {
        index: u32 = Default::default(),
        message: ResponseMessage,
        finish_reason: Option<FinishReason> = Default::default(),
        logprobs: Option<Value> = Default::default(),
    }
    extra: extra,
    skip: [],
}

/// The model's message in a response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResponseMessage {
    /// Always the assistant.
    pub role: Role,
    /// The text of the answer.
    pub content: Option<String>,
    /// A refusal message, if the model refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    /// Other fields (`tool_calls`, `reasoning_content`, `reasoning`, ...), kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

open_object! {
    ResponseMessage {
        role: Role = assistant_role(),
        content: Option<String> = Default::default(),
        refusal: Option<String> = Default::default(),
    }
    extra: extra,
    skip: [],
}

fn assistant_role() -> Role {
    Role::Assistant
}

/// Why the model stopped. Unknown values (and the empty string some providers send)
/// are kept as [`FinishReason::Other`].
///
/// ```
/// use elelem_core::FinishReason;
/// let r: FinishReason = serde_json::from_str(r#""length""#).unwrap();
/// assert_eq!(r, FinishReason::Length);
/// let r: FinishReason = serde_json::from_str(r#""""#).unwrap();
/// assert_eq!(r, FinishReason::Other(String::new()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FinishReason {
    /// A natural stop or a stop sequence.
    Stop,
    /// The token limit was reached.
    Length,
    /// The model called tools.
    ToolCalls,
    /// Content was filtered.
    ContentFilter,
    /// The model called a function (legacy).
    FunctionCall,
    /// Anything else, kept verbatim.
    Other(String),
}

impl FinishReason {
    /// The wire string.
    pub fn as_str(&self) -> &str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::ToolCalls => "tool_calls",
            FinishReason::ContentFilter => "content_filter",
            FinishReason::FunctionCall => "function_call",
            FinishReason::Other(other) => other,
        }
    }
}

impl From<&str> for FinishReason {
    fn from(value: &str) -> Self {
        match value {
            "stop" => FinishReason::Stop,
            "length" => FinishReason::Length,
            "tool_calls" => FinishReason::ToolCalls,
            "content_filter" => FinishReason::ContentFilter,
            "function_call" => FinishReason::FunctionCall,
            other => FinishReason::Other(other.to_owned()),
        }
    }
}

impl Serialize for FinishReason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for FinishReason {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
        Ok(FinishReason::from(text.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn openai_body() -> Value {
        json!({
            "id": "chatcmpl-abc",
            "object": "chat.completion",
            "created": 1_741_569_952,
            "model": "gpt-4.1-2025-04-14",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": "Hello!", "refusal": null, "annotations": []},
                "logprobs": null,
                "finish_reason": "stop"
            }],
            "usage": {
                "prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                    "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
            },
            "service_tier": "default",
            "system_fingerprint": null
        })
    }

    #[test]
    fn a_real_openai_response_round_trips_to_the_same_json() {
        let body = openai_body();
        let completion: ChatCompletion = serde_json::from_value(body.clone()).unwrap();
        let mut back = serde_json::to_value(&completion).unwrap();
        // `refusal: null` and `system_fingerprint: null` are the only fields that
        // serialize as absent rather than null; everything else is identical.
        back["choices"][0]["message"]["refusal"] = Value::Null;
        back["system_fingerprint"] = Value::Null;
        back["choices"][0]["logprobs"] = Value::Null;
        assert_eq!(back, body);
    }

    #[test]
    fn tolerates_what_real_providers_omit_or_add() {
        let body = json!({
            "id": "x",
            "model": "llama",
            "choices": [{"message": {"content": "{}"}, "finish_reason": ""}],
            "service_tier": "on_demand_v2",
            "x_groq": {"id": "req_01"},
            "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7, "queue_time": 0.02}
        });
        let completion: ChatCompletion = serde_json::from_value(body).unwrap();
        assert_eq!(completion.object, "chat.completion");
        assert_eq!(completion.choices[0].message.role, Role::Assistant);
        assert_eq!(
            completion.choices[0].finish_reason,
            Some(FinishReason::Other(String::new()))
        );
        assert_eq!(completion.service_tier.as_deref(), Some("on_demand_v2"));
        assert!(completion.extra.contains_key("x_groq"));
        let usage = completion.usage.unwrap();
        assert_eq!(usage.cached_tokens(), None);
        assert_eq!(usage.extra["queue_time"], json!(0.02));
    }

    #[test]
    fn choices_decode_as_a_vec_does_from_text_and_from_values() {
        let body = json!({"choices": [
            {"index": 0, "message": {"content": "a"}},
            {"index": 1, "message": {"content": "b"}},
            {"index": 2, "message": {"content": "c"}}
        ]});
        let from_value: ChatCompletion = serde_json::from_value(body.clone()).unwrap();
        let from_text: ChatCompletion = serde_json::from_str(&body.to_string()).unwrap();
        assert_eq!(from_value, from_text);
        let contents: Vec<_> = from_text
            .choices
            .iter()
            .map(|c| c.message.content.as_deref())
            .collect();
        assert_eq!(contents, [Some("a"), Some("b"), Some("c")]);
        let one: ChatCompletion =
            serde_json::from_str(r#"{"choices":[{"message":{"content":"x"}}]}"#).unwrap();
        assert_eq!(one.choices.capacity(), 1);
        let none: ChatCompletion = serde_json::from_str(r#"{"choices":[]}"#).unwrap();
        assert!(none.choices.is_empty());
        // The same errors as serde's `Vec` decoding.
        for bad in [
            r#"{"choices":{}}"#,
            r#"{"choices":"x"}"#,
            r#"{"choices":[1]}"#,
        ] {
            let ours = serde_json::from_str::<ChatCompletion>(bad).unwrap_err();
            let plain = serde_json::from_str::<Value>(bad).unwrap()["choices"].to_string();
            let vec = serde_json::from_str::<Vec<Choice>>(&plain).unwrap_err();
            assert_eq!(
                ours.to_string().split(" at line").next(),
                vec.to_string().split(" at line").next(),
                "{bad}"
            );
        }
    }

    #[test]
    fn missing_usage_is_none_not_zero() {
        let completion: ChatCompletion =
            serde_json::from_value(json!({"choices": [{"message": {"content": "a"}}]})).unwrap();
        assert!(completion.usage.is_none());
        assert_eq!(completion.content(), Some("a"));
    }
}
