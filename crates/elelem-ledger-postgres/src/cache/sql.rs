//! The response cache's table, and the statements that read, write, evict and
//! lock its entries.

use std::time::Duration;

use postgres::Client;

use crate::LedgerError;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS elelem_response_cache (
    key         TEXT        PRIMARY KEY,
    body        BYTEA       NOT NULL,
    size_bytes  BIGINT      NOT NULL,
    stored_at   TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS elelem_response_cache_by_age ON elelem_response_cache (stored_at);
"#;

/// Serializes schema creation between processes (another key than the ledger's
/// and the budget store's).
const SCHEMA_LOCK: i64 = 0x0065_6c65_6c65_6d63;

/// A live entry's body (an expired one is a miss).
const GET: &str = "SELECT body FROM elelem_response_cache
    WHERE key = $1 AND (expires_at IS NULL OR expires_at > clock_timestamp())";

/// Stores an entry, replacing any (it becomes the newest).
const PUT: &str = "INSERT INTO elelem_response_cache (key, body, size_bytes, stored_at, expires_at)
    VALUES ($1, $2, $3, clock_timestamp(),
            CASE WHEN $4::bigint IS NULL THEN NULL
                 ELSE clock_timestamp() + $4::bigint * interval '1 millisecond' END)
    ON CONFLICT (key) DO UPDATE SET body = EXCLUDED.body, size_bytes = EXCLUDED.size_bytes,
        stored_at = EXCLUDED.stored_at, expires_at = EXCLUDED.expires_at";

/// Deletes expired entries, and the oldest entries beyond the size cap.
const EVICT: &str = "DELETE FROM elelem_response_cache WHERE
    (expires_at IS NOT NULL AND expires_at <= clock_timestamp())
    OR key IN (SELECT key FROM (
        SELECT key, SUM(size_bytes) OVER (ORDER BY stored_at DESC, key DESC) AS newer_bytes
        FROM elelem_response_cache) sized
      WHERE newer_bytes > $1::bigint)";

/// The cache's connection.
pub(crate) struct Conn {
    client: Client,
}

impl Conn {
    /// Whether the server closed the connection.
    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// The stored (compressed) body of a live entry.
    pub fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, LedgerError> {
        Ok(self.client.query_opt(GET, &[&key])?.map(|row| row.get(0)))
    }

    /// Stores an entry, then evicts what is expired or beyond `max_bytes`
    /// (oldest first); returns how many entries were evicted.
    pub fn put(
        &mut self,
        key: &str,
        body: &[u8],
        ttl: Option<Duration>,
        max_bytes: u64,
    ) -> Result<u64, LedgerError> {
        let size = i64::try_from(body.len()).unwrap_or(i64::MAX);
        let ttl_ms = ttl.map(|ttl| i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX));
        self.client.execute(PUT, &[&key, &body, &size, &ttl_ms])?;
        let cap = i64::try_from(max_bytes).unwrap_or(i64::MAX);
        Ok(self.client.execute(EVICT, &[&cap])?)
    }

    /// Takes the session's advisory lock on `lock` without waiting: true when
    /// this connection holds it now.
    pub fn try_lock(&mut self, lock: i64) -> Result<bool, LedgerError> {
        Ok(self
            .client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&lock])?
            .get(0))
    }

    /// Releases the session's advisory lock on `lock`.
    pub fn unlock(&mut self, lock: i64) -> Result<(), LedgerError> {
        self.client
            .query_one("SELECT pg_advisory_unlock($1)", &[&lock])?;
        Ok(())
    }
}

/// Connects and creates the table if needed.
pub(crate) fn connect(params: &str) -> Result<Conn, LedgerError> {
    let client = crate::tables::connect_creating(params, SCHEMA_LOCK, SCHEMA)?;
    Ok(Conn { client })
}

/// The advisory lock number of a key: its first 16 hex digits (a SHA-256 is
/// uniform, and a collision only makes one request wait for another's answer).
pub(crate) fn lock_of(key: &str) -> i64 {
    let prefix = key.get(..16).unwrap_or(key);
    u64::from_str_radix(prefix, 16).map_or(0, |n| n as i64)
}

#[cfg(test)]
mod tests {
    use super::lock_of;

    #[test]
    fn lock_numbers_come_from_the_key_prefix() {
        assert_eq!(lock_of("0000000000000001ffff"), 1);
        assert_eq!(lock_of("ffffffffffffffff0000"), -1);
        assert_ne!(lock_of(&"a".repeat(64)), lock_of(&"b".repeat(64)));
        assert_eq!(lock_of("not hex"), 0);
    }
}
