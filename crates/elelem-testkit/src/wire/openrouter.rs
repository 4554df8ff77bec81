//! OpenRouter's chat completions: OpenAI's shape plus the run-time cost.

use serde_json::{json, Value};

use super::{next_id, unix_now};
use crate::ScriptedResponse;

/// Placeholder replaced by the cost's exact decimal text in the body.
const COST_SLOT: &str = "\"__testkit_cost__\"";
/// Placeholder replaced by the upstream cost's exact decimal text in the body.
const UPSTREAM_SLOT: &str = "\"__testkit_upstream_cost__\"";

/// Builder of an OpenRouter completion: `id` `gen-…`, `provider`, `model`,
/// `object`, `created`, `choices` (with `native_finish_reason` and the message's
/// `reasoning`), and `usage` with `cost` (credits, = USD), `is_byok`,
/// `prompt_tokens_details`, `cost_details` and `completion_tokens_details`.
///
/// The cost is written to the wire exactly as given (`"0.0001234"` becomes the
/// JSON number `0.0001234`).
///
/// ```
/// use elelem_testkit::wire::OpenRouterCompletion;
///
/// let answer = OpenRouterCompletion::new("openai/gpt-4.1-mini", "{}")
///     .usage(1_000, 100)
///     .cost("0.0001234")
///     .into_response();
/// let text = String::from_utf8_lossy(answer.body().unwrap()).into_owned();
/// assert!(text.contains("\"cost\":0.0001234"), "{text}");
/// let body = answer.json_body().unwrap_or_default();
/// assert_eq!(body["usage"]["prompt_tokens"], 1_000);
/// assert!(body["id"].as_str().is_some_and(|id| id.starts_with("gen-")));
/// ```
#[derive(Debug, Clone)]
pub struct OpenRouterCompletion {
    model: String,
    content: String,
    provider: String,
    prompt_tokens: u64,
    completion_tokens: u64,
    cached_tokens: u64,
    reasoning_tokens: u64,
    cost: String,
    upstream_cost: Option<String>,
    finish_reason: String,
}

impl OpenRouterCompletion {
    /// A completion of `model` (`vendor/model`) whose message is `content`; 10
    /// prompt and 5 completion tokens, a cost of `0.0000123`, upstream `OpenAI`.
    ///
    /// ```
    /// use elelem_testkit::wire::OpenRouterCompletion;
    ///
    /// let body = OpenRouterCompletion::new("openai/gpt-4.1-mini", "x").to_json();
    /// assert_eq!(body["provider"], "OpenAI");
    /// assert_eq!(body["choices"][0]["native_finish_reason"], "stop");
    /// ```
    pub fn new(model: &str, content: &str) -> Self {
        OpenRouterCompletion {
            model: model.to_owned(),
            content: content.to_owned(),
            provider: "OpenAI".to_owned(),
            prompt_tokens: 10,
            completion_tokens: 5,
            cached_tokens: 0,
            reasoning_tokens: 0,
            cost: "0.0000123".to_owned(),
            upstream_cost: None,
            finish_reason: "stop".to_owned(),
        }
    }

    /// Prompt and completion tokens.
    ///
    /// ```
    /// use elelem_testkit::wire::OpenRouterCompletion;
    ///
    /// assert_eq!(OpenRouterCompletion::new("m", "x").usage(3, 4).to_json()["usage"]["total_tokens"], 7);
    /// ```
    #[must_use]
    pub fn usage(mut self, prompt_tokens: u64, completion_tokens: u64) -> Self {
        self.prompt_tokens = prompt_tokens;
        self.completion_tokens = completion_tokens;
        self
    }

    /// Cached prompt tokens (`prompt_tokens_details.cached_tokens`).
    ///
    /// ```
    /// use elelem_testkit::wire::OpenRouterCompletion;
    ///
    /// let body = OpenRouterCompletion::new("m", "x").cached(2).to_json();
    /// assert_eq!(body["usage"]["prompt_tokens_details"]["cached_tokens"], 2);
    /// ```
    #[must_use]
    pub fn cached(mut self, cached_tokens: u64) -> Self {
        self.cached_tokens = cached_tokens;
        self
    }

    /// Reasoning tokens (`completion_tokens_details.reasoning_tokens`, part of the
    /// completion tokens).
    ///
    /// ```
    /// use elelem_testkit::wire::OpenRouterCompletion;
    ///
    /// let body = OpenRouterCompletion::new("m", "x").reasoning(3).to_json();
    /// assert_eq!(body["usage"]["completion_tokens_details"]["reasoning_tokens"], 3);
    /// ```
    #[must_use]
    pub fn reasoning(mut self, reasoning_tokens: u64) -> Self {
        self.reasoning_tokens = reasoning_tokens;
        self
    }

    /// `usage.cost`, a decimal written verbatim as a JSON number.
    ///
    /// ```
    /// use elelem_testkit::wire::OpenRouterCompletion;
    ///
    /// assert_eq!(OpenRouterCompletion::new("m", "x").cost("0.5").to_json()["usage"]["cost"], 0.5);
    /// ```
    #[must_use]
    pub fn cost(mut self, cost: &str) -> Self {
        cost.clone_into(&mut self.cost);
        self
    }

    /// `usage.cost_details.upstream_inference_cost` (bring-your-own-key
    /// requests; `null` otherwise).
    ///
    /// ```
    /// use elelem_testkit::wire::OpenRouterCompletion;
    ///
    /// let body = OpenRouterCompletion::new("m", "x").upstream_cost("0.25").to_json();
    /// assert_eq!(body["usage"]["cost_details"]["upstream_inference_cost"], 0.25);
    /// assert_eq!(body["usage"]["is_byok"], true);
    /// ```
    #[must_use]
    pub fn upstream_cost(mut self, cost: &str) -> Self {
        self.upstream_cost = Some(cost.to_owned());
        self
    }

    /// The upstream provider OpenRouter routed to (`"OpenAI"` by default).
    ///
    /// ```
    /// use elelem_testkit::wire::OpenRouterCompletion;
    ///
    /// assert_eq!(OpenRouterCompletion::new("m", "x").provider("Groq").to_json()["provider"], "Groq");
    /// ```
    #[must_use]
    pub fn provider(mut self, provider: &str) -> Self {
        provider.clone_into(&mut self.provider);
        self
    }

    /// The `finish_reason` (`"stop"` by default).
    ///
    /// ```
    /// use elelem_testkit::wire::OpenRouterCompletion;
    ///
    /// assert_eq!(OpenRouterCompletion::new("m", "x").finish_reason("length").to_json()["choices"][0]["finish_reason"], "length");
    /// ```
    #[must_use]
    pub fn finish_reason(mut self, finish_reason: &str) -> Self {
        finish_reason.clone_into(&mut self.finish_reason);
        self
    }

    /// The body with placeholders where the costs go.
    pub(super) fn skeleton(&self) -> Value {
        let serial = next_id();
        let created = unix_now();
        json!({
            "id": format!("gen-{created}-LSnhPpbVnHcz6y{serial:06}"),
            "provider": self.provider,
            "model": self.model,
            "object": "chat.completion",
            "created": created,
            "choices": [{
                "logprobs": null,
                "finish_reason": self.finish_reason,
                "native_finish_reason": self.finish_reason,
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": self.content,
                    "refusal": null,
                    "reasoning": null
                }
            }],
            "system_fingerprint": "fp_testkit_openrouter",
            "usage": {
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "total_tokens": self.prompt_tokens + self.completion_tokens,
                "cost": "__testkit_cost__",
                "is_byok": self.upstream_cost.is_some(),
                "prompt_tokens_details": {"cached_tokens": self.cached_tokens, "audio_tokens": 0},
                "cost_details": {
                    "upstream_inference_cost": if self.upstream_cost.is_some() { json!("__testkit_upstream_cost__") } else { Value::Null }
                },
                "completion_tokens_details": {"reasoning_tokens": self.reasoning_tokens, "image_tokens": 0}
            }
        })
    }

    /// The body text, costs written exactly.
    fn text(&self) -> String {
        self.fill_costs(&self.skeleton().to_string())
    }

    /// `text` with the cost placeholders replaced by the exact costs.
    pub(super) fn fill_costs(&self, text: &str) -> String {
        let mut text = text.replace(COST_SLOT, &self.cost);
        if let Some(upstream) = &self.upstream_cost {
            text = text.replace(UPSTREAM_SLOT, upstream);
        }
        text
    }

    /// The response body as JSON (the cost as a JSON number).
    ///
    /// ```
    /// use elelem_testkit::wire::OpenRouterCompletion;
    ///
    /// assert!(OpenRouterCompletion::new("m", "x").to_json()["usage"]["cost"].is_number());
    /// ```
    pub fn to_json(&self) -> Value {
        serde_json::from_str(&self.text()).unwrap_or(Value::Null)
    }

    /// The answer to push onto a [`TestServer`](crate::TestServer).
    ///
    /// ```
    /// use elelem_testkit::wire::OpenRouterCompletion;
    ///
    /// assert_eq!(OpenRouterCompletion::new("m", "x").into_response().status(), Some(200));
    /// ```
    pub fn into_response(self) -> ScriptedResponse {
        ScriptedResponse::raw(200, "application/json", self.text())
    }
}

impl From<OpenRouterCompletion> for ScriptedResponse {
    fn from(completion: OpenRouterCompletion) -> Self {
        completion.into_response()
    }
}

/// OpenRouter's error envelope `{"error": {"code", "message", "metadata"?}}`
/// (`code` is the HTTP status as a number), e.g. 402 when the credits are used
/// up or 429 when the upstream is rate limited.
///
/// ```
/// use elelem_testkit::wire;
///
/// let answer = wire::openrouter_error(402, "Insufficient credits. Add more using https://openrouter.ai/credits");
/// assert_eq!(answer.status(), Some(402));
/// assert_eq!(answer.json_body().unwrap_or_default()["error"]["code"], 402);
/// ```
pub fn openrouter_error(status: u16, message: &str) -> ScriptedResponse {
    ScriptedResponse::json(
        status,
        json!({"error": {"code": status, "message": message}, "user_id": "user_2yhFbBtQ1eDQeOdTr8Ycv0mCKBb"}),
    )
}
