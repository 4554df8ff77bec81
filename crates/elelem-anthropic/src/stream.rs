//! Anthropic's streamed Messages answer (server-sent events `message_start`,
//! `content_block_*`, `message_delta`, `message_stop`, `ping`, `error`) mapped to
//! OpenAI `chat.completion.chunk`s.

use elelem_transport::RecordMapper;
use std::collections::BTreeMap;

use elelem_openai::native::chat_completion_chunk;
use serde_json::{json, Map, Value};

use elelem_core::provider::ProviderError;

use elelem_core::ChatCompletionChunk;
use elelem_transport::HttpClient;

use crate::convert;

/// The HTTP status Anthropic uses for an error type, so that an `error` event is
/// classified like the same error answered before the stream.
fn status_of(error_type: Option<&str>) -> u16 {
    match error_type {
        Some("invalid_request_error") => 400,
        Some("authentication_error") => 401,
        Some("billing_error") => 402,
        Some("permission_error") => 403,
        Some("not_found_error") => 404,
        Some("request_too_large") => 413,
        Some("rate_limit_error") => 429,
        Some("overloaded_error") => 529,
        _ => 500,
    }
}

/// Maps Anthropic's events, one at a time, to OpenAI chunks.
pub struct Mapper {
    http: HttpClient,
    id: String,
    model: String,
    created: u64,
    /// Usage so far: `message_start`'s, updated by each `message_delta`.
    usage: Map<String, Value>,
    /// Content block index -> tool call index (OpenAI numbers tool calls from 0).
    tools: BTreeMap<u64, u64>,
    stopped: bool,
}

impl Mapper {
    pub(crate) fn new(http: HttpClient) -> Self {
        Mapper {
            http,
            id: String::new(),
            model: String::new(),
            created: elelem_openai::native::unix_now(),
            usage: Map::new(),
            tools: BTreeMap::new(),
            stopped: false,
        }
    }

    fn chunk(
        &self,
        choices: Value,
        usage: Option<Value>,
    ) -> Result<ChatCompletionChunk, ProviderError> {
        let (id, model) = (&self.id, &self.model);
        chat_completion_chunk(&self.http, id, self.created, model, choices, usage)
    }

    fn delta(&self, delta: Value) -> Result<ChatCompletionChunk, ProviderError> {
        self.chunk(
            json!([{"index": 0, "delta": delta, "finish_reason": null}]),
            None,
        )
    }

    fn merge_usage(&mut self, usage: Option<&Value>) {
        if let Some(usage) = usage.and_then(Value::as_object) {
            for (key, value) in usage {
                if !value.is_null() {
                    self.usage.insert(key.clone(), value.clone());
                }
            }
        }
    }

    /// The chunks for one event's data.
    pub(crate) fn event(&mut self, data: &str) -> Result<Vec<ChatCompletionChunk>, ProviderError> {
        let event: Value = serde_json::from_str(data).map_err(|e| {
            self.http
                .invalid_piece(format!("a stream event is not JSON: {e}"), data)
        })?;
        let text =
            |value: &Value, key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
        match event.get("type").and_then(Value::as_str) {
            Some("message_start") => {
                let message = event.get("message").cloned().unwrap_or(Value::Null);
                self.id = text(&message, "id").unwrap_or_default();
                self.model = text(&message, "model").unwrap_or_default();
                self.merge_usage(message.get("usage"));
                Ok(vec![self.delta(json!({"role": "assistant"}))?])
            }
            Some("content_block_start") => {
                let block = event.get("content_block").cloned().unwrap_or(Value::Null);
                let index = event.get("index").and_then(Value::as_u64).unwrap_or(0);
                match block.get("type").and_then(Value::as_str) {
                    Some("tool_use") => {
                        let tool = self.tools.len() as u64;
                        self.tools.insert(index, tool);
                        Ok(vec![self.delta(json!({"tool_calls": [{
                            "index": tool,
                            "id": block.get("id").cloned().unwrap_or(Value::Null),
                            "type": "function",
                            "function": {
                                "name": block.get("name").cloned().unwrap_or(Value::Null),
                                "arguments": ""
                            }
                        }]}))?])
                    }
                    Some("text") => match text(&block, "text").filter(|t| !t.is_empty()) {
                        Some(text) => Ok(vec![self.delta(json!({"content": text}))?]),
                        None => Ok(Vec::new()),
                    },
                    Some("thinking") => match text(&block, "thinking").filter(|t| !t.is_empty()) {
                        Some(text) => Ok(vec![self.delta(json!({"reasoning_content": text}))?]),
                        None => Ok(Vec::new()),
                    },
                    _ => Ok(Vec::new()),
                }
            }
            Some("content_block_delta") => {
                let delta = event.get("delta").cloned().unwrap_or(Value::Null);
                let index = event.get("index").and_then(Value::as_u64).unwrap_or(0);
                let out = match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => {
                        json!({"content": text(&delta, "text").unwrap_or_default()})
                    }
                    Some("thinking_delta") => {
                        json!({"reasoning_content": text(&delta, "thinking").unwrap_or_default()})
                    }
                    Some("input_json_delta") => {
                        let tool = self.tools.get(&index).copied().unwrap_or(index);
                        json!({"tool_calls": [{
                            "index": tool,
                            "function": {"arguments": text(&delta, "partial_json").unwrap_or_default()}
                        }]})
                    }
                    // signature_delta and unknown deltas carry no text.
                    _ => return Ok(Vec::new()),
                };
                Ok(vec![self.delta(out)?])
            }
            Some("message_delta") => {
                self.merge_usage(event.get("usage"));
                let stop_reason = event
                    .get("delta")
                    .and_then(|d| d.get("stop_reason"))
                    .and_then(Value::as_str);
                match stop_reason {
                    Some(reason) => Ok(vec![self.chunk(
                        json!([{"index": 0, "delta": {}, "finish_reason": convert::finish_reason(Some(reason))}]),
                        None,
                    )?]),
                    None => Ok(Vec::new()),
                }
            }
            Some("message_stop") => {
                self.stopped = true;
                let usage = convert::usage(&Value::Object(self.usage.clone()));
                Ok(vec![self.chunk(json!([]), usage)?])
            }
            Some("error") => {
                let error_type = event
                    .get("error")
                    .and_then(|e| e.get("type"))
                    .and_then(Value::as_str);
                Err(self
                    .http
                    .stream_error(status_of(error_type), data.as_bytes()))
            }
            // ping, content_block_stop and event types added later.
            _ => Ok(Vec::new()),
        }
    }

    /// The end of the body: an error unless `message_stop` came.
    pub(crate) fn finish(&mut self) -> Result<Vec<ChatCompletionChunk>, ProviderError> {
        if self.stopped {
            Ok(Vec::new())
        } else {
            Err(self
                .http
                .stream_cut("the stream ended before `message_stop`"))
        }
    }
}

impl RecordMapper for Mapper {
    fn record(&mut self, record: &str) -> Result<Vec<ChatCompletionChunk>, ProviderError> {
        self.event(record)
    }

    fn finish(&mut self) -> Result<Vec<ChatCompletionChunk>, ProviderError> {
        Mapper::finish(self)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::time::Duration;

    use elelem_core::provider::{ProviderErrorKind, ProviderSettings};

    use super::*;

    fn mapper() -> Mapper {
        let http = HttpClient::new(ProviderSettings {
            name: "anthropic".into(),
            base_url: "http://127.0.0.1:9/v1".into(),
            api_key: None,
            api_key_env: None,
            timeout: Duration::from_secs(5),
            max_response_bytes: 1 << 20,
        })
        .unwrap();
        Mapper::new(http)
    }

    #[test]
    fn events_map_to_chunks_with_cumulative_usage() {
        let mut m = mapper();
        let events = [
            json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude", "content": [], "stop_reason": null, "usage": {"input_tokens": 10, "cache_creation_input_tokens": 20, "cache_read_input_tokens": 30, "output_tokens": 1}}}),
            json!({"type": "ping"}),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "hmm"}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "abc"}}),
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}}),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"a\":"}}),
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 7}}),
            json!({"type": "message_stop"}),
        ];
        let mut chunks = Vec::new();
        for event in events {
            chunks.extend(m.event(&event.to_string()).unwrap());
        }
        assert!(m.finish().unwrap().is_empty());
        let json: Vec<Value> = chunks
            .iter()
            .map(|c| serde_json::to_value(c).unwrap())
            .collect();
        assert_eq!(json[0]["id"], "msg_1");
        assert_eq!(json[0]["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(json[1]["choices"][0]["delta"]["reasoning_content"], "hmm");
        assert_eq!(
            json[2]["choices"][0]["delta"]["tool_calls"][0]["id"],
            "toolu_1"
        );
        assert_eq!(json[3]["choices"][0]["delta"]["tool_calls"][0]["index"], 0);
        assert_eq!(json[4]["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(
            json[5]["usage"],
            json!({"prompt_tokens": 60, "completion_tokens": 7, "total_tokens": 67,
                "prompt_tokens_details": {"cached_tokens": 30, "cache_write_tokens": 20}})
        );
    }

    #[test]
    fn an_overloaded_event_is_a_server_error_and_a_missing_stop_is_an_error() {
        let mut m = mapper();
        let error = m
            .event(r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#)
            .unwrap_err();
        assert_eq!(error.kind(), Some(ProviderErrorKind::Server));
        assert!(error.is_retryable());
        assert!(matches!(m.finish(), Err(ProviderError::Connection { .. })));
    }
}
