//! The streamed forms of the native answers: Anthropic's server-sent events,
//! Gemini's `streamGenerateContent?alt=sse` events and Ollama's
//! newline-delimited JSON records, built from the same builders as the whole
//! answers so that a streamed and a plain answer say the same thing.

use bytes::Bytes;
use serde_json::{json, Value};

use super::{AnthropicMessage, GeminiResponse, OllamaChat};
use crate::ScriptedResponse;

/// Text cut into word pieces (each keeps its trailing space), as models stream it.
fn pieces(text: &str) -> Vec<String> {
    text.split_inclusive(' ').map(str::to_owned).collect()
}

/// A string cut in two near its middle (on a character boundary).
fn halves(text: &str) -> Vec<String> {
    let mut middle = text.len() / 2;
    while !text.is_char_boundary(middle) {
        middle += 1;
    }
    [&text[..middle], &text[middle..]]
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| (*p).to_owned())
        .collect()
}

fn sse_event(body: &mut String, name: &str, data: &Value) {
    body.push_str("event: ");
    body.push_str(name);
    body.push_str("\ndata: ");
    body.push_str(&data.to_string());
    body.push_str("\n\n");
}

impl AnthropicMessage {
    /// The streamed form of this message, as Anthropic sends it with
    /// `stream: true`: `message_start` (input usage), a `ping`, each content
    /// block as `content_block_start` / `content_block_delta`s (`thinking_delta`
    /// and `signature_delta`, `text_delta` per word, `input_json_delta` in two
    /// halves) / `content_block_stop`, `message_delta` (stop reason, cumulative
    /// `output_tokens`) and `message_stop`.
    ///
    /// ```
    /// use elelem_testkit::wire::AnthropicMessage;
    ///
    /// let body = AnthropicMessage::new("claude-haiku-4-5", "Hello there").to_stream_bytes();
    /// let text = String::from_utf8(body.to_vec()).unwrap();
    /// assert!(text.starts_with("event: message_start\ndata: {"));
    /// assert!(text.contains("event: content_block_delta\n"));
    /// assert!(text.contains(r#""text":"Hello ""#) && text.contains(r#""text":"there""#));
    /// assert!(text.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"));
    /// ```
    pub fn to_stream_bytes(&self) -> Bytes {
        let message = self.to_json();
        let usage = message.get("usage").cloned().unwrap_or(Value::Null);
        let mut start_usage = usage.clone();
        start_usage["output_tokens"] = json!(1);
        let mut body = String::new();
        sse_event(
            &mut body,
            "message_start",
            &json!({"type": "message_start", "message": {
                "id": message["id"], "type": "message", "role": "assistant",
                "model": message["model"], "content": [], "stop_reason": null,
                "stop_sequence": null, "usage": start_usage
            }}),
        );
        sse_event(&mut body, "ping", &json!({"type": "ping"}));
        let blocks = message
            .get("content")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for (index, block) in blocks.iter().enumerate() {
            let delta = |delta: Value| json!({"type": "content_block_delta", "index": index, "delta": delta});
            let mut deltas = Vec::new();
            let start = match block.get("type").and_then(Value::as_str) {
                Some("thinking") => {
                    let text = block["thinking"].as_str().unwrap_or_default();
                    for piece in pieces(text) {
                        deltas.push(delta(json!({"type": "thinking_delta", "thinking": piece})));
                    }
                    deltas.push(delta(
                        json!({"type": "signature_delta", "signature": block["signature"]}),
                    ));
                    json!({"type": "thinking", "thinking": "", "signature": ""})
                }
                Some("tool_use") => {
                    let input = block["input"].to_string();
                    for piece in halves(&input) {
                        deltas.push(delta(
                            json!({"type": "input_json_delta", "partial_json": piece}),
                        ));
                    }
                    json!({"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}})
                }
                _ => {
                    let text = block["text"].as_str().unwrap_or_default();
                    for piece in pieces(text) {
                        deltas.push(delta(json!({"type": "text_delta", "text": piece})));
                    }
                    json!({"type": "text", "text": ""})
                }
            };
            sse_event(
                &mut body,
                "content_block_start",
                &json!({"type": "content_block_start", "index": index, "content_block": start}),
            );
            for delta in deltas {
                sse_event(&mut body, "content_block_delta", &delta);
            }
            sse_event(
                &mut body,
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": index}),
            );
        }
        sse_event(
            &mut body,
            "message_delta",
            &json!({"type": "message_delta",
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": null},
                "usage": {"output_tokens": usage["output_tokens"]}}),
        );
        sse_event(&mut body, "message_stop", &json!({"type": "message_stop"}));
        Bytes::from(body)
    }

    /// The streamed answer (`text/event-stream`) to push onto a
    /// [`TestServer`](crate::TestServer).
    ///
    /// ```
    /// use elelem_testkit::wire::AnthropicMessage;
    ///
    /// let answer = AnthropicMessage::new("m", "x").into_stream_response();
    /// assert_eq!(answer.header_value("content-type"), Some("text/event-stream"));
    /// ```
    pub fn into_stream_response(self) -> ScriptedResponse {
        ScriptedResponse::raw(200, "text/event-stream", self.to_stream_bytes())
    }
}

impl GeminiResponse {
    /// The streamed form of this response, as `streamGenerateContent?alt=sse`
    /// sends it: one `data:` event per piece (thought parts first, text per
    /// word), each with a partial `usageMetadata`; the last one carries the
    /// `finishReason` and the full `usageMetadata`. Events end with `\r\n\r\n`.
    ///
    /// ```
    /// use elelem_testkit::wire::GeminiResponse;
    ///
    /// let body = GeminiResponse::new("gemini-2.5-flash", "Hello there").to_stream_bytes();
    /// let text = String::from_utf8(body.to_vec()).unwrap();
    /// assert_eq!(text.matches("data: ").count(), 2);
    /// assert!(text.contains(r#""finishReason":"STOP""#));
    /// ```
    pub fn to_stream_bytes(&self) -> Bytes {
        let whole = self.to_json();
        let candidate = &whole["candidates"][0];
        let usage = whole.get("usageMetadata").cloned().unwrap_or(Value::Null);
        let partial_usage = json!({
            "promptTokenCount": usage["promptTokenCount"],
            "totalTokenCount": usage["promptTokenCount"],
            "promptTokensDetails": usage["promptTokensDetails"]
        });
        let mut parts = Vec::new();
        for part in candidate["content"]["parts"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            match part.get("text").and_then(Value::as_str) {
                Some(text) if part.get("thought").is_none() => {
                    for piece in pieces(text) {
                        parts.push(json!({"text": piece}));
                    }
                }
                _ => parts.push(part.clone()),
            }
        }
        if parts.is_empty() {
            parts.push(json!({"text": ""}));
        }
        let last = parts.len() - 1;
        let mut body = String::new();
        for (index, part) in parts.into_iter().enumerate() {
            let mut candidate_out =
                json!({"content": {"parts": [part], "role": "model"}, "index": 0});
            let mut response = json!({
                "candidates": [],
                "usageMetadata": partial_usage,
                "modelVersion": whole["modelVersion"],
                "responseId": whole["responseId"]
            });
            if index == last {
                candidate_out["finishReason"] = candidate["finishReason"].clone();
                response["usageMetadata"] = usage.clone();
            }
            response["candidates"] = json!([candidate_out]);
            body.push_str("data: ");
            body.push_str(&response.to_string());
            body.push_str("\r\n\r\n");
        }
        Bytes::from(body)
    }

    /// The streamed answer (`text/event-stream`) to push onto a
    /// [`TestServer`](crate::TestServer).
    ///
    /// ```
    /// use elelem_testkit::wire::GeminiResponse;
    ///
    /// let answer = GeminiResponse::new("m", "x").into_stream_response();
    /// assert_eq!(answer.header_value("content-type"), Some("text/event-stream"));
    /// ```
    pub fn into_stream_response(self) -> ScriptedResponse {
        ScriptedResponse::raw(200, "text/event-stream", self.to_stream_bytes())
    }
}

impl OllamaChat {
    /// The streamed form of this answer, as `/api/chat` sends it by default:
    /// newline-delimited JSON records, the thinking then the content per word
    /// (tool calls in one record), and a last record with `done: true`, the
    /// `done_reason`, the counts and the durations.
    ///
    /// ```
    /// use elelem_testkit::wire::OllamaChat;
    ///
    /// let body = OllamaChat::new("llama3.2", "Hello there").to_stream_bytes();
    /// let text = String::from_utf8(body.to_vec()).unwrap();
    /// let records: Vec<serde_json::Value> =
    ///     text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    /// assert_eq!(records.len(), 3);
    /// assert_eq!(records[0]["message"]["content"], "Hello ");
    /// assert_eq!(records[2]["done"], true);
    /// ```
    pub fn to_stream_bytes(&self) -> Bytes {
        let whole = self.to_json();
        let message = &whole["message"];
        let record = |message: Value| {
            json!({"model": whole["model"], "created_at": whole["created_at"],
                "message": message, "done": false})
        };
        let mut records = Vec::new();
        if let Some(thinking) = message.get("thinking").and_then(Value::as_str) {
            for piece in pieces(thinking) {
                records.push(record(
                    json!({"role": "assistant", "content": "", "thinking": piece}),
                ));
            }
        }
        if let Some(calls) = message.get("tool_calls") {
            records.push(record(
                json!({"role": "assistant", "content": "", "tool_calls": calls}),
            ));
        }
        for piece in pieces(message["content"].as_str().unwrap_or_default()) {
            records.push(record(json!({"role": "assistant", "content": piece})));
        }
        let mut last = whole.clone();
        last["message"] = json!({"role": "assistant", "content": ""});
        records.push(last);
        let mut body = String::new();
        for record in records {
            body.push_str(&record.to_string());
            body.push('\n');
        }
        Bytes::from(body)
    }

    /// The streamed answer (`application/x-ndjson`) to push onto a
    /// [`TestServer`](crate::TestServer).
    ///
    /// ```
    /// use elelem_testkit::wire::OllamaChat;
    ///
    /// let answer = OllamaChat::new("m", "x").into_stream_response();
    /// assert_eq!(answer.header_value("content-type"), Some("application/x-ndjson"));
    /// ```
    pub fn into_stream_response(self) -> ScriptedResponse {
        ScriptedResponse::raw(200, "application/x-ndjson", self.to_stream_bytes())
    }
}
