//! The ledger's [`BatchBackend`]: batches written in one SQLite transaction, and
//! queries answered by SQL.

use elelem_core::cost::{BatchBackend, RecentQuery, Stats, StatsQuery, UsageRecord};
use rusqlite::{Connection, TransactionBehavior};

use crate::{rows, LedgerError};

/// The writer thread's connection.
pub(crate) struct SqliteBackend(pub(crate) Connection);

impl BatchBackend for SqliteBackend {
    type Error = LedgerError;
    const NAME: &'static str = "elelem-ledger-sqlite";

    /// Writes the batch in one transaction (nothing is half written: it rolls back).
    fn write(&mut self, records: &[UsageRecord]) -> Result<(), LedgerError> {
        let tx = self
            .0
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        rows::insert(&tx, records)?;
        tx.commit()?;
        Ok(())
    }

    fn stats(&mut self, query: &StatsQuery) -> Result<Option<Stats>, LedgerError> {
        Ok(rows::stats(&self.0, query)?)
    }

    fn records(&mut self, query: &StatsQuery) -> Result<Option<Vec<UsageRecord>>, LedgerError> {
        rows::records(&self.0, query)
    }

    fn recent(&mut self, query: &RecentQuery) -> Result<Vec<UsageRecord>, LedgerError> {
        rows::recent(&self.0, query)
    }
}
