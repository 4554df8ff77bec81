//! Gemini's native `generateContent` API: responses and errors.

use serde_json::{json, Map, Value};

use super::next_id;
use crate::ScriptedResponse;

/// A successful Gemini `generateContent` response (HTTP 200) with one text part,
/// 10 prompt and 5 candidate tokens and `finishReason` `"STOP"`. Use
/// [`GeminiResponse`] to change anything.
///
/// ```
/// use elelem_testkit::wire;
///
/// let body = wire::gemini_response("gemini-2.5-flash", "Hi").json_body().unwrap_or_default();
/// assert_eq!(body["candidates"][0]["content"]["parts"][0]["text"], "Hi");
/// assert_eq!(body["candidates"][0]["content"]["role"], "model");
/// assert_eq!(body["candidates"][0]["finishReason"], "STOP");
/// assert_eq!(body["usageMetadata"]["promptTokenCount"], 10);
/// ```
pub fn gemini_response(model: &str, text: &str) -> ScriptedResponse {
    GeminiResponse::new(model, text).into_response()
}

/// Builder of a Gemini `GenerateContentResponse` in the API's shape:
/// `candidates[{content {parts, role}, finishReason, index}]`,
/// `usageMetadata {promptTokenCount, candidatesTokenCount, totalTokenCount,
/// cachedContentTokenCount?, promptTokensDetails, thoughtsTokenCount?}`,
/// `modelVersion`, `responseId`.
///
/// ```
/// use elelem_testkit::wire::GeminiResponse;
///
/// let body = GeminiResponse::new("gemini-2.5-pro", "{}")
///     .usage(1_000, 50)
///     .thoughts(200)
///     .thought_text("Let me think.")
///     .cached(600)
///     .to_json();
/// let usage = &body["usageMetadata"];
/// assert_eq!(usage["totalTokenCount"], 1_250);
/// assert_eq!(usage["thoughtsTokenCount"], 200);
/// assert_eq!(usage["cachedContentTokenCount"], 600);
/// assert_eq!(body["candidates"][0]["content"]["parts"][0]["thought"], true);
/// ```
#[derive(Debug, Clone)]
pub struct GeminiResponse {
    model: String,
    parts: Vec<Value>,
    thought_parts: Vec<Value>,
    finish_reason: String,
    prompt_tokens: u64,
    candidates_tokens: u64,
    thoughts_tokens: u64,
    cached_tokens: u64,
}

impl GeminiResponse {
    /// A response of `model` with one text part (none when `text` is empty).
    ///
    /// ```
    /// use elelem_testkit::wire::GeminiResponse;
    ///
    /// assert_eq!(GeminiResponse::new("gemini-2.5-flash", "x").to_json()["modelVersion"], "gemini-2.5-flash");
    /// ```
    pub fn new(model: &str, text: &str) -> Self {
        let parts = if text.is_empty() {
            Vec::new()
        } else {
            vec![json!({"text": text})]
        };
        GeminiResponse {
            model: model.to_owned(),
            parts,
            thought_parts: Vec::new(),
            finish_reason: "STOP".to_owned(),
            prompt_tokens: 10,
            candidates_tokens: 5,
            thoughts_tokens: 0,
            cached_tokens: 0,
        }
    }

    /// `promptTokenCount` (cached tokens included) and `candidatesTokenCount`
    /// (the answer, thoughts excluded).
    ///
    /// ```
    /// use elelem_testkit::wire::GeminiResponse;
    ///
    /// assert_eq!(GeminiResponse::new("m", "x").usage(3, 4).to_json()["usageMetadata"]["candidatesTokenCount"], 4);
    /// ```
    #[must_use]
    pub fn usage(mut self, prompt_tokens: u64, candidates_tokens: u64) -> Self {
        self.prompt_tokens = prompt_tokens;
        self.candidates_tokens = candidates_tokens;
        self
    }

    /// `thoughtsTokenCount`: thinking tokens, billed as output but not part of
    /// `candidatesTokenCount`.
    ///
    /// ```
    /// use elelem_testkit::wire::GeminiResponse;
    ///
    /// assert_eq!(GeminiResponse::new("m", "x").thoughts(9).to_json()["usageMetadata"]["thoughtsTokenCount"], 9);
    /// ```
    #[must_use]
    pub fn thoughts(mut self, thoughts_tokens: u64) -> Self {
        self.thoughts_tokens = thoughts_tokens;
        self
    }

    /// A thought summary part (`{"text": …, "thought": true}`) before the answer,
    /// as sent with `thinkingConfig.includeThoughts`.
    ///
    /// ```
    /// use elelem_testkit::wire::GeminiResponse;
    ///
    /// let body = GeminiResponse::new("m", "x").thought_text("plan").to_json();
    /// assert_eq!(body["candidates"][0]["content"]["parts"][0]["text"], "plan");
    /// ```
    #[must_use]
    pub fn thought_text(mut self, text: &str) -> Self {
        self.thought_parts
            .push(json!({"text": text, "thought": true}));
        self
    }

    /// `cachedContentTokenCount`: prompt tokens read from the cache (part of
    /// `promptTokenCount`).
    ///
    /// ```
    /// use elelem_testkit::wire::GeminiResponse;
    ///
    /// assert_eq!(GeminiResponse::new("m", "x").cached(2).to_json()["usageMetadata"]["cachedContentTokenCount"], 2);
    /// ```
    #[must_use]
    pub fn cached(mut self, cached_tokens: u64) -> Self {
        self.cached_tokens = cached_tokens;
        self
    }

    /// A `functionCall` part after the text.
    ///
    /// ```
    /// use elelem_testkit::wire::GeminiResponse;
    /// use serde_json::json;
    ///
    /// let body = GeminiResponse::new("m", "").function_call("get_weather", json!({"city": "Paris"})).to_json();
    /// assert_eq!(body["candidates"][0]["content"]["parts"][0]["functionCall"]["name"], "get_weather");
    /// ```
    #[must_use]
    pub fn function_call(mut self, name: &str, args: Value) -> Self {
        self.parts
            .push(json!({"functionCall": {"name": name, "args": args}}));
        self
    }

    /// The candidate's `finishReason` (`"STOP"` by default; `"MAX_TOKENS"`,
    /// `"SAFETY"`, `"RECITATION"`, ...).
    ///
    /// ```
    /// use elelem_testkit::wire::GeminiResponse;
    ///
    /// let body = GeminiResponse::new("m", "x").finish_reason("MAX_TOKENS").to_json();
    /// assert_eq!(body["candidates"][0]["finishReason"], "MAX_TOKENS");
    /// ```
    #[must_use]
    pub fn finish_reason(mut self, finish_reason: &str) -> Self {
        finish_reason.clone_into(&mut self.finish_reason);
        self
    }

    /// The response body as JSON.
    ///
    /// ```
    /// use elelem_testkit::wire::GeminiResponse;
    ///
    /// assert!(GeminiResponse::new("m", "x").to_json()["responseId"].is_string());
    /// ```
    pub fn to_json(&self) -> Value {
        let mut parts = self.thought_parts.clone();
        parts.extend(self.parts.iter().cloned());
        let mut usage = Map::new();
        usage.insert("promptTokenCount".to_owned(), json!(self.prompt_tokens));
        usage.insert(
            "candidatesTokenCount".to_owned(),
            json!(self.candidates_tokens),
        );
        usage.insert(
            "totalTokenCount".to_owned(),
            json!(self.prompt_tokens + self.candidates_tokens + self.thoughts_tokens),
        );
        if self.cached_tokens > 0 {
            usage.insert(
                "cachedContentTokenCount".to_owned(),
                json!(self.cached_tokens),
            );
        }
        usage.insert(
            "promptTokensDetails".to_owned(),
            json!([{"modality": "TEXT", "tokenCount": self.prompt_tokens}]),
        );
        if self.cached_tokens > 0 {
            usage.insert(
                "cacheTokensDetails".to_owned(),
                json!([{"modality": "TEXT", "tokenCount": self.cached_tokens}]),
            );
        }
        if self.thoughts_tokens > 0 {
            usage.insert("thoughtsTokenCount".to_owned(), json!(self.thoughts_tokens));
        }
        json!({
            "candidates": [{
                "content": {"parts": parts, "role": "model"},
                "finishReason": self.finish_reason,
                "index": 0
            }],
            "usageMetadata": usage,
            "modelVersion": self.model,
            "responseId": format!("7K1IaO2wLPKnz7IP5oX2kQ{:04}", next_id())
        })
    }

    /// The answer to push onto a [`TestServer`](crate::TestServer).
    ///
    /// ```
    /// use elelem_testkit::wire::GeminiResponse;
    ///
    /// assert_eq!(GeminiResponse::new("m", "x").into_response().status(), Some(200));
    /// ```
    pub fn into_response(self) -> ScriptedResponse {
        ScriptedResponse::json(200, self.to_json())
    }
}

impl From<GeminiResponse> for ScriptedResponse {
    fn from(response: GeminiResponse) -> Self {
        response.into_response()
    }
}

/// Google's error envelope `{"error": {"code", "message", "status"}}`.
///
/// ```
/// use elelem_testkit::wire;
///
/// let body = wire::gemini_error(400, "INVALID_ARGUMENT", "Invalid JSON payload.").json_body().unwrap_or_default();
/// assert_eq!(body["error"]["code"], 400);
/// assert_eq!(body["error"]["status"], "INVALID_ARGUMENT");
/// ```
pub fn gemini_error(code: u16, status: &str, message: &str) -> ScriptedResponse {
    ScriptedResponse::json(
        code,
        json!({"error": {"code": code, "message": message, "status": status}}),
    )
}

/// Gemini's HTTP 429 `RESOURCE_EXHAUSTED`, with the quota failure and, when given,
/// the `RetryInfo` detail (`retryDelay` such as `"1s"`); Gemini sends no
/// `retry-after` header.
///
/// ```
/// use elelem_testkit::wire;
///
/// let body = wire::gemini_rate_limited(Some("1s")).json_body().unwrap_or_default();
/// assert_eq!(body["error"]["status"], "RESOURCE_EXHAUSTED");
/// assert_eq!(body["error"]["details"][1]["retryDelay"], "1s");
/// ```
pub fn gemini_rate_limited(retry_delay: Option<&str>) -> ScriptedResponse {
    let mut details = vec![json!({
        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
        "violations": [{
            "quotaMetric": "generativelanguage.googleapis.com/generate_content_paid_tier_input_token_count",
            "quotaId": "GenerateContentPaidTierInputTokensPerModelPerMinute",
            "quotaDimensions": {"location": "global", "model": "gemini-2.5-flash"},
            "quotaValue": "1000000"
        }]
    })];
    if let Some(delay) = retry_delay {
        details.push(json!({
            "@type": "type.googleapis.com/google.rpc.RetryInfo",
            "retryDelay": delay
        }));
    }
    ScriptedResponse::json(
        429,
        json!({"error": {
            "code": 429,
            "message": "You exceeded your current quota, please check your plan and billing details. \
                        For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",
            "status": "RESOURCE_EXHAUSTED",
            "details": details
        }}),
    )
}

/// Gemini's HTTP 503 `UNAVAILABLE` when the model is overloaded.
///
/// ```
/// use elelem_testkit::wire;
///
/// let answer = wire::gemini_overloaded();
/// assert_eq!(answer.status(), Some(503));
/// assert_eq!(answer.json_body().unwrap_or_default()["error"]["status"], "UNAVAILABLE");
/// ```
pub fn gemini_overloaded() -> ScriptedResponse {
    gemini_error(
        503,
        "UNAVAILABLE",
        "The model is overloaded. Please try again later.",
    )
}
