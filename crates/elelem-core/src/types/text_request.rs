//! A legacy completion request: a prompt in, text out.

use serde_json::{Map, Value};

/// A request for the legacy `/v1/completions` endpoint.
///
/// ```
/// let request = elelem_core::CompletionRequest::new("openai:gpt-4.1-mini", "Once upon a time")
///     .max_tokens(20)
///     .tags(["legacy"]);
/// assert_eq!(request.prompt, "Once upon a time");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CompletionRequest {
    /// The `provider:model` string.
    pub model: String,
    /// The prompt.
    pub prompt: String,
    /// Output token limit.
    pub max_tokens: Option<u32>,
    /// Sampling temperature.
    pub temperature: Option<f64>,
    /// Tags the cost is counted under.
    pub tags: Vec<String>,
    /// Any other field of the endpoint, sent as given.
    pub extra: Map<String, Value>,
}

impl CompletionRequest {
    /// A request with a model string and a prompt.
    pub fn new(model: impl Into<String>, prompt: impl Into<String>) -> Self {
        CompletionRequest {
            model: model.into(),
            prompt: prompt.into(),
            max_tokens: None,
            temperature: None,
            tags: Vec::new(),
            extra: Map::new(),
        }
    }

    /// Sets the output token limit.
    pub fn max_tokens(mut self, max_tokens: u32) -> Self {
        self.max_tokens = Some(max_tokens);
        self
    }

    /// Sets the temperature.
    pub fn temperature(mut self, temperature: f64) -> Self {
        self.temperature = Some(temperature);
        self
    }

    /// Sets the tags.
    pub fn tags<I, S>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }

    /// Sets any other field (`stop`, `suffix`, `echo`, ...).
    pub fn extra(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extra.insert(key.into(), value.into());
        self
    }
}
