//! Steps 1, 4, 6 and 7 of the pipeline: check the request, send attempts, let the
//! retry policy decide after each failure, and record every attempt.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use jsonschema::Validator;
use tracing::Instrument;

use super::answer::{self, Rejection};
use super::cached::CacheSlot;
use super::candidates::Candidates;
use super::checks;
use super::elelem::{Inner, ProviderSlot};
use super::prepare::{wire_body, AttemptParams};
use super::spans;
use crate::budget::{worst_case, Reservation};
use crate::catalogue::{is_virtual, split_model_id, CostBreakdown, ModelEntry};
use crate::cost::{Adjustments, AttemptOutcome, RetryCause, TokenCounts, UsageRecord};
use crate::error::{AttemptError, AttemptProblem, ElelemError};
use crate::json::{json_instruction, retry_feedback};
use crate::money::Usd;
use crate::provider::{Provider, ProviderError, ProviderErrorKind, WireRequest};
use crate::retry::{Failure, RetryDecision, RetryState};
use crate::tokens::check_context_window;
use crate::types::{ChatCompletion, ChatRequest, FinishReason, Message, Usage};

/// The model an attempt goes to.
#[derive(Clone)]
pub(crate) struct Target {
    pub model: Arc<ModelEntry>,
    pub provider: Arc<dyn Provider>,
}

/// Finds a model and a ready provider for a `provider:model` id.
pub(crate) fn target(inner: &Inner, id: &str) -> Result<Target, ElelemError> {
    if is_virtual(id) {
        return Err(ElelemError::InvalidRequest {
            reason: format!(
                "{id} is a virtual model, which only chat completions take (create_chat_completion, stream_chat_completion, generate); name one of its candidates here"
            ),
        });
    }
    let (provider_name, _) = split_model_id(id)?;
    let slot = inner
        .providers
        .get(provider_name)
        .ok_or_else(|| ElelemError::UnknownProvider {
            provider: provider_name.to_owned(),
            known: inner
                .providers
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    // A model the catalogue does not list is allowed on providers with
    // `allow_unknown_models` (no price: its cost is recorded as unknown).
    let model = inner
        .catalogue
        .callable(id)
        .ok_or_else(|| ElelemError::UnknownModel {
            model: id.to_owned(),
            provider: provider_name.to_owned(),
            known: inner.catalogue.model_ids_of(provider_name),
        })?;
    match slot {
        ProviderSlot::Ready(provider) => Ok(Target {
            model,
            provider: provider.clone(),
        }),
        ProviderSlot::MissingKey { env_var } => Err(ElelemError::MissingApiKey {
            provider: provider_name.to_owned(),
            env_var: env_var.clone(),
            key_file: inner.state.key_file(provider_name),
        }),
    }
}

/// Refuses images for a model whose catalogue entry lacks vision, before any call.
pub(crate) fn check_vision(request: &ChatRequest, model: &ModelEntry) -> Result<(), ElelemError> {
    if model.capabilities.vision
        || !request
            .messages
            .iter()
            .any(crate::types::Message::has_image)
    {
        return Ok(());
    }
    Err(ElelemError::InvalidRequest {
        reason: format!(
            "{} does not accept images (its catalogue entry has no vision); pick a vision model or send text only",
            model.id
        ),
    })
}

/// The models tried after the first one's JSON ladder fails: the request's own
/// `fallback_models` (each must be callable), else the provider's fallback model.
fn fallbacks_of(
    inner: &Inner,
    request: &ChatRequest,
    first: &ModelEntry,
) -> Result<VecDeque<Target>, ElelemError> {
    if request.fallback_models.is_empty() {
        return Ok(fallback_of(inner, first).into_iter().collect());
    }
    request
        .fallback_models
        .iter()
        .filter(|id| **id != first.id)
        .map(|id| target(inner, id))
        .collect()
}

/// The fallback of `current`'s provider, when it exists, differs and is callable.
fn fallback_of(inner: &Inner, current: &ModelEntry) -> Option<Target> {
    let id = inner
        .catalogue
        .provider(&current.provider)?
        .fallback_model
        .as_ref()?;
    if *id == current.id {
        return None;
    }
    target(inner, id).ok()
}

fn tokens_of(usage: Option<&Usage>) -> TokenCounts {
    match usage {
        None => TokenCounts::default(),
        Some(u) => TokenCounts {
            input: u.prompt_tokens,
            cached_input: u.cached_tokens(),
            output: u.completion_tokens,
            reasoning: u.reasoning_tokens(),
        },
    }
}

fn cost_of(model: &ModelEntry, usage: Option<&Usage>) -> CostBreakdown {
    match (model.prices, usage) {
        (Some(prices), Some(usage)) => prices.cost(usage),
        _ => CostBreakdown::default(),
    }
}

/// The cost of an answer: the provider's own figure when it reports one (split
/// between input and output in the price table's proportions, total exact),
/// else the price table's.
fn answer_cost(model: &ModelEntry, usage: Option<&Usage>, reported: Option<Usd>) -> CostBreakdown {
    let table = cost_of(model, usage);
    let Some(reported) = reported else {
        return table;
    };
    let table_total = table.total().femtos();
    if table_total <= 0 {
        return CostBreakdown {
            input: reported,
            ..CostBreakdown::default()
        };
    }
    let scale =
        |part: Usd| Usd::from_femtos(reported.femtos().saturating_mul(part.femtos()) / table_total);
    let input = scale(table.input);
    let output = Usd::from_femtos(reported.femtos() - input.femtos());
    let reasoning = match table.output.femtos() {
        0 => Usd::ZERO,
        out => Usd::from_femtos(output.femtos().saturating_mul(table.reasoning.femtos()) / out),
    };
    CostBreakdown {
        input,
        output,
        reasoning,
    }
}

pub(crate) fn retry_cause(failure: &Failure<'_>) -> RetryCause {
    match failure {
        Failure::JsonParse(_) => RetryCause::JsonParse,
        Failure::JsonSchema(_) => RetryCause::JsonSchema,
        Failure::Provider(error) => match error.kind() {
            Some(ProviderErrorKind::RateLimited) => RetryCause::RateLimit,
            Some(ProviderErrorKind::ApiJsonValidation) => RetryCause::ApiJsonValidation,
            _ => RetryCause::Transient,
        },
    }
}

/// The answer a provider generated but rejected itself (GROQ's `failed_generation`),
/// read from the untruncated error object.
fn failed_generation(error: &ProviderError) -> Option<String> {
    let ProviderError::Http(http) = error else {
        return None;
    };
    http.error_object
        .as_ref()?
        .get("failed_generation")?
        .as_str()
        .map(str::to_owned)
}

/// Everything a usage record says about one attempt.
pub(crate) struct AttemptRecord<'a> {
    pub call_id: u64,
    pub attempt: u32,
    pub model: &'a ModelEntry,
    pub tags: &'a Arc<[String]>,
    pub spend: Spend<'a>,
    pub started: Instant,
    pub outcome: AttemptOutcome,
    pub adjustments: Adjustments,
    pub stream_interrupted: bool,
}

/// Sends one attempt's usage record to the sink; returns its cost and when it ended.
pub(crate) fn write_record(
    sink: &dyn crate::cost::CostSink,
    record: AttemptRecord<'_>,
) -> (Usd, Instant) {
    let Spend { usage, reported } = record.spend;
    let now = Instant::now();
    let cost = answer_cost(record.model, usage, reported);
    sink.record(&UsageRecord {
        timestamp: SystemTime::now(),
        call_id: record.call_id,
        attempt: record.attempt,
        model: record.model.id.clone(),
        provider: record.model.provider.clone(),
        tags: record.tags.clone(),
        tokens: tokens_of(usage),
        cost,
        price_known: record.model.prices.is_some() || reported.is_some(),
        duration: now.saturating_duration_since(record.started),
        outcome: record.outcome,
        adjustments: record.adjustments,
        cache_hit: false,
        saved_cost: Usd::ZERO,
        stream_interrupted: record.stream_interrupted,
    });
    (cost.total(), now)
}

/// What an attempt's answer cost: its usage, and the provider's own figure if any.
#[derive(Clone, Copy)]
pub(crate) struct Spend<'a> {
    pub usage: Option<&'a Usage>,
    pub reported: Option<Usd>,
}

/// What one failed attempt left behind.
struct FailedAttempt {
    problem: AttemptProblem,
    /// The rejected answer text, for feedback.
    answer: String,
}

impl FailedAttempt {
    fn failure(&self) -> Failure<'_> {
        match &self.problem {
            AttemptProblem::Provider(error) => Failure::Provider(error),
            AttemptProblem::JsonParse(reason) => Failure::JsonParse(reason),
            AttemptProblem::Schema(errors) => Failure::JsonSchema(errors),
            AttemptProblem::Check(message) => Failure::JsonSchema(std::slice::from_ref(message)),
            AttemptProblem::Truncated => Failure::JsonParse(TRUNCATED),
        }
    }

    /// The message telling the model what was wrong.
    fn feedback(&self) -> String {
        match &self.problem {
            AttemptProblem::Provider(_) => {
                retry_feedback("the provider could not validate your answer as JSON")
            }
            AttemptProblem::JsonParse(reason) => retry_feedback(reason),
            AttemptProblem::Schema(errors) => retry_feedback(&format!(
                "it does not satisfy the JSON schema: {}",
                errors.join("; ")
            )),
            AttemptProblem::Check(message) => retry_feedback(message),
            AttemptProblem::Truncated => retry_feedback(TRUNCATED),
        }
    }
}

/// What the policy is told of a truncated answer (only virtual models treat one
/// as a failure of its own, and they move on without asking the policy).
const TRUNCATED: &str = "the answer was cut at the output limit";

/// Reserves the worst case of one attempt on the budgets that apply to `tags`
/// (`None` when none does).
pub(crate) async fn reserve(
    inner: &Inner,
    model: &ModelEntry,
    messages: &[Message],
    instruction: Option<&str>,
    max_tokens: Option<u32>,
    extra: &serde_json::Map<String, serde_json::Value>,
    tags: &[String],
) -> Result<Option<Reservation>, ElelemError> {
    let budgets = &inner.budgets;
    if !budgets.applies(tags) {
        return Ok(None);
    }
    let worst = worst_case(model, messages, instruction, max_tokens, extra)?;
    budgets.reserve(&model.id, tags, worst).await.map(Some)
}

/// One call through the pipeline.
struct Call<'a> {
    inner: &'a Inner,
    request: ChatRequest,
    instruction: Option<String>,
    validator: Option<Arc<Validator>>,
    tags: Arc<[String]>,
    call_id: u64,
    /// The models tried after the JSON ladder fails, in order.
    fallbacks: VecDeque<Target>,
    /// For a virtual model, its candidates (then `fallbacks` is empty).
    candidates: Option<Candidates>,
}

pub(crate) async fn run(
    inner: &Inner,
    request: ChatRequest,
) -> Result<ChatCompletion, ElelemError> {
    if request.messages.is_empty() {
        return Err(ElelemError::InvalidRequest {
            reason: "the request has no messages; add at least one Message".into(),
        });
    }
    let validator = validator_of(inner, &request)?;
    let instruction = request
        .is_json_mode()
        .then(|| json_instruction(request.validation_schema()));
    let (first, fallbacks, candidates) = if is_virtual(&request.model) {
        let virtual_model = virtual_model(inner, &request.model)?;
        let (candidates, first) =
            Candidates::start(inner, &request, instruction.as_deref(), virtual_model)?;
        (first, VecDeque::new(), Some(candidates))
    } else {
        let first = target(inner, &request.model)?;
        check_vision(&request, &first.model)?;
        if inner.state.context_check {
            let (messages, max_tokens) = (&request.messages, request.max_tokens);
            check_context_window(&first.model, messages, instruction.as_deref(), max_tokens)?;
        }
        let fallbacks = fallbacks_of(inner, &request, &first.model)?;
        (first, fallbacks, None)
    };
    let call_id = inner.next_call_id.fetch_add(1, Ordering::Relaxed);
    let span = spans::chat(call_id, &request.model, &first.model);
    spans::record_request(&span, request.temperature, request.max_tokens);
    let cache = CacheSlot::new(inner, &request, &first.model, instruction.as_deref());
    if let Some(cache) = &cache {
        let lookup = cache.lookup(inner, &request, &first.model, validator.as_deref(), call_id);
        if let Some(hit) = lookup.instrument(span.clone()).await {
            return Ok(hit);
        }
    }
    let call = Call {
        inner,
        tags: request.tags.clone().into(),
        request,
        instruction,
        validator,
        call_id,
        fallbacks,
        candidates,
    };
    let result = call.attempts(first).instrument(span.clone()).await;
    spans::record_result(&span, &result);
    if let (Some(cache), Ok(completion)) = (&cache, &result) {
        cache.store(completion).await;
    }
    result
}

/// The compiled validator of the request's schema, if it has one.
pub(crate) fn validator_of(
    inner: &Inner,
    request: &ChatRequest,
) -> Result<Option<Arc<Validator>>, ElelemError> {
    request
        .validation_schema()
        .map(|schema| {
            inner
                .schemas
                .validator(schema)
                .map_err(|e| ElelemError::InvalidSchema { reason: e.reason })
        })
        .transpose()
}

/// Whether the first choice stopped at the output limit.
fn is_truncated(completion: &ChatCompletion) -> bool {
    completion
        .choices
        .first()
        .and_then(|c| c.finish_reason.as_ref())
        == Some(&FinishReason::Length)
}

/// The catalogue's virtual model `id`, or an error listing the known ones.
pub(crate) fn virtual_model<'a>(
    inner: &'a Inner,
    id: &str,
) -> Result<&'a crate::catalogue::VirtualModel, ElelemError> {
    inner.catalogue.virtual_model(id).ok_or_else(|| {
        let ids: Vec<&str> = inner
            .catalogue
            .virtual_models()
            .map(|v| v.id.as_str())
            .collect();
        ElelemError::UnknownModel {
            model: id.to_owned(),
            provider: "virtual".to_owned(),
            known: if ids.is_empty() {
                "none (define them under [[virtual_models]] in a models file)".to_owned()
            } else {
                ids.join(", ")
            },
        }
    })
}

impl Call<'_> {
    fn initial_temperature(&self, model: &ModelEntry) -> Option<f64> {
        self.request
            .temperature
            .filter(|_| model.capabilities.temperature)
    }

    fn record(
        &self,
        attempt: u32,
        target: &Target,
        spend: Spend<'_>,
        started: Instant,
        outcome: AttemptOutcome,
        adjustments: Adjustments,
    ) -> (Usd, Instant) {
        write_record(
            self.inner.sink.as_ref(),
            AttemptRecord {
                call_id: self.call_id,
                attempt,
                model: &target.model,
                tags: &self.tags,
                spend,
                started,
                outcome,
                adjustments,
                stream_interrupted: false,
            },
        )
    }

    /// The next attempt's token cost for a rate-limited provider.
    fn gate_tokens(&self, target: &Target) -> u64 {
        let (messages, max_tokens) = (&self.request.messages, self.request.max_tokens);
        super::gate::request_tokens(
            &target.model,
            messages,
            self.instruction.as_deref(),
            max_tokens,
        )
    }

    /// Reserves the worst case of the next attempt on the budgets that apply
    /// (`None` when none does).
    async fn reserve(
        &self,
        target: &Target,
        params: &AttemptParams,
    ) -> Result<Option<Reservation>, ElelemError> {
        if !self.inner.budgets.applies(&self.tags) {
            return Ok(None);
        }
        let mut messages = self.request.messages.clone();
        if let Some((answer, feedback)) = &params.feedback {
            messages.push(Message::assistant(answer.clone()));
            messages.push(Message::user(feedback.clone()));
        }
        reserve(
            self.inner,
            &target.model,
            &messages,
            self.instruction.as_deref(),
            self.request.max_tokens,
            &self.request.extra,
            &self.tags,
        )
        .await
    }

    async fn attempts(mut self, first: Target) -> Result<ChatCompletion, ElelemError> {
        let policy = self.inner.policy.clone();
        let json_mode = self.request.is_json_mode();
        let mut current = first;
        let mut fallbacks = std::mem::take(&mut self.fallbacks);
        let original_temperature = self.initial_temperature(&current.model);
        let mut state = RetryState {
            original_temperature,
            temperature: original_temperature,
            fallback_available: !fallbacks.is_empty(),
            ..RetryState::default()
        };
        let mut params = AttemptParams {
            temperature: original_temperature,
            ..AttemptParams::default()
        };
        let mut errors: Vec<AttemptError> = Vec::new();
        let mut call_cost = Usd::ZERO;
        let mut since = Instant::now();

        loop {
            let provider_entry = self.inner.catalogue.provider(&current.model.provider);
            let body = wire_body(
                &self.request,
                self.instruction.as_deref(),
                provider_entry,
                &current.model,
                &params,
            );
            state.response_format_sent = body.contains_key("response_format");
            state.temperature = params.temperature;
            state.attempts += 1;
            let attempt = state.attempts;
            tracing::debug!(attempt, model = %current.model.id, temperature = ?params.temperature, "sending attempt");

            let attempt_span = tracing::info_span!(
                "elelem.attempt",
                attempt = state.attempts,
                "gen_ai.system" = %current.model.provider,
                "gen_ai.request.model" = %current.model.upstream,
                "gen_ai.usage.input_tokens" = tracing::field::Empty,
                "gen_ai.usage.output_tokens" = tracing::field::Empty,
            );
            let mut reservation = self.reserve(&current, &params).await?;
            let send = current
                .provider
                .chat_completion(WireRequest::new(body))
                .instrument(attempt_span.clone());
            let send = super::gate::guarded(
                &self.inner.gate,
                &current.model.provider,
                || self.gate_tokens(&current),
                send,
            );
            let result = match &self.candidates {
                None => send.await,
                Some(candidates) => {
                    candidates
                        .within_deadline(&current, send, &mut reservation)
                        .await
                }
            };
            let usage = result
                .as_ref()
                .ok()
                .and_then(|r| r.completion.usage.as_ref());
            spans::record_usage(&attempt_span, usage);
            let answered = result.as_ref().ok().map(|r| &r.completion);
            if !matches!(result, Err(ProviderError::CoolingDown { .. })) {
                self.inner
                    .state
                    .note_request(&current.model.provider, answered);
            }
            let failed = match result {
                Ok(response) => {
                    let reported = response.reported_cost;
                    let completion = response.completion;
                    let processed = if self.candidates.is_some() && is_truncated(&completion) {
                        let text = completion.content().unwrap_or_default().to_owned();
                        Err((text, None))
                    } else {
                        answer::process(
                            &completion,
                            json_mode,
                            current.model.capabilities.reasoning,
                            self.validator.as_deref(),
                        )
                        .and_then(|done| checks::apply(done, &self.request.checks))
                        .map_err(|(text, rejection)| (text, Some(rejection)))
                    };
                    match processed {
                        Ok(done) => {
                            let (cost, _) = self.record(
                                attempt,
                                &current,
                                Spend {
                                    usage: completion.usage.as_ref(),
                                    reported,
                                },
                                since,
                                AttemptOutcome::Success,
                                Adjustments::default(),
                            );
                            if let Some(reservation) = reservation.take() {
                                reservation.settle(cost);
                            }
                            call_cost += cost;
                            tracing::info!(attempt, model = %current.model.id, cost = %call_cost, "call succeeded");
                            return Ok(self.finish(completion, done, &current, attempt, call_cost));
                        }
                        Err((text, rejection)) => {
                            let problem = match rejection {
                                None => AttemptProblem::Truncated,
                                Some(Rejection::Parse(reason)) => AttemptProblem::JsonParse(reason),
                                Some(Rejection::Schema(errors)) => AttemptProblem::Schema(errors),
                                Some(Rejection::Check(message)) => AttemptProblem::Check(message),
                            };
                            (
                                FailedAttempt {
                                    problem,
                                    answer: text,
                                },
                                completion.usage,
                                reported,
                            )
                        }
                    }
                }
                Err(error) => {
                    let answer = failed_generation(&error).unwrap_or_default();
                    (
                        FailedAttempt {
                            problem: AttemptProblem::Provider(error),
                            answer,
                        },
                        None,
                        None,
                    )
                }
            };
            let (failed, usage, reported) = failed;
            let failure = failed.failure();
            let truncated = failed.problem == AttemptProblem::Truncated;
            let is_json_problem = !truncated && failure.is_json_problem();
            let cause = if truncated {
                RetryCause::Transient
            } else {
                retry_cause(&failure)
            };
            let mut decision = if truncated || attempt >= self.inner.max_attempts {
                RetryDecision::Fail
            } else {
                policy.decide(&failure, &state)
            };
            if decision == RetryDecision::UseFallback && fallbacks.is_empty() {
                decision = RetryDecision::Fail;
            }
            // A virtual model moves on once its candidate failed or ran out of time.
            let mut switch_to = None;
            if let Some(candidates) = self.candidates.as_mut() {
                let wait = match decision {
                    RetryDecision::Retry { after } => after,
                    _ => std::time::Duration::ZERO,
                };
                if decision == RetryDecision::Fail || candidates.out_of_time(wait) {
                    let model_level = decision == RetryDecision::Fail && is_json_problem;
                    switch_to = candidates.next(
                        self.inner,
                        &self.request,
                        self.instruction.as_deref(),
                        model_level,
                    );
                    if switch_to.is_none() {
                        decision = RetryDecision::Fail;
                    }
                }
            }
            let adjustments = if switch_to.is_some() {
                Adjustments {
                    next_candidate: true,
                    ..Adjustments::default()
                }
            } else {
                Adjustments {
                    temperature_reduced: matches!(decision, RetryDecision::RetryJson { temperature: Some(t) } if params.temperature.is_some_and(|c| t < c)),
                    response_format_removed: decision == RetryDecision::RemoveResponseFormat
                        && state.response_format_sent,
                    fallback_model_used: decision == RetryDecision::UseFallback,
                    next_candidate: false,
                }
            };
            let outcome = match decision {
                RetryDecision::Fail if switch_to.is_none() => AttemptOutcome::Failed,
                _ => AttemptOutcome::Retried(cause),
            };
            let (cost, now) = self.record(
                attempt,
                &current,
                Spend {
                    usage: usage.as_ref(),
                    reported,
                },
                since,
                outcome,
                adjustments,
            );
            if let Some(reservation) = reservation.take() {
                reservation.settle(cost);
            }
            since = now;
            call_cost += cost;
            tracing::warn!(attempt, model = %current.model.id, problem = %failed.problem, decision = ?decision, "attempt failed");
            let feedback = failed.feedback();
            errors.push(AttemptError {
                model: current.model.id.clone(),
                temperature: params.temperature,
                problem: failed.problem.clone(),
            });

            if let Some(next) = switch_to {
                tracing::warn!(from = %current.model.id, to = %next.model.id, "moving to the virtual model's next candidate");
                current = next;
                let temperature = self.initial_temperature(&current.model);
                state = RetryState {
                    attempts: state.attempts,
                    original_temperature: temperature,
                    temperature,
                    ..RetryState::default()
                };
                params = AttemptParams {
                    temperature,
                    ..AttemptParams::default()
                };
                continue;
            }
            match decision {
                RetryDecision::Retry { after } => {
                    match cause {
                        RetryCause::RateLimit => state.rate_limit_retries += 1,
                        _ => state.transient_retries += 1,
                    }
                    tokio::time::sleep(after).await;
                }
                RetryDecision::RetryJson { temperature } => {
                    state.json_retries += 1;
                    params.temperature =
                        temperature.filter(|_| current.model.capabilities.temperature);
                    params.feedback = Some((failed.answer, feedback));
                }
                RetryDecision::RemoveResponseFormat => {
                    state.json_retries += 1;
                    state.response_format_removed = true;
                    params.response_format_removed = true;
                    params.temperature = state.original_temperature;
                    params.feedback = Some((failed.answer, feedback));
                }
                RetryDecision::UseFallback => {
                    if let Some(next) = fallbacks.pop_front() {
                        tracing::warn!(from = %current.model.id, to = %next.model.id, "switching to the fallback model");
                        current = next;
                    }
                    let temperature = self.initial_temperature(&current.model);
                    state.original_temperature = temperature;
                    state.json_retries = 0;
                    state.response_format_removed = false;
                    state.fallback_available = !fallbacks.is_empty();
                    params = AttemptParams {
                        temperature,
                        ..AttemptParams::default()
                    };
                }
                RetryDecision::Fail => {
                    if let Some(candidates) = self.candidates.take() {
                        return Err(ElelemError::CandidatesExhausted {
                            model: candidates.virtual_id,
                            attempts: errors,
                            skipped: candidates.skipped,
                        });
                    }
                    let model = current.model.id.clone();
                    return Err(match failed.problem {
                        AttemptProblem::Provider(error) if !is_json_problem => {
                            ElelemError::Provider {
                                model,
                                error,
                                attempts: errors,
                            }
                        }
                        _ => ElelemError::InvalidJson {
                            model,
                            attempts: errors,
                        },
                    });
                }
            }
        }
    }

    fn finish(
        &self,
        mut completion: ChatCompletion,
        answer: answer::Answer,
        target: &Target,
        attempts: u32,
        cost: Usd,
    ) -> ChatCompletion {
        if let Some(choice) = completion.choices.first_mut() {
            choice.message.content = answer.content;
        }
        completion.elelem.requested_model = self.request.model.clone();
        completion.elelem.answered_by = target.model.id.clone();
        completion.elelem.candidate = self.candidates.as_ref().map(|c| c.current);
        completion.elelem.attempts = attempts;
        completion.elelem.cost = cost;
        completion.elelem.reasoning = answer.reasoning;
        completion.elelem.json = answer.json;
        completion
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;

    #[test]
    fn a_reported_cost_replaces_the_table_and_keeps_its_total_exact() {
        let c = Catalogue::from_sources([(
            "t",
            "[provider]\nname='p'\nbase_url='u'\n[[models]]\nid='p:m'\nprice={input='1',output='3'}\n[[models]]\nid='p:free'",
        )])
        .unwrap();
        let usage: Usage = serde_json::from_str(r#"{"prompt_tokens":1000,"completion_tokens":1000,"completion_tokens_details":{"reasoning_tokens":500}}"#).unwrap();
        let reported: Usd = "0.0001".parse().unwrap();
        let cost = answer_cost(c.model("p:m").unwrap(), Some(&usage), Some(reported));
        assert_eq!(cost.total(), reported);
        assert_eq!(cost.input, "0.000025".parse().unwrap());
        assert_eq!(cost.reasoning, "0.0000375".parse().unwrap());
        let unpriced = answer_cost(c.model("p:free").unwrap(), Some(&usage), Some(reported));
        assert_eq!(unpriced.total(), reported);
        let table = answer_cost(c.model("p:m").unwrap(), Some(&usage), None);
        assert_eq!(table.total(), "0.004".parse().unwrap());
    }
}
