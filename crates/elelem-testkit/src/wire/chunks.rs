//! The streamed form of any OpenAI-protocol `chat.completion` body: the chunks a
//! provider sends for that same answer with `stream: true` and
//! `stream_options.include_usage`, so that a plain and a streamed answer say the same
//! thing (content, reasoning fields, tool calls, finish reason and the exact `usage`
//! object, provider extras such as OpenRouter's `cost` or xAI's `cost_in_usd_ticks`
//! included).

use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::{Completion, OpenRouterCompletion};
use crate::ScriptedResponse;

/// Text cut into word pieces (each keeps its trailing space), as models stream it.
fn words(text: &str) -> Vec<&str> {
    text.split_inclusive(' ').collect()
}

/// Where the usage of a streamed answer goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsagePlacement {
    /// OpenAI's `include_usage`: one more chunk with empty `choices` and the `usage`.
    FinalChunk,
    /// GROQ's: `x_groq.usage` on the last chunk.
    XGroq,
}

/// The SSE body streaming `completion` (a `chat.completion` JSON body): a first chunk
/// with the role, the reasoning fields (`reasoning_content`, `reasoning`) and the
/// content per word, each tool call (id and name, then its arguments in two halves),
/// a chunk with the finish reason, the usage placed as `usage` says, then
/// `data: [DONE]`. Unknown top-level fields (`provider`, `x_groq`, ...) are copied onto
/// every chunk.
///
/// ```
/// use elelem_testkit::wire::{completion_stream, Completion, UsagePlacement};
///
/// let plain = Completion::new("gpt-4.1-mini", "Hello there").usage(12, 3).cached(8).to_json();
/// let body = completion_stream(&plain, UsagePlacement::FinalChunk);
/// let text = String::from_utf8(body.to_vec()).unwrap_or_default();
/// assert!(text.contains(r#""delta":{"content":"Hello "}"#));
/// assert!(text.contains(r#""choices":[],"usage":{"prompt_tokens":12"#));
/// assert!(text.ends_with("data: [DONE]\n\n"));
/// ```
pub fn completion_stream(completion: &Value, usage: UsagePlacement) -> Bytes {
    let mut body = String::new();
    for chunk in chunks(completion, usage) {
        body.push_str("data: ");
        body.push_str(&chunk.to_string());
        body.push_str("\n\n");
    }
    body.push_str("data: [DONE]\n\n");
    Bytes::from(body)
}

fn chunks(completion: &Value, placement: UsagePlacement) -> Vec<Value> {
    let mut base = Map::new();
    for (key, value) in completion.as_object().into_iter().flatten() {
        match key.as_str() {
            "choices" | "usage" => {}
            "object" => {
                base.insert(key.clone(), json!("chat.completion.chunk"));
            }
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
    let chunk = |choice: Value| {
        let mut chunk = base.clone();
        chunk.insert("choices".to_owned(), json!([choice]));
        Value::Object(chunk)
    };
    let delta =
        |delta: Value| json!({"index": 0, "delta": delta, "logprobs": null, "finish_reason": null});
    let choice = &completion["choices"][0];
    let message = &choice["message"];
    let mut out = vec![chunk(delta(json!({"role": "assistant", "content": ""})))];
    for field in ["reasoning_content", "reasoning"] {
        if let Some(text) = message.get(field).and_then(Value::as_str) {
            for piece in words(text) {
                out.push(chunk(delta(json!({ field: piece }))));
            }
        }
    }
    if let Some(text) = message.get("content").and_then(Value::as_str) {
        for piece in words(text) {
            out.push(chunk(delta(json!({"content": piece}))));
        }
    }
    let calls = message.get("tool_calls").and_then(Value::as_array);
    for (index, call) in calls.into_iter().flatten().enumerate() {
        let function = &call["function"];
        out.push(chunk(delta(json!({"tool_calls": [{
            "index": index, "id": call["id"], "type": "function",
            "function": {"name": function["name"], "arguments": ""}
        }]}))));
        let arguments = function["arguments"].as_str().unwrap_or_default();
        let middle = (0..=arguments.len() / 2)
            .rev()
            .find(|&i| arguments.is_char_boundary(i))
            .unwrap_or(0);
        for half in [&arguments[..middle], &arguments[middle..]] {
            out.push(chunk(delta(json!({"tool_calls": [{
                "index": index, "function": {"arguments": half}
            }]}))));
        }
    }
    let mut last = chunk(json!({
        "index": 0, "delta": {}, "logprobs": null, "finish_reason": choice["finish_reason"]
    }));
    let usage = completion.get("usage").filter(|u| !u.is_null());
    match (placement, usage) {
        (UsagePlacement::XGroq, Some(usage)) => {
            let mut x_groq = last.get("x_groq").cloned().unwrap_or_else(|| json!({}));
            x_groq["usage"] = usage.clone();
            last["x_groq"] = x_groq;
            out.push(last);
        }
        (UsagePlacement::FinalChunk, Some(usage)) => {
            out.push(last);
            let mut tail = base.clone();
            tail.insert("choices".to_owned(), json!([]));
            tail.insert("usage".to_owned(), usage.clone());
            out.push(Value::Object(tail));
        }
        (_, None) => out.push(last),
    }
    out
}

impl Completion {
    /// The streamed form of this completion ([`completion_stream`]; GROQ's shape puts
    /// the usage in `x_groq.usage`).
    ///
    /// ```
    /// use elelem_testkit::wire::Completion;
    ///
    /// let text = Completion::new("m", "Hi").groq().to_stream_bytes();
    /// assert!(String::from_utf8_lossy(&text).contains(r#""x_groq":{"id""#));
    /// ```
    pub fn to_stream_bytes(&self) -> Bytes {
        let placement = if self.groq {
            UsagePlacement::XGroq
        } else {
            UsagePlacement::FinalChunk
        };
        completion_stream(&self.to_json(), placement)
    }

    /// The streamed answer (`text/event-stream`) to push onto a
    /// [`TestServer`](crate::TestServer).
    ///
    /// ```
    /// use elelem_testkit::wire::Completion;
    ///
    /// let answer = Completion::new("m", "x").into_stream_response();
    /// assert_eq!(answer.header_value("content-type"), Some("text/event-stream"));
    /// ```
    pub fn into_stream_response(self) -> ScriptedResponse {
        ScriptedResponse::raw(200, "text/event-stream", self.to_stream_bytes())
    }
}

impl OpenRouterCompletion {
    /// The streamed form of this completion: the usage, with its exact `cost`, in the
    /// last message before `[DONE]`, as OpenRouter sends it.
    ///
    /// ```
    /// use elelem_testkit::wire::OpenRouterCompletion;
    ///
    /// let text = OpenRouterCompletion::new("openai/gpt-4.1-mini", "Hi").cost("0.0000123").to_stream_bytes();
    /// assert!(String::from_utf8_lossy(&text).contains(r#""cost":0.0000123"#));
    /// ```
    pub fn to_stream_bytes(&self) -> Bytes {
        let body = completion_stream(&self.skeleton(), UsagePlacement::FinalChunk);
        Bytes::from(self.fill_costs(&String::from_utf8_lossy(&body)))
    }

    /// The streamed answer (`text/event-stream`) to push onto a
    /// [`TestServer`](crate::TestServer).
    ///
    /// ```
    /// use elelem_testkit::wire::OpenRouterCompletion;
    ///
    /// let answer = OpenRouterCompletion::new("m", "x").into_stream_response();
    /// assert_eq!(answer.header_value("content-type"), Some("text/event-stream"));
    /// ```
    pub fn into_stream_response(self) -> ScriptedResponse {
        ScriptedResponse::raw(200, "text/event-stream", self.to_stream_bytes())
    }
}
