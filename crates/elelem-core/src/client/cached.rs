//! The response cache in the pipeline: the key of a request, the lookup before the
//! first attempt, and the store after a successful call.
//!
//! Streaming (hook): a streamed request can be served from the cache with the same
//! [`CacheSlot::new`] and [`CacheSlot::lookup`], replaying the completion found with
//! [`crate::cache::CachedResponse::replay_chunks`], and can store its collected
//! completion with [`CacheSlot::store`].

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Instant, SystemTime};

use jsonschema::Validator;
use serde_json::{json, Value};

use super::answer;
use super::checks;
use super::elelem::Inner;
use super::prepare::{wire_body, AttemptParams};
use crate::cache::{Cache, CacheClaim, CacheKey, CacheMode, CachedResponse, Lookup};
use crate::catalogue::{is_virtual, ModelEntry};
use crate::cost::{Adjustments, AttemptOutcome, TokenCounts, UsageRecord};
use crate::money::Usd;
use crate::types::{ChatCompletion, ChatRequest};

/// Version of the key's content: bump it when the content changes meaning.
const KEY_VERSION: u32 = 1;

/// A request's place in the response cache.
pub(crate) struct CacheSlot {
    cache: Arc<dyn Cache>,
    key: CacheKey,
    mode: CacheMode,
    /// The single-flight claim of a miss, released once the answer is stored or
    /// the slot is dropped (the call failed or was cancelled).
    claim: Mutex<Option<CacheClaim>>,
}

impl CacheSlot {
    /// The slot of `request` going first to `model`; `None` when the client has no
    /// cache or the request ignores it (then no key is computed: the key is a
    /// whole wire body, serialized and hashed).
    pub fn new(
        inner: &Inner,
        request: &ChatRequest,
        model: &ModelEntry,
        instruction: Option<&str>,
    ) -> Option<Self> {
        CacheSlot::keyed(inner, request.cache, || {
            key_of(inner, request, model, instruction)
        })
    }

    /// The slot under `key()` in the client's cache, used as `mode` says; `None`
    /// (and `key` not called) when the client has no cache or `mode` ignores it.
    pub fn keyed(inner: &Inner, mode: CacheMode, key: impl FnOnce() -> CacheKey) -> Option<Self> {
        if mode == CacheMode::Ignore {
            return None;
        }
        Some(CacheSlot {
            cache: inner.cache.clone()?,
            key: key(),
            mode,
            claim: Mutex::new(None),
        })
    }

    /// The key.
    pub fn key(&self) -> &CacheKey {
        &self.key
    }

    /// The entry stored under the key; `None` on a miss (keeping its single-flight
    /// claim until [`CacheSlot::put`] or the slot is dropped) or when the mode
    /// skips the lookup.
    pub async fn entry(&self) -> Option<CachedResponse> {
        if self.mode == CacheMode::Refresh {
            return None;
        }
        match self.cache.get_or_claim(&self.key).await {
            Lookup::Hit(entry) => Some(*entry),
            Lookup::Miss(claim) => {
                *self.claim.lock().unwrap_or_else(PoisonError::into_inner) = claim;
                None
            }
        }
    }

    /// Stores `entry` under the key and releases the claim.
    pub async fn put(&self, entry: &CachedResponse) {
        self.cache.put(&self.key, entry).await;
        drop(
            self.claim
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
    }

    /// The cached answer, if there is one that still passes the request's schema and
    /// checks; a hit is recorded in the cost sink (zero cost, the saved cost, no
    /// tokens).
    pub async fn lookup(
        &self,
        inner: &Inner,
        request: &ChatRequest,
        model: &ModelEntry,
        validator: Option<&Validator>,
        call_id: u64,
    ) -> Option<ChatCompletion> {
        let started = Instant::now();
        let entry = self.entry().await?;
        let mode = answer::AnswerMode::of(request);
        let checked = answer::process(
            &entry.completion,
            mode,
            model.capabilities.reasoning,
            validator,
        )
        .and_then(|done| checks::apply(done, &request.checks));
        let done = match checked {
            Ok(done) => done,
            Err((_, rejection)) => {
                tracing::info!(key = %self.key, ?rejection, "cached answer no longer passes the request's schema or checks; ignored");
                return None;
            }
        };
        let mut completion = entry.completion;
        if let Some(choice) = completion.choices.first_mut() {
            choice.message.content = done.content;
        }
        let meta = &mut completion.elelem;
        meta.requested_model = request.model.clone();
        meta.answered_by = entry.answered_by;
        meta.attempts = 0;
        meta.cost = Usd::ZERO;
        meta.reasoning = entry.reasoning.or(done.reasoning);
        meta.json = done.json;
        meta.cache_hit = true;
        record_hit(
            inner,
            call_id,
            model,
            request.tags.clone().into(),
            started,
            entry.cost,
        );
        tracing::info!(key = %self.key, model = %model.id, saved = %entry.cost, "answered from the response cache");
        Some(completion)
    }

    /// Stores a successful call's answer.
    pub async fn store(&self, completion: &ChatCompletion) {
        let meta = &completion.elelem;
        let mut entry =
            CachedResponse::new(completion.clone(), meta.answered_by.clone(), meta.cost);
        entry.reasoning = meta.reasoning.clone();
        self.put(&entry).await;
        tracing::debug!(key = %self.key, "answer stored in the response cache");
    }
}

/// Records a cache hit in the cost sink: zero cost, no tokens, the cost it saved.
pub(crate) fn record_hit(
    inner: &Inner,
    call_id: u64,
    model: &ModelEntry,
    tags: Arc<[String]>,
    started: Instant,
    saved: Usd,
) {
    inner.accounting.sink.record(&UsageRecord {
        timestamp: SystemTime::now(),
        call_id,
        attempt: 1,
        model: model.id.clone(),
        provider: model.provider.clone(),
        tags,
        tokens: TokenCounts::default(),
        cost: Default::default(),
        price_known: model.prices.is_some(),
        duration: started.elapsed(),
        outcome: AttemptOutcome::Success,
        adjustments: Adjustments::default(),
        cache_hit: true,
        saved_cost: saved,
        stream_interrupted: false,
        cost_unknown: false,
        time_to_first_token: None,
    });
}

/// The key of everything that determines the answer: provider, endpoint, model,
/// the first attempt's exact body (upstream id, messages with the JSON
/// instructions, parameters, defaults, `response_format`), the validation schema
/// and the fallback models. API keys travel in headers and are never part of it.
fn key_of(
    inner: &Inner,
    request: &ChatRequest,
    model: &ModelEntry,
    instruction: Option<&str>,
) -> CacheKey {
    let params = AttemptParams {
        temperature: request
            .temperature
            .filter(|_| model.capabilities.temperature),
        ..AttemptParams::default()
    };
    let body = wire_body(
        request,
        instruction,
        inner.catalogue.provider(&model.provider),
        model,
        &params,
    );
    let mut content = json!({
        "elelem_cache_key": KEY_VERSION,
        "provider": model.provider,
        "endpoint": inner.providers.endpoint(&model.provider),
        "model": model.id,
        "body": body,
        "schema": request.validation_schema(),
        "fallback_models": request.fallback_models,
    });
    // A virtual model's answer may come from any candidate: it is kept apart from
    // the answers of its first candidate asked directly.
    if is_virtual(&request.model) {
        if let Value::Object(fields) = &mut content {
            fields.insert("virtual_model".into(), Value::String(request.model.clone()));
        }
    }
    CacheKey::from_content(&content)
}
