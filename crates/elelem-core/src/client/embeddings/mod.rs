//! `create_embeddings`: checks the inputs, looks up the response cache, splits
//! the inputs into batches within the model's per-request limits, runs each
//! batch through the engine (retries, gate, budget reservation, one usage
//! record per attempt, so one record per batch when nothing is retried) and
//! re-assembles the vectors in input order with the exact summed usage and cost.
//!
//! Batches are sent one after another. When one fails for good the call fails
//! with its error; the batches already answered stay recorded (they were billed).

mod batches;
mod cache;
mod operation;

use std::sync::Arc;

use tracing::Instrument;

use super::elelem::Inner;
use super::engine::{self, CallPlan, Entry, Target};
use crate::catalogue::ModelEntry;
use crate::error::ElelemError;
use crate::money::Usd;
use crate::provider::EmbeddingWireRequest;
use crate::tokens::TokenCounter;
use crate::types::{ChatRequest, EmbeddingRequest, EmbeddingResponse, Message};
use batches::split;
use cache::EmbeddingSlot;
use operation::{Batch, Done};

/// Runs an embeddings call (see the module documentation).
pub(crate) async fn create(
    inner: &Inner,
    request: EmbeddingRequest,
) -> Result<EmbeddingResponse, ElelemError> {
    let target = engine::target(inner, &request.model)?;
    check_model(inner, &target.model)?;
    let texts = request.input.texts();
    let counter = TokenCounter::for_model(&target.model);
    let tokens: Vec<u64> = texts.iter().map(|t| counter.count(t)).collect();
    check_inputs(inner, &target.model, &texts, &tokens)?;

    let slot = EmbeddingSlot::new(inner, &request, &target.model);
    if let Some(slot) = &slot {
        let call_id = inner
            .accounting
            .next_call_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Some(hit) = slot.lookup(inner, &request, &target.model, call_id).await {
            return Ok(hit);
        }
    }

    let spec = target.model.embeddings.unwrap_or_default();
    let ranges = split(&tokens, spec.max_inputs, spec.max_request_tokens);
    let mut done = Vec::with_capacity(ranges.len());
    for range in ranges {
        let batch = Batch {
            wire: EmbeddingWireRequest {
                model: target.model.upstream.clone(),
                input: texts[range.clone()]
                    .iter()
                    .map(|t| (*t).to_owned())
                    .collect(),
                dimensions: request.dimensions,
                encoding_format: request.encoding_format,
                user: request.user.clone(),
            },
            estimate: tokens[range.clone()].iter().sum(),
        };
        done.push((range.start, run_batch(inner, &request, batch).await?));
    }
    let response = assemble(&request.model, done);
    if let Some(slot) = &slot {
        slot.store(&response).await;
    }
    Ok(response)
}

/// Runs one batch through the engine, as a call of its own (its own call id,
/// span and budget reservation).
async fn run_batch(
    inner: &Inner,
    request: &EmbeddingRequest,
    batch: Batch,
) -> Result<Done, ElelemError> {
    // Planned as the chat of its texts: the same estimates, gate and budgets.
    let messages = batch.wire.input.iter().map(Message::user).collect();
    let planned = ChatRequest::new(request.model.clone(), messages).tags(request.tags.clone());
    let (mut plan, first) = CallPlan::new(inner, planned, Entry::Embedding)?;
    let first = budgeted(first);
    let span = plan.span.clone();
    engine::run(inner, &mut plan, first, &batch)
        .instrument(span)
        .await
}

/// The target as a budget sees an embedding model: a batch's input may exceed
/// the per-input context window (it is many inputs), and there is no output.
fn budgeted(target: Target) -> Target {
    let mut model = (*target.model).clone();
    model.context_window = None;
    model.max_output = Some(0);
    Target {
        model: Arc::new(model),
        provider: target.provider,
    }
}

/// Refuses a model the catalogue lists as a chat model; an unlisted model on a
/// provider that allows them is tried.
fn check_model(inner: &Inner, model: &ModelEntry) -> Result<(), ElelemError> {
    let listed = inner.catalogue.model(&model.id).is_some();
    if model.capabilities.embedding || !listed {
        return Ok(());
    }
    let embedding_models: Vec<String> = inner
        .catalogue
        .model_ids_of(&model.provider)
        .split(", ")
        .filter(|id| {
            inner
                .catalogue
                .model(id)
                .is_some_and(|m| m.capabilities.embedding)
        })
        .map(str::to_owned)
        .collect();
    Err(ElelemError::InvalidRequest {
        reason: format!(
            "{} is not an embedding model (its catalogue entry has no `embedding` capability); embedding models of {}: {}",
            model.id,
            model.provider,
            if embedding_models.is_empty() {
                "none listed".to_owned()
            } else {
                embedding_models.join(", ")
            }
        ),
    })
}

/// Refuses an empty input list, an empty text, and (with the context check on)
/// a text longer than the model's per-input window, before anything is sent.
fn check_inputs(
    inner: &Inner,
    model: &ModelEntry,
    texts: &[&str],
    tokens: &[u64],
) -> Result<(), ElelemError> {
    if texts.is_empty() {
        return Err(ElelemError::InvalidRequest {
            reason: "the embeddings request has no input; give at least one text".into(),
        });
    }
    if let Some(index) = texts.iter().position(|t| t.is_empty()) {
        return Err(ElelemError::InvalidRequest {
            reason: format!("input {index} is empty; the embeddings APIs refuse empty texts"),
        });
    }
    let window = model.context_window.filter(|_| inner.policy.context_check);
    if let Some(window) = window {
        if let Some((index, n)) = tokens.iter().enumerate().find(|(_, n)| **n > window) {
            return Err(ElelemError::InvalidRequest {
                reason: format!(
                    "input {index} has about {n} tokens, more than the {window} one input of {} may hold; shorten or split it",
                    model.id
                ),
            });
        }
    }
    Ok(())
}

/// The batches' responses as one, in input order: indices shifted by each
/// batch's start, usage and cost summed exactly.
fn assemble(requested: &str, batches: Vec<(usize, Done)>) -> EmbeddingResponse {
    let mut response = EmbeddingResponse::new(String::new(), Vec::new(), 0);
    let meta = &mut response.elelem;
    meta.requested_model = requested.to_owned();
    meta.cost = Usd::ZERO;
    for (start, done) in batches {
        let part = done.response;
        if response.model.is_empty() {
            response.model = part.model;
        }
        response.usage.prompt_tokens += part.usage.prompt_tokens;
        response.usage.total_tokens += part.usage.total_tokens;
        let meta = &mut response.elelem;
        meta.batches += 1;
        meta.attempts += done.attempts;
        meta.cost += done.cost;
        meta.usage_estimated |= done.usage_estimated;
        response.data.extend(part.data.into_iter().map(|mut item| {
            item.index += start;
            item
        }));
    }
    response
}
