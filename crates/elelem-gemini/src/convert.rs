//! OpenAI chat completion request -> Gemini `generateContent` request, and
//! Gemini's response -> OpenAI `chat.completion`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use elelem_core::provider::WireRequest;
use elelem_core::{Content, Message, Role};
use elelem_openai::native::{chat_completion, tool_call_arguments, unix_now};
use serde_json::{json, Map, Value};

/// OpenAI's sampling fields with Gemini's names in `generationConfig`, in
/// order (`max_completion_tokens` wins over `max_tokens`).
fn config_fields(request: &WireRequest) -> [(&'static str, &'static str, Option<Value>); 8] {
    let number = |n: Option<f64>| n.map(|n| json!(n));
    let count = |n: Option<u64>| n.map(|n| json!(n));
    [
        ("temperature", "temperature", number(request.temperature)),
        ("top_p", "topP", number(request.top_p)),
        ("top_k", "topK", count(request.top_k)),
        ("max_tokens", "maxOutputTokens", count(request.max_tokens)),
        (
            "max_completion_tokens",
            "maxOutputTokens",
            count(request.max_completion_tokens),
        ),
        ("seed", "seed", request.seed.map(|n| json!(n))),
        (
            "presence_penalty",
            "presencePenalty",
            number(request.presence_penalty),
        ),
        (
            "frequency_penalty",
            "frequencyPenalty",
            number(request.frequency_penalty),
        ),
    ]
}

/// Gemini request fields passed through as given.
const PASSED_FIELDS: &[&str] = &["safetySettings", "cachedContent", "labels"];

/// The key under which a function call's thought signature is kept in an OpenAI
/// tool call, so that it goes back to Gemini with the conversation.
pub(crate) const THOUGHT_SIGNATURE: &str = "thought_signature";

/// The text of a message content (a string, or the text parts joined).
fn text_of(content: Option<&Content>) -> String {
    content.map(Content::text).unwrap_or_default()
}

/// A MIME type guessed from an image URL's extension.
fn mime_of(url: &str) -> &'static str {
    let lower = url.to_ascii_lowercase();
    if lower.ends_with(".png") {
        "image/png"
    } else if lower.ends_with(".webp") {
        "image/webp"
    } else if lower.ends_with(".gif") {
        "image/gif"
    } else {
        "image/jpeg"
    }
}

/// Gemini parts for a user content.
fn content_parts(content: Option<&Content>) -> Vec<Value> {
    match content {
        Some(Content::Text(text)) => vec![json!({"text": text})],
        Some(Content::Parts(parts)) => parts
            .iter()
            .filter_map(|part| match part.get("type").and_then(Value::as_str) {
                Some("text") => Some(json!({"text": part.get("text")?})),
                Some("image_url") => {
                    let url = part.get("image_url")?.get("url")?.as_str()?;
                    Some(
                        match url
                            .strip_prefix("data:")
                            .and_then(|rest| rest.split_once(";base64,"))
                        {
                            Some((mime, data)) => {
                                json!({"inlineData": {"mimeType": mime, "data": data}})
                            }
                            None => json!({"fileData": {"mimeType": mime_of(url), "fileUri": url}}),
                        },
                    )
                }
                _ => None,
            })
            .collect(),
        None => Vec::new(),
    }
}

fn push_turn(turns: &mut Vec<(String, Vec<Value>)>, role: &str, parts: Vec<Value>) {
    if parts.is_empty() {
        return;
    }
    match turns.last_mut() {
        Some((last, existing)) if last == role => existing.extend(parts),
        _ => turns.push((role.to_owned(), parts)),
    }
}

/// Gemini's schema dialect (an OpenAPI subset) for a JSON schema: keywords it
/// rejects are dropped and `"type": [T, "null"]` becomes `T` with `nullable`.
/// The answer is still validated against the full schema locally.
pub(crate) fn response_schema(schema: &Value) -> Value {
    match schema {
        Value::Object(object) => {
            let mut out = Map::new();
            for (key, value) in object {
                match key.as_str() {
                    "$schema" | "$id" | "$comment" | "additionalProperties" => {}
                    "type" => match value {
                        Value::Array(types) => {
                            let non_null: Vec<&Value> = types
                                .iter()
                                .filter(|t| t.as_str() != Some("null"))
                                .collect();
                            if non_null.len() < types.len() {
                                out.insert("nullable".into(), Value::Bool(true));
                            }
                            if let Some(first) = non_null.first() {
                                out.insert("type".into(), (*first).clone());
                            }
                        }
                        other => {
                            out.insert("type".into(), other.clone());
                        }
                    },
                    "properties" => {
                        let properties = value
                            .as_object()
                            .map(|p| {
                                p.iter()
                                    .map(|(name, s)| (name.clone(), response_schema(s)))
                                    .collect::<Map<_, _>>()
                            })
                            .unwrap_or_default();
                        out.insert("properties".into(), Value::Object(properties));
                    }
                    "items" => {
                        out.insert("items".into(), response_schema(value));
                    }
                    "anyOf" => {
                        let options = value
                            .as_array()
                            .map(|a| a.iter().map(response_schema).collect())
                            .unwrap_or_default();
                        out.insert("anyOf".into(), Value::Array(options));
                    }
                    _ => {
                        out.insert(key.clone(), value.clone());
                    }
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// The thinking budget Google's OpenAI-compatible endpoint uses for a
/// `reasoning_effort`.
fn thinking_budget(effort: &str) -> Option<i64> {
    match effort {
        "none" => Some(0),
        "minimal" | "low" => Some(1024),
        "medium" => Some(8192),
        "high" => Some(24576),
        _ => None,
    }
}

/// A field the typed request keeps in `extra` (one of Gemini's own, or a typed
/// one whose value was not of its type).
fn untyped(request: &WireRequest, field: &str) -> Option<Value> {
    request.extra.get(field).cloned()
}

/// The Gemini parts of an assistant message; the ids and names of its tool
/// calls are added to `call_names`.
fn model_parts(message: &Message, call_names: &mut Vec<(String, String)>) -> Vec<Value> {
    let mut parts = Vec::new();
    let text = text_of(message.content.as_ref());
    if !text.is_empty() {
        parts.push(json!({"text": text}));
    }
    for call in message
        .extra
        .get("tool_calls")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let function = call.get("function").cloned().unwrap_or(Value::Null);
        let name = function.get("name").cloned().unwrap_or(Value::Null);
        if let (Some(id), Some(name)) = (call.get("id").and_then(Value::as_str), name.as_str()) {
            call_names.push((id.to_owned(), name.to_owned()));
        }
        let args = tool_call_arguments(&function);
        let mut part = Map::new();
        part.insert("functionCall".into(), json!({"name": name, "args": args}));
        if let Some(signature) = call.get(THOUGHT_SIGNATURE) {
            part.insert("thoughtSignature".into(), signature.clone());
        }
        parts.push(Value::Object(part));
    }
    parts
}

/// The Gemini `functionResponse` part of a tool message, named after the call it
/// answers (else the message's `name`).
fn function_response(message: &Message, call_names: &[(String, String)]) -> Value {
    let text_field = |key: &str| message.extra.get(key).and_then(Value::as_str);
    let name = text_field("tool_call_id")
        .and_then(|id| call_names.iter().find(|(known, _)| known == id))
        .map(|(_, name)| name.as_str())
        .or_else(|| text_field("name"))
        .unwrap_or_default();
    let text = text_of(message.content.as_ref());
    let response = match serde_json::from_str::<Value>(&text) {
        Ok(object @ Value::Object(_)) => object,
        _ => json!({"content": text}),
    };
    json!({"functionResponse": {"name": name, "response": response}})
}

/// The `generateContent` body for an OpenAI chat request.
pub(crate) fn generate_request(request: &WireRequest) -> Value {
    let mut system = Vec::new();
    let mut turns: Vec<(String, Vec<Value>)> = Vec::new();
    let mut call_names: Vec<(String, String)> = Vec::new();
    for message in &request.messages {
        match message.role {
            Role::System | Role::Developer => {
                let text = text_of(message.content.as_ref());
                if !text.is_empty() {
                    system.push(text);
                }
            }
            Role::Assistant => {
                let parts = model_parts(message, &mut call_names);
                push_turn(&mut turns, "model", parts);
            }
            Role::Tool => {
                let part = function_response(message, &call_names);
                push_turn(&mut turns, "user", vec![part]);
            }
            Role::User => push_turn(&mut turns, "user", content_parts(message.content.as_ref())),
        }
    }

    let mut out = Map::new();
    let contents: Vec<Value> = turns
        .into_iter()
        .map(|(role, parts)| json!({"role": role, "parts": parts}))
        .collect();
    out.insert("contents".into(), Value::Array(contents));
    if !system.is_empty() {
        out.insert(
            "systemInstruction".into(),
            json!({"parts": [{"text": system.join("\n\n")}]}),
        );
    }

    let mut config = Map::new();
    for (openai, gemini, typed) in config_fields(request) {
        if let Some(value) = typed.or_else(|| untyped(request, openai)) {
            config.insert(gemini.to_owned(), value);
        }
    }
    match &request.stop {
        Some(Value::String(stop)) => {
            config.insert("stopSequences".into(), json!([stop]));
        }
        Some(stop @ Value::Array(_)) => {
            config.insert("stopSequences".into(), stop.clone());
        }
        _ => {}
    }
    if let Some(format) = &request.response_format {
        match format.get("type").and_then(Value::as_str) {
            Some("json_object") => {
                config.insert("responseMimeType".into(), json!("application/json"));
            }
            Some("json_schema") => {
                config.insert("responseMimeType".into(), json!("application/json"));
                if let Some(schema) = format.get("json_schema").and_then(|s| s.get("schema")) {
                    config.insert("responseSchema".into(), response_schema(schema));
                }
            }
            _ => {}
        }
    }
    if let Some(budget) = request
        .reasoning_effort
        .as_deref()
        .and_then(thinking_budget)
    {
        config.insert("thinkingConfig".into(), json!({"thinkingBudget": budget}));
    }
    // Gemini's own settings given through `extra` win.
    if let Some(Value::Object(extra)) = request.extra.get("generationConfig") {
        config.extend(extra.clone());
    }
    if !config.is_empty() {
        out.insert("generationConfig".into(), Value::Object(config));
    }

    if let Some(tools) = &request.tools {
        let declarations: Vec<Value> = tools
            .iter()
            .filter_map(|tool| {
                let function = tool.get("function")?;
                let mut declaration = Map::new();
                declaration.insert("name".into(), function.get("name")?.clone());
                if let Some(description) = function.get("description") {
                    declaration.insert("description".into(), description.clone());
                }
                if let Some(parameters) = function.get("parameters") {
                    declaration.insert("parameters".into(), response_schema(parameters));
                }
                Some(Value::Object(declaration))
            })
            .collect();
        if !declarations.is_empty() {
            out.insert(
                "tools".into(),
                json!([{"functionDeclarations": declarations}]),
            );
        }
    }
    let calling = match &request.tool_choice {
        Some(Value::String(mode)) => match mode.as_str() {
            "none" => Some(json!({"mode": "NONE"})),
            "auto" => Some(json!({"mode": "AUTO"})),
            "required" => Some(json!({"mode": "ANY"})),
            _ => None,
        },
        Some(Value::Object(choice)) => choice
            .get("function")
            .and_then(|f| f.get("name"))
            .map(|name| json!({"mode": "ANY", "allowedFunctionNames": [name]})),
        _ => None,
    };
    if let Some(calling) = calling {
        out.insert(
            "toolConfig".into(),
            json!({"functionCallingConfig": calling}),
        );
    }
    for field in PASSED_FIELDS {
        if let Some(value) = untyped(request, field) {
            out.insert((*field).to_owned(), value);
        }
    }
    Value::Object(out)
}

/// The OpenAI finish reason for a Gemini one.
fn finish_reason(reason: Option<&str>, has_calls: bool) -> Value {
    match reason {
        Some("STOP") if has_calls => json!("tool_calls"),
        Some("STOP") => json!("stop"),
        Some("MAX_TOKENS") => json!("length"),
        Some(
            "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY",
        ) => json!("content_filter"),
        Some(other) => json!(other),
        None if has_calls => json!("tool_calls"),
        None => Value::Null,
    }
}

static NEXT_CALL: AtomicU64 = AtomicU64::new(1);

/// The OpenAI `chat.completion` for a `generateContent` response.
pub(crate) fn completion(response: &Value) -> Value {
    let candidate = response
        .get("candidates")
        .and_then(Value::as_array)
        .and_then(|c| c.first());
    let mut texts = Vec::new();
    let mut thoughts = Vec::new();
    let mut calls = Vec::new();
    let batch = NEXT_CALL.fetch_add(1, Ordering::Relaxed);
    for part in candidate
        .and_then(|c| c.get("content"))
        .and_then(|c| c.get("parts"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        if let Some(call) = part.get("functionCall") {
            let args = call.get("args").cloned().unwrap_or_else(|| json!({}));
            let mut tool_call = Map::new();
            tool_call.insert(
                "id".into(),
                call.get("id")
                    .cloned()
                    .unwrap_or_else(|| json!(format!("call_gemini_{batch}_{}", calls.len()))),
            );
            tool_call.insert("type".into(), json!("function"));
            tool_call.insert(
                "function".into(),
                json!({
                    "name": call.get("name").cloned().unwrap_or(Value::Null),
                    "arguments": args.to_string()
                }),
            );
            if let Some(signature) = part.get("thoughtSignature") {
                tool_call.insert(THOUGHT_SIGNATURE.into(), signature.clone());
            }
            calls.push(Value::Object(tool_call));
        } else if let Some(text) = part.get("text").and_then(Value::as_str) {
            if part.get("thought").and_then(Value::as_bool) == Some(true) {
                thoughts.push(text);
            } else {
                texts.push(text);
            }
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
    if !thoughts.is_empty() {
        message.insert("reasoning_content".into(), json!(thoughts.join("\n\n")));
    }
    let has_calls = !calls.is_empty();
    if has_calls {
        message.insert("tool_calls".into(), Value::Array(calls));
    }
    let reason = match candidate {
        Some(c) => finish_reason(c.get("finishReason").and_then(Value::as_str), has_calls),
        // No candidate: the prompt itself was blocked.
        None if response.get("promptFeedback").is_some() => json!("content_filter"),
        None => Value::Null,
    };

    let mut out = chat_completion(
        response.get("responseId").cloned().unwrap_or(Value::Null),
        unix_now(),
        response.get("modelVersion").cloned().unwrap_or(Value::Null),
        Value::Object(message),
        reason,
        response.get("usageMetadata").and_then(usage),
    );
    match response.get("promptFeedback") {
        Some(feedback) => {
            out.insert("prompt_feedback".into(), feedback.clone());
        }
        // Neither a candidate nor a blocked prompt: not an answer, and no
        // choice says so (the engine refuses it).
        None if candidate.is_none() => {
            out.insert("choices".into(), json!([]));
        }
        None => {}
    }
    Value::Object(out)
}

/// OpenAI usage for Gemini's `usageMetadata`: thinking tokens are billed as
/// output, so `completion_tokens` = candidates + thoughts and `reasoning_tokens` =
/// thoughts; `promptTokenCount` already includes the cached tokens.
fn usage(metadata: &Value) -> Option<Value> {
    let count = |key: &str| metadata.get(key).and_then(Value::as_u64);
    // Counts are the provider's bytes: add without overflow.
    let prompt = count("promptTokenCount")
        .map(|p| p.saturating_add(count("toolUsePromptTokenCount").unwrap_or(0)));
    let thoughts = count("thoughtsTokenCount");
    let candidates = count("candidatesTokenCount");
    let output = match (candidates, thoughts) {
        (None, None) => None,
        (c, t) => Some(c.unwrap_or(0).saturating_add(t.unwrap_or(0))),
    };
    let mut out = Map::new();
    if let Some(prompt) = prompt {
        out.insert("prompt_tokens".into(), json!(prompt));
    }
    if let Some(output) = output {
        out.insert("completion_tokens".into(), json!(output));
    }
    match (prompt, output) {
        (Some(p), Some(o)) => {
            out.insert("total_tokens".into(), json!(p.saturating_add(o)));
        }
        _ => {
            if let Some(total) = count("totalTokenCount") {
                out.insert("total_tokens".into(), json!(total));
            }
        }
    }
    if let Some(cached) = count("cachedContentTokenCount") {
        out.insert(
            "prompt_tokens_details".into(),
            json!({"cached_tokens": cached}),
        );
    }
    if let Some(thoughts) = thoughts {
        out.insert(
            "completion_tokens_details".into(),
            json!({"reasoning_tokens": thoughts}),
        );
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

/// The delay of a Google `RetryInfo` error detail (`"retryDelay": "37s"`).
pub(crate) fn retry_delay(error: &Value) -> Option<Duration> {
    error
        .get("details")?
        .as_array()?
        .iter()
        .find_map(|detail| detail.get("retryDelay")?.as_str())
        .and_then(|text| text.strip_suffix('s'))
        .and_then(|seconds| seconds.parse::<f64>().ok())
        // A delay too large for a `Duration` ("1e20s") is no usable delay.
        .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn requests_map_to_gemini_shapes() {
        let body = json!({
            "model": "gemini-2.5-flash",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Weather?"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_1", "type": "function", "thought_signature": "sig",
                     "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}
            ],
            "temperature": 0.4,
            "max_tokens": 100,
            "stop": ["END"],
            "service_tier": "auto",
            "reasoning_effort": "low",
            "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": {
                "$schema": "http://json-schema.org/draft-07/schema#",
                "type": "object",
                "additionalProperties": false,
                "properties": {"city": {"type": ["string", "null"]}},
                "required": ["city"]
            }}},
            "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
            "tool_choice": "auto"
        });
        let out = generate_request(&WireRequest::new(body.as_object().cloned().unwrap()));
        assert_eq!(
            out["systemInstruction"],
            json!({"parts": [{"text": "Be brief."}]})
        );
        let contents = out["contents"].as_array().unwrap();
        assert_eq!(
            contents[0],
            json!({"role": "user", "parts": [{"text": "Weather?"}]})
        );
        assert_eq!(
            contents[1]["parts"][0],
            json!({"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "sig"})
        );
        assert_eq!(
            contents[2]["parts"][0],
            json!({"functionResponse": {"name": "get_weather", "response": {"content": "18C"}}})
        );
        assert_eq!(
            contents[2]["parts"][1],
            json!({"inlineData": {"mimeType": "image/png", "data": "AAAA"}})
        );
        let config = &out["generationConfig"];
        assert_eq!(config["temperature"], 0.4);
        assert_eq!(config["maxOutputTokens"], 100);
        assert_eq!(config["stopSequences"], json!(["END"]));
        assert_eq!(config["responseMimeType"], "application/json");
        assert_eq!(
            config["responseSchema"],
            json!({"type": "object", "properties": {"city": {"nullable": true, "type": "string"}}, "required": ["city"]})
        );
        assert_eq!(config["thinkingConfig"], json!({"thinkingBudget": 1024}));
        assert_eq!(
            out["tools"],
            json!([{"functionDeclarations": [{"name": "get_weather", "parameters": {"type": "object"}}]}])
        );
        assert_eq!(
            out["toolConfig"],
            json!({"functionCallingConfig": {"mode": "AUTO"}})
        );
        assert!(out.get("service_tier").is_none());
    }

    #[test]
    fn thoughts_are_reasoning_and_billed_as_output() {
        let response = json!({
            "candidates": [{"content": {"role": "model", "parts": [
                {"text": "Plan.", "thought": true},
                {"text": "{\"a\":"}, {"text": " 1}"}
            ]}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 100, "candidatesTokenCount": 20,
                "thoughtsTokenCount": 50, "cachedContentTokenCount": 40, "totalTokenCount": 170},
            "modelVersion": "gemini-2.5-flash",
            "responseId": "abc"
        });
        let c = completion(&response);
        assert_eq!(c["choices"][0]["message"]["content"], "{\"a\": 1}");
        assert_eq!(c["choices"][0]["message"]["reasoning_content"], "Plan.");
        assert_eq!(c["choices"][0]["finish_reason"], "stop");
        assert_eq!(
            c["usage"],
            json!({"prompt_tokens": 100, "completion_tokens": 70, "total_tokens": 170,
                "prompt_tokens_details": {"cached_tokens": 40},
                "completion_tokens_details": {"reasoning_tokens": 50}})
        );
    }

    #[test]
    fn finish_reasons_and_blocked_prompts() {
        assert_eq!(finish_reason(Some("MAX_TOKENS"), false), json!("length"));
        assert_eq!(
            finish_reason(Some("SAFETY"), false),
            json!("content_filter")
        );
        assert_eq!(finish_reason(Some("STOP"), true), json!("tool_calls"));
        assert_eq!(finish_reason(Some("OTHER"), false), json!("OTHER"));
        let blocked = completion(&json!({"promptFeedback": {"blockReason": "SAFETY"}}));
        assert_eq!(blocked["choices"][0]["finish_reason"], "content_filter");
        assert_eq!(blocked["choices"][0]["message"]["content"], Value::Null);
    }

    #[test]
    fn retry_info_gives_the_delay() {
        let error = json!({"code": 429, "details": [
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure"},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}
        ]});
        assert_eq!(retry_delay(&error), Some(Duration::from_secs(37)));
        assert_eq!(retry_delay(&json!({"code": 429})), None);
    }

    #[test]
    fn huge_delays_and_counts_do_not_panic() {
        for delay in ["1e20s", "1e400s", "-1s", "NaNs", "infs"] {
            let error = json!({"details": [{"retryDelay": delay}]});
            assert_eq!(retry_delay(&error), None, "{delay}");
        }
        let u = usage(
            &json!({"promptTokenCount": u64::MAX, "toolUsePromptTokenCount": 5,
            "candidatesTokenCount": u64::MAX, "thoughtsTokenCount": 7}),
        )
        .unwrap();
        assert_eq!(u["prompt_tokens"], json!(u64::MAX));
        assert_eq!(u["completion_tokens"], json!(u64::MAX));
        assert_eq!(u["total_tokens"], json!(u64::MAX));
    }
}
