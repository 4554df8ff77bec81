//! The ledger's tables, and opening a connection to them.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::LedgerError;

/// The schema version this crate writes and reads (`PRAGMA user_version`).
pub(crate) const SCHEMA_VERSION: i64 = 6;

/// One row per attempt in `usage`; the call's tags, each once, in `usage_tags`.
///
/// Money is exact: each amount is `*_nano_usd` (whole nano-dollars, rounded down)
/// plus `*_femto_rem` (the remaining femto-dollars, 0 to 999 999), so
/// `amount in femto-USD = nano_usd * 1_000_000 + femto_rem`. Both are integers, so
/// sums are exact too. Token counts are NULL where the provider did not report them.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS usage (
    id                        INTEGER PRIMARY KEY,
    time_unix_ns              INTEGER NOT NULL,
    call_id                   INTEGER NOT NULL,
    attempt                   INTEGER NOT NULL,
    model                     TEXT    NOT NULL,
    provider                  TEXT    NOT NULL,
    tags                      TEXT    NOT NULL,
    input_tokens              INTEGER,
    cached_input_tokens       INTEGER,
    output_tokens             INTEGER,
    reasoning_tokens          INTEGER,
    input_cost_nano_usd       INTEGER NOT NULL,
    input_cost_femto_rem      INTEGER NOT NULL,
    output_cost_nano_usd      INTEGER NOT NULL,
    output_cost_femto_rem     INTEGER NOT NULL,
    reasoning_cost_nano_usd   INTEGER NOT NULL,
    reasoning_cost_femto_rem  INTEGER NOT NULL,
    price_known               INTEGER NOT NULL,
    duration_ns               INTEGER NOT NULL,
    outcome                   TEXT    NOT NULL CHECK (outcome IN ('success', 'retried', 'failed')),
    retry_cause               TEXT,
    temperature_reduced       INTEGER NOT NULL,
    response_format_removed   INTEGER NOT NULL,
    fallback_model_used       INTEGER NOT NULL,
    cache_hit                 INTEGER NOT NULL,
    saved_cost_nano_usd       INTEGER NOT NULL,
    saved_cost_femto_rem      INTEGER NOT NULL,
    stream_interrupted        INTEGER NOT NULL,
    next_candidate            INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS usage_by_time ON usage (time_unix_ns);
CREATE INDEX IF NOT EXISTS usage_by_model ON usage (model);
CREATE INDEX IF NOT EXISTS usage_by_provider ON usage (provider);
CREATE TABLE IF NOT EXISTS usage_tags (
    tag        TEXT    NOT NULL,
    record_id  INTEGER NOT NULL REFERENCES usage (id) ON DELETE CASCADE,
    PRIMARY KEY (tag, record_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS usage_tags_by_record ON usage_tags (record_id);
";

/// Opens (creating if needed) the ledger at `path`: WAL mode, the schema, and the
/// given synchronous level and busy timeout.
pub(crate) fn open(
    path: &Path,
    synchronous_full: bool,
    busy_timeout: Duration,
) -> Result<Connection, LedgerError> {
    let open_err = |source| LedgerError::Open {
        path: path.to_owned(),
        source,
    };
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let mut conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
    conn.busy_timeout(busy_timeout).map_err(open_err)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(open_err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(path = %path.display(), %mode, "SQLite ledger is not in WAL mode");
    }
    conn.pragma_update(
        None,
        "synchronous",
        if synchronous_full { "FULL" } else { "NORMAL" },
    )
    .map_err(open_err)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(open_err)?;
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(open_err)?;
    let found: i64 = tx
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(open_err)?;
    if found > SCHEMA_VERSION {
        return Err(LedgerError::SchemaTooNew {
            path: path.to_owned(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    tx.execute_batch(SCHEMA).map_err(open_err)?;
    if found == 1 {
        // Version 2 added `next_candidate` (virtual models' failovers).
        tx.execute_batch("ALTER TABLE usage ADD COLUMN next_candidate INTEGER NOT NULL DEFAULT 0")
            .map_err(open_err)?;
    }
    if found < 3 {
        // Version 3 added `record_key` (idempotent writes: a batch written again
        // is stored once).
        tx.execute_batch(
            "ALTER TABLE usage ADD COLUMN record_key TEXT;
             CREATE UNIQUE INDEX IF NOT EXISTS usage_by_record_key ON usage (record_key);",
        )
        .map_err(open_err)?;
    }
    if found < 4 {
        // Version 4 added `cost_unknown` (attempts the provider may have billed
        // though their answer is unknown) and `json_repaired`; older rows read
        // as known and not repaired.
        tx.execute_batch(
            "ALTER TABLE usage ADD COLUMN cost_unknown INTEGER NOT NULL DEFAULT 0;
             ALTER TABLE usage ADD COLUMN json_repaired INTEGER NOT NULL DEFAULT 0;",
        )
        .map_err(open_err)?;
    }
    if found < 5 {
        // Version 5 added `json_fixed` (answers the JSON fixer model repaired);
        // older rows read as not fixed.
        tx.execute_batch("ALTER TABLE usage ADD COLUMN json_fixed INTEGER NOT NULL DEFAULT 0")
            .map_err(open_err)?;
    }
    if found < 6 {
        // Version 6 added `time_to_first_token_ns` (streams' time to their first
        // chunk, for routing); older rows have none.
        tx.execute_batch("ALTER TABLE usage ADD COLUMN time_to_first_token_ns INTEGER")
            .map_err(open_err)?;
    }
    if found < SCHEMA_VERSION {
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(open_err)?;
    }
    tx.commit().map_err(open_err)?;
    Ok(conn)
}
