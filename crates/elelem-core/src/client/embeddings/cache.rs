//! Embeddings in the response cache: one entry for a whole call (all its
//! batches), keyed by everything that determines the vectors, through the chat
//! calls' [`CacheSlot`] (single flight included).
//!
//! The cache stores [`CachedResponse`]s, which hold a chat completion: an
//! embeddings response is kept in it as `{"object": "embedding.list",
//! "elelem_embeddings": <the response>}`, so every cache store (memory, disk,
//! a database) keeps embeddings unchanged.

use std::time::Instant;

use serde::Deserialize;
use serde_json::json;

use crate::cache::{CacheKey, CachedResponse};
use crate::catalogue::ModelEntry;
use crate::client::cached::{record_hit, CacheSlot};
use crate::client::elelem::Inner;
use crate::types::{ChatCompletion, EmbeddingRequest, EmbeddingResponse};

/// Version of the key's content: bump it when the content changes meaning.
const KEY_VERSION: u32 = 1;

/// Where the response travels inside the stored completion.
const FIELD: &str = "elelem_embeddings";

/// An embeddings call's place in the response cache.
pub(super) struct EmbeddingSlot(CacheSlot);

impl EmbeddingSlot {
    /// The slot of `request` on `model`; `None` when the client has no cache or
    /// the request ignores it.
    pub fn new(
        inner: &Inner,
        request: &EmbeddingRequest,
        model: &ModelEntry,
    ) -> Option<EmbeddingSlot> {
        CacheSlot::keyed(inner, request.cache, || {
            let content = json!({
                "elelem_cache_key": KEY_VERSION,
                "operation": "embeddings",
                "provider": model.provider,
                "endpoint": inner.providers.endpoint(&model.provider),
                "model": model.id,
                "upstream": model.upstream,
                "input": request.input,
                "dimensions": request.dimensions,
            });
            CacheKey::from_content(&content)
        })
        .map(EmbeddingSlot)
    }

    /// The cached response, recorded as a hit (zero cost, the cost saved).
    pub async fn lookup(
        &self,
        inner: &Inner,
        request: &EmbeddingRequest,
        model: &ModelEntry,
        call_id: u64,
    ) -> Option<EmbeddingResponse> {
        let started = Instant::now();
        let entry = self.0.entry().await?;
        let key = self.0.key();
        let Some(mut response) = entry
            .completion
            .extra
            .get(FIELD)
            .and_then(|v| EmbeddingResponse::deserialize(v).ok())
        else {
            tracing::info!(%key, "cache entry holds no embeddings; ignored");
            return None;
        };
        record_hit(
            inner,
            call_id,
            model,
            request.tags.clone().into(),
            started,
            entry.cost,
        );
        tracing::info!(%key, model = %model.id, saved = %entry.cost, "embeddings answered from the response cache");
        response.elelem.requested_model = request.model.clone();
        response.elelem.cache_hit = true;
        Some(response)
    }

    /// Stores a successful call's response.
    pub async fn store(&self, response: &EmbeddingResponse) {
        let Ok(value) = serde_json::to_value(response) else {
            return;
        };
        let stored = json!({"object": "embedding.list", "model": response.model, FIELD: value});
        let Ok(completion) = serde_json::from_value::<ChatCompletion>(stored) else {
            return;
        };
        let entry = CachedResponse::new(
            completion,
            response.elelem.requested_model.clone(),
            response.elelem.cost,
        );
        self.0.put(&entry).await;
    }
}
