//! The one `Elelem` client the program uses, built from the configuration, and
//! the parts that outlive a configuration reload (stats, ledger, budgets,
//! telemetry).

use std::sync::Arc;
use std::time::Duration;

use elelem::budget::{BudgetStore, MemoryBudgetStore};
use elelem::cost::{CostSink, FanOutSink, InMemoryStatsSink};
use elelem::{ApiKey, Elelem, ElelemError};
use elelem_ledger_postgres::PostgresBudgetStore;

use crate::config::{Config, ProviderSection};
use crate::ledger::{Ledger, LedgerOpenError};
use crate::telemetry::Telemetry;

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A provider key named in the configuration is not there.
    #[error("{0}")]
    Key(String),
    /// Elelem refused the settings (catalogue, presets, budgets, ...).
    #[error(transparent)]
    Elelem(#[from] ElelemError),
    /// The ledger could not be opened.
    #[error(transparent)]
    Ledger(#[from] LedgerOpenError),
    /// The gateway keys' database could not be read.
    #[error("{0}")]
    Keys(String),
}

/// What every client built from successive configurations shares: stats in
/// memory, the ledger, the budgets' accounts and the telemetry, so a reload
/// keeps the spend.
#[derive(Clone)]
pub struct Shared {
    /// Every attempt's record goes here (stats, ledger, telemetry).
    pub sink: Arc<dyn CostSink>,
    /// The durable ledger, if configured.
    pub ledger: Option<Ledger>,
    /// The budgets' accounts: in the PostgreSQL ledger's database when the
    /// ledger is PostgreSQL (so every process sharing it holds the same
    /// budgets, gateway keys' included), else in memory.
    pub budgets: Arc<dyn BudgetStore>,
    /// The PostgreSQL budget store, to flush on shutdown.
    pub postgres_budgets: Option<Arc<PostgresBudgetStore>>,
    /// Metrics and dashboard aggregates.
    pub telemetry: Arc<Telemetry>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("ledger", &self.ledger)
            .field("postgres_budgets", &self.postgres_budgets)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Opens the ledger of `config` (if any) and makes fresh stats.
    ///
    /// ```
    /// let shared = elelem_cli::client::Shared::open(&Default::default()).unwrap();
    /// assert!(shared.ledger.is_none());
    /// ```
    pub fn open(config: &Config) -> Result<Shared, BuildError> {
        let ledger = match &config.ledger {
            Some(section) => {
                let target = match (&section.sqlite, &section.postgres) {
                    (Some(path), _) => path.display().to_string(),
                    (None, Some(url)) => url.clone(),
                    (None, None) => String::new(),
                };
                Some(Ledger::open(&target, false)?)
            }
            None => None,
        };
        let telemetry = Arc::new(Telemetry::new());
        let mut sink = FanOutSink::new()
            .with(Arc::new(InMemoryStatsSink::new()))
            .with(telemetry.clone());
        if let Some(ledger) = &ledger {
            sink = sink.with(ledger.sink());
        }
        let postgres_budgets = match config.postgres_url() {
            Some(url) => Some(Arc::new(PostgresBudgetStore::connect(url).map_err(
                |e| {
                    BuildError::Ledger(LedgerOpenError::Database {
                        target: crate::ledger::redact(url),
                        reason: format!("the budget store: {e}"),
                    })
                },
            )?)),
            None => None,
        };
        let budgets: Arc<dyn BudgetStore> = match &postgres_budgets {
            Some(store) => store.clone(),
            None => Arc::new(MemoryBudgetStore::new()),
        };
        Ok(Shared {
            sink: Arc::new(sink),
            ledger,
            budgets,
            postgres_budgets,
            telemetry,
        })
    }

    /// Writes what the ledger and the budget store have queued and closes them.
    pub fn close(&self) -> Result<(), String> {
        let ledger = self.ledger.as_ref().map_or(Ok(()), Ledger::close);
        let budgets = self
            .postgres_budgets
            .as_ref()
            .map_or(Ok(()), |store| store.close().map_err(|e| e.to_string()));
        ledger.and(budgets)
    }
}

/// The client `config` describes, recording into `shared`.
///
/// ```
/// use elelem_cli::{client, config::Config};
/// let config = Config::parse("[providers.groq]\nbase_url = \"http://127.0.0.1:9/v1\"\n", "demo").unwrap();
/// let shared = client::Shared::open(&config).unwrap();
/// let elelem = client::build(&config, &shared).unwrap();
/// assert!(!elelem.list_models().data.is_empty());
/// ```
pub fn build(config: &Config, shared: &Shared) -> Result<Elelem, BuildError> {
    let mut builder = Elelem::builder()
        .cost_sink(shared.sink.clone())
        .budget_store(shared.budgets.clone());
    if !config.gateway.ambient_keys {
        builder = builder.without_env_keys();
    }
    for (name, section) in &config.providers {
        let key = provider_key(name, section)?;
        match (section.kind.as_deref(), &section.base_url) {
            (Some(_), Some(url)) => {
                builder = builder.openai_compatible(name.clone(), url.clone(), key);
            }
            _ => {
                if let Some(key) = key {
                    builder = builder.api_key(name.clone(), key);
                }
                if let Some(url) = &section.base_url {
                    builder = builder.base_url(name.clone(), url.clone());
                }
            }
        }
    }
    for file in &config.models_files {
        builder = builder.models_file(file.clone());
    }
    if let Some(text) = config.virtual_models_toml() {
        builder = builder.models_toml("[[virtual_models]] of the configuration", text);
    }
    for (name, preset) in &config.presets {
        builder = builder.preset(name.clone(), preset.clone());
    }
    if let Some(entries) = config.cache.memory_entries {
        builder = builder.memory_cache(entries);
    }
    if let Some(dir) = &config.cache.disk_dir {
        builder = builder.disk_cache(dir.clone());
    }
    for budget in &config.budgets {
        builder = builder.budget(budget.budget().map_err(BuildError::Key)?);
    }
    for key in &config.keys {
        if let Some(budget) = key.budget().map_err(BuildError::Key)? {
            builder = builder.budget(budget);
        }
    }
    if let Some(secs) = config.gateway.upstream_timeout_secs {
        builder = builder.timeout(Duration::from_secs_f64(secs));
    }
    Ok(builder.build()?)
}

/// The key a provider section names, read now.
fn provider_key(name: &str, section: &ProviderSection) -> Result<Option<ApiKey>, BuildError> {
    if let Some(file) = &section.api_key_file {
        let text = std::fs::read_to_string(file).map_err(|e| {
            BuildError::Key(format!(
                "[providers.{name}] api_key_file {}: {e}; put the key in that file or fix the path",
                file.display()
            ))
        })?;
        let key = text.lines().next().unwrap_or_default().trim();
        if key.is_empty() {
            return Err(BuildError::Key(format!(
                "[providers.{name}] api_key_file {} is empty; put the key on its first line",
                file.display()
            )));
        }
        return Ok(Some(ApiKey::new(key)));
    }
    if let Some(var) = &section.api_key_env {
        let value = std::env::var(var).unwrap_or_default();
        if value.trim().is_empty() {
            return Err(BuildError::Key(format!(
                "[providers.{name}] api_key_env names {var}, which is not set; export {var}=... or remove the line"
            )));
        }
        return Ok(Some(ApiKey::new(value.trim())));
    }
    Ok(None)
}
