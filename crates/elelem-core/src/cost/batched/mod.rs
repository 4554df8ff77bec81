//! Durable sinks made simple: a [`BatchedSink`] queues each record (never
//! blocking the call), and a writer thread writes the queue in batches to a
//! [`BatchBackend`]: a database, an object store, an analytics service.
//!
//! The batching is the one Elelem's ledgers (`elelem-ledger-sqlite`,
//! `elelem-ledger-postgres`) use: a batch is written at most one flush interval
//! after its first record ([`BatchOptions::flush_interval`]), and on
//! [`flush`](BatchedSink::flush), [`close`](BatchedSink::close) and drop; a failed
//! batch stays queued and is written again at the next flush; at most
//! [`BatchOptions::max_queued`] records wait, beyond which new ones are dropped
//! and counted ([`dropped`](BatchedSink::dropped)). Queries (stats, records) are
//! answered by the backend after the queue is written.
//!
//! A backend of your own (here in memory; a ClickHouse or S3 one would send the
//! batch in [`write`](BatchBackend::write)):
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use std::time::{Duration, SystemTime};
//! use elelem_core::cost::{
//!     AttemptOutcome, BatchBackend, BatchError, BatchOptions, BatchedSink, CostSink,
//!     InMemoryStatsSink, Stats, StatsQuery, UsageRecord,
//! };
//!
//! /// Keeps every batch in a shared vector.
//! struct Memory(Arc<Mutex<Vec<UsageRecord>>>);
//!
//! impl BatchBackend for Memory {
//!     type Error = BatchError; // a real backend has its own, with `From<BatchError>`
//!     const NAME: &'static str = "memory-ledger";
//!
//!     fn write(&mut self, records: &[UsageRecord]) -> Result<(), BatchError> {
//!         let mut stored = self.0.lock().map_err(|_| BatchError::WriterThread("poisoned".into()))?;
//!         stored.extend_from_slice(records);
//!         Ok(())
//!     }
//!
//!     fn stats(&mut self, query: &StatsQuery) -> Result<Option<Stats>, BatchError> {
//!         let summed = InMemoryStatsSink::new();
//!         let stored = self.0.lock().map_err(|_| BatchError::WriterThread("poisoned".into()))?;
//!         stored.iter().filter(|r| query.matches(r)).for_each(|r| summed.record(r));
//!         Ok(summed.stats(&StatsQuery::All))
//!     }
//! }
//!
//! let stored = Arc::new(Mutex::new(Vec::new()));
//! let options = BatchOptions::default().flush_interval(Duration::from_secs(60));
//! let sink = BatchedSink::new(Memory(stored.clone()), options).unwrap();
//! let record = UsageRecord {
//!     timestamp: SystemTime::now(),
//!     call_id: 1,
//!     attempt: 1,
//!     model: "groq:m".into(),
//!     provider: "groq".into(),
//!     tags: Default::default(),
//!     tokens: Default::default(),
//!     cost: Default::default(),
//!     price_known: true,
//!     duration: Duration::ZERO,
//!     outcome: AttemptOutcome::Success,
//!     adjustments: Default::default(),
//!     cache_hit: false,
//!     saved_cost: Default::default(),
//!     stream_interrupted: false,
//!     cost_unknown: false,
//!     time_to_first_token: None,
//! };
//! sink.record(&record); // queued, not yet written
//! assert_eq!(sink.stats(&StatsQuery::All).unwrap().total_calls, 1); // writes first
//! assert_eq!(stored.lock().unwrap().len(), 1);
//! sink.close().unwrap();
//! ```

mod backend;
mod error;
mod options;
pub(crate) mod queue;
mod sink;
mod writer;

pub use backend::BatchBackend;
pub use error::BatchError;
pub use options::{BatchOptions, DEFAULT_FLUSH_INTERVAL, DEFAULT_MAX_QUEUED};
pub use sink::BatchedSink;
