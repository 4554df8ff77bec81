//! Exact answers of the real providers (OpenAI, GROQ, DeepInfra, Scaleway,
//! OpenRouter, and the native APIs of Anthropic, Gemini and Ollama), as
//! [`ScriptedResponse`]s.
//!
//! The shapes follow what the providers really send, field order included, so
//! that client code is tested against the wire and not against a simplification.
//!
//! ```
//! use elelem_testkit::wire;
//!
//! let ok = wire::completion("gpt-4o-mini", "Hi");
//! let body = ok.json_body().unwrap_or_default();
//! assert_eq!(body["object"], "chat.completion");
//! assert_eq!(body["usage"]["total_tokens"], 15);
//!
//! let limited = wire::rate_limited(Some("2"));
//! assert_eq!(limited.status(), Some(429));
//! assert_eq!(limited.header_value("retry-after"), Some("2"));
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use crate::ScriptedResponse;

mod anthropic;
mod chunks;
mod embeddings;
mod gemini;
mod ollama;
mod openrouter;
mod responses;
mod streams;

pub use anthropic::{
    anthropic_error, anthropic_message, anthropic_overloaded, anthropic_rate_limited,
    AnthropicMessage,
};
pub use chunks::{completion_stream, UsagePlacement};
pub use embeddings::{
    embedding_vectors, gemini_embeddings, ollama_embed, openai_embeddings, openai_embeddings_base64,
};
pub use gemini::{
    gemini_error, gemini_overloaded, gemini_rate_limited, gemini_response, GeminiResponse,
};
pub use ollama::{ollama_chat, ollama_error, OllamaChat};
pub use openrouter::{openrouter_error, OpenRouterCompletion};
pub use responses::{response, ResponseBody};

/// Source of unique ids (`chatcmpl-N`, `req_…`) across the process.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// A successful `chat.completion` (HTTP 200) in OpenAI's exact shape, with
/// 10 prompt and 5 completion tokens. Use [`Completion`] to change anything.
///
/// ```
/// use elelem_testkit::wire;
///
/// let body = wire::completion("gpt-4o-mini", "Paris").json_body().unwrap_or_default();
/// assert_eq!(body["choices"][0]["message"]["content"], "Paris");
/// assert_eq!(body["choices"][0]["finish_reason"], "stop");
/// assert_eq!(body["usage"]["prompt_tokens"], 10);
/// assert_eq!(body["usage"]["completion_tokens"], 5);
/// ```
pub fn completion(model: &str, content: &str) -> ScriptedResponse {
    Completion::new(model, content).into_response()
}

/// Builder of a successful `chat.completion` answer.
///
/// Defaults: OpenAI shape, a fresh `chatcmpl-N` id, the current time, 10
/// prompt / 5 completion tokens, nothing cached, no reasoning tokens,
/// `finish_reason` `"stop"`.
///
/// [`groq`](Self::groq) switches to GROQ's shape. DeepInfra and Scaleway answer
/// in the OpenAI shape (minus some extras, which clients must not require).
///
/// ```
/// use elelem_testkit::wire::Completion;
/// use serde_json::json;
///
/// let body = Completion::new("gpt-4o", r#"{"answer":42}"#)
///     .usage(1200, 30)
///     .cached(1024)
///     .reasoning(12)
///     .finish_reason("length")
///     .to_json();
/// assert_eq!(body["usage"]["total_tokens"], 1230);
/// assert_eq!(body["usage"]["prompt_tokens_details"]["cached_tokens"], 1024);
/// assert_eq!(body["usage"]["completion_tokens_details"]["reasoning_tokens"], 12);
/// assert_eq!(body["choices"][0]["finish_reason"], "length");
/// ```
#[derive(Debug, Clone)]
pub struct Completion {
    model: String,
    content: String,
    id: Option<String>,
    created: Option<u64>,
    prompt_tokens: u64,
    completion_tokens: u64,
    cached_tokens: u64,
    reasoning_tokens: u64,
    finish_reason: String,
    message_fields: Vec<(String, Value)>,
    with_usage: bool,
    pub(super) groq: bool,
}

impl Completion {
    /// A completion of `model` whose assistant message is `content`.
    ///
    /// ```
    /// use elelem_testkit::wire::Completion;
    ///
    /// let body = Completion::new("m", "hello").to_json();
    /// assert_eq!(body["model"], "m");
    /// ```
    pub fn new(model: &str, content: &str) -> Self {
        Self {
            model: model.to_owned(),
            content: content.to_owned(),
            id: None,
            created: None,
            prompt_tokens: 10,
            completion_tokens: 5,
            cached_tokens: 0,
            reasoning_tokens: 0,
            finish_reason: "stop".to_owned(),
            message_fields: Vec::new(),
            with_usage: true,
            groq: false,
        }
    }

    /// Prompt and completion token counts (`total_tokens` is their sum).
    ///
    /// ```
    /// use elelem_testkit::wire::Completion;
    ///
    /// let body = Completion::new("m", "x").usage(7, 3).to_json();
    /// assert_eq!(body["usage"]["total_tokens"], 10);
    /// ```
    #[must_use]
    pub fn usage(mut self, prompt_tokens: u64, completion_tokens: u64) -> Self {
        self.prompt_tokens = prompt_tokens;
        self.completion_tokens = completion_tokens;
        self
    }

    /// Prompt tokens served from the provider's cache (`prompt_tokens_details.cached_tokens`).
    ///
    /// ```
    /// use elelem_testkit::wire::Completion;
    ///
    /// let body = Completion::new("m", "x").usage(2048, 5).cached(1024).to_json();
    /// assert_eq!(body["usage"]["prompt_tokens_details"]["cached_tokens"], 1024);
    /// ```
    #[must_use]
    pub fn cached(mut self, cached_tokens: u64) -> Self {
        self.cached_tokens = cached_tokens;
        self
    }

    /// Reasoning tokens, part of the completion tokens
    /// (`completion_tokens_details.reasoning_tokens`).
    ///
    /// ```
    /// use elelem_testkit::wire::Completion;
    ///
    /// let body = Completion::new("o3-mini", "x").usage(10, 100).reasoning(80).to_json();
    /// assert_eq!(body["usage"]["completion_tokens_details"]["reasoning_tokens"], 80);
    /// ```
    #[must_use]
    pub fn reasoning(mut self, reasoning_tokens: u64) -> Self {
        self.reasoning_tokens = reasoning_tokens;
        self
    }

    /// The choice's `finish_reason` (`"stop"` by default; e.g. `"length"`,
    /// `"tool_calls"`, `"content_filter"`).
    ///
    /// ```
    /// use elelem_testkit::wire::Completion;
    ///
    /// let body = Completion::new("m", "cut").finish_reason("length").to_json();
    /// assert_eq!(body["choices"][0]["finish_reason"], "length");
    /// ```
    #[must_use]
    pub fn finish_reason(mut self, finish_reason: &str) -> Self {
        finish_reason.clone_into(&mut self.finish_reason);
        self
    }

    /// Set a field of the assistant message, e.g. `"tool_calls"`, GROQ's
    /// `"reasoning"`, or `"content"` to `null`. An existing field keeps its place.
    ///
    /// ```
    /// use elelem_testkit::wire::Completion;
    /// use serde_json::{json, Value};
    ///
    /// let body = Completion::new("m", "")
    ///     .message_field("content", Value::Null)
    ///     .message_field("refusal", json!("I can't help with that."))
    ///     .to_json();
    /// assert_eq!(body["choices"][0]["message"]["content"], Value::Null);
    /// assert_eq!(body["choices"][0]["message"]["refusal"], "I can't help with that.");
    /// ```
    #[must_use]
    pub fn message_field(mut self, key: &str, value: Value) -> Self {
        self.message_fields.push((key.to_owned(), value));
        self
    }

    /// Leave the `usage` object out entirely (some providers and proxies do).
    ///
    /// ```
    /// use elelem_testkit::wire::Completion;
    ///
    /// let body = Completion::new("m", "x").without_usage().to_json();
    /// assert!(body.get("usage").is_none());
    /// ```
    #[must_use]
    pub fn without_usage(mut self) -> Self {
        self.with_usage = false;
        self
    }

    /// Answer in GROQ's shape: the message has no `refusal`; `usage` carries
    /// GROQ's `queue_time`, `prompt_time`, `completion_time` and `total_time`
    /// (seconds, floats) instead of OpenAI's details (a `prompt_tokens_details`
    /// / `completion_tokens_details` object appears only when
    /// [`cached`](Self::cached) / [`reasoning`](Self::reasoning) is non-zero);
    /// top level adds `"x_groq": {"id": "req_…"}` and `"service_tier": "on_demand"`.
    ///
    /// ```
    /// use elelem_testkit::wire::Completion;
    ///
    /// let body = Completion::new("llama-3.3-70b-versatile", "x").groq().to_json();
    /// assert!(body["usage"]["queue_time"].is_f64());
    /// assert!(body["x_groq"]["id"].as_str().is_some_and(|id| id.starts_with("req_")));
    /// assert_eq!(body["service_tier"], "on_demand");
    /// ```
    #[must_use]
    pub fn groq(mut self) -> Self {
        self.groq = true;
        self
    }

    /// Use this completion id instead of a fresh `chatcmpl-N`.
    ///
    /// ```
    /// use elelem_testkit::wire::Completion;
    ///
    /// assert_eq!(Completion::new("m", "x").id("chatcmpl-abc").to_json()["id"], "chatcmpl-abc");
    /// ```
    #[must_use]
    pub fn id(mut self, id: &str) -> Self {
        self.id = Some(id.to_owned());
        self
    }

    /// Use this `created` Unix timestamp instead of the current time.
    ///
    /// ```
    /// use elelem_testkit::wire::Completion;
    ///
    /// assert_eq!(Completion::new("m", "x").created(1_700_000_000).to_json()["created"], 1_700_000_000);
    /// ```
    #[must_use]
    pub fn created(mut self, created: u64) -> Self {
        self.created = Some(created);
        self
    }

    /// The response body as JSON.
    ///
    /// ```
    /// use elelem_testkit::wire::Completion;
    ///
    /// let body = Completion::new("gpt-4o-mini", "x").to_json();
    /// assert!(body["id"].as_str().is_some_and(|id| id.starts_with("chatcmpl-")));
    /// ```
    pub fn to_json(&self) -> Value {
        let serial = next_id();
        let mut message = Map::new();
        message.insert("role".to_owned(), json!("assistant"));
        message.insert("content".to_owned(), json!(self.content));
        if !self.groq {
            message.insert("refusal".to_owned(), Value::Null);
        }
        for (key, value) in &self.message_fields {
            message.insert(key.clone(), value.clone());
        }

        let mut body = Map::new();
        let id = self
            .id
            .clone()
            .unwrap_or_else(|| format!("chatcmpl-{serial}"));
        body.insert("id".to_owned(), json!(id));
        body.insert("object".to_owned(), json!("chat.completion"));
        body.insert(
            "created".to_owned(),
            json!(self.created.unwrap_or_else(unix_now)),
        );
        body.insert("model".to_owned(), json!(self.model));
        body.insert(
            "choices".to_owned(),
            json!([{
                "index": 0,
                "message": message,
                "logprobs": null,
                "finish_reason": self.finish_reason
            }]),
        );
        if self.with_usage {
            let usage = if self.groq {
                self.groq_usage()
            } else {
                self.openai_usage()
            };
            body.insert("usage".to_owned(), usage);
        }
        if self.groq {
            body.insert("system_fingerprint".to_owned(), json!("fp_testkit_groq"));
            body.insert(
                "x_groq".to_owned(),
                json!({"id": format!("req_01testkit{serial:016}")}),
            );
            body.insert("service_tier".to_owned(), json!("on_demand"));
        } else {
            body.insert("service_tier".to_owned(), json!("default"));
            body.insert("system_fingerprint".to_owned(), json!("fp_testkit"));
        }
        Value::Object(body)
    }

    /// The answer to push onto a [`TestServer`](crate::TestServer)
    /// (`Completion` also converts with `.into()`).
    ///
    /// ```
    /// use elelem_testkit::wire::Completion;
    ///
    /// assert_eq!(Completion::new("m", "x").into_response().status(), Some(200));
    /// ```
    pub fn into_response(self) -> ScriptedResponse {
        ScriptedResponse::json(200, self.to_json())
    }

    fn openai_usage(&self) -> Value {
        json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {
                "cached_tokens": self.cached_tokens,
                "audio_tokens": 0
            },
            "completion_tokens_details": {
                "reasoning_tokens": self.reasoning_tokens,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0
            }
        })
    }

    fn groq_usage(&self) -> Value {
        // Plausible LPU timings: fast prefill, ~500 tokens/s decoding.
        let prompt_time = self.prompt_tokens as f64 * 0.000_02 + 0.000_5;
        let completion_time = self.completion_tokens as f64 * 0.002 + 0.001;
        let mut usage = Map::new();
        usage.insert("queue_time".to_owned(), json!(0.017_341_2));
        usage.insert("prompt_tokens".to_owned(), json!(self.prompt_tokens));
        usage.insert("prompt_time".to_owned(), json!(prompt_time));
        usage.insert(
            "completion_tokens".to_owned(),
            json!(self.completion_tokens),
        );
        usage.insert("completion_time".to_owned(), json!(completion_time));
        usage.insert(
            "total_tokens".to_owned(),
            json!(self.prompt_tokens + self.completion_tokens),
        );
        usage.insert(
            "total_time".to_owned(),
            json!(prompt_time + completion_time),
        );
        if self.cached_tokens > 0 {
            usage.insert(
                "prompt_tokens_details".to_owned(),
                json!({"cached_tokens": self.cached_tokens}),
            );
        }
        if self.reasoning_tokens > 0 {
            usage.insert(
                "completion_tokens_details".to_owned(),
                json!({"reasoning_tokens": self.reasoning_tokens}),
            );
        }
        Value::Object(usage)
    }
}

impl From<Completion> for ScriptedResponse {
    fn from(completion: Completion) -> Self {
        completion.into_response()
    }
}

/// The OpenAI error envelope `{"error": {message, type, param, code}}`.
fn openai_error(status: u16, message: &str, kind: &str, code: Value) -> ScriptedResponse {
    ScriptedResponse::json(
        status,
        json!({"error": {"message": message, "type": kind, "param": null, "code": code}}),
    )
}

/// GROQ's HTTP 400 when JSON mode produced invalid JSON; `failed_generation` is
/// what the model wrote.
///
/// ```
/// use elelem_testkit::wire;
///
/// let body = wire::groq_json_validate_failed("{\"a\": ").json_body().unwrap_or_default();
/// assert_eq!(body["error"]["code"], "json_validate_failed");
/// assert_eq!(body["error"]["failed_generation"], "{\"a\": ");
/// ```
pub fn groq_json_validate_failed(failed_generation: &str) -> ScriptedResponse {
    ScriptedResponse::json(
        400,
        json!({"error": {
            "message": "Failed to generate JSON. Please adjust your prompt. See 'failed_generation' for more details.",
            "type": "invalid_request_error",
            "code": "json_validate_failed",
            "failed_generation": failed_generation
        }}),
    )
}

/// OpenAI's HTTP 429 for a request-rate limit, with its `x-ratelimit-*` headers
/// and, when given, `retry-after` (seconds or an HTTP date, sent verbatim).
///
/// ```
/// use elelem_testkit::wire;
///
/// let answer = wire::rate_limited(None);
/// let body = answer.json_body().unwrap_or_default();
/// assert_eq!(body["error"]["type"], "requests");
/// assert_eq!(body["error"]["code"], "rate_limit_exceeded");
/// assert_eq!(answer.header_value("x-ratelimit-remaining-requests"), Some("0"));
/// assert_eq!(answer.header_value("retry-after"), None);
/// ```
pub fn rate_limited(retry_after: Option<&str>) -> ScriptedResponse {
    let wait = retry_after
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map_or_else(|| "1s".to_owned(), |secs| format!("{secs}s"));
    let answer = rate_limit_answer(&wait);
    match retry_after {
        Some(value) => answer.header("retry-after", value),
        None => answer,
    }
}

/// Like [`rate_limited`], with OpenAI's millisecond hint `retry-after-ms`
/// instead of `retry-after`.
///
/// ```
/// use elelem_testkit::wire;
///
/// let answer = wire::rate_limited_ms(250);
/// assert_eq!(answer.header_value("retry-after-ms"), Some("250"));
/// assert_eq!(answer.header_value("x-ratelimit-reset-requests"), Some("250ms"));
/// ```
pub fn rate_limited_ms(ms: u64) -> ScriptedResponse {
    rate_limit_answer(&format!("{ms}ms")).header("retry-after-ms", ms.to_string())
}

/// OpenAI's HTTP 429 body for a request-rate limit of `limit` requests, to be
/// tried again in `wait` (a Go duration such as `120ms`); the server's rate
/// limit ([`TestServer::rate_limit`](crate::TestServer::rate_limit)) adds the
/// `x-ratelimit-*` headers.
///
/// ```
/// use elelem_testkit::wire;
///
/// let body = wire::requests_rate_limited(10, "350ms").json_body().unwrap_or_default();
/// assert_eq!(body["error"]["code"], "rate_limit_exceeded");
/// assert!(body["error"]["message"].as_str().unwrap_or_default().contains("Limit 10, Used 10"));
/// ```
pub fn requests_rate_limited(limit: u64, wait: &str) -> ScriptedResponse {
    let message = format!(
        "Rate limit reached for gpt-4o-mini in organization org-testkit on requests per min (RPM): \
         Limit {limit}, Used {limit}, Requested 1. Please try again in {wait}. \
         Visit https://platform.openai.com/account/rate-limits to learn more."
    );
    openai_error(429, &message, "requests", json!("rate_limit_exceeded"))
}

fn rate_limit_answer(wait: &str) -> ScriptedResponse {
    let message = format!(
        "Rate limit reached for gpt-4o-mini in organization org-testkit on requests per min (RPM): \
         Limit 500, Used 500, Requested 1. Please try again in {wait}. \
         Visit https://platform.openai.com/account/rate-limits to learn more."
    );
    openai_error(429, &message, "requests", json!("rate_limit_exceeded"))
        .header("x-ratelimit-limit-requests", "500")
        .header("x-ratelimit-limit-tokens", "200000")
        .header("x-ratelimit-remaining-requests", "0")
        .header("x-ratelimit-remaining-tokens", "199980")
        .header("x-ratelimit-reset-requests", wait)
        .header("x-ratelimit-reset-tokens", "6m0s")
}

/// OpenAI's HTTP 429 when the account has no credit left (not worth retrying).
///
/// ```
/// use elelem_testkit::wire;
///
/// let body = wire::insufficient_quota().json_body().unwrap_or_default();
/// assert_eq!(body["error"]["code"], "insufficient_quota");
/// ```
pub fn insufficient_quota() -> ScriptedResponse {
    openai_error(
        429,
        "You exceeded your current quota, please check your plan and billing details.",
        "insufficient_quota",
        json!("insufficient_quota"),
    )
}

/// OpenAI's HTTP 401 for a wrong API key.
///
/// ```
/// use elelem_testkit::wire;
///
/// let answer = wire::invalid_api_key();
/// assert_eq!(answer.status(), Some(401));
/// assert_eq!(answer.json_body().unwrap_or_default()["error"]["code"], "invalid_api_key");
/// ```
pub fn invalid_api_key() -> ScriptedResponse {
    openai_error(
        401,
        "Incorrect API key provided: sk-abc***xyz. You can find your API key at https://platform.openai.com/account/api-keys.",
        "invalid_request_error",
        json!("invalid_api_key"),
    )
}

/// OpenAI's JSON error for a server-side failure, with the given (5xx) status.
///
/// ```
/// use elelem_testkit::wire;
///
/// let answer = wire::server_error(503);
/// assert_eq!(answer.status(), Some(503));
/// assert_eq!(answer.json_body().unwrap_or_default()["error"]["type"], "server_error");
/// ```
pub fn server_error(status: u16) -> ScriptedResponse {
    openai_error(
        status,
        "The server had an error while processing your request. Sorry about that!",
        "server_error",
        Value::Null,
    )
}

/// An nginx-style HTTP 502 HTML page, as gateways send when the backend is down.
///
/// ```
/// use elelem_testkit::wire;
///
/// let answer = wire::html_502();
/// assert_eq!(answer.status(), Some(502));
/// assert_eq!(answer.header_value("content-type"), Some("text/html"));
/// assert_eq!(answer.json_body(), None);
/// ```
pub fn html_502() -> ScriptedResponse {
    ScriptedResponse::raw(
        502,
        "text/html",
        "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n\
         <center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n\
         </body>\r\n</html>\r\n",
    )
}

/// OpenAI's HTTP 404 for an unknown (or inaccessible) model.
///
/// ```
/// use elelem_testkit::wire;
///
/// let body = wire::model_not_found("gpt-9").json_body().unwrap_or_default();
/// assert_eq!(
///     body["error"]["message"],
///     "The model `gpt-9` does not exist or you do not have access to it."
/// );
/// ```
pub fn model_not_found(model: &str) -> ScriptedResponse {
    openai_error(
        404,
        &format!("The model `{model}` does not exist or you do not have access to it."),
        "invalid_request_error",
        json!("model_not_found"),
    )
}
