//! The `tracing` span of every call, with the OpenTelemetry GenAI
//! semantic-convention attributes: one shape for chat calls, streams and legacy
//! completions. Outcome fields start empty and are recorded when the call ends.

use tracing::Span;

use crate::catalogue::ModelEntry;
use crate::error::ElelemError;
use crate::money::Usd;
use crate::types::{ChatCompletion, ElelemMeta, TextCompletion, Usage};

/// A call span named `$name`, for GenAI operation `$operation` (`chat`,
/// `text_completion`), on the first model tried.
macro_rules! call_span {
    ($name:literal, $operation:literal, $call_id:expr, $requested:expr, $model:expr) => {
        tracing::info_span!(
            $name,
            call_id = $call_id,
            model = %$requested,
            "gen_ai.operation.name" = $operation,
            "gen_ai.system" = %$model.provider,
            "gen_ai.request.model" = %$model.upstream,
            "gen_ai.request.temperature" = tracing::field::Empty,
            "gen_ai.request.max_tokens" = tracing::field::Empty,
            "gen_ai.response.model" = tracing::field::Empty,
            "gen_ai.response.id" = tracing::field::Empty,
            "gen_ai.usage.input_tokens" = tracing::field::Empty,
            "gen_ai.usage.output_tokens" = tracing::field::Empty,
            "elelem.answered_by" = tracing::field::Empty,
            "elelem.attempts" = tracing::field::Empty,
            "elelem.retries" = tracing::field::Empty,
            "elelem.cost_usd" = tracing::field::Empty,
            "elelem.stream_interrupted" = tracing::field::Empty,
            "elelem.error" = tracing::field::Empty,
        )
    };
}

/// The span of a chat completion (`elelem.chat_completion`).
pub(crate) fn chat(call_id: u64, requested: &str, model: &ModelEntry) -> Span {
    call_span!("elelem.chat_completion", "chat", call_id, requested, model)
}

/// The span of a streamed chat completion (`elelem.chat_completion_stream`); it
/// lives as long as the stream and is completed when the stream ends.
pub(crate) fn stream(call_id: u64, requested: &str, model: &ModelEntry) -> Span {
    call_span!(
        "elelem.chat_completion_stream",
        "chat",
        call_id,
        requested,
        model
    )
}

/// The span of a legacy completion (`elelem.completion`).
pub(crate) fn completion(call_id: u64, requested: &str, model: &ModelEntry) -> Span {
    call_span!(
        "elelem.completion",
        "text_completion",
        call_id,
        requested,
        model
    )
}

/// The span of a Responses API call, plain or streamed (`elelem.response`).
pub(crate) fn response(call_id: u64, requested: &str, model: &ModelEntry) -> Span {
    call_span!("elelem.response", "chat", call_id, requested, model)
}

/// The span of one batch of an embeddings call.
pub(crate) fn embeddings(call_id: u64, requested: &str, model: &ModelEntry) -> Span {
    call_span!("elelem.embeddings", "embeddings", call_id, requested, model)
}

/// Records the request parameters GenAI names.
pub(crate) fn record_request(span: &Span, temperature: Option<f64>, max_tokens: Option<u32>) {
    if let Some(temperature) = temperature {
        span.record("gen_ai.request.temperature", temperature);
    }
    if let Some(max_tokens) = max_tokens {
        span.record("gen_ai.request.max_tokens", max_tokens);
    }
}

/// Records token usage (on a call span or an attempt span).
pub(crate) fn record_usage(span: &Span, usage: Option<&Usage>) {
    let Some(usage) = usage else {
        return;
    };
    if let Some(input) = usage.prompt_tokens {
        span.record("gen_ai.usage.input_tokens", input);
    }
    if let Some(output) = usage.completion_tokens {
        span.record("gen_ai.usage.output_tokens", output);
    }
}

/// What a finished call answered, for its span.
pub(crate) struct Answered<'a> {
    /// The model the provider says answered.
    pub response_model: &'a str,
    /// The provider's response id.
    pub response_id: &'a str,
    pub usage: Option<&'a Usage>,
    /// The `provider:model` that answered.
    pub answered_by: &'a str,
    pub attempts: u32,
    pub cost: Usd,
}

/// Records a call's answer on its span.
pub(crate) fn record_answer(span: &Span, answered: Answered<'_>) {
    span.record("gen_ai.response.model", answered.response_model);
    span.record("gen_ai.response.id", answered.response_id);
    record_usage(span, answered.usage);
    span.record("elelem.answered_by", answered.answered_by);
    span.record("elelem.attempts", answered.attempts);
    span.record("elelem.retries", answered.attempts.saturating_sub(1));
    span.record("elelem.cost_usd", answered.cost.as_f64());
}

/// A finished call's answer as its span sees it.
pub(crate) trait CallAnswer {
    /// What the span records.
    fn answered(&self) -> Answered<'_>;
}

fn answered<'a>(
    model: &'a str,
    id: &'a str,
    usage: Option<&'a Usage>,
    meta: &'a ElelemMeta,
) -> Answered<'a> {
    Answered {
        response_model: model,
        response_id: id,
        usage,
        answered_by: &meta.answered_by,
        attempts: meta.attempts,
        cost: meta.cost,
    }
}

impl CallAnswer for ChatCompletion {
    fn answered(&self) -> Answered<'_> {
        answered(&self.model, &self.id, self.usage.as_ref(), &self.elelem)
    }
}

/// A boxed answer (the chat engine's output) as the answer it holds.
impl<T: CallAnswer> CallAnswer for Box<T> {
    fn answered(&self) -> Answered<'_> {
        (**self).answered()
    }
}

impl CallAnswer for TextCompletion {
    fn answered(&self) -> Answered<'_> {
        answered(&self.model, &self.id, self.usage.as_ref(), &self.elelem)
    }
}

impl CallAnswer for crate::types::Response {
    fn answered(&self) -> Answered<'_> {
        Answered {
            response_model: &self.model,
            response_id: &self.id,
            usage: None,
            answered_by: &self.elelem.answered_by,
            attempts: self.elelem.attempts,
            cost: self.elelem.cost,
        }
    }
}

/// What a call's output leaves on the call's span when the engine is done.
pub(crate) trait SpanOutcome {
    /// Records the output on `span`, or keeps `span` to complete it later (a
    /// stream, whose answer is known when it ends).
    fn in_span(self, span: Span) -> Self;
}

/// A finished answer records its attributes.
impl<T: CallAnswer> SpanOutcome for T {
    fn in_span(self, span: Span) -> Self {
        record_answer(&span, self.answered());
        self
    }
}

/// Records a call's error on its span.
pub(crate) fn record_error(span: &Span, error: &ElelemError) {
    span.record("elelem.attempts", error.attempts().len());
    span.record("elelem.retries", error.attempts().len().saturating_sub(1));
    span.record("elelem.error", tracing::field::display(error));
}
