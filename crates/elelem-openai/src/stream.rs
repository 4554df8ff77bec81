//! Streaming over the OpenAI protocol: SSE `data:` chunks until `data: [DONE]`.

use std::collections::VecDeque;
use std::sync::Arc;

use serde_json::Value;

use elelem_core::provider::{ProviderError, ProviderStream, WireRequest};
use elelem_core::sse::{SseDecoder, SseEvent};
use elelem_core::ChatCompletionChunk;

use crate::http_error::redact;
use crate::transport::OpenAiCompatible;
use crate::HttpStream;

/// Where a stream's decoding stands.
/// Whether an SSE `data:` payload can be an error object: it has an `"error"` string
/// (as a key, or as a value). Text in a chunk's content has its quotes escaped.
fn may_hold_error(data: &str) -> bool {
    data.contains("\"error\"")
}

struct Decoding {
    transport: Arc<OpenAiCompatible>,
    response: HttpStream,
    decoder: SseDecoder,
    pending: VecDeque<Result<SseEvent, elelem_core::sse::SseError>>,
    ended: bool,
    done: bool,
}

impl Decoding {
    fn error_in_stream(&self, data: &str) -> Option<ProviderError> {
        // Parsing every chunk into a `Value` first cost more than the chunk itself
        // (issue 7's profile): only a chunk that has an `"error"` string somewhere
        // (a key, or a value) can be an error object, and only it is looked at.
        if !may_hold_error(data) {
            return None;
        }
        let value: Value = serde_json::from_str(data).ok()?;
        let error = value.get("error")?;
        let message = error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("no message");
        Some(ProviderError::invalid_body(
            self.transport.client().name(),
            format!("the provider reported an error mid-stream: {message}"),
            &redact(data, self.transport.client().settings().api_key.as_ref()),
        ))
    }

    fn chunk(&self, data: &str) -> Result<ChatCompletionChunk, ProviderError> {
        if let Some(error) = self.error_in_stream(data) {
            return Err(error);
        }
        let mut chunk: ChatCompletionChunk = serde_json::from_str(data).map_err(|e| {
            ProviderError::invalid_body(self.transport.client().name(), e.to_string(), data)
        })?;
        let quirks = self.transport.quirks();
        quirks.adapt_chunk(&mut chunk);
        if let Some(usage) = chunk.usage.as_mut() {
            quirks.adapt_usage(usage);
        }
        Ok(chunk)
    }

    /// The next chunk, or `None` after `[DONE]` or an error.
    async fn next(&mut self) -> Option<Result<ChatCompletionChunk, ProviderError>> {
        if self.done {
            return None;
        }
        loop {
            let event = self
                .pending
                .pop_front()
                .or_else(|| self.decoder.next_event());
            match event {
                Some(Ok(SseEvent::Data(data))) => {
                    let chunk = self.chunk(&data);
                    self.done = chunk.is_err();
                    return Some(chunk);
                }
                Some(Ok(SseEvent::Done)) => {
                    self.done = true;
                    return None;
                }
                Some(Err(error)) => {
                    self.done = true;
                    return Some(Err(ProviderError::invalid_body(
                        self.transport.client().name(),
                        error.to_string(),
                        "",
                    )));
                }
                None if self.ended => {
                    self.done = true;
                    return Some(Err(ProviderError::Connection {
                        provider: self.transport.client().name().to_owned(),
                        message: "the stream ended before `data: [DONE]`".into(),
                    }));
                }
                None => {}
            }
            match self.response.next_bytes().await {
                Ok(Some(bytes)) => self.decoder.push(&bytes),
                Ok(None) => {
                    self.ended = true;
                    while let Some(event) = self.decoder.finish() {
                        self.pending.push_back(event);
                    }
                }
                Err(error) => {
                    self.done = true;
                    return Some(Err(error));
                }
            }
        }
    }
}

/// Opens a stream: sends the request and, on success, decodes its events lazily.
pub(crate) async fn open(
    transport: Arc<OpenAiCompatible>,
    request: WireRequest,
) -> Result<ProviderStream, ProviderError> {
    let mut body = transport.adapted(request);
    if let Value::Object(fields) = &mut body {
        fields.insert("stream".into(), Value::Bool(true));
        if transport.quirks().stream_usage() && !fields.contains_key("stream_options") {
            fields.insert(
                "stream_options".into(),
                serde_json::json!({"include_usage": true}),
            );
        }
    }
    let response = transport
        .client()
        .post_json_stream(transport.parsed_chat_url().clone(), &body)
        .await?;
    let headers = response.headers.clone();
    let decoding = Decoding {
        transport,
        response,
        decoder: SseDecoder::new(),
        pending: VecDeque::new(),
        ended: false,
        done: false,
    };
    let chunks = futures_util::stream::unfold(decoding, |mut decoding| async move {
        let item = decoding.next().await?;
        Some((item, decoding))
    });
    Ok(ProviderStream {
        chunks: Box::pin(chunks),
        headers,
    })
}

#[cfg(test)]
mod tests {
    use super::may_hold_error;

    #[test]
    fn only_payloads_with_an_error_string_are_parsed_for_one() {
        assert!(may_hold_error(r#"{"error":{"message":"overloaded"}}"#));
        assert!(may_hold_error(
            r#"{ "error" : { "message": "overloaded" } }"#
        ));
        assert!(!may_hold_error(
            r#"{"choices":[{"index":0,"delta":{"content":"an \"error\" here"}}]}"#
        ));
        // A value that is exactly "error" is looked at too (and found to be no error).
        assert!(may_hold_error(
            r#"{"choices":[{"index":0,"delta":{"content":"error"}}]}"#
        ));
        assert!(!may_hold_error(
            r#"{"choices":[{"index":0,"delta":{"content":"errors"}}]}"#
        ));
    }
}
