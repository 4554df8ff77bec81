//! The chat operation: a plain chat completion through the engine (its *accept*
//! step cleans, parses, validates and checks the answer), with the response
//! cache around it.

use std::future::Future;

use super::answer::{self, Answer, Rejection};
use super::checks;
use super::elelem::Inner;
use super::engine::{self, CallPlan, Entry, Finished, Fixed, Fixing, Operation, Refused, Target};
use super::json_fixer::fix_json;
use super::parts::LastResponse;
use super::prepare::AttemptParams;
use crate::cost::Adjustments;
use crate::error::{AttemptProblem, ElelemError};
use crate::provider::{ProviderError, ProviderResponse, WireRequest};
use crate::types::{ChatCompletion, ChatRequest, FinishReason, Usage};

/// Sends a chat completion through the pipeline, answering from the response
/// cache when it can and storing what it answers. A plain function, as is
/// [`Elelem::create_chat_completion`](crate::Elelem::create_chat_completion):
/// the caller awaits [`run_chat`]'s future itself, with no layer (and no copy
/// of the request) around it.
pub(crate) fn run(
    inner: &Inner,
    request: ChatRequest,
) -> impl Future<Output = Result<ChatCompletion, ElelemError>> + Send + '_ {
    run_chat(inner, request, true)
}

/// [`run`] without the JSON fixer step: the fixer's own call.
pub(crate) fn run_unfixed(
    inner: &Inner,
    request: ChatRequest,
) -> impl Future<Output = Result<ChatCompletion, ElelemError>> + Send + '_ {
    run_chat(inner, request, false)
}

async fn run_chat(
    inner: &Inner,
    request: ChatRequest,
    fixes: bool,
) -> Result<ChatCompletion, ElelemError> {
    let (mut plan, first) = CallPlan::new(inner, request, Entry::Chat)?;
    let op = Chat { inner, fixes };
    if plan.cache.is_some() {
        // Boxed: the cache's lookup and store are not in the state of a call
        // without a cache.
        return Box::pin(through_cache(inner, plan, first, op)).await;
    }
    let completion = engine::run_in_span(inner, &mut plan, first, &op).await?;
    Ok(*completion)
}

/// [`run_chat`] with the response cache on: answered from it when it can, and
/// what the engine answers is stored.
async fn through_cache(
    inner: &Inner,
    mut plan: CallPlan,
    first: Target,
    op: Chat<'_>,
) -> Result<ChatCompletion, ElelemError> {
    if let Some(hit) = plan.cached_answer(inner, &first).await {
        return Ok(hit);
    }
    let completion = engine::run_in_span(inner, &mut plan, first, &op).await?;
    if let Some(cache) = &plan.cache {
        cache.store(&completion).await;
    }
    Ok(*completion)
}

/// Whether the first choice stopped at the output limit.
fn is_truncated(completion: &ChatCompletion) -> bool {
    completion
        .choices
        .first()
        .and_then(|c| c.finish_reason.as_ref())
        == Some(&FinishReason::Length)
}

/// A plain chat completion.
struct Chat<'a> {
    inner: &'a Inner,
    /// Whether a broken JSON answer goes to the client's JSON fixer (not for
    /// the fixer's own call).
    fixes: bool,
}

impl Operation for Chat<'_> {
    type Answer = ProviderResponse;
    type Accepted = Answer;
    /// Boxed as the provider's answer was: the engine hands the caller the
    /// answer's own box, mended in place, through its layers.
    type Output = Box<ChatCompletion>;

    fn json_ladder(&self) -> bool {
        true
    }

    fn body(&self, plan: &CallPlan, target: &Target, params: &AttemptParams) -> WireRequest {
        plan.chat_body(self.inner, target, params)
    }

    /// The provider's own (boxed) future, with no layer around it.
    fn send(
        &self,
        target: &Target,
        body: WireRequest,
    ) -> impl Future<Output = Result<ProviderResponse, ProviderError>> + Send {
        target.provider.chat_completion(body)
    }

    fn usage(answer: &ProviderResponse) -> Option<&Usage> {
        answer.completion.usage.as_ref()
    }

    fn service_tier(answer: &ProviderResponse) -> Option<&str> {
        answer.completion.service_tier.as_deref()
    }

    fn into_completion(answer: ProviderResponse) -> Option<ChatCompletion> {
        Some(*answer.completion)
    }

    fn last_response(answer: &ProviderResponse, target: &Target) -> Option<LastResponse> {
        Some(LastResponse::of_answer(
            &target.provider,
            &answer.completion,
            answer.body.as_ref(),
        ))
    }

    fn adjustments(accepted: &Answer) -> Adjustments {
        Adjustments {
            json_repaired: accepted.repaired,
            ..Adjustments::default()
        }
    }

    fn fix<'a>(
        &'a self,
        plan: &'a CallPlan,
        target: &'a Target,
        answer: ProviderResponse,
        refused: Refused,
    ) -> Fixing<'a, ProviderResponse, Answer>
    where
        Answer: 'a,
        ProviderResponse: 'a,
    {
        Box::pin(async move {
            if !self.fixes || answer::AnswerMode::of(&plan.request) != answer::AnswerMode::Json {
                return (answer, Err(refused));
            }
            let Some((text, cost)) = fix_json(self.inner, &plan.request, &refused.answer).await
            else {
                return (answer, Err(refused));
            };
            let mut mended = answer.clone();
            let Some(choice) = mended.completion.choices.first_mut() else {
                return (answer, Err(refused));
            };
            choice.message.content = Some(text);
            match self.judge(plan, target, &mended) {
                Ok(accepted) => (answer, Ok(Fixed { accepted, cost })),
                Err(still) => {
                    tracing::warn!(problem = %still.problem, "the JSON fixer's answer was refused too");
                    (answer, Err(refused))
                }
            }
        })
    }

    fn judge(
        &self,
        plan: &CallPlan,
        target: &Target,
        answer: &ProviderResponse,
    ) -> Result<Answer, Refused> {
        let completion = &answer.completion;
        let provider = &target.model.provider;
        let has_choices = !completion.choices.is_empty();
        if let Some(error) = engine::error_in_answer(provider, has_choices, &completion.extra) {
            return Err(Refused {
                problem: AttemptProblem::Provider(error),
                answer: String::new(),
            });
        }
        // A virtual model moves on from an answer cut at the output limit.
        if plan.candidates.is_some() && is_truncated(completion) {
            return Err(Refused {
                problem: AttemptProblem::Truncated,
                answer: completion.content().unwrap_or_default().to_owned(),
            });
        }
        answer::process(
            completion,
            answer::AnswerMode::of(&plan.request),
            target.model.capabilities.reasoning,
            plan.validator.as_deref(),
        )
        .and_then(|done| checks::apply(done, &plan.request.checks))
        .map_err(|(text, rejection)| Refused {
            problem: match rejection {
                Rejection::Parse(reason) => AttemptProblem::JsonParse(reason),
                Rejection::Schema(errors) => AttemptProblem::Schema(errors),
                Rejection::Check(message) => AttemptProblem::Check(message),
            },
            answer: text,
        })
    }

    fn finish(
        &self,
        plan: &mut CallPlan,
        answer: ProviderResponse,
        accepted: Answer,
        finished: Finished<'_>,
    ) -> Box<ChatCompletion> {
        let mut completion = answer.completion;
        if let Some(choice) = completion.choices.first_mut() {
            choice.message.content = accepted.content;
        }
        completion.elelem.requested_model = std::mem::take(&mut plan.request.model);
        completion.elelem.answered_by = finished.target.model.id.clone();
        completion.elelem.candidate = plan.candidates.as_ref().map(|c| c.current);
        completion.elelem.attempts = finished.attempts;
        completion.elelem.cost = finished.cost;
        completion.elelem.reasoning = accepted.reasoning;
        completion.elelem.json = accepted.json;
        completion
    }
}
