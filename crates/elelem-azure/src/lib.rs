//! The Azure OpenAI provider for Elelem: OpenAI's chat completions protocol at
//! an Azure resource's URLs.
//!
//! * URLs: `{endpoint}/openai/deployments/{deployment}/chat/completions?api-version=...`
//!   (the default), or the v1 form `{endpoint}/openai/v1/chat/completions` (with
//!   `AZURE_OPENAI_API_VERSION=v1`, or an endpoint ending in `/openai/v1`) where
//!   the deployment goes in the body's `model`.
//! * Model ids are `azure:<deployment>`. The catalogue (`models/azure.toml`)
//!   prices the deployments named after their model (`azure:gpt-4o`); a
//!   deployment with its own name gets the prices of its model through an alias,
//!   see [`deployments`]. Other deployment names are accepted unpriced.
//! * Configuration: the endpoint from `ElelemBuilder::base_url("azure", ...)` or
//!   `AZURE_OPENAI_ENDPOINT`; the key from `ElelemBuilder::api_key("azure", ...)`
//!   or `AZURE_OPENAI_API_KEY` (sent as `api-key`; a key written `Bearer <token>`
//!   is a Microsoft Entra ID token, sent as `Authorization: Bearer`); the version
//!   from `AZURE_OPENAI_API_VERSION` (default [`DEFAULT_API_VERSION`]). A missing
//!   key is named by the builder; without an endpoint the client lists Azure as
//!   unavailable and its calls fail unsent naming `AZURE_OPENAI_ENDPOINT`
//!   ([`build_with`]; after `without_env_keys()` neither key nor token variable
//!   is read). [`from_env`] builds the provider from the environment alone, where
//!   `AZURE_OPENAI_AD_TOKEN` stands in for a key. Tokens that expire come from a
//!   [`TokenSource`](elelem_transport::TokenSource) given to [`provider`]:
//!   cached, refreshed before expiry, one fetch at a time; pass the provider to
//!   `ElelemBuilder::provider("azure", ...)`.
//! * A prompt refused by Azure's content filter (400 `code: content_filter`,
//!   details in `innererror.content_filter_result`) is a
//!   [`ProviderErrorKind::ContentFilter`](elelem_core::provider::ProviderErrorKind::ContentFilter)
//!   error, never retried; a filtered answer has `finish_reason:
//!   content_filter` ([`FinishReason::ContentFilter`](elelem_core::FinishReason::ContentFilter)).
//!
//! ```
//! use elelem_azure as _;
//! let plugin = elelem_core::provider::ProviderPlugin::all().find(|p| p.name == "azure");
//! assert!(plugin.is_some());
//! ```

mod chat;
mod config;

use std::sync::Arc;

use elelem_core::provider::{
    Configured, CredentialedPlugin, EnvAccess, Provider, ProviderPlugin, ProviderSettings,
};
use elelem_core::ElelemError;
use elelem_transport::{BearerMapped, Mapped, TokenCache, Unconfigured};

pub use chat::{AzureChat, Chunks};
pub use config::{
    AzureAuth, AzureOptions, Route, AD_TOKEN_ENV, API_KEY_ENV, API_VERSION_ENV,
    DEFAULT_API_VERSION, ENDPOINT_ENV, ENDPOINT_PLACEHOLDER,
};

pub use elelem_transport::{BearerToken, TokenSource};

use chat::KeyHeader;

/// The Azure OpenAI catalogue.
pub const CATALOGUE: &str = include_str!("../../../models/azure.toml");

/// The provider for an Azure resource: `settings` give the name, limits and
/// timeout (their `base_url` and `api_key` are replaced by `options`).
///
/// ```
/// # use std::time::Duration;
/// use elelem_azure::{AzureAuth, AzureOptions};
/// let settings = elelem_core::provider::ProviderSettings {
///     name: "azure".into(), base_url: String::new(), api_key: None, api_key_env: None,
///     timeout: Duration::from_secs(60), max_response_bytes: 1 << 20,
/// };
/// let options = AzureOptions::new("https://acme.openai.azure.com", AzureAuth::ApiKey("k".into()));
/// let provider = elelem_azure::provider(settings, options).unwrap();
/// assert!(!format!("{provider:?}").contains("\"k\""));
/// ```
pub fn provider(
    settings: ProviderSettings,
    options: AzureOptions,
) -> Result<Arc<dyn Provider>, ElelemError> {
    let settings = ProviderSettings {
        base_url: options.endpoint,
        ..settings
    };
    let route = options.route;
    Ok(match options.auth {
        AzureAuth::ApiKey(key) => Arc::new(Mapped::new(AzureChat::new(
            ProviderSettings {
                api_key: Some(key),
                ..settings
            },
            route,
            KeyHeader::ApiKey,
        )?)),
        AzureAuth::AdToken(token) => Arc::new(Mapped::new(AzureChat::new(
            ProviderSettings {
                api_key: Some(token),
                ..settings
            },
            route,
            KeyHeader::Bearer,
        )?)),
        AzureAuth::TokenProvider(source) => {
            // Check the endpoint now rather than at the first token.
            AzureChat::new(settings.clone(), route.clone(), KeyHeader::Bearer)?;
            Arc::new(BearerMapped::new(
                settings,
                Arc::new(TokenCache::new(source)),
                Arc::new(move |settings| {
                    AzureChat::new(settings, route.clone(), KeyHeader::Bearer)
                }),
            ))
        }
    })
}

/// Builds the `azure` provider from its settings and the `AZURE_OPENAI_*`
/// environment. Incomplete configuration still builds: its calls fail with
/// [`ProviderError::Credentials`](elelem_core::provider::ProviderError::Credentials)
/// naming the variable to set.
///
/// ```
/// # use std::time::Duration;
/// let settings = elelem_core::provider::ProviderSettings {
///     name: "azure".into(), base_url: "https://acme.openai.azure.com".into(),
///     api_key: Some("k".into()), api_key_env: None,
///     timeout: Duration::from_secs(60), max_response_bytes: 1 << 20,
/// };
/// assert!(elelem_azure::build(settings).is_ok());
/// ```
pub fn build(settings: ProviderSettings) -> Result<Arc<dyn Provider>, ElelemError> {
    match AzureOptions::from_settings(&settings, |name| std::env::var(name).ok()) {
        Ok(options) => provider(settings, options),
        Err(reason) => Ok(Arc::new(Unconfigured::new(settings.name, reason))),
    }
}

/// The `azure` provider from the `AZURE_OPENAI_*` environment alone (for
/// `ElelemBuilder::provider("azure", ...)`): the endpoint, then the key or, without
/// one, the Entra ID token of `AZURE_OPENAI_AD_TOKEN`; an error names what is
/// missing.
///
/// ```
/// # use std::time::Duration;
/// if std::env::var_os("AZURE_OPENAI_ENDPOINT").is_none() {
///     let error = elelem_azure::from_env(Duration::from_secs(60)).unwrap_err();
///     assert!(error.to_string().contains("AZURE_OPENAI_ENDPOINT"));
/// }
/// ```
pub fn from_env(timeout: std::time::Duration) -> Result<Arc<dyn Provider>, ElelemError> {
    let settings = ProviderSettings {
        name: "azure".into(),
        base_url: ENDPOINT_PLACEHOLDER.into(),
        api_key: None,
        api_key_env: Some(API_KEY_ENV.into()),
        timeout,
        max_response_bytes: 32 * 1024 * 1024,
    };
    let options = AzureOptions::from_settings(&settings, |name| std::env::var(name).ok())
        .map_err(|reason| ElelemError::Config { reason })?;
    provider(settings, options)
}

/// A models-file snippet giving each `(deployment, model)` pair the catalogue
/// entry of `model` (`"gpt-4o"` or `"azure:gpt-4o"`): `azure:<deployment>` then
/// resolves with that model's prices and capabilities, and `<deployment>` is the
/// name sent to Azure. Pass it to `ElelemBuilder::models_toml`. Deployments of
/// one model must be given in one call (a later call replaces its aliases).
///
/// ```
/// let toml = elelem_azure::deployments(&[("prod-chat", "gpt-4o"), ("cheap", "azure:gpt-4o-mini")]);
/// assert!(toml.contains("id = \"azure:gpt-4o\"\naliases = [\"prod-chat\"]"));
/// let elelem = elelem_core::Elelem::builder()
///     .without_env_keys()
///     .models_toml("azure deployments", toml)
///     .build()
///     .unwrap();
/// let model = elelem.catalogue().model("azure:prod-chat").unwrap();
/// assert_eq!(model.upstream, "prod-chat");
/// assert!(model.prices.is_some());
/// ```
pub fn deployments(pairs: &[(&str, &str)]) -> String {
    let mut by_model: std::collections::BTreeMap<String, Vec<&str>> = Default::default();
    for (deployment, model) in pairs {
        let model = model.strip_prefix("azure:").unwrap_or(model);
        by_model
            .entry(format!("azure:{model}"))
            .or_default()
            .push(deployment);
    }
    let quote = |text: &str| serde_json::Value::String(text.to_owned()).to_string();
    by_model
        .iter()
        .map(|(id, deployments)| {
            let aliases: Vec<String> = deployments.iter().map(|d| quote(d)).collect();
            format!(
                "[[models]]\nid = {}\naliases = [{}]\n\n",
                quote(id),
                aliases.join(", ")
            )
        })
        .collect()
}

/// Builds the `azure` provider for the client builder: `AZURE_OPENAI_API_KEY`
/// and `AZURE_OPENAI_AD_TOKEN` are credentials (not read after
/// `without_env_keys()`), the endpoint and API version settings. Without an
/// endpoint or credentials it is [`Configured::Missing`], naming what to set.
///
/// ```
/// # use std::time::Duration;
/// use elelem_core::provider::{Configured, EnvAccess, ProviderSettings};
/// let settings = ProviderSettings {
///     name: "azure".into(), base_url: elelem_azure::ENDPOINT_PLACEHOLDER.into(),
///     api_key: Some("k".into()), api_key_env: None,
///     timeout: Duration::from_secs(60), max_response_bytes: 1 << 20,
/// };
/// if std::env::var_os("AZURE_OPENAI_ENDPOINT").is_none() {
///     let built = elelem_azure::build_with(settings, EnvAccess::without_credentials()).unwrap();
///     let Configured::Missing { reason } = built else { panic!("no endpoint expected") };
///     assert!(reason.contains("AZURE_OPENAI_ENDPOINT"));
/// }
/// ```
pub fn build_with(settings: ProviderSettings, env: EnvAccess) -> Result<Configured, ElelemError> {
    let lookup = |name: &str| match name {
        API_KEY_ENV | AD_TOKEN_ENV => env.credential(name),
        _ => env.setting(name),
    };
    match AzureOptions::from_settings(&settings, lookup) {
        Ok(options) => Ok(Configured::Ready(provider(settings, options)?)),
        Err(reason) => Ok(Configured::Missing { reason }),
    }
}

elelem_core::inventory::submit! {
    ProviderPlugin { name: "azure", catalogue: CATALOGUE, build }
}

elelem_core::inventory::submit! {
    CredentialedPlugin { name: "azure", build: build_with }
}
