//! Connecting and creating a part's tables: the budget store's, the cache's and
//! the gateway keys' each run their `CREATE ... IF NOT EXISTS` script under an
//! advisory lock of their own, so that processes starting at once never race.

use postgres::{Client, NoTls};

use crate::LedgerError;

/// Connects with `params` and runs `schema` in a transaction holding the
/// advisory lock `lock`.
pub(crate) fn connect_creating(
    params: &str,
    lock: i64,
    schema: &str,
) -> Result<Client, LedgerError> {
    let mut client = Client::connect(params, NoTls).map_err(LedgerError::Connect)?;
    let mut tx = client.transaction().map_err(LedgerError::Connect)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&lock])
        .map_err(LedgerError::Connect)?;
    tx.batch_execute(schema).map_err(LedgerError::Connect)?;
    tx.commit().map_err(LedgerError::Connect)?;
    Ok(client)
}
