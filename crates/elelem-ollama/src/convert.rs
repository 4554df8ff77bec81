//! OpenAI chat completion request -> Ollama `/api/chat` request, and Ollama's
//! answer -> OpenAI `chat.completion`.

use std::sync::atomic::{AtomicU64, Ordering};

use elelem_core::provider::WireRequest;
use elelem_core::{Content, Message, Role};
use elelem_openai::native::{chat_completion, tool_call_arguments};
use serde_json::{json, Map, Value};

/// Request fields that become Ollama `options`, with their Ollama names and
/// typed values, in order (`max_completion_tokens` wins over `max_tokens`).
fn option_fields(request: &WireRequest) -> [(&'static str, &'static str, Option<Value>); 10] {
    let number = |n: Option<f64>| n.map(|n| json!(n));
    let count = |n: Option<u64>| n.map(|n| json!(n));
    [
        ("temperature", "temperature", number(request.temperature)),
        ("max_tokens", "num_predict", count(request.max_tokens)),
        (
            "max_completion_tokens",
            "num_predict",
            count(request.max_completion_tokens),
        ),
        ("top_p", "top_p", number(request.top_p)),
        ("top_k", "top_k", count(request.top_k)),
        ("seed", "seed", request.seed.map(|n| json!(n))),
        (
            "frequency_penalty",
            "frequency_penalty",
            number(request.frequency_penalty),
        ),
        (
            "presence_penalty",
            "presence_penalty",
            number(request.presence_penalty),
        ),
        ("repeat_penalty", "repeat_penalty", None),
        ("min_p", "min_p", None),
    ]
}

/// Ollama request fields of `extra` passed through as given (`tools` is typed).
const PASSED_EXTRA: &[&str] = &["keep_alive", "think"];

/// A field the typed request keeps in `extra` (one of Ollama's own, or a typed
/// one whose value was not of its type).
fn untyped(request: &WireRequest, field: &str) -> Option<Value> {
    request.extra.get(field).cloned()
}

/// Ollama's `format` for a `response_format` (none for other types).
fn format_of(format: &Value) -> Option<Value> {
    match format.get("type").and_then(Value::as_str) {
        Some("json_object") => Some(json!("json")),
        Some("json_schema") => format
            .get("json_schema")
            .and_then(|s| s.get("schema"))
            .cloned(),
        _ => None,
    }
}

/// The Ollama `/api/chat` body for an OpenAI chat request.
pub(crate) fn chat_request(request: &WireRequest) -> Value {
    let mut out = Map::new();
    out.insert(
        "model".into(),
        if request.model.is_empty() {
            Value::Null
        } else {
            json!(request.model)
        },
    );
    out.insert("messages".into(), Value::Array(messages(&request.messages)));
    out.insert("stream".into(), Value::Bool(false));

    let format = match &request.response_format {
        Some(format) => format_of(format),
        // A caller may also pass Ollama's own `format` through `extra`.
        None => untyped(request, "format"),
    };
    if let Some(format) = format {
        out.insert("format".into(), format);
    }

    let mut options = request
        .extra
        .get("options")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (openai, ollama, typed) in option_fields(request) {
        if let Some(value) = typed.or_else(|| untyped(request, openai)) {
            options.insert(ollama.to_owned(), value);
        }
    }
    match &request.stop {
        Some(Value::String(stop)) => {
            options.insert("stop".into(), json!([stop]));
        }
        Some(stop @ Value::Array(_)) => {
            options.insert("stop".into(), stop.clone());
        }
        _ => {}
    }
    if !options.is_empty() {
        out.insert("options".into(), Value::Object(options));
    }
    let tools = request.tools.as_ref().map(|tools| json!(tools));
    if let Some(tools) = tools.or_else(|| untyped(request, "tools")) {
        out.insert("tools".into(), tools);
    }
    for field in PASSED_EXTRA {
        if let Some(value) = untyped(request, field) {
            out.insert((*field).to_owned(), value);
        }
    }
    think_from_thinking(request, &mut out);
    Value::Object(out)
}

/// The portable `thinking: {"type": "enabled", ...}` as Ollama's `think: true`
/// (Ollama takes no budget), unless `think` was given.
fn think_from_thinking(request: &WireRequest, out: &mut Map<String, Value>) {
    let enabled = request
        .extra
        .get("thinking")
        .and_then(|t| t.get("type"))
        .and_then(Value::as_str)
        == Some("enabled");
    if enabled && !out.contains_key("think") {
        out.insert("think".into(), Value::Bool(true));
    }
}

/// Ollama's name for a role (`developer` is its `system`).
fn role_name(role: &Role) -> &'static str {
    match role {
        Role::System | Role::Developer => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    }
}

/// The text of a content and its images as base64 strings (Ollama takes no
/// image URLs).
fn text_and_images(content: Option<&Content>) -> (String, Vec<Value>) {
    let mut images = Vec::new();
    let text = match content {
        Some(Content::Text(text)) => text.clone(),
        Some(Content::Parts(parts)) => {
            let mut texts = Vec::new();
            for part in parts {
                match part.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        if let Some(text) = part.get("text").and_then(Value::as_str) {
                            texts.push(text.to_owned());
                        }
                    }
                    Some("image_url") => {
                        let url = part
                            .get("image_url")
                            .and_then(|i| i.get("url"))
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        match url.split_once(";base64,") {
                            Some((_, data)) if url.starts_with("data:") => {
                                images.push(json!(data));
                            }
                            _ => tracing::warn!(
                                "Ollama takes images as base64 data only; an image URL was left out"
                            ),
                        }
                    }
                    _ => {}
                }
            }
            texts.join("\n")
        }
        None => String::new(),
    };
    (text, images)
}

/// Ollama's messages: text content, images as base64 strings, tool calls with
/// object arguments, tool results with the tool's name.
fn messages(messages: &[Message]) -> Vec<Value> {
    let mut tool_names: Vec<(String, String)> = Vec::new();
    let mut out = Vec::with_capacity(messages.len());
    for message in messages {
        let mut converted = Map::new();
        converted.insert("role".into(), json!(role_name(&message.role)));
        let (text, images) = text_and_images(message.content.as_ref());
        converted.insert("content".into(), json!(text));
        if !images.is_empty() {
            converted.insert("images".into(), Value::Array(images));
        }
        if let Some(calls) = message.extra.get("tool_calls").and_then(Value::as_array) {
            let calls: Vec<Value> = calls
                .iter()
                .map(|call| {
                    let function = call.get("function").cloned().unwrap_or(Value::Null);
                    let name = function.get("name").cloned().unwrap_or(Value::Null);
                    if let (Some(id), Some(name)) =
                        (call.get("id").and_then(Value::as_str), name.as_str())
                    {
                        tool_names.push((id.to_owned(), name.to_owned()));
                    }
                    let arguments = tool_call_arguments(&function);
                    json!({"function": {"name": name, "arguments": arguments}})
                })
                .collect();
            converted.insert("tool_calls".into(), Value::Array(calls));
        }
        if message.role == Role::Tool {
            let text_field = |key: &str| message.extra.get(key).and_then(Value::as_str);
            let name = text_field("tool_call_id")
                .and_then(|id| tool_names.iter().find(|(known, _)| known == id))
                .map(|(_, name)| name.as_str())
                .or_else(|| text_field("name"));
            if let Some(name) = name {
                converted.insert("tool_name".into(), json!(name));
            }
        }
        out.push(Value::Object(converted));
    }
    out
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The OpenAI `chat.completion` for Ollama's final chat record.
pub(crate) fn completion(answer: &Value) -> Value {
    let message = answer.get("message").cloned().unwrap_or_else(|| json!({}));
    let mut out_message = Map::new();
    out_message.insert("role".into(), json!("assistant"));
    out_message.insert(
        "content".into(),
        message.get("content").cloned().unwrap_or(Value::Null),
    );
    if let Some(thinking) = message.get("thinking").and_then(Value::as_str) {
        if !thinking.is_empty() {
            out_message.insert("reasoning_content".into(), json!(thinking));
        }
    }
    let mut has_tool_calls = false;
    if let Some(calls) = message.get("tool_calls").and_then(Value::as_array) {
        let created = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let calls: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(index, call)| {
                let function = call.get("function").cloned().unwrap_or(Value::Null);
                let arguments = match function.get("arguments") {
                    Some(Value::String(text)) => text.clone(),
                    Some(other) => other.to_string(),
                    None => "{}".to_owned(),
                };
                let id = call
                    .get("id")
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("call_ollama_{created}_{index}"), str::to_owned);
                json!({
                    "id": id,
                    "type": "function",
                    "function": {
                        "name": function.get("name").cloned().unwrap_or(Value::Null),
                        "arguments": arguments
                    }
                })
            })
            .collect();
        has_tool_calls = !calls.is_empty();
        out_message.insert("tool_calls".into(), Value::Array(calls));
    }
    let finish_reason = match answer.get("done_reason").and_then(Value::as_str) {
        _ if has_tool_calls => json!("tool_calls"),
        Some("stop") => json!("stop"),
        Some("length") => json!("length"),
        Some(other) => json!(other),
        None => Value::Null,
    };

    let prompt = answer.get("prompt_eval_count").and_then(Value::as_u64);
    let output = answer.get("eval_count").and_then(Value::as_u64);
    let mut usage = Map::new();
    if let Some(prompt) = prompt {
        usage.insert("prompt_tokens".into(), json!(prompt));
    }
    if let Some(output) = output {
        usage.insert("completion_tokens".into(), json!(output));
    }
    if let (Some(prompt), Some(output)) = (prompt, output) {
        usage.insert("total_tokens".into(), json!(prompt.saturating_add(output)));
    }

    let mut timings = Map::new();
    for key in [
        "total_duration",
        "load_duration",
        "prompt_eval_duration",
        "eval_duration",
    ] {
        if let Some(value) = answer.get(key) {
            timings.insert(key.to_owned(), value.clone());
        }
    }

    let created = answer
        .get("created_at")
        .and_then(Value::as_str)
        .and_then(unix_seconds)
        .unwrap_or(0);
    let mut out = chat_completion(
        json!(format!(
            "chatcmpl-ollama-{}",
            NEXT_ID.fetch_add(1, Ordering::Relaxed)
        )),
        created,
        answer.get("model").cloned().unwrap_or(Value::Null),
        Value::Object(out_message),
        finish_reason,
        (!usage.is_empty()).then_some(Value::Object(usage)),
    );
    if !timings.is_empty() {
        out.insert("x_ollama".into(), Value::Object(timings));
    }
    // A final chat record always has a `message`: without it, the body is not
    // an answer, and no choice says so (the engine refuses it).
    if answer.get("message").is_none() {
        out.insert("choices".into(), json!([]));
    }
    Value::Object(out)
}

/// Unix seconds of an RFC 3339 time such as `2025-10-17T23:14:07.414671Z` or
/// `2025-05-04T17:37:44.706015396-07:00`.
pub(crate) fn unix_seconds(text: &str) -> Option<u64> {
    let bytes = text.as_bytes();
    if bytes.len() < 20 {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<i64> { text.get(range)?.parse().ok() };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    // Skip the fraction, then read the zone.
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        rest = &fraction[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        zone if zone.len() == 6 => {
            let sign = match zone.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let hours: i64 = zone.get(1..3)?.parse().ok()?;
            let minutes: i64 = zone.get(4..6)?.parse().ok()?;
            sign * (hours * 3600 + minutes * 60)
        }
        _ => return None,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    u64::try_from(seconds).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn rfc3339_times_are_read() {
        assert_eq!(unix_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            unix_seconds("2025-10-17T23:14:07.414671Z"),
            Some(1_760_742_847)
        );
        assert_eq!(
            unix_seconds("2025-05-04T17:37:44.706015396-07:00"),
            Some(1_746_405_464)
        );
        assert_eq!(unix_seconds("yesterday"), None);
    }

    #[test]
    fn requests_map_to_ollama_shapes() {
        let body = json!({
            "model": "llama3.2",
            "messages": [
                {"role": "developer", "content": "Be brief."},
                {"role": "user", "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
                ]},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "look", "arguments": "{\"at\":\"it\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "call_1", "content": "a cat"}
            ],
            "temperature": 0.5,
            "max_tokens": 100,
            "stop": "END",
            "service_tier": "auto",
            "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": {"type": "object"}}}
        });
        let out = chat_request(&WireRequest::new(body.as_object().cloned().unwrap()));
        assert_eq!(out["stream"], false);
        assert_eq!(out["format"], json!({"type": "object"}));
        assert_eq!(
            out["options"],
            json!({"temperature": 0.5, "num_predict": 100, "stop": ["END"]})
        );
        assert!(out.get("service_tier").is_none());
        let messages = out["messages"].as_array().unwrap();
        assert_eq!(
            messages[0],
            json!({"role": "system", "content": "Be brief."})
        );
        assert_eq!(
            messages[1],
            json!({"role": "user", "content": "What is this?", "images": ["iVBORw0KGgo="]})
        );
        assert_eq!(
            messages[2]["tool_calls"][0],
            json!({"function": {"name": "look", "arguments": {"at": "it"}}})
        );
        assert_eq!(
            messages[3],
            json!({"role": "tool", "content": "a cat", "tool_name": "look"})
        );
    }

    #[test]
    fn answers_map_to_openai_shapes() {
        let answer = json!({
            "model": "qwen3:8b",
            "created_at": "2025-10-17T23:14:07.414671Z",
            "message": {"role": "assistant", "content": "", "thinking": "Check.",
                "tool_calls": [{"function": {"name": "look", "arguments": {"at": "it"}}}]},
            "done_reason": "stop",
            "done": true,
            "eval_count": 7
        });
        let c = completion(&answer);
        assert_eq!(c["created"], 1_760_742_847);
        assert_eq!(c["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(c["choices"][0]["message"]["reasoning_content"], "Check.");
        let call = &c["choices"][0]["message"]["tool_calls"][0];
        assert_eq!(call["function"]["arguments"], "{\"at\":\"it\"}");
        assert_eq!(call["type"], "function");
        // No prompt count: unknown, not zero.
        assert_eq!(c["usage"], json!({"completion_tokens": 7}));
    }
}
