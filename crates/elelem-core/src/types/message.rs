//! Chat messages as OpenAI's API takes them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Who wrote a message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions for the model.
    System,
    /// OpenAI's newer name for system instructions on reasoning models.
    Developer,
    /// The user.
    User,
    /// The model.
    Assistant,
    /// A tool's result.
    Tool,
}

/// A message's content: plain text, or a list of content parts (text, images) in
/// OpenAI's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Content {
    /// Plain text.
    Text(String),
    /// OpenAI content parts, kept as JSON.
    Parts(Vec<Value>),
}

impl Content {
    /// The text of the content: the string itself, or the `text` parts joined.
    pub fn text(&self) -> String {
        match self {
            Content::Text(text) => text.clone(),
            Content::Parts(parts) => parts
                .iter()
                .filter_map(|part| part.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }
}

/// One message of a conversation.
///
/// ```
/// use elelem_core::{Message, Role};
/// let m = Message::user("Hello");
/// assert_eq!(m.role, Role::User);
/// assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"role":"user","content":"Hello"}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Who wrote it.
    pub role: Role,
    /// What it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Content>,
    /// Any other field OpenAI accepts on a message (`name`, `tool_calls`,
    /// `tool_call_id`, ...), kept as given.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Message {
    /// A message with a role and text.
    pub fn new(role: Role, text: impl Into<String>) -> Self {
        Message {
            role,
            content: Some(Content::Text(text.into())),
            extra: Map::new(),
        }
    }

    /// A system message.
    ///
    /// ```
    /// let m = elelem_core::Message::system("Answer in JSON.");
    /// assert_eq!(m.text(), "Answer in JSON.");
    /// ```
    pub fn system(text: impl Into<String>) -> Self {
        Message::new(Role::System, text)
    }

    /// A user message.
    ///
    /// ```
    /// let m = elelem_core::Message::user("Hi");
    /// assert_eq!(m.role, elelem_core::Role::User);
    /// ```
    pub fn user(text: impl Into<String>) -> Self {
        Message::new(Role::User, text)
    }

    /// An assistant message.
    ///
    /// ```
    /// let m = elelem_core::Message::assistant("{}");
    /// assert_eq!(m.role, elelem_core::Role::Assistant);
    /// ```
    pub fn assistant(text: impl Into<String>) -> Self {
        Message::new(Role::Assistant, text)
    }

    /// The message's text (empty when it has none).
    ///
    /// ```
    /// assert_eq!(elelem_core::Message::user("a").text(), "a");
    /// ```
    pub fn text(&self) -> String {
        self.content.as_ref().map(Content::text).unwrap_or_default()
    }
}
