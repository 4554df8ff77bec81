//! Typed setters for the sampling settings users set most. Each stores the
//! OpenAI field in [`ChatRequest::extra`], so the wire body carries it as OpenAI
//! names it; native providers map it to their own names, and a model whose
//! catalogue entry lacks the setting has it removed before sending.

use serde_json::{Number, Value};

use super::{thinking, Grammar};
use crate::types::ChatRequest;

impl ChatRequest {
    /// Sets a float field, or removes it when `value` is not a finite number
    /// (JSON has no NaN or infinity).
    fn float_field(mut self, field: &str, value: f64) -> Self {
        match Number::from_f64(value) {
            Some(number) => {
                self.extra.insert(field.to_owned(), Value::Number(number));
            }
            None => {
                tracing::debug!(field, value, "not a finite number: the field is not sent");
                self.extra.remove(field);
            }
        }
        self
    }

    /// Nucleus sampling: only the tokens making up the top `top_p` of probability
    /// mass are considered (OpenAI `top_p`; Anthropic `top_p`, Gemini `topP`,
    /// Ollama `options.top_p`). Not sent to models that take no `temperature`.
    ///
    /// ```
    /// let r = elelem_core::ChatRequest::new("openai:gpt-4.1-mini", vec![]).top_p(0.9);
    /// assert_eq!(r.extra["top_p"], 0.9);
    /// ```
    pub fn top_p(self, top_p: f64) -> Self {
        self.float_field("top_p", top_p)
    }

    /// Samples from the `top_k` likeliest tokens only (`top_k`; Gemini `topK`,
    /// Ollama `options.top_k`). Not part of OpenAI's API: not sent to models whose
    /// catalogue entry says `top_k = false`.
    ///
    /// ```
    /// let r = elelem_core::ChatRequest::new("anthropic:claude-sonnet-4-5", vec![]).top_k(40);
    /// assert_eq!(r.extra["top_k"], 40);
    /// ```
    pub fn top_k(mut self, top_k: u32) -> Self {
        self.extra.insert("top_k".into(), Value::from(top_k));
        self
    }

    /// Sequences that end the answer (OpenAI `stop`; Anthropic `stop_sequences`,
    /// Gemini `stopSequences`, Ollama `options.stop`).
    ///
    /// ```
    /// let r = elelem_core::ChatRequest::new("openai:gpt-4.1-mini", vec![]).stop(["END", "\n\n"]);
    /// assert_eq!(r.extra["stop"], serde_json::json!(["END", "\n\n"]));
    /// ```
    pub fn stop<I, S>(mut self, sequences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let stop: Vec<Value> = sequences
            .into_iter()
            .map(|s| Value::String(s.into()))
            .collect();
        self.extra.insert("stop".into(), Value::Array(stop));
        self
    }

    /// A seed for reproducible sampling, where the provider supports it
    /// (OpenAI `seed`; Gemini `seed`, Ollama `options.seed`).
    ///
    /// ```
    /// let r = elelem_core::ChatRequest::new("openai:gpt-4.1-mini", vec![]).seed(7);
    /// assert_eq!(r.extra["seed"], 7);
    /// ```
    pub fn seed(mut self, seed: i64) -> Self {
        self.extra.insert("seed".into(), Value::from(seed));
        self
    }

    /// Penalizes tokens by how often they already appear, -2.0 to 2.0
    /// (`frequency_penalty`; Gemini `frequencyPenalty`). Not sent to models that
    /// take no `temperature`.
    ///
    /// ```
    /// let r = elelem_core::ChatRequest::new("openai:gpt-4.1-mini", vec![]).frequency_penalty(0.5);
    /// assert_eq!(r.extra["frequency_penalty"], 0.5);
    /// ```
    pub fn frequency_penalty(self, penalty: f64) -> Self {
        self.float_field("frequency_penalty", penalty)
    }

    /// Penalizes tokens that already appear at all, -2.0 to 2.0
    /// (`presence_penalty`; Gemini `presencePenalty`). Not sent to models that take
    /// no `temperature`.
    ///
    /// ```
    /// let r = elelem_core::ChatRequest::new("openai:gpt-4.1-mini", vec![]).presence_penalty(0.5);
    /// assert_eq!(r.extra["presence_penalty"], 0.5);
    /// ```
    pub fn presence_penalty(self, penalty: f64) -> Self {
        self.float_field("presence_penalty", penalty)
    }

    /// Asks for `n` answers (OpenAI `n`; every answer's tokens are billed). The
    /// pipeline's JSON handling reads the first one.
    ///
    /// ```
    /// let r = elelem_core::ChatRequest::new("openai:gpt-4.1-mini", vec![]).n(3);
    /// assert_eq!(r.extra["n"], 3);
    /// ```
    pub fn n(mut self, n: u32) -> Self {
        self.extra.insert("n".into(), Value::from(n));
        self
    }

    /// Asks for the log probabilities of the answer's tokens and, when `top` is
    /// given, of the `top` likeliest alternatives at each position (OpenAI
    /// `logprobs` and `top_logprobs`). Not sent to models that take no
    /// `temperature`.
    ///
    /// ```
    /// let r = elelem_core::ChatRequest::new("openai:gpt-4.1-mini", vec![]).logprobs(Some(5));
    /// assert_eq!((r.extra["logprobs"].clone(), r.extra["top_logprobs"].clone()), (true.into(), 5.into()));
    /// ```
    pub fn logprobs(mut self, top: Option<u8>) -> Self {
        self.extra.insert("logprobs".into(), Value::Bool(true));
        match top {
            Some(top) => self.extra.insert("top_logprobs".into(), Value::from(top)),
            None => self.extra.remove("top_logprobs"),
        };
        self
    }

    /// An id of your end user, for the provider's abuse monitoring (OpenAI `user`;
    /// Anthropic `metadata.user_id`).
    ///
    /// ```
    /// let r = elelem_core::ChatRequest::new("openai:gpt-4.1-mini", vec![]).user("user-42");
    /// assert_eq!(r.extra["user"], "user-42");
    /// ```
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.extra.insert("user".into(), Value::String(user.into()));
        self
    }

    /// Constrains the answer to a grammar, a regular expression or a set of
    /// choices, on servers with constrained decoding (sent as vLLM's
    /// `structured_outputs` or `guided_*` fields, as the model's catalogue entry
    /// says). Other models refuse the request before sending it.
    ///
    /// ```
    /// use elelem_core::{ChatRequest, Grammar};
    /// let r = ChatRequest::new("local:llama", vec![]).grammar(Grammar::Regex("[0-9]{3}".into()));
    /// assert_eq!(r.grammar, Some(Grammar::Regex("[0-9]{3}".into())));
    /// ```
    pub fn grammar(mut self, grammar: Grammar) -> Self {
        self.grammar = Some(grammar);
        self
    }

    /// Turns extended thinking on with a budget of `budget_tokens` (at least
    /// [`MIN_THINKING_BUDGET`](crate::sampling::MIN_THINKING_BUDGET), and below
    /// `max_tokens` when that is set). Sent as Anthropic's
    /// `{"type": "enabled", "budget_tokens": n}`; models whose entry takes
    /// `reasoning_effort` get the matching effort instead, models without
    /// reasoning nothing. `.extra("thinking", json!({"enabled": true,
    /// "budget_tokens": n}))` is read the same way.
    ///
    /// ```
    /// let r = elelem_core::ChatRequest::new("anthropic:claude-sonnet-4-5", vec![]).thinking(2048);
    /// assert_eq!(r.extra["thinking"], serde_json::json!({"type": "enabled", "budget_tokens": 2048}));
    /// ```
    pub fn thinking(mut self, budget_tokens: u32) -> Self {
        self.extra
            .insert("thinking".into(), thinking::enabled(budget_tokens));
        self
    }
}
