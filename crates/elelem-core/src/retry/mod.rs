//! Retry decisions: the [`RetryPolicy`] trait, the default policy (Elelem's state
//! machine) and server-given delays.

mod default_policy;
mod retry_after;

pub use default_policy::DefaultRetryPolicy;
pub use retry_after::{retry_after_from_headers, RETRY_HEADERS};

use std::time::Duration;

use crate::provider::{ProviderError, ProviderErrorKind};

/// Why an attempt failed, as the policy sees it.
#[derive(Debug, Clone, Copy)]
pub enum Failure<'a> {
    /// The provider failed (HTTP error, connection, timeout, bad body).
    Provider(&'a ProviderError),
    /// The answer held no parseable JSON.
    JsonParse(&'a str),
    /// The answer's JSON violated the schema.
    JsonSchema(&'a [String]),
}

impl Failure<'_> {
    /// Whether the failure is about the answer's JSON (parse, schema, or the
    /// provider's own JSON validation), which the JSON ladder handles.
    pub fn is_json_problem(&self) -> bool {
        match self {
            Failure::Provider(error) => error.kind() == Some(ProviderErrorKind::ApiJsonValidation),
            Failure::JsonParse(_) | Failure::JsonSchema(_) => true,
        }
    }
}

/// Where a call stands when the policy is asked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RetryState {
    /// Attempts sent so far in this call, the failed one included.
    pub attempts: u32,
    /// Retries after rate limits so far.
    pub rate_limit_retries: u32,
    /// Retries after transient failures (5xx, connection, timeout) so far.
    pub transient_retries: u32,
    /// JSON retries on the current model so far.
    pub json_retries: u32,
    /// The temperature the caller asked for (`None` if unset or unsupported).
    pub original_temperature: Option<f64>,
    /// The temperature of the failed attempt.
    pub temperature: Option<f64>,
    /// Whether the failed attempt carried a `response_format`.
    pub response_format_sent: bool,
    /// Whether `response_format` was already removed in this call.
    pub response_format_removed: bool,
    /// Whether a fallback model exists and has not been used yet.
    pub fallback_available: bool,
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum RetryDecision {
    /// Send the same request again after a delay.
    Retry {
        /// How long to wait first.
        after: Duration,
    },
    /// Ask again for JSON, telling the model what was wrong, at this temperature.
    RetryJson {
        /// The temperature for the next attempt (`None`: leave unset).
        temperature: Option<f64>,
    },
    /// Drop `response_format`, reset the temperature and ask again.
    RemoveResponseFormat,
    /// Switch to the provider's fallback model.
    UseFallback,
    /// Give up.
    Fail,
}

/// Decides what happens after each failed attempt. The pipeline applies the
/// decision and moves the matching stats counters.
///
/// ```
/// use elelem_core::retry::{Failure, RetryDecision, RetryPolicy, RetryState};
///
/// /// Never retries anything.
/// #[derive(Debug)]
/// struct FailFast;
///
/// impl RetryPolicy for FailFast {
///     fn decide(&self, _failure: &Failure<'_>, _state: &RetryState) -> RetryDecision {
///         RetryDecision::Fail
///     }
/// }
/// ```
pub trait RetryPolicy: Send + Sync + std::fmt::Debug {
    /// The decision after `failure`, given `state`.
    fn decide(&self, failure: &Failure<'_>, state: &RetryState) -> RetryDecision;

    /// The longest a call waits for a rate limit, in the gate before sending
    /// (a reset learnt from `x-ratelimit-*` / `retry-after` headers, or a
    /// configured window) as after a 429. Past it, the attempt is refused with
    /// [`ProviderError::RateLimitWait`](crate::provider::ProviderError::RateLimitWait)
    /// and nothing is sent. Two minutes unless overridden.
    ///
    /// ```
    /// use std::time::Duration;
    /// use elelem_core::retry::{DefaultRetryPolicy, RetryPolicy};
    /// let policy = DefaultRetryPolicy { max_server_delay: Duration::from_secs(5), ..Default::default() };
    /// assert_eq!(RetryPolicy::max_server_delay(&policy), Duration::from_secs(5));
    /// ```
    fn max_server_delay(&self) -> Duration {
        DEFAULT_MAX_SERVER_DELAY
    }
}

/// The longest wait for a rate limit unless a policy says otherwise.
pub(crate) const DEFAULT_MAX_SERVER_DELAY: Duration = Duration::from_secs(120);
