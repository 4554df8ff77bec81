//! Streaming chat completions: retries before the first chunk, think-block removal
//! across chunks, an idle timeout, and exactly one usage record per stream.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_core::Stream;
use serde_json::Value;
use tokio::time::Sleep;
use tracing::Instrument;

use super::cached::CacheSlot;
use super::call::{target, write_record, AttemptRecord, Spend, Target};
use super::candidates::Candidates;
use super::elelem::Inner;
use super::prepare::{wire_body, AttemptParams};
use super::provider_retry::{Carried, ProviderAttempts};
use super::spans;
use super::stream_think::ThinkFilter;
use crate::cache::CachedResponse;
use crate::catalogue::{is_virtual, ModelEntry};
use crate::cost::{Adjustments, AttemptOutcome};
use crate::error::ElelemError;
use crate::json::json_instruction;
use crate::money::Usd;
use crate::provider::{ChunkStream, ProviderError, WireRequest};
use crate::types::{ChatCompletion, ChatCompletionChunk, ChatRequest, Usage};

/// The default time a stream may go without a byte before it ends with a timeout.
pub const DEFAULT_STREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How a stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StreamEnd {
    /// The provider's end marker arrived.
    Complete,
    /// An error or a stall ended it.
    Failed,
    /// The caller dropped it before its end.
    Dropped,
}

/// What records the stream's usage once it ends.
struct StreamAccount {
    inner: Arc<Inner>,
    call_id: u64,
    attempt: u32,
    model: Arc<ModelEntry>,
    tags: Arc<[String]>,
    started: Instant,
    /// The worst case held on the budgets until the stream is settled.
    reservation: Option<crate::budget::Reservation>,
}

/// A streamed chat completion: a [`Stream`] of chunks identical in JSON to OpenAI's
/// `chat.completion.chunk`, with think blocks moved from `content` to
/// `reasoning_content`. It ends after the provider's `[DONE]`; a failure after the
/// first chunk arrives as an [`ElelemError::Stream`] item.
///
/// Its usage is recorded once when it ends: with the provider's final usage when
/// it came, else marked as an interrupted stream (also when the caller drops it early).
#[must_use = "a stream does nothing unless polled"]
pub struct ChatStream {
    chunks: ChunkStream,
    queued: VecDeque<ChatCompletionChunk>,
    idle: Duration,
    sleep: Pin<Box<Sleep>>,
    filters: BTreeMap<u32, ThinkFilter>,
    strips_anywhere: bool,
    usage: Option<Usage>,
    last: Option<(String, u64, String)>,
    account: Option<StreamAccount>,
    finished: bool,
    /// Whether JSON was asked for (collecting then parses the answer).
    pub(crate) json_mode: bool,
    /// The requested and answering `provider:model`, attempts and prior cost.
    pub(crate) summary: StreamSummary,
    /// The call's span, completed when the stream ends.
    span: tracing::Span,
}

/// Elelem's facts about a stream, complete once it has ended.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamSummary {
    /// The `provider:model` asked for.
    pub requested_model: String,
    /// The `provider:model` streaming.
    pub answered_by: String,
    /// For a virtual model, the position (from 0) of the candidate streaming.
    pub candidate: Option<usize>,
    /// Requests sent, retries before the first chunk included.
    pub attempts: u32,
    /// The exact cost of all attempts (complete once the stream has ended).
    pub cost: Usd,
    /// Whether the stream ended before the provider reported its usage.
    pub interrupted: bool,
}

impl std::fmt::Debug for ChatStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatStream")
            .field("summary", &self.summary)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

/// A stream replayed from the response cache.
struct Replay(VecDeque<ChatCompletionChunk>);

impl Stream for Replay {
    type Item = Result<ChatCompletionChunk, ProviderError>;

    fn poll_next(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(self.get_mut().0.pop_front().map(Ok))
    }
}

impl ChatStream {
    /// A cached answer replayed as a stream: no provider call, nothing more to
    /// record (the cache hit was recorded by the lookup).
    fn replayed(hit: ChatCompletion, idle: Duration, request: &ChatRequest) -> ChatStream {
        let answered_by = hit.elelem.answered_by.clone();
        let reasoning = hit.elelem.reasoning.clone();
        let mut chunks = CachedResponse::new(hit, answered_by.clone(), Usd::ZERO).replay_chunks();
        if let Some(reasoning) = reasoning {
            if let Some(choice) = chunks.first_mut().and_then(|c| c.choices.first_mut()) {
                choice.delta.reasoning_content = Some(reasoning);
            }
        }
        ChatStream {
            chunks: Box::pin(Replay(chunks.into())),
            queued: VecDeque::new(),
            idle,
            sleep: Box::pin(tokio::time::sleep(idle)),
            filters: BTreeMap::new(),
            strips_anywhere: false,
            usage: None,
            last: None,
            account: None,
            finished: false,
            json_mode: request.is_json_mode(),
            span: tracing::Span::none(),
            summary: StreamSummary {
                requested_model: request.model.clone(),
                answered_by,
                candidate: None,
                attempts: 0,
                cost: Usd::ZERO,
                interrupted: false,
            },
        }
    }

    /// Elelem's facts about the stream so far.
    pub fn summary(&self) -> &StreamSummary {
        &self.summary
    }

    fn process(&mut self, chunk: &mut ChatCompletionChunk) {
        if let Some(usage) = &chunk.usage {
            self.usage = Some(usage.clone());
        }
        self.last = Some((chunk.id.clone(), chunk.created, chunk.model.clone()));
        for choice in &mut chunk.choices {
            let Some(content) = choice.delta.content.take() else {
                continue;
            };
            let anywhere = self.strips_anywhere;
            let filter = self
                .filters
                .entry(choice.index)
                .or_insert_with(|| ThinkFilter::new(anywhere));
            let piece = filter.push(&content);
            if !piece.reasoning.is_empty() {
                let reasoning = choice
                    .delta
                    .reasoning_content
                    .get_or_insert_with(String::new);
                reasoning.push_str(&piece.reasoning);
            }
            choice.delta.content = Some(piece.answer);
        }
    }

    /// Chunks carrying text held back at the end (a possible tag start that was not one).
    fn flush(&mut self) {
        let (id, created, model) = self.last.clone().unwrap_or_default();
        for (index, filter) in &mut self.filters {
            let piece = filter.finish();
            if piece.answer.is_empty() && piece.reasoning.is_empty() {
                continue;
            }
            let mut chunk: ChatCompletionChunk = match serde_json::from_value(serde_json::json!({
                "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": index, "delta": {}, "finish_reason": null}]
            })) {
                Ok(chunk) => chunk,
                Err(_) => continue,
            };
            if let Some(choice) = chunk.choices.first_mut() {
                choice.delta.content = (!piece.answer.is_empty()).then_some(piece.answer);
                choice.delta.reasoning_content =
                    (!piece.reasoning.is_empty()).then_some(piece.reasoning);
            }
            self.queued.push_back(chunk);
        }
    }

    /// Records the stream's usage, once. A stream that did not reach its end
    /// (error, stall, or dropped by the caller) is marked interrupted.
    fn settle(&mut self, end: StreamEnd) {
        let Some(account) = self.account.take() else {
            return;
        };
        let failed = end == StreamEnd::Failed;
        let interrupted = end != StreamEnd::Complete;
        let (cost, _) = write_record(
            account.inner.sink.as_ref(),
            AttemptRecord {
                call_id: account.call_id,
                attempt: account.attempt,
                model: &account.model,
                tags: &account.tags,
                spend: Spend {
                    usage: self.usage.as_ref(),
                    reported: None,
                },
                started: account.started,
                outcome: if failed {
                    AttemptOutcome::Failed
                } else {
                    AttemptOutcome::Success
                },
                adjustments: Adjustments::default(),
                stream_interrupted: interrupted,
            },
        );
        self.summary.cost += cost;
        if let Some(reservation) = account.reservation {
            reservation.settle(self.summary.cost);
        }
        self.summary.interrupted = interrupted;
        tracing::debug!(model = %account.model.id, cost = %self.summary.cost, interrupted, "stream settled");
        let span = self.span.clone();
        self.record_span_answer(&span);
        span.record("elelem.stream_interrupted", interrupted);
    }

    /// Records what the stream answered on the call's span.
    fn record_span_answer(&self, span: &tracing::Span) {
        let (id, _, model) = self.last.clone().unwrap_or_default();
        spans::record_answer(
            span,
            spans::Answered {
                response_model: &model,
                response_id: &id,
                usage: self.usage.as_ref(),
                answered_by: &self.summary.answered_by,
                attempts: self.summary.attempts,
                cost: self.summary.cost,
            },
        );
    }

    fn fail(
        &mut self,
        error: ProviderError,
    ) -> Poll<Option<Result<ChatCompletionChunk, ElelemError>>> {
        self.finished = true;
        self.settle(StreamEnd::Failed);
        self.span
            .record("elelem.error", tracing::field::display(&error));
        Poll::Ready(Some(Err(ElelemError::Stream {
            model: self.summary.answered_by.clone(),
            error,
        })))
    }
}

impl Stream for ChatStream {
    type Item = Result<ChatCompletionChunk, ElelemError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(chunk) = this.queued.pop_front() {
                return Poll::Ready(Some(Ok(chunk)));
            }
            if this.finished {
                return Poll::Ready(None);
            }
            match this.chunks.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(mut chunk))) => {
                    let deadline = tokio::time::Instant::now() + this.idle;
                    this.sleep.as_mut().reset(deadline);
                    this.process(&mut chunk);
                    return Poll::Ready(Some(Ok(chunk)));
                }
                Poll::Ready(Some(Err(error))) => return this.fail(error),
                Poll::Ready(None) => {
                    this.finished = true;
                    this.flush();
                    this.settle(StreamEnd::Complete);
                }
                Poll::Pending => {
                    if this.sleep.as_mut().poll(cx).is_ready() {
                        let provider = this.summary.answered_by.clone();
                        return this.fail(ProviderError::Timeout {
                            provider,
                            after: this.idle,
                        });
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

impl Drop for ChatStream {
    fn drop(&mut self) {
        // A stream dropped before its end is recorded with what is known.
        self.settle(StreamEnd::Dropped);
    }
}

/// Polls a chunk stream once to its next item.
async fn next_chunk(
    chunks: &mut ChunkStream,
) -> Option<Result<ChatCompletionChunk, ProviderError>> {
    std::future::poll_fn(|cx| chunks.as_mut().poll_next(cx)).await
}

/// Opens a stream, retrying rate limits and connection failures until the first
/// chunk; on a virtual model, moving on to the next candidate when one fails (or
/// runs out of time) before its first chunk.
pub(crate) async fn open(
    inner: &Arc<Inner>,
    request: ChatRequest,
) -> Result<ChatStream, ElelemError> {
    if request.messages.is_empty() {
        return Err(ElelemError::InvalidRequest {
            reason: "the request has no messages; add at least one Message".into(),
        });
    }
    let instruction = request
        .is_json_mode()
        .then(|| json_instruction(request.validation_schema()));
    let (first, candidates) = if is_virtual(&request.model) {
        let virtual_model = super::call::virtual_model(inner, &request.model)?;
        let (candidates, first) =
            Candidates::start(inner, &request, instruction.as_deref(), virtual_model)?;
        (first, Some(candidates))
    } else {
        let first = target(inner, &request.model)?;
        super::call::check_vision(&request, &first.model)?;
        (first, None)
    };
    let call_id = inner.next_call_id.fetch_add(1, Ordering::Relaxed);
    let span = spans::stream(call_id, &request.model, &first.model);
    spans::record_request(&span, request.temperature, request.max_tokens);
    let legs = Legs {
        request,
        instruction,
        candidates,
        call_id,
    };
    match legs.open(inner, first).instrument(span.clone()).await {
        Ok(mut stream) => {
            if stream.account.is_none() {
                // Replayed from the cache: complete already.
                stream.record_span_answer(&span);
            }
            stream.span = span;
            Ok(stream)
        }
        Err(error) => {
            spans::record_error(&span, &error);
            Err(error)
        }
    }
}

/// A stream being opened: the request and, for a virtual model, its candidates.
struct Legs {
    request: ChatRequest,
    instruction: Option<String>,
    candidates: Option<Candidates>,
    call_id: u64,
}

impl Legs {
    /// Serves the stream from the cache, or opens it on the first candidate that
    /// answers (the only one for a real model).
    async fn open(self, inner: &Arc<Inner>, first: Target) -> Result<ChatStream, ElelemError> {
        let Legs {
            request,
            instruction,
            mut candidates,
            call_id,
        } = self;
        let idle = inner.stream_idle_timeout;
        let validator = super::call::validator_of(inner, &request)?;
        if let Some(slot) = CacheSlot::new(inner, &request, &first.model, instruction.as_deref()) {
            if let Some(hit) = slot
                .lookup(inner, &request, &first.model, validator.as_deref(), call_id)
                .await
            {
                return Ok(ChatStream::replayed(hit, idle, &request));
            }
        }
        let tags: Arc<[String]> = request.tags.clone().into();
        let mut current = first;
        let mut carried = Carried::start();
        // One pass per candidate (a single pass for a real model).
        loop {
            let Target { model, provider } = current;
            let temperature = request
                .temperature
                .filter(|_| model.capabilities.temperature);
            let params = AttemptParams {
                temperature,
                ..AttemptParams::default()
            };
            let mut body = wire_body(
                &request,
                instruction.as_deref(),
                inner.catalogue.provider(&model.provider),
                &model,
                &params,
            );
            body.insert("stream".into(), Value::Bool(true));
            let deadline = candidates.as_ref().map(|c| c.deadline);
            let mut attempts =
                ProviderAttempts::new(inner, call_id, &model, &tags, temperature, carried);
            attempts.deadline = deadline;
            // One reservation covers every attempt of a model: those failing before
            // the first chunk carry no usage.
            let mut reservation = super::call::reserve(
                inner,
                &model,
                &request.messages,
                instruction.as_deref(),
                request.max_tokens,
                &request.extra,
                &tags,
            )
            .await?;
            let ended = loop {
                let attempt = attempts.begin();
                let sent = async {
                    inner.state.note_request(&model.provider, None);
                    provider
                        .chat_completion_stream(WireRequest::new(body.clone()))
                        .await
                };
                let (messages, json) = (&request.messages, instruction.as_deref());
                let tokens =
                    || super::gate::request_tokens(&model, messages, json, request.max_tokens);
                let first_chunk = async {
                    let stream =
                        super::gate::guarded(&inner.gate, &model.provider, tokens, sent).await?;
                    let mut chunks = stream.chunks;
                    match tokio::time::timeout(idle, next_chunk(&mut chunks)).await {
                        Ok(Some(Ok(first))) => Ok((chunks, first)),
                        Ok(Some(Err(error))) => Err(error),
                        Ok(None) => Err(ProviderError::Connection {
                            provider: model.provider.clone(),
                            message: "the stream ended before its first chunk".into(),
                        }),
                        Err(_) => Err(ProviderError::Timeout {
                            provider: model.provider.clone(),
                            after: idle,
                        }),
                    }
                };
                let opened = match (deadline, candidates.as_ref()) {
                    (Some(deadline), Some(c)) => {
                        let deadline = tokio::time::Instant::from_std(deadline);
                        tokio::time::timeout_at(deadline, first_chunk)
                            .await
                            .unwrap_or_else(|_| {
                                Err(ProviderError::Timeout {
                                    provider: model.provider.clone(),
                                    after: c.timeout(),
                                })
                            })
                    }
                    _ => first_chunk.await,
                };
                match opened {
                    Ok((chunks, first)) => {
                        let mut stream = ChatStream {
                            chunks,
                            queued: VecDeque::new(),
                            idle,
                            sleep: Box::pin(tokio::time::sleep(idle)),
                            filters: BTreeMap::new(),
                            strips_anywhere: model.capabilities.reasoning,
                            usage: None,
                            last: None,
                            summary: StreamSummary {
                                requested_model: request.model.clone(),
                                answered_by: model.id.clone(),
                                candidate: candidates.as_ref().map(|c| c.current),
                                attempts: attempt,
                                cost: attempts.cost,
                                interrupted: false,
                            },
                            account: Some(StreamAccount {
                                inner: inner.clone(),
                                call_id,
                                attempt,
                                model: model.clone(),
                                tags: tags.clone(),
                                started: attempts.since,
                                reservation: reservation.take(),
                            }),
                            finished: false,
                            json_mode: request.is_json_mode(),
                            span: tracing::Span::none(),
                        };
                        let mut first = first;
                        stream.process(&mut first);
                        stream.queued.push_back(first);
                        return Ok(stream);
                    }
                    Err(error) => {
                        let next = || {
                            let (c, json) = (candidates.as_mut()?, instruction.as_deref());
                            c.next(inner, &request, json, false)
                        };
                        match attempts.failed(error, next) {
                            Ok(wait) => tokio::time::sleep(wait).await,
                            Err(ended) => break ended,
                        }
                    }
                }
            };
            if let Some(reservation) = reservation.take() {
                reservation.settle(attempts.cost);
            }
            let Some(next) = ended.next else {
                return Err(match candidates {
                    Some(c) => ElelemError::CandidatesExhausted {
                        model: c.virtual_id,
                        attempts: ended.error.attempts().to_vec(),
                        skipped: c.skipped,
                    },
                    None => ended.error,
                });
            };
            tracing::warn!(from = %model.id, to = %next.model.id, "stream moving to the virtual model's next candidate");
            carried = Carried {
                attempts: attempts.state.attempts,
                cost: attempts.cost,
                errors: ended.error.attempts().to_vec(),
                since: attempts.since,
            };
            current = next;
        }
    }
}
