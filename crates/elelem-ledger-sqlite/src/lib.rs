//! Durable cost accounting for Elelem: a SQLite ledger with one row per attempt.
//!
//! [`SqliteLedger`] is a [`CostSink`]: give it to `Elelem::builder().cost_sink(...)`
//! and every attempt (failed ones included) is stored with its time, call, model,
//! provider, tags, tokens by kind, exact cost, duration, outcome and retry cause.
//! `get_stats()` and `get_stats_by_tag()` then answer from the database, exactly as
//! the in-memory sink would, and so do the other [`StatsQuery`] kinds (by model, by
//! provider, over a time range).
//!
//! Calls never wait on disk: [`CostSink::record`] only queues the record. A writer
//! thread writes the queue in one transaction at most one flush interval (100 ms by
//! default) after its first record arrived, and on [`SqliteLedger::flush`],
//! [`SqliteLedger::close`] and drop. A process killed outright (SIGKILL) loses at
//! most the records of its last flush interval. The database is in WAL mode, so
//! other processes can read it, and write it, while it is in use. At most
//! [`LedgerOptions::max_queued`] records wait to be written (while the database
//! stays locked, say); beyond, records are dropped and counted
//! ([`SqliteLedger::dropped`]). The batching is `elelem_core`'s
//! [`BatchedSink`], which serves for a durable sink of your own as well.
//!
//! ```no_run
//! use std::sync::Arc;
//! use elelem_core::Elelem;
//! use elelem_ledger_sqlite::SqliteLedger;
//!
//! # fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let ledger = Arc::new(SqliteLedger::open("usage.db")?);
//! let elelem = Elelem::builder().cost_sink(ledger.clone()).build()?;
//! // ... calls ...
//! println!("{}", serde_json::to_string_pretty(&elelem.get_stats())?);
//! ledger.close()?; // writes what is queued
//! # Ok(()) }
//! ```
//!
//! The schema (`usage`, and `usage_tags` with one row per distinct tag of a record)
//! stores each amount as whole nano-dollars plus the femto-dollar remainder, both
//! integers, so `SUM`s are exact: `femto-USD = *_nano_usd * 1000000 + *_femto_rem`.

mod backend;
mod error;
mod rows;
mod schema;

use std::path::{Path, PathBuf};
use std::time::Duration;

use backend::SqliteBackend;
use elelem_core::cost::{
    BatchOptions, BatchedSink, CostSink, RecentQuery, Stats, StatsQuery, UsageRecord,
};

pub use error::LedgerError;

/// The default flush interval: queued records reach the database within 100 ms.
pub const DEFAULT_FLUSH_INTERVAL: Duration = elelem_core::cost::DEFAULT_FLUSH_INTERVAL;

/// The default bound on queued records (see [`LedgerOptions::max_queued`]).
pub const DEFAULT_MAX_QUEUED: usize = elelem_core::cost::DEFAULT_MAX_QUEUED;

/// How a [`SqliteLedger`] is opened.
///
/// ```
/// use std::time::Duration;
/// use elelem_ledger_sqlite::LedgerOptions;
/// let options = LedgerOptions::default()
///     .flush_interval(Duration::from_millis(50))
///     .synchronous_full(true)
///     .busy_timeout(Duration::from_secs(10));
/// assert_eq!(options.get_flush_interval(), Duration::from_millis(50));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerOptions {
    batch: BatchOptions,
    synchronous_full: bool,
    busy_timeout: Duration,
}

impl Default for LedgerOptions {
    fn default() -> Self {
        LedgerOptions {
            batch: BatchOptions::default(),
            synchronous_full: false,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

impl LedgerOptions {
    /// The longest a queued record waits before it is written (at least 1 ms;
    /// default 100 ms). It bounds what a killed process can lose.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let options = elelem_ledger_sqlite::LedgerOptions::default().flush_interval(Duration::ZERO);
    /// assert_eq!(options.get_flush_interval(), Duration::from_millis(1));
    /// ```
    #[must_use]
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.batch = self.batch.flush_interval(interval);
        self
    }

    /// The flush interval set.
    ///
    /// ```
    /// use elelem_ledger_sqlite::{LedgerOptions, DEFAULT_FLUSH_INTERVAL};
    /// assert_eq!(LedgerOptions::default().get_flush_interval(), DEFAULT_FLUSH_INTERVAL);
    /// ```
    pub fn get_flush_interval(&self) -> Duration {
        self.batch.get_flush_interval()
    }

    /// The most records queued and not yet written (at least 1; default
    /// 100,000). While the database cannot be written (locked, disk full),
    /// records beyond it are dropped, counted by
    /// [`SqliteLedger::dropped`] and reported by a warning at most every ten
    /// seconds, so memory stays bounded and calls never wait.
    ///
    /// ```
    /// use elelem_ledger_sqlite::{LedgerOptions, DEFAULT_MAX_QUEUED};
    /// assert_eq!(LedgerOptions::default().get_max_queued(), DEFAULT_MAX_QUEUED);
    /// let options = LedgerOptions::default().max_queued(1_000);
    /// assert_eq!(options.get_max_queued(), 1_000);
    /// ```
    #[must_use]
    pub fn max_queued(mut self, records: usize) -> Self {
        self.batch = self.batch.max_queued(records);
        self
    }

    /// The bound on queued records set.
    ///
    /// ```
    /// let options = elelem_ledger_sqlite::LedgerOptions::default().max_queued(0);
    /// assert_eq!(options.get_max_queued(), 1);
    /// ```
    pub fn get_max_queued(&self) -> usize {
        self.batch.get_max_queued()
    }

    /// `PRAGMA synchronous = FULL`: each batch is synced to disk before the next,
    /// so written records also survive a power loss. The default (`NORMAL`, the
    /// usual setting for WAL) survives any crash of the process itself.
    ///
    /// ```
    /// let options = elelem_ledger_sqlite::LedgerOptions::default().synchronous_full(true);
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn synchronous_full(mut self, full: bool) -> Self {
        self.synchronous_full = full;
        self
    }

    /// How long a write waits for another connection (another process sharing the
    /// file) to release its lock before the batch is retried at the next flush
    /// (default 5 s).
    ///
    /// ```
    /// # use std::time::Duration;
    /// let options = elelem_ledger_sqlite::LedgerOptions::default().busy_timeout(Duration::from_secs(1));
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }
}

/// A [`CostSink`] storing every usage record in a SQLite database, and answering
/// stats queries from it.
///
/// `record` never blocks and never touches disk; a writer thread owns the
/// connection (see the crate documentation). `stats` first writes what is queued,
/// so it covers every record received before it; errors make it answer `None` (and
/// are logged): [`query_stats`](Self::query_stats) returns them instead.
///
/// ```
/// use elelem_core::cost::{CostSink, StatsQuery};
/// use elelem_ledger_sqlite::SqliteLedger;
///
/// let dir = tempfile::tempdir().unwrap();
/// let ledger = SqliteLedger::open(dir.path().join("usage.db")).unwrap();
/// assert_eq!(ledger.stats(&StatsQuery::All).unwrap().total_calls, 0);
/// ledger.close().unwrap();
/// ```
pub struct SqliteLedger {
    sink: BatchedSink<SqliteBackend>,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteLedger")
            .field("path", &self.path)
            .field("flush_interval", &self.flush_interval())
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

impl SqliteLedger {
    /// Opens the ledger at `path` (created if missing) with the default options.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let ledger = elelem_ledger_sqlite::SqliteLedger::open(dir.path().join("usage.db")).unwrap();
    /// # ledger.close().unwrap();
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Self, LedgerError> {
        SqliteLedger::open_with(path, LedgerOptions::default())
    }

    /// Opens the ledger at `path` (created if missing): WAL mode, the schema,
    /// and a writer thread.
    ///
    /// ```
    /// use std::time::Duration;
    /// use elelem_ledger_sqlite::{LedgerOptions, SqliteLedger};
    /// let dir = tempfile::tempdir().unwrap();
    /// let options = LedgerOptions::default().flush_interval(Duration::from_millis(20));
    /// let ledger = SqliteLedger::open_with(dir.path().join("usage.db"), options).unwrap();
    /// assert_eq!(ledger.flush_interval(), Duration::from_millis(20));
    /// # ledger.close().unwrap();
    /// ```
    pub fn open_with(path: impl AsRef<Path>, options: LedgerOptions) -> Result<Self, LedgerError> {
        let path = path.as_ref().to_owned();
        let conn = schema::open(&path, options.synchronous_full, options.busy_timeout)?;
        let sink = BatchedSink::new(SqliteBackend(conn), options.batch)?;
        Ok(SqliteLedger { sink, path })
    }

    /// The database file.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("usage.db");
    /// let ledger = elelem_ledger_sqlite::SqliteLedger::open(&path).unwrap();
    /// assert_eq!(ledger.path(), path);
    /// ```
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The flush interval in force.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let ledger = elelem_ledger_sqlite::SqliteLedger::open(dir.path().join("u.db")).unwrap();
    /// assert_eq!(ledger.flush_interval(), elelem_ledger_sqlite::DEFAULT_FLUSH_INTERVAL);
    /// ```
    pub fn flush_interval(&self) -> std::time::Duration {
        self.sink.flush_interval()
    }

    /// Writes every record queued before this call, in one transaction, and waits
    /// until it is committed.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let ledger = elelem_ledger_sqlite::SqliteLedger::open(dir.path().join("u.db")).unwrap();
    /// ledger.flush().unwrap();
    /// ```
    pub fn flush(&self) -> Result<(), LedgerError> {
        self.sink.flush()
    }

    /// Writes what is queued and stops the writer thread. Records sent after this
    /// are dropped (and counted by [`dropped`](Self::dropped)); queries answer
    /// [`LedgerError::Closed`]. Closing twice reports [`LedgerError::Closed`].
    /// Dropping the ledger closes it too.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let ledger = elelem_ledger_sqlite::SqliteLedger::open(dir.path().join("u.db")).unwrap();
    /// ledger.close().unwrap();
    /// assert!(ledger.close().is_err());
    /// ```
    pub fn close(&self) -> Result<(), LedgerError> {
        self.sink.close()
    }

    /// The stats of the records `query` covers, computed by SQLite, after writing
    /// what is queued. `Ok(None)` for a query kind this version does not know.
    ///
    /// ```
    /// use elelem_core::cost::StatsQuery;
    /// let dir = tempfile::tempdir().unwrap();
    /// let ledger = elelem_ledger_sqlite::SqliteLedger::open(dir.path().join("u.db")).unwrap();
    /// let by_model = ledger.query_stats(&StatsQuery::Model("groq:m".into())).unwrap();
    /// assert_eq!(by_model.unwrap().total_calls, 0);
    /// ```
    pub fn query_stats(&self, query: &StatsQuery) -> Result<Option<Stats>, LedgerError> {
        self.sink.query_stats(query)
    }

    /// The stored records `query` covers, in the order they were written, read
    /// back exactly as recorded. `Ok(None)` for a query kind this version does not
    /// know.
    ///
    /// ```
    /// use elelem_core::cost::StatsQuery;
    /// let dir = tempfile::tempdir().unwrap();
    /// let ledger = elelem_ledger_sqlite::SqliteLedger::open(dir.path().join("u.db")).unwrap();
    /// assert!(ledger.records(&StatsQuery::Tag("t".into())).unwrap().unwrap().is_empty());
    /// ```
    pub fn records(&self, query: &StatsQuery) -> Result<Option<Vec<UsageRecord>>, LedgerError> {
        self.sink.records(query)
    }

    /// Records not stored: received after the ledger was closed, or while
    /// [`LedgerOptions::max_queued`] records were waiting to be written.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let ledger = elelem_ledger_sqlite::SqliteLedger::open(dir.path().join("u.db")).unwrap();
    /// assert_eq!(ledger.dropped(), 0);
    /// ```
    pub fn dropped(&self) -> u64 {
        self.sink.dropped()
    }
}

impl CostSink for SqliteLedger {
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
