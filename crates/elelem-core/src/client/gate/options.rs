//! The builder options of the gate and the client's read-only view of it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::{CooldownPolicy, GateStore, ProviderGate, ProviderHealth, RateLimit};
use crate::client::{Elelem, ElelemBuilder};

/// What the builder collects for the [`ProviderGate`].
#[derive(Debug, Clone)]
pub(crate) struct GateOptions {
    cooldown: Option<CooldownPolicy>,
    rate_limits: BTreeMap<String, RateLimit>,
    store: Option<Arc<dyn GateStore>>,
}

impl Default for GateOptions {
    fn default() -> Self {
        GateOptions {
            cooldown: Some(CooldownPolicy::default()),
            rate_limits: BTreeMap::new(),
            store: None,
        }
    }
}

impl GateOptions {
    /// The gate these options describe.
    pub fn gate(&self) -> ProviderGate {
        ProviderGate::new(self.cooldown, &self.rate_limits, self.store.clone())
    }
}

impl ElelemBuilder {
    /// Sets when a provider that keeps failing cools down (default: on, 5
    /// failures in a row, 30 s): while it cools down, attempts to it fail at once
    /// with [`ProviderError::CoolingDown`](crate::provider::ProviderError::CoolingDown)
    /// and nothing is sent. See [`CooldownPolicy`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use elelem_core::{gate::CooldownPolicy, Elelem};
    /// let elelem = Elelem::builder()
    ///     .provider_cooldown(CooldownPolicy::new(3, Duration::from_secs(60)))
    ///     .build()
    ///     .unwrap();
    /// # let _ = elelem;
    /// ```
    pub fn provider_cooldown(mut self, policy: CooldownPolicy) -> Self {
        self.options.gate.cooldown = Some(policy);
        self
    }

    /// Turns the provider cool-down off: every attempt is sent, however often the
    /// provider failed.
    ///
    /// ```
    /// let elelem = elelem_core::Elelem::builder().without_provider_cooldown().build().unwrap();
    /// # let _ = elelem;
    /// ```
    pub fn without_provider_cooldown(mut self) -> Self {
        self.options.gate.cooldown = None;
        self
    }

    /// Limits the rate of requests to `provider` on the client side (off by
    /// default): an attempt waits until the limit, and the provider's latest
    /// `x-ratelimit-*` headers, leave room for it, so bursts wait instead of
    /// collecting 429s. See [`RateLimit`].
    ///
    /// ```
    /// use elelem_core::{gate::RateLimit, Elelem};
    /// let elelem = Elelem::builder()
    ///     .rate_limit("groq", RateLimit::per_minute().requests(30).tokens(6_000))
    ///     .build()
    ///     .unwrap();
    /// # let _ = elelem;
    /// ```
    pub fn rate_limit(mut self, provider: impl Into<String>, limit: RateLimit) -> Self {
        self.options.gate.rate_limits.insert(provider.into(), limit);
        self
    }

    /// Paces requests to `provider` by its `x-ratelimit-*` headers alone (the
    /// same as `rate_limit(provider, RateLimit::from_headers())`): once a response
    /// says the allowance is used up, further attempts wait for its reset.
    ///
    /// ```
    /// let elelem = elelem_core::Elelem::builder().rate_limit_from_headers("openai").build().unwrap();
    /// # let _ = elelem;
    /// ```
    pub fn rate_limit_from_headers(self, provider: impl Into<String>) -> Self {
        self.rate_limit(provider, RateLimit::from_headers())
    }

    /// Keeps the gate's state (each provider's rate-limit windows, learned
    /// allowances and cool-down) in a store shared by many processes, such as
    /// `elelem-gate-redis`'s `RedisGate`, so that they all see the same budget of
    /// requests and the same health. Without it (the default) each client keeps
    /// its own; with it, the client falls back to its own while the store cannot
    /// be reached (logged once per outage). The limits and cool-down policy are
    /// still set with [`rate_limit`](Self::rate_limit) and
    /// [`provider_cooldown`](Self::provider_cooldown), the same in every process.
    /// See [`GateStore`].
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use elelem_core::async_trait;
    /// # use elelem_core::gate::*;
    /// # #[derive(Debug)] struct MyStore;
    /// # #[async_trait] impl GateStore for MyStore {
    /// #   async fn try_admit(&self, _: &str, _: &RateLimit, _: u64) -> Result<SharedAdmission, GateStoreError> { Ok(SharedAdmission::Admitted { at_ms: 0 }) }
    /// #   async fn report(&self, _: &str, _: &RateLimit, _: &ServerReport) -> Result<(), GateStoreError> { Ok(()) }
    /// #   async fn cooldown(&self, _: &str) -> Result<Option<SharedCooldown>, GateStoreError> { Ok(None) }
    /// #   async fn record_health(&self, _: &str, _: &CooldownPolicy, _: bool) -> Result<(), GateStoreError> { Ok(()) }
    /// # }
    /// let elelem = elelem_core::Elelem::builder()
    ///     .rate_limit("groq", RateLimit::per_minute().requests(30))
    ///     .gate_store(Arc::new(MyStore))
    ///     .build()
    ///     .unwrap();
    /// # let _ = elelem;
    /// ```
    pub fn gate_store(mut self, store: Arc<dyn GateStore>) -> Self {
        self.options.gate.store = Some(store);
        self
    }
}

impl Elelem {
    /// What is left of `provider`'s cool-down, or `None` when its requests go
    /// through (see [`ElelemBuilder::provider_cooldown`]).
    ///
    /// ```
    /// let elelem = elelem_core::Elelem::builder().build().unwrap();
    /// assert_eq!(elelem.cooling_down("groq"), None);
    /// ```
    pub fn cooling_down(&self, provider: &str) -> Option<Duration> {
        self.inner.gate.cooling_down(provider)
    }

    /// The health of every provider called so far: failures in a row, what is
    /// left of a cool-down, attempts refused by it.
    ///
    /// ```
    /// let elelem = elelem_core::Elelem::builder().build().unwrap();
    /// assert!(elelem.provider_health().is_empty());
    /// ```
    pub fn provider_health(&self) -> Vec<ProviderHealth> {
        self.inner.gate.health()
    }
}
