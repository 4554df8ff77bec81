//! A chat body's fields read in one pass over its bytes, each straight into
//! its type (no `serde_json::Value` of the whole body): what the gateway does
//! for every `/v1/chat/completions` request.

use std::fmt;

use elelem::{Elelem, Message};
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{non_empty, response_format, start, ChatBody, Rest};
use crate::gateway::ApiError;

/// The fields of a chat body, typed; every field the gateway does not read is
/// kept in `extra`, in the body's order. A repeated key keeps its last value,
/// as a `serde_json::Value` would.
#[derive(Debug, Default)]
pub(super) struct ChatFields {
    model: Option<String>,
    stream: Option<bool>,
    messages: Option<Vec<Message>>,
    response_format: Option<Value>,
    json_schema: Option<Value>,
    temperature: Option<f64>,
    max_completion_tokens: Option<u32>,
    max_tokens: Option<u32>,
    tags: Option<Vec<String>>,
    fallback_models: Option<Vec<String>>,
    extra: Map<String, Value>,
}

impl ChatFields {
    /// The request these fields describe; `Err` as `super::chat` words it
    /// for the same fields.
    pub(super) fn assemble(self, elelem: &Elelem) -> Result<ChatBody, ApiError> {
        let required = |field: &str| ApiError::invalid(field, format!("`{field}` is required"));
        let model = self.model.ok_or_else(|| required("model"))?;
        let messages = non_empty(self.messages.ok_or_else(|| required("messages"))?)?;
        let request = start(elelem, model, messages)?;
        let rest = Rest {
            response_format: self
                .response_format
                .filter(|v| !v.is_null())
                .map(response_format)
                .transpose()?,
            json_schema: self.json_schema.filter(|v| !v.is_null()),
            temperature: self.temperature,
            max_completion_tokens: self.max_completion_tokens,
            max_tokens: self.max_tokens,
            tags: self.tags,
            fallback_models: self.fallback_models,
            extra: self.extra,
        };
        Ok(ChatBody {
            request: rest.finish(request),
            stream: self.stream.unwrap_or(false),
        })
    }
}

/// A key of the body: one the gateway reads, or another one (kept).
enum Key {
    Model,
    Stream,
    StreamOptions,
    Messages,
    ResponseFormat,
    JsonSchema,
    Temperature,
    MaxCompletionTokens,
    MaxTokens,
    Tags,
    FallbackModels,
    Other(String),
}

impl Key {
    fn of(name: &str) -> Option<Key> {
        Some(match name {
            "model" => Key::Model,
            "stream" => Key::Stream,
            "stream_options" => Key::StreamOptions,
            "messages" => Key::Messages,
            "response_format" => Key::ResponseFormat,
            "json_schema" => Key::JsonSchema,
            "temperature" => Key::Temperature,
            "max_completion_tokens" => Key::MaxCompletionTokens,
            "max_tokens" => Key::MaxTokens,
            "tags" => Key::Tags,
            "fallback_models" => Key::FallbackModels,
            _ => return None,
        })
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Key, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<Key, E> {
                Ok(Key::of(name).unwrap_or_else(|| Key::Other(name.to_owned())))
            }
            fn visit_string<E: serde::de::Error>(self, name: String) -> Result<Key, E> {
                Ok(Key::of(&name).unwrap_or(Key::Other(name)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for ChatFields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ChatFields, D::Error> {
        deserializer.deserialize_map(FieldsVisitor)
    }
}

struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = ChatFields;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a chat completion request object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ChatFields, A::Error> {
        let mut fields = ChatFields::default();
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Model => fields.model = map.next_value()?,
                Key::Stream => fields.stream = map.next_value()?,
                // Elelem always asks providers for the usage chunk and forwards it.
                Key::StreamOptions => {
                    map.next_value::<IgnoredAny>()?;
                }
                Key::Messages => fields.messages = map.next_value()?,
                Key::ResponseFormat => fields.response_format = map.next_value()?,
                Key::JsonSchema => fields.json_schema = map.next_value()?,
                Key::Temperature => fields.temperature = map.next_value()?,
                Key::MaxCompletionTokens => fields.max_completion_tokens = map.next_value()?,
                Key::MaxTokens => fields.max_tokens = map.next_value()?,
                Key::Tags => fields.tags = map.next_value()?,
                Key::FallbackModels => fields.fallback_models = map.next_value()?,
                Key::Other(name) => {
                    let value = map.next_value()?;
                    fields.extra.insert(name, value);
                }
            }
        }
        Ok(fields)
    }
}
