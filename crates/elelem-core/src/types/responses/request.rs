//! A request for the Responses API.

use serde::Serialize;
use serde_json::{json, Map, Value};

/// What a response is asked about: plain text, or a list of input items
/// (messages `{"role", "content"}`, function call outputs, images, ...).
///
/// ```
/// use elelem_core::ResponseInput;
/// let text: ResponseInput = "Hi".into();
/// assert_eq!(serde_json::to_value(&text).unwrap(), "Hi");
/// let items = ResponseInput::from(vec![ResponseInput::message("user", "Hi")]);
/// assert_eq!(serde_json::to_value(&items).unwrap()[0]["role"], "user");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ResponseInput {
    /// One user message's text.
    Text(String),
    /// Input items, sent as given.
    Items(Vec<Value>),
}

impl ResponseInput {
    /// One message item: `{"role": role, "content": text}`.
    pub fn message(role: &str, text: impl Into<String>) -> Value {
        json!({"role": role, "content": text.into()})
    }

    /// The input as items (text becomes one user message).
    pub(crate) fn to_items(&self) -> Vec<Value> {
        match self {
            ResponseInput::Text(text) => vec![ResponseInput::message("user", text.clone())],
            ResponseInput::Items(items) => items.clone(),
        }
    }

    /// The input's text, for the prompt estimate (items as their JSON).
    pub(crate) fn estimate_text(&self) -> String {
        match self {
            ResponseInput::Text(text) => text.clone(),
            ResponseInput::Items(items) => items
                .iter()
                .map(|item| match item.get("content") {
                    Some(Value::String(text)) => text.clone(),
                    _ => item.to_string(),
                })
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }
}

impl From<&str> for ResponseInput {
    fn from(text: &str) -> Self {
        ResponseInput::Text(text.to_owned())
    }
}

impl From<String> for ResponseInput {
    fn from(text: String) -> Self {
        ResponseInput::Text(text)
    }
}

impl From<Vec<Value>> for ResponseInput {
    fn from(items: Vec<Value>) -> Self {
        ResponseInput::Items(items)
    }
}

/// The answer's format (`text.format`): flat, not nested as in chat's
/// `response_format`.
///
/// ```
/// use elelem_core::TextFormat;
/// let format = TextFormat::JsonSchema { name: "person".into(), schema: serde_json::json!({"type": "object"}), strict: true };
/// assert_eq!(format.to_wire()["name"], "person");
/// assert_eq!(format.to_wire()["type"], "json_schema");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum TextFormat {
    /// Free text (the default).
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON satisfying `schema`, validated locally too.
    JsonSchema {
        /// The schema's name.
        name: String,
        /// The JSON schema.
        schema: Value,
        /// Whether the provider enforces the schema strictly.
        strict: bool,
    },
}

impl TextFormat {
    /// The `text.format` object the API takes.
    pub fn to_wire(&self) -> Value {
        match self {
            TextFormat::Text => json!({"type": "text"}),
            TextFormat::JsonObject => json!({"type": "json_object"}),
            TextFormat::JsonSchema {
                name,
                schema,
                strict,
            } => json!({"type": "json_schema", "name": name, "schema": schema, "strict": strict}),
        }
    }

    /// Whether the answer must be JSON.
    pub fn is_json(&self) -> bool {
        !matches!(self, TextFormat::Text)
    }
}

/// A request for `POST /v1/responses`.
///
/// ```
/// use elelem_core::ResponseRequest;
/// use serde_json::json;
/// let request = ResponseRequest::new("openai:gpt-4.1-mini", "Name a colour")
///     .instructions("Answer in one word.")
///     .previous_response_id("resp_1")
///     .store(true)
///     .function_tool("lookup", "Looks a colour up", json!({"type": "object"}))
///     .tool(json!({"type": "web_search"}))
///     .reasoning_effort("low")
///     .max_output_tokens(50)
///     .json_schema("colour", json!({"type": "object"}))
///     .tags(["colours"]);
/// assert_eq!(request.tools.len(), 2);
/// assert_eq!(request.tools[0]["name"], "lookup");
/// assert!(request.is_json_mode());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseRequest {
    /// The `provider:model` string.
    pub model: String,
    /// The input.
    pub input: ResponseInput,
    /// System-level instructions.
    pub instructions: Option<String>,
    /// The stored response this one continues (conversation state kept by the server).
    pub previous_response_id: Option<String>,
    /// Whether the provider stores the response (to be continued later).
    pub store: Option<bool>,
    /// Tools, in the Responses shape: function tools and built-in ones
    /// (`web_search`, `file_search`, ...), sent as given.
    pub tools: Vec<Value>,
    /// Reasoning effort (`minimal`, `low`, `medium`, `high`), sent as
    /// `reasoning: {"effort": ...}`.
    pub reasoning_effort: Option<String>,
    /// Output token limit.
    pub max_output_tokens: Option<u32>,
    /// Sampling temperature (dropped for models that take none).
    pub temperature: Option<f64>,
    /// The answer's format.
    pub text_format: Option<TextFormat>,
    /// Tags the cost is counted under.
    pub tags: Vec<String>,
    /// Any other field of the endpoint, sent as given.
    pub extra: Map<String, Value>,
}

impl ResponseRequest {
    /// A request with a model string and an input.
    pub fn new(model: impl Into<String>, input: impl Into<ResponseInput>) -> Self {
        ResponseRequest {
            model: model.into(),
            input: input.into(),
            instructions: None,
            previous_response_id: None,
            store: None,
            tools: Vec::new(),
            reasoning_effort: None,
            max_output_tokens: None,
            temperature: None,
            text_format: None,
            tags: Vec::new(),
            extra: Map::new(),
        }
    }

    /// Sets the instructions.
    pub fn instructions(mut self, instructions: impl Into<String>) -> Self {
        self.instructions = Some(instructions.into());
        self
    }

    /// Continues the stored response `id`.
    pub fn previous_response_id(mut self, id: impl Into<String>) -> Self {
        self.previous_response_id = Some(id.into());
        self
    }

    /// Sets whether the provider stores the response.
    pub fn store(mut self, store: bool) -> Self {
        self.store = Some(store);
        self
    }

    /// Adds a tool, sent as given (a built-in one such as `{"type": "web_search"}`).
    pub fn tool(mut self, tool: Value) -> Self {
        self.tools.push(tool);
        self
    }

    /// Adds a function tool: `{"type": "function", "name", "description", "parameters"}`.
    pub fn function_tool(self, name: &str, description: &str, parameters: Value) -> Self {
        self.tool(json!({
            "type": "function",
            "name": name,
            "description": description,
            "parameters": parameters,
        }))
    }

    /// Sets the reasoning effort.
    pub fn reasoning_effort(mut self, effort: impl Into<String>) -> Self {
        self.reasoning_effort = Some(effort.into());
        self
    }

    /// Sets the output token limit.
    pub fn max_output_tokens(mut self, tokens: u32) -> Self {
        self.max_output_tokens = Some(tokens);
        self
    }

    /// Sets the temperature.
    pub fn temperature(mut self, temperature: f64) -> Self {
        self.temperature = Some(temperature);
        self
    }

    /// Sets the answer's format.
    pub fn text_format(mut self, format: TextFormat) -> Self {
        self.text_format = Some(format);
        self
    }

    /// Asks for JSON satisfying `schema` (sent strict, validated locally).
    pub fn json_schema(self, name: impl Into<String>, schema: Value) -> Self {
        self.text_format(TextFormat::JsonSchema {
            name: name.into(),
            schema,
            strict: true,
        })
    }

    /// Sets the tags the cost is counted under.
    pub fn tags<I, S>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }

    /// Sets any other field.
    pub fn extra(mut self, key: impl Into<String>, value: Value) -> Self {
        self.extra.insert(key.into(), value);
        self
    }

    /// Whether the answer must be JSON.
    pub fn is_json_mode(&self) -> bool {
        self.text_format.as_ref().is_some_and(TextFormat::is_json)
    }

    /// The schema the answer is validated against, if any.
    pub fn schema(&self) -> Option<&Value> {
        match &self.text_format {
            Some(TextFormat::JsonSchema { schema, .. }) => Some(schema),
            _ => None,
        }
    }
}
