//! Gateway keys stored in the PostgreSQL ledger's database (`elelem keys add`),
//! read at start, on SIGHUP and every `keys_poll_secs`.

use elelem_ledger_postgres::{GatewayKeyRecord, PostgresKeyStore};

use crate::config::KeySection;

/// A stored key as a `[[keys]]` section.
///
/// ```
/// let record = elelem_ledger_postgres::GatewayKeyRecord {
///     name: "a".into(), sha256: "AB".repeat(32), requests_per_minute: Some(5), ..Default::default()
/// };
/// let section = elelem_cli::gateway::section_of(record);
/// assert_eq!((section.name.as_str(), section.requests_per_minute), ("a", Some(5)));
/// assert_eq!(section.sha256, "ab".repeat(32));
/// ```
pub fn section_of(record: GatewayKeyRecord) -> KeySection {
    KeySection {
        name: record.name,
        sha256: record.sha256.to_ascii_lowercase(),
        tags: record.tags,
        models: record.models,
        budget_usd: record.budget_usd,
        budget_window: record.budget_window,
        requests_per_minute: record.requests_per_minute,
    }
}

/// A `[[keys]]` section as a row to store.
///
/// ```
/// let section = elelem_cli::config::KeySection {
///     name: "a".into(), sha256: "ab".repeat(32), tags: vec!["t".into()], models: vec![],
///     budget_usd: Some("1.50".into()), budget_window: None, requests_per_minute: None,
/// };
/// let record = elelem_cli::gateway::record_of(&section);
/// assert_eq!(elelem_cli::gateway::section_of(record), section);
/// ```
pub fn record_of(section: &KeySection) -> GatewayKeyRecord {
    GatewayKeyRecord {
        name: section.name.clone(),
        sha256: section.sha256.to_ascii_lowercase(),
        tags: section.tags.clone(),
        models: section.models.clone(),
        budget_usd: section.budget_usd.clone(),
        budget_window: section.budget_window.clone(),
        requests_per_minute: section.requests_per_minute,
    }
}

/// The active keys of the database, checked like the configuration's: a row
/// that does not pass (edited by hand) is left out with a warning, and so is a
/// key whose name or hash is already in `configured`.
pub(crate) fn read(
    store: &PostgresKeyStore,
    configured: &[KeySection],
) -> Result<Vec<KeySection>, String> {
    let records = store
        .active()
        .map_err(|e| format!("reading the gateway keys from PostgreSQL: {e}"))?;
    Ok(records
        .into_iter()
        .map(section_of)
        .filter(|key| match key.check() {
            Ok(()) => true,
            Err(reason) => {
                tracing::warn!(key = %key.name, %reason, "a stored gateway key is left out");
                false
            }
        })
        .filter(|key| {
            let clash = configured
                .iter()
                .any(|c| c.name == key.name || c.sha256.eq_ignore_ascii_case(&key.sha256));
            if clash {
                tracing::warn!(key = %key.name, "a stored gateway key has the name or hash of a [[keys]] entry of the configuration; the configuration's is used");
            }
            !clash
        })
        .collect())
}
