//! The program's one TOML configuration file: providers, presets, virtual models,
//! budgets, the ledger, the cache, gateway keys and limits.
//!
//! ```
//! let config = elelem_cli::config::Config::parse(r#"
//!     [gateway]
//!     listen = "127.0.0.1:8080"
//!
//!     [providers.groq]
//!     api_key_env = "GROQ_API_KEY"
//!
//!     [[keys]]
//!     name = "team-a"
//!     sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
//!     models = ["groq:*"]
//! "#, "elelem.toml").unwrap();
//! assert_eq!(config.keys[0].name, "team-a");
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use elelem::budget::Budget;
use elelem::{Preset, Usd};
use serde::Deserialize;

/// Why a configuration file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error(
        "cannot read the configuration file {path}: {source}; check the path given to --config"
    )]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has a wrong field (the message holds the
    /// line and column).
    #[error("configuration file {path}: {message}")]
    Parse {
        /// The file (or source name).
        path: String,
        /// What is wrong, where.
        message: String,
    },
    /// A value parses but makes no sense.
    #[error("configuration file {path}: {message}")]
    Invalid {
        /// The file (or source name).
        path: String,
        /// What is wrong and what to do.
        message: String,
    },
}

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The HTTP gateway's settings and limits.
    #[serde(default)]
    pub gateway: GatewaySection,
    /// Providers by name: keys and base URLs.
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderSection>,
    /// Request templates by name, used as `"model": "preset:NAME"`.
    #[serde(default)]
    pub presets: BTreeMap<String, Preset>,
    /// Virtual models (`virtual:NAME`), in the models-file format.
    #[serde(default)]
    pub virtual_models: Vec<toml::Table>,
    /// Extra models files (catalogue entries added or overridden).
    #[serde(default)]
    pub models_files: Vec<PathBuf>,
    /// Spending limits.
    #[serde(default)]
    pub budgets: Vec<BudgetSection>,
    /// Where every attempt is recorded durably.
    pub ledger: Option<LedgerSection>,
    /// The response cache.
    #[serde(default)]
    pub cache: CacheSection,
    /// The gateway keys clients authenticate with.
    #[serde(default)]
    pub keys: Vec<KeySection>,
}

/// `[gateway]`: the HTTP server's settings and limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewaySection {
    /// The address to listen on (`--listen` overrides it).
    pub listen: String,
    /// The largest request body accepted, in bytes (413 above).
    pub max_body_bytes: usize,
    /// The most seconds a client may take to send its request body (408 after).
    pub client_timeout_secs: f64,
    /// The most API requests answered at once (streams count until they end).
    /// Past it a request is refused at once with 503 and `retry-after`
    /// (counted in `elelem_requests_shed_total`) instead of queueing, so an
    /// overload keeps latency and memory bounded.
    pub max_in_flight: usize,
    /// On shutdown, the most seconds streams in flight may go on.
    pub shutdown_grace_secs: f64,
    /// Whether provider keys may come from the environment and the default key
    /// directory when a provider section names none.
    pub ambient_keys: bool,
    /// The most seconds one call may take upstream, retries included.
    pub upstream_timeout_secs: Option<f64>,
    /// Whether gateway keys also come from the PostgreSQL ledger's database
    /// (added with `elelem keys add`). The gateway then always asks for a key,
    /// even while none is stored. Read at start.
    pub database_keys: bool,
    /// With `database_keys`, how often the database is read again for added
    /// and revoked keys (SIGHUP reads it at once).
    pub keys_poll_secs: f64,
    /// The threads answering requests (`elelem serve --workers` overrides
    /// it); absent: one per core. Read at start.
    pub workers: Option<usize>,
}

impl Default for GatewaySection {
    fn default() -> Self {
        GatewaySection {
            listen: "127.0.0.1:8080".into(),
            max_body_bytes: 4 * 1024 * 1024,
            client_timeout_secs: 30.0,
            max_in_flight: 1024,
            shutdown_grace_secs: 30.0,
            ambient_keys: true,
            upstream_timeout_secs: None,
            database_keys: false,
            keys_poll_secs: 5.0,
            workers: None,
        }
    }
}

/// The most worker threads `[gateway] workers` / `--workers` may ask for.
pub const MAX_WORKERS: usize = 1024;

/// Checks a number of worker threads; `Err` says what to give instead (the
/// caller names the setting).
///
/// ```
/// assert!(elelem_cli::config::check_workers(2).is_ok());
/// assert!(elelem_cli::config::check_workers(0).unwrap_err().contains("at least 1"));
/// ```
pub fn check_workers(workers: usize) -> Result<(), String> {
    if workers == 0 {
        return Err("must be at least 1: it is the number of threads answering requests (leave it out for one per core)".into());
    }
    if workers > MAX_WORKERS {
        return Err(format!(
            "must be at most {MAX_WORKERS}: it is the number of threads answering requests (about one per core is enough)"
        ));
    }
    Ok(())
}

/// `[providers.NAME]`: where a provider's key comes from and where it lives.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSection {
    /// The environment variable holding the key.
    pub api_key_env: Option<String>,
    /// A file holding the key (first line, trimmed).
    pub api_key_file: Option<PathBuf>,
    /// The provider's base URL.
    pub base_url: Option<String>,
    /// `"openai-compatible"` declares a new OpenAI-compatible provider named
    /// after the section (needs `base_url`).
    pub kind: Option<String>,
}

/// `[[budgets]]`: a spending limit, overall or for a tag.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetSection {
    /// The limit in dollars, as a decimal string (`"20.00"`).
    pub limit_usd: String,
    /// The tag it applies to (all spend when absent).
    pub tag: Option<String>,
    /// `total` (the default), `day` or `month` (UTC).
    pub window: Option<String>,
}

/// `[ledger]`: the durable record of every attempt.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerSection {
    /// A SQLite file.
    pub sqlite: Option<PathBuf>,
    /// A PostgreSQL connection string (`host=... user=... dbname=...` or a URL).
    pub postgres: Option<String>,
}

/// `[cache]`: the response cache (off unless set).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSection {
    /// Entries kept in memory (LRU).
    pub memory_entries: Option<usize>,
    /// A directory shared by processes.
    pub disk_dir: Option<PathBuf>,
}

/// `[[keys]]`: a gateway key a client authenticates with. Only its SHA-256 is
/// stored (`elelem key-hash SECRET` prints it).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySection {
    /// The key's name (shown in logs and metrics, never the key).
    pub name: String,
    /// The hex SHA-256 of the key.
    pub sha256: String,
    /// Tags added to every request made with this key.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The models this key may use: exact ids, or prefixes ending in `*`
    /// (`"groq:*"`). Empty: all models.
    #[serde(default)]
    pub models: Vec<String>,
    /// The key's spending limit in dollars, as a decimal string.
    pub budget_usd: Option<String>,
    /// The budget's window: `total` (the default), `day` or `month`.
    pub budget_window: Option<String>,
    /// The most requests per minute.
    pub requests_per_minute: Option<u32>,
}

impl Config {
    /// Reads and checks a configuration file.
    ///
    /// ```
    /// let error = elelem_cli::config::Config::load("/nonexistent/elelem.toml").unwrap_err();
    /// assert!(error.to_string().contains("--config"));
    /// ```
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config = Config::parse(&text, &path.display().to_string())?;
        config.resolve_paths(path.parent().unwrap_or(Path::new(".")));
        Ok(config)
    }

    /// Parses and checks configuration text; `source` names it in errors.
    ///
    /// ```
    /// let error = elelem_cli::config::Config::parse("[gateway]\nlisten = 8080\n", "demo.toml").unwrap_err();
    /// assert!(error.to_string().contains("line 2"), "{error}");
    /// ```
    pub fn parse(text: &str, source: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: source.to_owned(),
            message: one_line(&e.to_string()),
        })?;
        config.check(source)?;
        Ok(config)
    }

    /// Relative paths in the file are relative to the file's directory.
    fn resolve_paths(&mut self, dir: &Path) {
        let join = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        };
        for provider in self.providers.values_mut() {
            if let Some(file) = provider.api_key_file.as_mut() {
                join(file);
            }
        }
        self.models_files.iter_mut().for_each(join);
        if let Some(path) = self.ledger.as_mut().and_then(|l| l.sqlite.as_mut()) {
            join(path);
        }
        if let Some(dir) = self.cache.disk_dir.as_mut() {
            join(dir);
        }
    }

    fn check(&self, source: &str) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: source.to_owned(),
            message,
        };
        for budget in &self.budgets {
            budget.budget().map_err(invalid)?;
        }
        let mut names = std::collections::BTreeSet::new();
        for key in &self.keys {
            if !names.insert(key.name.as_str()) {
                return Err(invalid(format!(
                    "two [[keys]] are named {:?}; give each key its own name",
                    key.name
                )));
            }
            key.check().map_err(invalid)?;
        }
        if self.gateway.database_keys && self.postgres_url().is_none() {
            return Err(invalid(
                "[gateway] database_keys = true needs the keys' database: `[ledger] postgres = \"...\"`".into(),
            ));
        }
        if let Some(ledger) = &self.ledger {
            if ledger.sqlite.is_some() == ledger.postgres.is_some() {
                return Err(invalid(
                    "[ledger] needs exactly one of `sqlite = \"usage.db\"` or `postgres = \"...\"`"
                        .into(),
                ));
            }
        }
        for (name, provider) in &self.providers {
            match provider.kind.as_deref() {
                None => {}
                Some("openai-compatible") if provider.base_url.is_some() => {}
                Some("openai-compatible") => {
                    return Err(invalid(format!(
                        "[providers.{name}] of kind \"openai-compatible\" needs a base_url"
                    )))
                }
                Some(other) => {
                    return Err(invalid(format!(
                        "[providers.{name}]: unknown kind {other:?}; the only kind is \"openai-compatible\""
                    )))
                }
            }
        }
        let limit = |name: &str, secs: f64| {
            if secs.is_finite() && secs > 0.0 && secs < 1e9 {
                Ok(())
            } else {
                Err(invalid(format!(
                    "[gateway] {name} must be a positive number of seconds"
                )))
            }
        };
        limit("client_timeout_secs", self.gateway.client_timeout_secs)?;
        limit("shutdown_grace_secs", self.gateway.shutdown_grace_secs)?;
        limit("keys_poll_secs", self.gateway.keys_poll_secs)?;
        if let Some(secs) = self.gateway.upstream_timeout_secs {
            limit("upstream_timeout_secs", secs)?;
        }
        if let Some(workers) = self.gateway.workers {
            check_workers(workers).map_err(|e| invalid(format!("[gateway] workers {e}")))?;
        }
        if self.gateway.max_in_flight == 0 {
            return Err(invalid(
                "[gateway] max_in_flight must be at least 1 (the most requests answered at once)"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The PostgreSQL ledger's connection string, if the ledger is PostgreSQL.
    ///
    /// ```
    /// let config = elelem_cli::config::Config::parse("[ledger]\npostgres = \"host=db\"\n", "l").unwrap();
    /// assert_eq!(config.postgres_url(), Some("host=db"));
    /// ```
    pub fn postgres_url(&self) -> Option<&str> {
        self.ledger.as_ref().and_then(|l| l.postgres.as_deref())
    }

    /// The `[[virtual_models]]` tables as models-file text, if any.
    pub fn virtual_models_toml(&self) -> Option<String> {
        if self.virtual_models.is_empty() {
            return None;
        }
        let mut root = toml::Table::new();
        root.insert(
            "virtual_models".into(),
            toml::Value::Array(
                self.virtual_models
                    .iter()
                    .cloned()
                    .map(toml::Value::Table)
                    .collect(),
            ),
        );
        Some(root.to_string())
    }
}

impl GatewaySection {
    /// The client body timeout.
    pub fn client_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.client_timeout_secs)
    }

    /// The shutdown grace period.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs_f64(self.shutdown_grace_secs)
    }

    /// How often database keys are read again.
    pub fn keys_poll(&self) -> Duration {
        Duration::from_secs_f64(self.keys_poll_secs)
    }

    /// The worker threads to run: `override_` (from `--workers`), else
    /// `workers`, else one per core. `Err` when the one given is out of range.
    ///
    /// ```
    /// let mut gateway = elelem_cli::config::GatewaySection::default();
    /// gateway.workers = Some(2);
    /// assert_eq!(gateway.worker_threads(None), Ok(2));
    /// assert_eq!(gateway.worker_threads(Some(1)), Ok(1));
    /// assert!(gateway.worker_threads(Some(0)).is_err());
    /// gateway.workers = None;
    /// assert!(gateway.worker_threads(None).unwrap() >= 1);
    /// ```
    pub fn worker_threads(&self, override_: Option<usize>) -> Result<usize, String> {
        match override_.or(self.workers) {
            Some(workers) => {
                let setting = if override_.is_some() {
                    "--workers"
                } else {
                    "[gateway] workers"
                };
                check_workers(workers)
                    .map(|()| workers)
                    .map_err(|e| format!("{setting} {e}"))
            }
            None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
        }
    }
}

impl BudgetSection {
    /// The Elelem budget this section describes.
    ///
    /// ```
    /// let section = elelem_cli::config::BudgetSection {
    ///     limit_usd: "2.50".into(), tag: Some("nightly".into()), window: Some("day".into()),
    /// };
    /// assert_eq!(section.budget().unwrap().tag(), Some("nightly"));
    /// ```
    pub fn budget(&self) -> Result<Budget, String> {
        let budget = budget_of("[[budgets]]", &self.limit_usd, self.window.as_deref())?;
        Ok(match &self.tag {
            Some(tag) => budget.for_tag(tag.clone()),
            None => budget,
        })
    }
}

impl KeySection {
    /// The tag every request of this key carries, so its budget can be counted.
    pub fn account_tag(&self) -> String {
        format!("key:{}", self.name)
    }

    /// Checks the hash, the budget and the rate limit; the message says what to
    /// fix.
    ///
    /// ```
    /// let key = elelem_cli::config::KeySection {
    ///     name: "a".into(), sha256: "abc".into(), tags: vec![], models: vec![],
    ///     budget_usd: None, budget_window: None, requests_per_minute: None,
    /// };
    /// assert!(key.check().unwrap_err().contains("64 hex digits"));
    /// ```
    pub fn check(&self) -> Result<(), String> {
        if self.sha256.len() != 64 || !self.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "key {:?}: sha256 must be 64 hex digits (print it with `elelem key-hash SECRET`)",
                self.name
            ));
        }
        self.budget()?;
        if self.requests_per_minute == Some(0) {
            return Err(format!(
                "key {:?}: requests_per_minute must be at least 1 (remove it for no limit)",
                self.name
            ));
        }
        Ok(())
    }

    /// The key's budget, on its account tag.
    pub fn budget(&self) -> Result<Option<Budget>, String> {
        let Some(limit) = &self.budget_usd else {
            return Ok(None);
        };
        let what = format!("key {:?}", self.name);
        let budget = budget_of(&what, limit, self.budget_window.as_deref())?;
        Ok(Some(budget.for_tag(self.account_tag())))
    }
}

/// A budget of `limit` dollars over `window`.
pub(crate) fn budget_of(what: &str, limit: &str, window: Option<&str>) -> Result<Budget, String> {
    let amount: Usd = limit.trim().parse().map_err(|e| {
        format!("{what}: the limit {limit:?} is not a dollar amount ({e}); write it as a string like \"20.00\"")
    })?;
    if amount <= Usd::ZERO {
        return Err(format!("{what}: the limit must be above zero"));
    }
    match window.unwrap_or("total") {
        "total" => Ok(Budget::new(amount)),
        "day" => Ok(Budget::new(amount).per_day()),
        "month" => Ok(Budget::new(amount).per_month()),
        other => Err(format!(
            "{what}: unknown window {other:?}; use \"total\", \"day\" or \"month\""
        )),
    }
}

/// Error text on one line (TOML errors quote the offending line over several).
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && *l != "|")
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn workers_are_checked_and_default_to_one_per_core() {
        let zero = Config::parse("[gateway]\nworkers = 0\n", "w.toml")
            .unwrap_err()
            .to_string();
        assert!(
            zero.contains("w.toml") && zero.contains("[gateway] workers must be at least 1"),
            "{zero}"
        );
        let many = Config::parse("[gateway]\nworkers = 5000\n", "w.toml").unwrap_err();
        assert!(many.to_string().contains("at most 1024"), "{many}");
        let two = Config::parse("[gateway]\nworkers = 2\n", "w.toml").unwrap();
        assert_eq!(two.gateway.worker_threads(None), Ok(2));
        assert_eq!(two.gateway.worker_threads(Some(1)), Ok(1));
        let flag = two.gateway.worker_threads(Some(0)).unwrap_err();
        assert!(flag.starts_with("--workers must be at least 1"), "{flag}");
        let cores = std::thread::available_parallelism().unwrap().get();
        let default = Config::parse("", "w.toml").unwrap();
        assert_eq!(default.gateway.worker_threads(None), Ok(cores));
    }

    #[test]
    fn a_wrong_field_is_refused_with_its_line() {
        let error = Config::parse("[gateway]\n\nlisten = \"x\"\nmax_bodybytes = 3\n", "e.toml")
            .unwrap_err()
            .to_string();
        assert!(error.contains("line 4"), "{error}");
        assert!(error.contains("max_bodybytes"), "{error}");
        assert!(!error.contains('\n'), "{error}");
    }

    #[test]
    fn keys_need_a_real_hash_and_unique_names() {
        let key =
            |name: &str, hash: &str| format!("[[keys]]\nname = \"{name}\"\nsha256 = \"{hash}\"\n");
        let good = "a".repeat(64);
        assert!(Config::parse(&key("a", &good), "k").is_ok());
        let short = Config::parse(&key("a", "abc"), "k").unwrap_err();
        assert!(short.to_string().contains("64 hex digits"));
        let twice = format!("{}{}", key("a", &good), key("a", &good));
        assert!(Config::parse(&twice, "k")
            .unwrap_err()
            .to_string()
            .contains("two [[keys]]"));
    }

    #[test]
    fn budgets_are_exact_and_checked() {
        let ok = Config::parse(
            "[[budgets]]\nlimit_usd = \"0.10\"\ntag = \"t\"\nwindow = \"month\"\n",
            "b",
        )
        .unwrap();
        let budget = ok.budgets[0].budget().unwrap();
        assert_eq!(budget.limit(), "0.1".parse::<Usd>().unwrap());
        let bad = Config::parse("[[budgets]]\nlimit_usd = \"ten\"\n", "b").unwrap_err();
        assert!(bad.to_string().contains("not a dollar amount"), "{bad}");
        let window = Config::parse("[[budgets]]\nlimit_usd = \"1\"\nwindow = \"week\"\n", "b");
        assert!(window.unwrap_err().to_string().contains("unknown window"));
    }

    #[test]
    fn the_ledger_needs_exactly_one_database() {
        let both = "[ledger]\nsqlite = \"a.db\"\npostgres = \"host=x\"\n";
        assert!(Config::parse(both, "l").is_err());
        assert!(Config::parse("[ledger]\nsqlite = \"a.db\"\n", "l").is_ok());
    }

    #[test]
    fn virtual_models_become_models_file_text() {
        let config = Config::parse(
            "[[virtual_models]]\nid = \"virtual:x\"\ncandidates = [{ model = \"groq:openai/gpt-oss-20b\" }]\n",
            "v",
        )
        .unwrap();
        let text = config.virtual_models_toml().unwrap();
        assert!(text.contains("virtual:x"), "{text}");
    }
}

#[cfg(test)]
mod sample {
    #![allow(clippy::unwrap_used)]

    #[test]
    fn the_sample_configuration_parses() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/gateway/elelem.toml"
        );
        let config = super::Config::load(path).unwrap();
        assert_eq!(config.keys[0].name, "demo");
        assert_eq!(
            config.keys[0].sha256,
            crate::gateway::sha256_hex("demo-key")
        );
        assert!(config.virtual_models_toml().is_some());
    }
}
