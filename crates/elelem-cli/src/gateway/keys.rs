//! Gateway keys: clients authenticate with a key whose SHA-256 is in the
//! configuration; each key has forced tags, allowed models, a budget (an Elelem
//! budget on the key's account tag `key:NAME`) and a rate limit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use sha2::{Digest, Sha256};

use super::ApiError;
use crate::config::KeySection;

/// The hex SHA-256 of a key, as stored in the configuration.
///
/// ```
/// assert_eq!(
///     elelem_cli::gateway::sha256_hex("test"),
///     "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
/// );
/// ```
pub fn sha256_hex(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One gateway key, as the gateway uses it (never the secret itself).
#[derive(Debug, Clone)]
pub struct GatewayKey {
    /// Its name.
    pub name: String,
    /// Tags added to every request (the configured ones, then `key:NAME`).
    pub tags: Vec<String>,
    /// Allowed models (exact, or prefixes ending in `*`); empty: all.
    pub models: Vec<String>,
    /// The most requests per minute.
    pub requests_per_minute: Option<u32>,
}

impl GatewayKey {
    /// Whether this key may use `model`.
    ///
    /// ```
    /// let key = elelem_cli::gateway::GatewayKey {
    ///     name: "a".into(), tags: vec![], requests_per_minute: None,
    ///     models: vec!["groq:*".into(), "virtual:fast".into()],
    /// };
    /// assert!(key.allows("groq:openai/gpt-oss-20b"));
    /// assert!(key.allows("virtual:fast"));
    /// assert!(!key.allows("openai:gpt-4.1"));
    /// ```
    pub fn allows(&self, model: &str) -> bool {
        self.models.is_empty()
            || self
                .models
                .iter()
                .any(|allowed| match allowed.strip_suffix('*') {
                    Some(prefix) => model.starts_with(prefix),
                    None => model == allowed,
                })
    }

    /// A 403 unless every model of the request is allowed.
    pub fn check_models<'a>(
        &self,
        models: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), ApiError> {
        for model in models {
            if !self.allows(model) {
                let mut error = ApiError::new(
                    StatusCode::FORBIDDEN,
                    "invalid_request_error",
                    format!(
                        "the key {:?} may not use the model {model:?}; allowed: {}",
                        self.name,
                        self.models.join(", ")
                    ),
                )
                .code("model_not_allowed");
                error.param = Some("model".into());
                return Err(error);
            }
        }
        Ok(())
    }
}

/// The configured keys, by hash.
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    by_hash: HashMap<String, Arc<GatewayKey>>,
    required: bool,
}

impl KeyRing {
    /// The keys of the configuration.
    pub fn new(sections: &[KeySection]) -> KeyRing {
        let by_hash = sections
            .iter()
            .map(|s| {
                let mut tags = s.tags.clone();
                tags.push(s.account_tag());
                let key = GatewayKey {
                    name: s.name.clone(),
                    tags,
                    models: s.models.clone(),
                    requests_per_minute: s.requests_per_minute,
                };
                (s.sha256.to_ascii_lowercase(), Arc::new(key))
            })
            .collect();
        KeyRing {
            by_hash,
            required: false,
        }
    }

    /// The ring asks for a key even when it holds none (keys come from a
    /// database where the last one may have been revoked).
    ///
    /// ```
    /// let ring = elelem_cli::gateway::KeyRing::new(&[]).require_keys();
    /// assert!(!ring.is_open());
    /// assert_eq!(ring.authenticate(Some("Bearer x")).unwrap_err().status, 401);
    /// ```
    #[must_use]
    pub fn require_keys(mut self) -> Self {
        self.required = true;
        self
    }

    /// Whether no keys are configured (the gateway is then open to anyone who
    /// can reach it).
    pub fn is_open(&self) -> bool {
        self.by_hash.is_empty() && !self.required
    }

    /// The names of the keys, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.by_hash.values().map(|k| k.name.as_str()).collect();
        names.sort_unstable();
        names
    }

    /// The key of an `Authorization: Bearer ...` header; `None` when the gateway
    /// is open.
    pub fn authenticate(&self, header: Option<&str>) -> Result<Option<Arc<GatewayKey>>, ApiError> {
        if self.is_open() {
            return Ok(None);
        }
        let secret = header
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "no gateway key; send `Authorization: Bearer <key>` (the OpenAI SDKs' api_key)",
                )
            })?;
        self.by_hash
            .get(&sha256_hex(secret))
            .cloned()
            .map(Some)
            .ok_or_else(|| {
                ApiError::unauthorized("unknown gateway key; ask the gateway's operator for one")
            })
    }
}

/// Per-key request rates (token buckets that refill continuously).
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    /// A 429 with the wait when `key` has used its requests of the last minute.
    pub fn check(&self, key: &GatewayKey) -> Result<(), ApiError> {
        let Some(per_minute) = key.requests_per_minute else {
            return Ok(());
        };
        match self.take(&key.name, per_minute, Instant::now()) {
            Ok(()) => Ok(()),
            Err(wait) => {
                let mut error = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "requests",
                    format!(
                        "the key {:?} is limited to {per_minute} requests per minute; retry in {:.1} s",
                        key.name,
                        wait.as_secs_f64()
                    ),
                )
                .code("rate_limit_exceeded");
                error.retry_after = Some(wait);
                Err(error)
            }
        }
    }

    /// Takes one request from the bucket, or says how long until one is free.
    fn take(&self, name: &str, per_minute: u32, now: Instant) -> Result<(), Duration> {
        let capacity = f64::from(per_minute.max(1));
        let per_sec = capacity / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = buckets.entry(name.to_owned()).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_sec).min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_sec))
        }
    }

    /// Forgets the buckets of keys no longer configured.
    pub fn retain(&self, ring: &KeyRing) {
        let names: std::collections::HashSet<&str> =
            ring.by_hash.values().map(|k| k.name.as_str()).collect();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        buckets.retain(|name, _| names.contains(name.as_str()));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_bucket_refills_over_the_minute() {
        let limiter = RateLimiter::default();
        let start = Instant::now();
        assert!(limiter.take("k", 2, start).is_ok());
        assert!(limiter.take("k", 2, start).is_ok());
        let wait = limiter.take("k", 2, start).unwrap_err();
        assert!((wait.as_secs_f64() - 30.0).abs() < 0.01, "{wait:?}");
        assert!(limiter
            .take("k", 2, start + Duration::from_secs(31))
            .is_ok());
    }

    #[test]
    fn keys_are_found_by_hash_only() {
        let section = KeySection {
            name: "team".into(),
            sha256: sha256_hex("s3cret").to_uppercase(),
            tags: vec!["t".into()],
            models: vec![],
            budget_usd: None,
            budget_window: None,
            requests_per_minute: None,
        };
        let ring = KeyRing::new(&[section]);
        let key = ring.authenticate(Some("Bearer s3cret")).unwrap().unwrap();
        assert_eq!(key.tags, ["t", "key:team"]);
        assert_eq!(
            ring.authenticate(Some("Bearer nope")).unwrap_err().status,
            401
        );
        assert_eq!(ring.authenticate(None).unwrap_err().status, 401);
        assert!(KeyRing::default().authenticate(None).unwrap().is_none());
    }
}
