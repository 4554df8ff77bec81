//! A chat request: the model string, the messages and the parameters.

use serde::{Serialize, Serializer};
use serde_json::{json, Map, Value};

use super::{AnswerCheck, Message};
use crate::cache::CacheMode;
use crate::json::JsonSchema;

/// The output format to ask for.
///
/// `JsonSchema` is sent natively to models whose catalogue entry supports it, sent
/// as `json_object` (with the schema in the instructions) to models that only have a
/// JSON mode, and as instructions alone elsewhere; the answer is validated against
/// the schema locally either way.
///
/// ```
/// use elelem_core::ResponseFormat;
/// let f = ResponseFormat::JsonObject;
/// assert_eq!(serde_json::to_value(&f).unwrap(), serde_json::json!({"type": "json_object"}));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseFormat {
    /// Free text (the default).
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON conforming to a schema.
    JsonSchema {
        /// The schema's name (letters, digits, `_` and `-`).
        name: String,
        /// The JSON schema (draft-07 or later).
        schema: Value,
        /// Whether to ask for OpenAI's strict mode.
        strict: Option<bool>,
    },
    /// A YAML document, parsed and validated like JSON (against the request's
    /// `.json_schema(...)`); `response_format` is not sent, the instructions ask
    /// for YAML, and `response.elelem.json` holds the parsed value.
    ///
    /// ```
    /// use elelem_core::{ChatRequest, ResponseFormat};
    /// let r = ChatRequest::new("p:m", vec![]).response_format(ResponseFormat::Yaml);
    /// assert!(r.is_json_mode() && r.is_yaml_mode());
    /// ```
    Yaml,
}

impl ResponseFormat {
    /// Whether this format asks for a structured answer (JSON, or YAML parsed
    /// and validated like JSON).
    pub fn is_json(&self) -> bool {
        !matches!(self, ResponseFormat::Text)
    }

    /// Whether this format asks for YAML.
    pub fn is_yaml(&self) -> bool {
        matches!(self, ResponseFormat::Yaml)
    }

    /// The OpenAI wire form.
    pub fn to_wire(&self) -> Value {
        match self {
            // YAML is asked for in the instructions: on the wire it is text.
            ResponseFormat::Text | ResponseFormat::Yaml => json!({"type": "text"}),
            ResponseFormat::JsonObject => json!({"type": "json_object"}),
            ResponseFormat::JsonSchema {
                name,
                schema,
                strict,
            } => {
                let mut inner = Map::new();
                inner.insert("name".into(), Value::String(name.clone()));
                inner.insert("schema".into(), schema.clone());
                if let Some(strict) = strict {
                    inner.insert("strict".into(), Value::Bool(*strict));
                }
                json!({"type": "json_schema", "json_schema": inner})
            }
        }
    }
}

impl Serialize for ResponseFormat {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_wire().serialize(serializer)
    }
}

/// A chat completion request on a `"provider:model"` string.
///
/// ```
/// use elelem_core::{ChatRequest, Message, ResponseFormat};
/// let request = ChatRequest::new("groq:openai/gpt-oss-20b", vec![Message::user("Give me JSON")])
///     .response_format(ResponseFormat::JsonObject)
///     .json_schema(serde_json::json!({"type": "object", "required": ["name"]}))
///     .temperature(1.0)
///     .max_tokens(200)
///     .tags(["example"])
///     .extra("seed", 7);
/// assert!(request.is_json_mode());
/// assert_eq!(request.tags, vec!["example".to_string()]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    /// The `provider:model` string.
    pub model: String,
    /// The conversation.
    pub messages: Vec<Message>,
    /// The output format asked for.
    pub response_format: Option<ResponseFormat>,
    /// A JSON schema the answer must satisfy (validated locally; implies JSON
    /// mode). A [`JsonSchema`] built once and cloned into each request saves the
    /// per-call work on the schema.
    pub json_schema: Option<JsonSchema>,
    /// Sampling temperature.
    pub temperature: Option<f64>,
    /// Output token limit.
    pub max_tokens: Option<u32>,
    /// Tags the cost of this call is counted under.
    pub tags: Vec<String>,
    /// Any other OpenAI field, sent as given (the typed setters such as
    /// [`ChatRequest::top_p`] and [`ChatRequest::stop`] store theirs here too).
    pub extra: Map<String, Value>,
    /// The grammar the answer is constrained to (see [`ChatRequest::grammar`]).
    pub grammar: Option<crate::sampling::Grammar>,
    /// Checks the parsed JSON answer must pass after the schema (see
    /// [`ChatRequest::check`]).
    pub checks: Vec<AnswerCheck>,
    /// How this request uses the response cache, when the client has one.
    pub cache: CacheMode,
    /// Models tried in order after the JSON retries on the requested model fail;
    /// when set, they replace the provider's fallback model.
    pub fallback_models: Vec<String>,
}

impl ChatRequest {
    /// A request with a model string and messages.
    pub fn new(model: impl Into<String>, messages: Vec<Message>) -> Self {
        ChatRequest {
            model: model.into(),
            messages,
            response_format: None,
            json_schema: None,
            temperature: None,
            max_tokens: None,
            tags: Vec::new(),
            extra: Map::new(),
            grammar: None,
            checks: Vec::new(),
            cache: CacheMode::default(),
            fallback_models: Vec::new(),
        }
    }

    /// Appends a message (for a request made from a preset template).
    ///
    /// ```
    /// use elelem_core::{ChatRequest, Message};
    /// let r = ChatRequest::new("openai:gpt-4.1-mini", vec![]).message(Message::user("Hi"));
    /// assert_eq!(r.messages.len(), 1);
    /// ```
    pub fn message(mut self, message: Message) -> Self {
        self.messages.push(message);
        self
    }

    /// Appends messages (for a request made from a preset template).
    ///
    /// ```
    /// use elelem_core::{ChatRequest, Message};
    /// let r = ChatRequest::new("openai:gpt-4.1-mini", vec![Message::system("Be brief.")])
    ///     .messages([Message::user("Hi")]);
    /// assert_eq!(r.messages.len(), 2);
    /// ```
    pub fn messages(mut self, messages: impl IntoIterator<Item = Message>) -> Self {
        self.messages.extend(messages);
        self
    }

    /// Adds a check on the parsed JSON answer, run after schema validation; turns
    /// JSON mode on. An `Err(message)` rejects the answer like a schema violation:
    /// the message is fed back to the model and the call retried (counted in
    /// `json_schema_retries`).
    ///
    /// ```
    /// use elelem_core::{ChatRequest, Message};
    /// let r = ChatRequest::new("openai:gpt-4.1-mini", vec![Message::user("A number")])
    ///     .check(|v| if v["n"].as_i64().is_some_and(|n| n > 0) { Ok(()) } else { Err("`n` must be positive".into()) });
    /// assert!(r.is_json_mode());
    /// assert_eq!(r.checks.len(), 1);
    /// ```
    pub fn check<F>(mut self, check: F) -> Self
    where
        F: Fn(&Value) -> Result<(), String> + Send + Sync + 'static,
    {
        self.checks.push(AnswerCheck::new(check));
        self
    }

    /// Neither reads nor writes the response cache for this request.
    ///
    /// ```
    /// use elelem_core::{cache::CacheMode, ChatRequest};
    /// let r = ChatRequest::new("openai:gpt-4.1-mini", vec![]).ignore_cache();
    /// assert_eq!(r.cache, CacheMode::Ignore);
    /// ```
    pub fn ignore_cache(mut self) -> Self {
        self.cache = CacheMode::Ignore;
        self
    }

    /// Skips the cache lookup but stores the fresh answer, replacing any cached one.
    ///
    /// ```
    /// use elelem_core::{cache::CacheMode, ChatRequest};
    /// let r = ChatRequest::new("openai:gpt-4.1-mini", vec![]).refresh_cache();
    /// assert_eq!(r.cache, CacheMode::Refresh);
    /// ```
    pub fn refresh_cache(mut self) -> Self {
        self.cache = CacheMode::Refresh;
        self
    }

    /// Sets the models tried in order after the JSON retries on the requested model
    /// fail (each gets the same retry ladder); they replace the provider's fallback.
    ///
    /// ```
    /// use elelem_core::ChatRequest;
    /// let r = ChatRequest::new("groq:openai/gpt-oss-20b", vec![])
    ///     .fallback_models(["groq:openai/gpt-oss-120b", "openai:gpt-4.1-mini"]);
    /// assert_eq!(r.fallback_models.len(), 2);
    /// ```
    pub fn fallback_models<I, S>(mut self, models: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.fallback_models = models.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the output format.
    pub fn response_format(mut self, format: ResponseFormat) -> Self {
        self.response_format = Some(format);
        self
    }

    /// Sets a JSON schema (draft-07) the answer must satisfy. Turns JSON mode on.
    /// Takes a `serde_json::Value`, or a [`JsonSchema`] prepared once (its
    /// validator and instructions are then worked out once, not per call).
    ///
    /// ```
    /// use elelem_core::{ChatRequest, JsonSchema};
    /// use serde_json::json;
    /// let plain = ChatRequest::new("p:m", vec![]).json_schema(json!({"type": "object"}));
    /// let prepared = JsonSchema::new(json!({"type": "object"}));
    /// let reused = ChatRequest::new("p:m", vec![]).json_schema(prepared.clone());
    /// assert_eq!(plain.json_schema, reused.json_schema);
    /// assert!(reused.is_json_mode());
    /// ```
    pub fn json_schema(mut self, schema: impl Into<JsonSchema>) -> Self {
        self.json_schema = Some(schema.into());
        self
    }

    /// Sets the temperature.
    pub fn temperature(mut self, temperature: f64) -> Self {
        self.temperature = Some(temperature);
        self
    }

    /// Sets the output token limit.
    pub fn max_tokens(mut self, max_tokens: u32) -> Self {
        self.max_tokens = Some(max_tokens);
        self
    }

    /// Sets the tags this call's cost is counted under.
    pub fn tags<I, S>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }

    /// Sets any other OpenAI field (`seed`, `top_p`, `stop`, ...).
    pub fn extra(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extra.insert(key.into(), value.into());
        self
    }

    /// Whether the answer must be JSON: a JSON response format, a schema or a check
    /// was given.
    pub fn is_json_mode(&self) -> bool {
        self.json_schema.is_some()
            || !self.checks.is_empty()
            || self.response_format.as_ref().is_some_and(|f| f.is_json())
    }

    /// Whether the answer is asked for as YAML ([`ResponseFormat::Yaml`]).
    pub fn is_yaml_mode(&self) -> bool {
        self.response_format
            .as_ref()
            .is_some_and(ResponseFormat::is_yaml)
    }

    /// The schema to validate against: the explicit one, else the response format's.
    pub fn validation_schema(&self) -> Option<&Value> {
        self.json_schema.as_deref().or(match &self.response_format {
            Some(ResponseFormat::JsonSchema { schema, .. }) => Some(schema),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_schema_format_has_openai_shape() {
        let f = ResponseFormat::JsonSchema {
            name: "person".into(),
            schema: json!({"type": "object"}),
            strict: Some(true),
        };
        assert_eq!(
            f.to_wire(),
            json!({"type": "json_schema", "json_schema": {"name": "person", "schema": {"type": "object"}, "strict": true}})
        );
    }

    #[test]
    fn schema_from_response_format_is_used_for_validation() {
        let r = ChatRequest::new("a:b", vec![]).response_format(ResponseFormat::JsonSchema {
            name: "n".into(),
            schema: json!({"type": "array"}),
            strict: None,
        });
        assert_eq!(r.validation_schema(), Some(&json!({"type": "array"})));
        assert!(r.is_json_mode());
        assert!(!ChatRequest::new("a:b", vec![]).is_json_mode());
    }
}
