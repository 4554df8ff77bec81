//! The writer thread: owns the connection, batches records and answers queries.
//!
//! The same batching as `elelem-ledger-sqlite`'s writer, over a PostgreSQL client
//! (which runs its own small runtime, so it lives on this plain thread, never on
//! the caller's async runtime).

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::time::{Duration, Instant};

use elelem_core::cost::{Stats, StatsQuery, UsageRecord};
use postgres::Client;

use crate::{rows, schema, LedgerError};

/// What the ledger asks of its writer thread.
pub(crate) enum Command {
    /// Queue one record for the next batch.
    Record(Box<UsageRecord>),
    /// Write the queued records now.
    Flush(Sender<Result<(), LedgerError>>),
    /// Write the queued records, then answer a stats query.
    Stats(StatsQuery, Sender<Result<Option<Stats>, LedgerError>>),
    /// Write the queued records, then read records back.
    Records(
        StatsQuery,
        Sender<Result<Option<Vec<UsageRecord>>, LedgerError>>,
    ),
    /// Write the queued records and stop.
    Close(Sender<Result<(), LedgerError>>),
}

/// Records received but not yet written, and when they must be.
struct Pending {
    records: Vec<UsageRecord>,
    next_flush: Instant,
    interval: Duration,
    /// How to connect again when the server closed the connection.
    params: String,
}

impl Pending {
    /// Whether the queued records are due to be written.
    fn due(&self) -> bool {
        !self.records.is_empty() && Instant::now() >= self.next_flush
    }

    /// Writes the queued records in one transaction. On failure they stay queued,
    /// to be written one interval later (nothing is half written: the transaction
    /// rolls back).
    fn write(&mut self, conn: &mut Client) -> Result<(), LedgerError> {
        let written = self
            .reconnect_if_closed(conn)
            .and_then(|()| self.try_write(conn));
        self.next_flush = Instant::now() + self.interval;
        written
    }

    /// After the server restarted or dropped the connection, connects again (or
    /// fails, to try again at the next flush).
    fn reconnect_if_closed(&self, conn: &mut Client) -> Result<(), LedgerError> {
        if conn.is_closed() {
            *conn = schema::connect(&self.params)?;
        }
        Ok(())
    }

    fn try_write(&mut self, conn: &mut Client) -> Result<(), LedgerError> {
        if self.records.is_empty() {
            return Ok(());
        }
        let mut tx = conn.transaction()?;
        rows::insert(&mut tx, &self.records)?;
        tx.commit()?;
        self.records.clear();
        Ok(())
    }

    /// Writes at the interval's end; failures are logged and retried next time.
    fn write_on_schedule(&mut self, conn: &mut Client) {
        if let Err(error) = self.write(conn) {
            tracing::warn!(
                %error,
                queued = self.records.len(),
                "PostgreSQL ledger: writing a batch failed; retrying at the next flush"
            );
        }
    }

    /// Carries out one command; false when the writer must stop.
    fn handle(&mut self, conn: &mut Client, command: Command) -> bool {
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
                let _ = ack.send(self.write(conn));
            }
            Command::Stats(query, ack) => {
                let answer = self.write(conn).and_then(|()| rows::stats(conn, &query));
                let _ = ack.send(answer);
            }
            Command::Records(query, ack) => {
                let answer = self.write(conn).and_then(|()| rows::records(conn, &query));
                let _ = ack.send(answer);
            }
            Command::Close(ack) => {
                let _ = ack.send(self.write(conn));
                return false;
            }
        }
        true
    }
}

/// Runs until closed or every sender is gone, writing the queued records at most
/// `interval` after the first of them arrived (or, after a failed write, one
/// interval after it), and whenever asked.
pub(crate) fn run(
    mut conn: Client,
    params: String,
    commands: Receiver<Command>,
    interval: Duration,
) {
    let mut pending = Pending {
        records: Vec::new(),
        next_flush: Instant::now() + interval,
        interval,
        params,
    };
    loop {
        // Take what is already waiting first, so that one transaction writes it
        // all and a slow or failing write never leaves commands behind it; but
        // under a flood of records, still write on schedule.
        while !pending.due() {
            match commands.try_recv() {
                Ok(command) => {
                    if !pending.handle(&mut conn, command) {
                        return;
                    }
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    pending.write_on_schedule(&mut conn);
                    return;
                }
            }
        }
        if pending.due() {
            pending.write_on_schedule(&mut conn);
            continue;
        }
        let received = if pending.records.is_empty() {
            // Nothing to write: sleep until something comes.
            commands.recv().map_err(|_| RecvTimeoutError::Disconnected)
        } else {
            commands.recv_timeout(pending.next_flush.saturating_duration_since(Instant::now()))
        };
        match received {
            Ok(command) => {
                if !pending.handle(&mut conn, command) {
                    return;
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                pending.write_on_schedule(&mut conn);
                return;
            }
        }
    }
}
