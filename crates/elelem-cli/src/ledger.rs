//! The durable ledger named in the configuration or on the command line: a SQLite
//! file or a PostgreSQL database.

use std::path::Path;
use std::sync::Arc;

use elelem::cost::{CostSink, StatsQuery, UsageRecord};
use elelem_ledger_postgres::PostgresLedger;
use elelem_ledger_sqlite::SqliteLedger;

/// Why a ledger could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LedgerOpenError {
    /// The SQLite file does not exist (reading never creates one).
    #[error("no ledger at {0}; give the SQLite file the gateway writes (`[ledger] sqlite = ...`) or a postgres:// URL")]
    Missing(String),
    /// The database refused.
    #[error("ledger {target}: {reason}")]
    Database {
        /// The file or connection (without its password).
        target: String,
        /// The database's error.
        reason: String,
    },
}

/// An open ledger of either kind.
#[derive(Debug, Clone)]
pub enum Ledger {
    /// A SQLite file.
    Sqlite(Arc<SqliteLedger>),
    /// A PostgreSQL database.
    Postgres(Arc<PostgresLedger>),
}

impl Ledger {
    /// Opens `target`: a `postgres://` / `postgresql://` URL or a `host=...`
    /// connection string, else a SQLite path. With `must_exist`, a missing SQLite
    /// file is an error rather than created.
    ///
    /// ```
    /// let error = elelem_cli::ledger::Ledger::open("/nonexistent/usage.db", true).unwrap_err();
    /// assert!(error.to_string().contains("no ledger at"));
    /// ```
    pub fn open(target: &str, must_exist: bool) -> Result<Ledger, LedgerOpenError> {
        let database = |reason: String| LedgerOpenError::Database {
            target: redact(target),
            reason,
        };
        if is_postgres(target) {
            let ledger = PostgresLedger::connect(target).map_err(|e| database(e.to_string()))?;
            return Ok(Ledger::Postgres(Arc::new(ledger)));
        }
        if must_exist && !Path::new(target).is_file() {
            return Err(LedgerOpenError::Missing(target.to_owned()));
        }
        let ledger = SqliteLedger::open(target).map_err(|e| database(e.to_string()))?;
        Ok(Ledger::Sqlite(Arc::new(ledger)))
    }

    /// The ledger as a cost sink.
    pub fn sink(&self) -> Arc<dyn CostSink> {
        match self {
            Ledger::Sqlite(l) => l.clone(),
            Ledger::Postgres(l) => l.clone(),
        }
    }

    /// Every record the query selects.
    pub fn records(&self, query: &StatsQuery) -> Result<Vec<UsageRecord>, String> {
        let records = match self {
            Ledger::Sqlite(l) => l.records(query).map_err(|e| e.to_string())?,
            Ledger::Postgres(l) => l.records(query).map_err(|e| e.to_string())?,
        };
        Ok(records.unwrap_or_default())
    }

    /// Writes what is queued and stops the writer.
    pub fn close(&self) -> Result<(), String> {
        match self {
            Ledger::Sqlite(l) => l.close().map_err(|e| e.to_string()),
            Ledger::Postgres(l) => l.close().map_err(|e| e.to_string()),
        }
    }
}

/// Whether a ledger target names PostgreSQL.
fn is_postgres(target: &str) -> bool {
    target.starts_with("postgres://")
        || target.starts_with("postgresql://")
        || target.contains("host=")
        || target.contains("dbname=")
}

/// A connection string without its password, for messages.
pub(crate) fn redact(target: &str) -> String {
    if !is_postgres(target) {
        return target.to_owned();
    }
    if let Some((scheme, rest)) = target.split_once("://") {
        if let Some((userinfo, host)) = rest.split_once('@') {
            let user = userinfo.split(':').next().unwrap_or_default();
            return format!("{scheme}://{user}:***@{host}");
        }
        return target.to_owned();
    }
    target
        .split_whitespace()
        .map(|part| {
            if part.starts_with("password=") {
                "password=***"
            } else {
                part
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact("postgres://bob:hunter2@db:5432/usage"),
            "postgres://bob:***@db:5432/usage"
        );
        assert_eq!(
            redact("host=db password=hunter2 dbname=u"),
            "host=db password=*** dbname=u"
        );
        assert_eq!(redact("usage.db"), "usage.db");
    }
}
