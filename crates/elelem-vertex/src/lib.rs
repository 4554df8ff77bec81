//! The Google Vertex AI provider for Elelem: Gemini models through Vertex's
//! `generateContent` at
//! `https://{location}-aiplatform.googleapis.com/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:generateContent`
//! (`aiplatform.googleapis.com` for the `global` location), streamed with
//! `:streamGenerateContent?alt=sse`. Requests and answers are Gemini's, mapped
//! by `elelem-gemini` (see its documentation for JSON mode, thinking tokens and
//! finish reasons).
//!
//! Authentication is a service-account key: its JSON (given with
//! `ElelemBuilder::api_key("vertex", json)`) or the path of its file (from
//! `GOOGLE_APPLICATION_CREDENTIALS`). An OAuth access token (scope
//! `cloud-platform`) is minted from it with an RS256-signed JWT grant at the
//! key's `token_uri`, kept until five minutes before it expires and then
//! replaced; one token request at a time, concurrent calls wait for it. A 401
//! drops the token so the next call mints a new one. Neither the key nor the
//! tokens appear in `Debug`, errors or logs.
//!
//! The project is `GOOGLE_CLOUD_PROJECT`, else the key's `project_id`; the
//! location `GOOGLE_CLOUD_LOCATION` (default `us-central1`; `global` for the
//! global endpoint). Model ids are `vertex:<model>` (`vertex:gemini-2.5-flash`).
//!
//! Claude models from the Model Garden (`vertex:claude-sonnet-4-5@20250929`) go to
//! `.../publishers/anthropic/models/{model}:rawPredict` (`:streamRawPredict`),
//! converted by `elelem-anthropic`, with `anthropic_version: "vertex-2023-10-16"`
//! in the body; they are served in `global`, `us-east5` and `europe-west1`, not in
//! `us-central1`.
//!
//! ```
//! use elelem_vertex as _;
//! let plugin = elelem_core::provider::ProviderPlugin::all().find(|p| p.name == "vertex");
//! assert!(plugin.is_some());
//! ```

mod claude;
mod key;
mod publisher;
mod token;

use std::sync::Arc;

use elelem_core::provider::{
    Configured, CredentialedPlugin, EnvAccess, Provider, ProviderError, ProviderPlugin,
    ProviderResponse, ProviderSettings, WireRequest,
};
use elelem_core::ElelemError;
use elelem_gemini::Gemini;
use elelem_transport::{BearerMapped, TokenCache, Unconfigured};

pub use claude::{is_claude, VertexClaude, VERTEX_ANTHROPIC_VERSION};
pub use key::ServiceAccountKey;
pub use publisher::{OnVertex, Publisher};
pub use token::{ServiceAccountTokens, SCOPE};

/// The Vertex AI catalogue.
pub const CATALOGUE: &str = include_str!("../../../models/vertex.toml");

/// The catalogue's API root: while the settings hold it, the root is the
/// location's own endpoint.
pub const ROOT_PLACEHOLDER: &str = "https://aiplatform.googleapis.com/v1";
/// The variable naming the project.
pub const PROJECT_ENV: &str = "GOOGLE_CLOUD_PROJECT";
/// The variable naming the location (region, or `global`).
pub const LOCATION_ENV: &str = "GOOGLE_CLOUD_LOCATION";
/// The variable holding the path of the service-account key file.
pub const CREDENTIALS_ENV: &str = "GOOGLE_APPLICATION_CREDENTIALS";
/// The location used when none is set.
pub const DEFAULT_LOCATION: &str = "us-central1";

/// Where requests go and who signs them.
///
/// ```
/// # let key = elelem_vertex::ServiceAccountKey::parse(r#"{"client_email": "a@b",
/// #     "private_key": "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----", "project_id": "acme"}"#).unwrap();
/// let options = elelem_vertex::VertexOptions::new(key, None, "europe-west4").unwrap();
/// assert_eq!(
///     options.publisher_url("google"),
///     "https://europe-west4-aiplatform.googleapis.com/v1/projects/acme/locations/europe-west4/publishers/google"
/// );
/// ```
#[derive(Debug, Clone)]
pub struct VertexOptions {
    /// The Google Cloud project id.
    pub project: String,
    /// The location: a region (`us-central1`) or `global`.
    pub location: String,
    /// The API root, `/v1` included.
    pub root: String,
    /// The service-account key.
    pub key: ServiceAccountKey,
}

/// The API root of a location.
///
/// ```
/// assert_eq!(elelem_vertex::regional_root("global"), "https://aiplatform.googleapis.com/v1");
/// assert_eq!(elelem_vertex::regional_root("us-east5"), "https://us-east5-aiplatform.googleapis.com/v1");
/// ```
pub fn regional_root(location: &str) -> String {
    match location {
        "global" => ROOT_PLACEHOLDER.to_owned(),
        region => format!("https://{region}-aiplatform.googleapis.com/v1"),
    }
}

impl VertexOptions {
    /// The options for `key` in `location`, the project `project` or else the
    /// key's own.
    pub fn new(
        key: ServiceAccountKey,
        project: Option<String>,
        location: &str,
    ) -> Result<Self, String> {
        let project = project.or_else(|| key.project_id.clone()).ok_or_else(|| {
            format!("set {PROJECT_ENV} to the Google Cloud project (the key names none)")
        })?;
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars().all(|c| {
                    c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' || c == ':'
                })
        };
        if !valid(&project) || !valid(location) {
            return Err(format!(
                "the project {project:?} or location {location:?} is not a Google Cloud name"
            ));
        }
        Ok(VertexOptions {
            project,
            location: location.to_owned(),
            root: regional_root(location),
            key,
        })
    }

    /// The options for these settings: the key from `api_key` (JSON or a file
    /// path), the project and location from `env`, and the root from the
    /// settings' `base_url` unless it is the catalogue's placeholder.
    pub fn from_settings(
        settings: &ProviderSettings,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, String> {
        let env = |name: &str| {
            env(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let source = settings.api_key.as_ref().ok_or_else(|| {
            format!("set {CREDENTIALS_ENV} to the path of a service-account JSON key, or give the key's JSON with `ElelemBuilder::api_key(\"{}\", ...)`", settings.name)
        })?;
        let key = ServiceAccountKey::load(source.expose())?;
        let location = env(LOCATION_ENV).unwrap_or_else(|| DEFAULT_LOCATION.to_owned());
        let mut options = VertexOptions::new(key, env(PROJECT_ENV), &location)?;
        let base = settings.base_url.trim_end_matches('/');
        if base != ROOT_PLACEHOLDER {
            options.root = base.to_owned();
        }
        Ok(options)
    }

    /// The URL of a publisher's models (`google`, `anthropic`).
    pub fn publisher_url(&self, publisher: &str) -> String {
        format!(
            "{}/projects/{}/locations/{}/publishers/{publisher}",
            self.root, self.project, self.location
        )
    }
}

/// Gemini on Vertex: Gemini's mapping, sent with a bearer token.
pub type VertexGemini = OnVertex<Gemini>;

/// Vertex AI: Gemini models through the `google` publisher, Claude models
/// (`claude-...`) through the `anthropic` publisher, one token for both.
#[derive(Debug)]
pub struct Vertex {
    gemini: BearerMapped<VertexGemini>,
    claude: BearerMapped<VertexClaude>,
}

impl Vertex {
    fn route(&self, model: &str) -> &dyn Provider {
        if is_claude(model) {
            &self.claude
        } else {
            &self.gemini
        }
    }
}

#[async_trait::async_trait]
impl Provider for Vertex {
    async fn chat_completion(
        &self,
        request: WireRequest,
    ) -> Result<ProviderResponse, ProviderError> {
        self.route(&request.model).chat_completion(request).await
    }

    async fn chat_completion_stream(
        &self,
        request: WireRequest,
    ) -> Result<elelem_core::provider::ProviderStream, ProviderError> {
        self.route(&request.model)
            .chat_completion_stream(request)
            .await
    }
}

/// The provider for `options`; `settings` give the name, timeout and limits.
pub fn provider(
    settings: ProviderSettings,
    options: VertexOptions,
) -> Result<Arc<dyn Provider>, ElelemError> {
    let settings = ProviderSettings {
        api_key: None,
        ..settings
    };
    let google = ProviderSettings {
        base_url: options.publisher_url("google"),
        ..settings.clone()
    };
    let anthropic = ProviderSettings {
        base_url: options.publisher_url("anthropic"),
        ..settings.clone()
    };
    let tokens = ServiceAccountTokens::new(settings.name.clone(), options.key, settings.timeout)
        .map_err(|reason| ElelemError::Config { reason })?;
    let tokens = Arc::new(TokenCache::new(Arc::new(tokens)));
    Ok(Arc::new(Vertex {
        gemini: BearerMapped::new(google, tokens.clone(), Arc::new(VertexGemini::new)),
        claude: BearerMapped::new(anthropic, tokens, Arc::new(VertexClaude::new)),
    }))
}

/// Builds the `vertex` provider. Incomplete configuration still builds: its
/// calls fail with [`ProviderError::Credentials`] saying what to set.
///
/// ```
/// # use std::time::Duration;
/// let settings = elelem_core::provider::ProviderSettings {
///     name: "vertex".into(), base_url: elelem_vertex::ROOT_PLACEHOLDER.into(),
///     api_key: None, api_key_env: Some("GOOGLE_APPLICATION_CREDENTIALS".into()),
///     timeout: Duration::from_secs(60), max_response_bytes: 1 << 20,
/// };
/// assert!(elelem_vertex::build(settings).is_ok());
/// ```
pub fn build(settings: ProviderSettings) -> Result<Arc<dyn Provider>, ElelemError> {
    let options = VertexOptions::from_settings(&settings, |name| std::env::var(name).ok());
    let built =
        options.and_then(|options| provider(settings.clone(), options).map_err(|e| e.to_string()));
    Ok(built.unwrap_or_else(|reason| Arc::new(Unconfigured::new(settings.name, reason))))
}

/// Builds the `vertex` provider for the client builder: the key comes from the
/// settings (the builder resolved it, honouring `without_env_keys()`), the
/// project and location from `env`'s settings. Without a usable key or project
/// it is [`Configured::Missing`], naming what to set.
///
/// ```
/// # use std::time::Duration;
/// use elelem_core::provider::{Configured, EnvAccess, ProviderSettings};
/// let settings = ProviderSettings {
///     name: "vertex".into(), base_url: elelem_vertex::ROOT_PLACEHOLDER.into(),
///     api_key: None, api_key_env: Some("GOOGLE_APPLICATION_CREDENTIALS".into()),
///     timeout: Duration::from_secs(60), max_response_bytes: 1 << 20,
/// };
/// let built = elelem_vertex::build_with(settings, EnvAccess::without_credentials()).unwrap();
/// let Configured::Missing { reason } = built else { panic!("no key expected") };
/// assert!(reason.contains("GOOGLE_APPLICATION_CREDENTIALS"));
/// ```
pub fn build_with(settings: ProviderSettings, env: EnvAccess) -> Result<Configured, ElelemError> {
    let options = VertexOptions::from_settings(&settings, |name| env.setting(name));
    Ok(
        match options.and_then(|options| provider(settings, options).map_err(|e| e.to_string())) {
            Ok(provider) => Configured::Ready(provider),
            Err(reason) => Configured::Missing { reason },
        },
    )
}

elelem_core::inventory::submit! {
    ProviderPlugin { name: "vertex", catalogue: CATALOGUE, build }
}

elelem_core::inventory::submit! {
    CredentialedPlugin { name: "vertex", build: build_with }
}
