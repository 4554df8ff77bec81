//! Bedrock's `converse-stream` events (`messageStart`, `contentBlockStart`,
//! `contentBlockDelta`, `contentBlockStop`, `messageStop`, `metadata`, and
//! exception frames) mapped to OpenAI `chat.completion.chunk`s.

use std::collections::BTreeMap;

use elelem_core::provider::ProviderError;
use elelem_core::ChatCompletionChunk;
use elelem_openai::native::{chat_completion_chunk, unix_now};
use elelem_transport::{HttpClient, RecordMapper};
use serde_json::{json, Value};

use crate::{convert, errors};

/// Maps Converse stream events, one record at a time, to OpenAI chunks.
pub struct Mapper {
    http: HttpClient,
    id: String,
    model: String,
    created: u64,
    /// Content block index -> tool call index (OpenAI numbers tool calls from 0).
    tools: BTreeMap<u64, u64>,
    /// `metadata` (the usage, the last event) came.
    finished: bool,
}

impl Mapper {
    pub(crate) fn new(http: HttpClient, id: String, model: String) -> Self {
        Mapper {
            http,
            id,
            model,
            created: unix_now(),
            tools: BTreeMap::new(),
            finished: false,
        }
    }

    fn chunk(
        &self,
        choices: Value,
        usage: Option<Value>,
    ) -> Result<ChatCompletionChunk, ProviderError> {
        chat_completion_chunk(
            &self.http,
            &self.id,
            self.created,
            &self.model,
            choices,
            usage,
        )
    }

    fn delta(&self, delta: Value) -> Result<Vec<ChatCompletionChunk>, ProviderError> {
        Ok(vec![self.chunk(
            json!([{"index": 0, "delta": delta, "finish_reason": null}]),
            None,
        )?])
    }

    /// The tool call index of content block `block`, numbering new ones.
    fn tool_index(&mut self, block: u64) -> u64 {
        let next = self.tools.len() as u64;
        *self.tools.entry(block).or_insert(next)
    }

    fn event(
        &mut self,
        name: &str,
        payload: &Value,
    ) -> Result<Vec<ChatCompletionChunk>, ProviderError> {
        let block = payload
            .get("contentBlockIndex")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        match name {
            "messageStart" => self.delta(json!({"role": "assistant"})),
            "contentBlockStart" => {
                let Some(tool) = payload.get("start").and_then(|s| s.get("toolUse")) else {
                    return Ok(Vec::new());
                };
                let index = self.tool_index(block);
                self.delta(json!({"tool_calls": [{
                    "index": index,
                    "id": tool.get("toolUseId").cloned().unwrap_or(Value::Null),
                    "type": "function",
                    "function": {"name": tool.get("name").cloned().unwrap_or(Value::Null), "arguments": ""}
                }]}))
            }
            "contentBlockDelta" => {
                let delta = payload.get("delta").cloned().unwrap_or(Value::Null);
                if let Some(text) = delta.get("text").and_then(Value::as_str) {
                    self.delta(json!({"content": text}))
                } else if let Some(input) = delta
                    .get("toolUse")
                    .and_then(|t| t.get("input"))
                    .and_then(Value::as_str)
                {
                    let index = self.tool_index(block);
                    self.delta(
                        json!({"tool_calls": [{"index": index, "function": {"arguments": input}}]}),
                    )
                } else if let Some(text) = delta
                    .get("reasoningContent")
                    .and_then(|r| r.get("text"))
                    .and_then(Value::as_str)
                {
                    self.delta(json!({"reasoning_content": text}))
                } else {
                    Ok(Vec::new())
                }
            }
            "messageStop" => {
                let reason = payload.get("stopReason").and_then(Value::as_str);
                Ok(vec![self.chunk(
                    json!([{"index": 0, "delta": {}, "finish_reason": convert::finish_reason(reason)}]),
                    None,
                )?])
            }
            "metadata" => {
                self.finished = true;
                let usage = payload.get("usage").and_then(convert::usage);
                Ok(vec![self.chunk(json!([]), usage)?])
            }
            // contentBlockStop and event types added later carry nothing.
            _ => Ok(Vec::new()),
        }
    }
}

impl RecordMapper for Mapper {
    fn record(&mut self, record: &str) -> Result<Vec<ChatCompletionChunk>, ProviderError> {
        let (head, payload) = record.split_once('\n').unwrap_or((record, ""));
        let head: (String, String, String) = serde_json::from_str(head).map_err(|e| {
            self.http
                .invalid_piece(format!("a frame head is not readable: {e}"), head)
        })?;
        let (kind, name, message) = head;
        if kind != "event" {
            // An exception (or error) frame ends the stream, classified like the
            // same error answered before the stream.
            let body = if payload.trim().is_empty() {
                json!({"message": message}).to_string()
            } else {
                payload.to_owned()
            };
            let error = self
                .http
                .stream_error(errors::status_of(&name), body.as_bytes());
            return Err(errors::classify(error, Some(&name)));
        }
        let payload: Value = if payload.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(payload).map_err(|e| {
                self.http
                    .invalid_piece(format!("a {name} event is not JSON: {e}"), payload)
            })?
        };
        self.event(&name, &payload)
    }

    fn finish(&mut self) -> Result<Vec<ChatCompletionChunk>, ProviderError> {
        if self.finished {
            Ok(Vec::new())
        } else {
            Err(self
                .http
                .stream_cut("the stream ended before its `metadata` event (the usage)"))
        }
    }
}
