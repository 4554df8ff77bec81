//! [`PostgresCache`]: Elelem's response cache in PostgreSQL, shared by every
//! process using the database, with single flight across them.
//!
//! Entries are keyed like the disk cache (the hex SHA-256 [`CacheKey`]), stored
//! gzip-compressed in the table `elelem_response_cache`, expire after
//! [`CacheOptions::ttl`] and are evicted oldest first beyond
//! [`CacheOptions::max_bytes`] (compressed bytes).
//!
//! Single flight: the first lookup of a key that misses claims it; identical
//! lookups wait for its answer instead of calling the provider. Inside one
//! process they wait on a channel; across processes the claimant holds a
//! PostgreSQL advisory lock on the key (session-level, so a process that dies
//! releases it with its connection) and the others poll the table until the
//! answer is stored or the lock is free. After [`CacheOptions::flight_timeout`]
//! a waiter gives up and calls the provider itself.

mod flights;
mod sql;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use elelem_core::async_trait;
use elelem_core::cache::{Cache, CacheClaim, CacheKey, CachedResponse, Lookup};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::connection_thread::ConnectionThread;
use crate::LedgerError;
use flights::{Flights, Lead, Turn};
use worker::Command;

/// The largest entry read back, decompressed (against a corrupt or hostile row).
const MAX_ENTRY_BYTES: u64 = 64 * 1024 * 1024;

/// How a [`PostgresCache`] keeps entries and waits for other processes.
///
/// ```
/// use std::time::Duration;
/// use elelem_ledger_postgres::CacheOptions;
/// let options = CacheOptions::default()
///     .ttl(Some(Duration::from_secs(3_600)))
///     .max_bytes(100 << 20)
///     .flight_timeout(Duration::from_secs(30));
/// assert_eq!(options.get_ttl(), Some(Duration::from_secs(3_600)));
/// assert_eq!(options.get_max_bytes(), 100 << 20);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheOptions {
    ttl: Option<Duration>,
    max_bytes: u64,
    flight_timeout: Duration,
    poll_interval: Duration,
}

impl Default for CacheOptions {
    /// A week's TTL, 1 GiB, a 120 s flight timeout, polled every 20 ms.
    fn default() -> Self {
        CacheOptions {
            ttl: Some(Duration::from_secs(7 * 24 * 3_600)),
            max_bytes: 1 << 30,
            flight_timeout: Duration::from_secs(120),
            poll_interval: Duration::from_millis(20),
        }
    }
}

impl CacheOptions {
    /// How long an entry is served after it was stored (`None`: until evicted).
    ///
    /// ```
    /// let forever = elelem_ledger_postgres::CacheOptions::default().ttl(None);
    /// assert_eq!(forever.get_ttl(), None);
    /// ```
    #[must_use]
    pub fn ttl(mut self, ttl: Option<Duration>) -> Self {
        self.ttl = ttl;
        self
    }

    /// The cap on the stored (compressed) bytes of all entries; the oldest are
    /// evicted beyond it after each store.
    ///
    /// ```
    /// let small = elelem_ledger_postgres::CacheOptions::default().max_bytes(1 << 20);
    /// assert_eq!(small.get_max_bytes(), 1 << 20);
    /// ```
    #[must_use]
    pub fn max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// How long a lookup waits for another caller answering the same key before
    /// calling the provider itself (set it above your longest call).
    ///
    /// ```
    /// use std::time::Duration;
    /// let o = elelem_ledger_postgres::CacheOptions::default().flight_timeout(Duration::from_secs(5));
    /// assert_eq!(o.get_flight_timeout(), Duration::from_secs(5));
    /// ```
    #[must_use]
    pub fn flight_timeout(mut self, timeout: Duration) -> Self {
        self.flight_timeout = timeout;
        self
    }

    /// How often a lookup waiting for another process looks again (at least 1 ms).
    ///
    /// ```
    /// use std::time::Duration;
    /// let o = elelem_ledger_postgres::CacheOptions::default().poll_interval(Duration::ZERO);
    /// assert_eq!(o.get_poll_interval(), Duration::from_millis(1));
    /// ```
    #[must_use]
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// The TTL set.
    pub fn get_ttl(&self) -> Option<Duration> {
        self.ttl
    }

    /// The size cap set.
    pub fn get_max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// The flight timeout set.
    pub fn get_flight_timeout(&self) -> Duration {
        self.flight_timeout
    }

    /// The poll interval set.
    pub fn get_poll_interval(&self) -> Duration {
        self.poll_interval
    }
}

/// A response cache in PostgreSQL shared by every process using the database:
/// install it with [`ElelemBuilder::cache`](elelem_core::ElelemBuilder::cache).
///
/// A thread of its own owns the connection (connecting again if the server drops
/// it), so the cache is safe to use inside an async runtime. Like every
/// [`Cache`], it never fails a call: a database that cannot be reached makes
/// lookups misses (logged), and single flight then holds inside the process only.
///
/// ```no_run
/// use std::sync::Arc;
/// use elelem_core::Elelem;
/// use elelem_ledger_postgres::PostgresCache;
///
/// # fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let cache = Arc::new(PostgresCache::connect("host=127.0.0.1 user=elelem dbname=cache")?);
/// let elelem = Elelem::builder().cache(cache).build()?;
/// # Ok(()) }
/// ```
pub struct PostgresCache {
    thread: ConnectionThread<Command>,
    options: CacheOptions,
    flights: Arc<Flights>,
}

impl std::fmt::Debug for PostgresCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The connection string may hold a password: it is not shown.
        f.debug_struct("PostgresCache")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl PostgresCache {
    /// Connects with a libpq-style connection string and the default options,
    /// creating the table if needed.
    ///
    /// ```no_run
    /// let cache = elelem_ledger_postgres::PostgresCache::connect("postgresql://elelem@127.0.0.1/cache").unwrap();
    /// ```
    pub fn connect(params: &str) -> Result<Self, LedgerError> {
        PostgresCache::connect_with(params, CacheOptions::default())
    }

    /// Connects (from the cache's thread, so this is safe inside an async runtime;
    /// it waits for the connection) and creates the table if needed.
    ///
    /// ```no_run
    /// use elelem_ledger_postgres::{CacheOptions, PostgresCache};
    /// let cache = PostgresCache::connect_with("host=127.0.0.1 user=postgres", CacheOptions::default().ttl(None)).unwrap();
    /// ```
    pub fn connect_with(params: &str, options: CacheOptions) -> Result<Self, LedgerError> {
        let (connect_params, params) = (params.to_owned(), params.to_owned());
        let thread = ConnectionThread::spawn(
            "elelem-cache-postgres",
            move || sql::connect(&connect_params),
            move |conn, commands| worker::run(conn, params, commands),
        )?;
        Ok(PostgresCache {
            thread,
            options,
            flights: Arc::new(Flights::default()),
        })
    }

    /// The options in force.
    ///
    /// ```no_run
    /// let cache = elelem_ledger_postgres::PostgresCache::connect("host=127.0.0.1").unwrap();
    /// assert_eq!(cache.options(), elelem_ledger_postgres::CacheOptions::default());
    /// ```
    pub fn options(&self) -> CacheOptions {
        self.options
    }

    /// Stops the cache's thread (closing the connection); later lookups are
    /// misses. Dropping the cache closes it too.
    ///
    /// ```no_run
    /// let cache = elelem_ledger_postgres::PostgresCache::connect("host=127.0.0.1").unwrap();
    /// cache.close().unwrap();
    /// ```
    pub fn close(&self) -> Result<(), LedgerError> {
        self.thread.close(Command::Close)
    }

    /// Sends a command with an async reply and waits for it.
    async fn ask<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<Result<T, LedgerError>>) -> Command,
    ) -> Result<T, LedgerError> {
        let (reply, answer) = oneshot::channel();
        self.thread.send(command(reply))?;
        answer.await.map_err(|_| LedgerError::Closed)?
    }

    /// The live entry of `key`, if any (errors are logged misses).
    async fn read(&self, key: &CacheKey) -> Option<CachedResponse> {
        let stored = self
            .ask(|reply| Command::Get(key.as_str().to_owned(), reply))
            .await;
        match stored {
            Ok(Some(body)) => {
                let entry = CachedResponse::from_gzip_bytes(&body, MAX_ENTRY_BYTES);
                if entry.is_none() {
                    tracing::warn!(key = %key, "response cache: unreadable entry ignored (a miss)");
                }
                entry
            }
            Ok(None) => None,
            Err(error) => {
                tracing::warn!(%error, key = %key, "response cache: PostgreSQL lookup failed; treated as a miss");
                None
            }
        }
    }

    /// The claim of a lookup that leads its key in this process: across
    /// processes, waits for the key's advisory lock (or the answer, or the
    /// timeout).
    async fn claim_across(&self, key: &CacheKey, lead: Lead, deadline: Instant) -> Lookup {
        let lock = sql::lock_of(key.as_str());
        loop {
            match self.ask(|reply| Command::TryLock(lock, reply)).await {
                Ok(true) => {
                    // The previous holder may have stored its answer just before
                    // releasing the lock.
                    let unlock = self.thread.sender();
                    let claim = CacheClaim::new(move || {
                        let _ = unlock.send(Command::Unlock(lock));
                        drop(lead);
                    });
                    return match self.read(key).await {
                        Some(found) => Lookup::Hit(Box::new(found)),
                        None => Lookup::Miss(Some(claim)),
                    };
                }
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(%error, "response cache: PostgreSQL unreachable; single flight holds in this process only");
                    return Lookup::Miss(Some(CacheClaim::new(move || drop(lead))));
                }
            }
            tokio::time::sleep(self.options.poll_interval).await;
            if let Some(found) = self.read(key).await {
                return Lookup::Hit(Box::new(found));
            }
            if Instant::now() >= deadline {
                tracing::warn!(key = %key, timeout = ?self.options.flight_timeout, "response cache: another process is still answering this request; calling the provider too");
                return Lookup::Miss(Some(CacheClaim::new(move || drop(lead))));
            }
        }
    }
}

impl Drop for PostgresCache {
    fn drop(&mut self) {
        if self.thread.is_running() {
            if let Err(error) = self.close() {
                tracing::warn!(%error, "closing the PostgreSQL response cache");
            }
        }
    }
}

#[async_trait]
impl Cache for PostgresCache {
    async fn get(&self, key: &CacheKey) -> Option<CachedResponse> {
        self.read(key).await
    }

    async fn put(&self, key: &CacheKey, response: &CachedResponse) {
        let body = match response.to_gzip_bytes() {
            Ok(body) => body,
            Err(error) => {
                tracing::warn!(%error, "response cache: cannot compress an entry; not stored");
                return;
            }
        };
        let (ttl, max_bytes) = (self.options.ttl, self.options.max_bytes);
        let stored = self
            .ask(|reply| Command::Put {
                key: key.as_str().to_owned(),
                body,
                ttl,
                max_bytes,
                reply,
            })
            .await;
        match stored {
            Ok(0) => {}
            Ok(evicted) => tracing::debug!(evicted, "response cache: old entries evicted"),
            Err(error) => {
                tracing::warn!(%error, key = %key, "response cache: storing in PostgreSQL failed");
            }
        }
    }

    async fn get_or_claim(&self, key: &CacheKey) -> Lookup {
        let deadline = Instant::now() + self.options.flight_timeout;
        loop {
            if let Some(found) = self.read(key).await {
                return Lookup::Hit(Box::new(found));
            }
            match self.flights.join(key.as_str()) {
                Turn::Lead(lead) => return self.claim_across(key, lead, deadline).await,
                Turn::Wait(mut waiting) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if tokio::time::timeout(left, waiting.changed()).await.is_err() {
                        tracing::warn!(key = %key, "response cache: the request answering this one is still running; calling the provider too");
                        return Lookup::Miss(None);
                    }
                }
            }
        }
    }
}
