//! The ledger's tables, and connecting to them.

use postgres::{Client, NoTls};

use crate::LedgerError;

/// The schema version this crate writes and reads.
pub(crate) const SCHEMA_VERSION: i64 = 6;

/// The same tables and columns as `elelem-ledger-sqlite`, in PostgreSQL types.
///
/// Money is exact: each amount is `*_nano_usd` (whole nano-dollars, rounded down)
/// plus `*_femto_rem` (the remaining femto-dollars, 0 to 999 999), so
/// `amount in femto-USD = nano_usd * 1000000 + femto_rem`; PostgreSQL sums them as
/// `numeric`, which never overflows.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS usage (
    id                        BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time_unix_ns              BIGINT  NOT NULL,
    call_id                   BIGINT  NOT NULL,
    attempt                   BIGINT  NOT NULL,
    model                     TEXT    NOT NULL,
    provider                  TEXT    NOT NULL,
    tags                      TEXT    NOT NULL,
    input_tokens              BIGINT,
    cached_input_tokens       BIGINT,
    output_tokens             BIGINT,
    reasoning_tokens          BIGINT,
    input_cost_nano_usd       BIGINT  NOT NULL,
    input_cost_femto_rem      BIGINT  NOT NULL,
    output_cost_nano_usd      BIGINT  NOT NULL,
    output_cost_femto_rem     BIGINT  NOT NULL,
    reasoning_cost_nano_usd   BIGINT  NOT NULL,
    reasoning_cost_femto_rem  BIGINT  NOT NULL,
    price_known               BOOLEAN NOT NULL,
    duration_ns               BIGINT  NOT NULL,
    outcome                   TEXT    NOT NULL CHECK (outcome IN ('success', 'retried', 'failed')),
    retry_cause               TEXT,
    temperature_reduced       BOOLEAN NOT NULL,
    response_format_removed   BOOLEAN NOT NULL,
    fallback_model_used       BOOLEAN NOT NULL,
    cache_hit                 BOOLEAN NOT NULL,
    saved_cost_nano_usd       BIGINT  NOT NULL,
    saved_cost_femto_rem      BIGINT  NOT NULL,
    stream_interrupted        BOOLEAN NOT NULL
);
-- Version 2: virtual models' failovers.
ALTER TABLE usage ADD COLUMN IF NOT EXISTS next_candidate BOOLEAN NOT NULL DEFAULT FALSE;
-- Version 3: idempotent writes (a batch written again is stored once).
ALTER TABLE usage ADD COLUMN IF NOT EXISTS record_key TEXT;
CREATE UNIQUE INDEX IF NOT EXISTS usage_by_record_key ON usage (record_key);
-- Version 4: attempts of unknown cost, and locally repaired JSON answers.
ALTER TABLE usage ADD COLUMN IF NOT EXISTS cost_unknown BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE usage ADD COLUMN IF NOT EXISTS json_repaired BOOLEAN NOT NULL DEFAULT FALSE;
-- Version 5: answers the JSON fixer model repaired.
ALTER TABLE usage ADD COLUMN IF NOT EXISTS json_fixed BOOLEAN NOT NULL DEFAULT FALSE;
-- Version 6: streams' time to their first chunk (routing), and the newest rows
-- of a model found without sorting the table.
ALTER TABLE usage ADD COLUMN IF NOT EXISTS time_to_first_token_ns BIGINT;
CREATE INDEX IF NOT EXISTS usage_by_model_id ON usage (model, id);
CREATE INDEX IF NOT EXISTS usage_by_time ON usage (time_unix_ns);
CREATE INDEX IF NOT EXISTS usage_by_model ON usage (model);
CREATE INDEX IF NOT EXISTS usage_by_provider ON usage (provider);
CREATE TABLE IF NOT EXISTS usage_tags (
    tag        TEXT   NOT NULL,
    record_id  BIGINT NOT NULL REFERENCES usage (id) ON DELETE CASCADE,
    PRIMARY KEY (tag, record_id)
);
CREATE INDEX IF NOT EXISTS usage_tags_by_record ON usage_tags (record_id);
CREATE TABLE IF NOT EXISTS elelem_ledger_schema (version BIGINT NOT NULL);
";

/// An arbitrary key serializing schema creation between processes.
const SCHEMA_LOCK: i64 = 0x656c_656c_656d;

/// Connects and creates (or checks) the schema.
pub(crate) fn connect(params: &str) -> Result<Client, LedgerError> {
    let mut client = Client::connect(params, NoTls).map_err(LedgerError::Connect)?;
    let mut tx = client.transaction().map_err(LedgerError::Connect)?;
    // Many processes may start at once: one creates the tables, the others wait.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
        .map_err(LedgerError::Connect)?;
    tx.batch_execute(SCHEMA).map_err(LedgerError::Connect)?;
    let found: Option<i64> = tx
        .query_opt("SELECT MAX(version) FROM elelem_ledger_schema", &[])
        .map_err(LedgerError::Connect)?
        .and_then(|row| row.get(0));
    match found {
        Some(found) if found > SCHEMA_VERSION => {
            return Err(LedgerError::SchemaTooNew {
                found,
                supported: SCHEMA_VERSION,
            })
        }
        Some(found) if found == SCHEMA_VERSION => {}
        // New, or older and migrated by the statements above.
        _ => {
            tx.execute(
                "INSERT INTO elelem_ledger_schema (version) VALUES ($1)",
                &[&SCHEMA_VERSION],
            )
            .map_err(LedgerError::Connect)?;
        }
    }
    tx.commit().map_err(LedgerError::Connect)?;
    Ok(client)
}
