//! The client's state, grouped by concern: the providers, the policy that
//! drives a call, and the accounting of what calls did. With the catalogue, the
//! gate, the response cache and the presets they make up [`Inner`].
//!
//! [`Inner`]: super::elelem::Inner

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use foldhash::HashMap;

use crate::budget::Budgets;
use crate::client::engine::{ResolvedTargets, Target};
use crate::cost::CostSink;
use crate::json::{InstructionCache, SchemaCache};
use crate::keys::key_file;
use crate::provider::Provider;
use crate::retry::RetryPolicy;
use crate::types::ChatCompletion;

/// A provider as the client holds it.
#[derive(Clone)]
pub(crate) enum ProviderSlot {
    /// Ready to call.
    Ready(Arc<dyn Provider>),
    /// Its key is not set.
    MissingKey { env_var: Option<String> },
    /// A plugin finding its own credentials found none: `reason` says what to set.
    MissingCredentials { reason: String },
}

/// The reason credentials are missing stays out of `Debug`: it names the
/// credential variables and files (the error of a call shows it).
impl std::fmt::Debug for ProviderSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProviderSlot::Ready(provider) => f.debug_tuple("Ready").field(provider).finish(),
            ProviderSlot::MissingKey { env_var } => f
                .debug_struct("MissingKey")
                .field("env_var", env_var)
                .finish(),
            ProviderSlot::MissingCredentials { .. } => {
                f.debug_struct("MissingCredentials").finish_non_exhaustive()
            }
        }
    }
}

/// The providers: each one's slot, base URL and key file.
#[derive(Debug)]
pub(crate) struct Providers {
    pub slots: BTreeMap<String, ProviderSlot>,
    /// Each provider's base URL (part of the cache key).
    pub endpoints: BTreeMap<String, String>,
    /// Where key files were looked for (`None`: they were not).
    pub key_dir: Option<PathBuf>,
    /// Each provider's fallback model as resolved on first use (the catalogue
    /// and the providers never change once the client is built).
    pub fallbacks: FallbackTargets,
    /// The targets model ids resolved to, for the next call.
    pub resolved: ResolvedTargets,
}

/// A provider's fallback model id and its target, `None` when the provider has
/// none or it is not callable; resolved once per provider.
#[derive(Default)]
pub(crate) struct FallbackTargets(Mutex<HashMap<String, Option<(String, Target)>>>);

/// The providers and their fallback model ids.
impl std::fmt::Debug for FallbackTargets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let known = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        f.debug_map()
            .entries(
                known
                    .iter()
                    .map(|(provider, fallback)| (provider, fallback.as_ref().map(|(id, _)| id))),
            )
            .finish()
    }
}

impl FallbackTargets {
    /// The fallback of `provider` for a call to model `current` (none when it is
    /// `current` itself), resolved by `resolve` on first use.
    pub fn fallback(
        &self,
        provider: &str,
        current: &str,
        resolve: impl FnOnce() -> Option<(String, Target)>,
    ) -> Option<Target> {
        let unless_current =
            |(id, target): &(String, Target)| (id != current).then(|| target.clone());
        if let Some(known) = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(provider)
        {
            return known.as_ref().and_then(unless_current);
        }
        // Resolved without holding the lock; two first calls may both resolve it.
        let resolved = resolve();
        let fallback = resolved.as_ref().and_then(unless_current);
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(provider.to_owned(), resolved);
        fallback
    }
}

impl Providers {
    /// The slot of `provider`.
    pub fn get(&self, provider: &str) -> Option<&ProviderSlot> {
        self.slots.get(provider)
    }

    /// The provider names, sorted, joined for an error message.
    pub fn names(&self) -> String {
        self.slots.keys().cloned().collect::<Vec<_>>().join(", ")
    }

    /// The key file looked for (or that would be) for `provider`.
    pub fn key_file(&self, provider: &str) -> Option<PathBuf> {
        self.key_dir.as_deref().map(|dir| key_file(dir, provider))
    }

    /// A provider's base URL.
    pub fn endpoint(&self, provider: &str) -> &str {
        self.endpoints.get(provider).map_or("", String::as_str)
    }
}

/// What drives a call: the retry policy and the limits and checks around it.
#[derive(Debug)]
pub(crate) struct Policy {
    pub retry: Arc<dyn RetryPolicy>,
    pub max_attempts: u32,
    pub stream_idle_timeout: Duration,
    /// Whether requests are checked against the context window before sending.
    pub context_check: bool,
    /// Compiled JSON schemas.
    pub schemas: SchemaCache,
    /// The JSON instructions of the latest schemas.
    pub instructions: InstructionCache,
    /// The model asked to fix broken JSON answers (`json_fixer.rs`).
    pub json_fixer: Option<String>,
}

/// What calls did: usage records, budgets, call ids, request counts and the
/// last response.
#[derive(Debug)]
pub(crate) struct Accounting {
    pub sink: Arc<dyn CostSink>,
    /// What each model measured (fed through `sink`, which includes it).
    pub performance: Arc<crate::routing::Performance>,
    /// Spend caps and their store.
    pub budgets: Arc<Budgets>,
    pub next_call_id: AtomicU64,
    requests: Mutex<HashMap<String, u64>>,
    /// Shared, so keeping and reading it never copies under the lock.
    last_response: Mutex<Option<LastResponse>>,
}

impl Accounting {
    /// The accounting of a client recording to `sink`; every record also feeds
    /// the client's [`Performance`](crate::routing::Performance).
    pub fn new(sink: Arc<dyn CostSink>, budgets: Arc<Budgets>, first_call_id: u64) -> Self {
        let performance = Arc::new(crate::routing::Performance::new());
        let sink: Arc<dyn CostSink> = Arc::new(
            crate::cost::FanOutSink::new()
                .with(sink)
                .with(performance.clone()),
        );
        Accounting {
            sink,
            performance,
            budgets,
            next_call_id: AtomicU64::new(first_call_id),
            requests: Mutex::default(),
            last_response: Mutex::default(),
        }
    }

    /// Counts one request sent to `provider`.
    pub fn note_request(&self, provider: &str) {
        let mut counts = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        match counts.get_mut(provider) {
            Some(n) => *n += 1,
            None => {
                counts.insert(provider.to_owned(), 1);
            }
        }
    }

    /// Requests sent per provider.
    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        let counts = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        counts.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    /// Requests sent to `provider`.
    pub fn request_count(&self, provider: &str) -> u64 {
        let counts = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        counts.get(provider).copied().unwrap_or(0)
    }

    /// Keeps `last` as the last response. The lock is held only to swap the
    /// pointer: the previous answer is freed after it is released.
    pub fn keep_last_response(&self, last: LastResponse) {
        let new = Some(last);
        let old = std::mem::replace(
            &mut *self
                .last_response
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
            new,
        );
        drop(old);
    }

    /// The last response kept, decoded (outside the lock) if it was kept as
    /// the reply's body.
    pub fn last_response(&self) -> Option<ChatCompletion> {
        let last = self
            .last_response
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        last?.completion()
    }
}

/// The client's last response, kept without copying the answer the caller gets.
#[derive(Debug, Clone)]
pub(crate) enum LastResponse {
    /// A completion the pipeline had no more use for (a refused answer), or a
    /// copy of one whose provider cannot decode its reply again.
    Completion(Arc<ChatCompletion>),
    /// The refcounted reply body, decoded again by its provider when asked.
    Reply {
        provider: Arc<dyn Provider>,
        body: bytes::Bytes,
    },
}

impl LastResponse {
    /// The last response of an accepted answer: its reply body when the
    /// provider kept it (two reference counts, no copy), else a copy.
    pub fn of_answer(
        provider: &Arc<dyn Provider>,
        completion: &ChatCompletion,
        body: Option<&bytes::Bytes>,
    ) -> Self {
        match body {
            Some(body) => LastResponse::Reply {
                provider: provider.clone(),
                body: body.clone(),
            },
            None => LastResponse::Completion(Arc::new(completion.clone())),
        }
    }

    /// The completion (a reply that no longer decodes gives none).
    fn completion(self) -> Option<ChatCompletion> {
        match self {
            LastResponse::Completion(completion) => Some(Arc::unwrap_or_clone(completion)),
            LastResponse::Reply { provider, body } => provider.decode_reply(&body),
        }
    }
}
