//! The Scaleway provider for Elelem: the OpenAI protocol at
//! `https://api.scaleway.ai/v1`, key in `SCALEWAY_API_KEY`.
//!
//! Scaleway's quirks: prices are in EUR (the catalogue says so; they are converted
//! at the rate in `models/currencies.toml`), and a project-scoped endpoint
//! `https://api.scaleway.ai/{project_id}/v1` is used when `SCALEWAY_PROJECT_ID` is
//! set and the base URL was not overridden.
//!
//! ```
//! use elelem_scaleway as _;
//! let plugin = elelem_core::provider::ProviderPlugin::all().find(|p| p.name == "scaleway");
//! assert!(plugin.is_some());
//! ```

use std::sync::Arc;

use elelem_core::provider::{Provider, ProviderPlugin, ProviderSettings};
use elelem_core::ElelemError;
use elelem_openai::{NoQuirks, OpenAiCompatible};

/// The Scaleway catalogue.
pub const CATALOGUE: &str = include_str!("../../../models/scaleway.toml");

/// Scaleway's default endpoint.
pub const DEFAULT_BASE_URL: &str = "https://api.scaleway.ai/v1";

/// The variable naming a Scaleway project for a project-scoped endpoint.
pub const PROJECT_ID_ENV: &str = "SCALEWAY_PROJECT_ID";

/// The base URL to use: the project-scoped endpoint when a project id is given and
/// the base URL is Scaleway's default, else the base URL unchanged.
///
/// ```
/// use elelem_scaleway::{base_url_for, DEFAULT_BASE_URL};
/// assert_eq!(base_url_for(DEFAULT_BASE_URL, Some("p-123")), "https://api.scaleway.ai/p-123/v1");
/// assert_eq!(base_url_for("http://127.0.0.1:9/v1", Some("p-123")), "http://127.0.0.1:9/v1");
/// assert_eq!(base_url_for(DEFAULT_BASE_URL, None), DEFAULT_BASE_URL);
/// ```
pub fn base_url_for(base_url: &str, project_id: Option<&str>) -> String {
    match project_id.map(str::trim).filter(|p| !p.is_empty()) {
        Some(project) if base_url.trim_end_matches('/') == DEFAULT_BASE_URL => {
            format!("https://api.scaleway.ai/{project}/v1")
        }
        _ => base_url.to_owned(),
    }
}

/// Builds the `scaleway` provider.
///
/// ```
/// # use std::time::Duration;
/// let settings = elelem_core::provider::ProviderSettings {
///     name: "scaleway".into(), base_url: elelem_scaleway::DEFAULT_BASE_URL.into(),
///     api_key: Some("scw-test".into()), api_key_env: Some("SCALEWAY_API_KEY".into()),
///     timeout: Duration::from_secs(60), max_response_bytes: 1 << 20,
/// };
/// assert!(elelem_scaleway::build(settings).is_ok());
/// ```
pub fn build(mut settings: ProviderSettings) -> Result<Arc<dyn Provider>, ElelemError> {
    let project = std::env::var(PROJECT_ID_ENV).ok();
    settings.base_url = base_url_for(&settings.base_url, project.as_deref());
    OpenAiCompatible::provider(settings, Arc::new(NoQuirks))
}

elelem_core::inventory::submit! {
    ProviderPlugin { name: "scaleway", catalogue: CATALOGUE, build }
}
