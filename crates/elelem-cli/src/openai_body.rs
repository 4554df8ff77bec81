//! OpenAI request bodies (plus Elelem's extensions `tags`, `json_schema`,
//! `fallback_models`, and `virtual:` / `preset:` models) read into Elelem
//! requests; used by the gateway and by `elelem batch`.

use elelem::{ChatRequest, CompletionRequest, Elelem, Message, ResponseFormat};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::gateway::ApiError;

mod fields;

use fields::ChatFields;

/// A chat request read from a body, and whether it asks for a stream.
#[derive(Debug, Clone)]
pub struct ChatBody {
    /// The request.
    pub request: ChatRequest,
    /// `"stream": true`.
    pub stream: bool,
}

/// Reads a `/v1/chat/completions` body. `preset:NAME` models start from the
/// preset (its system message first, then the body's messages).
///
/// ```
/// let elelem = elelem::Elelem::builder().without_env_keys().build().unwrap();
/// let body = serde_json::json!({
///     "model": "groq:openai/gpt-oss-20b",
///     "messages": [{"role": "user", "content": "Hi"}],
///     "tags": ["docs"], "seed": 7, "stream": true,
/// });
/// let chat = elelem_cli::openai_body::chat(&elelem, body).unwrap();
/// assert!(chat.stream);
/// assert_eq!(chat.request.tags, ["docs"]);
/// assert_eq!(chat.request.extra["seed"], 7);
/// ```
pub fn chat(elelem: &Elelem, body: Value) -> Result<ChatBody, ApiError> {
    let mut map = object(body)?;
    let model: String = required(&mut map, "model")?;
    let stream = optional::<bool>(&mut map, "stream")?.unwrap_or(false);
    // Elelem always asks providers for the usage chunk and forwards it.
    map.remove("stream_options");
    let messages = non_empty(required(&mut map, "messages")?)?;
    let request = start(elelem, model, messages)?;
    let response_format = map
        .remove("response_format")
        .filter(|v| !v.is_null())
        .map(response_format)
        .transpose()?;
    let rest = Rest {
        response_format,
        json_schema: map.remove("json_schema").filter(|v| !v.is_null()),
        temperature: optional::<f64>(&mut map, "temperature")?,
        max_completion_tokens: optional::<u32>(&mut map, "max_completion_tokens")?,
        max_tokens: optional::<u32>(&mut map, "max_tokens")?,
        tags: optional::<Vec<String>>(&mut map, "tags")?,
        fallback_models: optional::<Vec<String>>(&mut map, "fallback_models")?,
        extra: map,
    };
    Ok(ChatBody {
        request: rest.finish(request),
        stream,
    })
}

/// Reads a `/v1/chat/completions` body from its bytes, as [`chat`] reads it
/// from a `serde_json::Value`, but in one pass straight into the request (no
/// `Value` of the whole body). A body it cannot read (not JSON, a wrong field,
/// an unknown preset ...) is read again by [`chat`], so every error is [`chat`]'s,
/// word for word.
///
/// ```
/// let elelem = elelem::Elelem::builder().without_env_keys().build().unwrap();
/// let body = br#"{"model": "groq:openai/gpt-oss-20b", "stream": true, "seed": 7,
///     "messages": [{"role": "user", "content": "Hi"}], "tags": ["docs"]}"#;
/// let chat = elelem_cli::openai_body::chat_bytes(&elelem, body).unwrap();
/// assert!(chat.stream);
/// assert_eq!(chat.request.tags, ["docs"]);
/// assert_eq!(chat.request.extra["seed"], 7);
/// let error = elelem_cli::openai_body::chat_bytes(&elelem, b"{\"messages\": 1}").unwrap_err();
/// assert_eq!(error.param.as_deref(), Some("model"));
/// ```
pub fn chat_bytes(elelem: &Elelem, bytes: &[u8]) -> Result<ChatBody, ApiError> {
    if let Ok(fields) = serde_json::from_slice::<ChatFields>(bytes) {
        if let Ok(body) = fields.assemble(elelem) {
            return Ok(body);
        }
    }
    chat(elelem, json(bytes)?)
}

/// A request body as JSON; 400 when it is not JSON.
///
/// ```
/// assert_eq!(elelem_cli::openai_body::json(b"{\"a\": 1}").unwrap()["a"], 1);
/// assert_eq!(elelem_cli::openai_body::json(b"{").unwrap_err().status.as_u16(), 400);
/// ```
pub fn json(bytes: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::invalid("", format!("the request body is not valid JSON: {e}")))
}

/// `messages`, refused when empty.
fn non_empty(messages: Vec<Message>) -> Result<Vec<Message>, ApiError> {
    if messages.is_empty() {
        return Err(ApiError::invalid(
            "messages",
            "`messages` is empty; send at least one message",
        ));
    }
    Ok(messages)
}

/// The request for `model`: a `preset:NAME` model starts from the preset (its
/// system message first, then `messages`).
fn start(elelem: &Elelem, model: String, messages: Vec<Message>) -> Result<ChatRequest, ApiError> {
    Ok(match model.strip_prefix("preset:") {
        Some(name) => elelem
            .preset(name)
            .map_err(|e| ApiError::from_elelem(&e))?
            .messages(messages),
        None => ChatRequest::new(model, messages),
    })
}

/// The fields of a chat body after `model`, `stream` and `messages`, read.
struct Rest {
    response_format: Option<ResponseFormat>,
    json_schema: Option<Value>,
    temperature: Option<f64>,
    max_completion_tokens: Option<u32>,
    max_tokens: Option<u32>,
    tags: Option<Vec<String>>,
    fallback_models: Option<Vec<String>>,
    /// Every other field, sent upstream as given.
    extra: Map<String, Value>,
}

impl Rest {
    /// `request` with these fields set.
    fn finish(self, mut request: ChatRequest) -> ChatRequest {
        if let Some(format) = self.response_format {
            request.response_format = Some(format);
        }
        if let Some(schema) = self.json_schema {
            request = request.json_schema(schema);
        }
        if let Some(t) = self.temperature {
            request.temperature = Some(t);
        }
        if let Some(n) = self.max_tokens.or(self.max_completion_tokens) {
            request.max_tokens = Some(n);
        }
        if let Some(tags) = self.tags {
            request.tags.extend(tags);
        }
        if let Some(models) = self.fallback_models {
            request.fallback_models = models;
        }
        request.extra.extend(self.extra);
        request
    }
}

/// Reads a `/v1/completions` body (`prompt` a string or a one-string array).
///
/// ```
/// let body = serde_json::json!({"model": "openai:gpt-3.5-turbo-instruct", "prompt": ["Once"], "max_tokens": 5});
/// let request = elelem_cli::openai_body::completion(body).unwrap();
/// assert_eq!((request.prompt.as_str(), request.max_tokens), ("Once", Some(5)));
/// ```
pub fn completion(body: Value) -> Result<CompletionRequest, ApiError> {
    let mut map = object(body)?;
    let model: String = required(&mut map, "model")?;
    if optional::<bool>(&mut map, "stream")?.unwrap_or(false) {
        return Err(ApiError::invalid(
            "stream",
            "streaming legacy completions is not supported; use /v1/chat/completions with \"stream\": true",
        ));
    }
    let prompt = match map.remove("prompt") {
        Some(Value::String(text)) => text,
        Some(Value::Array(items)) if items.len() == 1 && items[0].is_string() => {
            items[0].as_str().unwrap_or_default().to_owned()
        }
        _ => {
            return Err(ApiError::invalid(
                "prompt",
                "`prompt` must be a string (or an array of one string)",
            ))
        }
    };
    let mut request = CompletionRequest::new(model, prompt);
    request.max_tokens = optional(&mut map, "max_tokens")?;
    request.temperature = optional(&mut map, "temperature")?;
    request.tags = optional(&mut map, "tags")?.unwrap_or_default();
    request.extra = map;
    Ok(request)
}

fn object(body: Value) -> Result<Map<String, Value>, ApiError> {
    match body {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::invalid(
            "",
            "the request body must be a JSON object",
        )),
    }
}

fn required<T: DeserializeOwned>(map: &mut Map<String, Value>, field: &str) -> Result<T, ApiError> {
    optional(map, field)?.ok_or_else(|| ApiError::invalid(field, format!("`{field}` is required")))
}

fn optional<T: DeserializeOwned>(
    map: &mut Map<String, Value>,
    field: &str,
) -> Result<Option<T>, ApiError> {
    match map.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => serde_json::from_value(value)
            .map(Some)
            .map_err(|e| ApiError::invalid(field, format!("`{field}` is not valid: {e}"))),
    }
}

fn response_format(value: Value) -> Result<ResponseFormat, ApiError> {
    let bad = |why: &str| ApiError::invalid("response_format", why.to_owned());
    match value.get("type").and_then(Value::as_str) {
        Some("text") => Ok(ResponseFormat::Text),
        Some("json_object") => Ok(ResponseFormat::JsonObject),
        Some("json_schema") => {
            let inner = value
                .get("json_schema")
                .ok_or_else(|| bad("a json_schema response_format needs a `json_schema` object"))?;
            let schema = inner
                .get("schema")
                .cloned()
                .ok_or_else(|| bad("`response_format.json_schema.schema` is required"))?;
            Ok(ResponseFormat::JsonSchema {
                name: inner
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("response")
                    .to_owned(),
                schema,
                strict: inner.get("strict").and_then(Value::as_bool),
            })
        }
        _ => Err(bad(
            "`response_format.type` must be \"text\", \"json_object\" or \"json_schema\"",
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn client() -> Elelem {
        Elelem::builder().without_env_keys().build().unwrap()
    }

    #[test]
    fn elelem_extensions_and_formats_are_read() {
        let body = json!({
            "model": "virtual:x",
            "messages": [{"role": "user", "content": "Hi"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "p", "schema": {"type": "object"}, "strict": true}},
            "json_schema": {"type": "object", "required": ["a"]},
            "fallback_models": ["openai:gpt-4.1-mini"],
            "max_completion_tokens": 9,
            "stream_options": {"include_usage": true},
        });
        let chat = chat(&client(), body).unwrap();
        let r = chat.request;
        assert_eq!(r.model, "virtual:x");
        assert_eq!(r.max_tokens, Some(9));
        assert_eq!(r.fallback_models, ["openai:gpt-4.1-mini"]);
        assert!(matches!(
            r.response_format,
            Some(ResponseFormat::JsonSchema {
                strict: Some(true),
                ..
            })
        ));
        assert_eq!(r.json_schema.unwrap()["required"][0], "a");
        assert!(r.extra.is_empty(), "{:?}", r.extra);
    }

    #[test]
    fn bad_bodies_name_the_field() {
        let missing = chat(&client(), json!({"messages": []})).unwrap_err();
        assert_eq!(missing.param.as_deref(), Some("model"));
        let wrong = chat(&client(), json!({"model": "a:b", "messages": "hi"})).unwrap_err();
        assert_eq!(wrong.param.as_deref(), Some("messages"));
        let format = chat(
            &client(),
            json!({"model": "a:b", "messages": [{"role": "user", "content": "x"}], "response_format": {"type": "xml"}}),
        )
        .unwrap_err();
        assert_eq!(format.param.as_deref(), Some("response_format"));
        assert!(chat(&client(), json!([1])).is_err());
    }

    /// `chat_bytes` reads every body as `chat` does: the same request, or the
    /// same error (status, message and field).
    #[test]
    fn bytes_are_read_as_the_value_is() {
        let mut preset = elelem::Preset::new("openai:gpt-4.1-mini");
        preset.system = Some("Be brief.".into());
        preset.tags = vec!["p".into()];
        let elelem = Elelem::builder()
            .without_env_keys()
            .preset("brief", preset)
            .build()
            .unwrap();
        let user = r#"[{"role": "user", "content": "Hi"}]"#;
        let bodies = [
            format!(r#"{{"model": "a:b", "messages": {user}}}"#),
            format!(
                r#"{{"seed": 7, "model": "virtual:x", "stream": true, "stream_options": {{"include_usage": true}},
                "messages": {user}, "response_format": {{"type": "json_schema", "json_schema": {{"name": "p", "schema": {{"type": "object"}}, "strict": true}}}},
                "json_schema": {{"type": "object", "required": ["a"]}}, "temperature": 1, "max_completion_tokens": 9,
                "tags": ["t"], "fallback_models": ["openai:gpt-4.1"], "top_p": 0.5, "user": "u\u00e9"}}"#
            ),
            format!(
                r#"{{"model": "preset:brief", "messages": {user}, "tags": ["t"], "max_tokens": 3, "max_completion_tokens": 9}}"#
            ),
            format!(
                r#"{{"model": "a:b", "messages": {user}, "response_format": null, "json_schema": null, "stream": null}}"#
            ),
            // A repeated key keeps its last value.
            format!(r#"{{"model": 1, "model": "a:b", "seed": 1, "messages": {user}, "seed": 2}}"#),
            format!(r#"{{"model": "a:b", "model": null, "messages": {user}}}"#),
            // Errors, several at once: the first in `chat`'s order wins.
            r#"{"messages": "hi"}"#.to_owned(),
            r#"{"model": "a:b", "messages": []}"#.to_owned(),
            r#"{"model": "a:b"}"#.to_owned(),
            format!(r#"{{"model": "preset:nope", "messages": {user}, "temperature": "hot"}}"#),
            format!(
                r#"{{"model": "a:b", "messages": {user}, "response_format": {{"type": "xml"}}, "max_tokens": -1}}"#
            ),
            format!(r#"{{"model": "a:b", "messages": {user}, "max_tokens": 2.5}}"#),
            format!(r#"{{"model": "a:b", "messages": {user}, "tags": "t"}}"#),
            format!(r#"{{"model": "a:b", "messages": {user}}} x"#),
            "[1]".to_owned(),
            "{".to_owned(),
            String::new(),
        ];
        // The valid bodies are read in one pass (not by falling back to `chat`),
        // but for a repeated key whose first value has the wrong type.
        for (body, one_pass) in bodies.iter().zip([true, true, true, true, false]) {
            let fast = serde_json::from_slice::<ChatFields>(body.as_bytes())
                .is_ok_and(|fields| fields.assemble(&elelem).is_ok());
            assert_eq!(fast, one_pass, "{body}");
        }
        for body in &bodies {
            let bytes = chat_bytes(&elelem, body.as_bytes());
            let value = json(body.as_bytes()).and_then(|v| chat(&elelem, v));
            match (bytes, value) {
                (Ok(b), Ok(v)) => {
                    assert_eq!((b.request, b.stream), (v.request, v.stream), "{body}");
                }
                (Err(b), Err(v)) => {
                    assert_eq!(
                        (b.status, &b.message, &b.param),
                        (v.status, &v.message, &v.param),
                        "{body}"
                    );
                }
                (b, v) => panic!("{body}: {b:?} against {v:?}"),
            }
        }
    }

    #[test]
    fn fields_the_gateway_does_not_read_keep_the_bodys_order() {
        let body = br#"{"z": 1, "model": "a:b", "a": 2, "messages": [{"role": "user", "content": "Hi"}], "m": 3}"#;
        let request = chat_bytes(&client(), body).unwrap().request;
        let keys: Vec<&str> = request.extra.keys().map(String::as_str).collect();
        assert_eq!(keys, ["z", "a", "m"]);
    }

    #[test]
    fn presets_start_the_request() {
        let mut preset = elelem::Preset::new("openai:gpt-4.1-mini");
        preset.system = Some("Be brief.".into());
        preset.tags = vec!["p".into()];
        let elelem = Elelem::builder()
            .without_env_keys()
            .preset("brief", preset)
            .build()
            .unwrap();
        let body = json!({"model": "preset:brief", "messages": [{"role": "user", "content": "Hi"}], "tags": ["t"]});
        let r = chat(&elelem, body).unwrap().request;
        assert_eq!(r.model, "openai:gpt-4.1-mini");
        assert_eq!(r.messages.len(), 2);
        assert_eq!(r.tags, ["p", "t"]);
        let unknown =
            json!({"model": "preset:nope", "messages": [{"role": "user", "content": "Hi"}]});
        assert_eq!(chat(&elelem, unknown).unwrap_err().status.as_u16(), 404);
    }
}
