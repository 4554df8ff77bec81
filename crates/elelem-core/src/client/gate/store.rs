//! The gate's state shared by many processes: what a store (Redis, ...) keeps so
//! that every process sees the same request budget and the same health.

use std::time::Duration;

use async_trait::async_trait;

use super::{CooldownPolicy, RateLimit};

/// A shared store's answer to one request asking to be sent.
///
/// ```
/// use std::time::Duration;
/// use elelem_core::gate::SharedAdmission;
/// let wait = SharedAdmission::Wait(Duration::from_millis(250));
/// assert_ne!(wait, SharedAdmission::Admitted { at_ms: 0 });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SharedAdmission {
    /// Counted in the provider's windows: send it now. `at_ms` is the store's
    /// clock (milliseconds) at admission, handed back in its [`ServerReport`].
    Admitted {
        /// The store's time of the admission, in milliseconds.
        at_ms: u64,
    },
    /// No room: ask again after this long.
    Wait(Duration),
}

/// What is left of one allowance, as a provider's response said.
///
/// ```
/// use std::time::Duration;
/// let a = elelem_core::gate::ServerAllowance { remaining: 3, reset: Duration::from_secs(1) };
/// assert_eq!(a.remaining, 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerAllowance {
    /// Requests (or tokens) left.
    pub remaining: u64,
    /// When the allowance is whole again, from when the response was read.
    pub reset: Duration,
}

/// A provider's view of its allowances, from one response's `x-ratelimit-*`
/// headers (or a 429's `retry-after`: nothing left until then).
///
/// ```
/// let report = elelem_core::gate::ServerReport { admitted_at_ms: 5, requests: None, tokens: None };
/// assert!(report.is_empty());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerReport {
    /// The admission time of the request the response answered
    /// ([`SharedAdmission::Admitted`]): requests admitted after it count as used.
    pub admitted_at_ms: u64,
    /// The request allowance, when the response said it.
    pub requests: Option<ServerAllowance>,
    /// The token allowance, when the response said it.
    pub tokens: Option<ServerAllowance>,
}

impl ServerReport {
    /// Whether the response said nothing about either allowance.
    pub fn is_empty(&self) -> bool {
        self.requests.is_none() && self.tokens.is_none()
    }
}

/// A provider cooling down, as a shared store sees it.
///
/// ```
/// use std::time::Duration;
/// let c = elelem_core::gate::SharedCooldown { remaining: Duration::from_secs(3), failures: 5 };
/// assert_eq!(c.failures, 5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedCooldown {
    /// What is left of it.
    pub remaining: Duration,
    /// Failures in a row that started it (across every process).
    pub failures: u32,
}

/// A shared store that cannot be reached or answered nonsense: the client falls
/// back to its own in-process gate (and logs it once) until it answers again.
///
/// ```
/// let e = elelem_core::gate::GateStoreError::new("connection refused");
/// assert!(e.to_string().contains("connection refused"));
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[error("the shared gate store is unavailable: {reason}; each process uses its own gate meanwhile")]
pub struct GateStoreError {
    /// What went wrong.
    pub reason: String,
}

impl GateStoreError {
    /// An error saying `reason`.
    pub fn new(reason: impl Into<String>) -> Self {
        GateStoreError {
            reason: reason.into(),
        }
    }
}

/// The gate's state shared by every process using the same store: each
/// provider's request and token windows (configured limits and what its
/// `x-ratelimit-*` headers said) and its cool-down. Install one with
/// [`ElelemBuilder::gate_store`](crate::ElelemBuilder::gate_store); without one,
/// each client keeps this state in its own process (the default). Every update
/// must be atomic across processes, and keys should expire on their own.
///
/// ```
/// use std::sync::Arc;
/// use elelem_core::async_trait;
/// use elelem_core::gate::*;
///
/// /// A store that is never reachable: the client always uses its own gate.
/// #[derive(Debug)]
/// struct Unreachable;
///
/// #[async_trait]
/// impl GateStore for Unreachable {
///     async fn try_admit(&self, _: &str, _: &RateLimit, _: u64) -> Result<SharedAdmission, GateStoreError> {
///         Err(GateStoreError::new("down"))
///     }
///     async fn report(&self, _: &str, _: &RateLimit, _: &ServerReport) -> Result<(), GateStoreError> {
///         Err(GateStoreError::new("down"))
///     }
///     async fn cooldown(&self, _: &str) -> Result<Option<SharedCooldown>, GateStoreError> {
///         Err(GateStoreError::new("down"))
///     }
///     async fn record_health(&self, _: &str, _: &CooldownPolicy, _: bool) -> Result<(), GateStoreError> {
///         Err(GateStoreError::new("down"))
///     }
/// }
///
/// let elelem = elelem_core::Elelem::builder().gate_store(Arc::new(Unreachable)).build().unwrap();
/// # let _ = elelem;
/// ```
#[async_trait]
pub trait GateStore: Send + Sync + std::fmt::Debug {
    /// Admits one request of `tokens` tokens to `provider` if its windows under
    /// `limit` (and the provider's last report) have room, counting it; else says
    /// how long to wait.
    async fn try_admit(
        &self,
        provider: &str,
        limit: &RateLimit,
        tokens: u64,
    ) -> Result<SharedAdmission, GateStoreError>;

    /// Keeps what a response said of `provider`'s allowances (a report about an
    /// earlier admission than the kept one is ignored).
    async fn report(
        &self,
        provider: &str,
        limit: &RateLimit,
        report: &ServerReport,
    ) -> Result<(), GateStoreError>;

    /// `provider`'s cool-down, if it is cooling down (counts a skipped attempt).
    async fn cooldown(&self, provider: &str) -> Result<Option<SharedCooldown>, GateStoreError>;

    /// Counts an attempt's outcome under `policy`: a failure (`failed`) adds to
    /// the failures in a row and starts a cool-down at the threshold; a success
    /// clears them.
    async fn record_health(
        &self,
        provider: &str,
        policy: &CooldownPolicy,
        failed: bool,
    ) -> Result<(), GateStoreError>;
}
