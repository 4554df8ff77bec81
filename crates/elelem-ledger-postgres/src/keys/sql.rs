//! The gateway keys' table and the statements that add, revoke and read it.

use postgres::error::SqlState;
use postgres::{Client, Row};

use super::{GatewayKeyRecord, KeyStoreError, ListedKey};
use crate::LedgerError;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS elelem_gateway_keys (
    name                 TEXT        PRIMARY KEY,
    sha256               TEXT        NOT NULL UNIQUE,
    tags                 TEXT[]      NOT NULL DEFAULT '{}',
    models               TEXT[]      NOT NULL DEFAULT '{}',
    budget_usd           TEXT,
    budget_window        TEXT,
    requests_per_minute  BIGINT,
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at           TIMESTAMPTZ
);
"#;

/// Serializes schema creation between processes (its own advisory lock key).
const SCHEMA_LOCK: i64 = 0x0065_6c65_6c65_6b79;

const COLUMNS: &str = "name, sha256, tags, models, budget_usd, budget_window, requests_per_minute";

/// Connects and creates the table if needed.
pub(crate) fn connect(params: &str) -> Result<Client, LedgerError> {
    crate::tables::connect_creating(params, SCHEMA_LOCK, SCHEMA)
}

/// Inserts a key; a name or hash already there is refused.
pub(crate) fn add(client: &mut Client, key: &GatewayKeyRecord) -> Result<(), KeyStoreError> {
    let rpm = key.requests_per_minute.map(i64::from);
    let inserted = client.execute(
        &format!("INSERT INTO elelem_gateway_keys ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"),
        &[
            &key.name,
            &key.sha256.to_ascii_lowercase(),
            &key.tags,
            &key.models,
            &key.budget_usd,
            &key.budget_window,
            &rpm,
        ],
    );
    match inserted {
        Ok(_) => Ok(()),
        Err(error) if error.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
            let on_hash = error
                .as_db_error()
                .and_then(|db| db.constraint())
                .is_some_and(|c| c.contains("sha256"));
            Err(if on_hash {
                KeyStoreError::HashTaken
            } else {
                KeyStoreError::NameTaken(key.name.clone())
            })
        }
        Err(error) => Err(LedgerError::Postgres(error).into()),
    }
}

/// Revokes the active key `name`; false when there is none.
pub(crate) fn revoke(client: &mut Client, name: &str) -> Result<bool, KeyStoreError> {
    let changed = client
        .execute(
            "UPDATE elelem_gateway_keys SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL",
            &[&name],
        )
        .map_err(LedgerError::Postgres)?;
    Ok(changed > 0)
}

/// The keys not revoked, by name.
pub(crate) fn active(client: &mut Client) -> Result<Vec<GatewayKeyRecord>, KeyStoreError> {
    let rows = client
        .query(
            &format!(
                "SELECT {COLUMNS} FROM elelem_gateway_keys WHERE revoked_at IS NULL ORDER BY name"
            ),
            &[],
        )
        .map_err(LedgerError::Postgres)?;
    rows.iter().map(record).collect()
}

/// Every key, revoked ones included, by name.
pub(crate) fn list(client: &mut Client) -> Result<Vec<ListedKey>, KeyStoreError> {
    let rows = client
        .query(
            &format!(
                "SELECT {COLUMNS}, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), \
                 to_char(revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') \
                 FROM elelem_gateway_keys ORDER BY name"
            ),
            &[],
        )
        .map_err(LedgerError::Postgres)?;
    rows.iter()
        .map(|row| {
            Ok(ListedKey {
                key: record(row)?,
                created_at: row.try_get(7).map_err(LedgerError::Postgres)?,
                revoked_at: row.try_get(8).map_err(LedgerError::Postgres)?,
            })
        })
        .collect()
}

fn record(row: &Row) -> Result<GatewayKeyRecord, KeyStoreError> {
    let get_err = LedgerError::Postgres;
    let name: String = row.try_get(0).map_err(get_err)?;
    let rpm: Option<i64> = row.try_get(6).map_err(get_err)?;
    let requests_per_minute =
        rpm.map(u32::try_from)
            .transpose()
            .map_err(|_| KeyStoreError::BadRow {
                name: name.clone(),
                reason: format!("requests_per_minute {rpm:?} is out of range"),
            })?;
    Ok(GatewayKeyRecord {
        sha256: row.try_get(1).map_err(get_err)?,
        tags: row.try_get(2).map_err(get_err)?,
        models: row.try_get(3).map_err(get_err)?,
        budget_usd: row.try_get(4).map_err(get_err)?,
        budget_window: row.try_get(5).map_err(get_err)?,
        requests_per_minute,
        name,
    })
}
