//! Elelem's retry state machine, as in the Python original and a little better.

use std::time::Duration;

use super::{Failure, RetryDecision, RetryPolicy, RetryState};
use crate::provider::ProviderErrorKind;

/// The default retry policy.
///
/// - Rate limits (429) wait and retry: the server's `retry-after-ms`/`retry-after`
///   when sent (a delay above `max_server_delay` gives up), else `rate_limit_backoff`
///   (1, 2, 4, 8 s), at most `max_rate_limit_retries` (4) times. `insufficient_quota`
///   is never retried.
/// - 5xx, 408, 409, connection failures, timeouts and unusable bodies retry with
///   `transient_backoff`, at most `max_transient_retries` (3) times.
/// - A rate limit with no room in the client's own gate for longer than
///   `max_server_delay` is refused before sending
///   ([`ProviderError::RateLimitWait`](crate::provider::ProviderError::RateLimitWait))
///   and, like a 429 with a longer delay, not retried.
/// - A provider in cool-down ([`ProviderError::CoolingDown`](crate::provider::ProviderError::CoolingDown))
///   is never retried within the call: the next attempt would be refused too.
/// - A JSON failure (unparseable answer, schema violation, GROQ's
///   `json_validate_failed`) retries up to `max_json_retries` (3) times with the
///   temperature lowered to `max(min_temperature, original - reduction[n])`
///   (reductions 0.1, 0.3, then the floor of 0.3; never raised); then drops
///   `response_format` and resets the temperature; then tries the fallback model;
///   then fails.
///
/// ```
/// use std::time::Duration;
/// use elelem_core::retry::DefaultRetryPolicy;
/// let policy = DefaultRetryPolicy::default()
///     .rate_limit_backoff(vec![Duration::from_millis(10)])
///     .max_json_retries(2);
/// assert_eq!(policy.max_json_retries, 2);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct DefaultRetryPolicy {
    /// JSON retries per model before `response_format` is removed.
    pub max_json_retries: u32,
    /// Temperature reductions, one per JSON retry; past the end, the floor.
    pub temperature_reductions: Vec<f64>,
    /// The lowest temperature a reduction goes to.
    pub min_temperature: f64,
    /// Waits after rate limits when the server gives no delay.
    pub rate_limit_backoff: Vec<Duration>,
    /// Rate-limit retries per call.
    pub max_rate_limit_retries: u32,
    /// Waits after transient failures.
    pub transient_backoff: Vec<Duration>,
    /// Transient-failure retries per call.
    pub max_transient_retries: u32,
    /// A server delay longer than this means "do not retry".
    pub max_server_delay: Duration,
}

impl Default for DefaultRetryPolicy {
    fn default() -> Self {
        DefaultRetryPolicy {
            max_json_retries: 3,
            temperature_reductions: vec![0.1, 0.3],
            min_temperature: 0.3,
            rate_limit_backoff: [1, 2, 4, 8].map(Duration::from_secs).to_vec(),
            max_rate_limit_retries: 4,
            transient_backoff: [500, 1_000, 2_000].map(Duration::from_millis).to_vec(),
            max_transient_retries: 3,
            max_server_delay: super::DEFAULT_MAX_SERVER_DELAY,
        }
    }
}

impl DefaultRetryPolicy {
    /// Sets the JSON retries per model.
    pub fn max_json_retries(mut self, retries: u32) -> Self {
        self.max_json_retries = retries;
        self
    }

    /// Sets the temperature reductions and floor.
    pub fn temperature_reductions(mut self, reductions: Vec<f64>, floor: f64) -> Self {
        self.temperature_reductions = reductions;
        self.min_temperature = floor;
        self
    }

    /// Sets the rate-limit waits (used when the server sends no delay).
    pub fn rate_limit_backoff(mut self, backoff: Vec<Duration>) -> Self {
        self.rate_limit_backoff = backoff;
        self
    }

    /// Sets the rate-limit retries per call.
    pub fn max_rate_limit_retries(mut self, retries: u32) -> Self {
        self.max_rate_limit_retries = retries;
        self
    }

    /// Sets the transient-failure waits.
    pub fn transient_backoff(mut self, backoff: Vec<Duration>) -> Self {
        self.transient_backoff = backoff;
        self
    }

    /// Sets the transient-failure retries per call.
    pub fn max_transient_retries(mut self, retries: u32) -> Self {
        self.max_transient_retries = retries;
        self
    }

    /// The temperature for JSON retry number `retry` (0-based): lowered from the
    /// original by the matching reduction, never below the floor, never raised.
    pub fn reduced_temperature(&self, state: &RetryState, retry: u32) -> Option<f64> {
        let original = state.original_temperature?;
        let current = state.temperature.unwrap_or(original);
        let target = match self.temperature_reductions.get(retry as usize) {
            Some(reduction) => (original - reduction).max(self.min_temperature),
            None => self.min_temperature,
        };
        Some(target.min(current))
    }

    fn backoff(list: &[Duration], retry: u32) -> Duration {
        list.get(retry as usize)
            .or(list.last())
            .copied()
            .unwrap_or(Duration::ZERO)
    }

    fn json_step(&self, state: &RetryState) -> RetryDecision {
        if state.json_retries < self.max_json_retries {
            RetryDecision::RetryJson {
                temperature: self.reduced_temperature(state, state.json_retries),
            }
        } else if state.response_format_sent && !state.response_format_removed {
            RetryDecision::RemoveResponseFormat
        } else if state.fallback_available {
            RetryDecision::UseFallback
        } else {
            RetryDecision::Fail
        }
    }
}

impl RetryPolicy for DefaultRetryPolicy {
    fn decide(&self, failure: &Failure<'_>, state: &RetryState) -> RetryDecision {
        if failure.is_json_problem() {
            return self.json_step(state);
        }
        let Failure::Provider(error) = failure else {
            return RetryDecision::Fail;
        };
        if !error.is_retryable() {
            return RetryDecision::Fail;
        }
        if error.kind() == Some(ProviderErrorKind::RateLimited) {
            if state.rate_limit_retries >= self.max_rate_limit_retries {
                return RetryDecision::Fail;
            }
            let after = match error.retry_after() {
                Some(delay) if delay > self.max_server_delay => return RetryDecision::Fail,
                Some(delay) => delay,
                None => Self::backoff(&self.rate_limit_backoff, state.rate_limit_retries),
            };
            return RetryDecision::Retry { after };
        }
        if state.transient_retries >= self.max_transient_retries {
            return RetryDecision::Fail;
        }
        let after = error
            .retry_after()
            .filter(|d| *d <= self.max_server_delay)
            .unwrap_or_else(|| Self::backoff(&self.transient_backoff, state.transient_retries));
        RetryDecision::Retry { after }
    }

    fn max_server_delay(&self) -> Duration {
        self.max_server_delay
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::provider::{HttpError, ProviderError};

    fn http(status: u16, code: Option<&str>, retry_after: Option<Duration>) -> ProviderError {
        ProviderError::Http(Box::new(HttpError {
            retry_after,
            ..HttpError::from_status("p", status, code)
        }))
    }

    fn state() -> RetryState {
        RetryState {
            attempts: 1,
            original_temperature: Some(1.0),
            temperature: Some(1.0),
            response_format_sent: true,
            fallback_available: true,
            ..RetryState::default()
        }
    }

    #[test]
    fn json_ladder_reduces_then_removes_format_then_falls_back_then_fails() {
        let p = DefaultRetryPolicy::default();
        let f = Failure::JsonParse("x");
        let mut s = state();
        assert_eq!(
            p.decide(&f, &s),
            RetryDecision::RetryJson {
                temperature: Some(0.9)
            }
        );
        s.json_retries = 1;
        s.temperature = Some(0.9);
        assert_eq!(
            p.decide(&f, &s),
            RetryDecision::RetryJson {
                temperature: Some(0.7)
            }
        );
        s.json_retries = 2;
        s.temperature = Some(0.7);
        assert_eq!(
            p.decide(&f, &s),
            RetryDecision::RetryJson {
                temperature: Some(0.3)
            }
        );
        s.json_retries = 3;
        assert_eq!(p.decide(&f, &s), RetryDecision::RemoveResponseFormat);
        s.response_format_removed = true;
        assert_eq!(p.decide(&f, &s), RetryDecision::UseFallback);
        s.fallback_available = false;
        assert_eq!(p.decide(&f, &s), RetryDecision::Fail);
    }

    #[test]
    fn temperature_is_never_raised_and_absent_stays_absent() {
        let p = DefaultRetryPolicy::default();
        let mut s = state();
        s.original_temperature = Some(0.1);
        s.temperature = Some(0.1);
        assert_eq!(p.reduced_temperature(&s, 0), Some(0.1));
        s.original_temperature = None;
        s.temperature = None;
        assert_eq!(
            p.decide(&Failure::JsonSchema(&[]), &s),
            RetryDecision::RetryJson { temperature: None }
        );
    }

    #[test]
    fn api_json_validation_uses_the_json_ladder() {
        let p = DefaultRetryPolicy::default();
        let mut e = http(400, Some("json_validate_failed"), None);
        if let ProviderError::Http(h) = &mut e {
            h.kind = ProviderErrorKind::ApiJsonValidation;
        }
        assert!(matches!(
            p.decide(&Failure::Provider(&e), &state()),
            RetryDecision::RetryJson { .. }
        ));
    }

    #[test]
    fn rate_limits_honour_the_server_then_back_off_then_give_up() {
        let p = DefaultRetryPolicy::default();
        let mut s = state();
        let with_delay = http(429, None, Some(Duration::from_millis(250)));
        assert_eq!(
            p.decide(&Failure::Provider(&with_delay), &s),
            RetryDecision::Retry {
                after: Duration::from_millis(250)
            }
        );
        let plain = http(429, None, None);
        for (n, secs) in [1, 2, 4, 8].into_iter().enumerate() {
            s.rate_limit_retries = n as u32;
            assert_eq!(
                p.decide(&Failure::Provider(&plain), &s),
                RetryDecision::Retry {
                    after: Duration::from_secs(secs)
                }
            );
        }
        s.rate_limit_retries = 4;
        assert_eq!(
            p.decide(&Failure::Provider(&plain), &s),
            RetryDecision::Fail
        );
        let too_long = http(429, None, Some(Duration::from_secs(600)));
        assert_eq!(
            p.decide(&Failure::Provider(&too_long), &state()),
            RetryDecision::Fail
        );
    }

    #[test]
    fn quota_auth_and_bad_requests_are_never_retried() {
        let p = DefaultRetryPolicy::default();
        for e in [
            http(429, Some("insufficient_quota"), None),
            http(401, None, None),
            http(400, None, None),
            http(404, None, None),
        ] {
            assert_eq!(
                p.decide(&Failure::Provider(&e), &state()),
                RetryDecision::Fail,
                "{e}"
            );
        }
    }

    #[test]
    fn a_provider_cooling_down_is_not_retried() {
        let p = DefaultRetryPolicy::default();
        let e = ProviderError::CoolingDown {
            provider: "p".into(),
            remaining: Duration::from_millis(10),
            failures: 5,
        };
        assert_eq!(
            p.decide(&Failure::Provider(&e), &state()),
            RetryDecision::Fail
        );
    }

    #[test]
    fn server_errors_retry_with_backoff_up_to_the_limit() {
        let p = DefaultRetryPolicy::default();
        let e = http(503, None, None);
        let mut s = state();
        assert_eq!(
            p.decide(&Failure::Provider(&e), &s),
            RetryDecision::Retry {
                after: Duration::from_millis(500)
            }
        );
        s.transient_retries = 3;
        assert_eq!(p.decide(&Failure::Provider(&e), &s), RetryDecision::Fail);
    }
}
