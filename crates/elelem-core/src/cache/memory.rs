//! A bounded in-memory LRU store.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;

use super::{Cache, CacheKey, CachedResponse};

/// An in-memory store keeping the `capacity` most recently used entries.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use elelem_core::cache::{Cache, CacheKey, CachedResponse, MemoryCache};
/// let cache = MemoryCache::new(1);
/// let completion: elelem_core::ChatCompletion = serde_json::from_str(r#"{"choices":[]}"#).unwrap();
/// let entry = CachedResponse::new(completion, "p:m", elelem_core::Usd::ZERO);
/// let (a, b) = (CacheKey::from_content(&1.into()), CacheKey::from_content(&2.into()));
/// cache.put(&a, &entry).await;
/// cache.put(&b, &entry).await; // evicts `a`
/// assert!(cache.get(&a).await.is_none());
/// assert!(cache.get(&b).await.is_some());
/// assert_eq!(cache.len(), 1);
/// # });
/// ```
#[derive(Debug)]
pub struct MemoryCache {
    capacity: usize,
    state: Mutex<Lru>,
}

#[derive(Debug, Default)]
struct Lru {
    /// Entries with the tick of their last use.
    entries: HashMap<CacheKey, (u64, CachedResponse)>,
    /// Keys by last use, oldest first.
    order: BTreeMap<u64, CacheKey>,
    tick: u64,
}

impl Lru {
    fn touch(&mut self, key: &CacheKey) -> Option<&CachedResponse> {
        self.tick += 1;
        let tick = self.tick;
        let (used, _) = self.entries.get(key)?;
        self.order.remove(used);
        self.order.insert(tick, key.clone());
        let (used, entry) = self.entries.get_mut(key)?;
        *used = tick;
        Some(entry)
    }
}

impl MemoryCache {
    /// A store keeping at most `capacity` entries (0 keeps nothing).
    pub fn new(capacity: usize) -> Self {
        MemoryCache {
            capacity,
            state: Mutex::new(Lru::default()),
        }
    }

    /// How many entries it holds.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether it holds no entry.
    ///
    /// ```
    /// assert!(elelem_core::cache::MemoryCache::new(8).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every entry.
    ///
    /// ```
    /// elelem_core::cache::MemoryCache::new(8).clear();
    /// ```
    pub fn clear(&self) {
        *self.lock() = Lru::default();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lru> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl Cache for MemoryCache {
    async fn get(&self, key: &CacheKey) -> Option<CachedResponse> {
        self.lock().touch(key).cloned()
    }

    async fn put(&self, key: &CacheKey, response: &CachedResponse) {
        if self.capacity == 0 {
            return;
        }
        let mut lru = self.lock();
        lru.tick += 1;
        let tick = lru.tick;
        if let Some((old, _)) = lru.entries.insert(key.clone(), (tick, response.clone())) {
            lru.order.remove(&old);
        }
        lru.order.insert(tick, key.clone());
        while lru.entries.len() > self.capacity {
            let Some((_, oldest)) = lru.order.pop_first() else {
                break;
            };
            lru.entries.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ChatCompletion;

    fn entry() -> CachedResponse {
        let completion: ChatCompletion = serde_json::from_str(r#"{"choices":[]}"#).unwrap();
        CachedResponse::new(completion, "p:m", crate::Usd::ZERO)
    }

    fn key(n: u32) -> CacheKey {
        CacheKey::from_content(&n.into())
    }

    #[tokio::test]
    async fn the_least_recently_used_entry_goes_first() {
        let cache = MemoryCache::new(2);
        cache.put(&key(1), &entry()).await;
        cache.put(&key(2), &entry()).await;
        assert!(cache.get(&key(1)).await.is_some()); // 2 is now the oldest
        cache.put(&key(3), &entry()).await;
        assert!(cache.get(&key(2)).await.is_none());
        assert!(cache.get(&key(1)).await.is_some());
        assert!(cache.get(&key(3)).await.is_some());
        cache.put(&key(3), &entry()).await; // replacing does not grow it
        assert_eq!(cache.len(), 2);
        let lru = cache.lock();
        assert_eq!(lru.order.len(), 2);
    }

    #[tokio::test]
    async fn capacity_zero_keeps_nothing() {
        let cache = MemoryCache::new(0);
        cache.put(&key(1), &entry()).await;
        assert!(cache.is_empty());
    }
}
