//! Anthropic's Messages API (`POST /v1/messages`): messages and errors.

use serde_json::{json, Map, Value};

use super::next_id;
use crate::ScriptedResponse;

/// A successful Anthropic `message` (HTTP 200) with one text block, 10 input and
/// 5 output tokens and `stop_reason` `"end_turn"`. Use [`AnthropicMessage`] to
/// change anything.
///
/// ```
/// use elelem_testkit::wire;
///
/// let body = wire::anthropic_message("claude-sonnet-4-5-20250929", "Hi").json_body().unwrap_or_default();
/// assert_eq!(body["type"], "message");
/// assert_eq!(body["content"][0], serde_json::json!({"type": "text", "text": "Hi"}));
/// assert_eq!(body["stop_reason"], "end_turn");
/// assert_eq!(body["usage"]["input_tokens"], 10);
/// ```
pub fn anthropic_message(model: &str, text: &str) -> ScriptedResponse {
    AnthropicMessage::new(model, text).into_response()
}

/// Builder of an Anthropic `message` answer, in the exact shape of the API:
/// `id` (`msg_…`), `type`, `role`, `model`, `content` blocks, `stop_reason`,
/// `stop_sequence`, `usage {input_tokens, cache_creation_input_tokens,
/// cache_read_input_tokens, cache_creation {…}, output_tokens, service_tier}`.
///
/// ```
/// use elelem_testkit::wire::AnthropicMessage;
/// use serde_json::json;
///
/// let body = AnthropicMessage::new("claude-haiku-4-5-20251001", "{\"a\": 1}")
///     .thinking("The user wants a.")
///     .usage(100, 40)
///     .cache(2_000, 5_000)
///     .to_json();
/// assert_eq!(body["content"][0]["type"], "thinking");
/// assert!(body["content"][0]["signature"].as_str().is_some());
/// assert_eq!(body["content"][1]["text"], "{\"a\": 1}");
/// assert_eq!(body["usage"]["cache_creation_input_tokens"], 2_000);
/// assert_eq!(body["usage"]["cache_read_input_tokens"], 5_000);
/// ```
#[derive(Debug, Clone)]
pub struct AnthropicMessage {
    model: String,
    thinking: Vec<Value>,
    blocks: Vec<Value>,
    stop_reason: Option<String>,
    input_tokens: u64,
    output_tokens: u64,
    cache_creation: u64,
    cache_read: u64,
}

impl AnthropicMessage {
    /// A message of `model` with one text block (none when `text` is empty).
    ///
    /// ```
    /// use elelem_testkit::wire::AnthropicMessage;
    ///
    /// assert_eq!(AnthropicMessage::new("m", "").to_json()["content"], serde_json::json!([]));
    /// ```
    pub fn new(model: &str, text: &str) -> Self {
        let blocks = if text.is_empty() {
            Vec::new()
        } else {
            vec![json!({"type": "text", "text": text})]
        };
        AnthropicMessage {
            model: model.to_owned(),
            thinking: Vec::new(),
            blocks,
            stop_reason: None,
            input_tokens: 10,
            output_tokens: 5,
            cache_creation: 0,
            cache_read: 0,
        }
    }

    /// A `thinking` block (with its `signature`) before the other blocks, as
    /// extended thinking answers.
    ///
    /// ```
    /// use elelem_testkit::wire::AnthropicMessage;
    ///
    /// let body = AnthropicMessage::new("m", "x").thinking("hmm").to_json();
    /// assert_eq!(body["content"][0]["thinking"], "hmm");
    /// ```
    #[must_use]
    pub fn thinking(mut self, thinking: &str) -> Self {
        self.thinking.push(json!({
            "type": "thinking",
            "thinking": thinking,
            "signature": format!("EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds{}", next_id())
        }));
        self
    }

    /// A `tool_use` block (`toolu_…` id) after the text; the stop reason becomes
    /// `"tool_use"` unless set otherwise.
    ///
    /// ```
    /// use elelem_testkit::wire::AnthropicMessage;
    /// use serde_json::json;
    ///
    /// let body = AnthropicMessage::new("m", "").tool_use("get_weather", json!({"city": "Paris"})).to_json();
    /// assert_eq!(body["content"][0]["type"], "tool_use");
    /// assert_eq!(body["content"][0]["input"]["city"], "Paris");
    /// assert_eq!(body["stop_reason"], "tool_use");
    /// ```
    #[must_use]
    pub fn tool_use(mut self, name: &str, input: Value) -> Self {
        self.blocks.push(json!({
            "type": "tool_use",
            "id": format!("toolu_01A09q90qw90lq9178{:06}", next_id()),
            "name": name,
            "input": input
        }));
        if self.stop_reason.is_none() {
            self.stop_reason = Some("tool_use".to_owned());
        }
        self
    }

    /// `usage.input_tokens` (the uncached input) and `usage.output_tokens`
    /// (thinking included).
    ///
    /// ```
    /// use elelem_testkit::wire::AnthropicMessage;
    ///
    /// let body = AnthropicMessage::new("m", "x").usage(7, 3).to_json();
    /// assert_eq!(body["usage"]["output_tokens"], 3);
    /// ```
    #[must_use]
    pub fn usage(mut self, input_tokens: u64, output_tokens: u64) -> Self {
        self.input_tokens = input_tokens;
        self.output_tokens = output_tokens;
        self
    }

    /// Tokens written to (`cache_creation_input_tokens`, 5-minute cache) and read
    /// from (`cache_read_input_tokens`) the prompt cache; neither is part of
    /// `input_tokens`.
    ///
    /// ```
    /// use elelem_testkit::wire::AnthropicMessage;
    ///
    /// let body = AnthropicMessage::new("m", "x").cache(5, 6).to_json();
    /// assert_eq!(body["usage"]["cache_creation"]["ephemeral_5m_input_tokens"], 5);
    /// ```
    #[must_use]
    pub fn cache(mut self, creation: u64, read: u64) -> Self {
        self.cache_creation = creation;
        self.cache_read = read;
        self
    }

    /// The `stop_reason` (`"end_turn"` by default; `"max_tokens"`,
    /// `"stop_sequence"`, `"tool_use"`, `"refusal"`, `"pause_turn"`).
    ///
    /// ```
    /// use elelem_testkit::wire::AnthropicMessage;
    ///
    /// assert_eq!(AnthropicMessage::new("m", "x").stop_reason("max_tokens").to_json()["stop_reason"], "max_tokens");
    /// ```
    #[must_use]
    pub fn stop_reason(mut self, stop_reason: &str) -> Self {
        self.stop_reason = Some(stop_reason.to_owned());
        self
    }

    /// The response body as JSON.
    ///
    /// ```
    /// use elelem_testkit::wire::AnthropicMessage;
    ///
    /// let body = AnthropicMessage::new("m", "x").to_json();
    /// assert!(body["id"].as_str().is_some_and(|id| id.starts_with("msg_")));
    /// ```
    pub fn to_json(&self) -> Value {
        let mut content = self.thinking.clone();
        content.extend(self.blocks.iter().cloned());
        let mut body = Map::new();
        body.insert(
            "id".to_owned(),
            json!(format!("msg_01XFDUDYJgAACzvnptv{:08}", next_id())),
        );
        body.insert("type".to_owned(), json!("message"));
        body.insert("role".to_owned(), json!("assistant"));
        body.insert("model".to_owned(), json!(self.model));
        body.insert("content".to_owned(), Value::Array(content));
        body.insert(
            "stop_reason".to_owned(),
            json!(self.stop_reason.as_deref().unwrap_or("end_turn")),
        );
        body.insert("stop_sequence".to_owned(), Value::Null);
        body.insert(
            "usage".to_owned(),
            json!({
                "input_tokens": self.input_tokens,
                "cache_creation_input_tokens": self.cache_creation,
                "cache_read_input_tokens": self.cache_read,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": self.cache_creation,
                    "ephemeral_1h_input_tokens": 0
                },
                "output_tokens": self.output_tokens,
                "service_tier": "standard"
            }),
        );
        Value::Object(body)
    }

    /// The answer to push onto a [`TestServer`](crate::TestServer), with
    /// Anthropic's `request-id` header.
    ///
    /// ```
    /// use elelem_testkit::wire::AnthropicMessage;
    ///
    /// let answer = AnthropicMessage::new("m", "x").into_response();
    /// assert_eq!(answer.status(), Some(200));
    /// assert!(answer.header_value("request-id").is_some());
    /// ```
    pub fn into_response(self) -> ScriptedResponse {
        ScriptedResponse::json(200, self.to_json()).header("request-id", request_id())
    }
}

impl From<AnthropicMessage> for ScriptedResponse {
    fn from(message: AnthropicMessage) -> Self {
        message.into_response()
    }
}

fn request_id() -> String {
    format!("req_011CSHoEeqs5C35K2UUqR7Fy{:06}", next_id())
}

/// Anthropic's error envelope `{"type": "error", "error": {"type", "message"},
/// "request_id"}` with the given status, and its `request-id` header.
///
/// ```
/// use elelem_testkit::wire;
///
/// let answer = wire::anthropic_error(400, "invalid_request_error", "max_tokens: Field required");
/// let body = answer.json_body().unwrap_or_default();
/// assert_eq!(body["type"], "error");
/// assert_eq!(body["error"]["type"], "invalid_request_error");
/// assert_eq!(answer.status(), Some(400));
/// ```
pub fn anthropic_error(status: u16, error_type: &str, message: &str) -> ScriptedResponse {
    let id = request_id();
    ScriptedResponse::json(
        status,
        json!({
            "type": "error",
            "error": {"type": error_type, "message": message},
            "request_id": id
        }),
    )
    .header("request-id", id)
}

/// Anthropic's HTTP 529 `overloaded_error` (its API is temporarily overloaded;
/// retried like a 5xx), with `x-should-retry: true`.
///
/// ```
/// use elelem_testkit::wire;
///
/// let answer = wire::anthropic_overloaded();
/// assert_eq!(answer.status(), Some(529));
/// assert_eq!(answer.json_body().unwrap_or_default()["error"]["type"], "overloaded_error");
/// ```
pub fn anthropic_overloaded() -> ScriptedResponse {
    anthropic_error(529, "overloaded_error", "Overloaded").header("x-should-retry", "true")
}

/// Anthropic's HTTP 429 `rate_limit_error`, with its `anthropic-ratelimit-*`
/// headers and, when given, `retry-after` (seconds).
///
/// ```
/// use elelem_testkit::wire;
///
/// let answer = wire::anthropic_rate_limited(Some("1"));
/// assert_eq!(answer.status(), Some(429));
/// assert_eq!(answer.header_value("retry-after"), Some("1"));
/// assert_eq!(answer.json_body().unwrap_or_default()["error"]["type"], "rate_limit_error");
/// ```
pub fn anthropic_rate_limited(retry_after: Option<&str>) -> ScriptedResponse {
    let answer = anthropic_error(
        429,
        "rate_limit_error",
        "This request would exceed the rate limit for your organization of 50 requests per minute. \
         For details, refer to: https://docs.claude.com/en/api/rate-limits.",
    )
    .header("anthropic-ratelimit-requests-limit", "50")
    .header("anthropic-ratelimit-requests-remaining", "0")
    .header("anthropic-ratelimit-requests-reset", "2025-10-01T12:00:30Z")
    .header("x-should-retry", "true");
    match retry_after {
        Some(seconds) => answer.header("retry-after", seconds),
        None => answer,
    }
}
