//! `elelem keys add|list|revoke --db postgres://...`: gateway keys stored in the
//! PostgreSQL ledger's database, read by every gateway started with
//! `[gateway] database_keys = true`.

use std::io::Read;

use elelem_ledger_postgres::PostgresKeyStore;
use serde_json::json;

use super::table::Table;
use crate::config::KeySection;
use crate::gateway::{record_of, sha256_hex};

/// What `elelem keys add` stores.
#[derive(Debug, Clone, Default)]
pub struct AddArgs {
    /// The key's name.
    pub name: String,
    /// Tags added to every request.
    pub tags: Vec<String>,
    /// Allowed models (exact or `prefix*`); empty: all.
    pub models: Vec<String>,
    /// The budget in dollars.
    pub budget: Option<String>,
    /// `total`, `day` or `month`.
    pub budget_window: Option<String>,
    /// Requests per minute.
    pub requests_per_minute: Option<u32>,
}

/// A new random key: `gw-` and 48 hex digits (192 bits from the system's
/// random source).
///
/// ```
/// let key = elelem_cli::commands::keys::new_secret().unwrap();
/// assert!(key.starts_with("gw-") && key.len() == 51);
/// assert_ne!(key, elelem_cli::commands::keys::new_secret().unwrap());
/// ```
pub fn new_secret() -> Result<String, String> {
    let mut bytes = [0u8; 24];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut bytes))
        .map_err(|e| format!("cannot read random bytes from /dev/urandom for the key: {e}"))?;
    Ok(format!(
        "gw-{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

/// The store at `db`, with the password kept out of messages.
fn open(db: &str) -> Result<PostgresKeyStore, String> {
    PostgresKeyStore::connect(db)
        .map_err(|e| format!("keys database {}: {e}", crate::ledger::redact(db)))
}

/// Stores a new key and returns its secret (shown once: only its hash is kept).
/// The settings are checked like a `[[keys]]` section's first.
pub fn add(db: &str, args: &AddArgs) -> Result<String, String> {
    let secret = new_secret()?;
    let section = KeySection {
        name: args.name.trim().to_owned(),
        sha256: sha256_hex(&secret),
        tags: args.tags.clone(),
        models: args.models.clone(),
        budget_usd: args.budget.clone(),
        budget_window: args.budget_window.clone(),
        requests_per_minute: args.requests_per_minute,
    };
    if section.name.is_empty() {
        return Err("the key needs a name: elelem keys add NAME --db ...".into());
    }
    section
        .check()
        .map_err(|e| e.replace("requests_per_minute", "--rpm"))?;
    let store = open(db)?;
    store.add(&record_of(&section)).map_err(|e| e.to_string())?;
    Ok(secret)
}

/// Revokes the key `name` (gateways refuse it from their next read of the
/// database: within `keys_poll_secs`, or at once on SIGHUP).
pub fn revoke(db: &str, name: &str) -> Result<(), String> {
    if open(db)?.revoke(name).map_err(|e| e.to_string())? {
        Ok(())
    } else {
        Err(format!(
            "no active gateway key named {name:?}; `elelem keys list --db ...` shows them"
        ))
    }
}

/// Every key (never a secret nor a hash) as a table, or JSON.
pub fn list(db: &str, as_json: bool) -> Result<String, String> {
    let keys = open(db)?.list().map_err(|e| e.to_string())?;
    if as_json {
        let rows: Vec<_> = keys
            .iter()
            .map(|k| {
                json!({
                    "name": k.key.name,
                    "tags": k.key.tags,
                    "models": k.key.models,
                    "budget_usd": k.key.budget_usd,
                    "budget_window": k.key.budget_window,
                    "requests_per_minute": k.key.requests_per_minute,
                    "created_at": k.created_at,
                    "revoked_at": k.revoked_at,
                })
            })
            .collect();
        return serde_json::to_string_pretty(&rows)
            .map(|text| text + "\n")
            .map_err(|e| e.to_string());
    }
    let mut table = Table::new([
        "NAME", "STATUS", "TAGS", "MODELS", "BUDGET", "RPM", "CREATED",
    ]);
    for k in &keys {
        let budget = k.key.budget_usd.as_ref().map_or(String::new(), |b| {
            format!("${b} {}", k.key.budget_window.as_deref().unwrap_or("total"))
        });
        let status = match &k.revoked_at {
            Some(at) => format!("revoked {at}"),
            None => "active".into(),
        };
        let models = if k.key.models.is_empty() {
            "all".to_owned()
        } else {
            k.key.models.join(",")
        };
        table.row([
            k.key.name.clone(),
            status,
            k.key.tags.join(","),
            models,
            budget,
            k.key
                .requests_per_minute
                .map_or(String::new(), |r| r.to_string()),
            k.created_at.clone(),
        ]);
    }
    Ok(table.render())
}
