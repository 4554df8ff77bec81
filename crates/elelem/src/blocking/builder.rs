//! The blocking client's builder: the async builder, plus the runtime's size.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use elelem_core::budget::{Budget, BudgetStore};
use elelem_core::{ApiKey, CostSink, ElelemError, Preset, RetryPolicy};

use super::client::Elelem;
use super::runtime::{OwnedRuntime, DEFAULT_WORKER_THREADS};

/// Builds a [`blocking::Elelem`](Elelem): every setting of the async
/// [`elelem_core::ElelemBuilder`] (the common ones as methods here, any other
/// through [`configure`](ElelemBuilder::configure)), plus the number of runtime
/// worker threads.
///
/// ```
/// use std::time::Duration;
/// let elelem = elelem::blocking::Elelem::builder()
///     .without_env_keys()
///     .api_key("groq", "gsk-test")
///     .base_url("groq", "http://127.0.0.1:9/v1")
///     .timeout(Duration::from_secs(30))
///     .configure(|b| b.context_window_check(false))
///     .worker_threads(1)
///     .build()
///     .unwrap();
/// # let _ = elelem;
/// ```
#[derive(Debug, Default)]
#[must_use = "a builder does nothing until built"]
pub struct ElelemBuilder {
    inner: elelem_core::ElelemBuilder,
    worker_threads: Option<usize>,
}

impl From<elelem_core::ElelemBuilder> for ElelemBuilder {
    /// A blocking builder with an async builder's settings.
    fn from(inner: elelem_core::ElelemBuilder) -> Self {
        ElelemBuilder {
            inner,
            worker_threads: None,
        }
    }
}

/// Forwards builder methods to the async builder.
macro_rules! forward {
    ($( $(#[$doc:meta])* $name:ident ( $($arg:ident : $ty:ty),* ) ;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(self, $($arg: $ty),*) -> Self {
                ElelemBuilder {
                    inner: self.inner.$name($($arg),*),
                    worker_threads: self.worker_threads,
                }
            }
        )*
    };
}

impl ElelemBuilder {
    forward! {
        /// Sets a provider's key (overrides its environment variable).
        api_key(provider: impl Into<String>, key: impl Into<ApiKey>);
        /// Sets a provider's base URL.
        base_url(provider: impl Into<String>, url: impl Into<String>);
        /// Records usage to this sink.
        cost_sink(sink: Arc<dyn CostSink>);
        /// Uses this retry policy.
        retry_policy(policy: Arc<dyn RetryPolicy>);
        /// Adds or overrides catalogue entries from a TOML file.
        models_file(path: impl Into<PathBuf>);
        /// Adds or overrides catalogue entries from TOML text.
        models_toml(source_name: impl Into<String>, text: impl Into<String>);
        /// Adds an OpenAI-compatible server (vLLM, a gateway) as a provider.
        openai_compatible(name: impl Into<String>, base_url: impl Into<String>, api_key: Option<ApiKey>);
        /// The HTTP timeout of one request.
        timeout(timeout: Duration);
        /// The time a stream may stay silent before it ends with a timeout.
        stream_idle_timeout(timeout: Duration);
        /// The most requests one call may send.
        max_attempts(attempts: u32);
        /// Reads no key from the environment or key files.
        without_env_keys();
        /// Adds a spend cap.
        budget(budget: Budget);
        /// Keeps the budgets' accounts in this store (shared by processes).
        budget_store(store: Arc<dyn BudgetStore>);
        /// A response cache in memory, of this many answers.
        memory_cache(capacity: usize);
        /// A response cache on disk, in this directory.
        disk_cache(dir: impl Into<PathBuf>);
        /// Reads presets from this TOML file.
        presets_file(path: impl Into<PathBuf>);
        /// Adds a preset.
        preset(name: impl Into<String>, preset: Preset);
    }

    /// Applies any setting of the async builder.
    ///
    /// ```
    /// let builder = elelem::blocking::Elelem::builder().configure(|b| b.max_response_bytes(1 << 20));
    /// # let _ = builder;
    /// ```
    pub fn configure(
        self,
        settings: impl FnOnce(elelem_core::ElelemBuilder) -> elelem_core::ElelemBuilder,
    ) -> Self {
        ElelemBuilder {
            inner: settings(self.inner),
            worker_threads: self.worker_threads,
        }
    }

    /// The number of worker threads of the client's runtime (2 by default; they
    /// drive sockets and timers, the calls run on the calling threads).
    pub fn worker_threads(mut self, threads: usize) -> Self {
        self.worker_threads = Some(threads);
        self
    }

    /// Starts the runtime and builds the client.
    pub fn build(self) -> Result<Elelem, ElelemError> {
        let runtime = Arc::new(OwnedRuntime::new(
            self.worker_threads.unwrap_or(DEFAULT_WORKER_THREADS),
        )?);
        // Whatever the client starts while being built belongs to its runtime.
        let client = {
            let _guard = runtime.enter();
            self.inner.build()?
        };
        Ok(Elelem::with_runtime(client, runtime))
    }
}
