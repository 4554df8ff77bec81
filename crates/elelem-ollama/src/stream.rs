//! Ollama's streamed `/api/chat` answer: newline-delimited JSON records (not
//! server-sent events), each with the next piece of `message`, the last with
//! `done: true` and the counts, mapped to OpenAI `chat.completion.chunk`s.

use elelem_transport::RecordMapper;

use elelem_openai::native::{chat_completion_chunk, tool_call_deltas};
use serde_json::{json, Value};

use elelem_core::provider::ProviderError;
use elelem_core::ChatCompletionChunk;
use elelem_transport::HttpClient;

use crate::convert;

/// Maps Ollama's records, one at a time, to OpenAI chunks.
pub struct Mapper {
    http: HttpClient,
    id: String,
    model: String,
    created: u64,
    started: bool,
    /// Tool calls so far (OpenAI numbers them from 0).
    tool_calls: u64,
    done: bool,
}

impl Mapper {
    pub(crate) fn new(http: HttpClient) -> Self {
        Mapper {
            http,
            id: String::new(),
            model: String::new(),
            created: 0,
            started: false,
            tool_calls: 0,
            done: false,
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

    /// The chunks for one record (one line).
    pub(crate) fn record(
        &mut self,
        line: &[u8],
    ) -> Result<Vec<ChatCompletionChunk>, ProviderError> {
        let record: Value = serde_json::from_slice(line).map_err(|e| {
            self.http.invalid_piece(
                format!("a stream record is not JSON: {e}"),
                &String::from_utf8_lossy(line),
            )
        })?;
        if record.get("error").is_some_and(|error| !error.is_null()) {
            return Err(self.http.stream_error(500, line));
        }
        // The same mapping as a whole answer, applied to this record.
        let completion = convert::completion(&record);
        let mut delta = serde_json::Map::new();
        if !self.started {
            self.started = true;
            let text = |key: &str| {
                completion
                    .get(key)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            self.id = text("id");
            self.model = text("model");
            self.created = completion
                .get("created")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            delta.insert("role".into(), json!("assistant"));
        }
        let choice = completion
            .get("choices")
            .and_then(|c| c.get(0))
            .cloned()
            .unwrap_or(Value::Null);
        let message = choice.get("message").cloned().unwrap_or(Value::Null);
        for key in ["content", "reasoning_content"] {
            if let Some(text) = message
                .get(key)
                .filter(|v| v.as_str().is_some_and(|t| !t.is_empty()))
            {
                delta.insert(key.into(), text.clone());
            }
        }
        if let Some(calls) = message.get("tool_calls").and_then(Value::as_array) {
            let calls = tool_call_deltas(calls, &mut self.tool_calls);
            delta.insert("tool_calls".into(), Value::Array(calls));
        }
        let done = record.get("done").and_then(Value::as_bool) == Some(true);
        let finish_reason = match choice.get("finish_reason") {
            _ if !done => Value::Null,
            _ if self.tool_calls > 0 => json!("tool_calls"),
            Some(reason) if !reason.is_null() => reason.clone(),
            _ => json!("stop"),
        };
        let mut chunks = Vec::new();
        if !delta.is_empty() || !finish_reason.is_null() {
            chunks.push(self.chunk(
                json!([{"index": 0, "delta": delta, "finish_reason": finish_reason}]),
                None,
            )?);
        }
        if done {
            self.done = true;
            if let Some(usage) = completion.get("usage") {
                chunks.push(self.chunk(json!([]), Some(usage.clone()))?);
            }
        }
        Ok(chunks)
    }

    /// The end of the body: an error unless a record said `done: true`.
    pub(crate) fn finish(&mut self) -> Result<Vec<ChatCompletionChunk>, ProviderError> {
        if self.done {
            Ok(Vec::new())
        } else {
            Err(self
                .http
                .stream_cut("the stream ended before a record with `done: true`"))
        }
    }
}

impl RecordMapper for Mapper {
    fn record(&mut self, record: &str) -> Result<Vec<ChatCompletionChunk>, ProviderError> {
        Mapper::record(self, record.as_bytes())
    }

    fn finish(&mut self) -> Result<Vec<ChatCompletionChunk>, ProviderError> {
        Mapper::finish(self)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::time::Duration;

    use elelem_core::provider::ProviderSettings;

    use elelem_transport::{Framing, NdjsonFraming, Record};

    use super::*;

    /// A recorded `/api/chat` stream (with multi-byte characters).
    const RECORDED: &str = concat!(
        r#"{"model":"qwen3:8b","created_at":"2025-10-17T23:14:05.1Z","message":{"role":"assistant","content":"","thinking":"Réfléchir…"},"done":false}"#,
        "\n",
        r#"{"model":"qwen3:8b","created_at":"2025-10-17T23:14:05.2Z","message":{"role":"assistant","content":"Grüße "},"done":false}"#,
        "\r\n",
        r#"{"model":"qwen3:8b","created_at":"2025-10-17T23:14:05.3Z","message":{"role":"assistant","content":"🦙!"},"done":false}"#,
        "\n\n",
        r#"{"model":"qwen3:8b","created_at":"2025-10-17T23:14:07.4Z","message":{"role":"assistant","content":""},"done_reason":"stop","done":true,"total_duration":5191566416,"prompt_eval_count":26,"eval_count":12}"#,
        "\n"
    );

    fn mapper() -> Mapper {
        let http = HttpClient::new(ProviderSettings {
            name: "ollama".into(),
            base_url: "http://127.0.0.1:9".into(),
            api_key: None,
            api_key_env: None,
            timeout: Duration::from_secs(5),
            max_response_bytes: 1 << 20,
        })
        .unwrap();
        Mapper::new(http)
    }

    fn lines_of(pieces: &[&[u8]]) -> Vec<String> {
        let mut splitter = NdjsonFraming::default();
        let mut lines = Vec::new();
        let mut take = |splitter: &mut NdjsonFraming| {
            while let Some(record) = splitter.next_record() {
                match record.unwrap() {
                    Record::Data(line) => lines.push(line),
                    Record::Done => panic!("NDJSON has no end marker"),
                }
            }
        };
        for piece in pieces {
            splitter.push(piece);
            take(&mut splitter);
        }
        splitter.end();
        take(&mut splitter);
        lines
    }

    #[test]
    fn a_recorded_stream_cut_at_every_byte_gives_the_same_records() {
        let bytes = RECORDED.as_bytes();
        let whole = lines_of(&[bytes]);
        assert_eq!(whole.len(), 4);
        for cut in 0..=bytes.len() {
            assert_eq!(
                lines_of(&[&bytes[..cut], &bytes[cut..]]),
                whole,
                "cut at {cut}"
            );
        }
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(lines_of(&singles), whole);
    }

    #[test]
    fn a_last_line_without_newline_is_returned_at_the_end() {
        assert_eq!(
            lines_of(&[b"{\"a\":1}\n{\"b\"", b":2}"]),
            vec!["{\"a\":1}", "{\"b\":2}"]
        );
    }

    #[test]
    fn records_map_to_chunks_with_the_final_usage() {
        let mut m = mapper();
        let mut chunks = Vec::new();
        for line in lines_of(&[RECORDED.as_bytes()]) {
            chunks.extend(m.record(line.as_bytes()).unwrap());
        }
        assert!(m.finish().unwrap().is_empty());
        let json: Vec<Value> = chunks
            .iter()
            .map(|c| serde_json::to_value(c).unwrap())
            .collect();
        assert_eq!(json[0]["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(
            json[0]["choices"][0]["delta"]["reasoning_content"],
            "Réfléchir…"
        );
        assert_eq!(json[1]["choices"][0]["delta"]["content"], "Grüße ");
        assert_eq!(json[2]["choices"][0]["delta"]["content"], "🦙!");
        assert_eq!(json[3]["choices"][0]["finish_reason"], "stop");
        assert_eq!(
            json[4]["usage"],
            json!({"prompt_tokens": 26, "completion_tokens": 12, "total_tokens": 38})
        );
        assert!(json.iter().all(|c| c["id"] == json[0]["id"]));
    }

    #[test]
    fn a_stream_without_done_is_an_error() {
        let mut m = mapper();
        m.record(br#"{"model":"m","message":{"role":"assistant","content":"Hi"},"done":false}"#)
            .unwrap();
        assert!(matches!(m.finish(), Err(ProviderError::Connection { .. })));
        assert!(m.record(br#"{"error":"model runner crashed"}"#).is_err());
    }

    #[test]
    fn a_null_error_does_not_end_the_stream() {
        let mut m = mapper();
        let chunks = m
            .record(br#"{"model":"m","message":{"role":"assistant","content":"Hi"},"error":null,"done":false}"#)
            .unwrap();
        assert_eq!(chunks[0].choices[0].delta.content.as_deref(), Some("Hi"));
    }
}
