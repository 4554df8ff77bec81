//! Gemini's `streamGenerateContent?alt=sse`: each server-sent event is a
//! `GenerateContentResponse` holding the next parts, mapped to OpenAI
//! `chat.completion.chunk`s.

use elelem_transport::RecordMapper;

use elelem_openai::native::{chat_completion_chunk, tool_call_deltas};
use serde_json::{json, Value};

use elelem_core::provider::ProviderError;

use elelem_core::ChatCompletionChunk;
use elelem_transport::HttpClient;

use crate::convert;

/// Maps Gemini's streamed responses, one at a time, to OpenAI chunks.
pub struct Mapper {
    http: HttpClient,
    id: String,
    model: String,
    created: u64,
    started: bool,
    /// The last `usageMetadata`, mapped to OpenAI usage.
    usage: Option<Value>,
    /// Tool calls so far (OpenAI numbers them from 0).
    tool_calls: u64,
    finished: bool,
}

impl Mapper {
    pub(crate) fn new(http: HttpClient) -> Self {
        Mapper {
            http,
            id: String::new(),
            model: String::new(),
            created: elelem_openai::native::unix_now(),
            started: false,
            usage: None,
            tool_calls: 0,
            finished: false,
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

    /// The chunks for one event's data (one `GenerateContentResponse`).
    pub(crate) fn event(&mut self, data: &str) -> Result<Vec<ChatCompletionChunk>, ProviderError> {
        let response: Value = serde_json::from_str(data).map_err(|e| {
            self.http
                .invalid_piece(format!("a stream event is not JSON: {e}"), data)
        })?;
        if let Some(error) = response.get("error").filter(|error| !error.is_null()) {
            let status = error
                .get("code")
                .and_then(Value::as_u64)
                .and_then(|c| u16::try_from(c).ok())
                .unwrap_or(500);
            return Err(self.http.stream_error(status, data.as_bytes()));
        }
        // The same mapping as a whole answer, applied to this piece.
        let completion = convert::completion(&response);
        if self.id.is_empty() {
            if let Some(id) = completion.get("id").and_then(Value::as_str) {
                self.id = id.to_owned();
            }
        }
        if self.model.is_empty() {
            if let Some(model) = completion.get("model").and_then(Value::as_str) {
                self.model = model.to_owned();
            }
        }
        if let Some(usage) = completion.get("usage") {
            self.usage = Some(usage.clone());
        }
        let choice = completion
            .get("choices")
            .and_then(|c| c.get(0))
            .cloned()
            .unwrap_or(Value::Null);
        let message = choice.get("message").cloned().unwrap_or(Value::Null);
        let mut delta = serde_json::Map::new();
        if !self.started {
            self.started = true;
            delta.insert("role".into(), json!("assistant"));
        }
        for key in ["content", "reasoning_content"] {
            if let Some(text) = message.get(key).filter(|v| v.is_string()) {
                delta.insert(key.into(), text.clone());
            }
        }
        if let Some(calls) = message.get("tool_calls").and_then(Value::as_array) {
            let calls = tool_call_deltas(calls, &mut self.tool_calls);
            delta.insert("tool_calls".into(), Value::Array(calls));
        }
        let candidate = response
            .get("candidates")
            .and_then(|c| c.get(0))
            .cloned()
            .unwrap_or(Value::Null);
        let raw_reason = candidate.get("finishReason").and_then(Value::as_str);
        let blocked = candidate.is_null() && response.get("promptFeedback").is_some();
        let finish_reason = match raw_reason {
            Some("STOP") if self.tool_calls > 0 => json!("tool_calls"),
            Some(_) => choice.get("finish_reason").cloned().unwrap_or(Value::Null),
            None if blocked => json!("content_filter"),
            None => Value::Null,
        };
        if !finish_reason.is_null() {
            self.finished = true;
        }
        if delta.is_empty() && finish_reason.is_null() {
            return Ok(Vec::new());
        }
        Ok(vec![self.chunk(
            json!([{"index": 0, "delta": delta, "finish_reason": finish_reason}]),
            None,
        )?])
    }

    /// The end of the body: a final chunk with the last usage, or an error when
    /// no response carried a finish reason.
    pub(crate) fn finish(&mut self) -> Result<Vec<ChatCompletionChunk>, ProviderError> {
        if !self.finished {
            return Err(self
                .http
                .stream_cut("the stream ended before a response with a `finishReason`"));
        }
        match self.usage.clone() {
            Some(usage) => Ok(vec![self.chunk(json!([]), Some(usage))?]),
            None => Ok(Vec::new()),
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
            name: "gemini".into(),
            base_url: "http://127.0.0.1:9/v1beta".into(),
            api_key: None,
            api_key_env: None,
            timeout: Duration::from_secs(5),
            max_response_bytes: 1 << 20,
        })
        .unwrap();
        Mapper::new(http)
    }

    #[test]
    fn responses_map_to_chunks_and_the_last_usage_wins() {
        let mut m = mapper();
        let events = [
            json!({"candidates": [{"content": {"parts": [{"text": "Let me think", "thought": true}], "role": "model"}, "index": 0}],
                "usageMetadata": {"promptTokenCount": 10, "totalTokenCount": 10}, "modelVersion": "gemini-2.5-flash", "responseId": "r1"}),
            json!({"candidates": [{"content": {"parts": [{"text": "Hel"}], "role": "model"}, "index": 0}],
                "usageMetadata": {"promptTokenCount": 10, "totalTokenCount": 10}, "modelVersion": "gemini-2.5-flash", "responseId": "r1"}),
            json!({"candidates": [{"content": {"parts": [{"text": "lo"}], "role": "model"}, "finishReason": "STOP", "index": 0}],
                "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 4, "thoughtsTokenCount": 3, "totalTokenCount": 17},
                "modelVersion": "gemini-2.5-flash", "responseId": "r1"}),
        ];
        let mut chunks = Vec::new();
        for event in events {
            chunks.extend(m.event(&event.to_string()).unwrap());
        }
        chunks.extend(m.finish().unwrap());
        let json: Vec<Value> = chunks
            .iter()
            .map(|c| serde_json::to_value(c).unwrap())
            .collect();
        assert_eq!(json[0]["id"], "r1");
        assert_eq!(json[0]["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(
            json[0]["choices"][0]["delta"]["reasoning_content"],
            "Let me think"
        );
        assert_eq!(json[1]["choices"][0]["delta"]["content"], "Hel");
        assert_eq!(json[2]["choices"][0]["finish_reason"], "stop");
        assert_eq!(json[3]["choices"], json!([]));
        assert_eq!(json[3]["usage"]["completion_tokens"], 7);
        assert_eq!(
            json[3]["usage"]["completion_tokens_details"]["reasoning_tokens"],
            3
        );
    }

    #[test]
    fn an_end_without_finish_reason_and_an_error_event_are_errors() {
        let mut m = mapper();
        m.event(
            &json!({"candidates": [{"content": {"parts": [{"text": "Hel"}]}, "index": 0}]})
                .to_string(),
        )
        .unwrap();
        assert!(matches!(m.finish(), Err(ProviderError::Connection { .. })));
        let error = m
            .event(r#"{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}"#)
            .unwrap_err();
        assert_eq!(error.kind(), Some(ProviderErrorKind::Server));
    }
}
