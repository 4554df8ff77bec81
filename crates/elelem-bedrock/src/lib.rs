//! The AWS Bedrock provider for Elelem, through the Converse API
//! (`POST https://bedrock-runtime.{region}.amazonaws.com/model/{modelId}/converse`,
//! and `/converse-stream` for streams), every request signed with AWS Signature
//! Version 4 (service `bedrock`, the `aws-sigv4` crate).
//!
//! Credentials and region come from the environment (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION` or
//! `AWS_DEFAULT_REGION`), else from the profile (`AWS_PROFILE`, else `default`)
//! of `~/.aws/credentials` and `~/.aws/config` (`AWS_SHARED_CREDENTIALS_FILE`,
//! `AWS_CONFIG_FILE`). When they are missing (or the client was built with
//! `without_env_keys()`, which reads neither), the client lists Bedrock as
//! unavailable and each call fails unsent with
//! `ElelemError::MissingCredentials` naming the variables to set ([`build_with`]). The
//! catalogue's base URL `https://bedrock-runtime.{region}.amazonaws.com` gets the
//! region filled in.
//!
//! Model ids are Bedrock's (`bedrock:anthropic.claude-3-5-haiku-20241022-v1:0`),
//! including cross-region inference profiles (`bedrock:us.anthropic...`); the id
//! is percent-encoded in the path (`:` becomes `%3A`).
//!
//! Requests are mapped from the OpenAI shape: system messages become `system`,
//! `max_tokens`, `temperature`, `top_p` and `stop` become `inferenceConfig`,
//! tools and `tool_choice` become `toolConfig`, tool calls and results
//! `toolUse` and `toolResult` blocks, `data:` images `image` blocks. JSON mode is
//! by instructions (Converse has no `response_format`), with Elelem's local
//! validation and retries. Answers: `text` blocks are the content,
//! `reasoningContent` the reasoning, `toolUse` the tool calls; `stopReason`
//! becomes the finish reason; `usage` (`inputTokens` + cache reads and writes =
//! prompt tokens) is billed at the catalogue prices.
//!
//! Streams are AWS event-stream binary frames ([`EventStreamFraming`]); an
//! exception frame ends the stream with a classified error, and a stream ending
//! before its `metadata` event (the usage) is an interrupted stream. Errors are
//! classified by Bedrock's `x-amzn-errortype` ([`error_kind`]).
//!
//! ```
//! use elelem_bedrock as _;
//! let plugin = elelem_core::provider::ProviderPlugin::all().find(|p| p.name == "bedrock");
//! assert!(plugin.is_some());
//! ```

mod convert;
mod credentials;
mod errors;
pub mod eventstream;
mod sign;
mod stream;

use std::sync::Arc;
use std::time::SystemTime;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;

use elelem_core::provider::{
    Configured, CredentialedPlugin, EnvAccess, Provider, ProviderError, ProviderPlugin,
    ProviderResponse, ProviderSettings, WireRequest,
};
use elelem_core::ElelemError;
use elelem_openai::native::provider_response;
use elelem_transport::{HttpClient, HttpReply, HttpRequest, Mapped, Mapping, ModelUrls};

pub use credentials::{AwsConfig, Credentials, CredentialsError};
pub use errors::error_kind;
pub use eventstream::EventStreamFraming;
pub use sign::{sign_post, SERVICE};

/// The Bedrock catalogue.
pub const CATALOGUE: &str = include_str!("../../../models/bedrock.toml");

/// The characters kept as they are in a model id in the URL path (RFC 3986
/// unreserved); everything else is percent-encoded.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The Bedrock provider: one signed `POST {base}/model/{id}/converse` (or
/// `/converse-stream`) per attempt. It is a pure translation ([`Mapping`]);
/// `Mapped::new(bedrock)` is the [`Provider`].
///
/// ```
/// # use std::time::Duration;
/// let settings = elelem_core::provider::ProviderSettings {
///     name: "bedrock".into(), base_url: "https://bedrock-runtime.{region}.amazonaws.com".into(),
///     api_key: None, api_key_env: None,
///     timeout: Duration::from_secs(60), max_response_bytes: 1 << 20,
/// };
/// let config = elelem_bedrock::AwsConfig {
///     credentials: elelem_bedrock::Credentials::new("AKIDEXAMPLE", "secret", None),
///     region: "eu-west-3".into(),
/// };
/// let bedrock = elelem_bedrock::Bedrock::with_config(settings, Ok(config)).unwrap();
/// assert_eq!(
///     bedrock.converse_url("anthropic.claude-3-5-haiku-20241022-v1:0", false),
///     "https://bedrock-runtime.eu-west-3.amazonaws.com/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse"
/// );
/// ```
#[derive(Debug, Clone)]
pub struct Bedrock {
    http: HttpClient,
    config: Result<AwsConfig, CredentialsError>,
    /// The Converse and ConverseStream URLs, parsed once per model.
    converse_urls: ModelUrls,
    stream_urls: ModelUrls,
}

impl Bedrock {
    /// A provider for these settings, with credentials and region from the
    /// environment and the profile files.
    pub fn new(settings: ProviderSettings) -> Result<Self, ElelemError> {
        Bedrock::with_config(settings, AwsConfig::from_env())
    }

    /// A provider with the given credentials and region (or the reason there
    /// are none, returned by every call).
    pub fn with_config(
        mut settings: ProviderSettings,
        config: Result<AwsConfig, CredentialsError>,
    ) -> Result<Self, ElelemError> {
        if let Ok(found) = &config {
            settings.base_url = settings.base_url.replace("{region}", &found.region);
        }
        Ok(Bedrock {
            http: HttpClient::new(settings)?,
            config,
            converse_urls: ModelUrls::default(),
            stream_urls: ModelUrls::default(),
        })
    }

    /// The Converse URL for a model id (`stream`: the `converse-stream` one).
    pub fn converse_url(&self, model: &str, stream: bool) -> String {
        let model = utf8_percent_encode(model, PATH_SEGMENT);
        let operation = if stream {
            "converse-stream"
        } else {
            "converse"
        };
        format!("{}/model/{model}/{operation}", self.http.base_url())
    }

    /// The request id Bedrock gave, else one made up from the clock.
    fn answer_id(reply: &HttpReply) -> String {
        reply
            .headers
            .get("x-amzn-requestid")
            .cloned()
            .unwrap_or_else(fallback_id)
    }
}

/// An id for an answer that came without a request id.
fn fallback_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("bedrock-{nanos:x}")
}

/// Bedrock as a pure translation; [`Mapped`] does the I/O.
impl Mapping for Bedrock {
    type Framing = EventStreamFraming;
    type Records = stream::Mapper;

    fn client(&self) -> &HttpClient {
        &self.http
    }

    fn chat_request(
        &self,
        request: &WireRequest,
        stream: bool,
    ) -> Result<HttpRequest, ProviderError> {
        let body = request.to_map();
        let model = body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let converse = convert::converse_request(&body);
        let urls = match stream {
            true => &self.stream_urls,
            false => &self.converse_urls,
        };
        let http = urls.json_request(model, || self.converse_url(model, stream), &converse);
        http.map_err(|e| {
            self.http
                .invalid_piece(format!("cannot encode the request: {e}"), "")
        })
    }

    fn request_headers(
        &self,
        request: &HttpRequest,
    ) -> Result<Vec<(String, String)>, ProviderError> {
        let config = self.config.as_ref().map_err(|e| {
            errors::missing_credentials(self.http.name(), format!("request not sent: {e}"))
        })?;
        sign_post(
            &config.credentials,
            &config.region,
            &request.url,
            &request.body,
            SystemTime::now(),
        )
        .map_err(|reason| {
            self.http
                .invalid_piece(format!("cannot sign the request: {reason}"), "")
        })
    }

    fn chat_response(&self, reply: HttpReply) -> Result<ProviderResponse, ProviderError> {
        let answer: Value = self.http.decode(&reply)?;
        if answer
            .get("output")
            .and_then(|o| o.get("message"))
            .is_none()
        {
            return Err(self.http.invalid_piece(
                "expected a Converse answer with `output.message`",
                &String::from_utf8_lossy(&reply.body),
            ));
        }
        let id = Bedrock::answer_id(&reply);
        let completion = convert::completion(&answer, &id, "");
        provider_response(&self.http, reply, completion)
    }

    fn stream(&self) -> (EventStreamFraming, stream::Mapper) {
        (
            EventStreamFraming::with_limit(self.http.settings().max_response_bytes),
            stream::Mapper::new(self.http.clone(), fallback_id(), String::new()),
        )
    }

    fn error(&self, error: ProviderError) -> ProviderError {
        errors::classify(error, None)
    }
}

/// Builds the `bedrock` provider (credentials from the environment and the
/// profile files).
///
/// ```
/// # use std::time::Duration;
/// let settings = elelem_core::provider::ProviderSettings {
///     name: "bedrock".into(), base_url: "https://bedrock-runtime.{region}.amazonaws.com".into(),
///     api_key: None, api_key_env: None,
///     timeout: Duration::from_secs(60), max_response_bytes: 1 << 20,
/// };
/// assert!(elelem_bedrock::build(settings).is_ok());
/// ```
pub fn build(settings: ProviderSettings) -> Result<Arc<dyn Provider>, ElelemError> {
    Ok(Arc::new(Mapped::new(Bedrock::new(settings)?)))
}

/// Builds a Bedrock provider with the given credentials and region (for tests,
/// or credentials found some other way), to register with
/// `Elelem::builder().provider("bedrock", ...)`.
///
/// ```
/// # use std::time::Duration;
/// let settings = elelem_core::provider::ProviderSettings {
///     name: "bedrock".into(), base_url: "http://127.0.0.1:9".into(),
///     api_key: None, api_key_env: None,
///     timeout: Duration::from_secs(60), max_response_bytes: 1 << 20,
/// };
/// let config = elelem_bedrock::AwsConfig {
///     credentials: elelem_bedrock::Credentials::new("AKIDEXAMPLE", "secret", None),
///     region: "us-east-1".into(),
/// };
/// assert!(elelem_bedrock::provider(settings, Ok(config)).is_ok());
/// ```
pub fn provider(
    settings: ProviderSettings,
    config: Result<AwsConfig, CredentialsError>,
) -> Result<Arc<dyn Provider>, ElelemError> {
    Ok(Arc::new(Mapped::new(Bedrock::with_config(
        settings, config,
    )?)))
}

/// Builds the `bedrock` provider reading only what `env` allows: without
/// credentials (none set, or a client built with `without_env_keys()`, which
/// reads neither the AWS variables nor the profile files) it is
/// [`Configured::Missing`], naming what to set. The region variables are
/// settings, read either way.
///
/// ```
/// # use std::time::Duration;
/// use elelem_core::provider::{Configured, EnvAccess, ProviderSettings};
/// let settings = ProviderSettings {
///     name: "bedrock".into(), base_url: "https://bedrock-runtime.{region}.amazonaws.com".into(),
///     api_key: None, api_key_env: None,
///     timeout: Duration::from_secs(60), max_response_bytes: 1 << 20,
/// };
/// let built = elelem_bedrock::build_with(settings, EnvAccess::without_credentials()).unwrap();
/// let Configured::Missing { reason } = built else { panic!("no credentials expected") };
/// assert!(reason.contains("AWS_ACCESS_KEY_ID") && reason.contains("without_env_keys"));
/// ```
pub fn build_with(settings: ProviderSettings, env: EnvAccess) -> Result<Configured, ElelemError> {
    let lookup = |name: &str| {
        if name.ends_with("_REGION") {
            env.setting(name)
        } else {
            env.credential(name)
        }
    };
    match AwsConfig::resolve(lookup) {
        Ok(config) => Ok(Configured::Ready(provider(settings, Ok(config))?)),
        Err(missing) if env.reads_credentials() => Ok(Configured::Missing {
            reason: missing.to_string(),
        }),
        Err(missing) => Ok(Configured::Missing {
            reason: format!(
                "{missing}. The client was built with without_env_keys(), so neither the AWS variables nor the profile files are read: give the credentials with elelem_bedrock::provider(settings, Ok(AwsConfig {{ .. }})) and ElelemBuilder::provider(\"bedrock\", ...)"
            ),
        }),
    }
}

elelem_core::inventory::submit! {
    ProviderPlugin { name: "bedrock", catalogue: CATALOGUE, build }
}

elelem_core::inventory::submit! {
    CredentialedPlugin { name: "bedrock", build: build_with }
}
