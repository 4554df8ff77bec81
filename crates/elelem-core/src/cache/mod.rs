//! The response cache: content-addressed answers, in memory or on disk.
//!
//! The key of a request is a SHA-256 hash of everything that determines its answer:
//! the provider, its endpoint, the model, and the exact body of the first attempt
//! (upstream model id, messages with the JSON instructions, temperature, token limit,
//! `response_format`, every other parameter and the catalogue's default parameters),
//! plus the validation schema. API keys are never part of it: they travel in an HTTP
//! header, not in the body.
//!
//! Only successful, validated answers are stored. A cached answer is validated again
//! against the request's schema and checks when it is found, and ignored if it no
//! longer passes. A hit costs nothing, sends nothing, and is recorded in the stats as
//! a cache hit with the cost it saved (`cache_hits`, `cache_saved_cost_usd`).
//!
//! The cache is off by default. Turn it on with
//! [`ElelemBuilder::memory_cache`](crate::ElelemBuilder::memory_cache),
//! [`ElelemBuilder::disk_cache`](crate::ElelemBuilder::disk_cache) or
//! [`ElelemBuilder::cache`](crate::ElelemBuilder::cache) for your own [`Cache`].
//!
//! ```
//! use elelem_core::Elelem;
//! let elelem = Elelem::builder().memory_cache(1_000).build().unwrap();
//! # let _ = elelem;
//! ```

mod disk;
mod key;
mod memory;

pub use disk::DiskCache;
pub use key::CacheKey;
pub use memory::MemoryCache;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::money::Usd;
use crate::types::{ChatCompletion, ChatCompletionChunk, ChunkChoice, Delta, Role};

/// How one request uses the response cache (when the client has one).
///
/// ```
/// use elelem_core::cache::CacheMode;
/// assert_eq!(CacheMode::default(), CacheMode::Use);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheMode {
    /// Answer from the cache when possible; store fresh answers.
    #[default]
    Use,
    /// Neither read nor write the cache.
    Ignore,
    /// Skip the lookup, but store the fresh answer (replacing a cached one).
    Refresh,
}

/// A stored answer: the completion as the caller received it (think blocks removed,
/// JSON extracted), which model produced it, and what the call cost.
///
/// ```
/// use elelem_core::cache::CachedResponse;
/// let completion: elelem_core::ChatCompletion =
///     serde_json::from_str(r#"{"choices":[{"message":{"content":"{}"}}]}"#).unwrap();
/// let entry = CachedResponse::new(completion, "openai:gpt-4.1-mini", "0.001".parse().unwrap());
/// let bytes = entry.to_json_bytes().unwrap();
/// assert_eq!(CachedResponse::from_json_bytes(&bytes).unwrap(), entry);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CachedResponse {
    /// The completion, in OpenAI's shape.
    pub completion: ChatCompletion,
    /// The `provider:model` that produced it (differs from the requested one after
    /// a fallback).
    pub answered_by: String,
    /// What the call that produced it cost, all attempts included: what a hit saves.
    pub cost: Usd,
    /// The reasoning text removed from the content, if any.
    pub reasoning: Option<String>,
    /// When it was stored.
    pub stored_at: SystemTime,
}

/// The serialized form: exact money as an integer string of femto-dollars.
#[derive(Serialize, Deserialize)]
struct StoredForm {
    format: u32,
    stored_at_unix_ms: u64,
    answered_by: String,
    cost_femto_usd: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reasoning: Option<String>,
    completion: ChatCompletion,
}

/// The version of [`StoredForm`]; entries of other versions are misses.
const STORED_FORMAT: u32 = 1;

impl CachedResponse {
    /// An entry stored now (to the millisecond, as it is serialized).
    pub fn new(completion: ChatCompletion, answered_by: impl Into<String>, cost: Usd) -> Self {
        let millis = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        CachedResponse {
            completion,
            answered_by: answered_by.into(),
            cost,
            reasoning: None,
            stored_at: SystemTime::UNIX_EPOCH + Duration::from_millis(millis),
        }
    }

    /// The entry as JSON (what [`DiskCache`] gzips; handy for your own [`Cache`]).
    /// Money is written exactly, as an integer of femto-dollars.
    pub fn to_json_bytes(&self) -> Result<Vec<u8>, serde_json::Error> {
        let millis = self
            .stored_at
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        serde_json::to_vec(&StoredForm {
            format: STORED_FORMAT,
            stored_at_unix_ms: millis,
            answered_by: self.answered_by.clone(),
            cost_femto_usd: self.cost.femtos().to_string(),
            reasoning: self.reasoning.clone(),
            completion: self.completion.clone(),
        })
    }

    /// The entry as gzip-compressed JSON (what a shared store such as a database
    /// keeps).
    ///
    /// ```
    /// use elelem_core::cache::CachedResponse;
    /// let completion: elelem_core::ChatCompletion = serde_json::from_str(r#"{"choices":[]}"#).unwrap();
    /// let entry = CachedResponse::new(completion, "p:m", elelem_core::Usd::ZERO);
    /// let packed = entry.to_gzip_bytes().unwrap();
    /// assert_eq!(CachedResponse::from_gzip_bytes(&packed, 1 << 20), Some(entry));
    /// ```
    pub fn to_gzip_bytes(&self) -> std::io::Result<Vec<u8>> {
        use std::io::Write;
        let json = self.to_json_bytes().map_err(std::io::Error::other)?;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(&json)?;
        encoder.finish()
    }

    /// Reads an entry written by [`CachedResponse::to_gzip_bytes`], decompressing
    /// at most `max_json_bytes` (against a corrupt or hostile row); `None` for
    /// anything else.
    ///
    /// ```
    /// use elelem_core::cache::CachedResponse;
    /// assert_eq!(CachedResponse::from_gzip_bytes(b"not gzip", 1 << 20), None);
    /// ```
    pub fn from_gzip_bytes(bytes: &[u8], max_json_bytes: u64) -> Option<Self> {
        use std::io::Read;
        let mut json = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .take(max_json_bytes)
            .read_to_end(&mut json)
            .ok()?;
        CachedResponse::from_json_bytes(&json)
    }

    /// Reads an entry written by [`CachedResponse::to_json_bytes`]; `None` for
    /// anything else (corrupt, truncated, another format version).
    pub fn from_json_bytes(bytes: &[u8]) -> Option<Self> {
        let stored: StoredForm = serde_json::from_slice(bytes).ok()?;
        if stored.format != STORED_FORMAT {
            return None;
        }
        let femtos: i128 = stored.cost_femto_usd.parse().ok()?;
        Some(CachedResponse {
            completion: stored.completion,
            answered_by: stored.answered_by,
            cost: Usd::from_femtos(femtos),
            reasoning: stored.reasoning,
            stored_at: SystemTime::UNIX_EPOCH + Duration::from_millis(stored.stored_at_unix_ms),
        })
    }

    /// The completion replayed as stream chunks, in OpenAI's order: the role, the
    /// content, the finish reason, then the usage. This is the hook for serving a
    /// streamed request from the cache.
    ///
    /// ```
    /// use elelem_core::cache::CachedResponse;
    /// let completion: elelem_core::ChatCompletion = serde_json::from_str(
    ///     r#"{"id":"c","model":"m","choices":[{"message":{"content":"hi"},"finish_reason":"stop"}],
    ///        "usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}"#).unwrap();
    /// let chunks = CachedResponse::new(completion, "p:m", elelem_core::Usd::ZERO).replay_chunks();
    /// let text: String = chunks.iter()
    ///     .flat_map(|c| c.choices.iter().filter_map(|ch| ch.delta.content.clone()))
    ///     .collect();
    /// assert_eq!(text, "hi");
    /// assert!(chunks.last().unwrap().usage.is_some());
    /// ```
    pub fn replay_chunks(&self) -> Vec<ChatCompletionChunk> {
        let c = &self.completion;
        let chunk = |choices: Vec<ChunkChoice>| ChatCompletionChunk {
            id: c.id.clone(),
            object: "chat.completion.chunk".to_owned(),
            created: c.created,
            model: c.model.clone(),
            choices,
            usage: None,
            system_fingerprint: c.system_fingerprint.clone(),
            service_tier: c.service_tier.clone(),
            extra: serde_json::Map::new(),
        };
        let choice = |index: u32, delta: Delta, finish| ChunkChoice {
            index,
            delta,
            finish_reason: finish,
            logprobs: None,
            extra: serde_json::Map::new(),
        };
        let mut out = Vec::new();
        for ch in &c.choices {
            let role = Delta {
                role: Some(Role::Assistant),
                content: Some(String::new()),
                ..Delta::default()
            };
            out.push(chunk(vec![choice(ch.index, role, None)]));
            if let Some(text) = ch.message.content.as_ref().filter(|t| !t.is_empty()) {
                let delta = Delta {
                    content: Some(text.clone()),
                    ..Delta::default()
                };
                out.push(chunk(vec![choice(ch.index, delta, None)]));
            }
            if let Some(refusal) = &ch.message.refusal {
                let mut delta = Delta::default();
                delta
                    .extra
                    .insert("refusal".into(), serde_json::Value::String(refusal.clone()));
                out.push(chunk(vec![choice(ch.index, delta, None)]));
            }
            let calls = ch
                .message
                .extra
                .get("tool_calls")
                .and_then(|c| c.as_array());
            if let Some(calls) = calls.filter(|c| !c.is_empty()) {
                // Streamed tool calls carry their position in `index`.
                let calls = calls
                    .iter()
                    .enumerate()
                    .map(|(i, call)| {
                        let mut call = call.clone();
                        if let Some(fields) = call.as_object_mut() {
                            fields.insert("index".into(), serde_json::Value::from(i));
                        }
                        call
                    })
                    .collect();
                let delta = Delta {
                    tool_calls: Some(calls),
                    ..Delta::default()
                };
                out.push(chunk(vec![choice(ch.index, delta, None)]));
            }
            let end = choice(ch.index, Delta::default(), ch.finish_reason.clone());
            out.push(chunk(vec![end]));
        }
        if let Some(usage) = &c.usage {
            let mut last = chunk(Vec::new());
            last.usage = Some(usage.clone());
            out.push(last);
        }
        out
    }
}

/// A response cache store. Implement it to plug in your own (Redis, a database, ...);
/// Elelem ships [`MemoryCache`] and [`DiskCache`].
///
/// A store never fails a call: report problems through `tracing` and answer `None`
/// (a miss). Keys are hex SHA-256 digests, safe as file names and database keys;
/// entries hold prompts' answers but never API keys.
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::Mutex;
/// use elelem_core::async_trait;
/// use elelem_core::cache::{Cache, CacheKey, CachedResponse};
///
/// /// An unbounded map.
/// #[derive(Debug, Default)]
/// struct MapCache(Mutex<HashMap<CacheKey, CachedResponse>>);
///
/// #[async_trait]
/// impl Cache for MapCache {
///     async fn get(&self, key: &CacheKey) -> Option<CachedResponse> {
///         self.0.lock().ok()?.get(key).cloned()
///     }
///     async fn put(&self, key: &CacheKey, response: &CachedResponse) {
///         if let Ok(mut map) = self.0.lock() {
///             map.insert(key.clone(), response.clone());
///         }
///     }
/// }
///
/// let elelem = elelem_core::Elelem::builder()
///     .cache(std::sync::Arc::new(MapCache::default()))
///     .build()
///     .unwrap();
/// # let _ = elelem;
/// ```
#[async_trait]
pub trait Cache: Send + Sync + std::fmt::Debug {
    /// The entry stored under `key`, if any.
    async fn get(&self, key: &CacheKey) -> Option<CachedResponse>;

    /// Stores `response` under `key`, replacing any entry.
    async fn put(&self, key: &CacheKey, response: &CachedResponse);

    /// The lookup before a call, with single flight: the entry under `key`, or a
    /// miss holding a [`CacheClaim`] when this caller is the one to answer `key`
    /// (the client keeps the claim until it has stored the answer, or the call
    /// failed, then drops it). A store shared by many callers may make identical
    /// lookups wait here for the claimant's answer instead of calling the
    /// provider too. The default is [`get`](Cache::get), without a claim.
    ///
    /// ```
    /// use elelem_core::cache::{Cache, CacheKey, Lookup, MemoryCache};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let cache = MemoryCache::new(8);
    /// let key = CacheKey::from_content(&serde_json::json!({"k": 1}));
    /// assert!(matches!(cache.get_or_claim(&key).await, Lookup::Miss(None)));
    /// # });
    /// ```
    async fn get_or_claim(&self, key: &CacheKey) -> Lookup {
        match self.get(key).await {
            Some(found) => Lookup::Hit(Box::new(found)),
            None => Lookup::Miss(None),
        }
    }
}

/// What [`Cache::get_or_claim`] found.
///
/// ```
/// use elelem_core::cache::Lookup;
/// assert!(matches!(Lookup::Miss(None), Lookup::Miss(None)));
/// ```
#[derive(Debug)]
pub enum Lookup {
    /// The stored entry (boxed: it is large).
    Hit(Box<CachedResponse>),
    /// Nothing stored; with a claim when this caller answers the key for everyone.
    Miss(Option<CacheClaim>),
}

/// The right to answer one key, held by the caller a shared cache lets through
/// while identical lookups wait. Dropping it releases the key (after the answer
/// was stored, or when the call failed or was cancelled).
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// use elelem_core::cache::CacheClaim;
/// let released = Arc::new(AtomicBool::new(false));
/// let flag = released.clone();
/// let claim = CacheClaim::new(move || flag.store(true, Ordering::SeqCst));
/// assert!(!released.load(Ordering::SeqCst));
/// drop(claim);
/// assert!(released.load(Ordering::SeqCst));
/// ```
pub struct CacheClaim {
    release: Option<Box<dyn FnOnce() + Send + Sync>>,
}

impl CacheClaim {
    /// A claim that runs `release` once when dropped (it must not block: send a
    /// message, set a flag).
    pub fn new(release: impl FnOnce() + Send + Sync + 'static) -> Self {
        CacheClaim {
            release: Some(Box::new(release)),
        }
    }
}

impl std::fmt::Debug for CacheClaim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheClaim")
            .field("held", &self.release.is_some())
            .finish()
    }
}

impl Drop for CacheClaim {
    fn drop(&mut self) {
        if let Some(release) = self.release.take() {
            release();
        }
    }
}

/// Several stores consulted in order (the builder's memory and disk caches): a hit in
/// a later store is copied into the earlier ones; a store goes to all of them.
#[derive(Debug, Default)]
pub(crate) struct Layers {
    stores: Vec<Arc<dyn Cache>>,
}

impl Layers {
    pub fn push(&mut self, store: Arc<dyn Cache>) {
        self.stores.push(store);
    }

    /// The one store, or a layered store; `None` when there is none.
    pub fn into_cache(mut self) -> Option<Arc<dyn Cache>> {
        match self.stores.len() {
            0 => None,
            1 => self.stores.pop(),
            _ => Some(Arc::new(self)),
        }
    }
}

#[async_trait]
impl Cache for Layers {
    async fn get(&self, key: &CacheKey) -> Option<CachedResponse> {
        for (i, store) in self.stores.iter().enumerate() {
            if let Some(found) = store.get(key).await {
                for earlier in &self.stores[..i] {
                    earlier.put(key, &found).await;
                }
                return Some(found);
            }
        }
        None
    }

    async fn put(&self, key: &CacheKey, response: &CachedResponse) {
        for store in &self.stores {
            store.put(key, response).await;
        }
    }

    /// A hit in any store first; on a miss everywhere, the first store that
    /// claims the key (or answers it meanwhile) decides.
    async fn get_or_claim(&self, key: &CacheKey) -> Lookup {
        if let Some(found) = self.get(key).await {
            return Lookup::Hit(Box::new(found));
        }
        for (i, store) in self.stores.iter().enumerate() {
            match store.get_or_claim(key).await {
                Lookup::Hit(found) => {
                    for earlier in &self.stores[..i] {
                        earlier.put(key, &found).await;
                    }
                    return Lookup::Hit(found);
                }
                Lookup::Miss(Some(claim)) => return Lookup::Miss(Some(claim)),
                Lookup::Miss(None) => {}
            }
        }
        Lookup::Miss(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(text: &str) -> CachedResponse {
        let completion: ChatCompletion = serde_json::from_value(serde_json::json!({
            "id": "c1", "model": "m",
            "choices": [{"message": {"content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
        }))
        .unwrap();
        let mut e = CachedResponse::new(completion, "p:m", Usd::from_femtos(123_456_789_012_345));
        e.reasoning = Some("because".into());
        e
    }

    #[test]
    fn entries_round_trip_exactly_and_garbage_is_a_miss() {
        let e = entry("{\"a\":1}");
        let bytes = e.to_json_bytes().unwrap();
        let back = CachedResponse::from_json_bytes(&bytes).unwrap();
        assert_eq!(back.cost, e.cost);
        assert_eq!(back.completion, e.completion);
        assert_eq!(back.reasoning.as_deref(), Some("because"));
        assert!(CachedResponse::from_json_bytes(b"{}").is_none());
        assert!(CachedResponse::from_json_bytes(&bytes[..bytes.len() / 2]).is_none());
        let other_format = String::from_utf8(bytes)
            .unwrap()
            .replace("\"format\":1", "\"format\":99");
        assert!(CachedResponse::from_json_bytes(other_format.as_bytes()).is_none());
    }

    #[tokio::test]
    async fn layers_copy_hits_forward() {
        let first = Arc::new(MemoryCache::new(4));
        let second = Arc::new(MemoryCache::new(4));
        let mut layers = Layers::default();
        layers.push(first.clone());
        layers.push(second.clone());
        let cache = layers.into_cache().unwrap();
        let key = CacheKey::from_content(&serde_json::json!({"k": 1}));
        second.put(&key, &entry("x")).await;
        assert!(first.get(&key).await.is_none());
        assert!(cache.get(&key).await.is_some());
        assert!(first.get(&key).await.is_some());
    }

    /// A store that claims every miss and counts releases.
    #[derive(Debug, Default)]
    struct Claiming {
        released: Arc<std::sync::atomic::AtomicU32>,
    }

    #[async_trait]
    impl Cache for Claiming {
        async fn get(&self, _: &CacheKey) -> Option<CachedResponse> {
            None
        }
        async fn put(&self, _: &CacheKey, _: &CachedResponse) {}
        async fn get_or_claim(&self, _: &CacheKey) -> Lookup {
            let released = self.released.clone();
            Lookup::Miss(Some(CacheClaim::new(move || {
                released.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            })))
        }
    }

    #[tokio::test]
    async fn layers_pass_on_a_later_stores_claim_and_hits_win() {
        let memory = Arc::new(MemoryCache::new(4));
        let shared = Arc::new(Claiming::default());
        let released = shared.released.clone();
        let mut layers = Layers::default();
        layers.push(memory.clone());
        layers.push(shared);
        let cache = layers.into_cache().unwrap();
        let key = CacheKey::from_content(&serde_json::json!({"k": 2}));
        let Lookup::Miss(Some(claim)) = cache.get_or_claim(&key).await else {
            panic!("the shared store's claim is passed on");
        };
        assert_eq!(released.load(std::sync::atomic::Ordering::SeqCst), 0);
        drop(claim);
        assert_eq!(released.load(std::sync::atomic::Ordering::SeqCst), 1);
        memory.put(&key, &entry("x")).await;
        assert!(matches!(cache.get_or_claim(&key).await, Lookup::Hit(_)));
        assert!(matches!(
            MemoryCache::new(1).get_or_claim(&key).await,
            Lookup::Miss(None)
        ));
    }

    #[test]
    fn replay_keeps_tool_calls_and_refusal() {
        let completion: ChatCompletion = serde_json::from_value(serde_json::json!({
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": null, "refusal": "I cannot do that",
                "tool_calls": [{"id": "c1", "type": "function",
                                "function": {"name": "f", "arguments": "{}"}}]}}]
        }))
        .unwrap();
        let chunks = CachedResponse::new(completion, "p:m", Usd::ZERO).replay_chunks();
        let refusal = chunks
            .iter()
            .find_map(|c| c.choices.first()?.delta.extra.get("refusal").cloned());
        assert_eq!(refusal, Some(serde_json::json!("I cannot do that")));
        let calls = chunks
            .iter()
            .find_map(|c| c.choices.first()?.delta.tool_calls.clone())
            .unwrap();
        assert_eq!(calls[0]["id"], "c1");
        assert_eq!(calls[0]["index"], 0);
        assert_eq!(calls[0]["function"]["name"], "f");
    }

    #[test]
    fn replay_ends_with_finish_then_usage() {
        let chunks = entry("hello").replay_chunks();
        assert_eq!(chunks.len(), 4);
        assert_eq!(chunks[0].choices[0].delta.role, Some(Role::Assistant));
        assert_eq!(chunks[1].choices[0].delta.content.as_deref(), Some("hello"));
        assert_eq!(
            chunks[2].choices[0].finish_reason,
            Some(crate::FinishReason::Stop)
        );
        assert_eq!(chunks[3].usage.as_ref().unwrap().total_tokens, Some(5));
    }
}
