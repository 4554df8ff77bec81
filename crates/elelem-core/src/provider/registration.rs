//! How provider crates register themselves, and what they are built from.

use std::sync::Arc;
use std::time::Duration;

use super::Provider;
use crate::error::ElelemError;
use crate::secret::ApiKey;

/// Everything a provider needs to be built: its resolved endpoint, key and limits.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    /// The provider's name (`groq`).
    pub name: String,
    /// The base URL of its API (`https://api.groq.com/openai/v1`).
    pub base_url: String,
    /// The key, when one is set.
    pub api_key: Option<ApiKey>,
    /// The environment variable the key comes from, for error messages.
    pub api_key_env: Option<String>,
    /// Time limit for one request.
    pub timeout: Duration,
    /// The largest response body accepted, in bytes.
    pub max_response_bytes: usize,
}

/// A provider plugin, registered with [`inventory::submit!`] by its crate and found
/// by Elelem at start-up.
///
/// ```
/// use std::sync::Arc;
/// use elelem_core::provider::{ProviderPlugin, ProviderSettings, Provider};
///
/// fn build(settings: ProviderSettings) -> Result<Arc<dyn Provider>, elelem_core::ElelemError> {
///     # unimplemented!()
/// }
///
/// elelem_core::inventory::submit! {
///     ProviderPlugin {
///         name: "acme",
///         catalogue: r#"
///             [provider]
///             name = "acme"
///             base_url = "https://api.acme.example/v1"
///             api_key_env = "ACME_API_KEY"
///         "#,
///         build,
///     }
/// }
/// ```
pub struct ProviderPlugin {
    /// The provider's name: the part before `:` in model strings.
    pub name: &'static str,
    /// The provider's catalogue in TOML (see `models/` for the format).
    pub catalogue: &'static str,
    /// Builds the provider from its settings.
    pub build: fn(ProviderSettings) -> Result<Arc<dyn Provider>, ElelemError>,
}

inventory::collect!(ProviderPlugin);

impl ProviderPlugin {
    /// Every plugin linked into this program, sorted by name.
    ///
    /// ```
    /// let names: Vec<&str> = elelem_core::provider::ProviderPlugin::all().map(|p| p.name).collect();
    /// assert!(names.windows(2).all(|w| w[0] <= w[1]));
    /// ```
    pub fn all() -> impl Iterator<Item = &'static ProviderPlugin> {
        let mut plugins: Vec<&'static ProviderPlugin> =
            inventory::iter::<ProviderPlugin>.into_iter().collect();
        plugins.sort_by_key(|p| p.name);
        plugins.into_iter()
    }
}

impl std::fmt::Debug for ProviderPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderPlugin")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}
