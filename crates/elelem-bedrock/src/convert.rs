//! OpenAI chat completion request -> Bedrock Converse request, and Converse's
//! answer -> OpenAI `chat.completion`.

use elelem_openai::native::{
    cache_split_usage, chat_completion, content_text as text_of, tool_call_arguments, unix_now,
};
use serde_json::{json, Map, Value};

/// A Converse image block for an OpenAI `image_url` part given as a `data:` URL
/// (Converse takes image bytes, not links: other URLs are left out).
fn image_block(part: &Value) -> Option<Value> {
    let url = part.get("image_url")?.get("url")?.as_str()?;
    let (media_type, data) = url.strip_prefix("data:")?.split_once(";base64,")?;
    let format = media_type.strip_prefix("image/")?;
    let format = if format == "jpg" { "jpeg" } else { format };
    Some(json!({"image": {"format": format, "source": {"bytes": data}}}))
}

/// Converse content blocks for an OpenAI user content.
fn user_blocks(content: Option<&Value>) -> Vec<Value> {
    match content {
        Some(Value::String(text)) if !text.is_empty() => vec![json!({"text": text})],
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|part| match part.get("type").and_then(Value::as_str) {
                Some("text") => Some(json!({"text": part.get("text")?})),
                Some("image_url") => image_block(part),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Converse content blocks for an OpenAI assistant message.
fn assistant_blocks(message: &Value) -> Vec<Value> {
    let mut blocks = Vec::new();
    let text = text_of(message.get("content"));
    if !text.is_empty() {
        blocks.push(json!({"text": text}));
    }
    for call in message
        .get("tool_calls")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let function = call.get("function").cloned().unwrap_or(Value::Null);
        blocks.push(json!({"toolUse": {
            "toolUseId": call.get("id").cloned().unwrap_or(Value::Null),
            "name": function.get("name").cloned().unwrap_or(Value::Null),
            "input": tool_call_arguments(&function)
        }}));
    }
    blocks
}

/// Appends a turn, merging it into the previous one when the role repeats
/// (Converse wants user and assistant turns to alternate).
fn push_turn(turns: &mut Vec<(&'static str, Vec<Value>)>, role: &'static str, blocks: Vec<Value>) {
    if blocks.is_empty() {
        return;
    }
    match turns.last_mut() {
        Some((last, existing)) if *last == role => existing.extend(blocks),
        _ => turns.push((role, blocks)),
    }
}

/// The Converse `toolConfig` for OpenAI function tools and `tool_choice`.
fn tool_config(tools: &[Value], choice: Option<&Value>) -> Option<Value> {
    let specs: Vec<Value> = tools
        .iter()
        .filter_map(|tool| {
            let function = tool.get("function")?;
            let mut spec = Map::new();
            spec.insert("name".into(), function.get("name")?.clone());
            if let Some(description) = function.get("description") {
                spec.insert("description".into(), description.clone());
            }
            let schema = function
                .get("parameters")
                .cloned()
                .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
            spec.insert("inputSchema".into(), json!({"json": schema}));
            Some(json!({"toolSpec": spec}))
        })
        .collect();
    if specs.is_empty() {
        return None;
    }
    let mut config = Map::new();
    config.insert("tools".into(), Value::Array(specs));
    let choice = match choice {
        Some(Value::String(mode)) if mode == "required" => Some(json!({"any": {}})),
        Some(Value::String(mode)) if mode == "auto" => Some(json!({"auto": {}})),
        Some(Value::Object(object)) => object
            .get("function")
            .and_then(|f| f.get("name"))
            .map(|name| json!({"tool": {"name": name}})),
        // "none" has no Converse form: the tools are offered without a choice.
        _ => None,
    };
    if let Some(choice) = choice {
        config.insert("toolChoice".into(), choice);
    }
    Some(Value::Object(config))
}

/// The Converse body for an OpenAI chat completion body (the model goes in the
/// URL, not the body).
pub(crate) fn converse_request(body: &Map<String, Value>) -> Value {
    let mut system = Vec::new();
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for message in body
        .get("messages")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        match message.get("role").and_then(Value::as_str) {
            Some("system" | "developer") => {
                let text = text_of(message.get("content"));
                if !text.is_empty() {
                    system.push(json!({"text": text}));
                }
            }
            Some("assistant") => push_turn(&mut turns, "assistant", assistant_blocks(message)),
            Some("tool") => {
                let block = json!({"toolResult": {
                    "toolUseId": message.get("tool_call_id").cloned().unwrap_or(Value::Null),
                    "content": [{"text": text_of(message.get("content"))}]
                }});
                push_turn(&mut turns, "user", vec![block]);
            }
            _ => push_turn(&mut turns, "user", user_blocks(message.get("content"))),
        }
    }
    let messages: Vec<Value> = turns
        .into_iter()
        .map(|(role, content)| json!({"role": role, "content": content}))
        .collect();

    let mut out = Map::new();
    out.insert("messages".into(), Value::Array(messages));
    if !system.is_empty() {
        out.insert("system".into(), Value::Array(system));
    }
    let mut inference = Map::new();
    if let Some(max) = body
        .get("max_tokens")
        .or_else(|| body.get("max_completion_tokens"))
        .filter(|v| v.is_u64())
    {
        inference.insert("maxTokens".into(), max.clone());
    }
    for (from, to) in [("temperature", "temperature"), ("top_p", "topP")] {
        if let Some(value) = body.get(from).filter(|v| v.is_number()) {
            inference.insert(to.into(), value.clone());
        }
    }
    match body.get("stop") {
        Some(Value::String(stop)) => {
            inference.insert("stopSequences".into(), json!([stop]));
        }
        Some(stop @ Value::Array(_)) => {
            inference.insert("stopSequences".into(), stop.clone());
        }
        _ => {}
    }
    if !inference.is_empty() {
        out.insert("inferenceConfig".into(), Value::Object(inference));
    }
    if let Some(config) = body
        .get("tools")
        .and_then(Value::as_array)
        .and_then(|tools| tool_config(tools, body.get("tool_choice")))
    {
        out.insert("toolConfig".into(), config);
    }
    // Converse's own fields given with `.extra(...)` pass through.
    for field in [
        "additionalModelRequestFields",
        "guardrailConfig",
        "performanceConfig",
        "promptVariables",
    ] {
        if let Some(value) = body.get(field) {
            out.insert(field.into(), value.clone());
        }
    }
    Value::Object(out)
}

/// The OpenAI finish reason for a Converse stop reason.
pub(crate) fn finish_reason(stop_reason: Option<&str>) -> Value {
    match stop_reason {
        Some("end_turn" | "stop_sequence") => json!("stop"),
        Some("max_tokens" | "model_context_window_exceeded") => json!("length"),
        Some("tool_use") => json!("tool_calls"),
        Some("guardrail_intervened" | "content_filtered") => json!("content_filter"),
        Some(other) => json!(other),
        None => Value::Null,
    }
}

/// OpenAI usage for Converse's: the prompt is the uncached input plus the cache
/// writes and reads; reads are `cached_tokens`, writes `cache_write_tokens`
/// (zero counts, which Bedrock sends for models without a cache, are left out).
pub(crate) fn usage(usage: &Value) -> Option<Value> {
    let count = |key: &str| usage.get(key).and_then(Value::as_u64);
    cache_split_usage(
        count("inputTokens"),
        count("cacheWriteInputTokens").filter(|n| *n > 0),
        count("cacheReadInputTokens").filter(|n| *n > 0),
        count("outputTokens"),
    )
}

/// The OpenAI `chat.completion` for a Converse answer (`id`: the request id,
/// `model`: the model id asked for).
pub(crate) fn completion(answer: &Value, id: &str, model: &str) -> Value {
    let mut texts = Vec::new();
    let mut reasoning = Vec::new();
    let mut tool_calls = Vec::new();
    let content = answer
        .get("output")
        .and_then(|o| o.get("message"))
        .and_then(|m| m.get("content"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for block in content {
        if let Some(text) = block.get("text").and_then(Value::as_str) {
            texts.push(text);
        } else if let Some(text) = block
            .get("reasoningContent")
            .and_then(|r| r.get("reasoningText"))
            .and_then(|r| r.get("text"))
            .and_then(Value::as_str)
        {
            reasoning.push(text);
        } else if let Some(tool) = block.get("toolUse") {
            let input = tool.get("input").cloned().unwrap_or_else(|| json!({}));
            tool_calls.push(json!({
                "id": tool.get("toolUseId").cloned().unwrap_or(Value::Null),
                "type": "function",
                "function": {
                    "name": tool.get("name").cloned().unwrap_or(Value::Null),
                    "arguments": input.to_string()
                }
            }));
        }
    }
    let mut message = Map::new();
    message.insert("role".into(), json!("assistant"));
    message.insert(
        "content".into(),
        if texts.is_empty() {
            Value::Null
        } else {
            json!(texts.concat())
        },
    );
    if !reasoning.is_empty() {
        message.insert("reasoning_content".into(), json!(reasoning.join("\n\n")));
    }
    if !tool_calls.is_empty() {
        message.insert("tool_calls".into(), Value::Array(tool_calls));
    }
    Value::Object(chat_completion(
        json!(id),
        unix_now(),
        json!(model),
        Value::Object(message),
        finish_reason(answer.get("stopReason").and_then(Value::as_str)),
        answer.get("usage").and_then(usage),
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn messages_system_tools_and_settings_map_to_converse() {
        let body = json!({
            "model": "anthropic.claude-3-5-sonnet-20241022-v2:0",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "t1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "t1", "content": "18C"},
                {"role": "user", "content": [{"type": "text", "text": "Thanks"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                    {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}
            ],
            "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": {"type": "object"}}}],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
            "max_tokens": 100, "temperature": 0.2, "top_p": 0.9, "stop": ["END"],
            "seed": 7, "response_format": {"type": "json_object"}
        });
        let out = converse_request(body.as_object().unwrap());
        assert_eq!(out["system"], json!([{"text": "Be brief."}]));
        assert_eq!(
            out["inferenceConfig"],
            json!({"maxTokens": 100, "temperature": 0.2, "topP": 0.9, "stopSequences": ["END"]})
        );
        assert_eq!(
            out["toolConfig"],
            json!({"tools": [{"toolSpec": {"name": "get_weather", "description": "Weather", "inputSchema": {"json": {"type": "object"}}}}],
                   "toolChoice": {"tool": {"name": "get_weather"}}})
        );
        assert!(out.get("model").is_none() && out.get("seed").is_none());
        let messages = out["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 3);
        assert_eq!(
            messages[0],
            json!({"role": "user", "content": [{"text": "Weather in Paris?"}]})
        );
        assert_eq!(
            messages[1]["content"][0],
            json!({"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {"city": "Paris"}}})
        );
        assert_eq!(
            messages[2]["content"],
            json!([{"toolResult": {"toolUseId": "t1", "content": [{"text": "18C"}]}},
                   {"text": "Thanks"},
                   {"image": {"format": "png", "source": {"bytes": "AAAA"}}}])
        );
    }

    #[test]
    fn the_answer_maps_text_tools_stop_reason_and_usage() {
        let answer = json!({
            "output": {"message": {"role": "assistant", "content": [
                {"reasoningContent": {"reasoningText": {"text": "hmm", "signature": "s"}}},
                {"text": "Let me check."},
                {"toolUse": {"toolUseId": "t9", "name": "f", "input": {"a": 1}}}
            ]}},
            "stopReason": "tool_use",
            "usage": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 45,
                      "cacheReadInputTokens": 20, "cacheWriteInputTokens": 10},
            "metrics": {"latencyMs": 100}
        });
        let out = completion(&answer, "req-1", "m");
        let choice = &out["choices"][0];
        assert_eq!(choice["finish_reason"], "tool_calls");
        assert_eq!(choice["message"]["content"], "Let me check.");
        assert_eq!(choice["message"]["reasoning_content"], "hmm");
        assert_eq!(
            choice["message"]["tool_calls"][0]["function"]["arguments"],
            "{\"a\":1}"
        );
        assert_eq!(
            out["usage"],
            json!({"prompt_tokens": 40, "completion_tokens": 5, "total_tokens": 45,
                   "prompt_tokens_details": {"cached_tokens": 20, "cache_write_tokens": 10}})
        );
        assert_eq!(
            finish_reason(Some("guardrail_intervened")),
            json!("content_filter")
        );
        assert_eq!(finish_reason(Some("max_tokens")), json!("length"));
    }
}
