//! Streamed answers as real providers send them: `data: {chunk}` server-sent
//! events ending with `data: [DONE]`.

use bytes::Bytes;
use serde_json::{json, Value};

use crate::ScriptedResponse;

/// A streamed chat completion in OpenAI's `chat.completion.chunk` shape.
///
/// ```
/// use elelem_testkit::sse::ChunkStream;
/// let body = ChunkStream::new("gpt-4.1-mini", &["Hel", "lo"]).usage(5, 2).to_bytes();
/// let text = String::from_utf8(body.to_vec()).unwrap();
/// assert!(text.starts_with("data: {"));
/// assert!(text.ends_with("data: [DONE]\n\n"));
/// ```
#[derive(Debug, Clone)]
pub struct ChunkStream {
    model: String,
    pieces: Vec<String>,
    usage: Option<(u64, u64)>,
    groq: bool,
    finish_reason: String,
    tool_calls: Vec<Value>,
}

impl ChunkStream {
    /// A stream whose content arrives in these pieces.
    pub fn new(model: &str, pieces: &[&str]) -> Self {
        ChunkStream {
            model: model.to_owned(),
            pieces: pieces.iter().map(|p| (*p).to_owned()).collect(),
            usage: None,
            groq: false,
            finish_reason: "stop".into(),
            tool_calls: Vec::new(),
        }
    }

    /// Adds the final usage (OpenAI: an extra chunk with empty choices; GROQ: in
    /// the last chunk's `x_groq.usage`).
    #[must_use]
    pub fn usage(mut self, prompt_tokens: u64, completion_tokens: u64) -> Self {
        self.usage = Some((prompt_tokens, completion_tokens));
        self
    }

    /// GROQ's shape: `x_groq` on the first and last chunk, usage in `x_groq.usage`.
    #[must_use]
    pub fn groq(mut self) -> Self {
        self.groq = true;
        self
    }

    /// Sets the finish reason (default `stop`).
    #[must_use]
    pub fn finish_reason(mut self, reason: &str) -> Self {
        self.finish_reason = reason.to_owned();
        self
    }

    /// Adds tool-call deltas (each an OpenAI `tool_calls[]` delta with `index`).
    #[must_use]
    pub fn tool_call_deltas(mut self, deltas: Vec<Value>) -> Self {
        self.tool_calls = deltas;
        self
    }

    fn usage_json(&self) -> Option<Value> {
        let (prompt, completion) = self.usage?;
        Some(
            json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}),
        )
    }

    /// The chunks as JSON values, in order.
    pub fn chunks(&self) -> Vec<Value> {
        let base = |choices: Value| {
            json!({
                "id": "chatcmpl-stream-1",
                "object": "chat.completion.chunk",
                "created": 1_741_569_952,
                "model": self.model,
                "system_fingerprint": "fp_testkit",
                "choices": choices
            })
        };
        let mut chunks = Vec::new();
        let mut first = base(
            json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": null, "finish_reason": null}]),
        );
        if self.groq {
            first["x_groq"] = json!({"id": "req_stream_1"});
        }
        chunks.push(first);
        for piece in &self.pieces {
            chunks.push(base(json!([{"index": 0, "delta": {"content": piece}, "logprobs": null, "finish_reason": null}])));
        }
        for delta in &self.tool_calls {
            chunks.push(base(json!([{"index": 0, "delta": {"tool_calls": [delta]}, "logprobs": null, "finish_reason": null}])));
        }
        let mut last = base(
            json!([{"index": 0, "delta": {}, "logprobs": null, "finish_reason": self.finish_reason}]),
        );
        if self.groq {
            last["x_groq"] = json!({"id": "req_stream_1"});
            if let Some(usage) = self.usage_json() {
                last["x_groq"]["usage"] = usage;
            }
        }
        chunks.push(last);
        if !self.groq {
            if let Some(usage) = self.usage_json() {
                let mut tail = base(json!([]));
                tail["usage"] = usage;
                chunks.push(tail);
            }
        }
        chunks
    }

    /// The SSE body: every chunk as a `data:` event, then `data: [DONE]`.
    pub fn to_bytes(&self) -> Bytes {
        let mut body = String::new();
        for chunk in self.chunks() {
            body.push_str("data: ");
            body.push_str(&chunk.to_string());
            body.push_str("\n\n");
        }
        body.push_str("data: [DONE]\n\n");
        Bytes::from(body)
    }

    /// The whole stream as a scripted 200 answer.
    pub fn into_response(self) -> ScriptedResponse {
        ScriptedResponse::raw(200, "text/event-stream", self.to_bytes())
    }
}

impl From<ChunkStream> for ScriptedResponse {
    fn from(stream: ChunkStream) -> Self {
        stream.into_response()
    }
}
