//! The gate over a shared [`GateStore`]: cool-downs and rate-limit windows seen by
//! every process, with a fall-back to the in-process gate (logged once per outage)
//! while the store cannot be reached.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::headers::RateLimitHeaders;
use super::store::{GateStore, GateStoreError, ServerAllowance, ServerReport, SharedAdmission};
use super::{CooldownPolicy, RateLimit};
use crate::later::Later;
use crate::provider::ProviderError;

/// How long the client uses its own gate after the store failed, before asking
/// the store again.
const RETRY_STORE_AFTER: Duration = Duration::from_secs(2);

/// The longest single wait between two admission attempts (a report from another
/// process may open room earlier).
const MAX_WAIT_STEP: Duration = Duration::from_millis(250);

/// Why the shared gate did not admit an attempt.
pub(crate) enum Refusal {
    /// The provider cools down (seen by the store), or its shared rate limit has
    /// no room within the call's bound.
    Refused(ProviderError),
    /// The store cannot be reached: use the in-process gate.
    Unavailable,
}

/// The shared store, the policy and limits it applies, and its reachability.
#[derive(Debug)]
pub(crate) struct SharedGate {
    store: Arc<dyn GateStore>,
    cooldown: Option<CooldownPolicy>,
    limits: BTreeMap<String, RateLimit>,
    /// Until when the store is not asked (it failed).
    down_until: Mutex<Option<Instant>>,
    /// Whether this outage was logged.
    warned: AtomicBool,
}

impl SharedGate {
    pub fn new(
        store: Arc<dyn GateStore>,
        cooldown: Option<CooldownPolicy>,
        limits: &BTreeMap<String, RateLimit>,
    ) -> Self {
        SharedGate {
            store,
            cooldown,
            limits: limits.clone(),
            down_until: Mutex::new(None),
            warned: AtomicBool::new(false),
        }
    }

    fn is_down(&self) -> bool {
        let down = self
            .down_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        down.is_some_and(|until| Instant::now() < until)
    }

    /// Notes a failure of the store: logged once per outage.
    fn failed(&self, error: &GateStoreError) {
        *self
            .down_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now() + RETRY_STORE_AFTER);
        if !self.warned.swap(true, Ordering::SeqCst) {
            tracing::warn!(%error, "shared gate store unreachable: rate limits and cool-downs fall back to this process's own gate");
        }
    }

    /// Notes an answer of the store (ends an outage).
    fn answered(&self) {
        if self.warned.swap(false, Ordering::SeqCst) {
            tracing::info!(
                "shared gate store reachable again: rate limits and cool-downs are shared"
            );
            *self
                .down_until
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = None;
        }
    }

    fn outcome<T>(&self, result: Result<T, GateStoreError>) -> Result<T, Refusal> {
        match result {
            Ok(value) => {
                self.answered();
                Ok(value)
            }
            Err(error) => {
                self.failed(&error);
                Err(Refusal::Unavailable)
            }
        }
    }

    /// Admits one attempt to `provider` (of `tokens` when it is rate limited):
    /// refused while the store says it cools down, else after waiting for room in
    /// its shared windows (refused at once when they have no room within
    /// `bound`). Returns the admission time when it was rate limited.
    pub async fn admit(
        &self,
        provider: &str,
        tokens: Option<u64>,
        bound: Duration,
    ) -> Result<Option<u64>, Refusal> {
        if self.is_down() {
            return Err(Refusal::Unavailable);
        }
        let deadline = Instant::now().later(bound);
        loop {
            if self.cooldown.is_some() {
                if let Some(cooling) = self.outcome(self.store.cooldown(provider).await)? {
                    return Err(Refusal::Refused(ProviderError::CoolingDown {
                        provider: provider.to_owned(),
                        remaining: cooling.remaining,
                        failures: cooling.failures,
                    }));
                }
            }
            let (Some(limit), Some(tokens)) = (self.limits.get(provider), tokens) else {
                return Ok(None);
            };
            match self.outcome(self.store.try_admit(provider, limit, tokens).await)? {
                SharedAdmission::Admitted { at_ms } => return Ok(Some(at_ms)),
                SharedAdmission::Wait(wait) => {
                    if Instant::now().later(wait) > deadline {
                        return Err(Refusal::Refused(ProviderError::RateLimitWait {
                            provider: provider.to_owned(),
                            resets_in: wait,
                            bound,
                        }));
                    }
                    tracing::debug!(
                        provider,
                        ?wait,
                        tokens,
                        "shared rate limit: waiting before sending"
                    );
                    tokio::time::sleep(wait.min(MAX_WAIT_STEP)).await;
                }
            }
        }
    }

    /// Hands an attempt's outcome to the store, in the background (the caller
    /// does not wait for it): the response's allowances when it was rate
    /// limited (`admitted_at`), and its health (`Some(failed)`) when it counts.
    pub fn observe(
        self: &Arc<Self>,
        provider: &str,
        admitted_at: Option<u64>,
        headers: Option<&BTreeMap<String, String>>,
        retry_after: Option<Duration>,
        failed: Option<bool>,
    ) {
        let report = admitted_at.map(|at| report_of(at, headers, retry_after));
        let report = report.filter(|r| !r.is_empty());
        let health = self.cooldown.zip(failed);
        if report.is_none() && health.is_none() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (shared, provider) = (self.clone(), provider.to_owned());
        runtime.spawn(async move {
            if let (Some(report), Some(limit)) = (report, shared.limits.get(&provider)) {
                let sent = shared.store.report(&provider, limit, &report).await;
                if shared.outcome(sent).is_err() {
                    return;
                }
            }
            if let Some((policy, failed)) = health {
                let sent = shared.store.record_health(&provider, &policy, failed).await;
                let _ = shared.outcome(sent);
            }
        });
    }
}

/// A response's view of the allowances: its headers, or a 429's `retry-after`.
fn report_of(
    admitted_at_ms: u64,
    headers: Option<&BTreeMap<String, String>>,
    retry_after: Option<Duration>,
) -> ServerReport {
    let parsed = headers.map(RateLimitHeaders::parse).unwrap_or_default();
    let requests = match (parsed.remaining_requests, retry_after) {
        (Some(remaining), _) => Some(ServerAllowance {
            remaining,
            reset: parsed.reset_requests.or(retry_after).unwrap_or_default(),
        }),
        (None, Some(wait)) => Some(ServerAllowance {
            remaining: 0,
            reset: wait,
        }),
        (None, None) => None,
    };
    let tokens = parsed.remaining_tokens.map(|remaining| ServerAllowance {
        remaining,
        reset: parsed.reset_tokens.unwrap_or_default(),
    });
    ServerReport {
        admitted_at_ms,
        requests,
        tokens,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::SharedCooldown;
    use async_trait::async_trait;
    use std::sync::atomic::AtomicU32;

    /// A store answering from a script: down, cooling down, or a wait then room.
    #[derive(Debug, Default)]
    struct Scripted {
        down: AtomicBool,
        cooling: Mutex<Option<SharedCooldown>>,
        waits_left: AtomicU32,
        asked: AtomicU32,
    }

    impl Scripted {
        fn ask(&self) -> Result<(), GateStoreError> {
            self.asked.fetch_add(1, Ordering::SeqCst);
            if self.down.load(Ordering::SeqCst) {
                return Err(GateStoreError::new("connection refused"));
            }
            Ok(())
        }
    }

    #[async_trait]
    impl GateStore for Scripted {
        async fn try_admit(
            &self,
            _: &str,
            _: &RateLimit,
            _: u64,
        ) -> Result<SharedAdmission, GateStoreError> {
            self.ask()?;
            if self.waits_left.load(Ordering::SeqCst) > 0 {
                self.waits_left.fetch_sub(1, Ordering::SeqCst);
                return Ok(SharedAdmission::Wait(Duration::from_secs(1)));
            }
            Ok(SharedAdmission::Admitted { at_ms: 42 })
        }
        async fn report(
            &self,
            _: &str,
            _: &RateLimit,
            _: &ServerReport,
        ) -> Result<(), GateStoreError> {
            self.ask()
        }
        async fn cooldown(&self, _: &str) -> Result<Option<SharedCooldown>, GateStoreError> {
            self.ask()?;
            Ok(*self.cooling.lock().unwrap_or_else(PoisonError::into_inner))
        }
        async fn record_health(
            &self,
            _: &str,
            _: &CooldownPolicy,
            _: bool,
        ) -> Result<(), GateStoreError> {
            self.ask()
        }
    }

    fn gate(store: Arc<Scripted>) -> SharedGate {
        let limits = [("p".to_owned(), RateLimit::per_minute().requests(1))].into();
        SharedGate::new(store, Some(CooldownPolicy::default()), &limits)
    }

    #[tokio::test(start_paused = true)]
    async fn a_store_that_is_down_is_left_alone_for_a_while_then_asked_again() {
        let store = Arc::new(Scripted::default());
        store.down.store(true, Ordering::SeqCst);
        let gate = gate(store.clone());
        assert!(matches!(
            gate.admit("p", Some(1), Duration::MAX).await,
            Err(Refusal::Unavailable)
        ));
        assert!(gate.warned.load(Ordering::SeqCst), "the outage is logged");
        assert!(matches!(
            gate.admit("p", Some(1), Duration::MAX).await,
            Err(Refusal::Unavailable)
        ));
        assert_eq!(
            store.asked.load(Ordering::SeqCst),
            1,
            "not asked again at once"
        );
        store.down.store(false, Ordering::SeqCst);
        tokio::time::advance(RETRY_STORE_AFTER).await;
        assert!(matches!(
            gate.admit("p", Some(1), Duration::MAX).await,
            Ok(Some(42))
        ));
        assert!(!gate.warned.load(Ordering::SeqCst), "the outage is over");
    }

    #[tokio::test(start_paused = true)]
    async fn the_stores_cool_down_refuses_and_its_waits_are_waited() {
        let store = Arc::new(Scripted::default());
        let gate = gate(store.clone());
        *store.cooling.lock().unwrap_or_else(PoisonError::into_inner) = Some(SharedCooldown {
            remaining: Duration::from_secs(9),
            failures: 5,
        });
        let Err(Refusal::Refused(ProviderError::CoolingDown {
            remaining,
            failures,
            ..
        })) = gate.admit("p", Some(1), Duration::MAX).await
        else {
            panic!("refused while the store says it cools down");
        };
        assert_eq!((remaining, failures), (Duration::from_secs(9), 5));
        *store.cooling.lock().unwrap_or_else(PoisonError::into_inner) = None;
        store.waits_left.store(2, Ordering::SeqCst);
        let started = Instant::now();
        assert!(matches!(
            gate.admit("p", Some(1), Duration::MAX).await,
            Ok(Some(42))
        ));
        assert_eq!(
            started.elapsed(),
            MAX_WAIT_STEP * 2,
            "each wait is capped, then asked again"
        );
        assert!(
            matches!(gate.admit("unlimited", None, Duration::MAX).await, Ok(None)),
            "no limit: no admission"
        );
    }

    #[test]
    fn reports_read_the_headers_or_a_retry_after() {
        let headers: BTreeMap<String, String> = [
            ("x-ratelimit-remaining-requests", "4"),
            ("x-ratelimit-reset-requests", "350ms"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let report = report_of(7, Some(&headers), None);
        assert_eq!(
            report.requests,
            Some(ServerAllowance {
                remaining: 4,
                reset: Duration::from_millis(350)
            })
        );
        assert_eq!(report.tokens, None);
        let blocked = report_of(8, None, Some(Duration::from_secs(2)));
        assert_eq!(
            blocked.requests.map(|r| (r.remaining, r.reset)),
            Some((0, Duration::from_secs(2)))
        );
        assert!(report_of(9, None, None).is_empty());
    }
}
