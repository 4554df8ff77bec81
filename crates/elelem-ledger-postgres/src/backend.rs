//! The ledger's [`BatchBackend`]: batches written in one PostgreSQL transaction,
//! queries answered by SQL, and a new connection when the server dropped the old.
//!
//! The client runs its own small runtime, so it lives on the batched sink's plain
//! writer thread, never on the caller's async runtime.

use elelem_core::cost::{BatchBackend, RecentQuery, Stats, StatsQuery, UsageRecord};
use postgres::Client;

use crate::{rows, schema, LedgerError};

/// The writer thread's connection, and how to make it again.
pub(crate) struct PostgresBackend {
    client: Client,
    params: String,
}

impl PostgresBackend {
    /// Connects (creating the tables if needed).
    pub(crate) fn connect(params: String) -> Result<Self, LedgerError> {
        let client = schema::connect(&params)?;
        Ok(PostgresBackend { client, params })
    }
}

impl PostgresBackend {
    fn write_batch(&mut self, records: &[UsageRecord]) -> Result<(), LedgerError> {
        let mut tx = self.client.transaction()?;
        rows::insert(&mut tx, records)?;
        tx.commit()?;
        Ok(())
    }

    /// Writes each record in a savepoint of one transaction, dropping those the
    /// server refuses; fails (to be retried whole) only when the connection does.
    fn write_each(&mut self, records: &[UsageRecord]) -> Result<(), LedgerError> {
        let mut tx = self.client.transaction()?;
        let statements = rows::Inserts::prepare(&mut tx)?;
        for record in records {
            let mut one = tx.transaction()?;
            match rows::insert_one(&mut one, &statements, record) {
                Ok(()) => one.commit()?,
                Err(error) => {
                    drop(one); // rolls back to the savepoint
                    if matches!(&error, LedgerError::Postgres(e) if e.is_closed()) {
                        return Err(error);
                    }
                    tracing::error!(
                        %error,
                        call_id = record.call_id,
                        attempt = record.attempt,
                        model = %record.model,
                        "PostgreSQL refused a usage record; it is dropped so the others are written"
                    );
                }
            }
        }
        tx.commit()?;
        Ok(())
    }
}

impl BatchBackend for PostgresBackend {
    type Error = LedgerError;
    const NAME: &'static str = "elelem-ledger-postgres";

    /// After the server restarted or dropped the connection, connects again (or
    /// fails, to try again at the next flush).
    fn prepare(&mut self) -> Result<(), LedgerError> {
        if self.client.is_closed() {
            self.client = schema::connect(&self.params)?;
        }
        Ok(())
    }

    /// Writes the batch in one transaction (nothing is half written: it rolls back).
    /// Should the server refuse it while the connection lives (a record it will
    /// never take), each record is written on its own and the refused ones are
    /// dropped and logged, so one bad record never holds the others back forever.
    /// Records already stored (the batch was committed but the acknowledgement
    /// lost) are skipped by their key.
    fn write(&mut self, records: &[UsageRecord]) -> Result<(), LedgerError> {
        match self.write_batch(records) {
            Ok(()) => Ok(()),
            Err(error) if self.client.is_closed() => Err(error),
            Err(error) => {
                tracing::warn!(%error, records = records.len(), "PostgreSQL refused a batch of usage records; writing them one by one");
                self.write_each(records)
            }
        }
    }

    fn stats(&mut self, query: &StatsQuery) -> Result<Option<Stats>, LedgerError> {
        rows::stats(&mut self.client, query)
    }

    fn records(&mut self, query: &StatsQuery) -> Result<Option<Vec<UsageRecord>>, LedgerError> {
        rows::records(&mut self.client, query)
    }

    fn recent(&mut self, query: &RecentQuery) -> Result<Vec<UsageRecord>, LedgerError> {
        rows::recent(&mut self.client, query)
    }
}
