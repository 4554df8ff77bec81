//! [`BatchedSink`]: a [`CostSink`] writing batches to a [`BatchBackend`] from a
//! thread of its own.

use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::cost::{CostSink, RecentQuery, Stats, StatsQuery, UsageRecord};

use super::queue::QueueBound;
use super::writer::{self, Command, Reply};
use super::{BatchBackend, BatchError, BatchOptions};

/// A [`CostSink`] that queues each record and writes the queue to a
/// [`BatchBackend`] in one batch at most one flush interval after its first
/// record, and on [`flush`](Self::flush), [`close`](Self::close) and drop.
///
/// `record` never blocks: it only queues the record (up to
/// [`BatchOptions::max_queued`]; beyond, records are dropped and counted). A
/// failed batch stays queued and is written again at the next flush. Queries
/// first write what is queued, so they cover every record received before them.
/// The backend lives on the writer thread only.
///
/// ```
/// use elelem_core::cost::{BatchBackend, BatchError, BatchOptions, BatchedSink, CostSink, UsageRecord};
///
/// struct Discard;
/// impl BatchBackend for Discard {
///     type Error = BatchError;
///     fn write(&mut self, _records: &[UsageRecord]) -> Result<(), BatchError> {
///         Ok(())
///     }
/// }
///
/// let sink = BatchedSink::new(Discard, BatchOptions::default()).unwrap();
/// sink.flush().unwrap();
/// sink.close().unwrap();
/// assert_eq!(sink.close(), Err(BatchError::Closed));
/// ```
pub struct BatchedSink<B: BatchBackend> {
    commands: Sender<Command<B::Error>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    options: BatchOptions,
    queue: Arc<QueueBound>,
}

impl<B: BatchBackend> std::fmt::Debug for BatchedSink<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchedSink")
            .field("backend", &B::NAME)
            .field("options", &self.options)
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

impl<B: BatchBackend + Send> BatchedSink<B> {
    /// Starts the writer thread with `backend`.
    ///
    /// ```
    /// use elelem_core::cost::{BatchBackend, BatchError, BatchOptions, BatchedSink, UsageRecord};
    /// struct Discard;
    /// impl BatchBackend for Discard {
    ///     type Error = BatchError;
    ///     fn write(&mut self, _: &[UsageRecord]) -> Result<(), BatchError> { Ok(()) }
    /// }
    /// let sink = BatchedSink::new(Discard, BatchOptions::default()).unwrap();
    /// # sink.close().unwrap();
    /// ```
    pub fn new(backend: B, options: BatchOptions) -> Result<Self, B::Error> {
        BatchedSink::spawn(options, move || Ok(backend))
    }
}

impl<B: BatchBackend> BatchedSink<B> {
    /// Starts the writer thread, opens the backend with `open` from it (for a
    /// client that must not be made on the caller's thread, such as a blocking
    /// client inside an async runtime) and waits for the outcome: `open`'s error
    /// is returned here.
    ///
    /// ```
    /// use elelem_core::cost::{BatchBackend, BatchError, BatchOptions, BatchedSink, UsageRecord};
    /// struct Discard;
    /// impl BatchBackend for Discard {
    ///     type Error = BatchError;
    ///     fn write(&mut self, _: &[UsageRecord]) -> Result<(), BatchError> { Ok(()) }
    /// }
    /// let sink = BatchedSink::spawn(BatchOptions::default(), || Ok(Discard)).unwrap();
    /// # sink.close().unwrap();
    /// let failed = BatchedSink::<Discard>::spawn(BatchOptions::default(), || Err(BatchError::Closed));
    /// assert!(failed.is_err());
    /// ```
    pub fn spawn(
        options: BatchOptions,
        open: impl FnOnce() -> Result<B, B::Error> + Send + 'static,
    ) -> Result<Self, B::Error> {
        let (commands, receiver) = channel();
        let (opened, outcome) = channel();
        let queue = Arc::new(QueueBound::new(B::NAME, options.get_max_queued()));
        let writer_queue = Arc::clone(&queue);
        let interval = options.get_flush_interval();
        let thread = std::thread::Builder::new()
            .name(B::NAME.to_owned())
            .spawn(move || match open() {
                Ok(backend) => {
                    let _ = opened.send(Ok(()));
                    writer::run(backend, receiver, interval, &writer_queue);
                }
                Err(error) => {
                    let _ = opened.send(Err(error));
                }
            })
            .map_err(|e| BatchError::WriterThread(format!("cannot start {}: {e}", B::NAME)))?;
        match outcome.recv() {
            Ok(Ok(())) => Ok(BatchedSink {
                commands,
                thread: Mutex::new(Some(thread)),
                options,
                queue,
            }),
            Ok(Err(error)) => {
                let _ = thread.join();
                Err(error)
            }
            Err(_) => Err(BatchError::WriterThread(format!(
                "the thread {} stopped while opening its backend",
                B::NAME
            ))
            .into()),
        }
    }

    /// The options in force.
    ///
    /// ```
    /// use elelem_core::cost::{BatchBackend, BatchError, BatchOptions, BatchedSink, UsageRecord};
    /// # struct Discard;
    /// # impl BatchBackend for Discard {
    /// #     type Error = BatchError;
    /// #     fn write(&mut self, _: &[UsageRecord]) -> Result<(), BatchError> { Ok(()) }
    /// # }
    /// let options = BatchOptions::default().max_queued(10);
    /// let sink = BatchedSink::new(Discard, options.clone()).unwrap();
    /// assert_eq!(sink.options(), &options);
    /// ```
    pub fn options(&self) -> &BatchOptions {
        &self.options
    }

    /// The flush interval in force.
    ///
    /// ```
    /// use elelem_core::cost::{BatchBackend, BatchError, BatchOptions, BatchedSink, UsageRecord, DEFAULT_FLUSH_INTERVAL};
    /// # struct Discard;
    /// # impl BatchBackend for Discard {
    /// #     type Error = BatchError;
    /// #     fn write(&mut self, _: &[UsageRecord]) -> Result<(), BatchError> { Ok(()) }
    /// # }
    /// let sink = BatchedSink::new(Discard, BatchOptions::default()).unwrap();
    /// assert_eq!(sink.flush_interval(), DEFAULT_FLUSH_INTERVAL);
    /// ```
    pub fn flush_interval(&self) -> Duration {
        self.options.get_flush_interval()
    }

    /// Sends `command` and waits for its answer.
    fn ask<T>(
        &self,
        command: impl FnOnce(Reply<T, B::Error>) -> Command<B::Error>,
    ) -> Result<T, B::Error> {
        let (ack, answer) = channel();
        self.commands
            .send(command(ack))
            .map_err(|_| BatchError::Closed)?;
        answer.recv().map_err(|_| BatchError::Closed)?
    }

    /// Writes every record queued before this call, in one batch, and waits until
    /// it is written.
    ///
    /// ```
    /// use elelem_core::cost::{BatchBackend, BatchError, BatchOptions, BatchedSink, UsageRecord};
    /// # struct Discard;
    /// # impl BatchBackend for Discard {
    /// #     type Error = BatchError;
    /// #     fn write(&mut self, _: &[UsageRecord]) -> Result<(), BatchError> { Ok(()) }
    /// # }
    /// let sink = BatchedSink::new(Discard, BatchOptions::default()).unwrap();
    /// sink.flush().unwrap();
    /// ```
    pub fn flush(&self) -> Result<(), B::Error> {
        self.ask(Command::Flush)
    }

    /// Writes what is queued and stops the writer thread (dropping the backend).
    /// Records sent after this are dropped (and counted by
    /// [`dropped`](Self::dropped)); queries answer [`BatchError::Closed`], and so
    /// does closing again. Dropping the sink closes it too.
    ///
    /// ```
    /// use elelem_core::cost::{BatchBackend, BatchError, BatchOptions, BatchedSink, UsageRecord};
    /// # struct Discard;
    /// # impl BatchBackend for Discard {
    /// #     type Error = BatchError;
    /// #     fn write(&mut self, _: &[UsageRecord]) -> Result<(), BatchError> { Ok(()) }
    /// # }
    /// let sink = BatchedSink::new(Discard, BatchOptions::default()).unwrap();
    /// sink.close().unwrap();
    /// assert!(sink.flush().is_err());
    /// ```
    pub fn close(&self) -> Result<(), B::Error> {
        let outcome = self.ask(Command::Close);
        let handle = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            handle.join().map_err(|_| {
                BatchError::WriterThread(format!("the thread {} panicked", B::NAME))
            })?;
        }
        outcome
    }

    /// The stats of the records `query` covers, from the backend, after writing
    /// what is queued. `Ok(None)` when the backend does not answer this query.
    ///
    /// ```
    /// use elelem_core::cost::{BatchBackend, BatchError, BatchOptions, BatchedSink, StatsQuery, UsageRecord};
    /// # struct Discard;
    /// # impl BatchBackend for Discard {
    /// #     type Error = BatchError;
    /// #     fn write(&mut self, _: &[UsageRecord]) -> Result<(), BatchError> { Ok(()) }
    /// # }
    /// let sink = BatchedSink::new(Discard, BatchOptions::default()).unwrap();
    /// assert_eq!(sink.query_stats(&StatsQuery::All).unwrap(), None);
    /// ```
    pub fn query_stats(&self, query: &StatsQuery) -> Result<Option<Stats>, B::Error> {
        self.ask(|ack| Command::Stats(query.clone(), ack))
    }

    /// The stored records `query` covers, from the backend, after writing what is
    /// queued. `Ok(None)` when the backend does not answer this query.
    ///
    /// ```
    /// use elelem_core::cost::{BatchBackend, BatchError, BatchOptions, BatchedSink, StatsQuery, UsageRecord};
    /// # struct Discard;
    /// # impl BatchBackend for Discard {
    /// #     type Error = BatchError;
    /// #     fn write(&mut self, _: &[UsageRecord]) -> Result<(), BatchError> { Ok(()) }
    /// # }
    /// let sink = BatchedSink::new(Discard, BatchOptions::default()).unwrap();
    /// assert_eq!(sink.records(&StatsQuery::All).unwrap(), None);
    /// ```
    pub fn records(&self, query: &StatsQuery) -> Result<Option<Vec<UsageRecord>>, B::Error> {
        self.ask(|ack| Command::Records(query.clone(), ack))
    }

    /// The most recent stored records `query` asks for, from the backend, after
    /// writing what is queued (empty when the backend keeps none).
    ///
    /// ```
    /// use elelem_core::cost::{BatchBackend, BatchError, BatchOptions, BatchedSink, RecentQuery, UsageRecord};
    /// # struct Discard;
    /// # impl BatchBackend for Discard {
    /// #     type Error = BatchError;
    /// #     fn write(&mut self, _: &[UsageRecord]) -> Result<(), BatchError> { Ok(()) }
    /// # }
    /// let sink = BatchedSink::new(Discard, BatchOptions::default()).unwrap();
    /// assert!(sink.recent(&RecentQuery::for_routing()).unwrap().is_empty());
    /// ```
    pub fn recent(&self, query: &RecentQuery) -> Result<Vec<UsageRecord>, B::Error> {
        self.ask(|ack| Command::Recent(query.clone(), ack))
    }

    /// Records not stored: received after the sink was closed, or while the
    /// queue was full ([`BatchOptions::max_queued`]).
    ///
    /// ```
    /// use elelem_core::cost::{BatchBackend, BatchError, BatchOptions, BatchedSink, UsageRecord};
    /// # struct Discard;
    /// # impl BatchBackend for Discard {
    /// #     type Error = BatchError;
    /// #     fn write(&mut self, _: &[UsageRecord]) -> Result<(), BatchError> { Ok(()) }
    /// # }
    /// let sink = BatchedSink::new(Discard, BatchOptions::default()).unwrap();
    /// assert_eq!(sink.dropped(), 0);
    /// ```
    pub fn dropped(&self) -> u64 {
        self.queue.dropped()
    }
}

impl<B: BatchBackend> CostSink for BatchedSink<B> {
    fn record(&self, record: &UsageRecord) {
        if !self.queue.admit() {
            return;
        }
        if self
            .commands
            .send(Command::Record(Box::new(record.clone())))
            .is_err()
        {
            self.queue.release(1);
            self.queue.count_dropped();
        }
    }

    fn stats(&self, query: &StatsQuery) -> Option<Stats> {
        match self.query_stats(query) {
            Ok(stats) => stats,
            Err(error) => {
                tracing::warn!(sink = B::NAME, %error, ?query, "stats query failed");
                None
            }
        }
    }

    fn recent_records(&self, query: &RecentQuery) -> Vec<UsageRecord> {
        self.recent(query).unwrap_or_else(|error| {
            tracing::warn!(sink = B::NAME, %error, "reading recent records failed");
            Vec::new()
        })
    }
}

impl<B: BatchBackend> Drop for BatchedSink<B> {
    fn drop(&mut self) {
        let running = self
            .thread
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some();
        if running {
            if let Err(error) = self.close() {
                tracing::warn!(sink = B::NAME, %error, "closing the batched sink");
            }
        }
    }
}
