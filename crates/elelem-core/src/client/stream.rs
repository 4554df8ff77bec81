//! Streaming chat completions: retries before the first chunk, think-block removal
//! across chunks, an idle timeout, and exactly one usage record per stream.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;

use super::elelem::Inner;
use super::engine::{self, CallPlan, Entry, Finished, Operation, Refused, Settlement, Target};
use super::gate::WithHeaders;
use super::idle::IdleTimer;
use super::prepare::AttemptParams;
use super::spans::{self, SpanOutcome};
use super::stream_think::ThinkFilter;
use crate::cache::CachedResponse;
use crate::cost::AttemptOutcome;
use crate::error::ElelemError;
use crate::money::Usd;
use crate::provider::{ChunkStream, Liveness, ProviderError, WireRequest};
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
    idle: IdleTimer,
    filters: BTreeMap<u32, ThinkFilter>,
    strips_anywhere: bool,
    usage: Option<Usage>,
    /// The service tier that answered, as the chunks say (`flex` is billed at
    /// its own prices).
    service_tier: Option<String>,
    last: Option<(String, u64, String)>,
    /// How the stream's usage is recorded when it ends (`None` once it is, or
    /// for a replay from the cache).
    settlement: Option<Settlement>,
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
            idle: IdleTimer::new(idle, Liveness::default()),
            filters: BTreeMap::new(),
            strips_anywhere: false,
            usage: None,
            service_tier: None,
            last: None,
            settlement: None,
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
            merge_usage(&mut self.usage, usage);
        }
        if chunk.service_tier.is_some() {
            self.service_tier.clone_from(&chunk.service_tier);
        }
        // Copied into the strings kept from the last chunk (the same id and
        // model in every chunk): no allocation per chunk.
        match &mut self.last {
            Some((id, created, model)) => {
                id.clone_from(&chunk.id);
                *created = chunk.created;
                model.clone_from(&chunk.model);
            }
            None => self.last = Some((chunk.id.clone(), chunk.created, chunk.model.clone())),
        }
        for choice in &mut chunk.choices {
            let Some(content) = choice.delta.content.take() else {
                continue;
            };
            let anywhere = self.strips_anywhere;
            let filter = self
                .filters
                .entry(choice.index)
                .or_insert_with(|| ThinkFilter::new(anywhere, &chunk.model));
            let piece = filter.push(content);
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

    /// Records the stream's usage, once, through the engine's settlement (the
    /// same record and cost as every attempt, the provider's reported cost
    /// included). A stream that did not reach its end (error, stall, or dropped by
    /// the caller) is marked interrupted.
    fn settle(&mut self, end: StreamEnd) {
        let Some(settlement) = self.settlement.take() else {
            return;
        };
        let interrupted = end != StreamEnd::Complete;
        let outcome = match end {
            StreamEnd::Failed => AttemptOutcome::Failed,
            StreamEnd::Complete | StreamEnd::Dropped => AttemptOutcome::Success,
        };
        let model = settlement.target.model.id.clone();
        let cost = settlement.settle(
            self.usage.as_ref(),
            self.service_tier.as_deref(),
            outcome,
            interrupted,
        );
        self.summary.cost += cost;
        self.summary.interrupted = interrupted;
        tracing::debug!(%model, cost = %self.summary.cost, interrupted, "stream settled");
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
                    this.idle.reset();
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
                    if this.idle.poll_expired(cx) {
                        let provider = this.summary.answered_by.clone();
                        return this.fail(ProviderError::Timeout {
                            provider,
                            after: this.idle.idle(),
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

/// Folds a chunk's usage into what the stream knows: a provider may report part
/// of it early (input tokens when the answer starts) and the rest at the end, so
/// a stream cut in between still records what was known. Counts a later chunk
/// reports replace earlier ones; counts it leaves out are kept.
fn merge_usage(known: &mut Option<Usage>, more: &Usage) {
    let Some(known) = known.as_mut() else {
        *known = Some(more.clone());
        return;
    };
    let later = |old: &mut Option<u64>, new: Option<u64>| {
        if new.is_some() {
            *old = new;
        }
    };
    later(&mut known.prompt_tokens, more.prompt_tokens);
    later(&mut known.completion_tokens, more.completion_tokens);
    later(&mut known.total_tokens, more.total_tokens);
    if more.prompt_tokens_details.is_some() {
        known.prompt_tokens_details = more.prompt_tokens_details.clone();
    }
    if more.completion_tokens_details.is_some() {
        known.completion_tokens_details = more.completion_tokens_details.clone();
    }
    known
        .extra
        .extend(more.extra.iter().map(|(k, v)| (k.clone(), v.clone())));
}

/// A stream's next item (a chunk, a Responses event), or `None` when the idle
/// timer fired first.
async fn next_chunk<T>(
    chunks: &mut Pin<Box<dyn Stream<Item = T> + Send>>,
    idle: &mut IdleTimer,
) -> Option<Option<T>> {
    std::future::poll_fn(|cx| match chunks.as_mut().poll_next(cx) {
        Poll::Ready(item) => Poll::Ready(Some(item)),
        Poll::Pending if idle.poll_expired(cx) => Poll::Ready(None),
        Poll::Pending => Poll::Pending,
    })
    .await
}

/// Opens a stream through the engine: rate limits and connection failures are
/// retried until the first chunk; on a virtual model, a candidate that fails (or
/// runs out of time) before its first chunk hands over to the next one.
pub(crate) async fn open(inner: &Inner, request: ChatRequest) -> Result<ChatStream, ElelemError> {
    let (mut plan, first) = CallPlan::new(inner, request, Entry::Stream)?;
    let idle = inner.policy.stream_idle_timeout;
    if let Some(hit) = plan.cached_answer(inner, &first).await {
        let stream = ChatStream::replayed(hit, idle, &plan.request);
        stream.record_span_answer(&plan.span);
        return Ok(stream);
    }
    engine::run_in_span(inner, &mut plan, first, &Streamed { inner, idle }).await
}

/// A stream keeps the call's span, completed when it ends.
impl SpanOutcome for ChatStream {
    fn in_span(mut self, span: tracing::Span) -> Self {
        self.span = span;
        self
    }
}

/// A stream opened up to its first item (a chat chunk, a Responses event).
pub(crate) struct Opened<T> {
    /// The items after the first.
    pub(super) items: Pin<Box<dyn Stream<Item = Result<T, ProviderError>> + Send>>,
    /// The idle timer, running since the first item.
    pub(super) idle: IdleTimer,
    pub(super) first: T,
    pub(super) headers: BTreeMap<String, String>,
}

impl<T> WithHeaders for Opened<T> {
    fn headers(&self) -> &BTreeMap<String, String> {
        &self.headers
    }
}

/// What an opened provider stream hands over: its items, its liveness signal
/// and its response headers.
pub(super) type StreamParts<T> = (
    Pin<Box<dyn Stream<Item = Result<T, ProviderError>> + Send>>,
    Liveness,
    BTreeMap<String, String>,
);

/// Opens a stream and waits for its first item, each within `idle` (a server
/// that never answers does not hang the call); keep-alive comments and pings
/// while the model thinks count as life. `what` names the item in the error of
/// a stream that ends before it.
pub(super) async fn open_to_first<T>(
    provider: &str,
    idle: Duration,
    opening: impl Future<Output = Result<StreamParts<T>, ProviderError>>,
    what: &str,
) -> Result<Opened<T>, ProviderError> {
    let timeout = || ProviderError::Timeout {
        provider: provider.to_owned(),
        after: idle,
    };
    let (mut items, alive, headers) = tokio::time::timeout(idle, opening)
        .await
        .map_err(|_| timeout())??;
    let mut timer = IdleTimer::new(idle, alive);
    match next_chunk(&mut items, &mut timer).await {
        Some(Some(Ok(first))) => {
            timer.reset();
            Ok(Opened {
                items,
                idle: timer,
                first,
                headers,
            })
        }
        Some(Some(Err(error))) => Err(error),
        Some(None) => Err(ProviderError::Connection {
            provider: provider.to_owned(),
            message: format!("the stream ended before its first {what}"),
        }),
        None => Err(timeout()),
    }
}

/// Opening a stream: the request, then its first chunk, each within the idle
/// timeout (a server that never answers does not hang the call).
struct Streamed<'a> {
    inner: &'a Inner,
    idle: Duration,
}

impl Operation for Streamed<'_> {
    type Answer = Opened<ChatCompletionChunk>;
    type Accepted = ();
    type Output = ChatStream;

    fn json_ladder(&self) -> bool {
        false
    }

    fn settles_later(&self) -> bool {
        true
    }

    fn body(&self, plan: &CallPlan, target: &Target, params: &AttemptParams) -> WireRequest {
        let mut body = plan.chat_body(self.inner, target, params);
        body.stream = Some(true);
        body
    }

    fn send(
        &self,
        target: &Target,
        body: WireRequest,
    ) -> impl std::future::Future<Output = Result<Opened<ChatCompletionChunk>, ProviderError>> + Send
    {
        // Boxed, as when this was an `async_trait` method: opening is rare
        // and its future large, and the engine's state should not carry it.
        Box::pin(async move {
            let opening = async {
                let stream = target.provider.chat_completion_stream(body).await?;
                Ok((stream.chunks, stream.alive, stream.headers))
            };
            open_to_first(&target.model.provider, self.idle, opening, "chunk").await
        })
    }

    fn usage(_answer: &Opened<ChatCompletionChunk>) -> Option<&Usage> {
        None
    }

    fn judge(
        &self,
        _plan: &CallPlan,
        _target: &Target,
        _answer: &Opened<ChatCompletionChunk>,
    ) -> Result<(), Refused> {
        Ok(())
    }

    fn finish(
        &self,
        plan: &mut CallPlan,
        answer: Opened<ChatCompletionChunk>,
        _accepted: (),
        finished: Finished<'_>,
    ) -> ChatStream {
        let model = &finished.target.model;
        let mut settlement = finished.settlement;
        if let Some(settlement) = &mut settlement {
            // The attempt's send ends at the first chunk: its time to first token
            // (noted now, and kept for the stream's usage record).
            let first_token = settlement.started.elapsed();
            let performance = &self.inner.accounting.performance;
            performance.first_token(&model.id, first_token);
            settlement.first_token = Some(first_token);
        }
        let mut stream = ChatStream {
            chunks: answer.items,
            queued: VecDeque::new(),
            idle: answer.idle,
            filters: BTreeMap::new(),
            strips_anywhere: model.capabilities.reasoning,
            usage: None,
            service_tier: None,
            last: None,
            summary: StreamSummary {
                requested_model: plan.request.model.clone(),
                answered_by: model.id.clone(),
                candidate: plan.candidates.as_ref().map(|c| c.current),
                attempts: finished.attempts,
                cost: finished.cost,
                interrupted: false,
            },
            settlement,
            finished: false,
            json_mode: plan.request.is_json_mode(),
            span: tracing::Span::none(),
        };
        let mut first = answer.first;
        stream.process(&mut first);
        stream.queued.push_back(first);
        stream
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn usage(json: &str) -> Usage {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn usage_reported_in_parts_is_merged() {
        let mut known = None;
        merge_usage(&mut known, &usage(r#"{"prompt_tokens": 10}"#));
        assert_eq!(known.as_ref().unwrap().prompt_tokens, Some(10));
        merge_usage(
            &mut known,
            &usage(r#"{"completion_tokens": 4, "cost": 0.5}"#),
        );
        let known = known.unwrap();
        assert_eq!(known.prompt_tokens, Some(10));
        assert_eq!(known.completion_tokens, Some(4));
        assert_eq!(known.extra["cost"], 0.5);
    }
}
