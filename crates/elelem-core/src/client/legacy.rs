//! Legacy completions (`/v1/completions`) and live model lists: the same retries
//! on provider failures and the same cost accounting as chat calls.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde_json::Value;
use tracing::Instrument;

use super::call::{target, write_record, AttemptRecord, Spend, Target};
use super::elelem::{Inner, ProviderSlot};
use super::provider_retry::{Carried, ProviderAttempts};
use super::spans;
use crate::cost::{Adjustments, AttemptOutcome};
use crate::error::ElelemError;
use crate::provider::WireRequest;
use crate::types::{CompletionRequest, ModelList, TextCompletion};

/// Sends a legacy completion, retrying provider failures as the policy decides,
/// inside its `elelem.completion` span.
pub(crate) async fn complete(
    inner: &Inner,
    request: CompletionRequest,
) -> Result<TextCompletion, ElelemError> {
    let target = target(inner, &request.model)?;
    let call_id = inner.next_call_id.fetch_add(1, Ordering::Relaxed);
    let span = spans::completion(call_id, &request.model, &target.model);
    spans::record_request(&span, request.temperature, request.max_tokens);
    let result = attempts(inner, request, target, call_id)
        .instrument(span.clone())
        .await;
    spans::record_result(&span, &result);
    result
}

/// The attempts of a legacy completion.
async fn attempts(
    inner: &Inner,
    request: CompletionRequest,
    Target { model, provider }: Target,
    call_id: u64,
) -> Result<TextCompletion, ElelemError> {
    let mut body = request.extra.clone();
    body.insert("model".into(), Value::String(model.upstream.clone()));
    body.insert("prompt".into(), Value::String(request.prompt.clone()));
    if let Some(max_tokens) = request.max_tokens {
        body.insert("max_tokens".into(), Value::from(max_tokens));
    }
    let temperature = request
        .temperature
        .filter(|_| model.capabilities.temperature);
    match temperature.and_then(serde_json::Number::from_f64) {
        Some(t) => body.insert("temperature".into(), Value::Number(t)),
        None => body.remove("temperature"),
    };
    let tags: Arc<[String]> = request.tags.clone().into();
    let mut attempts =
        ProviderAttempts::new(inner, call_id, &model, &tags, temperature, Carried::start());
    // One reservation covers every attempt: failed attempts carry no usage.
    let prompt = [crate::types::Message::user(request.prompt.clone())];
    let mut reservation = super::call::reserve(
        inner,
        &model,
        &prompt,
        None,
        request.max_tokens,
        &request.extra,
        &tags,
    )
    .await?;
    loop {
        let attempt = attempts.begin();
        let sent = async {
            inner.state.note_request(&model.provider, None);
            provider.completion(WireRequest::new(body.clone())).await
        };
        let tokens = || super::gate::request_tokens(&model, &prompt, None, request.max_tokens);
        match super::gate::guarded(&inner.gate, &model.provider, tokens, sent).await {
            Ok(response) => {
                let mut completion = response.completion;
                let (spent, _) = write_record(
                    inner.sink.as_ref(),
                    AttemptRecord {
                        call_id,
                        attempt,
                        model: &model,
                        tags: &tags,
                        spend: Spend {
                            usage: completion.usage.as_ref(),
                            reported: None,
                        },
                        started: attempts.since,
                        outcome: AttemptOutcome::Success,
                        adjustments: Adjustments::default(),
                        stream_interrupted: false,
                    },
                );
                if let Some(reservation) = reservation.take() {
                    reservation.settle(attempts.cost + spent);
                }
                completion.elelem.requested_model = request.model.clone();
                completion.elelem.answered_by = model.id.clone();
                completion.elelem.attempts = attempt;
                completion.elelem.cost = attempts.cost + spent;
                return Ok(completion);
            }
            Err(error) => match attempts.failed(error, || None) {
                Ok(wait) => tokio::time::sleep(wait).await,
                Err(ended) => {
                    let error = ended.error;
                    if let Some(reservation) = reservation.take() {
                        reservation.settle(attempts.cost);
                    }
                    return Err(error);
                }
            },
        }
    }
}

/// The catalogue's models merged with what each ready provider serves right now.
/// Providers that cannot list (or fail to) contribute their catalogue entries only.
pub(crate) async fn list_live(inner: &Inner, catalogue_list: ModelList) -> ModelList {
    let mut list = catalogue_list;
    for (name, slot) in &inner.providers {
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
