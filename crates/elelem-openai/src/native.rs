//! Pieces shared by the providers with a wire format of their own (Anthropic,
//! Gemini, Ollama), which map their answers and stream events to OpenAI's shapes
//! and OpenAI's tool calls to theirs.

use std::time::{SystemTime, UNIX_EPOCH};

use elelem_core::provider::{ProviderError, ProviderResponse};
use elelem_core::{ChatCompletion, ChatCompletionChunk};
use serde_json::{json, Map, Value};

use crate::{HttpClient, HttpReply};

/// The current Unix time in seconds (0 if the clock is before 1970), for the
/// `created` field of answers that carry no time of their own.
///
/// ```
/// assert!(elelem_openai::native::unix_now() > 1_700_000_000);
/// ```
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The arguments of an OpenAI tool call's `function` as a JSON value: OpenAI sends
/// them as a JSON string; a string that is not JSON, or no arguments, become `{}`,
/// and arguments already given as a value are kept.
///
/// ```
/// use serde_json::json;
/// use elelem_openai::native::tool_call_arguments;
/// assert_eq!(tool_call_arguments(&json!({"arguments": "{\"city\":\"Paris\"}"})), json!({"city": "Paris"}));
/// assert_eq!(tool_call_arguments(&json!({"arguments": {"city": "Paris"}})), json!({"city": "Paris"}));
/// assert_eq!(tool_call_arguments(&json!({"arguments": "not json"})), json!({}));
/// assert_eq!(tool_call_arguments(&json!({})), json!({}));
/// ```
pub fn tool_call_arguments(function: &Value) -> Value {
    match function.get("arguments") {
        Some(Value::String(text)) => serde_json::from_str(text).unwrap_or_else(|_| json!({})),
        Some(other) => other.clone(),
        None => json!({}),
    }
}

/// The text of an OpenAI message content: a string, or its text parts joined
/// with `\n` (other parts, images, are left out).
///
/// ```
/// use serde_json::json;
/// use elelem_openai::native::content_text;
/// assert_eq!(content_text(Some(&json!("hi"))), "hi");
/// assert_eq!(content_text(Some(&json!([{"type": "text", "text": "a"}, {"type": "image_url"}, {"type": "text", "text": "b"}]))), "a\nb");
/// assert_eq!(content_text(None), "");
/// ```
pub fn content_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// OpenAI usage from the counts of a provider that reports uncached input, cache
/// writes and cache reads apart (Anthropic, Bedrock): the prompt is their sum,
/// reads are `cached_tokens` and writes `cache_write_tokens`; sums saturate
/// rather than overflow. `None` when no count is given.
///
/// ```
/// use serde_json::json;
/// let usage = elelem_openai::native::cache_split_usage(Some(10), Some(20), Some(30), Some(5));
/// assert_eq!(usage, Some(json!({"prompt_tokens": 60, "completion_tokens": 5, "total_tokens": 65,
///     "prompt_tokens_details": {"cached_tokens": 30, "cache_write_tokens": 20}})));
/// ```
pub fn cache_split_usage(
    input: Option<u64>,
    written: Option<u64>,
    read: Option<u64>,
    output: Option<u64>,
) -> Option<Value> {
    let mut out = Map::new();
    let prompt = input.map(|i| {
        i.saturating_add(written.unwrap_or(0))
            .saturating_add(read.unwrap_or(0))
    });
    if let Some(prompt) = prompt {
        out.insert("prompt_tokens".into(), json!(prompt));
    }
    if let Some(output) = output {
        out.insert("completion_tokens".into(), json!(output));
    }
    if let (Some(prompt), Some(output)) = (prompt, output) {
        out.insert("total_tokens".into(), json!(prompt.saturating_add(output)));
    }
    let mut details = Map::new();
    if let Some(read) = read {
        details.insert("cached_tokens".into(), json!(read));
    }
    if let Some(written) = written {
        details.insert("cache_write_tokens".into(), json!(written));
    }
    if !details.is_empty() {
        out.insert("prompt_tokens_details".into(), Value::Object(details));
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

/// An OpenAI `chat.completion` object with one choice; the caller may add
/// vendor fields before turning it into a `Value`.
///
/// ```
/// use serde_json::{json, Value};
/// let c = elelem_openai::native::chat_completion(
///     json!("msg_1"), 1_700_000_000, json!("claude"),
///     json!({"role": "assistant", "content": "hi"}), json!("stop"),
///     Some(json!({"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4})),
/// );
/// let completion: elelem_core::ChatCompletion = serde_json::from_value(Value::Object(c)).unwrap();
/// assert_eq!(completion.content(), Some("hi"));
/// assert_eq!(completion.usage.unwrap().total_tokens, Some(4));
/// ```
pub fn chat_completion(
    id: Value,
    created: u64,
    model: Value,
    message: Value,
    finish_reason: Value,
    usage: Option<Value>,
) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("id".into(), id);
    out.insert("object".into(), json!("chat.completion"));
    out.insert("created".into(), json!(created));
    out.insert("model".into(), model);
    out.insert(
        "choices".into(),
        json!([{"index": 0, "message": message, "finish_reason": finish_reason}]),
    );
    if let Some(usage) = usage {
        out.insert("usage".into(), usage);
    }
    out
}

/// An OpenAI `chat.completion.chunk` of a stream whose provider speaks its own
/// format; a chunk that does not parse is the provider's invalid piece.
///
/// ```
/// # fn demo(http: &elelem_openai::HttpClient) -> Result<(), elelem_core::provider::ProviderError> {
/// use serde_json::json;
/// let chunk = elelem_openai::native::chat_completion_chunk(
///     http, "msg_1", 1_700_000_000, "claude",
///     json!([{"index": 0, "delta": {"content": "Hel"}, "finish_reason": null}]), None,
/// )?;
/// assert_eq!(chunk.choices[0].delta.content.as_deref(), Some("Hel"));
/// # Ok(()) }
/// ```
pub fn chat_completion_chunk(
    http: &HttpClient,
    id: &str,
    created: u64,
    model: &str,
    choices: Value,
    usage: Option<Value>,
) -> Result<ChatCompletionChunk, ProviderError> {
    let mut chunk = json!({
        "id": id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": choices
    });
    if let Some(usage) = usage {
        chunk["usage"] = usage;
    }
    serde_json::from_value(chunk).map_err(|e| http.invalid_piece(e.to_string(), ""))
}

/// The streamed form of complete OpenAI tool calls: each gets the next stream-wide
/// `index` (counted in `next_index`), its id, and its whole function.
///
/// ```
/// use serde_json::json;
/// let mut next = 2;
/// let deltas = elelem_openai::native::tool_call_deltas(
///     &[json!({"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}})],
///     &mut next,
/// );
/// assert_eq!(deltas, vec![json!({"index": 2, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}})]);
/// assert_eq!(next, 3);
/// ```
pub fn tool_call_deltas(calls: &[Value], next_index: &mut u64) -> Vec<Value> {
    calls
        .iter()
        .map(|call| {
            let index = *next_index;
            *next_index += 1;
            json!({
                "index": index,
                "id": call.get("id").cloned().unwrap_or(Value::Null),
                "type": "function",
                "function": call.get("function").cloned().unwrap_or(Value::Null)
            })
        })
        .collect()
}

/// The provider response for `completion`, an OpenAI `chat.completion` mapped
/// from `reply`: a mapping that does not parse is an invalid body (quoting the
/// reply), and the reply's kept headers go with the response.
///
/// ```
/// # fn demo(http: &elelem_openai::HttpClient, reply: elelem_openai::HttpReply) -> Result<(), elelem_core::provider::ProviderError> {
/// use serde_json::json;
/// let completion = json!({"id": "x", "model": "m", "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}]});
/// let response = elelem_openai::native::provider_response(http, reply, completion)?;
/// assert_eq!(response.completion.content(), Some("hi"));
/// # Ok(()) }
/// ```
pub fn provider_response(
    http: &HttpClient,
    reply: HttpReply,
    completion: Value,
) -> Result<ProviderResponse, ProviderError> {
    let completion: ChatCompletion = serde_json::from_value(completion)
        .map_err(|e| http.invalid_piece(e.to_string(), &String::from_utf8_lossy(&reply.body)))?;
    let mut response = ProviderResponse::new(completion);
    response.headers = reply.headers;
    Ok(response)
}
