//! Provider cool-down: a simple circuit breaker per provider.

use foldhash::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::later::Later;
use crate::provider::{ProviderError, ProviderErrorKind};

/// When a provider that keeps failing is put in a cool-down.
///
/// After `failures` consecutive infrastructure failures (5xx, 408/409, 529,
/// connection failures, timeouts) a provider cools down for `duration`: attempts
/// to it fail at once with [`ProviderError::CoolingDown`] and nothing is sent.
/// Afterwards requests go through again; one more failure starts a new cool-down
/// at once, a success clears the count. Rate limits (429), request errors (4xx),
/// authentication failures and unusable bodies neither count nor clear: a
/// provider answering them is up.
///
/// The default is 5 failures and 30 s, on for every provider.
///
/// ```
/// use std::time::Duration;
/// use elelem_core::gate::CooldownPolicy;
/// let policy = CooldownPolicy::new(3, Duration::from_secs(10));
/// assert_eq!(policy.failures(), 3);
/// assert_eq!(policy.duration(), Duration::from_secs(10));
/// assert_eq!(CooldownPolicy::default(), CooldownPolicy::new(5, Duration::from_secs(30)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CooldownPolicy {
    failures: u32,
    duration: Duration,
}

impl CooldownPolicy {
    /// A cool-down of `duration` after `failures` consecutive failures (at least 1).
    pub fn new(failures: u32, duration: Duration) -> CooldownPolicy {
        CooldownPolicy {
            failures: failures.max(1),
            duration,
        }
    }

    /// The consecutive failures that start a cool-down.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// How long a cool-down lasts.
    pub fn duration(&self) -> Duration {
        self.duration
    }
}

impl Default for CooldownPolicy {
    fn default() -> Self {
        CooldownPolicy::new(5, Duration::from_secs(30))
    }
}

/// What an attempt's outcome means for the breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Health {
    /// The provider answered: the count is cleared.
    Up,
    /// An infrastructure failure: counted.
    Down,
    /// Says nothing about the provider's health.
    Neutral,
}

impl Health {
    /// How a provider error counts.
    pub fn of_error(error: &ProviderError) -> Health {
        match error {
            ProviderError::Http(http) if http.kind == ProviderErrorKind::Server => Health::Down,
            ProviderError::Connection { .. }
            | ProviderError::BodyCut { .. }
            | ProviderError::Timeout { .. } => Health::Down,
            _ => Health::Neutral,
        }
    }
}

/// One provider's breaker.
#[derive(Debug, Default)]
struct Breaker {
    consecutive: u32,
    open_until: Option<Instant>,
    skipped: u64,
}

/// A provider's health as the client sees it.
///
/// ```
/// let elelem = elelem_core::Elelem::builder().build().unwrap();
/// assert!(elelem.provider_health().iter().all(|h| h.cooling_down.is_none()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProviderHealth {
    /// The provider's name.
    pub provider: String,
    /// Infrastructure failures in a row since its last success.
    pub consecutive_failures: u32,
    /// What is left of its cool-down, if it is cooling down.
    pub cooling_down: Option<Duration>,
    /// Attempts refused because it was cooling down, since the client was built.
    pub skipped_attempts: u64,
}

/// Every provider's breaker.
#[derive(Debug)]
pub(crate) struct Cooldowns {
    policy: Option<CooldownPolicy>,
    breakers: Mutex<HashMap<String, Breaker>>,
}

impl Cooldowns {
    pub fn new(policy: Option<CooldownPolicy>) -> Cooldowns {
        Cooldowns {
            policy,
            breakers: Mutex::new(HashMap::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Breaker>> {
        self.breakers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What is left of `provider`'s cool-down, if it is cooling down.
    pub fn remaining(&self, provider: &str) -> Option<Duration> {
        self.policy?;
        let now = Instant::now();
        let until = self.lock().get(provider)?.open_until?;
        (until > now).then(|| until - now)
    }

    /// `Err(CoolingDown)` (counted as a skipped attempt) while `provider` cools down.
    pub fn check(&self, provider: &str) -> Result<(), ProviderError> {
        if self.policy.is_none() {
            return Ok(());
        }
        let mut breakers = self.lock();
        let Some(breaker) = breakers.get_mut(provider) else {
            return Ok(());
        };
        // The clock is read only for a breaker that is open.
        let Some(until) = breaker.open_until else {
            return Ok(());
        };
        let now = Instant::now();
        if until <= now {
            return Ok(());
        }
        breaker.skipped += 1;
        Err(ProviderError::CoolingDown {
            provider: provider.to_owned(),
            remaining: until - now,
            failures: breaker.consecutive,
        })
    }

    /// Counts an attempt's outcome.
    pub fn observe(&self, provider: &str, health: Health) {
        let Some(policy) = self.policy else {
            return;
        };
        if health == Health::Neutral {
            return;
        }
        let mut breakers = self.lock();
        // Looked up by name first: the provider's name is copied only for its
        // first breaker, not on every call.
        if !breakers.contains_key(provider) {
            breakers.insert(provider.to_owned(), Breaker::default());
        }
        let Some(breaker) = breakers.get_mut(provider) else {
            return;
        };
        match health {
            Health::Up => {
                if breaker.open_until.take().is_some() || breaker.consecutive > 0 {
                    tracing::debug!(provider, "provider answered; failure count cleared");
                }
                breaker.consecutive = 0;
            }
            Health::Down => {
                breaker.consecutive = breaker.consecutive.saturating_add(1);
                let now = Instant::now();
                let open = breaker.open_until.is_some_and(|until| until > now);
                if breaker.consecutive >= policy.failures && !open {
                    breaker.open_until = Some(now.later(policy.duration));
                    tracing::warn!(
                        provider,
                        failures = breaker.consecutive,
                        cooldown = ?policy.duration,
                        "provider keeps failing; cooling down"
                    );
                }
            }
            Health::Neutral => {}
        }
    }

    /// Every provider with a breaker, by name.
    pub fn health(&self) -> Vec<ProviderHealth> {
        let now = Instant::now();
        let mut all: Vec<ProviderHealth> = self
            .lock()
            .iter()
            .map(|(provider, b)| ProviderHealth {
                provider: provider.clone(),
                consecutive_failures: b.consecutive,
                cooling_down: b.open_until.filter(|u| *u > now).map(|u| u - now),
                skipped_attempts: b.skipped,
            })
            .collect();
        all.sort_by(|a, b| a.provider.cmp(&b.provider));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_error() -> ProviderError {
        ProviderError::Connection {
            provider: "p".into(),
            message: "refused".into(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn opens_after_n_failures_refuses_then_lets_through_and_reopens() {
        let c = Cooldowns::new(Some(CooldownPolicy::new(3, Duration::from_secs(30))));
        for _ in 0..2 {
            c.observe("p", Health::of_error(&server_error()));
        }
        assert!(c.check("p").is_ok(), "two failures are not enough");
        c.observe("p", Health::Down);
        let Err(ProviderError::CoolingDown {
            provider,
            remaining,
            failures,
        }) = c.check("p")
        else {
            panic!("expected a cool-down");
        };
        assert_eq!(
            (provider.as_str(), remaining, failures),
            ("p", Duration::from_secs(30), 3)
        );
        assert!(c.check("other").is_ok(), "other providers are not affected");
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(c.remaining("p"), Some(Duration::from_secs(20)));
        tokio::time::advance(Duration::from_secs(21)).await;
        assert_eq!(c.remaining("p"), None);
        assert!(c.check("p").is_ok(), "the cool-down is over");
        c.observe("p", Health::Down);
        assert!(
            c.check("p").is_err(),
            "one failure after a cool-down reopens it"
        );
        let health = c.health();
        assert_eq!(health[0].skipped_attempts, 2);
        assert_eq!(health[0].consecutive_failures, 4);
    }

    #[tokio::test(start_paused = true)]
    async fn a_success_clears_and_neutral_outcomes_do_nothing() {
        let c = Cooldowns::new(Some(CooldownPolicy::new(2, Duration::from_secs(5))));
        c.observe("p", Health::Down);
        c.observe("p", Health::Neutral);
        c.observe("p", Health::Up);
        c.observe("p", Health::Down);
        assert!(
            c.check("p").is_ok(),
            "the success cleared the first failure"
        );
        c.observe("p", Health::Down);
        assert!(c.check("p").is_err());
        c.observe("p", Health::Up);
        assert!(c.check("p").is_ok(), "a late success closes the breaker");
    }

    #[test]
    fn only_infrastructure_failures_count() {
        use crate::provider::HttpError;
        let http = |status: u16, code: Option<&str>| {
            ProviderError::Http(Box::new(HttpError::from_status("p", status, code)))
        };
        for down in [
            http(500, None),
            http(503, None),
            http(529, None),
            server_error(),
        ] {
            assert_eq!(Health::of_error(&down), Health::Down, "{down}");
        }
        for neutral in [
            http(429, None),
            http(429, Some("insufficient_quota")),
            http(400, None),
            http(401, None),
            http(404, None),
            ProviderError::invalid_body("p", "bad", "<html>"),
        ] {
            assert_eq!(Health::of_error(&neutral), Health::Neutral, "{neutral}");
        }
    }

    #[test]
    fn disabled_never_refuses() {
        let c = Cooldowns::new(None);
        for _ in 0..100 {
            c.observe("p", Health::Down);
        }
        assert!(c.check("p").is_ok());
        assert_eq!(c.remaining("p"), None);
    }
}
