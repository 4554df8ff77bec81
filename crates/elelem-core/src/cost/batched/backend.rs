//! [`BatchBackend`]: where a [`BatchedSink`](super::BatchedSink) writes its batches.

use crate::cost::{RecentQuery, Stats, StatsQuery, UsageRecord};

use super::BatchError;

/// Durable storage for usage records, written in batches by a
/// [`BatchedSink`](super::BatchedSink) from its writer thread (the only thread
/// that ever touches the backend, so blocking I/O is fine here).
///
/// Only [`write`](Self::write) is required; a backend that can answer queries
/// overrides [`stats`](Self::stats) and [`records`](Self::records), and one that
/// must reconnect overrides [`prepare`](Self::prepare). See the
/// [module documentation](super) for a complete example.
///
/// ```
/// use elelem_core::cost::{BatchBackend, BatchError, UsageRecord};
///
/// /// Counts what it is given.
/// struct Count(usize);
///
/// impl BatchBackend for Count {
///     type Error = BatchError;
///     fn write(&mut self, records: &[UsageRecord]) -> Result<(), BatchError> {
///         self.0 += records.len();
///         Ok(())
///     }
/// }
/// ```
pub trait BatchBackend: 'static {
    /// The backend's error; the sink's own failures ([`BatchError`]) convert into
    /// it, so the sink's methods return this one type.
    type Error: std::error::Error + From<BatchError> + Send + 'static;

    /// The writer thread's name, also used in log lines.
    const NAME: &'static str = "elelem-batched-sink";

    /// Writes a batch (never empty), all or nothing: on `Err` nothing of it may be
    /// stored, for the same records are given again at the next flush.
    fn write(&mut self, records: &[UsageRecord]) -> Result<(), Self::Error>;

    /// Called before every write and every query (reconnect here after the
    /// server dropped the connection). Does nothing by default.
    fn prepare(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }

    /// The stats of the stored records `query` covers; `Ok(None)` (the default)
    /// when this backend cannot answer it.
    fn stats(&mut self, _query: &StatsQuery) -> Result<Option<Stats>, Self::Error> {
        Ok(None)
    }

    /// The stored records `query` covers, in the order they were written;
    /// `Ok(None)` (the default) when this backend cannot answer it.
    fn records(&mut self, _query: &StatsQuery) -> Result<Option<Vec<UsageRecord>>, Self::Error> {
        Ok(None)
    }

    /// The most recent stored records `query` asks for, oldest first (what a
    /// client seeds its routing measurements from). None by default.
    fn recent(&mut self, _query: &RecentQuery) -> Result<Vec<UsageRecord>, Self::Error> {
        Ok(Vec::new())
    }
}
