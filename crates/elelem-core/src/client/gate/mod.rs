//! The gate in front of every provider call: a provider in cool-down is refused at
//! once, and a rate-limited provider's requests wait for their turn.
//!
//! Before each attempt the pipeline calls `ProviderGate::admit`; after it,
//! `Permit::observe` with the response headers or the error, which feeds the
//! cool-down counts and the rate limiter's view of the server's allowance.
//!
//! ```
//! use std::time::Duration;
//! use elelem_core::gate::{CooldownPolicy, RateLimit};
//! let elelem = elelem_core::Elelem::builder()
//!     .provider_cooldown(CooldownPolicy::new(5, Duration::from_secs(30)))
//!     .rate_limit("groq", RateLimit::per_minute().requests(30).tokens(6_000))
//!     .rate_limit_from_headers("openai")
//!     .build()
//!     .unwrap();
//! assert_eq!(elelem.cooling_down("groq"), None);
//! ```

mod cooldown;
mod headers;
mod options;
mod rate_limit;
mod shared;
mod store;

pub use cooldown::{CooldownPolicy, ProviderHealth};
pub use rate_limit::RateLimit;
pub use store::{
    GateStore, GateStoreError, ServerAllowance, ServerReport, SharedAdmission, SharedCooldown,
};

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use cooldown::{Cooldowns, Health};
use rate_limit::RateLimiter;
use shared::{Refusal, SharedGate};

pub(crate) use options::GateOptions;

use crate::provider::{ProviderError, ProviderResponse, ProviderStream, TextCompletionResponse};

/// Cool-downs and rate limiters of every provider: in this process, and in a
/// shared store when one is set (the in-process ones then serve while the store
/// cannot be reached).
#[derive(Debug)]
pub(crate) struct ProviderGate {
    cooldowns: Arc<Cooldowns>,
    limiters: BTreeMap<String, Arc<RateLimiter>>,
    shared: Option<Arc<SharedGate>>,
}

impl ProviderGate {
    /// A gate with this cool-down policy (`None`: off) and these rate limits,
    /// kept in `store` when set, else in this process.
    pub fn new(
        cooldown: Option<CooldownPolicy>,
        limits: &BTreeMap<String, RateLimit>,
        store: Option<Arc<dyn GateStore>>,
    ) -> Self {
        ProviderGate {
            shared: store.map(|store| Arc::new(SharedGate::new(store, cooldown, limits))),
            cooldowns: Arc::new(Cooldowns::new(cooldown)),
            limiters: limits
                .iter()
                .map(|(provider, limit)| {
                    (
                        provider.clone(),
                        Arc::new(RateLimiter::new(provider, *limit)),
                    )
                })
                .collect(),
        }
    }

    /// What is left of `provider`'s cool-down, if it is cooling down.
    pub(crate) fn cooling_down(&self, provider: &str) -> Option<Duration> {
        self.cooldowns.remaining(provider)
    }

    /// Every provider that has failed or answered since the client was built.
    pub(crate) fn health(&self) -> Vec<ProviderHealth> {
        self.cooldowns.health()
    }

    /// [`admit`](Self::admit) for a provider with nothing to wait for (no
    /// shared store, no rate limit): the cool-down check alone, with no future
    /// at all. `None` when the attempt may have to wait.
    pub(crate) fn admit_at_once<'a>(
        &'a self,
        provider: &'a str,
    ) -> Option<Result<Permit<'a>, ProviderError>> {
        if self.shared.is_some() || self.limiters.contains_key(provider) {
            return None;
        }
        Some(
            self.cooldowns
                .check(provider)
                .map(|()| self.permit(provider, None, None)),
        )
    }

    fn permit<'a>(
        &'a self,
        provider: &'a str,
        admission: Option<Admission>,
        shared: Option<(Arc<SharedGate>, Option<u64>)>,
    ) -> Permit<'a> {
        Permit {
            provider,
            cooldowns: &self.cooldowns,
            admission,
            shared,
        }
    }

    /// Lets one attempt to `provider` go: refused with
    /// [`ProviderError::CoolingDown`] while it cools down, else after waiting for
    /// its rate limit (if any) to have room for one request of `tokens()` tokens
    /// (`tokens` is only called for rate-limited providers). A rate limit with no
    /// room within `bound` is refused at once with
    /// [`ProviderError::RateLimitWait`].
    pub(crate) async fn admit<'a>(
        &'a self,
        provider: &'a str,
        tokens: impl FnOnce() -> u64,
        bound: Duration,
    ) -> Result<Permit<'a>, ProviderError> {
        self.cooldowns.check(provider)?;
        let tokens = self.limiters.get(provider).map(|_| tokens());
        if let Some(shared) = &self.shared {
            match shared.admit(provider, tokens, bound).await {
                Ok(admitted_at) => {
                    return Ok(self.permit(provider, None, Some((shared.clone(), admitted_at))))
                }
                Err(Refusal::Refused(refused)) => return Err(refused),
                Err(Refusal::Unavailable) => {}
            }
        }
        let admission = match (self.limiters.get(provider), tokens) {
            (Some(limiter), Some(tokens)) => {
                let seq = limiter.admit(tokens, bound).await.map_err(|too_long| {
                    ProviderError::RateLimitWait {
                        provider: provider.to_owned(),
                        resets_in: too_long.resets_in,
                        bound,
                    }
                })?;
                let admission = Admission {
                    limiter: limiter.clone(),
                    seq,
                    tokens,
                };
                // It may have started cooling down during the wait.
                if let Err(refused) = self.cooldowns.check(provider) {
                    admission.limiter.release(admission.tokens);
                    return Err(refused);
                }
                Some(admission)
            }
            _ => None,
        };
        Ok(self.permit(provider, admission, None))
    }
}

/// A rate-limited request's place in its limiter.
#[derive(Debug)]
struct Admission {
    limiter: Arc<RateLimiter>,
    seq: u64,
    tokens: u64,
}

/// One admitted attempt. Hand its outcome to [`Permit::observe`]; dropped
/// without it (a cancelled call), it only frees its place.
#[derive(Debug)]
#[must_use = "observe the attempt's outcome"]
pub(crate) struct Permit<'a> {
    provider: &'a str,
    cooldowns: &'a Cooldowns,
    admission: Option<Admission>,
    /// Admitted by the shared gate (with its admission time when rate limited).
    shared: Option<(Arc<SharedGate>, Option<u64>)>,
}

impl Permit<'_> {
    /// Counts the attempt's outcome: the response headers on success, the error
    /// on failure.
    pub fn observe(mut self, outcome: Result<&BTreeMap<String, String>, &ProviderError>) {
        let (headers, health, retry_after) = match outcome {
            Ok(headers) => (Some(headers), Health::Up, None),
            Err(error) => {
                let (headers, retry_after) = match error {
                    ProviderError::Http(http) => (Some(&http.headers), http.retry_after),
                    _ => (None, None),
                };
                let rate_limited =
                    error.kind() == Some(crate::provider::ProviderErrorKind::RateLimited);
                (
                    headers,
                    Health::of_error(error),
                    retry_after.filter(|_| rate_limited),
                )
            }
        };
        if let Some(admission) = self.admission.take() {
            admission
                .limiter
                .finish(admission.seq, admission.tokens, headers, retry_after);
        }
        if let Some((shared, admitted_at)) = self.shared.take() {
            let failed = match health {
                Health::Up => Some(false),
                Health::Down => Some(true),
                Health::Neutral => None,
            };
            shared.observe(self.provider, admitted_at, headers, retry_after, failed);
        }
        self.cooldowns.observe(self.provider, health);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if let Some(admission) = self.admission.take() {
            admission.limiter.release(admission.tokens);
        }
    }
}

/// A provider answer that carries response headers.
pub(crate) trait WithHeaders {
    /// The kept response headers, lower-case names.
    fn headers(&self) -> &BTreeMap<String, String>;
}

impl WithHeaders for ProviderResponse {
    fn headers(&self) -> &BTreeMap<String, String> {
        &self.headers
    }
}

impl WithHeaders for ProviderStream {
    fn headers(&self) -> &BTreeMap<String, String> {
        &self.headers
    }
}

impl WithHeaders for TextCompletionResponse {
    fn headers(&self) -> &BTreeMap<String, String> {
        &self.headers
    }
}

/// Sends one attempt through the gate: `send` is only polled once `provider` is
/// admitted (a refusal, or a rate-limit wait longer than `bound`, is returned as
/// the attempt's error), and its outcome is observed.
pub(crate) async fn guarded<T: WithHeaders>(
    gate: &ProviderGate,
    provider: &str,
    tokens: impl FnOnce() -> u64,
    bound: Duration,
    send: impl Future<Output = Result<T, ProviderError>>,
) -> Result<T, ProviderError> {
    let permit = match gate.admit_at_once(provider) {
        Some(at_once) => at_once?,
        // Waiting is rare: its state is boxed, so that an attempt to a provider
        // with nothing to wait for carries none of it.
        None => Box::pin(gate.admit(provider, tokens, bound)).await?,
    };
    let result = send.await;
    permit.observe(result.as_ref().map(WithHeaders::headers));
    result
}
