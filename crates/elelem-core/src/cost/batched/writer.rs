//! The writer thread: owns the backend, batches records and answers queries.

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::time::{Duration, Instant};

use crate::cost::{RecentQuery, Stats, StatsQuery, UsageRecord};

use super::queue::QueueBound;
use super::BatchBackend;

/// A reply channel carrying the backend's error.
pub(super) type Reply<T, E> = Sender<Result<T, E>>;

/// What the sink asks of its writer thread.
pub(super) enum Command<E> {
    /// Queue one record for the next batch.
    Record(Box<UsageRecord>),
    /// Write the queued records now.
    Flush(Reply<(), E>),
    /// Write the queued records, then answer a stats query.
    Stats(StatsQuery, Reply<Option<Stats>, E>),
    /// Write the queued records, then read records back.
    Records(StatsQuery, Reply<Option<Vec<UsageRecord>>, E>),
    /// Write the queued records, then read the most recent back.
    Recent(RecentQuery, Reply<Vec<UsageRecord>, E>),
    /// Write the queued records and stop.
    Close(Reply<(), E>),
}

/// The backend, the records received but not yet written, and when they must be.
struct Writer<'q, B> {
    backend: B,
    records: Vec<UsageRecord>,
    next_flush: Instant,
    interval: Duration,
    queue: &'q QueueBound,
}

impl<B: BatchBackend> Writer<'_, B> {
    /// Whether the queued records are due to be written.
    fn due(&self) -> bool {
        !self.records.is_empty() && Instant::now() >= self.next_flush
    }

    /// Writes the queued records as one batch. On failure they stay queued, to be
    /// written one interval later (the backend writes all or nothing).
    fn write(&mut self) -> Result<(), B::Error> {
        let written = self.try_write();
        self.next_flush = Instant::now() + self.interval;
        written
    }

    fn try_write(&mut self) -> Result<(), B::Error> {
        self.backend.prepare()?;
        if self.records.is_empty() {
            return Ok(());
        }
        self.backend.write(&self.records)?;
        self.queue.release(self.records.len());
        self.records.clear();
        Ok(())
    }

    /// Writes at the interval's end; failures are logged and retried next time.
    fn write_on_schedule(&mut self) {
        if let Err(error) = self.write() {
            tracing::warn!(
                sink = B::NAME,
                %error,
                queued = self.records.len(),
                "writing a batch of usage records failed; retrying at the next flush"
            );
        }
    }

    /// Carries out one command; false when the writer must stop.
    fn handle(&mut self, command: Command<B::Error>) -> bool {
        match command {
            Command::Record(record) => {
                if self.records.is_empty() {
                    // The first record of a batch is written one interval later
                    // at the latest, and so are all that join it.
                    self.next_flush = Instant::now() + self.interval;
                }
                self.records.push(*record);
            }
            Command::Flush(ack) => {
                let _ = ack.send(self.write());
            }
            Command::Stats(query, ack) => {
                let answer = self.write().and_then(|()| self.backend.stats(&query));
                let _ = ack.send(answer);
            }
            Command::Records(query, ack) => {
                let answer = self.write().and_then(|()| self.backend.records(&query));
                let _ = ack.send(answer);
            }
            Command::Recent(query, ack) => {
                let answer = self.write().and_then(|()| self.backend.recent(&query));
                let _ = ack.send(answer);
            }
            Command::Close(ack) => {
                let _ = ack.send(self.write());
                return false;
            }
        }
        true
    }
}

/// Runs until closed or every sender is gone, writing the queued records at most
/// `interval` after the first of them arrived (or, after a failed write, one
/// interval after it), and whenever asked.
pub(super) fn run<B: BatchBackend>(
    backend: B,
    commands: Receiver<Command<B::Error>>,
    interval: Duration,
    queue: &QueueBound,
) {
    let mut writer = Writer {
        backend,
        records: Vec::new(),
        next_flush: Instant::now() + interval,
        interval,
        queue,
    };
    loop {
        // Take what is already waiting first, so that one batch writes it all and
        // a slow or failing write never leaves commands behind it; but under a
        // flood of records, still write on schedule.
        while !writer.due() {
            match commands.try_recv() {
                Ok(command) => {
                    if !writer.handle(command) {
                        return;
                    }
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    writer.write_on_schedule();
                    return;
                }
            }
        }
        if writer.due() {
            writer.write_on_schedule();
            continue;
        }
        let received = if writer.records.is_empty() {
            // Nothing to write: sleep until something comes.
            commands.recv().map_err(|_| RecvTimeoutError::Disconnected)
        } else {
            commands.recv_timeout(writer.next_flush.saturating_duration_since(Instant::now()))
        };
        match received {
            Ok(command) => {
                if !writer.handle(command) {
                    return;
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                writer.write_on_schedule();
                return;
            }
        }
    }
}
