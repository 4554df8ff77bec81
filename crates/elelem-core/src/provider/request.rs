//! The typed wire request: OpenAI's chat completion body, with a typed field for
//! everything Elelem or its providers read, and `extra` for anything else.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::body_writer::{messages_size, EscapedText, KnownSuffix, ObjectWriter};
use crate::types::Message;

/// Declares the optional typed fields once: the struct, and the routing of a key
/// to its field (`set`, `get`, `remove`).
macro_rules! wire_request {
    ($($(#[doc = $doc:literal])+ $name:ident: $ty:ty,)*) => {
        /// One request as it goes on the wire: OpenAI's chat completion body, with
        /// the upstream model id in `model` and every parameter already adjusted
        /// for the model. Fields Elelem knows are typed; anything else (provider
        /// extras such as `reasoning_format`, a legacy completion's `prompt`) is in
        /// [`extra`](WireRequest::extra), flattened into the body on
        /// serialization. It is serialized straight to bytes, with no JSON tree in
        /// between.
        ///
        /// [`set`](WireRequest::set) puts a key where it belongs: a known key with
        /// a value of its type goes to its field, anything else to `extra`, so a
        /// key is never in both.
        ///
        /// ```
        /// use elelem_core::provider::WireRequest;
        /// use elelem_core::Message;
        /// use serde_json::json;
        ///
        /// let mut request = WireRequest::chat("gpt-4.1-mini", vec![Message::user("Hi")]);
        /// request.temperature = Some(0.5);
        /// request.set("seed", json!(7));
        /// request.set("reasoning_format", json!("parsed"));
        /// assert_eq!(request.seed, Some(7));
        /// assert_eq!(request.extra["reasoning_format"], "parsed");
        /// assert_eq!(
        ///     serde_json::to_value(&request).unwrap(),
        ///     json!({"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "Hi"}],
        ///            "temperature": 0.5, "seed": 7, "reasoning_format": "parsed"})
        /// );
        /// ```
        #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
        #[non_exhaustive]
        pub struct WireRequest {
            /// The upstream model id (empty: not sent).
            #[serde(default, skip_serializing_if = "String::is_empty")]
            pub model: String,
            /// The conversation (empty: not sent, as for a legacy completion).
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub messages: Vec<Message>,
            $(
                $(#[doc = $doc])+
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $name: Option<$ty>,
            )*
            /// Every other field, sent as given.
            #[serde(flatten)]
            pub extra: Map<String, Value>,
            /// The JSON instruction the pipeline joined into a message, escaped
            /// once, for [`to_bytes`](WireRequest::to_bytes).
            #[serde(skip)]
            known_suffix: KnownSuffix,
        }

        impl WireRequest {
            /// Writes the typed optional fields that are set, in declaration order.
            fn write_typed(&self, writer: &mut ObjectWriter) -> Result<(), serde_json::Error> {
                $(
                    if let Some(value) = &self.$name {
                        writer.field(stringify!($name), value)?;
                    }
                )*
                Ok(())
            }

            /// Sets `key` to `value`: a known field when the value has its type,
            /// else `extra`; the key is removed from wherever else it was.
            ///
            /// ```
            /// use elelem_core::provider::WireRequest;
            /// let mut request = WireRequest::default();
            /// request.set("max_tokens", serde_json::json!(100));
            /// assert_eq!(request.max_tokens, Some(100));
            /// request.set("max_tokens", serde_json::json!("many"));
            /// assert_eq!(request.max_tokens, None);
            /// assert_eq!(request.extra["max_tokens"], "many");
            /// ```
            pub fn set(&mut self, key: &str, value: Value) {
                self.remove(key);
                let value = match key {
                    "model" => match value {
                        Value::String(model) => {
                            self.model = model;
                            return;
                        }
                        other => other,
                    },
                    "messages" => match Vec::<Message>::deserialize(&value) {
                        Ok(messages) => {
                            self.messages = messages;
                            return;
                        }
                        Err(_) => value,
                    },
                    $(
                        stringify!($name) => match <$ty>::deserialize(&value) {
                            Ok(typed) => {
                                self.$name = Some(typed);
                                return;
                            }
                            Err(_) => value,
                        },
                    )*
                    _ => value,
                };
                self.extra.insert(key.to_owned(), value);
            }

            /// Removes `key` and returns its value, wherever it was.
            ///
            /// ```
            /// use elelem_core::provider::WireRequest;
            /// let mut request = WireRequest::default();
            /// request.temperature = Some(0.2);
            /// assert_eq!(request.remove("temperature"), Some(serde_json::json!(0.2)));
            /// assert_eq!(request.temperature, None);
            /// ```
            pub fn remove(&mut self, key: &str) -> Option<Value> {
                let typed = match key {
                    "model" if !self.model.is_empty() => {
                        Some(Value::String(std::mem::take(&mut self.model)))
                    }
                    "messages" if !self.messages.is_empty() => {
                        serde_json::to_value(std::mem::take(&mut self.messages)).ok()
                    }
                    $(
                        stringify!($name) => self
                            .$name
                            .take()
                            .and_then(|value| serde_json::to_value(value).ok()),
                    )*
                    _ => None,
                };
                let extra = self.extra.remove(key);
                typed.or(extra)
            }

            /// The value of `key` as JSON, wherever it is.
            ///
            /// ```
            /// use elelem_core::provider::WireRequest;
            /// let mut request = WireRequest::chat("m", vec![]);
            /// request.set("service_tier", serde_json::json!("auto"));
            /// assert_eq!(request.get("model"), Some(serde_json::json!("m")));
            /// assert_eq!(request.get("service_tier"), Some(serde_json::json!("auto")));
            /// assert_eq!(request.get("seed"), None);
            /// ```
            pub fn get(&self, key: &str) -> Option<Value> {
                let typed = match key {
                    "model" if !self.model.is_empty() => Some(Value::String(self.model.clone())),
                    "messages" if !self.messages.is_empty() => {
                        serde_json::to_value(&self.messages).ok()
                    }
                    $(
                        stringify!($name) => self
                            .$name
                            .as_ref()
                            .and_then(|value| serde_json::to_value(value).ok()),
                    )*
                    _ => None,
                };
                typed.or_else(|| self.extra.get(key).cloned())
            }
        }
    };
}

wire_request! {
    /// Sampling temperature.
    temperature: f64,
    /// Nucleus sampling.
    top_p: f64,
    /// Top-k sampling (not OpenAI's; vLLM, Anthropic, Gemini, Ollama).
    top_k: u64,
    /// The answer's token limit (the classic field).
    max_tokens: u64,
    /// The answer's token limit on OpenAI's reasoning models.
    max_completion_tokens: u64,
    /// Stop sequences: a string or a list of strings.
    stop: Value,
    /// Sampling seed.
    seed: i64,
    /// How many choices to generate.
    n: u64,
    /// Frequency penalty.
    frequency_penalty: f64,
    /// Presence penalty.
    presence_penalty: f64,
    /// Whether to return log probabilities.
    logprobs: bool,
    /// How many most likely tokens to return with each log probability.
    top_logprobs: u64,
    /// An end-user id.
    user: String,
    /// Tools the model may call, in OpenAI's shape.
    tools: Vec<Value>,
    /// Which tool to call: `"auto"`, `"none"`, `"required"` or a function.
    tool_choice: Value,
    /// Whether tools may be called in parallel.
    parallel_tool_calls: bool,
    /// JSON mode or a JSON schema (`{"type": "json_object"}`, ...).
    response_format: Value,
    /// Reasoning effort (`low`, `medium`, `high`).
    reasoning_effort: String,
    /// Whether the answer is streamed.
    stream: bool,
    /// Stream options (`{"include_usage": true}`).
    stream_options: Value,
}

impl WireRequest {
    /// A chat request for `model` with these messages and nothing else.
    ///
    /// ```
    /// let request = elelem_core::provider::WireRequest::chat("m", vec![elelem_core::Message::user("Hi")]);
    /// assert_eq!(request.messages.len(), 1);
    /// ```
    pub fn chat(model: impl Into<String>, messages: Vec<Message>) -> Self {
        WireRequest {
            model: model.into(),
            messages,
            ..WireRequest::default()
        }
    }

    /// A request from a JSON body: each key goes where [`set`](WireRequest::set)
    /// puts it.
    ///
    /// ```
    /// let body = serde_json::json!({"model": "m", "prompt": "Once", "max_tokens": 5});
    /// let request = elelem_core::provider::WireRequest::new(body.as_object().cloned().unwrap_or_default());
    /// assert_eq!(request.model, "m");
    /// assert_eq!(request.max_tokens, Some(5));
    /// assert_eq!(request.extra["prompt"], "Once");
    /// ```
    pub fn new(body: Map<String, Value>) -> Self {
        let mut request = WireRequest::default();
        for (key, value) in body {
            request.set(&key, value);
        }
        request
    }

    /// The body as a JSON object (for providers that still rewrite JSON, and for
    /// tests); the wire itself gets the bytes of [`to_bytes`](WireRequest::to_bytes).
    ///
    /// ```
    /// let request = elelem_core::provider::WireRequest::chat("m", vec![]);
    /// assert_eq!(request.to_map()["model"], "m");
    /// ```
    pub fn to_map(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        }
    }

    /// The body as JSON bytes, serialized straight from the typed fields: the
    /// same bytes as `serde_json::to_vec(&request)`, written faster (the JSON
    /// instruction the pipeline added to a message is escaped once per
    /// instruction, not on every call).
    ///
    /// ```
    /// let request = elelem_core::provider::WireRequest::chat("m", vec![elelem_core::Message::user("Hi")]);
    /// assert_eq!(request.to_bytes().unwrap(), br#"{"model":"m","messages":[{"role":"user","content":"Hi"}]}"#);
    /// assert_eq!(request.to_bytes().unwrap(), serde_json::to_vec(&request).unwrap());
    /// ```
    pub fn to_bytes(&self) -> Result<Vec<u8>, serde_json::Error> {
        let size = 256 + self.model.len() + messages_size(&self.messages) + 64 * self.extra.len();
        let mut writer = ObjectWriter::with_capacity(size);
        if !self.model.is_empty() {
            writer.field("model", &self.model)?;
        }
        if !self.messages.is_empty() {
            writer.messages(&self.messages, self.known_suffix.0.as_deref())?;
        }
        self.write_typed(&mut writer)?;
        writer.entries(&self.extra)?;
        Ok(writer.finish())
    }

    /// Tells [`to_bytes`](WireRequest::to_bytes) that a message's text may end
    /// with `suffix`, already escaped.
    pub(crate) fn set_known_suffix(&mut self, suffix: Arc<EscapedText>) {
        self.known_suffix = KnownSuffix(Some(suffix));
    }

    /// Whether the request asks the provider for a `response_format` (JSON mode or
    /// a JSON schema), so the pipeline knows whether a retry can drop it.
    ///
    /// ```
    /// use elelem_core::provider::WireRequest;
    /// let mut request = WireRequest::chat("m", vec![]);
    /// assert!(!request.sends_response_format());
    /// request.response_format = Some(serde_json::json!({"type": "json_object"}));
    /// assert!(request.sends_response_format());
    /// ```
    pub fn sends_response_format(&self) -> bool {
        self.response_format.is_some()
            || self
                .extra
                .get("response_format")
                .is_some_and(|format| !format.is_null())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    #[test]
    fn a_body_round_trips_through_the_typed_request() {
        let body = json!({
            "model": "m", "service_tier": "auto",
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": [{"type": "text", "text": "Hi"}], "name": "ada"}],
            "temperature": 0.7, "top_p": 0.9, "top_k": 40, "max_completion_tokens": 100,
            "stop": ["\n"], "seed": -3, "n": 2, "frequency_penalty": 0.1, "presence_penalty": 0.2,
            "logprobs": true, "top_logprobs": 2, "user": "u1",
            "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "auto",
            "parallel_tool_calls": false, "response_format": {"type": "json_object"},
            "reasoning_effort": "low", "stream": true, "stream_options": {"include_usage": true},
            "reasoning_format": "parsed"
        });
        let request = WireRequest::new(body.as_object().cloned().unwrap());
        assert!(request
            .extra
            .keys()
            .eq(["service_tier", "reasoning_format"]));
        assert_eq!(request.seed, Some(-3));
        assert_eq!(request.messages.len(), 2);
        assert_eq!(serde_json::to_value(&request).unwrap(), body);
        let bytes = request.to_bytes().unwrap();
        assert_eq!(serde_json::from_slice::<Value>(&bytes).unwrap(), body);
        assert_eq!(Value::Object(request.to_map()), body);
    }

    #[test]
    fn a_key_is_never_both_typed_and_extra() {
        let mut request = WireRequest::default();
        request.set("seed", json!("not a number"));
        request.set("seed", json!(4));
        assert_eq!(request.seed, Some(4));
        assert!(request.extra.is_empty());
        request.set("seed", json!(null));
        assert_eq!(request.seed, None);
        assert_eq!(
            request.to_map(),
            json!({"seed": null}).as_object().cloned().unwrap()
        );
        assert_eq!(request.remove("seed"), Some(Value::Null));
        assert!(request.to_map().is_empty());
    }
}
