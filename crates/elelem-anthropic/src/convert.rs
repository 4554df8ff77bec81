//! OpenAI chat completion request -> Anthropic Messages request, and Anthropic's
//! `message` -> OpenAI `chat.completion`.

use elelem_core::provider::WireRequest;
use elelem_core::{Content, Message, Role};
use elelem_openai::native::{cache_split_usage, chat_completion, tool_call_arguments, unix_now};
use serde_json::{json, Map, Value};

/// `max_tokens` when neither the request nor the model's defaults give one.
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

/// Request fields of `extra` Anthropic takes as they are.
const PASSED_EXTRA: &[&str] = &["metadata", "service_tier", "thinking", "stop_sequences"];

/// The message field where thinking blocks (with their signatures) are kept, so a
/// conversation sent back to Anthropic carries them (needed with tool use).
pub(crate) const THINKING_BLOCKS: &str = "thinking_blocks";

/// The text of a message content (a string, or the text parts joined).
fn text_of(content: Option<&Content>) -> String {
    content.map(Content::text).unwrap_or_default()
}

/// An Anthropic image block for an OpenAI `image_url` part.
fn image_block(part: &Value) -> Option<Value> {
    let url = part.get("image_url")?.get("url")?.as_str()?;
    match url
        .strip_prefix("data:")
        .and_then(|rest| rest.split_once(";base64,"))
    {
        Some((media_type, data)) => Some(json!({
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data}
        })),
        None => Some(json!({"type": "image", "source": {"type": "url", "url": url}})),
    }
}

/// Anthropic content blocks for a user content.
fn user_blocks(content: Option<&Content>) -> Vec<Value> {
    match content {
        Some(Content::Text(text)) => vec![json!({"type": "text", "text": text})],
        Some(Content::Parts(parts)) => parts
            .iter()
            .filter_map(|part| match part.get("type").and_then(Value::as_str) {
                Some("text") => Some(json!({"type": "text", "text": part.get("text")?})),
                Some("image_url") => image_block(part),
                _ => None,
            })
            .collect(),
        None => Vec::new(),
    }
}

/// Anthropic content blocks for an assistant message.
fn assistant_blocks(message: &Message) -> Vec<Value> {
    let mut blocks: Vec<Value> = message
        .extra
        .get(THINKING_BLOCKS)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let text = text_of(message.content.as_ref());
    if !text.is_empty() {
        blocks.push(json!({"type": "text", "text": text}));
    }
    if let Some(calls) = message.extra.get("tool_calls").and_then(Value::as_array) {
        for call in calls {
            let function = call.get("function").cloned().unwrap_or(Value::Null);
            let input = tool_call_arguments(&function);
            blocks.push(json!({
                "type": "tool_use",
                "id": call.get("id").cloned().unwrap_or(Value::Null),
                "name": function.get("name").cloned().unwrap_or(Value::Null),
                "input": input
            }));
        }
    }
    blocks
}

/// Appends a turn, merging it into the previous one when the role repeats (tool
/// results after tool results, a user message after tool results).
fn push_turn(turns: &mut Vec<(Turn, Vec<Value>)>, role: Turn, blocks: Vec<Value>) {
    if blocks.is_empty() {
        return;
    }
    match turns.last_mut() {
        Some((last, existing)) if *last == role => existing.extend(blocks),
        _ => turns.push((role, blocks)),
    }
}

/// The two roles of Anthropic's turns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Turn {
    User,
    Assistant,
}

impl Turn {
    fn name(self) -> &'static str {
        match self {
            Turn::User => "user",
            Turn::Assistant => "assistant",
        }
    }
}

/// The Anthropic `tools` for OpenAI function tools.
fn tools(tools: &[Value]) -> Vec<Value> {
    tools
        .iter()
        .filter_map(|tool| {
            let function = tool.get("function")?;
            let mut out = Map::new();
            out.insert("name".into(), function.get("name")?.clone());
            if let Some(description) = function.get("description") {
                out.insert("description".into(), description.clone());
            }
            out.insert(
                "input_schema".into(),
                function
                    .get("parameters")
                    .cloned()
                    .unwrap_or_else(|| json!({"type": "object"})),
            );
            Some(Value::Object(out))
        })
        .collect()
}

/// The Anthropic `tool_choice` for an OpenAI one.
fn tool_choice(choice: &Value) -> Option<Value> {
    match choice {
        Value::String(mode) => match mode.as_str() {
            "auto" => Some(json!({"type": "auto"})),
            "required" => Some(json!({"type": "any"})),
            "none" => Some(json!({"type": "none"})),
            _ => None,
        },
        Value::Object(object) => {
            let name = object.get("function")?.get("name")?;
            Some(json!({"type": "tool", "name": name}))
        }
        _ => None,
    }
}

/// The system text and the Anthropic turns of a conversation.
fn conversation(messages: &[Message]) -> (Vec<String>, Vec<Value>) {
    let mut system = Vec::new();
    let mut turns: Vec<(Turn, Vec<Value>)> = Vec::new();
    for message in messages {
        match message.role {
            Role::System | Role::Developer => {
                let text = text_of(message.content.as_ref());
                if !text.is_empty() {
                    system.push(text);
                }
            }
            Role::Assistant => push_turn(&mut turns, Turn::Assistant, assistant_blocks(message)),
            Role::Tool => {
                let block = json!({
                    "type": "tool_result",
                    "tool_use_id": message.extra.get("tool_call_id").cloned().unwrap_or(Value::Null),
                    "content": text_of(message.content.as_ref())
                });
                push_turn(&mut turns, Turn::User, vec![block]);
            }
            Role::User => push_turn(
                &mut turns,
                Turn::User,
                user_blocks(message.content.as_ref()),
            ),
        }
    }
    let turns = turns
        .into_iter()
        .map(|(role, blocks)| {
            // A single text block goes as a plain string, as most clients send it.
            let content = match blocks.as_slice() {
                [only] if only.get("type").and_then(Value::as_str) == Some("text") => {
                    only.get("text").cloned().unwrap_or(Value::Null)
                }
                _ => Value::Array(blocks),
            };
            json!({"role": role.name(), "content": content})
        })
        .collect();
    (system, turns)
}

/// The answer's token limit: `max_tokens`, else `max_completion_tokens` (a
/// `max_tokens` that is not a count counts as none given).
fn max_tokens(request: &WireRequest) -> Option<u64> {
    match (request.max_tokens, request.extra.contains_key("max_tokens")) {
        (Some(n), _) => Some(n),
        (None, true) => None,
        (None, false) => request.max_completion_tokens,
    }
}

/// A field the typed request keeps in `extra` (one Anthropic takes as given, or a
/// typed one whose value was not of its type).
fn untyped(request: &WireRequest, field: &str) -> Option<Value> {
    request.extra.get(field).cloned()
}

/// The Anthropic Messages body for an OpenAI chat request.
pub(crate) fn messages_request(request: &WireRequest) -> Value {
    let (system, messages) = conversation(&request.messages);

    let mut out = Map::new();
    out.insert(
        "model".into(),
        if request.model.is_empty() {
            Value::Null
        } else {
            json!(request.model)
        },
    );
    let thinking_budget = request
        .extra
        .get("thinking")
        .filter(|t| t.get("type").and_then(Value::as_str) == Some("enabled"))
        .and_then(|t| t.get("budget_tokens"))
        .and_then(Value::as_u64);
    let mut max_tokens = max_tokens(request).unwrap_or(DEFAULT_MAX_TOKENS);
    if let Some(budget) = thinking_budget {
        // Anthropic requires max_tokens > budget_tokens.
        if max_tokens <= budget {
            max_tokens = budget.saturating_add(DEFAULT_MAX_TOKENS);
        }
    }
    out.insert("max_tokens".into(), json!(max_tokens));
    if !system.is_empty() {
        out.insert("system".into(), json!(system.join("\n\n")));
    }
    out.insert("messages".into(), Value::Array(messages));
    // Extended thinking refuses temperature and top_k changes; the JSON retry
    // ladder's lower temperatures are dropped rather than failing the call.
    let sampling = [
        ("temperature", request.temperature.map(|t| json!(t)), true),
        ("top_p", request.top_p.map(|p| json!(p)), false),
        ("top_k", request.top_k.map(|k| json!(k)), true),
    ];
    for (field, typed, refused_when_thinking) in sampling {
        if refused_when_thinking && thinking_budget.is_some() {
            continue;
        }
        if let Some(value) = typed.or_else(|| untyped(request, field)) {
            out.insert(field.into(), value);
        }
    }
    for field in PASSED_EXTRA {
        if let Some(value) = untyped(request, field) {
            out.insert((*field).to_owned(), value);
        }
    }
    // OpenAI's `user` as Anthropic's `metadata.user_id`, unless metadata was given.
    let user = request.user.as_ref().map(|u| json!(u));
    if let (Some(user), false) = (
        user.or_else(|| untyped(request, "user")),
        out.contains_key("metadata"),
    ) {
        out.insert("metadata".into(), json!({"user_id": user}));
    }
    match &request.stop {
        Some(Value::String(stop)) => {
            out.insert("stop_sequences".into(), json!([stop]));
        }
        Some(stop @ Value::Array(_)) => {
            out.insert("stop_sequences".into(), stop.clone());
        }
        _ => {}
    }
    if let Some(list) = &request.tools {
        out.insert("tools".into(), Value::Array(tools(list)));
    }
    if let Some(choice) = request.tool_choice.as_ref().and_then(tool_choice) {
        out.insert("tool_choice".into(), choice);
    }
    Value::Object(out)
}

/// The OpenAI finish reason for an Anthropic stop reason.
pub(crate) fn finish_reason(stop_reason: Option<&str>) -> Value {
    match stop_reason {
        Some("end_turn" | "stop_sequence") => json!("stop"),
        Some("max_tokens" | "model_context_window_exceeded") => json!("length"),
        Some("tool_use") => json!("tool_calls"),
        Some("refusal") => json!("content_filter"),
        Some(other) => json!(other),
        None => Value::Null,
    }
}

/// The OpenAI `chat.completion` for an Anthropic `message`.
pub(crate) fn completion(message: &Value) -> Value {
    let mut texts = Vec::new();
    let mut thinking = Vec::new();
    let mut thinking_blocks = Vec::new();
    let mut tool_calls = Vec::new();
    for block in message
        .get("content")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => {
                if let Some(text) = block.get("text").and_then(Value::as_str) {
                    texts.push(text);
                }
            }
            Some("thinking") => {
                if let Some(text) = block.get("thinking").and_then(Value::as_str) {
                    thinking.push(text);
                }
                thinking_blocks.push(block.clone());
            }
            Some("redacted_thinking") => thinking_blocks.push(block.clone()),
            Some("tool_use") => {
                let input = block.get("input").cloned().unwrap_or_else(|| json!({}));
                tool_calls.push(json!({
                    "id": block.get("id").cloned().unwrap_or(Value::Null),
                    "type": "function",
                    "function": {
                        "name": block.get("name").cloned().unwrap_or(Value::Null),
                        "arguments": input.to_string()
                    }
                }));
            }
            _ => {}
        }
    }
    let mut out_message = Map::new();
    out_message.insert("role".into(), json!("assistant"));
    out_message.insert(
        "content".into(),
        if texts.is_empty() {
            Value::Null
        } else {
            json!(texts.concat())
        },
    );
    if !thinking.is_empty() {
        out_message.insert("reasoning_content".into(), json!(thinking.join("\n\n")));
    }
    if !thinking_blocks.is_empty() {
        out_message.insert(THINKING_BLOCKS.into(), Value::Array(thinking_blocks));
    }
    if !tool_calls.is_empty() {
        out_message.insert("tool_calls".into(), Value::Array(tool_calls));
    }

    let mut out = chat_completion(
        message.get("id").cloned().unwrap_or(Value::Null),
        unix_now(),
        message.get("model").cloned().unwrap_or(Value::Null),
        Value::Object(out_message),
        finish_reason(message.get("stop_reason").and_then(Value::as_str)),
        message.get("usage").and_then(usage),
    );
    // A message always has `content` (maybe empty): without it, the body is
    // not an answer, and no choice says so (the engine refuses it).
    if message.get("content").is_none() {
        out.insert("choices".into(), json!([]));
    }
    Value::Object(out)
}

/// OpenAI usage for Anthropic's: the prompt is the uncached input plus the cache
/// writes and reads; reads are `cached_tokens`, writes `cache_write_tokens`.
pub(crate) fn usage(usage: &Value) -> Option<Value> {
    let count = |key: &str| usage.get(key).and_then(Value::as_u64);
    cache_split_usage(
        count("input_tokens"),
        count("cache_creation_input_tokens"),
        count("cache_read_input_tokens"),
        count("output_tokens"),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn system_tools_and_tool_results_map_to_anthropic_shapes() {
        let body = json!({
            "model": "claude-sonnet-4-5",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "system", "content": "Answer in JSON."},
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"},
                {"role": "user", "content": [{"type": "text", "text": "Thanks"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}
            ],
            "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": {"type": "object"}}}],
            "tool_choice": "required",
            "stop": "END",
            "seed": 7,
            "response_format": {"type": "json_object"},
            "temperature": 0.3
        });
        let out = messages_request(&WireRequest::new(body.as_object().cloned().unwrap()));
        assert_eq!(out["system"], "Be brief.\n\nAnswer in JSON.");
        assert_eq!(out["max_tokens"], 4096);
        assert_eq!(out["temperature"], 0.3);
        assert_eq!(out["stop_sequences"], json!(["END"]));
        assert!(out.get("seed").is_none() && out.get("response_format").is_none());
        assert_eq!(out["tool_choice"], json!({"type": "any"}));
        assert_eq!(
            out["tools"][0],
            json!({"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}})
        );
        let messages = out["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 3);
        assert_eq!(
            messages[0],
            json!({"role": "user", "content": "Weather in Paris?"})
        );
        assert_eq!(
            messages[1]["content"][0],
            json!({"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}})
        );
        // The tool result and the next user message form one user turn.
        assert_eq!(messages[2]["role"], "user");
        assert_eq!(
            messages[2]["content"][0],
            json!({"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"})
        );
        assert_eq!(
            messages[2]["content"][1],
            json!({"type": "text", "text": "Thanks"})
        );
        assert_eq!(
            messages[2]["content"][2]["source"],
            json!({"type": "base64", "media_type": "image/png", "data": "AAAA"})
        );
    }

    #[test]
    fn sampling_user_and_stop_come_from_the_typed_fields() {
        let mut request = WireRequest::chat("m", vec![Message::user("Hi")]);
        request.temperature = Some(0.5);
        request.top_p = Some(0.9);
        request.top_k = Some(40);
        request.max_completion_tokens = Some(77);
        request.user = Some("ada".into());
        request.stop = Some(json!("END"));
        request.set("service_tier", json!("auto"));
        let out = messages_request(&request);
        assert_eq!(
            out,
            json!({
                "model": "m", "max_tokens": 77,
                "messages": [{"role": "user", "content": "Hi"}],
                "temperature": 0.5, "top_p": 0.9, "top_k": 40, "service_tier": "auto",
                "metadata": {"user_id": "ada"}, "stop_sequences": ["END"]
            })
        );
        // A value that is not of its field's type is passed as given, as before.
        request.set("temperature", json!("warm"));
        request.set("max_tokens", json!("many"));
        let out = messages_request(&request);
        assert_eq!(out["temperature"], "warm");
        assert_eq!(out["max_tokens"], DEFAULT_MAX_TOKENS);
    }

    #[test]
    fn thinking_raises_max_tokens_and_drops_temperature() {
        let body = json!({
            "model": "m",
            "messages": [{"role": "user", "content": "Hi"}],
            "max_tokens": 1000,
            "temperature": 0.7,
            "thinking": {"type": "enabled", "budget_tokens": 2048}
        });
        let out = messages_request(&WireRequest::new(body.as_object().cloned().unwrap()));
        assert_eq!(out["max_tokens"], 2048 + 4096);
        assert!(out.get("temperature").is_none());
        assert_eq!(
            out["thinking"],
            json!({"type": "enabled", "budget_tokens": 2048})
        );
    }

    #[test]
    fn stop_reasons_map_to_finish_reasons() {
        for (stop, finish) in [
            ("end_turn", json!("stop")),
            ("stop_sequence", json!("stop")),
            ("max_tokens", json!("length")),
            ("tool_use", json!("tool_calls")),
            ("refusal", json!("content_filter")),
            ("pause_turn", json!("pause_turn")),
        ] {
            assert_eq!(finish_reason(Some(stop)), finish, "{stop}");
        }
    }

    #[test]
    fn usage_adds_cache_reads_and_writes_to_the_prompt() {
        let u = usage(
            &json!({"input_tokens": 10, "cache_creation_input_tokens": 20,
            "cache_read_input_tokens": 30, "output_tokens": 5}),
        )
        .unwrap();
        assert_eq!(
            u,
            json!({"prompt_tokens": 60, "completion_tokens": 5, "total_tokens": 65,
                "prompt_tokens_details": {"cached_tokens": 30, "cache_write_tokens": 20}})
        );
    }

    #[test]
    fn huge_counts_and_budgets_saturate_instead_of_overflowing() {
        let u = usage(
            &json!({"input_tokens": u64::MAX, "cache_creation_input_tokens": 1,
            "cache_read_input_tokens": 1, "output_tokens": u64::MAX}),
        )
        .unwrap();
        assert_eq!(u["prompt_tokens"], json!(u64::MAX));
        assert_eq!(u["total_tokens"], json!(u64::MAX));
        let body = json!({"model": "claude", "messages": [{"role": "user", "content": "Hi"}],
            "thinking": {"type": "enabled", "budget_tokens": u64::MAX}});
        let out = messages_request(&WireRequest::new(body.as_object().cloned().unwrap()));
        assert_eq!(out["max_tokens"], json!(u64::MAX));
    }
}
