//! Legacy completions (`/v1/completions`) and live model lists: the same retries
//! on provider failures and the same cost accounting as chat calls.

use serde_json::Value;

use super::elelem::{Inner, ProviderSlot};
use super::engine::{self, CallPlan, Entry, Finished, Operation, Refused, Target};
use super::prepare::AttemptParams;
use crate::error::{AttemptProblem, ElelemError};
use crate::provider::{ProviderError, TextCompletionResponse, WireRequest};
use crate::types::{ChatRequest, CompletionRequest, Message, ModelList, TextCompletion, Usage};

/// Sends a legacy completion through the engine (retries on provider failures,
/// budgets, the gate and cost accounting as for chat calls), inside its
/// `elelem.completion` span.
pub(crate) async fn complete(
    inner: &Inner,
    request: CompletionRequest,
) -> Result<TextCompletion, ElelemError> {
    // Planned as the one-message chat it amounts to: the same checks and
    // estimate as every call.
    let mut planned = ChatRequest::new(
        request.model.clone(),
        vec![Message::user(request.prompt.clone())],
    );
    planned.max_tokens = request.max_tokens;
    planned.temperature = request.temperature;
    planned.tags = request.tags.clone();
    let (mut plan, first) = CallPlan::new(inner, planned, Entry::Completion)?;
    engine::run_in_span(inner, &mut plan, first, &Legacy { request: &request }).await
}

/// A legacy completion.
struct Legacy<'a> {
    request: &'a CompletionRequest,
}

impl Operation for Legacy<'_> {
    type Answer = TextCompletionResponse;
    type Accepted = ();
    type Output = TextCompletion;

    fn json_ladder(&self) -> bool {
        false
    }

    fn body(&self, _plan: &CallPlan, target: &Target, params: &AttemptParams) -> WireRequest {
        let request = self.request;
        let mut body = request.extra.clone();
        body.insert("model".into(), Value::String(target.model.upstream.clone()));
        body.insert("prompt".into(), Value::String(request.prompt.clone()));
        if let Some(max_tokens) = request.max_tokens {
            body.insert("max_tokens".into(), Value::from(max_tokens));
        }
        match params.temperature.and_then(serde_json::Number::from_f64) {
            Some(t) => body.insert("temperature".into(), Value::Number(t)),
            None => body.remove("temperature"),
        };
        WireRequest::new(body)
    }

    fn send(
        &self,
        target: &Target,
        body: WireRequest,
    ) -> impl std::future::Future<Output = Result<TextCompletionResponse, ProviderError>> + Send
    {
        target.provider.completion(body)
    }

    fn usage(answer: &TextCompletionResponse) -> Option<&Usage> {
        answer.completion.usage.as_ref()
    }

    fn judge(
        &self,
        _plan: &CallPlan,
        target: &Target,
        answer: &TextCompletionResponse,
    ) -> Result<(), Refused> {
        let completion = &answer.completion;
        let has_choices = !completion.choices.is_empty();
        match engine::error_in_answer(&target.model.provider, has_choices, &completion.extra) {
            Some(error) => Err(Refused {
                problem: AttemptProblem::Provider(error),
                answer: String::new(),
            }),
            None => Ok(()),
        }
    }

    fn finish(
        &self,
        plan: &mut CallPlan,
        answer: TextCompletionResponse,
        _accepted: (),
        finished: Finished<'_>,
    ) -> TextCompletion {
        let mut completion = answer.completion;
        completion.elelem.requested_model = plan.request.model.clone();
        completion.elelem.answered_by = finished.target.model.id.clone();
        completion.elelem.attempts = finished.attempts;
        completion.elelem.cost = finished.cost;
        completion
    }
}

/// The catalogue's models merged with what each ready provider serves right now.
/// Providers that cannot list (or fail to) contribute their catalogue entries only.
pub(crate) async fn list_live(inner: &Inner, catalogue_list: ModelList) -> ModelList {
    let mut list = catalogue_list;
    for (name, slot) in &inner.providers.slots {
        let ProviderSlot::Ready(provider) = slot else {
            continue;
        };
        match provider.list_models().await {
            Ok(live) => {
                for model in live.data {
                    if let Some(known) = list.data.iter_mut().find(|m| m.id == model.id) {
                        known.available = true;
                    } else {
                        list.data.push(model);
                    }
                }
            }
            Err(error) => {
                tracing::debug!(provider = %name, %error, "provider did not list its models")
            }
        }
    }
    list.data.sort_by(|a, b| a.id.cmp(&b.id));
    list
}
