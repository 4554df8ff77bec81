//! Durable cost accounting shared by many processes: a PostgreSQL ledger with one
//! row per attempt.
//!
//! [`PostgresLedger`] is the PostgreSQL twin of `elelem-ledger-sqlite`'s
//! `SqliteLedger`: the same tables and columns, the same exact money (whole
//! nano-dollars plus the femto-dollar remainder, summed by PostgreSQL as `numeric`),
//! the same stats queries (all, by tag, by model, by provider, over a time range),
//! and the same batching: [`CostSink::record`] only queues the record, and a writer
//! thread writes the queue in one transaction at most one flush interval (100 ms by
//! default) after its first record, and on [`flush`](PostgresLedger::flush),
//! [`close`](PostgresLedger::close) and drop. Any number of processes and machines
//! can write to one database, and each answers stats over all of them. At most
//! [`LedgerOptions::max_queued`] records wait to be written while the server is
//! down; beyond, records are dropped and counted ([`PostgresLedger::dropped`]).
//! The batching is `elelem_core`'s [`BatchedSink`], which serves for a durable
//! sink of your own as well.
//!
//! ```no_run
//! use std::sync::Arc;
//! use elelem_core::Elelem;
//! use elelem_ledger_postgres::PostgresLedger;
//!
//! # fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let ledger = Arc::new(PostgresLedger::connect("host=127.0.0.1 user=elelem dbname=usage")?);
//! let elelem = Elelem::builder().cost_sink(ledger.clone()).build()?;
//! // ... calls, from any number of processes ...
//! println!("{}", serde_json::to_string_pretty(&elelem.get_stats())?);
//! ledger.close()?;
//! # Ok(()) }
//! ```
//!
//! The connection is made without TLS (for a server on the same host or a private
//! network). The tables are `usage`, `usage_tags` and `elelem_ledger_schema` in the
//! connection's search path: give Elelem its own schema with
//! `options='-c search_path=elelem'` in the connection string if the database is
//! shared with other applications.
//!
//! [`PostgresBudgetStore`] keeps Elelem's budget accounts in the same kind of
//! database (tables `elelem_budget_accounts` and `elelem_budget_reservations`),
//! so that a budget holds across every process using it.
//!
//! [`PostgresKeyStore`] holds the `elelem` gateway's virtual keys (table
//! `elelem_gateway_keys`, hashes only), shared by every gateway process.
//!
//! [`PostgresCache`] is Elelem's response cache in the same kind of database
//! (table `elelem_response_cache`): every process reads what any stored, and
//! identical requests in flight at once are answered by one provider call.

mod backend;
mod budget;
mod cache;
mod connection_thread;
mod error;
mod keys;
mod rows;
mod schema;
mod tables;

use std::time::Duration;

use backend::PostgresBackend;
use elelem_core::cost::{
    BatchOptions, BatchedSink, CostSink, RecentQuery, Stats, StatsQuery, UsageRecord,
};

pub use budget::{BudgetStoreOptions, PostgresBudgetStore, DEFAULT_RESERVATION_EXPIRY};
pub use cache::{CacheOptions, PostgresCache};
pub use error::LedgerError;
pub use keys::{GatewayKeyRecord, KeyStoreError, ListedKey, PostgresKeyStore};

/// The default flush interval: queued records reach the database within 100 ms.
pub const DEFAULT_FLUSH_INTERVAL: Duration = elelem_core::cost::DEFAULT_FLUSH_INTERVAL;

/// The default bound on queued records (see [`LedgerOptions::max_queued`]).
pub const DEFAULT_MAX_QUEUED: usize = elelem_core::cost::DEFAULT_MAX_QUEUED;

/// How a [`PostgresLedger`] writes: the flush interval and the bound on queued
/// records of core's batched sink, which the ledger is built on.
///
/// ```
/// use std::time::Duration;
/// use elelem_ledger_postgres::LedgerOptions;
/// let options = LedgerOptions::default().flush_interval(Duration::from_millis(50));
/// assert_eq!(options.get_flush_interval(), Duration::from_millis(50));
/// ```
pub type LedgerOptions = BatchOptions;

/// A [`CostSink`] storing every usage record in PostgreSQL, and answering stats
/// queries from it (over the records of every process sharing the database).
///
/// `record` never blocks and never touches the network; a writer thread owns the
/// connection (and connects again if the server drops it). `stats` first writes
/// what is queued; errors make it answer `None` (and are logged):
/// [`query_stats`](Self::query_stats) returns them instead.
///
/// ```no_run
/// use elelem_core::cost::{CostSink, StatsQuery};
/// let ledger = elelem_ledger_postgres::PostgresLedger::connect("host=127.0.0.1 user=postgres").unwrap();
/// println!("{:?}", ledger.stats(&StatsQuery::Provider("groq".into())));
/// ```
pub struct PostgresLedger {
    sink: BatchedSink<PostgresBackend>,
}

impl std::fmt::Debug for PostgresLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The connection string may hold a password: it is not shown.
        f.debug_struct("PostgresLedger")
            .field("flush_interval", &self.flush_interval())
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

impl PostgresLedger {
    /// Connects with a libpq-style connection string (`host=... user=...
    /// dbname=...` or a `postgresql://` URL) and the default options, creating the
    /// tables if needed.
    ///
    /// ```no_run
    /// let ledger = elelem_ledger_postgres::PostgresLedger::connect("postgresql://elelem@127.0.0.1/usage").unwrap();
    /// ```
    pub fn connect(params: &str) -> Result<Self, LedgerError> {
        PostgresLedger::connect_with(params, LedgerOptions::default())
    }

    /// Connects (from the writer thread, so this is safe to call inside an async
    /// runtime) and creates the tables if needed.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use elelem_ledger_postgres::{LedgerOptions, PostgresLedger};
    /// let options = LedgerOptions::default().flush_interval(Duration::from_millis(20));
    /// let ledger = PostgresLedger::connect_with("host=127.0.0.1 user=postgres", options).unwrap();
    /// ```
    pub fn connect_with(params: &str, options: LedgerOptions) -> Result<Self, LedgerError> {
        let params = params.to_owned();
        let sink = BatchedSink::spawn(options, move || PostgresBackend::connect(params))?;
        Ok(PostgresLedger { sink })
    }

    /// The flush interval in force.
    ///
    /// ```no_run
    /// let ledger = elelem_ledger_postgres::PostgresLedger::connect("host=127.0.0.1").unwrap();
    /// assert_eq!(ledger.flush_interval(), elelem_ledger_postgres::DEFAULT_FLUSH_INTERVAL);
    /// ```
    pub fn flush_interval(&self) -> Duration {
        self.sink.flush_interval()
    }

    /// Writes every record queued before this call, in one transaction, and waits
    /// until it is committed.
    ///
    /// ```no_run
    /// let ledger = elelem_ledger_postgres::PostgresLedger::connect("host=127.0.0.1").unwrap();
    /// ledger.flush().unwrap();
    /// ```
    pub fn flush(&self) -> Result<(), LedgerError> {
        self.sink.flush()
    }

    /// Writes what is queued and stops the writer thread (closing the connection).
    /// Records sent after this are dropped (and counted by
    /// [`dropped`](Self::dropped)); queries answer [`LedgerError::Closed`].
    /// Dropping the ledger closes it too.
    ///
    /// ```no_run
    /// let ledger = elelem_ledger_postgres::PostgresLedger::connect("host=127.0.0.1").unwrap();
    /// ledger.close().unwrap();
    /// ```
    pub fn close(&self) -> Result<(), LedgerError> {
        match self.sink.close() {
            // Closing twice is fine.
            Err(LedgerError::Closed) => Ok(()),
            outcome => outcome,
        }
    }

    /// The stats of the records `query` covers, computed by PostgreSQL, after
    /// writing what is queued. `Ok(None)` for a query kind this version does not
    /// know.
    ///
    /// ```no_run
    /// use elelem_core::cost::StatsQuery;
    /// let ledger = elelem_ledger_postgres::PostgresLedger::connect("host=127.0.0.1").unwrap();
    /// let by_tag = ledger.query_stats(&StatsQuery::Tag("billing".into())).unwrap();
    /// ```
    pub fn query_stats(&self, query: &StatsQuery) -> Result<Option<Stats>, LedgerError> {
        self.sink.query_stats(query)
    }

    /// The stored records `query` covers, in the order they were written, read
    /// back exactly as recorded. `Ok(None)` for a query kind this version does not
    /// know.
    ///
    /// ```no_run
    /// use elelem_core::cost::StatsQuery;
    /// let ledger = elelem_ledger_postgres::PostgresLedger::connect("host=127.0.0.1").unwrap();
    /// let records = ledger.records(&StatsQuery::Model("groq:m".into())).unwrap();
    /// ```
    pub fn records(&self, query: &StatsQuery) -> Result<Option<Vec<UsageRecord>>, LedgerError> {
        self.sink.records(query)
    }

    /// Records not stored: received after the ledger was closed, or while
    /// [`LedgerOptions::max_queued`] records were waiting to be written.
    ///
    /// ```no_run
    /// let ledger = elelem_ledger_postgres::PostgresLedger::connect("host=127.0.0.1").unwrap();
    /// assert_eq!(ledger.dropped(), 0);
    /// ```
    pub fn dropped(&self) -> u64 {
        self.sink.dropped()
    }
}

impl CostSink for PostgresLedger {
    fn record(&self, record: &UsageRecord) {
        self.sink.record(record);
    }

    fn stats(&self, query: &StatsQuery) -> Option<Stats> {
        self.sink.stats(query)
    }

    /// The newest rows of each model: a client built with this ledger seeds
    /// its routing measurements from them.
    fn recent_records(&self, query: &RecentQuery) -> Vec<UsageRecord> {
        self.sink.recent_records(query)
    }
}
