//! Building an [`Elelem`]: keys, endpoints, sinks, policies and catalogue files.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use super::elelem::{Elelem, Inner, ProviderSlot};
use crate::catalogue::CatalogueSources;
use crate::cost::{CostSink, InMemoryStatsSink};
use crate::error::ElelemError;
use crate::json::SchemaCache;
use crate::provider::{Provider, ProviderPlugin, ProviderSettings};
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
    read_env: bool,
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
            read_env: true,
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

    /// Caps the attempts of one call whatever the retry policy says (default 32).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Ignores `{PROVIDER}_API_KEY` environment variables: only keys given in code
    /// count.
    pub fn without_env_keys(mut self) -> Self {
        self.read_env = false;
        self
    }

    fn resolve_key(&self, provider: &str, env_var: Option<&str>) -> Option<ApiKey> {
        if let Some(key) = self.api_keys.get(provider) {
            return Some(key.clone());
        }
        if !self.read_env {
            return None;
        }
        let value = std::env::var(env_var?).ok()?;
        let value = value.trim();
        (!value.is_empty()).then(|| ApiKey::new(value))
    }

    /// Loads the catalogue, resolves keys and builds every provider.
    pub fn build(self) -> Result<Elelem, ElelemError> {
        let mut sources = CatalogueSources::new()?;
        let plugins: Vec<&'static ProviderPlugin> = ProviderPlugin::all().collect();
        for plugin in &plugins {
            sources.add(
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
        let catalogue = sources.resolve()?;

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
            let env_var = entry.api_key_env.clone();
            let api_key = self.resolve_key(plugin.name, env_var.as_deref());
            if api_key.is_none() && env_var.is_some() {
                providers.insert(plugin.name.to_owned(), ProviderSlot::MissingKey { env_var });
                continue;
            }
            let settings = ProviderSettings {
                name: plugin.name.to_owned(),
                base_url: self
                    .base_urls
                    .get(plugin.name)
                    .cloned()
                    .unwrap_or_else(|| entry.base_url.clone()),
                api_key,
                api_key_env: env_var,
                timeout: self.timeout,
                max_response_bytes: self.max_response_bytes,
            };
            let provider = (plugin.build)(settings)?;
            providers.insert(plugin.name.to_owned(), ProviderSlot::Ready(provider));
        }

        Ok(Elelem {
            inner: Arc::new(Inner {
                catalogue,
                providers,
                sink: self
                    .sink
                    .unwrap_or_else(|| Arc::new(InMemoryStatsSink::new())),
                policy: self
                    .policy
                    .unwrap_or_else(|| Arc::new(DefaultRetryPolicy::default())),
                schemas: SchemaCache::new(),
                next_call_id: AtomicU64::new(1),
                max_attempts: self.max_attempts,
            }),
        })
    }
}
