//! Elelem's provider gate shared by many processes, in Redis: each provider's
//! request and token windows (configured with
//! [`ElelemBuilder::rate_limit`](elelem_core::ElelemBuilder::rate_limit) and
//! learned from its `x-ratelimit-*` headers) and its cool-down state, so that
//! every process sees the same budget of requests and the same health.
//!
//! Every update is one Lua script, atomic in Redis and timed by Redis's own
//! clock; every key expires on its own once the provider is idle. While Redis
//! cannot be reached, each process falls back to its own in-process gate and
//! logs it once.
//!
//! ```no_run
//! use std::sync::Arc;
//! use elelem_core::{gate::RateLimit, Elelem};
//! use elelem_gate_redis::RedisGate;
//!
//! # fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let gate = Arc::new(RedisGate::new("redis://127.0.0.1:6379/")?);
//! // In every process: the same limits, one shared budget.
//! let elelem = Elelem::builder()
//!     .rate_limit("groq", RateLimit::per_minute().requests(30).tokens(6_000))
//!     .gate_store(gate)
//!     .build()?;
//! # Ok(()) }
//! ```
//!
//! Keys are `{prefix}:{provider}:log` (the admissions of the last window, a
//! sorted set), `{prefix}:{provider}:view` (the provider's last word on its
//! allowances) and `{prefix}:{provider}:health` (failures in a row, cool-down
//! end, skipped attempts); the prefix is `elelem:gate` unless set with
//! [`RedisGate::with_prefix`].

mod scripts;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use elelem_core::async_trait;
use elelem_core::gate::{
    CooldownPolicy, GateStore, GateStoreError, RateLimit, ServerAllowance, ServerReport,
    SharedAdmission, SharedCooldown,
};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, Script};
use tokio::sync::Mutex;

/// How long a provider's health is kept after its last attempt (beyond its
/// cool-down): 10 minutes.
const HEALTH_KEPT: Duration = Duration::from_secs(600);

/// How long connecting to Redis, and each answer, may take before the gate
/// falls back to the in-process one.
const TIMEOUT: Duration = Duration::from_millis(500);

/// What went wrong setting up a [`RedisGate`].
///
/// ```
/// let error = elelem_gate_redis::RedisGate::new("not a url").unwrap_err();
/// assert!(error.to_string().contains("redis://"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisGateError {
    /// The URL is not a Redis URL.
    #[error("invalid Redis URL (expected redis://host:port/db): {0}")]
    Url(#[source] redis::RedisError),
}

/// A [`GateStore`] in Redis: install it with
/// [`ElelemBuilder::gate_store`](elelem_core::ElelemBuilder::gate_store) in
/// every process that shares the providers' limits.
///
/// It connects on first use (and again after Redis went away), with a 500 ms
/// timeout on connecting and on every answer, so a Redis that is down costs a
/// call at most that much once, then the client uses its own gate for a moment.
///
/// ```
/// let gate = elelem_gate_redis::RedisGate::new("redis://127.0.0.1:6379/").unwrap();
/// assert_eq!(gate.prefix(), "elelem:gate");
/// ```
pub struct RedisGate {
    client: Client,
    connection: Mutex<Option<MultiplexedConnection>>,
    prefix: String,
    /// This gate's admissions, made unique across processes by `instance`.
    next_id: AtomicU64,
    instance: String,
    admit: Script,
    report: Script,
    cooldown: Script,
    health: Script,
}

impl std::fmt::Debug for RedisGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: it is not shown.
        f.debug_struct("RedisGate")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn unavailable(error: impl std::fmt::Display) -> GateStoreError {
    GateStoreError::new(format!("Redis: {error}"))
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl RedisGate {
    /// A gate on the Redis server at `url` (`redis://host:port/db`); nothing is
    /// sent until the first call.
    pub fn new(url: &str) -> Result<Self, RedisGateError> {
        let client = Client::open(url).map_err(RedisGateError::Url)?;
        let started = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        Ok(RedisGate {
            client,
            connection: Mutex::new(None),
            prefix: "elelem:gate".to_owned(),
            next_id: AtomicU64::new(0),
            instance: format!("{:x}-{started:x}", std::process::id()),
            admit: Script::new(scripts::ADMIT),
            report: Script::new(scripts::REPORT),
            cooldown: Script::new(scripts::COOLDOWN),
            health: Script::new(scripts::HEALTH),
        })
    }

    /// The same gate with its keys under `prefix` (to keep several fleets apart
    /// on one Redis).
    ///
    /// ```
    /// let gate = elelem_gate_redis::RedisGate::new("redis://127.0.0.1/").unwrap().with_prefix("staging");
    /// assert_eq!(gate.prefix(), "staging");
    /// ```
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The prefix of its keys.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn key(&self, provider: &str, what: &str) -> String {
        format!("{}:{provider}:{what}", self.prefix)
    }

    /// The connection, made when there is none.
    async fn connection(&self) -> Result<MultiplexedConnection, GateStoreError> {
        let mut held = self.connection.lock().await;
        if let Some(connection) = held.as_ref() {
            return Ok(connection.clone());
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(TIMEOUT)
            .set_response_timeout(TIMEOUT);
        let connection = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(unavailable)?;
        *held = Some(connection.clone());
        Ok(connection)
    }

    /// Runs a script; a failure drops the connection (made again next time).
    async fn run<T: redis::FromRedisValue>(
        &self,
        invocation: redis::ScriptInvocation<'_>,
    ) -> Result<T, GateStoreError> {
        let mut connection = self.connection().await?;
        match invocation.invoke_async(&mut connection).await {
            Ok(value) => Ok(value),
            Err(error) => {
                if error.is_io_error() || error.is_timeout() || error.is_connection_dropped() {
                    *self.connection.lock().await = None;
                }
                Err(unavailable(error))
            }
        }
    }
}

#[async_trait]
impl GateStore for RedisGate {
    async fn try_admit(
        &self,
        provider: &str,
        limit: &RateLimit,
        tokens: u64,
    ) -> Result<SharedAdmission, GateStoreError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut call = self.admit.prepare_invoke();
        call.key(self.key(provider, "log"))
            .key(self.key(provider, "view"))
            .arg(millis(limit.window()))
            .arg(limit.request_limit().unwrap_or(0))
            .arg(limit.token_limit().unwrap_or(0))
            .arg(tokens)
            .arg(format!("{}-{id}", self.instance));
        let (wait_ms, now_ms): (u64, u64) = self.run(call).await?;
        Ok(if wait_ms == 0 {
            SharedAdmission::Admitted { at_ms: now_ms }
        } else {
            SharedAdmission::Wait(Duration::from_millis(wait_ms))
        })
    }

    async fn report(
        &self,
        provider: &str,
        limit: &RateLimit,
        report: &ServerReport,
    ) -> Result<(), GateStoreError> {
        let units: [(&str, Option<ServerAllowance>); 2] =
            [("requests", report.requests), ("tokens", report.tokens)];
        for (unit, allowance) in units {
            let Some(allowance) = allowance else {
                continue;
            };
            let mut call = self.report.prepare_invoke();
            call.key(self.key(provider, "view"))
                .arg(unit)
                .arg(report.admitted_at_ms)
                .arg(allowance.remaining)
                .arg(millis(allowance.reset))
                .arg(millis(limit.window()));
            let _kept: i64 = self.run(call).await?;
        }
        Ok(())
    }

    async fn cooldown(&self, provider: &str) -> Result<Option<SharedCooldown>, GateStoreError> {
        let mut call = self.cooldown.prepare_invoke();
        call.key(self.key(provider, "health"));
        let (remaining_ms, failures): (u64, u64) = self.run(call).await?;
        Ok((remaining_ms > 0).then(|| SharedCooldown {
            remaining: Duration::from_millis(remaining_ms),
            failures: u32::try_from(failures).unwrap_or(u32::MAX),
        }))
    }

    async fn record_health(
        &self,
        provider: &str,
        policy: &CooldownPolicy,
        failed: bool,
    ) -> Result<(), GateStoreError> {
        let mut call = self.health.prepare_invoke();
        call.key(self.key(provider, "health"))
            .arg(u8::from(failed))
            .arg(policy.failures())
            .arg(millis(policy.duration()))
            .arg(millis(HEALTH_KEPT));
        let _failures: i64 = self.run(call).await?;
        Ok(())
    }
}
