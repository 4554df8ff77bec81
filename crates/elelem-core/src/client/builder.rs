//! Building an [`Elelem`]: keys, endpoints, sinks, policies and catalogue files.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::elelem::{Elelem, Inner};
use super::parts::{Accounting, Policy, ProviderSlot, Providers};
use crate::budget::Budgets;
use crate::catalogue::{CatalogueSources, ProviderEntry};
use crate::cost::{CostSink, InMemoryStatsSink, RecentQuery};
use crate::error::ElelemError;
use crate::json::{InstructionCache, SchemaCache};
use crate::presets::Presets;
use crate::provider::{
    Configured, CredentialedPlugin, EnvAccess, Provider, ProviderPlugin, ProviderSettings,
};
use crate::retry::{DefaultRetryPolicy, RetryPolicy};
use crate::secret::ApiKey;

/// Configures an [`Elelem`] client.
///
/// ```
/// use elelem_core::{Elelem, cost::InMemoryStatsSink, retry::DefaultRetryPolicy};
/// use std::sync::Arc;
///
/// let elelem = Elelem::builder()
///     .api_key("groq", "gsk-test")
///     .base_url("groq", "http://127.0.0.1:9/v1")
///     .cost_sink(Arc::new(InMemoryStatsSink::new()))
///     .retry_policy(Arc::new(DefaultRetryPolicy::default().max_json_retries(1)))
///     .models_toml("inline", "[currencies]\nEUR = \"1.1\"")
///     .build()
///     .unwrap();
/// assert_eq!(elelem.get_stats().total_calls, 0);
/// ```
#[must_use]
pub struct ElelemBuilder {
    api_keys: BTreeMap<String, ApiKey>,
    base_urls: BTreeMap<String, String>,
    instances: BTreeMap<String, Arc<dyn Provider>>,
    sink: Option<Arc<dyn CostSink>>,
    policy: Option<Arc<dyn RetryPolicy>>,
    models_files: Vec<PathBuf>,
    models_texts: Vec<(String, String)>,
    timeout: Duration,
    max_response_bytes: usize,
    max_attempts: u32,
    stream_idle_timeout: Duration,
    read_env: bool,
    budgets: Vec<crate::budget::Budget>,
    budget_clock: Option<crate::budget::Clock>,
    budget_store: Option<Arc<dyn crate::budget::BudgetStore>>,
    /// Cache, key files, presets and the context-window check (`options.rs`).
    pub(super) options: super::options::ClientOptions,
}

impl std::fmt::Debug for ElelemBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElelemBuilder")
            .field("api_keys", &self.api_keys)
            .field("base_urls", &self.base_urls)
            .field("models_files", &self.models_files)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Default for ElelemBuilder {
    fn default() -> Self {
        ElelemBuilder {
            api_keys: BTreeMap::new(),
            base_urls: BTreeMap::new(),
            instances: BTreeMap::new(),
            sink: None,
            policy: None,
            models_files: Vec::new(),
            models_texts: Vec::new(),
            timeout: Duration::from_secs(120),
            max_response_bytes: 32 * 1024 * 1024,
            max_attempts: 32,
            stream_idle_timeout: super::stream::DEFAULT_STREAM_IDLE_TIMEOUT,
            read_env: true,
            budgets: Vec::new(),
            budget_clock: None,
            budget_store: None,
            options: Default::default(),
        }
    }
}

impl ElelemBuilder {
    /// Sets a provider's API key; it takes precedence over the environment.
    pub fn api_key(mut self, provider: impl Into<String>, key: impl Into<ApiKey>) -> Self {
        self.api_keys.insert(provider.into(), key.into());
        self
    }

    /// Sets a provider's base URL (for proxies, gateways and test servers).
    pub fn base_url(mut self, provider: impl Into<String>, url: impl Into<String>) -> Self {
        self.base_urls.insert(provider.into(), url.into());
        self
    }

    /// Replaces the cost sink (default: [`InMemoryStatsSink`]).
    pub fn cost_sink(mut self, sink: Arc<dyn CostSink>) -> Self {
        self.sink = Some(sink);
        self
    }

    /// Replaces the retry policy (default: [`DefaultRetryPolicy`]).
    pub fn retry_policy(mut self, policy: Arc<dyn RetryPolicy>) -> Self {
        self.policy = Some(policy);
        self
    }

    /// Adds a TOML models file that adds or overrides catalogue entries.
    pub fn models_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.models_files.push(path.into());
        self
    }

    /// Adds catalogue entries from TOML text (same format as a models file).
    pub fn models_toml(mut self, source_name: impl Into<String>, text: impl Into<String>) -> Self {
        self.models_texts.push((source_name.into(), text.into()));
        self
    }

    /// Adds a provider `name` that speaks the OpenAI protocol at `base_url` (vLLM,
    /// llama.cpp server, LM Studio, a LiteLLM proxy, a company gateway), served by
    /// the `openai-compatible` plugin (the `compat` feature of `elelem`). Any model
    /// id is accepted (`"local:llama-3.1-8b"`); models it does not list have no
    /// price, so their cost is recorded as unknown and counted in
    /// `Stats::unpriced_calls`. Add `[[models]]` entries for `name` with
    /// [`ElelemBuilder::models_toml`] to give prices or capabilities.
    ///
    /// It is the same as this models file entry (plus the key, when given):
    ///
    /// ```toml
    /// [[providers]]
    /// name = "local"
    /// kind = "openai-compatible"
    /// base_url = "http://127.0.0.1:8000/v1"
    /// allow_unknown_models = true
    /// ```
    ///
    /// ```
    /// let builder = elelem_core::Elelem::builder()
    ///     .openai_compatible("local", "http://127.0.0.1:8000/v1", None)
    ///     .openai_compatible("gateway", "https://llm.example.com/v1", Some("sk-gw".into()));
    /// # let _ = builder;
    /// ```
    pub fn openai_compatible(
        mut self,
        name: impl Into<String>,
        base_url: impl Into<String>,
        api_key: Option<ApiKey>,
    ) -> Self {
        let name = name.into();
        let quote = |text: String| toml::Value::String(text).to_string();
        let snippet = format!(
            "[[providers]]\nname = {}\nkind = \"openai-compatible\"\nbase_url = {}\nallow_unknown_models = true\n",
            quote(name.clone()),
            quote(base_url.into()),
        );
        if let Some(key) = api_key {
            self.api_keys.insert(name.clone(), key);
        }
        self.models_toml(format!("openai_compatible({name})"), snippet)
    }

    /// Uses this provider instance for `name` instead of a registered plugin. Its
    /// catalogue must come from a models file or [`ElelemBuilder::models_toml`].
    pub fn provider(mut self, name: impl Into<String>, provider: Arc<dyn Provider>) -> Self {
        self.instances.insert(name.into(), provider);
        self
    }

    /// Sets the time limit of one request (default 120 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the largest response body accepted (default 32 MiB).
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// Ends a stream that goes this long without a byte (default 60 s; at most
    /// [`LONGEST_WAIT`](crate::LONGEST_WAIT), so `Duration::MAX` means "never").
    pub fn stream_idle_timeout(mut self, timeout: Duration) -> Self {
        self.stream_idle_timeout = crate::later::clamped(timeout);
        self
    }

    /// Caps the attempts of one call whatever the retry policy says (default 32).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Ignores `{PROVIDER}_API_KEY` environment variables and the default key
    /// directory (`~/.config/elelem/keys`): only keys given in code, or in a
    /// directory set with [`ElelemBuilder::key_dir`], count. Plugins that find
    /// their own credentials (Bedrock's AWS variables and profile files,
    /// Azure's Entra ID token variable) read none either
    /// ([`EnvAccess::without_credentials`]); without credentials they are
    /// listed as unavailable.
    pub fn without_env_keys(mut self) -> Self {
        self.read_env = false;
        self
    }

    /// Adds a spend cap (see [`crate::budget`]): before each attempt its worst-case
    /// cost is reserved, and a call that would pass any budget applying to it fails
    /// with [`ElelemError::BudgetExceeded`] without being sent.
    ///
    /// ```
    /// use elelem_core::{budget::Budget, Elelem};
    /// let elelem = Elelem::builder()
    ///     .budget(Budget::new("20".parse().unwrap()).per_month())
    ///     .budget(Budget::new("1".parse().unwrap()).for_tag("nightly").per_day())
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(elelem.budget_status().len(), 2);
    /// ```
    pub fn budget(mut self, budget: crate::budget::Budget) -> Self {
        self.budgets.push(budget);
        self
    }

    /// Replaces the clock budgets read their day and month windows from (default
    /// `SystemTime::now`); meant for tests.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// let elelem = elelem_core::Elelem::builder()
    ///     .budget_clock(|| SystemTime::UNIX_EPOCH + Duration::from_secs(86_400))
    ///     .build()
    ///     .unwrap();
    /// # let _ = elelem;
    /// ```
    pub fn budget_clock(
        mut self,
        clock: impl Fn() -> std::time::SystemTime + Send + Sync + 'static,
    ) -> Self {
        self.budget_clock = Some(Arc::new(clock));
        self
    }

    /// Keeps the budgets' accounts in `store` instead of the process (default: a
    /// fresh [`MemoryBudgetStore`](crate::budget::MemoryBudgetStore)). Clients of
    /// every process using one shared store (`elelem_ledger_postgres::PostgresBudgetStore`)
    /// share their budgets: a budget holds across processes.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use elelem_core::budget::{Budget, MemoryBudgetStore};
    /// let elelem = elelem_core::Elelem::builder()
    ///     .budget(Budget::new("5".parse().unwrap()).per_day())
    ///     .budget_store(Arc::new(MemoryBudgetStore::new()))
    ///     .build()
    ///     .unwrap();
    /// # let _ = elelem;
    /// ```
    pub fn budget_store(mut self, store: Arc<dyn crate::budget::BudgetStore>) -> Self {
        self.budget_store = Some(store);
        self
    }

    fn resolve_key(&self, provider: &str, env_var: Option<&str>) -> Option<ApiKey> {
        if let Some(key) = self.api_keys.get(provider) {
            return Some(key.clone());
        }
        if self.read_env {
            let value = env_var.and_then(|var| std::env::var(var).ok());
            let value = value.as_deref().map(str::trim).unwrap_or_default();
            if !value.is_empty() {
                return Some(ApiKey::new(value));
            }
        }
        let dir = self.options.key_dir(self.read_env)?;
        crate::keys::read_key_file(&dir, provider)
    }

    /// Builds `plugin` for the catalogue provider `entry` (its own or, through
    /// `kind`, another one), or notes the missing key.
    fn provider_slot(
        &self,
        plugin: &ProviderPlugin,
        entry: &ProviderEntry,
    ) -> Result<ProviderSlot, ElelemError> {
        let name = entry.name.as_str();
        let env_var = entry.api_key_env.clone();
        let api_key = self.resolve_key(name, env_var.as_deref());
        if api_key.is_none() && env_var.is_some() {
            return Ok(ProviderSlot::MissingKey { env_var });
        }
        let settings = ProviderSettings {
            name: name.to_owned(),
            base_url: self
                .base_urls
                .get(name)
                .cloned()
                .unwrap_or_else(|| entry.base_url.clone()),
            api_key,
            api_key_env: env_var,
            timeout: self.timeout,
            max_response_bytes: self.max_response_bytes,
        };
        let Some(credentialed) = CredentialedPlugin::find(plugin.name) else {
            return Ok(ProviderSlot::Ready((plugin.build)(settings)?));
        };
        let env = if self.read_env {
            EnvAccess::process()
        } else {
            EnvAccess::without_credentials()
        };
        Ok(match (credentialed.build)(settings, env)? {
            Configured::Ready(provider) => ProviderSlot::Ready(provider),
            Configured::Missing { reason } => ProviderSlot::MissingCredentials { reason },
        })
    }

    /// Loads the catalogue, resolves keys and builds every provider.
    pub fn build(self) -> Result<Elelem, ElelemError> {
        let mut sources = CatalogueSources::new()?;
        let plugins: Vec<&'static ProviderPlugin> = ProviderPlugin::all().collect();
        for plugin in &plugins {
            sources.add_plugin(
                &format!("provider plugin {}", plugin.name),
                plugin.catalogue,
            )?;
        }
        for path in &self.models_files {
            let text = std::fs::read_to_string(path).map_err(|e| ElelemError::Catalogue {
                source_name: path.display().to_string(),
                reason: format!("cannot read the file: {e}"),
            })?;
            sources.add(&path.display().to_string(), &text)?;
        }
        for (name, text) in &self.models_texts {
            sources.add(name, text)?;
        }
        let mut catalogue = sources.resolve()?;
        for (id, routing) in &self.options.routings {
            catalogue.set_routing(id, routing.clone())?;
        }

        let mut providers = BTreeMap::new();
        for (name, instance) in &self.instances {
            providers.insert(name.clone(), ProviderSlot::Ready(instance.clone()));
        }
        for plugin in plugins {
            if providers.contains_key(plugin.name) {
                continue;
            }
            let Some(entry) = catalogue.provider(plugin.name) else {
                return Err(ElelemError::Catalogue {
                    source_name: format!("provider plugin {}", plugin.name),
                    reason: "its catalogue has no [provider] table".into(),
                });
            };
            let slot = self.provider_slot(plugin, entry)?;
            providers.insert(plugin.name.to_owned(), slot);
        }
        // Catalogue providers served by another plugin (`kind = "openai-compatible"`).
        for entry in catalogue.providers() {
            let Some(kind) = entry.kind.as_deref() else {
                continue;
            };
            if providers.contains_key(&entry.name) {
                continue;
            }
            let plugin = ProviderPlugin::all()
                .find(|p| p.name == kind)
                .ok_or_else(|| ElelemError::Catalogue {
                    source_name: format!("provider {}", entry.name),
                    reason: format!(
                        "kind {kind:?} names no linked provider plugin; enable its Cargo feature (`compat` for \"openai-compatible\")"
                    ),
                })?;
            let slot = self.provider_slot(plugin, entry)?;
            providers.insert(entry.name.clone(), slot);
        }

        let options = self.options;
        if let Some(error) = options.cache_error.clone() {
            return Err(error);
        }
        let endpoints = catalogue
            .providers()
            .map(|p| {
                let url = self.base_urls.get(&p.name).unwrap_or(&p.base_url);
                (p.name.clone(), url.clone())
            })
            .collect();
        let providers = Providers {
            slots: providers,
            endpoints,
            key_dir: options.key_dir(self.read_env),
            fallbacks: Default::default(),
            resolved: Default::default(),
        };
        let json_fixer = options.json_fixer.clone();
        if let Some(fixer) = &json_fixer {
            if catalogue.callable(fixer).is_none() {
                return Err(ElelemError::Catalogue {
                    source_name: "json_fixer".into(),
                    reason: format!("{fixer:?} is not a model of the catalogue; name a cheap provider:model the catalogue lists"),
                });
            }
        }
        let presets = Presets::load(options.presets_files, options.presets, &catalogue)?;
        let budgets = Budgets::new(self.budgets, self.budget_clock, self.budget_store);
        let sink = self
            .sink
            .unwrap_or_else(|| Arc::new(InMemoryStatsSink::new()));
        let accounting = Accounting::new(sink.clone(), Arc::new(budgets), first_call_id());
        // A sink keeping records (a ledger) seeds the routing measurements, so a
        // restarted process routes on what it measured before.
        for record in sink.recent_records(&RecentQuery::for_routing()) {
            accounting.performance.learn(&record);
        }
        Ok(Elelem {
            inner: Arc::new(Inner {
                gate: Arc::new(options.gate.gate()),
                cache: options.caches.into_cache(),
                presets,
                catalogue,
                providers,
                policy: Policy {
                    retry: self
                        .policy
                        .unwrap_or_else(|| Arc::new(DefaultRetryPolicy::default())),
                    max_attempts: self.max_attempts,
                    stream_idle_timeout: self.stream_idle_timeout,
                    context_check: !options.skip_context_check,
                    schemas: SchemaCache::new(),
                    instructions: InstructionCache::default(),
                    json_fixer,
                },
                accounting,
            }),
        })
    }
}

/// Where a client starts numbering its calls: a random point, so that the call
/// ids of many processes sharing one ledger do not collide. (The standard
/// library's `RandomState` is seeded from the operating system's randomness.)
fn first_call_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    // Half the range, so ids never wrap for the life of a client.
    hasher.finish() >> 1
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;

    #[test]
    fn clients_number_their_calls_from_different_random_points() {
        let first = |e: &Elelem| e.inner.accounting.next_call_id.load(Ordering::Relaxed);
        let (a, b) = (
            Elelem::builder().build().unwrap(),
            Elelem::builder().build().unwrap(),
        );
        assert_ne!(first(&a), first(&b));
        assert!(first(&a) < 1 << 63 && first(&b) < 1 << 63);
    }

    #[test]
    fn an_endless_idle_timeout_is_clamped_so_deadlines_never_overflow() {
        let elelem = Elelem::builder()
            .stream_idle_timeout(Duration::MAX)
            .build()
            .unwrap();
        let idle = elelem.inner.policy.stream_idle_timeout;
        assert_eq!(idle, crate::LONGEST_WAIT);
        // What the stream does with it on every chunk.
        let _ = tokio::time::Instant::now() + idle;
    }
}
