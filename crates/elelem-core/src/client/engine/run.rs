//! The loop: *reserve*, *gate*, *send*, *accept*, *record*, *settle* and *decide*
//! for every attempt of every operation.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use futures_util::FutureExt;

use tracing::Instrument;

use super::ladder::{fix_first, next_step, outcome_of, retry_cause, Situation, Step};
use super::operation::{Finished, Fixing, Operation, Refused};
use super::plan::{CallPlan, Target};
use super::record::{settle_or_charge_worst, AttemptRecord, Settlement};
use crate::budget::{worst_case, Reservation};
use crate::client::elelem::Inner;
use crate::client::parts::LastResponse;
use crate::client::prepare::AttemptParams;
use crate::client::spans::{self, SpanOutcome};
use crate::cost::{Adjustments, AttemptOutcome};
use crate::error::{AttemptError, AttemptProblem, ElelemError};
use crate::json::retry_feedback;
use crate::money::Usd;
use crate::provider::EscapedText;
use crate::provider::ProviderError;
use crate::retry::{Failure, RetryState};
use crate::types::Usage;

/// What the policy is told of a truncated answer (only virtual models treat one
/// as a failure of its own, and they move on without asking the policy).
const TRUNCATED: &str = "the answer was cut at the output limit";

fn failure_of(problem: &AttemptProblem) -> Failure<'_> {
    match problem {
        AttemptProblem::Provider(error) => Failure::Provider(error),
        AttemptProblem::JsonParse(reason) => Failure::JsonParse(reason),
        AttemptProblem::Schema(errors) => Failure::JsonSchema(errors),
        AttemptProblem::Check(message) => Failure::JsonSchema(std::slice::from_ref(message)),
        AttemptProblem::Truncated => Failure::JsonParse(TRUNCATED),
    }
}

/// The message telling the model what was wrong with its answer.
fn feedback_of(problem: &AttemptProblem) -> String {
    match problem {
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

/// Whether a failed attempt may still have been billed: the provider took the
/// request but its answer is unknown (a timeout, a body cut mid-way, that could
/// not be decoded or was too large).
fn outcome_unknown(error: &ProviderError) -> bool {
    matches!(
        error,
        ProviderError::Timeout { .. }
            | ProviderError::BodyCut { .. }
            | ProviderError::InvalidBody { .. }
            | ProviderError::BodyTooLarge { .. }
    )
}

/// Reserves the worst case of one attempt on the budgets that apply to the call
/// (the caller asks only when one does, so a call with no budget builds no
/// future here): the bound of its prompt (a bound, not the shared estimate) and
/// its output limit.
async fn reserve(
    inner: &Inner,
    plan: &CallPlan,
    target: &Target,
    params: &AttemptParams,
) -> Result<Reservation, ElelemError> {
    let prompt = plan.prompt_bound(target, params);
    let worst = worst_case(
        &target.model,
        prompt,
        plan.request.max_tokens,
        &plan.request.extra,
    )?;
    inner
        .accounting
        .budgets
        .reserve(&target.model.id, &plan.ledger.tags, worst)
        .await
}

/// Where the attempts of one call stand.
struct Attempts {
    current: Target,
    state: RetryState,
    params: AttemptParams,
    errors: Vec<AttemptError>,
    cost: Usd,
    /// When the current attempt started (the previous one ended).
    since: Instant,
}

impl Attempts {
    fn start(plan: &CallPlan, first: Target) -> Attempts {
        let temperature = plan.initial_temperature(&first.model);
        Attempts {
            current: first,
            state: RetryState {
                original_temperature: temperature,
                temperature,
                fallback_available: !plan.fallbacks.is_empty(),
                ..RetryState::default()
            },
            params: AttemptParams {
                temperature,
                ..AttemptParams::default()
            },
            errors: Vec::new(),
            cost: Usd::ZERO,
            since: Instant::now(),
        }
    }

    /// Moves to a new model: a fallback keeps the retry counts it had, a virtual
    /// model's candidate starts afresh (only the attempt count goes on).
    fn switch(&mut self, plan: &mut CallPlan, next: Target, candidate: bool) {
        let temperature = plan.initial_temperature(&next.model);
        tracing::warn!(from = %self.current.model.id, to = %next.model.id, candidate, "switching model");
        self.current = next;
        plan.estimate.reset();
        if candidate {
            self.state = RetryState {
                attempts: self.state.attempts,
                original_temperature: temperature,
                temperature,
                ..RetryState::default()
            };
        } else {
            self.state.original_temperature = temperature;
            self.state.json_retries = 0;
            self.state.response_format_removed = false;
            self.state.fallback_available = !plan.fallbacks.is_empty();
        }
        self.params = AttemptParams {
            temperature,
            ..AttemptParams::default()
        };
    }
}

/// What the loop does after a failed attempt that does not end the call.
#[derive(Debug, Clone, Copy)]
enum Then {
    /// Waits this long, then sends the next attempt.
    Wait(std::time::Duration),
    /// Sends the next attempt at once.
    Send,
}

/// A failed attempt: why, and the usage and service tier of its answer (if it
/// got one).
struct Failed {
    refused: Refused,
    usage: Option<Usage>,
    tier: Option<String>,
}

impl Failed {
    /// The provider's error as a failed attempt.
    fn of_error(error: ProviderError) -> Failed {
        let answer = failed_generation(&error).unwrap_or_default();
        Failed {
            refused: Refused {
                problem: AttemptProblem::Provider(error),
                answer,
            },
            usage: None,
            tier: None,
        }
    }

    /// A refused answer as a failed attempt; the completion it holds is kept
    /// as the client's last response.
    fn of_answer<O: Operation>(inner: &Inner, answer: O::Answer, refused: Refused) -> Failed {
        let usage = O::usage(&answer).cloned();
        let tier = O::service_tier(&answer).map(str::to_owned);
        if let Some(completion) = O::into_completion(answer) {
            inner
                .accounting
                .keep_last_response(LastResponse::Completion(Arc::new(completion)));
        }
        Failed {
            refused,
            usage,
            tier,
        }
    }
}

/// Records an accepted answer (at once, or as a settlement for later) and
/// gives the caller's output. `fixed_cost` is the JSON fixer's cost when the
/// answer was mended by it.
#[allow(clippy::too_many_arguments)]
fn succeed<O: Operation>(
    inner: &Inner,
    plan: &mut CallPlan,
    at: &mut Attempts,
    op: &O,
    reservation: Option<Reservation>,
    answer: O::Answer,
    accepted: O::Accepted,
    fixed_cost: Option<Usd>,
) -> O::Output {
    let attempt = at.state.attempts;
    if let Some(last) = O::last_response(&answer, &at.current) {
        inner.accounting.keep_last_response(last);
    }
    let settlement = if op.settles_later() {
        Some(Settlement {
            ledger: plan.ledger.clone(),
            attempt,
            target: at.current.clone(),
            started: at.since,
            reservation,
            first_token: None,
        })
    } else {
        let (cost, _) = plan.ledger.write(AttemptRecord {
            attempt,
            target: &at.current,
            usage: O::usage(&answer),
            service_tier: O::service_tier(&answer),
            started: at.since,
            outcome: AttemptOutcome::Success,
            adjustments: Adjustments {
                json_fixed: fixed_cost.is_some(),
                ..O::adjustments(&accepted)
            },
            stream_interrupted: false,
            cost_unknown: false,
            first_token: None,
        });
        settle_or_charge_worst(reservation, cost, false);
        at.cost += cost + fixed_cost.unwrap_or(Usd::ZERO);
        tracing::info!(attempt, model = %at.current.model.id, cost = %at.cost, "call succeeded");
        None
    };
    let finished = Finished {
        target: &at.current,
        attempts: attempt,
        cost: at.cost,
        settlement,
    };
    op.finish(plan, answer, accepted, finished)
}

/// Records a failed attempt and decides what comes next (the ladder's step):
/// the next attempt, after a wait or at once, with its parameters, model or
/// candidate set; or the error that ends the call, holding every attempt.
fn decide<O: Operation>(
    inner: &Inner,
    plan: &mut CallPlan,
    at: &mut Attempts,
    op: &O,
    reservation: Option<Reservation>,
    failed: Failed,
) -> Result<Then, ElelemError> {
    let Failed {
        refused,
        usage,
        tier,
    } = failed;
    let attempt = at.state.attempts;
    // Unknown unless the answer said what it used.
    let cost_unknown = match &refused.problem {
        AttemptProblem::Provider(error) => outcome_unknown(error) && usage.is_none(),
        _ => false,
    };
    let truncated = refused.problem == AttemptProblem::Truncated;
    let failure = failure_of(&refused.problem);
    let cause = retry_cause(&failure, truncated);
    let is_json_problem = !truncated && failure.is_json_problem();
    let step = next_step(
        Situation {
            failure,
            truncated,
            attempt,
            max_attempts: inner.policy.max_attempts,
            json_ladder: op.json_ladder(),
            fallback_left: !plan.fallbacks.is_empty(),
            time_left: plan.candidates.as_ref().map(|c| c.time_left()),
        },
        inner.policy.retry.as_ref(),
        &at.state,
    );
    let next_candidate = match (&step, plan.candidates.as_mut()) {
        (Step::NextCandidate { model_level }, Some(candidates)) => {
            let json = plan.instruction.as_deref().map(EscapedText::text);
            candidates.next(inner, &plan.request, json, *model_level)
        }
        _ => None,
    };
    let (outcome, adjustments) = outcome_of(
        &step,
        cause,
        next_candidate.is_some(),
        at.params.temperature,
        at.state.response_format_sent,
    );
    let (cost, now) = plan.ledger.write(AttemptRecord {
        attempt,
        target: &at.current,
        usage: usage.as_ref(),
        service_tier: tier.as_deref(),
        started: at.since,
        outcome,
        adjustments,
        stream_interrupted: false,
        cost_unknown,
        first_token: None,
    });
    settle_or_charge_worst(reservation, cost, cost_unknown);
    at.since = now;
    at.cost += cost;
    tracing::warn!(attempt, model = %at.current.model.id, problem = %refused.problem, step = ?step, "attempt failed");
    let feedback = feedback_of(&refused.problem);
    at.errors.push(AttemptError {
        model: at.current.model.id.clone(),
        temperature: at.params.temperature,
        problem: refused.problem.clone(),
    });

    if let Some(next) = next_candidate {
        at.switch(plan, next, true);
        return Ok(Then::Send);
    }
    match step {
        Step::Wait(after) => {
            match cause {
                crate::cost::RetryCause::RateLimit => at.state.rate_limit_retries += 1,
                _ => at.state.transient_retries += 1,
            }
            return Ok(Then::Wait(after));
        }
        Step::RetryJson { temperature } => {
            at.state.json_retries += 1;
            at.params.temperature =
                temperature.filter(|_| at.current.model.capabilities.temperature);
            at.params.feedback = Some((refused.answer, feedback));
        }
        Step::RemoveResponseFormat => {
            at.state.json_retries += 1;
            at.state.response_format_removed = true;
            at.params.response_format_removed = true;
            at.params.temperature = at.state.original_temperature;
            at.params.feedback = Some((refused.answer, feedback));
        }
        Step::Fallback => match plan.fallbacks.pop_front() {
            Some(next) => at.switch(plan, next, false),
            None => {
                let same = at.current.clone();
                at.switch(plan, same, false);
            }
        },
        Step::Fail | Step::NextCandidate { .. } => {
            return Err(call_failed(plan, at, refused.problem, is_json_problem));
        }
    }
    Ok(Then::Send)
}

/// A judged attempt that needs no more waiting.
enum Settled<O: Operation> {
    /// Accepted: the call's output.
    Done(O::Output),
    /// Failed: what the ladder decided.
    Next(Then),
}

/// What became of an attempt's result.
enum Judged<'a, O: Operation> {
    Settled(Settled<O>),
    /// The answer went to the JSON fixer, which decides it.
    Fixing(Fixing<'a, O::Answer, O::Accepted>),
}

/// Records an attempt's result on its span and in the request counts, then
/// judges it: accepted (recorded, and the output made), failed (recorded, and
/// the ladder's next step taken), or sent to the JSON fixer first.
fn judge<'a, O: Operation>(
    inner: &Inner,
    plan: &'a mut CallPlan,
    at: &'a mut Attempts,
    op: &'a O,
    attempt_span: &tracing::Span,
    reservation: &mut Option<Reservation>,
    result: Result<O::Answer, ProviderError>,
) -> Result<Judged<'a, O>, ElelemError> {
    spans::record_usage(attempt_span, result.as_ref().ok().and_then(O::usage));
    // Refused by the gate: nothing was sent.
    if !matches!(
        result,
        Err(ProviderError::CoolingDown { .. } | ProviderError::RateLimitWait { .. })
    ) {
        inner.accounting.note_request(&at.current.model.provider);
    }
    match result {
        Ok(answer) => match op.judge(plan, &at.current, &answer) {
            Err(refused)
                if fix_first(
                    &refused.problem,
                    inner.policy.json_fixer.is_some(),
                    op.json_ladder(),
                ) =>
            {
                let plan: &'a CallPlan = plan;
                Ok(Judged::Fixing(op.fix(plan, &at.current, answer, refused)))
            }
            verdict => {
                let verdict = verdict.map(|accepted| (accepted, None));
                settle(inner, plan, at, op, reservation, answer, verdict).map(Judged::Settled)
            }
        },
        Err(error) => {
            let failed = Failed::of_error(error);
            let then = decide(inner, plan, at, op, reservation.take(), failed)?;
            Ok(Judged::Settled(Settled::Next(then)))
        }
    }
}

/// Settles an answer on its verdict: accepted (with the JSON fixer's cost when
/// it was mended), it is recorded and the output made; refused, the attempt is
/// recorded as failed and the ladder decides.
fn settle<O: Operation>(
    inner: &Inner,
    plan: &mut CallPlan,
    at: &mut Attempts,
    op: &O,
    reservation: &mut Option<Reservation>,
    answer: O::Answer,
    verdict: Result<(O::Accepted, Option<Usd>), Refused>,
) -> Result<Settled<O>, ElelemError> {
    let reservation = reservation.take();
    match verdict {
        Ok((accepted, fixed_cost)) => {
            let output = succeed(
                inner,
                plan,
                at,
                op,
                reservation,
                answer,
                accepted,
                fixed_cost,
            );
            Ok(Settled::Done(output))
        }
        Err(refused) => {
            let failed = Failed::of_answer::<O>(inner, answer, refused);
            decide(inner, plan, at, op, reservation, failed).map(Settled::Next)
        }
    }
}

/// The span of one attempt.
fn attempt_span(attempt: u32, target: &Target) -> tracing::Span {
    let model = &target.model;
    tracing::info_span!(
        "elelem.attempt",
        attempt,
        "gen_ai.system" = %model.provider,
        "gen_ai.request.model" = %model.upstream,
        "gen_ai.usage.input_tokens" = tracing::field::Empty,
        "gen_ai.usage.output_tokens" = tracing::field::Empty,
    )
}

/// Runs `op` through the pipeline from `first` until an answer is accepted or
/// the ladder fails the call with every attempt kept.
///
/// The future is kept small, since it is moved into place on every call: the
/// answer, the body and every record are handled in plain functions
/// ([`judge`], [`settle`]) and blocks that end before the next `await`, and
/// the rare waits (a virtual model's deadline, the JSON fixer, a rate limit in
/// the gate) are boxed.
pub(crate) async fn run<O: Operation>(
    inner: &Inner,
    plan: &mut CallPlan,
    first: Target,
    op: &O,
) -> Result<O::Output, ElelemError> {
    let mut at = Attempts::start(plan, first);
    loop {
        at.state.temperature = at.params.temperature;
        at.state.attempts += 1;
        let attempt = at.state.attempts;
        tracing::debug!(attempt, model = %at.current.model.id, temperature = ?at.params.temperature, "sending attempt");
        let attempt_span = attempt_span(attempt, &at.current);

        let mut reservation = if inner.accounting.budgets.applies(&plan.ledger.tags) {
            Some(reserve(inner, plan, &at.current, &at.params).await?)
        } else {
            None
        };
        let result = {
            let send = {
                let body = op.body(plan, &at.current, &at.params);
                at.state.response_format_sent = body.sends_response_format();
                // Made in the attempt's span too: a provider may translate the
                // request as it makes its future.
                let send = attempt_span.in_scope(|| op.send(&at.current, body));
                send.instrument(attempt_span.clone())
            };
            // The gate reads the plan's one prompt estimate, only for a provider
            // with a rate limit: tokenizing the prompt costs more than the rest
            // of the call.
            let (current, params) = (&at.current, &at.params);
            let gate_tokens = || {
                plan.prompt_tokens(current, params)
                    .saturating_add(plan.request.max_tokens.map_or(0, u64::from))
            };
            // A rate limit waits no longer than the policy's server delay and
            // the candidate's deadline.
            let gate_bound = plan
                .candidates
                .as_ref()
                .map_or(inner.policy.retry.max_server_delay(), |c| {
                    c.time_left().min(inner.policy.retry.max_server_delay())
                });
            let send = crate::client::gate::guarded(
                &inner.gate,
                &current.model.provider,
                gate_tokens,
                gate_bound,
                send,
            );
            match &plan.candidates {
                None => send.await,
                // Boxed: only virtual models have a deadline.
                Some(candidates) => {
                    Box::pin(candidates.within_deadline(current, send, &mut reservation)).await
                }
            }
        };
        // The result is judged and recorded in plain functions, and only small
        // values (what to do next) cross the next `await`: the blocks end the
        // big ones first.
        let then = {
            let fixed = {
                let judged = judge(
                    inner,
                    plan,
                    &mut at,
                    op,
                    &attempt_span,
                    &mut reservation,
                    result,
                );
                let fixing = match judged? {
                    Judged::Settled(Settled::Done(output)) => return Ok(output),
                    Judged::Settled(Settled::Next(then)) => Err(then),
                    Judged::Fixing(fixing) => Ok(fixing),
                };
                match fixing {
                    Err(then) => Err(then),
                    Ok(fixing) => Ok(fixing.await),
                }
            };
            match fixed {
                Err(then) => then,
                Ok((answer, fixed)) => {
                    let verdict = fixed.map(|fixed| (fixed.accepted, Some(fixed.cost)));
                    match settle(inner, plan, &mut at, op, &mut reservation, answer, verdict)? {
                        Settled::Done(output) => return Ok(output),
                        Settled::Next(then) => then,
                    }
                }
            }
        };
        if let Then::Wait(after) = then {
            tokio::time::sleep(after).await;
        }
    }
}

/// Runs `op` as [`run`] does, inside the call's span, and leaves the outcome on
/// the span: the error, or what the output records of itself ([`SpanOutcome`]).
/// A plain function around [`run`]'s future (no `async` layer of its own, which
/// would hold a second copy of it).
pub(crate) fn run_in_span<'a, O: Operation>(
    inner: &'a Inner,
    plan: &'a mut CallPlan,
    first: Target,
    op: &'a O,
) -> impl Future<Output = Result<O::Output, ElelemError>> + 'a
where
    O::Output: SpanOutcome,
{
    let span = plan.span.clone();
    let outcome_span = span.clone();
    run(inner, plan, first, op)
        .instrument(span)
        .map(move |result| match result {
            Ok(output) => Ok(output.in_span(outcome_span)),
            Err(error) => {
                spans::record_error(&outcome_span, &error);
                Err(error)
            }
        })
}

/// The error that ends a call, holding every attempt.
fn call_failed(
    plan: &mut CallPlan,
    at: &mut Attempts,
    problem: AttemptProblem,
    is_json_problem: bool,
) -> ElelemError {
    let attempts = std::mem::take(&mut at.errors);
    if let Some(candidates) = plan.candidates.take() {
        return ElelemError::CandidatesExhausted {
            model: candidates.virtual_id,
            attempts,
            skipped: candidates.skipped,
        };
    }
    let model = at.current.model.id.clone();
    match problem {
        AttemptProblem::Provider(error) if !is_json_problem => ElelemError::Provider {
            model,
            error,
            attempts,
        },
        _ => ElelemError::InvalidJson { model, attempts },
    }
}
