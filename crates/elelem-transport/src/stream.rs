//! The one stream-decoding loop, for every provider: a [`Framing`] cuts the body
//! into records (SSE events, NDJSON lines), a [`RecordMapper`] turns each record
//! into OpenAI chunks, and the end of the body is checked for the provider's end
//! marker. The body as a whole obeys `max_response_bytes`.

use std::collections::VecDeque;

use serde_json::Value;

use elelem_core::provider::{Liveness, ProviderError, ProviderStream};
use elelem_core::sse::SseError;
use elelem_core::ChatCompletionChunk;

use crate::framing::{Framing, Record};
use crate::{HttpClient, HttpStream};

/// Turns one provider's records into OpenAI chunks.
///
/// ```
/// use elelem_core::provider::ProviderError;
/// use elelem_core::ChatCompletionChunk;
///
/// /// Every record is an OpenAI chunk; the body must end with `data: [DONE]`.
/// struct Chunks { name: String }
/// impl elelem_transport::RecordMapper for Chunks {
///     fn record(&mut self, record: &str) -> Result<Vec<ChatCompletionChunk>, ProviderError> {
///         serde_json::from_str(record)
///             .map(|chunk| vec![chunk])
///             .map_err(|e| ProviderError::invalid_body(self.name.clone(), e.to_string(), ""))
///     }
///     fn done(&mut self) -> Result<Vec<ChatCompletionChunk>, ProviderError> {
///         Ok(Vec::new())
///     }
///     fn finish(&mut self) -> Result<Vec<ChatCompletionChunk>, ProviderError> {
///         Err(ProviderError::Connection { provider: self.name.clone(), message: "no [DONE]".into() })
///     }
/// }
/// ```
pub trait RecordMapper: Send + 'static {
    /// The chunks for one record.
    fn record(&mut self, record: &str) -> Result<Vec<ChatCompletionChunk>, ProviderError>;
    /// The protocol's end marker came (`data: [DONE]`); nothing more is read. The
    /// default treats it like the end of the body.
    fn done(&mut self) -> Result<Vec<ChatCompletionChunk>, ProviderError> {
        self.finish()
    }
    /// The body ended: the last chunks (usage), or an error when the provider's
    /// end marker never came.
    fn finish(&mut self) -> Result<Vec<ChatCompletionChunk>, ProviderError>;
}

/// Turns one provider's records into items of any kind (chat chunks through
/// [`RecordMapper`], Responses API events): the one decoding loop
/// ([`decode_records`]) serves them all.
///
/// ```
/// use elelem_core::provider::ProviderError;
///
/// /// Every record is a line of text; the body may end anywhere.
/// struct Lines;
/// impl elelem_transport::Records for Lines {
///     type Item = String;
///     fn record(&mut self, record: &str) -> Result<Vec<String>, ProviderError> {
///         Ok(vec![record.to_owned()])
///     }
///     fn finish(&mut self) -> Result<Vec<String>, ProviderError> {
///         Ok(Vec::new())
///     }
/// }
/// ```
pub trait Records: Send + 'static {
    /// What a record becomes.
    type Item: Send + 'static;
    /// The items for one record.
    fn record(&mut self, record: &str) -> Result<Vec<Self::Item>, ProviderError>;
    /// The protocol's end marker came; the default treats it like the end of
    /// the body.
    fn done(&mut self) -> Result<Vec<Self::Item>, ProviderError> {
        self.finish()
    }
    /// The body ended: the last items, or an error when the stream is cut.
    fn finish(&mut self) -> Result<Vec<Self::Item>, ProviderError>;
}

/// A [`RecordMapper`] as [`Records`] of chat chunks.
struct Chunks<M>(M);

impl<M: RecordMapper> Records for Chunks<M> {
    type Item = ChatCompletionChunk;
    fn record(&mut self, record: &str) -> Result<Vec<ChatCompletionChunk>, ProviderError> {
        self.0.record(record)
    }
    fn done(&mut self) -> Result<Vec<ChatCompletionChunk>, ProviderError> {
        self.0.done()
    }
    fn finish(&mut self) -> Result<Vec<ChatCompletionChunk>, ProviderError> {
        self.0.finish()
    }
}

/// A decoded stream of items, with the response headers and its liveness.
pub struct DecodedStream<T> {
    /// The items, lazily decoded.
    pub items: futures_util::stream::BoxStream<'static, Result<T, ProviderError>>,
    /// Response headers worth keeping, lower-case names.
    pub headers: std::collections::BTreeMap<String, String>,
    /// Beaten on every piece of the body.
    pub alive: Liveness,
}

/// Where a stream's decoding stands.
struct Decoding<F, M: Records> {
    body: HttpStream,
    framing: F,
    mapper: M,
    out: VecDeque<M::Item>,
    /// Bytes received so far, against `max_response_bytes`.
    received: usize,
    /// Beaten on every piece of the body, keep-alive comments and pings
    /// included: the idle timeout counts them as life.
    alive: Liveness,
    ended: bool,
    done: bool,
}

impl<F: Framing, M: Records> Decoding<F, M> {
    fn fail(&mut self, error: ProviderError) -> Option<Result<M::Item, ProviderError>> {
        self.done = true;
        self.out.clear();
        Some(Err(error))
    }

    fn framing_error(&self, error: SseError) -> ProviderError {
        let client = self.body.client();
        match error {
            SseError::TooLarge { limit } => ProviderError::BodyTooLarge {
                provider: client.name().to_owned(),
                limit,
            },
            other => client.invalid_piece(other.to_string(), ""),
        }
    }

    async fn next(&mut self) -> Option<Result<M::Item, ProviderError>> {
        loop {
            if let Some(chunk) = self.out.pop_front() {
                return Some(Ok(chunk));
            }
            if self.done {
                return None;
            }
            match self.framing.next_record() {
                Some(Ok(Record::Data(record))) => {
                    // `out` is empty here: the first item goes out directly,
                    // without a trip through the queue.
                    let mut items = match self.mapper.record(&record) {
                        Ok(items) => items.into_iter(),
                        Err(error) => return self.fail(error),
                    };
                    if let Some(first) = items.next() {
                        self.out.extend(items);
                        return Some(Ok(first));
                    }
                    continue;
                }
                Some(Ok(Record::Done)) => {
                    self.done = true;
                    match self.mapper.done() {
                        Ok(chunks) => self.out.extend(chunks),
                        Err(error) => return self.fail(error),
                    }
                    continue;
                }
                Some(Err(error)) => {
                    let error = self.framing_error(error);
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
                Ok(Some(bytes)) => {
                    let limit = self.body.client().settings().max_response_bytes;
                    self.received = self.received.saturating_add(bytes.len());
                    if self.received > limit {
                        let provider = self.body.client().name().to_owned();
                        return self.fail(ProviderError::BodyTooLarge { provider, limit });
                    }
                    self.alive.beat();
                    self.framing.push(&bytes);
                }
                Ok(None) => {
                    self.ended = true;
                    self.framing.end();
                }
                Err(error) => return self.fail(error),
            }
        }
    }
}

/// Decodes an opened stream's records lazily into OpenAI chunks: the one loop
/// every provider's stream runs through.
///
/// ```no_run
/// # async fn demo(client: elelem_transport::HttpClient, mapper: impl elelem_transport::RecordMapper) -> Result<(), elelem_core::provider::ProviderError> {
/// let opened = client.post_json_stream("http://127.0.0.1:9/v1/chat/completions", &serde_json::json!({"stream": true})).await?;
/// let framing = elelem_transport::SseFraming::with_limit(client.settings().max_response_bytes);
/// let stream = elelem_transport::decode_stream(opened, framing, mapper);
/// # let _ = stream; Ok(()) }
/// ```
pub fn decode_stream<F: Framing, M: RecordMapper>(
    body: HttpStream,
    framing: F,
    mapper: M,
) -> ProviderStream {
    let decoded = decode_records(body, framing, Chunks(mapper));
    ProviderStream {
        chunks: decoded.items,
        headers: decoded.headers,
        alive: decoded.alive,
    }
}

/// Decodes an opened stream's records lazily into items of any kind: the one
/// loop every stream runs through ([`decode_stream`] is it for chat chunks).
///
/// ```no_run
/// # async fn demo(client: elelem_transport::HttpClient, records: impl elelem_transport::Records) -> Result<(), elelem_core::provider::ProviderError> {
/// let opened = client.post_json_stream("http://127.0.0.1:9/v1/responses", &serde_json::json!({"stream": true})).await?;
/// let framing = elelem_transport::SseFraming::with_limit(client.settings().max_response_bytes);
/// let decoded = elelem_transport::decode_records(opened, framing, records);
/// # let _ = decoded; Ok(()) }
/// ```
pub fn decode_records<F: Framing, R: Records>(
    body: HttpStream,
    framing: F,
    records: R,
) -> DecodedStream<R::Item> {
    let headers = body.headers.clone();
    let alive = Liveness::default();
    let decoding = Decoding {
        body,
        framing,
        mapper: records,
        out: VecDeque::new(),
        received: 0,
        alive: alive.clone(),
        ended: false,
        done: false,
    };
    // Boxed: `unfold` moves its state in and out of each item's future, and
    // the state (the response, the framing's buffers, the mapper) is large.
    let items = futures_util::stream::unfold(Box::new(decoding), |mut decoding| async move {
        let item = decoding.next().await?;
        Some((item, decoding))
    });
    DecodedStream {
        items: Box::pin(items),
        headers,
        alive,
    }
}

/// Sends a streaming request (`"stream": true` is added to the body) and decodes
/// its records lazily into OpenAI chunks with [`decode_stream`].
///
/// ```no_run
/// # async fn demo(client: elelem_transport::HttpClient, mapper: impl elelem_transport::RecordMapper) -> Result<(), elelem_core::provider::ProviderError> {
/// let body = serde_json::json!({"model": "m", "messages": []});
/// let stream = elelem_transport::record_stream(&client, "http://127.0.0.1:9/api/chat", body,
///     elelem_transport::NdjsonFraming::default(), mapper).await?;
/// # let _ = stream; Ok(()) }
/// ```
pub async fn record_stream<F: Framing, M: RecordMapper>(
    http: &HttpClient,
    url: &str,
    mut body: Value,
    framing: F,
    mapper: M,
) -> Result<ProviderStream, ProviderError> {
    if let Value::Object(object) = &mut body {
        object.insert("stream".into(), Value::Bool(true));
    }
    let stream = http.post_json_stream(url, &body).await?;
    Ok(decode_stream(stream, framing, mapper))
}
