//! One decoding loop for native providers' streams: a [`Framing`] cuts the body
//! into records (SSE events, NDJSON lines), a [`RecordMapper`] turns each record
//! into OpenAI chunks, and the end of the body is checked for the provider's end
//! marker.

use std::collections::VecDeque;

use serde_json::Value;

use elelem_core::provider::{ProviderError, ProviderStream};
use elelem_core::sse::{SseDecoder, SseEvent};
use elelem_core::ChatCompletionChunk;

use crate::{HttpClient, HttpStream};

/// How a streamed body is cut into records.
pub trait Framing: Send + 'static {
    /// Adds received bytes (split anywhere).
    fn push(&mut self, bytes: &[u8]);
    /// The body has ended: what is left becomes the last records.
    fn end(&mut self);
    /// The next complete record; an `Err` names a piece that cannot be read
    /// (not UTF-8, for instance).
    fn next_record(&mut self) -> Option<Result<String, String>>;
}

/// Turns one provider's records into OpenAI chunks.
pub trait RecordMapper: Send + 'static {
    /// The chunks for one record.
    fn record(&mut self, record: &str) -> Result<Vec<ChatCompletionChunk>, ProviderError>;
    /// The body ended: the last chunks (usage), or an error when the provider's
    /// end marker never came.
    fn finish(&mut self) -> Result<Vec<ChatCompletionChunk>, ProviderError>;
}

/// Server-sent events: each event's data is a record; `[DONE]` is skipped.
///
/// ```
/// use elelem_openai::{Framing, SseFraming};
/// let mut sse = SseFraming::default();
/// sse.push(b"data: {\"a\":1}\n\ndata: [DONE]\n\n");
/// assert_eq!(sse.next_record(), Some(Ok("{\"a\":1}".to_owned())));
/// assert_eq!(sse.next_record(), None);
/// ```
#[derive(Debug, Default)]
pub struct SseFraming {
    decoder: SseDecoder,
    ended: VecDeque<Result<SseEvent, elelem_core::sse::SseError>>,
}

impl Framing for SseFraming {
    fn push(&mut self, bytes: &[u8]) {
        self.decoder.push(bytes);
    }

    fn end(&mut self) {
        while let Some(event) = self.decoder.finish() {
            self.ended.push_back(event);
        }
    }

    fn next_record(&mut self) -> Option<Result<String, String>> {
        loop {
            let event = self
                .decoder
                .next_event()
                .or_else(|| self.ended.pop_front())?;
            match event {
                Ok(SseEvent::Data(data)) => return Some(Ok(data)),
                Ok(SseEvent::Done) => continue,
                Err(error) => return Some(Err(error.to_string())),
            }
        }
    }
}

/// Where a stream's decoding stands.
struct Decoding<F, M> {
    body: HttpStream,
    framing: F,
    mapper: M,
    out: VecDeque<ChatCompletionChunk>,
    ended: bool,
    done: bool,
}

impl<F: Framing, M: RecordMapper> Decoding<F, M> {
    fn fail(&mut self, error: ProviderError) -> Option<Result<ChatCompletionChunk, ProviderError>> {
        self.done = true;
        self.out.clear();
        Some(Err(error))
    }

    async fn next(&mut self) -> Option<Result<ChatCompletionChunk, ProviderError>> {
        loop {
            if let Some(chunk) = self.out.pop_front() {
                return Some(Ok(chunk));
            }
            if self.done {
                return None;
            }
            match self.framing.next_record() {
                Some(Ok(record)) => {
                    match self.mapper.record(&record) {
                        Ok(chunks) => self.out.extend(chunks),
                        Err(error) => return self.fail(error),
                    }
                    continue;
                }
                Some(Err(reason)) => {
                    let error = self.body.client().invalid_piece(reason, "");
                    return self.fail(error);
                }
                None => {}
            }
            if self.ended {
                self.done = true;
                match self.mapper.finish() {
                    Ok(chunks) => self.out.extend(chunks),
                    Err(error) => return self.fail(error),
                }
                continue;
            }
            match self.body.next_bytes().await {
                Ok(Some(bytes)) => self.framing.push(&bytes),
                Ok(None) => {
                    self.ended = true;
                    self.framing.end();
                }
                Err(error) => return self.fail(error),
            }
        }
    }
}

/// Sends a streaming request (the body as given: APIs that choose streaming by a
/// field, not by the URL as Gemini does, set it themselves) and decodes
/// its records lazily into OpenAI chunks.
pub async fn record_stream<F: Framing, M: RecordMapper>(
    http: &HttpClient,
    url: &str,
    body: Value,
    framing: F,
    mapper: M,
) -> Result<ProviderStream, ProviderError> {
    let stream = http.post_json_stream(url, &body).await?;
    let headers = stream.headers.clone();
    let decoding = Decoding {
        body: stream,
        framing,
        mapper,
        out: VecDeque::new(),
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
