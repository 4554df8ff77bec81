//! Streamed Responses API calls: retries until the first event, the typed
//! events passed through as they come, and exactly one usage record per stream,
//! from `response.completed` (a stream cut before it is recorded with what is
//! known and marked as of unknown cost, like a chat stream).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;

use super::elelem::Inner;
use super::engine::{self, CallPlan, Entry, Finished, Operation, Refused, Settlement, Target};
use super::idle::IdleTimer;
use super::prepare::AttemptParams;
use super::spans::{self, SpanOutcome};
use super::stream::{open_to_first, Opened, StreamSummary};
use crate::cost::AttemptOutcome;
use crate::error::ElelemError;
use crate::provider::{ProviderError, ResponseEvents, WireRequest};
use crate::types::{Response, ResponseEvent, ResponseRequest, Usage};

/// A streamed response: a [`Stream`] of typed [`ResponseEvent`]s, ending after
/// the event that ends the response (`response.completed`,
/// `response.incomplete`, `response.failed` or `error`). A failure of the
/// connection after the first event arrives as an [`ElelemError::Stream`] item.
///
/// Its usage is recorded once when it ends: from the final response's usage
/// when it came, else marked as an interrupted stream of unknown cost (also
/// when the caller drops it early).
#[must_use = "a stream does nothing unless polled"]
pub struct ResponseStream {
    events: ResponseEvents,
    first: Option<ResponseEvent>,
    idle: IdleTimer,
    /// The final response's usage, once it came.
    usage: Option<Usage>,
    /// The final response, once it came.
    last: Option<Response>,
    settlement: Option<Settlement>,
    finished: bool,
    summary: StreamSummary,
    span: tracing::Span,
}

impl std::fmt::Debug for ResponseStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseStream")
            .field("summary", &self.summary)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

/// How a stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The final response came (completed or incomplete).
    Complete,
    /// `response.failed` came, with what usage it had.
    FailedResponse,
    /// An `error` event, a broken connection or a stall ended it.
    Broken,
    /// The caller dropped it before its end.
    Dropped,
}

impl ResponseStream {
    /// Elelem's facts about the stream so far (complete once it has ended).
    pub fn summary(&self) -> &StreamSummary {
        &self.summary
    }

    /// Reads the stream to its end and returns the final response (from
    /// `response.completed`, or `response.incomplete`), with Elelem's facts in
    /// [`Response::elelem`].
    ///
    /// ```no_run
    /// # async fn demo(elelem: elelem_core::Elelem) -> Result<(), elelem_core::ElelemError> {
    /// let stream = elelem.stream_response(elelem_core::ResponseRequest::new("openai:gpt-4.1-mini", "Hi")).await?;
    /// let response = stream.collect_response().await?;
    /// println!("{} cost {}", response.output_text(), response.elelem.cost);
    /// # Ok(()) }
    /// ```
    pub async fn collect_response(mut self) -> Result<Response, ElelemError> {
        let mut failure = None;
        while let Some(event) = std::future::poll_fn(|cx| Pin::new(&mut self).poll_next(cx)).await {
            match event? {
                ResponseEvent::Failed { response } => failure = response.failure().cloned(),
                ResponseEvent::Error { code, message, .. } => {
                    failure = Some(serde_json::json!({"code": code, "message": message}))
                }
                _ => {}
            }
        }
        let model = self.summary.answered_by.clone();
        if let Some(error) = failure {
            let message = error
                .get("message")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("the response failed")
                .to_owned();
            return Err(ElelemError::Stream {
                model: model.clone(),
                error: ProviderError::Connection {
                    provider: model,
                    message,
                },
            });
        }
        let Some(mut response) = self.last.take() else {
            return Err(ElelemError::Stream {
                model: model.clone(),
                error: ProviderError::Connection {
                    provider: model,
                    message: "the stream ended without its final response".into(),
                },
            });
        };
        response.elelem.requested_model = self.summary.requested_model.clone();
        response.elelem.answered_by = self.summary.answered_by.clone();
        response.elelem.attempts = self.summary.attempts;
        response.elelem.cost = self.summary.cost;
        Ok(response)
    }

    /// Keeps what an event says about the response's end.
    fn process(&mut self, event: &ResponseEvent) {
        if let Some(response) = event.final_response() {
            self.usage = response.usage.as_ref().map(|u| u.to_usage());
            self.last = Some(response.clone());
        }
    }

    /// Records the stream's usage, once, through the engine's settlement.
    fn settle(&mut self, end: End) {
        let Some(settlement) = self.settlement.take() else {
            return;
        };
        let (outcome, interrupted) = match end {
            End::Complete => (AttemptOutcome::Success, false),
            End::FailedResponse => (AttemptOutcome::Failed, self.usage.is_none()),
            End::Broken => (AttemptOutcome::Failed, true),
            End::Dropped => (AttemptOutcome::Success, true),
        };
        let tier = self
            .last
            .as_ref()
            .and_then(|r| r.extra.get("service_tier"))
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned);
        let cost = settlement.settle(self.usage.as_ref(), tier.as_deref(), outcome, interrupted);
        self.summary.cost += cost;
        self.summary.interrupted = interrupted;
        let (id, model) = self
            .last
            .as_ref()
            .map(|r| (r.id.clone(), r.model.clone()))
            .unwrap_or_default();
        spans::record_answer(
            &self.span,
            spans::Answered {
                response_model: &model,
                response_id: &id,
                usage: self.usage.as_ref(),
                answered_by: &self.summary.answered_by,
                attempts: self.summary.attempts,
                cost: self.summary.cost,
            },
        );
        self.span.record("elelem.stream_interrupted", interrupted);
    }

    fn fail(&mut self, error: ProviderError) -> Poll<Option<Result<ResponseEvent, ElelemError>>> {
        self.finished = true;
        self.settle(End::Broken);
        self.span
            .record("elelem.error", tracing::field::display(&error));
        Poll::Ready(Some(Err(ElelemError::Stream {
            model: self.summary.answered_by.clone(),
            error,
        })))
    }

    /// Hands an event on, ending the stream after a terminal one.
    fn deliver(
        &mut self,
        event: ResponseEvent,
    ) -> Poll<Option<Result<ResponseEvent, ElelemError>>> {
        self.process(&event);
        if event.is_terminal() {
            self.finished = true;
            let end = match &event {
                ResponseEvent::Completed { .. } | ResponseEvent::Incomplete { .. } => End::Complete,
                ResponseEvent::Failed { .. } => End::FailedResponse,
                _ => End::Broken,
            };
            self.settle(end);
        }
        Poll::Ready(Some(Ok(event)))
    }
}

impl Stream for ResponseStream {
    type Item = Result<ResponseEvent, ElelemError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(first) = this.first.take() {
            return this.deliver(first);
        }
        if this.finished {
            return Poll::Ready(None);
        }
        match this.events.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(event))) => {
                this.idle.reset();
                this.deliver(event)
            }
            Poll::Ready(Some(Err(error))) => this.fail(error),
            Poll::Ready(None) => {
                let provider = this.summary.answered_by.clone();
                this.fail(ProviderError::Connection {
                    provider,
                    message: "the stream ended before the response did (no response.completed)"
                        .into(),
                })
            }
            Poll::Pending => {
                if this.idle.poll_expired(cx) {
                    let provider = this.summary.answered_by.clone();
                    let after = this.idle.idle();
                    return this.fail(ProviderError::Timeout { provider, after });
                }
                Poll::Pending
            }
        }
    }
}

impl Drop for ResponseStream {
    fn drop(&mut self) {
        self.settle(End::Dropped);
    }
}

/// Opens a streamed Responses API call through the engine: failures before the
/// first event are retried as for a plain call.
pub(crate) async fn open(
    inner: &Inner,
    request: ResponseRequest,
) -> Result<ResponseStream, ElelemError> {
    let (mut plan, first) = super::responses::plan(inner, &request, Entry::Response)?;
    let op = StreamedResponse {
        request: &request,
        idle: inner.policy.stream_idle_timeout,
    };
    engine::run_in_span(inner, &mut plan, first, &op).await
}

/// A response stream keeps the call's span, completed when it ends.
impl SpanOutcome for ResponseStream {
    fn in_span(mut self, span: tracing::Span) -> Self {
        self.span = span;
        self
    }
}

/// A streamed response opened up to its first event.
pub(crate) type OpenedResponse = Opened<ResponseEvent>;

/// Opening a streamed response: the request, then its first event, each within
/// the idle timeout.
struct StreamedResponse<'a> {
    request: &'a ResponseRequest,
    idle: Duration,
}

impl Operation for StreamedResponse<'_> {
    type Answer = OpenedResponse;
    type Accepted = ();
    type Output = ResponseStream;

    fn json_ladder(&self) -> bool {
        false
    }

    fn settles_later(&self) -> bool {
        true
    }

    fn body(&self, plan: &CallPlan, target: &Target, params: &AttemptParams) -> WireRequest {
        let mut body = super::responses::body(self.request, plan, target, params);
        body.stream = Some(true);
        body
    }

    fn send(
        &self,
        target: &Target,
        body: WireRequest,
    ) -> impl std::future::Future<Output = Result<OpenedResponse, ProviderError>> + Send {
        // Boxed, as when this was an `async_trait` method: opening is rare
        // and its future large, and the engine's state should not carry it.
        Box::pin(async move {
            let opening = async {
                let stream = target.provider.create_response_stream(body).await?;
                Ok((stream.events, stream.alive, stream.headers))
            };
            open_to_first(&target.model.provider, self.idle, opening, "event").await
        })
    }

    fn usage(_answer: &OpenedResponse) -> Option<&Usage> {
        None
    }

    fn judge(
        &self,
        _plan: &CallPlan,
        target: &Target,
        answer: &OpenedResponse,
    ) -> Result<(), Refused> {
        // A stream whose first event is already a failure is retried like a
        // failed plain call.
        let failure = match &answer.first {
            ResponseEvent::Failed { response } => {
                super::responses::failure_of(&target.model.provider, response)
            }
            _ => None,
        };
        match failure {
            Some(error) => Err(Refused {
                problem: crate::error::AttemptProblem::Provider(error),
                answer: String::new(),
            }),
            None => Ok(()),
        }
    }

    fn finish(
        &self,
        plan: &mut CallPlan,
        answer: OpenedResponse,
        _accepted: (),
        finished: Finished<'_>,
    ) -> ResponseStream {
        ResponseStream {
            events: answer.items,
            first: Some(answer.first),
            idle: answer.idle,
            usage: None,
            last: None,
            settlement: finished.settlement,
            finished: false,
            summary: StreamSummary {
                requested_model: plan.request.model.clone(),
                answered_by: finished.target.model.id.clone(),
                candidate: None,
                attempts: finished.attempts,
                cost: finished.cost,
                interrupted: false,
            },
            span: tracing::Span::none(),
        }
    }
}
