//! Where an Azure OpenAI resource is and how to authenticate: from the
//! provider settings first, then from the `AZURE_OPENAI_*` environment.

use std::sync::Arc;

use elelem_core::provider::ProviderSettings;
use elelem_core::ApiKey;
use elelem_transport::TokenSource;

/// The catalogue's placeholder endpoint: while the settings still hold it, the
/// endpoint comes from `AZURE_OPENAI_ENDPOINT`.
pub const ENDPOINT_PLACEHOLDER: &str = "https://your-resource.openai.azure.com";

/// The `api-version` used when `AZURE_OPENAI_API_VERSION` is not set (the
/// latest generally available data-plane version).
pub const DEFAULT_API_VERSION: &str = "2024-10-21";

/// The variable naming the resource endpoint.
pub const ENDPOINT_ENV: &str = "AZURE_OPENAI_ENDPOINT";
/// The variable holding the resource key (sent as `api-key`).
pub const API_KEY_ENV: &str = "AZURE_OPENAI_API_KEY";
/// The variable holding a Microsoft Entra ID access token (sent as `Authorization: Bearer`).
pub const AD_TOKEN_ENV: &str = "AZURE_OPENAI_AD_TOKEN";
/// The variable choosing the `api-version` (`v1` selects the v1 URLs).
pub const API_VERSION_ENV: &str = "AZURE_OPENAI_API_VERSION";

/// How requests are authenticated.
#[derive(Clone)]
pub enum AzureAuth {
    /// The resource key, in the `api-key` header.
    ApiKey(ApiKey),
    /// A fixed Entra ID token, as `Authorization: Bearer`.
    AdToken(ApiKey),
    /// Entra ID tokens from a callback, cached and refreshed before expiry.
    TokenProvider(Arc<dyn TokenSource>),
}

impl std::fmt::Debug for AzureAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AzureAuth::ApiKey(_) => f.write_str("AzureAuth::ApiKey(***)"),
            AzureAuth::AdToken(_) => f.write_str("AzureAuth::AdToken(***)"),
            AzureAuth::TokenProvider(source) => write!(f, "AzureAuth::TokenProvider({source:?})"),
        }
    }
}

/// Which URL form requests use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `{endpoint}/openai/deployments/{deployment}/chat/completions?api-version=...`.
    Deployments {
        /// The `api-version` query parameter.
        api_version: String,
    },
    /// `{endpoint}/openai/v1/chat/completions`, the deployment in the body's `model`.
    V1,
}

/// An Azure OpenAI resource: endpoint, URL form and credentials.
///
/// ```
/// use elelem_azure::{AzureAuth, AzureOptions, Route};
/// let options = AzureOptions::new("https://acme.openai.azure.com/", AzureAuth::ApiKey("k".into()));
/// assert_eq!(options.endpoint, "https://acme.openai.azure.com");
/// assert_eq!(options.route, Route::Deployments { api_version: "2024-10-21".into() });
/// ```
#[derive(Debug, Clone)]
pub struct AzureOptions {
    /// `https://{resource}.openai.azure.com`, without a trailing `/`.
    pub endpoint: String,
    /// The URL form.
    pub route: Route,
    /// The credentials.
    pub auth: AzureAuth,
}

impl AzureOptions {
    /// A resource at `endpoint` with the deployment URLs and the default
    /// `api-version`. An endpoint ending in `/openai/v1` selects the v1 URLs.
    pub fn new(endpoint: impl Into<String>, auth: AzureAuth) -> Self {
        let endpoint = endpoint.into();
        let endpoint = endpoint.trim_end_matches('/');
        match endpoint.strip_suffix("/openai/v1") {
            Some(root) => AzureOptions {
                endpoint: root.to_owned(),
                route: Route::V1,
                auth,
            },
            None => AzureOptions {
                endpoint: endpoint.to_owned(),
                route: Route::Deployments {
                    api_version: DEFAULT_API_VERSION.to_owned(),
                },
                auth,
            },
        }
    }

    /// Uses this `api-version` (`"v1"` selects the v1 URLs).
    ///
    /// ```
    /// # use elelem_azure::{AzureAuth, AzureOptions, Route};
    /// let options = AzureOptions::new("https://acme.openai.azure.com", AzureAuth::ApiKey("k".into()))
    ///     .api_version("v1");
    /// assert_eq!(options.route, Route::V1);
    /// ```
    pub fn api_version(mut self, version: &str) -> Self {
        self.route = match version.trim() {
            "v1" => Route::V1,
            version => Route::Deployments {
                api_version: version.to_owned(),
            },
        };
        self
    }

    /// The options for these settings, reading what they lack with `env`: the
    /// endpoint from `AZURE_OPENAI_ENDPOINT` while the settings hold the
    /// catalogue placeholder, the key from the settings (a key `Bearer <token>`
    /// is an Entra ID token) or `AZURE_OPENAI_API_KEY`, else an Entra ID token
    /// from `AZURE_OPENAI_AD_TOKEN`, and the version from
    /// `AZURE_OPENAI_API_VERSION`. What is missing is named in the error.
    ///
    /// ```
    /// # use std::time::Duration;
    /// use elelem_azure::{AzureOptions, Route};
    /// let settings = elelem_core::provider::ProviderSettings {
    ///     name: "azure".into(), base_url: elelem_azure::ENDPOINT_PLACEHOLDER.into(),
    ///     api_key: None, api_key_env: None,
    ///     timeout: Duration::from_secs(60), max_response_bytes: 1 << 20,
    /// };
    /// let env = |name: &str| match name {
    ///     "AZURE_OPENAI_ENDPOINT" => Some("https://acme.openai.azure.com".to_owned()),
    ///     "AZURE_OPENAI_API_KEY" => Some("k-1".to_owned()),
    ///     _ => None,
    /// };
    /// let options = AzureOptions::from_settings(&settings, env).unwrap();
    /// assert_eq!(options.endpoint, "https://acme.openai.azure.com");
    /// let error = AzureOptions::from_settings(&settings, |_| None).unwrap_err();
    /// assert!(error.contains("AZURE_OPENAI_ENDPOINT"));
    /// ```
    pub fn from_settings(
        settings: &ProviderSettings,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<AzureOptions, String> {
        let env = |name: &str| {
            env(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let endpoint = if settings.base_url.trim_end_matches('/') == ENDPOINT_PLACEHOLDER {
            env(ENDPOINT_ENV).ok_or_else(|| {
                format!("set {ENDPOINT_ENV} to the resource endpoint (https://<resource>.openai.azure.com), or give it with `ElelemBuilder::base_url(\"{}\", ...)`", settings.name)
            })?
        } else {
            settings.base_url.clone()
        };
        let auth = match (&settings.api_key, env(API_KEY_ENV), env(AD_TOKEN_ENV)) {
            (Some(key), _, _) => match key.expose().strip_prefix("Bearer ") {
                Some(token) => AzureAuth::AdToken(ApiKey::new(token.trim())),
                None => AzureAuth::ApiKey(key.clone()),
            },
            (None, Some(key), _) => AzureAuth::ApiKey(ApiKey::new(key)),
            (None, None, Some(token)) => AzureAuth::AdToken(ApiKey::new(token)),
            (None, None, None) => {
                return Err(format!(
                    "set {API_KEY_ENV} to the resource key, or {AD_TOKEN_ENV} to a Microsoft Entra ID token (or pass a token provider to `elelem_azure::provider`)"
                ))
            }
        };
        let options = AzureOptions::new(endpoint, auth);
        Ok(match env(API_VERSION_ENV) {
            Some(version) => options.api_version(&version),
            None => options,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use super::*;

    fn settings(base_url: &str, key: Option<&str>) -> ProviderSettings {
        ProviderSettings {
            name: "azure".into(),
            base_url: base_url.into(),
            api_key: key.map(ApiKey::new),
            api_key_env: None,
            timeout: Duration::from_secs(5),
            max_response_bytes: 1 << 20,
        }
    }

    #[test]
    fn the_settings_key_wins_over_the_environment() {
        let env = |name: &str| (name == API_KEY_ENV).then(|| "env-key".to_owned());
        let options =
            AzureOptions::from_settings(&settings("https://a.openai.azure.com", Some("k")), env)
                .unwrap();
        assert!(matches!(options.auth, AzureAuth::ApiKey(key) if key.expose() == "k"));
    }

    #[test]
    fn an_entra_token_is_used_without_a_key() {
        let env = |name: &str| (name == AD_TOKEN_ENV).then(|| "eyJ-token".to_owned());
        let options =
            AzureOptions::from_settings(&settings("https://a.openai.azure.com", None), env)
                .unwrap();
        assert!(!format!("{options:?}").contains("eyJ-token"));
        assert!(matches!(options.auth, AzureAuth::AdToken(token) if token.expose() == "eyJ-token"));
    }

    #[test]
    fn a_bearer_key_is_an_entra_token() {
        let options = AzureOptions::from_settings(
            &settings("https://a.openai.azure.com", Some("Bearer eyJ-token")),
            |_| None,
        )
        .unwrap();
        assert!(matches!(options.auth, AzureAuth::AdToken(token) if token.expose() == "eyJ-token"));
    }

    #[test]
    fn missing_credentials_name_both_variables() {
        let error =
            AzureOptions::from_settings(&settings("https://a.openai.azure.com", None), |_| None)
                .unwrap_err();
        assert!(
            error.contains(API_KEY_ENV) && error.contains(AD_TOKEN_ENV),
            "{error}"
        );
    }

    #[test]
    fn the_version_variable_chooses_the_route() {
        let env = |name: &str| match name {
            API_VERSION_ENV => Some("2025-04-01-preview".to_owned()),
            _ => None,
        };
        let options =
            AzureOptions::from_settings(&settings("https://a.openai.azure.com", Some("k")), env)
                .unwrap();
        assert_eq!(
            options.route,
            Route::Deployments {
                api_version: "2025-04-01-preview".into()
            }
        );
        let v1 = AzureOptions::new(
            "https://a.openai.azure.com/openai/v1/",
            AzureAuth::ApiKey("k".into()),
        );
        assert_eq!(
            (v1.endpoint.as_str(), v1.route),
            ("https://a.openai.azure.com", Route::V1)
        );
    }
}
